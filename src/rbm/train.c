/* Minibatch CD-k / PCD training with SGD+momentum or Adam, L1/L2 penalties,
 * learning-rate schedules, per-epoch monitoring and NaN/Inf rollback. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "core/error.h"
#include "core/memory.h"
#include "core/split.h"
#include "kadanoff/rng.h"
#include "rbm/cd.h"
#include "rbm/kernels.h"
#include "rbm/rbm_internal.h"

struct kd_rbm_trainer {
    kd_rbm *rbm;
    kd_rbm_train_options opt;
    kd_rbm_data train, valid;         /* descriptors (rows may point to own_*) */
    size_t *own_train, *own_valid;    /* row lists of a validation split */
    kd_rbm_data mon_train, mon_valid; /* monitored subsets */
    size_t *mon_train_rows, *mon_valid_rows;
    size_t *perm; /* order of the training rows in this epoch */
    kd_cd_work work;
    kd_cd_work bwork; /* split, deterministic mode: one block */
    float *parts;     /* split, deterministic mode: the blocks' gradients */
    size_t *first;    /* split: size + 1 boundaries */
    size_t nchains;
    float *chains;   /* PCD: nchains × nv */
    float *vel, *sq; /* optimiser state, nparams each (sq: Adam) */
    uint64_t epoch, updates;
    float *snap; /* params | vel | sq | chains at epoch start */
    uint64_t snap_updates;
    kd_rbm_epoch_stats *hist;
    size_t nhist, cap_hist;
};

void kd_rbm_train_options_default(kd_rbm_train_options *o)
{
    memset(o, 0, sizeof *o);
    o->method = KD_RBM_CD;
    o->k = 1;
    o->batch = 100;
    o->epochs = 100;
    o->optimizer = KD_RBM_SGD;
    o->lr = 0.01;
    o->schedule = KD_RBM_LR_CONSTANT;
    o->lr_final = 0;
    o->lr_decay = 0.99;
    o->momentum = 0.5;
    o->adam_beta1 = 0.9;
    o->adam_beta2 = 0.999;
    o->adam_eps = 1e-8;
    o->l1 = 0;
    o->l2 = 0;
    o->shuffle = 1;
    o->valid_fraction = 0;
    o->seed = 1;
    o->monitor_every = 1;
    o->monitor_samples = 1000;
    o->pll_units = -1;
    o->exact_max_units = 20;
}

static kd_status check_options(const kd_rbm_train_options *o)
{
    if (o->method != KD_RBM_CD && o->method != KD_RBM_PCD)
        KD_FAIL(KD_ERR_INVALID, "unknown training method %d, expected CD or PCD", (int)o->method);
    if (o->k < 1 || o->k > 1000000)
        KD_FAIL(KD_ERR_INVALID, "CD-k with k = %d, expected 1 to 10^6", o->k);
    if (o->batch < 1 || o->batch > ((size_t)1 << 24))
        KD_FAIL(KD_ERR_INVALID, "batch size %zu, expected 1 to 2^24", o->batch);
    /* epochs = 0 is allowed: a trainer that is never stepped (the model stays
     * as initialised, e.g. a random-weight control written with its options) */
    if (o->optimizer != KD_RBM_SGD && o->optimizer != KD_RBM_ADAM)
        KD_FAIL(KD_ERR_INVALID, "unknown optimiser %d, expected SGD or Adam", (int)o->optimizer);
    if (!(o->lr > 0) || !isfinite(o->lr))
        KD_FAIL(KD_ERR_INVALID, "learning rate %g, expected a finite value > 0", o->lr);
    if (o->schedule != KD_RBM_LR_CONSTANT && o->schedule != KD_RBM_LR_LINEAR &&
        o->schedule != KD_RBM_LR_EXPONENTIAL)
        KD_FAIL(KD_ERR_INVALID, "unknown learning-rate schedule %d", (int)o->schedule);
    if (o->schedule == KD_RBM_LR_LINEAR && (!(o->lr_final >= 0) || !isfinite(o->lr_final)))
        KD_FAIL(KD_ERR_INVALID, "final learning rate %g, expected a finite value >= 0",
                o->lr_final);
    if (o->schedule == KD_RBM_LR_EXPONENTIAL && !(o->lr_decay > 0 && o->lr_decay <= 1))
        KD_FAIL(KD_ERR_INVALID, "learning-rate decay %g per epoch, expected 0 < decay <= 1",
                o->lr_decay);
    if (!(o->momentum >= 0 && o->momentum < 1))
        KD_FAIL(KD_ERR_INVALID, "momentum %g, expected 0 <= momentum < 1", o->momentum);
    if (!(o->adam_beta1 >= 0 && o->adam_beta1 < 1) || !(o->adam_beta2 >= 0 && o->adam_beta2 < 1) ||
        !(o->adam_eps > 0) || !isfinite(o->adam_eps))
        KD_FAIL(KD_ERR_INVALID, "Adam β1 = %g, β2 = %g, ε = %g; expected β in [0,1) and ε > 0",
                o->adam_beta1, o->adam_beta2, o->adam_eps);
    if (!(o->l1 >= 0) || !isfinite(o->l1) || !(o->l2 >= 0) || !isfinite(o->l2))
        KD_FAIL(KD_ERR_INVALID, "penalties L1 = %g, L2 = %g, expected finite values >= 0", o->l1,
                o->l2);
    if (!(o->valid_fraction >= 0 && o->valid_fraction < 1))
        KD_FAIL(KD_ERR_INVALID, "validation fraction %g, expected 0 <= f < 1", o->valid_fraction);
    if (o->monitor_every < 0)
        KD_FAIL(KD_ERR_INVALID, "monitor every %d epochs, expected >= 0", o->monitor_every);
    if (o->monitor_samples > ((size_t)1 << 30))
        KD_FAIL(KD_ERR_INVALID, "%zu monitored rows, expected at most 2^30", o->monitor_samples);
    if (o->pll_units < -1)
        KD_FAIL(KD_ERR_INVALID, "pseudo-likelihood units %d, expected -1 (auto), 0 (all) or k > 0",
                o->pll_units);
    if (o->exact_max_units < 0 || o->exact_max_units > KD_RBM_MAX_ENUM)
        KD_FAIL(KD_ERR_INVALID, "exact evaluation up to %d units, expected 0 to %d",
                o->exact_max_units, KD_RBM_MAX_ENUM);
    const kd_rbm_split *sp = o->split;
    if (sp && (sp->size < 1 || sp->rank < 0 || sp->rank >= sp->size))
        KD_FAIL(KD_ERR_INVALID, "process %d of %d, expected 0 <= rank < size", sp->rank, sp->size);
    if (sp && sp->size > 1 && (!sp->sum || !sp->gather || !sp->bcast))
        KD_FAIL(KD_ERR_INVALID, "a split over %d processes needs the sum, gather and bcast hooks",
                sp->size);
    if (sp && sp->block > ((size_t)1 << 24))
        KD_FAIL(KD_ERR_INVALID, "reduction block of %zu rows, expected at most 2^24", sp->block);
    return KD_OK;
}

static int cmp_size(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    return a < b ? -1 : a > b;
}

static size_t data_row_index(const kd_rbm_data *d, size_t k) { return d->rows ? d->rows[k] : k; }

/* Evenly spaced subset of at most m rows of d (positions ⌊k·n/m⌋). */
static kd_status make_subset(const kd_rbm_data *d, size_t m, size_t **rows, kd_rbm_data *out)
{
    *out = *d;
    *rows = NULL;
    if (m >= d->n)
        return KD_OK;
    *rows = malloc((m ? m : 1) * sizeof **rows);
    if (!*rows)
        KD_FAIL(KD_ERR_NOMEM, "out of memory for %zu monitored rows", m);
    for (size_t k = 0; k < m; k++)
        (*rows)[k] = data_row_index(d, (size_t)((double)k * (double)d->n / (double)m));
    out->rows = *rows;
    out->n = m;
    return KD_OK;
}

void kd_rbm_trainer_free(kd_rbm_trainer *t)
{
    if (!t)
        return;
    free(t->own_train);
    free(t->own_valid);
    free(t->mon_train_rows);
    free(t->mon_valid_rows);
    free(t->perm);
    kd_cd_work_free(&t->work);
    kd_cd_work_free(&t->bwork);
    free(t->parts);
    free(t->first);
    free(t->chains);
    free(t->vel);
    free(t->sq);
    free(t->snap);
    free(t->hist);
    free(t);
}

/* Split the training rows: a Philox permutation, the last ⌊f·n⌉ rows validate. */
static kd_status split_rows(kd_rbm_trainer *t, const kd_rbm_data *train)
{
    size_t n = train->n;
    size_t nvalid = (size_t)llround(t->opt.valid_fraction * (double)n);
    if (nvalid == 0)
        return KD_OK;
    if (nvalid >= n)
        KD_FAIL(KD_ERR_INVALID, "validation fraction %g of %zu rows leaves no training rows",
                t->opt.valid_fraction, n);
    size_t *p = malloc(n * sizeof *p);
    t->own_valid = malloc(nvalid * sizeof *t->own_valid);
    t->own_train = malloc((n - nvalid) * sizeof *t->own_train);
    if (!p || !t->own_valid || !t->own_train) {
        free(p);
        KD_FAIL(KD_ERR_NOMEM, "out of memory for a validation split of %zu rows", n);
    }
    for (size_t k = 0; k < n; k++)
        p[k] = data_row_index(train, k);
    kd_rng rng;
    kd_rng_init(&rng, t->opt.seed, kd_rbm_stream(KD_RBM_STREAM_SPLIT, 0, 0));
    for (size_t k = n - 1; k > 0; k--) {
        size_t u = (size_t)(kd_rng_u64(&rng) % (uint64_t)(k + 1)); /* bias < 2^-32 for n < 2^32 */
        size_t tmp = p[k];
        p[k] = p[u];
        p[u] = tmp;
    }
    memcpy(t->own_train, p, (n - nvalid) * sizeof *p);
    memcpy(t->own_valid, p + (n - nvalid), nvalid * sizeof *p);
    free(p);
    qsort(t->own_train, n - nvalid, sizeof(size_t), cmp_size);
    qsort(t->own_valid, nvalid, sizeof(size_t), cmp_size);
    t->valid = *train;
    t->valid.rows = t->own_valid;
    t->valid.n = nvalid;
    t->train.rows = t->own_train;
    t->train.n = n - nvalid;
    return KD_OK;
}

/* ---- data-parallel minibatches (kd_rbm_split in rbm.h) ------------------------ */

static kd_status split_init(kd_rbm_trainer *t)
{
    const kd_rbm_split *sp = t->opt.split;
    size_t R = sp->block, B = t->opt.batch;
    t->first = calloc((size_t)sp->size + 1, sizeof *t->first);
    if (!t->first)
        KD_FAIL(KD_ERR_NOMEM, "out of memory for a split over %d processes", sp->size);
    if (R == 0)
        return KD_OK;
    size_t nblk = (B + R - 1) / R; /* PCD: nchains = B, so this covers the chains too */
    if (nblk > SIZE_MAX / t->rbm->nparams / sizeof(float))
        KD_FAIL(KD_ERR_NOMEM, "%zu reduction blocks of %zu parameters are too large", nblk,
                t->rbm->nparams);
    t->parts = malloc(nblk * t->rbm->nparams * sizeof(float));
    if (!t->parts)
        KD_FAIL(KD_ERR_NOMEM,
                "out of memory for %zu reduction blocks of %zu parameters (%.3g GiB); use a "
                "larger reduction block",
                nblk, t->rbm->nparams,
                (double)nblk * (double)t->rbm->nparams * 4.0 / 1073741824.0);
    return kd_cd_work_init(&t->bwork, t->rbm, R, R);
}

/* The gradient of rows [r0, r1) of the minibatch that starts at position q0 of
 * `rows` (bq rows, C chains) and, for PCD, of chains [c0, c1), into w->grad;
 * the chains are updated in place. */
static void part_gradient(kd_rbm_trainer *t, kd_cd_work *w, const kd_rbm_data *rows, size_t q0,
                          size_t bq, size_t C, size_t r0, size_t r1, size_t c0, size_t c1,
                          uint64_t stream0)
{
    const kd_rbm *r = t->rbm;
    size_t nv = (size_t)r->nv, b = r1 - r0, c = t->nchains ? c1 - c0 : b;
    for (size_t k = 0; k < b; k++)
        kd_rbm_data_row(rows, r->vis, r->nv, q0 + r0 + k, w->v + k * nv);
    if (b + c == 0) {
        memset(w->grad, 0, r->nparams * sizeof(float));
        return;
    }
    if (t->nchains)
        memcpy(w->v + b * nv, t->chains + c0 * nv, c * nv * sizeof(float));
    kd_cd_gradient_part(w, r, b, c, bq, C, t->opt.k, t->nchains > 0, t->opt.seed,
                        stream0 + (t->nchains ? c0 : r0));
    if (t->nchains)
        memcpy(t->chains + c0 * nv, w->v + b * nv, c * nv * sizeof(float));
}

/* One part (core/split.h) of the minibatch at q0 (bq rows, C chains). */
typedef struct {
    kd_rbm_trainer *t;
    const kd_rbm_data *rows;
    size_t q0, bq, C;
    uint64_t stream0;
} batch_part;

static void batch_part_gradient(void *user, const kd_split_part *pt, float *grad)
{
    const batch_part *b = user;
    kd_cd_work *w = pt->block ? &b->t->bwork : &b->t->work;
    size_t r0, r1, c0, c1;
    kd_split_part_range(pt, b->bq, &r0, &r1);
    kd_split_part_range(pt, b->C, &c0, &c1);
    part_gradient(b->t, w, b->rows, b->q0, b->bq, b->C, r0, r1, c0, c1, b->stream0);
    if (grad != w->grad)
        memcpy(grad, w->grad, b->t->rbm->nparams * sizeof(float));
}

/* Minibatch at q0 (bq rows, C chains) split over the processes: the full
 * gradient into t->work.grad on every process. */
static kd_status split_gradient(kd_rbm_trainer *t, const kd_rbm_data *rows, size_t q0, size_t bq,
                                size_t C, uint64_t stream0)
{
    batch_part b = {t, rows, q0, bq, C, stream0};
    size_t n = t->nchains > bq ? t->nchains : bq;
    return kd_split_gradient(t->opt.split, n, t->rbm->nparams, t->parts, t->first, t->work.grad,
                             batch_part_gradient, &b);
}

/* End of an epoch of a split run: every process gets the complete state. */
static kd_status split_sync(kd_rbm_trainer *t)
{
    const kd_rbm_split *sp = t->opt.split;
    const size_t P = (size_t)sp->size, np = t->rbm->nparams, C = t->nchains;
    if (P == 1)
        return KD_OK;
    if (C) { /* each process advanced only its own chains */
        for (size_t p = 0; p <= P; p++) {
            size_t c = sp->block ? ((C + sp->block - 1) / sp->block) * p / P * sp->block
                                 : C * p / P;
            t->first[p] = c < C ? c : C;
        }
        KD_CHECK(sp->gather(sp->ctx, t->chains, (size_t)t->rbm->nv, t->first));
    }
    if (sp->block == 0) { /* fast mode: guard against any difference in the sums */
        KD_CHECK(sp->bcast(sp->ctx, t->rbm->params, np));
        KD_CHECK(sp->bcast(sp->ctx, t->vel, np));
        if (t->sq)
            KD_CHECK(sp->bcast(sp->ctx, t->sq, np));
    }
    return KD_OK;
}

kd_status kd_rbm_trainer_new(kd_rbm_trainer **out, kd_rbm *rbm, const kd_rbm_train_options *opt,
                             const kd_rbm_data *train, const kd_rbm_data *valid)
{
    *out = NULL;
    KD_CHECK(check_options(opt));
    KD_CHECK(kd_rbm_data_check(train, rbm->nv, "training data"));
    if (train->n == 0)
        KD_FAIL(KD_ERR_INVALID, "training data has no rows");
    if (valid && valid->n > 0)
        KD_CHECK(kd_rbm_data_check(valid, rbm->nv, "validation data"));
    KD_CHECK(kd_rbm_validate(rbm));
    if (train->n + opt->batch >= ((uint64_t)1 << 32))
        KD_FAIL(KD_ERR_INVALID, "%zu training rows, expected fewer than 2^32 - batch", train->n);

    {
        /* Up front: parameters, velocity, Adam moments, snapshot, gradients
         * (about 6 copies of the nparams floats) and the batch and chain
         * buffers (visible and hidden values of each row, a few copies). */
        double np = (double)rbm->nparams, units = (double)rbm->nv + (double)rbm->nh;
        double bytes = sizeof(float) * (6.0 * np + 4.0 * (double)opt->batch * units) +
                       sizeof(size_t) * (double)train->n;
        char what[160];
        snprintf(what, sizeof what, "training an RBM %d-%d with batch %zu", rbm->nv, rbm->nh,
                 opt->batch);
        KD_CHECK(kd_memory_check(bytes, what));
    }
    kd_rbm_trainer *t = calloc(1, sizeof *t);
    if (!t)
        KD_FAIL(KD_ERR_NOMEM, "out of memory for a trainer");
    t->rbm = rbm;
    t->opt = *opt;
    t->train = *train;
    memset(&t->valid, 0, sizeof t->valid);
    kd_status st = KD_OK;
    if (valid && valid->n > 0)
        t->valid = *valid;
    else if (opt->valid_fraction > 0)
        st = split_rows(t, train);
    if (st == KD_OK)
        st = make_subset(&t->train, opt->monitor_samples, &t->mon_train_rows, &t->mon_train);
    if (st == KD_OK)
        st = make_subset(&t->valid, opt->monitor_samples, &t->mon_valid_rows, &t->mon_valid);
    if (st != KD_OK) {
        kd_rbm_trainer_free(t);
        return st;
    }

    size_t ntrain = t->train.n, np = rbm->nparams, nv = (size_t)rbm->nv;
    size_t rows = opt->batch < ntrain ? opt->batch : ntrain;
    t->nchains = opt->method == KD_RBM_PCD ? opt->batch : 0;
    int adam = opt->optimizer == KD_RBM_ADAM;
    t->perm = malloc(ntrain * sizeof *t->perm);
    t->vel = calloc(np, sizeof(float));
    t->sq = adam ? calloc(np, sizeof(float)) : NULL;
    t->chains = t->nchains ? malloc(t->nchains * nv * sizeof(float)) : NULL;
    t->snap = malloc((np * (adam ? 3 : 2) + t->nchains * nv) * sizeof(float));
    if (!t->perm || !t->vel || (adam && !t->sq) || (t->nchains && !t->chains) || !t->snap) {
        kd_rbm_trainer_free(t);
        KD_FAIL(KD_ERR_NOMEM, "out of memory for the training state of an RBM %d-%d", rbm->nv,
                rbm->nh);
    }
    st = kd_cd_work_init(&t->work, rbm, rows, t->nchains ? t->nchains : rows);
    if (st == KD_OK && opt->split)
        st = split_init(t);
    if (st != KD_OK) {
        kd_rbm_trainer_free(t);
        return st;
    }
    if (t->nchains) { /* persistent chains start at random training rows */
        kd_rng rng;
        kd_rng_init(&rng, opt->seed, kd_rbm_stream(KD_RBM_STREAM_CHAINS, 0, 0));
        for (size_t c = 0; c < t->nchains; c++)
            kd_rbm_data_row(&t->train, rbm->vis, rbm->nv, kd_rng_below(&rng, (uint32_t)ntrain),
                            t->chains + c * nv);
    }
    *out = t;
    return KD_OK;
}

const kd_rbm_train_options *kd_rbm_trainer_options(const kd_rbm_trainer *t) { return &t->opt; }
uint64_t kd_rbm_trainer_epochs_done(const kd_rbm_trainer *t) { return t->epoch; }

static double learning_rate(const kd_rbm_train_options *o, uint64_t e)
{
    switch (o->schedule) {
    case KD_RBM_LR_LINEAR: {
        if (o->epochs <= 1)
            return o->lr;
        double f = (double)e / (double)(o->epochs - 1);
        if (f > 1)
            f = 1;
        return o->lr + (o->lr_final - o->lr) * f;
    }
    case KD_RBM_LR_EXPONENTIAL:
        return o->lr * pow(o->lr_decay, (double)e);
    default:
        return o->lr;
    }
}

/* Parameters beyond this magnitude count as a divergence, like NaN/Inf: at
 * |θ| = 1e4 a single unit already drives every conditional probability to
 * exactly 0 or 1 in single precision (the logistic saturates near 17), so a
 * Boltzmann machine of ±1 or 0/1 units never needs it; a run reaching it is
 * exploding and would turn into Inf/NaN a few updates later. */
#define PARAM_LIMIT 1e4f

/* The optimiser steps, on one segment [k0, k1) of the parameter vector.
 * `penalise` applies the L1/L2 terms (weights only). They return Σ θ·0 over
 * the segment, plus NaN for every |θ| > PARAM_LIMIT: NaN iff some updated
 * parameter is NaN, ±Inf or beyond the limit. */
typedef struct {
    float lr, mom, l1, l2;     /* SGD: lr, momentum */
    float lr_t, eps_t, b1, b2; /* Adam: bias-corrected step and ε, decay rates */
} step_params;

KD_CLONES static float sgd_kernel(float *restrict p, const float *restrict g, float *restrict vel,
                                  size_t k0, size_t k1, step_params s)
{
    float chk = 0;
#pragma omp simd reduction(+ : chk)
    for (size_t k = k0; k < k1; k++) {
        float w = p[k];
        float sgn = (float)((w > 0) - (w < 0));
        float gk = g[k] - s.l2 * w - s.l1 * sgn;
        float u = s.mom * vel[k] + s.lr * gk;
        vel[k] = u;
        w += u;
        p[k] = w;
        chk += w * 0.0f + (fabsf(w) > PARAM_LIMIT ? NAN : 0.0f);
    }
    return chk;
}

KD_CLONES static float adam_kernel(float *restrict p, const float *restrict g, float *restrict m,
                                   float *restrict sq, size_t k0, size_t k1, step_params s)
{
    float chk = 0;
#pragma omp simd reduction(+ : chk)
    for (size_t k = k0; k < k1; k++) {
        float w = p[k];
        float sgn = (float)((w > 0) - (w < 0));
        float gk = g[k] - s.l2 * w - s.l1 * sgn;
        float mk = s.b1 * m[k] + (1.0f - s.b1) * gk;
        float sk = s.b2 * sq[k] + (1.0f - s.b2) * gk * gk;
        m[k] = mk;
        sq[k] = sk;
        w += s.lr_t * mk / (sqrtf(sk) + s.eps_t);
        p[k] = w;
        chk += w * 0.0f + (fabsf(w) > PARAM_LIMIT ? NAN : 0.0f);
    }
    return chk;
}

/* Elementwise, so any split over threads gives the same numbers; large
 * segments are cut into fixed chunks that run on the OpenMP threads. */
#define UPDATE_CHUNK 16384

static float update_segment(kd_rbm_trainer *t, size_t k0, size_t k1, step_params s)
{
    float *p = t->rbm->params, *g = t->work.grad;
    int adam = t->opt.optimizer == KD_RBM_ADAM;
    long nchunks = (long)((k1 - k0 + UPDATE_CHUNK - 1) / UPDATE_CHUNK);
    if (nchunks <= 4) /* no region: even a one-thread region costs a futex call */
        return adam ? adam_kernel(p, g, t->vel, t->sq, k0, k1, s) : sgd_kernel(p, g, t->vel, k0, k1, s);
    float chk = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : chk)
    for (long c = 0; c < nchunks; c++) {
        size_t a = k0 + (size_t)c * UPDATE_CHUNK, b = a + UPDATE_CHUNK < k1 ? a + UPDATE_CHUNK : k1;
        chk += adam ? adam_kernel(p, g, t->vel, t->sq, a, b, s) : sgd_kernel(p, g, t->vel, a, b, s);
    }
    return chk;
}

/* Apply the gradient in t->work.grad; nonzero if a parameter became NaN/Inf
 * or exceeded PARAM_LIMIT. */
static int apply_update(kd_rbm_trainer *t, double lr)
{
    const kd_rbm *r = t->rbm;
    const kd_rbm_train_options *o = &t->opt;
    size_t nw = (size_t)r->nv * (size_t)r->nh, na = nw + (size_t)r->nv;
    size_t seg[3][2] = {{0, nw}, {nw, na}, {na, r->nparams}};
    int on[3] = {1, !(r->flags & KD_RBM_NO_VISIBLE_BIAS), !(r->flags & KD_RBM_NO_HIDDEN_BIAS)};
    t->updates++;
    step_params s = {(float)lr, (float)o->momentum,   (float)o->l1,        (float)o->l2, 0,
                     0,         (float)o->adam_beta1, (float)o->adam_beta2};
    if (o->optimizer == KD_RBM_ADAM) {
        /* bias-corrected step: η_t = η √(1-β2^t)/(1-β1^t), ε_t = ε √(1-β2^t) */
        double c1 = 1.0 - pow(o->adam_beta1, (double)t->updates);
        double c2 = sqrt(1.0 - pow(o->adam_beta2, (double)t->updates));
        s.lr_t = (float)(lr * c2 / c1);
        s.eps_t = (float)(o->adam_eps * c2);
    }
    float chk = 0;
    for (int k = 0; k < 3; k++) {
        if (!on[k])
            continue;
        step_params sk = s;
        if (k > 0) /* penalties act on W only */
            sk.l1 = sk.l2 = 0;
        chk += update_segment(t, seg[k][0], seg[k][1], sk);
    }
    return isnan(chk);
}

static void snapshot(kd_rbm_trainer *t, int restore)
{
    size_t np = t->rbm->nparams, nc = t->nchains * (size_t)t->rbm->nv;
    float *arr[4] = {t->rbm->params, t->vel, t->sq, t->chains};
    size_t len[4] = {np, np, t->sq ? np : 0, nc};
    float *s = t->snap;
    for (int k = 0; k < 4; k++) {
        if (!len[k])
            continue;
        if (restore)
            memcpy(arr[k], s, len[k] * sizeof(float));
        else
            memcpy(s, arr[k], len[k] * sizeof(float));
        s += len[k];
    }
    if (restore)
        t->updates = t->snap_updates;
    else
        t->snap_updates = t->updates;
}

static void stats_clear(kd_rbm_epoch_stats *s)
{
    double nan = NAN;
    s->epoch = 0;
    s->lr = s->recon_error = s->recon_error_valid = s->pll = s->pll_valid = nan;
    s->free_energy = s->free_energy_valid = s->free_energy_gap = nan;
    s->log_z = s->loglik = s->loglik_valid = s->seconds = nan;
}

static kd_status monitor(kd_rbm_trainer *t, kd_rbm_epoch_stats *s)
{
    const kd_rbm *r = t->rbm;
    int units = t->opt.pll_units;
    if (units < 0)
        units = (size_t)r->nv * (size_t)r->nh <= 65536 ? 0 : 16;
    if (units >= r->nv)
        units = 0;
    uint64_t base = kd_rbm_stream(KD_RBM_STREAM_MONITOR, t->epoch & 0xFFFFFF, 0);
    const kd_rbm_data *d[2] = {&t->mon_train, &t->mon_valid};
    double fe[2] = {NAN, NAN}, rec[2] = {NAN, NAN}, pl[2] = {NAN, NAN};
    for (int k = 0; k < 2; k++) {
        if (d[k]->n == 0)
            continue;
        KD_CHECK(kd_rbm_reconstruction_error(r, d[k], &rec[k]));
        KD_CHECK(
            kd_rbm_pseudo_loglik(r, d[k], units, t->opt.seed, base + ((uint64_t)k << 31), &pl[k]));
        KD_CHECK(kd_rbm_free_energy_data(r, d[k], NULL, &fe[k]));
    }
    s->recon_error = rec[0];
    s->recon_error_valid = rec[1];
    s->pll = pl[0];
    s->pll_valid = pl[1];
    s->free_energy = fe[0];
    s->free_energy_valid = fe[1];
    s->free_energy_gap = fe[1] - fe[0];
    int m = r->nv < r->nh ? r->nv : r->nh;
    if (m <= t->opt.exact_max_units) {
        double lz;
        KD_CHECK(kd_rbm_log_z(r, KD_RBM_SUM_SMALLER, &lz));
        s->log_z = lz;
        s->loglik = -fe[0] - lz;
        s->loglik_valid = -fe[1] - lz;
    }
    return KD_OK;
}

kd_status kd_rbm_trainer_monitor(kd_rbm_trainer *t, kd_rbm_epoch_stats *stats)
{
    kd_rbm_epoch_stats s;
    stats_clear(&s);
    s.epoch = t->epoch;
    s.lr = learning_rate(&t->opt, t->epoch);
    kd_status st = monitor(t, &s);
    *stats = s;
    return st;
}

/* Rows r0 .. r0+n of `rows` as unit values into v (n × nv). Parallel only for
 * large minibatches: a region costs more than a small copy (even a
 * one-thread region makes a futex call). */
static void load_rows(const kd_rbm_data *rows, const kd_rbm *r, size_t r0, size_t n, float *v)
{
    const size_t nv = (size_t)r->nv;
    if (n * nv <= 65536) {
        for (size_t k = 0; k < n; k++)
            kd_rbm_data_row(rows, r->vis, r->nv, r0 + k, v + k * nv);
        return;
    }
#pragma omp parallel for schedule(static)
    for (long k = 0; k < (long)n; k++)
        kd_rbm_data_row(rows, r->vis, r->nv, r0 + (size_t)k, v + (size_t)k * nv);
}

/* Start of row k of a data descriptor in memory. */
static const char *row_ptr(const kd_rbm_data *d, int nv, size_t k)
{
    size_t i = d->rows ? d->rows[k] : k;
    return d->spins ? (const char *)(d->spins + i * (size_t)nv)
                    : (const char *)(d->values + i * (size_t)nv);
}

kd_status kd_rbm_trainer_epoch(kd_rbm_trainer *t, kd_rbm_epoch_stats *stats)
{
    const kd_rbm_train_options *o = &t->opt;
    kd_rbm *r = t->rbm;
    if (t->epoch >= ((uint64_t)1 << 24))
        KD_FAIL(KD_ERR_UNSUPPORTED,
                "epoch %llu: at most 2^24 epochs (the epoch is part of the "
                "Philox stream number)",
                (unsigned long long)t->epoch + 1);
    double t0 = omp_get_wtime();
    size_t ntrain = t->train.n, B = o->batch, nv = (size_t)r->nv;
    size_t nb = (ntrain + B - 1) / B;
    double lr = learning_rate(o, t->epoch);
    snapshot(t, 0);

    /* this epoch's order: a fresh Fisher–Yates permutation of the rows */
    for (size_t k = 0; k < ntrain; k++)
        t->perm[k] = data_row_index(&t->train, k);
    if (o->shuffle) {
        kd_rng rng;
        kd_rng_init(&rng, o->seed, kd_rbm_stream(KD_RBM_STREAM_SHUFFLE, t->epoch, 0));
        for (size_t k = ntrain - 1; k > 0; k--) {
            size_t u = kd_rng_below(&rng, (uint32_t)(k + 1));
            size_t tmp = t->perm[k];
            t->perm[k] = t->perm[u];
            t->perm[u] = tmp;
        }
    }
    kd_rbm_data rows = t->train;
    rows.rows = t->perm;
    const size_t row_bytes = nv * (rows.spins ? 1 : sizeof(float));

    kd_status st = KD_OK;
    for (size_t q = 0; q < nb; q++) {
        size_t r0 = q * B, bq = ntrain - r0 < B ? ntrain - r0 : B;
        size_t C = t->nchains ? t->nchains : bq;
        if (o->split) {
            st = split_gradient(t, &rows, r0, bq, C,
                                kd_rbm_stream(KD_RBM_STREAM_GIBBS, t->epoch, r0));
            if (st != KD_OK) {
                snapshot(t, 1);
                break;
            }
        } else {
            load_rows(&rows, r, r0, bq, t->work.v);
            /* Ask the cache for the next minibatch's rows, which sit at random
             * places of a shuffled data set: they arrive during this minibatch
             * (else the copy waits for ~200 cache misses in turn: measured
             * 10 µs per minibatch of 100-unit rows, 2 µs with this). Small rows
             * only; long ones are streamed by the hardware prefetcher. Written
             * here, not as a function: GCC deems a function of prefetches
             * alone free of effects and drops the call. */
            if (row_bytes <= 1024)
                for (size_t k = r0 + bq; k < r0 + bq + B && k < ntrain; k++) {
                    const char *p = row_ptr(&rows, r->nv, k);
                    for (size_t off = 0; off < row_bytes; off += 64)
                        __builtin_prefetch(p + off);
                    __builtin_prefetch(p + row_bytes - 1);
                }
            if (t->nchains)
                memcpy(t->work.v + bq * nv, t->chains, C * nv * sizeof(float));
            kd_cd_gradient(&t->work, r, bq, C, o->k, t->nchains > 0, o->seed,
                           kd_rbm_stream(KD_RBM_STREAM_GIBBS, t->epoch, r0));
            if (t->nchains)
                memcpy(t->chains, t->work.v + bq * nv, C * nv * sizeof(float));
        }
        if (apply_update(t, lr)) {
            snapshot(t, 1);
            st = kd_set_error(
                KD_ERR_NUMERIC,
                "RBM training diverged in epoch %llu, minibatch %zu of %zu: NaN or Inf "
                "(or a parameter beyond +-1e4) after the update (learning rate %g); the model and "
                "optimiser keep their state from before epoch %llu",
                (unsigned long long)t->epoch + 1, q + 1, nb, lr, (unsigned long long)t->epoch + 1);
            break;
        }
        if (o->progress && o->progress((double)(q + 1) / (double)nb, "epoch", o->progress_user)) {
            snapshot(t, 1);
            st = kd_set_error(KD_ERR_CANCELLED,
                              "RBM training cancelled in epoch %llu; the model keeps "
                              "its state from before that epoch",
                              (unsigned long long)t->epoch + 1);
            break;
        }
    }
    if (st == KD_OK && o->split)
        st = split_sync(t);
    if (st != KD_OK)
        return st;
    t->epoch++;

    kd_rbm_epoch_stats s;
    stats_clear(&s);
    s.epoch = t->epoch;
    s.lr = lr;
    if (o->monitor_every > 0 && t->epoch % (uint64_t)o->monitor_every == 0)
        st = monitor(t, &s);
    s.seconds = omp_get_wtime() - t0;
    if (st != KD_OK)
        return st;
    if (t->nhist == t->cap_hist) {
        size_t cap = t->cap_hist ? 2 * t->cap_hist : 64;
        kd_rbm_epoch_stats *h = realloc(t->hist, cap * sizeof *h);
        if (!h)
            KD_FAIL(KD_ERR_NOMEM, "out of memory for the training history");
        t->hist = h;
        t->cap_hist = cap;
    }
    t->hist[t->nhist++] = s;
    if (stats)
        *stats = s;
    return KD_OK;
}

void kd_rbm_trainer_get_state(const kd_rbm_trainer *t, kd_rbm_trainer_state *st)
{
    st->epoch = t->epoch;
    st->updates = t->updates;
    st->nparams = t->rbm->nparams;
    st->velocity = t->vel;
    st->second_moment = t->sq;
    st->nchains = t->nchains;
    st->chains = t->chains;
    st->nhistory = t->nhist;
    st->history = t->hist;
}

kd_status kd_rbm_trainer_set_state(kd_rbm_trainer *t, const kd_rbm_trainer_state *st)
{
    size_t np = t->rbm->nparams, nv = (size_t)t->rbm->nv;
    if (st->nparams != np || !st->velocity)
        KD_FAIL(KD_ERR_INVALID, "saved optimiser state has %zu parameters%s, expected %zu",
                st->nparams, st->velocity ? "" : " and no velocity", np);
    if (t->sq && !st->second_moment)
        KD_FAIL(KD_ERR_INVALID, "saved state lacks Adam's second moments");
    if (st->nchains != t->nchains || (t->nchains && !st->chains))
        KD_FAIL(KD_ERR_INVALID, "saved state has %zu persistent chains, expected %zu", st->nchains,
                t->nchains);
    if (st->epoch >= ((uint64_t)1 << 24))
        KD_FAIL(KD_ERR_INVALID, "saved epoch %llu, expected < 2^24", (unsigned long long)st->epoch);
    for (size_t k = 0; k < st->nchains * nv; k++)
        if (!isfinite(st->chains[k]))
            KD_FAIL(KD_ERR_INVALID, "saved persistent chain value %zu is %g", k,
                    (double)st->chains[k]);
    if (st->nhistory > t->cap_hist) {
        kd_rbm_epoch_stats *h = realloc(t->hist, st->nhistory * sizeof *h);
        if (!h)
            KD_FAIL(KD_ERR_NOMEM, "out of memory for a training history of %zu epochs",
                    st->nhistory);
        t->hist = h;
        t->cap_hist = st->nhistory;
    }
    if (st->nhistory)
        memmove(t->hist, st->history, st->nhistory * sizeof *t->hist);
    t->nhist = st->nhistory;
    memcpy(t->vel, st->velocity, np * sizeof(float));
    if (t->sq)
        memcpy(t->sq, st->second_moment, np * sizeof(float));
    if (t->nchains)
        memcpy(t->chains, st->chains, t->nchains * nv * sizeof(float));
    t->epoch = st->epoch;
    t->updates = st->updates;
    return KD_OK;
}
