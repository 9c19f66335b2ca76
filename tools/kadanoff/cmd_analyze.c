/* kadanoff analyze — weight analysis of an RBM (or one level of a DBN): singular
 * values, the W Wᵀ spectrum and its eigenvectors on the lattice, hidden units'
 * receptive fields, and the comparison of W Wᵀ with the data's ⟨s_i s_j⟩;
 * figures and a small report in a directory. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kadanoff/rbm_file.h"
#include "kadanoff/report.h"
#include "kadanoff/weights.h"

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: kadanoff analyze MODEL.h5 [--data DATA.h5] [options] -o DIR\n\n"
        "Weight analysis of a trained RBM (a kadanoff-rbm file) or of one level of a deep\n"
        "belief network (a kadanoff-dbn file: the effective receptive fields W_1 ... W_l):\n\n"
        "  - singular values of W (LAPACK sgesdd on W itself);\n"
        "  - eigenvalues and eigenvectors of W W^T, the n_v x n_v matrix product (BLAS\n"
        "    ssyrk + LAPACK ssyevd), sorted descending; each eigenvector is an image of\n"
        "    the lattice, and its Fourier content says how long-wavelength it is:\n"
        "    k0 = fraction of its power in the uniform (k = 0) mode, low = fraction in\n"
        "    |k| <= 2 pi / L, <|k|> = power-weighted mean wave number, and the wavelength\n"
        "    of its strongest mode in lattice spacings;\n"
        "  - with --data: the spin-spin correlation matrix C_ij = <s_i s_j> of the data\n"
        "    and its comparison with W W^T (Frobenius cosine of the whole matrices and of\n"
        "    their off-diagonal parts, Pearson correlation of the off-diagonal entries,\n"
        "    overlaps |u_k . c_k| of leading eigenvectors, and the overlap of the\n"
        "    subspaces spanned by the leading --top eigenvectors: 1 = same subspace,\n"
        "    about top/n_v for unrelated ones).\n\n"
        "Writes into DIR: figures/*.dat (numbers), figures/*.gp (gnuplot scripts),\n"
        "figures/*.png and *.svg (rendered when gnuplot is installed; otherwise a\n"
        "warning, and the data and scripts remain), report.md and report.html\n"
        "(self-contained, figures embedded).\n\n"
        "Options:\n"
        "  --data FILE.h5        dataset of the same lattice for the correlation matrix\n"
        "  --temps LIST|all      its temperatures to use: a:b:step, comma list, 'inf', or\n"
        "                        'all' (default: the temperatures the model was trained on\n"
        "                        when the model file records them, else all)\n"
        "  --connected           use the connected correlation <s_i s_j> - <s_i><s_j>\n"
        "  --top K               leading eigenvectors drawn, tabulated and compared\n"
        "                        (default 16)\n"
        "  --layer L             DBN files: the level analysed, 1..depth (default 1)\n"
        "  --no-render           write figure data and scripts only, do not run gnuplot\n"
        "  --no-svg              PNG only\n"
        "  -o, --output DIR      output directory (required; created if missing)\n"
        "  --threads N           OpenMP threads (default: all cores)\n"
        "  -q, --quiet           print nothing but errors\n"
        "  -v, --verbose         more messages\n"
        "  -h, --help            this help\n\n"
        "Prints the model's shape, the leading singular values and eigenvalues, a table\n"
        "of the leading eigenvectors' Fourier content and, with --data, the comparison\n"
        "numbers. Exit status 0 also when gnuplot is missing (a warning says so).\n\n"
        "Example:\n"
        "  kadanoff analyze rbm.h5 --data data.h5 --top 16 -o analysis\n");
}

/* Largest n_v whose n_v × n_v matrices are drawn in full. */
#define MATRIX_MAX 400

/* ---- inputs ------------------------------------------------------------------ */

typedef struct {
    char format[32];
    int level, depth;          /* DBN: analysed level and depth; RBM: 1, 1 */
    int nv, nh;
    float *W;                  /* nv × nh, owned */
    kd_lattice lattice;
    int lx, ly;                /* image shape: L × L (square) or L × 1 (chain) */
    char units[64];
    size_t ntemps;             /* training temperatures recorded in the model */
    double *temps;             /* owned copy, ascending */
    char source_data[1024];
} model_info;

static void model_free(model_info *m)
{
    free(m->W);
    free(m->temps);
}

static int load_model(const char *cmd, const char *path, int level, model_info *m)
{
    kd_rbm_file *rf = NULL;
    kd_dbn_file *df = NULL;
    memset(m, 0, sizeof *m);
    kd_status st = kd_model_file_read(path, &rf, &df);
    if (st != KD_OK)
        return cli_fail_status(cmd, st);
    const kd_rbm_source *src = rf ? &rf->source : &df->source;
    m->lattice = src->lattice;
    snprintf(m->source_data, sizeof m->source_data, "%s", src->data);
    if (src->ntemperatures) {
        m->temps = malloc(src->ntemperatures * sizeof *m->temps);
        if (!m->temps)
            goto nomem;
        memcpy(m->temps, src->temperatures, src->ntemperatures * sizeof *m->temps);
        m->ntemps = src->ntemperatures;
    }
    if (rf) {
        if (level != 1) {
            kd_rbm_file_free(rf);
            model_free(m);
            return cli_usage_error(cmd, "--layer %d: %s is a single RBM (kadanoff-rbm), only "
                                        "level 1 exists", level, path);
        }
        const kd_rbm *rbm = rf->model->rbm;
        snprintf(m->format, sizeof m->format, "%s", KD_RBM_FORMAT);
        m->level = m->depth = 1;
        m->nv = kd_rbm_nv(rbm);
        m->nh = kd_rbm_nh(rbm);
        snprintf(m->units, sizeof m->units, "visible %s, hidden %s",
                 kd_units_name(kd_rbm_visible_units(rbm)), kd_units_name(kd_rbm_hidden_units(rbm)));
        size_t count = (size_t)m->nv * (size_t)m->nh;
        if (!(m->W = malloc(count * sizeof *m->W)))
            goto nomem;
        memcpy(m->W, kd_rbm_weights(rbm), count * sizeof *m->W);
        kd_rbm_file_free(rf);
    } else {
        snprintf(m->format, sizeof m->format, "%s", KD_DBN_FORMAT);
        m->depth = df->depth;
        if (level > df->depth) {
            kd_dbn_file_free(df);
            model_free(m);
            return cli_usage_error(cmd, "--layer %d: %s has %d levels above the data", level,
                                   path, m->depth);
        }
        kd_dbn *net = NULL;
        st = kd_dbn_file_network(df, &net);
        if (st != KD_OK) {
            kd_dbn_file_free(df);
            model_free(m);
            return cli_fail_status(cmd, st);
        }
        m->level = level;
        m->nv = kd_dbn_width(net, 0);
        m->nh = kd_dbn_width(net, level);
        const kd_rbm *top = kd_dbn_layer(net, level - 1);
        snprintf(m->units, sizeof m->units, "visible %s, level-%d %s",
                 kd_units_name(kd_rbm_visible_units(kd_dbn_layer(net, 0))), level,
                 kd_units_name(kd_rbm_hidden_units(top)));
        m->W = malloc((size_t)m->nv * (size_t)m->nh * sizeof *m->W);
        st = m->W ? kd_dbn_receptive_fields(net, level, m->W) : KD_ERR_NOMEM;
        kd_dbn_free(net);
        kd_dbn_file_free(df);
        if (st != KD_OK) {
            model_free(m);
            return st == KD_ERR_NOMEM ? cli_fail(cmd, "out of memory") : cli_fail_status(cmd, st);
        }
    }
    m->lx = m->lattice.L;
    m->ly = m->lattice.kind == KD_LATTICE_SQUARE ? m->lattice.L : 1;
    if ((size_t)m->lx * (size_t)m->ly != (size_t)m->nv) {
        model_free(m);
        return cli_fail(cmd, "%s: %d visible units, but the recorded lattice (%s, L = %d) has %zu "
                             "sites", path, m->nv, kd_lattice_kind_name(m->lattice.kind),
                        m->lattice.L, kd_lattice_size(&m->lattice));
    }
    return CLI_OK;
nomem:
    kd_rbm_file_free(rf);
    kd_dbn_file_free(df);
    model_free(m);
    return cli_fail(cmd, "out of memory");
}

static int same_temperature(double a, double b)
{
    if (isinf(a) || isinf(b))
        return a == b;
    return fabs(a - b) <= 1e-9 * fmax(1.0, fabs(b));
}

/* The dataset's configurations at the selected temperatures, contiguous. */
typedef struct {
    int8_t *spins;
    size_t n;
    size_t ntemps;   /* distinct temperatures used */
    char selection[160];
} data_info;

static int load_data(const char *cmd, const char *path, const char *temps_opt,
                     const model_info *m, data_info *out)
{
    memset(out, 0, sizeof *out);
    kd_dataset *d = NULL;
    kd_status st = kd_dataset_read(path, &d);
    if (st != KD_OK)
        return cli_fail_status(cmd, st);
    if (d->lattice.kind != m->lattice.kind || d->lattice.L != m->lattice.L) {
        int rc = cli_fail(cmd, "%s: lattice %s L = %d does not match the model's %s L = %d", path,
                          kd_lattice_kind_name(d->lattice.kind), d->lattice.L,
                          kd_lattice_kind_name(m->lattice.kind), m->lattice.L);
        kd_dataset_free(d);
        return rc;
    }
    /* Which temperatures: --temps, else the model's training temperatures, else all. */
    double *sel = NULL;
    size_t nsel = 0;
    int all = 0;
    if (temps_opt && !strcmp(temps_opt, "all")) {
        all = 1;
        snprintf(out->selection, sizeof out->selection, "all temperatures (--temps all)");
    } else if (temps_opt) {
        if (kd_parse_temperatures(temps_opt, &sel, &nsel) != KD_OK) {
            kd_dataset_free(d);
            return cli_usage_error(cmd, "--temps: %s", kd_last_error());
        }
        snprintf(out->selection, sizeof out->selection, "--temps %s", temps_opt);
    } else if (m->ntemps) {
        if (!(sel = malloc(m->ntemps * sizeof *sel))) {
            kd_dataset_free(d);
            return cli_fail(cmd, "out of memory");
        }
        memcpy(sel, m->temps, m->ntemps * sizeof *sel);
        nsel = m->ntemps;
        snprintf(out->selection, sizeof out->selection,
                 "the model's %zu training temperatures", nsel);
    } else {
        all = 1;
        snprintf(out->selection, sizeof out->selection, "all temperatures");
    }
    const size_t N = kd_lattice_size(&d->lattice);
    size_t n = 0;
    char *used = calloc(nsel ? nsel : 1, 1);
    out->spins = malloc((d->n ? d->n : 1) * N);
    if (!used || !out->spins) {
        free(used);
        free(sel);
        kd_dataset_free(d);
        return cli_fail(cmd, "out of memory");
    }
    for (size_t r = 0; r < d->n; r++) {
        int take = all;
        for (size_t t = 0; !take && t < nsel; t++)
            if (same_temperature(d->temperature[r], sel[t])) {
                take = 1;
                used[t] = 1;
            }
        if (take)
            memcpy(out->spins + n++ * N, d->spins + r * N, N);
    }
    out->n = n;
    if (all) {
        /* count distinct labels */
        for (size_t r = 0; r < d->n; r++) {
            int seen = 0;
            for (size_t q = 0; q < r && !seen; q++)
                seen = same_temperature(d->temperature[q], d->temperature[r]);
            out->ntemps += !seen;
        }
    } else {
        for (size_t t = 0; t < nsel; t++)
            out->ntemps += used[t];
    }
    free(used);
    free(sel);
    kd_dataset_free(d);
    if (n == 0) {
        free(out->spins);
        out->spins = NULL;
        return cli_fail(cmd, "%s: no configuration at the selected temperatures (%s); use --temps "
                             "all or a list of its temperatures (see kadanoff info %s)",
                        path, out->selection, path);
    }
    return CLI_OK;
}

/* ---- figures ----------------------------------------------------------------- */

typedef struct {
    const char *cmd;
    const char *dir; /* DIR/figures */
    kd_figure_options opt;
    int warned, rendered, written, failed;
} figure_ctx;

/* Account for one figure's status: a missing/failing gnuplot is warned about
 * once and the run goes on; anything else is an error. */
static int figure_done(figure_ctx *fc, kd_status st)
{
    if (st == KD_OK) {
        fc->written++;
        fc->rendered += fc->opt.render;
        return CLI_OK;
    }
    if (st == KD_ERR_UNSUPPORTED) {
        fc->written++;
        if (!fc->warned)
            kd_log(KD_LOG_WARN, "%s", kd_last_error());
        fc->warned = 1;
        return CLI_OK;
    }
    fc->failed = 1;
    return cli_fail_status(fc->cmd, st);
}

/* ---- main ------------------------------------------------------------------------ */

int cmd_analyze(int argc, char **argv)
{
    const char *cmd = "analyze";
    static const struct option opts[] = {
        {"data", required_argument, 0, 1},     {"temps", required_argument, 0, 2},
        {"connected", no_argument, 0, 3},      {"top", required_argument, 0, 4},
        {"layer", required_argument, 0, 5},    {"no-render", no_argument, 0, 6},
        {"no-svg", no_argument, 0, 7},         {"output", required_argument, 0, 'o'},
        {"threads", required_argument, 0, CLI_OPT_THREADS},  {"quiet", no_argument, 0, 'q'},
        {"verbose", no_argument, 0, 'v'},      {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *data_path = NULL, *temps = NULL, *outdir = NULL;
    int connected = 0, render = 1, svg = 1;
    long top = 16, layer = 1;
    int c, rc = CLI_OK;
    /* The command line for the report, before getopt permutes argv. */
    char cmdline[4096];
    cli_join_args(argc + 1, argv - 1, cmdline, sizeof cmdline);
    optind = 1;
    while ((c = cli_next_option(cmd, argc, argv, ":o:qvh", opts, usage, &rc)) > 0) {
        switch (c) {
        case 1:
            data_path = optarg;
            break;
        case 2:
            temps = optarg;
            break;
        case 3:
            connected = 1;
            break;
        case 4:
            rc = cli_parse_long(cmd, "--top", optarg, 1, 1024, &top);
            break;
        case 5:
            rc = cli_parse_long(cmd, "--layer", optarg, 1, 64, &layer);
            break;
        case 6:
            render = 0;
            break;
        case 7:
            svg = 0;
            break;
        case 'o':
            outdir = optarg;
            break;
        }
    }
    if (c == CLI_OPTIONS_STOP ||
        (rc = cli_operands(cmd, argc, argv, 1, 1, "no MODEL.h5 given")) != CLI_OK)
        return rc;
    if (!outdir)
        return cli_usage_error(cmd, "-o/--output DIR is required");
    if (temps && !data_path)
        return cli_usage_error(cmd, "--temps needs --data");
    if (connected && !data_path)
        return cli_usage_error(cmd, "--connected needs --data");
    const char *model_path = argv[optind];
    kd_clear_error();

    model_info m;
    if ((rc = load_model(cmd, model_path, (int)layer, &m)) != CLI_OK)
        return rc;
    data_info d = {0};
    if (data_path && (rc = load_data(cmd, data_path, temps, &m, &d)) != CLI_OK) {
        model_free(&m);
        return rc;
    }
    /* Nothing is written before the inputs are known to be good. */
    char figdir[4096];
    if (snprintf(figdir, sizeof figdir, "%s/figures", outdir) >= (int)sizeof figdir) {
        model_free(&m);
        free(d.spins);
        return cli_fail(cmd, "output directory name is too long");
    }
    kd_status st = kd_report_mkdir(figdir);
    if (st != KD_OK) {
        model_free(&m);
        free(d.spins);
        return cli_fail_status(cmd, st);
    }

    const int nv = m.nv, nh = m.nh;
    int K = (int)top < nv ? (int)top : nv;
    /* Site matrices above this side are drawn only through their translation
     * averages: a 1600 × 1600 map is a 25 MB data file and unreadable anyway. */
    const int draw_matrices = nv <= MATRIX_MAX;
    const int periodic = m.lattice.boundary == KD_BOUNDARY_PERIODIC;
    kd_weights_spectrum *sp = NULL;
    kd_weights_modes *modes = calloc((size_t)nv, sizeof *modes);
    kd_weights_modes *cmodes = NULL;
    float *C = NULL, *clam = NULL, *cvec = NULL;
    kd_weights_comparison cmp;
    memset(&cmp, 0, sizeof cmp);
    kd_report *rep = NULL;
    figure_ctx fc = {cmd, figdir, {0, 0, 1, 1}, 0, 0, 0, 0};
    kd_figure_options_init(&fc.opt);
    fc.opt.render = render;
    fc.opt.svg = svg;
    rc = CLI_OK;

    st = modes ? kd_weights_spectrum_new(m.W, nv, nh, &sp) : KD_ERR_NOMEM;
    for (int k = 0; st == KD_OK && k < nv; k++) {
        float *vec = malloc((size_t)nv * sizeof *vec);
        if (!vec) {
            st = KD_ERR_NOMEM;
            break;
        }
        for (int i = 0; i < nv; i++)
            vec[i] = sp->eigenvectors[(size_t)i * (size_t)nv + (size_t)k];
        st = kd_weights_modes_of(vec, m.lx, m.ly, &modes[k]);
        free(vec);
    }
    if (st == KD_OK && d.spins) {
        size_t nn = (size_t)nv * (size_t)nv;
        C = malloc(nn * sizeof *C);
        clam = malloc((size_t)nv * sizeof *clam);
        cvec = malloc(nn * sizeof *cvec);
        cmodes = calloc((size_t)nv, sizeof *cmodes);
        st = C && clam && cvec && cmodes ? KD_OK : KD_ERR_NOMEM;
        if (st == KD_OK)
            st = kd_weights_correlation(d.spins, d.n, nv, connected, C);
        if (st == KD_OK)
            st = kd_weights_eigen(C, nv, clam, cvec);
        if (st == KD_OK)
            st = kd_weights_compare(sp->gram, C, nv, sp->eigenvectors, cvec, K, &cmp);
        for (int k = 0; st == KD_OK && k < K; k++) {
            float *col = malloc((size_t)nv * sizeof *col);
            if (!col) {
                st = KD_ERR_NOMEM;
                break;
            }
            for (int i = 0; i < nv; i++)
                col[i] = cvec[(size_t)i * (size_t)nv + (size_t)k];
            st = kd_weights_modes_of(col, m.lx, m.ly, &cmodes[k]);
            free(col);
        }
    }
    if (st != KD_OK) {
        rc = st == KD_ERR_NOMEM && !*kd_last_error() ? cli_fail(cmd, "out of memory")
                                                     : cli_fail_status(cmd, st);
        goto done;
    }

    /* ---- printed summary ---- */
    double trace = 0, ctrace = 0;
    for (int k = 0; k < nv; k++)
        trace += sp->eigenvalues[k];
    for (int k = 0; C && k < nv; k++)
        ctrace += clam[k];
    int rank = 0;
    for (int k = 0; k < nv; k++)
        rank += sp->eigenvalues[k] > 1e-6 * sp->eigenvalues[0];
    char shape[128];
    if (m.lattice.kind == KD_LATTICE_SQUARE)
        snprintf(shape, sizeof shape, "square lattice %d x %d, %s", m.lattice.L, m.lattice.L,
                 kd_boundary_name(m.lattice.boundary));
    else
        snprintf(shape, sizeof shape, "chain of %d sites, %s", m.lattice.L,
                 kd_boundary_name(m.lattice.boundary));
    if (!cli_quiet) {
        printf("# model %s (%s", model_path, m.format);
        if (!strcmp(m.format, KD_DBN_FORMAT))
            printf(", level %d of %d: receptive fields W_1...W_%d", m.level, m.depth, m.level);
        printf("): n_v = %d (%s), n_h = %d, %s\n", nv, shape, nh, m.units);
        printf("singular values of W (sgesdd):");
        for (int k = 0; k < sp->nsv && k < 10; k++)
            printf(" %.4g", sp->singular[k]);
        printf("%s\n", sp->nsv > 10 ? " ..." : "");
        printf("eigenvalues of W W^T (ssyrk + ssyevd):");
        for (int k = 0; k < nv && k < 10; k++)
            printf(" %.4g", sp->eigenvalues[k]);
        printf("%s\n", nv > 10 ? " ..." : "");
        printf("trace W W^T = |W|_F^2 = %.6g; numerical rank %d of %d; leading eigenvalue "
               "carries %.1f%% of the trace\n", trace, rank, nv,
               trace > 0 ? 100 * sp->eigenvalues[0] / trace : 0.0);
        printf("\nleading eigenvectors of W W^T on the lattice (Fourier content):\n");
        printf("%4s %12s %8s %8s %8s %8s %11s\n", "k", "lambda", "lam/tr", "k0", "low", "<|k|>",
               "wavelength");
        for (int k = 0; k < K; k++)
            printf("%4d %12.5g %8.4f %8.4f %8.4f %8.4f %11.4g\n", k + 1, sp->eigenvalues[k],
                   trace > 0 ? sp->eigenvalues[k] / trace : 0.0, modes[k].k0_fraction,
                   modes[k].low_fraction, modes[k].k_mean, modes[k].wavelength);
        if (C) {
            printf("\ndata %s: %zu configurations at %zu temperatures (%s)\n", data_path, d.n,
                   d.ntemps, d.selection);
            printf("W W^T vs %s:\n", connected ? "<s_i s_j> - <s_i><s_j>" : "<s_i s_j>");
            printf("  Frobenius cosine %.4f, off-diagonal cosine %.4f, off-diagonal Pearson %.4f\n",
                   cmp.cosine, cmp.cosine_offdiag, cmp.pearson_offdiag);
            printf("  subspace overlap of the leading %d eigenvectors %.4f (unrelated: ~%.4f)\n",
                   cmp.subspace_k, cmp.subspace_overlap, (double)K / nv);
            printf("  |u_k . c_k|:");
            for (int k = 0; k < cmp.noverlaps; k++)
                printf(" %.3f", cmp.overlap[k]);
            printf("\n  leading eigenvector of C: k0 %.4f, wavelength %.4g; of W W^T: k0 %.4f, "
                   "wavelength %.4g\n", cmodes[0].k0_fraction, cmodes[0].wavelength,
                   modes[0].k0_fraction, modes[0].wavelength);
        }
    }

    /* ---- figures ---- */
    {
        /* Spectrum: eigenvalues as fractions of the trace, so that W Wᵀ and C share axes. */
        double *x = malloc((size_t)nv * sizeof *x), *y = malloc((size_t)nv * sizeof *y);
        kd_plot *p = NULL;
        st = x && y ? kd_plot_new(&p, "Eigenvalue spectra", "index k (descending order)",
                                  "eigenvalue / trace")
                    : KD_ERR_NOMEM;
        for (int k = 0; st == KD_OK && k < nv; k++) {
            x[k] = k + 1;
            y[k] = trace > 0 ? sp->eigenvalues[k] / trace : 0;
        }
        if (st == KD_OK)
            st = kd_plot_add_series(p, "W Wᵀ", (size_t)nv, x, y, NULL, KD_SERIES_LINESPOINTS);
        for (int k = 0; st == KD_OK && C && k < nv; k++)
            y[k] = ctrace > 0 ? clam[k] / ctrace : 0;
        if (st == KD_OK && C)
            st = kd_plot_add_series(p, connected ? "data ⟨s_i s_j⟩ - ⟨s_i⟩⟨s_j⟩" : "data ⟨s_i s_j⟩",
                                    (size_t)nv, x, y, NULL, KD_SERIES_LINESPOINTS);
        if (st == KD_OK) {
            kd_plot_set_log(p, 0, 1);
            kd_plot_set_xrange(p, 0, nv + 1);
            st = kd_plot_write(p, figdir, "spectrum", &fc.opt);
        }
        kd_plot_free(p);
        if ((rc = figure_done(&fc, st)) != CLI_OK) {
            free(x), free(y);
            goto done;
        }
        /* Singular values. */
        for (int k = 0; k < sp->nsv; k++)
            y[k] = sp->singular[k];
        st = kd_figure_spectrum(figdir, "singular_values", "Singular values of W",
                                "singular value σ_k", (size_t)sp->nsv, y, 0, &fc.opt);
        if ((rc = figure_done(&fc, st)) != CLI_OK) {
            free(x), free(y);
            goto done;
        }
        /* Fourier content of every eigenvector. */
        p = NULL;
        st = kd_plot_new(&p, "How long-wavelength are the eigenvectors?",
                         "eigenvector index k (descending eigenvalue)",
                         "fraction of power in |k| ≤ 2π/L");
        for (int k = 0; st == KD_OK && k < nv; k++)
            y[k] = modes[k].low_fraction;
        if (st == KD_OK)
            st = kd_plot_add_series(p, "W Wᵀ", (size_t)nv, x, y, NULL, KD_SERIES_LINESPOINTS);
        if (st == KD_OK && C) {
            for (int k = 0; k < K; k++)
                y[k] = cmodes[k].low_fraction;
            st = kd_plot_add_series(p, "data correlation matrix", (size_t)K, x, y, NULL,
                                    KD_SERIES_POINTS);
        }
        if (st == KD_OK) {
            kd_plot_set_xrange(p, 0, nv + 1);
            kd_plot_set_yrange(p, 0, 1.05);
            st = kd_plot_write(p, figdir, "fourier", &fc.opt);
        }
        kd_plot_free(p);
        free(x), free(y);
        if ((rc = figure_done(&fc, st)) != CLI_OK)
            goto done;
    }
    {
        /* Leading eigenvectors as lattice images. */
        char (*lab)[48] = malloc((size_t)K * sizeof *lab);
        const char **labp = malloc((size_t)K * sizeof *labp);
        if (!lab || !labp) {
            free(lab), free(labp);
            rc = cli_fail(cmd, "out of memory");
            goto done;
        }
        for (int k = 0; k < K; k++) {
            snprintf(lab[k], sizeof lab[k], "%d: λ/tr = %.3f", k + 1,
                     trace > 0 ? sp->eigenvalues[k] / trace : 0.0);
            labp[k] = lab[k];
        }
        kd_image_style style;
        kd_image_style_init(&style);
        style.title = "Leading eigenvectors of W Wᵀ on the lattice";
        kd_mosaic mo = {sp->eigenvectors, KD_IMAGES_COLUMNS, (size_t)nv, K, m.ly, m.lx, 0, labp,
                        KD_SCALE_PER_IMAGE};
        st = kd_figure_mosaic(figdir, "eigenvectors", &mo, &style, &fc.opt);
        if ((rc = figure_done(&fc, st)) == CLI_OK && C) {
            for (int k = 0; k < K; k++)
                snprintf(lab[k], sizeof lab[k], "%d: λ/tr = %.3f", k + 1,
                         ctrace > 0 ? clam[k] / ctrace : 0.0);
            style.title = "Leading eigenvectors of the data correlation matrix";
            kd_mosaic mc = {cvec, KD_IMAGES_COLUMNS, (size_t)nv, K, m.ly, m.lx, 0, labp,
                            KD_SCALE_PER_IMAGE};
            st = kd_figure_mosaic(figdir, "eigenvectors_data", &mc, &style, &fc.opt);
            rc = figure_done(&fc, st);
        }
        free(lab), free(labp);
        if (rc != CLI_OK)
            goto done;
    }
    {
        /* Every hidden unit's weights (receptive field), one colour scale. */
        int shown = nh < 400 ? nh : 400;
        char title[160];
        snprintf(title, sizeof title, "Weights W_ij of %s%d hidden units%s", shown < nh ? "the first " : "all ",
                 shown, m.level > 1 ? " (effective receptive fields)" : "");
        kd_image_style style;
        kd_image_style_init(&style);
        style.title = title;
        style.cblabel = "W_ij (shared scale)";
        kd_mosaic mo = {m.W, KD_IMAGES_COLUMNS, (size_t)nh, shown, m.ly, m.lx, 0, NULL,
                        KD_SCALE_SHARED};
        st = kd_figure_mosaic(figdir, "hidden_units", &mo, &style, &fc.opt);
        if ((rc = figure_done(&fc, st)) != CLI_OK)
            goto done;
    }
    {
        /* W Wᵀ next to C (or alone): the full site matrices when they are small
         * enough to read, and always their averages over translations. */
        kd_image_style style;
        kd_image_style_init(&style);
        if (draw_matrices) {
            style.xlabel = "site j";
            style.ylabel = "site i";
            if (C) {
                const float *z[2] = {sp->gram, C};
                const char *titles[2] = {"W Wᵀ", connected ? "⟨s_i s_j⟩ - ⟨s_i⟩⟨s_j⟩ (data)"
                                                           : "⟨s_i s_j⟩ (data)"};
                style.title = "W Wᵀ next to the data's spin–spin correlation matrix (sites i = x + L y)";
                st = kd_figure_panels(figdir, "gram_vs_correlation", 2, z, titles, nv, nv,
                                      KD_SCALE_PER_IMAGE, &style, &fc.opt);
            } else {
                style.title = "W Wᵀ (sites i = x + L y)";
                st = kd_figure_heatmap(figdir, "gram", sp->gram, nv, nv, &style, &fc.opt);
            }
            if ((rc = figure_done(&fc, st)) != CLI_OK)
                goto done;
        }
        if (periodic) {
            float *g = malloc((size_t)nv * sizeof *g), *cd = malloc((size_t)nv * sizeof *cd);
            if (!g || !cd) {
                free(g);
                free(cd);
                rc = cli_fail(cmd, "out of memory");
                goto done;
            }
            st = kd_weights_displacement_average(sp->gram, m.lx, m.ly, g);
            if (st == KD_OK && C)
                st = kd_weights_displacement_average(C, m.lx, m.ly, cd);
            if (st == KD_OK && m.ly == 1) {
                /* A chain: curves against d, each divided by its value at d = 0. */
                double *x = malloc((size_t)nv * sizeof *x), *y = malloc((size_t)nv * sizeof *y);
                kd_plot *p = NULL;
                st = x && y ? kd_plot_new(&p, "Averaged over translations, relative to d = 0",
                                          "displacement d (lattice spacings)",
                                          "A(d) / A(0)")
                            : KD_ERR_NOMEM;
                for (int pass = 0; st == KD_OK && pass < (C ? 2 : 1); pass++) {
                    const float *a = pass ? cd : g;
                    double a0 = a[m.lx / 2];
                    for (int k = 0; k < nv; k++) {
                        x[k] = k - m.lx / 2;
                        y[k] = a0 != 0 ? a[k] / a0 : NAN;
                    }
                    st = kd_plot_add_series(p, pass ? (connected ? "data ⟨s_i s_i+d⟩ - ⟨s⟩²"
                                                                 : "data ⟨s_i s_i+d⟩")
                                                    : "W Wᵀ(d)",
                                            (size_t)nv, x, y, NULL, KD_SERIES_LINESPOINTS);
                }
                if (st == KD_OK)
                    st = kd_plot_write(p, figdir, "displacement", &fc.opt);
                kd_plot_free(p);
                free(x);
                free(y);
                if (st == KD_ERR_NOMEM && !*kd_last_error()) {
                    free(g);
                    free(cd);
                    rc = cli_fail(cmd, "out of memory");
                    goto done;
                }
            } else if (st == KD_OK) {
                kd_image_style_init(&style);
                style.xlabel = "displacement d_x + L/2";
                style.ylabel = m.ly > 1 ? "displacement d_y + L/2" : NULL;
                const float *z[2] = {g, cd};
                const char *titles[2] = {"W Wᵀ(d)", connected ? "⟨s_i s_i+d⟩ - ⟨s⟩² (data)"
                                                              : "⟨s_i s_i+d⟩ (data)"};
                style.title = "Averaged over translations: value against displacement d "
                              "(centre pixel: d = 0)";
                st = kd_figure_panels(figdir, "displacement", C ? 2 : 1, z, titles, m.ly, m.lx,
                                      KD_SCALE_PER_IMAGE, &style, &fc.opt);
            }
            free(g);
            free(cd);
            if ((rc = figure_done(&fc, st)) != CLI_OK)
                goto done;
        }
    }

    /* ---- report ---- */
    {
        char buf[256];
        snprintf(buf, sizeof buf, "Weight analysis of %s", model_path);
        st = kd_report_new(&rep, buf);
        if (st != KD_OK) {
            rc = cli_fail_status(cmd, st);
            goto done;
        }
        kd_report_heading(rep, 2, "Model");
        kd_report_table_begin(rep, 2, NULL, NULL);
        kd_report_table_rowf(rep, "file\t`%s` (%s)", model_path, m.format);
        if (!strcmp(m.format, KD_DBN_FORMAT))
            kd_report_table_rowf(rep, "analysed\tlevel %d of %d: effective receptive fields "
                                      "W_1 ⋯ W_%d", m.level, m.depth, m.level);
        kd_report_table_rowf(rep, "visible units n_v\t%d (%s)", nv, shape);
        kd_report_table_rowf(rep, "hidden units n_h\t%d", nh);
        kd_report_table_rowf(rep, "unit types\t%s", m.units);
        if (*m.source_data)
            kd_report_table_rowf(rep, "trained on\t`%s`, %zu temperatures", m.source_data,
                                 m.ntemps);
        kd_report_table_rowf(rep, "‖W‖_F² = tr W Wᵀ\t%.6g", trace);
        kd_report_table_rowf(rep, "numerical rank of W Wᵀ\t%d of %d (λ > 10⁻⁶ λ_max)", rank, nv);

        kd_report_heading(rep, 2, "Spectrum of W Wᵀ");
        kd_report_paragraph(rep,
            "W Wᵀ is the n_v × n_v matrix product (W Wᵀ)_ik = Σ_j W_ij W_kj (BLAS `ssyrk`), "
            "diagonalised by LAPACK `ssyevd`; for spin units and small weights it is the "
            "effective coupling between visible spins that the hidden layer induces. Its "
            "nonzero eigenvalues are the squares of the singular values of W, which are "
            "computed from W itself (LAPACK `sgesdd`) so that small ones are not lost to the "
            "squared condition number of W Wᵀ.");
        kd_report_figure(rep, "figures/spectrum.png",
                         C ? "Eigenvalues of W Wᵀ and of the data correlation matrix, each as a "
                             "fraction of its trace (log scale)."
                           : "Eigenvalues of W Wᵀ as a fraction of the trace (log scale).");
        kd_report_figure(rep, "figures/singular_values.png", "Singular values of W.");
        kd_report_paragraph(rep,
            "Fourier content of each eigenvector u on the periodic lattice: `k0` is the "
            "fraction of its power in the uniform mode, (Σ_i u_i)²/(N Σ_i u_i²) — 1 for a "
            "magnetisation-like vector; `low` the fraction in |k| ≤ 2π/L; ⟨|k|⟩ the "
            "power-weighted mean wave number; the wavelength is that of the strongest mode, "
            "in lattice spacings (∞ for k = 0).");
        const char *hdr[] = {"k", "λ_k", "λ_k / tr", "k0", "low", "⟨|k|⟩", "wavelength"};
        kd_report_table_begin(rep, 7, hdr, "Leading eigenvectors of W Wᵀ.");
        for (int k = 0; k < K; k++)
            kd_report_table_rowf(rep, "%d\t%.5g\t%.4f\t%.4f\t%.4f\t%.4f\t%.4g", k + 1,
                                 sp->eigenvalues[k], trace > 0 ? sp->eigenvalues[k] / trace : 0.0,
                                 modes[k].k0_fraction, modes[k].low_fraction, modes[k].k_mean,
                                 modes[k].wavelength);
        kd_report_figure(rep, "figures/fourier.png",
                         "Fraction of each eigenvector's power in the lowest Fourier shell "
                         "|k| ≤ 2π/L, against its rank.");
        kd_report_figure(rep, "figures/eigenvectors.png",
                         "Leading eigenvectors of W Wᵀ drawn on the lattice, each scaled to its "
                         "largest |component| (the sign is fixed so that the components sum to a "
                         "positive number).");

        kd_report_heading(rep, 2, "Hidden units");
        kd_report_figure(rep, "figures/hidden_units.png",
                         "Weights of the hidden units on the lattice (column j of W is unit "
                         "j's receptive field), on one shared colour scale.");

        kd_report_heading(rep, 2, C ? "W Wᵀ and the data's correlations" : "The matrix W Wᵀ");
        if (C) {
            kd_report_paragraph(rep, "Data: `%s`, %zu configurations at %zu temperatures (%s); "
                                     "C_ij = %s.", data_path, d.n, d.ntemps, d.selection,
                                connected ? "⟨s_i s_j⟩ − ⟨s_i⟩⟨s_j⟩" : "⟨s_i s_j⟩");
            if (draw_matrices)
                kd_report_figure(rep, "figures/gram_vs_correlation.png",
                                 "W Wᵀ (left) and the data correlation matrix (right), each on "
                                 "its own colour scale; site index i = x + L y.");
            if (periodic)
                kd_report_figure(rep, "figures/displacement.png",
                                 m.ly > 1 ? "W Wᵀ and the data correlation matrix averaged over "
                                            "translations of the torus, (1/N) Σ_i A(i, i + d), as "
                                            "images of the displacement d (centre pixel d = 0): "
                                            "the range of the coupling the hidden layer induces "
                                            "next to the correlation function of the data."
                                          : "W Wᵀ and the data correlation matrix averaged over "
                                            "translations of the ring, (1/N) Σ_i A(i, i + d), "
                                            "each divided by its value at d = 0: the range of "
                                            "the coupling the hidden layer induces next to the "
                                            "correlation function of the data.");
            kd_report_table_begin(rep, 2, (const char *const[]){"measure", "value"},
                                  "How similar are W Wᵀ and C?");
            kd_report_table_rowf(rep, "Frobenius cosine ⟨A,B⟩/(‖A‖‖B‖)\t%.4f", cmp.cosine);
            kd_report_table_rowf(rep, "off-diagonal cosine\t%.4f", cmp.cosine_offdiag);
            kd_report_table_rowf(rep, "off-diagonal Pearson correlation\t%.4f",
                                 cmp.pearson_offdiag);
            kd_report_table_rowf(rep, "subspace overlap, leading %d eigenvectors (unrelated: "
                                      "≈ %.3f)\t%.4f", cmp.subspace_k, (double)K / nv,
                                 cmp.subspace_overlap);
            for (int k = 0; k < cmp.noverlaps && k < 4; k++)
                kd_report_table_rowf(rep, "overlap of eigenvector %d, |u_%d · c_%d|\t%.4f", k + 1,
                                     k + 1, k + 1, cmp.overlap[k]);
            kd_report_table_rowf(rep, "k0 of the leading eigenvector of C\t%.4f",
                                 cmodes[0].k0_fraction);
            kd_report_figure(rep, "figures/eigenvectors_data.png",
                             "Leading eigenvectors of the data correlation matrix. Degenerate "
                             "eigenvalues (lattice symmetry) make single eigenvectors arbitrary "
                             "within their eigenspace; compare subspaces, not tiles.");
        } else {
            if (draw_matrices)
                kd_report_figure(rep, "figures/gram.png", "The matrix W Wᵀ; site index i = x + L y. "
                                                          "Run with `--data` to compare it with "
                                                          "the data's correlations.");
            if (periodic)
                kd_report_figure(rep, "figures/displacement.png",
                                 "W Wᵀ averaged over translations of the torus, "
                                 "(1/N) Σ_i (W Wᵀ)(i, i + d), against the displacement d: the "
                                 "range of the coupling the hidden layer induces between "
                                 "visible spins.");
        }
        if (!draw_matrices)
            kd_report_paragraph(rep, "The full %d × %d site matrices are not drawn (more than %d "
                                     "sites); their translation averages are.", nv, nv,
                                MATRIX_MAX);
        kd_report_heading(rep, 2, "Rerun");
        kd_report_paragraph(rep, "This analysis is deterministic (no random numbers): the same "
                                 "command on the same files gives the same numbers.");
        kd_report_code(rep, cmdline);
        st = kd_report_write(rep, outdir);
        if (st != KD_OK) {
            rc = cli_fail_status(cmd, st);
            goto done;
        }
    }
    if (!cli_quiet) {
        printf("\nwrote %d figures (data + gnuplot scripts) to %s", fc.written, figdir);
        if (!render)
            printf(", not rendered (--no-render)");
        else if (fc.warned)
            printf(", not all rendered (see the warning)");
        printf("\nreport: %s/report.html and %s/report.md\n", outdir, outdir);
    }

done:
    kd_report_free(rep);
    kd_weights_spectrum_free(sp);
    free(modes);
    free(cmodes);
    free(C);
    free(clam);
    free(cvec);
    free(d.spins);
    model_free(&m);
    return rc;
}
