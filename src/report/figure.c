/* What every figure shares: names, quoting, the script skeleton with terminal
 * selection, writing data + script and rendering. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "report/report_internal.h"

void kd_figure_options_init(kd_figure_options *opt)
{
    opt->width = 0;
    opt->height = 0;
    opt->svg = 1;
    opt->render = 1;
}

kd_status kd_fig_check_name(const char *name)
{
    if (!name || !*name)
        KD_FAIL(KD_ERR_INVALID, "figure name is empty");
    size_t n = strlen(name);
    if (n > 200)
        KD_FAIL(KD_ERR_INVALID, "figure name '%.40s...' is %zu bytes long, expected at most 200",
                name, n);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok)
            KD_FAIL(KD_ERR_INVALID,
                    "figure name '%s' contains '%c', expected only letters, digits, '.', '_', '-'",
                    name, c);
    }
    if (name[0] == '.' || name[0] == '-')
        KD_FAIL(KD_ERR_INVALID, "figure name '%s' must not start with '.' or '-'", name);
    return KD_OK;
}

void kd_fig_quote(kd_buf *b, const char *s)
{
    kd_buf_puts(b, "\"");
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', *p};
            kd_buf_append(b, esc, 2);
        } else if (*p == '\n') {
            kd_buf_puts(b, "\\n");
        } else if ((unsigned char)*p < 0x20) {
            kd_buf_puts(b, " ");
        } else {
            kd_buf_append(b, p, 1);
        }
    }
    kd_buf_puts(b, "\"");
}

void kd_fig_number(kd_buf *b, double x)
{
    if (isfinite(x))
        kd_buf_printf(b, "%.10g", x);
    else
        kd_buf_puts(b, "NaN");
}

/* A comment line safe for any text: newlines become spaces. */
static void comment_text(kd_buf *b, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++)
        kd_buf_append(b, (*p == '\n' || *p == '\r') ? " " : p, 1);
}

void kd_fig_data_header(kd_buf *b, const char *name, const char *title)
{
    kd_buf_printf(b, "# kadanoff figure data: %s", name);
    if (title && *title) {
        kd_buf_puts(b, " — ");
        comment_text(b, title);
    }
    kd_buf_printf(b, "\n# written by kadanoff %s; plotted by %s.gp in this directory\n",
                  kd_version(), name);
}

void kd_fig_script_begin(kd_buf *b, const char *name, const char *title, int width, int height)
{
    kd_buf_printf(b, "# kadanoff figure %s", name);
    if (title && *title) {
        kd_buf_puts(b, ": ");
        comment_text(b, title);
    }
    kd_buf_printf(b,
                  "\n# Reads %s.dat from this directory. Render in this directory with\n"
                  "#     gnuplot %s.gp                       (%s.png and %s.svg)\n"
                  "#     gnuplot -e 'formats=\"png\"' %s.gp    (PNG only)\n"
                  "# Written by kadanoff %s; edit freely to restyle.\n\n",
                  name, name, name, name, name, kd_version());
    kd_buf_printf(b,
                  "if (!exists(\"formats\")) formats = \"png svg\"\n"
                  "if (!exists(\"out\")) out = \"%s\"\n"
                  "set encoding utf8\n"
                  "terminals = \" \" . GPVAL_TERMINALS . \" \"\n"
                  "do for [fmt in formats] {\n"
                  "if (fmt eq \"png\") {\n"
                  "    if (strstrt(terminals, \" pngcairo \") > 0) {\n"
                  "        set terminal pngcairo size %d,%d noenhanced font \"Sans,11\"\n"
                  "    } else {\n"
                  "        set terminal png size %d,%d noenhanced\n"
                  "    }\n"
                  "    set output out . \".png\"\n"
                  "}\n"
                  "if (fmt eq \"svg\") {\n"
                  "    if (strstrt(terminals, \" svg \") == 0) {\n"
                  "        continue\n"
                  "    }\n"
                  "    set terminal svg size %d,%d noenhanced font \"Sans,11\" background \"white\"\n"
                  "    set output out . \".svg\"\n"
                  "}\n\n",
                  name, width, height, width, height, width, height);
}

void kd_fig_script_end(kd_buf *b) { kd_buf_puts(b, "\nset output\n}\n"); }

const char *kd_fig_color(int i)
{
    /* Okabe & Ito's palette without its yellow (too pale on white). */
    static const char *colors[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                   "#E69F00", "#56B4E9", "#000000"};
    return colors[(unsigned)i % (sizeof colors / sizeof colors[0])];
}

/* Remove NAME.png / NAME.svg left by an earlier run, so that a report never
 * embeds an image that no longer matches the data. */
static void remove_stale_images(const char *dir, const char *name)
{
    const char *exts[] = {"png", "svg"};
    for (int i = 0; i < 2; i++) {
        char *p = kd_path_join(dir, name, exts[i]);
        if (p)
            unlink(p);
        free(p);
    }
}

kd_status kd_fig_finish(const char *dir, const char *name, const kd_buf *data,
                        const kd_buf *script, const kd_figure_options *opt)
{
    kd_figure_options defaults;
    if (!opt) {
        kd_figure_options_init(&defaults);
        opt = &defaults;
    }
    if (data->failed || script->failed)
        KD_FAIL(KD_ERR_NOMEM, "figure %s: out of memory", name);
    KD_CHECK(kd_report_mkdir(dir));
    char *dat = kd_path_join(dir, name, "dat"), *gp = kd_path_join(dir, name, "gp");
    kd_status st = dat && gp ? KD_OK : kd_set_error(KD_ERR_NOMEM, "figure %s: out of memory", name);
    if (st == KD_OK)
        st = kd_write_file_atomic(dat, data->s ? data->s : "", data->len);
    if (st == KD_OK)
        st = kd_write_file_atomic(gp, script->s ? script->s : "", script->len);
    free(dat);
    free(gp);
    if (st != KD_OK)
        return st;
    if (!opt->render) {
        remove_stale_images(dir, name);
        return KD_OK;
    }
    st = kd_gnuplot_render(dir, name, opt->svg);
    if (st != KD_OK)
        remove_stale_images(dir, name);
    return st;
}
