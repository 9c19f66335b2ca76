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

#endif
