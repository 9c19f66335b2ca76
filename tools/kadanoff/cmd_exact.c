/* kadanoff exact — tables of exact thermodynamics: Kaufman's finite torus with
 * Onsager's infinite-lattice columns, Onsager alone, or the 1D chain. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "io/atomic.h"

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: kadanoff exact [options]\n\n"
        "Exact Ising thermodynamics per spin (k_B = 1) at a list of temperatures:\n"
        "  square, model kaufman  Kaufman's (1949) exact L x L periodic torus at h = 0,\n"
        "                         with Onsager's infinite-lattice u(T) and m(T) beside it;\n"
        "  square, model onsager  Onsager's infinite lattice only (u, m);\n"
        "  chain                  the 1D chain from its 2x2 transfer matrix, any J and h,\n"
        "                         periodic or open.\n\n"
        "Options:\n"
        "  --lattice square|chain   lattice (default square)\n"
        "  -L, --size N             linear size, N >= 2 (default 10)\n"
        "  --model kaufman|onsager  square only (default kaufman); onsager prints the\n"
        "                           infinite-lattice columns only (-L is then unused)\n"
        "  --temps LIST             temperatures: a:b:step (inclusive), comma list, 'inf',\n"
        "                           or a mix, e.g. 0:4:0.5,inf (default 1:4:0.25)\n"
        "  -J, --coupling J         coupling, any sign (default 1); the square lattice\n"
        "                           with J < 0 needs even L\n"
        "  --field H                uniform field h, chain only (default 0)\n"
        "  --boundary periodic|open chain only; the square lattice is periodic\n"
        "                           (default periodic)\n"
        "  -o, --output FILE        also write the table as tab-separated text: '#' lines\n"
        "                           naming the parameters, a line of column names, one\n"
        "                           row per T at full precision (written atomically)\n"
        "  -q, --quiet              do not print the table\n"
        "  -v, --verbose            more messages\n"
        "  -h, --help               this help\n\n"
        "Columns: T, K = J/T, lnZ/N, e = <H>/N, c = (<H^2> - <H>^2)/(N T^2), and for the\n"
        "square lattice u_inf, m_inf (Onsager, coupling |J|; for J < 0, m_inf is the\n"
        "staggered magnetisation). At T = 0, lnZ/N = inf and c = 0; at T = inf,\n"
        "lnZ/N = ln 2 and e = c = 0.\n\n"
        "Exit status: 0 success, 1 failure, 2 usage error.\n\n"
        "Examples:\n"
        "  kadanoff exact -L 16 --temps 1:4:0.25\n"
        "  kadanoff exact --model onsager --temps 2,2.269185314213022,2.5\n"
        "  kadanoff exact --lattice chain -L 8 -J -1 --field 0.5 --temps 0.5,1,inf -o chain.tsv\n");
}

typedef enum { MODEL_KAUFMAN = 0, MODEL_ONSAGER = 1 } exact_model;

typedef struct {
    kd_lattice lat;
    exact_model model;
} exact_params;

/* One row of the table; fields a model does not provide are NAN. */
typedef struct {
    double T, K, lnz, e, c, u, m;
} exact_row;

/* Onsager's columns for coupling J: the infinite lattice depends on T/|J| only
 * (J < 0 maps onto J > 0 by flipping a sublattice). */
static void onsager_columns(double J, double T, double *u, double *m)
{
    double a = fabs(J);
    if (a == 0) { /* no coupling: no energy, no order */
        *u = 0.0;
        *m = 0.0;
        return;
    }
    *u = a * kd_onsager_energy(T / a);
    *m = kd_onsager_magnetization(T / a);
}

static kd_status compute_row(const exact_params *p, double T, exact_row *row)
{
    const kd_lattice *lat = &p->lat;
    kd_thermo th = {NAN, NAN, NAN};
    row->T = T;
    row->K = lat->J == 0 ? 0.0 : lat->J / T + 0.0; /* + 0.0: no "-0" at T = inf */
    row->u = row->m = NAN;
    kd_status st = KD_OK;
    if (lat->kind == KD_LATTICE_CHAIN) {
        st = kd_chain_exact(lat->L, lat->boundary, lat->J, lat->field, T, &th);
    } else {
        if (p->model == MODEL_KAUFMAN)
            st = kd_kaufman_torus(lat->L, lat->J, T, &th);
        onsager_columns(lat->J, T, &row->u, &row->m);
    }
    if (st != KD_OK)
        return st;
    double N = (double)kd_lattice_size(lat);
    row->lnz = th.lnZ / N;
    row->e = th.e;
    row->c = th.c;
    return KD_OK;
}

/* The columns a table can have: name and position in exact_row. */
typedef struct {
    const char *name;
    size_t offset;
} exact_column;

static const exact_column all_columns[] = {
    {"T", offsetof(exact_row, T)},        {"K", offsetof(exact_row, K)},
    {"lnZ/N", offsetof(exact_row, lnz)},  {"e", offsetof(exact_row, e)},
    {"c", offsetof(exact_row, c)},        {"u_inf", offsetof(exact_row, u)},
    {"m_inf", offsetof(exact_row, m)},
};

/* Indices into all_columns of the columns shown; returns their number. */
static int shown_columns(const exact_params *p, int *idx)
{
    int n = 0;
    idx[n++] = 0;
    idx[n++] = 1;
    if (p->lat.kind == KD_LATTICE_CHAIN || p->model == MODEL_KAUFMAN) {
        idx[n++] = 2;
        idx[n++] = 3;
        idx[n++] = 4;
    }
    if (p->lat.kind == KD_LATTICE_SQUARE) {
        idx[n++] = 5;
        idx[n++] = 6;
    }
    return n;
}

static double column_value(const exact_row *r, int col)
{
    double v;
    memcpy(&v, (const char *)r + all_columns[col].offset, sizeof v);
    return v;
}

/* Header lines (each starting with "# ") describing the parameters. */
static void print_header(FILE *f, const exact_params *p)
{
    const kd_lattice *lat = &p->lat;
    if (lat->kind == KD_LATTICE_CHAIN) {
        fprintf(f, "# kadanoff %s exact: chain of L = %d spins, %s boundary, J = %.15g, h = %.15g "
                   "(2x2 transfer matrix, exact)\n",
                kd_version(), lat->L, kd_boundary_name(lat->boundary), lat->J, lat->field);
        return;
    }
    if (p->model == MODEL_ONSAGER)
        fprintf(f, "# kadanoff %s exact: square lattice, infinite (Onsager), J = %.15g, h = 0\n",
                kd_version(), lat->J);
    else
        fprintf(f, "# kadanoff %s exact: square lattice L = %d (N = %d), periodic, J = %.15g, "
                   "h = 0 (Kaufman 1949, exact finite torus)\n",
                kd_version(), lat->L, lat->L * lat->L, lat->J);
    fprintf(f, "# T_c = %.13g (infinite lattice, 2|J| / ln(1 + sqrt 2)); u_inf, m_inf: Onsager%s\n",
            fabs(lat->J) * kd_exact_tc(), lat->J < 0 ? " (m_inf staggered)" : "");
}

static void print_table(const exact_params *p, const exact_row *rows, size_t n)
{
    int idx[8], nc = shown_columns(p, idx);
    print_header(stdout, p);
    printf("#");
    for (int k = 0; k < nc; k++)
        printf("%*s", k ? 17 : 13, all_columns[idx[k]].name);
    printf("\n");
    for (size_t i = 0; i < n; i++) {
        printf(" ");
        for (int k = 0; k < nc; k++)
            printf("%*.10g", k ? 17 : 13, column_value(&rows[i], idx[k]));
        printf("\n");
    }
}

static int write_table(const char *cmd, const char *path, const exact_params *p,
                       const exact_row *rows, size_t n, const char *command)
{
    kd_atomic a;
    kd_status st = kd_atomic_begin(&a, path);
    if (st != KD_OK)
        return cli_fail_status(cmd, st);
    FILE *f = fopen(a.tmp, "w");
    if (!f) {
        int err = errno;
        kd_atomic_abort(&a);
        return cli_fail(cmd, "%s: cannot write the file: %s", path, strerror(err));
    }
    int idx[8], nc = shown_columns(p, idx);
    print_header(f, p);
    fprintf(f, "# command: %s\n", command);
    for (int k = 0; k < nc; k++)
        fprintf(f, "%s%s", k ? "\t" : "", all_columns[idx[k]].name);
    fprintf(f, "\n");
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < nc; k++)
            fprintf(f, "%.17g%s", column_value(&rows[i], idx[k]), k + 1 < nc ? "\t" : "\n");
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        int err = errno;
        kd_atomic_abort(&a);
        return cli_fail(cmd, "%s: writing failed: %s", path, strerror(err));
    }
    st = kd_atomic_commit(&a);
    if (st != KD_OK)
        return cli_fail_status(cmd, st);
    return CLI_OK;
}

int cmd_exact(int argc, char **argv)
{
    const char *cmd = "exact";
    static const struct option opts[] = {
        {"lattice", required_argument, 0, 1},  {"size", required_argument, 0, 'L'},
        {"model", required_argument, 0, 2},    {"temps", required_argument, 0, 3},
        {"coupling", required_argument, 0, 'J'}, {"field", required_argument, 0, 4},
        {"boundary", required_argument, 0, 5}, {"output", required_argument, 0, 'o'},
        {"quiet", no_argument, 0, 'q'},        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    exact_params p = {{KD_LATTICE_SQUARE, 10, KD_BOUNDARY_PERIODIC, 1.0, 0.0}, MODEL_KAUFMAN};
    const char *temps = "1:4:0.25", *output = NULL;
    int have_model = 0, have_field = 0, have_boundary = 0;
    long v;
    int c, rc = CLI_OK;
    optind = 1;
    while ((c = cli_next_option(cmd, argc, argv, ":L:J:o:qvh", opts, usage, &rc)) > 0) {
        switch (c) {
        case 1:
            if (kd_lattice_kind_parse(optarg, &p.lat.kind) != KD_OK)
                return cli_usage_error(cmd, "%s", kd_last_error());
            break;
        case 'L':
            rc = cli_parse_long(cmd, "-L", optarg, 2, KD_LATTICE_MAX_L_CHAIN, &v);
            p.lat.L = (int)v;
            break;
        case 2:
            if (!strcmp(optarg, "kaufman"))
                p.model = MODEL_KAUFMAN;
            else if (!strcmp(optarg, "onsager"))
                p.model = MODEL_ONSAGER;
            else
                return cli_usage_error(cmd, "unknown model '%s', expected 'kaufman' or 'onsager'",
                                       optarg);
            have_model = 1;
            break;
        case 3:
            temps = optarg;
            break;
        case 'J':
            rc = cli_parse_double(cmd, "-J", optarg, -1e6, 1e6, &p.lat.J);
            break;
        case 4:
            rc = cli_parse_double(cmd, "--field", optarg, -1e6, 1e6, &p.lat.field);
            have_field = 1;
            break;
        case 5:
            if (kd_boundary_parse(optarg, &p.lat.boundary) != KD_OK)
                return cli_usage_error(cmd, "%s", kd_last_error());
            have_boundary = 1;
            break;
        case 'o':
            output = optarg;
            break;
        }
    }
    if (c == CLI_OPTIONS_STOP || (rc = cli_operands(cmd, argc, argv, 0, 0, "")) != CLI_OK)
        return rc;
    if (p.lat.kind == KD_LATTICE_SQUARE) {
        if (p.lat.L > KD_LATTICE_MAX_L_SQUARE)
            return cli_usage_error(cmd, "-L must be at most %d for the square lattice",
                                   KD_LATTICE_MAX_L_SQUARE);
        if (have_field && p.lat.field != 0)
            return cli_usage_error(cmd, "--field must be 0 for the square lattice (the exact "
                                        "solutions are for h = 0); use --lattice chain for a field");
        if (have_boundary && p.lat.boundary != KD_BOUNDARY_PERIODIC)
            return cli_usage_error(cmd, "--boundary must be periodic for the square lattice "
                                        "(Kaufman's solution is for the torus)");
        if (p.model == MODEL_KAUFMAN && p.lat.J < 0 && p.lat.L % 2)
            return cli_usage_error(cmd, "J < 0 on the square lattice needs an even -L (got %d): "
                                        "only then is the antiferromagnet equivalent to the "
                                        "ferromagnet",
                                   p.lat.L);
    } else if (have_model) {
        return cli_usage_error(cmd, "--model applies to the square lattice only");
    }

    double *tv;
    size_t nt;
    if (kd_parse_temperatures(temps, &tv, &nt) != KD_OK)
        return cli_usage_error(cmd, "--temps: %s", kd_last_error());
    exact_row *rows = malloc(nt * sizeof *rows);
    if (!rows) {
        free(tv);
        return cli_fail(cmd, "out of memory for %zu temperatures", nt);
    }
    for (size_t i = 0; i < nt; i++) {
        kd_status st = compute_row(&p, tv[i], &rows[i]);
        if (st != KD_OK) {
            free(rows);
            free(tv);
            return cli_fail_status(cmd, st);
        }
    }
    free(tv);

    rc = CLI_OK;
    if (!cli_quiet)
        print_table(&p, rows, nt);
    if (output) {
        char command[1024];
        cli_join_args(argc + 1, argv - 1, command, sizeof command);
        rc = write_table(cmd, output, &p, rows, nt, command);
        if (rc == CLI_OK && !cli_quiet)
            fprintf(stderr, "kadanoff exact: wrote %zu rows to %s\n", nt, output);
    }
    free(rows);
    return rc;
}
