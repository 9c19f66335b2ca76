/*
 * kadanoff/rng.h — counter-based random streams (Philox4x32-10, Random123).
 *
 * A stream is identified by (seed, stream): the 64-bit seed is the Philox key,
 * the 64-bit stream number fills the upper half of the 128-bit counter and the
 * lower half counts blocks of four 32-bit outputs. Streams never overlap
 * (2^64 blocks each), so giving every chain, temperature or sample its own
 * stream number makes results independent of how work is split over threads
 * or processes: the result is a function of the seed alone.
 *
 * The generator is a small value type, meant to live on the stack or inside an
 * object; the functions are inline because they sit in the innermost loops.
 */
#ifndef KADANOFF_RNG_H
#define KADANOFF_RNG_H

#include <math.h>
#include <stdint.h>

#include <Random123/philox.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    philox4x32_key_t key;
    philox4x32_ctr_t ctr;  /* v[0], v[1]: block index; v[2], v[3]: stream */
    philox4x32_ctr_t out;  /* the current block of four outputs */
    unsigned used;         /* outputs of `out` already consumed (4 = none left) */
} kd_rng;

/* Start stream `stream` of generator `seed` at its first output. */
static inline void kd_rng_init(kd_rng *r, uint64_t seed, uint64_t stream)
{
    r->key.v[0] = (uint32_t)seed;
    r->key.v[1] = (uint32_t)(seed >> 32);
    r->ctr.v[0] = 0;
    r->ctr.v[1] = 0;
    r->ctr.v[2] = (uint32_t)stream;
    r->ctr.v[3] = (uint32_t)(stream >> 32);
    r->used = 4;
}

/* Position of the stream, in blocks of four outputs (for checkpoints). */
static inline uint64_t kd_rng_position(const kd_rng *r)
{
    return (uint64_t)r->ctr.v[0] | ((uint64_t)r->ctr.v[1] << 32);
}

/* Next uniformly distributed 32-bit word. */
static inline uint32_t kd_rng_u32(kd_rng *r)
{
    if (r->used == 4) {
        r->out = philox4x32(r->ctr, r->key);
        if (++r->ctr.v[0] == 0)
            ++r->ctr.v[1];
        r->used = 0;
    }
    return r->out.v[r->used++];
}

static inline uint64_t kd_rng_u64(kd_rng *r)
{
    uint64_t hi = kd_rng_u32(r);
    return (hi << 32) | kd_rng_u32(r);
}

/* Uniform double in [0, 1) with 53 random bits. */
static inline double kd_rng_uniform(kd_rng *r)
{
    return (double)(kd_rng_u64(r) >> 11) * 0x1.0p-53;
}

/* Uniform double in (0, 1): safe to take the logarithm of. */
static inline double kd_rng_uniform_pos(kd_rng *r)
{
    return ((double)(kd_rng_u64(r) >> 11) + 0.5) * 0x1.0p-53;
}

/* Uniform integer in [0, n), n >= 1, without modulo bias (Lemire's method). */
static inline uint32_t kd_rng_below(kd_rng *r, uint32_t n)
{
    uint64_t m = (uint64_t)kd_rng_u32(r) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (uint64_t)kd_rng_u32(r) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

/* Uniformly random permutation p[0..n-1] of 0..n-1, n <= UINT32_MAX:
 * Fisher-Yates from the top, one kd_rng_below(i + 1) per position i >= 1. */
static inline void kd_rng_permutation(kd_rng *r, uint32_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint32_t)i;
    for (size_t i = n; i-- > 1;) {
        uint32_t k = kd_rng_below(r, (uint32_t)(i + 1)), t = p[i];
        p[i] = p[k];
        p[k] = t;
    }
}

/* Standard normal deviate (Box–Muller; uses two uniforms, returns one). */
static inline double kd_rng_normal(kd_rng *r)
{
    double u1 = kd_rng_uniform_pos(r), u2 = kd_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

/* Random spin, +1 or -1 with equal probability. */
static inline int8_t kd_rng_spin(kd_rng *r)
{
    return (kd_rng_u32(r) & 1u) ? (int8_t)1 : (int8_t)-1;
}

#ifdef __cplusplus
}
#endif
#endif
