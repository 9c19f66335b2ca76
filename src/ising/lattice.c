/* Lattice geometry, names, energy, magnetisation and correlation function. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "kadanoff/ising.h"

kd_status kd_lattice_validate(const kd_lattice *lat)
{
    if (!lat)
        KD_FAIL(KD_ERR_INVALID, "no lattice given");
    if (lat->kind != KD_LATTICE_CHAIN && lat->kind != KD_LATTICE_SQUARE)
        KD_FAIL(KD_ERR_INVALID, "unknown lattice kind %d, expected chain or square",
                (int)lat->kind);
    if (lat->boundary != KD_BOUNDARY_PERIODIC && lat->boundary != KD_BOUNDARY_OPEN)
        KD_FAIL(KD_ERR_INVALID, "unknown boundary %d, expected periodic or open",
                (int)lat->boundary);
    int maxL = lat->kind == KD_LATTICE_SQUARE ? KD_LATTICE_MAX_L_SQUARE : KD_LATTICE_MAX_L_CHAIN;
    if (lat->L < 2 || lat->L > maxL)
        KD_FAIL(KD_ERR_INVALID, "lattice size L = %d out of range, expected 2 <= L <= %d",
                lat->L, maxL);
    if (!isfinite(lat->J))
        KD_FAIL(KD_ERR_INVALID, "coupling J = %g is not finite", lat->J);
    if (!isfinite(lat->field))
        KD_FAIL(KD_ERR_INVALID, "field h = %g is not finite", lat->field);
    return KD_OK;
}

size_t kd_lattice_size(const kd_lattice *lat)
{
    size_t L = (size_t)lat->L;
    return lat->kind == KD_LATTICE_SQUARE ? L * L : L;
}

size_t kd_lattice_bonds(const kd_lattice *lat)
{
    size_t L = (size_t)lat->L;
    size_t per_line = lat->boundary == KD_BOUNDARY_PERIODIC ? L : L - 1;
    return lat->kind == KD_LATTICE_SQUARE ? 2 * L * per_line : per_line;
}

const char *kd_lattice_kind_name(kd_lattice_kind kind)
{
    return kind == KD_LATTICE_SQUARE ? "square" : "chain";
}

const char *kd_boundary_name(kd_boundary b) { return b == KD_BOUNDARY_OPEN ? "open" : "periodic"; }

kd_status kd_lattice_kind_parse(const char *s, kd_lattice_kind *out)
{
    if (s && !strcmp(s, "chain"))
        *out = KD_LATTICE_CHAIN;
    else if (s && !strcmp(s, "square"))
        *out = KD_LATTICE_SQUARE;
    else
        KD_FAIL(KD_ERR_INVALID, "unknown lattice '%s', expected 'chain' or 'square'",
                s ? s : "");
    return KD_OK;
}

kd_status kd_boundary_parse(const char *s, kd_boundary *out)
{
    if (s && !strcmp(s, "periodic"))
        *out = KD_BOUNDARY_PERIODIC;
    else if (s && !strcmp(s, "open"))
        *out = KD_BOUNDARY_OPEN;
    else
        KD_FAIL(KD_ERR_INVALID, "unknown boundary '%s', expected 'periodic' or 'open'",
                s ? s : "");
    return KD_OK;
}

/* Sum over bonds of s_i s_j: each site pairs with its right (and lower)
 * neighbour, so every bond is counted once. Defined once for integer spins
 * (exact integer sums) and once for real-valued states such as the mean-field
 * configurations of an RBM flow (double sums). */
#define DEFINE_BOND_SUM(NAME, TYPE, ACC)                                            \
    static ACC NAME(const kd_lattice *lat, const TYPE *s)                           \
    {                                                                               \
        const int L = lat->L;                                                       \
        const int periodic = lat->boundary == KD_BOUNDARY_PERIODIC;                 \
        ACC sum = 0;                                                                \
        if (lat->kind == KD_LATTICE_CHAIN) {                                        \
            for (int x = 0; x + 1 < L; x++)                                         \
                sum += (ACC)s[x] * s[x + 1];                                        \
            if (periodic)                                                           \
                sum += (ACC)s[L - 1] * s[0];                                        \
            return sum;                                                             \
        }                                                                           \
        for (int y = 0; y < L; y++) {                                               \
            const TYPE *row = s + (size_t)y * L;                                    \
            const TYPE *down = s + (size_t)((y + 1) % L) * L;                       \
            for (int x = 0; x + 1 < L; x++)                                         \
                sum += (ACC)row[x] * row[x + 1];                                    \
            if (periodic)                                                           \
                sum += (ACC)row[L - 1] * row[0];                                    \
            if (y + 1 < L || periodic)                                              \
                for (int x = 0; x < L; x++)                                         \
                    sum += (ACC)row[x] * down[x];                                   \
        }                                                                           \
        return sum;                                                                 \
    }

#define DEFINE_SPIN_SUM(NAME, TYPE, ACC)                                            \
    static ACC NAME(const kd_lattice *lat, const TYPE *s)                           \
    {                                                                               \
        size_t n = kd_lattice_size(lat);                                            \
        ACC sum = 0;                                                                \
        for (size_t i = 0; i < n; i++)                                              \
            sum += (ACC)s[i];                                                       \
        return sum;                                                                 \
    }

/* G[r] = mean over sites and axes of s_i s_{i+r}; see ising.h. */
#define DEFINE_CORRELATION(NAME, TYPE, ACC)                                         \
    void NAME(const kd_lattice *lat, const TYPE *s, double *G)                      \
    {                                                                               \
        const int L = lat->L, nr = kd_ising_correlation_len(lat);                   \
        const int periodic = lat->boundary == KD_BOUNDARY_PERIODIC;                 \
        const int rows = lat->kind == KD_LATTICE_SQUARE ? L : 1;                    \
        for (int r = 0; r < nr; r++) {                                              \
            ACC sum = 0;                                                            \
            long pairs = 0;                                                         \
            int span = periodic ? L : L - r; /* sites with a partner at distance r */ \
            for (int y = 0; y < rows; y++)                                          \
                for (int x = 0; x < span; x++) {                                    \
                    int x2 = (x + r) % L;                                           \
                    sum += (ACC)s[(size_t)y * L + x] * s[(size_t)y * L + x2];       \
                    pairs++;                                                        \
                    if (rows > 1) { /* vertical axis: site (y, x) pairs with (y, x + r) \
                                       read transposed */                           \
                        int y2 = (x + r) % L;                                       \
                        sum += (ACC)s[(size_t)x * L + y] * s[(size_t)y2 * L + y];   \
                        pairs++;                                                    \
                    }                                                               \
                }                                                                   \
            G[r] = pairs ? (double)sum / (double)pairs : 0.0;                       \
        }                                                                           \
    }

DEFINE_BOND_SUM(bond_sum, int8_t, long)
DEFINE_SPIN_SUM(spin_sum, int8_t, long)
DEFINE_BOND_SUM(bond_sum_real, float, double)
DEFINE_SPIN_SUM(spin_sum_real, float, double)

double kd_ising_energy(const kd_lattice *lat, const int8_t *s)
{
    double n = (double)kd_lattice_size(lat);
    return (-lat->J * (double)bond_sum(lat, s) - lat->field * (double)spin_sum(lat, s)) / n;
}

double kd_ising_magnetization(const kd_lattice *lat, const int8_t *s)
{
    return (double)spin_sum(lat, s) / (double)kd_lattice_size(lat);
}

double kd_ising_energy_real(const kd_lattice *lat, const float *v)
{
    double n = (double)kd_lattice_size(lat);
    return (-lat->J * bond_sum_real(lat, v) - lat->field * spin_sum_real(lat, v)) / n;
}

double kd_ising_magnetization_real(const kd_lattice *lat, const float *v)
{
    return spin_sum_real(lat, v) / (double)kd_lattice_size(lat);
}

int kd_ising_correlation_len(const kd_lattice *lat) { return lat->L / 2 + 1; }

/* Real-valued states (mean-field flows) use the definition as written: the
 * order of the double sums is part of their bits. */
DEFINE_CORRELATION(kd_ising_correlation_real, float, double)

/* Σ a_i b_i over n spins (|sum| <= n < 2^31). */
static int spin_dot(const int8_t *restrict a, const int8_t *restrict b, int n)
{
    int sum = 0;
    for (int i = 0; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

/* ±1 states: the same pairs as DEFINE_CORRELATION, summed as dot products of
 * contiguous rows (no modulo in the inner loop, no column walk), so the loops
 * vectorise; the sums are exact integers whatever their order, so G(r) is
 * bit for bit the definition's (tests/test_ising.c compares them). This is
 * most of the post-processing time of `sample`, done by rank 0 over MPI. */
void kd_ising_correlation(const kd_lattice *lat, const int8_t *s, double *G)
{
    const int L = lat->L, nr = kd_ising_correlation_len(lat);
    const int periodic = lat->boundary == KD_BOUNDARY_PERIODIC;
    const int square = lat->kind == KD_LATTICE_SQUARE, rows = square ? L : 1;
    for (int r = 0; r < nr; r++) {
        const int span = periodic ? L : L - r; /* sites with a partner at distance r */
        long sum = 0;
        for (int y = 0; y < rows; y++) {
            const int8_t *row = s + (size_t)y * (size_t)L;
            sum += spin_dot(row, row + r, L - r); /* x + r < L */
            if (periodic)
                sum += spin_dot(row + L - r, row, r); /* x + r wraps to x + r - L */
        }
        if (square) /* vertical: whole rows x and x + r, every column */
            for (int x = 0; x < span; x++)
                sum += spin_dot(s + (size_t)x * (size_t)L, s + (size_t)((x + r) % L) * (size_t)L, L);
        const long pairs = (long)rows * span * (square ? 2 : 1);
        G[r] = pairs ? (double)sum / (double)pairs : 0.0;
    }
}

double kd_ising_local_field(const kd_lattice *lat, const int8_t *s, size_t i)
{
    const int L = lat->L;
    const int periodic = lat->boundary == KD_BOUNDARY_PERIODIC;
    long nb = 0;
    int x = (int)(i % (size_t)L), y = (int)(i / (size_t)L);
    const int8_t *row = s + (size_t)y * L;
    /* left/right neighbours along x */
    if (x > 0)
        nb += row[x - 1];
    else if (periodic)
        nb += row[L - 1];
    if (x + 1 < L)
        nb += row[x + 1];
    else if (periodic)
        nb += row[0];
    if (lat->kind == KD_LATTICE_SQUARE) {
        if (y > 0)
            nb += s[(size_t)(y - 1) * L + x];
        else if (periodic)
            nb += s[(size_t)(L - 1) * L + x];
        if (y + 1 < L)
            nb += s[(size_t)(y + 1) * L + x];
        else if (periodic)
            nb += s[(size_t)x];
    }
    return lat->J * (double)nb + lat->field;
}

double kd_ising_flip_probability(const kd_lattice *lat, const int8_t *s, size_t i, double beta,
                                 kd_algorithm algo)
{
    double hi = kd_ising_local_field(lat, s, i);
    double dE = 2.0 * s[i] * hi; /* energy change of reversing s_i */
    if (algo == KD_ALGO_HEATBATH) {
        /* heat-bath draws s_i from p(s_i | rest) ∝ e^{β h_i s_i}; the reversed value
         * has probability e^{-β ΔE/2} / (e^{β ΔE/2} + e^{-β ΔE/2}) = 1/(1 + e^{β ΔE}) */
        if (dE == 0)
            return 0.5;
        return 1.0 / (1.0 + exp(beta * dE));
    }
    if (dE <= 0)
        return 1.0;
    return exp(-beta * dE);
}

int kd_ising_site_update(const kd_lattice *lat, int8_t *s, size_t i, double beta,
                         kd_algorithm algo, double u)
{
    if (u < kd_ising_flip_probability(lat, s, i, beta, algo)) {
        s[i] = (int8_t)-s[i];
        return 1;
    }
    return 0;
}
