/* The RBM object: allocation, parameters, initialisation, data descriptors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/memory.h"
#include "kadanoff/rng.h"
#include "rbm/rbm_internal.h"

static const char *const units_names[] = {[KD_UNITS_SPIN] = "spin", [KD_UNITS_BINARY] = "binary"};

const char *kd_units_name(kd_units units)
{
    if ((unsigned)units < sizeof units_names / sizeof units_names[0])
        return units_names[units];
    return "unknown";
}

kd_status kd_units_parse(const char *name, kd_units *out)
{
    for (unsigned u = 0; u < sizeof units_names / sizeof units_names[0]; u++)
        if (name && strcmp(name, units_names[u]) == 0) {
            *out = (kd_units)u;
            return KD_OK;
        }
    KD_FAIL(KD_ERR_INVALID, "unknown unit type '%s', expected 'spin' or 'binary'",
            name ? name : "(null)");
}

static int units_ok(kd_units u) { return u == KD_UNITS_SPIN || u == KD_UNITS_BINARY; }

kd_status kd_rbm_new(kd_rbm **out, int nv, int nh, kd_units visible, kd_units hidden,
                     unsigned flags)
{
    *out = NULL;
    if (nv < 1 || nh < 1)
        KD_FAIL(KD_ERR_INVALID,
                "RBM with %d visible and %d hidden units, expected at least 1 of each", nv, nh);
    if ((int64_t)nv * nh >= ((int64_t)1 << 31))
        KD_FAIL(KD_ERR_NOMEM, "RBM %d-%d has %lld weights, expected fewer than 2^31", nv, nh,
                (long long)nv * nh);
    {
        char what[96];
        snprintf(what, sizeof what, "an RBM %d-%d", nv, nh);
        KD_CHECK(kd_memory_check(sizeof(float) * ((double)nv * nh + nv + nh), what));
    }
    if (!units_ok(visible) || !units_ok(hidden))
        KD_FAIL(KD_ERR_INVALID,
                "unknown unit type (%d, %d), expected KD_UNITS_SPIN or KD_UNITS_BINARY",
                (int)visible, (int)hidden);
    if (flags & ~(KD_RBM_NO_VISIBLE_BIAS | KD_RBM_NO_HIDDEN_BIAS))
        KD_FAIL(KD_ERR_INVALID, "unknown RBM flags 0x%x", flags);
    kd_rbm *r = calloc(1, sizeof *r);
    if (!r)
        KD_FAIL(KD_ERR_NOMEM, "out of memory for an RBM");
    r->nv = nv;
    r->nh = nh;
    r->vis = visible;
    r->hid = hidden;
    r->flags = flags;
    r->nparams = (size_t)nv * (size_t)nh + (size_t)nv + (size_t)nh;
    r->params = calloc(r->nparams, sizeof(float));
    if (!r->params) {
        size_t np = r->nparams;
        free(r);
        KD_FAIL(KD_ERR_NOMEM, "out of memory for the %zu parameters of an RBM %d-%d", np, nv, nh);
    }
    r->w = r->params;
    r->a = r->w + (size_t)nv * (size_t)nh;
    r->b = r->a + nv;
    *out = r;
    return KD_OK;
}

void kd_rbm_free(kd_rbm *rbm)
{
    if (!rbm)
        return;
    free(rbm->params);
    free(rbm);
}

kd_status kd_rbm_clone(kd_rbm **out, const kd_rbm *src)
{
    KD_CHECK(kd_rbm_new(out, src->nv, src->nh, src->vis, src->hid, src->flags));
    memcpy((*out)->params, src->params, src->nparams * sizeof(float));
    return KD_OK;
}

kd_status kd_rbm_copy_params(kd_rbm *dst, const kd_rbm *src)
{
    if (dst->nv != src->nv || dst->nh != src->nh || dst->vis != src->vis || dst->hid != src->hid ||
        dst->flags != src->flags)
        KD_FAIL(KD_ERR_INVALID,
                "cannot copy parameters of an RBM %d-%d (%s/%s, flags %u) into one %d-%d (%s/%s, "
                "flags %u)",
                src->nv, src->nh, kd_units_name(src->vis), kd_units_name(src->hid), src->flags,
                dst->nv, dst->nh, kd_units_name(dst->vis), kd_units_name(dst->hid), dst->flags);
    memcpy(dst->params, src->params, src->nparams * sizeof(float));
    return KD_OK;
}

int kd_rbm_nv(const kd_rbm *rbm) { return rbm->nv; }
int kd_rbm_nh(const kd_rbm *rbm) { return rbm->nh; }
kd_units kd_rbm_visible_units(const kd_rbm *rbm) { return rbm->vis; }
kd_units kd_rbm_hidden_units(const kd_rbm *rbm) { return rbm->hid; }
unsigned kd_rbm_flags(const kd_rbm *rbm) { return rbm->flags; }
size_t kd_rbm_nparams(const kd_rbm *rbm) { return rbm->nparams; }
float *kd_rbm_params(const kd_rbm *rbm) { return rbm->params; }
float *kd_rbm_weights(const kd_rbm *rbm) { return rbm->w; }
float *kd_rbm_visible_bias(const kd_rbm *rbm) { return rbm->a; }
float *kd_rbm_hidden_bias(const kd_rbm *rbm) { return rbm->b; }

kd_status kd_rbm_init_gaussian(kd_rbm *rbm, double sigma, uint64_t seed)
{
    if (!(sigma >= 0) || !isfinite(sigma))
        KD_FAIL(KD_ERR_INVALID, "weight initialisation σ = %g, expected a finite value >= 0",
                sigma);
    memset(rbm->params, 0, rbm->nparams * sizeof(float));
    if (sigma == 0)
        return KD_OK;
    kd_rng rng;
    kd_rng_init(&rng, seed, kd_rbm_stream(KD_RBM_STREAM_INIT, 0, 0));
    size_t nw = (size_t)rbm->nv * (size_t)rbm->nh;
    for (size_t k = 0; k < nw; k++)
        rbm->w[k] = (float)(sigma * kd_rng_normal(&rng));
    return KD_OK;
}

kd_status kd_rbm_validate(const kd_rbm *rbm)
{
    size_t nw = (size_t)rbm->nv * (size_t)rbm->nh;
    for (size_t k = 0; k < rbm->nparams; k++) {
        if (isfinite(rbm->params[k]))
            continue;
        if (k < nw)
            KD_FAIL(KD_ERR_NUMERIC, "RBM weight W[%zu][%zu] is %g", k / (size_t)rbm->nh,
                    k % (size_t)rbm->nh, (double)rbm->params[k]);
        if (k < nw + (size_t)rbm->nv)
            KD_FAIL(KD_ERR_NUMERIC, "RBM visible bias a[%zu] is %g", k - nw,
                    (double)rbm->params[k]);
        KD_FAIL(KD_ERR_NUMERIC, "RBM hidden bias b[%zu] is %g", k - nw - (size_t)rbm->nv,
                (double)rbm->params[k]);
    }
    if (rbm->flags & KD_RBM_NO_VISIBLE_BIAS)
        for (int i = 0; i < rbm->nv; i++)
            if (rbm->a[i] != 0)
                KD_FAIL(KD_ERR_INVALID, "visible bias a[%d] = %g but visible biases are disabled",
                        i, (double)rbm->a[i]);
    if (rbm->flags & KD_RBM_NO_HIDDEN_BIAS)
        for (int j = 0; j < rbm->nh; j++)
            if (rbm->b[j] != 0)
                KD_FAIL(KD_ERR_INVALID, "hidden bias b[%d] = %g but hidden biases are disabled", j,
                        (double)rbm->b[j]);
    return KD_OK;
}

KD_CLONES void kd_rbm_spins_to_values(kd_units units, const int8_t *restrict spins, size_t count,
                                      float *restrict values)
{
    if (units == KD_UNITS_SPIN)
        for (size_t k = 0; k < count; k++)
            values[k] = (float)spins[k];
    else /* (s + 1)/2 for s = ±1 */
        for (size_t k = 0; k < count; k++)
            values[k] = (float)((spins[k] + 1) >> 1);
}

void kd_rbm_data_row(const kd_rbm_data *d, kd_units units, int nv, size_t k, float *out)
{
    size_t r = d->rows ? d->rows[k] : k;
    if (d->spins)
        kd_rbm_spins_to_values(units, d->spins + r * (size_t)nv, (size_t)nv, out);
    else
        memcpy(out, d->values + r * (size_t)nv, (size_t)nv * sizeof(float));
}

void kd_rbm_data_row_double(const kd_rbm_data *d, kd_units units, int nv, size_t k, double *out)
{
    size_t r = d->rows ? d->rows[k] : k;
    if (d->spins) {
        const int8_t *s = d->spins + r * (size_t)nv;
        for (int i = 0; i < nv; i++)
            out[i] = units == KD_UNITS_SPIN ? (double)s[i] : (s[i] > 0 ? 1.0 : 0.0);
    } else {
        const float *x = d->values + r * (size_t)nv;
        for (int i = 0; i < nv; i++)
            out[i] = x[i];
    }
}

kd_status kd_rbm_data_check(const kd_rbm_data *d, int nv, const char *what)
{
    if (!d)
        KD_FAIL(KD_ERR_INVALID, "%s: no data given", what);
    if (!d->spins == !d->values)
        KD_FAIL(KD_ERR_INVALID, "%s: set exactly one of 'spins' and 'values'", what);
    for (size_t k = 0; k < d->n; k++) {
        size_t r = d->rows ? d->rows[k] : k;
        if (d->spins) {
            const int8_t *s = d->spins + r * (size_t)nv;
            for (int i = 0; i < nv; i++)
                if (s[i] != 1 && s[i] != -1)
                    KD_FAIL(KD_ERR_INVALID, "%s: row %zu, unit %d has spin %d, expected ±1", what,
                            r, i, (int)s[i]);
        } else {
            const float *x = d->values + r * (size_t)nv;
            for (int i = 0; i < nv; i++)
                if (!isfinite(x[i]))
                    KD_FAIL(KD_ERR_INVALID, "%s: row %zu, unit %d is %g, expected a finite value",
                            what, r, i, (double)x[i]);
        }
    }
    return KD_OK;
}
