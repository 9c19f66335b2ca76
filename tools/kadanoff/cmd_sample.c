/* kadanoff sample — equilibrium Ising configurations into a labelled HDF5 dataset. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "mpi_cli.h"
#include "sample_checkpoint.h"

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: kadanoff sample --temps LIST [options] -o FILE.h5\n\n"
        "Equilibrium Ising configurations at one or more temperatures, with per-temperature\n"
        "observables and autocorrelation-aware error bars, written as an HDF5 dataset\n"
        "(layout: docs/formats.md).\n\n"
        "Model:\n"
        "  --lattice square|chain   lattice (default square)\n"
        "  -L, --size N             linear size, N >= 2 (default 10)\n"
        "  --boundary periodic|open boundary conditions (default periodic)\n"
        "  -J, --coupling J         coupling, any sign (default 1)\n"
        "  --field H                uniform field h (default 0)\n"
        "  --temps LIST             temperatures: a:b:step (inclusive), comma list, 'inf'\n"
        "                           (T = 0: ground states; T = inf: independent random spins)\n\n"
        "Sampling:\n"
        "  -n, --samples N          configurations per temperature (default 1000)\n"
        "  --chains C               independent chains per temperature (default 1)\n"
        "  --algorithm A            metropolis | heatbath | wolff | multispin |\n"
        "                           multispin-heatbath\n"
        "                           (default: multispin for --chains >= 256 on a periodic\n"
        "                           square lattice with even 4 <= L <= 256 and h = 0; else\n"
        "                           wolff, or metropolis when --field is nonzero);\n"
        "                           for wolff a sweep is N flipped spins on average;\n"
        "                           multispin: Metropolis on 64 bit-packed replicas per\n"
        "                           word (AVX2), each with its own random numbers; the\n"
        "                           chains of a temperature are the replicas (periodic\n"
        "                           square lattice, even L, h = 0); multispin-heatbath:\n"
        "                           the same with heat-bath updates (~0.8 of the speed)\n"
        "  --burn-in N|auto         sweeps discarded first; auto (default) waits until the\n"
        "                           energy is stationary\n"
        "  --interval N|auto        sweeps between stored samples; auto (default) = 2 tau_int\n"
        "  --max-burn-in N          cap for the automatic burn-in (default 1000000)\n"
        "  --symmetrize             flip each stored configuration with probability 1/2\n"
        "                           (h = 0 only; default off)\n\n"
        "Common:\n"
        "  -o, --output FILE        output file (required; written atomically)\n"
        "  --seed N                 random seed (default 1); same seed, same file\n"
        "  --threads N              OpenMP threads (default: all cores); results do not\n"
        "                           depend on it\n"
        "  --resume                 continue an interrupted run from FILE.h5.ckpt (give the\n"
        "                           same options); the result is bit-identical to an\n"
        "                           uninterrupted run (with any number of MPI processes)\n"
        "  -q, --quiet              no table, no progress, no warnings\n"
        "  -v, --verbose            more messages\n"
        "  -h, --help               this help\n\n"
        "Prints per temperature: burn-in, interval, tau_int of the energy, <e>, <|m|>, c,\n"
        "chi, U4 with error bars, and the exact <e> where one is known.\n\n"
        "Interrupted runs: on SIGINT/SIGTERM the temperatures whose chains all finished\n"
        "are written atomically to FILE.h5.ckpt (chains cut short are redone), FILE.h5 is\n"
        "left as it was, and the exit status is 130/143; rerun with --resume to sample only\n"
        "the missing temperatures (each temperature has its own random streams, so the\n"
        "result is the same bits). FILE.h5.ckpt is removed once FILE.h5 is written.\n"
        "Over several MPI processes (mpirun -np P; docs/cluster.md) rank 0 gathers the\n"
        "rows and writes; an interrupt stops every process it reaches, rank 0 saves the\n"
        "temperatures completed on all processes to FILE.h5.ckpt, and --resume takes any\n"
        "number of processes.\n\n"
        "Example:\n"
        "  kadanoff sample -L 10 --temps 0:6:0.25 -n 1000 --algorithm wolff --seed 7 -o data.h5\n");
}

/* "auto" → -1, otherwise a non-negative (or >= min) integer. */
static int parse_auto(const char *cmd, const char *opt, const char *arg, long min, long *out)
{
    if (!strcmp(arg, "auto")) {
        *out = -1;
        return CLI_OK;
    }
    return cli_parse_long(cmd, opt, arg, min, 1000000000L, out);
}

/* Exact energy per spin for the lattices where kadanoff has one (else NAN). */
static double exact_energy(const kd_lattice *lat, double T)
{
    kd_thermo th;
    kd_status st = KD_ERR_UNSUPPORTED;
    if (lat->kind == KD_LATTICE_SQUARE && lat->boundary == KD_BOUNDARY_PERIODIC &&
        lat->field == 0 && (lat->J > 0 || lat->L % 2 == 0))
        st = kd_kaufman_torus(lat->L, fabs(lat->J), T, &th);
    else if (lat->kind == KD_LATTICE_CHAIN)
        st = kd_chain_exact(lat->L, lat->boundary, lat->J, lat->field, T, &th);
    kd_clear_error();
    return st == KD_OK ? th.e : NAN;
}

static void print_summary(const kd_dataset *d)
{
    printf("# %s L=%d %s J=%g h=%g algorithm=%s seed=%llu\n",
           kd_lattice_kind_name(d->lattice.kind), d->lattice.L,
           kd_boundary_name(d->lattice.boundary), d->lattice.J, d->lattice.field, d->algorithm,
           (unsigned long long)d->seed);
    printf("%8s %6s %8s %6s %7s %22s %9s %20s %20s %20s\n", "T", "n", "burn-in", "intvl",
           "tau_e", "<e> +- err", "exact e", "<|m|> +- err", "c +- err", "U4 +- err");
    for (size_t t = 0; t < d->ntemps; t++) {
        const kd_temp_summary *s = &d->summary[t];
        double ex = exact_energy(&d->lattice, s->T);
        char exs[16];
        if (isnan(ex))
            snprintf(exs, sizeof exs, "%9s", "-");
        else
            snprintf(exs, sizeof exs, "%9.5f", ex);
        printf("%8.4g %6zu %8.0f %6.0f %7.2f %12.6f +- %7.6f %s %10.5f +- %6.5f "
               "%10.4f +- %6.4f %10.4f +- %6.4f\n",
               s->T, s->n, s->burn_in, s->interval, s->tau_e, s->e, s->e_err, exs, s->abs_m,
               s->abs_m_err, s->c, s->c_err, s->binder, s->binder_err);
    }
}

/* Write the temperatures done so far (checkpoint `ck`, this run's `part`) to
 * ckpath atomically and report how to continue. */
static int save_checkpoint(const char *cmd, const kd_sample_params *p, const kd_dataset *ck,
                           const kd_dataset *part, const double *all, size_t nall,
                           const char *ckpath)
{
    const char *sig = cli_interrupt_name();
    int code = cli_interrupt_status();
    cli_progress_end();
    if (!part)
        return cli_interrupt_nothing_saved(cmd, "another temperature", ck != NULL);
    kd_dataset *m;
    kd_status st = sample_merge(ck, part, all, nall, p->samples, &m);
    if (st == KD_OK) {
        sample_fingerprint(p, m->command, sizeof m->command);
        st = kd_dataset_write(ckpath, m);
    }
    if (st != KD_OK) {
        cli_fail_status(cmd, st);
        return code;
    }
    fprintf(stderr,
            "kadanoff %s: interrupted by %s; %zu of %zu temperatures are complete and saved in "
            "%s.\nContinue with the same command and --resume.\n",
            cmd, sig, m->ntemps, nall, ckpath);
    kd_dataset_free(m);
    return code;
}

/* Sample (the missing temperatures, with resume), checkpoint on an interrupt,
 * write the output and remove the checkpoint when complete. */
static int sample_run(const char *cmd, kd_sample_params *p, const char *output,
                      const char *ckpath, int resume, int argc, char **argv)
{
    kd_dataset *ck = NULL, *d = NULL, *part = NULL, *m = NULL;
    const double *all = p->temps;
    const size_t nall = p->ntemps;
    double *todo = malloc(nall * sizeof *todo);
    int rc = CLI_FAILURE;
    if (!todo)
        return cli_fail(cmd, "out of memory");
    if (resume) { /* every MPI process reads the checkpoint; failures are agreed */
        kd_status st = kd_dataset_read(ckpath, &ck);
        if (st != KD_OK)
            rc = cli_fail(cmd, "--resume: %s (no checkpoint of an interrupted run?)",
                          kd_last_error());
        else
            rc = sample_checkpoint_check(cmd, ckpath, ck, p);
        if ((rc = mpicli_agree(cmd, rc)) != CLI_OK)
            goto done;
        rc = CLI_FAILURE;
    } else if (access(ckpath, F_OK) == 0 && !cli_quiet) {
        fprintf(stderr, "kadanoff %s: warning: %s holds the temperatures of an interrupted run; "
                        "this run starts afresh (give --resume to continue it instead)\n",
                cmd, ckpath);
    }
    p->ntemps = sample_missing_temps(ck, all, nall, todo);
    p->temps = todo;
    if (!cli_quiet && ck)
        fprintf(stderr, "kadanoff %s: resuming from %s: %zu of %zu temperatures done\n", cmd,
                ckpath, nall - p->ntemps, nall);
    cli_install_interrupt_handler();
    p->progress = cli_progress;
    p->partial = &part;
    p->split = mpicli_sample_split(p); /* NULL on a single process */
    kd_status st = p->ntemps ? kd_sample(p, &d) : KD_OK;
    cli_progress_end();
    /* Over MPI, failures are agreed inside kd_sample; a stop (SIGINT/SIGTERM on
     * any process) is agreed here: rank 0 holds what completed and saves it. */
    if ((st == KD_OK || st == KD_ERR_CANCELLED) && mpicli_any(st == KD_ERR_CANCELLED)) {
        rc = mpicli_rank() == 0 ? save_checkpoint(cmd, p, ck, part, all, nall, ckpath)
                                : cli_interrupt_status();
        goto done;
    }
    if (st != KD_OK) {
        rc = cli_fail_status(cmd, st);
        goto done;
    }
    if (mpicli_rank() != 0) { /* an MPI rank other than 0: its rows went to rank 0 */
        rc = mpicli_agree(cmd, CLI_OK);
        goto done;
    }
    if ((st = sample_merge(ck, d, all, nall, p->samples, &m)) != KD_OK) {
        rc = cli_fail_status(cmd, st);
        goto done;
    }
    cli_join_args(argc, argv, m->command, sizeof m->command);
    st = kd_dataset_write(output, m);
    if ((rc = mpicli_agree_status(cmd, st)) != CLI_OK)
        goto done;
    remove(ckpath); /* complete: the checkpoint (if any) is obsolete */
    if (!cli_quiet) {
        print_summary(m);
        printf("wrote %zu configurations to %s\n", m->n, output);
    }
    rc = CLI_OK;
done:
    kd_dataset_free(ck);
    kd_dataset_free(d);
    kd_dataset_free(part);
    kd_dataset_free(m);
    free(todo);
    p->temps = all;
    p->ntemps = nall;
    return rc;
}

int cmd_sample(int argc, char **argv)
{
    const char *cmd = "sample";
    static const struct option opts[] = {
        {"lattice", required_argument, 0, 1},   {"size", required_argument, 0, 'L'},
        {"boundary", required_argument, 0, 2},  {"coupling", required_argument, 0, 'J'},
        {"field", required_argument, 0, 3},     {"temps", required_argument, 0, 4},
        {"samples", required_argument, 0, 'n'}, {"chains", required_argument, 0, 5},
        {"algorithm", required_argument, 0, 6}, {"burn-in", required_argument, 0, 7},
        {"interval", required_argument, 0, 8},  {"max-burn-in", required_argument, 0, 9},
        {"symmetrize", no_argument, 0, 10},     {"output", required_argument, 0, 'o'},
        {"seed", required_argument, 0, 11},     {"threads", required_argument, 0, CLI_OPT_THREADS},
        {"quiet", no_argument, 0, 'q'},         {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},          {"resume", no_argument, 0, 13},
        {0, 0, 0, 0}};
    kd_sample_params p;
    kd_sample_params_init(&p);
    const char *temps = NULL, *output = NULL;
    int have_algo = 0, resume = 0;
    long v;
    int c, rc = CLI_OK;
    optind = 1;
    while ((c = cli_next_option(cmd, argc, argv, ":L:J:n:o:qvh", opts, usage, &rc)) > 0) {
        switch (c) {
        case 1:
            if (kd_lattice_kind_parse(optarg, &p.lattice.kind) != KD_OK)
                return cli_usage_error(cmd, "%s", kd_last_error());
            break;
        case 'L':
            rc = cli_parse_long(cmd, "-L", optarg, 2, KD_LATTICE_MAX_L_CHAIN, &v);
            p.lattice.L = (int)v;
            break;
        case 2:
            if (kd_boundary_parse(optarg, &p.lattice.boundary) != KD_OK)
                return cli_usage_error(cmd, "%s", kd_last_error());
            break;
        case 'J':
            rc = cli_parse_double(cmd, "-J", optarg, -1e6, 1e6, &p.lattice.J);
            break;
        case 3:
            rc = cli_parse_double(cmd, "--field", optarg, -1e6, 1e6, &p.lattice.field);
            break;
        case 4:
            temps = optarg;
            break;
        case 'n':
            rc = cli_parse_long(cmd, "--samples", optarg, 1, 1000000000L, &v);
            p.samples = (size_t)v;
            break;
        case 5:
            rc = cli_parse_long(cmd, "--chains", optarg, 1, 1000000, &v);
            p.chains = (int)v;
            break;
        case 6:
            if (kd_algorithm_parse(optarg, &p.algorithm) != KD_OK)
                return cli_usage_error(cmd, "%s", kd_last_error());
            have_algo = 1;
            break;
        case 7:
            rc = parse_auto(cmd, "--burn-in", optarg, 0, &p.burn_in);
            break;
        case 8:
            rc = parse_auto(cmd, "--interval", optarg, 1, &p.interval);
            break;
        case 9:
            rc = cli_parse_long(cmd, "--max-burn-in", optarg, 1000, 1000000000L, &p.max_burn_in);
            break;
        case 10:
            p.symmetrize = 1;
            break;
        case 'o':
            output = optarg;
            break;
        case 11:
            rc = cli_parse_u64(cmd, "--seed", optarg, &p.seed);
            break;
        case 13:
            resume = 1;
            break;
        }
    }
    if (c == CLI_OPTIONS_STOP || (rc = cli_operands(cmd, argc, argv, 0, 0, "")) != CLI_OK)
        return rc;
    if (!temps)
        return cli_usage_error(cmd, "--temps is required (e.g. --temps 0:6:0.25)");
    if (!output)
        return cli_usage_error(cmd, "-o/--output is required");
    if (p.lattice.kind == KD_LATTICE_SQUARE && p.lattice.L > KD_LATTICE_MAX_L_SQUARE)
        return cli_usage_error(cmd, "-L must be at most %d for the square lattice",
                               KD_LATTICE_MAX_L_SQUARE);
    if (!have_algo)
        p.algorithm = kd_sample_default_algorithm(&p.lattice, p.chains);
    if (p.algorithm == KD_ALGO_WOLFF && p.lattice.field != 0)
        return cli_usage_error(cmd, "--algorithm wolff needs --field 0; use metropolis or heatbath");
    if (p.symmetrize && p.lattice.field != 0)
        return cli_usage_error(cmd, "--symmetrize needs --field 0 (a global flip is a symmetry only without a field)");
    if ((size_t)p.chains > p.samples)
        return cli_usage_error(cmd, "--chains (%d) must not exceed --samples (%zu)", p.chains,
                               p.samples);

    double *tv;
    size_t nt;
    if (kd_parse_temperatures(temps, &tv, &nt) != KD_OK)
        return cli_usage_error(cmd, "--temps: %s", kd_last_error());
    p.temps = tv;
    p.ntemps = nt;

    /* Fail now, not after hours of sampling, if the output cannot be written
     * (by rank 0, the writer, when run over MPI processes). */
    rc = mpicli_rank() == 0 ? cli_check_writable(cmd, output) : CLI_OK;
    if (mpicli_agree(cmd, rc) != CLI_OK) {
        free(tv);
        return CLI_FAILURE;
    }

    char ckpath[4096];
    if (snprintf(ckpath, sizeof ckpath, "%s.ckpt", output) >= (int)sizeof ckpath) {
        free(tv);
        return cli_fail(cmd, "output path '%s' is too long", output);
    }
    rc = sample_run(cmd, &p, output, ckpath, resume, argc + 1, argv - 1);
    free(tv);
    return rc;
}
