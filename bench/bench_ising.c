/*
 * Ising Monte Carlo throughput at T_c, printed as a Markdown table.
 *
 * For each algorithm and L: spin flips (attempted single-spin updates; for
 * Wolff, flipped spins) per ns on 1 thread with one chain and on all threads
 * with one chain per thread, next to the plain C reference kernel
 * (kd_ising_site_update in typewriter order, one uniform double per site) run
 * in the same process — ratios, not absolute times, are what to compare on a
 * shared machine. Then τ_int of the energy at T_c and the τ-corrected number of
 * independent samples per second, sweeps/s ÷ 2τ_int.
 *
 * Usage: bench_ising [max_L]   (default 256)
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "kadanoff/kadanoff.h"

/* Median of three timings, in seconds. */
static double median3(double a, double b, double c)
{
    if (a > b) { double t = a; a = b; b = t; }
    if (b > c) { double t = b; b = c; c = t; }
    return a > b ? a : b;
}

static long sweeps_for(int L) { return (long)fmax(20, 4.0e7 / ((double)L * L)); }

static double time_reference(const kd_lattice *lat, double T, long sweeps)
{
    size_t n = kd_lattice_size(lat);
    int8_t *s = malloc(n);
    kd_rng r;
    kd_rng_init(&r, 1, 1);
    for (size_t i = 0; i < n; i++)
        s[i] = 1;
    double t0 = omp_get_wtime();
    for (long k = 0; k < sweeps; k++)
        for (size_t i = 0; i < n; i++)
            kd_ising_site_update(lat, s, i, 1 / T, KD_ALGO_METROPOLIS, kd_rng_uniform(&r));
    double dt = omp_get_wtime() - t0;
    free(s);
    return (double)sweeps * (double)n / dt * 1e-9;
}

/* flips/ns with `chains` chains in parallel, each `sweeps` sweeps */
static double time_kernel(const kd_lattice *lat, double T, kd_algorithm a, long sweeps, int chains)
{
    double t[3];
    for (int rep = 0; rep < 3; rep++) {
        double t0 = omp_get_wtime();
#pragma omp parallel for num_threads(chains) schedule(static, 1)
        for (int c = 0; c < chains; c++) {
            kd_sampler *S;
            kd_sampler_new(&S, lat, T, a, 7, (uint64_t)c);
            kd_sampler_sweep(S, sweeps);
            kd_sampler_free(S);
        }
        t[rep] = omp_get_wtime() - t0;
    }
    return (double)chains * (double)sweeps * (double)kd_lattice_size(lat) / median3(t[0], t[1], t[2]) * 1e-9;
}

static double tau_at(const kd_lattice *lat, double T, kd_algorithm a, long n)
{
    kd_sampler *S;
    kd_sampler_new(&S, lat, T, a, 3, 3);
    kd_sampler_sweep(S, 2000);
    double *e = malloc((size_t)n * sizeof *e), tau;
    for (long k = 0; k < n; k++) {
        kd_sampler_sweep(S, 1);
        e[k] = kd_ising_energy(lat, kd_sampler_spins(S));
    }
    int reliable;
    kd_tau_int(e, (size_t)n, 6.0, &tau, NULL, &reliable);
    free(e);
    kd_sampler_free(S);
    return tau;
}

int main(int argc, char **argv)
{
    int maxL = argc > 1 ? atoi(argv[1]) : 256;
    int threads = omp_get_num_procs();
    const double Tc = kd_exact_tc();
    printf("Ising 2D at T_c, periodic, %d hardware threads.\n\n", threads);
    printf("| algorithm | L | ref. kernel flips/ns | 1 thread flips/ns | ratio to ref. | %d threads flips/ns | scaling | τ_int(e) sweeps | indep. samples/s (%d thr.) |\n",
           threads, threads);
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (int L = 16; L <= maxL; L *= 4) {
        kd_lattice lat = {KD_LATTICE_SQUARE, L, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
        long sweeps = sweeps_for(L);
        double ref = time_reference(&lat, Tc, sweeps / 4);
        for (int a = 0; a < 3; a++) {
            double one = time_kernel(&lat, Tc, (kd_algorithm)a, sweeps, 1);
            double all = time_kernel(&lat, Tc, (kd_algorithm)a, sweeps, threads);
            long ntau = L <= 64 ? 200000 : 20000;
            double tau = tau_at(&lat, Tc, (kd_algorithm)a, a == KD_ALGO_WOLFF ? ntau / 10 : ntau);
            double sweeps_per_s = all * 1e9 / ((double)L * L);
            printf("| %s | %d | %.3f | %.3f | %.2f | %.3f | %.2f | %.1f | %.3g |\n",
                   kd_algorithm_name((kd_algorithm)a), L, ref, one, one / ref, all, all / one, tau,
                   sweeps_per_s / (2 * tau));
            fflush(stdout);
        }
    }
    return 0;
}
