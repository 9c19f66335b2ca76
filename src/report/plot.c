/* Line / point plots with several series, error bars, reference lines. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "report/report_internal.h"

typedef struct {
    char *label;
    size_t n;
    double *x, *y, *err; /* err NULL: none */
    kd_series_style style;
} series;

typedef struct {
    int vertical; /* 0: y = value, 1: x = value */
    double value;
    char *label;
} refline;

struct kd_plot {
    char *title, *xlabel, *ylabel, *key;
    int logx, logy;
    double xmin, xmax, ymin, ymax;
    series *s;
    int ns;
    refline *lines;
    int nlines;
};

static char *dup_or_null(const char *s, int *failed)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *c = malloc(n + 1);
    if (!c)
        *failed = 1;
    else
        memcpy(c, s, n + 1);
    return c;
}

kd_status kd_plot_new(kd_plot **out, const char *title, const char *xlabel, const char *ylabel)
{
    *out = NULL;
    kd_plot *p = calloc(1, sizeof *p);
    if (!p)
        KD_FAIL(KD_ERR_NOMEM, "plot: out of memory");
    int failed = 0;
    p->title = dup_or_null(title, &failed);
    p->xlabel = dup_or_null(xlabel, &failed);
    p->ylabel = dup_or_null(ylabel, &failed);
    p->key = dup_or_null("top right", &failed);
    p->xmin = p->xmax = p->ymin = p->ymax = NAN;
    if (failed) {
        kd_plot_free(p);
        KD_FAIL(KD_ERR_NOMEM, "plot: out of memory");
    }
    *out = p;
    return KD_OK;
}

void kd_plot_free(kd_plot *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->ns; i++) {
        free(p->s[i].label);
        free(p->s[i].x);
        free(p->s[i].y);
        free(p->s[i].err);
    }
    for (int i = 0; i < p->nlines; i++)
        free(p->lines[i].label);
    free(p->s);
    free(p->lines);
    free(p->title);
    free(p->xlabel);
    free(p->ylabel);
    free(p->key);
    free(p);
}

static double *copy_doubles(const double *a, size_t n)
{
    double *c = malloc((n ? n : 1) * sizeof *c);
    if (c && n)
        memcpy(c, a, n * sizeof *c);
    return c;
}

kd_status kd_plot_add_series(kd_plot *p, const char *label, size_t n, const double *x,
                             const double *y, const double *yerr, kd_series_style style)
{
    if (n > 0 && (!x || !y))
        KD_FAIL(KD_ERR_INVALID, "plot series '%s': x and y are required", label ? label : "");
    if (style != KD_SERIES_LINESPOINTS && style != KD_SERIES_POINTS && style != KD_SERIES_LINES)
        KD_FAIL(KD_ERR_INVALID, "plot series '%s': unknown style %d", label ? label : "",
                (int)style);
    series *grown = realloc(p->s, (size_t)(p->ns + 1) * sizeof *grown);
    if (!grown)
        KD_FAIL(KD_ERR_NOMEM, "plot: out of memory");
    p->s = grown;
    series *s = &p->s[p->ns];
    memset(s, 0, sizeof *s);
    int failed = 0;
    s->label = dup_or_null(label, &failed);
    s->n = n;
    s->x = copy_doubles(x, n);
    s->y = copy_doubles(y, n);
    s->err = yerr ? copy_doubles(yerr, n) : NULL;
    s->style = style;
    if (failed || !s->x || !s->y || (yerr && !s->err)) {
        free(s->label);
        free(s->x);
        free(s->y);
        free(s->err);
        KD_FAIL(KD_ERR_NOMEM, "plot: out of memory for %zu points", n);
    }
    p->ns++;
    return KD_OK;
}

static kd_status add_line(kd_plot *p, int vertical, double value, const char *label)
{
    if (!isfinite(value))
        KD_FAIL(KD_ERR_INVALID, "plot reference line at %g: expected a finite value", value);
    refline *grown = realloc(p->lines, (size_t)(p->nlines + 1) * sizeof *grown);
    if (!grown)
        KD_FAIL(KD_ERR_NOMEM, "plot: out of memory");
    p->lines = grown;
    int failed = 0;
    refline *l = &p->lines[p->nlines];
    l->vertical = vertical;
    l->value = value;
    l->label = dup_or_null(label, &failed);
    if (failed)
        KD_FAIL(KD_ERR_NOMEM, "plot: out of memory");
    p->nlines++;
    return KD_OK;
}

kd_status kd_plot_add_hline(kd_plot *p, double y, const char *label) { return add_line(p, 0, y, label); }
kd_status kd_plot_add_vline(kd_plot *p, double x, const char *label) { return add_line(p, 1, x, label); }

void kd_plot_set_log(kd_plot *p, int logx, int logy)
{
    p->logx = logx != 0;
    p->logy = logy != 0;
}

void kd_plot_set_xrange(kd_plot *p, double min, double max)
{
    p->xmin = min;
    p->xmax = max;
}

void kd_plot_set_yrange(kd_plot *p, double min, double max)
{
    p->ymin = min;
    p->ymax = max;
}

kd_status kd_plot_set_key(kd_plot *p, const char *position)
{
    if (!position || !*position)
        KD_FAIL(KD_ERR_INVALID, "legend position is empty");
    for (const char *c = position; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || *c == ' '))
            KD_FAIL(KD_ERR_INVALID, "legend position '%s': expected gnuplot words such as "
                                    "'top right' or 'bottom left'", position);
    int failed = 0;
    char *k = dup_or_null(position, &failed);
    if (failed)
        KD_FAIL(KD_ERR_NOMEM, "out of memory");
    free(p->key);
    p->key = k;
    return KD_OK;
}

static void range(kd_buf *b, const char *axis, double lo, double hi)
{
    if (isnan(lo) && isnan(hi))
        return;
    kd_buf_printf(b, "set %srange [", axis);
    if (!isnan(lo))
        kd_fig_number(b, lo);
    kd_buf_puts(b, ":");
    if (!isnan(hi))
        kd_fig_number(b, hi);
    kd_buf_puts(b, "]\n");
}

/* Point types of the filled symbols, cycled with the colours offset so that
 * neighbouring series differ in both. */
static int point_type(int i)
{
    static const int pts[] = {7, 5, 9, 11, 13, 15};
    return pts[(unsigned)i % (sizeof pts / sizeof pts[0])];
}

kd_status kd_plot_write(const kd_plot *p, const char *dir, const char *name,
                        const kd_figure_options *opt)
{
    KD_CHECK(kd_fig_check_name(name));
    if (!dir || !*dir)
        KD_FAIL(KD_ERR_INVALID, "figure %s: no directory given", name);
    int width = opt && opt->width > 0 ? opt->width : 800;
    int height = opt && opt->height > 0 ? opt->height : 560;

    /* Data: one block per series, separated by two blank lines (gnuplot `index`). */
    kd_buf data, gp;
    kd_buf_init(&data);
    kd_buf_init(&gp);
    kd_fig_data_header(&data, name, p->title);
    kd_buf_puts(&data, "# one block per series (gnuplot: index 0, 1, ...), separated by two blank lines\n");
    kd_buf_puts(&data, "# columns: x y [yerr]");
    if (p->xlabel || p->ylabel) {
        kd_buf_puts(&data, " with x = ");
        kd_buf_puts(&data, p->xlabel ? p->xlabel : "x");
        kd_buf_puts(&data, ", y = ");
        kd_buf_puts(&data, p->ylabel ? p->ylabel : "y");
    }
    kd_buf_puts(&data, "; yerr is one standard error\n");
    if (p->logy)
        kd_buf_puts(&data, "# log y axis: values <= 0 are written as NaN\n");
    for (int i = 0; i < p->ns; i++) {
        const series *s = &p->s[i];
        kd_buf_printf(&data, "%s# series %d: %s\n", i ? "\n\n" : "", i, s->label ? s->label : "");
        kd_buf_printf(&data, "# x y%s\n", s->err ? " yerr" : "");
        for (size_t k = 0; k < s->n; k++) {
            double y = s->y[k];
            if (p->logy && !(y > 0))
                y = NAN;
            kd_fig_number(&data, s->x[k]);
            kd_buf_puts(&data, " ");
            kd_fig_number(&data, y);
            if (s->err) {
                kd_buf_puts(&data, " ");
                kd_fig_number(&data, s->err[k]);
            }
            kd_buf_puts(&data, "\n");
        }
        if (s->n == 0) /* keep block numbering: an empty block still counts */
            kd_buf_puts(&data, "NaN NaN\n");
    }

    kd_fig_script_begin(&gp, name, p->title, width, height);
    if (p->title) {
        kd_buf_puts(&gp, "set title ");
        kd_fig_quote(&gp, p->title);
        kd_buf_puts(&gp, "\n");
    }
    if (p->xlabel) {
        kd_buf_puts(&gp, "set xlabel ");
        kd_fig_quote(&gp, p->xlabel);
        kd_buf_puts(&gp, "\n");
    }
    if (p->ylabel) {
        kd_buf_puts(&gp, "set ylabel ");
        kd_fig_quote(&gp, p->ylabel);
        kd_buf_puts(&gp, "\n");
    }
    kd_buf_puts(&gp, "set grid lc rgb \"#dddddd\" lw 1\n"
                     "set border lw 1.2\n"
                     "set tics nomirror\n"
                     "set mxtics\nset mytics\n");
    int titled = 0;
    for (int i = 0; i < p->ns; i++)
        titled += p->s[i].label != NULL && p->s[i].n > 0;
    for (int i = 0; i < p->nlines; i++)
        titled += p->lines[i].label != NULL;
    if (titled)
        kd_buf_printf(&gp, "set key %s box opaque samplen 2.5 spacing 1.1\n", p->key);
    else
        kd_buf_puts(&gp, "unset key\n");
    if (p->logx)
        kd_buf_puts(&gp, "set logscale x\nset format x \"%g\"\n");
    if (p->logy)
        kd_buf_puts(&gp, "set logscale y\nset format y \"%g\"\n");
    /* A little room above and below, so points do not sit on the frame. */
    if (isnan(p->ymin) && isnan(p->ymax))
        kd_buf_puts(&gp, "set offsets 0, 0, graph 0.04, graph 0.04\n");
    range(&gp, "x", p->xmin, p->xmax);
    range(&gp, "y", p->ymin, p->ymax);
    kd_buf_puts(&gp, "set errorbars 0.5\n");
    kd_buf_puts(&gp, "set style fill transparent solid 0.22 noborder\n");
    /* Vertical reference lines as arrows (the legend gets a dummy entry). */
    for (int i = 0; i < p->nlines; i++)
        if (p->lines[i].vertical) {
            kd_buf_puts(&gp, "set arrow from ");
            kd_fig_number(&gp, p->lines[i].value);
            kd_buf_puts(&gp, ", graph 0 to ");
            kd_fig_number(&gp, p->lines[i].value);
            kd_buf_puts(&gp, ", graph 1 nohead dt 3 lw 1.5 lc rgb \"#555555\" back\n");
        }

    kd_buf_puts(&gp, "plot ");
    int first = 1;
    for (int i = 0; i < p->ns; i++) {
        const series *s = &p->s[i];
        const char *col = kd_fig_color(i);
        if (s->n == 0)
            continue;
        if (!first)
            kd_buf_puts(&gp, ", \\\n     ");
        first = 0;
        kd_buf_printf(&gp, "\"%s.dat\" index %d ", name, i);
        if (s->style == KD_SERIES_LINES && s->err) {
            /* band first (no legend entry), then the line */
            kd_buf_printf(&gp, "using 1:($2-$3):($2+$3) with filledcurves lc rgb \"%s\" notitle, "
                               "\\\n     \"%s.dat\" index %d using 1:2 with lines lw 2 lc rgb \"%s\" ",
                          col, name, i, col);
        } else if (s->style == KD_SERIES_LINES) {
            kd_buf_printf(&gp, "using 1:2 with lines lw 2 lc rgb \"%s\" ", col);
        } else if (s->style == KD_SERIES_POINTS) {
            if (s->err)
                kd_buf_printf(&gp, "using 1:2:3 with yerrorbars pt %d ps 1.1 lw 1.2 lc rgb \"%s\" ",
                              point_type(i), col);
            else
                kd_buf_printf(&gp, "using 1:2 with points pt %d ps 1.1 lc rgb \"%s\" ",
                              point_type(i), col);
        } else {
            if (s->err)
                kd_buf_printf(&gp, "using 1:2:3 with yerrorlines pt %d ps 1.0 lw 1.5 lc rgb \"%s\" ",
                              point_type(i), col);
            else
                kd_buf_printf(&gp, "using 1:2 with linespoints pt %d ps 1.0 lw 1.5 lc rgb \"%s\" ",
                              point_type(i), col);
        }
        if (s->label) {
            kd_buf_puts(&gp, "title ");
            kd_fig_quote(&gp, s->label);
        } else {
            kd_buf_puts(&gp, "notitle");
        }
    }
    for (int i = 0; i < p->nlines; i++) {
        const refline *l = &p->lines[i];
        if (!first)
            kd_buf_puts(&gp, ", \\\n     ");
        first = 0;
        if (l->vertical) /* legend entry only: NaN draws nothing */
            kd_buf_puts(&gp, "NaN with lines dt 3 lw 1.5 lc rgb \"#555555\" ");
        else {
            kd_fig_number(&gp, l->value);
            kd_buf_puts(&gp, " with lines dt 2 lw 1.5 lc rgb \"#555555\" ");
        }
        if (l->label) {
            kd_buf_puts(&gp, "title ");
            kd_fig_quote(&gp, l->label);
        } else {
            kd_buf_puts(&gp, "notitle");
        }
    }
    if (first) /* nothing to draw: an empty frame rather than a gnuplot error */
        kd_buf_puts(&gp, "NaN notitle");
    kd_buf_puts(&gp, "\n");
    kd_fig_script_end(&gp);

    kd_status st = kd_fig_finish(dir, name, &data, &gp, opt);
    kd_buf_free(&data);
    kd_buf_free(&gp);
    return st;
}

kd_status kd_figure_spectrum(const char *dir, const char *name, const char *title,
                             const char *ylabel, size_t n, const double *values, int logy,
                             const kd_figure_options *opt)
{
    double *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx)
        KD_FAIL(KD_ERR_NOMEM, "spectrum: out of memory");
    for (size_t k = 0; k < n; k++)
        idx[k] = (double)(k + 1);
    kd_plot *p = NULL;
    kd_status st = kd_plot_new(&p, title, "index k (descending order)", ylabel);
    if (st == KD_OK)
        st = kd_plot_add_series(p, NULL, n, idx, values, NULL, KD_SERIES_LINESPOINTS);
    if (st == KD_OK && n > 0)
        kd_plot_set_xrange(p, 0, (double)n + 1);
    if (st == KD_OK)
        kd_plot_set_log(p, 0, logy);
    if (st == KD_OK)
        st = kd_plot_write(p, dir, name, opt);
    kd_plot_free(p);
    free(idx);
    return st;
}
