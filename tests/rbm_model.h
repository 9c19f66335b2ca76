/*
 * Random RBM fixtures shared by the RBM test programs (header-only).
 */
#ifndef KD_TEST_RBM_MODEL_H
#define KD_TEST_RBM_MODEL_H

#include <stdint.h>

#include "kadanoff/rbm.h"
#include "kadanoff/rng.h"

static const kd_units UNITS[2] = {KD_UNITS_SPIN, KD_UNITS_BINARY};

/* A model with Gaussian weights (σ) and, where enabled, Gaussian biases (σ_b). */
static inline kd_rbm *make_model(int nv, int nh, kd_units vis, kd_units hid, unsigned flags,
                                 double sigma, double sigma_b, uint64_t seed)
{
    kd_rbm *r = NULL;
    if (kd_rbm_new(&r, nv, nh, vis, hid, flags) != KD_OK)
        return NULL;
    kd_rbm_init_gaussian(r, sigma, seed);
    kd_rng g;
    kd_rng_init(&g, seed, 99);
    if (!(flags & KD_RBM_NO_VISIBLE_BIAS))
        for (int i = 0; i < nv; i++)
            kd_rbm_visible_bias(r)[i] = (float)(sigma_b * kd_rng_normal(&g));
    if (!(flags & KD_RBM_NO_HIDDEN_BIAS))
        for (int j = 0; j < nh; j++)
            kd_rbm_hidden_bias(r)[j] = (float)(sigma_b * kd_rng_normal(&g));
    return r;
}

#endif
