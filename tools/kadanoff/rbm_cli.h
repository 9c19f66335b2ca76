/*
 * Pieces shared by the RBM commands (train-rbm, train-dbn, evaluate,
 * generate): training hyperparameter options, dataset loading with
 * temperature selection, the lattice check against a model, the per-epoch
 * training loop with its progress table, checkpoints, NaN and SIGINT handling.
 */
#ifndef KD_RBM_CLI_H
#define KD_RBM_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "kadanoff/rbm_file.h"

/* ---- training hyperparameter options ---------------------------------------- */

/* getopt_long ids of the shared training options (>= 1000). */
enum {
    RO_CD = 1000, RO_PCD, RO_EPOCHS, RO_BATCH, RO_LR, RO_LR_SCHEDULE, RO_MOMENTUM, RO_ADAM,
    RO_ADAM_BETA1, RO_ADAM_BETA2, RO_ADAM_EPS, RO_L1, RO_L2, RO_INIT_SIGMA, RO_INIT, RO_VAL,
    RO_NO_SHUFFLE, RO_MONITOR_EVERY, RO_MONITOR_SAMPLES, RO_EXACT_MAX, RO_PLL_UNITS,
    RO_AIS_EVERY, RO_AIS_RUNS, RO_AIS_STEPS, RO_NO_BIAS, RO_NO_VISIBLE_BIAS, RO_NO_HIDDEN_BIAS,
    RO_END
};
#define RO_COUNT (RO_END - RO_CD)

/* The option entries above, to be copied into a command's option table. */
extern const struct option rbmcli_train_options[];
extern const size_t rbmcli_ntrain_options;

/* The text of every training option as given (last occurrence), by id - RO_CD;
 * flags are "1". NULL: not given. */
typedef struct {
    const char *value[RO_COUNT];
} rbmcli_raw;

/* If id is a training option, store its value and return 1; else 0. */
int rbmcli_raw_store(rbmcli_raw *raw, int id, const char *arg);

/* Hyperparameters of one RBM layer as set by the options. */
typedef struct {
    kd_rbm_train_options train;
    kd_rbm_init init;
    double init_sigma;
    unsigned flags; /* KD_RBM_NO_*_BIAS */
    int ais_every, ais_runs, ais_steps;
} rbmcli_layer;

/* Defaults (CD-1, 100 epochs, batch 100, lr 0.01, momentum 0.5, σ 0.01,
 * AIS off with 100 runs × 1000 steps when enabled). */
void rbmcli_layer_defaults(rbmcli_layer *layer);

/* Apply the given options to `nlayers` layers. Each value may be a comma list
 * of 1 value (all layers) or `nlayers` values (one per layer); with
 * nlayers = 1 lists are refused. Returns CLI_OK or CLI_USAGE (message printed). */
int rbmcli_raw_apply(const char *cmd, const rbmcli_raw *raw, rbmcli_layer *layers, int nlayers);

/* The name ("--lr") of the first given option among all training options
 * except those listed in `allowed` (ids, terminated by 0), or NULL. */
const char *rbmcli_raw_first_given(const rbmcli_raw *raw, const int *allowed);

/* Help text of the training options (for --help), indented like the others.
 * per_layer: mention comma lists. */
void rbmcli_train_help(FILE *f, int per_layer);

/* ---- several processes (the MPI build, docs/cluster.md) ------------------------ */

/* getopt_long ids of --reduction fast|deterministic and --reduction-block N
 * (train-rbm, train-dbn, train-thermometer: rbmcli_option_table). */
enum { RBMCLI_O_REDUCTION = 2000, RBMCLI_O_REDUCTION_BLOCK };

typedef struct {
    int deterministic;
    long block;
    kd_rbm_split split;
} rbmcli_reduction;

/* Defaults: fast, blocks of 16 rows. */
void rbmcli_reduction_init(rbmcli_reduction *r);
/* Handle option id c if it is one of the two: CLI_OK or CLI_USAGE (printed);
 * CLI_CONTINUE if c is another option. */
int rbmcli_reduction_option(const char *cmd, int c, const char *arg, rbmcli_reduction *r);
/* Help text of the two options. */
void rbmcli_reduction_help(FILE *f);
/* The split to train with: r->split filled for this process and the chosen
 * reduction; NULL for one process in fast mode (the unsplit trainer). Shared
 * by train-rbm, train-dbn and train-thermometer. */
const kd_data_split *rbmcli_reduction_split(rbmcli_reduction *r);
/* Set topt->split for several processes (or the deterministic reduction on
 * one); on ranks other than 0, which print nothing, switch off the monitors
 * and rec's AIS estimates. r must outlive the trainer. */
void rbmcli_reduction_apply(rbmcli_reduction *r, kd_rbm_train_options *topt, kd_rbm_record *rec);

/* ---- the option table of a training command ------------------------------------ */

/* getopt_long id of --resume in the table below. */
enum { RBMCLI_O_RESUME = 2100 };

/* out = the command's own entries own[0..nown) (without the {0} end), then the
 * training options if `train` (train-rbm, train-dbn), then the entries every
 * training command has (--reduction, --reduction-block, --resume as
 * RBMCLI_O_RESUME, --threads as CLI_OPT_THREADS, -o/--output, -q/--quiet,
 * -v/--verbose, -h/--help), then the {0} end: at most nown +
 * RBMCLI_MAX_SHARED_OPTIONS entries. out has room for `cap` entries (the
 * program stops if that is too few: a mistake in the command's code). */
#define RBMCLI_MAX_SHARED_OPTIONS 48
void rbmcli_option_table(struct option *out, size_t cap, const struct option *own, size_t nown,
                         int train);

/* Handle option id c if it is one of the table's shared entries: a training
 * option (stored in raw; raw NULL: not in the table) or --reduction(-block).
 * CLI_OK or CLI_USAGE (message printed); CLI_CONTINUE if c is the command's own. */
int rbmcli_shared_option(const char *cmd, int c, const char *arg, rbmcli_raw *raw,
                         rbmcli_reduction *r);

/* ---- data ---------------------------------------------------------------------- */

/* A dataset with the rows chosen by --temps / --exclude. */
typedef struct {
    const char *path;
    kd_dataset *d;
    size_t *rows;         /* selected rows, ascending (all rows when nothing excluded) */
    size_t n;
    double *temps;        /* distinct temperatures of the selected rows, ascending */
    size_t ntemps;
} rbmcli_data;

/* Check the syntax of a temperature list option (NULL/"" accepted). CLI_USAGE if bad. */
int rbmcli_check_temps(const char *cmd, const char *opt, const char *text);

/* Read `path` and select rows. CLI_OK, or CLI_FAILURE with a message (file
 * unreadable, a --temps temperature absent, nothing left). */
int rbmcli_data_load(const char *cmd, const char *path, const char *temps, const char *exclude,
                     rbmcli_data *out);
void rbmcli_data_free(rbmcli_data *data);

/* kd_rbm_data of the selection (spins, borrowed). */
kd_rbm_data rbmcli_data_view(const rbmcli_data *data);

/* The data's lattice must have the model's kind and size: CLI_FAILURE with a
 * message naming both files otherwise. Other differences (J, field,
 * boundary) give a warning. */
int rbmcli_check_lattice(const char *cmd, const char *data_path, const kd_lattice *data_lat,
                         const char *model_path, const kd_lattice *model_lat);

/* Fill a source record from the selection (strings copied; temperatures
 * borrowed). command: the command line, joined before getopt permutes argv. */
void rbmcli_source(kd_rbm_source *src, const rbmcli_data *data, const char *temps,
                   const char *exclude, const char *command);

/* ---- training loop --------------------------------------------------------------- */

/* SIGINT/SIGTERM for training: the first one is only recorded (the current
 * epoch is finished and a checkpoint written), a second one exits at once. */
void rbmcli_install_signals(void);
/* Put back the handlers found by rbmcli_install_signals (the commands may run
 * in-process as steps of a larger job, see cli_run). */
void rbmcli_restore_signals(void);
int rbmcli_signal(void); /* 0, SIGINT or SIGTERM (since the last install) */

typedef struct {
    const char *cmd;
    const char *label;        /* row prefix ("layer 1"), or NULL */
    kd_rbm_trainer *trainer;
    kd_rbm_record *record;    /* its model is the trainer's; AIS estimates go here */
    uint64_t total;           /* train until this many epochs are done */
    uint64_t checkpoint_every; /* also checkpoint every this many epochs (0: never) */
    int baseline;             /* print the monitors before the first epoch */
    int (*checkpoint)(void *user); /* writes the file; CLI_OK or CLI_FAILURE (printed) */
    void *user;
} rbmcli_run;

/* kd_progress_fn for the trainer: draws the bar, never cancels (a signal
 * lets the epoch finish; rbmcli_train stops after it). */
int rbmcli_epoch_progress(double fraction, const char *label, void *user);

enum { RUN_DONE = 0, RUN_INTERRUPTED, RUN_DIVERGED, RUN_FAILED };

/* Train, printing one table row per epoch to stdout unless quiet. On NaN/Inf
 * (RUN_DIVERGED) the error is printed with a hint to lower the learning rate;
 * the trainer then holds the last good state. On a signal (RUN_INTERRUPTED)
 * the current epoch is completed first. RUN_FAILED: another error, printed.
 * The record is updated from the trainer (kd_rbm_record_set_training) before
 * every checkpoint and before returning. */
int rbmcli_train(rbmcli_run *run);

/* Append " ; resumed: <now>" to a recorded command line (truncating). */
void rbmcli_append_command(char *buf, size_t size, const char *now);

/* 1 if two sets of training options give the same training (every stored
 * field equal; progress callbacks ignored), else 0. */
int rbmcli_same_training(const kd_rbm_train_options *a, const kd_rbm_train_options *b);

/* "12.345" or "-" for NaN, right-aligned in `width`. */
const char *rbmcli_num(char *buf, size_t size, double x, int width, int precision);

#endif
