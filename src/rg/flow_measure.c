/*
 * Temperature readouts of every step of an RBM flow: the neural thermometer
 * (averaged class probabilities, the paper's method) next to the physical
 * estimators (⟨e⟩ against the exact e(T); ⟨|m|⟩ and G(r) against a reference
 * curve). Steps whose configurations were kept get every readout (mean-field
 * states through kd_thermometry_measure_real: a diagnostic, since they are
 * expectation values, not spin configurations); the other steps
 * (keep_every > 1) get the energy estimate from the recorded energies only.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kadanoff/flow.h"
#include "kadanoff/nn.h"
#include "kadanoff/thermometry.h"

static int kept_index(const kd_flow *f, int step)
{
    for (int k = 0; k < f->nkept; k++)
        if (f->kept_steps[k] == step)
            return k;
    return -1;
}

kd_status kd_flow_measure(kd_flow *f, const kd_thermometry *t, const kd_thermometer *th)
{
    const size_t rows = (size_t)f->steps + 1, C = f->chains, N = kd_lattice_size(&f->lattice);
    kd_flow_readout *ro = calloc(rows, sizeof *ro);
    double *prob = NULL;
    size_t nclasses = 0;
    double *class_T = NULL;
    if (!ro)
        KD_FAIL(KD_ERR_NOMEM, "out of memory");
    if (th) {
        kd_thermometer_info info;
        kd_thermometer_describe(th, &info);
        nclasses = (size_t)info.nclasses;
        prob = calloc(rows * nclasses, sizeof *prob);
        class_T = malloc(nclasses * sizeof *class_T);
        if (!prob || !class_T) {
            free(ro);
            free(prob);
            free(class_T);
            KD_FAIL(KD_ERR_NOMEM, "out of memory");
        }
        memcpy(class_T, info.temperatures, nclasses * sizeof *class_T);
        for (size_t i = 0; i < rows * nclasses; i++)
            prob[i] = NAN;
    }
    kd_status st = KD_OK;
    for (int n = 0; n <= f->steps && st == KD_OK; n++) {
        kd_flow_readout *r = &ro[n];
        *r = (kd_flow_readout){n, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
        int k = kept_index(f, n);
        if (k >= 0 && t) {
            kd_thermometry_result res;
            double *p = prob ? prob + (size_t)n * nclasses : NULL;
            st = f->spins ? kd_thermometry_measure(t, f->spins + (size_t)k * C * N, C, &res, p)
                          : kd_thermometry_measure_real(t, f->values + (size_t)k * C * N, C, &res, p);
            if (st != KD_OK)
                break;
            if (res.have_thermometer)
                r->T_thermometer = res.thermometer.T_mean;
            if (res.T_energy.flag != KD_TEMP_UNAVAILABLE)
                r->T_energy = res.T_energy.T, r->T_energy_err = res.T_energy.err;
            if (res.T_abs_m.flag != KD_TEMP_UNAVAILABLE)
                r->T_abs_m = res.T_abs_m.T, r->T_abs_m_err = res.T_abs_m.err;
            if (res.T_G.flag != KD_TEMP_UNAVAILABLE)
                r->T_G = res.T_G.T, r->T_G_err = res.T_G.err;
        } else if (kd_thermometry_has_exact_energy(&f->lattice)) {
            /* chains are independent: standard error over chains */
            kd_flow_stats s;
            kd_temp_estimate est;
            kd_flow_step_stats(f, n, &s);
            if (kd_thermometry_energy_estimate(&f->lattice, s.e, s.e_err, &est) == KD_OK &&
                est.flag != KD_TEMP_UNAVAILABLE)
                r->T_energy = est.T, r->T_energy_err = est.err;
            kd_clear_error();
        }
    }
    if (st != KD_OK) {
        free(ro);
        free(prob);
        free(class_T);
        return st;
    }
    free(f->readout);
    free(f->probabilities);
    free(f->class_T);
    f->readout = ro;
    f->probabilities = prob;
    f->class_T = class_T;
    f->nclasses = nclasses;
    return KD_OK;
}
