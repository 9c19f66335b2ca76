/*
 * kadanoff/npy.h — NumPy .npy files (format version 1.0) for users without HDF5.
 *
 * A file is the magic "\x93NUMPY", the version bytes 1 0, a little-endian
 * uint16 header length, then an ASCII header such as
 *     {'descr': '<f8', 'fortran_order': False, 'shape': (1000, 16, 16), }
 * padded with spaces and ended by '\n' so that the data start at a multiple of
 * 64 bytes, then the array in C (row-major) order. numpy.load reads it.
 */
#ifndef KADANOFF_NPY_H
#define KADANOFF_NPY_H

#include <stddef.h>

#include "kadanoff/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types: descr '|i1', '<i8', '<f4', '<f8' ('>' on big-endian hosts:
 * the data are written in the machine's byte order, as NumPy does). */
typedef enum {
    KD_NPY_INT8 = 0, /* int8_t */
    KD_NPY_INT64,    /* int64_t */
    KD_NPY_FLOAT32,  /* float */
    KD_NPY_FLOAT64   /* double */
} kd_npy_dtype;

#define KD_NPY_MAX_RANK 8

/* Write an array of `rank` dimensions (0..KD_NPY_MAX_RANK; rank 0 is a
 * scalar, shape may then be NULL) to `path`, atomically: the file appears
 * complete under its name or not at all, and an existing file is replaced
 * only on success. Errors: KD_ERR_INVALID (bad rank/dtype, NULL data for a
 * non-empty array), KD_ERR_NOMEM (size overflow), KD_ERR_IO naming the path. */
kd_status kd_npy_write(const char *path, kd_npy_dtype dtype, int rank, const size_t *shape,
                       const void *data);

/* The descr string of a dtype ("<f8", ...), NULL if unknown. */
const char *kd_npy_descr(kd_npy_dtype dtype);

#ifdef __cplusplus
}
#endif
#endif
