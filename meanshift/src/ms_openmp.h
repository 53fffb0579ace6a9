/* The only place that talks to OpenMP, and the work dispenser of the
   kernels' parallel blocks.  Without OpenMP at build time the shims below
   make every block serial and the package still works on one thread. */
#ifndef MEANSHIFT_MS_OPENMP_H
#define MEANSHIFT_MS_OPENMP_H

#include <Python.h>

#ifdef _OPENMP
#include <omp.h>
#define MS_HAVE_OPENMP 1
#else
#define MS_HAVE_OPENMP 0
static inline int omp_get_max_threads(void) { return 1; }
static inline int omp_get_thread_num(void) { return 0; }
#endif

/* Work handed out to the threads of a parallel block by an atomic counter,
   with an optional deadline after which nothing new is handed out.  Every
   index handed out is finished by its thread, so when the block ends the
   finished work is exactly [first index, min(next, end)): a kernel can stop
   after a time budget, return to Python, and be called again from there. */
#include <time.h>
#if defined(_WIN32)
#include <windows.h>
static double ms_now(void) { return GetTickCount64() * 1e-3; }
#else
static double ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
#endif
typedef struct {
    Py_ssize_t next;    /* first index not yet handed out */
    Py_ssize_t first;
    Py_ssize_t end;
    double deadline;    /* ms_now() after which nothing is handed out; 0: none */
} ms_dispenser;
static inline void ms_dispenser_init(ms_dispenser *w, Py_ssize_t start,
                                     Py_ssize_t end, double seconds)
{
    w->next = w->first = start;
    w->end = end;
    w->deadline = seconds > 0.0 ? ms_now() + seconds : 0.0;
}
/* The first of `step` consecutive indices to work on, or -1 when all
   are handed out or the deadline has passed.  The first `step` are
   handed out whatever the deadline, so every call makes progress. */
static inline Py_ssize_t ms_grab(ms_dispenser *w, Py_ssize_t step)
{
    Py_ssize_t i;
    int late = w->deadline > 0.0 && ms_now() > w->deadline;
#if defined(__GNUC__) || defined(__clang__)
    if (late) {
        i = w->first;
        if (!__atomic_compare_exchange_n(&w->next, &i, i + step, 0,
                                         __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return -1;
    } else {
        i = __atomic_fetch_add(&w->next, step, __ATOMIC_RELAXED);
    }
#else
    #ifdef _OPENMP
    #pragma omp critical(ms_grab)
    #endif
    {
        i = (late && w->next != w->first) ? -1 : w->next;
        if (i >= 0) w->next += step;
    }
    if (i < 0) return -1;
#endif
    return i < w->end ? i : -1;
}
/* After the parallel block: one past the last index handed out. */
static inline Py_ssize_t ms_dispensed(const ms_dispenser *w)
{
    return w->next < w->end ? w->next : w->end;
}

#endif /* MEANSHIFT_MS_OPENMP_H */
