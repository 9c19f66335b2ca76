/*
 * The CLI's MPI layer (issue 8; docs/cluster.md). Built only with
 * -DKADANOFF_MPI=ON (tools/kadanoff/mpi_cli.c); without it the functions
 * below are inline stand-ins for a single process and no MPI code is
 * compiled. The library knows nothing of MPI: it offers split points
 * (kd_sample_split, kd_rbm_split, kd_flow_split) whose hooks this layer fills.
 *
 * MPI is started only when the process was launched by an MPI launcher
 * (mpirun/mpiexec/srun set OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_SIZE), so an
 * MPI build run by hand behaves like the serial one. Ranks other than 0 write
 * nothing to stdout/stderr: rank 0 speaks for the job, and failures on other
 * ranks reach it through mpicli_agree or the combine hooks.
 */
#ifndef KD_MPI_CLI_H
#define KD_MPI_CLI_H

#include "cli.h"

#ifdef KADANOFF_MPI

/* Start MPI if launched by an MPI launcher. Returns CLI_OK, or (on every rank)
 * CLI_USAGE after rank 0 said that `command` cannot run on several processes. */
int mpicli_init(int *argc, char ***argv, const char *command);
/* Shut MPI down (if started); rc is this process's exit status. A failure
 * that was not agreed by all ranks (mpicli_agree) aborts the job, so that no
 * rank waits forever for one that gave up. Returns rc. */
int mpicli_finalize(int rc);
int mpicli_rank(void);
int mpicli_size(void);
/* Does `command` split its work over the processes (a collective run by every
 * rank)? Other commands run on one. */
int mpicli_splits(const char *command);
/* Collective: rank 0's value of v, on every rank. */
int mpicli_bcast_int(int v);
/* Collective: every rank passes its status (CLI_OK or the exit status of a
 * failure it has printed with cli_fail). If any rank failed, rank 0 prints the
 * other ranks' messages and every rank returns the largest status. */
int mpicli_agree(const char *cmd, int rc);
/* Collective: 1 on every rank if flag is nonzero on any (e.g. a signal that
 * reached only some processes: all stop at the same point). A stop decided
 * this way counts as agreed for mpicli_finalize. */
int mpicli_any(int flag);
/* Hooks for kd_sample on the parameters p (rows gathered to rank 0, which
 * writes the file); NULL on a single process. */
const kd_sample_split *mpicli_sample_split(const kd_sample_params *p);
/* Fill the hooks of a kd_rbm_split (rank and size too). */
void mpicli_rbm_split(kd_rbm_split *sp);
/* Hooks for kd_flow_run (rows gathered to rank 0); NULL on a single process. */
const kd_flow_split *mpicli_flow_split(void);
/* cli_progress, agreed over all processes (collective: mpicli_any), for the
 * library's progress callbacks that may stop a split run. */
int mpicli_progress(double fraction, const char *label, void *user);

#else /* a single process: no MPI */

static inline int mpicli_init(int *argc, char ***argv, const char *command)
{
    (void)argc, (void)argv, (void)command;
    return CLI_OK;
}
static inline int mpicli_finalize(int rc) { return rc; }
static inline int mpicli_rank(void) { return 0; }
static inline int mpicli_size(void) { return 1; }
static inline int mpicli_splits(const char *command)
{
    (void)command;
    return 1;
}
static inline int mpicli_bcast_int(int v) { return v; }
static inline int mpicli_agree(const char *cmd, int rc)
{
    (void)cmd;
    return rc;
}
static inline int mpicli_any(int flag) { return flag != 0; }
static inline const kd_sample_split *mpicli_sample_split(const kd_sample_params *p)
{
    (void)p;
    return NULL;
}
static inline void mpicli_rbm_split(kd_rbm_split *sp)
{
    sp->rank = 0;
    sp->size = 1;
}
static inline const kd_flow_split *mpicli_flow_split(void) { return NULL; }
static inline int mpicli_progress(double fraction, const char *label, void *user)
{
    return cli_progress(fraction, label, user);
}

#endif

/* mpicli_agree on a library call's status: where it is not KD_OK, the rank
 * reports it with cli_fail_status. Returns CLI_OK or the agreed failure. */
static inline int mpicli_agree_status(const char *cmd, kd_status st)
{
    return mpicli_agree(cmd, st == KD_OK ? CLI_OK : cli_fail_status(cmd, st));
}

#endif
