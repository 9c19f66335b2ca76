/*
 * The Markov chain object: lattice geometry, temperature, spins, Philox stream,
 * and the dispatch to the kernels (checkerboard.c, wolff.c). T = 0 and T = inf
 * are exact direct samplers rather than limits of a Markov chain.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ising/sampler_internal.h"

const char *kd_algorithm_name(kd_algorithm a)
{
    static const char *const names[] = {"metropolis", "heatbath", "wolff", "multispin",
                                        "multispin-heatbath"};
    return (unsigned)a < 5 ? names[a] : "unknown";
}

kd_status kd_algorithm_parse(const char *s, kd_algorithm *out)
{
    for (int a = 0; a < 5; a++)
        if (s && !strcmp(s, kd_algorithm_name((kd_algorithm)a))) {
            *out = (kd_algorithm)a;
            return KD_OK;
        }
    KD_FAIL(KD_ERR_INVALID,
            "unknown algorithm '%s', expected metropolis, heatbath, wolff, multispin or "
            "multispin-heatbath",
            s ? s : "");
}

/* Probability p in [0,1] as a threshold for a uniform u32: P(u < thr) = p. */
static uint64_t threshold(double p)
{
    if (!(p > 0))
        return 0;
    if (p >= 1)
        return (uint64_t)1 << 32;
    return (uint64_t)ldexp(p, 32);
}

static void build_tables(struct kd_sampler *S)
{
    const double J = S->lat.J, h = S->lat.field, beta = S->beta;
    for (int nb = -4; nb <= 4; nb++) {
        double local = J * nb + h; /* local field h_i */
        for (int si = 0; si < 2; si++) {
            int spin = si ? 1 : -1;
            double dE = 2.0 * spin * local; /* energy change of flipping s_i */
            S->accept[si][nb + 4] = threshold(dE <= 0 ? 1.0 : exp(-beta * dE));
        }
        /* heat-bath: P(s_i = +1) = 1 / (1 + e^{-2 β h_i}); exactly 1/2 at h_i = 0
         * (written out: β = 1/T overflows to inf for subnormal T, and inf · 0
         * would give NaN) */
        S->up[nb + 4] = threshold(local == 0 ? 0.5 : 1.0 / (1.0 + exp(-2.0 * beta * local)));
    }
    /* Wolff: a bond between parallel (J > 0) or antiparallel (J < 0) spins of the
     * cluster's seed joins it with probability 1 - e^{-2β|J|}. */
    S->add = threshold(-expm1(-2.0 * beta * fabs(J)));
}

static void build_neighbours(struct kd_sampler *S)
{
    const int L = S->lat.L, periodic = S->lat.boundary == KD_BOUNDARY_PERIODIC;
    const int rows = S->lat.kind == KD_LATTICE_SQUARE ? L : 1;
    const int32_t ghost = (int32_t)S->N;
    for (int y = 0; y < rows; y++)
        for (int x = 0; x < L; x++) {
            int32_t *nb = S->nbr + 4 * ((size_t)y * L + x);
            int32_t row = y * L;
            nb[0] = x > 0 ? row + x - 1 : (periodic ? row + L - 1 : ghost);
            nb[1] = x + 1 < L ? row + x + 1 : (periodic ? row : ghost);
            if (rows == 1) {
                nb[2] = nb[3] = ghost;
                continue;
            }
            nb[2] = y > 0 ? row - L + x : (periodic ? (L - 1) * L + x : ghost);
            nb[3] = y + 1 < L ? row + L + x : (periodic ? x : ghost);
        }
}

/* Fill s with candidate ground state c (see sampler_internal.h). */
static void fill_ground(struct kd_sampler *S, int c)
{
    const int L = S->lat.L;
    for (size_t i = 0; i < S->N; i++) {
        int x = (int)(i % (size_t)L), y = (int)(i / (size_t)L);
        int8_t v = 1;
        if (c == 1)
            v = -1;
        else if (c >= 2)
            v = (int8_t)((((x + y) & 1) == 0) == (c == 2) ? 1 : -1);
        S->s[i] = v;
    }
}

/* T = 0: find the ground states among the uniform and Néel configurations.
 * That set contains every ground state when J >= 0 (any h), and when J < 0,
 * h = 0 on a bipartite lattice; other cases are refused. */
static kd_status find_ground_states(struct kd_sampler *S)
{
    const kd_lattice *lat = &S->lat;
    int bipartite = lat->boundary == KD_BOUNDARY_OPEN || lat->L % 2 == 0;
    if (lat->J < 0 && (lat->field != 0 || !bipartite))
        KD_FAIL(KD_ERR_UNSUPPORTED,
                "T = 0 with J < 0 is supported only for h = 0 on an even (or open) lattice; "
                "got L = %d, h = %g",
                lat->L, lat->field);
    if (lat->J == 0 && lat->field == 0)
        return KD_OK; /* every state is a ground state: sample uniformly */
    double emin = INFINITY, e[4];
    for (int c = 0; c < 4; c++) {
        fill_ground(S, c);
        e[c] = kd_ising_energy(lat, S->s);
        if (e[c] < emin)
            emin = e[c];
    }
    /* For J != 0 uniform and Néel energies differ by bond terms, and for J = 0,
     * h != 0 only one uniform state is minimal: the candidates are distinct. */
    S->nground = 0;
    for (int c = 0; c < 4; c++)
        if (fabs(e[c] - emin) <= 1e-12 * (1 + fabs(emin)))
            S->ground[S->nground++] = c;
    fill_ground(S, S->ground[0]);
    return KD_OK;
}

kd_status kd_sampler_new(kd_sampler **out, const kd_lattice *lat, double T,
                         kd_algorithm algo, uint64_t seed, uint64_t stream)
{
    *out = NULL;
    KD_CHECK(kd_lattice_validate(lat));
    if (!(T >= 0)) /* rejects NaN and negatives; +inf is allowed */
        KD_FAIL(KD_ERR_INVALID, "temperature T = %g, expected T >= 0 or inf", T);
    if (kd_algorithm_is_multispin(algo))
        KD_FAIL(KD_ERR_INVALID, "multispin runs bit-packed replicas: use kd_multispin, not kd_sampler");
    if ((unsigned)algo > KD_ALGO_WOLFF)
        KD_FAIL(KD_ERR_INVALID, "unknown algorithm %d", (int)algo);
    if (algo == KD_ALGO_WOLFF && lat->field != 0)
        KD_FAIL(KD_ERR_UNSUPPORTED,
                "the Wolff algorithm needs zero field (h = %g given); use metropolis or heatbath",
                lat->field);

    struct kd_sampler *S = calloc(1, sizeof *S);
    if (!S)
        KD_FAIL(KD_ERR_NOMEM, "out of memory allocating a sampler");
    S->lat = *lat;
    S->N = kd_lattice_size(lat);
    S->T = T;
    S->beta = T == 0 ? INFINITY : 1.0 / T;
    S->algo = algo;
    S->mode = T == 0 ? KD_MODE_ZERO : (isinf(T) ? KD_MODE_INFINITE : KD_MODE_FINITE);
    kd_rng_init(&S->rng, seed, stream);
    S->s = calloc(S->N + 1, 1);
    S->nbr = malloc(4 * S->N * sizeof *S->nbr);
    if (algo == KD_ALGO_WOLFF) {
        S->stack = malloc(S->N * sizeof *S->stack);
        S->mark = calloc(S->N, sizeof *S->mark);
    }
    if (!S->s || !S->nbr || (algo == KD_ALGO_WOLFF && (!S->stack || !S->mark))) {
        kd_sampler_free(S);
        KD_FAIL(KD_ERR_NOMEM, "out of memory allocating a sampler for %zu spins", kd_lattice_size(lat));
    }
    build_neighbours(S);
    if (S->mode == KD_MODE_FINITE)
        build_tables(S);
    if (S->mode == KD_MODE_ZERO) {
        kd_status st = find_ground_states(S);
        if (st != KD_OK) {
            kd_sampler_free(S);
            return st;
        }
    } else {
        kd_sampler_set_cold(S);
    }
    *out = S;
    return KD_OK;
}

void kd_sampler_free(kd_sampler *S)
{
    if (!S)
        return;
    free(S->s);
    free(S->nbr);
    free(S->stack);
    free(S->mark);
    free(S);
}

void kd_sampler_randomize(kd_sampler *S)
{
    for (size_t i = 0; i < S->N; i++)
        S->s[i] = kd_rng_spin(&S->rng);
}

void kd_sampler_set_cold(kd_sampler *S) { memset(S->s, 1, S->N); }

void kd_sampler_set_ordered(kd_sampler *S)
{
    double e[4], emin = INFINITY;
    int best[4], nbest = 0;
    for (int c = 0; c < 4; c++) {
        fill_ground(S, c);
        e[c] = kd_ising_energy(&S->lat, S->s);
        emin = fmin(emin, e[c]);
    }
    for (int c = 0; c < 4; c++)
        if (e[c] <= emin + 1e-12 * (1 + fabs(emin)))
            best[nbest++] = c;
    fill_ground(S, best[kd_rng_below(&S->rng, (uint32_t)nbest)]);
}

void kd_sampler_sweep(kd_sampler *S, long n)
{
    for (long k = 0; k < n; k++) {
        switch (S->mode) {
        case KD_MODE_INFINITE:
            kd_sampler_randomize(S);
            break;
        case KD_MODE_ZERO:
            if (S->nground == 0)
                kd_sampler_randomize(S); /* J = h = 0: all states degenerate */
            else
                fill_ground(S, S->ground[kd_rng_below(&S->rng, (uint32_t)S->nground)]);
            break;
        default:
            if (S->algo == KD_ALGO_WOLFF)
                kd_wolff_sweep(S);
            else
                kd_checkerboard_sweep(S);
        }
    }
}

const int8_t *kd_sampler_spins(const kd_sampler *S) { return S->s; }
double kd_sampler_temperature(const kd_sampler *S) { return S->T; }
const kd_lattice *kd_sampler_lattice(const kd_sampler *S) { return &S->lat; }

double kd_sampler_acceptance(const kd_sampler *S)
{
    if (S->mode != KD_MODE_FINITE)
        return 1.0;
    if (S->attempts == 0)
        return 0.0;
    return (double)S->accepted / (double)S->attempts;
}
