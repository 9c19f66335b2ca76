/*
 * 1D decimation as an RBM, by exact tracing; its stack as a deep network; and
 * an RBM trained on chain samples read the same way (see kadanoff/rg.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kadanoff/exact.h"
#include "kadanoff/rg.h"
#include "kadanoff/sample.h"

#define LN2 0.693147180559945309417232121458176568
#define TWO_PI 6.283185307179586476925286766559005768

/* ---- closed forms ------------------------------------------------------------------ */

/* ln cosh x without cancellation: for |x| < 1, cosh x - 1 = 2 sinh²(x/2) is
 * formed exactly enough that log1p keeps full relative accuracy even where
 * ln cosh x ≈ x²/2 underflows the 1 + x²/2 representation; for |x| >= 1 the
 * form |x| - ln 2 + log1p(e^{-2|x|}) cannot overflow. */
static double log_cosh(double x)
{
    double ax = fabs(x);
    if (ax < 1.0) {
        double sh = sinh(0.5 * ax);
        return log1p(2.0 * sh * sh);
    }
    return ax - LN2 + log1p(exp(-2.0 * ax));
}

double kd_rg_decimation_coupling(double K) { return 0.5 * log_cosh(2.0 * K); }

double kd_rg_decimation_constant(double K) { return LN2 + 0.5 * log_cosh(2.0 * K); }

double kd_rg_correlation_length(double K)
{
    /* ξ = -1/ln tanh|K|. Near K = inf, ln tanh K = log1p(-2/(e^{2K} + 1)) keeps
     * the tiny 1 - tanh K; for small K, ln tanh K directly. */
    double aK = fabs(K);
    if (isnan(K))
        return NAN;
    if (aK == INFINITY)
        return INFINITY;
    double t = tanh(aK);
    double lt = t < 0.5 ? log(t) : log1p(-2.0 / (exp(2.0 * aK) + 1.0));
    return -1.0 / lt;
}

/* ln 2cosh x */
static double log_2cosh(double x) { return LN2 + log_cosh(x); }

/* ---- the decimation RBM ------------------------------------------------------------ */

static kd_status check_chain(double K, int chain, const char *what)
{
    if (!isfinite(K))
        KD_FAIL(KD_ERR_INVALID, "%s: coupling K = %g, expected a finite number", what, K);
    if (chain < 4 || chain > KD_RG_MAX_CHAIN || chain % 2)
        KD_FAIL(KD_ERR_INVALID, "%s: chain of %d spins, expected an even number from 4 to %d", what,
                chain, KD_RG_MAX_CHAIN);
    return KD_OK;
}

kd_status kd_rg_decimation_rbm(double K, int chain, double *W, kd_rg_rbm *out)
{
    KD_CHECK(check_chain(K, chain, "decimation RBM"));
    if (!W || !out)
        KD_FAIL(KD_ERR_INVALID, "decimation RBM: weight array and output are required");
    const int M = chain / 2;
    memset(W, 0, (size_t)M * (size_t)M * sizeof *W);
    /* v_j = s_{2j+1} has bonds to h_j = s_{2j} and h_{j+1} = s_{2j+2} */
    for (int j = 0; j < M; j++) {
        W[(size_t)j * (size_t)M + (size_t)j] += K;
        W[(size_t)j * (size_t)M + (size_t)((j + 1) % M)] += K;
    }
    out->nv = M;
    out->nh = M;
    out->visible = KD_UNITS_SPIN;
    out->hidden = KD_UNITS_SPIN;
    out->W = W;
    out->a = NULL;
    out->b = NULL;
    return KD_OK;
}

kd_status kd_rg_decimation_trace(double K, int chain, kd_rg_decimation_step *out)
{
    KD_CHECK(check_chain(K, chain, "decimation step"));
    if (!out)
        KD_FAIL(KD_ERR_INVALID, "decimation step: no output");
    const int M = chain / 2;
    const size_t ns = (size_t)1 << M;
    double *W = malloc((size_t)M * (size_t)M * sizeof *W);
    double *J = malloc(ns * sizeof *J);
    kd_status s = KD_OK;
    if (!W || !J) {
        s = kd_set_error(KD_ERR_NOMEM, "decimation step: out of memory");
        goto done;
    }
    kd_rg_rbm r;
    if ((s = kd_rg_decimation_rbm(K, chain, W, &r)) != KD_OK ||
        (s = kd_rg_trace_visible(&r, J)) != KD_OK || /* J holds H^RG(h) */
        (s = kd_rg_walsh(M, J, J)) != KD_OK)         /* now its coefficients */
        goto done;
    /* the kept spins form a ring of M sites (M = 2: a doubled bond, read per bond) */
    kd_lattice ring = {KD_LATTICE_CHAIN, M, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    kd_rg_couplings c;
    if ((s = kd_rg_couplings_read(&ring, J, &c)) != KD_OK)
        goto done;
    /* weight beyond the constant and the nn pairs: every other set */
    double rest = 0;
    for (size_t k = 1; k < ns; k++) {
        int nn = 0;
        if (__builtin_popcountll(k) == 2)
            for (int j = 0; j < M; j++)
                nn |= k == (((size_t)1 << j) | ((size_t)1 << ((j + 1) % M)));
        if (!nn)
            rest += J[k] * J[k];
    }
    memset(out, 0, sizeof *out);
    out->step = 1;
    out->K_in = K;
    out->K = c.nn;
    out->K_formula = kd_rg_decimation_coupling(K);
    out->constant = -c.constant / M; /* H^RG = -K' Σ h h - M c */
    out->constant_formula = kd_rg_decimation_constant(K);
    out->field = c.field;
    out->rest = sqrt(rest);
    out->xi_in = kd_rg_correlation_length(K);
    out->xi = kd_rg_correlation_length(out->K);
    out->log_z_per_spin = 0.5 * out->constant + 0.5 * log_2cosh(out->K);
done:
    free(W);
    free(J);
    return s;
}

kd_status kd_rg_decimation_run(double K, int steps, int chain, kd_rg_decimation_step *table)
{
    if (steps < 1 || !table)
        KD_FAIL(KD_ERR_INVALID, "decimation: %d steps, expected at least 1 and an output table",
                steps);
    /* ln Z_N(K)/N = c/2 + ½ ln Z_{N/2}(K')/(N/2) exactly (decimation is exact
     * for periodic chains of any length); iterate and close with the infinite
     * chain's ln 2cosh K^(n) per spin. */
    double K_cur = K, sum = 0, weight = 1.0;
    for (int n = 1; n <= steps; n++) {
        KD_CHECK(kd_rg_decimation_trace(K_cur, chain, &table[n - 1]));
        kd_rg_decimation_step *row = &table[n - 1];
        weight *= 0.5;
        row->step = n;
        sum += weight * row->constant;
        row->log_z_per_spin = sum + weight * log_2cosh(row->K);
        K_cur = row->K;
    }
    return KD_OK;
}

/* H(v) of the decimated sites: -ln Σ_kept e^{-H_chain}, H_chain = N · e(s). */
typedef struct {
    kd_lattice lat;
    int M;
} odd_marginal;

static double odd_marginal_energy(const int8_t *v, int n, void *user)
{
    const odd_marginal *om = user;
    int8_t s[KD_RG_MAX_CHAIN];
    double E[1 << (KD_RG_MAX_CHAIN / 2)];
    const int M = om->M;
    const uint64_t nk = (uint64_t)1 << M;
    (void)n;
    double mn = INFINITY;
    for (int j = 0; j < M; j++)
        s[2 * j + 1] = v[j];
    for (uint64_t h = 0; h < nk; h++) {
        for (int j = 0; j < M; j++)
            s[2 * j] = (h >> j) & 1u ? (int8_t)1 : (int8_t)-1;
        E[h] = (double)(2 * M) * kd_ising_energy(&om->lat, s);
        mn = fmin(mn, E[h]);
    }
    double sum = 0;
    for (uint64_t h = 0; h < nk; h++)
        sum += exp(mn - E[h]);
    return mn - log(sum);
}

kd_status kd_rg_decimation_check(double K, int chain, kd_rg_mapping *out)
{
    KD_CHECK(check_chain(K, chain, "decimation mapping check"));
    const int M = chain / 2;
    double *W = malloc((size_t)M * (size_t)M * sizeof *W);
    if (!W)
        KD_FAIL(KD_ERR_NOMEM, "decimation mapping check: out of memory");
    kd_rg_rbm r;
    odd_marginal om = {{KD_LATTICE_CHAIN, chain, KD_BOUNDARY_PERIODIC, K, 0.0}, M};
    kd_rg_hamiltonian H = {M, NULL, odd_marginal_energy, &om, NULL};
    kd_status s = kd_rg_decimation_rbm(K, chain, W, &r);
    if (s == KD_OK)
        s = kd_rg_mapping_check(&H, &r, out, NULL, NULL);
    free(W);
    return s;
}

/* ---- the deep network ------------------------------------------------------------ */

#define DBN_MAX_N 4096 /* dense layers: N × N/2 float weights (32 MiB at the cap) */

kd_status kd_rg_decimation_dbn(const double *K, int layers, int N, kd_dbn **out)
{
    if (!K || !out)
        KD_FAIL(KD_ERR_INVALID, "decimation network: couplings and output are required");
    *out = NULL;
    if (layers < 1 || layers > 12)
        KD_FAIL(KD_ERR_INVALID, "decimation network: %d layers, expected 1..12", layers);
    if (N < 2 || N > DBN_MAX_N || N % (1 << layers))
        KD_FAIL(KD_ERR_INVALID,
                "decimation network: %d spins at level 0, expected a multiple of 2^%d = %d "
                "between 2 and %d",
                N, layers, 1 << layers, DBN_MAX_N);
    for (int l = 0; l < layers; l++)
        if (!isfinite(K[l]))
            KD_FAIL(KD_ERR_INVALID, "decimation network: K[%d] = %g, expected a finite number", l,
                    K[l]);
    kd_dbn *dbn;
    KD_CHECK(kd_dbn_new(&dbn));
    for (int l = 0; l < layers; l++) {
        const int nl = N >> l, M = nl / 2;
        kd_rbm *rbm;
        kd_status s = kd_rbm_new(&rbm, nl, M, KD_UNITS_SPIN, KD_UNITS_SPIN,
                                 KD_RBM_NO_VISIBLE_BIAS | KD_RBM_NO_HIDDEN_BIAS);
        if (s != KD_OK) {
            kd_dbn_free(dbn);
            return s;
        }
        float *W = kd_rbm_weights(rbm);
        /* decimated site 2j+1 of level l sits between kept sites 2j and 2j+2,
         * i.e. hidden units j and j+1 of this layer; site 2j has no weights */
        for (int j = 0; j < M; j++) {
            W[(size_t)(2 * j + 1) * (size_t)M + (size_t)j] += (float)K[l];
            W[(size_t)(2 * j + 1) * (size_t)M + (size_t)((j + 1) % M)] += (float)K[l];
        }
        if ((s = kd_dbn_push(dbn, rbm)) != KD_OK) {
            kd_rbm_free(rbm);
            kd_dbn_free(dbn);
            return s;
        }
    }
    *out = dbn;
    return KD_OK;
}

/* ---- trained variant -------------------------------------------------------------- */

void kd_rg_trained_options_init(kd_rg_trained_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->nv = 16;
    opt->K = 1.0;
    opt->samples = 5000;
    opt->hidden = KD_UNITS_SPIN;
    opt->biases = 0;
    opt->sigma = 0.1;
    opt->seed = 1;
    kd_rbm_train_options_default(&opt->train);
    opt->train.k = 5;
    opt->train.batch = 100;
    opt->train.lr = 0.05;
    opt->train.momentum = 0.5;
    opt->train.epochs = 100;
    opt->train.monitor_every = 0;
}

#define TRAINED_MAX_NV 32
#define TRAINED_MAX_KL_NV 20

typedef struct {
    double angle;
    int unit;
} unit_position;

static int cmp_position(const void *a, const void *b)
{
    const unit_position *x = a, *y = b;
    if (x->angle != y->angle)
        return x->angle < y->angle ? -1 : 1;
    return x->unit - y->unit;
}

/* Couplings of the hidden marginal of a trained model into out (K_exact,
 * kl and data fields are filled by the caller). */
static kd_status read_hidden_couplings(const kd_rbm *rbm, kd_rg_trained_result *out)
{
    const int nv = kd_rbm_nv(rbm), nh = kd_rbm_nh(rbm);
    const size_t ns = (size_t)1 << nh;
    const float *W = kd_rbm_weights(rbm);
    double *J = malloc(ns * sizeof *J);
    double *h = malloc((size_t)nh * sizeof *h);
    int *sign = malloc((size_t)nh * sizeof *sign);
    unit_position *pos = malloc((size_t)nh * sizeof *pos);
    kd_status s = KD_OK;
    if (!J || !h || !sign || !pos) {
        s = kd_set_error(KD_ERR_NOMEM, "trained decimation: out of memory");
        goto done;
    }
    for (size_t k = 0; k < ns; k++) {
        kd_rbm_state_from_index(kd_rbm_hidden_units(rbm), nh, k, h);
        J[k] = kd_rbm_free_energy_hidden(rbm, h);
    }
    if ((s = kd_rg_walsh(nh, J, J)) != KD_OK)
        goto done;
    /* gauge: orient spin units so that Σ_i W_ij >= 0; order units on the ring
     * by the circular mean of |W_ij| over the visible sites i */
    for (int j = 0; j < nh; j++) {
        double sum = 0, c = 0, sn = 0;
        for (int i = 0; i < nv; i++) {
            double w = W[(size_t)i * (size_t)nh + (size_t)j];
            sum += w;
            c += fabs(w) * cos(TWO_PI * i / nv);
            sn += fabs(w) * sin(TWO_PI * i / nv);
        }
        sign[j] = kd_rbm_hidden_units(rbm) == KD_UNITS_SPIN && sum < 0 ? -1 : 1;
        double a = atan2(sn, c);
        pos[j].angle = a < 0 ? a + TWO_PI : a;
        pos[j].unit = j;
    }
    for (size_t k = 1; k < ns; k++) {
        int sg = 1;
        for (int j = 0; j < nh; j++)
            if ((k >> j) & 1u)
                sg *= sign[j];
        J[k] *= sg;
    }
    qsort(pos, (size_t)nh, sizeof *pos, cmp_position);

    memset(out, 0, sizeof *out);
    double fsum = 0;
    for (int j = 0; j < nh; j++)
        fsum += -J[(size_t)1 << j];
    out->field = fsum / nh;
    /* neighbours on the ordered ring (nh = 2: one pair) */
    int npairs = nh == 2 ? 1 : nh;
    double nsum = 0;
    for (int q = 0; q < npairs; q++) {
        size_t m = ((size_t)1 << pos[q].unit) | ((size_t)1 << pos[(q + 1) % nh].unit);
        nsum += -J[m];
    }
    out->K_nn = nsum / npairs;
    for (int q = 0; q < npairs; q++) {
        size_t m = ((size_t)1 << pos[q].unit) | ((size_t)1 << pos[(q + 1) % nh].unit);
        out->K_nn_spread = fmax(out->K_nn_spread, fabs(-J[m] - out->K_nn));
    }
    double psum = 0, pmax = -INFINITY;
    int pc = 0;
    for (int a = 0; a < nh; a++)
        for (int b = a + 1; b < nh; b++) {
            double kab = -J[((size_t)1 << a) | ((size_t)1 << b)];
            psum += kab;
            pmax = fmax(pmax, kab);
            pc++;
        }
    out->K_pair_mean = psum / pc;
    out->K_pair_max = pmax;
    out->pair_norm = kd_rg_walsh_order_norm(nh, J, 2);
    out->four_norm = nh >= 4 ? kd_rg_walsh_order_norm(nh, J, 4) : 0.0;
    double rest = 0;
    for (int o = 1; o <= nh; o++)
        if (o != 2 && o != 4) {
            double x = kd_rg_walsh_order_norm(nh, J, o);
            rest += x * x;
        }
    out->rest = sqrt(rest);
done:
    free(J);
    free(h);
    free(sign);
    free(pos);
    return s;
}

/* KL of the model's visible marginal from the exact chain distribution. */
static kd_status chain_kl(const kd_rbm *rbm, double K, double *kl, double *kl_uniform)
{
    const int nv = kd_rbm_nv(rbm);
    const size_t ns = (size_t)1 << nv;
    kd_lattice lat = {KD_LATTICE_CHAIN, nv, KD_BOUNDARY_PERIODIC, K, 0.0};
    kd_rg_hamiltonian H = {nv, &lat, NULL, NULL, NULL};
    double *P = malloc(ns * sizeof *P);
    if (!P)
        KD_FAIL(KD_ERR_NOMEM, "trained decimation: out of memory for 2^%d probabilities", nv);
    kd_status s = kd_rg_hamiltonian_table(&H, P);
    if (s == KD_OK) {
        double mn = INFINITY, z = 0, ent = 0;
        for (size_t k = 0; k < ns; k++)
            mn = fmin(mn, P[k]);
        for (size_t k = 0; k < ns; k++)
            z += exp(mn - P[k]);
        for (size_t k = 0; k < ns; k++) {
            double lp = mn - P[k] - log(z);
            P[k] = exp(lp);
            ent -= P[k] * lp;
        }
        *kl_uniform = nv * LN2 - ent;
        s = kd_rbm_kl(rbm, P, kl);
    }
    free(P);
    return s;
}

kd_status kd_rg_decimation_trained(const kd_rg_trained_options *opt, kd_rg_trained_result *out,
                                   kd_rbm **model)
{
    if (model)
        *model = NULL;
    if (!opt || !out)
        KD_FAIL(KD_ERR_INVALID, "trained decimation: options and output are required");
    if (opt->nv < 4 || opt->nv > TRAINED_MAX_NV || opt->nv % 2)
        KD_FAIL(KD_ERR_INVALID, "trained decimation: chain of %d spins, expected an even number "
                                "from 4 to %d",
                opt->nv, TRAINED_MAX_NV);
    if (!(opt->K > 0) || !isfinite(opt->K))
        KD_FAIL(KD_ERR_INVALID, "trained decimation: K = %g, expected a finite K > 0", opt->K);
    if (opt->samples < 1)
        KD_FAIL(KD_ERR_INVALID, "trained decimation: 0 samples, expected at least 1");
    if (opt->train.epochs < 1)
        KD_FAIL(KD_ERR_INVALID, "trained decimation: 0 epochs, expected at least 1");

    const double T = 1.0 / opt->K;
    kd_sample_params sp;
    kd_sample_params_init(&sp);
    sp.lattice = (kd_lattice){KD_LATTICE_CHAIN, opt->nv, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    sp.temps = &T;
    sp.ntemps = 1;
    sp.samples = opt->samples;
    sp.chains = opt->samples >= 4 ? 4 : 1;
    sp.algorithm = KD_ALGO_WOLFF;
    sp.seed = opt->seed;
    sp.symmetrize = 1;
    kd_dataset *d = NULL;
    KD_CHECK(kd_sample(&sp, &d));

    kd_rbm *rbm = NULL;
    kd_rbm_trainer *tr = NULL;
    unsigned flags = opt->biases ? 0u : (KD_RBM_NO_VISIBLE_BIAS | KD_RBM_NO_HIDDEN_BIAS);
    kd_rbm_train_options to = opt->train;
    to.seed = opt->seed;
    kd_rbm_data data = {d->spins, NULL, NULL, d->n};
    kd_status s = kd_rbm_new(&rbm, opt->nv, opt->nv / 2, KD_UNITS_SPIN, opt->hidden, flags);
    if (s == KD_OK)
        s = kd_rbm_init_gaussian(rbm, opt->sigma, opt->seed);
    if (s == KD_OK)
        s = kd_rbm_trainer_new(&tr, rbm, &to, &data, NULL);
    for (uint64_t e = 0; s == KD_OK && e < to.epochs; e++) {
        s = kd_rbm_trainer_epoch(tr, NULL);
        if (s == KD_OK && opt->progress &&
            opt->progress((double)(e + 1) / (double)to.epochs, "training", opt->progress_user)) {
            s = kd_set_error(KD_ERR_CANCELLED, "trained decimation: cancelled after %llu epochs",
                             (unsigned long long)(e + 1));
        }
    }
    kd_rbm_trainer_free(tr);
    if (s == KD_OK)
        s = read_hidden_couplings(rbm, out);
    if (s == KD_OK) {
        kd_thermo th;
        out->K_exact = kd_rg_decimation_coupling(opt->K);
        double e = 0;
        for (size_t r = 0; r < d->n; r++)
            e += d->energy[r];
        out->data_e = e / (double)d->n;
        s = kd_chain_exact(opt->nv, KD_BOUNDARY_PERIODIC, 1.0, 0.0, T, &th);
        out->data_e_exact = th.e;
    }
    out->kl = out->kl_independent = NAN;
    if (s == KD_OK && opt->nv <= TRAINED_MAX_KL_NV)
        s = chain_kl(rbm, opt->K, &out->kl, &out->kl_independent);
    kd_dataset_free(d);
    if (s != KD_OK) {
        kd_rbm_free(rbm);
        return s;
    }
    if (model)
        *model = rbm;
    else
        kd_rbm_free(rbm);
    return KD_OK;
}
