/* kadanoff export — a kadanoff file's arrays as NumPy .npy files (layout of the
 * result: docs/formats.md, "NumPy export"). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "io/atomic.h"
#include "io/dataset_io.h"
#include "io/h5.h"
#include "kadanoff/npy.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: kadanoff export FILE --npy DIR [options]\n\n"
            "Write the arrays of a kadanoff HDF5 file as NumPy .npy files in DIR (created if\n"
            "missing; existing files of the same names are replaced). For a dataset:\n"
            "  spins.npy            int8 (n, L) chain or (n, L, L) square, values -1/+1\n"
            "  temperature.npy      float64 (n)   T of each configuration\n"
            "  energy.npy           float64 (n)   H/N\n"
            "  magnetization.npy    float64 (n)   sum(s)/N\n"
            "  summary.npy          float64 (ntemps, 19), one row per temperature,\n"
            "  summary_columns.txt  its column names, one per line (T, n, burn_in, ...)\n"
            "  correlation.npy      float64 (ntemps, nr)  G(r), r = 0..nr-1\n"
            "  correlation_err.npy  float64 (ntemps, nr)\n"
            "  attributes.json      every root attribute (parameters, seed, versions)\n"
            "Other kadanoff formats: every int8/int64/float32/float64 array as\n"
            "<path>.npy ('/' in the HDF5 path becomes '.'), plus attributes.json.\n"
            "The whole input is read and checked before anything is written.\n\n"
            "Options:\n"
            "  --npy DIR       output directory (required)\n"
            "  -q, --quiet     do not list the files written\n"
            "  -v, --verbose   more messages\n"
            "  -h, --help      this help\n\n"
            "Example:\n"
            "  kadanoff export data.h5 --npy data_npy\n"
            "  python3 -c \"import numpy as np; s = np.load('data_npy/spins.npy')\"\n");
}

/* ---- output directory ------------------------------------------------------- */

/* mkdir -p; then DIR must be a directory. */
static int make_directory(const char *cmd, const char *dir)
{
    size_t len = strlen(dir);
    char *p = malloc(len + 1);
    if (!p)
        return cli_fail(cmd, "out of memory");
    memcpy(p, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int err = errno;
            int rc = cli_fail(cmd, "%s: cannot create directory '%s': %s", dir, p, strerror(err));
            free(p);
            return rc;
        }
        p[i] = c;
    }
    free(p);
    struct stat st;
    if (stat(dir, &st) != 0)
        return cli_fail(cmd, "%s: cannot create the directory: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return cli_fail(cmd, "%s: exists and is not a directory", dir);
    return CLI_OK;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int write_npy(const char *cmd, const char *dir, const char *name, kd_npy_dtype dtype,
                     int rank, const size_t *shape, const void *data)
{
    char *path = join(dir, name);
    if (!path)
        return cli_fail(cmd, "out of memory");
    kd_status st = kd_npy_write(path, dtype, rank, shape, data);
    if (st != KD_OK) {
        free(path);
        return cli_fail_status(cmd, st);
    }
    if (!cli_quiet) {
        printf("wrote %s  %s (", path, kd_npy_descr(dtype));
        for (int i = 0; i < rank; i++)
            printf("%s%zu", i ? ", " : "", shape[i]);
        printf("%s)\n", rank == 1 ? "," : "");
    }
    free(path);
    return CLI_OK;
}

/* A small text file, written atomically like everything else. */
static int write_text(const char *cmd, const char *dir, const char *name, const char *text)
{
    char *path = join(dir, name);
    if (!path)
        return cli_fail(cmd, "out of memory");
    kd_atomic a;
    kd_status st = kd_atomic_begin(&a, path);
    if (st != KD_OK) {
        free(path);
        return cli_fail_status(cmd, st);
    }
    FILE *fp = fopen(a.tmp, "w");
    int ok = fp && fputs(text, fp) >= 0;
    int err = errno;
    if (fp && fclose(fp) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    int rc = CLI_OK;
    if (!ok) {
        kd_atomic_abort(&a);
        rc = cli_fail(cmd, "%s: cannot write: %s", path, strerror(err));
    } else if ((st = kd_atomic_commit(&a)) != KD_OK) {
        rc = cli_fail_status(cmd, st);
    } else if (!cli_quiet) {
        printf("wrote %s\n", path);
    }
    free(path);
    return rc;
}

/* ---- attributes.json --------------------------------------------------------- */

typedef struct {
    kd_h5 *f;
    char *text;
    size_t len, cap;
    int count, failed;
} json_buf;

static void json_append(json_buf *j, const char *s, size_t n)
{
    if (j->failed)
        return;
    if (j->len + n + 1 > j->cap) {
        size_t cap = (j->cap ? 2 * j->cap : 1024) + n;
        char *t = realloc(j->text, cap);
        if (!t) {
            j->failed = 1;
            return;
        }
        j->text = t;
        j->cap = cap;
    }
    memcpy(j->text + j->len, s, n);
    j->len += n;
    j->text[j->len] = '\0';
}

static void json_puts(json_buf *j, const char *s) { json_append(j, s, strlen(s)); }

/* A JSON string literal: quotes, backslashes and control characters escaped
 * (UTF-8 passes through). */
static void json_string(json_buf *j, const char *s)
{
    json_puts(j, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            json_append(j, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            json_puts(j, esc);
        } else {
            json_append(j, s, 1);
        }
    }
    json_puts(j, "\"");
}

static int json_attr(const char *name, void *user)
{
    json_buf *j = user;
    char value[2048];
    kd_h5_text_kind kind = kd_h5_attr_text(j->f, "/", name, value, sizeof value);
    json_puts(j, j->count++ ? ",\n  " : "{\n  ");
    json_string(j, name);
    json_puts(j, ": ");
    /* Numbers go out as JSON numbers, except inf/nan which JSON cannot spell. */
    if (kind == KD_H5_TEXT_NUMBER && !strpbrk(value, "in"))
        json_puts(j, value);
    else
        json_string(j, value);
    return 0;
}

static int write_attributes_json(const char *cmd, kd_h5 *f, const char *dir)
{
    json_buf j = {f, NULL, 0, 0, 0, 0};
    kd_status st = kd_h5_visit_attrs(f, "/", json_attr, &j);
    json_puts(&j, j.count ? "\n}\n" : "{}\n");
    int rc;
    if (st != KD_OK)
        rc = cli_fail_status(cmd, st);
    else if (j.failed)
        rc = cli_fail(cmd, "out of memory");
    else
        rc = write_text(cmd, dir, "attributes.json", j.text);
    free(j.text);
    return rc;
}

/* ---- kadanoff-dataset --------------------------------------------------------- */

static int export_dataset(const char *cmd, kd_h5 *f, const char *dir)
{
    kd_dataset *d;
    /* Read and validate everything before the directory is touched. */
    kd_status st = kd_dataset_read(f->path, &d);
    if (st != KD_OK)
        return cli_fail_status(cmd, st);
    const size_t nf = kd_summary_nfields, rows = d->ntemps;
    double *table = malloc((rows * nf > 0 ? rows * nf : 1) * sizeof *table);
    char *columns = malloc(nf * 32 + 1);
    if (!table || !columns) {
        free(table);
        free(columns);
        kd_dataset_free(d);
        return cli_fail(cmd, "out of memory");
    }
    /* summary.npy: every column as float64 (n, a count, is exact below 2^53). */
    columns[0] = '\0';
    for (size_t k = 0; k < nf; k++) {
        const kd_h5_field *fl = &kd_summary_fields[k];
        strcat(columns, fl->name);
        strcat(columns, "\n");
        for (size_t t = 0; t < rows; t++) {
            const char *row = (const char *)&d->summary[t];
            double v;
            if (fl->type == KD_H5_SIZE) {
                size_t n;
                memcpy(&n, row + fl->offset, sizeof n);
                v = (double)n;
            } else {
                memcpy(&v, row + fl->offset, sizeof v);
            }
            table[t * nf + k] = v;
        }
    }

    const kd_lattice *lat = &d->lattice;
    const size_t L = (size_t)lat->L, n = d->n, nr = (size_t)d->nr;
    size_t spins_shape[3] = {n, L, L}, vec[1] = {n}, summary_shape[2] = {rows, nf},
           corr_shape[2] = {rows, nr};
    int rc = make_directory(cmd, dir);
    if (rc == CLI_OK)
        rc = write_npy(cmd, dir, "spins.npy", KD_NPY_INT8,
                       lat->kind == KD_LATTICE_SQUARE ? 3 : 2, spins_shape, d->spins);
    if (rc == CLI_OK)
        rc = write_npy(cmd, dir, "temperature.npy", KD_NPY_FLOAT64, 1, vec, d->temperature);
    if (rc == CLI_OK)
        rc = write_npy(cmd, dir, "energy.npy", KD_NPY_FLOAT64, 1, vec, d->energy);
    if (rc == CLI_OK)
        rc = write_npy(cmd, dir, "magnetization.npy", KD_NPY_FLOAT64, 1, vec, d->magnetization);
    if (rc == CLI_OK)
        rc = write_npy(cmd, dir, "summary.npy", KD_NPY_FLOAT64, 2, summary_shape, table);
    if (rc == CLI_OK)
        rc = write_text(cmd, dir, "summary_columns.txt", columns);
    if (rc == CLI_OK)
        rc = write_npy(cmd, dir, "correlation.npy", KD_NPY_FLOAT64, 2, corr_shape,
                       d->correlation);
    if (rc == CLI_OK)
        rc = write_npy(cmd, dir, "correlation_err.npy", KD_NPY_FLOAT64, 2, corr_shape,
                       d->correlation_err);
    if (rc == CLI_OK)
        rc = write_attributes_json(cmd, f, dir);
    free(table);
    free(columns);
    kd_dataset_free(d);
    return rc;
}

/* ---- any other kadanoff format ------------------------------------------------- */

typedef struct {
    const char *cmd;
    kd_h5 *f;
    const char *dir; /* NULL: first pass, only check */
    int rc;
    int exported;
} generic_ctx;

static int npy_dtype_of(kd_h5_type t, kd_npy_dtype *out)
{
    switch (t) {
    case KD_H5_INT8:
        *out = KD_NPY_INT8;
        return 1;
    case KD_H5_INT64:
        *out = KD_NPY_INT64;
        return 1;
    case KD_H5_FLOAT32:
        *out = KD_NPY_FLOAT32;
        return 1;
    case KD_H5_FLOAT64:
        *out = KD_NPY_FLOAT64;
        return 1;
    default:
        return 0;
    }
}

static int export_object(const char *path, const kd_h5_shape *shape, void *user)
{
    generic_ctx *c = user;
    kd_npy_dtype dtype;
    if (!shape)
        return 0; /* groups */
    if (!npy_dtype_of(shape->type, &dtype)) {
        if (!c->dir)
            kd_log(KD_LOG_WARN, "%s: skipping '%s' (%s): only int8, int64, float32 and float64 "
                                "arrays are exported",
                   c->f->path, path, shape->type_desc);
        return 0;
    }
    size_t count;
    if (!c->dir) {
        /* First pass: refuse impossible sizes before creating anything. */
        kd_status st = kd_h5_check_size(c->f, path, shape, kd_h5_type_size(shape->type),
                                        KD_DATASET_MAX_BYTES, &count);
        if (st != KD_OK)
            c->rc = cli_fail_status(c->cmd, st);
        c->exported++;
        return c->rc != CLI_OK;
    }
    void *data;
    kd_h5_shape got;
    kd_status st = kd_h5_read_alloc(c->f, path, shape->type, KD_DATASET_MAX_BYTES, &got, &data);
    if (st != KD_OK) {
        c->rc = cli_fail_status(c->cmd, st);
        return 1;
    }
    size_t dims[KD_H5_MAX_RANK];
    for (int i = 0; i < got.rank; i++)
        dims[i] = (size_t)got.dims[i];
    /* "/layer1/weights" -> "layer1.weights.npy" */
    size_t len = strlen(path);
    char *name = malloc(len + 5);
    if (!name) {
        free(data);
        c->rc = cli_fail(c->cmd, "out of memory");
        return 1;
    }
    snprintf(name, len + 5, "%s.npy", path + 1);
    for (char *p = name; *p; p++)
        if (*p == '/')
            *p = '.';
    c->rc = write_npy(c->cmd, c->dir, name, dtype, got.rank, dims, data);
    free(name);
    free(data);
    return c->rc != CLI_OK;
}

static int export_other(const char *cmd, kd_h5 *f, const char *dir)
{
    generic_ctx c = {cmd, f, NULL, CLI_OK, 0};
    kd_status st = kd_h5_visit(f, export_object, &c);
    if (st != KD_OK)
        return cli_fail_status(cmd, st);
    if (c.rc != CLI_OK)
        return c.rc;
    int rc = make_directory(cmd, dir);
    if (rc != CLI_OK)
        return rc;
    c.dir = dir;
    st = kd_h5_visit(f, export_object, &c);
    if (st != KD_OK)
        return cli_fail_status(cmd, st);
    if (c.rc != CLI_OK)
        return c.rc;
    return write_attributes_json(cmd, f, dir);
}

int cmd_export(int argc, char **argv)
{
    const char *cmd = "export";
    static const struct option opts[] = {{"npy", required_argument, 0, 1},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"verbose", no_argument, 0, 'v'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *dir = NULL;
    int c, rc = CLI_OK;
    optind = 1;
    while ((c = cli_next_option(cmd, argc, argv, ":qvh", opts, usage, &rc)) > 0) {
        switch (c) {
        case 1:
            if (!*optarg)
                return cli_usage_error(cmd, "--npy needs a directory name");
            dir = optarg;
            break;
        }
    }
    if (c == CLI_OPTIONS_STOP)
        return rc;
    if (optind >= argc)
        return cli_usage_error(cmd, "no FILE given");
    if (argc - optind > 1)
        return cli_usage_error(cmd, "unexpected argument '%s' (one FILE at a time)",
                               argv[optind + 1]);
    if (!dir)
        return cli_usage_error(cmd, "--npy DIR is required (the only export format so far)");
    const char *path = argv[optind];

    kd_h5 *f;
    char format[256];
    kd_status st = kd_h5_open(&f, path);
    if (st == KD_OK)
        st = kd_h5_read_format(f, format, sizeof format);
    if (st != KD_OK) {
        kd_h5_close(f);
        return cli_fail_status(cmd, st);
    }
    rc = strcmp(format, KD_DATASET_FORMAT) == 0 ? export_dataset(cmd, f, dir)
                                                    : export_other(cmd, f, dir);
    kd_h5_close(f);
    return rc;
}
