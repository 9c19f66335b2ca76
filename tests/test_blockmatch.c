/*
 * Hidden units vs block spins (kd_rg_blockmatch): constructed hidden layers
 * that ARE the block spins (block spins computed here by hand, odd b so the
 * majority has no ties), Z2-flipped and affinely rescaled units, activities
 * independent of the data (|C| at the 1/sqrt(n) noise level), zero-variance
 * units and blocks, the layer-size matching rule, and bad input.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kadanoff/rg.h"
#include "kadanoff/rng.h"
#include "testing.h"

/* n configurations of L×L independent fair spins from stream `stream`. */
static int8_t *random_spins(int L, size_t n, uint64_t stream)
{
    int8_t *s = malloc(n * (size_t)L * (size_t)L);
    kd_rng r;
    kd_rng_init(&r, 99, stream);
    for (size_t k = 0; k < n * (size_t)L * (size_t)L; k++)
        s[k] = kd_rng_spin(&r);
    return s;
}

/* Block sum of block B (b×b, coarse row-major) of configuration s, by hand. */
static int block_sum(const int8_t *s, int L, int b, int B)
{
    int Lc = L / b, X = B % Lc, Y = B / Lc, sum = 0;
    for (int y = Y * b; y < Y * b + b; y++)
        for (int x = X * b; x < X * b + b; x++)
            sum += s[y * L + x];
    return sum;
}

static void test_size_rule(void)
{
    kd_lattice sq = {.kind = KD_LATTICE_SQUARE, .L = 40, .boundary = KD_BOUNDARY_PERIODIC, .J = 1};
    kd_test(kd_rg_blockmatch_size(&sq, 400) == 2, "40x40, 400 units -> b = 2");
    kd_test(kd_rg_blockmatch_size(&sq, 100) == 4, "40x40, 100 units -> b = 4");
    kd_test(kd_rg_blockmatch_size(&sq, 25) == 8, "40x40, 25 units -> b = 8");
    kd_test(kd_rg_blockmatch_size(&sq, 300) == 2, "40x40, 300 units -> b = 2 (400 is closest)");
    /* 400/200 = 200/100: equal log distance, the smaller b wins */
    kd_test(kd_rg_blockmatch_size(&sq, 200) == 2, "40x40, 200 units: tie -> b = 2");
    kd_test(kd_rg_blockmatch_size(&sq, 1) == 20, "40x40, 1 unit -> b = 20 (L/b >= 2)");
    kd_lattice ch = {.kind = KD_LATTICE_CHAIN, .L = 16, .boundary = KD_BOUNDARY_PERIODIC, .J = 1};
    kd_test(kd_rg_blockmatch_size(&ch, 8) == 2, "chain 16, 8 units -> b = 2");
    kd_test(kd_rg_blockmatch_size(&ch, 4) == 4, "chain 16, 4 units -> b = 4");
    kd_lattice prime = sq;
    prime.L = 7;
    kd_test(kd_rg_blockmatch_size(&prime, 4) == 0, "L = 7: no block size");
}

/* Hidden unit j = ±(affine image of) block perm[j]: best match perm[j],
 * |C| = 1 to rounding, sign = the unit's Z2 orientation. */
static void test_exact_blocks(void)
{
    const int L = 12, b = 3, nb = 16, nu = 16;
    const size_t n = 500;
    kd_lattice sq = {.kind = KD_LATTICE_SQUARE, .L = L, .boundary = KD_BOUNDARY_PERIODIC, .J = 1};
    int8_t *s = random_spins(L, n, 1);
    float *h = malloc(n * nu * sizeof *h), *hs = malloc(n * nu * sizeof *hs);
    int perm[16], sign[16];
    for (int j = 0; j < nu; j++) {
        perm[j] = (5 * j + 3) % nb; /* a permutation of 0..15 (5 is coprime to 16) */
        sign[j] = j % 3 == 0 ? -1 : 1;
    }
    for (size_t r = 0; r < n; r++)
        for (int j = 0; j < nu; j++) {
            int sum = block_sum(s + r * (size_t)(L * L), L, b, perm[j]);
            int maj = sum > 0 ? 1 : -1; /* b = 3: 9 spins, never a tie */
            /* a probability-like unit: 0.5 ± 0.375 (exact in float) */
            h[r * nu + (size_t)j] = 0.5f + 0.375f * (float)(sign[j] * maj);
            hs[r * nu + (size_t)j] = (float)(sign[j] * sum); /* the block sum, for MEAN */
        }
    double C[16 * 16], best_c[16], block_best[16];
    int best[16], hits[16];
    kd_rg_blockmatch_maps maps = {C, best, best_c, block_best, hits};
    kd_rg_blockmatch_result res;
    for (int rule = 0; rule < 2; rule++) {
        const char *rn = rule ? "mean" : "majority";
        kd_status st = kd_rg_blockmatch(&sq, s, n, rule ? hs : h, nu, b, (kd_rg_block_rule)rule, 7,
                                        &maps, &res);
        kd_test(st == KD_OK, "%s: blockmatch returns OK (%d)", rn, (int)st);
        int right = 0, signs = 0;
        double dev = 0;
        for (int j = 0; j < nu; j++) {
            right += best[j] == perm[j];
            signs += (best_c[j] > 0 ? 1 : -1) == sign[j];
            /* Pearson of x against ±(αx + β) is ±1 exactly in exact
             * arithmetic; the doubles carry ~n ulps of summation error */
            dev = fmax(dev, fabs(fabs(best_c[j]) - 1));
        }
        kd_test(right == nu, "%s: every unit's best match is its block (%d of %d)", rn, right, nu);
        kd_test(signs == nu, "%s: C carries the unit's Z2 sign (%d of %d)", rn, signs, nu);
        kd_test(dev < 1e-12, "%s: |C| = 1 to 1e-12 (max deviation %.1e)", rn, dev);
        kd_test(fabs(res.mean_best - 1) < 1e-12 && res.coverage == 1.0,
                "%s: mean best |C| = 1 (%.15f), coverage 1 (%g)", rn, res.mean_best, res.coverage);
        int hit_ok = 1;
        for (int B = 0; B < nb; B++)
            hit_ok &= hits[B] == 1 && fabs(block_best[B] - 1) < 1e-12;
        kd_test(hit_ok, "%s: every block matched by exactly one unit, block best |C| = 1", rn);
        /* other blocks: independent spins, so the off-diagonal C are noise of
         * sd 1/sqrt(n); 7/sqrt(n) bounds all 240 with probability > 1 - 1e-9 */
        double off = 0;
        for (int j = 0; j < nu; j++)
            for (int B = 0; B < nb; B++)
                if (B != perm[j])
                    off = fmax(off, fabs(C[j * nb + B]));
        kd_test(off < 7 / sqrt((double)n), "%s: off-match |C| <= %.3f < 7/sqrt(n)", rn, off);
        /* the shuffled null is independent data: mean over 16 units of the max
         * of 16 |C| ~ 2.08/sqrt(n) (simulated: mean 2.08, sd 0.12 for 16
         * independent units), so [1.4, 2.8]/sqrt(n) is > 5 sd either side */
        double z = res.null_mean_best * sqrt((double)n);
        kd_test(z > 1.4 && z < 2.8, "%s: null mean best |C| = %.2f/sqrt(n), expected ~2.1", rn, z);
        kd_test(res.zero_units == 0 && res.zero_blocks == 0, "%s: no zero-variance columns", rn);
        /* 1 - (15/16)^16 */
        kd_test(fabs(res.coverage_random - (1 - pow(15.0 / 16.0, 16))) < 1e-15,
                "%s: random coverage reference %.4f", rn, res.coverage_random);
    }
    free(s);
    free(h);
    free(hs);
}

/* b = 2 has ties; a unit equal to kd_rg_blockspin's output with the same seed
 * (the coins the function documents) has |C| = 1, one drawn with other coins
 * has not. */
static void test_ties(void)
{
    const int L = 8, b = 2, nb = 16;
    const size_t n = 400;
    kd_lattice sq = {.kind = KD_LATTICE_SQUARE, .L = L, .boundary = KD_BOUNDARY_PERIODIC, .J = 1};
    int8_t *s = random_spins(L, n, 2), *blk = malloc(n * nb);
    float *h = malloc(n * nb * sizeof *h);
    double best_c[16];
    kd_rg_blockmatch_maps maps = {NULL, NULL, best_c, NULL, NULL};
    kd_rg_blockmatch_result res;
    for (int coins = 0; coins < 2; coins++) {
        kd_rg_blockspin(&sq, s, n, b, coins ? 12345 : 7, 0, blk);
        for (size_t k = 0; k < n * nb; k++)
            h[k] = blk[k];
        kd_rg_blockmatch(&sq, s, n, h, nb, b, KD_RG_BLOCK_MAJORITY, 7, &maps, &res);
        double mn = 1;
        for (int j = 0; j < nb; j++)
            mn = fmin(mn, fabs(best_c[j]));
        if (!coins)
            kd_test(mn > 1 - 1e-12, "b = 2, same coins: every |C| = 1 (min %.15f)", mn);
        else
            /* 6 of 16 equally likely patterns of 4 fair spins tie, and a tie's
             * two coins disagree half the time: C = E[B B'] = 1 - 2·(6/16)/2
             * = 0.625, sd of the estimate sqrt((1 - C²)/n) = 0.04 per unit */
            kd_test(res.mean_best < 0.72 && res.mean_best > 0.53,
                    "b = 2, other coins: mean best |C| = %.3f ~ 0.625", res.mean_best);
    }
    free(s);
    free(blk);
    free(h);
}

/* Activities independent of the configurations: |C| at the noise level. */
static void test_independent(void)
{
    const int L = 8, b = 2, nb = 16, nu = 16;
    const size_t n = 4000;
    kd_lattice sq = {.kind = KD_LATTICE_SQUARE, .L = L, .boundary = KD_BOUNDARY_PERIODIC, .J = 1};
    int8_t *s = random_spins(L, n, 3);
    float *h = malloc(n * nu * sizeof *h);
    kd_rng r;
    kd_rng_init(&r, 99, 4); /* a stream the spins do not use */
    for (size_t k = 0; k < n * nu; k++)
        h[k] = (float)kd_rng_uniform(&r);
    double C[16 * 16];
    kd_rg_blockmatch_maps maps = {C, NULL, NULL, NULL, NULL};
    kd_rg_blockmatch_result res;
    kd_test(kd_rg_blockmatch(&sq, s, n, h, nu, b, KD_RG_BLOCK_MEAN, 1, &maps, &res) == KD_OK,
            "independent: OK");
    /* each C ~ N(0, 1/n) under independence; P(|Z| > 6.5) = 8e-11, times 256
     * entries: a false failure has probability < 1e-8 */
    double mx = 0;
    for (int k = 0; k < nu * nb; k++)
        mx = fmax(mx, fabs(C[k]));
    kd_test(mx < 6.5 / sqrt((double)n), "independent: max |C| = %.4f < 6.5/sqrt(n) = %.4f", mx,
            6.5 / sqrt((double)n));
    /* and not identically small: mean over units of the max of 16 |C| is
     * ~2.08/sqrt(n) (sd 0.12/sqrt(n)), like the shuffled null */
    double z = res.mean_best * sqrt((double)n), zn = res.null_mean_best * sqrt((double)n);
    kd_test(z > 1.4 && z < 2.8, "independent: mean best |C| = %.2f/sqrt(n), expected ~2.1", z);
    kd_test(zn > 1.4 && zn < 2.8, "independent: null mean best |C| = %.2f/sqrt(n)", zn);
    free(s);
    free(h);
}

/* A constant unit and a constant block: C = 0, counted, never a best match. */
static void test_zero_variance(void)
{
    const int L = 8, b = 2, nb = 16, nu = 3;
    const size_t n = 300;
    kd_lattice sq = {.kind = KD_LATTICE_SQUARE, .L = L, .boundary = KD_BOUNDARY_PERIODIC, .J = 1};
    int8_t *s = random_spins(L, n, 5);
    for (size_t r = 0; r < n; r++) /* block 0 = sites (0,0),(1,0),(0,1),(1,1) always up */
        s[r * 64 + 0] = s[r * 64 + 1] = s[r * 64 + 8] = s[r * 64 + 9] = 1;
    float *h = malloc(n * nu * sizeof *h);
    for (size_t r = 0; r < n; r++) {
        h[r * nu + 0] = 0.3f;                                  /* constant */
        h[r * nu + 1] = (float)block_sum(s + r * 64, L, b, 5); /* block 5 */
        h[r * nu + 2] = 0.1f * (float)block_sum(s + r * 64, L, b, 0); /* constant too */
    }
    double C[3 * 16], best_c[3], block_best[16];
    int best[3], hits[16];
    kd_rg_blockmatch_maps maps = {C, best, best_c, block_best, hits};
    kd_rg_blockmatch_result res;
    kd_status st = kd_rg_blockmatch(&sq, s, n, h, nu, b, KD_RG_BLOCK_MEAN, 1, &maps, &res);
    kd_test(st == KD_OK, "zero variance: OK");
    kd_test(res.zero_units == 2 && res.zero_blocks == 1, "zero variance: 2 units, 1 block counted (%d, %d)",
            res.zero_units, res.zero_blocks);
    int zeros = 1;
    for (int B = 0; B < nb; B++)
        zeros &= C[0 * nb + B] == 0 && C[2 * nb + B] == 0;
    for (int j = 0; j < nu; j++)
        zeros &= C[j * nb + 0] == 0;
    kd_test(zeros, "zero variance: their rows and column of C are exactly 0");
    kd_test(best[0] == -1 && best[2] == -1 && best_c[0] == 0 && best_c[2] == 0,
            "zero variance: constant units have no best match");
    kd_test(best[1] == 5 && fabs(best_c[1] - 1) < 1e-12, "zero variance: live unit finds block 5");
    kd_test(block_best[0] == 0 && hits[0] == 0, "zero variance: constant block matched by none");
    /* mean over all 3 units, the constant ones counting 0 */
    kd_test(fabs(res.mean_best - 1.0 / 3.0) < 1e-12, "zero variance: mean best |C| = 1/3 (%.15f)",
            res.mean_best);
    kd_test(fabs(res.coverage - 1.0 / 16.0) < 1e-15, "zero variance: coverage 1/16");
    kd_test(fabs(res.coverage_random - 1.0 / 16.0) < 1e-15,
            "zero variance: random coverage counts only the live unit");
    free(s);
    free(h);
}

static void test_bad_input(void)
{
    kd_lattice sq = {.kind = KD_LATTICE_SQUARE, .L = 4, .boundary = KD_BOUNDARY_PERIODIC, .J = 1};
    int8_t s[2 * 16];
    float h[2 * 2] = {0, 1, 1, 0};
    for (int k = 0; k < 32; k++)
        s[k] = k % 3 ? 1 : -1;
    kd_rg_blockmatch_result res;
    kd_test(kd_rg_blockmatch(&sq, s, 1, h, 2, 2, KD_RG_BLOCK_MEAN, 1, NULL, &res) == KD_ERR_INVALID,
            "n = 1 refused");
    kd_test(kd_rg_blockmatch(&sq, s, 2, h, 2, 3, KD_RG_BLOCK_MEAN, 1, NULL, &res) == KD_ERR_INVALID,
            "b = 3 on L = 4 refused");
    kd_test(kd_rg_blockmatch(&sq, s, 2, h, 0, 2, KD_RG_BLOCK_MEAN, 1, NULL, &res) == KD_ERR_INVALID,
            "0 units refused");
    kd_test(kd_rg_blockmatch(&sq, s, 2, h, 2, 2, KD_RG_BLOCK_MEAN, 1, NULL, &res) == KD_OK,
            "minimal valid call (n = 2, NULL maps)");
    h[3] = NAN;
    kd_test(kd_rg_blockmatch(&sq, s, 2, h, 2, 2, KD_RG_BLOCK_MEAN, 1, NULL, &res) == KD_ERR_NUMERIC,
            "NaN activity refused");
    kd_test(strstr(kd_last_error(), "unit 1") != NULL, "message names the unit: %s", kd_last_error());
    h[3] = 0;
    s[5] = 0;
    kd_test(kd_rg_blockmatch(&sq, s, 2, h, 2, 2, KD_RG_BLOCK_MAJORITY, 1, NULL, &res) == KD_ERR_INVALID,
            "spin 0 refused");
}

/* kd_rng_permutation (rng.h), which the shuffled null uses: a permutation,
 * and uniform: each of 4 values lands in position 0 with probability 1/4. */
static void test_permutation(void)
{
    kd_rng r;
    kd_rng_init(&r, 3, 0);
    uint32_t p[1000];
    unsigned char seen[1000] = {0};
    kd_rng_permutation(&r, p, 1000);
    int ok = 1, moved = 0;
    for (int i = 0; i < 1000; i++) {
        ok &= p[i] < 1000 && !seen[p[i]];
        if (p[i] < 1000)
            seen[p[i]] = 1;
        moved += p[i] != (uint32_t)i;
    }
    kd_test(ok, "permutation of 1000: every index exactly once");
    /* a uniform permutation has on average 1 fixed point */
    kd_test(moved > 990, "permutation of 1000: %d of 1000 moved", moved);
    int count[4] = {0};
    for (int t = 0; t < 40000; t++) {
        kd_rng_permutation(&r, p, 4);
        count[p[0]]++;
    }
    /* binomial(40000, 1/4): mean 10000, sd 87; 5 sd either side */
    int uni = 1;
    for (int k = 0; k < 4; k++)
        uni &= abs(count[k] - 10000) < 435;
    kd_test(uni, "permutation of 4: p[0] uniform (%d %d %d %d of 40000)", count[0], count[1],
            count[2], count[3]);
    kd_rng_permutation(&r, p, 1);
    kd_test(p[0] == 0, "permutation of 1 is the identity");
}

int main(void)
{
    test_permutation();
    test_size_rule();
    test_exact_blocks();
    test_ties();
    test_independent();
    test_zero_variance();
    test_bad_input();
    return kd_test_done();
}
