/*
 * The multi-spin object: bit-packed replicas, acceptance tables, start
 * configurations, the threaded sweep and bit-sliced observables. The kernels
 * (one row of one sublattice) are in multispin_portable.c and multispin_avx2.c;
 * the random-bit scheme and stream layout are described in kadanoff/multispin.h.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ising/multispin_internal.h"

/* Kernels, fastest first; "auto" takes the first the CPU supports. */
static const kd_ms_kernel *const kernels[] = {
#ifdef KD_MS_HAVE_AVX2
    &kd_ms_kernel_avx2,
    &kd_ms_kernel_avx2_soft,
#endif
    &kd_ms_kernel_portable,
};
enum { NKERNELS = sizeof kernels / sizeof kernels[0] };

/* Probability p as a threshold for a uniform u32, exactly as kd_sampler's
 * tables: P(u < thr) = p, with 2^32 meaning "always". */
static uint64_t threshold(double p)
{
    if (!(p > 0))
        return 0;
    if (p >= 1)
        return (uint64_t)1 << 32;
    return (uint64_t)ldexp(p, 32);
}

/* The tables of class c of group g for a decision with threshold thr
 * (P(yes) = thr / 2^32; see multispin_internal.h). */
static void set_class(struct kd_multispin *ms, unsigned c, size_t g, uint64_t thr)
{
    const size_t k = (size_t)c * ms->Gs + g;
    ms->always[k] = thr == ((uint64_t)1 << 32) ? ~(uint64_t)0 : 0;
    ms->maybe[k] = thr > 0 && thr < ((uint64_t)1 << 32) ? ~(uint64_t)0 : 0;
    const uint32_t t32 = ms->maybe[k] ? (uint32_t)thr : 0;
    ms->thr[k] = t32;
    ms->tbyte[k] = ((t32 >> 20) & 0xff) * 0x0101010101010101ULL;
    for (unsigned b = 0; b < KD_MS_HEAD; b++)
        ms->pbits[((size_t)b * KD_MS_CLASSES + c) * ms->Gs + g] = (thr >> (31 - b)) & 1 ? ~(uint64_t)0 : 0;
}

static void build_tables(struct kd_multispin *ms)
{
    const size_t G = ms->Gs; /* table stride; padding groups copy the last temperature */
    const double J = fabs(ms->lat.J);
    ms->ncls = ms->heatbath ? 5 : 2;
    for (size_t g = 0; g < G; g++) {
        const double beta = 1.0 / ms->T[g < ms->G ? g : ms->G - 1];
        for (unsigned c = 0; c < KD_MS_CLASSES; c++) {
            uint64_t thr = 0;
            if (ms->heatbath) {
                /* class c: c neighbours up, neighbour sum nb = 2c - 4, local field
                 * J·nb; P(s = +1) = 1 / (1 + e^{-2β J nb}), written as in
                 * sampler.c so the thresholds are the same doubles (1/2 at
                 * zero local field, where β = inf for subnormal T gives NaN) */
                const double local = ms->lat.J * (2 * (int)c - 4) + ms->lat.field;
                thr = threshold(local == 0 ? 0.5 : 1.0 / (1.0 + exp(-2.0 * beta * local)));
            } else if (c < 2) {
                /* ΔE = 2 s_i h_i with h_i = J Σ s_j: 2·4|J| (class 0), 2·2|J|
                 * (class 1), written as in sampler.c (also its dE <= 0 case:
                 * J = 0 at β = inf) */
                const double dE = c == 0 ? 2.0 * (J * 4) : 2.0 * (J * 2);
                thr = threshold(dE <= 0 ? 1.0 : exp(-beta * dE));
            }
            set_class(ms, c, g, thr);
        }
        uint64_t st = ms->stream + g;
        ms->stream_lo[g] = (uint32_t)st;
        ms->stream_hi[g] = st >> 32;
    }
}

static void *alloc_words(size_t n)
{
    /* 64-byte alignment: whole vectors per cache line */
    size_t bytes = (n * sizeof(uint64_t) + 63) / 64 * 64;
    return aligned_alloc(64, bytes ? bytes : 64);
}

kd_status kd_multispin_new(kd_multispin **out, const kd_lattice *lat, const double *temps,
                           size_t ngroups, uint64_t seed, uint64_t stream)
{
    *out = NULL;
    KD_CHECK(kd_lattice_validate(lat));
    if (lat->kind != KD_LATTICE_SQUARE || lat->boundary != KD_BOUNDARY_PERIODIC || lat->L % 2 ||
        lat->field != 0)
        KD_FAIL(KD_ERR_UNSUPPORTED,
                "the multi-spin kernel needs a periodic square lattice with even L and zero field; "
                "got %s %s L = %d, h = %g",
                kd_boundary_name(lat->boundary), kd_lattice_kind_name(lat->kind), lat->L,
                lat->field);
    if (ngroups < 1 || ngroups > ((size_t)1 << 40))
        KD_FAIL(KD_ERR_INVALID, "%zu replica groups, expected at least 1", ngroups);
    for (size_t g = 0; g < ngroups; g++)
        if (!(temps[g] > 0) || isinf(temps[g]))
            KD_FAIL(KD_ERR_INVALID,
                    "group %zu: temperature %g, expected 0 < T < inf (T = 0 and inf have exact "
                    "samplers in kd_sampler)",
                    g, temps[g]);
    const size_t N = kd_lattice_size(lat);
    if ((double)N * (double)ngroups * 8.0 > 0x1p46)
        KD_FAIL(KD_ERR_NOMEM, "%zu sites × %zu groups of replicas is too large", N, ngroups);

    struct kd_multispin *ms = calloc(1, sizeof *ms);
    if (!ms)
        KD_FAIL(KD_ERR_NOMEM, "out of memory allocating a multi-spin object");
    ms->lat = *lat;
    ms->L = lat->L;
    ms->N = N;
    ms->G = ngroups;
    ms->Gs = (ngroups + 3) / 4 * 4;
    ms->seed = seed;
    ms->stream = stream;
    ms->key.v[0] = (uint32_t)seed;
    ms->key.v[1] = (uint32_t)(seed >> 32);
    ms->afm = lat->J < 0 ? ~(uint64_t)0 : 0;
    ms->T = malloc(ngroups * sizeof *ms->T);
    ms->s = alloc_words(N * ms->Gs);
    ms->always = alloc_words(KD_MS_CLASSES * ms->Gs);
    ms->maybe = alloc_words(KD_MS_CLASSES * ms->Gs);
    ms->pbits = alloc_words(KD_MS_CLASSES * KD_MS_HEAD * ms->Gs);
    ms->thr = alloc_words((KD_MS_CLASSES * ms->Gs + 1) / 2); /* 32-bit words */
    ms->tbyte = alloc_words(KD_MS_CLASSES * ms->Gs);
    ms->stream_lo = alloc_words(ms->Gs);
    ms->stream_hi = alloc_words(ms->Gs);
    if (!ms->T || !ms->s || !ms->always || !ms->maybe || !ms->pbits || !ms->thr || !ms->tbyte ||
        !ms->stream_lo || !ms->stream_hi) {
        kd_multispin_free(ms);
        KD_FAIL(KD_ERR_NOMEM, "out of memory for %zu × %zu spin words", N, ngroups);
    }
    memcpy(ms->T, temps, ngroups * sizeof *ms->T);
    build_tables(ms);
    kd_multispin_set_kernel(ms, "auto");
    kd_multispin_set_cold(ms);
    *out = ms;
    return KD_OK;
}

void kd_multispin_free(kd_multispin *ms)
{
    if (!ms)
        return;
    free(ms->T);
    free(ms->s);
    free(ms->always);
    free(ms->maybe);
    free(ms->pbits);
    free(ms->thr);
    free(ms->tbyte);
    free(ms->stream_lo);
    free(ms->stream_hi);
    free(ms);
}

size_t kd_multispin_replicas(const kd_multispin *ms) { return ms->G * KD_MULTISPIN_GROUP; }
const kd_lattice *kd_multispin_lattice(const kd_multispin *ms) { return &ms->lat; }
uint64_t kd_multispin_sweeps(const kd_multispin *ms) { return ms->halfsweeps / 2; }

double kd_multispin_temperature(const kd_multispin *ms, size_t replica)
{
    return replica < kd_multispin_replicas(ms) ? ms->T[replica / KD_MULTISPIN_GROUP] : NAN;
}

const char *kd_multispin_kernel(const kd_multispin *ms) { return ms->kernel->name; }

kd_status kd_multispin_set_kernel(kd_multispin *ms, const char *name)
{
    int any = name && !strcmp(name, "auto");
    for (int k = 0; k < NKERNELS; k++) {
        if (!any && (!name || strcmp(name, kernels[k]->name)))
            continue;
        if (!kernels[k]->supported()) {
            if (any)
                continue;
            KD_FAIL(KD_ERR_UNSUPPORTED, "this CPU cannot run the '%s' multi-spin kernel", name);
        }
        ms->kernel = kernels[k];
        return KD_OK;
    }
    if (name && (!strcmp(name, "avx2") || !strcmp(name, "avx2-nobmi2")))
        KD_FAIL(KD_ERR_UNSUPPORTED, "the '%s' multi-spin kernel is not built for this target", name);
    KD_FAIL(KD_ERR_INVALID,
            "unknown multi-spin kernel '%s', expected auto, avx2, avx2-nobmi2 or portable",
            name ? name : "");
}

kd_status kd_multispin_set_algorithm(kd_multispin *ms, kd_algorithm rule)
{
    if (rule != KD_ALGO_METROPOLIS && rule != KD_ALGO_HEATBATH)
        KD_FAIL(KD_ERR_INVALID, "multi-spin update rule '%s', expected metropolis or heatbath",
                kd_algorithm_name(rule));
    ms->heatbath = rule == KD_ALGO_HEATBATH;
    build_tables(ms);
    return KD_OK;
}

kd_algorithm kd_multispin_algorithm(const kd_multispin *ms)
{
    return ms->heatbath ? KD_ALGO_HEATBATH : KD_ALGO_METROPOLIS;
}

void kd_multispin_set_threads(kd_multispin *ms, int nthreads)
{
    ms->threads = nthreads > 0 ? nthreads : 0;
}

/* ---- start configurations ---------------------------------------------- */

/* The two 64-bit words of start-configuration block `index` of group g, drawn
 * from the reserved half of the counter space (top bit set). */
static void init_words(const struct kd_multispin *ms, size_t g, uint64_t index, uint64_t w[2])
{
    uint64_t b = ((uint64_t)1 << 63) | (ms->inits << 32) | index;
    philox4x32_ctr_t c = {{(uint32_t)b, (uint32_t)(b >> 32), (uint32_t)ms->stream_lo[g],
                           (uint32_t)ms->stream_hi[g]}};
    philox4x32_ctr_t o = philox4x32(c, ms->key);
    w[0] = o.v[0] | (uint64_t)o.v[1] << 32;
    w[1] = o.v[2] | (uint64_t)o.v[3] << 32;
}

void kd_multispin_set_cold(kd_multispin *ms)
{
    memset(ms->s, 0xff, ms->N * ms->Gs * sizeof *ms->s);
}

void kd_multispin_randomize(kd_multispin *ms)
{
    for (size_t g = 0; g < ms->G; g++) {
        uint64_t *sg = kd_ms_spins(ms, g);
        for (size_t i = 0; i < ms->N; i += 2) {
            uint64_t w[2];
            init_words(ms, g, i / 2, w); /* N/2 <= 2^27 blocks: fits the 32-bit field */
            sg[i * KD_MS_VEC] = w[0];
            sg[(i + 1) * KD_MS_VEC] = w[1];
        }
    }
    ms->inits++;
}

/* Candidate c of kd_sampler_set_ordered at site (x, y): 0 all +1, 1 all -1,
 * 2 Néel with + at even x + y, 3 Néel with -. Returns 1 for spin +1. */
static int candidate_up(int c, int x, int y)
{
    if (c < 2)
        return c == 0;
    return (((x + y) & 1) == 0) == (c == 2);
}

void kd_multispin_set_ordered(kd_multispin *ms)
{
    const int L = ms->L;
    /* the lowest-energy candidates (at h = 0 they come in ± pairs: 2 or 4) */
    int8_t *tmp = malloc(ms->N);
    double e[4], emin = INFINITY;
    int best[4], nbest = 0;
    for (int c = 0; c < 4; c++) {
        if (tmp) {
            for (int y = 0; y < L; y++)
                for (int x = 0; x < L; x++)
                    tmp[(size_t)y * (size_t)L + (size_t)x] = candidate_up(c, x, y) ? 1 : -1;
            e[c] = kd_ising_energy(&ms->lat, tmp);
        } else { /* closed form at h = 0: uniform -2J, Néel +2J */
            e[c] = c < 2 ? -2 * ms->lat.J : 2 * ms->lat.J;
        }
        emin = fmin(emin, e[c]);
    }
    free(tmp);
    for (int c = 0; c < 4; c++)
        if (e[c] <= emin + 1e-12 * (1 + fabs(emin)))
            best[nbest++] = c;
    for (size_t g = 0; g < ms->G; g++) {
        uint64_t w[2], sel[4] = {0, 0, 0, 0};
        init_words(ms, g, 0, w);
        /* each replica independently: one random bit picks among 2, two among 4 */
        if (nbest == 4) {
            sel[best[0]] = ~w[0] & ~w[1];
            sel[best[1]] = w[0] & ~w[1];
            sel[best[2]] = ~w[0] & w[1];
            sel[best[3]] = w[0] & w[1];
        } else if (nbest >= 2) { /* 2 by the ± symmetry at h = 0 */
            sel[best[0]] = ~w[0];
            sel[best[1]] = w[0];
        } else {
            sel[best[0]] = ~(uint64_t)0;
        }
        uint64_t *sg = kd_ms_spins(ms, g);
        for (int y = 0; y < L; y++)
            for (int x = 0; x < L; x++) {
                uint64_t v = 0;
                for (int c = 0; c < 4; c++)
                    if (candidate_up(c, x, y))
                        v |= sel[c];
                sg[((size_t)y * (size_t)L + (size_t)x) * KD_MS_VEC] = v;
            }
    }
    ms->inits++;
}

kd_status kd_multispin_set_replica(kd_multispin *ms, size_t r, const int8_t *spins)
{
    if (r >= kd_multispin_replicas(ms))
        KD_FAIL(KD_ERR_INVALID, "replica %zu out of range, expected < %zu", r,
                kd_multispin_replicas(ms));
    uint64_t *sg = kd_ms_spins(ms, r / KD_MULTISPIN_GROUP);
    const uint64_t bit = (uint64_t)1 << (r % KD_MULTISPIN_GROUP);
    for (size_t i = 0; i < ms->N; i++) {
        if (spins[i] != 1 && spins[i] != -1)
            KD_FAIL(KD_ERR_INVALID, "spin %zu is %d, expected +1 or -1", i, spins[i]);
        if (spins[i] > 0)
            sg[i * KD_MS_VEC] |= bit;
        else
            sg[i * KD_MS_VEC] &= ~bit;
    }
    return KD_OK;
}

void kd_multispin_extract(const kd_multispin *ms, size_t r, int8_t *spins)
{
    const uint64_t *sg = kd_ms_spins(ms, r / KD_MULTISPIN_GROUP);
    const unsigned b = (unsigned)(r % KD_MULTISPIN_GROUP);
    for (size_t i = 0; i < ms->N; i++)
        spins[i] = (sg[i * KD_MS_VEC] >> b) & 1 ? 1 : -1;
}

/* ---- sweeps ------------------------------------------------------------ */

kd_status kd_multispin_sweep(kd_multispin *ms, long n)
{
    if (n <= 0)
        return KD_OK;
    /* half-sweeps that keep the block indices below 2^63 */
    const uint64_t limit = ((uint64_t)1 << 63) / (8 * (uint64_t)ms->N) - 1;
    if ((uint64_t)n > limit / 2 || ms->halfsweeps > limit - 2 * (uint64_t)n)
        KD_FAIL(KD_ERR_UNSUPPORTED,
                "the random counter space of this multi-spin object is exhausted after %llu "
                "sweeps; create a new one with another stream",
                (unsigned long long)(ms->halfsweeps / 2));
    const kd_ms_kernel *K = ms->kernel;
    const size_t unit = K->unit, units = (unit == 1 ? ms->G : ms->Gs) / unit;
    const int L = ms->L;
    const uint64_t h0 = ms->halfsweeps;
    uint64_t accepted = 0;
    int nt = ms->threads > 0 ? ms->threads : kd_get_threads();
    if (omp_in_parallel())
        nt = 1;
    if (nt > 1 && units >= (size_t)nt) {
        /* whole groups per thread: they never interact, so no barriers */
#pragma omp parallel for num_threads(nt) schedule(static) reduction(+ : accepted)
        for (size_t u = 0; u < units; u++)
            for (long k = 0; k < n; k++)
                for (int parity = 0; parity < 2; parity++)
                    for (int y = 0; y < L; y++)
                        K->row(ms, y, parity, h0 + 2 * (uint64_t)k + (uint64_t)parity, u * unit,
                               (u + 1) * unit, &accepted);
    } else {
        /* rows of one parity over the threads, a barrier between sublattices:
         * worth it only when a half-sweep is long against waking threads */
        if (ms->N * ms->Gs < 65536)
            nt = 1;
        const size_t gend = units * unit;
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(+ : accepted)
        for (long k = 0; k < n; k++)
            for (int parity = 0; parity < 2; parity++) {
                const uint64_t h = h0 + 2 * (uint64_t)k + (uint64_t)parity;
#pragma omp for schedule(static)
                for (int y = 0; y < L; y++)
                    K->row(ms, y, parity, h, 0, gend, &accepted);
            }
    }
    ms->halfsweeps += 2 * (uint64_t)n;
    ms->attempts += (uint64_t)n * ms->N * kd_multispin_replicas(ms);
    ms->accepted += accepted;
    return KD_OK;
}

double kd_multispin_acceptance(const kd_multispin *ms)
{
    return ms->attempts ? (double)ms->accepted / (double)ms->attempts : 0.0;
}

/* ---- bit-sliced observables -------------------------------------------- */

/* Per-lane counters for 64 lanes: plane k holds bit k of every lane's count.
 * Inputs are first compressed with carry-save adders (Harley–Seal): 16 words
 * become one word of weight 16 plus running words of weight 1, 2, 4, 8. */
typedef struct {
    uint64_t plane[40];
    uint64_t ones, twos, fours, eights;
    uint64_t buf[16];
    unsigned nbuf;
} bitcount;

static void csa(uint64_t *hi, uint64_t *lo, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t u = a ^ b;
    *hi = (a & b) | (u & c);
    *lo = u ^ c;
}

/* Add word x with weight 2^k to the planes (ripple carry). */
static void plane_add(bitcount *bc, unsigned k, uint64_t x)
{
    for (; x; k++) {
        uint64_t t = bc->plane[k] & x;
        bc->plane[k] ^= x;
        x = t;
    }
}

static void bitcount_flush16(bitcount *bc)
{
    const uint64_t *d = bc->buf;
    uint64_t twosA, twosB, foursA, foursB, eightsA, eightsB, sixteens;
    csa(&twosA, &bc->ones, bc->ones, d[0], d[1]);
    csa(&twosB, &bc->ones, bc->ones, d[2], d[3]);
    csa(&foursA, &bc->twos, bc->twos, twosA, twosB);
    csa(&twosA, &bc->ones, bc->ones, d[4], d[5]);
    csa(&twosB, &bc->ones, bc->ones, d[6], d[7]);
    csa(&foursB, &bc->twos, bc->twos, twosA, twosB);
    csa(&eightsA, &bc->fours, bc->fours, foursA, foursB);
    csa(&twosA, &bc->ones, bc->ones, d[8], d[9]);
    csa(&twosB, &bc->ones, bc->ones, d[10], d[11]);
    csa(&foursA, &bc->twos, bc->twos, twosA, twosB);
    csa(&twosA, &bc->ones, bc->ones, d[12], d[13]);
    csa(&twosB, &bc->ones, bc->ones, d[14], d[15]);
    csa(&foursB, &bc->twos, bc->twos, twosA, twosB);
    csa(&eightsB, &bc->fours, bc->fours, foursA, foursB);
    csa(&sixteens, &bc->eights, bc->eights, eightsA, eightsB);
    plane_add(bc, 4, sixteens);
    bc->nbuf = 0;
}

static void bitcount_add(bitcount *bc, uint64_t x)
{
    bc->buf[bc->nbuf++] = x;
    if (bc->nbuf == 16)
        bitcount_flush16(bc);
}

/* Finish and write the 64 lane counts. */
static void bitcount_result(bitcount *bc, uint64_t *count)
{
    for (unsigned k = 0; k < bc->nbuf; k++)
        plane_add(bc, 0, bc->buf[k]);
    plane_add(bc, 0, bc->ones);
    plane_add(bc, 1, bc->twos);
    plane_add(bc, 2, bc->fours);
    plane_add(bc, 3, bc->eights);
    for (unsigned r = 0; r < 64; r++) {
        uint64_t n = 0;
        for (unsigned k = 0; k < 40; k++)
            n |= ((bc->plane[k] >> r) & 1) << k;
        count[r] = n;
    }
}

/* Antiparallel bonds (each site with its right and lower neighbour) and up
 * spins of every lane of group g. */
static void count_group(const struct kd_multispin *ms, size_t g, uint64_t *anti, uint64_t *up)
{
    const int L = ms->L;
    const size_t V = KD_MS_VEC; /* site stride */
    const uint64_t *sg = kd_ms_spins(ms, g);
    bitcount b[2];
    memset(b, 0, sizeof b);
    for (int y = 0; y < L; y++) {
        const uint64_t *row = sg + (size_t)y * (size_t)L * V;
        const uint64_t *down = sg + (size_t)((y + 1) % L) * (size_t)L * V;
        for (int x = 0; x < L; x++) {
            uint64_t si = row[(size_t)x * V];
            uint64_t right = row[(size_t)(x + 1 < L ? x + 1 : 0) * V];
            bitcount_add(&b[0], si ^ right);
            bitcount_add(&b[0], si ^ down[(size_t)x * V]);
            bitcount_add(&b[1], si);
        }
    }
    bitcount_result(&b[0], anti);
    bitcount_result(&b[1], up);
}

/* The same expressions as kd_ising_energy / kd_ising_magnetization, from the
 * integer sums, so the values are the same doubles. */
static kd_status observables(const kd_multispin *ms, double *e, double *m)
{
    const double n = (double)ms->N;
    const long bonds = 2 * (long)ms->N;
    /* threads only when the work dwarfs waking them (small objects are counted
     * every sweep during burn-in) */
#pragma omp parallel for schedule(static) if (ms->G > 1 && ms->N * ms->G >= 65536 && !omp_in_parallel())
    for (size_t g = 0; g < ms->G; g++) {
        uint64_t anti[64], up[64];
        count_group(ms, g, anti, up);
        for (unsigned r = 0; r < 64; r++) {
            long bond_sum = bonds - 2 * (long)anti[r], spin_sum = 2 * (long)up[r] - (long)ms->N;
            size_t k = g * KD_MULTISPIN_GROUP + r;
            if (e)
                e[k] = (-ms->lat.J * (double)bond_sum - ms->lat.field * (double)spin_sum) / n;
            if (m)
                m[k] = (double)spin_sum / n;
        }
    }
    return KD_OK;
}

kd_status kd_multispin_energies(const kd_multispin *ms, double *e) { return observables(ms, e, NULL); }

kd_status kd_multispin_magnetizations(const kd_multispin *ms, double *m)
{
    return observables(ms, NULL, m);
}
