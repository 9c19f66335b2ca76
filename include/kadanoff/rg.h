/*
 * kadanoff/rg.h — the renormalization group side of kadanoff: the exact
 * RG <-> RBM mapping of Mehta & Schwab (2014) checked by enumeration, spin-
 * product (Walsh) projections of small Hamiltonians, 1D decimation as an RBM
 * and as a deep network, Kadanoff block spins, the correlation of hidden
 * units with block spins, and the locality of receptive fields. Formulas:
 * docs PHYSICS.md §1.
 *
 * Conventions used throughout.
 *   - Hamiltonians are dimensionless: β is absorbed, a configuration has
 *     Boltzmann weight e^{-H}. For an Ising lattice pass J/T and h/T.
 *   - Spins are ±1. A layer of n units is enumerated by an integer `index`
 *     whose bit i is set iff unit i is up (+1 for spin units, 1 for binary
 *     units), as in kadanoff/rbm.h. Functions that speak of "spins" of a
 *     binary layer use s_i = 2u_i - 1, i.e. again bit i set <=> s_i = +1.
 *   - RBM energy as in rbm.h: E(v,h) = -vᵀWh - aᵀv - bᵀh, p(v,h) = e^{-E}/Z_λ.
 *   - Mapping (Mehta & Schwab): the RG operator is T(v,h) = -E(v,h) + H(v),
 *     and the coarse Hamiltonian is defined by
 *         e^{-H^RG(h)} = Tr_v e^{T(v,h) - H(v)} = Σ_v e^{-E(v,h)},
 *     so H^RG(h) = -ln Σ_v e^{-E(v,h)}, which is identical (not merely up to a
 *     constant) to the RBM's hidden free energy F(h) = -bᵀh - Σ_i g(a_i + W_i·h)
 *     of rbm.h: H^RG = H^RBM for every RBM and every H. The visible
 *     distributions are P(v) = e^{-H(v)}/Z and p_λ(v) = e^{-F(v)}/Z_λ, with
 *     Z = Σ_v e^{-H(v)} and Z_λ = Σ_{v,h} e^{-E(v,h)} = Σ_h e^{-H^RG(h)}.
 *   - Free energies F = -ln Z, F^RG = -ln Z_λ; ΔF = F^RG - F = ln Z - ln Z_λ.
 *   - Since Tr_h e^{T(v,h)} = e^{H(v) - F(v)},
 *         ln Tr_h e^{T(v,h)} = ln(p_λ(v)/P(v)) - ΔF     for every v,
 *         KL(P‖p_λ) = -⟨ln Tr_h e^T⟩_P - ΔF.
 *     Hence Tr_h e^T = 1 for all v (an exact RG step) <=> KL = 0 and ΔF = 0,
 *     and KL = 0 alone <=> Tr_h e^T is the same constant e^{-ΔF} for all v.
 *
 * Everything here is double precision. The exact functions enumerate layers:
 * their cost is stated per function, with the limits below.
 */
#ifndef KADANOFF_RG_H
#define KADANOFF_RG_H

#include <stddef.h>
#include <stdint.h>

#include "kadanoff/core.h"
#include "kadanoff/dataset.h"
#include "kadanoff/ising.h"
#include "kadanoff/rbm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest n_v + n_h that the mapping functions enumerate jointly (2^26 terms,
 * about a second), and the largest single layer (table of 2^24 doubles). */
#define KD_RG_MAX_UNITS 26
#define KD_RG_MAX_LAYER 24

/* ---- an RBM in double precision ------------------------------------------ */

/* The parameters of an RBM as double arrays (borrowed, not owned). kd_rbm
 * stores float32, which is exact for trained models but not for constructed
 * ones such as the decimation RBM with weight K: these are built here in
 * double. W is nv × nh row-major (W[i*nh + j] couples v_i and h_j); a (nv) and
 * b (nh) may be NULL for zero biases. */
typedef struct {
    int nv, nh;
    kd_units visible, hidden;
    const double *W;
    const double *a;
    const double *b;
} kd_rg_rbm;

/* A double view of a kd_rbm: the float parameters are converted exactly into
 * `store` (kd_rbm_nparams(rbm) doubles, caller-owned, laid out like
 * kd_rbm_params), and *out points into it. */
kd_status kd_rg_rbm_import(const kd_rbm *rbm, double *store, kd_rg_rbm *out);

/* Closed forms (no enumeration) for unit values v (nv) and h (nh):
 * E(v,h), F(v) = -aᵀv - Σ_j g_h(b_j + Σ_i v_i W_ij), F(h) = -bᵀh - Σ_i g_v(a_i + Σ_j W_ij h_j),
 * g(x) = ln 2cosh x (spin) or ln(1 + e^x) (binary), in overflow-free form. */
double kd_rg_rbm_energy(const kd_rg_rbm *r, const double *v, const double *h);
double kd_rg_rbm_free_energy_visible(const kd_rg_rbm *r, const double *v);
double kd_rg_rbm_free_energy_hidden(const kd_rg_rbm *r, const double *h);

/* Exact traces by enumeration (not the closed forms):
 *   kd_rg_trace_visible: out[h] = -ln Σ_v e^{-E(v,h)} = H^RG(h), 2^nh values;
 *   kd_rg_trace_hidden:  out[v] = -ln Σ_h e^{-E(v,h)},           2^nv values.
 * Cost 2^(nv+nh) exponentials. Each inner sum is taken relative to its exact
 * largest term (so no overflow), with compensated (Neumaier) summation, and
 * the exponents are built from two half-layer tables (two additions per term),
 * so the result is accurate to a few ulps of Σ|terms|. nv + nh <=
 * KD_RG_MAX_UNITS. Threads split the outer states; results do not depend on
 * the thread count. */
kd_status kd_rg_trace_visible(const kd_rg_rbm *r, double *out);
kd_status kd_rg_trace_hidden(const kd_rg_rbm *r, double *out);

/* ---- visible Hamiltonians --------------------------------------------------- */

/* H(s) of a ±1 configuration s of n spins, dimensionless (weight e^{-H}). */
typedef double (*kd_rg_energy_fn)(const int8_t *s, int n, void *user);

/* A Hamiltonian over n spins, given by exactly one of
 *   lattice  an Ising model (kadanoff/ising.h; any kind, L, boundary, J, h):
 *            H(s) = N · kd_ising_energy(lattice, s), n = kd_lattice_size;
 *   energy   a callback (user is passed through);
 *   table    the 2^n values H[index] (borrowed).
 * n <= KD_RG_MAX_LAYER. */
typedef struct {
    int n;
    const kd_lattice *lattice;
    kd_rg_energy_fn energy;
    void *user;
    const double *table;
} kd_rg_hamiltonian;

/* All 2^n values H[index] into out. KD_ERR_NUMERIC if a value is NaN or -inf
 * (+inf is allowed: a forbidden state). */
kd_status kd_rg_hamiltonian_table(const kd_rg_hamiltonian *H, double *out);

/* ---- the exact mapping -------------------------------------------------------- */

/* T(v,h) = -E(v,h) + H(v) for unit values v, h and the value Hv = H(v). */
double kd_rg_operator(const kd_rg_rbm *r, double Hv, const double *v, const double *h);

/* Results of kd_rg_mapping_check (see the conventions above). */
typedef struct {
    int nv, nh;
    double log_z;          /* ln Z = ln Σ_v e^{-H(v)} */
    double log_z_rbm;      /* ln Z_λ = ln Σ_h e^{-H^RG(h)}, H^RG by enumeration */
    double delta_f;        /* ΔF = F^RG - F = ln Z - ln Z_λ */
    double kl;             /* KL(P‖p_λ) = Σ_v P (ln P - ln p_λ), nats; as computed
                              (rounding can make an exact 0 slightly negative) */
    double hrg_max_abs;    /* max_h |H^RG(h) - H^RBM(h)|: enumeration vs closed form */
    double hrg_max_rel;    /* hrg_max_abs / max_h |H^RBM(h)| (normwise relative) */
    double trace_max_dev;  /* max_v |Tr_h e^{T(v,h)} - 1| (0: an exact RG step) */
    double log_trace_min;  /* min_v ln Tr_h e^{T(v,h)} */
    double log_trace_max;  /* max_v ln Tr_h e^{T(v,h)}; equal to the min <=> KL = 0 */
    double log_trace_mean; /* ⟨ln Tr_h e^T⟩_P */
    double identity_residual; /* KL + ΔF + ⟨ln Tr_h e^T⟩_P, zero up to rounding */
} kd_rg_mapping;

/* Check the mapping for Hamiltonian H on the visible layer (H->n == nv; for a
 * binary visible layer H sees s = 2v - 1) and the RBM r, by enumeration:
 * H^RG(h) by kd_rg_trace_visible against the closed form F(h)
 * (kd_rg_rbm_free_energy_hidden), ln Tr_h e^{T(v,h)} = H(v) + ln Σ_h e^{-E(v,h)}
 * by kd_rg_trace_hidden, Z, Z_λ, ΔF and KL. Optional outputs (NULL to skip):
 * h_rg (2^nh values H^RG(h)) and log_trace (2^nv values ln Tr_h e^{T(v,h)}).
 * Cost 2·2^(nv+nh) exponentials; nv + nh <= KD_RG_MAX_UNITS. KD_ERR_INVALID
 * if H has no finite value (Z = 0). */
kd_status kd_rg_mapping_check(const kd_rg_hamiltonian *H, const kd_rg_rbm *r, kd_rg_mapping *out,
                              double *h_rg, double *log_trace);
/* The same for a kd_rbm, with H^RBM(h) from rbm.h's kd_rbm_free_energy_hidden
 * (an independent implementation of the closed form). */
kd_status kd_rg_mapping_check_rbm(const kd_rg_hamiltonian *H, const kd_rbm *rbm,
                                  kd_rg_mapping *out, double *h_rg, double *log_trace);

/* ---- spin-product (Walsh) projection ---------------------------------------- */

/* Any function H of n spins is a unique polynomial in them:
 *     H(s) = Σ_S J_S Π_{i∈S} s_i,      J_S = 2^{-n} Σ_s H(s) Π_{i∈S} s_i,
 * over subsets S of the sites, S encoded as a bit mask (bit i <=> site i):
 * J_0 is the constant, J_{1<<i} the coefficient of s_i, J_{(1<<i)|(1<<j)} of
 * s_i s_j, and so on. Note the sign: an Ising term -K s_i s_j has J = -K.
 *
 * kd_rg_walsh: J (2^n) from H (2^n, indexed as above), by the fast Walsh-
 * Hadamard transform in n·2^n additions (exact up to rounding of those
 * additions); J may equal H (in place). n in 1..KD_RG_MAX_LAYER, H finite.
 * kd_rg_walsh_inverse: H from J (the same transform without the 2^{-n}). */
kd_status kd_rg_walsh(int n, const double *H, double *J);
kd_status kd_rg_walsh_inverse(int n, const double *J, double *H);

/* Mask of a set of sites (duplicates cancel: s_i² = 1). */
uint64_t kd_rg_walsh_mask(int count, const int *sites);

/* sqrt(Σ_{|S| = order} J_S²): the weight of all order-spin terms (order 0..n). */
double kd_rg_walsh_order_norm(int n, const double *J, int order);

/* Couplings of the Ising-like terms for a geometry, in the Ising sign
 * (H ∋ -h Σ s_i - K Σ s_i s_j - K4 Σ Π s): each value is the mean over the
 * terms of its class, and *_spread the largest deviation from that mean (0
 * for a translation-invariant H). Classes on the lattice `geometry` (its kind,
 * L and boundary; J and field ignored; kd_lattice_size = n):
 *   nn    nearest-neighbour bonds;
 *   nnn   chain: sites i, i+2; square: the two diagonals of each plaquette;
 *   four  chain: four consecutive sites; square: the four corners of a plaquette.
 * A term that the periodic boundary lists k times (e.g. both bonds of a side
 * of length 2) counts as k couplings of J_S/k each, as in kd_ising_energy.
 * A class is NaN (count 0) when absent or when one of its sets repeats a site
 * or coincides with a set of an earlier class (e.g. nnn on a ring of 3). */
typedef struct {
    double constant;                 /* J_0 = mean of H over all states */
    double field, field_spread;      /* h = -mean_i J_{i} */
    double nn, nn_spread;            /* K1 */
    double nnn, nnn_spread;          /* K2 */
    double four, four_spread;        /* K4 */
    int nn_count, nnn_count, four_count; /* distinct sets in each class */
    double rest;                     /* sqrt Σ J_S² over every other S of >= 2 sites */
} kd_rg_couplings;

kd_status kd_rg_couplings_read(const kd_lattice *geometry, const double *J,
                               kd_rg_couplings *out);

/* ---- 1D decimation ------------------------------------------------------------ */

/* Closed forms for the periodic chain H = -K Σ s_i s_{i+1}, K >= 0 (K = +inf
 * allowed where meaningful), evaluated without cancellation for tiny K:
 *   coupling  K' = ½ ln cosh 2K          (tanh K' = tanh² K)
 *   constant  c  = ln 2 + ½ ln cosh 2K   (per kept spin: Σ_odd e^{-H} = e^{Mc - H'})
 *   xi        ξ  = -1 / ln tanh K        (+inf for K = +inf, 0 for K = 0)
 * so that ξ(K') = ξ(K)/2 exactly. */
double kd_rg_decimation_coupling(double K);
double kd_rg_decimation_constant(double K);
double kd_rg_correlation_length(double K);

/* Largest chain traced exactly: a step costs 2^chain terms, its mapping check
 * (kd_rg_decimation_check) 3·2^chain (about a second at the limit). */
#define KD_RG_MAX_CHAIN 20

/* The decimation RBM of a periodic chain of `chain` = 2M spins s_0..s_{2M-1}
 * (M >= 2) with coupling K. The chain is bipartite, so its Boltzmann weight is
 * already an RBM's:
 *     hidden  h_j = s_{2j}      kept (coarse) spins, j = 0..M-1,
 *     visible v_j = s_{2j+1}    decimated spins,
 *     W[j][j] = W[j][(j+1) mod M] = K   (v_j sits between h_j and h_{j+1}),
 *     spin units, zero biases,
 * so -E(v,h) = K Σ_i s_i s_{i+1} and p(v,h) is the chain's Boltzmann
 * distribution. Tracing out the decimated (visible) layer gives
 *     H^RG(h) = F(h) = -Σ_j ln 2cosh K(h_j + h_{j+1}) = -K' Σ_j h_j h_{j+1} - M c,
 * the decimated chain (the hidden layer is the coarse layer, as in the
 * mapping). By the even/odd symmetry the visible marginal F(v) is the same
 * chain on the decimated sites. The kept layer is the next step's input.
 * W receives M×M doubles (caller-owned); *out views W. */
kd_status kd_rg_decimation_rbm(double K, int chain, double *W, kd_rg_rbm *out);

/* One row of the decimation table. */
typedef struct {
    int step;                 /* n = 1, 2, ... */
    double K_in;              /* K^(n-1), the input of this step */
    double K;                 /* K^(n), traced: -J_{h_j h_{j+1}} of H^RG projected */
    double K_formula;         /* ½ ln cosh 2K^(n-1) */
    double constant;          /* c^(n) per kept spin, traced: -J_0 / M */
    double constant_formula;  /* ln 2 + ½ ln cosh 2K^(n-1) */
    double field;             /* traced field (0 by symmetry) */
    double rest;              /* Walsh weight beyond constant and nn pairs (0: exact form) */
    double xi_in, xi;         /* ξ^(n-1), ξ^(n) from the traced couplings */
    double log_z_per_spin;    /* Σ_{m<=n} c^(m)/2^m + 2^{-n} ln 2cosh K^(n): ln Z/N of the
                                 infinite chain at K^(0) (exact: = ln 2cosh K^(0)) */
} kd_rg_decimation_step;

/* One decimation step by exact tracing: build the decimation RBM for K on a
 * chain of `chain` spins (even, 4..KD_RG_MAX_CHAIN), trace out the visible layer
 * numerically (kd_rg_trace_visible) and project H^RG onto spin products
 * (kd_rg_walsh) on the kept ring. Decimation is exact for every length, so the
 * result does not depend on `chain` (up to rounding): small chains suffice.
 * Accuracy: K' and c carry an absolute error of a few 1e-17 (the projection
 * averages O(1) values), so a K' below ~1e-10 is zero to that accuracy and its
 * ξ is not resolved. out->step = 1 and log_z_per_spin refers to this single
 * step. Any finite K (K < 0, the antiferromagnet, gives the same K'). */
kd_status kd_rg_decimation_trace(double K, int chain, kd_rg_decimation_step *out);

/* `steps` decimation steps from K^(0) = K, each step traced (the input of step
 * n is the traced K^(n-1)): table[0..steps-1]. */
kd_status kd_rg_decimation_run(double K, int steps, int chain, kd_rg_decimation_step *table);

/* The exact-mapping check on the decimation RBM for K and `chain` spins,
 * with H(v) the marginal Hamiltonian of the decimated sites of the chain,
 * computed by summing the chain's Boltzmann weight e^{-H_chain}
 * (N · kd_ising_energy of a periodic chain, J = K) over the kept sites:
 * e^{-H(v)} = Σ_h e^{-H_chain(h, v)}. The step is exact, so KL = 0,
 * ΔF = 0 and Tr_h e^T = 1 up to rounding. Cost about 3·2^chain terms. */
kd_status kd_rg_decimation_check(double K, int chain, kd_rg_mapping *out);

/* Decimation as a deep network: a kd_dbn of `layers` RBMs whose layer l has
 * weights K[l], l = 0..layers-1 (1 <= layers <= 12). Level l holds the chain
 * after l steps, N/2^l spins (N a multiple of 2^layers, N <= 4096: the layers
 * are dense, N × N/2 weights at level 0). Hidden
 * unit j of layer l is kept site 2j of level l; it couples with weight K[l]
 * to level-l sites 2j-1 and 2j+1, the spins decimated in step l+1. The level-
 * l copy of site 2j itself has zero weight (the identity h_j = v_2j needs an
 * infinite weight), which shifts the traced H^RG by exactly -ln 2 per kept
 * spin: the layer's hidden marginal is the decimated chain with coupling
 * ½ ln cosh 2K[l] and constant c + ln 2 per hidden unit. (Its joint
 * distribution is not the chain's; the bipartite kd_rg_decimation_rbm is.)
 * Spin units, no biases, float32 weights. Receptive fields of level l
 * (kd_dbn_receptive_fields) show which original sites a level-l spin sums. */
kd_status kd_rg_decimation_dbn(const double *K, int layers, int N, kd_dbn **out);

/* ---- decimation learned by an RBM (trained variant) -------------------------- */

typedef struct {
    int nv;           /* chain length = visible units, even, 4..32 (default 16);
                         n_h = nv/2 <= 16 is enumerated exactly; the KL below
                         needs nv <= 20 (NaN otherwise) */
    double K;         /* coupling of the data, T = 1/K, K > 0 (default 1) */
    size_t samples;   /* equilibrium configurations (default 5000) */
    kd_units hidden;  /* hidden unit type (default spin) */
    int biases;       /* train biases too (default 0, like the decimation RBM) */
    double sigma;     /* initial weights N(0, sigma²) (default 0.1) */
    uint64_t seed;    /* sampling, initialisation and training (default 1) */
    kd_rbm_train_options train; /* trainer options; kd_rg_trained_options_init sets
                                   CD-5, batch 100, lr 0.05, momentum 0.5, 100 epochs,
                                   no monitoring; train.seed is replaced by seed */
    kd_progress_fn progress; /* per epoch (NULL) */
    void *progress_user;
} kd_rg_trained_options;

void kd_rg_trained_options_init(kd_rg_trained_options *opt);

typedef struct {
    double K_exact;      /* ½ ln cosh 2K, the decimation value */
    double K_nn;         /* mean of -J_{jk} over neighbouring hidden units, with the
                            hidden units ordered into a ring by the circular-mean
                            position of |W_{·j}| on the visible ring */
    double K_nn_spread;  /* largest deviation of a neighbour pair from K_nn */
    double K_pair_mean;  /* mean of -J_{jk} over all hidden pairs */
    double K_pair_max;   /* largest -J_{jk} */
    double field;        /* mean of -J_{j} (hidden fields of H^RBM) */
    double pair_norm, four_norm, rest; /* order norms: 2-spin, 4-spin, all other orders >= 1 */
    double kl;           /* KL(P_chain ‖ p_λ) of the trained model, nats (exact) */
    double kl_independent; /* KL(P_chain ‖ uniform), for scale: ln 2^nv - S */
    double data_e, data_e_exact; /* mean energy per spin of the samples vs exact (finite chain) */
} kd_rg_trained_result;

/* Sample a periodic chain of nv spins at T = 1/K (kd_sample, Wolff,
 * symmetrized), train an RBM nv-(nv/2) on it and read the couplings of its
 * hidden marginal H^RBM(h) = F(h) (Walsh projection, exact for n_h <= 16).
 * Hidden units of spin type have a sign gauge (h_j -> -h_j, W_·j -> -W_·j);
 * each unit is oriented so that Σ_i W_ij >= 0 before reading couplings, which
 * makes a decimation-like unit ferromagnetic. A trained RBM need not learn
 * decimation: this reports what comes out. *model (may be NULL) receives the
 * trained RBM. */
kd_status kd_rg_decimation_trained(const kd_rg_trained_options *opt, kd_rg_trained_result *out,
                                   kd_rbm **model);

/* ---- Kadanoff block spins --------------------------------------------------------- */

/* The coarse lattice of block size b: same kind, boundary, J and field, L/b
 * sites per axis. Requires b >= 2, L divisible by b and L/b >= 2. */
kd_status kd_rg_blockspin_lattice(const kd_lattice *fine, int b, kd_lattice *coarse);

/* Majority rule: coarse spin = sign of the sum over its block (b consecutive
 * sites of a chain, b×b sites of a square lattice: coarse (X, Y) sums fine
 * x in [bX, bX+b), y in [bY, bY+b)). A zero sum (possible for even b) is
 * broken by a fair coin: configuration r of `n` (rows of N fine spins in s,
 * N/b^d coarse spins in out) draws its coins from Philox stream
 * (seed, stream + r), one per tied block in coarse row-major order. The
 * result depends only on (seed, stream), not on threads. */
kd_status kd_rg_blockspin(const kd_lattice *fine, const int8_t *s, size_t n, int b, uint64_t seed,
                          uint64_t stream, int8_t *out);

/* Block-spin every configuration of a dataset (row r uses stream r) into a
 * new dataset on the coarse lattice: temperatures copied; energy,
 * magnetisation, and the per-temperature summary and correlation function
 * recomputed on the coarse configurations (kd_observables_summarize; the
 * sampling fields burn_in, interval, tau_e, acceptance are copied from the
 * fine summary row of the same T, NaN if none); provenance fields copied
 * (command included: the caller replaces it with its own). */
kd_status kd_rg_blockspin_dataset(const kd_dataset *fine, int b, uint64_t seed, kd_dataset **out);

/* Where a block-spin dataset came from: root attributes blockspin_b,
 * blockspin_seed, blockspin_rule ("majority, random ties"), source_L,
 * source_file, source_command, source_kadanoff_version. */
typedef struct {
    int b;
    uint64_t seed;
    int source_L;
    const char *source_file;             /* may be NULL */
    const char *source_command;          /* may be NULL */
    const char *source_kadanoff_version; /* may be NULL */
} kd_rg_blockspin_provenance;

/* Write a coarse dataset atomically (kd_dataset_write's layout, plus the
 * provenance attributes above); on any failure nothing appears at path and an
 * existing file is untouched. */
kd_status kd_rg_blockspin_write(const char *path, const kd_dataset *coarse,
                                const kd_rg_blockspin_provenance *prov);

/* ---- hidden units vs block spins ------------------------------------------------ */

/* What "the block spin" of a b×b block (b sites of a chain) is:
 *   MAJORITY  Kadanoff's block spin, kd_rg_blockspin (majority rule, fair coin
 *             on ties; the coins are noise that no hidden unit can predict, so
 *             even a unit that knows the block sum exactly has |C| < 1 when
 *             ties occur — frequent for b = 2);
 *   MEAN      the block magnetisation (1/b^d) Σ_block s_i, no ties. */
typedef enum { KD_RG_BLOCK_MAJORITY = 0, KD_RG_BLOCK_MEAN = 1 } kd_rg_block_rule;

/* The block size whose coarse lattice has the number of sites closest to
 * `nunits`: b in 2..L/2 dividing L, minimising |ln((L/b)^d / nunits)| (d = 1
 * chain, 2 square), the smaller b on a tie. On 40×40: 400 units -> b = 2,
 * 100 -> b = 4, 25 -> b = 8 (exact matches); 0 when L has no such divisor. */
int kd_rg_blockmatch_size(const kd_lattice *fine, int nunits);

/* Per-unit and per-block outputs of kd_rg_blockmatch (caller-owned; NULL
 * members are skipped). */
typedef struct {
    double *C;          /* nunits × nblocks row-major, C[j*nblocks + B] */
    int *best;          /* nunits: argmax_B |C_jB| (first on ties), -1 for a
                           zero-variance unit */
    double *best_c;     /* nunits: the signed C_jB at best (0 for -1) */
    double *block_best; /* nblocks: max_j |C_jB| */
    int *block_hits;    /* nblocks: units whose best match is B */
} kd_rg_blockmatch_maps;

/* Summary of kd_rg_blockmatch. */
typedef struct {
    size_t n;                 /* configurations */
    int nunits, nblocks, b;
    kd_rg_block_rule rule;
    int zero_units;           /* units constant over the n configurations */
    int zero_blocks;          /* blocks constant over the n configurations */
    double mean_best;         /* mean over ALL units of max_B |C_jB| (zero-variance
                                 units count 0) */
    double median_best;       /* median of the same */
    double coverage;          /* fraction of blocks that are the best match of at
                                 least one unit */
    double coverage_random;   /* 1 - (1 - 1/nblocks)^u, u = units of nonzero
                                 variance: the expected coverage if every unit
                                 picked its block uniformly at random */
    double null_mean_best;    /* mean_best and coverage for the shuffled pairing: */
    double null_coverage;     /* hidden row π(r) against block row r, π a random
                                 permutation (Philox (seed, KD_RG_BLOCKMATCH_NULL_STREAM)),
                                 which keeps both marginals and removes every
                                 dependence: the finite-n noise floor, about
                                 sqrt(2 ln(2 nblocks)/n) for mean_best */
} kd_rg_blockmatch_result;

#define KD_RG_BLOCKMATCH_NULL_STREAM (UINT64_C(1) << 62)

/* Correlation of hidden-unit activity with the block spins of block size b:
 * s holds n configurations (n × N spins ±1 on `fine`), hidden the activities
 * of nunits units for the same configurations (n × nunits row-major; any
 * real values: probabilities, ±1 or 0/1 samples — Pearson's C is invariant
 * under h -> αh + β, so binary and spin units give the same C, and a unit
 * matching the flipped block -B (the Z2 gauge) has C = -1: use |C|). The
 * block spins of configuration r use the coins of kd_rg_blockspin(fine, s, n,
 * b, seed, 0, ...) under the majority rule. Computes the Pearson correlation
 *     C_jB = Σ_r (h_rj - h̄_j)(B_rB - B̄_B) / sqrt(Σ_r (h_rj - h̄_j)² Σ_r (B_rB - B̄_B)²)
 * for every unit j and block B (double precision, |C| <= 1), each unit's best
 * match, the summary above and its null. A unit or block whose values are all
 * equal has no correlation: its C is set to 0 and it is counted. Cost
 * n·nunits·nblocks multiply-adds (BLAS) twice (data and null), memory about
 * 8·n·(nunits + 2 nblocks) bytes. n >= 2, b as for kd_rg_blockspin_lattice. */
kd_status kd_rg_blockmatch(const kd_lattice *fine, const int8_t *s, size_t n, const float *hidden,
                           int nunits, int b, kd_rg_block_rule rule, uint64_t seed,
                           const kd_rg_blockmatch_maps *maps, kd_rg_blockmatch_result *out);

/* ---- locality of receptive fields ------------------------------------------------ */

/* Radius of gyration of |f| on a width × height torus (a chain: height 1).
 * f[y*width + x] is read at f[(y*width + x) * stride] (stride 1 for a plain
 * image, n_units for a column of kd_dbn_receptive_fields). With w = |f|:
 *   centre   per axis the circular mean c = (L/2π) arg Σ w e^{2πi x/L} in [0, L);
 *            when |Σ w e^{2πi x/L}| <= 1e-9 Σ w (no preferred position along that
 *            axis, e.g. a uniform field) the centre is 0;
 *   distance per axis the minimum image d = (x - c) - L round((x - c)/L);
 *   R_g²     = Σ w (dx² + dy²) / Σ w.
 * A field that is zero everywhere has no centre: *rg = NaN. cx, cy receive the
 * centre (either may be NULL). */
kd_status kd_rg_locality_radius(int width, int height, const float *f, size_t stride,
                                double *rg, double *cx, double *cy);

/* R_g of every unit of a layer: fields is (width·height) × nunits row-major
 * (as from kd_dbn_receptive_fields), rg receives nunits values. */
kd_status kd_rg_locality_layer(int width, int height, int nunits, const float *fields,
                               double *rg);

/* Reference values (exact, per the definition above):
 *   uniform field:  R_g² = u(width) + u(height), u(L) = (L² + 2)/12 for even L,
 *                   (L² - 1)/12 for odd L (offsets from a site centre);
 *   b×b block:      R_g² = q(width) + q(height), q(L) = (b_L² - 1)/12 with the
 *                   block extent b_L = min(b, L) < L, and u(L) when b >= L.
 * The block of the same compression as a layer of n_units on the lattice has
 * b = sqrt(width·height / n_units) (kd_rg_locality_block_size; a real number,
 * integer for 1600 -> 400 -> 100 -> 25 on 40×40). */
double kd_rg_locality_uniform(int width, int height);
double kd_rg_locality_block(int width, int height, int b);
double kd_rg_locality_block_size(int width, int height, int nunits);

/* Distribution summary of n values (NaN values skipped; n_used counts the rest):
 * mean, standard deviation (n-1), min, quartiles (linear interpolation), max. */
typedef struct {
    size_t n_used;
    double mean, sd, min, q25, median, q75, max;
} kd_rg_summary;

kd_status kd_rg_summarize(const double *x, size_t n, kd_rg_summary *out);

#ifdef __cplusplus
}
#endif
#endif
