/* Activation functions of the hidden layers, and the names of the optimizers.
 * Each derivative is written in terms of the output a = f(z), so the
 * backward pass needs only the stored activations:
 *   tanh:    f' = 1 - a²
 *   relu:    f' = [a > 0]
 *   sigmoid: f' = a (1 - a)                                                  */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "nn/nn_internal.h"

static void tanh_forward(float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = tanhf(a[i]);
}

static void tanh_backward(const float *a, float *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] *= 1.0f - a[i] * a[i];
}

static void relu_forward(float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = a[i] < 0.0f ? 0.0f : a[i]; /* NaN propagates (NaN < 0 is false) */
}

static void relu_backward(const float *a, float *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = a[i] > 0.0f ? d[i] : 0.0f;
}

static void sigmoid_forward(float *a, size_t n)
{
    /* 1/(1 + e^{-z}) for z >= 0, e^{z}/(1 + e^{z}) otherwise: no overflow. */
    for (size_t i = 0; i < n; i++) {
        float z = a[i];
        if (z >= 0.0f) {
            a[i] = 1.0f / (1.0f + expf(-z));
        } else {
            float e = expf(z);
            a[i] = e / (1.0f + e);
        }
    }
}

static void sigmoid_backward(const float *a, float *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] *= a[i] * (1.0f - a[i]);
}

static const kd_nn_activation activations[] = {
    {KD_ACTIVATION_TANH, "tanh", tanh_forward, tanh_backward, 0},
    {KD_ACTIVATION_RELU, "relu", relu_forward, relu_backward, 1},
    {KD_ACTIVATION_SIGMOID, "sigmoid", sigmoid_forward, sigmoid_backward, 0},
};
static const size_t nactivations = sizeof activations / sizeof activations[0];

const kd_nn_activation *kd_nn_activation_get(kd_activation id)
{
    for (size_t i = 0; i < nactivations; i++)
        if (activations[i].id == id)
            return &activations[i];
    return NULL;
}

const char *kd_activation_name(kd_activation a)
{
    const kd_nn_activation *f = kd_nn_activation_get(a);
    return f ? f->name : "unknown";
}

kd_status kd_activation_parse(const char *name, kd_activation *out)
{
    for (size_t i = 0; name && i < nactivations; i++)
        if (!strcmp(name, activations[i].name)) {
            *out = activations[i].id;
            return KD_OK;
        }
    KD_FAIL(KD_ERR_INVALID, "unknown activation '%s', expected tanh, relu or sigmoid",
            name ? name : "(null)");
}

static const struct {
    kd_optimizer id;
    const char *name;
} optimizers[] = {{KD_OPTIMIZER_MOMENTUM, "momentum"}, {KD_OPTIMIZER_ADAM, "adam"}};

const char *kd_optimizer_name(kd_optimizer o)
{
    for (size_t i = 0; i < sizeof optimizers / sizeof optimizers[0]; i++)
        if (optimizers[i].id == o)
            return optimizers[i].name;
    return "unknown";
}

kd_status kd_optimizer_parse(const char *name, kd_optimizer *out)
{
    for (size_t i = 0; name && i < sizeof optimizers / sizeof optimizers[0]; i++)
        if (!strcmp(name, optimizers[i].name)) {
            *out = optimizers[i].id;
            return KD_OK;
        }
    KD_FAIL(KD_ERR_INVALID, "unknown optimizer '%s', expected momentum or adam",
            name ? name : "(null)");
}
