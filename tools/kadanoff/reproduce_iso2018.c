/*
 * kadanoff reproduce iso2018 — Iso, Shiba & Yokoo (2018), "Scale-invariant
 * feature extraction of neural network and renormalization group flow", end to
 * end, with the physical checks the paper's thermometer cannot give
 * (Veiga & Vicente 2020): every flow is read by the neural thermometer AND by
 * the energy (exact Kaufman e(T) of the 10×10 torus) and |m| (Monte Carlo
 * reference) estimators.
 *
 * Every stage is a kadanoff command run in-process (job.c); the report lists
 * them, DIR/commands.sh reruns them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "kadanoff/flow.h"
#include "kadanoff/nn.h"
#include "kadanoff/report.h"
#include "kadanoff/thermometry.h"
#include "mpi_cli.h"
#include "reproduce.h"

/* Sizes of the full study and of --quick. */
typedef struct {
    int samples;       /* configurations per temperature */
    int therm_epochs;  /* thermometer epochs (early stopping may end sooner) */
    int rbm_epochs;
    int steps, chains; /* flows */
    int nhidden[8], nsizes;
} plan;

static const plan full_plan = {1000, 100, 200, 40, 1000, {16, 36, 64, 100, 144}, 5};
static const plan quick_plan = {200, 40, 40, 20, 200, {16, 64, 100}, 3};

/* One trained (or random) RBM of the study. */
typedef struct {
    char name[48];     /* file stem, e.g. "h100-all" */
    char setting[96];  /* description for the tables */
    int nh;
} model;

/* Result of one flow, for the summary table. */
typedef struct {
    const model *m;
    const char *start;
    kd_flow_fixed_point fp;
    double T_thermo, T_thermo_spread;   /* plateau mean and spread over steps */
    kd_temp_estimate T_e;               /* from e* */
    double T_absm, T_absm_err;          /* plateau mean of T_|m| */
} flow_result;

static void plateau_mean(const kd_flow *f, int from, size_t offset, double *mean, double *spread)
{
    double s = 0, s2 = 0;
    int n = 0;
    for (int k = from; k <= f->steps; k++) {
        double v = *(const double *)((const char *)&f->readout[k] + offset);
        if (!isfinite(v))
            continue;
        s += v;
        s2 += v * v;
        n++;
    }
    *mean = n ? s / n : NAN;
    *spread = n > 1 ? sqrt(fmax(0, (s2 - s * s / n) / (n - 1))) : 0;
}

static int measure_flow(const char *cmd, const char *path, const model *m, const char *start,
                        flow_result *out, kd_flow **keep)
{
    *keep = NULL;
    if (mpicli_rank() != 0) /* over MPI the report is rank 0's */
        return CLI_OK;
    kd_flow *f;
    kd_status st = kd_flow_read(path, &f);
    if (st != KD_OK)
        return cli_fail_status(cmd, st);
    out->m = m;
    out->start = start;
    kd_flow_find_fixed_point(f, &out->fp);
    int from = out->fp.converged ? out->fp.from_step : f->steps;
    plateau_mean(f, from, offsetof(kd_flow_readout, T_thermometer), &out->T_thermo,
                 &out->T_thermo_spread);
    plateau_mean(f, from, offsetof(kd_flow_readout, T_abs_m), &out->T_absm, &out->T_absm_err);
    kd_thermometry_energy_estimate(&f->lattice, out->fp.e, out->fp.e_err, &out->T_e);
    *keep = f;
    return CLI_OK;
}

/* T (thermometer) and T (energy) against flow step for several flows. */
static void flow_figure(const char *cmd, const char *dir, const char *name, const char *title,
                        kd_flow *const *flows, const char *const *labels, int nflows, int energy)
{
    kd_plot *p;
    if (kd_plot_new(&p, title, "flow step n", energy ? "T from ⟨e⟩ (exact e(T), J/k_B)" : "T read by the thermometer (J/k_B)") != KD_OK)
        return;
    for (int i = 0; i < nflows; i++) {
        const kd_flow *f = flows[i];
        double *x = malloc((size_t)(f->steps + 1) * sizeof *x), *y = malloc((size_t)(f->steps + 1) * sizeof *y),
               *e = malloc((size_t)(f->steps + 1) * sizeof *e);
        for (int k = 0; k <= f->steps; k++) {
            x[k] = k;
            y[k] = energy ? f->readout[k].T_energy : f->readout[k].T_thermometer;
            e[k] = energy ? f->readout[k].T_energy_err : NAN;
        }
        kd_plot_add_series(p, labels[i], (size_t)f->steps + 1, x, y, energy ? e : NULL, KD_SERIES_LINESPOINTS);
        free(x);
        free(y);
        free(e);
    }
    kd_plot_add_hline(p, kd_exact_tc(), "T_c = 2.269");
    /* the thermometer's classes span 0..6; energy estimates far above (the
     * random-weight control has ⟨e⟩ ≈ 0, i.e. T → inf) are off the chart */
    kd_plot_set_yrange(p, 0, 7);
    kd_plot_set_key(p, "outside right top");
    kd_status st = kd_plot_write(p, dir, name, NULL);
    if (st != KD_OK && st != KD_ERR_UNSUPPORTED)
        cli_fail_status(cmd, st);
    kd_plot_free(p);
}

int reproduce_iso2018(const char *dir, int quick, uint64_t seed)
{
    const char *cmd = "reproduce";
    const plan *P = quick ? &quick_plan : &full_plan;
    job J;
    if (job_start(&J, cmd, dir) != CLI_OK)
        return CLI_FAILURE;
    const char *S = job_fmt(&J, "%llu", (unsigned long long)seed);
    const char *n_s = job_fmt(&J, "%d", P->samples);
    const char *data = job_path(&J, "data.h5"), *data0inf = job_path(&J, "data-0-inf.h5");
    const char *thermo = job_path(&J, "thermometer.h5");
    const char *rbm_epochs = job_fmt(&J, "%d", P->rbm_epochs);
    const char *steps = job_fmt(&J, "%d", P->steps), *chains = job_fmt(&J, "%d", P->chains);
    int rc;

    /* 1. Data: 10×10 torus, T = 0, 0.25, ..., 6, Wolff, global flips so both signs appear. */
    if ((rc = job_run(&J, "data", "sample", "-L", "10", "--temps", "0:6:0.25", "-n", n_s,
                      "--algorithm", "wolff", "--symmetrize", "--seed", S, "-q", "-o", data, NULL)))
        return rc;
    if ((rc = job_run(&J, "data T=0,inf", "sample", "-L", "10", "--temps", "0,inf", "-n", n_s,
                      "--symmetrize", "--seed", S, "-q", "-o", data0inf, NULL)))
        return rc;

    /* 2. Thermometer: 100 -> 64 -> 25 classes, Z2 augmentation. */
    if ((rc = job_run(&J, "thermometer", "train-thermometer", data, "--hidden", "64",
                      "--epochs", job_fmt(&J, "%d", P->therm_epochs), "--augment-flip",
                      "--seed", S, "-q", "-o", thermo, NULL)))
        return rc;

    /* 3. RBMs: several n_h on all temperatures, training-set variants at n_h = 100,
     *    and an untrained random-weight control. CD-1, spin units, no biases,
     *    W ~ N(0, 0.1²), batch 100, lr 0.01 (the public reproduction's choices).
     *    One variant changes the unit convention instead of the data: 0/1 units
     *    with biases, the usual machine-learning RBM, since a flow's end point
     *    may depend on it (a 0/1 RBM without biases is not Z2 symmetric). */
    model models[16];
    int nm = 0;
#define TRAIN(stage, file, nh_s, epochs_s, ...)                                                 \
    job_run(&J, stage, "train-rbm", __VA_ARGS__, "--hidden", nh_s, "--cd", "1", "--batch",      \
            "100", "--lr", "0.01", "--momentum", "0.5", "--init-sigma", "0.1",                  \
            "--monitor-every", "10", "--epochs", epochs_s, "--seed", S, "-q", "-o", file, NULL)
    for (int i = 0; i < P->nsizes; i++) {
        model *m = &models[nm++];
        m->nh = P->nhidden[i];
        snprintf(m->name, sizeof m->name, "h%d-all", m->nh);
        snprintf(m->setting, sizeof m->setting, "all T, n_h = %d", m->nh);
        if ((rc = TRAIN(job_fmt(&J, "rbm %s", m->name), job_path(&J, job_fmt(&J, "rbm-%s.h5", m->name)),
                        job_fmt(&J, "%d", m->nh), rbm_epochs, data, "--no-bias")))
            return rc;
    }
    /* option/value: selects the training temperatures, or (for h100-binary)
     * the unit type; NULL: the T = 0 and T = inf dataset. */
    static const struct {
        const char *name, *setting, *option, *value;
        int bias;
    } variants[] = {
        {"h100-below", "only T < T_c (T <= 2.25)", "--temps", "0:2.25:0.25", 0},
        {"h100-above", "only T > T_c (T >= 2.5)", "--temps", "2.5:6:0.25", 0},
        {"h100-nocrit", "all T except 2.0, 2.25, 2.5", "--exclude", "2:2.5:0.25", 0},
        {"h100-0inf", "only T = 0 and T = inf states", NULL, NULL, 0},
        {"h100-binary", "all T, 0/1 units with biases", "--units", "binary", 1},
    };
    for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
        model *m = &models[nm++];
        m->nh = 100;
        snprintf(m->name, sizeof m->name, "%s", variants[v].name);
        snprintf(m->setting, sizeof m->setting, "%s, n_h = 100", variants[v].setting);
        const char *file = job_path(&J, job_fmt(&J, "rbm-%s.h5", m->name));
        rc = !variants[v].option
                 ? TRAIN(job_fmt(&J, "rbm %s", m->name), file, "100", rbm_epochs, data0inf, "--no-bias")
             : variants[v].bias
                 ? TRAIN(job_fmt(&J, "rbm %s", m->name), file, "100", rbm_epochs, data,
                         variants[v].option, variants[v].value)
                 : TRAIN(job_fmt(&J, "rbm %s", m->name), file, "100", rbm_epochs, data,
                         variants[v].option, variants[v].value, "--no-bias");
        if (rc)
            return rc;
    }
    {
        model *m = &models[nm++];
        m->nh = 100;
        snprintf(m->name, sizeof m->name, "h100-random");
        snprintf(m->setting, sizeof m->setting, "untrained, W ~ N(0, 0.1²), n_h = 100");
        if ((rc = TRAIN("rbm h100-random", job_path(&J, "rbm-h100-random.h5"), "100", "0", data,
                        "--no-bias")))
            return rc;
    }
#undef TRAIN

    /* 4. Flows from T = 0 ('up') and T = inf ('random') for every model, and from
     *    dataset temperatures for the n_h = 100 all-T model. */
    static const char *starts[] = {"up", "random"};
    flow_result results[64];
    kd_flow *flows[64];
    int nf = 0;
    for (int i = 0; i < nm; i++)
        for (int s = 0; s < 2; s++) {
            const char *file = job_path(&J, job_fmt(&J, "flow-%s-%s.h5", models[i].name, starts[s]));
            if ((rc = job_run(&J, job_fmt(&J, "flow %s from %s", models[i].name, starts[s]), "flow",
                              "--rbm", job_path(&J, job_fmt(&J, "rbm-%s.h5", models[i].name)),
                              "--start", starts[s], "--steps", steps, "--chains", chains,
                              "--thermometer", thermo, "--reference", data, "--seed", S, "-q", "-o",
                              file, NULL)))
                return rc;
            if (measure_flow(cmd, file, &models[i], starts[s], &results[nf], &flows[nf]) != CLI_OK)
                return CLI_FAILURE;
            nf++;
        }
    static const char *const data_T[] = {"1", "2.25", "3.5", "5"};
    int h100 = -1;
    for (int i = 0; i < nm; i++)
        if (!strcmp(models[i].name, "h100-all"))
            h100 = i;
    int first_data_flow = nf;
    for (int s = 0; s < 4 && h100 >= 0; s++) {
        const char *file = job_path(&J, job_fmt(&J, "flow-h100-all-T%s.h5", data_T[s]));
        const char *start = job_fmt(&J, "%s:%s", data, data_T[s]);
        if ((rc = job_run(&J, job_fmt(&J, "flow h100-all from data T=%s", data_T[s]), "flow", "--rbm",
                          job_path(&J, "rbm-h100-all.h5"), "--start", start, "--steps", steps,
                          "--chains", chains, "--thermometer", thermo, "--reference", data, "--seed",
                          S, "-q", "-o", file, NULL)))
            return rc;
        if (measure_flow(cmd, file, &models[h100], job_fmt(&J, "data T = %s", data_T[s]), &results[nf],
                         &flows[nf]) != CLI_OK)
            return CLI_FAILURE;
        nf++;
    }

    /* 5. Weight analysis of the n_h = 100 all-T model. */
    const char *wdir = job_path(&J, "weights");
    if ((rc = job_run(&J, "weights h100-all", "analyze", job_path(&J, "rbm-h100-all.h5"), "--data",
                      data, "-q", "-o", wdir, NULL)))
        return rc;
    if (mpicli_rank() != 0) /* over MPI, rank 0 alone reads the results and reports */
        return job_finish(&J, cmd);

    /* 6. Figures and report. */
    const char *fig = job_path(&J, "figures");
    kd_report *R;
    if (kd_report_new(&R, "RBM flow toward T_c: a reproduction of Iso, Shiba & Yokoo (2018)") != KD_OK)
        return cli_fail_status(cmd, KD_ERR_NOMEM);
    kd_report_paragraph(R, "kadanoff %s, seed %llu, %s run. 10×10 periodic Ising model, T = 0, 0.25, …, 6 "
                           "(%d configurations per temperature). Every RBM flow is read by the neural "
                           "thermometer (the paper's method) and by physical estimators: T from ⟨e⟩ "
                           "inverted through the exact (Kaufman) e(T) of the 10×10 torus, and T from ⟨|m|⟩ "
                           "against the Monte Carlo curve of the data.",
                        kd_version(), (unsigned long long)seed, quick ? "quick (reduced)" : "full",
                        P->samples);
    kd_report_heading(R, 2, "Summary: where the flows end");
    {
        static const char *const hdr[] = {"setting", "start", "T* thermometer", "T* from e*",
                                          "|m*|", "e*", "plateau from step"};
        kd_report_table_begin(R, 7, hdr,
                              "Fixed points. T* thermometer: mean over the plateau steps ± spread; "
                              "T* from e*: the plateau energy inverted through the exact e(T); "
                              "errors over independent chains.");
        if (!cli_quiet)
            printf("%-44s %-14s %16s %18s %16s %8s\n", "setting", "start", "T* thermometer",
                   "T* energy", "|m*|", "plateau");
        for (int i = 0; i < nf; i++) {
            const flow_result *r = &results[i];
            char a[64], b[64], c[64], d[64];
            kd_format_uncertain(r->T_thermo, r->T_thermo_spread, a, sizeof a);
            kd_format_uncertain(r->T_e.T, r->T_e.err, b, sizeof b);
            kd_format_uncertain(r->fp.abs_m, r->fp.abs_m_err, c, sizeof c);
            kd_format_uncertain(r->fp.e, r->fp.e_err, d, sizeof d);
            kd_report_table_rowf(R, "%s\t%s\t%s\t%s%s\t%s\t%s\t%s", r->m->setting, r->start, a, b,
                                 r->T_e.flag == KD_TEMP_OK ? "" : " (bound)", c, d,
                                 r->fp.converged ? job_fmt(&J, "%d", r->fp.from_step) : "not converged");
            if (!cli_quiet)
                printf("%-44s %-14s %16s %18s %16s %8s\n", r->m->setting, r->start, a, b, c,
                       r->fp.converged ? job_fmt(&J, "%d", r->fp.from_step) : "-");
        }
    }
    /* The headline comparison in words, from the numbers above. */
    {
        const flow_result *up = NULL, *rnd = NULL, *ctl = NULL;
        for (int i = 0; i < nf; i++) {
            if (!strcmp(results[i].m->name, "h100-all") && !strcmp(results[i].start, "up"))
                up = &results[i];
            if (!strcmp(results[i].m->name, "h100-all") && !strcmp(results[i].start, "random"))
                rnd = &results[i];
            if (!strcmp(results[i].m->name, "h100-random") && !strcmp(results[i].start, "random"))
                ctl = &results[i];
        }
        if (up && rnd && ctl)
            kd_report_paragraph(
                R,
                "Headline (n_h = n_v = 100, trained on all 25 temperatures): from the T = 0 start the "
                "flow ends at T* = %.2f on the thermometer and %.2f from the energy (|m*| = %.3f); from "
                "the T = ∞ start at T* = %.2f on the thermometer and %.2f from the energy (|m*| = %.3f). "
                "The paper reports T* ≈ T_c = 2.27 from both sides. The untrained random-weight control "
                "reads T* = %.2f on the thermometer and %.2f from the energy (|m*| = %.3f). Values are "
                "as they came out of this run, not tuned.",
                up->T_thermo, up->T_e.T, up->fp.abs_m, rnd->T_thermo, rnd->T_e.T, rnd->fp.abs_m,
                ctl->T_thermo, ctl->T_e.T, ctl->fp.abs_m);
    }
    kd_report_heading(R, 2, "Flows");
    {
        /* n_h dependence (all-T models) and training-set variants */
        kd_flow *sel[32];
        const char *lab[32];
        for (int pass = 0; pass < 2; pass++) {
            int ns = 0;
            for (int i = 0; i < first_data_flow; i++) {
                int all = strstr(results[i].m->name, "-all") != NULL;
                if ((pass == 0) == all || (pass == 1 && !strcmp(results[i].m->name, "h100-all"))) {
                    sel[ns] = flows[i];
                    lab[ns++] = job_fmt(&J, "%s, from %s", results[i].m->name, results[i].start);
                }
            }
            for (int energy = 0; energy < 2; energy++) {
                const char *name = job_fmt(&J, "flow-%s-%s", pass ? "variants" : "sizes", energy ? "energy" : "thermometer");
                flow_figure(cmd, fig, name,
                            job_fmt(&J, "%s: %s", pass ? "training-set variants (n_h = 100)" : "RBMs trained on all T",
                                    energy ? "temperature from the energy" : "thermometer reading"),
                            sel, lab, ns, energy);
                kd_report_figure(R, job_fmt(&J, "figures/%s.png", name),
                                 energy ? "Temperature from ⟨e⟩ along the flows (exact e(T) of the 10×10 torus), ±1σ; "
                                                 "values above T = 7 (the random-weight control: ⟨e⟩ ≈ 0) are off the chart."
                                        : "Temperature read by the neural thermometer along the flows "
                                          "(mean T under the averaged class probabilities, the paper's readout).");
            }
        }
        int ns = 0;
        for (int i = first_data_flow; i < nf; i++) {
            sel[ns] = flows[i];
            lab[ns++] = results[i].start;
        }
        for (int energy = 0; energy < 2; energy++) {
            const char *name = job_fmt(&J, "flow-data-starts-%s", energy ? "energy" : "thermometer");
            flow_figure(cmd, fig, name, "n_h = 100, all T: flows from dataset temperatures", sel, lab, ns, energy);
            kd_report_figure(R, job_fmt(&J, "figures/%s.png", name),
                             energy ? "Flows from equilibrium data: temperature from ⟨e⟩."
                                    : "Flows from equilibrium data: thermometer reading.");
        }
    }
    kd_report_heading(R, 2, "Weights of the n_h = 100 model");
    kd_report_paragraph(R, "Weight analysis (singular values, W Wᵀ spectrum and eigenvectors, comparison with "
                           "the spin correlation matrix of the data): see weights/report.html, written by "
                           "the 'analyze' stage below.");
    kd_report_heading(R, 2, "How to rerun");
    job_report(&J, R);
    kd_status st = kd_report_write(R, dir);
    kd_report_free(R);
    for (int i = 0; i < nf; i++)
        kd_flow_free(flows[i]);
    if (st != KD_OK)
        return cli_fail_status(cmd, st);
    if (job_finish(&J, cmd) != CLI_OK)
        return CLI_FAILURE;
    if (!cli_quiet)
        printf("\nreport: %s/report.html (and report.md); %.1f s in all\n", dir, job_seconds(&J, ""));
    return CLI_OK;
}
