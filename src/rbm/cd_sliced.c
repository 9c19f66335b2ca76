/*
 * CD-k chains over slices of the minibatch.
 *
 * For small RBMs (100-64: a product is ~0.6 M multiply-adds, ~15 µs) the
 * minibatch is not limited by the products but by what happens between them:
 * fork/join of per-phase parallel loops, one Philox call per row, and the
 * products themselves too small for kd_sgemm to split. Here the B rows are cut
 * into S slices and each slice runs its whole chain — up product, fused
 * bias + logistic + sampling, down product, sampling, up product, means —
 * and then its share of the gradient (v0ᵀh0 + vkᵀhk over its rows, bias sums)
 * on one thread, with single-threaded BLAS calls on its own rows and its
 * random words drawn in bulk (kd_philox_fill_rows: all rows of a chunk in one
 * vectorised sweep). One parallel region per minibatch, no barrier inside;
 * after it the S partial gradients are added in slice order. (With the
 * gradient left to one product after the region, that product, 40 % of the
 * flops, ran on one thread: 100×64×200 is a single kd_sgemm slice.)
 *
 * Reproducibility: row r draws from stream stream0 + r, blocks in the order of
 * cd.c (hidden, then k × (visible, hidden), no draws for the last hidden
 * means), so a unit's draw does not depend on the slicing. S depends only on
 * B (and whether the path is taken at all on nv·nh), never on the thread
 * count, and each slice is computed by the same sequence of single-threaded
 * calls whichever thread runs it: the results are bit-identical for any
 * thread count (as for kd_sgemm, gemm.c). The gradient is summed per slice
 * and then over the slices, so it differs from cd.c's one product over all
 * rows in the last bits; the drawn units are the same. Only shapes up to
 * SLICED_MAX_WEIGHTS weights take this path (see there).
 *
 * Shared machines. A minibatch of a small RBM takes ~0.1 ms; if a neighbour
 * process holds the core that one of our OpenMP threads needs, the region
 * cannot end until the scheduler runs that thread again, which can take
 * milliseconds (measured: 100-64 on 2 threads under a load average of 16 ran
 * 12× slower than on 1 thread). So the region notes whether the other
 * threads took part in time (they ran a slice, and the region did not last
 * much longer than the calling thread's own slices); if not, the next
 * minibatches run all slices on the calling thread, and the region is tried
 * again after a back-off that doubles (up to 4096 minibatches) while the
 * other threads keep missing. The slices
 * are the same either way, so the results do not change.
 */
#include <stdatomic.h>
#include <string.h>

#include <omp.h>

#include "core/gemm.h"
#include "rbm/cd_sliced.h"
#include "rbm/kernels.h"

static int sliced_enabled = 1;

void kd_cd_sliced_enable(int on) { sliced_enabled = on != 0; }

/* Slices: the largest power of two <= B / 32, at most 8. Rows per slice are
 * then >= 32, enough for an efficient sgemm; B = 100 gives 2. */
static int batch_slices(size_t B)
{
    int s = 1;
    while (s < 8 && (size_t)(2 * s) * 32 <= B)
        s *= 2;
    return s;
}

/* Random words for one sampling pass are drawn for RND_WORDS / (4·blocks)
 * rows at a time (at least one row): 16 KiB on the stack, in L1. */
#define RND_WORDS 4096

/* One sampling pass over rows r0 .. r0+n of a layer of `units` units: fields
 * act (+ bias), words from blocks [blk, blk + blocks(units)) of each row's
 * stream; means (scaled) to mean_out if not NULL, draws to sample_out. */
static void sample_rows(kd_units u, size_t n, int units, const float *act, const float *bias,
                        float scale, uint64_t seed, uint64_t stream, uint64_t blk, float *mean_out,
                        float *sample_out)
{
    uint32_t rnd[RND_WORDS];
    const size_t nb = (size_t)kd_rbm_blocks(units), su = (size_t)units;
    size_t chunk = RND_WORDS / (4 * nb);
    if (chunk == 0)
        chunk = 1;
    for (size_t r = 0; r < n; r += chunk) {
        size_t m = n - r < chunk ? n - r : chunk;
        if (4 * nb <= RND_WORDS) {
            kd_philox_fill_rows(seed, stream + r, m, blk, nb, rnd);
            kd_rows_sample_words(u, m, units, act + r * su, bias, scale, rnd, 4 * nb,
                                 mean_out ? mean_out + r * su : NULL, sample_out + r * su);
        } else { /* a row wider than the buffer: the per-row kernel chunks it */
            kd_row_mean_sample(u, units, act + r * su, bias, scale, seed, stream + r, blk,
                               mean_out ? mean_out + r * su : NULL, sample_out + r * su);
        }
    }
}

/* The chain of rows r0 .. r0+n (cd.c's loops restricted to these rows), then
 * this slice's share of the gradient into g (laid out like w->grad). */
static void slice_chain(kd_cd_work *w, const kd_rbm *rbm, size_t B, size_t r0, size_t n, int k,
                        uint64_t seed, uint64_t stream0, float *g)
{
    const int nv = rbm->nv, nh = rbm->nh, m = (int)n;
    const size_t snv = (size_t)nv, snh = (size_t)nh;
    const float inv_b = 1.0f / (float)B;
    const float *W = rbm->w;
    float *v0 = w->v + r0 * snv, *vn = w->v + (B + r0) * snv;
    float *h0 = w->h + r0 * snh, *hn = w->h + (B + r0) * snh, *hs = w->hs + r0 * snh;
    const uint64_t stream = stream0 + r0;

    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, nh, nv, 1.0f, v0, nv, W, nh, 0.0f,
                h0, nh);
    sample_rows(rbm->hid, n, nh, h0, rbm->b, inv_b, seed, stream, 0, h0, hs);
    uint64_t blk = kd_rbm_blocks(nh);
    for (int step = 1; step <= k; step++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, nv, nh, 1.0f, hs, nh, W, nh, 0.0f,
                    vn, nv);
        sample_rows(rbm->vis, n, nv, vn, rbm->a, 1.0f, seed, stream, blk, NULL, vn);
        blk += kd_rbm_blocks(nv);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, nh, nv, 1.0f, vn, nv, W, nh, 0.0f,
                    hn, nh);
        if (step < k) {
            sample_rows(rbm->hid, n, nh, hn, rbm->b, 1.0f, seed, stream, blk, NULL, hs);
            blk += kd_rbm_blocks(nh);
        } else {
            kd_rows_mean(rbm->hid, n, nh, hn, rbm->b, -inv_b, hn);
        }
    }

    /* this slice's gradient: v0ᵀ h0 + vnᵀ hn over its rows (h already scaled
     * by ±1/B), and the bias sums, in the order of cd.c restricted to the rows */
    float *gw = g, *ga = g + snv * snh, *gb = ga + snv;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nv, nh, m, 1.0f, v0, nv, h0, nh, 0.0f, gw,
                nh);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nv, nh, m, 1.0f, vn, nv, hn, nh, 1.0f, gw,
                nh);
    kd_rows_bias_sums(nv, n, v0, inv_b, n, vn, -inv_b, ga);
    kd_rows_bias_sums(nh, n, h0, 1.0f, n, hn, 1.0f, gb);
    if (rbm->flags & KD_RBM_NO_VISIBLE_BIAS)
        memset(ga, 0, snv * sizeof(float));
    if (rbm->flags & KD_RBM_NO_HIDDEN_BIAS)
        memset(gb, 0, snh * sizeof(float));
}

/* Only small RBMs take this path. Measured on an idle 2-core machine
 * (bench_rbm, the previous kernel in the same rounds): 100-64 1.28x on 1
 * thread and 1.27x on 2, 100-100 1.32x / 1.23x, but 1600-400 0.74x on 2
 * threads, where kd_sgemm's split products beat two one-thread slices. The
 * bound depends on the shape only, so the choice (and the bits) never depend
 * on the thread count. */
#define SLICED_MAX_WEIGHTS ((size_t)1 << 16)

/* Back-off state (see the top of the file): minibatches left to run on the
 * calling thread, and the length of the next back-off. Shared by all callers;
 * relaxed atomics, since it only steers speed. */
static atomic_int serial_left, backoff = 16, waking;
#define BACKOFF_MAX 4096

static int sliced_applies(const kd_rbm *rbm, size_t B)
{
    return sliced_enabled && batch_slices(B) >= 2 && B <= (size_t)1 << 30 &&
           (size_t)rbm->nv * (size_t)rbm->nh <= SLICED_MAX_WEIGHTS;
}

size_t kd_cd_sliced_partials(const kd_rbm *rbm, size_t max_rows)
{
    int S = batch_slices(max_rows);
    return (size_t)rbm->nv * (size_t)rbm->nh <= SLICED_MAX_WEIGHTS && S >= 2 ? (size_t)S - 1 : 0;
}

int kd_cd_gradient_sliced(kd_cd_work *w, const kd_rbm *rbm, size_t B, int k, uint64_t seed,
                          uint64_t stream0)
{
    if (!sliced_applies(rbm, B) || (size_t)batch_slices(B) - 1 > w->nparts)
        return 0;
    const int S = batch_slices(B);
    const size_t np = rbm->nparams;
    kd_blas_serial();
    int threads = omp_get_max_threads();
    if (threads > S)
        threads = S;
    if (threads > 1 && atomic_load_explicit(&serial_left, memory_order_relaxed) > 0) {
        if (atomic_fetch_sub_explicit(&serial_left, 1, memory_order_relaxed) == 1)
            atomic_store_explicit(&waking, 1, memory_order_relaxed);
        threads = 1;
    }
    if (threads == 1) { /* no region at all: even a one-thread region costs a futex call */
        for (int s = 0; s < S; s++) {
            size_t r0 = B * (size_t)s / (size_t)S, r1 = B * (size_t)(s + 1) / (size_t)S;
            slice_chain(w, rbm, B, r0, r1 - r0, k, seed, stream0,
                        s == 0 ? w->grad : w->parts + (size_t)(s - 1) * np);
        }
    } else {
        /* late: no other thread ran a slice, or the region outlasted the
         * calling thread's own work by more than half (another thread was
         * descheduled in the middle of its slice) */
        int helped = 0; /* slices run by threads other than the calling one */
        double own = 0, t0 = omp_get_wtime();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) reduction(+ : helped)
        for (int s = 0; s < S; s++) {
            size_t r0 = B * (size_t)s / (size_t)S, r1 = B * (size_t)(s + 1) / (size_t)S;
            double ts = omp_get_wtime();
            slice_chain(w, rbm, B, r0, r1 - r0, k, seed, stream0,
                        s == 0 ? w->grad : w->parts + (size_t)(s - 1) * np);
            if (omp_get_thread_num() == 0)
                own += omp_get_wtime() - ts;
            else
                helped++;
        }
        double wall = omp_get_wtime() - t0;
        /* The first region after a back-off is not judged: the other threads
         * have gone to sleep meanwhile (libgomp spins only briefly) and need
         * a futex wake-up to join, which says nothing about the load; judged,
         * it would double the back-off after any single late region. (On a
         * mostly idle 2-core machine 100-64 on 2 threads ran either at ~1.2M
         * samples/s or at the 1-thread ~0.75M; this was the suspected
         * reason.) */
        int judged = !atomic_exchange_explicit(&waking, 0, memory_order_relaxed);
        if (judged && (helped == 0 || wall > 1.5 * own + 20e-6)) { /* back off */
            int b = atomic_load_explicit(&backoff, memory_order_relaxed);
            atomic_store_explicit(&serial_left, b, memory_order_relaxed);
            atomic_store_explicit(&backoff, b < BACKOFF_MAX ? 2 * b : b, memory_order_relaxed);
        } else if (judged) {
            atomic_store_explicit(&backoff, 16, memory_order_relaxed);
        }
    }
    /* the slices' gradients added in slice order: the same sums whatever
     * thread ran which slice */
    for (int s = 1; s < S; s++)
        kd_add_to(np, w->parts + (size_t)(s - 1) * np, w->grad);
    return 1;
}
