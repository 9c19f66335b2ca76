/* Per-temperature observables (e, |m|, m², c, χ, U_4, G(r)) with jackknife errors. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "kadanoff/observables.h"

/* Primary series handed to the jackknife, one row per configuration. Energies
 * and |m| enter relative to their first value (e0, a0): variances are
 * shift-invariant, and ⟨(e-e0)²⟩ - ⟨e-e0⟩² neither cancels catastrophically
 * when var(e) << e² (low T, large N) nor leaves roundoff when e is constant. */
enum { COL_DE, COL_DE2, COL_DA, COL_DA2, COL_M2, COL_M4, NCOL };

typedef struct {
    double N;     /* number of spins */
    double beta;  /* 1/T (unused when T = 0 or T = inf) */
    double shift; /* e0 or a0, added back to linear estimates */
    int col;      /* column of a linear estimate */
} summary_ctx;

static double f_linear(const double *mean, void *ctx)
{
    const summary_ctx *c = ctx;
    return c->shift + mean[c->col];
}

/* c = N β² (⟨e²⟩ - ⟨e⟩²): the fluctuation–dissipation form of d⟨e⟩/dT.
 * A variance is a nonlinear function of two means, so its error is not the
 * error of either mean; the jackknife propagates both and their correlation. */
static double f_specific_heat(const double *mean, void *ctx)
{
    const summary_ctx *c = ctx;
    return c->N * c->beta * c->beta * (mean[COL_DE2] - mean[COL_DE] * mean[COL_DE]);
}

/* χ = N β (⟨m²⟩ - ⟨|m|⟩²). On a finite lattice at h = 0, ⟨m⟩ = 0 by symmetry
 * (the chain tunnels between ±m), so the usual finite-size χ' subtracts ⟨|m|⟩²;
 * it approaches the true χ below T_c and stays finite through T_c. */
static double f_susceptibility(const double *mean, void *ctx)
{
    const summary_ctx *c = ctx;
    return c->N * c->beta * (mean[COL_DA2] - mean[COL_DA] * mean[COL_DA]);
}

/* U_4 = 1 - ⟨m⁴⟩/(3⟨m²⟩²): 2/3 in an ordered phase, 0 for Gaussian m (high T),
 * nearly size-independent at T_c. A ratio of means: jackknife again. When
 * ⟨m²⟩ = 0 every sample has m = 0 (Gaussian-like limit of a vanishing
 * distribution), and U_4 is reported as 0 instead of 0/0. */
static double f_binder(const double *mean, void *ctx)
{
    (void)ctx;
    double m2 = mean[COL_M2];
    return m2 > 0 ? 1.0 - mean[COL_M4] / (3.0 * m2 * m2) : 0.0;
}

/* Value and jackknife error of f over nbins blocks of the n × k rows in x; a
 * single configuration (nbins < 2) has no spread to measure: error 0. */
static kd_status estimate(const double *x, size_t n, size_t k, size_t nbins,
                          kd_jackknife_fn f, void *ctx, double *value, double *err)
{
    if (nbins >= 2)
        return kd_jackknife(x, n, k, nbins, f, ctx, value, err);
    /* n = 1: the means are the row itself. */
    *value = f(x, ctx);
    *err = 0.0;
    return KD_OK;
}

/* G(r) for one r: the column r of the n × nr matrix. */
typedef struct {
    int r;
} column_ctx;

static double f_column(const double *mean, void *ctx)
{
    return mean[((const column_ctx *)ctx)->r];
}

kd_status kd_observables_summarize(const kd_lattice *lat, double T, const double *e,
                                   const double *m, const double *G, size_t n, int nr,
                                   kd_temp_summary *out, double *G_mean, double *G_err)
{
    KD_CHECK(kd_lattice_validate(lat));
    if (!e || !m || !out)
        KD_FAIL(KD_ERR_INVALID, "summarize: no energy series, magnetisation series or "
                "output given");
    if (n == 0)
        KD_FAIL(KD_ERR_INVALID, "summarize: no configurations (n = 0), expected n >= 1");
    if (isnan(T) || T < 0)
        KD_FAIL(KD_ERR_INVALID, "summarize: temperature T = %g, expected 0 <= T <= inf", T);
    if (nr < 0)
        KD_FAIL(KD_ERR_INVALID, "summarize: nr = %d correlation distances, expected nr >= 0",
                nr);
    if (nr > 0 && (!G || !G_mean || !G_err))
        KD_FAIL(KD_ERR_INVALID, "summarize: nr = %d but no correlation data or output "
                "arrays given", nr);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(e[i]) || !isfinite(m[i]))
            KD_FAIL(KD_ERR_INVALID, "summarize: configuration %zu has e = %g, m = %g, "
                    "expected finite values", i, e[i], m[i]);
        for (int r = 0; r < nr; r++)
            if (!isfinite(G[i * (size_t)nr + (size_t)r]))
                KD_FAIL(KD_ERR_INVALID, "summarize: configuration %zu has G(%d) = %g, "
                        "expected a finite value", i, r, G[i * (size_t)nr + (size_t)r]);
    }
    if (n > SIZE_MAX / sizeof(double) / NCOL)
        KD_FAIL(KD_ERR_NOMEM, "summarize: %zu configurations is too many", n);

    /* Jackknife blocks: 20 when every block holds at least two stored samples
     * (n >= 40), else floor(n/2) blocks of two, but never fewer than 2 blocks
     * while n >= 2 (n = 2, 3: blocks of one). Blocking the already thinned
     * series absorbs the residual correlation between stored samples; 20
     * blocks give a relative error of the error bar of about 1/sqrt(2·19) ≈ 16%.
     * n = 1 has nothing to compare with: all errors are 0. */
    size_t nbins = n >= 40 ? 20 : n / 2;
    if (nbins < 2 && n >= 2)
        nbins = 2;

    double *x = malloc(n * NCOL * sizeof(double));
    if (!x)
        KD_FAIL(KD_ERR_NOMEM, "summarize: cannot allocate %zu doubles", n * NCOL);
    const double e0 = e[0], a0 = fabs(m[0]);
    for (size_t i = 0; i < n; i++) {
        double de = e[i] - e0, da = fabs(m[i]) - a0, m2 = m[i] * m[i];
        double *row = x + i * NCOL;
        row[COL_DE] = de;
        row[COL_DE2] = de * de;
        row[COL_DA] = da;
        row[COL_DA2] = da * da;
        row[COL_M2] = m2;
        row[COL_M4] = m2 * m2;
    }

    /* burn_in, interval, tau_e and acceptance belong to the caller: keep them. */
    kd_temp_summary s = {0};
    s.burn_in = out->burn_in;
    s.interval = out->interval;
    s.tau_e = out->tau_e;
    s.acceptance = out->acceptance;
    s.T = T;
    s.n = n;
    summary_ctx ctx = {.N = (double)kd_lattice_size(lat), .beta = T > 0 ? 1.0 / T : 0.0};
    kd_status st = KD_OK;

    ctx.shift = e0, ctx.col = COL_DE;
    st = estimate(x, n, NCOL, nbins, f_linear, &ctx, &s.e, &s.e_err);
    ctx.shift = a0, ctx.col = COL_DA;
    if (st == KD_OK)
        st = estimate(x, n, NCOL, nbins, f_linear, &ctx, &s.abs_m, &s.abs_m_err);
    ctx.shift = 0, ctx.col = COL_M2;
    if (st == KD_OK)
        st = estimate(x, n, NCOL, nbins, f_linear, &ctx, &s.m2, &s.m2_err);
    /* T = 0: var(e) = 0 in the ground state and β² var(e) → 0 (c ~ β² e^{-2β}·…);
     * T = inf: β = 0. In both limits c = χ = 0 exactly, with no error, and
     * computing them would give inf·0. */
    if (T > 0 && isfinite(T)) {
        if (st == KD_OK)
            st = estimate(x, n, NCOL, nbins, f_specific_heat, &ctx, &s.c, &s.c_err);
        if (st == KD_OK)
            st = estimate(x, n, NCOL, nbins, f_susceptibility, &ctx, &s.chi, &s.chi_err);
    }
    if (st == KD_OK)
        st = estimate(x, n, NCOL, nbins, f_binder, &ctx, &s.binder, &s.binder_err);
    free(x);
    if (st != KD_OK)
        return st;

    /* τ_int of the stored energy series in units of stored samples: ≈ ½ when
     * the sampling interval is long enough for samples to be independent, so
     * the caller can check that the thinning did its job. */
    double tau = 0.5;
    KD_CHECK(kd_tau_int(e, n, 6.0, &tau, NULL, NULL));
    s.tau_e_samples = tau;

    /* G(r): plain means of the per-configuration correlation rows. */
    for (int r = 0; r < nr; r++) {
        column_ctx cc = {r};
        KD_CHECK(estimate(G, n, (size_t)nr, nbins, f_column, &cc, &G_mean[r], &G_err[r]));
    }
    *out = s;
    return KD_OK;
}
