/*
 * kd_sample with --algorithm multispin or multispin-heatbath: all chains of one temperature are the
 * replicas of one kd_multispin object (ceil(chains / 64) groups; the lanes past
 * `chains` are simulated and ignored). The protocol is kd_sample's (sample.h):
 *   - start: kd_multispin_set_ordered, each replica independently;
 *   - burn-in: fixed, or automatic on the replica-mean energy per spin
 *     ē(t) = (1/C) Σ_c e_c(t): for independent, identically distributed
 *     replicas ē has the same normalised autocorrelation function as one
 *     replica's e, hence the same τ_int, but its estimate is far less noisy,
 *     and the stationarity test on ē is √C times more sensitive to a common
 *     drift (the relaxation from the ordered start) than on one replica;
 *   - samples every `interval` sweeps, interval = max(1, ceil(2 τ_int)) if auto,
 *     all replicas at once (replica c fills chain c's rows in time order).
 * T = 0 and T = inf use kd_sampler's exact direct samplers, chain by chain,
 * exactly as the other algorithms do.
 *
 * Streams: group g of temperature T uses Philox stream base(T) + g with
 * base(T) = kd_sample_stream(T, 0) with its low 20 bits cleared (so the groups
 * of one temperature never reach another temperature's, nor the symmetrisation
 * streams with the top bit set). The dataset depends only on the parameters
 * and the seed: not on --threads, nor on which other temperatures are listed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ising/multispin_sample.h"
#include "kadanoff/multispin.h"
#include "kadanoff/observables.h"
#include "kadanoff/rng.h"

/* Store replica/chain c's k-th sample; symmetrise with the chain's flip stream. */
static void store(const kd_sample_params *p, kd_dataset *d, size_t row, const int8_t *s, double T,
                  kd_rng *flip)
{
    const size_t N = kd_lattice_size(&p->lattice);
    int8_t *dst = d->spins + row * N;
    memcpy(dst, s, N);
    if (p->symmetrize && (kd_rng_u32(flip) & 1u))
        for (size_t i = 0; i < N; i++)
            dst[i] = (int8_t)-dst[i];
    d->temperature[row] = T;
    d->energy[row] = kd_ising_energy(&p->lattice, dst);
    d->magnetization[row] = kd_ising_magnetization(&p->lattice, dst);
}

/* T = 0 or inf: independent exact samples, chain by chain (as run_chain). */
static kd_status exact_samples(const kd_sample_params *p, size_t t, kd_dataset *d,
                               kd_ms_poll_fn poll, void *ctx)
{
    const double T = p->temps[t];
    const size_t per = p->samples, C = (size_t)p->chains;
    for (size_t c = 0; c < C; c++) {
        const uint64_t stream = kd_sample_stream(T, (int)c);
        kd_sampler *S;
        KD_CHECK(kd_sampler_new(&S, &p->lattice, T, KD_ALGO_METROPOLIS, p->seed, stream));
        kd_rng flip;
        kd_rng_init(&flip, p->seed, stream | (1ULL << 63));
        const size_t lo = c * per / C, hi = (c + 1) * per / C;
        for (size_t k = lo; k < hi; k++) {
            kd_sampler_sweep(S, 1);
            store(p, d, t * per + k, kd_sampler_spins(S), T, &flip);
            if (poll(ctx, 1))
                break;
        }
        kd_sampler_free(S);
    }
    return KD_OK;
}

/* Mean energy per spin of the first C replicas. */
static double mean_energy(const kd_multispin *ms, double *e, size_t C)
{
    kd_multispin_energies(ms, e);
    double sum = 0;
    for (size_t c = 0; c < C; c++)
        sum += e[c];
    return sum / (double)C;
}

/* Automatic burn-in (sample.h) on ē. Returns the sweeps done. */
static kd_status auto_burn_in(kd_multispin *ms, const kd_sample_params *p, size_t C, double *tau,
                              int *ok, long *done, kd_ms_poll_fn poll, void *ctx)
{
    long window = 1000;
    double *e = malloc(kd_multispin_replicas(ms) * sizeof *e), *series = NULL;
    *ok = 0;
    *tau = 0.5;
    *done = 100;
    if (!e)
        KD_FAIL(KD_ERR_NOMEM, "out of memory for %zu replica energies", kd_multispin_replicas(ms));
    kd_status st = kd_multispin_sweep(ms, 100);
    while (st == KD_OK) {
        double *grown = realloc(series, (size_t)window * sizeof *series);
        if (!grown) {
            st = kd_set_error(KD_ERR_NOMEM, "out of memory for a burn-in window of %ld sweeps", window);
            break;
        }
        series = grown;
        int stop = 0;
        for (long k = 0; k < window && st == KD_OK && !stop; k++) {
            st = kd_multispin_sweep(ms, 1);
            series[k] = mean_energy(ms, e, C);
            if ((k & 63) == 0)
                stop = poll(ctx, 0);
        }
        if (stop || st != KD_OK)
            break;
        *done += window;
        int reliable = 0;
        size_t w;
        kd_tau_int(series, (size_t)window, 6.0, tau, &w, &reliable);
        if (reliable && *tau < (double)window / 50 &&
            kd_series_stationary(series, (size_t)window, 3.0)) {
            *ok = 1;
            break;
        }
        if (*done + 2 * window > p->max_burn_in)
            break;
        window *= 2;
    }
    free(series);
    free(e);
    return st;
}

kd_status kd_multispin_sample_temperature(const kd_sample_params *p, size_t t, kd_dataset *d,
                                          kd_ms_sample_info *info, kd_ms_poll_fn poll, void *ctx)
{
    const double T = p->temps[t];
    const size_t per = p->samples, C = (size_t)p->chains, N = kd_lattice_size(&p->lattice);
    memset(info, 0, sizeof *info);
    info->interval = 1;
    info->tau = 0.5;
    info->acceptance = 1;
    info->stationary = 1;
    if (T == 0 || isinf(T))
        return exact_samples(p, t, d, poll, ctx);

    const size_t G = (C + KD_MULTISPIN_GROUP - 1) / KD_MULTISPIN_GROUP;
    double *temps = malloc(G * sizeof *temps);
    int8_t *s = malloc(N);
    kd_rng *flip = malloc(C * sizeof *flip);
    if (!temps || !s || !flip) {
        free(temps);
        free(s);
        free(flip);
        KD_FAIL(KD_ERR_NOMEM, "out of memory for %zu chains", C);
    }
    for (size_t g = 0; g < G; g++)
        temps[g] = T;
    for (size_t c = 0; c < C; c++)
        kd_rng_init(&flip[c], p->seed, kd_sample_stream(T, (int)c) | (1ULL << 63));
    kd_multispin *ms = NULL;
    const uint64_t base = kd_sample_stream(T, 0) & ~(uint64_t)0xFFFFF;
    kd_status st = kd_multispin_new(&ms, &p->lattice, temps, G, p->seed, base);
    free(temps);
    if (st == KD_OK && p->algorithm == KD_ALGO_MULTISPIN_HEATBATH)
        st = kd_multispin_set_algorithm(ms, KD_ALGO_HEATBATH);
    long burn = 0, interval = 1;
    if (st == KD_OK) {
        kd_multispin_set_ordered(ms);
        if (p->burn_in >= 0) {
            for (long done = 0; done < p->burn_in && st == KD_OK; done += 16) {
                st = kd_multispin_sweep(ms, p->burn_in - done < 16 ? p->burn_in - done : 16);
                if (poll(ctx, 0))
                    break;
            }
            burn = p->burn_in;
        } else {
            st = auto_burn_in(ms, p, C, &info->tau, &info->stationary, &burn, poll, ctx);
        }
        interval = p->interval >= 1 ? p->interval : (long)fmax(1.0, ceil(2.0 * info->tau));
    }
    /* chain c stores hi_c - lo_c samples; all replicas advance together */
    const size_t most = (per + C - 1) / C;
    for (size_t k = 0; k < most && st == KD_OK; k++) {
        st = kd_multispin_sweep(ms, interval);
        size_t stored = 0;
        for (size_t c = 0; c < C && st == KD_OK; c++) {
            const size_t lo = c * per / C, hi = (c + 1) * per / C;
            if (lo + k >= hi)
                continue;
            kd_multispin_extract(ms, c, s);
            store(p, d, t * per + lo + k, s, T, &flip[c]);
            stored++;
        }
        if (poll(ctx, stored))
            break;
    }
    info->burn_in = (double)burn;
    info->interval = (double)interval;
    if (ms)
        info->acceptance = kd_multispin_acceptance(ms);
    kd_multispin_free(ms);
    free(s);
    free(flip);
    return st;
}
