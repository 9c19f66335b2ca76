/*
 * Tests of the physical temperature estimators (src/rg/thermometry.c): the
 * inverse of the exact e(T), monotone reference curves, range flags, and the
 * estimators on Monte Carlo data of known temperature.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kadanoff/kadanoff.h"
#include "kadanoff/thermometry.h"
#include "testing.h"

static const kd_lattice sq10 = {KD_LATTICE_SQUARE, 10, KD_BOUNDARY_PERIODIC, 1.0, 0.0};

/* T → e(T) → T through the exact curves. */
static void test_energy_inverse(void)
{
    static const int Ls[] = {4, 10, 32};
    static const double Ts[] = {0.8, 1.0, 1.5, 2.0, 2.269185314213022, 2.5, 3.0, 4.0, 6.0,
                                10.0, 100.0};
    for (size_t a = 0; a < sizeof Ls / sizeof Ls[0]; a++) {
        kd_lattice lat = sq10;
        lat.L = Ls[a];
        double worst = 0.0, at = 0.0;
        int ok = 1;
        for (size_t b = 0; b < sizeof Ts / sizeof Ts[0]; b++) {
            double e, T;
            kd_temp_flag flag;
            ok &= kd_thermometry_exact_energy(&lat, Ts[b], &e, NULL) == KD_OK;
            ok &= kd_thermometry_energy_inverse(&lat, e, &T, &flag) == KD_OK && flag == KD_TEMP_OK;
            double d = fabs(T - Ts[b]) / fmax(1.0, Ts[b]);
            if (!(d <= worst)) {
                worst = d;
                at = Ts[b];
            }
        }
        /* e is exact to a few ulps, so T to ~ε|e|/c: 1e-12 at T = 0.8 (c ≈ 2e-3 for
         * L = 10); 1e-9 is the required round trip. */
        kd_test(ok && worst <= 1e-9, "L = %d: inverse of Kaufman e(T) round-trips, worst "
                                     "relative |ΔT| %.2g at T = %g", Ls[a], worst, at);
    }
    /* The 10×10 values quoted in PHYSICS.md §3 (6 decimals: |Δe| <= 5e-7, so
     * |ΔT| <= 5e-7 / c). */
    static const double tab[][3] = {{1.0, -1.997160, 0.0234},  {1.5, -1.951117, 0.1973},
                                    {2.0, -1.745431, 0.7232},  {2.5, -1.185101, 1.1332},
                                    {4.0, -0.557447, 0.1718},  {6.0, -0.349368, 0.0638}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        double T;
        kd_thermometry_energy_inverse(&sq10, tab[i][1], &T, NULL);
        char what[96];
        snprintf(what, sizeof what, "10x10: T(e = %.6f) from the quoted table", tab[i][1]);
        kd_test_abs(T, tab[i][0], 5.1e-7 / tab[i][2], what);
    }
    /* chains: periodic and open, with and without a field */
    kd_lattice ch = {KD_LATTICE_CHAIN, 8, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    for (int v = 0; v < 3; v++) {
        if (v == 1)
            ch.field = 0.5;
        if (v == 2)
            ch.boundary = KD_BOUNDARY_OPEN;
        double worst = 0.0;
        static const double T0s[] = {0.37, 0.7, 1.3, 2.9, 5.3, 11.1}; /* not reached by the
                                                                   bracket's doublings */
        for (size_t b = 0; b < sizeof T0s / sizeof T0s[0]; b++) {
            const double T0 = T0s[b];
            double e, T;
            kd_thermometry_exact_energy(&ch, T0, &e, NULL);
            kd_thermometry_energy_inverse(&ch, e, &T, NULL);
            worst = fmax(worst, fabs(T - T0) / T0);
        }
        kd_test(worst <= 1e-9, "chain (%s, h = %g): inverse round-trips, worst %.2g",
                kd_boundary_name(ch.boundary), ch.field, worst);
    }
    kd_lattice open = sq10;
    open.boundary = KD_BOUNDARY_OPEN;
    double T;
    kd_test(kd_thermometry_energy_inverse(&open, -1.5, &T, NULL) == KD_ERR_UNSUPPORTED &&
                strstr(kd_last_error(), "open"),
            "open square lattice: no exact e(T): %s", kd_last_error());
}

static void test_energy_range(void)
{
    kd_temp_estimate est;
    kd_thermometry_energy_estimate(&sq10, -2.1, 0.01, &est);
    kd_test(est.T == 0 && est.flag == KD_TEMP_BELOW_RANGE,
            "<e> below the ground state: T = 0, flagged (%s)", kd_temp_flag_name(est.flag));
    kd_thermometry_energy_estimate(&sq10, 0.05, 0.01, &est);
    kd_test(isinf(est.T) && est.flag == KD_TEMP_ABOVE_RANGE,
            "<e> > 0 (antiferromagnetic side): T = inf, flagged (%s)", kd_temp_flag_name(est.flag));
    kd_thermometry_energy_estimate(&sq10, -2.0, 0.0, &est);
    kd_test(est.T == 0 && est.flag == KD_TEMP_OK && est.err == 0,
            "ground-state energy exactly: T = 0, in range, no error");
    kd_thermometry_energy_estimate(&sq10, 0.0, 0.0, &est);
    kd_test(isinf(est.T) && est.flag == KD_TEMP_OK, "<e> = 0 exactly: T = inf, in range");
    /* error propagation: σ_T = σ_e / c with the exact c (10×10, T = 2: c = 0.7232) */
    double e, c;
    kd_thermometry_exact_energy(&sq10, 2.0, &e, &c);
    kd_thermometry_energy_estimate(&sq10, e, 1e-3, &est);
    kd_test_rel(est.err, 1e-3 / c, 1e-9, "sigma_T = sigma_e / c(T)");
    kd_test(est.lo < 2.0 && est.hi > 2.0 && fabs(0.5 * (est.hi - est.lo) - est.err) < 1e-3 * est.err,
            "interval [T(e-σ), T(e+σ)] = [%.6f, %.6f] matches ±σ_T to first order", est.lo,
            est.hi);
}

static void test_reference_curves(void)
{
    /* a smooth decreasing curve on a fine grid, and its inverse */
    enum { M = 501 };
    kd_reference_point pts[M];
    for (int i = 0; i < M; i++) {
        double T = 0.01 * i;
        pts[M - 1 - i] = (kd_reference_point){T, exp(-T), 0.0}; /* any order */
    }
    kd_reference_curve *c;
    kd_test(kd_reference_curve_new(&c, pts, M) == KD_OK, "curve of %d points", M);
    kd_temp_estimate est;
    kd_reference_curve_invert(c, exp(-2.345), 1e-3, &est);
    /* linear interpolation in x = T/(1+T) on a grid of 0.01 in T: error ~ h² f''/8 /f'
     * ≈ 1e-5 · (1 + a curvature factor) */
    kd_test_abs(est.T, 2.345, 1e-4, "inverse of exp(-T) at T = 2.345 (linear interpolation)");
    kd_test_rel(est.err, 1e-3 / exp(-2.345), 1e-2, "sigma_T = sigma / |dvalue/dT|");
    kd_test(est.flag == KD_TEMP_OK, "in range");
    kd_reference_curve_invert(c, 1.5, 0.0, &est);
    kd_test(est.T == 0 && est.flag == KD_TEMP_BELOW_RANGE,
            "value above the curve's maximum: lowest T, flagged below range");
    kd_reference_curve_invert(c, 1e-4, 0.0, &est);
    kd_test(est.T == 5.0 && est.flag == KD_TEMP_ABOVE_RANGE,
            "value below the curve's minimum: highest T, flagged above range");
    kd_reference_curve_free(c);

    /* A noisy table with one violation: (2, 0.80) and (3, 0.82) pool to 0.81. */
    kd_reference_point noisy[4] = {{1, 1.0, 0.01}, {2, 0.80, 0.01}, {3, 0.82, 0.01}, {4, 0.3, 0.01}};
    kd_reference_curve_new(&c, noisy, 4);
    double err;
    kd_test_abs(kd_reference_curve_value(c, 2.0, &err), 0.81, 1e-12, "isotonic fit pools 2 and 3");
    kd_test_abs(err, 0.01 / sqrt(2.0), 1e-12, "pooled error sigma/sqrt(2)");
    kd_reference_curve_invert(c, 0.81, 0.0, &est);
    /* flat stretch between x(2) = 2/3 and x(3) = 3/4: its middle x = 17/24, T = 17/7 */
    kd_test_abs(est.T, 17.0 / 7.0, 1e-12, "flat stretch: middle (in x = T/(1+T))");
    kd_reference_curve_invert(c, 0.9, 0.0, &est);
    kd_test_abs(kd_reference_curve_value(c, est.T, NULL), 0.9, 1e-12,
                "inverse then value round-trips on a sloped segment");
    kd_reference_curve_free(c);

    /* A noisy decreasing table: the fit must be monotone and keep the weighted
     * sum (isotonic regression preserves Σ w y within each pooled block). */
    {
        enum { Q = 60 };
        kd_reference_point q[Q];
        kd_rng r;
        kd_rng_init(&r, 3, 0);
        double wsum = 0.0;
        for (int i = 0; i < Q; i++) {
            double sd = 0.01 + 0.02 * kd_rng_uniform(&r);
            q[i] = (kd_reference_point){0.1 * i, 1.0 - 0.01 * i + 3 * sd * kd_rng_normal(&r), sd};
            wsum += q[i].value / (sd * sd);
        }
        kd_reference_curve_new(&c, q, Q);
        int mono = 1;
        double fsum = 0.0, prev = INFINITY;
        for (int i = 0; i < Q; i++) {
            double f = kd_reference_curve_value(c, q[i].T, NULL);
            mono &= f <= prev;
            prev = f;
            fsum += f / (q[i].err * q[i].err);
        }
        kd_test(mono, "isotonic fit of a noisy table is monotone");
        kd_test_rel(fsum, wsum, 1e-12, "isotonic fit keeps the weighted sum");
        kd_reference_curve_free(c);
    }

    /* T = inf as an end point */
    kd_reference_point withinf[3] = {{0, 1.0, 0.0}, {1, 0.9, 0.0}, {INFINITY, 0.1, 0.0}};
    kd_reference_curve_new(&c, withinf, 3);
    kd_reference_curve_invert(c, 0.5, 0.0, &est);
    /* x(1) = 1/2, x(inf) = 1: g linear in x from 0.9 to 0.1 → x = 3/4 → T = 3 */
    kd_test_abs(est.T, 3.0, 1e-12, "segment to T = inf interpolated in x = T/(1+T)");
    kd_reference_curve_invert(c, 0.05, 0.0, &est);
    kd_test(isinf(est.T) && est.flag == KD_TEMP_ABOVE_RANGE, "below the T = inf value: inf, flagged");
    kd_reference_curve_free(c);

    /* |m| = 1 exactly at T = 0 and T = 0.5 (both pure ground states on a small
     * lattice): any T in [0, 0.5] fits, and the error says so */
    kd_reference_point top[3] = {{0, 1.0, 0.0}, {0.5, 1.0, 0.0}, {2, 0.5, 0.0}};
    kd_reference_curve_new(&c, top, 3);
    kd_reference_curve_invert(c, 1.0, 0.0, &est);
    kd_test(fabs(est.T - 0.2) < 1e-12 && est.lo == 0 && est.hi == 0.5 && est.err == 0.25 &&
                est.flag == KD_TEMP_OK,
            "flat top: T = %g (middle of x in [0, 1/3]), interval [%g, %g], err %g", est.T, est.lo,
            est.hi, est.err);
    kd_reference_curve_free(c);

    kd_reference_point flat[2] = {{1, 0.5, 0.0}, {2, 0.5, 0.0}};
    kd_test(kd_reference_curve_new(&c, flat, 2) == KD_ERR_INVALID, "flat curve refused: %s",
            kd_last_error());
    kd_reference_point dup[2] = {{1, 0.5, 0.0}, {1, 0.4, 0.0}};
    kd_test(kd_reference_curve_new(&c, dup, 2) == KD_ERR_INVALID, "repeated T refused: %s",
            kd_last_error());
}

static kd_dataset *sample(const double *temps, size_t nt, size_t n, uint64_t seed)
{
    kd_sample_params p;
    kd_sample_params_init(&p);
    p.lattice = sq10;
    p.temps = temps;
    p.ntemps = nt;
    p.samples = n;
    p.algorithm = KD_ALGO_WOLFF;
    p.seed = seed;
    kd_dataset *d = NULL;
    if (kd_sample(&p, &d) != KD_OK)
        return NULL;
    return d;
}

/* Monte Carlo data at known temperatures: each estimator must return T within
 * 4σ. Its σ is the binning error of the observable (autocorrelations included)
 * combined with the reference curve's error, propagated through the slope.
 * With Gaussian errors a 4σ deviation has probability 6e-5 per check, so a
 * failure means a bias of the estimator or an underestimated error bar. */
static void test_monte_carlo(void)
{
    const double grid[] = {1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0, 3.25, 3.5, 3.75, 4.0};
    const double temps[] = {1.5, 2.0, 2.269185314213022, 2.5, 3.0};
    kd_dataset *ref = sample(grid, sizeof grid / sizeof grid[0], 1000, 11);
    kd_dataset *d = sample(temps, sizeof temps / sizeof temps[0], 1000, 12);
    if (!kd_test(ref && d, "Monte Carlo datasets: %s", kd_last_error())) {
        kd_dataset_free(ref);
        kd_dataset_free(d);
        return;
    }
    kd_thermometry *tm;
    if (!kd_test(kd_thermometry_new(&tm, &d->lattice, NULL, ref, -1) == KD_OK,
                 "thermometry with a reference: %s", kd_last_error()))
        return;
    kd_test(kd_thermometry_distance(tm) == 2, "G(r) at r = L/4 = 2 by default");
    const size_t N = 100;
    for (size_t t = 0; t < sizeof temps / sizeof temps[0]; t++) {
        size_t first = d->n, n = 0;
        for (size_t i = 0; i < d->n; i++)
            if (d->temperature[i] == temps[t]) {
                if (first == d->n)
                    first = i;
                n++;
            }
        kd_temp_estimate est;
        kd_thermometry_energy(&d->lattice, d->energy + first, n, &est);
        char what[128];
        snprintf(what, sizeof what, "T_e from %zu configurations at T = %.4f", n, temps[t]);
        kd_test_sigma(est.T, est.err, temps[t], 4.0, what);
        kd_test(est.err > 0 && est.err < 0.05, "T_e error bar %.4f is informative (< 0.05)", est.err);

        kd_thermometry_result r;
        kd_test(kd_thermometry_measure(tm, d->spins + first * N, n, &r, NULL) == KD_OK,
                "measure a set");
        kd_test(r.T_energy.T == est.T && r.T_energy.err == est.err,
                "measure: same energy estimate as from the stored energies");
        int on_grid = 0;
        for (size_t g = 0; g < sizeof grid / sizeof grid[0]; g++)
            on_grid |= grid[g] == temps[t];
        /* between grid points linear interpolation adds a bias ~ h² f''/8: only the
         * grid points are held to 4σ; T_c (off grid, largest curvature) to 0.1 */
        snprintf(what, sizeof what, "T_|m| at T = %.4f (|m| = %.4f)", temps[t], r.abs_m);
        if (on_grid)
            kd_test_sigma(r.T_abs_m.T, r.T_abs_m.err, temps[t], 4.0, what);
        else
            kd_test_abs(r.T_abs_m.T, temps[t], 0.1, what);
        snprintf(what, sizeof what, "T_G(r=2) at T = %.4f (G = %.4f)", temps[t], r.G);
        if (on_grid)
            kd_test_sigma(r.T_G.T, r.T_G.err, temps[t], 4.0, what);
        else
            kd_test_abs(r.T_G.T, temps[t], 0.1, what);
        kd_test(r.T_abs_m.flag == KD_TEMP_OK && r.T_G.flag == KD_TEMP_OK && !r.have_thermometer,
                "in range, no thermometer");
        if (kd_test_verbose())
            printf("  T = %.4f: T_e = %.4f ± %.4f, T_|m| = %.4f ± %.4f, T_G = %.4f ± %.4f\n",
                   temps[t], r.T_energy.T, r.T_energy.err, r.T_abs_m.T, r.T_abs_m.err, r.T_G.T,
                   r.T_G.err);
    }
    /* the same set as real values (the states of a mean-field flow) */
    {
        size_t n = 1000, first = 0;
        while (d->temperature[first] != 2.0)
            first++;
        float *v = malloc(n * N * sizeof(float));
        for (size_t i = 0; i < n * N; i++)
            v[i] = d->spins[first * N + i];
        kd_thermometry_result a, b;
        kd_thermometry_measure(tm, d->spins + first * N, n, &a, NULL);
        kd_test(kd_thermometry_measure_real(tm, v, n, &b, NULL) == KD_OK &&
                    fabs(a.e - b.e) < 1e-12 && fabs(a.G - b.G) < 1e-12 &&
                    fabs(a.T_energy.T - b.T_energy.T) < 1e-9 && a.T_abs_m.T == b.T_abs_m.T,
                "real-valued states ±1 measure like spins (T_e %.6f vs %.6f)", a.T_energy.T,
                b.T_energy.T);
        v[5] = NAN;
        kd_test(kd_thermometry_measure_real(tm, v, n, &b, NULL) == KD_ERR_INVALID,
                "NaN state refused: %s", kd_last_error());
        free(v);
    }
    /* out of the reference range: all spins up is colder than T = 1 for |m|... */
    int8_t *up = malloc(50 * N);
    memset(up, 1, 50 * N);
    kd_thermometry_result r;
    kd_thermometry_measure(tm, up, 50, &r, NULL);
    kd_test(r.T_abs_m.flag == KD_TEMP_BELOW_RANGE && r.T_abs_m.T == 1.0 && r.T_energy.T == 0 &&
                r.T_energy.flag == KD_TEMP_OK,
            "all spins up: |m| beyond the reference's cold end (T clamped to 1, flagged), "
            "energy exactly the ground state (T = 0)");
    /* ...and a Néel state has e = +2: hotter than T = inf */
    for (size_t k = 0; k < 50; k++)
        for (int y = 0; y < 10; y++)
            for (int x = 0; x < 10; x++)
                up[k * N + (size_t)(y * 10 + x)] = (int8_t)((x + y) % 2 ? 1 : -1);
    kd_thermometry_measure(tm, up, 50, &r, NULL);
    kd_test(r.T_energy.flag == KD_TEMP_ABOVE_RANGE && isinf(r.T_energy.T) &&
                r.T_abs_m.flag == KD_TEMP_ABOVE_RANGE && r.T_abs_m.T == 4.0,
            "Neel state: energy above range (T = inf), |m| = 0 beyond the hot end (T = 4)");
    free(up);
    kd_thermometry_free(tm);

    kd_lattice other = sq10;
    other.L = 12;
    kd_test(kd_thermometry_new(&tm, &other, NULL, ref, -1) == KD_ERR_INVALID &&
                strstr(kd_last_error(), "L = 10") && strstr(kd_last_error(), "L = 12"),
            "reference of another L refused: %s", kd_last_error());
    kd_test(kd_thermometry_new(&tm, &sq10, NULL, ref, 7) == KD_ERR_INVALID,
            "r beyond the reference's distances refused: %s", kd_last_error());
    other = sq10;
    other.boundary = KD_BOUNDARY_OPEN;
    kd_test(kd_thermometry_new(&tm, &other, NULL, NULL, -1) == KD_OK, "open lattice accepted");
    int8_t cfg[100];
    memset(cfg, 1, sizeof cfg);
    kd_thermometry_measure(tm, cfg, 1, &r, NULL);
    kd_test(r.T_energy.flag == KD_TEMP_UNAVAILABLE && r.T_abs_m.flag == KD_TEMP_UNAVAILABLE &&
                isnan(r.e_err),
            "open lattice: no exact energy, no reference; one configuration has no error bar");
    kd_thermometry_free(tm);
    kd_dataset_free(ref);
    kd_dataset_free(d);
}

int main(void)
{
    test_energy_inverse();
    test_energy_range();
    test_reference_curves();
    test_monte_carlo();
    return kd_test_done();
}
