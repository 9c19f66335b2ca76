/* Recorded in-process command sequences (see job.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job.h"
#include "mpi_cli.h"

static int resume_requested = 0;
/* --resume: DIR/stages.done as read by job_start (one job at a time; static so
 * that a job abandoned on a failed stage leaves nothing unreachable). */
static char *done_list = NULL;

void job_set_resume(int on) { resume_requested = on; }

/* The whole of a small text file, or NULL if it cannot be read. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            char *grown = realloc(buf, 2 * cap + 1);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

/* Is `command` a whole line of the done list? */
static int done_before(const char *command)
{
    size_t len = strlen(command);
    for (const char *p = done_list; p && *p;) {
        const char *end = strchr(p, '\n');
        if (!end)
            break; /* a last line without newline was cut by a crash: not done */
        if ((size_t)(end - p) == len && !memcmp(p, command, len))
            return 1;
        p = end + 1;
    }
    return 0;
}

/* Record a completed stage: append its line and flush it to disk. */
static void mark_done(const job *j, const char *command)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/stages.done", j->dir);
    FILE *f = fopen(path, "a");
    if (!f)
        return; /* only costs a rerun of the stage on --resume */
    fprintf(f, "%s\n", command);
    fflush(f);
    fsync(fileno(f));
    fclose(f);
}

/* Rank 0's part of job_start: the directory and the bookkeeping files. */
static int start_files(job *j, const char *cmd, const char *dir)
{
    kd_status st = kd_report_mkdir(dir);
    if (st != KD_OK)
        return cli_fail_status(cmd, st);
    char path[4200];
    snprintf(path, sizeof path, "%s/stages.done", dir);
    free(done_list);
    done_list = NULL;
    if (resume_requested) {
        done_list = read_text(path);
        if (!done_list && !cli_quiet)
            fprintf(stderr, "kadanoff %s: --resume: no record of completed stages in %s; "
                            "running every stage\n", cmd, path);
    } else {
        remove(path);
    }
    snprintf(path, sizeof path, "%s/commands.sh.tmp", dir);
    j->script = fopen(path, "w");
    if (!j->script)
        return cli_fail(cmd, "cannot write '%s': %s", path, strerror(errno));
    fprintf(j->script, "#!/bin/sh\n# The commands that produced the files in this directory,\n"
                       "# in order, as run by kadanoff %s. Paths are as given: rerun from the\n"
                       "# working directory the reproduction was started in.\nset -e\n",
            kd_version());
    return CLI_OK;
}

int job_start(job *j, const char *cmd, const char *dir)
{
    memset(j, 0, sizeof *j);
    int rc = CLI_OK;
    if (snprintf(j->dir, sizeof j->dir, "%s", dir) >= (int)sizeof j->dir)
        rc = cli_fail(cmd, "directory name too long: '%s'", dir);
    else if (mpicli_rank() == 0) /* over MPI, rank 0 keeps the books (and writes the files) */
        rc = start_files(j, cmd, dir);
    return mpicli_agree(cmd, rc);
}

int job_finish(job *j, const char *cmd)
{
    char tmp[4200], path[4200];
    if (!j->script) { /* an MPI rank other than 0: no files */
        free(done_list);
        done_list = NULL;
        return CLI_OK;
    }
    snprintf(tmp, sizeof tmp, "%s/commands.sh.tmp", j->dir);
    snprintf(path, sizeof path, "%s/commands.sh", j->dir);
    int bad = fclose(j->script) != 0;
    j->script = NULL;
    free(done_list);
    done_list = NULL;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return cli_fail(cmd, "cannot write '%s': %s", path, strerror(errno));
    }
    return CLI_OK;
}

static const char *pool_add(job *j, const char *s)
{
    size_t n = strlen(s) + 1;
    if (j->used + n > sizeof j->pool)
        return "";
    char *p = j->pool + j->used;
    memcpy(p, s, n);
    j->used += n;
    return p;
}

const char *job_fmt(job *j, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return pool_add(j, buf);
}

const char *job_path(job *j, const char *name) { return job_fmt(j, "%s/%s", j->dir, name); }

/* Single-quote an argument for sh when it contains anything unusual. */
static void quote(char *out, size_t size, const char *arg)
{
    int plain = *arg != '\0';
    for (const char *p = arg; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:,=+", *p))
            plain = 0;
    if (plain) {
        snprintf(out, size, "%s", arg);
        return;
    }
    size_t k = 0;
    if (k + 1 < size)
        out[k++] = '\'';
    for (const char *p = arg; *p && k + 5 < size; p++) {
        if (*p == '\'') {
            memcpy(out + k, "'\\''", 4);
            k += 4;
        } else {
            out[k++] = *p;
        }
    }
    if (k + 1 < size)
        out[k++] = '\'';
    out[k] = '\0';
}

int job_run(job *j, const char *name, ...)
{
    char *args[128];
    int n = 0;
    va_list ap;
    va_start(ap, name);
    for (const char *a; n < 127 && (a = va_arg(ap, const char *));)
        args[n++] = (char *)a;
    va_end(ap);
    args[n] = NULL;
    job_stage *s = j->nstages < JOB_MAX_STAGES ? &j->stages[j->nstages++] : &j->stages[JOB_MAX_STAGES - 1];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->skipped = 0;
    size_t len = (size_t)snprintf(s->command, sizeof s->command, "kadanoff");
    for (int i = 0; i < n && len < sizeof s->command; i++) {
        char q[1024];
        quote(q, sizeof q, args[i]);
        len += (size_t)snprintf(s->command + len, sizeof s->command - len, " %s", q);
    }
    if (j->script) {
        fprintf(j->script, "%s\n", s->command);
        fflush(j->script);
    }
    /* Over MPI every rank takes rank 0's decision; a command that does not
     * split its work runs on rank 0 while the others wait for its status. */
    if (mpicli_bcast_int(j->script && done_before(s->command))) {
        if (!cli_quiet)
            fprintf(stderr, "kadanoff reproduce: %s: done earlier, skipped\n", name);
        s->seconds = 0;
        s->skipped = 1;
        return CLI_OK;
    }
    if (!cli_quiet)
        fprintf(stderr, "kadanoff reproduce: %s ...\n", name);
    int rc = CLI_OK;
    if (mpicli_splits(args[0]) || mpicli_rank() == 0)
        rc = cli_run(&s->seconds, args);
    if (!mpicli_splits(args[0]))
        rc = mpicli_agree("reproduce", rc);
    if (rc == CLI_OK && j->script)
        mark_done(j, s->command);
    else if (rc == 130 || rc == 143)
        fprintf(stderr, "kadanoff reproduce: interrupted in stage '%s'; the completed stages are "
                        "recorded in %s/stages.done. Continue with the same command and "
                        "--resume.\n", name, j->dir);
    else
        fprintf(stderr, "kadanoff reproduce: stage '%s' failed (exit %d): %s\n", name, rc, s->command);
    return rc;
}

double job_seconds(const job *j, const char *prefix)
{
    double t = 0;
    for (int i = 0; i < j->nstages; i++)
        if (!strncmp(j->stages[i].name, prefix, strlen(prefix)))
            t += j->stages[i].seconds;
    return t;
}

void job_report(const job *j, kd_report *r)
{
    static const char *const header[] = {"stage", "wall time (s)"};
    kd_report_table_begin(r, 2, header, "Wall time of every stage on this machine.");
    int skipped = 0;
    for (int i = 0; i < j->nstages; i++) {
        if (j->stages[i].skipped)
            kd_report_table_rowf(r, "%s\tdone by an earlier run", j->stages[i].name);
        else
            kd_report_table_rowf(r, "%s\t%.2f", j->stages[i].name, j->stages[i].seconds);
        skipped += j->stages[i].skipped;
    }
    kd_report_table_rowf(r, "total\t%.2f%s", job_seconds(j, ""),
                         skipped ? " (this run, --resume)" : "");
    kd_report_paragraph(r, "The exact commands, in order (also in commands.sh):");
    size_t size = 0;
    for (int i = 0; i < j->nstages; i++)
        size += strlen(j->stages[i].command) + 1;
    char *text = malloc(size + 1);
    if (!text)
        return;
    text[0] = '\0';
    for (int i = 0; i < j->nstages; i++) {
        strcat(text, j->stages[i].command);
        strcat(text, "\n");
    }
    kd_report_code(r, text);
    free(text);
}
