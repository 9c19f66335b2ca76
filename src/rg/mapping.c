/*
 * The exact RG <-> RBM mapping checked by enumeration, and the spin-product
 * (Walsh) projection of small Hamiltonians (see kadanoff/rg.h).
 *
 * Everything is brute force on purpose: the point is an independent check of
 * the closed forms in rbm.h, so the traces below sum every term e^{-E(v,h)}
 * instead of using the factorisation over units that the closed forms use.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kadanoff/rg.h"

/* ---- an RBM in double precision --------------------------------------------- */

static double unit_up(kd_units u) { (void)u; return 1.0; }
static double unit_down(kd_units u) { return u == KD_UNITS_SPIN ? -1.0 : 0.0; }

/* ln Σ_{u} e^{u x} over the two unit values, without overflow:
 * ln 2cosh x = |x| + log1p(e^{-2|x|}), ln(1 + e^x) = max(x,0) + log1p(e^{-|x|}). */
static double log_partition_unit(kd_units u, double x)
{
    double ax = fabs(x);
    if (u == KD_UNITS_SPIN)
        return ax + log1p(exp(-2.0 * ax));
    return (x > 0 ? x : 0.0) + log1p(exp(-ax));
}

static int units_ok(kd_units u) { return u == KD_UNITS_SPIN || u == KD_UNITS_BINARY; }

static kd_status check_rbm(const kd_rg_rbm *r, const char *what)
{
    if (!r || !r->W)
        KD_FAIL(KD_ERR_INVALID, "%s: no RBM parameters given", what);
    if (r->nv < 1 || r->nh < 1 || r->nv > KD_RG_MAX_LAYER || r->nh > KD_RG_MAX_LAYER ||
        r->nv + r->nh > KD_RG_MAX_UNITS)
        KD_FAIL(KD_ERR_UNSUPPORTED,
                "%s: an RBM %d-%d cannot be enumerated exactly; expected 1 <= nv, nh <= %d and "
                "nv + nh <= %d",
                what, r->nv, r->nh, KD_RG_MAX_LAYER, KD_RG_MAX_UNITS);
    if (!units_ok(r->visible) || !units_ok(r->hidden))
        KD_FAIL(KD_ERR_INVALID, "%s: unknown unit type (visible %d, hidden %d), expected spin or "
                                "binary",
                what, (int)r->visible, (int)r->hidden);
    size_t nw = (size_t)r->nv * (size_t)r->nh;
    for (size_t k = 0; k < nw; k++)
        if (!isfinite(r->W[k]))
            KD_FAIL(KD_ERR_NUMERIC, "%s: weight W[%zu][%zu] is %g, expected a finite number", what,
                    k / (size_t)r->nh, k % (size_t)r->nh, r->W[k]);
    for (int i = 0; r->a && i < r->nv; i++)
        if (!isfinite(r->a[i]))
            KD_FAIL(KD_ERR_NUMERIC, "%s: visible bias a[%d] is %g, expected a finite number", what,
                    i, r->a[i]);
    for (int j = 0; r->b && j < r->nh; j++)
        if (!isfinite(r->b[j]))
            KD_FAIL(KD_ERR_NUMERIC, "%s: hidden bias b[%d] is %g, expected a finite number", what,
                    j, r->b[j]);
    return KD_OK;
}

kd_status kd_rg_rbm_import(const kd_rbm *rbm, double *store, kd_rg_rbm *out)
{
    if (!rbm || !store || !out)
        KD_FAIL(KD_ERR_INVALID, "kd_rg_rbm_import: model, store and output are required");
    int nv = kd_rbm_nv(rbm), nh = kd_rbm_nh(rbm);
    size_t np = kd_rbm_nparams(rbm);
    const float *p = kd_rbm_params(rbm);
    for (size_t k = 0; k < np; k++)
        store[k] = p[k];
    out->nv = nv;
    out->nh = nh;
    out->visible = kd_rbm_visible_units(rbm);
    out->hidden = kd_rbm_hidden_units(rbm);
    out->W = store;
    out->a = store + (size_t)nv * (size_t)nh;
    out->b = out->a + nv;
    return KD_OK;
}

double kd_rg_rbm_energy(const kd_rg_rbm *r, const double *v, const double *h)
{
    double e = 0;
    for (int i = 0; i < r->nv; i++) {
        const double *wi = r->W + (size_t)i * (size_t)r->nh;
        double y = r->a ? r->a[i] : 0.0;
        for (int j = 0; j < r->nh; j++)
            y += wi[j] * h[j];
        e -= v[i] * y;
    }
    for (int j = 0; r->b && j < r->nh; j++)
        e -= r->b[j] * h[j];
    return e;
}

double kd_rg_rbm_free_energy_visible(const kd_rg_rbm *r, const double *v)
{
    /* F(v) = -aᵀv - Σ_j g_h(b_j + Σ_i v_i W_ij) */
    double f = 0;
    for (int i = 0; r->a && i < r->nv; i++)
        f -= r->a[i] * v[i];
    for (int j = 0; j < r->nh; j++) {
        double x = r->b ? r->b[j] : 0.0;
        for (int i = 0; i < r->nv; i++)
            x += v[i] * r->W[(size_t)i * (size_t)r->nh + (size_t)j];
        f -= log_partition_unit(r->hidden, x);
    }
    return f;
}

double kd_rg_rbm_free_energy_hidden(const kd_rg_rbm *r, const double *h)
{
    /* F(h) = -bᵀh - Σ_i g_v(a_i + Σ_j W_ij h_j) */
    double f = 0;
    for (int j = 0; r->b && j < r->nh; j++)
        f -= r->b[j] * h[j];
    for (int i = 0; i < r->nv; i++) {
        const double *wi = r->W + (size_t)i * (size_t)r->nh;
        double y = r->a ? r->a[i] : 0.0;
        for (int j = 0; j < r->nh; j++)
            y += wi[j] * h[j];
        f -= log_partition_unit(r->visible, y);
    }
    return f;
}

double kd_rg_operator(const kd_rg_rbm *r, double Hv, const double *v, const double *h)
{
    return -kd_rg_rbm_energy(r, v, h) + Hv;
}

/* ---- exact traces by enumeration ------------------------------------------------- */

/* One layer ("sum", m units) is summed out for every state of the other ("out",
 * n units). w(i, k) = W[i*ws + k*wo] couples sum unit i and out unit k. */
typedef struct {
    int m, n;
    kd_units us, uo;
    const double *W;
    size_t ws, wo;
    const double *cs, *co; /* biases of the sum / out layer (NULL: zero) */
} trace_problem;

/* Neumaier's compensated sum: a running sum and the lost low-order parts. */
typedef struct {
    double s, c;
} csum;

static void csum_add(csum *a, double x)
{
    double t = a->s + x;
    if (fabs(a->s) >= fabs(x))
        a->c += (a->s - t) + x;
    else
        a->c += (x - t) + a->s;
    a->s = t;
}

/* out[o] = -ln Σ_t e^{-E(t, o)} for every out state o. For fixed o the
 * exponent is -E = lin(o) + Σ_i u_i(t) y_i(o) with y_i = cs_i + Σ_k w(i,k) o_k.
 * Its largest value mx = lin + Σ_i max(u_up y_i, u_down y_i) is known, so every
 * term is e^{x - mx} <= 1 with at least one equal to 1: no overflow, and the
 * sum is >= 1. x - mx = lo[t_lo] + hi[t_hi] from two tables over the low and
 * high halves of the sum layer, so each exponent costs one addition and
 * carries the rounding of at most m/2 + 1 additions. */
static kd_status trace_run(const trace_problem *p, double *out)
{
    const int mlo = p->m / 2, mhi = p->m - mlo;
    const uint64_t nlo = (uint64_t)1 << mlo, nhi = (uint64_t)1 << mhi;
    const uint64_t nout = (uint64_t)1 << p->n;
    const double up_s = unit_up(p->us), down_s = unit_down(p->us);
    const double up_o = unit_up(p->uo), down_o = unit_down(p->uo);
    int failed = 0;
#pragma omp parallel
    {
        double *y = malloc(((size_t)p->m + (size_t)p->n + nlo + nhi) * sizeof *y);
        double *ov = y ? y + p->m : NULL, *lo = y ? ov + p->n : NULL, *hi = y ? lo + nlo : NULL;
        if (!y) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 16)
        for (int64_t os = 0; os < (int64_t)nout; os++) {
            if (!y)
                continue;
            double lin = 0;
            for (int k = 0; k < p->n; k++) {
                ov[k] = ((uint64_t)os >> k) & 1u ? up_o : down_o;
                if (p->co)
                    lin += p->co[k] * ov[k];
            }
            double mx = lin;
            for (int i = 0; i < p->m; i++) {
                double yi = p->cs ? p->cs[i] : 0.0;
                for (int k = 0; k < p->n; k++)
                    yi += p->W[(size_t)i * p->ws + (size_t)k * p->wo] * ov[k];
                y[i] = yi;
                mx += fmax(up_s * yi, down_s * yi);
            }
            for (uint64_t t = 0; t < nlo; t++) {
                double x = 0;
                for (int i = 0; i < mlo; i++) {
                    double u = (t >> i) & 1u ? up_s : down_s;
                    x += u * y[i] - fmax(up_s * y[i], down_s * y[i]);
                }
                lo[t] = x;
            }
            for (uint64_t t = 0; t < nhi; t++) {
                double x = 0;
                for (int i = 0; i < mhi; i++) {
                    double yi = y[mlo + i];
                    double u = (t >> i) & 1u ? up_s : down_s;
                    x += u * yi - fmax(up_s * yi, down_s * yi);
                }
                hi[t] = x;
            }
            csum acc = {0, 0};
            for (uint64_t th = 0; th < nhi; th++)
                for (uint64_t tl = 0; tl < nlo; tl++)
                    csum_add(&acc, exp(lo[tl] + hi[th]));
            out[os] = -(mx + log(acc.s + acc.c));
        }
        free(y);
    }
    if (failed)
        KD_FAIL(KD_ERR_NOMEM, "out of memory while tracing over 2^%d states", p->m);
    return KD_OK;
}

kd_status kd_rg_trace_visible(const kd_rg_rbm *r, double *out)
{
    KD_CHECK(check_rbm(r, "trace over the visible layer"));
    if (!out)
        KD_FAIL(KD_ERR_INVALID, "trace over the visible layer: no output array");
    trace_problem p = {r->nv, r->nh, r->visible, r->hidden, r->W, (size_t)r->nh, 1, r->a, r->b};
    return trace_run(&p, out);
}

kd_status kd_rg_trace_hidden(const kd_rg_rbm *r, double *out)
{
    KD_CHECK(check_rbm(r, "trace over the hidden layer"));
    if (!out)
        KD_FAIL(KD_ERR_INVALID, "trace over the hidden layer: no output array");
    trace_problem p = {r->nh, r->nv, r->hidden, r->visible, r->W, 1, (size_t)r->nh, r->b, r->a};
    return trace_run(&p, out);
}

/* ---- Hamiltonians ---------------------------------------------------------------- */

static void spins_from_index(int n, uint64_t index, int8_t *s)
{
    for (int i = 0; i < n; i++)
        s[i] = (index >> i) & 1u ? (int8_t)1 : (int8_t)-1;
}

kd_status kd_rg_hamiltonian_table(const kd_rg_hamiltonian *H, double *out)
{
    if (!H || !out)
        KD_FAIL(KD_ERR_INVALID, "Hamiltonian table: Hamiltonian and output are required");
    int given = (H->lattice != NULL) + (H->energy != NULL) + (H->table != NULL);
    if (given != 1)
        KD_FAIL(KD_ERR_INVALID,
                "Hamiltonian: %d of lattice, energy callback and table are set, expected exactly "
                "one",
                given);
    if (H->n < 1 || H->n > KD_RG_MAX_LAYER)
        KD_FAIL(KD_ERR_UNSUPPORTED, "Hamiltonian of %d spins: expected 1..%d for enumeration",
                H->n, KD_RG_MAX_LAYER);
    const uint64_t ns = (uint64_t)1 << H->n;
    if (H->lattice) {
        KD_CHECK(kd_lattice_validate(H->lattice));
        size_t N = kd_lattice_size(H->lattice);
        if (N != (size_t)H->n)
            KD_FAIL(KD_ERR_INVALID, "Hamiltonian: the lattice has %zu sites but n = %d", N, H->n);
        int failed = 0;
#pragma omp parallel
        {
            int8_t *s = malloc((size_t)H->n);
            if (!s) {
#pragma omp atomic write
                failed = 1;
            }
#pragma omp for schedule(static)
            for (int64_t k = 0; k < (int64_t)ns; k++) {
                if (!s)
                    continue;
                spins_from_index(H->n, (uint64_t)k, s);
                out[k] = (double)N * kd_ising_energy(H->lattice, s);
            }
            free(s);
        }
        if (failed)
            KD_FAIL(KD_ERR_NOMEM, "out of memory for a Hamiltonian table");
    } else if (H->energy) {
        /* callbacks need not be thread-safe: one thread */
        int8_t s[KD_RG_MAX_LAYER];
        for (uint64_t k = 0; k < ns; k++) {
            spins_from_index(H->n, k, s);
            out[k] = H->energy(s, H->n, H->user);
        }
    } else {
        memmove(out, H->table, (size_t)ns * sizeof *out);
    }
    for (uint64_t k = 0; k < ns; k++)
        if (isnan(out[k]) || out[k] == -INFINITY)
            KD_FAIL(KD_ERR_NUMERIC, "Hamiltonian: H = %g for state %llu, expected a finite value "
                                    "or +inf (forbidden state)",
                    out[k], (unsigned long long)k);
    return KD_OK;
}

/* ln Σ_k e^{-H_k} (compensated; -inf if every state is forbidden). */
static double log_sum_exp_neg(const double *H, uint64_t n)
{
    double mn = INFINITY;
    for (uint64_t k = 0; k < n; k++)
        if (H[k] < mn)
            mn = H[k];
    if (mn == INFINITY)
        return -INFINITY;
    csum acc = {0, 0};
    for (uint64_t k = 0; k < n; k++)
        csum_add(&acc, exp(mn - H[k]));
    return -mn + log(acc.s + acc.c);
}

/* ---- the mapping check -------------------------------------------------------- */

typedef double (*free_energy_fn)(const void *model, const double *state);

static double rg_free_hidden(const void *m, const double *h)
{
    return kd_rg_rbm_free_energy_hidden((const kd_rg_rbm *)m, h);
}
static double rg_free_visible(const void *m, const double *v)
{
    return kd_rg_rbm_free_energy_visible((const kd_rg_rbm *)m, v);
}
static double rbm_free_hidden(const void *m, const double *h)
{
    return kd_rbm_free_energy_hidden((const kd_rbm *)m, h);
}
static double rbm_free_visible(const void *m, const double *v)
{
    return kd_rbm_free_energy_visible((const kd_rbm *)m, v);
}

static void unit_values(kd_units u, int n, uint64_t index, double *x)
{
    for (int i = 0; i < n; i++)
        x[i] = (index >> i) & 1u ? unit_up(u) : unit_down(u);
}

/* The work of the check; fh/fv are the closed forms F(h), F(v) of `model`. */
static kd_status mapping_check(const kd_rg_hamiltonian *H, const kd_rg_rbm *r, const void *model,
                               free_energy_fn fh, free_energy_fn fv, kd_rg_mapping *out,
                               double *h_rg_out, double *log_trace_out)
{
    if (!H || !out)
        KD_FAIL(KD_ERR_INVALID, "mapping check: Hamiltonian and output are required");
    KD_CHECK(check_rbm(r, "mapping check"));
    if (H->n != r->nv)
        KD_FAIL(KD_ERR_INVALID, "mapping check: H acts on %d spins but the RBM has %d visible "
                                "units",
                H->n, r->nv);
    const uint64_t nvs = (uint64_t)1 << r->nv, nhs = (uint64_t)1 << r->nh;
    double *Hv = malloc((size_t)nvs * sizeof *Hv);
    double *fvt = malloc((size_t)nvs * sizeof *fvt);
    double *hrg = malloc((size_t)nhs * sizeof *hrg);
    double *st = malloc(((size_t)r->nv + (size_t)r->nh) * sizeof *st);
    kd_status s = KD_OK;
    if (!Hv || !fvt || !hrg || !st) {
        s = kd_set_error(KD_ERR_NOMEM, "mapping check: out of memory for an RBM %d-%d", r->nv,
                         r->nh);
        goto done;
    }
    if ((s = kd_rg_hamiltonian_table(H, Hv)) != KD_OK || (s = kd_rg_trace_visible(r, hrg)) != KD_OK ||
        (s = kd_rg_trace_hidden(r, fvt)) != KD_OK)
        goto done;

    memset(out, 0, sizeof *out);
    out->nv = r->nv;
    out->nh = r->nh;
    out->log_z = log_sum_exp_neg(Hv, nvs);
    if (!isfinite(out->log_z)) {
        s = kd_set_error(KD_ERR_INVALID, "mapping check: every state of H is forbidden (Z = 0), "
                                         "expected at least one finite H(v)");
        goto done;
    }
    /* H^RG (enumeration) against H^RBM (closed form) */
    double *h = st + r->nv;
    double dmax = 0, scale = 0;
    for (uint64_t k = 0; k < nhs; k++) {
        unit_values(r->hidden, r->nh, k, h);
        double ref = fh(model, h);
        dmax = fmax(dmax, fabs(hrg[k] - ref));
        scale = fmax(scale, fabs(ref));
    }
    out->hrg_max_abs = dmax;
    out->hrg_max_rel = scale > 0 ? dmax / scale : dmax;
    out->log_z_rbm = log_sum_exp_neg(hrg, nhs);
    out->delta_f = out->log_z - out->log_z_rbm;

    /* ln Tr_h e^{T(v,h)} = H(v) + ln Σ_h e^{-E(v,h)} = H(v) - fvt(v) (enumeration);
     * KL from the closed form F(v): ln P - ln p_λ = (F(v) - H(v)) + ln Z_λ - ln Z. */
    double *v = st;
    csum kl = {0, 0}, mean = {0, 0};
    double tmin = INFINITY, tmax = -INFINITY, tdev = 0;
    for (uint64_t k = 0; k < nvs; k++) {
        double lt = Hv[k] - fvt[k];
        if (log_trace_out)
            log_trace_out[k] = lt;
        tmin = fmin(tmin, lt);
        tmax = fmax(tmax, lt);
        tdev = fmax(tdev, fabs(expm1(lt)));
        if (Hv[k] == INFINITY)
            continue; /* P(v) = 0: no contribution */
        double P = exp(-Hv[k] - out->log_z);
        unit_values(r->visible, r->nv, k, v);
        double lp_ratio = (fv(model, v) - Hv[k]) - out->delta_f;
        csum_add(&kl, P * lp_ratio);
        csum_add(&mean, P * lt);
    }
    out->kl = kl.s + kl.c;
    out->log_trace_min = tmin;
    out->log_trace_max = tmax;
    out->log_trace_mean = mean.s + mean.c;
    out->trace_max_dev = tdev;
    out->identity_residual = out->kl + out->delta_f + out->log_trace_mean;
    if (h_rg_out)
        memcpy(h_rg_out, hrg, (size_t)nhs * sizeof *hrg);
done:
    free(Hv);
    free(fvt);
    free(hrg);
    free(st);
    return s;
}

kd_status kd_rg_mapping_check(const kd_rg_hamiltonian *H, const kd_rg_rbm *r, kd_rg_mapping *out,
                              double *h_rg, double *log_trace)
{
    return mapping_check(H, r, r, rg_free_hidden, rg_free_visible, out, h_rg, log_trace);
}

kd_status kd_rg_mapping_check_rbm(const kd_rg_hamiltonian *H, const kd_rbm *rbm,
                                  kd_rg_mapping *out, double *h_rg, double *log_trace)
{
    if (!rbm)
        KD_FAIL(KD_ERR_INVALID, "mapping check: no RBM given");
    KD_CHECK(kd_rbm_validate(rbm));
    double *store = malloc(kd_rbm_nparams(rbm) * sizeof *store);
    if (!store)
        KD_FAIL(KD_ERR_NOMEM, "mapping check: out of memory");
    kd_rg_rbm r;
    kd_status s = kd_rg_rbm_import(rbm, store, &r);
    if (s == KD_OK)
        s = mapping_check(H, &r, rbm, rbm_free_hidden, rbm_free_visible, out, h_rg, log_trace);
    free(store);
    return s;
}

/* ---- Walsh projection ---------------------------------------------------------------- */

/* In-place butterflies over each bit: the pair (x without bit i, x with bit i)
 * = (a, b), where bit i clear means s_i = -1. Forward: the coefficient of a
 * set without i collects a + b, with i collects b - a (s_i = -1 weighs a by
 * -1). Inverse: H(s_i = -1) = A - B, H(s_i = +1) = A + B. */
static void walsh_butterflies(int n, double *x, int inverse)
{
    const uint64_t N = (uint64_t)1 << n;
    for (uint64_t len = 1; len < N; len <<= 1)
        for (uint64_t base = 0; base < N; base += 2 * len)
            for (uint64_t j = base; j < base + len; j++) {
                double a = x[j], b = x[j + len];
                if (inverse) {
                    x[j] = a - b;
                    x[j + len] = a + b;
                } else {
                    x[j] = a + b;
                    x[j + len] = b - a;
                }
            }
}

static kd_status walsh_check(int n, const double *in, const double *out, const char *what)
{
    if (n < 1 || n > KD_RG_MAX_LAYER)
        KD_FAIL(KD_ERR_UNSUPPORTED, "%s over %d spins: expected 1..%d", what, n, KD_RG_MAX_LAYER);
    if (!in || !out)
        KD_FAIL(KD_ERR_INVALID, "%s: input and output arrays are required", what);
    const uint64_t N = (uint64_t)1 << n;
    for (uint64_t k = 0; k < N; k++)
        if (!isfinite(in[k]))
            KD_FAIL(KD_ERR_NUMERIC, "%s: value %llu is %g, expected finite values", what,
                    (unsigned long long)k, in[k]);
    return KD_OK;
}

kd_status kd_rg_walsh(int n, const double *H, double *J)
{
    KD_CHECK(walsh_check(n, H, J, "Walsh projection"));
    const uint64_t N = (uint64_t)1 << n;
    if (J != H)
        memcpy(J, H, (size_t)N * sizeof *J);
    walsh_butterflies(n, J, 0);
    const double scale = ldexp(1.0, -n); /* exact */
    for (uint64_t k = 0; k < N; k++)
        J[k] *= scale;
    return KD_OK;
}

kd_status kd_rg_walsh_inverse(int n, const double *J, double *H)
{
    KD_CHECK(walsh_check(n, J, H, "inverse Walsh transform"));
    const uint64_t N = (uint64_t)1 << n;
    if (J != H)
        memcpy(H, J, (size_t)N * sizeof *H);
    walsh_butterflies(n, H, 1); /* the butterflies alone invert 2^{-n} × forward */
    return KD_OK;
}

uint64_t kd_rg_walsh_mask(int count, const int *sites)
{
    uint64_t m = 0;
    for (int k = 0; k < count; k++)
        if (sites[k] >= 0 && sites[k] < 64)
            m ^= (uint64_t)1 << sites[k];
    return m;
}

double kd_rg_walsh_order_norm(int n, const double *J, int order)
{
    if (n < 1 || n > KD_RG_MAX_LAYER || order < 0 || order > n)
        return NAN;
    const uint64_t N = (uint64_t)1 << n;
    double s = 0;
    for (uint64_t k = 0; k < N; k++)
        if (__builtin_popcountll(k) == order)
            s += J[k] * J[k];
    return sqrt(s);
}

/* ---- couplings of a geometry -------------------------------------------------- */

/* The sets of one class as masks (with repetitions, as the lattice lists
 * them), and whether every set had `order` distinct sites. */
typedef struct {
    uint64_t *mask;
    int count;
    int repeated_site;
} term_class;

static void class_add(term_class *c, int order, const int *sites)
{
    uint64_t m = kd_rg_walsh_mask(order, sites);
    if (__builtin_popcountll(m) != order)
        c->repeated_site = 1;
    c->mask[c->count++] = m;
}

/* Fill the nn (k = 0), nnn (k = 1) and four-spin (k = 2) classes. */
static void build_classes(const kd_lattice *g, term_class cls[3])
{
    const int L = g->L, per = g->boundary == KD_BOUNDARY_PERIODIC;
    int s[4];
    if (g->kind == KD_LATTICE_CHAIN) {
        for (int i = 0; i < L; i++) {
            for (int k = 0; k < 3; k++) {
                int span = k == 0 ? 1 : k == 1 ? 2 : 3;
                if (!per && i + span >= L)
                    continue;
                if (k == 0) {
                    s[0] = i;
                    s[1] = (i + 1) % L;
                    class_add(&cls[0], 2, s);
                } else if (k == 1) {
                    s[0] = i;
                    s[1] = (i + 2) % L;
                    class_add(&cls[1], 2, s);
                } else {
                    for (int q = 0; q < 4; q++)
                        s[q] = (i + q) % L;
                    class_add(&cls[2], 4, s);
                }
            }
        }
        return;
    }
    for (int y = 0; y < L; y++)
        for (int x = 0; x < L; x++) {
            int xr = (x + 1) % L, yd = (y + 1) % L;
            int has_r = per || x + 1 < L, has_d = per || y + 1 < L;
            if (has_r) {
                s[0] = y * L + x;
                s[1] = y * L + xr;
                class_add(&cls[0], 2, s);
            }
            if (has_d) {
                s[0] = y * L + x;
                s[1] = yd * L + x;
                class_add(&cls[0], 2, s);
            }
            if (has_r && has_d) {
                s[0] = y * L + x;
                s[1] = yd * L + xr;
                class_add(&cls[1], 2, s);
                s[0] = y * L + xr;
                s[1] = yd * L + x;
                class_add(&cls[1], 2, s);
                s[0] = y * L + x;
                s[1] = y * L + xr;
                s[2] = yd * L + x;
                s[3] = yd * L + xr;
                class_add(&cls[2], 4, s);
            }
        }
}

/* Mean and spread of -J_S / multiplicity over the distinct masks of a class;
 * marks the masks in `used` (a list of distinct masks already claimed). */
static void class_stats(const term_class *c, const double *J, uint64_t *used, int *nused,
                        double *mean, double *spread, int *count)
{
    *mean = *spread = NAN;
    *count = 0;
    if (c->count == 0 || c->repeated_site)
        return;
    for (int a = 0; a < c->count; a++)
        for (int u = 0; u < *nused; u++)
            if (used[u] == c->mask[a])
                return; /* coincides with an earlier class */
    double sum = 0;
    int distinct = 0;
    int first_used = *nused;
    for (int a = 0; a < c->count; a++) {
        int seen = 0, mult = 0;
        for (int u = first_used; u < *nused; u++)
            if (used[u] == c->mask[a])
                seen = 1;
        if (seen)
            continue;
        for (int q = 0; q < c->count; q++)
            mult += c->mask[q] == c->mask[a];
        used[(*nused)++] = c->mask[a];
        sum += -J[c->mask[a]] / mult;
        distinct++;
    }
    double m = sum / distinct, sp = 0;
    for (int u = first_used; u < *nused; u++) {
        int mult = 0;
        for (int q = 0; q < c->count; q++)
            mult += c->mask[q] == used[u];
        sp = fmax(sp, fabs(-J[used[u]] / mult - m));
    }
    *mean = m;
    *spread = sp;
    *count = distinct;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

kd_status kd_rg_couplings_read(const kd_lattice *geometry, const double *J, kd_rg_couplings *out)
{
    if (!geometry || !J || !out)
        KD_FAIL(KD_ERR_INVALID, "couplings: geometry, coefficients and output are required");
    KD_CHECK(kd_lattice_validate(geometry));
    size_t N = kd_lattice_size(geometry);
    if (N > KD_RG_MAX_LAYER)
        KD_FAIL(KD_ERR_UNSUPPORTED, "couplings: the lattice has %zu sites, at most %d can be "
                                    "projected exactly",
                N, KD_RG_MAX_LAYER);
    const int n = (int)N;
    /* at most 2 bonds, 2 diagonals and 1 plaquette per site, then as many
     * claimed masks */
    uint64_t *buf = malloc(10 * N * sizeof *buf);
    if (!buf)
        KD_FAIL(KD_ERR_NOMEM, "couplings: out of memory");
    term_class cls[3] = {{buf, 0, 0}, {buf + 2 * N, 0, 0}, {buf + 4 * N, 0, 0}};
    uint64_t *used = buf + 5 * N;
    int nused = 0;
    build_classes(geometry, cls);

    memset(out, 0, sizeof *out);
    out->constant = J[0];
    double fs = 0, fsp = 0;
    for (int i = 0; i < n; i++)
        fs += -J[(uint64_t)1 << i];
    out->field = fs / n;
    for (int i = 0; i < n; i++)
        fsp = fmax(fsp, fabs(-J[(uint64_t)1 << i] - out->field));
    out->field_spread = fsp;
    class_stats(&cls[0], J, used, &nused, &out->nn, &out->nn_spread, &out->nn_count);
    class_stats(&cls[1], J, used, &nused, &out->nnn, &out->nnn_spread, &out->nnn_count);
    class_stats(&cls[2], J, used, &nused, &out->four, &out->four_spread, &out->four_count);

    /* everything else, summed directly (subtracting the claimed sets from a
     * total would leave rounding noise of the size of the total) */
    qsort(used, (size_t)nused, sizeof *used, cmp_u64);
    const uint64_t NS = (uint64_t)1 << n;
    double rest = 0;
    for (uint64_t k = 1; k < NS; k++)
        if (__builtin_popcountll(k) > 1 &&
            !bsearch(&k, used, (size_t)nused, sizeof *used, cmp_u64))
            rest += J[k] * J[k];
    out->rest = sqrt(rest);
    free(buf);
    return KD_OK;
}
