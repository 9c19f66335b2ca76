/*
 * Matrix products whose results do not depend on the thread count.
 *
 * OpenBLAS's own threaded sgemm splits the K sums differently for different
 * thread counts, so its results change in the last bits with --threads. Here
 * OpenBLAS runs single-threaded and a product is cut into slices (of rows or
 * columns of C) whose number depends only on the shape; the slices run on the
 * OpenMP threads. Every element of C is then computed by the same single-
 * threaded call whatever the thread count: bit-identical results.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>

#include <omp.h>

#include "core/gemm.h"

#ifdef KD_BLAS_BLIS
void bli_thread_set_num_threads(long n_threads); /* blis.h; the whole header is not needed */
#endif

void kd_blas_serial(void)
{
#ifdef OPENBLAS_VERSION
    /* One-way: restoring a larger count after each call wakes OpenBLAS's
     * worker threads, which then busy-wait (sched_yield) for ~0.1 s and take a
     * core from the OpenMP threads; measured 3-7× slower epochs on 2 cores. */
    if (openblas_get_num_threads() != 1)
        openblas_set_num_threads(1);
#elif defined(KD_BLAS_BLIS)
    /* BLIS reads BLIS_NUM_THREADS / OMP_NUM_THREADS; one call pins it */
    static atomic_int pinned;
    if (!atomic_exchange(&pinned, 1))
        bli_thread_set_num_threads(1);
#endif
}

/* Slices of a product, from its shape alone: one below ~1M multiply-adds
 * (thread start-up would cost more than it saves), else one per ~1M
 * multiply-adds, at least 128 rows or columns each, rounded down to a power
 * of two, at most 8. Each slice packs the whole of the other operand again
 * (A when the columns are cut): measured on one core with OpenBLAS at
 * 100×400×1600, 8 slices of 50 columns ran at 84 GFLOP/s against 98 for 2
 * slices of 200, so slices stay wide. A power of two keeps 2 or 4 threads
 * evenly loaded (3 slices on 2 threads would idle one for a third). */
static int gemm_slices(int M, int N, int K, int *along_n)
{
    double work = (double)M * N * K;
    *along_n = N >= M;
    int dim = *along_n ? N : M;
    if (work < 1048576.0)
        return 1;
    double cap = fmin(fmin(8.0, work / 1048576.0), dim / 128.0);
    int p = 1;
    while (2 * p <= cap)
        p *= 2;
    return p;
}

void kd_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    kd_blas_serial();
    int along_n;
    int p = gemm_slices(M, N, K, &along_n);
    int dim = along_n ? N : M;
    if (p == 1) { /* no region: even a one-thread region costs a futex call */
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int s = 0; s < p; s++) {
        int s0 = (int)((int64_t)dim * s / p), s1 = (int)((int64_t)dim * (s + 1) / p);
        if (along_n) {
            const float *Bs = tb == CblasTrans ? B + (size_t)s0 * (size_t)ldb : B + s0;
            cblas_sgemm(CblasRowMajor, ta, tb, M, s1 - s0, K, alpha, A, lda, Bs, ldb, beta, C + s0,
                        ldc);
        } else {
            const float *As = ta == CblasTrans ? A + s0 : A + (size_t)s0 * (size_t)lda;
            cblas_sgemm(CblasRowMajor, ta, tb, s1 - s0, N, K, alpha, As, lda, B, ldb, beta,
                        C + (size_t)s0 * (size_t)ldc, ldc);
        }
    }
}

void kd_dgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, double alpha,
              const double *A, int lda, const double *B, int ldb, double beta, double *C, int ldc)
{
    kd_blas_serial();
    int along_n;
    int p = gemm_slices(M, N, K, &along_n);
    int dim = along_n ? N : M;
    if (p == 1) { /* no region: even a one-thread region costs a futex call */
        cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int s = 0; s < p; s++) {
        int s0 = (int)((int64_t)dim * s / p), s1 = (int)((int64_t)dim * (s + 1) / p);
        if (along_n) {
            const double *Bs = tb == CblasTrans ? B + (size_t)s0 * (size_t)ldb : B + s0;
            cblas_dgemm(CblasRowMajor, ta, tb, M, s1 - s0, K, alpha, A, lda, Bs, ldb, beta, C + s0,
                        ldc);
        } else {
            const double *As = ta == CblasTrans ? A + s0 : A + (size_t)s0 * (size_t)lda;
            cblas_dgemm(CblasRowMajor, ta, tb, s1 - s0, N, K, alpha, As, lda, B, ldb, beta,
                        C + (size_t)s0 * (size_t)ldc, ldc);
        }
    }
}
