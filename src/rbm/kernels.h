/* Fast float32 kernels of the RBM (internal): Philox blocks, logistic
 * function, fused bias + conditional + sampling loops, sliced BLAS products.
 * Each has a plain reference beside it that tests/test_rbm.c compares with. */
#ifndef KD_RBM_KERNELS_H
#define KD_RBM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include <cblas.h>

#include "core/gemm.h"
#include "kadanoff/rbm.h"

/* Words 4·block .. 4·(block+nblocks)-1 of Philox stream (seed, stream): the
 * same numbers kd_rng_u32 returns for that stream from its start (word w is
 * output w mod 4 of block w/4). AVX2 path when the CPU has it. */
void kd_philox_fill(uint64_t seed, uint64_t stream, uint64_t block, size_t nblocks, uint32_t *out);
/* The same for rows r = 0 .. nrows-1 of stream0 + r: row r's words go to
 * out[4·nblocks·r ..], equal to kd_philox_fill(seed, stream0 + r, block,
 * nblocks, ·). All rows in one vectorised sweep: no scalar tail per row. */
void kd_philox_fill_rows(uint64_t seed, uint64_t stream0, size_t nrows, uint64_t block,
                         size_t nblocks, uint32_t *out);
/* Portable scalar version (the reference). */
void kd_philox_fill_ref(uint64_t seed, uint64_t stream, uint64_t block, size_t nblocks,
                        uint32_t *out);

/* Logistic function in float: exp by Cody–Waite reduction and a degree-6
 * polynomial (relative error ~1e-7), only + − × / and conversions, so the
 * scalar and vectorised code give identical results. NaN propagates. */
float kd_sigmoidf(float x);

/* Number of Philox blocks a row phase of n units consumes (one word per unit,
 * rounded up to whole blocks). */
static inline uint64_t kd_rbm_blocks(int n) { return ((uint64_t)n + 3) / 4; }

/* One row of a layer with fields x_j = act[j] + bias[j] (bias may be NULL).
 * mean:   out[j] = scale · E[unit_j]                 (out may alias act)
 * sample: out[j] = unit value drawn with the words of stream (seed, stream)
 *         starting at block `block`                   (out may alias act)
 * both:   mean_out[j] = scale · E, sample_out[j] = draw (mean_out may alias act) */
void kd_row_mean(kd_units u, int n, const float *act, const float *bias, float scale, float *out);
void kd_row_sample(kd_units u, int n, const float *act, const float *bias, uint64_t seed,
                   uint64_t stream, uint64_t block, float *out);
void kd_row_mean_sample(kd_units u, int n, const float *act, const float *bias, float scale,
                        uint64_t seed, uint64_t stream, uint64_t block, float *mean_out,
                        float *sample_out);

/* kd_row_mean for rows r = 0 .. nrows-1 of a contiguous nrows × n layer. */
void kd_rows_mean(kd_units u, size_t nrows, int n, const float *act, const float *bias,
                  float scale, float *out);
/* The sampling step of kd_row_mean_sample for rows r = 0 .. nrows-1 of a
 * contiguous nrows × n layer, with the random words given: unit j of row r
 * uses rnd[r·rstride + j] (kd_philox_fill_rows with rstride = 4·nblocks).
 * bias must not be NULL; mean_out may be NULL (no means), may alias act. */
void kd_rows_sample_words(kd_units u, size_t nrows, int n, const float *act, const float *bias,
                          float scale, const uint32_t *rnd, size_t rstride, float *mean_out,
                          float *sample_out);

/* Bias-gradient sums over the rows of two contiguous layers of n units, n0
 * rows x0 and n1 rows x1: out[j] = (Σ_r x0[r][j])·a + Σ_r b·x1[r][j], summed
 * in row order. */
void kd_rows_bias_sums(int n, size_t n0, const float *x0, float a, size_t n1, const float *x1,
                       float b, float *out);
/* y[k] += x[k] for k < n. */
void kd_add_to(size_t n, const float *x, float *y);

#endif
