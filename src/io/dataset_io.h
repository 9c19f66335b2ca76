/*
 * Internal extras of the dataset file format (src/io/dataset.c), shared with the
 * CLI (info, export). Layout: docs/formats.md.
 */
#ifndef KD_IO_DATASET_IO_H
#define KD_IO_DATASET_IO_H

#include <stddef.h>

#include "io/h5.h"
#include "kadanoff/dataset.h"

/* The columns of /summary, in file order: one per kd_temp_summary member,
 * named like the member ("T", "n", "burn_in", ..., "tau_e_samples"). "n" is
 * uint64, every other column float64. */
extern const kd_h5_field kd_summary_fields[];
extern const size_t kd_summary_nfields;

/* Largest array accepted when reading a dataset file (bytes in memory). */
#define KD_DATASET_MAX_BYTES ((size_t)1 << 40)

/* Like kd_dataset_read, with every check, but without loading /spins: the
 * result has spins == NULL (its shape and type are still validated, its
 * values are not). For describing large files cheaply. */
kd_status kd_dataset_read_metadata(const char *path, kd_dataset **out);

#endif
