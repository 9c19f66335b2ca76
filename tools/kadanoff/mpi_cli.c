/*
 * The CLI's MPI layer (mpi_cli.h; built only with -DKADANOFF_MPI=ON).
 *
 * sample: kd_sample runs the work items i with i % P == rank into a full-size
 * dataset (untouched rows of calloc'ed memory cost no physical pages); the
 * combine hook below sends every item's rows to rank 0 in item order, which
 * builds the summary and writes the one output file with the serial HDF5
 * writer (atomic: temporary name, then rename). Gathered writes were chosen
 * over parallel HDF5: /spins is deflate-compressed (parallel HDF5 can write
 * compressed chunks only collectively, and libkadanoff would have to link the
 * MPI build of HDF5, which the MPI-free default build must not need), and the
 * gather moves at most the uncompressed data once, which bench/mpi_scaling.sh
 * measures at a small fraction of the sampling time (docs/cluster.md).
 *
 * flow: each process runs its whole blocks of chains (kd_flow_split_range);
 * after every step the per-chain records (e, m, G(r)) and the kept
 * configurations of a step, and at an interrupt the chains' state, go to rank
 * 0 by MPI_Gatherv; rank 0 measures the readouts and writes the flow (or its
 * checkpoint). The same bits for any number of processes.
 *
 * train-rbm, train-dbn, train-thermometer: the hooks of kd_data_split
 * (kd_rbm_split) are MPI_Reduce + MPI_Bcast (fast mode's sums, the same bits
 * everywhere), an in-place MPI_Allgatherv of
 * whole rows (deterministic mode's block gradients, and the RBM's persistent
 * chains at the end of an epoch) and MPI_Bcast.
 */
#include <fcntl.h>
#include <limits.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h" /* kd_set_error: the combine hook reports like the library */
#include "mpi_cli.h"

static int started = 0, agreed = 0, rank = 0, size = 1;
static int saved_stderr = -1; /* non-root ranks: the real stderr, for a last word */

/* Was this process started by an MPI launcher? (Open MPI's mpirun, PMIx as
 * used by srun and recent launchers, PMI-1/2 as used by MPICH's hydra.) */
static int launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_SIZE") ||
           getenv("PMI_RANK");
}

int mpicli_splits(const char *command)
{
    return !strcmp(command, "sample") || !strcmp(command, "train-rbm") ||
           !strcmp(command, "train-dbn") || !strcmp(command, "flow") ||
           !strcmp(command, "train-thermometer");
}

static void silence(void)
{
    fflush(stdout);
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        close(null);
    }
    cli_quiet = 1;
}

int mpicli_init(int *argc, char ***argv, const char *command)
{
    if (!launched())
        return CLI_OK;
    int provided;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    started = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rank != 0)
        silence();
    if (size > 1 && !mpicli_splits(command) && strcmp(command, "reproduce") != 0)
        return cli_usage_error(command,
                               "%d MPI processes were started, but this command runs on one "
                               "(only sample, train-rbm, train-dbn, train-thermometer, flow "
                               "and reproduce split their work over MPI processes); start it "
                               "without mpirun or with -np 1",
                               size);
    return CLI_OK;
}

int mpicli_finalize(int rc)
{
    if (!started)
        return rc;
    if (size > 1 && rc != CLI_OK && rc != CLI_USAGE && !agreed) {
        /* This rank stopped on its own: the others may wait for it forever. */
        char line[4200];
        int n = snprintf(line, sizeof line,
                         "kadanoff: MPI rank %d of %d stopped (exit status %d): %s; "
                         "aborting the job\n",
                         rank, size, rc, *cli_last_failure() ? cli_last_failure() : "see above");
        if (n > 0 && rank != 0 && saved_stderr >= 0)
            (void)!write(saved_stderr, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        else if (n > 0 && rank == 0)
            fputs(line, stderr);
        fflush(NULL);
        MPI_Abort(MPI_COMM_WORLD, rc);
    }
    MPI_Finalize();
    return rc;
}

int mpicli_rank(void) { return rank; }
int mpicli_size(void) { return size; }

int mpicli_bcast_int(int v)
{
    if (started && size > 1)
        MPI_Bcast(&v, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return v;
}

/* ---- failures ------------------------------------------------------------------- */

typedef struct {
    int code;
    char msg[4096];
} failure;

/* Collective: gather every rank's (code, message) to rank 0. */
static failure *gather_failures(int code, const char *msg)
{
    failure mine;
    memset(&mine, 0, sizeof mine);
    mine.code = code;
    snprintf(mine.msg, sizeof mine.msg, "%s", code ? msg : "");
    failure *all = rank == 0 ? calloc((size_t)size, sizeof *all) : NULL;
    if (rank == 0 && !all)
        MPI_Abort(MPI_COMM_WORLD, CLI_FAILURE); /* cannot even report */
    MPI_Gather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE, 0,
               MPI_COMM_WORLD);
    return all;
}

int mpicli_agree(const char *cmd, int rc)
{
    if (!started || size == 1)
        return rc;
    int worst;
    MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (worst == CLI_OK)
        return CLI_OK;
    failure *all = gather_failures(rc, cli_last_failure());
    if (rank == 0) {
        int nfailed = 0;
        for (int r = 0; r < size; r++) {
            if (!all[r].code)
                continue;
            nfailed++;
            /* rank 0 printed its own; print another rank's unless it says the same */
            if (r > 0 && !(all[0].code && !strcmp(all[r].msg, all[0].msg)))
                fprintf(stderr, "kadanoff %s: error: MPI rank %d: %s\n", cmd, r,
                        *all[r].msg ? all[r].msg : "failed");
        }
        fprintf(stderr, "kadanoff %s: %d of %d MPI processes failed; all stop\n", cmd, nfailed,
                size);
        free(all);
    }
    agreed = 1;
    return worst;
}

int mpicli_any(int flag)
{
    if (!started || size == 1)
        return flag != 0;
    int mine = flag != 0, any;
    MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any)
        agreed = 1;
    return any;
}

int mpicli_progress(double fraction, const char *label, void *user)
{
    return mpicli_any(cli_progress(fraction, label, user));
}

/* ---- point-to-point and collective transfers of any size ------------------------ */

#define CHUNK (1 << 30) /* bytes or elements per MPI call: counts are ints */

static void send_bytes(const void *buf, size_t n, int peer)
{
    const char *p = buf;
    for (size_t off = 0; off < n; off += CHUNK) {
        size_t m = n - off < CHUNK ? n - off : CHUNK;
        MPI_Send(p + off, (int)m, MPI_BYTE, peer, 0, MPI_COMM_WORLD);
    }
}

static void recv_bytes(void *buf, size_t n, int peer)
{
    char *p = buf;
    for (size_t off = 0; off < n; off += CHUNK) {
        size_t m = n - off < CHUNK ? n - off : CHUNK;
        MPI_Recv(p + off, (int)m, MPI_BYTE, peer, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
}

/* ---- sample -------------------------------------------------------------------- */

/* Move (or receive on rank 0) one item's rows and chain records. */
static void transfer_item(const kd_sample_params *p, kd_dataset *d, char *info, size_t info_bytes,
                          size_t item, int owner)
{
    size_t row0, nrows, chain0, nchains, N = kd_lattice_size(&p->lattice);
    kd_sample_item(p, item, &row0, &nrows, &chain0, &nchains);
    struct {
        void *base;
        size_t bytes;
    } parts[5] = {{d->spins + row0 * N, nrows * N},
                  {d->temperature + row0, nrows * sizeof(double)},
                  {d->energy + row0, nrows * sizeof(double)},
                  {d->magnetization + row0, nrows * sizeof(double)},
                  {info + chain0 * info_bytes, nchains * info_bytes}};
    for (int k = 0; k < 5; k++) {
        if (rank == 0)
            recv_bytes(parts[k].base, parts[k].bytes, owner);
        else
            send_bytes(parts[k].base, parts[k].bytes, 0);
    }
}

/* Collective, for the library's combine hooks: KD_OK if every process's
 * `local` status is KD_OK; else an error on every process, on rank 0 its own
 * or (if it did not fail) the first failed rank's, named. */
static kd_status agree_status(kd_status local)
{
    int bad = local != KD_OK, any;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (!any)
        return KD_OK;
    failure *all = gather_failures((int)local, kd_last_error());
    agreed = 1;
    if (rank != 0)
        return kd_set_error(KD_ERR_INTERNAL, "another MPI process failed");
    if (local != KD_OK) { /* rank 0's own message stands */
        free(all);
        return local;
    }
    int r = 1;
    while (!all[r].code)
        r++;
    kd_status code = (kd_status)all[r].code;
    kd_set_error(code, "MPI rank %d: %s", r, all[r].msg);
    free(all);
    return code;
}

static kd_status sample_combine(void *ctx, kd_status local, kd_dataset *d, void *info,
                                size_t info_bytes, size_t nchains)
{
    (void)nchains;
    const kd_sample_params *p = ctx;
    kd_status st = agree_status(local);
    if (st != KD_OK)
        return st;
    double t0 = MPI_Wtime();
    size_t bytes = 0, nitems = kd_sample_nitems(p);
    for (size_t item = 0; item < nitems; item++) {
        int owner = (int)(item % (size_t)size);
        if (owner == 0 || (rank != 0 && rank != owner))
            continue;
        transfer_item(p, d, info, info_bytes, item, owner);
        size_t row0, nrows, chain0, nch;
        kd_sample_item(p, item, &row0, &nrows, &chain0, &nch);
        bytes += nrows * (kd_lattice_size(&p->lattice) + 3 * sizeof(double));
    }
    if (rank == 0 && cli_verbose)
        fprintf(stderr, "kadanoff sample: gathered %.3f MB from %d MPI processes in %.3f s\n",
                (double)bytes / 1e6, size - 1, MPI_Wtime() - t0);
    return KD_OK;
}

const kd_sample_split *mpicli_sample_split(const kd_sample_params *p)
{
    static kd_sample_split sp;
    if (!started || size == 1)
        return NULL;
    sp = (kd_sample_split){rank, size, sample_combine, (void *)p};
    return &sp;
}

/* ---- flow ---------------------------------------------------------------------- */

/* Counts and displacements (in rows) of the processes' row ranges, for the
 * v-collectives: *counts gets 2·size ints (counts, then displacements). */
static kd_status row_counts(const size_t *first, int **counts)
{
    *counts = NULL;
    if (first[size] > INT_MAX)
        return kd_set_error(KD_ERR_UNSUPPORTED, "MPI transfer of %zu rows: too many for one call",
                            first[size]);
    int *c = malloc(2 * (size_t)size * sizeof *c);
    if (!c)
        return kd_set_error(KD_ERR_NOMEM, "out of memory for an MPI transfer");
    for (int p = 0; p < size; p++) {
        c[p] = (int)(first[p + 1] - first[p]);
        c[size + p] = (int)first[p];
    }
    *counts = c;
    return KD_OK;
}

/* Rows of row_bytes bytes: rank p's rows [first[p], first[p+1]) to rank 0,
 * after every process's status is agreed. One row is one MPI datatype. */
static kd_status flow_gather(void *ctx, kd_status local, void *x, size_t row_bytes,
                             const size_t *first)
{
    (void)ctx;
    kd_status st = agree_status(local);
    if (st != KD_OK)
        return st;
    int *counts = NULL;
    st = row_bytes > INT_MAX ? kd_set_error(KD_ERR_UNSUPPORTED,
                                            "MPI gather of rows of %zu bytes: too large", row_bytes)
                             : row_counts(first, &counts);
    if ((st = agree_status(st)) != KD_OK) {
        free(counts);
        return st;
    }
    MPI_Datatype row;
    MPI_Type_contiguous((int)row_bytes, MPI_BYTE, &row);
    MPI_Type_commit(&row);
    char *mine = (char *)x + first[rank] * row_bytes;
    MPI_Gatherv(rank == 0 ? MPI_IN_PLACE : mine, counts[rank], row, x, counts, counts + size, row,
                0, MPI_COMM_WORLD);
    MPI_Type_free(&row);
    free(counts);
    return KD_OK;
}

const kd_flow_split *mpicli_flow_split(void)
{
    static kd_flow_split sp;
    if (!started || size == 1)
        return NULL;
    sp = (kd_flow_split){rank, size, flow_gather, NULL};
    return &sp;
}

/* ---- train-rbm ---------------------------------------------------------------- */

/* The sum hook promises the same bits on every process: each process then
 * takes its own decisions from the sums (a divergence, the next step) and
 * they must agree. MPI_Allreduce does not promise that (an implementation may
 * add in a different order on different processes), so the sum is reduced to
 * rank 0 and broadcast from there. */
static kd_status rbm_sum(void *ctx, float *x, size_t n)
{
    (void)ctx;
    for (size_t off = 0; off < n; off += CHUNK) {
        size_t m = n - off < CHUNK ? n - off : CHUNK;
        MPI_Reduce(rank == 0 ? MPI_IN_PLACE : x + off, rank == 0 ? x + off : NULL, (int)m,
                   MPI_FLOAT, MPI_SUM, 0, MPI_COMM_WORLD);
        MPI_Bcast(x + off, (int)m, MPI_FLOAT, 0, MPI_COMM_WORLD);
    }
    return KD_OK;
}

static kd_status rbm_bcast(void *ctx, float *x, size_t n)
{
    (void)ctx;
    for (size_t off = 0; off < n; off += CHUNK) {
        size_t m = n - off < CHUNK ? n - off : CHUNK;
        MPI_Bcast(x + off, (int)m, MPI_FLOAT, 0, MPI_COMM_WORLD);
    }
    return KD_OK;
}

/* In-place all-gather of whole rows of len floats: rank p owns rows
 * [first[p], first[p+1]). The row is one MPI datatype, so the counts are rows. */
static kd_status rbm_gather(void *ctx, float *x, size_t len, const size_t *first)
{
    (void)ctx;
    if (len > INT_MAX)
        return kd_set_error(KD_ERR_UNSUPPORTED,
                            "MPI gather of rows of %zu floats: too large for one call", len);
    int *counts;
    kd_status st = row_counts(first, &counts);
    if (st != KD_OK)
        return st;
    int *displs = counts + size;
    MPI_Datatype row;
    MPI_Type_contiguous((int)len, MPI_FLOAT, &row);
    MPI_Type_commit(&row);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, x, counts, displs, row, MPI_COMM_WORLD);
    MPI_Type_free(&row);
    free(counts);
    return KD_OK;
}

void mpicli_rbm_split(kd_rbm_split *sp)
{
    sp->rank = rank;
    sp->size = size;
    if (size > 1) {
        sp->sum = rbm_sum;
        sp->gather = rbm_gather;
        sp->bcast = rbm_bcast;
        sp->ctx = NULL;
    }
}
