/*
 * Wolff single-cluster algorithm (h = 0), iterative with an explicit stack.
 *
 * Pick a random seed site, grow a cluster by activating each bond to a
 * neighbour whose spin is aligned with the bond's preference (parallel for
 * J > 0, antiparallel for J < 0) with probability p = 1 - e^{-2β|J|}, and flip
 * the whole cluster. Spins are flipped as they join; `mark` (stamped with a
 * generation counter, so it never needs clearing) records membership, so a
 * site joins at most once even on frustrated lattices. The original spin of a
 * member i is -s[i].
 *
 * One "sweep" flips clusters until at least N spins have been flipped in total
 * (the sweep-equivalent); the excess carries over to the next sweep, so over
 * many sweeps exactly one lattice's worth of spins is flipped per sweep.
 */
#include "ising/sampler_internal.h"

static size_t grow_and_flip(struct kd_sampler *S)
{
    int8_t *s = S->s;
    const int32_t *nbr = S->nbr;
    const int32_t ghost = (int32_t)S->N;
    const int ferro = S->lat.J >= 0;
    uint32_t gen = ++S->generation;
    if (gen == 0) { /* wrapped after 2^32 clusters: reset stamps */
        for (size_t i = 0; i < S->N; i++)
            S->mark[i] = 0;
        gen = S->generation = 1;
    }
    int32_t seed = (int32_t)kd_rng_below(&S->rng, (uint32_t)S->N);
    size_t top = 0, size = 1;
    S->stack[top++] = seed;
    S->mark[seed] = gen;
    s[seed] = (int8_t)-s[seed];
    while (top > 0) {
        int32_t i = S->stack[--top];
        int orig = -s[i];
        /* neighbour j is a candidate if its spin is what the bond prefers:
         * equal to orig (ferro) or opposite (antiferro) */
        int want = ferro ? orig : -orig;
        for (int k = 0; k < 4; k++) {
            int32_t j = nbr[4 * (size_t)i + k];
            if (j == ghost || S->mark[j] == gen || s[j] != want)
                continue;
            if (kd_rng_u32(&S->rng) < S->add) {
                S->mark[j] = gen;
                s[j] = (int8_t)-s[j];
                S->stack[top++] = j;
                size++;
            }
        }
    }
    return size;
}

void kd_wolff_sweep(struct kd_sampler *S)
{
    while (S->carry < S->N) {
        size_t size = grow_and_flip(S);
        S->carry += size;
        S->attempts += S->N; /* acceptance = mean cluster size / N */
        S->accepted += size;
    }
    S->carry -= S->N;
}
