/* Option parsing, error reporting, logging and progress for the CLI. */
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <signal.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

int cli_quiet = 0;
int cli_verbose = 0;
static int progress_drawn = 0;

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "kadanoff %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'kadanoff %s --help'.\n", cmd);
    return CLI_USAGE;
}

static char last_failure[4096];

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    cli_progress_end();
    va_start(ap, fmt);
    vsnprintf(last_failure, sizeof last_failure, fmt, ap);
    va_end(ap);
    fprintf(stderr, "kadanoff %s: error: %s\n", cmd, last_failure);
    return CLI_FAILURE;
}

const char *cli_last_failure(void) { return last_failure; }

int cli_fail_status(const char *cmd, kd_status status)
{
    const char *msg = kd_last_error();
    return cli_fail(cmd, "%s", *msg ? msg : kd_strerror(status));
}

/* The options every command shares: -q/--quiet, -v/--verbose, -h/--help
 * (prints usage to stdout), and getopt's errors (optstring ":...qvh": the
 * leading ':' reports a missing value as ':'). Returns CLI_CONTINUE to go on
 * parsing, else the exit status. */
static int common_option(const char *cmd, int c, char **argv, void (*usage)(FILE *))
{
    switch (c) {
    case 'q':
        cli_quiet = 1;
        return CLI_CONTINUE;
    case 'v':
        cli_verbose++;
        return CLI_CONTINUE;
    case 'h':
        usage(stdout);
        return CLI_OK;
    case ':':
        return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
    default:
        return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
    }
}

/* --threads N: check N and set the library's thread count. */
static int threads_option(const char *cmd, const char *arg)
{
    long n = 0;
    int rc = cli_parse_long(cmd, "--threads", arg, 1, 1024, &n);
    if (rc == CLI_OK)
        kd_set_threads((int)n);
    return rc;
}

int cli_next_option(const char *cmd, int argc, char **argv, const char *optstring,
                    const struct option *opts, void (*usage)(FILE *), int *status)
{
    opterr = 0;
    while (*status == CLI_OK) {
        int c = getopt_long(argc, argv, optstring, opts, NULL);
        if (c == -1)
            return CLI_OPTIONS_END;
        if (c == CLI_OPT_THREADS)
            *status = threads_option(cmd, optarg);
        else if (c != 'q' && c != 'v' && c != 'h' && c != ':' && c != '?')
            return c;
        else if ((*status = common_option(cmd, c, argv, usage)) == CLI_CONTINUE)
            *status = CLI_OK;
        else
            return CLI_OPTIONS_STOP; /* --help (status 0) or a usage error */
    }
    return CLI_OPTIONS_STOP; /* the previous option was refused */
}

int cli_operands(const char *cmd, int argc, char **argv, int min, int max, const char *missing)
{
    if (argc - optind < min)
        return cli_usage_error(cmd, "%s", missing);
    if (argc - optind > max)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + max]);
    return CLI_OK;
}

int cli_parse_long(const char *cmd, const char *opt, const char *arg, long min, long max,
                   long *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (!*arg || *end || errno)
        return cli_usage_error(cmd, "%s expects an integer, got '%s'", opt, arg);
    if (v < min || v > max)
        return cli_usage_error(cmd, "%s must be between %ld and %ld, got %ld", opt, min, max, v);
    *out = v;
    return CLI_OK;
}

int cli_parse_double(const char *cmd, const char *opt, const char *arg, double min,
                     double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (!*arg || *end || errno == ERANGE || isnan(v))
        return cli_usage_error(cmd, "%s expects a number, got '%s'", opt, arg);
    if (v < min || v > max)
        return cli_usage_error(cmd, "%s must be between %g and %g, got %g", opt, min, max, v);
    *out = v;
    return CLI_OK;
}

int cli_parse_u64(const char *cmd, const char *opt, const char *arg, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*arg || *arg == '-')
        return cli_usage_error(cmd, "%s expects a non-negative integer, got '%s'", opt, arg);
    unsigned long long v = strtoull(arg, &end, 10);
    if (*end || errno)
        return cli_usage_error(cmd, "%s expects a non-negative integer below 2^64, got '%s'",
                               opt, arg);
    *out = (uint64_t)v;
    return CLI_OK;
}

static void log_to_stderr(kd_log_level level, const char *message, void *user)
{
    (void)user;
    /* Errors are reported by the command itself (cli_fail_status) with context,
     * so they are not repeated here. */
    if (level == KD_LOG_ERROR)
        return;
    if (level == KD_LOG_WARN && cli_quiet)
        return;
    if (level == KD_LOG_INFO && (cli_quiet || !cli_verbose))
        return;
    if (level == KD_LOG_DEBUG && cli_verbose < 2)
        return;
    cli_progress_end();
    fprintf(stderr, "kadanoff: %s%s\n", level == KD_LOG_WARN ? "warning: " : "", message);
}

void cli_setup_logging(void) { kd_log_set_handler(log_to_stderr, NULL); }

static volatile sig_atomic_t interrupt_signal = 0;

static void on_signal(int sig)
{
    if (interrupt_signal) /* second signal: give up at once */
        _exit(128 + sig);
    interrupt_signal = sig;
}

void cli_install_interrupt_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_interrupted(void) { return interrupt_signal != 0; }

const char *cli_interrupt_name(void) { return interrupt_signal == SIGTERM ? "SIGTERM" : "SIGINT"; }

int cli_interrupt_status(void) { return 128 + (interrupt_signal ? (int)interrupt_signal : SIGINT); }

int cli_interrupt_exit(const char *cmd)
{
    cli_progress_end();
    fprintf(stderr, "kadanoff %s: interrupted by %s; no output written\n", cmd,
            cli_interrupt_name());
    return cli_interrupt_status();
}

int cli_interrupt_nothing_saved(const char *cmd, const char *unit, int had_checkpoint)
{
    cli_progress_end();
    fprintf(stderr, "kadanoff %s: interrupted by %s before %s was complete; %s\n", cmd,
            cli_interrupt_name(), unit,
            had_checkpoint ? "the checkpoint is unchanged" : "nothing written");
    if (had_checkpoint)
        fprintf(stderr, "Continue with the same command and --resume.\n");
    return cli_interrupt_status();
}

uint64_t cli_hash(uint64_t h, const void *data, size_t n)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * UINT64_C(0x100000001b3);
    return h;
}

int cli_check_writable(const char *cmd, const char *path)
{
    char probe[4096];
    if (snprintf(probe, sizeof probe, "%s.probe.%ld", path, (long)getpid()) >= (int)sizeof probe)
        return cli_fail(cmd, "output path '%s' is too long", path);
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        return cli_fail(cmd, "cannot write '%s': %s", path, strerror(errno));
    close(fd);
    unlink(probe);
    return CLI_OK;
}

int cli_progress(double fraction, const char *label, void *user)
{
    (void)user;
    if (interrupt_signal)
        return 1;
    if (cli_quiet || !isatty(STDERR_FILENO))
        return 0;
    if (fraction < 0)
        fraction = 0;
    if (fraction > 1)
        fraction = 1;
    int width = 30, filled = (int)(fraction * width + 0.5);
    char bar[31];
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r%-28.28s [%s] %5.1f%%", label ? label : "", bar, 100.0 * fraction);
    fflush(stderr);
    progress_drawn = 1;
    return 0;
}

void cli_progress_end(void)
{
    if (progress_drawn) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
        progress_drawn = 0;
    }
}

void cli_join_args(int argc, char **argv, char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0)
        return;
    buf[0] = '\0';
    for (int i = 0; i < argc && used + 1 < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%s", i ? " " : "", argv[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

int cli_run(double *seconds, char *const *args)
{
    int argc = 0;
    while (args[argc])
        argc++;
    const cli_command *c = argc ? cli_find_command(args[0]) : NULL;
    if (!c) {
        fprintf(stderr, "kadanoff: internal error: no command '%s'\n", argc ? args[0] : "");
        return CLI_FAILURE;
    }
    /* getopt may permute argv: give it a private copy (argv[-1] = "kadanoff",
     * as the commands record the full command line) */
    char **argv = calloc((size_t)argc + 2, sizeof *argv);
    if (!argv)
        return CLI_FAILURE;
    argv[0] = "kadanoff";
    for (int i = 0; i < argc; i++)
        argv[i + 1] = args[i];
    int quiet = cli_quiet, verbose = cli_verbose;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = c->run(argc, argv + 1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cli_quiet = quiet;
    cli_verbose = verbose;
    if (seconds)
        *seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    free(argv);
    return rc;
}
