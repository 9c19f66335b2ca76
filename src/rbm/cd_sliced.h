/* CD-k chains run over slices of the minibatch (internal); see cd_sliced.c. */
#ifndef KD_RBM_CD_SLICED_H
#define KD_RBM_CD_SLICED_H

#include <stddef.h>
#include <stdint.h>

#include "rbm/cd.h"

/* kd_cd_gradient for CD-k (not persistent, C = B chains starting at the
 * rows): fills w->h[0 .. B) with (1/B)·E[h|v0], w->v[B .. 2B) with v_k and
 * w->h[B .. 2B) with -(1/B)·E[h|v_k], what cd.c's chain loops compute with
 * the same random words, and w->grad with the gradient, summed per slice
 * and then over the slices in order (so it differs from cd.c's single
 * product in the last bits). Returns 0 (and does nothing) when the batch is
 * too small to be cut into slices, the RBM too large, the work area has too
 * few gradient buffers or the sliced path is switched off; the caller then
 * runs its own loops. */
int kd_cd_gradient_sliced(kd_cd_work *w, const kd_rbm *rbm, size_t B, int k, uint64_t seed,
                          uint64_t stream0);

/* Gradient buffers (kd_cd_work.parts) the sliced path needs for minibatches
 * of up to max_rows rows: 0 if it never applies. */
size_t kd_cd_sliced_partials(const kd_rbm *rbm, size_t max_rows);

/* Benchmarks and tests only: switch the sliced path on (default) or off, to
 * time it and check it against cd.c's loops in one process. Not thread-safe. */
void kd_cd_sliced_enable(int on);

#endif
