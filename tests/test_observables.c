/* Tests of the time-series statistics and per-temperature observables.
 *
 * The reference process is the Gaussian AR(1) series
 *     x_t = φ x_{t-1} + sqrt(1-φ²) ξ_t,   ξ_t ~ N(0,1), x_0 ~ N(0,1),
 * stationary with unit variance, ρ(t) = φ^t and τ_int = ½ + Σ_{t>=1} φ^t
 * = (1+φ)/(2(1-φ)): everything the estimators measure is known exactly. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kadanoff/observables.h"
#include "kadanoff/rng.h"
#include "testing.h"

static const uint64_t SEED = 20240611;

static void ar1(double *x, size_t n, double phi, uint64_t stream)
{
    kd_rng r;
    kd_rng_init(&r, SEED, stream);
    const double s = sqrt(1.0 - phi * phi);
    x[0] = kd_rng_normal(&r); /* start in the stationary distribution: no burn-in */
    for (size_t t = 1; t < n; t++)
        x[t] = phi * x[t - 1] + s * kd_rng_normal(&r);
}

static double tau_exact(double phi) { return (1.0 + phi) / (2.0 * (1.0 - phi)); }

/* Exact variance of the mean of n AR(1) samples (unit variance):
 * var(x̄) = (1/n) [ (1+φ)/(1-φ) - 2φ(1-φ^n) / (n(1-φ)²) ]. */
static double ar1_var_mean(double phi, size_t n)
{
    double dn = (double)n;
    return ((1.0 + phi) / (1.0 - phi) -
            2.0 * phi * (1.0 - pow(phi, dn)) / (dn * (1.0 - phi) * (1.0 - phi))) / dn;
}

static double *alloc_doubles(size_t n)
{
    double *p = malloc(n * sizeof *p);
    if (!p) {
        printf("out of memory\n");
        exit(2);
    }
    return p;
}

/* ---- autocorrelation and τ_int --------------------------------------- */

static void test_autocorrelation(void)
{
    const size_t n = 100000, tmax = 10;
    const double phis[] = {0.0, 0.5, 0.9};
    double *x = alloc_doubles(n), rho[11];
    for (int p = 0; p < 3; p++) {
        double phi = phis[p];
        ar1(x, n, phi, 1 + (uint64_t)p);
        kd_test(kd_autocorrelation(x, n, tmax, rho) == KD_OK, "autocorrelation phi=%g", phi);
        kd_test(rho[0] == 1.0, "rho(0) = 1 exactly (phi=%g)", phi);
        for (size_t t = 1; t <= tmax; t++) {
            /* Bartlett's large-n variance of ρ̂(t) for AR(1):
             * var ≈ (1/n) [(1+φ²)(1-φ^{2t})/(1-φ²) - 2tφ^{2t}]; 4σ bound. */
            double p2t = pow(phi, 2.0 * (double)t);
            double var = ((1 + phi * phi) * (1 - p2t) / (1 - phi * phi) - 2.0 * (double)t * p2t)
                         / (double)n;
            char what[64];
            snprintf(what, sizeof what, "rho(%zu), phi=%g", t, phi);
            kd_test_abs(rho[t], pow(phi, (double)t), 4.0 * sqrt(var), what);
        }
    }
    free(x);
}

static void test_tau_int(void)
{
    const size_t n = 100000;
    const double phis[] = {0.0, 0.5, 0.9};
    double *x = alloc_doubles(n);
    for (int p = 0; p < 3; p++) {
        double phi = phis[p], truth = tau_exact(phi), tau = 0;
        size_t W = 0;
        int reliable = 0;
        ar1(x, n, phi, 10 + (uint64_t)p);
        kd_test(kd_tau_int(x, n, 6.0, &tau, &W, &reliable) == KD_OK, "tau_int phi=%g", phi);
        kd_test(reliable == 1 && W >= 1 && W <= n / 4, "window found: W = %zu (phi=%g)", W, phi);
        kd_test((double)W >= 6.0 * tau, "window rule W >= 6 tau: W = %zu, tau = %g", W, tau);
        /* Sokal: var(τ̂) ≈ 2(2W+1)τ²/n. The window also drops the tail
         * Σ_{t>W} φ^t = φ^{W+1}/(1-φ) (a bias, added to the 4σ tolerance). */
        double sigma = sqrt(2.0 * (2.0 * (double)W + 1.0) * truth * truth / (double)n);
        double tail = phi > 0 ? pow(phi, (double)W + 1.0) / (1.0 - phi) : 0.0;
        char what[64];
        snprintf(what, sizeof what, "tau_int, phi=%g (W=%zu, sigma=%.3g)", phi, W, sigma);
        kd_test_abs(tau, truth, 4.0 * sigma + tail, what);

        /* Why 2τ_int: the error of the mean of correlated samples is
         * sqrt(2τ σ²/n), not sqrt(σ²/n). Check against the exact finite-n value;
         * relative accuracy is that of τ̂ (σ/τ from Sokal's formula above), and
         * σ̂² is far more precise. 4σ. */
        double mean = 0, var = 0;
        for (size_t i = 0; i < n; i++)
            mean += x[i];
        mean /= (double)n;
        for (size_t i = 0; i < n; i++)
            var += (x[i] - mean) * (x[i] - mean);
        var /= (double)n;
        double err_tau = sqrt(2.0 * tau * var / (double)n);
        snprintf(what, sizeof what, "sqrt(2 tau var/n), phi=%g", phi);
        kd_test_rel(err_tau, sqrt(ar1_var_mean(phi, n)), 4.0 * 0.5 * sigma / truth + 0.01,
                    what);
    }

    /* A series dominated by an unresolved trend (x_t = t, n = 100): ρ̂(t) stays
     * near 1 - 3t/(2n), so τ(t) grows as fast as t and no window W <= n/4 exists.
     * Deterministic, unlike a short random series whose ρ̂ can dip by chance. */
    for (size_t t = 0; t < 100; t++)
        x[t] = (double)t;
    double tau = 0;
    size_t W = 0;
    int reliable = 1;
    kd_status st = kd_tau_int(x, 100, 6.0, &tau, &W, &reliable);
    kd_test(st == KD_OK && reliable == 0 && W == 25 && tau > 4.0,
            "tau_int of a ramp: unreliable, W = n/4 (got W=%zu, rel=%d, tau=%g)", W, reliable,
            tau);
    free(x);
}

/* ---- binning and jackknife -------------------------------------------- */

static void test_binning(void)
{
    const size_t n = 100000, nbins = 100;
    const double phis[] = {0.0, 0.5, 0.9};
    double *x = alloc_doubles(n);
    for (int p = 0; p < 3; p++) {
        double phi = phis[p], mean = 0, err = 0;
        ar1(x, n, phi, 30 + (uint64_t)p);
        kd_test(kd_binning(x, n, nbins, &mean, &err) == KD_OK, "binning phi=%g", phi);
        double exact = sqrt(ar1_var_mean(phi, n));
        /* Blocks of 1000 >> τ are independent, so the error estimate has a
         * chi distribution with B-1 degrees of freedom: relative spread
         * 1/sqrt(2(B-1)) = 0.071; 4σ. (Block-size bias ~ τ/b <= 1%.) */
        char what[64];
        snprintf(what, sizeof what, "binning error of the mean, phi=%g", phi);
        kd_test_rel(err, exact, 4.0 / sqrt(2.0 * (double)(nbins - 1)), what);
        /* The mean itself: exact 0 within 4 exact standard errors. */
        snprintf(what, sizeof what, "binning mean, phi=%g", phi);
        kd_test_sigma(mean, exact, 0.0, 4.0, what);
    }
    free(x);
}

typedef struct {
    double a, b, c;
} linear_ctx;

static double f_linear(const double *mean, void *ctx)
{
    const linear_ctx *l = ctx;
    return l->a * mean[0] + l->b * mean[1] + l->c;
}

static double f_variance(const double *mean, void *ctx)
{
    (void)ctx;
    return mean[1] - mean[0] * mean[0];
}

static double f_nan(const double *mean, void *ctx)
{
    (void)ctx;
    return mean[0] > -INFINITY ? NAN : 0.0;
}

static void test_jackknife(void)
{
    /* Linear f: the leave-one-out formula reduces algebraically to the
     * binning error (f_b - f̄ = -(B_b - B̄)/(B-1)), so the two agree to
     * roundoff; 1e-12 relative. n is not a multiple of nbins on purpose. */
    const size_t n = 10007, nbins = 37;
    double *x = alloc_doubles(2 * n), *y = alloc_doubles(n);
    kd_rng r;
    kd_rng_init(&r, SEED, 40);
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = 3.0 + kd_rng_normal(&r);
        x[2 * i + 1] = kd_rng_uniform(&r);
    }
    linear_ctx l = {2.0, -3.0, 1.0};
    for (size_t i = 0; i < n; i++)
        y[i] = l.a * x[2 * i] + l.b * x[2 * i + 1] + l.c;
    double jv = 0, je = 0, bm = 0, be = 0;
    kd_test(kd_jackknife(x, n, 2, nbins, f_linear, &l, &jv, &je) == KD_OK, "jackknife linear");
    kd_test(kd_binning(y, n, nbins, &bm, &be) == KD_OK, "binning of the linear combination");
    kd_test_rel(jv, bm, 1e-12, "jackknife value of linear f = mean of all samples");
    kd_test_rel(je, be, 1e-12, "jackknife error of linear f = binning error");

    /* Nonlinear f: the variance ⟨x²⟩ - ⟨x⟩² of iid N(0,1), truth 1 (bias
     * -1/n negligible). Its standard error is sqrt(2/n) for normals. */
    const size_t m = 20000, mb = 100;
    double *z = alloc_doubles(2 * m);
    kd_rng_init(&r, SEED, 41);
    for (size_t i = 0; i < m; i++) {
        double v = kd_rng_normal(&r);
        z[2 * i] = v;
        z[2 * i + 1] = v * v;
    }
    double v = 0, ve = 0;
    kd_test(kd_jackknife(z, m, 2, mb, f_variance, NULL, &v, &ve) == KD_OK, "jackknife variance");
    kd_test_sigma(v, ve, 1.0, 4.0, "jackknife variance of N(0,1) covers 1 (4 sigma)");
    /* Error of the error with B = 100 blocks: 1/sqrt(2(B-1)) = 0.071; 4σ. */
    kd_test_rel(ve, sqrt(2.0 / (double)m), 4.0 / sqrt(2.0 * (double)(mb - 1)),
                "jackknife error of the variance vs sqrt(2/n)");

    /* Coverage: over R independent short series the true variance should lie
     * within ±1 jackknife error about 67% of the time (Student t with B-1 = 19
     * degrees of freedom: P(|t| < 1) = 0.670). Binomial σ = sqrt(p(1-p)/R)
     * = 0.024 for R = 400; 4σ plus 0.02 for the non-normality of a variance. */
    const int R = 400;
    const size_t ms = 500, bs = 20;
    int inside = 0;
    for (int rep = 0; rep < R; rep++) {
        kd_rng_init(&r, SEED, 1000 + (uint64_t)rep);
        for (size_t i = 0; i < ms; i++) {
            double w = kd_rng_normal(&r);
            z[2 * i] = w;
            z[2 * i + 1] = w * w;
        }
        if (kd_jackknife(z, ms, 2, bs, f_variance, NULL, &v, &ve) == KD_OK && fabs(v - 1.0) < ve)
            inside++;
    }
    kd_test_abs((double)inside / R, 0.670, 4.0 * sqrt(0.670 * 0.330 / R) + 0.02,
                "jackknife 1-sigma coverage of the variance");

    /* A function that breaks down is reported, not returned. */
    kd_test(kd_jackknife(x, n, 2, nbins, f_nan, NULL, &jv, &je) == KD_ERR_NUMERIC,
            "jackknife of a NaN-valued f gives KD_ERR_NUMERIC");
    free(x);
    free(y);
    free(z);
}

/* ---- stationarity ------------------------------------------------------ */

static void test_stationary(void)
{
    const size_t n = 20000;
    double *x = alloc_doubles(n);
    ar1(x, n, 0.9, 50);
    /* Stationary: the half-means differ by a N(0, σ_diff²) amount, so a
     * 4σ test fails with probability 6e-5 (τ = 9.5 is measured well: n/τ ≈ 2000). */
    kd_test(kd_series_stationary(x, n, 4.0) == 1, "stationary AR(1), phi=0.9, n=20000: yes");
    /* Add a relaxation A e^{-t/λ}, A = 5, λ = n/10: the first half-mean is
     * shifted by ≈ Aλ/(n/2) = 1.0 while σ_diff ≈ sqrt(2·9.5·2/10000) = 0.06:
     * about 16σ, far beyond the 4σ limit. */
    for (size_t t = 0; t < n; t++)
        x[t] += 5.0 * exp(-(double)t / (double)(n / 10));
    kd_test(kd_series_stationary(x, n, 4.0) == 0, "AR(1) + decaying exponential drift: no");
    /* Too short to say anything. */
    kd_test(kd_series_stationary(x + n - 15, 15, 4.0) == 0, "series of 15 samples: no");
    free(x);
}

/* ---- summarize ----------------------------------------------------------- */

static int summary_finite(const kd_temp_summary *s)
{
    const double v[] = {s->e,   s->e_err,   s->abs_m,  s->abs_m_err,  s->m2,
                        s->m2_err, s->c,    s->c_err,  s->chi,        s->chi_err,
                        s->binder, s->binder_err, s->tau_e_samples};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

static void test_summarize_exact(void)
{
    /* N = 16 spins, T = 2 (β = ½). e alternates -1.5, -0.5: ⟨e⟩ = -1,
     * var(e) = 1/4, c = N β² var = 16 · ¼ · ¼ = 1. m cycles +½, -¼, -½, +¼:
     * ⟨|m|⟩ = 3/8, ⟨m²⟩ = 5/32, var|m| = 1/64, χ = N β var|m| = 1/8;
     * ⟨m⁴⟩ = 17/512, U_4 = 1 - (17/512)/(3·(5/32)²) = 1 - 34/75 = 41/75.
     * Every block of 20 holds whole periods, so every leave-one-out estimate is
     * the same and the errors vanish (up to roundoff). */
    kd_lattice lat = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    const size_t n = 400;
    const int nr = 3;
    double e[400], m[400], G[400 * 3], Gm[3], Ge[3];
    const double mc[4] = {0.5, -0.25, -0.5, 0.25};
    for (size_t i = 0; i < n; i++) {
        e[i] = i % 2 ? -0.5 : -1.5;
        m[i] = mc[i % 4];
        for (int r = 0; r < nr; r++)
            G[i * nr + r] = 1.0 / (r + 1) + (i % 2 ? 0.125 : -0.125);
    }
    kd_temp_summary s;
    memset(&s, 0, sizeof s);
    s.burn_in = 123.0;
    s.acceptance = 0.25;
    kd_test(kd_observables_summarize(&lat, 2.0, e, m, G, n, nr, &s, Gm, Ge) == KD_OK,
            "summarize two-valued series");
    /* Exact rationals computed in floating point: roundoff only, 1e-12. */
    kd_test_rel(s.e, -1.0, 1e-12, "e = -1");
    kd_test_rel(s.abs_m, 3.0 / 8.0, 1e-12, "|m| = 3/8");
    kd_test_rel(s.m2, 5.0 / 32.0, 1e-12, "m2 = 5/32");
    kd_test_rel(s.c, 1.0, 1e-12, "c = N beta^2 var(e) = 1");
    kd_test_rel(s.chi, 1.0 / 8.0, 1e-12, "chi = N beta var|m| = 1/8");
    kd_test_rel(s.binder, 41.0 / 75.0, 1e-12, "U4 = 41/75");
    /* Balanced blocks: errors are roundoff, ≤ 1e-12 of the values. */
    kd_test(s.e_err <= 1e-12 && s.abs_m_err <= 1e-12 && s.m2_err <= 1e-12 &&
                s.c_err <= 1e-12 && s.chi_err <= 1e-12 && s.binder_err <= 1e-12,
            "balanced blocks give zero errors (e %g |m| %g m2 %g c %g chi %g U4 %g)", s.e_err,
            s.abs_m_err, s.m2_err, s.c_err, s.chi_err, s.binder_err);
    for (int r = 0; r < nr; r++) {
        char what[48];
        snprintf(what, sizeof what, "G(%d) = 1/(r+1)", r);
        kd_test_rel(Gm[r], 1.0 / (r + 1), 1e-12, what);
        kd_test(Ge[r] <= 1e-12, "G(%d) error %g is roundoff", r, Ge[r]);
    }
    kd_test(s.T == 2.0 && s.n == n, "T and n recorded");
    kd_test(s.burn_in == 123.0 && s.acceptance == 0.25, "caller's fields left alone");

    /* T = 0 and T = inf: c and χ are 0 by convention, the rest unchanged. */
    const double Ts[2] = {0.0, INFINITY};
    for (int k = 0; k < 2; k++) {
        kd_temp_summary z;
        memset(&z, 0, sizeof z);
        kd_test(kd_observables_summarize(&lat, Ts[k], e, m, NULL, n, 0, &z, NULL, NULL) ==
                        KD_OK &&
                    z.c == 0 && z.c_err == 0 && z.chi == 0 && z.chi_err == 0 &&
                    summary_finite(&z),
                "T = %g: c = chi = 0 with zero errors, all finite", Ts[k]);
        kd_test_rel(z.binder, 41.0 / 75.0, 1e-12, "U4 at T = 0 / inf unchanged");
    }
}

static void test_summarize_random(void)
{
    /* iid two-valued e (-1.5 w.p. p = 0.3, else -0.5) and |m| (½ w.p. 0.3,
     * else ¼, random sign), N = 16, T = 2. Truth:
     *   c = N β² p(1-p)·1² = 0.84, χ = N β p(1-p)(¼)² = 0.105,
     *   U4 = 1 - ⟨m⁴⟩/(3⟨m²⟩²) with ⟨m^k⟩ = p(½)^k + (1-p)(¼)^k.
     * (p ≠ ½ so that var(e) itself fluctuates at O(n^-½).) */
    kd_lattice lat = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    const size_t n = 4000;
    const double p = 0.3;
    double *e = alloc_doubles(n), *m = alloc_doubles(n);
    kd_rng r;
    kd_rng_init(&r, SEED, 60);
    for (size_t i = 0; i < n; i++) {
        e[i] = kd_rng_uniform(&r) < p ? -1.5 : -0.5;
        double a = kd_rng_uniform(&r) < p ? 0.5 : 0.25;
        m[i] = kd_rng_uniform(&r) < 0.5 ? -a : a;
    }
    double m2 = p * 0.25 + (1 - p) * 0.0625, m4 = p * 0.0625 + (1 - p) * 0.00390625;
    kd_temp_summary s;
    memset(&s, 0, sizeof s);
    kd_test(kd_observables_summarize(&lat, 2.0, e, m, NULL, n, 0, &s, NULL, NULL) == KD_OK,
            "summarize random two-valued series");
    /* Jackknife errors must cover the truth; 4σ each (kd_test_sigma also
     * requires a nonzero error bar). */
    kd_test_sigma(s.e, s.e_err, -1.5 * p - 0.5 * (1 - p), 4.0, "random: e");
    kd_test_sigma(s.abs_m, s.abs_m_err, 0.5 * p + 0.25 * (1 - p), 4.0, "random: |m|");
    kd_test_sigma(s.m2, s.m2_err, m2, 4.0, "random: m2");
    kd_test_sigma(s.c, s.c_err, 16.0 * 0.25 * p * (1 - p), 4.0, "random: c");
    kd_test_sigma(s.chi, s.chi_err, 16.0 * 0.5 * p * (1 - p) * 0.0625, 4.0, "random: chi");
    kd_test_sigma(s.binder, s.binder_err, 1.0 - m4 / (3.0 * m2 * m2), 4.0, "random: U4");
    /* Independent samples: τ ≈ ½ within Sokal's 4σ (W ≈ 3: sqrt(2·7·¼/n) = 0.03). */
    kd_test_abs(s.tau_e_samples, 0.5, 4.0 * sqrt(2.0 * 7.0 * 0.25 / (double)n),
                "random: tau_e_samples = 1/2");
    /* The documented block rule: 20 blocks for n >= 40, so e_err is the
     * 20-bin binning error (identical up to roundoff, 1e-12). */
    double bm, be;
    kd_binning(e, n, 20, &bm, &be);
    kd_test_rel(s.e_err, be, 1e-12, "e_err = binning error with 20 blocks");
    /* n < 40: floor(n/2) blocks of two. */
    kd_temp_summary t;
    memset(&t, 0, sizeof t);
    kd_test(kd_observables_summarize(&lat, 2.0, e, m, NULL, 39, 0, &t, NULL, NULL) == KD_OK,
            "summarize n = 39");
    kd_binning(e, 39, 19, &bm, &be);
    kd_test_rel(t.e_err, be, 1e-12, "n = 39: e_err = binning error with 19 blocks");
    /* Tiny n: 2 and 3 samples still give finite numbers. */
    for (size_t k = 2; k <= 3; k++) {
        kd_test(kd_observables_summarize(&lat, 2.0, e, m, NULL, k, 0, &t, NULL, NULL) == KD_OK &&
                    summary_finite(&t),
                "summarize n = %zu: finite", k);
    }
    free(e);
    free(m);
}

static void test_degenerate(void)
{
    kd_lattice lat = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    /* One configuration: values are that configuration, errors 0, no 0/0. */
    double e1 = -1.25, m1 = -0.5, G1[2] = {1.0, 0.75}, Gm[2], Ge[2];
    kd_temp_summary s;
    memset(&s, 0, sizeof s);
    kd_test(kd_observables_summarize(&lat, 1.5, &e1, &m1, G1, 1, 2, &s, Gm, Ge) == KD_OK,
            "summarize n = 1");
    kd_test(summary_finite(&s) && s.e == -1.25 && s.abs_m == 0.5 && s.m2 == 0.25 && s.c == 0 &&
                s.chi == 0 && s.e_err == 0 && s.abs_m_err == 0 && s.m2_err == 0 &&
                s.c_err == 0 && s.chi_err == 0 && s.binder_err == 0 && s.tau_e_samples == 0.5,
            "n = 1: values of the sample, all errors 0, tau = 1/2");
    kd_test_rel(s.binder, 2.0 / 3.0, 1e-15, "n = 1: U4 = 2/3");
    kd_test(Gm[0] == 1.0 && Gm[1] == 0.75 && Ge[0] == 0 && Ge[1] == 0, "n = 1: G");

    /* Zero variance: -1.7 and 0.3 are not exact binary fractions, so any
     * naive mean would leave roundoff "fluctuations". Exact zeros required. */
    const size_t n = 1000;
    double *e = alloc_doubles(n), *m = alloc_doubles(n), rho[4];
    for (size_t i = 0; i < n; i++) {
        e[i] = -1.7;
        m[i] = 0.3;
    }
    double tau = 0, mean = 0, err = 1;
    size_t W = 99;
    int reliable = 0;
    kd_status st = kd_tau_int(e, n, 6.0, &tau, &W, &reliable);
    kd_test(st == KD_OK && tau == 0.5 && reliable,
            "constant series: tau = 0.5 exactly (got %.17g)", tau);
    kd_test(kd_autocorrelation(e, n, 3, rho) == KD_OK && rho[0] == 1 && rho[1] == 0 &&
                rho[2] == 0 && rho[3] == 0,
            "constant series: rho = 1, 0, 0, 0");
    st = kd_binning(e, n, 10, &mean, &err);
    kd_test(st == KD_OK && mean == -1.7 && err == 0,
            "constant series: binning mean exact, error 0 (got %.3g)", err);
    memset(&s, 0, sizeof s);
    st = kd_observables_summarize(&lat, 2.0, e, m, NULL, n, 0, &s, NULL, NULL);
    kd_test(st == KD_OK, "summarize constant series");
    kd_test(summary_finite(&s) && s.e == -1.7 && s.c == 0 && s.chi == 0 && s.e_err == 0 &&
                s.abs_m_err == 0 && s.m2_err == 0 && s.c_err == 0 && s.chi_err == 0 &&
                s.binder_err == 0 && s.tau_e_samples == 0.5,
            "constant series: c = chi = 0, all errors exactly 0, tau 1/2, no NaN "
            "(c_err %g, U4_err %g)", s.c_err, s.binder_err);
    kd_test_rel(s.binder, 2.0 / 3.0, 1e-14, "constant series: U4 = 2/3");
    /* All m = 0: U4 is reported as 0 instead of 0/0. */
    for (size_t i = 0; i < n; i++)
        m[i] = 0.0;
    kd_test(kd_observables_summarize(&lat, 2.0, e, m, NULL, n, 0, &s, NULL, NULL) == KD_OK &&
                s.binder == 0 && summary_finite(&s),
            "m = 0 throughout: U4 = 0, no NaN");
    free(e);
    free(m);
}

static void test_invalid(void)
{
    double x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8], a, b;
    size_t W;
    int rel;
    kd_lattice lat = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    kd_temp_summary s;
    memset(&s, 0, sizeof s);
    struct {
        kd_status got;
        const char *what;
    } cases[] = {
        {kd_autocorrelation(x, 8, 8, out), "autocorrelation tmax = n"},
        {kd_autocorrelation(x, 0, 0, out), "autocorrelation n = 0"},
        {kd_tau_int(x, 8, 0.0, &a, &W, &rel), "tau_int c = 0"},
        {kd_tau_int(x, 0, 6.0, &a, &W, &rel), "tau_int n = 0"},
        {kd_binning(x, 8, 1, &a, &b), "binning 1 bin"},
        {kd_binning(x, 8, 9, &a, &b), "binning more bins than samples"},
        {kd_jackknife(x, 8, 1, 2, NULL, NULL, &a, &b), "jackknife without f"},
        {kd_jackknife(x, 8, 0, 2, f_variance, NULL, &a, &b), "jackknife k = 0"},
        {kd_observables_summarize(&lat, -1.0, x, x, NULL, 8, 0, &s, NULL, NULL), "T < 0"},
        {kd_observables_summarize(&lat, NAN, x, x, NULL, 8, 0, &s, NULL, NULL), "T = NaN"},
        {kd_observables_summarize(&lat, 1.0, x, x, NULL, 0, 0, &s, NULL, NULL), "n = 0"},
        {kd_observables_summarize(&lat, 1.0, x, x, NULL, 8, 2, &s, out, out), "nr > 0, no G"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        kd_test(cases[i].got == KD_ERR_INVALID, "%s: KD_ERR_INVALID (got %d)", cases[i].what,
                (int)cases[i].got);
    x[3] = NAN;
    kd_clear_error();
    kd_status st = kd_observables_summarize(&lat, 1.0, x, x, NULL, 8, 0, &s, NULL, NULL);
    kd_test(st == KD_ERR_INVALID && kd_last_error()[0] != '\0',
            "NaN energy rejected with a message: \"%s\"", kd_last_error());
}

int main(void)
{
    test_autocorrelation();
    test_tau_int();
    test_binning();
    test_jackknife();
    test_stationary();
    test_summarize_exact();
    test_summarize_random();
    test_degenerate();
    test_invalid();
    return kd_test_done();
}
