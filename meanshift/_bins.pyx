# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False, nonecheck=False
"""The grid cells of bin seeding (``bin_cells``): a hash map keyed by the
cell, one per thread over a contiguous chunk of the rows, merged in chunk
order."""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport rint, rintf
from libc.stdint cimport uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy, memset

import numpy as np

from ._common cimport intp
from ._tree cimport aligned, region_begin, region_end


cdef struct CellMap:
    intp d
    intp cap          # slots, a power of two
    intp* slots       # cell index + 1, or 0 for an empty slot
    intp n_cells
    intp cell_cap
    double* keys      # n_cells x d, in order of first appearance
    double* counts    # number of points, or sum of their weights
    uint64_t* hashes


cdef inline uint64_t _mix(uint64_t h) noexcept nogil:
    h ^= h >> 33
    h *= 0xff51afd7ed558ccdULL
    h ^= h >> 33
    h *= 0xc4ceb9fe1a85ec53ULL
    h ^= h >> 33
    return h


cdef inline uint64_t _hash_key(const double* key, intp d) noexcept nogil:
    cdef uint64_t h = 0x9e3779b97f4a7c15ULL, bits
    cdef double v
    cdef intp k
    for k in range(d):
        v = key[k] + 0.0          # -0.0 and 0.0 are the same cell
        memcpy(&bits, &v, sizeof(double))
        h = _mix(h ^ bits) + <uint64_t>k
    return _mix(h)


cdef int _map_init(CellMap* m, intp d) noexcept nogil:
    m.d = d
    m.cap = 64
    m.n_cells = 0
    m.cell_cap = 32
    m.slots = <intp*>malloc(m.cap * sizeof(intp))
    m.keys = <double*>malloc(m.cell_cap * d * sizeof(double))
    m.counts = <double*>malloc(m.cell_cap * sizeof(double))
    m.hashes = <uint64_t*>malloc(m.cell_cap * sizeof(uint64_t))
    if m.slots == NULL or m.keys == NULL or m.counts == NULL or m.hashes == NULL:
        return -1
    memset(m.slots, 0, m.cap * sizeof(intp))
    return 0


cdef void _map_free(CellMap* m) noexcept nogil:
    free(m.slots)
    free(m.keys)
    free(m.counts)
    free(m.hashes)
    m.slots = NULL
    m.keys = NULL
    m.counts = NULL
    m.hashes = NULL


cdef int _map_grow(CellMap* m) noexcept nogil:
    cdef intp new_cap = m.cap * 2, i, s
    cdef intp mask = new_cap - 1
    cdef intp* slots = <intp*>malloc(new_cap * sizeof(intp))
    if slots == NULL:
        return -1
    memset(slots, 0, new_cap * sizeof(intp))
    for i in range(m.n_cells):
        s = <intp>(m.hashes[i] & <uint64_t>mask)
        while slots[s] != 0:
            s = (s + 1) & mask
        slots[s] = i + 1
    free(m.slots)
    m.slots = slots
    m.cap = new_cap
    return 0


cdef int _map_add(CellMap* m, const double* key, uint64_t h,
                  double count) noexcept nogil:
    """Add count to the cell of key, creating it (last in order) if new."""
    cdef intp d = m.d, s, c, k, new_cc
    cdef intp mask
    cdef bint same
    cdef void* p
    if 2 * (m.n_cells + 1) > m.cap:
        if _map_grow(m) != 0:
            return -1
    mask = m.cap - 1
    s = <intp>(h & <uint64_t>mask)
    while m.slots[s] != 0:
        c = m.slots[s] - 1
        if m.hashes[c] == h:
            same = True
            for k in range(d):
                if m.keys[c * d + k] != key[k]:
                    same = False
                    break
            if same:
                m.counts[c] += count
                return 0
        s = (s + 1) & mask
    if m.n_cells == m.cell_cap:
        new_cc = 2 * m.cell_cap
        p = realloc(m.keys, new_cc * d * sizeof(double))
        if p == NULL:
            return -1
        m.keys = <double*>p
        p = realloc(m.counts, new_cc * sizeof(double))
        if p == NULL:
            return -1
        m.counts = <double*>p
        p = realloc(m.hashes, new_cc * sizeof(uint64_t))
        if p == NULL:
            return -1
        m.hashes = <uint64_t*>p
        m.cell_cap = new_cc
    c = m.n_cells
    for k in range(d):
        m.keys[c * d + k] = key[k]
    m.counts[c] = count
    m.hashes[c] = h
    m.slots[s] = c + 1
    m.n_cells += 1
    return 0


cdef int _bin_chunk(const floating[:, :] X, const double* w, intp lo, intp hi,
                    double bin_size, bint f32_division,
                    CellMap* m) noexcept nogil:
    cdef intp d = X.shape[1], i, k
    cdef float bs32 = <float>bin_size
    cdef double* key = <double*>malloc(d * sizeof(double))
    if key == NULL:
        return -1
    if _map_init(m, d) != 0:
        free(key)
        return -1
    for i in range(lo, hi):
        for k in range(d):
            if f32_division:
                # numpy divides float32 data by a Python float in float32
                key[k] = rintf(<float>X[i, k] / bs32)
            else:
                key[k] = rint(<double>X[i, k] / bin_size)
        if _map_add(m, key, _hash_key(key, d),
                    w[i] if w != NULL else 1.0) != 0:
            free(key)
            return -1
    free(key)
    return 0


def bin_cells(X, *, double bin_size, bint f32_division, int n_threads=1,
              weights=None):
    """Grid cells of the rows of X: ``round(x / bin_size)`` per coordinate
    (round half to even, as numpy), in order of first appearance, with the
    number of rows in each (with ``weights``, one per row: the sum of their
    weights).  Returns ``(cells, counts)``: float64 cells (integer values)
    and float64 counts.

    Threads each bin a contiguous chunk; the chunks' maps are merged in
    chunk order, which keeps the order of first appearance.
    """
    return _bin_cells(aligned(X), bin_size, f32_division, n_threads,
                      aligned(weights))


def _bin_cells(const floating[:, :] X, double bin_size, bint f32_division,
               int n_threads, weights):
    cdef intp n = X.shape[0], d = X.shape[1], c, i, k, n_chunks
    if f32_division and floating is double:
        raise ValueError("float32 division needs float32 data")
    cdef const double[::1] wv
    cdef const double* w = NULL
    if weights is not None:
        wv = np.ascontiguousarray(weights, dtype=np.float64)
        if wv.shape[0] != n:
            raise ValueError("weights must hold one value per row")
        if n:
            w = &wv[0]
    n_chunks = n_threads if n >= 4096 * n_threads else 1
    if n_chunks < 1:
        n_chunks = 1
    cdef CellMap* maps = <CellMap*>malloc(n_chunks * sizeof(CellMap))
    cdef int* status = <int*>malloc(n_chunks * sizeof(int))
    cdef CellMap total
    cdef int failed = 0
    if maps == NULL or status == NULL:
        free(maps)
        free(status)
        raise MemoryError("bin_cells: out of memory")
    memset(maps, 0, n_chunks * sizeof(CellMap))
    memset(&total, 0, sizeof(CellMap))
    cdef double t0
    with nogil:
        t0 = region_begin()
        for c in prange(n_chunks, schedule='static', chunksize=1,
                        num_threads=n_threads):
            status[c] = _bin_chunk(X, w, (n * c) // n_chunks,
                                   (n * (c + 1)) // n_chunks,
                                   bin_size, f32_division, &maps[c])
        region_end(t0)
        for c in range(n_chunks):
            if status[c] != 0:
                failed = 1
        if not failed and _map_init(&total, d) != 0:
            failed = 1
        if not failed:
            for c in range(n_chunks):
                for i in range(maps[c].n_cells):
                    if _map_add(&total, maps[c].keys + i * d, maps[c].hashes[i],
                                maps[c].counts[i]) != 0:
                        failed = 1
                        break
                if failed:
                    break
        for c in range(n_chunks):
            _map_free(&maps[c])
    free(maps)
    free(status)
    if failed:
        _map_free(&total)
        raise MemoryError("bin_cells: out of memory")
    cells_arr = np.empty((total.n_cells, d), dtype=np.float64)
    counts_arr = np.empty(total.n_cells, dtype=np.float64)
    cdef double[:, ::1] cells = cells_arr
    cdef double[::1] counts = counts_arr
    for i in range(total.n_cells):
        counts[i] = total.counts[i]
        for k in range(d):
            cells[i, k] = total.keys[i * d + k]
    _map_free(&total)
    return cells_arr, counts_arr
