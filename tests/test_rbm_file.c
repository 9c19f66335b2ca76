/* Tests of the RBM and DBN model files (src/io/rbm_file.c): bit-exact round
 * trips of parameters, hyperparameters, history and trainer state; resume
 * through the file layer bit-identical to an uninterrupted run; damaged files
 * refused with KD_ERR_FORMAT and a message naming the file; writers that
 * refuse bad models leave nothing behind; model-generated datasets
 * (temperature -1). */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kadanoff/dataset.h"
#include "kadanoff/rbm.h"
#include "kadanoff/rbm_file.h"
#include "kadanoff/rng.h"
#include "testing.h"
#include "tmp_path.h"
#include "h5_edit.h"

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- fixtures ------------------------------------------------------------------ */

/* n random configurations of an L = 3 square lattice (9 spins), biased towards
 * +1 so that training has something to learn. */
static int8_t *make_spins(size_t n, int nv, uint64_t seed)
{
    int8_t *s = malloc(n * (size_t)nv);
    kd_rng g;
    kd_rng_init(&g, seed, 0);
    for (size_t r = 0; r < n; r++) {
        int8_t sign = kd_rng_spin(&g);
        for (int i = 0; i < nv; i++)
            s[r * (size_t)nv + (size_t)i] = kd_rng_uniform(&g) < 0.8 ? sign : (int8_t)-sign;
    }
    return s;
}

static void fill_source(kd_rbm_source *src, int L, double *temps, size_t ntemps)
{
    memset(src, 0, sizeof *src);
    src->lattice.kind = KD_LATTICE_SQUARE;
    src->lattice.L = L;
    src->lattice.boundary = KD_BOUNDARY_OPEN;
    src->lattice.J = 0.75;
    src->lattice.field = -0.125;
    snprintf(src->data, sizeof src->data, "some/data 'quoted' ±.h5");
    snprintf(src->temps, sizeof src->temps, "1,2:3:0.5");
    snprintf(src->exclude, sizeof src->exclude, "2.5");
    src->rows = 123;
    src->ntemperatures = ntemps;
    src->temperatures = temps;
    snprintf(src->command, sizeof src->command, "kadanoff train-rbm x --lr 0.1");
}

typedef struct {
    kd_rbm_method method;
    kd_rbm_optimizer optimizer;
    kd_rbm_schedule schedule;
    kd_units vis, hid;
    unsigned flags;
    double valid_fraction;
} variant;

static void variant_options(const variant *v, uint64_t epochs, kd_rbm_train_options *o)
{
    kd_rbm_train_options_default(o);
    o->method = v->method;
    o->k = v->method == KD_RBM_PCD ? 3 : 2;
    o->batch = 16;
    o->epochs = epochs;
    o->optimizer = v->optimizer;
    o->lr = 0.05;
    o->schedule = v->schedule;
    o->lr_final = 0.001;
    o->lr_decay = 0.9;
    o->momentum = 0.7;
    o->l1 = 1e-3;
    o->l2 = 2e-3;
    o->valid_fraction = v->valid_fraction;
    o->seed = 12345;
    o->monitor_samples = 40;
}

/* A trained record: RBM 9-5 of the variant, `epochs` epochs on the spins
 * out of `planned` (the length of the linear schedule). */
static kd_rbm_record *trained_run(const variant *v, const int8_t *spins, size_t n,
                                  uint64_t epochs, uint64_t planned)
{
    kd_rbm *rbm = NULL;
    kd_rbm_record *rec = NULL;
    kd_rbm_trainer *t = NULL;
    kd_rbm_train_options o;
    variant_options(v, planned, &o);
    kd_rbm_data d = {spins, NULL, NULL, n};
    if (kd_rbm_new(&rbm, 9, 5, v->vis, v->hid, v->flags) != KD_OK ||
        kd_rbm_init_gaussian(rbm, 0.1, 7) != KD_OK || kd_rbm_record_new(&rec, rbm) != KD_OK) {
        kd_rbm_free(rbm);
        return NULL;
    }
    rec->init_sigma = 0.1;
    rec->ais_every = 2;
    rec->ais_runs = 10;
    rec->ais_steps = 20;
    int ok = kd_rbm_trainer_new(&t, rbm, &o, &d, NULL) == KD_OK;
    for (uint64_t e = 0; ok && e < epochs; e++)
        ok = kd_rbm_trainer_epoch(t, NULL) == KD_OK;
    kd_rbm_ais_stats a = {epochs, 3.25, 0.125, -4.5, NAN};
    ok = ok && kd_rbm_record_set_training(rec, t) == KD_OK &&
         kd_rbm_record_add_ais(rec, &a) == KD_OK;
    kd_rbm_trainer_free(t);
    if (!ok) {
        kd_rbm_record_free(rec);
        return NULL;
    }
    return rec;
}

static kd_rbm_record *trained_record(const variant *v, const int8_t *spins, size_t n,
                                     uint64_t epochs)
{
    return trained_run(v, spins, n, epochs, epochs);
}

static int same_floats(const float *a, const float *b, size_t n)
{
    return (!a && !b) || (a && b && memcmp(a, b, n * sizeof *a) == 0);
}

static int same_double(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Everything the file stores, compared bit for bit. */
static int same_record(const kd_rbm_record *a, const kd_rbm_record *b, const char *what)
{
    const kd_rbm *x = a->rbm, *y = b->rbm;
    int ok = kd_test(kd_rbm_nv(x) == kd_rbm_nv(y) && kd_rbm_nh(x) == kd_rbm_nh(y) &&
                         kd_rbm_visible_units(x) == kd_rbm_visible_units(y) &&
                         kd_rbm_hidden_units(x) == kd_rbm_hidden_units(y) &&
                         kd_rbm_flags(x) == kd_rbm_flags(y),
                     "%s: shape, units and flags", what);
    ok &= kd_test(same_floats(kd_rbm_params(x), kd_rbm_params(y), kd_rbm_nparams(x)),
                  "%s: parameters bit-exact", what);
    ok &= kd_test(a->trained == b->trained, "%s: trained flag", what);
    if (!a->trained || !b->trained)
        return ok;
    const kd_rbm_train_options *o = &a->train, *p = &b->train;
    ok &= kd_test(o->method == p->method && o->k == p->k && o->batch == p->batch &&
                      o->epochs == p->epochs && o->optimizer == p->optimizer &&
                      o->schedule == p->schedule && o->shuffle == p->shuffle &&
                      o->seed == p->seed && o->monitor_every == p->monitor_every &&
                      o->monitor_samples == p->monitor_samples && o->pll_units == p->pll_units &&
                      o->exact_max_units == p->exact_max_units,
                  "%s: integer options", what);
    ok &= kd_test(same_double(o->lr, p->lr) && same_double(o->lr_final, p->lr_final) &&
                      same_double(o->lr_decay, p->lr_decay) &&
                      same_double(o->momentum, p->momentum) &&
                      same_double(o->adam_beta1, p->adam_beta1) &&
                      same_double(o->adam_beta2, p->adam_beta2) &&
                      same_double(o->adam_eps, p->adam_eps) && same_double(o->l1, p->l1) &&
                      same_double(o->l2, p->l2) &&
                      same_double(o->valid_fraction, p->valid_fraction) &&
                      same_double(a->init_sigma, b->init_sigma) && a->init == b->init,
                  "%s: real options bit-exact", what);
    ok &= kd_test(a->ais_every == b->ais_every && a->ais_runs == b->ais_runs &&
                      a->ais_steps == b->ais_steps,
                  "%s: AIS monitoring options", what);
    size_t np = kd_rbm_nparams(x);
    ok &= kd_test(a->epochs_done == b->epochs_done && a->updates == b->updates &&
                      same_floats(a->velocity, b->velocity, np) &&
                      same_floats(a->second_moment, b->second_moment, np) &&
                      a->nchains == b->nchains &&
                      same_floats(a->chains, b->chains, a->nchains * (size_t)kd_rbm_nv(x)),
                  "%s: trainer state bit-exact (epochs %llu/%llu, updates %llu/%llu)", what,
                  (unsigned long long)a->epochs_done, (unsigned long long)b->epochs_done,
                  (unsigned long long)a->updates, (unsigned long long)b->updates);
    ok &= kd_test(a->nhistory == b->nhistory &&
                      (a->nhistory == 0 ||
                       memcmp(a->history, b->history, a->nhistory * sizeof *a->history) == 0),
                  "%s: history bit-exact (%zu epochs)", what, a->nhistory);
    ok &= kd_test(a->nais == b->nais &&
                      (a->nais == 0 || memcmp(a->ais, b->ais, a->nais * sizeof *a->ais) == 0),
                  "%s: AIS records bit-exact", what);
    return ok;
}

static int same_source(const kd_rbm_source *a, const kd_rbm_source *b, const char *what)
{
    return kd_test(a->lattice.kind == b->lattice.kind && a->lattice.L == b->lattice.L &&
                       a->lattice.boundary == b->lattice.boundary &&
                       same_double(a->lattice.J, b->lattice.J) &&
                       same_double(a->lattice.field, b->lattice.field) &&
                       !strcmp(a->data, b->data) && !strcmp(a->temps, b->temps) &&
                       !strcmp(a->exclude, b->exclude) && a->rows == b->rows &&
                       !strcmp(a->command, b->command) && a->ntemperatures == b->ntemperatures &&
                       memcmp(a->temperatures, b->temperatures,
                              a->ntemperatures * sizeof(double)) == 0 &&
                       !strcmp(b->kadanoff_version, kd_version()),
                   "%s: source (lattice, data, selection, temperatures, command, version)", what);
}

/* ---- round trips ------------------------------------------------------------- */

static const variant variants[] = {
    {KD_RBM_CD, KD_RBM_SGD, KD_RBM_LR_EXPONENTIAL, KD_UNITS_SPIN, KD_UNITS_SPIN, 0, 0},
    {KD_RBM_PCD, KD_RBM_ADAM, KD_RBM_LR_LINEAR, KD_UNITS_BINARY, KD_UNITS_SPIN,
     KD_RBM_NO_VISIBLE_BIAS, 0.25},
    {KD_RBM_PCD, KD_RBM_SGD, KD_RBM_LR_CONSTANT, KD_UNITS_SPIN, KD_UNITS_BINARY,
     KD_RBM_NO_VISIBLE_BIAS | KD_RBM_NO_HIDDEN_BIAS, 0.1},
};
#define NVARIANTS (sizeof variants / sizeof variants[0])

static void test_rbm_round_trip(void)
{
    int8_t *spins = make_spins(64, 9, 1);
    double temps[3] = {1.0, 2.0, INFINITY};
    for (size_t k = 0; k < NVARIANTS; k++) {
        char what[64];
        snprintf(what, sizeof what, "RBM round trip, variant %zu", k);
        kd_rbm_record *rec = trained_record(&variants[k], spins, 64, 3);
        if (!kd_test(rec != NULL, "%s: train (%s)", what, kd_last_error()))
            continue;
        kd_rbm_file f = {.model = rec};
        fill_source(&f.source, 3, temps, 3);
        const char *path = tmp_path("rt.h5");
        kd_rbm_file *g = NULL;
        kd_status s = kd_rbm_file_write(path, &f);
        if (kd_test(s == KD_OK, "%s: write (%s)", what, kd_last_error()) &&
            kd_test((s = kd_rbm_file_read(path, &g)) == KD_OK, "%s: read (%s)", what,
                    kd_last_error())) {
            same_record(rec, g->model, what);
            same_source(&f.source, &g->source, what);
        }
        kd_rbm_file_free(g);
        kd_rbm_record_free(rec);
    }
    /* an untrained model (e.g. an exact RG mapping) carries no training record */
    kd_rbm *r = NULL;
    kd_rbm_record *rec = NULL;
    kd_rbm_new(&r, 4, 3, KD_UNITS_SPIN, KD_UNITS_SPIN, KD_RBM_NO_VISIBLE_BIAS);
    kd_rbm_init_gaussian(r, 1.0, 3);
    kd_rbm_record_new(&rec, r);
    kd_rbm_file f = {.model = rec};
    fill_source(&f.source, 4, NULL, 0);
    f.source.lattice.kind = KD_LATTICE_CHAIN;
    kd_rbm_file *g = NULL;
    const char *path = tmp_path("bare.h5");
    if (kd_test(kd_rbm_file_write(path, &f) == KD_OK && kd_rbm_file_read(path, &g) == KD_OK,
                "untrained model: write and read (%s)", kd_last_error())) {
        same_record(rec, g->model, "untrained model");
        kd_test(g->source.ntemperatures == 0, "untrained model: no temperatures");
    }
    kd_rbm_file_free(g);
    kd_rbm_record_free(rec);
    free(spins);
}

static void test_dbn_round_trip(void)
{
    int8_t *spins = make_spins(64, 9, 2);
    double temps[1] = {2.269};
    kd_rbm_record *layers[2] = {trained_record(&variants[0], spins, 64, 2), NULL};
    /* layer 1: 5 spin visible units, trained on the up pass of layer 0 */
    kd_rbm *r = NULL;
    float *up = malloc(64 * 5 * sizeof *up), *v = malloc(64 * 9 * sizeof *v);
    kd_rbm_trainer *t = NULL;
    kd_rbm_train_options o;
    variant_options(&variants[1], 2, &o);
    kd_rbm_spins_to_values(KD_UNITS_SPIN, spins, 64 * 9, v);
    int ok = layers[0] && kd_rbm_up(layers[0]->rbm, v, 64, KD_RBM_MEAN, 0, 0, up) == KD_OK &&
             kd_rbm_new(&r, 5, 2, KD_UNITS_SPIN, KD_UNITS_BINARY, 0) == KD_OK &&
             kd_rbm_record_new(&layers[1], r) == KD_OK;
    kd_rbm_data d = {NULL, up, NULL, 64};
    ok = ok && kd_rbm_trainer_new(&t, r, &o, &d, NULL) == KD_OK &&
         kd_rbm_trainer_epoch(t, NULL) == KD_OK && kd_rbm_trainer_epoch(t, NULL) == KD_OK &&
         kd_rbm_record_set_training(layers[1], t) == KD_OK;
    kd_rbm_trainer_free(t);
    if (kd_test(ok, "DBN fixture (%s)", kd_last_error())) {
        kd_dbn_file f = {.propagate = KD_RBM_SAMPLE, .seed = 99, .depth = 2, .layers = layers};
        fill_source(&f.source, 3, temps, 1);
        kd_dbn_file *g = NULL;
        const char *path = tmp_path("dbn.h5");
        if (kd_test(kd_dbn_file_write(path, &f) == KD_OK, "DBN write (%s)", kd_last_error()) &&
            kd_test(kd_dbn_file_read(path, &g) == KD_OK, "DBN read (%s)", kd_last_error())) {
            kd_test(g->depth == 2 && g->propagate == KD_RBM_SAMPLE && g->seed == 99,
                    "DBN: depth, propagation and seed");
            same_source(&f.source, &g->source, "DBN");
            same_record(layers[0], g->layers[0], "DBN layer 0");
            same_record(layers[1], g->layers[1], "DBN layer 1");
            kd_dbn *net = NULL;
            kd_test(kd_dbn_file_network(g, &net) == KD_OK && kd_dbn_depth(net) == 2 &&
                        kd_dbn_width(net, 2) == 2,
                    "DBN file as a network");
            kd_dbn_free(net);
            /* either format through the generic reader */
            kd_rbm_file *ra = NULL;
            kd_dbn_file *da = NULL;
            kd_test(kd_model_file_read(path, &ra, &da) == KD_OK && !ra && da && da->depth == 2,
                    "kd_model_file_read recognises a DBN");
            kd_dbn_file_free(da);
            kd_rbm_file_free(ra);
        }
        kd_dbn_file_free(g);
        /* layers that do not chain are refused before anything is written */
        kd_rbm *odd = NULL;
        kd_rbm_record *orec = NULL;
        kd_rbm_new(&odd, 4, 2, KD_UNITS_SPIN, KD_UNITS_SPIN, 0);
        kd_rbm_record_new(&orec, odd);
        kd_rbm_record *bad[2] = {layers[0], orec};
        kd_dbn_file fb = {f.source, KD_RBM_MEAN, 1, 2, bad};
        const char *bp = tmp_path("dbn_bad.h5");
        kd_test(kd_dbn_file_write(bp, &fb) == KD_ERR_INVALID && !exists(bp) &&
                    strstr(kd_last_error(), "layer 1 has 4") != NULL,
                "DBN with non-chaining layers refused, no file (%s)", kd_last_error());
        kd_rbm_record_free(orec);
    }
    kd_rbm_record_free(layers[0]);
    kd_rbm_record_free(layers[1]);
    free(up);
    free(v);
    free(spins);
}

/* ---- resume ------------------------------------------------------------------- */

/* 2N epochs in one trainer equal N epochs, a write, a read into a new model
 * and trainer, and N more: every parameter, the optimiser state, the chains
 * and the monitors of the history (all but the wall time) bit-identical. */
static void test_resume(void)
{
    const uint64_t N = 3;
    int8_t *spins = make_spins(80, 9, 3);
    kd_rbm_data d = {spins, NULL, NULL, 80};
    for (size_t k = 0; k < NVARIANTS; k++) {
        char what[64];
        snprintf(what, sizeof what, "resume, variant %zu", k);
        kd_rbm_record *full = trained_record(&variants[k], spins, 80, 2 * N);
        kd_rbm_record *half = trained_run(&variants[k], spins, 80, N, 2 * N);
        if (!kd_test(full && half, "%s: train (%s)", what, kd_last_error())) {
            kd_rbm_record_free(full);
            kd_rbm_record_free(half);
            continue;
        }
        kd_rbm_file f = {.model = half};
        fill_source(&f.source, 3, NULL, 0);
        const char *path = tmp_path("resume.h5");
        kd_rbm_file *g = NULL;
        kd_rbm_trainer *t = NULL;
        kd_rbm_trainer_state st;
        int ok = kd_rbm_file_write(path, &f) == KD_OK && kd_rbm_file_read(path, &g) == KD_OK;
        ok = ok && kd_rbm_trainer_new(&t, g->model->rbm, &g->model->train, &d, NULL) == KD_OK;
        if (ok) {
            kd_rbm_record_state(g->model, &st);
            ok = kd_rbm_trainer_set_state(t, &st) == KD_OK;
        }
        for (uint64_t e = 0; ok && e < N; e++)
            ok = kd_rbm_trainer_epoch(t, NULL) == KD_OK;
        ok = ok && kd_rbm_record_set_training(g->model, t) == KD_OK;
        if (kd_test(ok, "%s: write, read, continue (%s)", what, kd_last_error())) {
            kd_rbm_record *r = g->model;
            size_t np = kd_rbm_nparams(r->rbm);
            kd_test(same_floats(kd_rbm_params(full->rbm), kd_rbm_params(r->rbm), np),
                    "%s: weights and biases bit-identical to the uninterrupted run", what);
            kd_test(r->updates == full->updates && r->epochs_done == 2 * N &&
                        same_floats(full->velocity, r->velocity, np) &&
                        same_floats(full->second_moment, r->second_moment, np) &&
                        same_floats(full->chains, r->chains, r->nchains * 9),
                    "%s: optimiser state and chains bit-identical", what);
            int hist = r->nhistory == full->nhistory;
            for (size_t e = 0; hist && e < r->nhistory; e++) {
                kd_rbm_epoch_stats a = full->history[e], b = r->history[e];
                a.seconds = b.seconds = 0;
                hist = memcmp(&a, &b, sizeof a) == 0;
            }
            kd_test(hist, "%s: monitors of all %zu epochs bit-identical", what, r->nhistory);
        }
        kd_rbm_trainer_free(t);
        kd_rbm_file_free(g);
        kd_rbm_record_free(full);
        kd_rbm_record_free(half);
    }
    free(spins);
}

/* ---- damaged files ---------------------------------------------------------------- */

/* Reading `path` as a model fails with `want`; the message names the file
 * and contains `phrase`. dbn: read as a DBN. */
static void expect_error(const char *path, int dbn, kd_status want, const char *phrase,
                         const char *what)
{
    kd_rbm_file *r = NULL;
    kd_dbn_file *d = NULL;
    kd_clear_error();
    kd_status s = dbn ? kd_dbn_file_read(path, &d) : kd_rbm_file_read(path, &r);
    const char *msg = kd_last_error();
    kd_test(s == want && !r && !d, "%s: status '%s', expected '%s'", what, kd_strerror(s),
            kd_strerror(want));
    kd_test(strstr(msg, path) != NULL && strstr(msg, phrase) != NULL,
            "%s: message names the file and says '%s': \"%s\"", what, phrase, msg);
    kd_rbm_file_free(r);
    kd_dbn_file_free(d);
}

static void test_damaged(void)
{
    int8_t *spins = make_spins(64, 9, 4);
    double temps[2] = {1.5, 3.0};
    kd_rbm_record *rec = trained_record(&variants[1], spins, 64, 2); /* PCD + Adam */
    char good[512];
    snprintf(good, sizeof good, "%s", tmp_path("good.h5"));
    kd_rbm_file f = {.model = rec};
    fill_source(&f.source, 3, temps, 2);
    if (!kd_test(rec && kd_rbm_file_write(good, &f) == KD_OK, "write the file to damage (%s)",
                 kd_last_error())) {
        kd_rbm_record_free(rec);
        free(spins);
        return;
    }
    const char *p = tmp_path("bad.h5");
    const hsize_t w_wrong[2] = {9, 6}, np = kd_rbm_nparams(rec->rbm);
    float *w = calloc(9 * 6, sizeof *w);
    float *vel = calloc(np, sizeof *vel);

    h5e_copy(good, p);
    h5e_put(p, "/W", H5T_NATIVE_FLOAT, H5T_NATIVE_FLOAT, 2, w_wrong, w);
    expect_error(p, 0, KD_ERR_FORMAT, "'/W' has shape (9, 6), expected (9, 5)", "W of wrong shape");

    h5e_copy(good, p);
    const hsize_t w_dims[2] = {9, 5};
    w[7] = NAN;
    h5e_put(p, "/W", H5T_NATIVE_FLOAT, H5T_NATIVE_FLOAT, 2, w_dims, w);
    expect_error(p, 0, KD_ERR_FORMAT, "W[1][2] is nan", "NaN weight");

    h5e_copy(good, p);
    w[7] = 0;
    h5e_put(p, "/W", H5T_NATIVE_DOUBLE, H5T_NATIVE_DOUBLE, 2, w_dims, (double[45]){0});
    expect_error(p, 0, KD_ERR_FORMAT, "float64, expected float32", "float64 weights");

    h5e_copy(good, p);
    const hsize_t one = 9;
    h5e_put(p, "/visible_bias", H5T_NATIVE_FLOAT, H5T_NATIVE_FLOAT, 1, &one, (float[9]){0, 0, 0.5f});
    expect_error(p, 0, KD_ERR_FORMAT, "visible biases are disabled", "nonzero disabled bias");

    h5e_copy(good, p);
    h5e_set_string(p, "/", "format", "kadanoff-dataset");
    expect_error(p, 0, KD_ERR_FORMAT, "expected 'kadanoff-rbm' (this is a dataset",
                 "wrong format tag");
    expect_error(good, 1, KD_ERR_FORMAT, "expected 'kadanoff-dbn'", "an RBM read as a DBN");

    h5e_copy(good, p);
    h5e_set_int(p, "/", "format_version", 2);
    expect_error(p, 0, KD_ERR_FORMAT, "format_version", "newer format version");

    h5e_copy(good, p);
    h5e_delete_attr(p, "/", "lr");
    expect_error(p, 0, KD_ERR_FORMAT, "'lr'", "missing attribute lr");

    h5e_copy(good, p);
    h5e_delete_attr(p, "/", "hidden_units");
    expect_error(p, 0, KD_ERR_FORMAT, "'hidden_units'", "missing attribute hidden_units");

    h5e_copy(good, p);
    h5e_set_string(p, "/", "visible_units", "ising");
    expect_error(p, 0, KD_ERR_FORMAT, "'ising', expected 'spin' or 'binary'", "unknown units");

    h5e_copy(good, p);
    h5e_set_string(p, "/", "method", "contrastive");
    expect_error(p, 0, KD_ERR_FORMAT, "expected 'cd' or 'pcd'", "unknown method");

    h5e_copy(good, p);
    h5e_set_int(p, "/", "L", 4);
    expect_error(p, 0, KD_ERR_FORMAT, "'nv' of '/' is 9, expected 16", "lattice does not match nv");

    h5e_copy(good, p);
    h5e_set_int(p, "/", "epochs_done", 3);
    expect_error(p, 0, KD_ERR_FORMAT, "one per epoch done", "history shorter than epochs_done");

    h5e_copy(good, p);
    h5e_set_int(p, "/", "k", 0);
    expect_error(p, 0, KD_ERR_FORMAT, "'k' of '/' is 0", "CD-0");

    h5e_copy(good, p);
    const hsize_t short_vel = np - 1;
    h5e_put(p, "/state/velocity", H5T_NATIVE_FLOAT, H5T_NATIVE_FLOAT, 1, &short_vel, vel);
    expect_error(p, 0, KD_ERR_FORMAT, "'/state/velocity' has shape", "velocity too short");

    h5e_copy(good, p);
    h5e_delete(p, "/state/second_moment");
    expect_error(p, 0, KD_ERR_FORMAT, "'/state/second_moment' is missing", "Adam state missing");

    h5e_copy(good, p);
    vel[3] = INFINITY;
    const hsize_t np_dims = np;
    h5e_put(p, "/state/velocity", H5T_NATIVE_FLOAT, H5T_NATIVE_FLOAT, 1, &np_dims, vel);
    expect_error(p, 0, KD_ERR_FORMAT, "expected finite numbers", "Inf in the velocity");

    h5e_copy(good, p);
    h5e_delete(p, "/state/chains");
    expect_error(p, 0, KD_ERR_FORMAT, "'/state/chains' is missing", "PCD chains missing");

    /* not HDF5 at all, missing */
    FILE *txt = fopen(p, "w");
    fputs("W = [[1, 2], [3, 4]]\n", txt);
    fclose(txt);
    expect_error(p, 0, KD_ERR_FORMAT, "HDF5", "text file");
    expect_error(tmp_path("missing.h5"), 0, KD_ERR_IO, "missing.h5", "missing file");

    /* DBN: broken chain of layers */
    kd_rbm_record *layers[2] = {rec, NULL};
    kd_rbm *top = NULL;
    kd_rbm_new(&top, 5, 3, KD_UNITS_SPIN, KD_UNITS_SPIN, 0);
    kd_rbm_record_new(&layers[1], top);
    kd_dbn_file df = {f.source, KD_RBM_MEAN, 1, 2, layers};
    char dgood[512];
    snprintf(dgood, sizeof dgood, "%s", tmp_path("dgood.h5"));
    if (kd_test(kd_dbn_file_write(dgood, &df) == KD_OK, "write a DBN to damage (%s)",
                kd_last_error())) {
        h5e_copy(dgood, p);
        h5e_set_int(p, "/layer1", "nv", 4);
        expect_error(p, 1, KD_ERR_FORMAT, "'nv' of '/layer1' is 4, expected 5",
                     "DBN layers do not chain");
        h5e_copy(dgood, p);
        h5e_set_int(p, "/", "depth", 3);
        expect_error(p, 1, KD_ERR_FORMAT, "'/layer2", "DBN depth larger than its layers");
    }
    kd_rbm_record_free(layers[1]);

    /* a dataset is not a model */
    kd_lattice lat = {KD_LATTICE_CHAIN, 4, KD_BOUNDARY_PERIODIC, 1, 0};
    kd_dataset *ds = NULL;
    kd_dataset_new(&ds, &lat, 2, 0, 0);
    for (size_t i = 0; i < 8; i++)
        ds->spins[i] = 1;
    const char *dp = tmp_path("data.h5");
    kd_rbm_file *ra = NULL;
    kd_dbn_file *da = NULL;
    kd_test(kd_dataset_write(dp, ds) == KD_OK &&
                kd_model_file_read(dp, &ra, &da) == KD_ERR_FORMAT &&
                strstr(kd_last_error(), dp) && strstr(kd_last_error(), "this is a dataset"),
            "kd_model_file_read refuses a dataset: \"%s\"", kd_last_error());
    kd_dataset_free(ds);

    free(w);
    free(vel);
    kd_rbm_record_free(rec);
    free(spins);
}

/* ---- writer refusals ------------------------------------------------------------ */

static void test_write_refusals(void)
{
    int8_t *spins = make_spins(32, 9, 5);
    kd_rbm_record *rec = trained_record(&variants[0], spins, 32, 1);
    if (!kd_test(rec != NULL, "fixture"))
        return;
    kd_rbm_file f = {.model = rec};
    fill_source(&f.source, 3, NULL, 0);
    const char *path = tmp_path("keep.h5");
    kd_test(kd_rbm_file_write(path, &f) == KD_OK, "write a good model");
    long before = 0;
    struct stat st;
    if (stat(path, &st) == 0)
        before = (long)st.st_size;

    kd_rbm_weights(rec->rbm)[4] = NAN;
    kd_test(kd_rbm_file_write(path, &f) == KD_ERR_INVALID && strstr(kd_last_error(), path),
            "NaN weight refused naming the file: \"%s\"", kd_last_error());
    kd_rbm_weights(rec->rbm)[4] = 0.5f;
    f.source.lattice.L = 4;
    kd_test(kd_rbm_file_write(path, &f) == KD_ERR_INVALID &&
                strstr(kd_last_error(), "9 visible units but its lattice"),
            "lattice size differing from nv refused: \"%s\"", kd_last_error());
    f.source.lattice.L = 3;
    rec->nhistory = 0;
    kd_test(kd_rbm_file_write(path, &f) == KD_ERR_INVALID, "history shorter than epochs refused");
    rec->nhistory = 1;
    kd_test(stat(path, &st) == 0 && (long)st.st_size == before,
            "the existing file survived the refused writes");
    kd_rbm_file *g = NULL;
    kd_test(kd_rbm_file_read(path, &g) == KD_OK && isfinite(kd_rbm_weights(g->model->rbm)[4]),
            "and still reads as the good model (%s)", kd_last_error());
    kd_rbm_file_free(g);
    kd_rbm_record_free(rec);
    free(spins);
}

/* ---- model-generated datasets --------------------------------------------------- */

static void test_unknown_temperature(void)
{
    kd_lattice lat = {KD_LATTICE_SQUARE, 3, KD_BOUNDARY_PERIODIC, 1, 0};
    kd_dataset *d = NULL, *e = NULL;
    kd_dataset_new(&d, &lat, 4, 0, 0);
    for (size_t i = 0; i < 36; i++)
        d->spins[i] = (i % 3) ? 1 : -1;
    for (size_t r = 0; r < 4; r++) {
        d->temperature[r] = KD_TEMPERATURE_UNKNOWN;
        d->energy[r] = kd_ising_energy(&lat, d->spins + 9 * r);
        d->magnetization[r] = kd_ising_magnetization(&lat, d->spins + 9 * r);
    }
    const char *path = tmp_path("gen.h5");
    snprintf(d->algorithm, sizeof d->algorithm, "metropolis");
    kd_test(kd_dataset_write(path, d) == KD_ERR_INVALID && !exists(path),
            "T = -1 refused for a Monte Carlo dataset");
    snprintf(d->algorithm, sizeof d->algorithm, "rbm-gibbs");
    kd_test(kd_dataset_write(path, d) == KD_OK && kd_dataset_read(path, &e) == KD_OK &&
                e->temperature[3] == KD_TEMPERATURE_UNKNOWN,
            "T = -1 (unknown) round-trips in an rbm-gibbs dataset (%s)", kd_last_error());
    kd_dataset_free(d);
    kd_dataset_free(e);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kd_test_rbm_file.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    kd_set_threads(2);
    test_rbm_round_trip();
    test_dbn_round_trip();
    test_resume();
    test_damaged();
    test_write_refusals();
    test_unknown_temperature();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return kd_test_done();
}
