/*
 * Small HDF5 layer shared by every kadanoff file (internal, not installed).
 *
 * Every kadanoff file is an HDF5 file whose root carries the attributes
 *     format           string, e.g. "kadanoff-dataset", "kadanoff-rbm"
 *     format_version   int64, incremented when the layout changes incompatibly
 *     kadanoff_version string, kd_version() of the writer
 * and whose arrays are plain datasets of a few element types. This layer
 * writes such files atomically and reads them back with validation, so that
 * the module files (dataset.c, rbm.c, ...) only describe their layout.
 *
 * Writing:                              Reading:
 *   kd_h5 *f;                             kd_h5 *f;
 *   kd_h5_create(&f, path, fmt, 1);       kd_h5_open_format(&f, path, fmt, 1, &v);
 *   kd_h5_write(f, "/w", ...);            kd_h5_inspect / kd_h5_read / kd_h5_read_attr_*
 *   kd_h5_write_attr_*(f, "/", ...);      kd_h5_close(f);
 *   kd_h5_commit(f);  (or kd_h5_abort(f) on any failure)
 *
 * Conventions:
 *   - Every failure returns a kd_status with a message that starts with the
 *     file name and names the object ("data.h5: dataset '/spins' has rank 1,
 *     expected 2 (chain) or 3 (square)"): KD_ERR_IO when the system or HDF5
 *     could not read/write, KD_ERR_FORMAT when the file is not what was
 *     expected, KD_ERR_NOMEM for allocations and absurd sizes.
 *   - HDF5's own error printing is silenced inside every call here (and the
 *     caller's setting restored afterwards); the innermost HDF5 reason is
 *     appended to I/O messages in parentheses when it helps.
 *   - Object names are absolute HDF5 paths ("/spins", "/layer1/weights");
 *     attribute owners likewise ("/" for the root). Intermediate groups are
 *     created on write.
 *   - Element types must match exactly on read (class, size, signedness; the
 *     byte order may differ and is converted). Files are written little-endian.
 *   - Not thread-safe: use one file from one thread at a time.
 */
#ifndef KD_IO_H5_H
#define KD_IO_H5_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "io/atomic.h"
#include "kadanoff/core.h"
#include "kadanoff/ising.h"

/* Element types of arrays, table columns and attributes.
 * KD_H5_SIZE is a size_t in memory stored as uint64 in the file. */
typedef enum {
    KD_H5_INT8 = 0,
    KD_H5_INT64,
    KD_H5_UINT64,
    KD_H5_SIZE,
    KD_H5_FLOAT32,
    KD_H5_FLOAT64,
    KD_H5_OTHER /* only reported by kd_h5_inspect: anything else */
} kd_h5_type;

/* "int8", "int64", "uint64", "uint64" (size), "float32", "float64", "other". */
const char *kd_h5_type_name(kd_h5_type type);
/* Bytes of one element in memory (0 for KD_H5_OTHER). */
size_t kd_h5_type_size(kd_h5_type type);

#define KD_H5_MAX_RANK 8

/* An open kadanoff file. The fields may be read (e.g. `file` for an HDF5 call
 * this layer does not wrap; silence HDF5 errors yourself then). */
typedef struct {
    hid_t file;       /* the HDF5 file */
    char *path;       /* the name the caller gave, used in every message */
    int writing;      /* 1: created by kd_h5_create */
    uint64_t bytes;   /* reading: size of the file when opened */
    kd_atomic atomic; /* writing: the temporary file being written */
} kd_h5;

/* ---- writing ----------------------------------------------------------- */

/* Start writing `path` atomically: the HDF5 file is created as a temporary
 * file beside it (see io/atomic.h) and the root attributes format,
 * format_version and kadanoff_version are written. */
kd_status kd_h5_create(kd_h5 **out, const char *path, const char *format,
                       int64_t format_version);

/* Close the file, flush it to disk and rename it over the target. Releases f
 * whatever happens; on failure the temporary file is removed and an existing
 * target is left untouched. */
kd_status kd_h5_commit(kd_h5 *f);

/* Close and remove the temporary file (or, for a file open for reading, just
 * close it). Releases f; f == NULL does nothing. */
void kd_h5_abort(kd_h5 *f);

/* Storage options of kd_h5_write. chunk_bytes = 0: contiguous, uncompressed.
 * Otherwise the data are cut into chunks of about chunk_bytes (whole trailing
 * rows when they fit: the last dimensions are kept whole first) and, if
 * deflate is 1..9 and zlib is available, compressed at that level. */
typedef struct {
    size_t chunk_bytes;
    int deflate;
} kd_h5_storage;

/* Write an n-dimensional array (row-major, rank 0..KD_H5_MAX_RANK, dims[i] may
 * be 0) of element type `type` (not KD_H5_OTHER). storage may be NULL. */
kd_status kd_h5_write(kd_h5 *f, const char *name, kd_h5_type type, int rank,
                      const uint64_t *dims, const void *data, const kd_h5_storage *storage);

/* One named column of a table of C structs (a compound dataset). */
typedef struct {
    const char *name;
    size_t offset; /* offsetof(row struct, member) */
    kd_h5_type type;
} kd_h5_field;

/* Write nrows structs of row_size bytes as a 1-D compound dataset whose
 * members are the given fields, packed in that order. */
kd_status kd_h5_write_table(kd_h5 *f, const char *name, const kd_h5_field *fields,
                            size_t nfields, size_t row_size, size_t nrows, const void *rows);

/* Scalar attributes `name` on object `obj` ("/" for the root). Strings are
 * written as variable-length UTF-8 (NumPy/h5py read them as str). */
kd_status kd_h5_write_attr_string(kd_h5 *f, const char *obj, const char *name,
                                  const char *value);
kd_status kd_h5_write_attr_int64(kd_h5 *f, const char *obj, const char *name, int64_t value);
kd_status kd_h5_write_attr_uint64(kd_h5 *f, const char *obj, const char *name,
                                  uint64_t value);
kd_status kd_h5_write_attr_double(kd_h5 *f, const char *obj, const char *name, double value);

/* ---- reading ----------------------------------------------------------- */

/* Open an existing HDF5 file read-only. KD_ERR_IO if it cannot be opened
 * (missing, unreadable, a directory), KD_ERR_FORMAT if it is not an HDF5 file
 * or is truncated/damaged. No format check: see kd_h5_check_format. */
kd_status kd_h5_open(kd_h5 **out, const char *path);

/* The root attribute 'format' into buf (KD_ERR_FORMAT if missing or not a
 * string: "not a kadanoff file"). */
kd_status kd_h5_read_format(kd_h5 *f, char *buf, size_t size);

/* Check that 'format' equals `format` and 1 <= 'format_version' <= max_version;
 * the version found goes to *version (may be NULL). KD_ERR_FORMAT otherwise. */
kd_status kd_h5_check_format(kd_h5 *f, const char *format, int64_t max_version,
                             int64_t *version);

/* kd_h5_open followed by kd_h5_check_format (closing the file on failure). */
kd_status kd_h5_open_format(kd_h5 **out, const char *path, const char *format,
                            int64_t max_version, int64_t *version);

/* Close a file opened for reading (same as kd_h5_abort). */
void kd_h5_close(kd_h5 *f);

/* 1 if an object (dataset or group) of that name exists, 0 if not. */
int kd_h5_exists(kd_h5 *f, const char *name);

/* Shape and element type of a dataset as stored. */
typedef struct {
    int rank;
    uint64_t dims[KD_H5_MAX_RANK];
    kd_h5_type type;    /* KD_H5_OTHER: see type_desc */
    char type_desc[48]; /* "int8", "float64", "uint16", "compound", "string"... */
    size_t elem_bytes;  /* bytes of one element in the file */
    uint64_t storage;   /* bytes the data occupy in the file (compressed) */
} kd_h5_shape;

/* Describe dataset `name`. KD_ERR_FORMAT if missing, not a dataset, or of
 * rank above KD_H5_MAX_RANK. */
kd_status kd_h5_inspect(kd_h5 *f, const char *name, kd_h5_shape *shape);

/* Format dims as "(3, 16, 16)" into buf. */
void kd_h5_format_dims(int rank, const uint64_t *dims, char *buf, size_t size);

/* Guard before allocating: the number of elements of `shape` (into *count),
 * refusing with KD_ERR_NOMEM a shape whose size overflows size_t or exceeds
 * max_bytes at elem_size bytes per element, and with KD_ERR_FORMAT one that
 * declares far more data than the file stores (more than any compression
 * could explain: a damaged or hostile file). The stored size is HDF5's, itself
 * read from the file, so it is capped by the size of the whole file. */
kd_status kd_h5_check_size(kd_h5 *f, const char *name, const kd_h5_shape *shape,
                           size_t elem_size, size_t max_bytes, size_t *count);

/* Validate before allocating: dataset `name` must exist with element type
 * exactly `type` and shape exactly (rank, dims) — else KD_ERR_FORMAT, "...has
 * shape (3, 4), expected (3, 5) (<why>)" — and pass kd_h5_check_size with
 * max_bytes. why may be NULL. */
kd_status kd_h5_expect(kd_h5 *f, const char *name, kd_h5_type type, int rank,
                       const uint64_t *dims, const char *why, size_t max_bytes);

/* Read dataset `name` into buf, after checking that its type is exactly
 * `type` and its shape exactly (rank, dims). buf holds prod(dims) elements. */
kd_status kd_h5_read(kd_h5 *f, const char *name, kd_h5_type type, int rank,
                     const uint64_t *dims, void *buf);

/* Read dataset `name` of element type `type` and any shape into a new buffer
 * (free() it), after the checks of kd_h5_check_size (overflow, max_bytes,
 * more declared than stored). *shape receives its shape. */
kd_status kd_h5_read_alloc(kd_h5 *f, const char *name, kd_h5_type type, size_t max_bytes,
                           kd_h5_shape *shape, void **data);

/* Read a 1-D compound dataset into nrows structs (nrows must match the file).
 * Every field must be present with exactly its type; extra members in the
 * file are ignored. Use kd_h5_inspect first to learn nrows. */
kd_status kd_h5_read_table(kd_h5 *f, const char *name, const kd_h5_field *fields,
                           size_t nfields, size_t row_size, size_t nrows, void *rows);

/* 1 if attribute `name` exists on object `obj`, else 0. */
int kd_h5_has_attr(kd_h5 *f, const char *obj, const char *name);

/* Scalar attributes. KD_ERR_FORMAT if missing, not scalar, of the wrong class
 * (string / integer / number) or out of range of the C type. Strings longer
 * than size - 1 bytes are refused, not truncated. read_attr_double accepts
 * integer attributes too (h5py writes 1 for 1.0 when asked to). */
kd_status kd_h5_read_attr_string(kd_h5 *f, const char *obj, const char *name, char *buf,
                                 size_t size);
kd_status kd_h5_read_attr_int64(kd_h5 *f, const char *obj, const char *name, int64_t *out);
kd_status kd_h5_read_attr_uint64(kd_h5 *f, const char *obj, const char *name,
                                 uint64_t *out);
kd_status kd_h5_read_attr_double(kd_h5 *f, const char *obj, const char *name, double *out);

/* Value of any attribute as text for display: strings as they are, numbers
 * exactly (%.17g / integers in full), 1-D numeric arrays of up to 16 values as
 * "[1, 2, 3]", anything else as its type and shape ("<compound (3)>").
 * Never fails: "?" if unreadable. Returns what the text is, so that callers
 * can quote strings (e.g. in JSON). */
typedef enum {
    KD_H5_TEXT_UNREADABLE = 0,
    KD_H5_TEXT_STRING,  /* a string value */
    KD_H5_TEXT_NUMBER,  /* a number or a "[...]" list of numbers */
    KD_H5_TEXT_OTHER    /* "<type (dims)>" */
} kd_h5_text_kind;
kd_h5_text_kind kd_h5_attr_text(kd_h5 *f, const char *obj, const char *name, char *buf,
                                size_t size);

/* Visit every attribute name of object `obj`, in name order. A nonzero return
 * from fn stops the iteration. */
typedef int (*kd_h5_attr_fn)(const char *name, void *user);
kd_status kd_h5_visit_attrs(kd_h5 *f, const char *obj, kd_h5_attr_fn fn, void *user);

/* Visit every group and dataset below the root, in name order, depth first.
 * path is absolute ("/layer1/weights"); shape is NULL for groups. A nonzero
 * return from fn stops the iteration. */
typedef int (*kd_h5_visit_fn)(const char *path, const kd_h5_shape *shape, void *user);
kd_status kd_h5_visit(kd_h5 *f, kd_h5_visit_fn fn, void *user);

/* ---- the Ising lattice as attributes ------------------------------------ */

/* Attributes lattice ("chain"/"square"), L, J, field, boundary on `obj`. */
kd_status kd_h5_write_lattice(kd_h5 *f, const char *obj, const kd_lattice *lat);
/* Read and validate them (kind and boundary names, 2 <= L <= max, finite J, h). */
kd_status kd_h5_read_lattice(kd_h5 *f, const char *obj, kd_lattice *lat);

#endif
