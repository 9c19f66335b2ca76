/*
 * Internals of the thermometer (src/nn), shared by its files and the tests.
 *
 * Parameters live in one float vector, layer by layer: [W_1 | b_1 | W_2 | b_2
 * | ... | W_out | b_out], W_l row-major (size[l-1] × size[l]). The gradient
 * and the optimizer state use the same layout, so the updates are plain loops.
 */
#ifndef KD_NN_INTERNAL_H
#define KD_NN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cblas.h>

#include "core/gemm.h"
#include "kadanoff/nn.h"

#define KD_NN_MAX_LAYERS (KD_NN_MAX_HIDDEN + 1)

/* Philox stream tags (stream = tag·2^56 + index), see nn.h. */
#define KD_NN_TAG_INIT 1u
#define KD_NN_TAG_SPLIT 2u
#define KD_NN_TAG_SHUFFLE 3u
#define KD_NN_TAG_FLIP 4u
#define KD_NN_TAG_SHIFT 5u
static inline uint64_t kd_nn_stream(unsigned tag, uint64_t index)
{
    return ((uint64_t)tag << 56) | (index & ((UINT64_C(1) << 56) - 1));
}

/* State of a training run stopped by its progress callback after an epoch:
 * what the next kd_thermometer_train call needs to continue it as if it had
 * not stopped (the per-epoch shuffles and augmentations are keyed by the
 * global epoch number, so they need no state). Saved in the model file. */
typedef struct {
    int epoch0;        /* epochs_done when the run started */
    size_t n_train, n_val; /* sizes of its training and validation sets */
    long step;         /* optimizer steps taken (Adam's t) */
    double best_loss;  /* lowest validation loss so far (inf: none yet) */
    int since_best;    /* epochs since it (the patience counter) */
    int best_epoch;    /* epoch of the best weights (param holds them) */
    float *current;    /* nparam: the weights after the last epoch */
    float *m, *v;      /* nparam: momentum velocity / Adam moments (v: Adam only) */
} kd_nn_run;

void kd_nn_run_free(kd_nn_run *run);

struct kd_thermometer {
    kd_lattice lattice;
    int nin;                            /* inputs N */
    int nclasses;
    double *temps;                      /* nclasses */
    kd_thermometer_params params;       /* progress fields kept only in memory */

    int nlayers;                        /* nhidden + 1 */
    int size[KD_NN_MAX_LAYERS + 1];     /* size[0] = nin, ..., size[nlayers] = nclasses */
    size_t w_off[KD_NN_MAX_LAYERS + 1]; /* offset of W_l in param (l = 1..nlayers) */
    size_t b_off[KD_NN_MAX_LAYERS + 1]; /* offset of b_l */
    size_t nparam;
    float *param;

    /* training record */
    int epochs_done, best_epoch, stopped_early;
    kd_thermometer_epoch *history; /* epochs_done rows (capacity hist_cap) */
    int hist_cap;
    size_t n_train, n_val, n_test;

    /* calibration */
    int calibrated;
    char calibration_set[16];
    kd_calibration_row *calibration; /* nclasses */
    uint64_t *confusion;             /* nclasses × nclasses */

    char training_data[1024];
    char command[1024];
    char kadanoff_version[32];

    kd_nn_run *run; /* interrupted training run, or NULL */

    /* Test hook: make the gradient NaN at this global training step (counted
     * from 1 over all epochs of one kd_thermometer_train call; 0 = never). */
    long fault_step;
};

/* ---- activations (table in activation.c) -------------------------------- */

typedef struct {
    kd_activation id;
    const char *name;
    void (*forward)(float *a, size_t n);              /* in place: a = f(z) */
    void (*backward)(const float *a, float *d, size_t n); /* d *= f'(z) given a = f(z) */
    int he_init;                                      /* 1: N(0, 2/fan_in) */
} kd_nn_activation;

const kd_nn_activation *kd_nn_activation_get(kd_activation id);

/* ---- network ------------------------------------------------------------- */

/* Allocate the object and lay out the parameters (zeroed); no init. */
kd_status kd_nn_alloc(kd_thermometer **out, const kd_lattice *lat, const double *class_T,
                      int nclasses, const kd_thermometer_params *p);
/* Glorot/He initialisation from the seed (nn.h). */
void kd_nn_init_weights(kd_thermometer *th);
/* Check the parameters of kd_thermometer_new / the file reader. */
kd_status kd_nn_check_params(const kd_thermometer_params *p);

/* Workspace for batches of up to `rows` rows. */
typedef struct {
    int rows;
    float *act[KD_NN_MAX_LAYERS + 1]; /* act[0] input, act[l] layer output, act[nlayers] probs */
    float *delta[2];                  /* rows × max width */
    float *grad;                      /* nparam */
    float *row;                       /* one input row (nin) */
} kd_nn_work;

kd_status kd_nn_work_init(kd_nn_work *w, const kd_thermometer *th, int rows, int with_grad);
void kd_nn_work_free(kd_nn_work *w);

/* Products: kd_sgemm from core/gemm.h (thread-count-independent slicing). */

/* Symmetry transformations of the training rows, indexed by used row (either
 * pointer may be NULL): flip[r] != 0 negates every spin; shift[r] = dx + L·dy
 * translates the periodic lattice, site (x, y) → (x+dx mod L, y+dy mod L)
 * (a chain uses dx only). */
typedef struct {
    const uint8_t *flip;
    const uint32_t *shift;
} kd_nn_augment;

/* Copy rows of data into w->act[0] as floats, transformed by aug (may be
 * NULL), k = first..first+count-1 of the data's used rows (order[] maps
 * positions to used rows when given). KD_ERR_INVALID on a spin other than ±1
 * or a non-finite value. */
kd_status kd_nn_load_batch(const kd_thermometer *th, kd_nn_work *w, const kd_thermometer_data *d,
                           const size_t *order, size_t first, int count, const kd_nn_augment *aug);

/* Forward pass of `count` rows already in act[0]: act[nlayers] receives the
 * softmax probabilities, logp (count × C, may be NULL) the log-probabilities
 * ln p_c = z_c - ln Σ e^z in double (exact where p underflows in float). If
 * labels is set, returns the summed cross-entropy Σ -ln p_y (double) and the
 * number of argmax hits in *hits. */
double kd_nn_forward(const kd_thermometer *th, kd_nn_work *w, int count, const int *labels,
                     size_t *hits, double *logp);

/* Backward pass after kd_nn_forward with labels: w->grad = ∇ of
 * (1/batch) Σ -ln p_y + (l2/2) Σ ‖W‖², the sum over the `count` rows (a part
 * of a minibatch of `batch` rows; count = batch for a whole one; count may
 * be 0). */
void kd_nn_backward(const kd_thermometer *th, kd_nn_work *w, int count, int batch,
                    const int *labels, double l2);

/* Objective J and its gradient on a whole labelled set (one batch), for the
 * gradient check: *loss = mean cross-entropy + (l2/2) Σ ‖W‖², grad (nparam). */
kd_status kd_nn_loss_grad(const kd_thermometer *th, const kd_thermometer_data *d, double l2,
                          double *loss, float *grad);

/* 1 if every parameter is finite. */
int kd_nn_params_finite(const float *p, size_t n);
/* Nonzero iff every entry is finite and |p| <= limit. */
int kd_nn_params_bounded(const float *p, size_t n, float limit);

/* The lattice check used by the readouts: KD_ERR_INVALID naming both lattices. */
kd_status kd_nn_check_lattice(const kd_thermometer *th, const kd_lattice *lat);

#endif
