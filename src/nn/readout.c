/* Readout of sets of configurations (averaged class probabilities, the
 * paper's method) and the calibration table on held-out data. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/nn_internal.h"

#define EVAL_ROWS 256
#define JACKKNIFE_BLOCKS 20

static kd_status check_unlabelled(const kd_thermometer_data *d)
{
    if (!d || (!d->spins && !d->values))
        KD_FAIL(KD_ERR_INVALID, "thermometer: no configurations given");
    if (d->n < 1)
        KD_FAIL(KD_ERR_INVALID, "thermometer: an empty set of configurations has no temperature");
    return KD_OK;
}

kd_status kd_thermometer_probabilities(const kd_thermometer *th, const kd_lattice *lat,
                                       const kd_thermometer_data *data, float *prob)
{
    if (!th || !prob)
        KD_FAIL(KD_ERR_INVALID, "kd_thermometer_probabilities: no thermometer or no output");
    KD_CHECK(kd_nn_check_lattice(th, lat));
    KD_CHECK(check_unlabelled(data));
    kd_nn_work w;
    const int rows = data->n < EVAL_ROWS ? (int)data->n : EVAL_ROWS;
    const size_t C = (size_t)th->nclasses;
    KD_CHECK(kd_nn_work_init(&w, th, rows, 0));
    kd_status s = KD_OK;
    for (size_t first = 0; first < data->n && s == KD_OK; first += (size_t)rows) {
        int count = data->n - first < (size_t)rows ? (int)(data->n - first) : rows;
        s = kd_nn_load_batch(th, &w, data, NULL, first, count, NULL);
        if (s == KD_OK) {
            kd_nn_forward(th, &w, count, NULL, NULL, NULL);
            memcpy(prob + first * C, w.act[th->nlayers], (size_t)count * C * sizeof(float));
        }
    }
    kd_nn_work_free(&w);
    return s;
}

/* T̄ = Σ_finite P_k T_k / Σ_finite P_k from class-probability sums S (any scale). */
static double mean_temperature(const kd_thermometer *th, const double *S)
{
    double num = 0.0, den = 0.0;
    for (int c = 0; c < th->nclasses; c++)
        if (isfinite(th->temps[c])) {
            num += S[c] * th->temps[c];
            den += S[c];
        }
    return den > 0 ? num / den : NAN;
}

kd_status kd_thermometer_readout_set(const kd_thermometer *th, const kd_lattice *lat,
                                     const kd_thermometer_data *data, kd_thermometer_readout *out,
                                     double *avg_prob, uint64_t *argmax_count)
{
    if (!th || !out)
        KD_FAIL(KD_ERR_INVALID, "kd_thermometer_readout_set: no thermometer or no output");
    KD_CHECK(kd_nn_check_lattice(th, lat));
    KD_CHECK(check_unlabelled(data));
    const size_t n = data->n, C = (size_t)th->nclasses;
    const size_t nb = n < JACKKNIFE_BLOCKS ? n : JACKKNIFE_BLOCKS;
    const int rows = n < EVAL_ROWS ? (int)n : EVAL_ROWS;
    /* block sums of the probabilities [nb × C], total [C], log-likelihood of
     * the set [C], log-probabilities of one batch [rows × C]; argmax counts [C] */
    double *bs = calloc(nb * C + 2 * C + (size_t)rows * C, sizeof(double));
    uint64_t *counts = calloc(C, sizeof(uint64_t));
    kd_nn_work w;
    kd_status s = KD_OK;
    if (!bs || !counts) {
        free(bs);
        free(counts);
        KD_FAIL(KD_ERR_NOMEM, "thermometer: out of memory for a readout");
    }
    double *S = bs + nb * C, *LL = S + C, *logp = LL + C;
    s = kd_nn_work_init(&w, th, rows, 0);
    for (size_t first = 0; first < n && s == KD_OK; first += (size_t)rows) {
        int count = n - first < (size_t)rows ? (int)(n - first) : rows;
        s = kd_nn_load_batch(th, &w, data, NULL, first, count, NULL);
        if (s != KD_OK)
            break;
        kd_nn_forward(th, &w, count, NULL, NULL, logp);
        for (int k = 0; k < count; k++) {
            const size_t i = first + (size_t)k;
            const size_t b = i * nb / n; /* block of consecutive configurations */
            const float *p = w.act[th->nlayers] + (size_t)k * C;
            const double *lp = logp + (size_t)k * C;
            size_t am = 0;
            for (size_t c = 0; c < C; c++) {
                bs[b * C + c] += p[c];
                LL[c] += lp[c];
                if (p[c] > p[am])
                    am = c;
            }
            counts[am]++;
        }
    }
    kd_nn_work_free(&w);
    if (s != KD_OK) {
        free(bs);
        free(counts);
        return s;
    }
    for (size_t b = 0; b < nb; b++)
        for (size_t c = 0; c < C; c++)
            S[c] += bs[b * C + c];

    memset(out, 0, sizeof *out);
    out->n = n;
    out->T_mean = mean_temperature(th, S);
    out->p_inf = isinf(th->temps[C - 1]) ? S[C - 1] / (double)n : 0.0;
    size_t peak = 0, mode = 0, ml = 0;
    for (size_t c = 1; c < C; c++) {
        if (S[c] > S[peak])
            peak = c;
        if (counts[c] > counts[mode])
            mode = c;
        if (LL[c] > LL[ml])
            ml = c;
    }
    out->T_peak = th->temps[peak];
    out->T_mode = th->temps[mode];
    out->T_ml = th->temps[ml];
    /* Jackknife: leave one block out, T̄^(b) from the remaining sums;
     * σ² = (nb-1)/nb Σ_b (T̄^(b) - mean_b T̄^(b))². */
    out->T_mean_err = 0.0;
    if (nb >= 2) {
        double *loo = malloc(C * sizeof(double)), tb[JACKKNIFE_BLOCKS], mean = 0.0, ss = 0.0;
        if (!loo) {
            free(bs);
            free(counts);
            KD_FAIL(KD_ERR_NOMEM, "thermometer: out of memory for a readout");
        }
        for (size_t b = 0; b < nb; b++) {
            for (size_t c = 0; c < C; c++)
                loo[c] = S[c] - bs[b * C + c];
            tb[b] = mean_temperature(th, loo);
            mean += tb[b];
        }
        mean /= (double)nb;
        for (size_t b = 0; b < nb; b++)
            ss += (tb[b] - mean) * (tb[b] - mean);
        out->T_mean_err = sqrt(ss * (double)(nb - 1) / (double)nb);
        free(loo);
    }
    if (avg_prob)
        for (size_t c = 0; c < C; c++)
            avg_prob[c] = S[c] / (double)n;
    if (argmax_count)
        memcpy(argmax_count, counts, C * sizeof(uint64_t));
    free(bs);
    free(counts);
    return KD_OK;
}

kd_status kd_thermometer_calibrate(kd_thermometer *th, const kd_thermometer_data *data,
                                   const char *set)
{
    if (!th || !data || (!data->spins && !data->values) || !data->labels)
        KD_FAIL(KD_ERR_INVALID, "thermometer: calibration needs labelled configurations");
    if (data->n < 1)
        KD_FAIL(KD_ERR_INVALID, "thermometer: calibration set is empty");
    const int C = th->nclasses;
    for (size_t k = 0; k < data->n; k++)
        if (data->labels[k] < 0 || data->labels[k] >= C)
            KD_FAIL(KD_ERR_INVALID, "thermometer: calibration label %d at row %zu, expected 0..%d",
                    data->labels[k], k, C - 1);
    kd_calibration_row *cal = calloc((size_t)C, sizeof *cal);
    uint64_t *conf = calloc((size_t)C * (size_t)C, sizeof(uint64_t));
    size_t *rows = malloc(data->n * sizeof(size_t));
    if (!cal || !conf || !rows) {
        free(cal);
        free(conf);
        free(rows);
        KD_FAIL(KD_ERR_NOMEM, "thermometer: out of memory for the calibration table");
    }
    kd_status s = KD_OK;
    for (int c = 0; c < C && s == KD_OK; c++) {
        kd_calibration_row *row = &cal[c];
        size_t m = 0;
        for (size_t k = 0; k < data->n; k++)
            if (data->labels[k] == c)
                rows[m++] = data->rows ? data->rows[k] : k;
        row->T = th->temps[c];
        row->n = m;
        if (m == 0) {
            row->T_mean = row->T_mean_err = row->p_inf = NAN;
            row->T_peak = row->T_mode = row->T_ml = NAN;
            row->accuracy = row->mae_argmax = NAN;
            continue;
        }
        kd_thermometer_data sub = {data->spins, rows, NULL, m, data->values};
        kd_thermometer_readout r;
        uint64_t *counts = conf + (size_t)c * (size_t)C;
        s = kd_thermometer_readout_set(th, &th->lattice, &sub, &r, NULL, counts);
        if (s != KD_OK)
            break;
        row->T_mean = r.T_mean;
        row->T_mean_err = r.T_mean_err;
        row->p_inf = r.p_inf;
        row->T_peak = r.T_peak;
        row->T_mode = r.T_mode;
        row->T_ml = r.T_ml;
        row->accuracy = (double)counts[c] / (double)m;
        double dev = 0.0;
        uint64_t nf = 0;
        for (int j = 0; j < C; j++)
            if (isfinite(th->temps[j]) && isfinite(row->T)) {
                dev += (double)counts[j] * fabs(th->temps[j] - row->T);
                nf += counts[j];
            }
        row->mae_argmax = nf ? dev / (double)nf : NAN;
    }
    free(rows);
    if (s != KD_OK) {
        free(cal);
        free(conf);
        return s;
    }
    free(th->calibration);
    free(th->confusion);
    th->calibration = cal;
    th->confusion = conf;
    th->calibrated = 1;
    size_t len = set ? strlen(set) : 0;
    if (len >= sizeof th->calibration_set)
        len = sizeof th->calibration_set - 1;
    memcpy(th->calibration_set, set ? set : "", len);
    th->calibration_set[len] = '\0';
    return KD_OK;
}
