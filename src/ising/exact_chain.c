/*
 * The 1D Ising chain from its 2×2 transfer matrix, any J, h, periodic or open.
 *
 *   T_{ss'} = exp(K s s' + H (s + s')/2),  K = βJ, H = βh,
 *   periodic: Z = Tr T^L = λ+^L + λ-^L,   open: Z = u^T T^{L-1} u,  u_s = e^{H s/2}.
 *
 * e and c are analytic: every quantity is a "jet" (f, df/dβ, d²f/dβ²) pushed
 * through the closed forms with the chain rule (forward-mode differentiation), so
 *   e = -(1/L) ∂lnZ/∂β,   c = (β²/L) ∂²lnZ/∂β²
 * are exact to rounding; no finite differences are taken. Accuracy (measured
 * against enumeration, L = 2..13, T = 0.5..1e4, J, h of both signs): lnZ and e
 * to a few ε, c to ~3e-14 relative; where c is exponentially small (T ≪ |J|, |h|)
 * it keeps an absolute accuracy of ~ε β² instead.
 *
 * Which formula is used is decided by where cancellations would occur:
 *
 * High T (|βJ| <= 1 and |βh| <= 1): forms in cosh, tanh, expm1 whose derivatives
 * stay relative-accurate as K, H → 0 (e → -J tanh K to ε, not ε/K); see
 * chain_hight below.
 *
 * Otherwise the matrix is scaled by e^{-β m₀}, m₀ = max(J + |h|, -J), so that its
 * entries A = e^{β(J+h-m₀)}, D = e^{β(J-h-m₀)}, B = e^{-β(J+m₀)} are <= 1 and one
 * of them is exactly 1 (no overflow at any T).
 *   Periodic: ln Z = L ln λ+ + ln(1 + r^L), r = λ-/λ+ ∈ (-1, 1). λ- < 0 when
 *   J < 0 (λ+λ- = det T = 2 sinh 2K), so for odd L the second term is
 *   ln(1 - |r|^L), which cancels badly when |r| → 1 (frustrated ring at low T).
 *   ln|r| is therefore computed from whichever form is accurate:
 *     |r| <= ½:          ln|r| = ln|det| - 2 ln λ+,
 *     |r| > ½, J > 0:    r = 1 - √disc/λ+   (ln r = log1p(-√disc/λ+)),
 *     |r| > ½, J < 0:    |r| = 1 - Tr T/λ+  (Tr T kept in log form, so that even
 *                        when it underflows ln(1 - |r|^L) → ln(L Tr T/λ+) is right).
 *   Open: h = 0 is Z = 2 (2 cosh K)^{L-1}; otherwise T^{L-1} by repeated squaring.
 *   All entries are positive, so the products have no cancellation at all; after
 *   each product the matrix is divided by its trace and the logarithm of the
 *   scale is carried separately (as a jet).
 *
 * T = 0 gives the ground-state energy (min-plus matrix powers) and lnZ = +inf;
 * T = inf gives lnZ = L ln 2, e = c = 0.
 */
#include <math.h>
#include <stdint.h>

#include "core/error.h"
#include "ising/jet.h"
#include "kadanoff/exact.h"

static const double ln2_const = 0.69314718055994530942;

/* ---- further jets (jet.h has the arithmetic), derivatives in β ---- */

/* ln(2 cosh y) = |y| + log1p(e^{-2|y|}) */
static jet jlog2cosh(jet y)
{
    jet ay = y.v < 0 ? jscale(-1.0, y) : y;
    return jadd(ay, jlog1p(jexp(jscale(-2.0, ay))));
}
/* ln(2 sinh a) = a + ln(1 - e^{-2a}) for a > 0 */
static jet jlog2sinh(jet a)
{
    return jadd(a, jlog(jscale(-1.0, jexpm1(jscale(-2.0, a)))));
}
/* g(z) = ln((1 - e^{-z})/z), z >= 0, so that ln(1 - e^{-z}) = ln z + g(z)
 * without cancellation for small z. Below z = 0.3 the Bernoulli series
 * g = -z/2 + Σ B_{2n} z^{2n} / (2n (2n)!) (truncation < 1e-19); above it the
 * closed forms, whose differences then lose at most two digits (used for z < 1). */
static jet jg(jet z)
{
    double x = z.v;
    if (x < 0.3) {
        static const double a[6] = {1.0 / 24, -1.0 / 2880, 1.0 / 181440, -1.0 / 9676800,
                                    1.0 / 479001600, -691.0 / 15692092416000.0};
        double f = -0.5 * x, f1 = -0.5, f2 = 0.0, x2 = x * x, p = 1.0; /* p = x^{2n-2} */
        for (int n = 1; n <= 6; n++) {
            double m = 2.0 * n;
            f2 += a[n - 1] * m * (m - 1) * p;
            f1 += a[n - 1] * m * p * x;
            p *= x2;
            f += a[n - 1] * p;
        }
        return jchain(z, f, f1, f2);
    }
    double em = exp(-x), om = -expm1(-x); /* e^{-z}, 1 - e^{-z} */
    double f1 = em / om - 1.0 / x;         /* d/dz [ln(1-e^{-z}) - ln z] */
    double f2 = -em / (om * om) + 1.0 / (x * x);
    return jchain(z, log(om / x), f1, f2);
}

/* φ(x) = ln(-ln(1-x)/x) for 0 <= x < ½, so that ln(-ln(1-x)) = ln x + φ(x) keeps
 * ln x exact. With q(x) = -ln(1-x)/x = Σ_{n>=0} xⁿ/(n+1) (positive terms):
 * φ = ln q, φ' = q'/q, φ'' = q''/q - (q'/q)² (≈ 2/3 - 1/4: no cancellation). */
static jet jphi(jet x)
{
    double q = 0.0, q1 = 0.0, q2 = 0.0, p = 1.0; /* p = xⁿ */
    double xv = x.v;
    for (int n = 0; n < 400; n++) { /* x < ½: at most ~70 terms */
        q += p / (n + 1);
        q1 += (n + 1) * p / (n + 2);
        q2 += (double)(n + 2) * (n + 1) * p / (n + 3);
        p *= xv;
        if (p * (n + 3) * (n + 3) < 1e-18) /* the rest of q'' is below 1e-18 */
            break;
    }
    double f1 = q1 / q;
    return jchain(x, log(q), f1, q2 / q - f1 * f1);
}

/* ---- periodic chain: closed form -------------------------------------- */

/* High-temperature form, used when |βJ| <= 1 and |βh| <= 1. Written in functions
 * whose derivatives do not cancel as K, H → 0 (so e → -J tanh K keeps relative
 * accuracy ε instead of ε/K):
 *   λ+ = cosh H [2 cosh K + e^{-K} δ / (1 + √(1+δ))],  δ = expm1(4K) tanh² H,
 *   r = λ-/λ+ = 2 sinh 2K / λ+²   (|r| <= tanh 1 here).
 * (From λ+ = e^K cosh H + √(e^{2K} sinh²H + e^{-2K}) and
 *  √(e^{2K} sinh²H + e^{-2K}) = cosh H e^{-K} √(1+δ).)
 * Also the weight of u = (e^{H/2}, e^{-H/2}) on the λ- eigenvector,
 *   P- = (ψ-·u)² = (λ+|u|² - uᵀTu)/(λ+ - λ-)
 *      = tanh²H expm1(2K) expm1(4K) / [cosh H √(1+δ) (1+√(1+δ)) (e^{2K} + √(1+δ))],
 * a product of same-signed factors. */
typedef struct {
    jet lnlam;  /* ln λ+ */
    jet lnabsr; /* ln |r| (value -inf when K = 0) */
    jet lncoshH;
    jet Pminus;
} hight_parts;

static hight_parts chain_hight(double J, double h, double beta)
{
    hight_parts o;
    const jet b = {beta, 1.0, 0.0};
    const jet Kj = jscale(J, b), Hj = jscale(h, b);
    const double K = Kj.v, H = Hj.v;
    const double chK = cosh(K), chH = cosh(H), thK = tanh(K), thH = tanh(H);
    const jet one = jconst(1.0);
    o.lncoshH = jchain(Hj, log(chH), thH, 1.0 / (chH * chH));
    const jet ln2coshK = jchain(Kj, log(2.0 * chK), thK, 1.0 / (chK * chK));
    const jet c2K = jchain(Kj, 2.0 * chK, 2.0 * sinh(K), 2.0 * chK);
    const double e2 = exp(2.0 * K), e4 = e2 * e2;
    const jet em4 = jchain(Kj, expm1(4.0 * K), 4.0 * e4, 16.0 * e4);
    const jet em2 = jchain(Kj, expm1(2.0 * K), 2.0 * e2, 4.0 * e2);
    const jet th = jchain(Hj, thH, 1.0 / (chH * chH), -2.0 * thH / (chH * chH));
    const jet th2 = jmul(th, th);
    const jet delta = jmul(em4, th2);
    const jet sq = jsqrt(jadd(one, delta));
    const jet corr = jdiv(jmul(jexp(jscale(-1.0, Kj)), delta), jmul(jadd(one, sq), c2K));
    o.lnlam = jadd(jadd(o.lncoshH, ln2coshK), jlog1p(corr));
    if (K != 0) {
        const double s2 = sinh(2.0 * K);
        const jet ln2s =
            jchain(Kj, log(2.0 * fabs(s2)), 2.0 * cosh(2.0 * K) / s2, -4.0 / (s2 * s2));
        o.lnabsr = jsub(ln2s, jscale(2.0, o.lnlam));
    } else {
        o.lnabsr = jconst(-INFINITY);
    }
    const jet coshH = jchain(Hj, chH, sinh(H), chH);
    const jet den = jmul(jmul(coshH, sq), jmul(jadd(one, sq), jadd(jexp(jscale(2.0, Kj)), sq)));
    o.Pminus = jdiv(jmul(th2, jmul(em2, em4)), den);
    return o;
}

/* sign · |r|^n as a jet, 0 when it underflows */
static jet jrpow(const hight_parts *p, double J, int n)
{
    jet t = jscale((double)n, p->lnabsr);
    if (!(t.v >= -700.0))
        return jconst(0.0);
    jet v = jexp(t);
    return (J < 0 && n % 2) ? jscale(-1.0, v) : v;
}

static jet chain_periodic_hight(int L, double J, double h, double beta)
{
    hight_parts p = chain_hight(J, h, beta);
    /* ln Z = L ln λ+ + ln(1 + r^L) */
    return jadd(jscale((double)L, p.lnlam), jlog1p(jrpow(&p, J, L)));
}

/* Open chain: Z = Σ± (ψ±·u)² λ±^{L-1} = λ+^{L-1} [|u|² - P- (1 - r^{L-1})], |u|² = 2 cosh H */
static jet chain_open_hight(int L, double J, double h, double beta)
{
    hight_parts p = chain_hight(J, h, beta);
    jet omr = jsub(jconst(1.0), jrpow(&p, J, L - 1));
    jet frac = jscale(-0.5, jdiv(jmul(p.Pminus, omr), jexp(p.lncoshH)));
    return jadd(jadd(jscale((double)(L - 1), p.lnlam), jadd(jconst(ln2_const), p.lncoshH)),
                jlog1p(frac));
}

static jet chain_periodic_lnz(int L, double J, double h, double beta)
{
    if (fabs(beta * J) <= 1.0 && fabs(beta * h) <= 1.0)
        return chain_periodic_hight(L, J, h, beta);
    const jet b = {beta, 1.0, 0.0};
    const double m0 = fmax(J + fabs(h), -J);
    const jet S = jscale(m0, b);
    const jet A = jexp(jscale(J + h - m0, b));
    const jet D = jexp(jscale(J - h - m0, b));
    const jet B = jexp(jscale(-J - m0, b));
    /* the larger diagonal entry and |A - D| */
    const jet mx = h >= 0 ? A : D;
    const jet adiff = h >= 0 ? jsub(A, D) : jsub(D, A);
    const jet sd = jsqrt(jadd(jmul(adiff, adiff), jscale(4.0, jmul(B, B))));
    /* λ+ e^{-βm₀} = (Tr + √disc)/2 = max(A,D) + 2B²/(√disc + |A-D|), a sum of
     * positive terms. The scale m₀ makes one entry exactly e⁰ = 1: max(A,D) when
     * m₀ = J + |h|, then ln λ+ = βm₀ + log1p(2B²/(...)) keeps the linear part exact
     * (its derivatives would otherwise cancel at low T); B when m₀ = -J. */
    jet lp, lnlp;
    if (J + fabs(h) >= -J) {
        jet ratio = B.v > 0 ? jdiv(jscale(2.0, jmul(B, B)), jadd(sd, adiff)) : jconst(0.0);
        lp = jadd(jconst(1.0), ratio);
        lnlp = jlog1p(ratio);
    } else {
        lp = jadd(mx, jdiv(jscale(2.0, jmul(B, B)), jadd(sd, adiff)));
        lnlp = jlog(lp);
    }
    jet lnz = jscale((double)L, jadd(S, lnlp));
    if (J == 0) /* λ- = 0 */
        return lnz;

    /* ln|r| = ln|det| - 2 ln λ+, ln|det| = -2βm₀ + ln(2 sinh 2β|J|) (log form: no underflow) */
    jet lnr = jsub(jadd(jscale(-2.0 * m0, b), jlog2sinh(jscale(2.0 * fabs(J), b))),
                   jscale(2.0, lnlp));
    jet tail;
    if (J > 0) {
        if (lnr.v > -ln2_const) /* r > ½: r = 1 - √disc/λ+ */
            lnr = jlog1p(jscale(-1.0, jdiv(sd, lp)));
        jet t = jscale((double)L, lnr);
        tail = t.v < -700.0 ? jconst(0.0) : jlog1p(jexp(t));
    } else if (lnr.v <= -ln2_const) {
        jet t = jscale((double)L, lnr);
        if (t.v < -700.0)
            return lnz;
        jet p = jexp(t); /* |r|^L <= 2^-L */
        tail = jlog1p(L % 2 ? jscale(-1.0, p) : p);
    } else {
        /* |r| = 1 - x, x = Tr T/λ+ < ½ in log form; y = -ln|r| = -ln(1-x), z = L y,
         * ln y = ln x + φ(x) */
        jet lnx = jsub(jadd(jscale(J - m0, b), jlog2cosh(jscale(h, b))), lnlp);
        jet x = lnx.v > -700.0 ? jexp(lnx) : jconst(0.0);
        jet lnz_ = jadd(jconst(log((double)L)), jadd(lnx, jphi(x)));
        jet z = jexp(lnz_);
        if (L % 2) /* ln(1 - e^{-z}) */
            tail = z.v < 1.0 ? jadd(lnz_, jg(z)) : jlog1p(jscale(-1.0, jexp(jscale(-1.0, z))));
        else
            tail = jlog1p(jexp(jscale(-1.0, z))); /* ln(1 + e^{-z}) */
    }
    return jadd(lnz, tail);
}

/* ---- open chain: u^T T^{L-1} u by repeated squaring ------------------- */

typedef struct {
    jet m[2][2];
    jet lnscale; /* matrix = e^{lnscale} m */
} jmat;

static jmat jmat_mul(const jmat *x, const jmat *y)
{
    jmat p;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            p.m[i][j] = jadd(jmul(x->m[i][0], y->m[0][j]), jmul(x->m[i][1], y->m[1][j]));
    /* renormalise by the (positive) trace so entries stay <= 1 */
    jet tr = jadd(p.m[0][0], p.m[1][1]);
    jet inv = jrecip(tr);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            p.m[i][j] = jmul(p.m[i][j], inv);
    p.lnscale = jadd(jadd(x->lnscale, y->lnscale), jlog(tr));
    return p;
}

static jet chain_open_lnz(int L, double J, double h, double beta)
{
    const jet b = {beta, 1.0, 0.0};
    if (fabs(beta * J) <= 1.0 && fabs(beta * h) <= 1.0)
        return chain_open_hight(L, J, h, beta);
    if (h == 0) { /* Z = 2 (2 cosh K)^{L-1}: every bond is independent */
        const jet Kj = jscale(J, b);
        const double chK = cosh(Kj.v);
        return jadd(jconst(ln2_const),
                    jscale((double)(L - 1),
                           jchain(Kj, log(2.0 * chK), tanh(Kj.v), 1.0 / (chK * chK))));
    }
    const double m0 = fmax(J + fabs(h), -J);
    jmat base, acc;
    base.m[0][0] = jexp(jscale(J + h - m0, b)); /* s = s' = +1 */
    base.m[1][1] = jexp(jscale(J - h - m0, b)); /* s = s' = -1 */
    base.m[0][1] = base.m[1][0] = jexp(jscale(-J - m0, b));
    base.lnscale = jscale(m0, b);
    acc.m[0][0] = acc.m[1][1] = jconst(1.0);
    acc.m[0][1] = acc.m[1][0] = jconst(0.0);
    acc.lnscale = jconst(0.0);
    for (uint32_t n = (uint32_t)(L - 1);;) {
        if (n & 1u)
            acc = jmat_mul(&acc, &base);
        n >>= 1;
        if (!n)
            break;
        base = jmat_mul(&base, &base);
    }
    /* u_s = e^{βhs/2} = e^{β|h|/2} ũ_s with ũ_s <= 1 */
    jet up = jexp(jscale(0.5 * (h - fabs(h)), b));
    jet dn = jexp(jscale(0.5 * (-h - fabs(h)), b));
    jet q = jadd(jadd(jmul(jmul(up, up), acc.m[0][0]), jmul(jmul(dn, dn), acc.m[1][1])),
                 jmul(jmul(up, dn), jadd(acc.m[0][1], acc.m[1][0])));
    return jadd(jadd(acc.lnscale, jscale(fabs(h), b)), jlog(q));
}

/* ---- ground state (T = 0) by min-plus matrix powers ------------------- */

typedef struct {
    double m[2][2];
} emat;

static emat emat_mul(const emat *x, const emat *y)
{
    emat p;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            p.m[i][j] = fmin(x->m[i][0] + y->m[0][j], x->m[i][1] + y->m[1][j]);
    return p;
}

/* Minimum of H over all configurations. Index 0 is s = +1, index 1 is s = -1;
 * each bond carries -J s s' and half of the field term of its two ends. */
static double chain_ground_energy(int L, kd_boundary bc, double J, double h)
{
    const double sp[2] = {1.0, -1.0};
    emat base, acc;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            base.m[i][j] = -J * sp[i] * sp[j] - 0.5 * h * (sp[i] + sp[j]);
            acc.m[i][j] = i == j ? 0.0 : INFINITY;
        }
    uint32_t n = (uint32_t)(bc == KD_BOUNDARY_PERIODIC ? L : L - 1);
    for (;;) {
        if (n & 1u)
            acc = emat_mul(&acc, &base);
        n >>= 1;
        if (!n)
            break;
        base = emat_mul(&base, &base);
    }
    if (bc == KD_BOUNDARY_PERIODIC)
        return fmin(acc.m[0][0], acc.m[1][1]);
    /* the two end spins have only half their field term inside the bonds */
    double e = INFINITY;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            e = fmin(e, acc.m[i][j] - 0.5 * h * (sp[i] + sp[j]));
    return e;
}

kd_status kd_chain_exact(int L, kd_boundary boundary, double J, double h, double T,
                         kd_thermo *out)
{
    if (!out)
        KD_FAIL(KD_ERR_INVALID, "kd_chain_exact: no output given");
    if (L < 2 || L > KD_LATTICE_MAX_L_CHAIN)
        KD_FAIL(KD_ERR_INVALID, "chain: L = %d out of range, expected 2 <= L <= %d", L,
                KD_LATTICE_MAX_L_CHAIN);
    if (boundary != KD_BOUNDARY_PERIODIC && boundary != KD_BOUNDARY_OPEN)
        KD_FAIL(KD_ERR_INVALID, "chain: unknown boundary %d, expected periodic or open",
                (int)boundary);
    if (!isfinite(J) || !isfinite(h))
        KD_FAIL(KD_ERR_INVALID, "chain: J = %g and h = %g must both be finite", J, h);
    if (isnan(T) || T < 0)
        KD_FAIL(KD_ERR_INVALID, "chain: temperature T = %g, expected T >= 0 or inf", T);
    const double N = (double)L;
    if (isinf(T) || (J == 0 && h == 0)) { /* β H = 0 for every state */
        *out = (kd_thermo){N * ln2_const, 0.0, 0.0};
        return KD_OK;
    }
    const double beta = 1.0 / T;
    if (T == 0 || isinf(beta)) {
        /* H is not identically 0, so its minimum is below its mean (0): Z → ∞ */
        *out = (kd_thermo){INFINITY, chain_ground_energy(L, boundary, J, h) / N, 0.0};
        return KD_OK;
    }
    jet lnz = boundary == KD_BOUNDARY_PERIODIC ? chain_periodic_lnz(L, J, h, beta)
                                               : chain_open_lnz(L, J, h, beta);
    if (isnan(lnz.v) || !isfinite(lnz.d) || !isfinite(lnz.dd))
        KD_FAIL(KD_ERR_NUMERIC, "chain: numerical breakdown at L = %d, J = %g, h = %g, T = %g",
                L, J, h, T);
    out->lnZ = lnz.v;
    out->e = -lnz.d / N;
    /* d² lnZ/dβ² = var H >= 0; 0 also avoids ∞·0 when β² overflows */
    out->c = lnz.dd > 0 ? beta * beta * lnz.dd / N : 0.0;
    return KD_OK;
}

double kd_chain_correlation(int L, double J, double T, int r)
{
    if (L < 2 || r < 0 || r > L || !isfinite(J) || isnan(T) || T < 0)
        return NAN;
    if (r == 0 || r == L)
        return 1.0;
    if (J == 0 || isinf(T)) /* t = 0 */
        return 0.0;
    /* |t| = tanh(|J|/T), a = ln|t| <= 0, computed as ln(1 - e^{-2|K|}) - ln(1 + e^{-2|K|}) */
    double Ka = fabs(J) / T; /* +inf at T = 0 */
    double q = exp(-2.0 * Ka);
    double a = log(-expm1(-2.0 * Ka)) - log1p(q);
    double sign_r = (J < 0 && r % 2) ? -1.0 : 1.0; /* t^r = sign_r |t|^r */
    if (J > 0 || L % 2 == 0) {
        /* (|t|^r + |t|^{L-r}) / (1 + |t|^L) up to the sign (-1)^r (for even L,
         * (-1)^{L-r} = (-1)^r) */
        return sign_r * (exp(r * a) + exp((L - r) * a)) / (1.0 + exp(L * a));
    }
    /* odd L, J < 0: t^r + t^{L-r} = (-1)^r (|t|^r - |t|^{L-r}), 1 + t^L = 1 - |t|^L:
     * both vanish as |t| → 1, so use expm1; at T = 0 (a = 0) the limit is (L-2r)/L. */
    if (a == 0)
        return sign_r * (double)(L - 2 * r) / (double)L;
    return sign_r * exp(r * a) * expm1((L - 2 * r) * a) / expm1(L * a);
}
