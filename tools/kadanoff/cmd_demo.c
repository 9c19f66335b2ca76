/*
 * kadanoff demo — a small end-to-end run: sample 10×10 Ising configurations at a
 * few temperatures on both sides of T_c, write the dataset, and compare the
 * Monte Carlo energies and heat capacities with Kaufman's exact finite-lattice
 * values, in units of the error bars.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: kadanoff demo [-o DIR] [--seed N] [--threads N] [-q] [--no-reproduce]\n\n"
        "1. Samples a 10x10 periodic Ising model at T = 1.5, 2.0, 2.269 (T_c), 2.5, 3.0, 6.0\n"
        "   (10000 configurations each, Wolff, automatic burn-in and spacing), writes\n"
        "   DIR/data.h5 (default DIR: kadanoff-demo) and compares <e> and c with Kaufman's\n"
        "   exact values for the 10x10 torus, in units of the Monte Carlo error bar.\n"
        "2. Runs 'kadanoff reproduce iso2018 --quick -o DIR/iso2018' (the RBM flow study\n"
        "   at reduced size, about a minute) and says where its report is;\n"
        "   --no-reproduce skips this step.\n");
}

int cmd_demo(int argc, char **argv)
{
    const char *cmd = "demo", *dir = "kadanoff-demo";
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"seed", required_argument, 0, 1},
                                         {"threads", required_argument, 0, CLI_OPT_THREADS},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {"no-reproduce", no_argument, 0, 3},
                                         {0, 0, 0, 0}};
    static const double temps[] = {1.5, 2.0, 2.269185314213022, 2.5, 3.0, 6.0};
    kd_sample_params p;
    kd_sample_params_init(&p);
    p.algorithm = KD_ALGO_WOLFF;
    p.samples = 10000;
    p.temps = temps;
    p.ntemps = sizeof temps / sizeof temps[0];
    int c, rc = CLI_OK, reproduce = 1;
    optind = 1;
    while ((c = cli_next_option(cmd, argc, argv, ":o:qh", opts, usage, &rc)) > 0) {
        switch (c) {
        case 'o':
            dir = optarg;
            break;
        case 1:
            rc = cli_parse_u64(cmd, "--seed", optarg, &p.seed);
            break;
        case 3:
            reproduce = 0;
            break;
        }
    }
    if (c == CLI_OPTIONS_STOP || (rc = cli_operands(cmd, argc, argv, 0, 0, "")) != CLI_OK)
        return rc;
    if (mkdir(dir, 0777) != 0) {
        struct stat sb;
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return cli_fail(cmd, "cannot create directory '%s'", dir);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/data.h5", dir);
    if (cli_check_writable(cmd, path) != CLI_OK)
        return CLI_FAILURE;

    cli_install_interrupt_handler();
    p.progress = cli_progress;
    kd_dataset *d;
    kd_status st = kd_sample(&p, &d);
    cli_progress_end();
    if (st != KD_OK)
        return cli_interrupted() ? cli_interrupt_exit(cmd) : cli_fail_status(cmd, st);
    cli_join_args(argc + 1, argv - 1, d->command, sizeof d->command);
    if ((st = kd_dataset_write(path, d)) != KD_OK) {
        kd_dataset_free(d);
        return cli_fail_status(cmd, st);
    }
    printf("kadanoff demo: 10x10 periodic Ising model, Wolff, %zu samples per temperature, seed %llu\n\n",
           p.samples, (unsigned long long)p.seed);
    printf("%8s %7s %7s %22s %10s %6s %18s %8s %6s\n", "T", "tau_e", "intvl", "MC <e> +- err",
           "exact e", "dev/σ", "MC c +- err", "exact c", "dev/σ");
    int worst_ok = 1;
    for (size_t t = 0; t < d->ntemps; t++) {
        const kd_temp_summary *s = &d->summary[t];
        kd_thermo ex;
        kd_kaufman_torus(10, 1.0, s->T, &ex);
        double ze = (s->e - ex.e) / s->e_err, zc = (s->c - ex.c) / s->c_err;
        worst_ok &= fabs(ze) < 4 && fabs(zc) < 4;
        printf("%8.4f %7.2f %7.0f %12.6f +- %7.6f %10.6f %6.2f %9.4f +- %6.4f %8.4f %6.2f\n", s->T,
               s->tau_e, s->interval, s->e, s->e_err, ex.e, ze, s->c, s->c_err, ex.c, zc);
    }
    printf("\n%s\nwrote %s (inspect with: kadanoff info %s)\n",
           worst_ok ? "All Monte Carlo values agree with the exact ones within 4 error bars."
                    : "WARNING: some values deviate by more than 4 error bars.",
           path, path);
    kd_dataset_free(d);
    if (!worst_ok)
        return CLI_FAILURE;
    if (!reproduce)
        return CLI_OK;
    char sub[4200], seed_s[32];
    snprintf(sub, sizeof sub, "%s/iso2018", dir);
    snprintf(seed_s, sizeof seed_s, "%llu", (unsigned long long)p.seed);
    printf("\nNext: the RBM flow study of Iso, Shiba & Yokoo (2018) at reduced size:\n"
           "  kadanoff reproduce iso2018 --quick --seed %s -o %s\n\n", seed_s, sub);
    fflush(stdout);
    char *args[] = {"reproduce", "iso2018", "--quick", "--seed", seed_s, "-o", sub,
                    cli_quiet ? "-q" : NULL, NULL};
    rc = cli_run(NULL, args);
    if (rc == CLI_OK)
        printf("\nOpen %s/report.html in a browser (self-contained, no network needed).\n", sub);
    return rc;
}
