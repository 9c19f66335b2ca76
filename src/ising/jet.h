/*
 * Jets: a value with its first and second derivatives with respect to one
 * variable (K or β), propagated through formulas by the chain rule. This is
 * forward-mode differentiation: e = -d lnZ/dβ and c = β² d² lnZ/dβ² come out
 * exact to rounding, with no finite differences. Internal to src/ising.
 */
#ifndef KD_ISING_JET_H
#define KD_ISING_JET_H

#include <math.h>

typedef struct {
    double v, d, dd;
} jet;

static inline jet jconst(double v) { return (jet){v, 0.0, 0.0}; }

static inline jet jadd(jet a, jet b) { return (jet){a.v + b.v, a.d + b.d, a.dd + b.dd}; }

static inline jet jsub(jet a, jet b) { return (jet){a.v - b.v, a.d - b.d, a.dd - b.dd}; }

static inline jet jscale(double c, jet a) { return (jet){c * a.v, c * a.d, c * a.dd}; }

static inline jet jmul(jet a, jet b)
{
    return (jet){a.v * b.v, a.d * b.v + a.v * b.d, a.dd * b.v + 2.0 * a.d * b.d + a.v * b.dd};
}

/* f(a) given f, f', f'' at a.v (chain rule to second order). */
static inline jet jchain(jet a, double f, double f1, double f2)
{
    return (jet){f, f1 * a.d, f2 * a.d * a.d + f1 * a.dd};
}

static inline jet jrecip(jet a)
{
    double r = 1.0 / a.v;
    return jchain(a, r, -r * r, 2.0 * r * r * r);
}

static inline jet jdiv(jet a, jet b) { return jmul(a, jrecip(b)); }

static inline jet jlog(jet a)
{
    double r = 1.0 / a.v;
    return jchain(a, log(a.v), r, -r * r);
}

static inline jet jlog1p(jet a)
{
    double r = 1.0 / (1.0 + a.v);
    return jchain(a, log1p(a.v), r, -r * r);
}

static inline jet jexp(jet a)
{
    double e = exp(a.v);
    return jchain(a, e, e, e);
}

static inline jet jexpm1(jet a)
{
    double e = exp(a.v);
    return jchain(a, expm1(a.v), e, e);
}

static inline jet jsqrt(jet a)
{
    if (a.v <= 0)
        return jconst(0.0);
    double r = sqrt(a.v);
    return jchain(a, r, 0.5 / r, -0.25 / (r * a.v));
}

#endif
