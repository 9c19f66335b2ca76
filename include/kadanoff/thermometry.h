/*
 * kadanoff/thermometry.h — physical temperature estimators for a set of spin
 * configurations, and all temperature readouts of a set in one call.
 *
 * The neural thermometer (kadanoff/nn.h) reads "≈ T_c" for almost anything
 * (PHYSICS.md §2, the critique), so a set of configurations is also measured
 * with physical observables, each matched to a reference curve of the same
 * lattice:
 *
 *   energy  ⟨e⟩ = ⟨H⟩/N against the exact e(T): Kaufman's closed form for the
 *           L×L periodic square lattice in zero field, the transfer matrix for
 *           chains. e(T) increases strictly with T (de/dT = c > 0), so the
 *           equation e(T) = ⟨e⟩ has one root, found by Newton's method on T
 *           with the exact c, safeguarded by bisection. Its 1σ error is
 *           σ_T = σ_e / c(T̂), with σ_e from binning (autocorrelations included)
 *           and c the exact heat capacity per spin: c = de/dT exactly.
 *   |m|     ⟨|m|⟩ against a reference table (T, value, error), e.g. the Monte
 *           Carlo summary of a dataset of the same lattice;
 *   G(r)    ⟨s_i s_{i+r}⟩ at one distance r (default L/4) likewise.
 *
 * Reference tables are made monotone in T by weighted isotonic regression
 * (pool adjacent violators, weights 1/err²: Monte Carlo noise can make a
 * sampled ⟨|m|⟩ rise by a hair between neighbouring temperatures) and
 * interpolated linearly in x = T/(1+T), which maps [0, inf] onto [0, 1] so
 * that a T = inf row is an ordinary end point. The inverse is unique where the
 * curve is strictly monotone; on a flat (pooled) stretch it is the middle of
 * the stretch. σ_T = sqrt(σ_value² + σ_ref²) / |dvalue/dT|, with σ_ref the
 * reference error interpolated at T̂.
 *
 * Out of range: a value beyond the cold end of the reference (⟨e⟩ below the
 * ground-state energy, ⟨|m|⟩ above the largest reference value, ...) gives
 * T = the lowest reference temperature (0 for the energy) and the flag
 * KD_TEMP_BELOW_RANGE; beyond the hot end (⟨e⟩ > e(∞) = 0 — the
 * antiferromagnetic side, reachable only at negative temperature — or ⟨|m|⟩
 * below the T = inf value) T = the highest reference temperature (inf for the
 * energy) and KD_TEMP_ABOVE_RANGE. A value exactly at an end point (within
 * 1e-12) is in range.
 */
#ifndef KADANOFF_THERMOMETRY_H
#define KADANOFF_THERMOMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "kadanoff/core.h"
#include "kadanoff/dataset.h"
#include "kadanoff/ising.h"
#include "kadanoff/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    KD_TEMP_OK = 0,          /* inside the reference range */
    KD_TEMP_BELOW_RANGE = 1, /* beyond the cold end: T clamped to the lowest reference T */
    KD_TEMP_ABOVE_RANGE = 2, /* beyond the hot end: T clamped to the highest reference T */
    KD_TEMP_UNAVAILABLE = 3  /* not estimated (no reference for this lattice or observable) */
} kd_temp_flag;

/* "ok", "below range", "above range", "unavailable". */
const char *kd_temp_flag_name(kd_temp_flag flag);

/* A temperature estimate from one observable. */
typedef struct {
    double T;          /* estimate (may be 0 or +inf at the ends) */
    double err;        /* 1σ: σ_value / |dvalue/dT| at T; (hi - lo)/2 where the curve is
                          flat or T is clamped (then T is a bound: err may be 0) */
    double lo, hi;     /* T at value ∓ σ (ordered lo <= hi; clamped to the range;
                          covering the whole stretch where a curve is flat at value) */
    double value;      /* the measured observable and its 1σ error */
    double value_err;
    kd_temp_flag flag;
} kd_temp_estimate;

/* ---- energy against the exact e(T) ---------------------------------------- */

/* 1 if kadanoff has the exact e(T) of this lattice: periodic square lattice in
 * zero field with J > 0 (or J < 0 and even L), or any chain with J or h nonzero. */
int kd_thermometry_has_exact_energy(const kd_lattice *lat);

/* Exact energy per spin e(T) and heat capacity per spin c(T) = de/dT
 * (either output may be NULL). KD_ERR_UNSUPPORTED for other lattices. */
kd_status kd_thermometry_exact_energy(const kd_lattice *lat, double T, double *e, double *c);

/* The temperature with e(T) = e, and whether e was out of range (flag may be
 * NULL). Accurate to a few ulps of e, i.e. |ΔT| ≈ ε|e| / c(T). */
kd_status kd_thermometry_energy_inverse(const kd_lattice *lat, double e, double *T,
                                        kd_temp_flag *flag);

/* Estimate from a mean energy per spin and its 1σ error (err >= 0 or NaN). */
kd_status kd_thermometry_energy_estimate(const kd_lattice *lat, double e_mean, double e_err,
                                         kd_temp_estimate *out);

/* Estimate from per-configuration energies e[0..n-1] (per spin, n >= 1): mean
 * and error by kd_binning over min(n, 20) bins of consecutive configurations
 * (error NaN for n = 1). */
kd_status kd_thermometry_energy(const kd_lattice *lat, const double *e, size_t n,
                                kd_temp_estimate *out);

/* ---- reference curves ------------------------------------------------------------ */

typedef struct {
    double T;     /* >= 0 or +inf */
    double value; /* finite */
    double err;   /* 1σ, finite, >= 0 */
} kd_reference_point;

/* A monotone reference curve through n >= 2 points of distinct temperatures
 * (any order). Its direction is that of value(T_max) - value(T_min), which
 * must not be 0. The points are copied. */
typedef struct kd_reference_curve kd_reference_curve;
kd_status kd_reference_curve_new(kd_reference_curve **out, const kd_reference_point *pts,
                                 size_t n);
void kd_reference_curve_free(kd_reference_curve *c);

/* The monotone fit at T (clamped to the range), and its interpolated error
 * (err may be NULL). */
double kd_reference_curve_value(const kd_reference_curve *c, double T, double *err);
/* Range of temperatures and number of points. */
void kd_reference_curve_range(const kd_reference_curve *c, double *T_min, double *T_max,
                              size_t *npoints);

/* The temperature at which the curve takes `value` (measured with 1σ error
 * value_err, >= 0 or NaN), with flag and error as described at the top. */
kd_status kd_reference_curve_invert(const kd_reference_curve *c, double value, double value_err,
                                    kd_temp_estimate *out);

typedef enum { KD_OBSERVABLE_ABS_M = 0, KD_OBSERVABLE_CORRELATION = 1 } kd_observable;

/* The reference curve of an observable from a dataset's /summary (one point
 * per row: abs_m ± abs_m_err, or correlation[r] ± correlation_err[r] with
 * 0 <= r < d->nr). KD_ERR_INVALID if the dataset has fewer than 2 rows. */
kd_status kd_reference_curve_from_dataset(kd_reference_curve **out, const kd_dataset *d,
                                          kd_observable obs, int r);

/* ---- every readout of a set of configurations --------------------------------- */

/* What to measure configurations of one lattice with: built once, used for
 * every set (every temperature of a dataset, every step of a flow). */
typedef struct kd_thermometry kd_thermometry;

/* lat: the lattice of the configurations to be measured.
 * thermometer: may be NULL; borrowed (must outlive the object); its lattice
 *   kind and L must be those of lat (KD_ERR_INVALID naming both otherwise; a
 *   different J, h or boundary is only logged as a warning).
 * reference: may be NULL (then no |m| and G(r) estimates); its lattice must be
 *   lat (kind, L, boundary, J, h) and it must have a /summary of >= 2 rows;
 *   the curves are copied, the dataset is not kept.
 * r: distance for G(r), 1 <= r < the reference's number of distances;
 *   negative: L/4 (at least 1). */
kd_status kd_thermometry_new(kd_thermometry **out, const kd_lattice *lat,
                             const kd_thermometer *thermometer, const kd_dataset *reference,
                             int r);
void kd_thermometry_free(kd_thermometry *t);

/* The distance r used for G(r). */
int kd_thermometry_distance(const kd_thermometry *t);

typedef struct {
    size_t n;                  /* configurations */
    double e, e_err;           /* ⟨e⟩ per spin, 1σ by binning (NaN for n = 1) */
    double abs_m, abs_m_err;   /* ⟨|m|⟩ */
    int r;                     /* distance of G */
    double G, G_err;           /* ⟨s_i s_{i+r}⟩ along the axes */
    int have_thermometer;      /* 1 if `thermometer` is set */
    kd_thermometer_readout thermometer;
    kd_temp_estimate T_energy; /* flag KD_TEMP_UNAVAILABLE without an exact e(T) */
    kd_temp_estimate T_abs_m;  /* KD_TEMP_UNAVAILABLE without a reference */
    kd_temp_estimate T_G;
} kd_thermometry_result;

/* Measure n >= 1 configurations (n × N spins ±1, consecutive rows; errors by
 * binning over min(n, 20) blocks of consecutive rows). avg_prob (the
 * thermometer's class count) receives the averaged class probabilities when
 * there is a thermometer; may be NULL. */
kd_status kd_thermometry_measure(const kd_thermometry *t, const int8_t *spins, size_t n,
                                 kd_thermometry_result *out, double *avg_prob);

/* The same for real-valued states (n × N finite floats, e.g. the spin
 * expectations of a mean-field flow): e, |m| and G(r) by kd_ising_*_real, the
 * thermometer reading the values as it reads spins. Physical estimates then
 * compare mean-field states with equilibrium curves: a diagnostic, not a
 * temperature in the thermodynamic sense. */
kd_status kd_thermometry_measure_real(const kd_thermometry *t, const float *values, size_t n,
                                      kd_thermometry_result *out, double *avg_prob);

#ifdef __cplusplus
}
#endif
#endif
