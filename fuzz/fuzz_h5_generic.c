/* libFuzzer target: any HDF5 file, read the way `kadanoff info` and
 * `kadanoff export` read a file of a format they do not know (src/io/h5.c):
 * kd_h5_open, the format tag, every root attribute as text, every dataset
 * described and, if numeric, loaded with kd_h5_read_alloc. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "io/h5.h"

/* Cap on a loaded array: the fuzzer's memory limit, not the CLI's. */
#define GENERIC_MAX_BYTES ((size_t)64 << 20)

static int print_attr(const char *name, void *user)
{
    kd_h5 *f = user;
    char value[256];
    kd_h5_attr_text(f, "/", name, value, sizeof value);
    FUZZ_ASSERT(memchr(value, 0, sizeof value) != NULL, "attribute text not terminated");
    return 0;
}

static int load_object(const char *path, const kd_h5_shape *shape, void *user)
{
    kd_h5 *f = user;
    char dims[200];
    if (!shape)
        return 0; /* a group */
    FUZZ_ASSERT(shape->rank >= 0 && shape->rank <= KD_H5_MAX_RANK, "rank %d", shape->rank);
    kd_h5_format_dims(shape->rank, shape->dims, dims, sizeof dims);
    if (shape->type == KD_H5_OTHER)
        return 0;
    void *data = NULL;
    kd_h5_shape got;
    kd_status s = kd_h5_read_alloc(f, path, shape->type, GENERIC_MAX_BYTES, &got, &data);
    if (s != KD_OK)
        fuzz_expect_named_error(s, f->path, "kd_h5_read_alloc");
    free(data);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_file(data, size);
    fuzz_handles_before();
    kd_h5 *f = NULL;
    kd_status s = kd_h5_open(&f, path);
    if (s != KD_OK) {
        fuzz_expect_named_error(s, path, "kd_h5_open");
        fuzz_check_handles("h5_generic");
        return 0;
    }
    char format[256];
    if (kd_h5_read_format(f, format, sizeof format) == KD_OK)
        FUZZ_ASSERT(strlen(format) < sizeof format, "format tag overflow");
    kd_h5_visit_attrs(f, "/", print_attr, f);
    kd_h5_visit(f, load_object, f);
    kd_h5_close(f);
    fuzz_check_handles("h5_generic");
    return 0;
}
