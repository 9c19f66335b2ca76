/* libFuzzer target: dataset files ("kadanoff-dataset"), through
 * kd_dataset_read and kd_dataset_read_metadata. On success the contract of
 * dataset.h must hold: spins ±1, temperatures >= 0 or inf (or the "unknown"
 * label of model samples), finite energies, |m| <= 1. */
#include <math.h>
#include <string.h>

#include "fuzz_common.h"
#include "io/dataset_io.h"

static void check(const kd_dataset *d, int with_spins)
{
    const size_t N = kd_lattice_size(&d->lattice);
    FUZZ_ASSERT(kd_lattice_validate(&d->lattice) == KD_OK, "lattice accepted but invalid");
    for (size_t i = 0; with_spins && i < d->n * N; i++)
        FUZZ_ASSERT(d->spins[i] == 1 || d->spins[i] == -1, "spin %zu is %d", i, d->spins[i]);
    for (size_t i = 0; i < d->n; i++) {
        FUZZ_ASSERT(d->temperature[i] >= 0 || d->temperature[i] == KD_TEMPERATURE_UNKNOWN,
                    "temperature %zu is %g", i, d->temperature[i]);
        FUZZ_ASSERT(isfinite(d->energy[i]), "energy %zu is %g", i, d->energy[i]);
        FUZZ_ASSERT(fabs(d->magnetization[i]) <= 1, "m %zu is %g", i, d->magnetization[i]);
    }
    for (size_t t = 0; t < d->ntemps; t++)
        FUZZ_ASSERT(d->summary[t].T >= 0, "summary T %zu is %g", t, d->summary[t].T);
    FUZZ_ASSERT(memchr(d->algorithm, 0, sizeof d->algorithm) && memchr(d->command, 0, sizeof d->command),
                "unterminated provenance string");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_file(data, size);
    fuzz_handles_before();
    for (int with_spins = 1; with_spins >= 0; with_spins--) {
        kd_dataset *d = NULL;
        kd_status s = with_spins ? kd_dataset_read(path, &d) : kd_dataset_read_metadata(path, &d);
        if (s != KD_OK) {
            fuzz_expect_named_error(s, path, with_spins ? "kd_dataset_read" : "kd_dataset_read_metadata");
            FUZZ_ASSERT(d == NULL, "failed read left a dataset behind");
            continue;
        }
        check(d, with_spins);
        kd_dataset_free(d);
    }
    fuzz_check_handles("dataset");
    return 0;
}
