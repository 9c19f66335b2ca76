/* libFuzzer target: thermometer model files ("kadanoff-thermometer"), through
 * kd_thermometer_read. On success: finite weights, inputs = lattice sites,
 * class temperatures >= 0 and increasing, a history of epochs_done rows. */
#include <math.h>

#include "fuzz_common.h"
#include "kadanoff/nn.h"
#include "nn/nn_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_file(data, size);
    fuzz_handles_before();
    kd_thermometer *th = NULL;
    kd_status s = kd_thermometer_read(path, &th);
    if (s != KD_OK) {
        fuzz_expect_named_error(s, path, "kd_thermometer_read");
        FUZZ_ASSERT(th == NULL, "failed read left a thermometer behind");
        fuzz_check_handles("thermometer");
        return 0;
    }
    FUZZ_ASSERT((size_t)th->nin == kd_lattice_size(&th->lattice), "nin %d for %zu sites", th->nin,
                kd_lattice_size(&th->lattice));
    for (size_t i = 0; i < th->nparam; i++)
        FUZZ_ASSERT(isfinite(th->param[i]), "parameter %zu is %g", i, (double)th->param[i]);
    for (int k = 0; k < th->nclasses; k++)
        FUZZ_ASSERT(th->temps[k] >= 0 && (k == 0 || th->temps[k] > th->temps[k - 1]),
                    "class temperature %d is %g", k, th->temps[k]);
    FUZZ_ASSERT(th->best_epoch <= th->epochs_done, "best epoch %d of %d", th->best_epoch,
                th->epochs_done);
    kd_thermometer_info info;
    kd_thermometer_describe(th, &info);
    kd_thermometer_free(th);
    fuzz_check_handles("thermometer");
    return 0;
}
