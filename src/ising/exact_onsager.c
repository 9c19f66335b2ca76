/*
 * Onsager's infinite square lattice (J = 1): critical point, energy per spin,
 * spontaneous magnetisation.
 *
 *   u(T) = -coth 2K [1 + (2/π)(2 tanh² 2K - 1) K₁(κ)],  κ = 2 sinh 2K / cosh² 2K,
 *   m(T) = (1 - sinh⁻⁴ 2K)^{1/8} for T < T_c, 0 otherwise.
 *
 * K₁(κ) = π / (2 AGM(1, κ')) with κ' = √(1 - κ²). Everything is written in
 * w = min(sinh 2K, 1/sinh 2K) (Kramers–Wannier duality maps s ↔ 1/s), which
 * gives the cancellation-free forms
 *   κ' = (1 - w²)/(1 + w²),   2 tanh² 2K - 1 = ±κ' (+ below T_c, - above),
 * so that at T_c (κ' → 0) the vanishing factor and the logarithmically
 * divergent K₁ are combined as κ'/AGM(1, κ') → 0 and u(T_c) = -coth 2K_c = -√2.
 */
#include <math.h>

#include "kadanoff/exact.h"

double kd_exact_kc(void) { return 0.5 * log1p(sqrt(2.0)); }

double kd_exact_tc(void) { return 2.0 / log1p(sqrt(2.0)); }

/* Arithmetic-geometric mean M = AGM(1, b) for 0 <= b <= 1, and M - b computed
 * without cancellation relative to d0 = 1 - b (given separately, so that it can
 * be exact even when b rounds to 1): returns M, *rho = (M - b)/d0.
 *   a' = (a+b)/2,  b' = √(ab),
 *   a' - b' = (√a - √b)²/2 = (a-b)² / (2(√a + √b)²),
 *   b' - b  = √b (√a - √b) = √b (a-b)/(√a + √b),
 * so M - b = Σ (b_{n+1} - b_n) is a sum of non-negative terms. Differences are
 * carried divided by d0 (δ_n = (a_n - b_n)/d0). Converges quadratically. */
static double agm_with_excess(double b, double d0, double *rho)
{
    double a = 1.0, delta = 1.0, excess = 0.0;
    for (int it = 0; it < 64; it++) {
        double sa = sqrt(a), sb = sqrt(b);
        double step = sb * delta / (sa + sb);           /* (b_{n+1} - b_n)/d0 */
        double dnext = d0 * delta * delta / (2.0 * (sa + sb) * (sa + sb));
        double an = 0.5 * (a + b), bn = sa * sb;
        excess += step;
        a = an;
        b = bn;
        /* the recurrence for δ is only needed (and only stable) once a ≈ b */
        delta = b < 0.5 * a ? (a - b) / d0 : dnext;
        if (delta * d0 <= 1e-17 * a)
            break;
    }
    /* what is left: M - b_n = (a_n - b_n)/2 to within the (negligible) next step */
    *rho = excess + 0.5 * delta;
    return 0.5 * (a + b);
}

double kd_onsager_energy(double T)
{
    if (isnan(T) || T < 0)
        return NAN;
    if (T == 0)
        return -2.0;
    if (isinf(T))
        return 0.0;
    double K = 1.0 / T;
    double Kc = kd_exact_kc();
    if (K < Kc) {
        /* Above T_c: w = s = sinh 2K <= 1, 2tanh²2K - 1 = -κ'.
         * u = -coth 2K (M - κ')/M and coth 2K · d0 = 2 tanh 2K with d0 = 1 - κ' = 2s²/(1+s²),
         * so u = -2 tanh 2K · ρ / M: no 1/s × s² cancellation at high T. */
        double s = sinh(2.0 * K);
        double d0 = 2.0 * s * s / (1.0 + s * s);
        double kp = (1.0 - s * s) / (1.0 + s * s);
        if (kp <= 0)
            return -sqrt(1.0 + s * s) / s; /* exactly at T_c: u = -coth 2K_c = -√2 */
        double rho, M = agm_with_excess(kp, d0, &rho);
        return -2.0 * tanh(2.0 * K) * rho / M;
    }
    /* Below (or at) T_c: w = u = 1/sinh 2K <= 1, 2tanh²2K - 1 = +κ', coth 2K = √(1+u²). */
    double q = exp(-2.0 * K);
    double u = 2.0 * q / -expm1(-4.0 * K);
    double kp = (1.0 - u) * (1.0 + u) / (1.0 + u * u);
    if (kp <= 0)
        return -sqrt(2.0); /* exactly at T_c: κ'/AGM(1, κ') → 0 */
    double d0 = 2.0 * u * u / (1.0 + u * u);
    double rho, M = agm_with_excess(kp, d0, &rho);
    return -sqrt(1.0 + u * u) * (1.0 + kp / M);
}

double kd_onsager_magnetization(double T)
{
    if (isnan(T) || T < 0)
        return NAN;
    if (T == 0)
        return 1.0;
    double K = 1.0 / T;
    if (K <= kd_exact_kc())
        return 0.0;
    /* u = 1/sinh 2K < 1; 1 - u⁴ = (1-u)(1+u)(1+u²) keeps the factor that vanishes at T_c. */
    double u = 2.0 * exp(-2.0 * K) / -expm1(-4.0 * K);
    double x = (1.0 - u) * (1.0 + u) * (1.0 + u * u);
    return x > 0 ? pow(x, 0.125) : 0.0;
}
