/*
 * Hidden-unit activity against Kadanoff block spins: the Pearson correlation
 * of every hidden unit with every block of the matching compression, each
 * unit's best-matching block, and the same statistics for a shuffled pairing
 * of hidden rows and block rows as the noise floor (see kadanoff/rg.h).
 *
 * The question this answers (Mehta & Schwab 2014): does a layer of n_h units
 * behave like the (L/b)² block spins of the same size? A unit that computes a
 * block spin up to the Z2 gauge has |C| = 1 with that block; a unit that
 * computes something global (the magnetisation, say) correlates moderately
 * with every block and matches none in particular.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/gemm.h"
#include "kadanoff/rg.h"
#include "kadanoff/rng.h"

int kd_rg_blockmatch_size(const kd_lattice *fine, int nunits)
{
    if (!fine || nunits < 1 || kd_lattice_validate(fine) != KD_OK)
        return 0;
    const int d = fine->kind == KD_LATTICE_CHAIN ? 1 : 2;
    int best = 0;
    double best_dist = INFINITY;
    for (int b = 2; b <= fine->L / 2; b++) {
        if (fine->L % b)
            continue;
        double dist = fabs(d * log((double)(fine->L / b)) - log((double)nunits));
        /* strict: the smaller b wins a tie (ratios equal up to rounding count
         * as a tie) */
        if (dist < best_dist - 1e-12) {
            best_dist = dist;
            best = b;
        }
    }
    return best;
}

/* Centre the m columns of the n × m row-major x and scale each to unit
 * Euclidean norm, so that C = xᵀy. A column whose values are all equal (tested
 * exactly, not through a rounded variance) is set to 0 and flagged in zero[]. */
static int standardize(double *x, size_t n, int m, unsigned char *zero)
{
    int nzero = 0;
    for (int j = 0; j < m; j++) {
        const double x0 = x[j];
        int constant = 1;
        double mean = 0;
        for (size_t r = 0; r < n; r++) {
            double v = x[r * (size_t)m + (size_t)j];
            constant &= v == x0;
            mean += v - x0; /* shifted by the first value: no cancellation */
        }
        zero[j] = (unsigned char)constant;
        if (constant) {
            for (size_t r = 0; r < n; r++)
                x[r * (size_t)m + (size_t)j] = 0;
            nzero++;
            continue;
        }
        mean = x0 + mean / (double)n;
        double ss = 0;
        for (size_t r = 0; r < n; r++) {
            double v = x[r * (size_t)m + (size_t)j] - mean;
            ss += v * v;
        }
        const double scale = 1.0 / sqrt(ss);
        for (size_t r = 0; r < n; r++)
            x[r * (size_t)m + (size_t)j] = (x[r * (size_t)m + (size_t)j] - mean) * scale;
    }
    return nzero;
}

/* Best matches in the nu × nb correlation matrix C (clamped to [-1, 1] in
 * place): mean and median best |C|, coverage; the maps when given. */
static kd_status analyze(double *C, int nu, int nb, const unsigned char *zero_unit,
                         const kd_rg_blockmatch_maps *maps, double *mean_best,
                         double *median_best, double *coverage)
{
    double *bestabs = malloc((size_t)nu * sizeof *bestabs);
    int *hits = calloc((size_t)nb, sizeof *hits);
    if (!bestabs || !hits) {
        free(bestabs);
        free(hits);
        KD_FAIL(KD_ERR_NOMEM, "block match: out of memory for %d units", nu);
    }
    double sum = 0;
    for (int j = 0; j < nu; j++) {
        double *row = C + (size_t)j * (size_t)nb;
        int arg = -1;
        double mx = 0;
        for (int B = 0; B < nb; B++) {
            /* rounding can push a perfect correlation a few ulps past 1 */
            row[B] = fmax(-1.0, fmin(1.0, row[B]));
            if (!zero_unit[j] && fabs(row[B]) > mx) {
                mx = fabs(row[B]);
                arg = B;
            }
        }
        /* a live unit uncorrelated with every block (all C exactly 0, or only
         * zero-variance blocks) has no best match either */
        bestabs[j] = mx;
        sum += mx;
        if (arg >= 0)
            hits[arg]++;
        if (maps && maps->best)
            maps->best[j] = arg;
        if (maps && maps->best_c)
            maps->best_c[j] = arg >= 0 ? row[arg] : 0.0;
    }
    int covered = 0;
    for (int B = 0; B < nb; B++)
        covered += hits[B] > 0;
    if (maps && maps->block_hits)
        memcpy(maps->block_hits, hits, (size_t)nb * sizeof *hits);
    if (maps && maps->block_best)
        for (int B = 0; B < nb; B++) {
            double mx = 0;
            for (int j = 0; j < nu; j++)
                mx = fmax(mx, fabs(C[(size_t)j * (size_t)nb + (size_t)B]));
            maps->block_best[B] = mx;
        }
    kd_rg_summary su;
    kd_status st = kd_rg_summarize(bestabs, (size_t)nu, &su);
    *mean_best = sum / nu;
    *median_best = su.median;
    *coverage = (double)covered / nb;
    free(bestabs);
    free(hits);
    return st;
}

kd_status kd_rg_blockmatch(const kd_lattice *fine, const int8_t *s, size_t n, const float *hidden,
                           int nunits, int b, kd_rg_block_rule rule, uint64_t seed,
                           const kd_rg_blockmatch_maps *maps, kd_rg_blockmatch_result *out)
{
    if (!fine || !out)
        KD_FAIL(KD_ERR_INVALID, "block match: lattice and output are required");
    kd_lattice coarse;
    KD_CHECK(kd_rg_blockspin_lattice(fine, b, &coarse));
    if (n < 2 || n > (size_t)INT_MAX)
        KD_FAIL(KD_ERR_INVALID, "block match: %zu configurations, expected 2..%d", n, INT_MAX);
    if (nunits < 1 || !s || !hidden)
        KD_FAIL(KD_ERR_INVALID, "block match: %d hidden units, expected >= 1, with spins and "
                                "activities",
                nunits);
    if (rule != KD_RG_BLOCK_MAJORITY && rule != KD_RG_BLOCK_MEAN)
        KD_FAIL(KD_ERR_INVALID, "block match: block rule %d, expected majority (0) or mean (1)",
                (int)rule);
    const size_t N = kd_lattice_size(fine);
    const int nb = (int)kd_lattice_size(&coarse), nu = nunits;
    for (size_t k = 0; k < n * (size_t)nu; k++)
        if (!isfinite(hidden[k]))
            KD_FAIL(KD_ERR_NUMERIC, "block match: activity of unit %zu in configuration %zu is %g, "
                                    "expected a finite number",
                    k % (size_t)nu, k / (size_t)nu, (double)hidden[k]);

    kd_status st = KD_OK;
    double *X = malloc(n * (size_t)nu * sizeof *X);
    double *Y = malloc(n * (size_t)nb * sizeof *Y);
    double *Yp = malloc(n * (size_t)nb * sizeof *Yp);
    double *C = maps && maps->C ? maps->C : malloc((size_t)nu * (size_t)nb * sizeof *C);
    double *Cnull = malloc((size_t)nu * (size_t)nb * sizeof *Cnull);
    int8_t *blk = malloc(n * (size_t)nb);
    unsigned char *zu = malloc((size_t)nu), *zb = malloc((size_t)nb);
    uint32_t *perm = malloc(n * sizeof *perm);
    if (!X || !Y || !Yp || !C || !Cnull || !blk || !zu || !zb || !perm) {
        st = kd_set_error(KD_ERR_NOMEM, "block match: out of memory for %zu configurations × "
                                        "(%d units + %d blocks)",
                          n, nu, nb);
        goto done;
    }

    /* block spins; kd_rg_blockspin checks that every spin is ±1 */
    if ((st = kd_rg_blockspin(fine, s, n, b, seed, 0, blk)) != KD_OK)
        goto done;
    if (rule == KD_RG_BLOCK_MAJORITY) {
        for (size_t k = 0; k < n * (size_t)nb; k++)
            Y[k] = blk[k];
    } else {
        const int Lc = coarse.L, L = fine->L;
        const double inv = 1.0 / (double)(N / (size_t)nb);
        for (size_t r = 0; r < n; r++) {
            const int8_t *sr = s + r * N;
            double *y = Y + r * (size_t)nb;
            memset(y, 0, (size_t)nb * sizeof *y);
            for (size_t i = 0; i < N; i++) {
                int x = (int)(i % (size_t)L), yy = (int)(i / (size_t)L);
                int B = fine->kind == KD_LATTICE_CHAIN ? x / b : (yy / b) * Lc + x / b;
                y[B] += sr[i];
            }
            for (int B = 0; B < nb; B++)
                y[B] *= inv;
        }
    }
    for (size_t k = 0; k < n * (size_t)nu; k++)
        X[k] = hidden[k];

    memset(out, 0, sizeof *out);
    out->n = n;
    out->nunits = nu;
    out->nblocks = nb;
    out->b = b;
    out->rule = rule;
    out->zero_units = standardize(X, n, nu, zu);
    out->zero_blocks = standardize(Y, n, nb, zb);
    out->coverage_random = 1.0 - pow(1.0 - 1.0 / nb, (double)(nu - out->zero_units));

    /* C = Xᵀ Y over the n configurations (columns standardized above) */
    kd_dgemm(CblasTrans, CblasNoTrans, nu, nb, (int)n, 1.0, X, nu, Y, nb, 0.0, C, nb);
    if ((st = analyze(C, nu, nb, zu, maps, &out->mean_best, &out->median_best, &out->coverage)) !=
        KD_OK)
        goto done;

    /* null: hidden row π(r) against block row r, i.e. Yp[π(r)] = Y[r]
     * (one Philox stream: same bits for any thread count) */
    kd_rng rng;
    kd_rng_init(&rng, seed, KD_RG_BLOCKMATCH_NULL_STREAM);
    kd_rng_permutation(&rng, perm, n);
    for (size_t r = 0; r < n; r++)
        memcpy(Yp + (size_t)perm[r] * (size_t)nb, Y + r * (size_t)nb, (size_t)nb * sizeof *Y);
    kd_dgemm(CblasTrans, CblasNoTrans, nu, nb, (int)n, 1.0, X, nu, Yp, nb, 0.0, Cnull, nb);
    {
        double median_null;
        st = analyze(Cnull, nu, nb, zu, NULL, &out->null_mean_best, &median_null,
                     &out->null_coverage);
    }

done:
    free(X);
    free(Y);
    free(Yp);
    if (!(maps && maps->C))
        free(C);
    free(Cnull);
    free(blk);
    free(zu);
    free(zb);
    free(perm);
    return st;
}
