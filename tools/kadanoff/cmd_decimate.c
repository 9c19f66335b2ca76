/* kadanoff decimate — 1D decimation as an RBM: renormalised couplings by exact tracing. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "io/atomic.h"
#include "kadanoff/rg.h"

#define MAX_STEPS 30
#define DBN_MAX_STEPS 11 /* the deep network has 2^(steps+1) spins at level 0 */
#define RESOLVED 1e-10   /* smallest |K| whose xi the table prints */

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: kadanoff decimate [--K K] [--steps N] [--chain-size 2M] [-o TABLE.tsv]\n\n"
        "Decimation of the periodic Ising chain H = -K sum s_i s_{i+1} as a restricted\n"
        "Boltzmann machine (Mehta & Schwab 2014). The chain is bipartite: the kept (even)\n"
        "sites form the hidden layer, the decimated (odd) sites the visible layer, with\n"
        "weight K on every bond and zero biases, so the RBM's distribution is the chain's.\n"
        "Each step traces out the visible layer numerically (every term of\n"
        "sum_v exp(-E(v,h)) on a ring of 2M spins; decimation is exact for any length)\n"
        "and projects the result onto spin products, which gives the new coupling K' and\n"
        "the free-energy constant; the kept ring is the next step's input.\n\n"
        "Options:\n"
        "  --K K                    starting coupling K = J/T, 0 < K <= 1000 (default 1)\n"
        "  --steps N                decimation steps, 1..%d (default 5)\n"
        "  --chain-size 2M          spins of the ring traced per step, even, 4..%d\n"
        "                           (default 8; the cost grows as 2^(2M))\n"
        "  -o, --output FILE        also write the table as tab-separated values\n"
        "                           (written atomically)\n"
        "  --threads N              OpenMP threads (default: all cores)\n"
        "  -q, --quiet              no table on stdout\n"
        "  -v, --verbose            more messages\n"
        "  -h, --help               this help\n\n"
        "Prints per step n: K^(n) by exact tracing, 1/2 ln cosh 2K^(n-1), their difference,\n"
        "the free-energy constant per kept spin (traced and ln 2 + 1/2 ln cosh 2K^(n-1)),\n"
        "the correlation length xi = -1/ln tanh K and the ratio xi^(n-1)/xi^(n) (exactly 2),\n"
        "and ln Z/N of the infinite chain rebuilt from the constants (= ln 2cosh K).\n"
        "Then the exact-mapping check of each step's RBM, with H(v) the decimated sites'\n"
        "marginal of the chain: max |H^RG - H^RBM| (relative), max |Tr_h e^T - 1|, KL(P||p)\n"
        "and the free-energy difference dF (all zero up to rounding: decimation is an exact\n"
        "RG step), and the layers of the equivalent deep network (layer n weights K^(n)).\n\n"
        "Example:\n"
        "  kadanoff decimate --K 1.0 --steps 5 -o decimation.tsv\n",
        MAX_STEPS, KD_RG_MAX_CHAIN);
}

static int write_table(const char *cmd, const char *path, const char *cmdline,
                       const kd_rg_decimation_step *t, const kd_rg_mapping *m, int steps, int chain)
{
    kd_atomic a;
    if (kd_atomic_begin(&a, path) != KD_OK)
        return cli_fail_status(cmd, KD_ERR_IO);
    FILE *f = fopen(a.tmp, "w");
    if (!f) {
        kd_atomic_abort(&a);
        return cli_fail(cmd, "cannot write '%s'", path);
    }
    fprintf(f, "# kadanoff %s: %s\n# chain traced per step: %d spins\n", kd_version(), cmdline,
            chain);
    fprintf(f, "n\tK_in\tK\tK_formula\tK_abs_diff\tconstant\tconstant_formula\t"
               "constant_abs_diff\txi_in\txi\txi_ratio\tlog_z_per_spin\thrg_max_rel\t"
               "trace_max_dev\tkl\tdelta_f\n");
    for (int n = 0; n < steps; n++)
        fprintf(f, "%d\t%.17g\t%.17g\t%.17g\t%.3e\t%.17g\t%.17g\t%.3e\t%.17g\t%.17g\t%.17g\t%.17g\t"
                   "%.3e\t%.3e\t%.3e\t%.3e\n",
                t[n].step, t[n].K_in, t[n].K, t[n].K_formula, fabs(t[n].K - t[n].K_formula),
                t[n].constant, t[n].constant_formula, fabs(t[n].constant - t[n].constant_formula),
                t[n].xi_in, t[n].xi, t[n].xi_in / t[n].xi, t[n].log_z_per_spin, m[n].hrg_max_rel,
                m[n].trace_max_dev, m[n].kl, m[n].delta_f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        kd_atomic_abort(&a);
        return cli_fail(cmd, "cannot write '%s'", path);
    }
    if (kd_atomic_commit(&a) != KD_OK)
        return cli_fail_status(cmd, KD_ERR_IO);
    return CLI_OK;
}

static void print_table(double K, int chain, const kd_rg_decimation_step *t,
                        const kd_rg_mapping *m, int steps)
{
    printf("# decimation of H = -K sum s_i s_{i+1} from K = %.10g, traced on rings of %d spins\n",
           K, chain);
    printf("%3s %18s %18s %9s %18s %18s %9s %12s %9s\n", "n", "K^(n) traced",
           "1/2 ln cosh 2K", "|diff|", "const traced", "const formula", "|diff|", "xi^(n)",
           "xi ratio");
    int unresolved = 0;
    for (int n = 0; n < steps; n++) {
        char xi[16] = "-", ratio[16] = "-";
        /* the trace has an absolute error of ~1e-16 (it projects sums of
         * O(1) terms), so K^(n) below ~1e-10 no longer fixes xi */
        if (fabs(t[n].K) >= RESOLVED && fabs(t[n].K_in) >= RESOLVED) {
            snprintf(xi, sizeof xi, "%12.6g", t[n].xi);
            snprintf(ratio, sizeof ratio, "%9.6f", t[n].xi_in / t[n].xi);
        } else {
            unresolved = 1;
        }
        printf("%3d %18.12f %18.12f %9.2e %18.12f %18.12f %9.2e %12s %9s%s\n", t[n].step, t[n].K,
               t[n].K_formula, fabs(t[n].K - t[n].K_formula), t[n].constant,
               t[n].constant_formula, fabs(t[n].constant - t[n].constant_formula), xi, ratio,
               fabs(t[n].K) < RESOLVED ? " *" : "");
    }
    if (unresolved)
        printf("* K^(n) below %g is at the rounding level of the trace (absolute error ~1e-16):\n"
               "  the coupling is zero to that accuracy and xi is not resolved.\n",
               RESOLVED);
    printf("ln Z/N of the infinite chain from the constants: %.15f (exact ln 2cosh K = %.15f)\n",
           t[steps - 1].log_z_per_spin, log(2.0) + log(cosh(K)));
    printf("\n# exact-mapping check of each step's RBM (H(v) = decimated sites' chain marginal)\n");
    printf("%3s %14s %16s %16s %11s %11s\n", "n", "K^(n-1)", "|H^RG-H^RBM| rel",
           "max|Tr e^T - 1|", "KL(P||p)", "dF");
    for (int n = 0; n < steps; n++)
        printf("%3d %14.10f %16.2e %16.2e %11.2e %11.2e\n", n + 1, t[n].K_in, m[n].hrg_max_rel,
               m[n].trace_max_dev, m[n].kl, m[n].delta_f);
}

static void print_network(const double *Ks, int steps)
{
    if (steps > DBN_MAX_STEPS) {
        printf("\n# deep network: not built for more than %d steps (2^(steps+1) spins)\n",
               DBN_MAX_STEPS);
        return;
    }
    kd_dbn *dbn = NULL;
    if (kd_rg_decimation_dbn(Ks, steps, 2 << steps, &dbn) != KD_OK) {
        printf("\n# deep network: %s\n", kd_last_error());
        kd_clear_error();
        return;
    }
    printf("\n# deep network (kd_rg_decimation_dbn): widths");
    for (int l = 0; l <= steps; l++)
        printf("%s%d", l ? "-" : " ", kd_dbn_width(dbn, l));
    printf("; layer weights (float32)");
    for (int l = 0; l < steps; l++) {
        const kd_rbm *r = kd_dbn_layer(dbn, l);
        int nh = kd_rbm_nh(r);
        /* visible site 1 couples to hidden unit 0 (and 1) with K^(l) */
        double w = kd_rbm_weights(r)[nh];
        printf(" %.8g", nh == 1 ? w / 2 : w);
    }
    printf("\n");
    kd_dbn_free(dbn);
}

int cmd_decimate(int argc, char **argv)
{
    const char *cmd = "decimate";
    static const struct option opts[] = {
        {"K", required_argument, 0, 1},         {"steps", required_argument, 0, 2},
        {"chain-size", required_argument, 0, 3}, {"output", required_argument, 0, 'o'},
        {"threads", required_argument, 0, CLI_OPT_THREADS},   {"quiet", no_argument, 0, 'q'},
        {"verbose", no_argument, 0, 'v'},       {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    double K = 1.0;
    long steps = 5, chain = 8;
    const char *output = NULL;
    int c, rc = CLI_OK;
    optind = 1;
    while ((c = cli_next_option(cmd, argc, argv, ":o:qvh", opts, usage, &rc)) > 0) {
        switch (c) {
        case 1:
            rc = cli_parse_double(cmd, "--K", optarg, 0, 1000, &K);
            if (rc == CLI_OK && !(K > 0))
                return cli_usage_error(cmd, "--K must be positive, got %g", K);
            break;
        case 2:
            rc = cli_parse_long(cmd, "--steps", optarg, 1, MAX_STEPS, &steps);
            break;
        case 3:
            rc = cli_parse_long(cmd, "--chain-size", optarg, 4, KD_RG_MAX_CHAIN, &chain);
            if (rc == CLI_OK && chain % 2)
                return cli_usage_error(cmd, "--chain-size must be even (kept and decimated "
                                            "sites alternate), got %ld",
                                       chain);
            break;
        case 'o':
            output = optarg;
            break;
        }
    }
    if (c == CLI_OPTIONS_STOP || (rc = cli_operands(cmd, argc, argv, 0, 0, "")) != CLI_OK)
        return rc;
    if (output && cli_check_writable(cmd, output) != CLI_OK)
        return CLI_FAILURE;

    kd_rg_decimation_step table[MAX_STEPS];
    kd_rg_mapping checks[MAX_STEPS];
    double Ks[MAX_STEPS];
    kd_status st = kd_rg_decimation_run(K, (int)steps, (int)chain, table);
    for (int n = 0; st == KD_OK && n < steps; n++) {
        Ks[n] = table[n].K_in;
        st = kd_rg_decimation_check(table[n].K_in, (int)chain, &checks[n]);
    }
    if (st != KD_OK)
        return cli_fail_status(cmd, st);
    if (!cli_quiet) {
        print_table(K, (int)chain, table, checks, (int)steps);
        print_network(Ks, (int)steps);
    }
    if (output) {
        char line[1024];
        cli_join_args(argc + 1, argv - 1, line, sizeof line);
        if ((rc = write_table(cmd, output, line, table, checks, (int)steps, (int)chain)) != CLI_OK)
            return rc;
        if (!cli_quiet)
            printf("wrote %ld rows to %s\n", steps, output);
    }
    return CLI_OK;
}
