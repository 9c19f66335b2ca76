/* Thread count for OpenMP regions. Results never depend on it: every chain or
 * sample owns its own Philox stream, so work can be split any way. */
#include <omp.h>

#include "kadanoff/core.h"

void kd_set_threads(int nthreads)
{
    if (nthreads <= 0)
        nthreads = omp_get_num_procs();
    omp_set_num_threads(nthreads);
}

int kd_get_threads(void) { return omp_get_max_threads(); }
