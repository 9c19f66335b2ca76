/*
 * kadanoff/exact.h — exact results for the Ising model, the references every
 * Monte Carlo estimator is tested against.
 *
 * All energies and heat capacities are per spin; k_B = 1.
 */
#ifndef KADANOFF_EXACT_H
#define KADANOFF_EXACT_H

#include "kadanoff/core.h"
#include "kadanoff/ising.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Critical point of the square lattice with coupling J = 1:
 * T_c = 2 / ln(1 + √2), K_c = ½ ln(1 + √2). */
double kd_exact_tc(void);
double kd_exact_kc(void);

/* Onsager, infinite square lattice, J = 1:
 * energy per spin u(T) and spontaneous magnetisation m(T) (0 for T >= T_c).
 * T may be 0 (u = -2, m = 1) or +inf (u = 0, m = 0). */
double kd_onsager_energy(double T);
double kd_onsager_magnetization(double T);

/* Thermodynamics of a finite system. */
typedef struct {
    double lnZ; /* ln of the partition function (total, not per spin) */
    double e;   /* ⟨H⟩ / N */
    double c;   /* heat capacity per spin: β² (⟨H²⟩ - ⟨H⟩²) / N */
} kd_thermo;

/* Kaufman (1949): exact L×L periodic square lattice, coupling J, zero field,
 * any L >= 2 and T in [0, inf]. Numerically stable for all T (log-space sums). */
kd_status kd_kaufman_torus(int L, double J, double T, kd_thermo *out);

/* 1D chain of L spins from the 2×2 transfer matrix: periodic or open, any J, h. */
kd_status kd_chain_exact(int L, kd_boundary boundary, double J, double h, double T,
                         kd_thermo *out);
/* ⟨s_0 s_r⟩ of the periodic chain at h = 0: (t^r + t^{L-r}) / (1 + t^L), t = tanh(J/T). */
double kd_chain_correlation(int L, double J, double T, int r);

/* Brute-force enumeration of all 2^N states of any lattice (N <= 30). */
kd_status kd_enumerate_exact(const kd_lattice *lat, double T, kd_thermo *out);

#ifdef __cplusplus
}
#endif
#endif
