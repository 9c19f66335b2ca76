/* Atomic file replacement: temporary file beside the target, fsync, rename,
 * fsync of the directory (see atomic.h). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "io/atomic.h"

static void release(kd_atomic *a)
{
    free(a->path);
    free(a->tmp);
    a->path = NULL;
    a->tmp = NULL;
}

kd_status kd_atomic_begin(kd_atomic *a, const char *path)
{
    a->path = NULL;
    a->tmp = NULL;
    if (!path || !*path)
        KD_FAIL(KD_ERR_INVALID, "no output file name given");
    size_t len = strlen(path);
    /* ".tmp." + up to 20 digits of the pid + NUL */
    size_t size = len + 32;
    a->path = malloc(len + 1);
    a->tmp = malloc(size);
    if (!a->path || !a->tmp) {
        release(a);
        KD_FAIL(KD_ERR_NOMEM, "%s: out of memory for the file name", path);
    }
    memcpy(a->path, path, len + 1);
    snprintf(a->tmp, size, "%s.tmp.%ld", path, (long)getpid());

    /* Create the file here rather than leave it to the writing library, so the
     * message carries the system's reason (no such directory, permission...). */
    int fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) {
        int err = errno;
        release(a);
        KD_FAIL(KD_ERR_IO, "%s: cannot create the file: %s", path, strerror(err));
    }
    close(fd);
    return KD_OK;
}

/* Directory part of a path ("." if none), in a fresh allocation. */
static char *directory_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) : 1;
    if (slash && len == 0)
        len = 1; /* "/file" lives in "/" */
    char *dir = malloc(len + 1);
    if (!dir)
        return NULL;
    memcpy(dir, slash ? path : ".", len);
    dir[len] = '\0';
    return dir;
}

kd_status kd_atomic_write(kd_atomic *a, const void *buf, size_t n)
{
    int fd = open(a->tmp, O_WRONLY | O_TRUNC);
    if (fd < 0)
        KD_FAIL(KD_ERR_IO, "%s: cannot open the temporary file '%s': %s", a->path, a->tmp,
                strerror(errno));
    const char *p = buf;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, p + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int err = w < 0 ? errno : EIO;
            close(fd);
            KD_FAIL(KD_ERR_IO, "%s: cannot write the file (%zu of %zu bytes written): %s%s",
                    a->path, done, n, strerror(err),
                    err == ENOSPC || err == EFBIG || err == EDQUOT
                        ? "; the existing file, if any, is left as it was"
                        : "");
        }
        done += (size_t)w;
    }
    if (close(fd) != 0)
        KD_FAIL(KD_ERR_IO, "%s: cannot write the file: %s", a->path, strerror(errno));
    return KD_OK;
}

kd_status kd_atomic_commit(kd_atomic *a)
{
    char msg[512];
    int err = 0;

    /* 1. The data must be on disk before the rename makes it visible, or a
     *    crash could leave a renamed but empty file. */
    int fd = open(a->tmp, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        err = errno;
        snprintf(msg, sizeof msg, "cannot flush the file to disk: %s", strerror(err));
    }
    if (fd >= 0)
        close(fd);

    /* 2. rename() replaces the target atomically (same directory, same file system). */
    if (!err && rename(a->tmp, a->path) != 0) {
        err = errno;
        snprintf(msg, sizeof msg, "cannot rename the temporary file '%s' over it: %s", a->tmp,
                 strerror(err));
    }
    if (err) {
        unlink(a->tmp);
        kd_status s = kd_set_error(KD_ERR_IO, "%s: %s", a->path, msg);
        release(a);
        return s;
    }

    /* 3. Make the new directory entry durable. Some file systems refuse fsync on
     *    a directory (EINVAL); the rename has happened, so that is not an error. */
    char *dir = directory_of(a->path);
    if (dir) {
        int dfd = open(dir, O_RDONLY);
        if (dfd >= 0) {
            if (fsync(dfd) != 0 && errno != EINVAL && errno != EBADF)
                err = errno;
            close(dfd);
        }
        free(dir);
    }
    if (err) {
        kd_status s = kd_set_error(KD_ERR_IO, "%s: written, but the directory could not be "
                                              "flushed to disk: %s",
                                   a->path, strerror(err));
        release(a);
        return s;
    }
    release(a);
    return KD_OK;
}

void kd_atomic_abort(kd_atomic *a)
{
    if (a->tmp)
        unlink(a->tmp);
    release(a);
}
