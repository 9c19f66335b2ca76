/* Tests of the batch-sliced CD-k chains (src/rbm/cd_sliced.c) and the bulk
 * kernels they use: multi-row Philox fill and multi-row sampling equal their
 * one-row counterparts word for word; the sliced chains draw the same units
 * as cd.c's loops and give the same gradient up to float rounding; results
 * are bit-identical for 1 and 2 threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kadanoff/core.h"
#include "kadanoff/rbm.h"
#include "kadanoff/rng.h"
#include "rbm/cd.h"
#include "rbm/cd_sliced.h"
#include "rbm/kernels.h"
#include "testing.h"

/* Rows of several streams in one sweep = one kd_philox_fill per row, for row
 * widths whose total is not a multiple of the 8-block vector (tails), widths
 * below and above the 8 lanes of a vector (a vector spanning several rows),
 * and starts just below a 2^32 block or stream boundary (carry into the
 * counter's high word, where the vectorised counters of the fast path do not
 * apply). */
static void test_philox_rows(void)
{
    const size_t widths[5] = {1, 3, 7, 16, 25};
    const uint64_t starts[2] = {3, 0xFFFFFFFDULL}, streams[2] = {1000, 0x2FFFFFFFAULL};
    int ok = 1;
    for (int a = 0; a < 5; a++)
        for (int s = 0; s < 4; s++)
            for (size_t nrows = 1; nrows <= 13; nrows += 4) {
                size_t nb = widths[a], nw = 4 * nb * nrows;
                uint64_t st = streams[s / 2], b0 = starts[s % 2];
                uint32_t *got = malloc(nw * sizeof *got), *want = malloc(nw * sizeof *want);
                kd_philox_fill_rows(77, st, nrows, b0, nb, got);
                for (size_t r = 0; r < nrows; r++)
                    kd_philox_fill_ref(77, st + r, b0, nb, want + 4 * nb * r);
                ok &= memcmp(got, want, nw * sizeof *got) == 0;
                free(got);
                free(want);
            }
    kd_test(ok, "kd_philox_fill_rows equals the scalar fill of each row's stream");
}

/* The multi-row kernels equal the one-row kernels bit for bit. */
static void test_rows_kernels(void)
{
    enum { R = 5, N = 37 };
    static const kd_units U[2] = {KD_UNITS_SPIN, KD_UNITS_BINARY};
    float act[R * N], bias[N], m1[R * N], s1[R * N], m2[R * N], s2[R * N];
    uint32_t rnd[R * 4 * 10];
    for (int j = 0; j < N; j++)
        bias[j] = 0.1f * (float)(j % 7) - 0.3f;
    for (int k = 0; k < R * N; k++)
        act[k] = 0.05f * (float)(k % 41) - 1.0f;
    int ok = 1;
    for (int u = 0; u < 2; u++) {
        kd_philox_fill_rows(5, 40, R, 2, 10, rnd);
        kd_rows_sample_words(U[u], R, N, act, bias, 0.5f, rnd, 40, m1, s1);
        kd_rows_mean(U[u], R, N, act, bias, 0.5f, m2);
        for (int r = 0; r < R; r++)
            kd_row_mean_sample(U[u], N, act + r * N, bias, 0.5f, 5, 40 + (uint64_t)r, 2, m2 + r * N,
                               s2 + r * N);
        ok &= memcmp(m1, m2, sizeof m1) == 0 && memcmp(s1, s2, sizeof s1) == 0;
        kd_rows_sample_words(U[u], R, N, act, bias, 1.0f, rnd, 40, NULL, s1);
        for (int r = 0; r < R; r++)
            kd_row_sample(U[u], N, act + r * N, bias, 5, 40 + (uint64_t)r, 2, s2 + r * N);
        ok &= memcmp(s1, s2, sizeof s1) == 0;
    }
    kd_test(ok, "multi-row mean/sampling kernels equal the one-row kernels bit for bit");
}

static kd_rbm *model(int nv, int nh, unsigned flags)
{
    kd_rbm *r = NULL;
    kd_rbm_new(&r, nv, nh, KD_UNITS_SPIN, KD_UNITS_BINARY, flags);
    kd_rbm_init_gaussian(r, 0.3, 4);
    kd_rng g;
    kd_rng_init(&g, 4, 1);
    for (int i = 0; i < nv; i++)
        kd_rbm_visible_bias(r)[i] = (float)(0.2 * kd_rng_normal(&g));
    for (int j = 0; j < nh; j++)
        kd_rbm_hidden_bias(r)[j] = (float)(0.2 * kd_rng_normal(&g));
    return r;
}

/* One kd_cd_gradient call on batch rows `v` (B × nv), sliced or not, on
 * `threads` threads; the work area keeps the chain states for inspection. */
static void gradient(kd_cd_work *w, const kd_rbm *r, const float *v, size_t B, int k, int sliced,
                     int threads)
{
    memcpy(w->v, v, B * (size_t)kd_rbm_nv(r) * sizeof(float));
    kd_cd_sliced_enable(sliced);
    kd_set_threads(threads);
    kd_cd_gradient(w, (const kd_rbm *)r, B, B, k, 0, 11, 1u << 20);
    kd_cd_sliced_enable(1);
    kd_set_threads(0);
}

/* Shapes: B = 100 (2 slices of 50, the default batch), B = 101 (2 uneven
 * slices), B = 128 with k = 2 (4 slices, intermediate hidden samples), and
 * B = 100 without biases (their gradients must be zero, as in cd.c). The
 * sliced path sums the gradient per slice and then over the slices, so
 * these cases check it as well as the chains. */
static void test_sliced_chains(void)
{
    const struct {
        int nv, nh, k;
        size_t B;
        unsigned flags;
    } cases[4] = {{100, 64, 1, 100, 0},
                  {37, 50, 1, 101, 0},
                  {60, 20, 2, 128, 0},
                  {30, 40, 1, 100, KD_RBM_NO_VISIBLE_BIAS | KD_RBM_NO_HIDDEN_BIAS}};
    for (int c = 0; c < 4; c++) {
        int nv = cases[c].nv, nh = cases[c].nh, k = cases[c].k;
        size_t B = cases[c].B, np = (size_t)nv * (size_t)nh + (size_t)nv + (size_t)nh;
        kd_rbm *r = model(nv, nh, cases[c].flags);
        float *v = malloc(B * (size_t)nv * sizeof *v);
        kd_rng g;
        kd_rng_init(&g, 8, (uint64_t)c);
        for (size_t q = 0; q < B * (size_t)nv; q++)
            v[q] = (float)kd_rng_spin(&g);
        kd_cd_work a, b, d;
        kd_cd_work_init(&a, r, B, B);
        kd_cd_work_init(&b, r, B, B);
        kd_cd_work_init(&d, r, B, B);
        gradient(&a, r, v, B, k, 0, 1); /* cd.c's own loops */
        gradient(&b, r, v, B, k, 1, 1);
        gradient(&d, r, v, B, k, 1, 2);

        /* The same units are drawn: a draw could only differ if its uniform fell
         * within the last-bit difference of the fields (~1e-7 in p) of p, an
         * expected ~1e-3 flips over these ~2·10^4 draws; with fixed seeds the
         * outcome is fixed, and none flips. */
        int same_draws = memcmp(a.v + B * (size_t)nv, b.v + B * (size_t)nv,
                                B * (size_t)nv * sizeof(float)) == 0;
        /* Gradient: the two paths differ only in rounding: of the products
         * (BLAS may sum a row differently for a 50-row and a 100-row call), ~1e-7
         * relative per field, and of the gradient sums, which the sliced path
         * forms per slice and then adds over the S slices (float sums of 2B
         * terms of size <= 1/B: a few 1e-8 either way). |Δ| <= 1e-5 leaves a
         * margin of ~100 over the rounding; a wrong row, slice or scale moves
         * entries by ~1/B = 1e-2. */
        double worst = 0;
        for (size_t q = 0; q < np; q++)
            worst = fmax(worst, fabs((double)a.grad[q] - (double)b.grad[q]));
        if (cases[c].flags) { /* disabled biases: exactly zero gradient */
            for (size_t q = (size_t)nv * (size_t)nh; q < np; q++)
                worst = b.grad[q] != 0.0f ? INFINITY : worst;
        }
        kd_test(same_draws && worst <= 1e-5,
                "%d-%d, B = %zu, CD-%d: sliced chains draw the same units as cd.c's loops, "
                "gradient within %.2g of theirs",
                nv, nh, B, k, worst);
        kd_test(memcmp(b.grad, d.grad, np * sizeof(float)) == 0 &&
                    memcmp(b.v, d.v, 2 * B * (size_t)nv * sizeof(float)) == 0,
                "%d-%d, B = %zu, CD-%d: sliced chains bit-identical on 1 and 2 threads", nv, nh,
                B, k);
        kd_cd_work_free(&a);
        kd_cd_work_free(&b);
        kd_cd_work_free(&d);
        free(v);
        kd_rbm_free(r);
    }
}

int main(void)
{
    test_philox_rows();
    test_rows_kernels();
    test_sliced_chains();
    return kd_test_done();
}
