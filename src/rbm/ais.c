/* Annealed importance sampling estimate of ln Z (see kd_rbm_ais in rbm.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kadanoff/rng.h"
#include "rbm/kernels.h"
#include "rbm/rbm_internal.h"

void kd_ais_options_default(kd_ais_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->runs = 100;
    opt->steps = 1000;
    opt->betas = NULL;
    opt->base = KD_AIS_BASE_MODEL;
    opt->base_bias = NULL;
    opt->seed = 1;
}

static kd_status check_ais(const kd_rbm *rbm, const kd_ais_options *o)
{
    if (o->runs < 2)
        KD_FAIL(KD_ERR_INVALID, "AIS with %d runs, expected at least 2 (the error needs a spread)",
                o->runs);
    if (o->steps < 1)
        KD_FAIL(KD_ERR_INVALID, "AIS with %d intermediate distributions, expected at least 1",
                o->steps);
    if (o->base != KD_AIS_BASE_MODEL && o->base != KD_AIS_BASE_ZERO)
        KD_FAIL(KD_ERR_INVALID, "unknown AIS base model %d", (int)o->base);
    if (o->betas) {
        if (o->betas[0] != 0.0 || o->betas[o->steps] != 1.0)
            KD_FAIL(KD_ERR_INVALID, "AIS schedule runs from %g to %g, expected 0 to 1", o->betas[0],
                    o->betas[o->steps]);
        for (int k = 1; k <= o->steps; k++)
            if (!(o->betas[k] >= o->betas[k - 1]))
                KD_FAIL(KD_ERR_INVALID, "AIS schedule decreases at step %d (%g after %g)", k,
                        o->betas[k], o->betas[k - 1]);
    }
    if (o->base_bias)
        for (int i = 0; i < rbm->nv; i++)
            if (!isfinite(o->base_bias[i]))
                KD_FAIL(KD_ERR_INVALID, "AIS base bias %d is %g, expected a finite value", i,
                        o->base_bias[i]);
    return KD_OK;
}

kd_status kd_rbm_ais(const kd_rbm *rbm, const kd_ais_options *opt, kd_ais_result *out)
{
    KD_CHECK(check_ais(rbm, opt));
    KD_CHECK(kd_rbm_validate(rbm));
    const int nv = rbm->nv, nh = rbm->nh, R = opt->runs, K = opt->steps;
    const size_t snv = (size_t)nv, snh = (size_t)nh, sr = (size_t)R;
    double *wd = malloc(snv * snh * sizeof *wd);
    double *aa = malloc(snv * sizeof *aa);
    double *v = malloc(sr * snv * sizeof *v), *y = malloc(sr * snv * sizeof *y);
    double *x = malloc(sr * snh * sizeof *x), *h = malloc(sr * snh * sizeof *h);
    double *logw = calloc(sr, sizeof *logw);
    kd_rng *rng = malloc(sr * sizeof *rng);
    if (!wd || !aa || !v || !y || !x || !h || !logw || !rng) {
        free(wd), free(aa), free(v), free(y), free(x), free(h), free(logw), free(rng);
        KD_FAIL(KD_ERR_NOMEM, "out of memory for AIS with %d runs on an RBM %d-%d", R, nv, nh);
    }
    for (size_t k = 0; k < snv * snh; k++)
        wd[k] = rbm->w[k];
    /* base model A: independent visible units with biases aa, hidden units free:
     * Z_A = 2^nh Π_i Σ_{v_i} e^{aa_i v_i} */
    double log_za = (double)nh * log(2.0);
    for (int i = 0; i < nv; i++) {
        aa[i] = opt->base_bias ? opt->base_bias[i]
                               : (opt->base == KD_AIS_BASE_MODEL ? (double)rbm->a[i] : 0.0);
        log_za += kd_rbm_lgf(rbm->vis, aa[i]);
    }
    const double down_v = kd_rbm_down_value(rbm->vis), down_h = kd_rbm_down_value(rbm->hid);
    for (int r = 0; r < R; r++) {
        kd_rng_init(&rng[r], opt->seed, kd_rbm_stream(KD_RBM_STREAM_AIS, 0, (uint64_t)r));
        for (int i = 0; i < nv; i++)
            v[(size_t)r * snv + (size_t)i] =
                kd_rng_uniform(&rng[r]) < kd_rbm_prob_up(rbm->vis, aa[i]) ? 1.0 : down_v;
    }
    double beta_prev = 0;
    for (int k = 1; k <= K; k++) {
        double beta = opt->betas ? opt->betas[k] : (double)k / (double)K;
        kd_dgemm(CblasNoTrans, CblasNoTrans, R, nh, nv, 1.0, v, nv, wd, nh, 0.0, x, nh);
#pragma omp parallel for schedule(static)
        for (int r = 0; r < R; r++) {
            const double *vr = v + (size_t)r * snv;
            double *xr = x + (size_t)r * snh, *hr = h + (size_t)r * snh;
            /* ln p*_β(v) - ln p*_β'(v) = (β-β')(a - a_A)ᵀv + Σ_j [g(β x_j) - g(β' x_j)] */
            double lin = 0;
            for (int i = 0; i < nv; i++)
                lin += ((double)rbm->a[i] - aa[i]) * vr[i];
            double inc = (beta - beta_prev) * lin;
            for (int j = 0; j < nh; j++) {
                double xj = xr[j] + (double)rbm->b[j];
                inc += kd_rbm_lgf(rbm->hid, beta * xj) - kd_rbm_lgf(rbm->hid, beta_prev * xj);
                if (k < K) /* Gibbs at β: p(h_j | v) ∝ e^{β h_j x_j} */
                    hr[j] = kd_rng_uniform(&rng[r]) < kd_rbm_prob_up(rbm->hid, beta * xj) ? 1.0
                                                                                          : down_h;
            }
            logw[r] += inc;
        }
        if (k < K) {
            kd_dgemm(CblasNoTrans, CblasTrans, R, nv, nh, 1.0, h, nh, wd, nh, 0.0, y, nv);
#pragma omp parallel for schedule(static)
            for (int r = 0; r < R; r++) {
                double *vr = v + (size_t)r * snv;
                const double *yr = y + (size_t)r * snv;
                /* p(v_i | h) ∝ e^{v_i ((1-β) a_A,i + β (a_i + Σ_j W_ij h_j))} */
                for (int i = 0; i < nv; i++) {
                    double field = (1.0 - beta) * aa[i] + beta * ((double)rbm->a[i] + yr[i]);
                    vr[i] =
                        kd_rng_uniform(&rng[r]) < kd_rbm_prob_up(rbm->vis, field) ? 1.0 : down_v;
                }
            }
        }
        beta_prev = beta;
    }
    /* ln mean(e^w) with the weights scaled by e^{-max w}; delta-method error */
    double mx = -INFINITY;
    for (int r = 0; r < R; r++)
        if (logw[r] > mx)
            mx = logw[r];
    double s1 = 0, s2 = 0;
    for (int r = 0; r < R; r++) {
        double e = exp(logw[r] - mx);
        s1 += e;
        s2 += e * e;
    }
    double mean = s1 / R, var = (s2 - s1 * mean) / (R - 1);
    if (var < 0)
        var = 0;
    out->log_z_base = log_za;
    out->log_z = log_za + mx + log(mean);
    out->log_z_err = sqrt(var / R) / mean;
    out->ess = s1 * s1 / s2;
    free(wd), free(aa), free(v), free(y), free(x), free(h), free(logw), free(rng);
    if (!isfinite(out->log_z))
        KD_FAIL(KD_ERR_NUMERIC, "AIS estimate of ln Z is %g", out->log_z);
    return KD_OK;
}
