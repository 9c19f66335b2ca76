/* libFuzzer target: the text parsers of the library — temperature lists
 * (kd_parse_temperatures: "0:6:0.25", "1,2,inf", mixes) and the names of
 * lattices, boundaries, algorithms, units, activations, optimisers and RBM
 * training settings. On success a temperature list must hold 1 to
 * KD_MAX_TEMPERATURES values, each >= 0 (inf allowed, never NaN). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "kadanoff/ising.h"
#include "kadanoff/nn.h"
#include "kadanoff/rbm.h"
#include "kadanoff/rbm_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The parsers take C strings: the input up to its first NUL. */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    double *T = NULL;
    size_t n = 0;
    if (kd_parse_temperatures(text, &T, &n) == KD_OK) {
        FUZZ_ASSERT(n >= 1 && n <= KD_MAX_TEMPERATURES, "%zu temperatures from '%s'", n, text);
        for (size_t i = 0; i < n; i++)
            FUZZ_ASSERT(T[i] >= 0, "temperature %zu is %g from '%s'", i, T[i], text);
        free(T);
    } else {
        FUZZ_ASSERT(T == NULL && n == 0, "failed parse left values behind");
    }

    /* Name parsers: a success must round-trip through the name function. */
    kd_lattice_kind kind;
    if (kd_lattice_kind_parse(text, &kind) == KD_OK)
        FUZZ_ASSERT(!strcmp(kd_lattice_kind_name(kind), text), "lattice '%s'", text);
    kd_boundary b;
    if (kd_boundary_parse(text, &b) == KD_OK)
        FUZZ_ASSERT(!strcmp(kd_boundary_name(b), text), "boundary '%s'", text);
    kd_algorithm alg;
    (void)kd_algorithm_parse(text, &alg);
    kd_units u;
    if (kd_units_parse(text, &u) == KD_OK)
        FUZZ_ASSERT(!strcmp(kd_units_name(u), text), "units '%s'", text);
    kd_activation act;
    (void)kd_activation_parse(text, &act);
    kd_optimizer opt;
    (void)kd_optimizer_parse(text, &opt);
    kd_rbm_method m;
    if (kd_rbm_method_parse(text, &m) == KD_OK)
        FUZZ_ASSERT(!strcmp(kd_rbm_method_name(m), text), "method '%s'", text);
    kd_rbm_optimizer ro;
    (void)kd_rbm_optimizer_parse(text, &ro);
    kd_rbm_schedule sc;
    (void)kd_rbm_schedule_parse(text, &sc);
    kd_rbm_mode mo;
    (void)kd_rbm_mode_parse(text, &mo);
    kd_rbm_init in;
    (void)kd_rbm_init_parse(text, &in);
    free(text);
    return 0;
}
