/*
 * The gradient of one minibatch split over processes (kd_data_split in
 * kadanoff/core.h), shared by the trainers that split their minibatches
 * (src/rbm/train.c, src/nn/train.c). Internal.
 */
#ifndef KD_CORE_SPLIT_H
#define KD_CORE_SPLIT_H

#include <stddef.h>

#include "kadanoff/core.h"

/* One part of a minibatch: part k of `parts`, in fast mode (block = 0) the
 * process's share, in deterministic mode block k of `block` rows. */
typedef struct {
    size_t k, parts, block;
} kd_split_part;

/* The rows [*lo, *hi) that part pt takes of a set of n rows (the minibatch,
 * or the persistent chains). */
void kd_split_part_range(const kd_split_part *pt, size_t n, size_t *lo, size_t *hi);

/* Computes part pt's gradient (np floats) into grad. */
typedef void (*kd_split_part_fn)(void *user, const kd_split_part *pt, float *grad);

/* Blocks of a deterministic split of n rows (0 in fast mode). */
size_t kd_split_nblocks(const kd_data_split *sp, size_t n);

/* The gradient of a minibatch of n rows (np floats) into grad on every
 * process: fast mode, this process's part then sp->sum; deterministic mode,
 * this process's run of blocks into parts (kd_split_nblocks · np floats),
 * sp->gather, and the blocks added in block order. first: size + 1 entries
 * of scratch. */
kd_status kd_split_gradient(const kd_data_split *sp, size_t n, size_t np, float *parts,
                            size_t *first, float *grad, kd_split_part_fn part, void *user);

#endif
