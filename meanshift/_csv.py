"""Reading CSV and TSV for the ``meanshift`` command, streamed.

The parser behind :func:`meanshift._input.load_input`, the command's one
door for its input, whose pieces (the file, gunzipped or not; the columns
by name or number; InputError) it uses.

The text is read in blocks of whole lines (about 4 MB each), gunzipped on
the way when compressed, and each block is parsed on its own: the whole
text is never in memory at once, and each block's numbers exist once, in
its part of the result.

A block is parsed by the compiled parser (meanshift._textparse), in one
call without the GIL: it converts plain decimals to float64 correctly
rounded (the bits :func:`numpy.loadtxt` gives them), hands every other
token (inf, nan, more than 19 digits) to loadtxt's own routine,
PyOS_string_to_double, and accepts a block only when it has the shape of
the table: every line has exactly the expected number of fields (blank
lines aside), no used field is empty, quoted or holds a control or
non-ASCII byte.  Anything else (quoted numbers, a text cell, a short row,
NaN written as ``nan(...)``, a lone carriage return) sends the block to
:func:`numpy.loadtxt`, line by line, which parses what it can and names
the line and column of what it cannot.  Both give the same values for
every block they both accept; errors always come from the second.

A value that is not finite (inf, a number beyond float64's range such as
1e400, NaN but where --drop-missing reads it as a missing cell) is an error
too, named by its line, column and text: each block is checked as it is
parsed (by the thread that parsed it).

Lines may end with LF, CRLF or, as in old Mac files, a lone CR: a text
whose first line ends with a lone CR is read with every CR as a line end.

With more than one thread (``n_jobs``, OMP_NUM_THREADS, the usable cores)
several blocks are parsed at once while the next ones are read.
"""

import collections
import csv
import io
import itertools
import operator
import re

import numpy as np

from ._fields import (
    Input,
    InputError,
    column_label,
    keep_columns,
    not_finite,
    open_input,
    read_bytes,
    select_columns,
)
from ._threads import parse_threads

__all__ = ["read_delimited"]

# bytes read at a time (a block is this plus the rest of its last line)
BLOCK_SIZE = 1 << 22
_FAST_DELIMITERS = ",;|:\t"  # as meanshift._textparse.DELIMITERS
_BOM = b"\xef\xbb\xbf"


def _is_number(field):
    try:
        float(field)
    except ValueError:
        return False
    return True


# what --drop-missing reads as a missing value (NaN), besides an empty cell
# and NaN itself (float() reads "nan" in any case): case-insensitive
_MISSING_WORDS = frozenset(("na", "n/a"))


def is_missing(cell):
    """An empty cell, NA, N/A or NaN (in any case, spaces around aside)."""
    word = cell.strip().lower()
    return not word or word in _MISSING_WORDS or word.lstrip("+-") == "nan"


def _header_fields(line, delimiter):
    """The fields of a first line, split as numpy.loadtxt splits the rows
    (csv-style double quotes, a doubled quote inside one), spaces and any
    quotes left around each stripped."""
    try:
        fields = next(csv.reader([line], delimiter=delimiter, quotechar='"'), [""])
    except csv.Error:  # e.g. a field beyond csv's size limit
        fields = line.split(delimiter)
    return [f.strip().strip('"') for f in fields]


# ---------------------------------------------------------------------------
# The byte stream, in blocks of whole lines
# ---------------------------------------------------------------------------


def _ends_with_lone_cr(data):
    """Whether the first line of data ends with a lone carriage return (an
    old Mac file), not LF or CRLF; None: not known yet (a CR at its end)."""
    cr, lf = data.find(b"\r"), data.find(b"\n")
    if cr < 0 or 0 <= lf < cr:
        return False
    if cr + 1 == len(data):
        return None
    return data[cr + 1] != 0x0A


def _blocks(stream, where):
    """The stream's bytes as blocks that each end with a newline (outside
    quotes: a quoted field may hold one).  A text whose first line ends with
    a lone CR has its every CR read as a newline (checked once: LF and CRLF
    text pays nothing)."""
    size = BLOCK_SIZE
    pieces = []  # the start of a line longer than a read
    quotes = 0  # in pieces
    cr_ends = None  # unknown until the first line end is seen
    while True:
        data = read_bytes(stream, size, where)
        if not data:
            break
        if cr_ends is None and (b"\n" in data or b"\r" in data):
            cr_ends = _ends_with_lone_cr(b"".join(pieces) + data if pieces else data)
            if cr_ends:
                pieces = [p.replace(b"\r", b"\n") for p in pieces]
        if cr_ends:
            data = data.replace(b"\r", b"\n")
        cut = data.rfind(b"\n") + 1
        quoted = b'"' in data  # (quicker than counting none)
        if cut and quoted and (quotes + data.count(b'"', 0, cut)) % 2:
            cut = 0  # that newline is inside a quoted field
        if cut == 0:
            pieces.append(data)
            quotes += data.count(b'"') if quoted else 0
            continue
        if pieces:
            pieces.append(data[:cut])
            yield b"".join(pieces)
        else:
            yield data if cut == len(data) else data[:cut]
        pieces = [data[cut:]] if cut < len(data) else []
        quotes = data.count(b'"', cut) if quoted else 0
    if pieces:
        yield b"".join(pieces) + b"\n"


def _decode(raw, where):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{where}: not a text file (expected CSV or TSV)") from None


# ---------------------------------------------------------------------------
# Parsing one block
# ---------------------------------------------------------------------------


class _Table:
    """What every block needs to know: the delimiter, the columns, and the
    width of the first data line, which every line must have."""

    def __init__(self, delimiter, n_fields, usecols, width, first_number, where,
                 weights=None, names=None, keep=None, drop_missing=False):
        self.delimiter = delimiter
        self.names = names  # the header's fields, or None: how columns are named
        self.keep = keep  # indices of the columns kept as text, or None
        self.keep_rows = []  # their cells, row by row
        self.drop_missing = drop_missing  # empty cells read as NaN
        self.weights = weights  # (index, label) of the weights column, or None
        self.n_fields = n_fields  # delimiters + 1 in the first data line
        self.usecols = usecols  # None: every column
        self.width = width  # its columns as loadtxt reads it (usecols None)
        self.first_number = first_number  # its line number (from 1)
        self.where = where
        # the compiled parser's delimiters (a CSV's, a TSV's and a few more)
        self.fast = delimiter in _FAST_DELIMITERS and (
            usecols is None
            or (max(usecols, default=-1) < n_fields and len(set(usecols)) == len(usecols))
        )


def _parse_fast(block, n_lines, table):
    """The block's rows (of its ``n_lines`` lines), or None when it is not
    a plain table of numbers.  This thread allocates them (see _parse_all);
    _parse_compiled fills them."""
    if not table.fast:
        return None
    return _parse_compiled(block, table, _rows_for(n_lines, table))


def _rows_for(n_lines, table):
    n_out = table.n_fields if table.usecols is None else len(table.usecols)
    return np.empty((n_lines, n_out), dtype=np.float64)


def _parse_compiled(block, table, out):
    from ._textparse import parse_into

    rows = parse_into(block, table.delimiter, table.n_fields, table.usecols, out)
    if rows <= 0:
        return None
    return out if rows == len(out) else out[:rows]


def _parse_checked(block, table, out):
    """(_parse_compiled's rows, whether they are all finite): the check
    made by the pool's thread that parsed them."""
    rows = _parse_compiled(block, table, out)
    return rows, rows is None or _all_finite(rows, table)


def _loadtxt_message(error, numbers, table):
    """numpy's parse error with its row (in the lines it was given) as the
    line of the file (counted from 1); ``numbers`` maps one to the other.
    A cell of the weights column is named as such."""

    def line(row):
        return numbers[min(max(row, 0), len(numbers) - 1)]

    where = table.where
    msg = str(error).splitlines()[0].rstrip(".")
    m = re.match(r"could not convert string (.*) to float\d* at row (\d+), column (\d+)", msg)
    if m:  # this row counts from 0, the column (of the file) from 1
        cell, row, column = m.group(1), int(m.group(2)), int(m.group(3)) - 1
        blank = not cell[1:-1].strip()  # cell is the text's repr
        if table.weights is not None and column == table.weights[0]:
            what = "an empty cell" if blank else f"{cell} is not a number"
            return f"--weights: {table.weights[1]} of {where}, line {line(row)}: {what}"
        label = column_label(column, table.names)
        if blank:
            return (
                f"{where}: line {line(row)}, {label}: an empty cell (skip such rows "
                "with --drop-missing)"
            )
        if is_missing(cell[1:-1]):
            return (
                f"{where}: line {line(row)}, {label}: {cell} marks a missing value "
                "(skip such rows with --drop-missing)"
            )
        return (
            f"{where}: line {line(row)}, {label}: {cell} is not a number (choose "
            "numeric columns with --columns)"
        )
    m = re.match(r"invalid column index (-?\d+) at row (\d+) with (\d+) columns?", msg)
    if m:  # a row too short for a chosen column; the row counts from 1
        n = int(m.group(3))
        return (
            f"{where}: line {line(int(m.group(2)) - 1)} has {n} field{'s' if n != 1 else ''}, "
            f"too few for {column_label(int(m.group(1)), table.names)}"
        )
    m = re.search(r"at row (\d+)", msg)
    if m:  # this one counts from 1
        msg = msg[: m.start()] + f"at line {line(int(m.group(1)) - 1)}"
    return f"{where}: unreadable data: {msg}"


def _all_finite(rows, table):
    """Whether the block's rows hold only finite numbers (NaN allowed with
    --drop-missing: a missing cell, its row dropped later)."""
    if table.drop_missing:
        return not np.isinf(rows).any()
    return bool(np.isfinite(rows).all())


def _shown(cell):
    """A field's text for a message: quoted, cut short when long."""
    if len(cell) <= 24:
        return repr(cell)
    return f"{cell[:12]!r}... ({len(cell):,} characters)"


def _not_finite_message(block, first_number, rows, table):
    """The error for the block's first value that is not finite (by rows,
    then columns): its line (counted as _parse_lines counts them), its
    column and its text."""
    bad = np.isinf(rows) if table.drop_missing else ~np.isfinite(rows)
    row, col = (int(i) for i in np.argwhere(bad)[0])
    lines = _decode(block, table.where).splitlines()
    filled = (i for i, line in enumerate(lines) if line.strip())
    # (None where quoted line ends made rows of several lines before it)
    number = next(itertools.islice(filled, row, None), None)
    column = col if table.usecols is None else table.usecols[col]
    fields = [] if number is None else _header_fields(lines[number], table.delimiter)
    cell = fields[column] if column < len(fields) else repr(float(rows[row, col]))
    # a number that reads as inf but is not written so: 1e400, 400 digits
    overflow = cell.lower().lstrip("+-") not in ("inf", "infinity")
    what = not_finite(_shown(cell), float(rows[row, col]), overflow)
    line = f"line {first_number + number}" if number is not None else (
        f"a line from {first_number} on"
    )
    if table.weights is not None and column == table.weights[0]:
        return f"--weights: {table.weights[1]} of {table.where}, {line}: {what}"
    return f"{table.where}: {line}, {column_label(column, table.names)}: {what}"


def _missing_as_nan(cell):
    """--drop-missing: a missing cell (empty, NA, N/A, NaN) reads as NaN
    (its row is dropped)."""
    return np.nan if is_missing(cell) else float(cell)


def _loadtxt(rows, numbers, table):
    try:
        return np.loadtxt(
            rows,
            delimiter=table.delimiter,
            usecols=table.usecols,
            ndmin=2,
            dtype=np.float64,
            quotechar='"',
            comments=None,
            converters=_missing_as_nan if table.drop_missing else None,
        )
    except ValueError as e:
        raise InputError(_loadtxt_message(e, numbers, table)) from None


def _parse_lines(block, first_number, table):
    """The block's rows by numpy.loadtxt, line by line (blank lines
    skipped); a problem is an InputError naming its line and column."""
    lines = _decode(block, table.where).splitlines()
    numbers = []
    rows = []
    for i, line in enumerate(lines):
        if line.strip():
            numbers.append(first_number + i)
            rows.append(line)
    if not rows:
        return None
    X = _loadtxt(rows, numbers, table)
    if table.usecols is None and X.shape[1] != table.width:
        raise InputError(
            f"{table.where}: unreadable data: the number of columns changed from "
            f"{table.width} to {X.shape[1]} at line {numbers[0]}"
        )
    return X


def _keep_cells(block, first_number, table, n_rows):
    """--keep: the kept columns' cells of the block's rows, as text (blank
    lines skipped, as the numbers skip them)."""
    text = _decode(block, table.where)
    cells = [
        row for row in csv.reader(io.StringIO(text), delimiter=table.delimiter)
        if row and not (len(row) == 1 and not row[0].strip())
    ]
    if len(cells) != n_rows:  # pragma: no cover - a quoting the two read apart
        raise InputError(
            f"{table.where}: --keep: lines from {first_number} on could not be "
            "split into the same rows as the numbers"
        )
    for row in cells:
        try:
            table.keep_rows.append([row[j].strip() for j in table.keep])
        except IndexError:
            j = next(j for j in table.keep if j >= len(row))
            raise InputError(
                f"{table.where}: --keep: a row after line {first_number} has "
                f"{len(row)} fields, too few for {column_label(j, table.names)}"
            ) from None


# ---------------------------------------------------------------------------
# The file
# ---------------------------------------------------------------------------


def _next_line(blocks, state):
    """The next line of text (without its end) and its number, or None at
    the end; ``state`` = [block, position in it, its line number]."""
    while True:
        block, pos, number = state
        if block is not None and pos < len(block):
            end = block.index(b"\n", pos)
            state[1], state[2] = end + 1, number + 1
            return block[pos:end], number
        block = next(blocks, None)
        if block is None:
            return None
        state[:] = [block, 0, number]


def read_delimited(path, delimiter=None, columns=None, weights=None, header=None,
                   keep=None, drop_missing=False, n_jobs=None):
    """The :class:`~meanshift._input.Input` of CSV or TSV text (a file, or
    standard input for '-'): X and the weights as float64; ``delimiter``
    None: tabs if the first line has them and no comma (standard input);
    ``weights`` the weights column's name or number; ``header``
    True/False, or None to detect it (a first line with a field that is not
    a number); ``keep`` columns read as text; ``drop_missing``: empty cells
    read as NaN; ``n_jobs`` the threads to parse with, as for
    :func:`parse_threads`."""
    with open_input(path) as (stream, where):
        return _read_table(
            stream, where, delimiter, columns, weights, header, keep, drop_missing,
            parse_threads(n_jobs),
        )


def _read_table(stream, where, delimiter, columns, weights=None, header=None, keep=None,
                drop_missing=False, n_threads=1):
    """read_delimited on an open binary stream, with ``n_threads`` threads."""
    blocks = _blocks(stream, where)
    state = [None, 0, 1]
    first = next(blocks, None)
    if first is not None and first.startswith(_BOM):
        first = first[len(_BOM):]
    state[0] = first

    def next_filled():
        while True:
            got = _next_line(blocks, state)
            if got is None or got[0].strip():
                return got

    got = next_filled()
    if got is None:
        raise InputError(f"{where}: no data")
    raw, first_number = got
    line = _decode(raw, where).rstrip("\r")
    if delimiter is None:
        delimiter = "\t" if "\t" in line and "," not in line else ","
    fields = _header_fields(line, delimiter)
    detected = None
    if header is None:
        # a first row of data may have missing cells where --drop-missing
        # reads them
        header = not all(_is_number(f) or (drop_missing and is_missing(f)) for f in fields)
        if header:
            detected = line
    names = fields if header else None
    kept = keep_columns(keep, names, len(fields), where)
    usecols, names, w = select_columns(columns, names, len(fields), where, weights, kept)
    if w is not None:  # read as the last column, split off below
        usecols = usecols + [w]
    picking = bool(columns) or w is not None or kept is not None
    if header:
        got = next_filled()
        if got is None:
            raise InputError(f"{where}: a header but no data rows")
        raw, ref_number = got
        ref_line = _decode(raw, where).rstrip("\r")
    else:
        ref_line, ref_number = line, first_number
    # the data: from the first data line on, as the rest of its block and
    # every later block
    block, pos, number = state
    head = block[pos - len(raw) - 1:]
    table = _Table(
        delimiter, ref_line.count(delimiter) + 1, usecols if picking else None, None,
        ref_number, where,
        None if w is None else (w, column_label(w, fields if header else None)),
        fields if header else None, kept, drop_missing,
    )
    if not picking:  # the width every line must have (quotes may hide delimiters)
        table.width = _loadtxt([ref_line], [ref_number], table).shape[1]
        table.fast = table.fast and table.width == table.n_fields
    parts = _parse_all(_numbered(head, ref_number, blocks, table), table, n_threads)
    X = parts[0] if len(parts) == 1 else np.concatenate(parts)
    del parts
    if not picking and X.shape[1] != len(fields):
        raise InputError(
            f"{where}: line {first_number} has {len(fields)} fields but the data "
            f"rows have {X.shape[1]}"
        )
    keep_names = None if kept is None else [fields[j] if header else j for j in kept]
    keep_rows = table.keep_rows if kept is not None else None
    if w is None:
        return Input(X, names, where, None, None, detected, keep_rows, keep_names)
    return Input(
        np.ascontiguousarray(X[:, :-1]), names, where, np.ascontiguousarray(X[:, -1]),
        fields[w] if header else w, detected, keep_rows, keep_names,
    )


def _numbered(head, number, blocks, table):
    """(block, number of its first line, its number of lines) for head and
    then every block."""
    if table.fast:
        from ._textparse import count_lines
    else:
        count_lines = operator.methodcaller("count", b"\n")
    for block in itertools.chain([head], blocks):
        n_lines = count_lines(block)
        yield block, number, n_lines
        number += n_lines


def _parse_all(numbered, table, n_threads=1):
    """Every block's rows, in order; the first error in the file wins.
    With ``n_threads`` > 1 the compiled parser reads that many blocks at
    once (without the GIL) while this thread reads the next ones; a block
    it refuses is read line by line here, in order.  The rows are allocated
    here, not in the pool's threads: memory a thread's malloc arena keeps
    would not serve the clustering that follows."""
    parts = []
    if not table.fast or n_threads < 2:
        for block, number, n_lines in numbered:
            _add_block(parts, block, number, table, _parse_fast(block, n_lines, table))
        return parts
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(n_threads, thread_name_prefix="meanshift-csv")
    pending = collections.deque()
    try:
        for block, number, n_lines in numbered:
            out = _rows_for(n_lines, table)
            pending.append((block, number, pool.submit(_parse_checked, block, table, out)))
            if len(pending) > n_threads:
                block, number, rows = pending.popleft()
                _add_block(parts, block, number, table, *rows.result())
        while pending:
            block, number, rows = pending.popleft()
            _add_block(parts, block, number, table, *rows.result())
    finally:
        pool.shutdown(cancel_futures=True)
    return parts


def _add_block(parts, block, number, table, rows, finite=None):
    """Append the block's rows, parsed line by line where ``rows`` is None;
    ``finite``: whether they are all finite, None: not checked yet."""
    if rows is None:
        rows, finite = _parse_lines(block, number, table), None
    if rows is not None and not (finite or (finite is None and _all_finite(rows, table))):
        raise InputError(_not_finite_message(block, number, rows, table))
    if table.keep is not None and rows is not None:
        _keep_cells(block, number, table, len(rows))
    if rows is not None:
        parts.append(rows)
