/* Weight analysis: W Wᵀ spectrum, singular values, data correlations,
 * comparisons and Fourier modes (see kadanoff/weights.h). */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/gemm.h"
#include "kadanoff/weights.h"

/* Largest matrix side accepted (a 46341² float matrix would pass 8 GB). */
#define MAX_SIDE 46340

static kd_status check_shape(const char *what, int nv, int nh)
{
    if (nv < 1 || nh < 1 || nv > MAX_SIDE || nh > MAX_SIDE)
        KD_FAIL(KD_ERR_INVALID, "%s: shape %d × %d, expected both sides between 1 and %d", what,
                nv, nh, MAX_SIDE);
    return KD_OK;
}

static kd_status check_finite(const char *what, const float *a, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!isfinite(a[i]))
            KD_FAIL(KD_ERR_NUMERIC, "%s: entry %zu is %g, expected a finite number", what, i,
                    (double)a[i]);
    return KD_OK;
}

kd_status kd_weights_gram(const float *W, int nv, int nh, float *G)
{
    KD_CHECK(check_shape("W Wᵀ", nv, nh));
    /* G = W Wᵀ: upper triangle by ssyrk (C := alpha A Aᵀ + beta C with A = W,
     * n_v × n_h, "no transpose"), then mirrored. */
    kd_blas_serial(); /* single-threaded BLAS: same bits for any --threads */
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, nv, nh, 1.0f, W, nh, 0.0f, G, nv);
    for (int i = 0; i < nv; i++)
        for (int k = 0; k < i; k++)
            G[(size_t)i * (size_t)nv + (size_t)k] = G[(size_t)k * (size_t)nv + (size_t)i];
    return KD_OK;
}

kd_status kd_weights_singular_values(const float *W, int nv, int nh, float *s)
{
    KD_CHECK(check_shape("singular values of W", nv, nh));
    size_t count = (size_t)nv * (size_t)nh;
    KD_CHECK(check_finite("W", W, count));
    float *copy = malloc(count * sizeof *copy);
    if (!copy)
        KD_FAIL(KD_ERR_NOMEM, "singular values: out of memory for a %d × %d copy of W", nv, nh);
    memcpy(copy, W, count * sizeof *copy);
    /* jobz = 'N': singular values only, U and Vᵀ are not referenced (LAPACKE
     * still checks that their leading dimensions are valid for the shape). */
    kd_blas_serial(); /* OpenBLAS's LAPACK threads too */
    lapack_int info = LAPACKE_sgesdd(LAPACK_ROW_MAJOR, 'N', nv, nh, copy, nh, s, NULL, nv, NULL, nh);
    free(copy);
    if (info != 0)
        KD_FAIL(KD_ERR_NUMERIC, "singular values of W (%d × %d): LAPACK sgesdd returned %d%s",
                nv, nh, (int)info, info > 0 ? " (no convergence)" : "");
    return KD_OK;
}

/* The sign convention of weights.h: positive sum, else positive largest entry. */
static void fix_sign(float *U, int n, int k)
{
    double sum = 0;
    int imax = 0;
    float amax = 0;
    for (int i = 0; i < n; i++) {
        float u = U[(size_t)i * (size_t)n + (size_t)k];
        sum += u;
        if (fabsf(u) > amax) {
            amax = fabsf(u);
            imax = i;
        }
    }
    int flip = fabs(sum) >= 1e-4 ? sum < 0 : U[(size_t)imax * (size_t)n + (size_t)k] < 0;
    if (flip)
        for (int i = 0; i < n; i++)
            U[(size_t)i * (size_t)n + (size_t)k] = -U[(size_t)i * (size_t)n + (size_t)k];
}

kd_status kd_weights_eigen(const float *A, int n, float *values, float *vectors)
{
    KD_CHECK(check_shape("symmetric eigenproblem", n, n));
    size_t nn = (size_t)n * (size_t)n;
    KD_CHECK(check_finite("symmetric matrix", A, nn));
    float *a = vectors;
    if (!a && !(a = malloc(nn * sizeof *a)))
        KD_FAIL(KD_ERR_NOMEM, "eigen-decomposition: out of memory for a %d × %d matrix", n, n);
    memcpy(a, A, nn * sizeof *a);
    kd_blas_serial(); /* OpenBLAS's LAPACK threads too */
    lapack_int info = LAPACKE_ssyevd(LAPACK_ROW_MAJOR, vectors ? 'V' : 'N', 'U', n, a, n, values);
    if (info != 0) {
        if (!vectors)
            free(a);
        KD_FAIL(KD_ERR_NUMERIC, "eigen-decomposition (%d × %d): LAPACK ssyevd returned %d%s", n,
                n, (int)info, info > 0 ? " (no convergence)" : "");
    }
    /* ssyevd sorts ascending: reverse the values and the columns. */
    for (int lo = 0, hi = n - 1; lo < hi; lo++, hi--) {
        float t = values[lo];
        values[lo] = values[hi];
        values[hi] = t;
        if (vectors)
            for (int i = 0; i < n; i++) {
                float *row = vectors + (size_t)i * (size_t)n;
                t = row[lo];
                row[lo] = row[hi];
                row[hi] = t;
            }
    }
    if (vectors)
        for (int k = 0; k < n; k++)
            fix_sign(vectors, n, k);
    else
        free(a);
    return KD_OK;
}

void kd_weights_spectrum_free(kd_weights_spectrum *s)
{
    if (!s)
        return;
    free(s->singular);
    free(s->gram);
    free(s->eigenvalues);
    free(s->eigenvectors);
    free(s);
}

kd_status kd_weights_spectrum_new(const float *W, int nv, int nh, kd_weights_spectrum **out)
{
    *out = NULL;
    KD_CHECK(check_shape("weight spectrum", nv, nh));
    kd_weights_spectrum *s = calloc(1, sizeof *s);
    if (!s)
        KD_FAIL(KD_ERR_NOMEM, "weight spectrum: out of memory");
    size_t nn = (size_t)nv * (size_t)nv;
    s->nv = nv;
    s->nh = nh;
    s->nsv = nv < nh ? nv : nh;
    s->singular = malloc((size_t)s->nsv * sizeof *s->singular);
    s->gram = malloc(nn * sizeof *s->gram);
    s->eigenvalues = malloc((size_t)nv * sizeof *s->eigenvalues);
    s->eigenvectors = malloc(nn * sizeof *s->eigenvectors);
    if (!s->singular || !s->gram || !s->eigenvalues || !s->eigenvectors) {
        kd_weights_spectrum_free(s);
        KD_FAIL(KD_ERR_NOMEM, "weight spectrum: out of memory for %d × %d matrices", nv, nv);
    }
    kd_status st = kd_weights_singular_values(W, nv, nh, s->singular);
    if (st == KD_OK)
        st = kd_weights_gram(W, nv, nh, s->gram);
    if (st == KD_OK)
        st = kd_weights_eigen(s->gram, nv, s->eigenvalues, s->eigenvectors);
    if (st != KD_OK) {
        kd_weights_spectrum_free(s);
        return st;
    }
    *out = s;
    return KD_OK;
}

/* Rows per ssyrk block: entries of one block are sums of at most this many ±1
 * products, integers far below 2^24, hence exact in float32. */
#define CORR_BLOCK 4096

kd_status kd_weights_correlation(const int8_t *spins, size_t n, int N, int connected, float *C)
{
    if (n < 1)
        KD_FAIL(KD_ERR_INVALID, "correlation matrix: no configurations given");
    KD_CHECK(check_shape("correlation matrix", N, N));
    const size_t NN = (size_t)N * (size_t)N;
    size_t block = n < CORR_BLOCK ? n : CORR_BLOCK;
    float *S = malloc(block * (size_t)N * sizeof *S);
    float *part = malloc(NN * sizeof *part);
    double *acc = calloc(NN, sizeof *acc);
    double *mean = calloc((size_t)N, sizeof *mean);
    if (!S || !part || !acc || !mean) {
        free(S);
        free(part);
        free(acc);
        free(mean);
        KD_FAIL(KD_ERR_NOMEM, "correlation matrix: out of memory for %d × %d matrices", N, N);
    }
    kd_status st = KD_OK;
    kd_blas_serial(); /* single-threaded BLAS: same bits for any --threads */
    for (size_t r0 = 0; r0 < n && st == KD_OK; r0 += block) {
        size_t rows = n - r0 < block ? n - r0 : block;
        const int8_t *src = spins + r0 * (size_t)N;
        for (size_t p = 0; p < rows * (size_t)N; p++) {
            if (src[p] != 1 && src[p] != -1) {
                st = kd_set_error(KD_ERR_INVALID,
                                  "correlation matrix: configuration %zu, site %zu has spin %d, "
                                  "expected ±1",
                                  r0 + p / (size_t)N, p % (size_t)N, (int)src[p]);
                break;
            }
            S[p] = (float)src[p];
            mean[p % (size_t)N] += src[p];
        }
        if (st != KD_OK)
            break;
        /* part = Sᵀ S (N × N, upper triangle): transpose of the rows × N block. */
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, N, (int)rows, 1.0f, S, N, 0.0f, part,
                    N);
        for (int i = 0; i < N; i++)
            for (int j = i; j < N; j++)
                acc[(size_t)i * (size_t)N + (size_t)j] += part[(size_t)i * (size_t)N + (size_t)j];
    }
    if (st == KD_OK) {
        double inv = 1.0 / (double)n;
        for (int i = 0; i < N; i++)
            mean[i] *= inv;
        for (int i = 0; i < N; i++)
            for (int j = i; j < N; j++) {
                double c = acc[(size_t)i * (size_t)N + (size_t)j] * inv;
                if (connected)
                    c -= mean[i] * mean[j];
                C[(size_t)i * (size_t)N + (size_t)j] = (float)c;
                C[(size_t)j * (size_t)N + (size_t)i] = (float)c;
            }
    }
    free(S);
    free(part);
    free(acc);
    free(mean);
    return st;
}

kd_status kd_weights_compare(const float *A, const float *B, int n, const float *UA,
                             const float *UB, int k, kd_weights_comparison *out)
{
    memset(out, 0, sizeof *out);
    KD_CHECK(check_shape("matrix comparison", n, n));
    const size_t nn = (size_t)n * (size_t)n;
    KD_CHECK(check_finite("first matrix", A, nn));
    KD_CHECK(check_finite("second matrix", B, nn));
    if (UA && UB && (k < 1 || k > n))
        KD_FAIL(KD_ERR_INVALID, "matrix comparison: %d leading eigenvectors requested, expected "
                                "1..%d", k, n);

    /* Frobenius products in double, whole matrix and off-diagonal part. */
    double ab = 0, aa = 0, bb = 0, ab_off = 0, aa_off = 0, bb_off = 0, sa = 0, sb = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double a = A[(size_t)i * (size_t)n + (size_t)j], b = B[(size_t)i * (size_t)n + (size_t)j];
            ab += a * b;
            aa += a * a;
            bb += b * b;
            if (i != j) {
                ab_off += a * b;
                aa_off += a * a;
                bb_off += b * b;
                sa += a;
                sb += b;
            }
        }
    out->cosine = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
    out->cosine_offdiag = aa_off > 0 && bb_off > 0 ? ab_off / sqrt(aa_off * bb_off) : 0;
    /* Pearson: covariance of the off-diagonal entries over their spreads,
     * Σab − (Σa)(Σb)/m with m = n(n−1) entries. */
    double m = (double)n * (double)(n - 1);
    if (m > 0) {
        double cov = ab_off - sa * sb / m, va = aa_off - sa * sa / m, vb = bb_off - sb * sb / m;
        out->pearson_offdiag = va > 0 && vb > 0 ? cov / sqrt(va * vb) : 0;
    }

    if (UA && UB) {
        out->noverlaps = k < KD_WEIGHTS_MAX_OVERLAPS ? k : KD_WEIGHTS_MAX_OVERLAPS;
        out->subspace_k = k;
        double sub = 0;
        for (int p = 0; p < k; p++)
            for (int q = 0; q < k; q++) {
                double d = 0;
                for (int i = 0; i < n; i++)
                    d += (double)UA[(size_t)i * (size_t)n + (size_t)p] *
                         (double)UB[(size_t)i * (size_t)n + (size_t)q];
                sub += d * d;
                if (p == q && p < out->noverlaps)
                    out->overlap[p] = fabs(d);
            }
        out->subspace_overlap = sub / k;
    }
    return KD_OK;
}

kd_status kd_weights_displacement_average(const float *A, int lx, int ly, float *out)
{
    KD_CHECK(check_shape("displacement average", lx, ly));
    const size_t N = (size_t)lx * (size_t)ly;
    if (N > MAX_SIDE)
        KD_FAIL(KD_ERR_INVALID, "displacement average: %zu sites, expected at most %d", N,
                MAX_SIDE);
    for (int py = 0; py < ly; py++)
        for (int px = 0; px < lx; px++) {
            /* displacement of this pixel, made non-negative modulo the lattice */
            int dx = ((px - lx / 2) % lx + lx) % lx, dy = ((py - ly / 2) % ly + ly) % ly;
            double sum = 0;
            for (int y = 0; y < ly; y++)
                for (int x = 0; x < lx; x++) {
                    size_t i = (size_t)y * (size_t)lx + (size_t)x;
                    size_t j = (size_t)((y + dy) % ly) * (size_t)lx + (size_t)((x + dx) % lx);
                    sum += A[i * N + j];
                }
            out[(size_t)py * (size_t)lx + (size_t)px] = (float)(sum / (double)N);
        }
    return KD_OK;
}

/* Fold a wave number n of a period-L axis into (-L/2, L/2]. */
static int fold(int nidx, int L) { return nidx > L / 2 ? nidx - L : nidx; }

kd_status kd_weights_modes_of(const float *v, int lx, int ly, kd_weights_modes *out)
{
    memset(out, 0, sizeof *out);
    KD_CHECK(check_shape("Fourier modes", lx, ly));
    const size_t N = (size_t)lx * (size_t)ly;
    KD_CHECK(check_finite("lattice vector", v, N));
    double norm2 = 0;
    for (size_t p = 0; p < N; p++)
        norm2 += (double)v[p] * (double)v[p];
    if (!(norm2 > 0))
        KD_FAIL(KD_ERR_INVALID, "Fourier modes: the vector is zero");

    /* Separable DFT: first along x for every row, F1[y][nx] = Σ_x v[y][x] e^{-2πi nx x/lx},
     * then along y, F[ny][nx] = Σ_y F1[y][nx] e^{-2πi ny y/ly}. Twiddle
     * factors come from tables indexed by (n·x mod L), so no drift. */
    double *cx = malloc((size_t)lx * sizeof *cx), *sx = malloc((size_t)lx * sizeof *sx);
    double *cy = malloc((size_t)ly * sizeof *cy), *sy = malloc((size_t)ly * sizeof *sy);
    double *re1 = malloc(N * sizeof *re1), *im1 = malloc(N * sizeof *im1);
    double *power = calloc(N, sizeof *power);
    if (!cx || !sx || !cy || !sy || !re1 || !im1 || !power) {
        free(cx), free(sx), free(cy), free(sy), free(re1), free(im1), free(power);
        KD_FAIL(KD_ERR_NOMEM, "Fourier modes: out of memory");
    }
    const double twopi = 6.283185307179586476925286766559;
    for (int x = 0; x < lx; x++) {
        cx[x] = cos(twopi * x / lx);
        sx[x] = sin(twopi * x / lx);
    }
    for (int y = 0; y < ly; y++) {
        cy[y] = cos(twopi * y / ly);
        sy[y] = sin(twopi * y / ly);
    }
    for (int y = 0; y < ly; y++)
        for (int nxi = 0; nxi < lx; nxi++) {
            double re = 0, im = 0;
            for (int x = 0; x < lx; x++) {
                int t = (int)(((long)nxi * x) % lx);
                double val = v[(size_t)y * (size_t)lx + (size_t)x];
                re += val * cx[t];
                im -= val * sx[t];
            }
            re1[(size_t)y * (size_t)lx + (size_t)nxi] = re;
            im1[(size_t)y * (size_t)lx + (size_t)nxi] = im;
        }
    double total = 0;
    for (int nyi = 0; nyi < ly; nyi++)
        for (int nxi = 0; nxi < lx; nxi++) {
            double re = 0, im = 0;
            for (int y = 0; y < ly; y++) {
                int t = (int)(((long)nyi * y) % ly);
                double a = re1[(size_t)y * (size_t)lx + (size_t)nxi];
                double b = im1[(size_t)y * (size_t)lx + (size_t)nxi];
                /* (a + ib)(cos − i sin) */
                re += a * cy[t] + b * sy[t];
                im += b * cy[t] - a * sy[t];
            }
            double pw = re * re + im * im;
            power[(size_t)nyi * (size_t)lx + (size_t)nxi] = pw;
            total += pw;
        }

    double kmin = twopi / (lx > ly ? lx : ly);
    double best = -1, best_k = 0, kmean = 0, low = 0;
    for (int nyi = 0; nyi < ly; nyi++)
        for (int nxi = 0; nxi < lx; nxi++) {
            int fx = fold(nxi, lx), fy = fold(nyi, ly);
            double kx = twopi * fx / lx, ky = twopi * fy / ly;
            double kk = sqrt(kx * kx + ky * ky);
            double pw = power[(size_t)nyi * (size_t)lx + (size_t)nxi];
            kmean += kk * pw;
            if (kk <= kmin * (1 + 1e-9))
                low += pw;
            /* Largest power; among (numerically) equal powers the smallest |k|. */
            if (pw > best * (1 + 1e-9) || (pw >= best * (1 - 1e-9) && kk < best_k)) {
                best = pw;
                best_k = kk;
                out->nx = fx;
                out->ny = fy;
            }
        }
    out->k0_fraction = power[0] / total;
    out->low_fraction = low / total;
    out->k_mean = kmean / total;
    out->k_peak = best_k;
    out->wavelength = best_k > 0 ? twopi / best_k : INFINITY;
    free(cx), free(sx), free(cy), free(sy), free(re1), free(im1), free(power);
    return KD_OK;
}
