/* Shared pieces of the RBM commands: options, data selection, training loop. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpi_cli.h"
#include "rbm_cli.h"

/* ---- training hyperparameter options ---------------------------------------- */

const struct option rbmcli_train_options[] = {
    {"cd", required_argument, 0, RO_CD},
    {"pcd", required_argument, 0, RO_PCD},
    {"epochs", required_argument, 0, RO_EPOCHS},
    {"batch", required_argument, 0, RO_BATCH},
    {"lr", required_argument, 0, RO_LR},
    {"lr-schedule", required_argument, 0, RO_LR_SCHEDULE},
    {"momentum", required_argument, 0, RO_MOMENTUM},
    {"adam", no_argument, 0, RO_ADAM},
    {"adam-beta1", required_argument, 0, RO_ADAM_BETA1},
    {"adam-beta2", required_argument, 0, RO_ADAM_BETA2},
    {"adam-eps", required_argument, 0, RO_ADAM_EPS},
    {"l1", required_argument, 0, RO_L1},
    {"l2", required_argument, 0, RO_L2},
    {"init-sigma", required_argument, 0, RO_INIT_SIGMA},
    {"init", required_argument, 0, RO_INIT},
    {"val", required_argument, 0, RO_VAL},
    {"no-shuffle", no_argument, 0, RO_NO_SHUFFLE},
    {"monitor-every", required_argument, 0, RO_MONITOR_EVERY},
    {"monitor-samples", required_argument, 0, RO_MONITOR_SAMPLES},
    {"exact-max", required_argument, 0, RO_EXACT_MAX},
    {"pll-units", required_argument, 0, RO_PLL_UNITS},
    {"ais-every", required_argument, 0, RO_AIS_EVERY},
    {"ais-runs", required_argument, 0, RO_AIS_RUNS},
    {"ais-steps", required_argument, 0, RO_AIS_STEPS},
    {"no-bias", no_argument, 0, RO_NO_BIAS},
    {"no-visible-bias", no_argument, 0, RO_NO_VISIBLE_BIAS},
    {"no-hidden-bias", no_argument, 0, RO_NO_HIDDEN_BIAS},
};
const size_t rbmcli_ntrain_options = sizeof rbmcli_train_options / sizeof rbmcli_train_options[0];

static const char *option_name(int id)
{
    for (size_t i = 0; i < rbmcli_ntrain_options; i++)
        if (rbmcli_train_options[i].val == id)
            return rbmcli_train_options[i].name;
    return "?";
}

int rbmcli_raw_store(rbmcli_raw *raw, int id, const char *arg)
{
    if (id < RO_CD || id >= RO_END)
        return 0;
    raw->value[id - RO_CD] = arg ? arg : "1";
    return 1;
}

const char *rbmcli_raw_first_given(const rbmcli_raw *raw, const int *allowed)
{
    for (int id = RO_CD; id < RO_END; id++) {
        if (!raw->value[id - RO_CD])
            continue;
        int ok = 0;
        for (const int *a = allowed; a && *a; a++)
            ok |= *a == id;
        if (!ok)
            return option_name(id);
    }
    return NULL;
}

void rbmcli_layer_defaults(rbmcli_layer *layer)
{
    memset(layer, 0, sizeof *layer);
    kd_rbm_train_options_default(&layer->train);
    layer->init = KD_RBM_INIT_GAUSSIAN;
    layer->init_sigma = 0.01;
    layer->flags = 0;
    layer->ais_every = 0;
    layer->ais_runs = 100;
    layer->ais_steps = 1000;
}

/* One value of option `id` for one layer. */
static int apply_one(const char *cmd, int id, const char *arg, rbmcli_layer *L)
{
    char opt[48];
    long v = 0;
    int rc = CLI_OK;
    kd_rbm_train_options *t = &L->train;
    snprintf(opt, sizeof opt, "--%s", option_name(id));
    switch (id) {
    case RO_CD:
    case RO_PCD:
        rc = cli_parse_long(cmd, opt, arg, 1, 1000000, &v);
        t->method = id == RO_CD ? KD_RBM_CD : KD_RBM_PCD;
        t->k = (int)v;
        break;
    case RO_EPOCHS:
        /* 0 writes the initialised, untrained model (e.g. a random-weight control) */
        rc = cli_parse_long(cmd, opt, arg, 0, 1L << 24, &v);
        t->epochs = (uint64_t)v;
        break;
    case RO_BATCH:
        rc = cli_parse_long(cmd, opt, arg, 1, 1L << 24, &v);
        t->batch = (size_t)v;
        break;
    case RO_LR:
        rc = cli_parse_double(cmd, opt, arg, 1e-300, 1e300, &t->lr);
        break;
    case RO_LR_SCHEDULE: {
        const char *colon = strchr(arg, ':');
        size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
        if (len == 8 && !strncmp(arg, "constant", 8) && !colon) {
            t->schedule = KD_RBM_LR_CONSTANT;
        } else if (len == 6 && !strncmp(arg, "linear", 6) && colon) {
            t->schedule = KD_RBM_LR_LINEAR;
            rc = cli_parse_double(cmd, "--lr-schedule linear:FINAL", colon + 1, 0, 1e300,
                                  &t->lr_final);
        } else if (len == 11 && !strncmp(arg, "exponential", 11) && colon) {
            t->schedule = KD_RBM_LR_EXPONENTIAL;
            rc = cli_parse_double(cmd, "--lr-schedule exponential:DECAY", colon + 1, 1e-300, 1,
                                  &t->lr_decay);
        } else {
            return cli_usage_error(cmd,
                                   "--lr-schedule expects constant, linear:FINAL or "
                                   "exponential:DECAY, got '%s'",
                                   arg);
        }
        break;
    }
    case RO_MOMENTUM:
        rc = cli_parse_double(cmd, opt, arg, 0, 0.9999, &t->momentum);
        break;
    case RO_ADAM:
        t->optimizer = KD_RBM_ADAM;
        break;
    case RO_ADAM_BETA1:
        rc = cli_parse_double(cmd, opt, arg, 0, 0.999999, &t->adam_beta1);
        break;
    case RO_ADAM_BETA2:
        rc = cli_parse_double(cmd, opt, arg, 0, 0.999999999, &t->adam_beta2);
        break;
    case RO_ADAM_EPS:
        rc = cli_parse_double(cmd, opt, arg, 1e-300, 1, &t->adam_eps);
        break;
    case RO_L1:
        rc = cli_parse_double(cmd, opt, arg, 0, 1e6, &t->l1);
        break;
    case RO_L2:
        rc = cli_parse_double(cmd, opt, arg, 0, 1e6, &t->l2);
        break;
    case RO_INIT_SIGMA:
        rc = cli_parse_double(cmd, opt, arg, 0, 1000, &L->init_sigma);
        break;
    case RO_INIT:
        if (kd_rbm_init_parse(arg, &L->init) != KD_OK)
            return cli_usage_error(cmd, "--init: %s", kd_last_error());
        break;
    case RO_VAL:
        rc = cli_parse_double(cmd, opt, arg, 0, 0.9, &t->valid_fraction);
        break;
    case RO_NO_SHUFFLE:
        t->shuffle = 0;
        break;
    case RO_MONITOR_EVERY:
        rc = cli_parse_long(cmd, opt, arg, 0, 1L << 24, &v);
        t->monitor_every = (int)v;
        break;
    case RO_MONITOR_SAMPLES:
        rc = cli_parse_long(cmd, opt, arg, 1, 1L << 30, &v);
        t->monitor_samples = (size_t)v;
        break;
    case RO_EXACT_MAX:
        rc = cli_parse_long(cmd, opt, arg, 0, KD_RBM_MAX_ENUM, &v);
        t->exact_max_units = (int)v;
        break;
    case RO_PLL_UNITS:
        if (!strcmp(arg, "auto"))
            v = -1;
        else
            rc = cli_parse_long(cmd, opt, arg, 0, 1000000, &v);
        t->pll_units = (int)v;
        break;
    case RO_AIS_EVERY:
        rc = cli_parse_long(cmd, opt, arg, 0, 1L << 24, &v);
        L->ais_every = (int)v;
        break;
    case RO_AIS_RUNS:
        rc = cli_parse_long(cmd, opt, arg, 2, 1000000, &v);
        L->ais_runs = (int)v;
        break;
    case RO_AIS_STEPS:
        rc = cli_parse_long(cmd, opt, arg, 1, 100000000, &v);
        L->ais_steps = (int)v;
        break;
    case RO_NO_BIAS:
        L->flags |= KD_RBM_NO_VISIBLE_BIAS | KD_RBM_NO_HIDDEN_BIAS;
        break;
    case RO_NO_VISIBLE_BIAS:
        L->flags |= KD_RBM_NO_VISIBLE_BIAS;
        break;
    case RO_NO_HIDDEN_BIAS:
        L->flags |= KD_RBM_NO_HIDDEN_BIAS;
        break;
    default:
        break;
    }
    return rc;
}

int rbmcli_raw_apply(const char *cmd, const rbmcli_raw *raw, rbmcli_layer *layers, int nlayers)
{
    if (raw->value[RO_CD - RO_CD] && raw->value[RO_PCD - RO_CD])
        return cli_usage_error(cmd, "--cd and --pcd exclude each other");
    if (raw->value[RO_ADAM - RO_CD] && raw->value[RO_MOMENTUM - RO_CD])
        return cli_usage_error(cmd, "--momentum is for SGD; it cannot be combined with --adam");
    for (int id = RO_CD; id < RO_END; id++) {
        const char *v = raw->value[id - RO_CD];
        if (!v)
            continue;
        /* split a comma list: 1 value (all layers) or one per layer */
        char buf[4096];
        if (snprintf(buf, sizeof buf, "%s", v) >= (int)sizeof buf)
            return cli_usage_error(cmd, "--%s: value too long", option_name(id));
        char *items[256];
        int count = 0;
        for (char *p = buf;; count++) {
            char *c = strchr(p, ',');
            if (count == 256)
                return cli_usage_error(cmd, "--%s: too many values", option_name(id));
            items[count] = p;
            if (!c) {
                count++;
                break;
            }
            *c = '\0';
            p = c + 1;
        }
        if (count != 1 && count != nlayers) {
            if (nlayers == 1)
                return cli_usage_error(cmd, "--%s expects one value, got the list '%s'",
                                       option_name(id), v);
            return cli_usage_error(cmd,
                                   "--%s has %d values for %d layers, expected 1 (all layers) "
                                   "or %d (one per layer)",
                                   option_name(id), count, nlayers, nlayers);
        }
        for (int l = 0; l < nlayers; l++) {
            int rc = apply_one(cmd, id, items[count == 1 ? 0 : l], &layers[l]);
            if (rc != CLI_OK)
                return rc;
        }
    }
    for (int l = 0; l < nlayers; l++)
        if (layers[l].init == KD_RBM_INIT_ZERO)
            layers[l].init_sigma = 0;
    return CLI_OK;
}

void rbmcli_train_help(FILE *f, int per_layer)
{
    fprintf(f,
        "Training (defaults in brackets%s):\n"
        "  --cd K | --pcd K         CD-k, or persistent CD with --batch chains [--cd 1]\n"
        "  --epochs N               total epochs [100]; 0 writes the initialised model\n"
        "  --batch N                rows per minibatch [100]\n"
        "  --lr X                   learning rate [0.01]\n"
        "  --lr-schedule S          constant | linear:FINAL (from --lr to FINAL over the\n"
        "                           epochs) | exponential:DECAY (lr * DECAY^epoch) [constant]\n"
        "  --momentum M             SGD momentum, 0 <= M < 1 [0.5]\n"
        "  --adam                   Adam instead of SGD; --adam-beta1 B [0.9],\n"
        "                           --adam-beta2 B [0.999], --adam-eps E [1e-8]\n"
        "  --l1 X, --l2 X           weight penalties l1*sum|W|, (l2/2)*sum W^2 [0, 0]\n"
        "  --init-sigma S           initial W ~ N(0, S^2) [0.01]; --init zero for W = 0\n"
        "  --no-bias                no visible and no hidden biases (held at 0);\n"
        "                           --no-visible-bias, --no-hidden-bias for one of them\n"
        "  --val F                  hold out this fraction of the rows for validation [0]\n"
        "  --no-shuffle             keep the row order (default: reshuffle every epoch)\n\n"
        "Monitoring (never changes the training):\n"
        "  --monitor-every N        monitors every N epochs, 0 never [1]\n"
        "  --monitor-samples N      rows used by the monitors [1000]\n"
        "  --exact-max M            exact ln Z and log-likelihood when min(nv, nh) <= M,\n"
        "                           M <= 24 [20]\n"
        "  --pll-units K|auto       pseudo-likelihood over all units (0) or K random units\n"
        "                           per row [auto: all if nv*nh <= 65536, else 16]\n"
        "  --ais-every N            AIS estimate of ln Z every N epochs, 0 never [0];\n"
        "                           --ais-runs M [100], --ais-steps K [1000]\n",
        per_layer ? "; each option takes one value for all layers\n"
                    "or a comma list with one per layer, e.g. --epochs 50,30,30"
                  : "");
}

/* ---- several processes ----------------------------------------------------------- */

void rbmcli_reduction_init(rbmcli_reduction *r)
{
    memset(r, 0, sizeof *r);
    r->block = 16;
}

int rbmcli_reduction_option(const char *cmd, int c, const char *arg, rbmcli_reduction *r)
{
    if (c == RBMCLI_O_REDUCTION_BLOCK)
        return cli_parse_long(cmd, "--reduction-block", arg, 1, 1L << 24, &r->block);
    if (c != RBMCLI_O_REDUCTION)
        return CLI_CONTINUE;
    if (strcmp(arg, "fast") && strcmp(arg, "deterministic"))
        return cli_usage_error(cmd, "--reduction '%s': expected fast or deterministic", arg);
    r->deterministic = !strcmp(arg, "deterministic");
    return CLI_OK;
}

/* ---- the option table of a training command ------------------------------------ */

static const struct option training_command_options[] = {
    {"reduction", required_argument, 0, RBMCLI_O_REDUCTION},
    {"reduction-block", required_argument, 0, RBMCLI_O_REDUCTION_BLOCK},
    {"resume", no_argument, 0, RBMCLI_O_RESUME},
    {"threads", required_argument, 0, CLI_OPT_THREADS},
    {"output", required_argument, 0, 'o'},
    {"quiet", no_argument, 0, 'q'},
    {"verbose", no_argument, 0, 'v'},
    {"help", no_argument, 0, 'h'},
};

void rbmcli_option_table(struct option *out, size_t cap, const struct option *own, size_t nown,
                         int train)
{
    size_t ntrain = train ? rbmcli_ntrain_options : 0;
    size_t nshared = sizeof training_command_options / sizeof training_command_options[0];
    if (nown + ntrain + nshared + 1 > cap)
        abort();
    memcpy(out, own, nown * sizeof *out);
    memcpy(out + nown, rbmcli_train_options, ntrain * sizeof *out);
    memcpy(out + nown + ntrain, training_command_options, sizeof training_command_options);
    memset(&out[nown + ntrain + nshared], 0, sizeof *out);
}

int rbmcli_shared_option(const char *cmd, int c, const char *arg, rbmcli_raw *raw,
                         rbmcli_reduction *r)
{
    if (raw && rbmcli_raw_store(raw, c, arg))
        return CLI_OK;
    return rbmcli_reduction_option(cmd, c, arg, r);
}

void rbmcli_reduction_help(FILE *f)
{
    fprintf(f,
        "Several processes (an MPI build run by mpirun/srun, docs/cluster.md):\n"
        "  --reduction fast|deterministic\n"
        "                           how the minibatch gradient is summed over the\n"
        "                           processes, each of which takes a part of every\n"
        "                           minibatch. fast [default]: one sum on rank 0, then a\n"
        "                           broadcast (MPI_Reduce + MPI_Bcast), equal to\n"
        "                           one process up to rounding (bit-identical on one).\n"
        "                           deterministic: blocks of --reduction-block rows are\n"
        "                           summed in a fixed order: bit-identical for any number\n"
        "                           of processes, also in a build without MPI\n"
        "  --reduction-block N      rows per block of the deterministic mode [16]\n");
}

const kd_data_split *rbmcli_reduction_split(rbmcli_reduction *r)
{
    memset(&r->split, 0, sizeof r->split);
    mpicli_rbm_split(&r->split);
    r->split.block = r->deterministic ? (size_t)r->block : 0;
    return r->split.size > 1 || r->split.block ? &r->split : NULL;
}

void rbmcli_reduction_apply(rbmcli_reduction *r, kd_rbm_train_options *topt, kd_rbm_record *rec)
{
    const kd_data_split *sp = rbmcli_reduction_split(r);
    if (sp)
        topt->split = sp;
    if (r->split.rank != 0) {
        topt->monitor_every = 0;
        rec->ais_every = 0;
    }
}

/* ---- data ---------------------------------------------------------------------- */

int rbmcli_check_temps(const char *cmd, const char *opt, const char *text)
{
    double *t;
    size_t n;
    if (!text || !*text)
        return CLI_OK;
    if (kd_parse_temperatures(text, &t, &n) != KD_OK)
        return cli_usage_error(cmd, "%s: %s", opt, kd_last_error());
    free(t);
    return CLI_OK;
}

static int same_temperature(double a, double b)
{
    return a == b || (isfinite(a) && isfinite(b) && fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b)));
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Distinct values of x[rows[k]] (or x[k] for rows == NULL), sorted, into a new array. */
static double *distinct(const double *x, const size_t *rows, size_t n, size_t *count)
{
    double *t = malloc((n ? n : 1) * sizeof *t);
    if (!t)
        return NULL;
    for (size_t k = 0; k < n; k++)
        t[k] = x[rows ? rows[k] : k];
    qsort(t, n, sizeof *t, compare_doubles);
    size_t u = 0;
    for (size_t k = 0; k < n; k++)
        if (u == 0 || t[k] != t[u - 1])
            t[u++] = t[k];
    *count = u;
    return t;
}

static void list_temperatures(char *buf, size_t size, const double *t, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used + 32 < size; i++) {
        if (i == 12 && n > 13) {
            snprintf(buf + used, size - used, ", ... (%zu in all)", n);
            return;
        }
        used += (size_t)snprintf(buf + used, size - used, "%s%g", i ? ", " : "", t[i]);
    }
}

/* Every value of `want` must be one of the dataset's temperatures. */
static int check_present(const char *cmd, const char *path, const char *opt, const double *want,
                         size_t nwant, const double *have, size_t nhave)
{
    for (size_t i = 0; i < nwant; i++) {
        size_t k = 0;
        while (k < nhave && !same_temperature(want[i], have[k]))
            k++;
        if (k == nhave) {
            char list[512];
            list_temperatures(list, sizeof list, have, nhave);
            return cli_fail(cmd, "%s: temperature %g of %s does not occur in the dataset (its "
                                 "temperatures: %s)",
                            path, want[i], opt, list);
        }
    }
    return CLI_OK;
}

static int matches(double T, const double *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (same_temperature(T, list[i]))
            return 1;
    return 0;
}

int rbmcli_data_load(const char *cmd, const char *path, const char *temps, const char *exclude,
                     rbmcli_data *out)
{
    memset(out, 0, sizeof *out);
    out->path = path;
    kd_status st = kd_dataset_read(path, &out->d);
    if (st != KD_OK)
        return cli_fail_status(cmd, st);
    const kd_dataset *d = out->d;
    double *want = NULL, *skip = NULL, *have = NULL;
    size_t nwant = 0, nskip = 0, nhave = 0;
    int rc = CLI_OK;
    if (temps && *temps && kd_parse_temperatures(temps, &want, &nwant) != KD_OK)
        rc = cli_fail(cmd, "--temps: %s", kd_last_error());
    if (rc == CLI_OK && exclude && *exclude &&
        kd_parse_temperatures(exclude, &skip, &nskip) != KD_OK)
        rc = cli_fail(cmd, "--exclude: %s", kd_last_error());
    if (rc == CLI_OK && !(have = distinct(d->temperature, NULL, d->n, &nhave)))
        rc = cli_fail(cmd, "out of memory");
    if (rc == CLI_OK)
        rc = check_present(cmd, path, "--temps", want, nwant, have, nhave);
    if (rc == CLI_OK)
        rc = check_present(cmd, path, "--exclude", skip, nskip, have, nhave);
    if (rc == CLI_OK && !(out->rows = malloc((d->n ? d->n : 1) * sizeof *out->rows)))
        rc = cli_fail(cmd, "out of memory");
    if (rc == CLI_OK) {
        for (size_t i = 0; i < d->n; i++) {
            double T = d->temperature[i];
            if ((nwant == 0 || matches(T, want, nwant)) && !matches(T, skip, nskip))
                out->rows[out->n++] = i;
        }
        if (out->n == 0)
            rc = cli_fail(cmd, "%s: no configurations left after --temps/--exclude", path);
    }
    if (rc == CLI_OK && !(out->temps = distinct(d->temperature, out->rows, out->n, &out->ntemps)))
        rc = cli_fail(cmd, "out of memory");
    free(want);
    free(skip);
    free(have);
    if (rc != CLI_OK)
        rbmcli_data_free(out);
    return rc;
}

void rbmcli_data_free(rbmcli_data *data)
{
    kd_dataset_free(data->d);
    free(data->rows);
    free(data->temps);
    memset(data, 0, sizeof *data);
}

kd_rbm_data rbmcli_data_view(const rbmcli_data *data)
{
    kd_rbm_data v = {data->d->spins, NULL, data->rows, data->n};
    return v;
}

static void describe_lattice(char *buf, size_t size, const kd_lattice *lat)
{
    snprintf(buf, size, "%s lattice L = %d (%zu spins)", kd_lattice_kind_name(lat->kind), lat->L,
             kd_lattice_size(lat));
}

int rbmcli_check_lattice(const char *cmd, const char *data_path, const kd_lattice *data_lat,
                         const char *model_path, const kd_lattice *model_lat)
{
    char a[128], b[128];
    describe_lattice(a, sizeof a, data_lat);
    describe_lattice(b, sizeof b, model_lat);
    if (data_lat->kind != model_lat->kind || data_lat->L != model_lat->L)
        return cli_fail(cmd, "%s: %s does not match the model %s, which was trained on a %s",
                        data_path, a, model_path, b);
    if (!cli_quiet && (data_lat->J != model_lat->J || data_lat->field != model_lat->field ||
                       data_lat->boundary != model_lat->boundary))
        fprintf(stderr,
                "kadanoff %s: warning: %s has J = %g, h = %g, %s boundaries; the model %s was "
                "trained on J = %g, h = %g, %s\n",
                cmd, data_path, data_lat->J, data_lat->field, kd_boundary_name(data_lat->boundary),
                model_path, model_lat->J, model_lat->field, kd_boundary_name(model_lat->boundary));
    return CLI_OK;
}

void rbmcli_source(kd_rbm_source *src, const rbmcli_data *data, const char *temps,
                   const char *exclude, const char *command)
{
    memset(src, 0, sizeof *src);
    src->lattice = data->d->lattice;
    snprintf(src->data, sizeof src->data, "%s", data->path);
    snprintf(src->temps, sizeof src->temps, "%s", temps ? temps : "");
    snprintf(src->exclude, sizeof src->exclude, "%s", exclude ? exclude : "");
    src->rows = data->n;
    src->ntemperatures = data->ntemps;
    src->temperatures = data->temps;
    snprintf(src->command, sizeof src->command, "%s", command);
}

/* ---- signals -------------------------------------------------------------------- */

static volatile sig_atomic_t caught = 0;

static void on_signal(int sig)
{
    if (caught) /* second signal: give up at once, writing nothing */
        _exit(128 + sig);
    caught = sig;
}

static struct sigaction saved_int, saved_term;
static int installed = 0;

void rbmcli_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    caught = 0;
    sigaction(SIGINT, &sa, installed ? NULL : &saved_int);
    sigaction(SIGTERM, &sa, installed ? NULL : &saved_term);
    installed = 1;
}

void rbmcli_restore_signals(void)
{
    if (!installed)
        return;
    sigaction(SIGINT, &saved_int, NULL);
    sigaction(SIGTERM, &saved_term, NULL);
    installed = 0;
}

int rbmcli_signal(void) { return (int)caught; }

/* ---- training loop --------------------------------------------------------------- */

const char *rbmcli_num(char *buf, size_t size, double x, int width, int precision)
{
    if (isnan(x))
        snprintf(buf, size, "%*s", width, "-");
    else
        snprintf(buf, size, "%*.*f", width, precision, x);
    return buf;
}

typedef struct {
    int valid, exact, ais;
} columns;

static void print_header(const columns *c)
{
    printf("%6s %9s %8s", "epoch", "lr", "recon");
    if (c->valid)
        printf(" %8s", "recon_v");
    printf(" %8s", "pll");
    if (c->valid)
        printf(" %8s", "pll_v");
    printf(" %10s", "<F>");
    if (c->valid)
        printf(" %8s", "F_gap");
    if (c->exact) {
        printf(" %10s %10s", "lnZ", "logL");
        if (c->valid)
            printf(" %10s", "logL_v");
    }
    if (c->ais)
        printf(" %10s %8s %10s", "lnZ_ais", "+-", "logL_ais");
    printf(" %7s\n", "s");
}

static void print_row(const columns *c, const kd_rbm_epoch_stats *s, const kd_rbm_ais_stats *a)
{
    char b[13][32];
    int k = 0;
    printf("%6llu %9.3g %s", (unsigned long long)s->epoch, s->lr,
           rbmcli_num(b[k++], 32, s->recon_error, 8, 4));
    if (c->valid)
        printf(" %s", rbmcli_num(b[k++], 32, s->recon_error_valid, 8, 4));
    printf(" %s", rbmcli_num(b[k++], 32, s->pll, 8, 4));
    if (c->valid)
        printf(" %s", rbmcli_num(b[k++], 32, s->pll_valid, 8, 4));
    printf(" %s", rbmcli_num(b[k++], 32, s->free_energy, 10, 3));
    if (c->valid)
        printf(" %s", rbmcli_num(b[k++], 32, s->free_energy_gap, 8, 3));
    if (c->exact) {
        printf(" %s", rbmcli_num(b[k++], 32, s->log_z, 10, 3));
        printf(" %s", rbmcli_num(b[k++], 32, s->loglik, 10, 3));
        if (c->valid)
            printf(" %s", rbmcli_num(b[k++], 32, s->loglik_valid, 10, 3));
    }
    if (c->ais) {
        double nan = NAN;
        printf(" %s", rbmcli_num(b[k++], 32, a ? a->log_z : nan, 10, 3));
        printf(" %s", rbmcli_num(b[k++], 32, a ? a->log_z_err : nan, 8, 3));
        printf(" %s", rbmcli_num(b[k++], 32, a ? a->loglik : nan, 10, 3));
    }
    printf(" %s\n", rbmcli_num(b[k], 32, s->seconds, 7, 2));
    fflush(stdout);
}

static uint64_t progress_epoch, progress_total;

int rbmcli_epoch_progress(double fraction, const char *label, void *user)
{
    (void)label;
    char text[64];
    if (caught)
        return 0; /* finish the epoch; the loop stops after it */
    snprintf(text, sizeof text, "epoch %llu/%llu", (unsigned long long)progress_epoch,
             (unsigned long long)progress_total);
    cli_progress(fraction, text, user);
    return 0; /* never cancel: an interrupted epoch is completed, then saved */
}

static int update_record(rbmcli_run *run)
{
    kd_status st = kd_rbm_record_set_training(run->record, run->trainer);
    return st == KD_OK ? CLI_OK : cli_fail_status(run->cmd, st);
}

/* AIS estimate after an epoch (monitoring only). */
static int run_ais(rbmcli_run *run, const kd_rbm_epoch_stats *s, kd_rbm_ais_stats *out)
{
    const kd_rbm_record *rec = run->record;
    kd_ais_options a;
    kd_ais_result res;
    kd_ais_options_default(&a);
    a.runs = rec->ais_runs;
    a.steps = rec->ais_steps;
    a.seed = kd_rbm_trainer_options(run->trainer)->seed;
    kd_status st = kd_rbm_ais(rec->rbm, &a, &res);
    if (st != KD_OK)
        return cli_fail_status(run->cmd, st);
    out->epoch = s->epoch;
    out->log_z = res.log_z;
    out->log_z_err = res.log_z_err;
    out->loglik = -s->free_energy - res.log_z;
    out->loglik_valid = -s->free_energy_valid - res.log_z;
    st = kd_rbm_record_add_ais(run->record, out);
    return st == KD_OK ? CLI_OK : cli_fail_status(run->cmd, st);
}

int rbmcli_train(rbmcli_run *run)
{
    kd_rbm_trainer *t = run->trainer;
    const kd_rbm_train_options *o = kd_rbm_trainer_options(t);
    const kd_rbm *rbm = run->record->rbm;
    int m = kd_rbm_nv(rbm) < kd_rbm_nh(rbm) ? kd_rbm_nv(rbm) : kd_rbm_nh(rbm);
    columns c = {o->valid_fraction > 0, o->monitor_every > 0 && m <= o->exact_max_units,
                 run->record->ais_every > 0};
    progress_total = run->total;
    if (!cli_quiet) {
        print_header(&c);
        if (run->baseline) {
            kd_rbm_epoch_stats s;
            kd_status st = kd_rbm_trainer_monitor(t, &s);
            if (st != KD_OK) {
                cli_fail_status(run->cmd, st);
                return RUN_FAILED;
            }
            s.seconds = NAN;
            print_row(&c, &s, NULL);
        }
    }
    while (kd_rbm_trainer_epochs_done(t) < run->total) {
        kd_rbm_epoch_stats s;
        progress_epoch = kd_rbm_trainer_epochs_done(t) + 1;
        kd_status st = kd_rbm_trainer_epoch(t, &s);
        cli_progress_end();
        if (st != KD_OK) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", kd_last_error());
            if (update_record(run) != CLI_OK)
                return RUN_FAILED;
            if (st == KD_ERR_NUMERIC) {
                cli_fail(run->cmd, "%s%s%s; try a lower learning rate (--lr)",
                         run->label ? run->label : "", run->label ? ": " : "", msg);
                return RUN_DIVERGED;
            }
            cli_fail(run->cmd, "%s", *msg ? msg : kd_strerror(st));
            return RUN_FAILED;
        }
        kd_rbm_ais_stats a, *ap = NULL;
        if (run->record->ais_every > 0 && s.epoch % (uint64_t)run->record->ais_every == 0) {
            if (run_ais(run, &s, &a) != CLI_OK)
                return RUN_FAILED;
            ap = &a;
        }
        if (!cli_quiet)
            print_row(&c, &s, ap);
        if (mpicli_any(caught)) { /* over MPI: all processes stop after the same epoch */
            if (!caught) /* the signal reached another process */
                caught = SIGTERM;
            if (update_record(run) != CLI_OK)
                return RUN_FAILED;
            return RUN_INTERRUPTED;
        }
        if (run->checkpoint_every && s.epoch % run->checkpoint_every == 0 && s.epoch < run->total &&
            run->checkpoint) {
            if (update_record(run) != CLI_OK || run->checkpoint(run->user) != CLI_OK)
                return RUN_FAILED;
        }
    }
    return update_record(run) == CLI_OK ? RUN_DONE : RUN_FAILED;
}

void rbmcli_append_command(char *buf, size_t size, const char *now)
{
    size_t used = strlen(buf);
    const char *sep = used ? " ; resumed: " : "";
    for (const char *p = sep; *p && used + 1 < size; p++)
        buf[used++] = *p;
    for (const char *p = now; *p && used + 1 < size; p++)
        buf[used++] = *p;
    buf[used] = '\0';
}

int rbmcli_same_training(const kd_rbm_train_options *a, const kd_rbm_train_options *b)
{
    return a->method == b->method && a->k == b->k && a->batch == b->batch &&
           a->epochs == b->epochs && a->optimizer == b->optimizer && a->lr == b->lr &&
           a->schedule == b->schedule && a->lr_final == b->lr_final &&
           a->lr_decay == b->lr_decay && a->momentum == b->momentum &&
           a->adam_beta1 == b->adam_beta1 && a->adam_beta2 == b->adam_beta2 &&
           a->adam_eps == b->adam_eps && a->l1 == b->l1 && a->l2 == b->l2 &&
           a->shuffle == b->shuffle && a->valid_fraction == b->valid_fraction &&
           a->seed == b->seed && a->monitor_every == b->monitor_every &&
           a->monitor_samples == b->monitor_samples && a->pll_units == b->pll_units &&
           a->exact_max_units == b->exact_max_units;
}
