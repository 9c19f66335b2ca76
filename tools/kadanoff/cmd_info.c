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
#include "kadanoff/rbm_file.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: kadanoff info [options] FILE\n\n"
            "Describe a kadanoff HDF5 file. For a dataset (format kadanoff-dataset): the\n"
            "lattice, couplings, sampling parameters, the temperatures with their number of\n"
            "configurations and the per-temperature summary table. For a model (kadanoff-rbm,\n"
            "kadanoff-dbn): its layers and unit types, training data, hyperparameters, epochs\n"
            "done and the last monitors. For any other kadanoff format: its tag, its\n"
            "attributes and every group and array with its shape.\n\n"
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

/* ---- kadanoff-rbm and kadanoff-dbn ----------------------------------------------- */

static void describe_record(const char *indent, const kd_rbm_record *rec)
{
    const kd_rbm *r = rec->rbm;
    const unsigned fl = kd_rbm_flags(r);
    printf("%smodel        RBM %d-%d, %s visible and %s hidden units, visible biases %s, hidden "
           "biases %s\n",
           indent, kd_rbm_nv(r), kd_rbm_nh(r), kd_units_name(kd_rbm_visible_units(r)),
           kd_units_name(kd_rbm_hidden_units(r)), fl & KD_RBM_NO_VISIBLE_BIAS ? "off" : "on",
           fl & KD_RBM_NO_HIDDEN_BIAS ? "off" : "on");
    if (!rec->trained) {
        printf("%straining     none recorded\n", indent);
        return;
    }
    const kd_rbm_train_options *o = &rec->train;
    printf("%straining     %s-%d, %s, lr %g (%s", indent, o->method == KD_RBM_PCD ? "PCD" : "CD",
           o->k, o->optimizer == KD_RBM_ADAM ? "Adam" : "SGD", o->lr,
           kd_rbm_schedule_name(o->schedule));
    if (o->schedule == KD_RBM_LR_LINEAR)
        printf(" to %g", o->lr_final);
    else if (o->schedule == KD_RBM_LR_EXPONENTIAL)
        printf(", decay %g", o->lr_decay);
    if (o->optimizer == KD_RBM_ADAM)
        printf("), beta1 %g, beta2 %g, eps %g", o->adam_beta1, o->adam_beta2, o->adam_eps);
    else
        printf("), momentum %g", o->momentum);
    printf(", batch %zu, L1 %g, L2 %g\n", o->batch, o->l1, o->l2);
    printf("%s             init %s sigma %g, validation %g, shuffle %s, seed %llu\n", indent,
           kd_rbm_init_name(rec->init), rec->init_sigma, o->valid_fraction,
           o->shuffle ? "on" : "off", (unsigned long long)o->seed);
    printf("%sepochs       %llu of %llu done (%llu updates)\n", indent,
           (unsigned long long)rec->epochs_done, (unsigned long long)o->epochs,
           (unsigned long long)rec->updates);
    if (rec->nhistory > 0) {
        const kd_rbm_epoch_stats *h = &rec->history[rec->nhistory - 1];
        printf("%slast epoch   recon %.4g, pseudo-LL %.4g per unit, <F> %.6g", indent,
               h->recon_error, h->pll, h->free_energy);
        if (!isnan(h->loglik))
            printf(", exact ln Z %.6g, logL %.6g", h->log_z, h->loglik);
        printf("\n");
    }
    if (rec->nais > 0) {
        const kd_rbm_ais_stats *a = &rec->ais[rec->nais - 1];
        printf("%slast AIS     epoch %llu: ln Z %.6g +- %.3g, logL %.6g\n", indent,
               (unsigned long long)a->epoch, a->log_z, a->log_z_err, a->loglik);
    }
}

static int describe_model(const char *path, const kd_rbm_file *rf, const kd_dbn_file *df)
{
    const kd_rbm_source *s = rf ? &rf->source : &df->source;
    printf("%s: kadanoff %s model (format %s version 1), written by kadanoff %s\n", path,
           rf ? "RBM" : "DBN", rf ? KD_RBM_FORMAT : KD_DBN_FORMAT, s->kadanoff_version);
    printf("lattice      %s, L = %d (%zu spins), J = %g, h = %g, %s boundaries\n",
           kd_lattice_kind_name(s->lattice.kind), s->lattice.L, kd_lattice_size(&s->lattice),
           s->lattice.J, s->lattice.field, kd_boundary_name(s->lattice.boundary));
    printf("data         %s: %llu configurations", *s->data ? s->data : "(unknown)",
           (unsigned long long)s->rows);
    if (*s->temps)
        printf(", --temps %s", s->temps);
    if (*s->exclude)
        printf(", --exclude %s", s->exclude);
    printf("\ntemperatures");
    for (size_t i = 0; i < s->ntemperatures && i < 20; i++)
        printf(" %g", s->temperatures[i]);
    if (s->ntemperatures > 20)
        printf(" ... (%zu in all)", s->ntemperatures);
    printf("\n");
    if (rf) {
        describe_record("", rf->model);
    } else {
        printf("network      %d layers:", df->depth);
        for (int l = 0; l < df->depth; l++)
            printf("%s%d", l ? "-" : " ", kd_rbm_nv(df->layers[l]->rbm));
        printf("-%d; layer l >= 1 trained on the up-pass %s of the layer below\n",
               kd_rbm_nh(df->layers[df->depth - 1]->rbm),
               df->propagate == KD_RBM_MEAN ? "means" : "samples");
        for (int l = 0; l < df->depth; l++) {
            printf("layer %d\n", l);
            describe_record("  ", df->layers[l]);
        }
    }
    printf("command      %s\n", *s->command ? s->command : "(unknown)");
    return CLI_OK;
}

int cmd_info(int argc, char **argv)
{
    const char *cmd = "info";
    static const struct option opts[] = {{"quiet", no_argument, 0, 'q'},
                                         {"verbose", no_argument, 0, 'v'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int rc = CLI_OK;
    optind = 1;
    /* no options of its own: cli_next_option returns only at the end or to stop */
    if (cli_next_option(cmd, argc, argv, ":qvh", opts, usage, &rc) == CLI_OPTIONS_STOP)
        return rc;
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
    if (!strcmp(format, KD_RBM_FORMAT) || !strcmp(format, KD_DBN_FORMAT)) {
        kd_rbm_file *rf;
        kd_dbn_file *df;
        st = kd_model_file_read(path, &rf, &df);
        if (st == KD_OK) {
            kd_h5_close(f);
            rc = describe_model(path, rf, df);
            kd_rbm_file_free(rf);
            kd_dbn_file_free(df);
            return rc;
        }
        /* a damaged model: say why, then list what is there */
        fprintf(stderr, "kadanoff %s: warning: not a valid %s file: %s\n", cmd, format,
                kd_last_error());
    }
    rc = describe_other(cmd, f, format);
    kd_h5_close(f);
    return rc;
}
