/* Weight analysis: the W Wᵀ spectrum against an independent reference
 * (cyclic Jacobi in double) and against the element-wise mistake, singular
 * values, the data correlation matrix, matrix comparisons and Fourier modes. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kadanoff/kadanoff.h"
#include "kadanoff/weights.h"
#include "testing.h"

static const double PI = 3.14159265358979323846;

/* ---- references ------------------------------------------------------------ */

/* Deterministic uniform numbers in [-1, 1) (splitmix64), independent of the library. */
static uint64_t rng_state = 12345;
static double uniform(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 4503599627370496.0 - 1.0;
}

/* Eigenvalues of a symmetric n × n matrix (double, destroyed) by cyclic Jacobi
 * rotations, sorted descending: slow, obviously correct, independent of LAPACK. */
static void jacobi_eigenvalues(double *a, int n, double *values)
{
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++)
                off += a[p * n + q] * a[p * n + q];
        if (off < 1e-30)
            break;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = a[p * n + q];
                if (fabs(apq) < 1e-300)
                    continue;
                double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < n; k++) { /* columns p, q */
                    double akp = a[k * n + p], akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for (int k = 0; k < n; k++) { /* rows p, q */
                    double apk = a[p * n + k], aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
            }
    }
    for (int i = 0; i < n; i++)
        values[i] = a[i * n + i];
    for (int i = 0; i < n; i++) /* insertion sort, descending */
        for (int j = i; j > 0 && values[j] > values[j - 1]; j--) {
            double t = values[j];
            values[j] = values[j - 1];
            values[j - 1] = t;
        }
}

/* (W Wᵀ)_ik = Σ_j W_ij W_kj in double: the matrix product by its definition. */
static void gram_reference(const float *W, int nv, int nh, double *G)
{
    for (int i = 0; i < nv; i++)
        for (int k = 0; k < nv; k++) {
            double s = 0;
            for (int j = 0; j < nh; j++)
                s += (double)W[i * nh + j] * W[k * nh + j];
            G[i * nv + k] = s;
        }
}

static void random_matrix(float *W, int n) /* entries N-ish(0, 1/3) */
{
    for (int i = 0; i < n; i++)
        W[i] = (float)uniform();
}

/* ---- tests -------------------------------------------------------------------- */

static void test_gram_spectrum(int nv, int nh)
{
    float *W = malloc((size_t)nv * nh * sizeof *W), *G = malloc((size_t)nv * nv * sizeof *G);
    float *lam = malloc((size_t)nv * sizeof *lam), *U = malloc((size_t)nv * nv * sizeof *U);
    double *Gr = malloc((size_t)nv * nv * sizeof *Gr), *ref = malloc((size_t)nv * sizeof *ref);
    random_matrix(W, nv * nh);
    gram_reference(W, nv, nh, Gr);

    kd_test(kd_weights_gram(W, nv, nh, G) == KD_OK, "gram %d×%d", nv, nh);
    double maxdiff = 0, scale = 0;
    for (int i = 0; i < nv * nv; i++) {
        maxdiff = fmax(maxdiff, fabs(G[i] - Gr[i]));
        scale = fmax(scale, fabs(Gr[i]));
    }
    /* float32 sums of nh products: rounding ~ nh · 6e-8 relative to the largest entry */
    kd_test(maxdiff <= 1e-6 * nh * scale, "W Wᵀ (%d×%d) equals Σ_j W_ij W_kj: max |diff| %.3g "
            "(scale %.3g)", nv, nh, maxdiff, scale);

    jacobi_eigenvalues(Gr, nv, ref);
    kd_test(kd_weights_eigen(G, nv, lam, U) == KD_OK, "ssyevd %d×%d", nv, nv);
    double emax = 0;
    for (int k = 0; k < nv; k++)
        emax = fmax(emax, fabs(lam[k] - ref[k]));
    /* ssyevd in float: absolute error ~ n · eps · λ_max */
    kd_test(emax <= 1e-5 * nv * ref[0], "eigenvalues of W Wᵀ (%d×%d) = Jacobi reference: max "
            "|diff| %.3g, λ_max %.4g", nv, nh, emax, ref[0]);
    int sorted = 1;
    for (int k = 1; k < nv; k++)
        sorted &= lam[k] <= lam[k - 1];
    kd_test(sorted, "eigenvalues sorted descending");

    /* G u_k = λ_k u_k, unit norm, Σ_i u_ik >= 0 (sign convention) */
    double resid = 0, norm_err = 0;
    int sign_ok = 1;
    for (int k = 0; k < nv; k++) {
        double nrm = 0, sum = 0;
        for (int i = 0; i < nv; i++) {
            double gu = 0;
            for (int j = 0; j < nv; j++)
                gu += (double)G[i * nv + j] * U[j * nv + k];
            resid = fmax(resid, fabs(gu - lam[k] * U[i * nv + k]));
            nrm += (double)U[i * nv + k] * U[i * nv + k];
            sum += U[i * nv + k];
        }
        norm_err = fmax(norm_err, fabs(nrm - 1));
        if (fabs(sum) >= 1e-4 && sum < 0)
            sign_ok = 0;
    }
    kd_test(resid <= 1e-5 * nv * ref[0], "G u = λ u: max residual %.3g", resid);
    kd_test(norm_err <= 1e-5, "eigenvectors have unit norm: max |‖u‖² - 1| %.3g", norm_err);
    kd_test(sign_ok, "eigenvectors have positive sums");

    /* Singular values² = the nonzero eigenvalues of W Wᵀ; the rest vanish. */
    int ns = nv < nh ? nv : nh;
    float *s = malloc((size_t)ns * sizeof *s);
    kd_test(kd_weights_singular_values(W, nv, nh, s) == KD_OK, "sgesdd %d×%d", nv, nh);
    double sdiff = 0, zero = 0;
    for (int k = 0; k < ns; k++)
        sdiff = fmax(sdiff, fabs((double)s[k] * s[k] - ref[k]));
    for (int k = ns; k < nv; k++)
        zero = fmax(zero, fabs(lam[k]));
    kd_test(sdiff <= 1e-5 * nv * ref[0], "σ_k² = λ_k(W Wᵀ) for %d×%d: max |diff| %.3g", nv, nh,
            sdiff);
    kd_test(zero <= 1e-5 * nv * ref[0], "the %d eigenvalues beyond rank %d vanish: max %.3g",
            nv - ns, ns, zero);

    /* The spectrum object bundles the same numbers. */
    kd_weights_spectrum *sp = NULL;
    kd_test(kd_weights_spectrum_new(W, nv, nh, &sp) == KD_OK && sp->nsv == ns &&
                sp->eigenvalues[0] == lam[0] && sp->singular[0] == s[0],
            "kd_weights_spectrum_new agrees with the separate calls");
    kd_weights_spectrum_free(sp);
    free(s);
    free(W), free(G), free(lam), free(U), free(Gr), free(ref);
}

/* The public reproduction of Iso et al. computed `W * W.T` in NumPy: the
 * element-wise product W_ij W_ji of a square W with its transpose. For
 * W = [[1, 1], [0, 1]]: W Wᵀ = [[2, 1], [1, 1]] with eigenvalues (3 ± √5)/2,
 * but W ∘ Wᵀ = identity with eigenvalues 1, 1. */
static void test_not_elementwise(void)
{
    const float W[4] = {1, 1, 0, 1};
    float G[4], lam[2], U[4];
    kd_weights_gram(W, 2, 2, G);
    kd_test(G[0] == 2 && G[1] == 1 && G[2] == 1 && G[3] == 1, "W Wᵀ of [[1,1],[0,1]] is "
            "[[2,1],[1,1]] (got [[%g,%g],[%g,%g]])", G[0], G[1], G[2], G[3]);
    kd_weights_eigen(G, 2, lam, U);
    kd_test_abs(lam[0], (3 + sqrt(5.0)) / 2, 1e-6, "λ_1(W Wᵀ) = (3+√5)/2");
    kd_test_abs(lam[1], (3 - sqrt(5.0)) / 2, 1e-6, "λ_2(W Wᵀ) = (3-√5)/2");
    kd_test(fabs(lam[0] - 1) > 0.5 && fabs(lam[1] - 1) > 0.5,
            "spectrum differs from the element-wise W ∘ Wᵀ (eigenvalues 1, 1)");
    /* trace(W Wᵀ) = ‖W‖_F² = 3, trace(W ∘ Wᵀ) = Σ W_ii² = 2 */
    kd_test_abs(lam[0] + lam[1], 3, 1e-6, "Σλ = ‖W‖_F² (the element-wise product would give 2)");

    /* Larger random square case: the element-wise spectrum is far off. */
    enum { n = 10 };
    float A[n * n], GA[n * n], la[n];
    double E[n * n], le[n];
    random_matrix(A, n * n);
    kd_weights_gram(A, n, n, GA);
    kd_weights_eigen(GA, n, la, NULL);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            E[i * n + j] = (double)A[i * n + j] * A[j * n + i];
    jacobi_eigenvalues(E, n, le);
    double d = 0;
    for (int k = 0; k < n; k++)
        d = fmax(d, fabs(la[k] - le[k]));
    kd_test(d > 0.5, "random 10×10: spectra of W Wᵀ and W ∘ Wᵀ differ by %.3g", d);
}

/* Householder reflection I - 2vvᵀ/|v|² applied to the columns (left) of M (n×m). */
static void reflect_left(double *M, int n, int m)
{
    double v[16], vv = 0;
    for (int i = 0; i < n; i++) {
        v[i] = uniform();
        vv += v[i] * v[i];
    }
    for (int c = 0; c < m; c++) {
        double d = 0;
        for (int i = 0; i < n; i++)
            d += v[i] * M[i * m + c];
        for (int i = 0; i < n; i++)
            M[i * m + c] -= 2 * d / vv * v[i];
    }
}

/* A W with known singular values 1, 0.3, 1e-4 (rotated so it is not diagonal):
 * the SVD of W resolves 1e-4 to percent accuracy, which √λ(W Wᵀ) in float32
 * (resolution ~ sqrt(eps) ≈ 3e-4) cannot. */
static void test_singular_small(void)
{
    enum { nv = 6, nh = 3 };
    const double sv[3] = {1, 0.3, 1e-4};
    double M[nv * nh] = {0};
    for (int k = 0; k < nh; k++)
        M[k * nh + k] = sv[k];
    reflect_left(M, nv, nh);
    reflect_left(M, nv, nh);
    /* right rotation: reflect the transpose */
    double T[nh * nv];
    for (int i = 0; i < nv; i++)
        for (int j = 0; j < nh; j++)
            T[j * nv + i] = M[i * nh + j];
    reflect_left(T, nh, nv);
    float W[nv * nh], s[nh];
    for (int i = 0; i < nv; i++)
        for (int j = 0; j < nh; j++)
            W[i * nh + j] = (float)T[j * nv + i];
    kd_test(kd_weights_singular_values(W, nv, nh, s) == KD_OK, "sgesdd on a rotated diagonal");
    kd_test_rel(s[0], 1, 1e-5, "σ_1 = 1");
    kd_test_rel(s[1], 0.3, 1e-5, "σ_2 = 0.3");
    kd_test_rel(s[2], 1e-4, 2e-2, "σ_3 = 1e-4 (float32 rounding of W: 6e-8 / 1e-4)");
}

static void test_correlation(void)
{
    /* Three configurations of four spins: two all-up, one Néel.
     * ⟨s_i s_j⟩ = 1 for i, j of equal parity, (1+1-1)/3 = 1/3 otherwise.
     * Means: ⟨s_0⟩ = ⟨s_2⟩ = 1, ⟨s_1⟩ = ⟨s_3⟩ = 1/3; connected C_11 = 1 - 1/9. */
    const int8_t s[12] = {1, 1, 1, 1, 1, 1, 1, 1, 1, -1, 1, -1};
    float C[16], K[16];
    kd_test(kd_weights_correlation(s, 3, 4, 0, C) == KD_OK, "correlation of 3 configurations");
    int ok = 1;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            ok &= fabs(C[i * 4 + j] - ((i + j) % 2 ? 1.0 / 3 : 1.0)) < 1e-7;
    kd_test(ok, "⟨s_i s_j⟩ = 1 (same parity) or 1/3 (different parity)");
    kd_weights_correlation(s, 3, 4, 1, K);
    kd_test_abs(K[0], 0, 1e-7, "connected C_00 = 1 - 1·1 = 0");
    kd_test_abs(K[1], 0, 1e-7, "connected C_01 = 1/3 - 1·(1/3) = 0");
    kd_test_abs(K[5], 8.0 / 9, 1e-7, "connected C_11 = 1 - 1/9");
    kd_test_abs(K[7], 8.0 / 9, 1e-7, "connected C_13 = 1 - 1/9");

    /* More rows than one ssyrk block (4096): compare with the direct sum. */
    enum { n = 9000, N = 12 };
    int8_t *big = malloc((size_t)n * N);
    for (size_t i = 0; i < (size_t)n * N; i++)
        big[i] = uniform() < 0.3 ? 1 : -1; /* biased: nonzero means */
    float Cb[N * N];
    kd_test(kd_weights_correlation(big, n, N, 0, Cb) == KD_OK, "correlation of 9000 rows");
    double maxd = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            long sum = 0;
            for (int c = 0; c < n; c++)
                sum += big[c * N + i] * big[c * N + j];
            maxd = fmax(maxd, fabs(Cb[i * N + j] - (double)sum / n));
        }
    /* exact integer sums; only the final float conversion rounds (6e-8) */
    kd_test(maxd <= 1.2e-7, "blocked ssyrk correlation equals the direct sum: max |diff| %.3g", maxd);
    big[5 * N + 3] = 0;
    kd_test(kd_weights_correlation(big, n, N, 0, Cb) == KD_ERR_INVALID, "a spin 0 is refused");
    kd_clear_error();
    free(big);
}

static void test_compare(void)
{
    enum { n = 8 };
    float A[n * n], B[n * n], Bs[n * n], Bn[n * n], UA[n * n], UB[n * n], la[n], lb[n];
    float W[n * 5];
    random_matrix(W, n * 5);
    kd_weights_gram(W, n, 5, A);
    for (int i = 0; i < n * n; i++) {
        Bs[i] = 3 * A[i];
        Bn[i] = -A[i];
    }
    kd_weights_eigen(A, n, la, UA);
    kd_weights_comparison cmp;
    kd_test(kd_weights_compare(A, Bs, n, UA, UA, 4, &cmp) == KD_OK, "compare A with 3A");
    kd_test_abs(cmp.cosine, 1, 1e-12, "cosine(A, 3A) = 1 (scale invariant)");
    kd_test_abs(cmp.pearson_offdiag, 1, 1e-12, "Pearson(A, 3A) = 1");
    kd_test_abs(cmp.subspace_overlap, 1, 1e-6, "subspace overlap of identical eigenvectors = 1");
    kd_test_abs(cmp.overlap[0], 1, 1e-6, "leading eigenvector overlap = 1");
    kd_weights_compare(A, Bn, n, NULL, NULL, 0, &cmp);
    kd_test_abs(cmp.cosine, -1, 1e-12, "cosine(A, -A) = -1");

    /* Rank-one matrices A = uuᵀ, B = vvᵀ: cosine = (u·v)², overlap |u·v|. */
    double u[n], v[n], nu = 0, nvv = 0, uv = 0;
    for (int i = 0; i < n; i++) {
        u[i] = uniform();
        v[i] = uniform();
    }
    for (int i = 0; i < n; i++) {
        nu += u[i] * u[i];
        nvv += v[i] * v[i];
    }
    for (int i = 0; i < n; i++) {
        u[i] /= sqrt(nu);
        v[i] /= sqrt(nvv);
    }
    for (int i = 0; i < n; i++)
        uv += u[i] * v[i];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            A[i * n + j] = (float)(u[i] * u[j]);
            B[i * n + j] = (float)(v[i] * v[j]);
        }
    kd_weights_eigen(A, n, la, UA);
    kd_weights_eigen(B, n, lb, UB);
    kd_weights_compare(A, B, n, UA, UB, 1, &cmp);
    kd_test_abs(cmp.cosine, uv * uv, 1e-6, "cosine(uuᵀ, vvᵀ) = (u·v)²");
    kd_test_abs(cmp.overlap[0], fabs(uv), 1e-5, "leading overlap = |u·v|");
    kd_test_abs(cmp.subspace_overlap, uv * uv, 1e-5, "1-dimensional subspace overlap = (u·v)²");
    kd_test(kd_weights_compare(A, B, n, UA, UB, n + 1, &cmp) == KD_ERR_INVALID,
            "k > n is refused");
    kd_clear_error();
}

static void test_modes(void)
{
    enum { L = 10 };
    const double twopi = 2 * PI;
    float v[L * L];
    kd_weights_modes m;

    for (int i = 0; i < L * L; i++)
        v[i] = 0.1f;
    kd_test(kd_weights_modes_of(v, L, L, &m) == KD_OK, "modes of a uniform vector");
    kd_test_abs(m.k0_fraction, 1, 1e-12, "uniform: k = 0 fraction 1");
    kd_test_abs(m.low_fraction, 1, 1e-12, "uniform: lowest-shell fraction 1");
    kd_test_abs(m.k_mean, 0, 1e-12, "uniform: mean |k| = 0");
    kd_test(isinf(m.wavelength) && m.nx == 0 && m.ny == 0, "uniform: peak at k = 0, infinite "
            "wavelength (got %g)", m.wavelength);

    for (int y = 0; y < L; y++)
        for (int x = 0; x < L; x++)
            v[y * L + x] = (float)cos(twopi * x / L);
    kd_weights_modes_of(v, L, L, &m);
    kd_test_abs(m.k0_fraction, 0, 1e-12, "cos(2πx/L): no k = 0 power");
    kd_test_abs(m.low_fraction, 1, 1e-9, "cos(2πx/L): all power in the lowest shell");
    kd_test_abs(m.k_mean, twopi / L, 1e-9, "cos(2πx/L): mean |k| = 2π/L");
    kd_test_abs(m.wavelength, L, 1e-9, "cos(2πx/L): wavelength L");
    kd_test(abs(m.nx) == 1 && m.ny == 0, "cos(2πx/L): peak (nx, ny) = (±1, 0), got (%d, %d)",
            m.nx, m.ny);

    for (int y = 0; y < L; y++)
        for (int x = 0; x < L; x++)
            v[y * L + x] = (float)cos(twopi * 3 * y / L + 0.4);
    kd_weights_modes_of(v, L, L, &m);
    kd_test_abs(m.wavelength, L / 3.0, 1e-9, "cos(6πy/L + φ): wavelength L/3");
    kd_test_abs(m.low_fraction, 0, 1e-9, "cos(6πy/L + φ): nothing in the lowest shell");

    for (int y = 0; y < L; y++)
        for (int x = 0; x < L; x++)
            v[y * L + x] = (x + y) % 2 ? -1.0f : 1.0f;
    kd_weights_modes_of(v, L, L, &m);
    kd_test_abs(m.k_peak, PI * sqrt(2.0), 1e-9, "Néel pattern: |k| = π√2");

    float chain[16];
    for (int x = 0; x < 16; x++)
        chain[x] = (float)sin(twopi * 2 * x / 16);
    kd_weights_modes_of(chain, 16, 1, &m);
    kd_test_abs(m.wavelength, 8, 1e-9, "chain sin(4πx/16): wavelength 8");

    memset(v, 0, sizeof v);
    kd_test(kd_weights_modes_of(v, L, L, &m) == KD_ERR_INVALID, "a zero vector is refused");
    kd_clear_error();
}

/* A translation-invariant matrix A_ij = f(r_j - r_i) on a 4 × 3 torus is
 * returned as f, centred; a matrix that is not invariant gives the average. */
static void test_displacement_average(void)
{
    enum { lx = 4, ly = 3, N = lx * ly };
    float A[N * N], out[N], f[N];
    for (int d = 0; d < N; d++)
        f[d] = (float)(d * d % 7) - 2.5f;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            int dx = ((j % lx) - (i % lx) + lx) % lx, dy = ((j / lx) - (i / lx) + ly) % ly;
            A[i * N + j] = f[dy * lx + dx];
        }
    kd_test(kd_weights_displacement_average(A, lx, ly, out) == KD_OK, "displacement average");
    int ok = 1;
    for (int py = 0; py < ly; py++)
        for (int px = 0; px < lx; px++) {
            int dx = ((px - lx / 2) % lx + lx) % lx, dy = ((py - ly / 2) % ly + ly) % ly;
            ok &= fabsf(out[py * lx + px] - f[dy * lx + dx]) < 1e-6f;
        }
    kd_test(ok, "translation-invariant matrix: the average is f(d), d = 0 at the centre");
    kd_test(out[(ly / 2) * lx + lx / 2] == f[0], "centre pixel is d = 0");
    /* identity: 1 at d = 0, 0 elsewhere */
    memset(A, 0, sizeof A);
    for (int i = 0; i < N; i++)
        A[i * N + i] = 1;
    kd_weights_displacement_average(A, lx, ly, out);
    double s = 0;
    for (int p = 0; p < N; p++)
        s += out[p];
    kd_test(out[(ly / 2) * lx + lx / 2] == 1 && s == 1, "identity: a single 1 at d = 0");
}

static void test_errors(void)
{
    float W[4] = {1, 2, 3, NAN}, s[2], G[4];
    kd_test(kd_weights_singular_values(W, 2, 2, s) == KD_ERR_NUMERIC, "NaN in W: KD_ERR_NUMERIC");
    kd_test(kd_weights_eigen(W, 2, s, G) == KD_ERR_NUMERIC, "NaN in A: KD_ERR_NUMERIC");
    kd_test(kd_weights_gram(W, 0, 2, G) == KD_ERR_INVALID, "nv = 0: KD_ERR_INVALID");
    kd_clear_error();
}

int main(void)
{
    test_gram_spectrum(12, 7);
    test_gram_spectrum(5, 9);
    test_gram_spectrum(36, 36);
    test_not_elementwise();
    test_singular_small();
    test_correlation();
    test_compare();
    test_modes();
    test_displacement_average();
    test_errors();
    return kd_test_done();
}
