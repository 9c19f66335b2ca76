/* RBM flow: iterate v -> h -> v and measure every step (see kadanoff/flow.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/memory.h"
#include "kadanoff/flow.h"

/* Flow streams start above the trainer's tags (which use bits 56+) and below
 * them: 2^48 + (2n + {0,1}) · chains + row. */
#define FLOW_STREAM_BASE (1ULL << 48)

const char *kd_flow_mode_name(kd_flow_mode m)
{
    return m == KD_FLOW_MEAN_FIELD ? "mean-field" : "sample";
}

void kd_flow_options_init(kd_flow_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->steps = 40;
    opt->mode = KD_FLOW_SAMPLE;
    opt->seed = 1;
    opt->keep_every = 1;
}

void kd_flow_free(kd_flow *f)
{
    if (!f)
        return;
    free(f->energy);
    free(f->magnetization);
    free(f->correlation);
    free(f->correlation_err);
    free(f->kept_steps);
    free(f->spins);
    free(f->values);
    free(f->readout);
    free(f->class_T);
    free(f->probabilities);
    free(f->state);
    free(f);
}

kd_status kd_flow_alloc(kd_flow **out, const kd_lattice *lat, kd_flow_mode mode, int steps,
                        size_t chains, int nkept)
{
    *out = NULL;
    KD_CHECK(kd_lattice_validate(lat));
    if (steps < 0 || chains < 1 || nkept < 0 || nkept > steps + 1)
        KD_FAIL(KD_ERR_INVALID, "flow shape: steps = %d, chains = %zu, kept = %d, expected "
                                "steps >= 0, chains >= 1, 0 <= kept <= steps + 1",
                steps, chains, nkept);
    const size_t N = kd_lattice_size(lat), rows = (size_t)steps + 1;
    {
        /* Up front: per-step energies and magnetizations of every chain, G(r)
         * rows, the kept configurations (int8 or float) and the running state
         * (a few float copies of the chains' visible and hidden values). */
        double kept = (double)nkept * (double)chains * (double)N;
        double bytes = 16.0 * (double)rows * ((double)chains + kd_ising_correlation_len(lat)) +
                       kept * (mode == KD_FLOW_SAMPLE ? 1.0 : sizeof(float)) +
                       4.0 * sizeof(float) * (double)chains * (double)N;
        char what[160];
        snprintf(what, sizeof what, "a flow of %zu chains x %d steps (%d kept) on %zu sites",
                 chains, steps, nkept, N);
        KD_CHECK(kd_memory_check(bytes, what));
    }
    kd_flow *f = calloc(1, sizeof *f);
    if (!f)
        KD_FAIL(KD_ERR_NOMEM, "out of memory");
    f->lattice = *lat;
    f->mode = mode;
    f->steps = steps;
    f->steps_done = steps;
    f->chains = chains;
    f->nr = kd_ising_correlation_len(lat);
    f->nkept = nkept;
    f->energy = calloc(rows * chains, sizeof *f->energy);
    f->magnetization = calloc(rows * chains, sizeof *f->magnetization);
    f->correlation = calloc(rows * (size_t)f->nr, sizeof *f->correlation);
    f->correlation_err = calloc(rows * (size_t)f->nr, sizeof *f->correlation_err);
    f->kept_steps = calloc((size_t)nkept + 1, sizeof *f->kept_steps);
    if (mode == KD_FLOW_SAMPLE)
        f->spins = calloc((size_t)nkept * chains * N + 1, 1);
    else
        f->values = calloc((size_t)nkept * chains * N + 1, sizeof *f->values);
    if (!f->energy || !f->magnetization || !f->correlation || !f->correlation_err ||
        !f->kept_steps || (!f->spins && !f->values)) {
        kd_flow_free(f);
        KD_FAIL(KD_ERR_NOMEM, "out of memory for a flow of %zu chains × %d steps", chains, steps);
    }
    *out = f;
    return KD_OK;
}

static int kept(int step, int steps, int every)
{
    return step % every == 0 || step == steps;
}

void kd_flow_split_range(const kd_flow_split *sp, size_t chains, size_t *first)
{
    const int P = sp ? sp->size : 1;
    const size_t nb = (chains + KD_FLOW_BLOCK - 1) / KD_FLOW_BLOCK;
    for (int p = 0; p <= P; p++) {
        size_t c = KD_FLOW_BLOCK * (nb * (size_t)p / (size_t)P);
        first[p] = c < chains ? c : chains;
    }
}

/* Collective under a split: complete the rows of x on rank 0 (see kd_flow_split). */
static kd_status share(const kd_flow_split *sp, kd_status local, void *x, size_t row_bytes,
                       const size_t *first)
{
    if (!sp || sp->size == 1)
        return local;
    return sp->gather(sp->ctx, local, x, row_bytes, first);
}

/* One step v -> h -> v of the local chains [c0, c0 + nl) (v and h hold only
 * them), one block of KD_FLOW_BLOCK chains per RBM call whatever the split
 * (kd_flow_split: the shapes of the products, and so the bits, do not depend
 * on it). The blocks are independent and run on the OpenMP threads. */
static kd_status step_chains(const kd_rbm *rbm, float *v, float *h, size_t c0, size_t nl,
                             size_t chains, kd_rbm_mode mode, uint64_t seed, int n)
{
    const size_t N = (size_t)kd_rbm_nv(rbm), nh = (size_t)kd_rbm_nh(rbm);
    const uint64_t up = FLOW_STREAM_BASE + (uint64_t)(2 * n) * chains + c0,
                   down = up + chains;
    const long nb = (long)((nl + KD_FLOW_BLOCK - 1) / KD_FLOW_BLOCK);
    int failed = 0;
#pragma omp parallel for schedule(dynamic, 1) if (nb > 1) reduction(| : failed)
    for (long b = 0; b < nb; b++) {
        size_t a = (size_t)b * KD_FLOW_BLOCK, m = nl - a < KD_FLOW_BLOCK ? nl - a : KD_FLOW_BLOCK;
        kd_status st = kd_rbm_up(rbm, v + a * N, m, mode, seed, up + a, h + a * nh);
        if (st == KD_OK)
            st = kd_rbm_down(rbm, h + a * nh, m, mode, seed, down + a, v + a * N);
        failed |= st != KD_OK;
    }
    /* the passes fail only on shapes or modes that kd_flow_run excludes */
    if (failed)
        return kd_set_error(KD_ERR_INTERNAL, "flow step %d: an RBM pass failed", n);
    return KD_OK;
}

/* Measure the local chains [c0, c0 + nl) of step `step` from their visible
 * values v (unit scale): a record (e, m, G(0..nr-1)) per chain in rec (a row
 * of 2 + nr doubles per chain of the whole flow) and, at a kept step, the
 * chains' configurations in their rows of f->spins / f->values. */
static void measure_chains(kd_flow *f, int step, const float *v, size_t c0, size_t nl,
                           kd_units units, float *spin_scale, double *rec)
{
    const size_t N = kd_lattice_size(&f->lattice), C = f->chains, w = 2 + (size_t)f->nr;
    for (size_t k = 0; k < nl * N; k++)
        spin_scale[k] = units == KD_UNITS_BINARY ? 2.0f * v[k] - 1.0f : v[k];
#pragma omp parallel for schedule(static)
    for (size_t c = 0; c < nl; c++) {
        const float *s = spin_scale + c * N;
        double *r = rec + (c0 + c) * w;
        r[0] = kd_ising_energy_real(&f->lattice, s);
        r[1] = kd_ising_magnetization_real(&f->lattice, s);
        kd_ising_correlation_real(&f->lattice, s, r + 2);
    }
    for (int k = 0; k < f->nkept; k++)
        if (f->kept_steps[k] == step) {
            if (f->spins) /* sampled spin-scale values are exactly ±1 */
                for (size_t i = 0; i < nl * N; i++)
                    f->spins[((size_t)k * C + c0) * N + i] = spin_scale[i] > 0 ? 1 : -1;
            else
                memcpy(f->values + ((size_t)k * C + c0) * N, spin_scale,
                       nl * N * sizeof(float));
        }
}

/* The records of every chain (rank 0, or one process): per-chain energies and
 * magnetizations of step `step`, and G(r) as mean ± standard error over the
 * chains, added in chain order. */
static void reduce_step(kd_flow *f, int step, const double *rec)
{
    const size_t C = f->chains, nr = (size_t)f->nr, w = 2 + nr;
    for (size_t c = 0; c < C; c++) {
        f->energy[(size_t)step * C + c] = rec[c * w];
        f->magnetization[(size_t)step * C + c] = rec[c * w + 1];
    }
    for (size_t r = 0; r < nr; r++) {
        double sum = 0, sum2 = 0;
        for (size_t c = 0; c < C; c++) {
            double g = rec[c * w + 2 + r];
            sum += g;
            sum2 += g * g;
        }
        double mean = sum / (double)C, var = C > 1 ? (sum2 - sum * mean) / (double)(C - 1) : 0;
        f->correlation[(size_t)step * nr + r] = mean;
        f->correlation_err[(size_t)step * nr + r] = var > 0 ? sqrt(var / (double)C) : 0.0;
    }
}

/* Measure step `step` (collective under a split): local records, gathered
 * to rank 0 with the kept configurations, reduced there. `local` is this
 * process's status so far; the result is the job's. */
static kd_status measure(kd_flow *f, int step, kd_status local, const float *v,
                         const size_t *first, int rank, const kd_flow_split *sp, kd_units units,
                         float *spin_scale, double *rec)
{
    const size_t N = kd_lattice_size(&f->lattice), c0 = first[rank],
                 nl = first[rank + 1] - first[rank];
    if (local == KD_OK)
        measure_chains(f, step, v, c0, nl, units, spin_scale, rec);
    kd_status st = share(sp, local, rec, (2 + (size_t)f->nr) * sizeof(double), first);
    if (st != KD_OK)
        return st;
    for (int k = 0; k < f->nkept && st == KD_OK; k++)
        if (f->kept_steps[k] == step)
            st = f->spins ? share(sp, KD_OK, f->spins + (size_t)k * f->chains * N, N, first)
                          : share(sp, KD_OK, f->values + (size_t)k * f->chains * N,
                                  N * sizeof(float), first);
    if (st == KD_OK && rank == 0)
        reduce_step(f, step, rec);
    return st;
}

/* A partial flow `rs` can be continued by a run with these options: same
 * shape and seed, and its kept steps are this run's up to rs->steps_done. */
static kd_status check_resume(const kd_flow *rs, const kd_flow *f)
{
    const kd_lattice *a = &rs->lattice, *b = &f->lattice;
    if (rs->steps_done < 0 || rs->steps_done >= rs->steps || !rs->state)
        KD_FAIL(KD_ERR_INVALID, "flow resume: the flow to continue is not an interrupted one "
                                "(%d of %d steps done)", rs->steps_done, rs->steps);
    if (a->kind != b->kind || a->L != b->L || a->boundary != b->boundary || a->J != b->J ||
        a->field != b->field)
        KD_FAIL(KD_ERR_INVALID, "flow resume: the interrupted flow is on a %s lattice of L = %d, "
                                "J = %g, h = %g; this one on a %s lattice of L = %d, J = %g, h = %g",
                kd_lattice_kind_name(a->kind), a->L, a->J, a->field,
                kd_lattice_kind_name(b->kind), b->L, b->J, b->field);
    if (rs->mode != f->mode || rs->steps != f->steps || rs->chains != f->chains ||
        rs->seed != f->seed)
        KD_FAIL(KD_ERR_INVALID, "flow resume: the interrupted flow has mode %s, %d steps, %zu "
                                "chains, seed %llu; this run has mode %s, %d steps, %zu chains, "
                                "seed %llu",
                kd_flow_mode_name(rs->mode), rs->steps, rs->chains, (unsigned long long)rs->seed,
                kd_flow_mode_name(f->mode), f->steps, f->chains, (unsigned long long)f->seed);
    int k = 0;
    while (k < f->nkept && f->kept_steps[k] <= rs->steps_done)
        k++;
    int same = rs->nkept == k;
    for (int i = 0; same && i < k; i++)
        same = rs->kept_steps[i] == f->kept_steps[i];
    if (!same)
        KD_FAIL(KD_ERR_INVALID, "flow resume: the interrupted flow kept other steps than this run "
                                "would (another --keep-every?)");
    return KD_OK;
}

/* Copy the finished rows and kept configurations of `rs` into f (on rank 0:
 * the other processes return no flow), and the state of the local chains
 * [c0, c0 + nl) into v. */
static void copy_partial(kd_flow *f, const kd_flow *rs, int rank, size_t c0, size_t nl, float *v)
{
    const size_t C = f->chains, N = kd_lattice_size(&f->lattice), nr = (size_t)f->nr;
    const size_t rows = (size_t)rs->steps_done + 1, nk = (size_t)rs->nkept * C * N;
    if (rank == 0) {
        memcpy(f->energy, rs->energy, rows * C * sizeof *f->energy);
        memcpy(f->magnetization, rs->magnetization, rows * C * sizeof *f->magnetization);
        memcpy(f->correlation, rs->correlation, rows * nr * sizeof *f->correlation);
        memcpy(f->correlation_err, rs->correlation_err, rows * nr * sizeof *f->correlation_err);
        if (f->spins)
            memcpy(f->spins, rs->spins, nk);
        else
            memcpy(f->values, rs->values, nk * sizeof *f->values);
    }
    memcpy(v, rs->state + c0 * N, nl * N * sizeof *v);
}

/* The run was stopped after step n: hand the flow so far and v_n (gathered
 * from every process: v holds the local chains at row c0 of a chains × N
 * array) to *partial on rank 0. Collective under a split. */
static kd_status stop_after(kd_flow *f, int n, int nkept, float *vfull, const size_t *first,
                            int rank, const kd_flow_split *sp, kd_flow **partial)
{
    kd_status st = share(sp, KD_OK, vfull, kd_lattice_size(&f->lattice) * sizeof(float), first);
    if (st != KD_OK || rank != 0)
        return st;
    f->steps_done = n;
    f->state = vfull;
    f->nkept = 0;
    while (f->nkept < nkept && f->kept_steps[f->nkept] <= n)
        f->nkept++;
    *partial = f;
    return KD_OK;
}

kd_status kd_flow_run(const kd_rbm *rbm, const kd_lattice *lat, const int8_t *start,
                      size_t chains, const kd_flow_options *opt, kd_flow **out)
{
    *out = NULL;
    if (opt->partial)
        *opt->partial = NULL;
    KD_CHECK(kd_lattice_validate(lat));
    const size_t N = kd_lattice_size(lat);
    const int nv = kd_rbm_nv(rbm), nh = kd_rbm_nh(rbm);
    if ((size_t)nv != N)
        KD_FAIL(KD_ERR_INVALID, "the RBM has %d visible units but the %s lattice of L = %d has %zu spins",
                nv, kd_lattice_kind_name(lat->kind), lat->L, N);
    if (opt->steps < 1 || opt->steps > 1000000 || opt->keep_every < 1)
        KD_FAIL(KD_ERR_INVALID, "flow steps = %d, keep_every = %d; expected 1 <= steps <= 10^6 and keep_every >= 1",
                opt->steps, opt->keep_every);
    if (chains < 1 || (double)chains * 2.0 * (opt->steps + 1) >= (double)(1ULL << 47))
        KD_FAIL(KD_ERR_INVALID, "flow chains = %zu out of range", chains);
    const kd_flow_split *sp = opt->split && opt->split->size > 1 ? opt->split : NULL;
    if (sp && (sp->rank < 0 || sp->rank >= sp->size || !sp->gather))
        KD_FAIL(KD_ERR_INVALID, "flow split: process %d of %d, gather hook %s", sp->rank,
                sp->size, sp->gather ? "set" : "missing");
    const int rank = sp ? sp->rank : 0;
    size_t *first = malloc(((size_t)(sp ? sp->size : 1) + 1) * sizeof *first);
    if (!first)
        KD_FAIL(KD_ERR_NOMEM, "out of memory");
    kd_flow_split_range(sp, chains, first);
    const size_t c0 = first[rank], nl = first[rank + 1] - c0;
    int nkept = 0;
    for (int s = 0; s <= opt->steps; s++)
        nkept += kept(s, opt->steps, opt->keep_every);
    kd_flow *f;
    kd_status st = kd_flow_alloc(&f, lat, opt->mode, opt->steps, chains, nkept);
    if (st != KD_OK) {
        free(first);
        return st;
    }
    f->seed = opt->seed;
    for (int s = 0, k = 0; s <= opt->steps; s++)
        if (kept(s, opt->steps, opt->keep_every))
            f->kept_steps[k++] = s;

    const kd_units vu = kd_rbm_visible_units(rbm);
    /* v: all chains' rows (only the local ones are used: untouched pages of
     * calloc'ed memory cost nothing), so that a stop can gather the state */
    float *vfull = calloc(chains * N, sizeof *vfull), *v = vfull ? vfull + c0 * N : NULL;
    float *h = malloc((nl ? nl : 1) * (size_t)nh * sizeof *h);
    float *spin_scale = malloc((nl ? nl : 1) * N * sizeof *spin_scale);
    double *rec = calloc(chains * (2 + (size_t)f->nr), sizeof *rec);
    int first_step = 1;
    if (!vfull || !h || !spin_scale || !rec) {
        st = kd_set_error(KD_ERR_NOMEM, "out of memory for %zu flow chains", chains);
        goto done;
    }
    if (opt->resume) {
        /* every process reads the same checkpoint and fails the same check:
         * pass the failure through the split, which agrees it (one message) */
        if ((st = check_resume(opt->resume, f)) != KD_OK) {
            st = share(sp, st, rec, (2 + (size_t)f->nr) * sizeof(double), first);
            goto done;
        }
        copy_partial(f, opt->resume, rank, c0, nl, v);
        first_step = opt->resume->steps_done + 1;
    } else {
        for (size_t i = 0; i < chains * N; i++)
            if (start[i] != 1 && start[i] != -1) {
                st = kd_set_error(KD_ERR_INVALID, "start configuration %zu has spin %d at site %zu, expected ±1",
                                  i / N, start[i], i % N);
                goto done;
            }
        kd_rbm_spins_to_values(vu, start + c0 * N, nl * N, v);
        if ((st = measure(f, 0, KD_OK, v, first, rank, sp, vu, spin_scale, rec)) != KD_OK)
            goto done;
    }
    const kd_rbm_mode mode = opt->mode == KD_FLOW_MEAN_FIELD ? KD_RBM_MEAN : KD_RBM_SAMPLE;
    for (int n = first_step; n <= opt->steps; n++) {
        st = step_chains(rbm, v, h, c0, nl, chains, mode, opt->seed, n);
        if ((st = measure(f, n, st, v, first, rank, sp, vu, spin_scale, rec)) != KD_OK)
            goto done;
        /* a stop after the last step would save nothing worth resuming: finish */
        if (opt->progress && opt->progress((double)n / opt->steps, "flow", opt->progress_user) &&
            n < opt->steps) {
            if (opt->partial) { /* hand over the flow so far and v_n */
                if ((st = stop_after(f, n, nkept, vfull, first, rank, sp, opt->partial)) != KD_OK)
                    goto done;
                if (*opt->partial) /* rank 0: f and vfull now belong to *partial */
                    f = NULL, vfull = NULL;
            }
            st = kd_set_error(KD_ERR_CANCELLED, "flow cancelled at step %d", n);
            goto done;
        }
    }
done:
    free(first);
    free(vfull);
    free(h);
    free(spin_scale);
    free(rec);
    if (st != KD_OK || rank != 0) {
        kd_flow_free(f);
        return st;
    }
    *out = f;
    return KD_OK;
}

static void mean_err(const double *x, size_t n, int absolute, int square, double *mean, double *err)
{
    double sum = 0, sum2 = 0;
    for (size_t c = 0; c < n; c++) {
        double v = absolute ? fabs(x[c]) : x[c];
        if (square)
            v *= v;
        sum += v;
        sum2 += v * v;
    }
    *mean = sum / (double)n;
    double var = n > 1 ? (sum2 - sum * *mean) / (double)(n - 1) : 0;
    *err = var > 0 ? sqrt(var / (double)n) : 0;
}

void kd_flow_step_stats(const kd_flow *f, int step, kd_flow_stats *out)
{
    const double *e = f->energy + (size_t)step * f->chains;
    const double *m = f->magnetization + (size_t)step * f->chains;
    mean_err(e, f->chains, 0, 0, &out->e, &out->e_err);
    mean_err(m, f->chains, 1, 0, &out->abs_m, &out->abs_m_err);
    mean_err(m, f->chains, 0, 1, &out->m2, &out->m2_err);
}

void kd_flow_find_fixed_point(const kd_flow *f, kd_flow_fixed_point *out)
{
    kd_flow_stats last, s;
    kd_flow_step_stats(f, f->steps, &last);
    int n0 = f->steps;
    for (int n = f->steps - 1; n >= 0; n--) {
        kd_flow_step_stats(f, n, &s);
        double de = hypot(s.e_err, last.e_err), dm = hypot(s.abs_m_err, last.abs_m_err);
        if (fabs(s.e - last.e) > 3 * de || fabs(s.abs_m - last.abs_m) > 3 * dm)
            break;
        n0 = n;
    }
    memset(out, 0, sizeof *out);
    out->from_step = n0;
    out->converged = f->steps - n0 + 1 >= 3;
    /* per-chain plateau averages, then mean ± standard error over chains */
    const size_t C = f->chains;
    double *pe = malloc(C * sizeof *pe), *pm = malloc(C * sizeof *pm);
    if (!pe || !pm) {
        free(pe);
        free(pm);
        out->e = last.e, out->e_err = last.e_err, out->abs_m = last.abs_m, out->abs_m_err = last.abs_m_err;
        return;
    }
    int first = out->converged ? n0 : f->steps;
    for (size_t c = 0; c < C; c++) {
        double se = 0, sm = 0;
        for (int n = first; n <= f->steps; n++) {
            se += f->energy[(size_t)n * C + c];
            sm += fabs(f->magnetization[(size_t)n * C + c]);
        }
        pe[c] = se / (f->steps - first + 1);
        pm[c] = sm / (f->steps - first + 1);
    }
    mean_err(pe, C, 0, 0, &out->e, &out->e_err);
    mean_err(pm, C, 0, 0, &out->abs_m, &out->abs_m_err);
    free(pe);
    free(pm);
}
