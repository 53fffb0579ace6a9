# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False, nonecheck=False
"""The ball tree in flat arrays: build, aggregates, moments, leaf columns.

``build_tree`` makes one permuted C-ordered copy of the data and, per node,
the aggregates the other stages prune with: the coordinate sums (and weight
sums), the bounding box, the centroid and radius, the Epanechnikov
moments.  The top levels are split in one thread, the subtrees below in
parallel.  The other stages (_core, _merge, _bandwidth) take a
:class:`BallTree` and read its arrays through ``tree.t``.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY, sqrt
from libc.stdlib cimport calloc, free, malloc

import numpy as np

from ._common cimport (BOX_MAX_D, ByValue, ByValueRow, Tree, intp,
                       _mix64, _node_hi, _node_lo, _select)
from ._region cimport aligned, region_begin, region_end

cdef extern from "src/ms_tree.h" nogil:
    ctypedef unsigned long long uint64_t
    intp* ms_morton_order_f64(const double* rows, intp m, int d, uint64_t* a,
                              uint64_t* b)
    intp* ms_morton_order_f32(const float* rows, intp m, int d, uint64_t* a,
                              uint64_t* b)

cdef extern from "src/ms_leaves.h" nogil:
    enum:
        MS_COLUMNS_MIN
        MS_COLUMNS_MAX

# The column counts for which a tree may hold its leaves by coordinate
# (build_tree(leaf_columns=True)): those the flat kernel's leaf scans serve.
LEAF_COLUMNS = (MS_COLUMNS_MIN, MS_COLUMNS_MAX)

cdef double DBL_EPS = 2.220446049250313e-16
# Every bound test on a node allows for rounding with this relative margin
# (plus a term growing with the dimension and the depth, tree.rel), so a
# node is only ever taken whole or skipped whole when the exact per-point
# test would agree on every one of its points.
cdef double BASE_REL_TOL = 1e-10


# ---------------------------------------------------------------------------
# The tree
# ---------------------------------------------------------------------------

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
    tree owns its data: the kernels that take a tree read ``tree.data``.
    """

    def __len__(self):
        return self.t.n

    def __reduce__(self):
        """A tree pickles as itself, its arrays, so that the unpickled tree
        is the same tree bit for bit (a tree Dask moves or spills needs no
        copy of its rows in their original order to be rebuilt from)."""
        return (_tree_from_arrays,
                (self.n_levels, self.rel, self.data, self.idx, self.bounds,
                 self.centroid, self.radius, self.sums, self.box, self.w,
                 self.wsum, self.mom, self.cols))

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

    cdef int _bind(self) except -1:
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
            # the leaf scans exist for these column counts only
            if not MS_COLUMNS_MIN <= self.t.d <= MS_COLUMNS_MAX:
                raise ValueError("leaf columns need 3 to 8 columns")
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
        return 0

    cdef int check_full(self, str name) except -1:
        """The search kernels need the permutation and the balls."""
        if self.idx is None or self.centroid is None:
            raise ValueError(f"{name} needs a tree built with index=True and "
                             "balls=True")
        return 0


def morton_order(X):
    """The rows of X (one or two columns, float32 or float64) in Morton
    order within their box: an intp array, the row that comes j-th at j
    (ms_morton_order; ties keep their rows' order).  Climbs of seeds taken
    in this order are neighbours from one to the next, and so touch the
    same nodes and leaves (every point a seed, 200k x 2: 9.6 s in the
    input's order, 7.5 s in this one)."""
    X = np.ascontiguousarray(X)
    if X.ndim != 2 or not 1 <= X.shape[1] <= 2 or X.shape[0] >= (1 << 32):
        raise ValueError("morton_order takes 1 or 2 columns, fewer than 2**32 rows")
    if X.dtype != np.float32:
        X = np.asarray(X, dtype=np.float64)
    return _morton_order(X)


cdef inline intp* _morton(const floating* rows, intp m, intp d,
                          uint64_t* keys) noexcept nogil:
    """ms_morton_order of m rows over keys (2 m of scratch): the order,
    written over the scratch."""
    if floating is double:
        return ms_morton_order_f64(rows, m, <int>d, keys, keys + m)
    else:
        return ms_morton_order_f32(rows, m, <int>d, keys, keys + m)


def _morton_order(const floating[:, ::1] X):
    cdef intp m = X.shape[0], j
    out = np.empty(m, dtype=np.intp)
    if m == 0:
        return out
    cdef intp[::1] o = out
    cdef uint64_t* keys = <uint64_t*>malloc(2 * m * sizeof(uint64_t))
    cdef intp* order
    if keys == NULL:
        raise MemoryError("morton_order: out of memory")
    with nogil:
        order = _morton(&X[0, 0], m, X.shape[1], keys)
        for j in range(m):
            o[j] = order[j]
    free(keys)
    return out


def _padded_empty(intp n, intp d, dtype):
    """An n x d array, the view of the first n rows of a buffer with 8
    more values, zero: the flat kernel's scans of one and two columns read
    past a leaf's last row (and mask it out)."""
    buf = np.empty(n * d + 8, dtype=dtype)
    buf[n * d:] = 0
    return buf[:n * d].reshape(n, d)


def _padded_rows(data):
    """data (n x d) copied into a padded buffer (_padded_empty)."""
    out = _padded_empty(data.shape[0], data.shape[1], data.dtype)
    out[...] = data
    return out


def _padded_weights(w):
    """w copied into a buffer with 4 more values, zero (the column scans
    read past the last leaf's weights): the view of its first n."""
    out = np.zeros(w.shape[0] + 4, dtype=np.float64)[:w.shape[0]]
    out[...] = w
    return out


def _tree_from_arrays(n_levels, rel, data, idx, bounds, centroid, radius,
                      sums, box, w, wsum, mom, cols):
    """The tree BallTree.__reduce__ pickled, bound again (its rows and
    weights padded again: a pickled view holds only its own values)."""
    cdef BallTree tree = BallTree.__new__(BallTree)
    tree.n_levels = n_levels
    tree.rel = rel
    tree.data = _padded_rows(np.ascontiguousarray(data))
    tree.idx = idx
    tree.bounds = bounds
    tree.centroid = centroid
    tree.radius = radius
    tree.sums = sums
    tree.box = box
    tree.w = None if w is None else _padded_weights(w)
    tree.wsum = wsum
    tree.mom = mom
    tree.cols = cols
    tree._bind()
    return tree


def tree_levels(intp n, intp leaf_size):
    """Number of levels of a tree whose leaves hold at most ``leaf_size``."""
    cdef intp levels = 1
    if leaf_size < 1:
        leaf_size = 1
    while n > leaf_size and levels < 48:
        n = (n + 1) // 2
        levels += 1
    return levels


# ---------------------------------------------------------------------------
# Building it
# ---------------------------------------------------------------------------

cdef inline intp _widest(const floating* rows, intp d, intp s, intp e) noexcept nogil:
    """The coordinate of widest spread (max - min) of rows [s, e); the
    first such on ties, 0 for no rows."""
    cdef intp p, k, dim = 0
    cdef double lo, hi, v, best = -1.0
    for k in range(d):
        lo = INFINITY
        hi = -INFINITY
        for p in range(s, e):
            v = rows[p * d + k]
            if v < lo:
                lo = v
            if v > hi:
                hi = v
        if hi - lo > best:
            best = hi - lo
            dim = k
    return dim


cdef intp _split_node(floating* data, intp* idx, double* w, intp d,
                      intp s, intp e) noexcept nogil:
    """Split rows [s, e) at their middle along the coordinate of widest
    spread; returns the middle (the right child's first row)."""
    cdef intp mid = s + (e - s) // 2
    cdef intp dim = _widest(data, d, s, e)
    if e - s > 1:
        _select(data, idx, w, d, dim, s, e, mid, <ByValue*>NULL)
    return mid


cdef inline double _farthest2(const floating* data, intp d, intp s, intp e,
                              const double* c) noexcept nogil:
    """The largest squared distance from c to rows [s, e) (0 for none)."""
    cdef intp p, k
    cdef double diff, d2, rmax = 0.0
    for p in range(s, e):
        d2 = 0.0
        for k in range(d):
            diff = data[p * d + k] - c[k]
            d2 += diff * diff
        if d2 > rmax:
            rmax = d2
    return rmax


cdef inline void _ball(const floating* data, intp d, intp s, intp e,
                       const double* sm, double* c,
                       double* radius) noexcept nogil:
    """The centroid c of rows [s, e) from their coordinate sums sm, and
    their radius: exactly the farthest of them from c."""
    cdef intp k
    for k in range(d):
        c[k] = sm[k] / (e - s) if e > s else 0.0
    radius[0] = sqrt(_farthest2(data, d, s, e, c))


cdef void _leaf_stats(const floating* data, intp d, intp s, intp e,
                      double* centroid, double* radius,
                      double* sums, floating* box, intp node) noexcept nogil:
    """Sums and box of a leaf (rows [s, e)); with centroid (not NULL), its
    centroid and radius too."""
    cdef intp p, k
    cdef double* sm = sums + node * d
    cdef floating* lo = box + node * 2 * d
    cdef floating* hi = lo + d
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
    if centroid != NULL:
        _ball(data, d, s, e, sm, centroid + node * d, radius + node)


cdef void _inner_stats(const floating* data, intp d, intp s, intp e,
                       double* centroid, double* radius,
                       double* sums, floating* box, intp node) noexcept nogil:
    """Aggregates of an inner node (rows [s, e)): sums and box from its
    children; with centroid (not NULL), its centroid and its radius, exact
    (the farthest of its points from its centroid)."""
    cdef intp k
    cdef double* sm = sums + node * d
    cdef floating* b = box + node * 2 * d
    cdef const floating* bl = box + (2 * node + 1) * 2 * d
    cdef const floating* br = box + (2 * node + 2) * 2 * d
    for k in range(d):
        sm[k] = sums[(2 * node + 1) * d + k] + sums[(2 * node + 2) * d + k]
        b[k] = bl[k] if bl[k] < br[k] else br[k]
        b[d + k] = bl[d + k] if bl[d + k] > br[d + k] else br[d + k]
    if centroid != NULL:
        _ball(data, d, s, e, sm, centroid + node * d, radius + node)


cdef void _build_subtree(floating* data, intp* idx, double* w, intp d,
                         intp* bounds, double* centroid,
                         double* radius, double* sums, floating* box,
                         intp first_leaf, intp node, intp s,
                         intp e, bint ordered=False) noexcept nogil:
    """Split the rows [s, e) of node recursively (idx and w, where not
    NULL, permuted with them) and fill the aggregates of every node below
    it, children before parents, and the bounds of its leaves.  Rows
    already ``ordered`` (_morton_subtree) are split at the middle as they
    are."""
    cdef intp mid
    if node >= first_leaf:
        bounds[node - first_leaf] = s
        _leaf_stats(data, d, s, e, centroid, radius, sums, box, node)
        return
    if ordered:
        mid = s + (e - s) // 2
    else:
        mid = _split_node(data, idx, w, d, s, e)
    _build_subtree(data, idx, w, d, bounds, centroid, radius, sums, box,
                   first_leaf, 2 * node + 1, s, mid, ordered)
    _build_subtree(data, idx, w, d, bounds, centroid, radius, sums, box,
                   first_leaf, 2 * node + 2, mid, e, ordered)
    _inner_stats(data, d, s, e, centroid, radius, sums, box, node)


cdef void _morton_subtree(floating* data, intp* idx, double* w, intp d,
                          intp* bounds, double* centroid,
                          double* radius, double* sums, floating* box,
                          intp first_leaf, intp node, intp s,
                          intp e) noexcept nogil:
    """_build_subtree for rows of one or two columns: the rows put in
    Morton order within their box (ms_morton_order: a radix sort, a few
    passes over them) and split at the middle, instead of a selection per
    level (the median build where scratch cannot be had).  The order is
    applied in place, cycle by cycle: the only scratch is the sort's two
    arrays of keys (16 bytes a row, one subtree per thread at a time)."""
    cdef intp m = e - s, j, k, src, start
    cdef uint64_t* keys = <uint64_t*>malloc(2 * m * sizeof(uint64_t))
    cdef intp* order
    cdef floating held[2]
    cdef intp held_idx = 0
    cdef double held_w = 0.0
    if keys == NULL:
        _build_subtree(data, idx, w, d, bounds, centroid, radius, sums, box,
                       first_leaf, node, s, e)
        return
    order = _morton(data + s * d, m, d, keys)
    # row j takes row order[j]: follow each cycle once, marking its
    # entries done (-1)
    cdef floating* rows = data + s * d
    cdef intp* ids = idx + s if idx != NULL else NULL
    cdef double* ws = w + s if w != NULL else NULL
    for start in range(m):
        if order[start] < 0:
            continue
        for k in range(d):
            held[k] = rows[start * d + k]
        if ids != NULL:
            held_idx = ids[start]
        if ws != NULL:
            held_w = ws[start]
        j = start
        while True:
            src = order[j]
            order[j] = -1
            if src == start:
                break
            for k in range(d):
                rows[j * d + k] = rows[src * d + k]
            if ids != NULL:
                ids[j] = ids[src]
            if ws != NULL:
                ws[j] = ws[src]
            j = src
        for k in range(d):
            rows[j * d + k] = held[k]
        if ids != NULL:
            ids[j] = held_idx
        if ws != NULL:
            ws[j] = held_w
    free(keys)
    _build_subtree(data, idx, w, d, bounds, centroid, radius, sums, box,
                   first_leaf, node, s, e, True)


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
    cdef double y[16]   # a row's y, where d <= 16 (the same values)
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
            if d <= 16:
                y[k] = yk
            r2 += yk * yk
        S2[0] += wi * r2
        wr2 = wi * r2
        i = 0
        for k in range(d):
            yk = y[k] if d <= 16 else row[k] - c[k]
            wyk = wi * yk
            S1[k] += wyk
            T3[k] += wr2 * yk
            if d <= 16:
                for j in range(k, d):
                    M[i] += wyk * y[j]
                    i += 1
            else:
                for j in range(k, d):
                    M[i] += wyk * (row[j] - c[j])
                    i += 1


# ---------------------------------------------------------------------------
# The top levels of a big tree: planes from a sample, one counting sort
# ---------------------------------------------------------------------------

# A tree over many rows has its top levels split by planes drawn from a
# sample of the rows (TOP_SAMPLE rows per subtree below them): the rows are
# dealt into the 2^T subtrees by one parallel, stable counting sort straight
# from the input (one pass finds each row's subtree and counts it, a second
# moves the rows, in place of T passes of selection over all n rows, the
# serial top of the build), and the subtrees, of TOP_BUCKET to twice as many
# rows (in a core's L2 cache), are then built in parallel by median
# splits as before.  The sample's planes are found level by level, the
# nodes of a level in parallel.  (4M x 2, one thread: 277 ms with subtrees
# of 8k rows, 234 ms with 32k, 220 ms with 64k, before each row's subtree
# was stored; 16k-32k rows now: 216 ms, with a peak no higher than the
# median build's on 1M x 2 float64, where 32k-64k rows added 3.7 MiB of
# scratch, the sort keys of a subtree per thread.)  A top split falls near the middle,
# not at it: subtrees, and so leaves, differ in size by a few per cent,
# which no kernel depends on (the bound tests are conservative whatever a
# node holds; only the order in which sums are added changes).  Ties are
# broken by row number, so duplicated values split evenly too; should a
# sample still mislead (a subtree of more than 1.5 times its share, or too
# few rows for its leaves), the median build runs instead.  Every step is
# independent of the number of threads: the tree is the same for any count.
cdef intp TOP_BUCKET = 16384
cdef intp TOP_SAMPLE = 256


def top_levels(intp n, intp n_levels, intp bucket=TOP_BUCKET):
    """Number of top levels split by sample planes: as many as leave
    subtrees of at least ``bucket`` rows, two levels or more each (0: the
    whole tree by median splits)."""
    cdef int top = 0
    if bucket < 1:
        bucket = 1
    while top < 16 and top + 2 < n_levels and (n >> (top + 1)) >= bucket:
        top += 1
    return top


cdef inline intp _sample_row(intp j, intp n, intp m) noexcept nogil:
    """Row j of a sample of m of n rows: one from each of m equal runs of
    rows, at a fixed pseudo-random place in it (no period of the data
    aliases with the sample)."""
    cdef intp lo = j * n // m
    cdef intp run = (j + 1) * n // m - lo
    return lo + <intp>(_mix64(<unsigned long long>j) % <unsigned long long>run)


def sample_rows(intp n, intp n_levels, intp bucket=TOP_BUCKET):
    """The rows a tree over n rows draws its top planes from (empty where
    top_levels is 0): for the tests."""
    cdef int top = top_levels(n, n_levels, bucket)
    cdef intp m = TOP_SAMPLE << top if top else 0, j
    out = np.empty(m, dtype=np.intp)
    cdef intp[::1] o = out
    for j in range(m):
        o[j] = _sample_row(j, n, m)
    return out


cdef void _sample_planes(const floating[:, :] X, int top, floating* sv,
                         intp* sr, intp m, intp* pdim, floating* pval,
                         intp* prow, intp* se, int n_threads) noexcept nogil:
    """Draw m rows of X (_sample_row) and split them as the tree's top
    levels will be: each node along the
    coordinate of widest spread of its sample rows, at their median key.
    Node i's plane is (pdim[i], pval[i], prow[i]): a row goes right when
    its key (value, row number) is at least (pval[i], prow[i])."""
    cdef intp n = X.shape[0], d = X.shape[1], j, r, k, node
    cdef int level
    cdef double t0 = region_begin()
    # (the rows are read in parallel: a read each from all over X)
    for j in prange(m, schedule='static', num_threads=n_threads):
        r = _sample_row(j, n, m)
        sr[j] = r
        for k in range(d):
            sv[j * d + k] = X[r, k]
    region_end(t0)
    se[0] = 0
    se[1] = m
    for level in range(top):
        # the nodes of a level split disjoint parts of the sample
        t0 = region_begin()
        for node in prange((<intp>1 << level) - 1, (<intp>2 << level) - 1,
                           schedule='static', num_threads=n_threads):
            _split_sample(sv, sr, d, node, se, pdim, pval, prow)
        region_end(t0)


cdef void _split_sample(floating* sv, intp* sr, intp d, intp node, intp* se,
                        intp* pdim, floating* pval,
                        intp* prow) noexcept nogil:
    """Node's plane from its part of the sample (se[2 node] to
    se[2 node + 1]): along the coordinate of widest spread, at the median
    key; its children's parts."""
    cdef intp s = se[2 * node], e = se[2 * node + 1]
    cdef intp dim = _widest(sv, d, s, e)
    cdef intp kth = s + (e - s) // 2
    _select(sv, sr, NULL, d, dim, s, e, kth, <ByValueRow*>NULL)
    pdim[node] = dim
    pval[node] = sv[kth * d + dim]
    prow[node] = sr[kth]
    se[2 * (2 * node + 1)] = s
    se[2 * (2 * node + 1) + 1] = kth
    se[2 * (2 * node + 2)] = kth
    se[2 * (2 * node + 2) + 1] = e


cdef void _buckets_of(const floating[:, :] X, intp lo, intp hi, int top,
                      const intp* pdim, const floating* pval,
                      const intp* prow, intp* out) noexcept nogil:
    """The subtree (0 to 2^top - 1) of each row lo..hi-1 of X (at most 16
    rows), down the sample planes; all of them abreast, so their chains of
    comparisons overlap."""
    cdef intp node[16]
    cdef intp j, nd, nb = hi - lo
    cdef int _level
    cdef floating v, pv
    for j in range(nb):
        node[j] = 0
    for _level in range(top):
        for j in range(nb):
            nd = node[j]
            v = X[lo + j, pdim[nd]]
            pv = pval[nd]
            node[j] = 2 * nd + 1 + ((<intp>(pv < v))
                                    | ((<intp>(pv == v))
                                       & (<intp>(prow[nd] <= lo + j))))
    for j in range(nb):
        out[j] = node[j] - ((<intp>1 << top) - 1)


cdef bint _deal_rows(const floating[:, :] X, const double* w_in, int top,
                     const intp* pdim, const floating* pval,
                     const intp* prow, intp min_rows, floating* data,
                     intp* idx, double* w, intp* starts,
                     int n_threads) noexcept nogil:
    """Deal the rows of X (with their numbers into idx and their weights
    w_in into w, where not NULL) into the 2^top subtrees, in row order
    within each: a counting sort, chunk by chunk in parallel (the order
    does not depend on the chunks).  starts: each subtree's first row,
    then n.  Returns False, having dealt nothing, when a subtree would get
    fewer than min_rows rows or more than 1.5 times its share."""
    cdef intp n = X.shape[0], d = X.shape[1]
    cdef intp nb = <intp>1 << top, c, b, i, i0, i1, j, k, p, run
    cdef int n_chunks = n_threads
    cdef intp* counts = <intp*>calloc(n_chunks * nb, sizeof(intp))
    # each row's subtree, found once: one byte a row up to 256 subtrees
    # (16M rows), two above (top <= 16)
    cdef bint wide = top > 8
    cdef unsigned char* where = <unsigned char*>malloc(n * (2 if wide else 1))
    cdef unsigned short* where2 = <unsigned short*>where
    cdef intp* bucket
    cdef int short_of_memory = 0
    cdef int* som = &short_of_memory
    cdef bint ok = True
    cdef double t0
    if counts == NULL or where == NULL:
        free(counts)
        free(where)
        return False
    t0 = region_begin()
    for c in prange(n_chunks, schedule='static', num_threads=n_threads):
        bucket = <intp*>malloc(16 * sizeof(intp))
        if bucket == NULL:
            som[0] = 1
            continue
        i0 = c * n // n_chunks
        i1 = (c + 1) * n // n_chunks
        for i in range(i0, i1, 16):
            j = min(16, i1 - i)
            _buckets_of(X, i, i + j, top, pdim, pval, prow, bucket)
            for k in range(j):
                if wide:
                    where2[i + k] = <unsigned short>bucket[k]
                else:
                    where[i + k] = <unsigned char>bucket[k]
                counts[c * nb + bucket[k]] += 1
        free(bucket)
    region_end(t0)
    if short_of_memory:
        ok = False
    # offsets: subtree by subtree, chunk by chunk within each
    run = 0
    for b in range(nb):
        starts[b] = run
        for c in range(n_chunks):
            p = counts[c * nb + b]
            counts[c * nb + b] = run
            run += p
        if run - starts[b] < min_rows or 2 * (run - starts[b]) * nb > 3 * n:
            ok = False
    starts[nb] = n
    if ok:
        t0 = region_begin()
        for c in prange(n_chunks, schedule='static', num_threads=n_threads):
            i0 = c * n // n_chunks
            i1 = (c + 1) * n // n_chunks
            for i in range(i0, i1):
                b = where2[i] if wide else where[i]
                p = counts[c * nb + b]
                counts[c * nb + b] = p + 1
                for k in range(d):
                    data[p * d + k] = X[i, k]
                if idx != NULL:
                    idx[p] = i
                if w != NULL:
                    w[p] = w_in[i]
        region_end(t0)
    free(counts)
    free(where)
    return ok


cdef void _top_radii(const floating* data, intp d, int top,
                     const intp* starts, const double* centroid,
                     double* radius, int n_threads) noexcept nogil:
    """The radius of each top node: exactly the farthest of its points from
    its centroid, as _ball finds it, but each subtree's rows scanned in
    parallel against the centroids of its top ancestors."""
    cdef intp nb = <intp>1 << top, b, anc, node
    cdef int level
    cdef double* r2 = <double*>calloc(nb * top + nb, sizeof(double))
    cdef double t0
    if r2 == NULL:
        return
    t0 = region_begin()
    for b in prange(nb, schedule='dynamic', num_threads=n_threads):
        for level in range(top):
            anc = ((nb + b) >> (top - level)) - 1
            r2[b * top + level] = _farthest2(data, d, starts[b],
                                             starts[b + 1], centroid + anc * d)
    region_end(t0)
    # a node's farthest point is the farthest of its subtrees'
    for node in range(nb - 1):
        r2[nb * top + node] = 0.0
    for b in range(nb):
        for level in range(top):
            anc = ((nb + b) >> (top - level)) - 1
            if r2[b * top + level] > r2[nb * top + anc]:
                r2[nb * top + anc] = r2[b * top + level]
    for node in range(nb - 1):
        radius[node] = sqrt(r2[nb * top + node])
    free(r2)


cdef void _copy_rows(const floating[:, :] X, floating* data, intp n, intp d,
                     int n_threads) noexcept nogil:
    cdef intp i, k
    cdef double t0 = region_begin()
    for i in prange(n, schedule='static', num_threads=n_threads):
        for k in range(d):
            data[i * d + k] = X[i, k]
    region_end(t0)


cdef void _leaf_columns(const floating* data, const intp* bounds,
                        intp n_leaves, intp d, floating* cols,
                        int n_threads) noexcept nogil:
    """Each leaf's rows again, stored by coordinate: coordinate k of its
    j-th row at cols[lo * d + k * m + j] (lo its first row, m its rows)."""
    cdef intp leaf, lo, m, j, k
    cdef double t0 = region_begin()
    for leaf in prange(n_leaves, schedule='static', num_threads=n_threads):
        lo = bounds[leaf]
        m = bounds[leaf + 1] - lo
        for j in range(m):
            for k in range(d):
                cols[lo * d + k * m + j] = data[(lo + j) * d + k]
    region_end(t0)


def build_tree(const floating[:, :] X, *, intp leaf_size, int n_threads=1,
               weights=None, bint moments=False, bint index=True,
               bint balls=True, bint leaf_columns=False,
               intp top_bucket=TOP_BUCKET):
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
    the flat kernel's vectorised leaf scans, with LEAF_COLUMNS[0] to
    LEAF_COLUMNS[1] columns (other trees keep none: ``cols`` is None);
    their sums add up the points in another order, so results agree with
    a tree without columns to rounding.

    A tree of many rows has its top levels split by planes from a sample
    (see top_levels; ``top_bucket``, rows per subtree below them, is
    there for the tests to reach that build with few rows).
    """
    X = aligned(X)
    cdef intp n = X.shape[0], d = X.shape[1]
    if n == 0 or d == 0:
        raise ValueError("cannot build a tree over an empty array")
    if d > BOX_MAX_D or moments:
        balls = True
    dtype = np.float32 if floating is float else np.float64
    cdef BallTree tree = BallTree.__new__(BallTree)
    tree.n_levels = tree_levels(n, leaf_size)
    cdef intp n_nodes = (<intp>1 << tree.n_levels) - 1
    cdef intp first_leaf = (n_nodes - 1) // 2
    tree.data = _padded_empty(n, d, dtype)
    tree.idx = np.empty(n, dtype=np.intp) if index else None
    tree.bounds = np.zeros(first_leaf + 2, dtype=np.intp)
    tree.centroid = np.zeros((n_nodes, d), dtype=np.float64) if balls else None
    tree.radius = np.zeros(n_nodes, dtype=np.float64) if balls else None
    tree.sums = np.zeros((n_nodes, d), dtype=np.float64)
    tree.box = np.zeros((n_nodes, 2 * d), dtype=dtype)
    tree.w = tree.wsum = tree.mom = tree.cols = None
    w_in = None
    if weights is not None:
        w_in = aligned(np.ascontiguousarray(weights, dtype=np.float64))
        if w_in.shape != (n,):
            raise ValueError("weights must hold one value per row")
        # permuted with the rows; padded, a view of the first n: the column
        # scans read past the last leaf's weights (and mask them out)
        tree.w = np.zeros(n + 4, dtype=np.float64)[:n]
    if n * d < 65536:
        n_threads = 1      # a parallel region costs more than the work
    _split_and_aggregate(X, w_in, tree, n_threads, top_bucket)
    cdef floating[:, ::1] data = tree.data
    if leaf_columns and MS_COLUMNS_MIN <= d <= MS_COLUMNS_MAX:
        tree.cols = _columns_of(tree.data, tree.bounds, n_threads)
    cdef double[::1] w_view, wsum_view
    cdef double[:, ::1] mom, centroid
    cdef intp[::1] bounds = tree.bounds
    cdef double[:, ::1] sums = tree.sums
    if weights is not None:
        tree.wsum = np.zeros(n_nodes, dtype=np.float64)
        w_view = tree.w
        wsum_view = tree.wsum
        _weighted_aggregates(w_view, wsum_view, data, bounds, sums, first_leaf,
                             n_threads)
    if moments:
        tree.mom = np.zeros((n_nodes, 2 * d + 1 + d * (d + 1) // 2),
                            dtype=np.float64)
    # rounding of a distance is ~ (d + 3) eps relative; radii of inner
    # nodes add one such error per level
    tree.rel = BASE_REL_TOL + 8.0 * (d + 4) * (tree.n_levels + 2) * DBL_EPS
    tree._bind()
    if moments:   # (over the node ranges of the bound tree)
        mom = tree.mom
        centroid = tree.centroid
        _all_moments(tree.w, mom, data, &tree.t, centroid, n_threads)
    return tree


cdef void _split_and_aggregate(const floating[:, :] X, w_obj, BallTree tree,
                               int n_threads, intp top_bucket):
    """Copy X into tree.data (and w_obj, the weights, into tree.w, where
    given; the row numbers into tree.idx, where there is one), permuted by
    splitting every node, and fill the leaves' bounds and every node's
    aggregates.

    A big tree has its top levels split by sample planes, its rows dealt
    into the subtrees below them in parallel (see _deal_rows); a small one
    (or one whose sample misleads) has its top levels split at the middle
    along the widest coordinate, in this thread, until there are a few
    subtrees per thread.  Each subtree is then built whole by one thread,
    by median splits, so the build has no barrier per level (barriers
    stall when another process holds a core)."""
    cdef floating[:, ::1] data = tree.data
    cdef floating[:, ::1] box = tree.box
    cdef double[:, ::1] sums = tree.sums
    cdef intp[::1] bounds = tree.bounds
    cdef intp[::1] idx_view
    cdef const double[::1] w_in_view
    cdef double[::1] w_view
    cdef double[:, ::1] centroid_view
    cdef double[::1] radius_view
    cdef intp* idx = NULL
    cdef const double* w_in = NULL
    cdef double* w = NULL
    cdef double* centroid = NULL
    cdef double* radius = NULL
    cdef intp n = data.shape[0], d = data.shape[1], i, k
    cdef intp n_levels = tree.n_levels
    cdef intp first_leaf = bounds.shape[0] - 2
    cdef intp level, node, top, s, e, mid, nb
    cdef double t0
    cdef bint dealt = False
    cdef int sampled = top_levels(n, n_levels, top_bucket)
    cdef intp m = TOP_SAMPLE << sampled
    # rows of the nodes split before the parallel region
    cdef intp[::1] top_se = np.zeros(
        max(min(2 * (2 * first_leaf + 1), 1024), 4 << sampled), dtype=np.intp)
    # the sample and its planes
    dtype = np.float32 if floating is float else np.float64
    cdef floating[::1] sv = np.empty(m * d if sampled else 1, dtype=dtype)
    cdef intp[::1] sr = np.empty(m if sampled else 1, dtype=np.intp)
    cdef intp[::1] pdim = np.empty(1 << sampled, dtype=np.intp)
    cdef floating[::1] pval = np.empty(1 << sampled, dtype=dtype)
    cdef intp[::1] prow = np.empty(1 << sampled, dtype=np.intp)
    cdef intp[::1] starts = np.empty((1 << sampled) + 1, dtype=np.intp)
    cdef intp[::1] sse = np.empty(4 << sampled, dtype=np.intp)
    if tree.idx is not None:
        idx_view = tree.idx
        idx = &idx_view[0]
    if w_obj is not None:
        w_in_view = w_obj
        w_in = &w_in_view[0]
        w_view = tree.w
        w = &w_view[0]
    if tree.centroid is not None:
        centroid_view = tree.centroid
        radius_view = tree.radius
        centroid = &centroid_view[0, 0]
        radius = &radius_view[0]
    with nogil:
        bounds[first_leaf + 1] = n
        top = sampled
        if sampled:
            _sample_planes(X, sampled, &sv[0], &sr[0], m, &pdim[0], &pval[0],
                           &prow[0], &sse[0], n_threads)
            dealt = _deal_rows(X, w_in, sampled, &pdim[0], &pval[0], &prow[0],
                               <intp>1 << (n_levels - 1 - sampled), &data[0, 0],
                               idx, w, &starts[0], n_threads)
        if dealt:
            nb = <intp>1 << sampled
            for i in range(nb):
                top_se[2 * (nb - 1 + i)] = starts[i]
                top_se[2 * (nb - 1 + i) + 1] = starts[i + 1]
            for node in range(nb - 2, -1, -1):
                top_se[2 * node] = top_se[2 * (2 * node + 1)]
                top_se[2 * node + 1] = top_se[2 * (2 * node + 2) + 1]
        else:
            _copy_rows(X, &data[0, 0], n, d, n_threads)
            if idx != NULL:
                for i in range(n):
                    idx[i] = i
            if w != NULL:
                for i in range(n):
                    w[i] = w_in[i]
            top_se[0] = 0
            top_se[1] = n
            top = 0
            while (top < n_levels - 1 and (<intp>1 << top) < 4 * n_threads
                   and (<intp>2 << top) <= 256):
                top += 1
            if n_threads == 1:
                top = 0
            for level in range(top):
                for node in range((<intp>1 << level) - 1,
                                  (<intp>1 << (level + 1)) - 1):
                    s = top_se[2 * node]
                    e = top_se[2 * node + 1]
                    mid = _split_node(&data[0, 0], idx, w, d, s, e)
                    top_se[2 * (2 * node + 1)] = s
                    top_se[2 * (2 * node + 1) + 1] = mid
                    top_se[2 * (2 * node + 2)] = mid
                    top_se[2 * (2 * node + 2) + 1] = e
        t0 = region_begin()
        for node in prange((<intp>1 << top) - 1, (<intp>1 << (top + 1)) - 1,
                           schedule='dynamic', num_threads=n_threads):
            if dealt and d <= 2:
                _morton_subtree(&data[0, 0], idx, w, d, &bounds[0],
                                centroid, radius, &sums[0, 0], &box[0, 0],
                                first_leaf, node, top_se[2 * node],
                                top_se[2 * node + 1])
            else:
                _build_subtree(&data[0, 0], idx, w, d, &bounds[0],
                               centroid, radius, &sums[0, 0], &box[0, 0],
                               first_leaf, node, top_se[2 * node],
                               top_se[2 * node + 1])
        region_end(t0)
        if dealt:
            # sums, boxes and centroids from the children; the radii by a
            # parallel scan
            for node in range((<intp>1 << top) - 2, -1, -1):
                _inner_stats(&data[0, 0], d, top_se[2 * node],
                             top_se[2 * node + 1], NULL, NULL,
                             &sums[0, 0], &box[0, 0], node)
                if centroid != NULL:
                    s = top_se[2 * node]
                    e = top_se[2 * node + 1]
                    for k in range(d):
                        centroid[node * d + k] = sums[node, k] / (e - s)
            if centroid != NULL:
                _top_radii(&data[0, 0], d, top, &starts[0], centroid, radius,
                           n_threads)
        else:
            for level in range(top - 1, -1, -1):
                for node in range((<intp>1 << level) - 1,
                                  (<intp>1 << (level + 1)) - 1):
                    _inner_stats(&data[0, 0], d, top_se[2 * node],
                                 top_se[2 * node + 1], centroid, radius,
                                 &sums[0, 0], &box[0, 0], node)


def _columns_of(const floating[:, ::1] data, const intp[::1] bounds,
                int n_threads):
    """The rows again, leaf by leaf stored by coordinate (see
    _leaf_columns); padded: the vector scan of the last leaf reads past its
    end."""
    cdef intp n = data.shape[0], d = data.shape[1]
    dtype = np.float32 if floating is float else np.float64
    cols_arr = np.zeros(n * d + 4, dtype=dtype)
    cdef floating[::1] cols = cols_arr
    with nogil:
        _leaf_columns(&data[0, 0], &bounds[0], bounds.shape[0] - 1, d,
                      &cols[0], n_threads)
    return cols_arr


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
    cdef double t0
    with nogil:
        t0 = region_begin()
        for node in prange(first_leaf, n_nodes, schedule='static',
                           num_threads=n_threads):
            _weighted_leaf(&data[0, 0], &w[0], d, bounds[node - first_leaf],
                           bounds[node - first_leaf + 1],
                           &wsum[node], &sums[node, 0])
        region_end(t0)
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
    cdef double t0
    with nogil:
        t0 = region_begin()
        for node in prange(n_nodes, schedule='dynamic', chunksize=16,
                           num_threads=n_threads):
            _node_moments(&data[0, 0], w, d, _node_lo(t, node),
                          _node_hi(t, node),
                          &centroid[node, 0], &mom[node, 0])
        region_end(t0)
