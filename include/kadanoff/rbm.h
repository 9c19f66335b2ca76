/*
 * kadanoff/rbm.h — restricted Boltzmann machines with ±1 or 0/1 units:
 * exact evaluation, sampling, CD-k / PCD training, AIS, deep belief networks.
 *
 * Model. n_v visible units v, n_h hidden units h, weights W (n_v × n_h,
 * float32, row-major: W[i*n_h + j] couples v_i and h_j), visible biases a and
 * hidden biases b (float32; either may be disabled, then it is held at 0).
 * Energy and distribution:
 *
 *     E(v, h) = -vᵀ W h - aᵀ v - bᵀ h,          p(v, h) = e^{-E(v,h)} / Z.
 *
 * Unit types (per layer): KD_UNITS_SPIN takes values ±1, KD_UNITS_BINARY
 * values 0/1. Data are Ising spins s = ±1 (kd_dataset); a spin visible layer
 * uses v = s, a binary one v = (s + 1)/2.
 *
 * Marginal Hamiltonians ("free energies", PHYSICS.md §1), p(v) = e^{-F(v)}/Z,
 * p(h) = e^{-F(h)}/Z, with x_j = b_j + Σ_i v_i W_ij and y_i = a_i + Σ_j W_ij h_j:
 *
 *     F(v) = -aᵀv - Σ_j g_h(x_j),     F(h) = -bᵀh - Σ_i g_v(y_i),
 *     g(x) = ln 2cosh x = |x| + log1p(e^{-2|x|})     for spin units,
 *     g(x) = ln(1 + e^x) = max(x,0) + log1p(e^{-|x|})  for binary units.
 *
 * Conditionals factorise: p(h_j = up | v) = σ(2x_j) with mean tanh x_j (spin),
 * or σ(x_j) with mean σ(x_j) (binary); likewise p(v_i | h) with y_i.
 * ("up" is +1 or 1; σ(x) = 1/(1 + e^{-x}).)
 *
 * Precision. The single-state functions, ln Z, log-likelihoods, KL, the exact
 * gradient, free energies of datasets and the pseudo-likelihood work in double
 * (W converted exactly, products by dgemm). Training and the batch up/down/
 * Gibbs functions work in float32 with cblas_sgemm and a vectorised logistic
 * function of relative accuracy ~1e-7.
 *
 * State indices. Functions that enumerate a layer number its 2^n states by an
 * integer whose bit i is set iff unit i is up (+1 or 1).
 *
 * Randomness and threads. Every random draw comes from a Philox stream keyed
 * by (seed, stream) (kadanoff/rng.h). Row r of a batch call uses stream
 * `stream + r`; internally the trainer derives stream numbers as
 * tag·2^56 + epoch·2^32 + index (tag = small constant per purpose, index =
 * position in the epoch), so choose user stream numbers below 2^56 when the
 * same seed is shared with a trainer. Work is split over OpenMP threads
 * (kd_set_threads) by rows, and every matrix product is cut into a fixed
 * number of slices that depends only on the matrix shapes; each slice is one
 * single-threaded BLAS call, and the slices run on the OpenMP threads.
 * OpenBLAS's own threaded sgemm is NOT bit-identical between thread counts
 * (measured with 0.3.21 for 100×1600×400 products), so the first rbm function
 * that multiplies matrices sets OpenBLAS to one thread for the rest of the
 * process (restoring the count after each call would wake OpenBLAS's worker
 * threads, whose busy-waiting took a core from OpenMP: epochs 3-7× slower on
 * 2 cores). Consequently every result is a function of the seed alone,
 * bit-identical for any thread count (tests/test_rbm_train.c checks 1 vs 2
 * threads, with OpenBLAS set to 1 and 2 threads beforehand).
 */
#ifndef KADANOFF_RBM_H
#define KADANOFF_RBM_H

#include <stddef.h>
#include <stdint.h>

#include "kadanoff/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- model -------------------------------------------------------------- */

typedef enum { KD_UNITS_SPIN = 0, KD_UNITS_BINARY = 1 } kd_units;

/* "spin" / "binary"; the parser returns KD_ERR_INVALID for anything else. */
const char *kd_units_name(kd_units units);
kd_status kd_units_parse(const char *name, kd_units *out);

typedef struct kd_rbm kd_rbm;

/* Flags for kd_rbm_new: disable a bias vector (held at zero, never trained). */
#define KD_RBM_NO_VISIBLE_BIAS 1u
#define KD_RBM_NO_HIDDEN_BIAS 2u

/* Largest layer that the exact functions enumerate (2^24 states). */
#define KD_RBM_MAX_ENUM 24

/* A new model with all parameters zero. nv, nh >= 1 and nv·nh < 2^31. */
kd_status kd_rbm_new(kd_rbm **out, int nv, int nh, kd_units visible, kd_units hidden,
                     unsigned flags);
/* Free a model (NULL: nothing). */
void kd_rbm_free(kd_rbm *rbm);
/* A deep copy (shape, unit types, flags, parameters). */
kd_status kd_rbm_clone(kd_rbm **out, const kd_rbm *src);
/* Copy the parameters of src into dst; shapes, units and flags must agree. */
kd_status kd_rbm_copy_params(kd_rbm *dst, const kd_rbm *src);

int kd_rbm_nv(const kd_rbm *rbm);
int kd_rbm_nh(const kd_rbm *rbm);
kd_units kd_rbm_visible_units(const kd_rbm *rbm);
kd_units kd_rbm_hidden_units(const kd_rbm *rbm);
unsigned kd_rbm_flags(const kd_rbm *rbm);

/* The parameters, stored contiguously as one vector of kd_rbm_nparams() floats:
 * [ W (nv×nh, row-major) | a (nv) | b (nh) ]. The pointers are into the model
 * (writable, valid until kd_rbm_free): file readers fill them, writers read
 * them. A disabled bias must stay zero. */
size_t kd_rbm_nparams(const kd_rbm *rbm);
float *kd_rbm_params(const kd_rbm *rbm);
float *kd_rbm_weights(const kd_rbm *rbm);
float *kd_rbm_visible_bias(const kd_rbm *rbm);
float *kd_rbm_hidden_bias(const kd_rbm *rbm);

/* Initialise: W_ij ~ N(0, sigma²) from Philox stream (seed, 1·2^56) in
 * row-major order (sigma = 0: all zero); both biases zero. sigma >= 0. */
kd_status kd_rbm_init_gaussian(kd_rbm *rbm, double sigma, uint64_t seed);

/* KD_OK if every parameter is finite, else KD_ERR_NUMERIC naming the first
 * bad one (and KD_ERR_INVALID if a disabled bias is nonzero). */
kd_status kd_rbm_validate(const kd_rbm *rbm);

/* ---- data --------------------------------------------------------------- */

/* Rows of visible data, borrowed (never copied or freed by the library).
 * Either `spins` (±1, n_v per row, mapped to the unit values as described at
 * the top) or `values` (float unit values, n_v per row; they may be means such
 * as the up-pass of a lower DBN layer) is set. With `rows`, the k-th row used
 * is row rows[k] of the array (selecting temperatures without copying);
 * otherwise rows 0..n-1. The row length is the model's n_v: checking that a
 * dataset's lattice matches the model is the caller's job. Functions taking
 * data return KD_ERR_INVALID for spins other than ±1 or non-finite values. */
typedef struct {
    const int8_t *spins;
    const float *values;
    const size_t *rows;
    size_t n;
} kd_rbm_data;

/* Map ±1 spins to unit values: v = s (spin) or (s+1)/2 (binary). */
void kd_rbm_spins_to_values(kd_units units, const int8_t *spins, size_t count, float *values);

/* ---- exact closed forms (double) --------------------------------------- */

/* Arrays v (nv) and h (nh) hold unit values (±1 or 0/1; other real values are
 * accepted and give the formula's value, e.g. for mean-field states). */
double kd_rbm_energy(const kd_rbm *rbm, const double *v, const double *h);
double kd_rbm_free_energy_visible(const kd_rbm *rbm, const double *v); /* F(v) */
double kd_rbm_free_energy_hidden(const kd_rbm *rbm, const double *h);  /* F(h) */

/* p(h_j = up | v) into prob and E[h_j | v] into mean (nh each; either may be
 * NULL). Likewise for the visible layer given h (nv each). */
void kd_rbm_hidden_given_visible(const kd_rbm *rbm, const double *v, double *prob, double *mean);
void kd_rbm_visible_given_hidden(const kd_rbm *rbm, const double *h, double *prob, double *mean);
/* ln p(h | v) of a full hidden state (the e^T of the RG mapping). */
double kd_rbm_log_prob_hidden_given_visible(const kd_rbm *rbm, const double *v, const double *h);

/* Unit values of state `index` of a layer of n units (bit i -> unit i). */
void kd_rbm_state_from_index(kd_units units, int n, uint64_t index, double *state);

/* ---- exact enumeration (tiny layers) ------------------------------------ */

typedef enum {
    KD_RBM_SUM_SMALLER = 0, /* whichever layer has fewer units (visible on ties) */
    KD_RBM_SUM_VISIBLE = 1, /* ln Z = ln Σ_v e^{-F(v)} */
    KD_RBM_SUM_HIDDEN = 2   /* ln Z = ln Σ_h e^{-F(h)} */
} kd_rbm_sum;

/* Exact ln Z by enumerating the chosen layer (at most KD_RBM_MAX_ENUM units,
 * else KD_ERR_UNSUPPORTED). Cost 2^m·(n+m) for m enumerated, n other units;
 * Gray-code order, partial sums in a fixed order (thread-count independent). */
kd_status kd_rbm_log_z(const kd_rbm *rbm, kd_rbm_sum over, double *log_z);

/* ln p(v) for all 2^nv visible states into logp[index] (nv <= KD_RBM_MAX_ENUM).
 * log_z: the model's ln Z, or NAN to compute it here. */
kd_status kd_rbm_visible_log_prob_all(const kd_rbm *rbm, double log_z, double *logp);

/* KL(P‖p) = Σ_v P(v) ln(P(v)/p(v)) for a distribution P over all 2^nv visible
 * states (p_data[index], summing to 1 within 1e-9; nv <= KD_RBM_MAX_ENUM). */
kd_status kd_rbm_kl(const kd_rbm *rbm, const double *p_data, double *kl);

/* Mean exact log-likelihood (1/n) Σ ln p(v_n) of a dataset, in nats per
 * configuration. log_z: ln Z, or NAN to enumerate it (min(nv,nh) <= 24). */
kd_status kd_rbm_loglik(const kd_rbm *rbm, const kd_rbm_data *data, double log_z, double *mean);

/* Exact gradient of the mean log-likelihood with respect to W (nv×nh), a (nv)
 * and b (nh): ⟨v_i E[h_j|v]⟩_data - ⟨v_i h_j⟩_model etc., the model average by
 * enumerating the smaller layer. Entries of disabled biases are 0. Any of
 * the outputs may be NULL. */
kd_status kd_rbm_loglik_gradient(const kd_rbm *rbm, const kd_rbm_data *data, double *dW, double *da,
                                 double *db);

/* ---- dataset statistics (double) ---------------------------------------- */

/* F(v) of every row into F (n entries, may be NULL) and their mean into *mean
 * (may be NULL). */
kd_status kd_rbm_free_energy_data(const kd_rbm *rbm, const kd_rbm_data *data, double *F,
                                  double *mean);

/* Pseudo-log-likelihood per visible unit, in nats:
 *     PL = (1/n) Σ_rows (1/nv) Σ_i ln p(v_i | v_{-i}),
 *     ln p(v_i | v_{-i}) = ln σ(F(v⁽ⁱ⁾) - F(v)) = -softplus(F(v) - F(v⁽ⁱ⁾)),
 * where v⁽ⁱ⁾ is v with unit i flipped (spin: -v_i, binary: 1-v_i). This is
 * exact for both unit types (no factor-2 slip for ±1 units: the flip changes
 * v_i by 2v_i, which F accounts for). units = 0 averages over all nv units
 * (cost n·nv·nh); units = k in 1..nv-1 averages over k distinct units per row
 * drawn from Philox stream (seed, stream + row), an unbiased estimate of the
 * same quantity. */
kd_status kd_rbm_pseudo_loglik(const kd_rbm *rbm, const kd_rbm_data *data, int units, uint64_t seed,
                               uint64_t stream, double *pll);

/* Mean-field reconstruction error: mean over rows and visible units of
 * (v_i - E[v_i | h = E[h|v]])², in squared unit values (spin units: in [0,4]). */
kd_status kd_rbm_reconstruction_error(const kd_rbm *rbm, const kd_rbm_data *data, double *err);

/* ---- sampling (float32, batches) --------------------------------------- */

typedef enum {
    KD_RBM_MEAN = 0,  /* conditional means (probabilities for binary units) */
    KD_RBM_SAMPLE = 1 /* samples from the conditional */
} kd_rbm_mode;

/* Up pass h = f(v) for n rows (v: n×nv, h: n×nh unit values), down pass
 * v = f(h). With KD_RBM_SAMPLE row r uses Philox stream (seed, stream + r). */
kd_status kd_rbm_up(const kd_rbm *rbm, const float *v, size_t n, kd_rbm_mode mode, uint64_t seed,
                    uint64_t stream, float *h);
kd_status kd_rbm_down(const kd_rbm *rbm, const float *h, size_t n, kd_rbm_mode mode, uint64_t seed,
                      uint64_t stream, float *v);

/* Block Gibbs sampling of n independent chains in place: `steps` times
 * h ~ p(h|v), v ~ p(v|h). Chain r uses stream (seed, stream + r) throughout.
 * h (n×nh, may be NULL) receives the last hidden sample. */
kd_status kd_rbm_gibbs(const kd_rbm *rbm, float *v, size_t n, int steps, uint64_t seed,
                       uint64_t stream, float *h);

/* Mean-field (expectation) updates in place: `steps` times
 * h = E[h|v], v = E[v|h] (the deterministic RBM flow). h as for kd_rbm_gibbs. */
kd_status kd_rbm_mean_field(const kd_rbm *rbm, float *v, size_t n, int steps, float *h);

/* One CD-k gradient estimate over all rows of `data` as a single batch, with
 * the same kernel the trainer uses: positive phase E[h|v] on the data, one
 * chain per row started at the row (h ~ p(h|v), then k × (v ~ p(v|h),
 * h ~ p(h|v))), negative phase v_k and E[h|v_k]. Chain r uses stream
 * (seed, 3·2^56 + r). Outputs as for kd_rbm_loglik_gradient (float). */
kd_status kd_rbm_cd_gradient(const kd_rbm *rbm, const kd_rbm_data *data, int k, uint64_t seed,
                             float *dW, float *da, float *db);

/* ---- AIS (annealed importance sampling) --------------------------------- */

typedef enum {
    KD_AIS_BASE_MODEL = 0, /* base visible biases = the model's a (default) */
    KD_AIS_BASE_ZERO = 1   /* uniform base distribution */
} kd_ais_base;

typedef struct {
    int runs;            /* M independent runs (default 100), >= 2 */
    int steps;           /* K: β_0 = 0 < β_1 < ... < β_K = 1 (default 1000) */
    const double *betas; /* NULL: linear β_k = k/K; else K+1 nondecreasing values
                            from 0 to 1 (borrowed) */
    kd_ais_base base;
    const double *base_bias; /* optional nv visible biases of the base model
                                (e.g. fitted to data); overrides `base` */
    uint64_t seed;
} kd_ais_options;

typedef struct {
    double log_z;      /* estimate of ln Z */
    double log_z_err;  /* standard error (delta method, see kd_rbm_ais) */
    double log_z_base; /* ln Z_A of the base model */
    double ess;        /* effective sample size (Σw)²/Σw² of the weights */
} kd_ais_result;

void kd_ais_options_default(kd_ais_options *opt);

/* Estimate ln Z by AIS over the visible layer (Neal 2001; Salakhutdinov &
 * Murray 2008). Intermediate distributions, hidden units summed out:
 *     p*_β(v) = exp(((1-β) a_A + β a)ᵀ v) Π_j Σ_{h_j} exp(β h_j x_j(v)),
 * so β = 0 is the independent-units base model A (ln Z_A known in closed form)
 * and β = 1 the RBM. Each run draws v ~ p_A exactly, then for k = 1..K adds
 * ln p*_{β_k}(v) - ln p*_{β_{k-1}}(v) to its log-weight w and (for k < K)
 * makes one Gibbs transition at β_k. Result: ln Z_A + ln mean(e^w); its error
 * is the delta-method standard error sd(e^w)/(√M mean(e^w)), computed with the
 * weights scaled by e^{-max w}. Run r uses stream (seed, 7·2^56 + r). Works in
 * double (dgemm). */
kd_status kd_rbm_ais(const kd_rbm *rbm, const kd_ais_options *opt, kd_ais_result *out);

/* ---- training ----------------------------------------------------------- */

typedef enum { KD_RBM_CD = 0, KD_RBM_PCD = 1 } kd_rbm_method;
typedef enum { KD_RBM_SGD = 0, KD_RBM_ADAM = 1 } kd_rbm_optimizer;
typedef enum {
    KD_RBM_LR_CONSTANT = 0,   /* lr */
    KD_RBM_LR_LINEAR = 1,     /* lr + (lr_final - lr)·e/(epochs-1), then lr_final */
    KD_RBM_LR_EXPONENTIAL = 2 /* lr · lr_decay^e */
} kd_rbm_schedule;            /* e = 0-based epoch index */

/* Data-parallel training over several processes: kd_data_split
 * (kadanoff/core.h) applied to the RBM trainer. Every process holds the same
 * model, options and data, and takes a part of every minibatch; the chains
 * keep their Philox streams (seed, stream of the chain's index in the
 * minibatch), so only the summation of the gradient depends on the split:
 *   block = 0 ("fast"): process r takes rows [B·r/size, B·(r+1)/size) (and
 *     PCD chains alike); the partial gradients are added by sum(). The result
 *     equals one process's up to the rounding of that sum (and is bit-identical
 *     to the unsplit trainer for size = 1).
 *   block > 0 ("deterministic"): the minibatch (and the PCD chains) is cut into
 *     blocks of `block` rows; block j's gradient is computed alone (always the
 *     same operations), the blocks are shared with gather(), and every process
 *     adds them in block order. The result depends on `block` but not on
 *     `size`: bit-identical for any number of processes.
 * At the end of every epoch the persistent chains are gathered (and, in fast
 * mode, the parameters and optimiser state broadcast from rank 0), so that
 * every process holds the complete trainer state. The progress callback must
 * not cancel a split run. */
typedef kd_data_split kd_rbm_split;

typedef struct {
    kd_rbm_method method;                    /* default CD */
    int k;                                   /* Gibbs steps per update (default 1) */
    size_t batch;                            /* rows per minibatch (default 100); also the number
                                                of persistent chains for PCD */
    uint64_t epochs;                         /* planned epochs, used by the linear schedule (100) */
    kd_rbm_optimizer optimizer;              /* default SGD */
    double lr;                               /* learning rate (0.01) */
    kd_rbm_schedule schedule;                /* default constant */
    double lr_final;                         /* linear schedule end value (0) */
    double lr_decay;                         /* exponential schedule factor per epoch (0.99) */
    double momentum;                         /* SGD momentum in [0,1) (0.5) */
    double adam_beta1, adam_beta2, adam_eps; /* 0.9, 0.999, 1e-8 */
    double l1, l2;         /* penalties λ1 Σ|W|, (λ2/2) Σ W² (0, 0); W only */
    int shuffle;           /* reshuffle the rows every epoch (1) */
    double valid_fraction; /* hold out this fraction of the training rows as
                              validation when no validation data is given (0) */
    uint64_t seed;         /* (1) */
    /* monitoring after each epoch */
    int monitor_every;       /* every this many epochs; 0: never (1) */
    size_t monitor_samples;  /* rows of train (and validation) used (1000) */
    int pll_units;           /* pseudo-LL: -1 auto (all units if nv·nh <= 65536,
                                else 16 random units per row), 0 all, k random */
    int exact_max_units;     /* exact ln Z / log-likelihood when
                                min(nv, nh) <= this (20; at most 24; 0: never).
                                Costs 2^m·(nv+nh) per monitored epoch. */
    kd_progress_fn progress; /* per-batch progress within an epoch (NULL) */
    void *progress_user;
    const kd_rbm_split *split; /* data-parallel training (NULL: one process) */
} kd_rbm_train_options;

void kd_rbm_train_options_default(kd_rbm_train_options *opt);

/* Monitoring numbers of one epoch; NAN when not computed (no validation data,
 * model too large for exact evaluation, or not a monitored epoch). */
typedef struct {
    uint64_t epoch;           /* 1-based number of the epoch just completed */
    double lr;                /* learning rate used in it */
    double recon_error;       /* kd_rbm_reconstruction_error, train subset */
    double recon_error_valid; /* same, validation subset */
    double pll;               /* kd_rbm_pseudo_loglik per unit, train subset */
    double pll_valid;
    double free_energy;       /* mean F(v), train subset */
    double free_energy_valid; /* mean F(v), validation subset */
    double free_energy_gap;   /* free_energy_valid - free_energy (grows when
                                 overfitting) */
    double log_z;             /* exact ln Z */
    double loglik;            /* exact mean ln p(v), train subset */
    double loglik_valid;
    double seconds; /* wall time of the epoch incl. monitoring */
} kd_rbm_epoch_stats;

typedef struct kd_rbm_trainer kd_rbm_trainer;

/* A trainer for `rbm` (borrowed: the trainer updates it in place) on `train`,
 * with optional validation data `valid` (NULL, or n = 0: use
 * opt->valid_fraction; the split is a Philox permutation of the training rows).
 * The data arrays are borrowed and must outlive the trainer; the kd_rbm_data
 * structs themselves are copied. Spins are checked to be ±1 and values to be
 * finite. For PCD the `batch` persistent chains start at training rows drawn
 * with Philox. The model is not initialised here (kd_rbm_init_gaussian). */
kd_status kd_rbm_trainer_new(kd_rbm_trainer **out, kd_rbm *rbm, const kd_rbm_train_options *opt,
                             const kd_rbm_data *train, const kd_rbm_data *valid);
void kd_rbm_trainer_free(kd_rbm_trainer *t);

/* One epoch: shuffle (stream (seed, 2·2^56 + epoch·2^32)), ⌈n/batch⌉
 * minibatches (the last may be smaller), one update each:
 *   gradient  G = ⟨v E[h|v]⟩_batch - ⟨v_k E[h|v_k]⟩_chains - λ2 W - λ1 sign W
 *             (one sgemm over the stacked batch and chains), biases alike;
 *   SGD:      u = μ u + η G,  θ += u;
 *   Adam:     m = β1 m + (1-β1) G, s = β2 s + (1-β2) G², θ += η_t m/(√s + ε_t),
 *             η_t = η √(1-β2^t)/(1-β1^t), ε_t = ε √(1-β2^t).
 * Chains (CD: one per row, started at the row; PCD: the persistent ones) make
 * k Gibbs steps; chain c of batch q uses stream (seed, 3·2^56 + epoch·2^32 +
 * q·batch + c). Parameters are checked for NaN/Inf after every update; on
 * failure the model, optimiser state and chains are restored to the start of
 * the epoch and KD_ERR_NUMERIC names the epoch and batch. KD_ERR_CANCELLED
 * (progress callback) restores likewise. On success the epoch counter
 * advances, monitors are computed (if due; NAN otherwise), the entry is
 * appended to the history and copied to *stats (may be NULL). */
kd_status kd_rbm_trainer_epoch(kd_rbm_trainer *t, kd_rbm_epoch_stats *stats);

/* Compute the monitors for the current parameters without training (e.g. a
 * baseline before epoch 1); not added to the history. stats->epoch is the
 * number of epochs done. */
kd_status kd_rbm_trainer_monitor(kd_rbm_trainer *t, kd_rbm_epoch_stats *stats);

const kd_rbm_train_options *kd_rbm_trainer_options(const kd_rbm_trainer *t);
uint64_t kd_rbm_trainer_epochs_done(const kd_rbm_trainer *t);

/* Everything besides the model parameters and the options that determines
 * the rest of a training run. The Philox position needs no field: every
 * epoch's streams are derived from (seed, epoch), so (options, epoch) fixes
 * them. Arrays are laid out like kd_rbm_params. */
typedef struct {
    uint64_t epoch;             /* epochs completed */
    uint64_t updates;           /* optimiser steps applied (Adam's t) */
    size_t nparams;             /* length of the optimiser arrays */
    const float *velocity;      /* SGD velocity u, or Adam first moment m */
    const float *second_moment; /* Adam s (NULL for SGD) */
    size_t nchains;             /* PCD chains (0 for CD) */
    const float *chains;        /* nchains × nv visible unit values (NULL for CD) */
    size_t nhistory;
    const kd_rbm_epoch_stats *history; /* one entry per epoch (monitors NAN
                                          on epochs that were not monitored) */
} kd_rbm_trainer_state;

/* Read the state: pointers into the trainer, valid until the next epoch or
 * kd_rbm_trainer_free. */
void kd_rbm_trainer_get_state(const kd_rbm_trainer *t, kd_rbm_trainer_state *st);
/* Resume: copy a saved state in (sizes must match the trainer's options and
 * model; second_moment required for Adam, chains for PCD). Together with the
 * saved parameters (kd_rbm_params) and the same options and data, the next
 * epochs are bit-identical to an uninterrupted run. */
kd_status kd_rbm_trainer_set_state(kd_rbm_trainer *t, const kd_rbm_trainer_state *st);

/* ---- deep belief networks ----------------------------------------------- */

/* A stack of RBMs; level 0 is the data, level l the hidden layer of RBM l-1
 * (0-based layers). Greedy layer-wise training: train layer 0 on the data,
 * then train layer l on kd_dbn_up(data, level l) and push it. */
typedef struct kd_dbn kd_dbn;

kd_status kd_dbn_new(kd_dbn **out);
void kd_dbn_free(kd_dbn *dbn); /* frees the layers too; NULL: nothing */
/* Append rbm on top (ownership passes to the DBN on success). Its visible
 * layer must match the current top level in size and unit type. */
kd_status kd_dbn_push(kd_dbn *dbn, kd_rbm *rbm);
int kd_dbn_depth(const kd_dbn *dbn);                /* number of RBMs */
kd_rbm *kd_dbn_layer(const kd_dbn *dbn, int layer); /* 0-based, NULL if out of range */
int kd_dbn_width(const kd_dbn *dbn, int level);     /* units at level 0..depth */

/* Up pass of the data to `level` (0..depth): level by level h = f(v) with
 * `mode`; out is n × width(level). Row r at layer l uses stream
 * (seed, stream + l·2^40 + r). */
kd_status kd_dbn_up(const kd_dbn *dbn, const kd_rbm_data *data, int level, kd_rbm_mode mode,
                    uint64_t seed, uint64_t stream, float *out);
/* Down pass from `level` to the data: in is n × width(level), out n × width(0).
 * Row r at layer l uses stream (seed, stream + (depth + l)·2^40 + r). */
kd_status kd_dbn_down(const kd_dbn *dbn, const float *in, size_t n, int level, kd_rbm_mode mode,
                      uint64_t seed, uint64_t stream, float *out);
/* Reconstruction: up to `level` then down to the data (same streams as the
 * two passes). out is n × width(0). */
kd_status kd_dbn_reconstruct(const kd_dbn *dbn, const kd_rbm_data *data, int level,
                             kd_rbm_mode mode, uint64_t seed, uint64_t stream, float *out);
/* Effective receptive fields of level l >= 1: the product W_1 W_2 ... W_l,
 * out is width(0) × width(l) row-major (column j = field of unit j at level l,
 * an image of the lattice). */
kd_status kd_dbn_receptive_fields(const kd_dbn *dbn, int level, float *out);

#ifdef __cplusplus
}
#endif
#endif
