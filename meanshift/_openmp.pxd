# The only place that talks to OpenMP. Without OpenMP at build time these
# compile to serial fallbacks and the package still works on one thread.

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define MS_HAVE_OPENMP 1
    #else
    #define MS_HAVE_OPENMP 0
    static inline int omp_get_max_threads(void) { return 1; }
    static inline int omp_get_thread_num(void) { return 0; }
    #endif
    """
    bint MS_HAVE_OPENMP
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil
