/* Flow files: format "kadanoff-flow" (layout in docs/formats.md). */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/h5.h"
#include "kadanoff/flow.h"

#define FLOW_MAX_BYTES ((size_t)1 << 40)

static const kd_h5_field readout_fields[] = {
    {"step", offsetof(kd_flow_readout, step), KD_H5_INT64},
    {"T_thermometer", offsetof(kd_flow_readout, T_thermometer), KD_H5_FLOAT64},
    {"T_energy", offsetof(kd_flow_readout, T_energy), KD_H5_FLOAT64},
    {"T_energy_err", offsetof(kd_flow_readout, T_energy_err), KD_H5_FLOAT64},
    {"T_abs_m", offsetof(kd_flow_readout, T_abs_m), KD_H5_FLOAT64},
    {"T_abs_m_err", offsetof(kd_flow_readout, T_abs_m_err), KD_H5_FLOAT64},
    {"T_G", offsetof(kd_flow_readout, T_G), KD_H5_FLOAT64},
    {"T_G_err", offsetof(kd_flow_readout, T_G_err), KD_H5_FLOAT64},
};
#define NREADOUT (sizeof readout_fields / sizeof readout_fields[0])

/* dims of the kept configurations: (nkept, chains, L[, L]) */
static int config_dims(const kd_flow *f, uint64_t *dims)
{
    dims[0] = (uint64_t)f->nkept;
    dims[1] = f->chains;
    dims[2] = (uint64_t)f->lattice.L;
    dims[3] = (uint64_t)f->lattice.L;
    return f->lattice.kind == KD_LATTICE_SQUARE ? 4 : 3;
}

/* dims of the state of an interrupted flow: (chains, L[, L]) */
static int state_dims(const kd_flow *f, uint64_t *dims)
{
    uint64_t d[4];
    int rank = config_dims(f, d);
    memcpy(dims, d + 1, 3 * sizeof *dims);
    return rank - 1;
}

static kd_status write_body(kd_h5 *h, const kd_flow *f)
{
    const uint64_t rows = (uint64_t)f->steps_done + 1; /* = steps + 1 unless interrupted */
    uint64_t d2[2] = {rows, f->chains}, dr[2] = {rows, (uint64_t)f->nr}, dk = (uint64_t)f->nkept;
    const kd_h5_storage packed = {256 * 1024, 4};
    KD_CHECK(kd_h5_write_lattice(h, "/", &f->lattice));
    KD_CHECK(kd_h5_write_attr_string(h, "/", "mode", kd_flow_mode_name(f->mode)));
    KD_CHECK(kd_h5_write_attr_int64(h, "/", "steps", f->steps));
    KD_CHECK(kd_h5_write_attr_uint64(h, "/", "chains", f->chains));
    KD_CHECK(kd_h5_write_attr_uint64(h, "/", "seed", f->seed));
    if (f->steps_done < f->steps) {
        if (!f->state || f->steps_done < 0)
            KD_FAIL(KD_ERR_INVALID, "%s: an interrupted flow (%d of %d steps) without its state",
                    h->path, f->steps_done, f->steps);
        uint64_t ds[3];
        int srank = state_dims(f, ds);
        KD_CHECK(kd_h5_write_attr_int64(h, "/", "steps_done", f->steps_done));
        KD_CHECK(kd_h5_write(h, "/state", KD_H5_FLOAT32, srank, ds, f->state, NULL));
    }
    KD_CHECK(kd_h5_write_attr_string(h, "/", "rbm", f->rbm));
    KD_CHECK(kd_h5_write_attr_string(h, "/", "start", f->start));
    KD_CHECK(kd_h5_write_attr_string(h, "/", "thermometer", f->thermometer));
    KD_CHECK(kd_h5_write_attr_string(h, "/", "command", f->command));
    KD_CHECK(kd_h5_write(h, "/energy", KD_H5_FLOAT64, 2, d2, f->energy, NULL));
    KD_CHECK(kd_h5_write(h, "/magnetization", KD_H5_FLOAT64, 2, d2, f->magnetization, NULL));
    KD_CHECK(kd_h5_write(h, "/correlation", KD_H5_FLOAT64, 2, dr, f->correlation, NULL));
    KD_CHECK(kd_h5_write(h, "/correlation_err", KD_H5_FLOAT64, 2, dr, f->correlation_err, NULL));
    int64_t *steps = malloc(((size_t)f->nkept + 1) * sizeof *steps);
    if (!steps)
        KD_FAIL(KD_ERR_NOMEM, "out of memory");
    for (int k = 0; k < f->nkept; k++)
        steps[k] = f->kept_steps[k];
    kd_status st = kd_h5_write(h, "/kept_steps", KD_H5_INT64, 1, &dk, steps, NULL);
    free(steps);
    KD_CHECK(st);
    uint64_t dc[4];
    int rank = config_dims(f, dc);
    if (f->spins)
        KD_CHECK(kd_h5_write(h, "/spins", KD_H5_INT8, rank, dc, f->spins, &packed));
    else
        KD_CHECK(kd_h5_write(h, "/values", KD_H5_FLOAT32, rank, dc, f->values, &packed));
    if (f->readout)
        KD_CHECK(kd_h5_write_table(h, "/readout", readout_fields, NREADOUT, sizeof(kd_flow_readout),
                                   rows, f->readout));
    if (f->probabilities && f->nclasses > 0) {
        uint64_t dn = f->nclasses, dp[2] = {rows, f->nclasses};
        KD_CHECK(kd_h5_write(h, "/thermometer_classes", KD_H5_FLOAT64, 1, &dn, f->class_T, NULL));
        KD_CHECK(kd_h5_write(h, "/thermometer_probabilities", KD_H5_FLOAT64, 2, dp, f->probabilities, NULL));
    }
    return KD_OK;
}

kd_status kd_flow_write(const char *path, const kd_flow *f)
{
    kd_h5 *h;
    KD_CHECK(kd_h5_create(&h, path, KD_FLOW_FORMAT, KD_FLOW_FORMAT_VERSION));
    kd_status st = write_body(h, f);
    if (st != KD_OK) {
        kd_h5_abort(h);
        return st;
    }
    return kd_h5_commit(h);
}

static kd_status read_string(kd_h5 *h, const char *name, char *buf, size_t size)
{
    return kd_h5_read_attr_string(h, "/", name, buf, size);
}

static kd_status all_finite(kd_h5 *h, const char *name, const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            KD_FAIL(KD_ERR_FORMAT, "%s: dataset '/%s' has a non-finite value at element %zu, expected finite numbers",
                    h->path, name, i);
    return KD_OK;
}

/* Every array's type, shape and stored size, from the attributes, before the
 * flow is allocated: a file declaring 10^6 steps of 2^40 chains it does not
 * store is refused without asking for the memory. `steps` is the number of
 * steps stored (steps_done for the checkpoint of an interrupted flow). */
static kd_status check_shapes(kd_h5 *h, const kd_lattice *lat, kd_flow_mode m, int64_t steps,
                              uint64_t chains, uint64_t nkept)
{
    const uint64_t rows = (uint64_t)steps + 1, L = (uint64_t)lat->L;
    const uint64_t d2[2] = {rows, chains};
    const uint64_t dr[2] = {rows, (uint64_t)kd_ising_correlation_len(lat)};
    const uint64_t dc[4] = {nkept, chains, L, L};
    const int rank = lat->kind == KD_LATTICE_SQUARE ? 4 : 3;
    const char *per_chain = "one row per step 0..steps, one column per chain";
    const char *per_r = "one row per step 0..steps, one column per distance r";
    const char *kept = "(kept steps, chains, L[, L])";
    KD_CHECK(kd_h5_expect(h, "/energy", KD_H5_FLOAT64, 2, d2, per_chain, FLOW_MAX_BYTES));
    KD_CHECK(kd_h5_expect(h, "/magnetization", KD_H5_FLOAT64, 2, d2, per_chain, FLOW_MAX_BYTES));
    KD_CHECK(kd_h5_expect(h, "/correlation", KD_H5_FLOAT64, 2, dr, per_r, FLOW_MAX_BYTES));
    KD_CHECK(kd_h5_expect(h, "/correlation_err", KD_H5_FLOAT64, 2, dr, per_r, FLOW_MAX_BYTES));
    KD_CHECK(kd_h5_expect(h, "/kept_steps", KD_H5_INT64, 1, dc, NULL, FLOW_MAX_BYTES));
    if (m == KD_FLOW_SAMPLE)
        return kd_h5_expect(h, "/spins", KD_H5_INT8, rank, dc, kept, FLOW_MAX_BYTES);
    return kd_h5_expect(h, "/values", KD_H5_FLOAT32, rank, dc, kept, FLOW_MAX_BYTES);
}

static kd_status read_body(kd_h5 *h, int checkpoint, kd_flow **out)
{
    kd_lattice lat;
    char mode[32];
    int64_t steps;
    uint64_t chains;
    KD_CHECK(kd_h5_read_lattice(h, "/", &lat));
    KD_CHECK(read_string(h, "mode", mode, sizeof mode));
    kd_flow_mode m;
    if (!strcmp(mode, "sample"))
        m = KD_FLOW_SAMPLE;
    else if (!strcmp(mode, "mean-field"))
        m = KD_FLOW_MEAN_FIELD;
    else
        KD_FAIL(KD_ERR_FORMAT, "%s: attribute 'mode' is '%s', expected 'sample' or 'mean-field'", h->path, mode);
    KD_CHECK(kd_h5_read_attr_int64(h, "/", "steps", &steps));
    KD_CHECK(kd_h5_read_attr_uint64(h, "/", "chains", &chains));
    if (steps < 0 || steps > 1000000 || chains < 1 || chains > ((uint64_t)1 << 40))
        KD_FAIL(KD_ERR_FORMAT, "%s: attributes steps = %" PRId64 ", chains = %" PRIu64
                               ", expected 0..10^6 steps and >= 1 chain", h->path, steps, chains);
    /* an interrupted flow (checkpoint) has rows 0..steps_done only, and its state */
    int64_t done = steps;
    if (kd_h5_has_attr(h, "/", "steps_done")) {
        KD_CHECK(kd_h5_read_attr_int64(h, "/", "steps_done", &done));
        if (done < 0 || done >= steps)
            KD_FAIL(KD_ERR_FORMAT, "%s: attribute 'steps_done' is %" PRId64 ", expected 0..%" PRId64
                                   " (fewer than 'steps')", h->path, done, steps - 1);
    }
    if (checkpoint && done == steps)
        KD_FAIL(KD_ERR_FORMAT, "%s: a complete flow, not the checkpoint of an interrupted one "
                               "(no attribute 'steps_done')", h->path);
    if (!checkpoint && done < steps)
        KD_FAIL(KD_ERR_FORMAT, "%s: the checkpoint of an interrupted flow (%" PRId64 " of %" PRId64
                               " steps done), not a flow; continue it with kadanoff flow --resume",
                h->path, done, steps);
    kd_h5_shape ks;
    KD_CHECK(kd_h5_inspect(h, "/kept_steps", &ks));
    if (ks.rank != 1 || ks.dims[0] > (uint64_t)done + 1)
        KD_FAIL(KD_ERR_FORMAT, "%s: dataset '/kept_steps' must be 1-D with at most %" PRId64 " entries",
                h->path, done + 1);
    KD_CHECK(check_shapes(h, &lat, m, done, chains, ks.dims[0]));
    kd_flow *f;
    kd_status st = kd_flow_alloc(&f, &lat, m, (int)steps, (size_t)chains, (int)ks.dims[0]);
    if (st != KD_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", kd_last_error());
        KD_FAIL(st == KD_ERR_NOMEM ? KD_ERR_NOMEM : KD_ERR_FORMAT, "%s: %s", h->path, why);
    }
    f->steps_done = (int)done;
    const uint64_t rows = (uint64_t)done + 1;
    uint64_t d2[2] = {rows, chains}, dr[2] = {rows, (uint64_t)f->nr}, dk = ks.dims[0], dc[4];
    int rank = config_dims(f, dc);
    int64_t *kept = malloc(((size_t)f->nkept + 1) * sizeof *kept);
    if (!kept) {
        kd_flow_free(f);
        KD_FAIL(KD_ERR_NOMEM, "out of memory");
    }
#define TRY(x)                  \
    do {                        \
        if ((st = (x)) != KD_OK) \
            goto done;          \
    } while (0)
    f->seed = 0;
    TRY(kd_h5_read_attr_uint64(h, "/", "seed", &f->seed));
    TRY(read_string(h, "rbm", f->rbm, sizeof f->rbm));
    TRY(read_string(h, "start", f->start, sizeof f->start));
    TRY(read_string(h, "thermometer", f->thermometer, sizeof f->thermometer));
    TRY(read_string(h, "command", f->command, sizeof f->command));
    TRY(kd_h5_read(h, "/energy", KD_H5_FLOAT64, 2, d2, f->energy));
    TRY(kd_h5_read(h, "/magnetization", KD_H5_FLOAT64, 2, d2, f->magnetization));
    TRY(kd_h5_read(h, "/correlation", KD_H5_FLOAT64, 2, dr, f->correlation));
    TRY(kd_h5_read(h, "/correlation_err", KD_H5_FLOAT64, 2, dr, f->correlation_err));
    TRY(all_finite(h, "energy", f->energy, rows * chains));
    TRY(all_finite(h, "magnetization", f->magnetization, rows * chains));
    TRY(kd_h5_read(h, "/kept_steps", KD_H5_INT64, 1, &dk, kept));
    for (int k = 0; k < f->nkept; k++) {
        if (kept[k] < 0 || kept[k] > done || (k > 0 && kept[k] <= kept[k - 1])) {
            st = kd_set_error(KD_ERR_FORMAT, "%s: dataset '/kept_steps' entry %d is %" PRId64
                                             ", expected increasing steps within 0..%" PRId64,
                              h->path, k, kept[k], done);
            goto done;
        }
        f->kept_steps[k] = (int)kept[k];
    }
    size_t nconf = (size_t)f->nkept * (size_t)chains * kd_lattice_size(&lat);
    if (m == KD_FLOW_SAMPLE) {
        TRY(kd_h5_read(h, "/spins", KD_H5_INT8, rank, dc, f->spins));
        for (size_t i = 0; i < nconf; i++)
            if (f->spins[i] != 1 && f->spins[i] != -1) {
                st = kd_set_error(KD_ERR_FORMAT, "%s: dataset '/spins' has value %d at element %zu, expected -1 or +1",
                                  h->path, f->spins[i], i);
                goto done;
            }
    } else {
        TRY(kd_h5_read(h, "/values", KD_H5_FLOAT32, rank, dc, f->values));
        for (size_t i = 0; i < nconf; i++)
            if (!(fabsf(f->values[i]) <= 1.0f)) {
                st = kd_set_error(KD_ERR_FORMAT, "%s: dataset '/values' has %g at element %zu, expected values in [-1, 1]",
                                  h->path, (double)f->values[i], i);
                goto done;
            }
    }
    if (done < steps) {
        uint64_t ds[3];
        int srank = state_dims(f, ds);
        size_t ns = (size_t)chains * kd_lattice_size(&lat);
        if (!(f->state = malloc(ns * sizeof *f->state))) {
            st = kd_set_error(KD_ERR_NOMEM, "out of memory");
            goto done;
        }
        TRY(kd_h5_read(h, "/state", KD_H5_FLOAT32, srank, ds, f->state));
        for (size_t i = 0; i < ns; i++)
            if (!(fabsf(f->state[i]) <= 1.0f)) {
                st = kd_set_error(KD_ERR_FORMAT, "%s: dataset '/state' has %g at element %zu, "
                                                 "expected visible values in [-1, 1]",
                                  h->path, (double)f->state[i], i);
                goto done;
            }
    }
    if (kd_h5_exists(h, "/readout")) {
        f->readout = calloc(rows, sizeof *f->readout);
        if (!f->readout) {
            st = kd_set_error(KD_ERR_NOMEM, "out of memory");
            goto done;
        }
        TRY(kd_h5_read_table(h, "/readout", readout_fields, NREADOUT, sizeof(kd_flow_readout), rows, f->readout));
    }
    if (kd_h5_exists(h, "/thermometer_classes")) {
        kd_h5_shape cs;
        TRY(kd_h5_inspect(h, "/thermometer_classes", &cs));
        if (cs.rank != 1 || cs.dims[0] < 1 || cs.dims[0] > 100000) {
            st = kd_set_error(KD_ERR_FORMAT, "%s: dataset '/thermometer_classes' must be 1-D with 1..100000 entries", h->path);
            goto done;
        }
        f->nclasses = (size_t)cs.dims[0];
        uint64_t dn = f->nclasses, dp[2] = {rows, f->nclasses};
        TRY(kd_h5_expect(h, "/thermometer_probabilities", KD_H5_FLOAT64, 2, dp,
                         "one row per step, one column per class", FLOW_MAX_BYTES));
        f->class_T = malloc(f->nclasses * sizeof *f->class_T);
        f->probabilities = malloc(rows * f->nclasses * sizeof *f->probabilities);
        if (!f->class_T || !f->probabilities) {
            st = kd_set_error(KD_ERR_NOMEM, "out of memory");
            goto done;
        }
        TRY(kd_h5_read(h, "/thermometer_classes", KD_H5_FLOAT64, 1, &dn, f->class_T));
        TRY(kd_h5_read(h, "/thermometer_probabilities", KD_H5_FLOAT64, 2, dp, f->probabilities));
        for (size_t c = 0; c < f->nclasses; c++)
            if (!(f->class_T[c] >= 0)) {
                st = kd_set_error(KD_ERR_FORMAT, "%s: dataset '/thermometer_classes' has %g at "
                                                 "element %zu, expected temperatures >= 0",
                                  h->path, f->class_T[c], c);
                goto done;
            }
        for (size_t i = 0; i < rows * f->nclasses; i++)
            if (!(f->probabilities[i] >= 0 && f->probabilities[i] <= 1)) {
                st = kd_set_error(KD_ERR_FORMAT, "%s: dataset '/thermometer_probabilities' has "
                                                 "%g at element %zu, expected probabilities in "
                                                 "[0, 1]",
                                  h->path, f->probabilities[i], i);
                goto done;
            }
    }
#undef TRY
done:
    free(kept);
    if (st != KD_OK) {
        kd_flow_free(f);
        return st;
    }
    *out = f;
    return KD_OK;
}

static kd_status read_file(const char *path, int checkpoint, kd_flow **out)
{
    kd_h5 *h;
    *out = NULL;
    KD_CHECK(kd_h5_open_format(&h, path, KD_FLOW_FORMAT, KD_FLOW_FORMAT_VERSION, NULL));
    kd_status st = read_body(h, checkpoint, out);
    kd_h5_close(h);
    return st;
}

kd_status kd_flow_read(const char *path, kd_flow **out) { return read_file(path, 0, out); }

kd_status kd_flow_read_checkpoint(const char *path, kd_flow **out)
{
    return read_file(path, 1, out);
}
