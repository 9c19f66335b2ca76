/* Text buffers, atomic whole-file writes, paths and directories for the report
 * module. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core/error.h"
#include "io/atomic.h"
#include "report/report_internal.h"

void kd_buf_init(kd_buf *b) { memset(b, 0, sizeof *b); }

void kd_buf_free(kd_buf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

static int reserve(kd_buf *b, size_t extra)
{
    if (b->failed)
        return 0;
    if (b->len + extra + 1 <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->failed = 1;
            return 0;
        }
        cap *= 2;
    }
    char *s = realloc(b->s, cap);
    if (!s) {
        b->failed = 1;
        return 0;
    }
    b->s = s;
    b->cap = cap;
    return 1;
}

void kd_buf_append(kd_buf *b, const char *s, size_t len)
{
    if (!reserve(b, len))
        return;
    memcpy(b->s + b->len, s, len);
    b->len += len;
    b->s[b->len] = '\0';
}

void kd_buf_puts(kd_buf *b, const char *s) { kd_buf_append(b, s, strlen(s)); }

void kd_buf_vprintf(kd_buf *b, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int need = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (need < 0) {
        b->failed = 1;
        return;
    }
    if (!reserve(b, (size_t)need))
        return;
    vsnprintf(b->s + b->len, (size_t)need + 1, fmt, ap);
    b->len += (size_t)need;
}

void kd_buf_printf(kd_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kd_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

kd_status kd_write_file_atomic(const char *path, const char *data, size_t len)
{
    kd_atomic a;
    KD_CHECK(kd_atomic_begin(&a, path));
    FILE *f = fopen(a.tmp, "wb");
    if (!f) {
        int err = errno;
        kd_atomic_abort(&a);
        KD_FAIL(KD_ERR_IO, "%s: cannot write: %s", path, strerror(err));
    }
    int ok = fwrite(data, 1, len, f) == len;
    int err = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    if (!ok) {
        kd_atomic_abort(&a);
        KD_FAIL(KD_ERR_IO, "%s: write failed: %s", path, strerror(err));
    }
    return kd_atomic_commit(&a);
}

char *kd_path_join(const char *dir, const char *name, const char *ext)
{
    size_t ld = dir ? strlen(dir) : 0, ln = strlen(name), le = ext ? strlen(ext) : 0;
    char *p = malloc(ld + ln + le + 3);
    if (!p)
        return NULL;
    size_t k = 0;
    if (ld) {
        memcpy(p, dir, ld);
        k = ld;
        if (p[k - 1] != '/')
            p[k++] = '/';
    }
    memcpy(p + k, name, ln);
    k += ln;
    if (le) {
        p[k++] = '.';
        memcpy(p + k, ext, le);
        k += le;
    }
    p[k] = '\0';
    return p;
}

kd_status kd_report_mkdir(const char *path)
{
    if (!path || !*path)
        KD_FAIL(KD_ERR_INVALID, "no directory name given");
    size_t len = strlen(path);
    char *p = malloc(len + 1);
    if (!p)
        KD_FAIL(KD_ERR_NOMEM, "%s: out of memory", path);
    memcpy(p, path, len + 1);
    /* Create each prefix ending before a '/', then the whole path. */
    for (size_t i = 1; i <= len; i++) {
        if (i < len && p[i] != '/')
            continue;
        char saved = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int err = errno;
            p[i] = saved;
            free(p);
            KD_FAIL(KD_ERR_IO, "%s: cannot create the directory: %s", path, strerror(err));
        }
        p[i] = saved;
    }
    free(p);
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        KD_FAIL(KD_ERR_IO, "%s: exists and is not a directory", path);
    return KD_OK;
}
