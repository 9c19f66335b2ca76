/* Figures and reports: data + script files, rendering through gnuplot (skipped
 * when it is not installed), the missing/failing-gnuplot status, every figure
 * kind, the self-contained HTML report (embedded images, no external
 * requests), Markdown tables, and atomic writes. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kadanoff/kadanoff.h"
#include "kadanoff/report.h"
#include "testing.h"

static char root[256];

/* ---- small file helpers ------------------------------------------------------ */

static char *path_in(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", root, name);
    return p;
}

static long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) ? (long)sb.st_size : -1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s)
        s[n] = '\0';
    fclose(f);
    return s;
}

static void spit(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static int has_png_signature(const char *path)
{
    unsigned char sig[8] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t got = fread(sig, 1, 8, f);
    fclose(f);
    return got == 8 && !memcmp(sig, "\x89PNG\r\n\x1a\n", 8);
}

/* Any leftover "*.tmp.*" in dir (a failed atomic write would leave one). */
static int no_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int clean = 1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp."))
            clean = 0;
    closedir(d);
    return clean;
}

static void remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int count_lines_starting(const char *text, const char *prefix)
{
    int n = 0;
    size_t lp = strlen(prefix);
    for (const char *p = text; p && *p;) {
        if (!strncmp(p, prefix, lp))
            n++;
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : NULL;
    }
    return n;
}

/* ---- figures ------------------------------------------------------------------- */

static kd_status write_flow_plot(const char *dir, const char *name, const kd_figure_options *opt)
{
    double x[6] = {0, 1, 2, 3, 4, 5}, y[6] = {0.5, 1.2, 1.8, 2.1, 2.25, 2.27};
    double e[6] = {0.05, 0.05, 0.04, 0.03, 0.03, 0.02}, y2[6] = {6, 4, 3, 2.6, 2.4, 2.3};
    kd_plot *p = NULL;
    kd_status st = kd_plot_new(&p, "Flow \"test\"", "flow step n", "temperature T (J/k_B)");
    if (st == KD_OK)
        st = kd_plot_add_series(p, "start T = 0", 6, x, y, e, KD_SERIES_LINESPOINTS);
    if (st == KD_OK)
        st = kd_plot_add_series(p, "start T = ∞", 6, x, y2, e, KD_SERIES_LINES);
    if (st == KD_OK)
        st = kd_plot_add_hline(p, 2.269185, "T_c");
    if (st == KD_OK)
        st = kd_plot_write(p, dir, name, opt);
    kd_plot_free(p);
    return st;
}

static void test_plot_files(void)
{
    kd_figure_options opt;
    kd_figure_options_init(&opt);
    opt.render = 0;
    kd_test(write_flow_plot(root, "flow", &opt) == KD_OK, "plot: data and script written");
    char *dat = slurp(path_in("flow.dat")), *gp = slurp(path_in("flow.gp"));
    kd_test(dat && !strncmp(dat, "# kadanoff figure data: flow", 28), "plot data has a header "
            "comment");
    kd_test(dat && count_lines_starting(dat, "# series ") == 2, "plot data: one block per series");
    kd_test(dat && strstr(dat, "\n5 2.27 0.02\n") != NULL, "plot data: columns x y yerr");
    kd_test(gp && strstr(gp, "\"flow.dat\" index 0") && strstr(gp, "\"flow.dat\" index 1"),
            "script reads the data by relative path, one index per series");
    kd_test(gp && !strstr(gp, root), "script contains no absolute path");
    kd_test(gp && strstr(gp, "set title \"Flow \\\"test\\\"\""), "quotes in titles are escaped");
    kd_test(gp && strstr(gp, "2.269185 with lines"), "reference line at T_c");
    kd_test(file_size(path_in("flow.png")) < 0, "render = 0: no PNG");
    free(dat);
    free(gp);
    kd_test(no_temp_files(root), "no temporary files left");
}

static void test_render(void)
{
    if (!kd_figure_gnuplot_available()) {
        kd_test_skip("gnuplot is not installed: rendering not tested");
        return;
    }
    kd_status st = write_flow_plot(root, "flow_r", NULL);
    kd_test(st == KD_OK, "plot rendered (%s)", st ? kd_last_error() : "ok");
    kd_test(file_size(path_in("flow_r.png")) > 1000, "PNG is non-empty (%ld bytes)",
            file_size(path_in("flow_r.png")));
    kd_test(has_png_signature(path_in("flow_r.png")), "PNG has the PNG signature");
    kd_test(file_size(path_in("flow_r.svg")) > 0, "SVG rendered too");
    kd_test(no_temp_files(root), "no temporary images left");

    /* Every image kind renders. */
    float spins[36], field[36], mats[2][16], cols[36 * 5];
    for (int i = 0; i < 36; i++) {
        spins[i] = (i * 7) % 5 < 2 ? -1.0f : 1.0f;
        field[i] = (float)sin(0.3 * i);
        for (int k = 0; k < 5; k++)
            cols[i * 5 + k] = (float)cos(0.2 * i * (k + 1));
    }
    for (int i = 0; i < 16; i++) {
        mats[0][i] = (float)(i % 5);
        mats[1][i] = (float)-(i % 3);
    }
    kd_image_style s;
    kd_image_style_init(&s);
    s.palette = KD_PALETTE_SPINS;
    s.title = "spins";
    st = kd_figure_heatmap(root, "spins", spins, 6, 6, &s, NULL);
    kd_test(st == KD_OK && has_png_signature(path_in("spins.png")), "spin heat map rendered (%s)",
            st ? kd_last_error() : "ok");
    const float *z[2] = {mats[0], mats[1]};
    const char *titles[2] = {"A", "B"};
    kd_image_style_init(&s);
    s.palette = KD_PALETTE_SEQUENTIAL;
    st = kd_figure_panels(root, "panels", 2, z, titles, 4, 4, KD_SCALE_PER_IMAGE, &s, NULL);
    kd_test(st == KD_OK && has_png_signature(path_in("panels.png")), "matrix panels rendered (%s)",
            st ? kd_last_error() : "ok");
    const char *labels[5] = {"a", "b", "c", "d", "e"};
    kd_image_style_init(&s);
    kd_mosaic m = {cols, KD_IMAGES_COLUMNS, 5, 5, 6, 6, 0, labels, KD_SCALE_PER_IMAGE};
    st = kd_figure_mosaic(root, "mosaic", &m, &s, NULL);
    kd_test(st == KD_OK && has_png_signature(path_in("mosaic.png")), "mosaic rendered (%s)",
            st ? kd_last_error() : "ok");
    double ev[5] = {10, 3, 1, 0.1, 0};
    st = kd_figure_spectrum(root, "spec", "spectrum", "λ", 5, ev, 1, NULL);
    kd_test(st == KD_OK && has_png_signature(path_in("spec.png")), "log spectrum rendered (%s)",
            st ? kd_last_error() : "ok");
    (void)field;
}

static void test_missing_gnuplot(void)
{
    kd_figure_set_gnuplot("/nonexistent/gnuplot");
    kd_test(!kd_figure_gnuplot_available(), "a missing gnuplot is reported as unavailable");
    kd_status st = write_flow_plot(root, "nognu", NULL);
    kd_test(st == KD_ERR_UNSUPPORTED, "missing gnuplot: KD_ERR_UNSUPPORTED (got %d)", (int)st);
    kd_test(strstr(kd_last_error(), "gnuplot not found") && strstr(kd_last_error(), root),
            "message says gnuplot was not found and names the directory: %s", kd_last_error());
    kd_test(file_size(path_in("nognu.dat")) > 0 && file_size(path_in("nognu.gp")) > 0,
            "missing gnuplot: data and script kept");
    kd_test(file_size(path_in("nognu.png")) < 0, "missing gnuplot: no PNG");

    /* A gnuplot that fails: its stderr goes into the message. */
    const char *fake = path_in("fake-gnuplot");
    const char *script = "#!/bin/sh\necho 'line 7: undefined variable: oops' >&2\nexit 1\n";
    spit(fake, script, strlen(script));
    chmod(fake, 0755);
    kd_figure_set_gnuplot(fake);
    st = write_flow_plot(root, "badgnu", NULL);
    kd_test(st == KD_ERR_UNSUPPORTED, "failing gnuplot: KD_ERR_UNSUPPORTED (got %d)", (int)st);
    kd_test(strstr(kd_last_error(), "gnuplot failed") &&
                strstr(kd_last_error(), "undefined variable: oops"),
            "message quotes gnuplot's stderr: %s", kd_last_error());
    kd_test(file_size(path_in("badgnu.gp")) > 0, "failing gnuplot: script kept");
    kd_figure_set_gnuplot(NULL);
    kd_clear_error();
}

static void test_image_data(void)
{
    kd_figure_options opt;
    kd_figure_options_init(&opt);
    opt.render = 0;
    /* Columns layout: image k is column k of a (rows·cols) × stride matrix. */
    float W[4 * 3]; /* 4 pixels (2×2), 3 images, stride 3 */
    for (int p = 0; p < 4; p++)
        for (int k = 0; k < 3; k++)
            W[p * 3 + k] = (float)((k + 1) * (p + 1));
    kd_mosaic m = {W, KD_IMAGES_COLUMNS, 3, 3, 2, 2, 0, NULL, KD_SCALE_SHARED};
    kd_test(kd_figure_mosaic(root, "cols", &m, NULL, &opt) == KD_OK, "mosaic of columns written");
    char *dat = slurp(path_in("cols.dat"));
    /* 3 tiles of 2×2 in a 2 × 2 grid with 1-pixel gaps: a 5 × 5 matrix; tile k
     * is column k of the matrix: tile 0 = (1,2,3,4), tile 1 = 2·(1,2,3,4),
     * tile 2 = 3·(1,2,3,4) in the second tile row; gaps and the empty slot are 0. */
    kd_test(dat && strstr(dat, "\n1 2 0 2 4\n3 4 0 6 8\n0 0 0 0 0\n3 6 0 0 0\n9 12 0 0 0\n"),
            "tile k is column k of the matrix, placed in the grid");
    kd_test(dat && count_lines_starting(dat, "# tile ") == 3, "the header lists every tile");
    free(dat);
    m.scale = KD_SCALE_PER_IMAGE;
    kd_test(kd_figure_mosaic(root, "cols_scaled", &m, NULL, &opt) == KD_OK, "per-tile scale");
    dat = slurp(path_in("cols_scaled.dat"));
    kd_test(dat && strstr(dat, "\n0.25 0.5 0 0.25 0.5\n0.75 1 0 0.75 1\n"),
            "per-tile scale divides each tile by its max |value|");
    kd_test(dat && strstr(dat, "# tile 1: scale 0.125 shift 0\n"), "the header lists the scales");
    free(dat);
    char *gp = slurp(path_in("cols_scaled.gp"));
    kd_test(gp && strstr(gp, "plot \"cols_scaled.dat\" matrix with image"),
            "the mosaic is plotted from one matrix (one pass over the data)");
    kd_test(gp && count_lines_starting(gp, "set object ") == 3,
            "white rectangles over the column gap, the row gap and the empty slot");
    free(gp);

    /* Rows layout, with a stride longer than an image. */
    float R[2 * 5] = {1, 2, 3, 4, 99, -1, -2, -3, -4, 99};
    kd_mosaic mr = {R, KD_IMAGES_ROWS, 5, 2, 2, 2, 2, NULL, KD_SCALE_SHARED};
    kd_test(kd_figure_mosaic(root, "rows", &mr, NULL, &opt) == KD_OK, "mosaic of rows written");
    dat = slurp(path_in("rows.dat"));
    kd_test(dat && strstr(dat, "\n1 2 0 -1 -2\n3 4 0 -3 -4\n") && !strstr(dat, "99"),
            "rows layout honours the stride");
    free(dat);

    float bad[4] = {0, NAN, 1, 2};
    kd_test(kd_figure_heatmap(root, "nan", bad, 2, 2, NULL, &opt) == KD_ERR_INVALID,
            "a NaN pixel is refused");
    kd_test(file_size(path_in("nan.dat")) < 0, "nothing written for a refused image");
    kd_test(kd_figure_heatmap(root, "../escape", R, 2, 2, NULL, &opt) == KD_ERR_INVALID,
            "a figure name with '/' is refused");
    kd_test(kd_figure_heatmap(root, "a b", R, 2, 2, NULL, &opt) == KD_ERR_INVALID,
            "a figure name with a space is refused");
    kd_clear_error();

    /* Figures create their directory. */
    char sub[600];
    snprintf(sub, sizeof sub, "%s/deep/er", root);
    kd_test(kd_figure_heatmap(sub, "hm", R, 2, 2, NULL, &opt) == KD_OK, "directory created");
    snprintf(sub, sizeof sub, "%s/deep/er/hm.gp", root);
    kd_test(file_size(sub) > 0, "script in the new directory");
}

/* ---- reports -------------------------------------------------------------------- */

static void test_report(void)
{
    /* A fake PNG whose base64 is known: 89 50 4E 47 0D 0A 1A 0A 'a' 'b' 'c'. */
    kd_report_mkdir(path_in("rep/figures"));
    spit(path_in("rep/figures/fake.png"), "\x89PNG\r\n\x1a\nabc", 11);
    spit(path_in("rep/figures/fake.dat"), "# data\n1 2\n", 11);

    kd_report *r = NULL;
    kd_test(kd_report_new(&r, "Test <report>") == KD_OK, "report created");
    kd_report_heading(r, 2, "Setup");
    kd_report_paragraph(r, "Run `kadanoff sample` at T = %.3f; <script>alert(1)</script> & more.",
                        2.269);
    kd_report_item(r, "first");
    kd_report_item(r, "second");
    const char *hdr[] = {"setting", "T*", "|m*|"};
    kd_report_table_begin(r, 3, hdr, "Fixed points.");
    kd_report_table_rowf(r, "all T\t%.3f\t%.2f", 2.271, 0.25);
    kd_report_table_rowf(r, "T < T_c\t%s\t0.9", "2.31 ± 0.02");
    kd_report_figure(r, "figures/fake.png", "A fake figure.");
    kd_report_figure(r, "figures/missing.png", "A figure gnuplot never drew.");
    double vals[4] = {1.5, NAN, INFINITY, 2e-3};
    kd_report_table_numbers(r, "Numbers.", 2, 2, NULL, vals,
                            (const char *const[]){"%.2f", "%.1e"});
    kd_report_heading(r, 2, "Rerun");
    kd_report_code(r, "kadanoff sample -L 10 --temps 0:6:0.25 --seed 7 -o data.h5\n");
    kd_status st = kd_report_write(r, path_in("rep"));
    kd_test(st == KD_OK, "report written (%s)", st ? kd_last_error() : "ok");

    char *html = slurp(path_in("rep/report.html")), *md = slurp(path_in("rep/report.md"));
    kd_test(html && md, "report.html and report.md exist");
    if (!html || !md) {
        free(html);
        free(md);
        kd_report_free(r);
        return;
    }
    kd_test(strstr(html, "src=\"data:image/png;base64,iVBORw0KGgphYmM=\"") != NULL,
            "HTML embeds the PNG as a base64 data: URI");
    kd_test(!strstr(html, "http://") && !strstr(html, "https://"),
            "HTML has no http:// or https:// reference (no external requests)");
    kd_test(!strstr(html, "<script") && !strstr(html, "<link") && !strstr(html, "@import") &&
                !strstr(html, "url("),
            "HTML loads no script, style sheet, import or url()");
    int srcs_ok = 1;
    for (const char *p = strstr(html, "src="); p; p = strstr(p + 4, "src="))
        srcs_ok &= !strncmp(p, "src=\"data:", 10);
    kd_test(srcs_ok, "every src= in the HTML is a data: URI");
    kd_test(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more") != NULL,
            "text is HTML-escaped");
    kd_test(strstr(html, "<code>kadanoff sample</code>") != NULL, "backticks become <code>");
    kd_test(strstr(html, "<title>Test &lt;report&gt;</title>") != NULL, "title escaped");
    kd_test(strstr(html, "<td class=\"num\">2.271</td>") != NULL, "numeric columns right-aligned");
    kd_test(strstr(html, "<td class=\"num\">2.31 ± 0.02</td>") != NULL,
            "a value ± error counts as numeric");
    kd_test(strstr(html, "class=\"missing\"") != NULL, "missing figure: a note, not a failure");
    kd_test(strstr(html, "href=\"figures/fake.dat\"") != NULL, "caption links the data file");
    kd_test(strstr(html, "<ul>\n<li>first</li>\n<li>second</li>\n</ul>") != NULL,
            "consecutive items form one list");
    kd_test(strstr(html, "kadanoff sample -L 10 --temps 0:6:0.25 --seed 7 -o data.h5") != NULL,
            "code block kept verbatim");
    kd_test(strstr(html, "<td class=\"num\">–</td>") && strstr(html, ">inf</td>") &&
                strstr(html, ">2.0e-03</td>"),
            "numeric table: NaN as –, inf, per-column formats");

    kd_test(strstr(md, "![Figure 1](figures/fake.png)") != NULL, "Markdown links the figure");
    kd_test(strstr(md, "| setting | T\\* | \\|m\\*\\| |") != NULL, "Markdown header escaped");
    kd_test(strstr(md, "|---|---:|---:|") != NULL, "Markdown alignment row");
    kd_test(strstr(md, "```\nkadanoff sample") != NULL, "Markdown code fence");
    kd_test(strstr(md, "Not rendered") != NULL, "Markdown notes the missing figure");
    kd_test(no_temp_files(path_in("rep")), "no temporary files after writing the report");
    free(html);
    free(md);

    /* A failed step is remembered, and the old report stays untouched. */
    long before = file_size(path_in("rep/report.html"));
    kd_report_table_begin(r, 2, NULL, NULL);
    st = kd_report_table_rowf(r, "a\tb\tc");
    kd_test(st == KD_ERR_INVALID, "a row with too many cells is refused");
    st = kd_report_write(r, path_in("rep"));
    kd_test(st == KD_ERR_INVALID && strstr(kd_last_error(), "earlier step failed"),
            "kd_report_write returns the earlier failure: %s", kd_last_error());
    kd_test(file_size(path_in("rep/report.html")) == before, "old report.html untouched");
    kd_report_free(r);
    kd_clear_error();

    /* The target cannot be replaced (a directory in its place): an error, the
     * directory is intact, and no temporary file is left behind. */
    kd_report_new(&r, "second");
    kd_report_paragraph(r, "x");
    kd_report_mkdir(path_in("rep2/report.html"));
    st = kd_report_write(r, path_in("rep2"));
    struct stat sb;
    kd_test(st == KD_ERR_IO, "report.html blocked by a directory: KD_ERR_IO (got %d: %s)",
            (int)st, kd_last_error());
    kd_test(stat(path_in("rep2/report.html"), &sb) == 0 && S_ISDIR(sb.st_mode),
            "the directory in the way is intact");
    kd_test(no_temp_files(path_in("rep2")), "no temporary file left after the failure");
    kd_report_free(r);
    kd_clear_error();
}

static void test_format(void)
{
    char b[64];
    kd_test(!strcmp(kd_format_uncertain(2.27134, 0.01345, b, sizeof b), "2.271 ± 0.013"),
            "2.27134 ± 0.01345 -> %s", b);
    kd_test(!strcmp(kd_format_uncertain(0.5, 0.0095, b, sizeof b), "0.5000 ± 0.0095"),
            "0.5 ± 0.0095 -> %s", b);
    kd_test(!strcmp(kd_format_uncertain(12345, 678, b, sizeof b), "12350 ± 680"),
            "12345 ± 678 -> %s", b);
    kd_test(!strcmp(kd_format_uncertain(1.5, NAN, b, sizeof b), "1.5"), "no error -> %s", b);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/kd_test_report.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        printf("cannot create a temporary directory\n");
        return 1;
    }
    test_plot_files();
    test_render();
    test_missing_gnuplot();
    test_image_data();
    test_report();
    test_format();
    if (getenv("KD_TEST_KEEP"))
        printf("kept %s\n", root);
    else
        remove_tree(root);
    return kd_test_done();
}
