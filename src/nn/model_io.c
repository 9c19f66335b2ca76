/* Thermometer model files (format "kadanoff-thermometer", docs/formats.md). */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/h5.h"
#include "nn/nn_internal.h"

/* Largest array accepted when reading (bytes in memory). */
#define MODEL_MAX_BYTES ((size_t)1 << 34)

/* File rows of /history: the epoch number as int64. */
typedef struct {
    int64_t epoch;
    double train_loss, train_accuracy, val_loss, val_accuracy;
} history_row;

static const kd_h5_field history_fields[] = {
    {"epoch", offsetof(history_row, epoch), KD_H5_INT64},
    {"train_loss", offsetof(history_row, train_loss), KD_H5_FLOAT64},
    {"train_accuracy", offsetof(history_row, train_accuracy), KD_H5_FLOAT64},
    {"val_loss", offsetof(history_row, val_loss), KD_H5_FLOAT64},
    {"val_accuracy", offsetof(history_row, val_accuracy), KD_H5_FLOAT64},
};
#define NHISTORY_FIELDS (sizeof history_fields / sizeof history_fields[0])

#define CAL_FIELD(member, type) {#member, offsetof(kd_calibration_row, member), type}
static const kd_h5_field calibration_fields[] = {
    CAL_FIELD(T, KD_H5_FLOAT64),          CAL_FIELD(n, KD_H5_SIZE),
    CAL_FIELD(T_mean, KD_H5_FLOAT64),     CAL_FIELD(T_mean_err, KD_H5_FLOAT64),
    CAL_FIELD(p_inf, KD_H5_FLOAT64),      CAL_FIELD(T_peak, KD_H5_FLOAT64),
    CAL_FIELD(T_mode, KD_H5_FLOAT64),     CAL_FIELD(T_ml, KD_H5_FLOAT64),
    CAL_FIELD(accuracy, KD_H5_FLOAT64),   CAL_FIELD(mae_argmax, KD_H5_FLOAT64),
};
#define NCAL_FIELDS (sizeof calibration_fields / sizeof calibration_fields[0])

static void layer_name(char *buf, size_t size, int l, const char *what)
{
    snprintf(buf, size, "/layer%d/%s", l, what);
}

/* ---- writing ------------------------------------------------------------------- */

static kd_status write_attrs(kd_h5 *f, const kd_thermometer *th)
{
    const kd_thermometer_params *p = &th->params;
    KD_CHECK(kd_h5_write_lattice(f, "/", &th->lattice));
    KD_CHECK(kd_h5_write_attr_int64(f, "/", "inputs", th->nin));
    KD_CHECK(kd_h5_write_attr_int64(f, "/", "classes", th->nclasses));
    KD_CHECK(kd_h5_write_attr_int64(f, "/", "hidden_layers", p->nhidden));
    KD_CHECK(kd_h5_write_attr_string(f, "/", "activation", kd_activation_name(p->activation)));
    KD_CHECK(kd_h5_write_attr_string(f, "/", "optimizer", kd_optimizer_name(p->optimizer)));
    KD_CHECK(kd_h5_write_attr_int64(f, "/", "epochs", p->epochs));
    KD_CHECK(kd_h5_write_attr_int64(f, "/", "batch", p->batch));
    KD_CHECK(kd_h5_write_attr_double(f, "/", "lr", p->lr));
    KD_CHECK(kd_h5_write_attr_double(f, "/", "momentum", p->momentum));
    KD_CHECK(kd_h5_write_attr_double(f, "/", "adam_beta1", p->adam_beta1));
    KD_CHECK(kd_h5_write_attr_double(f, "/", "adam_beta2", p->adam_beta2));
    KD_CHECK(kd_h5_write_attr_double(f, "/", "adam_eps", p->adam_eps));
    KD_CHECK(kd_h5_write_attr_double(f, "/", "l2", p->l2));
    KD_CHECK(kd_h5_write_attr_double(f, "/", "val_fraction", p->val_fraction));
    KD_CHECK(kd_h5_write_attr_double(f, "/", "test_fraction", p->test_fraction));
    KD_CHECK(kd_h5_write_attr_int64(f, "/", "patience", p->patience));
    KD_CHECK(kd_h5_write_attr_int64(f, "/", "augment_flip", p->augment_flip ? 1 : 0));
    KD_CHECK(kd_h5_write_attr_int64(f, "/", "augment_shift", p->augment_shift ? 1 : 0));
    KD_CHECK(kd_h5_write_attr_uint64(f, "/", "seed", p->seed));
    KD_CHECK(kd_h5_write_attr_int64(f, "/", "epochs_done", th->epochs_done));
    KD_CHECK(kd_h5_write_attr_int64(f, "/", "best_epoch", th->best_epoch));
    KD_CHECK(kd_h5_write_attr_int64(f, "/", "stopped_early", th->stopped_early));
    KD_CHECK(kd_h5_write_attr_uint64(f, "/", "n_train", th->n_train));
    KD_CHECK(kd_h5_write_attr_uint64(f, "/", "n_val", th->n_val));
    KD_CHECK(kd_h5_write_attr_uint64(f, "/", "n_test", th->n_test));
    KD_CHECK(kd_h5_write_attr_string(f, "/", "calibration_set",
                                     th->calibrated ? th->calibration_set : ""));
    KD_CHECK(kd_h5_write_attr_string(f, "/", "training_data", th->training_data));
    KD_CHECK(kd_h5_write_attr_string(f, "/", "command", th->command));
    return KD_OK;
}

/* The state of an interrupted training run (nn_internal.h): root attributes
 * run_* and the arrays /run/current, /run/m, /run/v (Adam). */
static kd_status write_run(kd_h5 *f, const kd_thermometer *th)
{
    const kd_nn_run *r = th->run;
    uint64_t dims[1] = {th->nparam};
    KD_CHECK(kd_h5_write_attr_int64(f, "/", "run_epoch0", r->epoch0));
    KD_CHECK(kd_h5_write_attr_uint64(f, "/", "run_n_train", r->n_train));
    KD_CHECK(kd_h5_write_attr_uint64(f, "/", "run_n_val", r->n_val));
    KD_CHECK(kd_h5_write_attr_int64(f, "/", "run_step", r->step));
    KD_CHECK(kd_h5_write_attr_double(f, "/", "run_best_loss", r->best_loss));
    KD_CHECK(kd_h5_write_attr_int64(f, "/", "run_since_best", r->since_best));
    KD_CHECK(kd_h5_write_attr_int64(f, "/", "run_best_epoch", r->best_epoch));
    KD_CHECK(kd_h5_write(f, "/run/current", KD_H5_FLOAT32, 1, dims, r->current, NULL));
    KD_CHECK(kd_h5_write(f, "/run/m", KD_H5_FLOAT32, 1, dims, r->m, NULL));
    if (r->v)
        KD_CHECK(kd_h5_write(f, "/run/v", KD_H5_FLOAT32, 1, dims, r->v, NULL));
    return KD_OK;
}

static kd_status write_body(kd_h5 *f, const kd_thermometer *th)
{
    KD_CHECK(write_attrs(f, th));
    if (th->run)
        KD_CHECK(write_run(f, th));
    uint64_t dims[2] = {(uint64_t)th->nclasses, 0};
    KD_CHECK(kd_h5_write(f, "/temperatures", KD_H5_FLOAT64, 1, dims, th->temps, NULL));
    int64_t hs[KD_NN_MAX_HIDDEN];
    for (int l = 0; l < th->params.nhidden; l++)
        hs[l] = th->params.hidden[l];
    dims[0] = (uint64_t)th->params.nhidden;
    KD_CHECK(kd_h5_write(f, "/hidden_sizes", KD_H5_INT64, 1, dims, hs, NULL));
    for (int l = 1; l <= th->nlayers; l++) {
        char name[64];
        uint64_t wd[2] = {(uint64_t)th->size[l - 1], (uint64_t)th->size[l]};
        layer_name(name, sizeof name, l, "weights");
        KD_CHECK(kd_h5_write(f, name, KD_H5_FLOAT32, 2, wd, th->param + th->w_off[l], NULL));
        layer_name(name, sizeof name, l, "bias");
        KD_CHECK(kd_h5_write(f, name, KD_H5_FLOAT32, 1, wd + 1, th->param + th->b_off[l], NULL));
    }
    const size_t nh = (size_t)th->epochs_done;
    history_row *rows = malloc((nh ? nh : 1) * sizeof *rows);
    if (!rows)
        KD_FAIL(KD_ERR_NOMEM, "%s: out of memory for the training history", f->path);
    for (size_t e = 0; e < nh; e++)
        rows[e] = (history_row){th->history[e].epoch, th->history[e].train_loss,
                                th->history[e].train_accuracy, th->history[e].val_loss,
                                th->history[e].val_accuracy};
    kd_status s = kd_h5_write_table(f, "/history", history_fields, NHISTORY_FIELDS, sizeof *rows,
                                    nh, rows);
    free(rows);
    KD_CHECK(s);
    if (th->calibrated) {
        KD_CHECK(kd_h5_write_table(f, "/calibration", calibration_fields, NCAL_FIELDS,
                                   sizeof(kd_calibration_row), (size_t)th->nclasses,
                                   th->calibration));
        /* int64 (counts stay far below 2^63): the type every reader and the
         * .npy export take */
        const size_t C2 = (size_t)th->nclasses * (size_t)th->nclasses;
        int64_t *conf = malloc(C2 * sizeof(int64_t));
        if (!conf)
            KD_FAIL(KD_ERR_NOMEM, "%s: out of memory for the confusion matrix", f->path);
        for (size_t i = 0; i < C2; i++)
            conf[i] = (int64_t)th->confusion[i];
        dims[0] = dims[1] = (uint64_t)th->nclasses;
        s = kd_h5_write(f, "/confusion", KD_H5_INT64, 2, dims, conf, NULL);
        free(conf);
        KD_CHECK(s);
    }
    return KD_OK;
}

kd_status kd_thermometer_write(const char *path, const kd_thermometer *th)
{
    if (!path || !th)
        KD_FAIL(KD_ERR_INVALID, "kd_thermometer_write: no path or no thermometer");
    if (!kd_nn_params_finite(th->param, th->nparam))
        KD_FAIL(KD_ERR_NUMERIC, "%s: the thermometer has non-finite weights; not written", path);
    kd_h5 *f;
    KD_CHECK(kd_h5_create(&f, path, KD_THERMOMETER_FORMAT, KD_THERMOMETER_FORMAT_VERSION));
    kd_status s = write_body(f, th);
    if (s != KD_OK) {
        kd_h5_abort(f);
        return s;
    }
    return kd_h5_commit(f);
}

/* ---- reading ------------------------------------------------------------------------ */

/* Dataset `name` must have exactly this type and shape. */
static kd_status check_array(kd_h5 *f, const char *name, kd_h5_type type, int rank,
                             const uint64_t *dims, const char *why)
{
    return kd_h5_expect(f, name, type, rank, dims, why, MODEL_MAX_BYTES);
}

static kd_status read_int_attr(kd_h5 *f, const char *name, int64_t lo, int64_t hi, int *out)
{
    int64_t v;
    KD_CHECK(kd_h5_read_attr_int64(f, "/", name, &v));
    if (v < lo || v > hi)
        KD_FAIL(KD_ERR_FORMAT, "%s: attribute '%s' is %" PRId64 ", expected %" PRId64 "..%" PRId64,
                f->path, name, v, lo, hi);
    *out = (int)v;
    return KD_OK;
}

static kd_status read_size_attr(kd_h5 *f, const char *name, size_t *out)
{
    uint64_t v;
    KD_CHECK(kd_h5_read_attr_uint64(f, "/", name, &v));
    if (v > SIZE_MAX)
        KD_FAIL(KD_ERR_FORMAT, "%s: attribute '%s' is %" PRIu64 ", too large", f->path, name, v);
    *out = (size_t)v;
    return KD_OK;
}

static kd_status read_params(kd_h5 *f, kd_thermometer_params *p)
{
    char name[32];
    int64_t hs[KD_NN_MAX_HIDDEN];
    kd_thermometer_params_init(p);
    KD_CHECK(read_int_attr(f, "hidden_layers", 0, KD_NN_MAX_HIDDEN, &p->nhidden));
    uint64_t dims[1] = {(uint64_t)p->nhidden};
    KD_CHECK(check_array(f, "/hidden_sizes", KD_H5_INT64, 1, dims,
                         "one width per hidden layer (attribute 'hidden_layers')"));
    KD_CHECK(kd_h5_read(f, "/hidden_sizes", KD_H5_INT64, 1, dims, hs));
    for (int l = 0; l < p->nhidden; l++) {
        if (hs[l] < 1 || hs[l] > KD_NN_MAX_WIDTH)
            KD_FAIL(KD_ERR_FORMAT, "%s: dataset '/hidden_sizes' has %" PRId64 " units for hidden "
                                   "layer %d, expected 1..%d", f->path, hs[l], l + 1,
                    KD_NN_MAX_WIDTH);
        p->hidden[l] = (int)hs[l];
    }
    KD_CHECK(kd_h5_read_attr_string(f, "/", "activation", name, sizeof name));
    if (kd_activation_parse(name, &p->activation) != KD_OK)
        KD_FAIL(KD_ERR_FORMAT, "%s: attribute 'activation' is '%s', expected tanh, relu or sigmoid",
                f->path, name);
    KD_CHECK(kd_h5_read_attr_string(f, "/", "optimizer", name, sizeof name));
    if (kd_optimizer_parse(name, &p->optimizer) != KD_OK)
        KD_FAIL(KD_ERR_FORMAT, "%s: attribute 'optimizer' is '%s', expected momentum or adam",
                f->path, name);
    KD_CHECK(read_int_attr(f, "epochs", 1, 10000000, &p->epochs));
    KD_CHECK(read_int_attr(f, "batch", 1, 1 << 20, &p->batch));
    KD_CHECK(kd_h5_read_attr_double(f, "/", "lr", &p->lr));
    KD_CHECK(kd_h5_read_attr_double(f, "/", "momentum", &p->momentum));
    KD_CHECK(kd_h5_read_attr_double(f, "/", "adam_beta1", &p->adam_beta1));
    KD_CHECK(kd_h5_read_attr_double(f, "/", "adam_beta2", &p->adam_beta2));
    KD_CHECK(kd_h5_read_attr_double(f, "/", "adam_eps", &p->adam_eps));
    KD_CHECK(kd_h5_read_attr_double(f, "/", "l2", &p->l2));
    KD_CHECK(kd_h5_read_attr_double(f, "/", "val_fraction", &p->val_fraction));
    KD_CHECK(kd_h5_read_attr_double(f, "/", "test_fraction", &p->test_fraction));
    KD_CHECK(read_int_attr(f, "patience", 1, INT_MAX, &p->patience));
    KD_CHECK(read_int_attr(f, "augment_flip", 0, 1, &p->augment_flip));
    KD_CHECK(read_int_attr(f, "augment_shift", 0, 1, &p->augment_shift));
    KD_CHECK(kd_h5_read_attr_uint64(f, "/", "seed", &p->seed));
    if (!(p->lr > 0))
        KD_FAIL(KD_ERR_FORMAT, "%s: attribute 'lr' is %g, expected a learning rate > 0", f->path,
                p->lr);
    if (kd_nn_check_params(p) != KD_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", kd_last_error());
        KD_FAIL(KD_ERR_FORMAT, "%s: root attributes: %s", f->path, why);
    }
    return KD_OK;
}

/* "layer 2 of 3 maps 16 units to 4 classes": why a layer has its shape. */
static void layer_why(char *buf, size_t size, int l, int nlayers, const int *sizes)
{
    snprintf(buf, size, "layer %d of %d maps %d %s to %d %s", l, nlayers, sizes[l - 1],
             l == 1 ? "inputs" : "units", sizes[l], l == nlayers ? "classes" : "units");
}

/* Shapes, types and stored sizes of every layer's weights and bias, from the
 * layer sizes, checked before the network is allocated: a file declaring
 * huge layers it does not store is refused without asking for the memory. */
static kd_status check_layers(kd_h5 *f, int nin, const kd_thermometer_params *p, int nclasses)
{
    int sizes[KD_NN_MAX_HIDDEN + 2];
    const int nlayers = p->nhidden + 1;
    sizes[0] = nin;
    for (int l = 0; l < p->nhidden; l++)
        sizes[l + 1] = p->hidden[l];
    sizes[nlayers] = nclasses;
    for (int l = 1; l <= nlayers; l++) {
        char name[64], why[160];
        uint64_t wd[2] = {(uint64_t)sizes[l - 1], (uint64_t)sizes[l]};
        layer_why(why, sizeof why, l, nlayers, sizes);
        layer_name(name, sizeof name, l, "weights");
        KD_CHECK(check_array(f, name, KD_H5_FLOAT32, 2, wd, why));
        layer_name(name, sizeof name, l, "bias");
        KD_CHECK(check_array(f, name, KD_H5_FLOAT32, 1, wd + 1, why));
    }
    return KD_OK;
}

/* Weights and biases of every layer (shapes checked by check_layers), finite values. */
static kd_status read_layers(kd_h5 *f, kd_thermometer *th)
{
    for (int l = 1; l <= th->nlayers; l++) {
        char name[64];
        uint64_t wd[2] = {(uint64_t)th->size[l - 1], (uint64_t)th->size[l]};
        for (int part = 0; part < 2; part++) {
            layer_name(name, sizeof name, l, part ? "bias" : "weights");
            float *dst = th->param + (part ? th->b_off[l] : th->w_off[l]);
            size_t count = part ? (size_t)wd[1] : (size_t)(wd[0] * wd[1]);
            KD_CHECK(kd_h5_read(f, name, KD_H5_FLOAT32, part ? 1 : 2, part ? wd + 1 : wd, dst));
            for (size_t i = 0; i < count; i++)
                if (!isfinite(dst[i]))
                    KD_FAIL(KD_ERR_FORMAT, "%s: dataset '%s' has %g at index %zu, expected finite "
                                           "weights", f->path, name, (double)dst[i], i);
        }
    }
    return KD_OK;
}

static kd_status read_record(kd_h5 *f, kd_thermometer *th)
{
    KD_CHECK(read_int_attr(f, "epochs_done", 0, INT_MAX, &th->epochs_done));
    KD_CHECK(read_int_attr(f, "best_epoch", 0, th->epochs_done, &th->best_epoch));
    KD_CHECK(read_int_attr(f, "stopped_early", 0, 1, &th->stopped_early));
    KD_CHECK(read_size_attr(f, "n_train", &th->n_train));
    KD_CHECK(read_size_attr(f, "n_val", &th->n_val));
    KD_CHECK(read_size_attr(f, "n_test", &th->n_test));
    KD_CHECK(kd_h5_read_attr_string(f, "/", "training_data", th->training_data,
                                    sizeof th->training_data));
    KD_CHECK(kd_h5_read_attr_string(f, "/", "command", th->command, sizeof th->command));
    KD_CHECK(kd_h5_read_attr_string(f, "/", "kadanoff_version", th->kadanoff_version,
                                    sizeof th->kadanoff_version));

    kd_h5_shape sh;
    KD_CHECK(kd_h5_inspect(f, "/history", &sh));
    if (sh.rank != 1 || strcmp(sh.type_desc, "compound") != 0 ||
        sh.dims[0] != (uint64_t)th->epochs_done)
        KD_FAIL(KD_ERR_FORMAT, "%s: dataset '/history' is a rank-%d %s array of %" PRIu64
                               " rows, expected a table (compound) of %d rows (attribute "
                               "'epochs_done')", f->path, sh.rank, sh.type_desc,
                sh.rank ? sh.dims[0] : 0, th->epochs_done);
    size_t nh = (size_t)th->epochs_done, rows_count;
    KD_CHECK(kd_h5_check_size(f, "/history", &sh, sizeof(history_row), MODEL_MAX_BYTES,
                              &rows_count));
    history_row *rows = malloc((nh ? nh : 1) * sizeof *rows);
    th->history = malloc((nh ? nh : 1) * sizeof *th->history);
    if (!rows || !th->history) {
        free(rows);
        KD_FAIL(KD_ERR_NOMEM, "%s: out of memory for the training history", f->path);
    }
    th->hist_cap = (int)(nh ? nh : 1);
    kd_status s = kd_h5_read_table(f, "/history", history_fields, NHISTORY_FIELDS, sizeof *rows,
                                   nh, rows);
    for (size_t e = 0; s == KD_OK && e < nh; e++) {
        if (rows[e].epoch < 1 || rows[e].epoch > INT_MAX)
            s = kd_set_error(KD_ERR_FORMAT, "%s: dataset '/history' has epoch %" PRId64
                                            " in row %zu, expected a positive number",
                             f->path, rows[e].epoch, e);
        th->history[e] = (kd_thermometer_epoch){(int)rows[e].epoch, rows[e].train_loss,
                                                rows[e].train_accuracy, rows[e].val_loss,
                                                rows[e].val_accuracy};
    }
    free(rows);
    KD_CHECK(s);

    char set[64];
    KD_CHECK(kd_h5_read_attr_string(f, "/", "calibration_set", set, sizeof set));
    if (strlen(set) >= sizeof th->calibration_set)
        KD_FAIL(KD_ERR_FORMAT, "%s: attribute 'calibration_set' is '%s', expected at most %zu "
                               "bytes", f->path, set, sizeof th->calibration_set - 1);
    if (!set[0])
        return KD_OK;
    const size_t C = (size_t)th->nclasses;
    KD_CHECK(kd_h5_inspect(f, "/calibration", &sh));
    if (sh.rank != 1 || strcmp(sh.type_desc, "compound") != 0 || sh.dims[0] != C)
        KD_FAIL(KD_ERR_FORMAT, "%s: dataset '/calibration' is a rank-%d %s array, expected a "
                               "table (compound) of %zu rows, one per class", f->path, sh.rank,
                sh.type_desc, C);
    uint64_t cd[2] = {C, C};
    KD_CHECK(check_array(f, "/confusion", KD_H5_INT64, 2, cd, "classes × classes counts"));
    th->calibration = calloc(C, sizeof *th->calibration);
    th->confusion = calloc(C * C, sizeof(uint64_t));
    if (!th->calibration || !th->confusion)
        KD_FAIL(KD_ERR_NOMEM, "%s: out of memory for the calibration table", f->path);
    KD_CHECK(kd_h5_read_table(f, "/calibration", calibration_fields, NCAL_FIELDS,
                              sizeof(kd_calibration_row), C, th->calibration));
    /* int64 in the file, read in place (same size) and checked non-negative */
    KD_CHECK(kd_h5_read(f, "/confusion", KD_H5_INT64, 2, cd, th->confusion));
    for (size_t i = 0; i < C * C; i++) {
        int64_t v;
        memcpy(&v, &th->confusion[i], sizeof v);
        if (v < 0)
            KD_FAIL(KD_ERR_FORMAT, "%s: dataset '/confusion' has %" PRId64 " at index %zu, "
                                   "expected counts >= 0", f->path, v, i);
        th->confusion[i] = (uint64_t)v;
    }
    for (size_t c = 0; c < C; c++)
        if (!(th->calibration[c].T == th->temps[c]))
            KD_FAIL(KD_ERR_FORMAT, "%s: dataset '/calibration' has T = %g in row %zu, expected "
                                   "the class temperature %g", f->path, th->calibration[c].T, c,
                    th->temps[c]);
    memcpy(th->calibration_set, set, strlen(set) + 1);
    th->calibrated = 1;
    return KD_OK;
}

/* One float32 array of nparam finite values. */
static kd_status read_vector(kd_h5 *f, const kd_thermometer *th, const char *name, float **out)
{
    uint64_t dims[1] = {th->nparam};
    KD_CHECK(check_array(f, name, KD_H5_FLOAT32, 1, dims,
                         "one value per weight and bias of the network"));
    float *x = malloc(th->nparam * sizeof *x);
    if (!x)
        KD_FAIL(KD_ERR_NOMEM, "%s: out of memory", f->path);
    kd_status s = kd_h5_read(f, name, KD_H5_FLOAT32, 1, dims, x);
    for (size_t i = 0; s == KD_OK && i < th->nparam; i++)
        if (!isfinite(x[i]))
            s = kd_set_error(KD_ERR_FORMAT, "%s: dataset '%s' has %g at index %zu, expected "
                                            "finite values", f->path, name, (double)x[i], i);
    if (s != KD_OK) {
        free(x);
        return s;
    }
    *out = x;
    return KD_OK;
}

/* The state of an interrupted run, if the file has one (attribute run_epoch0). */
static kd_status read_run(kd_h5 *f, kd_thermometer *th)
{
    if (!kd_h5_has_attr(f, "/", "run_epoch0"))
        return KD_OK;
    kd_nn_run *r = calloc(1, sizeof *r);
    if (!r)
        KD_FAIL(KD_ERR_NOMEM, "%s: out of memory", f->path);
    th->run = r;
    int64_t step;
    KD_CHECK(read_int_attr(f, "run_epoch0", 0, th->epochs_done, &r->epoch0));
    if (th->epochs_done - r->epoch0 > th->params.epochs)
        KD_FAIL(KD_ERR_FORMAT, "%s: attributes 'epochs_done' (%d) and 'run_epoch0' (%d): the "
                               "interrupted run did more than 'epochs' = %d epochs", f->path,
                th->epochs_done, r->epoch0, th->params.epochs);
    KD_CHECK(read_size_attr(f, "run_n_train", &r->n_train));
    KD_CHECK(read_size_attr(f, "run_n_val", &r->n_val));
    KD_CHECK(kd_h5_read_attr_int64(f, "/", "run_step", &step));
    if (step < 0 || step > LONG_MAX)
        KD_FAIL(KD_ERR_FORMAT, "%s: attribute 'run_step' is %" PRId64 ", expected a count >= 0",
                f->path, step);
    r->step = (long)step;
    KD_CHECK(kd_h5_read_attr_double(f, "/", "run_best_loss", &r->best_loss));
    if (!(r->best_loss >= 0))
        KD_FAIL(KD_ERR_FORMAT, "%s: attribute 'run_best_loss' is %g, expected a loss >= 0 (inf: "
                               "none yet)", f->path, r->best_loss);
    KD_CHECK(read_int_attr(f, "run_since_best", 0, th->params.patience, &r->since_best));
    KD_CHECK(read_int_attr(f, "run_best_epoch", 0, th->epochs_done, &r->best_epoch));
    KD_CHECK(read_vector(f, th, "/run/current", &r->current));
    KD_CHECK(read_vector(f, th, "/run/m", &r->m));
    if (th->params.optimizer == KD_OPTIMIZER_ADAM)
        KD_CHECK(read_vector(f, th, "/run/v", &r->v));
    return KD_OK;
}

static kd_status read_body(kd_h5 *f, kd_thermometer **out)
{
    kd_lattice lat;
    kd_thermometer_params p;
    int inputs = 0, C = 0;
    KD_CHECK(kd_h5_read_lattice(f, "/", &lat));
    size_t N = kd_lattice_size(&lat);
    KD_CHECK(read_int_attr(f, "inputs", 1, INT_MAX, &inputs));
    if ((size_t)inputs != N)
        KD_FAIL(KD_ERR_FORMAT, "%s: attribute 'inputs' is %d, expected %zu (the spins of a %s "
                               "lattice of L = %d)", f->path, inputs, N,
                kd_lattice_kind_name(lat.kind), lat.L);
    KD_CHECK(read_int_attr(f, "classes", 2, KD_NN_MAX_CLASSES, &C));
    KD_CHECK(read_params(f, &p));
    uint64_t dims[1] = {(uint64_t)C};
    double *temps = malloc((size_t)C * sizeof(double));
    if (!temps)
        KD_FAIL(KD_ERR_NOMEM, "%s: out of memory", f->path);
    kd_status s = check_array(f, "/temperatures", KD_H5_FLOAT64, 1, dims,
                              "one temperature per class (attribute 'classes')");
    if (s == KD_OK)
        s = kd_h5_read(f, "/temperatures", KD_H5_FLOAT64, 1, dims, temps);
    for (int k = 0; s == KD_OK && k < C; k++)
        if (isnan(temps[k]) || temps[k] < 0 || (k > 0 && !(temps[k] > temps[k - 1])))
            s = kd_set_error(KD_ERR_FORMAT, "%s: dataset '/temperatures' has %g at index %d, "
                                            "expected temperatures >= 0 (inf allowed) in "
                                            "strictly increasing order", f->path, temps[k], k);
    if (s == KD_OK)
        s = check_layers(f, inputs, &p, C);
    kd_thermometer *th = NULL;
    kd_status a = s == KD_OK ? kd_nn_alloc(&th, &lat, temps, C, &p) : KD_OK;
    if (a != KD_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", kd_last_error());
        s = kd_set_error(a == KD_ERR_NOMEM ? KD_ERR_NOMEM : KD_ERR_FORMAT, "%s: %s", f->path, why);
    }
    free(temps);
    if (s == KD_OK)
        s = read_layers(f, th);
    if (s == KD_OK)
        s = read_record(f, th);
    if (s == KD_OK)
        s = read_run(f, th);
    if (s != KD_OK) {
        kd_thermometer_free(th);
        return s;
    }
    *out = th;
    return KD_OK;
}

kd_status kd_thermometer_read(const char *path, kd_thermometer **out)
{
    if (!out)
        KD_FAIL(KD_ERR_INVALID, "kd_thermometer_read: no output pointer");
    *out = NULL;
    kd_h5 *f;
    KD_CHECK(kd_h5_open_format(&f, path, KD_THERMOMETER_FORMAT, KD_THERMOMETER_FORMAT_VERSION,
                               NULL));
    kd_status s = read_body(f, out);
    kd_h5_close(f);
    return s;
}
