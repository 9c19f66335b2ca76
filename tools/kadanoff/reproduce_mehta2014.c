/*
 * kadanoff reproduce mehta2014 — Mehta & Schwab (2014), "An exact mapping
 * between the variational renormalization group and deep learning", end to
 * end, with every qualitative claim turned into a number:
 *   - the data (40×40 torus at K = 0.408) checked against Kaufman's exact ⟨e⟩;
 *   - a 1600-400-100-25 DBN whose receptive fields are measured by their radius
 *     of gyration on the torus (kd_rg_locality_*), against a uniform field and
 *     the b×b block spin of the same compression: "local and growing with
 *     depth" becomes R_g(layer 1) < R_g(layer 2) < R_g(layer 3), or not;
 *   - hidden units vs block spins of the same size: each unit's best-matching
 *     block by |Pearson C| (kd_rg_blockmatch), the mean best |C| and the
 *     coverage of the blocks, against a site-permuted copy of the DBN, the
 *     magnetisation and a shuffled pairing;
 *   - reconstructions from the top layer with overlap, ⟨e⟩ and ⟨|m|⟩;
 *   - the 1D decimation table and the exact-mapping checks of its RBMs.
 *
 * Every stage is a kadanoff command run in-process (job.c); the report lists
 * them, DIR/commands.sh reruns them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "job.h"
#include "kadanoff/dataset.h"
#include "kadanoff/exact.h"
#include "kadanoff/ising.h"
#include "kadanoff/rbm.h"
#include "kadanoff/rbm_file.h"
#include "kadanoff/report.h"
#include "kadanoff/rg.h"
#include "kadanoff/rng.h"
#include "io/atomic.h"
#include "mpi_cli.h"
#include "reproduce.h"

#define MEHTA_L 40
#define MEHTA_K 0.408
#define MEHTA_DEPTH 3
#define DECIM_STEPS 5
#define DECIM_CHAIN 8 /* decimate's default --chain-size */

typedef struct {
    int samples; /* configurations */
    int epochs;  /* per layer */
    int nrecon;  /* configurations reconstructed from the top layer */
} plan;

static const plan full_plan = {20000, 50, 2000};
static const plan quick_plan = {2000, 20, 2000};

/* Locality of one level of the DBN. */
typedef struct {
    int level, nunits;
    double b;               /* block size of the same compression */
    kd_rg_summary rg;       /* R_g over the units (NaN fields skipped) */
    double uniform, block;  /* references */
    float *fields;          /* 1600 × nunits (owned) */
    double *rgs;            /* nunits */
    kd_rg_summary core;     /* R_g of the thresholded fields (|f| >= CORE_FRACTION max |f|) */
} level_locality;

/* The fields' diffuse low-amplitude background spreads over all 1600 sites and
 * weighs heavily in R_g; the "core" R_g keeps only |f| >= this fraction of the
 * unit's max |f| (the same threshold leaves a uniform or block field unchanged). */
#define CORE_FRACTION 0.2

/* Hidden units of one level against the block spins of the matching
 * compression (kd_rg_blockmatch). Activities: conditional means up the DBN
 * (probabilities, as train-dbn feeds the layer above). References: the
 * shuffled pairing inside each result (noise floor) and the site-permuted
 * DBN below. */
typedef struct {
    int level, nunits, b, nblocks;
    kd_rg_blockmatch_result maj;  /* Kadanoff block spins (majority, random ties) */
    kd_rg_blockmatch_result mean; /* block magnetisation (no ties) */
    kd_rg_blockmatch_result perm; /* site-permuted DBN vs majority block spins */
    kd_rg_blockmatch_result mag;  /* the magnetisation m(r) as a single "unit" */
    int *best;                    /* nunits: best block (majority) */
    double *best_c, *best_c_perm; /* nunits: signed C at the best block */
    float *block_best;            /* 2 × nblocks: max_j |C_jB|, DBN then site-permuted */
} level_match;

/* Stream of the site permutation of the site-permuted reference (any fixed
 * value distinct from the data's streams; documented in the report). */
#define SITE_PERM_STREAM UINT64_C(0x6d65687461)

/* Configurations with their sites relabelled by one random permutation P:
 * feeding s∘P to the DBN is the same as the DBN with the rows of W_1 permuted
 * by P, i.e. every unit keeps its weights, bias and all layers above, but its
 * receptive field is scattered over the lattice. */
static int8_t *site_permuted(const kd_dataset *ds, uint64_t seed)
{
    const size_t N = kd_lattice_size(&ds->lattice);
    uint32_t *P = malloc(N * sizeof *P);
    int8_t *out = malloc(ds->n * N);
    if (!P || !out) {
        free(P);
        free(out);
        return NULL;
    }
    kd_rng r;
    kd_rng_init(&r, seed, SITE_PERM_STREAM);
    kd_rng_permutation(&r, P, N);
    for (size_t c = 0; c < ds->n; c++)
        for (size_t i = 0; i < N; i++)
            out[c * N + i] = ds->spins[c * N + P[i]];
    free(P);
    return out;
}

static void level_match_free(level_match *q)
{
    free(q->best);
    free(q->best_c);
    free(q->best_c_perm);
    free(q->block_best);
}

static kd_status match_level(const kd_dbn *net, const kd_dataset *ds, const int8_t *scrambled,
                             int level, uint64_t seed, level_match *q)
{
    q->level = level;
    q->nunits = kd_dbn_width(net, level);
    q->b = kd_rg_blockmatch_size(&ds->lattice, q->nunits);
    if (q->b == 0)
        return kd_set_error(KD_ERR_INVALID, "block match: no block size for %d units on L = %d",
                            q->nunits, ds->lattice.L);
    q->nblocks = (ds->lattice.L / q->b) * (ds->lattice.L / q->b);
    const size_t nu = (size_t)q->nunits, nb = (size_t)q->nblocks;
    float *H = malloc(ds->n * nu * sizeof *H);
    double *bb = malloc(2 * nb * sizeof *bb);
    q->best = malloc(nu * sizeof *q->best);
    q->best_c = malloc(nu * sizeof *q->best_c);
    q->best_c_perm = malloc(nu * sizeof *q->best_c_perm);
    q->block_best = malloc(2 * nb * sizeof *q->block_best);
    kd_status st = KD_OK;
    if (!H || !bb || !q->best || !q->best_c || !q->best_c_perm || !q->block_best) {
        st = kd_set_error(KD_ERR_NOMEM, "block match: out of memory");
        goto done;
    }
    kd_rbm_data rd = {ds->spins, NULL, NULL, ds->n};
    kd_rg_blockmatch_maps m = {NULL, q->best, q->best_c, bb, NULL};
    if ((st = kd_dbn_up(net, &rd, level, KD_RBM_MEAN, seed, 0, H)) != KD_OK ||
        (st = kd_rg_blockmatch(&ds->lattice, ds->spins, ds->n, H, q->nunits, q->b,
                               KD_RG_BLOCK_MAJORITY, seed, &m, &q->maj)) != KD_OK ||
        (st = kd_rg_blockmatch(&ds->lattice, ds->spins, ds->n, H, q->nunits, q->b,
                               KD_RG_BLOCK_MEAN, seed, NULL, &q->mean)) != KD_OK)
        goto done;
    kd_rbm_data rp = {scrambled, NULL, NULL, ds->n};
    kd_rg_blockmatch_maps mp = {NULL, NULL, q->best_c_perm, bb + nb, NULL};
    if ((st = kd_dbn_up(net, &rp, level, KD_RBM_MEAN, seed, 0, H)) != KD_OK ||
        (st = kd_rg_blockmatch(&ds->lattice, ds->spins, ds->n, H, q->nunits, q->b,
                               KD_RG_BLOCK_MAJORITY, seed, &mp, &q->perm)) != KD_OK)
        goto done;
    for (size_t k = 0; k < 2 * nb; k++)
        q->block_best[k] = (float)bb[k];
    /* the magnetisation as a unit: what a unit that only reads the global m
     * reaches with its best block (H reused: n >= 1 values) */
    const size_t N = kd_lattice_size(&ds->lattice);
    for (size_t r = 0; r < ds->n; r++) {
        int sum = 0;
        for (size_t i = 0; i < N; i++)
            sum += ds->spins[r * N + i];
        H[r] = (float)sum / (float)N;
    }
    st = kd_rg_blockmatch(&ds->lattice, ds->spins, ds->n, H, 1, q->b, KD_RG_BLOCK_MAJORITY, seed,
                          NULL, &q->mag);
done:
    free(H);
    free(bb);
    return st;
}

/* DIR/blockmatch-level<l>.tsv: the unit -> block map (atomic write). */
static kd_status write_match(const char *path, const level_match *q)
{
    kd_atomic a;
    KD_CHECK(kd_atomic_begin(&a, path));
    FILE *f = fopen(a.tmp, "w");
    if (!f) {
        kd_atomic_abort(&a);
        return kd_set_error(KD_ERR_IO, "cannot write '%s'", path);
    }
    const int Lc = (int)lround(sqrt((double)q->nblocks));
    fprintf(f, "# level %d: %d hidden units vs %d block spins (b = %d, majority rule), "
               "Pearson C over %zu configurations; block B = (X, Y), B = Y*%d + X; best = -1: "
               "constant unit\n",
            q->level, q->nunits, q->nblocks, q->b, q->maj.n, Lc);
    fprintf(f, "unit\tbest_block\tX\tY\tC\tabs_C\tabs_C_site_permuted\n");
    for (int j = 0; j < q->nunits; j++) {
        int B = q->best[j];
        fprintf(f, "%d\t%d\t%d\t%d\t%.6f\t%.6f\t%.6f\n", j, B, B >= 0 ? B % Lc : -1,
                B >= 0 ? B / Lc : -1, q->best_c[j], fabs(q->best_c[j]), fabs(q->best_c_perm[j]));
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        kd_atomic_abort(&a);
        return kd_set_error(KD_ERR_IO, "cannot write '%s'", path);
    }
    return kd_atomic_commit(&a);
}

static void warn_figure(const char *cmd, kd_status st)
{
    if (st != KD_OK && st != KD_ERR_UNSUPPORTED)
        cli_fail_status(cmd, st);
}

int reproduce_mehta2014(const char *dir, int quick, uint64_t seed)
{
    const char *cmd = "reproduce";
    const plan *P = quick ? &quick_plan : &full_plan;
    const double T = 1.0 / MEHTA_K;
    job J;
    if (job_start(&J, cmd, dir) != CLI_OK)
        return CLI_FAILURE;
    const char *S = job_fmt(&J, "%llu", (unsigned long long)seed);
    const char *data = job_path(&J, "data.h5"), *dbnfile = job_path(&J, "dbn.h5");
    const char *dectsv = job_path(&J, "decimation.tsv");
    const char *epochs_s = job_fmt(&J, "%d", P->epochs);
    int rc;

    /* 1. Data: 40×40 torus at T = 1/0.408, Wolff, decorrelated (automatic
     *    interval = 2 τ_int), global flips so both signs appear. */
    if ((rc = job_run(&J, "data", "sample", "-L", "40", "--temps", "2.450980392156863", "-n",
                      job_fmt(&J, "%d", P->samples), "--algorithm", "wolff", "--symmetrize",
                      "--seed", S, "-q", "-o", data, NULL)))
        return rc;
    /* 2. DBN 1600-400-100-25, binary units, CD-1, batch 100, lr 0.1, L1 0.008,
     *    momentum 0.5 (the public reproduction's choices, train-dbn's example). */
    if ((rc = job_run(&J, "dbn", "train-dbn", data, "--layers", "400,100,25", "--units", "binary",
                      "--cd", "1", "--epochs", epochs_s, "--batch", "100", "--lr", "0.1", "--l1",
                      "0.008", "--momentum", "0.5", "--monitor-every", "0", "--seed", S, "-q", "-o",
                      dbnfile, NULL)))
        return rc;
    /* 3. 1D decimation as an RBM, exact tracing. */
    if ((rc = job_run(&J, "decimation", "decimate", "--K", "1", "--steps", "5", "-o", dectsv, "-q",
                      NULL)))
        return rc;
    if (mpicli_rank() != 0) /* over MPI, rank 0 alone reads the results and reports */
        return job_finish(&J, cmd);

    /* ---- read back ---- */
    kd_dataset *ds = NULL;
    kd_dbn_file *df = NULL;
    kd_dbn *net = NULL;
    kd_status st;
    if ((st = kd_dataset_read(data, &ds)) != KD_OK)
        return cli_fail_status(cmd, st);
    if ((st = kd_dbn_file_read(dbnfile, &df)) != KD_OK || (st = kd_dbn_file_network(df, &net)) != KD_OK) {
        kd_dataset_free(ds);
        kd_dbn_file_free(df);
        return cli_fail_status(cmd, st);
    }
    const int N = MEHTA_L * MEHTA_L;
    kd_thermo exact;
    kd_kaufman_torus(MEHTA_L, 1.0, T, &exact);
    double e_data = ds->ntemps ? ds->summary[0].e : NAN, e_err = ds->ntemps ? ds->summary[0].e_err : NAN;
    double am_data = ds->ntemps ? ds->summary[0].abs_m : NAN, am_err = ds->ntemps ? ds->summary[0].abs_m_err : NAN;
    double e_sigma = (e_data - exact.e) / e_err;

    /* Locality per level. */
    level_locality loc[MEHTA_DEPTH];
    memset(loc, 0, sizeof loc);
    int ok = 1;
    for (int l = 0; l < MEHTA_DEPTH && ok; l++) {
        level_locality *q = &loc[l];
        q->level = l + 1;
        q->nunits = kd_dbn_width(net, l + 1);
        /* kd_dbn_receptive_fields uses `out` as scratch for the wider levels
         * below (its ping-pong writes N × width(1) floats into it for odd
         * levels >= 3), so give it room for the widest level */
        q->fields = malloc((size_t)N * (size_t)kd_dbn_width(net, 1) * sizeof *q->fields);
        q->rgs = malloc((size_t)q->nunits * sizeof *q->rgs);
        if (!q->fields || !q->rgs) {
            st = KD_ERR_NOMEM;
            ok = 0;
            break;
        }
        if ((st = kd_dbn_receptive_fields(net, l + 1, q->fields)) != KD_OK ||
            (st = kd_rg_locality_layer(MEHTA_L, MEHTA_L, q->nunits, q->fields, q->rgs)) != KD_OK ||
            (st = kd_rg_summarize(q->rgs, (size_t)q->nunits, &q->rg)) != KD_OK) {
            ok = 0;
            break;
        }
        {
            float *tmp = malloc((size_t)N * sizeof *tmp);
            double *core = malloc((size_t)q->nunits * sizeof *core);
            if (!tmp || !core) {
                free(tmp);
                free(core);
                st = KD_ERR_NOMEM;
                ok = 0;
                break;
            }
            for (int j = 0; j < q->nunits && st == KD_OK; j++) {
                float mx = 0;
                for (int i = 0; i < N; i++)
                    mx = fmaxf(mx, fabsf(q->fields[(size_t)i * (size_t)q->nunits + (size_t)j]));
                for (int i = 0; i < N; i++) {
                    float f = q->fields[(size_t)i * (size_t)q->nunits + (size_t)j];
                    tmp[i] = fabsf(f) >= (float)CORE_FRACTION * mx ? f : 0.0f;
                }
                st = kd_rg_locality_radius(MEHTA_L, MEHTA_L, tmp, 1, &core[j], NULL, NULL);
            }
            if (st == KD_OK)
                st = kd_rg_summarize(core, (size_t)q->nunits, &q->core);
            free(tmp);
            free(core);
            if (st != KD_OK) {
                ok = 0;
                break;
            }
        }
        q->b = kd_rg_locality_block_size(MEHTA_L, MEHTA_L, q->nunits);
        q->uniform = kd_rg_locality_uniform(MEHTA_L, MEHTA_L);
        q->block = kd_rg_locality_block(MEHTA_L, MEHTA_L, (int)lround(q->b));
    }

    /* Reconstructions from the top layer (conditional means both ways). */
    size_t nrec = ds->n < (size_t)P->nrecon ? ds->n : (size_t)P->nrecon;
    float *rec = ok ? malloc(nrec * (size_t)N * sizeof *rec) : NULL;
    int8_t *sr = ok ? malloc((size_t)N) : NULL;
    double ov = 0, ov_abs = 0, e_rec = 0, e_rec2 = 0, am_rec = 0, am_rec2 = 0, e_in = 0, am_in = 0;
    if (ok && (!rec || !sr)) {
        st = KD_ERR_NOMEM;
        ok = 0;
    }
    kd_units vunits = kd_rbm_visible_units(kd_dbn_layer(net, 0));
    if (ok) {
        kd_rbm_data rd = {ds->spins, NULL, NULL, nrec};
        if ((st = kd_dbn_reconstruct(net, &rd, MEHTA_DEPTH, KD_RBM_MEAN, seed, 0, rec)) != KD_OK)
            ok = 0;
    }
    if (ok) {
        for (size_t r = 0; r < nrec; r++) {
            const int8_t *s = ds->spins + r * (size_t)N;
            float *x = rec + r * (size_t)N;
            double q = 0;
            for (int i = 0; i < N; i++) {
                /* mean spin of the reconstruction: 2p - 1 (binary) or tanh (spin) */
                if (vunits == KD_UNITS_BINARY)
                    x[i] = 2 * x[i] - 1;
                sr[i] = x[i] >= 0 ? 1 : -1;
                q += s[i] * sr[i];
            }
            q /= N;
            ov += q;
            ov_abs += fabs(q);
            double e = kd_ising_energy(&ds->lattice, sr), m = fabs(kd_ising_magnetization(&ds->lattice, sr));
            e_rec += e;
            e_rec2 += e * e;
            am_rec += m;
            am_rec2 += m * m;
            e_in += kd_ising_energy(&ds->lattice, s);
            am_in += fabs(kd_ising_magnetization(&ds->lattice, s));
        }
        double nr = (double)nrec;
        ov /= nr;
        ov_abs /= nr;
        e_rec /= nr;
        am_rec /= nr;
        e_in /= nr;
        am_in /= nr;
        e_rec2 = sqrt(fmax(0, e_rec2 / nr - e_rec * e_rec) / (nr > 1 ? nr - 1 : 1));
        am_rec2 = sqrt(fmax(0, am_rec2 / nr - am_rec * am_rec) / (nr > 1 ? nr - 1 : 1));
    }

    /* Hidden units vs block spins of the matching compression, per level,
     * with the site-permuted DBN as reference; unit -> block maps as TSV. */
    level_match bm[MEHTA_DEPTH];
    memset(bm, 0, sizeof bm);
    int8_t *scrambled = ok ? site_permuted(ds, seed) : NULL;
    if (ok && !scrambled) {
        st = kd_set_error(KD_ERR_NOMEM, "block match: out of memory for %zu configurations", ds->n);
        ok = 0;
    }
    for (int l = 0; ok && l < MEHTA_DEPTH; l++)
        if ((st = match_level(net, ds, scrambled, l + 1, seed, &bm[l])) != KD_OK ||
            (st = write_match(job_path(&J, job_fmt(&J, "blockmatch-level%d.tsv", l + 1)), &bm[l])) !=
                KD_OK)
            ok = 0;
    free(scrambled);

    /* Decimation table (recomputed exactly as the stage did: chain 8) and checks. */
    kd_rg_decimation_step dec[DECIM_STEPS];
    kd_rg_mapping chk[DECIM_STEPS];
    if (ok && (st = kd_rg_decimation_run(1.0, DECIM_STEPS, DECIM_CHAIN, dec)) != KD_OK)
        ok = 0;
    for (int n = 0; ok && n < DECIM_STEPS; n++)
        if ((st = kd_rg_decimation_check(dec[n].K_in, DECIM_CHAIN, &chk[n])) != KD_OK)
            ok = 0;
    if (!ok) {
        for (int l = 0; l < MEHTA_DEPTH; l++) {
            free(loc[l].fields);
            free(loc[l].rgs);
            level_match_free(&bm[l]);
        }
        free(rec);
        free(sr);
        kd_dbn_free(net);
        kd_dbn_file_free(df);
        kd_dataset_free(ds);
        return cli_fail_status(cmd, st);
    }

    /* ---- figures ---- */
    const char *fig = job_path(&J, "figures");
    kd_image_style sty;
    for (int l = 0; l < MEHTA_DEPTH; l++) {
        int show = loc[l].nunits < 64 ? loc[l].nunits : 64;
        kd_mosaic m = {loc[l].fields, KD_IMAGES_COLUMNS, (size_t)loc[l].nunits, show, MEHTA_L, MEHTA_L,
                       0, NULL, KD_SCALE_PER_IMAGE};
        kd_image_style_init(&sty);
        sty.title = job_fmt(&J, "receptive fields of level %d (%d of %d units)", l + 1, show, loc[l].nunits);
        sty.cblabel = "field / max |field|";
        warn_figure(cmd, kd_figure_mosaic(fig, job_fmt(&J, "receptive-fields-level%d", l + 1), &m, &sty, NULL));
    }
    {
        kd_plot *p;
        if (kd_plot_new(&p, "locality of the receptive fields", "level of the DBN",
                        "radius of gyration R_g of |field| (lattice spacings)") == KD_OK) {
            double x[MEHTA_DEPTH], mean[MEHTA_DEPTH], sd[MEHTA_DEPTH], med[MEHTA_DEPTH], blk[MEHTA_DEPTH];
            for (int l = 0; l < MEHTA_DEPTH; l++) {
                x[l] = l + 1;
                mean[l] = loc[l].rg.mean;
                sd[l] = loc[l].rg.sd;
                med[l] = loc[l].rg.median;
                blk[l] = loc[l].block;
            }
            kd_plot_add_series(p, "DBN: mean ± sd over units", MEHTA_DEPTH, x, mean, sd, KD_SERIES_LINESPOINTS);
            kd_plot_add_series(p, "DBN: median", MEHTA_DEPTH, x, med, NULL, KD_SERIES_LINESPOINTS);
            double cm[MEHTA_DEPTH];
            for (int l = 0; l < MEHTA_DEPTH; l++)
                cm[l] = loc[l].core.mean;
            kd_plot_add_series(p, "DBN: core R_g mean (|f| >= 0.2 max)", MEHTA_DEPTH, x, cm, NULL, KD_SERIES_LINESPOINTS);
            kd_plot_add_series(p, "block spin b = 2, 4, 8", MEHTA_DEPTH, x, blk, NULL, KD_SERIES_LINESPOINTS);
            kd_plot_add_hline(p, loc[0].uniform, "uniform field");
            kd_plot_set_xrange(p, 0.5, MEHTA_DEPTH + 0.5);
            kd_plot_set_yrange(p, 0, loc[0].uniform * 1.15);
            kd_plot_set_key(p, "outside right top");
            warn_figure(cmd, kd_plot_write(p, fig, "locality", NULL));
            kd_plot_free(p);
        }
    }
    /* inputs (top row) and their reconstructions (bottom row) */
    enum { NSHOW = 5 };
    int nshow = nrec < NSHOW ? (int)nrec : NSHOW;
    {
        float *img = malloc((size_t)2 * NSHOW * N * sizeof *img);
        const char *labels[2 * NSHOW];
        if (img) {
            for (int k = 0; k < nshow; k++) {
                size_t r = (size_t)k * (nrec / (size_t)nshow);
                for (int i = 0; i < N; i++) {
                    img[(size_t)k * N + i] = ds->spins[r * (size_t)N + i];
                    img[(size_t)(nshow + k) * N + i] = rec[r * (size_t)N + i];
                }
                labels[k] = job_fmt(&J, "input %zu", r);
                labels[nshow + k] = job_fmt(&J, "reconstruction %zu", r);
            }
            kd_mosaic m = {img, KD_IMAGES_ROWS, 0, 2 * nshow, MEHTA_L, MEHTA_L, nshow, labels, KD_SCALE_SHARED};
            kd_image_style_init(&sty);
            sty.title = "inputs (top) and mean reconstructions from level 3 (bottom)";
            sty.palette = KD_PALETTE_SPINS;
            sty.zmin = -1;
            sty.zmax = 1;
            sty.cblabel = "spin / mean spin";
            warn_figure(cmd, kd_figure_mosaic(fig, "reconstructions", &m, &sty, NULL));
            free(img);
        }
    }
    {
        kd_plot *p;
        if (kd_plot_new(&p, "1D decimation: K^(n) traced vs ½ ln cosh 2K^(n-1)", "step n", "coupling K") == KD_OK) {
            double x[DECIM_STEPS + 1], k[DECIM_STEPS + 1], kf[DECIM_STEPS + 1];
            x[0] = 0;
            k[0] = kf[0] = dec[0].K_in;
            for (int n = 0; n < DECIM_STEPS; n++) {
                x[n + 1] = dec[n].step;
                k[n + 1] = dec[n].K;
                kf[n + 1] = dec[n].K_formula;
            }
            kd_plot_add_series(p, "K^(n) by exact tracing", DECIM_STEPS + 1, x, k, NULL, KD_SERIES_POINTS);
            kd_plot_add_series(p, "½ ln cosh 2K^(n-1)", DECIM_STEPS + 1, x, kf, NULL, KD_SERIES_LINES);
            kd_plot_set_log(p, 0, 1);
            warn_figure(cmd, kd_plot_write(p, fig, "decimation", NULL));
            kd_plot_free(p);
        }
    }

    for (int l = 0; l < MEHTA_DEPTH; l++) {
        const int Lc = MEHTA_L / bm[l].b;
        const float *z[2] = {bm[l].block_best, bm[l].block_best + bm[l].nblocks};
        static const char *const titles[2] = {"trained DBN", "site-permuted DBN (reference)"};
        kd_image_style_init(&sty);
        sty.title = job_fmt(&J, "level %d (%d units) vs %d×%d blocks (b = %d): max over units of |C| per block",
                            l + 1, bm[l].nunits, Lc, Lc, bm[l].b);
        sty.palette = KD_PALETTE_SEQUENTIAL;
        sty.zmin = 0;
        sty.zmax = 1;
        sty.cblabel = "max_j |C_jB|";
        warn_figure(cmd, kd_figure_panels(fig, job_fmt(&J, "blockmatch-level%d", l + 1), 2, z, titles, Lc, Lc,
                                          KD_SCALE_SHARED, &sty, NULL));
    }

    /* ---- report ---- */
    kd_report *R;
    if (kd_report_new(&R, "Exact RG ↔ RBM mapping and a deep belief network: a reproduction of Mehta & Schwab (2014)") != KD_OK)
        return cli_fail_status(cmd, KD_ERR_NOMEM);
    char a[64], b[64], c[64];
    kd_report_paragraph(R,
                        "kadanoff %s, seed %llu, %s run. 40×40 periodic Ising model at K = J/T = 0.408 "
                        "(T = %.6f), %zu Wolff configurations (automatic decorrelation interval, global "
                        "flips). DBN 1600-400-100-25 of binary units trained greedily with CD-1, batch 100, "
                        "learning rate 0.1, momentum 0.5, L1 penalty 0.008, %d epochs per layer, upper layers "
                        "trained on the conditional means of the layer below (train-dbn's defaults otherwise).%s",
                        kd_version(), (unsigned long long)seed, quick ? "quick (reduced)" : "full", T, ds->n,
                        P->epochs,
                        quick ? " The quick run uses fewer samples and epochs than the paper's setting "
                                "(20,000 samples, 50 epochs per layer); its numbers are indicative only."
                              : "");

    kd_report_heading(R, 2, "The data: energy against the exact solution");
    kd_report_paragraph(R,
                        "⟨e⟩ = %s per spin (jackknife error); Kaufman's exact value for the 40×40 torus at "
                        "K = 0.408 is %.6f: a deviation of %+.2f σ (%s). ⟨|m|⟩ = %s.",
                        kd_format_uncertain(e_data, e_err, a, sizeof a), exact.e, e_sigma,
                        fabs(e_sigma) <= 3 ? "consistent within 3σ" : "NOT consistent within 3σ",
                        kd_format_uncertain(am_data, am_err, b, sizeof b));

    kd_report_heading(R, 2, "Locality of the receptive fields");
    kd_report_paragraph(R,
                        "The receptive field of a unit at level l is its column of W₁W₂…W_l (an image of the "
                        "lattice; kd_dbn_receptive_fields). Its locality is the radius of gyration R_g of "
                        "|field| on the torus about its circular-mean centre, with minimum-image distances. "
                        "References: a uniform field (no locality, R_g = %.3f) and the b×b block spin of the "
                        "same compression (1600→400: b = 2, →100: b = 4, →25: b = 8).",
                        loc[0].uniform);
    {
        static const char *const hdr[] = {"level", "units", "b", "R_g mean", "R_g sd", "R_g median",
                                          "R_g q25", "R_g q75", "core R_g mean", "core R_g median", "block b×b", "uniform"};
        kd_report_table_begin(R, 12, hdr,
                              "R_g of the receptive fields per level (lattice spacings), over all units, "
                              "with the block-spin and uniform references. Core R_g: the same with every "
                              "site below 20% of the unit's max |field| set to 0 (removes the diffuse "
                              "background; leaves uniform and block fields unchanged).");
        for (int l = 0; l < MEHTA_DEPTH; l++)
            kd_report_table_rowf(R, "level %d\t%d\t%.0f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f",
                                 loc[l].level, loc[l].nunits, loc[l].b, loc[l].rg.mean, loc[l].rg.sd,
                                 loc[l].rg.median, loc[l].rg.q25, loc[l].rg.q75, loc[l].core.mean,
                                 loc[l].core.median, loc[l].block, loc[l].uniform);
    }
    int growing = loc[0].rg.mean < loc[1].rg.mean && loc[1].rg.mean < loc[2].rg.mean;
    int growing_med = loc[0].rg.median < loc[1].rg.median && loc[1].rg.median < loc[2].rg.median;
    double frac1 = loc[0].rg.mean / loc[0].uniform;
    kd_report_paragraph(R,
                        "Verdict. R_g(layer 1) < R_g(layer 2) < R_g(layer 3) (means %.3f, %.3f, %.3f): %s; "
                        "with medians (%.3f, %.3f, %.3f): %s. Layer 1: mean R_g = %.3f is %.0f%% of the "
                        "uniform value %.3f (%s) and %.1f× the 2×2 block value %.3f.",
                        loc[0].rg.mean, loc[1].rg.mean, loc[2].rg.mean, growing ? "yes" : "no",
                        loc[0].rg.median, loc[1].rg.median, loc[2].rg.median, growing_med ? "yes" : "no",
                        loc[0].rg.mean, 100 * frac1, loc[0].uniform,
                        frac1 < 0.5 ? "local" : frac1 < 0.8 ? "partly local" : "not local",
                        loc[0].rg.mean / loc[0].block, loc[0].block);
    int growing_core = loc[0].core.mean < loc[1].core.mean && loc[1].core.mean < loc[2].core.mean;
    kd_report_paragraph(R,
                        "Core R_g (background below 20%% of the peak removed), means %.3f, %.3f, %.3f: "
                        "growing with depth: %s; layer 1 core R_g is %.0f%% of the uniform value.",
                        loc[0].core.mean, loc[1].core.mean, loc[2].core.mean, growing_core ? "yes" : "no",
                        100 * loc[0].core.mean / loc[0].uniform);
    kd_report_paragraph(R, "Machine-readable: `rg_mean_level1=%.6f rg_mean_level2=%.6f rg_mean_level3=%.6f "
                           "rg_core_level1=%.6f rg_core_level2=%.6f rg_core_level3=%.6f "
                           "rg_uniform=%.6f rg_block2=%.6f rg_block4=%.6f rg_block8=%.6f growing=%d "
                           "growing_core=%d e_sigma=%.3f`",
                        loc[0].rg.mean, loc[1].rg.mean, loc[2].rg.mean, loc[0].core.mean, loc[1].core.mean,
                        loc[2].core.mean, loc[0].uniform, loc[0].block, loc[1].block, loc[2].block, growing,
                        growing_core, e_sigma);
    kd_report_figure(R, "figures/locality.png",
                     "R_g per level: mean ± standard deviation over the units and median, against the "
                     "b×b block spin of the same compression and a uniform field.");
    for (int l = 0; l < MEHTA_DEPTH; l++)
        kd_report_figure(R, job_fmt(&J, "figures/receptive-fields-level%d.png", l + 1),
                         job_fmt(&J, "Receptive fields of level %d: the first %d of %d units, each scaled "
                                     "by its own max |field|.",
                                 l + 1, loc[l].nunits < 64 ? loc[l].nunits : 64, loc[l].nunits));

    kd_report_heading(R, 2, "Reconstructions from the top layer");
    kd_report_paragraph(R,
                        "%zu configurations passed up to level 3 and back down with conditional means "
                        "(deterministic: probabilities, no sampling). For the overlap, ⟨e⟩ and ⟨|m|⟩ each "
                        "reconstructed site is signed to ±1 (mean spin 2p − 1 ≥ 0 → +1). Overlap "
                        "q = (1/N) Σ s_i s'_i between input and signed reconstruction.",
                        nrec);
    {
        static const char *const hdr[] = {"quantity", "inputs", "reconstructions"};
        kd_report_table_begin(R, 3, hdr, "Reconstructions vs data (same configurations; errors: standard error over configurations).");
        kd_report_table_rowf(R, "⟨q⟩ overlap\t1\t%.4f", ov);
        kd_report_table_rowf(R, "⟨|q|⟩\t1\t%.4f", ov_abs);
        kd_report_table_rowf(R, "⟨e⟩ per spin\t%.4f\t%s", e_in, kd_format_uncertain(e_rec, e_rec2, a, sizeof a));
        kd_report_table_rowf(R, "⟨|m|⟩\t%.4f\t%s", am_in, kd_format_uncertain(am_rec, am_rec2, c, sizeof c));
    }
    kd_report_figure(R, "figures/reconstructions.png",
                     "Inputs (top row) and their mean reconstructions 2p − 1 from level 3 (bottom row), "
                     "before signing.");

    kd_report_heading(R, 2, "1D decimation as an RBM");
    kd_report_paragraph(R,
                        "The decimation RBM of the periodic chain (kept spins hidden, decimated spins visible, "
                        "weight K on each bond, zero biases) traced exactly on a ring of %d spins, K^(0) = 1, "
                        "as the `decimate` stage (its table: decimation.tsv; recomputed here with the same "
                        "library call).",
                        DECIM_CHAIN);
    {
        static const char *const hdr[] = {"n", "K^(n-1)", "K^(n) traced", "½ ln cosh 2K^(n-1)", "difference",
                                          "c traced", "c formula", "ξ^(n-1)/ξ^(n)"};
        kd_report_table_begin(R, 8, hdr, "Decimation steps.");
        for (int n = 0; n < DECIM_STEPS; n++)
            kd_report_table_rowf(R, "%d\t%.12g\t%.12g\t%.12g\t%.2e\t%.12g\t%.12g\t%.12g", dec[n].step,
                                 dec[n].K_in, dec[n].K, dec[n].K_formula, dec[n].K - dec[n].K_formula,
                                 dec[n].constant, dec[n].constant_formula, dec[n].xi_in / dec[n].xi);
    }
    {
        static const char *const hdr[] = {"n", "max |H^RG − H^RBM| (rel.)", "max |Tr_h e^T − 1|", "KL(P‖p)",
                                          "ΔF", "identity residual"};
        kd_report_table_begin(R, 6, hdr,
                              "Exact-mapping check of each step's RBM (H(v): the decimated sites' marginal "
                              "of the chain): all zero up to rounding, since decimation is an exact RG step.");
        for (int n = 0; n < DECIM_STEPS; n++)
            kd_report_table_rowf(R, "%d\t%.2e\t%.2e\t%.2e\t%.2e\t%.2e", n + 1, chk[n].hrg_max_rel,
                                 chk[n].trace_max_dev, chk[n].kl, chk[n].delta_f, chk[n].identity_residual);
    }
    kd_report_figure(R, "figures/decimation.png", "Coupling along the decimation: traced (points) and formula (line).");

    kd_report_heading(R, 2, "Hidden units vs block spins of matching size");
    kd_report_paragraph(R,
                        "For each level, the activity of hidden unit j on configuration r is its conditional "
                        "mean (probability) propagated up the DBN by conditional means, as train-dbn feeds the "
                        "layer above. The layer is compared with the block spins of the block size b whose "
                        "coarse lattice has the number of sites closest to the layer's width (here exact: "
                        "400 = 20², 100 = 10², 25 = 5² for b = 2, 4, 8). C_jB is the Pearson correlation of "
                        "unit j with block spin B over all %zu configurations; a unit that reads the flipped "
                        "block (the Z2 gauge) has C = −1, so matches use |C|. Each unit's best match is "
                        "argmax_B |C_jB|; \"mean best |C|\" averages max_B |C_jB| over all units (a unit that "
                        "is constant over the data counts 0); coverage is the fraction of blocks that are the "
                        "best match of at least one unit. Block spins: Kadanoff's majority rule with random "
                        "ties (ties are frequent for b = 2 and cap |C| below 1 for any unit), and the block "
                        "magnetisation (no ties). References: (i) the trained DBN with its input sites "
                        "relabelled by one random permutation (Philox stream %#llx), i.e. the rows of W₁ "
                        "permuted: same weights, biases and upper layers, receptive fields scattered over "
                        "the lattice; (ii) the magnetisation m(r) used as a single unit (what reading only the "
                        "global m reaches with its best block); (iii) the shuffled pairing of hidden rows with the block rows of other "
                        "configurations (the finite-sample noise floor); (iv) for coverage, the expectation "
                        "1 − (1 − 1/blocks)^units if every unit picked its block at random.",
                        ds->n, (unsigned long long)SITE_PERM_STREAM);
    {
        static const char *const hdr[] = {"level", "units", "b", "blocks", "mean best |C|",
                                          "median best |C|", "mean best |C| (block mean)",
                                          "site-permuted DBN", "magnetisation", "shuffled pairing", "coverage",
                                          "coverage site-permuted", "coverage shuffled",
                                          "coverage random pick", "constant units"};
        kd_report_table_begin(R, 15, hdr,
                              "Best match of each hidden unit among the block spins of the same size "
                              "(majority rule unless stated), with the references.");
        for (int l = 0; l < MEHTA_DEPTH; l++)
            kd_report_table_rowf(R, "level %d\t%d\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%d",
                                 l + 1, bm[l].nunits, bm[l].b, bm[l].nblocks, bm[l].maj.mean_best,
                                 bm[l].maj.median_best, bm[l].mean.mean_best, bm[l].perm.mean_best,
                                 bm[l].mag.mean_best, bm[l].maj.null_mean_best, bm[l].maj.coverage, bm[l].perm.coverage,
                                 bm[l].maj.null_coverage, bm[l].maj.coverage_random, bm[l].maj.zero_units);
    }
    for (int l = 0; l < MEHTA_DEPTH; l++)
        kd_report_paragraph(R,
                            "Level %d: mean best |C| = %.3f with majority block spins (%.3f with block "
                            "magnetisations) against %.3f for the site-permuted DBN, %.3f for the magnetisation "
                            "and %.3f for the shuffled pairing; %.0f%% of the %d blocks are some unit's best match (site-permuted %.0f%%, "
                            "random pick %.0f%%).",
                            l + 1, bm[l].maj.mean_best, bm[l].mean.mean_best, bm[l].perm.mean_best,
                            bm[l].mag.mean_best, bm[l].maj.null_mean_best, 100 * bm[l].maj.coverage, bm[l].nblocks,
                            100 * bm[l].perm.coverage, 100 * bm[l].maj.coverage_random);
    kd_report_paragraph(R, "Machine-readable: `bm_best_level1=%.6f bm_best_level2=%.6f bm_best_level3=%.6f "
                           "bm_perm_level1=%.6f bm_perm_level2=%.6f bm_perm_level3=%.6f "
                           "bm_mag_level1=%.6f bm_mag_level2=%.6f bm_mag_level3=%.6f "
                           "bm_null_level1=%.6f bm_null_level2=%.6f bm_null_level3=%.6f "
                           "bm_cov_level1=%.6f bm_cov_level2=%.6f bm_cov_level3=%.6f`",
                        bm[0].maj.mean_best, bm[1].maj.mean_best, bm[2].maj.mean_best, bm[0].perm.mean_best,
                        bm[1].perm.mean_best, bm[2].perm.mean_best, bm[0].mag.mean_best, bm[1].mag.mean_best,
                        bm[2].mag.mean_best, bm[0].maj.null_mean_best,
                        bm[1].maj.null_mean_best, bm[2].maj.null_mean_best, bm[0].maj.coverage,
                        bm[1].maj.coverage, bm[2].maj.coverage);
    for (int l = 0; l < MEHTA_DEPTH; l++)
        kd_report_figure(R, job_fmt(&J, "figures/blockmatch-level%d.png", l + 1),
                         job_fmt(&J, "Level %d: for each %d×%d block spin (b = %d), the largest |C| any unit "
                                     "of the level reaches with it; left the trained DBN, right the "
                                     "site-permuted reference. The unit → block map is in "
                                     "blockmatch-level%d.tsv.",
                                 l + 1, MEHTA_L / bm[l].b, MEHTA_L / bm[l].b, bm[l].b, l + 1));
    kd_report_heading(R, 2, "How to rerun");
    job_report(&J, R);
    st = kd_report_write(R, dir);
    kd_report_free(R);

    if (!cli_quiet) {
        printf("⟨e⟩ = %s, exact %.6f (%+.2f σ)\n", kd_format_uncertain(e_data, e_err, a, sizeof a), exact.e, e_sigma);
        printf("%-8s %6s %4s %10s %10s %10s %10s %10s\n", "level", "units", "b", "R_g mean", "R_g median",
               "core R_g", "block", "uniform");
        for (int l = 0; l < MEHTA_DEPTH; l++)
            printf("%-8d %6d %4.0f %10.3f %10.3f %10.3f %10.3f %10.3f\n", loc[l].level, loc[l].nunits, loc[l].b,
                   loc[l].rg.mean, loc[l].rg.median, loc[l].core.mean, loc[l].block, loc[l].uniform);
        printf("R_g(1) < R_g(2) < R_g(3): %s\n", growing ? "yes" : "no");
        printf("%-8s %6s %4s %10s %10s %10s %10s %10s %10s\n", "level", "units", "b", "best |C|", "site-perm",
               "magnetis.", "shuffled", "coverage", "random");
        for (int l = 0; l < MEHTA_DEPTH; l++)
            printf("%-8d %6d %4d %10.3f %10.3f %10.3f %10.3f %10.3f %10.3f\n", l + 1, bm[l].nunits, bm[l].b,
                   bm[l].maj.mean_best, bm[l].perm.mean_best, bm[l].mag.mean_best, bm[l].maj.null_mean_best,
                   bm[l].maj.coverage, bm[l].maj.coverage_random);
        printf("reconstructions: overlap %.3f, ⟨e⟩ %.4f (data %.4f), ⟨|m|⟩ %.4f (data %.4f)\n", ov, e_rec, e_in,
               am_rec, am_in);
        double dmax = 0;
        for (int n = 0; n < DECIM_STEPS; n++)
            dmax = fmax(dmax, fabs(dec[n].K - dec[n].K_formula));
        printf("decimation: max |K^(n) traced - formula| = %.1e over %d steps\n", dmax, DECIM_STEPS);
    }
    for (int l = 0; l < MEHTA_DEPTH; l++) {
        free(loc[l].fields);
        free(loc[l].rgs);
        level_match_free(&bm[l]);
    }
    free(rec);
    free(sr);
    kd_dbn_free(net);
    kd_dbn_file_free(df);
    kd_dataset_free(ds);
    if (st != KD_OK)
        return cli_fail_status(cmd, st);
    if (job_finish(&J, cmd) != CLI_OK)
        return CLI_FAILURE;
    if (!cli_quiet)
        printf("\nreport: %s/report.html (and report.md); %.1f s in all\n", dir, job_seconds(&J, ""));
    return CLI_OK;
}
