/* Batch up/down passes, block Gibbs sampling, mean-field updates and the
 * public CD gradient estimate (float32, sgemm + fused row kernels). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "rbm/cd.h"
#include "rbm/kernels.h"
#include "rbm/rbm_internal.h"

static kd_status check_rows(size_t n, kd_rbm_mode mode)
{
    if (n > (size_t)INT_MAX)
        KD_FAIL(KD_ERR_INVALID, "%zu rows in one call, expected at most %d", n, INT_MAX);
    if (mode != KD_RBM_MEAN && mode != KD_RBM_SAMPLE)
        KD_FAIL(KD_ERR_INVALID, "unknown mode %d, expected KD_RBM_MEAN or KD_RBM_SAMPLE",
                (int)mode);
    return KD_OK;
}

/* Fields of the target layer are already in `out`; finish rows in place. */
static void finish_rows(kd_units u, int width, const float *bias, size_t n, kd_rbm_mode mode,
                        uint64_t seed, uint64_t stream, uint64_t block, float *out)
{
#pragma omp parallel for schedule(static) if (n * (size_t)width >= 32768)
    for (long r = 0; r < (long)n; r++) {
        float *o = out + (size_t)r * (size_t)width;
        if (mode == KD_RBM_SAMPLE)
            kd_row_sample(u, width, o, bias, seed, stream + (uint64_t)r, block, o);
        else
            kd_row_mean(u, width, o, bias, 1.0f, o);
    }
}

static void up_rows(const kd_rbm *rbm, const float *v, size_t n, kd_rbm_mode mode, uint64_t seed,
                    uint64_t stream, uint64_t block, float *h)
{
    kd_sgemm(CblasNoTrans, CblasNoTrans, (int)n, rbm->nh, rbm->nv, 1.0f, v, rbm->nv, rbm->w,
             rbm->nh, 0.0f, h, rbm->nh);
    finish_rows(rbm->hid, rbm->nh, rbm->b, n, mode, seed, stream, block, h);
}

static void down_rows(const kd_rbm *rbm, const float *h, size_t n, kd_rbm_mode mode, uint64_t seed,
                      uint64_t stream, uint64_t block, float *v)
{
    kd_sgemm(CblasNoTrans, CblasTrans, (int)n, rbm->nv, rbm->nh, 1.0f, h, rbm->nh, rbm->w, rbm->nh,
             0.0f, v, rbm->nv);
    finish_rows(rbm->vis, rbm->nv, rbm->a, n, mode, seed, stream, block, v);
}

kd_status kd_rbm_up(const kd_rbm *rbm, const float *v, size_t n, kd_rbm_mode mode, uint64_t seed,
                    uint64_t stream, float *h)
{
    KD_CHECK(check_rows(n, mode));
    if (n == 0)
        return KD_OK;
    up_rows(rbm, v, n, mode, seed, stream, 0, h);
    return KD_OK;
}

kd_status kd_rbm_down(const kd_rbm *rbm, const float *h, size_t n, kd_rbm_mode mode, uint64_t seed,
                      uint64_t stream, float *v)
{
    KD_CHECK(check_rows(n, mode));
    if (n == 0)
        return KD_OK;
    down_rows(rbm, h, n, mode, seed, stream, 0, v);
    return KD_OK;
}

static kd_status chain_steps(const kd_rbm *rbm, float *v, size_t n, int steps, kd_rbm_mode mode,
                             uint64_t seed, uint64_t stream, float *h)
{
    KD_CHECK(check_rows(n, mode));
    if (steps < 0)
        KD_FAIL(KD_ERR_INVALID, "%d Gibbs steps, expected >= 0", steps);
    if (n == 0)
        return KD_OK;
    float *hb = h ? h : malloc(n * (size_t)rbm->nh * sizeof(float));
    if (!hb)
        KD_FAIL(KD_ERR_NOMEM, "out of memory for %zu hidden rows of %d units", n, rbm->nh);
    uint64_t blk = 0;
    for (int s = 0; s < steps; s++) {
        up_rows(rbm, v, n, mode, seed, stream, blk, hb);
        blk += kd_rbm_blocks(rbm->nh);
        down_rows(rbm, hb, n, mode, seed, stream, blk, v);
        blk += kd_rbm_blocks(rbm->nv);
    }
    if (!h)
        free(hb);
    return KD_OK;
}

kd_status kd_rbm_gibbs(const kd_rbm *rbm, float *v, size_t n, int steps, uint64_t seed,
                       uint64_t stream, float *h)
{
    return chain_steps(rbm, v, n, steps, KD_RBM_SAMPLE, seed, stream, h);
}

kd_status kd_rbm_mean_field(const kd_rbm *rbm, float *v, size_t n, int steps, float *h)
{
    return chain_steps(rbm, v, n, steps, KD_RBM_MEAN, 0, 0, h);
}

kd_status kd_rbm_cd_gradient(const kd_rbm *rbm, const kd_rbm_data *data, int k, uint64_t seed,
                             float *dW, float *da, float *db)
{
    if (k < 1)
        KD_FAIL(KD_ERR_INVALID, "CD-%d, expected k >= 1", k);
    if (data->n == 0 || data->n > (size_t)INT_MAX / 2)
        KD_FAIL(KD_ERR_INVALID, "CD gradient over %zu rows, expected 1 to %d", data->n,
                INT_MAX / 2);
    KD_CHECK(kd_rbm_data_check(data, rbm->nv, "CD gradient data"));
    kd_cd_work w;
    KD_CHECK(kd_cd_work_init(&w, rbm, data->n, data->n));
    for (size_t r = 0; r < data->n; r++)
        kd_rbm_data_row(data, rbm->vis, rbm->nv, r, w.v + r * (size_t)rbm->nv);
    kd_cd_gradient(&w, rbm, data->n, data->n, k, 0, seed, kd_rbm_stream(KD_RBM_STREAM_GIBBS, 0, 0));
    size_t nw = (size_t)rbm->nv * (size_t)rbm->nh;
    if (dW)
        memcpy(dW, w.grad, nw * sizeof(float));
    if (da)
        memcpy(da, w.grad + nw, (size_t)rbm->nv * sizeof(float));
    if (db)
        memcpy(db, w.grad + nw + (size_t)rbm->nv, (size_t)rbm->nh * sizeof(float));
    kd_cd_work_free(&w);
    return KD_OK;
}
