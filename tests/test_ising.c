/*
 * Ising lattices and Monte Carlo samplers, checked against exact results:
 *  - detailed balance of the single-site reference kernels, and stationarity of
 *    a whole checkerboard sweep, by exact enumeration of a 3×3 torus;
 *  - the fast kernels' tables equal the reference probabilities;
 *  - every algorithm's empirical state distribution on a 3×3 lattice matches
 *    e^{-βH}/Z (chi-square over all 512 states);
 *  - ⟨e⟩ and c agree with Kaufman's exact finite torus (2D) and the transfer
 *    matrix (1D) within error bars that account for autocorrelation.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ising/sampler_internal.h"
#include "kadanoff/kadanoff.h"
#include "testing.h"

static void config_from_bits(int8_t *s, size_t n, unsigned bits)
{
    for (size_t i = 0; i < n; i++)
        s[i] = (bits >> i) & 1u ? 1 : -1;
}

static unsigned bits_from_config(const int8_t *s, size_t n)
{
    unsigned b = 0;
    for (size_t i = 0; i < n; i++)
        b |= (unsigned)(s[i] > 0) << i;
    return b;
}

/* Boltzmann weights of all 2^N states, normalised. */
static double *boltzmann(const kd_lattice *lat, double beta)
{
    size_t n = kd_lattice_size(lat), ns = (size_t)1 << n;
    double *p = malloc(ns * sizeof *p), z = 0, emin = INFINITY;
    int8_t s[32];
    for (size_t b = 0; b < ns; b++) {
        config_from_bits(s, n, (unsigned)b);
        p[b] = kd_ising_energy(lat, s) * (double)n;
        if (p[b] < emin)
            emin = p[b];
    }
    for (size_t b = 0; b < ns; b++)
        z += (p[b] = exp(-beta * (p[b] - emin)));
    for (size_t b = 0; b < ns; b++)
        p[b] /= z;
    return p;
}

static void test_detailed_balance(void)
{
    const kd_lattice lats[] = {
        {KD_LATTICE_SQUARE, 3, KD_BOUNDARY_PERIODIC, 1.0, 0.3},
        {KD_LATTICE_SQUARE, 3, KD_BOUNDARY_OPEN, -0.7, 0.5},
        {KD_LATTICE_CHAIN, 6, KD_BOUNDARY_PERIODIC, 1.2, -0.4},
    };
    const double beta = 0.45;
    for (size_t li = 0; li < 3; li++) {
        const kd_lattice *lat = &lats[li];
        size_t n = kd_lattice_size(lat), ns = (size_t)1 << n;
        double *pi = boltzmann(lat, beta);
        for (int algo = 0; algo < 2; algo++) {
            /* π(s) P(s→s^i) = π(s^i) P(s^i→s) for every state and site: exact up
             * to rounding of exp(), so 1e-12 relative. */
            double worst = 0;
            int8_t s[32], t[32];
            for (size_t b = 0; b < ns; b++)
                for (size_t i = 0; i < n; i++) {
                    config_from_bits(s, n, (unsigned)b);
                    memcpy(t, s, n);
                    t[i] = (int8_t)-t[i];
                    double fwd = pi[b] * kd_ising_flip_probability(lat, s, i, beta, algo);
                    double bwd = pi[bits_from_config(t, n)] *
                                 kd_ising_flip_probability(lat, t, i, beta, algo);
                    double rel = fabs(fwd - bwd) / fmax(fwd, 1e-300);
                    if (rel > worst)
                        worst = rel;
                }
            kd_test(worst < 1e-12, "%s detailed balance, lattice %zu: worst rel. violation %.2e",
                    kd_algorithm_name(algo), li, worst);

            /* Stationarity of one full checkerboard sweep: π T = π, where T is
             * the product of the single-site kernels in the sweep's order. */
            double *v = malloc(ns * sizeof *v), *w = malloc(ns * sizeof *w);
            memcpy(v, pi, ns * sizeof *v);
            int rows = lat->kind == KD_LATTICE_SQUARE ? lat->L : 1;
            for (int parity = 0; parity < 2; parity++)
                for (int y = 0; y < rows; y++)
                    for (int x = (y + parity) & 1; x < lat->L; x += 2) {
                        size_t i = (size_t)y * (size_t)lat->L + (size_t)x;
                        memset(w, 0, ns * sizeof *w);
                        for (size_t b = 0; b < ns; b++) {
                            config_from_bits(s, n, (unsigned)b);
                            double pf = kd_ising_flip_probability(lat, s, i, beta, algo);
                            w[b] += v[b] * (1 - pf);
                            w[b ^ ((size_t)1 << i)] += v[b] * pf;
                        }
                        memcpy(v, w, ns * sizeof *v);
                    }
            double dev = 0;
            for (size_t b = 0; b < ns; b++)
                dev = fmax(dev, fabs(v[b] - pi[b]) / pi[b]);
            kd_test(dev < 1e-11, "%s sweep leaves e^{-βH} invariant, lattice %zu: max rel dev %.2e",
                    kd_algorithm_name(algo), li, dev); /* 18 sequential products of rounding */
            free(v);
            free(w);
        }
        free(pi);
    }
}

/* The fast kernels' tables are the reference probabilities. */
static void test_tables_match_reference(void)
{
    kd_lattice lat = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_OPEN, 0.8, -0.3};
    const double T = 1.7;
    for (int algo = 0; algo < 2; algo++) {
        kd_sampler *S;
        kd_sampler_new(&S, &lat, T, (kd_algorithm)algo, 1, 0);
        int8_t s[16];
        int bad = 0;
        kd_rng r;
        kd_rng_init(&r, 5, 5);
        for (int trial = 0; trial < 200; trial++) {
            for (int i = 0; i < 16; i++)
                s[i] = kd_rng_spin(&r);
            for (size_t i = 0; i < 16; i++) {
                int sum = 0;
                for (int k = 0; k < 4; k++)
                    sum += S->nbr[4 * i + k] == 16 ? 0 : s[S->nbr[4 * i + k]];
                double p_ref = kd_ising_flip_probability(&lat, s, i, 1 / T, algo);
                double p_tab = algo == KD_ALGO_HEATBATH
                                   ? (s[i] > 0 ? 1 - ldexp((double)S->up[sum + 4], -32)
                                               : ldexp((double)S->up[sum + 4], -32))
                                   : ldexp((double)S->accept[(s[i] + 1) / 2][sum + 4], -32);
                /* thresholds are probabilities truncated to 32 bits */
                if (fabs(p_ref - p_tab) > 0x1p-31)
                    bad++;
            }
        }
        kd_test(bad == 0, "%s fast-kernel table equals reference probabilities (%d mismatches)",
                kd_algorithm_name(algo), bad);
        kd_sampler_free(S);
    }
}

/* Empirical distribution over all 512 states of a 3×3 lattice vs e^{-βH}/Z. */
static void test_state_histogram(kd_algorithm algo, kd_lattice lat, double T)
{
    size_t n = kd_lattice_size(&lat), ns = (size_t)1 << n;
    double *pi = boltzmann(&lat, 1 / T);
    long *count = calloc(ns, sizeof *count);
    kd_sampler *S;
    kd_status st = kd_sampler_new(&S, &lat, T, algo, 42, 7);
    if (!kd_test(st == KD_OK, "sampler_new for histogram (%s)", kd_last_error()))
        return;
    const long nsamples = 400000, spacing = 4;
    kd_sampler_randomize(S);
    kd_sampler_sweep(S, 100);
    double *e = malloc((size_t)nsamples * sizeof *e);
    for (long k = 0; k < nsamples; k++) {
        kd_sampler_sweep(S, spacing);
        count[bits_from_config(kd_sampler_spins(S), n)]++;
        e[k] = kd_ising_energy(&lat, kd_sampler_spins(S));
    }
    double tau;
    int reliable;
    kd_tau_int(e, (size_t)nsamples, 6.0, &tau, NULL, &reliable);
    /* Pearson chi-square over states with expected count >= 5; for independent
     * samples it has mean dof and sd sqrt(2 dof). Correlated samples inflate it
     * by about 2τ_int, so the bound is (dof + 5 sd) · max(1, 2τ). */
    double chi2 = 0;
    long dof = -1;
    for (size_t b = 0; b < ns; b++) {
        double expct = pi[b] * (double)nsamples;
        if (expct < 5)
            continue;
        chi2 += ((double)count[b] - expct) * ((double)count[b] - expct) / expct;
        dof++;
    }
    double bound = ((double)dof + 5 * sqrt(2.0 * (double)dof)) * fmax(1.0, 2 * tau);
    kd_test(chi2 < bound, "%s state histogram on %s L=%d J=%g h=%g T=%g: chi2 %.1f, dof %ld, τ %.2f, bound %.1f",
            kd_algorithm_name(algo), kd_lattice_kind_name(lat.kind), lat.L, lat.J, lat.field, T,
            chi2, dof, tau, bound);
    free(e);
    free(count);
    free(pi);
    kd_sampler_free(S);
}

/* Means of e and e² for the heat capacity by jackknife. */
static double heat_capacity_fn(const double *m, void *ctx)
{
    const double *nb2 = ctx; /* N β² */
    return nb2[0] * (m[1] - m[0] * m[0]);
}

/* Run a chain, measuring e every sweep; compare ⟨e⟩ and c with exact values. */
static void test_against_exact(kd_algorithm algo, kd_lattice lat, double T, kd_thermo exact,
                               long sweeps)
{
    kd_sampler *S;
    if (!kd_test(kd_sampler_new(&S, &lat, T, algo, 2024, 1) == KD_OK, "sampler_new: %s",
                 kd_last_error()))
        return;
    kd_sampler_sweep(S, 2000); /* from a cold start: τ here is at most tens of sweeps */
    double *x = malloc(2 * (size_t)sweeps * sizeof *x), *e = malloc((size_t)sweeps * sizeof *e);
    for (long k = 0; k < sweeps; k++) {
        kd_sampler_sweep(S, 1);
        e[k] = kd_ising_energy(&lat, kd_sampler_spins(S));
        x[2 * k] = e[k];
        x[2 * k + 1] = e[k] * e[k];
    }
    /* 50 bins of sweeps/50 ≥ 2000 sweeps each, far longer than τ_int, so bin
     * means are independent and the binning/jackknife errors include the
     * autocorrelation. */
    double mean, err, c, c_err, tau;
    int reliable;
    kd_binning(e, (size_t)sweeps, 50, &mean, &err);
    double nb2 = (double)kd_lattice_size(&lat) / (T * T);
    kd_jackknife(x, (size_t)sweeps, 2, 50, heat_capacity_fn, &nb2, &c, &c_err);
    kd_tau_int(e, (size_t)sweeps, 6.0, &tau, NULL, &reliable);
    char what[160];
    /* 4σ: about 30 such comparisons run; P(|z| > 4) = 6e-5 each. */
    snprintf(what, sizeof what, "%s %s %s L=%d h=%g T=%.4g ⟨e⟩ (τ_int %.1f sweeps)",
             kd_algorithm_name(algo), kd_boundary_name(lat.boundary), kd_lattice_kind_name(lat.kind),
             lat.L, lat.field, T, tau);
    kd_test_sigma(mean, err, exact.e, 4.0, what);
    snprintf(what, sizeof what, "%s %s %s L=%d h=%g T=%.4g c", kd_algorithm_name(algo),
             kd_boundary_name(lat.boundary), kd_lattice_kind_name(lat.kind), lat.L, lat.field, T);
    kd_test_sigma(c, c_err, exact.c, 4.0, what);
    free(x);
    free(e);
    kd_sampler_free(S);
}

static void test_square_vs_kaufman(void)
{
    const double temps[] = {1.8, 2.269185314213022, 3.0};
    for (int algo = 0; algo < 3; algo++)
        for (int t = 0; t < 3; t++) {
            kd_lattice lat = {KD_LATTICE_SQUARE, 8, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
            kd_thermo ex;
            kd_kaufman_torus(8, 1.0, temps[t], &ex);
            test_against_exact((kd_algorithm)algo, lat, temps[t], ex, 100000);
        }
    /* antiferromagnet on an even torus maps to the ferromagnet exactly */
    kd_lattice af = {KD_LATTICE_SQUARE, 6, KD_BOUNDARY_PERIODIC, -1.0, 0.0};
    kd_thermo ex;
    kd_kaufman_torus(6, 1.0, 2.5, &ex);
    test_against_exact(KD_ALGO_WOLFF, af, 2.5, ex, 100000);
    test_against_exact(KD_ALGO_METROPOLIS, af, 2.5, ex, 100000);
}

static void test_field_and_open_vs_enumeration(void)
{
    /* 4×4 open lattice in a field: 2^16 states, enumerable. */
    kd_lattice lat = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_OPEN, 1.0, 0.25};
    kd_thermo ex;
    kd_enumerate_exact(&lat, 2.0, &ex);
    test_against_exact(KD_ALGO_METROPOLIS, lat, 2.0, ex, 100000);
    test_against_exact(KD_ALGO_HEATBATH, lat, 2.0, ex, 100000);
}

static void test_chain_vs_transfer_matrix(void)
{
    for (int algo = 0; algo < 3; algo++) {
        double h = algo == KD_ALGO_WOLFF ? 0.0 : 0.3;
        kd_lattice lat = {KD_LATTICE_CHAIN, 32, KD_BOUNDARY_PERIODIC, 1.0, h};
        kd_thermo ex;
        kd_chain_exact(32, KD_BOUNDARY_PERIODIC, 1.0, h, 1.2, &ex);
        test_against_exact((kd_algorithm)algo, lat, 1.2, ex, 100000);
        lat.boundary = KD_BOUNDARY_OPEN;
        kd_chain_exact(32, KD_BOUNDARY_OPEN, 1.0, h, 1.2, &ex);
        test_against_exact((kd_algorithm)algo, lat, 1.2, ex, 100000);
    }
    /* correlation function of the periodic chain at h = 0 vs (t^r + t^{N-r})/(1 + t^N) */
    kd_lattice lat = {KD_LATTICE_CHAIN, 16, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    kd_sampler *S;
    kd_sampler_new(&S, &lat, 1.0, KD_ALGO_WOLFF, 9, 9);
    const long n = 100000;
    int nr = kd_ising_correlation_len(&lat);
    double *G = malloc((size_t)n * (size_t)nr * sizeof *G);
    for (long k = 0; k < n; k++) {
        kd_sampler_sweep(S, 1);
        kd_ising_correlation(&lat, kd_sampler_spins(S), G + (size_t)k * (size_t)nr);
    }
    for (int r = 1; r < nr; r += 3) {
        double *col = malloc((size_t)n * sizeof *col), mean, err;
        for (long k = 0; k < n; k++)
            col[k] = G[(size_t)k * (size_t)nr + (size_t)r];
        kd_binning(col, (size_t)n, 50, &mean, &err);
        char what[64];
        snprintf(what, sizeof what, "chain N=16 K=1 G(%d)", r);
        kd_test_sigma(mean, err, kd_chain_correlation(16, 1.0, 1.0, r), 4.0, what);
        free(col);
    }
    free(G);
    kd_sampler_free(S);
}

static void test_special_temperatures(void)
{
    kd_lattice lat = {KD_LATTICE_SQUARE, 6, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    kd_sampler *S;
    kd_sampler_new(&S, &lat, 0.0, KD_ALGO_METROPOLIS, 3, 0);
    int plus = 0, minus = 0, ground = 1;
    for (int k = 0; k < 200; k++) {
        kd_sampler_sweep(S, 1);
        double m = kd_ising_magnetization(&lat, kd_sampler_spins(S));
        plus += m == 1;
        minus += m == -1;
        ground &= kd_ising_energy(&lat, kd_sampler_spins(S)) == -2.0;
    }
    /* 200 fair coin flips: P(one side < 60) < 1e-8 */
    kd_test(ground && plus + minus == 200 && plus > 60 && minus > 60,
            "T=0 draws both ground states (%d up, %d down)", plus, minus);
    kd_sampler_free(S);

    kd_lattice af = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, -1.0, 0.0};
    kd_sampler_new(&S, &af, 0.0, KD_ALGO_WOLFF, 3, 0);
    kd_sampler_sweep(S, 1);
    kd_test(kd_ising_energy(&af, kd_sampler_spins(S)) == -2.0, "T=0 antiferromagnet is Néel");
    kd_sampler_free(S);

    kd_sampler_new(&S, &lat, INFINITY, KD_ALGO_METROPOLIS, 3, 0);
    double se = 0, se2 = 0;
    const int n = 20000;
    for (int k = 0; k < n; k++) {
        kd_sampler_sweep(S, 1);
        double e = kd_ising_energy(&lat, kd_sampler_spins(S));
        se += e;
        se2 += e * e;
    }
    /* independent configurations: exact ⟨e⟩ = 0, var(e) = 2/N (72 independent bonds / 36²) */
    double mean = se / n, err = sqrt(2.0 / 36 / n);
    kd_test_sigma(mean, err, 0.0, 4.0, "T=inf ⟨e⟩ = 0");
    /* 5%: the variance estimate from n = 20000 has rel. sd ≈ sqrt(2/n) = 1%, so 5σ */
    kd_test_rel(se2 / n, 2.0 / 36, 0.05, "T=inf var(e) = 2/N");
    kd_sampler_free(S);
}

static void test_large_wolff(void)
{
    /* L = 1024 at T_c: clusters span the lattice, the explicit stack must cope. */
    kd_lattice lat = {KD_LATTICE_SQUARE, 1024, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    kd_sampler *S;
    kd_status st = kd_sampler_new(&S, &lat, kd_exact_tc(), KD_ALGO_WOLFF, 1, 1);
    if (!kd_test(st == KD_OK, "L=1024 Wolff sampler"))
        return;
    kd_sampler_sweep(S, 3);
    double m = kd_sampler_acceptance(S);
    kd_test(m > 0 && m <= 1, "L=1024 Wolff sweeps complete (mean cluster/N = %.3g)", m);
    kd_sampler_free(S);
}

static void test_bad_input(void)
{
    kd_sampler *S = (kd_sampler *)1;
    kd_lattice bad = {KD_LATTICE_SQUARE, 1, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    kd_test(kd_sampler_new(&S, &bad, 1.0, KD_ALGO_METROPOLIS, 1, 1) == KD_ERR_INVALID && !S &&
                strstr(kd_last_error(), "L = 1"),
            "L = 1 refused: %s", kd_last_error());
    kd_lattice ok = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, 1.0, 0.5};
    kd_test(kd_sampler_new(&S, &ok, -1.0, KD_ALGO_METROPOLIS, 1, 1) == KD_ERR_INVALID,
            "negative T refused: %s", kd_last_error());
    kd_test(kd_sampler_new(&S, &ok, NAN, KD_ALGO_METROPOLIS, 1, 1) == KD_ERR_INVALID,
            "NaN T refused");
    kd_test(kd_sampler_new(&S, &ok, 1.0, KD_ALGO_WOLFF, 1, 1) == KD_ERR_UNSUPPORTED &&
                strstr(kd_last_error(), "zero field"),
            "Wolff with a field refused: %s", kd_last_error());
    kd_lattice frustrated = {KD_LATTICE_SQUARE, 5, KD_BOUNDARY_PERIODIC, -1.0, 0.0};
    kd_test(kd_sampler_new(&S, &frustrated, 0.0, KD_ALGO_METROPOLIS, 1, 1) == KD_ERR_UNSUPPORTED,
            "T=0 frustrated antiferromagnet refused: %s", kd_last_error());
    kd_algorithm a;
    kd_test(kd_algorithm_parse("metropolis", &a) == KD_OK && a == KD_ALGO_METROPOLIS &&
                kd_algorithm_parse("swendsen", &a) == KD_ERR_INVALID,
            "algorithm names");
}

/* The real-valued observables (for mean-field states) equal the integer ones on
 * ±1 configurations: both sum the same small integers exactly. */
static void test_real_valued_observables(void)
{
    /* kd_ising_correlation sums rows as dot products, the real version walks
     * the definition: odd and even L, both boundaries, both kinds */
    const kd_lattice lats[] = {{KD_LATTICE_SQUARE, 7, KD_BOUNDARY_PERIODIC, 1.3, 0.2},
                               {KD_LATTICE_SQUARE, 6, KD_BOUNDARY_OPEN, -0.5, 0.0},
                               {KD_LATTICE_CHAIN, 9, KD_BOUNDARY_PERIODIC, 1.0, -1.0},
                               {KD_LATTICE_CHAIN, 10, KD_BOUNDARY_OPEN, 1.0, 0.0},
                               {KD_LATTICE_SQUARE, 33, KD_BOUNDARY_PERIODIC, 1.0, 0.0},
                               {KD_LATTICE_SQUARE, 40, KD_BOUNDARY_OPEN, 1.0, 0.0}};
    kd_rng r;
    kd_rng_init(&r, 11, 0);
    int same = 1;
    for (int li = 0; li < 6; li++) {
        int8_t s[1600];
        float v[1600];
        double G[21], Gr[21];
        size_t n = kd_lattice_size(&lats[li]);
        for (size_t i = 0; i < n; i++)
            v[i] = s[i] = kd_rng_spin(&r);
        kd_ising_correlation(&lats[li], s, G);
        kd_ising_correlation_real(&lats[li], v, Gr);
        same &= kd_ising_energy(&lats[li], s) == kd_ising_energy_real(&lats[li], v) &&
                kd_ising_magnetization(&lats[li], s) == kd_ising_magnetization_real(&lats[li], v) &&
                !memcmp(G, Gr, (size_t)kd_ising_correlation_len(&lats[li]) * sizeof *G);
    }
    kd_test(same, "real-valued e, m, G(r) equal the integer versions on ±1 states");
}

static void test_temperature_lists(void)
{
    double *t;
    size_t n;
    kd_test(kd_parse_temperatures("0:6:0.25", &t, &n) == KD_OK && n == 25 && t[0] == 0 &&
                t[24] == 6 && t[9] == 2.25,
            "0:6:0.25 gives 25 temperatures ending at 6");
    free(t);
    kd_test(kd_parse_temperatures("0:1:0.1,inf", &t, &n) == KD_OK && n == 12 && t[3] == 0.3 &&
                isinf(t[11]),
            "0:1:0.1,inf gives 12 values, 0.3 exact, inf last");
    free(t);
    const char *bad[] = {"", "1,,2", "a", "-1", "3:1:0.5", "0:1:0", "0:1", "1:2:3:4", "nan", "1e999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        kd_test(kd_parse_temperatures(bad[i], &t, &n) == KD_ERR_INVALID && !t,
                "temperature list '%s' refused: %s", bad[i], kd_last_error());
}

int main(void)
{
    test_detailed_balance();
    test_tables_match_reference();
    kd_lattice sq3 = {KD_LATTICE_SQUARE, 3, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    kd_lattice sq3f = {KD_LATTICE_SQUARE, 3, KD_BOUNDARY_PERIODIC, 1.0, 0.2};
    kd_lattice sq3af = {KD_LATTICE_SQUARE, 3, KD_BOUNDARY_PERIODIC, -1.0, 0.0};
    test_state_histogram(KD_ALGO_METROPOLIS, sq3f, 2.0);
    test_state_histogram(KD_ALGO_HEATBATH, sq3f, 2.0);
    test_state_histogram(KD_ALGO_WOLFF, sq3, 2.0);
    test_state_histogram(KD_ALGO_WOLFF, sq3af, 1.5); /* frustrated: odd periodic antiferromagnet */
    test_square_vs_kaufman();
    test_field_and_open_vs_enumeration();
    test_chain_vs_transfer_matrix();
    test_special_temperatures();
    test_large_wolff();
    test_bad_input();
    test_temperature_lists();
    test_real_valued_observables();
    return kd_test_done();
}
