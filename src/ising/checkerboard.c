/*
 * Checkerboard single-spin kernels: Metropolis and heat-bath.
 *
 * A sweep visits all sites of one sublattice ((x + y) even), then the other.
 * Each single-site update satisfies detailed balance with respect to
 * e^{-βH}, so the sweep (a fixed composition of them) leaves it invariant; the
 * sublattice order is what would let the two halves update in parallel, and
 * keeps memory access regular. Odd periodic L makes the sublattices touch
 * across the seam; sites are still updated one at a time, so nothing changes.
 *
 * Acceptance probabilities are tabulated as 32-bit thresholds indexed by the
 * neighbour sum nb in {-4..4} (sampler.c), so a move costs one table lookup
 * and one comparison with a Philox word. A move certain to be accepted draws
 * no random number.
 */
#include "ising/sampler_internal.h"

static void metropolis_sublattice(struct kd_sampler *S, int parity)
{
    const int L = S->lat.L;
    const int rows = S->lat.kind == KD_LATTICE_SQUARE ? L : 1;
    int8_t *restrict s = S->s;
    const int32_t *restrict nbr = S->nbr;
    uint64_t attempts = 0, accepted = 0;
    for (int y = 0; y < rows; y++) {
        size_t row = (size_t)y * (size_t)L;
        for (int x = (y + parity) & 1; x < L; x += 2) {
            size_t i = row + (size_t)x;
            const int32_t *nb = nbr + 4 * i;
            int sum = s[nb[0]] + s[nb[1]] + s[nb[2]] + s[nb[3]];
            int si = s[i];
            uint64_t thr = S->accept[(si + 1) >> 1][sum + 4];
            attempts++;
            if (thr == ((uint64_t)1 << 32) || kd_rng_u32(&S->rng) < thr) {
                s[i] = (int8_t)-si;
                accepted++;
            }
        }
    }
    S->attempts += attempts;
    S->accepted += accepted;
}

static void heatbath_sublattice(struct kd_sampler *S, int parity)
{
    const int L = S->lat.L;
    const int rows = S->lat.kind == KD_LATTICE_SQUARE ? L : 1;
    int8_t *restrict s = S->s;
    const int32_t *restrict nbr = S->nbr;
    uint64_t attempts = 0, changed = 0;
    for (int y = 0; y < rows; y++) {
        size_t row = (size_t)y * (size_t)L;
        for (int x = (y + parity) & 1; x < L; x += 2) {
            size_t i = row + (size_t)x;
            const int32_t *nb = nbr + 4 * i;
            int sum = s[nb[0]] + s[nb[1]] + s[nb[2]] + s[nb[3]];
            int8_t v = kd_rng_u32(&S->rng) < S->up[sum + 4] ? 1 : -1;
            attempts++;
            changed += v != s[i];
            s[i] = v;
        }
    }
    S->attempts += attempts;
    S->accepted += changed;
}

void kd_checkerboard_sweep(struct kd_sampler *S)
{
    for (int parity = 0; parity < 2; parity++) {
        if (S->algo == KD_ALGO_HEATBATH)
            heatbath_sublattice(S, parity);
        else
            metropolis_sublattice(S, parity);
    }
}
