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

/* Measure step `step` from visible values v (chains × N, unit scale). */
static void measure(kd_flow *f, int step, const float *v, kd_units units, float *spin_scale,
                    double *G)
{
    const size_t N = kd_lattice_size(&f->lattice), C = f->chains;
    const int nr = f->nr;
    for (size_t k = 0; k < C * N; k++)
        spin_scale[k] = units == KD_UNITS_BINARY ? 2.0f * v[k] - 1.0f : v[k];
#pragma omp parallel for schedule(static)
    for (size_t c = 0; c < C; c++) {
        const float *s = spin_scale + c * N;
        f->energy[(size_t)step * C + c] = kd_ising_energy_real(&f->lattice, s);
        f->magnetization[(size_t)step * C + c] = kd_ising_magnetization_real(&f->lattice, s);
        kd_ising_correlation_real(&f->lattice, s, G + c * (size_t)nr);
    }
    for (int r = 0; r < nr; r++) {
        double sum = 0, sum2 = 0;
        for (size_t c = 0; c < C; c++) {
            double g = G[c * (size_t)nr + (size_t)r];
            sum += g;
            sum2 += g * g;
        }
        double mean = sum / (double)C, var = C > 1 ? (sum2 - sum * mean) / (double)(C - 1) : 0;
        f->correlation[(size_t)step * (size_t)nr + (size_t)r] = mean;
        f->correlation_err[(size_t)step * (size_t)nr + (size_t)r] =
            var > 0 ? sqrt(var / (double)C) : 0.0;
    }
    /* keep the configurations if this step is one of the kept ones */
    for (int k = 0; k < f->nkept; k++)
        if (f->kept_steps[k] == step) {
            if (f->spins) /* sampled spin-scale values are exactly ±1 */
                for (size_t i = 0; i < C * N; i++)
                    f->spins[(size_t)k * C * N + i] = spin_scale[i] > 0 ? 1 : -1;
            else
                memcpy(f->values + (size_t)k * C * N, spin_scale, C * N * sizeof(float));
        }
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

/* Copy the finished rows, kept configurations and state of `rs` into f. */
static void copy_partial(kd_flow *f, const kd_flow *rs, float *v)
{
    const size_t C = f->chains, N = kd_lattice_size(&f->lattice), nr = (size_t)f->nr;
    const size_t rows = (size_t)rs->steps_done + 1, nk = (size_t)rs->nkept * C * N;
    memcpy(f->energy, rs->energy, rows * C * sizeof *f->energy);
    memcpy(f->magnetization, rs->magnetization, rows * C * sizeof *f->magnetization);
    memcpy(f->correlation, rs->correlation, rows * nr * sizeof *f->correlation);
    memcpy(f->correlation_err, rs->correlation_err, rows * nr * sizeof *f->correlation_err);
    if (f->spins)
        memcpy(f->spins, rs->spins, nk);
    else
        memcpy(f->values, rs->values, nk * sizeof *f->values);
    memcpy(v, rs->state, C * N * sizeof *v);
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
    int nkept = 0;
    for (int s = 0; s <= opt->steps; s++)
        nkept += kept(s, opt->steps, opt->keep_every);
    kd_flow *f;
    KD_CHECK(kd_flow_alloc(&f, lat, opt->mode, opt->steps, chains, nkept));
    f->seed = opt->seed;
    for (int s = 0, k = 0; s <= opt->steps; s++)
        if (kept(s, opt->steps, opt->keep_every))
            f->kept_steps[k++] = s;

    const kd_units vu = kd_rbm_visible_units(rbm);
    float *v = malloc(chains * N * sizeof *v), *h = malloc(chains * (size_t)nh * sizeof *h);
    float *spin_scale = malloc(chains * N * sizeof *spin_scale);
    double *G = malloc(chains * (size_t)f->nr * sizeof *G);
    kd_status st = KD_OK;
    int first = 1;
    if (!v || !h || !spin_scale || !G) {
        st = kd_set_error(KD_ERR_NOMEM, "out of memory for %zu flow chains", chains);
        goto done;
    }
    if (opt->resume) {
        if ((st = check_resume(opt->resume, f)) != KD_OK)
            goto done;
        copy_partial(f, opt->resume, v);
        first = opt->resume->steps_done + 1;
    } else {
        for (size_t i = 0; i < chains * N; i++)
            if (start[i] != 1 && start[i] != -1) {
                st = kd_set_error(KD_ERR_INVALID, "start configuration %zu has spin %d at site %zu, expected ±1",
                                  i / N, start[i], i % N);
                goto done;
            }
        kd_rbm_spins_to_values(vu, start, chains * N, v);
        measure(f, 0, v, vu, spin_scale, G);
    }
    const kd_rbm_mode mode = opt->mode == KD_FLOW_MEAN_FIELD ? KD_RBM_MEAN : KD_RBM_SAMPLE;
    for (int n = first; n <= opt->steps; n++) {
        uint64_t up = FLOW_STREAM_BASE + (uint64_t)(2 * n) * chains;
        st = kd_rbm_up(rbm, v, chains, mode, opt->seed, up, h);
        if (st == KD_OK)
            st = kd_rbm_down(rbm, h, chains, mode, opt->seed, up + chains, v);
        if (st != KD_OK)
            goto done;
        measure(f, n, v, vu, spin_scale, G);
        /* a stop after the last step would save nothing worth resuming: finish */
        if (opt->progress && opt->progress((double)n / opt->steps, "flow", opt->progress_user) &&
            n < opt->steps) {
            st = kd_set_error(KD_ERR_CANCELLED, "flow cancelled at step %d", n);
            if (opt->partial) { /* hand over the flow so far and v_n */
                f->steps_done = n;
                f->state = v;
                v = NULL;
                f->nkept = 0;
                while (f->nkept < nkept && f->kept_steps[f->nkept] <= n)
                    f->nkept++;
                *opt->partial = f;
                f = NULL;
            }
            goto done;
        }
    }
done:
    free(v);
    free(h);
    free(spin_scale);
    free(G);
    if (st != KD_OK) {
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
