/*
 * Checkpoints of `kadanoff sample` (interrupt and --resume).
 *
 * The unit of work is a temperature: chain c at temperature T draws from the
 * Philox stream keyed by (seed, T, c) and fills fixed rows, so a temperature's
 * rows and summary do not depend on which other temperatures are sampled
 * (include/kadanoff/sample.h). An interrupted run therefore saves the
 * temperatures that finished as an ordinary dataset FILE.ckpt; --resume samples
 * only the missing ones and merges, in the requested order, giving the
 * uninterrupted result bit for bit. The checkpoint's `command` attribute holds
 * a fingerprint of every parameter that changes the bits (hex floats, so it
 * is exact); a resume with other parameters is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sample_checkpoint.h"

void sample_fingerprint(const kd_sample_params *p, char *buf, size_t size)
{
    snprintf(buf, size,
             "kadanoff sample checkpoint v1: lattice=%s L=%d boundary=%s J=%a h=%a "
             "algorithm=%s seed=%llu samples=%zu chains=%d burn_in=%ld interval=%ld "
             "max_burn_in=%ld symmetrize=%d",
             kd_lattice_kind_name(p->lattice.kind), p->lattice.L,
             kd_boundary_name(p->lattice.boundary), p->lattice.J, p->lattice.field,
             kd_algorithm_name(p->algorithm), (unsigned long long)p->seed, p->samples, p->chains,
             p->burn_in, p->interval, p->max_burn_in, p->symmetrize);
}

/* Index of temperature T (bit-equal) in the summary of d, or -1. */
static long find_temp(const kd_dataset *d, double T)
{
    for (size_t j = 0; d && j < d->ntemps; j++)
        if (memcmp(&d->summary[j].T, &T, sizeof T) == 0)
            return (long)j;
    return -1;
}

int sample_checkpoint_check(const char *cmd, const char *path, const kd_dataset *ck,
                            const kd_sample_params *p)
{
    char want[1024];
    sample_fingerprint(p, want, sizeof want);
    if (strcmp(ck->command, want) != 0)
        return cli_fail(cmd,
                        "checkpoint '%s' was made with other parameters:\n  %s\nthis run has\n"
                        "  %s\n(resume with the options of the interrupted run, or delete it)",
                        path, ck->command, want);
    if (ck->ntemps == 0 || ck->n != ck->ntemps * p->samples)
        return cli_fail(cmd, "checkpoint '%s': expected %zu rows per temperature in /spins, found "
                        "%zu rows for %zu temperatures", path, p->samples, ck->n, ck->ntemps);
    for (size_t j = 0; j < ck->ntemps; j++) {
        int listed = 0;
        for (size_t t = 0; t < p->ntemps; t++)
            listed |= memcmp(&ck->summary[j].T, &p->temps[t], sizeof(double)) == 0;
        if (!listed)
            return cli_fail(cmd, "checkpoint '%s' holds T = %g, which is not in --temps", path,
                            ck->summary[j].T);
    }
    return CLI_OK;
}

size_t sample_missing_temps(const kd_dataset *ck, const double *temps, size_t nt, double *out)
{
    size_t k = 0;
    for (size_t t = 0; t < nt; t++)
        if (find_temp(ck, temps[t]) < 0)
            out[k++] = temps[t];
    return k;
}

kd_status sample_merge(const kd_dataset *a, const kd_dataset *b, const double *temps, size_t nt,
                       size_t per, kd_dataset **out)
{
    const kd_dataset *any = a ? a : b;
    const size_t N = kd_lattice_size(&any->lattice);
    size_t have = 0;
    for (size_t t = 0; t < nt; t++)
        have += find_temp(a, temps[t]) >= 0 || find_temp(b, temps[t]) >= 0;
    kd_dataset *d;
    kd_status st = kd_dataset_new(&d, &any->lattice, have * per, have, any->nr);
    if (st != KD_OK)
        return st;
    size_t k = 0;
    for (size_t t = 0; t < nt; t++) {
        const kd_dataset *src = find_temp(a, temps[t]) >= 0 ? a : b;
        long j = find_temp(src, temps[t]);
        if (j < 0)
            continue;
        size_t r0 = (size_t)j * per, nr = (size_t)any->nr;
        memcpy(d->spins + k * per * N, src->spins + r0 * N, per * N);
        memcpy(d->temperature + k * per, src->temperature + r0, per * sizeof(double));
        memcpy(d->energy + k * per, src->energy + r0, per * sizeof(double));
        memcpy(d->magnetization + k * per, src->magnetization + r0, per * sizeof(double));
        d->summary[k] = src->summary[j];
        memcpy(d->correlation + k * nr, src->correlation + (size_t)j * nr, nr * sizeof(double));
        memcpy(d->correlation_err + k * nr, src->correlation_err + (size_t)j * nr,
               nr * sizeof(double));
        k++;
    }
    memcpy(d->algorithm, any->algorithm, sizeof d->algorithm);
    d->seed = any->seed;
    memcpy(d->burn_in, any->burn_in, sizeof d->burn_in);
    memcpy(d->interval, any->interval, sizeof d->interval);
    d->samples_per_temperature = per;
    d->symmetrize = any->symmetrize;
    *out = d;
    return KD_OK;
}
