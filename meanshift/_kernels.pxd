# The kernels, each a tag with its rules beside it: the weight k(r) of a
# point at distance r, how far the kernel reaches, and how a node wholly
# within the bandwidth contributes without its points.  The traversal
# (_core.pyx) is written once and compiled once per tag; a new kernel is a
# new tag, a new code and these rules, not an edit of the traversal.
#
#   flat          k = 1                     for r <= bw
#   epanechnikov  k = 1 - (r / bw)^2        for r <= bw
#   gaussian      k = exp(-r^2 / (2 bw^2))  for r <= 3 bw
#
# The codes are the kernels' positions in meanshift._choices.KERNELS, the
# one list of their names.

from libc.math cimport exp

from ._common cimport Tree, intp, _node_count

cdef enum:
    KERNEL_FLAT = 0
    KERNEL_EPANECHNIKOV = 1
    KERNEL_GAUSSIAN = 2

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


cdef inline int _kern_code(kern_t* tag) noexcept nogil:
    if kern_t is KernFlat:
        return KERNEL_FLAT
    elif kern_t is KernEpanechnikov:
        return KERNEL_EPANECHNIKOV
    else:
        return KERNEL_GAUSSIAN


cdef inline double _kern_reach(kern_t* tag, double bw) noexcept nogil:
    """The distance beyond which the kernel gives no weight."""
    if kern_t is KernGaussian:
        return 3.0 * bw
    else:
        return bw


cdef inline double _kern_reach2(kern_t* tag, double bw, double bw2) noexcept nogil:
    """The squared reach: points at squared distance <= it are weighed."""
    cdef double reach
    if kern_t is KernGaussian:
        reach = 3.0 * bw
        return reach * reach
    else:
        return bw2


cdef inline double _kern_weight(kern_t* tag, double d2, double bw2,
                                double inv2) noexcept nogil:
    """k(r) of a point within reach at squared distance d2 (inv2 is
    1 / (2 bw2)).  A point at distance 0 weighs 1 under every kernel, a
    zero bandwidth included (where 1 - 0/0 and exp(-0 * inf) would be
    NaN): a point is within bandwidth 0 of itself."""
    if kern_t is KernFlat:
        return 1.0
    elif d2 == 0.0:
        return 1.0
    elif kern_t is KernEpanechnikov:
        return 1.0 - d2 / bw2
    else:
        return exp(-d2 * inv2)


cdef inline bint _kern_takes_whole(kern_t* tag, const Tree* t) noexcept nogil:
    """Whether a node wholly within the bandwidth contributes from its
    aggregates: the flat kernel's sums always, the Epanechnikov kernel's
    moments where the tree has them; the Gaussian weighs every point."""
    if kern_t is KernFlat:
        return True
    elif kern_t is KernEpanechnikov:
        return t.mom != NULL
    else:
        return False


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


cdef inline double _kern_whole(kern_t* tag, const Tree* t, intp node,
                               const double* q, intp d, double bw2,
                               double* acc) noexcept nogil:
    """A node wholly within the bandwidth: add sum w k(r) x over its points
    to acc and return sum w k(r), from its aggregates (see
    _kern_takes_whole)."""
    cdef intp k
    cdef const double* c
    if kern_t is KernEpanechnikov:
        return _epan_node(t, node, q, d, bw2, acc)
    else:
        c = t.sums + node * d
        for k in range(d):
            acc[k] += c[k]
        if t.wsum != NULL:
            return t.wsum[node]
        return <double>_node_count(t, node)
