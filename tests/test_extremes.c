/*
 * Numerical faults and resource limits (issue 7): exact, sampling and RBM
 * functions at extreme parameters return finite values and the correct
 * limits instead of overflowing (T -> 0, T = 1e300, fields of 1e6, weights of
 * 1e30); requests that cannot fit in memory are refused up front with the
 * size they would need. Every expected value below is a closed-form limit, not
 * an output of the code under test.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "kadanoff/kadanoff.h"
#include "testing.h"

/* Chain in a huge field: at h = 1e6 and T = 1 every spin is aligned with the
 * field with probability 1 - O(e^{-2e6}), so e = -J - |h| (periodic chain, J =
 * 1) and c = 0 exactly in double; a naive e^{βh} would be inf and give NaN. */
static void test_chain_huge_field(void)
{
    kd_thermo th;
    for (int sign = -1; sign <= 1; sign += 2) {
        double h = sign * 1e6;
        kd_status st = kd_chain_exact(8, KD_BOUNDARY_PERIODIC, 1.0, h, 1.0, &th);
        kd_test(st == KD_OK && isfinite(th.lnZ) && isfinite(th.e) && isfinite(th.c),
                "chain h = %g: finite (lnZ %g, e %g, c %g)", h, th.lnZ, th.e, th.c);
        /* e = -(1 + 1e6): relative rounding of the sums, 1e-12 is ample */
        kd_test_rel(th.e, -1.0 - 1e6, 1e-12, "chain h = ±1e6: e = -J - |h|");
        kd_test(th.c >= 0 && th.c < 1e-12, "chain h = %g: c = %g, want 0", h, th.c);
        /* lnZ = βN(J + |h|) to the same relative precision */
        kd_test_rel(th.lnZ, 8 * (1.0 + 1e6), 1e-12, "chain h = ±1e6: lnZ = N(J + |h|)/T");
    }
    /* T -> 0 and T huge with a field: ground state, and e -> 0 as 1/T */
    kd_status st = kd_chain_exact(8, KD_BOUNDARY_OPEN, 1.0, 0.5, 1e-300, &th);
    kd_test(st == KD_OK && isfinite(th.e),
            "chain T = 1e-300: finite e (%g)", th.e);
    /* open chain ground state: (L-1) bonds and L fields, e = -(7 + 4)/8 */
    kd_test_rel(th.e, -(7.0 + 4.0) / 8.0, 1e-14, "chain T = 1e-300: ground-state energy");
    st = kd_chain_exact(8, KD_BOUNDARY_OPEN, 1.0, 0.5, 1e300, &th);
    kd_test(st == KD_OK && isfinite(th.lnZ) && fabs(th.e) < 1e-290 && th.c >= 0 && th.c < 1e-290,
            "chain T = 1e300: e, c -> 0 (e %g, c %g)", th.e, th.c);
    kd_test_rel(th.lnZ, 8 * log(2.0), 1e-14, "chain T = 1e300: lnZ = N ln 2");
}

/* Kaufman at T = 1e-300: e = -2 (ground state), c = 0, no NaN from e^{2βJ}. */
static void test_kaufman_cold(void)
{
    kd_thermo th;
    kd_status st = kd_kaufman_torus(4, 1.0, 1e-300, &th);
    kd_test(st == KD_OK && th.e == -2.0 && th.c == 0.0,
            "Kaufman T = 1e-300: e = -2, c = 0 (got %g, %g)", th.e, th.c);
    kd_test(st == KD_OK && !isnan(th.lnZ),
            "Kaufman T = 1e-300: lnZ not NaN (%g)", th.lnZ);
}

/* Metropolis and heat bath in a field of 1e6 at T = 1: every site aligns
 * (a flip against the field has probability e^{-2e6} = 0 in double), from a
 * random start, and the energy per spin is exactly -2 - 1e6. */
static void test_sampler_huge_field(void)
{
    kd_lattice lat = {KD_LATTICE_SQUARE, 6, KD_BOUNDARY_PERIODIC, 1.0, 1e6};
    const kd_algorithm algos[] = {KD_ALGO_METROPOLIS, KD_ALGO_HEATBATH};
    for (int a = 0; a < 2; a++) {
        kd_sampler *S;
        if (kd_sampler_new(&S, &lat, 1.0, algos[a], 5, 0) != KD_OK) {
            kd_test(0, "sampler h = 1e6: %s", kd_last_error());
            continue;
        }
        kd_sampler_randomize(S);
        kd_sampler_sweep(S, 3);
        const int8_t *s = kd_sampler_spins(S);
        int up = 0;
        for (int i = 0; i < 36; i++)
            up += s[i] == 1;
        kd_test(up == 36, "%s h = 1e6: all spins up after 3 sweeps (%d of 36)",
                kd_algorithm_name(algos[a]), up);
        double e = kd_ising_energy(&lat, s);
        kd_test(e == -2.0 - 1e6, "%s h = 1e6: e = %.17g, want -2 - 1e6", kd_algorithm_name(algos[a]),
                e);
        kd_sampler_free(S);
    }
}

/* An RBM 4-3 with weights of ±1e30: free energies are finite (softplus never
 * overflows), conditional probabilities are 0 or 1 (not NaN), ln Z is finite
 * and equals its largest term to double precision, and samples are valid. */
static void test_rbm_huge_weights(void)
{
    kd_rbm *r;
    if (kd_rbm_new(&r, 4, 3, KD_UNITS_SPIN, KD_UNITS_SPIN, 0) != KD_OK) {
        kd_test(0, "rbm_new: %s", kd_last_error());
        return;
    }
    float *W = kd_rbm_weights(r);
    for (int k = 0; k < 12; k++)
        W[k] = (k % 3 == 1 ? -1.0f : 1.0f) * 1e30f;
    kd_rbm_visible_bias(r)[0] = 1e30f;
    double v[4] = {1, -1, 1, 1}, h[3], prob[3], mean[3];
    double F = kd_rbm_free_energy_visible(r, v);
    kd_test(isfinite(F), "F(v) with weights 1e30 is finite (%g)", F);
    /* F(v) = -a·v - Σ_j ln(2 cosh(Σ_i W_ij v_i)); the fields are ±2e30, so
     * F = -1e30 - 3·2e30 = -7e30 to double precision */
    kd_test_rel(F, -7e30, 1e-6, "F(v) = -a·v - Σ|field| for huge fields");
    kd_rbm_hidden_given_visible(r, v, prob, mean);
    int ok = 1;
    for (int j = 0; j < 3; j++)
        ok &= (prob[j] == 0.0 || prob[j] == 1.0) && fabs(mean[j]) == 1.0;
    kd_test(ok, "p(h|v) with huge fields is exactly 0 or 1 (%g %g %g)", prob[0], prob[1], prob[2]);
    for (int j = 0; j < 3; j++)
        h[j] = mean[j];
    double lp = kd_rbm_log_prob_hidden_given_visible(r, v, h);
    kd_test(lp == 0.0, "ln p(h|v) of the certain state is 0 (%g)", lp);
    h[0] = -h[0];
    lp = kd_rbm_log_prob_hidden_given_visible(r, v, h);
    kd_test(!isnan(lp) && lp < -1e29, "ln p(h|v) of an impossible state is about -4e30 (%g)", lp);
    double lz = NAN;
    kd_status st = kd_rbm_log_z(r, KD_RBM_SUM_SMALLER, &lz);
    kd_test(st == KD_OK && isfinite(lz) && lz > 1e30,
            "ln Z with weights 1e30 is finite and large (%g)", lz);
    float vs[4 * 8], hs[3 * 8];
    for (int i = 0; i < 32; i++)
        vs[i] = (i % 3) ? 1.0f : -1.0f;
    kd_test(kd_rbm_gibbs(r, vs, 8, 3, 11, 0, hs) == KD_OK, "Gibbs with weights 1e30");
    ok = 1;
    for (int i = 0; i < 32; i++)
        ok &= vs[i] == 1.0f || vs[i] == -1.0f;
    for (int i = 0; i < 24; i++)
        ok &= hs[i] == 1.0f || hs[i] == -1.0f;
    kd_test(ok, "Gibbs samples with weights 1e30 are ±1 (no NaN)");
    kd_rbm_free(r);
}

/* Requests beyond any memory are refused up front, naming the size. */
static void test_memory_refusal(void)
{
    /* Under an address-space limit of 2 GiB (budget 1.6 GiB), an RBM 2^30-1
     * (8 GiB of parameters) is refused naming the limit. Not under the
     * sanitizers, which reserve terabytes of address space. */
    const char *san = getenv("KADANOFF_SANITIZED");
    struct rlimit old;
    if (san && *san) {
        kd_test_skip("RBM under ulimit -v: sanitized build");
    } else if (getrlimit(RLIMIT_AS, &old) == 0) {
        struct rlimit lim = old;
        lim.rlim_cur = (rlim_t)2 << 30;
        if (old.rlim_max != RLIM_INFINITY && old.rlim_max < lim.rlim_cur)
            lim.rlim_cur = old.rlim_max;
        kd_rbm *r = NULL;
        kd_status st = KD_OK;
        if (setrlimit(RLIMIT_AS, &lim) == 0) {
            st = kd_rbm_new(&r, 1 << 30, 1, KD_UNITS_SPIN, KD_UNITS_SPIN, 0);
            setrlimit(RLIMIT_AS, &old);
        }
        kd_test(st == KD_ERR_NOMEM && r == NULL && strstr(kd_last_error(), "ulimit -v"),
                "RBM 2^30-1 refused under a 2 GiB address-space limit: %s", kd_last_error());
        kd_rbm_free(r);
    }

    kd_status st;
    double T[2] = {1.0, 2.0};
    kd_sample_params p;
    kd_sample_params_init(&p);
    p.lattice.L = 4096;       /* 1.7e7 spins ... */
    p.samples = 1000000000;   /* ... times 1e9 rows: 3.4e16 bytes, beyond any machine */
    p.temps = T;
    p.ntemps = 2;
    kd_dataset *d = NULL;
    st = kd_sample(&p, &d);
    kd_test(st == KD_ERR_NOMEM && !d && strstr(kd_last_error(), "would need") &&
                strstr(kd_last_error(), "GiB"),
            "enormous sample refused up front with its size: %s", kd_last_error());

    kd_lattice lat = {KD_LATTICE_SQUARE, 1000, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    kd_flow *f = NULL;
    st = kd_flow_alloc(&f, &lat, KD_FLOW_MEAN_FIELD, 1000, (size_t)1 << 40, 1001);
    kd_test(st == KD_ERR_NOMEM && !f && strstr(kd_last_error(), "would need"),
            "enormous flow refused up front: %s", kd_last_error());
}

int main(void)
{
    test_chain_huge_field();
    test_kaufman_cold();
    test_sampler_huge_field();
    test_rbm_huge_weights();
    test_memory_refusal();
    return kd_test_done();
}
