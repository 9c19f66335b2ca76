/* Report builder: an ordered list of elements written as Markdown and as one
 * self-contained HTML file (figures embedded as base64 data: URIs, inline CSS,
 * no external requests). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "report/report_internal.h"

typedef enum { EL_HEADING, EL_PARAGRAPH, EL_ITEM, EL_CODE, EL_FIGURE, EL_TABLE } el_type;

typedef struct {
    el_type type;
    int level;     /* headings */
    char *text;    /* heading, paragraph, item, code; figure: the PNG path */
    char *caption; /* figure, table */
    int ncols;     /* table */
    char **header; /* ncols or NULL */
    char **cells;  /* nrows × ncols */
    size_t nrows, cap;
} element;

struct kd_report {
    char *title;
    element *el;
    size_t n, cap;
    kd_status failed; /* first failure, returned again by kd_report_write */
    char failed_msg[256];
};

static char *dup_str(const char *s)
{
    size_t n = strlen(s ? s : "");
    char *c = malloc(n + 1);
    if (c)
        memcpy(c, s ? s : "", n + 1);
    return c;
}

static kd_status remember(kd_report *r, kd_status st)
{
    if (st != KD_OK && r->failed == KD_OK) {
        r->failed = st;
        snprintf(r->failed_msg, sizeof r->failed_msg, "%s", kd_last_error());
    }
    return st;
}

kd_status kd_report_new(kd_report **out, const char *title)
{
    *out = NULL;
    kd_report *r = calloc(1, sizeof *r);
    if (!r || !(r->title = dup_str(title ? title : "kadanoff report"))) {
        free(r);
        KD_FAIL(KD_ERR_NOMEM, "report: out of memory");
    }
    *out = r;
    return KD_OK;
}

static void free_element(element *e)
{
    free(e->text);
    free(e->caption);
    if (e->header)
        for (int c = 0; c < e->ncols; c++)
            free(e->header[c]);
    free(e->header);
    for (size_t i = 0; i < e->nrows * (size_t)e->ncols; i++)
        free(e->cells[i]);
    free(e->cells);
}

void kd_report_free(kd_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free_element(&r->el[i]);
    free(r->el);
    free(r->title);
    free(r);
}

/* Append an element; text and caption are copied (either may be NULL). */
static kd_status push(kd_report *r, el_type type, const char *text, const char *caption,
                      element **out)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 32;
        element *grown = realloc(r->el, cap * sizeof *grown);
        if (!grown)
            return remember(r, kd_set_error(KD_ERR_NOMEM, "report: out of memory"));
        r->el = grown;
        r->cap = cap;
    }
    element *e = &r->el[r->n];
    memset(e, 0, sizeof *e);
    e->type = type;
    if ((text && !(e->text = dup_str(text))) || (caption && !(e->caption = dup_str(caption)))) {
        free_element(e);
        return remember(r, kd_set_error(KD_ERR_NOMEM, "report: out of memory"));
    }
    r->n++;
    if (out)
        *out = e;
    return KD_OK;
}

kd_status kd_report_heading(kd_report *r, int level, const char *text)
{
    if (level < 2 || level > 4)
        return remember(r, kd_set_error(KD_ERR_INVALID, "report heading '%s': level %d, "
                                                        "expected 2..4", text ? text : "", level));
    element *e = NULL;
    KD_CHECK(push(r, EL_HEADING, text, NULL, &e));
    e->level = level;
    return KD_OK;
}

static kd_status push_formatted(kd_report *r, el_type type, const char *fmt, va_list ap)
{
    kd_buf b;
    kd_buf_init(&b);
    kd_buf_vprintf(&b, fmt, ap);
    if (b.failed) {
        kd_buf_free(&b);
        return remember(r, kd_set_error(KD_ERR_NOMEM, "report: out of memory"));
    }
    kd_status st = push(r, type, b.s ? b.s : "", NULL, NULL);
    kd_buf_free(&b);
    return st;
}

kd_status kd_report_paragraph(kd_report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kd_status st = push_formatted(r, EL_PARAGRAPH, fmt, ap);
    va_end(ap);
    return st;
}

kd_status kd_report_item(kd_report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kd_status st = push_formatted(r, EL_ITEM, fmt, ap);
    va_end(ap);
    return st;
}

kd_status kd_report_code(kd_report *r, const char *text)
{
    return push(r, EL_CODE, text ? text : "", NULL, NULL);
}

kd_status kd_report_figure(kd_report *r, const char *png, const char *caption)
{
    if (!png || !*png)
        return remember(r, kd_set_error(KD_ERR_INVALID, "report figure: no image path given"));
    return push(r, EL_FIGURE, png, caption ? caption : "", NULL);
}

kd_status kd_report_table_begin(kd_report *r, int ncols, const char *const *header,
                                const char *caption)
{
    if (ncols < 1 || ncols > 64)
        return remember(r, kd_set_error(KD_ERR_INVALID, "report table: %d columns, expected "
                                                        "1..64", ncols));
    element *e = NULL;
    KD_CHECK(push(r, EL_TABLE, NULL, caption, &e));
    e->ncols = ncols;
    if (header) {
        e->header = calloc((size_t)ncols, sizeof *e->header);
        int ok = e->header != NULL;
        for (int c = 0; ok && c < ncols; c++)
            ok = (e->header[c] = dup_str(header[c])) != NULL;
        if (!ok) {
            free_element(e);
            r->n--;
            return remember(r, kd_set_error(KD_ERR_NOMEM, "report: out of memory"));
        }
    }
    return KD_OK;
}

static element *current_table(kd_report *r)
{
    return r->n && r->el[r->n - 1].type == EL_TABLE ? &r->el[r->n - 1] : NULL;
}

kd_status kd_report_table_row(kd_report *r, const char *const *cells)
{
    element *e = current_table(r);
    if (!e)
        return remember(r, kd_set_error(KD_ERR_INVALID, "report table row: no table begun (call "
                                                        "kd_report_table_begin first)"));
    if (e->nrows == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 16;
        char **grown = realloc(e->cells, cap * (size_t)e->ncols * sizeof *grown);
        if (!grown)
            return remember(r, kd_set_error(KD_ERR_NOMEM, "report: out of memory"));
        e->cells = grown;
        e->cap = cap;
    }
    char **row = e->cells + e->nrows * (size_t)e->ncols;
    for (int c = 0; c < e->ncols; c++) {
        row[c] = dup_str(cells ? cells[c] : "");
        if (!row[c]) {
            for (int k = 0; k < c; k++)
                free(row[k]);
            return remember(r, kd_set_error(KD_ERR_NOMEM, "report: out of memory"));
        }
    }
    e->nrows++;
    return KD_OK;
}

kd_status kd_report_table_rowf(kd_report *r, const char *fmt, ...)
{
    element *e = current_table(r);
    if (!e)
        return remember(r, kd_set_error(KD_ERR_INVALID, "report table row: no table begun (call "
                                                        "kd_report_table_begin first)"));
    kd_buf b;
    kd_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    kd_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (b.failed) {
        kd_buf_free(&b);
        return remember(r, kd_set_error(KD_ERR_NOMEM, "report: out of memory"));
    }
    const char *cells[64];
    int nc = 0;
    char *p = b.s ? b.s : (char *)"";
    kd_status st = KD_OK;
    for (;;) {
        if (nc == e->ncols) {
            st = remember(r, kd_set_error(KD_ERR_INVALID, "report table row '%s': more than %d "
                                                          "tab-separated cells", b.s, e->ncols));
            break;
        }
        cells[nc++] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    if (st == KD_OK) {
        for (int c = nc; c < e->ncols; c++)
            cells[c] = "";
        st = kd_report_table_row(r, cells);
    }
    kd_buf_free(&b);
    return st;
}

kd_status kd_report_table_numbers(kd_report *r, const char *caption, int nrows, int ncols,
                                  const char *const *header, const double *values,
                                  const char *const *formats)
{
    if (nrows < 0 || (nrows > 0 && !values))
        return remember(r, kd_set_error(KD_ERR_INVALID, "report table: %d rows without values",
                                        nrows));
    KD_CHECK(kd_report_table_begin(r, ncols, header, caption));
    const char *cells[64];
    char text[64][48];
    for (int i = 0; i < nrows; i++) {
        for (int c = 0; c < ncols; c++) {
            double v = values[(size_t)i * (size_t)ncols + (size_t)c];
            if (isnan(v))
                snprintf(text[c], sizeof text[c], "–");
            else if (isinf(v))
                snprintf(text[c], sizeof text[c], "%sinf", v < 0 ? "-" : "");
            else {
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#endif
                snprintf(text[c], sizeof text[c], formats && formats[c] ? formats[c] : "%.6g", v);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
            }
            cells[c] = text[c];
        }
        KD_CHECK(kd_report_table_row(r, cells));
    }
    return KD_OK;
}

const char *kd_format_uncertain(double value, double err, char *buf, size_t size)
{
    if (!isfinite(value) || !isfinite(err) || err <= 0) {
        snprintf(buf, size, "%.6g", value);
        return buf;
    }
    /* Two significant digits of the error fix the last decimal place shown. */
    int d = (int)floor(log10(err)) - 1;
    if (d >= 0) {
        double q = pow(10, d);
        snprintf(buf, size, "%.0f ± %.0f", round(value / q) * q, round(err / q) * q);
    } else {
        int dec = -d;
        if (dec > 15)
            dec = 15;
        snprintf(buf, size, "%.*f ± %.*f", dec, value, dec, err);
    }
    return buf;
}

/* ---- writing --------------------------------------------------------------- */

/* Cells that read as numbers ("-1.5", "2.27 ± 0.03", "inf", "–", "") are
 * right-aligned when a whole column is like that. */
static int looks_numeric(const char *s, int *has_digit)
{
    while (*s == ' ')
        s++;
    if (!*s || !strcmp(s, "–") || !strcmp(s, "-"))
        return 1;
    if (!strcmp(s, "inf") || !strcmp(s, "-inf") || !strcmp(s, "nan"))
        return 1;
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (*p == '.')
        p++;
    if (*p >= '0' && *p <= '9') {
        *has_digit = 1;
        return 1;
    }
    return 0;
}

static void numeric_columns(const element *e, int *numeric)
{
    for (int c = 0; c < e->ncols; c++) {
        int all = 1, digit = 0;
        for (size_t i = 0; i < e->nrows && all; i++)
            all = looks_numeric(e->cells[i * (size_t)e->ncols + (size_t)c], &digit);
        numeric[c] = all && digit;
    }
}

/* Markdown inline text: backtick spans kept verbatim, elsewhere escape the
 * characters that would start markup. Table cells also escape '|'. */
static void md_inline(kd_buf *b, const char *s, int in_table)
{
    int in_code = 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (c == '`') {
            in_code = !in_code;
            kd_buf_append(b, p, 1);
            continue;
        }
        if (c == '\n') {
            kd_buf_puts(b, in_table ? " " : "\n");
            continue;
        }
        if (!in_code && (c == '*' || c == '[' || c == ']' || c == '<' || c == '>' || c == '\\' ||
                         (c == '_' && (p == s || p[-1] == ' ' || p[1] == ' ' || !p[1]))))
            kd_buf_puts(b, "\\");
        if (in_table && c == '|') {
            kd_buf_puts(b, "\\|");
            continue;
        }
        kd_buf_append(b, p, 1);
    }
}

static void html_escape(kd_buf *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&':
            kd_buf_puts(b, "&amp;");
            break;
        case '<':
            kd_buf_puts(b, "&lt;");
            break;
        case '>':
            kd_buf_puts(b, "&gt;");
            break;
        case '"':
            kd_buf_puts(b, "&quot;");
            break;
        default:
            kd_buf_append(b, p, 1);
        }
    }
}

/* HTML inline text: escaped, `code` spans as <code>. */
static void html_inline(kd_buf *b, const char *s)
{
    const char *p = s;
    while (*p) {
        const char *open = strchr(p, '`');
        const char *close = open ? strchr(open + 1, '`') : NULL;
        if (!open || !close) {
            html_escape(b, p);
            return;
        }
        char *chunk = malloc((size_t)(close - p) + 1);
        if (!chunk) {
            b->failed = 1;
            return;
        }
        memcpy(chunk, p, (size_t)(open - p));
        chunk[open - p] = '\0';
        html_escape(b, chunk);
        memcpy(chunk, open + 1, (size_t)(close - open - 1));
        chunk[close - open - 1] = '\0';
        kd_buf_puts(b, "<code>");
        html_escape(b, chunk);
        kd_buf_puts(b, "</code>");
        free(chunk);
        p = close + 1;
    }
}

static void base64(kd_buf *b, const unsigned char *data, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];
        q[0] = tab[v >> 18];
        q[1] = tab[(v >> 12) & 63];
        q[2] = tab[(v >> 6) & 63];
        q[3] = tab[v & 63];
        kd_buf_append(b, q, 4);
    }
    if (i < n) {
        unsigned v = (unsigned)data[i] << 16 | (i + 1 < n ? (unsigned)data[i + 1] << 8 : 0u);
        q[0] = tab[v >> 18];
        q[1] = tab[(v >> 12) & 63];
        q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        q[3] = '=';
        kd_buf_append(b, q, 4);
    }
}

/* Read a whole file (at most 64 MB). NULL with errno set on failure. */
static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *data = NULL;
    size_t used = 0, cap = 0;
    for (;;) {
        if (used == cap) {
            if (cap >= (64u << 20)) {
                free(data);
                fclose(f);
                errno = EFBIG;
                return NULL;
            }
            cap = cap ? 2 * cap : 65536;
            unsigned char *g = realloc(data, cap);
            if (!g) {
                free(data);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            data = g;
        }
        size_t got = fread(data + used, 1, cap - used, f);
        used += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(data);
        errno = EIO;
        return NULL;
    }
    *n = used;
    return data;
}

/* The figure's PNG as read from disk (relative to dir unless absolute). */
static char *resolve(const char *dir, const char *path)
{
    return path[0] == '/' ? dup_str(path) : kd_path_join(dir, path, NULL);
}

/* "figures/x.png" -> "figures/x.<ext>" (NULL if it does not end in .png). */
static char *sibling(const char *png, const char *ext)
{
    size_t n = strlen(png);
    if (n < 5 || strcmp(png + n - 4, ".png") != 0)
        return NULL;
    size_t le = strlen(ext);
    char *s = malloc(n - 3 + le + 1);
    if (!s)
        return NULL;
    memcpy(s, png, n - 3);
    memcpy(s + n - 3, ext, le + 1);
    return s;
}

static int file_exists(const char *dir, const char *rel)
{
    char *p = resolve(dir, rel);
    struct stat sb;
    int ok = p && stat(p, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0;
    free(p);
    return ok;
}

typedef struct {
    char *dat, *gp; /* sibling names if the files exist, else NULL */
} fig_files;

static fig_files figure_files(const char *dir, const char *png)
{
    fig_files f = {sibling(png, "dat"), sibling(png, "gp")};
    if (f.dat && !file_exists(dir, f.dat)) {
        free(f.dat);
        f.dat = NULL;
    }
    if (f.gp && !file_exists(dir, f.gp)) {
        free(f.gp);
        f.gp = NULL;
    }
    return f;
}

static void md_code_block(kd_buf *b, const char *text)
{
    /* A fence longer than any run of backticks in the text. */
    int longest = 0, run = 0;
    for (const char *p = text; *p; p++) {
        run = *p == '`' ? run + 1 : 0;
        if (run > longest)
            longest = run;
    }
    int fence = longest >= 3 ? longest + 1 : 3;
    for (int i = 0; i < fence; i++)
        kd_buf_puts(b, "`");
    kd_buf_puts(b, "\n");
    kd_buf_puts(b, text);
    if (!*text || text[strlen(text) - 1] != '\n')
        kd_buf_puts(b, "\n");
    for (int i = 0; i < fence; i++)
        kd_buf_puts(b, "`");
    kd_buf_puts(b, "\n\n");
}

/* "Table n." and the caption of a table, in Markdown or HTML (which opens the
 * table); which of its columns are numeric into numeric[ncols]. */
static void table_caption(kd_buf *b, const element *e, int ntab, int html, int *numeric)
{
    numeric_columns(e, numeric);
    kd_buf_printf(b, html ? "<table>\n<caption><strong>Table %d.</strong>" : "*Table %d.*", ntab);
    if (e->caption) {
        kd_buf_puts(b, " ");
        if (html)
            html_inline(b, e->caption);
        else
            md_inline(b, e->caption, 0);
    }
}

/* prefix, then a link to a file beside the report named by its name. */
static void html_link(kd_buf *b, const char *prefix, const char *file)
{
    kd_buf_puts(b, prefix);
    kd_buf_puts(b, "<a href=\"");
    html_escape(b, file);
    kd_buf_puts(b, "\">");
    html_escape(b, file);
    kd_buf_puts(b, "</a>");
}

static void md_table(kd_buf *b, const element *e, int ntab)
{
    int numeric[64];
    table_caption(b, e, ntab, 0, numeric);
    kd_buf_puts(b, "\n\n|");
    for (int c = 0; c < e->ncols; c++) {
        kd_buf_puts(b, " ");
        md_inline(b, e->header ? e->header[c] : "", 1);
        kd_buf_puts(b, " |");
    }
    kd_buf_puts(b, "\n|");
    for (int c = 0; c < e->ncols; c++)
        kd_buf_puts(b, numeric[c] ? "---:|" : "---|");
    kd_buf_puts(b, "\n");
    for (size_t row = 0; row < e->nrows; row++) {
        kd_buf_puts(b, "|");
        for (int c = 0; c < e->ncols; c++) {
            kd_buf_puts(b, " ");
            md_inline(b, e->cells[row * (size_t)e->ncols + (size_t)c], 1);
            kd_buf_puts(b, " |");
        }
        kd_buf_puts(b, "\n");
    }
    kd_buf_puts(b, "\n");
}

static void write_markdown(const kd_report *r, const char *dir, kd_buf *b)
{
    kd_buf_puts(b, "# ");
    md_inline(b, r->title, 0);
    kd_buf_puts(b, "\n\n");
    int nfig = 0, ntab = 0;
    for (size_t i = 0; i < r->n; i++) {
        const element *e = &r->el[i];
        switch (e->type) {
        case EL_HEADING:
            for (int k = 0; k < e->level; k++)
                kd_buf_puts(b, "#");
            kd_buf_puts(b, " ");
            md_inline(b, e->text, 1);
            kd_buf_puts(b, "\n\n");
            break;
        case EL_PARAGRAPH:
            md_inline(b, e->text, 0);
            kd_buf_puts(b, "\n\n");
            break;
        case EL_ITEM:
            kd_buf_puts(b, "- ");
            md_inline(b, e->text, 1);
            kd_buf_puts(b, "\n");
            if (i + 1 == r->n || r->el[i + 1].type != EL_ITEM)
                kd_buf_puts(b, "\n");
            break;
        case EL_CODE:
            md_code_block(b, e->text);
            break;
        case EL_FIGURE: {
            nfig++;
            fig_files f = figure_files(dir, e->text);
            if (file_exists(dir, e->text))
                kd_buf_printf(b, "![Figure %d](%s)\n\n", nfig, e->text);
            kd_buf_printf(b, "*Figure %d.* ", nfig);
            md_inline(b, e->caption, 0);
            if (!file_exists(dir, e->text))
                kd_buf_puts(b, " (Not rendered: gnuplot was not available or failed.)");
            if (f.dat || f.gp) {
                kd_buf_puts(b, " (");
                if (f.dat)
                    kd_buf_printf(b, "data: [%s](%s)", f.dat, f.dat);
                if (f.gp)
                    kd_buf_printf(b, "%sscript: [%s](%s)", f.dat ? ", " : "", f.gp, f.gp);
                kd_buf_puts(b, ")");
            }
            kd_buf_puts(b, "\n\n");
            free(f.dat);
            free(f.gp);
            break;
        }
        case EL_TABLE:
            md_table(b, e, ++ntab);
            break;
        }
    }
    kd_buf_printf(b, "---\nWritten by kadanoff %s.\n", kd_version());
}

static const char *css =
    "body{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,"
    "sans-serif;max-width:62rem;margin:2rem auto;padding:0 1.2rem;line-height:1.5;color:#1d1d1f;"
    "background:#fff}\n"
    "h1{font-size:1.9rem;margin-bottom:.3rem}h2{margin-top:2.4rem;padding-bottom:.2rem;"
    "border-bottom:1px solid #ddd}h3{margin-top:1.8rem}\n"
    "code{font-family:ui-monospace,\"DejaVu Sans Mono\",Menlo,Consolas,monospace;font-size:.9em;"
    "background:#f3f4f6;padding:.05em .3em;border-radius:3px}\n"
    "pre{background:#f6f8fa;border:1px solid #e3e6ea;border-radius:5px;padding:.8rem 1rem;"
    "overflow-x:auto;line-height:1.35}pre code{background:none;padding:0}\n"
    "table{border-collapse:collapse;margin:.4rem 0 1.4rem;font-size:.93rem}"
    "caption{caption-side:top;text-align:left;padding:.3rem 0;color:#333}\n"
    "th,td{border:1px solid #cfd3d8;padding:.28rem .65rem;vertical-align:top}"
    "th{background:#f1f3f5;text-align:left}td.num,th.num{text-align:right;"
    "font-variant-numeric:tabular-nums}tbody tr:nth-child(even){background:#fafbfc}\n"
    "figure{margin:1.6rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}"
    "figcaption{font-size:.93rem;color:#333;margin-top:.3rem}.files{color:#666}"
    ".missing{padding:1rem;border:1px dashed #c99;color:#933;background:#fff8f8}\n"
    "nav.toc{background:#f8f9fa;border:1px solid #e3e6ea;border-radius:5px;padding:.5rem 1.2rem;"
    "margin:1rem 0}nav.toc ul{margin:.3rem 0;padding-left:1.2rem}\n"
    "footer{margin-top:3rem;color:#777;font-size:.85rem;border-top:1px solid #eee;padding-top:.5rem}\n";

static void html_table(kd_buf *b, const element *e, int ntab)
{
    int numeric[64];
    table_caption(b, e, ntab, 1, numeric);
    kd_buf_puts(b, "</caption>\n");
    if (e->header) {
        kd_buf_puts(b, "<thead><tr>");
        for (int c = 0; c < e->ncols; c++) {
            kd_buf_puts(b, numeric[c] ? "<th class=\"num\">" : "<th>");
            html_inline(b, e->header[c]);
            kd_buf_puts(b, "</th>");
        }
        kd_buf_puts(b, "</tr></thead>\n");
    }
    kd_buf_puts(b, "<tbody>\n");
    for (size_t row = 0; row < e->nrows; row++) {
        kd_buf_puts(b, "<tr>");
        for (int c = 0; c < e->ncols; c++) {
            kd_buf_puts(b, numeric[c] ? "<td class=\"num\">" : "<td>");
            html_inline(b, e->cells[row * (size_t)e->ncols + (size_t)c]);
            kd_buf_puts(b, "</td>");
        }
        kd_buf_puts(b, "</tr>\n");
    }
    kd_buf_puts(b, "</tbody>\n</table>\n");
}

static kd_status write_html(const kd_report *r, const char *dir, kd_buf *b)
{
    kd_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                   "<title>");
    html_escape(b, r->title);
    kd_buf_puts(b, "</title>\n<style>\n");
    kd_buf_puts(b, css);
    kd_buf_puts(b, "</style>\n</head>\n<body>\n<main>\n<h1>");
    html_inline(b, r->title);
    kd_buf_puts(b, "</h1>\n");

    /* Table of contents of the level-2 headings, when there are several. */
    int nsec = 0;
    for (size_t i = 0; i < r->n; i++)
        nsec += r->el[i].type == EL_HEADING && r->el[i].level == 2;
    if (nsec >= 3) {
        kd_buf_puts(b, "<nav class=\"toc\"><strong>Contents</strong>\n<ul>\n");
        int s = 0;
        for (size_t i = 0; i < r->n; i++)
            if (r->el[i].type == EL_HEADING && r->el[i].level == 2) {
                kd_buf_printf(b, "<li><a href=\"#s%d\">", ++s);
                html_inline(b, r->el[i].text);
                kd_buf_puts(b, "</a></li>\n");
            }
        kd_buf_puts(b, "</ul></nav>\n");
    }

    int nfig = 0, ntab = 0, sec = 0;
    for (size_t i = 0; i < r->n; i++) {
        const element *e = &r->el[i];
        switch (e->type) {
        case EL_HEADING:
            if (e->level == 2)
                kd_buf_printf(b, "<h2 id=\"s%d\">", ++sec);
            else
                kd_buf_printf(b, "<h%d>", e->level);
            html_inline(b, e->text);
            kd_buf_printf(b, "</h%d>\n", e->level);
            break;
        case EL_PARAGRAPH:
            kd_buf_puts(b, "<p>");
            html_inline(b, e->text);
            kd_buf_puts(b, "</p>\n");
            break;
        case EL_ITEM:
            if (i == 0 || r->el[i - 1].type != EL_ITEM)
                kd_buf_puts(b, "<ul>\n");
            kd_buf_puts(b, "<li>");
            html_inline(b, e->text);
            kd_buf_puts(b, "</li>\n");
            if (i + 1 == r->n || r->el[i + 1].type != EL_ITEM)
                kd_buf_puts(b, "</ul>\n");
            break;
        case EL_CODE:
            kd_buf_puts(b, "<pre><code>");
            html_escape(b, e->text);
            kd_buf_puts(b, "</code></pre>\n");
            break;
        case EL_FIGURE: {
            nfig++;
            fig_files f = figure_files(dir, e->text);
            char *path = resolve(dir, e->text);
            if (!path)
                return kd_set_error(KD_ERR_NOMEM, "report: out of memory");
            size_t n = 0;
            unsigned char *png = read_all(path, &n);
            int is_png = png && n >= 8 && !memcmp(png, "\x89PNG\r\n\x1a\n", 8);
            kd_buf_puts(b, "<figure>\n");
            if (is_png) {
                kd_buf_puts(b, "<img src=\"data:image/png;base64,");
                base64(b, png, n);
                kd_buf_printf(b, "\" alt=\"Figure %d\">\n", nfig);
            } else {
                kd_buf_puts(b, "<div class=\"missing\">Figure not rendered (");
                html_escape(b, e->text);
                kd_buf_puts(b, png ? " is not a PNG file" : " is missing: gnuplot was not available or failed");
                kd_buf_puts(b, ").</div>\n");
            }
            free(png);
            free(path);
            kd_buf_printf(b, "<figcaption><strong>Figure %d.</strong> ", nfig);
            html_inline(b, e->caption);
            if (f.dat || f.gp) {
                kd_buf_puts(b, " <span class=\"files\">(");
                if (f.dat)
                    html_link(b, "data: ", f.dat);
                if (f.gp)
                    html_link(b, f.dat ? ", script: " : "script: ", f.gp);
                kd_buf_puts(b, ")</span>");
            }
            kd_buf_puts(b, "</figcaption>\n</figure>\n");
            free(f.dat);
            free(f.gp);
            break;
        }
        case EL_TABLE:
            html_table(b, e, ++ntab);
            break;
        }
    }
    kd_buf_printf(b, "</main>\n<footer>Written by kadanoff %s. Self-contained: figures are "
                     "embedded; data files and gnuplot scripts are beside this file.</footer>\n"
                     "</body>\n</html>\n", kd_version());
    return KD_OK;
}

kd_status kd_report_write(const kd_report *r, const char *dir)
{
    if (r->failed != KD_OK)
        return kd_set_error(r->failed, "report not written: an earlier step failed: %s",
                            r->failed_msg);
    if (!dir || !*dir)
        KD_FAIL(KD_ERR_INVALID, "report: no directory given");
    KD_CHECK(kd_report_mkdir(dir));
    kd_buf md, html;
    kd_buf_init(&md);
    kd_buf_init(&html);
    write_markdown(r, dir, &md);
    kd_status st = write_html(r, dir, &html);
    char *md_path = kd_path_join(dir, "report", "md"), *html_path = kd_path_join(dir, "report", "html");
    if (st == KD_OK && (md.failed || html.failed || !md_path || !html_path))
        st = kd_set_error(KD_ERR_NOMEM, "report: out of memory");
    if (st == KD_OK)
        st = kd_write_file_atomic(md_path, md.s, md.len);
    if (st == KD_OK)
        st = kd_write_file_atomic(html_path, html.s, html.len);
    free(md_path);
    free(html_path);
    kd_buf_free(&md);
    kd_buf_free(&html);
    return st;
}
