# The parallel-region clock and the alignment door (see _region.pyx), as
# the stages cimport them.

cdef double region_begin() noexcept nogil
cdef void region_end(double t0) noexcept nogil

cdef object aligned(object a)
cdef int check_out(object a, str name) except -1
