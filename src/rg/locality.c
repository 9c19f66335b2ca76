/*
 * Locality of receptive fields: radius of gyration of |f| on a torus with
 * circular-mean centres and minimum-image distances (see kadanoff/rg.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kadanoff/rg.h"

#define TWO_PI 6.283185307179586476925286766559005768
/* A resultant below this fraction of Σw means no preferred position. */
#define NO_CENTRE 1e-9

static kd_status check_dims(int width, int height, const char *what)
{
    if (width < 1 || height < 1 || (double)width * (double)height > 1e9)
        KD_FAIL(KD_ERR_INVALID, "%s: torus %d × %d, expected positive sizes", what, width, height);
    return KD_OK;
}

/* Circular mean position along an axis of length L from the marginal weights
 * m[0..L-1]; 0 when the resultant vanishes. */
static double circular_centre(const double *m, int L, double total)
{
    if (L == 1)
        return 0.0;
    double c = 0, s = 0;
    for (int x = 0; x < L; x++) {
        double th = TWO_PI * x / L;
        c += m[x] * cos(th);
        s += m[x] * sin(th);
    }
    if (hypot(c, s) <= NO_CENTRE * total)
        return 0.0;
    double a = atan2(s, c);
    if (a < 0)
        a += TWO_PI;
    double pos = a * L / TWO_PI;
    return pos >= L ? pos - L : pos;
}

/* Σ_x m[x] d(x, c)² with minimum-image d. */
static double axis_moment(const double *m, int L, double c)
{
    double sum = 0;
    for (int x = 0; x < L; x++) {
        double d = x - c;
        d -= L * nearbyint(d / L);
        sum += m[x] * d * d;
    }
    return sum;
}

kd_status kd_rg_locality_radius(int width, int height, const float *f, size_t stride,
                                double *rg, double *cx, double *cy)
{
    KD_CHECK(check_dims(width, height, "radius of gyration"));
    if (!f || !rg || stride < 1)
        KD_FAIL(KD_ERR_INVALID, "radius of gyration: field, stride >= 1 and output are required");
    double *mx = calloc((size_t)width + (size_t)height, sizeof *mx);
    if (!mx)
        KD_FAIL(KD_ERR_NOMEM, "radius of gyration: out of memory");
    double *my = mx + width, total = 0;
    /* R_g² separates into the two axes' second moments of the marginals */
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            double w = fabs((double)f[((size_t)y * (size_t)width + (size_t)x) * stride]);
            if (!isfinite(w)) {
                free(mx);
                KD_FAIL(KD_ERR_NUMERIC, "radius of gyration: field value at (%d, %d) is %g, "
                                        "expected a finite number",
                        x, y, w);
            }
            mx[x] += w;
            my[y] += w;
            total += w;
        }
    double c_x = NAN, c_y = NAN;
    if (total > 0) {
        c_x = circular_centre(mx, width, total);
        c_y = circular_centre(my, height, total);
        *rg = sqrt((axis_moment(mx, width, c_x) + axis_moment(my, height, c_y)) / total);
    } else {
        *rg = NAN;
    }
    if (cx)
        *cx = c_x;
    if (cy)
        *cy = c_y;
    free(mx);
    return KD_OK;
}

kd_status kd_rg_locality_layer(int width, int height, int nunits, const float *fields,
                               double *rg)
{
    KD_CHECK(check_dims(width, height, "radii of gyration"));
    if (nunits < 1 || !fields || !rg)
        KD_FAIL(KD_ERR_INVALID, "radii of gyration: %d units, expected >= 1, with fields and "
                                "output",
                nunits);
    for (int j = 0; j < nunits; j++)
        KD_CHECK(kd_rg_locality_radius(width, height, fields + j, (size_t)nunits, &rg[j], NULL,
                                       NULL));
    return KD_OK;
}

/* Mean squared minimum-image offset of a ring of L sites from a site. */
static double uniform_axis(int L)
{
    double l2 = (double)L * (double)L;
    return L % 2 ? (l2 - 1.0) / 12.0 : (l2 + 2.0) / 12.0;
}

/* Mean squared offset of a contiguous block of extent b from its midpoint. */
static double block_axis(int L, int b)
{
    if (b >= L)
        return uniform_axis(L);
    return ((double)b * (double)b - 1.0) / 12.0;
}

double kd_rg_locality_uniform(int width, int height)
{
    if (width < 1 || height < 1)
        return NAN;
    return sqrt(uniform_axis(width) + uniform_axis(height));
}

double kd_rg_locality_block(int width, int height, int b)
{
    if (width < 1 || height < 1 || b < 1)
        return NAN;
    return sqrt(block_axis(width, b) + block_axis(height, b));
}

double kd_rg_locality_block_size(int width, int height, int nunits)
{
    if (width < 1 || height < 1 || nunits < 1)
        return NAN;
    return sqrt((double)width * (double)height / nunits);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double quantile(const double *sorted, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    if (i + 1 >= n)
        return sorted[n - 1];
    double frac = pos - (double)i;
    return sorted[i] + frac * (sorted[i + 1] - sorted[i]);
}

kd_status kd_rg_summarize(const double *x, size_t n, kd_rg_summary *out)
{
    if ((!x && n) || !out)
        KD_FAIL(KD_ERR_INVALID, "summary: values and output are required");
    double *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        KD_FAIL(KD_ERR_NOMEM, "summary: out of memory for %zu values", n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i]))
            v[k++] = x[i];
    memset(out, 0, sizeof *out);
    out->n_used = k;
    if (k == 0) {
        out->mean = out->sd = out->min = out->q25 = out->median = out->q75 = out->max = NAN;
        free(v);
        return KD_OK;
    }
    qsort(v, k, sizeof *v, cmp_double);
    double mean = 0;
    for (size_t i = 0; i < k; i++)
        mean += v[i];
    mean /= (double)k;
    double ss = 0;
    for (size_t i = 0; i < k; i++)
        ss += (v[i] - mean) * (v[i] - mean);
    out->mean = mean;
    out->sd = k > 1 ? sqrt(ss / (double)(k - 1)) : 0.0;
    out->min = v[0];
    out->max = v[k - 1];
    out->q25 = quantile(v, k, 0.25);
    out->median = quantile(v, k, 0.5);
    out->q75 = quantile(v, k, 0.75);
    free(v);
    return KD_OK;
}
