/*
 * The portable multi-spin kernel: 64 replicas per 64-bit word, plain C.
 * It is the reference for the vector kernel (same random words, same bits).
 */
#include "ising/multispin_internal.h"

/* 64 bits of the blocks part of the tail stream from position p: word k is
 * word k & 1 of block blk + 2 + k/2. */
static uint64_t block_bits(const struct kd_multispin *ms, size_t g, uint64_t blk, unsigned p)
{
    uint64_t w[2], lo, hi;
    const unsigned k = p / 64, off = p % 64;
    kd_ms_block_words(ms, g, blk + 2 + k / 2, w);
    lo = w[k & 1];
    if (off == 0)
        return lo;
    if (k & 1)
        kd_ms_block_words(ms, g, blk + 2 + (k + 1) / 2, w);
    hi = w[(k + 1) & 1];
    return (lo >> off) | (hi << (64 - off));
}

uint64_t kd_ms_tail_read(const struct kd_multispin *ms, size_t g, uint64_t blk, uint64_t lo,
                         uint64_t hi, unsigned m, unsigned p)
{
    if (p >= m)
        return block_bits(ms, g, blk, p - m);
    /* m - p (< 128) window bits, then the blocks */
    const unsigned have = m - p;
    if (have >= 64)
        return kd_ms_take128(lo, hi, p);
    const uint64_t win = kd_ms_take128(lo, hi, p) & (((uint64_t)1 << have) - 1);
    return win | (block_bits(ms, g, blk, 0) << have);
}

/* Groups [g0, g1) of one row. */
void kd_ms_row_groups(const struct kd_multispin *ms, int y, int parity, uint64_t h, size_t g0,
                      size_t g1, uint64_t *accepted)
{
    const int L = ms->L;
    const size_t V = KD_MS_VEC; /* site stride of the spin words */
    const size_t row = (size_t)y * (size_t)L;
    const size_t up = (size_t)((y + L - 1) % L) * (size_t)L, down = (size_t)((y + 1) % L) * (size_t)L;
    uint64_t count = 0;
    for (size_t g = g0; g < g1; g++) {
        uint64_t *restrict s = kd_ms_spins(ms, g);
        for (int x = (y + parity) & 1; x < L; x += 2) {
            const size_t i = row + (size_t)x;
            const size_t xl = (size_t)(x > 0 ? x - 1 : L - 1), xr = (size_t)(x + 1 < L ? x + 1 : 0);
            uint64_t *si = s + i * V;
            uint64_t v = kd_ms_site(ms, g, kd_ms_site_block(ms, h, i), *si, s[(row + xl) * V],
                                    s[(row + xr) * V], s[(up + (size_t)x) * V],
                                    s[(down + (size_t)x) * V]);
            count += kd_ms_popcount(v ^ *si);
            *si = v;
        }
    }
    *accepted += count;
}

static void row_portable(const struct kd_multispin *ms, int y, int parity, uint64_t h, size_t g0,
                         size_t g1, uint64_t *accepted)
{
    kd_ms_row_groups(ms, y, parity, h, g0, g1, accepted);
}

static int always_supported(void) { return 1; }

const kd_ms_kernel kd_ms_kernel_portable = {"portable", row_portable, always_supported, 1};
