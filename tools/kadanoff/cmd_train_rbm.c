/* kadanoff train-rbm — train an RBM on a dataset; resumable bit-exactly. */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpi_cli.h"
#include "rbm_cli.h"

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: kadanoff train-rbm DATA.h5 --hidden N [options] -o MODEL.h5\n"
        "       kadanoff train-rbm [DATA.h5] --resume -o MODEL.h5 [--epochs TOTAL]\n\n"
        "Train a restricted Boltzmann machine on the spin configurations of a dataset\n"
        "(kadanoff sample) by CD-k or persistent CD, and write it as a kadanoff-rbm model\n"
        "file (layout: docs/formats.md) with every hyperparameter, the per-epoch history\n"
        "and the trainer state. One table row per epoch on stdout: reconstruction error,\n"
        "pseudo-log-likelihood per unit, mean free energy, and the exact ln Z and\n"
        "log-likelihood (nats per configuration) when min(nv, nh) <= --exact-max (or an\n"
        "AIS estimate with its error, --ais-every). Row 0 is the untrained model.\n\n"
        "Model:\n"
        "  --hidden N               hidden units (required unless --resume)\n"
        "  --units U                unit type of both layers: spin (+-1) | binary (0/1)\n"
        "                           [spin]; --visible-units U, --hidden-units U per layer\n\n");
    rbmcli_train_help(f, 0);
    fprintf(f,
        "\nData:\n"
        "  --temps LIST             train on these temperatures of DATA only (a:b:step,\n"
        "                           comma list, inf; each must occur in DATA)\n"
        "  --exclude LIST           leave these temperatures out\n\n");
    rbmcli_reduction_help(f);
    fprintf(f,
        "\nResuming and checkpoints:\n"
        "  --resume                 continue training the model in -o MODEL.h5 up to\n"
        "                           --epochs TOTAL (default: its recorded total), with its\n"
        "                           recorded hyperparameters, seed and data selection (DATA\n"
        "                           defaults to the recorded dataset). The result is\n"
        "                           bit-identical to an uninterrupted run of TOTAL epochs\n"
        "                           (with --lr-schedule linear only if the first run had the\n"
        "                           same --epochs). Only --epochs, --checkpoint-every,\n"
        "                           --threads, --reduction(-block), -q and -v may be\n"
        "                           given with --resume; the number of processes may\n"
        "                           change.\n"
        "  --checkpoint-every N     also write MODEL.h5 every N epochs [0: only at the end]\n"
        "  SIGINT/SIGTERM           finish the current epoch, write MODEL.h5, exit 130/143;\n"
        "                           a second signal exits at once without writing\n"
        "  NaN/Inf in training      exit 1 naming the epoch; MODEL.h5 then holds the last\n"
        "                           good model if an epoch of this run completed, else it\n"
        "                           is left as it was\n\n"
        "Common:\n"
        "  -o, --output FILE        model file (required; written atomically)\n"
        "  --seed N                 random seed [1]: initial weights, shuffling, Gibbs\n"
        "                           chains, validation split, monitors\n"
        "  --threads N              OpenMP threads [all cores]; results do not depend on it\n"
        "  -q, --quiet              no table, no progress, no warnings\n"
        "  -v, --verbose            more messages\n"
        "  -h, --help               this help\n\n"
        "Example:\n"
        "  kadanoff train-rbm data.h5 --hidden 64 --units spin --cd 1 --epochs 200 \\\n"
        "      --batch 100 --lr 0.01 --momentum 0.5 --seed 1 -o rbm.h5\n");
}

typedef struct {
    const char *output;
    kd_rbm_file file;
} checkpoint_ctx;

/* Rank 0 writes (over MPI every process holds the same model); all agree. */
static int write_model(void *user)
{
    checkpoint_ctx *c = user;
    kd_status st = mpicli_rank() == 0 ? kd_rbm_file_write(c->output, &c->file) : KD_OK;
    return mpicli_agree_status("train-rbm", st);
}

static void print_result(const checkpoint_ctx *c)
{
    const kd_rbm_record *rec = c->file.model;
    const kd_rbm *r = rec->rbm;
    printf("wrote %s: RBM %d-%d (%s/%s), %s-%d, %llu of %llu epochs on %llu configurations of "
           "%s\n",
           c->output, kd_rbm_nv(r), kd_rbm_nh(r), kd_units_name(kd_rbm_visible_units(r)),
           kd_units_name(kd_rbm_hidden_units(r)), rec->train.method == KD_RBM_PCD ? "PCD" : "CD",
           rec->train.k, (unsigned long long)rec->epochs_done,
           (unsigned long long)rec->train.epochs, (unsigned long long)c->file.source.rows,
           c->file.source.data);
}

/* Train to the planned total, then write the model; on an interruption or
 * divergence write what is worth keeping. Returns the exit status. */
static int train_and_save(const char *cmd, checkpoint_ctx *ctx, kd_rbm_trainer *t,
                          const kd_rbm_train_options *topt, int resume, size_t nrows,
                          const char *data_path, uint64_t checkpoint_every)
{
    int rc;
    const uint64_t start = kd_rbm_trainer_epochs_done(t);
    if (!cli_quiet) {
        const kd_rbm *r = ctx->file.model->rbm;
        printf("# RBM %d-%d (%s/%s) on %zu configurations of %s; %s-%d, batch %zu, lr %g%s; %s"
               "epochs %llu..%llu of %llu, seed %llu\n",
               kd_rbm_nv(r), kd_rbm_nh(r), kd_units_name(kd_rbm_visible_units(r)),
               kd_units_name(kd_rbm_hidden_units(r)), nrows, data_path,
               topt->method == KD_RBM_PCD ? "PCD" : "CD", topt->k, topt->batch, topt->lr,
               topt->optimizer == KD_RBM_ADAM ? " (Adam)" : "", resume ? "resuming, " : "",
               (unsigned long long)start + 1, (unsigned long long)topt->epochs,
               (unsigned long long)topt->epochs, (unsigned long long)topt->seed);
    }
    rbmcli_install_signals();
    rbmcli_run run = {cmd,      NULL,        t,  ctx->file.model, topt->epochs, checkpoint_every,
                      !resume, write_model, ctx};
    int result = rbmcli_train(&run);
    rbmcli_restore_signals();
    const uint64_t done_now = kd_rbm_trainer_epochs_done(t);
    switch (result) {
    case RUN_DONE:
        rc = write_model(ctx);
        if (rc == CLI_OK && !cli_quiet)
            print_result(ctx);
        break;
    case RUN_INTERRUPTED: {
        int sig = rbmcli_signal();
        rc = write_model(ctx);
        cli_progress_end();
        if (rc == CLI_OK) {
            fprintf(stderr,
                    "kadanoff %s: interrupted by %s after epoch %llu of %llu; the model is saved "
                    "in %s. Continue with:\n  kadanoff train-rbm %s --resume -o %s --epochs %llu\n",
                    cmd, sig == SIGTERM ? "SIGTERM" : "SIGINT", (unsigned long long)done_now,
                    (unsigned long long)topt->epochs, ctx->output, data_path, ctx->output,
                    (unsigned long long)topt->epochs);
            rc = 128 + sig;
        }
        break;
    }
    case RUN_DIVERGED:
        if (done_now > start) {
            if (write_model(ctx) == CLI_OK)
                fprintf(stderr,
                        "kadanoff %s: the last good model (after epoch %llu) is saved in %s\n",
                        cmd, (unsigned long long)done_now, ctx->output);
        } else {
            fprintf(stderr, "kadanoff %s: no epoch completed; %s was not written%s\n", cmd,
                    ctx->output,
                    access(ctx->output, F_OK) == 0 ? " (the existing file is left as it was)" : "");
        }
        rc = CLI_FAILURE;
        break;
    default:
        rc = CLI_FAILURE;
    }
    return rc;
}

int cmd_train_rbm(int argc, char **argv)
{
    const char *cmd = "train-rbm";
    enum { O_HIDDEN = 1, O_UNITS, O_VUNITS, O_HUNITS, O_TEMPS, O_EXCLUDE, O_SEED,
           O_CHECKPOINT };
    static const struct option own[] = {
        {"hidden", required_argument, 0, O_HIDDEN},
        {"units", required_argument, 0, O_UNITS},
        {"visible-units", required_argument, 0, O_VUNITS},
        {"hidden-units", required_argument, 0, O_HUNITS},
        {"temps", required_argument, 0, O_TEMPS},
        {"exclude", required_argument, 0, O_EXCLUDE},
        {"seed", required_argument, 0, O_SEED},
        {"checkpoint-every", required_argument, 0, O_CHECKPOINT},
    };
    struct option opts[sizeof own / sizeof own[0] + RBMCLI_MAX_SHARED_OPTIONS];
    rbmcli_option_table(opts, sizeof opts / sizeof opts[0], own, sizeof own / sizeof own[0], 1);

    rbmcli_raw raw;
    memset(&raw, 0, sizeof raw);
    const char *output = NULL, *temps = NULL, *exclude = NULL;
    const char *given_model[8] = {0}; /* options refused with --resume */
    int ngiven = 0, resume = 0;
    long hidden = 0;
    rbmcli_reduction reduction;
    rbmcli_reduction_init(&reduction);
    uint64_t seed = 1, checkpoint_every = 0;
    kd_units vis = KD_UNITS_SPIN, hid = KD_UNITS_SPIN;
    int c, rc = CLI_OK;
    char cmdline[4096]; /* as typed: getopt_long permutes argv */
    cli_join_args(argc + 1, argv - 1, cmdline, sizeof cmdline);
    optind = 1;
    while ((c = cli_next_option(cmd, argc, argv, ":o:qvh", opts, usage, &rc)) > 0) {
        if ((rc = rbmcli_shared_option(cmd, c, optarg, &raw, &reduction)) != CLI_CONTINUE)
            continue; /* handled, or refused: cli_next_option then stops with rc */
        rc = CLI_OK;
        switch (c) {
        case O_HIDDEN:
            rc = cli_parse_long(cmd, "--hidden", optarg, 1, 1L << 30, &hidden);
            given_model[ngiven++ & 7] = "--hidden";
            break;
        case O_UNITS:
        case O_VUNITS:
        case O_HUNITS: {
            kd_units u;
            if (kd_units_parse(optarg, &u) != KD_OK)
                return cli_usage_error(cmd, "%s", kd_last_error());
            if (c != O_HUNITS)
                vis = u;
            if (c != O_VUNITS)
                hid = u;
            given_model[ngiven++ & 7] = "--units";
            break;
        }
        case O_TEMPS:
            temps = optarg;
            given_model[ngiven++ & 7] = "--temps";
            break;
        case O_EXCLUDE:
            exclude = optarg;
            given_model[ngiven++ & 7] = "--exclude";
            break;
        case O_SEED:
            rc = cli_parse_u64(cmd, "--seed", optarg, &seed);
            given_model[ngiven++ & 7] = "--seed";
            break;
        case RBMCLI_O_RESUME:
            resume = 1;
            break;
        case O_CHECKPOINT:
            rc = cli_parse_u64(cmd, "--checkpoint-every", optarg, &checkpoint_every);
            break;
        case 'o':
            output = optarg;
            break;
        }
    }
    if (c == CLI_OPTIONS_STOP || (rc = cli_operands(cmd, argc, argv, 0, 1, "")) != CLI_OK)
        return rc;
    const char *data_path = optind < argc ? argv[optind] : NULL;
    if (!output)
        return cli_usage_error(cmd, "-o/--output is required");
    rbmcli_layer layer;
    rbmcli_layer_defaults(&layer);
    if ((rc = rbmcli_raw_apply(cmd, &raw, &layer, 1)) != CLI_OK)
        return rc;
    if (resume) {
        static const int allowed[] = {RO_EPOCHS, 0};
        const char *bad = rbmcli_raw_first_given(&raw, allowed);
        if (ngiven > 0)
            bad = given_model[0] + 2;
        if (bad)
            return cli_usage_error(cmd,
                                   "--%s cannot be given with --resume: the model file's "
                                   "hyperparameters, seed and data selection are used "
                                   "(only --epochs may change)",
                                   bad);
    } else {
        if (!data_path)
            return cli_usage_error(cmd, "no DATA.h5 given");
        if (hidden == 0)
            return cli_usage_error(cmd, "--hidden is required (e.g. --hidden 64)");
        if ((rc = rbmcli_check_temps(cmd, "--temps", temps)) != CLI_OK ||
            (rc = rbmcli_check_temps(cmd, "--exclude", exclude)) != CLI_OK)
            return rc;
    }
    rc = mpicli_rank() == 0 ? cli_check_writable(cmd, output) : CLI_OK;
    if (mpicli_agree(cmd, rc) != CLI_OK)
        return CLI_FAILURE;

    checkpoint_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.output = output;
    kd_rbm_file *old = NULL;
    kd_rbm_record *rec = NULL;
    rbmcli_data data;
    memset(&data, 0, sizeof data);
    kd_rbm_train_options topt;
    kd_status st;
    if (resume) {
        st = kd_rbm_file_read(output, &old);
        if (mpicli_agree_status(cmd, st) != CLI_OK) {
            kd_rbm_file_free(old);
            return CLI_FAILURE;
        }
        rec = old->model;
        if (!rec->trained) {
            kd_rbm_file_free(old);
            return cli_fail(cmd, "%s: the model was not trained by kadanoff (attribute 'trained' "
                                 "is 0), there is no training to resume",
                            output);
        }
        if (!data_path)
            data_path = old->source.data;
        rc = rbmcli_data_load(cmd, data_path, old->source.temps, old->source.exclude, &data);
        if (rc == CLI_OK)
            rc = rbmcli_check_lattice(cmd, data_path, &data.d->lattice, output,
                                      &old->source.lattice);
        if ((rc = mpicli_agree(cmd, rc)) != CLI_OK) {
            rbmcli_data_free(&data);
            kd_rbm_file_free(old);
            return rc;
        }
        if (data.n != old->source.rows && !cli_quiet)
            fprintf(stderr,
                    "kadanoff %s: warning: %s gives %zu configurations with the recorded "
                    "selection, the model was trained on %llu: training continues, but not as "
                    "an uninterrupted run would have\n",
                    cmd, data_path, data.n, (unsigned long long)old->source.rows);
        topt = rec->train;
        if (raw.value[RO_EPOCHS - RO_CD]) {
            if (topt.schedule == KD_RBM_LR_LINEAR && topt.epochs != layer.train.epochs &&
                !cli_quiet)
                fprintf(stderr,
                        "kadanoff %s: warning: the linear learning-rate schedule now runs over "
                        "%llu epochs instead of %llu\n",
                        cmd, (unsigned long long)layer.train.epochs,
                        (unsigned long long)topt.epochs);
            topt.epochs = layer.train.epochs;
        }
        if (topt.epochs <= rec->epochs_done) {
            if (!cli_quiet)
                printf("%s has been trained for %llu epochs already; nothing to do (give "
                       "--epochs above %llu to continue)\n",
                       output, (unsigned long long)rec->epochs_done,
                       (unsigned long long)rec->epochs_done);
            rbmcli_data_free(&data);
            kd_rbm_file_free(old);
            return CLI_OK;
        }
        ctx.file.source = old->source;
        snprintf(ctx.file.source.data, sizeof ctx.file.source.data, "%s", data_path);
        rbmcli_append_command(ctx.file.source.command, sizeof ctx.file.source.command, cmdline);
    } else {
        rc = rbmcli_data_load(cmd, data_path, temps, exclude, &data);
        if ((rc = mpicli_agree(cmd, rc)) != CLI_OK) {
            rbmcli_data_free(&data);
            return rc;
        }
        size_t N = kd_lattice_size(&data.d->lattice);
        kd_rbm *rbm = NULL;
        if (N > (size_t)1 << 30) {
            rbmcli_data_free(&data);
            return cli_fail(cmd, "%s: %zu spins per configuration, too many for an RBM",
                            data_path, N);
        }
        st = kd_rbm_new(&rbm, (int)N, (int)hidden, vis, hid, layer.flags);
        if (st == KD_OK)
            st = kd_rbm_init_gaussian(rbm, layer.init_sigma, seed);
        if (st == KD_OK && (st = kd_rbm_record_new(&rec, rbm)) != KD_OK)
            kd_rbm_free(rbm);
        if (st != KD_OK) {
            rbmcli_data_free(&data);
            return cli_fail_status(cmd, st);
        }
        rec->init = layer.init;
        rec->init_sigma = layer.init_sigma;
        rec->ais_every = layer.ais_every;
        rec->ais_runs = layer.ais_runs;
        rec->ais_steps = layer.ais_steps;
        topt = layer.train;
        topt.seed = seed;
        rbmcli_source(&ctx.file.source, &data, temps, exclude, cmdline);
    }
    ctx.file.model = rec;
    topt.progress = rbmcli_epoch_progress;
    topt.progress_user = NULL;
    rbmcli_reduction_apply(&reduction, &topt, rec); /* several processes, docs/cluster.md */

    kd_rbm_trainer *t = NULL;
    kd_rbm_data view = rbmcli_data_view(&data);
    st = kd_rbm_trainer_new(&t, rec->rbm, &topt, &view, NULL);
    if (st == KD_OK && resume) {
        kd_rbm_trainer_state state;
        kd_rbm_record_state(rec, &state);
        st = kd_rbm_trainer_set_state(t, &state);
    }
    if (st != KD_OK)
        rc = cli_fail_status(cmd, st);
    else
        rc = train_and_save(cmd, &ctx, t, &topt, resume, data.n, data_path, checkpoint_every);
    kd_rbm_trainer_free(t);
    rbmcli_data_free(&data);
    if (old)
        kd_rbm_file_free(old); /* owns rec */
    else
        kd_rbm_record_free(rec);
    return rc;
}
