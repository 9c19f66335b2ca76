/* kadanoff blockspin — Kadanoff block spins (majority rule) of every configuration of a dataset. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kadanoff/rg.h"

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: kadanoff blockspin DATA.h5 -b B [--seed N] -o COARSE.h5\n\n"
        "Kadanoff block spins: every configuration of a dataset is cut into blocks of B\n"
        "sites (chain) or BxB sites (square lattice), and each block becomes one spin, the\n"
        "sign of its sum (majority rule). A tied block (even B) gets a random sign from a\n"
        "counter-based stream of (seed, configuration), so the result depends on the seed\n"
        "alone. The coarse dataset keeps the temperatures; energy, magnetisation, the\n"
        "per-temperature summary and G(r) are recomputed on the coarse lattice (with the\n"
        "fine lattice's J and h); the file records B, the seed and the source file.\n\n"
        "Options:\n"
        "  -b, --block B            block size, B >= 2, dividing L, with L/B >= 2\n"
        "  -o, --output FILE        output dataset (required; written atomically)\n"
        "  --seed N                 seed for tie breaking (default 1)\n"
        "  --threads N              OpenMP threads (default: all cores); results do not\n"
        "                           depend on it\n"
        "  -q, --quiet              no summary\n"
        "  -v, --verbose            more messages\n"
        "  -h, --help               this help\n\n"
        "Prints per temperature: configurations, <e> and <|m|> of the fine and the coarse\n"
        "configurations.\n\n"
        "Example:\n"
        "  kadanoff blockspin data.h5 -b 2 --seed 7 -o coarse.h5\n");
}

static void print_summary(const kd_dataset *fine, const kd_dataset *coarse, int b)
{
    printf("# block spins b=%d: %s L=%d -> L=%d, %zu configurations\n", b,
           kd_lattice_kind_name(fine->lattice.kind), fine->lattice.L, coarse->lattice.L,
           coarse->n);
    printf("%8s %7s %12s %12s %12s %12s\n", "T", "n", "<e> fine", "<e> coarse", "<|m|> fine",
           "<|m|> coarse");
    for (size_t t = 0; t < coarse->ntemps; t++) {
        const kd_temp_summary *c = &coarse->summary[t];
        double ef = 0, mf = 0;
        size_t k = 0;
        for (size_t r = 0; r < fine->n; r++)
            if (fine->temperature[r] == c->T) {
                ef += fine->energy[r];
                mf += fabs(fine->magnetization[r]);
                k++;
            }
        printf("%8.4g %7zu %12.6f %12.6f %12.6f %12.6f\n", c->T, c->n, ef / (double)k, c->e,
               mf / (double)k, c->abs_m);
    }
}

int cmd_blockspin(int argc, char **argv)
{
    const char *cmd = "blockspin";
    static const struct option opts[] = {
        {"block", required_argument, 0, 'b'},  {"output", required_argument, 0, 'o'},
        {"seed", required_argument, 0, 1},     {"threads", required_argument, 0, CLI_OPT_THREADS},
        {"quiet", no_argument, 0, 'q'},        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    long b = 0;
    uint64_t seed = 1;
    const char *output = NULL;
    int c, rc = CLI_OK;
    optind = 1;
    while ((c = cli_next_option(cmd, argc, argv, ":b:o:qvh", opts, usage, &rc)) > 0) {
        switch (c) {
        case 'b':
            rc = cli_parse_long(cmd, "-b", optarg, 2, KD_LATTICE_MAX_L_CHAIN, &b);
            break;
        case 'o':
            output = optarg;
            break;
        case 1:
            rc = cli_parse_u64(cmd, "--seed", optarg, &seed);
            break;
        }
    }
    if (c == CLI_OPTIONS_STOP ||
        (rc = cli_operands(cmd, argc, argv, 1, 1, "an input dataset is required")) != CLI_OK)
        return rc;
    if (!b)
        return cli_usage_error(cmd, "-b/--block is required (e.g. -b 2)");
    if (!output)
        return cli_usage_error(cmd, "-o/--output is required");
    const char *input = argv[optind];

    kd_dataset *fine = NULL, *coarse = NULL;
    kd_status st = kd_dataset_read(input, &fine);
    if (st != KD_OK)
        return cli_fail_status(cmd, st);
    kd_lattice cl;
    if (kd_rg_blockspin_lattice(&fine->lattice, (int)b, &cl) != KD_OK) {
        kd_dataset_free(fine);
        return cli_fail(cmd, "%s: %s", input, kd_last_error());
    }
    if (cli_check_writable(cmd, output) != CLI_OK) {
        kd_dataset_free(fine);
        return CLI_FAILURE;
    }
    st = kd_rg_blockspin_dataset(fine, (int)b, seed, &coarse);
    if (st == KD_OK) {
        kd_rg_blockspin_provenance pv = {(int)b, seed, fine->lattice.L, input, fine->command,
                                         fine->kadanoff_version};
        cli_join_args(argc + 1, argv - 1, coarse->command, sizeof coarse->command);
        st = kd_rg_blockspin_write(output, coarse, &pv);
    }
    if (st != KD_OK) {
        kd_dataset_free(fine);
        kd_dataset_free(coarse);
        return cli_fail_status(cmd, st);
    }
    if (!cli_quiet) {
        print_summary(fine, coarse, (int)b);
        printf("wrote %zu configurations to %s\n", coarse->n, output);
    }
    kd_dataset_free(fine);
    kd_dataset_free(coarse);
    return CLI_OK;
}
