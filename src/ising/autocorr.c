/* Autocorrelation function, integrated autocorrelation time (Sokal's automatic
 * window) and the burn-in stationarity check. */
#include <math.h>

#include "core/error.h"
#include "kadanoff/observables.h"

/* Mean of x, accumulated as x[0] + mean(x_i - x[0]): a constant series then
 * gives exactly x[0] and exactly zero deviations (no roundoff "variance" that
 * would turn ρ(t) into noise), and the shift keeps the sum well conditioned when
 * the fluctuations are small against the mean (energies near the ground state). */
static double series_mean(const double *x, size_t n)
{
    double shift = x[0], sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += x[i] - shift;
    return shift + sum / (double)n;
}

/* Autocovariance at lag t with the unbiased-per-lag normalisation of Madras &
 * Sokal: C(t) = 1/(n-t) Σ_{i<n-t} (x_i - x̄)(x_{i+t} - x̄), t < n. */
static double autocov(const double *x, size_t n, double mean, size_t t)
{
    double sum = 0.0;
    for (size_t i = 0; i + t < n; i++)
        sum += (x[i] - mean) * (x[i + t] - mean);
    return sum / (double)(n - t);
}

kd_status kd_autocorrelation(const double *x, size_t n, size_t tmax, double *rho)
{
    if (!x || !rho)
        KD_FAIL(KD_ERR_INVALID, "autocorrelation: no series or no output array given");
    if (n == 0)
        KD_FAIL(KD_ERR_INVALID, "autocorrelation: empty series, expected n >= 1");
    if (tmax >= n)
        KD_FAIL(KD_ERR_INVALID, "autocorrelation: tmax = %zu for a series of n = %zu, "
                "expected tmax < n", tmax, n);
    double mean = series_mean(x, n);
    double c0 = autocov(x, n, mean, 0);
    rho[0] = 1.0;
    for (size_t t = 1; t <= tmax; t++)
        rho[t] = c0 > 0 ? autocov(x, n, mean, t) / c0 : 0.0;
    return KD_OK;
}

kd_status kd_tau_int(const double *x, size_t n, double c, double *tau, size_t *window,
                     int *reliable)
{
    if (!x || !tau)
        KD_FAIL(KD_ERR_INVALID, "tau_int: no series or no output given");
    if (n == 0)
        KD_FAIL(KD_ERR_INVALID, "tau_int: empty series, expected n >= 1");
    if (!(c > 0) || !isfinite(c))
        KD_FAIL(KD_ERR_INVALID, "tau_int: window factor c = %g, expected a finite c > 0 "
                "(6 is usual)", c);
    double mean = series_mean(x, n);
    double c0 = autocov(x, n, mean, 0);
    if (!(c0 > 0)) {
        /* No fluctuations: nothing is correlated and the mean is exact; report
         * the value of uncorrelated samples, τ = ½ (2τσ²/n = 0 either way). */
        *tau = 0.5;
        if (window)
            *window = 0;
        if (reliable)
            *reliable = 1;
        return KD_OK;
    }
    /* Why τ_int: the mean of n correlated samples has
     *   var(x̄) = (σ²/n) Σ_{|t|<n} (1 - |t|/n) ρ(t) ≈ (σ²/n)(1 + 2 Σ_{t>=1} ρ(t))
     *          = 2τ_int σ²/n,
     * i.e. the run holds only n/(2τ_int) independent samples.
     * τ(W) = ½ + Σ_{t=1}^{W} ρ(t). The variance of the estimate grows like
     * 2(2W+1)τ²/n (Sokal) while the bias from the neglected tail falls like
     * e^{-W/τ}; stopping at the first W >= c·τ(W) balances the two for c ≈ 4..10.
     * Lags are computed one at a time, so the cost is O(n·W) (O(n²/4) only when
     * no window exists). Strongly anticorrelated series can give τ < ½, even
     * < 0: the estimator is the plain windowed sum; callers floor it if needed. */
    size_t tlast = n / 4;
    double t_int = 0.5;
    for (size_t t = 1; t <= tlast; t++) {
        t_int += autocov(x, n, mean, t) / c0;
        if ((double)t >= c * t_int) {
            *tau = t_int;
            if (window)
                *window = t;
            if (reliable)
                *reliable = 1;
            return KD_OK;
        }
    }
    /* The series is too short for its own correlation time: report the partial
     * sum and let the caller decide (usually: run longer). */
    *tau = t_int;
    if (window)
        *window = tlast;
    if (reliable)
        *reliable = 0;
    return KD_OK;
}

int kd_series_stationary(const double *x, size_t n, double nsigma)
{
    if (!x || n < 16 || !(nsigma > 0))
        return 0;
    size_t n1 = n / 2, n2 = n - n1;
    const double *second = x + n1;
    double mean1 = series_mean(x, n1), mean2 = series_mean(second, n2);
    /* The error bar comes from the second half alone, the part presumed to be
     * in equilibrium. Using the whole series would defeat the test: a drift
     * looks like a long-lived correlation, inflating σ² and τ_int until
     * σ_diff ≈ |mean1 - mean2| whatever the drift's size. */
    double var = autocov(second, n2, mean2, 0);
    double tau = 0.5;
    int reliable = 0;
    if (kd_tau_int(second, n2, 6.0, &tau, NULL, &reliable) != KD_OK)
        return 0;
    /* A half too short to measure its own τ_int cannot vouch for equilibrium
     * (and the truncated τ would understate the error): not stationary. */
    if (!reliable)
        return 0;
    /* Anticorrelated series can give τ < ½; do not let that shrink the error bar. */
    if (tau < 0.5)
        tau = 0.5;
    /* Each half-mean has variance 2τσ²/n_half (the 2τ counts the correlated
     * neighbours of every sample); the halves are nearly independent when
     * n >> τ, so the variances add. */
    double sigma_diff = sqrt(2.0 * tau * var * (1.0 / (double)n1 + 1.0 / (double)n2));
    return fabs(mean1 - mean2) <= nsigma * sigma_diff;
}
