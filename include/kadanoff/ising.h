/*
 * kadanoff/ising.h — Ising lattices, energies and Monte Carlo samplers.
 *
 * Hamiltonian (per configuration s, spins ±1):
 *     H(s) = -J Σ_<ij> s_i s_j - h Σ_i s_i
 * over nearest-neighbour bonds <ij> counted once. k_B = 1, β = 1/T.
 * Spins are int8_t ±1, stored row-major: site (x, y) of an L×L square lattice
 * is s[y*L + x]; a chain of L spins is s[x].
 * Periodic boundaries join site L-1 to site 0 along each axis (for L = 2 this
 * gives two bonds between the same pair, as on any torus of side 2); open
 * boundaries omit those bonds.
 */
#ifndef KADANOFF_ISING_H
#define KADANOFF_ISING_H

#include <stddef.h>
#include <stdint.h>

#include "kadanoff/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { KD_LATTICE_CHAIN = 0, KD_LATTICE_SQUARE = 1 } kd_lattice_kind;
typedef enum { KD_BOUNDARY_PERIODIC = 0, KD_BOUNDARY_OPEN = 1 } kd_boundary;

typedef struct {
    kd_lattice_kind kind;
    int L;               /* linear size, >= 2 */
    kd_boundary boundary;
    double J;            /* coupling (any sign; J > 0 ferromagnetic) */
    double field;        /* uniform field h */
} kd_lattice;

/* Largest accepted linear size (N = L² must fit comfortably in int32 indices). */
#define KD_LATTICE_MAX_L_SQUARE 16384
#define KD_LATTICE_MAX_L_CHAIN (1 << 28)

/* Check L, J, h are usable (finite, L in range). */
kd_status kd_lattice_validate(const kd_lattice *lat);
/* Number of spins N. */
size_t kd_lattice_size(const kd_lattice *lat);
/* Number of bonds (counting the doubled bonds of a periodic L = 2 side). */
size_t kd_lattice_bonds(const kd_lattice *lat);
/* Names: "chain"/"square", "periodic"/"open". Parsers return KD_ERR_INVALID. */
const char *kd_lattice_kind_name(kd_lattice_kind kind);
const char *kd_boundary_name(kd_boundary b);
kd_status kd_lattice_kind_parse(const char *s, kd_lattice_kind *out);
kd_status kd_boundary_parse(const char *s, kd_boundary *out);

/* Energy per spin H(s)/N and magnetisation per spin Σ s_i / N. */
double kd_ising_energy(const kd_lattice *lat, const int8_t *s);
double kd_ising_magnetization(const kd_lattice *lat, const int8_t *s);

/* Number of distances measured by kd_ising_correlation: L/2 + 1 (r = 0..L/2). */
int kd_ising_correlation_len(const kd_lattice *lat);
/* Spin–spin correlation of one configuration along the lattice axes:
 * G[r] = mean over sites i and axes of s_i s_{i+r·ê}, r = 0..L/2 (not connected;
 * subtract ⟨m⟩² or ⟨m²⟩ yourself). Open boundaries average only pairs inside. */
void kd_ising_correlation(const kd_lattice *lat, const int8_t *s, double *G);

/* The same three quantities for a real-valued state v (e.g. spin expectation
 * values in [-1, 1] from a mean-field RBM flow): H(v)/N, Σv/N and G(r). */
double kd_ising_energy_real(const kd_lattice *lat, const float *v);
double kd_ising_magnetization_real(const kd_lattice *lat, const float *v);
void kd_ising_correlation_real(const kd_lattice *lat, const float *v, double *G);

/* ---- Monte Carlo ------------------------------------------------------- */

typedef enum {
    KD_ALGO_METROPOLIS = 0, /* checkerboard (sublattice) Metropolis */
    KD_ALGO_HEATBATH = 1,   /* checkerboard heat-bath (Glauber) */
    KD_ALGO_WOLFF = 2,      /* Wolff single-cluster; h = 0 only */
    KD_ALGO_MULTISPIN = 3,  /* checkerboard Metropolis of 64-replica bit-packed groups
                             * (kadanoff/multispin.h; kd_sample only, not kd_sampler) */
    KD_ALGO_MULTISPIN_HEATBATH = 4 /* the same with the heat-bath rule ("multispin-heatbath") */
} kd_algorithm;

/* 1 for the multi-spin algorithms (the chains of a temperature are the
 * replicas of one kd_multispin object), else 0. */
static inline int kd_algorithm_is_multispin(kd_algorithm a)
{
    return a == KD_ALGO_MULTISPIN || a == KD_ALGO_MULTISPIN_HEATBATH;
}

const char *kd_algorithm_name(kd_algorithm a);
kd_status kd_algorithm_parse(const char *s, kd_algorithm *out);

/* One Markov chain at one temperature: owns its spins and its Philox stream.
 * Temperature semantics:
 *   T = 0       each "sweep" draws a ground state (all degenerate ones equally
 *               likely, e.g. both signs for J > 0, h = 0);
 *   T = +inf    each "sweep" draws independent random spins;
 *   0 < T < inf the chosen algorithm.
 * For Wolff one sweep is a fixed number K of cluster flips, K calibrated at the
 * first sweep so that a sweep flips N spins on average (the sweep-equivalent;
 * see wolff.c for why K must not adapt afterwards). */
typedef struct kd_sampler kd_sampler;

kd_status kd_sampler_new(kd_sampler **out, const kd_lattice *lat, double T,
                         kd_algorithm algo, uint64_t seed, uint64_t stream);
void kd_sampler_free(kd_sampler *s);

/* Start configuration: random spins (hot) or all +1 (cold). */
void kd_sampler_randomize(kd_sampler *s);
void kd_sampler_set_cold(kd_sampler *s);
/* Ordered start: the lowest-energy configuration among all +1, all -1 and the
 * two Néel states, chosen at random among ties (e.g. either sign at h = 0). */
void kd_sampler_set_ordered(kd_sampler *s);

/* Advance by n sweeps (see above). */
void kd_sampler_sweep(kd_sampler *s, long n);

const int8_t *kd_sampler_spins(const kd_sampler *s);
double kd_sampler_temperature(const kd_sampler *s);
const kd_lattice *kd_sampler_lattice(const kd_sampler *s);
/* Fraction of attempted single-spin moves accepted so far (Metropolis/heat-bath),
 * or mean cluster size / N (Wolff). */
double kd_sampler_acceptance(const kd_sampler *s);

/* ---- Temperature lists ------------------------------------------------ */

/* Parse a temperature list: "a:b:step" (inclusive of b up to rounding), a comma
 * list "1,2.5,inf", or a mix "0:1:0.5,inf". "inf" means T = +infinity (β = 0).
 * Temperatures must be >= 0, steps > 0, at most KD_MAX_TEMPERATURES values.
 * *out is malloc'ed (free it); errors name the offending part of the text. */
#define KD_MAX_TEMPERATURES 100000
kd_status kd_parse_temperatures(const char *text, double **out, size_t *n);

/* ---- Reference kernels (plain, obviously correct; used by tests) ------- */

/* Local field on site i: J Σ_{j nn i} s_j + h. */
double kd_ising_local_field(const kd_lattice *lat, const int8_t *s, size_t i);
/* Probability that one single-site update of site i reverses s_i:
 *   Metropolis: min(1, exp(-β ΔE)), ΔE = 2 s_i h_i;
 *   heat-bath:  P(new s_i = -s_i) with P(s_i = +1) = 1 / (1 + exp(-2 β h_i)).
 * beta may be +inf (T = 0). Only for these two algorithms. */
double kd_ising_flip_probability(const kd_lattice *lat, const int8_t *s, size_t i, double beta,
                                 kd_algorithm algo);
/* One single-site update of site i with uniform u in [0,1): reverse s_i if
 * u < kd_ising_flip_probability(...). Returns 1 if the spin changed. */
int kd_ising_site_update(const kd_lattice *lat, int8_t *s, size_t i, double beta,
                         kd_algorithm algo, double u);

#ifdef __cplusplus
}
#endif
#endif
