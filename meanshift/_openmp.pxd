# OpenMP and the work dispenser of the parallel blocks: declarations of
# src/ms_openmp.h, the only place that talks to OpenMP (serial fallbacks
# where the build has no OpenMP).

cdef extern from "src/ms_openmp.h" nogil:
    bint MS_HAVE_OPENMP
    int omp_get_max_threads() noexcept
    int omp_get_thread_num() noexcept
    double ms_now() noexcept      # a monotonic clock, in seconds

    # an atomic counter handing out indices, with an optional deadline (see
    # the header): a kernel can stop after a time budget and resume
    ctypedef struct ms_dispenser:
        pass
    void ms_dispenser_init(ms_dispenser* w, Py_ssize_t start, Py_ssize_t end,
                           double seconds) noexcept
    Py_ssize_t ms_grab(ms_dispenser* w, Py_ssize_t step) noexcept
    Py_ssize_t ms_dispensed(const ms_dispenser* w) noexcept
