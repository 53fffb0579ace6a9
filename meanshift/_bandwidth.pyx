# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False, nonecheck=False
"""The distance of every point to its k-th nearest neighbour, behind
estimate_bandwidth (``kth_neighbor_dist``): exact, in parallel, resumable
after a time budget."""

from cython cimport floating
from cython.parallel cimport parallel
from libc.math cimport INFINITY, NAN, sqrt
from libc.stdlib cimport free, malloc, qsort

import numpy as np

from ._common cimport (NODE_SKIP, NODE_WHOLE, ByValue, Tree, intp, _leaf_hi,
                       _leaf_lo, _node_count, _node_test_ball, _select,
                       _sqdist_bounded)

cdef extern from "src/ms_simd.h" nogil:
    void ms_sqdist_hd_rows_f64(const double* rows, intp m, const double* q,
                               intp d, double* out) noexcept
    void ms_sqdist_hd_rows_f32(const float* rows, intp m, const double* q,
                               intp d, double* out) noexcept
from ._openmp cimport ms_dispensed, ms_dispenser, ms_dispenser_init, ms_grab
from ._region cimport check_out, region_begin, region_end
from ._tree cimport BallTree


cdef inline double _kth_smallest(double* a, intp n, intp kth) noexcept nogil:
    """The kth smallest (0-based) of a[:n]; reorders a.  (The candidates
    hold no NaN, which never passes dist <= r_hi, and no -0.0, so the kth
    smallest is one value whatever the order _select leaves them in.)"""
    _select(a, <intp*>NULL, <double*>NULL, 1, 0, 0, n, kth, <ByValue*>NULL)
    return a[kth]


cdef intp _shell(const floating* data, const Tree* t, const double* q, intp d,
                 double r_lo, double r_hi, double* cand, intp* n_cand,
                 intp* stack, double* below_w, double* dist2) noexcept nogil:
    """Count the points at distance <= r_lo from q (returned; their weight
    to below_w when the tree has weights) and append to cand the distances
    that lie in (r_lo, r_hi] (with weights: (distance, weight) pairs).
    Whole nodes are counted or skipped only when the margin rel makes the
    exact test agree.  dist2: scratch for a leaf's squared distances above
    16 dimensions (one call a leaf, _leaf_sqdists)."""
    cdef intp sp = 1, node, p, lo, count = 0, nc = 0
    cdef double f = (1.0 + t.rel) / (1.0 - t.rel)
    cdef double dist, bw_sum = 0.0
    cdef int verdict
    stack[0] = 0
    while sp > 0:
        sp -= 1
        node = stack[sp]
        verdict = _node_test_ball(t, node, q, d, r_hi, f,
                                  r_lo / f if r_lo >= 0.0 else -1.0)
        if verdict == NODE_SKIP:
            continue
        if verdict == NODE_WHOLE:
            count += _node_count(t, node)
            if t.w != NULL:
                bw_sum += t.wsum[node]
            continue
        if node >= t.first_leaf:
            lo = _leaf_lo(t, node)
            if d > 16:
                _leaf_sqdists(data, lo, _leaf_hi(t, node), q, d, dist2)
            for p in range(lo, _leaf_hi(t, node)):
                if d > 16:
                    dist = sqrt(dist2[p - lo])
                else:
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


cdef inline void _leaf_sqdists(const floating* data, intp lo, intp hi,
                               const double* q, intp d,
                               double* out) noexcept nogil:
    """The squared distances of the rows [lo, hi) to q, in full, each as
    _sqdist_bounded sums it (above 16 dimensions), in one call: a call per
    row made GCC save and restore a dozen registers around each."""
    if floating is double:
        ms_sqdist_hd_rows_f64(data + lo * d, hi - lo, q, d, out)
    else:
        ms_sqdist_hd_rows_f32(data + lo * d, hi - lo, q, d, out)


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
                     double* r_prev_io, double* cand, intp* stack,
                     double* dist2) noexcept nogil:
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
                           &below_w, dist2)
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


def kth_neighbor_dist(BallTree tree, *, intp k, int n_threads=1, intp start=0,
                      double seconds=0.0, out=None, double kweight=0.0):
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
    tree.check_full("kth_neighbor_dist")
    return _kth_neighbor_dist(tree, tree.data, k, n_threads, start, seconds,
                              out, kweight)


def _kth_neighbor_dist(BallTree tree, const floating[:, ::1] data, intp k,
                       int n_threads, intp start, double seconds, out,
                       double kweight):
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
    if not 0 <= start <= n:
        raise ValueError("need 0 <= start <= n_samples")
    if out is None:
        out = np.empty(n, dtype=np.float64)
    check_out(out, "out")
    cdef double[::1] res = out
    if res.shape[0] != n:
        raise ValueError("out must have one entry per row")
    cdef double* q
    cdef double* q_prev
    cdef double* cand
    cdef double* dist2
    cdef intp* stack
    cdef intp stack_size = 2 * tree.t.n_levels + 2
    cdef int failed = 0
    cdef int* failed_p = &failed
    cdef ms_dispenser work
    cdef ms_dispenser* work_p = &work
    ms_dispenser_init(work_p, start, n, seconds)
    if start == n:
        return out, n
    cdef double t0 = region_begin()
    with nogil, parallel(num_threads=n_threads if n - start > step else 1):
        r_prev = -1.0
        q = <double*>malloc(d * sizeof(double))
        q_prev = <double*>malloc(d * sizeof(double))
        cand = <double*>malloc((2 * n if tree.t.w != NULL else n)
                               * sizeof(double))
        stack = <intp*>malloc(stack_size * sizeof(intp))
        # a leaf's squared distances (_shell) above 16 dimensions
        dist2 = <double*>malloc((n if d > 16 else 1) * sizeof(double))
        if (q == NULL or q_prev == NULL or cand == NULL or stack == NULL
                or dist2 == NULL):
            failed_p[0] = 1   # take no rows: the other threads finish theirs
        else:
            while True:
                lo = ms_grab(work_p, step)
                if lo < 0:
                    break
                _kth_chunk(&data[0, 0], &tree.t, lo, min(lo + step, n), k,
                           kweight, &res[0], q, q_prev, &r_prev, cand, stack,
                           dist2)
        free(dist2)
        free(q)
        free(q_prev)
        free(cand)
        free(stack)
    region_end(t0)
    if failed:
        raise MemoryError("kth_neighbor_dist: out of memory")
    return out, ms_dispensed(work_p)
