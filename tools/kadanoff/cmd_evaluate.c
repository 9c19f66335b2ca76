/* kadanoff evaluate — likelihoods and reconstruction of a model on a dataset. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbm_cli.h"

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: kadanoff evaluate MODEL.h5 DATA.h5 [options]\n\n"
        "Evaluate a model (kadanoff-rbm or kadanoff-dbn) on the configurations of a dataset,\n"
        "per temperature and over all selected configurations.\n\n"
        "For an RBM, columns:\n"
        "  logL      mean log-likelihood ln p(v) in nats per configuration, = -<F(v)> - ln Z;\n"
        "            ln Z is exact (enumeration of the smaller layer) when min(nv, nh) <=\n"
        "            --exact-max, else an AIS estimate whose standard error is printed\n"
        "  logL/N    the same per visible unit\n"
        "  sem       standard error of the mean of ln p(v) over the configurations (the AIS\n"
        "            error of ln Z, common to every row, is reported separately)\n"
        "  recon     mean-field reconstruction error: mean of (v - E[v | E[h|v]])^2 over\n"
        "            units (spin units: in [0, 4])\n"
        "  pll/unit  pseudo-log-likelihood per visible unit (nats)\n"
        "  <F>       mean free energy F(v)\n"
        "For a DBN: the reconstruction error through every level l (mean-field up pass to\n"
        "level l and down pass back to the data).\n\n"
        "Options:\n"
        "  --temps LIST             evaluate on these temperatures of DATA only\n"
        "  --exclude LIST           leave these temperatures out\n"
        "  --exact-max M            exact ln Z when min(nv, nh) <= M, M <= 24 [24]\n"
        "  --ais-runs M             AIS runs when ln Z is not exact [100]\n"
        "  --ais-steps K            AIS intermediate distributions [1000]\n"
        "  --pll-units K|auto       pseudo-likelihood over all units (0) or K random units\n"
        "                           per row [auto: all if nv*nh <= 2^20, else 16]\n"
        "  --seed N                 seed of AIS and random pseudo-likelihood units [1]\n"
        "  --threads N              OpenMP threads [all cores]; results do not depend on it\n"
        "  -q, --quiet              only the table\n"
        "  -v, --verbose            more messages\n"
        "  -h, --help               this help\n\n"
        "The dataset's lattice must have the kind and size the model was trained on.\n\n"
        "Example:\n"
        "  kadanoff evaluate rbm.h5 test.h5 --ais-runs 200 --ais-steps 10000\n");
}

typedef struct {
    int exact_max, ais_runs, ais_steps, pll_units;
    uint64_t seed;
} eval_options;

static void temperature_label(char *buf, size_t size, double T)
{
    if (T == KD_TEMPERATURE_UNKNOWN)
        snprintf(buf, size, "unknown");
    else
        snprintf(buf, size, "%g", T);
}

/* Rows of the selection at temperature T (a subset of data->rows). */
static size_t group_rows(const rbmcli_data *data, double T, size_t *out)
{
    size_t m = 0;
    for (size_t k = 0; k < data->n; k++)
        if (data->d->temperature[data->rows[k]] == T)
            out[m++] = data->rows[k];
    return m;
}

/* ---- RBM ---------------------------------------------------------------------- */

typedef struct {
    size_t n;
    double loglik, sem, recon, pll, free_energy;
} group_stats;

static kd_status rbm_group(const kd_rbm *rbm, const kd_rbm_data *view, double log_z,
                           const eval_options *o, double *F, group_stats *g)
{
    g->n = view->n;
    kd_status st = kd_rbm_free_energy_data(rbm, view, F, &g->free_energy);
    if (st != KD_OK)
        return st;
    double ss = 0;
    for (size_t k = 0; k < view->n; k++)
        ss += (F[k] - g->free_energy) * (F[k] - g->free_energy);
    g->sem = view->n > 1 ? sqrt(ss / (double)(view->n - 1) / (double)view->n) : NAN;
    g->loglik = -g->free_energy - log_z;
    if ((st = kd_rbm_reconstruction_error(rbm, view, &g->recon)) != KD_OK)
        return st;
    int units = o->pll_units;
    if (units < 0)
        units = (double)kd_rbm_nv(rbm) * kd_rbm_nh(rbm) <= 1048576.0 ? 0 : 16;
    if (units >= kd_rbm_nv(rbm))
        units = 0;
    return kd_rbm_pseudo_loglik(rbm, view, units, o->seed, 0, &g->pll);
}

static void print_group(const char *label, const group_stats *g, int nv)
{
    char b[6][32];
    printf("%10s %8zu %s %s %s %s %s %s\n", label, g->n, rbmcli_num(b[0], 32, g->loglik, 12, 4),
           rbmcli_num(b[1], 32, g->loglik / nv, 9, 5), rbmcli_num(b[2], 32, g->sem, 8, 4),
           rbmcli_num(b[3], 32, g->recon, 8, 5), rbmcli_num(b[4], 32, g->pll, 9, 5),
           rbmcli_num(b[5], 32, g->free_energy, 11, 4));
}

static int evaluate_rbm(const char *cmd, const char *model_path, const kd_rbm_file *file,
                        const rbmcli_data *data, const eval_options *o)
{
    const kd_rbm *rbm = file->model->rbm;
    const int nv = kd_rbm_nv(rbm), nh = kd_rbm_nh(rbm);
    const int m = nv < nh ? nv : nh;
    double log_z, log_z_err = 0;
    kd_status st;
    char how[160];
    if (m <= o->exact_max) {
        st = kd_rbm_log_z(rbm, KD_RBM_SUM_SMALLER, &log_z);
        snprintf(how, sizeof how, "exact, by enumerating the 2^%d states of the %s layer", m,
                 nv <= nh ? "visible" : "hidden");
    } else {
        kd_ais_options a;
        kd_ais_result r;
        kd_ais_options_default(&a);
        a.runs = o->ais_runs;
        a.steps = o->ais_steps;
        a.seed = o->seed;
        st = kd_rbm_ais(rbm, &a, &r);
        log_z = r.log_z;
        log_z_err = r.log_z_err;
        snprintf(how, sizeof how, "AIS, %d runs x %d steps, standard error %.4g, ESS %.1f",
                 a.runs, a.steps, r.log_z_err, r.ess);
    }
    if (st != KD_OK)
        return cli_fail_status(cmd, st);
    if (!cli_quiet) {
        printf("# model %s: RBM %d-%d (%s/%s), %llu epochs; data %s: %zu configurations\n",
               model_path, nv, nh, kd_units_name(kd_rbm_visible_units(rbm)),
               kd_units_name(kd_rbm_hidden_units(rbm)),
               (unsigned long long)file->model->epochs_done, data->path, data->n);
        printf("# ln Z = %.6f (%s)\n", log_z, how);
        if (m > o->exact_max)
            printf("# logL below is an AIS estimate: its error from ln Z is +- %.4g (the same "
                   "for every row)\n",
                   log_z_err);
    }
    printf("%10s %8s %12s %9s %8s %8s %9s %11s\n", "T", "n", "logL", "logL/N", "sem", "recon",
           "pll/unit", "<F>");
    size_t *rows = malloc(data->n * sizeof *rows);
    double *F = malloc(data->n * sizeof *F);
    if (!rows || !F) {
        free(rows);
        free(F);
        return cli_fail(cmd, "out of memory");
    }
    group_stats all = {0, 0, 0, 0, 0, 0};
    double sumF2 = 0;
    int rc = CLI_OK;
    for (size_t t = 0; t < data->ntemps && rc == CLI_OK; t++) {
        kd_rbm_data view = rbmcli_data_view(data);
        view.rows = rows;
        view.n = group_rows(data, data->temps[t], rows);
        group_stats g;
        st = rbm_group(rbm, &view, log_z, o, F, &g);
        if (st != KD_OK) {
            rc = cli_fail_status(cmd, st);
            break;
        }
        char label[32];
        temperature_label(label, sizeof label, data->temps[t]);
        print_group(label, &g, nv);
        /* the overall row: every quantity is a mean over rows, so it is the
         * n-weighted mean of the groups */
        all.n += g.n;
        all.free_energy += (double)g.n * g.free_energy;
        all.recon += (double)g.n * g.recon;
        all.pll += (double)g.n * g.pll;
        for (size_t k = 0; k < view.n; k++)
            sumF2 += F[k] * F[k];
    }
    if (rc == CLI_OK && data->ntemps > 1) {
        double n = (double)all.n;
        all.free_energy /= n;
        all.recon /= n;
        all.pll /= n;
        all.loglik = -all.free_energy - log_z;
        double var = (sumF2 - n * all.free_energy * all.free_energy) / (n - 1);
        all.sem = all.n > 1 ? sqrt(fmax(var, 0) / n) : NAN;
        print_group("all", &all, nv);
    }
    free(rows);
    free(F);
    return rc;
}

/* ---- DBN ---------------------------------------------------------------------- */

/* Mean squared difference between the reconstruction and the data's unit values. */
static double recon_error(const kd_rbm_data *view, kd_units units, int nv, const float *rec)
{
    double sum = 0;
    float *v = malloc((size_t)nv * sizeof *v);
    if (!v)
        return NAN;
    for (size_t k = 0; k < view->n; k++) {
        kd_rbm_spins_to_values(units, view->spins + view->rows[k] * (size_t)nv, (size_t)nv, v);
        double row = 0;
        for (int i = 0; i < nv; i++) {
            double d = (double)v[i] - (double)rec[k * (size_t)nv + (size_t)i];
            row += d * d;
        }
        sum += row / nv;
    }
    free(v);
    return view->n ? sum / (double)view->n : NAN;
}

static int evaluate_dbn(const char *cmd, const char *model_path, const kd_dbn_file *file,
                        const rbmcli_data *data)
{
    kd_dbn *dbn;
    kd_status st = kd_dbn_file_network(file, &dbn);
    if (st != KD_OK)
        return cli_fail_status(cmd, st);
    const int depth = kd_dbn_depth(dbn), nv = kd_dbn_width(dbn, 0);
    const kd_units units = kd_rbm_visible_units(kd_dbn_layer(dbn, 0));
    if (!cli_quiet) {
        printf("# model %s: DBN", model_path);
        for (int l = 0; l <= depth; l++)
            printf("%c%d", l ? '-' : ' ', kd_dbn_width(dbn, l));
        printf("; data %s: %zu configurations\n", data->path, data->n);
        printf("# reconstruction error through level l: mean over units of (v - v_rec)^2, "
               "mean-field up to level l and back down\n");
    }
    printf("%10s %8s", "T", "n");
    for (int l = 1; l <= depth; l++) {
        char h[24];
        snprintf(h, sizeof h, "recon_%d", l);
        printf(" %9s", h);
    }
    printf("\n");
    size_t *rows = malloc(data->n * sizeof *rows);
    float *out = malloc(data->n * (size_t)nv * sizeof *out);
    double *all = calloc((size_t)depth + 1, sizeof *all);
    int rc = CLI_OK;
    if (!rows || !out || !all)
        rc = cli_fail(cmd, "out of memory");
    for (size_t t = 0; rc == CLI_OK && t < data->ntemps + (data->ntemps > 1); t++) {
        kd_rbm_data view = rbmcli_data_view(data);
        char label[32];
        if (t < data->ntemps) {
            view.rows = rows;
            view.n = group_rows(data, data->temps[t], rows);
            temperature_label(label, sizeof label, data->temps[t]);
        } else {
            snprintf(label, sizeof label, "all");
        }
        printf("%10s %8zu", label, view.n);
        for (int l = 1; l <= depth && rc == CLI_OK; l++) {
            double e;
            if (t < data->ntemps) {
                st = kd_dbn_reconstruct(dbn, &view, l, KD_RBM_MEAN, 0, 0, out);
                if (st != KD_OK) {
                    rc = cli_fail_status(cmd, st);
                    break;
                }
                e = recon_error(&view, units, nv, out);
                all[l] += e * (double)view.n;
            } else {
                e = all[l] / (double)data->n;
            }
            char b[32];
            printf(" %s", rbmcli_num(b, sizeof b, e, 9, 5));
        }
        printf("\n");
    }
    free(rows);
    free(out);
    free(all);
    kd_dbn_free(dbn);
    return rc;
}

int cmd_evaluate(int argc, char **argv)
{
    const char *cmd = "evaluate";
    enum { O_TEMPS = 1, O_EXCLUDE, O_EXACT, O_RUNS, O_STEPS, O_PLL, O_SEED };
    static const struct option opts[] = {
        {"temps", required_argument, 0, O_TEMPS},   {"exclude", required_argument, 0, O_EXCLUDE},
        {"exact-max", required_argument, 0, O_EXACT}, {"ais-runs", required_argument, 0, O_RUNS},
        {"ais-steps", required_argument, 0, O_STEPS}, {"pll-units", required_argument, 0, O_PLL},
        {"seed", required_argument, 0, O_SEED},     {"threads", required_argument, 0, CLI_OPT_THREADS},
        {"quiet", no_argument, 0, 'q'},             {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
    eval_options o = {KD_RBM_MAX_ENUM, 100, 1000, -1, 1};
    const char *temps = NULL, *exclude = NULL;
    long v;
    int c, rc = CLI_OK;
    optind = 1;
    while ((c = cli_next_option(cmd, argc, argv, ":qvh", opts, usage, &rc)) > 0) {
        switch (c) {
        case O_TEMPS:
            temps = optarg;
            break;
        case O_EXCLUDE:
            exclude = optarg;
            break;
        case O_EXACT:
            rc = cli_parse_long(cmd, "--exact-max", optarg, 0, KD_RBM_MAX_ENUM, &v);
            o.exact_max = (int)v;
            break;
        case O_RUNS:
            rc = cli_parse_long(cmd, "--ais-runs", optarg, 2, 1000000, &v);
            o.ais_runs = (int)v;
            break;
        case O_STEPS:
            rc = cli_parse_long(cmd, "--ais-steps", optarg, 1, 100000000, &v);
            o.ais_steps = (int)v;
            break;
        case O_PLL:
            if (!strcmp(optarg, "auto"))
                v = -1;
            else
                rc = cli_parse_long(cmd, "--pll-units", optarg, 0, 1000000, &v);
            o.pll_units = (int)v;
            break;
        case O_SEED:
            rc = cli_parse_u64(cmd, "--seed", optarg, &o.seed);
            break;
        }
    }
    if (c == CLI_OPTIONS_STOP ||
        (rc = cli_operands(cmd, argc, argv, 2, 2, "expected MODEL.h5 and DATA.h5")) != CLI_OK)
        return rc;
    if ((rc = rbmcli_check_temps(cmd, "--temps", temps)) != CLI_OK ||
        (rc = rbmcli_check_temps(cmd, "--exclude", exclude)) != CLI_OK)
        return rc;
    const char *model_path = argv[optind], *data_path = argv[optind + 1];

    kd_rbm_file *rbm = NULL;
    kd_dbn_file *dbn = NULL;
    kd_status st = kd_model_file_read(model_path, &rbm, &dbn);
    if (st != KD_OK)
        return cli_fail_status(cmd, st);
    const kd_rbm_source *src = rbm ? &rbm->source : &dbn->source;
    rbmcli_data data;
    rc = rbmcli_data_load(cmd, data_path, temps, exclude, &data);
    if (rc == CLI_OK) {
        rc = rbmcli_check_lattice(cmd, data_path, &data.d->lattice, model_path, &src->lattice);
        if (rc == CLI_OK)
            rc = rbm ? evaluate_rbm(cmd, model_path, rbm, &data, &o)
                     : evaluate_dbn(cmd, model_path, dbn, &data);
        rbmcli_data_free(&data);
    }
    kd_rbm_file_free(rbm);
    kd_dbn_file_free(dbn);
    return rc;
}
