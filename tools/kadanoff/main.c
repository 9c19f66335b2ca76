/*
 * kadanoff — command-line front end. `kadanoff CMD [options]`; the commands are
 * a table, each implemented in its own cmd_<name>.c.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "mpi_cli.h"

static const cli_command commands[] = {
    {"sample", "Monte Carlo Ising configurations into a labelled HDF5 dataset", cmd_sample},
    {"exact", "exact references: Onsager, Kaufman finite torus, 1D chain", cmd_exact},
    {"info", "describe any kadanoff file", cmd_info},
    {"export", "write a kadanoff file's arrays as NumPy .npy files", cmd_export},
    {"train-rbm", "train a restricted Boltzmann machine on a dataset", cmd_train_rbm},
    {"train-dbn", "train a deep belief network (stacked RBMs) layer by layer", cmd_train_dbn},
    {"evaluate", "log-likelihood, reconstruction error, pseudo-LL of a model on a dataset", cmd_evaluate},
    {"generate", "sample configurations from a trained RBM into a dataset file", cmd_generate},
    {"train-thermometer", "train the neural-network thermometer (temperature classifier)", cmd_train_thermometer},
    {"measure", "temperature of configurations: thermometer and physical estimators", cmd_measure},
    {"flow", "RBM flow v -> h -> v with temperature readouts at every step", cmd_flow},
    {"analyze", "weight analysis: singular values, W W^T spectrum, receptive fields", cmd_analyze},
    {"decimate", "exact 1D decimation as an RBM: renormalised couplings step by step", cmd_decimate},
    {"blockspin", "Kadanoff block-spin coarse-graining of a dataset (majority rule)", cmd_blockspin},
    {"reproduce", "run a paper's study end to end and write a report", cmd_reproduce},
    {"demo", "small end-to-end run: sample and compare with exact results", cmd_demo},
};
static const size_t ncommands = sizeof commands / sizeof commands[0];

const cli_command *cli_find_command(const char *name)
{
    for (size_t i = 0; i < ncommands; i++)
        if (!strcmp(name, commands[i].name))
            return &commands[i];
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: kadanoff COMMAND [options]\n"
            "       kadanoff COMMAND --help\n"
            "       kadanoff --version\n\n"
            "Renormalization group with Boltzmann machines on Ising models.\n\n"
            "Commands:\n");
    for (size_t i = 0; i < ncommands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nCommon options: -o/--output FILE, --seed N, --threads N, -q/--quiet.\n"
               "Exit status: 0 success, 1 failure, 2 usage error, 130/143 interrupted by\n"
               "SIGINT/SIGTERM (long commands save a checkpoint: see their --help).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
        printf("kadanoff %s\n", kd_version());
        return CLI_OK;
    }
    const cli_command *c = cli_find_command(name);
    if (c) {
        int rc = mpicli_init(&argc, &argv, name); /* no-op unless built with MPI */
        if (rc == CLI_OK) {
            /* A file-size limit (ulimit -f) must make write() fail with EFBIG, reported
             * as an I/O error with the previous file intact, not kill the process.
             * Set after MPI_Init, so an MPI library's own handlers cannot undo it. */
            signal(SIGXFSZ, SIG_IGN);
            cli_setup_logging();
            rc = c->run(argc - 1, argv + 1);
        }
        return mpicli_finalize(rc);
    }
    fprintf(stderr, "kadanoff: unknown command '%s'\n", name);
    fprintf(stderr, "Try 'kadanoff --help' for the list of commands.\n");
    return CLI_USAGE;
}
