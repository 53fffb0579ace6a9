# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False
"""A block of CSV/TSV text to a float64 array in one call (see _csv.py).

parse_block accepts only a plain table: every line with exactly the
expected number of fields, no empty, quoted or unusual field.  Anything
else is refused (None), and the caller reads that block line by line with
numpy.loadtxt, which names the line and column of a problem.  The numbers
it accepts have, to the bit, the values numpy.loadtxt gives them: plain
decimals are rounded correctly in C (src/textparse.h) without the GIL, and
every other token (inf, nan, more than 19 digits, the rare undecided
case) goes through PyOS_string_to_double, loadtxt's own routine.
"""

import numpy as np

from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from cpython.object cimport PyObject

cdef extern from "Python.h":
    # overflow_exception NULL: an overflow is +-inf, as for numpy.loadtxt
    double PyOS_string_to_double(const char *s, char **endptr,
                                 PyObject *overflow_exception) except? -1.0

cdef extern from "src/textparse.h" nogil:
    ctypedef struct ms_deferred:
        Py_ssize_t start, len, index
    ctypedef struct ms_deferred_list:
        ms_deferred *items
        Py_ssize_t n, cap
    Py_ssize_t MS_REFUSED, MS_NO_MEMORY
    Py_ssize_t ms_parse_table(const char *text, Py_ssize_t n, unsigned char delim,
                              Py_ssize_t n_fields, const Py_ssize_t *colmap, Py_ssize_t n_out,
                              double *out, Py_ssize_t max_rows, ms_deferred_list *deferred)
    Py_ssize_t ms_count_lines(const char *text, Py_ssize_t n)
    int ms_decimal_to_double(unsigned long long w, long long q, int negative, double *out)

# delimiters the C scanner knows: none of them can be part of a number
DELIMITERS = frozenset(",;|:\t")


cdef int _convert(const char *text, ms_deferred *item, double *out) except -1:
    """out[item.index] = the token by PyOS_string_to_double: 0, or 1 when
    it is not a number (or not wholly one)."""
    cdef char stack[64]
    cdef char *buf = stack
    cdef char *end
    cdef double value
    if item.len >= 64:
        buf = <char *>malloc(item.len + 1)
        if buf == NULL:
            raise MemoryError()
    try:
        memcpy(buf, text + item.start, item.len)
        buf[item.len] = 0
        try:
            value = PyOS_string_to_double(buf, &end, NULL)
        except ValueError:
            return 1
        if end != buf + item.len:
            return 1
        out[item.index] = value
        return 0
    finally:
        if buf != stack:
            free(buf)


def parse_into(bytes block not None, str delimiter not None, Py_ssize_t n_fields,
               usecols, double[:, ::1] out not None):
    """Parse the block's rows into ``out`` (its first rows): their number,
    or -1 when the block is not a plain table of numbers (or has more rows
    than ``out``).  ``usecols`` None: every field, else the fields of those
    indices (< n_fields, each once), in that order: ``out`` has as many
    columns.  The block must end with a newline; blank lines are skipped.
    The parse runs without the GIL (but for the few deferred tokens)."""
    if len(delimiter) != 1 or delimiter not in DELIMITERS or n_fields < 1:
        raise ValueError(f"unsupported table: delimiter {delimiter!r}, {n_fields} fields")
    cdef Py_ssize_t[::1] colmap = np.full(n_fields, -1, dtype=np.intp)
    cdef Py_ssize_t n_out, j, c
    if usecols is None:
        n_out = n_fields
        for j in range(n_fields):
            colmap[j] = j
    else:
        n_out = len(usecols)
        for j in range(n_out):
            c = usecols[j]
            if not 0 <= c < n_fields or colmap[c] >= 0:
                raise ValueError(f"usecols: {usecols!r} for {n_fields} fields")
            colmap[c] = j
    if out.shape[1] != n_out:
        raise ValueError(f"out has {out.shape[1]} columns, not {n_out}")
    cdef const char *text = block
    cdef Py_ssize_t n = len(block)
    cdef Py_ssize_t max_rows = out.shape[0]
    cdef Py_ssize_t rows
    cdef unsigned char delim = ord(delimiter)
    cdef double *dst = &out[0, 0] if max_rows else NULL
    cdef ms_deferred_list deferred
    deferred.items = NULL
    deferred.n = deferred.cap = 0
    try:
        with nogil:
            rows = ms_parse_table(text, n, delim, n_fields, &colmap[0], n_out, dst,
                                  max_rows, &deferred)
        if rows == MS_NO_MEMORY:
            raise MemoryError()
        if rows == MS_REFUSED:
            return -1
        for j in range(deferred.n):
            if _convert(text, &deferred.items[j], dst):
                return -1
    finally:
        free(deferred.items)
    return rows


def parse_block(bytes block not None, str delimiter not None, Py_ssize_t n_fields,
                usecols=None):
    """The block's rows as a new float64 array (as parse_into), or None
    when it is not a plain table of numbers or has no rows."""
    n_out = n_fields if usecols is None else len(usecols)
    out = np.empty((count_lines(block), n_out), dtype=np.float64)
    rows = parse_into(block, delimiter, n_fields, usecols, out)
    if rows <= 0:
        return None
    return out if rows == len(out) else out[:rows].copy()


def count_lines(bytes block not None):
    """The number of newlines in the block (bytes.count(b"\\n"), faster)."""
    cdef const char *text = block
    cdef Py_ssize_t n = len(block), count
    with nogil:
        count = ms_count_lines(text, n)
    return count


def decimal_to_double(unsigned long long w, long long q, bint negative=False):
    """w * 10**q correctly rounded (w < 10**19), or None when the compiled
    routine leaves it to the exact one: for the tests."""
    cdef double value
    if w >= 10ULL ** 19:
        raise ValueError("w must be below 10**19")
    if ms_decimal_to_double(w, q, negative, &value):
        return value
    return None
