/* Training of the thermometer: minibatch SGD with momentum or Adam, L2,
 * Z2 augmentation, early stopping; the stratified split of a dataset. */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/split.h"
#include "kadanoff/rng.h"
#include "nn/nn_internal.h"

/* Rows evaluated per forward pass outside training. */
#define EVAL_ROWS 256

static kd_status check_data(const kd_thermometer *th, const kd_thermometer_data *d,
                            const char *what)
{
    if ((!d->spins && !d->values) || !d->labels)
        KD_FAIL(KD_ERR_INVALID, "thermometer: %s set has no configurations or no labels", what);
    for (size_t k = 0; k < d->n; k++)
        if (d->labels[k] < 0 || d->labels[k] >= th->nclasses)
            KD_FAIL(KD_ERR_INVALID, "thermometer: %s label %d at row %zu, expected 0..%d", what,
                    d->labels[k], k, th->nclasses - 1);
    return KD_OK;
}

/* Mean cross-entropy and accuracy of a labelled set (no augmentation). */
static kd_status evaluate(const kd_thermometer *th, kd_nn_work *w, const kd_thermometer_data *d,
                          double *loss, double *accuracy)
{
    double sum = 0.0;
    size_t hits = 0;
    for (size_t first = 0; first < d->n; first += (size_t)w->rows) {
        int count = d->n - first < (size_t)w->rows ? (int)(d->n - first) : w->rows;
        size_t h;
        KD_CHECK(kd_nn_load_batch(th, w, d, NULL, first, count, NULL));
        sum += kd_nn_forward(th, w, count, d->labels + first, &h, NULL);
        hits += h;
    }
    *loss = sum / (double)d->n;
    *accuracy = (double)hits / (double)d->n;
    return KD_OK;
}

static kd_status grow_history(kd_thermometer *th, int more)
{
    if (th->epochs_done + more <= th->hist_cap)
        return KD_OK;
    int cap = th->epochs_done + more;
    kd_thermometer_epoch *h = realloc(th->history, (size_t)cap * sizeof *h);
    if (!h)
        KD_FAIL(KD_ERR_NOMEM, "thermometer: out of memory for the training history");
    th->history = h;
    th->hist_cap = cap;
    return KD_OK;
}

/* Buffers of one training run. */
typedef struct {
    kd_nn_work work, eval;
    /* split runs (kd_thermometer_params.split): the combined gradient with
     * the loss, hits and failures of the minibatch after it (nparam + 3),
     * the deterministic mode's block workspace and block gradients, and the
     * processes' block boundaries */
    float *g, *parts;
    kd_nn_work bwork;
    size_t *first;
    size_t *order;
    uint8_t *flip;
    uint32_t *shift;
    int *labels;
    float *m, *v;          /* momentum velocity (m) or Adam moments (m, v) */
    float *last_good, *best;
} train_buffers;

static void buffers_free(train_buffers *b)
{
    kd_nn_work_free(&b->work);
    kd_nn_work_free(&b->eval);
    kd_nn_work_free(&b->bwork);
    free(b->g);
    free(b->parts);
    free(b->first);
    free(b->order);
    free(b->flip);
    free(b->shift);
    free(b->labels);
    free(b->m);
    free(b->v);
    free(b->last_good);
    free(b->best);
}

/* The split of a run, or NULL for one process in fast mode (the unsplit trainer). */
static const kd_data_split *active_split(const kd_thermometer *th)
{
    const kd_data_split *sp = th->params.split;
    return sp && (sp->size > 1 || sp->block > 0) ? sp : NULL;
}

/* The extra entries of a split gradient: summed cross-entropy, argmax hits,
 * rows that could not be loaded. */
#define EXTRA 3

static kd_status split_buffers(train_buffers *b, const kd_thermometer *th,
                               const kd_data_split *sp, int batch)
{
    const size_t np = th->nparam + EXTRA, nblk = kd_split_nblocks(sp, (size_t)batch);
    if (nblk && nblk > SIZE_MAX / np / sizeof(float))
        KD_FAIL(KD_ERR_NOMEM, "%zu reduction blocks of %zu parameters are too large", nblk, np);
    b->g = malloc(np * sizeof(float));
    b->first = calloc((size_t)sp->size + 1, sizeof(size_t));
    b->parts = nblk ? malloc(nblk * np * sizeof(float)) : NULL;
    if (!b->g || !b->first || (nblk && !b->parts))
        KD_FAIL(KD_ERR_NOMEM, "out of memory for %zu reduction blocks of %zu parameters "
                              "(%.3g GiB); use a larger reduction block", nblk, np,
                (double)nblk * (double)np * 4.0 / 1073741824.0);
    if (sp->block)
        return kd_nn_work_init(&b->bwork, th, sp->block < (size_t)batch ? (int)sp->block : batch,
                               1);
    return KD_OK;
}

static kd_status buffers_init(train_buffers *b, const kd_thermometer *th, size_t n_train,
                              size_t n_val, int batch)
{
    memset(b, 0, sizeof *b);
    const size_t P = th->nparam;
    kd_status s = kd_nn_work_init(&b->work, th, batch, 1);
    if (s == KD_OK && n_val > 0)
        s = kd_nn_work_init(&b->eval, th, n_val < EVAL_ROWS ? (int)n_val : EVAL_ROWS, 0);
    if (s != KD_OK) {
        buffers_free(b);
        return s;
    }
    b->order = malloc(n_train * sizeof(size_t));
    b->flip = th->params.augment_flip ? calloc(n_train, 1) : NULL;
    b->shift = th->params.augment_shift ? calloc(n_train, sizeof(uint32_t)) : NULL;
    b->labels = malloc((size_t)batch * sizeof(int));
    b->m = calloc(P, sizeof(float));
    b->v = th->params.optimizer == KD_OPTIMIZER_ADAM ? calloc(P, sizeof(float)) : NULL;
    b->last_good = malloc(P * sizeof(float));
    b->best = malloc(P * sizeof(float));
    if (!b->order || (th->params.augment_flip && !b->flip) ||
        (th->params.augment_shift && !b->shift) || !b->labels || !b->m ||
        (th->params.optimizer == KD_OPTIMIZER_ADAM && !b->v) || !b->last_good || !b->best) {
        buffers_free(b);
        KD_FAIL(KD_ERR_NOMEM, "thermometer: out of memory for training (%zu rows, %zu "
                              "parameters)", n_train, P);
    }
    const kd_data_split *sp = active_split(th);
    if (sp && (s = split_buffers(b, th, sp, batch)) != KD_OK)
        buffers_free(b);
    return s;
}

/* One minibatch of a split run (core/split.h): rows first..first+count of
 * the epoch's order, their labels in `labels`. */
typedef struct {
    const kd_thermometer *th;
    train_buffers *b;
    const kd_thermometer_data *train;
    size_t first;
    int count;
    const kd_nn_augment *aug;
    kd_status st; /* this process's failure to load a row, if any */
} batch_part;

/* The gradient of one part, without the L2 term (added once to the sum),
 * scaled by the whole minibatch; then the part's cross-entropy, hits and
 * failed loads (as floats, so that they add like the gradient). */
static void batch_part_gradient(void *user, const kd_split_part *pt, float *grad)
{
    batch_part *q = user;
    const size_t P = q->th->nparam;
    kd_nn_work *w = pt->block ? &q->b->bwork : &q->b->work;
    size_t lo, hi, h = 0;
    kd_split_part_range(pt, (size_t)q->count, &lo, &hi);
    const int m = (int)(hi - lo);
    double ce = 0.0;
    kd_status st = m ? kd_nn_load_batch(q->th, w, q->train, q->b->order, q->first + lo, m, q->aug)
                     : KD_OK;
    if (st == KD_OK && m)
        ce = kd_nn_forward(q->th, w, m, q->b->labels + lo, &h, NULL);
    if (st == KD_OK)
        kd_nn_backward(q->th, w, m, q->count, q->b->labels + lo, 0.0);
    else
        memset(w->grad, 0, P * sizeof(float));
    if (st != KD_OK && q->st == KD_OK)
        q->st = st;
    memcpy(grad, w->grad, P * sizeof(float));
    grad[P] = (float)ce;
    grad[P + 1] = (float)h;
    grad[P + 2] = st != KD_OK;
}

/* The gradient of the minibatch split over the processes into b->g (with
 * its L2 term), its summed cross-entropy into *ce and hits into *hits. */
static kd_status split_batch(const kd_thermometer *th, train_buffers *b,
                             const kd_thermometer_data *train, size_t first, int count,
                             const kd_nn_augment *aug, double *ce, size_t *hits)
{
    const kd_data_split *sp = active_split(th);
    const size_t P = th->nparam;
    batch_part q = {th, b, train, first, count, aug, KD_OK};
    KD_CHECK(kd_split_gradient(sp, (size_t)count, P + EXTRA, b->parts, b->first, b->g,
                               batch_part_gradient, &q));
    if (q.st != KD_OK)
        return q.st;
    if (b->g[P + 2] > 0)
        KD_FAIL(KD_ERR_INVALID, "thermometer: another process could not load its training "
                                "rows (invalid configurations)");
    *ce = b->g[P];
    *hits = (size_t)b->g[P + 1];
    const double l2 = th->params.l2;
    if (l2 != 0.0) /* ∂J/∂W_l += λ W_l, once (kd_nn_backward's order: sum, then λW) */
        for (int l = 1; l <= th->nlayers; l++) {
            const float lf = (float)l2, *W = th->param + th->w_off[l];
            float *gW = b->g + th->w_off[l];
            for (size_t i = 0; i < (size_t)th->size[l - 1] * (size_t)th->size[l]; i++)
                gW[i] += lf * W[i];
        }
    return KD_OK;
}

/* End of an epoch of a split run in fast mode: rank 0's weights and optimizer
 * state on every process (guards against sums that differ between them). */
static kd_status split_sync(kd_thermometer *th, train_buffers *b)
{
    const kd_data_split *sp = active_split(th);
    if (!sp || sp->size == 1 || sp->block)
        return KD_OK;
    KD_CHECK(sp->bcast(sp->ctx, th->param, th->nparam));
    KD_CHECK(sp->bcast(sp->ctx, b->m, th->nparam));
    if (b->v)
        KD_CHECK(sp->bcast(sp->ctx, b->v, th->nparam));
    return KD_OK;
}

/* The validation loss and accuracy of the current weights. In a split run
 * (every process holds the same weights after split_sync) rank 0 alone
 * evaluates and broadcasts the two doubles and its status, bit for bit, so
 * every process takes rank 0's early-stopping decision even where another
 * process's arithmetic (its BLAS kernels) would round differently; the others
 * also save the work. */
static kd_status validate(const kd_thermometer *th, kd_nn_work *w, const kd_thermometer_data *val,
                          double *loss, double *accuracy)
{
    const kd_data_split *sp = th->params.split;
    if (!sp || sp->size == 1)
        return evaluate(th, w, val, loss, accuracy);
    double v[2] = {NAN, NAN};
    int32_t code = KD_OK;
    kd_status s = KD_OK;
    if (sp->rank == 0)
        code = (int32_t)(s = evaluate(th, w, val, &v[0], &v[1]));
    float buf[5]; /* the bits of v[0], v[1], code */
    _Static_assert(sizeof buf == sizeof v + sizeof code, "packing");
    memcpy(buf, v, sizeof v);
    memcpy(buf + 4, &code, sizeof code);
    KD_CHECK(sp->bcast(sp->ctx, buf, 5));
    memcpy(v, buf, sizeof v);
    memcpy(&code, buf + 4, sizeof code);
    if (code != KD_OK)
        return sp->rank == 0 ? s
                             : kd_set_error((kd_status)code, "thermometer: the validation failed "
                                                             "on MPI rank 0");
    *loss = v[0];
    *accuracy = v[1];
    return KD_OK;
}

/* One optimizer step on th->param with gradient g (t = step count from 1). */
static void update(kd_thermometer *th, const float *g, float *m, float *v, long t)
{
    const kd_thermometer_params *p = &th->params;
    float *w = th->param;
    const size_t P = th->nparam;
    if (p->optimizer == KD_OPTIMIZER_MOMENTUM) {
        /* v ← μ v − η g,  θ ← θ + v */
        const float mu = (float)p->momentum, lr = (float)p->lr;
        for (size_t i = 0; i < P; i++) {
            m[i] = mu * m[i] - lr * g[i];
            w[i] += m[i];
        }
    } else {
        /* Adam: m ← β1 m + (1-β1) g, v ← β2 v + (1-β2) g²,
         * θ ← θ − η m̂ / (√v̂ + ε) with m̂ = m/(1-β1^t), v̂ = v/(1-β2^t);
         * the bias corrections are folded into one step size. */
        const float b1 = (float)p->adam_beta1, b2 = (float)p->adam_beta2;
        const double c1 = 1.0 - pow(p->adam_beta1, (double)t);
        const double c2 = 1.0 - pow(p->adam_beta2, (double)t);
        const float step = (float)(p->lr / c1), vscale = (float)(1.0 / sqrt(c2));
        const float eps = (float)p->adam_eps;
        for (size_t i = 0; i < P; i++) {
            m[i] = b1 * m[i] + (1.0f - b1) * g[i];
            v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
            w[i] -= step * m[i] / (sqrtf(v[i]) * vscale + eps);
        }
    }
}

kd_status kd_thermometer_train(kd_thermometer *th, const kd_thermometer_data *train,
                               const kd_thermometer_data *val)
{
    if (!th || !train)
        KD_FAIL(KD_ERR_INVALID, "kd_thermometer_train: no thermometer or no training data");
    if (train->n < 1)
        KD_FAIL(KD_ERR_INVALID, "thermometer: empty training set");
    KD_CHECK(check_data(th, train, "training"));
    const size_t n_val = val ? val->n : 0;
    if (n_val > 0)
        KD_CHECK(check_data(th, val, "validation"));
    const kd_thermometer_params *p = &th->params;
    const size_t n = train->n;
    const int batch = (size_t)p->batch < n ? p->batch : (int)n;
    const kd_data_split *sp = active_split(th);
    if (sp && (sp->rank < 0 || sp->rank >= sp->size ||
               (sp->size > 1 && (!sp->sum || !sp->gather || !sp->bcast))))
        KD_FAIL(KD_ERR_INVALID, "thermometer: a split over %d processes (rank %d) needs the "
                                "sum, gather and bcast hooks", sp->size, sp->rank);
    if (sp && sp->block > ((size_t)1 << 24))
        KD_FAIL(KD_ERR_INVALID, "reduction block of %zu rows, expected at most 2^24", sp->block);
    train_buffers b;
    KD_CHECK(grow_history(th, p->epochs));
    KD_CHECK(buffers_init(&b, th, n, n_val, batch));

    const size_t P = th->nparam;
    memcpy(b.last_good, th->param, P * sizeof(float));
    memcpy(b.best, th->param, P * sizeof(float));
    double best_loss = INFINITY;
    int since_best = 0, best_epoch = th->epochs_done, epoch0 = th->epochs_done;
    long step = 0;
    kd_status s = KD_OK;
    th->stopped_early = 0;
    kd_nn_run *run = th->run;
    if (run) { /* continue the interrupted run where it stopped */
        if (run->n_train != n || run->n_val != n_val) {
            buffers_free(&b);
            KD_FAIL(KD_ERR_INVALID, "thermometer: the interrupted training run had %zu training "
                                    "and %zu validation rows, this call gives %zu and %zu",
                    run->n_train, run->n_val, n, n_val);
        }
        memcpy(b.best, th->param, P * sizeof(float));
        memcpy(th->param, run->current, P * sizeof(float));
        memcpy(b.last_good, run->current, P * sizeof(float));
        memcpy(b.m, run->m, P * sizeof(float));
        if (b.v)
            memcpy(b.v, run->v, P * sizeof(float));
        best_loss = run->best_loss;
        since_best = run->since_best;
        best_epoch = run->best_epoch;
        step = run->step;
        epoch0 = run->epoch0;
        kd_nn_run_free(run);
        th->run = NULL;
    }

    for (int e = th->epochs_done - epoch0 + 1; e <= p->epochs && s == KD_OK; e++) {
        /* Global epoch number: a second call continues the streams instead of
         * repeating the first call's shuffles. */
        const int epoch = th->epochs_done + 1;
        kd_rng r;
        for (size_t i = 0; i < n; i++)
            b.order[i] = i;
        kd_rng_init(&r, p->seed, kd_nn_stream(KD_NN_TAG_SHUFFLE, (uint64_t)epoch));
        for (size_t i = n - 1; i > 0; i--) { /* Fisher–Yates */
            size_t j = i < UINT32_MAX ? kd_rng_below(&r, (uint32_t)(i + 1))
                                      : (size_t)(kd_rng_u64(&r) % (uint64_t)(i + 1));
            size_t t = b.order[i];
            b.order[i] = b.order[j];
            b.order[j] = t;
        }
        if (b.flip) {
            /* One bit per training row (by row, not by batch position), so the
             * flips do not depend on the shuffle. */
            kd_rng_init(&r, p->seed, kd_nn_stream(KD_NN_TAG_FLIP, (uint64_t)epoch));
            for (size_t i = 0; i < n; i++)
                b.flip[i] = (uint8_t)(kd_rng_u32(&r) & 1u);
        }
        if (b.shift) {
            /* a uniformly random translation of the periodic lattice per row */
            const uint32_t L = (uint32_t)th->lattice.L;
            const uint32_t nshift = th->lattice.kind == KD_LATTICE_SQUARE ? L * L : L;
            kd_rng_init(&r, p->seed, kd_nn_stream(KD_NN_TAG_SHIFT, (uint64_t)epoch));
            for (size_t i = 0; i < n; i++)
                b.shift[i] = kd_rng_below(&r, nshift);
        }
        const kd_nn_augment aug = {b.flip, b.shift};

        double sum = 0.0;
        size_t hits = 0;
        const char *bad = NULL;
        int bad_batch = 0;
        for (size_t first = 0; first < n; first += (size_t)batch) {
            const int count = n - first < (size_t)batch ? (int)(n - first) : batch;
            size_t h;
            /* (split: every process loads its own part) */
            s = sp ? KD_OK : kd_nn_load_batch(th, &b.work, train, b.order, first, count, &aug);
            if (s != KD_OK)
                break;
            for (int k = 0; k < count; k++)
                b.labels[k] = train->labels[b.order[first + (size_t)k]];
            double ce;
            float *grad = b.work.grad;
            if (sp) { /* every process a part of the minibatch */
                grad = b.g;
                if ((s = split_batch(th, &b, train, first, count, &aug, &ce, &h)) != KD_OK)
                    break;
            } else {
                ce = kd_nn_forward(th, &b.work, count, b.labels, &h, NULL);
                kd_nn_backward(th, &b.work, count, count, b.labels, p->l2);
            }
            step++;
            if (th->fault_step > 0 && step == th->fault_step)
                grad[0] = NAN;
            bad_batch = (int)(first / (size_t)batch) + 1;
            if (!isfinite(ce)) {
                bad = "the loss";
                break;
            }
            if (!kd_nn_params_finite(grad, P)) {
                bad = "the gradient";
                break;
            }
            update(th, grad, b.m, b.v, step);
            /* |w| > 1e4 saturates every tanh/sigmoid/softmax it feeds in single
             * precision: a run that gets there is exploding, stop it like NaN */
            if (!kd_nn_params_bounded(th->param, P, 1e4f)) {
                bad = "a weight";
                break;
            }
            sum += ce;
            hits += h;
        }
        if (s == KD_OK && !bad)
            s = split_sync(th, &b);
        if (s != KD_OK)
            break;
        if (bad) {
            memcpy(th->param, b.last_good, P * sizeof(float));
            th->best_epoch = th->epochs_done;
            buffers_free(&b);
            KD_FAIL(KD_ERR_NUMERIC,
                    "thermometer training diverged in epoch %d, batch %d: %s became NaN or "
                    "infinite (or a weight exceeded +-1e4); the weights of epoch %d were kept (learning rate %g: try a "
                    "smaller one)",
                    epoch, bad_batch, bad, th->epochs_done, p->lr);
        }

        kd_thermometer_epoch *row = &th->history[th->epochs_done];
        row->epoch = epoch;
        row->train_loss = sum / (double)n;
        row->train_accuracy = (double)hits / (double)n;
        row->val_loss = NAN;
        row->val_accuracy = NAN;
        if (n_val > 0) {
            s = validate(th, &b.eval, val, &row->val_loss, &row->val_accuracy);
            if (s != KD_OK)
                break;
        }
        th->epochs_done++;
        memcpy(b.last_good, th->param, P * sizeof(float));
        kd_log(KD_LOG_INFO, "thermometer epoch %d: train loss %.5f, accuracy %.4f; validation "
                            "loss %.5f, accuracy %.4f",
               epoch, row->train_loss, row->train_accuracy, row->val_loss, row->val_accuracy);

        if (n_val > 0) {
            if (row->val_loss < best_loss) {
                best_loss = row->val_loss;
                best_epoch = epoch;
                since_best = 0;
                memcpy(b.best, th->param, P * sizeof(float));
            } else if (++since_best >= p->patience) {
                th->stopped_early = e < p->epochs;
                break;
            }
        } else {
            best_epoch = epoch;
        }
        if (th->params.progress &&
            th->params.progress((double)e / p->epochs, "training thermometer",
                                th->params.progress_user)) {
            /* keep what continuing needs (nn_internal.h), then the best weights */
            run = calloc(1, sizeof *run);
            if (run && (run->current = malloc(P * sizeof(float)))) {
                memcpy(run->current, th->param, P * sizeof(float));
                *run = (kd_nn_run){epoch0, n, n_val, step, best_loss, since_best, best_epoch,
                                   run->current, b.m, b.v};
                b.m = b.v = NULL;
                th->run = run;
            } else {
                free(run);
            }
            if (n_val > 0)
                memcpy(th->param, b.best, P * sizeof(float));
            th->best_epoch = best_epoch;
            buffers_free(&b);
            if (!th->run)
                KD_FAIL(KD_ERR_NOMEM, "thermometer training cancelled after epoch %d; out of "
                                      "memory for the state to continue it", epoch);
            KD_FAIL(KD_ERR_CANCELLED, "thermometer training cancelled after epoch %d", epoch);
        }
    }
    if (s == KD_OK && n_val > 0)
        memcpy(th->param, b.best, P * sizeof(float));
    if (s == KD_OK)
        th->best_epoch = best_epoch;
    else { /* invalid data found mid-epoch: back to the last complete epoch */
        memcpy(th->param, b.last_good, P * sizeof(float));
        th->best_epoch = th->epochs_done;
    }
    buffers_free(&b);
    return s;
}

/* ---- the whole pipeline from a dataset ------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A stream index from the bits of T (splitmix64 finaliser), so that the split
 * of one temperature does not depend on which others are selected. */
static uint64_t temperature_index(double T)
{
    uint64_t z;
    memcpy(&z, &T, sizeof z);
    z += UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* The class temperatures: the distinct temperatures of d, or the subset. */
static kd_status class_temperatures(const kd_dataset *d, const double *subset, size_t nsubset,
                                    double **out, int *nclasses)
{
    double *t = malloc((nsubset ? nsubset : d->n) * sizeof(double) + 1);
    if (!t)
        KD_FAIL(KD_ERR_NOMEM, "thermometer: out of memory for the temperature list");
    size_t m = 0;
    if (nsubset) {
        for (size_t i = 0; i < nsubset; i++) {
            size_t r = 0;
            for (; r < d->n; r++) {
                double T = d->temperature[r];
                if (T == subset[i] || (isfinite(T) && isfinite(subset[i]) &&
                                       fabs(T - subset[i]) <= 1e-9 * fmax(fabs(T), fabs(subset[i]))))
                    break;
            }
            if (r == d->n) {
                free(t);
                KD_FAIL(KD_ERR_INVALID, "temperature %g of the selection does not occur in the "
                                        "dataset", subset[i]);
            }
            t[m++] = d->temperature[r];
        }
    } else {
        for (size_t r = 0; r < d->n; r++)
            t[m++] = d->temperature[r];
    }
    qsort(t, m, sizeof(double), cmp_double);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (u == 0 || t[i] != t[u - 1])
            t[u++] = t[i];
    if (nsubset && u < nsubset) {
        free(t);
        KD_FAIL(KD_ERR_INVALID, "the temperature selection names a temperature twice");
    }
    if (u < 2 || u > KD_NN_MAX_CLASSES) {
        free(t);
        KD_FAIL(KD_ERR_INVALID, "a thermometer needs 2..%d distinct temperatures, the %s has %zu",
                KD_NN_MAX_CLASSES, nsubset ? "selection" : "dataset", u);
    }
    *out = t;
    *nclasses = (int)u;
    return KD_OK;
}

typedef struct {
    size_t *rows;
    int *labels;
    size_t n;
} split_part;

/* The first parameter in which p differs from those `th` was made with (lr 0
 * standing for the optimizer's default), as an error; KD_OK if none. */
static kd_status check_same_params(const kd_thermometer *th, const kd_thermometer_params *p)
{
    const kd_thermometer_params *a = &th->params;
    const double lr = p->lr == 0.0 ? (p->optimizer == KD_OPTIMIZER_ADAM ? 0.001 : 0.05) : p->lr;
    const char *what = NULL;
    int same_hidden = a->nhidden == p->nhidden;
    for (int l = 0; same_hidden && l < a->nhidden; l++)
        same_hidden = a->hidden[l] == p->hidden[l];
    if (!same_hidden)
        what = "hidden layers";
    else if (a->activation != p->activation)
        what = "activation";
    else if (a->optimizer != p->optimizer)
        what = "optimizer";
    else if (a->epochs != p->epochs)
        what = "epochs";
    else if (a->batch != p->batch)
        what = "batch";
    else if (a->lr != lr)
        what = "learning rate";
    else if (a->momentum != p->momentum)
        what = "momentum";
    else if (a->adam_beta1 != p->adam_beta1 || a->adam_beta2 != p->adam_beta2 ||
             a->adam_eps != p->adam_eps)
        what = "Adam constants";
    else if (a->l2 != p->l2)
        what = "l2";
    else if (a->val_fraction != p->val_fraction)
        what = "validation fraction";
    else if (a->test_fraction != p->test_fraction)
        what = "test fraction";
    else if (a->patience != p->patience)
        what = "patience";
    else if (a->augment_flip != p->augment_flip || a->augment_shift != p->augment_shift)
        what = "augmentation";
    else if (a->seed != p->seed)
        what = "seed";
    if (what)
        KD_FAIL(KD_ERR_INVALID, "the interrupted thermometer was trained with another %s", what);
    return KD_OK;
}

/* The classes of the thermometer being continued must be those of the data. */
static kd_status check_same_classes(const kd_thermometer *th, const kd_dataset *d,
                                    const double *temps, int C)
{
    const kd_lattice *a = &th->lattice, *b = &d->lattice;
    if (a->kind != b->kind || a->L != b->L || a->boundary != b->boundary || a->J != b->J ||
        a->field != b->field)
        KD_FAIL(KD_ERR_INVALID, "the interrupted thermometer was trained on a %s lattice of "
                                "L = %d, the data are of a %s lattice of L = %d",
                kd_lattice_kind_name(a->kind), a->L, kd_lattice_kind_name(b->kind), b->L);
    int same = th->nclasses == C;
    for (int k = 0; same && k < C; k++)
        same = th->temps[k] == temps[k];
    if (!same)
        KD_FAIL(KD_ERR_INVALID, "the interrupted thermometer has %d classes from T = %g to %g, "
                                "the data give %d from T = %g to %g", th->nclasses, th->temps[0],
                th->temps[th->nclasses - 1], C, temps[0], temps[C - 1]);
    return KD_OK;
}

/* kd_thermometer_fit (cont NULL) or kd_thermometer_fit_continue (cont). */
static kd_status fit(kd_thermometer **out, kd_thermometer *cont, const kd_dataset *d,
                     const double *subset, size_t nsubset, const kd_thermometer_params *p)
{
    if (!d || !d->spins || d->n < 1)
        KD_FAIL(KD_ERR_INVALID, "thermometer: no configurations to train on");
    if (nsubset && !subset)
        KD_FAIL(KD_ERR_INVALID, "thermometer: %zu selected temperatures but no list", nsubset);
    KD_CHECK(kd_nn_check_params(p));
    double *temps = NULL;
    int C = 0;
    KD_CHECK(class_temperatures(d, subset, nsubset, &temps, &C));

    /* Rows of each class, in file order. */
    size_t *count = calloc((size_t)C, sizeof(size_t)), *start = calloc((size_t)C + 1, sizeof(size_t));
    int *cls = malloc(d->n * sizeof(int));
    size_t *byclass = malloc(d->n * sizeof(size_t));
    split_part part[3] = {{0}}; /* test, validation, training */
    for (int i = 0; i < 3; i++) {
        part[i].rows = malloc(d->n * sizeof(size_t));
        part[i].labels = malloc(d->n * sizeof(int));
    }
    kd_status s = KD_OK;
    kd_thermometer *th = NULL;
    if (!count || !start || !cls || !byclass || !part[0].rows || !part[1].rows || !part[2].rows ||
        !part[0].labels || !part[1].labels || !part[2].labels) {
        s = kd_set_error(KD_ERR_NOMEM, "thermometer: out of memory for the split of %zu rows",
                         d->n);
        goto done;
    }
    for (size_t r = 0; r < d->n; r++) {
        const double T = d->temperature[r];
        int c = -1;
        for (int k = 0; k < C && c < 0; k++) /* exact: the classes are values of the file */
            if (temps[k] == T)
                c = k;
        cls[r] = c;
        if (c >= 0)
            count[c]++;
    }
    for (int c = 0; c < C; c++)
        start[c + 1] = start[c] + count[c];
    memset(count, 0, (size_t)C * sizeof(size_t));
    for (size_t r = 0; r < d->n; r++)
        if (cls[r] >= 0)
            byclass[start[cls[r]] + count[cls[r]]++] = r;

    for (int c = 0; c < C && s == KD_OK; c++) {
        size_t nc = count[c], *rows = byclass + start[c];
        kd_rng r;
        kd_rng_init(&r, p->seed, kd_nn_stream(KD_NN_TAG_SPLIT, temperature_index(temps[c])));
        for (size_t i = nc - 1; i > 0; i--) {
            size_t j = i < UINT32_MAX ? kd_rng_below(&r, (uint32_t)(i + 1))
                                      : (size_t)(kd_rng_u64(&r) % (uint64_t)(i + 1));
            size_t t = rows[i];
            rows[i] = rows[j];
            rows[j] = t;
        }
        size_t ntest = (size_t)floor(p->test_fraction * (double)nc + 0.5);
        size_t nval = (size_t)floor(p->val_fraction * (double)nc + 0.5);
        if (ntest + nval >= nc) {
            s = kd_set_error(KD_ERR_INVALID,
                             "temperature %g has %zu configurations: none left for training "
                             "after holding out %zu for testing and %zu for validation "
                             "(fractions %g and %g)",
                             temps[c], nc, ntest, nval, p->test_fraction, p->val_fraction);
            break;
        }
        size_t cut[3] = {ntest, nval, nc - ntest - nval}, pos = 0;
        for (int i = 0; i < 3; i++)
            for (size_t k = 0; k < cut[i]; k++, pos++) {
                part[i].rows[part[i].n] = rows[pos];
                part[i].labels[part[i].n++] = c;
            }
    }
    if (s != KD_OK)
        goto done;

    if (cont) {
        if ((s = check_same_classes(cont, d, temps, C)) != KD_OK)
            goto done;
        if (cont->n_test != part[0].n || cont->n_val != part[1].n || cont->n_train != part[2].n) {
            s = kd_set_error(KD_ERR_INVALID, "the interrupted thermometer had %zu training / %zu "
                             "validation / %zu test rows, the data give %zu / %zu / %zu",
                             cont->n_train, cont->n_val, cont->n_test, part[2].n, part[1].n,
                             part[0].n);
            goto done;
        }
        th = cont;
        th->params.progress = p->progress;
        th->params.progress_user = p->progress_user;
        th->params.split = p->split;
    } else {
        s = kd_thermometer_new(&th, &d->lattice, temps, C, p);
        if (s != KD_OK)
            goto done;
        th->n_test = part[0].n;
        th->n_val = part[1].n;
        th->n_train = part[2].n;
    }
    kd_thermometer_data sets[3];
    for (int i = 0; i < 3; i++)
        sets[i] = (kd_thermometer_data){d->spins, part[i].rows, part[i].labels, part[i].n, NULL};
    s = kd_thermometer_train(th, &sets[2], &sets[1]);
    if (s == KD_OK) {
        int which = part[0].n ? 0 : part[1].n ? 1 : 2;
        static const char *const names[3] = {"test", "validation", "training"};
        s = kd_thermometer_calibrate(th, &sets[which], names[which]);
    }
done:
    if (cont) {
        cont->params.progress = NULL;
        cont->params.progress_user = NULL;
        cont->params.split = NULL;
    } else if (s != KD_OK && s != KD_ERR_CANCELLED) {
        kd_thermometer_free(th);
        th = NULL;
    }
    if (out)
        *out = th;
    free(temps);
    free(count);
    free(start);
    free(cls);
    free(byclass);
    for (int i = 0; i < 3; i++) {
        free(part[i].rows);
        free(part[i].labels);
    }
    return s;
}

kd_status kd_thermometer_fit(kd_thermometer **out, const kd_dataset *d, const double *subset,
                             size_t nsubset, const kd_thermometer_params *p)
{
    if (!out)
        KD_FAIL(KD_ERR_INVALID, "kd_thermometer_fit: no output pointer");
    *out = NULL;
    return fit(out, NULL, d, subset, nsubset, p);
}

kd_status kd_thermometer_fit_continue(kd_thermometer *th, const kd_dataset *d,
                                      const double *subset, size_t nsubset,
                                      const kd_thermometer_params *p)
{
    if (!th || !p)
        KD_FAIL(KD_ERR_INVALID, "kd_thermometer_fit_continue: no thermometer or no parameters");
    if (!th->run)
        KD_FAIL(KD_ERR_INVALID, "the thermometer holds no interrupted training run to continue");
    KD_CHECK(check_same_params(th, p));
    return fit(NULL, th, d, subset, nsubset, p);
}
