/*
 * Minimal use of libkadanoff: sample a 16×16 Ising model at T = 2.5 with the
 * Wolff algorithm and compare ⟨e⟩ with Kaufman's exact value.
 *
 *   cc energy_vs_exact.c $(pkg-config --cflags --libs kadanoff) -o energy_vs_exact
 */
#include <stdio.h>

#include <kadanoff/kadanoff.h>

int main(void)
{
    kd_lattice lat = {KD_LATTICE_SQUARE, 16, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    const double T = 2.5;
    kd_sampler *s;
    if (kd_sampler_new(&s, &lat, T, KD_ALGO_WOLFF, 42, 0) != KD_OK) {
        fprintf(stderr, "%s\n", kd_last_error());
        return 1;
    }
    enum { N = 20000 };
    static double e[N];
    kd_sampler_sweep(s, 1000);
    for (int k = 0; k < N; k++) {
        kd_sampler_sweep(s, 1);
        e[k] = kd_ising_energy(&lat, kd_sampler_spins(s));
    }
    double mean, err;
    kd_binning(e, N, 50, &mean, &err);
    kd_thermo exact;
    kd_kaufman_torus(16, 1.0, T, &exact);
    printf("kadanoff %s: <e> = %.5f +- %.5f, exact %.5f (%.1f sigma)\n", kd_version(), mean, err,
           exact.e, (mean - exact.e) / err);
    kd_sampler_free(s);
    return 0;
}
