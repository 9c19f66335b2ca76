/* Parser for temperature lists: "a:b:step", "1,2,inf", or mixes of both. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kadanoff/ising.h"

/* Parse one number or "inf" occupying exactly [p, end). */
static int parse_value(const char *p, const char *end, double *v)
{
    char buf[64];
    size_t len = (size_t)(end - p);
    if (len == 0 || len >= sizeof buf)
        return 0;
    memcpy(buf, p, len);
    buf[len] = '\0';
    if (!strcmp(buf, "inf") || !strcmp(buf, "Inf") || !strcmp(buf, "INF")) {
        *v = INFINITY;
        return 1;
    }
    char *stop;
    errno = 0;
    double x = strtod(buf, &stop);
    if (*stop || errno || !isfinite(x))
        return 0;
    *v = x;
    return 1;
}

static kd_status push(double **vals, size_t *n, size_t *cap, double v)
{
    if (*n >= KD_MAX_TEMPERATURES)
        KD_FAIL(KD_ERR_INVALID, "temperature list: more than %d values", KD_MAX_TEMPERATURES);
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        double *nv = realloc(*vals, nc * sizeof *nv);
        if (!nv)
            KD_FAIL(KD_ERR_NOMEM, "temperature list: out of memory");
        *vals = nv;
        *cap = nc;
    }
    (*vals)[(*n)++] = v;
    return KD_OK;
}

static kd_status parse_item(const char *p, const char *end, double **vals, size_t *n,
                            size_t *cap)
{
    const char *c1 = memchr(p, ':', (size_t)(end - p));
    int len = (int)(end - p);
    if (!c1) {
        double v;
        if (!parse_value(p, end, &v))
            KD_FAIL(KD_ERR_INVALID, "temperature list: '%.*s' is not a number or 'inf'", len, p);
        if (v < 0)
            KD_FAIL(KD_ERR_INVALID, "temperature list: %g is negative, expected T >= 0", v);
        return push(vals, n, cap, v);
    }
    const char *c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1));
    double a, b, step;
    if (!c2 || !parse_value(p, c1, &a) || !parse_value(c1 + 1, c2, &b) ||
        !parse_value(c2 + 1, end, &step) || !isfinite(a) || !isfinite(b) || !isfinite(step))
        KD_FAIL(KD_ERR_INVALID,
                "temperature list: '%.*s' is not a range, expected start:stop:step with finite numbers",
                len, p);
    if (a < 0 || b < a || step <= 0)
        KD_FAIL(KD_ERR_INVALID,
                "temperature list: range '%.*s' needs 0 <= start <= stop and step > 0", len, p);
    /* Count points with a tolerance so that 0:6:0.25 ends exactly at 6. */
    double count = floor((b - a) / step + 1e-9);
    if (count + 1 > KD_MAX_TEMPERATURES)
        KD_FAIL(KD_ERR_INVALID, "temperature list: range '%.*s' has more than %d values", len, p,
                KD_MAX_TEMPERATURES);
    for (long i = 0; i <= (long)count; i++) {
        /* a + i*step, not repeated addition, so values carry no accumulated error;
         * round to 12 significant digits so 0.1-steps print as typed. */
        double v = a + (double)i * step;
        if (v != 0) {
            /* Below ~1e-296 the scale overflows to inf and inf/inf would give
             * NaN: such values stay unrounded (fuzz/fuzz_text checks for NaN). */
            double scale = pow(10.0, 12 - ceil(log10(fabs(v))));
            double r = round(v * scale) / scale;
            if (isfinite(scale) && isfinite(r))
                v = r;
        }
        KD_CHECK(push(vals, n, cap, v));
    }
    return KD_OK;
}

kd_status kd_parse_temperatures(const char *text, double **out, size_t *n)
{
    double *vals = NULL;
    size_t count = 0, cap = 0;
    *out = NULL;
    *n = 0;
    if (!text || !*text)
        KD_FAIL(KD_ERR_INVALID, "temperature list is empty, expected e.g. '0:6:0.25' or '1,2,inf'");
    const char *p = text;
    for (;;) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        kd_status st = parse_item(p, end, &vals, &count, &cap);
        if (st != KD_OK) {
            free(vals);
            return st;
        }
        if (!*end)
            break;
        p = end + 1;
    }
    *out = vals;
    *n = count;
    return KD_OK;
}
