/*
 * The body of the AVX2 row kernel (internal), included twice by
 * multispin_avx2.c: with the BMI2 instructions pdep/pext, and with their
 * portable equivalents for CPUs where BMI2 is missing or slow. Define before
 * including: KD_MS_ROW_NAME, KD_MS_ROW_TARGET (the function attributes),
 * KD_MS_PDEP(src, mask), KD_MS_PEXT(w, u) and KD_MS_PEXT_NOT(w, u) (= pext(w, ~u)),
 * and KD_MS_ROW_HB: 0 for the Metropolis rule (two classes of flip
 * decisions), 1 for heat-bath (five classes of new-spin decisions; see
 * kd_ms_site in multispin_internal.h for both).
 *
 * Groups g..g+3 of one row: kd_ms_row_groups, four groups per vector. The head
 * blocks of a chunk of sites are generated first (several Philox chains in
 * flight); the tail's first chunk is decided for the four groups at once, the
 * rare rest by the scalar tail (multispin_avx2.c).
 */
KD_MS_ROW_TARGET static void KD_MS_ROW_NAME(const struct kd_multispin *ms, const philox_keys *pk,
                                                int y, int parity, uint64_t h, size_t g,
                                                uint64_t *accepted)
{
    const int L = ms->L;
    const size_t G = ms->Gs; /* stride */
    const size_t V = KD_MS_VEC; /* site stride of the spin words */
    uint64_t *restrict s = kd_ms_spins(ms, g); /* g is a multiple of 4: a whole block */
    const size_t row = (size_t)y * (size_t)L;
    const size_t up = (size_t)((y + L - 1) % L) * (size_t)L, down = (size_t)((y + 1) % L) * (size_t)L;
    enum { NC = KD_MS_ROW_HB ? 5 : 2, NP = KD_MS_ROW_HB ? 3 : 1 }; /* classes, class planes */
    uint64_t (*const tail_scalar)(const struct kd_multispin *, size_t, uint64_t, uint64_t, uint64_t, unsigned,
                                  uint64_t, const uint64_t *, unsigned, unsigned) =
        KD_MS_ROW_HB ? tail_scalar5 : tail_scalar2;
    const __m256i real = _mm256_set_epi64x(g + 3 < ms->G ? -1 : 0, g + 2 < ms->G ? -1 : 0,
                                           g + 1 < ms->G ? -1 : 0, -1);
    __m256i always[NC], maybe[NC];
    for (int c = 0; c < NC; c++) {
        always[c] = LOAD(ms->always + (size_t)c * G + g);
        maybe[c] = LOAD(ms->maybe + (size_t)c * G + g);
    }
    const uint64_t *tb = ms->tbyte + g; /* class c at tb + c G */
    const __m256i slo = LOAD(ms->stream_lo + g), shi = LOAD(ms->stream_hi + g);
    const uint64_t *P = ms->pbits + g;
    __m256i head[CHUNK][4]; /* words of the head blocks q = 0, 1 of each site */
    __m256i vcount = _mm256_setzero_si256(); /* changed spins, per group */
    const int x0 = (y + parity) & 1, nsites = (L - x0 + 1) / 2;
    for (int j0 = 0; j0 < nsites; j0 += CHUNK) {
        const int nj = nsites - j0 < CHUNK ? nsites - j0 : CHUNK;
        /* the chunk's head blocks, two sites per batch (for an odd count the
         * last batch computes a site past the end, unused) */
        for (int j = 0; j < nj; j += 2) {
            const uint64_t b0 = kd_ms_site_block(ms, h, row + (size_t)(x0 + 2 * (j0 + j)));
            const __m256i hb[4] = {_mm256_set1_epi64x((long long)b0), _mm256_set1_epi64x((long long)(b0 + 1)),
                                   _mm256_set1_epi64x((long long)(b0 + KD_MS_BLOCKS)),
                                   _mm256_set1_epi64x((long long)(b0 + KD_MS_BLOCKS + 1))};
            __m256i w[8];
            philox_lanes(4, hb, slo, shi, pk, w);
            for (int k = 0; k < 4; k++) {
                head[j][k] = w[k];
                if (j + 1 < CHUNK)
                    head[j + 1][k] = w[4 + k];
            }
        }
        for (int j = 0; j < nj; j++) {
            const int x = x0 + 2 * (j0 + j);
            const size_t i = row + (size_t)x;
            const size_t xl = (size_t)(x > 0 ? x - 1 : L - 1), xr = (size_t)(x + 1 < L ? x + 1 : 0);
            uint64_t *si = s + i * V;
            const __m256i sv = LOAD(si);
            const __m256i n0 = LOAD(s + (row + xl) * V), n1 = LOAD(s + (row + xr) * V);
            const __m256i n2 = LOAD(s + (up + (size_t)x) * V), n3 = LOAD(s + (down + (size_t)x) * V);
            __m256i kk[NC], yes; /* class masks; lanes decided "yes" without randomness */
#if KD_MS_ROW_HB
            {   /* kd_ms_count_up: kk[k] = the lanes with k neighbours up (J's sign
                 * is in the thresholds) */
                const __m256i ones = _mm256_set1_epi64x(-1);
                const __m256i a = _mm256_xor_si256(n0, n1), b = _mm256_and_si256(n0, n1);
                const __m256i c = _mm256_xor_si256(n2, n3), e = _mm256_and_si256(n2, n3);
                const __m256i ac = _mm256_xor_si256(a, c);
                const __m256i o01 = _mm256_or_si256(n0, n1), o23 = _mm256_or_si256(n2, n3);
                kk[0] = _mm256_andnot_si256(_mm256_or_si256(o01, o23), ones);
                kk[1] = _mm256_andnot_si256(_mm256_or_si256(b, e), ac);
                kk[3] = _mm256_and_si256(ac, _mm256_and_si256(o01, o23));
                kk[4] = _mm256_and_si256(b, e);
                kk[2] = _mm256_andnot_si256(_mm256_or_si256(_mm256_or_si256(kk[0], kk[1]),
                                                            _mm256_or_si256(kk[3], kk[4])), ones);
                yes = _mm256_setzero_si256();
            }
#else
            {   /* kd_ms_classify: d_k = 1 where bond k is unsatisfied */
                const __m256i afm = _mm256_set1_epi64x((long long)ms->afm);
                const __m256i d0 = _mm256_xor_si256(_mm256_xor_si256(sv, n0), afm);
                const __m256i d1 = _mm256_xor_si256(_mm256_xor_si256(sv, n1), afm);
                const __m256i d2 = _mm256_xor_si256(_mm256_xor_si256(sv, n2), afm);
                const __m256i d3 = _mm256_xor_si256(_mm256_xor_si256(sv, n3), afm);
                const __m256i a = _mm256_xor_si256(d0, d1), b = _mm256_and_si256(d0, d1);
                const __m256i c = _mm256_xor_si256(d2, d3), e = _mm256_and_si256(d2, d3);
                const __m256i any = _mm256_or_si256(_mm256_or_si256(d0, d1), _mm256_or_si256(d2, d3));
                const __m256i one = _mm256_andnot_si256(_mm256_or_si256(b, e), _mm256_xor_si256(a, c));
                /* zero = ~any; moves of neither class lower or keep the energy:
                 * always flipped */
                yes = _mm256_or_si256(_mm256_andnot_si256(one, any), _mm256_andnot_si256(any, always[0]));
                yes = _mm256_or_si256(yes, _mm256_and_si256(one, always[1]));
                kk[0] = _mm256_andnot_si256(any, maybe[0]);
                kk[1] = _mm256_and_si256(one, maybe[1]);
            }
#endif
            __m256i und = _mm256_setzero_si256(), acc = _mm256_setzero_si256(), used[KD_MS_HEAD];
#if KD_MS_ROW_HB
            for (int c = 0; c < NC; c++) {
                yes = _mm256_or_si256(yes, _mm256_and_si256(kk[c], always[c]));
                kk[c] = _mm256_and_si256(kk[c], maybe[c]);
                und = _mm256_or_si256(und, kk[c]);
            }
#else
            und = _mm256_or_si256(kk[0], kk[1]);
#endif
            for (unsigned r = 0; r < KD_MS_HEAD; r++) {
                used[r] = und;
                round_avx2(P, G, r, head[j][r], kk, NC, &und, &acc);
            }
            /* tail, first chunk (kd_ms_tail_chunks) for the four groups at once:
             * the j-th undecided lane of group k takes byte j of its window
             * (64-bit lane k of F) and compares it, as an unsigned byte, with
             * its class's threshold bits 27-20 (T) */
            if (!ISZERO(und)) {
                uint64_t uk[4], lo[4], hi[4], u3[4], u2[4], w3[4], w2[4], ak[4];
                uint64_t pv[NP][4]; /* class planes, lane k = group k */
                unsigned m[4], n[4], valid = 0, crowded = 0;
                __m256i plane[NP];
#if KD_MS_ROW_HB
                plane[0] = _mm256_or_si256(kk[1], kk[3]);
                plane[1] = _mm256_or_si256(kk[2], kk[3]);
                plane[2] = kk[4];
#else
                plane[0] = kk[1];
#endif
                STORE(uk, und);
                for (int q = 0; q < NP; q++)
                    STORE(pv[q], plane[q]);
                STORE(u3, used[3]);
                STORE(u2, used[2]);
                STORE(w3, head[j][3]);
                STORE(w2, head[j][2]);
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++) {
                    kd_ms_tail_window(KD_MS_PEXT_NOT(w3[k], u3[k]), 64 - (unsigned)_mm_popcnt_u64(u3[k]),
                                      KD_MS_PEXT_NOT(w2[k], u2[k]), 64 - (unsigned)_mm_popcnt_u64(u2[k]),
                                      &lo[k], &hi[k], &m[k]);
                    n[k] = (unsigned)_mm_popcnt_u64(uk[k]);
                    /* more than 8 lanes: not here. (A window shorter than 8 n bits
                     * would need more than 64 lanes undecided in rounds 2 and 3
                     * together, which does not happen in practice: a guard.) */
                    if (n[k] > 8 || 8 * n[k] > m[k])
                        crowded |= 1u << k;
                    else
                        valid |= ((1u << n[k]) - 1) << (8 * k);
                }
                const __m256i F = _mm256_set_epi64x((long long)lo[3], (long long)lo[2], (long long)lo[1],
                                                    (long long)lo[0]);
                /* byte j of group k's lane in E[q]: all ones if the j-th undecided
                 * lane has bit q of its class set */
                __m256i E[NP];
                for (int q = 0; q < NP; q++)
                    E[q] = byte_masks(KD_MS_PEXT(pv[q][3], uk[3]), KD_MS_PEXT(pv[q][2], uk[2]),
                                      KD_MS_PEXT(pv[q][1], uk[1]), KD_MS_PEXT(pv[q][0], uk[0]));
                __m256i T = _mm256_blendv_epi8(LOAD(tb), LOAD(tb + G), E[0]);
#if KD_MS_ROW_HB
                T = _mm256_blendv_epi8(T, _mm256_blendv_epi8(LOAD(tb + 2 * G), LOAD(tb + 3 * G), E[0]), E[1]);
                T = _mm256_blendv_epi8(T, LOAD(tb + 4 * G), E[2]);
#endif
                /* x < t  <=>  t - x (saturating) != 0 */
                const unsigned lt = ~(unsigned)_mm256_movemask_epi8(
                    _mm256_cmpeq_epi8(_mm256_subs_epu8(T, F), _mm256_setzero_si256()));
                const unsigned tie = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(T, F)) & valid;
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++)
                    ak[k] = KD_MS_PDEP(lt >> (8 * k), uk[k]); /* bits beyond n[k] are not deposited */
                if (crowded | tie) { /* rare: the scalar tail for those groups */
                    const uint64_t blk = kd_ms_site_block(ms, h, i);
                    for (int k = 0; k < 4; k++) {
                        uint64_t pl[3] = {0, 0, 0}; /* group k's class planes */
                        for (int q = 0; q < NP; q++)
                            pl[q] = pv[q][k];
                        if (crowded >> k & 1)
                            ak[k] = tail_scalar(ms, g + (size_t)k, blk, lo[k], hi[k], m[k], uk[k], pl, 0, 0);
                        else if ((tie >> (8 * k)) & 0xff)
                            ak[k] |= tail_scalar(ms, g + (size_t)k, blk, lo[k], hi[k], m[k],
                                                 KD_MS_PDEP(tie >> (8 * k), uk[k]), pl, 1, 8 * n[k]);
                    }
                }
                acc = _mm256_or_si256(acc, _mm256_set_epi64x((long long)ak[3], (long long)ak[2], (long long)ak[1],
                                                             (long long)ak[0]));
            }
            yes = _mm256_or_si256(yes, acc);
            /* Metropolis: "yes" flips the spin; heat-bath: "yes" is the new spin */
            const __m256i nv = KD_MS_ROW_HB ? yes : _mm256_xor_si256(sv, yes);
            STORE(si, nv);
            /* changed spins; padding groups are not counted */
            const __m256i seen = _mm256_and_si256(KD_MS_ROW_HB ? _mm256_xor_si256(nv, sv) : yes, real);
            /* popcount per byte (nibble lookup), summed per 64-bit lane */
            const __m256i nib = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                                 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
            const __m256i low4 = _mm256_set1_epi8(0x0f);
            const __m256i pc = _mm256_add_epi8(_mm256_shuffle_epi8(nib, _mm256_and_si256(seen, low4)),
                                               _mm256_shuffle_epi8(nib, _mm256_and_si256(_mm256_srli_epi64(seen, 4), low4)));
            vcount = _mm256_add_epi64(vcount, _mm256_sad_epu8(pc, _mm256_setzero_si256()));
        }
    }
    *accepted += (uint64_t)_mm256_extract_epi64(vcount, 0) + (uint64_t)_mm256_extract_epi64(vcount, 1) +
                 (uint64_t)_mm256_extract_epi64(vcount, 2) + (uint64_t)_mm256_extract_epi64(vcount, 3);
}

