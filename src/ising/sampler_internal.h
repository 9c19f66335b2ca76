/* The sampler object shared by the kernels (internal). */
#ifndef KD_ISING_SAMPLER_INTERNAL_H
#define KD_ISING_SAMPLER_INTERNAL_H

#include <stdint.h>

#include "kadanoff/ising.h"
#include "kadanoff/rng.h"

enum { KD_MODE_FINITE, KD_MODE_ZERO, KD_MODE_INFINITE };

struct kd_sampler {
    kd_lattice lat;
    size_t N;
    double T, beta;
    kd_algorithm algo;
    int mode;
    kd_rng rng;

    /* Spins, N entries plus one "ghost" site s[N] = 0 that stands in for the
     * missing neighbours of open boundaries (and the vertical neighbours of a
     * chain), so every site has exactly four neighbour indices. */
    int8_t *s;
    int32_t *nbr; /* N × 4 neighbour indices (left, right, up, down) */

    /* Metropolis: accept[(s+1)/2][nb+4] = P(accept) · 2^32 for neighbour sum nb
     * and current spin s. Heat-bath: up[nb+4] = P(s = +1) · 2^32. Stored as
     * uint64 so that probability 1 (2^32) compares true for every u32. */
    uint64_t accept[2][9];
    uint64_t up[9];

    /* Wolff: bond-activation threshold (1 - e^{-2β|J|}) · 2^32, cluster
     * workspace, and the calibrated number of clusters per sweep (0 = not yet). */
    uint64_t add;
    int32_t *stack;
    uint32_t *mark;
    uint32_t generation;
    size_t clusters_per_sweep;

    /* Ground states (T = 0): candidate configurations of minimal energy. */
    int nground;
    int ground[4]; /* 0: all +1, 1: all -1, 2: Néel (+ at even x+y), 3: Néel (-) */

    uint64_t attempts, accepted;
};

void kd_checkerboard_sweep(struct kd_sampler *S);
void kd_wolff_sweep(struct kd_sampler *S);

#endif
