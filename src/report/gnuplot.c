/* Running gnuplot as a child process: fork + exec of the resolved executable
 * (no shell, so no quoting of paths), in the figure's directory, stderr
 * captured for the error message. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "report/report_internal.h"

static char *gnuplot_program = NULL; /* NULL: "gnuplot" */

kd_status kd_figure_set_gnuplot(const char *program)
{
    char *copy = NULL;
    if (program) {
        if (!*program)
            KD_FAIL(KD_ERR_INVALID, "gnuplot program name is empty");
        size_t n = strlen(program);
        copy = malloc(n + 1);
        if (!copy)
            KD_FAIL(KD_ERR_NOMEM, "out of memory");
        memcpy(copy, program, n + 1);
    }
    free(gnuplot_program);
    gnuplot_program = copy;
    return KD_OK;
}

static int is_executable_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && access(path, X_OK) == 0;
}

/* The executable to run, as a new string, or NULL if none is found. A name
 * with '/' is taken as a path; otherwise PATH is searched (as execvp would,
 * but here in the parent, so the child only calls async-signal-safe functions). */
static char *resolve_gnuplot(void)
{
    const char *prog = gnuplot_program ? gnuplot_program : "gnuplot";
    if (strchr(prog, '/')) {
        if (!is_executable_file(prog))
            return NULL;
        return kd_path_join(NULL, prog, NULL);
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        char *dir = malloc(len + 2);
        if (!dir)
            return NULL;
        if (len)
            memcpy(dir, path, len);
        else
            dir[len++] = '.'; /* an empty PATH entry means the current directory */
        dir[len] = '\0';
        char *cand = kd_path_join(dir, prog, NULL);
        free(dir);
        if (cand && is_executable_file(cand))
            return cand;
        free(cand);
        if (!end)
            break;
        path = end + 1;
    }
    return NULL;
}

int kd_figure_gnuplot_available(void)
{
    char *p = resolve_gnuplot();
    free(p);
    return p != NULL;
}

static void set_cloexec(int fd) { fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC); }

/* Keep the first `cap` bytes of the child's stderr; later lines are usually
 * consequences of the first error. */
#define STDERR_CAP 1500

/* Run program with argv in dir. Returns 0 and the wait status in *status, or
 * an errno value if the child could not be started (exec_errno: the error of
 * chdir/exec inside the child, 0 if it started). */
static int run_child(const char *program, char *const argv[], const char *dir, int *status,
                     int *exec_errno, char *err_text, size_t err_size)
{
    int errpipe[2], report[2];
    *exec_errno = 0;
    err_text[0] = '\0';
    if (pipe(errpipe) != 0)
        return errno;
    if (pipe(report) != 0) {
        int e = errno;
        close(errpipe[0]);
        close(errpipe[1]);
        return e;
    }
    set_cloexec(errpipe[0]);
    set_cloexec(report[0]);
    set_cloexec(report[1]); /* closed by a successful exec: EOF tells the parent */
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(errpipe[0]);
        close(errpipe[1]);
        close(report[0]);
        close(report[1]);
        return e;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls from here on. */
        int null = open("/dev/null", O_RDWR);
        int e;
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        dup2(errpipe[1], 2);
        if (chdir(dir) != 0) {
            e = errno;
            (void)!write(report[1], &e, sizeof e);
            _exit(127);
        }
        execv(program, argv);
        e = errno;
        (void)!write(report[1], &e, sizeof e);
        _exit(127);
    }
    close(errpipe[1]);
    close(report[1]);
    /* Drain stderr until EOF (the child exits), keeping the beginning. */
    size_t used = 0;
    char chunk[512];
    for (;;) {
        ssize_t got = read(errpipe[0], chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        size_t take = (size_t)got;
        if (used + take > err_size - 1)
            take = err_size - 1 - used;
        memcpy(err_text + used, chunk, take);
        used += take;
    }
    err_text[used] = '\0';
    close(errpipe[0]);
    int e = 0;
    ssize_t got;
    do
        got = read(report[0], &e, sizeof e);
    while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof e)
        *exec_errno = e;
    pid_t w;
    do
        w = waitpid(pid, status, 0);
    while (w < 0 && errno == EINTR);
    if (w < 0)
        return errno;
    return 0;
}

/* Tidy gnuplot's stderr for a one-paragraph message: trim, and replace
 * newlines by " | ". */
static void tidy(const char *in, char *out, size_t size)
{
    size_t k = 0;
    while (*in == '\n' || *in == ' ')
        in++;
    for (; *in && k + 4 < size; in++) {
        if (*in == '\n') {
            while (in[1] == '\n')
                in++;
            if (in[1]) {
                memcpy(out + k, " | ", 3);
                k += 3;
            }
        } else {
            out[k++] = *in;
        }
    }
    out[k] = '\0';
}

kd_status kd_gnuplot_render(const char *dir, const char *name, int svg)
{
    char *program = resolve_gnuplot();
    if (!program)
        KD_FAIL(KD_ERR_UNSUPPORTED,
                "gnuplot not found (looked for '%s'%s): data and script kept in %s; install "
                "gnuplot (Debian: gnuplot-nox) and run 'gnuplot %s.gp' there",
                gnuplot_program ? gnuplot_program : "gnuplot",
                gnuplot_program && strchr(gnuplot_program, '/') ? "" : " in PATH", dir, name);

    /* Render under a temporary name, renamed on success: a reader never sees
     * half an image under NAME.png. */
    char tmpname[300], formats[64], outdef[320], script[220];
    snprintf(tmpname, sizeof tmpname, "%s.tmp.%ld", name, (long)getpid());
    snprintf(formats, sizeof formats, "formats=\"%s\"", svg ? "png svg" : "png");
    snprintf(outdef, sizeof outdef, "out=\"%s\"", tmpname);
    snprintf(script, sizeof script, "%s.gp", name);
    char *argv[] = {program, "-e", formats, "-e", outdef, script, NULL};

    int status = 0, exec_errno = 0;
    char err_raw[STDERR_CAP + 1], err_text[STDERR_CAP + 64];
    int rc = run_child(program, argv, dir, &status, &exec_errno, err_raw, sizeof err_raw);
    tidy(err_raw, err_text, sizeof err_text);

    char *tmp_png = kd_path_join(dir, tmpname, "png"), *tmp_svg = kd_path_join(dir, tmpname, "svg");
    char *png = kd_path_join(dir, name, "png"), *svgp = kd_path_join(dir, name, "svg");
    kd_status st = KD_OK;
    if (!tmp_png || !tmp_svg || !png || !svgp) {
        st = kd_set_error(KD_ERR_NOMEM, "figure %s: out of memory", name);
    } else if (rc != 0) {
        st = kd_set_error(KD_ERR_UNSUPPORTED,
                          "could not start %s: %s; data and script kept in %s", program,
                          strerror(rc), dir);
    } else if (exec_errno) {
        st = kd_set_error(KD_ERR_UNSUPPORTED,
                          "could not run %s in %s: %s; data and script kept there", program, dir,
                          strerror(exec_errno));
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char how[64];
        if (WIFSIGNALED(status))
            snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(status));
        else
            snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(status));
        st = kd_set_error(KD_ERR_UNSUPPORTED,
                          "gnuplot failed on %s.gp (%s)%s%s; data and script kept in %s", name,
                          how, *err_text ? ": " : "", err_text, dir);
    } else {
        struct stat sb;
        if (stat(tmp_png, &sb) != 0 || sb.st_size == 0) {
            st = kd_set_error(KD_ERR_UNSUPPORTED,
                              "gnuplot ran %s.gp but wrote no PNG%s%s; data and script kept in %s",
                              name, *err_text ? ": " : "", err_text, dir);
        } else if (rename(tmp_png, png) != 0) {
            int e = errno;
            st = kd_set_error(KD_ERR_IO, "%s: cannot rename the rendered image: %s", png,
                              strerror(e));
        } else if (svg && stat(tmp_svg, &sb) == 0 && rename(tmp_svg, svgp) != 0) {
            int e = errno;
            st = kd_set_error(KD_ERR_IO, "%s: cannot rename the rendered image: %s", svgp,
                              strerror(e));
        } else if (*err_text) {
            kd_log(KD_LOG_DEBUG, "gnuplot %s.gp: %s", name, err_text);
        }
    }
    if (tmp_png)
        unlink(tmp_png);
    if (tmp_svg)
        unlink(tmp_svg);
    free(tmp_png);
    free(tmp_svg);
    free(png);
    free(svgp);
    free(program);
    return st;
}
