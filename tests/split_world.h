/*
 * Data-parallel training (kd_data_split, kadanoff/core.h) with the "processes"
 * simulated by threads, for the trainers' tests (test_rbm_train.c, test_nn.c).
 * Each thread is one rank with its own model and trainer; the hooks exchange
 * through a shared buffer between barriers, as MPI would (sum in rank order).
 * ctx of the hooks is a split_rank (or a struct that starts with one).
 */
#ifndef KD_TEST_SPLIT_WORLD_H
#define KD_TEST_SPLIT_WORLD_H

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kadanoff/core.h"

typedef struct {
    int size;
    pthread_barrier_t bar;
    float *buf; /* scratch shared by the ranks */
} split_world;

typedef struct {
    split_world *w;
    int rank;
} split_rank;

static inline kd_status w_sum(void *ctx, float *x, size_t n)
{
    split_rank *m = ctx;
    split_world *w = m->w;
    memcpy(w->buf + (size_t)m->rank * n, x, n * sizeof(float));
    pthread_barrier_wait(&w->bar);
    for (size_t i = 0; i < n; i++) {
        float acc = w->buf[i];
        for (int r = 1; r < w->size; r++)
            acc += w->buf[(size_t)r * n + i];
        x[i] = acc;
    }
    pthread_barrier_wait(&w->bar);
    return KD_OK;
}

static inline kd_status w_gather(void *ctx, float *x, size_t len, const size_t *first)
{
    split_rank *m = ctx;
    split_world *w = m->w;
    size_t a = first[m->rank] * len, b = first[m->rank + 1] * len;
    memcpy(w->buf + a, x + a, (b - a) * sizeof(float));
    pthread_barrier_wait(&w->bar);
    memcpy(x, w->buf, first[w->size] * len * sizeof(float));
    pthread_barrier_wait(&w->bar);
    return KD_OK;
}

static inline kd_status w_bcast(void *ctx, float *x, size_t n)
{
    split_rank *m = ctx;
    if (m->rank == 0)
        memcpy(m->w->buf, x, n * sizeof(float));
    pthread_barrier_wait(&m->w->bar);
    if (m->rank != 0)
        memcpy(x, m->w->buf, n * sizeof(float));
    pthread_barrier_wait(&m->w->bar);
    return KD_OK;
}

/* Run fn on `size` (<= 8) threads, thread r with the r-th of the structs at
 * `members` (each `stride` bytes, starting with a split_rank, which is filled
 * in), all joined before the return. */
static inline void split_world_run(int size, void *(*fn)(void *), void *members, size_t stride)
{
    split_world w;
    memset(&w, 0, sizeof w);
    w.size = size;
    w.buf = calloc((size_t)1 << 16, sizeof(float));
    pthread_barrier_init(&w.bar, NULL, (unsigned)size);
    pthread_t t[8];
    for (int r = 0; r < size; r++) {
        split_rank *id = (split_rank *)((char *)members + (size_t)r * stride);
        *id = (split_rank){&w, r};
        pthread_create(&t[r], NULL, fn, id);
    }
    for (int r = 0; r < size; r++)
        pthread_join(t[r], NULL);
    pthread_barrier_destroy(&w.bar);
    free(w.buf);
}

/* The split of rank m with the given block (0: fast). */
static inline kd_data_split split_of(split_rank *m, size_t block)
{
    return (kd_data_split){m->rank, m->w->size, block, w_sum, w_gather, w_bcast, m};
}

#endif
