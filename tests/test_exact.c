/*
 * Exact references, checked against each other and against independent numbers:
 *  - T_c, K_c, Onsager u(T), m(T): closed values, limits, and values of the
 *    PHYSICS.md formula evaluated independently in 40-digit arithmetic;
 *  - Kaufman's finite torus against brute-force enumeration of all 2^N states
 *    (L = 2..5, both sides of T_c, J = ±1), the PHYSICS.md 10×10 and 40×40
 *    values, the Onsager limit at L = 256, and its high/low-T asymptotics;
 *  - the transfer-matrix chain against enumeration (periodic and open, any J, h),
 *    Z_8(K=1), ⟨s_0 s_1⟩, and the closed forms that hold for h = 0 or J = 0;
 *  - the enumeration itself against hand-counted tiny systems.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "kadanoff/kadanoff.h"
#include "testing.h"

#define LN2 0.69314718055994530942

/* ---- critical point and Onsager --------------------------------------- */

static void test_critical_point(void)
{
    /* PHYSICS.md prints 12 decimals */
    kd_test_abs(kd_exact_tc(), 2.269185314213, 1e-12, "T_c");
    kd_test_abs(kd_exact_kc(), 0.440686793510, 1e-12, "K_c");
    /* T_c = 1/K_c up to rounding of the two expressions */
    kd_test_rel(kd_exact_tc() * kd_exact_kc(), 1.0, 4e-16, "T_c K_c = 1");
    /* sinh 2K_c = 1 (self-dual point), to rounding */
    kd_test_rel(sinh(2.0 * kd_exact_kc()), 1.0, 4e-16, "sinh 2K_c = 1");
}

static void test_onsager(void)
{
    const double tc = kd_exact_tc();
    /* at T_c exactly the vanishing prefactor kills the divergent K₁: exact -√2 */
    kd_test_rel(kd_onsager_energy(tc), -sqrt(2.0), 1e-15, "u(T_c) = -sqrt 2");
    /* one ulp away from T_c: u has a |t| ln|t| singularity, so a relative shift of
     * ε in T moves u by ~ε ln(1/ε) ≈ 1e-14 */
    kd_test_rel(kd_onsager_energy(tc * (1 + 2.3e-16)), -sqrt(2.0), 1e-13, "u(T_c+)");
    kd_test_rel(kd_onsager_energy(tc * (1 - 2.3e-16)), -sqrt(2.0), 1e-13, "u(T_c-)");
    kd_test(kd_onsager_energy(0) == -2.0 && kd_onsager_energy(INFINITY) == 0.0,
            "u(0) = -2, u(inf) = 0");
    kd_test(kd_onsager_magnetization(0) == 1.0 && kd_onsager_magnetization(INFINITY) == 0.0 &&
                kd_onsager_magnetization(tc) == 0.0 && kd_onsager_magnetization(3.0) == 0.0,
            "m(0) = 1, m(T >= T_c) = 0");
    kd_test(isnan(kd_onsager_energy(-1.0)) && isnan(kd_onsager_magnetization(NAN)),
            "Onsager functions return NaN for T < 0 or NaN");

    /* u(T), m(T) from the PHYSICS.md formulas in 40-digit arithmetic (mpmath
     * ellipk); 2e-15 relative covers the rounding of K = 1/T and of the AGM */
    static const struct {
        double T, u, m;
    } ref[] = {
        {0.5, -1.9999990988116571, 0.99999977462720857},
        {1.0, -1.9971602041122511, 0.9992757519570612},
        {2.0, -1.745564575312554, 0.91131937787749598},
        {2.2, -1.5464891440984544, 0.78475513138392151},
        {2.269, -1.4151110871267883, 0.3768892264219719},
        {2.27, -1.4108644329893981, 0.0},
        {2.5, -1.1060792037457909, 0.0},
        {3.0, -0.81730959250242014, 0.0},
        {10.0, -0.20337739109735566, 0.0},
        {1e4, -0.00020000000333333338, 0.0},
        {1e8, -2.0000000000000003e-8, 0.0},
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "Onsager u(T = %g)", ref[i].T);
        kd_test_rel(kd_onsager_energy(ref[i].T), ref[i].u, 2e-15, what);
        snprintf(what, sizeof what, "Onsager m(T = %g)", ref[i].T);
        /* m = (1 - sinh⁻⁴2K)^{1/8}: the rounding of K = 1/T enters 1 - sinh⁻⁴2K
         * relative to its size (4e-4 at T = 2.269), divided by 8 */
        kd_test_abs(kd_onsager_magnetization(ref[i].T), ref[i].m, 1e-13, what);
    }
}

/* ---- Kaufman ------------------------------------------------------------ */

static void test_kaufman_vs_enumeration(void)
{
    const double temps[] = {0.5, 1.0, 2.0, 2.269185314213022, 2.5, 3.5, 10.0};
    const size_t nt = sizeof temps / sizeof temps[0];
    const struct {
        int L;
        double J;
    } cases[] = {{2, 1.0}, {3, 1.0}, {4, 1.0}, {5, 1.0}, {2, -1.0}, {4, -1.0}, {4, 0.7}};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        kd_lattice lat = {KD_LATTICE_SQUARE, cases[ci].L, KD_BOUNDARY_PERIODIC, cases[ci].J, 0.0};
        for (size_t t = 0; t < nt; t++) {
            kd_thermo a, b;
            char what[96];
            kd_status s1 = kd_kaufman_torus(lat.L, lat.J, temps[t], &a);
            kd_status s2 = kd_enumerate_exact(&lat, temps[t], &b);
            if (!kd_test(s1 == KD_OK && s2 == KD_OK, "Kaufman/enumeration L=%d T=%g run", lat.L,
                         temps[t]))
                continue;
            /* both exact; measured agreement is ~1e-13 (c at T = 0.5, formed from
             * mode sums that cancel as e^{-4K}), so 1e-10 leaves margin */
            snprintf(what, sizeof what, "Kaufman vs enumeration L=%d J=%g T=%g lnZ", lat.L,
                     lat.J, temps[t]);
            kd_test_rel(a.lnZ, b.lnZ, 1e-10, what);
            snprintf(what, sizeof what, "Kaufman vs enumeration L=%d J=%g T=%g e", lat.L, lat.J,
                     temps[t]);
            kd_test_rel(a.e, b.e, 1e-10, what);
            snprintf(what, sizeof what, "Kaufman vs enumeration L=%d J=%g T=%g c", lat.L, lat.J,
                     temps[t]);
            kd_test_rel(a.c, b.c, 1e-10, what);
        }
    }
}

static void test_kaufman_tables(void)
{
    /* PHYSICS.md, 10×10: e to 6 decimals, c to 4 decimals */
    static const struct {
        double T, e, c;
    } tab[] = {
        {1.0, -1.997160, 0.0234}, {1.5, -1.951117, 0.1973}, {2.0, -1.745431, 0.7232},
        {2.25, -1.500168, 1.2333}, {0.0, -1.476243, 1.2600}, {2.5, -1.185101, 1.1332},
        {3.0, -0.825641, 0.4396}, {4.0, -0.557447, 0.1718}, {6.0, -0.349368, 0.0638},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        double T = tab[i].T == 0.0 ? kd_exact_tc() : tab[i].T;
        kd_thermo th;
        char what[64];
        kd_test(kd_kaufman_torus(10, 1.0, T, &th) == KD_OK, "Kaufman 10x10 T=%g", T);
        snprintf(what, sizeof what, "10x10 table e(T=%.4f)", T);
        kd_test_abs(th.e, tab[i].e, 5e-7, what); /* half a unit of the 6th decimal */
        snprintf(what, sizeof what, "10x10 table c(T=%.4f)", T);
        kd_test_abs(th.c, tab[i].c, 5e-5, what); /* half a unit of the 4th decimal */
    }
    kd_thermo th;
    kd_test(kd_kaufman_torus(40, 1.0, 1.0 / 0.408, &th) == KD_OK, "Kaufman 40x40");
    kd_test_abs(th.e, -1.151821, 5e-7, "40x40 K=0.408 e (6 decimals printed)");
    kd_test_abs(th.c, 0.99467, 5e-6, "40x40 K=0.408 c (5 decimals printed)");
}

static void test_kaufman_limits(void)
{
    kd_thermo th;
    /* Onsager limit: away from T_c the torus differs from the infinite lattice
     * by terms ~e^{-L/ξ}, far below rounding for L = 256 (ξ < 10 here), so only
     * the accumulated rounding of the mode sums remains */
    const double temps[] = {1.0, 1.5, 2.0, 2.6, 3.0, 4.0, 6.0};
    for (size_t i = 0; i < sizeof temps / sizeof temps[0]; i++) {
        char what[64];
        kd_kaufman_torus(256, 1.0, temps[i], &th);
        snprintf(what, sizeof what, "Kaufman L=256 -> Onsager u(T=%g)", temps[i]);
        kd_test_rel(th.e, kd_onsager_energy(temps[i]), 1e-12, what);
    }

    /* T = 0 and T = inf */
    kd_test(kd_kaufman_torus(6, 1.0, 0.0, &th) == KD_OK && isinf(th.lnZ) && th.lnZ > 0 &&
                th.e == -2.0 && th.c == 0.0,
            "Kaufman T = 0: lnZ = inf, e = -2, c = 0");
    kd_test(kd_kaufman_torus(6, -1.5, INFINITY, &th) == KD_OK && th.e == 0.0 && th.c == 0.0,
            "Kaufman T = inf: e = 0, c = 0");
    kd_test_rel(th.lnZ, 36 * LN2, 1e-15, "Kaufman T = inf: lnZ = N ln 2");

    /* high T: lnZ = N ln2 + 2N ln cosh K + ln(1 + N t⁴ + ...) for L >= 5, so
     * e = -2 tanh K (1 + O(t²)) and c = 2K² sech²K (1 + O(t²)); at K = 1e-6 the
     * O(t²) terms are ~1e-12 — the check is that nothing cancels catastrophically */
    for (double K = 1e-6; K > 1e-300; K *= 1e-50) {
        char what[64];
        kd_kaufman_torus(16, 1.0, 1.0 / K, &th);
        snprintf(what, sizeof what, "Kaufman high T e (K=%g)", K);
        kd_test_rel(th.e, -2.0 * tanh(K), 1e-11, what);
        snprintf(what, sizeof what, "Kaufman high T c (K=%g)", K);
        kd_test_rel(th.c, 2.0 * K * K, 1e-11, what);
    }
    /* low T: e = -2 + O(e^{-8K}), c = O(K² e^{-8K}) */
    kd_kaufman_torus(16, 1.0, 0.1, &th);
    kd_test_rel(th.e, -2.0, 1e-15, "Kaufman T = 0.1: e = -2");
    kd_test(th.c >= 0 && th.c < 1e-25, "Kaufman T = 0.1: 0 <= c < 1e-25 (got %g)", th.c);

    /* large L, all T: finite and physical (lnZ >= N ln 2 up to the rounding of
     * 2048 mode sums) */
    const double wide[] = {1e-3, 0.05, 1.0, 2.269185314213022, 2.27, 3.0, 100.0, 1e12, 1e300};
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++) {
        kd_status st = kd_kaufman_torus(1024, 1.0, wide[i], &th);
        kd_test(st == KD_OK && isfinite(th.lnZ) && th.e >= -2.0 && th.e <= 0.0 && th.c >= 0 &&
                    isfinite(th.c) && th.lnZ >= 1024.0 * 1024.0 * LN2 * (1 - 1e-14),
                "Kaufman L=1024 T=%g: lnZ %g, e %g, c %g are finite and physical", wide[i],
                th.lnZ, th.e, th.c);
    }
    kd_kaufman_torus(1024, 1.0, 3.0, &th);
    kd_test_rel(th.e, kd_onsager_energy(3.0), 1e-12, "Kaufman L=1024 -> Onsager u(3)");

    /* J only sets the temperature scale: e(J, T) = J e(1, T/J) */
    kd_thermo a, b;
    kd_kaufman_torus(8, 2.0, 4.6, &a);
    kd_kaufman_torus(8, 1.0, 2.3, &b);
    kd_test_rel(a.e, 2.0 * b.e, 1e-14, "Kaufman J scaling e");
    kd_test_rel(a.c, b.c, 1e-14, "Kaufman J scaling c");
    kd_test_rel(a.lnZ, b.lnZ, 1e-14, "Kaufman J scaling lnZ");

    /* errors */
    kd_clear_error();
    kd_test(kd_kaufman_torus(3, -1.0, 2.0, &th) == KD_ERR_UNSUPPORTED && *kd_last_error(),
            "Kaufman odd L with J < 0 is unsupported, with a message");
    kd_test(kd_kaufman_torus(1, 1.0, 2.0, &th) == KD_ERR_INVALID, "Kaufman L = 1 is invalid");
    kd_test(kd_kaufman_torus(4, 1.0, -1.0, &th) == KD_ERR_INVALID, "Kaufman T < 0 is invalid");
    kd_test(kd_kaufman_torus(4, 1.0, NAN, &th) == KD_ERR_INVALID, "Kaufman T = NaN is invalid");
    kd_test(kd_kaufman_torus(4, INFINITY, 1.0, &th) == KD_ERR_INVALID,
            "Kaufman J = inf is invalid");
    kd_test(kd_kaufman_torus(4, 1.0, 1.0, NULL) == KD_ERR_INVALID, "Kaufman NULL output");
}

/* ---- chain --------------------------------------------------------------- */

/* ⟨s_0 s_r⟩ of the periodic chain at h = 0 by summing all 2^L states */
static double brute_correlation(int L, double J, double T, int r)
{
    double num = 0, den = 0;
    kd_lattice lat = {KD_LATTICE_CHAIN, L, KD_BOUNDARY_PERIODIC, J, 0.0};
    int8_t s[32];
    double emin = -fabs(J); /* per spin, a lower bound: keeps the weights <= 1 */
    for (uint32_t bits = 0; bits < (1u << L); bits++) {
        for (int i = 0; i < L; i++)
            s[i] = (bits >> i) & 1u ? 1 : -1;
        double w = exp(-(kd_ising_energy(&lat, s) - emin) * L / T);
        num += w * s[0] * s[r % L];
        den += w;
    }
    return num / den;
}

static void test_chain(void)
{
    kd_thermo th;
    /* PHYSICS.md prints Z_8(K=1) with 14 significant digits */
    kd_chain_exact(8, KD_BOUNDARY_PERIODIC, 1.0, 0.0, 1.0, &th);
    kd_test_rel(exp(th.lnZ), 9160.4387226426, 1e-13, "chain Z_8(K=1)");
    /* printed to 10 decimals */
    kd_test_abs(kd_chain_correlation(8, 1.0, 1.0, 1), 0.8176628754, 5e-11,
                "chain <s0 s1>, N=8, K=1");

    /* against enumeration: both exact, agreement measured ~1e-15 for lnZ and e;
     * c loses digits only where it is tiny (low T), so 1e-10 relative */
    const double Js[] = {1.0, -1.0, 0.3, 0.0};
    const double hs[] = {0.0, 0.5, -1.3};
    const double temps[] = {0.5, 1.0, 2.5, 10.0, 1e4};
    const int Ls[] = {2, 3, 8, 13};
    double worst[3] = {0, 0, 0};
    int bad = 0;
    for (int bc = 0; bc < 2; bc++)
        for (size_t li = 0; li < 4; li++)
            for (size_t ji = 0; ji < 4; ji++)
                for (size_t hi = 0; hi < 3; hi++)
                    for (size_t ti = 0; ti < 5; ti++) {
                        kd_lattice lat = {KD_LATTICE_CHAIN, Ls[li], (kd_boundary)bc, Js[ji],
                                          hs[hi]};
                        kd_thermo a, b;
                        kd_chain_exact(lat.L, lat.boundary, lat.J, lat.field, temps[ti], &a);
                        kd_enumerate_exact(&lat, temps[ti], &b);
                        double d[3] = {fabs(a.lnZ - b.lnZ) / fabs(b.lnZ),
                                       b.e != 0 ? fabs(a.e - b.e) / fabs(b.e) : fabs(a.e),
                                       b.c != 0 ? fabs(a.c - b.c) / fabs(b.c) : fabs(a.c)};
                        for (int k = 0; k < 3; k++) {
                            if (!(d[k] <= 1e-10)) {
                                bad++;
                                kd_test(0, "chain vs enumeration %s L=%d J=%g h=%g T=%g: %s "
                                           "rel. diff %.3g",
                                        kd_boundary_name(lat.boundary), lat.L, lat.J, lat.field,
                                        temps[ti], k == 0 ? "lnZ" : k == 1 ? "e" : "c", d[k]);
                            }
                            if (d[k] > worst[k])
                                worst[k] = d[k];
                        }
                    }
    kd_test(!bad, "chain vs enumeration (480 cases): worst rel. diff lnZ %.2g, e %.2g, c %.2g",
            worst[0], worst[1], worst[2]);

    /* T = 0: ground-state energy (sums of J and h in another order: 1e-14) */
    for (int bc = 0; bc < 2; bc++)
        for (size_t ji = 0; ji < 4; ji++)
            for (size_t hi = 0; hi < 3; hi++)
                for (int L = 2; L <= 9; L++) {
                    kd_lattice lat = {KD_LATTICE_CHAIN, L, (kd_boundary)bc, Js[ji], hs[hi]};
                    kd_thermo a, b;
                    kd_chain_exact(L, lat.boundary, lat.J, lat.field, 0.0, &a);
                    kd_enumerate_exact(&lat, 0.0, &b);
                    if (fabs(a.e - b.e) > 1e-14 || a.lnZ != b.lnZ || a.c != 0)
                        kd_test(0, "chain T=0 %s L=%d J=%g h=%g: e %.17g vs %.17g, lnZ %g vs %g",
                                kd_boundary_name(lat.boundary), L, lat.J, lat.field, a.e, b.e,
                                a.lnZ, b.lnZ);
                }
    kd_test(kd_chain_exact(5, KD_BOUNDARY_OPEN, 1.0, 0.3, INFINITY, &th) == KD_OK &&
                th.e == 0 && th.c == 0,
            "chain T = inf: e = 0, c = 0");
    kd_test_rel(th.lnZ, 5 * LN2, 1e-15, "chain T = inf: lnZ = L ln 2");

    /* closed forms, at all T (1e-13: a few roundings of tanh, cosh) */
    const double wide[] = {1e-8, 0.05, 0.3, 1.0, 7.0, 1e6, 1e200};
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++) {
        double T = wide[i];
        char what[96];
        /* periodic, h = 0: e = -J ⟨s0 s1⟩ */
        for (int L = 7; L <= 8; L++)
            for (double J = -1.0; J <= 1.0; J += 2.0) {
                kd_chain_exact(L, KD_BOUNDARY_PERIODIC, J, 0.0, T, &th);
                snprintf(what, sizeof what, "periodic chain e = -J<s0 s1>, L=%d J=%g T=%g", L, J,
                         T);
                kd_test_rel(th.e, -J * kd_chain_correlation(L, J, T, 1), 1e-13, what);
            }
        /* open, h = 0: independent bonds, e = -J tanh K (L-1)/L, c = K² sech² K (L-1)/L */
        double K = 0.8 / T;
        kd_chain_exact(10, KD_BOUNDARY_OPEN, 0.8, 0.0, T, &th);
        snprintf(what, sizeof what, "open chain h=0 e, T=%g", T);
        kd_test_rel(th.e, -0.8 * tanh(K) * 0.9, 1e-13, what);
        snprintf(what, sizeof what, "open chain h=0 c, T=%g", T);
        if (K < 300) /* below that c underflows */
            kd_test_rel(th.c, 0.9 * K * K / (cosh(K) * cosh(K)), 1e-13, what);
        /* J = 0: free spins in a field, e = -h tanh βh, c = (βh)² sech² βh */
        double H = -1.1 / T;
        for (int bc = 0; bc < 2; bc++) {
            kd_chain_exact(9, (kd_boundary)bc, 0.0, -1.1, T, &th);
            snprintf(what, sizeof what, "free spins %s e, T=%g", bc ? "open" : "periodic", T);
            kd_test_rel(th.e, 1.1 * tanh(H), 1e-13, what);
            snprintf(what, sizeof what, "free spins %s c, T=%g", bc ? "open" : "periodic", T);
            if (fabs(H) < 300)
                kd_test_rel(th.c, H * H / (cosh(H) * cosh(H)), 1e-13, what);
        }
    }
    /* long chains stay finite, all T (L = 2^28 - 1: odd, frustrated for J < 0) */
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
        for (int bc = 0; bc < 2; bc++) {
            kd_status st = kd_chain_exact((1 << 28) - 1, (kd_boundary)bc, -1.0, 0.5, wide[i], &th);
            kd_test(st == KD_OK && !isnan(th.lnZ) && isfinite(th.e) && isfinite(th.c) &&
                        th.c >= 0,
                    "long %s chain T=%g: e %g, c %g finite", bc ? "open" : "periodic", wide[i],
                    th.e, th.c);
        }

    /* correlation against direct summation (1e-13: sums of 2^9 terms) */
    for (int L = 8; L <= 9; L++)
        for (double J = -1.0; J <= 1.0; J += 2.0)
            for (double T = 0.7; T < 3; T += 1.3)
                for (int r = 0; r <= L; r += 3) {
                    char what[80];
                    snprintf(what, sizeof what, "chain <s0 s%d> L=%d J=%g T=%g", r, L, J, T);
                    kd_test_abs(kd_chain_correlation(L, J, T, r), brute_correlation(L, J, T, r),
                                1e-13, what);
                }
    /* frustrated odd ring at T = 0: a single defect bond anywhere, ⟨s0 sr⟩ = (-1)^r (L-2r)/L */
    kd_test_abs(kd_chain_correlation(9, -1.0, 0.0, 2), 5.0 / 9.0, 1e-15, "odd AF ring T=0, r=2");
    kd_test_abs(kd_chain_correlation(9, -1.0, 0.0, 3), -3.0 / 9.0, 1e-15, "odd AF ring T=0, r=3");
    kd_test_abs(kd_chain_correlation(9, -1.0, 1e-3, 3), -3.0 / 9.0, 1e-15,
                "odd AF ring T=1e-3 (continuous at T = 0)");
    kd_test(kd_chain_correlation(9, 1.0, INFINITY, 3) == 0.0 &&
                kd_chain_correlation(9, 1.0, INFINITY, 9) == 1.0 &&
                isnan(kd_chain_correlation(9, 1.0, 1.0, 10)),
            "chain correlation at T = inf and out of range");

    /* errors */
    kd_test(kd_chain_exact(1, KD_BOUNDARY_OPEN, 1, 0, 1, &th) == KD_ERR_INVALID,
            "chain L = 1 invalid");
    kd_test(kd_chain_exact(4, (kd_boundary)7, 1, 0, 1, &th) == KD_ERR_INVALID,
            "chain bad boundary invalid");
    kd_test(kd_chain_exact(4, KD_BOUNDARY_OPEN, NAN, 0, 1, &th) == KD_ERR_INVALID,
            "chain J = NaN invalid");
    kd_test(kd_chain_exact(4, KD_BOUNDARY_OPEN, 1, 0, -2, &th) == KD_ERR_INVALID,
            "chain T < 0 invalid");
}

/* ---- enumeration --------------------------------------------------------- */

static void test_enumeration(void)
{
    kd_thermo th;
    const double beta = 0.7, J = 0.9, h = -0.4;
    /* two spins, open: Z = 2e^{βJ} cosh 2βh + 2e^{-βJ} (1e-14: a few roundings) */
    kd_lattice two = {KD_LATTICE_CHAIN, 2, KD_BOUNDARY_OPEN, J, h};
    kd_enumerate_exact(&two, 1.0 / beta, &th);
    kd_test_rel(th.lnZ, log(2 * exp(beta * J) * cosh(2 * beta * h) + 2 * exp(-beta * J)), 1e-14,
                "enumeration: 2 spins, open");
    /* two spins, periodic: the bond is doubled */
    two.boundary = KD_BOUNDARY_PERIODIC;
    kd_enumerate_exact(&two, 1.0 / beta, &th);
    kd_test_rel(th.lnZ,
                log(2 * exp(2 * beta * J) * cosh(2 * beta * h) + 2 * exp(-2 * beta * J)), 1e-14,
                "enumeration: 2 spins, periodic");

    /* 2×2 torus (8 bonds, B = Σ s_i s_j): B = 8 (2 states), 0 (12), -8 (2), so
     * Z = 2e^{8K} + 12 + 2e^{-8K}, ⟨B⟩ = 32 sinh 8K / Z */
    kd_lattice sq = {KD_LATTICE_SQUARE, 2, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    for (double T = 0.5; T < 5; T += 1.5) {
        double K = 1.0 / T, Z = 2 * exp(8 * K) + 12 + 2 * exp(-8 * K);
        /* var B = ⟨B²⟩ - ⟨B⟩² = (1024 + 3072 cosh 8K)/Z², simplified by hand so that
         * the reference itself does not subtract */
        double mB = 32 * sinh(8 * K) / Z, varB = (1024 + 3072 * cosh(8 * K)) / (Z * Z);
        kd_enumerate_exact(&sq, T, &th);
        char what[64];
        snprintf(what, sizeof what, "enumeration 2x2 torus lnZ, T=%g", T);
        kd_test_rel(th.lnZ, log(Z), 1e-14, what); /* a few roundings */
        snprintf(what, sizeof what, "enumeration 2x2 torus e, T=%g", T);
        kd_test_rel(th.e, -mB / 4, 1e-14, what);
        snprintf(what, sizeof what, "enumeration 2x2 torus c, T=%g", T);
        kd_test_rel(th.c, K * K * varB / 4, 1e-14, what);
    }

    /* J = 0: free spins, lnZ = N ln 2cosh βh, e = -h tanh βh, c = (βh)² sech² βh */
    kd_lattice freel = {KD_LATTICE_SQUARE, 3, KD_BOUNDARY_OPEN, 0.0, 0.6};
    kd_enumerate_exact(&freel, 0.8, &th);
    double H = 0.6 / 0.8;
    kd_test_rel(th.lnZ, 9 * log(2 * cosh(H)), 1e-14, "enumeration free spins lnZ");
    kd_test_rel(th.e, -0.6 * tanh(H), 1e-14, "enumeration free spins e");
    kd_test_rel(th.c, H * H / (cosh(H) * cosh(H)), 1e-13, "enumeration free spins c");

    /* high T: ⟨H⟩ = -β var H + O(β²) must not cancel (e ∝ β, not ε/β) */
    kd_lattice hot = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    kd_enumerate_exact(&hot, 1e9, &th);
    /* 32 bonds, var H = 32 at β = 0: e = -β 32/16 = -2β, c = 2β²; the third
     * cumulant vanishes (no closed loops of 3 bonds on a 4×4 torus), so the
     * corrections are O(β²) relative */
    kd_test_rel(th.e, -2e-9, 1e-12, "enumeration high T e = -2 beta");
    kd_test_rel(th.c, 2e-18, 1e-12, "enumeration high T c = 2 beta^2");

    /* T = 0: ground state, Z → ∞; T = inf */
    kd_enumerate_exact(&hot, 0.0, &th);
    kd_test(isinf(th.lnZ) && th.e == -2.0 && th.c == 0.0, "enumeration T = 0");
    kd_enumerate_exact(&hot, INFINITY, &th);
    kd_test(th.e == 0.0 && th.c == 0.0, "enumeration T = inf: e = c = 0");
    kd_test_rel(th.lnZ, 16 * LN2, 1e-15, "enumeration T = inf: lnZ = N ln 2");

    /* the histogram is exact: results do not depend on the thread count */
    kd_lattice l4 = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_OPEN, -0.8, 0.3};
    kd_thermo a, b;
    int saved = kd_get_threads();
    kd_set_threads(1);
    kd_enumerate_exact(&l4, 1.7, &a);
    kd_set_threads(3);
    kd_enumerate_exact(&l4, 1.7, &b);
    kd_set_threads(saved);
    kd_test(a.lnZ == b.lnZ && a.e == b.e && a.c == b.c,
            "enumeration independent of thread count");

    /* refusals */
    kd_lattice big = {KD_LATTICE_SQUARE, 6, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    kd_clear_error();
    kd_test(kd_enumerate_exact(&big, 1.0, &th) == KD_ERR_UNSUPPORTED && *kd_last_error(),
            "enumeration refuses N = 36 with a message");
    kd_lattice chain31 = {KD_LATTICE_CHAIN, 31, KD_BOUNDARY_OPEN, 1.0, 0.0};
    kd_test(kd_enumerate_exact(&chain31, 1.0, &th) == KD_ERR_UNSUPPORTED,
            "enumeration refuses N = 31");
    kd_lattice badl = {KD_LATTICE_SQUARE, 1, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    kd_test(kd_enumerate_exact(&badl, 1.0, &th) == KD_ERR_INVALID, "enumeration L = 1 invalid");
    kd_test(kd_enumerate_exact(&hot, -1.0, &th) == KD_ERR_INVALID, "enumeration T < 0 invalid");
}

int main(void)
{
    test_critical_point();
    test_onsager();
    test_kaufman_vs_enumeration();
    test_kaufman_tables();
    test_kaufman_limits();
    test_chain();
    test_enumeration();
    return kd_test_done();
}
