/* kadanoff.h — umbrella header of libkadanoff. */
#ifndef KADANOFF_H
#define KADANOFF_H

#include "kadanoff/version.h"
#include "kadanoff/core.h"
#include "kadanoff/rng.h"
#include "kadanoff/ising.h"
#include "kadanoff/exact.h"
#include "kadanoff/observables.h"
#include "kadanoff/dataset.h"
#include "kadanoff/sample.h"
#include "kadanoff/multispin.h"
#include "kadanoff/npy.h"
#include "kadanoff/rbm.h"
#include "kadanoff/rbm_file.h"
#include "kadanoff/flow.h"
#include "kadanoff/rg.h"
#include "kadanoff/nn.h"
#include "kadanoff/thermometry.h"
#include "kadanoff/report.h"
#include "kadanoff/weights.h"

#endif
