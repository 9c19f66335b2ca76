/* RBM and DBN model files: formats "kadanoff-rbm" and "kadanoff-dbn"
 * (layout: include/kadanoff/rbm_file.h, docs/formats.md). */
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/h5.h"
#include "kadanoff/dataset.h"
#include "kadanoff/rbm_file.h"

/* Largest array accepted when reading a model file (bytes in memory). */
#define MODEL_MAX_BYTES ((size_t)1 << 36)
/* Deepest DBN accepted by the reader. */
#define DBN_MAX_DEPTH 64

/* ---- names ---------------------------------------------------------------------- */

typedef struct {
    const char *const *names;
    int count;
    const char *what;
} name_table;

static const char *const init_names[] = {[KD_RBM_INIT_GAUSSIAN] = "gaussian",
                                         [KD_RBM_INIT_ZERO] = "zero"};
static const char *const method_names[] = {[KD_RBM_CD] = "cd", [KD_RBM_PCD] = "pcd"};
static const char *const optimizer_names[] = {[KD_RBM_SGD] = "sgd", [KD_RBM_ADAM] = "adam"};
static const char *const schedule_names[] = {[KD_RBM_LR_CONSTANT] = "constant",
                                             [KD_RBM_LR_LINEAR] = "linear",
                                             [KD_RBM_LR_EXPONENTIAL] = "exponential"};
static const char *const mode_names[] = {[KD_RBM_MEAN] = "mean", [KD_RBM_SAMPLE] = "sample"};

#define TABLE(arr, what) {arr, (int)(sizeof arr / sizeof arr[0]), what}
static const name_table init_table = TABLE(init_names, "'gaussian' or 'zero'");
static const name_table method_table = TABLE(method_names, "'cd' or 'pcd'");
static const name_table optimizer_table = TABLE(optimizer_names, "'sgd' or 'adam'");
static const name_table schedule_table =
    TABLE(schedule_names, "'constant', 'linear' or 'exponential'");
static const name_table mode_table = TABLE(mode_names, "'mean' or 'sample'");

static const char *table_name(const name_table *t, int v)
{
    return v >= 0 && v < t->count ? t->names[v] : "unknown";
}

static int table_find(const name_table *t, const char *name)
{
    for (int v = 0; name && v < t->count; v++)
        if (strcmp(name, t->names[v]) == 0)
            return v;
    return -1;
}

static kd_status table_parse(const name_table *t, const char *kind, const char *name, int *out)
{
    int v = table_find(t, name);
    if (v < 0)
        KD_FAIL(KD_ERR_INVALID, "unknown %s '%s', expected %s", kind, name ? name : "(null)",
                t->what);
    *out = v;
    return KD_OK;
}

const char *kd_rbm_init_name(kd_rbm_init v) { return table_name(&init_table, (int)v); }
const char *kd_rbm_method_name(kd_rbm_method v) { return table_name(&method_table, (int)v); }
const char *kd_rbm_optimizer_name(kd_rbm_optimizer v)
{
    return table_name(&optimizer_table, (int)v);
}
const char *kd_rbm_schedule_name(kd_rbm_schedule v) { return table_name(&schedule_table, (int)v); }
const char *kd_rbm_mode_name(kd_rbm_mode v) { return table_name(&mode_table, (int)v); }

/* kd_rbm_*_parse: the value named `name` in a table, or an error naming the
 * kind of setting and the accepted names (table_parse). */
#define DEFINE_PARSE(fn, type, table, what)                                                          \
    kd_status fn(const char *name, type *out)                                                        \
    {                                                                                                \
        int v = 0;                                                                                   \
        KD_CHECK(table_parse(&table, what, name, &v));                                               \
        *out = (type)v;                                                                              \
        return KD_OK;                                                                                \
    }
DEFINE_PARSE(kd_rbm_init_parse, kd_rbm_init, init_table, "initialisation")
DEFINE_PARSE(kd_rbm_method_parse, kd_rbm_method, method_table, "training method")
DEFINE_PARSE(kd_rbm_optimizer_parse, kd_rbm_optimizer, optimizer_table, "optimiser")
DEFINE_PARSE(kd_rbm_schedule_parse, kd_rbm_schedule, schedule_table, "learning-rate schedule")
DEFINE_PARSE(kd_rbm_mode_parse, kd_rbm_mode, mode_table, "mode")
#undef DEFINE_PARSE

/* ---- records --------------------------------------------------------------------- */

static void record_clear_training(kd_rbm_record *rec)
{
    free(rec->velocity);
    free(rec->second_moment);
    free(rec->chains);
    free(rec->history);
    free(rec->ais);
    rec->velocity = rec->second_moment = rec->chains = NULL;
    rec->history = NULL;
    rec->ais = NULL;
    rec->nchains = rec->nhistory = rec->nais = 0;
    rec->epochs_done = rec->updates = 0;
}

kd_status kd_rbm_record_new(kd_rbm_record **out, kd_rbm *rbm)
{
    *out = NULL;
    if (!rbm)
        KD_FAIL(KD_ERR_INVALID, "no RBM given for a model record");
    kd_rbm_record *rec = calloc(1, sizeof *rec);
    if (!rec)
        KD_FAIL(KD_ERR_NOMEM, "out of memory for a model record");
    rec->rbm = rbm;
    kd_rbm_train_options_default(&rec->train);
    rec->init = KD_RBM_INIT_GAUSSIAN;
    rec->init_sigma = 0.01;
    *out = rec;
    return KD_OK;
}

void kd_rbm_record_free(kd_rbm_record *rec)
{
    if (!rec)
        return;
    record_clear_training(rec);
    kd_rbm_free(rec->rbm);
    free(rec);
}

static void *copy_array(const void *src, size_t count, size_t size)
{
    void *p = malloc(count ? count * size : 1);
    if (p && count)
        memcpy(p, src, count * size);
    return p;
}

kd_status kd_rbm_record_set_training(kd_rbm_record *rec, const kd_rbm_trainer *t)
{
    kd_rbm_trainer_state st;
    kd_rbm_trainer_get_state(t, &st);
    const int nv = kd_rbm_nv(rec->rbm);
    if (st.nparams != kd_rbm_nparams(rec->rbm))
        KD_FAIL(KD_ERR_INVALID, "trainer state has %zu parameters, the record's RBM %zu",
                st.nparams, kd_rbm_nparams(rec->rbm));
    float *vel = copy_array(st.velocity, st.nparams, sizeof(float));
    float *sq = st.second_moment ? copy_array(st.second_moment, st.nparams, sizeof(float)) : NULL;
    float *ch = st.nchains ? copy_array(st.chains, st.nchains * (size_t)nv, sizeof(float)) : NULL;
    kd_rbm_epoch_stats *h = copy_array(st.history, st.nhistory, sizeof *h);
    if (!vel || (st.second_moment && !sq) || (st.nchains && !ch) || !h) {
        free(vel);
        free(sq);
        free(ch);
        free(h);
        KD_FAIL(KD_ERR_NOMEM, "out of memory copying a trainer state");
    }
    kd_rbm_ais_stats *ais = rec->ais; /* AIS estimates are the caller's: keep them */
    size_t nais = rec->nais;
    rec->ais = NULL;
    record_clear_training(rec);
    rec->ais = ais;
    rec->nais = nais;
    rec->trained = 1;
    rec->train = *kd_rbm_trainer_options(t);
    rec->train.progress = NULL;
    rec->train.progress_user = NULL;
    rec->epochs_done = st.epoch;
    rec->updates = st.updates;
    rec->velocity = vel;
    rec->second_moment = sq;
    rec->nchains = st.nchains;
    rec->chains = ch;
    rec->nhistory = st.nhistory;
    rec->history = h;
    return KD_OK;
}

void kd_rbm_record_state(const kd_rbm_record *rec, kd_rbm_trainer_state *st)
{
    st->epoch = rec->epochs_done;
    st->updates = rec->updates;
    st->nparams = kd_rbm_nparams(rec->rbm);
    st->velocity = rec->velocity;
    st->second_moment = rec->second_moment;
    st->nchains = rec->nchains;
    st->chains = rec->chains;
    st->nhistory = rec->nhistory;
    st->history = rec->history;
}

kd_status kd_rbm_record_add_ais(kd_rbm_record *rec, const kd_rbm_ais_stats *a)
{
    kd_rbm_ais_stats *p = realloc(rec->ais, (rec->nais + 1) * sizeof *p);
    if (!p)
        KD_FAIL(KD_ERR_NOMEM, "out of memory for AIS monitoring records");
    p[rec->nais++] = *a;
    rec->ais = p;
    return KD_OK;
}

/* ---- layout tables ---------------------------------------------------------------- */

#define HIST_FIELD(m, type) {#m, offsetof(kd_rbm_epoch_stats, m), type}
static const kd_h5_field history_fields[] = {
    HIST_FIELD(epoch, KD_H5_UINT64),
    HIST_FIELD(lr, KD_H5_FLOAT64),
    HIST_FIELD(recon_error, KD_H5_FLOAT64),
    HIST_FIELD(recon_error_valid, KD_H5_FLOAT64),
    HIST_FIELD(pll, KD_H5_FLOAT64),
    HIST_FIELD(pll_valid, KD_H5_FLOAT64),
    HIST_FIELD(free_energy, KD_H5_FLOAT64),
    HIST_FIELD(free_energy_valid, KD_H5_FLOAT64),
    HIST_FIELD(free_energy_gap, KD_H5_FLOAT64),
    HIST_FIELD(log_z, KD_H5_FLOAT64),
    HIST_FIELD(loglik, KD_H5_FLOAT64),
    HIST_FIELD(loglik_valid, KD_H5_FLOAT64),
    HIST_FIELD(seconds, KD_H5_FLOAT64),
};
#define NHIST (sizeof history_fields / sizeof history_fields[0])

#define AIS_FIELD(m, type) {#m, offsetof(kd_rbm_ais_stats, m), type}
static const kd_h5_field ais_fields[] = {
    AIS_FIELD(epoch, KD_H5_UINT64),  AIS_FIELD(log_z, KD_H5_FLOAT64),
    AIS_FIELD(log_z_err, KD_H5_FLOAT64), AIS_FIELD(loglik, KD_H5_FLOAT64),
    AIS_FIELD(loglik_valid, KD_H5_FLOAT64),
};
#define NAIS (sizeof ais_fields / sizeof ais_fields[0])

/* Numeric hyperparameters of a trained record: stored as float64 (real),
 * int64 (int) or uint64 (size) attributes, with the range a reader accepts. */
typedef enum { HP_REAL, HP_INT, HP_SIZE } hp_kind;
typedef struct {
    const char *name;
    size_t offset; /* in kd_rbm_record */
    hp_kind kind;
    double lo, hi;
    int lo_open, hi_open;
} hp_spec;

#define REC(m) offsetof(kd_rbm_record, m)
static const hp_spec hyper[] = {
    {"k", REC(train.k), HP_INT, 1, 1e6, 0, 0},
    {"batch", REC(train.batch), HP_SIZE, 1, 16777216.0, 0, 0},
    {"lr", REC(train.lr), HP_REAL, 0, DBL_MAX, 1, 0},
    {"lr_final", REC(train.lr_final), HP_REAL, 0, DBL_MAX, 0, 0},
    {"lr_decay", REC(train.lr_decay), HP_REAL, 0, 1, 1, 0},
    {"momentum", REC(train.momentum), HP_REAL, 0, 1, 0, 1},
    {"adam_beta1", REC(train.adam_beta1), HP_REAL, 0, 1, 0, 1},
    {"adam_beta2", REC(train.adam_beta2), HP_REAL, 0, 1, 0, 1},
    {"adam_eps", REC(train.adam_eps), HP_REAL, 0, DBL_MAX, 1, 0},
    {"l1", REC(train.l1), HP_REAL, 0, DBL_MAX, 0, 0},
    {"l2", REC(train.l2), HP_REAL, 0, DBL_MAX, 0, 0},
    {"shuffle", REC(train.shuffle), HP_INT, 0, 1, 0, 0},
    {"valid_fraction", REC(train.valid_fraction), HP_REAL, 0, 1, 0, 1},
    {"monitor_every", REC(train.monitor_every), HP_INT, 0, INT_MAX, 0, 0},
    {"monitor_samples", REC(train.monitor_samples), HP_SIZE, 0, 1073741824.0, 0, 0},
    {"pll_units", REC(train.pll_units), HP_INT, -1, INT_MAX, 0, 0},
    {"exact_max_units", REC(train.exact_max_units), HP_INT, 0, KD_RBM_MAX_ENUM, 0, 0},
    {"init_sigma", REC(init_sigma), HP_REAL, 0, DBL_MAX, 0, 0},
    {"ais_every", REC(ais_every), HP_INT, 0, INT_MAX, 0, 0},
    {"ais_runs", REC(ais_runs), HP_INT, 0, INT_MAX, 0, 0},
    {"ais_steps", REC(ais_steps), HP_INT, 0, INT_MAX, 0, 0},
};
#define NHYPER (sizeof hyper / sizeof hyper[0])

/* Largest number of epochs (the trainer puts the epoch into 24 bits of its
 * Philox stream numbers). */
#define MAX_EPOCHS ((uint64_t)1 << 24)

/* "<group>/<name>" with group "" meaning the root. */
static const char *obj_path(char *buf, size_t size, const char *group, const char *name)
{
    snprintf(buf, size, "%s/%s", group, name);
    return buf;
}

static const char *owner(const char *group) { return *group ? group : "/"; }

/* ---- writing ---------------------------------------------------------------------- */

static kd_status check_record(const char *path, const char *group, const kd_rbm_record *rec)
{
    const char *g = owner(group);
    if (!rec || !rec->rbm)
        KD_FAIL(KD_ERR_INVALID, "%s: no model to write at '%s'", path, g);
    if (kd_rbm_validate(rec->rbm) != KD_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", kd_last_error());
        KD_FAIL(KD_ERR_INVALID, "%s: cannot write the model at '%s': %s", path, g, why);
    }
    if (!rec->trained)
        return KD_OK;
    const kd_rbm_train_options *o = &rec->train;
    if ((unsigned)o->method > KD_RBM_PCD || (unsigned)o->optimizer > KD_RBM_ADAM ||
        (unsigned)o->schedule > KD_RBM_LR_EXPONENTIAL || (unsigned)rec->init > KD_RBM_INIT_ZERO)
        KD_FAIL(KD_ERR_INVALID, "%s: model at '%s' has an unknown method, optimiser, schedule or "
                                "initialisation",
                path, g);
    if (!rec->velocity)
        KD_FAIL(KD_ERR_INVALID, "%s: trained model at '%s' without an optimiser state", path, g);
    if ((o->optimizer == KD_RBM_ADAM) != (rec->second_moment != NULL))
        KD_FAIL(KD_ERR_INVALID, "%s: model at '%s': Adam's second moments must be present exactly "
                                "for the Adam optimiser",
                path, g);
    size_t want_chains = o->method == KD_RBM_PCD ? o->batch : 0;
    if (rec->nchains != want_chains || (want_chains && !rec->chains))
        KD_FAIL(KD_ERR_INVALID, "%s: model at '%s' has %zu persistent chains, expected %zu", path,
                g, rec->nchains, want_chains);
    if (rec->nhistory != rec->epochs_done || (rec->nhistory && !rec->history))
        KD_FAIL(KD_ERR_INVALID,
                "%s: model at '%s' has %zu history entries for %" PRIu64 " epochs done", path, g,
                rec->nhistory, rec->epochs_done);
    if (rec->nais && !rec->ais)
        KD_FAIL(KD_ERR_INVALID, "%s: model at '%s' without its AIS records", path, g);
    for (size_t e = 0; e < rec->nais; e++)
        if (rec->ais[e].epoch > rec->epochs_done ||
            (e && rec->ais[e].epoch <= rec->ais[e - 1].epoch))
            KD_FAIL(KD_ERR_INVALID,
                    "%s: model at '%s': AIS record %zu is of epoch %" PRIu64
                    ", expected increasing epochs up to %" PRIu64,
                    path, g, e, rec->ais[e].epoch, rec->epochs_done);
    return KD_OK;
}

static kd_status write_hyper(kd_h5 *f, const char *g, const kd_rbm_record *rec)
{
    const char *base = (const char *)rec;
    for (size_t i = 0; i < NHYPER; i++) {
        const hp_spec *h = &hyper[i];
        const void *p = base + h->offset;
        switch (h->kind) {
        case HP_REAL:
            KD_CHECK(kd_h5_write_attr_double(f, g, h->name, *(const double *)p));
            break;
        case HP_INT:
            KD_CHECK(kd_h5_write_attr_int64(f, g, h->name, *(const int *)p));
            break;
        case HP_SIZE:
            KD_CHECK(kd_h5_write_attr_uint64(f, g, h->name, (uint64_t) * (const size_t *)p));
            break;
        }
    }
    const kd_rbm_train_options *o = &rec->train;
    KD_CHECK(kd_h5_write_attr_string(f, g, "method", kd_rbm_method_name(o->method)));
    KD_CHECK(kd_h5_write_attr_string(f, g, "optimizer", kd_rbm_optimizer_name(o->optimizer)));
    KD_CHECK(kd_h5_write_attr_string(f, g, "lr_schedule", kd_rbm_schedule_name(o->schedule)));
    KD_CHECK(kd_h5_write_attr_string(f, g, "init", kd_rbm_init_name(rec->init)));
    KD_CHECK(kd_h5_write_attr_uint64(f, g, "epochs", o->epochs));
    KD_CHECK(kd_h5_write_attr_uint64(f, g, "seed", o->seed));
    KD_CHECK(kd_h5_write_attr_uint64(f, g, "epochs_done", rec->epochs_done));
    KD_CHECK(kd_h5_write_attr_uint64(f, g, "updates", rec->updates));
    return KD_OK;
}

/* The RBM layout under `group` ("" = root). */
static kd_status write_record(kd_h5 *f, const char *group, const kd_rbm_record *rec)
{
    const kd_rbm *r = rec->rbm;
    const char *g = owner(group);
    char name[256];
    const uint64_t nv = (uint64_t)kd_rbm_nv(r), nh = (uint64_t)kd_rbm_nh(r);
    const uint64_t wdims[2] = {nv, nh}, np = kd_rbm_nparams(r);
    const unsigned flags = kd_rbm_flags(r);
    KD_CHECK(kd_h5_write(f, obj_path(name, sizeof name, group, "W"), KD_H5_FLOAT32, 2, wdims,
                         kd_rbm_weights(r), NULL));
    KD_CHECK(kd_h5_write(f, obj_path(name, sizeof name, group, "visible_bias"), KD_H5_FLOAT32, 1,
                         &wdims[0], kd_rbm_visible_bias(r), NULL));
    KD_CHECK(kd_h5_write(f, obj_path(name, sizeof name, group, "hidden_bias"), KD_H5_FLOAT32, 1,
                         &wdims[1], kd_rbm_hidden_bias(r), NULL));
    KD_CHECK(kd_h5_write_attr_int64(f, g, "nv", (int64_t)nv));
    KD_CHECK(kd_h5_write_attr_int64(f, g, "nh", (int64_t)nh));
    KD_CHECK(kd_h5_write_attr_string(f, g, "visible_units",
                                     kd_units_name(kd_rbm_visible_units(r))));
    KD_CHECK(
        kd_h5_write_attr_string(f, g, "hidden_units", kd_units_name(kd_rbm_hidden_units(r))));
    KD_CHECK(kd_h5_write_attr_int64(f, g, "visible_bias_enabled",
                                    !(flags & KD_RBM_NO_VISIBLE_BIAS)));
    KD_CHECK(kd_h5_write_attr_int64(f, g, "hidden_bias_enabled",
                                    !(flags & KD_RBM_NO_HIDDEN_BIAS)));
    KD_CHECK(kd_h5_write_attr_int64(f, g, "trained", rec->trained ? 1 : 0));
    if (!rec->trained)
        return KD_OK;

    KD_CHECK(write_hyper(f, g, rec));
    KD_CHECK(kd_h5_write_table(f, obj_path(name, sizeof name, group, "history"), history_fields,
                               NHIST, sizeof(kd_rbm_epoch_stats), rec->nhistory, rec->history));
    KD_CHECK(kd_h5_write_table(f, obj_path(name, sizeof name, group, "ais_history"), ais_fields,
                               NAIS, sizeof(kd_rbm_ais_stats), rec->nais, rec->ais));
    KD_CHECK(kd_h5_write(f, obj_path(name, sizeof name, group, "state/velocity"), KD_H5_FLOAT32,
                         1, &np, rec->velocity, NULL));
    if (rec->second_moment)
        KD_CHECK(kd_h5_write(f, obj_path(name, sizeof name, group, "state/second_moment"),
                             KD_H5_FLOAT32, 1, &np, rec->second_moment, NULL));
    if (rec->nchains) {
        const uint64_t cdims[2] = {rec->nchains, nv};
        KD_CHECK(kd_h5_write(f, obj_path(name, sizeof name, group, "state/chains"),
                             KD_H5_FLOAT32, 2, cdims, rec->chains, NULL));
    }
    return KD_OK;
}

static kd_status check_source(const char *path, const kd_rbm_source *s, const kd_rbm *first)
{
    if (kd_lattice_validate(&s->lattice) != KD_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", kd_last_error());
        KD_FAIL(KD_ERR_INVALID, "%s: cannot write the model: %s", path, why);
    }
    size_t N = kd_lattice_size(&s->lattice);
    if ((size_t)kd_rbm_nv(first) != N)
        KD_FAIL(KD_ERR_INVALID,
                "%s: the model has %d visible units but its lattice (%s, L = %d) has %zu sites",
                path, kd_rbm_nv(first), kd_lattice_kind_name(s->lattice.kind), s->lattice.L, N);
    if (s->ntemperatures && !s->temperatures)
        KD_FAIL(KD_ERR_INVALID, "%s: %zu training temperatures without values", path,
                s->ntemperatures);
    const struct {
        const char *name, *value;
        size_t size;
    } strs[] = {{"data", s->data, sizeof s->data},
                {"temps", s->temps, sizeof s->temps},
                {"exclude", s->exclude, sizeof s->exclude},
                {"command", s->command, sizeof s->command}};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (!memchr(strs[i].value, '\0', strs[i].size))
            KD_FAIL(KD_ERR_INVALID, "%s: source field '%s' is not a terminated string", path,
                    strs[i].name);
    return KD_OK;
}

static kd_status write_source(kd_h5 *f, const kd_rbm_source *s)
{
    const uint64_t nt = s->ntemperatures;
    KD_CHECK(kd_h5_write_lattice(f, "/", &s->lattice));
    KD_CHECK(kd_h5_write_attr_string(f, "/", "data", s->data));
    KD_CHECK(kd_h5_write_attr_string(f, "/", "temps", s->temps));
    KD_CHECK(kd_h5_write_attr_string(f, "/", "exclude", s->exclude));
    KD_CHECK(kd_h5_write_attr_uint64(f, "/", "rows", s->rows));
    KD_CHECK(kd_h5_write_attr_string(f, "/", "command", s->command));
    KD_CHECK(kd_h5_write(f, "/temperatures", KD_H5_FLOAT64, 1, &nt, s->temperatures, NULL));
    return KD_OK;
}

static kd_status write_rbm_body(kd_h5 *f, const kd_rbm_file *file)
{
    KD_CHECK(write_source(f, &file->source));
    return write_record(f, "", file->model);
}

kd_status kd_rbm_file_write(const char *path, const kd_rbm_file *file)
{
    kd_h5 *f;
    if (!path || !*path)
        KD_FAIL(KD_ERR_INVALID, "no output file name given");
    if (!file || !file->model || !file->model->rbm)
        KD_FAIL(KD_ERR_INVALID, "%s: no model to write", path);
    KD_CHECK(check_record(path, "", file->model));
    KD_CHECK(check_source(path, &file->source, file->model->rbm));
    KD_CHECK(kd_h5_create(&f, path, KD_RBM_FORMAT, KD_RBM_FORMAT_VERSION));
    kd_status s = write_rbm_body(f, file);
    if (s != KD_OK) {
        kd_h5_abort(f);
        return s;
    }
    return kd_h5_commit(f);
}

static void layer_group(char *buf, size_t size, int l) { snprintf(buf, size, "/layer%d", l); }

static kd_status write_dbn_body(kd_h5 *f, const kd_dbn_file *file)
{
    KD_CHECK(write_source(f, &file->source));
    KD_CHECK(kd_h5_write_attr_int64(f, "/", "depth", file->depth));
    KD_CHECK(kd_h5_write_attr_string(f, "/", "propagate", kd_rbm_mode_name(file->propagate)));
    KD_CHECK(kd_h5_write_attr_uint64(f, "/", "seed", file->seed));
    for (int l = 0; l < file->depth; l++) {
        char g[32];
        layer_group(g, sizeof g, l);
        KD_CHECK(write_record(f, g, file->layers[l]));
    }
    return KD_OK;
}

kd_status kd_dbn_file_write(const char *path, const kd_dbn_file *file)
{
    kd_h5 *f;
    if (!path || !*path)
        KD_FAIL(KD_ERR_INVALID, "no output file name given");
    if (!file || file->depth < 1 || !file->layers)
        KD_FAIL(KD_ERR_INVALID, "%s: a DBN file needs at least one layer", path);
    if ((unsigned)file->propagate > KD_RBM_SAMPLE)
        KD_FAIL(KD_ERR_INVALID, "%s: unknown propagation mode %d", path, (int)file->propagate);
    for (int l = 0; l < file->depth; l++) {
        char g[32];
        layer_group(g, sizeof g, l);
        KD_CHECK(check_record(path, g, file->layers[l]));
        if (l > 0) {
            const kd_rbm *lo = file->layers[l - 1]->rbm, *hi = file->layers[l]->rbm;
            if (kd_rbm_nv(hi) != kd_rbm_nh(lo) ||
                kd_rbm_visible_units(hi) != kd_rbm_hidden_units(lo))
                KD_FAIL(KD_ERR_INVALID,
                        "%s: DBN layer %d has %d %s visible units, but layer %d has %d %s hidden "
                        "units",
                        path, l, kd_rbm_nv(hi), kd_units_name(kd_rbm_visible_units(hi)), l - 1,
                        kd_rbm_nh(lo), kd_units_name(kd_rbm_hidden_units(lo)));
        }
    }
    KD_CHECK(check_source(path, &file->source, file->layers[0]->rbm));
    KD_CHECK(kd_h5_create(&f, path, KD_DBN_FORMAT, KD_DBN_FORMAT_VERSION));
    kd_status s = write_dbn_body(f, file);
    if (s != KD_OK) {
        kd_h5_abort(f);
        return s;
    }
    return kd_h5_commit(f);
}

/* ---- reading ---------------------------------------------------------------------- */

static kd_status read_int_attr(kd_h5 *f, const char *g, const char *name, int64_t lo, int64_t hi,
                               int64_t *out)
{
    KD_CHECK(kd_h5_read_attr_int64(f, g, name, out));
    if (*out < lo || *out > hi)
        KD_FAIL(KD_ERR_FORMAT,
                "%s: attribute '%s' of '%s' is %" PRId64 ", expected %" PRId64 " to %" PRId64,
                f->path, name, g, *out, lo, hi);
    return KD_OK;
}

static kd_status read_name_attr(kd_h5 *f, const char *g, const char *name, const name_table *t,
                                int *out)
{
    char buf[64];
    KD_CHECK(kd_h5_read_attr_string(f, g, name, buf, sizeof buf));
    *out = table_find(t, buf);
    if (*out < 0)
        KD_FAIL(KD_ERR_FORMAT, "%s: attribute '%s' of '%s' is '%s', expected %s", f->path, name,
                g, buf, t->what);
    return KD_OK;
}

static const name_table units_table = {(const char *const[]){"spin", "binary"}, 2,
                                       "'spin' or 'binary'"};

static kd_status read_hyper(kd_h5 *f, const char *g, kd_rbm_record *rec)
{
    char *base = (char *)rec;
    for (size_t i = 0; i < NHYPER; i++) {
        const hp_spec *h = &hyper[i];
        void *p = base + h->offset;
        double v;
        if (h->kind == HP_REAL) {
            KD_CHECK(kd_h5_read_attr_double(f, g, h->name, &v));
        } else if (h->kind == HP_INT) {
            int64_t x;
            KD_CHECK(kd_h5_read_attr_int64(f, g, h->name, &x));
            v = (double)x;
        } else {
            uint64_t x;
            KD_CHECK(kd_h5_read_attr_uint64(f, g, h->name, &x));
            v = (double)x;
        }
        int ok = !isnan(v) && (h->lo_open ? v > h->lo : v >= h->lo) &&
                 (h->hi_open ? v < h->hi : v <= h->hi);
        if (!ok)
            KD_FAIL(KD_ERR_FORMAT,
                    "%s: attribute '%s' of '%s' is %.17g, expected a value in %s%g, %g%s",
                    f->path, h->name, g, v, h->lo_open ? "(" : "[", h->lo, h->hi,
                    h->hi_open ? ")" : "]");
        switch (h->kind) {
        case HP_REAL:
            *(double *)p = v;
            break;
        case HP_INT:
            *(int *)p = (int)v;
            break;
        case HP_SIZE:
            *(size_t *)p = (size_t)v;
            break;
        }
    }
    int m = 0, o = 0, s = 0, in = 0;
    kd_rbm_train_options *t = &rec->train;
    KD_CHECK(read_name_attr(f, g, "method", &method_table, &m));
    KD_CHECK(read_name_attr(f, g, "optimizer", &optimizer_table, &o));
    KD_CHECK(read_name_attr(f, g, "lr_schedule", &schedule_table, &s));
    KD_CHECK(read_name_attr(f, g, "init", &init_table, &in));
    t->method = (kd_rbm_method)m;
    t->optimizer = (kd_rbm_optimizer)o;
    t->schedule = (kd_rbm_schedule)s;
    rec->init = (kd_rbm_init)in;
    KD_CHECK(kd_h5_read_attr_uint64(f, g, "epochs", &t->epochs));
    if (t->epochs > MAX_EPOCHS)
        KD_FAIL(KD_ERR_FORMAT, "%s: attribute 'epochs' of '%s' is %" PRIu64 ", expected 0 to 2^24",
                f->path, g, t->epochs);
    KD_CHECK(kd_h5_read_attr_uint64(f, g, "seed", &t->seed));
    KD_CHECK(kd_h5_read_attr_uint64(f, g, "epochs_done", &rec->epochs_done));
    if (rec->epochs_done > MAX_EPOCHS)
        KD_FAIL(KD_ERR_FORMAT, "%s: attribute 'epochs_done' of '%s' is %" PRIu64
                               ", expected at most 2^24",
                f->path, g, rec->epochs_done);
    KD_CHECK(kd_h5_read_attr_uint64(f, g, "updates", &rec->updates));
    t->progress = NULL;
    t->progress_user = NULL;
    return KD_OK;
}

/* Rows of a 1-D table (checked to be one). */
static kd_status table_rows(kd_h5 *f, const char *name, size_t row_size, size_t *rows)
{
    kd_h5_shape sh;
    KD_CHECK(kd_h5_inspect(f, name, &sh));
    if (sh.rank != 1 || strcmp(sh.type_desc, "compound") != 0)
        KD_FAIL(KD_ERR_FORMAT, "%s: dataset '%s' is a rank-%d %s array, expected a 1-D table "
                               "(compound type)",
                f->path, name, sh.rank, sh.type_desc);
    return kd_h5_check_size(f, name, &sh, row_size, MODEL_MAX_BYTES, rows);
}

/* A float32 array of exactly the given shape, every value finite, into a new
 * buffer (allocated only once the file is known to store that much). */
static kd_status read_floats(kd_h5 *f, const char *name, int rank, const uint64_t *dims,
                             float **out)
{
    size_t count = 1;
    KD_CHECK(kd_h5_expect(f, name, KD_H5_FLOAT32, rank, dims, NULL, MODEL_MAX_BYTES));
    for (int i = 0; i < rank; i++)
        count *= (size_t)dims[i];
    float *buf = malloc(count ? count * sizeof *buf : 1);
    if (!buf)
        KD_FAIL(KD_ERR_NOMEM, "%s: out of memory reading '%s'", f->path, name);
    kd_status s = kd_h5_read(f, name, KD_H5_FLOAT32, rank, dims, buf);
    for (size_t k = 0; s == KD_OK && k < count; k++)
        if (!isfinite(buf[k]))
            s = kd_set_error(KD_ERR_FORMAT,
                             "%s: dataset '%s' has %g at element %zu, expected finite numbers",
                             f->path, name, (double)buf[k], k);
    if (s != KD_OK) {
        free(buf);
        return s;
    }
    *out = buf;
    return KD_OK;
}

static kd_status read_training(kd_h5 *f, const char *group, kd_rbm_record *rec)
{
    const char *g = owner(group);
    char name[256];
    KD_CHECK(read_hyper(f, g, rec));
    const kd_rbm *r = rec->rbm;
    const kd_rbm_train_options *o = &rec->train;
    const uint64_t nv = (uint64_t)kd_rbm_nv(r), np = kd_rbm_nparams(r);

    size_t n;
    obj_path(name, sizeof name, group, "history");
    KD_CHECK(table_rows(f, name, sizeof(kd_rbm_epoch_stats), &n));
    if (n != rec->epochs_done)
        KD_FAIL(KD_ERR_FORMAT, "%s: table '%s' has %zu rows, expected one per epoch done (%" PRIu64
                               ", attribute 'epochs_done')",
                f->path, name, n, rec->epochs_done);
    rec->history = malloc((n ? n : 1) * sizeof *rec->history);
    if (!rec->history)
        KD_FAIL(KD_ERR_NOMEM, "%s: out of memory for a history of %zu epochs", f->path, n);
    rec->nhistory = n;
    KD_CHECK(kd_h5_read_table(f, name, history_fields, NHIST, sizeof(kd_rbm_epoch_stats), n,
                              rec->history));
    for (size_t e = 0; e < n; e++)
        if (rec->history[e].epoch != e + 1)
            KD_FAIL(KD_ERR_FORMAT, "%s: table '%s' row %zu is epoch %" PRIu64 ", expected %zu",
                    f->path, name, e, rec->history[e].epoch, e + 1);

    obj_path(name, sizeof name, group, "ais_history");
    KD_CHECK(table_rows(f, name, sizeof(kd_rbm_ais_stats), &n));
    rec->ais = malloc((n ? n : 1) * sizeof *rec->ais);
    if (!rec->ais)
        KD_FAIL(KD_ERR_NOMEM, "%s: out of memory for %zu AIS records", f->path, n);
    rec->nais = n;
    KD_CHECK(kd_h5_read_table(f, name, ais_fields, NAIS, sizeof(kd_rbm_ais_stats), n, rec->ais));
    for (size_t e = 0; e < n; e++)
        if (rec->ais[e].epoch > rec->epochs_done ||
            (e && rec->ais[e].epoch <= rec->ais[e - 1].epoch))
            KD_FAIL(KD_ERR_FORMAT, "%s: table '%s' row %zu is epoch %" PRIu64
                                   ", expected increasing epochs up to %" PRIu64,
                    f->path, name, e, rec->ais[e].epoch, rec->epochs_done);

    KD_CHECK(read_floats(f, obj_path(name, sizeof name, group, "state/velocity"), 1, &np,
                         &rec->velocity));
    obj_path(name, sizeof name, group, "state/second_moment");
    int has_sq = kd_h5_exists(f, name);
    if (has_sq != (o->optimizer == KD_RBM_ADAM))
        KD_FAIL(KD_ERR_FORMAT, "%s: dataset '%s' is %s, expected it %s (optimizer '%s')",
                f->path, name, has_sq ? "present" : "missing",
                o->optimizer == KD_RBM_ADAM ? "present" : "absent",
                kd_rbm_optimizer_name(o->optimizer));
    if (has_sq) {
        KD_CHECK(read_floats(f, name, 1, &np, &rec->second_moment));
        for (size_t k = 0; k < np; k++)
            if (rec->second_moment[k] < 0)
                KD_FAIL(KD_ERR_FORMAT, "%s: dataset '%s' has %g at element %zu, expected >= 0",
                        f->path, name, (double)rec->second_moment[k], k);
    }
    obj_path(name, sizeof name, group, "state/chains");
    int has_chains = kd_h5_exists(f, name);
    if (has_chains != (o->method == KD_RBM_PCD))
        KD_FAIL(KD_ERR_FORMAT, "%s: dataset '%s' is %s, expected it %s (method '%s')", f->path,
                name, has_chains ? "present" : "missing",
                o->method == KD_RBM_PCD ? "present" : "absent", kd_rbm_method_name(o->method));
    if (has_chains) {
        const uint64_t cdims[2] = {o->batch, nv};
        KD_CHECK(read_floats(f, name, 2, cdims, &rec->chains));
        rec->nchains = o->batch;
    }
    return KD_OK;
}

/* The RBM layout under `group`; nv_want > 0 requires that many visible units. */
static kd_status read_record(kd_h5 *f, const char *group, int64_t nv_want, kd_rbm_record **out)
{
    const char *g = owner(group);
    char name[256];
    int64_t nv, nh, vb, hb, trained;
    int vu = 0, hu = 0;
    *out = NULL;
    KD_CHECK(read_int_attr(f, g, "nv", 1, INT_MAX, &nv));
    KD_CHECK(read_int_attr(f, g, "nh", 1, INT_MAX, &nh));
    if (nv_want > 0 && nv != nv_want)
        KD_FAIL(KD_ERR_FORMAT,
                "%s: attribute 'nv' of '%s' is %" PRId64 ", expected %" PRId64 " (%s)",
                f->path, g, nv, nv_want,
                *group && strcmp(group, "/layer0") ? "the hidden units of the layer below"
                                                   : "the sites of the lattice");
    if (nv * nh >= ((int64_t)1 << 31))
        KD_FAIL(KD_ERR_FORMAT, "%s: model at '%s' is %" PRId64 "x%" PRId64
                               ", expected fewer than 2^31 weights",
                f->path, g, nv, nh);
    KD_CHECK(read_name_attr(f, g, "visible_units", &units_table, &vu));
    KD_CHECK(read_name_attr(f, g, "hidden_units", &units_table, &hu));
    KD_CHECK(read_int_attr(f, g, "visible_bias_enabled", 0, 1, &vb));
    KD_CHECK(read_int_attr(f, g, "hidden_bias_enabled", 0, 1, &hb));
    KD_CHECK(read_int_attr(f, g, "trained", 0, 1, &trained));
    unsigned flags = (vb ? 0u : KD_RBM_NO_VISIBLE_BIAS) | (hb ? 0u : KD_RBM_NO_HIDDEN_BIAS);

    /* The parameter arrays must be there, of their shapes, before the model's
     * memory is asked for (nv x nh from attributes alone could be 8 GB). */
    const uint64_t wdims[2] = {(uint64_t)nv, (uint64_t)nh};
    KD_CHECK(kd_h5_expect(f, obj_path(name, sizeof name, group, "W"), KD_H5_FLOAT32, 2, wdims,
                          "attributes 'nv' x 'nh'", MODEL_MAX_BYTES));
    KD_CHECK(kd_h5_expect(f, obj_path(name, sizeof name, group, "visible_bias"), KD_H5_FLOAT32,
                          1, &wdims[0], "attribute 'nv'", MODEL_MAX_BYTES));
    KD_CHECK(kd_h5_expect(f, obj_path(name, sizeof name, group, "hidden_bias"), KD_H5_FLOAT32,
                          1, &wdims[1], "attribute 'nh'", MODEL_MAX_BYTES));
    kd_rbm *rbm;
    KD_CHECK(kd_rbm_new(&rbm, (int)nv, (int)nh, (kd_units)vu, (kd_units)hu, flags));
    kd_rbm_record *rec;
    kd_status s = kd_rbm_record_new(&rec, rbm);
    if (s != KD_OK) {
        kd_rbm_free(rbm);
        return s;
    }
    s = kd_h5_read(f, obj_path(name, sizeof name, group, "W"), KD_H5_FLOAT32, 2, wdims,
                   kd_rbm_weights(rbm));
    if (s == KD_OK)
        s = kd_h5_read(f, obj_path(name, sizeof name, group, "visible_bias"), KD_H5_FLOAT32, 1,
                       &wdims[0], kd_rbm_visible_bias(rbm));
    if (s == KD_OK)
        s = kd_h5_read(f, obj_path(name, sizeof name, group, "hidden_bias"), KD_H5_FLOAT32, 1,
                       &wdims[1], kd_rbm_hidden_bias(rbm));
    if (s == KD_OK && kd_rbm_validate(rbm) != KD_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", kd_last_error());
        s = kd_set_error(KD_ERR_FORMAT,
                         "%s: model at '%s': %s, expected finite parameters (and zero disabled "
                         "biases)",
                         f->path, g, why);
    }
    if (s == KD_OK && trained) {
        rec->trained = 1;
        s = read_training(f, group, rec);
    }
    if (s != KD_OK) {
        kd_rbm_record_free(rec);
        return s;
    }
    *out = rec;
    return KD_OK;
}

static kd_status read_source(kd_h5 *f, kd_rbm_source *s)
{
    KD_CHECK(kd_h5_read_lattice(f, "/", &s->lattice));
    KD_CHECK(kd_h5_read_attr_string(f, "/", "data", s->data, sizeof s->data));
    KD_CHECK(kd_h5_read_attr_string(f, "/", "temps", s->temps, sizeof s->temps));
    KD_CHECK(kd_h5_read_attr_string(f, "/", "exclude", s->exclude, sizeof s->exclude));
    KD_CHECK(kd_h5_read_attr_uint64(f, "/", "rows", &s->rows));
    KD_CHECK(kd_h5_read_attr_string(f, "/", "command", s->command, sizeof s->command));
    KD_CHECK(kd_h5_read_attr_string(f, "/", "kadanoff_version", s->kadanoff_version,
                                    sizeof s->kadanoff_version));
    kd_h5_shape sh;
    void *t;
    KD_CHECK(kd_h5_read_alloc(f, "/temperatures", KD_H5_FLOAT64, MODEL_MAX_BYTES, &sh, &t));
    s->temperatures = t;
    if (sh.rank != 1)
        KD_FAIL(KD_ERR_FORMAT, "%s: dataset '/temperatures' has rank %d, expected 1", f->path,
                sh.rank);
    s->ntemperatures = (size_t)sh.dims[0];
    /* The distinct temperatures of the training rows: T >= 0 (inf allowed), or
     * the label of configurations drawn from a model (kadanoff generate). */
    for (size_t i = 0; i < s->ntemperatures; i++)
        if (!(s->temperatures[i] >= 0) && s->temperatures[i] != KD_TEMPERATURE_UNKNOWN)
            KD_FAIL(KD_ERR_FORMAT, "%s: dataset '/temperatures' has %g at element %zu, expected "
                                   "temperatures >= 0 (inf allowed) or %g (model samples)",
                    f->path, s->temperatures[i], i, KD_TEMPERATURE_UNKNOWN);
    return KD_OK;
}

static kd_status open_model(kd_h5 **f, const char *path, const char *format, int64_t version)
{
    KD_CHECK(kd_h5_open(f, path));
    char found[256];
    kd_status s = kd_h5_read_format(*f, found, sizeof found);
    if (s == KD_OK && strcmp(found, format) != 0)
        s = kd_set_error(KD_ERR_FORMAT, "%s: file has format '%s', expected '%s'%s", path, found,
                         format,
                         !strcmp(found, KD_DATASET_FORMAT) ? " (this is a dataset, not a model)"
                                                               : "");
    if (s == KD_OK)
        s = kd_h5_check_format(*f, format, version, NULL);
    if (s != KD_OK) {
        kd_h5_close(*f);
        *f = NULL;
    }
    return s;
}

void kd_rbm_file_free(kd_rbm_file *f)
{
    if (!f)
        return;
    free(f->source.temperatures);
    kd_rbm_record_free(f->model);
    free(f);
}

void kd_dbn_file_free(kd_dbn_file *f)
{
    if (!f)
        return;
    free(f->source.temperatures);
    if (f->layers)
        for (int l = 0; l < f->depth; l++)
            kd_rbm_record_free(f->layers[l]);
    free(f->layers);
    free(f);
}

/* How to read one kind of model file (RBM or DBN) into its struct. */
typedef struct {
    const char *format;
    int version;
    size_t size;                        /* of the struct, allocated zeroed */
    kd_status (*body)(kd_h5 *, void *); /* reads the file's contents into it */
    void (*free)(void *);               /* frees it, also when partly read */
} model_kind;

/* Open path as a model file of the kind and read it into a new struct: that,
 * or NULL with the error in *status. */
static void *read_model_file(const char *path, const model_kind *kind, kd_status *status)
{
    kd_h5 *h;
    if ((*status = open_model(&h, path, kind->format, kind->version)) != KD_OK)
        return NULL;
    void *file = calloc(1, kind->size);
    kd_status s = file ? kind->body(h, file)
                       : kd_set_error(KD_ERR_NOMEM, "%s: out of memory for a model", path);
    kd_h5_close(h);
    *status = s;
    if (s != KD_OK) {
        kind->free(file);
        return NULL;
    }
    return file;
}

static kd_status read_rbm_body(kd_h5 *h, void *p)
{
    kd_rbm_file *file = p;
    KD_CHECK(read_source(h, &file->source));
    return read_record(h, "", (int64_t)kd_lattice_size(&file->source.lattice), &file->model);
}

static void free_rbm_file(void *p)
{
    kd_rbm_file_free(p);
}

static kd_status read_dbn_body(kd_h5 *h, void *p)
{
    kd_dbn_file *file = p;
    int64_t depth;
    int mode = 0;
    KD_CHECK(read_source(h, &file->source));
    KD_CHECK(read_int_attr(h, "/", "depth", 1, DBN_MAX_DEPTH, &depth));
    KD_CHECK(read_name_attr(h, "/", "propagate", &mode_table, &mode));
    KD_CHECK(kd_h5_read_attr_uint64(h, "/", "seed", &file->seed));
    file->propagate = (kd_rbm_mode)mode;
    file->layers = calloc((size_t)depth, sizeof *file->layers);
    if (!file->layers)
        KD_FAIL(KD_ERR_NOMEM, "%s: out of memory for %" PRId64 " layers", h->path, depth);
    file->depth = (int)depth;
    int64_t nv = (int64_t)kd_lattice_size(&file->source.lattice);
    for (int l = 0; l < file->depth; l++) {
        char g[32];
        layer_group(g, sizeof g, l);
        KD_CHECK(read_record(h, g, nv, &file->layers[l]));
        const kd_rbm *r = file->layers[l]->rbm;
        if (l > 0 && kd_rbm_visible_units(r) != kd_rbm_hidden_units(file->layers[l - 1]->rbm))
            KD_FAIL(KD_ERR_FORMAT,
                    "%s: attribute 'visible_units' of '%s' is '%s', expected '%s' (the hidden "
                    "units of the layer below)",
                    h->path, g, kd_units_name(kd_rbm_visible_units(r)),
                    kd_units_name(kd_rbm_hidden_units(file->layers[l - 1]->rbm)));
        nv = kd_rbm_nh(r);
    }
    return KD_OK;
}

static void free_dbn_file(void *p)
{
    kd_dbn_file_free(p);
}

static const model_kind rbm_kind = {KD_RBM_FORMAT, KD_RBM_FORMAT_VERSION, sizeof(kd_rbm_file),
                                    read_rbm_body, free_rbm_file},
                        dbn_kind = {KD_DBN_FORMAT, KD_DBN_FORMAT_VERSION, sizeof(kd_dbn_file),
                                    read_dbn_body, free_dbn_file};

kd_status kd_rbm_file_read(const char *path, kd_rbm_file **out)
{
    kd_status s;
    *out = read_model_file(path, &rbm_kind, &s);
    return s;
}

kd_status kd_dbn_file_read(const char *path, kd_dbn_file **out)
{
    kd_status s;
    *out = read_model_file(path, &dbn_kind, &s);
    return s;
}

kd_status kd_model_file_read(const char *path, kd_rbm_file **rbm, kd_dbn_file **dbn)
{
    kd_h5 *h;
    char found[256];
    *rbm = NULL;
    *dbn = NULL;
    KD_CHECK(kd_h5_open(&h, path));
    kd_status s = kd_h5_read_format(h, found, sizeof found);
    kd_h5_close(h);
    KD_CHECK(s);
    if (!strcmp(found, KD_RBM_FORMAT))
        return kd_rbm_file_read(path, rbm);
    if (!strcmp(found, KD_DBN_FORMAT))
        return kd_dbn_file_read(path, dbn);
    KD_FAIL(KD_ERR_FORMAT, "%s: file has format '%s', expected a model ('%s' or '%s')%s", path,
            found, KD_RBM_FORMAT, KD_DBN_FORMAT,
            !strcmp(found, KD_DATASET_FORMAT) ? "; this is a dataset" : "");
}

kd_status kd_dbn_file_network(const kd_dbn_file *f, kd_dbn **out)
{
    kd_dbn *dbn;
    *out = NULL;
    KD_CHECK(kd_dbn_new(&dbn));
    for (int l = 0; l < f->depth; l++) {
        kd_rbm *copy;
        kd_status s = kd_rbm_clone(&copy, f->layers[l]->rbm);
        if (s == KD_OK && (s = kd_dbn_push(dbn, copy)) != KD_OK)
            kd_rbm_free(copy);
        if (s != KD_OK) {
            kd_dbn_free(dbn);
            return s;
        }
    }
    *out = dbn;
    return KD_OK;
}
