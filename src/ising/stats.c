/* Error bars of correlated Monte Carlo averages: binning and the block jackknife. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "kadanoff/observables.h"

kd_status kd_binning(const double *x, size_t n, size_t nbins, double *mean, double *err)
{
    if (!x || !mean || !err)
        KD_FAIL(KD_ERR_INVALID, "binning: no series or no output given");
    if (nbins < 2 || nbins > n)
        KD_FAIL(KD_ERR_INVALID, "binning: %zu bins for %zu samples, expected 2 <= nbins <= n",
                nbins, n);
    /* Sums are taken relative to x[0] so that a constant series gives exactly
     * zero spread (and a well-conditioned sum when fluctuations are small). */
    const double shift = x[0];
    const size_t b = n / nbins, used = b * nbins;
    double total = 0.0;
    for (size_t i = 0; i < n; i++)
        total += x[i] - shift;
    *mean = shift + total / (double)n;

    /* Block means become nearly independent once a block is long compared with
     * τ_int; their scatter then measures the error of the mean including the
     * autocorrelation: err² = Σ_k (B_k - B̄)² / (nbins (nbins - 1)). */
    double bsum = 0.0;
    for (size_t i = 0; i < used; i++)
        bsum += x[i] - shift;
    const double bbar = bsum / (double)used;
    double ss = 0.0;
    for (size_t k = 0; k < nbins; k++) {
        double s = 0.0;
        for (size_t i = k * b; i < (k + 1) * b; i++)
            s += x[i] - shift;
        double d = s / (double)b - bbar;
        ss += d * d;
    }
    *err = sqrt(ss / ((double)nbins * (double)(nbins - 1)));
    return KD_OK;
}

kd_status kd_jackknife(const double *x, size_t n, size_t k, size_t nbins,
                       kd_jackknife_fn f, void *ctx, double *value, double *err)
{
    if (!x || !f || !value || !err)
        KD_FAIL(KD_ERR_INVALID, "jackknife: no data, function or output given");
    if (k == 0)
        KD_FAIL(KD_ERR_INVALID, "jackknife: no primary series (k = 0), expected k >= 1");
    if (nbins < 2 || nbins > n)
        KD_FAIL(KD_ERR_INVALID, "jackknife: %zu blocks for %zu samples, "
                "expected 2 <= nbins <= n", nbins, n);
    if (k > (SIZE_MAX / sizeof(double) - nbins) / (nbins + 3))
        KD_FAIL(KD_ERR_NOMEM, "jackknife: %zu series × %zu blocks is too large", k, nbins);

    /* Layout: block sums [nbins × k], total of used rows [k], shift [k],
     * means [k], leave-one-out estimates [nbins]. */
    const size_t nbuf = (nbins + 3) * k + nbins;
    double *buf = calloc(nbuf, sizeof(double));
    if (!buf)
        KD_FAIL(KD_ERR_NOMEM, "jackknife: cannot allocate %zu doubles", nbuf);
    double *bsum = buf, *used_sum = buf + nbins * k, *shift = used_sum + k, *means = shift + k;
    const size_t b = n / nbins, used = b * nbins;

    /* Sums relative to the first row: constant columns give exactly equal
     * leave-one-out means and hence exactly zero error. */
    for (size_t j = 0; j < k; j++)
        shift[j] = x[j];
    for (size_t blk = 0; blk < nbins; blk++)
        for (size_t i = blk * b; i < (blk + 1) * b; i++)
            for (size_t j = 0; j < k; j++)
                bsum[blk * k + j] += x[i * k + j] - shift[j];
    for (size_t blk = 0; blk < nbins; blk++)
        for (size_t j = 0; j < k; j++)
            used_sum[j] += bsum[blk * k + j];

    /* The estimate uses every sample (trailing rows included); only the error
     * is built from the equal blocks. No bias correction: the jackknife bias
     * estimate is O(1/n), far below the statistical error for any usable n. */
    for (size_t j = 0; j < k; j++) {
        double s = used_sum[j];
        for (size_t i = used; i < n; i++)
            s += x[i * k + j] - shift[j];
        means[j] = shift[j] + s / (double)n;
    }
    *value = f(means, ctx);

    /* Leave-one-block-out estimates f_b = f(means without block b). Their
     * spread is (B-1)/B times smaller than that of independent estimates,
     * which the factor in err² = (B-1)/B Σ_b (f_b - f̄)² undoes. For a linear
     * f this is identical to the binning error; for nonlinear f (variances,
     * ratios) it propagates the errors and correlations of all k means
     * without writing down derivatives. f̄ is accumulated relative to f_0 so
     * identical f_b give exactly zero; two passes keep err accurate when the
     * spread is tiny against |f|. */
    const double nleft = (double)(used - b);
    double *fb = means + k;
    for (size_t blk = 0; blk < nbins; blk++) {
        for (size_t j = 0; j < k; j++)
            means[j] = shift[j] + (used_sum[j] - bsum[blk * k + j]) / nleft;
        fb[blk] = f(means, ctx);
    }
    int finite = isfinite(*value);
    double fsum = 0.0;
    for (size_t blk = 0; blk < nbins; blk++) {
        finite = finite && isfinite(fb[blk]);
        fsum += fb[blk] - fb[0];
    }
    const double B = (double)nbins, fbar = fb[0] + fsum / B;
    double ss = 0.0;
    for (size_t blk = 0; blk < nbins; blk++)
        ss += (fb[blk] - fbar) * (fb[blk] - fbar);
    free(buf);
    if (!finite)
        KD_FAIL(KD_ERR_NUMERIC, "jackknife: the function of the means is not finite "
                "(for all data or with a block left out), expected finite values");
    *err = sqrt((B - 1.0) / B * ss);
    return KD_OK;
}
