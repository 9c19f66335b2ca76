/* kadanoff train-thermometer — the neural thermometer of Iso, Shiba & Yokoo (2018). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kadanoff/nn.h"
#include "mpi_cli.h"
#include "rbm_cli.h" /* --reduction: the data-parallel split shared with train-rbm */

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: kadanoff train-thermometer DATA.h5 [options] -o THERMO.h5\n\n"
        "Trains the neural thermometer: a dense network whose softmax classes are the\n"
        "temperatures of a kadanoff dataset (T = inf may be a class), by minibatch SGD\n"
        "with momentum or Adam on the cross-entropy, with early stopping on a validation\n"
        "split. Each temperature's configurations are shuffled and split into test,\n"
        "validation and training parts; the test part gives the calibration table\n"
        "printed at the end. The model file (layout: docs/formats.md) keeps every\n"
        "hyperparameter, the seed, the training history and the calibration table.\n\n"
        "Network:\n"
        "  --hidden N[,N...]     widths of the hidden layers, at most %d (default 64;\n"
        "                        'none': softmax regression on the spins)\n"
        "  --activation A        tanh | relu | sigmoid (default tanh)\n\n"
        "Training:\n"
        "  --epochs N            maximum number of epochs (default 100)\n"
        "  --batch N             minibatch size (default 100)\n"
        "  --lr X                learning rate (default 0.05, or 0.001 with --adam)\n"
        "  --momentum X          momentum of SGD, 0 <= X < 1 (default 0.9)\n"
        "  --adam                Adam (beta1 0.9, beta2 0.999) instead of SGD with momentum\n"
        "  --l2 X                L2 penalty (lambda/2)|W|^2 on the weights (default 1e-4)\n"
        "  --val F               share of each temperature for early stopping (default 0.2)\n"
        "  --test F              share of each temperature held out for calibration\n"
        "                        (default 0.2; 0: calibrate on the validation part)\n"
        "  --patience N          stop after N epochs without a lower validation loss and\n"
        "                        keep the best epoch's weights (default 10)\n"
        "  --augment-flip        flip each training configuration globally with\n"
        "                        probability 1/2, drawn afresh every epoch (Z2 symmetry)\n"
        "  --augment-shift       translate each training configuration by a random lattice\n"
        "                        vector, drawn afresh every epoch (periodic lattices only)\n"
        "  --temps LIST          use only these temperatures of the dataset (a:b:step,\n"
        "                        comma list, 'inf'; default all)\n\n"
        "Output:\n"
        "  -o, --output FILE     model file (required; written atomically)\n"
        "  --confusion           also print the confusion matrix (rows: true T, columns:\n"
        "                        argmax class)\n\n"
        "Common:\n"
        "  --seed N              random seed (default 1): initial weights, split, shuffles\n"
        "                        and augmentations; same seed, same model\n"
        "  --threads N           OpenMP threads (default: all cores); results do not depend\n"
        "                        on it\n"
        "  --resume              continue an interrupted run from THERMO.h5.ckpt (give the\n"
        "                        options and data of that run)\n"
        "  -q, --quiet           no table, no progress, no warnings\n"
        "  -v, --verbose         also print the loss of every epoch\n"
        "  -h, --help            this help\n\n",
        KD_NN_MAX_HIDDEN);
    rbmcli_reduction_help(f);
    fprintf(f,
        "Each process takes a part of every minibatch; the L2 term is added once. The\n"
        "training loss of the history is summed in float over the processes' parts (and\n"
        "the blocks in deterministic mode). Rank 0 writes the model (and, on\n"
        "SIGINT/SIGTERM, which stops every process after the same epoch, the checkpoint);\n"
        "--resume takes any number of processes.\n\n"
        "The calibration table reads each held-out temperature's set as a whole:\n"
        "  T_mean  the paper's readout: mean temperature under the class probabilities\n"
        "          averaged over the set, over the finite classes (the weight of a T = inf\n"
        "          class is shown as p_inf); pulled toward the middle of the class range\n"
        "  T_peak  the class of the largest averaged probability\n"
        "  T_mode  the class most often the most probable one of a configuration\n"
        "  T_ml    the class under which the whole set is most likely (sum of log p)\n"
        "accuracy is the fraction of configurations whose most probable class is the true\n"
        "one, |dT| argmax the mean distance of that class from the true T.\n\n"
        "SIGINT/SIGTERM stop after the current epoch: the model so far with the state of\n"
        "the run (weights, optimizer moments, best weights, patience counter, step count)\n"
        "is written atomically to THERMO.h5.ckpt, THERMO.h5 is left as it was, and the\n"
        "exit status is 130/143; rerun the same command with --resume to continue (the\n"
        "shuffles and augmentations are keyed by the epoch, so the model is the same\n"
        "bits). THERMO.h5.ckpt is removed once THERMO.h5 is written.\n"
        "NaN/Inf in training: exit 1 naming the epoch and batch, nothing written; lower\n"
        "--lr.\n\n"
        "Example (the setting that learned best on 10 x 10 data in kadanoff's tests; the\n"
        "translations keep the network from memorising the training set):\n"
        "  kadanoff train-thermometer data.h5 --hidden 64 --activation relu --adam --lr 0.003 \\\n"
        "      --augment-flip --augment-shift -o thermo.h5\n");
}

/* What a checkpoint must match besides the hyperparameters stored in it (the
 * library checks those, the classes and the split): the data, by path and by
 * a hash of its configurations and temperatures, and the --temps selection. */
static void data_fingerprint(const char *input, const kd_dataset *d, const char *temps,
                             char *buf, size_t size)
{
    uint64_t h = cli_hash(CLI_HASH_INIT, d->spins, d->n * kd_lattice_size(&d->lattice));
    h = cli_hash(h, d->temperature, d->n * sizeof(double));
    snprintf(buf, size, "kadanoff train-thermometer checkpoint v1: data=%s data_hash=%016llx "
             "temps=%s", input, (unsigned long long)h, temps ? temps : "all");
}

/* Save the interrupted thermometer th (may be NULL) to ckpath; say how to continue. */
static int save_checkpoint(const char *cmd, kd_thermometer *th, const char *input,
                           const char *fingerprint, const char *ckpath, int had_checkpoint)
{
    const char *sig = cli_interrupt_name();
    int code = cli_interrupt_status();
    kd_thermometer_info in;
    if (th)
        kd_thermometer_describe(th, &in);
    if (!th || !in.interrupted)
        return cli_interrupt_nothing_saved(cmd, "an epoch", had_checkpoint);
    kd_thermometer_set_provenance(th, input, fingerprint);
    kd_status st = kd_thermometer_write(ckpath, th);
    if (st != KD_OK) {
        cli_fail_status(cmd, st);
        return code;
    }
    fprintf(stderr, "kadanoff %s: interrupted by %s; %d of at most %d epochs are done and saved "
                    "in %s.\nContinue with the same command and --resume.\n",
            cmd, sig, in.epochs_done, in.params.epochs, ckpath);
    return code;
}

/* "64,32" → widths; "none" or "0" → no hidden layer. */
static int parse_hidden(const char *cmd, const char *arg, kd_thermometer_params *p)
{
    if (!strcmp(arg, "none") || !strcmp(arg, "0")) {
        p->nhidden = 0;
        return CLI_OK;
    }
    int n = 0;
    const char *s = arg;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || (*end && *end != ','))
            return cli_usage_error(cmd, "--hidden expects widths like 64 or 128,64, got '%s'", arg);
        if (v < 1 || v > KD_NN_MAX_WIDTH)
            return cli_usage_error(cmd, "--hidden: width %ld out of range, expected 1..%d", v,
                                   KD_NN_MAX_WIDTH);
        if (n == KD_NN_MAX_HIDDEN)
            return cli_usage_error(cmd, "--hidden: at most %d hidden layers", KD_NN_MAX_HIDDEN);
        p->hidden[n++] = (int)v;
        s = *end ? end + 1 : end;
        if (*end && !*s)
            return cli_usage_error(cmd, "--hidden expects widths like 64 or 128,64, got '%s'", arg);
    }
    if (n == 0)
        return cli_usage_error(cmd, "--hidden expects widths like 64 or 128,64, got '%s'", arg);
    p->nhidden = n;
    return CLI_OK;
}

static void fmt_value(char *buf, size_t size, const char *fmt, double v)
{
    if (isnan(v))
        snprintf(buf, size, "%s", "-");
    else
        snprintf(buf, size, fmt, v);
}

static void print_calibration(const kd_thermometer_info *in, int confusion)
{
    const char *set = in->calibration_set;
    size_t total = 0;
    for (int c = 0; c < in->nclasses; c++)
        total += in->calibration[c].n;
    printf("# calibration on %zu held-out %s configurations\n", total, set);
    printf("%8s %6s %18s %7s %7s %7s %7s %9s %11s\n", "T", "n", "T_mean +- err", "p_inf",
           "T_peak", "T_mode", "T_ml", "accuracy", "|dT| argmax");
    double sum = 0.0, sum_ml = 0.0;
    int cnt = 0, cnt_ml = 0;
    for (int c = 0; c < in->nclasses; c++) {
        const kd_calibration_row *r = &in->calibration[c];
        char tm[32], pi[16], pk[16], mo[16], ml[16], ac[16], ma[16];
        if (r->n == 0) {
            printf("%8.4g %6zu %18s\n", r->T, r->n, "(no held-out data)");
            continue;
        }
        snprintf(tm, sizeof tm, "%8.4f +- %6.4f", r->T_mean, r->T_mean_err);
        if (isnan(r->T_mean))
            snprintf(tm, sizeof tm, "%s", "-");
        fmt_value(pi, sizeof pi, "%7.4f", r->p_inf);
        fmt_value(pk, sizeof pk, "%7.4g", r->T_peak);
        fmt_value(mo, sizeof mo, "%7.4g", r->T_mode);
        fmt_value(ml, sizeof ml, "%7.4g", r->T_ml);
        fmt_value(ac, sizeof ac, "%9.4f", r->accuracy);
        fmt_value(ma, sizeof ma, "%11.4f", r->mae_argmax);
        printf("%8.4g %6zu %18s %7s %7s %7s %7s %9s %11s\n", r->T, r->n, tm, pi, pk, mo, ml, ac,
               ma);
        if (isfinite(r->T) && isfinite(r->T_mean)) {
            sum += fabs(r->T_mean - r->T);
            cnt++;
        }
        if (isfinite(r->T) && isfinite(r->T_ml)) {
            sum_ml += fabs(r->T_ml - r->T);
            cnt_ml++;
        }
    }
    if (cnt)
        printf("mean |T_mean - T| over %d finite temperatures: %.4f\n", cnt, sum / cnt);
    if (cnt_ml)
        printf("mean |T_ml - T| over %d finite temperatures: %.4f\n", cnt_ml, sum_ml / cnt_ml);
    if (!confusion)
        return;
    printf("# confusion matrix (rows: true T, columns: argmax class)\n%8s", "T");
    for (int c = 0; c < in->nclasses; c++)
        printf(" %6.4g", in->temperatures[c]);
    printf("\n");
    for (int c = 0; c < in->nclasses; c++) {
        printf("%8.4g", in->temperatures[c]);
        for (int j = 0; j < in->nclasses; j++)
            printf(" %6llu", (unsigned long long)in->confusion[(size_t)c * (size_t)in->nclasses +
                                                               (size_t)j]);
        printf("\n");
    }
}

int cmd_train_thermometer(int argc, char **argv)
{
    const char *cmd = "train-thermometer";
    static const struct option own[] = {
        {"hidden", required_argument, 0, 1},     {"activation", required_argument, 0, 2},
        {"epochs", required_argument, 0, 3},     {"batch", required_argument, 0, 4},
        {"lr", required_argument, 0, 5},         {"momentum", required_argument, 0, 6},
        {"adam", no_argument, 0, 7},             {"l2", required_argument, 0, 8},
        {"val", required_argument, 0, 9},        {"test", required_argument, 0, 10},
        {"patience", required_argument, 0, 11},  {"augment-flip", no_argument, 0, 12},
        {"temps", required_argument, 0, 13},     {"confusion", no_argument, 0, 14},
        {"seed", required_argument, 0, 15},      {"augment-shift", no_argument, 0, 17}};
    struct option opts[sizeof own / sizeof own[0] + RBMCLI_MAX_SHARED_OPTIONS];
    rbmcli_option_table(opts, sizeof opts / sizeof opts[0], own, sizeof own / sizeof own[0], 0);
    rbmcli_reduction reduction;
    rbmcli_reduction_init(&reduction);
    kd_thermometer_params p;
    kd_thermometer_params_init(&p);
    const char *output = NULL, *temps = NULL;
    int have_momentum = 0, confusion = 0, resume = 0, c, rc = CLI_OK;
    long v;
    optind = 1;
    while ((c = cli_next_option(cmd, argc, argv, ":o:qvh", opts, usage, &rc)) > 0) {
        if ((rc = rbmcli_shared_option(cmd, c, optarg, NULL, &reduction)) != CLI_CONTINUE)
            continue; /* handled, or refused: cli_next_option then stops with rc */
        rc = CLI_OK;
        switch (c) {
        case 1:
            rc = parse_hidden(cmd, optarg, &p);
            break;
        case 2:
            if (kd_activation_parse(optarg, &p.activation) != KD_OK)
                return cli_usage_error(cmd, "%s", kd_last_error());
            break;
        case 3:
            rc = cli_parse_long(cmd, "--epochs", optarg, 1, 10000000, &v);
            p.epochs = (int)v;
            break;
        case 4:
            rc = cli_parse_long(cmd, "--batch", optarg, 1, 1 << 20, &v);
            p.batch = (int)v;
            break;
        case 5:
            rc = cli_parse_double(cmd, "--lr", optarg, 1e-300, 1e6, &p.lr);
            break;
        case 6:
            rc = cli_parse_double(cmd, "--momentum", optarg, 0, 0.999999, &p.momentum);
            have_momentum = 1;
            break;
        case 7:
            p.optimizer = KD_OPTIMIZER_ADAM;
            break;
        case 8:
            rc = cli_parse_double(cmd, "--l2", optarg, 0, 1e6, &p.l2);
            break;
        case 9:
            rc = cli_parse_double(cmd, "--val", optarg, 0, 0.95, &p.val_fraction);
            break;
        case 10:
            rc = cli_parse_double(cmd, "--test", optarg, 0, 0.95, &p.test_fraction);
            break;
        case 11:
            rc = cli_parse_long(cmd, "--patience", optarg, 1, 10000000, &v);
            p.patience = (int)v;
            break;
        case 12:
            p.augment_flip = 1;
            break;
        case 17:
            p.augment_shift = 1;
            break;
        case 13:
            temps = optarg;
            break;
        case 14:
            confusion = 1;
            break;
        case 15:
            rc = cli_parse_u64(cmd, "--seed", optarg, &p.seed);
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
        (rc = cli_operands(cmd, argc, argv, 1, 1, "missing the dataset file (DATA.h5)")) != CLI_OK)
        return rc;
    const char *input = argv[optind];
    if (!output)
        return cli_usage_error(cmd, "-o/--output is required");
    if (have_momentum && p.optimizer == KD_OPTIMIZER_ADAM)
        return cli_usage_error(cmd, "--momentum applies to SGD with momentum, not to --adam");
    if (p.val_fraction + p.test_fraction >= 1.0)
        return cli_usage_error(cmd, "--val (%g) plus --test (%g) must be below 1: no "
                                    "configurations would be left for training",
                               p.val_fraction, p.test_fraction);
    double *subset = NULL;
    size_t nsubset = 0;
    if (temps && kd_parse_temperatures(temps, &subset, &nsubset) != KD_OK)
        return cli_usage_error(cmd, "--temps: %s", kd_last_error());

    char ckpath[4096], fingerprint[1024];
    if (snprintf(ckpath, sizeof ckpath, "%s.ckpt", output) >= (int)sizeof ckpath) {
        free(subset);
        return cli_fail(cmd, "output path '%s' is too long", output);
    }
    kd_dataset *d = NULL;
    kd_thermometer *th = NULL;
    /* Set-up: every MPI process reads the data (and the checkpoint) itself;
     * the failures of all meet at `agree`, from where rank 0 reports them. */
    rc = CLI_FAILURE;
    kd_status st = kd_dataset_read(input, &d);
    if (st != KD_OK) {
        cli_fail_status(cmd, st);
        goto agree;
    }
    if (mpicli_rank() == 0 && cli_check_writable(cmd, output) != CLI_OK) /* rank 0 writes */
        goto agree;
    data_fingerprint(input, d, temps, fingerprint, sizeof fingerprint);
    if (resume) {
        kd_thermometer_info in;
        if ((st = kd_thermometer_read(ckpath, &th)) != KD_OK) {
            cli_fail(cmd, "--resume: %s (no checkpoint of an interrupted run?)", kd_last_error());
            goto agree;
        }
        kd_thermometer_describe(th, &in);
        if (!in.interrupted) {
            cli_fail(cmd, "--resume: %s is a thermometer, not the checkpoint of an interrupted "
                     "run", ckpath);
            goto agree;
        }
        if (strcmp(in.command, fingerprint) != 0) {
            cli_fail(cmd, "checkpoint '%s' was made from other data:\n  %s\nthis run has\n  %s\n"
                     "(resume with the data and --temps of the interrupted run, or delete it)",
                     ckpath, in.command, fingerprint);
            goto agree;
        }
        if (!cli_quiet)
            fprintf(stderr, "kadanoff %s: resuming from %s: %d epochs done\n", cmd, ckpath,
                    in.epochs_done);
    } else if (access(ckpath, F_OK) == 0 && !cli_quiet) {
        fprintf(stderr, "kadanoff %s: warning: %s holds an interrupted run; this run starts "
                        "afresh (give --resume to continue it instead)\n", cmd, ckpath);
    }
    rc = CLI_OK;
agree:
    if ((rc = mpicli_agree(cmd, rc)) != CLI_OK)
        goto fail;
    rc = CLI_FAILURE;
    cli_install_interrupt_handler();
    p.progress = mpicli_progress; /* over MPI: all processes stop after the same epoch */
    p.split = rbmcli_reduction_split(&reduction); /* NULL: one process, fast */
    int had_checkpoint = th != NULL;
    if (th)
        st = kd_thermometer_fit_continue(th, d, subset, nsubset, &p);
    else
        st = kd_thermometer_fit(&th, d, subset, nsubset, &p);
    cli_progress_end();
    if (st != KD_OK) { /* the same status on every process */
        if (st == KD_ERR_CANCELLED) /* only an interrupt cancels */
            rc = mpicli_rank() == 0
                     ? save_checkpoint(cmd, th, input, fingerprint, ckpath, had_checkpoint)
                     : cli_interrupt_status();
        else if (had_checkpoint && st == KD_ERR_INVALID) {
            cli_fail(cmd, "checkpoint '%s': %s (resume with the options of the interrupted "
                     "run, or delete it)", ckpath, kd_last_error());
            /* the checkpoint's checks run before any exchange, on the same file and
             * options in every process, so all fail here: agree (one message, exit
             * 1) instead of each process aborting the job */
            rc = mpicli_agree(cmd, rc);
        }
        else if (st == KD_ERR_NUMERIC)
            cli_fail(cmd, "%s", kd_last_error());
        else
            cli_fail(cmd, "%s: %s", input, kd_last_error());
        goto fail;
    }
    if (mpicli_rank() != 0) { /* every process holds the same model; rank 0 writes */
        rc = mpicli_agree(cmd, CLI_OK);
        goto fail;
    }
    free(subset);
    subset = NULL;
    char command[1024];
    cli_join_args(argc + 1, argv - 1, command, sizeof command);
    kd_thermometer_set_provenance(th, input, command);
    st = kd_thermometer_write(output, th);
    if (mpicli_agree_status(cmd, st) != CLI_OK)
        goto fail;
    remove(ckpath); /* complete: the checkpoint (if any) is obsolete */
    if (!cli_quiet) {
        kd_thermometer_info in;
        kd_thermometer_describe(th, &in);
        printf("# %s: %s L=%d, %d temperatures, %zu training / %zu validation / %zu test "
               "configurations\n",
               input, kd_lattice_kind_name(in.lattice.kind), in.lattice.L, in.nclasses,
               in.n_train, in.n_val, in.n_test);
        printf("# network %zu", in.inputs);
        for (int l = 0; l < in.params.nhidden; l++)
            printf("-%d", in.params.hidden[l]);
        printf("-%d (%s, %zu parameters), %s lr %g, batch %d, l2 %g%s%s, seed %llu\n",
               in.nclasses, kd_activation_name(in.params.activation), in.nparams,
               kd_optimizer_name(in.params.optimizer), in.params.lr, in.params.batch,
               in.params.l2, in.params.augment_flip ? ", flip augmentation" : "",
               in.params.augment_shift ? ", translation augmentation" : "",
               (unsigned long long)in.params.seed);
        if (in.epochs_done > 0) {
            const kd_thermometer_epoch *h = &in.history[in.epochs_done - 1];
            printf("# %d epochs%s; weights of epoch %d; last epoch: training loss %.4f, "
                   "accuracy %.4f",
                   in.epochs_done, in.stopped_early ? " (stopped early)" : "", in.best_epoch,
                   h->train_loss, h->train_accuracy);
            if (!isnan(h->val_loss))
                printf("; validation loss %.4f, accuracy %.4f", h->val_loss, h->val_accuracy);
            printf("\n");
        }
        print_calibration(&in, confusion);
        printf("wrote %s\n", output);
    }
    rc = CLI_OK;
fail:
    free(subset);
    kd_thermometer_free(th);
    kd_dataset_free(d);
    return rc;
}
