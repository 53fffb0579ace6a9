# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False, nonecheck=False
"""Compiled kernels of meanshift.

Every kernel here is a plain function of arrays: it holds no Python object
and no GIL while it works, reports failure by return code, and is
deterministic: a seed's result depends only on the seed and the data, never
on the number of threads or the order in which they run.

The stages are separate primitives that the Python layer composes:

* ``build_tree``          ball tree in flat arrays, with per-node aggregates
* ``ball_sums``           one mean shift step for many positions at once
* ``climb``               the whole hill climb for many seeds at once
* ``bin_cells``           grid cells of the points (bin seeding), in order
* ``dedupe_and_rank``     drop exact duplicate centers, order by intensity
* ``suppress``            remove centers within bandwidth of a stronger one
* ``assign``              nearest center of every point (labels, predict)
* ``kth_neighbor_dist``   distance to the k-th nearest point (bandwidth)

Distances are always computed in float64, coordinate by coordinate in
order, whatever the dtype of the data; sums are accumulated in float64.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport INFINITY, NAN, exp, frexp, ldexp, rint, rintf, sqrt
from libc.stdint cimport uint64_t
from libc.stdlib cimport free, malloc, qsort, realloc
from libc.string cimport memcpy, memset

import numpy as np

from ._openmp cimport (MS_HAVE_OPENMP, ms_dispensed, ms_dispenser,
                      ms_dispenser_init, ms_grab, omp_get_max_threads,
                      omp_get_thread_num)

ctypedef Py_ssize_t intp

cdef extern from *:
    """
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
    MS_CLONES static double ms_sqdist_hd_f64(const double *row, const double *q,
                                             Py_ssize_t d, double bound)
    { MS_SQDIST_BODY(ms_load4) }
    MS_CLONES static double ms_sqdist_hd_f32(const float *row, const double *q,
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
    static double ms_sqdist_hd_f64(const double *row, const double *q,
                                   Py_ssize_t d, double bound)
    { MS_SQDIST_PLAIN }
    static double ms_sqdist_hd_f32(const float *row, const double *q,
                                   Py_ssize_t d, double bound)
    { MS_SQDIST_PLAIN }
    #endif

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
    /* the scan for d columns (3 to 8), with weights where w is not NULL */
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
        return -1.0;                                                     \
    }
    MS_LEAVES_DISPATCH(f64, double)
    MS_LEAVES_DISPATCH(f32, float)

    /* Nearest of kc centers (C: kc x d, row-major) for a block of
       MS_BLOCK points stored by coordinate (xs[k * MS_BLOCK + p]): the
       loops run over the points of the block, innermost, so they
       vectorise; each distance is still summed in coordinate order, and
       the strict comparison keeps the first (strongest) center on ties.
       best/bi come in initialised (INFINITY, 0). */
    /* floor(log2(x)) for x >= 1: the level of tree node x - 1 */
    #if defined(__GNUC__) || defined(__clang__)
    static inline int ms_floor_log2(unsigned long long x)
    { return 63 - __builtin_clzll(x); }
    #elif defined(_MSC_VER) && defined(_WIN64)
    #include <intrin.h>
    static inline int ms_floor_log2(unsigned long long x)
    { unsigned long i; _BitScanReverse64(&i, x); return (int)i; }
    #else
    static inline int ms_floor_log2(unsigned long long x)
    { int r = 0; while (x >>= 1) r++; return r; }
    #endif

    #define MS_BLOCK 32
    #if defined(__GNUC__) || defined(__clang__)
    /* Eight points at a time held in registers (two vectors of four
       lanes) while every center goes by: their distances, best distances
       and best indices never go through memory.  The same operations in
       the same order as the portable loop below. */
    typedef long long ms_v4l __attribute__((vector_size(32)));
    MS_CLONES static void ms_nearest_block(const double *MS_RESTRICT xs,
                                           Py_ssize_t d,
                                           const double *MS_RESTRICT C,
                                           Py_ssize_t kc,
                                           double *MS_RESTRICT dist,
                                           double *MS_RESTRICT best,
                                           Py_ssize_t *MS_RESTRICT bi)
    {
        (void)dist;
        for (Py_ssize_t p = 0; p < MS_BLOCK; p += 8) {
            ms_v4d b0 = ms_load4(best + p), b1 = ms_load4(best + p + 4);
            ms_v4l i0 = {0, 0, 0, 0}, i1 = i0;
            for (Py_ssize_t j = 0; j < kc; j++) {
                const double *c = C + j * d;
                ms_v4d t0 = ms_load4(xs + p) - c[0];
                ms_v4d t1 = ms_load4(xs + p + 4) - c[0];
                ms_v4d d0 = t0 * t0, d1 = t1 * t1;
                for (Py_ssize_t k = 1; k < d; k++) {
                    const double *x = xs + k * MS_BLOCK + p;
                    t0 = ms_load4(x) - c[k];
                    t1 = ms_load4(x + 4) - c[k];
                    d0 += t0 * t0;
                    d1 += t1 * t1;
                }
                ms_v4l m0 = d0 < b0, m1 = d1 < b1;   /* strict: first wins ties */
                ms_v4l jj = {j, j, j, j};
                b0 = (ms_v4d)(((ms_v4l)d0 & m0) | ((ms_v4l)b0 & ~m0));
                b1 = (ms_v4d)(((ms_v4l)d1 & m1) | ((ms_v4l)b1 & ~m1));
                i0 = (jj & m0) | (i0 & ~m0);
                i1 = (jj & m1) | (i1 & ~m1);
            }
            __builtin_memcpy(best + p, &b0, sizeof b0);
            __builtin_memcpy(best + p + 4, &b1, sizeof b1);
            for (int q = 0; q < 4; q++) {
                bi[p + q] = (Py_ssize_t)i0[q];
                bi[p + 4 + q] = (Py_ssize_t)i1[q];
            }
        }
    }
    #else
    MS_CLONES static void ms_nearest_block(const double *MS_RESTRICT xs,
                                           Py_ssize_t d,
                                           const double *MS_RESTRICT C,
                                           Py_ssize_t kc,
                                           double *MS_RESTRICT dist,
                                           double *MS_RESTRICT best,
                                           Py_ssize_t *MS_RESTRICT bi)
    {
        for (Py_ssize_t j = 0; j < kc; j++) {
            const double *c = C + j * d;
            for (Py_ssize_t p = 0; p < MS_BLOCK; p++) {
                double t = xs[p] - c[0];
                dist[p] = t * t;
            }
            for (Py_ssize_t k = 1; k < d; k++) {
                const double ck = c[k];
                const double *MS_RESTRICT x = xs + k * MS_BLOCK;
                for (Py_ssize_t p = 0; p < MS_BLOCK; p++) {
                    double t = x[p] - ck;
                    dist[p] += t * t;
                }
            }
            for (Py_ssize_t p = 0; p < MS_BLOCK; p++) {
                int closer = dist[p] < best[p];
                best[p] = closer ? dist[p] : best[p];
                bi[p] = closer ? j : bi[p];
            }
        }
    }
    #endif
    """
    enum: MS_BLOCK
    double ms_leaves_flat_f64(intp d, const double* cols, const double* w,
                              const intp* bounds, const intp* leaves,
                              intp nl, const double* q, double bw2,
                              double* acc) noexcept nogil
    double ms_leaves_flat_f32(intp d, const float* cols, const double* w,
                              const intp* bounds, const intp* leaves,
                              intp nl, const double* q, double bw2,
                              double* acc) noexcept nogil
    int ms_floor_log2(unsigned long long x) noexcept nogil
    void ms_nearest_block(const double* xs, intp d, const double* C, intp kc,
                          double* dist, double* best, intp* bi) noexcept nogil
    double ms_sqdist_hd_f64(const double* row, const double* q, intp d,
                            double bound) noexcept nogil
    double ms_sqdist_hd_f32(const float* row, const double* q, intp d,
                            double bound) noexcept nogil

ctypedef fused seed_t:
    float
    double

# Every bound test on a node allows for rounding with this relative margin
# (plus a term growing with the dimension), so a node is only ever taken
# whole or skipped whole when the exact per-point test would agree on every
# one of its points.
cdef double DBL_EPS = 2.220446049250313e-16
cdef double BASE_REL_TOL = 1e-10


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(MS_HAVE_OPENMP)


def max_threads():
    """``omp_get_max_threads()``: honours OMP_NUM_THREADS and threadpoolctl."""
    return omp_get_max_threads()


# ---------------------------------------------------------------------------
# Alignment at the door
# ---------------------------------------------------------------------------

cdef object _aligned(object a):
    """``a`` as the kernels may read it: itself when each element sits at a
    multiple of its own size (numpy's ALIGNED flag, true of every array
    numpy allocates), else an aligned C-ordered copy.

    Reading a double through a ``double*`` at an address that is not a
    multiple of 8 is undefined behaviour in C: it happens to work on x86
    today, but a compiler may vectorise the loop with aligned loads, and
    strict-alignment CPUs fault or read wrongly.  Such arrays are real:
    Dask deserializes chunks and seeds from network frames at odd
    addresses, and ``np.frombuffer(buf, offset=1)``, fields of packed record
    arrays and memory maps behind an odd header make them too.  Every
    public kernel passes its array arguments through here first, so the
    hot loops read only aligned memory and stay as they are; the copy (one
    pass, the copy ``check_array`` makes of a non-contiguous input anyway)
    happens only for a misaligned array."""
    if a is None:
        return a
    arr = np.asarray(a)
    if arr.flags.aligned:
        return a
    return np.array(arr, order="C", copy=True)


cdef int _check_out(object a, str name) except -1:
    """An output array is written in place: it cannot be replaced by a
    copy, so a misaligned one is refused."""
    if not np.asarray(a).flags.aligned:
        raise ValueError(f"{name} must be aligned (an array numpy allocated)")
    return 0


# ---------------------------------------------------------------------------
# Ball tree in flat arrays
# ---------------------------------------------------------------------------

cdef struct Tree:
    intp n
    intp d
    intp n_nodes
    intp first_leaf       # nodes >= first_leaf are leaves
    intp n_levels
    const intp* idx       # original row of each permuted row, or NULL
    const intp* bounds    # n_leaves + 1: first permuted row of each leaf,
                          # then n (a node's rows: _node_lo, _node_hi)
    const double* centroid  # n_nodes x d, or NULL (no balls)
    const double* radius    # n_nodes: bound on the distance centroid->point
    const double* sums      # n_nodes x d: coordinate sums of its points
    const void* box       # n_nodes x 2d: per coordinate min, then max, in
                          # the data's dtype (they are values of the data)
    double rel            # relative rounding allowance of bound tests
    const double* w       # permuted sample weights (n), NULL: every weight 1
    const double* wsum    # n_nodes: sum of the weights of its points (with w)
    const double* mom     # n_nodes x nm: moments about the centroid, or NULL
    intp nm               # 2d + 1 + d(d+1)/2: sum w y, sum w|y|^2,
                          # sum w|y|^2 y, sum w y y^T (upper triangle)
    const void* cols      # the rows again, leaf by leaf stored by coordinate
                          # (leaf_columns), or NULL


cdef class BallTree:
    """Flat-array ball tree over one permuted copy of the data.

    Node ``i`` has children ``2i+1`` and ``2i+2``; nodes at or after
    ``first_leaf`` are leaves, all on the last level.  ``data`` is the
    permuted copy (C order, dtype of the input), ``idx[j]`` the input row of
    ``data[j]`` (None for a tree built with ``index=False``).  ``bounds``
    holds the first row of each leaf, then n: a node's rows are those of
    its leaves (``start`` and ``end``, per node, are computed from it on
    demand).  Per node: the coordinate sums of its points (float64; its
    count is ``end - start``), its bounding box (``box``: per coordinate
    the min, then the max, in the data's dtype), and its centroid and
    radius (float64; None for a tree built with ``balls=False``).  With
    ``leaf_columns=True`` the tree holds its rows a second time, each leaf's
    stored by coordinate (``cols``, flat, in the data's dtype: coordinate
    k of the j-th of a leaf's m rows at ``cols[start * d + k * m + j]``),
    which the flat kernel's leaf scans read four points at a time.  The
    kernels that take a tree take its data too: always ``tree.data``, the
    permuted copy, never the input rows.
    """

    cdef readonly object data
    cdef readonly object idx
    cdef readonly object bounds
    cdef readonly object centroid
    cdef readonly object radius
    cdef readonly object sums
    cdef readonly object box
    cdef readonly object w
    cdef readonly object wsum
    cdef readonly object mom
    cdef readonly object cols
    cdef readonly intp n_levels
    cdef readonly double rel
    cdef Tree t

    def __len__(self):
        return self.t.n

    @property
    def n_nodes(self):
        return self.t.n_nodes

    def _ranges(self):
        node = np.arange(self.t.n_nodes, dtype=np.int64)
        level = np.zeros(self.t.n_nodes, dtype=np.int64)
        for lv in range(1, self.n_levels):
            level[(1 << lv) - 1:] = lv
        h = self.n_levels - 1 - level
        base = self.t.first_leaf + 1
        return (self.bounds[((node + 1) << h) - base],
                self.bounds[((node + 2) << h) - base])

    @property
    def start(self):
        """Per node, its first row of ``data`` (computed from ``bounds``)."""
        return self._ranges()[0]

    @property
    def end(self):
        """Per node, one past its last row of ``data``."""
        return self._ranges()[1]

    cdef void _bind(self):
        cdef intp[::1] idx
        cdef intp[::1] bounds = self.bounds
        cdef double[:, ::1] centroid
        cdef double[::1] radius
        cdef double[:, ::1] sums = self.sums
        cdef float[:, ::1] box32
        cdef double[:, ::1] box64
        self.t.n = self.data.shape[0]
        self.t.d = sums.shape[1]
        self.t.n_nodes = 2 * bounds.shape[0] - 3
        self.t.first_leaf = (self.t.n_nodes - 1) // 2
        self.t.n_levels = self.n_levels
        self.t.idx = NULL
        if self.idx is not None:
            idx = self.idx
            self.t.idx = &idx[0]
        self.t.bounds = &bounds[0]
        self.t.centroid = NULL
        self.t.radius = NULL
        if self.centroid is not None:
            centroid = self.centroid
            radius = self.radius
            self.t.centroid = &centroid[0, 0]
            self.t.radius = &radius[0]
        self.t.sums = &sums[0, 0]
        if self.box.dtype == np.float32:
            box32 = self.box
            self.t.box = &box32[0, 0]
        else:
            box64 = self.box
            self.t.box = &box64[0, 0]
        self.t.rel = self.rel
        cdef double[::1] w, wsum
        cdef double[:, ::1] mom
        self.t.w = NULL
        self.t.wsum = NULL
        self.t.mom = NULL
        self.t.nm = 0
        if self.w is not None:
            w = self.w
            wsum = self.wsum
            self.t.w = &w[0]
            self.t.wsum = &wsum[0]
        cdef float[::1] cols32
        cdef double[::1] cols64
        self.t.cols = NULL
        if self.cols is not None:
            if self.cols.dtype == np.float32:
                cols32 = self.cols
                self.t.cols = &cols32[0]
            else:
                cols64 = self.cols
                self.t.cols = &cols64[0]
        if self.mom is not None:
            mom = self.mom
            self.t.mom = &mom[0, 0]
            self.t.nm = mom.shape[1]


def tree_levels(intp n, intp leaf_size):
    """Number of levels of a tree whose leaves hold at most ``leaf_size``."""
    cdef intp levels = 1
    if leaf_size < 1:
        leaf_size = 1
    while n > leaf_size and levels < 48:
        n = (n + 1) // 2
        levels += 1
    return levels


cdef inline intp _node_lo(const Tree* t, intp node) noexcept nogil:
    """First row of node: that of its leftmost leaf."""
    cdef int h = (<int>t.n_levels - 1
                  - ms_floor_log2(<unsigned long long>node + 1))
    return t.bounds[((node + 1) << h) - (t.first_leaf + 1)]


cdef inline intp _node_hi(const Tree* t, intp node) noexcept nogil:
    """One past the last row of node: that of its rightmost leaf."""
    cdef int h = (<int>t.n_levels - 1
                  - ms_floor_log2(<unsigned long long>node + 1))
    return t.bounds[((node + 2) << h) - (t.first_leaf + 1)]


cdef inline intp _node_count(const Tree* t, intp node) noexcept nogil:
    """Number of rows of node: _node_hi - _node_lo."""
    cdef int h = (<int>t.n_levels - 1
                  - ms_floor_log2(<unsigned long long>node + 1))
    cdef const intp* b = t.bounds + (((node + 1) << h) - (t.first_leaf + 1))
    return b[(<intp>1) << h] - b[0]


cdef inline intp _leaf_lo(const Tree* t, intp node) noexcept nogil:
    return t.bounds[node - t.first_leaf]


cdef inline intp _leaf_hi(const Tree* t, intp node) noexcept nogil:
    return t.bounds[node - t.first_leaf + 1]


cdef inline void _swap_rows(floating* data, intp* idx, double* w, intp d,
                            intp a, intp b) noexcept nogil:
    """Swap rows a and b of the data, and of idx and w where given."""
    cdef intp k, ti
    cdef floating v
    cdef double tw
    if idx != NULL:
        ti = idx[a]
        idx[a] = idx[b]
        idx[b] = ti
    if w != NULL:
        tw = w[a]
        w[a] = w[b]
        w[b] = tw
    for k in range(d):
        v = data[a * d + k]
        data[a * d + k] = data[b * d + k]
        data[b * d + k] = v


cdef void _select(floating* data, intp* idx, double* w, intp d, intp dim,
                  intp lo, intp hi, intp kth) noexcept nogil:
    """Reorder rows [lo, hi) so that row kth holds the kth smallest value of
    column dim, with no larger value before it and no smaller one after."""
    cdef intp l = lo, r = hi - 1, i, j, m
    cdef floating x, a, b, c
    while l < r:
        m = l + (r - l) // 2
        a = data[l * d + dim]
        b = data[m * d + dim]
        c = data[r * d + dim]
        # median of three as pivot value (it is present in [l, r])
        if a < b:
            x = b if b < c else (c if a < c else a)
        else:
            x = a if a < c else (c if b < c else b)
        i = l
        j = r
        while True:
            while data[i * d + dim] < x:
                i += 1
            while x < data[j * d + dim]:
                j -= 1
            if i <= j:
                _swap_rows(data, idx, w, d, i, j)
                i += 1
                j -= 1
            if i > j:
                break
        if j < kth:
            l = i
        if kth < i:
            r = j


cdef intp _split_node(floating* data, intp* idx, double* w, intp d,
                      intp s, intp e) noexcept nogil:
    """Split rows [s, e) at their middle along the coordinate of widest
    spread; returns the middle (the right child's first row)."""
    cdef intp p, k, dim = 0
    cdef intp mid = s + (e - s) // 2
    cdef double lo, hi, v, spread, best = -1.0
    for k in range(d):
        lo = INFINITY
        hi = -INFINITY
        for p in range(s, e):
            v = data[p * d + k]
            if v < lo:
                lo = v
            if v > hi:
                hi = v
        spread = hi - lo
        if spread > best:
            best = spread
            dim = k
    if e - s > 1:
        _select(data, idx, w, d, dim, s, e, mid)
    return mid


cdef void _leaf_stats(const floating* data, intp d, intp s, intp e,
                      double* centroid, double* radius,
                      double* sums, floating* box, intp node) noexcept nogil:
    """Sums and box of a leaf (rows [s, e)); with centroid (not NULL), its
    centroid and radius too."""
    cdef intp p, k
    cdef double* c
    cdef double* sm = sums + node * d
    cdef floating* lo = box + node * 2 * d
    cdef floating* hi = lo + d
    cdef double diff, d2, rmax = 0.0
    cdef floating v
    for k in range(d):
        sm[k] = 0.0
        lo[k] = INFINITY
        hi[k] = -INFINITY
    for p in range(s, e):
        for k in range(d):
            v = data[p * d + k]
            sm[k] += v
            if v < lo[k]:
                lo[k] = v
            if v > hi[k]:
                hi[k] = v
    if centroid == NULL:
        return
    c = centroid + node * d
    for k in range(d):
        c[k] = sm[k] / (e - s) if e > s else 0.0
    for p in range(s, e):
        d2 = 0.0
        for k in range(d):
            diff = data[p * d + k] - c[k]
            d2 += diff * diff
        if d2 > rmax:
            rmax = d2
    radius[node] = sqrt(rmax)


cdef void _inner_stats(const floating* data, intp d, intp s, intp e,
                       double* centroid, double* radius,
                       double* sums, floating* box, intp node) noexcept nogil:
    """Aggregates of an inner node (rows [s, e)): sums and box from its
    children; with centroid (not NULL), its centroid and its radius, exact
    (the farthest of its points from its centroid)."""
    cdef intp k, p
    cdef double* c
    cdef double* sm = sums + node * d
    cdef floating* b = box + node * 2 * d
    cdef const floating* bl = box + (2 * node + 1) * 2 * d
    cdef const floating* br = box + (2 * node + 2) * 2 * d
    cdef double diff, d2, rmax = 0.0
    for k in range(d):
        sm[k] = sums[(2 * node + 1) * d + k] + sums[(2 * node + 2) * d + k]
        b[k] = bl[k] if bl[k] < br[k] else br[k]
        b[d + k] = bl[d + k] if bl[d + k] > br[d + k] else br[d + k]
    if centroid == NULL:
        return
    c = centroid + node * d
    for k in range(d):
        c[k] = sm[k] / (e - s) if e > s else 0.0
    for p in range(s, e):
        d2 = 0.0
        for k in range(d):
            diff = data[p * d + k] - c[k]
            d2 += diff * diff
        if d2 > rmax:
            rmax = d2
    radius[node] = sqrt(rmax)


cdef void _build_subtree(floating* data, intp* idx, double* w, intp d,
                         intp* bounds, double* centroid,
                         double* radius, double* sums, floating* box,
                         intp first_leaf, intp node, intp s,
                         intp e) noexcept nogil:
    """Split the rows [s, e) of node recursively (idx and w, where not
    NULL, permuted with them) and fill the aggregates of every node below
    it, children before parents, and the bounds of its leaves."""
    cdef intp mid
    if node >= first_leaf:
        bounds[node - first_leaf] = s
        _leaf_stats(data, d, s, e, centroid, radius, sums, box, node)
        return
    mid = _split_node(data, idx, w, d, s, e)
    _build_subtree(data, idx, w, d, bounds, centroid, radius, sums, box,
                   first_leaf, 2 * node + 1, s, mid)
    _build_subtree(data, idx, w, d, bounds, centroid, radius, sums, box,
                   first_leaf, 2 * node + 2, mid, e)
    _inner_stats(data, d, s, e, centroid, radius, sums, box, node)


cdef void _weighted_leaf(const floating* data, const double* w, intp d,
                         intp s, intp e, double* wsum, double* sm) noexcept nogil:
    """Weight sum and weighted coordinate sums of rows [s, e), added in the
    order _leaf_stats adds the plain sums (so weights of 1 give the same
    sums, bit for bit)."""
    cdef intp p, k
    cdef double wi, ws = 0.0
    for k in range(d):
        sm[k] = 0.0
    for p in range(s, e):
        wi = w[p]
        ws += wi
        for k in range(d):
            sm[k] += wi * data[p * d + k]
    wsum[0] = ws


cdef void _node_moments(const floating* data, const double* w, intp d,
                        intp s, intp e, const double* c,
                        double* m) noexcept nogil:
    """Moments of rows [s, e) about c (y = x - c, weights w or 1): sum w y
    (d), sum w |y|^2 (1), sum w |y|^2 y (d), sum w y y^T (upper triangle,
    row by row).  They give a node's Epanechnikov sums for any query in
    O(d^2) without its points."""
    cdef intp nm = 2 * d + 1 + d * (d + 1) // 2, p, k, j, i
    cdef double wi, r2, yk, wyk, wr2
    cdef const floating* row
    cdef double* S1 = m
    cdef double* S2 = m + d
    cdef double* T3 = m + d + 1
    cdef double* M = m + 2 * d + 1
    for k in range(nm):
        m[k] = 0.0
    for p in range(s, e):
        row = data + p * d
        wi = w[p] if w != NULL else 1.0
        r2 = 0.0
        for k in range(d):
            yk = row[k] - c[k]
            r2 += yk * yk
        S2[0] += wi * r2
        wr2 = wi * r2
        i = 0
        for k in range(d):
            yk = row[k] - c[k]
            wyk = wi * yk
            S1[k] += wyk
            T3[k] += wr2 * yk
            for j in range(k, d):
                M[i] += wyk * (row[j] - c[j])
                i += 1


cdef void _copy_rows(const floating[:, :] X, floating* data, intp n, intp d,
                     int n_threads) noexcept nogil:
    cdef intp i, k
    for i in prange(n, schedule='static', num_threads=n_threads):
        for k in range(d):
            data[i * d + k] = X[i, k]


cdef void _leaf_columns(const floating* data, const intp* bounds,
                        intp n_leaves, intp d, floating* cols,
                        int n_threads) noexcept nogil:
    """Each leaf's rows again, stored by coordinate: coordinate k of its
    j-th row at cols[lo * d + k * m + j] (lo its first row, m its rows)."""
    cdef intp leaf, lo, m, j, k
    for leaf in prange(n_leaves, schedule='static', num_threads=n_threads):
        lo = bounds[leaf]
        m = bounds[leaf + 1] - lo
        for j in range(m):
            for k in range(d):
                cols[lo * d + k * m + j] = data[(lo + j) * d + k]


def build_tree(const floating[:, :] X, intp leaf_size=32, int n_threads=1,
               weights=None, bint moments=False, bint index=True,
               bint balls=True, bint leaf_columns=False):
    """Build a :class:`BallTree` over the rows of X (any strides).

    The tree keeps a permuted C-ordered copy of X in X's dtype (``data``:
    the kernels that take a tree are given this copy); node sums are
    float64, node boxes in X's dtype, centroids and radii float64.  With
    ``weights`` (float64, one per row, non-negative) the node sums are
    weighted sums and each node also holds the sum of its weights; with
    ``moments`` each node holds the moments the Epanechnikov kernel needs
    (see _node_moments).

    A tree for climbs alone can leave out what they do not use:
    ``index=False`` keeps no permutation (``idx`` is None: suppress and
    kth_neighbor_dist need it), ``balls=False`` no centroids and radii
    where the climb bounds nodes by their boxes (up to 2 columns, without
    moments; suppress, assign and kth_neighbor_dist need them).  What is
    kept is the same either way, bit for bit.  ``leaf_columns=True`` adds
    a copy of the rows, leaf by leaf stored by coordinate (``cols``), for
    the flat kernel's vectorised leaf scans, with 3 to 8 columns (other
    trees keep none: ``cols`` is None); their sums add up
    the points in another order, so results agree with a tree without
    columns to rounding.
    """
    X = _aligned(X)
    cdef intp n = X.shape[0], d = X.shape[1]
    cdef intp n_levels = tree_levels(n, leaf_size)
    cdef intp n_nodes = (<intp>1 << n_levels) - 1
    cdef intp first_leaf = (n_nodes - 1) // 2
    cdef intp level, node, top, s, e, mid
    if n == 0 or d == 0:
        raise ValueError("cannot build a tree over an empty array")
    if d > BOX_MAX_D or moments:
        balls = True
    dtype = np.float32 if floating is float else np.float64
    data_arr = np.empty((n, d), dtype=dtype)
    idx_arr = np.arange(n, dtype=np.intp) if index else None
    bounds_arr = np.zeros(first_leaf + 2, dtype=np.intp)
    # rows of the nodes split before the parallel region (a few levels)
    top_arr = np.zeros(2 * n_nodes if n_nodes < 512 else 1024, dtype=np.intp)
    centroid_arr = np.zeros((n_nodes, d), dtype=np.float64) if balls else None
    radius_arr = np.zeros(n_nodes, dtype=np.float64) if balls else None
    sums_arr = np.zeros((n_nodes, d), dtype=np.float64)
    box_arr = np.zeros((n_nodes, 2 * d), dtype=dtype)
    w_arr = None
    if weights is not None:
        w_arr = np.array(weights, dtype=np.float64, order="C")  # a copy
        if w_arr.shape != (n,):
            raise ValueError("weights must hold one value per row")
        # padded, a view of the first n: the column scans read past the
        # last leaf's weights (and mask them out)
        w_arr = np.concatenate([w_arr, np.zeros(4)])[:n]
    cdef floating[:, ::1] data = data_arr
    cdef intp[::1] idx_view
    cdef double[::1] w_view
    cdef intp* idx = NULL
    cdef double* w = NULL
    cdef intp[::1] bounds = bounds_arr
    cdef intp[::1] top_se = top_arr
    cdef double[:, ::1] centroid_view
    cdef double[::1] radius_view
    cdef double* centroid = NULL
    cdef double* radius = NULL
    cdef double[:, ::1] sums = sums_arr
    cdef floating[:, ::1] box = box_arr
    if index:
        idx_view = idx_arr
        idx = &idx_view[0]
    if w_arr is not None:
        w_view = w_arr
        w = &w_view[0]
    if balls:
        centroid_view = centroid_arr
        radius_view = radius_arr
        centroid = &centroid_view[0, 0]
        radius = &radius_view[0]
    if n * d < 65536:
        n_threads = 1      # a parallel region costs more than the work
    with nogil:
        _copy_rows(X, &data[0, 0], n, d, n_threads)
        top_se[0] = 0
        top_se[1] = n
        bounds[first_leaf + 1] = n
        # The top levels are split in this thread until there are a few
        # subtrees per thread; each subtree is then built whole by one
        # thread, so the build is one parallel region with no barrier per
        # level (barriers stall when another process holds a core).
        top = 0
        while (top < n_levels - 1 and (<intp>1 << top) < 4 * n_threads
               and (<intp>2 << top) <= 256):
            top += 1
        if n_threads == 1:
            top = 0
        for level in range(top):
            for node in range((<intp>1 << level) - 1, (<intp>1 << (level + 1)) - 1):
                s = top_se[2 * node]
                e = top_se[2 * node + 1]
                mid = _split_node(&data[0, 0], idx, w, d, s, e)
                top_se[2 * (2 * node + 1)] = s
                top_se[2 * (2 * node + 1) + 1] = mid
                top_se[2 * (2 * node + 2)] = mid
                top_se[2 * (2 * node + 2) + 1] = e
        for node in prange((<intp>1 << top) - 1, (<intp>1 << (top + 1)) - 1,
                           schedule='dynamic', num_threads=n_threads):
            _build_subtree(&data[0, 0], idx, w, d, &bounds[0],
                           centroid, radius, &sums[0, 0], &box[0, 0],
                           first_leaf, node, top_se[2 * node],
                           top_se[2 * node + 1])
        for level in range(top - 1, -1, -1):
            for node in range((<intp>1 << level) - 1, (<intp>1 << (level + 1)) - 1):
                _inner_stats(&data[0, 0], d, top_se[2 * node],
                             top_se[2 * node + 1], centroid, radius,
                             &sums[0, 0], &box[0, 0], node)
    cdef floating[::1] cols
    cols_arr = None
    if leaf_columns and 3 <= d <= 8:
        # padded: the vector scan of the last leaf reads past its end
        cols_arr = np.zeros(n * d + 4, dtype=dtype)
        cols = cols_arr
        with nogil:
            _leaf_columns(&data[0, 0], &bounds[0], first_leaf + 1, d,
                          &cols[0], n_threads)
    cdef BallTree tree = BallTree.__new__(BallTree)
    cdef double[::1] wsum_view
    cdef double[:, ::1] mom_view
    tree.data = data_arr
    tree.idx = idx_arr
    tree.bounds = bounds_arr
    tree.centroid = centroid_arr
    tree.radius = radius_arr
    tree.sums = sums_arr
    tree.box = box_arr
    tree.n_levels = n_levels
    tree.w = None
    tree.wsum = None
    tree.mom = None
    tree.cols = cols_arr
    if weights is not None:
        tree.w = w_arr          # permuted with the rows
        tree.wsum = np.zeros(n_nodes, dtype=np.float64)
        wsum_view = tree.wsum
        _weighted_aggregates(w_view, wsum_view, data, bounds, sums,
                             first_leaf, n_threads)
    if moments:
        tree.mom = np.zeros((n_nodes, 2 * d + 1 + d * (d + 1) // 2),
                            dtype=np.float64)
        mom_view = tree.mom
    # rounding of a distance is ~ (d + 3) eps relative; radii of inner
    # nodes add one such error per level
    tree.rel = BASE_REL_TOL + 8.0 * (d + 4) * (n_levels + 2) * DBL_EPS
    tree._bind()
    if moments:   # (over the node ranges of the bound tree)
        _all_moments(tree.w, mom_view, data, &tree.t, centroid_view,
                     n_threads)
    return tree


cdef void _weighted_aggregates(const double[::1] w, double[::1] wsum,
                               const floating[:, ::1] data,
                               const intp[::1] bounds,
                               double[:, ::1] sums, intp first_leaf,
                               int n_threads):
    """Weighted node sums: leaves from their rows, inner nodes from their
    children (as the plain sums are formed)."""
    cdef intp n_nodes = 2 * first_leaf + 1, d = data.shape[1], node, k
    if n_nodes * d < 8192:
        n_threads = 1
    with nogil:
        for node in prange(first_leaf, n_nodes, schedule='static',
                           num_threads=n_threads):
            _weighted_leaf(&data[0, 0], &w[0], d, bounds[node - first_leaf],
                           bounds[node - first_leaf + 1],
                           &wsum[node], &sums[node, 0])
        for node in range(first_leaf - 1, -1, -1):
            wsum[node] = wsum[2 * node + 1] + wsum[2 * node + 2]
            for k in range(d):
                sums[node, k] = sums[2 * node + 1, k] + sums[2 * node + 2, k]


cdef void _all_moments(w_obj, double[:, ::1] mom, const floating[:, ::1] data,
                       const Tree* t, const double[:, ::1] centroid,
                       int n_threads):
    cdef intp n_nodes = t.n_nodes, d = data.shape[1], node
    cdef const double* w = NULL
    cdef const double[::1] wv
    if w_obj is not None:
        wv = w_obj
        w = &wv[0]
    if data.shape[0] * d < 16384:
        n_threads = 1
    with nogil:
        for node in prange(n_nodes, schedule='dynamic', chunksize=16,
                           num_threads=n_threads):
            _node_moments(&data[0, 0], w, d, _node_lo(t, node),
                          _node_hi(t, node),
                          &centroid[node, 0], &mom[node, 0])


# ---------------------------------------------------------------------------
# The kernels: weighted sums of the points within reach
# ---------------------------------------------------------------------------

cdef inline double _sqdist_bounded(const floating* row, const double* q,
                                   intp d, double bound) noexcept nogil:
    """Squared distance between a row and q: the one per-point test.

    Up to 16 dimensions it is summed in coordinate order (as scikit-learn's
    trees do, so both decide boundary points alike).  Above (where
    scikit-learn computes distances through a matrix product), blocks of
    coordinates are summed with SIMD and the sum may stop early, returning
    a partial sum, once it exceeds bound: partial sums of non-negative terms
    only grow, so the comparison with bound is the same as with the full
    sum.
    """
    cdef intp k
    cdef double diff, d2 = 0.0
    if d <= 16:
        for k in range(d):
            diff = <double>row[k] - q[k]
            d2 += diff * diff
        return d2
    if floating is double:
        return ms_sqdist_hd_f64(row, q, d, bound)
    else:
        return ms_sqdist_hd_f32(row, q, d, bound)


# Up to this many dimensions node bounds are boxes, above they are balls.
cdef enum:
    BOX_MAX_D = 2

# The kernels (k(r) the weight of a point at distance r, bw the bandwidth):
# flat k = 1 for r <= bw; Epanechnikov k = 1 - (r/bw)^2 for r <= bw;
# Gaussian k = exp(-r^2 / (2 bw^2)) for r <= 3 bw.
cdef enum:
    KERNEL_FLAT = 0
    KERNEL_EPANECHNIKOV = 1
    KERNEL_GAUSSIAN = 2

KERNELS = {"flat": KERNEL_FLAT, "epanechnikov": KERNEL_EPANECHNIKOV,
           "gaussian": KERNEL_GAUSSIAN}


cdef inline double _reach(double bw, int kern) noexcept nogil:
    """Distance beyond which a kernel gives no weight."""
    return 3.0 * bw if kern == KERNEL_GAUSSIAN else bw


cdef inline double _kernel_weight(int kern, double d2, double bw2,
                                  double inv2) noexcept nogil:
    """k(r) for a point within reach at squared distance d2 (inv2 is
    1 / (2 bw2)).  A point at distance 0 weighs 1 under every kernel, a
    zero bandwidth included (where 1 - 0/0 and exp(-0 * inf) would be
    NaN): a point is within bandwidth 0 of itself."""
    if kern == KERNEL_FLAT or d2 == 0.0:
        return 1.0
    if kern == KERNEL_EPANECHNIKOV:
        return 1.0 - d2 / bw2
    return exp(-d2 * inv2)


cdef inline bint _box_is_point(const floating* bx, intp d) noexcept nogil:
    """Whether a node's box (per coordinate the min, then the max) holds a
    single point: every point of the node is the same (duplicate rows).
    The first unequal coordinate ends the test."""
    cdef intp k
    for k in range(d):
        if bx[k] != bx[d + k]:
            return False
    return True


cdef inline double _epan_node(const Tree* t, intp node, const double* q,
                              intp d, double bw2, double* acc) noexcept nogil:
    """A node wholly within bw under the Epanechnikov kernel: add
    sum w k(r) x to acc and return sum w k(r), from the node's moments about
    its centroid c (p = q - c, y = x - c, r^2 = |y - p|^2):
    sum w r^2 = S2 - 2 p.S1 + |p|^2 S0 and
    sum w r^2 x = c sum w r^2 + T3 - 2 M p + |p|^2 S1."""
    cdef const double* c = t.centroid + node * d
    cdef const double* m = t.mom + node * t.nm
    cdef const double* S1 = m
    cdef double S2 = m[d]
    cdef const double* T3 = m + d + 1
    cdef const double* M = m + 2 * d + 1
    cdef double S0, pp = 0.0, pS1 = 0.0, Q, kw, mp, pk
    cdef intp k, j
    S0 = (t.wsum[node] if t.wsum != NULL
          else <double>(_node_count(t, node)))
    for k in range(d):
        pk = q[k] - c[k]
        pp += pk * pk
        pS1 += pk * S1[k]
    Q = S2 - 2.0 * pS1 + pp * S0
    kw = S0 - Q / bw2
    for k in range(d):
        # (M p)_k from the upper triangle: M[k][j] for j >= k at
        # k*d - k*(k-1)/2 + (j - k), M[j][k] for j < k
        mp = 0.0
        for j in range(d):
            if j >= k:
                mp += M[k * d - k * (k - 1) // 2 + (j - k)] * (q[j] - c[j])
            else:
                mp += M[j * d - j * (j - 1) // 2 + (k - j)] * (q[j] - c[j])
        acc[k] += c[k] * kw + S1[k] - (T3[k] - 2.0 * mp + pp * S1[k]) / bw2
    return kw


# Dimension tags: the traversal is written once and compiled once per tag,
# with the number of columns a constant in each copy (1 to 8; DimAny: any),
# so that the compiler unrolls the coordinate loops.
cdef struct Dim1:
    char tag
cdef struct Dim2:
    char tag
cdef struct Dim3:
    char tag
cdef struct Dim4:
    char tag
cdef struct Dim5:
    char tag
cdef struct Dim6:
    char tag
cdef struct Dim7:
    char tag
cdef struct Dim8:
    char tag
cdef struct DimAny:
    char tag

ctypedef fused dim_t:
    Dim1
    Dim2
    Dim3
    Dim4
    Dim5
    Dim6
    Dim7
    Dim8
    DimAny


# Kernel tags, likewise: one copy of the traversal per kernel.
cdef struct KernFlat:
    char tag
cdef struct KernEpanechnikov:
    char tag
cdef struct KernGaussian:
    char tag

ctypedef fused kern_t:
    KernFlat
    KernEpanechnikov
    KernGaussian


cdef inline int _kern(kern_t* tag) noexcept nogil:
    if kern_t is KernFlat:
        return KERNEL_FLAT
    elif kern_t is KernEpanechnikov:
        return KERNEL_EPANECHNIKOV
    else:
        return KERNEL_GAUSSIAN


cdef inline intp _dims(const Tree* t, dim_t* tag) noexcept nogil:
    """The number of columns, a compile-time constant for Dim1 to Dim8."""
    if dim_t is Dim1:
        return 1
    elif dim_t is Dim2:
        return 2
    elif dim_t is Dim3:
        return 3
    elif dim_t is Dim4:
        return 4
    elif dim_t is Dim5:
        return 5
    elif dim_t is Dim6:
        return 6
    elif dim_t is Dim7:
        return 7
    elif dim_t is Dim8:
        return 8
    else:
        return t.d


cdef inline double _leaves_flat(const floating* cols, const Tree* t,
                                const intp* leaves, intp nl, const double* q,
                                double bw2, double* acc) noexcept nogil:
    """The flat-kernel scan of the leaves ``leaves`` (leaf numbers,
    node - first_leaf) over the tree's columns: ms_leaves_flat."""
    if floating is double:
        return ms_leaves_flat_f64(t.d, cols, t.w, t.bounds, leaves, nl, q,
                                  bw2, acc)
    else:
        return ms_leaves_flat_f32(t.d, cols, t.w, t.bounds, leaves, nl, q,
                                  bw2, acc)


cdef inline intp _scratch_size(const Tree* t) noexcept nogil:
    """The intp scratch _ball_sum takes: the traversal's stack, then (a
    tree with leaf columns) the list of leaves to scan."""
    return 2 * t.n_levels + 2 + (t.first_leaf + 1 if t.cols != NULL else 0)


cdef double _ball_sum_d(const floating* data, const Tree* t,
                        const double* q, dim_t* dim, double bw, double bw2,
                        bint exact_only, kern_t* kernel, double* acc,
                        intp* stack) noexcept nogil:
    """Add to acc the weighted coordinates sum w_i k(r_i) x_i of the points
    within the kernel's reach of q and return their weight
    sum w_i k(r_i) (w_i the sample weight, 1 without weights; for the flat
    kernel without weights, the number of points within bw: distance
    <= bw, i.e. squared distance <= bw2).

    In low dimensions a node is skipped when its bounding box is farther
    than reach * f from q and taken whole when its farthest corner is within
    bw / f; in higher ones the same with its ball: skipped when
    dc > (reach + r) * f, taken whole when dc + r <= bw / f (dc the distance
    from q to its centroid, r its radius).  f = (1 + rel) / (1 - rel): the
    margin rel covers every rounding error of these tests, so they agree
    with the exact per-point test on every point of the node.  Squares
    avoid the square root.  A node is taken whole with its sums (flat) or
    its moments (Epanechnikov); Gaussian nodes within reach are opened.
    """
    cdef intp d = _dims(t, dim)
    cdef int kern = _kern(kernel)
    cdef intp sp = 1, node, p, k, count = 0
    cdef double f = (1.0 + t.rel) / (1.0 - t.rel)
    cdef double reach = _reach(bw, kern)
    cdef double reach2 = bw2 if kern != KERNEL_GAUSSIAN else reach * reach
    cdef double bw_in = bw / f
    cdef double bw2_in = bw_in * bw_in
    cdef double bw2_out = reach * f * reach * f
    cdef double inv2 = 1.0 / (2.0 * bw2)
    cdef double diff, d2, lim, lo2, hi2, a, b, wi, total = 0.0
    cdef bint inside
    cdef bint use_box = d <= BOX_MAX_D
    cdef bint plain = kern == KERNEL_FLAT and t.w == NULL
    # the flat kernel's leaf scans, vectorised over the leaves' columns
    # (3 to 8 columns: trees with other numbers have none)
    cdef bint by_columns = kern == KERNEL_FLAT and t.cols != NULL
    cdef intp* leaves = stack + 2 * t.n_levels + 2
    cdef intp nl = 0
    cdef bint whole = kern == KERNEL_FLAT or (kern == KERNEL_EPANECHNIKOV
                                              and t.mom != NULL)
    cdef const double* c
    cdef const floating* bx
    cdef const floating* row
    stack[0] = 0
    while sp > 0:
        sp -= 1
        node = stack[sp]
        if not exact_only:
            if use_box:
                # low dimensions: the bounding box is the tighter bound
                bx = <const floating*>t.box + node * 2 * d
                lo2 = 0.0
                hi2 = 0.0
                for k in range(d):
                    # branch-free: max(lo - q, q - hi, 0) (boxes have
                    # lo <= hi, so at most one is positive) and
                    # max(q - lo, hi - q)
                    a = bx[k] - q[k]
                    b = q[k] - bx[d + k]
                    diff = a if a > b else b
                    diff = diff if diff > 0.0 else 0.0
                    lo2 += diff * diff
                    a = -a if -a > -b else -b
                    hi2 += a * a
                if lo2 > bw2_out:
                    continue                  # no point is within reach
                inside = whole and hi2 <= bw2_in  # every point within bw
            else:
                c = t.centroid + node * d
                d2 = 0.0
                for k in range(d):
                    diff = q[k] - c[k]
                    d2 += diff * diff
                lim = (reach + t.radius[node]) * f
                if d2 > lim * lim:
                    continue
                lim = bw_in - t.radius[node]
                inside = whole and lim >= 0.0 and d2 <= lim * lim
            if inside:
                if kern == KERNEL_EPANECHNIKOV:
                    total += _epan_node(t, node, q, d, bw2, acc)
                    continue
                if t.wsum != NULL:
                    total += t.wsum[node]
                else:
                    count += _node_count(t, node)
                c = t.sums + node * d
                for k in range(d):
                    acc[k] += c[k]
                continue
        if node >= t.first_leaf:
            if by_columns:
                leaves[nl] = node - t.first_leaf   # scanned at the end
                nl += 1
                continue
            if plain:
                for p in range(_leaf_lo(t, node), _leaf_hi(t, node)):
                    row = data + p * d
                    if _sqdist_bounded(row, q, d, bw2) <= bw2:
                        count += 1
                        for k in range(d):
                            acc[k] += row[k]
                continue
            for p in range(_leaf_lo(t, node), _leaf_hi(t, node)):
                row = data + p * d
                d2 = _sqdist_bounded(row, q, d, reach2)
                if d2 <= reach2:
                    wi = t.w[p] if t.w != NULL else 1.0
                    if kern != KERNEL_FLAT:
                        wi = wi * _kernel_weight(kern, d2, bw2, inv2)
                    total += wi
                    for k in range(d):
                        acc[k] += wi * row[k]
        elif (kern != KERNEL_FLAT
              and _box_is_point(<const floating*>t.box + node * 2 * d, d)):
            # a node of equal rows (duplicates) under a smooth kernel: its
            # one point is judged once, as each of its rows would be, and
            # the node's sums weighted by k(r) stand for the rows (so n
            # duplicates cost one test, not n, per step)
            d2 = _sqdist_bounded(data + _node_lo(t, node) * d, q, d, reach2)
            if d2 <= reach2:
                wi = _kernel_weight(kern, d2, bw2, inv2)
                total += wi * (t.wsum[node] if t.wsum != NULL
                               else <double>_node_count(t, node))
                c = t.sums + node * d
                for k in range(d):
                    acc[k] += wi * c[k]
        else:
            stack[sp] = 2 * node + 2
            stack[sp + 1] = 2 * node + 1
            sp += 2
    if nl > 0:
        total += _leaves_flat(<const floating*>t.cols, t, leaves, nl, q, bw2,
                              acc)
    return total + <double>count


cdef inline double _ball_sum_k(const floating* data, const Tree* t,
                               const double* q, double bw, double bw2,
                               bint exact_only, kern_t* kern, double* acc,
                               intp* stack) noexcept nogil:
    # the copy of the traversal for the tree's number of columns
    if t.d == 2:
        return _ball_sum_d(data, t, q, <Dim2*>NULL, bw, bw2, exact_only, kern,
                           acc, stack)
    if t.d == 3:
        return _ball_sum_d(data, t, q, <Dim3*>NULL, bw, bw2, exact_only, kern,
                           acc, stack)
    if t.d == 1:
        return _ball_sum_d(data, t, q, <Dim1*>NULL, bw, bw2, exact_only, kern,
                           acc, stack)
    if t.d == 4:
        return _ball_sum_d(data, t, q, <Dim4*>NULL, bw, bw2, exact_only, kern,
                           acc, stack)
    if t.d == 5:
        return _ball_sum_d(data, t, q, <Dim5*>NULL, bw, bw2, exact_only, kern,
                           acc, stack)
    if t.d == 6:
        return _ball_sum_d(data, t, q, <Dim6*>NULL, bw, bw2, exact_only, kern,
                           acc, stack)
    if t.d == 7:
        return _ball_sum_d(data, t, q, <Dim7*>NULL, bw, bw2, exact_only, kern,
                           acc, stack)
    if t.d == 8:
        return _ball_sum_d(data, t, q, <Dim8*>NULL, bw, bw2, exact_only, kern,
                           acc, stack)
    return _ball_sum_d(data, t, q, <DimAny*>NULL, bw, bw2, exact_only, kern,
                       acc, stack)


cdef double _ball_sum(const floating* data, const Tree* t, const double* q,
                      double bw, double bw2, bint exact_only, int kern,
                      double* acc, intp* stack) noexcept nogil:
    """_ball_sum_d's copy for the kernel and the tree's columns."""
    if kern == KERNEL_FLAT:
        return _ball_sum_k(data, t, q, bw, bw2, exact_only, <KernFlat*>NULL,
                           acc, stack)
    if kern == KERNEL_EPANECHNIKOV:
        return _ball_sum_k(data, t, q, bw, bw2, exact_only,
                           <KernEpanechnikov*>NULL, acc, stack)
    return _ball_sum_k(data, t, q, bw, bw2, exact_only, <KernGaussian*>NULL,
                       acc, stack)


cdef inline bint _use_exact_only(double bw2) noexcept nogil:
    # Node bounds rely on relative rounding errors; with squared distances
    # in the subnormal or overflow range they do not hold, so every point
    # is tested on its own there.  (The Gaussian reach, 3 bw, keeps its
    # square in range too: 9 bw2 < 1e281.)
    return not (bw2 > 1e-280 and bw2 < 1e280)


cdef int _check_data(BallTree tree, const floating[:, ::1] data) except -1:
    """data must be the tree's data, ``tree.data``: the same memory, shape
    and dtype (a copy, or other rows of the same shape, would be read with
    the tree's nodes and answer wrongly)."""
    cdef const floating[:, ::1] own
    if floating is float:
        dtype = np.float32
    else:
        dtype = np.float64
    if (data.shape[0] != tree.t.n or data.shape[1] != tree.t.d
            or tree.data.dtype != dtype):
        raise ValueError("data must be the tree's data (tree.data)")
    own = tree.data
    if &own[0, 0] != &data[0, 0]:
        raise ValueError("data must be the tree's data (tree.data), "
                         "not a copy of it")
    return 0


cdef int _check_kernel(BallTree tree, int kern) except -1:
    if kern < KERNEL_FLAT or kern > KERNEL_GAUSSIAN:
        raise ValueError(f"unknown kernel code {kern}")
    if kern == KERNEL_EPANECHNIKOV and tree.mom is None:
        raise ValueError("the Epanechnikov kernel needs a tree built with "
                         "moments=True")
    return 0


def ball_sums(BallTree tree, const floating[:, ::1] data,
              const double[:, :] positions, double bandwidth,
              int n_threads=1, int kernel=KERNEL_FLAT):
    """One step for many positions: for each row of ``positions``, the
    weighted sum sum w_i k(r_i) x_i (float64) and the weight
    sum w_i k(r_i) (float64; for the flat kernel without weights, the count)
    of the points within the kernel's reach of it.  ``kernel`` is a value
    of ``KERNELS``.  ``data`` is the tree's own permuted copy of its rows,
    ``tree.data`` (not the array the tree was built from)."""
    positions = _aligned(positions)
    cdef intp m = positions.shape[0], d = tree.t.d, i, k
    if positions.shape[1] != d:
        raise ValueError("positions and data must match the tree")
    _check_data(tree, data)
    _check_kernel(tree, kernel)
    sums_arr = np.zeros((m, d), dtype=np.float64)
    totals_arr = np.zeros(m, dtype=np.float64)
    cdef double[:, ::1] sums = sums_arr
    cdef double[::1] totals = totals_arr
    cdef double bw2 = bandwidth * bandwidth
    cdef bint exact_only = _use_exact_only(bw2)
    cdef intp stack_size = _scratch_size(&tree.t)
    cdef double* q
    cdef intp* stack
    cdef int failed = 0
    cdef int* failed_p = &failed
    if m == 0:
        return sums_arr, totals_arr
    with nogil, parallel(num_threads=n_threads):
        q = <double*>malloc(d * sizeof(double))
        stack = <intp*>malloc(stack_size * sizeof(intp))
        if q == NULL or stack == NULL:
            failed_p[0] = 1
        for i in prange(m, schedule='dynamic', chunksize=16):
            if q == NULL or stack == NULL:
                continue
            for k in range(d):
                q[k] = positions[i, k]
            totals[i] = _ball_sum(&data[0, 0], &tree.t, q, bandwidth, bw2,
                                  exact_only, kernel, &sums[i, 0], stack)
        free(q)
        free(stack)
    if failed:
        raise MemoryError("ball_sums: out of memory for thread scratch")
    return sums_arr, totals_arr


# ---------------------------------------------------------------------------
# The hill climb, all seeds at once
# ---------------------------------------------------------------------------

cdef inline double _move_to_mean(const floating* data, const double* acc,
                                 double total, double* pos,
                                 intp d) noexcept nogil:
    """Move pos to the mean acc / total, held in the data's dtype as
    numpy's mean would be (data only selects that dtype); returns the
    squared length of the move."""
    cdef intp k
    cdef double m, diff, shift2 = 0.0
    for k in range(d):
        m = <floating>(acc[k] / total)
        diff = m - pos[k]
        shift2 += diff * diff
        pos[k] = m
    return shift2


cdef void _climb_one(const floating* data, const Tree* t, double* pos,
                     double bw, double bw2, bint exact_only, int kern,
                     double stop_thresh, intp max_iter, double* acc,
                     intp* stack, double* total_out,
                     intp* iter_out) noexcept nogil:
    """scikit-learn's _mean_shift_single_seed, for any kernel and weights:
    pos holds the seed on entry and the final mean on exit; total_out the
    weight of the last neighbourhood (0: nothing in reach, seed dropped)."""
    cdef intp d = t.d, k, it = 0
    cdef double shift2, total
    while True:
        for k in range(d):
            acc[k] = 0.0
        total = _ball_sum(data, t, pos, bw, bw2, exact_only, kern, acc, stack)
        if not total > 0.0:
            total = 0.0
            break                    # no weight in reach: seed dropped
        shift2 = _move_to_mean(data, acc, total, pos, d)
        if sqrt(shift2) <= stop_thresh or it == max_iter:
            break
        it += 1
    total_out[0] = total
    iter_out[0] = it


cdef void _climb_one_scan(const floating* data, const double* w, intp n,
                          intp d, double* pos, double bw, double bw2,
                          double stop_thresh, intp max_iter, double* acc,
                          double* lb, double* ub, unsigned char* inside,
                          double* total_out, intp* iter_out) noexcept nogil:
    """The same climb as _climb_one (flat kernel, weights w or 1) on a
    single-leaf tree (a brute-force scan), with per-point distance bounds
    carried from one iteration to the next: when the mean moves by delta, a
    point's distance changes by at most delta, so a point certainly still
    inside (upper bound <= bw) or outside (lower bound > bw) keeps its
    status without a distance computation, and the sums are updated only
    for the points that cross.  The margins (1e-9 relative) cover every
    rounding, so the points taken are exactly those the per-point test
    takes."""
    cdef intp i, k, it = 0, n_pos = 0   # points inside with weight > 0
    cdef double shift2, d2, delta, wi, total = 0.0
    cdef double bw_in = bw * (1.0 - 1e-9), bw_out = bw * (1.0 + 1e-9)
    cdef bint now_in
    cdef const floating* row
    for k in range(d):
        acc[k] = 0.0
    for i in range(n):
        row = data + i * d
        d2 = _sqdist_bounded(row, pos, d, bw2)
        inside[i] = d2 <= bw2
        lb[i] = sqrt(d2)        # a partial sum (early exit) is a lower bound
        ub[i] = lb[i] if inside[i] else INFINITY
        if inside[i]:
            wi = w[i] if w != NULL else 1.0
            n_pos += wi > 0.0
            total += wi
            for k in range(d):
                acc[k] += wi * row[k]
    while True:
        # (weights added and taken away may leave a rounding residue: the
        # count of weighted points inside decides)
        if n_pos == 0 or not total > 0.0:
            total = 0.0
            break                    # no weight in reach: seed dropped
        shift2 = _move_to_mean(data, acc, total, pos, d)
        if sqrt(shift2) <= stop_thresh or it == max_iter:
            break
        it += 1
        delta = sqrt(shift2) * (1.0 + 1e-9)
        for i in range(n):
            lb[i] -= delta
            ub[i] += delta
            if inside[i]:
                if ub[i] <= bw_in:
                    continue
            elif lb[i] > bw_out:
                continue
            row = data + i * d
            d2 = _sqdist_bounded(row, pos, d, bw2)
            now_in = d2 <= bw2
            lb[i] = sqrt(d2)
            ub[i] = lb[i] if now_in else INFINITY
            if now_in != inside[i]:
                inside[i] = now_in
                wi = w[i] if w != NULL else 1.0
                if now_in:
                    n_pos += wi > 0.0
                    total += wi
                    for k in range(d):
                        acc[k] += wi * row[k]
                else:
                    n_pos -= wi > 0.0
                    total -= wi
                    for k in range(d):
                        acc[k] -= wi * row[k]
    total_out[0] = total
    iter_out[0] = it


def climb(BallTree tree, const floating[:, ::1] data, const seed_t[:, :] seeds,
          double bandwidth, intp max_iter, int n_threads=1, intp start=0,
          double seconds=0.0, out=None, int kernel=KERNEL_FLAT,
          double stop_thresh=-1.0):
    """Climb the seeds ``start:`` to their modes with ``kernel`` (a value
    of ``KERNELS``) and the tree's weights.

    Returns ``(centers, totals, n_iter, stop)``: per seed the final mean
    (dtype of the data), the weight sum w_i k(r_i) of its last
    neighbourhood (float64; for the flat kernel without weights the number
    of points within bandwidth; 0 for a seed that had no weight in reach:
    it is to be dropped) and the number of completed iterations, exactly
    as scikit-learn counts them, filled for the rows ``start:stop``.  A
    climb stops when a move is at most ``stop_thresh`` (default
    ``1e-3 * bandwidth``).  With ``seconds > 0`` no seed is begun after
    that long: the seeds begun are finished and ``stop`` tells where to go
    on from; otherwise ``stop`` is the number of seeds.  ``out``, the three
    arrays of an earlier call on the same seeds, is filled instead of new
    arrays.  ``data`` is the tree's own permuted copy of its rows,
    ``tree.data``.
    """
    seeds = _aligned(seeds)
    cdef intp m = seeds.shape[0], d = tree.t.d, s, k
    if seeds.shape[1] != d:
        raise ValueError("seeds and data must match the tree")
    _check_data(tree, data)
    if not 0 <= start <= m:
        raise ValueError("need 0 <= start <= n_seeds")
    _check_kernel(tree, kernel)
    if out is None:
        dtype = np.float32 if floating is float else np.float64
        out = (np.zeros((m, d), dtype=dtype), np.zeros(m, dtype=np.float64),
               np.zeros(m, dtype=np.intp))
    for a in out:
        _check_out(a, "out")
    cdef floating[:, ::1] centers = out[0]
    cdef double[::1] totals = out[1]
    cdef intp[::1] iters = out[2]
    if centers.shape[0] != m or centers.shape[1] != d or totals.shape[0] != m \
            or iters.shape[0] != m:
        raise ValueError("out must hold one row per seed")
    cdef double bw2 = bandwidth * bandwidth
    if stop_thresh < 0.0:
        stop_thresh = 1e-3 * bandwidth
    cdef bint exact_only = _use_exact_only(bw2)
    cdef intp stack_size = _scratch_size(&tree.t)
    # a single-leaf tree is a brute-force scan: carry distance bounds (the
    # flat kernel only: the others weigh every point anew at each step)
    cdef bint scan = (tree.t.n_levels == 1 and not exact_only
                      and kernel == KERNEL_FLAT)
    cdef intp n = tree.t.n, n_scan = tree.t.n if scan else 1
    cdef double* pos
    cdef double* acc
    cdef intp* stack
    cdef double* lb
    cdef double* ub
    cdef unsigned char* inside
    cdef int failed = 0
    cdef int* failed_p = &failed
    cdef ms_dispenser work
    cdef ms_dispenser* work_p = &work
    ms_dispenser_init(work_p, start, m, seconds)
    if start == m:
        return tuple(out) + (m,)
    with nogil, parallel(num_threads=n_threads):
        pos = <double*>malloc(d * sizeof(double))
        acc = <double*>malloc(d * sizeof(double))
        stack = <intp*>malloc(stack_size * sizeof(intp))
        lb = <double*>malloc(n_scan * sizeof(double))
        ub = <double*>malloc(n_scan * sizeof(double))
        inside = <unsigned char*>malloc(n_scan)
        if (pos == NULL or acc == NULL or stack == NULL or lb == NULL
                or ub == NULL or inside == NULL):
            failed_p[0] = 1   # take no seed: the others finish theirs
        else:
            while True:       # one seed at a time: they differ in cost
                s = ms_grab(work_p, 1)
                if s < 0:
                    break
                for k in range(d):
                    pos[k] = seeds[s, k]
                if scan:
                    _climb_one_scan(&data[0, 0], tree.t.w, n, d, pos,
                                    bandwidth, bw2, stop_thresh, max_iter,
                                    acc, lb, ub, inside, &totals[s], &iters[s])
                else:
                    _climb_one(&data[0, 0], &tree.t, pos, bandwidth, bw2,
                               exact_only, kernel, stop_thresh, max_iter, acc,
                               stack, &totals[s], &iters[s])
                for k in range(d):
                    centers[s, k] = <floating>pos[k]
        free(pos)
        free(acc)
        free(stack)
        free(lb)
        free(ub)
        free(inside)
    if failed:
        raise MemoryError("climb: out of memory for thread scratch")
    return tuple(out) + (ms_dispensed(work_p),)


# ---------------------------------------------------------------------------
# Merging near-duplicate centers
# ---------------------------------------------------------------------------

ctypedef int (*cmp_fn)(const void* ctx, intp a, intp b) noexcept nogil

cdef struct RankCtx:
    const double* X       # m x d centers
    intp d
    const intp* rows      # position -> row of X (ranking by position)
    const double* counts  # position -> intensity


cdef int _cmp_coords(const void* ctx, intp a, intp b) noexcept nogil:
    """Rows of X compared lexicographically, ascending."""
    cdef const RankCtx* c = <const RankCtx*>ctx
    cdef intp k
    cdef double u, v
    for k in range(c.d):
        u = c.X[a * c.d + k]
        v = c.X[b * c.d + k]
        if u < v:
            return -1
        if u > v:
            return 1
    return 0


cdef void _merge_sort(intp* a, intp* tmp, intp n, cmp_fn cmp,
                      const void* ctx) noexcept nogil:
    """Stable bottom-up merge sort of the indices in a."""
    cdef intp width = 1, lo, mid, hi, i, j, k
    cdef intp* src = a
    cdef intp* dst = tmp
    cdef intp* sw
    while width < n:
        lo = 0
        while lo < n:
            mid = lo + width
            if mid > n:
                mid = n
            hi = lo + 2 * width
            if hi > n:
                hi = n
            i = lo
            j = mid
            k = lo
            while i < mid and j < hi:
                if cmp(ctx, src[j], src[i]) < 0:
                    dst[k] = src[j]
                    j += 1
                else:
                    dst[k] = src[i]
                    i += 1
                k += 1
            while i < mid:
                dst[k] = src[i]
                i += 1
                k += 1
            while j < hi:
                dst[k] = src[j]
                j += 1
                k += 1
            lo = hi
        sw = src
        src = dst
        dst = sw
        width *= 2
    if src != a:
        memcpy(a, src, n * sizeof(intp))


def dedupe_and_rank(const double[:, ::1] centers, const double[::1] counts):
    """Order the converged seeds the way scikit-learn's post-processing does.

    Seeds whose centers are equal (==, coordinate by coordinate) count once,
    as keys of a dict would: the coordinates of the first such seed, the
    intensity (``counts``: a count, or a weight sum) of the last.  The
    survivors are ordered by (intensity, coordinates) descending.  Returns
    ``(rows, counts, rank_of)``: for each ranked center, the row of
    ``centers`` holding its coordinates, and its intensity; for each row of
    ``centers``, the rank of the center it counts for.
    """
    centers = _aligned(centers)
    counts = _aligned(counts)
    cdef intp m = centers.shape[0], d = centers.shape[1], i, g, j, u = 0
    order_arr = np.arange(m, dtype=np.intp)
    tmp_arr = np.empty(m, dtype=np.intp)
    rows_arr = np.empty(m, dtype=np.intp)
    ucounts_arr = np.empty(m, dtype=np.float64)
    group_arr = np.empty(m, dtype=np.intp)
    cdef intp[::1] order = order_arr
    cdef intp[::1] tmp = tmp_arr
    cdef intp[::1] rows = rows_arr
    cdef double[::1] ucounts = ucounts_arr
    cdef intp[::1] group = group_arr
    cdef RankCtx ctx
    if m == 0:
        return rows_arr, ucounts_arr, group_arr
    ctx.X = &centers[0, 0]
    ctx.d = d
    with nogil:
        # group equal rows; a stable sort keeps each group in seed order
        _merge_sort(&order[0], &tmp[0], m, _cmp_coords, &ctx)
        i = 0
        while i < m:
            g = i
            while g + 1 < m and _cmp_coords(&ctx, order[i], order[g + 1]) == 0:
                g += 1
            rows[u] = order[i]             # first seed's coordinates
            ucounts[u] = counts[order[g]]  # last seed's intensity
            for j in range(i, g + 1):
                group[order[j]] = u
            u += 1
            i = g + 1
        # rank by (intensity, coordinates) descending; ucounts is indexed
        # by position in rows, so rank positions and map back afterwards
        for i in range(u):
            order[i] = i
        ctx.rows = &rows[0]
        ctx.counts = &ucounts[0]
        _merge_sort(&order[0], &tmp[0], u, _cmp_intensity_desc, &ctx)
        for i in range(u):
            tmp[order[i]] = i              # group -> rank
        for i in range(m):
            group[i] = tmp[group[i]]
        for i in range(u):
            tmp[i] = rows[order[i]]
        for i in range(u):
            rows[i] = tmp[i]
    # order[rank] is the group at that rank
    return rows_arr[:u].copy(), ucounts_arr[order_arr[:u]], group_arr


cdef int _cmp_intensity_desc(const void* ctx, intp a, intp b) noexcept nogil:
    """Positions compared by (count, coordinates), descending, as
    sorted(reverse=True) orders (count, center) pairs."""
    cdef const RankCtx* c = <const RankCtx*>ctx
    if c.counts[a] > c.counts[b]:
        return -1
    if c.counts[a] < c.counts[b]:
        return 1
    return -_cmp_coords(ctx, c.rows[a], c.rows[b])


cdef int _check_full(BallTree tree, str name) except -1:
    if tree.idx is None or tree.centroid is None:
        raise ValueError(f"{name} needs a tree built with index=True and "
                         "balls=True")
    return 0


def suppress(BallTree tree, const floating[:, ::1] data, double bandwidth):
    """Greedy suppression in rank order (the rows the tree was built on are
    ranked strongest first): a center within bandwidth of a stronger kept
    center is removed.  Returns ``(keep, by)``: a boolean mask over the
    ranked rows, and for each row the kept row that removed it (the
    strongest kept one within bandwidth; itself for a kept row)."""
    cdef intp n = tree.t.n, d = tree.t.d, i, j, k, node, sp, p, o
    keep_arr = np.ones(n, dtype=np.uint8)
    by_arr = np.full(n, -1, dtype=np.intp)
    pos_arr = np.empty(n, dtype=np.intp)     # ranked row -> permuted row
    cdef unsigned char[::1] keep = keep_arr
    cdef intp[::1] by = by_arr
    cdef intp[::1] pos = pos_arr
    cdef double bw2 = bandwidth * bandwidth
    cdef bint exact_only = _use_exact_only(bw2)
    cdef double* q
    cdef intp* stack
    cdef double dc, r, tol, diff, d2
    cdef const double* c
    cdef const Tree* t = &tree.t
    _check_data(tree, data)
    _check_full(tree, "suppress")
    q = <double*>malloc(max(d, 1) * sizeof(double))
    stack = <intp*>malloc((2 * tree.t.n_levels + 2) * sizeof(intp))
    if q == NULL or stack == NULL:
        free(q)
        free(stack)
        raise MemoryError("suppress: out of memory")
    with nogil:
        for j in range(n):
            pos[t.idx[j]] = j
        for i in range(n):
            if not keep[i]:
                continue
            for k in range(d):
                q[k] = data[pos[i], k]
            stack[0] = 0
            sp = 1
            while sp > 0:
                sp -= 1
                node = stack[sp]
                if not exact_only:
                    c = t.centroid + node * d
                    d2 = 0.0
                    for k in range(d):
                        diff = q[k] - c[k]
                        d2 += diff * diff
                    dc = sqrt(d2)
                    r = t.radius[node]
                    tol = t.rel * (dc + r + bandwidth)
                    if dc - r > bandwidth + tol:
                        continue
                    if dc + r + tol <= bandwidth:
                        for p in range(_node_lo(t, node), _node_hi(t, node)):
                            o = t.idx[p]
                            if o > i and keep[o]:
                                keep[o] = 0
                                by[o] = i
                        continue
                if node >= t.first_leaf:
                    for p in range(_leaf_lo(t, node), _leaf_hi(t, node)):
                        o = t.idx[p]
                        if o > i and keep[o] and \
                                _sqdist_bounded(&data[p, 0], q, d, bw2) <= bw2:
                            keep[o] = 0
                            by[o] = i
                else:
                    stack[sp] = 2 * node + 2
                    stack[sp + 1] = 2 * node + 1
                    sp += 2
            by[i] = i
    free(q)
    free(stack)
    return keep_arr.astype(bool), by_arr


# ---------------------------------------------------------------------------
# Labels: nearest center
# ---------------------------------------------------------------------------

cdef void _nearest_tree(const double* q, const double* cdata, const Tree* t,
                        intp* stack, intp* best_i, double* best_d2) noexcept nogil:
    """Exact nearest row (lowest row wins ties) by branch and bound."""
    cdef intp d = t.d, sp = 1, node, p, k, a, b, orig
    cdef double dc, r, tol, diff, d2, best = INFINITY, da, db, sb
    cdef intp bi = -1
    stack[0] = 0
    while sp > 0:
        sp -= 1
        node = stack[sp]
        d2 = 0.0
        for k in range(d):
            diff = q[k] - t.centroid[node * d + k]
            d2 += diff * diff
        dc = sqrt(d2)
        r = t.radius[node]
        sb = sqrt(best)
        tol = t.rel * (dc + r + sb)
        if dc - r - tol > sb:
            continue
        if node >= t.first_leaf:
            for p in range(_leaf_lo(t, node), _leaf_hi(t, node)):
                d2 = 0.0
                for k in range(d):
                    diff = q[k] - cdata[p * d + k]
                    d2 += diff * diff
                orig = t.idx[p]
                if bi < 0 or d2 < best or (d2 == best and orig < bi):
                    best = d2
                    bi = orig
        else:
            # visit the nearer child first (pushed last)
            a = 2 * node + 1
            b = 2 * node + 2
            da = 0.0
            db = 0.0
            for k in range(d):
                diff = q[k] - t.centroid[a * d + k]
                da += diff * diff
                diff = q[k] - t.centroid[b * d + k]
                db += diff * diff
            if da <= db:
                stack[sp] = b
                stack[sp + 1] = a
            else:
                stack[sp] = a
                stack[sp + 1] = b
            sp += 2
    best_i[0] = bi
    best_d2[0] = best


# Above this many centers, label assignment searches a tree over them.
cdef intp TREE_ASSIGN_MIN_CENTERS = 48

# Below this a squared distance may have lost bits to float64's subnormal
# range (2**-1022, with room for a sum of terms): the row is judged again
# by _nearest_rescaled, as is a row whose every squared distance overflowed.
cdef double ASSIGN_TINY_D2 = 2.0 ** -960


cdef inline double _diff_exp(double a, double b, int* e) noexcept nogil:
    """a - b as m * 2**e with |m| in [0.5, 1) (m = 0 when a == b): the
    difference as float64 rounds it, also where a - b overflows (then from
    a/2 - b/2, exact for such magnitudes but for the last bit of a
    subnormal operand, far below the difference's resolution)."""
    cdef double t = a - b
    cdef int extra = 0
    if t == INFINITY or t == -INFINITY:
        t = 0.5 * a - 0.5 * b
        extra = 1
    t = frexp(t, e)
    e[0] += extra
    return t


cdef intp _nearest_rescaled(const double* q, const double* C, intp kc,
                            intp d, double* d2_out, int* e_out) noexcept nogil:
    """The nearest of the centers C to q (the first on ties) for a row
    whose squared distances leave float64's range: they overflow to inf,
    or fall below 2**-960 where distinct distances lose their bits or tie
    at 0.  Each coordinate difference is taken as a mantissa and a power
    of two (_diff_exp); e is the smallest, over the centers, of the
    exponent of their largest difference, and each center's squared
    distance is summed from the differences scaled by 2**-e (exactly: a
    power of two): the near centers' scaled differences are of the order
    of 1, so their squares neither overflow nor underflow (a far center's
    may overflow to inf, which only says it is far), and the comparison is
    the one the unscaled arithmetic would make if it had the range.  The row's label depends
    on the row and the centers alone.  d2_out: the nearest one's scaled
    squared distance, e_out: e (the distance is sqrt(d2_out) * 2**e)."""
    cdef intp j, k, bi = 0
    cdef int ek, emax, e = 2147483647
    cdef double m, d2, best = INFINITY
    for j in range(kc):
        emax = -2147483647
        for k in range(d):
            m = _diff_exp(q[k], C[j * d + k], &ek)
            if m != 0.0 and ek > emax:
                emax = ek
        if emax == -2147483647:     # the row is this center: distance 0
            d2_out[0] = 0.0
            e_out[0] = 0
            return j
        if emax < e:
            e = emax
    for j in range(kc):
        d2 = 0.0
        for k in range(d):
            m = _diff_exp(q[k], C[j * d + k], &ek)
            m = ldexp(m, ek - e)
            d2 += m * m
        if d2 < best:
            best = d2
            bi = j
    d2_out[0] = best
    e_out[0] = e
    return bi


cdef inline bint _beyond_bandwidth(double d2, int e, double bw) noexcept nogil:
    """Whether the distance sqrt(d2) * 2**e is more than bw."""
    return sqrt(d2) > ldexp(bw, -e)


def assign(const floating[:, :] X, const double[:, ::1] centers,
           double bandwidth, bint cluster_all, int n_threads=1):
    """Index of the nearest center of every row of X (the first, i.e. the
    strongest, on ties); with ``cluster_all=False``, -1 where that center is
    farther than bandwidth.  Returns ``(labels, overflow)``: an intp array,
    and whether some row was judged again on a rescaled copy of itself and
    the centers (_nearest_rescaled): its squared distances overflowed, or
    fell where float64 loses their bits.  Each row's label depends on that
    row and the centers alone.

    Up to TREE_ASSIGN_MIN_CENTERS centers, blocks of MS_BLOCK rows are
    compared with every center at once (ms_nearest_block); above, each row
    searches a tree over the centers."""
    X = _aligned(X)
    centers = _aligned(centers)
    cdef intp n = X.shape[0], d = X.shape[1], kc = centers.shape[0], i, k, p
    cdef intp blk, lo, hi, n_blocks
    labels_arr = np.empty(n, dtype=np.intp)
    cdef intp[::1] labels = labels_arr
    cdef BallTree tree = None
    cdef double[:, ::1] cdata
    cdef const Tree* t = NULL
    cdef bint use_tree = kc > TREE_ASSIGN_MIN_CENTERS
    cdef intp stack_size = 2
    cdef double* q
    cdef double* xs
    cdef double* dist
    cdef double* best
    cdef intp* bi
    cdef intp* stack
    cdef intp bi1
    cdef double bd2, bwl = bandwidth
    cdef int e
    cdef bint contiguous
    cdef const floating* base
    cdef const floating* row
    cdef int failed = 0
    cdef int* failed_p = &failed
    cdef int overflow = 0
    cdef int* overflow_p = &overflow
    if centers.shape[1] != d:
        raise ValueError("centers and X must have the same number of columns")
    if n == 0:
        return labels_arr, False
    if kc == 0:
        raise ValueError("no centers to assign to")
    if use_tree:
        tree = build_tree(centers, 8, n_threads)
        cdata = tree.data
        t = &tree.t
        stack_size = 2 * tree.t.n_levels + 2
        with nogil, parallel(num_threads=n_threads):
            q = <double*>malloc(d * sizeof(double))
            stack = <intp*>malloc(stack_size * sizeof(intp))
            if q == NULL or stack == NULL:
                failed_p[0] = 1
            for i in prange(n, schedule='static'):
                if q == NULL or stack == NULL:
                    continue
                # assigned here so that each thread has its own copy
                bi1 = -1
                bd2 = INFINITY
                for k in range(d):
                    q[k] = X[i, k]
                _nearest_tree(q, &cdata[0, 0], t, stack, &bi1, &bd2)
                e = 0
                if bd2 == INFINITY or bd2 < ASSIGN_TINY_D2:
                    overflow_p[0] = 1
                    bi1 = _nearest_rescaled(q, &centers[0, 0], kc, d, &bd2,
                                            &e)
                if not cluster_all and _beyond_bandwidth(bd2, e, bwl):
                    bi1 = -1
                labels[i] = bi1
            free(q)
            free(stack)
    else:
        n_blocks = (n + MS_BLOCK - 1) // MS_BLOCK
        # rows one after another: read them through a plain pointer
        contiguous = (X.strides[1] == sizeof(floating)
                      and X.strides[0] == d * sizeof(floating))
        base = &X[0, 0]
        with nogil, parallel(num_threads=n_threads):
            xs = <double*>malloc(d * MS_BLOCK * sizeof(double))
            # (also a row's coordinates for _nearest_rescaled)
            dist = <double*>malloc((MS_BLOCK if d < MS_BLOCK else d)
                                   * sizeof(double))
            best = <double*>malloc(MS_BLOCK * sizeof(double))
            bi = <intp*>malloc(MS_BLOCK * sizeof(intp))
            if xs == NULL or dist == NULL or best == NULL or bi == NULL:
                failed_p[0] = 1
            # dynamic: a thread that another process slows down takes fewer
            # blocks instead of holding the others up at the end
            for blk in prange(n_blocks, schedule='dynamic', chunksize=16):
                if xs == NULL or dist == NULL or best == NULL or bi == NULL:
                    continue
                lo = blk * MS_BLOCK
                hi = lo + MS_BLOCK
                if hi > n:
                    hi = n
                if contiguous and hi - lo == MS_BLOCK:
                    row = base + lo * d
                    for k in range(d):
                        for p in range(MS_BLOCK):
                            xs[k * MS_BLOCK + p] = row[p * d + k]
                else:
                    for p in range(MS_BLOCK):
                        # a short last block repeats its last row
                        i = lo + p if lo + p < hi else hi - 1
                        for k in range(d):
                            xs[k * MS_BLOCK + p] = X[i, k]
                for p in range(MS_BLOCK):
                    best[p] = INFINITY
                    bi[p] = 0
                ms_nearest_block(xs, d, &centers[0, 0], kc, dist, best, bi)
                for p in range(hi - lo):
                    e = 0
                    if best[p] == INFINITY or best[p] < ASSIGN_TINY_D2:
                        overflow_p[0] = 1
                        for k in range(d):
                            dist[k] = xs[k * MS_BLOCK + p]
                        bi[p] = _nearest_rescaled(dist, &centers[0, 0], kc, d,
                                                  &best[p], &e)
                    if not cluster_all and _beyond_bandwidth(best[p], e, bwl):
                        labels[lo + p] = -1
                    else:
                        labels[lo + p] = bi[p]
            free(xs)
            free(dist)
            free(best)
            free(bi)
    if failed:
        raise MemoryError("assign: out of memory for thread scratch")
    return labels_arr, bool(overflow)


# ---------------------------------------------------------------------------
# Bandwidth estimation: distance to the k-th nearest point
# ---------------------------------------------------------------------------

cdef double _kth_smallest(double* a, intp n, intp kth) noexcept nogil:
    """The kth smallest (0-based) of a[:n]; reorders a."""
    cdef intp l = 0, r = n - 1, i, j
    cdef double x, t
    while l < r:
        x = a[kth]
        i = l
        j = r
        while True:
            while a[i] < x:
                i += 1
            while x < a[j]:
                j -= 1
            if i <= j:
                t = a[i]
                a[i] = a[j]
                a[j] = t
                i += 1
                j -= 1
            if i > j:
                break
        if j < kth:
            l = i
        if kth < i:
            r = j
    return a[kth]


cdef intp _shell(const floating* data, const Tree* t, const double* q, intp d,
                 double r_lo, double r_hi, double* cand, intp* n_cand,
                 intp* stack, double* below_w) noexcept nogil:
    """Count the points at distance <= r_lo from q (returned; their weight
    to below_w when the tree has weights) and append to cand the distances
    that lie in (r_lo, r_hi] (with weights: (distance, weight) pairs).
    Whole nodes are counted or skipped only when the margin rel makes the
    exact test agree."""
    cdef intp sp = 1, node, p, k, count = 0, nc = 0
    cdef double f = (1.0 + t.rel) / (1.0 - t.rel)
    cdef double diff, d2, lim, dist, bw_sum = 0.0
    cdef const double* c
    stack[0] = 0
    while sp > 0:
        sp -= 1
        node = stack[sp]
        c = t.centroid + node * d
        d2 = 0.0
        for k in range(d):
            diff = q[k] - c[k]
            d2 += diff * diff
        lim = (r_hi + t.radius[node]) * f
        if d2 > lim * lim:
            continue
        lim = r_lo / f - t.radius[node]
        if lim >= 0.0 and d2 <= lim * lim:
            count += _node_count(t, node)
            if t.w != NULL:
                bw_sum += t.wsum[node]
            continue
        if node >= t.first_leaf:
            for p in range(_leaf_lo(t, node), _leaf_hi(t, node)):
                dist = sqrt(_sqdist_bounded(data + p * d, q, d, INFINITY))
                if dist <= r_lo:
                    count += 1
                    if t.w != NULL:
                        bw_sum += t.w[p]
                elif dist <= r_hi:
                    if t.w != NULL:
                        cand[2 * nc] = dist
                        cand[2 * nc + 1] = t.w[p]
                    else:
                        cand[nc] = dist
                    nc += 1
        else:
            stack[sp] = 2 * node + 2
            stack[sp + 1] = 2 * node + 1
            sp += 2
    n_cand[0] = nc
    below_w[0] = bw_sum
    return count


cdef int _cmp_pair(const void* a, const void* b) noexcept nogil:
    cdef double x = (<const double*>a)[0], y = (<const double*>b)[0]
    return (x > y) - (x < y)


cdef double _weighted_kth(double* pairs, intp nc, double need,
                          bint* found) noexcept nogil:
    """The smallest distance at which the weights of the (distance, weight)
    pairs, by increasing distance, add up to at least need; reorders
    pairs.  Without such a distance (need beyond their total), the
    largest distance of positive weight and found = False."""
    cdef intp i
    cdef double acc = 0.0, last = NAN
    qsort(pairs, nc, 2 * sizeof(double), _cmp_pair)
    for i in range(nc):
        acc += pairs[2 * i + 1]
        if pairs[2 * i + 1] > 0.0:
            last = pairs[2 * i]
        if acc >= need:
            found[0] = True
            return pairs[2 * i]
    found[0] = False
    return last


cdef void _kth_chunk(const floating* data, const Tree* t, intp lo, intp hi,
                     intp k, double kw, double* out, double* q, double* q_prev,
                     double* r_prev_io, double* cand,
                     intp* stack) noexcept nogil:
    """Distances to the k-th nearest point for the permuted rows [lo, hi).

    The k-th neighbour distance is 1-Lipschitz in the query, so after a
    query q' with answer r', the answer for q lies in r' +- |q - q'|.  Rows
    in tree order are close to each other, so only a thin shell of points
    is examined; a miss (rounding) widens to the whole data set.  q_prev
    and r_prev_io carry the previous query and answer from call to call
    (r_prev_io < 0: none yet).  With weights the k-th point is where the
    weights, by increasing distance, first add up to kw (integer weights:
    the k-th point of the data with each row repeated weight times)."""
    cdef intp d = t.d, j, kk, below, nc, i
    cdef double r_prev = r_prev_io[0], delta, diff, r_lo, r_hi, ans
    cdef double below_w, cand_w
    cdef bint found
    for j in range(lo, hi):
        delta = 0.0
        for kk in range(d):
            q[kk] = data[j * d + kk]
            diff = q[kk] - q_prev[kk]
            delta += diff * diff
        if r_prev < 0.0:
            r_lo = -1.0
            r_hi = INFINITY
        else:
            delta = sqrt(delta)
            r_lo = r_prev - delta - 1e-9 * (r_prev + delta)
            r_hi = r_prev + delta + 1e-9 * (r_prev + delta)
        while True:
            below = _shell(data, t, q, d, r_lo, r_hi, cand, &nc, stack,
                           &below_w)
            if t.w != NULL:
                cand_w = 0.0
                for i in range(nc):
                    cand_w += cand[2 * i + 1]
                if below_w < kw and (kw <= below_w + cand_w
                                     or (r_lo < 0.0 and r_hi == INFINITY)):
                    # (all points and still short of kw: rounding of the
                    # weights' total; the farthest weighted point)
                    ans = _weighted_kth(cand, nc, kw - below_w, &found)
                    break
            elif below < k <= below + nc:
                ans = _kth_smallest(cand, nc, k - below - 1)
                break
            if r_lo < 0.0 and r_hi == INFINITY:
                ans = NAN    # only with non-finite distances
                break
            r_lo = -1.0      # missed by rounding: take every point
            r_hi = INFINITY
        out[t.idx[j]] = ans
        r_prev = ans
        for kk in range(d):
            q_prev[kk] = q[kk]
    r_prev_io[0] = r_prev


def kth_neighbor_dist(BallTree tree, const floating[:, ::1] data, intp k,
                      int n_threads=1, intp start=0, double seconds=0.0,
                      out=None, double kweight=0.0):
    """For the rows of the tree's data from ``start`` on (in tree order),
    the distance to the k-th nearest row, the row itself included (so k=1
    gives 0), as NearestNeighbors.kneighbors on the training data.  On a
    tree with weights, the distance at which the weights of the nearest
    rows first add up to ``kweight`` (> 0) instead.

    Returns ``(dist, stop)``: ``dist`` (float64, by original row number;
    ``out`` if given, else a new array) is filled for the tree rows
    ``start:stop``.  With ``seconds > 0`` no row is begun after that long
    and ``stop`` tells where to go on from; otherwise ``stop`` is
    the number of rows.  The answers are exact, so several calls give the
    same values as one."""
    cdef intp n = tree.t.n, d = tree.t.d, lo
    # rows handed out together: a thread's next query is near its last
    # one, which its search starts from (8 rows: 20000 x 3 took ~10% more
    # than one block per chunk; 32: the same); few, as a row can be costly
    cdef intp step = 32
    cdef double r_prev
    if k < 1 or k > n:
        raise ValueError("k must be in [1, n_samples]")
    if tree.w is not None and not kweight > 0.0:
        raise ValueError("a tree with weights needs kweight > 0")
    _check_data(tree, data)
    _check_full(tree, "kth_neighbor_dist")
    if not 0 <= start <= n:
        raise ValueError("need 0 <= start <= n_samples")
    if out is None:
        out = np.empty(n, dtype=np.float64)
    _check_out(out, "out")
    cdef double[::1] res = out
    if res.shape[0] != n:
        raise ValueError("out must have one entry per row")
    cdef double* q
    cdef double* q_prev
    cdef double* cand
    cdef intp* stack
    cdef intp stack_size = 2 * tree.t.n_levels + 2
    cdef int failed = 0
    cdef int* failed_p = &failed
    cdef ms_dispenser work
    cdef ms_dispenser* work_p = &work
    ms_dispenser_init(work_p, start, n, seconds)
    if start == n:
        return out, n
    with nogil, parallel(num_threads=n_threads if n - start > step else 1):
        r_prev = -1.0
        q = <double*>malloc(d * sizeof(double))
        q_prev = <double*>malloc(d * sizeof(double))
        cand = <double*>malloc((2 * n if tree.t.w != NULL else n)
                               * sizeof(double))
        stack = <intp*>malloc(stack_size * sizeof(intp))
        if q == NULL or q_prev == NULL or cand == NULL or stack == NULL:
            failed_p[0] = 1   # take no rows: the other threads finish theirs
        else:
            while True:
                lo = ms_grab(work_p, step)
                if lo < 0:
                    break
                _kth_chunk(&data[0, 0], &tree.t, lo, min(lo + step, n), k,
                           kweight, &res[0], q, q_prev, &r_prev, cand, stack)
        free(q)
        free(q_prev)
        free(cand)
        free(stack)
    if failed:
        raise MemoryError("kth_neighbor_dist: out of memory")
    return out, ms_dispensed(work_p)


# ---------------------------------------------------------------------------
# Bin seeding: a hash map keyed by the grid cell
# ---------------------------------------------------------------------------

cdef struct CellMap:
    intp d
    intp cap          # slots, a power of two
    intp* slots       # cell index + 1, or 0 for an empty slot
    intp n_cells
    intp cell_cap
    double* keys      # n_cells x d, in order of first appearance
    double* counts    # number of points, or sum of their weights
    uint64_t* hashes


cdef inline uint64_t _mix(uint64_t h) noexcept nogil:
    h ^= h >> 33
    h *= 0xff51afd7ed558ccdULL
    h ^= h >> 33
    h *= 0xc4ceb9fe1a85ec53ULL
    h ^= h >> 33
    return h


cdef inline uint64_t _hash_key(const double* key, intp d) noexcept nogil:
    cdef uint64_t h = 0x9e3779b97f4a7c15ULL, bits
    cdef double v
    cdef intp k
    for k in range(d):
        v = key[k] + 0.0          # -0.0 and 0.0 are the same cell
        memcpy(&bits, &v, sizeof(double))
        h = _mix(h ^ bits) + <uint64_t>k
    return _mix(h)


cdef int _map_init(CellMap* m, intp d) noexcept nogil:
    m.d = d
    m.cap = 64
    m.n_cells = 0
    m.cell_cap = 32
    m.slots = <intp*>malloc(m.cap * sizeof(intp))
    m.keys = <double*>malloc(m.cell_cap * d * sizeof(double))
    m.counts = <double*>malloc(m.cell_cap * sizeof(double))
    m.hashes = <uint64_t*>malloc(m.cell_cap * sizeof(uint64_t))
    if m.slots == NULL or m.keys == NULL or m.counts == NULL or m.hashes == NULL:
        return -1
    memset(m.slots, 0, m.cap * sizeof(intp))
    return 0


cdef void _map_free(CellMap* m) noexcept nogil:
    free(m.slots)
    free(m.keys)
    free(m.counts)
    free(m.hashes)
    m.slots = NULL
    m.keys = NULL
    m.counts = NULL
    m.hashes = NULL


cdef int _map_grow(CellMap* m) noexcept nogil:
    cdef intp new_cap = m.cap * 2, i, s
    cdef intp mask = new_cap - 1
    cdef intp* slots = <intp*>malloc(new_cap * sizeof(intp))
    if slots == NULL:
        return -1
    memset(slots, 0, new_cap * sizeof(intp))
    for i in range(m.n_cells):
        s = <intp>(m.hashes[i] & <uint64_t>mask)
        while slots[s] != 0:
            s = (s + 1) & mask
        slots[s] = i + 1
    free(m.slots)
    m.slots = slots
    m.cap = new_cap
    return 0


cdef int _map_add(CellMap* m, const double* key, uint64_t h,
                  double count) noexcept nogil:
    """Add count to the cell of key, creating it (last in order) if new."""
    cdef intp d = m.d, s, c, k, new_cc
    cdef intp mask
    cdef bint same
    cdef void* p
    if 2 * (m.n_cells + 1) > m.cap:
        if _map_grow(m) != 0:
            return -1
    mask = m.cap - 1
    s = <intp>(h & <uint64_t>mask)
    while m.slots[s] != 0:
        c = m.slots[s] - 1
        if m.hashes[c] == h:
            same = True
            for k in range(d):
                if m.keys[c * d + k] != key[k]:
                    same = False
                    break
            if same:
                m.counts[c] += count
                return 0
        s = (s + 1) & mask
    if m.n_cells == m.cell_cap:
        new_cc = 2 * m.cell_cap
        p = realloc(m.keys, new_cc * d * sizeof(double))
        if p == NULL:
            return -1
        m.keys = <double*>p
        p = realloc(m.counts, new_cc * sizeof(double))
        if p == NULL:
            return -1
        m.counts = <double*>p
        p = realloc(m.hashes, new_cc * sizeof(uint64_t))
        if p == NULL:
            return -1
        m.hashes = <uint64_t*>p
        m.cell_cap = new_cc
    c = m.n_cells
    for k in range(d):
        m.keys[c * d + k] = key[k]
    m.counts[c] = count
    m.hashes[c] = h
    m.slots[s] = c + 1
    m.n_cells += 1
    return 0


cdef int _bin_chunk(const floating[:, :] X, const double* w, intp lo, intp hi,
                    double bin_size, bint f32_division,
                    CellMap* m) noexcept nogil:
    cdef intp d = X.shape[1], i, k
    cdef float bs32 = <float>bin_size
    cdef double* key = <double*>malloc(d * sizeof(double))
    if key == NULL:
        return -1
    if _map_init(m, d) != 0:
        free(key)
        return -1
    for i in range(lo, hi):
        for k in range(d):
            if f32_division:
                # numpy divides float32 data by a Python float in float32
                key[k] = rintf(<float>X[i, k] / bs32)
            else:
                key[k] = rint(<double>X[i, k] / bin_size)
        if _map_add(m, key, _hash_key(key, d),
                    w[i] if w != NULL else 1.0) != 0:
            free(key)
            return -1
    free(key)
    return 0


def bin_cells(const floating[:, :] X, double bin_size, bint f32_division,
              int n_threads=1, weights=None):
    """Grid cells of the rows of X: ``round(x / bin_size)`` per coordinate
    (round half to even, as numpy), in order of first appearance, with the
    number of rows in each (with ``weights``, one per row: the sum of their
    weights).  Returns ``(cells, counts)``: float64 cells (integer values)
    and float64 counts.

    Threads each bin a contiguous chunk; the chunks' maps are merged in
    chunk order, which keeps the order of first appearance.
    """
    X = _aligned(X)
    weights = _aligned(weights)
    cdef intp n = X.shape[0], d = X.shape[1], c, i, k, n_chunks
    if f32_division and floating is double:
        raise ValueError("float32 division needs float32 data")
    cdef const double[::1] wv
    cdef const double* w = NULL
    if weights is not None:
        wv = np.ascontiguousarray(weights, dtype=np.float64)
        if wv.shape[0] != n:
            raise ValueError("weights must hold one value per row")
        if n:
            w = &wv[0]
    n_chunks = n_threads if n >= 4096 * n_threads else 1
    if n_chunks < 1:
        n_chunks = 1
    cdef CellMap* maps = <CellMap*>malloc(n_chunks * sizeof(CellMap))
    cdef int* status = <int*>malloc(n_chunks * sizeof(int))
    cdef CellMap total
    cdef int failed = 0
    if maps == NULL or status == NULL:
        free(maps)
        free(status)
        raise MemoryError("bin_cells: out of memory")
    memset(maps, 0, n_chunks * sizeof(CellMap))
    memset(&total, 0, sizeof(CellMap))
    with nogil:
        for c in prange(n_chunks, schedule='static', chunksize=1,
                        num_threads=n_threads):
            status[c] = _bin_chunk(X, w, (n * c) // n_chunks,
                                   (n * (c + 1)) // n_chunks,
                                   bin_size, f32_division, &maps[c])
        for c in range(n_chunks):
            if status[c] != 0:
                failed = 1
        if not failed and _map_init(&total, d) != 0:
            failed = 1
        if not failed:
            for c in range(n_chunks):
                for i in range(maps[c].n_cells):
                    if _map_add(&total, maps[c].keys + i * d, maps[c].hashes[i],
                                maps[c].counts[i]) != 0:
                        failed = 1
                        break
                if failed:
                    break
        for c in range(n_chunks):
            _map_free(&maps[c])
    free(maps)
    free(status)
    if failed:
        _map_free(&total)
        raise MemoryError("bin_cells: out of memory")
    cells_arr = np.empty((total.n_cells, d), dtype=np.float64)
    counts_arr = np.empty(total.n_cells, dtype=np.float64)
    cdef double[:, ::1] cells = cells_arr
    cdef double[::1] counts = counts_arr
    for i in range(total.n_cells):
        counts[i] = total.counts[i]
        for k in range(d):
            cells[i, k] = total.keys[i * d + k]
    _map_free(&total)
    return cells_arr, counts_arr
