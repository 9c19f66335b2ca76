/* The CD-k / PCD gradient kernel shared by the trainer and kd_rbm_cd_gradient
 * (internal). */
#ifndef KD_RBM_CD_H
#define KD_RBM_CD_H

#include <stddef.h>
#include <stdint.h>

#include "rbm/rbm_internal.h"

typedef struct {
    int nv, nh;
    size_t max_rows, max_chains;
    float *v;    /* (max_rows + max_chains) × nv: batch rows, then chain states */
    float *h;    /* (max_rows + max_chains) × nh: scaled hidden means */
    float *hs;   /* max_chains × nh: hidden samples */
    float *grad; /* nparams, laid out like kd_rbm_params */
    size_t nparts; /* gradient buffers of the sliced path (cd_sliced.c) */
    float *parts;  /* nparts × nparams: slices 1 .. nparts (slice 0 writes grad) */
} kd_cd_work;

kd_status kd_cd_work_init(kd_cd_work *w, const kd_rbm *rbm, size_t max_rows, size_t max_chains);
void kd_cd_work_free(kd_cd_work *w);

/* Rows of the batch are w->v[0 .. B). Without `persistent`, C = B chains start
 * at the rows; with it, the C chains start at w->v[B .. B+C) and end there.
 * Chain c draws from stream (seed, stream0 + c), blocks in order: hidden,
 * then k × (visible, hidden) (the last hidden layer is a mean, no draws).
 * Writes w->grad = ⟨v E[h|v]⟩_rows - ⟨v_k E[h|v_k]⟩_chains (W, a, b; zero
 * for disabled biases). */
void kd_cd_gradient(kd_cd_work *w, const kd_rbm *rbm, size_t B, size_t C, int k, int persistent,
                    uint64_t seed, uint64_t stream0);

/* The same for a part of a minibatch of B_all rows and C_all chains (data-
 * parallel training): rows w->v[0 .. B) and chains w->v[B .. B+C) are that
 * part, stream0 is the stream of its first chain, and the averages are still
 * taken over B_all rows and C_all chains, so that the gradients of the parts
 * add up to the minibatch's (up to rounding). B = 0 or C = 0 is allowed (a
 * part with only persistent chains, or only rows). kd_cd_gradient(B, C) is
 * kd_cd_gradient_part(B, C, B, C). */
void kd_cd_gradient_part(kd_cd_work *w, const kd_rbm *rbm, size_t B, size_t C, size_t B_all,
                         size_t C_all, int k, int persistent, uint64_t seed, uint64_t stream0);

#endif
