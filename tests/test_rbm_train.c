/* Tests of RBM training: the exact gradient against finite differences, CD-k
 * against the exact gradient, KL reduction on a tiny Ising chain for CD-1,
 * CD-k and PCD, bit-identical results for 1 and 2 threads, resume, NaN
 * rollback, schedules and validation split. */
#define _POSIX_C_SOURCE 200809L /* pthread barriers (test_split) */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "kadanoff/rbm.h"
#include "kadanoff/rng.h"
#include "rbm_model.h"
#include "split_world.h"
#include "testing.h"

static int8_t *random_spins(size_t n, int nv, uint64_t seed)
{
    int8_t *s = malloc(n * (size_t)nv);
    kd_rng g;
    kd_rng_init(&g, seed, 0);
    for (size_t k = 0; k < n * (size_t)nv; k++)
        s[k] = kd_rng_spin(&g);
    return s;
}

/* ∂⟨ln p⟩/∂θ from kd_rbm_loglik_gradient equals central differences of the
 * exact mean log-likelihood, for every parameter. */
static void test_gradient_fd(void)
{
    const int shapes[2][2] = {{5, 4}, {3, 6}}; /* enumerates visible, then hidden... */
    for (int sh = 0; sh < 2; sh++)
        for (int u = 0; u < 4; u++) {
            int nv = shapes[sh][0], nh = shapes[sh][1];
            unsigned flags = u == 3 ? KD_RBM_NO_VISIBLE_BIAS : 0;
            kd_rbm *r = make_model(nv, nh, UNITS[u & 1], UNITS[(u >> 1) & 1], flags, 0.6, 0.4,
                                   (uint64_t)(7 + sh * 4 + u));
            int8_t *sp = random_spins(40, nv, 3);
            kd_rbm_data d = {sp, NULL, NULL, 40};
            size_t np = kd_rbm_nparams(r);
            double *g = malloc(np * sizeof *g);
            size_t nw = (size_t)nv * (size_t)nh;
            kd_rbm_loglik_gradient(r, &d, g, g + nw, g + nw + nv);
            float *p = kd_rbm_params(r);
            double worst = 0;
            const double h = 1e-3;
            for (size_t k = 0; k < np; k++) {
                if (flags && k >= nw && k < nw + (size_t)nv) {
                    worst = fmax(worst, fabs(g[k])); /* disabled bias: gradient 0 */
                    continue;
                }
                float keep = p[k];
                float up = (float)(keep + h), dn = (float)(keep - h);
                double lp, lm;
                p[k] = up;
                kd_rbm_loglik(r, &d, NAN, &lp);
                p[k] = dn;
                kd_rbm_loglik(r, &d, NAN, &lm);
                p[k] = keep;
                double fd = (lp - lm) / ((double)up - (double)dn); /* the step actually taken */
                worst = fmax(worst, fabs(fd - g[k]));
            }
            /* central differences: truncation h²/6·|f'''| with |f'''| = O(1) third
             * cumulant of bounded units (< 3e-7), rounding 1e-16·|ln p|/h ≈ 1e-12 */
            kd_test(worst < 1e-6, "%d-%d %s/%s%s: exact gradient = finite differences (worst %.2g)",
                    nv, nh, kd_units_name(UNITS[u & 1]), kd_units_name(UNITS[(u >> 1) & 1]),
                    flags ? ", no visible bias" : "", worst);
            free(g);
            free(sp);
            kd_rbm_free(r);
        }
}

/* CD-k with many steps approaches the exact gradient; CD-1 is visibly biased. */
static void test_cd_vs_exact(void)
{
    for (int u = 0; u < 2; u++) {
        int nv = 6, nh = 4;
        size_t n = 20000;
        kd_rbm *r = make_model(nv, nh, UNITS[u], UNITS[u], 0, 0.6, 0.3, 17);
        int8_t *sp = random_spins(n, nv, 8);
        kd_rbm_data d = {sp, NULL, NULL, n};
        size_t np = kd_rbm_nparams(r), nw = (size_t)nv * (size_t)nh;
        double *g = malloc(np * sizeof *g);
        float *c1 = malloc(np * sizeof *c1), *ck = malloc(np * sizeof *ck);
        kd_rbm_loglik_gradient(r, &d, g, g + nw, g + nw + nv);
        kd_rbm_cd_gradient(r, &d, 1, 5, c1, c1 + nw, c1 + nw + nv);
        /* the 6-4 spin model (σ = 0.6) is bimodal and mixes slowly: CD-50 is
         * still 0.16 off, CD-500 converges */
        kd_rbm_cd_gradient(r, &d, 500, 5, ck, ck + nw, ck + nw + nv);
        double e1 = 0, ek = 0;
        for (size_t k = 0; k < np; k++) {
            e1 = fmax(e1, fabs(c1[k] - g[k]));
            ek = fmax(ek, fabs(ck[k] - g[k]));
        }
        /* Each negative-phase term lies in [-1, 1], so a mean over n chains has
         * sd <= 1/√n; 5/√n bounds all 34 entries (plus float rounding ~1e-6). */
        double bound = 5.0 / sqrt((double)n);
        kd_test(
            ek < bound,
            "%s units: CD-500 gradient within %.3f of the exact one (max |diff| %.4f; CD-1: %.4f)",
            kd_units_name(UNITS[u]), bound, ek, e1);
        free(g);
        free(c1);
        free(ck);
        free(sp);
        kd_rbm_free(r);
    }
}

/* Exact distribution of an 8-spin periodic chain, P(s) ∝ e^{K Σ s_i s_{i+1}}
 * (index bit i = spin i up), and n exact samples drawn from it. */
static void ising_chain(double K, double *P, int8_t *samples, size_t n, uint64_t seed)
{
    double z = 0;
    for (unsigned s = 0; s < 256; s++) {
        int e = 0;
        for (int i = 0; i < 8; i++) {
            int a = (s >> i) & 1 ? 1 : -1, b = (s >> ((i + 1) % 8)) & 1 ? 1 : -1;
            e += a * b;
        }
        P[s] = exp(K * e);
        z += P[s];
    }
    for (unsigned s = 0; s < 256; s++)
        P[s] /= z;
    kd_rng g;
    kd_rng_init(&g, seed, 0);
    for (size_t k = 0; k < n; k++) {
        double u = kd_rng_uniform(&g), c = 0;
        unsigned s = 0;
        for (; s < 255; s++) {
            c += P[s];
            if (u < c)
                break;
        }
        for (int i = 0; i < 8; i++)
            samples[k * 8 + (size_t)i] = (s >> i) & 1 ? 1 : -1;
    }
}

static void test_training_kl(void)
{
    double P[256];
    size_t n = 4000;
    int8_t *sp = malloc(n * 8);
    ising_chain(0.7, P, sp, n, 2024);
    kd_rbm_data d = {sp, NULL, NULL, n};
    struct {
        const char *name;
        kd_rbm_method method;
        int k;
        kd_rbm_optimizer opt;
        kd_units vis, hid;
    } runs[] = {
        {"CD-1, SGD, spin/spin", KD_RBM_CD, 1, KD_RBM_SGD, KD_UNITS_SPIN, KD_UNITS_SPIN},
        {"CD-5, SGD, spin/binary", KD_RBM_CD, 5, KD_RBM_SGD, KD_UNITS_SPIN, KD_UNITS_BINARY},
        {"PCD-1, SGD, spin/spin", KD_RBM_PCD, 1, KD_RBM_SGD, KD_UNITS_SPIN, KD_UNITS_SPIN},
        {"PCD-1, Adam, binary/binary", KD_RBM_PCD, 1, KD_RBM_ADAM, KD_UNITS_BINARY,
         KD_UNITS_BINARY},
    };
    for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
        kd_rbm *r = make_model(8, 8, runs[k].vis, runs[k].hid, 0, 0.01, 0, 3);
        kd_rbm_train_options o;
        kd_rbm_train_options_default(&o);
        o.method = runs[k].method;
        o.k = runs[k].k;
        o.optimizer = runs[k].opt;
        o.batch = 50;
        o.lr = runs[k].opt == KD_RBM_ADAM ? 0.01 : 0.05;
        o.momentum = 0.5;
        o.seed = 11;
        o.monitor_every = 10;
        o.valid_fraction = 0.1;
        kd_rbm_trainer *t;
        double kl0, kl1;
        kd_rbm_kl(r, P, &kl0);
        kd_status st = kd_rbm_trainer_new(&t, r, &o, &d, NULL);
        kd_rbm_epoch_stats base;
        if (st == KD_OK)
            st = kd_rbm_trainer_monitor(t, &base);
        for (int e = 0; e < 40 && st == KD_OK; e++)
            st = kd_rbm_trainer_epoch(t, NULL);
        kd_rbm_kl(r, P, &kl1);
        /* An 8-8 RBM can represent the chain's bond correlations closely; what
         * remains is set by 3600 training samples (≈ #params/2N ≈ 0.01 nats) and
         * by the CD bias, far below half the starting KL (uniform model: ≈ 2 nats). */
        kd_test(st == KD_OK && kl1 < 0.5 * kl0,
                "%s: KL(P_chain‖p) %.4f -> %.4f nats (%.0f%% lower)", runs[k].name, kl0, kl1,
                100 * (1 - kl1 / kl0));
        size_t nh;
        kd_rbm_trainer_state s;
        kd_rbm_trainer_get_state(t, &s);
        nh = s.nhistory;
        const kd_rbm_epoch_stats *h = s.history;
        kd_test(nh == 40 && h[39].epoch == 40 && isfinite(h[39].loglik) && isfinite(h[39].pll) &&
                    isfinite(h[39].free_energy_gap) && isnan(h[38].pll) && h[39].pll > base.pll &&
                    h[39].loglik > base.loglik && h[39].recon_error < base.recon_error,
                "%s: history of 40 epochs, monitors every 10th; exact LL %.4f -> %.4f, PL %.4f -> "
                "%.4f, reconstruction error %.3f -> %.3f",
                runs[k].name, base.loglik, h[39].loglik, base.pll, h[39].pll, base.recon_error,
                h[39].recon_error);
        kd_rbm_trainer_free(t);
        kd_rbm_free(r);
    }
    free(sp);
}

/* Train with given options and thread counts; returns the model. */
static kd_rbm *train_threads(const kd_rbm_train_options *o, int omp, int blas, int8_t *sp, size_t n,
                             int epochs, kd_rbm_epoch_stats *last)
{
    kd_set_threads(omp);
#ifdef OPENBLAS_VERSION
    openblas_set_num_threads(blas); /* must not matter: the library pins BLAS to 1 */
#else
    (void)blas; /* BLIS (KADANOFF_BLAS=blis): kd_blas_serial pins it */
#endif
    kd_rbm *r = make_model(400, 100, KD_UNITS_SPIN, KD_UNITS_BINARY, 0, 0.05, 0.0, 9);
    kd_rbm_data d = {sp, NULL, NULL, n};
    kd_rbm_trainer *t;
    kd_rbm_trainer_new(&t, r, o, &d, NULL);
    for (int e = 0; e < epochs; e++)
        kd_rbm_trainer_epoch(t, last);
    kd_rbm_trainer_free(t);
    return r;
}

static void test_threads(void)
{
    size_t n = 1000;
    int8_t *sp = random_spins(n, 400, 12);
    for (int cfg = 0; cfg < 2; cfg++) {
        kd_rbm_train_options o;
        kd_rbm_train_options_default(&o);
        o.method = cfg ? KD_RBM_PCD : KD_RBM_CD;
        o.k = cfg ? 2 : 1;
        o.optimizer = cfg ? KD_RBM_ADAM : KD_RBM_SGD;
        o.l1 = 1e-4;
        o.l2 = 1e-4;
        o.monitor_samples = 100;
        o.valid_fraction = 0.2;
        o.pll_units = 10;
        kd_rbm_epoch_stats s1, s2;
        kd_rbm *r1 = train_threads(&o, 1, 1, sp, n, 2, &s1);
        kd_rbm *r2 = train_threads(&o, 2, 2, sp, n, 2, &s2);
        int same =
            memcmp(kd_rbm_params(r1), kd_rbm_params(r2), kd_rbm_nparams(r1) * sizeof(float)) == 0;
        kd_test(same, "%s: parameters bit-identical for 1 and 2 threads (OpenMP and OpenBLAS)",
                cfg ? "PCD-2 + Adam" : "CD-1 + SGD");
        kd_test(s1.pll == s2.pll && s1.recon_error == s2.recon_error &&
                    s1.free_energy_gap == s2.free_energy_gap,
                "monitors bit-identical for 1 and 2 threads (PL %.6f)", s1.pll);
        if (cfg == 1) { /* AIS and exact sums are thread-count independent as well */
            kd_rbm *m = make_model(20, 12, KD_UNITS_SPIN, KD_UNITS_SPIN, 0, 0.4, 0.1, 3);
            kd_ais_options ao;
            kd_ais_options_default(&ao);
            ao.steps = 200;
            kd_ais_result a1, a2;
            double z1, z2;
            kd_set_threads(1);
            kd_rbm_ais(m, &ao, &a1);
            kd_rbm_log_z(m, KD_RBM_SUM_VISIBLE, &z1);
            kd_set_threads(2);
            kd_rbm_ais(m, &ao, &a2);
            kd_rbm_log_z(m, KD_RBM_SUM_VISIBLE, &z2);
            kd_test(a1.log_z == a2.log_z && a1.log_z_err == a2.log_z_err && z1 == z2,
                    "AIS and enumerated ln Z bit-identical for 1 and 2 threads");
            kd_rbm_free(m);
        }
        kd_rbm_free(r1);
        kd_rbm_free(r2);
    }
    kd_set_threads(0);
    free(sp);
}

/* Train 2N epochs in one go vs N, save everything through the API, rebuild
 * model and trainer from the copies, N more: identical parameters. */
typedef struct {
    float *params, *vel, *sq, *chains;
    kd_rbm_epoch_stats *hist;
    kd_rbm_trainer_state st;
} saved_state;

static void save(const kd_rbm *r, const kd_rbm_trainer *t, saved_state *s)
{
    size_t np = kd_rbm_nparams(r);
    kd_rbm_trainer_get_state(t, &s->st);
    s->params = malloc(np * sizeof(float));
    memcpy(s->params, kd_rbm_params(r), np * sizeof(float));
    s->vel = malloc(np * sizeof(float));
    memcpy(s->vel, s->st.velocity, np * sizeof(float));
    s->sq = NULL;
    if (s->st.second_moment) {
        s->sq = malloc(np * sizeof(float));
        memcpy(s->sq, s->st.second_moment, np * sizeof(float));
    }
    s->chains = NULL;
    if (s->st.nchains) {
        size_t len = s->st.nchains * (size_t)kd_rbm_nv(r);
        s->chains = malloc(len * sizeof(float));
        memcpy(s->chains, s->st.chains, len * sizeof(float));
    }
    s->hist = malloc((s->st.nhistory + 1) * sizeof *s->hist);
    memcpy(s->hist, s->st.history, s->st.nhistory * sizeof *s->hist);
    s->st.velocity = s->vel;
    s->st.second_moment = s->sq;
    s->st.chains = s->chains;
    s->st.history = s->hist;
}

static void test_resume(void)
{
    size_t n = 600;
    int8_t *sp = random_spins(n, 30, 21);
    kd_rbm_data d = {sp, NULL, NULL, n};
    for (int cfg = 0; cfg < 2; cfg++) {
        kd_rbm_train_options o;
        kd_rbm_train_options_default(&o);
        o.batch = 64; /* 480 training rows: last minibatch partial */
        o.valid_fraction = 0.2;
        o.epochs = 6;
        if (cfg == 0) {
            o.method = KD_RBM_CD;
            o.k = 3;
            o.schedule = KD_RBM_LR_LINEAR;
            o.lr = 0.05;
            o.lr_final = 0.005;
        } else {
            o.method = KD_RBM_PCD;
            o.optimizer = KD_RBM_ADAM;
            o.schedule = KD_RBM_LR_EXPONENTIAL;
            o.lr_decay = 0.9;
            o.l1 = 1e-3;
        }
        const int N = 3;
        kd_rbm *a = make_model(30, 12, KD_UNITS_SPIN, KD_UNITS_SPIN, 0, 0.1, 0, 5);
        kd_rbm *b = make_model(30, 12, KD_UNITS_SPIN, KD_UNITS_SPIN, 0, 0.1, 0, 5);
        kd_rbm_trainer *ta, *tb, *tc;
        kd_rbm_trainer_new(&ta, a, &o, &d, NULL);
        kd_rbm_trainer_new(&tb, b, &o, &d, NULL);
        for (int e = 0; e < 2 * N; e++)
            kd_rbm_trainer_epoch(ta, NULL);
        for (int e = 0; e < N; e++)
            kd_rbm_trainer_epoch(tb, NULL);
        saved_state s;
        save(b, tb, &s);
        kd_rbm_trainer_free(tb);
        kd_rbm_free(b);
        /* "load": a fresh model and trainer from the saved arrays */
        kd_rbm *c;
        kd_rbm_new(&c, 30, 12, KD_UNITS_SPIN, KD_UNITS_SPIN, 0);
        memcpy(kd_rbm_params(c), s.params, kd_rbm_nparams(c) * sizeof(float));
        kd_rbm_trainer_new(&tc, c, &o, &d, NULL);
        kd_status st = kd_rbm_trainer_set_state(tc, &s.st);
        for (int e = 0; e < N; e++)
            kd_rbm_trainer_epoch(tc, NULL);
        int same = st == KD_OK && memcmp(kd_rbm_params(a), kd_rbm_params(c),
                                         kd_rbm_nparams(a) * sizeof(float)) == 0;
        kd_rbm_trainer_state sa, sc;
        kd_rbm_trainer_get_state(ta, &sa);
        kd_rbm_trainer_get_state(tc, &sc);
        same &= sa.epoch == sc.epoch && sa.updates == sc.updates && sa.nhistory == sc.nhistory &&
                memcmp(sa.velocity, sc.velocity, sa.nparams * sizeof(float)) == 0;
        if (sa.chains)
            same &= memcmp(sa.chains, sc.chains, sa.nchains * 30 * sizeof(float)) == 0;
        for (size_t k = 0; k < sa.nhistory && same; k++)
            same &= sa.history[k].pll == sc.history[k].pll &&
                    sa.history[k].lr == sc.history[k].lr &&
                    sa.history[k].loglik == sc.history[k].loglik;
        kd_test(same, "%s: %d epochs = %d + resume %d (parameters, optimiser, chains, history)",
                cfg ? "PCD + Adam + exponential lr" : "CD-3 + momentum + linear lr", 2 * N, N, N);
        if (cfg == 0)
            kd_test(fabs(sa.history[5].lr - 0.005) < 1e-15 && fabs(sa.history[0].lr - 0.05) < 1e-15,
                    "linear schedule: lr 0.05 at epoch 1, 0.005 at epoch %llu",
                    (unsigned long long)o.epochs);
        else
            kd_test(fabs(sa.history[2].lr - 0.01 * 0.81) < 1e-15,
                    "exponential schedule: lr·0.9² at epoch 3");
        kd_test(isfinite(sa.history[5].free_energy_valid) && isfinite(sa.history[5].loglik_valid),
                "validation split: validation free energy and log-likelihood monitored");
        free(s.params);
        free(s.vel);
        free(s.sq);
        free(s.chains);
        free(s.hist);
        kd_rbm_trainer_free(ta);
        kd_rbm_trainer_free(tc);
        kd_rbm_free(a);
        kd_rbm_free(c);
    }
    free(sp);
}

/* A hopeless step size: KD_ERR_NUMERIC naming the epoch, state rolled back. */
static void test_nan(void)
{
    size_t n = 300;
    int8_t *sp = random_spins(n, 20, 4);
    kd_rbm_data d = {sp, NULL, NULL, n};
    kd_rbm *r = make_model(20, 10, KD_UNITS_SPIN, KD_UNITS_SPIN, 0, 0.1, 0, 6);
    kd_rbm_train_options o;
    kd_rbm_train_options_default(&o);
    o.method = KD_RBM_PCD;
    o.batch = 30;
    o.lr = 10;
    o.l2 = 1e5; /* W ← W(1 - lr·λ2) grows ×10^6 per update: overflow within a few */
    kd_rbm_trainer *t;
    kd_rbm_trainer_new(&t, r, &o, &d, NULL);
    size_t np = kd_rbm_nparams(r);
    float *before = malloc(np * sizeof(float)), *vel = malloc(np * sizeof(float));
    float *chains = malloc(30 * 20 * sizeof(float));
    kd_status st = KD_OK;
    int epochs = 0;
    uint64_t done = 0;
    while (st == KD_OK && epochs < 20) {
        kd_rbm_trainer_state s;
        kd_rbm_trainer_get_state(t, &s);
        memcpy(before, kd_rbm_params(r), np * sizeof(float));
        memcpy(vel, s.velocity, np * sizeof(float));
        memcpy(chains, s.chains, 30 * 20 * sizeof(float));
        done = s.epoch;
        st = kd_rbm_trainer_epoch(t, NULL);
        epochs++;
    }
    kd_test(st == KD_ERR_NUMERIC && strstr(kd_last_error(), "epoch") != NULL,
            "divergence is reported: %s", kd_last_error());
    kd_rbm_trainer_state s;
    kd_rbm_trainer_get_state(t, &s);
    kd_test(memcmp(before, kd_rbm_params(r), np * sizeof(float)) == 0 &&
                memcmp(vel, s.velocity, np * sizeof(float)) == 0 &&
                memcmp(chains, s.chains, 30 * 20 * sizeof(float)) == 0 && s.epoch == done &&
                kd_rbm_validate(r) == KD_OK,
            "after divergence the model, velocity and chains are those before epoch %llu",
            (unsigned long long)done + 1);
    free(before);
    free(vel);
    free(chains);
    kd_rbm_trainer_free(t);
    kd_rbm_free(r);
    free(sp);
}

/* ---- kd_rbm_split: data-parallel training, "processes" simulated by threads
 * (split_world.h) ---- */
typedef struct {
    split_rank id; /* first: the hooks' ctx */
    kd_rbm_train_options o;
    const kd_rbm_data *data;
    kd_rbm *rbm;
    kd_status st;
} member;

static void *rank_main(void *arg)
{
    member *m = arg;
    kd_rbm_split sp = split_of(&m->id, m->o.split ? m->o.split->block : 0);
    kd_rbm_train_options o = m->o;
    o.split = &sp;
    m->rbm = make_model(16, 8, KD_UNITS_SPIN, KD_UNITS_BINARY, 0, 0.1, 0.05, 5);
    kd_rbm_trainer *t = NULL;
    m->st = kd_rbm_trainer_new(&t, m->rbm, &o, m->data, NULL);
    for (int e = 0; e < 3 && m->st == KD_OK; e++)
        m->st = kd_rbm_trainer_epoch(t, NULL);
    kd_rbm_trainer_free(t);
    return NULL;
}

/* Train 3 epochs on `size` simulated ranks (block 0: fast); rank 0's model,
 * after checking that every rank ends with the same parameters. */
static kd_rbm *train_split(const kd_rbm_train_options *o, size_t block, int size,
                           const kd_rbm_data *data)
{
    kd_rbm_split want = {0, 1, block, NULL, NULL, NULL, NULL};
    member m[3];
    for (int r = 0; r < size; r++) {
        m[r] = (member){{NULL, r}, *o, data, NULL, KD_OK};
        m[r].o.split = &want;
    }
    split_world_run(size, rank_main, m, sizeof *m);
    int ok = 1;
    for (int r = 0; r < size; r++)
        ok = ok && m[r].st == KD_OK && m[r].rbm;
    if (ok)
        for (int r = 1; r < size; r++)
            ok = ok && !memcmp(kd_rbm_params(m[r].rbm), kd_rbm_params(m[0].rbm),
                               kd_rbm_nparams(m[0].rbm) * sizeof(float));
    kd_test(ok, "split over %d ranks (block %zu): trains, every rank ends with the same "
                "parameters", size, block);
    for (int r = 1; r < size; r++)
        kd_rbm_free(m[r].rbm);
    return m[0].rbm;
}

static kd_rbm *train_plain(const kd_rbm_train_options *o, const kd_rbm_split *sp,
                           const kd_rbm_data *data)
{
    kd_rbm_train_options q = *o;
    q.split = sp;
    kd_rbm *r = make_model(16, 8, KD_UNITS_SPIN, KD_UNITS_BINARY, 0, 0.1, 0.05, 5);
    kd_rbm_trainer *t = NULL;
    kd_status st = kd_rbm_trainer_new(&t, r, &q, data, NULL);
    for (int e = 0; e < 3 && st == KD_OK; e++)
        st = kd_rbm_trainer_epoch(t, NULL);
    kd_test(st == KD_OK, "train on one process: %s", st ? kd_last_error() : "ok");
    kd_rbm_trainer_free(t);
    return r;
}

static double max_diff(const kd_rbm *a, const kd_rbm *b)
{
    double d = 0;
    for (size_t i = 0; i < kd_rbm_nparams(a); i++)
        d = fmax(d, fabs((double)kd_rbm_params(a)[i] - kd_rbm_params(b)[i]));
    return d;
}

static void test_split(void)
{
    size_t n = 230; /* 40-row batches: the last one has 30 rows */
    int8_t *sp = random_spins(n, 16, 21);
    kd_rbm_data data = {sp, NULL, NULL, n};
    kd_set_threads(1);
    for (int cfg = 0; cfg < 2; cfg++) {
        kd_rbm_train_options o;
        kd_rbm_train_options_default(&o);
        o.batch = 40;
        o.lr = 0.05;
        o.monitor_every = 0;
        o.method = cfg ? KD_RBM_PCD : KD_RBM_CD;
        o.optimizer = cfg ? KD_RBM_ADAM : KD_RBM_SGD;
        o.lr = cfg ? 0.01 : 0.05;
        const char *what = cfg ? "PCD-1 + Adam" : "CD-1 + SGD";
        kd_rbm *plain = train_plain(&o, NULL, &data);
        kd_rbm_split one = {0, 1, 0, NULL, NULL, NULL, NULL};
        kd_rbm *fast1 = train_plain(&o, &one, &data);
        kd_test(!memcmp(kd_rbm_params(plain), kd_rbm_params(fast1),
                        kd_rbm_nparams(plain) * sizeof(float)),
                "%s: fast split on one process is the plain trainer, bit for bit", what);
        /* deterministic, blocks of 7 rows (the last block of a batch is short) */
        one.block = 7;
        kd_rbm *det1 = train_plain(&o, &one, &data);
        for (int size = 2; size <= 3; size++) {
            kd_rbm *det = train_split(&o, 7, size, &data);
            kd_test(det && !memcmp(kd_rbm_params(det), kd_rbm_params(det1),
                                   kd_rbm_nparams(det1) * sizeof(float)),
                    "%s: deterministic split over %d ranks bit-identical to one process", what,
                    size);
            kd_rbm_free(det);
            /* fast mode: the partial sums are added in another order. Over 18
             * updates of ≤ 40 products each, rounding moves a parameter by
             * ≲ 18·lr·40·6e-8 ≈ 2e-6 (SGD); Adam divides by √s and can turn a
             * rounding-level gradient into a step of up to lr = 0.01, so for it
             * only agreement within a few steps is meaningful (5·lr). A missing
             * or doubled part changes the gradient by O(1) and fails either. */
            kd_rbm *fast = train_split(&o, 0, size, &data);
            double tol = cfg ? 5 * o.lr : 2e-6;
            kd_test(fast && max_diff(fast, plain) <= tol,
                    "%s: fast split over %d ranks within %.2g of one process (%.3g)", what, size,
                    tol, fast ? max_diff(fast, plain) : NAN);
            kd_rbm_free(fast);
        }
        kd_test(max_diff(det1, plain) > 0 && max_diff(det1, plain) < (cfg ? 5 * o.lr : 2e-6),
                "%s: the deterministic sum differs from one sgemm by rounding only (%.3g)", what,
                max_diff(det1, plain));
        kd_rbm_free(plain);
        kd_rbm_free(fast1);
        kd_rbm_free(det1);
    }
    kd_set_threads(0);
    free(sp);
}

int main(void)
{
    test_gradient_fd();
    test_cd_vs_exact();
    test_training_kl();
    test_threads();
    test_resume();
    test_nan();
    test_split();
    return kd_test_done();
}
