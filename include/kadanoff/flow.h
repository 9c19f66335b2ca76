/*
 * kadanoff/flow.h — the RBM flow of Iso, Shiba & Yokoo (2018).
 *
 * Starting from configurations v_0 (one per chain), iterate
 *     h_n ~ p(h | v_{n-1}),   v_n ~ p(v | h_n)          (KD_FLOW_SAMPLE)
 * or the deterministic mean-field map h_n = E[h | v_{n-1}], v_n = E[v | h_n]
 * (KD_FLOW_MEAN_FIELD), and measure the configurations {v_n} at every step n
 * with physical observables of the Ising model they came from: energy per spin,
 * magnetisation, correlation function G(r). Errors come from the spread over
 * chains, which are independent (each has its own Philox streams).
 *
 * Visible values are converted to the spin scale s = v (spin units) or
 * s = 2v - 1 (binary units); mean-field states are real numbers in [-1, 1] and
 * are measured as such (kd_ising_energy_real etc.).
 *
 * Temperature readouts (thermometer, physical estimators) are computed from the
 * kept configurations by kadanoff/thermometry.h; this module only runs the flow.
 */
#ifndef KADANOFF_FLOW_H
#define KADANOFF_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "kadanoff/core.h"
#include "kadanoff/ising.h"
#include "kadanoff/rbm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { KD_FLOW_SAMPLE = 0, KD_FLOW_MEAN_FIELD = 1 } kd_flow_mode;

const char *kd_flow_mode_name(kd_flow_mode m); /* "sample" / "mean-field" */

/* Splitting a flow's chains over several processes (used by the CLI's MPI
 * layer, tools/kadanoff/mpi_*.c; the library itself knows nothing of MPI).
 * The chains are cut into blocks of KD_FLOW_BLOCK (the last may be shorter),
 * and every RBM pass works on one block at a time whatever the split, so a
 * chain's arithmetic (the shape of every matrix product included) and its
 * Philox streams do not depend on `size`: the flow is the same bits for any
 * number of processes. Process `rank` of `size` runs the chains
 * [first[rank], first[rank+1]) of kd_flow_split_range; every process holds the
 * same model, options and start configurations (or resume state). After every
 * step, and once more for the chains' state when the run stops early, every
 * process calls
 *     gather(ctx, local, x, row_bytes, first)
 * with `local` its own status (kd_last_error() its message): process p has
 * filled rows [first[p], first[p+1]) of row_bytes bytes of x; gather must fill
 * every row of x on rank 0 and return an error on every process if any
 * process failed. Rank 0 then returns the whole flow (and *partial); the other
 * ranks return KD_OK with *out = NULL (and *partial = NULL). The progress
 * callback must return the same value on every process (e.g. an interrupt
 * agreed over all of them). */
#define KD_FLOW_BLOCK 64
typedef struct {
    int rank, size;
    kd_status (*gather)(void *ctx, kd_status local, void *x, size_t row_bytes,
                        const size_t *first);
    void *ctx;
} kd_flow_split;

/* The chains of every process under `split` (NULL: one process): first[p] for
 * p = 0..size, first[0] = 0, first[size] = chains, whole blocks of
 * KD_FLOW_BLOCK chains per process. first has size + 1 entries. */
void kd_flow_split_range(const kd_flow_split *split, size_t chains, size_t *first);

typedef struct {
    int steps;         /* flow steps after the start, >= 1 */
    kd_flow_mode mode;
    uint64_t seed;
    int keep_every;    /* keep configurations of steps 0, k, 2k, ... and the last; 1 = all */
    kd_progress_fn progress;
    void *progress_user;

    /* Interrupt and resume. The draws of step n use the Philox streams
     * (seed, 2^48 + 2n·chains + c) and (seed, 2^48 + (2n+1)·chains + c) of chain c,
     * so steps n+1.. depend only on v_n, the seed and the shape: a flow cut
     * after step n continues from v_n to the same bits as an uninterrupted one.
     * partial (may be NULL): when the progress callback stops the flow after
     * step n, *partial receives the flow so far (steps_done = n, state = v_n)
     * instead of it being freed. resume (may be NULL): such a partial flow; the
     * run continues it (start is then ignored and may be NULL). Its lattice,
     * mode, steps, chains, seed and kept steps must be those of this run
     * (KD_ERR_INVALID naming the difference otherwise). */
    struct kd_flow **partial;
    const struct kd_flow *resume;
    const kd_flow_split *split; /* NULL: one process (the default) */
} kd_flow_options;

/* Defaults: 40 steps, sampling, seed 1, keep every step, no partial/resume. */
void kd_flow_options_init(kd_flow_options *opt);

/* Temperature readouts of one flow step (filled by the caller from
 * kadanoff/thermometry.h; NaN where not measured). */
typedef struct {
    int64_t step;
    double T_thermometer;          /* mean T under the averaged class probabilities */
    double T_energy, T_energy_err; /* ⟨e⟩ matched to the exact e(T) of the lattice */
    double T_abs_m, T_abs_m_err;   /* ⟨|m|⟩ matched to a reference curve */
    double T_G, T_G_err;           /* G(r) matched to a reference curve */
} kd_flow_readout;

typedef struct kd_flow {
    kd_lattice lattice;   /* geometry the configurations are measured on */
    kd_flow_mode mode;
    int steps;            /* steps after the start: rows 0..steps below */
    int steps_done;       /* = steps for a complete flow; less for the checkpoint of an
                             interrupted one: rows 0..steps_done and the kept steps up
                             to steps_done are filled, the rest is zero */
    float *state;         /* interrupted flows: v_{steps_done}, chains × N in the RBM's
                             visible units (exact, to continue from); else NULL */
    size_t chains;
    uint64_t seed;
    double *energy;        /* (steps+1) × chains: H(v_n)/N of each chain */
    double *magnetization; /* (steps+1) × chains: Σ v_n / N */
    int nr;                /* distances of G(r), r = 0..nr-1 */
    double *correlation;   /* (steps+1) × nr: mean over chains */
    double *correlation_err; /* (steps+1) × nr: standard error over chains */
    int nkept;
    int *kept_steps;       /* nkept step numbers, increasing */
    int8_t *spins;         /* nkept × chains × N (sample mode), else NULL */
    float *values;         /* nkept × chains × N (mean-field mode, spin scale), else NULL */

    /* Optional, owned (freed by kd_flow_free): readouts per step and the
     * thermometer's averaged class probabilities per step. */
    kd_flow_readout *readout;  /* steps+1 rows, or NULL */
    size_t nclasses;
    double *class_T;           /* nclasses thermometer class temperatures */
    double *probabilities;     /* (steps+1) × nclasses */

    /* Provenance, stored as attributes of the flow file. */
    char rbm[1024];            /* model file the flow ran with */
    char start[1024];          /* "DATA.h5:T", "up" or "random" */
    char thermometer[1024];    /* thermometer file of the readouts ("" if none) */
    char command[2048];
} kd_flow;

/* Fill flow->readout for every step (and the thermometer's averaged class
 * probabilities when `thermometer` is given): kept steps are measured with `t`
 * (kadanoff/thermometry.h: thermometer, exact energy, reference curves; for
 * mean-field flows on the real-valued states); other steps get T_energy from
 * the recorded energies when the lattice has an exact e(T). t may be NULL
 * (energy estimates only). Replaces earlier readouts. */
struct kd_thermometry;
struct kd_thermometer;
kd_status kd_flow_measure(kd_flow *flow, const struct kd_thermometry *t,
                          const struct kd_thermometer *thermometer);

/* ---- flow files (HDF5, format "kadanoff-flow"; docs/formats.md) ----------- */

#define KD_FLOW_FORMAT "kadanoff-flow"
#define KD_FLOW_FORMAT_VERSION 1

/* Write atomically (temp file + rename); never leaves a partial file. An
 * interrupted flow (steps_done < steps) is written as a checkpoint: its rows
 * 0..steps_done, the kept steps up to steps_done, `steps_done` and `/state`. */
kd_status kd_flow_write(const char *path, const kd_flow *flow);
/* Read and validate (shapes consistent with steps/chains/L, spins ±1, finite
 * values, kept steps increasing within 0..steps). kd_flow_read refuses a
 * checkpoint (KD_ERR_FORMAT: "interrupted flow"); kd_flow_read_checkpoint
 * reads only checkpoints. */
kd_status kd_flow_read(const char *path, kd_flow **out);
kd_status kd_flow_read_checkpoint(const char *path, kd_flow **out);

/* Run a flow of `chains` chains from the ±1 configurations `start`
 * (chains × N, N = kd_lattice_size(lat) = the RBM's n_v). */
kd_status kd_flow_run(const kd_rbm *rbm, const kd_lattice *lat, const int8_t *start,
                      size_t chains, const kd_flow_options *opt, kd_flow **out);
void kd_flow_free(kd_flow *flow);

/* Allocate an empty flow with the given shape (used by the file reader). */
kd_status kd_flow_alloc(kd_flow **out, const kd_lattice *lat, kd_flow_mode mode, int steps,
                        size_t chains, int nkept);

/* Means over chains at one step, with standard errors (chains are independent). */
typedef struct {
    double e, e_err;
    double abs_m, abs_m_err;
    double m2, m2_err;
} kd_flow_stats;
void kd_flow_step_stats(const kd_flow *flow, int step, kd_flow_stats *out);

/* Fixed point of the flow. The plateau starts at the first step n0 from which
 * every later step's ⟨e⟩ and ⟨|m|⟩ stay within 3 standard errors of the last
 * step's; it must span at least 3 steps (else converged = 0 and the values are
 * those of the last step). Values are averages over the plateau, per chain
 * first, so their errors are standard errors over independent chains. */
typedef struct {
    int converged;
    int from_step;
    double e, e_err;
    double abs_m, abs_m_err;
} kd_flow_fixed_point;
void kd_flow_find_fixed_point(const kd_flow *flow, kd_flow_fixed_point *out);

#ifdef __cplusplus
}
#endif
#endif
