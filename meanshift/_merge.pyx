# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False, nonecheck=False
"""After the climb: merging near-duplicate centers as scikit-learn does
(``dedupe_and_rank``, ``suppress``) and labelling points by their nearest
center (``assign``, also behind predict)."""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport INFINITY, frexp, ldexp, sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

import numpy as np

from ._common cimport (NODE_SKIP, NODE_WHOLE, NodeTest, Tree, intp,
                       _leaf_hi, _leaf_lo, _node_hi, _node_lo, _node_test,
                       _node_test_init, _sqdist_bounded, _use_exact_only)
from ._region cimport aligned, region_begin, region_end
from ._tree cimport BallTree

from ._tree import build_tree

cdef extern from "src/ms_nearest.h" nogil:
    enum:
        MS_BLOCK
    void ms_nearest_block(const double* xs, intp d, const double* C, intp kc,
                          double* dist, double* best, intp* bi) noexcept


# ---------------------------------------------------------------------------
# Ranking the converged centers
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


def dedupe_and_rank(centers, counts):
    """Order the converged seeds the way scikit-learn's post-processing does.

    Seeds whose centers are equal (==, coordinate by coordinate) count once,
    as keys of a dict would: the coordinates of the first such seed, the
    intensity (``counts``: a count, or a weight sum) of the last.  The
    survivors are ordered by (intensity, coordinates) descending.  Returns
    ``(rows, counts, rank_of)``: for each ranked center, the row of
    ``centers`` holding its coordinates, and its intensity; for each row of
    ``centers``, the rank of the center it counts for.
    """
    return _dedupe_and_rank(aligned(centers), aligned(counts))


def _dedupe_and_rank(const double[:, ::1] centers, const double[::1] counts):
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


def suppress(BallTree tree, *, double bandwidth):
    """Greedy suppression in rank order (the rows the tree was built on are
    ranked strongest first): a center within bandwidth of a stronger kept
    center is removed.  Returns ``(keep, by)``: a boolean mask over the
    ranked rows, and for each row the kept row that removed it (the
    strongest kept one within bandwidth; itself for a kept row)."""
    tree.check_full("suppress")
    return _suppress(tree, tree.data, bandwidth)


def _suppress(BallTree tree, const floating[:, ::1] data, double bandwidth):
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
    cdef int verdict
    cdef NodeTest nt
    cdef const Tree* t = &tree.t
    _node_test_init(&nt, t, bandwidth, bandwidth, False)
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
                    verdict = _node_test(&nt, t, node, q, d, &data[0, 0])
                    if verdict == NODE_SKIP:
                        continue
                    if verdict == NODE_WHOLE:
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
# Labels: the nearest center
# ---------------------------------------------------------------------------

cdef void _nearest_tree(const double* q, const double* cdata, const Tree* t,
                        intp* stack, intp* best_i, double* best_d2) noexcept nogil:
    """Exact nearest row (lowest row wins ties) by branch and bound: a node
    is skipped when all its rows are surely farther than the best so far."""
    cdef intp d = t.d, sp = 1, node, p, k, a, b, orig
    cdef double diff, d2, best = INFINITY, da, db
    cdef intp bi = -1
    cdef NodeTest nt
    _node_test_init(&nt, t, INFINITY, -1.0, False)
    stack[0] = 0
    while sp > 0:
        sp -= 1
        node = stack[sp]
        nt.outer = sqrt(best)
        if _node_test(&nt, t, node, q, d, cdata) == NODE_SKIP:
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


def assign(X, centers, *, double bandwidth, bint cluster_all, int n_threads=1):
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
    return _assign(aligned(X), aligned(centers), bandwidth, cluster_all,
                   n_threads)


def _assign(const floating[:, :] X, const double[:, ::1] centers,
            double bandwidth, bint cluster_all, int n_threads):
    cdef intp n = X.shape[0], d = X.shape[1], kc = centers.shape[0]
    if centers.shape[1] != d:
        raise ValueError("centers and X must have the same number of columns")
    labels_arr = np.empty(n, dtype=np.intp)
    if n == 0:
        return labels_arr, False
    if kc == 0:
        raise ValueError("no centers to assign to")
    cdef intp[::1] labels = labels_arr
    cdef int failed = 0, rescaled = 0
    cdef BallTree tree
    if kc > TREE_ASSIGN_MIN_CENTERS:
        tree = build_tree(centers, leaf_size=8, n_threads=n_threads)
        _assign_by_tree(X, centers, tree, bandwidth, cluster_all, n_threads,
                        &labels[0], &failed, &rescaled)
    else:
        _assign_by_blocks(X, centers, bandwidth, cluster_all, n_threads,
                          &labels[0], &failed, &rescaled)
    if failed:
        raise MemoryError("assign: out of memory for thread scratch")
    return labels_arr, bool(rescaled)


cdef void _assign_by_tree(const floating[:, :] X, const double[:, ::1] centers,
                          BallTree tree, double bandwidth, bint cluster_all,
                          int n_threads, intp* labels, int* failed_p,
                          int* overflow_p):
    """Many centers: each row searches the tree over them (_nearest_tree)."""
    cdef intp n = X.shape[0], d = X.shape[1], kc = centers.shape[0], i, k
    cdef const double[:, ::1] cdata = tree.data
    cdef const Tree* t = &tree.t
    cdef intp stack_size = 2 * tree.t.n_levels + 2
    cdef double* q
    cdef intp* stack
    cdef intp bi1
    cdef double bd2, bwl = bandwidth
    cdef int e
    cdef double t0 = region_begin()
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
    region_end(t0)


cdef void _assign_by_blocks(const floating[:, :] X,
                            const double[:, ::1] centers, double bandwidth,
                            bint cluster_all, int n_threads, intp* labels,
                            int* failed_p, int* overflow_p):
    """A few centers: blocks of MS_BLOCK rows compared with every center at
    once (ms_nearest_block)."""
    cdef intp n = X.shape[0], d = X.shape[1], kc = centers.shape[0], i, k, p
    cdef intp blk, lo, hi, n_blocks
    cdef double* xs
    cdef double* dist
    cdef double* best
    cdef intp* bi
    cdef double bwl = bandwidth
    cdef int e
    cdef bint contiguous
    cdef const floating* base
    cdef const floating* row
    n_blocks = (n + MS_BLOCK - 1) // MS_BLOCK
    cdef intp grab = min(256, max(16, n_blocks // (64 * max(n_threads, 1))))
    # rows one after another: read them through a plain pointer
    contiguous = (X.strides[1] == sizeof(floating)
                  and X.strides[0] == d * sizeof(floating))
    base = &X[0, 0]
    cdef double t0 = region_begin()
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
        # blocks instead of holding the others up at the end; in grabs of
        # up to 256 blocks (8192 rows), about 64 per thread, so that the
        # shared counter costs nothing at 10M rows (16-block grabs cost
        # a tenth of the loop at 2 threads)
        for blk in prange(n_blocks, schedule='dynamic', chunksize=grab):
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
    region_end(t0)
