/*
 * kadanoff/observables.h — time-series statistics and per-temperature
 * observables with error bars that account for autocorrelation.
 *
 * Conventions (N spins, per-configuration e = H/N and m = Σs/N, β = 1/T):
 *   specific heat      c   = N β² (⟨e²⟩ - ⟨e⟩²)
 *   susceptibility     χ   = N β (⟨m²⟩ - ⟨|m|⟩²)     (finite-lattice χ' built on |m|)
 *   Binder cumulant    U_4 = 1 - ⟨m⁴⟩ / (3 ⟨m²⟩²)
 *   correlation        G(r) = ⟨s_i s_{i+r}⟩ along the axes (not connected)
 * At T = 0 or T = inf, c and χ are reported as 0 (β² var(e) → 0 / β = 0 limits).
 */
#ifndef KADANOFF_OBSERVABLES_H
#define KADANOFF_OBSERVABLES_H

#include <stddef.h>

#include "kadanoff/core.h"
#include "kadanoff/ising.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Normalised autocorrelation function ρ(t), t = 0..tmax (ρ(0) = 1).
 * A series with zero variance gives ρ(t) = 0 for t > 0. */
kd_status kd_autocorrelation(const double *x, size_t n, size_t tmax, double *rho);

/* Integrated autocorrelation time τ_int = ½ + Σ_{t=1}^{W} ρ(t) with Sokal's
 * automatic window: W is the smallest t with t >= c · τ_int(t) (c = 6 is usual).
 * The variance of the mean of n correlated samples is then 2 τ_int σ² / n.
 * *window receives W (may be NULL). A zero-variance series gives τ = 0.5.
 * If no window is found before n/4, returns the value at n/4 and *reliable = 0. */
kd_status kd_tau_int(const double *x, size_t n, double c, double *tau, size_t *window,
                     int *reliable);

/* Stationarity check for burn-in: splits the series in halves and compares the
 * means; returns 1 if |mean1 - mean2| <= nsigma · σ_diff, where σ_diff uses the
 * variance and τ_int of the second half (with whole-series values a drift reads
 * as a long correlation and hides itself). Returns 0 when the second half is too
 * short to measure its τ_int. Series shorter than 16 are never stationary. */
int kd_series_stationary(const double *x, size_t n, double nsigma);

/* Mean and its standard error by binning into nbins equal blocks (trailing
 * samples that do not fill a block are dropped from the error estimate only). */
kd_status kd_binning(const double *x, size_t n, size_t nbins, double *mean, double *err);

/* Jackknife over nbins blocks for a function f of the means of k primary series
 * stored row-major in x (n rows × k columns). value = f(all means); error from
 * the leave-one-block-out estimates. f receives the k means. */
typedef double (*kd_jackknife_fn)(const double *means, void *ctx);
kd_status kd_jackknife(const double *x, size_t n, size_t k, size_t nbins,
                       kd_jackknife_fn f, void *ctx, double *value, double *err);

/* Observables of one temperature, with error bars. */
typedef struct {
    double T;
    size_t n;           /* configurations used */
    double burn_in;     /* sweeps discarded before the first stored sample */
    double interval;    /* sweeps between stored samples */
    double tau_e;       /* τ_int of the energy, in sweeps, measured before sampling */
    double acceptance;  /* see kd_sampler_acceptance */
    double e, e_err;
    double abs_m, abs_m_err;
    double m2, m2_err;
    double c, c_err;
    double chi, chi_err;
    double binder, binder_err;
    double tau_e_samples; /* τ_int of the stored energy series, in samples (≈0.5 if independent) */
} kd_temp_summary;

/* Compute the observables of one temperature from per-configuration series:
 * e[n], m[n] (per spin) and G[n × nr] (kd_ising_correlation rows).
 * Errors: jackknife over 20 blocks (fewer if n < 40: floor(n/2) blocks, at least
 * 2; n = 1 gives all errors 0), which covers the residual correlation between
 * stored samples. G_mean, G_err: nr values each.
 * Fields burn_in, interval, tau_e, acceptance are left for the caller. */
kd_status kd_observables_summarize(const kd_lattice *lat, double T, const double *e,
                                   const double *m, const double *G, size_t n, int nr,
                                   kd_temp_summary *out, double *G_mean, double *G_err);

#ifdef __cplusplus
}
#endif
#endif
