# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False, nonecheck=False
"""One parallel pass over the input's values: are they all finite, and how
large is the largest (``finite_magnitude``).

The fit and predict validate their input with scikit-learn's check_array
but leave it the finite check, one pass over every value in one thread;
this pass makes it in parallel, together with the magnitude the exact
rescaling of extreme data needs (_work._range_exponent).  Where a value is
not finite, scikit-learn's own check then raises its own error."""

from cython cimport floating
from cython.parallel cimport prange

import numpy as np

from ._common cimport intp
from ._region cimport aligned, region_begin, region_end

cdef extern from "src/ms_values.h" nogil:
    int ms_finite_max_f64(const double* p, intp n, double* amax) noexcept
    int ms_finite_max_f32(const float* p, intp n, double* amax) noexcept

cdef enum:
    CHUNK_MIN = 65536   # values per chunk at least (fewer: one thread)


def finite_magnitude(X, *, int n_threads=1):
    """``(finite, amax)`` of a float32 or float64 array (any shape and
    strides): whether every value is finite, and the largest magnitude
    among its values (0.0 for none; meaningful only where all are
    finite)."""
    X = aligned(X)
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        X = np.ascontiguousarray(X)   # (a strided view: rare)
    return _finite_magnitude(X.reshape(-1, order="A"), n_threads)


cdef inline int _scan(const floating* p, intp n, intp c, intp n_chunks,
                      double* amax) noexcept nogil:
    """Chunk c of n_chunks of the n values at p; chunks start at multiples
    of 8 values (whole vector groups)."""
    cdef intp lo = (c * n // n_chunks) // 8 * 8
    cdef intp hi = n if c + 1 == n_chunks else ((c + 1) * n // n_chunks) // 8 * 8
    if floating is double:
        return ms_finite_max_f64(p + lo, hi - lo, amax)
    else:
        return ms_finite_max_f32(p + lo, hi - lo, amax)


def _finite_magnitude(const floating[::1] values, int n_threads):
    cdef intp n = values.shape[0], c
    if n == 0:
        return True, 0.0
    cdef intp n_chunks = max(1, min(n_threads, n // CHUNK_MIN))
    cdef int[::1] ok = np.zeros(n_chunks, dtype=np.intc)
    cdef double[::1] amax = np.zeros(n_chunks, dtype=np.float64)
    cdef double t0
    with nogil:
        t0 = region_begin()
        for c in prange(n_chunks, schedule='static', num_threads=n_chunks):
            ok[c] = _scan(&values[0], n, c, n_chunks, &amax[c])
        region_end(t0)
    return bool(np.asarray(ok).all()), float(np.asarray(amax).max())
