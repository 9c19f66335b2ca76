/* Deep belief networks: a stack of RBMs, up/down passes, receptive fields. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "rbm/kernels.h"
#include "rbm/rbm_internal.h"

struct kd_dbn {
    int depth, cap;
    kd_rbm **layers;
};

#define DBN_ROWS 1024 /* rows per chunk of a pass */

kd_status kd_dbn_new(kd_dbn **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        KD_FAIL(KD_ERR_NOMEM, "out of memory for a deep belief network");
    return KD_OK;
}

void kd_dbn_free(kd_dbn *dbn)
{
    if (!dbn)
        return;
    for (int l = 0; l < dbn->depth; l++)
        kd_rbm_free(dbn->layers[l]);
    free(dbn->layers);
    free(dbn);
}

int kd_dbn_depth(const kd_dbn *dbn) { return dbn->depth; }

kd_rbm *kd_dbn_layer(const kd_dbn *dbn, int layer)
{
    return layer >= 0 && layer < dbn->depth ? dbn->layers[layer] : NULL;
}

int kd_dbn_width(const kd_dbn *dbn, int level)
{
    if (dbn->depth == 0 || level < 0 || level > dbn->depth)
        return 0;
    return level == 0 ? dbn->layers[0]->nv : dbn->layers[level - 1]->nh;
}

kd_status kd_dbn_push(kd_dbn *dbn, kd_rbm *rbm)
{
    if (!rbm)
        KD_FAIL(KD_ERR_INVALID, "no RBM to push onto the DBN");
    if (dbn->depth > 0) {
        const kd_rbm *top = dbn->layers[dbn->depth - 1];
        if (rbm->nv != top->nh || rbm->vis != top->hid)
            KD_FAIL(KD_ERR_INVALID,
                    "DBN layer %d has %d %s visible units, but level %d has %d %s units",
                    dbn->depth, rbm->nv, kd_units_name(rbm->vis), dbn->depth, top->nh,
                    kd_units_name(top->hid));
    }
    if (dbn->depth == dbn->cap) {
        int cap = dbn->cap ? 2 * dbn->cap : 4;
        kd_rbm **l = realloc(dbn->layers, (size_t)cap * sizeof *l);
        if (!l)
            KD_FAIL(KD_ERR_NOMEM, "out of memory for DBN layers");
        dbn->layers = l;
        dbn->cap = cap;
    }
    dbn->layers[dbn->depth++] = rbm;
    return KD_OK;
}

static int max_width(const kd_dbn *dbn, int level)
{
    int m = 0;
    for (int l = 0; l <= level; l++)
        if (kd_dbn_width(dbn, l) > m)
            m = kd_dbn_width(dbn, l);
    return m;
}

static kd_status check_level(const kd_dbn *dbn, int level, int min)
{
    if (dbn->depth == 0)
        KD_FAIL(KD_ERR_INVALID, "the DBN has no layers");
    if (level < min || level > dbn->depth)
        KD_FAIL(KD_ERR_INVALID, "DBN level %d, expected %d to %d", level, min, dbn->depth);
    return KD_OK;
}

kd_status kd_dbn_up(const kd_dbn *dbn, const kd_rbm_data *data, int level, kd_rbm_mode mode,
                    uint64_t seed, uint64_t stream, float *out)
{
    KD_CHECK(check_level(dbn, level, 0));
    KD_CHECK(kd_rbm_data_check(data, dbn->layers[0]->nv, "DBN input"));
    int mw = max_width(dbn, level), w0 = kd_dbn_width(dbn, 0), wl = kd_dbn_width(dbn, level);
    float *buf = malloc(2 * (size_t)DBN_ROWS * (size_t)mw * sizeof *buf);
    if (!buf)
        KD_FAIL(KD_ERR_NOMEM, "out of memory for a DBN up pass");
    kd_status st = KD_OK;
    for (size_t r0 = 0; r0 < data->n && st == KD_OK; r0 += DBN_ROWS) {
        size_t m = data->n - r0 < DBN_ROWS ? data->n - r0 : DBN_ROWS;
        float *cur = buf, *nxt = buf + (size_t)DBN_ROWS * (size_t)mw;
        for (size_t r = 0; r < m; r++)
            kd_rbm_data_row(data, dbn->layers[0]->vis, w0, r0 + r, cur + r * (size_t)w0);
        for (int l = 0; l < level && st == KD_OK; l++) {
            st = kd_rbm_up(dbn->layers[l], cur, m, mode, seed, stream + ((uint64_t)l << 40) + r0,
                           nxt);
            float *t = cur;
            cur = nxt;
            nxt = t;
        }
        if (st == KD_OK)
            memcpy(out + r0 * (size_t)wl, cur, m * (size_t)wl * sizeof *out);
    }
    free(buf);
    return st;
}

kd_status kd_dbn_down(const kd_dbn *dbn, const float *in, size_t n, int level, kd_rbm_mode mode,
                      uint64_t seed, uint64_t stream, float *out)
{
    KD_CHECK(check_level(dbn, level, 0));
    int mw = max_width(dbn, level), w0 = kd_dbn_width(dbn, 0), wl = kd_dbn_width(dbn, level);
    float *buf = malloc(2 * (size_t)DBN_ROWS * (size_t)mw * sizeof *buf);
    if (!buf)
        KD_FAIL(KD_ERR_NOMEM, "out of memory for a DBN down pass");
    kd_status st = KD_OK;
    for (size_t r0 = 0; r0 < n && st == KD_OK; r0 += DBN_ROWS) {
        size_t m = n - r0 < DBN_ROWS ? n - r0 : DBN_ROWS;
        float *cur = buf, *nxt = buf + (size_t)DBN_ROWS * (size_t)mw;
        memcpy(cur, in + r0 * (size_t)wl, m * (size_t)wl * sizeof *cur);
        for (int l = level - 1; l >= 0 && st == KD_OK; l--) {
            st = kd_rbm_down(dbn->layers[l], cur, m, mode, seed,
                             stream + ((uint64_t)(dbn->depth + l) << 40) + r0, nxt);
            float *t = cur;
            cur = nxt;
            nxt = t;
        }
        if (st == KD_OK)
            memcpy(out + r0 * (size_t)w0, cur, m * (size_t)w0 * sizeof *out);
    }
    free(buf);
    return st;
}

kd_status kd_dbn_reconstruct(const kd_dbn *dbn, const kd_rbm_data *data, int level,
                             kd_rbm_mode mode, uint64_t seed, uint64_t stream, float *out)
{
    KD_CHECK(check_level(dbn, level, 0));
    size_t wl = (size_t)kd_dbn_width(dbn, level);
    float *top = malloc((data->n ? data->n : 1) * wl * sizeof *top);
    if (!top)
        KD_FAIL(KD_ERR_NOMEM, "out of memory for %zu rows at DBN level %d", data->n, level);
    kd_status st = kd_dbn_up(dbn, data, level, mode, seed, stream, top);
    if (st == KD_OK)
        st = kd_dbn_down(dbn, top, data->n, level, mode, seed, stream, out);
    free(top);
    return st;
}

kd_status kd_dbn_receptive_fields(const kd_dbn *dbn, int level, float *out)
{
    KD_CHECK(check_level(dbn, level, 1));
    int w0 = kd_dbn_width(dbn, 0);
    size_t mw = (size_t)max_width(dbn, level);
    /* F_1 = W_1; F_l = F_{l-1} W_l, ping-ponging between two scratch buffers of
     * the widest level, then copying the result: `out` only holds
     * width(0) × width(level), smaller than the intermediate products (writing
     * them into `out` overran it for odd levels >= 3). */
    float *bufs[2] = {malloc((size_t)w0 * mw * sizeof(float)), malloc((size_t)w0 * mw * sizeof(float))};
    if (!bufs[0] || !bufs[1]) {
        free(bufs[0]);
        free(bufs[1]);
        KD_FAIL(KD_ERR_NOMEM, "out of memory for receptive fields");
    }
    int cur = 0;
    memcpy(bufs[cur], dbn->layers[0]->w, (size_t)w0 * (size_t)dbn->layers[0]->nh * sizeof(float));
    for (int l = 1; l < level; l++) {
        const kd_rbm *r = dbn->layers[l];
        kd_sgemm(CblasNoTrans, CblasNoTrans, w0, r->nh, r->nv, 1.0f, bufs[cur], r->nv, r->w, r->nh,
                 0.0f, bufs[1 - cur], r->nh);
        cur = 1 - cur;
    }
    memcpy(out, bufs[cur], (size_t)w0 * (size_t)kd_dbn_width(dbn, level) * sizeof(float));
    free(bufs[0]);
    free(bufs[1]);
    return KD_OK;
}
