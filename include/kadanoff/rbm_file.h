/*
 * kadanoff/rbm_file.h — RBM and deep-belief-network model files (HDF5;
 * layouts "kadanoff-rbm" and "kadanoff-dbn" in docs/formats.md).
 *
 * A model file holds the parameters of one RBM (or a stack of them), where
 * its training data came from (kd_rbm_source), and, for trained models, every
 * hyperparameter, the per-epoch history and the trainer state that
 * kd_rbm_trainer_set_state needs to continue training bit-exactly.
 *
 * Writes are atomic (temporary file beside the target, renamed over it): an
 * interrupted or failed write never leaves a partial file under the requested
 * name and never destroys an older one. Readers validate everything they
 * return (shapes consistent with nv/nh and the lattice, finite parameters,
 * known unit and method names, hyperparameters in range, state arrays present
 * exactly when the optimiser and method need them) and fail with
 * KD_ERR_FORMAT (KD_ERR_IO if the file cannot be opened) with a message that
 * names the file, the object and what was expected.
 */
#ifndef KADANOFF_RBM_FILE_H
#define KADANOFF_RBM_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "kadanoff/core.h"
#include "kadanoff/ising.h"
#include "kadanoff/rbm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KD_RBM_FORMAT "kadanoff-rbm"
#define KD_RBM_FORMAT_VERSION 1
#define KD_DBN_FORMAT "kadanoff-dbn"
#define KD_DBN_FORMAT_VERSION 1

/* Weight initialisation of a training run (recorded, and used by the CLI). */
typedef enum {
    KD_RBM_INIT_GAUSSIAN = 0, /* W ~ N(0, σ²), kd_rbm_init_gaussian */
    KD_RBM_INIT_ZERO = 1      /* W = 0 */
} kd_rbm_init;

/* "gaussian" / "zero"; the parser returns KD_ERR_INVALID for anything else. */
const char *kd_rbm_init_name(kd_rbm_init init);
kd_status kd_rbm_init_parse(const char *name, kd_rbm_init *out);

/* Names used in files and on the command line: "cd"/"pcd", "sgd"/"adam",
 * "constant"/"linear"/"exponential", "mean"/"sample". Parsers return
 * KD_ERR_INVALID for anything else. */
const char *kd_rbm_method_name(kd_rbm_method m);
kd_status kd_rbm_method_parse(const char *name, kd_rbm_method *out);
const char *kd_rbm_optimizer_name(kd_rbm_optimizer o);
kd_status kd_rbm_optimizer_parse(const char *name, kd_rbm_optimizer *out);
const char *kd_rbm_schedule_name(kd_rbm_schedule s);
kd_status kd_rbm_schedule_parse(const char *name, kd_rbm_schedule *out);
const char *kd_rbm_mode_name(kd_rbm_mode m);
kd_status kd_rbm_mode_parse(const char *name, kd_rbm_mode *out);

/* An AIS estimate made while training (monitoring only; it never changes the
 * training). loglik = -⟨F(v)⟩ - log_z over the monitored rows. */
typedef struct {
    uint64_t epoch; /* 1-based epoch after which it was made */
    double log_z, log_z_err;
    double loglik, loglik_valid; /* NAN when not available */
} kd_rbm_ais_stats;

/* Where the training data came from (root attributes of both formats). */
typedef struct {
    kd_lattice lattice;   /* lattice of the training configurations: the first
                             visible layer has kd_lattice_size(&lattice) units */
    char data[1024];      /* dataset file ("" if unknown) */
    char temps[1024];     /* temperature selection as given ("" = all) */
    char exclude[1024];   /* excluded temperatures as given ("" = none) */
    uint64_t rows;        /* configurations selected for training */
    size_t ntemperatures; /* distinct temperatures of the selected rows */
    double *temperatures; /* ascending; see ownership at kd_rbm_file */
    char command[4096];   /* command line that produced the file ("" if unknown) */
    char kadanoff_version[32]; /* filled on read (written from kd_version()) */
} kd_rbm_source;

/* One RBM with the record of its training: the content of a "kadanoff-rbm"
 * file besides its source, and of each layer of a "kadanoff-dbn" file.
 * Everything is owned by the record (kd_rbm_record_free). */
typedef struct {
    kd_rbm *rbm;

    /* trained = 0: a bare model (e.g. built from an exact mapping); every
     * field below is then ignored by the writer and zero after reading. */
    int trained;
    kd_rbm_train_options train; /* progress fields are never stored (NULL) */
    kd_rbm_init init;
    double init_sigma;
    int ais_every, ais_runs, ais_steps; /* AIS monitoring while training (0: off) */

    /* the trainer state (kd_rbm_trainer_state), copied */
    uint64_t epochs_done, updates;
    float *velocity;      /* kd_rbm_nparams() values, layout [W | a | b] */
    float *second_moment; /* likewise, Adam only (else NULL) */
    size_t nchains;       /* PCD: train.batch chains (else 0) */
    float *chains;        /* nchains × nv visible unit values (PCD only) */
    size_t nhistory;      /* = epochs_done */
    kd_rbm_epoch_stats *history;
    size_t nais;
    kd_rbm_ais_stats *ais;
} kd_rbm_record;

/* A record for `rbm`, whose ownership passes to the record on success (on
 * failure the caller keeps it). trained = 0, options at their defaults. */
kd_status kd_rbm_record_new(kd_rbm_record **out, kd_rbm *rbm);
/* Frees the model and every array; NULL: nothing. */
void kd_rbm_record_free(kd_rbm_record *rec);

/* Copy a trainer's options (progress fields cleared) and state into the
 * record and set trained = 1. The record's model must be the trainer's model
 * or have its shape; its parameters are not touched. Arrays are replaced. */
kd_status kd_rbm_record_set_training(kd_rbm_record *rec, const kd_rbm_trainer *t);

/* The record's state as a view for kd_rbm_trainer_set_state (pointers into
 * the record, valid while it lives and is not changed). */
void kd_rbm_record_state(const kd_rbm_record *rec, kd_rbm_trainer_state *st);

/* Append an AIS estimate to the record. */
kd_status kd_rbm_record_add_ais(kd_rbm_record *rec, const kd_rbm_ais_stats *a);

/* A "kadanoff-rbm" file. source.temperatures and model are owned by the file
 * object when it comes from kd_rbm_file_read (kd_rbm_file_free releases
 * them); a caller that fills one to write it keeps ownership of its arrays. */
typedef struct {
    kd_rbm_source source;
    kd_rbm_record *model;
} kd_rbm_file;

/* A "kadanoff-dbn" file: layers[l] is RBM l (0-based; layer 0 sees the data).
 * Level l + 1 of the network is the hidden layer of layers[l]; the training
 * data of layer l + 1 were the up pass of the data through layers 0..l in
 * mode `propagate` (conditional means or samples), with Philox seed `seed`
 * (kd_dbn_up, stream KD_DBN_PROPAGATE_STREAM). Ownership as for kd_rbm_file. */
typedef struct {
    kd_rbm_source source;
    kd_rbm_mode propagate;
    uint64_t seed;
    int depth;
    kd_rbm_record **layers;
} kd_dbn_file;

/* Stream of the up pass that produces the training data of DBN layers >= 1
 * (tag 9 in the rbm.h stream convention). */
#define KD_DBN_PROPAGATE_STREAM ((uint64_t)9 << 56)

/* Write atomically. Checks before writing: the record's model passes
 * kd_rbm_validate, the first visible layer has as many units as the lattice
 * has sites, a trained record's arrays match its options (second moments for
 * Adam, batch chains for PCD, epochs_done history entries), DBN layers chain
 * (visible units of layer l+1 = hidden units of layer l, same unit type).
 * KD_ERR_INVALID for those, KD_ERR_IO for the file; an existing file at path
 * is left untouched on any failure. */
kd_status kd_rbm_file_write(const char *path, const kd_rbm_file *file);
kd_status kd_dbn_file_write(const char *path, const kd_dbn_file *file);

/* Read and validate (see the top of this header). */
kd_status kd_rbm_file_read(const char *path, kd_rbm_file **out);
kd_status kd_dbn_file_read(const char *path, kd_dbn_file **out);

/* Read a model file of either format: exactly one of *rbm, *dbn is set. A
 * file of another format fails with KD_ERR_FORMAT naming what was found. */
kd_status kd_model_file_read(const char *path, kd_rbm_file **rbm, kd_dbn_file **dbn);

void kd_rbm_file_free(kd_rbm_file *f); /* NULL: nothing */
void kd_dbn_file_free(kd_dbn_file *f); /* NULL: nothing */

/* A kd_dbn of copies of the file's layers (for kd_dbn_up/down/...). */
kd_status kd_dbn_file_network(const kd_dbn_file *f, kd_dbn **out);

#ifdef __cplusplus
}
#endif
#endif
