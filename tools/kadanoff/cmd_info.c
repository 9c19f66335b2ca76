/* kadanoff info — describe any kadanoff file: its format tag, parameters and
 * contents. Datasets get a full description; other formats (models, flows...)
 * at least their attributes and the list of objects with shapes. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "io/dataset_io.h"
#include "io/h5.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: kadanoff info [options] FILE\n\n"
            "Describe a kadanoff HDF5 file. For a dataset (format kadanoff-dataset): the\n"
            "lattice, couplings, sampling parameters, the temperatures with their number of\n"
            "configurations and the per-temperature summary table. For any other kadanoff\n"
            "format: its tag, its attributes and every group and array with its shape.\n\n"
            "Options:\n"
            "  -q, --quiet     dataset: leave out the summary table\n"
            "  -v, --verbose   more messages\n"
            "  -h, --help      this help\n\n"
            "Exit status: 0 success, 1 the file cannot be read or is not a kadanoff file,\n"
            "2 usage error.\n");
}

/* ---- kadanoff-dataset ------------------------------------------------------- */

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The distinct temperatures of the configurations with their counts, wrapped. */
static int print_temperatures(const kd_dataset *d)
{
    double *T = malloc((d->n > 0 ? d->n : 1) * sizeof *T);
    if (!T)
        return 0;
    memcpy(T, d->temperature, d->n * sizeof *T);
    qsort(T, d->n, sizeof *T, compare_doubles);
    size_t distinct = 0;
    for (size_t i = 0; i < d->n; i++)
        if (i == 0 || T[i] != T[i - 1])
            distinct++;
    printf("temperatures %zu (T x configurations):\n", distinct);
    int column = 0;
    for (size_t i = 0; i < d->n;) {
        size_t j = i;
        while (j < d->n && T[j] == T[i])
            j++;
        char cell[64];
        int w = snprintf(cell, sizeof cell, "%g x %zu", T[i], j - i);
        if (column > 0 && column + 3 + w > 78) {
            printf("\n");
            column = 0;
        }
        column += printf("%s%s", column ? "   " : "  ", cell);
        i = j;
    }
    if (column)
        printf("\n");
    free(T);
    return 1;
}

static void print_summary_table(const kd_dataset *d)
{
    printf("summary (per temperature, errors 1 sigma with autocorrelations):\n");
    printf("%9s %7s %23s %21s %20s %22s %21s %7s %8s %8s\n", "T", "n", "e +- err",
           "|m| +- err", "c +- err", "chi +- err", "U4 +- err", "tau_e", "burn-in",
           "interval");
    for (size_t t = 0; t < d->ntemps; t++) {
        const kd_temp_summary *s = &d->summary[t];
        printf("%9.5g %7zu %11.6f +- %8.6f %9.6f +- %8.6f %9.4f +- %7.4f %10.5g +- %8.2g "
               "%9.6f +- %8.6f %7.2f %8.0f %8.0f\n",
               s->T, s->n, s->e, s->e_err, s->abs_m, s->abs_m_err, s->c, s->c_err, s->chi,
               s->chi_err, s->binder, s->binder_err, s->tau_e, s->burn_in, s->interval);
    }
}

static int describe_dataset(const char *cmd, const char *path, int64_t version)
{
    kd_dataset *d;
    kd_status st = kd_dataset_read_metadata(path, &d);
    if (st != KD_OK)
        return cli_fail_status(cmd, st);
    const kd_lattice *lat = &d->lattice;
    size_t N = kd_lattice_size(lat);
    printf("%s: kadanoff dataset (format %s version %lld), written by kadanoff %s\n", path,
           KD_DATASET_FORMAT, (long long)version, d->kadanoff_version);
    if (lat->kind == KD_LATTICE_SQUARE)
        printf("lattice      square, L = %d (%d x %d = %zu spins), %s boundaries\n", lat->L,
               lat->L, lat->L, N, kd_boundary_name(lat->boundary));
    else
        printf("lattice      chain, L = %d (%zu spins), %s boundaries\n", lat->L, N,
               kd_boundary_name(lat->boundary));
    printf("couplings    J = %g, h = %g\n", lat->J, lat->field);
    printf("algorithm    %s, seed %llu\n", d->algorithm[0] ? d->algorithm : "(unknown)",
           (unsigned long long)d->seed);
    printf("sampling     burn-in %s, interval %s (sweeps)%s\n", d->burn_in[0] ? d->burn_in : "?",
           d->interval[0] ? d->interval : "?",
           d->symmetrize ? ", symmetrized (random global flips)" : "");
    printf("samples      %zu configurations, %zu per temperature; spins int8 ", d->n,
           d->samples_per_temperature);
    if (lat->kind == KD_LATTICE_SQUARE)
        printf("(%zu, %d, %d)\n", d->n, lat->L, lat->L);
    else
        printf("(%zu, %d)\n", d->n, lat->L);
    if (d->command[0])
        printf("command      %s\n", d->command);
    if (!print_temperatures(d)) {
        kd_dataset_free(d);
        return cli_fail(cmd, "%s: out of memory", path);
    }
    if (d->ntemps == 0)
        printf("summary      none (no per-temperature table in this file)\n");
    else if (!cli_quiet)
        print_summary_table(d);
    else
        printf("summary      %zu temperatures, correlation G(r) for r = 0..%d\n", d->ntemps,
               d->nr - 1);
    kd_dataset_free(d);
    return CLI_OK;
}

/* ---- any other kadanoff format ----------------------------------------------- */

typedef struct {
    kd_h5 *f;
    const char *obj;
} attr_ctx;

static int print_attr(const char *name, void *user)
{
    attr_ctx *c = user;
    char value[512];
    kd_h5_attr_text(c->f, c->obj, name, value, sizeof value);
    printf("  %-24s %s\n", name, value);
    return 0;
}

static int print_object(const char *path, const kd_h5_shape *shape, void *user)
{
    (void)user;
    if (!shape) {
        printf("  %-32s group\n", path);
        return 0;
    }
    char dims[200];
    kd_h5_format_dims(shape->rank, shape->dims, dims, sizeof dims);
    printf("  %-32s %-9s %s\n", path, shape->type_desc, shape->rank ? dims : "scalar");
    return 0;
}

static int describe_other(const char *cmd, kd_h5 *f, const char *format)
{
    char version[64], writer[64];
    if (kd_h5_has_attr(f, "/", "format_version"))
        kd_h5_attr_text(f, "/", "format_version", version, sizeof version);
    else
        snprintf(version, sizeof version, "?");
    if (kd_h5_has_attr(f, "/", "kadanoff_version"))
        kd_h5_attr_text(f, "/", "kadanoff_version", writer, sizeof writer);
    else
        snprintf(writer, sizeof writer, "?");
    printf("%s: kadanoff file of format '%s' version %s, written by kadanoff %s\n", f->path,
           format, version, writer);
    printf("(this kadanoff, %s, has no detailed description of '%s'; listing its contents)\n",
           kd_version(), format);
    printf("attributes:\n");
    attr_ctx c = {f, "/"};
    kd_status st = kd_h5_visit_attrs(f, "/", print_attr, &c);
    if (st == KD_OK) {
        printf("objects:\n");
        st = kd_h5_visit(f, print_object, NULL);
    }
    return st == KD_OK ? CLI_OK : cli_fail_status(cmd, st);
}

int cmd_info(int argc, char **argv)
{
    const char *cmd = "info";
    static const struct option opts[] = {{"quiet", no_argument, 0, 'q'},
                                         {"verbose", no_argument, 0, 'v'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c, rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":qvh", opts, NULL)) != -1) {
        switch (c) {
        default:
            if ((rc = cli_common_option(cmd, c, argv, usage)) != CLI_CONTINUE)
                return rc;
        }
    }
    if (optind >= argc)
        return cli_usage_error(cmd, "no FILE given");
    if (argc - optind > 1)
        return cli_usage_error(cmd, "unexpected argument '%s' (one FILE at a time)",
                               argv[optind + 1]);
    const char *path = argv[optind];

    kd_h5 *f;
    char format[256];
    int64_t version = 0;
    kd_status st = kd_h5_open(&f, path);
    if (st == KD_OK)
        st = kd_h5_read_format(f, format, sizeof format);
    if (st != KD_OK) {
        kd_h5_close(f);
        return cli_fail_status(cmd, st);
    }
    if (strcmp(format, KD_DATASET_FORMAT) == 0) {
        st = kd_h5_check_format(f, KD_DATASET_FORMAT, KD_DATASET_FORMAT_VERSION, &version);
        kd_h5_close(f);
        if (st != KD_OK)
            return cli_fail_status(cmd, st);
        return describe_dataset(cmd, path, version);
    }
    rc = describe_other(cmd, f, format);
    kd_h5_close(f);
    return rc;
}
