/* Images: heat maps, panels of matrices side by side, mosaics of small images. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "report/report_internal.h"

void kd_image_style_init(kd_image_style *style)
{
    memset(style, 0, sizeof *style);
    style->palette = KD_PALETTE_DIVERGING;
    style->zmin = NAN;
    style->zmax = NAN;
}

static kd_status check_image(const char *name, const float *z, int rows, int cols)
{
    if (!z || rows < 1 || cols < 1 || rows > 100000 || cols > 100000)
        KD_FAIL(KD_ERR_INVALID, "figure %s: image of %d × %d pixels, expected 1..100000 each",
                name, rows, cols);
    size_t n = (size_t)rows * (size_t)cols;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(z[i]))
            KD_FAIL(KD_ERR_INVALID, "figure %s: pixel %zu (row %zu, column %zu) is %g, expected a "
                                    "finite value", name, i, i / (size_t)cols, i % (size_t)cols,
                    (double)z[i]);
    return KD_OK;
}

/* Colour range of values z[0..n) for a palette (style's explicit range wins). */
static void auto_range(const kd_image_style *st, double lo_z, double hi_z, double *lo, double *hi)
{
    if (isfinite(st->zmin) && isfinite(st->zmax) && st->zmin < st->zmax) {
        *lo = st->zmin;
        *hi = st->zmax;
        return;
    }
    switch (st->palette) {
    case KD_PALETTE_SPINS:
        *lo = -1;
        *hi = 1;
        break;
    case KD_PALETTE_SEQUENTIAL:
        *lo = lo_z;
        *hi = hi_z;
        if (!(*hi > *lo)) {
            *lo -= 0.5;
            *hi += 0.5;
        }
        break;
    default: {
        double m = fmax(fabs(lo_z), fabs(hi_z));
        if (!(m > 0))
            m = 1;
        *lo = -m;
        *hi = m;
    }
    }
}

static void minmax(const float *z, size_t n, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (z[i] < *lo)
            *lo = z[i];
        if (z[i] > *hi)
            *hi = z[i];
    }
}

static void palette_lines(kd_buf *b, kd_palette pal)
{
    switch (pal) {
    case KD_PALETTE_SPINS:
        kd_buf_puts(b, "set palette defined (0 \"black\", 1 \"white\")\n"
                       "set cbtics (\"-1\" -1, \"0\" 0, \"+1\" 1)\n");
        break;
    case KD_PALETTE_SEQUENTIAL:
        kd_buf_puts(b, "set palette defined (0 \"#440154\", 0.25 \"#3b528b\", 0.5 \"#21918c\", "
                       "0.75 \"#5ec962\", 1 \"#fde725\")\n");
        break;
    default:
        kd_buf_puts(b, "set palette defined (0 \"#2166ac\", 0.25 \"#92c5de\", 0.5 \"#f7f7f7\", "
                       "0.75 \"#f4a582\", 1 \"#b2182b\")\n");
    }
    kd_buf_puts(b, "set palette maxcolors 0\n");
}

/* Integer tic spacing 1, 2, 5, 10, 20, ... giving at most 10 tics over n pixels. */
static int tic_step(int n)
{
    for (int base = 1;; base *= 10) {
        if (n <= 10 * base)
            return base;
        if (n <= 20 * base)
            return 2 * base;
        if (n <= 50 * base)
            return 5 * base;
        if (base > 100000000)
            return base;
    }
}

static void quoted_setting(kd_buf *b, const char *what, const char *text)
{
    if (!text)
        return;
    kd_buf_printf(b, "set %s ", what);
    kd_fig_quote(b, text);
    kd_buf_puts(b, "\n");
}

static void cbrange(kd_buf *b, double lo, double hi)
{
    kd_buf_puts(b, "set cbrange [");
    kd_fig_number(b, lo);
    kd_buf_puts(b, ":");
    kd_fig_number(b, hi);
    kd_buf_puts(b, "]\n");
}

/* One image as a gnuplot matrix block (rows of `cols` numbers). */
static void matrix_block(kd_buf *b, const float *z, int rows, int cols, double scale, double shift)
{
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
            double v = ((double)z[(size_t)r * (size_t)cols + (size_t)c] - shift) * scale;
            kd_buf_printf(b, c ? " %.6g" : "%.6g", v);
        }
        kd_buf_puts(b, "\n");
    }
}

static kd_status panels(const char *dir, const char *name, int np, const float *const *z,
                        const char *const *titles, int rows, int cols, kd_image_scale scale,
                        const kd_image_style *style, const kd_figure_options *opt)
{
    kd_image_style defaults;
    if (!style) {
        kd_image_style_init(&defaults);
        style = &defaults;
    }
    KD_CHECK(kd_fig_check_name(name));
    if (!dir || !*dir)
        KD_FAIL(KD_ERR_INVALID, "figure %s: no directory given", name);
    if (np < 1 || np > 16 || !z)
        KD_FAIL(KD_ERR_INVALID, "figure %s: %d panels, expected 1..16", name, np);
    for (int k = 0; k < np; k++)
        KD_CHECK(check_image(name, z[k], rows, cols));
    const size_t n = (size_t)rows * (size_t)cols;

    /* Panel ranges: shared, or each its own. */
    double lo[16], hi[16], glo = INFINITY, ghi = -INFINITY;
    for (int k = 0; k < np; k++) {
        double a, b;
        minmax(z[k], n, &a, &b);
        glo = fmin(glo, a);
        ghi = fmax(ghi, b);
        auto_range(style, a, b, &lo[k], &hi[k]);
    }
    if (scale == KD_SCALE_SHARED)
        for (int k = 0; k < np; k++)
            auto_range(style, glo, ghi, &lo[k], &hi[k]);

    /* Canvas: square image areas of ~ 520 px plus room for the colour bar. */
    double aspect = (double)rows / (double)cols;
    int pw = 600, ph = (int)(470 * fmin(fmax(aspect, 0.4), 2.0)) + 110;
    int width = opt && opt->width > 0 ? opt->width : pw * np;
    int height = opt && opt->height > 0 ? opt->height : ph;

    kd_buf data, gp;
    kd_buf_init(&data);
    kd_buf_init(&gp);
    kd_fig_data_header(&data, name, style->title);
    kd_buf_printf(&data, "# %d image%s of %d rows × %d columns (gnuplot: index k matrix); row 0 "
                         "is drawn at the top\n", np, np > 1 ? "s" : "", rows, cols);
    for (int k = 0; k < np; k++) {
        kd_buf_printf(&data, "%s# image %d: %s\n", k ? "\n\n" : "", k,
                      titles && titles[k] ? titles[k] : "");
        matrix_block(&data, z[k], rows, cols, 1.0, 0.0);
    }

    kd_fig_script_begin(&gp, name, style->title, width, height);
    palette_lines(&gp, style->palette);
    kd_buf_puts(&gp, "set size ratio -1\n"
                     "set tics out nomirror scale 0.6\n"
                     "set border lw 1\n");
    kd_buf_printf(&gp, "set xrange [-0.5:%d.5]\nset yrange [%d.5:-0.5]\n", cols - 1, rows - 1);
    kd_buf_printf(&gp, "set xtics 0, %d\nset ytics 0, %d\n", tic_step(cols), tic_step(rows));
    quoted_setting(&gp, "xlabel", style->xlabel);
    quoted_setting(&gp, "ylabel", style->ylabel);
    quoted_setting(&gp, "cblabel", style->cblabel);
    /* `with image` (one bitmap per image, nearest-neighbour) rather than
     * `pixels` (a rectangle per pixel): no anti-aliasing seams between pixels
     * in the PNG, and an SVG that embeds one bitmap instead of n rectangles. */
    const char *how = "with image";
    if (np > 1) {
        kd_buf_printf(&gp, "set multiplot layout 1,%d", np);
        if (style->title) {
            kd_buf_puts(&gp, " title ");
            kd_fig_quote(&gp, style->title);
            kd_buf_puts(&gp, " font \",13\"");
        }
        kd_buf_puts(&gp, "\n");
        for (int k = 0; k < np; k++) {
            kd_buf_puts(&gp, "set title ");
            kd_fig_quote(&gp, titles && titles[k] ? titles[k] : "");
            kd_buf_puts(&gp, "\n");
            cbrange(&gp, lo[k], hi[k]);
            kd_buf_printf(&gp, "plot \"%s.dat\" index %d matrix %s notitle\n", name, k, how);
        }
        kd_buf_puts(&gp, "unset multiplot\n");
    } else {
        if (style->title || (titles && titles[0])) {
            kd_buf_puts(&gp, "set title ");
            kd_fig_quote(&gp, style->title ? style->title : titles[0]);
            kd_buf_puts(&gp, " font \",13\"\n");
        }
        cbrange(&gp, lo[0], hi[0]);
        kd_buf_printf(&gp, "plot \"%s.dat\" index 0 matrix %s notitle\n", name, how);
    }
    kd_fig_script_end(&gp);
    kd_status st = kd_fig_finish(dir, name, &data, &gp, opt);
    kd_buf_free(&data);
    kd_buf_free(&gp);
    return st;
}

kd_status kd_figure_heatmap(const char *dir, const char *name, const float *z, int rows, int cols,
                            const kd_image_style *style, const kd_figure_options *opt)
{
    const float *one[1] = {z};
    return panels(dir, name, 1, one, NULL, rows, cols, KD_SCALE_SHARED, style, opt);
}

kd_status kd_figure_panels(const char *dir, const char *name, int npanels,
                           const float *const *z, const char *const *panel_titles, int rows,
                           int cols, kd_image_scale scale, const kd_image_style *style,
                           const kd_figure_options *opt)
{
    return panels(dir, name, npanels, z, panel_titles, rows, cols, scale, style, opt);
}

kd_status kd_figure_mosaic(const char *dir, const char *name, const kd_mosaic *m,
                           const kd_image_style *style, const kd_figure_options *opt)
{
    kd_image_style defaults;
    if (!style) {
        kd_image_style_init(&defaults);
        style = &defaults;
    }
    KD_CHECK(kd_fig_check_name(name));
    if (!dir || !*dir)
        KD_FAIL(KD_ERR_INVALID, "figure %s: no directory given", name);
    if (!m || !m->data || m->count < 1 || m->rows < 1 || m->cols < 1 || m->rows > 4096 ||
        m->cols > 4096 || m->count > 100000)
        KD_FAIL(KD_ERR_INVALID, "figure %s: mosaic of %d images of %d × %d, expected at least "
                                "one image of at least one pixel", name, m ? m->count : 0,
                m ? m->rows : 0, m ? m->cols : 0);
    const size_t npix = (size_t)m->rows * (size_t)m->cols;
    size_t stride = m->stride;
    if (m->layout == KD_IMAGES_ROWS) {
        if (!stride)
            stride = npix;
        if (stride < npix)
            KD_FAIL(KD_ERR_INVALID, "figure %s: row stride %zu is shorter than an image (%zu)",
                    name, stride, npix);
    } else if (m->layout == KD_IMAGES_COLUMNS) {
        if (!stride)
            stride = (size_t)m->count;
        if (stride < (size_t)m->count)
            KD_FAIL(KD_ERR_INVALID, "figure %s: column stride %zu is less than the %d images",
                    name, stride, m->count);
    } else {
        KD_FAIL(KD_ERR_INVALID, "figure %s: unknown image layout %d", name, (int)m->layout);
    }

    /* Gather the tiles contiguously (columns of a matrix are strided). */
    float *tiles = malloc((size_t)m->count * npix * sizeof *tiles);
    double *scale = malloc((size_t)m->count * sizeof *scale);
    double *shift = malloc((size_t)m->count * sizeof *shift);
    if (!tiles || !scale || !shift) {
        free(tiles), free(scale), free(shift);
        KD_FAIL(KD_ERR_NOMEM, "figure %s: out of memory for %d images", name, m->count);
    }
    for (int k = 0; k < m->count; k++)
        for (size_t p = 0; p < npix; p++)
            tiles[(size_t)k * npix + p] = m->layout == KD_IMAGES_ROWS
                                              ? m->data[(size_t)k * stride + p]
                                              : m->data[p * stride + (size_t)k];
    kd_status st = KD_OK;
    for (size_t i = 0; i < (size_t)m->count * npix; i++)
        if (!isfinite(tiles[i])) {
            st = kd_set_error(KD_ERR_INVALID, "figure %s: image %zu, pixel %zu is %g, expected a "
                                              "finite value", name, i / npix, i % npix,
                              (double)tiles[i]);
            break;
        }
    if (st != KD_OK) {
        free(tiles), free(scale), free(shift);
        return st;
    }

    /* Colour range: per tile (rescaled data, range of the rescaled values) or shared. */
    double glo, ghi, lo, hi;
    minmax(tiles, (size_t)m->count * npix, &glo, &ghi);
    int per_tile = m->scale == KD_SCALE_PER_IMAGE && style->palette != KD_PALETTE_SPINS;
    for (int k = 0; k < m->count; k++) {
        scale[k] = 1;
        shift[k] = 0;
        if (!per_tile)
            continue;
        double a, b;
        minmax(tiles + (size_t)k * npix, npix, &a, &b);
        if (style->palette == KD_PALETTE_SEQUENTIAL) {
            shift[k] = a;
            scale[k] = b > a ? 1 / (b - a) : 1;
        } else {
            double mx = fmax(fabs(a), fabs(b));
            scale[k] = mx > 0 ? 1 / mx : 1;
        }
    }
    if (per_tile) {
        lo = style->palette == KD_PALETTE_SEQUENTIAL ? 0 : -1;
        hi = 1;
    } else {
        auto_range(style, glo, ghi, &lo, &hi);
    }

    /* Layout: gc tiles per row, gaps of gx, gy pixels, a band of gl pixel rows above
     * each tile for its label. ppu = screen pixels per image pixel. */
    int gx = m->cols >= 20 ? m->cols / 10 : 1, gy = m->rows >= 20 ? m->rows / 10 : 1;
    /* Default grid: about as wide as tall (sqrt(count) columns for square
     * tiles, fewer for wide ones such as chains). */
    int gc = m->grid_cols > 0
                 ? m->grid_cols
                 : (int)ceil(sqrt((double)m->count * (m->rows + gy) / (m->cols + gx)) - 1e-9);
    if (gc < 1)
        gc = 1;
    if (gc > m->count)
        gc = m->count;
    int gr = (m->count + gc - 1) / gc;
    double wunits = (double)gc * (m->cols + gx) - gx;
    double ppu = fmin(fmax(900.0 / wunits, 1.0), 40.0);
    int gl = m->labels ? (int)ceil(17.0 / ppu) : 0;
    int px = m->cols + gx, py = m->rows + gy + gl;
    double hunits = (double)gr * py - gy;
    if (wunits * hunits > 64e6) {
        free(tiles), free(scale), free(shift);
        KD_FAIL(KD_ERR_INVALID, "figure %s: a mosaic of %.0f × %.0f pixels is too large", name,
                hunits, wunits);
    }
    int width = opt && opt->width > 0 ? opt->width : (int)(ppu * wunits) + 200;
    int height = opt && opt->height > 0 ? opt->height : (int)(ppu * hunits) + (style->title ? 110 : 60);
    if (width > 4000)
        width = 4000;
    if (height > 4000)
        height = 4000;

    /* The data file is the assembled mosaic, one matrix: gnuplot reads it in
     * one pass (a block per tile read with `plot for [k] ... index k` rescans
     * the file for every tile, minutes for hundreds of tiles). Gap pixels hold
     * 0 and are covered by white rectangles in the script. */
    const int W = gc * px - gx, H = gr * py - gy;
    float *mosaic = calloc((size_t)W * (size_t)H, sizeof *mosaic);
    if (!mosaic) {
        free(tiles), free(scale), free(shift);
        KD_FAIL(KD_ERR_NOMEM, "figure %s: out of memory for a %d × %d mosaic", name, W, H);
    }
    for (int k = 0; k < m->count; k++) {
        int x0 = (k % gc) * px, y0 = (k / gc) * py + gl;
        for (int r = 0; r < m->rows; r++)
            for (int c = 0; c < m->cols; c++)
                mosaic[(size_t)(y0 + r) * (size_t)W + (size_t)(x0 + c)] =
                    (float)(((double)tiles[(size_t)k * npix + (size_t)r * (size_t)m->cols +
                                           (size_t)c] - shift[k]) * scale[k]);
    }

    kd_buf data, gp;
    kd_buf_init(&data);
    kd_buf_init(&gp);
    kd_fig_data_header(&data, name, style->title);
    kd_buf_printf(&data,
                  "# mosaic of %d tiles of %d rows × %d columns as one %d × %d matrix (gnuplot: "
                  "matrix), row 0 at the top;\n"
                  "# layout: tile k occupies rows (k / %d)·%d + %d + [0, %d) and columns (k %% %d)·%d + "
                  "[0, %d); other pixels are gaps (0)\n",
                  m->count, m->rows, m->cols, H, W, gc, py, gl, m->rows, gc, px, m->cols);
    if (per_tile)
        kd_buf_printf(&data, "# each tile is %s; the original values are value = stored / "
                             "scale + shift\n",
                      style->palette == KD_PALETTE_SEQUENTIAL
                          ? "mapped to [0, 1] by (value - min) / (max - min)"
                          : "divided by its largest |value|");
    for (int k = 0; k < m->count; k++) {
        kd_buf_printf(&data, "# tile %d", k);
        if (m->labels && m->labels[k])
            kd_buf_printf(&data, " (%s)", m->labels[k]);
        if (per_tile)
            kd_buf_printf(&data, ": scale %.9g shift %.9g", scale[k], shift[k]);
        kd_buf_puts(&data, "\n");
    }
    matrix_block(&data, mosaic, H, W, 1.0, 0.0);
    free(mosaic);

    kd_fig_script_begin(&gp, name, style->title, width, height);
    palette_lines(&gp, style->palette);
    quoted_setting(&gp, "title", style->title);
    const char *cbl = style->cblabel;
    if (!cbl && per_tile)
        cbl = style->palette == KD_PALETTE_SEQUENTIAL ? "each tile scaled to [min, max]"
                                                      : "each tile / its max |value|";
    quoted_setting(&gp, "cblabel", cbl);
    cbrange(&gp, lo, hi);
    kd_buf_printf(&gp,
                  "set size ratio -1\n"
                  "unset xtics\nunset ytics\nunset border\n"
                  "set lmargin 1\nset rmargin 12\nset bmargin 1\n"
                  "set colorbox user origin screen %.4f, graph 0.15 size screen 0.02, graph 0.7\n"
                  "set xrange [-0.5:%d.5]\nset yrange [%d.5:-0.5]\n",
                  1.0 - 110.0 / width, W - 1, H - 1);
    /* White rectangles over the gaps: between tile columns, the label band
     * and gap of every tile row, and the empty slots of the last row. */
    const char *mask = " front fc rgb \"white\" fillstyle solid 1.0 noborder\n";
    int obj = 0;
    for (int c = 0; c + 1 < gc; c++)
        kd_buf_printf(&gp, "set object %d rectangle from %.1f, -0.5 to %.1f, %.1f%s", ++obj,
                      c * px + m->cols - 0.5, (c + 1) * px - 0.5, H - 0.5, mask);
    for (int r = 0; r < gr; r++) {
        if (gl > 0)
            kd_buf_printf(&gp, "set object %d rectangle from -0.5, %.1f to %.1f, %.1f%s", ++obj,
                          r * py - 0.5, W - 0.5, r * py + gl - 0.5, mask);
        if (r + 1 < gr)
            kd_buf_printf(&gp, "set object %d rectangle from -0.5, %.1f to %.1f, %.1f%s", ++obj,
                          r * py + gl + m->rows - 0.5, W - 0.5, (r + 1) * py - 0.5, mask);
    }
    for (int k = m->count; k < gc * gr; k++)
        kd_buf_printf(&gp, "set object %d rectangle from %.1f, %.1f to %.1f, %.1f%s", ++obj,
                      (k % gc) * px - 0.5, (k / gc) * py - 0.5, (k % gc) * px + m->cols - 0.5,
                      (k / gc) * py + gl + m->rows - 0.5, mask);
    if (m->labels) {
        int fs = ppu * gl >= 16 ? 9 : 8;
        for (int k = 0; k < m->count; k++) {
            if (!m->labels[k])
                continue;
            double xc = (k % gc) * px + (m->cols - 1) / 2.0;
            double yc = (k / gc) * py + gl / 2.0 - 0.5;
            kd_buf_printf(&gp, "set label %d ", k + 1);
            kd_fig_quote(&gp, m->labels[k]);
            kd_buf_printf(&gp, " at %.2f, %.2f center front font \",%d\"\n", xc, yc, fs);
        }
    }
    kd_buf_printf(&gp, "plot \"%s.dat\" matrix with image notitle\n", name);
    kd_fig_script_end(&gp);
    st = kd_fig_finish(dir, name, &data, &gp, opt);
    kd_buf_free(&data);
    kd_buf_free(&gp);
    free(tiles), free(scale), free(shift);
    return st;
}
