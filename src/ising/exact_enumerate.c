/*
 * Brute-force enumeration of all 2^N states of any lattice (N <= 30): the
 * reference the closed forms are tested against.
 *
 * H = -J B - h M with two integers per state, the bond sum B = Σ_<ij> s_i s_j and
 * the magnetisation M = Σ_i s_i. The enumeration only builds the exact histogram
 * g(B, M) (counts, integers); thermodynamics at any T then needs O(#bins) work:
 *
 *   ln Z = -β E_min + ln Σ g e^{-β (E - E_min)}                (no overflow),
 *   ⟨H⟩ = E_min + Σ w (E - E_min) / Σ w,   w = g e^{-β (E - E_min)} in (0, g],
 *   var H = Σ w (E - ⟨H⟩)² / Σ w                               (two passes),
 * so the variance is never a difference of two large moments.
 *
 * States are visited in Gray-code order: one spin flips per step and (B, M)
 * change by -2 s_i Σ_j A_ij s_j and -2 s_i. The adjacency A_ij (with
 * multiplicity: a periodic side of 2 has doubled bonds) is read off the reference
 * kernel kd_ising_local_field, and each block's starting (B, M) from
 * kd_ising_energy / kd_ising_magnetization, so the geometry lives in one place.
 * The top bits are split into blocks that run in parallel (OpenMP); the
 * histogram is exact, so the result does not depend on the thread count.
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kadanoff/exact.h"

#define ENUM_MAX_N 30
#define ENUM_MAX_DEG 4

typedef struct {
    int n;                         /* spins */
    long nbonds;                   /* bonds (B ∈ [-nbonds, nbonds]) */
    int deg[ENUM_MAX_N];           /* neighbour list length, with multiplicity */
    int nbr[ENUM_MAX_N][ENUM_MAX_DEG];
    size_t nm;                     /* 2N + 1 magnetisation bins */
} enum_geometry;

static double bin_energy(long B, long M, double J, double h)
{
    return -J * (double)B - h * (double)M;
}

/* Neighbour lists from the local field of the unit-coupling lattice:
 * flipping j from +1 to -1 changes Σ_k A_ik s_k by -2 A_ij. */
static kd_status build_geometry(const kd_lattice *unit, enum_geometry *g)
{
    int8_t s[ENUM_MAX_N];
    int n = g->n;
    memset(g->deg, 0, sizeof g->deg);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < n; k++)
            s[k] = 1;
        double f0 = kd_ising_local_field(unit, s, (size_t)i);
        for (int j = 0; j < n; j++) {
            s[j] = -1;
            long mult = lround((f0 - kd_ising_local_field(unit, s, (size_t)i)) / 2.0);
            s[j] = 1;
            for (long m = 0; m < mult; m++) {
                if (g->deg[i] >= ENUM_MAX_DEG)
                    KD_FAIL(KD_ERR_INTERNAL, "enumeration: site %d has more than %d bonds", i,
                            ENUM_MAX_DEG);
                g->nbr[i][g->deg[i]++] = j;
            }
        }
    }
    return KD_OK;
}

/* Count the states of one block: top bits fixed to `block`, the low `nlow` bits
 * run through all values in Gray-code order. Bit k set means s_k = +1. */
static void enumerate_block(const kd_lattice *unit, const enum_geometry *g, int nlow,
                            uint32_t block, uint64_t *hist)
{
    int8_t s[ENUM_MAX_N];
    const int n = g->n;
    uint32_t x = block << nlow;
    for (int k = 0; k < n; k++)
        s[k] = (x >> k) & 1u ? 1 : -1;
    /* starting point from the reference kernels: B = -N e(J=1, h=0), M = N m */
    long B = lround(-(double)n * kd_ising_energy(unit, s));
    long M = lround((double)n * kd_ising_magnetization(unit, s));
    const long nb = g->nbonds;
    hist[(size_t)(B + nb) * g->nm + (size_t)(M + n)]++;
    const uint64_t count = (uint64_t)1 << nlow;
    for (uint64_t step = 1; step < count; step++) {
        int i = 0;
        while (!((step >> i) & 1u)) /* the bit that changes in Gray order */
            i++;
        int si = s[i], sum = 0;
        for (int q = 0; q < g->deg[i]; q++)
            sum += s[g->nbr[i][q]];
        B -= 2 * si * sum;
        M -= 2 * si;
        s[i] = (int8_t)-si;
        hist[(size_t)(B + nb) * g->nm + (size_t)(M + n)]++;
    }
}

kd_status kd_enumerate_exact(const kd_lattice *lat, double T, kd_thermo *out)
{
    if (!out)
        KD_FAIL(KD_ERR_INVALID, "kd_enumerate_exact: no output given");
    KD_CHECK(kd_lattice_validate(lat));
    if (isnan(T) || T < 0)
        KD_FAIL(KD_ERR_INVALID, "enumeration: temperature T = %g, expected T >= 0 or inf", T);
    size_t nsites = kd_lattice_size(lat);
    if (nsites > ENUM_MAX_N)
        KD_FAIL(KD_ERR_UNSUPPORTED,
                "enumeration: %zu spins means 2^%zu states, expected at most %d spins", nsites,
                nsites, ENUM_MAX_N);

    enum_geometry g;
    g.n = (int)nsites;
    g.nbonds = (long)kd_lattice_bonds(lat);
    g.nm = 2 * nsites + 1;
    kd_lattice unit = *lat;
    unit.J = 1.0;
    unit.field = 0.0;
    KD_CHECK(build_geometry(&unit, &g));

    const size_t nbins = (size_t)(2 * g.nbonds + 1) * g.nm;
    const int nhigh = g.n > 8 ? 8 : g.n / 2; /* 2^nhigh blocks */
    const int nlow = g.n - nhigh;
    const int nblocks = 1 << nhigh;
    int nthreads = kd_get_threads();
    if (nthreads < 1)
        nthreads = 1;
    if (nthreads > nblocks)
        nthreads = nblocks;
    uint64_t *hist = calloc((size_t)nthreads * nbins, sizeof *hist);
    if (!hist)
        KD_FAIL(KD_ERR_NOMEM, "enumeration: no memory for %d histograms of %zu bins", nthreads,
                nbins);
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 1)
    for (int blk = 0; blk < nblocks; blk++)
        enumerate_block(&unit, &g, nlow, (uint32_t)blk, hist + (size_t)omp_get_thread_num() * nbins);
    for (int t = 1; t < nthreads; t++)
        for (size_t q = 0; q < nbins; q++)
            hist[q] += hist[(size_t)t * nbins + q];

    /* thermodynamics from the histogram */
    const double J = lat->J, h = lat->field, N = (double)nsites;
    double Emin = INFINITY;
    uint64_t gmin = 0;
    for (size_t q = 0; q < nbins; q++) {
        if (!hist[q])
            continue;
        long B = (long)(q / g.nm) - g.nbonds, M = (long)(q % g.nm) - g.n;
        double E = bin_energy(B, M, J, h);
        if (E < Emin) {
            Emin = E;
            gmin = 0;
        }
        if (E == Emin)
            gmin += hist[q];
    }
    if (isinf(T) || (J == 0 && h == 0)) {
        *out = (kd_thermo){N * 0.69314718055994530942, 0.0, 0.0};
    } else if (T == 0) {
        /* H is not identically zero, so E_min < ⟨H⟩_{T=∞} = 0 and Z → ∞ */
        *out = (kd_thermo){Emin < 0 ? INFINITY : log((double)gmin), Emin / N, 0.0};
    } else {
        const double beta = 1.0 / T;
        /* Σ_states H = 0 exactly (B and M are odd under flipping one spin or all
         * spins), so Σ g E (w - w₀) with the constant w₀ = e^{β E_min} is the same
         * numerator; w - w₀ = e^{βE_min} expm1(-βE) has the opposite sign of E, so
         * every term is <= 0 and the high-T mean (≈ -β var H) has no cancellation. */
        const int shift = beta * Emin > -700.0;
        const double w0 = shift ? exp(beta * Emin) : 0.0;
        double W = 0.0, WE = 0.0;
        for (size_t q = 0; q < nbins; q++) {
            if (!hist[q])
                continue;
            long B = (long)(q / g.nm) - g.nbonds, M = (long)(q % g.nm) - g.n;
            double E = bin_energy(B, M, J, h);
            double w = (double)hist[q] * exp(-beta * (E - Emin));
            W += w;
            WE += (double)hist[q] * E * (shift ? w0 * expm1(-beta * E) : exp(-beta * (E - Emin)));
        }
        const double mean = WE / W; /* ⟨H⟩ */
        double var = 0.0;
        for (size_t q = 0; q < nbins; q++) {
            if (!hist[q])
                continue;
            long B = (long)(q / g.nm) - g.nbonds, M = (long)(q % g.nm) - g.n;
            double E = bin_energy(B, M, J, h), dev = E - mean;
            var += (double)hist[q] * exp(-beta * (E - Emin)) * dev * dev;
        }
        var /= W;
        out->lnZ = -beta * Emin + log(W);
        out->e = mean / N;
        out->c = beta * beta * var / N;
    }
    free(hist);
    return KD_OK;
}
