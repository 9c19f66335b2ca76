/* Statistics of a dataset under a model: free energies, pseudo-likelihood,
 * reconstruction error. Rows are processed in chunks through one matrix
 * product each; per-row results are summed in row order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kadanoff/rng.h"
#include "rbm/kernels.h"
#include "rbm/rbm_internal.h"

#define EVAL_ROWS 256

/* W as double (exact conversion), nv × nh. */
static double *weights_double(const kd_rbm *rbm)
{
    size_t nw = (size_t)rbm->nv * (size_t)rbm->nh;
    double *wd = malloc(nw * sizeof *wd);
    if (wd)
        for (size_t k = 0; k < nw; k++)
            wd[k] = rbm->w[k];
    return wd;
}

/* Buffers of an evaluation in double, one chunk of EVAL_ROWS rows at a time:
 * W as double (nv × nh), the visible rows (m × nv), their products vW
 * (m × nh) and one result per row. */
typedef struct {
    double *wd, *vd, *xd, *res;
} eval_buffers;

static void eval_free(eval_buffers *e)
{
    free(e->wd);
    free(e->vd);
}

/* `what` names the quantity in the out-of-memory message. */
static kd_status eval_alloc(const kd_rbm *rbm, eval_buffers *e, const char *what)
{
    int nv = rbm->nv, nh = rbm->nh;
    e->wd = weights_double(rbm);
    e->vd = malloc((size_t)EVAL_ROWS * (size_t)(nv + nh + 1) * sizeof *e->vd);
    if (!e->wd || !e->vd) {
        eval_free(e);
        KD_FAIL(KD_ERR_NOMEM, "out of memory for %s of an RBM %d-%d", what, nv, nh);
    }
    e->xd = e->vd + (size_t)EVAL_ROWS * (size_t)nv;
    e->res = e->xd + (size_t)EVAL_ROWS * (size_t)nh;
    return KD_OK;
}

/* The chunk of rows from r0 (at most EVAL_ROWS) into e->vd, and vW into e->xd;
 * returns its row count. */
static int eval_chunk(const kd_rbm *rbm, const kd_rbm_data *data, size_t r0, const eval_buffers *e)
{
    int nv = rbm->nv, nh = rbm->nh;
    int m = data->n - r0 < EVAL_ROWS ? (int)(data->n - r0) : EVAL_ROWS;
    for (int r = 0; r < m; r++)
        kd_rbm_data_row_double(data, rbm->vis, nv, r0 + (size_t)r, e->vd + (size_t)r * (size_t)nv);
    kd_dgemm(CblasNoTrans, CblasNoTrans, m, nh, nv, 1.0, e->vd, nv, e->wd, nh, 0.0, e->xd, nh);
    return m;
}

kd_status kd_rbm_free_energy_data(const kd_rbm *rbm, const kd_rbm_data *data, double *F,
                                  double *mean)
{
    int nv = rbm->nv, nh = rbm->nh;
    if (mean)
        *mean = NAN;
    KD_CHECK(kd_rbm_data_check(data, nv, "free-energy data"));
    if (data->n == 0)
        return KD_OK;
    eval_buffers e;
    KD_CHECK(eval_alloc(rbm, &e, "free energies"));
    const double *vd = e.vd, *xd = e.xd;
    double *fr = e.res;
    double sum = 0;
    for (size_t r0 = 0; r0 < data->n; r0 += EVAL_ROWS) {
        int m = eval_chunk(rbm, data, r0, &e);
#pragma omp parallel for schedule(static)
        for (int r = 0; r < m; r++) {
            /* F(v) = -aᵀv - Σ_j g_h(b_j + (vW)_j) */
            const double *v = vd + (size_t)r * (size_t)nv, *x = xd + (size_t)r * (size_t)nh;
            double f = 0;
            for (int i = 0; i < nv; i++)
                f -= (double)rbm->a[i] * v[i];
            for (int j = 0; j < nh; j++)
                f -= kd_rbm_lgf(rbm->hid, x[j] + (double)rbm->b[j]);
            fr[r] = f;
        }
        for (int r = 0; r < m; r++) {
            sum += fr[r];
            if (F)
                F[r0 + (size_t)r] = fr[r];
        }
    }
    eval_free(&e);
    if (mean)
        *mean = sum / (double)data->n;
    return KD_OK;
}

kd_status kd_rbm_pseudo_loglik(const kd_rbm *rbm, const kd_rbm_data *data, int units, uint64_t seed,
                               uint64_t stream, double *pll)
{
    int nv = rbm->nv, nh = rbm->nh;
    *pll = NAN;
    if (units < 0 || units > nv)
        KD_FAIL(KD_ERR_INVALID, "pseudo-likelihood over %d units per row, expected 0 (all) to %d",
                units, nv);
    if (units == nv)
        units = 0;
    KD_CHECK(kd_rbm_data_check(data, nv, "pseudo-likelihood data"));
    if (data->n == 0)
        return KD_OK;
    eval_buffers e;
    KD_CHECK(eval_alloc(rbm, &e, "the pseudo-likelihood"));
    const double *vd = e.vd, *wd = e.wd;
    double *xd = e.xd, *pr = e.res;
    int failed = 0;
    double sum = 0;
    int count = units ? units : nv;
    for (size_t r0 = 0; r0 < data->n && !failed; r0 += EVAL_ROWS) {
        int m = eval_chunk(rbm, data, r0, &e);
#pragma omp parallel
        {
            int *idx = malloc((size_t)nv * sizeof *idx);
            double *gx = malloc((size_t)nh * sizeof *gx);
            if (!idx || !gx) {
#pragma omp atomic write
                failed = 1;
            }
#pragma omp for schedule(static)
            for (int r = 0; r < m; r++) {
                if (!idx || !gx)
                    continue;
                const double *v = vd + (size_t)r * (size_t)nv;
                double *x = xd + (size_t)r * (size_t)nh;
                for (int j = 0; j < nh; j++) {
                    x[j] += rbm->b[j];
                    gx[j] = kd_rbm_lgf(rbm->hid, x[j]);
                }
                for (int i = 0; i < nv; i++)
                    idx[i] = i;
                if (units) { /* first `units` entries of a Fisher–Yates shuffle */
                    kd_rng rng;
                    kd_rng_init(&rng, seed, stream + r0 + (uint64_t)r);
                    for (int t = 0; t < units; t++) {
                        int u = t + (int)kd_rng_below(&rng, (uint32_t)(nv - t));
                        int tmp = idx[t];
                        idx[t] = idx[u];
                        idx[u] = tmp;
                    }
                }
                double s = 0;
                for (int t = 0; t < count; t++) {
                    int i = idx[t];
                    /* flip: δ = v'_i - v_i; ΔF = F(v') - F(v) = -a_i δ - Σ_j [g(x_j + δW_ij) -
                     * g(x_j)] */
                    double d = rbm->vis == KD_UNITS_SPIN ? -2.0 * v[i] : 1.0 - 2.0 * v[i];
                    const double *wi = wd + (size_t)i * (size_t)nh;
                    double dF = -(double)rbm->a[i] * d;
                    for (int j = 0; j < nh; j++)
                        dF -= kd_rbm_lgf(rbm->hid, x[j] + d * wi[j]) - gx[j];
                    s -= kd_rbm_lgf(KD_UNITS_BINARY, -dF); /* ln σ(ΔF) = -softplus(-ΔF) */
                }
                pr[r] = s / count;
            }
            free(idx);
            free(gx);
        }
        for (int r = 0; r < m; r++)
            sum += pr[r];
    }
    eval_free(&e);
    if (failed)
        KD_FAIL(KD_ERR_NOMEM, "out of memory for the pseudo-likelihood of an RBM %d-%d", nv, nh);
    *pll = sum / (double)data->n;
    return KD_OK;
}

kd_status kd_rbm_reconstruction_error(const kd_rbm *rbm, const kd_rbm_data *data, double *err)
{
    int nv = rbm->nv, nh = rbm->nh;
    *err = NAN;
    KD_CHECK(kd_rbm_data_check(data, nv, "reconstruction data"));
    if (data->n == 0)
        return KD_OK;
    float *v = malloc((size_t)EVAL_ROWS * (size_t)(2 * nv + nh) * sizeof *v);
    double *er = malloc((size_t)EVAL_ROWS * sizeof *er);
    if (!v || !er) {
        free(v);
        free(er);
        KD_FAIL(KD_ERR_NOMEM, "out of memory for the reconstruction error of an RBM %d-%d", nv, nh);
    }
    float *h = v + (size_t)EVAL_ROWS * (size_t)nv, *y = h + (size_t)EVAL_ROWS * (size_t)nh;
    double sum = 0;
    for (size_t r0 = 0; r0 < data->n; r0 += EVAL_ROWS) {
        int m = data->n - r0 < EVAL_ROWS ? (int)(data->n - r0) : EVAL_ROWS;
        for (int r = 0; r < m; r++)
            kd_rbm_data_row(data, rbm->vis, nv, r0 + (size_t)r, v + (size_t)r * (size_t)nv);
        kd_sgemm(CblasNoTrans, CblasNoTrans, m, nh, nv, 1.0f, v, nv, rbm->w, nh, 0.0f, h, nh);
#pragma omp parallel for schedule(static)
        for (int r = 0; r < m; r++)
            kd_row_mean(rbm->hid, nh, h + (size_t)r * (size_t)nh, rbm->b, 1.0f,
                        h + (size_t)r * (size_t)nh);
        kd_sgemm(CblasNoTrans, CblasTrans, m, nv, nh, 1.0f, h, nh, rbm->w, nh, 0.0f, y, nv);
#pragma omp parallel for schedule(static)
        for (int r = 0; r < m; r++) {
            float *yr = y + (size_t)r * (size_t)nv;
            const float *vr = v + (size_t)r * (size_t)nv;
            kd_row_mean(rbm->vis, nv, yr, rbm->a, 1.0f, yr);
            double e = 0;
            for (int i = 0; i < nv; i++) {
                double d = (double)vr[i] - (double)yr[i];
                e += d * d;
            }
            er[r] = e;
        }
        for (int r = 0; r < m; r++)
            sum += er[r];
    }
    free(v);
    free(er);
    *err = sum / ((double)data->n * nv);
    return KD_OK;
}
