/*
 * Thread-count-independent BLAS products (internal; see gemm.c for why).
 * Used by every module that multiplies matrices (rbm, nn, rg).
 */
#ifndef KD_CORE_GEMM_H
#define KD_CORE_GEMM_H

#include <cblas.h>

#ifdef KD_BLAS_BLIS
/* BLIS's cblas.h names the enums without typedefs (OpenBLAS has both). */
typedef enum CBLAS_TRANSPOSE CBLAS_TRANSPOSE;
#endif

/* Pin the BLAS (OpenBLAS or BLIS) to one thread (one-way; see gemm.c). kd_sgemm/kd_dgemm call it;
 * call it before any direct cblas_* call whose result must not depend on the
 * thread count. */
void kd_blas_serial(void);

/* Row-major C = alpha·op(A)·op(B) + beta·C, cut into a number of slices that
 * depends only on (M, N, K); each slice is one single-threaded BLAS call and
 * the slices run on OpenMP threads. Bit-identical for any thread count. */
void kd_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
void kd_dgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, double alpha,
              const double *A, int lda, const double *B, int ldb, double beta, double *C, int ldc);

#endif
