/*
 * Tests of src/io: dataset files (round trip, validation of damaged and
 * foreign files, atomic replacement), the HDF5 helper layer and .npy export.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/dataset_io.h"
#include "io/h5.h"
#include "kadanoff/kadanoff.h"
#include "kadanoff/npy.h"
#include "testing.h"
#include "tmp_path.h"
#include "h5_edit.h"

static const double KD_TEST_PI = 3.14159265358979323846;

/* ---- fixtures ----------------------------------------------------------------- */

/* A small dataset with every field set to something distinctive: spins from a
 * fixed LCG, temperatures including 0 and +inf, summary values that differ
 * per row and column, extreme provenance values. */
static kd_dataset *make_dataset(kd_lattice_kind kind, int L, size_t per, size_t ntemps, int nr)
{
    kd_lattice lat = {kind, L, KD_BOUNDARY_OPEN, -0.75, 0.125};
    if (kind == KD_LATTICE_SQUARE)
        lat.boundary = KD_BOUNDARY_PERIODIC;
    size_t nt = ntemps > 0 ? ntemps : 3;
    size_t n = per * nt;
    kd_dataset *d;
    if (kd_dataset_new(&d, &lat, n, ntemps, nr) != KD_OK)
        return NULL;
    const double temps[] = {0.0, 2.269185314213022, INFINITY, 1.5, 3.25};
    size_t N = kd_lattice_size(&lat);
    uint64_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        int8_t *s = d->spins + i * N;
        for (size_t j = 0; j < N; j++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            s[j] = (x >> 63) ? 1 : -1;
        }
        d->temperature[i] = temps[(i / per) % 5];
        d->energy[i] = kd_ising_energy(&lat, s);
        d->magnetization[i] = kd_ising_magnetization(&lat, s);
    }
    for (size_t t = 0; t < ntemps; t++) {
        kd_temp_summary *m = &d->summary[t];
        double b = 1.0 + (double)t / 7.0;
        m->T = temps[t % 5];
        m->n = per + t;
        m->burn_in = 100 * b;
        m->interval = 3 * b;
        m->tau_e = 0.5 * b;
        m->acceptance = 0.25 / b;
        m->e = -b / 3;
        m->e_err = 1e-3 * b;
        m->abs_m = 0.1 * b;
        m->abs_m_err = 1e-4 / b;
        m->m2 = 0.01 * b;
        m->m2_err = 1e-5 * b;
        m->c = KD_TEST_PI * b;
        m->c_err = 1e-2 / b;
        m->chi = 1e3 * b;
        m->chi_err = 1.1 * b;
        m->binder = 2.0 / 3.0 - 0.01 * b;
        m->binder_err = 1e-3 / 3 * b;
        m->tau_e_samples = 0.5 + b;
        for (int r = 0; r < nr; r++) {
            d->correlation[t * (size_t)nr + (size_t)r] = exp(-(double)r / b);
            d->correlation_err[t * (size_t)nr + (size_t)r] = 1e-3 * (double)(r + 1) / b;
        }
    }
    snprintf(d->algorithm, sizeof d->algorithm, "metropolis");
    d->seed = UINT64_MAX - 5; /* above INT64_MAX: must survive as uint64 */
    snprintf(d->burn_in, sizeof d->burn_in, "auto");
    snprintf(d->interval, sizeof d->interval, "%d", 7);
    d->samples_per_temperature = per;
    d->symmetrize = 1;
    snprintf(d->command, sizeof d->command, "kadanoff sample --lattice %s -L %d 'quoted ±'",
             kind == KD_LATTICE_SQUARE ? "square" : "chain", L);
    return d;
}

static int same_bytes(const void *a, const void *b, size_t n)
{
    return n == 0 || (a && b && memcmp(a, b, n) == 0);
}

/* Every field bit for bit (kadanoff_version: the writer's kd_version()). */
static void compare_datasets(const kd_dataset *a, const kd_dataset *b, int with_spins,
                             const char *what)
{
    size_t N = kd_lattice_size(&a->lattice);
    kd_test(a->lattice.kind == b->lattice.kind && a->lattice.L == b->lattice.L &&
                a->lattice.boundary == b->lattice.boundary &&
                same_bytes(&a->lattice.J, &b->lattice.J, sizeof(double)) &&
                same_bytes(&a->lattice.field, &b->lattice.field, sizeof(double)),
            "%s: lattice round-trips", what);
    kd_test(a->n == b->n && a->ntemps == b->ntemps && a->nr == b->nr,
            "%s: sizes n %zu/%zu ntemps %zu/%zu nr %d/%d", what, a->n, b->n, a->ntemps,
            b->ntemps, a->nr, b->nr);
    if (a->n != b->n || a->ntemps != b->ntemps || a->nr != b->nr)
        return;
    if (with_spins)
        kd_test(same_bytes(a->spins, b->spins, a->n * N), "%s: spins bit-exact", what);
    else
        kd_test(b->spins == NULL, "%s: metadata read leaves spins NULL", what);
    kd_test(same_bytes(a->temperature, b->temperature, a->n * sizeof(double)),
            "%s: temperature bit-exact", what);
    kd_test(same_bytes(a->energy, b->energy, a->n * sizeof(double)), "%s: energy bit-exact", what);
    kd_test(same_bytes(a->magnetization, b->magnetization, a->n * sizeof(double)),
            "%s: magnetization bit-exact", what);
    int summary_ok = 1;
    for (size_t t = 0; t < a->ntemps; t++)
        for (size_t k = 0; k < kd_summary_nfields; k++) {
            const kd_h5_field *fl = &kd_summary_fields[k];
            summary_ok &= same_bytes((const char *)&a->summary[t] + fl->offset,
                                     (const char *)&b->summary[t] + fl->offset,
                                     kd_h5_type_size(fl->type));
        }
    kd_test(summary_ok, "%s: every summary column bit-exact", what);
    kd_test(kd_summary_nfields == sizeof(kd_temp_summary) / 8,
            "summary table has one column per kd_temp_summary member (%zu)", kd_summary_nfields);
    size_t cells = a->ntemps * (size_t)a->nr * sizeof(double);
    kd_test(same_bytes(a->correlation, b->correlation, cells) &&
                same_bytes(a->correlation_err, b->correlation_err, cells),
            "%s: correlation tables bit-exact", what);
    kd_test(!strcmp(a->algorithm, b->algorithm) && a->seed == b->seed &&
                !strcmp(a->burn_in, b->burn_in) && !strcmp(a->interval, b->interval) &&
                a->samples_per_temperature == b->samples_per_temperature &&
                a->symmetrize == b->symmetrize && !strcmp(a->command, b->command),
            "%s: provenance round-trips (seed %llu)", what, (unsigned long long)b->seed);
    kd_test(!strcmp(b->kadanoff_version, kd_version()), "%s: kadanoff_version '%s' = '%s'", what,
            b->kadanoff_version, kd_version());
}

static void test_round_trip(const char *name, kd_lattice_kind kind, int L, size_t per,
                            size_t ntemps)
{
    int nr = ntemps > 0 ? L / 2 + 1 : 0;
    kd_dataset *d = make_dataset(kind, L, per, ntemps, nr), *back = NULL, *meta = NULL;
    const char *path = tmp_path(name);
    if (!kd_test(d != NULL, "%s: build the fixture", name))
        return;
    kd_status s = kd_dataset_write(path, d);
    if (kd_test(s == KD_OK, "%s: write (%s)", name, kd_last_error())) {
        s = kd_dataset_read(path, &back);
        if (kd_test(s == KD_OK, "%s: read back (%s)", name, kd_last_error()))
            compare_datasets(d, back, 1, name);
        s = kd_dataset_read_metadata(path, &meta);
        if (kd_test(s == KD_OK, "%s: metadata read (%s)", name, kd_last_error()))
            compare_datasets(d, meta, 0, name);
    }
    kd_dataset_free(d);
    kd_dataset_free(back);
    kd_dataset_free(meta);
}

/* ---- damaging good files with raw HDF5 ------------------------------------------- */

static int copy_file(const char *from, const char *to, long limit)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    int ok = in && out;
    long done = 0;
    int c;
    while (ok && (limit < 0 || done < limit) && (c = fgetc(in)) != EOF) {
        fputc(c, out);
        done++;
    }
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        ok = 0;
    return ok;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Replace (or create) dataset `name` with the given native-typed data. */
static int replace_dataset(const char *path, const char *name, hid_t type, int rank,
                           const hsize_t *dims, const void *data)
{
    return h5e_put(path, name, type, type, rank, dims, data);
}

static int delete_object(const char *path, const char *name)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return 0;
    int ok = H5Ldelete(f, name, H5P_DEFAULT) >= 0;
    return H5Fclose(f) >= 0 && ok;
}

/* Overwrite one element of an existing 1-byte dataset, at flat index i. */
static int poke_int8(const char *path, const char *name, hsize_t i, int8_t value)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return 0;
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t fs = H5Dget_space(ds);
    int rank = H5Sget_simple_extent_ndims(fs);
    hsize_t dims[8], start[8] = {0}, one[8];
    H5Sget_simple_extent_dims(fs, dims, NULL);
    for (int k = rank - 1; k >= 0; k--) {
        start[k] = i % dims[k];
        i /= dims[k];
        one[k] = 1;
    }
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, one, NULL);
    hid_t ms = H5Screate_simple(1, one, NULL);
    int ok = H5Dwrite(ds, H5T_NATIVE_INT8, ms, fs, H5P_DEFAULT, &value) >= 0;
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(ds);
    return H5Fclose(f) >= 0 && ok;
}

static int set_attr_string(const char *path, const char *name, const char *value)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return 0;
    if (H5Aexists(f, name) > 0)
        H5Adelete(f, name);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(value) + 1);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    int ok = a >= 0 && H5Awrite(a, t, value) >= 0; /* fixed-length: the other string kind */
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return H5Fclose(f) >= 0 && ok;
}

static int set_attr_int(const char *path, const char *name, long long value)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return 0;
    if (H5Aexists(f, name) > 0)
        H5Adelete(f, name);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int ok = a >= 0 && H5Awrite(a, H5T_NATIVE_LLONG, &value) >= 0;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    return H5Fclose(f) >= 0 && ok;
}

static int delete_attr(const char *path, const char *name)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return 0;
    int ok = H5Adelete(f, name) >= 0;
    return H5Fclose(f) >= 0 && ok;
}

/* Reading `path` fails with `want` (or, if want2 >= 0, that one), and the
 * message names the file and contains `phrase`. */
static void expect_read_error(const char *path, kd_status want, int want2, const char *phrase,
                              const char *what)
{
    kd_dataset *d = NULL;
    kd_clear_error();
    kd_status s = kd_dataset_read(path, &d);
    const char *msg = kd_last_error();
    kd_test((s == want || (want2 >= 0 && s == (kd_status)want2)) && d == NULL,
            "%s: status %s, expected %s", what, kd_strerror(s), kd_strerror(want));
    kd_test(strstr(msg, path) != NULL && (!phrase || strstr(msg, phrase) != NULL),
            "%s: message names the file and says '%s': \"%s\"", what, phrase ? phrase : "", msg);
    kd_dataset_free(d);
}

/* A fresh copy of the good square file to damage. */
static const char *damaged_copy(const char *good, const char *name)
{
    const char *p = tmp_path(name);
    copy_file(good, p, -1);
    return p;
}

static void test_bad_files(void)
{
    kd_dataset *d = make_dataset(KD_LATTICE_SQUARE, 4, 5, 3, 3);
    char good[512]; /* tmp_path's buffers are reused: keep a copy */
    snprintf(good, sizeof good, "%s", tmp_path("good.h5"));
    if (!kd_test(d && kd_dataset_write(good, d) == KD_OK, "write the file to damage (%s)",
                 kd_last_error())) {
        kd_dataset_free(d);
        return;
    }
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the damage below is deliberate */

    expect_read_error(tmp_path("missing.h5"), KD_ERR_IO, -1, "No such file", "missing file");
    expect_read_error(tmpdir, KD_ERR_IO, -1, "directory", "a directory");

    const char *text = tmp_path("text.h5");
    FILE *fp = fopen(text, "w");
    fputs("T,energy\n1.0,-2.0\n", fp);
    fclose(fp);
    expect_read_error(text, KD_ERR_FORMAT, -1, "not an HDF5 file", "text file");

    const char *empty = tmp_path("empty.h5");
    fclose(fopen(empty, "w"));
    expect_read_error(empty, KD_ERR_FORMAT, -1, "empty", "empty file");

    long size = file_size(good);
    const char *half = tmp_path("half.h5");
    copy_file(good, half, size / 2);
    expect_read_error(half, KD_ERR_FORMAT, KD_ERR_IO, "truncated", "file cut in half");
    const char *stub = tmp_path("stub.h5");
    copy_file(good, stub, 40);
    expect_read_error(stub, KD_ERR_FORMAT, KD_ERR_IO, NULL, "file cut to 40 bytes");

    /* HDF5 files that are not kadanoff datasets */
    kd_h5 *f;
    const char *other = tmp_path("other.h5");
    if (kd_h5_create(&f, other, "kadanoff-rbm", 1) == KD_OK)
        kd_h5_commit(f);
    expect_read_error(other, KD_ERR_FORMAT, -1, "expected 'kadanoff-dataset'", "wrong format tag");
    const char *bare = tmp_path("bare.h5");
    hid_t h = H5Fcreate(bare, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(h);
    expect_read_error(bare, KD_ERR_FORMAT, -1, "'format'", "HDF5 without a format tag");

    const char *p = damaged_copy(good, "v2.h5");
    set_attr_int(p, "format_version", 2);
    expect_read_error(p, KD_ERR_FORMAT, -1, "format_version", "format_version 2");

    p = damaged_copy(good, "spin3.h5");
    poke_int8(p, "/spins", 21, 3);
    expect_read_error(p, KD_ERR_FORMAT, -1, "value 3 at configuration 1, site 5", "spin value 3");

    p = damaged_copy(good, "spin0.h5");
    poke_int8(p, "/spins", 0, 0);
    expect_read_error(p, KD_ERR_FORMAT, -1, "expected -1 or +1", "spin value 0");

    int8_t flat[60];
    for (int i = 0; i < 60; i++)
        flat[i] = 1;
    hsize_t d1[1] = {60};
    p = damaged_copy(good, "rank1.h5");
    replace_dataset(p, "/spins", H5T_NATIVE_INT8, 1, d1, flat);
    expect_read_error(p, KD_ERR_FORMAT, -1, "rank 1, expected 2 (chain) or 3 (square)",
                      "spins of rank 1");

    hsize_t dchain[2] = {15, 4};
    p = damaged_copy(good, "rank2.h5");
    replace_dataset(p, "/spins", H5T_NATIVE_INT8, 2, dchain, flat);
    expect_read_error(p, KD_ERR_FORMAT, -1, "'lattice' is 'square'", "chain spins, square attr");

    hsize_t dsq[3] = {15, 2, 2};
    p = damaged_copy(good, "shape.h5");
    replace_dataset(p, "/spins", H5T_NATIVE_INT8, 3, dsq, flat);
    expect_read_error(p, KD_ERR_FORMAT, -1, "L = 4", "spins 2x2 with L = 4");

    short wide[240];
    for (int i = 0; i < 240; i++)
        wide[i] = 1;
    hsize_t dfull[3] = {15, 4, 4};
    p = damaged_copy(good, "int16.h5");
    replace_dataset(p, "/spins", H5T_NATIVE_SHORT, 3, dfull, wide);
    expect_read_error(p, KD_ERR_FORMAT, -1, "int16, expected int8", "int16 spins");

    double values[20] = {0};
    hsize_t dn[1] = {14};
    p = damaged_copy(good, "short_energy.h5");
    replace_dataset(p, "/energy", H5T_NATIVE_DOUBLE, 1, dn, values);
    expect_read_error(p, KD_ERR_FORMAT, -1, "'/energy' has shape (14), expected (15)",
                      "energy with n - 1 rows");

    float fvalues[15] = {0};
    hsize_t d15[1] = {15};
    p = damaged_copy(good, "float_temp.h5");
    replace_dataset(p, "/temperature", H5T_NATIVE_FLOAT, 1, d15, fvalues);
    expect_read_error(p, KD_ERR_FORMAT, -1, "float32, expected float64", "float32 temperatures");

    double negT[15];
    for (int i = 0; i < 15; i++)
        negT[i] = i == 7 ? -1.0 : 1.0;
    p = damaged_copy(good, "negT.h5");
    replace_dataset(p, "/temperature", H5T_NATIVE_DOUBLE, 1, d15, negT);
    expect_read_error(p, KD_ERR_FORMAT, -1, "T >= 0", "negative temperature");
    negT[7] = NAN;
    p = damaged_copy(good, "nanT.h5");
    replace_dataset(p, "/temperature", H5T_NATIVE_DOUBLE, 1, d15, negT);
    expect_read_error(p, KD_ERR_FORMAT, -1, "T >= 0", "NaN temperature");

    hsize_t dc[2] = {2, 3};
    p = damaged_copy(good, "corr_rows.h5");
    replace_dataset(p, "/correlation", H5T_NATIVE_DOUBLE, 2, dc, values);
    expect_read_error(p, KD_ERR_FORMAT, -1, "'/correlation'", "correlation rows != summary rows");

    p = damaged_copy(good, "no_corr_err.h5");
    delete_object(p, "/correlation_err");
    expect_read_error(p, KD_ERR_FORMAT, -1, "'/correlation_err' is missing",
                      "summary without correlation_err");

    p = damaged_copy(good, "no_seed.h5");
    delete_attr(p, "seed");
    expect_read_error(p, KD_ERR_FORMAT, -1, "attribute 'seed' is missing", "missing seed");

    p = damaged_copy(good, "hex.h5");
    set_attr_string(p, "lattice", "hexagonal");
    expect_read_error(p, KD_ERR_FORMAT, -1, "'hexagonal', expected 'chain' or 'square'",
                      "unknown lattice name");

    p = damaged_copy(good, "L1.h5");
    set_attr_int(p, "L", 1);
    expect_read_error(p, KD_ERR_FORMAT, -1, "attribute 'L' is 1", "L = 1");

    p = damaged_copy(good, "L_string.h5");
    set_attr_string(p, "L", "4");
    expect_read_error(p, KD_ERR_FORMAT, -1, "expected an integer", "L as a string");

    /* A fixed-length string (h5py's numpy bytes) is as good as a variable one. */
    p = damaged_copy(good, "fixed_str.h5");
    set_attr_string(p, "algorithm", "wolff");
    kd_dataset *back = NULL;
    kd_status s = kd_dataset_read(p, &back);
    kd_test(s == KD_OK && back && !strcmp(back->algorithm, "wolff"),
            "fixed-length string attribute reads (%s)", kd_last_error());
    kd_dataset_free(back);

    p = damaged_copy(good, "long_alg.h5");
    set_attr_string(p, "algorithm", "an algorithm name far longer than thirty-one bytes");
    expect_read_error(p, KD_ERR_FORMAT, -1, "expected at most 31", "overlong algorithm name");

    /* 16 GiB declared, nothing stored: refused before any allocation. */
    p = damaged_copy(good, "huge.h5");
    {
        hid_t hf = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
        H5Ldelete(hf, "/spins", H5P_DEFAULT);
        hsize_t big[3] = {(hsize_t)1 << 30, 4, 4}, chunk[3] = {1024, 4, 4};
        hid_t sp = H5Screate_simple(3, big, NULL);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(dcpl, 3, chunk);
        hid_t ds = H5Dcreate2(hf, "/spins", H5T_STD_I8LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        H5Dclose(ds);
        H5Pclose(dcpl);
        H5Sclose(sp);
        H5Fclose(hf);
    }
    expect_read_error(p, KD_ERR_FORMAT, -1, "stores only", "2^30 configurations declared, none stored");

    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    kd_dataset_free(d);
}

/* ---- atomic writes ----------------------------------------------------------------- */

static int count_temp_files(const char *dir)
{
    DIR *dp = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!dp)
        return -1;
    while ((e = readdir(dp)) != NULL)
        if (strstr(e->d_name, ".tmp."))
            n++;
    closedir(dp);
    return n;
}

static int file_equals_dataset(const char *path, const kd_dataset *want)
{
    kd_dataset *got = NULL;
    size_t N = kd_lattice_size(&want->lattice);
    int ok = kd_dataset_read(path, &got) == KD_OK && got->n == want->n &&
             !memcmp(got->spins, want->spins, want->n * N) &&
             !memcmp(got->energy, want->energy, want->n * sizeof(double));
    kd_dataset_free(got);
    return ok;
}

static void test_atomic(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/atomic", tmpdir);
    mkdir(dir, 0777);
    char target[600];
    snprintf(target, sizeof target, "%s/data.h5", dir);
    kd_dataset *old = make_dataset(KD_LATTICE_CHAIN, 8, 4, 2, 5);
    kd_dataset *bad = make_dataset(KD_LATTICE_SQUARE, 4, 3, 2, 3);
    if (!kd_test(old && bad && kd_dataset_write(target, old) == KD_OK, "write the old file")) {
        kd_dataset_free(old);
        kd_dataset_free(bad);
        return;
    }

    /* A dataset that fails validation half-way through writing. */
    bad->spins[17] = 3;
    kd_clear_error();
    kd_status s = kd_dataset_write(target, bad);
    kd_test(s == KD_ERR_INVALID && strstr(kd_last_error(), target),
            "writing spin 3 fails naming the file: %s", kd_last_error());
    kd_test(file_equals_dataset(target, old), "old file intact after a failed write");
    kd_test(count_temp_files(dir) == 0, "no temporary file left after a failed write");

    /* A NaN temperature is refused before anything is created. */
    bad->spins[17] = 1;
    bad->temperature[2] = NAN;
    s = kd_dataset_write(target, bad);
    kd_test(s == KD_ERR_INVALID && strstr(kd_last_error(), "temperature"),
            "NaN temperature refused: %s", kd_last_error());
    kd_test(file_equals_dataset(target, old) && count_temp_files(dir) == 0,
            "old file intact, no temporary file");
    bad->temperature[2] = 1.0;

    /* The rename itself fails: the target is a non-empty directory. */
    char subdir[700], inner[800];
    snprintf(subdir, sizeof subdir, "%s/is_a_dir.h5", dir);
    snprintf(inner, sizeof inner, "%s/keep", subdir);
    mkdir(subdir, 0777);
    fclose(fopen(inner, "w"));
    s = kd_dataset_write(subdir, bad);
    kd_test(s == KD_ERR_IO && strstr(kd_last_error(), subdir),
            "writing over a directory fails with KD_ERR_IO naming it: %s", kd_last_error());
    kd_test(count_temp_files(dir) == 0 && file_size(inner) == 0,
            "directory untouched, no temporary file after a failed rename");

    /* Missing directory. */
    char nowhere[700];
    snprintf(nowhere, sizeof nowhere, "%s/no/such/dir/data.h5", dir);
    s = kd_dataset_write(nowhere, bad);
    kd_test(s == KD_ERR_IO && strstr(kd_last_error(), nowhere) &&
                strstr(kd_last_error(), "No such file"),
            "missing directory: KD_ERR_IO with the reason: %s", kd_last_error());

    /* Unwritable directory (permissions do not bind root). */
    if (geteuid() != 0) {
        chmod(dir, 0555);
        s = kd_dataset_write(target, bad);
        chmod(dir, 0755);
        kd_test(s == KD_ERR_IO && strstr(kd_last_error(), target),
                "read-only directory: KD_ERR_IO naming the file: %s", kd_last_error());
        kd_test(file_equals_dataset(target, old) && count_temp_files(dir) == 0,
                "read-only directory: old file intact, no temporary file");
    } else {
        kd_test_skip("read-only directory case: running as root, permissions are not enforced");
    }

    /* And a successful overwrite really replaces the file. */
    s = kd_dataset_write(target, bad);
    kd_test(s == KD_OK && file_equals_dataset(target, bad) && count_temp_files(dir) == 0,
            "successful overwrite replaces the file (%s)", kd_last_error());
    kd_dataset_free(old);
    kd_dataset_free(bad);
}

/* ---- h5 helper layer ----------------------------------------------------------------- */

static void test_h5_layer(void)
{
    const char *path = tmp_path("layer.h5");
    kd_h5 *f;
    float w[6] = {0.5f, -1.25f, 3, 4, 5, 6};
    int64_t idx[4] = {INT64_MIN, -1, 0, INT64_MAX};
    uint64_t dw[2] = {2, 3}, di[1] = {4};
    kd_status s = kd_h5_create(&f, path, "kadanoff-test", 3);
    if (!kd_test(s == KD_OK, "h5: create (%s)", kd_last_error()))
        return;
    s = kd_h5_write(f, "/layer1/weights", KD_H5_FLOAT32, 2, dw, w, NULL);
    if (s == KD_OK)
        s = kd_h5_write(f, "/index", KD_H5_INT64, 1, di, idx, &(kd_h5_storage){16, 4});
    if (s == KD_OK)
        s = kd_h5_write_attr_double(f, "/layer1/weights", "scale", 0.25);
    if (s == KD_OK)
        s = kd_h5_write_attr_string(f, "/", "note", "");
    kd_test(s == KD_OK, "h5: nested dataset, chunked int64, attributes (%s)", kd_last_error());
    s = kd_h5_commit(f);
    kd_test(s == KD_OK, "h5: commit (%s)", kd_last_error());

    int64_t version = 0;
    s = kd_h5_open_format(&f, path, "kadanoff-test", 3, &version);
    if (!kd_test(s == KD_OK && version == 3, "h5: open with format check (%s)", kd_last_error()))
        return;
    float wr[6];
    int64_t *ir = NULL;
    kd_h5_shape sh;
    double scale = 0;
    char note[8] = "x";
    kd_test(kd_h5_read(f, "/layer1/weights", KD_H5_FLOAT32, 2, dw, wr) == KD_OK &&
                !memcmp(w, wr, sizeof w),
            "h5: float32 2-D array round-trips");
    kd_test(kd_h5_read_alloc(f, "/index", KD_H5_INT64, 1024, &sh, (void **)&ir) == KD_OK &&
                sh.rank == 1 && sh.dims[0] == 4 && !memcmp(ir, idx, sizeof idx),
            "h5: int64 extremes round-trip through read_alloc");
    free(ir);
    kd_test(kd_h5_read_attr_double(f, "/layer1/weights", "scale", &scale) == KD_OK &&
                scale == 0.25,
            "h5: attribute on a nested dataset");
    kd_test(kd_h5_read_attr_string(f, "/", "note", note, sizeof note) == KD_OK && !note[0],
            "h5: empty string attribute");
    s = kd_h5_read(f, "/layer1/weights", KD_H5_FLOAT64, 2, dw, wr);
    kd_test(s == KD_ERR_FORMAT && strstr(kd_last_error(), "float32, expected float64"),
            "h5: type mismatch refused: %s", kd_last_error());
    uint64_t dw2[2] = {3, 2};
    s = kd_h5_read(f, "/layer1/weights", KD_H5_FLOAT32, 2, dw2, wr);
    kd_test(s == KD_ERR_FORMAT && strstr(kd_last_error(), "shape (2, 3), expected (3, 2)"),
            "h5: shape mismatch refused: %s", kd_last_error());
    s = kd_h5_read(f, "/layer2/weights", KD_H5_FLOAT32, 2, dw, wr);
    kd_test(s == KD_ERR_FORMAT && strstr(kd_last_error(), "'/layer2/weights' is missing"),
            "h5: missing dataset under a missing group: %s", kd_last_error());
    s = kd_h5_read(f, "/layer1", KD_H5_FLOAT32, 2, dw, wr);
    kd_test(s == KD_ERR_FORMAT && strstr(kd_last_error(), "is a group"),
            "h5: group where a dataset is expected: %s", kd_last_error());
    s = kd_h5_read_alloc(f, "/index", KD_H5_INT64, 16, &sh, (void **)&ir);
    kd_test(s == KD_ERR_NOMEM && ir == NULL, "h5: read_alloc honours max_bytes: %s",
            kd_last_error());
    kd_test(kd_h5_exists(f, "/layer1/weights") && !kd_h5_exists(f, "/nope/x"),
            "h5: exists on nested paths");
    kd_h5_close(f);

    s = kd_h5_open_format(&f, path, "kadanoff-test", 2, NULL);
    kd_test(s == KD_ERR_FORMAT && f == NULL && strstr(kd_last_error(), "format_version"),
            "h5: newer format version refused: %s", kd_last_error());
}

/* ---- .npy ---------------------------------------------------------------------------- */

/* Parse the NPY 1.0 header of `path`; check alignment, and that the data that
 * follow have the expected length and bytes. */
static void check_npy(const char *path, const char *descr, const char *shape, const void *data,
                      size_t bytes)
{
    FILE *fp = fopen(path, "rb");
    unsigned char pre[10];
    char header[4096];
    if (!kd_test(fp && fread(pre, 1, 10, fp) == 10, "npy %s: readable", path)) {
        if (fp)
            fclose(fp);
        return;
    }
    size_t hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
    kd_test(!memcmp(pre, "\x93NUMPY", 6) && pre[6] == 1 && pre[7] == 0,
            "npy %s: magic and version 1.0", path);
    kd_test((10 + hlen) % 64 == 0, "npy %s: data start at %zu, a multiple of 64", path,
            10 + hlen);
    int ok = hlen < sizeof header && fread(header, 1, hlen, fp) == hlen;
    header[ok ? hlen : 0] = '\0';
    char want[256];
    snprintf(want, sizeof want, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr,
             shape);
    size_t wl = strlen(want);
    int padded = ok && header[hlen - 1] == '\n';
    for (size_t i = wl; padded && i + 1 < hlen; i++)
        padded = header[i] == ' ';
    kd_test(ok && !strncmp(header, want, wl) && padded,
            "npy %s: header is %s padded with spaces and '\\n' (got \"%.*s\")", path, want,
            (int)(ok ? wl : 0), header);
    unsigned char *buf = malloc(bytes + 1);
    size_t got = buf ? fread(buf, 1, bytes + 1, fp) : 0;
    kd_test(got == bytes && same_bytes(buf, data, bytes), "npy %s: %zu data bytes follow (got %zu)",
            path, bytes, got);
    free(buf);
    fclose(fp);
}

static int have_numpy(void)
{
    return access("/usr/bin/python3", X_OK) == 0 &&
           system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

static void test_npy(void)
{
    double a[6] = {0.5, -1.0, KD_TEST_PI, INFINITY, -0.0, 1e-300};
    int8_t s[4] = {1, -1, -1, 1};
    float x = 2.5f;
    int64_t big[3] = {INT64_MIN, 0, INT64_MAX};
    size_t s23[2] = {2, 3}, s4[1] = {4}, s3[1] = {3}, s05[2] = {0, 5};
    const char *pa = tmp_path("a.npy"), *ps = tmp_path("s.npy"), *px = tmp_path("x.npy"),
               *pb = tmp_path("big.npy"), *pe = tmp_path("empty.npy");
    kd_test(kd_npy_write(pa, KD_NPY_FLOAT64, 2, s23, a) == KD_OK &&
                kd_npy_write(ps, KD_NPY_INT8, 1, s4, s) == KD_OK &&
                kd_npy_write(px, KD_NPY_FLOAT32, 0, NULL, &x) == KD_OK &&
                kd_npy_write(pb, KD_NPY_INT64, 1, s3, big) == KD_OK &&
                kd_npy_write(pe, KD_NPY_FLOAT64, 2, s05, NULL) == KD_OK,
            "npy: write five arrays (%s)", kd_last_error());
    check_npy(pa, "<f8", "(2, 3)", a, sizeof a);
    check_npy(ps, "|i1", "(4,)", s, sizeof s);
    check_npy(px, "<f4", "()", &x, sizeof x);
    check_npy(pb, "<i8", "(3,)", big, sizeof big);
    check_npy(pe, "<f8", "(0, 5)", NULL, 0);
    kd_test(count_temp_files(tmpdir) == 0, "npy: no temporary files left");

    char nowhere[600];
    snprintf(nowhere, sizeof nowhere, "%s/missing/a.npy", tmpdir);
    kd_status st = kd_npy_write(nowhere, KD_NPY_FLOAT64, 2, s23, a);
    kd_test(st == KD_ERR_IO && strstr(kd_last_error(), nowhere),
            "npy: missing directory fails naming the file: %s", kd_last_error());
    st = kd_npy_write(tmp_path("bad.npy"), KD_NPY_FLOAT64, 2, s23, NULL);
    kd_test(st == KD_ERR_INVALID, "npy: NULL data for a non-empty array refused");

    if (!have_numpy()) {
        kd_test_skip("numpy.load checks: /usr/bin/python3 with numpy not available");
        return;
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"\n"
             "import numpy as np, math\n"
             "a = np.load('%s'); s = np.load('%s'); x = np.load('%s'); b = np.load('%s')\n"
             "e = np.load('%s')\n"
             "assert a.dtype == np.float64 and a.shape == (2, 3), a\n"
             "assert a[0,0] == 0.5 and a[0,1] == -1 and a[0,2] == math.pi and a[1,0] == math.inf\n"
             "assert math.copysign(1, a[1,1]) < 0 and a[1,2] == 1e-300\n"
             "assert s.dtype == np.int8 and s.tolist() == [1, -1, -1, 1]\n"
             "assert x.dtype == np.float32 and x.shape == () and x == 2.5\n"
             "assert b.dtype == np.int64 and b.tolist() == [-2**63, 0, 2**63 - 1]\n"
             "assert e.shape == (0, 5) and e.dtype == np.float64\n"
             "\"",
             pa, ps, px, pb, pe);
    kd_test(system(cmd) == 0, "npy: numpy.load reads back every array exactly");
}

/* h5py sees named summary columns and str attributes (Python users' view). */
static void test_h5py_view(void)
{
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") != 0) {
        kd_test_skip("h5py view of a dataset file: /usr/bin/python3 with h5py not available");
        return;
    }
    kd_dataset *d = make_dataset(KD_LATTICE_SQUARE, 6, 2, 3, 4);
    const char *path = tmp_path("h5py.h5");
    if (!kd_test(d && kd_dataset_write(path, d) == KD_OK, "write for h5py")) {
        kd_dataset_free(d);
        return;
    }
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"\n"
             "import h5py, numpy as np\n"
             "f = h5py.File('%s', 'r')\n"
             "assert f.attrs['format'] == 'kadanoff-dataset', f.attrs['format']\n"
             "assert f.attrs['lattice'] == 'square' and f.attrs['L'] == 6\n"
             "assert int(f.attrs['seed']) == 2**64 - 6\n"
             "assert f['spins'].shape == (6, 6, 6) and f['spins'].dtype == np.int8\n"
             "assert f['spins'].compression == 'gzip'\n"
             "s = f['summary'][:]\n"
             "assert s['T'][0] == 0 and s['n'].dtype == np.uint64 and s['n'][2] == 4\n"
             "assert f['correlation'].shape == (3, 4)\n"
             "\"",
             path);
    kd_test(system(cmd) == 0, "h5py reads str attributes, gzip spins, named summary columns");
    kd_dataset_free(d);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/kd_test_io_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip("chain.h5", KD_LATTICE_CHAIN, 10, 4, 3);
    test_round_trip("square.h5", KD_LATTICE_SQUARE, 8, 5, 5);
    test_round_trip("square_nosummary.h5", KD_LATTICE_SQUARE, 6, 4, 0);
    test_round_trip("chain_nosummary.h5", KD_LATTICE_CHAIN, 2, 1, 0);
    test_round_trip("no_configurations.h5", KD_LATTICE_SQUARE, 4, 0, 0);
    test_round_trip("square_big.h5", KD_LATTICE_SQUARE, 64, 300, 2); /* several chunks */
    test_bad_files();
    test_atomic();
    test_h5_layer();
    test_npy();
    test_h5py_view();

    char cmd[600];
    snprintf(cmd, sizeof cmd, getenv("KD_TEST_KEEP") ? "true %s" : "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        printf("note: could not remove %s\n", tmpdir);
    return kd_test_done();
}
