/*
 * Atomic file replacement (internal).
 *
 * A writer produces its output under a temporary name beside the target,
 * "<path>.tmp.<pid>", and only on success makes it visible under the target
 * name:
 *
 *     kd_atomic a;
 *     KD_CHECK(kd_atomic_begin(&a, path));      creates an empty a.tmp
 *     ... write a.tmp with any library (stdio, HDF5), close it ...
 *     return kd_atomic_commit(&a);              fsync, rename over path, fsync dir
 *
 * or kd_atomic_abort(&a) to unlink the temporary file. After a crash or any
 * failure the target is either the complete old file or the complete new one,
 * never a mixture; at worst a stale "<path>.tmp.<pid>" remains after a crash.
 * Both commit and abort release the struct, which must not be used again
 * (except for a second, harmless, abort).
 */
#ifndef KD_IO_ATOMIC_H
#define KD_IO_ATOMIC_H

#include <stddef.h>

#include "kadanoff/core.h"

typedef struct {
    char *path; /* the requested name (owned copy) */
    char *tmp;  /* the temporary name beside it */
} kd_atomic;

/* Prepare a replacement of `path`: choose the temporary name and create it
 * empty (mode 0666 minus umask), so that an unwritable directory is reported
 * here with the system's reason. KD_ERR_IO names the file; KD_ERR_NOMEM. */
kd_status kd_atomic_begin(kd_atomic *a, const char *path);

/* Write the whole of buf (n bytes) as the content of the temporary file,
 * replacing what it held. A failing write (disk full: ENOSPC; a file-size
 * limit: EFBIG) gives KD_ERR_IO naming the target and the system's reason; the
 * caller then aborts, and the old target is untouched. */
kd_status kd_atomic_write(kd_atomic *a, const void *buf, size_t n);

/* The temporary file has been written and closed: flush it to disk, rename it
 * over the target and flush the directory entry. On failure the temporary file
 * is removed and the old target, if any, is untouched (KD_ERR_IO naming path). */
kd_status kd_atomic_commit(kd_atomic *a);

/* Give up: remove the temporary file. Safe on a struct already released. */
void kd_atomic_abort(kd_atomic *a);

#endif
