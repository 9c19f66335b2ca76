/*
 * Shared pieces of the kadanoff command-line tool: the command table, option
 * parsing with range checks, error reporting with the documented exit codes
 * (0 success, 1 failure, 2 usage error), logging and the progress bar.
 */
#ifndef KD_CLI_H
#define KD_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kadanoff/kadanoff.h"

enum { CLI_OK = 0, CLI_FAILURE = 1, CLI_USAGE = 2, CLI_CONTINUE = -1 };

typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
} cli_command;

/* The command of that name in the table (main.c), or NULL. */
const cli_command *cli_find_command(const char *name);

/* Run `kadanoff ARGS...` in this process (args[0] is the command name, NULL-
 * terminated list), as a step of a larger job such as `reproduce`. Returns the
 * command's exit status; *seconds (may be NULL) receives its wall time. The
 * quiet/verbose flags are restored afterwards. */
int cli_run(double *seconds, char *const *args);

/* Set by the common options -q/--quiet and --verbose of every command. */
extern int cli_quiet;
extern int cli_verbose;

/* Print "kadanoff CMD: message" and a hint to stderr; return CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Print "kadanoff CMD: error: message" to stderr; return CLI_FAILURE. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The message of the last cli_fail (without the "kadanoff CMD: error: "
 * prefix; "" if none, truncated to 4095 bytes), e.g. to forward it to the
 * rank that reports for an MPI job. */
const char *cli_last_failure(void);
/* Report a failed library call with its detailed message; return CLI_FAILURE. */
int cli_fail_status(const char *cmd, kd_status status);

/* getopt_long id of --threads N (1 to 1024: the library's thread count), for
 * the option tables of the commands that take it; cli_next_option handles it. */
enum { CLI_OPT_THREADS = 900 };

/* The option loop of a command: getopt_long(argc, argv, optstring, opts) with
 * the options the commands share handled here: -q, -v, -h and getopt's errors
 * (optstring starts with ':' and ends with the command's share of "qvh") and
 * --threads (CLI_OPT_THREADS). Set optind = 1 and
 * *status = CLI_OK before the first call; *status is then the result of
 * handling the previous option (the caller sets it to CLI_USAGE or another exit
 * status to refuse one). Returns the next of the command's own options, with
 * *status = CLI_OK; CLI_OPTIONS_END when the options are over; or
 * CLI_OPTIONS_STOP when the command must return *status at once (0 after
 * --help, the refusal, or 2 after an unknown option or a missing value). Use:
 *
 *     int c, rc = CLI_OK;
 *     optind = 1;
 *     while ((c = cli_next_option(cmd, argc, argv, ":o:qvh", opts, usage, &rc)) > 0) {
 *         switch (c) { ... each case may set rc ... }
 *     }
 *     if (c == CLI_OPTIONS_STOP || (rc = cli_operands(...)) != CLI_OK)
 *         return rc;
 */
enum { CLI_OPTIONS_END = -1, CLI_OPTIONS_STOP = -2 };
int cli_next_option(const char *cmd, int argc, char **argv, const char *optstring,
                    const struct option *opts, void (*usage)(FILE *), int *status);

/* Check the number of operands left after the options (argv[optind..]): at
 * least min ("kadanoff CMD: <missing>" otherwise) and at most max
 * ("unexpected argument '...'" naming the first extra one). CLI_OK or
 * CLI_USAGE (message printed). */
int cli_operands(const char *cmd, int argc, char **argv, int min, int max, const char *missing);

/* Range-checked numeric options; on error print a usage message and return
 * CLI_USAGE, else CLI_OK. `opt` is the option's name for the message. */
int cli_parse_long(const char *cmd, const char *opt, const char *arg, long min, long max,
                   long *out);
int cli_parse_double(const char *cmd, const char *opt, const char *arg, double min,
                     double max, double *out);
int cli_parse_u64(const char *cmd, const char *opt, const char *arg, uint64_t *out);

/* Install the log handler (errors always; warnings unless quiet; info only
 * when verbose) and remember the quiet flag for the progress bar. */
void cli_setup_logging(void);

/* kd_progress_fn drawing a one-line bar on stderr when stderr is a terminal and
 * not quiet; silent otherwise. `user` is unused. */
int cli_progress(double fraction, const char *label, void *user);
/* Clear the progress line (if one was drawn). */
void cli_progress_end(void);

/* Check that FILE can be created (a probe file beside it is created and
 * removed). Prints an error and returns CLI_FAILURE if not. */
int cli_check_writable(const char *cmd, const char *path);

/* SIGINT/SIGTERM: the first one sets a flag that cli_progress returns, so the
 * library stops at the end of its current unit (the command then saves a
 * checkpoint, or writes nothing); a second one exits at once. */
void cli_install_interrupt_handler(void);
int cli_interrupted(void);
/* "SIGINT" or "SIGTERM", and the matching exit status 130 or 143. */
const char *cli_interrupt_name(void);
int cli_interrupt_status(void);
/* Report the interruption; returns 130 (SIGINT) or 143 (SIGTERM). */
int cli_interrupt_exit(const char *cmd);
/* Report an interruption that came before the first `unit` ("a flow step")
 * was complete, so nothing new is saved: the previous checkpoint (if
 * had_checkpoint) is unchanged. Returns 130 or 143. */
int cli_interrupt_nothing_saved(const char *cmd, const char *unit, int had_checkpoint);

/* FNV-1a hash of n bytes, continuing from h (start with CLI_HASH_INIT): a
 * fingerprint of the inputs a checkpoint was made from. */
#define CLI_HASH_INIT UINT64_C(0xcbf29ce484222325)
uint64_t cli_hash(uint64_t h, const void *data, size_t n);

/* The command line as one string, for provenance attributes. */
void cli_join_args(int argc, char **argv, char *buf, size_t size);

/* Subcommands (one file each). */
int cmd_sample(int argc, char **argv);
int cmd_exact(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_train_rbm(int argc, char **argv);
int cmd_train_dbn(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_train_thermometer(int argc, char **argv);
int cmd_measure(int argc, char **argv);
int cmd_flow(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_decimate(int argc, char **argv);
int cmd_blockspin(int argc, char **argv);
int cmd_reproduce(int argc, char **argv);
int cmd_demo(int argc, char **argv);

#endif
