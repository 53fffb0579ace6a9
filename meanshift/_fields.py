"""What the command's input formats build on (:mod:`meanshift._input`,
the door, and :mod:`meanshift._csv`, its CSV/TSV parser): the error
(:class:`InputError`, one line for the user), the :class:`Input` read,
the file's bytes (gunzipped when its content is gzip, whatever its name),
the columns chosen by name or number, and what a value that is not finite
holds.  Nothing here imports scikit-learn or a compiled module.
"""

import contextlib
import gzip
import math
import os
import sys
import zlib
from typing import NamedTuple

import numpy as np

__all__ = [
    "Input",
    "InputError",
    "column_label",
    "keep_columns",
    "not_finite",
    "open_input",
    "read_bytes",
    "select_columns",
    "split_suffix",
]


class InputError(Exception):
    """The input cannot be read as asked: one line for the user."""


class Input(NamedTuple):
    """The input as read (a tuple: ``X, names, source`` come first)."""

    X: np.ndarray  # the features: float64, or the .npy's numeric dtype
    names: list | None  # their header names, or None
    source: str  # the file's name, or "standard input"
    weights: np.ndarray | None  # --weights: float64, or None
    # the weights column: its header name, or its number without a header
    weights_column: str | int | None
    header_detected: str | None  # the first line, when taken for a header
    keep: list | None  # --keep: each row's kept cells, as text
    keep_names: list | None  # their header names, or their numbers


def split_suffix(path):
    """('.csv', True) for 'data.csv.gz': the format suffix and whether the
    name says gzip."""
    name = os.path.basename(path).lower()
    gz = name.endswith(".gz")
    if gz:
        name = name[:-3]
    return os.path.splitext(name)[1], gz


# ---------------------------------------------------------------------------
# The bytes
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def open_input(path):
    """(binary stream, description) of a file or standard input ('-'),
    gunzipped when its content is gzip, whatever its name; closed on exit
    (but standard input)."""
    if path == "-":
        stream, where = sys.stdin.buffer, "standard input"
    else:
        where = path
        try:
            # closed in the finally below, with a gzip stream that wraps it
            stream = open(path, "rb")  # noqa: SIM115
        except FileNotFoundError:
            raise InputError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise InputError(f"{path}: is a directory, not a data file") from None
        except OSError as e:
            raise InputError(f"{path}: cannot read: {e.strerror}") from None
    opened = [] if path == "-" else [stream]
    try:
        try:
            magic = stream.peek(2)[:2]
        except OSError as e:
            raise InputError(f"{where}: cannot read: {e.strerror or e}") from None
        if magic == b"\x1f\x8b":
            stream = gzip.GzipFile(fileobj=stream, mode="rb")
            opened.insert(0, stream)
        yield stream, where
    finally:
        for f in opened:
            f.close()


def read_bytes(stream, size, where):
    """Up to ``size`` bytes (-1: all) of a stream from :func:`open_input`."""
    try:
        return stream.read(size)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise InputError(f"{where}: not a valid gzip file ({e})") from None
    except OSError as e:
        raise InputError(f"{where}: cannot read: {e.strerror or e}") from None


# ---------------------------------------------------------------------------
# The columns
# ---------------------------------------------------------------------------


def column_label(column, names=None):
    """How messages and the summary name a column: 'column "count"' for a
    header name (or the number of a column ``names`` names), 'column 2'
    for a number."""
    if names is not None and isinstance(column, int) and 0 <= column < len(names):
        column = names[column]
    return f'column "{column}"' if isinstance(column, str) else f"column {column}"


def _column_index(c, names, n_fields, where, option):
    """The 0-based index of column ``c`` (a header name or a number)."""
    if names is not None and c in names:
        at = [i for i, name in enumerate(names) if name == c]
        if len(at) > 1:
            raise InputError(
                f"{option}: {where} has {len(at)} columns named {c!r} (columns "
                f"{', '.join(map(str, at[:-1]))} and {at[-1]}, numbered from 0): "
                "choose one by its number"
            )
        return at[0]
    if c.lstrip("-").isdigit():
        i = int(c)
        if not 0 <= i < n_fields:
            raise InputError(
                f"{option}: column {i} does not exist: {where} has "
                f"{n_fields} columns (numbered from 0)"
            )
        return i
    if names is None:
        raise InputError(f"{option}: {c!r} is not a column number and {where} has no header")
    raise InputError(
        f"{option}: no column named {c!r} in {where} (columns: {', '.join(names)})"
    )


def _split_names(columns, names=None):
    """['a', 'b', 'c'] for ['a,b', 'c']: names may be given comma-separated
    (but for an argument that is a whole header name, comma and all)."""
    return [
        c.strip()
        for arg in columns
        for c in ([arg] if names is not None and arg.strip() in names else arg.split(","))
        if c.strip()
    ]


def keep_columns(keep, names, n_fields, where):
    """Indices of the --keep columns (names or 0-based numbers), or None."""
    if not keep:
        return None
    picked = [
        _column_index(c, names, n_fields, where, "--keep") for c in _split_names(keep, names)
    ]
    if len(set(picked)) != len(picked):
        raise InputError("--keep: a column is named twice")
    return picked


def select_columns(columns, names, n_fields, where, weights=None, keep=None):
    """Indices of the requested feature columns (names or 0-based numbers),
    their names (None without a header), and the index of the weights
    column (None without ``weights``), which is then never a feature; nor
    are the ``keep`` columns (indices) when ``columns`` is not given."""
    w = None if weights is None else _column_index(
        weights.strip(), names, n_fields, where, "--weights"
    )
    if not columns:
        picked = [i for i in range(n_fields) if i != w and i not in (keep or ())]
    else:
        wanted = _split_names(columns, names)
        picked = [_column_index(c, names, n_fields, where, "--columns") for c in wanted]
        if len(set(picked)) != len(picked):
            raise InputError("--columns: a column is named twice")
        if w in picked:
            raise InputError(
                f"--weights: {column_label(w, names)} is also in --columns: the "
                "weights column cannot be a feature"
            )
    if not picked and w is not None:
        raise InputError(
            f"--weights: {column_label(w, names)} is the only column of {where}: "
            "no features left to cluster"
        )
    if not picked:
        raise InputError(
            f"--keep: every column of {where} is kept: no features left to cluster "
            "(choose them with --columns)"
        )
    return picked, None if names is None else [names[i] for i in picked], w


def not_finite(shown, value, overflow=False):
    """What a value that is not finite holds, and what to do about it, for
    a message: ``shown`` as the input wrote it, ``value`` the float it
    reads as (inf or NaN); ``overflow``: written as a number beyond
    float64's range (1e400), not as inf."""
    if math.isnan(value):
        return f"{shown} marks a missing value (skip such rows with --drop-missing)"
    holds = "is beyond float64's range" if overflow else "is not a finite number"
    return f"{shown} {holds} (clustering needs finite numbers: correct or remove that row)"
