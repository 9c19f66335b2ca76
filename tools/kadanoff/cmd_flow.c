/* kadanoff flow — the RBM flow v -> h -> v with temperature readouts per step. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "mpi_cli.h"
#include "kadanoff/flow.h"
#include "kadanoff/nn.h"
#include "kadanoff/rbm_file.h"
#include "kadanoff/thermometry.h"

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: kadanoff flow --rbm MODEL.h5 [--start SPEC] [options] -o FLOW.h5\n\n"
        "Iterates configurations through a trained RBM, v -> h -> v (Iso, Shiba & Yokoo 2018),\n"
        "and measures every step: <e>, <|m|>, G(r), and the temperature read by the\n"
        "neural thermometer (if given) next to physical estimates: T from <e> against the\n"
        "exact e(T) of the lattice, and (with --reference) T from <|m|> and from G(r).\n\n"
        "Options:\n"
        "  --rbm FILE          trained RBM (kadanoff-rbm file; required)\n"
        "  --start SPEC        initial configurations: DATA.h5[:T] (configurations of the\n"
        "                      dataset, at temperature T if given, drawn without\n"
        "                      replacement), 'up' (all +1, T = 0) or 'random'\n"
        "                      (independent spins, T = inf) (default random)\n"
        "  --steps N           flow steps after the start (default 40)\n"
        "  --chains N          independent chains (default 1000)\n"
        "  --mean-field        deterministic map h = E[h|v], v = E[v|h] instead of sampling\n"
        "                      (readouts: energy only; the thermometer needs spins)\n"
        "  --keep-every K      store the configurations of every K-th step (default 1);\n"
        "                      steps not kept get only the energy readout\n"
        "  --thermometer FILE  neural thermometer (kadanoff-thermometer file)\n"
        "  --reference FILE    dataset of the same lattice with a per-temperature summary,\n"
        "                      for the |m| and G(r) temperature estimates\n"
        "  -o, --output FILE   flow file (required; written atomically)\n"
        "  --seed N            random seed (default 1)\n"
        "  --resume            continue an interrupted run from FLOW.h5.ckpt (give the\n"
        "                      options of that run; the result is the bits of an\n"
        "                      uninterrupted run)\n"
        "  --threads N         OpenMP threads (default: all cores); results do not depend on it\n"
        "  -q, --quiet         no table\n"
        "  -v, --verbose       more messages\n"
        "  -h, --help          this help\n\n"
        "Prints per step: <e>, <|m|> (errors over chains), T_thermometer, T_e +- err,\n"
        "T_|m| +- err, then the fixed point (plateau of <e> and <|m|>).\n\n"
        "SIGINT/SIGTERM stop the flow after the current step: the steps done and the\n"
        "chains' current configurations are written atomically to FLOW.h5.ckpt, FLOW.h5\n"
        "is left as it was, and the exit status is 130/143; rerun the same command with\n"
        "--resume to continue (step n's draws depend only on the seed, n and the chain,\n"
        "so the result is the same bits). The readouts are computed at the end, with the\n"
        "--thermometer and --reference of the run that completes. FLOW.h5.ckpt is\n"
        "removed once FLOW.h5 is written.\n\n"
        "Several processes (an MPI build run by mpirun/srun, docs/cluster.md): the chains\n"
        "are dealt out in blocks of 64, rank 0 gathers them after every step and writes;\n"
        "the file holds the same bits for any number of processes (every RBM pass works\n"
        "on one block of 64 chains, also on one process). An interrupt stops every\n"
        "process after the same step and rank 0 writes FLOW.h5.ckpt; --resume continues\n"
        "it with any number of processes.\n");
}

/* Pick `chains` start configurations from a dataset file, optionally at one T. */
static int start_from_dataset(const char *cmd, const char *spec, const kd_lattice *lat,
                              size_t chains, uint64_t seed, int8_t *start)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", spec);
    double T = NAN;
    char *colon = strrchr(path, ':');
    if (colon) {
        char *end;
        double v = strcmp(colon + 1, "inf") ? strtod(colon + 1, &end) : INFINITY;
        if (!strcmp(colon + 1, "inf") || (*end == '\0' && end != colon + 1)) {
            T = v;
            *colon = '\0';
        }
    }
    kd_dataset *d;
    kd_status st = kd_dataset_read(path, &d);
    if (st != KD_OK)
        return cli_fail_status(cmd, st);
    const size_t N = kd_lattice_size(lat);
    if (d->lattice.kind != lat->kind || d->lattice.L != lat->L) {
        kd_dataset_free(d);
        return cli_fail(cmd, "%s: %s lattice of L = %d, but the RBM was trained on a %s lattice of L = %d",
                        path, kd_lattice_kind_name(d->lattice.kind), d->lattice.L,
                        kd_lattice_kind_name(lat->kind), lat->L);
    }
    size_t *rows = malloc(d->n * sizeof *rows), n = 0;
    for (size_t i = 0; i < d->n; i++)
        if (isnan(T) || d->temperature[i] == T ||
            (isfinite(T) && fabs(d->temperature[i] - T) <= 1e-9 * fmax(1.0, T)))
            rows[n++] = i;
    if (n < chains) {
        kd_dataset_free(d);
        free(rows);
        if (n == 0)
            return cli_fail(cmd, "%s has no configurations at T = %g", path, T);
        return cli_fail(cmd, "%s has only %zu configurations%s; ask for --chains %zu or fewer",
                        path, n, isnan(T) ? "" : " at that temperature", n);
    }
    /* partial Fisher–Yates with its own Philox stream: the first `chains` rows */
    kd_rng r;
    kd_rng_init(&r, seed, 0x5354415254ULL); /* "START" */
    for (size_t k = 0; k < chains; k++) {
        size_t j = k + kd_rng_below(&r, (uint32_t)(n - k));
        size_t tmp = rows[k];
        rows[k] = rows[j];
        rows[j] = tmp;
        memcpy(start + k * N, d->spins + rows[k] * N, N);
    }
    free(rows);
    kd_dataset_free(d);
    return CLI_OK;
}

/* The options that determine the bits of a flow besides those the library
 * checks on resume (mode, steps, chains, seed, kept steps): the model, by
 * path and by a hash of its parameters, and the start. */
static void flow_fingerprint(const char *rbm_path, const kd_rbm *rbm, const char *start,
                             int keep_every, char *buf, size_t size)
{
    uint64_t hash = cli_hash(CLI_HASH_INIT, kd_rbm_params(rbm),
                             kd_rbm_nparams(rbm) * sizeof(float));
    snprintf(buf, size, "kadanoff flow checkpoint v1: rbm=%s rbm_hash=%016llx units=%s/%s "
             "start=%s keep_every=%d", rbm_path, (unsigned long long)hash,
             kd_units_name(kd_rbm_visible_units(rbm)), kd_units_name(kd_rbm_hidden_units(rbm)),
             start, keep_every);
}

/* Save the interrupted flow `part` (may be NULL: stopped before a step was
 * done) to ckpath and say how to continue. */
static int save_checkpoint(const char *cmd, kd_flow *part, const char *fingerprint,
                           const char *ckpath, int had_checkpoint)
{
    const char *sig = cli_interrupt_name();
    int code = cli_interrupt_status();
    cli_progress_end();
    if (!part)
        return cli_interrupt_nothing_saved(cmd, "a flow step", had_checkpoint);
    snprintf(part->command, sizeof part->command, "%s", fingerprint);
    kd_status st = kd_flow_write(ckpath, part);
    if (st != KD_OK) {
        cli_fail_status(cmd, st);
        return code;
    }
    fprintf(stderr, "kadanoff %s: interrupted by %s; %d of %d steps are done and saved in %s.\n"
                    "Continue with the same command and --resume.\n",
            cmd, sig, part->steps_done, part->steps, ckpath);
    return code;
}

static void print_table(const kd_flow *f)
{
    printf("# RBM flow: %s, %zu chains, %d steps, start %s\n", kd_flow_mode_name(f->mode),
           f->chains, f->steps, f->start);
    printf("%5s %22s %22s %8s %20s %20s\n", "step", "<e> +- err", "<|m|> +- err", "T_thermo",
           "T_e +- err", "T_|m| +- err");
    for (int n = 0; n <= f->steps; n++) {
        kd_flow_stats s;
        kd_flow_step_stats(f, n, &s);
        const kd_flow_readout *r = &f->readout[n];
        printf("%5d %12.6f +- %7.5f %12.6f +- %7.5f %8.4f %10.4f +- %6.4f %10.4f +- %6.4f\n", n,
               s.e, s.e_err, s.abs_m, s.abs_m_err, r->T_thermometer, r->T_energy, r->T_energy_err,
               r->T_abs_m, r->T_abs_m_err);
    }
    kd_flow_fixed_point fp;
    kd_flow_find_fixed_point(f, &fp);
    printf("fixed point %s from step %d: e* = %.5f +- %.5f, |m*| = %.5f +- %.5f\n",
           fp.converged ? "reached" : "NOT reached", fp.from_step, fp.e, fp.e_err, fp.abs_m,
           fp.abs_m_err);
}

int cmd_flow(int argc, char **argv)
{
    const char *cmd = "flow";
    static const struct option opts[] = {
        {"rbm", required_argument, 0, 1},        {"start", required_argument, 0, 2},
        {"steps", required_argument, 0, 3},      {"chains", required_argument, 0, 4},
        {"mean-field", no_argument, 0, 5},       {"keep-every", required_argument, 0, 6},
        {"thermometer", required_argument, 0, 7}, {"reference", required_argument, 0, 8},
        {"output", required_argument, 0, 'o'},   {"seed", required_argument, 0, 9},
        {"threads", required_argument, 0, CLI_OPT_THREADS},   {"quiet", no_argument, 0, 'q'},
        {"verbose", no_argument, 0, 'v'},        {"help", no_argument, 0, 'h'},
        {"resume", no_argument, 0, 11},          {0, 0, 0, 0}};
    const char *rbm_path = NULL, *start_spec = "random", *thermo_path = NULL, *ref_path = NULL,
               *output = NULL;
    kd_flow_options opt;
    kd_flow_options_init(&opt);
    long v, chains = 1000;
    int c, rc = CLI_OK, resume = 0;
    optind = 1;
    while ((c = cli_next_option(cmd, argc, argv, ":o:qvh", opts, usage, &rc)) > 0) {
        switch (c) {
        case 1: rbm_path = optarg; break;
        case 2: start_spec = optarg; break;
        case 3:
            rc = cli_parse_long(cmd, "--steps", optarg, 1, 1000000, &v);
            opt.steps = (int)v;
            break;
        case 4: rc = cli_parse_long(cmd, "--chains", optarg, 1, 100000000, &chains); break;
        case 5: opt.mode = KD_FLOW_MEAN_FIELD; break;
        case 6:
            rc = cli_parse_long(cmd, "--keep-every", optarg, 1, 1000000, &v);
            opt.keep_every = (int)v;
            break;
        case 7: thermo_path = optarg; break;
        case 8: ref_path = optarg; break;
        case 'o': output = optarg; break;
        case 9: rc = cli_parse_u64(cmd, "--seed", optarg, &opt.seed); break;
        case 11: resume = 1; break;
        }
    }
    if (c == CLI_OPTIONS_STOP || (rc = cli_operands(cmd, argc, argv, 0, 0, "")) != CLI_OK)
        return rc;
    if (!rbm_path)
        return cli_usage_error(cmd, "--rbm MODEL.h5 is required");
    if (!output)
        return cli_usage_error(cmd, "-o/--output is required");

    kd_rbm_file *model = NULL;
    kd_thermometer *th = NULL;
    kd_dataset *ref = NULL;
    kd_thermometry *t = NULL;
    kd_flow *f = NULL, *ck = NULL, *part = NULL;
    int8_t *start = NULL;
    char ckpath[4096], fingerprint[2048];
    if (snprintf(ckpath, sizeof ckpath, "%s.ckpt", output) >= (int)sizeof ckpath)
        return cli_fail(cmd, "output path '%s' is too long", output);
    /* Set-up: every MPI process reads the inputs (and the checkpoint) itself;
     * the failures of all meet at `agree`, from where rank 0 reports them. */
    const kd_lattice *lat = NULL;
    size_t N = 0;
    rc = CLI_FAILURE;
    kd_status st = kd_rbm_file_read(rbm_path, &model);
    if (st != KD_OK) {
        cli_fail_status(cmd, st);
        goto agree;
    }
    lat = &model->source.lattice;
    N = kd_lattice_size(lat);
    if (thermo_path && (st = kd_thermometer_read(thermo_path, &th)) != KD_OK) {
        cli_fail_status(cmd, st);
        goto agree;
    }
    if (ref_path && (st = kd_dataset_read(ref_path, &ref)) != KD_OK) {
        cli_fail_status(cmd, st);
        goto agree;
    }
    if ((st = kd_thermometry_new(&t, lat, th, ref, -1)) != KD_OK) {
        cli_fail_status(cmd, st);
        goto agree;
    }
    if (mpicli_rank() == 0 && cli_check_writable(cmd, output) != CLI_OK) /* rank 0 writes */
        goto agree;
    flow_fingerprint(rbm_path, model->model->rbm, start_spec, opt.keep_every, fingerprint,
                     sizeof fingerprint);
    if (resume) {
        if ((st = kd_flow_read_checkpoint(ckpath, &ck)) != KD_OK) {
            cli_fail(cmd, "--resume: %s (no checkpoint of an interrupted run?)", kd_last_error());
            goto agree;
        }
        if (strcmp(ck->command, fingerprint) != 0) {
            cli_fail(cmd, "checkpoint '%s' was made with other parameters:\n  %s\nthis run has\n"
                     "  %s\n(resume with the options of the interrupted run, or delete it)",
                     ckpath, ck->command, fingerprint);
            goto agree;
        }
        if (!cli_quiet)
            fprintf(stderr, "kadanoff %s: resuming from %s: %d of %d steps done\n", cmd, ckpath,
                    ck->steps_done, ck->steps);
    } else if (access(ckpath, F_OK) == 0 && !cli_quiet) {
        fprintf(stderr, "kadanoff %s: warning: %s holds an interrupted flow; this run starts "
                        "afresh (give --resume to continue it instead)\n", cmd, ckpath);
    }
    start = malloc(ck ? 1 : (size_t)chains * N);
    if (!start) {
        cli_fail(cmd, "out of memory for %ld chains", chains);
        goto agree;
    }
    if (ck) {
        /* the checkpoint holds the chains' state: no start configurations */
    } else if (!strcmp(start_spec, "up")) {
        memset(start, 1, (size_t)chains * N);
    } else if (!strcmp(start_spec, "random")) {
        kd_rng r;
        kd_rng_init(&r, opt.seed, 0x52414e444f4dULL); /* "RANDOM" */
        for (size_t i = 0; i < (size_t)chains * N; i++)
            start[i] = kd_rng_spin(&r);
    } else if (start_from_dataset(cmd, start_spec, lat, (size_t)chains, opt.seed, start) != CLI_OK) {
        goto agree;
    }
    rc = CLI_OK;
agree:
    if ((rc = mpicli_agree(cmd, rc)) != CLI_OK)
        goto done;

    cli_install_interrupt_handler();
    opt.progress = mpicli_progress; /* over MPI: all processes stop after the same step */
    opt.partial = &part;
    opt.resume = ck;
    opt.split = mpicli_flow_split(); /* NULL on one process */
    st = kd_flow_run(model->model->rbm, lat, start, (size_t)chains, &opt, &f);
    cli_progress_end();
    if (st != KD_OK) { /* over MPI the library has agreed the failure or the stop */
        if (st == KD_ERR_CANCELLED) { /* only an interrupt cancels */
            if (part) {
                snprintf(part->rbm, sizeof part->rbm, "%s", rbm_path);
                snprintf(part->start, sizeof part->start, "%s", start_spec);
            }
            rc = mpicli_rank() == 0 ? save_checkpoint(cmd, part, fingerprint, ckpath, ck != NULL)
                                    : cli_interrupt_status();
        } else {
            rc = cli_fail_status(cmd, st);
        }
        goto done;
    }
    if (!f) { /* an MPI process other than rank 0: its chains went to rank 0 */
        rc = mpicli_agree(cmd, CLI_OK);
        goto done;
    }
    rc = CLI_FAILURE;
    if ((st = kd_flow_measure(f, t, th)) == KD_OK) {
        snprintf(f->rbm, sizeof f->rbm, "%s", rbm_path);
        snprintf(f->start, sizeof f->start, "%s", start_spec);
        snprintf(f->thermometer, sizeof f->thermometer, "%s", thermo_path ? thermo_path : "");
        cli_join_args(argc + 1, argv - 1, f->command, sizeof f->command);
        st = kd_flow_write(output, f);
    }
    if ((rc = mpicli_agree_status(cmd, st)) != CLI_OK)
        goto done;
    remove(ckpath); /* complete: the checkpoint (if any) is obsolete */
    if (!cli_quiet) {
        print_table(f);
        printf("wrote %s\n", output);
    }
    rc = CLI_OK;
done:
    free(start);
    kd_flow_free(f);
    kd_flow_free(ck);
    kd_flow_free(part);
    kd_thermometry_free(t);
    kd_dataset_free(ref);
    kd_thermometer_free(th);
    kd_rbm_file_free(model);
    return rc;
}
