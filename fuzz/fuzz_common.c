/* Shared helpers of the libFuzzer targets (see fuzz_common.h). */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "fuzz_common.h"

/* Open HDF5 objects of every file (files, groups, datasets, named types,
 * attributes). HDF5 1.10 refuses H5Inmembers on its own identifier types, so
 * transient datatypes, dataspaces and property lists cannot be counted here. */
static ssize_t objs_before;

static ssize_t count_objects(void)
{
    return H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL);
}

void fuzz_handles_before(void)
{
    H5open();
    objs_before = count_objects();
}

void fuzz_check_handles(const char *reader)
{
    ssize_t after = count_objects();
    FUZZ_ASSERT(after == objs_before, "%s left %zd HDF5 file objects open (files, groups, "
                                      "datasets, attributes)",
                reader, after - objs_before);
}

static char tmp_path[4096];
static int tmp_fd = -1;

static void remove_tmp(void)
{
    if (tmp_fd >= 0) {
        close(tmp_fd);
        unlink(tmp_path);
        tmp_fd = -1;
    }
}

const char *fuzz_input_file(const uint8_t *data, size_t size)
{
    if (tmp_fd < 0) {
        const char *dir = getenv("TMPDIR");
        snprintf(tmp_path, sizeof tmp_path, "%s/kd_fuzz_%ld_XXXXXX",
                 dir && *dir ? dir : "/tmp", (long)getpid());
        tmp_fd = mkstemp(tmp_path);
        if (tmp_fd < 0) {
            perror("fuzz: mkstemp");
            abort();
        }
        atexit(remove_tmp);
    }
    /* Same file every run: truncate, then write the whole input. */
    if (ftruncate(tmp_fd, 0) != 0) {
        perror("fuzz: ftruncate");
        abort();
    }
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(tmp_fd, data + done, size - done, (off_t)done);
        if (w <= 0) {
            perror("fuzz: pwrite");
            abort();
        }
        done += (size_t)w;
    }
    return tmp_path;
}

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "\nfuzz oracle failed at %s:%d: %s\n  ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void fuzz_expect_named_error(kd_status status, const char *path, const char *reader)
{
    const char *msg = kd_last_error();
    FUZZ_ASSERT(status != KD_OK, "%s: expected a failure", reader);
    /* A hostile file is a file problem (FORMAT/IO) or an absurd size (NOMEM);
     * INVALID or INTERNAL would mean a check came too late. */
    FUZZ_ASSERT(status == KD_ERR_FORMAT || status == KD_ERR_IO || status == KD_ERR_NOMEM,
                "%s failed with status %d, expected KD_ERR_FORMAT, _IO or _NOMEM: \"%s\"",
                reader, (int)status, msg ? msg : "(null)");
    FUZZ_ASSERT(msg && strstr(msg, path), "%s failed (status %d) with a message that does not "
                                          "name the file '%s': \"%s\"",
                reader, (int)status, path, msg ? msg : "(null)");
}
