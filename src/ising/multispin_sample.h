/* kd_sample with --algorithm multispin or multispin-heatbath (internal; called
 * from sample.c). */
#ifndef KD_ISING_MULTISPIN_SAMPLE_H
#define KD_ISING_MULTISPIN_SAMPLE_H

#include "kadanoff/sample.h"

/* What a temperature reports for the summary (every chain gets the same). */
typedef struct {
    double burn_in, interval, tau, acceptance;
    int stationary;
} kd_ms_sample_info;

/* Progress: `add` more samples stored (0 during burn-in); nonzero = cancel. */
typedef int (*kd_ms_poll_fn)(void *ctx, size_t add);

/* Fill the rows of temperature p->temps[t] (rows t·samples + [c·samples/C,
 * (c+1)·samples/C) for chain c, as kd_sample does). Chains are the replicas of
 * one kd_multispin object. Returns KD_OK also when cancelled (the caller
 * checks its progress state). */
kd_status kd_multispin_sample_temperature(const kd_sample_params *p, size_t t, kd_dataset *d,
                                          kd_ms_sample_info *info, kd_ms_poll_fn poll, void *ctx);

#endif
