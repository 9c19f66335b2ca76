/* The gradient of a minibatch split over processes (core/split.h). */
#include <string.h>

#include "core/split.h"

void kd_split_part_range(const kd_split_part *pt, size_t n, size_t *lo, size_t *hi)
{
    if (pt->block == 0) {
        *lo = n * pt->k / pt->parts;
        *hi = n * (pt->k + 1) / pt->parts;
        return;
    }
    size_t a = pt->k * pt->block, b = a + pt->block;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
}

size_t kd_split_nblocks(const kd_data_split *sp, size_t n)
{
    return sp->block ? (n + sp->block - 1) / sp->block : 0;
}

kd_status kd_split_gradient(const kd_data_split *sp, size_t n, size_t np, float *parts,
                            size_t *first, float *grad, kd_split_part_fn part, void *user)
{
    const size_t P = (size_t)sp->size, me = (size_t)sp->rank;
    if (sp->block == 0) { /* fast: one part per process, summed by the hook */
        kd_split_part pt = {me, P, 0};
        part(user, &pt, grad);
        return P > 1 ? sp->sum(sp->ctx, grad, np) : KD_OK;
    }
    /* deterministic: fixed blocks, contiguous runs of blocks per process */
    const size_t nblk = kd_split_nblocks(sp, n);
    for (size_t p = 0; p <= P; p++)
        first[p] = nblk * p / P;
    for (size_t j = first[me]; j < first[me + 1]; j++) {
        kd_split_part pt = {j, nblk, sp->block};
        part(user, &pt, parts + j * np);
    }
    if (P > 1) {
        kd_status st = sp->gather(sp->ctx, parts, np, first);
        if (st != KD_OK)
            return st;
    }
    /* the same additions in the same order on every process, whatever P */
    memcpy(grad, parts, np * sizeof(float));
    for (size_t j = 1; j < nblk; j++) {
        const float *x = parts + j * np;
        for (size_t i = 0; i < np; i++)
            grad[i] += x[i];
    }
    return KD_OK;
}
