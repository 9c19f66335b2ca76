/*
 * Internal error-reporting helpers (not installed).
 *
 *   KD_FAIL(status, "dataset '%s' has rank %d, expected 2 or 3", name, rank);
 * records the message, logs it at KD_LOG_ERROR and returns status from the
 * current function. KD_CHECK(expr) returns early when expr is not KD_OK.
 */
#ifndef KD_CORE_ERROR_H
#define KD_CORE_ERROR_H

#include "kadanoff/core.h"

kd_status kd_set_error(kd_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#define KD_FAIL(status, ...) return kd_set_error((status), __VA_ARGS__)

#define KD_CHECK(expr)                     \
    do {                                   \
        kd_status kd_check_s_ = (expr);    \
        if (kd_check_s_ != KD_OK)          \
            return kd_check_s_;            \
    } while (0)

#endif
