/* Tests of the RBM engine: every closed form against brute-force enumeration
 * over all (v, h), the fast kernels against their references, sampling
 * against exact distributions, AIS against exact ln Z, DBN helpers, errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kadanoff/rbm.h"
#include "kadanoff/rng.h"
#include "rbm/kernels.h"
#include "rbm_model.h"
#include "testing.h"

static void state(kd_units u, int n, unsigned idx, double *s)
{
    for (int i = 0; i < n; i++)
        s[i] = (idx >> i) & 1u ? 1.0 : (u == KD_UNITS_SPIN ? -1.0 : 0.0);
}

/* E(v,h) = -vᵀWh - aᵀv - bᵀh, written out independently of the library. */
static double energy_bf(const kd_rbm *r, const double *v, const double *h)
{
    int nv = kd_rbm_nv(r), nh = kd_rbm_nh(r);
    const float *W = kd_rbm_weights(r), *a = kd_rbm_visible_bias(r), *b = kd_rbm_hidden_bias(r);
    double e = 0;
    for (int i = 0; i < nv; i++)
        for (int j = 0; j < nh; j++)
            e -= v[i] * (double)W[i * nh + j] * h[j];
    for (int i = 0; i < nv; i++)
        e -= (double)a[i] * v[i];
    for (int j = 0; j < nh; j++)
        e -= (double)b[j] * h[j];
    return e;
}

static double lse2(double x, double y)
{
    double m = x > y ? x : y;
    return m == -INFINITY ? m : m + log(exp(x - m) + exp(y - m));
}

/* Brute force over every (v, h): table of -E, ln Z, marginals. */
typedef struct {
    int nv, nh;
    double *negE; /* [iv << nh | ih] */
    double log_z;
} brute;

static void brute_init(brute *B, const kd_rbm *r)
{
    int nv = kd_rbm_nv(r), nh = kd_rbm_nh(r);
    double v[32], h[32];
    B->nv = nv;
    B->nh = nh;
    B->negE = malloc(sizeof(double) << (nv + nh));
    B->log_z = -INFINITY;
    for (unsigned iv = 0; iv < 1u << nv; iv++)
        for (unsigned ih = 0; ih < 1u << nh; ih++) {
            state(kd_rbm_visible_units(r), nv, iv, v);
            state(kd_rbm_hidden_units(r), nh, ih, h);
            double ne = -energy_bf(r, v, h);
            B->negE[(iv << nh) | ih] = ne;
            B->log_z = lse2(B->log_z, ne);
        }
}

/* ln Σ_h e^{-E(v,h)} = -F(v) */
static double bf_neg_fv(const brute *B, unsigned iv)
{
    double s = -INFINITY;
    for (unsigned ih = 0; ih < 1u << B->nh; ih++)
        s = lse2(s, B->negE[(iv << B->nh) | ih]);
    return s;
}
static double bf_neg_fh(const brute *B, unsigned ih)
{
    double s = -INFINITY;
    for (unsigned iv = 0; iv < 1u << B->nv; iv++)
        s = lse2(s, B->negE[(iv << B->nh) | ih]);
    return s;
}

static void test_closed_forms(void)
{
    /* Every combination of unit types and bias flags, on a 5-4 and a 3-6 model
     * (so that SUM_SMALLER picks each layer). Tolerance 1e-12 relative: the
     * closed forms and the brute-force sums differ only by rounding in
     * sums of <= 2^9 terms of size O(10) (~1e-14), with margin. */
    const int shapes[2][2] = {{5, 4}, {3, 6}};
    for (int sh = 0; sh < 2; sh++)
        for (int uv = 0; uv < 2; uv++)
            for (int uh = 0; uh < 2; uh++)
                for (unsigned flags = 0; flags < 4; flags++) {
                    int nv = shapes[sh][0], nh = shapes[sh][1];
                    kd_rbm *r =
                        make_model(nv, nh, UNITS[uv], UNITS[uh], flags, 0.7, 0.5,
                                   (uint64_t)(100 + sh * 16 + uv * 8 + uh * 4 + (int)flags));
                    char tag[64];
                    snprintf(tag, sizeof tag, "%d-%d %s/%s flags %u", nv, nh,
                             kd_units_name(UNITS[uv]), kd_units_name(UNITS[uh]), flags);
                    brute B;
                    brute_init(&B, r);
                    double v[8], h[8], lz[3];
                    int ok_e = 1, ok_fv = 1, ok_fh = 1, ok_ph = 1, ok_pv = 1, ok_lph = 1;
                    double worst = 0;
                    for (unsigned iv = 0; iv < 1u << nv; iv++) {
                        state(UNITS[uv], nv, iv, v);
                        double nfv = bf_neg_fv(&B, iv);
                        double fv = kd_rbm_free_energy_visible(r, v);
                        ok_fv &= fabs(fv + nfv) <= 1e-12 * fmax(1.0, fabs(nfv));
                        /* p(h_j = up | v) and E[h_j | v] by summing the joint */
                        double prob[8], mean[8], pb[8] = {0}, mb[8] = {0};
                        kd_rbm_hidden_given_visible(r, v, prob, mean);
                        for (unsigned ih = 0; ih < 1u << nh; ih++) {
                            state(UNITS[uh], nh, ih, h);
                            double p = exp(B.negE[(iv << nh) | ih] - nfv);
                            double e = kd_rbm_energy(r, v, h);
                            ok_e &= fabs(e + B.negE[(iv << nh) | ih]) <= 1e-12 * fmax(1.0, fabs(e));
                            double lph = kd_rbm_log_prob_hidden_given_visible(r, v, h);
                            ok_lph &= fabs(lph - log(p)) <= 1e-12 * fmax(1.0, fabs(lph));
                            for (int j = 0; j < nh; j++) {
                                if ((ih >> j) & 1u)
                                    pb[j] += p;
                                mb[j] += p * h[j];
                            }
                        }
                        for (int j = 0; j < nh; j++) {
                            double d = fmax(fabs(prob[j] - pb[j]), fabs(mean[j] - mb[j]));
                            worst = fmax(worst, d);
                            ok_ph &= d <= 1e-13; /* probabilities are O(1): absolute */
                        }
                    }
                    for (unsigned ih = 0; ih < 1u << nh; ih++) {
                        state(UNITS[uh], nh, ih, h);
                        double nfh = bf_neg_fh(&B, ih);
                        ok_fh &= fabs(kd_rbm_free_energy_hidden(r, h) + nfh) <=
                                 1e-12 * fmax(1.0, fabs(nfh));
                        double prob[8], mean[8], pb[8] = {0}, mb[8] = {0};
                        kd_rbm_visible_given_hidden(r, h, prob, mean);
                        for (unsigned iv = 0; iv < 1u << nv; iv++) {
                            state(UNITS[uv], nv, iv, v);
                            double p = exp(B.negE[(iv << nh) | ih] - nfh);
                            for (int i = 0; i < nv; i++) {
                                if ((iv >> i) & 1u)
                                    pb[i] += p;
                                mb[i] += p * v[i];
                            }
                        }
                        for (int i = 0; i < nv; i++)
                            ok_pv &=
                                fabs(prob[i] - pb[i]) <= 1e-13 && fabs(mean[i] - mb[i]) <= 1e-13;
                    }
                    kd_test(ok_e, "%s: energy equals -vᵀWh - aᵀv - bᵀh", tag);
                    kd_test(ok_fv, "%s: F(v) equals -ln Σ_h e^{-E}", tag);
                    kd_test(ok_fh, "%s: F(h) equals -ln Σ_v e^{-E}", tag);
                    kd_test(ok_ph, "%s: p(h|v) and E[h|v] equal brute force (worst %.2g)", tag,
                            worst);
                    kd_test(ok_pv, "%s: p(v|h) and E[v|h] equal brute force", tag);
                    kd_test(ok_lph, "%s: ln p(h|v) equals brute force", tag);
                    kd_rbm_sum over[3] = {KD_RBM_SUM_VISIBLE, KD_RBM_SUM_HIDDEN,
                                          KD_RBM_SUM_SMALLER};
                    for (int k = 0; k < 3; k++) {
                        kd_status st = kd_rbm_log_z(r, over[k], &lz[k]);
                        char what[96];
                        snprintf(what, sizeof what, "%s: ln Z summing %s", tag,
                                 k == 0   ? "visible"
                                 : k == 1 ? "hidden"
                                          : "smaller");
                        kd_test(st == KD_OK, "%s returns KD_OK", what);
                        kd_test_rel(lz[k], B.log_z, 1e-12, what);
                    }
                    /* ln p(v) for all v, KL, mean log-likelihood, pseudo-likelihood */
                    double logp[64], P[64], tot = 0;
                    kd_rbm_visible_log_prob_all(r, NAN, logp);
                    int ok_lp = 1;
                    kd_rng g;
                    kd_rng_init(&g, 7, (uint64_t)flags);
                    for (unsigned iv = 0; iv < 1u << nv; iv++) {
                        ok_lp &= fabs(logp[iv] - (bf_neg_fv(&B, iv) - B.log_z)) <=
                                 1e-12 * fmax(1.0, fabs(logp[iv]));
                        P[iv] = kd_rng_uniform(&g) * (iv % 3 == 0 ? 0.0 : 1.0);
                        tot += P[iv];
                    }
                    kd_test(ok_lp, "%s: ln p(v) for all states equals brute force", tag);
                    double kl_bf = 0;
                    for (unsigned iv = 0; iv < 1u << nv; iv++) {
                        P[iv] /= tot;
                        if (P[iv] > 0)
                            kl_bf += P[iv] * (log(P[iv]) - (bf_neg_fv(&B, iv) - B.log_z));
                    }
                    double kl = NAN;
                    kd_rbm_kl(r, P, &kl);
                    kd_test_rel(kl, kl_bf, 1e-11,
                                "KL(P‖p) vs brute force"); /* KL is a difference of O(1) terms */

                    /* dataset: every visible state twice in spins */
                    int n = 2 << nv;
                    int8_t *sp = malloc((size_t)n * (size_t)nv);
                    for (int k = 0; k < n; k++)
                        for (int i = 0; i < nv; i++)
                            sp[k * nv + i] = ((k >> 1) >> i) & 1 ? 1 : -1;
                    kd_rbm_data d = {sp, NULL, NULL, (size_t)n};
                    double ll = NAN, ll_bf = 0, pll = NAN, pll_bf = 0;
                    kd_rbm_loglik(r, &d, NAN, &ll);
                    for (int k = 0; k < n; k++) {
                        unsigned iv = (unsigned)(k >> 1);
                        ll_bf += bf_neg_fv(&B, iv) - B.log_z;
                        for (int i = 0; i < nv;
                             i++) { /* p(v_i | rest) = p(v) / (p(v) + p(v with i flipped)) */
                            double a = bf_neg_fv(&B, iv), c = bf_neg_fv(&B, iv ^ (1u << i));
                            pll_bf += a - lse2(a, c);
                        }
                    }
                    ll_bf /= n;
                    pll_bf /= (double)n * nv;
                    kd_test_rel(ll, ll_bf, 1e-12, "mean exact log-likelihood vs brute force");
                    kd_rbm_pseudo_loglik(r, &d, 0, 1, 0, &pll);
                    kd_test_rel(pll, pll_bf, 1e-12,
                                "pseudo-log-likelihood (all units) vs brute force");
                    double pll_n = NAN;
                    kd_rbm_pseudo_loglik(r, &d, nv, 1, 0, &pll_n);
                    kd_test(pll_n == pll,
                            "pseudo-likelihood with units = nv is the all-units value");
                    free(sp);
                    free(B.negE);
                    kd_rbm_free(r);
                }
}

/* The random-unit pseudo-likelihood is an unbiased estimate of the all-unit one. */
static void test_pll_estimator(void)
{
    int nv = 6, nh = 4, n = 20000;
    kd_rbm *r = make_model(nv, nh, KD_UNITS_SPIN, KD_UNITS_BINARY, 0, 0.8, 0.4, 5);
    brute B;
    brute_init(&B, r);
    int8_t *sp = malloc((size_t)n * (size_t)nv);
    kd_rng g;
    kd_rng_init(&g, 3, 0);
    double mean = 0, sq = 0; /* moments of the single-unit term l_ri over rows and units */
    for (int k = 0; k < n; k++) {
        unsigned iv = kd_rng_below(&g, 1u << nv);
        for (int i = 0; i < nv; i++) {
            sp[k * nv + i] = (iv >> i) & 1 ? 1 : -1;
            double a = bf_neg_fv(&B, iv), c = bf_neg_fv(&B, iv ^ (1u << i));
            double l = a - lse2(a, c);
            mean += l;
            sq += l * l;
        }
    }
    mean /= (double)n * nv;
    double var = sq / ((double)n * nv) - mean * mean;
    kd_rbm_data d = {sp, NULL, NULL, (size_t)n};
    double est = NAN, all = NAN;
    kd_rbm_pseudo_loglik(r, &d, 1, 11, 0, &est);
    kd_rbm_pseudo_loglik(r, &d, 0, 11, 0, &all);
    kd_test_rel(all, mean, 1e-12, "pseudo-likelihood of 20000 rows vs brute force");
    /* One random unit per row: the error's sd is at most sqrt(var/n) (only the
     * within-row part of var counts). 5σ, not 4: the terms ln p(v_i|v_-i) are
     * skewed (rare large negative values), and 4000 repetitions showed a
     * slightly heavier tail than the normal one beyond 3.5σ. */
    kd_test_sigma(est, sqrt(var / n), all, 5.0, "pseudo-likelihood, 1 random unit per row");
    free(sp);
    free(B.negE);
    kd_rbm_free(r);
}

static void test_kernels(void)
{
    /* Philox blocks: AVX2 and scalar paths give kd_rng's words exactly, including
     * a start just below a 2^32 block boundary (carry into the high word). */
    uint64_t starts[3] = {0, 5, 0xFFFFFFF3ULL};
    int ok = 1;
    for (int s = 0; s < 3; s++) {
        uint32_t a[4 * 37], b[4 * 37];
        kd_philox_fill(0x1234567890abcdefULL, 0xfeedULL << 40, starts[s], 37, a);
        kd_philox_fill_ref(0x1234567890abcdefULL, 0xfeedULL << 40, starts[s], 37, b);
        kd_rng g;
        kd_rng_init(&g, 0x1234567890abcdefULL, 0xfeedULL << 40);
        g.ctr.v[0] = (uint32_t)starts[s];
        g.ctr.v[1] = (uint32_t)(starts[s] >> 32);
        for (int k = 0; k < 4 * 37; k++) {
            uint32_t w = kd_rng_u32(&g);
            ok &= a[k] == w && b[k] == w;
        }
    }
    kd_test(ok, "Philox fill (vector and scalar) equals kd_rng_u32 word for word");

    /* logistic function: relative error <= 5e-7 (Taylor remainder 1.2e-7 plus
     * ~6 float roundings of 6e-8), exact limits, NaN propagates */
    double worst = 0;
    for (int k = -200000; k <= 200000; k++) {
        float x = (float)k * 1e-4f * 3.0f;
        double ref = 1.0 / (1.0 + exp(-(double)x));
        worst = fmax(worst, fabs(kd_sigmoidf(x) - ref) / ref);
    }
    kd_test(worst <= 5e-7, "fast logistic: max relative error %.3g on [-60, 60]", worst);
    kd_test(kd_sigmoidf(200.0f) == 1.0f && kd_sigmoidf(-200.0f) >= 0.0f &&
                kd_sigmoidf(-200.0f) < 1e-37f && isnan(kd_sigmoidf(NAN)),
            "fast logistic limits: σ(200) = 1, σ(-200) ≈ 0, σ(NaN) = NaN");

    /* sampling kernel: frequency of "up" matches p within 5σ of a binomial */
    enum { N = 200000 };
    static float act[N], out[N];
    float bias[1] = {0};
    (void)bias;
    for (int u = 0; u < 2; u++) {
        for (int j = 0; j < N; j++)
            act[j] = 0.3f;
        kd_row_sample(UNITS[u], N, act, NULL, 9, 1, 0, out);
        double p = 1.0 / (1.0 + exp(-(u == 0 ? 0.6 : 0.3))), up = 0;
        for (int j = 0; j < N; j++)
            up += out[j] == 1.0f;
        kd_test_sigma(up / N, sqrt(p * (1 - p) / N), p, 5.0,
                      u == 0 ? "spin unit P(+1) = σ(2x)" : "binary unit P(1) = σ(x)");
    }
}

/* Gibbs chains on a tiny model reach p(v): every state's frequency within 5σ. */
static void test_gibbs(void)
{
    for (int uv = 0; uv < 2; uv++) {
        int nv = 4, nh = 3, n = 40000;
        kd_rbm *r = make_model(nv, nh, UNITS[uv], UNITS[1 - uv], 0, 0.8, 0.3, 21);
        double logp[16];
        kd_rbm_visible_log_prob_all(r, NAN, logp);
        float *v = malloc((size_t)n * nv * sizeof *v);
        for (int k = 0; k < n * nv; k++)
            v[k] = 1.0f;
        kd_status st = kd_rbm_gibbs(r, v, (size_t)n, 30, 4, 0, NULL);
        double cnt[16] = {0};
        for (int k = 0; k < n; k++) {
            unsigned idx = 0;
            for (int i = 0; i < nv; i++)
                idx |= (v[k * nv + i] == 1.0f) << i;
            cnt[idx] += 1;
        }
        int ok = st == KD_OK;
        double worst = 0;
        for (int s = 0; s < 16; s++) {
            double p = exp(logp[s]), z = fabs(cnt[s] / n - p) / sqrt(p * (1 - p) / n);
            worst = fmax(worst, z);
        }
        ok &= worst < 5.0; /* 16 states at 5σ: false alarm rate < 1e-5 */
        kd_test(ok, "Gibbs sampling (%s visible) reproduces p(v): worst deviation %.2f σ",
                kd_units_name(UNITS[uv]), worst);

        /* mean-field and up/down means equal the double conditionals (float: 1e-6) */
        float vf[4] = {1, 0, 1, 1}, hf[3];
        if (UNITS[uv] == KD_UNITS_SPIN)
            vf[1] = -1;
        double vd[4], mean[3];
        for (int i = 0; i < nv; i++)
            vd[i] = vf[i];
        kd_rbm_up(r, vf, 1, KD_RBM_MEAN, 0, 0, hf);
        kd_rbm_hidden_given_visible(r, vd, NULL, mean);
        double d = 0;
        for (int j = 0; j < nh; j++)
            d = fmax(d, fabs(hf[j] - mean[j]));
        kd_test(d < 1e-6, "kd_rbm_up mean equals E[h|v] (float, |diff| %.2g)", d);
        double hd[3], vm[4];
        for (int j = 0; j < nh; j++)
            hd[j] = hf[j];
        float vout[4];
        kd_rbm_down(r, hf, 1, KD_RBM_MEAN, 0, 0, vout);
        kd_rbm_visible_given_hidden(r, hd, NULL, vm);
        d = 0;
        for (int i = 0; i < nv; i++)
            d = fmax(d, fabs(vout[i] - vm[i]));
        kd_test(d < 1e-6, "kd_rbm_down mean equals E[v|h] (float, |diff| %.2g)", d);
        float vmf[4];
        memcpy(vmf, vf, sizeof vf);
        kd_rbm_mean_field(r, vmf, 1, 1, NULL);
        d = 0;
        for (int i = 0; i < nv; i++)
            d = fmax(d, fabs(vmf[i] - vout[i]));
        kd_test(d == 0, "one mean-field step is up-mean then down-mean");

        /* reconstruction error: mean-field reconstruction in double by hand */
        int8_t sp[3 * 4] = {1, -1, 1, 1, -1, -1, 1, -1, 1, 1, 1, 1};
        kd_rbm_data dd = {sp, NULL, NULL, 3};
        double err = NAN, ref = 0;
        kd_rbm_reconstruction_error(r, &dd, &err);
        for (int k = 0; k < 3; k++) {
            double vv[4], hm[3], vr[4];
            for (int i = 0; i < nv; i++)
                vv[i] = UNITS[uv] == KD_UNITS_SPIN ? sp[k * 4 + i] : (sp[k * 4 + i] + 1) / 2;
            kd_rbm_hidden_given_visible(r, vv, NULL, hm);
            kd_rbm_visible_given_hidden(r, hm, NULL, vr);
            for (int i = 0; i < nv; i++)
                ref += (vv[i] - vr[i]) * (vv[i] - vr[i]);
        }
        ref /= 12;
        kd_test_rel(err, ref, 1e-5,
                    "reconstruction error (float path) vs double"); /* float32 means */
        free(v);
        kd_rbm_free(r);
    }
}

/* AIS agrees with exact ln Z within its reported error on an enumerable model
 * with non-trivial weights; the error bar is honest and shrinks with steps. */
static void test_ais(void)
{
    for (int u = 0; u < 2; u++) {
        kd_rbm *r =
            make_model(20, 12, UNITS[u], UNITS[u], 0, u == 0 ? 0.3 : 0.5, 0.2, 31 + (uint64_t)u);
        double lz;
        kd_rbm_log_z(r, KD_RBM_SUM_SMALLER, &lz);
        kd_ais_options o;
        kd_ais_options_default(&o);
        o.runs = 100;
        o.steps = 1000;
        o.seed = 5;
        kd_ais_result res;
        kd_status st = kd_rbm_ais(r, &o, &res);
        kd_test(st == KD_OK, "AIS runs");
        char what[96];
        snprintf(what, sizeof what, "AIS ln Z (%s units, 20-12, linear β, K=1000, M=100)",
                 kd_units_name(UNITS[u]));
        kd_test_sigma(res.log_z, res.log_z_err, lz, 3.5, what);
        kd_test(fabs(res.log_z - res.log_z_base) > 10 * res.log_z_err,
                "AIS moved away from the base model (ln Z - ln Z_A = %.3f)",
                res.log_z - res.log_z_base);
        /* user schedule: denser near β = 1, zero base */
        double *betas = malloc(501 * sizeof *betas);
        for (int k = 0; k <= 500; k++)
            betas[k] = sin(1.5707963267948966 * k / 500.0);
        betas[500] = 1.0;
        o.steps = 500;
        o.betas = betas;
        o.base = KD_AIS_BASE_ZERO;
        st = kd_rbm_ais(r, &o, &res);
        snprintf(what, sizeof what, "AIS ln Z (%s units, sine schedule, zero base)",
                 kd_units_name(UNITS[u]));
        kd_test(st == KD_OK, "AIS with a user schedule runs");
        kd_test_sigma(res.log_z, res.log_z_err, lz, 3.5, what);
        free(betas);
        kd_rbm_free(r);
    }
}

static void test_dbn(void)
{
    kd_dbn *dbn;
    kd_dbn_new(&dbn);
    kd_rbm *r1 = make_model(12, 8, KD_UNITS_SPIN, KD_UNITS_BINARY, 0, 0.3, 0.1, 41);
    kd_rbm *r2 = make_model(8, 5, KD_UNITS_BINARY, KD_UNITS_SPIN, 0, 0.3, 0.1, 42);
    kd_rbm *bad = make_model(7, 3, KD_UNITS_BINARY, KD_UNITS_SPIN, 0, 0.3, 0.1, 43);
    kd_test(kd_dbn_push(dbn, r1) == KD_OK && kd_dbn_push(dbn, r2) == KD_OK, "DBN push 12-8-5");
    kd_test(kd_dbn_push(dbn, bad) == KD_ERR_INVALID, "DBN refuses a layer of the wrong width: %s",
            kd_last_error());
    kd_rbm_free(bad);
    kd_test(kd_dbn_depth(dbn) == 2 && kd_dbn_width(dbn, 0) == 12 && kd_dbn_width(dbn, 2) == 5,
            "DBN depth and widths");
    /* receptive fields = W1 W2 */
    float rf[12 * 5];
    kd_dbn_receptive_fields(dbn, 2, rf);
    double d = 0;
    for (int i = 0; i < 12; i++)
        for (int k = 0; k < 5; k++) {
            double s = 0;
            for (int j = 0; j < 8; j++)
                s += (double)kd_rbm_weights(r1)[i * 8 + j] * kd_rbm_weights(r2)[j * 5 + k];
            d = fmax(d, fabs(s - rf[i * 5 + k]));
        }
    kd_test(d < 1e-6, "receptive fields of level 2 equal W1·W2 (|diff| %.2g)",
            d); /* float sums of 8 */
    float rf1[12 * 8];
    kd_dbn_receptive_fields(dbn, 1, rf1);
    kd_test(memcmp(rf1, kd_rbm_weights(r1), sizeof rf1) == 0, "receptive fields of level 1 are W1");
    /* up pass = composition of kd_rbm_up (means), down pass likewise */
    int8_t sp[2 * 12];
    for (int k = 0; k < 24; k++)
        sp[k] = (k * 7) % 3 ? 1 : -1;
    kd_rbm_data data = {sp, NULL, NULL, 2};
    float top[2 * 5], h1[2 * 8], h2[2 * 5], v0[2 * 12];
    kd_dbn_up(dbn, &data, 2, KD_RBM_MEAN, 0, 0, top);
    kd_rbm_spins_to_values(KD_UNITS_SPIN, sp, 24, v0);
    kd_rbm_up(r1, v0, 2, KD_RBM_MEAN, 0, 0, h1);
    kd_rbm_up(r2, h1, 2, KD_RBM_MEAN, 0, 0, h2);
    kd_test(memcmp(top, h2, sizeof top) == 0, "DBN up pass (means) = kd_rbm_up twice");
    float rec[2 * 12], d1[2 * 8], d0[2 * 12];
    kd_dbn_reconstruct(dbn, &data, 2, KD_RBM_MEAN, 0, 0, rec);
    kd_rbm_down(r2, top, 2, KD_RBM_MEAN, 0, 0, d1);
    kd_rbm_down(r1, d1, 2, KD_RBM_MEAN, 0, 0, d0);
    kd_test(memcmp(rec, d0, sizeof rec) == 0, "DBN reconstruction = up then down");
    float s1[2 * 5], s2[2 * 5];
    kd_dbn_up(dbn, &data, 2, KD_RBM_SAMPLE, 3, 0, s1);
    kd_dbn_up(dbn, &data, 2, KD_RBM_SAMPLE, 3, 0, s2);
    int pm = 1;
    for (int k = 0; k < 10; k++)
        pm &= s1[k] == 1.0f || s1[k] == -1.0f;
    kd_test(pm && memcmp(s1, s2, sizeof s1) == 0, "DBN sampled up pass: ±1 values, reproducible");
    /* level 3 into a heap buffer of exactly width(0) × width(3), so the sanitizer
     * build catches any write beyond it (the intermediate products are wider) */
    {
        kd_rbm *r3 = make_model(5, 3, KD_UNITS_SPIN, KD_UNITS_SPIN, 0, 0.3, 0.1, 44);
        kd_test(kd_dbn_push(dbn, r3) == KD_OK, "DBN push 12-8-5-3");
        float *rf3 = malloc(12 * 3 * sizeof *rf3);
        kd_dbn_receptive_fields(dbn, 3, rf3);
        double d3 = 0;
        for (int i = 0; i < 12; i++)
            for (int m = 0; m < 3; m++) {
                double s3 = 0;
                for (int j = 0; j < 8; j++)
                    for (int k = 0; k < 5; k++)
                        s3 += (double)kd_rbm_weights(r1)[i * 8 + j] * kd_rbm_weights(r2)[j * 5 + k] *
                              kd_rbm_weights(r3)[k * 3 + m];
                d3 = fmax(d3, fabs(s3 - rf3[i * 3 + m]));
            }
        kd_test(d3 < 1e-6, "receptive fields of level 3 equal W1·W2·W3 (|diff| %.2g)", d3);
        free(rf3);
    }
    kd_dbn_free(dbn);
    kd_dbn_free(NULL);
}

static void test_errors(void)
{
    kd_rbm *r = NULL;
    kd_test(kd_rbm_new(&r, 0, 5, KD_UNITS_SPIN, KD_UNITS_SPIN, 0) == KD_ERR_INVALID && !r,
            "kd_rbm_new refuses 0 visible units: %s", kd_last_error());
    kd_test(kd_rbm_new(&r, 3, 5, (kd_units)7, KD_UNITS_SPIN, 0) == KD_ERR_INVALID,
            "kd_rbm_new refuses an unknown unit type");
    kd_units u;
    kd_test(kd_units_parse("binary", &u) == KD_OK && u == KD_UNITS_BINARY &&
                kd_units_parse("ising", &u) == KD_ERR_INVALID,
            "unit names parse: %s", kd_last_error());
    kd_rbm_free(NULL);
    kd_rbm_new(&r, 30, 25, KD_UNITS_SPIN, KD_UNITS_SPIN, 0);
    double lz;
    kd_test(kd_rbm_log_z(r, KD_RBM_SUM_SMALLER, &lz) == KD_ERR_UNSUPPORTED &&
                strstr(kd_last_error(), "AIS") != NULL,
            "exact ln Z of a 30-25 model is refused: %s", kd_last_error());
    kd_rbm_weights(r)[7] = NAN;
    kd_test(kd_rbm_validate(r) == KD_ERR_NUMERIC, "validate finds a NaN weight: %s",
            kd_last_error());
    kd_rbm_free(r);
    r = make_model(4, 3, KD_UNITS_SPIN, KD_UNITS_SPIN, KD_RBM_NO_HIDDEN_BIAS, 0.1, 0.1, 1);
    double P[16] = {0.5, 0.6};
    kd_test(kd_rbm_kl(r, P, &lz) == KD_ERR_INVALID, "KL refuses an unnormalised P: %s",
            kd_last_error());
    int8_t bad[4] = {1, 0, 1, -1};
    kd_rbm_data d = {bad, NULL, NULL, 1};
    kd_rbm_trainer *t = NULL;
    kd_rbm_train_options o;
    kd_rbm_train_options_default(&o);
    kd_test(kd_rbm_trainer_new(&t, r, &o, &d, NULL) == KD_ERR_INVALID && !t,
            "trainer refuses a spin 0: %s", kd_last_error());
    int8_t good[4] = {1, -1, 1, -1};
    d.spins = good;
    o.lr = -1;
    kd_test(kd_rbm_trainer_new(&t, r, &o, &d, NULL) == KD_ERR_INVALID,
            "trainer refuses a negative learning rate: %s", kd_last_error());
    kd_rbm_trainer_free(NULL);
    kd_ais_options ao;
    kd_ais_options_default(&ao);
    ao.runs = 1;
    kd_ais_result res;
    kd_test(kd_rbm_ais(r, &ao, &res) == KD_ERR_INVALID, "AIS refuses 1 run: %s", kd_last_error());
    kd_rbm_free(r);
}

int main(void)
{
    test_kernels();
    test_closed_forms();
    test_pll_estimator();
    test_gibbs();
    test_ais();
    test_dbn();
    test_errors();
    return kd_test_done();
}
