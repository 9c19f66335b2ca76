/* NPY format 1.0 writer (see kadanoff/npy.h), atomic through io/atomic.h. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "io/atomic.h"
#include "kadanoff/npy.h"

static int little_endian(void)
{
    const uint16_t probe = 1;
    return *(const unsigned char *)&probe == 1;
}

const char *kd_npy_descr(kd_npy_dtype dtype)
{
    const int le = little_endian();
    switch (dtype) {
    case KD_NPY_INT8:
        return "|i1"; /* single bytes have no byte order */
    case KD_NPY_INT64:
        return le ? "<i8" : ">i8";
    case KD_NPY_FLOAT32:
        return le ? "<f4" : ">f4";
    case KD_NPY_FLOAT64:
        return le ? "<f8" : ">f8";
    }
    return NULL;
}

static size_t dtype_size(kd_npy_dtype dtype)
{
    static const size_t sizes[] = {
        [KD_NPY_INT8] = 1, [KD_NPY_INT64] = 8, [KD_NPY_FLOAT32] = 4, [KD_NPY_FLOAT64] = 8};
    return sizes[dtype];
}

/* Preamble + header of NPY 1.0 into buf; returns its total length (a multiple
 * of 64), 0 if it does not fit. Layout: magic (6) + version (2) + header
 * length (2, little-endian) + header text padded with spaces and ending '\n'. */
static size_t format_header(char *buf, size_t size, const char *descr, int rank,
                            const size_t *shape)
{
    char dict[512];
    size_t used = (size_t)snprintf(dict, sizeof dict,
                                   "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < rank && used < sizeof dict; i++)
        used += (size_t)snprintf(dict + used, sizeof dict - used, "%s%zu", i ? ", " : "",
                                 shape[i]);
    /* A one-element tuple needs its trailing comma: (5,) */
    if (used < sizeof dict)
        used += (size_t)snprintf(dict + used, sizeof dict - used, "%s), }",
                                 rank == 1 ? "," : "");
    if (used >= sizeof dict)
        return 0;
    const size_t preamble = 10;
    size_t total = preamble + used + 1; /* + the final '\n' */
    total = (total + 63) / 64 * 64;
    if (total > size || total - preamble > UINT16_MAX)
        return 0;
    size_t hlen = total - preamble;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = 1; /* major */
    buf[7] = 0; /* minor */
    buf[8] = (char)(hlen & 0xff);
    buf[9] = (char)(hlen >> 8);
    memcpy(buf + preamble, dict, used);
    memset(buf + preamble + used, ' ', hlen - used - 1);
    buf[total - 1] = '\n';
    return total;
}

kd_status kd_npy_write(const char *path, kd_npy_dtype dtype, int rank, const size_t *shape,
                       const void *data)
{
    char header[1024];
    if (!path || !*path)
        KD_FAIL(KD_ERR_INVALID, "no output file name given");
    const char *descr = kd_npy_descr(dtype);
    if (!descr)
        KD_FAIL(KD_ERR_INVALID, "%s: unknown element type %d", path, (int)dtype);
    if (rank < 0 || rank > KD_NPY_MAX_RANK || (rank > 0 && !shape))
        KD_FAIL(KD_ERR_INVALID, "%s: rank %d, expected 0..%d with a shape", path, rank,
                KD_NPY_MAX_RANK);
    size_t esize = dtype_size(dtype), count = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] > 0 && count > SIZE_MAX / esize / shape[i])
            KD_FAIL(KD_ERR_NOMEM, "%s: array too large to address", path);
        count *= shape[i];
    }
    if (count > 0 && !data)
        KD_FAIL(KD_ERR_INVALID, "%s: no data for a non-empty array", path);
    size_t hsize = format_header(header, sizeof header, descr, rank, shape);
    if (hsize == 0)
        KD_FAIL(KD_ERR_INTERNAL, "%s: NPY header does not fit", path);

    kd_atomic a;
    KD_CHECK(kd_atomic_begin(&a, path));
    FILE *fp = fopen(a.tmp, "wb");
    if (!fp) {
        int err = errno;
        kd_atomic_abort(&a);
        KD_FAIL(KD_ERR_IO, "%s: cannot open for writing: %s", path, strerror(err));
    }
    int ok = fwrite(header, 1, hsize, fp) == hsize;
    /* Write in pieces so a failure (disk full) is noticed early. */
    const unsigned char *p = data;
    size_t left = count * esize;
    while (ok && left > 0) {
        size_t piece = left < ((size_t)1 << 24) ? left : ((size_t)1 << 24);
        ok = fwrite(p, 1, piece, fp) == piece;
        p += piece;
        left -= piece;
    }
    int err = ok ? 0 : errno;
    if (fclose(fp) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    if (!ok) {
        kd_atomic_abort(&a);
        KD_FAIL(KD_ERR_IO, "%s: write failed: %s", path, strerror(err));
    }
    return kd_atomic_commit(&a);
}
