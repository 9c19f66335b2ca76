/*
 * Refusing up front what cannot fit in memory (internal).
 *
 * A request is sized in double precision (no integer overflow whatever the
 * factors: 10^9 samples of a 4096^2 lattice is 1.7e16 bytes, not a wrapped
 * size_t) and compared with the memory this process may use: 80% of the
 * physical memory, or of the address-space limit (ulimit -v) when that is
 * lower. Better a clear refusal with the size before hours of work than an
 * allocation failure, or the OOM killer, half way through.
 */
#ifndef KD_CORE_MEMORY_H
#define KD_CORE_MEMORY_H

#include "kadanoff/core.h"

/* Bytes this process may plan to use (see above); +inf if unknown. */
double kd_memory_budget(void);

/* KD_OK, or KD_ERR_NOMEM with "<what> would need X GiB of memory, more than
 * the Y GiB available (80% of ...)" when bytes exceed kd_memory_budget(). */
kd_status kd_memory_check(double bytes, const char *what);

#endif
