/* Memory budget for up-front size checks (see memory.h). */
#include <math.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/error.h"
#include "core/memory.h"

/* Physical memory in bytes, or +inf if the system does not say. */
static double physical(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : INFINITY;
}

/* The address-space limit (ulimit -v) in bytes, or +inf. */
static double address_limit(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_AS, &r) != 0 || r.rlim_cur == RLIM_INFINITY)
        return INFINITY;
    return (double)r.rlim_cur;
}

double kd_memory_budget(void) { return 0.8 * fmin(physical(), address_limit()); }

kd_status kd_memory_check(double bytes, const char *what)
{
    const double budget = kd_memory_budget(), gib = 1073741824.0;
    if (!(bytes > budget)) /* also accepts an unknown (inf) budget */
        return KD_OK;
    const int limited = address_limit() < physical();
    KD_FAIL(KD_ERR_NOMEM,
            "%s would need %.3g GiB of memory, more than the %.3g GiB available (80%% of the "
            "%s, %.3g GiB)",
            what, bytes / gib, budget / gib,
            limited ? "address-space limit (ulimit -v)" : "physical memory",
            budget / 0.8 / gib);
}
