/*
 * Damaging kadanoff files on purpose, for the tests of the readers: small
 * helpers that change one attribute, dataset or byte of an HDF5 file with the
 * HDF5 C API (or plain stdio), so that each test can say exactly what is
 * wrong with the file it hands to a reader. Header-only (static inline
 * functions, so a test may use only some): test_malformed, test_io,
 * test_rbm_file and test_nn include it. Each returns 1 on success, 0 on failure.
 */
#ifndef KD_TEST_H5_EDIT_H
#define KD_TEST_H5_EDIT_H

#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Byte-for-byte copy. */
static inline int h5e_copy(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    int ok = in && out;
    char buf[65536];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        ok = 0;
    return ok;
}

/* Replace (or create) attribute `name` of object `obj` by a scalar of file
 * type ftype holding *value of memory type mtype. */
static inline int h5e_set_attr(const char *path, const char *obj, const char *name, hid_t ftype,
                        hid_t mtype, const void *value)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return 0;
    if (H5Aexists_by_name(f, obj, name, H5P_DEFAULT) > 0)
        H5Adelete_by_name(f, obj, name, H5P_DEFAULT);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate_by_name(f, obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int ok = a >= 0 && H5Awrite(a, mtype, value) >= 0;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    return H5Fclose(f) >= 0 && ok;
}

static inline int h5e_set_int(const char *path, const char *obj, const char *name, long long v)
{
    return h5e_set_attr(path, obj, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, &v);
}

static inline int h5e_set_uint(const char *path, const char *obj, const char *name, unsigned long long v)
{
    return h5e_set_attr(path, obj, name, H5T_STD_U64LE, H5T_NATIVE_ULLONG, &v);
}

/* A scalar string attribute (fixed-length, NUL-terminated). */
static inline int h5e_set_string(const char *path, const char *obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(value) + 1);
    int ok = h5e_set_attr(path, obj, name, t, t, value);
    H5Tclose(t);
    return ok;
}

/* Delete attribute `name` of object `obj`. */
static inline int h5e_delete_attr(const char *path, const char *obj, const char *name)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return 0;
    int ok = H5Adelete_by_name(f, obj, name, H5P_DEFAULT) >= 0;
    return H5Fclose(f) >= 0 && ok;
}

/* Delete the link `name` (a dataset or group). */
static inline int h5e_delete(const char *path, const char *name)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return 0;
    int ok = H5Ldelete(f, name, H5P_DEFAULT) >= 0;
    return H5Fclose(f) >= 0 && ok;
}

/* Replace (or create) dataset `name`, stored as ftype, from data of memory
 * type mtype. */
static inline int h5e_put(const char *path, const char *name, hid_t ftype, hid_t mtype, int rank,
                   const hsize_t *dims, const void *data)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return 0;
    if (H5Lexists(f, name, H5P_DEFAULT) > 0)
        H5Ldelete(f, name, H5P_DEFAULT);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t ds = H5Dcreate2(f, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int ok = ds >= 0 && H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0;
    if (ds >= 0)
        H5Dclose(ds);
    H5Sclose(sp);
    return H5Fclose(f) >= 0 && ok;
}

/* Overwrite the 4 bytes at `skip` bytes after the start of the first
 * occurrence of `marker` (marker_len bytes) in the file with the
 * little-endian value v. For fields the HDF5 API refuses to write wrong (a
 * compound member's offset, say). */
static inline int h5e_patch(const char *path, const void *marker, size_t marker_len, size_t skip,
                     uint32_t v)
{
    FILE *fp = fopen(path, "r+b");
    if (!fp)
        return 0;
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    unsigned char *buf = size > 0 ? malloc((size_t)size) : NULL;
    int ok = buf && fseek(fp, 0, SEEK_SET) == 0 && fread(buf, 1, (size_t)size, fp) == (size_t)size;
    long at = -1;
    for (long i = 0; ok && i + (long)(marker_len > skip + 4 ? marker_len : skip + 4) <= size; i++)
        if (!memcmp(buf + i, marker, marker_len)) {
            at = i + (long)skip;
            break;
        }
    unsigned char le[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 24)};
    ok = ok && at >= 0 && fseek(fp, at, SEEK_SET) == 0 && fwrite(le, 1, 4, fp) == 4;
    free(buf);
    return fclose(fp) == 0 && ok;
}

#endif
