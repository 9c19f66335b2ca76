/* The RBM object and helpers shared by the files of src/rbm (internal). */
#ifndef KD_RBM_INTERNAL_H
#define KD_RBM_INTERNAL_H

#include <stddef.h>
#include <math.h>
#include <stdint.h>

#include "kadanoff/rbm.h"

struct kd_rbm {
    int nv, nh;
    kd_units vis, hid;
    unsigned flags;
    size_t nparams; /* nv·nh + nv + nh */
    float *params;  /* [W | a | b], one allocation */
    float *w, *a, *b;
};

/* Stream tags: bits 56..63 of a Philox stream number (see rbm.h). */
enum {
    KD_RBM_STREAM_INIT = 1,
    KD_RBM_STREAM_SHUFFLE = 2,
    KD_RBM_STREAM_GIBBS = 3,
    KD_RBM_STREAM_CHAINS = 4,
    KD_RBM_STREAM_MONITOR = 5,
    KD_RBM_STREAM_SPLIT = 6,
    KD_RBM_STREAM_AIS = 7
};

static inline uint64_t kd_rbm_stream(unsigned tag, uint64_t epoch, uint64_t index)
{
    return ((uint64_t)tag << 56) | (epoch << 32) | index;
}

/* Row k of a data descriptor as float unit values (nv entries). */
void kd_rbm_data_row(const kd_rbm_data *d, kd_units units, int nv, size_t k, float *out);
/* The same as double. */
void kd_rbm_data_row_double(const kd_rbm_data *d, kd_units units, int nv, size_t k, double *out);
/* Check a descriptor: one of spins/values set, spins ±1, values finite. `what`
 * names it in messages. */
kd_status kd_rbm_data_check(const kd_rbm_data *d, int nv, const char *what);

/* ln Σ_{s} e^{s x} over the unit values: ln 2cosh x (spin) or softplus (binary),
 * in the overflow-free forms |x| + log1p(e^{-2|x|}) and max(x,0) + log1p(e^{-|x|}). */
static inline double kd_rbm_lgf(kd_units u, double x)
{
    double ax = fabs(x);
    if (u == KD_UNITS_SPIN)
        return ax + log1p(exp(-2.0 * ax));
    return (x > 0 ? x : 0.0) + log1p(exp(-ax));
}

/* Logistic function in double, without overflow. */
static inline double kd_rbm_sigmoid(double x)
{
    if (x >= 0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* p(up) and mean of a unit with field x: σ(2x), tanh x (spin); σ(x), σ(x) (binary). */
static inline double kd_rbm_prob_up(kd_units u, double x)
{
    return kd_rbm_sigmoid(u == KD_UNITS_SPIN ? 2.0 * x : x);
}
static inline double kd_rbm_mean(kd_units u, double x)
{
    return u == KD_UNITS_SPIN ? tanh(x) : kd_rbm_sigmoid(x);
}

/* Value of the up / down state. */
static inline double kd_rbm_down_value(kd_units u) { return u == KD_UNITS_SPIN ? -1.0 : 0.0; }

/* Hot loops get an AVX2 clone next to the baseline SSE2 one (GCC ifunc).
 * Both clones compute the same IEEE operations: ISO C mode disables FMA
 * contraction, so results do not depend on which clone runs. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) &&       \
    !defined(__SANITIZE_ADDRESS__)
#define KD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define KD_CLONES
#endif

/* kd_blas_serial, kd_sgemm, kd_dgemm: core/gemm.h */

#endif
