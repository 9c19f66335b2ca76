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

/* One product C = alpha op(A) op(B) + beta C in float or double: the
 * arguments of cblas_sgemm / cblas_dgemm, so that the slicing below is written
 * once. alpha and beta of a float product are held as double, which is exact. */
typedef struct {
    int is_double;
    CBLAS_TRANSPOSE ta, tb;
    int M, N, K, lda, ldb, ldc;
    double alpha, beta;
    const void *A, *B;
    void *C;
} gemm_product;

/* The m × n block of C at C, from the rows of op(A) at A and the columns of
 * op(B) at B: one single-threaded cblas call (direct, for either type). */
static void gemm_block(const gemm_product *x, int m, int n, const void *A, const void *B, void *C)
{
    if (x->is_double)
        cblas_dgemm(CblasRowMajor, x->ta, x->tb, m, n, x->K, x->alpha, A, x->lda, B, x->ldb,
                    x->beta, C, x->ldc);
    else
        cblas_sgemm(CblasRowMajor, x->ta, x->tb, m, n, x->K, (float)x->alpha, A, x->lda, B,
                    x->ldb, (float)x->beta, C, x->ldc);
}

static void gemm_sliced(const gemm_product *x)
{
    kd_blas_serial();
    int along_n;
    int p = gemm_slices(x->M, x->N, x->K, &along_n);
    int dim = along_n ? x->N : x->M;
    if (p == 1) { /* no region: even a one-thread region costs a futex call */
        gemm_block(x, x->M, x->N, x->A, x->B, x->C);
        return;
    }
    /* offsets in bytes: the pointers are used as float * or double * */
    size_t es = x->is_double ? sizeof(double) : sizeof(float);
    const char *A = x->A, *B = x->B;
    char *C = x->C;
#pragma omp parallel for schedule(dynamic, 1)
    for (int s = 0; s < p; s++) {
        int s0 = (int)((int64_t)dim * s / p), s1 = (int)((int64_t)dim * (s + 1) / p);
        if (along_n) { /* columns [s0, s1) of C: those of op(B) */
            size_t b = x->tb == CblasTrans ? (size_t)s0 * (size_t)x->ldb : (size_t)s0;
            gemm_block(x, x->M, s1 - s0, A, B + b * es, C + (size_t)s0 * es);
        } else { /* rows [s0, s1) of C: those of op(A) */
            size_t a = x->ta == CblasTrans ? (size_t)s0 : (size_t)s0 * (size_t)x->lda;
            gemm_block(x, s1 - s0, x->N, A + a * es, B, C + (size_t)s0 * (size_t)x->ldc * es);
        }
    }
}

void kd_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    gemm_product x = {0, ta, tb, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C};
    gemm_sliced(&x);
}

void kd_dgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, double alpha,
              const double *A, int lda, const double *B, int ldb, double beta, double *C, int ldc)
{
    gemm_product x = {1, ta, tb, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C};
    gemm_sliced(&x);
}
