/*
 * kadanoff/multispin.h — multi-spin coded Metropolis and heat-bath for many
 * independent replicas of the 2D Ising model.
 *
 * Replicas are bit-packed: the spins of 64 replicas (one "group") at one site
 * share a 64-bit word, bit r being replica 64·g + r of group g (1 = spin +1).
 * All replicas live on the same periodic L×L square lattice (even L, h = 0,
 * any J); each group has its own temperature. A sweep is the checkerboard
 * Metropolis sweep of kd_sampler (sites with x + y even, then odd) applied to
 * every replica at once with bitwise logic: a replica's move is accepted with
 * probability min(1, e^{-βΔE}) decided from its own random bits, so replicas
 * are statistically independent Markov chains, each with exactly the
 * transition kernel of the scalar checkerboard Metropolis sampler.
 *
 * Heat-bath (kd_multispin_set_algorithm): the same sweep order, and each
 * replica's spin is redrawn from its conditional distribution: +1 iff u <
 * up_k, with k = 0..4 the number of its neighbours that are +1 and up_k =
 * floor(2^32 / (1 + e^{-2βJ(2k - 4)})), kd_sampler's heat-bath table. These
 * are five decision classes instead of Metropolis' two, compared by the same
 * bit-serial scheme below ("yes" meaning +1 instead of "flip"). Unless T is
 * so low that thresholds saturate (0 or 2^32), every class needs random bits,
 * and the vector kernel selects among five thresholds: a heat-bath sweep runs
 * at ~0.8 of Metropolis' speed (bench/RESULTS.md, bench_multispin).
 *
 * Random decisions. Flipping a spin with no unsatisfied bond costs ΔE = 8|J|,
 * with one 4|J|; every other move is accepted without randomness. For the two
 * costly classes, replica r compares a private uniform 32-bit number u with
 * the same 32-bit threshold thr = floor(e^{-βΔE} · 2^32) as kd_sampler
 * (accept iff u < thr), from the most significant bits down: it is decided
 * where u and thr first differ, and u = thr rejects. So the acceptance
 * probability is exactly kd_sampler's, and each replica's bits are its own.
 * Per group (64 replicas) and site:
 *   - head: bits 31-28 of u, compared one at a time, come from four fresh
 *     64-bit words, bit r of word b for replica r (a bit decides a replica
 *     with probability 1/2, so 15 in 16 are decided by then);
 *   - tail: the replicas still undecided (U, n = |U|, typically 3-4) compare
 *     the remaining 28 bits in chunks of 8, 8, 8 and 4 bits, each chunk as one
 *     integer against the same bits of thr (smaller: accept; larger: reject;
 *     equal, probability 2^-8: the next chunk). The j-th replica of U takes
 *     the j-th chunk-sized piece of the group's tail stream, and later chunks
 *     continue where the previous one stopped. The tail stream is the
 *     never-examined bits of the head words of rounds 3 and 2 (those of
 *     replicas that were already decided), packed in order, followed by fresh
 *     words if ever needed. Unexamined bits are as random as fresh ones, and
 *     which bits are reused depends only on bits already examined.
 * This draws about 4 fresh random bits per spin update (versus ~10 when every
 * round of the bit-serial comparison takes a whole word until all 64 replicas
 * are decided); the tail almost always lives on reused bits, and the vector
 * kernel decides its first chunk for four groups with byte-wise vector
 * compares.
 *
 * Stream layout (Philox4x32-10, key = seed). Group g uses stream
 * `stream + g` (the upper half of the counter). Site i in half-sweep
 * h = 2 · (sweeps done) + parity owns the 16 blocks with index
 *     16 · (h · N/2 + i/2) + q,  q = 0..15,   N = L²;
 * q = 0, 1 are the head (words v0 | v1 << 32 and v2 | v3 << 32), q >= 2 the
 * fresh part of the tail stream. A decision therefore depends only on (seed,
 * stream, group, half-sweep, site): results are identical for any number of
 * threads, any order of rows, and for the AVX2 and portable kernels (tested
 * bit for bit). Block indices with the top bit set are used for start
 * configurations. One object supports 2^59 / N sweeps.
 *
 * Kernels: "avx2" (256 replicas per 256-bit vector, Philox computed four blocks
 * per vector, BMI2 pdep/pext for the tail) where the CPU has AVX2 and a fast
 * BMI2 (Intel; AMD from Zen 3), "avx2-nobmi2" (the same with portable bit
 * deposit/extract) where it has AVX2 only, else "portable" (64-bit words, C
 * only). Selected at run time; all produce identical bits. Storage is padded
 * to a multiple of four groups, which the AVX2 kernels also update (with
 * streams stream + g of the padding groups): 64 replicas cost as much as 256
 * there. Threads take whole units when there are enough (no synchronisation),
 * else split the rows of each half-sweep. A unit is a block of four groups for
 * the AVX2 kernels, whose spin words are contiguous, so threads never write to
 * one cache line; the portable kernel's unit is one group, and its threads
 * share a block's lines.
 */
#ifndef KADANOFF_MULTISPIN_H
#define KADANOFF_MULTISPIN_H

#include <stddef.h>
#include <stdint.h>

#include "kadanoff/core.h"
#include "kadanoff/ising.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Replicas per group (bits per word). */
#define KD_MULTISPIN_GROUP 64

typedef struct kd_multispin kd_multispin;

/* Create 64 · ngroups replicas on lattice `lat`, group g at temperature
 * temps[g] (0 < T < inf: the exact samplers for T = 0 and inf are in
 * kd_sampler). The lattice must be square, periodic, with even L (2 <= L <=
 * KD_LATTICE_MAX_L_SQUARE) and field 0; J may have either sign or be 0.
 * Start: all spins +1. Group g draws from Philox stream `stream + g` of `seed`.
 * On failure *out is NULL. */
kd_status kd_multispin_new(kd_multispin **out, const kd_lattice *lat, const double *temps,
                           size_t ngroups, uint64_t seed, uint64_t stream);
void kd_multispin_free(kd_multispin *ms);

size_t kd_multispin_replicas(const kd_multispin *ms); /* 64 · ngroups */
const kd_lattice *kd_multispin_lattice(const kd_multispin *ms);
double kd_multispin_temperature(const kd_multispin *ms, size_t replica);

/* Start configurations. set_ordered gives every replica, independently, one
 * of the lowest-energy configurations among all +1, all -1 and the two Néel
 * states, uniformly among ties (as kd_sampler_set_ordered); randomize gives
 * independent random spins. Each call uses fresh random numbers. */
void kd_multispin_set_cold(kd_multispin *ms);
void kd_multispin_set_ordered(kd_multispin *ms);
void kd_multispin_randomize(kd_multispin *ms);
/* Set replica r (< replicas) to the N spins (±1, kd_ising layout). */
kd_status kd_multispin_set_replica(kd_multispin *ms, size_t r, const int8_t *spins);

/* n checkerboard sweeps (Metropolis or heat-bath) of every replica. Uses the
 * threads given by kd_multispin_set_threads (default: kd_get_threads()), over
 * groups or rows, or one thread when called inside an OpenMP parallel region;
 * the result is the same either way. Fails (KD_ERR_UNSUPPORTED) only when the object's
 * random counter space would be exhausted. */
kd_status kd_multispin_sweep(kd_multispin *ms, long n);
/* The update rule of the sweeps: KD_ALGO_METROPOLIS (the default) or
 * KD_ALGO_HEATBATH (see above); may be changed between sweeps. KD_ERR_INVALID
 * for any other algorithm. */
kd_status kd_multispin_set_algorithm(kd_multispin *ms, kd_algorithm rule);
kd_algorithm kd_multispin_algorithm(const kd_multispin *ms);
/* Threads for kd_multispin_sweep; 0 (default) means kd_get_threads(). */
void kd_multispin_set_threads(kd_multispin *ms, int nthreads);

/* Copy replica r into spins (N values ±1, kd_ising layout). */
void kd_multispin_extract(const kd_multispin *ms, size_t r, int8_t *spins);
/* Energy and magnetisation per spin of every replica (arrays of
 * kd_multispin_replicas values), equal to kd_ising_energy / _magnetization of
 * the extracted configurations, computed with bit-sliced counters. */
kd_status kd_multispin_energies(const kd_multispin *ms, double *e);
kd_status kd_multispin_magnetizations(const kd_multispin *ms, double *m);
/* Fraction of single-spin updates so far, over all replicas, that changed
 * the spin (Metropolis: accepted moves). */
double kd_multispin_acceptance(const kd_multispin *ms);
/* Sweeps done since creation. */
uint64_t kd_multispin_sweeps(const kd_multispin *ms);

/* The kernel in use ("avx2", "avx2-nobmi2" or "portable"), and a way to choose
 * it (for tests and benchmarks): "auto" picks the fastest supported.
 * KD_ERR_UNSUPPORTED if this CPU cannot run the named kernel, KD_ERR_INVALID if
 * the name is unknown. */
const char *kd_multispin_kernel(const kd_multispin *ms);
kd_status kd_multispin_set_kernel(kd_multispin *ms, const char *name);

#ifdef __cplusplus
}
#endif
#endif
