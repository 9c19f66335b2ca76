/*
 * kadanoff/core.h — status codes, error messages, logging, progress, threads.
 *
 * Every fallible library function returns a kd_status. On failure the library
 * records a human-readable message (what was wrong and what was expected) that
 * kd_last_error() returns, and passes it to the log handler at KD_LOG_ERROR.
 * The library never prints and never exits: the caller decides what the user sees.
 */
#ifndef KADANOFF_CORE_H
#define KADANOFF_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    KD_OK = 0,
    KD_ERR_INVALID,     /* an argument or option is out of range */
    KD_ERR_NOMEM,       /* allocation failed or the request is too large */
    KD_ERR_IO,          /* a file could not be opened, read or written */
    KD_ERR_FORMAT,      /* a file exists but is not what was expected */
    KD_ERR_UNSUPPORTED, /* valid request that this algorithm cannot do */
    KD_ERR_NUMERIC,     /* NaN/Inf or other numerical breakdown */
    KD_ERR_CANCELLED,   /* a progress callback asked to stop */
    KD_ERR_INTERNAL     /* a bug: an invariant did not hold */
} kd_status;

/* Short fixed description of a status code ("invalid argument", ...). */
const char *kd_strerror(kd_status status);

/* The detailed message of the last failure in this thread ("" if none). */
const char *kd_last_error(void);
/* Forget the last error message of this thread. */
void kd_clear_error(void);

typedef enum { KD_LOG_ERROR = 0, KD_LOG_WARN, KD_LOG_INFO, KD_LOG_DEBUG } kd_log_level;

/* A log handler receives complete messages without trailing newline.
 * It may be called from several threads at once (messages are formatted per call). */
typedef void (*kd_log_fn)(kd_log_level level, const char *message, void *user);

/* Install a process-wide handler (NULL: discard everything). Default: discard. */
void kd_log_set_handler(kd_log_fn fn, void *user);
/* Send a printf-style message to the handler. */
void kd_log(kd_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Progress callback for long operations: fraction in [0,1], a short label.
 * Return nonzero to ask the operation to stop (it then returns KD_ERR_CANCELLED). */
typedef int (*kd_progress_fn)(double fraction, const char *label, void *user);

/* Data-parallel minibatch training over several processes (set by the CLI's
 * MPI layer, tools/kadanoff/mpi_*.c; the library itself knows nothing of MPI),
 * used by the RBM trainer (kd_rbm_split, kadanoff/rbm.h) and the thermometer
 * (kd_thermometer_params.split, kadanoff/nn.h). Every process holds the same
 * model, options and data and computes a part of every minibatch's gradient:
 *   block = 0 ("fast"): process r takes rows [B·r/size, B·(r+1)/size) of a
 *     minibatch of B rows; the partial gradients are added by sum(). Equal to
 *     one process up to the rounding of that sum.
 *   block > 0 ("deterministic"): the minibatch is cut into blocks of `block`
 *     rows, each block's gradient is computed alone, the blocks are shared
 *     with gather() and every process adds them in block order: the result
 *     depends on `block` but not on `size`.
 * Hooks (required when size > 1):
 *   sum(ctx, x, n):             x[0..n) ← Σ over processes, the same bits on all
 *                               (each process decides from the sum);
 *   gather(ctx, x, len, first): process p has filled rows [first[p],
 *                               first[p+1]) of len floats of x; fill the others;
 *   bcast(ctx, x, n):           x[0..n) ← rank 0's, bit for bit (any bit pattern:
 *                               the thermometer sends doubles and a status
 *                               through it). */
typedef struct {
    int rank, size;
    size_t block;
    kd_status (*sum)(void *ctx, float *x, size_t n);
    kd_status (*gather)(void *ctx, float *x, size_t len, const size_t *first);
    kd_status (*bcast)(void *ctx, float *x, size_t n);
    void *ctx;
} kd_data_split;

/* Number of OpenMP threads used by the library (0 or negative: all cores). */
void kd_set_threads(int nthreads);
int kd_get_threads(void);

/* The library version string, e.g. "0.2.0". */
const char *kd_version(void);

#ifdef __cplusplus
}
#endif
#endif
