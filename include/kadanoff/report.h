/*
 * kadanoff/report.h — figures (data file + gnuplot script, rendered to PNG and
 * SVG) and self-contained HTML / Markdown reports.
 *
 * Figures. Every figure NAME in directory DIR is three kinds of file:
 *
 *     DIR/NAME.dat   the numbers, plain whitespace-separated text with a '#'
 *                    header saying what each column / block is
 *     DIR/NAME.gp    a gnuplot script that reads NAME.dat by relative path
 *     DIR/NAME.png   (and NAME.svg) rendered by running gnuplot in DIR
 *
 * so a user can restyle a figure by editing NAME.gp and running `gnuplot NAME.gp`
 * in DIR (or `gnuplot -e 'formats="png"' NAME.gp` for PNG only). The data and
 * the script are written atomically (temporary file + rename); so are the
 * images (gnuplot renders to a temporary name that is renamed on success).
 * DIR is created (with parents) if missing. NAME may contain only letters,
 * digits, '.', '_' and '-' (it appears unquoted in file names and scripts).
 *
 * Labels and titles are literal UTF-8 text (gnuplot's "enhanced" markup is off,
 * so "T_c" shows as typed; write "Tᶜ" or "W Wᵀ" with Unicode where wanted).
 *
 * Status of the figure functions:
 *   KD_OK               data, script and images written;
 *   KD_ERR_UNSUPPORTED  data and script written, but gnuplot is not installed or
 *                       failed; the message says which, quotes gnuplot's stderr and
 *                       names the directory ("gnuplot not found: data and script
 *                       kept in DIR"). Callers normally treat this as a warning;
 *   anything else       a real failure (bad arguments, I/O); nothing is left under
 *                       the target names that was not complete.
 *
 * Running gnuplot: the library starts it as a child process (fork + exec of the
 * resolved executable, no shell), in DIR, with stdin and stdout on /dev/null and
 * stderr captured for the error message. The script chooses the pngcairo
 * terminal when present, else png, and skips SVG when the svg terminal is absent.
 *
 * Reports. A kd_report collects headings, paragraphs, lists, tables, figures and
 * code blocks in order and writes DIR/report.md and DIR/report.html. The HTML is
 * self-contained: images are embedded as base64 data: URIs and the style sheet is
 * inline; it makes no external request (no CDN, no web fonts, no scripts).
 */
#ifndef KADANOFF_REPORT_H
#define KADANOFF_REPORT_H

#include <stddef.h>

#include "kadanoff/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- directories and gnuplot ------------------------------------------- */

/* Create a directory and its missing parents (like mkdir -p, mode 0777 minus
 * umask). KD_OK if it already exists as a directory; KD_ERR_IO naming the path
 * and the system's reason otherwise. */
kd_status kd_report_mkdir(const char *path);

/* Which gnuplot to run: a path (containing '/') or a name searched in PATH.
 * NULL restores the default "gnuplot". The string is copied. Not thread-safe:
 * call it before making figures. */
kd_status kd_figure_set_gnuplot(const char *program);

/* 1 if the configured gnuplot can be found (an executable file), else 0. */
int kd_figure_gnuplot_available(void);

/* ---- options shared by every figure -------------------------------------- */

typedef struct {
    int width, height; /* PNG size in pixels; 0: chosen for the kind of figure */
    int svg;           /* also render NAME.svg (default 1) */
    int render;        /* 0: write data and script only, return KD_OK (default 1) */
} kd_figure_options;

void kd_figure_options_init(kd_figure_options *opt);

/* ---- line / point plots -------------------------------------------------- */

/* An x–y plot with several series (with optional error bars), reference lines,
 * log axes. Build it, write it, free it. */
typedef struct kd_plot kd_plot;

typedef enum {
    KD_SERIES_LINESPOINTS = 0, /* points joined by lines; error bars if given */
    KD_SERIES_POINTS = 1,      /* points only; error bars if given */
    KD_SERIES_LINES = 2        /* a line; errors drawn as a shaded ±err band */
} kd_series_style;

/* A new empty plot. Any of the strings may be NULL (no title / label); they are
 * copied. Labels should carry units, e.g. "temperature T (J/k_B)". */
kd_status kd_plot_new(kd_plot **out, const char *title, const char *xlabel, const char *ylabel);
/* Free a plot (NULL: nothing). */
void kd_plot_free(kd_plot *p);

/* Add a series of n points (x[i], y[i]) with optional 1σ errors yerr[i] (NULL:
 * none). The arrays are copied. Non-finite values are written as NaN (gnuplot
 * skips them). label may be NULL (no legend entry). Series are drawn in the
 * order added, with a colour-blind-safe colour cycle. */
kd_status kd_plot_add_series(kd_plot *p, const char *label, size_t n, const double *x,
                             const double *y, const double *yerr, kd_series_style style);

/* A dashed horizontal line at y (e.g. T_c) or vertical line at x, with a legend
 * label (may be NULL). */
kd_status kd_plot_add_hline(kd_plot *p, double y, const char *label);
kd_status kd_plot_add_vline(kd_plot *p, double x, const char *label);

/* Logarithmic axes (0/1 each). With a log y axis, values <= 0 are written as
 * NaN (and said so in the data header). */
void kd_plot_set_log(kd_plot *p, int logx, int logy);
/* Axis ranges; NAN for either end leaves it automatic. */
void kd_plot_set_xrange(kd_plot *p, double min, double max);
void kd_plot_set_yrange(kd_plot *p, double min, double max);
/* Legend position as gnuplot words, e.g. "top right" (default), "bottom left",
 * "outside right top"; only letters and spaces are accepted. */
kd_status kd_plot_set_key(kd_plot *p, const char *position);

/* Write DIR/NAME.dat (one block per series: columns x y [err], blocks separated
 * by two blank lines), DIR/NAME.gp, and render (see the status list above). */
kd_status kd_plot_write(const kd_plot *p, const char *dir, const char *name,
                        const kd_figure_options *opt);

/* A spectrum: values[k] against index k = 1..n as points joined by thin lines,
 * optionally on a log y axis. A shortcut for a one-series kd_plot. */
kd_status kd_figure_spectrum(const char *dir, const char *name, const char *title,
                             const char *ylabel, size_t n, const double *values, int logy,
                             const kd_figure_options *opt);

/* ---- images: heat maps, panels of matrices, mosaics ---------------------- */

typedef enum {
    KD_PALETTE_DIVERGING = 0, /* blue - white - red, range symmetric about 0 (weights) */
    KD_PALETTE_SPINS = 1,     /* black (-1) to white (+1), range [-1, 1] (configurations) */
    KD_PALETTE_SEQUENTIAL = 2 /* dark blue - green - yellow (viridis-like), [min, max] */
} kd_palette;

typedef struct {
    const char *title;   /* figure title (NULL: none) */
    const char *xlabel;  /* axis labels (NULL: none); images have no axes in mosaics */
    const char *ylabel;
    const char *cblabel; /* colour bar label (NULL: none) */
    kd_palette palette;
    double zmin, zmax;   /* colour range; NAN (default): automatic for the palette */
} kd_image_style;

/* Defaults: no labels, diverging palette, automatic range. */
void kd_image_style_init(kd_image_style *style);

/* Pixels are square and row 0 is drawn at the top (as in an image or a matrix
 * printout): element z[r*cols + c] is the pixel in row r, column c. */

/* One heat map of a rows × cols field (a lattice configuration, a weight
 * vector as an L×L image, a matrix), with a colour bar. */
kd_status kd_figure_heatmap(const char *dir, const char *name, const float *z, int rows, int cols,
                            const kd_image_style *style, const kd_figure_options *opt);

/* Colour scale of several images in one figure. */
typedef enum {
    KD_SCALE_SHARED = 0,  /* one colour range for all (compare magnitudes) */
    KD_SCALE_PER_IMAGE = 1 /* each image scaled to its own range (compare shapes) */
} kd_image_scale;

/* npanels matrices of the same shape side by side, each with its own title and
 * colour bar (e.g. W Wᵀ next to the correlation matrix ⟨s_i s_j⟩). With
 * KD_SCALE_PER_IMAGE and an automatic range each panel gets its own range. */
kd_status kd_figure_panels(const char *dir, const char *name, int npanels,
                           const float *const *z, const char *const *panel_titles, int rows,
                           int cols, kd_image_scale scale, const kd_image_style *style,
                           const kd_figure_options *opt);

/* How a set of images is laid out in memory. */
typedef enum {
    KD_IMAGES_ROWS = 0,   /* image k is data[k*stride .. k*stride + rows*cols - 1] */
    KD_IMAGES_COLUMNS = 1 /* data is a (rows*cols) × stride row-major matrix and image k
                           * is its column k, data[p*stride + k] (e.g. W with stride n_h:
                           * the receptive field of hidden unit k; eigenvectors) */
} kd_image_layout;

typedef struct {
    const float *data;
    kd_image_layout layout;
    size_t stride;              /* see kd_image_layout; 0: rows*cols (ROWS) or count (COLUMNS) */
    int count;                  /* number of images, >= 1 */
    int rows, cols;             /* shape of each image */
    int grid_cols;              /* tiles per row of the mosaic; 0: ceil(sqrt(count)) */
    const char *const *labels;  /* count short labels drawn above the tiles, or NULL */
    kd_image_scale scale;       /* PER_IMAGE: each tile divided by its max |z| (diverging)
                                 * or mapped to its own [min,max]; SHARED: one range */
} kd_mosaic;

/* Many small images in a grid with one colour bar (receptive fields of all
 * hidden units, leading eigenvectors). The data file has one block per tile
 * (already rescaled when per-image; the header lists each tile's scale). */
kd_status kd_figure_mosaic(const char *dir, const char *name, const kd_mosaic *mosaic,
                           const kd_image_style *style, const kd_figure_options *opt);

/* ---- reports --------------------------------------------------------------- */

typedef struct kd_report kd_report;

/* A new report titled `title` (the level-1 heading and the HTML <title>). */
kd_status kd_report_new(kd_report **out, const char *title);
void kd_report_free(kd_report *r); /* NULL: nothing */

/* Content is appended in order. Text is plain UTF-8; `like this` (backticks)
 * marks inline code. A failure (allocation) is also remembered and returned
 * again by kd_report_write, so callers may check only the final write. */

/* A heading of level 2..4 (level 1 is the title). */
kd_status kd_report_heading(kd_report *r, int level, const char *text);
/* A paragraph, printf-style. */
kd_status kd_report_paragraph(kd_report *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A bullet-list item, printf-style; consecutive items form one list. */
kd_status kd_report_item(kd_report *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A preformatted block (e.g. the exact commands and seeds to rerun a step). */
kd_status kd_report_code(kd_report *r, const char *text);

/* A figure: `png` is the image path relative to the report directory (or
 * absolute), e.g. "figures/spectrum.png". The caption is numbered ("Figure 3.")
 * and followed by links to the data file and script beside the PNG (same name,
 * .dat and .gp). If the PNG does not exist when the report is written (gnuplot
 * missing), a note naming the data and script takes its place. */
kd_status kd_report_figure(kd_report *r, const char *png, const char *caption);

/* A table with ncols columns, header[ncols] (may be NULL: no header row) and a
 * caption (may be NULL), followed by rows added with kd_report_table_row /
 * _rowf. Columns whose cells all look numeric are right-aligned. */
kd_status kd_report_table_begin(kd_report *r, int ncols, const char *const *header,
                                const char *caption);
/* A row of ncols cells (NULL cells are empty). */
kd_status kd_report_table_row(kd_report *r, const char *const *cells);
/* A row formatted printf-style, cells separated by tab characters:
 *     kd_report_table_rowf(r, "%s\t%d\t%.3f", name, nh, T);
 * Missing cells are empty; extra cells are an error (KD_ERR_INVALID). */
kd_status kd_report_table_rowf(kd_report *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A whole numeric table: values (nrows × ncols, row-major), each column
 * formatted with formats[c] (a printf format for one double, e.g. "%.4f";
 * NULL: "%.6g"). Non-finite values print as "–" (NaN) or "inf". */
kd_status kd_report_table_numbers(kd_report *r, const char *caption, int nrows, int ncols,
                                  const char *const *header, const double *values,
                                  const char *const *formats);

/* Write DIR/report.md and DIR/report.html atomically (DIR is created if
 * missing). Reads the figures' PNGs to embed them. */
kd_status kd_report_write(const kd_report *r, const char *dir);

/* "value ± err" with err to 2 significant digits and value to the same decimal
 * place ("2.271 ± 0.013"); non-finite or zero err: value with %.6g. Returns buf. */
const char *kd_format_uncertain(double value, double err, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
