/* kadanoff measure — temperature readouts of sets of configurations: the neural
 * thermometer next to physical estimators (energy against the exact e(T), |m|
 * and G(r) against a reference dataset).
 *
 * The file-specific part only cuts the input into groups (for a dataset: one per
 * temperature label); every group goes through kd_thermometry_measure and one
 * printed row, so other group sources (the steps of a flow file) plug in here. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kadanoff/nn.h"
#include "kadanoff/thermometry.h"

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: kadanoff measure FILE.h5 [--thermometer THERMO.h5] [--reference DATA.h5] [options]\n\n"
        "Reads the temperature of each set of configurations in FILE.h5 (a kadanoff\n"
        "dataset: one set per temperature label) in several independent ways:\n\n"
        "  T_nn    the neural thermometer (--thermometer): mean temperature under the class\n"
        "          probabilities averaged over the set (finite classes; p_inf is the\n"
        "          weight of a T = inf class; +- is its jackknife error over the set);\n"
        "          mode: the most frequent per-configuration argmax class; T_ml: the\n"
        "          class under which the whole set is most likely (sum of log p)\n"
        "  T_e     <e> matched to the exact e(T) of the same lattice (Kaufman's L x L torus\n"
        "          in zero field, or the chain's transfer matrix); error sigma_e / c(T)\n"
        "  T_|m|   <|m|> matched to the reference dataset's summary (--reference)\n"
        "  T_G     G(r) = <s_i s_i+r> at one distance r, matched likewise\n\n"
        "Errors are 1 sigma (binning over blocks of consecutive configurations; the\n"
        "reference curve's own error included). A value beyond the reference range is\n"
        "clamped to its end and marked '<' (colder than the cold end, e.g. <e> below the\n"
        "ground state) or '>' (hotter than the hot end, e.g. <e> > 0).\n\n"
        "Options:\n"
        "  --thermometer FILE    a model from kadanoff train-thermometer; it must have been\n"
        "                        trained on the same lattice (kind and L)\n"
        "  --reference FILE      a dataset of the same lattice with a summary (kadanoff sample)\n"
        "                        whose <|m|>(T) and G(r; T) serve as reference curves\n"
        "  --r R                 distance of G(r) (default L/4)\n"
        "  --probabilities       also print the averaged class probabilities of each set\n"
        "  --threads N           OpenMP threads (default: all cores)\n"
        "  -q, --quiet           no warnings\n"
        "  -v, --verbose         more messages\n"
        "  -h, --help            this help\n\n"
        "Example:\n"
        "  kadanoff measure data.h5 --thermometer thermo.h5 --reference data.h5\n");
}

/* One set of configurations to measure, with the label it carries. */
typedef struct {
    double T_label;     /* true temperature label (NaN if none) */
    const int8_t *spins;/* n configurations, contiguous */
    size_t n;
} measure_group;

static void fmt_T(char *buf, size_t size, const kd_temp_estimate *e)
{
    if (e->flag == KD_TEMP_UNAVAILABLE || isnan(e->T)) {
        snprintf(buf, size, "%s", "-");
        return;
    }
    char mark = e->flag == KD_TEMP_BELOW_RANGE ? '<' : e->flag == KD_TEMP_ABOVE_RANGE ? '>' : ' ';
    if (isnan(e->err) || mark != ' ') /* clamped: T is a bound, not an estimate */
        snprintf(buf, size, "%8.4f%c", e->T, mark);
    else if (isinf(e->err))
        snprintf(buf, size, "%8.4f +-    inf%c", e->T, mark);
    else
        snprintf(buf, size, "%8.4f +- %6.4f%c", e->T, e->err, mark);
}

static void print_header(const kd_thermometry *tm, int have_thermometer, int have_reference)
{
    printf("%8s %6s", "T", "n");
    if (have_thermometer)
        printf(" %18s %7s %7s %7s", "T_nn +- err", "p_inf", "mode", "T_ml");
    printf(" %19s", "T_e +- err");
    if (have_reference) {
        char g[32];
        snprintf(g, sizeof g, "T_G(r=%d) +- err", kd_thermometry_distance(tm));
        printf(" %19s %19s", "T_|m| +- err", g);
    }
    printf(" %10s %8s\n", "<e>", "<|m|>");
}

static void print_row(const measure_group *g, const kd_thermometry_result *r, int have_reference,
                      const double *prob, const double *temps, int nclasses)
{
    char a[48], b[48], c[48];
    if (isnan(g->T_label))
        printf("%8s %6zu", "-", r->n);
    else
        printf("%8.4g %6zu", g->T_label, r->n);
    if (r->have_thermometer) {
        const kd_thermometer_readout *t = &r->thermometer;
        if (isnan(t->T_mean))
            snprintf(a, sizeof a, "%s", "-");
        else
            snprintf(a, sizeof a, "%8.4f +- %6.4f", t->T_mean, t->T_mean_err);
        printf(" %18s %7.4f %7.4g %7.4g", a, t->p_inf, t->T_mode, t->T_ml);
    }
    fmt_T(a, sizeof a, &r->T_energy);
    printf(" %19s", a);
    if (have_reference) {
        fmt_T(b, sizeof b, &r->T_abs_m);
        fmt_T(c, sizeof c, &r->T_G);
        printf(" %19s %19s", b, c);
    }
    printf(" %10.6f %8.5f\n", r->e, r->abs_m);
    if (prob) {
        printf("         p(T):");
        for (int k = 0; k < nclasses; k++)
            printf(" %g:%.4f", temps[k], prob[k]);
        printf("\n");
    }
}

/* The groups of a dataset: its distinct temperature labels in increasing
 * order, each with its configurations copied together. */
static int dataset_groups(const char *cmd, const kd_dataset *d, measure_group **out,
                          size_t *ngroups, int8_t **storage)
{
    const size_t N = kd_lattice_size(&d->lattice);
    double *t = malloc((d->n ? d->n : 1) * sizeof(double));
    int8_t *buf = malloc(d->n * N + 1);
    measure_group *g = malloc((d->n ? d->n : 1) * sizeof *g);
    if (!t || !buf || !g) {
        free(t);
        free(buf);
        free(g);
        return cli_fail(cmd, "out of memory for %zu configurations", d->n);
    }
    /* distinct labels (few: a linear search per row is cheap) */
    size_t m = 0;
    for (size_t i = 0; i < d->n; i++) {
        size_t k = 0;
        while (k < m && t[k] != d->temperature[i])
            k++;
        if (k == m)
            t[m++] = d->temperature[i];
    }
    /* order the distinct labels */
    for (size_t i = 1; i < m; i++)
        for (size_t k = i; k > 0 && t[k - 1] > t[k]; k--) {
            double x = t[k];
            t[k] = t[k - 1];
            t[k - 1] = x;
        }
    size_t pos = 0;
    for (size_t k = 0; k < m; k++) {
        g[k].T_label = t[k];
        g[k].spins = buf + pos * N;
        g[k].n = 0;
        for (size_t i = 0; i < d->n; i++)
            if (d->temperature[i] == t[k]) {
                memcpy(buf + pos * N, d->spins + i * N, N);
                pos++;
                g[k].n++;
            }
    }
    free(t);
    *out = g;
    *ngroups = m;
    *storage = buf;
    return CLI_OK;
}

int cmd_measure(int argc, char **argv)
{
    const char *cmd = "measure";
    static const struct option opts[] = {
        {"thermometer", required_argument, 0, 1}, {"reference", required_argument, 0, 2},
        {"r", required_argument, 0, 3},           {"probabilities", no_argument, 0, 4},
        {"threads", required_argument, 0, CLI_OPT_THREADS},     {"quiet", no_argument, 0, 'q'},
        {"verbose", no_argument, 0, 'v'},         {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *thermo_path = NULL, *ref_path = NULL;
    int r = -1, show_prob = 0, c, rc = CLI_OK;
    long v;
    optind = 1;
    while ((c = cli_next_option(cmd, argc, argv, ":qvh", opts, usage, &rc)) > 0) {
        switch (c) {
        case 1:
            thermo_path = optarg;
            break;
        case 2:
            ref_path = optarg;
            break;
        case 3:
            rc = cli_parse_long(cmd, "--r", optarg, 1, 1 << 27, &v);
            r = (int)v;
            break;
        case 4:
            show_prob = 1;
            break;
        }
    }
    if (c == CLI_OPTIONS_STOP)
        return rc;
    if ((rc = cli_operands(cmd, argc, argv, 1, 1,
                           "missing the file to measure (FILE.h5)")) != CLI_OK)
        return rc;
    const char *input = argv[optind];

    kd_dataset *d = NULL, *ref = NULL;
    kd_thermometer *th = NULL;
    kd_thermometry *tm = NULL;
    measure_group *groups = NULL;
    int8_t *storage = NULL;
    size_t ngroups = 0;
    double *prob = NULL;
    int ret = CLI_OK;
    kd_status st = kd_dataset_read(input, &d);
    if (st != KD_OK) {
        ret = cli_fail_status(cmd, st);
        goto done;
    }
    if (thermo_path && (st = kd_thermometer_read(thermo_path, &th)) != KD_OK) {
        ret = cli_fail_status(cmd, st);
        goto done;
    }
    if (ref_path && (st = kd_dataset_read(ref_path, &ref)) != KD_OK) {
        ret = cli_fail_status(cmd, st);
        goto done;
    }
    if (ref && ref->ntemps < 2) {
        ret = cli_fail(cmd, "%s: reference dataset has %zu summary rows, expected at least 2 "
                            "temperatures", ref_path, ref->ntemps);
        goto done;
    }
    st = kd_thermometry_new(&tm, &d->lattice, th, ref, r);
    if (st != KD_OK) {
        ret = cli_fail(cmd, "%s does not fit %s: %s", th && !ref ? thermo_path
                                                      : ref && !th ? ref_path
                                                      : "--thermometer/--reference",
                       input, kd_last_error());
        goto done;
    }
    if ((ret = dataset_groups(cmd, d, &groups, &ngroups, &storage)) != CLI_OK)
        goto done;
    kd_thermometer_info info;
    if (th) {
        kd_thermometer_describe(th, &info);
        prob = malloc((size_t)info.nclasses * sizeof(double));
        if (!prob) {
            ret = cli_fail(cmd, "out of memory");
            goto done;
        }
    }
    printf("# %s: %s L=%d %s J=%g h=%g, %zu configurations in %zu sets (by temperature label)\n",
           input, kd_lattice_kind_name(d->lattice.kind), d->lattice.L,
           kd_boundary_name(d->lattice.boundary), d->lattice.J, d->lattice.field, d->n, ngroups);
    if (th)
        printf("# thermometer %s: %d classes, T = %g..%g\n", thermo_path, info.nclasses,
               info.temperatures[0], info.temperatures[info.nclasses - 1]);
    if (ref)
        printf("# reference %s: %zu temperatures, G(r) at r = %d\n", ref_path, ref->ntemps,
               kd_thermometry_distance(tm));
    if (!kd_thermometry_has_exact_energy(&d->lattice))
        printf("# no exact e(T) for this lattice: T_e not available\n");
    print_header(tm, th != NULL, ref != NULL);
    for (size_t k = 0; k < ngroups; k++) {
        kd_thermometry_result res;
        st = kd_thermometry_measure(tm, groups[k].spins, groups[k].n, &res, prob);
        if (st != KD_OK) {
            ret = cli_fail(cmd, "%s, T = %g: %s", input, groups[k].T_label, kd_last_error());
            goto done;
        }
        print_row(&groups[k], &res, ref != NULL, show_prob ? prob : NULL,
                  th ? info.temperatures : NULL, th ? info.nclasses : 0);
    }
    printf("# '<' / '>': beyond the cold / hot end of the reference range (clamped)\n");
done:
    free(prob);
    free(groups);
    free(storage);
    kd_thermometry_free(tm);
    kd_thermometer_free(th);
    kd_dataset_free(ref);
    kd_dataset_free(d);
    return ret;
}
