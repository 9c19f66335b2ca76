/* kadanoff generate — draw configurations from a trained RBM (or DBN) by block
 * Gibbs sampling into a dataset file with the layout of `kadanoff sample`. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kadanoff/rng.h"
#include "rbm_cli.h"

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: kadanoff generate MODEL.h5 [options] -o SAMPLES.h5\n\n"
        "Draw spin configurations from a trained model by block Gibbs sampling and write\n"
        "them as a dataset (format kadanoff-dataset, the layout of `kadanoff sample`).\n"
        "C independent chains start from uniformly random visible units; each makes\n"
        "--gibbs B steps h ~ p(h|v), v ~ p(v|h) of burn-in, then one configuration is\n"
        "stored, and then one more after every further --interval K steps, until n\n"
        "configurations are stored (chain c gives rows c*ceil(n/C) ...). For a DBN the\n"
        "chains run in the top RBM and every stored state is passed down to the data by\n"
        "sampling p(v|h) layer by layer.\n\n"
        "The file's /temperature column is -1 (unknown: the configurations come from a\n"
        "model, not from a temperature) and its attribute 'algorithm' is rbm-gibbs or\n"
        "dbn-gibbs; /energy and /magnetization are those of the Ising model recorded in the\n"
        "model file (its training data's lattice, J and h). burn_in and interval record B\n"
        "and K; there is no per-temperature summary.\n\n"
        "Options:\n"
        "  -n, --samples N          configurations to store [1000]\n"
        "  --gibbs B                burn-in Gibbs steps per chain [1000]\n"
        "  --interval K             Gibbs steps between stored configurations of a chain\n"
        "                           [10]\n"
        "  --chains C               independent chains, 1..n [min(n, 1000)]\n"
        "  -o, --output FILE        dataset file (required; written atomically)\n"
        "  --seed N                 random seed [1]; same seed, same file\n"
        "  --threads N              OpenMP threads [all cores]; results do not depend on it\n"
        "  -q, --quiet              no summary line, no progress\n"
        "  -v, --verbose            more messages\n"
        "  -h, --help               this help\n\n"
        "Streams: chain c starts from Philox stream (seed, 10*2^56 + c); Gibbs call j\n"
        "(j = 0 burn-in, j >= 1 the j-th interval) uses streams 11*2^56 + j*2^32 + c; the\n"
        "DBN down pass uses 12*2^56 (kd_dbn_down).\n\n"
        "Example:\n"
        "  kadanoff generate rbm.h5 -n 1000 --gibbs 1000 --seed 2 -o samples.h5\n");
}

#define STREAM_START ((uint64_t)10 << 56)
#define STREAM_GIBBS ((uint64_t)11 << 56)
#define STREAM_DOWN ((uint64_t)12 << 56)

/* Uniformly random unit values: ±1 or 0/1. */
static void random_start(kd_units units, int n, uint64_t seed, uint64_t stream, float *v)
{
    kd_rng rng;
    kd_rng_init(&rng, seed, stream);
    for (int i = 0; i < n; i++) {
        int8_t s = kd_rng_spin(&rng);
        v[i] = units == KD_UNITS_SPIN ? (float)s : (s > 0 ? 1.0f : 0.0f);
    }
}

int cmd_generate(int argc, char **argv)
{
    const char *cmd = "generate";
    enum { O_GIBBS = 1, O_INTERVAL, O_CHAINS, O_SEED };
    static const struct option opts[] = {
        {"samples", required_argument, 0, 'n'},       {"gibbs", required_argument, 0, O_GIBBS},
        {"interval", required_argument, 0, O_INTERVAL}, {"chains", required_argument, 0, O_CHAINS},
        {"output", required_argument, 0, 'o'},        {"seed", required_argument, 0, O_SEED},
        {"threads", required_argument, 0, CLI_OPT_THREADS}, {"quiet", no_argument, 0, 'q'},
        {"verbose", no_argument, 0, 'v'},             {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    long n = 1000, gibbs = 1000, interval = 10, chains = 0;
    uint64_t seed = 1;
    const char *output = NULL;
    int c, rc = CLI_OK;
    char cmdline[sizeof ((kd_dataset *)0)->command]; /* as typed: getopt_long permutes argv */
    cli_join_args(argc + 1, argv - 1, cmdline, sizeof cmdline);
    optind = 1;
    while ((c = cli_next_option(cmd, argc, argv, ":n:o:qvh", opts, usage, &rc)) > 0) {
        switch (c) {
        case 'n':
            rc = cli_parse_long(cmd, "--samples", optarg, 1, 1000000000L, &n);
            break;
        case O_GIBBS:
            rc = cli_parse_long(cmd, "--gibbs", optarg, 0, 1000000000L, &gibbs);
            break;
        case O_INTERVAL:
            rc = cli_parse_long(cmd, "--interval", optarg, 1, 1000000000L, &interval);
            break;
        case O_CHAINS:
            rc = cli_parse_long(cmd, "--chains", optarg, 1, 1000000000L, &chains);
            break;
        case 'o':
            output = optarg;
            break;
        case O_SEED:
            rc = cli_parse_u64(cmd, "--seed", optarg, &seed);
            break;
        }
    }
    if (c == CLI_OPTIONS_STOP ||
        (rc = cli_operands(cmd, argc, argv, 1, 1, "no MODEL.h5 given")) != CLI_OK)
        return rc;
    if (!output)
        return cli_usage_error(cmd, "-o/--output is required");
    if (chains == 0)
        chains = n < 1000 ? n : 1000;
    if (chains > n)
        return cli_usage_error(cmd, "--chains (%ld) must not exceed --samples (%ld)", chains, n);
    if (gibbs > INT32_MAX || interval > INT32_MAX)
        return cli_usage_error(cmd, "--gibbs and --interval must be below 2^31");
    const long per = (n + chains - 1) / chains; /* stored configurations per chain */
    if (per >= (1L << 24))
        return cli_usage_error(cmd, "at most 2^24 configurations per chain; use more --chains");
    const char *model_path = argv[optind];

    kd_rbm_file *rf = NULL;
    kd_dbn_file *df = NULL;
    kd_status st = kd_model_file_read(model_path, &rf, &df);
    if (st != KD_OK)
        return cli_fail_status(cmd, st);
    if (cli_check_writable(cmd, output) != CLI_OK) {
        kd_rbm_file_free(rf);
        kd_dbn_file_free(df);
        return CLI_FAILURE;
    }
    const kd_rbm_source *src = rf ? &rf->source : &df->source;
    kd_dbn *dbn = NULL;
    if (df && (st = kd_dbn_file_network(df, &dbn)) != KD_OK) {
        kd_dbn_file_free(df);
        return cli_fail_status(cmd, st);
    }
    /* the RBM whose chains run: the model, or the DBN's top layer */
    const kd_rbm *top = rf ? rf->model->rbm : kd_dbn_layer(dbn, kd_dbn_depth(dbn) - 1);
    const int depth = dbn ? kd_dbn_depth(dbn) : 1;
    const int nvt = kd_rbm_nv(top);
    const kd_units vis0 = rf ? kd_rbm_visible_units(top)
                             : kd_rbm_visible_units(kd_dbn_layer(dbn, 0));
    const size_t N = kd_lattice_size(&src->lattice);
    const size_t C = (size_t)chains, total = (size_t)n;

    kd_dataset *d = NULL;
    float *vc = malloc(C * (size_t)nvt * sizeof *vc);      /* chain states */
    float *store = malloc(total * (size_t)nvt * sizeof *store); /* stored top-visible states */
    float *vis = dbn && depth > 1 ? malloc(total * N * sizeof *vis) : NULL;
    rc = CLI_OK;
    if (!vc || !store || (dbn && depth > 1 && !vis))
        rc = cli_fail(cmd, "out of memory for %zu configurations of %zu spins", total, N);
    if (rc == CLI_OK && (st = kd_dataset_new(&d, &src->lattice, total, 0, 0)) != KD_OK)
        rc = cli_fail_status(cmd, st);

    cli_install_interrupt_handler();
    if (rc == CLI_OK) {
        for (size_t k = 0; k < C; k++)
            random_start(kd_rbm_visible_units(top), nvt, seed, STREAM_START + k,
                         vc + k * (size_t)nvt);
        for (long j = 0; j < per && rc == CLI_OK; j++) {
            int steps = (int)(j == 0 ? gibbs : interval);
            st = kd_rbm_gibbs(top, vc, C, steps, seed, STREAM_GIBBS + ((uint64_t)j << 32), NULL);
            if (st != KD_OK) {
                rc = cli_fail_status(cmd, st);
                break;
            }
            for (size_t k = 0; k < C; k++) {
                size_t row = k * (size_t)per + (size_t)j;
                if (row < total)
                    memcpy(store + row * (size_t)nvt, vc + k * (size_t)nvt,
                           (size_t)nvt * sizeof *store);
            }
            if (cli_progress((double)(j + 1) / (double)per, "Gibbs sampling", NULL)) {
                cli_progress_end();
                rc = cli_interrupt_exit(cmd);
            }
        }
        cli_progress_end();
    }
    if (rc == CLI_OK && vis &&
        (st = kd_dbn_down(dbn, store, total, depth - 1, KD_RBM_SAMPLE, seed, STREAM_DOWN, vis)) !=
            KD_OK)
        rc = cli_fail_status(cmd, st);
    double mean_e = 0, mean_abs_m = 0;
    if (rc == CLI_OK) {
        const float *x = vis ? vis : store;
        for (size_t r = 0; r < total; r++) {
            int8_t *s = d->spins + r * N;
            for (size_t i = 0; i < N; i++) /* unit "up" (+1 or 1) is spin +1 */
                s[i] = x[r * N + i] > (vis0 == KD_UNITS_SPIN ? 0.0f : 0.5f) ? 1 : -1;
            d->temperature[r] = KD_TEMPERATURE_UNKNOWN;
            d->energy[r] = kd_ising_energy(&src->lattice, s);
            d->magnetization[r] = kd_ising_magnetization(&src->lattice, s);
            mean_e += d->energy[r];
            mean_abs_m += fabs(d->magnetization[r]);
        }
        snprintf(d->algorithm, sizeof d->algorithm, "%s", dbn ? "dbn-gibbs" : "rbm-gibbs");
        d->seed = seed;
        snprintf(d->burn_in, sizeof d->burn_in, "%ld", gibbs);
        snprintf(d->interval, sizeof d->interval, "%ld", interval);
        d->samples_per_temperature = total;
        d->symmetrize = 0;
        memcpy(d->command, cmdline, sizeof d->command);
        if ((st = kd_dataset_write(output, d)) != KD_OK)
            rc = cli_fail_status(cmd, st);
    }
    if (rc == CLI_OK && !cli_quiet)
        printf("wrote %zu configurations (%zu chains, burn-in %ld, interval %ld) from %s to %s: "
               "<e> = %.5f, <|m|> = %.5f\n",
               total, C, gibbs, interval, model_path, output, mean_e / (double)total,
               mean_abs_m / (double)total);
    kd_dataset_free(d);
    free(vc);
    free(store);
    free(vis);
    kd_dbn_free(dbn);
    kd_rbm_file_free(rf);
    kd_dbn_file_free(df);
    return rc;
}
