/* kadanoff reproduce — run a paper's study end to end and write a report. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "job.h"
#include "mpi_cli.h"
#include "reproduce.h"

typedef struct {
    const char *name;
    const char *description;
    int (*run)(const char *dir, int quick, uint64_t seed);
} study;

static const study studies[] = {
    {"iso2018", "Iso, Shiba & Yokoo 2018: RBM flow toward T_c, thermometer vs physics",
     reproduce_iso2018},
    {"mehta2014",
     "Mehta & Schwab 2014: RG <-> RBM mapping, 1D decimation, DBN locality, hidden units vs "
     "block spins",
     reproduce_mehta2014},
};
static const size_t nstudies = sizeof studies / sizeof studies[0];

static void usage(FILE *f)
{
    fprintf(f, "Usage: kadanoff reproduce STUDY [--quick] [-o DIR] [--seed N] [--threads N] [--resume] [-q]\n\n"
               "Runs every stage of a paper's study as kadanoff commands, writes every\n"
               "intermediate file, the figures (data + gnuplot script + PNG/SVG), DIR/report.html\n"
               "(self-contained) and DIR/report.md, and DIR/commands.sh with the exact commands.\n\n"
               "Studies:\n");
    for (size_t i = 0; i < nstudies; i++)
        fprintf(f, "  %-10s %s\n", studies[i].name, studies[i].description);
    fprintf(f, "\nOptions:\n"
               "  --quick           reduced sizes (about a minute on 2 cores)\n"
               "  -o, --output DIR  output directory (default: kadanoff-STUDY)\n"
               "  --seed N          random seed of every stage (default 1)\n"
               "  --threads N       OpenMP threads (default: all cores); results do not depend on it\n"
               "  --resume          skip the stages an interrupted run completed (recorded in\n"
               "                    DIR/stages.done); give the same options. Every stage is\n"
               "                    deterministic, so the result is the same\n"
               "  -q, --quiet       no progress and no summary table\n"
               "  -h, --help        this help\n\n"
               "SIGINT/SIGTERM stop the running stage as that command does (see its --help),\n"
               "exit 130/143 and name the stage; the files of completed stages are whole.\n\n"
               "Over MPI (mpirun -np P, P > 1; docs/cluster.md) the sample, training and flow\n"
               "stages split their work over the processes as those commands do (same files\n"
               "as on one process; trainings up to rounding unless --reduction deterministic\n"
               "is used by hand); the other stages, the analyses and the report run on rank 0\n"
               "while the others wait. All processes must see DIR (a shared file system).\n");
}

int cmd_reproduce(int argc, char **argv)
{
    const char *cmd = "reproduce", *dir = NULL;
    static const struct option opts[] = {
        {"quick", no_argument, 0, 1},   {"output", required_argument, 0, 'o'},
        {"seed", required_argument, 0, 2}, {"threads", required_argument, 0, CLI_OPT_THREADS},
        {"quiet", no_argument, 0, 'q'}, {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},  {"resume", no_argument, 0, 4},
        {0, 0, 0, 0}};
    int quick = 0, resume = 0, c, rc = CLI_OK;
    uint64_t seed = 1;
    optind = 1;
    while ((c = cli_next_option(cmd, argc, argv, ":o:qvh", opts, usage, &rc)) > 0) {
        switch (c) {
        case 1: quick = 1; break;
        case 4: resume = 1; break;
        case 'o': dir = optarg; break;
        case 2: rc = cli_parse_u64(cmd, "--seed", optarg, &seed); break;
        }
    }
    if (c == CLI_OPTIONS_STOP)
        return rc;
    if ((rc = cli_operands(cmd, argc, argv, 1, 1,
                           "which study? (e.g. kadanoff reproduce iso2018)")) != CLI_OK)
        return rc;
    for (size_t i = 0; i < nstudies; i++)
        if (!strcmp(argv[optind], studies[i].name)) {
            char def[64];
            snprintf(def, sizeof def, "kadanoff-%s", studies[i].name);
            job_set_resume(resume);
            rc = studies[i].run(dir ? dir : def, quick, seed);
            job_set_resume(0);
            /* Over MPI the other ranks wait here for rank 0's analyses and report.
             * A rank that failed on its own does not come: its exit aborts the job
             * (mpicli_finalize). */
            return rc == CLI_OK ? mpicli_agree(cmd, rc) : rc;
        }
    return cli_usage_error(cmd, "unknown study '%s'", argv[optind]);
}
