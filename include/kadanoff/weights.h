/*
 * kadanoff/weights.h — analysis of RBM weights: singular values of W, the
 * spectrum of W Wᵀ, the data's spin–spin correlation matrix, comparisons
 * between the two, and a Fourier measure of how long-wavelength a lattice
 * vector is.
 *
 * W is n_v × n_h, float32, row-major (kd_rbm_weights). W Wᵀ is the n_v × n_v
 * MATRIX PRODUCT (W Wᵀ)_ik = Σ_j W_ij W_kj, computed with cblas_ssyrk — not
 * the element-wise product W ∘ W that a public reproduction of Iso et al.
 * (2018) used by mistake (tests/test_weights.c checks a case where they
 * differ).
 *
 * Why W Wᵀ: for spin units and small weights, integrating out the hidden
 * layer gives F(v) ≈ −aᵀv − ½ Σ_j (Σ_i v_i W_ij)² + const, an effective
 * pairwise coupling J_ik ∝ (W Wᵀ)_ik between visible spins. Its leading
 * eigenvectors are the patterns the RBM favours; Iso et al. observed that they
 * look like the long-wavelength (magnetisation-like) modes of the data's
 * correlation matrix C_ik = ⟨s_i s_k⟩.
 *
 * Eigenvectors are stored as the columns of an n × n row-major matrix:
 * component i of eigenvector k is U[i*n + k] (so a set of eigenvectors is a
 * kd_mosaic with layout KD_IMAGES_COLUMNS). Each has unit norm and a fixed sign:
 * Σ_i U_ik > 0, or, when that sum vanishes (|Σ| < 1e-4), its first component of
 * largest magnitude is positive. Eigenvalues are sorted in descending order.
 *
 * BLAS threads: these functions use whatever BLAS thread count is set (see
 * kadanoff/rbm.h); results may differ in the last bits between thread counts.
 */
#ifndef KADANOFF_WEIGHTS_H
#define KADANOFF_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "kadanoff/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- spectra -------------------------------------------------------------- */

/* G = W Wᵀ (nv × nv, both triangles filled) by cblas_ssyrk. nv, nh >= 1. */
kd_status kd_weights_gram(const float *W, int nv, int nh, float *G);

/* Singular values of W, min(nv, nh) of them in descending order, by
 * LAPACKE_sgesdd (values only) on a copy of W. Computed from W itself rather
 * than as square roots of the eigenvalues of Wᵀ W (or W Wᵀ): forming the
 * product squares the condition number, so singular values below
 * ~sqrt(eps)·σ_max (~3e-4 σ_max in float32) would be lost in rounding; the SVD
 * of W resolves them down to ~eps·σ_max. */
kd_status kd_weights_singular_values(const float *W, int nv, int nh, float *s);

/* Eigen-decomposition of a symmetric n × n matrix A (read-only; only its upper
 * triangle is used) by LAPACKE_ssyevd: values[n] in descending order and, if
 * vectors is not NULL, the eigenvectors as columns of vectors (n × n, sign
 * convention above). KD_ERR_NUMERIC if A has non-finite entries or LAPACK does
 * not converge. */
kd_status kd_weights_eigen(const float *A, int n, float *values, float *vectors);

/* Everything about one weight matrix, for the analyze command and reports. */
typedef struct {
    int nv, nh;
    int nsv;               /* min(nv, nh) */
    float *singular;       /* nsv singular values of W, descending */
    float *gram;           /* nv × nv: W Wᵀ */
    float *eigenvalues;    /* nv eigenvalues of W Wᵀ, descending (= singular² then zeros) */
    float *eigenvectors;   /* nv × nv, column k = eigenvector k */
} kd_weights_spectrum;

/* Compute a kd_weights_spectrum (allocates; free with kd_weights_spectrum_free).
 * Cost: O(nv² nh) for the product, O(nv³) for the eigenvectors. */
kd_status kd_weights_spectrum_new(const float *W, int nv, int nh, kd_weights_spectrum **out);
void kd_weights_spectrum_free(kd_weights_spectrum *s); /* NULL: nothing */

/* ---- data correlations ------------------------------------------------------- */

/* Spin–spin correlation matrix of n configurations of N spins (±1, row-major
 * n × N): C_ij = (1/n) Σ_c s_ci s_cj, or with `connected` the covariance
 * C_ij − ⟨s_i⟩⟨s_j⟩. Computed as Sᵀ S by cblas_ssyrk over blocks of rows: each
 * block's entries are integer sums of ±1 products, exact in float32 (blocks are
 * far below 2^24 rows), and the blocks are accumulated in double, so C is exact
 * up to the final division. KD_ERR_INVALID for a spin other than ±1. */
kd_status kd_weights_correlation(const int8_t *spins, size_t n, int N, int connected, float *C);

/* ---- comparing two symmetric matrices ------------------------------------------ */

#define KD_WEIGHTS_MAX_OVERLAPS 16

typedef struct {
    /* Frobenius cosine ⟨A,B⟩_F / (‖A‖_F ‖B‖_F), in [-1, 1]; invariant under
     * rescaling either matrix (so W Wᵀ needs no normalisation). */
    double cosine;
    /* The same over off-diagonal entries only: C_ii = 1 and (W Wᵀ)_ii = |W_i|²
     * carry no information about the couplings between sites. */
    double cosine_offdiag;
    /* Pearson correlation of the off-diagonal entries (both centred). */
    double pearson_offdiag;
    /* Overlaps of leading eigenvectors, |u_k(A) · u_k(B)| for k < noverlaps.
     * Degenerate eigenvalues (lattice symmetry: the two lowest nonzero Fourier
     * modes of C on a torus are degenerate) make single overlaps arbitrary;
     * subspace_overlap is the robust number. */
    int noverlaps;
    double overlap[KD_WEIGHTS_MAX_OVERLAPS];
    /* (1/k) ‖U_Aᵀ U_B‖_F² over the leading k eigenvectors of each: 1 when the
     * two span the same k-dimensional subspace, ≈ k/n for random subspaces. */
    int subspace_k;
    double subspace_overlap;
} kd_weights_comparison;

/* Compare symmetric n × n matrices A and B. UA and UB are their eigenvectors
 * (as from kd_weights_eigen, descending) or NULL; with both given, the first k
 * (1 <= k <= n; k <= KD_WEIGHTS_MAX_OVERLAPS for the single overlaps, larger
 * k only enters the subspace overlap) are compared, else the eigenvector
 * fields are 0. */
kd_status kd_weights_compare(const float *A, const float *B, int n, const float *UA,
                             const float *UB, int k, kd_weights_comparison *out);

/* ---- translation averages ------------------------------------------------------ */

/* The average of an N × N site matrix over translations of an lx × ly periodic
 * lattice (N = lx·ly, site index i = x + lx·y):
 *     out(d) = (1/N) Σ_i A[i, i + d],   i + d taken modulo the lattice,
 * as an lx × ly image whose pixel (x, y) is the displacement
 * d = (x − lx/2, y − ly/2), so d = 0 is the centre pixel (lx/2, ly/2). For a
 * translation-invariant matrix (⟨s_i s_j⟩ of periodic equilibrium data, a
 * convolutional W Wᵀ) this is the matrix, without its N-fold redundancy: the
 * correlation function G(d), or the range of the coupling W Wᵀ induces. */
kd_status kd_weights_displacement_average(const float *A, int lx, int ly, float *out);

/* ---- Fourier content of a lattice vector ----------------------------------------- */

typedef struct {
    /* Power fraction in the k = 0 (uniform) mode: (Σ v)² / (N Σ v²), in [0, 1];
     * 1 for a uniform vector ("magnetisation-like"). */
    double k0_fraction;
    /* Power fraction in the lowest shell |k| <= 2π/L (k = 0 and the modes with
     * one wave across the lattice). */
    double low_fraction;
    /* Power-weighted mean |k| = Σ_k |k| P(k) / Σ_k P(k), with each component
     * folded into (-π, π]; 0 for a uniform vector. */
    double k_mean;
    /* The mode of largest power (ties: smallest |k|): integer wave numbers
     * (nx, ny) with k = 2π (nx/Lx, ny/Ly), its |k|, and its wavelength 2π/|k|
     * in lattice spacings (INFINITY for k = 0). */
    int nx, ny;
    double k_peak;
    double wavelength;
} kd_weights_modes;

/* Fourier measure of a vector v on an lx × ly periodic lattice (v[y*lx + x];
 * a chain is ly = 1). Uses a separable direct DFT, O(N (lx + ly)), no FFT
 * library. KD_ERR_INVALID if v is zero or non-finite. */
kd_status kd_weights_modes_of(const float *v, int lx, int ly, kd_weights_modes *out);

#ifdef __cplusplus
}
#endif
#endif
