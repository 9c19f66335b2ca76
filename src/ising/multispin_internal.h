/* The multi-spin object shared by its kernels (internal; see kadanoff/multispin.h). */
#ifndef KD_ISING_MULTISPIN_INTERNAL_H
#define KD_ISING_MULTISPIN_INTERNAL_H

#include <stdint.h>

#include <Random123/philox.h>

#include "kadanoff/multispin.h"

/* One decision compares a private uniform 32-bit u with the class's threshold
 * thr (accept iff u < thr), most significant bits first. The head: the first
 * KD_MS_HEAD bits, one round each, take whole words from the site's own Philox
 * blocks (bit r of the word for lane r). The tail: the remaining 28 bits, in
 * KD_MS_CHUNKS chunks of 8, 8, 8 and 4 bits, each compared as one integer by
 * the lanes still undecided, with bits from the site's tail stream
 * (kd_ms_tail_chunks). */
enum { KD_MS_HEAD = 4, KD_MS_CHUNKS = 4, KD_MS_CLASSES = 5 };
static inline unsigned kd_ms_chunk_width(unsigned c) { return c < 3 ? 8 : 4; }
static inline unsigned kd_ms_chunk_shift(unsigned c) { return c < 3 ? 20 - 8 * c : 0; }

struct kd_multispin;
/* Update the sites of one parity in row y during half-sweep h, for groups
 * [g0, g1); add the number of accepted flips (of real replicas) to *accepted.
 * Rows of one parity are independent, and so are groups. */
typedef void (*kd_ms_row_fn)(const struct kd_multispin *ms, int y, int parity, uint64_t h,
                             size_t g0, size_t g1, uint64_t *accepted);

typedef struct {
    const char *name;
    kd_ms_row_fn row;
    int (*supported)(void);
    unsigned unit; /* groups per call unit: 1 (real groups only) or 4 (padded vectors) */
} kd_ms_kernel;

struct kd_multispin {
    kd_lattice lat;
    int L;
    size_t N, G;          /* sites, groups of 64 replicas */
    size_t Gs;            /* storage stride: G rounded up to a multiple of 4 (the vector
                           * kernel also updates the padding groups, which nobody sees) */
    double *T;            /* temperature of each group */
    uint64_t seed, stream;
    philox4x32_key_t key;
    uint64_t *s;          /* N·Gs spin words (see kd_ms_spins): bit r of group g's word
                           * at a site = (spin of replica 64g + r is +1) */
    /* The update rule: 0 Metropolis (flip decisions, classes 0-1 = moves with 0
     * or 1 unsatisfied bond), 1 heat-bath (new-spin decisions, class k = k
     * neighbours up, k = 0..4); ncls = 2 or 5 classes need random bits. */
    int heatbath;
    unsigned ncls;
    /* Per group and class c (< KD_MS_CLASSES): always[c·Gs + g] = ~0 if the
     * decision is "yes" without randomness (threshold 2^32), maybe[c·Gs + g] = ~0
     * if it needs random bits (0 < thr < 2^32); neither: always "no". "Yes" is
     * "flip" for Metropolis and "spin up" for heat-bath. pbits[(b·KD_MS_CLASSES +
     * c)·Gs + g] = ~0 if bit 31 - b of the 32-bit threshold is set (head round b
     * < KD_MS_HEAD compares that bit). */
    uint64_t *always, *maybe, *pbits;
    /* thr[c·Gs + g]: the 32-bit threshold of class c (0 when never or always
     * yes); tbyte[c·Gs + g]: its bits 27-20 (the tail's first chunk)
     * repeated in all eight bytes, for the vector kernel's bytewise compare. */
    uint32_t *thr;
    uint64_t *tbyte;
    /* The two 32-bit halves of each group's stream number, for vector loads. */
    uint64_t *stream_lo, *stream_hi;
    uint64_t afm;         /* 0 for J >= 0, ~0 for J < 0 (a bond is unsatisfied when parallel) */
    uint64_t halfsweeps;  /* half-sweeps done: the h of the stream layout */
    uint64_t inits;       /* start configurations drawn so far */
    uint64_t attempts, accepted;
    int threads;
    const kd_ms_kernel *kernel;
};

/* Spin words are stored by blocks of KD_MS_VEC = 4 groups (one AVX2 vector):
 * the words of groups 4k..4k+3 at all N sites form one contiguous array of
 * 4N words, site-major. Threads own whole blocks (kd_multispin_sweep), so they
 * never write to the same cache line; with the groups interleaved at every
 * site instead, two threads' vectors shared each 64-byte line and the second
 * thread added nothing. The word of group g at site i is
 * kd_ms_spins(ms, g)[i * KD_MS_VEC]. */
enum { KD_MS_VEC = 4 };
static inline uint64_t *kd_ms_spins(const struct kd_multispin *ms, size_t g)
{
    return ms->s + (g / KD_MS_VEC) * ms->N * KD_MS_VEC + g % KD_MS_VEC;
}

extern const kd_ms_kernel kd_ms_kernel_portable;
#if defined(__x86_64__)
#define KD_MS_HAVE_AVX2 1
extern const kd_ms_kernel kd_ms_kernel_avx2, kd_ms_kernel_avx2_soft;
#endif

/* Philox blocks per site and half-sweep: 2 head blocks and up to 14 tail
 * blocks (the tail draws at most 28 bits for each of 64 lanes = 28 words). Site i in
 * half-sweep h owns blocks 16 (h N/2 + i/2) + q, q = 0..15 (the lower half of
 * the counter; see kadanoff/multispin.h). Start configurations use indices
 * >= 2^63. Decision classes: Metropolis class 0 = no unsatisfied bond
 * (ΔE = 8|J|), class 1 = one (ΔE = 4|J|); heat-bath class k = k neighbours up. */
enum { KD_MS_BLOCKS = 16 };
static inline uint64_t kd_ms_site_block(const struct kd_multispin *ms, uint64_t h, size_t i)
{
    return (h * (ms->N / 2) + i / 2) * KD_MS_BLOCKS;
}

/* Population count (SWAR: portable code is built without the popcnt instruction). */
static inline unsigned kd_ms_popcount(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (unsigned)((x * 0x0101010101010101ULL) >> 56);
}

/* Classify the moves of 64 replicas at a site with spins s and neighbours
 * n0..n3: d_k = 1 where bond k is unsatisfied. zero: no unsatisfied bond
 * (ΔE = 8|J|); one: exactly one (ΔE = 4|J|); every other move lowers or keeps
 * the energy. With a = d0^d1, b = d0&d1 (the 2-bit count of the first pair)
 * and c, e likewise, the count is 1 iff exactly one pair counts 1 and neither
 * counts 2. */
static inline void kd_ms_classify(uint64_t s, uint64_t n0, uint64_t n1, uint64_t n2, uint64_t n3,
                                  uint64_t afm, uint64_t *zero, uint64_t *one)
{
    uint64_t d0 = s ^ n0 ^ afm, d1 = s ^ n1 ^ afm, d2 = s ^ n2 ^ afm, d3 = s ^ n3 ^ afm;
    uint64_t a = d0 ^ d1, b = d0 & d1, c = d2 ^ d3, e = d2 & d3;
    *zero = ~(d0 | d1 | d2 | d3);
    *one = (a ^ c) & ~(b | e);
}

/* The two words of Philox block `b` of group g: (v0 | v1 << 32, v2 | v3 << 32). */
static inline void kd_ms_block_words(const struct kd_multispin *ms, size_t g, uint64_t b, uint64_t *w)
{
    philox4x32_ctr_t c = {{(uint32_t)b, (uint32_t)(b >> 32), (uint32_t)ms->stream_lo[g],
                           (uint32_t)ms->stream_hi[g]}};
    philox4x32_ctr_t o = philox4x32(c, ms->key);
    w[0] = o.v[0] | (uint64_t)o.v[1] << 32;
    w[1] = o.v[2] | (uint64_t)o.v[3] << 32;
}

/* The tail stream of one group at one site: first the bits of head word w3
 * that round 3 did not examine (lanes not in U3, the lanes undecided when round
 * 3 began), packed in lane order; then those of w2 (lanes not in U2); then the
 * words of the site's tail blocks blk+2, blk+3, ... (two words each, least
 * significant bit first). Unexamined bits are as good as fresh ones; the
 * blocks are rarely needed. The first m = m3 + m2 bits (<= 128) form the window
 * lo, hi; kd_ms_take128 reads it, kd_ms_tail_read (multispin_portable.c) reads
 * any position. */
static inline void kd_ms_tail_window(uint64_t a, unsigned m3, uint64_t b, unsigned m2, uint64_t *lo,
                                     uint64_t *hi, unsigned *m)
{
    /* a has m3 <= 64 bits, b has m2 <= 64 bits (64 only for a group without a
     * tail, whose window is never read) */
    __extension__ typedef unsigned __int128 u128;
    const u128 w = (u128)a | ((u128)b << m3);
    *lo = (uint64_t)w;
    *hi = (uint64_t)(w >> 64);
    *m = m3 + m2;
}

static inline uint64_t kd_ms_take128(uint64_t lo, uint64_t hi, unsigned p)
{
    __extension__ typedef unsigned __int128 u128;
    return (uint64_t)((((u128)hi << 64) | lo) >> p);
}

/* 64 bits of the tail stream from position p (window of m bits, then blocks). */
uint64_t kd_ms_tail_read(const struct kd_multispin *ms, size_t g, uint64_t blk, uint64_t lo,
                         uint64_t hi, unsigned m, unsigned p);

/* pext(w, u): the bits of w at the set bits of u, packed downwards in order
 * (the BMI2 instruction pext); u is sparse here. */
static inline uint64_t kd_ms_pext(uint64_t w, uint64_t u)
{
    uint64_t r = 0;
    for (unsigned i = 0; u; u &= u - 1, i++)
        r |= ((w >> __builtin_ctzll(u)) & 1) << i;
    return r;
}

/* pext(w, ~u): the bits of w outside the set bits of u, packed downwards in
 * order (the BMI2 instruction pext with the mask ~u). u is sparse here: each
 * of its bits, from the highest, is deleted by shifting the bits above it down. */
static inline uint64_t kd_ms_pext_not(uint64_t w, uint64_t u)
{
    while (u) {
        const unsigned k = 63 - (unsigned)__builtin_clzll(u);
        const uint64_t below = ((uint64_t)1 << k) - 1;
        w = (w & below) | ((w >> 1) & ~below);
        u &= below;
    }
    return w;
}

/* Deposit the low bits of src at the set bits of mask, lowest first (the BMI2
 * instruction pdep). Tail masks are sparse, so the loop is short. */
static inline uint64_t kd_ms_pdep(uint64_t src, uint64_t mask)
{
    uint64_t r = 0;
    for (; mask; mask &= mask - 1, src >>= 1)
        r |= (mask & (0 - mask)) & (0 - (src & 1));
    return r;
}

/* Round b of the bit-serial comparison u < thr for the undecided lanes `und`
 * (lanes k[c] compare with the threshold of class c < nc): bit b of u is the
 * lane's bit of w; thr's bit is pb. A lane is decided at the first bit where
 * they differ: "yes" (acc) if u's bit is 0 and thr's is 1. */
static inline void kd_ms_round(const uint64_t *P, size_t G, unsigned b, uint64_t w, const uint64_t *k,
                               unsigned nc, uint64_t *und, uint64_t *acc)
{
    uint64_t pb = 0;
    for (unsigned c = 0; c < nc; c++)
        pb |= k[c] & P[(b * KD_MS_CLASSES + c) * G];
    *acc |= *und & pb & ~w;
    *und &= ~(w ^ pb);
}

/* The class of each lane as three bit planes (class = p0 + 2 p1 + 4 p2), from
 * the nc one-hot class masks k: the form the tail reads. */
static inline void kd_ms_class_planes(const uint64_t *k, unsigned nc, uint64_t *pl)
{
    pl[0] = k[1] | (nc > 3 ? k[3] : 0);
    pl[1] = nc > 2 ? k[2] | k[3] : 0;
    pl[2] = nc > 4 ? k[4] : 0;
}

/* `width` (<= 8) bits of the tail stream from position q, as an integer whose
 * least significant bit is the stream's bit q. */
static inline unsigned kd_ms_tail_bits(const struct kd_multispin *ms, size_t g, uint64_t blk,
                                       uint64_t lo, uint64_t hi, unsigned m, unsigned q,
                                       unsigned width)
{
    const uint64_t x = q + width <= m ? kd_ms_take128(lo, hi, q) : kd_ms_tail_read(ms, g, blk, lo, hi, m, q);
    return (unsigned)x & ((1u << width) - 1);
}

/* The tail of the decisions of group g at a site whose blocks start at blk,
 * from chunk c on, with the tail stream's bits before position p already
 * drawn: returns the "yes" lanes among `und`, whose classes (< nc, which is 2
 * or 5) are given by the planes pl (kd_ms_class_planes). The window lo, hi
 * holds the stream's first m bits.
 *
 * Chunk c (width w = 8, 8, 8, 4) holds bits s = 20, 12, 4, 0 up of the 28 tail
 * bits of u. With U the lanes still undecided (in lane order) and n = |U|,
 * the j-th lane of U takes stream bits p + w j .. p + w j + w - 1 as its w-bit
 * integer x and compares it with t = (thr >> s) mod 2^w: x < t accepts, x > t
 * rejects, x = t leaves the lane undecided for the next chunk; then p grows
 * by w n. Each lane's bits are its own and fresh, so u is uniform and the
 * decision is exactly u < thr. A chunk decides a lane with probability
 * 1 - 2^-w: the first one almost always ends the site (the vector kernel does
 * it for four groups at once and calls this only for ties and crowded
 * groups). At most 28 bits per lane are drawn: 1792 per group and site. */
static inline uint64_t kd_ms_tail_chunks(const struct kd_multispin *ms, size_t g, uint64_t blk,
                                         uint64_t lo, uint64_t hi, unsigned m, uint64_t und,
                                         const uint64_t *pl, unsigned nc, unsigned c, unsigned p)
{
    const size_t G = ms->Gs; /* table stride */
    uint64_t acc = 0;
    for (; und && c < KD_MS_CHUNKS; c++) {
        const unsigned w = kd_ms_chunk_width(c), s = kd_ms_chunk_shift(c), mask = (1u << w) - 1;
        unsigned tc[8];
        for (unsigned k = 0; k < nc; k++)
            tc[k] = (ms->thr[k * G + g] >> s) & mask;
        uint64_t tied = 0;
        unsigned j = 0;
        for (uint64_t rest = und; rest; rest &= rest - 1, j++) {
            const unsigned l = (unsigned)__builtin_ctzll(rest);
            const uint64_t lane = (uint64_t)1 << l;
            const unsigned x = kd_ms_tail_bits(ms, g, blk, lo, hi, m, p + w * j, w);
            const unsigned k = nc > 2 ? ((pl[0] >> l) & 1) | ((pl[1] >> l) & 1) << 1 | ((pl[2] >> l) & 1) << 2
                                      : (pl[0] >> l) & 1;
            const unsigned t = tc[k];
            if (x < t)
                acc |= lane;
            else if (x == t)
                tied |= lane;
        }
        p += w * j;
        und = tied;
    }
    return acc; /* lanes still undecided have u = thr: rejected */
}

/* The portable decision for group g at a site whose blocks start at blk:
 * lanes k[c] (class c < nc) need random bits; returns the "yes" lanes. Rounds
 * 0-3 (the head) take the four words of head blocks blk, blk+1; the lanes
 * still undecided then go through the tail (kd_ms_tail_chunks). */
static inline uint64_t kd_ms_decide(const struct kd_multispin *ms, size_t g, uint64_t blk,
                                    const uint64_t *k, unsigned nc)
{
    const size_t G = ms->Gs; /* table stride */
    const uint64_t *P = ms->pbits + g;
    uint64_t w[4], used[4], und = 0, acc = 0;
    for (unsigned c = 0; c < nc; c++)
        und |= k[c];
    kd_ms_block_words(ms, g, blk, w);
    kd_ms_block_words(ms, g, blk + 1, w + 2);
    for (unsigned b = 0; b < KD_MS_HEAD; b++) {
        used[b] = und;
        kd_ms_round(P, G, b, w[b], k, nc, &und, &acc);
    }
    if (!und)
        return acc;
    uint64_t lo, hi, pl[3];
    unsigned m;
    kd_ms_tail_window(kd_ms_pext_not(w[3], used[3]), 64 - kd_ms_popcount(used[3]),
                      kd_ms_pext_not(w[2], used[2]), 64 - kd_ms_popcount(used[2]), &lo, &hi, &m);
    kd_ms_class_planes(k, nc, pl);
    return acc | kd_ms_tail_chunks(ms, g, blk, lo, hi, m, und, pl, nc, 0, 0);
}

/* Heat-bath classes: kk[k] = the lanes with k of the four neighbours n0..n3 up
 * (k = 0..4). With a = n0^n1, b = n0&n1 (the 2-bit count of the first pair)
 * and c, e likewise: one up iff exactly one pair counts 1 and neither counts 2
 * (kd_ms_classify of the neighbours); three up is one down, the same for ~n. */
static inline void kd_ms_count_up(uint64_t n0, uint64_t n1, uint64_t n2, uint64_t n3, uint64_t *kk)
{
    kd_ms_classify(0, n0, n1, n2, n3, 0, &kk[0], &kk[1]);
    kd_ms_classify(~(uint64_t)0, n0, n1, n2, n3, 0, &kk[4], &kk[3]);
    kk[2] = ~(kk[0] | kk[1] | kk[3] | kk[4]);
}

/* One site of group g with the portable logic: returns the new spin word. */
static inline uint64_t kd_ms_site(const struct kd_multispin *ms, size_t g, uint64_t blk, uint64_t s,
                                  uint64_t n0, uint64_t n1, uint64_t n2, uint64_t n3)
{
    const size_t G = ms->Gs; /* table stride */
    uint64_t kk[KD_MS_CLASSES], yes = 0, need = 0;
    if (ms->heatbath) {
        kd_ms_count_up(n0, n1, n2, n3, kk);
    } else {
        kd_ms_classify(s, n0, n1, n2, n3, ms->afm, &kk[0], &kk[1]);
        yes = ~(kk[0] | kk[1]); /* moves of neither class lower or keep the energy: always flipped */
    }
    for (unsigned c = 0; c < ms->ncls; c++) {
        yes |= kk[c] & ms->always[c * G + g];
        kk[c] &= ms->maybe[c * G + g];
        need |= kk[c];
    }
    if (need)
        yes |= kd_ms_decide(ms, g, blk, kk, ms->ncls);
    return ms->heatbath ? yes : s ^ yes;
}

/* The portable kernel for groups [g0, g1) of row y (multispin_portable.c). */
void kd_ms_row_groups(const struct kd_multispin *ms, int y, int parity, uint64_t h, size_t g0,
                      size_t g1, uint64_t *accepted);


#endif
