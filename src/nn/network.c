/* The dense classifier: layout, initialisation, batched forward and backward
 * passes through cblas_sgemm, the objective and its gradient. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kadanoff/rng.h"
#include "core/gemm.h"
#include "nn/nn_internal.h"

void kd_thermometer_params_init(kd_thermometer_params *p)
{
    memset(p, 0, sizeof *p);
    p->nhidden = 1;
    p->hidden[0] = 64;
    p->activation = KD_ACTIVATION_TANH;
    p->optimizer = KD_OPTIMIZER_MOMENTUM;
    p->epochs = 100;
    p->batch = 100;
    p->lr = 0.0;
    p->momentum = 0.9;
    p->adam_beta1 = 0.9;
    p->adam_beta2 = 0.999;
    p->adam_eps = 1e-8;
    p->l2 = 1e-4;
    p->val_fraction = 0.2;
    p->test_fraction = 0.2;
    p->patience = 10;
    p->augment_flip = 0;
    p->augment_shift = 0;
    p->seed = 1;
}

static void copy_string(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int in_unit(double x) { return x >= 0.0 && x < 1.0; } /* false for NaN */

kd_status kd_nn_check_params(const kd_thermometer_params *p)
{
    if (!p)
        KD_FAIL(KD_ERR_INVALID, "thermometer: no parameters given");
    if (p->nhidden < 0 || p->nhidden > KD_NN_MAX_HIDDEN)
        KD_FAIL(KD_ERR_INVALID, "thermometer: %d hidden layers, expected 0..%d", p->nhidden,
                KD_NN_MAX_HIDDEN);
    for (int l = 0; l < p->nhidden; l++)
        if (p->hidden[l] < 1 || p->hidden[l] > KD_NN_MAX_WIDTH)
            KD_FAIL(KD_ERR_INVALID, "thermometer: hidden layer %d has %d units, expected 1..%d",
                    l + 1, p->hidden[l], KD_NN_MAX_WIDTH);
    if (!kd_nn_activation_get(p->activation))
        KD_FAIL(KD_ERR_INVALID, "thermometer: unknown activation %d", (int)p->activation);
    if (p->optimizer != KD_OPTIMIZER_MOMENTUM && p->optimizer != KD_OPTIMIZER_ADAM)
        KD_FAIL(KD_ERR_INVALID, "thermometer: unknown optimizer %d", (int)p->optimizer);
    if (p->epochs < 1 || p->epochs > 10000000)
        KD_FAIL(KD_ERR_INVALID, "thermometer: epochs = %d, expected 1..10000000", p->epochs);
    if (p->batch < 1 || p->batch > (1 << 20))
        KD_FAIL(KD_ERR_INVALID, "thermometer: batch = %d, expected 1..%d", p->batch, 1 << 20);
    if (!(p->lr >= 0.0) || !isfinite(p->lr))
        KD_FAIL(KD_ERR_INVALID, "thermometer: learning rate %g, expected a finite number > 0 "
                                "(or 0 for the optimizer's default)", p->lr);
    if (!in_unit(p->momentum))
        KD_FAIL(KD_ERR_INVALID, "thermometer: momentum %g, expected 0 <= momentum < 1",
                p->momentum);
    if (!in_unit(p->adam_beta1) || !in_unit(p->adam_beta2) || !(p->adam_eps > 0) ||
        !isfinite(p->adam_eps))
        KD_FAIL(KD_ERR_INVALID, "thermometer: Adam beta1 = %g, beta2 = %g, eps = %g; expected "
                                "betas in [0, 1) and eps > 0", p->adam_beta1, p->adam_beta2,
                p->adam_eps);
    if (!(p->l2 >= 0.0) || !isfinite(p->l2))
        KD_FAIL(KD_ERR_INVALID, "thermometer: L2 strength %g, expected a finite number >= 0", p->l2);
    if (!in_unit(p->val_fraction) || !in_unit(p->test_fraction) ||
        !(p->val_fraction + p->test_fraction < 1.0))
        KD_FAIL(KD_ERR_INVALID, "thermometer: validation fraction %g and test fraction %g, "
                                "expected each in [0, 1) with a sum below 1",
                p->val_fraction, p->test_fraction);
    if (p->augment_shift != 0 && p->augment_shift != 1)
        KD_FAIL(KD_ERR_INVALID, "thermometer: augment_shift = %d, expected 0 or 1", p->augment_shift);
    if (p->augment_flip != 0 && p->augment_flip != 1)
        KD_FAIL(KD_ERR_INVALID, "thermometer: augment_flip = %d, expected 0 or 1", p->augment_flip);
    if (p->patience < 1)
        KD_FAIL(KD_ERR_INVALID, "thermometer: patience %d, expected >= 1", p->patience);
    return KD_OK;
}

kd_status kd_nn_alloc(kd_thermometer **out, const kd_lattice *lat, const double *class_T,
                      int nclasses, const kd_thermometer_params *p)
{
    *out = NULL;
    if (!lat || !class_T)
        KD_FAIL(KD_ERR_INVALID, "thermometer: no lattice or no class temperatures given");
    KD_CHECK(kd_lattice_validate(lat));
    KD_CHECK(kd_nn_check_params(p));
    if (nclasses < 2 || nclasses > KD_NN_MAX_CLASSES)
        KD_FAIL(KD_ERR_INVALID, "thermometer: %d temperature classes, expected 2..%d", nclasses,
                KD_NN_MAX_CLASSES);
    for (int k = 0; k < nclasses; k++) {
        if (isnan(class_T[k]) || class_T[k] < 0)
            KD_FAIL(KD_ERR_INVALID, "thermometer: class temperature %g (class %d), expected "
                                    "T >= 0 or +inf", class_T[k], k);
        if (k > 0 && !(class_T[k] > class_T[k - 1]))
            KD_FAIL(KD_ERR_INVALID, "thermometer: class temperatures must increase strictly, "
                                    "got %g after %g (class %d)", class_T[k], class_T[k - 1], k);
    }
    if (p->augment_shift && lat->boundary != KD_BOUNDARY_PERIODIC)
        KD_FAIL(KD_ERR_INVALID, "thermometer: translation augmentation needs periodic boundaries "
                                "(the lattice has %s boundaries)", kd_boundary_name(lat->boundary));
    size_t N = kd_lattice_size(lat);
    if (N > (size_t)INT_MAX)
        KD_FAIL(KD_ERR_INVALID, "thermometer: %zu inputs, at most %d supported", N, INT_MAX);

    kd_thermometer *th = calloc(1, sizeof *th);
    if (!th)
        KD_FAIL(KD_ERR_NOMEM, "out of memory for a thermometer");
    th->lattice = *lat;
    th->nin = (int)N;
    th->nclasses = nclasses;
    th->params = *p;
    th->nlayers = p->nhidden + 1;
    th->size[0] = th->nin;
    for (int l = 1; l <= p->nhidden; l++)
        th->size[l] = p->hidden[l - 1];
    th->size[th->nlayers] = nclasses;

    /* Parameter count, refusing anything BLAS (int dimensions) or memory cannot take. */
    size_t total = 0;
    int too_big = 0;
    for (int l = 1; l <= th->nlayers; l++) {
        size_t fan_in = (size_t)th->size[l - 1], fan_out = (size_t)th->size[l];
        if (fan_in > ((size_t)1 << 31) / fan_out)
            too_big = 1;
        th->w_off[l] = total;
        total += fan_in * fan_out;
        th->b_off[l] = total;
        total += fan_out;
        if (total > ((size_t)1 << 31))
            too_big = 1;
    }
    if (too_big) {
        free(th);
        KD_FAIL(KD_ERR_NOMEM, "thermometer: the network (%zu inputs, %d hidden layers, %d "
                              "classes) has more than 2^31 parameters", N, p->nhidden, nclasses);
    }
    th->nparam = total;
    th->param = calloc(total, sizeof(float));
    th->temps = malloc((size_t)nclasses * sizeof(double));
    if (!th->param || !th->temps) {
        kd_thermometer_free(th);
        KD_FAIL(KD_ERR_NOMEM, "out of memory for a thermometer of %zu parameters", total);
    }
    memcpy(th->temps, class_T, (size_t)nclasses * sizeof(double));
    th->params.progress = NULL;
    th->params.progress_user = NULL;
    th->params.split = NULL;
    if (th->params.lr == 0.0)
        th->params.lr = p->optimizer == KD_OPTIMIZER_ADAM ? 0.001 : 0.05;
    copy_string(th->kadanoff_version, sizeof th->kadanoff_version, kd_version());
    *out = th;
    return KD_OK;
}

void kd_nn_init_weights(kd_thermometer *th)
{
    const kd_nn_activation *act = kd_nn_activation_get(th->params.activation);
    for (int l = 1; l <= th->nlayers; l++) {
        const int fan_in = th->size[l - 1], fan_out = th->size[l];
        const int hidden = l < th->nlayers;
        double var = hidden && act->he_init ? 2.0 / fan_in : 2.0 / (fan_in + fan_out);
        double sigma = sqrt(var);
        kd_rng r;
        kd_rng_init(&r, th->params.seed, kd_nn_stream(KD_NN_TAG_INIT, (uint64_t)l));
        float *W = th->param + th->w_off[l];
        for (size_t i = 0; i < (size_t)fan_in * (size_t)fan_out; i++)
            W[i] = (float)(sigma * kd_rng_normal(&r));
        memset(th->param + th->b_off[l], 0, (size_t)fan_out * sizeof(float));
    }
}

kd_status kd_thermometer_new(kd_thermometer **out, const kd_lattice *lat, const double *class_T,
                             int nclasses, const kd_thermometer_params *p)
{
    if (!out)
        KD_FAIL(KD_ERR_INVALID, "kd_thermometer_new: no output pointer");
    KD_CHECK(kd_nn_alloc(out, lat, class_T, nclasses, p));
    (*out)->params.progress = p->progress;
    (*out)->params.progress_user = p->progress_user;
    (*out)->params.split = p->split;
    kd_nn_init_weights(*out);
    return KD_OK;
}

void kd_nn_run_free(kd_nn_run *run)
{
    if (!run)
        return;
    free(run->current);
    free(run->m);
    free(run->v);
    free(run);
}

void kd_thermometer_free(kd_thermometer *th)
{
    if (!th)
        return;
    kd_nn_run_free(th->run);
    free(th->param);
    free(th->temps);
    free(th->history);
    free(th->calibration);
    free(th->confusion);
    free(th);
}

int kd_thermometer_class_index(const kd_thermometer *th, double T)
{
    if (!th || isnan(T))
        return -1;
    for (int k = 0; k < th->nclasses; k++) {
        double c = th->temps[k];
        if (c == T)
            return k;
        if (isfinite(c) && isfinite(T) && fabs(c - T) <= 1e-9 * fmax(fabs(c), fabs(T)))
            return k;
    }
    return -1;
}

kd_status kd_nn_check_lattice(const kd_thermometer *th, const kd_lattice *lat)
{
    if (!lat)
        KD_FAIL(KD_ERR_INVALID, "thermometer: no lattice given for the configurations");
    if (lat->kind != th->lattice.kind || lat->L != th->lattice.L)
        KD_FAIL(KD_ERR_INVALID,
                "thermometer was trained on a %s lattice of L = %d (%d inputs), the "
                "configurations are of a %s lattice of L = %d (%zu spins)",
                kd_lattice_kind_name(th->lattice.kind), th->lattice.L, th->nin,
                kd_lattice_kind_name(lat->kind), lat->L, kd_lattice_size(lat));
    return KD_OK;
}

int kd_nn_params_finite(const float *p, size_t n)
{
    /* Accumulate p·0: 0 for finite entries, NaN as soon as one is NaN or ±inf.
     * One pass, no branch per element. */
    float acc = 0.0f;
    for (size_t i = 0; i < n; i++)
        acc += p[i] * 0.0f;
    return acc == 0.0f;
}

int kd_nn_params_bounded(const float *p, size_t n, float limit)
{
    /* as above, plus NaN for every |p| > limit */
    float acc = 0.0f;
    for (size_t i = 0; i < n; i++)
        acc += p[i] * 0.0f + (fabsf(p[i]) > limit ? NAN : 0.0f);
    return acc == 0.0f;
}

/* ---- workspace ----------------------------------------------------------- */

kd_status kd_nn_work_init(kd_nn_work *w, const kd_thermometer *th, int rows, int with_grad)
{
    memset(w, 0, sizeof *w);
    w->rows = rows;
    int maxw = 0;
    for (int l = 0; l <= th->nlayers; l++) {
        w->act[l] = malloc((size_t)rows * (size_t)th->size[l] * sizeof(float));
        if (!w->act[l])
            goto nomem;
        if (th->size[l] > maxw)
            maxw = th->size[l];
    }
    if (!(w->row = malloc((size_t)th->nin * sizeof(float))))
        goto nomem;
    if (with_grad) {
        for (int i = 0; i < 2; i++)
            if (!(w->delta[i] = malloc((size_t)rows * (size_t)maxw * sizeof(float))))
                goto nomem;
        if (!(w->grad = malloc(th->nparam * sizeof(float))))
            goto nomem;
    }
    return KD_OK;
nomem:
    kd_nn_work_free(w);
    KD_FAIL(KD_ERR_NOMEM, "thermometer: out of memory for a batch of %d rows", rows);
}

void kd_nn_work_free(kd_nn_work *w)
{
    for (int l = 0; l <= KD_NN_MAX_LAYERS; l++)
        free(w->act[l]);
    free(w->delta[0]);
    free(w->delta[1]);
    free(w->grad);
    free(w->row);
    memset(w, 0, sizeof *w);
}

/* ---- forward and backward ------------------------------------------------------ */

/* Row `row` of the data as floats into out; KD_ERR_INVALID on a bad entry. */
static kd_status read_row(const kd_thermometer_data *d, size_t row, size_t N, float *out)
{
    if (d->values) {
        const float *v = d->values + row * N;
        float acc = 0.0f;
        for (size_t i = 0; i < N; i++) {
            out[i] = v[i];
            acc += v[i] * 0.0f; /* NaN as soon as one value is NaN or ±inf */
        }
        if (acc != 0.0f)
            for (size_t i = 0; i < N; i++)
                if (!isfinite(v[i]))
                    KD_FAIL(KD_ERR_INVALID, "thermometer: value %g at site %zu of configuration "
                                            "%zu, expected a finite number", (double)v[i], i, row);
        return KD_OK;
    }
    const int8_t *s = d->spins + row * N;
    int bad = 0;
    for (size_t i = 0; i < N; i++) {
        bad |= (s[i] != 1) & (s[i] != -1);
        out[i] = (float)s[i];
    }
    if (bad)
        for (size_t i = 0; i < N; i++)
            if (s[i] != 1 && s[i] != -1)
                KD_FAIL(KD_ERR_INVALID, "thermometer: spin %d at site %zu of configuration %zu, "
                                        "expected -1 or +1", s[i], i, row);
    return KD_OK;
}

kd_status kd_nn_load_batch(const kd_thermometer *th, kd_nn_work *w, const kd_thermometer_data *d,
                           const size_t *order, size_t first, int count, const kd_nn_augment *aug)
{
    const size_t N = (size_t)th->nin;
    const int L = th->lattice.L, square = th->lattice.kind == KD_LATTICE_SQUARE;
    for (int k = 0; k < count; k++) {
        size_t pos = order ? order[first + (size_t)k] : first + (size_t)k;
        size_t row = d->rows ? d->rows[pos] : pos;
        float *x = w->act[0] + (size_t)k * N;
        const float sign = aug && aug->flip && aug->flip[pos] ? -1.0f : 1.0f;
        const uint32_t shift = aug && aug->shift ? aug->shift[pos] : 0;
        if (shift == 0 && sign > 0) {
            KD_CHECK(read_row(d, row, N, x));
            continue;
        }
        const float *src = w->row;
        KD_CHECK(read_row(d, row, N, w->row));
        if (shift == 0) {
            for (size_t i = 0; i < N; i++)
                x[i] = sign * src[i];
        } else if (square) {
            /* row y of the input becomes row (y+dy) mod L, shifted by dx */
            const int dx = (int)(shift % (uint32_t)L), dy = (int)(shift / (uint32_t)L);
            for (int y = 0; y < L; y++) {
                const float *sy = src + (size_t)y * (size_t)L;
                float *dst = x + (size_t)((y + dy) % L) * (size_t)L;
                for (int i = 0; i < L; i++)
                    dst[(i + dx) % L] = sign * sy[i];
            }
        } else {
            const size_t dx = shift % (uint32_t)L;
            for (size_t i = 0; i < N; i++)
                x[(i + dx) % N] = sign * src[i];
        }
    }
    return KD_OK;
}

double kd_nn_forward(const kd_thermometer *th, kd_nn_work *w, int count, const int *labels,
                     size_t *hits, double *logp)
{
    const kd_nn_activation *act = kd_nn_activation_get(th->params.activation);
    for (int l = 1; l <= th->nlayers; l++) {
        const int n_in = th->size[l - 1], n_out = th->size[l];
        const float *b = th->param + th->b_off[l];
        float *Z = w->act[l];
        /* Z = A W + 1 bᵀ: broadcast the bias, then accumulate the product (β = 1). */
        for (int k = 0; k < count; k++)
            memcpy(Z + (size_t)k * (size_t)n_out, b, (size_t)n_out * sizeof(float));
        kd_sgemm(CblasNoTrans, CblasNoTrans, count, n_out, n_in, 1.0f, w->act[l - 1], n_in,
                    th->param + th->w_off[l], n_out, 1.0f, Z, n_out);
        if (l < th->nlayers)
            act->forward(Z, (size_t)count * (size_t)n_out);
    }
    /* Softmax, shifted by the row maximum; the loss -ln p_y = ln Σ e^{z-m} - (z_y - m)
     * in double, so a confident model does not lose it to float rounding of p_y. */
    const int C = th->nclasses;
    double loss = 0.0;
    size_t nhit = 0;
    for (int k = 0; k < count; k++) {
        float *z = w->act[th->nlayers] + (size_t)k * (size_t)C;
        float m = z[0];
        int am = 0;
        for (int c = 1; c < C; c++)
            if (z[c] > m) {
                m = z[c];
                am = c;
            }
        double s = 0.0;
        for (int c = 0; c < C; c++)
            s += exp((double)z[c] - (double)m);
        if (labels) {
            loss += log(s) - ((double)z[labels[k]] - (double)m);
            nhit += am == labels[k];
        }
        if (logp) {
            const double ls = log(s);
            for (int c = 0; c < C; c++)
                logp[(size_t)k * (size_t)C + (size_t)c] = (double)z[c] - (double)m - ls;
        }
        for (int c = 0; c < C; c++)
            z[c] = (float)(exp((double)z[c] - (double)m) / s);
    }
    if (hits)
        *hits = nhit;
    return loss;
}

void kd_nn_backward(const kd_thermometer *th, kd_nn_work *w, int count, int batch,
                    const int *labels, double l2)
{
    const kd_nn_activation *act = kd_nn_activation_get(th->params.activation);
    const int C = th->nclasses;
    const float inv = 1.0f / (float)batch;
    /* ∂(mean CE)/∂z = (p - onehot(y)) / B */
    float *d = w->delta[0];
    for (int k = 0; k < count; k++) {
        const float *p = w->act[th->nlayers] + (size_t)k * (size_t)C;
        float *dk = d + (size_t)k * (size_t)C;
        for (int c = 0; c < C; c++)
            dk[c] = p[c] * inv;
        dk[labels[k]] -= inv;
    }
    int cur = 0;
    for (int l = th->nlayers; l >= 1; l--) {
        const int n_in = th->size[l - 1], n_out = th->size[l];
        const float *W = th->param + th->w_off[l];
        float *gW = w->grad + th->w_off[l], *gb = w->grad + th->b_off[l];
        d = w->delta[cur];
        /* ∂J/∂W_l = A_{l-1}ᵀ δ_l + λ W_l */
        if (count > 0)
            kd_sgemm(CblasTrans, CblasNoTrans, n_in, n_out, count, 1.0f, w->act[l - 1], n_in, d,
                     n_out, 0.0f, gW, n_out);
        else
            memset(gW, 0, (size_t)n_in * (size_t)n_out * sizeof(float));
        if (l2 != 0.0) {
            const float lf = (float)l2;
            for (size_t i = 0; i < (size_t)n_in * (size_t)n_out; i++)
                gW[i] += lf * W[i];
        }
        /* ∂J/∂b_l = Σ_rows δ_l (row by row: a fixed order) */
        memset(gb, 0, (size_t)n_out * sizeof(float));
        for (int k = 0; k < count; k++) {
            const float *dk = d + (size_t)k * (size_t)n_out;
            for (int j = 0; j < n_out; j++)
                gb[j] += dk[j];
        }
        if (l > 1 && count > 0) {
            /* δ_{l-1} = (δ_l W_lᵀ) ⊙ f'(z_{l-1}) */
            float *dn = w->delta[1 - cur];
            kd_sgemm(CblasNoTrans, CblasTrans, count, n_in, n_out, 1.0f, d, n_out, W, n_out,
                        0.0f, dn, n_in);
            act->backward(w->act[l - 1], dn, (size_t)count * (size_t)n_in);
            cur = 1 - cur;
        }
    }
}

static double weight_norm2(const kd_thermometer *th)
{
    double s = 0.0;
    for (int l = 1; l <= th->nlayers; l++) {
        const float *W = th->param + th->w_off[l];
        for (size_t i = 0; i < (size_t)th->size[l - 1] * (size_t)th->size[l]; i++)
            s += (double)W[i] * (double)W[i];
    }
    return s;
}

kd_status kd_nn_loss_grad(const kd_thermometer *th, const kd_thermometer_data *d, double l2,
                          double *loss, float *grad)
{
    if (!th || !d || !d->labels || d->n < 1 || d->n > (size_t)INT_MAX)
        KD_FAIL(KD_ERR_INVALID, "thermometer: loss_grad needs labelled data of 1..%d rows",
                INT_MAX);
    kd_nn_work w;
    const int count = (int)d->n;
    KD_CHECK(kd_nn_work_init(&w, th, count, 1));
    kd_status s = kd_nn_load_batch(th, &w, d, NULL, 0, count, NULL);
    if (s == KD_OK) {
        double ce = kd_nn_forward(th, &w, count, d->labels, NULL, NULL);
        kd_nn_backward(th, &w, count, count, d->labels, l2);
        *loss = ce / count + 0.5 * l2 * weight_norm2(th);
        if (grad)
            memcpy(grad, w.grad, th->nparam * sizeof(float));
    }
    kd_nn_work_free(&w);
    return s;
}

/* ---- description ---------------------------------------------------------------- */

void kd_thermometer_describe(const kd_thermometer *th, kd_thermometer_info *out)
{
    memset(out, 0, sizeof *out);
    out->lattice = th->lattice;
    out->inputs = (size_t)th->nin;
    out->nclasses = th->nclasses;
    out->temperatures = th->temps;
    out->params = th->params;
    out->params.progress = NULL;
    out->params.progress_user = NULL;
    out->params.split = NULL;
    out->nparams = th->nparam;
    out->epochs_done = th->epochs_done;
    out->best_epoch = th->best_epoch;
    out->interrupted = th->run != NULL;
    out->stopped_early = th->stopped_early;
    out->history = th->history;
    out->n_train = th->n_train;
    out->n_val = th->n_val;
    out->n_test = th->n_test;
    out->calibrated = th->calibrated;
    out->calibration_set = th->calibration_set;
    out->calibration = th->calibration;
    out->confusion = th->confusion;
    out->training_data = th->training_data;
    out->command = th->command;
    out->kadanoff_version = th->kadanoff_version;
}

void kd_thermometer_set_provenance(kd_thermometer *th, const char *training_data,
                                   const char *command)
{
    if (!th)
        return;
    if (training_data)
        copy_string(th->training_data, sizeof th->training_data, training_data);
    if (command)
        copy_string(th->command, sizeof th->command, command);
}
