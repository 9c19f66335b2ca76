/* The Ising lattice as attributes of an HDF5 object: every kadanoff file that
 * refers to a lattice (datasets, flows, models) stores it the same way. */
#include <inttypes.h>
#include <math.h>

#include "core/error.h"
#include "io/h5.h"

kd_status kd_h5_write_lattice(kd_h5 *f, const char *obj, const kd_lattice *lat)
{
    KD_CHECK(kd_h5_write_attr_string(f, obj, "lattice", kd_lattice_kind_name(lat->kind)));
    KD_CHECK(kd_h5_write_attr_int64(f, obj, "L", lat->L));
    KD_CHECK(kd_h5_write_attr_double(f, obj, "J", lat->J));
    KD_CHECK(kd_h5_write_attr_double(f, obj, "field", lat->field));
    KD_CHECK(kd_h5_write_attr_string(f, obj, "boundary", kd_boundary_name(lat->boundary)));
    return KD_OK;
}

kd_status kd_h5_read_lattice(kd_h5 *f, const char *obj, kd_lattice *lat)
{
    char kind[32], boundary[32];
    int64_t L;
    KD_CHECK(kd_h5_read_attr_string(f, obj, "lattice", kind, sizeof kind));
    if (kd_lattice_kind_parse(kind, &lat->kind) != KD_OK)
        KD_FAIL(KD_ERR_FORMAT, "%s: attribute 'lattice' is '%s', expected 'chain' or 'square'",
                f->path, kind);
    KD_CHECK(kd_h5_read_attr_string(f, obj, "boundary", boundary, sizeof boundary));
    if (kd_boundary_parse(boundary, &lat->boundary) != KD_OK)
        KD_FAIL(KD_ERR_FORMAT,
                "%s: attribute 'boundary' is '%s', expected 'periodic' or 'open'", f->path,
                boundary);
    KD_CHECK(kd_h5_read_attr_int64(f, obj, "L", &L));
    int maxL = lat->kind == KD_LATTICE_SQUARE ? KD_LATTICE_MAX_L_SQUARE : KD_LATTICE_MAX_L_CHAIN;
    if (L < 2 || L > maxL)
        KD_FAIL(KD_ERR_FORMAT, "%s: attribute 'L' is %" PRId64 ", expected 2..%d for a %s", f->path,
                L, maxL, kind);
    lat->L = (int)L;
    KD_CHECK(kd_h5_read_attr_double(f, obj, "J", &lat->J));
    KD_CHECK(kd_h5_read_attr_double(f, obj, "field", &lat->field));
    if (!isfinite(lat->J) || !isfinite(lat->field))
        KD_FAIL(KD_ERR_FORMAT, "%s: attributes J = %g, field = %g, expected finite numbers",
                f->path, lat->J, lat->field);
    return KD_OK;
}

