/*
 * Paths in a test program's temporary directory (header-only). main() creates
 * the directory named in tmpdir (mkdtemp or mkdir) and removes it at the end.
 */
#ifndef KD_TEST_TMP_PATH_H
#define KD_TEST_TMP_PATH_H

#include <stdio.h>

static char tmpdir[256];

/* "<tmpdir>/<name>", in one of 8 buffers used in turn: a result stays valid
 * for the next 7 calls. */
static inline const char *tmp_path(const char *name)
{
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

#endif
