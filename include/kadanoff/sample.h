/*
 * kadanoff/sample.h — equilibrium Ising datasets at many temperatures.
 *
 * For each temperature T and each of `chains` independent Markov chains:
 *  1. start from an ordered state (lowest-energy uniform or Néel configuration,
 *     random sign) — a hot start at low T falls into stripe states that live
 *     far longer than any burn-in test can see;
 *  2. burn in: either a fixed number of sweeps, or "auto": after 100 sweeps,
 *     record the energy every sweep over a window of W sweeps (W = 1000 at
 *     first); accept it as stationary when the means of its two halves agree
 *     within 3σ (σ from τ_int) and Sokal's window for τ_int was found with
 *     τ_int < W/50; otherwise discard it as burn-in, double W and retry, up to
 *     max_burn_in sweeps (then warn and go on);
 *  3. store one configuration every `interval` sweeps, where "auto" means
 *     interval = max(1, ceil(2 τ_int)) with τ_int measured in step 2.
 * T = 0 and T = inf draw exact independent samples (no burn-in, interval 1).
 *
 * Reproducibility: chain c of temperature T uses Philox stream
 * mix(bits of T, c) of the seed, and writes to fixed rows of the output, so the
 * dataset depends only on the parameters and the seed, not on the number of
 * threads, nor on which other temperatures are in the list. With
 * KD_ALGO_MULTISPIN the chains of a temperature are the replicas of one
 * multi-spin object; its group g uses stream (mix(bits of T, 0) with the low
 * 20 bits cleared) + g (src/ising/multispin_sample.c), and its burn-in and
 * interval use the replica-averaged energy.
 */
#ifndef KADANOFF_SAMPLE_H
#define KADANOFF_SAMPLE_H

#include "kadanoff/core.h"
#include "kadanoff/dataset.h"
#include "kadanoff/ising.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    kd_lattice lattice;
    const double *temps; /* ntemps distinct temperatures (>= 0 or inf) */
    size_t ntemps;
    size_t samples;      /* configurations per temperature, >= 1 */
    int chains;          /* independent chains per temperature, 1..samples */
    kd_algorithm algorithm;
    uint64_t seed;
    long burn_in;        /* sweeps, or -1 for auto */
    long interval;       /* sweeps between stored samples, or -1 for auto */
    long max_burn_in;    /* cap for the automatic burn-in, in sweeps */
    int symmetrize;      /* flip each stored configuration with probability ½ (h = 0 only) */
    kd_progress_fn progress;
    void *progress_user;
    /* Optional. When the progress callback cancels the run, *partial receives
     * the temperatures whose chains all finished before the cancellation (in
     * the order given, with their summaries; NULL if none), so an interrupted
     * run can be checkpointed: by the reproducibility rule above, sampling the
     * remaining temperatures later and merging gives the uninterrupted
     * result bit for bit. Chains cut short are discarded. */
    kd_dataset **partial;
} kd_sample_params;

/* Defaults: 10×10 periodic square lattice, J = 1, h = 0, Metropolis, 1 chain,
 * 1000 samples, seed 1, auto burn-in (cap 10^6 sweeps) and interval. */
void kd_sample_params_init(kd_sample_params *p);

/* Run the sampling and build a dataset with its per-temperature summary.
 * Rows are ordered by temperature (as given), then chain, then time. */
kd_status kd_sample(const kd_sample_params *p, kd_dataset **out);

/* The Philox stream used by chain `chain` at temperature T (documented above). */
uint64_t kd_sample_stream(double T, int chain);

#ifdef __cplusplus
}
#endif
#endif
