/*
 * kadanoff/nn.h — the neural thermometer: a small dense classifier that reads
 * the temperature of spin configurations (Iso, Shiba & Yokoo 2018; PHYSICS.md §2).
 *
 * Network. Input x = the N spins ±1 of one configuration (float32), hidden
 * layers h_l = f(h_{l-1} W_l + b_l) with f = tanh, ReLU or the logistic
 * sigmoid, and a softmax output over C classes, one per training temperature
 * (sorted increasingly; T = +inf may be the last class):
 *
 *     p_k(x) = exp(z_k) / Σ_j exp(z_j),     z = h_last W_out + b_out.
 *
 * W_l is stored row-major (fan_in × fan_out). Training minimises the mean
 * cross-entropy plus an L2 penalty on the weights (not the biases):
 *
 *     J = (1/B) Σ_{i in batch} -ln p_{y_i}(x_i) + (λ/2) Σ_l ‖W_l‖²,
 *
 * by minibatch SGD with classical momentum (v ← μv − η∇J, θ ← θ + v) or Adam
 * (Kingma & Ba, with bias correction). Every forward and backward pass runs
 * on the whole batch through cblas_sgemm (float32); losses and averages are
 * accumulated in double.
 *
 * Randomness and threads. Initialisation, the train/validation/test split,
 * the per-epoch shuffle and the augmentations draw from Philox streams of
 * the seed (kadanoff/rng.h), with stream numbers tag·2^56 + index (tags 1 init,
 * 2 split, 3 shuffle, 4 flips, 5 translations; index = layer, a hash of the
 * class temperature, epoch). Matrix products are cut into slices that depend
 * only on the matrix shapes, each one single-threaded BLAS call, run on the
 * OpenMP threads (kd_set_threads);
 * OpenBLAS's own threading is switched off on first use (it is not
 * bit-reproducible between thread counts). Every result is therefore a
 * function of the seed alone, bit-identical for any number of threads.
 *
 * Readout of a set of configurations (the paper's method): the class
 * probabilities are averaged over the set, P̄_k = (1/n) Σ_i p_k(x_i), and the
 * temperature is their mean over the finite classes,
 *
 *     T̄ = Σ_{k: T_k < inf} P̄_k T_k / Σ_{k: T_k < inf} P̄_k,
 *
 * with the weight of a T = inf class reported separately as p_inf (a mean
 * with an infinite term would be infinite for any set). Also reported: the
 * class of largest P̄, the histogram of the per-configuration argmax, and the
 * set's maximum-likelihood class
 *
 *     T_ml = argmax_k Σ_i ln p_k(x_i),
 *
 * the class under which the whole set is most probable: with balanced
 * training classes p_k(x) ∝ P(x | T_k), so this is the likelihood of the set.
 * T̄ averages per-configuration posteriors, each about as wide as the energy
 * distribution of one configuration allows, and is therefore pulled toward
 * the middle of the class range: at L = 10, classes T = 0..6, by 0.37 (13
 * classes) or 0.32 (25 classes) on average over T <= 3.5 even for the Bayes
 * posterior estimated from energy histograms of the training data (energy is
 * a sufficient statistic for T);
 * T_ml uses the n configurations jointly and does not have that bias.
 *
 * Model files: format "kadanoff-thermometer" (docs/formats.md).
 */
#ifndef KADANOFF_NN_H
#define KADANOFF_NN_H

#include <stddef.h>
#include <stdint.h>

#include "kadanoff/core.h"
#include "kadanoff/dataset.h"
#include "kadanoff/ising.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KD_THERMOMETER_FORMAT "kadanoff-thermometer"
#define KD_THERMOMETER_FORMAT_VERSION 1

#define KD_NN_MAX_HIDDEN 8        /* hidden layers */
#define KD_NN_MAX_WIDTH 65536     /* units of one hidden layer */
#define KD_NN_MAX_CLASSES 4096    /* temperature classes */

typedef enum { KD_ACTIVATION_TANH = 0, KD_ACTIVATION_RELU = 1, KD_ACTIVATION_SIGMOID = 2 } kd_activation;
typedef enum { KD_OPTIMIZER_MOMENTUM = 0, KD_OPTIMIZER_ADAM = 1 } kd_optimizer;

/* Names "tanh", "relu", "sigmoid" and "momentum", "adam"; parsers return
 * KD_ERR_INVALID for anything else. */
const char *kd_activation_name(kd_activation a);
kd_status kd_activation_parse(const char *name, kd_activation *out);
const char *kd_optimizer_name(kd_optimizer o);
kd_status kd_optimizer_parse(const char *name, kd_optimizer *out);

/* Architecture and training hyperparameters (all stored in the model file). */
typedef struct {
    int nhidden;                   /* hidden layers, 0..KD_NN_MAX_HIDDEN */
    int hidden[KD_NN_MAX_HIDDEN];  /* their widths, 1..KD_NN_MAX_WIDTH */
    kd_activation activation;      /* of every hidden layer */

    kd_optimizer optimizer;
    int epochs;          /* maximum number of passes over the training set, >= 1 */
    int batch;           /* minibatch size, >= 1 (the last batch of an epoch may be smaller) */
    double lr;           /* learning rate η > 0; 0 = default of the optimizer
                            (0.05 momentum, 0.001 Adam), resolved by kd_thermometer_new */
    double momentum;     /* μ in [0, 1) (momentum optimizer) */
    double adam_beta1, adam_beta2, adam_eps; /* Adam: 0.9, 0.999, 1e-8 */
    double l2;           /* λ >= 0 */
    double val_fraction; /* kd_thermometer_fit: share of each class held out for
                            early stopping, in [0, 1) */
    double test_fraction;/* kd_thermometer_fit: share of each class held out for
                            the calibration table, in [0, 1) */
    int patience;        /* stop after this many epochs without a lower validation
                            loss (>= 1); the weights of the best epoch are kept */
    int augment_flip;    /* 1: flip every training configuration globally with
                            probability ½, drawn afresh each epoch (Z2 symmetry) */
    int augment_shift;   /* 1: translate every training configuration by a uniformly
                            random lattice vector, drawn afresh each epoch (the
                            translation symmetry of periodic lattices only) */
    uint64_t seed;

    kd_progress_fn progress; /* called after each epoch (may be NULL); not stored */
    void *progress_user;
    /* Data-parallel training over several processes (kd_data_split,
     * kadanoff/core.h; NULL: one process); not stored. Each process takes a
     * part of every minibatch (the same rows, flips and shifts as one
     * process), the partial gradients of the mean cross-entropy are combined,
     * the L2 term is added once. Fast mode (block 0) on one process is the
     * unsplit trainer; deterministic mode gives the same bits for any number
     * of processes (and differs from the unsplit trainer by rounding: the
     * gradient and the training loss are summed block by block, the loss in
     * float). The training loss and accuracy of the history are those of all
     * processes' rows; the validation set is evaluated by every process. In
     * fast mode the weights and optimizer state are broadcast from rank 0
     * after every epoch. The progress callback must return the same value on
     * every process. */
    const kd_data_split *split;
} kd_thermometer_params;

/* Defaults: one hidden layer of 64 tanh units, momentum 0.9, lr 0 (default),
 * 100 epochs, batch 100, l2 1e-4, val 0.2, test 0.2, patience 10, no
 * augmentation, seed 1. */
void kd_thermometer_params_init(kd_thermometer_params *p);

typedef struct kd_thermometer kd_thermometer;

/* A new thermometer for configurations of lattice `lat` (N = kd_lattice_size
 * inputs) with `nclasses` >= 2 classes at temperatures class_T (strictly
 * increasing, >= 0; +inf allowed as the last), weights initialised from the
 * seed: hidden W ~ N(0, 2/(fan_in + fan_out)) (Glorot) for tanh and sigmoid,
 * N(0, 2/fan_in) (He) for ReLU; output W Glorot; drawn in row-major order from
 * stream 1·2^56 + layer (layer = 1, 2, ...); biases 0.
 * The parameters are copied (lr 0 resolved to the optimizer's default). */
kd_status kd_thermometer_new(kd_thermometer **out, const kd_lattice *lat, const double *class_T,
                             int nclasses, const kd_thermometer_params *p);
/* Free a thermometer (NULL: nothing). */
void kd_thermometer_free(kd_thermometer *th);

/* Labelled configurations, borrowed. Either `spins` (rows of N int8 spins ±1)
 * or `values` (rows of N finite floats, e.g. the spin expectations in [-1, 1]
 * of a mean-field flow; the network reads them as it reads spins) is set. Row k
 * used is rows[k] of the array when `rows` is set, else row k. labels[k] is the
 * class index of the k-th used row (0..C-1; only where a function needs labels). */
typedef struct {
    const int8_t *spins;
    const size_t *rows;
    const int *labels;
    size_t n;
    const float *values;
} kd_thermometer_data;

/* The class index of temperature T (exact match, or relative difference
 * below 1e-9), or -1 if T is not a class. */
int kd_thermometer_class_index(const kd_thermometer *th, double T);

/* Train on `train` (n >= 1), with early stopping on `val` (may be NULL or
 * empty: then all `epochs` run and the last weights are kept). One history
 * row per epoch (see kd_thermometer_info). Spins other than ±1 or labels out
 * of range: KD_ERR_INVALID.
 * If a loss, gradient or weight becomes NaN or infinite, training stops with
 * KD_ERR_NUMERIC and the weights at the end of the last complete epoch (the
 * initial weights if the first epoch failed) are restored: the model stays
 * finite and usable. A progress callback returning nonzero stops with
 * KD_ERR_CANCELLED, keeping the best weights so far, and the thermometer holds
 * the state of the interrupted run (weights after the last epoch, optimizer
 * state, step count, best validation loss and patience counter; kept by
 * kd_thermometer_write/read, shown as info.interrupted): the next call, with
 * the same training and validation sets, continues that run to the bits of
 * an uninterrupted one (other set sizes: KD_ERR_INVALID). Otherwise calling
 * train again continues from the current weights with fresh optimizer state. */
kd_status kd_thermometer_train(kd_thermometer *th, const kd_thermometer_data *train,
                               const kd_thermometer_data *val);

/* Everything in one call, as `kadanoff train-thermometer` does: the classes are
 * the distinct temperatures of dataset d (or the given subset of them, each of
 * which must occur in d; nsubset = 0: all); each class is shuffled and split
 * into test, validation and training rows by the fractions of p; train; then
 * calibrate on the test rows (on the validation rows if there are none, on the
 * training rows if neither: the calibration_set says which). Every class must
 * keep at least one training row. On failure *out is NULL. */
kd_status kd_thermometer_fit(kd_thermometer **out, const kd_dataset *d, const double *subset,
                             size_t nsubset, const kd_thermometer_params *p);
/* kd_thermometer_fit stopped by the progress callback returns KD_ERR_CANCELLED
 * with *out set to the interrupted thermometer (not calibrated; write it as a
 * checkpoint). kd_thermometer_fit_continue finishes it: the same split of the
 * same dataset and selection, training continued, calibration. p must hold
 * the parameters th was made with (lr 0 meaning the default); its progress
 * fields are used. KD_ERR_INVALID names the first difference, or says that th
 * holds no interrupted run. */
kd_status kd_thermometer_fit_continue(kd_thermometer *th, const kd_dataset *d,
                                      const double *subset, size_t nsubset,
                                      const kd_thermometer_params *p);

/* Per-configuration class probabilities: prob[k·C + c] for the k-th used row
 * of data (labels ignored). The configurations must be of the thermometer's
 * lattice `lat` (kind and L; KD_ERR_INVALID naming both otherwise). */
kd_status kd_thermometer_probabilities(const kd_thermometer *th, const kd_lattice *lat,
                                       const kd_thermometer_data *data, float *prob);

typedef struct {
    size_t n;          /* configurations read */
    double T_mean;     /* T̄ over the finite classes (NaN if all weight is on inf) */
    double T_mean_err; /* its 1σ statistical error: jackknife over min(n, 20) blocks of
                          consecutive configurations (0 for n = 1) */
    double p_inf;      /* P̄ of the T = inf class (0 if there is none) */
    double T_peak;     /* temperature of the class with the largest P̄ */
    double T_mode;     /* temperature of the class most often the per-configuration argmax */
    double T_ml;       /* maximum-likelihood class of the set: argmax_k Σ_i ln p_k(x_i) */
} kd_thermometer_readout;

/* The readout of a set of configurations (n >= 1) of lattice `lat` (checked as
 * above). avg_prob (C values) receives P̄ and argmax_count (C values) the
 * histogram of per-configuration argmax classes; either may be NULL. */
kd_status kd_thermometer_readout_set(const kd_thermometer *th, const kd_lattice *lat,
                                     const kd_thermometer_data *data, kd_thermometer_readout *out,
                                     double *avg_prob, uint64_t *argmax_count);

/* One row of the calibration table: held-out configurations of true class T. */
typedef struct {
    double T;          /* true temperature (the class) */
    size_t n;          /* configurations (0: the class had none; the rest is NaN) */
    double T_mean;     /* readout of the whole group: T̄ and its error, p_inf */
    double T_mean_err;
    double p_inf;
    double T_peak;     /* class of the largest averaged probability */
    double T_mode;     /* most frequent argmax class */
    double T_ml;       /* maximum-likelihood class of the group */
    double accuracy;   /* fraction whose argmax is the true class */
    double mae_argmax; /* mean |T_argmax - T| over the configurations whose argmax
                          class is finite (NaN for T = inf or if there is none) */
} kd_calibration_row;

/* Fill the calibration table (one row per class) and the confusion matrix
 * (C × C counts, row = true class, column = argmax class) from labelled
 * held-out configurations; `set` names them ("test", "validation", ...; at
 * most 15 bytes). Replaces any previous calibration. */
kd_status kd_thermometer_calibrate(kd_thermometer *th, const kd_thermometer_data *data,
                                   const char *set);

/* One row of the training history. */
typedef struct {
    int epoch;             /* 1, 2, ... */
    double train_loss;     /* mean cross-entropy of the training batches, each taken
                              before its update (running average over the epoch) */
    double train_accuracy; /* likewise, fraction of argmax hits */
    double val_loss;       /* mean cross-entropy on the validation set after the
                              epoch (NaN without one) */
    double val_accuracy;
} kd_thermometer_epoch;

/* A description of a thermometer; pointers are into it, valid until it is freed. */
typedef struct {
    kd_lattice lattice;          /* of the training data */
    size_t inputs;               /* N */
    int nclasses;
    const double *temperatures;  /* nclasses, increasing */
    kd_thermometer_params params;/* as used (progress fields NULL) */
    size_t nparams;              /* weights and biases */
    int epochs_done;             /* epochs completed (rows of history) */
    int best_epoch;              /* epoch whose weights are kept (0: initial weights) */
    int interrupted;             /* 1 if it holds the state of an interrupted training run */
    int stopped_early;           /* 1 if patience ran out before `epochs` */
    const kd_thermometer_epoch *history;
    size_t n_train, n_val, n_test;   /* configurations in each part */
    int calibrated;                  /* 1 if the next two are set */
    const char *calibration_set;     /* "test", "validation", "training" or as given */
    const kd_calibration_row *calibration; /* nclasses rows */
    const uint64_t *confusion;             /* nclasses × nclasses */
    const char *training_data;       /* provenance strings ("" if unknown) */
    const char *command;
    const char *kadanoff_version;    /* of the writer when read from a file */
} kd_thermometer_info;

void kd_thermometer_describe(const kd_thermometer *th, kd_thermometer_info *out);

/* Record where the training data came from and the command line (each at
 * most 1023 bytes, truncated otherwise; NULL leaves the field unchanged). */
void kd_thermometer_set_provenance(kd_thermometer *th, const char *training_data,
                                   const char *command);

/* Model file (layout: docs/formats.md), written atomically. */
kd_status kd_thermometer_write(const char *path, const kd_thermometer *th);
/* Read and validate everything: format tag and version, attributes, layer
 * shapes consistent with the layer sizes and the lattice, finite weights,
 * increasing class temperatures, table sizes. Errors (KD_ERR_FORMAT, KD_ERR_IO)
 * name the file, the object and what was expected. */
kd_status kd_thermometer_read(const char *path, kd_thermometer **out);

#ifdef __cplusplus
}
#endif
#endif
