/*
 * Multi-spin coded Metropolis (kadanoff/multispin.h), checked against the
 * scalar reference and exact results:
 *  - the AVX2 kernels (with and without BMI2) and the portable kernel produce
 *    identical bits (several L, group counts, couplings, temperatures), for
 *    1 and 2 threads (rows or groups split over threads);
 *  - the tail stream reader agrees with its definition, bit by bit, and so
 *    does the chunked tail comparison (ties through every chunk forced);
 *  - one sweep from a fixed configuration has exactly the transition
 *    probabilities of the reference single-site kernel applied in checkerboard
 *    order (chi-square over all 2^16 states of a 4×4 torus), and the
 *    equilibrium state distribution is Boltzmann's and the same as kd_sampler's;
 *  - a single replica's ⟨e⟩ and c agree with Kaufman's exact L = 8 torus below,
 *    at and above T_c, as do the averages over all replicas;
 *  - replicas are independent: the variance of the replica-mean energy equals
 *    the single-replica variance / R within its statistical error;
 *  - bit-sliced energies and magnetisations equal kd_ising_energy/_magnetization;
 *    start configurations, set/extract, bad input;
 *  - kd_sample --algorithm multispin: the same dataset on 1 and 2 threads,
 *    summaries against Kaufman, T = 0 / inf rows, symmetrisation, refusals.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ising/multispin_internal.h"
#include "ising/sampler_internal.h"
#include "kadanoff/kadanoff.h"
#include "kadanoff/multispin.h"
#include "testing.h"

static const double TC = 2.269185314213022;

/* The update rule the rule-dependent tests run with (main runs them for both). */
static kd_algorithm rule = KD_ALGO_METROPOLIS;

/* kd_multispin_new with the current rule. */
static kd_status new_ms(kd_multispin **ms, const kd_lattice *lat, const double *temps, size_t G,
                        uint64_t seed, uint64_t stream)
{
    kd_status st = kd_multispin_new(ms, lat, temps, G, seed, stream);
    return st == KD_OK ? kd_multispin_set_algorithm(*ms, rule) : st;
}

static int have_kernel(const char *name)
{
    kd_lattice lat = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    double T = 2.0;
    kd_multispin *ms;
    if (kd_multispin_new(&ms, &lat, &T, 1, 1, 1) != KD_OK)
        return 0;
    int ok = kd_multispin_set_kernel(ms, name) == KD_OK;
    kd_multispin_free(ms);
    return ok;
}

/* Run the same object twice (kernel/threads a vs b) and compare every replica. */
static int same_runs(const kd_lattice *lat, const double *temps, size_t G, const char *ka, int ta,
                     const char *kb, int tb, int start, long sweeps)
{
    kd_multispin *a, *b;
    if (new_ms(&a, lat, temps, G, 99, 12345) != KD_OK || new_ms(&b, lat, temps, G, 99, 12345) != KD_OK)
        return 0;
    kd_multispin_set_kernel(a, ka);
    kd_multispin_set_kernel(b, kb);
    kd_multispin_set_threads(a, ta);
    kd_multispin_set_threads(b, tb);
    if (start) {
        kd_multispin_randomize(a);
        kd_multispin_randomize(b);
    } else {
        kd_multispin_set_ordered(a);
        kd_multispin_set_ordered(b);
    }
    /* in pieces, so that a sweep count split differently changes nothing */
    kd_multispin_sweep(a, sweeps);
    for (long k = 0; k < sweeps; k++)
        kd_multispin_sweep(b, 1);
    const size_t N = kd_lattice_size(lat), R = kd_multispin_replicas(a);
    int8_t *x = malloc(N), *y = malloc(N);
    int same = kd_multispin_acceptance(a) == kd_multispin_acceptance(b);
    for (size_t r = 0; r < R && same; r++) {
        kd_multispin_extract(a, r, x);
        kd_multispin_extract(b, r, y);
        same = !memcmp(x, y, N);
    }
    free(x);
    free(y);
    kd_multispin_free(a);
    kd_multispin_free(b);
    return same;
}

/* Each vector kernel against the portable one, bit for bit. */
static void test_kernels_identical(const char *kernel)
{
    if (!have_kernel(kernel)) {
        kd_test_skip("this CPU cannot run the '%s' kernel: comparison with portable skipped", kernel);
        return;
    }
    const int Ls[] = {2, 4, 6, 10, 16, 34};
    const size_t Gs[] = {1, 3, 4, 5, 8};
    const double Js[] = {1.0, -0.7, 0.0};
    int bad = 0, runs = 0;
    for (size_t li = 0; li < sizeof Ls / sizeof *Ls; li++)
        for (size_t gi = 0; gi < sizeof Gs / sizeof *Gs; gi++) {
            const size_t G = Gs[gi];
            double temps[8];
            /* from deep in the ordered phase to hot; every fourth group so
             * cold (T = 0.05-0.2) that some thresholds saturate to 0 or 2^32,
             * so the "always" and "never" tables are used */
            for (size_t g = 0; g < G; g++)
                temps[g] = g % 4 == 3 ? 0.05 + 0.05 * (double)(li % 4) : 0.6 + 0.9 * (double)((g * 7 + li) % 8);
            kd_lattice lat = {KD_LATTICE_SQUARE, Ls[li], KD_BOUNDARY_PERIODIC,
                              Js[(li + gi) % 3], 0.0};
            long sweeps = Ls[li] >= 16 ? 3 : 20;
            int ok = same_runs(&lat, temps, G, kernel, 1, "portable", 1, (int)((li + gi) & 1), sweeps);
            runs++;
            if (!ok) {
                bad++;
                kd_test(0, "%s %s == portable for L = %d, %zu groups, J = %g", kd_algorithm_name(rule),
                        kernel, lat.L, G, lat.J);
            }
        }
    kd_test(bad == 0, "%s: '%s' and portable kernels bit-identical in %d configurations",
            kd_algorithm_name(rule), kernel, runs);

    /* at T_c on a larger lattice, many sites: exercises the rarely used tail blocks */
    double tc[8] = {TC, TC, 1.5, 3.5, TC, 2.0, 2.5, TC};
    kd_lattice big = {KD_LATTICE_SQUARE, 64, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    kd_test(same_runs(&big, tc, 4, kernel, 1, "portable", 1, 1, 40),
            "%s: '%s' and portable identical at L = 64 over 40 sweeps", kd_algorithm_name(rule), kernel);
    /* threads over rows (one vector, L = 128 is large enough to split) and over
     * groups (two vectors) */
    kd_lattice big2 = {KD_LATTICE_SQUARE, 128, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    kd_test(same_runs(&big2, tc, 4, kernel, 1, kernel, 2, 0, 4) &&
                same_runs(&big, tc, 8, kernel, 1, kernel, 2, 0, 5),
            "%s: '%s' kernel: 1 and 2 threads identical", kd_algorithm_name(rule), kernel);
}

static void test_portable_threads(void)
{
    double tc[4] = {TC, TC, 1.5, 3.5};
    kd_lattice big = {KD_LATTICE_SQUARE, 128, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    kd_test(same_runs(&big, tc, 1, "portable", 1, "portable", 2, 1, 2) &&
                same_runs(&big, tc, 3, "portable", 1, "portable", 2, 1, 2),
            "%s: portable kernel: 1 and 2 threads identical", kd_algorithm_name(rule));
}

/* kd_ms_tail_read and the fast window read vs the definition of the tail stream:
 * window bits 0..m-1, then the words of blocks blk+2, blk+3, ... */
/* A small object (two groups) whose tail-stream functions the tests call. */
static kd_multispin *tail_object(uint64_t seed)
{
    kd_lattice lat = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    double T[2] = {2.0, 3.0};
    kd_multispin *ms = NULL;
    kd_multispin_new(&ms, &lat, T, 2, seed, 10 * seed);
    return ms;
}

static void test_tail_stream(void)
{
    kd_multispin *ms = tail_object(7);
    kd_rng r;
    kd_rng_init(&r, 3, 3);
    int bad = 0;
    for (int trial = 0; trial < 2000; trial++) {
        const size_t g = trial & 1;
        const uint64_t blk = kd_rng_u64(&r) >> 8;
        const unsigned m3 = kd_rng_below(&r, 64), m2 = kd_rng_below(&r, 64);
        uint64_t a = kd_rng_u64(&r), b = kd_rng_u64(&r), lo, hi;
        a &= m3 ? ~(uint64_t)0 >> (64 - m3) : 0; /* a has m3 bits, b has m2 */
        b &= m2 ? ~(uint64_t)0 >> (64 - m2) : 0;
        unsigned m;
        kd_ms_tail_window(a, m3, b, m2, &lo, &hi, &m);
        /* reference stream, bit by bit */
        unsigned char bits[64 + 64 + 3 * 128];
        unsigned len = 0;
        for (unsigned k = 0; k < m3; k++)
            bits[len++] = (a >> k) & 1;
        for (unsigned k = 0; k < m2; k++)
            bits[len++] = (b >> k) & 1;
        for (unsigned q = 0; q < 3; q++) {
            uint64_t w[2];
            kd_ms_block_words(ms, g, blk + 2 + q, w);
            for (unsigned k = 0; k < 128; k++)
                bits[len++] = (w[k / 64] >> (k % 64)) & 1;
        }
        const unsigned p = kd_rng_below(&r, m + 2 * 64);
        const uint64_t got = kd_ms_tail_read(ms, g, blk, lo, hi, m, p);
        for (unsigned k = 0; k < 64; k++)
            bad += ((got >> k) & 1) != bits[p + k];
        if (p + 64 <= m) { /* the fast path reads the same bits */
            const uint64_t fast = kd_ms_take128(lo, hi, p);
            bad += fast != got;
        }
    }
    kd_test(bad == 0, "tail stream reads agree with its definition (%d wrong bits)", bad);
    /* software pdep / pext against their definitions */
    int bad2 = 0;
    for (int trial = 0; trial < 5000; trial++) {
        uint64_t src = kd_rng_u64(&r), mask = kd_rng_u64(&r) & kd_rng_u64(&r) & kd_rng_u64(&r);
        uint64_t want = 0, w = kd_rng_u64(&r), want2 = 0;
        unsigned k = 0, k2 = 0;
        for (unsigned i = 0; i < 64; i++) {
            if ((mask >> i) & 1)
                want |= ((src >> k++) & 1) << i;
            else
                want2 |= ((w >> i) & 1) << k2++;
        }
        bad2 += kd_ms_pdep(src, mask) != want;
        bad2 += kd_ms_pext_not(w, mask) != want2;
        bad2 += kd_ms_pext(w, ~mask) != want2;
    }
    kd_test(bad2 == 0, "portable pdep and pext agree with their definitions (%d mismatches)", bad2);
    kd_multispin_free(ms);
}

/* kd_ms_tail_chunks against its definition, written out bit by bit: the
 * tail stream as an explicit array, and for every undecided lane the 28 low
 * bits of its u assembled from the chunks it drew (8, 8, 8, 4 bits; the
 * j-th lane of those still undecided takes the j-th piece), accepted iff
 * they are below thr's 28 low bits. Half of the trials write the thresholds'
 * own chunks into the window, so that lanes tie through several chunks and
 * the last chunk and the "u = thr: reject" case run (random bits reach the
 * second chunk only with probability 2^-8). */
static void test_tail_chunks(void)
{
    kd_multispin *ms = tail_object(9);
    kd_rng r;
    kd_rng_init(&r, 4, 4);
    static const unsigned width[4] = {8, 8, 8, 4}, shift[4] = {20, 12, 4, 0};
    int bad = 0;
    long deep = 0, equal = 0; /* lanes that reached the last chunk; lanes with u = thr */
    for (int trial = 0; trial < 4000; trial++) {
        const size_t g = trial & 1;
        /* two classes (Metropolis) or five (heat-bath), random thresholds */
        ms->ncls = trial & 4 ? 5 : 2;
        for (unsigned c = 0; c < ms->ncls; c++)
            ms->thr[c * ms->Gs + g] = kd_rng_u32(&r) | 1;
        const uint64_t blk = kd_rng_u64(&r) >> 8;
        /* undecided lanes: from one to all 64 */
        uint64_t und = kd_rng_u64(&r);
        for (unsigned thin = kd_rng_below(&r, 4); thin > 0; thin--)
            und &= kd_rng_u64(&r);
        if (trial % 50 == 0)
            und = ~(uint64_t)0;
        if (!und)
            und = 1;
        /* each lane's class, and the class planes the tail reads */
        unsigned n = 0, lanes[64], cls[64];
        uint64_t pl[3] = {0, 0, 0};
        for (unsigned l = 0; l < 64; l++) {
            cls[l] = kd_rng_below(&r, ms->ncls);
            for (unsigned q = 0; q < 3; q++)
                pl[q] |= (uint64_t)((cls[l] >> q) & 1) << l;
            if ((und >> l) & 1)
                lanes[n++] = l;
        }
        /* the stream: window (m3 + m2 bits), then blocks blk+2 .. blk+15 */
        static unsigned char bits[128 + 14 * 128];
        const unsigned m3 = kd_rng_below(&r, 65), m2 = kd_rng_below(&r, 65), m = m3 + m2;
        const int forced = trial & 2;
        for (unsigned k = 0; k < m; k++)
            bits[k] = (unsigned char)kd_rng_below(&r, 2);
        if (forced) { /* everyone tied so far, as far as the window reaches */
            unsigned p = 0;
            for (unsigned c = 0; c < 4; c++)
                for (unsigned j = 0; j < n; j++, p += width[c]) {
                    const uint32_t thr = ms->thr[cls[lanes[j]] * ms->Gs + g];
                    for (unsigned b = 0; b < width[c] && p + b < m; b++)
                        bits[p + b] = (thr >> (shift[c] + b)) & 1;
                }
        }
        uint64_t a = 0, b2 = 0;
        for (unsigned k = 0; k < m3; k++)
            a |= (uint64_t)bits[k] << k;
        for (unsigned k = 0; k < m2; k++)
            b2 |= (uint64_t)bits[m3 + k] << k;
        for (unsigned q = 0; q < 14; q++) {
            uint64_t w[2];
            kd_ms_block_words(ms, g, blk + 2 + q, w);
            for (unsigned k = 0; k < 128; k++)
                bits[m + 128 * q + k] = (w[k / 64] >> (k % 64)) & 1;
        }
        uint64_t lo, hi;
        unsigned mm;
        kd_ms_tail_window(a, m3, b2, m2, &lo, &hi, &mm);
        /* definition: the chunks each lane drew, then one comparison */
        uint32_t u[64] = {0};
        unsigned drawn[64] = {0};
        uint64_t open = und, tied0 = 0;
        unsigned p = 0;
        for (unsigned c = 0; c < 4 && open; c++) {
            uint64_t tied = 0;
            unsigned j = 0;
            for (unsigned l = 0; l < 64; l++) {
                if (!((open >> l) & 1))
                    continue;
                uint32_t x = 0;
                for (unsigned b = 0; b < width[c]; b++)
                    x |= (uint32_t)bits[p + width[c] * j + b] << b;
                j++;
                u[l] |= x << shift[c];
                drawn[l] = c + 1;
                const uint32_t thr = ms->thr[cls[l] * ms->Gs + g];
                if (x == ((thr >> shift[c]) & ((1u << width[c]) - 1)))
                    tied |= (uint64_t)1 << l;
            }
            p += width[c] * j;
            open = tied;
            if (c == 0)
                tied0 = tied;
        }
        uint64_t want = 0;
        for (unsigned j = 0; j < n; j++) {
            const unsigned l = lanes[j];
            const uint32_t thr = ms->thr[cls[l] * ms->Gs + g] & 0x0fffffffu;
            /* bits below the last chunk drawn are not compared: fill them
             * from thr, so only the drawn bits decide */
            const unsigned low = drawn[l] == 4 ? 0 : shift[drawn[l] - 1];
            const uint32_t ul = u[l] | (thr & ((1u << low) - 1));
            want |= (uint64_t)(ul < thr) << l;
            deep += drawn[l] == 4;
            equal += ul == thr;
        }
        const uint64_t got = kd_ms_tail_chunks(ms, g, blk, lo, hi, mm, und, pl, ms->ncls, 0, 0);
        bad += got != want;
        /* the vector kernel's entry for lanes tied in the first chunk */
        bad += kd_ms_tail_chunks(ms, g, blk, lo, hi, mm, tied0, pl, ms->ncls, 1, 8 * n) != (want & tied0);
    }
    /* deep and equal only show that the forced ties reached the last chunk
     * and the u = thr case (seeded: 556 and 289 lanes); any count above a
     * handful would do */
    kd_test(bad == 0 && deep > 100 && equal > 10,
            "chunked tail (2 and 5 classes) agrees with its definition in 4000 trials (%d wrong; %ld lanes reached "
            "the last chunk, %ld had u = thr)",
            bad, deep, equal);
    kd_multispin_free(ms);
}

/* ---- exact one-sweep transition probabilities on a 4×4 torus ---------- */

static unsigned state_of(const int8_t *s, size_t n)
{
    unsigned b = 0;
    for (size_t i = 0; i < n; i++)
        b |= (unsigned)(s[i] > 0) << i;
    return b;
}

/* Chi-square over bins with expected count >= 5 (the rest pooled into one
 * bin); returns chi2 and sets *dof. */
static double chi_square(const long *count, const double *prob, size_t nbins, long total, long *dof)
{
    double chi2 = 0, rest_e = 0, rest_o = 0;
    *dof = -1;
    for (size_t b = 0; b < nbins; b++) {
        double e = prob[b] * (double)total;
        if (e < 5) {
            rest_e += e;
            rest_o += (double)count[b];
            continue;
        }
        chi2 += ((double)count[b] - e) * ((double)count[b] - e) / e;
        (*dof)++;
    }
    if (rest_e >= 5) {
        chi2 += (rest_o - rest_e) * (rest_o - rest_e) / rest_e;
        (*dof)++;
    }
    return chi2;
}

/* Start: random spins (defects < 0), or the ground state (all up, Néel for
 * J < 0) with `defects` random spins reversed (near order the outcomes concentrate on few states,
 * which gives the chi-square many well-filled bins). */
static void test_one_sweep_transition(double J, double T, unsigned seed, int defects)
{
    kd_lattice lat = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, J, 0.0};
    const size_t n = 16, ns = (size_t)1 << n;
    int8_t start[16], s[16];
    kd_rng r;
    kd_rng_init(&r, seed, 1);
    for (size_t i = 0; i < n; i++) /* J < 0: the Néel state */
        start[i] = defects < 0 ? kd_rng_spin(&r) : (J < 0 && ((i % 4 + i / 4) & 1) ? -1 : 1);
    for (int d = 0; d < defects; d++) {
        const uint32_t i = kd_rng_below(&r, 16);
        start[i] = (int8_t)-start[i];
    }
    /* exact: the reference flip probabilities, site by site in sweep order */
    double *v = calloc(ns, sizeof *v), *w = malloc(ns * sizeof *w);
    v[state_of(start, n)] = 1;
    for (int parity = 0; parity < 2; parity++)
        for (int y = 0; y < 4; y++)
            for (int x = (y + parity) & 1; x < 4; x += 2) {
                size_t i = (size_t)(4 * y + x);
                memset(w, 0, ns * sizeof *w);
                for (size_t b = 0; b < ns; b++) {
                    if (v[b] == 0)
                        continue;
                    for (size_t k = 0; k < n; k++)
                        s[k] = (b >> k) & 1 ? 1 : -1;
                    double pf = kd_ising_flip_probability(&lat, s, i, 1 / T, rule);
                    w[b] += v[b] * (1 - pf);
                    w[b ^ ((size_t)1 << i)] += v[b] * pf;
                }
                memcpy(v, w, ns * sizeof *v);
            }
    /* multi-spin: every replica from the same start, one sweep, many times */
    const size_t G = 4, R = G * 64;
    const double temps[4] = {T, T, T, T};
    kd_multispin *ms;
    new_ms(&ms, &lat, temps, G, seed, 5);
    long *count = calloc(ns, sizeof *count), total = 0;
    for (int trial = 0; trial < 300; trial++) {
        for (size_t rep = 0; rep < R; rep++)
            kd_multispin_set_replica(ms, rep, start);
        kd_multispin_sweep(ms, 1);
        for (size_t rep = 0; rep < R; rep++) {
            kd_multispin_extract(ms, rep, s);
            count[state_of(s, n)]++;
            total++;
        }
    }
    long dof;
    double chi2 = chi_square(count, v, ns, total, &dof);
    /* independent samples: chi2 has mean dof, sd sqrt(2 dof); 5 sd */
    kd_test(dof >= 20 && chi2 < (double)dof + 5 * sqrt(2.0 * (double)dof),
            "%s: one sweep from a fixed 4×4 state (J = %g, T = %g): chi2 %.1f for %ld dof vs the "
            "reference kernel's exact transition probabilities",
            kd_algorithm_name(rule), J, T, chi2, dof);
    free(count);
    free(v);
    free(w);
    kd_multispin_free(ms);
}

/* Equilibrium on a 4×4 torus: state histogram vs e^{-βH}/Z, and energy
 * histogram vs kd_sampler's (two-sample chi-square). */
static void test_equilibrium_4x4(void)
{
    const double T = 2.5;
    kd_lattice lat = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    const size_t n = 16, ns = (size_t)1 << n;
    int8_t s[16];
    double *pi = malloc(ns * sizeof *pi), z = 0;
    for (size_t b = 0; b < ns; b++) {
        for (size_t k = 0; k < n; k++)
            s[k] = (b >> k) & 1 ? 1 : -1;
        z += (pi[b] = exp(-kd_ising_energy(&lat, s) * (double)n / T));
    }
    for (size_t b = 0; b < ns; b++)
        pi[b] /= z;
    const double temps[4] = {T, T, T, T};
    kd_multispin *ms;
    new_ms(&ms, &lat, temps, 4, 77, 9);
    kd_multispin_randomize(ms);
    kd_multispin_sweep(ms, 200);
    long *count = calloc(ns, sizeof *count), total = 0;
    long ms_hist[17] = {0}, sc_hist[17] = {0};
    /* energy levels of the 4×4 torus: H ∈ {-32, -24, ..., 32} in steps of 4 */
    const int nsweeps = 400, spacing = 3;
    for (int k = 0; k < nsweeps; k++) {
        kd_multispin_sweep(ms, spacing);
        for (size_t rep = 0; rep < 256; rep++) {
            kd_multispin_extract(ms, rep, s);
            count[state_of(s, n)]++;
            total++;
            ms_hist[(int)lround(kd_ising_energy(&lat, s) * 16 / 4) + 8]++;
        }
    }
    long dof;
    double chi2 = chi_square(count, pi, ns, total, &dof);
    /* Samples of one replica 3 sweeps apart are correlated (τ_int of the state
     * indicator ≲ 2 sweeps at T = 2.5 on 4×4), which inflates chi2 by at most
     * ~2τ/3; allow a factor 2 on top of 5 sd. */
    kd_test(chi2 < 2 * ((double)dof + 5 * sqrt(2.0 * (double)dof)),
            "%s: 4×4 equilibrium state histogram at T = %g: chi2 %.1f for %ld dof",
            kd_algorithm_name(rule), T, chi2, dof);

    kd_sampler *S;
    kd_sampler_new(&S, &lat, T, rule, 5, 5);
    kd_sampler_sweep(S, 200);
    for (long k = 0; k < total; k++) {
        kd_sampler_sweep(S, 1);
        sc_hist[(int)lround(kd_ising_energy(&lat, kd_sampler_spins(S)) * 16 / 4) + 8]++;
    }
    /* two-sample chi-square on the energy histogram (equal sample sizes) */
    double c2 = 0;
    long d2 = -1;
    for (int b = 0; b < 17; b++)
        if (ms_hist[b] + sc_hist[b] >= 10) {
            double diff = (double)(ms_hist[b] - sc_hist[b]);
            c2 += diff * diff / (double)(ms_hist[b] + sc_hist[b]);
            d2++;
        }
    /* kd_sampler's one-sweep samples are correlated (τ_int(e) ≈ 2 sweeps), which
     * inflates the statistic by ≲ 1 + 2τ; bound 3 × (dof + 5 sd). */
    kd_test(c2 < 3 * ((double)d2 + 5 * sqrt(2.0 * (double)d2)),
            "4×4 energy distribution: multi-spin vs kd_sampler %s, chi2 %.1f for %ld dof",
            kd_algorithm_name(rule), c2, d2);
    kd_sampler_free(S);
    free(count);
    free(pi);
    kd_multispin_free(ms);
}

/* ---- Kaufman, replica independence ------------------------------------ */

static double heat_capacity_fn(const double *m, void *ctx)
{
    const double *nb2 = ctx; /* N β² */
    return nb2[0] * (m[1] - m[0] * m[0]);
}

static double variance_fn(const double *m, void *ctx)
{
    (void)ctx;
    return m[1] - m[0] * m[0];
}

static void test_kaufman_and_independence(double T)
{
    const int L = 8;
    const size_t G = 4, R = 64 * G, N = (size_t)L * L;
    const long sweeps = 20000;
    kd_lattice lat = {KD_LATTICE_SQUARE, L, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    const double temps[4] = {T, T, T, T};
    kd_multispin *ms;
    new_ms(&ms, &lat, temps, G, 2024, 1000);
    kd_multispin_set_ordered(ms);
    kd_multispin_sweep(ms, 2000); /* τ at L = 8 is at most tens of sweeps */
    kd_thermo ex;
    kd_kaufman_torus(L, 1.0, T, &ex);
    double *e = malloc(R * sizeof *e);
    double *one = malloc(2 * (size_t)sweeps * sizeof *one), *other = malloc(2 * (size_t)sweeps * sizeof *other);
    double *avg = malloc(2 * (size_t)sweeps * sizeof *avg), *mean = malloc(2 * (size_t)sweeps * sizeof *mean);
    double var_sum = 0; /* Σ_r var_t(e_r) via per-replica sums */
    double *s1 = calloc(R, sizeof *s1), *s2 = calloc(R, sizeof *s2);
    for (long k = 0; k < sweeps; k++) {
        kd_multispin_sweep(ms, 1);
        kd_multispin_energies(ms, e);
        double m1 = 0, m2 = 0;
        for (size_t r = 0; r < R; r++) {
            m1 += e[r];
            m2 += e[r] * e[r];
            s1[r] += e[r];
            s2[r] += e[r] * e[r];
        }
        m1 /= (double)R;
        m2 /= (double)R;
        one[2 * k] = e[0];
        one[2 * k + 1] = e[0] * e[0];
        other[2 * k] = e[137];
        other[2 * k + 1] = e[137] * e[137];
        avg[2 * k] = m1; /* replica averages of e and e² */
        avg[2 * k + 1] = m2;
        mean[2 * k] = m1; /* the replica-mean energy and its square */
        mean[2 * k + 1] = m1 * m1;
    }
    /* 50 blocks of 400 sweeps: τ_int(e) at L = 8 is ≲ 15 sweeps even at T_c
     * (Metropolis, z ≈ 2.2), so block means are independent and the blocking
     * errors include the autocorrelation. */
    const size_t nb = 50;
    double nb2 = (double)N / (T * T), v, err;
    char what[128];
    const double *series[2] = {one, other};
    const int which[2] = {0, 137};
    for (int q = 0; q < 2; q++) {
        double *col = malloc((size_t)sweeps * sizeof *col);
        for (long k = 0; k < sweeps; k++)
            col[k] = series[q][2 * k];
        kd_binning(col, (size_t)sweeps, nb, &v, &err);
        snprintf(what, sizeof what, "%s replica %d alone, L=8 T=%.4g ⟨e⟩ vs Kaufman", kd_algorithm_name(rule), which[q], T);
        kd_test_sigma(v, err, ex.e, 4.0, what);
        kd_jackknife(series[q], (size_t)sweeps, 2, nb, heat_capacity_fn, &nb2, &v, &err);
        snprintf(what, sizeof what, "%s replica %d alone, L=8 T=%.4g c vs Kaufman", kd_algorithm_name(rule), which[q], T);
        kd_test_sigma(v, err, ex.c, 4.0, what);
        free(col);
    }
    /* all replicas pooled: c from replica-averaged e and e² (replicas are
     * identically distributed, so ⟨e²⟩ - ⟨e⟩² is the single-replica variance) */
    kd_jackknife(avg, (size_t)sweeps, 2, nb, heat_capacity_fn, &nb2, &v, &err);
    snprintf(what, sizeof what, "%s, all %zu replicas, L=8 T=%.4g c vs Kaufman", kd_algorithm_name(rule), R, T);
    kd_test_sigma(v, err, ex.c, 4.0, what);
    {
        double *col = malloc((size_t)sweeps * sizeof *col);
        for (long k = 0; k < sweeps; k++)
            col[k] = avg[2 * k];
        kd_binning(col, (size_t)sweeps, nb, &v, &err);
        snprintf(what, sizeof what, "%s, all %zu replicas, L=8 T=%.4g ⟨e⟩ vs Kaufman", kd_algorithm_name(rule), R, T);
        kd_test_sigma(v, err, ex.e, 4.0, what);
        free(col);
    }
    /* Independence: var_t(mean_r e_r) = (1/R) · mean_r var_t(e_r) for independent
     * replicas; correlations of any pair would raise the left side. The error of
     * var_t(ē) comes from the jackknife over the same 50 blocks; the
     * single-replica variance, averaged over 256 replicas, is far more precise. */
    for (size_t r = 0; r < R; r++) {
        double m = s1[r] / (double)sweeps;
        var_sum += s2[r] / (double)sweeps - m * m;
    }
    const double var1 = var_sum / (double)R;
    kd_jackknife(mean, (size_t)sweeps, 2, nb, variance_fn, NULL, &v, &err);
    snprintf(what, sizeof what, "%s T=%.4g: R·var(replica-mean e) / var(e) = 1 (independent replicas)", kd_algorithm_name(rule), T);
    kd_test_sigma(v * (double)R / var1, err * (double)R / var1, 1.0, 4.0, what);
    free(s1);
    free(s2);
    free(e);
    free(one);
    free(other);
    free(avg);
    free(mean);
    kd_multispin_free(ms);
}

/* ---- observables, starts, input ---------------------------------------- */

static void test_observables_and_starts(void)
{
    const int Ls[] = {2, 6, 12};
    int bad = 0;
    for (int li = 0; li < 3; li++) {
        kd_lattice lat = {KD_LATTICE_SQUARE, Ls[li], KD_BOUNDARY_PERIODIC, li == 1 ? -1.3 : 0.8, 0.0};
        const size_t N = kd_lattice_size(&lat);
        double temps[2] = {1.7, 4.0};
        kd_multispin *ms;
        new_ms(&ms, &lat, temps, 2, 11, 3);
        kd_multispin_randomize(ms);
        kd_multispin_sweep(ms, 7);
        double e[128], m[128];
        kd_multispin_energies(ms, e);
        kd_multispin_magnetizations(ms, m);
        int8_t *x = malloc(N);
        for (size_t r = 0; r < 128; r++) {
            kd_multispin_extract(ms, r, x);
            bad += e[r] != kd_ising_energy(&lat, x) || m[r] != kd_ising_magnetization(&lat, x);
        }
        free(x);
        kd_multispin_free(ms);
    }
    kd_test(bad == 0, "bit-sliced energies and magnetisations equal kd_ising's (%d mismatches)", bad);

    /* ordered start: ±uniform for J > 0, both Néel states for J < 0, each
     * replica independently with probability ½ */
    for (int afm = 0; afm < 2; afm++) {
        kd_lattice lat = {KD_LATTICE_SQUARE, 6, KD_BOUNDARY_PERIODIC, afm ? -1.0 : 1.0, 0.0};
        double temps[4] = {2, 2, 2, 2};
        kd_multispin *ms;
        kd_multispin_new(&ms, &lat, temps, 4, 5, 5);
        kd_multispin_set_ordered(ms);
        double e[256], m[256];
        kd_multispin_energies(ms, e);
        kd_multispin_magnetizations(ms, m);
        int ground = 1, plus = 0;
        int8_t x[36];
        for (size_t r = 0; r < 256; r++) {
            ground &= e[r] == -2.0;
            kd_multispin_extract(ms, r, x);
            plus += afm ? x[0] > 0 : m[r] == 1.0;
            if (!afm)
                ground &= fabs(m[r]) == 1.0;
        }
        /* 256 fair coins: mean 128, sd 8; 5 sd */
        kd_test(ground && abs(plus - 128) <= 40,
                "ordered start (J = %g): ground states, %d of 256 of the first kind", lat.J, plus);
        kd_multispin_free(ms);
    }

    /* set / extract round trip, and set_replica refuses non-spins */
    kd_lattice lat = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    double T = 2.0;
    kd_multispin *ms;
    kd_multispin_new(&ms, &lat, &T, 1, 1, 1);
    int8_t in[16], out[16];
    for (int i = 0; i < 16; i++)
        in[i] = (i * 7 % 3) ? 1 : -1;
    kd_multispin_set_replica(ms, 17, in);
    kd_multispin_extract(ms, 16, out); /* the neighbouring replica is untouched: cold */
    int cold = 1;
    for (int i = 0; i < 16; i++)
        cold &= out[i] == 1;
    kd_multispin_extract(ms, 17, out);
    kd_test(!memcmp(in, out, 16) && cold, "set_replica / extract round trip leaves other replicas");
    in[3] = 0;
    kd_test(kd_multispin_set_replica(ms, 0, in) == KD_ERR_INVALID &&
                kd_multispin_set_replica(ms, 64, out) == KD_ERR_INVALID,
            "set_replica refuses a 0 spin and replica 64 of 64: %s", kd_last_error());
    kd_test(kd_multispin_set_kernel(ms, "sse9") == KD_ERR_INVALID &&
                kd_multispin_set_kernel(ms, "portable") == KD_OK &&
                !strcmp(kd_multispin_kernel(ms), "portable") &&
                kd_multispin_set_kernel(ms, "auto") == KD_OK,
            "kernel names");
    kd_test(kd_multispin_temperature(ms, 63) == 2.0 && isnan(kd_multispin_temperature(ms, 64)),
            "temperature of a replica");
    kd_multispin_free(ms);
    kd_multispin_free(NULL);
}

/* The object's thresholds (always / maybe + thr / never) are kd_sampler's,
 * class by class: Metropolis classes 0 and 1 are the moves of a +1 spin with
 * all four or three of its neighbours satisfied, heat-bath class k is
 * P(s = +1) with k neighbours up. Temperatures from 1e-3 to 1e3 and a
 * subnormal one (β = inf), where the thresholds saturate. */
static void test_tables(void)
{
    const double Js[] = {1.0, -1.0, 0.0, -0.37, 3.0};
    int bad = 0, n = 0;
    for (int ji = 0; ji < 5; ji++)
        for (int ti = 0; ti <= 61; ti++) {
            const double J = Js[ji], T = ti == 61 ? 1e-310 : pow(10.0, -3.0 + 0.1 * ti);
            kd_lattice lat = {KD_LATTICE_SQUARE, 4, KD_BOUNDARY_PERIODIC, J, 0.0};
            for (int hb = 0; hb < 2; hb++) {
                kd_multispin *ms;
                kd_sampler *S;
                if (kd_multispin_new(&ms, &lat, &T, 1, 1, 1) != KD_OK)
                    ms = NULL;
                if (kd_sampler_new(&S, &lat, T, hb ? KD_ALGO_HEATBATH : KD_ALGO_METROPOLIS, 1, 1) != KD_OK)
                    S = NULL;
                if (!ms || !S) {
                    bad++;
                    kd_multispin_free(ms);
                    kd_sampler_free(S);
                    continue;
                }
                kd_multispin_set_algorithm(ms, hb ? KD_ALGO_HEATBATH : KD_ALGO_METROPOLIS);
                for (unsigned c = 0; c < (hb ? 5u : 2u); c++) {
                    const size_t k = (size_t)c * ms->Gs;
                    const uint64_t got = ms->always[k] ? (uint64_t)1 << 32 : ms->maybe[k] ? ms->thr[k] : 0;
                    /* Metropolis: s = +1 (index 1) with neighbour sum ±4 (class 0)
                     * or ±2 (class 1), + for J >= 0 */
                    const int nb = (c == 0 ? 4 : 2) * (J < 0 ? -1 : 1);
                    const uint64_t want = hb ? S->up[2 * c] : S->accept[1][nb + 4];
                    if (got != want && bad++ < 3)
                        kd_test(0, "J = %g, T = %g, %s class %u: threshold %llu, kd_sampler's %llu", J, T,
                                hb ? "heat-bath" : "Metropolis", c, (unsigned long long)got,
                                (unsigned long long)want);
                    n++;
                }
                kd_sampler_free(S);
                kd_multispin_free(ms);
            }
        }
    kd_test(bad == 0, "multi-spin thresholds equal kd_sampler's in %d (class, J, T, rule) cases (%d differ)",
            n, bad);
}

/* The rule can change between sweeps; other algorithms are refused; the
 * heat-bath "acceptance" is the fraction of updates that changed the spin. */
static void test_rule_switch(void)
{
    kd_lattice lat = {KD_LATTICE_SQUARE, 8, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    double T = 1e-3; /* deep in the ordered phase: from all up nothing moves */
    kd_multispin *ms;
    kd_multispin_new(&ms, &lat, &T, 1, 3, 3);
    int ok = kd_multispin_algorithm(ms) == KD_ALGO_METROPOLIS;
    ok &= kd_multispin_set_algorithm(ms, KD_ALGO_WOLFF) == KD_ERR_INVALID &&
          kd_multispin_algorithm(ms) == KD_ALGO_METROPOLIS;
    ok &= kd_multispin_set_algorithm(ms, KD_ALGO_HEATBATH) == KD_OK &&
          kd_multispin_algorithm(ms) == KD_ALGO_HEATBATH;
    kd_multispin_sweep(ms, 10);
    ok &= kd_multispin_acceptance(ms) == 0;
    /* T = 1e6 with heat-bath: each spin is redrawn with P(up) = 1/2 ± 4e-6,
     * so half the updates change it: 64·64·100 updates, sd 0.1 %; 5 sd */
    kd_multispin_free(ms);
    T = 1e6;
    kd_multispin_new(&ms, &lat, &T, 1, 3, 3);
    kd_multispin_set_algorithm(ms, KD_ALGO_HEATBATH);
    kd_multispin_sweep(ms, 100);
    const double a = kd_multispin_acceptance(ms);
    ok &= fabs(a - 0.5) < 5 * 0.5 / sqrt(64.0 * 64 * 100);
    kd_multispin_free(ms);
    /* J = 0 at a subnormal T (β = inf): still P(up) = 1/2 exactly; same bound */
    kd_lattice free_spins = lat;
    free_spins.J = 0;
    T = 1e-310;
    kd_multispin_new(&ms, &free_spins, &T, 1, 3, 3);
    kd_multispin_set_algorithm(ms, KD_ALGO_HEATBATH);
    kd_multispin_sweep(ms, 100);
    const double a0 = kd_multispin_acceptance(ms);
    ok &= fabs(a0 - 0.5) < 5 * 0.5 / sqrt(64.0 * 64 * 100);
    kd_test(ok, "rule switch, refusal of wolff (%s), heat-bath change rate %.4f at T = 1e6, %.4f at "
                "J = 0, T = 1e-310",
            kd_last_error(), a, a0);
    kd_multispin_free(ms);
}

static void test_bad_input(void)
{
    kd_multispin *ms = (kd_multispin *)1;
    double T[2] = {2.0, 2.0};
    const struct {
        kd_lattice lat;
        kd_status want;
        const char *what;
    } cases[] = {
        {{KD_LATTICE_SQUARE, 5, KD_BOUNDARY_PERIODIC, 1.0, 0.0}, KD_ERR_UNSUPPORTED, "odd L"},
        {{KD_LATTICE_SQUARE, 6, KD_BOUNDARY_OPEN, 1.0, 0.0}, KD_ERR_UNSUPPORTED, "open boundary"},
        {{KD_LATTICE_CHAIN, 6, KD_BOUNDARY_PERIODIC, 1.0, 0.0}, KD_ERR_UNSUPPORTED, "chain"},
        {{KD_LATTICE_SQUARE, 6, KD_BOUNDARY_PERIODIC, 1.0, 0.1}, KD_ERR_UNSUPPORTED, "field"},
        {{KD_LATTICE_SQUARE, 1, KD_BOUNDARY_PERIODIC, 1.0, 0.0}, KD_ERR_INVALID, "L = 1"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        kd_test(kd_multispin_new(&ms, &cases[c].lat, T, 2, 1, 1) == cases[c].want && !ms,
                "%s refused: %s", cases[c].what, kd_last_error());
    kd_lattice ok = {KD_LATTICE_SQUARE, 6, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    double bad[3] = {0.0, INFINITY, -1.0};
    for (int k = 0; k < 3; k++)
        kd_test(kd_multispin_new(&ms, &ok, &bad[k], 1, 1, 1) == KD_ERR_INVALID && !ms,
                "T = %g refused: %s", bad[k], kd_last_error());
    kd_test(kd_multispin_new(&ms, &ok, T, 0, 1, 1) == KD_ERR_INVALID && !ms, "no groups refused");
    kd_algorithm a;
    kd_test(kd_algorithm_parse("multispin-heatbath", &a) == KD_OK && a == KD_ALGO_MULTISPIN_HEATBATH &&
                !strcmp(kd_algorithm_name(KD_ALGO_MULTISPIN_HEATBATH), "multispin-heatbath") &&
                kd_algorithm_is_multispin(a) && !kd_algorithm_is_multispin(KD_ALGO_HEATBATH),
            "algorithm name multispin-heatbath");
    kd_sampler *S = NULL;
    kd_test(kd_sampler_new(&S, &ok, 2.0, KD_ALGO_MULTISPIN_HEATBATH, 1, 1) == KD_ERR_INVALID && !S,
            "kd_sampler refuses multispin-heatbath: %s", kd_last_error());
    kd_test(kd_algorithm_parse("multispin", &a) == KD_OK && a == KD_ALGO_MULTISPIN &&
                !strcmp(kd_algorithm_name(KD_ALGO_MULTISPIN), "multispin"),
            "algorithm name 'multispin'");
}

/* ---- kd_sample --algorithm multispin ------------------------------------ */

/* The algorithm test_sample_driver runs kd_sample with. */
static kd_algorithm sample_algo = KD_ALGO_MULTISPIN;

static kd_dataset *run_sample(const double *temps, size_t nt, int threads, long burn_in, int sym)
{
    kd_sample_params p;
    kd_sample_params_init(&p);
    p.lattice = (kd_lattice){KD_LATTICE_SQUARE, 8, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    p.temps = temps;
    p.ntemps = nt;
    p.samples = 2000;
    p.chains = 100; /* two groups, the second partly used */
    p.algorithm = sample_algo;
    p.seed = 31;
    p.burn_in = burn_in;
    p.symmetrize = sym;
    kd_set_threads(threads);
    kd_dataset *d = NULL;
    kd_status st = kd_sample(&p, &d);
    kd_set_threads(0);
    kd_test(st == KD_OK, "kd_sample %s (%d threads): %s", kd_algorithm_name(sample_algo), threads,
            kd_last_error());
    return d;
}

static void test_sample_driver(void)
{
    const double temps[] = {2.6, 1.9, INFINITY, 0.0};
    kd_dataset *a = run_sample(temps, 4, 1, -1, 0), *b = run_sample(temps, 4, 2, -1, 0);
    if (!a || !b) {
        kd_dataset_free(a);
        kd_dataset_free(b);
        return;
    }
    const size_t n = a->n, N = 64;
    kd_test(n == 8000 && b->n == n && !memcmp(a->spins, b->spins, n * N) &&
                !memcmp(a->energy, b->energy, n * sizeof *a->energy) &&
                !strcmp(a->algorithm, kd_algorithm_name(sample_algo)),
            "kd_sample %s: identical datasets on 1 and 2 threads", kd_algorithm_name(sample_algo));
    /* each chain (replica) fills its own rows in time order; rows carry T */
    int labels = 1;
    for (size_t r = 0; r < n; r++)
        labels &= a->temperature[r] == temps[r / 2000] || (isinf(temps[r / 2000]) && isinf(a->temperature[r]));
    kd_test(labels, "rows ordered by temperature");
    /* the per-temperature summary against Kaufman (errors: jackknife over the
     * stored samples, which the automatic interval of 2 τ keeps nearly
     * independent) */
    for (int t = 0; t < 2; t++) {
        kd_thermo ex;
        kd_kaufman_torus(8, 1.0, temps[t], &ex);
        const kd_temp_summary *sm = &a->summary[t];
        char what[96];
        snprintf(what, sizeof what, "kd_sample %s L=8 T=%g ⟨e⟩ (τ %.1f, interval %.0f)",
                 kd_algorithm_name(sample_algo), temps[t], sm->tau_e, sm->interval);
        kd_test_sigma(sm->e, sm->e_err, ex.e, 4.0, what);
        snprintf(what, sizeof what, "kd_sample %s L=8 T=%g c", kd_algorithm_name(sample_algo), temps[t]);
        kd_test_sigma(sm->c, sm->c_err, ex.c, 4.0, what);
        kd_test(sm->burn_in >= 1100 && sm->interval >= 1 && sm->acceptance > 0 && sm->acceptance < 1,
                "T=%g: burn-in %.0f sweeps, interval %.0f, acceptance %.3f", temps[t], sm->burn_in,
                sm->interval, sm->acceptance);
    }
    kd_test(a->summary[3].e == -2.0 && fabs(a->summary[2].e) < 0.05,
            "T = 0 ground states and T = inf random spins in %s datasets (e = %g, %g)",
            kd_algorithm_name(sample_algo), a->summary[3].e, a->summary[2].e);
    kd_dataset_free(a);
    kd_dataset_free(b);

    /* fixed burn-in, symmetrised; and the lattice restrictions */
    const double t1[] = {2.3};
    kd_dataset *c = run_sample(t1, 1, 2, 500, 1);
    if (c) {
        double msum = 0;
        for (size_t r = 0; r < c->n; r++)
            msum += c->magnetization[r];
        /* symmetrised: ⟨m⟩ = 0 up to noise (|m| ~ 0.8 at T = 2.3, L = 8; 2000
         * samples: sd of the mean <= 0.02 even if every pair were correlated) */
        kd_test(fabs(msum / (double)c->n) < 0.1 && !strcmp(c->burn_in, "500"),
                "symmetrised %s samples, ⟨m⟩ = %.3f", kd_algorithm_name(sample_algo),
                msum / (double)c->n);
        kd_dataset_free(c);
    }
    kd_sample_params p;
    kd_sample_params_init(&p);
    p.lattice = (kd_lattice){KD_LATTICE_SQUARE, 7, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    p.temps = t1;
    p.ntemps = 1;
    p.samples = 10;
    p.algorithm = sample_algo;
    kd_dataset *d = NULL;
    kd_test(kd_sample(&p, &d) == KD_ERR_UNSUPPORTED && !d && strstr(kd_last_error(), "even L"),
            "kd_sample %s refuses odd L: %s", kd_algorithm_name(sample_algo), kd_last_error());
}

/* The checks of the kernels and the physics that depend on the update rule. */
static void test_rule(kd_algorithm r)
{
    rule = r;
    test_kernels_identical("avx2");
    test_kernels_identical("avx2-nobmi2");
    test_portable_threads();
    test_one_sweep_transition(1.0, 2.0, 1, -1);
    test_one_sweep_transition(1.0, TC, 2, 2);
    test_one_sweep_transition(-1.0, 1.2, 3, 3);
    test_one_sweep_transition(-1.0, 4.0, 5, -1);
    test_equilibrium_4x4();
    test_kaufman_and_independence(1.8);
    test_kaufman_and_independence(TC);
    test_kaufman_and_independence(3.0);
    test_observables_and_starts();
    rule = KD_ALGO_METROPOLIS;
}

int main(void)
{
    test_rule(KD_ALGO_METROPOLIS);
    test_one_sweep_transition(1.0, 1.5, 4, 3); /* Metropolis, one more case */
    test_rule(KD_ALGO_HEATBATH);
    test_tail_stream();
    test_tail_chunks();
    test_rule_switch();
    test_tables();
    test_bad_input();
    test_sample_driver();
    sample_algo = KD_ALGO_MULTISPIN_HEATBATH;
    test_sample_driver();
    return kd_test_done();
}
