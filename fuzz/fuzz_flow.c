/* libFuzzer target: flow files ("kadanoff-flow"), through kd_flow_read. On
 * success: spins ±1 (sample mode) or values in [-1, 1] (mean field), finite
 * energies and magnetizations, kept steps increasing within 0..steps. */
#include <math.h>

#include "fuzz_common.h"
#include "kadanoff/flow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_file(data, size);
    fuzz_handles_before();
    kd_flow *f = NULL;
    kd_status s = kd_flow_read(path, &f);
    if (s != KD_OK) {
        fuzz_expect_named_error(s, path, "kd_flow_read");
        FUZZ_ASSERT(f == NULL, "failed read left a flow behind");
        fuzz_check_handles("flow");
        return 0;
    }
    const size_t N = kd_lattice_size(&f->lattice), rows = (size_t)f->steps + 1;
    const size_t nconf = (size_t)f->nkept * f->chains * N;
    for (size_t i = 0; i < rows * f->chains; i++)
        FUZZ_ASSERT(isfinite(f->energy[i]) && isfinite(f->magnetization[i]),
                    "row/chain %zu: e = %g, m = %g", i, f->energy[i], f->magnetization[i]);
    for (int k = 0; k < f->nkept; k++)
        FUZZ_ASSERT(f->kept_steps[k] >= 0 && f->kept_steps[k] <= f->steps &&
                        (k == 0 || f->kept_steps[k] > f->kept_steps[k - 1]),
                    "kept step %d is %d", k, f->kept_steps[k]);
    for (size_t i = 0; f->spins && i < nconf; i++)
        FUZZ_ASSERT(f->spins[i] == 1 || f->spins[i] == -1, "spin %zu is %d", i, f->spins[i]);
    for (size_t i = 0; f->values && i < nconf; i++)
        FUZZ_ASSERT(fabsf(f->values[i]) <= 1.0f, "value %zu is %g", i, (double)f->values[i]);
    kd_flow_free(f);
    fuzz_check_handles("flow");
    return 0;
}
