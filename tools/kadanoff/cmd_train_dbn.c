/* kadanoff train-dbn — greedy layer-wise training of a deep belief network. */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_cli.h"
#include "rbm_cli.h"

#define MAX_LAYERS 64

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: kadanoff train-dbn DATA.h5 --layers H1,H2,... [options] -o DBN.h5\n\n"
        "Train a deep belief network greedily, layer by layer: RBM 0 on the spin\n"
        "configurations of DATA (visible units = lattice sites), then RBM l on the up pass\n"
        "of the same configurations through the trained RBMs 0..l-1, and write all of\n"
        "them as a kadanoff-dbn model file (layout: docs/formats.md). One table per layer\n"
        "as in train-rbm.\n\n"
        "Network:\n"
        "  --layers LIST            hidden units of each RBM, e.g. 400,100,25 (required)\n"
        "  --units LIST             unit type of every level: one of spin | binary for all,\n"
        "                           or one per level, data first (depth + 1 values) [spin]\n"
        "  --propagate MODE         training data of RBM l >= 1: mean = the conditional\n"
        "                           means E[h|v] of the level below (probabilities for\n"
        "                           binary units, tanh for spin units), sample = one\n"
        "                           sample h ~ p(h|v) per configuration [mean]\n\n");
    rbmcli_train_help(f, 1);
    fprintf(f,
        "\nData:\n"
        "  --temps LIST             train on these temperatures of DATA only\n"
        "  --exclude LIST           leave these temperatures out\n\n");
    rbmcli_reduction_help(f);
    fprintf(f,
        "\nCommon:\n"
        "  -o, --output FILE        model file (required; written atomically)\n"
        "  --seed N                 random seed [1]; RBM 0 uses N itself (so a one-layer\n"
        "                           DBN equals train-rbm with the same options), RBM l >= 1\n"
        "                           a seed mixed from N and l (recorded in its group)\n"
        "  --threads N              OpenMP threads [all cores]; results do not depend on it\n"
        "  -q, --quiet              no tables, no progress, no warnings\n"
        "  -v, --verbose            more messages\n"
        "  -h, --help               this help\n\n"
        "  --resume                 continue the interrupted training in -o DBN.h5: give\n"
        "                           the same DATA and options; finished layers are kept,\n"
        "                           the last one continues from its saved state (epoch,\n"
        "                           optimizer, chains), the rest are trained as planned;\n"
        "                           the result is bit-identical to an uninterrupted run;\n"
        "                           the number of MPI processes may change\n\n"
        "SIGINT/SIGTERM finish the current epoch and write the layers trained so far (the\n"
        "last one partially, as recorded in its epochs_done) atomically to DBN.h5, exit\n"
        "130/143; continue with --resume. NaN/Inf: exit 1 naming layer and epoch, writing\n"
        "likewise the layers up to the last good state (resuming would diverge again:\n"
        "rerun with a lower --lr).\n\n"
        "Example (Mehta & Schwab):\n"
        "  kadanoff train-dbn data.h5 --layers 400,100,25 --units binary --epochs 50 \\\n"
        "      --lr 0.1 --l1 0.008 --batch 100 -o dbn.h5\n");
}

/* splitmix64 finaliser: the seed of RBM l >= 1. */
static uint64_t layer_seed(uint64_t seed, int l)
{
    if (l == 0)
        return seed;
    uint64_t z = seed + (uint64_t)l * UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Parse a comma list of integers in [lo, hi]; returns the count or -1 (message printed). */
static int parse_int_list(const char *cmd, const char *opt, const char *text, long lo, long hi,
                          long *out, int max)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", text) >= (int)sizeof buf) {
        cli_usage_error(cmd, "%s: list too long", opt);
        return -1;
    }
    int n = 0;
    for (char *p = buf;;) {
        char *c = strchr(p, ',');
        if (c)
            *c = '\0';
        if (n == max) {
            cli_usage_error(cmd, "%s: more than %d values", opt, max);
            return -1;
        }
        if (cli_parse_long(cmd, opt, p, lo, hi, &out[n++]) != CLI_OK)
            return -1;
        if (!c)
            break;
        p = c + 1;
    }
    return n;
}

typedef struct {
    const char *output;
    kd_dbn_file file;
} dbn_ctx;

/* Rank 0 writes (over MPI every process holds the same layers); all agree. */
static int write_dbn(void *user)
{
    dbn_ctx *c = user;
    kd_status st = mpicli_rank() == 0 ? kd_dbn_file_write(c->output, &c->file) : KD_OK;
    return mpicli_agree_status("train-dbn", st);
}

/* A --resume must continue the same plan: the file's layers must be the ones
 * these options would train. CLI_OK or CLI_FAILURE (printed). */
static int check_resume(const char *cmd, const char *output, const kd_dbn_file *old,
                        const rbmcli_data *data, kd_rbm_mode propagate, uint64_t seed, int depth,
                        const long *hidden, const kd_units *units, const rbmcli_layer *layer)
{
    if (old->propagate != propagate || old->seed != seed)
        return cli_fail(cmd, "%s: --propagate/--seed differ from the interrupted run's (%s, %llu)",
                        output, old->propagate == KD_RBM_MEAN ? "mean" : "sample",
                        (unsigned long long)old->seed);
    if (old->depth > depth)
        return cli_fail(cmd, "%s has %d layers, --layers gives %d", output, old->depth, depth);
    if (old->source.rows != data->n)
        return cli_fail(cmd, "%s was trained on %llu configurations, this data selection has %zu",
                        output, (unsigned long long)old->source.rows, data->n);
    for (int l = 0; l < old->depth; l++) {
        const kd_rbm_record *r = old->layers[l];
        kd_rbm_train_options want = layer[l].train;
        want.seed = layer_seed(seed, l);
        if (!r->trained || kd_rbm_nh(r->rbm) != hidden[l] ||
            kd_rbm_visible_units(r->rbm) != units[l] ||
            kd_rbm_hidden_units(r->rbm) != units[l + 1] ||
            !rbmcli_same_training(&r->train, &want))
            return cli_fail(cmd,
                            "%s: layer %d was trained with other options than given now "
                            "(resume with the options of the interrupted run)",
                            output, l);
        if (l + 1 < old->depth && r->epochs_done != r->train.epochs)
            return cli_fail(cmd, "%s: layer %d stopped after %llu of %llu epochs but layer %d "
                            "exists (a run that stopped on NaN/Inf cannot be resumed)",
                            output, l, (unsigned long long)r->epochs_done,
                            (unsigned long long)r->train.epochs, l + 1);
    }
    return CLI_OK;
}

int cmd_train_dbn(int argc, char **argv)
{
    const char *cmd = "train-dbn";
    enum { O_LAYERS = 1, O_UNITS, O_PROPAGATE, O_TEMPS, O_EXCLUDE, O_SEED };
    static const struct option own[] = {
        {"layers", required_argument, 0, O_LAYERS},
        {"units", required_argument, 0, O_UNITS},
        {"propagate", required_argument, 0, O_PROPAGATE},
        {"temps", required_argument, 0, O_TEMPS},
        {"exclude", required_argument, 0, O_EXCLUDE},
        {"seed", required_argument, 0, O_SEED},
    };
    struct option opts[sizeof own / sizeof own[0] + RBMCLI_MAX_SHARED_OPTIONS];
    rbmcli_option_table(opts, sizeof opts / sizeof opts[0], own, sizeof own / sizeof own[0], 1);
    rbmcli_reduction reduction;
    rbmcli_reduction_init(&reduction);

    rbmcli_raw raw;
    memset(&raw, 0, sizeof raw);
    const char *output = NULL, *temps = NULL, *exclude = NULL, *layers_text = NULL;
    const char *units_text = NULL;
    kd_rbm_mode propagate = KD_RBM_MEAN;
    uint64_t seed = 1;
    int c, rc = CLI_OK, resume = 0;
    char cmdline[4096]; /* as typed: getopt_long permutes argv */
    cli_join_args(argc + 1, argv - 1, cmdline, sizeof cmdline);
    optind = 1;
    while ((c = cli_next_option(cmd, argc, argv, ":o:qvh", opts, usage, &rc)) > 0) {
        if ((rc = rbmcli_shared_option(cmd, c, optarg, &raw, &reduction)) != CLI_CONTINUE)
            continue; /* handled, or refused: cli_next_option then stops with rc */
        rc = CLI_OK;
        switch (c) {
        case O_LAYERS:
            layers_text = optarg;
            break;
        case O_UNITS:
            units_text = optarg;
            break;
        case O_PROPAGATE:
            if (kd_rbm_mode_parse(optarg, &propagate) != KD_OK)
                return cli_usage_error(cmd, "--propagate: %s", kd_last_error());
            break;
        case O_TEMPS:
            temps = optarg;
            break;
        case O_EXCLUDE:
            exclude = optarg;
            break;
        case O_SEED:
            rc = cli_parse_u64(cmd, "--seed", optarg, &seed);
            break;
        case RBMCLI_O_RESUME:
            resume = 1;
            break;
        case 'o':
            output = optarg;
            break;
        }
    }
    if (c == CLI_OPTIONS_STOP ||
        (rc = cli_operands(cmd, argc, argv, 1, 1, "no DATA.h5 given")) != CLI_OK)
        return rc;
    const char *data_path = argv[optind];
    if (!output)
        return cli_usage_error(cmd, "-o/--output is required");
    if (!layers_text)
        return cli_usage_error(cmd, "--layers is required (e.g. --layers 400,100,25)");
    long hidden[MAX_LAYERS];
    int depth = parse_int_list(cmd, "--layers", layers_text, 1, 1L << 30, hidden, MAX_LAYERS);
    if (depth < 0)
        return CLI_USAGE;
    kd_units units[MAX_LAYERS + 1];
    for (int l = 0; l <= depth; l++)
        units[l] = KD_UNITS_SPIN;
    if (units_text) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", units_text);
        int n = 0;
        for (char *p = buf; p; n++) {
            char *comma = strchr(p, ',');
            if (comma)
                *comma = '\0';
            if (n > depth)
                return cli_usage_error(cmd, "--units has more than %d values (depth + 1)",
                                       depth + 1);
            if (kd_units_parse(p, &units[n]) != KD_OK)
                return cli_usage_error(cmd, "--units: %s", kd_last_error());
            p = comma ? comma + 1 : NULL;
        }
        if (n == 1)
            for (int l = 1; l <= depth; l++)
                units[l] = units[0];
        else if (n != depth + 1)
            return cli_usage_error(cmd,
                                   "--units has %d values, expected 1 (every level) or %d (one "
                                   "per level, data first)",
                                   n, depth + 1);
    }
    rbmcli_layer layer[MAX_LAYERS];
    for (int l = 0; l < depth; l++)
        rbmcli_layer_defaults(&layer[l]);
    if ((rc = rbmcli_raw_apply(cmd, &raw, layer, depth)) != CLI_OK)
        return rc;
    if ((rc = rbmcli_check_temps(cmd, "--temps", temps)) != CLI_OK ||
        (rc = rbmcli_check_temps(cmd, "--exclude", exclude)) != CLI_OK)
        return rc;
    rc = mpicli_rank() == 0 ? cli_check_writable(cmd, output) : CLI_OK;
    if (mpicli_agree(cmd, rc) != CLI_OK)
        return CLI_FAILURE;

    /* --resume: the interrupted run's file, read by every process (over MPI the
     * same file, as train-rbm --resume does), which all check it the same way. */
    kd_dbn_file *old = NULL;
    if (resume) {
        kd_status rst = kd_dbn_file_read(output, &old);
        if (mpicli_agree_status(cmd, rst) != CLI_OK) {
            kd_dbn_file_free(old);
            return CLI_FAILURE;
        }
    }
    rbmcli_data data;
    memset(&data, 0, sizeof data);
    rc = rbmcli_data_load(cmd, data_path, temps, exclude, &data);
    if (rc == CLI_OK && old &&
        (check_resume(cmd, output, old, &data, propagate, seed, depth, hidden, units, layer) !=
             CLI_OK ||
         rbmcli_check_lattice(cmd, data_path, &data.d->lattice, output, &old->source.lattice) !=
             CLI_OK))
        rc = CLI_FAILURE;
    if ((rc = mpicli_agree(cmd, rc)) != CLI_OK) {
        kd_dbn_file_free(old);
        rbmcli_data_free(&data);
        return rc;
    }
    const size_t N = kd_lattice_size(&data.d->lattice);
    if (N > (size_t)1 << 30) {
        kd_dbn_file_free(old);
        rbmcli_data_free(&data);
        return cli_fail(cmd, "%s: %zu spins per configuration, too many for an RBM", data_path, N);
    }
    dbn_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.output = output;
    rbmcli_source(&ctx.file.source, &data, temps, exclude, old ? old->source.command : "");
    rbmcli_append_command(ctx.file.source.command, sizeof ctx.file.source.command, cmdline);
    ctx.file.propagate = propagate;
    ctx.file.seed = seed;
    kd_rbm_record *records[MAX_LAYERS] = {0};
    ctx.file.layers = records;
    ctx.file.depth = 0;

    kd_dbn *net = NULL; /* copies of the finished layers, for the up pass */
    float *values = NULL; /* training data of the current layer (l >= 1) */
    kd_rbm_trainer *t = NULL;
    kd_status st = kd_dbn_new(&net);
    rc = st == KD_OK ? CLI_OK : cli_fail_status(cmd, st);
    rbmcli_install_signals();
    int result = RUN_DONE;
    for (int l = 0; l < depth && rc == CLI_OK && result == RUN_DONE; l++) {
        int nv = l == 0 ? (int)N : (int)hidden[l - 1];
        kd_rbm *rbm = NULL;
        uint64_t ls = layer_seed(seed, l);
        const int saved = old && l < old->depth; /* --resume: layer l is in the file */
        if (saved) {
            records[l] = old->layers[l];
            old->layers[l] = NULL; /* now owned by records[] */
            rbm = records[l]->rbm;
        } else {
            st = kd_rbm_new(&rbm, nv, (int)hidden[l], units[l], units[l + 1], layer[l].flags);
            if (st == KD_OK)
                st = kd_rbm_init_gaussian(rbm, layer[l].init_sigma, ls);
            if (st == KD_OK && (st = kd_rbm_record_new(&records[l], rbm)) != KD_OK)
                kd_rbm_free(rbm);
            if (st != KD_OK) {
                rc = cli_fail_status(cmd, st);
                break;
            }
        }
        kd_rbm_record *rec = records[l];
        rec->init = layer[l].init;
        rec->init_sigma = layer[l].init_sigma;
        rec->ais_every = layer[l].ais_every;
        rec->ais_runs = layer[l].ais_runs;
        rec->ais_steps = layer[l].ais_steps;

        kd_rbm_data view = rbmcli_data_view(&data);
        if (l > 0) {
            /* the data of RBM l: the selected configurations passed up to level l */
            free(values);
            values = malloc(data.n * (size_t)nv * sizeof *values);
            if (!values) {
                rc = cli_fail(cmd, "out of memory for %zu rows of %d units", data.n, nv);
                break;
            }
            st = kd_dbn_up(net, &view, l, propagate, seed, KD_DBN_PROPAGATE_STREAM, values);
            if (st != KD_OK) {
                rc = cli_fail_status(cmd, st);
                break;
            }
            view.spins = NULL;
            view.values = values;
            view.rows = NULL;
        }
        kd_rbm_train_options topt = layer[l].train;
        topt.seed = ls;
        topt.progress = rbmcli_epoch_progress;
        rbmcli_reduction_apply(&reduction, &topt, rec); /* several processes */
        st = kd_rbm_trainer_new(&t, rbm, &topt, &view, NULL);
        if (st == KD_OK && saved) {
            kd_rbm_trainer_state state;
            kd_rbm_record_state(rec, &state);
            st = kd_rbm_trainer_set_state(t, &state);
        }
        if (st != KD_OK) {
            rc = cli_fail_status(cmd, st);
            break;
        }
        ctx.file.depth = l + 1;
        char label[32];
        snprintf(label, sizeof label, "layer %d", l);
        if (!cli_quiet)
            printf("%s# layer %d: RBM %d-%d (%s/%s) on %zu %s; %s-%d, batch %zu, lr %g%s, %llu "
                   "epochs, seed %llu\n",
                   l ? "\n" : "", l, nv, (int)hidden[l], kd_units_name(units[l]),
                   kd_units_name(units[l + 1]), data.n,
                   l == 0 ? "configurations"
                          : (propagate == KD_RBM_MEAN ? "up-pass means" : "up-pass samples"),
                   topt.method == KD_RBM_PCD ? "PCD" : "CD", topt.k, topt.batch, topt.lr,
                   topt.optimizer == KD_RBM_ADAM ? " (Adam)" : "",
                   (unsigned long long)topt.epochs, (unsigned long long)ls);
        rbmcli_run run = {cmd, label, t, rec, topt.epochs, 0, !saved, NULL, NULL};
        result = kd_rbm_trainer_epochs_done(t) < topt.epochs ? rbmcli_train(&run) : RUN_DONE;
        uint64_t done = kd_rbm_trainer_epochs_done(t);
        kd_rbm_trainer_free(t);
        t = NULL;
        if (result == RUN_FAILED) {
            rc = CLI_FAILURE;
            break;
        }
        if (result != RUN_DONE) {
            if (done == 0) /* nothing of this layer to keep */
                ctx.file.depth = l;
            break;
        }
        kd_rbm *copy;
        st = kd_rbm_clone(&copy, rbm);
        if (st == KD_OK && (st = kd_dbn_push(net, copy)) != KD_OK)
            kd_rbm_free(copy);
        if (st != KD_OK)
            rc = cli_fail_status(cmd, st);
    }
    free(values);
    rbmcli_restore_signals();
    if (rc == CLI_OK) {
        if (ctx.file.depth > 0)
            rc = write_dbn(&ctx);
        int sig = rbmcli_signal();
        if (result == RUN_DONE && rc == CLI_OK && !cli_quiet) {
            printf("wrote %s: DBN %zu", output, N);
            for (int l = 0; l < depth; l++)
                printf("-%ld", hidden[l]);
            printf(" on %zu configurations of %s\n", data.n, data_path);
        } else if (result == RUN_INTERRUPTED && rc == CLI_OK) {
            fprintf(stderr,
                    "kadanoff %s: interrupted by %s; wrote the %d layer(s) trained so far to %s "
                    "(the last one partially). Continue with the same command and --resume.\n",
                    cmd, sig == SIGTERM ? "SIGTERM" : "SIGINT", ctx.file.depth, output);
            rc = 128 + sig;
        } else if (result == RUN_DIVERGED) {
            if (ctx.file.depth > 0 && rc == CLI_OK)
                fprintf(stderr, "kadanoff %s: the %d layer(s) up to the last good state are saved "
                                "in %s\n",
                        cmd, ctx.file.depth, output);
            else if (ctx.file.depth == 0)
                fprintf(stderr, "kadanoff %s: nothing was trained; %s was not written\n", cmd,
                        output);
            rc = CLI_FAILURE;
        }
    }
    kd_dbn_free(net);
    kd_dbn_file_free(old);
    for (int l = 0; l < depth; l++)
        kd_rbm_record_free(records[l]);
    rbmcli_data_free(&data);
    return rc;
}
