/* HDF5 helper layer: atomic creation, typed arrays, tables and attributes,
 * validated reads (see h5.h for the contract). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "io/h5.h"

/* A file may declare at most this many times more data than it stores.
 * Deflate cannot compress better than about 1032:1, and stacking the n-bit
 * filter in front of it gains at most another 4 for ±1 int8 data; anything
 * beyond is a damaged or hostile file, refused before allocating memory. */
#define KD_H5_MAX_COMPRESSION 4096.0
#define KD_H5_SLACK_BYTES (1u << 20)

/* ---- HDF5 error printing off, with the innermost reason kept ------------- */

typedef struct {
    H5E_auto2_t func;
    void *data;
} quiet_state;

static quiet_state quiet_begin(void)
{
    quiet_state q = {NULL, NULL};
    H5Eget_auto2(H5E_DEFAULT, &q.func, &q.data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return q;
}

static void quiet_end(quiet_state q) { H5Eset_auto2(H5E_DEFAULT, q.func, q.data); }

typedef struct {
    char text[200];
} reason_buf;

static herr_t reason_walk(unsigned n, const H5E_error2_t *err, void *user)
{
    reason_buf *r = user;
    (void)n;
    /* The walk goes from the API call down; the last entry is the root cause. */
    if (err->desc && *err->desc)
        snprintf(r->text, sizeof r->text, "%s", err->desc);
    return 0;
}

/* " (HDF5: <innermost message>)" of the current error stack, or "". Must be
 * called right after the failing HDF5 call (the next call clears the stack). */
static const char *h5_reason(reason_buf *r)
{
    reason_buf inner = {{0}};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, reason_walk, &inner);
    if (!inner.text[0]) {
        r->text[0] = '\0';
        return r->text;
    }
    snprintf(r->text, sizeof r->text, " (HDF5: %.170s)", inner.text);
    return r->text;
}

/* ---- types ----------------------------------------------------------------- */

static const char *const type_names[] = {
    [KD_H5_INT8] = "int8",       [KD_H5_INT64] = "int64",     [KD_H5_UINT64] = "uint64",
    [KD_H5_SIZE] = "uint64",     [KD_H5_FLOAT32] = "float32", [KD_H5_FLOAT64] = "float64",
    [KD_H5_OTHER] = "other",
};

const char *kd_h5_type_name(kd_h5_type type)
{
    return (unsigned)type <= KD_H5_OTHER ? type_names[type] : "other";
}

size_t kd_h5_type_size(kd_h5_type type)
{
    switch (type) {
    case KD_H5_INT8:
        return 1;
    case KD_H5_INT64:
    case KD_H5_UINT64:
        return 8;
    case KD_H5_SIZE:
        return sizeof(size_t);
    case KD_H5_FLOAT32:
        return 4;
    case KD_H5_FLOAT64:
        return 8;
    default:
        return 0;
    }
}

static hid_t mem_type(kd_h5_type type)
{
    switch (type) {
    case KD_H5_INT8:
        return H5T_NATIVE_INT8;
    case KD_H5_INT64:
        return H5T_NATIVE_INT64;
    case KD_H5_UINT64:
        return H5T_NATIVE_UINT64;
    case KD_H5_SIZE:
        return sizeof(size_t) == 8 ? H5T_NATIVE_UINT64 : H5T_NATIVE_UINT32;
    case KD_H5_FLOAT32:
        return H5T_NATIVE_FLOAT;
    case KD_H5_FLOAT64:
        return H5T_NATIVE_DOUBLE;
    default:
        return H5I_INVALID_HID;
    }
}

static hid_t file_type(kd_h5_type type)
{
    switch (type) {
    case KD_H5_INT8:
        return H5T_STD_I8LE;
    case KD_H5_INT64:
        return H5T_STD_I64LE;
    case KD_H5_UINT64:
    case KD_H5_SIZE:
        return H5T_STD_U64LE;
    case KD_H5_FLOAT32:
        return H5T_IEEE_F32LE;
    case KD_H5_FLOAT64:
        return H5T_IEEE_F64LE;
    default:
        return H5I_INVALID_HID;
    }
}

/* A stored float must be laid out exactly like IEEE binary32/64 (either byte
 * order): a damaged file can declare, say, a float64 whose exponent field
 * lies outside its 8 bytes, and converting that is HDF5's own undefined
 * behaviour. Integers may have a reduced precision (the n-bit filter uses
 * that), which HDF5 converts exactly. */
static int standard_layout(hid_t t, kd_h5_type kind)
{
    if (kind == KD_H5_FLOAT32)
        return H5Tequal(t, H5T_IEEE_F32LE) > 0 || H5Tequal(t, H5T_IEEE_F32BE) > 0;
    if (kind == KD_H5_FLOAT64)
        return H5Tequal(t, H5T_IEEE_F64LE) > 0 || H5Tequal(t, H5T_IEEE_F64BE) > 0;
    return 1;
}

/* Which of our types a file type is, with a readable description. */
static kd_h5_type classify(hid_t t, char *desc, size_t size)
{
    H5T_class_t cls = H5Tget_class(t);
    size_t bytes = H5Tget_size(t);
    kd_h5_type kind = KD_H5_OTHER;
    switch (cls) {
    case H5T_INTEGER: {
        int sign = H5Tget_sign(t) == H5T_SGN_2;
        snprintf(desc, size, "%sint%zu", sign ? "" : "u", 8 * bytes);
        if (sign && bytes == 1)
            kind = KD_H5_INT8;
        else if (sign && bytes == 8)
            kind = KD_H5_INT64;
        else if (!sign && bytes == 8)
            kind = KD_H5_UINT64;
        break;
    }
    case H5T_FLOAT:
        snprintf(desc, size, "float%zu", 8 * bytes);
        if (bytes == 4)
            kind = KD_H5_FLOAT32;
        else if (bytes == 8)
            kind = KD_H5_FLOAT64;
        break;
    default: { /* a type we never read: only named in messages */
        static const struct {
            H5T_class_t cls;
            const char *name;
        } other[] = {{H5T_STRING, "string"},   {H5T_COMPOUND, "compound"}, {H5T_ENUM, "enum"},
                     {H5T_ARRAY, "array"},     {H5T_VLEN, "vlen"},         {H5T_OPAQUE, "opaque"},
                     {H5T_REFERENCE, "reference"}, {H5T_BITFIELD, "bitfield"}};
        const char *name = "unknown type";
        for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
            if (other[i].cls == cls)
                name = other[i].name;
        snprintf(desc, size, "%s", name);
        break;
    }
    }
    if (kind != KD_H5_OTHER && !standard_layout(t, kind)) {
        size_t used = strlen(desc);
        snprintf(desc + used, size - used, " (non-standard bit layout)");
        kind = KD_H5_OTHER;
    }
    return kind;
}

/* Does a stored type satisfy a requested one? (size_t is stored as uint64.) */
static int type_matches(kd_h5_type want, kd_h5_type got)
{
    if (want == KD_H5_SIZE)
        return got == KD_H5_UINT64;
    return want == got && want != KD_H5_OTHER;
}

void kd_h5_format_dims(int rank, const uint64_t *dims, char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0)
        return;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < rank && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%" PRIu64, i ? ", " : "", dims[i]);
    if (used < size)
        snprintf(buf + used, size - used, ")");
}

/* "attribute 'L'" for the root, "attribute 'unit' of '/spins'" otherwise. */
static const char *attr_label(const char *obj, const char *name, char *buf, size_t size)
{
    if (!obj || !strcmp(obj, "/"))
        snprintf(buf, size, "attribute '%s'", name);
    else
        snprintf(buf, size, "attribute '%s' of '%s'", name, obj);
    return buf;
}

/* ---- open / create / close ------------------------------------------------- */

static kd_h5 *handle_new(const char *path)
{
    kd_h5 *f = calloc(1, sizeof *f);
    size_t len = strlen(path);
    if (!f)
        return NULL;
    f->path = malloc(len + 1);
    if (!f->path) {
        free(f);
        return NULL;
    }
    memcpy(f->path, path, len + 1);
    f->file = H5I_INVALID_HID;
    return f;
}

static void handle_free(kd_h5 *f)
{
    free(f->path);
    free(f);
}

/* File access properties: refuse to close while objects are open (a leak
 * here is a bug worth seeing), and tolerate file systems without locks. */
static hid_t make_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return fapl;
    H5Pset_fclose_degree(fapl, H5F_CLOSE_SEMI);
#if H5_VERSION_GE(1, 10, 7)
    H5Pset_file_locking(fapl, 1, 1);
#endif
    return fapl;
}

static kd_status create_impl(kd_h5 **out, const char *path, const char *format,
                             int64_t format_version)
{
    reason_buf r;
    *out = NULL;
    if (!path || !*path)
        KD_FAIL(KD_ERR_INVALID, "no output file name given");
    if (!format || !*format || format_version < 1)
        KD_FAIL(KD_ERR_INVALID, "%s: format tag and a version >= 1 are required", path);
    kd_h5 *f = handle_new(path);
    if (!f)
        KD_FAIL(KD_ERR_NOMEM, "%s: out of memory", path);
    kd_status s = kd_atomic_begin(&f->atomic, path);
    if (s != KD_OK) {
        handle_free(f);
        return s;
    }
    f->writing = 1;
    /* The file is built in memory (core driver, no backing store) and written
     * to disk in one piece by kd_h5_commit. HDF5 1.10 cannot recover from a
     * failing write(2) (disk full, EFBIG): the file identifier is left half
     * closed and the library crashes in H5Fclose or at exit. Writing the image
     * ourselves turns a full disk into an ordinary error. */
    hid_t fapl = make_fapl();
    if (fapl >= 0 && H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) < 0) {
        H5Pclose(fapl);
        fapl = -1;
    }
    f->file = fapl < 0 ? -1 : H5Fcreate(f->atomic.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f->file < 0) {
        s = kd_set_error(KD_ERR_IO, "%s: cannot create the HDF5 file '%s'%s", path,
                         f->atomic.tmp, h5_reason(&r));
        H5Pclose(fapl);
        kd_atomic_abort(&f->atomic);
        handle_free(f);
        return s;
    }
    H5Pclose(fapl);
    *out = f;
    return KD_OK;
}

kd_status kd_h5_create(kd_h5 **out, const char *path, const char *format,
                       int64_t format_version)
{
    quiet_state q = quiet_begin();
    kd_status s = create_impl(out, path, format, format_version);
    quiet_end(q);
    if (s != KD_OK)
        return s;
    kd_h5 *f = *out;
    s = kd_h5_write_attr_string(f, "/", "format", format);
    if (s == KD_OK)
        s = kd_h5_write_attr_int64(f, "/", "format_version", format_version);
    if (s == KD_OK)
        s = kd_h5_write_attr_string(f, "/", "kadanoff_version", kd_version());
    if (s != KD_OK) {
        kd_h5_abort(f);
        *out = NULL;
    }
    return s;
}

kd_status kd_h5_commit(kd_h5 *f)
{
    reason_buf r;
    kd_status s = KD_OK;
    if (!f)
        KD_FAIL(KD_ERR_INVALID, "no file to commit");
    if (!f->writing) {
        kd_h5_close(f);
        KD_FAIL(KD_ERR_INTERNAL, "kd_h5_commit on a file opened for reading");
    }
    quiet_state q = quiet_begin();
    void *image = NULL;
    ssize_t size = -1;
    if (H5Fflush(f->file, H5F_SCOPE_LOCAL) >= 0)
        size = H5Fget_file_image(f->file, NULL, 0);
    if (size > 0 && (image = malloc((size_t)size)) != NULL &&
        H5Fget_file_image(f->file, image, (size_t)size) != size)
        size = -1;
    herr_t e = H5Fclose(f->file); /* in memory: nothing to write to disk */
    if (e < 0 || size <= 0)
        s = kd_set_error(KD_ERR_IO, "%s: cannot finish the HDF5 file%s", f->path,
                         h5_reason(&r));
    else if (!image)
        s = kd_set_error(KD_ERR_NOMEM, "%s: out of memory for the file image (%zd bytes)",
                         f->path, size);
    quiet_end(q);
    if (s == KD_OK)
        s = kd_atomic_write(&f->atomic, image, (size_t)size);
    free(image);
    if (s != KD_OK) {
        kd_atomic_abort(&f->atomic);
        handle_free(f);
        return s;
    }
    s = kd_atomic_commit(&f->atomic);
    handle_free(f);
    return s;
}

static void close_open_objects(hid_t file, unsigned kinds, herr_t (*close_fn)(hid_t))
{
    ssize_t n = H5Fget_obj_count(file, kinds | H5F_OBJ_LOCAL);
    if (n <= 0)
        return;
    hid_t *ids = malloc((size_t)n * sizeof *ids);
    if (!ids)
        return;
    ssize_t m = H5Fget_obj_ids(file, kinds | H5F_OBJ_LOCAL, (size_t)n, ids);
    for (ssize_t i = 0; i < m; i++)
        close_fn(ids[i]);
    free(ids);
}

void kd_h5_abort(kd_h5 *f)
{
    if (!f)
        return;
    quiet_state q = quiet_begin();
    if (f->file >= 0) {
        /* Objects left open (a bug in a caller) are closed first, so that the
         * file really goes away before its temporary name is removed. H5Fclose
         * is called once only: after a close that failed writing (disk full,
         * EFBIG) the identifier still looks valid, but a second close crashes
         * inside HDF5 1.10. */
        close_open_objects(f->file, H5F_OBJ_ATTR, H5Aclose);
        close_open_objects(f->file, H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE,
                           H5Oclose);
        H5Fclose(f->file);
    }
    quiet_end(q);
    if (f->writing)
        kd_atomic_abort(&f->atomic);
    handle_free(f);
}

void kd_h5_close(kd_h5 *f) { kd_h5_abort(f); }

static kd_status open_impl(kd_h5 **out, const char *path)
{
    reason_buf r;
    struct stat st;
    *out = NULL;
    if (!path || !*path)
        KD_FAIL(KD_ERR_INVALID, "no input file name given");
    if (stat(path, &st) != 0)
        KD_FAIL(KD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        KD_FAIL(KD_ERR_IO, "%s: is a directory, expected a kadanoff HDF5 file", path);
    FILE *probe = fopen(path, "rb");
    if (!probe)
        KD_FAIL(KD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    fclose(probe);
    if (st.st_size == 0)
        KD_FAIL(KD_ERR_FORMAT, "%s: file is empty, expected a kadanoff HDF5 file", path);
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0)
        KD_FAIL(KD_ERR_FORMAT,
                "%s: not an HDF5 file (no HDF5 signature found; truncated or another format), "
                "expected a kadanoff HDF5 file",
                path);
    kd_h5 *f = handle_new(path);
    if (!f)
        KD_FAIL(KD_ERR_NOMEM, "%s: out of memory", path);
    hid_t fapl = make_fapl();
    f->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (f->file < 0) {
        kd_status s = kd_set_error(KD_ERR_FORMAT,
                                   "%s: HDF5 file cannot be opened, it is truncated or damaged%s",
                                   path, h5_reason(&r));
        H5Pclose(fapl);
        handle_free(f);
        return s;
    }
    H5Pclose(fapl);
    f->bytes = (uint64_t)st.st_size;
    *out = f;
    return KD_OK;
}

kd_status kd_h5_open(kd_h5 **out, const char *path)
{
    quiet_state q = quiet_begin();
    kd_status s = open_impl(out, path);
    quiet_end(q);
    return s;
}

kd_status kd_h5_read_format(kd_h5 *f, char *buf, size_t size)
{
    if (!kd_h5_has_attr(f, "/", "format"))
        KD_FAIL(KD_ERR_FORMAT,
                "%s: HDF5 file without a 'format' attribute at the root, expected a kadanoff "
                "file (format 'kadanoff-dataset', ...)",
                f->path);
    return kd_h5_read_attr_string(f, "/", "format", buf, size);
}

kd_status kd_h5_check_format(kd_h5 *f, const char *format, int64_t max_version,
                             int64_t *version)
{
    char found[256];
    int64_t v;
    KD_CHECK(kd_h5_read_format(f, found, sizeof found));
    if (strcmp(found, format) != 0)
        KD_FAIL(KD_ERR_FORMAT, "%s: attribute 'format' is '%s', expected '%s'", f->path, found,
                format);
    if (!kd_h5_has_attr(f, "/", "format_version"))
        KD_FAIL(KD_ERR_FORMAT, "%s: attribute 'format_version' is missing, expected an integer",
                f->path);
    KD_CHECK(kd_h5_read_attr_int64(f, "/", "format_version", &v));
    if (v > max_version)
        KD_FAIL(KD_ERR_FORMAT,
                "%s: attribute 'format_version' is %" PRId64 ", expected 1..%" PRId64
                " (written by a newer kadanoff? this is %s)",
                f->path, v, max_version, kd_version());
    if (v < 1)
        KD_FAIL(KD_ERR_FORMAT,
                "%s: attribute 'format_version' is %" PRId64 ", expected 1..%" PRId64, f->path, v,
                max_version);
    if (version)
        *version = v;
    return KD_OK;
}

kd_status kd_h5_open_format(kd_h5 **out, const char *path, const char *format,
                            int64_t max_version, int64_t *version)
{
    KD_CHECK(kd_h5_open(out, path));
    kd_status s = kd_h5_check_format(*out, format, max_version, version);
    if (s != KD_OK) {
        kd_h5_close(*out);
        *out = NULL;
    }
    return s;
}

/* ---- writing ----------------------------------------------------------------- */

static kd_status check_writable(kd_h5 *f, const char *name)
{
    if (!f || f->file < 0)
        KD_FAIL(KD_ERR_INVALID, "no open file to write '%s' to", name ? name : "");
    if (!f->writing)
        KD_FAIL(KD_ERR_INVALID, "%s: file is open for reading, cannot write '%s'", f->path,
                name ? name : "");
    if (!name || name[0] != '/')
        KD_FAIL(KD_ERR_INVALID, "%s: object name '%s' must be an absolute path", f->path,
                name ? name : "");
    return KD_OK;
}

/* Chunk shape of about `target` elements: keep the last dimensions whole as
 * long as they fit, so a chunk holds whole configurations/rows when possible. */
static void choose_chunk(int rank, const hsize_t *dims, size_t target, hsize_t *chunk)
{
    hsize_t left = target > 0 ? target : 1;
    for (int i = rank - 1; i >= 0; i--) {
        hsize_t c = dims[i] < left ? dims[i] : left;
        if (c < 1)
            c = 1;
        chunk[i] = c;
        left = left / c;
        if (left < 1)
            left = 1;
    }
}

static kd_status write_impl(kd_h5 *f, const char *name, kd_h5_type type, int rank,
                            const uint64_t *dims, const void *data,
                            const kd_h5_storage *storage)
{
    reason_buf r;
    hsize_t hd[KD_H5_MAX_RANK], chunk[KD_H5_MAX_RANK];
    KD_CHECK(check_writable(f, name));
    if (type >= KD_H5_OTHER || (unsigned)rank > KD_H5_MAX_RANK)
        KD_FAIL(KD_ERR_INVALID, "%s: dataset '%s': bad element type or rank %d", f->path, name,
                rank);
    int empty = 0;
    for (int i = 0; i < rank; i++) {
        hd[i] = dims[i];
        empty |= dims[i] == 0;
    }
    static const char dummy = 0; /* H5Dwrite wants a pointer even for no elements */
    if (!data) {
        if (!empty)
            KD_FAIL(KD_ERR_INVALID, "%s: dataset '%s': no data given", f->path, name);
        data = &dummy;
    }

    kd_status s = KD_OK;
    hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, hd, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t dset = H5I_INVALID_HID;
    if (space < 0 || lcpl < 0 || dcpl < 0) {
        s = kd_set_error(KD_ERR_IO, "%s: cannot describe dataset '%s'%s", f->path, name,
                         h5_reason(&r));
        goto done;
    }
    H5Pset_create_intermediate_group(lcpl, 1);
    /* Chunked layout needs nonzero dimensions; an empty array stays contiguous. */
    if (storage && storage->chunk_bytes > 0 && rank > 0 && !empty) {
        size_t bytes = storage->chunk_bytes < ((size_t)1 << 30) ? storage->chunk_bytes
                                                                 : ((size_t)1 << 30);
        choose_chunk(rank, hd, bytes / kd_h5_type_size(type), chunk);
        if (H5Pset_chunk(dcpl, rank, chunk) < 0) {
            s = kd_set_error(KD_ERR_IO, "%s: cannot chunk dataset '%s'%s", f->path, name,
                             h5_reason(&r));
            goto done;
        }
        /* Without zlib the file is still valid, only larger. */
        if (storage->deflate > 0 && H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0)
            H5Pset_deflate(dcpl, (unsigned)(storage->deflate > 9 ? 9 : storage->deflate));
    }
    dset = H5Dcreate2(f->file, name, file_type(type), space, lcpl, dcpl, H5P_DEFAULT);
    if (dset < 0) {
        s = kd_set_error(KD_ERR_IO, "%s: cannot create dataset '%s'%s", f->path, name,
                         h5_reason(&r));
        goto done;
    }
    if (H5Dwrite(dset, mem_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        s = kd_set_error(KD_ERR_IO, "%s: cannot write dataset '%s'%s", f->path, name,
                         h5_reason(&r));
done:
    if (dset >= 0)
        H5Dclose(dset);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (space >= 0)
        H5Sclose(space);
    return s;
}

kd_status kd_h5_write(kd_h5 *f, const char *name, kd_h5_type type, int rank,
                      const uint64_t *dims, const void *data, const kd_h5_storage *storage)
{
    quiet_state q = quiet_begin();
    kd_status s = write_impl(f, name, type, rank, dims, data, storage);
    quiet_end(q);
    return s;
}

/* Memory and packed little-endian file compound types for a table. */
static kd_status table_types(kd_h5 *f, const char *name, const kd_h5_field *fields,
                             size_t nfields, size_t row_size, hid_t *mtype, hid_t *ftype)
{
    reason_buf r;
    size_t fsize = 0;
    *mtype = *ftype = H5I_INVALID_HID;
    for (size_t i = 0; i < nfields; i++) {
        if (fields[i].type >= KD_H5_OTHER ||
            fields[i].offset + kd_h5_type_size(fields[i].type) > row_size)
            KD_FAIL(KD_ERR_INTERNAL, "%s: table '%s': column '%s' is outside its row", f->path,
                    name, fields[i].name);
        fsize += H5Tget_size(file_type(fields[i].type));
    }
    *mtype = H5Tcreate(H5T_COMPOUND, row_size);
    *ftype = H5Tcreate(H5T_COMPOUND, fsize > 0 ? fsize : 1);
    if (*mtype < 0 || *ftype < 0)
        goto fail;
    size_t at = 0;
    for (size_t i = 0; i < nfields; i++) {
        hid_t ft = file_type(fields[i].type);
        if (H5Tinsert(*mtype, fields[i].name, fields[i].offset, mem_type(fields[i].type)) < 0 ||
            H5Tinsert(*ftype, fields[i].name, at, ft) < 0)
            goto fail;
        at += H5Tget_size(ft);
    }
    return KD_OK;
fail: {
    kd_status s = kd_set_error(KD_ERR_INTERNAL, "%s: cannot build the column types of '%s'%s",
                               f->path, name, h5_reason(&r));
    if (*mtype >= 0)
        H5Tclose(*mtype);
    if (*ftype >= 0)
        H5Tclose(*ftype);
    *mtype = *ftype = H5I_INVALID_HID;
    return s;
}
}

static kd_status write_table_impl(kd_h5 *f, const char *name, const kd_h5_field *fields,
                                  size_t nfields, size_t row_size, size_t nrows,
                                  const void *rows)
{
    reason_buf r;
    hid_t mtype, ftype;
    static const char dummy = 0;
    KD_CHECK(check_writable(f, name));
    if (nrows > 0 && !rows)
        KD_FAIL(KD_ERR_INVALID, "%s: table '%s': no rows given", f->path, name);
    KD_CHECK(table_types(f, name, fields, nfields, row_size, &mtype, &ftype));
    kd_status s = KD_OK;
    hsize_t dim = nrows;
    hid_t space = H5Screate_simple(1, &dim, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    hid_t dset = H5I_INVALID_HID;
    if (space >= 0 && lcpl >= 0) {
        H5Pset_create_intermediate_group(lcpl, 1);
        dset = H5Dcreate2(f->file, name, ftype, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    }
    if (dset < 0)
        s = kd_set_error(KD_ERR_IO, "%s: cannot create table '%s'%s", f->path, name,
                         h5_reason(&r));
    else if (H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows ? rows : &dummy) < 0)
        s = kd_set_error(KD_ERR_IO, "%s: cannot write table '%s'%s", f->path, name,
                         h5_reason(&r));
    if (dset >= 0)
        H5Dclose(dset);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (space >= 0)
        H5Sclose(space);
    H5Tclose(mtype);
    H5Tclose(ftype);
    return s;
}

kd_status kd_h5_write_table(kd_h5 *f, const char *name, const kd_h5_field *fields,
                            size_t nfields, size_t row_size, size_t nrows, const void *rows)
{
    quiet_state q = quiet_begin();
    kd_status s = write_table_impl(f, name, fields, nfields, row_size, nrows, rows);
    quiet_end(q);
    return s;
}

/* Create (replacing any previous one) a scalar attribute and write it. */
static kd_status write_attr(kd_h5 *f, const char *obj, const char *name, hid_t ftype,
                            hid_t mtype, const void *value)
{
    reason_buf r;
    char label[300];
    KD_CHECK(check_writable(f, obj));
    attr_label(obj, name, label, sizeof label);
    quiet_state q = quiet_begin();
    kd_status s = KD_OK;
    if (H5Aexists_by_name(f->file, obj, name, H5P_DEFAULT) > 0)
        H5Adelete_by_name(f->file, obj, name, H5P_DEFAULT);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate_by_name(f->file, obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT,
                                   H5P_DEFAULT);
    if (attr < 0)
        s = kd_set_error(KD_ERR_IO, "%s: cannot create %s%s", f->path, label, h5_reason(&r));
    else if (H5Awrite(attr, mtype, value) < 0)
        s = kd_set_error(KD_ERR_IO, "%s: cannot write %s%s", f->path, label, h5_reason(&r));
    if (attr >= 0)
        H5Aclose(attr);
    if (space >= 0)
        H5Sclose(space);
    quiet_end(q);
    return s;
}

kd_status kd_h5_write_attr_string(kd_h5 *f, const char *obj, const char *name,
                                  const char *value)
{
    if (!value)
        value = "";
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    kd_status s = write_attr(f, obj, name, t, t, &value);
    H5Tclose(t);
    return s;
}

kd_status kd_h5_write_attr_int64(kd_h5 *f, const char *obj, const char *name, int64_t value)
{
    return write_attr(f, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

kd_status kd_h5_write_attr_uint64(kd_h5 *f, const char *obj, const char *name, uint64_t value)
{
    return write_attr(f, obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &value);
}

kd_status kd_h5_write_attr_double(kd_h5 *f, const char *obj, const char *name, double value)
{
    return write_attr(f, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

/* ---- reading: objects -------------------------------------------------------- */

static int exists_impl(kd_h5 *f, const char *name)
{
    if (!f || f->file < 0 || !name || name[0] != '/')
        return 0;
    if (!strcmp(name, "/"))
        return 1;
    /* H5Lexists fails (rather than saying no) when a parent is missing, so
     * check the path one component at a time. */
    size_t len = strlen(name);
    char *p = malloc(len + 1);
    if (!p)
        return 0;
    memcpy(p, name, len + 1);
    int found = 1;
    for (size_t i = 1; i <= len && found; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        found = H5Lexists(f->file, p, H5P_DEFAULT) > 0 &&
                H5Oexists_by_name(f->file, p, H5P_DEFAULT) > 0;
        p[i] = c;
    }
    free(p);
    return found;
}

int kd_h5_exists(kd_h5 *f, const char *name)
{
    quiet_state q = quiet_begin();
    int e = exists_impl(f, name);
    quiet_end(q);
    return e;
}

static kd_status describe_dataset(kd_h5 *f, const char *name, hid_t dset, kd_h5_shape *shape)
{
    reason_buf r;
    hsize_t hd[KD_H5_MAX_RANK];
    memset(shape, 0, sizeof *shape);
    hid_t space = H5Dget_space(dset);
    hid_t type = H5Dget_type(dset);
    kd_status s = KD_OK;
    if (space < 0 || type < 0) {
        s = kd_set_error(KD_ERR_FORMAT, "%s: dataset '%s' cannot be read%s", f->path, name,
                         h5_reason(&r));
        goto done;
    }
    if (H5Sget_simple_extent_type(space) == H5S_NULL) {
        s = kd_set_error(KD_ERR_FORMAT, "%s: dataset '%s' has no dataspace (null), expected an "
                                        "array",
                         f->path, name);
        goto done;
    }
    int rank = H5Sget_simple_extent_ndims(space);
    if (rank < 0 || rank > KD_H5_MAX_RANK) {
        s = kd_set_error(KD_ERR_FORMAT, "%s: dataset '%s' has rank %d, expected at most %d",
                         f->path, name, rank, KD_H5_MAX_RANK);
        goto done;
    }
    H5Sget_simple_extent_dims(space, hd, NULL);
    shape->rank = rank;
    for (int i = 0; i < rank; i++)
        shape->dims[i] = hd[i];
    shape->type = classify(type, shape->type_desc, sizeof shape->type_desc);
    shape->elem_bytes = H5Tget_size(type);
    shape->storage = H5Dget_storage_size(dset);
done:
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    return s;
}

/* Open a dataset that must exist, with messages for the usual mistakes. */
static kd_status open_dataset(kd_h5 *f, const char *name, hid_t *dset)
{
    reason_buf r;
    *dset = H5I_INVALID_HID;
    if (!f || f->file < 0)
        KD_FAIL(KD_ERR_INVALID, "no open file to read '%s' from", name ? name : "");
    if (!exists_impl(f, name))
        KD_FAIL(KD_ERR_FORMAT, "%s: dataset '%s' is missing", f->path, name);
    hid_t obj = H5Oopen(f->file, name, H5P_DEFAULT);
    if (obj < 0)
        KD_FAIL(KD_ERR_FORMAT, "%s: object '%s' cannot be opened%s", f->path, name,
                h5_reason(&r));
    if (H5Iget_type(obj) != H5I_DATASET) {
        H5Oclose(obj);
        KD_FAIL(KD_ERR_FORMAT, "%s: '%s' is a group, expected a dataset", f->path, name);
    }
    *dset = obj;
    return KD_OK;
}

kd_status kd_h5_inspect(kd_h5 *f, const char *name, kd_h5_shape *shape)
{
    hid_t dset;
    quiet_state q = quiet_begin();
    kd_status s = open_dataset(f, name, &dset);
    if (s == KD_OK) {
        s = describe_dataset(f, name, dset, shape);
        H5Dclose(dset);
    }
    quiet_end(q);
    return s;
}

kd_status kd_h5_check_size(kd_h5 *f, const char *name, const kd_h5_shape *shape,
                           size_t elem_size, size_t max_bytes, size_t *count)
{
    char dims[200];
    size_t n = 1;
    kd_h5_format_dims(shape->rank, shape->dims, dims, sizeof dims);
    for (int i = 0; i < shape->rank; i++) {
        uint64_t d = shape->dims[i];
        if (d > SIZE_MAX || (d > 0 && n > SIZE_MAX / (size_t)d))
            KD_FAIL(KD_ERR_NOMEM, "%s: dataset '%s' has shape %s, too large to address",
                    f->path, name, dims);
        n *= (size_t)d;
    }
    if (elem_size > 0 && n > SIZE_MAX / elem_size)
        KD_FAIL(KD_ERR_NOMEM, "%s: dataset '%s' has shape %s, too large to address", f->path,
                name, dims);
    double bytes = (double)n * (double)elem_size;
    if (n * elem_size > max_bytes)
        KD_FAIL(KD_ERR_NOMEM, "%s: dataset '%s' has shape %s (%.3g bytes), more than the limit "
                              "of %.3g bytes",
                f->path, name, dims, bytes, (double)max_bytes);
    double declared = (double)n * (double)shape->elem_bytes;
    /* The storage size HDF5 reports comes from the file's own layout message:
     * a damaged one can claim anything, but not more than the file holds. */
    uint64_t stored = shape->storage;
    if (!f->writing && f->bytes > 0 && stored > f->bytes)
        stored = f->bytes;
    if (declared > KD_H5_MAX_COMPRESSION * (double)stored + KD_H5_SLACK_BYTES)
        KD_FAIL(KD_ERR_FORMAT, "%s: dataset '%s' has shape %s (%.3g bytes) but stores only "
                               "%" PRIu64 " bytes, expected a complete dataset (damaged file?)",
                f->path, name, dims, declared, stored);
    *count = n;
    return KD_OK;
}

static int same_dims(int rank, const uint64_t *a, const uint64_t *b)
{
    for (int i = 0; i < rank; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

kd_status kd_h5_expect(kd_h5 *f, const char *name, kd_h5_type type, int rank,
                       const uint64_t *dims, const char *why, size_t max_bytes)
{
    kd_h5_shape sh;
    char got[200], want[200];
    size_t count;
    KD_CHECK(kd_h5_inspect(f, name, &sh));
    if (!type_matches(type, sh.type))
        KD_FAIL(KD_ERR_FORMAT, "%s: dataset '%s' has element type %s, expected %s", f->path,
                name, sh.type_desc, kd_h5_type_name(type));
    if (sh.rank != rank || !same_dims(rank, sh.dims, dims)) {
        kd_h5_format_dims(sh.rank, sh.dims, got, sizeof got);
        kd_h5_format_dims(rank, dims, want, sizeof want);
        KD_FAIL(KD_ERR_FORMAT, "%s: dataset '%s' has shape %s, expected %s%s%s%s", f->path, name,
                got, want, why ? " (" : "", why ? why : "", why ? ")" : "");
    }
    return kd_h5_check_size(f, name, &sh, kd_h5_type_size(type), max_bytes, &count);
}

static kd_status read_impl(kd_h5 *f, const char *name, kd_h5_type type, int rank,
                           const uint64_t *dims, void *buf, kd_h5_shape *got)
{
    reason_buf r;
    hid_t dset;
    char want_s[200], got_s[200];
    KD_CHECK(open_dataset(f, name, &dset));
    kd_status s = describe_dataset(f, name, dset, got);
    if (s == KD_OK && !type_matches(type, got->type))
        s = kd_set_error(KD_ERR_FORMAT, "%s: dataset '%s' has element type %s, expected %s",
                         f->path, name, got->type_desc, kd_h5_type_name(type));
    if (s == KD_OK && dims && (got->rank != rank || !same_dims(rank, got->dims, dims))) {
        kd_h5_format_dims(rank, dims, want_s, sizeof want_s);
        kd_h5_format_dims(got->rank, got->dims, got_s, sizeof got_s);
        s = kd_set_error(KD_ERR_FORMAT, "%s: dataset '%s' has shape %s, expected %s", f->path,
                         name, got_s, want_s);
    }
    if (s == KD_OK && buf &&
        H5Dread(dset, mem_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        s = kd_set_error(KD_ERR_IO, "%s: cannot read dataset '%s'%s", f->path, name,
                         h5_reason(&r));
    H5Dclose(dset);
    return s;
}

kd_status kd_h5_read(kd_h5 *f, const char *name, kd_h5_type type, int rank,
                     const uint64_t *dims, void *buf)
{
    kd_h5_shape got;
    if (!dims || !buf)
        KD_FAIL(KD_ERR_INVALID, "kd_h5_read of '%s' needs dims and a buffer", name);
    quiet_state q = quiet_begin();
    kd_status s = read_impl(f, name, type, rank, dims, buf, &got);
    quiet_end(q);
    return s;
}

kd_status kd_h5_read_alloc(kd_h5 *f, const char *name, kd_h5_type type, size_t max_bytes,
                           kd_h5_shape *shape, void **data)
{
    size_t count;
    *data = NULL;
    quiet_state q = quiet_begin();
    /* First only validate the type and learn the shape (no buffer). */
    kd_status s = read_impl(f, name, type, 0, NULL, NULL, shape);
    if (s == KD_OK)
        s = kd_h5_check_size(f, name, shape, kd_h5_type_size(type), max_bytes, &count);
    if (s == KD_OK) {
        size_t bytes = count * kd_h5_type_size(type);
        void *buf = malloc(bytes > 0 ? bytes : 1);
        if (!buf)
            s = kd_set_error(KD_ERR_NOMEM, "%s: out of memory reading dataset '%s' (%zu bytes)",
                             f->path, name, bytes);
        else if ((s = read_impl(f, name, type, shape->rank, shape->dims, buf, shape)) != KD_OK)
            free(buf);
        else
            *data = buf;
    }
    quiet_end(q);
    return s;
}

/* Every member of a stored compound type must lie inside the row: HDF5 1.10
 * decodes member offsets without that check, and converting rows whose
 * members point outside them reads freed memory (found by fuzz/fuzz_dataset). */
static kd_status check_compound(kd_h5 *f, const char *name, hid_t ftype)
{
    size_t row = H5Tget_size(ftype);
    int n = H5Tget_nmembers(ftype);
    if (row == 0 || n < 0)
        KD_FAIL(KD_ERR_FORMAT, "%s: table '%s' has an unreadable row type, expected a compound",
                f->path, name);
    for (int i = 0; i < n; i++) {
        size_t off = H5Tget_member_offset(ftype, (unsigned)i);
        hid_t mt = H5Tget_member_type(ftype, (unsigned)i);
        size_t bytes = mt >= 0 ? H5Tget_size(mt) : 0;
        if (mt >= 0)
            H5Tclose(mt);
        if (mt < 0 || bytes == 0 || off > row || bytes > row - off)
            KD_FAIL(KD_ERR_FORMAT, "%s: table '%s': column %d lies at bytes %zu..%zu of a %zu-byte "
                                   "row, expected it inside the row (damaged file?)",
                    f->path, name, i, off, off + bytes, row);
    }
    return KD_OK;
}

static kd_status read_table_impl(kd_h5 *f, const char *name, const kd_h5_field *fields,
                                 size_t nfields, size_t row_size, size_t nrows, void *rows)
{
    reason_buf r;
    hid_t dset, mtype = H5I_INVALID_HID;
    kd_h5_shape shape;
    KD_CHECK(open_dataset(f, name, &dset));
    kd_status s = describe_dataset(f, name, dset, &shape);
    hid_t ftype = H5Dget_type(dset);
    if (s == KD_OK && (H5Tget_class(ftype) != H5T_COMPOUND || shape.rank != 1))
        s = kd_set_error(KD_ERR_FORMAT,
                         "%s: dataset '%s' is a rank-%d %s array, expected a 1-D table "
                         "(compound type)",
                         f->path, name, shape.rank, shape.type_desc);
    if (s == KD_OK)
        s = check_compound(f, name, ftype);
    if (s == KD_OK && shape.dims[0] != nrows)
        s = kd_set_error(KD_ERR_FORMAT, "%s: table '%s' has %" PRIu64 " rows, expected %zu",
                         f->path, name, shape.dims[0], nrows);
    for (size_t i = 0; s == KD_OK && i < nfields; i++) {
        int idx = H5Tget_member_index(ftype, fields[i].name);
        if (idx < 0) {
            s = kd_set_error(KD_ERR_FORMAT, "%s: table '%s' has no column '%s', expected %s",
                             f->path, name, fields[i].name, kd_h5_type_name(fields[i].type));
            break;
        }
        char desc[48];
        hid_t mt = H5Tget_member_type(ftype, (unsigned)idx);
        kd_h5_type got = classify(mt, desc, sizeof desc);
        H5Tclose(mt);
        if (!type_matches(fields[i].type, got))
            s = kd_set_error(KD_ERR_FORMAT, "%s: column '%s' of table '%s' is %s, expected %s",
                             f->path, fields[i].name, name, desc,
                             kd_h5_type_name(fields[i].type));
    }
    if (s == KD_OK) {
        hid_t unused;
        s = table_types(f, name, fields, nfields, row_size, &mtype, &unused);
        if (s == KD_OK)
            H5Tclose(unused);
    }
    static char dummy;
    if (s == KD_OK &&
        H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows ? rows : &dummy) < 0)
        s = kd_set_error(KD_ERR_IO, "%s: cannot read table '%s'%s", f->path, name,
                         h5_reason(&r));
    if (mtype >= 0)
        H5Tclose(mtype);
    if (ftype >= 0)
        H5Tclose(ftype);
    H5Dclose(dset);
    return s;
}

kd_status kd_h5_read_table(kd_h5 *f, const char *name, const kd_h5_field *fields,
                           size_t nfields, size_t row_size, size_t nrows, void *rows)
{
    quiet_state q = quiet_begin();
    kd_status s = read_table_impl(f, name, fields, nfields, row_size, nrows, rows);
    quiet_end(q);
    return s;
}

/* ---- reading: attributes ----------------------------------------------------- */

int kd_h5_has_attr(kd_h5 *f, const char *obj, const char *name)
{
    if (!f || f->file < 0)
        return 0;
    quiet_state q = quiet_begin();
    int has = exists_impl(f, obj) && H5Aexists_by_name(f->file, obj, name, H5P_DEFAULT) > 0;
    quiet_end(q);
    return has;
}

/* Open a scalar (or one-element) attribute; *cls receives its type class. */
static kd_status open_attr(kd_h5 *f, const char *obj, const char *name, hid_t *attr,
                           hid_t *type, char *label, size_t label_size)
{
    reason_buf r;
    attr_label(obj, name, label, label_size);
    *attr = *type = H5I_INVALID_HID;
    if (!f || f->file < 0)
        KD_FAIL(KD_ERR_INVALID, "no open file to read %s from", label);
    if (!exists_impl(f, obj))
        KD_FAIL(KD_ERR_FORMAT, "%s: object '%s' is missing", f->path, obj);
    if (H5Aexists_by_name(f->file, obj, name, H5P_DEFAULT) <= 0)
        KD_FAIL(KD_ERR_FORMAT, "%s: %s is missing", f->path, label);
    *attr = H5Aopen_by_name(f->file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (*attr < 0)
        KD_FAIL(KD_ERR_FORMAT, "%s: %s cannot be opened%s", f->path, label, h5_reason(&r));
    hid_t space = H5Aget_space(*attr);
    hssize_t npoints = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (space >= 0)
        H5Sclose(space);
    *type = H5Aget_type(*attr);
    if (npoints != 1 || *type < 0) {
        H5Aclose(*attr);
        if (*type >= 0)
            H5Tclose(*type);
        *attr = *type = H5I_INVALID_HID;
        KD_FAIL(KD_ERR_FORMAT, "%s: %s has %lld values, expected a single value", f->path, label,
                (long long)npoints);
    }
    return KD_OK;
}

static void close_attr(hid_t attr, hid_t type)
{
    if (type >= 0)
        H5Tclose(type);
    if (attr >= 0)
        H5Aclose(attr);
}

/* The error for an attribute of the wrong type class: "... is <its type>,
 * expected <expected>". */
static kd_status attr_class_error(const kd_h5 *f, const char *label, hid_t type,
                                  const char *expected)
{
    char desc[48];
    classify(type, desc, sizeof desc);
    return kd_set_error(KD_ERR_FORMAT, "%s: %s is %s, expected %s", f->path, label, desc,
                        expected);
}

/* The error for an attribute whose H5Aread just failed (see h5_reason). */
static kd_status attr_read_error(const kd_h5 *f, const char *label)
{
    reason_buf r;
    return kd_set_error(KD_ERR_FORMAT, "%s: %s cannot be read%s", f->path, label, h5_reason(&r));
}

/* Read a one-value string attribute into a new allocation. */
static kd_status read_string(kd_h5 *f, const char *label, hid_t attr, hid_t type, char **out)
{
    *out = NULL;
    hid_t mt = H5Tcopy(H5T_C_S1);
    /* HDF5 does not convert between ASCII and UTF-8: read in the file's set. */
    H5Tset_cset(mt, H5Tget_cset(type));
    kd_status s = KD_OK;
    if (H5Tis_variable_str(type) > 0) {
        char *v = NULL;
        H5Tset_size(mt, H5T_VARIABLE);
        if (H5Aread(attr, mt, &v) < 0) {
            s = attr_read_error(f, label);
        } else {
            size_t len = v ? strlen(v) : 0;
            *out = malloc(len + 1);
            if (*out) {
                memcpy(*out, v ? v : "", len + 1);
            } else {
                s = kd_set_error(KD_ERR_NOMEM, "%s: out of memory reading %s", f->path, label);
            }
            if (v)
                H5free_memory(v);
        }
    } else {
        size_t len = H5Tget_size(type);
        H5Tset_size(mt, len + 1);
        H5Tset_strpad(mt, H5T_STR_NULLTERM);
        *out = malloc(len + 1);
        if (!*out)
            s = kd_set_error(KD_ERR_NOMEM, "%s: out of memory reading %s", f->path, label);
        else if (H5Aread(attr, mt, *out) < 0) {
            s = attr_read_error(f, label);
            free(*out);
            *out = NULL;
        } else {
            (*out)[len] = '\0';
        }
    }
    H5Tclose(mt);
    return s;
}

static kd_status read_attr_string_impl(kd_h5 *f, const char *obj, const char *name, char *buf,
                                       size_t size)
{
    char label[300];
    hid_t attr, type;
    char *v;
    KD_CHECK(open_attr(f, obj, name, &attr, &type, label, sizeof label));
    kd_status s = KD_OK;
    if (H5Tget_class(type) != H5T_STRING)
        s = attr_class_error(f, label, type, "a string");
    else if ((s = read_string(f, label, attr, type, &v)) == KD_OK) {
        size_t len = strlen(v);
        if (len + 1 > size)
            s = kd_set_error(KD_ERR_FORMAT,
                             "%s: %s is %zu characters long, expected at most %zu", f->path,
                             label, len, size > 0 ? size - 1 : 0);
        else
            memcpy(buf, v, len + 1);
        free(v);
    }
    close_attr(attr, type);
    return s;
}

kd_status kd_h5_read_attr_string(kd_h5 *f, const char *obj, const char *name, char *buf,
                                 size_t size)
{
    quiet_state q = quiet_begin();
    kd_status s = read_attr_string_impl(f, obj, name, buf, size);
    quiet_end(q);
    return s;
}

/* Integer attribute as either signed or unsigned 64-bit, whichever holds it. */
static kd_status read_attr_integer(kd_h5 *f, const char *obj, const char *name, int *is_signed,
                                   int64_t *sv, uint64_t *uv, char *label, size_t label_size)
{
    hid_t attr, type;
    KD_CHECK(open_attr(f, obj, name, &attr, &type, label, label_size));
    kd_status s = KD_OK;
    if (H5Tget_class(type) != H5T_INTEGER) {
        s = attr_class_error(f, label, type, "an integer");
    } else {
        *is_signed = H5Tget_sign(type) == H5T_SGN_2;
        herr_t e = *is_signed ? H5Aread(attr, H5T_NATIVE_INT64, sv)
                              : H5Aread(attr, H5T_NATIVE_UINT64, uv);
        if (e < 0)
            s = attr_read_error(f, label);
    }
    close_attr(attr, type);
    return s;
}

/* Integer attribute as int64 (want_signed: into *sout) or uint64 (into *uout),
 * whichever signedness the file stores, if the value fits. */
static kd_status read_attr_int(kd_h5 *f, const char *obj, const char *name, int want_signed,
                               int64_t *sout, uint64_t *uout)
{
    char label[300];
    int is_signed = want_signed;
    int64_t sv = 0;
    uint64_t uv = 0;
    quiet_state q = quiet_begin();
    kd_status s = read_attr_integer(f, obj, name, &is_signed, &sv, &uv, label, sizeof label);
    quiet_end(q);
    KD_CHECK(s);
    if (want_signed && !is_signed) {
        if (uv > (uint64_t)INT64_MAX)
            KD_FAIL(KD_ERR_FORMAT, "%s: %s is %" PRIu64 ", expected at most %" PRId64, f->path,
                    label, uv, INT64_MAX);
        sv = (int64_t)uv;
    } else if (!want_signed && is_signed) {
        if (sv < 0)
            KD_FAIL(KD_ERR_FORMAT, "%s: %s is %" PRId64 ", expected a non-negative integer",
                    f->path, label, sv);
        uv = (uint64_t)sv;
    }
    if (want_signed)
        *sout = sv;
    else
        *uout = uv;
    return KD_OK;
}

kd_status kd_h5_read_attr_int64(kd_h5 *f, const char *obj, const char *name, int64_t *out)
{
    return read_attr_int(f, obj, name, 1, out, NULL);
}

kd_status kd_h5_read_attr_uint64(kd_h5 *f, const char *obj, const char *name, uint64_t *out)
{
    return read_attr_int(f, obj, name, 0, NULL, out);
}

static kd_status read_attr_double_impl(kd_h5 *f, const char *obj, const char *name,
                                       double *out)
{
    char label[300];
    hid_t attr, type;
    KD_CHECK(open_attr(f, obj, name, &attr, &type, label, sizeof label));
    kd_status s = KD_OK;
    H5T_class_t cls = H5Tget_class(type);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER)
        s = attr_class_error(f, label, type, "a number");
    else if (H5Aread(attr, H5T_NATIVE_DOUBLE, out) < 0)
        s = attr_read_error(f, label);
    close_attr(attr, type);
    return s;
}

kd_status kd_h5_read_attr_double(kd_h5 *f, const char *obj, const char *name, double *out)
{
    quiet_state q = quiet_begin();
    kd_status s = read_attr_double_impl(f, obj, name, out);
    quiet_end(q);
    return s;
}

/* ---- display and iteration --------------------------------------------------- */

static kd_h5_text_kind attr_text_impl(kd_h5 *f, const char *obj, const char *name, char *buf,
                                      size_t size)
{
    kd_h5_text_kind kind = KD_H5_TEXT_UNREADABLE;
    hid_t attr = H5Aopen_by_name(f->file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    hid_t type = attr >= 0 ? H5Aget_type(attr) : H5I_INVALID_HID;
    hid_t space = attr >= 0 ? H5Aget_space(attr) : H5I_INVALID_HID;
    snprintf(buf, size, "?");
    if (type < 0 || space < 0)
        goto done;
    hssize_t np = H5Sget_simple_extent_npoints(space);
    int rank = H5Sget_simple_extent_ndims(space);
    H5T_class_t cls = H5Tget_class(type);
    char desc[48];
    classify(type, desc, sizeof desc);
    if (cls == H5T_STRING && np == 1) {
        char *v;
        if (read_string(f, name, attr, type, &v) == KD_OK) {
            snprintf(buf, size, "%s", v);
            free(v);
            kind = KD_H5_TEXT_STRING;
        }
    } else if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && np >= 1 && np <= 16 && rank <= 1) {
        double dv[16];
        int64_t iv[16];
        uint64_t uv[16];
        int sign = cls == H5T_INTEGER && H5Tget_sign(type) == H5T_SGN_2;
        herr_t e = cls == H5T_FLOAT ? H5Aread(attr, H5T_NATIVE_DOUBLE, dv)
                   : sign           ? H5Aread(attr, H5T_NATIVE_INT64, iv)
                                    : H5Aread(attr, H5T_NATIVE_UINT64, uv);
        if (e < 0)
            goto done;
        size_t used = 0;
        buf[0] = '\0';
        if (rank == 1)
            used += (size_t)snprintf(buf, size, "[");
        for (hssize_t i = 0; i < np && used < size; i++) {
            const char *sep = i ? ", " : "";
            if (cls == H5T_FLOAT)
                used += (size_t)snprintf(buf + used, size - used, "%s%.17g", sep, dv[i]);
            else if (sign)
                used += (size_t)snprintf(buf + used, size - used, "%s%" PRId64, sep, iv[i]);
            else
                used += (size_t)snprintf(buf + used, size - used, "%s%" PRIu64, sep, uv[i]);
        }
        if (rank == 1 && used < size)
            snprintf(buf + used, size - used, "]");
        kind = KD_H5_TEXT_NUMBER;
    } else {
        hsize_t hd[KD_H5_MAX_RANK];
        uint64_t dims[KD_H5_MAX_RANK];
        char ds[120];
        if (rank > KD_H5_MAX_RANK)
            rank = KD_H5_MAX_RANK;
        if (rank > 0)
            H5Sget_simple_extent_dims(space, hd, NULL);
        for (int i = 0; i < rank; i++)
            dims[i] = hd[i];
        kd_h5_format_dims(rank, dims, ds, sizeof ds);
        snprintf(buf, size, "<%s %s>", desc, ds);
        kind = KD_H5_TEXT_OTHER;
    }
done:
    if (space >= 0)
        H5Sclose(space);
    close_attr(attr, type);
    return kind;
}

kd_h5_text_kind kd_h5_attr_text(kd_h5 *f, const char *obj, const char *name, char *buf,
                                size_t size)
{
    if (size == 0)
        return KD_H5_TEXT_UNREADABLE;
    quiet_state q = quiet_begin();
    kd_h5_text_kind kind = attr_text_impl(f, obj, name, buf, size);
    quiet_end(q);
    return kind;
}

typedef struct {
    kd_h5_attr_fn fn;
    void *user;
} attr_visit_ctx;

static herr_t attr_visit_cb(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    attr_visit_ctx *c = data;
    (void)loc;
    (void)info;
    return c->fn(name, c->user) ? 1 : 0;
}

kd_status kd_h5_visit_attrs(kd_h5 *f, const char *obj, kd_h5_attr_fn fn, void *user)
{
    reason_buf r;
    attr_visit_ctx c = {fn, user};
    hsize_t idx = 0;
    quiet_state q = quiet_begin();
    kd_status s = KD_OK;
    if (!exists_impl(f, obj))
        s = kd_set_error(KD_ERR_FORMAT, "%s: object '%s' is missing", f->path, obj);
    else if (H5Aiterate_by_name(f->file, obj, H5_INDEX_NAME, H5_ITER_INC, &idx, attr_visit_cb,
                                &c, H5P_DEFAULT) < 0)
        s = kd_set_error(KD_ERR_FORMAT, "%s: cannot list the attributes of '%s'%s", f->path, obj,
                         h5_reason(&r));
    quiet_end(q);
    return s;
}

typedef struct {
    kd_h5 *f;
    kd_h5_visit_fn fn;
    void *user;
    kd_status status;
} visit_ctx;

static herr_t visit_cb(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    visit_ctx *c = data;
    if (info->type != H5L_TYPE_HARD)
        return 0; /* soft and external links are not followed */
    size_t len = strlen(name);
    char *path = malloc(len + 2);
    if (!path) {
        c->status = kd_set_error(KD_ERR_NOMEM, "%s: out of memory listing objects", c->f->path);
        return -1;
    }
    path[0] = '/';
    memcpy(path + 1, name, len + 1);
    int stop = 0;
    hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
    if (obj >= 0) {
        H5I_type_t kind = H5Iget_type(obj);
        if (kind == H5I_GROUP) {
            stop = c->fn(path, NULL, c->user);
        } else if (kind == H5I_DATASET) {
            kd_h5_shape shape;
            if (describe_dataset(c->f, path, obj, &shape) == KD_OK)
                stop = c->fn(path, &shape, c->user);
        }
        H5Oclose(obj);
    }
    free(path);
    return stop ? 1 : 0;
}

kd_status kd_h5_visit(kd_h5 *f, kd_h5_visit_fn fn, void *user)
{
    reason_buf r;
    visit_ctx c = {f, fn, user, KD_OK};
    quiet_state q = quiet_begin();
    herr_t e = H5Lvisit(f->file, H5_INDEX_NAME, H5_ITER_INC, visit_cb, &c);
    if (e < 0 && c.status == KD_OK)
        c.status = kd_set_error(KD_ERR_FORMAT, "%s: cannot list the objects in the file%s",
                                f->path, h5_reason(&r));
    quiet_end(q);
    return c.status;
}
