/* The flat kernel's scan of straddling leaves stored by coordinate.

   Trees over MS_COLUMNS_MIN to MS_COLUMNS_MAX columns may hold their rows a
   second time, leaf by leaf by coordinate (build_tree(leaf_columns=True));
   the flat kernel's traversal collects the leaves that straddle the ball
   and scans them here, four points at a time. */
#ifndef MEANSHIFT_MS_LEAVES_H
#define MEANSHIFT_MS_LEAVES_H

#include <math.h>
#include "ms_simd.h"

/* the column counts that have a scan (and so may have leaf columns) */
#define MS_COLUMNS_MIN 3
#define MS_COLUMNS_MAX 8

/* Flat-kernel scan of the leaves a traversal found straddling the
   boundary, each stored by coordinate (coordinate k of the j-th of
   its m points at cols[lo * D + k * m + j], lo its first point): the
   weight of the points within bw (squared distance <= bw2, summed in
   coordinate order like every per-point test), their number without
   weights, returned, and their weighted coordinate sums, added to
   acc.  Four points at a time, a lane each: the tests and products
   are those of the scalar loop; the sums are kept per lane over all
   the leaves and added up at the end, (l0 + l1) + (l2 + l3).  The
   lanes of a leaf's last partial group read on into the array and the
   weights (both padded) and are masked out.  WEIGHT(i) is the weight
   of the point i (1.0 without weights: the products are exact). */
#if defined(__GNUC__) || defined(__clang__)
typedef long long ms_v4i __attribute__((vector_size(32)));
#define MS_FLAT_GROUP(LOAD, WEIGHT, D, MASK)                         \
    {                                                                \
        ms_v4d t = LOAD(blk + j) - qv[0];                            \
        ms_v4d d2 = t * t;                                           \
        for (int k = 1; k < D; k++) {                                \
            t = LOAD(blk + k * m + j) - qv[k];                       \
            d2 += t * t;                                             \
        }                                                            \
        ms_v4i in = (d2 <= bw2) MASK;                                \
        ms_v4d wv = WEIGHT(lo + j);                                  \
        tot += (ms_v4d)((ms_v4i)wv & in);                            \
        for (int k = 0; k < D; k++)                                  \
            s[k] += (ms_v4d)((ms_v4i)(wv * LOAD(blk + k * m + j))   \
                             & in);                                  \
    }
#define MS_LEAVES_FLAT(NAME, T, LOAD, WEIGHT, D)                     \
MS_CLONES static double NAME(const T *MS_RESTRICT cols,              \
                             const double *MS_RESTRICT w,            \
                             const Py_ssize_t *MS_RESTRICT bounds,   \
                             const Py_ssize_t *MS_RESTRICT leaves,   \
                             Py_ssize_t nl,                          \
                             const double *MS_RESTRICT q,            \
                             double bw2,                             \
                             double *MS_RESTRICT acc)                \
{                                                                    \
    ms_v4d s[D], qv[D];                                              \
    ms_v4d tot = {0.0, 0.0, 0.0, 0.0};                               \
    const ms_v4i lane = {0, 1, 2, 3};                                \
    (void)w;                                                         \
    for (int k = 0; k < D; k++) {                                    \
        s[k] = (ms_v4d){0.0, 0.0, 0.0, 0.0};                         \
        qv[k] = (ms_v4d){q[k], q[k], q[k], q[k]};                    \
    }                                                                \
    for (Py_ssize_t i = 0; i < nl; i++) {                            \
        Py_ssize_t lo = bounds[leaves[i]];                           \
        Py_ssize_t m = bounds[leaves[i] + 1] - lo;                   \
        const T *blk = cols + lo * D;                                \
        Py_ssize_t j = 0;                                            \
        for (; j + 4 <= m; j += 4)                                   \
            MS_FLAT_GROUP(LOAD, WEIGHT, D, )                         \
        if (j < m)                                                   \
            MS_FLAT_GROUP(LOAD, WEIGHT, D, & (lane < (m - j)))       \
    }                                                                \
    for (int k = 0; k < D; k++)                                      \
        acc[k] += (s[k][0] + s[k][1]) + (s[k][2] + s[k][3]);         \
    return (tot[0] + tot[1]) + (tot[2] + tot[3]);                    \
}
#define MS_ONES(i) ((ms_v4d){1.0, 1.0, 1.0, 1.0})
#define MS_WEIGHTS(i) ms_load4(w + (i))
#else
/* the same lanes in plain C, for the same sums */
#define MS_LEAVES_FLAT(NAME, T, LOAD, WEIGHT, D)                     \
static double NAME(const T *cols, const double *w,                   \
                   const Py_ssize_t *bounds,                         \
                   const Py_ssize_t *leaves, Py_ssize_t nl,          \
                   const double *q, double bw2, double *acc)         \
{                                                                    \
    double s[D][4] = {{0.0}}, tot[4] = {0.0};                        \
    (void)w;                                                         \
    for (Py_ssize_t i = 0; i < nl; i++) {                            \
        Py_ssize_t lo = bounds[leaves[i]];                           \
        Py_ssize_t m = bounds[leaves[i] + 1] - lo;                   \
        const T *blk = cols + lo * D;                                \
        for (Py_ssize_t j = 0; j < m; j++) {                         \
            double t = (double)blk[j] - q[0], d2 = t * t;            \
            for (int k = 1; k < D; k++) {                            \
                t = (double)blk[k * m + j] - q[k];                   \
                d2 += t * t;                                         \
            }                                                        \
            if (d2 <= bw2) {                                         \
                double wi = WEIGHT(lo + j);                          \
                tot[j & 3] += wi;                                    \
                for (int k = 0; k < D; k++)                          \
                    s[k][j & 3] += wi * (double)blk[k * m + j];      \
            }                                                        \
        }                                                            \
    }                                                                \
    for (int k = 0; k < D; k++)                                      \
        acc[k] += (s[k][0] + s[k][1]) + (s[k][2] + s[k][3]);         \
    return (tot[0] + tot[1]) + (tot[2] + tot[3]);                    \
}
#define MS_ONES(i) 1.0
#define MS_WEIGHTS(i) w[i]
#define ms_load4 0
#define ms_load4f 0
#endif
#define MS_LEAVES_FLAT_ALL(D)                                            \
    MS_LEAVES_FLAT(ms_leaves_flat_f64_##D, double, ms_load4, MS_ONES, D) \
    MS_LEAVES_FLAT(ms_leaves_flat_f32_##D, float, ms_load4f, MS_ONES, D) \
    MS_LEAVES_FLAT(ms_leaves_wflat_f64_##D, double, ms_load4,            \
                   MS_WEIGHTS, D)                                        \
    MS_LEAVES_FLAT(ms_leaves_wflat_f32_##D, float, ms_load4f,            \
                   MS_WEIGHTS, D)
MS_LEAVES_FLAT_ALL(3)
MS_LEAVES_FLAT_ALL(4)
MS_LEAVES_FLAT_ALL(5)
MS_LEAVES_FLAT_ALL(6)
MS_LEAVES_FLAT_ALL(7)
MS_LEAVES_FLAT_ALL(8)
/* the scan for d columns (MS_COLUMNS_MIN to MS_COLUMNS_MAX), with weights
   where w is not NULL; NAN for any other d, which never comes here: a tree
   holds leaf columns only for those counts (checked when it is bound) */
#define MS_LEAVES_CASE(T, D)                                         \
    case D:                                                          \
        if (w)                                                       \
            return ms_leaves_wflat_##T##_##D(cols, w, bounds, leaves, \
                                             nl, q, bw2, acc);       \
        return ms_leaves_flat_##T##_##D(cols, w, bounds, leaves, nl, \
                                        q, bw2, acc);
#define MS_LEAVES_DISPATCH(T, CT)                                    \
static double ms_leaves_flat_##T(Py_ssize_t d, const CT *cols,       \
                                 const double *w,                    \
                                 const Py_ssize_t *bounds,           \
                                 const Py_ssize_t *leaves,           \
                                 Py_ssize_t nl, const double *q,     \
                                 double bw2, double *acc)            \
{                                                                    \
    switch (d) {                                                     \
        MS_LEAVES_CASE(T, 3) MS_LEAVES_CASE(T, 4)                    \
        MS_LEAVES_CASE(T, 5) MS_LEAVES_CASE(T, 6)                    \
        MS_LEAVES_CASE(T, 7) MS_LEAVES_CASE(T, 8)                    \
    }                                                                \
    return NAN;                                                      \
}
MS_LEAVES_DISPATCH(f64, double)
MS_LEAVES_DISPATCH(f32, float)

/* The flat kernel's scan of straddling leaves in one or two columns, read
   where they are: in the rows (x0 y0 x1 y1 ...), four points at a time.
   The same contract as ms_leaves_flat: each point's squared distance is
   computed as the scalar test computes it (in coordinate order, no fused
   multiply-add), the sums are kept per lane and added up at the end, and
   the lanes of a leaf's last partial group read on into the rows and the
   weights (both padded by build_tree) and are masked out.  In two
   columns a group's eight values are loaded as two vectors and split into
   its x and y. */
#if defined(__GNUC__) || defined(__clang__)
typedef int ms_v4i32 __attribute__((vector_size(16)));
#if defined(__clang__) || __GNUC__ >= 12
#define MS_EVENS_D(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6)
#define MS_ODDS_D(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7)
#define MS_EVENS_F(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6)
#define MS_ODDS_F(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7)
#else
#define MS_EVENS_D(a, b) __builtin_shuffle(a, b, (ms_v4i){0, 2, 4, 6})
#define MS_ODDS_D(a, b) __builtin_shuffle(a, b, (ms_v4i){1, 3, 5, 7})
#define MS_EVENS_F(a, b) __builtin_shuffle(a, b, (ms_v4i32){0, 2, 4, 6})
#define MS_ODDS_F(a, b) __builtin_shuffle(a, b, (ms_v4i32){1, 3, 5, 7})
#endif
/* x and y of the four points from p (two columns) */
#define MS_SPLIT_F64(p, x, y)                                        \
    {                                                                \
        ms_v4d a_ = ms_load4(p), b_ = ms_load4((p) + 4);             \
        x = MS_EVENS_D(a_, b_);                                      \
        y = MS_ODDS_D(a_, b_);                                       \
    }
#define MS_SPLIT_F32(p, x, y)                                        \
    {                                                                \
        ms_v4f a_, b_;                                               \
        __builtin_memcpy(&a_, (p), sizeof a_);                       \
        __builtin_memcpy(&b_, (p) + 4, sizeof b_);                   \
        x = __builtin_convertvector(MS_EVENS_F(a_, b_), ms_v4d);     \
        y = __builtin_convertvector(MS_ODDS_F(a_, b_), ms_v4d);      \
    }
#define MS_ROWS_GROUP2(SPLIT, WEIGHT, MASK)                          \
    {                                                                \
        ms_v4d x, y;                                                 \
        SPLIT(blk + 2 * j, x, y)                                     \
        ms_v4d tx = x - qx, ty = y - qy;                             \
        ms_v4i in = (tx * tx + ty * ty <= bw2) MASK;                 \
        ms_v4d wv = WEIGHT(lo + j);                                  \
        tot += (ms_v4d)((ms_v4i)wv & in);                            \
        sx += (ms_v4d)((ms_v4i)(wv * x) & in);                       \
        sy += (ms_v4d)((ms_v4i)(wv * y) & in);                       \
    }
#define MS_ROWS_GROUP1(LOAD, WEIGHT, MASK)                           \
    {                                                                \
        ms_v4d x = LOAD(blk + j);                                    \
        ms_v4d tx = x - qx;                                          \
        ms_v4i in = (tx * tx <= bw2) MASK;                           \
        ms_v4d wv = WEIGHT(lo + j);                                  \
        tot += (ms_v4d)((ms_v4i)wv & in);                            \
        sx += (ms_v4d)((ms_v4i)(wv * x) & in);                       \
    }
#define MS_LEAVES_ROWS(NAME, T, GROUP, READ, WEIGHT, D)              \
MS_CLONES static double NAME(const T *MS_RESTRICT data,              \
                             const double *MS_RESTRICT w,            \
                             const Py_ssize_t *MS_RESTRICT bounds,   \
                             const Py_ssize_t *MS_RESTRICT leaves,   \
                             Py_ssize_t nl,                          \
                             const double *MS_RESTRICT q,            \
                             double bw2,                             \
                             double *MS_RESTRICT acc)                \
{                                                                    \
    const ms_v4d zero = {0.0, 0.0, 0.0, 0.0};                        \
    const ms_v4i lane = {0, 1, 2, 3};                                \
    const ms_v4d qx = {q[0], q[0], q[0], q[0]};                      \
    const ms_v4d qy = {q[D - 1], q[D - 1], q[D - 1], q[D - 1]};      \
    ms_v4d tot = zero, sx = zero, sy = zero;                         \
    (void)w;                                                         \
    (void)qy;                                                        \
    for (Py_ssize_t i = 0; i < nl; i++) {                            \
        Py_ssize_t lo = bounds[leaves[i]];                           \
        Py_ssize_t m = bounds[leaves[i] + 1] - lo;                   \
        const T *blk = data + lo * D;                                \
        Py_ssize_t j = 0;                                            \
        for (; j + 4 <= m; j += 4)                                   \
            GROUP(READ, WEIGHT, )                                    \
        if (j < m)                                                   \
            GROUP(READ, WEIGHT, & (lane < (m - j)))                  \
    }                                                                \
    acc[0] += (sx[0] + sx[1]) + (sx[2] + sx[3]);                     \
    if (D == 2)                                                      \
        acc[D - 1] += (sy[0] + sy[1]) + (sy[2] + sy[3]);             \
    return (tot[0] + tot[1]) + (tot[2] + tot[3]);                    \
}
MS_LEAVES_ROWS(ms_rows_flat_f64_2, double, MS_ROWS_GROUP2, MS_SPLIT_F64,
               MS_ONES, 2)
MS_LEAVES_ROWS(ms_rows_flat_f32_2, float, MS_ROWS_GROUP2, MS_SPLIT_F32,
               MS_ONES, 2)
MS_LEAVES_ROWS(ms_rows_wflat_f64_2, double, MS_ROWS_GROUP2, MS_SPLIT_F64,
               MS_WEIGHTS, 2)
MS_LEAVES_ROWS(ms_rows_wflat_f32_2, float, MS_ROWS_GROUP2, MS_SPLIT_F32,
               MS_WEIGHTS, 2)
MS_LEAVES_ROWS(ms_rows_flat_f64_1, double, MS_ROWS_GROUP1, ms_load4,
               MS_ONES, 1)
MS_LEAVES_ROWS(ms_rows_flat_f32_1, float, MS_ROWS_GROUP1, ms_load4f,
               MS_ONES, 1)
MS_LEAVES_ROWS(ms_rows_wflat_f64_1, double, MS_ROWS_GROUP1, ms_load4,
               MS_WEIGHTS, 1)
MS_LEAVES_ROWS(ms_rows_wflat_f32_1, float, MS_ROWS_GROUP1, ms_load4f,
               MS_WEIGHTS, 1)
#else
/* the same lanes in plain C, for the same sums */
#define MS_LEAVES_ROWS_PLAIN(NAME, T, WEIGHT, D)                     \
static double NAME(const T *data, const double *w,                   \
                   const Py_ssize_t *bounds,                         \
                   const Py_ssize_t *leaves, Py_ssize_t nl,          \
                   const double *q, double bw2, double *acc)         \
{                                                                    \
    double s[D][4] = {{0.0}}, tot[4] = {0.0};                        \
    (void)w;                                                         \
    for (Py_ssize_t i = 0; i < nl; i++) {                            \
        Py_ssize_t lo = bounds[leaves[i]];                           \
        Py_ssize_t m = bounds[leaves[i] + 1] - lo;                   \
        const T *blk = data + lo * D;                                \
        for (Py_ssize_t j = 0; j < m; j++) {                         \
            double t = (double)blk[j * D] - q[0], d2 = t * t;        \
            for (int k = 1; k < D; k++) {                            \
                t = (double)blk[j * D + k] - q[k];                   \
                d2 += t * t;                                         \
            }                                                        \
            if (d2 <= bw2) {                                         \
                double wi = WEIGHT(lo + j);                          \
                tot[j & 3] += wi;                                    \
                for (int k = 0; k < D; k++)                          \
                    s[k][j & 3] += wi * (double)blk[j * D + k];      \
            }                                                        \
        }                                                            \
    }                                                                \
    for (int k = 0; k < D; k++)                                      \
        acc[k] += (s[k][0] + s[k][1]) + (s[k][2] + s[k][3]);         \
    return (tot[0] + tot[1]) + (tot[2] + tot[3]);                    \
}
MS_LEAVES_ROWS_PLAIN(ms_rows_flat_f64_2, double, MS_ONES, 2)
MS_LEAVES_ROWS_PLAIN(ms_rows_flat_f32_2, float, MS_ONES, 2)
MS_LEAVES_ROWS_PLAIN(ms_rows_wflat_f64_2, double, MS_WEIGHTS, 2)
MS_LEAVES_ROWS_PLAIN(ms_rows_wflat_f32_2, float, MS_WEIGHTS, 2)
MS_LEAVES_ROWS_PLAIN(ms_rows_flat_f64_1, double, MS_ONES, 1)
MS_LEAVES_ROWS_PLAIN(ms_rows_flat_f32_1, float, MS_ONES, 1)
MS_LEAVES_ROWS_PLAIN(ms_rows_wflat_f64_1, double, MS_WEIGHTS, 1)
MS_LEAVES_ROWS_PLAIN(ms_rows_wflat_f32_1, float, MS_WEIGHTS, 1)
#endif
/* the scan for a tree of d = 1 or 2 columns over its rows, with weights
   where w is not NULL; NAN for any other d, which never comes here */
#define MS_ROWS_CASE(T, D)                                           \
    case D:                                                          \
        if (w)                                                       \
            return ms_rows_wflat_##T##_##D(data, w, bounds, leaves,  \
                                           nl, q, bw2, acc);         \
        return ms_rows_flat_##T##_##D(data, w, bounds, leaves, nl,   \
                                      q, bw2, acc);
#define MS_ROWS_DISPATCH(T, CT)                                      \
static double ms_leaves_rows_##T(Py_ssize_t d, const CT *data,       \
                                 const double *w,                    \
                                 const Py_ssize_t *bounds,           \
                                 const Py_ssize_t *leaves,           \
                                 Py_ssize_t nl, const double *q,     \
                                 double bw2, double *acc)            \
{                                                                    \
    switch (d) {                                                     \
        MS_ROWS_CASE(T, 1) MS_ROWS_CASE(T, 2)                        \
    }                                                                \
    return NAN;                                                      \
}
MS_ROWS_DISPATCH(f64, double)
MS_ROWS_DISPATCH(f32, float)

#endif /* MEANSHIFT_MS_LEAVES_H */
