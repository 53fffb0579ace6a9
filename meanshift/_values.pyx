# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False, nonecheck=False
"""One parallel pass over the input's values: are they all finite, and how
large is the largest (``finite_magnitude``).

The fit and predict validate their input with scikit-learn's check_array
but leave it the finite check, one pass over every value in one thread;
this pass makes it in parallel, together with the magnitude the exact
rescaling of extreme data needs (_api._range_exponent).  Where a value is
not finite, scikit-learn's own check then raises its own error."""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport isfinite

import numpy as np

from ._common cimport intp
from ._tree cimport aligned, region_begin, region_end


def finite_magnitude(X, *, int n_threads=1):
    """``(finite, amax)`` of a 2-D float32 or float64 array (any strides):
    whether every value is finite, and the largest magnitude among its
    values (0.0 for none; meaningful only where all are finite)."""
    return _finite_magnitude(aligned(X), n_threads)


cdef void _chunk(const floating[:, :] X, intp lo, intp hi, intp* bad,
                 double* amax) noexcept nogil:
    cdef intp i, k, d = X.shape[1], nonfinite = 0
    cdef floating v, top = 0
    for i in range(lo, hi):
        for k in range(d):
            v = X[i, k]
            # (NaN and infinities fail isfinite; the sum counts them
            # without a branch the loop would wait on)
            nonfinite += not isfinite(v)
            if v < 0:
                v = -v
            top = v if v > top else top
    bad[0] = nonfinite
    amax[0] = top


def _finite_magnitude(const floating[:, :] X, int n_threads):
    cdef intp n = X.shape[0], c, n_chunks
    n_chunks = n_threads if n * X.shape[1] >= 65536 * n_threads else 1
    if n_chunks < 1:
        n_chunks = 1
    cdef intp[::1] bad = np.zeros(n_chunks, dtype=np.intp)
    cdef double[::1] amax = np.zeros(n_chunks, dtype=np.float64)
    cdef double t0
    with nogil:
        t0 = region_begin()
        for c in prange(n_chunks, schedule='static', num_threads=n_chunks):
            _chunk(X, c * n // n_chunks, (c + 1) * n // n_chunks, &bad[c],
                   &amax[c])
        region_end(t0)
    return (not np.asarray(bad).any(),
            float(np.asarray(amax).max()) if n_chunks else 0.0)
