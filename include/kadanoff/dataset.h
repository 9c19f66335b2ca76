/*
 * kadanoff/dataset.h — labelled spin datasets in HDF5 (layout: docs/formats.md).
 *
 *   /spins          int8  (n, L) or (n, L, L), values ±1, chunked + deflate
 *   /temperature    float64 (n)       T of each configuration (inf allowed;
 *                                     KD_TEMPERATURE_UNKNOWN for model samples)
 *   /energy         float64 (n)       H/N
 *   /magnetization  float64 (n)       Σs/N
 *   /summary        compound table, one row per temperature (kd_temp_summary)
 *   /correlation    float64 (ntemps, nr) G(r); /correlation_err likewise
 *   root attributes: format = "kadanoff-dataset", format_version, kadanoff_version,
 *   lattice, L, J, field, boundary, algorithm, seed, burn_in, interval,
 *   samples_per_temperature, symmetrize, command.
 *
 * Writes are atomic: the file is written to a temporary name beside the target,
 * flushed and renamed over it, so an interrupted write never leaves a partial
 * file under the requested name and never destroys an older one.
 */
#ifndef KADANOFF_DATASET_H
#define KADANOFF_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "kadanoff/core.h"
#include "kadanoff/ising.h"
#include "kadanoff/observables.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KD_DATASET_FORMAT "kadanoff-dataset"
#define KD_DATASET_FORMAT_VERSION 1

/* Temperature label of configurations drawn from a trained model rather than
 * at a temperature: allowed only when `algorithm` is "rbm-gibbs" or
 * "dbn-gibbs" (kadanoff generate). */
#define KD_TEMPERATURE_UNKNOWN (-1.0)

typedef struct {
    kd_lattice lattice;
    size_t n;              /* configurations */
    int8_t *spins;         /* n × N */
    double *temperature;   /* n */
    double *energy;        /* n */
    double *magnetization; /* n */

    size_t ntemps;              /* rows of the summary (0: no summary) */
    kd_temp_summary *summary;   /* ntemps */
    int nr;                     /* distances in the correlation table */
    double *correlation;        /* ntemps × nr */
    double *correlation_err;    /* ntemps × nr */

    /* provenance */
    char algorithm[32];
    uint64_t seed;
    char burn_in[32];      /* as requested: "auto" or a number of sweeps */
    char interval[32];     /* as requested: "auto" or a number of sweeps */
    size_t samples_per_temperature;
    int symmetrize;
    char command[1024];    /* command line that produced it ("" if unknown) */
    char kadanoff_version[32]; /* filled on read; written from kd_version() */
} kd_dataset;

/* Allocate a dataset with n configurations and ntemps summary rows of nr
 * distances (arrays zeroed). Free with kd_dataset_free. */
kd_status kd_dataset_new(kd_dataset **out, const kd_lattice *lat, size_t n, size_t ntemps,
                         int nr);
void kd_dataset_free(kd_dataset *d);

/* Write atomically (see above). Fails with KD_ERR_INVALID (spins not ±1, a
 * temperature not >= 0 or +inf, a bad lattice) or KD_ERR_IO, naming the path;
 * either way an existing file at path is left untouched. */
kd_status kd_dataset_write(const char *path, const kd_dataset *d);

/* Read and validate: format tag, version, ranks, shapes, dtypes, spins ±1,
 * temperatures >= 0 or inf, consistent n everywhere. Errors name the file,
 * the object and what was expected. */
kd_status kd_dataset_read(const char *path, kd_dataset **out);

#ifdef __cplusplus
}
#endif
#endif
