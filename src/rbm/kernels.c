/* Fast float32 kernels of the RBM; see kernels.h. */

/* GCC refuses to if-convert the clamps of expf_poly next to a float→int
 * conversion while floating-point exceptions count as side effects; we never
 * read the exception flags, and no result changes, so let it vectorise. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include <string.h>

#include <omp.h>

#include "rbm/kernels.h"
#include "rbm/rbm_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define KD_HAVE_AVX2_PATH 1
#endif

/* ---- Philox4x32-10 (Salmon et al., SC'11) -------------------------------- */

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void kd_philox_fill_ref(uint64_t seed, uint64_t stream, uint64_t block, size_t nblocks,
                        uint32_t *out)
{
    for (size_t t = 0; t < nblocks; t++) {
        uint64_t ctr = block + t;
        uint32_t c0 = (uint32_t)ctr, c1 = (uint32_t)(ctr >> 32);
        uint32_t c2 = (uint32_t)stream, c3 = (uint32_t)(stream >> 32);
        uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
        for (int r = 0; r < 10; r++) {
            /* one round: two 32×32→64 products, halves swapped and keyed */
            uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
            uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
            c0 = n0;
            c1 = (uint32_t)p1;
            c2 = n2;
            c3 = (uint32_t)p0;
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        out[4 * t] = c0;
        out[4 * t + 1] = c1;
        out[4 * t + 2] = c2;
        out[4 * t + 3] = c3;
    }
}

#ifdef KD_HAVE_AVX2_PATH
/* Eight counters per vector; G vectors at once, so that G independent
 * dependency chains (multiply → blend → xor, ~7 cycles per round) overlap.
 * _mm256_mul_epu32 multiplies the even 32-bit lanes into 64-bit products; the
 * odd lanes are shifted down first. Lane l of vector v holds the counter
 * words c0..c3 (block low, block high, stream low, stream high) of one
 * block; its four output words go to out[32v+4l ..]. */
#define PHILOX_AVX2_CORE(G)                                                                        \
    __attribute__((target("avx2"), always_inline)) static inline void philox_core_##G(             \
        uint64_t seed, __m256i *c0, __m256i *c1, __m256i *c2, __m256i *c3, uint32_t *out)         \
    {                                                                                              \
        const __m256i m0 = _mm256_set1_epi64x(PHILOX_M0), m1 = _mm256_set1_epi64x(PHILOX_M1);      \
        uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);                                 \
        for (int r = 0; r < 10; r++) {                                                             \
            __m256i key0 = _mm256_set1_epi32((int)k0), key1 = _mm256_set1_epi32((int)k1);          \
            for (int v = 0; v < G; v++) {                                                          \
                __m256i pe0 = _mm256_mul_epu32(c0[v], m0);                                         \
                __m256i po0 = _mm256_mul_epu32(_mm256_srli_epi64(c0[v], 32), m0);                  \
                __m256i pe1 = _mm256_mul_epu32(c2[v], m1);                                         \
                __m256i po1 = _mm256_mul_epu32(_mm256_srli_epi64(c2[v], 32), m1);                  \
                __m256i hi0 = _mm256_blend_epi32(_mm256_srli_epi64(pe0, 32), po0, 0xAA);           \
                __m256i lo0 = _mm256_blend_epi32(pe0, _mm256_slli_epi64(po0, 32), 0xAA);           \
                __m256i hi1 = _mm256_blend_epi32(_mm256_srli_epi64(pe1, 32), po1, 0xAA);           \
                __m256i lo1 = _mm256_blend_epi32(pe1, _mm256_slli_epi64(po1, 32), 0xAA);           \
                c0[v] = _mm256_xor_si256(_mm256_xor_si256(hi1, c1[v]), key0);                      \
                c1[v] = lo1;                                                                       \
                c2[v] = _mm256_xor_si256(_mm256_xor_si256(hi0, c3[v]), key1);                      \
                c3[v] = lo0;                                                                       \
            }                                                                                      \
            k0 += PHILOX_W0;                                                                       \
            k1 += PHILOX_W1;                                                                       \
        }                                                                                          \
        for (int v = 0; v < G; v++) {                                                              \
            /* 4×8 transpose into block order: c0..c3 of block 0, of block 1, ... */              \
            __m256i a = _mm256_unpacklo_epi32(c0[v], c1[v]),                                       \
                    b = _mm256_unpackhi_epi32(c0[v], c1[v]);                                       \
            __m256i c = _mm256_unpacklo_epi32(c2[v], c3[v]),                                       \
                    d = _mm256_unpackhi_epi32(c2[v], c3[v]);                                       \
            __m256i e = _mm256_unpacklo_epi64(a, c), f = _mm256_unpackhi_epi64(a, c);              \
            __m256i g = _mm256_unpacklo_epi64(b, d), h = _mm256_unpackhi_epi64(b, d);              \
            __m256i *o = (__m256i *)(out + 32 * v);                                                \
            _mm256_storeu_si256(o, _mm256_permute2x128_si256(e, f, 0x20));                         \
            _mm256_storeu_si256(o + 1, _mm256_permute2x128_si256(g, h, 0x20));                     \
            _mm256_storeu_si256(o + 2, _mm256_permute2x128_si256(e, f, 0x31));                     \
            _mm256_storeu_si256(o + 3, _mm256_permute2x128_si256(g, h, 0x31));                     \
        }                                                                                          \
    }

PHILOX_AVX2_CORE(1)
PHILOX_AVX2_CORE(4)

/* Blocks from counter arrays: lane l of vector v is block ctr[8v+l] of
 * stream str[8v+l]. */
__attribute__((target("avx2"))) static void philox_avx2(int G, uint64_t seed, const uint64_t *ctr,
                                                        const uint64_t *str, uint32_t *out)
{
    __m256i c0[4], c1[4], c2[4], c3[4];
    for (int v = 0; v < G; v++) {
        uint32_t lo[8], hi[8], slo[8], shi[8];
        for (int l = 0; l < 8; l++) {
            lo[l] = (uint32_t)ctr[8 * v + l];
            hi[l] = (uint32_t)(ctr[8 * v + l] >> 32);
            slo[l] = (uint32_t)str[8 * v + l];
            shi[l] = (uint32_t)(str[8 * v + l] >> 32);
        }
        c0[v] = _mm256_loadu_si256((const __m256i *)lo);
        c1[v] = _mm256_loadu_si256((const __m256i *)hi);
        c2[v] = _mm256_loadu_si256((const __m256i *)slo);
        c3[v] = _mm256_loadu_si256((const __m256i *)shi);
    }
    if (G == 4)
        philox_core_4(seed, c0, c1, c2, c3, out);
    else
        philox_core_1(seed, c0, c1, c2, c3, out);
}

/* The sequence of philox_fill_avx2 (below) from element 0 while no counter
 * word carries into its high half: blocks block0 .. block0+nb-1 share their
 * high word, and so do the streams. The counters are then built in the
 * vector registers (block offset t and row s per lane, stepped by 8 with
 * wrap-around at nb), with no round trip through memory. Returns the number
 * of blocks done, a multiple of 8. */
__attribute__((target("avx2"))) static size_t philox_fill_avx2_fast(uint64_t seed,
                                                                    uint64_t stream0,
                                                                    uint64_t block0, uint32_t nb,
                                                                    size_t n, uint32_t *out)
{
    uint32_t t0[8], s0[8];
    for (uint32_t l = 0; l < 8; l++) {
        t0[l] = l % nb;
        s0[l] = l / nb;
    }
    __m256i t = _mm256_loadu_si256((const __m256i *)t0), s = _mm256_loadu_si256((const __m256i *)s0);
    const __m256i blo = _mm256_set1_epi32((int)(uint32_t)block0),
                  bhi = _mm256_set1_epi32((int)(uint32_t)(block0 >> 32)),
                  slo = _mm256_set1_epi32((int)(uint32_t)stream0),
                  shi = _mm256_set1_epi32((int)(uint32_t)(stream0 >> 32)),
                  vnb = _mm256_set1_epi32((int)nb), last = _mm256_set1_epi32((int)nb - 1),
                  eight = _mm256_set1_epi32(8);
    const uint32_t wraps = (8 + nb - 1) / nb; /* subtractions of nb after a step of 8 */
    __m256i c0[4], c1[4], c2[4], c3[4];
    size_t g = 0;
    while (n - g >= 8) {
        int G = n - g >= 32 ? 4 : 1;
        for (int v = 0; v < G; v++) {
            c0[v] = _mm256_add_epi32(blo, t);
            c1[v] = bhi;
            c2[v] = _mm256_add_epi32(slo, s);
            c3[v] = shi;
            t = _mm256_add_epi32(t, eight);
            for (uint32_t w = 0; w < wraps; w++) {
                __m256i over = _mm256_cmpgt_epi32(t, last); /* all ones where t >= nb */
                t = _mm256_sub_epi32(t, _mm256_and_si256(over, vnb));
                s = _mm256_sub_epi32(s, over);
            }
        }
        if (G == 4)
            philox_core_4(seed, c0, c1, c2, c3, out + 4 * g);
        else
            philox_core_1(seed, c0, c1, c2, c3, out + 4 * g);
        g += 8 * (size_t)G;
    }
    return g;
}

/* Blocks g = 0 .. n-1 of a sequence that runs through blocks block0 ..
 * block0+nb-1 of stream stream0, then the same blocks of stream0+1, ...:
 * block g is block0 + g mod nb of stream stream0 + g div nb, and its words go
 * to out[4g ..]. A partial group of eight is computed whole into a scratch
 * buffer (one vector costs about what one scalar block does). */
static void philox_fill_avx2(uint64_t seed, uint64_t stream0, uint64_t block0, uint64_t nb,
                             size_t n, uint32_t *out)
{
    uint64_t t = 0, s = stream0; /* the block of sequence element g */
    size_t g = 0;
    uint64_t rows = (n + nb - 1) / nb;
    if (nb < ((uint64_t)1 << 30) && rows < ((uint64_t)1 << 30) &&
        (block0 >> 32) == ((block0 + nb - 1) >> 32) &&
        (stream0 >> 32) == ((stream0 + rows - 1) >> 32)) {
        g = philox_fill_avx2_fast(seed, stream0, block0, (uint32_t)nb, n, out);
        t = g % nb;
        s = stream0 + g / nb;
    }
    uint64_t ctr[32], str[32];
    while (g < n) {
        size_t m = n - g >= 32 ? 32 : 8;
        for (size_t l = 0; l < m; l++) {
            ctr[l] = block0 + t;
            str[l] = s;
            if (++t == nb) {
                t = 0;
                s++;
            }
        }
        if (m == 32) {
            philox_avx2(4, seed, ctr, str, out + 4 * g);
            g += 32;
        } else if (n - g >= 8) {
            philox_avx2(1, seed, ctr, str, out + 4 * g);
            g += 8;
        } else {
            uint32_t tmp[32];
            philox_avx2(1, seed, ctr, str, tmp);
            memcpy(out + 4 * g, tmp, 4 * (n - g) * sizeof(uint32_t));
            g = n;
        }
    }
}
#endif

void kd_philox_fill(uint64_t seed, uint64_t stream, uint64_t block, size_t nblocks, uint32_t *out)
{
#ifdef KD_HAVE_AVX2_PATH
    if (__builtin_cpu_supports("avx2")) { /* reads a word set up at program start */
        philox_fill_avx2(seed, stream, block, nblocks, nblocks, out);
        return;
    }
#endif
    kd_philox_fill_ref(seed, stream, block, nblocks, out);
}

void kd_philox_fill_rows(uint64_t seed, uint64_t stream0, size_t nrows, uint64_t block,
                         size_t nblocks, uint32_t *out)
{
    if (nblocks == 0)
        return;
#ifdef KD_HAVE_AVX2_PATH
    if (__builtin_cpu_supports("avx2")) {
        philox_fill_avx2(seed, stream0, block, nblocks, nrows * nblocks, out);
        return;
    }
#endif
    for (size_t r = 0; r < nrows; r++)
        kd_philox_fill_ref(seed, stream0 + r, block, nblocks, out + 4 * nblocks * r);
}

/* ---- logistic function ----------------------------------------------------- */

/* e^x for x in [-87, 88]: x = n ln2 + r, |r| <= ln2/2, e^r by its Taylor
 * polynomial of degree 6 (truncation 0.35^7/7! ≈ 1.2e-7), 2^n by building the
 * exponent bits. n is rounded with the 1.5·2^23 trick (exact under
 * round-to-nearest), ln 2 split in two parts so that n·ln2_hi is exact.
 * After the clamp n is in [-126, 127], a normal exponent. */
static inline float expf_poly(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float magic = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer */
    float fn = x * 1.44269504088896341f + magic;
    float n = fn - magic;
    float r = x - n * 0.693145751953125f;
    r = r - n * 1.42860682030941723212e-6f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* n sits in the low mantissa bits of fn: read it as an integer instead of
     * converting (no float→int conversion, defined for NaN too) */
    uint32_t fb, mb;
    memcpy(&fb, &fn, sizeof fb);
    memcpy(&mb, &magic, sizeof mb);
    uint32_t bits = (fb - mb + 127u) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float sigmoid_inline(float x) { return 1.0f / (1.0f + expf_poly(-x)); }

float kd_sigmoidf(float x) { return sigmoid_inline(x); }

/* ---- fused row kernels ------------------------------------------------------ */

/* A unit with field x is up with probability p = σ(c·x), c = 2 for spin units
 * (p = e^x / 2cosh x) and 1 for binary ones; its mean is 2p - 1 = tanh x or p.
 * A mean scaled by s is m2·p + m0 with (m2, m0) = (2s, -s) or (s, 0).
 * The loops are `omp simd`: output may alias the input at the same index. */
#define ROW_CHUNK 256 /* units per batch of random words (64 Philox blocks) */

typedef struct {
    float c, m2, m0, up, down;
} unit_consts;

static unit_consts consts_of(kd_units u, float scale)
{
    unit_consts k;
    int spin = u == KD_UNITS_SPIN;
    k.c = spin ? 2.0f : 1.0f;
    k.m2 = spin ? 2.0f * scale : scale;
    k.m0 = spin ? -scale : 0.0f;
    k.up = 1.0f;
    k.down = spin ? -1.0f : 0.0f;
    return k;
}

/* Rows r < nrows of a contiguous nrows × n layer; the row loop sits inside
 * the clone so that a small row costs no call through the ifunc. */
KD_CLONES static void mean_kernel(unit_consts k, size_t nrows, int n, const float *act,
                                  const float *bias, float *out)
{
    for (size_t r = 0; r < nrows; r++) {
        const float *x = act + r * (size_t)n;
        float *o = out + r * (size_t)n;
        if (bias) {
#pragma omp simd
            for (int j = 0; j < n; j++)
                o[j] = k.m2 * sigmoid_inline(k.c * (x[j] + bias[j])) + k.m0;
        } else {
#pragma omp simd
            for (int j = 0; j < n; j++)
                o[j] = k.m2 * sigmoid_inline(k.c * x[j]) + k.m0;
        }
    }
}

void kd_row_mean(kd_units u, int n, const float *act, const float *bias, float scale, float *out)
{
    mean_kernel(consts_of(u, scale), 1, n, act, bias, out);
}

void kd_rows_mean(kd_units u, size_t nrows, int n, const float *act, const float *bias,
                  float scale, float *out)
{
    mean_kernel(consts_of(u, scale), nrows, n, act, bias, out);
}

/* r = (w >> 8)·2^-24 is uniform on [0,1) in steps of 2^-24; the unit is up
 * iff r < p, i.e. with probability p rounded up to a multiple of 2^-24.
 * Row r uses the words rnd[r·rstride ..]. bias is never NULL here
 * (kd_row_mean_sample substitutes zeros). */
KD_CLONES static void sample_kernel(unit_consts k, size_t nrows, int n, const float *act,
                                    const float *bias, const uint32_t *rnd, size_t rstride,
                                    float *mean_out, float *sample_out)
{
    for (size_t row = 0; row < nrows; row++) {
        const size_t o = row * (size_t)n;
        const float *x = act + o;
        const uint32_t *w = rnd + row * rstride;
        float *so = sample_out + o;
        if (mean_out) {
            float *mo = mean_out + o;
#pragma omp simd
            for (int j = 0; j < n; j++) {
                float p = sigmoid_inline(k.c * (x[j] + bias[j]));
                float r = (float)(int32_t)(w[j] >> 8) * 0x1.0p-24f;
                mo[j] = k.m2 * p + k.m0;
                so[j] = r < p ? k.up : k.down;
            }
        } else {
            /* r < 1/(1 + e^{-cx})  ⇔  r·(1 + e^{-cx}) < 1: no division */
#pragma omp simd
            for (int j = 0; j < n; j++) {
                float e = expf_poly(-k.c * (x[j] + bias[j]));
                float r = (float)(int32_t)(w[j] >> 8) * 0x1.0p-24f;
                so[j] = r * (1.0f + e) < 1.0f ? k.up : k.down;
            }
        }
    }
}

void kd_row_mean_sample(kd_units u, int n, const float *act, const float *bias, float scale,
                        uint64_t seed, uint64_t stream, uint64_t block, float *mean_out,
                        float *sample_out)
{
    uint32_t rnd[ROW_CHUNK];
    static const float zeros[ROW_CHUNK];
    unit_consts k = consts_of(u, scale);
    for (int j0 = 0; j0 < n; j0 += ROW_CHUNK) {
        int m = n - j0 < ROW_CHUNK ? n - j0 : ROW_CHUNK;
        kd_philox_fill(seed, stream, block + (uint64_t)j0 / 4, kd_rbm_blocks(m), rnd);
        sample_kernel(k, 1, m, act + j0, bias ? bias + j0 : zeros, rnd, 0,
                      mean_out ? mean_out + j0 : NULL, sample_out + j0);
    }
}

void kd_rows_sample_words(kd_units u, size_t nrows, int n, const float *act, const float *bias,
                          float scale, const uint32_t *rnd, size_t rstride, float *mean_out,
                          float *sample_out)
{
    sample_kernel(consts_of(u, scale), nrows, n, act, bias, rnd, rstride, mean_out, sample_out);
}

void kd_row_sample(kd_units u, int n, const float *act, const float *bias, uint64_t seed,
                   uint64_t stream, uint64_t block, float *out)
{
    kd_row_mean_sample(u, n, act, bias, 1.0f, seed, stream, block, NULL, out);
}

/* ---- sums for the gradient -------------------------------------------------- */

KD_CLONES void kd_rows_bias_sums(int n, size_t n0, const float *x0, float a, size_t n1,
                                 const float *x1, float b, float *out)
{
    for (int j = 0; j < n; j++)
        out[j] = 0.0f;
    for (size_t r = 0; r < n0; r++) {
        const float *x = x0 + r * (size_t)n;
#pragma omp simd
        for (int j = 0; j < n; j++)
            out[j] += x[j];
    }
#pragma omp simd
    for (int j = 0; j < n; j++)
        out[j] *= a;
    for (size_t r = 0; r < n1; r++) {
        const float *x = x1 + r * (size_t)n;
#pragma omp simd
        for (int j = 0; j < n; j++)
            out[j] += b * x[j];
    }
}

KD_CLONES void kd_add_to(size_t n, const float *x, float *y)
{
#pragma omp simd
    for (size_t k = 0; k < n; k++)
        y[k] += x[k];
}
