/*
 * Multi-spin coded Metropolis throughput at T_c, printed as a Markdown table.
 *
 * For each L: spin flips (attempted single-spin updates, N per replica and
 * sweep, as in bench_ising) per ns of
 *   - the scalar checkerboard kernel (kd_sampler, Metropolis): one chain on
 *     1 thread, one chain per thread on all threads;
 *   - the multi-spin object (kernel "auto") with 256 replicas (4 groups of
 *     64: one AVX2 vector) on 1 thread; with 256 × threads replicas on all
 *     threads (each thread its own groups, no synchronisation); with 256
 *     replicas on all threads (rows split, a barrier per half-sweep); and the
 *     portable kernel with 256 replicas on 1 thread;
 *   - the multi-spin heat-bath rule (256 replicas, 1 thread) and its ratio to
 *     the Metropolis rule's column;
 * and the ratio of the multi-spin to the scalar kernel on the same threads,
 * all measured in this process (median of three timings): on a shared
 * machine compare ratios rather than absolute numbers. Chains start hot and
 * are warmed up for 10 sweeps (untimed); the acceptance column shows how close
 * to equilibrium at T_c (≈ 0.19) the timed sweeps were.
 *
 * Then the bound: the multi-spin kernel draws 4 Philox words per 64 replicas
 * and site (4 random bits per flip), so the rate at which this CPU evaluates
 * Philox4x32-10 (AVX2, four blocks per vector, measured here) caps the flips/ns.
 *
 * Usage: bench_multispin [max_L]   (default 1024)
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "kadanoff/kadanoff.h"
#include "kadanoff/multispin.h"

static double median3(double a, double b, double c)
{
    if (a > b) { double t = a; a = b; b = t; }
    if (b > c) { double t = b; b = c; c = t; }
    return a > b ? a : b;
}

/* flips/ns of `chains` scalar chains in parallel, `sweeps` sweeps each */
static double time_scalar(const kd_lattice *lat, double T, long sweeps, int chains)
{
    kd_sampler **S = malloc((size_t)chains * sizeof *S);
    for (int c = 0; c < chains; c++) {
        kd_sampler_new(&S[c], lat, T, KD_ALGO_METROPOLIS, 7, (uint64_t)c);
        kd_sampler_randomize(S[c]);
        kd_sampler_sweep(S[c], 10); /* warm-up, untimed */
    }
    double t[3];
    for (int rep = 0; rep < 3; rep++) {
        double t0 = omp_get_wtime();
#pragma omp parallel for num_threads(chains) schedule(static, 1)
        for (int c = 0; c < chains; c++)
            kd_sampler_sweep(S[c], sweeps);
        t[rep] = omp_get_wtime() - t0;
    }
    for (int c = 0; c < chains; c++)
        kd_sampler_free(S[c]);
    free(S);
    return (double)chains * (double)sweeps * (double)kd_lattice_size(lat) /
           median3(t[0], t[1], t[2]) * 1e-9;
}

/* flips/ns of one multi-spin object with `groups` groups on `threads` threads */
static double time_multispin(const kd_lattice *lat, double T, size_t groups, long sweeps,
                             int threads, const char *kernel, kd_algorithm rule, double *acceptance)
{
    double temps[64];
    for (size_t g = 0; g < groups; g++)
        temps[g] = T;
    kd_multispin *ms;
    if (kd_multispin_new(&ms, lat, temps, groups, 7, 1000) != KD_OK ||
        kd_multispin_set_kernel(ms, kernel) != KD_OK || kd_multispin_set_algorithm(ms, rule) != KD_OK)
        return NAN;
    kd_multispin_set_threads(ms, threads);
    kd_multispin_randomize(ms);
    kd_multispin_sweep(ms, 10); /* warm-up, untimed */
    double t[3];
    for (int rep = 0; rep < 3; rep++) {
        double t0 = omp_get_wtime();
        kd_multispin_sweep(ms, sweeps);
        t[rep] = omp_get_wtime() - t0;
    }
    if (acceptance)
        *acceptance = kd_multispin_acceptance(ms);
    double flips = (double)sweeps * (double)kd_lattice_size(lat) * (double)kd_multispin_replicas(ms);
    kd_multispin_free(ms);
    return flips / median3(t[0], t[1], t[2]) * 1e-9;
}

#if defined(__x86_64__)
#include <immintrin.h>
/* Philox4x32-10 on AVX2, four blocks per vector as in multispin_avx2.c, four
 * independent vectors in flight: blocks per ns on one thread. */
__attribute__((target("avx2"))) static double philox_blocks_per_ns(void)
{
    const __m256i M0 = _mm256_set1_epi64x(0xD2511F53), M1 = _mm256_set1_epi64x(0xCD9E8D57);
    __m256i k0[10], k1[10], acc = _mm256_setzero_si256();
    for (int r = 0; r < 10; r++) {
        k0[r] = _mm256_set1_epi64x((uint32_t)(7u + (uint32_t)r * 0x9E3779B9u));
        k1[r] = _mm256_set1_epi64x((uint32_t)(0u + (uint32_t)r * 0xBB67AE85u));
    }
    const long n = 4000000;
    double best = INFINITY;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = omp_get_wtime();
        for (long i = 0; i < n; i += 4) {
            __m256i x0[4], x1[4], x2[4], x3[4];
            for (int k = 0; k < 4; k++) {
                x0[k] = _mm256_set1_epi64x(i + k);
                x1[k] = _mm256_setzero_si256();
                x2[k] = _mm256_set_epi64x(3, 2, 1, 0);
                x3[k] = _mm256_setzero_si256();
            }
            for (int r = 0; r < 10; r++)
                for (int k = 0; k < 4; k++) {
                    __m256i p0 = _mm256_mul_epu32(x0[k], M0), p1 = _mm256_mul_epu32(x2[k], M1);
                    x0[k] = _mm256_xor_si256(_mm256_xor_si256(_mm256_shuffle_epi32(p1, 0xB1), x1[k]), k0[r]);
                    x2[k] = _mm256_xor_si256(_mm256_xor_si256(_mm256_shuffle_epi32(p0, 0xB1), x3[k]), k1[r]);
                    x1[k] = p1;
                    x3[k] = p0;
                }
            for (int k = 0; k < 4; k++)
                acc = _mm256_xor_si256(acc, _mm256_xor_si256(_mm256_xor_si256(x0[k], x1[k]),
                                                             _mm256_xor_si256(x2[k], x3[k])));
        }
        double t = omp_get_wtime() - t0;
        if (t < best)
            best = t;
    }
    volatile long long sink = _mm256_extract_epi64(acc, 0);
    (void)sink;
    return 4.0 * (double)n / best * 1e-9; /* n/4 iterations × 4 vectors × 4 blocks */
}
#endif

int main(int argc, char **argv)
{
    int maxL = argc > 1 ? atoi(argv[1]) : 1024;
    int threads = omp_get_num_procs();
    const double Tc = kd_exact_tc();
    const kd_lattice probe = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    kd_multispin *ms;
    kd_multispin_new(&ms, &probe, &Tc, 1, 1, 1);
    const char *kernel = kd_multispin_kernel(ms);
    kd_multispin_free(ms);

    printf("2D Ising at T_c, periodic, h = 0, %d hardware threads; multi-spin kernel \"%s\". "
           "Spin flips (attempted updates) per ns.\n\n", threads, kernel);
    printf("| L | scalar 1 thr | multi-spin 1 thr (256 rep.) | ratio | scalar %d thr | multi-spin %d thr "
           "(%d rep.) | ratio | multi-spin %d thr (256 rep., rows split) | portable 1 thr | acceptance "
           "| heat-bath multi-spin 1 thr | heat-bath / Metropolis |\n",
           threads, threads, 256 * threads, threads);
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int L = 64; L <= maxL; L *= 2) {
        kd_lattice lat = {KD_LATTICE_SQUARE, L, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
        const double N = (double)L * L;
        /* about 0.3 s per timing at the expected speeds */
        long s_sweeps = (long)fmax(2, 6e7 / N), m_sweeps = (long)fmax(2, 1.2e9 / (256 * N));
        long p_sweeps = (long)fmax(1, (double)m_sweeps / 8);
        double acc;
        double s1 = time_scalar(&lat, Tc, s_sweeps, 1);
        double sn = time_scalar(&lat, Tc, s_sweeps, threads);
        const kd_algorithm M = KD_ALGO_METROPOLIS;
        double m1 = time_multispin(&lat, Tc, 4, m_sweeps, 1, "auto", M, &acc);
        double mn = time_multispin(&lat, Tc, 4 * (size_t)threads, m_sweeps, threads, "auto", M, NULL);
        double mr = time_multispin(&lat, Tc, 4, m_sweeps, threads, "auto", M, NULL);
        double p1 = time_multispin(&lat, Tc, 4, p_sweeps, 1, "portable", M, NULL);
        double h1 = time_multispin(&lat, Tc, 4, m_sweeps, 1, "auto", KD_ALGO_HEATBATH, NULL);
        printf("| %d | %.3f | %.2f | %.1f | %.3f | %.2f | %.1f | %.2f | %.2f | %.3f | %.2f | %.2f |\n", L,
               s1, m1, m1 / s1, sn, mn, mn / sn, mr, p1, acc, h1, h1 / m1);
        fflush(stdout);
    }
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) {
        double blocks = philox_blocks_per_ns();
        /* 4 Philox words = 2 blocks per 64 flips */
        printf("\nRandom-number bound: Philox4x32-10 on AVX2 runs at %.2f blocks/ns per thread here; "
               "at 2 blocks per 64 spin updates that alone caps the multi-spin kernel at %.1f "
               "flips/ns per thread (%.1f on %d threads).\n",
               blocks, blocks * 32, blocks * 32 * threads, threads);
    }
#endif
    return 0;
}
