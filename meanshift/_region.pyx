# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False, nonecheck=False
"""What every stage does around its kernels: the parallel-region clock and
the alignment door.

``region_begin``/``region_end`` time the kernels' parallel regions
(``parallel_seconds``, read by tools/scaling.py through _stages.py);
``aligned`` and ``check_out`` are the door every array argument of a public
kernel goes through.  The stages (_tree, _core, _merge, _bandwidth, _bins,
_values) cimport them from here (see _region.pxd).
"""

import numpy as np

from ._openmp cimport ms_now


# ---------------------------------------------------------------------------
# The clock of the parallel regions (tools/scaling.py)
# ---------------------------------------------------------------------------

# wall time spent in the parallel regions of every stage's kernels, as the
# calling thread sees them: what is not in them is the serial work, whose
# share decides how a stage scales (Amdahl).  Summed by the thread that
# starts a region (two threads calling kernels at once both add theirs).
cdef double _parallel_seconds = 0.0


cdef double region_begin() noexcept nogil:
    """The time a parallel region starts (call it before the region)."""
    return ms_now()


cdef void region_end(double t0) noexcept nogil:
    """Count the region begun at t0 (call it after the region ends)."""
    global _parallel_seconds
    _parallel_seconds += ms_now() - t0


def parallel_seconds():
    """Seconds spent in the kernels' parallel regions since the last
    reset_parallel_seconds() (or the import)."""
    return _parallel_seconds


def reset_parallel_seconds():
    global _parallel_seconds
    _parallel_seconds = 0.0


# ---------------------------------------------------------------------------
# Alignment at the door
# ---------------------------------------------------------------------------

cdef object aligned(object a):
    """``a`` as the kernels may read it: itself when each element sits at a
    multiple of its own size (numpy's ALIGNED flag, true of every array
    numpy allocates), else an aligned C-ordered copy.

    Reading a double through a ``double*`` at an address that is not a
    multiple of 8 is undefined behaviour in C: it happens to work on x86
    today, but a compiler may vectorise the loop with aligned loads, and
    strict-alignment CPUs fault or read wrongly.  Such arrays are real:
    Dask deserializes chunks and seeds from network frames at odd
    addresses, and ``np.frombuffer(buf, offset=1)``, fields of packed record
    arrays and memory maps behind an odd header make them too.  Every
    public kernel passes its array arguments through here first, so the
    hot loops read only aligned memory and stay as they are; the copy (one
    pass, the copy ``check_array`` makes of a non-contiguous input anyway)
    happens only for a misaligned array."""
    if a is None:
        return a
    arr = np.asarray(a)
    if arr.flags.aligned:
        return a
    return np.array(arr, order="C", copy=True)


cdef int check_out(object a, str name) except -1:
    """An output array is written in place: it cannot be replaced by a
    copy, so a misaligned one is refused."""
    if not np.asarray(a).flags.aligned:
        raise ValueError(f"{name} must be aligned (an array numpy allocated)")
    return 0
