/*
 * Minimal test harness shared by the test programs (header-only).
 *
 * Each check prints a line only when it fails (or always with KD_TEST_VERBOSE=1);
 * kd_test_done() prints the closing line "N passed, N failed" (", N skipped"
 * when some were skipped) and returns the exit status for main().
 *
 * Tolerances are the caller's: every call site says why its tolerance is what it is.
 */
#ifndef KD_TESTING_H
#define KD_TESTING_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int kd_test_passed, kd_test_failed, kd_test_skipped;

static inline int kd_test_verbose(void)
{
    const char *v = getenv("KD_TEST_VERBOSE");
    return v && *v && *v != '0';
}

/* Record a boolean outcome with a printf-style description. Returns ok. */
static inline int kd_test(int ok, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static inline int kd_test(int ok, const char *fmt, ...)
{
    va_list ap;
    if (ok)
        kd_test_passed++;
    else
        kd_test_failed++;
    if (!ok || kd_test_verbose()) {
        printf("%s: ", ok ? "ok  " : "FAIL");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
    }
    return ok;
}

/* |got - want| <= tol (absolute). */
static inline int kd_test_abs(double got, double want, double tol, const char *what)
{
    int ok = fabs(got - want) <= tol; /* NaN fails */
    return kd_test(ok, "%s: got %.12g, want %.12g, |diff| %.3g, tol %.3g", what, got, want,
                   fabs(got - want), tol);
}

/* |got - want| <= tol · max(|want|, tiny) (relative). */
static inline int kd_test_rel(double got, double want, double tol, const char *what)
{
    double scale = fabs(want) > 1e-300 ? fabs(want) : 1e-300;
    int ok = fabs(got - want) <= tol * scale;
    return kd_test(ok, "%s: got %.15g, want %.15g, rel diff %.3g, tol %.3g", what, got, want,
                   fabs(got - want) / scale, tol);
}

/* Statistical check: |got - want| <= nsigma · err, with err > 0 required (a zero
 * error bar on a stochastic estimate is itself a failure). */
static inline int kd_test_sigma(double got, double err, double want, double nsigma, const char *what)
{
    int ok = err > 0 && fabs(got - want) <= nsigma * err;
    return kd_test(ok, "%s: got %.8g ± %.2g, want %.8g, %.2f σ (limit %.1f σ)", what, got, err,
                   want, err > 0 ? fabs(got - want) / err : INFINITY, nsigma);
}

static inline void kd_test_skip(const char *fmt, ...)
{
    va_list ap;
    kd_test_skipped++;
    printf("skip: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static inline int kd_test_done(void)
{
    if (kd_test_skipped)
        printf("%d passed, %d failed, %d skipped\n", kd_test_passed, kd_test_failed,
               kd_test_skipped);
    else
        printf("%d passed, %d failed\n", kd_test_passed, kd_test_failed);
    return kd_test_failed ? 1 : 0;
}

#endif
