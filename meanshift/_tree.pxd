# The ball tree over one permuted copy of the data (see _tree.pyx), as the
# other stages see it: its arrays, and the Tree struct of pointers into them
# that their nogil loops read.

from ._common cimport Tree, intp


cdef class BallTree:
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

    cdef int _bind(self) except -1
    cdef int check_full(self, str name) except -1
