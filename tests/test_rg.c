#define _POSIX_C_SOURCE 200809L
/*
 * The RG module: the exact RG <-> RBM mapping (H^RG = H^RBM for any RBM, the
 * exactness condition Tr_h e^T = 1 against KL = 0), the Walsh projection,
 * 1D decimation by exact tracing against ½ ln cosh 2K and PHYSICS.md's
 * numbers, decimation as a deep network, the trained variant (run, not
 * judged), Kadanoff block spins, and the locality radius of receptive fields.
 *
 * Tolerances. Everything exact here is double precision over at most a few
 * thousand terms of size O(10): sums carry a few ulps of their largest term
 * (~1e-15 relative), so 1e-12 leaves a factor ~100 of room and still fails
 * on any real mistake (a missing term or a wrong sign moves results by
 * O(1e-2) or more).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/h5.h"
#include "kadanoff/kadanoff.h"
#include "kadanoff/rg.h"
#include "testing.h"

/* ---- helpers ----------------------------------------------------------------- */

static kd_rbm *random_rbm(int nv, int nh, kd_units vu, kd_units hu, double sigma, uint64_t seed)
{
    kd_rbm *r = NULL;
    kd_rbm_new(&r, nv, nh, vu, hu, 0);
    kd_rbm_init_gaussian(r, sigma, seed);
    kd_rng g;
    kd_rng_init(&g, seed, 99);
    float *a = kd_rbm_visible_bias(r), *b = kd_rbm_hidden_bias(r);
    for (int i = 0; i < nv; i++)
        a[i] = (float)(0.5 * kd_rng_normal(&g));
    for (int j = 0; j < nh; j++)
        b[j] = (float)(0.5 * kd_rng_normal(&g));
    return r;
}

/* A 2×3 torus (rows of 3, 2 rows: vertical bonds doubled like kd_lattice's
 * side of length 2) with random bond couplings and fields. */
typedef struct {
    double Jh[6], Jv[6], h[6];
} torus23;

static double torus23_energy(const int8_t *s, int n, void *user)
{
    const torus23 *t = user;
    double e = 0;
    (void)n;
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 3; x++) {
            int i = y * 3 + x;
            e -= t->Jh[i] * s[i] * s[y * 3 + (x + 1) % 3];
            e -= t->Jv[i] * s[i] * s[((y + 1) % 2) * 3 + x];
            e -= t->h[i] * s[i];
        }
    return e;
}

/* P(v) = e^{-H}/Z over all states, for kd_rbm_kl. */
static void boltzmann(const double *H, int n, double *P)
{
    size_t ns = (size_t)1 << n;
    double mn = INFINITY, z = 0;
    for (size_t k = 0; k < ns; k++)
        mn = fmin(mn, H[k]);
    for (size_t k = 0; k < ns; k++)
        z += exp(mn - H[k]);
    for (size_t k = 0; k < ns; k++)
        P[k] = exp(mn - H[k]) / z;
}

/* ---- 1. H^RG = H^RBM for any RBM --------------------------------------------------- */

static void check_any_rbm(const char *what, const kd_rg_hamiltonian *H, kd_rbm *rbm)
{
    kd_rg_mapping m, md;
    kd_status st = kd_rg_mapping_check_rbm(H, rbm, &m, NULL, NULL);
    if (!kd_test(st == KD_OK, "%s: mapping check runs (%s)", what, st ? kd_last_error() : "ok"))
        return;
    /* enumeration of Σ_v e^{-E} vs rbm.h's closed form F(h) */
    kd_test(m.hrg_max_rel <= 1e-12, "%s: H^RG = H^RBM, max rel deviation %.2e (tol 1e-12)", what,
            m.hrg_max_rel);
    /* the same through the double view and this module's closed form */
    double *store = malloc(kd_rbm_nparams(rbm) * sizeof *store);
    kd_rg_rbm r;
    kd_rg_rbm_import(rbm, store, &r);
    st = kd_rg_mapping_check(H, &r, &md, NULL, NULL);
    kd_test(st == KD_OK && md.hrg_max_rel <= 1e-12,
            "%s: H^RG = H^RBM (double view), max rel deviation %.2e", what, md.hrg_max_rel);
    /* KL against rbm.h's kd_rbm_kl (its own ln Z and log-probabilities) */
    size_t ns = (size_t)1 << H->n;
    double *Ht = malloc(ns * sizeof *Ht), *P = malloc(ns * sizeof *P), kl_ref = NAN;
    kd_rg_hamiltonian_table(H, Ht);
    boltzmann(Ht, H->n, P);
    kd_rbm_kl(rbm, P, &kl_ref);
    kd_test_rel(m.kl, kl_ref, 1e-10, "KL(P||p) of this module vs kd_rbm_kl");
    /* KL = -<ln Tr_h e^T>_P - ΔF: the visible closed form vs the enumeration */
    kd_test(fabs(m.identity_residual) <= 1e-12 * fmax(1.0, fabs(m.delta_f)),
            "%s: KL + dF + <ln Tr e^T> = %.2e (tol 1e-12)", what, m.identity_residual);
    kd_test(m.kl > 1e-3 && m.trace_max_dev > 1e-2,
            "%s: a random RBM is not an exact RG step: KL %.3g, max|Tr e^T - 1| %.3g", what, m.kl,
            m.trace_max_dev);
    if (kd_test_verbose())
        printf("  %s: |H^RG-H^RBM| %.2e (rel %.2e), KL %.6f, dF %.6f, Tr e^T in [%.3g, %.3g]\n",
               what, m.hrg_max_abs, m.hrg_max_rel, m.kl, m.delta_f, exp(m.log_trace_min),
               exp(m.log_trace_max));
    free(Ht);
    free(P);
    free(store);
}

static void test_hrg_equals_hrbm(void)
{
    const kd_units U[2] = {KD_UNITS_SPIN, KD_UNITS_BINARY};
    kd_lattice chain = {KD_LATTICE_CHAIN, 5, KD_BOUNDARY_PERIODIC, 0.8, 0.1};
    kd_lattice sq = {KD_LATTICE_SQUARE, 2, KD_BOUNDARY_PERIODIC, 0.4, -0.2};
    torus23 t;
    kd_rng g;
    kd_rng_init(&g, 5, 0);
    for (int i = 0; i < 6; i++) {
        t.Jh[i] = kd_rng_normal(&g);
        t.Jv[i] = kd_rng_normal(&g);
        t.h[i] = 0.3 * kd_rng_normal(&g);
    }
    kd_rg_hamiltonian Hc = {5, &chain, NULL, NULL, NULL};
    kd_rg_hamiltonian Hs = {4, &sq, NULL, NULL, NULL};
    kd_rg_hamiltonian Ht = {6, NULL, torus23_energy, &t, NULL};
    char what[96];
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            kd_rbm *r1 = random_rbm(5, 3, U[a], U[b], 1.0, 11 + (uint64_t)(2 * a + b));
            kd_rbm *r2 = random_rbm(4, 5, U[a], U[b], 1.5, 21 + (uint64_t)(2 * a + b));
            kd_rbm *r3 = random_rbm(6, 4, U[a], U[b], 0.7, 31 + (uint64_t)(2 * a + b));
            snprintf(what, sizeof what, "chain 5, RBM 5-3 %s/%s", kd_units_name(U[a]),
                     kd_units_name(U[b]));
            check_any_rbm(what, &Hc, r1);
            snprintf(what, sizeof what, "square 2x2, RBM 4-5 %s/%s", kd_units_name(U[a]),
                     kd_units_name(U[b]));
            check_any_rbm(what, &Hs, r2);
            snprintf(what, sizeof what, "torus 2x3 (callback), RBM 6-4 %s/%s", kd_units_name(U[a]),
                     kd_units_name(U[b]));
            check_any_rbm(what, &Ht, r3);
            kd_rbm_free(r1);
            kd_rbm_free(r2);
            kd_rbm_free(r3);
        }
    /* large weights: the traces must not overflow (terms up to e^{±60}) */
    kd_rbm *big = random_rbm(6, 6, KD_UNITS_SPIN, KD_UNITS_SPIN, 8.0, 7);
    kd_rg_hamiltonian Hb = {6, NULL, torus23_energy, &t, NULL};
    kd_rg_mapping m;
    kd_status st = kd_rg_mapping_check_rbm(&Hb, big, &m, NULL, NULL);
    kd_test(st == KD_OK && m.hrg_max_rel <= 1e-12 && isfinite(m.kl),
            "weights ~N(0, 64): H^RG = H^RBM rel %.2e, KL %.3g finite", m.hrg_max_rel, m.kl);
    kd_rbm_free(big);
}

/* ---- 2. exactness condition <=> KL = 0 ---------------------------------------- */

static void test_exactness(void)
{
    kd_rbm *rbm = random_rbm(5, 4, KD_UNITS_SPIN, KD_UNITS_BINARY, 0.9, 41);
    double *store = malloc(kd_rbm_nparams(rbm) * sizeof *store);
    kd_rg_rbm r;
    kd_rg_rbm_import(rbm, store, &r);
    double Hf[32], Hshift[32], v[5];
    for (uint64_t k = 0; k < 32; k++) {
        kd_rbm_state_from_index(KD_UNITS_SPIN, 5, k, v);
        Hf[k] = kd_rg_rbm_free_energy_visible(&r, v);
        Hshift[k] = Hf[k] + 0.7;
    }
    /* H = F(v): T(v,h) = ln p_λ(h|v), Tr_h e^T = 1 for every v */
    kd_rg_hamiltonian H1 = {5, NULL, NULL, NULL, Hf};
    kd_rg_mapping m;
    kd_rg_mapping_check(&H1, &r, &m, NULL, NULL);
    kd_test(m.trace_max_dev <= 1e-12, "H = F(v): max |Tr_h e^T - 1| = %.2e (tol 1e-12)",
            m.trace_max_dev);
    kd_test_abs(m.kl, 0, 1e-13, "H = F(v): KL = 0");
    kd_test_abs(m.delta_f, 0, 1e-12, "H = F(v): dF = 0");
    /* T(v,h) = ln p(h|v) holds state by state */
    double h[4], maxdiff = 0;
    for (uint64_t k = 0; k < 32; k++)
        for (uint64_t q = 0; q < 16; q++) {
            kd_rbm_state_from_index(KD_UNITS_SPIN, 5, k, v);
            kd_rbm_state_from_index(KD_UNITS_BINARY, 4, q, h);
            double T = kd_rg_operator(&r, Hf[k], v, h);
            maxdiff = fmax(maxdiff, fabs(T - kd_rbm_log_prob_hidden_given_visible(rbm, v, h)));
        }
    kd_test(maxdiff <= 1e-12, "H = F(v): T(v,h) = ln p(h|v) for all 512 pairs, max diff %.2e",
            maxdiff);
    /* H = F(v) + 0.7: same P, so KL = 0, but Tr_h e^T = e^{0.7} for all v
     * and dF = -0.7: KL = 0 alone means "Tr e^T constant", not "= 1" */
    kd_rg_hamiltonian H2 = {5, NULL, NULL, NULL, Hshift};
    kd_rg_mapping_check(&H2, &r, &m, NULL, NULL);
    kd_test_abs(m.kl, 0, 1e-13, "H = F + 0.7: KL = 0");
    kd_test_abs(m.log_trace_min, 0.7, 1e-12, "H = F + 0.7: min ln Tr e^T = 0.7");
    kd_test_abs(m.log_trace_max, 0.7, 1e-12, "H = F + 0.7: max ln Tr e^T = 0.7");
    kd_test_abs(m.delta_f, -0.7, 1e-12, "H = F + 0.7: dF = -0.7");
    /* decimation: the kept layer traced from the chain, H(v) = the odd sites'
     * marginal of the chain (summed from kd_ising_energy): an exact step */
    for (double K = 0.25; K < 3; K *= 2) {
        kd_status st = kd_rg_decimation_check(K, 8, &m);
        kd_test(st == KD_OK && m.trace_max_dev <= 1e-12 && fabs(m.kl) <= 1e-13 &&
                    fabs(m.delta_f) <= 1e-12 && m.hrg_max_rel <= 1e-12,
                "decimation K=%g: exact step, max|Tr e^T - 1| %.2e, KL %.2e, dF %.2e, "
                "|H^RG-H^RBM| rel %.2e",
                K, m.trace_max_dev, m.kl, m.delta_f, m.hrg_max_rel);
    }
    /* failure: the decimation RBM for K against a chain at another coupling */
    kd_lattice wrong = {KD_LATTICE_CHAIN, 4, KD_BOUNDARY_PERIODIC, 0.3, 0.0};
    double W[16];
    kd_rg_rbm dr;
    kd_rg_decimation_rbm(1.0, 8, W, &dr);
    kd_rg_hamiltonian Hw = {4, &wrong, NULL, NULL, NULL};
    kd_rg_mapping_check(&Hw, &dr, &m, NULL, NULL);
    kd_test(m.kl > 1e-3 && m.log_trace_max - m.log_trace_min > 1e-2,
            "wrong H: KL = %.4g > 0 and ln Tr e^T varies over [%.4g, %.4g]", m.kl, m.log_trace_min,
            m.log_trace_max);
    kd_test(fabs(m.identity_residual) <= 1e-12, "wrong H: KL + dF + <ln Tr e^T> = %.2e",
            m.identity_residual);
    free(store);
    kd_rbm_free(rbm);
}

/* ---- 3. Walsh projection ----------------------------------------------------------- */

static void test_walsh(void)
{
    /* random polynomial on 6 spins: recover every coefficient */
    const int n = 6;
    double J[64], H[64], Jr[64];
    kd_rng g;
    kd_rng_init(&g, 3, 0);
    for (int S = 0; S < 64; S++)
        J[S] = kd_rng_normal(&g);
    for (int x = 0; x < 64; x++) {
        double e = 0;
        for (int S = 0; S < 64; S++) {
            double p = 1;
            for (int i = 0; i < n; i++)
                if ((S >> i) & 1)
                    p *= (x >> i) & 1 ? 1.0 : -1.0;
            e += J[S] * p;
        }
        H[x] = e;
    }
    kd_rg_walsh(n, H, Jr);
    double d = 0;
    for (int S = 0; S < 64; S++)
        d = fmax(d, fabs(Jr[S] - J[S]));
    kd_test(d <= 1e-13, "Walsh: 64 random coefficients recovered, max error %.2e", d);
    kd_rg_walsh_inverse(n, Jr, Jr);
    d = 0;
    for (int x = 0; x < 64; x++)
        d = fmax(d, fabs(Jr[x] - H[x]));
    kd_test(d <= 1e-13, "Walsh: inverse returns H, max error %.2e", d);

    /* Ising-like H on geometries: -h Σs - K1 Σnn - K2 Σnnn - K4 Σ4 + c */
    const double c0 = 1.25, hf = 0.3, K1 = 0.7, K2 = -0.2, K4 = 0.05;
    const kd_lattice geoms[] = {{KD_LATTICE_CHAIN, 8, KD_BOUNDARY_PERIODIC, 0, 0},
                                {KD_LATTICE_CHAIN, 7, KD_BOUNDARY_OPEN, 0, 0},
                                {KD_LATTICE_SQUARE, 3, KD_BOUNDARY_PERIODIC, 0, 0},
                                {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, 0, 0},
                                {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_OPEN, 0, 0}};
    for (size_t q = 0; q < sizeof geoms / sizeof geoms[0]; q++) {
        const kd_lattice *gm = &geoms[q];
        int N = (int)kd_lattice_size(gm), L = gm->L, per = gm->boundary == KD_BOUNDARY_PERIODIC;
        size_t ns = (size_t)1 << N;
        double *Hg = malloc(ns * sizeof *Hg);
        int8_t s[16];
        for (size_t x = 0; x < ns; x++) {
            for (int i = 0; i < N; i++)
                s[i] = (x >> i) & 1 ? 1 : -1;
            double e = c0;
            for (int i = 0; i < N; i++)
                e -= hf * s[i];
            if (gm->kind == KD_LATTICE_CHAIN) {
                for (int i = 0; i < L; i++) {
                    if (per || i + 1 < L)
                        e -= K1 * s[i] * s[(i + 1) % L];
                    if (per || i + 2 < L)
                        e -= K2 * s[i] * s[(i + 2) % L];
                    if (per || i + 3 < L)
                        e -= K4 * s[i] * s[(i + 1) % L] * s[(i + 2) % L] * s[(i + 3) % L];
                }
            } else {
                for (int y = 0; y < L; y++)
                    for (int x0 = 0; x0 < L; x0++) {
                        int r = (x0 + 1) % L, dn = (y + 1) % L;
                        int hr = per || x0 + 1 < L, hd = per || y + 1 < L;
                        int i = y * L + x0;
                        if (hr)
                            e -= K1 * s[i] * s[y * L + r];
                        if (hd)
                            e -= K1 * s[i] * s[dn * L + x0];
                        if (hr && hd) {
                            e -= K2 * (s[i] * s[dn * L + r] + s[y * L + r] * s[dn * L + x0]);
                            e -= K4 * s[i] * s[y * L + r] * s[dn * L + x0] * s[dn * L + r];
                        }
                    }
            }
            Hg[x] = e;
        }
        kd_rg_walsh(N, Hg, Hg);
        kd_rg_couplings c;
        kd_status st = kd_rg_couplings_read(gm, Hg, &c);
        char what[64];
        snprintf(what, sizeof what, "%s L=%d %s", kd_lattice_kind_name(gm->kind), L,
                 kd_boundary_name(gm->boundary));
        kd_test(st == KD_OK, "%s: couplings read", what);
        kd_test_abs(c.constant, c0, 1e-13, "constant");
        kd_test_abs(c.field, hf, 1e-13, "field");
        kd_test_abs(c.nn, K1, 1e-13, "nearest-neighbour K1");
        if (gm->kind == KD_LATTICE_SQUARE && L == 3) {
            /* on a 3-torus the two diagonals of the plaquettes give each
             * diagonal pair twice over the lattice: still one coupling K2 per term */
            kd_test_abs(c.nnn, K2, 1e-13, "next-nearest K2 (3x3 torus)");
        } else {
            kd_test_abs(c.nnn, K2, 1e-13, "next-nearest K2");
        }
        kd_test_abs(c.four, K4, 1e-13, "four-spin K4");
        kd_test(c.nn_spread <= 1e-13 && c.rest <= 1e-13, "%s: spread %.1e, rest %.1e", what,
                c.nn_spread, c.rest);
        free(Hg);
    }
    /* kd_lattice's doubled bonds on a side of 2: per-bond J of kd_ising_energy */
    kd_lattice sq2 = {KD_LATTICE_SQUARE, 2, KD_BOUNDARY_PERIODIC, 0.37, 0.2};
    kd_rg_hamiltonian H2 = {4, &sq2, NULL, NULL, NULL};
    double T2[16];
    kd_rg_hamiltonian_table(&H2, T2);
    kd_rg_walsh(4, T2, T2);
    kd_rg_couplings c2;
    kd_rg_couplings_read(&sq2, T2, &c2);
    kd_test_abs(c2.nn, 0.37, 1e-14, "2x2 torus (doubled bonds): K1 = J per bond");
    kd_test_abs(c2.field, 0.2, 1e-14, "2x2 torus: field");
    /* a ring of 3: nnn coincides with nn and is reported absent */
    kd_lattice r3 = {KD_LATTICE_CHAIN, 3, KD_BOUNDARY_PERIODIC, 0, 0};
    double z8[8] = {0};
    kd_rg_couplings_read(&r3, z8, &c2);
    kd_test(isnan(c2.nnn) && c2.nnn_count == 0 && isnan(c2.four),
            "ring of 3: nnn and four-spin classes absent (NaN)");
    kd_test_abs(kd_rg_walsh_order_norm(6, J, 0), fabs(J[0]), 0, "order-0 norm = |J_0|");
}

/* ---- 4. decimation ------------------------------------------------------------------- */

static void test_decimation(void)
{
    /* PHYSICS.md §1: K^(n) from K = 1 (10 significant digits given: 1e-9) */
    const double want[4] = {0.6625013737, 0.3500611389, 0.1136720675, 0.0128115420};
    kd_rg_decimation_step tab[8];
    kd_status st = kd_rg_decimation_run(1.0, 4, 8, tab);
    kd_test(st == KD_OK, "decimation from K=1 runs");
    for (int n = 0; n < 4; n++)
        kd_test_abs(tab[n].K, want[n], 1e-9, "K^(n) from K=1 vs PHYSICS.md");
    if (kd_test_verbose())
        for (int n = 0; n < 4; n++)
            printf("  n=%d K=%.12f formula=%.12f c=%.12f xi=%.6g\n", tab[n].step, tab[n].K,
                   tab[n].K_formula, tab[n].constant, tab[n].xi);

    const double Ks[4] = {0.1, 0.5, 1.0, 2.0};
    for (int q = 0; q < 4; q++) {
        const int steps = 5;
        st = kd_rg_decimation_run(Ks[q], steps, 8, tab);
        if (!kd_test(st == KD_OK, "decimation from K=%g runs", Ks[q]))
            continue;
        double dK = 0, dc = 0, dz = 0, dxi = 0, rest = 0;
        for (int n = 0; n < steps; n++) {
            /* tracing sums terms of size ln 2cosh 2K ~ 1..5; the projection's
             * rounding is ~1e-16 absolute, so 1e-12 absolute is ~1e4 of margin */
            dK = fmax(dK, fabs(tab[n].K - tab[n].K_formula));
            dc = fmax(dc, fabs(tab[n].constant - tab[n].constant_formula));
            dz = fmax(dz, fabs(tab[n].log_z_per_spin - (log(2.0) + log(cosh(Ks[q])))));
            rest = fmax(rest, fmax(tab[n].rest, fabs(tab[n].field)));
            /* ξ halves: ln tanh K' = 2 ln tanh K. The traced K' carries an
             * absolute error ~1e-16, i.e. a relative one 1e-16/K'; check
             * ratios only while K' > 1e-3 (relative error < 1e-13). */
            if (tab[n].K > 1e-3)
                dxi = fmax(dxi, fabs(tab[n].xi_in / tab[n].xi - 2.0) / 2.0);
        }
        kd_test(dK <= 1e-12, "K=%g: traced K^(n) = ½ ln cosh 2K^(n-1) over %d steps, max |diff| %.2e",
                Ks[q], steps, dK);
        kd_test(dc <= 1e-12, "K=%g: constant = ln 2 + ½ ln cosh 2K, max |diff| %.2e", Ks[q], dc);
        kd_test(dz <= 1e-12, "K=%g: Σ c/2^n + 2^-n ln 2cosh K^(n) = ln 2cosh K, max |diff| %.2e",
                Ks[q], dz);
        kd_test(dxi <= 1e-12, "K=%g: xi^(n-1)/xi^(n) = 2, max rel diff %.2e", Ks[q], dxi);
        kd_test(rest <= 1e-13, "K=%g: no field and no other couplings appear, max %.2e", Ks[q],
                rest);
    }
    /* decimation is exact for any length: the same K' from rings of 4..16 */
    kd_rg_decimation_step a, b;
    double spread = 0;
    kd_rg_decimation_trace(0.8, 4, &a);
    for (int ch = 6; ch <= 16; ch += 2) {
        kd_rg_decimation_trace(0.8, ch, &b);
        spread = fmax(spread, fmax(fabs(a.K - b.K), fabs(a.constant - b.constant)));
    }
    kd_test(spread <= 1e-13, "K' and c independent of the traced chain length 4..16, spread %.2e",
            spread);
    /* against the 1D transfer-matrix module: Z_8(K) = e^{4c} Z_4(K') */
    kd_thermo t8, t4;
    kd_chain_exact(8, KD_BOUNDARY_PERIODIC, 1.0, 0.0, 1.0, &t8);
    kd_rg_decimation_trace(1.0, 8, &a);
    kd_chain_exact(4, KD_BOUNDARY_PERIODIC, a.K, 0.0, 1.0, &t4);
    kd_test_rel(4 * a.constant + t4.lnZ, log(9160.4387226426), 1e-12,
                "ln Z_8(1) = 4c + ln Z_4(K') (PHYSICS.md Z_8 = 9160.4387226426)");
    kd_test_rel(t8.lnZ, log(9160.4387226426), 1e-12, "kd_chain_exact ln Z_8(1)");
    /* closed forms at the edges */
    kd_test_rel(kd_rg_decimation_coupling(1e-6), 1e-12, 1e-9, "K' = K² for tiny K (no cancellation)");
    kd_test(kd_rg_correlation_length(INFINITY) == INFINITY && kd_rg_correlation_length(0) == 0,
            "xi(inf) = inf, xi(0) = 0");
    kd_test_rel(kd_rg_correlation_length(kd_rg_decimation_coupling(10.0)),
                kd_rg_correlation_length(10.0) / 2, 1e-12, "xi halves at K = 10 (tanh K ≈ 1)");
    /* invalid input */
    kd_test(kd_rg_decimation_trace(1.0, 7, &a) == KD_ERR_INVALID, "odd chain refused");
    kd_test(kd_rg_decimation_trace(NAN, 8, &a) == KD_ERR_INVALID, "NaN K refused");
}

static void test_decimation_dbn(void)
{
    kd_rg_decimation_step tab[4];
    kd_rg_decimation_run(1.0, 4, 8, tab);
    double K[4] = {1.0, tab[0].K, tab[1].K, tab[2].K};
    kd_dbn *dbn = NULL;
    kd_status st = kd_rg_decimation_dbn(K, 4, 32, &dbn);
    if (!kd_test(st == KD_OK, "decimation network builds (%s)", st ? kd_last_error() : "ok"))
        return;
    kd_test(kd_dbn_depth(dbn) == 4 && kd_dbn_width(dbn, 0) == 32 && kd_dbn_width(dbn, 4) == 2,
            "decimation network 32-16-8-4-2");
    int wok = 1;
    for (int l = 0; l < 4; l++) {
        kd_rbm *r = kd_dbn_layer(dbn, l);
        const float *W = kd_rbm_weights(r);
        int nv = kd_rbm_nv(r), nh = kd_rbm_nh(r);
        for (int i = 0; i < nv; i++)
            for (int j = 0; j < nh; j++) {
                float w = W[i * nh + j];
                int bond = i % 2 == 1 && (j == i / 2 || j == (i / 2 + 1) % nh);
                float want = bond ? (nh == 1 ? 2.0f : 1.0f) * (float)K[l] : 0.0f;
                wok &= w == want;
            }
    }
    kd_test(wok, "layer-n weights are K^(n) on the decimated bonds, 0 elsewhere");
    /* hidden marginal of a padded layer: K' and c + ln 2 per kept spin */
    kd_rbm *r1 = kd_dbn_layer(dbn, 1); /* 16 -> 8 */
    double *store = malloc(kd_rbm_nparams(r1) * sizeof *store), J[256];
    kd_rg_rbm rr;
    kd_rg_rbm_import(r1, store, &rr);
    kd_rg_trace_visible(&rr, J);
    kd_rg_walsh(8, J, J);
    kd_lattice ring = {KD_LATTICE_CHAIN, 8, KD_BOUNDARY_PERIODIC, 1, 0};
    kd_rg_couplings c;
    kd_rg_couplings_read(&ring, J, &c);
    double Kf = (float)K[1]; /* the layer stores float32 */
    kd_test_abs(c.nn, kd_rg_decimation_coupling(Kf), 1e-13, "padded layer: hidden marginal K'");
    kd_test_abs(-c.constant / 8, kd_rg_decimation_constant(Kf) + log(2.0), 1e-13,
                "padded layer: constant c + ln 2 per kept spin");
    free(store);
    /* receptive fields grow: level-2 unit 0 sees sites within ±3 of site 0 */
    float *F = malloc(32 * 8 * sizeof *F);
    kd_dbn_receptive_fields(dbn, 2, F);
    int support = 0;
    for (int i = 0; i < 32; i++)
        support += F[i * 8 + 0] != 0;
    kd_test(support == 4, "level-2 receptive field of unit 0 covers %d sites (want 4: ±1, ±3)",
            support);
    free(F);
    kd_dbn_free(dbn);
    kd_test(kd_rg_decimation_dbn(K, 4, 24, &dbn) == KD_ERR_INVALID && dbn == NULL,
            "N not divisible by 2^layers refused");
}

static void test_trained(void)
{
    kd_rg_trained_options opt;
    kd_rg_trained_options_init(&opt);
    opt.nv = 8;
    opt.samples = 1000;
    opt.train.epochs = 30;
    opt.seed = 5;
    kd_rg_trained_result res;
    kd_status st = kd_rg_decimation_trained(&opt, &res, NULL);
    if (!kd_test(st == KD_OK, "trained variant runs (%s)", st ? kd_last_error() : "ok"))
        return;
    kd_test(isfinite(res.K_nn) && isfinite(res.kl) && res.kl >= -1e-12,
            "trained variant: finite coupling and KL");
    /* the sampler is tested elsewhere; this only says the data were right */
    kd_test(fabs(res.data_e - res.data_e_exact) < 0.1, "trained variant: data <e> %.4f vs exact %.4f",
            res.data_e, res.data_e_exact);
    printf("trained 8-4 RBM on the K=1 chain: hidden K_nn = %.4f (spread %.3f, pair mean %.4f, "
           "max %.4f, field %.2g, 4-spin %.3g), decimation K' = %.4f; KL = %.4f nats "
           "(uniform model: %.4f)\n",
           res.K_nn, res.K_nn_spread, res.K_pair_mean, res.K_pair_max, res.field, res.four_norm,
           res.K_exact, res.kl, res.kl_independent);
}

/* ---- 5. block spins ------------------------------------------------------------------ */

static void test_blockspin_patterns(void)
{
    kd_lattice ch = {KD_LATTICE_CHAIN, 6, KD_BOUNDARY_PERIODIC, 1, 0};
    int8_t s6[6] = {1, 1, -1, -1, -1, 1}, o2[2];
    kd_rg_blockspin(&ch, s6, 1, 3, 1, 0, o2);
    kd_test(o2[0] == 1 && o2[1] == -1, "chain b=3: (+ + -)(- - +) -> (+ -)");

    /* 4×4, b = 2: blocks all up, 3 up, 1 up, tie */
    kd_lattice sq = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, 1, 0};
    const int8_t s[16] = {1, 1, 1, -1,  /* y = 0 */
                          1, 1, 1, 1,   /* y = 1 */
                          -1, -1, 1, -1, /* y = 2 */
                          1, -1, -1, 1}; /* y = 3 */
    int8_t o[4], o_again[4];
    kd_rg_blockspin(&sq, s, 1, 2, 7, 0, o);
    kd_test(o[0] == 1 && o[1] == 1 && o[2] == -1, "square b=2: majority of 4, 3 and 1 up blocks");
    kd_rg_blockspin(&sq, s, 1, 2, 7, 0, o_again);
    kd_test(memcmp(o, o_again, 4) == 0, "tie broken reproducibly for the same (seed, stream)");
    /* the tie is a fair coin over streams */
    enum { R = 2000 };
    int8_t *many = malloc(R * 16), *out = malloc(R * 4);
    for (int r = 0; r < R; r++)
        memcpy(many + r * 16, s, 16);
    kd_rg_blockspin(&sq, many, R, 2, 11, 0, out);
    int up = 0, fixed = 1;
    for (int r = 0; r < R; r++) {
        up += out[r * 4 + 3] == 1;
        fixed &= out[r * 4] == 1 && out[r * 4 + 1] == 1 && out[r * 4 + 2] == -1;
    }
    /* binomial(2000, ½): σ = 22.4; 5σ */
    kd_test(fixed && abs(up - R / 2) <= 112, "tie: %d of %d up (want 1000 ± 112), others fixed", up,
            R);
    free(many);
    free(out);
    kd_lattice cl;
    kd_test(kd_rg_blockspin_lattice(&sq, 3, &cl) == KD_ERR_INVALID, "L=4, b=3 refused");
    kd_test(kd_rg_blockspin_lattice(&sq, 1, &cl) == KD_ERR_INVALID, "b=1 refused");
    kd_test(kd_rg_blockspin_lattice(&sq, 4, &cl) == KD_ERR_INVALID, "L/b = 1 refused");
    int8_t bad[16];
    memcpy(bad, s, 16);
    bad[5] = 0;
    kd_test(kd_rg_blockspin(&sq, bad, 1, 2, 1, 0, o) == KD_ERR_INVALID, "spin 0 refused");
}

static void test_blockspin_dataset(void)
{
    const double temps[2] = {5.0, 1.5};
    kd_sample_params p;
    kd_sample_params_init(&p);
    p.lattice = (kd_lattice){KD_LATTICE_SQUARE, 16, KD_BOUNDARY_PERIODIC, 1, 0};
    p.temps = temps;
    p.ntemps = 2;
    p.samples = 300;
    p.chains = 2;
    p.algorithm = KD_ALGO_WOLFF;
    p.seed = 4;
    p.symmetrize = 1;
    kd_dataset *d = NULL, *c2 = NULL, *c4 = NULL, *again = NULL;
    kd_status st = kd_sample(&p, &d);
    if (!kd_test(st == KD_OK, "sample 16x16 at T = 5, 1.5"))
        return;
    snprintf(d->command, sizeof d->command, "kadanoff sample (test)");
    kd_test(kd_rg_blockspin_dataset(d, 2, 9, &c2) == KD_OK &&
                kd_rg_blockspin_dataset(d, 4, 9, &c4) == KD_OK &&
                kd_rg_blockspin_dataset(d, 2, 9, &again) == KD_OK,
            "block-spin the dataset with b = 2 and 4");
    if (!c2 || !c4 || !again)
        return;
    kd_test(c2->lattice.L == 8 && c4->lattice.L == 4 && c2->n == d->n && c2->ntemps == 2,
            "coarse lattices 8x8 and 4x4, all %zu configurations, 2 temperatures", d->n);
    kd_test(memcmp(c2->spins, again->spins, c2->n * 64) == 0, "same seed, same coarse spins");
    int eok = 1;
    for (size_t r = 0; r < c2->n; r++)
        eok &= c2->temperature[r] == d->temperature[r] &&
               c2->energy[r] == kd_ising_energy(&c2->lattice, c2->spins + r * 64) &&
               fabs(c2->magnetization[r] - kd_ising_magnetization(&c2->lattice, c2->spins + r * 64)) < 1e-15;
    kd_test(eok, "temperatures copied, energy and magnetisation of the coarse lattice");
    /* Paramagnet at T = 5 (ξ < 1 site): block spins are nearly independent,
     * ⟨|m|⟩ ≈ sqrt(2/(π N')) (0.0997 for N' = 64, 0.199 for 16). A residual
     * correlation raises it a little (measured 1.37× for b = 2, 1.21× for
     * b = 4); an ordered set would give ~1. Allow 2× the independent value.
     * T = 1.5 (m_Onsager = 0.987): > 0.9. */
    const kd_dataset *cs[2] = {c2, c4};
    for (int q = 0; q < 2; q++) {
        const kd_dataset *c = cs[q];
        double Nc = (double)kd_lattice_size(&c->lattice), indep = sqrt(2.0 / (3.14159265358979323846 * Nc));
        double hot = c->summary[0].abs_m, cold = c->summary[1].abs_m;
        kd_test(c->summary[0].T == 5.0 && hot < 2.0 * indep,
                "L'=%d, T=5: <|m|> = %.4f, independent spins %.4f: paramagnetic", c->lattice.L, hot,
                indep);
        kd_test(c->summary[1].T == 1.5 && cold > 0.9, "L'=%d, T=1.5: <|m|> = %.4f > 0.9: ordered",
                c->lattice.L, cold);
    }
    /* write with provenance, read back */
    char path[] = "/tmp/kd_test_rg_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0)
        close(fd);
    kd_rg_blockspin_provenance pv = {2, 9, 16, "fine.h5", d->command, "0.0.0"};
    st = kd_rg_blockspin_write(path, c2, &pv);
    kd_dataset *back = NULL;
    kd_test(st == KD_OK && kd_dataset_read(path, &back) == KD_OK && back->n == c2->n &&
                memcmp(back->spins, c2->spins, c2->n * 64) == 0,
            "coarse dataset written and read back (%s)", st ? kd_last_error() : "ok");
    kd_h5 *f = NULL;
    int64_t b = 0, L = 0;
    char cmd[256] = "";
    if (kd_h5_open(&f, path) == KD_OK) {
        kd_h5_read_attr_int64(f, "/", "blockspin_b", &b);
        kd_h5_read_attr_int64(f, "/", "source_L", &L);
        kd_h5_read_attr_string(f, "/", "source_command", cmd, sizeof cmd);
        kd_h5_close(f);
    }
    kd_test(b == 2 && L == 16 && !strcmp(cmd, "kadanoff sample (test)"),
            "provenance attributes blockspin_b = %lld, source_L = %lld, source_command '%s'",
            (long long)b, (long long)L, cmd);
    pv.source_L = 15;
    kd_test(kd_rg_blockspin_write(path, c2, &pv) == KD_ERR_INVALID, "inconsistent provenance refused");
    unlink(path);
    kd_dataset_free(back);
    kd_dataset_free(d);
    kd_dataset_free(c2);
    kd_dataset_free(c4);
    kd_dataset_free(again);
}

/* ---- 6. locality ---------------------------------------------------------------------- */

static void test_locality(void)
{
    float f[81];
    double rg, cx, cy;
    const int sizes[2] = {8, 9};
    for (int q = 0; q < 2; q++) {
        int L = sizes[q];
        for (int i = 0; i < L * L; i++)
            f[i] = -0.3f; /* |f| is what counts */
        kd_rg_locality_radius(L, L, f, 1, &rg, NULL, NULL);
        double want = L % 2 ? sqrt((L * L - 1) / 6.0) : sqrt((L * L + 2) / 6.0);
        kd_test_rel(rg, want, 1e-12, "uniform field on the torus: analytic R_g");
        kd_test_rel(kd_rg_locality_uniform(L, L), want, 1e-15, "kd_rg_locality_uniform");
    }
    memset(f, 0, sizeof f);
    f[3 * 8 + 6] = 2.5f;
    kd_rg_locality_radius(8, 8, f, 1, &rg, &cx, &cy);
    kd_test(fabs(rg) <= 1e-12 && fabs(cx - 6) < 1e-12 && fabs(cy - 3) < 1e-12,
            "delta: R_g = %.2g at (%.3g, %.3g)", rg, cx, cy);
    /* b×b blocks, including ones that wrap around the boundary */
    const int bs[2] = {2, 4};
    for (int q = 0; q < 2; q++) {
        int b = bs[q];
        for (int x0 = 5; x0 <= 6; x0++) {
            memset(f, 0, sizeof f);
            for (int y = 0; y < b; y++)
                for (int x = 0; x < b; x++)
                    f[((7 + y) % 8) * 8 + (x0 + x) % 8] = 1.0f;
            kd_rg_locality_radius(8, 8, f, 1, &rg, NULL, NULL);
            kd_test_rel(rg, sqrt((b * b - 1) / 6.0), 1e-12, "b x b block (wrapping): R_g");
        }
        kd_test_rel(kd_rg_locality_block(8, 8, b), sqrt((b * b - 1) / 6.0), 1e-15,
                    "kd_rg_locality_block");
    }
    /* a layer read with a stride: 3 units on 8×8, column j = unit j */
    float F[64 * 3];
    for (int i = 0; i < 64; i++) {
        F[i * 3 + 0] = 1.0f;                  /* uniform */
        F[i * 3 + 1] = i == 9 ? -1.0f : 0.0f; /* delta */
        F[i * 3 + 2] = (i % 8) < 2 && (i / 8) < 2 ? 0.5f : 0.0f; /* 2×2 block */
    }
    double r3[3];
    kd_rg_locality_layer(8, 8, 3, F, r3);
    kd_test(fabs(r3[0] - kd_rg_locality_uniform(8, 8)) < 1e-12 && fabs(r3[1]) < 1e-12 &&
                fabs(r3[2] - kd_rg_locality_block(8, 8, 2)) < 1e-12,
            "layer: uniform, delta, block = %.4f %.4f %.4f", r3[0], r3[1], r3[2]);
    /* a chain (height 1) and a zero field */
    float c8[8] = {0, 0, 1, 1, 1, 0, 0, 0};
    kd_rg_locality_radius(8, 1, c8, 1, &rg, &cx, NULL);
    kd_test_rel(rg, sqrt(2.0 / 3.0), 1e-12, "chain: block of 3 has R_g² = 2/3");
    memset(f, 0, sizeof f);
    kd_rg_locality_radius(8, 8, f, 1, &rg, NULL, NULL);
    kd_test(isnan(rg), "zero field: R_g = NaN");
    kd_test_rel(kd_rg_locality_block_size(40, 40, 100), 4.0, 1e-15, "1600 -> 100 is b = 4");
    double vals[5] = {3, NAN, 1, 2, 4};
    kd_rg_summary sm;
    kd_rg_summarize(vals, 5, &sm);
    kd_test(sm.n_used == 4 && sm.median == 2.5 && sm.min == 1 && sm.max == 4 && sm.mean == 2.5,
            "summary skips NaN: median %.3g mean %.3g", sm.median, sm.mean);
}

int main(void)
{
    test_hrg_equals_hrbm();
    test_exactness();
    test_walsh();
    test_decimation();
    test_decimation_dbn();
    test_trained();
    test_blockspin_patterns();
    test_blockspin_dataset();
    test_locality();
    return kd_test_done();
}
