#define _POSIX_C_SOURCE 200809L
/*
 * The RBM flow. A sampled flow v -> h -> v is block Gibbs sampling, whose
 * stationary distribution is the RBM's own marginal p(v) = e^{-F(v)}/Z. On a
 * model small enough to enumerate, the empirical distribution of many
 * independent chains after enough steps must match p(v) exactly — the
 * "hand-built RBM with a known stationary distribution" check. Also: thread
 * independence, the mean-field flow reaching a fixed point of its map, the
 * per-step observables, and the fixed-point detector.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kadanoff/kadanoff.h"
#include "testing.h"

static kd_rbm *make_rbm(kd_units vu, kd_units hu, int nv, int nh, double sigma, uint64_t seed)
{
    kd_rbm *r;
    kd_rbm_new(&r, nv, nh, vu, hu, 0);
    kd_rbm_init_gaussian(r, sigma, seed);
    /* non-trivial biases too, so the marginal is asymmetric */
    float *a = kd_rbm_visible_bias(r), *b = kd_rbm_hidden_bias(r);
    for (int i = 0; i < nv; i++)
        a[i] = 0.2f * (float)((i % 3) - 1);
    for (int j = 0; j < nh; j++)
        b[j] = -0.15f * (float)(j % 2);
    return r;
}

static void test_stationary_distribution(kd_units vu, kd_units hu)
{
    const int nv = 6, nh = 4;
    kd_lattice lat = {KD_LATTICE_CHAIN, nv, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    kd_rbm *rbm = make_rbm(vu, hu, nv, nh, 0.6, 3);
    double logz, logp[64];
    kd_rbm_log_z(rbm, KD_RBM_SUM_SMALLER, &logz);
    kd_rbm_visible_log_prob_all(rbm, logz, logp);

    const size_t chains = 40000;
    int8_t *start = malloc(chains * nv);
    memset(start, 1, chains * nv); /* every chain starts all up: far from p(v) */
    kd_flow_options opt;
    kd_flow_options_init(&opt);
    /* The spin/spin model with these weights is bimodal and mixes slowly from the
     * all-up start: chi2 measured 8957 after 30 steps, 191 after 100, 72 after
     * 300 (63 dof). 300 steps gives the binary models ample margin too. */
    opt.steps = 300;
    opt.keep_every = opt.steps;
    opt.seed = 17;
    kd_flow *f;
    kd_status st = kd_flow_run(rbm, &lat, start, chains, &opt, &f);
    if (!kd_test(st == KD_OK, "flow runs: %s", st ? kd_last_error() : "ok"))
        return;
    long count[64] = {0};
    const int8_t *last = f->spins + (size_t)(f->nkept - 1) * chains * nv;
    for (size_t c = 0; c < chains; c++) {
        unsigned idx = 0;
        for (int i = 0; i < nv; i++)
            idx |= (unsigned)(last[c * nv + i] > 0) << i; /* bit i set iff unit i up */
        count[idx]++;
    }
    /* Chains are independent, so counts are multinomial: Pearson chi-square has
     * mean dof and sd sqrt(2 dof); bound dof + 5 sd. */
    double chi2 = 0;
    int dof = -1;
    for (int s = 0; s < 64; s++) {
        double expct = exp(logp[s]) * (double)chains;
        chi2 += ((double)count[s] - expct) * ((double)count[s] - expct) / expct;
        dof++;
    }
    kd_test(chi2 < dof + 5 * sqrt(2.0 * dof),
            "%s/%s flow converges to the RBM marginal p(v): chi2 %.1f, dof %d",
            kd_units_name(vu), kd_units_name(hu), chi2, dof);
    /* step-0 energy is that of the all-up start: -J·(bonds)/N = -1 */
    kd_flow_stats s0;
    kd_flow_step_stats(f, 0, &s0);
    kd_test(s0.e == -1.0 && s0.e_err == 0 && s0.abs_m == 1.0, "step 0 measures the start");
    kd_flow_free(f);
    free(start);
    kd_rbm_free(rbm);
}

static void test_threads_and_mean_field(void)
{
    const int L = 4, nv = 16, nh = 9;
    kd_lattice lat = {KD_LATTICE_SQUARE, L, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    kd_rbm *rbm = make_rbm(KD_UNITS_SPIN, KD_UNITS_SPIN, nv, nh, 0.3, 5);
    const size_t chains = 300;
    int8_t *start = malloc(chains * nv);
    kd_rng r;
    kd_rng_init(&r, 1, 2);
    for (size_t i = 0; i < chains * nv; i++)
        start[i] = kd_rng_spin(&r);
    kd_flow_options opt;
    kd_flow_options_init(&opt);
    opt.steps = 12;
    opt.keep_every = 4;
    kd_flow *a, *b;
    kd_set_threads(1);
    kd_flow_run(rbm, &lat, start, chains, &opt, &a);
    kd_set_threads(2);
    kd_flow_run(rbm, &lat, start, chains, &opt, &b);
    kd_test(a->nkept == 4 && a->kept_steps[3] == 12 &&
                !memcmp(a->spins, b->spins, (size_t)a->nkept * chains * nv) &&
                !memcmp(a->energy, b->energy, 13 * chains * sizeof(double)),
            "sampled flow identical for 1 and 2 threads; kept steps 0,4,8,12");
    kd_flow_free(a);
    kd_flow_free(b);

    /* Mean-field flow: a deterministic map; after many steps the state is a
     * fixed point, so one more step changes it by (almost) nothing. */
    opt.mode = KD_FLOW_MEAN_FIELD;
    opt.steps = 200;
    opt.keep_every = 200;
    kd_flow *m;
    kd_flow_run(rbm, &lat, start, chains, &opt, &m);
    const float *v = m->values + (size_t)(m->nkept - 1) * chains * nv;
    float *again = malloc(chains * nv * sizeof *again);
    memcpy(again, v, chains * nv * sizeof *again);
    kd_rbm_mean_field(rbm, again, chains, 1, NULL);
    double change = 0;
    for (size_t i = 0; i < chains * nv; i++)
        change = fmax(change, fabs(again[i] - v[i]));
    /* the map is a contraction for weights this small (σ = 0.3): float32 noise only */
    kd_test(change < 1e-5, "mean-field flow reaches a fixed point (max change %.2e)", change);
    kd_flow_fixed_point fp;
    kd_flow_find_fixed_point(m, &fp);
    kd_test(fp.converged && fp.from_step < 150, "fixed point detected from step %d", fp.from_step);
    free(again);
    kd_flow_free(m);
    free(start);
    kd_rbm_free(rbm);
}

static void test_file_round_trip(void)
{
    const int L = 4, nv = 16;
    kd_lattice lat = {KD_LATTICE_SQUARE, L, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    kd_rbm *rbm = make_rbm(KD_UNITS_SPIN, KD_UNITS_BINARY, nv, 5, 0.4, 9);
    int8_t start[16 * 7];
    memset(start, -1, sizeof start);
    char dir[] = "/tmp/kd_flow_XXXXXX", path[64], bad[80];
    if (!mkdtemp(dir))
        return;
    snprintf(path, sizeof path, "%s/f.h5", dir);
    for (int mode = 0; mode < 2; mode++) {
        kd_flow_options opt;
        kd_flow_options_init(&opt);
        opt.steps = 5;
        opt.keep_every = 2;
        opt.mode = (kd_flow_mode)mode;
        kd_flow *f, *g = NULL;
        kd_flow_run(rbm, &lat, start, 7, &opt, &f);
        snprintf(f->rbm, sizeof f->rbm, "model.h5");
        snprintf(f->start, sizeof f->start, "up");
        f->readout = calloc(6, sizeof *f->readout);
        f->nclasses = 2;
        f->class_T = malloc(2 * sizeof(double));
        f->probabilities = malloc(12 * sizeof(double));
        for (int k = 0; k < 6; k++) {
            f->readout[k] = (kd_flow_readout){k, 2.0 + k, 2.1, 0.01 * k, NAN, NAN, NAN, NAN};
            f->probabilities[2 * k] = 0.25;
            f->probabilities[2 * k + 1] = 0.75;
        }
        f->class_T[0] = 1.0;
        f->class_T[1] = INFINITY;
        kd_status st = kd_flow_write(path, f);
        if (st == KD_OK)
            st = kd_flow_read(path, &g);
        int same = st == KD_OK && g->steps == 5 && g->chains == 7 && g->nkept == 4 &&
                   g->mode == f->mode && !memcmp(g->kept_steps, f->kept_steps, 4 * sizeof(int)) &&
                   !memcmp(g->energy, f->energy, 6 * 7 * sizeof(double)) &&
                   !memcmp(g->correlation, f->correlation, 6 * (size_t)f->nr * sizeof(double)) &&
                   !strcmp(g->rbm, "model.h5") && !strcmp(g->thermometer, "") &&
                   g->nclasses == 2 && isinf(g->class_T[1]) && g->probabilities[11] == 0.75 &&
                   g->readout && g->readout[5].step == 5 && g->readout[5].T_thermometer == 7.0 &&
                   isnan(g->readout[5].T_abs_m) &&
                   (mode == 0 ? !memcmp(g->spins, f->spins, 4 * 7 * 16)
                              : !memcmp(g->values, f->values, 4 * 7 * 16 * sizeof(float)));
        kd_test(same, "%s flow file round trip is exact: %s", kd_flow_mode_name((kd_flow_mode)mode),
                st ? kd_last_error() : "ok");
        kd_flow_free(f);
        kd_flow_free(g);
    }
    /* a dataset is not a flow file */
    kd_dataset *d;
    kd_dataset_new(&d, &lat, 1, 0, 3);
    memset(d->spins, 1, 16);
    snprintf(bad, sizeof bad, "%s/d.h5", dir);
    kd_dataset_write(bad, d);
    kd_dataset_free(d);
    kd_flow *g = NULL;
    kd_test(kd_flow_read(bad, &g) == KD_ERR_FORMAT && !g && strstr(kd_last_error(), bad),
            "a dataset file is refused as a flow: %s", kd_last_error());
    remove(bad);
    remove(path);
    rmdir(dir);
    kd_rbm_free(rbm);
}

/* Progress callback stopping the flow after step *(int *)user. */
static int stop_at(double fraction, const char *label, void *user)
{
    (void)label;
    int *left = user;
    (void)fraction;
    return --*left == 0;
}

static int same_flow(const kd_flow *a, const kd_flow *b)
{
    const size_t C = a->chains, N = kd_lattice_size(&a->lattice), rows = (size_t)a->steps + 1;
    const size_t nk = (size_t)a->nkept * C * N;
    return a->steps == b->steps && a->steps_done == b->steps_done && a->nkept == b->nkept &&
           !b->state && !memcmp(a->kept_steps, b->kept_steps, (size_t)a->nkept * sizeof(int)) &&
           !memcmp(a->energy, b->energy, rows * C * sizeof(double)) &&
           !memcmp(a->magnetization, b->magnetization, rows * C * sizeof(double)) &&
           !memcmp(a->correlation, b->correlation, rows * (size_t)a->nr * sizeof(double)) &&
           !memcmp(a->correlation_err, b->correlation_err, rows * (size_t)a->nr * sizeof(double)) &&
           (a->spins ? !memcmp(a->spins, b->spins, nk)
                     : !memcmp(a->values, b->values, nk * sizeof(float)));
}

/* Interrupt and resume: a flow stopped after step 3, saved as a checkpoint
 * file, read back, continued (on another thread count), stopped again after
 * 4 more steps, and continued to the end equals the uninterrupted flow bit for
 * bit; a resume with another seed or --keep-every is refused. */
static void test_interrupt_resume(void)
{
    const int L = 4, nv = 16;
    kd_lattice lat = {KD_LATTICE_SQUARE, L, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    char dir[] = "/tmp/kd_flow_XXXXXX", path[64];
    if (!kd_test(mkdtemp(dir) != NULL, "temporary directory"))
        return;
    snprintf(path, sizeof path, "%s/f.h5.ckpt", dir);
    const size_t chains = 50;
    int8_t *start = malloc(chains * nv);
    kd_rng r;
    kd_rng_init(&r, 4, 5);
    for (size_t i = 0; i < chains * nv; i++)
        start[i] = kd_rng_spin(&r);
    for (int mode = 0; mode < 2; mode++) {
        /* binary visible units for sampling (state 0/1), spin units for mean field */
        kd_rbm *rbm = make_rbm(mode ? KD_UNITS_SPIN : KD_UNITS_BINARY, KD_UNITS_SPIN, nv, 7,
                               0.5, 11);
        kd_flow_options opt;
        kd_flow_options_init(&opt);
        opt.steps = 12;
        opt.keep_every = 5;
        opt.seed = 21;
        opt.mode = (kd_flow_mode)mode;
        const char *name = kd_flow_mode_name(opt.mode);
        kd_flow *ref = NULL, *f = NULL, *part = NULL, *ck = NULL, *bad = NULL;
        kd_set_threads(1);
        kd_flow_run(rbm, &lat, start, chains, &opt, &ref);

        int left = 3;
        opt.progress = stop_at;
        opt.progress_user = &left;
        opt.partial = &part;
        kd_status st = kd_flow_run(rbm, &lat, start, chains, &opt, &f);
        kd_test(st == KD_ERR_CANCELLED && !f && part && part->steps_done == 3 && part->state &&
                    part->nkept == 1,
                "%s: stopped after step 3, the partial flow holds steps 0..3 and v_3", name);
        if (!part)
            continue;
        st = kd_flow_write(path, part);
        kd_test(st == KD_OK && kd_flow_read(path, &bad) == KD_ERR_FORMAT && !bad &&
                    strstr(kd_last_error(), "interrupted"),
                "%s: a checkpoint is not read as a flow: %s", name, kd_last_error());
        st = kd_flow_read_checkpoint(path, &ck);
        kd_test(st == KD_OK && ck->steps_done == 3 &&
                    !memcmp(ck->state, part->state, chains * nv * sizeof(float)),
                "%s: checkpoint file keeps the state exactly: %s", name,
                st ? kd_last_error() : "ok");
        kd_flow_free(part);
        part = NULL;
        if (st != KD_OK)
            continue;

        /* continue on 2 threads, stop again after 4 more steps (step 7) */
        kd_set_threads(2);
        left = 4;
        opt.resume = ck;
        st = kd_flow_run(rbm, &lat, NULL, chains, &opt, &f);
        kd_test(st == KD_ERR_CANCELLED && part && part->steps_done == 7 && part->nkept == 2,
                "%s: resumed flow stopped again after step 7", name);
        kd_flow_free(ck);
        ck = part;
        part = NULL;
        left = 1000;
        opt.resume = ck;
        st = kd_flow_run(rbm, &lat, NULL, chains, &opt, &f);
        kd_test(st == KD_OK && f && ref && same_flow(ref, f),
                "%s: interrupted twice and resumed = uninterrupted, bit for bit", name);
        kd_flow_free(f);
        f = NULL;

        opt.seed = 22;
        kd_test(kd_flow_run(rbm, &lat, NULL, chains, &opt, &f) == KD_ERR_INVALID && !f &&
                    strstr(kd_last_error(), "seed 22"),
                "%s: resume with another seed refused: %s", name, kd_last_error());
        opt.seed = 21;
        opt.keep_every = 2;
        kd_test(kd_flow_run(rbm, &lat, NULL, chains, &opt, &f) == KD_ERR_INVALID && !f,
                "%s: resume with other kept steps refused: %s", name, kd_last_error());
        opt.keep_every = 5;

        /* a stop requested after the last step finishes the flow instead */
        opt.resume = NULL;
        left = 12;
        st = kd_flow_run(rbm, &lat, start, chains, &opt, &f);
        kd_test(st == KD_OK && !part && f && same_flow(ref, f),
                "%s: a stop after the last step completes the flow", name);
        kd_flow_free(f);
        kd_flow_free(ck);
        kd_flow_free(ref);
        kd_rbm_free(rbm);
        remove(path);
    }
    kd_set_threads(1);
    free(start);
    rmdir(dir);
}

static void test_bad_input(void)
{
    kd_lattice lat = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    kd_rbm *rbm = make_rbm(KD_UNITS_SPIN, KD_UNITS_SPIN, 9, 4, 0.1, 1);
    int8_t start[16];
    memset(start, 1, sizeof start);
    kd_flow_options opt;
    kd_flow_options_init(&opt);
    kd_flow *f = NULL;
    kd_test(kd_flow_run(rbm, &lat, start, 1, &opt, &f) == KD_ERR_INVALID && !f &&
                strstr(kd_last_error(), "9 visible units"),
            "lattice / RBM size mismatch refused: %s", kd_last_error());
    kd_rbm_free(rbm);
    rbm = make_rbm(KD_UNITS_SPIN, KD_UNITS_SPIN, 16, 4, 0.1, 1);
    start[3] = 0;
    kd_test(kd_flow_run(rbm, &lat, start, 1, &opt, &f) == KD_ERR_INVALID,
            "non-±1 start refused: %s", kd_last_error());
    start[3] = 1;
    opt.steps = 0;
    kd_test(kd_flow_run(rbm, &lat, start, 1, &opt, &f) == KD_ERR_INVALID, "zero steps refused");
    kd_rbm_free(rbm);
}

int main(void)
{
    test_stationary_distribution(KD_UNITS_SPIN, KD_UNITS_SPIN);
    test_stationary_distribution(KD_UNITS_BINARY, KD_UNITS_BINARY);
    test_stationary_distribution(KD_UNITS_SPIN, KD_UNITS_BINARY);
    test_threads_and_mean_field();
    test_file_round_trip();
    test_interrupt_resume();
    test_bad_input();
    return kd_test_done();
}
