/*
 * A "job": a sequence of kadanoff commands run in this process (cli_run), each
 * recorded with its wall time, so that a reproduction's report can show the
 * exact commands that produced every file, and DIR/commands.sh reruns them.
 */
#ifndef KD_JOB_H
#define KD_JOB_H

#include <stdio.h>

#include "cli.h"
#include "kadanoff/report.h"

#define JOB_MAX_STAGES 128

typedef struct {
    char name[64];
    double seconds;
    int skipped;        /* --resume: completed by an earlier run */
    char command[2048]; /* shell-quoted */
} job_stage;

typedef struct {
    char dir[2048];
    FILE *script;            /* DIR/commands.sh.tmp while running */
    int nstages;
    job_stage stages[JOB_MAX_STAGES];
    char pool[65536];        /* strings made by job_fmt / job_path */
    size_t used;
} job;

/* Resuming (kadanoff reproduce --resume): every stage completed earlier is
 * skipped. A stage is complete when its exact command line is a line of
 * DIR/stages.done, appended (and flushed to disk) only after the command
 * succeeded; each command writes its outputs atomically, so those exist and are
 * whole. Commands are deterministic (same seed, same bits), so the skipped
 * stages' files are what a rerun would write. Set before job_start. */
void job_set_resume(int on);

/* Start a job writing into DIR (created if missing). Returns CLI_OK or prints
 * an error and returns CLI_FAILURE. Without resume, DIR/stages.done is reset. */
int job_start(job *j, const char *cmd, const char *dir);
/* Commit DIR/commands.sh (atomically) and release the job. */
int job_finish(job *j, const char *cmd);

/* Strings that stay valid for the job's lifetime. */
const char *job_fmt(job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *job_path(job *j, const char *name); /* DIR/name */

/* Run `kadanoff ARGS...` (NULL-terminated) as stage `name`; on failure print
 * which stage failed and return its exit status (on SIGINT/SIGTERM, 130/143
 * and how to resume). With resume, a stage completed earlier is skipped. */
int job_run(job *j, const char *name, ...) __attribute__((sentinel));

/* Seconds spent in stages whose name starts with `prefix` ("" for all). */
double job_seconds(const job *j, const char *prefix);

/* Append the stage table (name, seconds) and the commands to a report. */
void job_report(const job *j, kd_report *r);

#endif
