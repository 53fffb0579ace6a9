/* One pass over an array's values: are they all finite, and what is the
   largest magnitude among them (_values.finite_magnitude).  Four lanes,
   two accumulators: a lane's product v * 0.0 is NaN exactly where v is
   NaN or infinite, so their sum is 0 exactly where every value is finite;
   the magnitude is the lanes' running maximum of |v| (a NaN never wins a
   comparison; the sum flags it).  Memory-bound: as fast as numpy's
   reductions, in one pass where the finite check and max/min took three. */
#ifndef MEANSHIFT_MS_VALUES_H
#define MEANSHIFT_MS_VALUES_H

#include <math.h>
#include "ms_simd.h"

#if defined(__GNUC__) || defined(__clang__)
typedef long long ms_v4l __attribute__((vector_size(32)));
#define MS_VMAX(top, a)                                              \
    {                                                                \
        ms_v4l g_ = (ms_v4l)(a > top);                               \
        top = (ms_v4d)((g_ & (ms_v4l)a) | (~g_ & (ms_v4l)top));      \
    }
#define MS_FINITE_MAX(NAME, T, LOAD)                                 \
MS_CLONES static int NAME(const T *MS_RESTRICT p, Py_ssize_t n,      \
                          double *amax)                              \
{                                                                    \
    const ms_v4d zero = {0.0, 0.0, 0.0, 0.0};                        \
    const ms_v4l mag = {0x7fffffffffffffffLL, 0x7fffffffffffffffLL,  \
                        0x7fffffffffffffffLL, 0x7fffffffffffffffLL}; \
    ms_v4d t0 = zero, t1 = zero, z0 = zero, z1 = zero;               \
    Py_ssize_t i = 0;                                                \
    for (; i + 8 <= n; i += 8) {                                     \
        ms_v4d a = LOAD(p + i), b = LOAD(p + i + 4);                 \
        z0 += a * 0.0;                                               \
        z1 += b * 0.0;                                               \
        a = (ms_v4d)((ms_v4l)a & mag);                               \
        b = (ms_v4d)((ms_v4l)b & mag);                               \
        MS_VMAX(t0, a)                                               \
        MS_VMAX(t1, b)                                               \
    }                                                                \
    z0 += z1;                                                        \
    MS_VMAX(t0, t1)                                                  \
    double z = (z0[0] + z0[1]) + (z0[2] + z0[3]), top = 0.0;         \
    for (int k = 0; k < 4; k++)                                      \
        top = t0[k] > top ? t0[k] : top;                             \
    for (; i < n; i++) {                                             \
        double v = (double)p[i];                                     \
        z += v * 0.0;                                                \
        v = fabs(v);                                                 \
        top = v > top ? v : top;                                     \
    }                                                                \
    *amax = top;                                                     \
    return z == 0.0;                                                 \
}
MS_FINITE_MAX(ms_finite_max_f64, double, ms_load4)
MS_FINITE_MAX(ms_finite_max_f32, float, ms_load4f)
#else
#define MS_FINITE_MAX(NAME, T)                                       \
static int NAME(const T *p, Py_ssize_t n, double *amax)              \
{                                                                    \
    double z = 0.0, top = 0.0;                                       \
    for (Py_ssize_t i = 0; i < n; i++) {                             \
        double v = (double)p[i];                                     \
        z += v * 0.0;                                                \
        v = fabs(v);                                                 \
        top = v > top ? v : top;                                     \
    }                                                                \
    *amax = top;                                                     \
    return z == 0.0;                                                 \
}
MS_FINITE_MAX(ms_finite_max_f64, double)
MS_FINITE_MAX(ms_finite_max_f32, float)
#endif

#endif /* MEANSHIFT_MS_VALUES_H */
