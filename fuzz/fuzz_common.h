/*
 * Shared helpers of the libFuzzer targets in fuzz/ (built only with
 * -DKADANOFF_FUZZ=ON and clang; see fuzz/README.md).
 *
 * Every HDF5 reader of kadanoff takes a path, so a target writes the fuzz
 * input to a private temporary file and calls the real public reader on it:
 * the same entry point a user's `kadanoff info FILE` or `train-rbm DATA`
 * reaches. The oracles beyond "no crash, no leak, no undefined behaviour":
 *   - a reader that fails must say so with a message naming the file
 *     (fuzz_expect_named_error);
 *   - a reader that succeeds must return what its contract promises (spins
 *     ±1, finite weights, ...): each target checks that and abort()s, which
 *     libFuzzer reports as a crash with the input saved;
 *   - a reader leaves no HDF5 file or file object open, whatever happened
 *     (fuzz_check_handles): LeakSanitizer cannot see those, because HDF5 frees
 *     open objects at exit.
 */
#ifndef KD_FUZZ_COMMON_H
#define KD_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "kadanoff/core.h"

/* Write data to this process's temporary file (created on first use, removed
 * at exit) and return its path. */
const char *fuzz_input_file(const uint8_t *data, size_t size);

/* Number of open HDF5 file objects (files, groups, datasets, named types,
 * attributes) must be the same after a read as before it:
 * fuzz_handles_before() then fuzz_check_handles(reader). */
void fuzz_handles_before(void);
void fuzz_check_handles(const char *reader);

/* A failed read must carry a message that names the file. abort()s with the
 * message printed otherwise. */
void fuzz_expect_named_error(kd_status status, const char *path, const char *reader);

/* abort() with a message when cond is false: a reader returned something
 * its contract excludes. */
#define FUZZ_ASSERT(cond, ...)                                                                 \
    do {                                                                                       \
        if (!(cond))                                                                           \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                 \
    } while (0)
void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

#endif
