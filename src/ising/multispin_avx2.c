/*
 * The AVX2 multi-spin kernel: four groups (256 replicas) per 256-bit vector.
 *
 * It makes exactly the decisions of the portable kernel (multispin_portable.c):
 * lane ℓ of a vector is group g + ℓ, whose random words come from the same
 * Philox blocks (same key, counter = (block index, stream + g + ℓ)). Philox is
 * evaluated four blocks at a time, one per 64-bit lane: the 32-bit state words
 * sit in the low halves of the lanes, where _mm256_mul_epu32 reads them and
 * leaves the full 64-bit product (high half = Philox's "hi", low half = "lo"),
 * so a round costs two multiplies, two shuffles and four xors for four blocks.
 * Upper halves may hold garbage between rounds: only low halves are read.
 *
 * Per site the head (rounds 0-3) costs two Philox blocks per group, generated
 * for a chunk of sites at a time. The tail's first chunk (kd_ms_tail_chunks)
 * is then decided for the four groups at once: pext packs each group's unused
 * head bits into its window, whose byte j is the chunk of the j-th undecided
 * lane, and byte-wise compares against the thresholds' bits 27-20 decide up
 * to 8 lanes per group; pdep puts the results back at the lanes. Ties (a byte
 * equal to the threshold's: 5 % of the sites at T_c) and groups with more
 * than 8 undecided lanes (2-3 % of the sites) go to the scalar tail.
 * Measured against the former 7-round bit-serial tail with pdep per round
 * (CPU time, 1 thread, L = 256, T_c, alternating runs): 1.29×. The storage is
 * padded to whole vectors (multispin.c).
 *
 * Two variants: "avx2" uses the BMI2 instructions pdep/pext, "avx2-nobmi2"
 * their portable equivalents (for CPUs without BMI2 or where it is microcoded,
 * AMD before Zen 3); each has a Metropolis and a heat-bath row. The heat-bath
 * row classifies by neighbours up (five classes) and picks the tail's byte
 * thresholds with three blends instead of one; written as one body with a
 * compile-time rule, the Metropolis row kept its speed (A/B against the
 * two-class-only kernel, CPU time, L = 256, T_c: medians 5.69 and 5.71
 * flips/ns over 10 alternating runs). Compiled for any x86-64 target; the
 * functions carry target attributes and run only after the CPU checks below.
 */
#include "ising/multispin_internal.h"

#ifdef KD_MS_HAVE_AVX2
#include <cpuid.h>
#include <immintrin.h>

#define KD_AVX2 __attribute__((target("avx2,popcnt")))
#define KD_AVX2_INLINE __attribute__((target("avx2,popcnt"), always_inline)) inline

typedef struct {
    __m256i k0[10], k1[10]; /* round keys (Weyl sequence of the key halves) */
} philox_keys;

#define LOAD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define STORE(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), (v))

/* K (1..4) independent Philox4x32-10 evaluations of four blocks each: lane ℓ
 * of evaluation k has block index b[k] (64-bit lanes; low 32 bits go to
 * counter word 0, high to word 1) and stream (slo, shi) lane ℓ. Outputs the two
 * 64-bit words of each block: w[2k] = v0 | v1 << 32, w[2k + 1] = v2 | v3 << 32. */
static KD_AVX2_INLINE void philox_lanes(const int K, const __m256i *b, __m256i slo, __m256i shi,
                                        const philox_keys *pk, __m256i *w)
{
    const __m256i M0 = _mm256_set1_epi64x(PHILOX_M4x32_0), M1 = _mm256_set1_epi64x(PHILOX_M4x32_1);
    __m256i x0[4], x1[4], x2[4], x3[4];
    for (int k = 0; k < K; k++) {
        x0[k] = b[k];
        x1[k] = _mm256_srli_epi64(b[k], 32);
        x2[k] = slo;
        x3[k] = shi;
    }
    for (int r = 0; r < 10; r++)
        for (int k = 0; k < K; k++) {
            __m256i p0 = _mm256_mul_epu32(x0[k], M0), p1 = _mm256_mul_epu32(x2[k], M1);
            /* hi words to the low halves; a swap of halves is as good as a shift */
            x0[k] = _mm256_xor_si256(_mm256_xor_si256(_mm256_shuffle_epi32(p1, 0xB1), x1[k]), pk->k0[r]);
            x2[k] = _mm256_xor_si256(_mm256_xor_si256(_mm256_shuffle_epi32(p0, 0xB1), x3[k]), pk->k1[r]);
            x1[k] = p1;
            x3[k] = p0;
        }
    for (int k = 0; k < K; k++) {
        w[2 * k] = _mm256_blend_epi32(x0[k], _mm256_slli_epi64(x1[k], 32), 0xAA);
        w[2 * k + 1] = _mm256_blend_epi32(x2[k], _mm256_slli_epi64(x3[k], 32), 0xAA);
    }
}

/* One round b of the bit-serial comparison for four groups (kd_ms_round). */
static KD_AVX2_INLINE void round_avx2(const uint64_t *P, size_t G, unsigned b, __m256i w,
                                      const __m256i *k, const int nc, __m256i *und, __m256i *acc)
{
    __m256i pb = _mm256_and_si256(k[0], LOAD(P + b * KD_MS_CLASSES * G));
    for (int c = 1; c < nc; c++)
        pb = _mm256_or_si256(pb, _mm256_and_si256(k[c], LOAD(P + (b * KD_MS_CLASSES + (unsigned)c) * G)));
    *acc = _mm256_or_si256(*acc, _mm256_and_si256(*und, _mm256_andnot_si256(w, pb)));
    *und = _mm256_andnot_si256(_mm256_xor_si256(w, pb), *und);
}

#define ISZERO(v) _mm256_testz_si256((v), (v))

/* The scalar tail (kd_ms_tail_chunks) for a group the vector step does not
 * finish, with the rule's number of classes: out of line, since it runs at a
 * few percent of the sites. */
__attribute__((noinline, cold)) static uint64_t tail_scalar2(const struct kd_multispin *ms, size_t g,
                                                             uint64_t blk, uint64_t lo, uint64_t hi,
                                                             unsigned m, uint64_t und, const uint64_t *pl,
                                                             unsigned c, unsigned p)
{
    return kd_ms_tail_chunks(ms, g, blk, lo, hi, m, und, pl, 2, c, p);
}

__attribute__((noinline, cold)) static uint64_t tail_scalar5(const struct kd_multispin *ms, size_t g,
                                                             uint64_t blk, uint64_t lo, uint64_t hi,
                                                             unsigned m, uint64_t und, const uint64_t *pl,
                                                             unsigned c, unsigned p)
{
    return kd_ms_tail_chunks(ms, g, blk, lo, hi, m, und, pl, 5, c, p);
}

/* Byte masks from four words, one per 64-bit lane (x0 in lane 0): byte j of
 * lane k is all ones iff bit j (< 8) of xk is set. */
static KD_AVX2_INLINE __m256i byte_masks(uint64_t x3, uint64_t x2, uint64_t x1, uint64_t x0)
{
    const __m256i C = _mm256_set_epi64x((long long)x3, (long long)x2, (long long)x1, (long long)x0);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    const __m256i byte0 = _mm256_set_epi64x(0x0808080808080808LL, 0, 0x0808080808080808LL, 0);
    return _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(C, byte0), bit), bit);
}

/* Sites whose head words are generated in one batch: a Philox evaluation is a
 * long dependency chain, so several must be in flight to keep the vector units
 * busy. */
enum { CHUNK = 16 };

/* The row body four times: {BMI2, portable pdep/pext} × {Metropolis, heat-bath}. */
#define KD_MS_ROW_TARGET __attribute__((target("avx2,popcnt,bmi2")))
#define KD_MS_PDEP(src, mask) _pdep_u64((src), (mask))
#define KD_MS_PEXT_NOT(w, u) _pext_u64((w), ~(u))
#define KD_MS_PEXT(w, u) _pext_u64((w), (u))
#define KD_MS_ROW_NAME row_vector_bmi2
#define KD_MS_ROW_HB 0
#include "ising/multispin_avx2_row.h"
#undef KD_MS_ROW_NAME
#undef KD_MS_ROW_HB
#define KD_MS_ROW_NAME row_vector_bmi2_hb
#define KD_MS_ROW_HB 1
#include "ising/multispin_avx2_row.h"
#undef KD_MS_ROW_NAME
#undef KD_MS_ROW_HB
#undef KD_MS_ROW_TARGET
#undef KD_MS_PDEP
#undef KD_MS_PEXT_NOT
#undef KD_MS_PEXT

#define KD_MS_ROW_TARGET KD_AVX2
#define KD_MS_PDEP(src, mask) kd_ms_pdep((src), (mask))
#define KD_MS_PEXT_NOT(w, u) kd_ms_pext_not((w), (u))
#define KD_MS_PEXT(w, u) kd_ms_pext((w), (u))
#define KD_MS_ROW_NAME row_vector_soft
#define KD_MS_ROW_HB 0
#include "ising/multispin_avx2_row.h"
#undef KD_MS_ROW_NAME
#undef KD_MS_ROW_HB
#define KD_MS_ROW_NAME row_vector_soft_hb
#define KD_MS_ROW_HB 1
#include "ising/multispin_avx2_row.h"

static KD_AVX2 void round_keys(const struct kd_multispin *ms, philox_keys *pk)
{
    for (int r = 0; r < 10; r++) {
        pk->k0[r] = _mm256_set1_epi64x((long long)(uint32_t)(ms->key.v[0] + (uint32_t)r * PHILOX_W32_0));
        pk->k1[r] = _mm256_set1_epi64x((long long)(uint32_t)(ms->key.v[1] + (uint32_t)r * PHILOX_W32_1));
    }
}

/* Groups [g0, g1) (multiples of 4, padding included) of row y. */
__attribute__((target("avx2,popcnt,bmi2"))) static void row_avx2(const struct kd_multispin *ms, int y,
                                                                 int parity, uint64_t h, size_t g0,
                                                                 size_t g1, uint64_t *accepted)
{
    philox_keys pk;
    round_keys(ms, &pk);
    if (ms->heatbath)
        for (size_t g = g0; g < g1; g += 4)
            row_vector_bmi2_hb(ms, &pk, y, parity, h, g, accepted);
    else
        for (size_t g = g0; g < g1; g += 4)
            row_vector_bmi2(ms, &pk, y, parity, h, g, accepted);
}

static KD_AVX2 void row_avx2_soft(const struct kd_multispin *ms, int y, int parity, uint64_t h,
                                  size_t g0, size_t g1, uint64_t *accepted)
{
    philox_keys pk;
    round_keys(ms, &pk);
    if (ms->heatbath)
        for (size_t g = g0; g < g1; g += 4)
            row_vector_soft_hb(ms, &pk, y, parity, h, g, accepted);
    else
        for (size_t g = g0; g < g1; g += 4)
            row_vector_soft(ms, &pk, y, parity, h, g, accepted);
}

/* pdep and pext are fast on Intel (Haswell on) and AMD from Zen 3 (family
 * 0x19); earlier AMD cores microcode them at tens of cycles per mask bit. */
static int fast_bmi2(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d))
        return 0;
    const int intel = b == 0x756e6547 && d == 0x49656e69 && c == 0x6c65746e; /* GenuineIntel */
    const int amd = b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163;   /* AuthenticAMD */
    if (intel)
        return 1;
    if (!amd || !__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    unsigned family = (a >> 8) & 0xf;
    if (family == 0xf)
        family += (a >> 20) & 0xff;
    return family >= 0x19;
}

static int avx2_supported(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
}

static int avx2_bmi2_supported(void)
{
    return avx2_supported() && __builtin_cpu_supports("bmi2") && fast_bmi2();
}

const kd_ms_kernel kd_ms_kernel_avx2 = {"avx2", row_avx2, avx2_bmi2_supported, 4};
const kd_ms_kernel kd_ms_kernel_avx2_soft = {"avx2-nobmi2", row_avx2_soft, avx2_supported, 4};

#else
/* Not an x86-64 target: only the portable kernel exists. */
typedef int kd_ms_no_avx2;
#endif
