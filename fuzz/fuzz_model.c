/* libFuzzer target: RBM and DBN model files ("kadanoff-rbm", "kadanoff-dbn"),
 * through kd_model_file_read (which dispatches to kd_rbm_file_read or
 * kd_dbn_file_read by the format tag). On success: finite parameters, the
 * visible layer as large as the lattice, each DBN layer fed by the one below. */
#include <math.h>

#include "fuzz_common.h"
#include "kadanoff/rbm_file.h"

static void check_rbm(const kd_rbm *r, int64_t nv_want)
{
    FUZZ_ASSERT(kd_rbm_validate(r) == KD_OK, "accepted an invalid RBM: %s", kd_last_error());
    FUZZ_ASSERT(kd_rbm_nv(r) == nv_want, "nv %d, expected %lld", kd_rbm_nv(r),
                (long long)nv_want);
    const float *w = kd_rbm_weights(r);
    for (size_t i = 0; i < kd_rbm_nparams(r); i++)
        FUZZ_ASSERT(isfinite(w[i]), "parameter %zu is %g", i, (double)w[i]);
}

static void check_source(const kd_rbm_source *s)
{
    FUZZ_ASSERT(kd_lattice_validate(&s->lattice) == KD_OK, "invalid lattice accepted");
    for (size_t i = 0; i < s->ntemperatures; i++)
        FUZZ_ASSERT(!isnan(s->temperatures[i]), "source temperature %zu is NaN", i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_file(data, size);
    fuzz_handles_before();
    kd_rbm_file *rf = NULL;
    kd_dbn_file *df = NULL;
    kd_status s = kd_model_file_read(path, &rf, &df);
    if (s != KD_OK) {
        fuzz_expect_named_error(s, path, "kd_model_file_read");
        FUZZ_ASSERT(!rf && !df, "failed read left a model behind");
        fuzz_check_handles("model");
        return 0;
    }
    FUZZ_ASSERT(!rf != !df, "exactly one of the RBM and DBN results must be set");
    if (rf) {
        check_source(&rf->source);
        check_rbm(rf->model->rbm, (int64_t)kd_lattice_size(&rf->source.lattice));
        kd_rbm_file_free(rf);
        fuzz_check_handles("model");
        return 0;
    }
    check_source(&df->source);
    int64_t nv = (int64_t)kd_lattice_size(&df->source.lattice);
    for (int l = 0; l < df->depth; l++) {
        check_rbm(df->layers[l]->rbm, nv);
        nv = kd_rbm_nh(df->layers[l]->rbm);
    }
    kd_dbn *net = NULL;
    FUZZ_ASSERT(kd_dbn_file_network(df, &net) == KD_OK, "a DBN read cannot be assembled: %s",
                kd_last_error());
    kd_dbn_free(net);
    kd_dbn_file_free(df);
    fuzz_check_handles("model");
    return 0;
}
