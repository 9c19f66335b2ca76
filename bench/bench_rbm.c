/*
 * RBM CD-1 training throughput next to the machine's sgemm ceiling, printed
 * as Markdown.
 *
 * Workload: CD-1, batch 100, spin (±1) units on both layers, SGD with the
 * default momentum, no monitoring (monitor_every = 0), random ±1 training
 * rows; RBM shapes 100-64, 100-100, 1600-400, on 1 and 2 OpenMP threads.
 * Throughput is training rows per second through kd_rbm_trainer_epoch
 * (shuffling included), the median over REPEATS rounds of EPOCHS epochs after
 * one warm-up epoch, with enough rows that one epoch on 1 thread takes about
 * 0.4 s. Each round first times the sgemm ceiling (below) and a short test of
 * how many cores the process really gets, then trains: ceiling and training
 * are measured under the same load of the shared machine.
 *
 * Flops per sample. kadanoff's CD-1 makes four products per minibatch of B
 * rows (src/rbm/cd.c): positive fields v0·W (B×nh×nv), chain down pass h·Wᵀ
 * (B×nv×nh), chain up pass v1·W (B×nh×nv) and the weight gradient
 * [v0; v1]ᵀ[h0; h1] (nv×nh×2B, positive and negative phase stacked). At 2
 * flops per multiply-add that is 2+2+2+4 = 10·nv·nh flops per sample; we use
 * this count (the same number as issue 6's "10·n_v·n_h", which therefore needs
 * no elementwise term to reach 10). It is the matrix-product work only:
 * counting just the three propagation products (6·nv·nh) would leave out the
 * gradient product, 40 % of the work. The elementwise work (bias, logistic,
 * sampling, bias gradients: O(nv + nh) per sample; the SGD update of W:
 * O(nv·nh) per batch, i.e. O(nv·nh/B) per sample) is not counted as flops;
 * it is part of what separates the measurement from the limit.
 *
 * Ceiling. cblas_sgemm GFLOP/s, in this process, at the CD-1 shapes and
 * at M×N×K = 1000×1600×400 (row-major C = A·B, C is M×N): on 1 thread (one
 * cblas_sgemm call, OpenBLAS pinned to 1 thread as kadanoff does), on 2
 * threads through kd_sgemm (kadanoff's shape-determined slicing; small
 * products are a single slice, i.e. run on one thread), and on 2 threads cut
 * evenly into 2 slices (what any 2-way split could reach). The implied limit
 * in samples/s is B / (time of the four products of one batch), i.e. the
 * product ceiling ÷ (10·nv·nh).
 *
 * Reference kernel: the same CD-1 update (spin units, momentum SGD) with
 * naive triple loops in plain C, no BLAS, one uniform double per unit from
 * kd_rng, libm expf/tanhf; 100-64 only, 1 thread.
 *
 * Usage: bench_rbm
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kadanoff/kadanoff.h"
#include "rbm/cd_sliced.h" /* kd_cd_sliced_enable (internal) */
#include "rbm/kernels.h"   /* kd_sgemm (internal), cblas.h */
#ifdef KD_BLAS_BLIS
char *bli_info_get_version_str(void); /* blis.h */
#endif

#define BATCH 100
#define REPEATS 5
#define EPOCHS 2
#define EPOCH_TARGET_S 0.4 /* seconds per epoch on 1 thread */

typedef struct {
    int nv, nh;
} rbm_shape;

static const rbm_shape SHAPES[] = {{100, 64}, {100, 100}, {1600, 400}};
#define NSHAPES (int)(sizeof SHAPES / sizeof SHAPES[0])

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *x, int n)
{
    double s[16];
    memcpy(s, x, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

/* ---- sgemm ceiling ---------------------------------------------------------- */

typedef struct {
    const char *what;
    CBLAS_TRANSPOSE ta, tb;
    int M, N, K;
} product;

typedef enum { MODE_SINGLE = 0, MODE_KD = 1, MODE_SPLIT2 = 2 } gemm_mode;

typedef struct {
    float *A, *B, *C;
} gemm_bufs;

static void fill_uniform(float *x, size_t n, uint64_t stream)
{
    kd_rng r;
    kd_rng_init(&r, 11, stream);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(2.0 * kd_rng_uniform(&r) - 1.0);
}

static gemm_bufs bufs_new(const product *p)
{
    gemm_bufs b;
    size_t a = (size_t)p->M * (size_t)p->K, bb = (size_t)p->K * (size_t)p->N,
           c = (size_t)p->M * (size_t)p->N;
    b.A = malloc(a * sizeof(float));
    b.B = malloc(bb * sizeof(float));
    b.C = calloc(c, sizeof(float));
    if (!b.A || !b.B || !b.C) {
        fprintf(stderr, "bench_rbm: out of memory\n");
        exit(1);
    }
    fill_uniform(b.A, a, 1);
    fill_uniform(b.B, bb, 2);
    return b;
}

static void bufs_free(gemm_bufs *b)
{
    free(b->A);
    free(b->B);
    free(b->C);
}

static void run_product(const product *p, const gemm_bufs *b, gemm_mode mode)
{
    int lda = p->ta == CblasNoTrans ? p->K : p->M;
    int ldb = p->tb == CblasNoTrans ? p->N : p->K;
    int ldc = p->N;
    if (mode == MODE_SINGLE) {
        cblas_sgemm(CblasRowMajor, p->ta, p->tb, p->M, p->N, p->K, 1.0f, b->A, lda, b->B, ldb,
                    0.0f, b->C, ldc);
    } else if (mode == MODE_KD) {
        kd_sgemm(p->ta, p->tb, p->M, p->N, p->K, 1.0f, b->A, lda, b->B, ldb, 0.0f, b->C, ldc);
    } else { /* two even slices along the longer of M, N (as kd_sgemm cuts) */
        int along_n = p->N >= p->M, dim = along_n ? p->N : p->M;
#pragma omp parallel for num_threads(2) schedule(static, 1)
        for (int s = 0; s < 2; s++) {
            int s0 = dim * s / 2, s1 = dim * (s + 1) / 2;
            if (along_n) {
                const float *Bs = p->tb == CblasTrans ? b->B + (size_t)s0 * (size_t)ldb : b->B + s0;
                cblas_sgemm(CblasRowMajor, p->ta, p->tb, p->M, s1 - s0, p->K, 1.0f, b->A, lda, Bs,
                            ldb, 0.0f, b->C + s0, ldc);
            } else {
                const float *As = p->ta == CblasTrans ? b->A + s0 : b->A + (size_t)s0 * (size_t)lda;
                cblas_sgemm(CblasRowMajor, p->ta, p->tb, s1 - s0, p->N, p->K, 1.0f, As, lda, b->B,
                            ldb, 0.0f, b->C + (size_t)s0 * (size_t)ldc, ldc);
            }
        }
    }
}

/* Calls of p that take at least 30 ms (calibration). */
static long calibrate_calls(const product *p, const gemm_bufs *b, gemm_mode mode)
{
    long calls = 1;
    for (;;) {
        double t0 = omp_get_wtime();
        for (long c = 0; c < calls; c++)
            run_product(p, b, mode);
        double dt = omp_get_wtime() - t0;
        if (dt >= 0.03)
            return calls;
        calls *= dt < 0.003 ? 10 : 2;
    }
}

/* Seconds per call of p, over `calls` calls, with the thread count of the mode. */
static double time_calls(const product *p, const gemm_bufs *b, gemm_mode mode, long calls)
{
    kd_set_threads(mode == MODE_SINGLE ? 1 : 2);
    double t0 = omp_get_wtime();
    for (long c = 0; c < calls; c++)
        run_product(p, b, mode);
    double dt = (omp_get_wtime() - t0) / (double)calls;
    kd_set_threads(1);
    return dt;
}

static double gflops(const product *p, double seconds)
{
    return 2.0 * p->M * (double)p->N * p->K / seconds * 1e-9;
}

static void print_product_row(const char *label, const product *p, const double *ts)
{
    const char *ta = p->ta == CblasTrans ? "T" : "N", *tb = p->tb == CblasTrans ? "T" : "N";
    printf("| %s | %s | %d×%d×%d (%s%s) | %.1f | %.1f | %.1f |\n", label, p->what, p->M, p->N,
           p->K, ta, tb, gflops(p, ts[0]), gflops(p, ts[1]), gflops(p, ts[2]));
}

/* The products of one CD-1 minibatch: up (twice), down, gradient. */
static void cd1_products(rbm_shape s, product *pr)
{
    const int B = BATCH;
    pr[0] = (product){"up v·W (×2)", CblasNoTrans, CblasNoTrans, B, s.nh, s.nv};
    pr[1] = (product){"down h·Wᵀ", CblasNoTrans, CblasTrans, B, s.nv, s.nh};
    pr[2] = (product){"gradient [v0;v1]ᵀ[h0;h1]", CblasTrans, CblasNoTrans, s.nv, s.nh, 2 * B};
}

/* Seconds per minibatch of the four products with per-product times t[p][mode];
 * mode < 0: the fastest of the three modes per product. */
static double batch_time(double t[3][3], int mode)
{
    double tot = 0;
    for (int p = 0; p < 3; p++) {
        double x = mode >= 0 ? t[p][mode] : fmin(t[p][0], fmin(t[p][1], t[p][2]));
        tot += p == 0 ? 2 * x : x;
    }
    return tot;
}

/* Cores this process actually gets now: a dependent floating-point chain
 * timed on 1 thread and on 2 threads at once; 2·t1/t2 (2.0 on an idle
 * machine, ~1 when a neighbour takes a core). */
static double chain_work(long n, double seed)
{
    double x = seed;
    for (long i = 0; i < n; i++)
        x = x * 0.999999 + 1e-7;
    return x;
}

static double available_cores(long n) /* n = 1e7: ~40 ms per loop */
{
    volatile double sink = 0;
    double t0 = omp_get_wtime();
    sink += chain_work(n, 1.0);
    double t1 = omp_get_wtime() - t0;
    t0 = omp_get_wtime();
    double acc = 0;
#pragma omp parallel for num_threads(2) reduction(+ : acc)
    for (int k = 0; k < 2; k++)
        acc += chain_work(n, 1.0 + k);
    double t2 = omp_get_wtime() - t0;
    sink += acc;
    (void)sink;
    return 2.0 * t1 / t2;
}

/* ---- kadanoff training ---------------------------------------------------- */

static int8_t *random_spins(size_t n, uint64_t stream)
{
    int8_t *s = malloc(n);
    if (!s) {
        fprintf(stderr, "bench_rbm: out of memory\n");
        exit(1);
    }
    kd_rng r;
    kd_rng_init(&r, 5, stream);
    for (size_t i = 0; i < n; i += 32) {
        uint32_t w = kd_rng_u32(&r);
        for (size_t k = 0; k < 32 && i + k < n; k++)
            s[i + k] = (int8_t)((w >> k) & 1u ? 1 : -1);
    }
    return s;
}

static void check(kd_status st, const char *what)
{
    if (st != KD_OK) {
        fprintf(stderr, "bench_rbm: %s failed: %s\n", what, kd_last_error());
        exit(1);
    }
}

typedef struct {
    kd_rbm *rbm;
    kd_rbm_trainer *tr;
} trainer;

static trainer trainer_new(rbm_shape s, const int8_t *spins, size_t rows)
{
    trainer t;
    check(kd_rbm_new(&t.rbm, s.nv, s.nh, KD_UNITS_SPIN, KD_UNITS_SPIN, 0), "kd_rbm_new");
    check(kd_rbm_init_gaussian(t.rbm, 0.01, 1), "kd_rbm_init_gaussian");
    kd_rbm_train_options opt;
    kd_rbm_train_options_default(&opt);
    opt.method = KD_RBM_CD;
    opt.k = 1;
    opt.batch = BATCH;
    opt.monitor_every = 0;
    opt.seed = 1;
    kd_rbm_data data = {spins, NULL, NULL, rows};
    check(kd_rbm_trainer_new(&t.tr, t.rbm, &opt, &data, NULL), "kd_rbm_trainer_new");
    return t;
}

static void trainer_free(trainer *t)
{
    kd_rbm_trainer_free(t->tr);
    kd_rbm_free(t->rbm);
}

/* Seconds for `epochs` epochs on `threads` threads. */
static double train_epochs(trainer *t, int threads, int epochs)
{
    kd_set_threads(threads);
    double t0 = omp_get_wtime();
    for (int e = 0; e < epochs; e++)
        check(kd_rbm_trainer_epoch(t->tr, NULL), "kd_rbm_trainer_epoch");
    double dt = omp_get_wtime() - t0;
    kd_set_threads(1);
    return dt;
}

/* Rows for one epoch of about EPOCH_TARGET_S on 1 thread (multiple of BATCH). */
static size_t rows_for(rbm_shape s)
{
    size_t probe = (size_t)fmax(2000.0, fmin(50000.0, 2.0e9 / (10.0 * s.nv * s.nh)));
    probe = (probe + BATCH - 1) / BATCH * BATCH;
    int8_t *spins = random_spins(probe * (size_t)s.nv, 99);
    trainer t = trainer_new(s, spins, probe);
    train_epochs(&t, 1, 1); /* warm-up */
    double dt = train_epochs(&t, 1, 1);
    trainer_free(&t);
    free(spins);
    double rows = (double)probe * EPOCH_TARGET_S / dt;
    size_t n = (size_t)ceil(rows / BATCH) * BATCH;
    return n < 10 * BATCH ? 10 * BATCH : n;
}

/* One RBM shape on one thread count. REPEATS rounds, each: the available
 * cores, the CD-1 products timed in the modes that apply (1 thread: single;
 * 2 threads: all three), then EPOCHS training epochs — so that ceiling and
 * training see the same load of a shared machine. Medians over the rounds. */
typedef struct {
    double rate, rate_prev, limit_kd, limit_best, ceiling_gflops, cores;
    double tprod[3][3]; /* median seconds per call, [product][mode] */
} shape_result;

static shape_result run_shape(rbm_shape s, const int8_t *spins, size_t rows, int threads,
                              int repeats)
{
    product pr[3];
    gemm_bufs bufs[3];
    long calls[3][3] = {{0}};
    int last_mode = threads == 1 ? MODE_SINGLE : MODE_SPLIT2;
    cd1_products(s, pr);
    for (int p = 0; p < 3; p++) {
        bufs[p] = bufs_new(&pr[p]);
        for (int m = MODE_SINGLE; m <= last_mode; m++) {
            kd_set_threads(m == MODE_SINGLE ? 1 : 2);
            calls[p][m] = calibrate_calls(&pr[p], &bufs[p], (gemm_mode)m);
        }
        kd_set_threads(1);
    }
    trainer t = trainer_new(s, spins, rows);
    train_epochs(&t, threads, 1); /* warm-up */
    double tr[REPEATS][3][3], rate[REPEATS], prev[REPEATS], lkd[REPEATS], lbest[REPEATS],
        cores[REPEATS];
    const double fps = 10.0 * s.nv * s.nh;
    for (int r = 0; r < repeats; r++) {
        cores[r] = available_cores(10000000);
        for (int p = 0; p < 3; p++)
            for (int m = 0; m < 3; m++)
                tr[r][p][m] = m <= last_mode
                                  ? time_calls(&pr[p], &bufs[p], (gemm_mode)m, calls[p][m])
                                  : INFINITY;
        rate[r] = (double)rows * EPOCHS / train_epochs(&t, threads, EPOCHS);
        kd_cd_sliced_enable(0); /* the previous kernel: cd.c's per-phase loops */
        prev[r] = (double)rows * EPOCHS / train_epochs(&t, threads, EPOCHS);
        kd_cd_sliced_enable(1);
        lkd[r] = BATCH / batch_time(tr[r], threads == 1 ? MODE_SINGLE : MODE_KD);
        lbest[r] = BATCH / batch_time(tr[r], -1);
    }
    trainer_free(&t);
    for (int p = 0; p < 3; p++)
        bufs_free(&bufs[p]);
    shape_result out;
    out.rate = median(rate, repeats);
    out.rate_prev = median(prev, repeats);
    out.limit_kd = median(lkd, repeats);
    out.limit_best = median(lbest, repeats);
    out.cores = median(cores, repeats);
    out.ceiling_gflops = out.limit_kd * fps * 1e-9;
    for (int p = 0; p < 3; p++)
        for (int m = 0; m < 3; m++) {
            double x[REPEATS];
            for (int r = 0; r < repeats; r++)
                x[r] = tr[r][p][m];
            out.tprod[p][m] = median(x, repeats);
        }
    return out;
}

/* ---- plain C reference: naive CD-1, spin units, momentum SGD -------------------- */

static float sigmoidf_ref(float x) { return 1.0f / (1.0f + expf(-x)); }

/* One epoch in row order; returns nothing, updates W, a, b and velocities. */
static void reference_epoch(int nv, int nh, const int8_t *spins, size_t rows, float *W, float *a,
                            float *b, float *uW, float *ua, float *ub, float lr, float mom,
                            kd_rng *rng, float *v0, float *h0, float *hs, float *v1, float *h1)
{
    const int B = BATCH;
    for (size_t q = 0; q + (size_t)B <= rows; q += (size_t)B) {
        for (int r = 0; r < B; r++)
            for (int i = 0; i < nv; i++)
                v0[r * nv + i] = (float)spins[(q + (size_t)r) * (size_t)nv + (size_t)i];
        /* positive phase: h0 = tanh(b + v0 W), hs ~ p(h | v0) */
        for (int r = 0; r < B; r++)
            for (int j = 0; j < nh; j++) {
                float x = b[j];
                for (int i = 0; i < nv; i++)
                    x += v0[r * nv + i] * W[i * nh + j];
                h0[r * nh + j] = tanhf(x);
                hs[r * nh + j] = (float)kd_rng_uniform(rng) < sigmoidf_ref(2.0f * x) ? 1.0f : -1.0f;
            }
        /* down: v1 ~ p(v | hs) */
        for (int r = 0; r < B; r++)
            for (int i = 0; i < nv; i++) {
                float y = a[i];
                for (int j = 0; j < nh; j++)
                    y += W[i * nh + j] * hs[r * nh + j];
                v1[r * nv + i] = (float)kd_rng_uniform(rng) < sigmoidf_ref(2.0f * y) ? 1.0f : -1.0f;
            }
        /* up: h1 = tanh(b + v1 W) */
        for (int r = 0; r < B; r++)
            for (int j = 0; j < nh; j++) {
                float x = b[j];
                for (int i = 0; i < nv; i++)
                    x += v1[r * nv + i] * W[i * nh + j];
                h1[r * nh + j] = tanhf(x);
            }
        /* gradient and momentum update */
        const float inv = 1.0f / (float)B;
        for (int i = 0; i < nv; i++)
            for (int j = 0; j < nh; j++) {
                float g = 0.0f;
                for (int r = 0; r < B; r++)
                    g += v0[r * nv + i] * h0[r * nh + j] - v1[r * nv + i] * h1[r * nh + j];
                uW[i * nh + j] = mom * uW[i * nh + j] + lr * g * inv;
                W[i * nh + j] += uW[i * nh + j];
            }
        for (int i = 0; i < nv; i++) {
            float g = 0.0f;
            for (int r = 0; r < B; r++)
                g += v0[r * nv + i] - v1[r * nv + i];
            ua[i] = mom * ua[i] + lr * g * inv;
            a[i] += ua[i];
        }
        for (int j = 0; j < nh; j++) {
            float g = 0.0f;
            for (int r = 0; r < B; r++)
                g += h0[r * nh + j] - h1[r * nh + j];
            ub[j] = mom * ub[j] + lr * g * inv;
            b[j] += ub[j];
        }
    }
}

/* Median samples/s of the reference over REPEATS epochs of ≥ 0.2 s. */
static double reference_rate(rbm_shape s)
{
    const int nv = s.nv, nh = s.nh;
    size_t nw = (size_t)nv * (size_t)nh;
    float *W = calloc(nw, sizeof(float)), *uW = calloc(nw, sizeof(float));
    float *a = calloc((size_t)nv, sizeof(float)), *ua = calloc((size_t)nv, sizeof(float));
    float *b = calloc((size_t)nh, sizeof(float)), *ub = calloc((size_t)nh, sizeof(float));
    float *v0 = malloc((size_t)BATCH * (size_t)nv * sizeof(float));
    float *v1 = malloc((size_t)BATCH * (size_t)nv * sizeof(float));
    float *h0 = malloc((size_t)BATCH * (size_t)nh * sizeof(float));
    float *h1 = malloc((size_t)BATCH * (size_t)nh * sizeof(float));
    float *hs = malloc((size_t)BATCH * (size_t)nh * sizeof(float));
    if (!W || !uW || !a || !ua || !b || !ub || !v0 || !v1 || !h0 || !h1 || !hs) {
        fprintf(stderr, "bench_rbm: out of memory\n");
        exit(1);
    }
    kd_rng rng;
    kd_rng_init(&rng, 3, 0);
    for (size_t k = 0; k < nw; k++) /* N(0, 0.01²) by Box–Muller */
        W[k] = (float)(0.01 * sqrt(-2.0 * log(kd_rng_uniform_pos(&rng))) *
                       cos(6.283185307179586 * kd_rng_uniform(&rng)));
    size_t rows = 20 * BATCH;
    int8_t *spins = random_spins(rows * (size_t)nv, 98);
    double t0 = omp_get_wtime();
    reference_epoch(nv, nh, spins, rows, W, a, b, uW, ua, ub, 0.01f, 0.5f, &rng, v0, h0, hs, v1,
                    h1);
    double dt = omp_get_wtime() - t0;
    free(spins);
    rows = (size_t)ceil((double)rows * 0.25 / dt / BATCH) * BATCH;
    spins = random_spins(rows * (size_t)nv, 97);
    double rates[REPEATS];
    for (int r = 0; r < REPEATS; r++) {
        t0 = omp_get_wtime();
        reference_epoch(nv, nh, spins, rows, W, a, b, uW, ua, ub, 0.01f, 0.5f, &rng, v0, h0, hs,
                        v1, h1);
        rates[r] = (double)rows / (omp_get_wtime() - t0);
    }
    float chk = 0.0f; /* keep the result observable */
    for (size_t k = 0; k < nw; k++)
        chk += W[k];
    if (!isfinite(chk))
        fprintf(stderr, "bench_rbm: reference weights not finite\n");
    free(spins);
    free(W), free(uW), free(a), free(ua), free(b), free(ub);
    free(v0), free(v1), free(h0), free(h1), free(hs);
    return median(rates, REPEATS);
}

/* ---- main ----------------------------------------------------------------- */

static const char *fmt_rate(double x, char *buf, size_t n)
{
    if (x >= 1e6)
        snprintf(buf, n, "%.2fM", x * 1e-6);
    else if (x >= 1e3)
        snprintf(buf, n, "%.1fk", x * 1e-3);
    else
        snprintf(buf, n, "%.0f", x);
    return buf;
}

static double loadavg(void)
{
    double load = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &load) != 1)
            load = -1;
        fclose(f);
    }
    return load;
}

/* bench_rbm --rows NV NH: rows for one ~EPOCH_TARGET_S epoch on 1 thread.
 * bench_rbm --rate NV NH THREADS ROWS: one round of run_shape, one line of
 * key=value pairs (bench/peers_rbm.py interleaves these calls with the
 * peers so that all see the same load). */
static int one_shape_mode(int argc, char **argv)
{
    int rate = strcmp(argv[1], "--rate") == 0;
    if ((rate && argc != 6) || (!rate && argc != 4)) {
        fprintf(stderr, "usage: bench_rbm [--rows NV NH | --rate NV NH THREADS ROWS]\n");
        return 2;
    }
    rbm_shape s = {atoi(argv[2]), atoi(argv[3])};
    if (s.nv < 1 || s.nh < 1 || s.nv > 100000 || s.nh > 100000) {
        fprintf(stderr, "bench_rbm: bad RBM shape %s-%s\n", argv[2], argv[3]);
        return 2;
    }
    if (!rate) {
        printf("%zu\n", rows_for(s));
        return 0;
    }
    int threads = atoi(argv[4]);
    size_t rows = (size_t)strtoull(argv[5], NULL, 10);
    if (threads < 1 || threads > 2 || rows < BATCH) {
        fprintf(stderr, "bench_rbm: threads must be 1 or 2 and rows >= %d\n", BATCH);
        return 2;
    }
    int8_t *spins = random_spins(rows * (size_t)s.nv, 7);
    shape_result r = run_shape(s, spins, rows, threads, 1);
    free(spins);
    printf("rate=%.6g prev_rate=%.6g limit_kd=%.6g limit_best=%.6g cores=%.3f\n", r.rate,
           r.rate_prev, r.limit_kd, r.limit_best, r.cores);
    return 0;
}

int main(int argc, char **argv)
{
#ifdef OPENBLAS_VERSION
    openblas_set_num_threads(1);
#endif
    kd_set_threads(1);
    if (argc > 1)
        return one_shape_mode(argc, argv);
    double load0 = loadavg(), cores0 = available_cores(60000000);

    product big = {"large reference", CblasNoTrans, CblasNoTrans, 1000, 1600, 400};
    double tbig[3];
    {
        gemm_bufs b = bufs_new(&big);
        for (int m = 0; m < 3; m++) {
            kd_set_threads(m == MODE_SINGLE ? 1 : 2);
            long calls = calibrate_calls(&big, &b, (gemm_mode)m);
            double x[REPEATS];
            for (int r = 0; r < REPEATS; r++)
                x[r] = time_calls(&big, &b, (gemm_mode)m, calls);
            tbig[m] = median(x, REPEATS);
        }
        kd_set_threads(1);
        bufs_free(&b);
    }
    double ref = reference_rate(SHAPES[0]);
    shape_result res[NSHAPES][2];
    size_t rows[NSHAPES];
    for (int k = 0; k < NSHAPES; k++) {
        rows[k] = rows_for(SHAPES[k]);
        int8_t *spins = random_spins(rows[k] * (size_t)SHAPES[k].nv, (uint64_t)k);
        for (int th = 1; th <= 2; th++)
            res[k][th - 1] = run_shape(SHAPES[k], spins, rows[k], th, REPEATS);
        free(spins);
    }
    double load1 = loadavg(), cores1 = available_cores(60000000);

    printf("RBM CD-1 training, batch %d, spin units, momentum SGD, no monitoring; random ±1 rows.\n",
           BATCH);
    printf("Medians over %d rounds (each: the sgemm ceiling, then %d training epochs; one warm-up "
           "epoch first). %d hardware threads; 1-min load average %.2f at start, %.2f at end; "
           "cores actually available to this process (2-thread vs 1-thread test loop) %.2f at "
           "start, %.2f at end",
           REPEATS, EPOCHS, omp_get_num_procs(), load0, load1, cores0, cores1);
#ifdef OPENBLAS_VERSION
    printf("; BLAS: OpenBLAS, %s", openblas_get_config());
#elif defined(KD_BLAS_BLIS)
    printf("; BLAS: BLIS %s", bli_info_get_version_str());
#endif
    printf(".\n\n");

    printf("sgemm ceiling (GFLOP/s; M×N×K, row-major C = op(A)·op(B), C is M×N). \"kd_sgemm\": "
           "kadanoff's shape-determined slicing on 2 OpenMP threads (products under ~1M "
           "multiply-adds stay one slice, i.e. one thread); \"2-way split\": every product cut "
           "into two even slices on 2 threads. OpenBLAS itself is pinned to 1 thread "
           "throughout.\n\n");
    printf("| RBM | product | M×N×K | 1 thread | 2 thr. kd_sgemm | 2 thr. 2-way split |\n");
    printf("|---|---|---|---|---|---|\n");
    print_product_row("—", &big, tbig);
    for (int k = 0; k < NSHAPES; k++) {
        char label[32];
        product pr[3];
        snprintf(label, sizeof label, "%d-%d", SHAPES[k].nv, SHAPES[k].nh);
        cd1_products(SHAPES[k], pr);
        for (int p = 0; p < 3; p++) {
            double ts[3] = {res[k][0].tprod[p][0], res[k][1].tprod[p][1], res[k][1].tprod[p][2]};
            print_product_row(label, &pr[p], ts);
        }
    }

    char refbuf[32];
    fmt_rate(ref, refbuf, sizeof refbuf);
    printf("\nCD-1 training throughput. Flops per sample: 10·nv·nh, the four products of a "
           "minibatch (v0·W, h·Wᵀ, v1·W at 2·nv·nh each, the stacked gradient [v0;v1]ᵀ[h0;h1] at "
           "4·nv·nh); the elementwise work (O(nv + nh) per sample, plus the update of W, O(nv·nh/B)) is not counted. Limit = "
           "samples/s if the four products ran at the ceiling measured in the same rounds "
           "(\"kd_sgemm\": kadanoff's slicing; \"best\": fastest of 1 thread, kd_sgemm and 2-way "
           "split per product); fraction = median rate / median limit. \"cores free\": median over the rounds of the 2-thread test loop (2.0 = idle machine; below ~1.9 the 2-thread rows are limited by neighbours). Reference kernel: the "
           "same CD-1 update as naive triple loops in plain C (no BLAS), 1 thread, 100-64 "
           "only. \"previous kernel\": the same training with the batch-sliced chains "
           "(src/rbm/cd_sliced.c) switched off, i.e. cd.c's per-phase loops, timed right after "
           "kadanoff in every round; \"gain\" = median rate / median previous rate.\n\n");
    printf("| RBM | threads | rows/epoch | kadanoff samples/s | product ceiling GFLOP/s | "
           "limit samples/s (kd_sgemm) | fraction | limit samples/s (best) | fraction | "
           "ref. kernel samples/s | ratio to ref. | previous kernel samples/s | gain | "
           "cores free |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < NSHAPES; k++)
        for (int th = 1; th <= 2; th++) {
            const shape_result *r = &res[k][th - 1];
            char b1[32], b2[32], b3[32], b4[32], ratio[32] = "—";
            if (k == 0)
                snprintf(ratio, sizeof ratio, "%.1f×", r->rate / ref);
            printf("| %d-%d | %d | %zu | %s | %.1f | %s | %.0f %% | %s | %.0f %% | %s | %s | "
                   "%s | %.2f× | %.2f |\n",
                   SHAPES[k].nv, SHAPES[k].nh, th, rows[k], fmt_rate(r->rate, b1, sizeof b1),
                   r->ceiling_gflops, fmt_rate(r->limit_kd, b2, sizeof b2),
                   100 * r->rate / r->limit_kd, fmt_rate(r->limit_best, b3, sizeof b3),
                   100 * r->rate / r->limit_best, k == 0 ? refbuf : "—", ratio,
                   fmt_rate(r->rate_prev, b4, sizeof b4), r->rate / r->rate_prev, r->cores);
        }

    return 0;
}
