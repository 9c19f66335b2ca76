/* The CD-k / PCD gradient of one minibatch: four matrix products
 * (positive fields, k × (down, up), stacked outer product) and fused
 * per-row loops for bias + conditional + sampling in between. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "rbm/cd.h"
#include "rbm/cd_sliced.h"
#include "rbm/kernels.h"

/* Row loops go parallel only above this many units: below it the fork/join
 * costs more than the loop (and on a loaded machine far more). */
#define PAR_MIN 32768

kd_status kd_cd_work_init(kd_cd_work *w, const kd_rbm *rbm, size_t max_rows, size_t max_chains)
{
    memset(w, 0, sizeof *w);
    w->nv = rbm->nv;
    w->nh = rbm->nh;
    w->max_rows = max_rows;
    w->max_chains = max_chains;
    size_t tot = max_rows + max_chains;
    w->v = malloc(tot * (size_t)rbm->nv * sizeof(float));
    w->h = malloc(tot * (size_t)rbm->nh * sizeof(float));
    w->hs = malloc(max_chains * (size_t)rbm->nh * sizeof(float));
    w->grad = malloc(rbm->nparams * sizeof(float));
    w->nparts = kd_cd_sliced_partials(rbm, max_rows < max_chains ? max_rows : max_chains);
    w->parts = w->nparts ? malloc(w->nparts * rbm->nparams * sizeof(float)) : NULL;
    if (!w->v || !w->h || !w->hs || !w->grad || (w->nparts && !w->parts)) {
        kd_cd_work_free(w);
        KD_FAIL(KD_ERR_NOMEM,
                "out of memory for minibatches of %zu rows and %zu chains (RBM %d-%d)", max_rows,
                max_chains, rbm->nv, rbm->nh);
    }
    return KD_OK;
}

void kd_cd_work_free(kd_cd_work *w)
{
    free(w->v);
    free(w->h);
    free(w->hs);
    free(w->grad);
    free(w->parts);
    memset(w, 0, sizeof *w);
}

void kd_cd_gradient(kd_cd_work *w, const kd_rbm *rbm, size_t B, size_t C, int k, int persistent,
                    uint64_t seed, uint64_t stream0)
{
    kd_cd_gradient_part(w, rbm, B, C, B, C, k, persistent, seed, stream0);
}

void kd_cd_gradient_part(kd_cd_work *w, const kd_rbm *rbm, size_t B, size_t C, size_t B_all,
                         size_t C_all, int k, int persistent, uint64_t seed, uint64_t stream0)
{
    const int nv = rbm->nv, nh = rbm->nh;
    const size_t snv = (size_t)nv, snh = (size_t)nh;
    const int b = (int)B, c = (int)C;
    float *v0 = w->v, *vn = w->v + B * snv, *h0 = w->h, *hn = w->h + B * snh, *hs = w->hs;
    const float inv_b = 1.0f / (float)B_all, inv_c = 1.0f / (float)C_all;
    const float *W = rbm->w;
    /* The sliced path scales by its own B: only for a whole minibatch, not for
     * a part of one (data-parallel training, B < B_all), which runs the loops
     * below. */
    if (!persistent && C == B && B == B_all && kd_cd_gradient_sliced(w, rbm, B, k, seed, stream0))
        return; /* the same chains and gradient, run over slices of the batch */

    /* positive phase: h0 = (1/B) E[h | v0]; for CD also the chain's first h */
    kd_sgemm(CblasNoTrans, CblasNoTrans, b, nh, nv, 1.0f, v0, nv, W, nh, 0.0f, h0, nh);
    if (!persistent) {
#pragma omp parallel for schedule(dynamic, 4) if (B * snh >= PAR_MIN)
        for (int r = 0; r < b; r++)
            kd_row_mean_sample(rbm->hid, nh, h0 + (size_t)r * snh, rbm->b, inv_b, seed,
                               stream0 + (uint64_t)r, 0, h0 + (size_t)r * snh,
                               hs + (size_t)r * snh);
    } else {
#pragma omp parallel for schedule(dynamic, 4) if (B * snh >= PAR_MIN)
        for (int r = 0; r < b; r++)
            kd_row_mean(rbm->hid, nh, h0 + (size_t)r * snh, rbm->b, inv_b, h0 + (size_t)r * snh);
        kd_sgemm(CblasNoTrans, CblasNoTrans, c, nh, nv, 1.0f, vn, nv, W, nh, 0.0f, hn, nh);
#pragma omp parallel for schedule(dynamic, 4) if (C * snh >= PAR_MIN)
        for (int r = 0; r < c; r++)
            kd_row_sample(rbm->hid, nh, hn + (size_t)r * snh, rbm->b, seed, stream0 + (uint64_t)r,
                          0, hs + (size_t)r * snh);
    }
    uint64_t blk = kd_rbm_blocks(nh);

    /* negative phase: k block-Gibbs steps; the last hidden layer as a mean */
    for (int step = 1; step <= k; step++) {
        kd_sgemm(CblasNoTrans, CblasTrans, c, nv, nh, 1.0f, hs, nh, W, nh, 0.0f, vn, nv);
#pragma omp parallel for schedule(dynamic, 4) if (C * snv >= PAR_MIN)
        for (int r = 0; r < c; r++)
            kd_row_sample(rbm->vis, nv, vn + (size_t)r * snv, rbm->a, seed, stream0 + (uint64_t)r,
                          blk, vn + (size_t)r * snv);
        blk += kd_rbm_blocks(nv);
        kd_sgemm(CblasNoTrans, CblasNoTrans, c, nh, nv, 1.0f, vn, nv, W, nh, 0.0f, hn, nh);
        if (step < k) {
#pragma omp parallel for schedule(dynamic, 4) if (C * snh >= PAR_MIN)
            for (int r = 0; r < c; r++)
                kd_row_sample(rbm->hid, nh, hn + (size_t)r * snh, rbm->b, seed,
                              stream0 + (uint64_t)r, blk, hs + (size_t)r * snh);
            blk += kd_rbm_blocks(nh);
        } else {
#pragma omp parallel for schedule(dynamic, 4) if (C * snh >= PAR_MIN)
            for (int r = 0; r < c; r++)
                kd_row_mean(rbm->hid, nh, hn + (size_t)r * snh, rbm->b, -inv_c,
                            hn + (size_t)r * snh);
        }
    }

    /* gradient: G_W = [v0; vn]ᵀ [h0/B; -hn/C], one product over B + C rows */
    float *gw = w->grad, *ga = gw + snv * snh, *gb = ga + snv;
    kd_sgemm(CblasTrans, CblasNoTrans, nv, nh, b + c, 1.0f, w->v, nv, w->h, nh, 0.0f, gw, nh);
    /* bias gradients: (1/B) Σ v0 - (1/C) Σ vn and Σ of the scaled h rows */
    kd_rows_bias_sums(nv, B, v0, inv_b, C, vn, -inv_c, ga);
    kd_rows_bias_sums(nh, B, h0, 1.0f, C, hn, 1.0f, gb);
    if (rbm->flags & KD_RBM_NO_VISIBLE_BIAS)
        memset(ga, 0, snv * sizeof(float));
    if (rbm->flags & KD_RBM_NO_HIDDEN_BIAS)
        memset(gb, 0, snh * sizeof(float));
}
