# What the compiled stages share, inlined into each module that cimports it
# (nothing here is a call across modules): the flat-array tree and its node
# ranges, the one per-point test (the bounded squared distance) and the one
# node test that every traversal makes.
#
# The trees: node i has children 2i+1 and 2i+2; the nodes at or after
# first_leaf are the leaves, all on the last level.  A node's rows are the
# rows of its leaves, from ``bounds`` (the first row of each leaf, then n).

from cython cimport floating

ctypedef Py_ssize_t intp

cdef extern from "src/ms_tree.h" nogil:
    int ms_floor_log2(unsigned long long x) noexcept

cdef extern from "src/ms_simd.h" nogil:
    double ms_sqdist_hd_f64(const double* row, const double* q, intp d,
                            double bound) noexcept
    double ms_sqdist_hd_f32(const float* row, const double* q, intp d,
                            double bound) noexcept


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


# ---------------------------------------------------------------------------
# Node ranges
# ---------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------
# The per-point test
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


cdef inline bint _use_exact_only(double bw2) noexcept nogil:
    """Whether node bounds cannot be trusted at this scale: they rely on
    relative rounding errors, which do not hold for squared distances in
    the subnormal or overflow range, so every point is tested on its own
    there.  (The Gaussian reach, 3 bw, keeps its square in range too:
    9 bw2 < 1e281.)"""
    return not (bw2 > 1e-280 and bw2 < 1e280)


# ---------------------------------------------------------------------------
# The node test
# ---------------------------------------------------------------------------

# Up to this many dimensions node bounds are boxes, above they are balls.
cdef enum:
    BOX_MAX_D = 2

cdef enum:
    NODE_SKIP = 0         # no point of the node is within the outer radius
    NODE_OPEN = 1         # the points must be tested one by one
    NODE_WHOLE = 2        # every point is within the inner radius


cdef struct NodeTest:
    # What a traversal asks of every node, with one rounding convention: a
    # node is skipped when all its points are farther than `outer`, taken
    # whole when all are within `inner`, both judged with the margin
    # f = (1 + rel) / (1 - rel) of the tree (see _node_test): the outer
    # radius is widened by f, the inner one (inner = r / f, set by
    # _node_test_init) already narrowed.  rel covers every rounding error
    # of the bounds, so a skip or a whole node agrees with the per-point
    # test on each of its points.
    bint use_box          # bound nodes by their boxes (low d) or balls
    double f
    double outer          # the radius beyond which a point does not count
    double outer2_box     # (outer * f)^2, the box test's threshold
    double inner          # r / f: within it a point surely counts; < 0: none
    double inner2_box     # inner^2


cdef inline void _node_test_init(NodeTest* nt, const Tree* t, double outer,
                                 double inner_radius, bint use_box) noexcept nogil:
    """The node test of a traversal: skip beyond ``outer``, whole within
    ``inner_radius`` (negative: never whole)."""
    nt.use_box = use_box
    nt.f = (1.0 + t.rel) / (1.0 - t.rel)
    nt.outer = outer
    nt.outer2_box = outer * nt.f * outer * nt.f
    if inner_radius >= 0.0:
        nt.inner = inner_radius / nt.f
        nt.inner2_box = nt.inner * nt.inner
    else:
        nt.inner = -1.0
        nt.inner2_box = -1.0


cdef inline int _node_test(const NodeTest* nt, const Tree* t, intp node,
                           const double* q, intp d,
                           const floating* box_type) noexcept nogil:
    """NODE_SKIP, NODE_WHOLE or NODE_OPEN for node and the query q: by its
    box in low dimensions (the tighter bound, _node_test_box), by its ball
    above (_node_test_ball).  ``box_type`` is only a tag for the data's
    dtype (the boxes' dtype)."""
    if nt.use_box:
        return _node_test_box(<const floating*>t.box + node * 2 * d, q, d,
                              nt.outer2_box, nt.inner2_box)
    return _node_test_ball(t, node, q, d, nt.outer, nt.f, nt.inner)


cdef inline int _node_test_box(const floating* bx, const double* q, intp d,
                               double outer2, double inner2) noexcept nogil:
    """The node test by the box bx (per coordinate the min, then the max):
    the squared distances from q to its nearest and its farthest corner
    against outer2 = (outer f)^2 and inner2 = inner^2."""
    cdef intp k
    cdef double a, b, diff, lo2 = 0.0, hi2 = 0.0
    for k in range(d):
        # branch-free: max(lo - q, q - hi, 0) (boxes have lo <= hi, so at
        # most one is positive) and max(q - lo, hi - q)
        a = bx[k] - q[k]
        b = q[k] - bx[d + k]
        diff = a if a > b else b
        diff = diff if diff > 0.0 else 0.0
        lo2 += diff * diff
        a = -a if -a > -b else -b
        hi2 += a * a
    if lo2 > outer2:
        return NODE_SKIP
    if hi2 <= inner2:
        return NODE_WHOLE
    return NODE_OPEN


cdef inline double _centroid_d2(const Tree* t, intp node, const double* q,
                                intp d) noexcept nogil:
    """The squared distance from q to the centroid of node."""
    cdef intp k
    cdef double diff, d2 = 0.0
    cdef const double* c = t.centroid + node * d
    for k in range(d):
        diff = q[k] - c[k]
        d2 += diff * diff
    return d2


cdef inline bint _ball_beyond(double d2, double radius, double outer,
                              double f) noexcept nogil:
    """A ball (centroid at squared distance d2, radius) all of whose points
    are surely farther than outer: dc > (outer + r) f."""
    cdef double lim = (outer + radius) * f
    return d2 > lim * lim


cdef inline bint _ball_within(double d2, double radius,
                              double inner) noexcept nogil:
    """A ball all of whose points are surely within the radius whose
    narrowed value is inner (r / f; negative: none): dc + r <= inner."""
    cdef double lim = inner - radius
    return lim >= 0.0 and d2 <= lim * lim


cdef inline int _node_test_ball(const Tree* t, intp node, const double* q,
                                intp d, double outer, double f,
                                double inner) noexcept nogil:
    """The node test by the ball of node: _ball_beyond, _ball_within
    (squares avoid the square root)."""
    cdef double d2 = _centroid_d2(t, node, q, d)
    if _ball_beyond(d2, t.radius[node], outer, f):
        return NODE_SKIP
    if _ball_within(d2, t.radius[node], inner):
        return NODE_WHOLE
    return NODE_OPEN


cdef inline bint _box_is_point(const floating* bx, intp d) noexcept nogil:
    """Whether a node's box (per coordinate the min, then the max) holds a
    single point: every point of the node is the same (duplicate rows).
    The first unequal coordinate ends the test."""
    cdef intp k
    for k in range(d):
        if bx[k] != bx[d + k]:
            return False
    return True


# ---------------------------------------------------------------------------
# Selection: rows split at the k-th by one coordinate
# ---------------------------------------------------------------------------

# The orders _select knows, as tags (one specialisation each, as the
# kernels' in _kernels.pxd).  Each fixes its pivot rule too, and so which
# rows land on either side: the trees' permutations depend on it.
cdef struct ByValue:
    # by the value of the coordinate, ties in no set order; the pivot is
    # the median of the values at both ends and in the middle, the rows
    # left in place (the median build of _tree; kth_neighbor_dist's
    # candidates)
    char tag
cdef struct ByValueRow:
    # by (value, row number) keys, which are distinct; the rows at both
    # ends and in the middle are first sorted, the middle one the pivot
    # (the sample planes of _tree)
    char tag

ctypedef fused order_t:
    ByValue
    ByValueRow


cdef inline void _swap_rows(floating* data, intp* idx, double* w, intp d,
                            intp a, intp b) noexcept nogil:
    """Swap rows a and b of the data (d columns), and of idx and w where
    given."""
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


cdef inline bint _key_less(double va, intp ra, double vb,
                           intp rb) noexcept nogil:
    """Order of (value, row number) keys: by value, ties by row."""
    return va < vb or (va == vb and ra < rb)


cdef inline void _select(floating* data, intp* idx, double* w, intp d,
                         intp dim, intp lo, intp hi, intp kth,
                         order_t* order) noexcept nogil:
    """Reorder rows [lo, hi) of data (d columns; idx and w, where given,
    along) so that row kth holds the kth smallest key of coordinate dim,
    with no larger key before it and no smaller one after: Hoare's
    quickselect, in the order and with the pivot rule of the tag
    ``order`` (only its type counts: pass ``<ByValue*>NULL``).  ByValueRow
    takes its row numbers from idx."""
    cdef intp left = lo, right = hi - 1, i, j, m
    cdef intp xr = 0
    cdef floating x, a, b, c
    while left < right:
        m = left + (right - left) // 2
        if order_t is ByValue:
            # median of three as pivot value (it is present in [left, right])
            a = data[left * d + dim]
            b = data[m * d + dim]
            c = data[right * d + dim]
            if a < b:
                x = b if b < c else (c if a < c else a)
            else:
                x = a if a < c else (c if b < c else b)
        else:
            # sort left, m, right: the median of the three keys is the pivot
            if _key_less(data[m * d + dim], idx[m],
                         data[left * d + dim], idx[left]):
                _swap_rows(data, idx, w, d, m, left)
            if _key_less(data[right * d + dim], idx[right],
                         data[left * d + dim], idx[left]):
                _swap_rows(data, idx, w, d, right, left)
            if _key_less(data[right * d + dim], idx[right],
                         data[m * d + dim], idx[m]):
                _swap_rows(data, idx, w, d, right, m)
            x = data[m * d + dim]
            xr = idx[m]
        i = left
        j = right
        while True:
            if order_t is ByValue:
                while data[i * d + dim] < x:
                    i += 1
                while x < data[j * d + dim]:
                    j -= 1
            else:
                while _key_less(data[i * d + dim], idx[i], x, xr):
                    i += 1
                while _key_less(x, xr, data[j * d + dim], idx[j]):
                    j -= 1
            if i <= j:
                _swap_rows(data, idx, w, d, i, j)
                i += 1
                j -= 1
            if i > j:
                break
        if j < kth:
            left = i
        if kth < i:
            right = j


# ---------------------------------------------------------------------------
# Hashing
# ---------------------------------------------------------------------------

cdef inline unsigned long long _mix64(unsigned long long x) noexcept nogil:
    """splitmix64's finaliser: a fixed pseudo-random function of x, each
    bit of which depends on every bit of x (the tree's sample rows, the
    grid cells' hash)."""
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL
    return x ^ (x >> 31)
