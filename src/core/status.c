/* Status codes, per-thread error messages and the log handler. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "kadanoff/version.h"

const char *kd_strerror(kd_status status)
{
    /* Table indexed by the enum, kept in the enum's order. */
    static const char *const names[] = {
        [KD_OK] = "success",
        [KD_ERR_INVALID] = "invalid argument",
        [KD_ERR_NOMEM] = "out of memory",
        [KD_ERR_IO] = "input/output error",
        [KD_ERR_FORMAT] = "bad file format",
        [KD_ERR_UNSUPPORTED] = "not supported",
        [KD_ERR_NUMERIC] = "numerical failure",
        [KD_ERR_CANCELLED] = "cancelled",
        [KD_ERR_INTERNAL] = "internal error",
    };
    if ((unsigned)status < sizeof names / sizeof names[0])
        return names[status];
    return "unknown status";
}

static _Thread_local char last_error[1024];

const char *kd_last_error(void) { return last_error; }
void kd_clear_error(void) { last_error[0] = '\0'; }

static kd_log_fn log_handler;
static void *log_user;

void kd_log_set_handler(kd_log_fn fn, void *user)
{
    log_handler = fn;
    log_user = user;
}

static void vlog(kd_log_level level, const char *fmt, va_list ap)
{
    char buf[1024];
    if (!log_handler)
        return;
    vsnprintf(buf, sizeof buf, fmt, ap);
    log_handler(level, buf, log_user);
}

void kd_log(kd_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

kd_status kd_set_error(kd_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    kd_log(KD_LOG_ERROR, "%s", last_error);
    return status;
}

const char *kd_version(void) { return KADANOFF_VERSION; }
