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
 * KD_ALGO_MULTISPIN or KD_ALGO_MULTISPIN_HEATBATH the chains of a temperature are the replicas of one
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

/* Splitting one sampling run over several processes (used by the CLI's MPI
 * layer, tools/kadanoff/mpi_*.c; the library itself knows nothing of MPI).
 * The work items are numbered 0 .. kd_sample_nitems(p) - 1 (see
 * kd_sample_item); process `rank` of `size` runs the items i with
 * i % size == rank, into the same rows of a full-size dataset as a
 * single-process run would, with the same Philox streams: the result does not
 * depend on `size`. Then every process calls
 *     combine(ctx, local, d, info, info_bytes, nchains)
 * with `local` its own status (kd_last_error() its message) and info the
 * per-chain records (nchains = ntemps·chains of info_bytes each, opaque) of
 * which only its own items' are filled. combine must complete, on rank 0, the
 * rows (spins, temperature, energy, magnetization) and the chain records of
 * every item, and return an error on every process if any process failed.
 * Rank 0 then builds the summary and returns the dataset; the other ranks
 * return KD_OK with *out = NULL. */
typedef struct {
    int rank, size;
    kd_status (*combine)(void *ctx, kd_status local, kd_dataset *d, void *info,
                         size_t info_bytes, size_t nchains);
    void *ctx;
} kd_sample_split;

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
     * result bit for bit. Chains cut short are discarded. With `split`, rank
     * 0 receives the partial result, of the temperatures all of whose chains
     * completed on whichever process; a process whose progress callback
     * cancelled returns KD_ERR_CANCELLED, the others KD_OK (rank 0:
     * KD_ERR_CANCELLED if any chain did not complete). */
    kd_dataset **partial;
    const kd_sample_split *split; /* NULL: one process (the default) */
} kd_sample_params;

/* Defaults: 10×10 periodic square lattice, J = 1, h = 0, Metropolis, 1 chain,
 * 1000 samples, seed 1, auto burn-in (cap 10^6 sweeps) and interval. */
void kd_sample_params_init(kd_sample_params *p);

/* The algorithm `kadanoff sample` uses when none is given: multispin when
 * many chains of one small lattice are asked for (chains >= 256, a periodic
 * square lattice with even 4 <= L <= 256, h = 0), else Wolff, or Metropolis
 * when h != 0. (At L = 2 checkerboard Metropolis is not ergodic.) Why these
 * bounds (2 cores, T_c, bench/RESULTS.md, session 5's Zen 3 tables): 256
 * chains fill one AVX2 vector of four 64-replica groups. Independent samples
 * per second, all chains together, = flips/s / (N · 2 τ_int): at L = 64 the multi-spin kernel (5.4
 * flips/ns with 256 chains, 8.4 with 512; Metropolis τ_int ≈ 43 sweeps) gives
 * 15-24k/s against Wolff's 2.4-3k/s; at L = 256 (τ_int ≈ 550, ~10.8 flips/ns)
 * ~150/s against 68-103/s. Beyond, Metropolis' critical slowing down hands
 * T_c to Wolff: extrapolated with the exponents of these τ_int (≈ L^1.84
 * against L^0.14) and the L = 256 flip rates, L = 512 gives about 10/s
 * against 24/s. Away from T_c Metropolis decorrelates fast and multispin
 * wins by more. */
kd_algorithm kd_sample_default_algorithm(const kd_lattice *lat, int chains);

/* Run the sampling and build a dataset with its per-temperature summary.
 * Rows are ordered by temperature (as given), then chain, then time. */
kd_status kd_sample(const kd_sample_params *p, kd_dataset **out);

/* Work items of a run: one per (temperature, chain), or one per temperature
 * with the multi-spin algorithms (its chains are the replicas of one object). Item i
 * fills rows [*row0, *row0 + *nrows) and chain records [*chain0, *chain0 +
 * *nchains) (chain record index = temperature index · chains + chain). */
size_t kd_sample_nitems(const kd_sample_params *p);
void kd_sample_item(const kd_sample_params *p, size_t item, size_t *row0, size_t *nrows,
                    size_t *chain0, size_t *nchains);

/* The Philox stream used by chain `chain` at temperature T (documented above). */
uint64_t kd_sample_stream(double T, int chain);

#ifdef __cplusplus
}
#endif
#endif
