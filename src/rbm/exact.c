/* Exact closed forms and enumeration of a layer (double precision). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "rbm/kernels.h"
#include "rbm/rbm_internal.h"

/* ---- single states ---------------------------------------------------------- */

double kd_rbm_energy(const kd_rbm *rbm, const double *v, const double *h)
{
    /* E = -Σ_i v_i (a_i + Σ_j W_ij h_j) - Σ_j b_j h_j */
    double e = 0;
    for (int i = 0; i < rbm->nv; i++) {
        const float *wi = rbm->w + (size_t)i * (size_t)rbm->nh;
        double y = rbm->a[i];
        for (int j = 0; j < rbm->nh; j++)
            y += (double)wi[j] * h[j];
        e -= v[i] * y;
    }
    for (int j = 0; j < rbm->nh; j++)
        e -= (double)rbm->b[j] * h[j];
    return e;
}

/* x_j = b_j + Σ_i v_i W_ij */
static void hidden_field(const kd_rbm *rbm, const double *v, double *x)
{
    for (int j = 0; j < rbm->nh; j++)
        x[j] = rbm->b[j];
    for (int i = 0; i < rbm->nv; i++) {
        if (v[i] == 0)
            continue;
        const float *wi = rbm->w + (size_t)i * (size_t)rbm->nh;
        for (int j = 0; j < rbm->nh; j++)
            x[j] += v[i] * (double)wi[j];
    }
}

/* y_i = a_i + Σ_j W_ij h_j */
static double visible_field(const kd_rbm *rbm, const double *h, int i)
{
    const float *wi = rbm->w + (size_t)i * (size_t)rbm->nh;
    double y = rbm->a[i];
    for (int j = 0; j < rbm->nh; j++)
        y += (double)wi[j] * h[j];
    return y;
}

double kd_rbm_free_energy_visible(const kd_rbm *rbm, const double *v)
{
    /* F(v) = -aᵀv - Σ_j g_h(x_j): the hidden units summed out one by one */
    double *x = malloc((size_t)rbm->nh * sizeof *x);
    if (!x)
        return NAN;
    hidden_field(rbm, v, x);
    double f = 0;
    for (int i = 0; i < rbm->nv; i++)
        f -= (double)rbm->a[i] * v[i];
    for (int j = 0; j < rbm->nh; j++)
        f -= kd_rbm_lgf(rbm->hid, x[j]);
    free(x);
    return f;
}

double kd_rbm_free_energy_hidden(const kd_rbm *rbm, const double *h)
{
    double f = 0;
    for (int j = 0; j < rbm->nh; j++)
        f -= (double)rbm->b[j] * h[j];
    for (int i = 0; i < rbm->nv; i++)
        f -= kd_rbm_lgf(rbm->vis, visible_field(rbm, h, i));
    return f;
}

void kd_rbm_hidden_given_visible(const kd_rbm *rbm, const double *v, double *prob, double *mean)
{
    double *x = malloc((size_t)rbm->nh * sizeof *x);
    if (!x) {
        for (int j = 0; j < rbm->nh; j++) {
            if (prob)
                prob[j] = NAN;
            if (mean)
                mean[j] = NAN;
        }
        return;
    }
    hidden_field(rbm, v, x);
    for (int j = 0; j < rbm->nh; j++) {
        if (prob)
            prob[j] = kd_rbm_prob_up(rbm->hid, x[j]);
        if (mean)
            mean[j] = kd_rbm_mean(rbm->hid, x[j]);
    }
    free(x);
}

void kd_rbm_visible_given_hidden(const kd_rbm *rbm, const double *h, double *prob, double *mean)
{
    for (int i = 0; i < rbm->nv; i++) {
        double y = visible_field(rbm, h, i);
        if (prob)
            prob[i] = kd_rbm_prob_up(rbm->vis, y);
        if (mean)
            mean[i] = kd_rbm_mean(rbm->vis, y);
    }
}

double kd_rbm_log_prob_hidden_given_visible(const kd_rbm *rbm, const double *v, const double *h)
{
    /* p(h|v) = Π_j e^{h_j x_j} / Σ_{h'} e^{h' x_j}  ⇒  ln p = Σ_j (h_j x_j - g(x_j)) */
    double *x = malloc((size_t)rbm->nh * sizeof *x);
    if (!x)
        return NAN;
    hidden_field(rbm, v, x);
    double lp = 0;
    for (int j = 0; j < rbm->nh; j++)
        lp += h[j] * x[j] - kd_rbm_lgf(rbm->hid, x[j]);
    free(x);
    return lp;
}

void kd_rbm_state_from_index(kd_units units, int n, uint64_t index, double *state)
{
    double down = kd_rbm_down_value(units);
    for (int i = 0; i < n; i++)
        state[i] = (index >> i) & 1u ? 1.0 : down;
}

/* ---- enumeration engine ---------------------------------------------------------
 *
 * Sum over the 2^m states s of one layer ("enumerated", m <= 24) with the other
 * layer (n units) summed out analytically:
 *     val(s) = csᵀs + Σ_k g_o(x_k),   x_k = co_k + Σ_i s_i M_ik,
 * which is -F(v) when the visible layer is enumerated and -F(h) otherwise.
 * States are visited in Gray-code order t -> t ^ (t >> 1) so that consecutive
 * states differ in one unit and x is updated in O(n); every chunk of 2^10
 * states starts from a freshly computed x to keep rounding drift below
 * ~1e-13. Chunks are grouped into a fixed number of parts, each with its own
 * accumulator, combined in part order: the result does not depend on the
 * number of threads.
 */
typedef struct {
    int m, n;
    kd_units us, uo;
    double *cs, *co, *M; /* m, n, m×n */
    double lin_down;     /* value of a down unit of the enumerated layer */
} enum_problem;

typedef void (*enum_visit)(void *ctx, int part, uint64_t state, const double *s, double val,
                           const double *x);

static void enum_problem_free(enum_problem *p)
{
    free(p->cs);
    free(p->co);
    free(p->M);
}

static kd_status enum_problem_init(enum_problem *p, const kd_rbm *rbm, kd_rbm_sum over)
{
    memset(p, 0, sizeof *p);
    if (over == KD_RBM_SUM_SMALLER)
        over = rbm->nh < rbm->nv ? KD_RBM_SUM_HIDDEN : KD_RBM_SUM_VISIBLE;
    if (over != KD_RBM_SUM_VISIBLE && over != KD_RBM_SUM_HIDDEN)
        KD_FAIL(KD_ERR_INVALID, "unknown layer choice %d for an exact sum", (int)over);
    int vis = over == KD_RBM_SUM_VISIBLE;
    p->m = vis ? rbm->nv : rbm->nh;
    p->n = vis ? rbm->nh : rbm->nv;
    if (p->m > KD_RBM_MAX_ENUM)
        KD_FAIL(KD_ERR_UNSUPPORTED,
                "exact sum over the %s layer of an RBM %d-%d needs 2^%d states; at most %d units "
                "can be enumerated (use AIS for larger models)",
                vis ? "visible" : "hidden", rbm->nv, rbm->nh, p->m, KD_RBM_MAX_ENUM);
    p->us = vis ? rbm->vis : rbm->hid;
    p->uo = vis ? rbm->hid : rbm->vis;
    p->lin_down = kd_rbm_down_value(p->us);
    p->cs = malloc((size_t)p->m * sizeof *p->cs);
    p->co = malloc((size_t)p->n * sizeof *p->co);
    p->M = malloc((size_t)p->m * (size_t)p->n * sizeof *p->M);
    if (!p->cs || !p->co || !p->M) {
        enum_problem_free(p);
        KD_FAIL(KD_ERR_NOMEM, "out of memory for an exact sum over an RBM %d-%d", rbm->nv, rbm->nh);
    }
    for (int i = 0; i < p->m; i++)
        p->cs[i] = vis ? rbm->a[i] : rbm->b[i];
    for (int k = 0; k < p->n; k++)
        p->co[k] = vis ? rbm->b[k] : rbm->a[k];
    for (int i = 0; i < rbm->nv; i++)
        for (int j = 0; j < rbm->nh; j++) {
            double w = rbm->w[(size_t)i * (size_t)rbm->nh + (size_t)j];
            if (vis)
                p->M[(size_t)i * (size_t)rbm->nh + (size_t)j] = w;
            else
                p->M[(size_t)j * (size_t)rbm->nv + (size_t)i] = w;
        }
    return KD_OK;
}

#define ENUM_CHUNK_BITS 10
#define ENUM_MAX_PARTS 64

static int enum_parts(const enum_problem *p)
{
    int cb = p->m < ENUM_CHUNK_BITS ? p->m : ENUM_CHUNK_BITS;
    uint64_t nchunks = (uint64_t)1 << (p->m - cb);
    return nchunks < ENUM_MAX_PARTS ? (int)nchunks : ENUM_MAX_PARTS;
}

/* Visit every state once; visit(ctx, part, ...) is called from one thread per
 * part, parts in any order, states of a part in a fixed order. */
static kd_status enum_run(const enum_problem *p, enum_visit visit, void *ctx)
{
    int cb = p->m < ENUM_CHUNK_BITS ? p->m : ENUM_CHUNK_BITS;
    uint64_t nchunks = (uint64_t)1 << (p->m - cb), chunk = (uint64_t)1 << cb;
    int nparts = enum_parts(p);
    int failed = 0;
#pragma omp parallel
    {
        double *s = malloc(((size_t)p->m + (size_t)p->n) * sizeof *s);
        double *x = s ? s + p->m : NULL;
        if (!s) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int part = 0; part < nparts; part++) {
            if (!s)
                continue;
            uint64_t q0 = nchunks * (uint64_t)part / (uint64_t)nparts;
            uint64_t q1 = nchunks * (uint64_t)(part + 1) / (uint64_t)nparts;
            for (uint64_t q = q0; q < q1; q++) {
                uint64_t t0 = q * chunk;
                uint64_t g = t0 ^ (t0 >> 1);
                double lin = 0;
                for (int i = 0; i < p->m; i++) {
                    s[i] = (g >> i) & 1u ? 1.0 : p->lin_down;
                    lin += p->cs[i] * s[i];
                }
                for (int k = 0; k < p->n; k++)
                    x[k] = p->co[k];
                for (int i = 0; i < p->m; i++) {
                    if (s[i] == 0)
                        continue;
                    const double *mi = p->M + (size_t)i * (size_t)p->n;
                    for (int k = 0; k < p->n; k++)
                        x[k] += s[i] * mi[k];
                }
                for (uint64_t t = t0; t < t0 + chunk; t++) {
                    if (t > t0) {
                        int i = __builtin_ctzll(t); /* Gray code flips bit ctz(t) */
                        double old = s[i];
                        s[i] = old == 1.0 ? p->lin_down : 1.0;
                        g ^= (uint64_t)1 << i;
                        double d = s[i] - old;
                        lin += d * p->cs[i];
                        const double *mi = p->M + (size_t)i * (size_t)p->n;
                        for (int k = 0; k < p->n; k++)
                            x[k] += d * mi[k];
                    }
                    double val = lin;
                    for (int k = 0; k < p->n; k++)
                        val += kd_rbm_lgf(p->uo, x[k]);
                    visit(ctx, part, g, s, val, x);
                }
            }
        }
        free(s);
    }
    if (failed)
        KD_FAIL(KD_ERR_NOMEM, "out of memory in an exact sum over 2^%d states", p->m);
    return KD_OK;
}

/* Streaming log-sum-exp per part. */
typedef struct {
    double max, sum;
} lse_acc;

static void lse_add(lse_acc *a, double val)
{
    if (val > a->max) {
        a->sum = a->sum * exp(a->max - val) + 1.0;
        a->max = val;
    } else {
        a->sum += exp(val - a->max);
    }
}

static void visit_lse(void *ctx, int part, uint64_t state, const double *s, double val,
                      const double *x)
{
    (void)state;
    (void)s;
    (void)x;
    lse_add((lse_acc *)ctx + part, val);
}

static kd_status enum_log_z(const enum_problem *p, double *log_z)
{
    lse_acc parts[ENUM_MAX_PARTS];
    for (int k = 0; k < ENUM_MAX_PARTS; k++) {
        parts[k].max = -INFINITY;
        parts[k].sum = 0;
    }
    KD_CHECK(enum_run(p, visit_lse, parts));
    int np = enum_parts(p);
    double mx = -INFINITY;
    for (int k = 0; k < np; k++)
        if (parts[k].max > mx)
            mx = parts[k].max;
    double sum = 0;
    for (int k = 0; k < np; k++)
        sum += parts[k].sum * exp(parts[k].max - mx);
    *log_z = mx + log(sum);
    if (!isfinite(*log_z))
        KD_FAIL(KD_ERR_NUMERIC, "ln Z is %g (parameters not finite?)", *log_z);
    return KD_OK;
}

kd_status kd_rbm_log_z(const kd_rbm *rbm, kd_rbm_sum over, double *log_z)
{
    enum_problem p;
    KD_CHECK(enum_problem_init(&p, rbm, over));
    kd_status st = enum_log_z(&p, log_z);
    enum_problem_free(&p);
    return st;
}

/* ln p(v) for every visible state. */
typedef struct {
    double *out, log_z;
} logp_ctx;

static void visit_logp(void *ctx, int part, uint64_t state, const double *s, double val,
                       const double *x)
{
    (void)part;
    (void)s;
    (void)x;
    logp_ctx *c = ctx;
    c->out[state] = val - c->log_z;
}

kd_status kd_rbm_visible_log_prob_all(const kd_rbm *rbm, double log_z, double *logp)
{
    if (isnan(log_z))
        KD_CHECK(kd_rbm_log_z(rbm, KD_RBM_SUM_SMALLER, &log_z));
    enum_problem p;
    KD_CHECK(enum_problem_init(&p, rbm, KD_RBM_SUM_VISIBLE));
    logp_ctx c = {logp, log_z};
    kd_status st = enum_run(&p, visit_logp, &c);
    enum_problem_free(&p);
    return st;
}

kd_status kd_rbm_kl(const kd_rbm *rbm, const double *p_data, double *kl)
{
    if (rbm->nv > KD_RBM_MAX_ENUM)
        KD_FAIL(KD_ERR_UNSUPPORTED,
                "KL divergence over 2^%d visible states: at most %d visible units", rbm->nv,
                KD_RBM_MAX_ENUM);
    size_t ns = (size_t)1 << rbm->nv;
    double total = 0;
    for (size_t k = 0; k < ns; k++) {
        if (!(p_data[k] >= 0) || !isfinite(p_data[k]))
            KD_FAIL(KD_ERR_INVALID, "data distribution P[%zu] = %g, expected a probability", k,
                    p_data[k]);
        total += p_data[k];
    }
    if (fabs(total - 1.0) > 1e-9)
        KD_FAIL(KD_ERR_INVALID, "data distribution sums to %.12g, expected 1", total);
    double *logp = malloc(ns * sizeof *logp);
    if (!logp)
        KD_FAIL(KD_ERR_NOMEM, "out of memory for 2^%d model probabilities", rbm->nv);
    kd_status st = kd_rbm_visible_log_prob_all(rbm, NAN, logp);
    if (st == KD_OK) {
        double d = 0; /* Σ P ln(P/p), with 0 ln 0 = 0 */
        for (size_t k = 0; k < ns; k++)
            if (p_data[k] > 0)
                d += p_data[k] * (log(p_data[k]) - logp[k]);
        *kl = d;
    }
    free(logp);
    return st;
}

kd_status kd_rbm_loglik(const kd_rbm *rbm, const kd_rbm_data *data, double log_z, double *mean)
{
    if (isnan(log_z))
        KD_CHECK(kd_rbm_log_z(rbm, KD_RBM_SUM_SMALLER, &log_z));
    double fmean;
    KD_CHECK(kd_rbm_free_energy_data(rbm, data, NULL, &fmean));
    *mean = -fmean - log_z;
    return KD_OK;
}

/* ---- exact gradient ------------------------------------------------------------ */

/* Model moments Σ_s p(s) s_i, Σ_s p(s) μ_k(s), Σ_s p(s) s_i μ_k(s), per part. */
typedef struct {
    const enum_problem *p;
    double log_z;
    double *acc; /* parts × (m + n + m·n) */
} moment_ctx;

static void visit_moments(void *ctx, int part, uint64_t state, const double *s, double val,
                          const double *x)
{
    (void)state;
    moment_ctx *c = ctx;
    const enum_problem *p = c->p;
    size_t stride = (size_t)p->m + (size_t)p->n + (size_t)p->m * (size_t)p->n;
    double *s1 = c->acc + (size_t)part * stride, *o1 = s1 + p->m, *so = o1 + p->n;
    double w = exp(val - c->log_z);
    double mu[64];
    for (int k0 = 0; k0 < p->n; k0 += 64) {
        int kn = p->n - k0 < 64 ? p->n - k0 : 64;
        for (int k = 0; k < kn; k++) {
            mu[k] = w * kd_rbm_mean(p->uo, x[k0 + k]);
            o1[k0 + k] += mu[k];
        }
        for (int i = 0; i < p->m; i++) {
            if (s[i] == 0)
                continue;
            double *row = so + (size_t)i * (size_t)p->n + k0;
            for (int k = 0; k < kn; k++)
                row[k] += s[i] * mu[k];
        }
    }
    for (int i = 0; i < p->m; i++)
        s1[i] += w * s[i];
}

kd_status kd_rbm_loglik_gradient(const kd_rbm *rbm, const kd_rbm_data *data, double *dW, double *da,
                                 double *db)
{
    int nv = rbm->nv, nh = rbm->nh;
    if (data->n == 0)
        KD_FAIL(KD_ERR_INVALID, "log-likelihood gradient of an empty dataset");
    KD_CHECK(kd_rbm_data_check(data, nv, "log-likelihood gradient data"));
    enum_problem p;
    KD_CHECK(enum_problem_init(&p, rbm, KD_RBM_SUM_SMALLER));
    int vis = !(nh < nv); /* the layer enum_problem_init chose for SUM_SMALLER */
    size_t nw = (size_t)nv * (size_t)nh;
    int np = enum_parts(&p);
    size_t stride = (size_t)p.m + (size_t)p.n + (size_t)p.m * (size_t)p.n;
    double *acc = calloc((size_t)np * stride, sizeof *acc);
    double *gw = calloc(nw + (size_t)nv + (size_t)nh, sizeof *gw);
    double *v = malloc(((size_t)nv + (size_t)nh * 2) * sizeof *v);
    kd_status st = KD_OK;
    if (!acc || !gw || !v) {
        st = kd_set_error(KD_ERR_NOMEM, "out of memory for the exact gradient of an RBM %d-%d", nv,
                          nh);
        goto done;
    }
    double *ga = gw + nw, *gb = ga + nv, *x = v + nv, *mu = x + nh;
    double log_z;
    st = enum_log_z(&p, &log_z);
    if (st != KD_OK)
        goto done;
    /* data term ⟨v_i μ_j(v)⟩ with μ_j = E[h_j | v] */
    for (size_t r = 0; r < data->n; r++) {
        kd_rbm_data_row_double(data, rbm->vis, nv, r, v);
        hidden_field(rbm, v, x);
        for (int j = 0; j < nh; j++)
            mu[j] = kd_rbm_mean(rbm->hid, x[j]);
        for (int i = 0; i < nv; i++) {
            ga[i] += v[i];
            for (int j = 0; j < nh; j++)
                gw[(size_t)i * (size_t)nh + (size_t)j] += v[i] * mu[j];
        }
        for (int j = 0; j < nh; j++)
            gb[j] += mu[j];
    }
    double inv = 1.0 / (double)data->n;
    for (size_t k = 0; k < nw + (size_t)nv + (size_t)nh; k++)
        gw[k] *= inv;
    /* model term */
    moment_ctx c = {&p, log_z, acc};
    st = enum_run(&p, visit_moments, &c);
    if (st != KD_OK)
        goto done;
    for (int part = 1; part < np; part++)
        for (size_t k = 0; k < stride; k++)
            acc[k] += acc[(size_t)part * stride + k];
    const double *s1 = acc, *o1 = acc + p.m, *so = o1 + p.n;
    for (int i = 0; i < nv; i++)
        for (int j = 0; j < nh; j++)
            gw[(size_t)i * (size_t)nh + (size_t)j] -= vis ? so[(size_t)i * (size_t)nh + (size_t)j]
                                                          : so[(size_t)j * (size_t)nv + (size_t)i];
    for (int i = 0; i < nv; i++)
        ga[i] -= vis ? s1[i] : o1[i];
    for (int j = 0; j < nh; j++)
        gb[j] -= vis ? o1[j] : s1[j];
    if (rbm->flags & KD_RBM_NO_VISIBLE_BIAS)
        memset(ga, 0, (size_t)nv * sizeof *ga);
    if (rbm->flags & KD_RBM_NO_HIDDEN_BIAS)
        memset(gb, 0, (size_t)nh * sizeof *gb);
    if (dW)
        memcpy(dW, gw, nw * sizeof *dW);
    if (da)
        memcpy(da, ga, (size_t)nv * sizeof *da);
    if (db)
        memcpy(db, gb, (size_t)nh * sizeof *db);
done:
    free(acc);
    free(gw);
    free(v);
    enum_problem_free(&p);
    return st;
}
