# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False, nonecheck=False
"""Grid cells: those of bin seeding (``bin_cells``) and those of the
approximate grid mode (``grid_cells``).  A hash map keyed by the cell, one
per thread over a contiguous chunk of the rows, merged in chunk order, so
the cells come in order of first appearance whatever the threads."""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport fabs, floor, ldexp, rint, rintf
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy, memset

import numpy as np

from ._common cimport _mix64, intp
from ._region cimport aligned, region_begin, region_end


cdef struct CellMap:
    intp d
    intp cap          # slots, a power of two
    intp* slots       # cell index + 1, or 0 for an empty slot
    intp n_cells
    intp cell_cap
    double* keys      # n_cells x d, in order of first appearance
    double* counts    # number of points, or sum of their weights
    uint64_t* hashes


cdef inline uint64_t _hash_key(const double* key, intp d) noexcept nogil:
    """The hash of a cell's key: it picks the slots a cell is looked for
    in, never the cells' order (that of their creation)."""
    cdef uint64_t h = 0x9e3779b97f4a7c15ULL, bits
    cdef double v
    cdef intp k
    for k in range(d):
        v = key[k] + 0.0          # -0.0 and 0.0 are the same cell
        memcpy(&bits, &v, sizeof(double))
        h = _mix64(h ^ bits) + <uint64_t>k
    return _mix64(h)


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


cdef intp _map_slot(CellMap* m, const double* key, uint64_t h) noexcept nogil:
    """The index of the cell of key, created (last in order, count 0) if
    new; -1 when out of memory."""
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
                return c
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
    m.counts[c] = 0.0
    m.hashes[c] = h
    m.slots[s] = c + 1
    m.n_cells += 1
    return c


cdef int _map_add(CellMap* m, const double* key, uint64_t h,
                  double count) noexcept nogil:
    """Add count to the cell of key, creating it (last in order) if new."""
    cdef intp c = _map_slot(m, key, h)
    if c < 0:
        return -1
    m.counts[c] += count
    return 0


# ---------------------------------------------------------------------------
# Chunks: a map per thread over a contiguous chunk of the rows, the maps
# merged in chunk order (so the cells come in order of first appearance)
# ---------------------------------------------------------------------------

cdef struct Chunks:
    intp n            # chunks
    intp rows         # rows in all
    CellMap* maps     # each chunk's cells (zeroed until it makes them)
    int* status       # each chunk's return code


cdef int _chunks_init(Chunks* ch, intp rows, int n_threads) noexcept nogil:
    """One chunk per thread from 4096 rows a thread on, else one; -1 when
    out of memory (nothing left to free)."""
    ch.n = n_threads if rows >= 4096 * n_threads else 1
    if ch.n < 1:
        ch.n = 1
    ch.rows = rows
    ch.maps = <CellMap*>malloc(ch.n * sizeof(CellMap))
    ch.status = <int*>malloc(ch.n * sizeof(int))
    if ch.maps == NULL or ch.status == NULL:
        free(ch.maps)
        free(ch.status)
        ch.maps = NULL
        ch.status = NULL
        return -1
    memset(ch.maps, 0, ch.n * sizeof(CellMap))
    return 0


cdef inline intp _chunk_lo(const Chunks* ch, intp c) noexcept nogil:
    """The first row of chunk c (of chunk ch.n: the number of rows)."""
    return (ch.rows * c) // ch.n


cdef double* _chunk_begin(CellMap* m, intp width) noexcept nogil:
    """A chunk's map, initialised for keys of width columns, and a key of
    that width to fill (free it); NULL when out of memory."""
    cdef double* key = <double*>malloc(width * sizeof(double))
    if key != NULL and _map_init(m, width) != 0:
        free(key)
        key = NULL
    return key


cdef int _chunks_status(const Chunks* ch) noexcept nogil:
    """1 when a chunk returned 1, else -1 when one failed, else 0."""
    cdef intp c
    cdef int worst = 0
    for c in range(ch.n):
        if ch.status[c] == 1:
            return 1
        if ch.status[c] != 0:
            worst = -1
    return worst


cdef int _chunks_merge(const Chunks* ch, CellMap* total, intp width,
                       intp** to_global, intp** cursor) noexcept nogil:
    """The chunks' cells into total (initialised here, for keys of width
    columns), in chunk order, their counts added.  With to_global and
    cursor (else NULL; ch.n pointers each, which it allocates): per chunk,
    each of its cells' index in total, and the count of the cell in the
    chunks before it.  -1 when out of memory."""
    cdef intp c, j, g
    cdef CellMap* m
    if _map_init(total, width) != 0:
        return -1
    for c in range(ch.n):
        m = &ch.maps[c]
        if to_global != NULL:
            to_global[c] = <intp*>malloc((m.n_cells + 1) * sizeof(intp))
            cursor[c] = <intp*>malloc((m.n_cells + 1) * sizeof(intp))
            if to_global[c] == NULL or cursor[c] == NULL:
                return -1
        for j in range(m.n_cells):
            g = _map_slot(total, m.keys + j * width, m.hashes[j])
            if g < 0:
                return -1
            if to_global != NULL:
                to_global[c][j] = g
                cursor[c][j] = <intp>total.counts[g]
            total.counts[g] += m.counts[j]
    return 0


cdef void _chunks_free(Chunks* ch) noexcept nogil:
    cdef intp c
    if ch.maps != NULL:
        for c in range(ch.n):
            _map_free(&ch.maps[c])
    free(ch.maps)
    free(ch.status)
    ch.maps = NULL
    ch.status = NULL


cdef int _bin_chunk(const floating[:, :] X, const double* w, intp lo, intp hi,
                    double bin_size, bint f32_division,
                    CellMap* m) noexcept nogil:
    cdef intp d = X.shape[1], i, k
    cdef float bs32 = <float>bin_size
    cdef double* key = _chunk_begin(m, d)
    if key == NULL:
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
    cdef intp n = X.shape[0], d = X.shape[1], c, i, k
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
    cdef Chunks ch
    cdef CellMap total
    cdef int failed = 0
    if _chunks_init(&ch, n, n_threads) != 0:
        raise MemoryError("bin_cells: out of memory")
    memset(&total, 0, sizeof(CellMap))
    cdef double t0
    with nogil:
        t0 = region_begin()
        for c in prange(ch.n, schedule='static', chunksize=1,
                        num_threads=n_threads):
            ch.status[c] = _bin_chunk(X, w, _chunk_lo(&ch, c),
                                      _chunk_lo(&ch, c + 1), bin_size,
                                      f32_division, &ch.maps[c])
        region_end(t0)
        if (_chunks_status(&ch) != 0
                or _chunks_merge(&ch, &total, d, NULL, NULL) != 0):
            failed = 1
        _chunks_free(&ch)
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


# ---------------------------------------------------------------------------
# The cells of the grid mode: every row's cell, each cell's sums
# ---------------------------------------------------------------------------

# a row's cell and the rows in cell order: 4 bytes a row each up to 2**31
# rows (the cells are never more than the rows)
ctypedef fused index_t:
    int32_t
    int64_t


# from |x| >= 2**53 * cell a cell is finer than the floats at x (their
# spacing is at least 2**-52 |x|): it holds x's value alone
cdef int _FINE_EXPONENT = 53


cdef int _grid_chunk(const floating[:, :] X, intp lo, intp hi, double cell,
                     bint wide, CellMap* m, index_t* local) noexcept nogil:
    """The cells of rows lo..hi in m (their counts), each row's cell in m
    in local[i].  Narrow keys (``wide`` false): 1 when a coordinate lies
    where the cells are finer than the floats (the keys must be wide)."""
    cdef intp d = X.shape[1], i, k, c
    cdef intp width = 2 * d if wide else d
    cdef double v, fine = ldexp(cell, _FINE_EXPONENT)
    cdef double* key = _chunk_begin(m, width)
    if key == NULL:
        return -1
    for i in range(lo, hi):
        for k in range(d):
            v = <double>X[i, k]
            if fabs(v) >= fine:  # a cell holds this value alone
                if not wide:
                    free(key)
                    return 1
                key[k] = v + 0.0
                key[d + k] = 1.0
            else:
                key[k] = floor(v / cell) + 0.0
                if wide:
                    key[d + k] = 0.0
        c = _map_slot(m, key, _hash_key(key, width))
        if c < 0:
            free(key)
            return -1
        m.counts[c] += 1.0
        local[i] = <index_t>c
    free(key)
    return 0


cdef void _grid_scatter(intp lo, intp hi, index_t* local, const intp* to_global,
                        intp* cursor, index_t* perm) noexcept nogil:
    """Rows lo..hi into their cells' runs of perm, in row order; local[i]
    becomes the row's global cell."""
    cdef intp i, j
    for i in range(lo, hi):
        j = local[i]
        perm[cursor[j]] = <index_t>i
        cursor[j] += 1
        local[i] = <index_t>to_global[j]


cdef void _grid_sums(const floating[:, :] X, const double* w, const index_t* perm,
                     intp lo, intp hi, double* wsum, double* sums,
                     double* plain) noexcept nogil:
    """One cell's weight and (weighted, and with weights plain) coordinate
    sums over its rows perm[lo:hi], added in row order."""
    cdef intp d = X.shape[1], p, i, k
    cdef double wi, total = 0.0
    for k in range(d):
        sums[k] = 0.0
        if plain != NULL:
            plain[k] = 0.0
    for p in range(lo, hi):
        i = perm[p]
        if w == NULL:
            total += 1.0
            for k in range(d):
                sums[k] += <double>X[i, k]
        else:
            wi = w[i]
            total += wi
            for k in range(d):
                sums[k] += wi * <double>X[i, k]
                plain[k] += <double>X[i, k]
    wsum[0] = total


def grid_cells(X, *, double cell_size, int n_threads=1, weights=None, bint wide=False):
    """The occupied cells of a grid of side ``cell_size`` (0 or more): a
    row x is in the cell ``floor(x / cell_size)`` (per coordinate, in
    float64), the cells in order of first appearance.

    Where ``|x| >= 2**53 * cell_size`` (cell_size 0 included) the cells are
    finer than the floats: each holds one value at most, and the key of
    the coordinate is the value itself.  Narrow keys (``wide`` false) are
    the cells' indices alone; they cannot tell such a value from an index,
    so with narrow keys such a coordinate returns None (ask for wide keys).
    Wide keys hold ``2 * d`` columns: the coordinates' keys (an index or a
    value), then for each whether it is a value (1.0) or an index (0.0);
    where no coordinate is a value they are the narrow keys and zeros.

    Returns ``(keys, counts, wsum, sums, plain, cell_of)``: the cells
    (float64, their keys), their numbers of rows, their weights (the
    sums of their rows' weights; the counts without weights), the sums of
    their rows' coordinates times their weights, the plain sums of their
    rows' coordinates (None without weights: the same as ``sums``), all
    added in row order (float64), and the cell of each row (int32 below
    2**31 rows, else int64).  The results are the same for any number of
    threads.
    """
    n = len(X)
    dtype = np.int32 if n < 2**31 else np.int64
    cell_of = np.empty(n, dtype=dtype)
    cells = _grid_cells(aligned(X), cell_size, n_threads, aligned(weights), cell_of,
                        np.empty(n, dtype=dtype), wide)
    return None if cells is None else (*cells, cell_of)


def _grid_cells(const floating[:, :] X, double cell_size, int n_threads, weights,
                index_t[::1] cell_of, index_t[::1] perm, bint wide=False):
    cdef index_t* local = NULL
    cdef index_t* pp = NULL
    cdef intp n = X.shape[0], d = X.shape[1], c, g, j, k, m
    cdef intp width = 2 * d if wide else d
    cdef const double[::1] wv
    cdef const double* w = NULL
    if weights is not None:
        wv = np.ascontiguousarray(weights, dtype=np.float64)
        if wv.shape[0] != n:
            raise ValueError("weights must hold one value per row")
        if n:
            w = &wv[0]
    if not cell_size >= 0:
        raise ValueError("cell_size must be 0 or more")
    if cell_of.shape[0] != n or perm.shape[0] != n:
        raise ValueError("cell_of and perm must hold one value per row")
    if n:
        local = &cell_of[0]
        pp = &perm[0]
    cdef Chunks ch
    if _chunks_init(&ch, n, n_threads) != 0:
        raise MemoryError("grid_cells: out of memory")
    # per chunk: each of its cells' global index, and where its rows go
    cdef intp** to_global = <intp**>malloc(ch.n * sizeof(intp*))
    cdef intp** cursor = <intp**>malloc(ch.n * sizeof(intp*))
    cdef intp* start = NULL
    cdef CellMap total
    cdef int failed = 0, fine = 0
    if to_global == NULL or cursor == NULL:
        _chunks_free(&ch)
        free(to_global)
        free(cursor)
        raise MemoryError("grid_cells: out of memory")
    memset(to_global, 0, ch.n * sizeof(intp*))
    memset(cursor, 0, ch.n * sizeof(intp*))
    memset(&total, 0, sizeof(CellMap))
    cdef double t0
    with nogil:
        t0 = region_begin()
        for c in prange(ch.n, schedule='static', chunksize=1,
                        num_threads=n_threads):
            ch.status[c] = _grid_chunk(X, _chunk_lo(&ch, c),
                                       _chunk_lo(&ch, c + 1), cell_size,
                                       wide, &ch.maps[c], local)
        region_end(t0)
        failed = _chunks_status(&ch)
        fine = failed == 1
        # a chunk's rows of a cell follow those of the chunks before it
        if not failed and _chunks_merge(&ch, &total, width, to_global,
                                        cursor) != 0:
            failed = 1
        if not failed:
            start = <intp*>malloc((total.n_cells + 1) * sizeof(intp))
            if start == NULL:
                failed = 1
        if not failed:
            start[0] = 0
            for g in range(total.n_cells):
                start[g + 1] = start[g] + <intp>total.counts[g]
            t0 = region_begin()
            for c in prange(ch.n, schedule='static', chunksize=1,
                            num_threads=n_threads):
                for j in range(ch.maps[c].n_cells):
                    cursor[c][j] += start[to_global[c][j]]
                _grid_scatter(_chunk_lo(&ch, c), _chunk_lo(&ch, c + 1),
                              local, to_global[c], cursor[c], pp)
            region_end(t0)
        for c in range(ch.n):
            free(to_global[c])
            free(cursor[c])
        _chunks_free(&ch)
    free(to_global)
    free(cursor)
    if failed:
        free(start)
        _map_free(&total)
        if fine:
            return None
        raise MemoryError("grid_cells: out of memory")
    m = total.n_cells
    keys_arr = np.empty((m, width), dtype=np.float64)
    counts_arr = np.empty(m, dtype=np.intp)
    wsum_arr = np.empty(m, dtype=np.float64)
    sums_arr = np.empty((m, d), dtype=np.float64)
    plain_arr = np.empty((m, d), dtype=np.float64) if w != NULL else None
    cdef double[:, ::1] keys = keys_arr
    cdef intp[::1] counts = counts_arr
    cdef double[::1] wsum = wsum_arr
    cdef double[:, ::1] sums = sums_arr
    cdef double[:, ::1] plain
    cdef double* plain_p = NULL
    if w != NULL and m:
        plain = plain_arr
        plain_p = &plain[0, 0]
    cdef double* sums_p = &sums[0, 0] if m and d else NULL
    cdef double* keys_p = &keys[0, 0] if m and width else NULL
    cdef double* wsum_p = &wsum[0] if m else NULL
    with nogil:
        t0 = region_begin()
        for g in prange(m, schedule='dynamic', chunksize=64,
                        num_threads=n_threads if m >= 1024 else 1):
            counts[g] = start[g + 1] - start[g]
            for k in range(width):
                keys_p[g * width + k] = total.keys[g * width + k]
            _grid_sums(X, w, pp, start[g], start[g + 1], wsum_p + g,
                       sums_p + g * d,
                       plain_p + g * d if plain_p != NULL else NULL)
        region_end(t0)
    free(start)
    _map_free(&total)
    return keys_arr, counts_arr, wsum_arr, sums_arr, plain_arr


def cell_labels(cell_of, cell_label, int n_threads=1):
    """The label of each row, ``cell_label[cell_of]`` (``cell_of`` int32 or
    int64, ``cell_label`` intp), in parallel (the output first touched by
    the threads that write it)."""
    return _cell_labels(aligned(cell_of), aligned(cell_label), n_threads)


def _cell_labels(const index_t[::1] cell_of, const intp[::1] cell_label, int n_threads):
    cdef intp n = cell_of.shape[0], m = cell_label.shape[0], i
    out_arr = np.empty(n, dtype=np.intp)
    cdef intp[::1] out = out_arr
    cdef intp bad = 0
    cdef double t0
    with nogil:
        t0 = region_begin()
        for i in prange(n, schedule='static', num_threads=n_threads):
            if 0 <= cell_of[i] < m:
                out[i] = cell_label[cell_of[i]]
            else:
                bad += 1  # a reduction
        region_end(t0)
    if bad:
        raise ValueError("cell_of holds an index outside cell_label")
    return out_arr
