# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False, nonecheck=False
"""The heart of meanshift: the kernels' traversal of the tree, one mean
shift step for many positions (``ball_sums``) and the whole climb of many
seeds (``climb``).

Every kernel here is a plain function of arrays: it holds no Python object
and no GIL while it works, reports failure by return code, and is
deterministic: a seed's result depends only on the seed and the data, never
on the number of threads or the order in which they run.  Distances are
computed in float64, coordinate by coordinate in order, whatever the dtype
of the data; sums are accumulated in float64.

The other stages are modules of their own, composed by the Python layer:

* ``_tree.build_tree``          the ball tree in flat arrays, its aggregates;
  ``morton_order``, the order climbs take their seeds in
* ``_core.ball_sums``, ``climb``  here
* ``_merge.dedupe_and_rank``, ``suppress``, ``assign``  after the climb
* ``_bandwidth.kth_neighbor_dist``  the distances behind estimate_bandwidth
* ``_bins.bin_cells``           the grid cells of bin seeding;
  ``grid_cells``, ``cell_labels``  the cells of the grid mode and its labels
* ``_values.finite_magnitude``  the input's finite check and largest
  magnitude, in one parallel pass
* ``_textparse.parse_into``     a block of CSV text to float64 (the command)
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport INFINITY, sqrt
from libc.stdlib cimport free, malloc

import numpy as np

from ._choices import KERNELS as _KERNEL_NAMES

from ._common cimport (BOX_MAX_D, NODE_SKIP, NODE_WHOLE, NodeTest, Tree,
                       intp, _box_is_point, _leaf_hi, _leaf_lo, _node_count,
                       _node_lo,
                       _node_test, _node_test_init, _sqdist_bounded,
                       _use_exact_only)
from ._kernels cimport (KERNEL_EPANECHNIKOV, KERNEL_FLAT, KERNEL_GAUSSIAN,
                        KernEpanechnikov, KernFlat, KernGaussian, kern_t,
                        _kern_reach, _kern_reach2, _kern_takes_whole,
                        _kern_weight, _kern_whole)
from ._openmp cimport (MS_HAVE_OPENMP, ms_dispensed, ms_dispenser,
                       ms_dispenser_init, ms_grab, omp_get_max_threads)
from ._region cimport aligned, check_out, region_begin, region_end
from ._tree cimport BallTree

cdef extern from "src/ms_leaves.h" nogil:
    double ms_leaves_flat_f64(intp d, const double* cols, const double* w,
                              const intp* bounds, const intp* leaves,
                              intp nl, const double* q, double bw2,
                              double* acc) noexcept
    double ms_leaves_flat_f32(intp d, const float* cols, const double* w,
                              const intp* bounds, const intp* leaves,
                              intp nl, const double* q, double bw2,
                              double* acc) noexcept
    double ms_leaves_rows_f64(intp d, const double* data, const double* w,
                              const intp* bounds, const intp* leaves,
                              intp nl, const double* q, double bw2,
                              double* acc) noexcept
    double ms_leaves_rows_f32(intp d, const float* data, const double* w,
                              const intp* bounds, const intp* leaves,
                              intp nl, const double* q, double bw2,
                              double* acc) noexcept

ctypedef fused seed_t:
    float
    double

# name -> code of each kernel (the codes of _kernels.pxd, in the order of
# meanshift._choices.KERNELS)
KERNELS = {name: code for code, name in enumerate(_KERNEL_NAMES)}
assert (KERNELS["flat"], KERNELS["epanechnikov"], KERNELS["gaussian"]) == (
    KERNEL_FLAT, KERNEL_EPANECHNIKOV, KERNEL_GAUSSIAN)


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(MS_HAVE_OPENMP)


def max_threads():
    """``omp_get_max_threads()``: honours OMP_NUM_THREADS and threadpoolctl."""
    return omp_get_max_threads()


# ---------------------------------------------------------------------------
# The kernels' traversal: weighted sums of the points within reach
# ---------------------------------------------------------------------------

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


cdef inline double _leaves_rows(const floating* data, const Tree* t,
                                const intp* leaves, intp nl, const double* q,
                                double bw2, double* acc) noexcept nogil:
    """The flat-kernel scan of the leaves ``leaves`` of a tree of one or
    two columns, over its rows: ms_leaves_rows."""
    if floating is double:
        return ms_leaves_rows_f64(t.d, data, t.w, t.bounds, leaves, nl, q,
                                  bw2, acc)
    else:
        return ms_leaves_rows_f32(t.d, data, t.w, t.bounds, leaves, nl, q,
                                  bw2, acc)


cdef inline intp _scratch_size(const Tree* t) noexcept nogil:
    """The intp scratch _ball_sum takes: the traversal's stack, then (a
    tree with leaf columns, or of one or two columns) the list of leaves
    to scan."""
    cdef bint scans = t.cols != NULL or t.d <= 2
    return 2 * t.n_levels + 2 + (t.first_leaf + 1 if scans else 0)


cdef inline double _add_weighted(double* acc, const floating* row, intp d,
                                 double wi) noexcept nogil:
    """acc += wi * row; returns wi."""
    cdef intp k
    for k in range(d):
        acc[k] += wi * row[k]
    return wi


cdef double _ball_sum_d(const floating* data, const Tree* t,
                        const double* q, dim_t* dim, double bw, double bw2,
                        bint exact_only, kern_t* kernel, double* acc,
                        intp* stack) noexcept nogil:
    """Add to acc the weighted coordinates sum w_i k(r_i) x_i of the points
    within the kernel's reach of q and return their weight
    sum w_i k(r_i) (w_i the sample weight, 1 without weights; for the flat
    kernel without weights, the number of points within bw: distance
    <= bw, i.e. squared distance <= bw2).

    A node is skipped when no point of it is within reach and taken whole,
    from its aggregates (_kern_whole), when every point is within bw and
    the kernel takes whole nodes (_node_test: its margin makes these
    decisions agree with the per-point test on every point).  The other
    nodes are opened; a straddling leaf's points are tested one by one, or
    (the flat kernel in one or two columns, or over a tree with leaf
    columns) collected and scanned four at a time at the end.
    """
    cdef intp d = _dims(t, dim)
    cdef intp sp = 1, node, p, k, count = 0
    cdef double reach2 = _kern_reach2(kernel, bw, bw2)
    cdef double inv2 = 1.0 / (2.0 * bw2)
    cdef double d2, wi, total = 0.0
    cdef int verdict
    cdef NodeTest nt
    cdef bint plain = kern_t is KernFlat and t.w == NULL
    # the flat kernel's leaf scans, vectorised: over the leaves' columns
    # (trees with other numbers of columns have none), or in one or two
    # columns over the rows themselves
    cdef bint by_rows = kern_t is KernFlat and (dim_t is Dim1 or dim_t is Dim2)
    cdef bint by_columns = kern_t is KernFlat and t.cols != NULL and not by_rows
    cdef intp* leaves = stack + 2 * t.n_levels + 2
    cdef intp nl = 0
    cdef const double* c
    cdef const floating* row
    _node_test_init(&nt, t, _kern_reach(kernel, bw),
                    bw if _kern_takes_whole(kernel, t) else -1.0,
                    d <= BOX_MAX_D)
    stack[0] = 0
    while sp > 0:
        sp -= 1
        node = stack[sp]
        if not exact_only:
            verdict = _node_test(&nt, t, node, q, d, data)
            if verdict == NODE_SKIP:
                continue                  # no point is within reach
            if verdict == NODE_WHOLE:     # every point within bw
                total += _kern_whole(kernel, t, node, q, d, bw2, acc)
                continue
        if node >= t.first_leaf:
            if by_columns or by_rows:
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
            # (two loops, with and without weights: fewer values live
            # across the Gaussian's call of exp in each; the flat kernel
            # gets here with weights only)
            if kern_t is KernFlat or t.w != NULL:
                for p in range(_leaf_lo(t, node), _leaf_hi(t, node)):
                    row = data + p * d
                    d2 = _sqdist_bounded(row, q, d, reach2)
                    if d2 <= reach2:
                        wi = t.w[p]
                        if kern_t is not KernFlat:
                            wi = wi * _kern_weight(kernel, d2, bw2, inv2)
                        total += _add_weighted(acc, row, d, wi)
            else:
                for p in range(_leaf_lo(t, node), _leaf_hi(t, node)):
                    row = data + p * d
                    d2 = _sqdist_bounded(row, q, d, reach2)
                    if d2 <= reach2:
                        total += _add_weighted(acc, row, d,
                                               _kern_weight(kernel, d2, bw2, inv2))
        elif (kern_t is not KernFlat
              and _box_is_point(<const floating*>t.box + node * 2 * d, d)):
            # a node of equal rows (duplicates) under a smooth kernel: its
            # one point is judged once, as each of its rows would be, and
            # the node's sums weighted by k(r) stand for the rows (so n
            # duplicates cost one test, not n, per step)
            d2 = _sqdist_bounded(data + _node_lo(t, node) * d, q, d, reach2)
            if d2 <= reach2:
                wi = _kern_weight(kernel, d2, bw2, inv2)
                total += wi * (t.wsum[node] if t.wsum != NULL
                               else <double>_node_count(t, node))
                c = t.sums + node * d
                for k in range(d):
                    acc[k] += wi * c[k]
        else:
            stack[sp] = 2 * node + 2
            stack[sp + 1] = 2 * node + 1
            sp += 2
    if by_rows and nl > 0:
        total += _leaves_rows(data, t, leaves, nl, q, bw2, acc)
    elif by_columns and nl > 0:
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


cdef int _check_kernel(BallTree tree, int kern) except -1:
    if kern < KERNEL_FLAT or kern > KERNEL_GAUSSIAN:
        raise ValueError(f"unknown kernel code {kern}")
    if kern == KERNEL_EPANECHNIKOV and tree.mom is None:
        raise ValueError("the Epanechnikov kernel needs a tree built with "
                         "moments=True")
    return 0


def ball_sums(BallTree tree, positions, *, double bandwidth, int n_threads=1,
              int kernel=KERNEL_FLAT):
    """One step for many positions: for each row of ``positions``
    (float64), the weighted sum sum w_i k(r_i) x_i (float64) and the weight
    sum w_i k(r_i) (float64; for the flat kernel without weights, the count)
    of the tree's points within the kernel's reach of it.  ``kernel`` is a
    value of ``KERNELS``."""
    _check_kernel(tree, kernel)
    return _ball_sums(tree, tree.data, aligned(positions), bandwidth,
                      n_threads, kernel)


def _ball_sums(BallTree tree, const floating[:, ::1] data,
               const double[:, :] positions, double bandwidth, int n_threads,
               int kernel):
    cdef intp m = positions.shape[0], d = tree.t.d, i, k
    if positions.shape[1] != d:
        raise ValueError("positions and data must match the tree")
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
    cdef double t0 = region_begin()
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
    region_end(t0)
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


def climb(BallTree tree, seeds, *, double bandwidth, intp max_iter,
          int n_threads=1, intp start=0, double seconds=0.0, out=None,
          int kernel=KERNEL_FLAT, double stop_thresh=-1.0):
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
    arrays.
    """
    _check_kernel(tree, kernel)
    return _climb(tree, tree.data, aligned(seeds), bandwidth, max_iter,
                  n_threads, start, seconds, out, kernel, stop_thresh)


def _climb(BallTree tree, const floating[:, ::1] data,
           const seed_t[:, :] seeds, double bandwidth, intp max_iter,
           int n_threads, intp start, double seconds, out, int kernel,
           double stop_thresh):
    cdef intp m = seeds.shape[0], d = tree.t.d, s, k
    if seeds.shape[1] != d:
        raise ValueError("seeds and data must match the tree")
    if not 0 <= start <= m:
        raise ValueError("need 0 <= start <= n_seeds")
    if out is None:
        dtype = np.float32 if floating is float else np.float64
        out = (np.zeros((m, d), dtype=dtype), np.zeros(m, dtype=np.float64),
               np.zeros(m, dtype=np.intp))
    for a in out:
        check_out(a, "out")
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
    cdef double t0 = region_begin()
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
    region_end(t0)
    if failed:
        raise MemoryError("climb: out of memory for thread scratch")
    return tuple(out) + (ms_dispensed(work_p),)
