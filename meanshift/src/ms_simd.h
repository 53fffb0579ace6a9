/* SIMD building blocks of meanshift's kernels, and the squared distance in
   many dimensions.

   GCC vector extensions (four double lanes) where the compiler has them,
   plain C otherwise; on x86-64 Linux with GCC, MS_CLONES gives a function
   an AVX2 clone chosen at load time where the CPU has AVX2 (no FMA: the
   same operations, wider, so the results do not depend on the clone). */
#ifndef MEANSHIFT_MS_SIMD_H
#define MEANSHIFT_MS_SIMD_H

#include <Python.h>
#include <math.h>

/* Squared distance in many dimensions, vectorised: blocks of 32
   coordinates are reduced with SIMD (GCC vector extensions), then
   compared with the bound, so the sum may stop early.  On x86-64 with
   GCC an AVX2 clone is chosen at load time where the CPU has it (no
   FMA: the same operations, wider).  Deterministic for a given CPU. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MS_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define MS_CLONES
#endif
#if defined(__GNUC__) || defined(__clang__)
#define MS_RESTRICT __restrict__
#else
#define MS_RESTRICT
#endif
#if defined(__GNUC__) || defined(__clang__)
#define MS_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define MS_ALWAYS_INLINE static inline
#endif
#if defined(__GNUC__) || defined(__clang__)
typedef double ms_v4d __attribute__((vector_size(32)));
typedef float ms_v4f __attribute__((vector_size(16)));
static inline ms_v4d ms_load4(const double *p)
{ ms_v4d v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline ms_v4d ms_load4f(const float *p)
{ ms_v4f v; __builtin_memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v, ms_v4d); }
/* two vector accumulators of four lanes each hide the add latency */
#define MS_SQDIST_BODY(LOAD)                                         \
    double s = 0.0;                                                  \
    Py_ssize_t k = 0;                                                \
    while (k + 32 <= d) {                                            \
        ms_v4d a0 = {0.0, 0.0, 0.0, 0.0}, a1 = a0;                   \
        for (Py_ssize_t j = k; j < k + 32; j += 8) {                 \
            ms_v4d t0 = LOAD(row + j) - ms_load4(q + j);             \
            ms_v4d t1 = LOAD(row + j + 4) - ms_load4(q + j + 4);     \
            a0 += t0 * t0;                                           \
            a1 += t1 * t1;                                           \
        }                                                            \
        a0 += a1;                                                    \
        s += (a0[0] + a0[1]) + (a0[2] + a0[3]);                      \
        if (s > bound) return s;                                     \
        k += 32;                                                     \
    }                                                                \
    for (; k < d; k++) {                                             \
        double t = (double)row[k] - q[k];                            \
        s += t * t;                                                  \
    }                                                                \
    return s;
MS_ALWAYS_INLINE double ms_sqdist_hd_body_f64(const double *row,
                                              const double *q,
                                              Py_ssize_t d, double bound)
{ MS_SQDIST_BODY(ms_load4) }
MS_ALWAYS_INLINE double ms_sqdist_hd_body_f32(const float *row,
                                              const double *q,
                                              Py_ssize_t d, double bound)
{ MS_SQDIST_BODY(ms_load4f) }
#else  /* plain C: four partial sums */
#define MS_SQDIST_PLAIN                                              \
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;                   \
    Py_ssize_t k = 0;                                                \
    for (; k + 4 <= d; k += 4) {                                     \
        double t0 = (double)row[k] - q[k];                           \
        double t1 = (double)row[k + 1] - q[k + 1];                   \
        double t2 = (double)row[k + 2] - q[k + 2];                   \
        double t3 = (double)row[k + 3] - q[k + 3];                   \
        s0 += t0 * t0; s1 += t1 * t1; s2 += t2 * t2; s3 += t3 * t3;  \
        if ((k & 31) == 28 && (s0 + s1) + (s2 + s3) > bound)         \
            return (s0 + s1) + (s2 + s3);                            \
    }                                                                \
    for (; k < d; k++) { double t = (double)row[k] - q[k]; s0 += t * t; } \
    return (s0 + s1) + (s2 + s3);
MS_ALWAYS_INLINE double ms_sqdist_hd_body_f64(const double *row,
                                              const double *q,
                                              Py_ssize_t d, double bound)
{ MS_SQDIST_PLAIN }
MS_ALWAYS_INLINE double ms_sqdist_hd_body_f32(const float *row,
                                              const double *q,
                                              Py_ssize_t d, double bound)
{ MS_SQDIST_PLAIN }
#endif

/* One row's squared distance to q (the per-point test above 16
   dimensions; see _common.pxd's _sqdist_bounded). */
MS_CLONES static double ms_sqdist_hd_f64(const double *row, const double *q,
                                         Py_ssize_t d, double bound)
{ return ms_sqdist_hd_body_f64(row, q, d, bound); }
MS_CLONES static double ms_sqdist_hd_f32(const float *row, const double *q,
                                         Py_ssize_t d, double bound)
{ return ms_sqdist_hd_body_f32(row, q, d, bound); }

/* The squared distances of m consecutive rows (d columns each) to q, in
   full, each summed as ms_sqdist_hd_* sums it: one call a leaf instead of
   one a row, for loops that keep many values live across the calls. */
MS_CLONES static void ms_sqdist_hd_rows_f64(const double *rows, Py_ssize_t m,
                                            const double *q, Py_ssize_t d,
                                            double *out)
{
    for (Py_ssize_t i = 0; i < m; i++)
        out[i] = ms_sqdist_hd_body_f64(rows + i * d, q, d, HUGE_VAL);
}
MS_CLONES static void ms_sqdist_hd_rows_f32(const float *rows, Py_ssize_t m,
                                            const double *q, Py_ssize_t d,
                                            double *out)
{
    for (Py_ssize_t i = 0; i < m; i++)
        out[i] = ms_sqdist_hd_body_f32(rows + i * d, q, d, HUGE_VAL);
}

#endif /* MEANSHIFT_MS_SIMD_H */
