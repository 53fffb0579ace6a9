"""Thread counts, one place: the cores this process may run on, the
threads a kernel call gets for ``n_jobs`` (scikit-learn's rules for its
OpenMP code) and when a call is too small for more than one.

The cores need no compiled module (the command's ``--help`` and its CSV
reader ask for them); the threads for ``n_jobs`` import
:mod:`meanshift._core` when first asked.
"""

import os

_CPU_COUNT = None


def _cpu_count():
    """The cores this process may run on (its affinity), at least 1."""
    global _CPU_COUNT
    if _CPU_COUNT is None:
        if hasattr(os, "process_cpu_count"):
            count = os.process_cpu_count()
        elif hasattr(os, "sched_getaffinity"):
            count = len(os.sched_getaffinity(0))
        else:
            count = os.cpu_count()
        _CPU_COUNT = max(1, count or 1)
    return _CPU_COUNT


def _effective_n_threads(n_jobs):
    """Threads for ``n_jobs``, by scikit-learn's rules for its OpenMP code.

    None: every usable core, capped by OMP_NUM_THREADS / threadpoolctl's
    OpenMP limit; k > 0: k threads; k < 0: all but |k| - 1 (so -1 is all).
    """
    from . import _core

    if not _core.openmp_enabled():
        return 1
    if os.getenv("OMP_NUM_THREADS"):
        max_n_threads = _core.max_threads()
    else:
        max_n_threads = min(_core.max_threads(), _cpu_count())
    if n_jobs is None:
        return max_n_threads
    if n_jobs < 0:
        return max(1, max_n_threads + n_jobs + 1)
    # more threads than this only cost their creation (and a huge number
    # could not be created at all); results do not depend on the number
    return min(int(n_jobs), 4 * max(_cpu_count(), max_n_threads))


# A parallel region costs microseconds on an idle machine but up to a
# scheduler time slice (milliseconds) when the other cores are busy; below
# about this much work (nanoseconds of one core) one thread is faster.
_SERIAL_WORK = 1_000_000


def _threads_for(n_threads, work):
    """n_threads, or 1 for a kernel call of less than _SERIAL_WORK (work
    estimated from the sizes, in nanoseconds of one core)."""
    return 1 if work < _SERIAL_WORK else n_threads


def parse_threads(n_jobs=None):
    """Threads to parse CSV with: ``n_jobs`` as the command reads it (None:
    all usable cores, -1 all, -2 all but one), at most the cores this
    process may run on and OMP_NUM_THREADS when that is set."""
    cores = _cpu_count()
    n = cores
    if n_jobs is not None:
        n = n_jobs if n_jobs > 0 else cores + 1 + n_jobs
    omp = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if omp.isdigit() and int(omp) > 0:
        n = min(n, int(omp))
    return max(1, min(n, cores))
