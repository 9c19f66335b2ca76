/*
 * Internals of the report module (not installed): a growable text buffer, the
 * pieces every gnuplot figure shares, and the gnuplot runner.
 */
#ifndef KD_REPORT_INTERNAL_H
#define KD_REPORT_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include "kadanoff/report.h"

/* ---- text buffer ------------------------------------------------------------ */

/* A growable NUL-terminated string. An allocation failure sets `failed` and
 * makes every later append a no-op, so writers check once at the end. */
typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} kd_buf;

void kd_buf_init(kd_buf *b);
void kd_buf_free(kd_buf *b);
void kd_buf_append(kd_buf *b, const char *s, size_t len);
void kd_buf_puts(kd_buf *b, const char *s);
void kd_buf_printf(kd_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void kd_buf_vprintf(kd_buf *b, const char *fmt, va_list ap);

/* Write `len` bytes to `path` atomically (io/atomic.h). */
kd_status kd_write_file_atomic(const char *path, const char *data, size_t len);

/* "dir/name.ext" into a new allocation (NULL on failure). */
char *kd_path_join(const char *dir, const char *name, const char *ext);

/* ---- figures -------------------------------------------------------------------- */

/* KD_ERR_INVALID unless name is non-empty, at most 200 bytes of [A-Za-z0-9._-]. */
kd_status kd_fig_check_name(const char *name);

/* Append s as a gnuplot double-quoted string ("..." with \\ and \" escaped,
 * newlines as \n). NULL appends "". */
void kd_fig_quote(kd_buf *b, const char *s);

/* A number for a data file: %.10g, or NaN when not finite. */
void kd_fig_number(kd_buf *b, double x);

/* The script's head: comment, `formats` / `out` defaults, the start of the
 * loop over output formats with terminal selection at width × height pixels.
 * Close with kd_fig_script_end. */
void kd_fig_script_begin(kd_buf *b, const char *name, const char *title, int width, int height);
void kd_fig_script_end(kd_buf *b);

/* The data file's first comment lines: figure name, title, kadanoff version. */
void kd_fig_data_header(kd_buf *b, const char *name, const char *title);

/* Write DIR/NAME.dat and DIR/NAME.gp (creating DIR), then render unless
 * opt->render is 0. Returns the status described in kadanoff/report.h. */
kd_status kd_fig_finish(const char *dir, const char *name, const kd_buf *data,
                        const kd_buf *script, const kd_figure_options *opt);

/* Colour-blind-safe series colours ("#rrggbb"), cycled. */
const char *kd_fig_color(int i);

/* ---- gnuplot ------------------------------------------------------------------- */

/* Run `gnuplot -e 'formats="png[ svg]"' -e 'out="NAME.tmp.PID"' NAME.gp` in dir
 * and rename the outputs to NAME.png / NAME.svg. KD_ERR_UNSUPPORTED when gnuplot
 * is missing or fails (message as in kadanoff/report.h). */
kd_status kd_gnuplot_render(const char *dir, const char *name, int svg);

#endif
