/*
 * The multi-temperature sampling driver: reproducibility for any thread count,
 * per-temperature summaries against exact results, the automatic burn-in and
 * interval, symmetrisation, T = 0 / inf, and parameter checks.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kadanoff/kadanoff.h"
#include "testing.h"

/* Defaults (kd_sample_params_init) with an L × L lattice, the given
 * temperatures and samples per temperature. */
static kd_sample_params params(int L, const double *temps, size_t ntemps, size_t samples)
{
    kd_sample_params p;
    kd_sample_params_init(&p);
    p.lattice.L = L;
    p.temps = temps;
    p.ntemps = ntemps;
    p.samples = samples;
    return p;
}

static kd_dataset *run(kd_sample_params *p, int threads)
{
    kd_set_threads(threads);
    kd_dataset *d = NULL;
    kd_status st = kd_sample(p, &d);
    kd_test(st == KD_OK, "kd_sample with %d thread(s): %s", threads, st ? kd_last_error() : "ok");
    return d;
}

static void test_threads_identical(void)
{
    static const double temps[] = {1.5, 2.27, 3.0, 0.0, INFINITY};
    for (int algo = 0; algo < 3; algo++) {
        kd_sample_params p = params(8, temps, 5, 60);
        p.chains = 3;
        p.algorithm = (kd_algorithm)algo;
        p.seed = 99;
        p.symmetrize = 1;
        kd_dataset *a = run(&p, 1), *b = run(&p, 2);
        if (!a || !b)
            return;
        size_t bytes = a->n * kd_lattice_size(&a->lattice);
        kd_test(a->n == b->n && !memcmp(a->spins, b->spins, bytes) &&
                    !memcmp(a->energy, b->energy, a->n * sizeof(double)),
                "%s: spins and energies byte-identical with 1 and 2 threads",
                kd_algorithm_name((kd_algorithm)algo));
        p.seed = 100;
        kd_dataset *c = run(&p, 2);
        kd_test(c && memcmp(a->spins, c->spins, bytes) != 0, "another seed gives other spins");
        kd_dataset_free(a);
        kd_dataset_free(b);
        kd_dataset_free(c);
    }
    /* A temperature's chains do not depend on the other temperatures in the list. */
    static const double one[] = {2.27};
    kd_sample_params p = params(8, temps, 3, 40);
    kd_dataset *all = run(&p, 2);
    p.temps = one;
    p.ntemps = 1;
    kd_dataset *single = run(&p, 2);
    if (all && single)
        kd_test(!memcmp(all->spins + 40 * 64, single->spins, 40 * 64),
                "T = 2.27 rows are the same alone and within a list");
    kd_dataset_free(all);
    kd_dataset_free(single);
}

static void test_summary_vs_kaufman(void)
{
    /* Samples spaced by 2τ_int are nearly independent; the jackknife errors of the
     * summary still cover residual correlation. 4σ: 12 comparisons here. */
    static const double temps[] = {1.5, 2.269185314213022, 3.5};
    for (int algo = 0; algo < 3; algo += 2) {
        kd_sample_params p = params(10, temps, 3, 4000);
        p.algorithm = (kd_algorithm)algo;
        p.seed = 5;
        kd_dataset *d = run(&p, 2);
        if (!d)
            return;
        for (size_t t = 0; t < 3; t++) {
            const kd_temp_summary *s = &d->summary[t];
            kd_thermo ex;
            kd_kaufman_torus(10, 1.0, temps[t], &ex);
            char what[96];
            snprintf(what, sizeof what, "%s summary T=%.4g ⟨e⟩ (interval %.0f, τ %.2f)",
                     kd_algorithm_name((kd_algorithm)algo), temps[t], s->interval, s->tau_e);
            kd_test_sigma(s->e, s->e_err, ex.e, 4.0, what);
            snprintf(what, sizeof what, "%s summary T=%.4g c", kd_algorithm_name((kd_algorithm)algo),
                     temps[t]);
            kd_test_sigma(s->c, s->c_err, ex.c, 4.0, what);
            /* auto interval = ceil(2τ) makes stored samples nearly independent:
             * their own τ_int (in samples) should be close to ½; 1.5 allows for
             * the estimator's noise at n = 4000. */
            kd_test(s->tau_e_samples < 1.5, "T=%.4g stored samples nearly independent (τ = %.2f samples)",
                    temps[t], s->tau_e_samples);
            kd_test(s->burn_in >= 1100 && s->interval >= 1, "T=%.4g burn-in %.0f, interval %.0f recorded",
                    temps[t], s->burn_in, s->interval);
        }
        kd_dataset_free(d);
    }
}

static void test_special_and_symmetrize(void)
{
    static const double temps[] = {0.0, INFINITY, 1.0};
    kd_sample_params p = params(6, temps, 3, 400);
    p.symmetrize = 1;
    kd_dataset *d = run(&p, 2);
    if (!d)
        return;
    int zero_ok = 1, pos = 0;
    for (size_t i = 0; i < 400; i++) {
        zero_ok &= d->energy[i] == -2.0 && fabs(d->magnetization[i]) == 1.0;
        pos += d->magnetization[800 + i] > 0;
    }
    kd_test(zero_ok, "T=0 rows are ground states");
    /* T=1 chain stays in one phase; symmetrize makes the sign a fair coin:
     * 400 flips, 5σ = 50 */
    kd_test(abs(pos - 200) < 50, "symmetrize: %d of 400 T=1 configurations positive", pos);
    kd_test(d->summary[1].T == INFINITY && fabs(d->summary[1].e) < 5 * sqrt(2.0 / 36 / 400),
            "T=inf summary ⟨e⟩ = %.4f ≈ 0 (5σ of independent spins)", d->summary[1].e);
    kd_test(d->summary[0].c == 0 && d->summary[1].c == 0 && d->summary[0].burn_in == 0,
            "T=0 and T=inf: c = 0 and no burn-in by convention");
    kd_dataset_free(d);
}

static void test_fixed_burn_in(void)
{
    static const double temps[] = {2.5};
    kd_sample_params p = params(8, temps, 1, 100);
    p.burn_in = 50;
    p.interval = 3;
    p.algorithm = KD_ALGO_METROPOLIS;
    kd_dataset *d = run(&p, 1);
    if (!d)
        return;
    kd_test(d->summary[0].burn_in == 50 && d->summary[0].interval == 3 &&
                !strcmp(d->burn_in, "50") && !strcmp(d->interval, "3"),
            "fixed burn-in and interval are used and recorded");
    kd_dataset_free(d);
}

static void test_bad_params(void)
{
    static const double temps[] = {1.0, 2.0, 1.0};
    kd_sample_params p;
    kd_dataset *d;
    kd_sample_params_init(&p);
    p.temps = temps;
    p.ntemps = 0;
    kd_test(kd_sample(&p, &d) == KD_ERR_INVALID && !d, "empty temperature list refused: %s",
            kd_last_error());
    p.ntemps = 3;
    kd_test(kd_sample(&p, &d) == KD_ERR_INVALID && strstr(kd_last_error(), "twice"),
            "duplicate temperature refused: %s", kd_last_error());
    p.ntemps = 2;
    p.lattice.L = -3;
    kd_test(kd_sample(&p, &d) == KD_ERR_INVALID, "negative L refused: %s", kd_last_error());
    p.lattice.L = 10;
    p.lattice.field = 0.1;
    p.symmetrize = 1;
    kd_test(kd_sample(&p, &d) == KD_ERR_INVALID, "symmetrize with a field refused: %s",
            kd_last_error());
    p.symmetrize = 0;
    p.algorithm = KD_ALGO_WOLFF;
    kd_test(kd_sample(&p, &d) == KD_ERR_UNSUPPORTED, "Wolff with a field refused: %s",
            kd_last_error());
    p.lattice.field = 0;
    p.lattice.L = 16384;
    p.samples = 1000000;
    kd_test(kd_sample(&p, &d) == KD_ERR_NOMEM && strstr(kd_last_error(), "GiB"),
            "an impossible memory request is refused up front: %s", kd_last_error());
}

/* ---- kd_sample_split: a run split over "processes", simulated in sequence ----
 * Ranks 1..P-1 run first; their combine hook copies the rows and chain records
 * of the items they own into a transport buffer (what MPI would send); rank 0
 * runs last and its hook copies them in. The result must equal the unsplit run
 * byte for byte, summary included. */
typedef struct {
    const kd_sample_params *p;
    kd_dataset *carry; /* full-size rows of the other ranks */
    char *info;        /* their chain records */
    int fail_rank;     /* this rank reports a failure (-1: none) */
} transport;

static kd_status carry_rows(transport *tr, int rank, int size, kd_dataset *d, char *info,
                            size_t info_bytes, int to_dataset)
{
    size_t N = kd_lattice_size(&tr->p->lattice);
    for (size_t i = 0; i < kd_sample_nitems(tr->p); i++) {
        if ((int)(i % (size_t)size) == 0 || (!to_dataset && (int)(i % (size_t)size) != rank))
            continue;
        size_t r0, nr, c0, nc;
        kd_sample_item(tr->p, i, &r0, &nr, &c0, &nc);
        kd_dataset *from = to_dataset ? tr->carry : d, *to = to_dataset ? d : tr->carry;
        memcpy(to->spins + r0 * N, from->spins + r0 * N, nr * N);
        memcpy(to->temperature + r0, from->temperature + r0, nr * sizeof(double));
        memcpy(to->energy + r0, from->energy + r0, nr * sizeof(double));
        memcpy(to->magnetization + r0, from->magnetization + r0, nr * sizeof(double));
        memcpy(to_dataset ? info + c0 * info_bytes : tr->info + c0 * info_bytes,
               to_dataset ? tr->info + c0 * info_bytes : info + c0 * info_bytes, nc * info_bytes);
    }
    return KD_OK;
}

static int current_rank, current_size;

static kd_status fake_combine(void *ctx, kd_status local, kd_dataset *d, void *info,
                              size_t info_bytes, size_t nchains)
{
    transport *tr = ctx;
    if (local != KD_OK)
        return local;
    if (current_rank == tr->fail_rank)
        return KD_ERR_IO; /* as if MPI reported another rank's failure */
    if (!tr->info)
        tr->info = calloc(nchains, info_bytes);
    return carry_rows(tr, current_rank, current_size, d, info, info_bytes, current_rank == 0);
}

static void test_split(void)
{
    static const double temps[] = {1.5, 2.27, 3.0, INFINITY};
    const kd_algorithm algos[] = {KD_ALGO_METROPOLIS, KD_ALGO_MULTISPIN, KD_ALGO_MULTISPIN_HEATBATH};
    for (int k = 0; k < 3; k++) {
        kd_sample_params p = params(8, temps, 4, k == 0 ? 30 : 128);
        p.algorithm = algos[k];
        p.chains = k == 0 ? 3 : 64;
        p.seed = 4;
        kd_dataset *whole = run(&p, 2);
        for (int size = 2; size <= 3 && whole; size++) {
            transport tr = {&p, NULL, NULL, -1};
            kd_dataset_new(&tr.carry, &p.lattice, whole->n, p.ntemps, 0);
            kd_dataset *d = NULL;
            for (int r = size - 1; r >= 0; r--) {
                kd_sample_split sp = {r, size, fake_combine, &tr};
                kd_sample_params q = p;
                q.split = &sp;
                current_rank = r;
                current_size = size;
                kd_status st = kd_sample(&q, &d);
                kd_test(st == KD_OK && (r == 0) == (d != NULL),
                        "%s split over %d, rank %d: status %d, dataset only on rank 0",
                        kd_algorithm_name(p.algorithm), size, r, (int)st);
            }
            if (d) {
                size_t N = kd_lattice_size(&p.lattice);
                kd_test(d->n == whole->n && !memcmp(d->spins, whole->spins, d->n * N) &&
                            !memcmp(d->energy, whole->energy, d->n * sizeof(double)) &&
                            !memcmp(d->summary, whole->summary,
                                    p.ntemps * sizeof(kd_temp_summary)) &&
                            !memcmp(d->correlation, whole->correlation,
                                    p.ntemps * (size_t)d->nr * sizeof(double)),
                        "%s split over %d processes: spins, energies, summary and correlations "
                        "byte-identical to one process",
                        kd_algorithm_name(p.algorithm), size);
            }
            kd_dataset_free(d);
            kd_dataset_free(tr.carry);
            free(tr.info);
        }
        kd_dataset_free(whole);
    }
    /* a failure reported by the combine hook fails the run, on every rank */
    static const double one[] = {2.0};
    kd_sample_params p = params(4, one, 1, 10);
    transport tr = {&p, NULL, NULL, 0};
    kd_sample_split sp = {0, 2, fake_combine, &tr};
    p.split = &sp;
    current_rank = 0;
    current_size = 2;
    kd_dataset *d = NULL;
    kd_test(kd_sample(&p, &d) == KD_ERR_IO && !d, "a failure from the combine hook is returned");
    free(tr.info);
    sp.rank = 2;
    kd_test(kd_sample(&p, &d) == KD_ERR_INVALID && !d, "rank 2 of 2 refused: %s", kd_last_error());
}

/* Progress callback cancelling once half of the samples are done. */
static int cancel_half(double fraction, const char *label, void *user)
{
    (void)label;
    (void)user;
    return fraction >= 0.5;
}

/* A cancelled run hands back the temperatures that finished (the checkpoint of
 * `kadanoff sample`): each equal, rows and summary, to the same temperature of
 * an uninterrupted run; one thread, so the cancellation falls after the first
 * temperatures in list order and at least one of 4 is complete and one not. */
static void test_partial(void)
{
    static const double temps[] = {1.5, 2.27, 3.0, INFINITY};
    const kd_algorithm algos[] = {KD_ALGO_METROPOLIS, KD_ALGO_MULTISPIN, KD_ALGO_MULTISPIN_HEATBATH};
    for (int a = 0; a < 3; a++) {
        kd_sample_params p = params(8, temps, 4, 200);
        p.chains = 2;
        p.burn_in = 50;
        p.interval = 2;
        p.algorithm = algos[a];
        p.seed = 5;
        kd_dataset *full = run(&p, 1), *part = NULL, *d = NULL;
        p.progress = cancel_half;
        p.partial = &part;
        kd_status st = kd_sample(&p, &d);
        kd_test(st == KD_ERR_CANCELLED && !d && part && part->ntemps >= 1 && part->ntemps < 4,
                "%s: cancelled run returns %zu complete temperature(s) of 4",
                kd_algorithm_name(algos[a]), part ? part->ntemps : 0);
        if (!full || !part) {
            kd_dataset_free(full);
            kd_dataset_free(part);
            continue;
        }
        const size_t N = 64, per = 200;
        int same = part->n == part->ntemps * per;
        for (size_t j = 0; same && j < part->ntemps; j++) {
            size_t t = 0;
            while (t < 4 && temps[t] != part->summary[j].T)
                t++;
            same = t < 4 && !memcmp(part->spins + j * per * N, full->spins + t * per * N, per * N) &&
                   !memcmp(part->energy + j * per, full->energy + t * per, per * sizeof(double)) &&
                   !memcmp(&part->summary[j], &full->summary[t], sizeof(kd_temp_summary)) &&
                   !memcmp(part->correlation + j * (size_t)part->nr,
                           full->correlation + t * (size_t)full->nr, (size_t)full->nr * sizeof(double));
        }
        kd_test(same, "%s: the finished temperatures equal the uninterrupted run's bit for bit",
                kd_algorithm_name(algos[a]));
        kd_dataset_free(full);
        kd_dataset_free(part);
    }
}

/* kd_sample_default_algorithm: each condition of the multispin rule on its own. */
static void test_default_algorithm(void)
{
    const kd_lattice sq = {KD_LATTICE_SQUARE, 64, KD_BOUNDARY_PERIODIC, 1.0, 0.0};
    kd_lattice l;
    int bad = 0;
    bad += kd_sample_default_algorithm(&sq, 256) != KD_ALGO_MULTISPIN;
    bad += kd_sample_default_algorithm(&sq, 1000000) != KD_ALGO_MULTISPIN;
    bad += kd_sample_default_algorithm(&sq, 255) != KD_ALGO_WOLFF;
    bad += kd_sample_default_algorithm(&sq, 1) != KD_ALGO_WOLFF;
    l = sq, l.L = 256;
    bad += kd_sample_default_algorithm(&l, 256) != KD_ALGO_MULTISPIN;
    l = sq, l.L = 258;
    bad += kd_sample_default_algorithm(&l, 256) != KD_ALGO_WOLFF;
    l = sq, l.L = 63;
    bad += kd_sample_default_algorithm(&l, 256) != KD_ALGO_WOLFF;
    l = sq, l.L = 4;
    bad += kd_sample_default_algorithm(&l, 256) != KD_ALGO_MULTISPIN;
    l = sq, l.L = 2; /* checkerboard Metropolis is not ergodic there */
    bad += kd_sample_default_algorithm(&l, 256) != KD_ALGO_WOLFF;
    l = sq, l.boundary = KD_BOUNDARY_OPEN;
    bad += kd_sample_default_algorithm(&l, 256) != KD_ALGO_WOLFF;
    l = sq, l.kind = KD_LATTICE_CHAIN;
    bad += kd_sample_default_algorithm(&l, 256) != KD_ALGO_WOLFF;
    l = sq, l.J = -1.0; /* antiferromagnet: multispin handles any J */
    bad += kd_sample_default_algorithm(&l, 256) != KD_ALGO_MULTISPIN;
    l = sq, l.field = 0.1;
    bad += kd_sample_default_algorithm(&l, 256) != KD_ALGO_METROPOLIS;
    bad += kd_sample_default_algorithm(&l, 1) != KD_ALGO_METROPOLIS;
    kd_test(bad == 0, "default algorithm: multispin only for >= 256 chains of a periodic square "
                      "lattice with even 4 <= L <= 256 and h = 0 (%d wrong)", bad);
}

int main(void)
{
    test_default_algorithm();
    test_threads_identical();
    test_split();
    test_partial();
    test_summary_vs_kaufman();
    test_special_and_symmetrize();
    test_fixed_burn_in();
    test_bad_params();
    return kd_test_done();
}
