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
from libc.math cimport INFINITY, NAN, rint, rintf, sqrt
from libc.stdint cimport uint64_t
from libc.stdlib cimport free, malloc, realloc
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
    """
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
# Ball tree in flat arrays
# ---------------------------------------------------------------------------

cdef struct Tree:
    intp n
    intp d
    intp n_nodes
    intp first_leaf       # nodes >= first_leaf are leaves
    intp n_levels
    const intp* idx       # original row of each permuted row
    const intp* start     # node -> first permuted row
    const intp* end       # node -> one past its last permuted row
    const double* centroid  # n_nodes x d
    const double* radius    # n_nodes: bound on the distance centroid->point
    const double* sums      # n_nodes x d: coordinate sums of its points
    const double* box       # n_nodes x 2d: per coordinate min, then max
    double rel            # relative rounding allowance of bound tests


cdef class BallTree:
    """Flat-array ball tree over one permuted copy of the data.

    Node ``i`` has children ``2i+1`` and ``2i+2``; nodes at or after
    ``first_leaf`` are leaves.  ``data`` is the permuted copy (C order, dtype
    of the input), ``idx[j]`` the input row of ``data[j]``.  Per node: start
    and end into ``data``, centroid, radius and the coordinate sums of its
    points (its count is ``end - start``).
    """

    cdef readonly object data
    cdef readonly object idx
    cdef readonly object start
    cdef readonly object end
    cdef readonly object centroid
    cdef readonly object radius
    cdef readonly object sums
    cdef readonly object box
    cdef readonly intp n_levels
    cdef readonly double rel
    cdef Tree t

    def __len__(self):
        return self.t.n

    @property
    def n_nodes(self):
        return self.t.n_nodes

    cdef void _bind(self):
        cdef intp[::1] idx = self.idx
        cdef intp[::1] start = self.start
        cdef intp[::1] end = self.end
        cdef double[:, ::1] centroid = self.centroid
        cdef double[::1] radius = self.radius
        cdef double[:, ::1] sums = self.sums
        cdef double[:, ::1] box = self.box
        self.t.n = idx.shape[0]
        self.t.d = centroid.shape[1]
        self.t.n_nodes = start.shape[0]
        self.t.first_leaf = (self.t.n_nodes - 1) // 2
        self.t.n_levels = self.n_levels
        self.t.idx = &idx[0]
        self.t.start = &start[0]
        self.t.end = &end[0]
        self.t.centroid = &centroid[0, 0]
        self.t.radius = &radius[0]
        self.t.sums = &sums[0, 0]
        self.t.box = &box[0, 0]
        self.t.rel = self.rel


def tree_levels(intp n, intp leaf_size):
    """Number of levels of a tree whose leaves hold at most ``leaf_size``."""
    cdef intp levels = 1
    if leaf_size < 1:
        leaf_size = 1
    while n > leaf_size and levels < 48:
        n = (n + 1) // 2
        levels += 1
    return levels


cdef inline void _swap_rows(floating* data, intp* idx, intp d,
                            intp a, intp b) noexcept nogil:
    cdef intp k, ti
    cdef floating v
    ti = idx[a]
    idx[a] = idx[b]
    idx[b] = ti
    for k in range(d):
        v = data[a * d + k]
        data[a * d + k] = data[b * d + k]
        data[b * d + k] = v


cdef void _select(floating* data, intp* idx, intp d, intp dim,
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
                _swap_rows(data, idx, d, i, j)
                i += 1
                j -= 1
            if i > j:
                break
        if j < kth:
            l = i
        if kth < i:
            r = j


cdef void _split_node(floating* data, intp* idx, intp d, intp* start,
                      intp* end, intp node) noexcept nogil:
    cdef intp s = start[node], e = end[node], p, k, dim = 0
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
        _select(data, idx, d, dim, s, e, mid)
    start[2 * node + 1] = s
    end[2 * node + 1] = mid
    start[2 * node + 2] = mid
    end[2 * node + 2] = e


cdef void _leaf_stats(const floating* data, intp d, const intp* start,
                      const intp* end, double* centroid, double* radius,
                      double* sums, double* box, intp node) noexcept nogil:
    cdef intp s = start[node], e = end[node], p, k
    cdef double* c = centroid + node * d
    cdef double* sm = sums + node * d
    cdef double* lo = box + node * 2 * d
    cdef double* hi = lo + d
    cdef double diff, d2, v, rmax = 0.0
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


cdef void _inner_stats(const floating* data, intp d, const intp* start,
                       const intp* end, double* centroid, double* radius,
                       double* sums, double* box, intp node) noexcept nogil:
    """Aggregates of an inner node: sums and box from its children, radius
    exact (the farthest of its points from its centroid)."""
    cdef intp k, p, s = start[node], e = end[node]
    cdef double* c = centroid + node * d
    cdef double* sm = sums + node * d
    cdef double* b = box + node * 2 * d
    cdef const double* bl = box + (2 * node + 1) * 2 * d
    cdef const double* br = box + (2 * node + 2) * 2 * d
    cdef double diff, d2, rmax = 0.0
    for k in range(d):
        sm[k] = sums[(2 * node + 1) * d + k] + sums[(2 * node + 2) * d + k]
        c[k] = sm[k] / (e - s) if e > s else 0.0
        b[k] = bl[k] if bl[k] < br[k] else br[k]
        b[d + k] = bl[d + k] if bl[d + k] > br[d + k] else br[d + k]
    for p in range(s, e):
        d2 = 0.0
        for k in range(d):
            diff = data[p * d + k] - c[k]
            d2 += diff * diff
        if d2 > rmax:
            rmax = d2
    radius[node] = sqrt(rmax)


cdef void _build_subtree(floating* data, intp* idx, intp d, intp* start,
                         intp* end, double* centroid, double* radius,
                         double* sums, double* box, intp first_leaf,
                         intp node) noexcept nogil:
    """Split the rows of node recursively and fill the aggregates of every
    node below it, children before parents."""
    if node >= first_leaf:
        _leaf_stats(data, d, start, end, centroid, radius, sums, box, node)
        return
    _split_node(data, idx, d, start, end, node)
    _build_subtree(data, idx, d, start, end, centroid, radius, sums, box,
                   first_leaf, 2 * node + 1)
    _build_subtree(data, idx, d, start, end, centroid, radius, sums, box,
                   first_leaf, 2 * node + 2)
    _inner_stats(data, d, start, end, centroid, radius, sums, box, node)


cdef void _copy_rows(const floating[:, :] X, floating* data, intp n, intp d,
                     int n_threads) noexcept nogil:
    cdef intp i, k
    for i in prange(n, schedule='static', num_threads=n_threads):
        for k in range(d):
            data[i * d + k] = X[i, k]


def build_tree(const floating[:, :] X, intp leaf_size=32, int n_threads=1):
    """Build a :class:`BallTree` over the rows of X (any strides).

    The tree keeps a permuted C-ordered copy of X in X's dtype; node
    centroids, radii and coordinate sums are float64.
    """
    cdef intp n = X.shape[0], d = X.shape[1]
    cdef intp n_levels = tree_levels(n, leaf_size)
    cdef intp n_nodes = (<intp>1 << n_levels) - 1
    cdef intp first_leaf = (n_nodes - 1) // 2
    cdef intp level, node, top
    dtype = np.float32 if floating is float else np.float64
    data_arr = np.empty((n, d), dtype=dtype)
    idx_arr = np.arange(n, dtype=np.intp)
    start_arr = np.zeros(n_nodes, dtype=np.intp)
    end_arr = np.zeros(n_nodes, dtype=np.intp)
    centroid_arr = np.zeros((n_nodes, max(d, 1)), dtype=np.float64)
    radius_arr = np.zeros(n_nodes, dtype=np.float64)
    sums_arr = np.zeros((n_nodes, max(d, 1)), dtype=np.float64)
    box_arr = np.zeros((n_nodes, 2 * max(d, 1)), dtype=np.float64)
    cdef floating[:, ::1] data = data_arr
    cdef intp[::1] idx = idx_arr
    cdef intp[::1] start = start_arr
    cdef intp[::1] end = end_arr
    cdef double[:, ::1] centroid = centroid_arr
    cdef double[::1] radius = radius_arr
    cdef double[:, ::1] sums = sums_arr
    cdef double[:, ::1] box = box_arr
    if n == 0 or d == 0:
        raise ValueError("cannot build a tree over an empty array")
    if n * d < 65536:
        n_threads = 1      # a parallel region costs more than the work
    with nogil:
        _copy_rows(X, &data[0, 0], n, d, n_threads)
        start[0] = 0
        end[0] = n
        # The top levels are split in this thread until there are a few
        # subtrees per thread; each subtree is then built whole by one
        # thread, so the build is one parallel region with no barrier per
        # level (barriers stall when another process holds a core).
        top = 0
        while top < n_levels - 1 and (<intp>1 << top) < 4 * n_threads:
            top += 1
        if n_threads == 1:
            top = 0
        for level in range(top):
            for node in range((<intp>1 << level) - 1, (<intp>1 << (level + 1)) - 1):
                _split_node(&data[0, 0], &idx[0], d, &start[0], &end[0], node)
        for node in prange((<intp>1 << top) - 1, (<intp>1 << (top + 1)) - 1,
                           schedule='dynamic', num_threads=n_threads):
            _build_subtree(&data[0, 0], &idx[0], d, &start[0], &end[0],
                           &centroid[0, 0], &radius[0], &sums[0, 0], &box[0, 0],
                           first_leaf, node)
        for level in range(top - 1, -1, -1):
            for node in range((<intp>1 << level) - 1, (<intp>1 << (level + 1)) - 1):
                _inner_stats(&data[0, 0], d, &start[0], &end[0], &centroid[0, 0],
                             &radius[0], &sums[0, 0], &box[0, 0], node)
    cdef BallTree tree = BallTree.__new__(BallTree)
    tree.data = data_arr
    tree.idx = idx_arr
    tree.start = start_arr
    tree.end = end_arr
    tree.centroid = centroid_arr
    tree.radius = radius_arr
    tree.sums = sums_arr
    tree.box = box_arr
    tree.n_levels = n_levels
    # rounding of a distance is ~ (d + 3) eps relative; radii of inner
    # nodes add one such error per level
    tree.rel = BASE_REL_TOL + 8.0 * (d + 4) * (n_levels + 2) * DBL_EPS
    tree._bind()
    return tree


# ---------------------------------------------------------------------------
# The flat kernel: sum and count of the points within bandwidth
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


cdef inline intp _ball_sum_d(const floating* data, const Tree* t,
                             const double* q, intp d, double bw, double bw2,
                             bint exact_only, double* acc,
                             intp* stack) noexcept nogil:
    """Add to acc the coordinates of the points within bw of q (distance
    <= bw, i.e. squared distance <= bw2) and return how many there are.

    In low dimensions a node is skipped when its bounding box is farther
    than bw * f from q and taken whole when its farthest corner is within
    bw / f; in higher ones the same with its ball: skipped when
    dc > (bw + r) * f, taken whole when dc + r <= bw / f (dc the distance
    from q to its centroid, r its radius).  f = (1 + rel) / (1 - rel): the
    margin rel covers every rounding error of these tests, so they agree
    with the exact per-point test on every point of the node.  Squares
    avoid the square root.
    """
    cdef intp sp = 1, node, p, k, count = 0
    cdef double f = (1.0 + t.rel) / (1.0 - t.rel)
    cdef double bw_in = bw / f
    cdef double bw2_in = bw_in * bw_in
    cdef double bw2_out = bw * f * bw * f
    cdef double diff, d2, lim, lo2, hi2, a, b
    cdef bint inside
    cdef bint use_box = d <= BOX_MAX_D
    cdef const double* c
    cdef const floating* row
    stack[0] = 0
    while sp > 0:
        sp -= 1
        node = stack[sp]
        if not exact_only:
            if use_box:
                # low dimensions: the bounding box is the tighter bound
                c = t.box + node * 2 * d
                lo2 = 0.0
                hi2 = 0.0
                for k in range(d):
                    a = c[k] - q[k]
                    b = q[k] - c[d + k]
                    if a > 0.0:
                        lo2 += a * a
                    elif b > 0.0:
                        lo2 += b * b
                    a = -a if -a > -b else -b    # max(q - lo, hi - q)
                    hi2 += a * a
                if lo2 > bw2_out:
                    continue                  # no point can be within bw
                inside = hi2 <= bw2_in        # every point is within bw
            else:
                c = t.centroid + node * d
                d2 = 0.0
                for k in range(d):
                    diff = q[k] - c[k]
                    d2 += diff * diff
                lim = (bw + t.radius[node]) * f
                if d2 > lim * lim:
                    continue
                lim = bw_in - t.radius[node]
                inside = lim >= 0.0 and d2 <= lim * lim
            if inside:
                count += t.end[node] - t.start[node]
                c = t.sums + node * d
                for k in range(d):
                    acc[k] += c[k]
                continue
        if node >= t.first_leaf:
            for p in range(t.start[node], t.end[node]):
                row = data + p * d
                if _sqdist_bounded(row, q, d, bw2) <= bw2:
                    count += 1
                    for k in range(d):
                        acc[k] += row[k]
        else:
            stack[sp] = 2 * node + 2
            stack[sp + 1] = 2 * node + 1
            sp += 2
    return count


cdef intp _ball_sum(const floating* data, const Tree* t, const double* q,
                    double bw, double bw2, bint exact_only, double* acc,
                    intp* stack) noexcept nogil:
    # constant dimensions let the compiler unroll the coordinate loops
    if t.d == 2:
        return _ball_sum_d(data, t, q, 2, bw, bw2, exact_only, acc, stack)
    if t.d == 3:
        return _ball_sum_d(data, t, q, 3, bw, bw2, exact_only, acc, stack)
    if t.d == 1:
        return _ball_sum_d(data, t, q, 1, bw, bw2, exact_only, acc, stack)
    return _ball_sum_d(data, t, q, t.d, bw, bw2, exact_only, acc, stack)


cdef inline bint _use_exact_only(double bw2) noexcept nogil:
    # Node bounds rely on relative rounding errors; with squared distances
    # in the subnormal or overflow range they do not hold, so every point
    # is tested on its own there.
    return not (bw2 > 1e-280 and bw2 < 1e280)


def ball_sums(BallTree tree, const floating[:, ::1] data,
              const double[:, :] positions, double bandwidth,
              int n_threads=1):
    """One step for many positions: for each row of ``positions``, the sum
    (float64) and count of the points within ``bandwidth`` of it."""
    cdef intp m = positions.shape[0], d = tree.t.d, i, k
    if positions.shape[1] != d or data.shape[0] != tree.t.n:
        raise ValueError("positions and data must match the tree")
    sums_arr = np.zeros((m, d), dtype=np.float64)
    counts_arr = np.zeros(m, dtype=np.intp)
    cdef double[:, ::1] sums = sums_arr
    cdef intp[::1] counts = counts_arr
    cdef double bw2 = bandwidth * bandwidth
    cdef bint exact_only = _use_exact_only(bw2)
    cdef intp stack_size = 2 * tree.t.n_levels + 2
    cdef double* q
    cdef intp* stack
    cdef int failed = 0
    cdef int* failed_p = &failed
    if m == 0:
        return sums_arr, counts_arr
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
            counts[i] = _ball_sum(&data[0, 0], &tree.t, q, bandwidth, bw2,
                                  exact_only, &sums[i, 0], stack)
        free(q)
        free(stack)
    if failed:
        raise MemoryError("ball_sums: out of memory for thread scratch")
    return sums_arr, counts_arr


# ---------------------------------------------------------------------------
# The hill climb, all seeds at once
# ---------------------------------------------------------------------------

cdef inline double _move_to_mean(const floating* data, const double* acc,
                                 intp cnt, double* pos, intp d) noexcept nogil:
    """Move pos to the mean acc / cnt, held in the data's dtype as numpy's
    mean would be (data only selects that dtype); returns the squared
    length of the move."""
    cdef intp k
    cdef double m, diff, shift2 = 0.0
    for k in range(d):
        m = <floating>(acc[k] / cnt)
        diff = m - pos[k]
        shift2 += diff * diff
        pos[k] = m
    return shift2


cdef void _climb_one(const floating* data, const Tree* t, double* pos,
                     double bw, double bw2, bint exact_only, double stop_thresh,
                     intp max_iter, double* acc, intp* stack,
                     intp* count_out, intp* iter_out) noexcept nogil:
    """scikit-learn's _mean_shift_single_seed: pos holds the seed on entry
    and the final mean on exit."""
    cdef intp d = t.d, k, it = 0, cnt
    cdef double shift2
    while True:
        for k in range(d):
            acc[k] = 0.0
        cnt = _ball_sum(data, t, pos, bw, bw2, exact_only, acc, stack)
        if cnt == 0:
            break                    # nothing within bandwidth: seed dropped
        shift2 = _move_to_mean(data, acc, cnt, pos, d)
        if sqrt(shift2) <= stop_thresh or it == max_iter:
            break
        it += 1
    count_out[0] = cnt
    iter_out[0] = it


cdef void _climb_one_scan(const floating* data, intp n, intp d, double* pos,
                          double bw, double bw2, double stop_thresh,
                          intp max_iter, double* acc, double* lb, double* ub,
                          unsigned char* inside, intp* count_out,
                          intp* iter_out) noexcept nogil:
    """The same climb as _climb_one on a single-leaf tree (a brute-force
    scan), with per-point distance bounds carried from one iteration to the
    next: when the mean moves by delta, a point's distance changes by at
    most delta, so a point certainly still inside (upper bound <= bw) or
    outside (lower bound > bw) keeps its status without a distance
    computation, and the sum is updated only for the points that cross.
    The margins (1e-9 relative) cover every rounding, so the points taken
    are exactly those the per-point test takes."""
    cdef intp i, k, it = 0, cnt = 0
    cdef double shift2, d2, delta
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
            cnt += 1
            for k in range(d):
                acc[k] += row[k]
    while True:
        if cnt == 0:
            break                    # nothing within bandwidth: seed dropped
        shift2 = _move_to_mean(data, acc, cnt, pos, d)
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
                if now_in:
                    cnt += 1
                    for k in range(d):
                        acc[k] += row[k]
                else:
                    cnt -= 1
                    for k in range(d):
                        acc[k] -= row[k]
    count_out[0] = cnt
    iter_out[0] = it


def climb(BallTree tree, const floating[:, ::1] data, const seed_t[:, :] seeds,
          double bandwidth, intp max_iter, int n_threads=1, intp start=0,
          double seconds=0.0, out=None):
    """Climb the seeds ``start:`` to their modes with the flat kernel.

    Returns ``(centers, counts, n_iter, stop)``: per seed the final mean
    (dtype of the data), the number of points within bandwidth at its last
    query (0 for a seed that had none: it is to be dropped) and the number
    of completed iterations, exactly as scikit-learn counts them, filled
    for the rows ``start:stop``.  With ``seconds > 0`` no seed is begun
    after that long: the seeds begun are finished and ``stop`` tells where
    to go on from; otherwise ``stop`` is the number of seeds.  ``out``, the
    three arrays of an earlier call on the same seeds, is filled instead
    of new arrays.
    """
    cdef intp m = seeds.shape[0], d = tree.t.d, s, k
    if seeds.shape[1] != d or data.shape[0] != tree.t.n:
        raise ValueError("seeds and data must match the tree")
    if not 0 <= start <= m:
        raise ValueError("need 0 <= start <= n_seeds")
    if out is None:
        dtype = np.float32 if floating is float else np.float64
        out = (np.zeros((m, d), dtype=dtype), np.zeros(m, dtype=np.intp),
               np.zeros(m, dtype=np.intp))
    cdef floating[:, ::1] centers = out[0]
    cdef intp[::1] counts = out[1]
    cdef intp[::1] iters = out[2]
    if centers.shape[0] != m or centers.shape[1] != d or counts.shape[0] != m \
            or iters.shape[0] != m:
        raise ValueError("out must hold one row per seed")
    cdef double bw2 = bandwidth * bandwidth
    cdef double stop_thresh = 1e-3 * bandwidth
    cdef bint exact_only = _use_exact_only(bw2)
    cdef intp stack_size = 2 * tree.t.n_levels + 2
    # a single-leaf tree is a brute-force scan: carry distance bounds
    cdef bint scan = tree.t.n_levels == 1 and not exact_only
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
                    _climb_one_scan(&data[0, 0], n, d, pos, bandwidth, bw2,
                                    stop_thresh, max_iter, acc, lb, ub,
                                    inside, &counts[s], &iters[s])
                else:
                    _climb_one(&data[0, 0], &tree.t, pos, bandwidth, bw2,
                               exact_only, stop_thresh, max_iter, acc, stack,
                               &counts[s], &iters[s])
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
    const intp* counts    # position -> count


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


def dedupe_and_rank(const double[:, ::1] centers, const intp[::1] counts):
    """Order the converged seeds the way scikit-learn's post-processing does.

    Seeds whose centers are equal (==, coordinate by coordinate) count once,
    as keys of a dict would: the coordinates of the first such seed, the
    count of the last.  The survivors are ordered by (count, coordinates)
    descending.  Returns ``(rows, counts)``: for each ranked center, the row
    of ``centers`` holding its coordinates, and its count.
    """
    cdef intp m = centers.shape[0], d = centers.shape[1], i, g, u = 0
    order_arr = np.arange(m, dtype=np.intp)
    tmp_arr = np.empty(m, dtype=np.intp)
    rows_arr = np.empty(m, dtype=np.intp)
    ucounts_arr = np.empty(m, dtype=np.intp)
    cdef intp[::1] order = order_arr
    cdef intp[::1] tmp = tmp_arr
    cdef intp[::1] rows = rows_arr
    cdef intp[::1] ucounts = ucounts_arr
    cdef RankCtx ctx
    if m == 0:
        return rows_arr, ucounts_arr
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
            ucounts[u] = counts[order[g]]  # last seed's count
            u += 1
            i = g + 1
        # rank by (count, coordinates) descending; ucounts is indexed by
        # position in rows, so rank positions and map back afterwards
        for i in range(u):
            order[i] = i
        ctx.rows = &rows[0]
        ctx.counts = &ucounts[0]
        _merge_sort(&order[0], &tmp[0], u, _cmp_intensity_desc, &ctx)
        for i in range(u):
            tmp[i] = rows[order[i]]
        for i in range(u):
            rows[i] = tmp[i]
            order[i] = ucounts[order[i]]
        for i in range(u):
            ucounts[i] = order[i]
    return rows_arr[:u].copy(), ucounts_arr[:u].copy()


cdef int _cmp_intensity_desc(const void* ctx, intp a, intp b) noexcept nogil:
    """Positions compared by (count, coordinates), descending, as
    sorted(reverse=True) orders (count, center) pairs."""
    cdef const RankCtx* c = <const RankCtx*>ctx
    if c.counts[a] > c.counts[b]:
        return -1
    if c.counts[a] < c.counts[b]:
        return 1
    return -_cmp_coords(ctx, c.rows[a], c.rows[b])


def suppress(BallTree tree, const floating[:, ::1] data, double bandwidth):
    """Greedy suppression in rank order (the rows the tree was built on are
    ranked strongest first): a center within bandwidth of a stronger kept
    center is removed.  Returns a boolean mask over the ranked rows."""
    cdef intp n = tree.t.n, d = tree.t.d, i, j, k, node, sp, p
    keep_arr = np.ones(n, dtype=np.uint8)
    pos_arr = np.empty(n, dtype=np.intp)     # ranked row -> permuted row
    cdef unsigned char[::1] keep = keep_arr
    cdef intp[::1] pos = pos_arr
    cdef double bw2 = bandwidth * bandwidth
    cdef bint exact_only = _use_exact_only(bw2)
    cdef double* q = <double*>malloc(max(d, 1) * sizeof(double))
    cdef intp* stack = <intp*>malloc((2 * tree.t.n_levels + 2) * sizeof(intp))
    cdef double dc, r, tol, diff, d2
    cdef const double* c
    cdef const Tree* t = &tree.t
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
                        for p in range(t.start[node], t.end[node]):
                            keep[t.idx[p]] = 0
                        continue
                if node >= t.first_leaf:
                    for p in range(t.start[node], t.end[node]):
                        if _sqdist_bounded(&data[p, 0], q, d, bw2) <= bw2:
                            keep[t.idx[p]] = 0
                else:
                    stack[sp] = 2 * node + 2
                    stack[sp + 1] = 2 * node + 1
                    sp += 2
            keep[i] = 1
    free(q)
    free(stack)
    return keep_arr.astype(bool)


# ---------------------------------------------------------------------------
# Labels: nearest center
# ---------------------------------------------------------------------------

cdef void _nearest_brute(const double* q, const double* Ct, intp kc, intp d,
                         double* buf, intp* best_i,
                         double* best_d2) noexcept nogil:
    """Nearest of kc centers stored by coordinate (Ct[k * kc + j]); the
    first wins ties.  The distances go to buf in a loop over centers that
    vectorises, each still summed in coordinate order; the arg-min is
    branch-free."""
    cdef intp j, k
    cdef double diff, qk, best
    cdef intp bi = 0
    cdef const double* row
    for j in range(kc):
        buf[j] = 0.0
    for k in range(d):
        qk = q[k]
        row = Ct + k * kc
        for j in range(kc):
            diff = qk - row[j]
            buf[j] += diff * diff
    best = buf[0]
    for j in range(1, kc):
        bi = j if buf[j] < best else bi
        best = buf[j] if buf[j] < best else best
    best_i[0] = bi
    best_d2[0] = best


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
            for p in range(t.start[node], t.end[node]):
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


def assign(const floating[:, :] X, const double[:, ::1] centers,
           double bandwidth, bint cluster_all, int n_threads=1):
    """Index of the nearest center of every row of X (the first on ties);
    with ``cluster_all=False``, -1 where that center is farther than
    bandwidth.  Returns ``(labels, overflow)``: an intp array, and whether
    some row's squared distance to every center overflowed (its label is
    then the first center; the caller may rescale and ask again)."""
    cdef intp n = X.shape[0], d = X.shape[1], kc = centers.shape[0], i, k
    labels_arr = np.empty(n, dtype=np.intp)
    cdef intp[::1] labels = labels_arr
    cdef BallTree tree = None
    cdef double[:, ::1] cdata
    cdef const Tree* t = NULL
    cdef bint use_tree = kc > TREE_ASSIGN_MIN_CENTERS
    cdef intp stack_size = 2
    cdef double* q
    cdef double* buf
    cdef intp* stack
    cdef intp bi
    cdef double bd2
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
    ct_arr = np.ascontiguousarray(np.asarray(centers).T)
    cdef const double[:, ::1] ct = ct_arr
    with nogil, parallel(num_threads=n_threads):
        q = <double*>malloc(d * sizeof(double))
        stack = <intp*>malloc(stack_size * sizeof(intp))
        buf = <double*>malloc(kc * sizeof(double))
        if q == NULL or stack == NULL or buf == NULL:
            failed_p[0] = 1
        for i in prange(n, schedule='static'):
            if q == NULL or stack == NULL or buf == NULL:
                continue
            # assigned here so that each thread has its own copy
            bi = -1
            bd2 = INFINITY
            for k in range(d):
                q[k] = X[i, k]
            if use_tree:
                _nearest_tree(q, &cdata[0, 0], t, stack, &bi, &bd2)
            else:
                _nearest_brute(q, &ct[0, 0], kc, d, buf, &bi, &bd2)
            if bd2 == INFINITY:
                overflow_p[0] = 1
            if not cluster_all and sqrt(bd2) > bandwidth:
                bi = -1
            labels[i] = bi
        free(q)
        free(stack)
        free(buf)
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
                 intp* stack) noexcept nogil:
    """Count the points at distance <= r_lo from q (returned) and append to
    cand the distances that lie in (r_lo, r_hi].  Whole nodes are counted or
    skipped only when the margin rel makes the exact test agree."""
    cdef intp sp = 1, node, p, k, count = 0, nc = 0
    cdef double f = (1.0 + t.rel) / (1.0 - t.rel)
    cdef double diff, d2, lim, dist
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
            count += t.end[node] - t.start[node]
            continue
        if node >= t.first_leaf:
            for p in range(t.start[node], t.end[node]):
                dist = sqrt(_sqdist_bounded(data + p * d, q, d, INFINITY))
                if dist <= r_lo:
                    count += 1
                elif dist <= r_hi:
                    cand[nc] = dist
                    nc += 1
        else:
            stack[sp] = 2 * node + 2
            stack[sp + 1] = 2 * node + 1
            sp += 2
    n_cand[0] = nc
    return count


cdef void _kth_chunk(const floating* data, const Tree* t, intp lo, intp hi,
                     intp k, double* out, double* q, double* q_prev,
                     double* r_prev_io, double* cand,
                     intp* stack) noexcept nogil:
    """Distances to the k-th nearest point for the permuted rows [lo, hi).

    The k-th neighbour distance is 1-Lipschitz in the query, so after a
    query q' with answer r', the answer for q lies in r' +- |q - q'|.  Rows
    in tree order are close to each other, so only a thin shell of points
    is examined; a miss (rounding) widens to the whole data set.  q_prev
    and r_prev_io carry the previous query and answer from call to call
    (r_prev_io < 0: none yet)."""
    cdef intp d = t.d, j, kk, below, nc
    cdef double r_prev = r_prev_io[0], delta, diff, r_lo, r_hi, ans
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
            below = _shell(data, t, q, d, r_lo, r_hi, cand, &nc, stack)
            if below < k <= below + nc:
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
                      out=None):
    """For the rows of the tree's data from ``start`` on (in tree order),
    the distance to the k-th nearest row, the row itself included (so k=1
    gives 0), as NearestNeighbors.kneighbors on the training data.

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
    if data.shape[0] != n:
        raise ValueError("data must match the tree")
    if not 0 <= start <= n:
        raise ValueError("need 0 <= start <= n_samples")
    if out is None:
        out = np.empty(n, dtype=np.float64)
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
        cand = <double*>malloc(n * sizeof(double))
        stack = <intp*>malloc(stack_size * sizeof(intp))
        if q == NULL or q_prev == NULL or cand == NULL or stack == NULL:
            failed_p[0] = 1   # take no rows: the other threads finish theirs
        else:
            while True:
                lo = ms_grab(work_p, step)
                if lo < 0:
                    break
                _kth_chunk(&data[0, 0], &tree.t, lo, min(lo + step, n), k,
                           &res[0], q, q_prev, &r_prev, cand, stack)
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
    intp* counts
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
    m.counts = <intp*>malloc(m.cell_cap * sizeof(intp))
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
                  intp count) noexcept nogil:
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
        p = realloc(m.counts, new_cc * sizeof(intp))
        if p == NULL:
            return -1
        m.counts = <intp*>p
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


cdef int _bin_chunk(const floating[:, :] X, intp lo, intp hi, double bin_size,
                    bint f32_division, CellMap* m) noexcept nogil:
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
        if _map_add(m, key, _hash_key(key, d), 1) != 0:
            free(key)
            return -1
    free(key)
    return 0


def bin_cells(const floating[:, :] X, double bin_size, bint f32_division,
              int n_threads=1):
    """Grid cells of the rows of X: ``round(x / bin_size)`` per coordinate
    (round half to even, as numpy), in order of first appearance, with the
    number of rows in each.  Returns ``(cells, counts)``: float64 cells
    (integer values) and intp counts.

    Threads each bin a contiguous chunk; the chunks' maps are merged in
    chunk order, which keeps the order of first appearance.
    """
    cdef intp n = X.shape[0], d = X.shape[1], c, i, k, n_chunks
    if f32_division and floating is double:
        raise ValueError("float32 division needs float32 data")
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
            status[c] = _bin_chunk(X, (n * c) // n_chunks,
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
    counts_arr = np.empty(total.n_cells, dtype=np.intp)
    cdef double[:, ::1] cells = cells_arr
    cdef intp[::1] counts = counts_arr
    for i in range(total.n_cells):
        counts[i] = total.counts[i]
        for k in range(d):
            cells[i, k] = total.keys[i * d + k]
    _map_free(&total)
    return cells_arr, counts_arr
