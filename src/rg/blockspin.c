/*
 * Kadanoff block spins: majority rule with Philox tie breaking, for single
 * configurations and whole datasets, and the coarse dataset's file with its
 * provenance (see kadanoff/rg.h).
 */
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/atomic.h"
#include "kadanoff/observables.h"
#include "kadanoff/rg.h"
#include "kadanoff/rng.h"

kd_status kd_rg_blockspin_lattice(const kd_lattice *fine, int b, kd_lattice *coarse)
{
    if (!fine || !coarse)
        KD_FAIL(KD_ERR_INVALID, "block spins: lattice and output are required");
    KD_CHECK(kd_lattice_validate(fine));
    if (b < 2)
        KD_FAIL(KD_ERR_INVALID, "block spins: block size b = %d, expected b >= 2", b);
    if (fine->L % b)
        KD_FAIL(KD_ERR_INVALID, "block spins: L = %d is not divisible by the block size b = %d",
                fine->L, b);
    if (fine->L / b < 2)
        KD_FAIL(KD_ERR_INVALID,
                "block spins: L/b = %d/%d = %d, expected at least 2 coarse sites per axis", fine->L,
                b, fine->L / b);
    *coarse = *fine;
    coarse->L = fine->L / b;
    return KD_OK;
}

/* Majority rule for one configuration; ties drawn from r in block order. */
static void block_one(const kd_lattice *fine, const int8_t *s, int b, kd_rng *r, int8_t *out)
{
    const int L = fine->L, Lc = L / b;
    if (fine->kind == KD_LATTICE_CHAIN) {
        for (int X = 0; X < Lc; X++) {
            int sum = 0;
            for (int x = X * b; x < X * b + b; x++)
                sum += s[x];
            out[X] = sum > 0 ? (int8_t)1 : sum < 0 ? (int8_t)-1 : kd_rng_spin(r);
        }
        return;
    }
    for (int Y = 0; Y < Lc; Y++)
        for (int X = 0; X < Lc; X++) {
            int sum = 0;
            for (int y = Y * b; y < Y * b + b; y++)
                for (int x = X * b; x < X * b + b; x++)
                    sum += s[(size_t)y * (size_t)L + (size_t)x];
            out[(size_t)Y * (size_t)Lc + (size_t)X] =
                sum > 0 ? (int8_t)1 : sum < 0 ? (int8_t)-1 : kd_rng_spin(r);
        }
}

kd_status kd_rg_blockspin(const kd_lattice *fine, const int8_t *s, size_t n, int b, uint64_t seed,
                          uint64_t stream, int8_t *out)
{
    kd_lattice coarse;
    KD_CHECK(kd_rg_blockspin_lattice(fine, b, &coarse));
    if (n > 0 && (!s || !out))
        KD_FAIL(KD_ERR_INVALID, "block spins: spins and output are required");
    const size_t N = kd_lattice_size(fine), Nc = kd_lattice_size(&coarse);
    for (size_t k = 0; k < n * N; k++)
        if (s[k] != 1 && s[k] != -1)
            KD_FAIL(KD_ERR_INVALID,
                    "block spins: spin %zu of configuration %zu is %d, expected -1 or +1", k % N,
                    k / N, s[k]);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < (int64_t)n; r++) {
        kd_rng rng;
        kd_rng_init(&rng, seed, stream + (uint64_t)r);
        block_one(fine, s + (size_t)r * N, b, &rng, out + (size_t)r * Nc);
    }
    return KD_OK;
}

/* Temperatures equal as labels (inf == inf). */
static int same_T(double a, double b) { return a == b; }

kd_status kd_rg_blockspin_dataset(const kd_dataset *fine, int b, uint64_t seed, kd_dataset **out)
{
    if (!fine || !out)
        KD_FAIL(KD_ERR_INVALID, "block spins: dataset and output are required");
    *out = NULL;
    if (fine->n > 0 && !fine->spins)
        KD_FAIL(KD_ERR_INVALID, "block spins: the dataset has no spins loaded (metadata only)");
    kd_lattice cl;
    KD_CHECK(kd_rg_blockspin_lattice(&fine->lattice, b, &cl));
    const size_t n = fine->n, Nc = kd_lattice_size(&cl);
    const int nr = kd_ising_correlation_len(&cl);

    /* distinct temperatures in order of first appearance */
    double *temps = malloc((n ? n : 1) * sizeof *temps);
    size_t nt = 0;
    if (!temps)
        KD_FAIL(KD_ERR_NOMEM, "block spins: out of memory");
    for (size_t r = 0; r < n; r++) {
        size_t t = 0;
        while (t < nt && !same_T(temps[t], fine->temperature[r]))
            t++;
        if (t == nt)
            temps[nt++] = fine->temperature[r];
    }
    kd_dataset *d = NULL;
    kd_status s = kd_dataset_new(&d, &cl, n, nt, nr);
    double *e = NULL, *m = NULL, *G = NULL;
    if (s != KD_OK)
        goto fail;
    if ((s = kd_rg_blockspin(&fine->lattice, fine->spins, n, b, seed, 0, d->spins)) != KD_OK)
        goto fail;
    e = malloc((n ? n : 1) * sizeof *e);
    m = malloc((n ? n : 1) * sizeof *m);
    G = malloc((n ? n : 1) * (size_t)nr * sizeof *G);
    if (!e || !m || !G) {
        s = kd_set_error(KD_ERR_NOMEM, "block spins: out of memory for %zu configurations", n);
        goto fail;
    }
    for (size_t r = 0; r < n; r++) {
        const int8_t *c = d->spins + r * Nc;
        d->temperature[r] = fine->temperature[r];
        d->energy[r] = kd_ising_energy(&cl, c);
        d->magnetization[r] = kd_ising_magnetization(&cl, c);
    }
    /* per-temperature summary on the coarse lattice */
    for (size_t t = 0; t < nt; t++) {
        size_t k = 0;
        for (size_t r = 0; r < n; r++)
            if (same_T(fine->temperature[r], temps[t])) {
                e[k] = d->energy[r];
                m[k] = d->magnetization[r];
                kd_ising_correlation(&cl, d->spins + r * Nc, G + k * (size_t)nr);
                k++;
            }
        kd_temp_summary *sm = &d->summary[t];
        s = kd_observables_summarize(&cl, temps[t], e, m, G, k, nr, sm,
                                     d->correlation + t * (size_t)nr,
                                     d->correlation_err + t * (size_t)nr);
        if (s != KD_OK)
            goto fail;
        sm->burn_in = sm->interval = sm->tau_e = sm->acceptance = NAN;
        for (size_t q = 0; q < fine->ntemps; q++)
            if (same_T(fine->summary[q].T, temps[t])) {
                sm->burn_in = fine->summary[q].burn_in;
                sm->interval = fine->summary[q].interval;
                sm->tau_e = fine->summary[q].tau_e;
                sm->acceptance = fine->summary[q].acceptance;
                break;
            }
    }
    memcpy(d->algorithm, fine->algorithm, sizeof d->algorithm);
    d->seed = fine->seed;
    memcpy(d->burn_in, fine->burn_in, sizeof d->burn_in);
    memcpy(d->interval, fine->interval, sizeof d->interval);
    d->samples_per_temperature = fine->samples_per_temperature;
    d->symmetrize = fine->symmetrize;
    memcpy(d->command, fine->command, sizeof d->command);
    memcpy(d->kadanoff_version, fine->kadanoff_version, sizeof d->kadanoff_version);
    free(temps);
    free(e);
    free(m);
    free(G);
    *out = d;
    return KD_OK;
fail:
    free(temps);
    free(e);
    free(m);
    free(G);
    kd_dataset_free(d);
    return s;
}

/* ---- writing with provenance ---------------------------------------------------- */

/* One scalar root attribute, written with HDF5 directly (the dataset writer
 * has no hook for extra attributes): strings as variable-length UTF-8 like
 * every kadanoff string attribute. */
static int put_attr(hid_t file, const char *name, hid_t ftype, hid_t mtype, const void *value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = space < 0 ? -1
                        : H5Acreate_by_name(file, "/", name, ftype, space, H5P_DEFAULT,
                                            H5P_DEFAULT, H5P_DEFAULT);
    int ok = a >= 0 && H5Awrite(a, mtype, value) >= 0;
    if (a >= 0)
        H5Aclose(a);
    if (space >= 0)
        H5Sclose(space);
    return ok;
}

static int put_string(hid_t file, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return 0;
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    const char *v = value ? value : "";
    int ok = put_attr(file, name, t, t, &v);
    H5Tclose(t);
    return ok;
}

static int put_provenance(hid_t file, const kd_rg_blockspin_provenance *p)
{
    int64_t b = p->b, L = p->source_L;
    return put_attr(file, "blockspin_b", H5T_STD_I64LE, H5T_NATIVE_INT64, &b) &&
           put_attr(file, "blockspin_seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, &p->seed) &&
           put_string(file, "blockspin_rule", "majority, random ties") &&
           put_attr(file, "source_L", H5T_STD_I64LE, H5T_NATIVE_INT64, &L) &&
           put_string(file, "source_file", p->source_file) &&
           put_string(file, "source_command", p->source_command) &&
           put_string(file, "source_kadanoff_version", p->source_kadanoff_version);
}

kd_status kd_rg_blockspin_write(const char *path, const kd_dataset *coarse,
                                const kd_rg_blockspin_provenance *prov)
{
    if (!path || !*path || !coarse || !prov)
        KD_FAIL(KD_ERR_INVALID, "block spins: output path, dataset and provenance are required");
    if (prov->b < 2 || prov->source_L != coarse->lattice.L * prov->b)
        KD_FAIL(KD_ERR_INVALID,
                "%s: provenance says b = %d and source L = %d, but the coarse lattice has L = %d "
                "(expected source L = b·L)",
                path, prov->b, prov->source_L, coarse->lattice.L);
    /* The dataset is written completely (atomically) under our temporary
     * name, the attributes are added there, and only then is it renamed over
     * path: a failure at any point leaves nothing under path. */
    kd_atomic a;
    KD_CHECK(kd_atomic_begin(&a, path));
    kd_status s = kd_dataset_write(a.tmp, coarse);
    if (s != KD_OK) {
        kd_atomic_abort(&a);
        return s;
    }
    H5E_auto2_t efunc;
    void *edata;
    H5Eget_auto2(H5E_DEFAULT, &efunc, &edata);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t file = H5Fopen(a.tmp, H5F_ACC_RDWR, H5P_DEFAULT);
    int ok = file >= 0 && put_provenance(file, prov);
    if (file >= 0 && H5Fclose(file) < 0)
        ok = 0;
    H5Eset_auto2(H5E_DEFAULT, efunc, edata);
    if (!ok) {
        kd_atomic_abort(&a);
        KD_FAIL(KD_ERR_IO, "%s: cannot add the block-spin provenance attributes; nothing written",
                path);
    }
    return kd_atomic_commit(&a);
}
