/* Physical temperature estimators (energy against the exact e(T), |m| and
 * G(r) against monotone reference curves) and the readouts of a set of
 * configurations; see kadanoff/thermometry.h. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kadanoff/exact.h"
#include "kadanoff/observables.h"
#include "kadanoff/thermometry.h"

#define MAX_BINS 20
/* Relative tolerance for "exactly at an end point" of a range. */
#define END_TOL 1e-12

const char *kd_temp_flag_name(kd_temp_flag flag)
{
    static const char *const names[] = {"ok", "below range", "above range", "unavailable"};
    return (unsigned)flag < sizeof names / sizeof names[0] ? names[flag] : "unknown";
}

static void estimate_unavailable(kd_temp_estimate *e)
{
    *e = (kd_temp_estimate){NAN, NAN, NAN, NAN, NAN, NAN, KD_TEMP_UNAVAILABLE};
}

/* Half the width of [lo, hi]; 0 when both ends coincide (also both infinite). */
static double half_width(double lo, double hi) { return lo == hi ? 0.0 : 0.5 * (hi - lo); }

/* Mean and binning error of a series (error NaN for n = 1). */
static kd_status series_mean(const double *x, size_t n, double *mean, double *err)
{
    if (n == 1) {
        *mean = x[0];
        *err = NAN;
        return KD_OK;
    }
    return kd_binning(x, n, n < MAX_BINS ? n : MAX_BINS, mean, err);
}

/* ---- energy ------------------------------------------------------------------------ */

int kd_thermometry_has_exact_energy(const kd_lattice *lat)
{
    if (!lat || kd_lattice_validate(lat) != KD_OK) {
        kd_clear_error();
        return 0;
    }
    if (lat->kind == KD_LATTICE_CHAIN)
        return lat->J != 0 || lat->field != 0;
    return lat->boundary == KD_BOUNDARY_PERIODIC && lat->field == 0 &&
           (lat->J > 0 || (lat->J < 0 && lat->L % 2 == 0));
}

kd_status kd_thermometry_exact_energy(const kd_lattice *lat, double T, double *e, double *c)
{
    if (!kd_thermometry_has_exact_energy(lat))
        KD_FAIL(KD_ERR_UNSUPPORTED,
                "no exact energy for a %s lattice of L = %d with %s boundaries, J = %g, h = %g "
                "(kadanoff has it for periodic square lattices in zero field and for chains)",
                lat ? kd_lattice_kind_name(lat->kind) : "?", lat ? lat->L : 0,
                lat ? kd_boundary_name(lat->boundary) : "?", lat ? lat->J : 0.0,
                lat ? lat->field : 0.0);
    kd_thermo th;
    if (lat->kind == KD_LATTICE_SQUARE)
        KD_CHECK(kd_kaufman_torus(lat->L, lat->J, T, &th));
    else
        KD_CHECK(kd_chain_exact(lat->L, lat->boundary, lat->J, lat->field, T, &th));
    if (e)
        *e = th.e;
    if (c)
        *c = th.c;
    return KD_OK;
}

/* Solve e(T) = y for y strictly inside (e(0), e(inf)). */
static kd_status solve_energy(const kd_lattice *lat, double y, double *out)
{
    double T = 1.0, e, c, lo = 0.0, hi = INFINITY;
    KD_CHECK(kd_thermometry_exact_energy(lat, T, &e, &c));
    /* Bracket by doubling / halving: e(T) is increasing, from e(0) < y to e(inf) > y. */
    for (int i = 0; i < 2200 && e < y; i++) {
        lo = T;
        T *= 2.0;
        KD_CHECK(kd_thermometry_exact_energy(lat, T, &e, &c));
    }
    if (e < y)
        KD_FAIL(KD_ERR_NUMERIC, "energy inversion: e(T) stays below %.17g up to T = %g", y, T);
    if (e == y) {
        *out = T;
        return KD_OK;
    }
    hi = T;
    if (lo == 0.0) {
        for (int i = 0; i < 2200 && e > y; i++) {
            hi = T;
            T *= 0.5;
            KD_CHECK(kd_thermometry_exact_energy(lat, T, &e, &c));
        }
        if (e > y)
            KD_FAIL(KD_ERR_NUMERIC, "energy inversion: e(T) stays above %.17g down to T = %g", y,
                    T);
        if (e == y) {
            *out = T;
            return KD_OK;
        }
        lo = T;
    }
    /* Newton on T with the exact slope c = de/dT, kept inside [lo, hi];
     * bisection (geometric while the bracket spans a factor > 4) when Newton
     * would leave it or c vanishes numerically (deep in the ordered phase). */
    T = sqrt(lo * hi);
    for (int it = 0; it < 400; it++) {
        KD_CHECK(kd_thermometry_exact_energy(lat, T, &e, &c));
        if (e == y)
            break;
        if (e < y)
            lo = T;
        else
            hi = T;
        double next = c > 0 ? T - (e - y) / c : NAN;
        if (!(next > lo && next < hi))
            next = hi > 4.0 * lo ? sqrt(lo * hi) : 0.5 * (lo + hi);
        if (fabs(next - T) <= 2.0 * DBL_EPSILON * T || hi - lo <= 4.0 * DBL_EPSILON * hi) {
            T = next;
            break;
        }
        T = next;
    }
    *out = T;
    return KD_OK;
}

kd_status kd_thermometry_energy_inverse(const kd_lattice *lat, double e, double *T,
                                        kd_temp_flag *flag)
{
    if (!T)
        KD_FAIL(KD_ERR_INVALID, "kd_thermometry_energy_inverse: no output given");
    if (!isfinite(e))
        KD_FAIL(KD_ERR_INVALID, "energy inversion: energy %g is not finite", e);
    double e0, einf;
    KD_CHECK(kd_thermometry_exact_energy(lat, 0.0, &e0, NULL));
    KD_CHECK(kd_thermometry_exact_energy(lat, INFINITY, &einf, NULL));
    kd_temp_flag f = KD_TEMP_OK;
    if (e <= e0) {
        *T = 0.0;
        if (e < e0 - END_TOL * fmax(1.0, fabs(e0)))
            f = KD_TEMP_BELOW_RANGE;
    } else if (e >= einf) {
        *T = INFINITY;
        if (e > einf + END_TOL * fmax(1.0, fabs(e0)))
            f = KD_TEMP_ABOVE_RANGE;
    } else {
        KD_CHECK(solve_energy(lat, e, T));
    }
    if (flag)
        *flag = f;
    return KD_OK;
}

kd_status kd_thermometry_energy_estimate(const kd_lattice *lat, double e_mean, double e_err,
                                         kd_temp_estimate *out)
{
    if (!out)
        KD_FAIL(KD_ERR_INVALID, "kd_thermometry_energy_estimate: no output given");
    if (!(e_err >= 0) && !isnan(e_err))
        KD_FAIL(KD_ERR_INVALID, "energy estimate: error %g, expected >= 0 or NaN", e_err);
    estimate_unavailable(out);
    KD_CHECK(kd_thermometry_energy_inverse(lat, e_mean, &out->T, &out->flag));
    out->value = e_mean;
    out->value_err = e_err;
    if (isnan(e_err))
        return KD_OK;
    double a, b;
    KD_CHECK(kd_thermometry_energy_inverse(lat, e_mean - e_err, &a, NULL));
    KD_CHECK(kd_thermometry_energy_inverse(lat, e_mean + e_err, &b, NULL));
    out->lo = a;
    out->hi = b;
    double c = 0.0;
    if (out->T > 0 && isfinite(out->T))
        KD_CHECK(kd_thermometry_exact_energy(lat, out->T, NULL, &c));
    /* σ_T = σ_e / (de/dT) with de/dT = c exactly; the interval where c is 0 */
    out->err = c > 0 && out->flag == KD_TEMP_OK ? e_err / c : half_width(a, b);
    if (e_err == 0)
        out->err = 0.0;
    return KD_OK;
}

kd_status kd_thermometry_energy(const kd_lattice *lat, const double *e, size_t n,
                                kd_temp_estimate *out)
{
    if (!e || n < 1)
        KD_FAIL(KD_ERR_INVALID, "energy estimate: no energies given");
    double mean, err;
    KD_CHECK(series_mean(e, n, &mean, &err));
    return kd_thermometry_energy_estimate(lat, mean, err, out);
}

/* ---- reference curves ---------------------------------------------------------------- */

struct kd_reference_curve {
    size_t n;
    double sign;  /* +1: value increases with T, -1: decreases */
    double *T;    /* n, increasing */
    double *x;    /* T/(1+T), 1 for inf */
    double *g;    /* sign · monotone fit: non-decreasing */
    double *err;  /* error of the fit at each point */
    double *raw;  /* the values as given */
};

static double to_x(double T) { return isinf(T) ? 1.0 : T / (1.0 + T); }
static double to_T(double x) { return x >= 1.0 ? INFINITY : x / (1.0 - x); }

void kd_reference_curve_free(kd_reference_curve *c)
{
    if (!c)
        return;
    free(c->T);
    free(c->x);
    free(c->g);
    free(c->err);
    free(c->raw);
    free(c);
}

static int cmp_point(const void *a, const void *b)
{
    double x = ((const kd_reference_point *)a)->T, y = ((const kd_reference_point *)b)->T;
    return (x > y) - (x < y);
}

kd_status kd_reference_curve_new(kd_reference_curve **out, const kd_reference_point *pts,
                                 size_t n)
{
    if (!out)
        KD_FAIL(KD_ERR_INVALID, "kd_reference_curve_new: no output pointer");
    *out = NULL;
    if (!pts || n < 2)
        KD_FAIL(KD_ERR_INVALID, "reference curve: %zu points, expected at least 2", pts ? n : 0);
    for (size_t i = 0; i < n; i++)
        if (isnan(pts[i].T) || pts[i].T < 0 || !isfinite(pts[i].value) ||
            !(pts[i].err >= 0) || !isfinite(pts[i].err))
            KD_FAIL(KD_ERR_INVALID, "reference curve: point %zu is (T = %g, value = %g, err = %g), "
                                    "expected T >= 0 or inf, a finite value and a finite error "
                                    ">= 0", i, pts[i].T, pts[i].value, pts[i].err);
    kd_reference_curve *c = calloc(1, sizeof *c);
    kd_reference_point *p = malloc(n * sizeof *p);
    double *w = malloc(n * sizeof(double));
    size_t *start = malloc((n + 1) * sizeof(size_t));
    if (c) {
        c->T = malloc(n * sizeof(double));
        c->x = malloc(n * sizeof(double));
        c->g = malloc(n * sizeof(double));
        c->err = malloc(n * sizeof(double));
        c->raw = malloc(n * sizeof(double));
    }
    if (!c || !p || !w || !start || !c->T || !c->x || !c->g || !c->err || !c->raw) {
        kd_reference_curve_free(c);
        free(p);
        free(w);
        free(start);
        KD_FAIL(KD_ERR_NOMEM, "reference curve: out of memory for %zu points", n);
    }
    memcpy(p, pts, n * sizeof *p);
    qsort(p, n, sizeof *p, cmp_point);
    kd_status s = KD_OK;
    for (size_t i = 1; i < n && s == KD_OK; i++)
        if (p[i].T == p[i - 1].T)
            s = kd_set_error(KD_ERR_INVALID, "reference curve: temperature %g appears twice",
                             p[i].T);
    if (s == KD_OK && p[n - 1].value == p[0].value)
        s = kd_set_error(KD_ERR_INVALID, "reference curve: the value is %g at both ends (T = %g "
                                         "and T = %g): no direction to invert",
                         p[0].value, p[0].T, p[n - 1].T);
    if (s != KD_OK) {
        kd_reference_curve_free(c);
        free(p);
        free(w);
        free(start);
        return s;
    }
    c->n = n;
    c->sign = p[n - 1].value > p[0].value ? 1.0 : -1.0;
    /* Weighted pool-adjacent-violators on g = sign·value (non-decreasing fit):
     * blocks [start[b], start[b+1]) with their weighted means; a new point that
     * falls below the last block merges with it until the means are ordered.
     * Weights 1/err², with err floored at 1e-15 so exact points dominate but
     * never divide by zero. */
    size_t nb = 0;
    double *bmean = c->g, *bw = c->err; /* reuse as block storage, expanded below */
    for (size_t i = 0; i < n; i++) {
        double e = fmax(p[i].err, 1e-15);
        w[i] = 1.0 / (e * e);
        start[nb] = i;
        bmean[nb] = c->sign * p[i].value;
        bw[nb] = w[i];
        nb++;
        while (nb >= 2 && bmean[nb - 2] > bmean[nb - 1]) {
            double W = bw[nb - 2] + bw[nb - 1];
            bmean[nb - 2] = (bw[nb - 2] * bmean[nb - 2] + bw[nb - 1] * bmean[nb - 1]) / W;
            bw[nb - 2] = W;
            nb--;
        }
    }
    start[nb] = n;
    /* Expand from the last block backwards (block b starts at or after index b). */
    for (size_t b = nb; b-- > 0;) {
        double m = bmean[b], e = 1.0 / sqrt(bw[b]);
        for (size_t i = start[b + 1]; i-- > start[b];) {
            c->g[i] = m;
            c->err[i] = start[b + 1] - start[b] > 1 ? e : p[i].err;
        }
    }
    for (size_t i = 0; i < n; i++) {
        c->T[i] = p[i].T;
        c->x[i] = to_x(p[i].T);
        c->raw[i] = p[i].value;
    }
    free(p);
    free(w);
    free(start);
    *out = c;
    return KD_OK;
}

void kd_reference_curve_range(const kd_reference_curve *c, double *T_min, double *T_max,
                              size_t *npoints)
{
    if (T_min)
        *T_min = c->T[0];
    if (T_max)
        *T_max = c->T[c->n - 1];
    if (npoints)
        *npoints = c->n;
}

/* Segment i with x_i <= x <= x_{i+1} (the last one at the top end). */
static size_t segment_of(const kd_reference_curve *c, double x)
{
    size_t i = 0;
    while (i + 2 < c->n && x >= c->x[i + 1])
        i++;
    return i;
}

/* g and the fit error at x in [x_0, x_{n-1}] (linear interpolation). */
static double g_at(const kd_reference_curve *c, double x, double *err)
{
    if (x <= c->x[0]) {
        if (err)
            *err = c->err[0];
        return c->g[0];
    }
    if (x >= c->x[c->n - 1]) {
        if (err)
            *err = c->err[c->n - 1];
        return c->g[c->n - 1];
    }
    size_t i = segment_of(c, x);
    double u = (x - c->x[i]) / (c->x[i + 1] - c->x[i]);
    if (err)
        *err = (1 - u) * c->err[i] + u * c->err[i + 1];
    return (1 - u) * c->g[i] + u * c->g[i + 1];
}

double kd_reference_curve_value(const kd_reference_curve *c, double T, double *err)
{
    if (!c || isnan(T))
        return NAN;
    return c->sign * g_at(c, to_x(T < 0 ? 0 : T), err);
}

/* Smallest x with g(x) >= t, and largest x with g(x) <= t, for t in [g_0, g_{n-1}]. */
static double x_first_at_least(const kd_reference_curve *c, double t)
{
    for (size_t i = 0; i + 1 < c->n; i++) {
        if (c->g[i] >= t)
            return c->x[i];
        if (c->g[i + 1] >= t)
            return c->x[i] + (t - c->g[i]) / (c->g[i + 1] - c->g[i]) * (c->x[i + 1] - c->x[i]);
    }
    return c->x[c->n - 1];
}

static double x_last_at_most(const kd_reference_curve *c, double t)
{
    for (size_t i = c->n - 1; i > 0; i--) {
        if (c->g[i] <= t)
            return c->x[i];
        if (c->g[i - 1] <= t)
            return c->x[i - 1] + (t - c->g[i - 1]) / (c->g[i] - c->g[i - 1]) * (c->x[i] - c->x[i - 1]);
    }
    return c->x[0];
}

/* T at x: the reference temperature itself at a node (no rounding through
 * x/(1-x), so clamped estimates are exactly the end temperatures). */
static double T_at(const kd_reference_curve *c, double x)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->x[i] == x)
            return c->T[i];
    return to_T(x);
}

/* x where g = t, clamped to the range; the middle of a flat stretch. */
static double x_of(const kd_reference_curve *c, double t)
{
    if (t <= c->g[0])
        return t < c->g[0] ? c->x[0] : 0.5 * (c->x[0] + x_last_at_most(c, t));
    if (t >= c->g[c->n - 1])
        return t > c->g[c->n - 1] ? c->x[c->n - 1]
                                  : 0.5 * (x_first_at_least(c, t) + c->x[c->n - 1]);
    return 0.5 * (x_first_at_least(c, t) + x_last_at_most(c, t));
}

kd_status kd_reference_curve_invert(const kd_reference_curve *c, double value, double value_err,
                                    kd_temp_estimate *out)
{
    if (!c || !out)
        KD_FAIL(KD_ERR_INVALID, "kd_reference_curve_invert: no curve or no output");
    if (!isfinite(value))
        KD_FAIL(KD_ERR_INVALID, "reference curve: value %g is not finite", value);
    if (!(value_err >= 0) && !isnan(value_err))
        KD_FAIL(KD_ERR_INVALID, "reference curve: error %g, expected >= 0 or NaN", value_err);
    estimate_unavailable(out);
    out->value = value;
    out->value_err = value_err;
    const double t = c->sign * value, g0 = c->g[0], g1 = c->g[c->n - 1];
    const double tol = END_TOL * fmax(1.0, fmax(fabs(g0), fabs(g1)));
    out->flag = t < g0 - tol ? KD_TEMP_BELOW_RANGE : t > g1 + tol ? KD_TEMP_ABOVE_RANGE : KD_TEMP_OK;
    const double xh = x_of(c, t);
    out->T = T_at(c, xh);
    double ref_err;
    g_at(c, xh, &ref_err);
    const double sigma = isnan(value_err) ? ref_err : hypot(value_err, ref_err);
    /* lo/hi: the inverse at t ∓ σ (in the increasing variable g, so lo <= hi),
     * widened to the whole stretch where the curve equals t if it is flat there
     * (e.g. |m| = 1 at both T = 0 and T = 0.5: any T in between fits) */
    out->lo = T_at(c, x_of(c, t - sigma));
    out->hi = T_at(c, x_of(c, t + sigma));
    int flat = 0;
    if (out->flag == KD_TEMP_OK) {
        const double xa = t <= g0 ? c->x[0] : x_first_at_least(c, t);
        const double xb = t >= g1 ? c->x[c->n - 1] : x_last_at_most(c, t);
        flat = xa < xb;
        out->lo = fmin(out->lo, T_at(c, xa));
        out->hi = fmax(out->hi, T_at(c, xb));
    }
    /* slope dg/dT of the segment at x̂ */
    size_t i = segment_of(c, xh);
    double slope;
    if (isfinite(c->T[i + 1]))
        slope = (c->g[i + 1] - c->g[i]) / (c->T[i + 1] - c->T[i]);
    else /* dg/dT = dg/dx · dx/dT, dx/dT = 1/(1+T)² */
        slope = isfinite(out->T) ? (c->g[i + 1] - c->g[i]) / (c->x[i + 1] - c->x[i]) /
                                       ((1.0 + out->T) * (1.0 + out->T))
                                 : 0.0;
    if (out->flag == KD_TEMP_OK && slope > 0 && isfinite(out->T))
        out->err = flat ? half_width(out->lo, out->hi) : sigma / slope;
    else
        out->err = half_width(out->lo, out->hi);
    return KD_OK;
}

kd_status kd_reference_curve_from_dataset(kd_reference_curve **out, const kd_dataset *d,
                                          kd_observable obs, int r)
{
    if (!out || !d)
        KD_FAIL(KD_ERR_INVALID, "kd_reference_curve_from_dataset: no dataset or no output");
    *out = NULL;
    if (d->ntemps < 2)
        KD_FAIL(KD_ERR_INVALID, "reference dataset has %zu summary rows, expected at least 2 "
                                "temperatures (a /summary as written by kadanoff sample)",
                d->ntemps);
    if (obs == KD_OBSERVABLE_CORRELATION && (r < 0 || r >= d->nr))
        KD_FAIL(KD_ERR_INVALID, "reference dataset has G(r) for r = 0..%d, asked for r = %d",
                d->nr - 1, r);
    if (obs != KD_OBSERVABLE_ABS_M && obs != KD_OBSERVABLE_CORRELATION)
        KD_FAIL(KD_ERR_INVALID, "reference curve: unknown observable %d", (int)obs);
    kd_reference_point *p = malloc(d->ntemps * sizeof *p);
    if (!p)
        KD_FAIL(KD_ERR_NOMEM, "reference curve: out of memory");
    for (size_t t = 0; t < d->ntemps; t++) {
        p[t].T = d->summary[t].T;
        if (obs == KD_OBSERVABLE_ABS_M) {
            p[t].value = d->summary[t].abs_m;
            p[t].err = d->summary[t].abs_m_err;
        } else {
            p[t].value = d->correlation[t * (size_t)d->nr + (size_t)r];
            p[t].err = d->correlation_err[t * (size_t)d->nr + (size_t)r];
        }
    }
    kd_status s = kd_reference_curve_new(out, p, d->ntemps);
    free(p);
    return s;
}

/* ---- all readouts of a set ------------------------------------------------------------ */

struct kd_thermometry {
    kd_lattice lattice;
    const kd_thermometer *thermometer;
    int has_energy;
    kd_reference_curve *abs_m, *G;
    int r;
};

void kd_thermometry_free(kd_thermometry *t)
{
    if (!t)
        return;
    kd_reference_curve_free(t->abs_m);
    kd_reference_curve_free(t->G);
    free(t);
}

static int same_model(const kd_lattice *a, const kd_lattice *b)
{
    return a->boundary == b->boundary && a->J == b->J && a->field == b->field;
}

kd_status kd_thermometry_new(kd_thermometry **out, const kd_lattice *lat,
                             const kd_thermometer *thermometer, const kd_dataset *reference, int r)
{
    if (!out || !lat)
        KD_FAIL(KD_ERR_INVALID, "kd_thermometry_new: no output or no lattice");
    *out = NULL;
    KD_CHECK(kd_lattice_validate(lat));
    if (thermometer) {
        kd_thermometer_info info;
        kd_thermometer_describe(thermometer, &info);
        if (info.lattice.kind != lat->kind || info.lattice.L != lat->L)
            KD_FAIL(KD_ERR_INVALID,
                    "the thermometer was trained on a %s lattice of L = %d (%zu inputs), the "
                    "configurations are of a %s lattice of L = %d (%zu spins)",
                    kd_lattice_kind_name(info.lattice.kind), info.lattice.L, info.inputs,
                    kd_lattice_kind_name(lat->kind), lat->L, kd_lattice_size(lat));
        if (!same_model(&info.lattice, lat))
            kd_log(KD_LOG_WARN,
                   "the thermometer was trained on %s boundaries, J = %g, h = %g; the "
                   "configurations have %s boundaries, J = %g, h = %g",
                   kd_boundary_name(info.lattice.boundary), info.lattice.J, info.lattice.field,
                   kd_boundary_name(lat->boundary), lat->J, lat->field);
    }
    const int L = lat->L;
    int rr = r >= 0 ? r : (L / 4 >= 1 ? L / 4 : 1);
    if (reference) {
        const kd_lattice *rl = &reference->lattice;
        if (rl->kind != lat->kind || rl->L != L || !same_model(rl, lat))
            KD_FAIL(KD_ERR_INVALID,
                    "the reference dataset is of a %s lattice of L = %d (%s, J = %g, h = %g), "
                    "the configurations of a %s lattice of L = %d (%s, J = %g, h = %g): a "
                    "reference curve must come from the same lattice",
                    kd_lattice_kind_name(rl->kind), rl->L, kd_boundary_name(rl->boundary), rl->J,
                    rl->field, kd_lattice_kind_name(lat->kind), L, kd_boundary_name(lat->boundary),
                    lat->J, lat->field);
        if (rr < 1 || rr >= reference->nr)
            KD_FAIL(KD_ERR_INVALID, "G(r) distance r = %d, expected 1..%d (the reference "
                                    "dataset's distances)", rr, reference->nr - 1);
    } else if (r >= 0 && (r < 1 || r > L / 2)) {
        KD_FAIL(KD_ERR_INVALID, "G(r) distance r = %d, expected 1..%d", r, L / 2);
    }
    kd_thermometry *t = calloc(1, sizeof *t);
    if (!t)
        KD_FAIL(KD_ERR_NOMEM, "out of memory for a thermometry object");
    t->lattice = *lat;
    t->thermometer = thermometer;
    t->has_energy = kd_thermometry_has_exact_energy(lat);
    t->r = rr;
    if (reference) {
        kd_status s = kd_reference_curve_from_dataset(&t->abs_m, reference, KD_OBSERVABLE_ABS_M, 0);
        if (s == KD_OK)
            s = kd_reference_curve_from_dataset(&t->G, reference, KD_OBSERVABLE_CORRELATION, rr);
        if (s != KD_OK) {
            kd_thermometry_free(t);
            return s;
        }
    }
    *out = t;
    return KD_OK;
}

int kd_thermometry_distance(const kd_thermometry *t) { return t ? t->r : -1; }

/* Both kinds of state: spins ±1 (spins) or real values (values). */
static kd_status measure(const kd_thermometry *t, const int8_t *spins, const float *values,
                         size_t n, kd_thermometry_result *out, double *avg_prob)
{
    if (!t || (!spins && !values) || !out)
        KD_FAIL(KD_ERR_INVALID, "kd_thermometry_measure: no object, configurations or output");
    if (n < 1)
        KD_FAIL(KD_ERR_INVALID, "thermometry: an empty set of configurations has no temperature");
    const kd_lattice *lat = &t->lattice;
    const size_t N = kd_lattice_size(lat);
    const int nr = kd_ising_correlation_len(lat);
    double *e = malloc(3 * n * sizeof(double)), *G = malloc((size_t)nr * sizeof(double));
    if (!e || !G) {
        free(e);
        free(G);
        KD_FAIL(KD_ERR_NOMEM, "thermometry: out of memory for %zu configurations", n);
    }
    double *am = e + n, *g = e + 2 * n;
    for (size_t i = 0; i < n; i++) {
        if (spins) {
            const int8_t *s = spins + i * N;
            for (size_t j = 0; j < N; j++)
                if (s[j] != 1 && s[j] != -1) {
                    free(e);
                    free(G);
                    KD_FAIL(KD_ERR_INVALID, "thermometry: spin %d at site %zu of configuration "
                                            "%zu, expected -1 or +1", s[j], j, i);
                }
            e[i] = kd_ising_energy(lat, s);
            am[i] = fabs(kd_ising_magnetization(lat, s));
            kd_ising_correlation(lat, s, G);
        } else {
            const float *v = values + i * N;
            for (size_t j = 0; j < N; j++)
                if (!isfinite(v[j])) {
                    free(e);
                    free(G);
                    KD_FAIL(KD_ERR_INVALID, "thermometry: value %g at site %zu of configuration "
                                            "%zu, expected a finite number", (double)v[j], j, i);
                }
            e[i] = kd_ising_energy_real(lat, v);
            am[i] = fabs(kd_ising_magnetization_real(lat, v));
            kd_ising_correlation_real(lat, v, G);
        }
        g[i] = t->r < nr ? G[t->r] : NAN;
    }
    free(G);
    memset(out, 0, sizeof *out);
    out->n = n;
    out->r = t->r;
    kd_status s = series_mean(e, n, &out->e, &out->e_err);
    if (s == KD_OK)
        s = series_mean(am, n, &out->abs_m, &out->abs_m_err);
    if (s == KD_OK)
        s = series_mean(g, n, &out->G, &out->G_err);
    free(e);
    KD_CHECK(s);

    estimate_unavailable(&out->T_energy);
    estimate_unavailable(&out->T_abs_m);
    estimate_unavailable(&out->T_G);
    if (t->has_energy)
        KD_CHECK(kd_thermometry_energy_estimate(lat, out->e, out->e_err, &out->T_energy));
    if (t->abs_m)
        KD_CHECK(kd_reference_curve_invert(t->abs_m, out->abs_m, out->abs_m_err, &out->T_abs_m));
    if (t->G)
        KD_CHECK(kd_reference_curve_invert(t->G, out->G, out->G_err, &out->T_G));
    if (t->thermometer) {
        kd_thermometer_data d = {spins, NULL, NULL, n, spins ? NULL : values};
        KD_CHECK(kd_thermometer_readout_set(t->thermometer, lat, &d, &out->thermometer, avg_prob,
                                            NULL));
        out->have_thermometer = 1;
    }
    return KD_OK;
}

kd_status kd_thermometry_measure(const kd_thermometry *t, const int8_t *spins, size_t n,
                                 kd_thermometry_result *out, double *avg_prob)
{
    if (!spins)
        KD_FAIL(KD_ERR_INVALID, "kd_thermometry_measure: no configurations");
    return measure(t, spins, NULL, n, out, avg_prob);
}

kd_status kd_thermometry_measure_real(const kd_thermometry *t, const float *values, size_t n,
                                      kd_thermometry_result *out, double *avg_prob)
{
    if (!values)
        KD_FAIL(KD_ERR_INVALID, "kd_thermometry_measure_real: no states");
    return measure(t, NULL, values, n, out, avg_prob);
}
