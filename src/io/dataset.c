/* Labelled spin datasets as HDF5 files (layout: dataset.h, docs/formats.md). */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/dataset_io.h"
#include "io/h5.h"

#define SUMMARY_FIELD(member, type) {#member, offsetof(kd_temp_summary, member), type}

const kd_h5_field kd_summary_fields[] = {
    SUMMARY_FIELD(T, KD_H5_FLOAT64),
    SUMMARY_FIELD(n, KD_H5_SIZE),
    SUMMARY_FIELD(burn_in, KD_H5_FLOAT64),
    SUMMARY_FIELD(interval, KD_H5_FLOAT64),
    SUMMARY_FIELD(tau_e, KD_H5_FLOAT64),
    SUMMARY_FIELD(acceptance, KD_H5_FLOAT64),
    SUMMARY_FIELD(e, KD_H5_FLOAT64),
    SUMMARY_FIELD(e_err, KD_H5_FLOAT64),
    SUMMARY_FIELD(abs_m, KD_H5_FLOAT64),
    SUMMARY_FIELD(abs_m_err, KD_H5_FLOAT64),
    SUMMARY_FIELD(m2, KD_H5_FLOAT64),
    SUMMARY_FIELD(m2_err, KD_H5_FLOAT64),
    SUMMARY_FIELD(c, KD_H5_FLOAT64),
    SUMMARY_FIELD(c_err, KD_H5_FLOAT64),
    SUMMARY_FIELD(chi, KD_H5_FLOAT64),
    SUMMARY_FIELD(chi_err, KD_H5_FLOAT64),
    SUMMARY_FIELD(binder, KD_H5_FLOAT64),
    SUMMARY_FIELD(binder_err, KD_H5_FLOAT64),
    SUMMARY_FIELD(tau_e_samples, KD_H5_FLOAT64),
};
const size_t kd_summary_nfields = sizeof kd_summary_fields / sizeof kd_summary_fields[0];

/* /spins is cut into chunks of about this many bytes (whole configurations
 * when they fit), so a reader can load a few configurations without
 * decompressing the file; deflate level 4 is near zlib's best ratio on ±1
 * bytes at a fraction of level 9's time. */
static const kd_h5_storage spins_storage = {256 * 1024, 4};

/* ---- allocation ---------------------------------------------------------------- */

static void *alloc_array(size_t count, size_t size)
{
    /* calloc(0) may return NULL; keep "NULL means failure". */
    return calloc(count > 0 ? count : 1, size);
}

static kd_status dataset_alloc(kd_dataset **out, const kd_lattice *lat, size_t n, size_t ntemps,
                               int nr, int with_spins)
{
    *out = NULL;
    KD_CHECK(kd_lattice_validate(lat));
    if (nr < 0)
        KD_FAIL(KD_ERR_INVALID, "number of correlation distances %d, expected >= 0", nr);
    size_t N = kd_lattice_size(lat);
    size_t cells = ntemps * (size_t)nr;
    if ((N > 0 && n > SIZE_MAX / N) || n > SIZE_MAX / sizeof(double) ||
        (nr > 0 && ntemps > SIZE_MAX / (size_t)nr) || cells > SIZE_MAX / sizeof(double) ||
        ntemps > SIZE_MAX / sizeof(kd_temp_summary))
        KD_FAIL(KD_ERR_NOMEM, "dataset of %zu configurations of %zu spins and %zu temperatures "
                              "is too large to address",
                n, N, ntemps);
    kd_dataset *d = calloc(1, sizeof *d);
    if (!d)
        KD_FAIL(KD_ERR_NOMEM, "out of memory for a dataset");
    d->lattice = *lat;
    d->n = n;
    d->ntemps = ntemps;
    d->nr = nr;
    d->spins = with_spins ? alloc_array(n * N, 1) : NULL;
    d->temperature = alloc_array(n, sizeof(double));
    d->energy = alloc_array(n, sizeof(double));
    d->magnetization = alloc_array(n, sizeof(double));
    d->summary = alloc_array(ntemps, sizeof(kd_temp_summary));
    d->correlation = alloc_array(cells, sizeof(double));
    d->correlation_err = alloc_array(cells, sizeof(double));
    if ((with_spins && !d->spins) || !d->temperature || !d->energy || !d->magnetization ||
        !d->summary || !d->correlation || !d->correlation_err) {
        kd_dataset_free(d);
        KD_FAIL(KD_ERR_NOMEM, "out of memory for %zu configurations of %zu spins (%.3g GiB)", n,
                N, (double)n * ((double)N + 24.0) / 1073741824.0);
    }
    *out = d;
    return KD_OK;
}

kd_status kd_dataset_new(kd_dataset **out, const kd_lattice *lat, size_t n, size_t ntemps,
                         int nr)
{
    return dataset_alloc(out, lat, n, ntemps, nr, 1);
}

void kd_dataset_free(kd_dataset *d)
{
    if (!d)
        return;
    free(d->spins);
    free(d->temperature);
    free(d->energy);
    free(d->magnetization);
    free(d->summary);
    free(d->correlation);
    free(d->correlation_err);
    free(d);
}

/* ---- shared checks --------------------------------------------------------------- */

/* A temperature is usable when T >= 0 (this also admits +inf, refuses NaN).
 * Configurations drawn from a trained model (algorithm "rbm-gibbs" or
 * "dbn-gibbs", written by `kadanoff generate`) have no temperature and carry
 * KD_TEMPERATURE_UNKNOWN instead. */
static int valid_temperature(double T, const char *algorithm)
{
    return T >= 0 || (T == KD_TEMPERATURE_UNKNOWN &&
                      (!strcmp(algorithm, "rbm-gibbs") || !strcmp(algorithm, "dbn-gibbs")));
}

/* Index of the first spin that is not ±1, or count if all are. */
static size_t first_bad_spin(const int8_t *s, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (s[i] != 1 && s[i] != -1)
            return i;
    return count;
}

static int terminated(const char *s, size_t size) { return memchr(s, '\0', size) != NULL; }

/* ---- writing --------------------------------------------------------------------- */

/* Everything that can be checked cheaply before a file is created. */
static kd_status check_for_write(const char *path, const kd_dataset *d)
{
    if (!path || !*path)
        KD_FAIL(KD_ERR_INVALID, "no output file name given");
    if (!d)
        KD_FAIL(KD_ERR_INVALID, "%s: no dataset to write", path);
    if (kd_lattice_validate(&d->lattice) != KD_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", kd_last_error());
        KD_FAIL(KD_ERR_INVALID, "%s: cannot write the dataset: %s", path, why);
    }
    if (d->n > 0 && (!d->spins || !d->temperature || !d->energy || !d->magnetization))
        KD_FAIL(KD_ERR_INVALID, "%s: dataset of %zu configurations without arrays", path, d->n);
    if (d->nr < 0)
        KD_FAIL(KD_ERR_INVALID, "%s: dataset has nr = %d correlation distances, expected >= 0",
                path, d->nr);
    if (d->ntemps > 0 && (!d->summary || (d->nr > 0 && (!d->correlation || !d->correlation_err))))
        KD_FAIL(KD_ERR_INVALID, "%s: dataset of %zu temperatures without summary arrays", path,
                d->ntemps);
    const struct {
        const char *name;
        const char *value;
        size_t size;
    } strings[] = {
        {"algorithm", d->algorithm, sizeof d->algorithm},
        {"burn_in", d->burn_in, sizeof d->burn_in},
        {"interval", d->interval, sizeof d->interval},
        {"command", d->command, sizeof d->command},
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if (!terminated(strings[i].value, strings[i].size))
            KD_FAIL(KD_ERR_INVALID, "%s: provenance field '%s' is not a terminated string", path,
                    strings[i].name);
    for (size_t i = 0; i < d->n; i++)
        if (!valid_temperature(d->temperature[i], d->algorithm))
            KD_FAIL(KD_ERR_INVALID,
                    "%s: configuration %zu has temperature %g, expected T >= 0 or +inf", path, i,
                    d->temperature[i]);
    for (size_t t = 0; t < d->ntemps; t++)
        if (!valid_temperature(d->summary[t].T, ""))
            KD_FAIL(KD_ERR_INVALID, "%s: summary row %zu has temperature %g, expected T >= 0 or +inf",
                    path, t, d->summary[t].T);
    return KD_OK;
}

static kd_status write_attributes(kd_h5 *f, const kd_dataset *d)
{
    KD_CHECK(kd_h5_write_lattice(f, "/", &d->lattice));
    KD_CHECK(kd_h5_write_attr_string(f, "/", "algorithm", d->algorithm));
    KD_CHECK(kd_h5_write_attr_uint64(f, "/", "seed", d->seed));
    KD_CHECK(kd_h5_write_attr_string(f, "/", "burn_in", d->burn_in));
    KD_CHECK(kd_h5_write_attr_string(f, "/", "interval", d->interval));
    KD_CHECK(kd_h5_write_attr_uint64(f, "/", "samples_per_temperature",
                                     (uint64_t)d->samples_per_temperature));
    KD_CHECK(kd_h5_write_attr_int64(f, "/", "symmetrize", d->symmetrize));
    KD_CHECK(kd_h5_write_attr_string(f, "/", "command", d->command));
    return KD_OK;
}

static kd_status write_body(kd_h5 *f, const kd_dataset *d)
{
    const kd_lattice *lat = &d->lattice;
    const size_t N = kd_lattice_size(lat);
    uint64_t dims[3] = {d->n, (uint64_t)lat->L, (uint64_t)lat->L};
    const int rank = lat->kind == KD_LATTICE_SQUARE ? 3 : 2;

    KD_CHECK(write_attributes(f, d));
    KD_CHECK(kd_h5_write(f, "/temperature", KD_H5_FLOAT64, 1, dims, d->temperature, NULL));
    KD_CHECK(kd_h5_write(f, "/energy", KD_H5_FLOAT64, 1, dims, d->energy, NULL));
    KD_CHECK(kd_h5_write(f, "/magnetization", KD_H5_FLOAT64, 1, dims, d->magnetization, NULL));

    /* The spins are checked here, on the way out, rather than in an extra pass
     * before the file exists: a refusal still leaves no file behind. */
    size_t count = d->n * N, bad = first_bad_spin(d->spins, count);
    if (bad < count)
        KD_FAIL(KD_ERR_INVALID,
                "%s: spin %zu of configuration %zu is %d, expected -1 or +1; nothing written",
                f->path, bad % N, bad / N, d->spins[bad]);
    KD_CHECK(kd_h5_write(f, "/spins", KD_H5_INT8, rank, dims, d->spins, &spins_storage));

    uint64_t cdims[2] = {d->ntemps, (uint64_t)d->nr};
    KD_CHECK(kd_h5_write_table(f, "/summary", kd_summary_fields, kd_summary_nfields,
                               sizeof(kd_temp_summary), d->ntemps, d->summary));
    KD_CHECK(kd_h5_write(f, "/correlation", KD_H5_FLOAT64, 2, cdims, d->correlation, NULL));
    KD_CHECK(
        kd_h5_write(f, "/correlation_err", KD_H5_FLOAT64, 2, cdims, d->correlation_err, NULL));
    return KD_OK;
}

kd_status kd_dataset_write(const char *path, const kd_dataset *d)
{
    kd_h5 *f;
    KD_CHECK(check_for_write(path, d));
    KD_CHECK(kd_h5_create(&f, path, KD_DATASET_FORMAT, KD_DATASET_FORMAT_VERSION));
    kd_status s = write_body(f, d);
    if (s != KD_OK) {
        kd_h5_abort(f);
        return s;
    }
    return kd_h5_commit(f);
}

/* ---- reading --------------------------------------------------------------------- */

/* /spins: int8, rank and shape from the lattice attributes. *n receives the
 * number of configurations. */
static kd_status check_spins_shape(kd_h5 *f, const kd_lattice *lat, size_t *n)
{
    kd_h5_shape sh;
    char got[200];
    KD_CHECK(kd_h5_inspect(f, "/spins", &sh));
    kd_h5_format_dims(sh.rank, sh.dims, got, sizeof got);
    const char *kind = kd_lattice_kind_name(lat->kind);
    const int rank = lat->kind == KD_LATTICE_SQUARE ? 3 : 2;
    if (sh.rank != 2 && sh.rank != 3)
        KD_FAIL(KD_ERR_FORMAT, "%s: dataset '/spins' has rank %d, expected 2 (chain) or 3 (square)",
                f->path, sh.rank);
    if (sh.rank != rank)
        KD_FAIL(KD_ERR_FORMAT,
                "%s: dataset '/spins' has rank %d, but attribute 'lattice' is '%s' (expected rank "
                "%d)",
                f->path, sh.rank, kind, rank);
    for (int i = 1; i < rank; i++)
        if (sh.dims[i] != (uint64_t)lat->L)
            KD_FAIL(KD_ERR_FORMAT,
                    "%s: dataset '/spins' has shape %s, expected (n%s) for attribute L = %d",
                    f->path, got, rank == 3 ? ", L, L" : ", L", lat->L);
    if (sh.type != KD_H5_INT8)
        KD_FAIL(KD_ERR_FORMAT, "%s: dataset '/spins' has element type %s, expected int8 (spins ±1)",
                f->path, sh.type_desc);
    size_t count;
    KD_CHECK(kd_h5_check_size(f, "/spins", &sh, 1, KD_DATASET_MAX_BYTES, &count));
    *n = (size_t)sh.dims[0];
    return KD_OK;
}

/* A float64 dataset of the given shape, checked with a message that says why. */
static kd_status check_float_array(kd_h5 *f, const char *name, int rank, const uint64_t *dims,
                                   const char *why)
{
    return kd_h5_expect(f, name, KD_H5_FLOAT64, rank, dims, why, KD_DATASET_MAX_BYTES);
}

/* The optional summary group of datasets: all of /summary, /correlation,
 * /correlation_err, or none. */
static kd_status check_summary_shape(kd_h5 *f, size_t *ntemps, int *nr)
{
    static const char *const names[] = {"/summary", "/correlation", "/correlation_err"};
    int present[3], count = 0;
    for (int i = 0; i < 3; i++)
        count += present[i] = kd_h5_exists(f, names[i]);
    *ntemps = 0;
    *nr = 0;
    if (count == 0)
        return KD_OK;
    if (count < 3)
        for (int i = 0; i < 3; i++)
            if (!present[i])
                KD_FAIL(KD_ERR_FORMAT,
                        "%s: dataset '%s' is missing, expected /summary, /correlation and "
                        "/correlation_err together (or none of them)",
                        f->path, names[i]);
    kd_h5_shape sh;
    KD_CHECK(kd_h5_inspect(f, "/summary", &sh));
    if (sh.rank != 1 || strcmp(sh.type_desc, "compound") != 0)
        KD_FAIL(KD_ERR_FORMAT,
                "%s: dataset '/summary' is a rank-%d %s array, expected a 1-D table (compound "
                "type, one row per temperature)",
                f->path, sh.rank, sh.type_desc);
    size_t rows;
    KD_CHECK(kd_h5_check_size(f, "/summary", &sh, sizeof(kd_temp_summary), KD_DATASET_MAX_BYTES,
                              &rows));
    kd_h5_shape c;
    KD_CHECK(kd_h5_inspect(f, "/correlation", &c));
    if (c.rank != 2 || c.dims[0] != sh.dims[0] || c.dims[1] > INT_MAX) {
        char got[200];
        kd_h5_format_dims(c.rank, c.dims, got, sizeof got);
        KD_FAIL(KD_ERR_FORMAT,
                "%s: dataset '/correlation' has shape %s, expected (%zu, nr): one row per row "
                "of '/summary'",
                f->path, got, rows);
    }
    KD_CHECK(check_float_array(f, "/correlation", 2, c.dims, "one row per row of '/summary'"));
    KD_CHECK(check_float_array(f, "/correlation_err", 2, c.dims, "the shape of '/correlation'"));
    *ntemps = rows;
    *nr = (int)c.dims[1];
    return KD_OK;
}

static kd_status read_provenance(kd_h5 *f, kd_dataset *d)
{
    uint64_t per;
    int64_t sym;
    KD_CHECK(kd_h5_read_attr_string(f, "/", "algorithm", d->algorithm, sizeof d->algorithm));
    KD_CHECK(kd_h5_read_attr_uint64(f, "/", "seed", &d->seed));
    KD_CHECK(kd_h5_read_attr_string(f, "/", "burn_in", d->burn_in, sizeof d->burn_in));
    KD_CHECK(kd_h5_read_attr_string(f, "/", "interval", d->interval, sizeof d->interval));
    KD_CHECK(kd_h5_read_attr_uint64(f, "/", "samples_per_temperature", &per));
    if (per > SIZE_MAX)
        KD_FAIL(KD_ERR_FORMAT, "%s: attribute 'samples_per_temperature' is %" PRIu64 ", too large",
                f->path, per);
    d->samples_per_temperature = (size_t)per;
    KD_CHECK(kd_h5_read_attr_int64(f, "/", "symmetrize", &sym));
    if (sym < 0 || sym > 1)
        KD_FAIL(KD_ERR_FORMAT, "%s: attribute 'symmetrize' is %" PRId64 ", expected 0 or 1",
                f->path, sym);
    d->symmetrize = (int)sym;
    KD_CHECK(kd_h5_read_attr_string(f, "/", "command", d->command, sizeof d->command));
    KD_CHECK(kd_h5_read_attr_string(f, "/", "kadanoff_version", d->kadanoff_version,
                                    sizeof d->kadanoff_version));
    return KD_OK;
}

/* Values that the types alone do not guarantee. */
static kd_status check_values(kd_h5 *f, const kd_dataset *d)
{
    const size_t N = kd_lattice_size(&d->lattice);
    if (d->spins) {
        size_t count = d->n * N, bad = first_bad_spin(d->spins, count);
        if (bad < count)
            KD_FAIL(KD_ERR_FORMAT,
                    "%s: dataset '/spins' has value %d at configuration %zu, site %zu, expected "
                    "-1 or +1",
                    f->path, d->spins[bad], bad / N, bad % N);
    }
    for (size_t i = 0; i < d->n; i++) {
        if (!valid_temperature(d->temperature[i], d->algorithm))
            KD_FAIL(KD_ERR_FORMAT,
                    "%s: dataset '/temperature' has %g at configuration %zu, expected T >= 0 or "
                    "+inf",
                    f->path, d->temperature[i], i);
        if (!isfinite(d->energy[i]))
            KD_FAIL(KD_ERR_FORMAT,
                    "%s: dataset '/energy' has %g at configuration %zu, expected a finite number",
                    f->path, d->energy[i], i);
        if (!(fabs(d->magnetization[i]) <= 1))
            KD_FAIL(KD_ERR_FORMAT,
                    "%s: dataset '/magnetization' has %g at configuration %zu, expected -1..1",
                    f->path, d->magnetization[i], i);
    }
    for (size_t t = 0; t < d->ntemps; t++)
        if (!valid_temperature(d->summary[t].T, ""))
            KD_FAIL(KD_ERR_FORMAT,
                    "%s: dataset '/summary' has T = %g in row %zu, expected T >= 0 or +inf",
                    f->path, d->summary[t].T, t);
    return KD_OK;
}

static kd_status read_body(kd_h5 *f, int with_spins, kd_dataset **out)
{
    kd_lattice lat;
    size_t n = 0, ntemps = 0;
    int nr = 0;
    *out = NULL;
    KD_CHECK(kd_h5_read_lattice(f, "/", &lat));
    KD_CHECK(check_spins_shape(f, &lat, &n));
    uint64_t ndim[1] = {n};
    const char *per_config = "one value per configuration of '/spins'";
    KD_CHECK(check_float_array(f, "/temperature", 1, ndim, per_config));
    KD_CHECK(check_float_array(f, "/energy", 1, ndim, per_config));
    KD_CHECK(check_float_array(f, "/magnetization", 1, ndim, per_config));
    KD_CHECK(check_summary_shape(f, &ntemps, &nr));

    kd_dataset *d;
    kd_status s = dataset_alloc(&d, &lat, n, ntemps, nr, with_spins);
    if (s != KD_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", kd_last_error());
        KD_FAIL(s, "%s: %s", f->path, why);
    }
    uint64_t sdims[3] = {n, (uint64_t)lat.L, (uint64_t)lat.L};
    uint64_t cdims[2] = {ntemps, (uint64_t)nr};
    s = read_provenance(f, d);
    if (s == KD_OK && with_spins)
        s = kd_h5_read(f, "/spins", KD_H5_INT8, lat.kind == KD_LATTICE_SQUARE ? 3 : 2, sdims,
                       d->spins);
    if (s == KD_OK)
        s = kd_h5_read(f, "/temperature", KD_H5_FLOAT64, 1, sdims, d->temperature);
    if (s == KD_OK)
        s = kd_h5_read(f, "/energy", KD_H5_FLOAT64, 1, sdims, d->energy);
    if (s == KD_OK)
        s = kd_h5_read(f, "/magnetization", KD_H5_FLOAT64, 1, sdims, d->magnetization);
    if (s == KD_OK && kd_h5_exists(f, "/summary")) {
        s = kd_h5_read_table(f, "/summary", kd_summary_fields, kd_summary_nfields,
                             sizeof(kd_temp_summary), ntemps, d->summary);
        if (s == KD_OK)
            s = kd_h5_read(f, "/correlation", KD_H5_FLOAT64, 2, cdims, d->correlation);
        if (s == KD_OK)
            s = kd_h5_read(f, "/correlation_err", KD_H5_FLOAT64, 2, cdims, d->correlation_err);
    }
    if (s == KD_OK)
        s = check_values(f, d);
    if (s != KD_OK) {
        kd_dataset_free(d);
        return s;
    }
    *out = d;
    return KD_OK;
}

static kd_status read_file(const char *path, int with_spins, kd_dataset **out)
{
    kd_h5 *f;
    if (!out)
        KD_FAIL(KD_ERR_INVALID, "kd_dataset_read: no output pointer");
    *out = NULL;
    KD_CHECK(kd_h5_open_format(&f, path, KD_DATASET_FORMAT, KD_DATASET_FORMAT_VERSION, NULL));
    kd_status s = read_body(f, with_spins, out);
    kd_h5_close(f);
    return s;
}

kd_status kd_dataset_read(const char *path, kd_dataset **out) { return read_file(path, 1, out); }

kd_status kd_dataset_read_metadata(const char *path, kd_dataset **out)
{
    return read_file(path, 0, out);
}
