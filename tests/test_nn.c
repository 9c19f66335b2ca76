/*
 * Tests of src/nn, the neural thermometer: the sgemm forward pass and the
 * backpropagated gradient against a plain double-precision reference, the
 * readout formulas, learning a separable problem, bit-identical training for
 * 1 and 2 threads, data-parallel training over simulated processes, divergence handling, and the model file (round trip and
 * rejection of damaged files).
 */
#define _POSIX_C_SOURCE 200809L

#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kadanoff/kadanoff.h"
#include "kadanoff/nn.h"
#include "nn/nn_internal.h"
#include "h5_edit.h"
#include "split_world.h"
#include "testing.h"
#include "tmp_path.h"

/* Deterministic ±1 spins (a 64-bit LCG; its top bit). */
static void random_spins(int8_t *s, size_t count, uint64_t seed)
{
    uint64_t x = seed * 2862933555777941757ULL + 3037000493ULL;
    for (size_t i = 0; i < count; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        s[i] = (x >> 63) ? 1 : -1;
    }
}

/* ---- plain double-precision reference of the network ----------------------------- */

static double ref_act(kd_activation a, double z)
{
    switch (a) {
    case KD_ACTIVATION_TANH: return tanh(z);
    case KD_ACTIVATION_RELU: return z > 0 ? z : 0;
    case KD_ACTIVATION_SIGMOID: return 1.0 / (1.0 + exp(-z));
    }
    return NAN;
}

/* J(θ) = mean cross-entropy + (l2/2) Σ W², one configuration at a time, every
 * sum written out; probabilities of each row into prob (n × C) if given. */
static double ref_objective(const kd_thermometer *th, const double *theta, const int8_t *spins,
                            const int *labels, size_t n, double l2, double *prob)
{
    double a[512], z[512], ce = 0.0;
    for (size_t k = 0; k < n; k++) {
        for (int i = 0; i < th->nin; i++)
            a[i] = spins[k * (size_t)th->nin + (size_t)i];
        for (int l = 1; l <= th->nlayers; l++) {
            const double *W = theta + th->w_off[l], *b = theta + th->b_off[l];
            for (int j = 0; j < th->size[l]; j++) {
                z[j] = b[j];
                for (int i = 0; i < th->size[l - 1]; i++)
                    z[j] += a[i] * W[(size_t)i * (size_t)th->size[l] + (size_t)j];
            }
            for (int j = 0; j < th->size[l]; j++)
                a[j] = l < th->nlayers ? ref_act(th->params.activation, z[j]) : z[j];
        }
        double m = a[0], s = 0.0;
        for (int c = 1; c < th->nclasses; c++)
            m = fmax(m, a[c]);
        for (int c = 0; c < th->nclasses; c++)
            s += exp(a[c] - m);
        if (labels)
            ce += log(s) - (a[labels[k]] - m);
        if (prob)
            for (int c = 0; c < th->nclasses; c++)
                prob[k * (size_t)th->nclasses + (size_t)c] = exp(a[c] - m) / s;
    }
    double w2 = 0.0;
    for (int l = 1; l <= th->nlayers; l++)
        for (size_t i = 0; i < (size_t)th->size[l - 1] * (size_t)th->size[l]; i++)
            w2 += theta[th->w_off[l] + i] * theta[th->w_off[l] + i];
    return ce / (double)n + 0.5 * l2 * w2;
}

static kd_thermometer *small_net(kd_activation act, int nhidden, const int *hidden, int C,
                                 uint64_t seed)
{
    kd_lattice lat = {KD_LATTICE_SQUARE, 3, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    double T[16];
    for (int c = 0; c < C; c++)
        T[c] = 0.5 * (c + 1);
    kd_thermometer_params p;
    kd_thermometer_params_init(&p);
    p.nhidden = nhidden;
    for (int l = 0; l < nhidden; l++)
        p.hidden[l] = hidden[l];
    p.activation = act;
    p.seed = seed;
    kd_thermometer *th = NULL;
    if (kd_thermometer_new(&th, &lat, T, C, &p) != KD_OK)
        return NULL;
    /* nonzero biases so that every path of the backward pass is exercised */
    kd_rng r;
    kd_rng_init(&r, seed, 99);
    for (int l = 1; l <= th->nlayers; l++)
        for (int j = 0; j < th->size[l]; j++)
            th->param[th->b_off[l] + (size_t)j] = (float)(0.3 * kd_rng_normal(&r));
    return th;
}

/* The sgemm forward pass against the reference, and the backpropagated
 * gradient against central differences of the reference objective. */
static void test_gradient(void)
{
    static const kd_activation acts[] = {KD_ACTIVATION_TANH, KD_ACTIVATION_RELU,
                                         KD_ACTIVATION_SIGMOID};
    const int hidden[2] = {5, 4};
    const size_t n = 7;
    const double l2 = 0.01;
    int8_t spins[7 * 9];
    int labels[7] = {0, 1, 2, 3, 1, 0, 2};
    random_spins(spins, sizeof spins, 5);
    for (int ai = 0; ai < 3; ai++) {
        for (int nh = 0; nh <= 2; nh++) {
            kd_thermometer *th = small_net(acts[ai], nh, hidden, 4, 11 + (uint64_t)ai);
            if (!kd_test(th != NULL, "small network (%s, %d hidden)", kd_activation_name(acts[ai]), nh))
                continue;
            const size_t P = th->nparam;
            double *theta = malloc(P * sizeof(double)), ref_prob[7 * 4];
            float *grad = malloc(P * sizeof(float)), fast_prob[7 * 4];
            for (size_t i = 0; i < P; i++)
                theta[i] = th->param[i];
            double loss = NAN;
            kd_thermometer_data d = {spins, NULL, labels, n, NULL};
            kd_status st = kd_nn_loss_grad(th, &d, l2, &loss, grad);
            double J = ref_objective(th, theta, spins, labels, n, l2, ref_prob);
            kd_test(st == KD_OK, "loss_grad runs");
            /* float32 forward pass: ~10 terms per sum, |terms| <= a few, so
             * rounding is ~1e-6 relative; 1e-5 leaves a margin of 10. */
            kd_test_rel(loss, J, 1e-5, "objective: sgemm float32 vs double reference");
            kd_thermometer_probabilities(th, &th->lattice, &d, fast_prob);
            double maxd = 0.0;
            for (size_t i = 0; i < n * 4; i++)
                maxd = fmax(maxd, fabs(fast_prob[i] - ref_prob[i]));
            kd_test(maxd < 1e-6, "%s, %d hidden: probabilities sgemm vs reference differ by %.2g "
                                 "(float32 rounding: < 1e-6)", kd_activation_name(acts[ai]), nh, maxd);
            /* Central differences in double, h = 1e-5: truncation h²|J'''| ~ 1e-10 and
             * rounding ε|J|/h ~ 1e-11, so g_fd is exact to ~1e-9. The analytic float32
             * gradient carries ~1e-6 relative rounding (sums of <= 10 terms through 3
             * layers); tolerance 1e-4 · max|g| + 1e-6. A wrong term (missing f', a
             * transposed W, a missing λW) errs by O(|g|), far above it. */
            double gmax = 0.0, worst = 0.0;
            size_t iworst = 0;
            double *gfd = malloc(P * sizeof(double));
            for (size_t i = 0; i < P; i++) {
                const double h = 1e-5, keep = theta[i];
                theta[i] = keep + h;
                double jp = ref_objective(th, theta, spins, labels, n, l2, NULL);
                theta[i] = keep - h;
                double jm = ref_objective(th, theta, spins, labels, n, l2, NULL);
                theta[i] = keep;
                gfd[i] = (jp - jm) / (2 * h);
                gmax = fmax(gmax, fabs(gfd[i]));
            }
            for (size_t i = 0; i < P; i++)
                if (fabs(grad[i] - gfd[i]) > worst) {
                    worst = fabs(grad[i] - gfd[i]);
                    iworst = i;
                }
            kd_test(worst <= 1e-4 * gmax + 1e-6,
                    "gradient check (%s, %d hidden, %zu parameters): worst |g - g_fd| = %.3g at "
                    "%zu (g = %.6g, g_fd = %.6g), max |g| = %.3g",
                    kd_activation_name(acts[ai]), nh, P, worst, iworst, (double)grad[iworst],
                    gfd[iworst], gmax);
            free(gfd);
            free(theta);
            free(grad);
            kd_thermometer_free(th);
        }
    }
}

/* The sliced product against plain loops, for shapes large enough to be cut
 * into several slices, with every transposition the passes use. */
static void test_sliced_gemm(void)
{
    const int M = 300, N = 70, K = 120;
    float *A = malloc((size_t)M * K * sizeof(float)), *B = malloc((size_t)K * N * sizeof(float));
    float *C = malloc((size_t)M * N * sizeof(float));
    kd_rng r;
    kd_rng_init(&r, 5, 0);
    for (int i = 0; i < M * K; i++)
        A[i] = (float)kd_rng_normal(&r);
    for (int i = 0; i < K * N; i++)
        B[i] = (float)kd_rng_normal(&r);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            /* op(A) is M×K: stored M×K (lda K) or K×M (lda M); likewise op(B) K×N */
            for (int i = 0; i < M * N; i++)
                C[i] = 1.0f;
            kd_set_threads(2);
            kd_sgemm(ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K,
                        0.5f, A, ta ? M : K, B, tb ? K : N, 2.0f, C, N);
            kd_set_threads(0);
            double worst = 0.0;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double want = 2.0;
                    for (int k = 0; k < K; k++)
                        want += 0.5 * (double)(ta ? A[k * M + i] : A[i * K + k]) *
                                (double)(tb ? B[j * K + k] : B[k * N + j]);
                    worst = fmax(worst, fabs(C[i * N + j] - want));
                }
            /* sums of 120 products of N(0,1) floats: |sum| ~ 11, float32 rounding
             * ~ 120 · 6e-8 · 11 ≈ 1e-4 at worst */
            kd_test(worst < 1e-3, "sliced sgemm (transA %d, transB %d) vs plain loops: worst %.2g",
                    ta, tb, worst);
        }
    free(A);
    free(B);
    free(C);
}

/* A network without hidden layers, zero weights and output biases ln p: every
 * configuration gets probabilities p exactly, so the readout is known. */
static void test_readout_formulas(void)
{
    kd_lattice lat = {KD_LATTICE_CHAIN, 6, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    const double T[3] = {1.0, 2.0, INFINITY}, p[3] = {0.2, 0.3, 0.5};
    kd_thermometer_params par;
    kd_thermometer_params_init(&par);
    par.nhidden = 0;
    kd_thermometer *th;
    if (!kd_test(kd_thermometer_new(&th, &lat, T, 3, &par) == KD_OK, "thermometer with T = inf class"))
        return;
    memset(th->param, 0, th->nparam * sizeof(float));
    for (int c = 0; c < 3; c++)
        th->param[th->b_off[1] + (size_t)c] = (float)log(p[c]);
    int8_t s[30 * 6];
    random_spins(s, sizeof s, 3);
    kd_thermometer_data d = {s, NULL, NULL, 30, NULL};
    kd_thermometer_readout r;
    double avg[3];
    uint64_t counts[3];
    kd_test(kd_thermometer_readout_set(th, &lat, &d, &r, avg, counts) == KD_OK, "readout runs");
    /* T̄ over finite classes: (0.2·1 + 0.3·2) / (0.2 + 0.3) = 1.6; p_inf = 0.5 */
    kd_test_abs(r.T_mean, 1.6, 1e-6, "T_mean excludes the inf class (float32 probabilities)");
    kd_test_abs(r.p_inf, 0.5, 1e-6, "p_inf reported separately");
    kd_test_abs(r.T_mean_err, 0.0, 1e-12, "identical configurations: no spread");
    kd_test(isinf(r.T_peak) && isinf(r.T_mode) && isinf(r.T_ml) && counts[2] == 30 &&
                counts[0] == 0,
            "peak, argmax mode and maximum-likelihood class are the inf class");
    kd_test_abs(avg[1], 0.3, 1e-6, "averaged probability of class 2");
    /* the same configurations as float values give the same readout */
    float vals[30 * 6];
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        vals[i] = s[i];
    kd_thermometer_data dv = {NULL, NULL, NULL, 30, vals};
    kd_thermometer_readout rv;
    kd_test(kd_thermometer_readout_set(th, &lat, &dv, &rv, NULL, NULL) == KD_OK &&
                rv.T_mean == r.T_mean && rv.p_inf == r.p_inf && rv.T_ml == r.T_ml,
            "values read like spins");
    kd_lattice other = lat;
    other.L = 8;
    kd_status st = kd_thermometer_readout_set(th, &other, &d, &r, NULL, NULL);
    kd_test(st == KD_ERR_INVALID && strstr(kd_last_error(), "L = 6") &&
                strstr(kd_last_error(), "L = 8"),
            "lattice mismatch refused naming both sizes: %s", kd_last_error());
    kd_thermometer_free(th);
}

/* The augmentations of a training row against the transformation written out:
 * flip negates every spin, shift dx + L·dy moves site (x, y) to (x+dx, y+dy) mod L. */
static void test_augmentation(void)
{
    static const kd_lattice_kind kinds[2] = {KD_LATTICE_SQUARE, KD_LATTICE_CHAIN};
    for (int k = 0; k < 2; k++) {
        const int L = 5;
        kd_lattice lat = {kinds[k], L, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
        const double T[2] = {1.0, 2.0};
        kd_thermometer_params p;
        kd_thermometer_params_init(&p);
        kd_thermometer *th;
        kd_thermometer_new(&th, &lat, T, 2, &p);
        const size_t N = kd_lattice_size(&lat);
        int8_t s[3 * 25];
        random_spins(s, 3 * N, 17);
        uint8_t flip[3] = {0, 1, 1};
        uint32_t shift[3] = {7, 0, (uint32_t)(k == 0 ? 3 + 4 * L : 3)};
        kd_nn_augment aug = {flip, shift};
        kd_thermometer_data d = {s, NULL, NULL, 3, NULL};
        kd_nn_work w;
        kd_nn_work_init(&w, th, 3, 0);
        int ok = kd_nn_load_batch(th, &w, &d, NULL, 0, 3, &aug) == KD_OK;
        for (size_t r = 0; r < 3; r++)
            for (size_t i = 0; i < N; i++) {
                const int dx = (int)(shift[r] % (uint32_t)L), dy = (int)(shift[r] / (uint32_t)L);
                size_t x = i % (size_t)L, y = k == 0 ? i / (size_t)L : 0;
                size_t to = k == 0 ? ((y + (size_t)dy) % (size_t)L) * (size_t)L + (x + (size_t)dx) % (size_t)L
                                   : (i + (size_t)dx) % N;
                float want = (flip[r] ? -1.0f : 1.0f) * (float)s[r * N + i];
                ok &= w.act[0][r * N + to] == want;
            }
        kd_test(ok, "%s: flips and translations of training rows", kd_lattice_kind_name(kinds[k]));
        kd_nn_work_free(&w);
        kd_thermometer_free(th);
    }
    kd_lattice open = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_OPEN, 1.0, 0.0};
    const double T[2] = {1.0, 2.0};
    kd_thermometer_params p;
    kd_thermometer_params_init(&p);
    p.augment_shift = 1;
    kd_thermometer *th = NULL;
    kd_test(kd_thermometer_new(&th, &open, T, 2, &p) == KD_ERR_INVALID && th == NULL,
            "translations refused on open boundaries: %s", kd_last_error());
}

/* ---- training ----------------------------------------------------------------------- */

/* Labels from two spins: class 2·[s_0 > 0] + [s_5 > 0] — linearly separable. */
static void toy_set(int8_t *s, int *labels, size_t n, uint64_t seed)
{
    random_spins(s, n * 16, seed);
    for (size_t k = 0; k < n; k++)
        labels[k] = 2 * (s[k * 16] > 0) + (s[k * 16 + 5] > 0);
}

/* Parameters of a toy network: `hidden` units, Adam (lr 0.01) or momentum
 * (lr 0.05), the rest as given. */
static void toy_params(kd_thermometer_params *p, int hidden, int adam, int epochs, int batch,
                       uint64_t seed)
{
    kd_thermometer_params_init(p);
    p->hidden[0] = hidden;
    p->optimizer = adam ? KD_OPTIMIZER_ADAM : KD_OPTIMIZER_MOMENTUM;
    p->lr = adam ? 0.01 : 0.05;
    p->epochs = epochs;
    p->batch = batch;
    p->seed = seed;
}

static void test_separable(void)
{
    kd_lattice lat = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    const double T[4] = {0.5, 1.0, 2.0, 3.0};
    enum { NTRAIN = 800, NTEST = 200 };
    int8_t *s = malloc((NTRAIN + NTEST) * 16);
    int labels[NTRAIN + NTEST];
    toy_set(s, labels, NTRAIN + NTEST, 21);
    for (int opt = 0; opt < 2; opt++) {
        kd_thermometer_params p;
        toy_params(&p, 16, opt, 30, 32, 4);
        kd_thermometer *th;
        if (!kd_test(kd_thermometer_new(&th, &lat, T, 4, &p) == KD_OK, "toy thermometer"))
            continue;
        kd_thermometer_data train = {s, NULL, labels, NTRAIN, NULL};
        kd_thermometer_data test = {s + NTRAIN * 16, NULL, labels + NTRAIN, NTEST, NULL};
        kd_status st = kd_thermometer_train(th, &train, NULL);
        kd_test(st == KD_OK, "toy training (%s): %s", kd_optimizer_name(p.optimizer),
                kd_last_error());
        kd_test(kd_thermometer_calibrate(th, &test, "test") == KD_OK, "calibration runs");
        kd_thermometer_info info;
        kd_thermometer_describe(th, &info);
        double hits = 0;
        for (int c = 0; c < 4; c++)
            hits += (double)info.confusion[c * 4 + c];
        /* separable with a wide margin (|z| grows with the two decisive weights):
         * every held-out configuration must be classified correctly */
        kd_test(hits == NTEST, "separable toy (%s): %g of %d held-out configurations right",
                kd_optimizer_name(p.optimizer), hits, NTEST);
        kd_test(info.epochs_done == 30 && info.history[29].train_loss < info.history[0].train_loss,
                "history: 30 epochs, loss decreasing (%.4f -> %.4f)", info.history[0].train_loss,
                info.history[info.epochs_done - 1].train_loss);
        kd_thermometer_free(th);
    }
    free(s);
}

/* Train the same model with `threads` threads: big enough that the products are
 * cut into several slices, with augmentation and a validation set. */
static kd_thermometer *train_threads(int threads, const int8_t *s, const int *labels, size_t n)
{
    kd_lattice lat = {KD_LATTICE_SQUARE, 10, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    const double T[4] = {1.0, 2.0, 3.0, INFINITY};
    kd_thermometer_params p;
    kd_thermometer_params_init(&p);
    p.nhidden = 2;
    p.hidden[0] = 128;
    p.hidden[1] = 64;
    p.batch = 200;
    p.epochs = 2;
    p.augment_flip = 1;
    p.augment_shift = 1;
    p.optimizer = KD_OPTIMIZER_ADAM;
    p.seed = 77;
    kd_set_threads(threads);
    kd_thermometer *th;
    if (kd_thermometer_new(&th, &lat, T, 4, &p) != KD_OK)
        return NULL;
    kd_thermometer_data train = {s, NULL, labels, n - 200, NULL};
    kd_thermometer_data val = {s + (n - 200) * 100, NULL, labels + n - 200, 200, NULL};
    if (kd_thermometer_train(th, &train, &val) != KD_OK) {
        kd_thermometer_free(th);
        return NULL;
    }
    return th;
}

/* ---- kd_thermometer_params.split: "processes" simulated by threads ---------- */

typedef struct {
    split_rank id; /* first: the hooks' ctx */
    size_t block;
    const kd_thermometer_data *train, *val; /* val: this rank's validation set, or NULL */
    kd_thermometer *th;
    kd_status st;
} th_member;

/* 3 epochs of Adam (or momentum) with flips, 230 training rows in minibatches
 * of 40 (the last has 30), the L2 term on; split as given (NULL: plain). */
static kd_thermometer *train_split_th(const kd_data_split *sp, int adam,
                                      const kd_thermometer_data *train,
                                      const kd_thermometer_data *val)
{
    kd_lattice lat = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    const double T[4] = {0.5, 1.0, 2.0, 3.0};
    kd_thermometer_params p;
    toy_params(&p, 8, adam, 3, 40, 6);
    p.l2 = 1e-3;
    p.augment_flip = 1;
    p.split = sp;
    kd_thermometer *th;
    if (kd_thermometer_new(&th, &lat, T, 4, &p) != KD_OK)
        return NULL;
    if (kd_thermometer_train(th, train, val) != KD_OK) {
        kd_thermometer_free(th);
        return NULL;
    }
    return th;
}

static int adam_global; /* the optimizer of the ranks' runs */

static void *th_rank_main(void *arg)
{
    th_member *m = arg;
    kd_data_split sp = split_of(&m->id, m->block);
    m->th = train_split_th(&sp, adam_global, m->train, m->val);
    m->st = m->th ? KD_OK : KD_ERR_INTERNAL;
    return NULL;
}

/* Train on `size` simulated ranks; rank 0's model, after checking that every
 * rank ends with the same weights. */
static kd_thermometer *train_ranks(int size, size_t block, const kd_thermometer_data *train)
{
    enum { MAX_RANKS = 3 };
    th_member m[MAX_RANKS];
    if (!kd_test(size >= 1 && size <= MAX_RANKS, "1 to 3 simulated ranks (%d)", size))
        return NULL;
    for (int r = 0; r < size && r < MAX_RANKS; r++)
        m[r] = (th_member){{NULL, r}, block, train, NULL, NULL, KD_OK};
    split_world_run(size, th_rank_main, m, sizeof *m);
    int ok = 1;
    for (int r = 0; r < size; r++)
        ok = ok && m[r].st == KD_OK;
    for (int r = 1; ok && r < size; r++)
        ok = !memcmp(m[r].th->param, m[0].th->param, m[0].th->nparam * sizeof(float));
    kd_test(ok, "thermometer split over %d ranks (block %zu): trains, every rank ends with the "
                "same weights", size, block);
    for (int r = 1; r < size; r++)
        kd_thermometer_free(m[r].th);
    return ok ? m[0].th : (kd_thermometer_free(m[0].th), NULL);
}

static double param_diff(const kd_thermometer *a, const kd_thermometer *b)
{
    double d = 0;
    for (size_t i = 0; i < a->nparam; i++)
        d = fmax(d, fabs((double)a->param[i] - b->param[i]));
    return d;
}

static void test_split(void)
{
    enum { N = 230 };
    int8_t *s = malloc(N * 16);
    int labels[N];
    toy_set(s, labels, N, 33);
    kd_thermometer_data train = {s, NULL, labels, N, NULL};
    kd_set_threads(1);
    for (int adam = 0; adam < 2; adam++) {
        adam_global = adam;
        const char *what = adam ? "Adam" : "momentum";
        kd_thermometer *plain = train_split_th(NULL, adam, &train, NULL);
        kd_data_split one = {0, 1, 0, NULL, NULL, NULL, NULL};
        kd_thermometer *fast1 = train_split_th(&one, adam, &train, NULL);
        kd_test(plain && fast1 && !param_diff(plain, fast1) &&
                    plain->history[2].train_loss == fast1->history[2].train_loss,
                "%s: fast split on one process is the plain trainer, bit for bit", what);
        one.block = 7; /* blocks of 7 rows: the last of each minibatch is short */
        kd_thermometer *det1 = train_split_th(&one, adam, &train, NULL);
        for (int size = 2; size <= 3; size++) {
            kd_thermometer *det = train_ranks(size, 7, &train);
            kd_test(det && det1 && !memcmp(det->param, det1->param, det1->nparam * sizeof(float)) &&
                        det->history[2].train_loss == det1->history[2].train_loss &&
                        det->history[2].train_accuracy == det1->history[2].train_accuracy,
                    "%s: deterministic split over %d ranks bit-identical to one process "
                    "(weights and history)", what, size);
            kd_thermometer_free(det);
            /* fast: the parts are added in another order. 18 updates; a
             * gradient entry is a mean of 40 terms of size <= 1 rounded with
             * relative error <~ 40·2^-24 = 2.4e-6, so a momentum step (lr 0.05,
             * velocity <= 10 steps) moves by <~ 0.5·2.4e-6 more or less per
             * update: 18·1.2e-6 = 2e-5. Adam divides by sqrt(v) and can turn a
             * rounding-level gradient into a step of up to lr = 0.01: 5·lr. A
             * missing or doubled part changes the gradient by O(1) relative and
             * the weights by ~lr per step, far beyond the momentum bound. */
            kd_thermometer *fast = train_ranks(size, 0, &train);
            double tol = adam ? 5 * 0.01 : 2e-5;
            kd_test(fast && plain && param_diff(fast, plain) <= tol,
                    "%s: fast split over %d ranks within %.2g of one process (%.3g)", what, size,
                    tol, fast && plain ? param_diff(fast, plain) : NAN);
            kd_thermometer_free(fast);
        }
        /* and the split changes the result at all only by rounding: the
         * deterministic blocks against the plain trainer */
        kd_test(det1 && plain && param_diff(det1, plain) <= (adam ? 5 * 0.01 : 2e-5),
                "%s: deterministic blocks within rounding of the plain trainer (%.3g)", what,
                det1 && plain ? param_diff(det1, plain) : NAN);
        kd_thermometer_free(plain);
        kd_thermometer_free(fast1);
        kd_thermometer_free(det1);
    }
    kd_set_threads(0);
    free(s);
}

/* In a split run rank 0 alone evaluates the validation set and every process
 * uses its numbers (so all take the same early-stopping decision). Shown by
 * giving rank 1 a different validation set: its history must still hold rank
 * 0's validation loss and accuracy, bit for bit, equal to a one-process run
 * with rank 0's set (deterministic reduction: the same weights on any number
 * of processes). (Were rank 1 to evaluate its own set, its losses would
 * differ. Patience exceeds the epochs, so no rank stops early.) */
static void test_split_validation(void)
{
    enum { N = 230, NV = 60 };
    int8_t *s = malloc(N * 16), *sv = malloc(2 * NV * 16);
    int labels[N], lv[2 * NV];
    toy_set(s, labels, N, 33);
    toy_set(sv, lv, 2 * NV, 34);
    kd_thermometer_data train = {s, NULL, labels, N, NULL};
    kd_thermometer_data val[2] = {{sv, NULL, lv, NV, NULL}, {sv + NV * 16, NULL, lv + NV, NV, NULL}};
    kd_set_threads(1);
    adam_global = 0;
    /* deterministic blocks of 7 rows: the same weights for any number of ranks */
    kd_data_split one = {0, 1, 7, NULL, NULL, NULL, NULL};
    kd_thermometer *ref = train_split_th(&one, 0, &train, &val[0]);
    kd_thermometer *other = train_split_th(&one, 0, &train, &val[1]);
    th_member m[2];
    for (int r = 0; r < 2; r++)
        m[r] = (th_member){{NULL, r}, 7, &train, &val[r], NULL, KD_OK};
    split_world_run(2, th_rank_main, m, sizeof *m);
    int ok = ref && other && m[0].st == KD_OK && m[1].st == KD_OK, differ = 0;
    for (int e = 0; ok && e < 3; e++) {
        const kd_thermometer_epoch *a = &m[0].th->history[e], *b = &m[1].th->history[e],
                                   *want = &ref->history[e];
        ok = m[0].th->epochs_done == 3 && m[1].th->epochs_done == 3 &&
             a->val_loss == want->val_loss && b->val_loss == want->val_loss &&
             a->val_accuracy == want->val_accuracy && b->val_accuracy == want->val_accuracy;
        differ |= other->history[e].val_loss != want->val_loss;
    }
    kd_test(ok && differ, "split over 2 ranks with different validation sets: both report rank "
                          "0's validation loss and accuracy, bit for bit (the sets' losses %s)",
            differ ? "differ" : "do not differ: the test shows nothing");
    kd_thermometer_free(ref);
    kd_thermometer_free(other);
    for (int r = 0; r < 2; r++)
        kd_thermometer_free(m[r].th);
    kd_set_threads(0);
    free(s);
    free(sv);
}

static void test_threads(void)
{
    const size_t n = 1200;
    int8_t *s = malloc(n * 100);
    int *labels = malloc(n * sizeof(int));
    random_spins(s, n * 100, 8);
    for (size_t k = 0; k < n; k++)
        labels[k] = (int)(k % 4);
    kd_thermometer *a = train_threads(1, s, labels, n), *b = train_threads(2, s, labels, n);
    kd_set_threads(0);
    if (kd_test(a && b, "training with 1 and 2 threads")) {
        kd_test(a->nparam == b->nparam &&
                    memcmp(a->param, b->param, a->nparam * sizeof(float)) == 0,
                "weights bit-identical for 1 and 2 threads (%zu parameters)", a->nparam);
        kd_test(a->history[1].val_loss == b->history[1].val_loss,
                "validation loss identical for 1 and 2 threads");
    }
    kd_thermometer_free(a);
    kd_thermometer_free(b);
    free(s);
    free(labels);
}

/* NaN in the middle of training: KD_ERR_NUMERIC and the weights of the last
 * complete epoch, bit for bit those of a clean run stopped there. */
static void test_divergence(void)
{
    kd_lattice lat = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    const double T[4] = {0.5, 1.0, 2.0, 3.0};
    enum { N = 300 };
    int8_t *s = malloc(N * 16);
    int labels[N];
    toy_set(s, labels, N, 31);
    kd_thermometer_params p;
    kd_thermometer_params_init(&p);
    p.batch = 50; /* 6 steps per epoch */
    p.seed = 9;
    kd_thermometer_data train = {s, NULL, labels, N, NULL};

    kd_thermometer *clean, *faulty;
    p.epochs = 2;
    kd_thermometer_new(&clean, &lat, T, 4, &p);
    kd_test(kd_thermometer_train(clean, &train, NULL) == KD_OK, "clean run of 2 epochs");
    p.epochs = 5;
    kd_thermometer_new(&faulty, &lat, T, 4, &p);
    faulty->fault_step = 2 * 6 + 3; /* third batch of epoch 3 */
    kd_status st = kd_thermometer_train(faulty, &train, NULL);
    kd_test(st == KD_ERR_NUMERIC && strstr(kd_last_error(), "epoch 3") &&
                strstr(kd_last_error(), "epoch 2 were kept"),
            "NaN gradient -> KD_ERR_NUMERIC: %s", kd_last_error());
    kd_test(faulty->epochs_done == 2 && kd_nn_params_finite(faulty->param, faulty->nparam) &&
                memcmp(faulty->param, clean->param, clean->nparam * sizeof(float)) == 0,
            "weights of epoch 2 kept, finite and equal to the clean run's");
    kd_thermometer_free(clean);
    kd_thermometer_free(faulty);

    /* A learning rate that overflows the weights: the initial weights stay. */
    p.lr = 1e37;
    p.momentum = 0.0;
    kd_thermometer *wild, *init;
    kd_thermometer_new(&wild, &lat, T, 4, &p);
    kd_thermometer_new(&init, &lat, T, 4, &p);
    st = kd_thermometer_train(wild, &train, NULL);
    kd_test(st == KD_ERR_NUMERIC && wild->epochs_done == 0 &&
                memcmp(wild->param, init->param, init->nparam * sizeof(float)) == 0,
            "lr 1e37 -> KD_ERR_NUMERIC with the initial weights kept (%s)", kd_last_error());
    kd_thermometer_free(wild);
    kd_thermometer_free(init);
    free(s);
}

/* ---- model file ------------------------------------------------------------------------ */

static kd_thermometer *trained_model(void)
{
    kd_lattice lat = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    const double T[4] = {0.0, 1.0, 2.5, INFINITY};
    enum { N = 240 };
    static int8_t s[N * 16];
    static int labels[N];
    toy_set(s, labels, N, 41);
    kd_thermometer_params p;
    kd_thermometer_params_init(&p);
    p.nhidden = 2;
    p.hidden[0] = 8;
    p.hidden[1] = 6;
    p.activation = KD_ACTIVATION_SIGMOID;
    p.optimizer = KD_OPTIMIZER_ADAM;
    p.epochs = 4;
    p.batch = 40;
    p.l2 = 3e-3;
    p.augment_flip = 1;
    p.seed = 123456789012345ULL;
    kd_thermometer *th;
    if (kd_thermometer_new(&th, &lat, T, 4, &p) != KD_OK)
        return NULL;
    kd_thermometer_data train = {s, NULL, labels, 160, NULL};
    kd_thermometer_data val = {s + 160 * 16, NULL, labels + 160, 80, NULL};
    if (kd_thermometer_train(th, &train, &val) != KD_OK ||
        kd_thermometer_calibrate(th, &val, "validation") != KD_OK) {
        kd_thermometer_free(th);
        return NULL;
    }
    th->n_train = 160;
    th->n_val = 80;
    kd_thermometer_set_provenance(th, "toy.h5", "test_nn trained_model");
    return th;
}

static int same_double(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

static void test_roundtrip(const kd_thermometer *th)
{
    const char *path = tmp_path("model.h5");
    kd_test(kd_thermometer_write(path, th) == KD_OK, "write model: %s", kd_last_error());
    kd_thermometer *r = NULL;
    kd_status st = kd_thermometer_read(path, &r);
    if (!kd_test(st == KD_OK && r, "read model back: %s", kd_last_error()))
        return;
    kd_thermometer_info a, b;
    kd_thermometer_describe(th, &a);
    kd_thermometer_describe(r, &b);
    int same = a.nparams == b.nparams && memcmp(th->param, r->param, a.nparams * sizeof(float)) == 0;
    kd_test(same, "weights identical after the round trip");
    same = a.nclasses == b.nclasses && a.inputs == b.inputs && a.lattice.L == b.lattice.L &&
           a.lattice.kind == b.lattice.kind;
    for (int c = 0; same && c < a.nclasses; c++)
        same = a.temperatures[c] == b.temperatures[c];
    kd_test(same && isinf(b.temperatures[3]), "classes and lattice identical (inf class kept)");
    const kd_thermometer_params *p = &a.params, *q = &b.params;
    kd_test(p->nhidden == q->nhidden && p->hidden[0] == q->hidden[0] && p->hidden[1] == q->hidden[1] &&
                p->activation == q->activation && p->optimizer == q->optimizer &&
                p->epochs == q->epochs && p->batch == q->batch && p->lr == q->lr &&
                p->momentum == q->momentum && p->adam_beta1 == q->adam_beta1 &&
                p->adam_beta2 == q->adam_beta2 && p->adam_eps == q->adam_eps && p->l2 == q->l2 &&
                p->val_fraction == q->val_fraction && p->test_fraction == q->test_fraction &&
                p->patience == q->patience && p->augment_flip == q->augment_flip &&
                p->seed == q->seed,
            "every hyperparameter identical (seed %llu)", (unsigned long long)q->seed);
    same = a.epochs_done == b.epochs_done && a.best_epoch == b.best_epoch &&
           a.stopped_early == b.stopped_early && a.n_train == b.n_train && a.n_val == b.n_val;
    for (int e = 0; same && e < a.epochs_done; e++)
        same = a.history[e].epoch == b.history[e].epoch &&
               a.history[e].train_loss == b.history[e].train_loss &&
               a.history[e].val_accuracy == b.history[e].val_accuracy;
    kd_test(same, "training record and history identical (%d epochs)", b.epochs_done);
    same = b.calibrated && !strcmp(b.calibration_set, "validation");
    for (int c = 0; same && c < a.nclasses; c++) {
        const kd_calibration_row *x = &a.calibration[c], *y = &b.calibration[c];
        same = x->n == y->n && same_double(x->T_mean, y->T_mean) &&
               same_double(x->accuracy, y->accuracy) && same_double(x->mae_argmax, y->mae_argmax);
    }
    same = same && !memcmp(a.confusion, b.confusion, 16 * sizeof(uint64_t));
    kd_test(same, "calibration table and confusion matrix identical");
    kd_test(!strcmp(b.training_data, "toy.h5") && !strcmp(b.command, "test_nn trained_model") &&
                !strcmp(b.kadanoff_version, kd_version()),
            "provenance identical");
    kd_thermometer_free(r);

    /* an untrained, uncalibrated chain model: empty history, no calibration */
    kd_lattice chain = {KD_LATTICE_CHAIN, 12, KD_BOUNDARY_OPEN, -0.5, 0.25};
    const double T[2] = {0.5, INFINITY};
    kd_thermometer_params p0;
    kd_thermometer_params_init(&p0);
    p0.nhidden = 0;
    kd_thermometer *u = NULL;
    kd_thermometer_new(&u, &chain, T, 2, &p0);
    const char *upath = tmp_path("untrained.h5");
    st = kd_thermometer_write(upath, u);
    kd_status st2 = kd_thermometer_read(upath, &r);
    kd_test(st == KD_OK && st2 == KD_OK && r && r->epochs_done == 0 && !r->calibrated &&
                r->lattice.kind == KD_LATTICE_CHAIN && r->lattice.J == -0.5 &&
                r->lattice.boundary == KD_BOUNDARY_OPEN &&
                memcmp(r->param, u->param, u->nparam * sizeof(float)) == 0,
            "untrained chain model without hidden layers round-trips: %s", kd_last_error());
    kd_thermometer_free(r);
    kd_thermometer_free(u);
}

/* ---- damaged files ---------------------------------------------------------------------- */

static void expect_reject(const char *path, const char *phrase1, const char *phrase2,
                          const char *what)
{
    kd_thermometer *th = (kd_thermometer *)1;
    kd_status st = kd_thermometer_read(path, &th);
    const char *msg = kd_last_error();
    kd_test(st != KD_OK && th == NULL && strstr(msg, path) && strstr(msg, phrase1) &&
                (!phrase2 || strstr(msg, phrase2)),
            "%s rejected (status %s): %s", what, kd_strerror(st), msg);
}

/* Progress callback stopping training after *(int *)user more epochs. */
static int stop_after(double fraction, const char *label, void *user)
{
    (void)fraction;
    (void)label;
    int *left = user;
    return --*left == 0;
}

static int same_history(const kd_thermometer_info *a, const kd_thermometer_info *b)
{
    int same = a->epochs_done == b->epochs_done;
    for (int e = 0; same && e < a->epochs_done; e++)
        same = a->history[e].epoch == b->history[e].epoch &&
               same_double(a->history[e].train_loss, b->history[e].train_loss) &&
               same_double(a->history[e].train_accuracy, b->history[e].train_accuracy) &&
               same_double(a->history[e].val_loss, b->history[e].val_loss) &&
               same_double(a->history[e].val_accuracy, b->history[e].val_accuracy);
    return same;
}

/* Interrupt and resume (kadanoff train-thermometer --resume): a fit stopped
 * after epoch 2, written and read back as a checkpoint, continued on another
 * thread count, stopped again after 3 more epochs and continued to the end
 * equals the uninterrupted fit bit for bit: weights, history, best epoch,
 * early stop, calibration. Both optimizers (momentum: one state vector; Adam:
 * two and the step count); the patience of 4 makes the early stop depend on
 * the restored patience counter and best loss. */
static void test_interrupt_resume(void)
{
    kd_lattice lat = {KD_LATTICE_SQUARE, 6, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    double temps[4] = {1.5, 2.2, 3.0, 4.0};
    kd_sample_params sp;
    kd_sample_params_init(&sp);
    sp.lattice = lat;
    sp.temps = temps;
    sp.ntemps = 4;
    sp.samples = 300;
    sp.seed = 5;
    kd_dataset *d = NULL;
    if (!kd_test(kd_sample(&sp, &d) == KD_OK, "6x6 data at 4 temperatures: %s", kd_last_error()))
        return;
    const char *path = tmp_path("thermo.h5.ckpt");
    for (int opt = 0; opt < 2; opt++) {
        kd_thermometer_params p;
        kd_thermometer_params_init(&p);
        p.hidden[0] = 16;
        p.optimizer = opt ? KD_OPTIMIZER_ADAM : KD_OPTIMIZER_MOMENTUM;
        p.lr = 0.01; /* the reference stops early: after 24 (momentum) / 16 (Adam) epochs */
        p.epochs = 40;
        p.batch = 32;
        p.patience = 4;
        p.augment_flip = 1;
        p.seed = 9;
        const char *name = kd_optimizer_name(p.optimizer);
        kd_thermometer *ref = NULL, *th = NULL, *ck = NULL;
        kd_set_threads(1);
        if (!kd_test(kd_thermometer_fit(&ref, d, NULL, 0, &p) == KD_OK, "%s: reference fit: %s",
                     name, kd_last_error()))
            continue;
        kd_thermometer_info a, b;
        kd_thermometer_describe(ref, &a);
        kd_test(a.stopped_early && a.epochs_done > 5 && a.best_epoch < a.epochs_done,
                "%s: the reference stops early (%d epochs, best %d)", name, a.epochs_done,
                a.best_epoch);

        int left = 2;
        p.progress = stop_after;
        p.progress_user = &left;
        kd_status st = kd_thermometer_fit(&th, d, NULL, 0, &p);
        kd_thermometer_describe(th, &b);
        kd_test(st == KD_ERR_CANCELLED && th && b.interrupted && b.epochs_done == 2 &&
                    !b.calibrated,
                "%s: stopped after epoch 2, the thermometer holds the run's state", name);
        st = th ? kd_thermometer_write(path, th) : KD_ERR_INVALID;
        if (st == KD_OK)
            st = kd_thermometer_read(path, &ck);
        kd_thermometer_free(th);
        if (!kd_test(st == KD_OK, "%s: checkpoint written and read: %s", name, kd_last_error()))
            continue;
        kd_thermometer_describe(ck, &b);
        kd_test(b.interrupted && ck->run->step > 0 && (opt ? ck->run->v != NULL : !ck->run->v),
                "%s: the file keeps the run's state (step %ld)", name, ck->run->step);

        kd_set_threads(2);
        left = 3;
        st = kd_thermometer_fit_continue(ck, d, NULL, 0, &p);
        kd_thermometer_describe(ck, &b);
        kd_test(st == KD_ERR_CANCELLED && b.interrupted && b.epochs_done == 5,
                "%s: the continued fit stopped again after epoch 5", name);
        p.seed = 10;
        st = kd_thermometer_fit_continue(ck, d, NULL, 0, &p);
        kd_test(st == KD_ERR_INVALID && strstr(kd_last_error(), "seed"),
                "%s: continuing with another seed refused: %s", name, kd_last_error());
        p.seed = 9;
        double subset[3] = {1.5, 2.2, 3.0};
        st = kd_thermometer_fit_continue(ck, d, subset, 3, &p);
        kd_test(st == KD_ERR_INVALID && strstr(kd_last_error(), "classes"),
                "%s: continuing on other classes refused: %s", name, kd_last_error());
        left = 1000;
        st = kd_thermometer_fit_continue(ck, d, NULL, 0, &p);
        kd_thermometer_describe(ck, &b);
        int same = st == KD_OK && !b.interrupted && a.nparams == b.nparams &&
                   !memcmp(ref->param, ck->param, a.nparams * sizeof(float)) &&
                   a.best_epoch == b.best_epoch && a.stopped_early == b.stopped_early &&
                   same_history(&a, &b) && b.calibrated;
        for (int c = 0; same && c < a.nclasses; c++)
            same = same_double(a.calibration[c].T_mean, b.calibration[c].T_mean) &&
                   a.calibration[c].accuracy == b.calibration[c].accuracy;
        kd_test(same, "%s: interrupted twice and continued = uninterrupted, bit for bit "
                      "(%d epochs, best %d): %s", name, b.epochs_done, b.best_epoch,
                st ? kd_last_error() : "ok");
        kd_test(kd_thermometer_fit_continue(ck, d, NULL, 0, &p) == KD_ERR_INVALID,
                "%s: a finished thermometer cannot be continued", name);
        kd_thermometer_free(ck);
        kd_thermometer_free(ref);
        remove(path);
    }
    kd_set_threads(1);
    kd_dataset_free(d);
}

static void test_damaged(void)
{
    const char *good = tmp_path("model.h5"), *bad = tmp_path("bad.h5");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);

    h5e_copy(good, bad);
    h5e_set_string(bad, "/", "format", "kadanoff-dataset");
    expect_reject(bad, "kadanoff-thermometer", NULL, "wrong format tag");

    h5e_copy(good, bad);
    h5e_set_int(bad, "/", "format_version", 2);
    expect_reject(bad, "format_version", NULL, "newer format version");

    float w[16 * 7] = {0};
    hsize_t d2[2] = {16, 7};
    h5e_copy(good, bad);
    h5e_put(bad, "/layer1/weights", H5T_NATIVE_FLOAT, H5T_NATIVE_FLOAT, 2, d2, w);
    expect_reject(bad, "'/layer1/weights' has shape (16, 7)", "expected (16, 8)",
                  "weights of the wrong shape");

    hsize_t d1[1] = {5};
    h5e_copy(good, bad);
    h5e_put(bad, "/layer3/bias", H5T_NATIVE_FLOAT, H5T_NATIVE_FLOAT, 1, d1, w);
    expect_reject(bad, "'/layer3/bias'", "expected (4)", "output bias of the wrong length");

    double wd[16 * 8] = {0};
    hsize_t d3[2] = {16, 8};
    h5e_copy(good, bad);
    h5e_put(bad, "/layer1/weights", H5T_NATIVE_DOUBLE, H5T_NATIVE_DOUBLE, 2, d3, wd);
    expect_reject(bad, "'/layer1/weights' has element type float64", "expected float32",
                  "float64 weights");

    float wn[16 * 8] = {0};
    wn[37] = NAN;
    h5e_copy(good, bad);
    h5e_put(bad, "/layer1/weights", H5T_NATIVE_FLOAT, H5T_NATIVE_FLOAT, 2, d3, wn);
    expect_reject(bad, "'/layer1/weights'", "expected finite", "NaN weight");

    int64_t hs[2] = {8, 9};
    hsize_t dh[1] = {2};
    h5e_copy(good, bad);
    h5e_put(bad, "/hidden_sizes", H5T_NATIVE_INT64, H5T_NATIVE_INT64, 1, dh, hs);
    expect_reject(bad, "'/layer2/weights' has shape (8, 6)", "expected (8, 9)",
                  "hidden sizes inconsistent with the layers");

    h5e_copy(good, bad);
    h5e_set_int(bad, "/", "hidden_layers", 3);
    expect_reject(bad, "'/hidden_sizes' has shape (2)", "expected (3)",
                  "hidden_layers inconsistent with /hidden_sizes");

    double T[4] = {0.0, 2.5, 1.0, INFINITY};
    hsize_t dt[1] = {4};
    h5e_copy(good, bad);
    h5e_put(bad, "/temperatures", H5T_NATIVE_DOUBLE, H5T_NATIVE_DOUBLE, 1, dt, T);
    expect_reject(bad, "'/temperatures'", "increasing", "unsorted class temperatures");

    h5e_copy(good, bad);
    h5e_set_int(bad, "/", "inputs", 25);
    expect_reject(bad, "'inputs' is 25", "expected 16", "inputs inconsistent with L");

    h5e_copy(good, bad);
    h5e_delete(bad, "/layer2/bias");
    expect_reject(bad, "/layer2/bias", NULL, "missing bias");

    h5e_copy(good, bad);
    h5e_set_string(bad, "/", "activation", "softsign");
    expect_reject(bad, "'activation' is 'softsign'", NULL, "unknown activation");

    h5e_copy(good, bad);
    h5e_set_int(bad, "/", "epochs_done", 7);
    expect_reject(bad, "'/history'", "7 rows", "history shorter than epochs_done");

    FILE *f = fopen(bad, "w");
    fputs("not an HDF5 file\n", f);
    fclose(f);
    expect_reject(bad, "HDF5", NULL, "a text file");

    kd_thermometer *th = (kd_thermometer *)1;
    kd_status st = kd_thermometer_read(tmp_path("missing.h5"), &th);
    kd_test(st == KD_ERR_IO && th == NULL, "missing file -> KD_ERR_IO: %s", kd_last_error());
}

static void test_params(void)
{
    kd_lattice lat = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    const double T[3] = {1.0, 1.0, 2.0}, Tok[2] = {1.0, 2.0};
    kd_thermometer_params p;
    kd_thermometer_params_init(&p);
    kd_thermometer *th = (kd_thermometer *)1;
    kd_test(kd_thermometer_new(&th, &lat, T, 3, &p) == KD_ERR_INVALID && th == NULL,
            "repeated class temperature refused: %s", kd_last_error());
    p.hidden[0] = 0;
    kd_test(kd_thermometer_new(&th, &lat, Tok, 2, &p) == KD_ERR_INVALID,
            "hidden width 0 refused: %s", kd_last_error());
    kd_thermometer_params_init(&p);
    p.val_fraction = 0.6;
    p.test_fraction = 0.5;
    kd_test(kd_thermometer_new(&th, &lat, Tok, 2, &p) == KD_ERR_INVALID,
            "val + test >= 1 refused: %s", kd_last_error());
    kd_thermometer_params_init(&p);
    kd_test(kd_thermometer_new(&th, &lat, Tok, 2, &p) == KD_OK && th->params.lr == 0.05,
            "lr 0 resolves to 0.05 for momentum");
    kd_thermometer_free(th);
    p.optimizer = KD_OPTIMIZER_ADAM;
    kd_test(kd_thermometer_new(&th, &lat, Tok, 2, &p) == KD_OK && th->params.lr == 0.001,
            "lr 0 resolves to 0.001 for Adam");
    int8_t s[16];
    random_spins(s, 16, 1);
    s[3] = 0;
    int lab = 0;
    kd_thermometer_data d = {s, NULL, &lab, 1, NULL};
    kd_test(kd_thermometer_train(th, &d, NULL) == KD_ERR_INVALID &&
                strstr(kd_last_error(), "spin 0 at site 3"),
            "spin 0 refused: %s", kd_last_error());
    kd_thermometer_free(th);
    kd_activation a;
    kd_optimizer o;
    kd_test(kd_activation_parse("relu", &a) == KD_OK && a == KD_ACTIVATION_RELU &&
                kd_activation_parse("elu", &a) == KD_ERR_INVALID &&
                kd_optimizer_parse("adam", &o) == KD_OK && o == KD_OPTIMIZER_ADAM,
            "name parsers");
}

/* The acceptance test of the issue at reduced size: 10×10, T = 0, 0.5, ..., 6
 * (13 classes), 400 configurations per temperature, 30% held out for the
 * calibration table. Readouts of each held-out temperature's set (120
 * configurations):
 *  - T_ml (the set's maximum-likelihood class) must recover T within 0.25 on
 *    average over T <= 3.5. T = 0, 0.5 and 1 are nearly indistinguishable on
 *    10×10 (97% of the configurations at T = 1 are perfect ground states), which
 *    alone costs 0.125 when the three read alike; measured over training seeds
 *    1..8 of this setup: 0.125 (1 seed), 0.188 (6), 0.25 (1).
 *  - T_mean (the paper's mean under averaged probabilities) is pulled toward the
 *    middle of the class range: measured 0.43-0.47 here for T <= 3.5, and 0.37
 *    even for the Bayes posterior estimated from energy histograms (a sufficient
 *    statistic), so ±0.25 is out of its reach; we require it to stay below 0.6
 *    and to increase with T from T = 1.5 on.
 *  - Above T = 3.5 configurations of neighbouring temperatures overlap more
 *    (per-configuration accuracy 0.04-0.3): T_ml is off by 0.4 on average
 *    there and T_mean saturates, reading 4.4-4.8 for T = 4..6. */
static void test_acceptance(void)
{
    double temps[13];
    for (int i = 0; i < 13; i++)
        temps[i] = 0.5 * i;
    kd_sample_params sp;
    kd_sample_params_init(&sp);
    sp.temps = temps;
    sp.ntemps = 13;
    sp.samples = 400;
    sp.algorithm = KD_ALGO_WOLFF;
    sp.symmetrize = 1;
    sp.seed = 2018;
    kd_dataset *d = NULL;
    if (!kd_test(kd_sample(&sp, &d) == KD_OK, "10x10 data at 13 temperatures: %s", kd_last_error()))
        return;
    kd_thermometer_params p;
    kd_thermometer_params_init(&p);
    p.hidden[0] = 64;
    p.activation = KD_ACTIVATION_RELU;
    p.optimizer = KD_OPTIMIZER_ADAM;
    p.lr = 0.003;
    p.epochs = 60;
    p.batch = 50;
    p.test_fraction = 0.3;
    p.augment_flip = 1;
    p.augment_shift = 1;
    kd_thermometer *th = NULL;
    kd_status st = kd_thermometer_fit(&th, d, NULL, 0, &p);
    if (kd_test(st == KD_OK, "thermometer fit: %s", kd_last_error())) {
        kd_thermometer_info in;
        kd_thermometer_describe(th, &in);
        double ml = 0, mean = 0, hi_ml = 0, hi_mean = 0;
        int n = 0, nhi = 0, increasing = 1;
        for (int c = 0; c < in.nclasses; c++) {
            const kd_calibration_row *r = &in.calibration[c];
            if (kd_test_verbose())
                printf("  T = %.1f: T_mean %.3f, T_ml %.1f, accuracy %.3f, |dT| argmax %.3f\n", r->T,
                       r->T_mean, r->T_ml, r->accuracy, r->mae_argmax);
            if (r->T <= 3.5) {
                ml += fabs(r->T_ml - r->T);
                mean += fabs(r->T_mean - r->T);
                n++;
            } else {
                hi_ml += fabs(r->T_ml - r->T);
                hi_mean += fabs(r->T_mean - r->T);
                nhi++;
            }
            if (r->T >= 2.0 && r->T <= 3.5 && !(r->T_mean > in.calibration[c - 1].T_mean))
                increasing = 0;
        }
        kd_test(in.n_test == 13 * 120 && !strcmp(in.calibration_set, "test"),
                "calibrated on the %zu held-out test configurations", in.n_test);
        kd_test(ml / n <= 0.25, "acceptance: mean |T_ml - T| over T <= 3.5 is %.3f (<= 0.25); "
                                "above: %.3f", ml / n, hi_ml / nhi);
        kd_test(mean / n <= 0.6, "paper's readout: mean |T_mean - T| over T <= 3.5 is %.3f "
                                 "(<= 0.6; energy-histogram Bayes posterior: 0.37); above: %.3f", mean / n,
                hi_mean / nhi);
        kd_test(increasing, "T_mean increases with T over 1.5..3.5");
    }
    kd_thermometer_free(th);
    kd_dataset_free(d);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kd_test_nn.%ld", (long)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", tmpdir);
    if (system(cmd) != 0)
        return 1;
    test_gradient();
    test_sliced_gemm();
    test_readout_formulas();
    test_params();
    test_augmentation();
    test_separable();
    test_threads();
    test_split();
    test_split_validation();
    test_divergence();
    test_interrupt_resume();
    test_acceptance();
    kd_thermometer *th = trained_model();
    if (kd_test(th != NULL, "trained model for the file tests: %s", kd_last_error())) {
        test_roundtrip(th);
        test_damaged();
    }
    kd_thermometer_free(th);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        return 1;
    return kd_test_done();
}
