/*
 * Multi-temperature sampling driver (see include/kadanoff/sample.h for the
 * protocol): chains run in parallel with OpenMP, each with its own Philox
 * stream and its own rows of the output, so threads never change the result.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/memory.h"
#include "ising/multispin_sample.h"
#include "kadanoff/observables.h"
#include "kadanoff/rng.h"
#include "kadanoff/sample.h"

/* On the 2×2 torus a site's four bonds go to two sites, twice each; with
 * h = 0 the stripe states give every site of a sublattice zero field, so
 * checkerboard Metropolis flips them with probability 1, around a closed
 * cycle it never leaves: its averages are biased there (heat-bath and Wolff
 * are not). From L = 4 on the kernels' transition matrix is checked exactly
 * (tests/test_multispin.c). */
static int metropolis_not_ergodic(const kd_lattice *lat)
{
    return lat->kind == KD_LATTICE_SQUARE && lat->L == 2 &&
           lat->boundary == KD_BOUNDARY_PERIODIC && lat->field == 0;
}

kd_algorithm kd_sample_default_algorithm(const kd_lattice *lat, int chains)
{
    if (lat->field != 0)
        return KD_ALGO_METROPOLIS;
    if (chains >= 256 && lat->kind == KD_LATTICE_SQUARE && lat->boundary == KD_BOUNDARY_PERIODIC &&
        lat->L % 2 == 0 && lat->L <= 256 && !metropolis_not_ergodic(lat))
        return KD_ALGO_MULTISPIN;
    return KD_ALGO_WOLFF;
}

void kd_sample_params_init(kd_sample_params *p)
{
    memset(p, 0, sizeof *p);
    p->lattice = (kd_lattice){KD_LATTICE_SQUARE, 10, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    p->samples = 1000;
    p->chains = 1;
    p->algorithm = KD_ALGO_METROPOLIS;
    p->seed = 1;
    p->burn_in = -1;
    p->interval = -1;
    p->max_burn_in = 1000000;
}

/* SplitMix64 finaliser: a bijective mixer of 64-bit words. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t kd_sample_stream(double T, int chain)
{
    uint64_t bits;
    memcpy(&bits, &T, sizeof bits);
    /* top bit cleared: streams with it set are reserved for symmetrisation */
    return mix64(bits ^ mix64((uint64_t)chain + 1)) & ~(1ULL << 63);
}

/* What one chain reports back for the summary; `complete`: it stored all its
 * samples (no cancellation was seen before it returned). */
typedef struct {
    double burn_in, interval, tau, acceptance;
    int stationary, complete;
} chain_info;

/* Shared progress state: completed samples over all chains. */
typedef struct {
    const kd_sample_params *p;
    size_t total, done;
    double last;
    int cancelled;
} progress_state;

/* Count `add` finished samples; on thread 0, at most every 0.1 s, pass the
 * fraction to the progress callback, whose nonzero answer cancels all chains.
 * Called with add = 0 during burn-in so cancellation is noticed there too. */
static void report(progress_state *ps, size_t add)
{
    size_t done;
#pragma omp atomic capture
    done = ps->done += add;
    if (!ps->p->progress || omp_get_thread_num() != 0)
        return;
    double now = omp_get_wtime();
    if (now - ps->last < 0.1 && done < ps->total)
        return;
    ps->last = now;
    if (ps->p->progress((double)done / (double)ps->total, "sampling", ps->p->progress_user)) {
#pragma omp atomic write
        ps->cancelled = 1;
    }
}

static int cancelled(progress_state *ps)
{
    int c;
#pragma omp atomic read
    c = ps->cancelled;
    return c;
}

/* Automatic burn-in (protocol in sample.h). Returns sweeps done, sets *tau. */
static long auto_burn_in(kd_sampler *S, const kd_sample_params *p, double *tau, int *ok,
                         progress_state *ps)
{
    const kd_lattice *lat = kd_sampler_lattice(S);
    long done = 100, window = 1000;
    kd_sampler_sweep(S, 100);
    *ok = 0;
    *tau = 0.5;
    double *e = malloc((size_t)window * sizeof *e);
    for (;;) {
        double *grown = realloc(e, (size_t)window * sizeof *e);
        if (!grown)
            break;
        e = grown;
        for (long k = 0; k < window; k++) {
            kd_sampler_sweep(S, 1);
            e[k] = kd_ising_energy(lat, kd_sampler_spins(S));
            if ((k & 63) == 0) {
                report(ps, 0);
                if (cancelled(ps))
                    break;
            }
        }
        if (cancelled(ps))
            break;
        done += window;
        int reliable = 0;
        size_t w;
        kd_tau_int(e, (size_t)window, 6.0, tau, &w, &reliable);
        if (reliable && *tau < (double)window / 50 && kd_series_stationary(e, (size_t)window, 3.0)) {
            *ok = 1;
            break;
        }
        if (done + 2 * window > p->max_burn_in)
            break;
        window *= 2;
    }
    free(e);
    return done;
}

static kd_status run_chain(const kd_sample_params *p, size_t ti, int c, size_t row0,
                           size_t count, kd_dataset *d, chain_info *info, progress_state *ps)
{
    const double T = p->temps[ti];
    const size_t N = kd_lattice_size(&p->lattice);
    const uint64_t stream = kd_sample_stream(T, c);
    kd_sampler *S;
    KD_CHECK(kd_sampler_new(&S, &p->lattice, T, p->algorithm, p->seed, stream));
    kd_rng flip;
    kd_rng_init(&flip, p->seed, stream | (1ULL << 63));

    int finite = T > 0 && !isinf(T);
    long burn = 0, interval = 1;
    double tau = 0.5;
    int stationary = 1;
    if (finite) {
        kd_sampler_set_ordered(S);
        if (p->burn_in >= 0) {
            for (long done = 0; done < p->burn_in && !cancelled(ps); done += 64) {
                kd_sampler_sweep(S, p->burn_in - done < 64 ? p->burn_in - done : 64);
                report(ps, 0);
            }
            burn = p->burn_in;
        } else {
            burn = auto_burn_in(S, p, &tau, &stationary, ps);
        }
        interval = p->interval >= 1 ? p->interval : (long)fmax(1.0, ceil(2.0 * tau));
    }
    for (size_t k = 0; k < count; k++) {
        if (cancelled(ps))
            break;
        kd_sampler_sweep(S, interval);
        size_t row = row0 + k;
        int8_t *dst = d->spins + row * N;
        memcpy(dst, kd_sampler_spins(S), N);
        if (p->symmetrize && (kd_rng_u32(&flip) & 1u))
            for (size_t i = 0; i < N; i++)
                dst[i] = (int8_t)-dst[i];
        d->temperature[row] = T;
        d->energy[row] = kd_ising_energy(&p->lattice, dst);
        d->magnetization[row] = kd_ising_magnetization(&p->lattice, dst);
        report(ps, 1);
    }
    info->burn_in = (double)burn;
    info->interval = (double)interval;
    info->tau = tau;
    info->acceptance = kd_sampler_acceptance(S);
    info->stationary = stationary;
    kd_sampler_free(S);
    return KD_OK;
}

/* ---- multispin hook (the runner is in multispin_sample.c) ---- */
static int multispin_poll(void *ctx, size_t add)
{
    report(ctx, add);
    return cancelled(ctx);
}
/* ---- end of multispin hook ---- */

size_t kd_sample_nitems(const kd_sample_params *p)
{
    return kd_algorithm_is_multispin(p->algorithm) ? p->ntemps : p->ntemps * (size_t)p->chains;
}

void kd_sample_item(const kd_sample_params *p, size_t item, size_t *row0, size_t *nrows,
                    size_t *chain0, size_t *nchains)
{
    const size_t per = p->samples, C = (size_t)p->chains;
    if (kd_algorithm_is_multispin(p->algorithm)) {
        *row0 = item * per;
        *nrows = per;
        *chain0 = item * C;
        *nchains = C;
        return;
    }
    size_t t = item / C, c = item % C, lo = c * per / C, hi = (c + 1) * per / C;
    *row0 = t * per + lo;
    *nrows = hi - lo;
    *chain0 = item;
    *nchains = 1;
}

static kd_status check_params(const kd_sample_params *p)
{
    KD_CHECK(kd_lattice_validate(&p->lattice));
    if (!p->temps || p->ntemps == 0)
        KD_FAIL(KD_ERR_INVALID, "no temperatures given, expected at least one");
    for (size_t i = 0; i < p->ntemps; i++) {
        if (!(p->temps[i] >= 0))
            KD_FAIL(KD_ERR_INVALID, "temperature %g is invalid, expected T >= 0 or inf", p->temps[i]);
        for (size_t j = 0; j < i; j++)
            if (p->temps[j] == p->temps[i])
                KD_FAIL(KD_ERR_INVALID, "temperature %g appears twice in the list", p->temps[i]);
    }
    if (p->samples < 1)
        KD_FAIL(KD_ERR_INVALID, "samples per temperature must be >= 1");
    if (p->chains < 1 || (size_t)p->chains > p->samples)
        KD_FAIL(KD_ERR_INVALID, "chains = %d, expected 1 <= chains <= samples per temperature (%zu)",
                p->chains, p->samples);
    if (p->burn_in < -1 || p->interval < -1 || p->interval == 0)
        KD_FAIL(KD_ERR_INVALID, "burn-in must be >= 0 and interval >= 1 (or auto)");
    if (p->max_burn_in < 1000)
        KD_FAIL(KD_ERR_INVALID, "max burn-in %ld is below the minimum window of 1000 sweeps",
                p->max_burn_in);
    if (p->symmetrize && p->lattice.field != 0)
        KD_FAIL(KD_ERR_INVALID,
                "--symmetrize needs h = 0: a global flip is a symmetry only without a field");
    if (p->algorithm == KD_ALGO_WOLFF && p->lattice.field != 0)
        KD_FAIL(KD_ERR_UNSUPPORTED, "the Wolff algorithm needs zero field (h = %g given)",
                p->lattice.field);
    if (p->split && (p->split->size < 1 || p->split->rank < 0 ||
                     p->split->rank >= p->split->size || !p->split->combine))
        KD_FAIL(KD_ERR_INVALID, "process split %d of %d, expected 0 <= rank < size and a combine "
                                "function", p->split->rank, p->split->size);
    /* Refuse up front what cannot fit in memory: the dataset (spins, three
     * doubles per row) and the correlation rows G. */
    double bytes = (double)p->ntemps * (double)p->samples *
                   ((double)kd_lattice_size(&p->lattice) + 3 * sizeof(double) +
                    (double)kd_ising_correlation_len(&p->lattice) * sizeof(double));
    char what[128];
    snprintf(what, sizeof what, "the dataset of %zu x %zu configurations of %zu spins",
             p->ntemps, p->samples, kd_lattice_size(&p->lattice));
    KD_CHECK(kd_memory_check(bytes, what));
    return KD_OK;
}

/* The provenance attributes of a dataset made by kd_sample. */
static void set_provenance(kd_dataset *d, const kd_sample_params *p)
{
    snprintf(d->algorithm, sizeof d->algorithm, "%s", kd_algorithm_name(p->algorithm));
    d->seed = p->seed;
    if (p->burn_in < 0)
        snprintf(d->burn_in, sizeof d->burn_in, "auto");
    else
        snprintf(d->burn_in, sizeof d->burn_in, "%ld", p->burn_in);
    if (p->interval < 0)
        snprintf(d->interval, sizeof d->interval, "auto");
    else
        snprintf(d->interval, sizeof d->interval, "%ld", p->interval);
    d->samples_per_temperature = p->samples;
    d->symmetrize = p->symmetrize;
}

kd_status kd_sample(const kd_sample_params *p, kd_dataset **out)
{
    *out = NULL;
    if (p->partial)
        *p->partial = NULL;
    KD_CHECK(check_params(p));
    if ((p->algorithm == KD_ALGO_METROPOLIS || p->algorithm == KD_ALGO_MULTISPIN) &&
        metropolis_not_ergodic(&p->lattice))
        kd_log(KD_LOG_WARN, "checkerboard Metropolis is not ergodic on the 2x2 torus with h = 0; "
                            "its averages are biased there (use --algorithm heatbath or wolff)");
    const size_t nt = p->ntemps, per = p->samples, C = (size_t)p->chains;
    const size_t N = kd_lattice_size(&p->lattice);
    const int nr = kd_ising_correlation_len(&p->lattice);
    kd_dataset *d;
    KD_CHECK(kd_dataset_new(&d, &p->lattice, nt * per, nt, nr));
    chain_info *info = calloc(nt * C, sizeof *info);
    kd_status *status = calloc(nt * C, sizeof *status);
    double *G = malloc(nt * per * (size_t)nr * sizeof *G);
    if (!info || !status || !G) {
        free(info);
        free(status);
        free(G);
        kd_dataset_free(d);
        KD_FAIL(KD_ERR_NOMEM, "out of memory for %zu configurations", nt * per);
    }
    progress_state ps = {p, nt * per, 0, -1.0, 0};

    /* Split over processes (kd_sample_split): this process runs the items it owns. */
    const int rank = p->split ? p->split->rank : 0, size = p->split ? p->split->size : 1;

    /* ---- multispin hook: the C chains of a temperature are the replicas of one
     * bit-packed object (multispin_sample.c), filling the same rows. With fewer
     * temperatures than threads, each object splits its rows over the threads
     * instead; the result is the same. ---- */
    if (kd_algorithm_is_multispin(p->algorithm)) {
#pragma omp parallel for schedule(dynamic, 1) if (nt >= (size_t)kd_get_threads())
        for (size_t t = 0; t < nt; t++) {
            if (t % (size_t)size != (size_t)rank)
                continue;
            kd_ms_sample_info mi;
            status[t * C] = kd_multispin_sample_temperature(p, t, d, &mi, multispin_poll, &ps);
            /* The cancel flag never resets: unset after the return means the
             * temperature ran to the end. */
            int complete = !cancelled(&ps);
            for (size_t c = 0; c < C; c++)
                info[t * C + c] = (chain_info){mi.burn_in, mi.interval, mi.tau, mi.acceptance,
                                               mi.stationary, complete};
        }
    } else /* ---- end of multispin hook ---- */
    /* One task per (temperature, chain); chain c of temperature t fills rows
     * t·per + [c·per/C, (c+1)·per/C). */
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t task = 0; task < nt * C; task++) {
        if (task % (size_t)size != (size_t)rank)
            continue;
        size_t row0, nrows, chain0, nchains;
        kd_sample_item(p, task, &row0, &nrows, &chain0, &nchains);
        status[task] = run_chain(p, task / C, (int)(task % C), row0, nrows, d, &info[task], &ps);
        info[task].complete = !cancelled(&ps); /* as above: the flag never resets */
    }
    kd_status st = KD_OK;
    for (size_t task = 0; task < nt * C && st == KD_OK; task++)
        st = status[task];
    int was_cancelled = st == KD_OK && ps.cancelled;
    if (p->split) {
        /* Split over processes: combine gathers the rows and the chain records
         * (with their `complete` flags) on rank 0, also after a cancellation,
         * which rank 0 then sees as chains that did not complete, whichever
         * process ran them. */
        st = p->split->combine(p->split->ctx, st, d, info, sizeof *info, nt * C);
        if (st == KD_OK && rank != 0) { /* rank 0 holds the rows and writes the summary */
            free(info);
            free(status);
            free(G);
            kd_dataset_free(d);
            return was_cancelled ? kd_set_error(KD_ERR_CANCELLED, "sampling cancelled") : KD_OK;
        }
        for (size_t i = 0; st == KD_OK && i < nt * C; i++)
            was_cancelled |= !info[i].complete;
    }

    /* The temperatures to summarise: all of them, or after a cancellation those
     * whose chains all completed, their rows moved down to slots 0, 1, ...
     * (a slot never moves up, so memmove in increasing order is safe). */
    size_t *keep = malloc(nt * sizeof *keep), nk = 0;
    if (!keep)
        st = kd_set_error(KD_ERR_NOMEM, "out of memory");
    for (size_t t = 0; st == KD_OK && t < nt; t++) {
        int complete = 1;
        for (size_t c = 0; c < C; c++)
            complete &= info[t * C + c].complete;
        if (was_cancelled && !complete)
            continue;
        if (nk != t) {
            memmove(d->spins + nk * per * N, d->spins + t * per * N, per * N);
            memmove(d->temperature + nk * per, d->temperature + t * per, per * sizeof(double));
            memmove(d->energy + nk * per, d->energy + t * per, per * sizeof(double));
            memmove(d->magnetization + nk * per, d->magnetization + t * per,
                    per * sizeof(double));
        }
        keep[nk++] = t;
    }
    d->n = nk * per;
    d->ntemps = nk;

    /* Correlation functions, then the per-temperature summary. */
    if (st == KD_OK) {
#pragma omp parallel for schedule(static)
        for (size_t row = 0; row < nk * per; row++)
            kd_ising_correlation(&p->lattice, d->spins + row * N, G + row * (size_t)nr);
        for (size_t j = 0; j < nk && st == KD_OK; j++) {
            size_t t = keep[j], r0 = j * per;
            kd_temp_summary *sm = &d->summary[j];
            st = kd_observables_summarize(&p->lattice, p->temps[t], d->energy + r0,
                                          d->magnetization + r0, G + r0 * (size_t)nr, per, nr, sm,
                                          d->correlation + j * (size_t)nr,
                                          d->correlation_err + j * (size_t)nr);
            sm->burn_in = sm->interval = sm->tau_e = sm->acceptance = 0;
            for (size_t c = 0; c < C; c++) {
                const chain_info *ci = &info[t * C + c];
                sm->burn_in += ci->burn_in / (double)C;
                sm->interval = fmax(sm->interval, ci->interval);
                sm->tau_e += ci->tau / (double)C;
                sm->acceptance += ci->acceptance / (double)C;
                if (!ci->stationary && !kd_algorithm_is_multispin(p->algorithm))
                    kd_log(KD_LOG_WARN,
                           "T = %g chain %zu: energy not demonstrably stationary after %.0f sweeps "
                           "of burn-in (raise --max-burn-in)",
                           p->temps[t], c, ci->burn_in);
            }
            /* multispin: one burn-in for all the replicas, one warning */
            if (kd_algorithm_is_multispin(p->algorithm) && !info[t * C].stationary)
                kd_log(KD_LOG_WARN,
                       "T = %g: replica-mean energy of the %zu chains not demonstrably "
                       "stationary after %.0f sweeps of burn-in (raise --max-burn-in)",
                       p->temps[t], C, info[t * C].burn_in);
            if (p->burn_in >= 0 && sm->tau_e_samples > 1.0)
                kd_log(KD_LOG_WARN,
                       "T = %g: stored samples are correlated (τ_int = %.1f samples); "
                       "a larger --interval would make them independent",
                       p->temps[t], sm->tau_e_samples);
        }
    }
    free(keep);
    if (st == KD_OK && was_cancelled) {
        if (p->partial && nk > 0) {
            set_provenance(d, p);
            *p->partial = d;
            d = NULL;
        }
        st = kd_set_error(KD_ERR_CANCELLED, "sampling cancelled");
    }
    free(info);
    free(status);
    free(G);
    if (st != KD_OK) {
        kd_dataset_free(d); /* NULL if handed over as the partial result */
        return st;
    }
    set_provenance(d, p);
    *out = d;
    return KD_OK;
}
