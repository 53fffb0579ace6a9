"""The ``meanshift`` command's input: one door, :func:`load_input`.

Everything the command reads comes through here: a .npy file or CSV/TSV
text (a file or standard input), gunzipped when its content is gzip,
whatever its name; the columns chosen by name or number (features, the
--weights column, the --keep columns); the weights checked; the rows with a
missing cell dropped.  The text itself is parsed by :mod:`meanshift._csv`,
which builds on the pieces here (the file, the columns, the error).

Every problem is an :class:`InputError`: one line for the user, also for a
value that is not finite (inf, or NaN but where --drop-missing drops its
row), named by its row or line and its column.  Nothing here imports
scikit-learn, nor a compiled module before it reads the data.
"""

import contextlib
import gzip
import io
import math
import os
import sys
import zlib
from typing import NamedTuple

import numpy as np

from ._weights import first_bad

__all__ = ["Input", "InputError", "drop_missing_rows", "load_input", "not_finite"]


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


# ---------------------------------------------------------------------------
# The formats
# ---------------------------------------------------------------------------


def load_input(path, columns=None, weights=None, header=None, keep=None,
               drop_missing=False, n_jobs=None, delimiter=None):
    """The :class:`Input` of the command's INPUT: .npy, .csv or .tsv
    (optionally gzipped) or '-' for CSV on standard input; ``columns``,
    ``weights`` and ``keep`` as the options give them; ``header``
    True/False, or None to detect it; ``drop_missing``: missing cells read
    as NaN (and the weights of their rows go unchecked); ``n_jobs``: threads
    to parse CSV with; ``delimiter``: CSV/TSV's field separator (None: by
    the name)."""
    suffix = "" if path == "-" else split_suffix(path)[0]
    if suffix == ".npy":
        if delimiter is not None:
            raise InputError(f"--delimiter: {path} is a .npy file, not CSV or TSV text")
        data = _read_npy(path, columns, weights, keep, drop_missing, n_jobs)
    elif path == "-" or suffix in (".csv", ".tsv"):
        # the parser builds on this module: imported here, not above
        from ._csv import read_delimited

        if delimiter is None and suffix:
            delimiter = "\t" if suffix == ".tsv" else ","
        data = read_delimited(
            path, delimiter, columns, weights, header, keep, drop_missing, n_jobs
        )
    else:
        raise InputError(
            f"{path}: unknown input format {suffix or '(no extension)'!r}: use .npy, "
            ".csv or .tsv (optionally .gz), or '-' for CSV on standard input"
        )
    if data.weights is not None:
        dropped = missing_rows(data.X, data.weights) if drop_missing else None
        _check_weight_values(data.weights, data.weights_column, data.source, dropped)
    return data


def _load_npy(path):
    """The array of a .npy file (gzipped or not), as rows x features."""
    with open_input(path) as (stream, where):
        raw = read_bytes(stream, -1, where)
    try:
        X = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise InputError(f"{path}: not a readable .npy file ({e})") from None
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_):
        raise InputError(f"{path}: holds {X.dtype} data, not numbers")
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise InputError(f"{path}: has {X.ndim} dimensions; expected rows x features")
    return X


def _read_npy(path, columns, weights, keep, drop_missing=False, n_jobs=None):
    """The :class:`Input` of a .npy file: columns by number only; its
    features finite (NaN allowed with ``drop_missing``), checked with
    ``n_jobs`` threads."""
    X = _load_npy(path)
    kept = keep_columns(keep, None, X.shape[1], path)
    usecols, _, w = select_columns(columns, None, X.shape[1], path, weights, kept)
    kept_cells = None
    if kept is not None:
        fmt = "%d" if X.dtype.kind in "iub" else "%.17g"
        kept_cells = [[fmt % v for v in row] for row in X[:, kept].tolist()]
    picked = X[:, usecols] if columns or kept is not None or w is not None else X
    _check_finite(picked, usecols, path, drop_missing, n_jobs)
    weight_values = None if w is None else X[:, w].astype(np.float64)
    return Input(picked, None, path, weight_values, w, None, kept_cells, kept)


def _check_finite(X, usecols, where, drop_missing=False, n_jobs=None):
    """An InputError naming the first value of X (the columns ``usecols``
    of the file) that is not finite, but NaN with ``drop_missing`` (a
    missing cell); one parallel pass where X is float32 or float64."""
    if X.dtype.kind != "f":
        return
    if X.dtype in (np.float32, np.float64):
        # compiled modules are imported when used: --help needs none
        from ._csv import parse_threads
        from ._values import finite_magnitude

        if finite_magnitude(X, n_threads=parse_threads(n_jobs))[0]:
            return
    bad = np.isinf(X) if drop_missing else ~np.isfinite(X)
    if not bad.any():  # NaN only, and --drop-missing drops their rows
        return
    row, col = (int(i) for i in np.argwhere(bad)[0])
    value = float(X[row, col])
    shown = "NaN" if math.isnan(value) else f"{value:g}"
    raise InputError(
        f"{where}: row {row} (from 0, as in --labels), {column_label(usecols[col])}: "
        f"{not_finite(shown, value)}"
    )


# ---------------------------------------------------------------------------
# The rows: weights and missing cells
# ---------------------------------------------------------------------------


def missing_rows(X, w=None):
    """True for each row with a NaN feature (or weight)."""
    missing = np.zeros(len(X), dtype=bool) if X.dtype.kind != "f" else np.isnan(X).any(axis=1)
    if w is not None:
        missing |= np.isnan(w)
    return missing


def drop_missing_rows(data):
    """(data without its rows with a missing cell, True for each row
    dropped): --drop-missing."""
    missing = missing_rows(data.X, data.weights)
    if missing.all():
        raise InputError(
            f"--drop-missing: every one of the {len(data.X):,} rows of {data.source} has a "
            "missing cell (empty, NA, N/A or NaN): nothing left to cluster"
        )
    if missing.any():
        data = data._replace(
            X=data.X[~missing],
            weights=None if data.weights is None else data.weights[~missing],
        )
    return data, missing


def _check_weight_values(w, column, where, dropped=None):
    """One line naming the column for a weight MeanShift would refuse (but
    in the rows --drop-missing drops, True in ``dropped``); rows are
    counted in the input, dropped ones included."""
    label = column_label(column)
    if dropped is not None:
        w = np.where(dropped, 0.0, w)
    bad = first_bad(w)
    if bad is not None:
        i, what = bad
        what = {"NaN": "NaN", "infinity": "an infinite weight",
                "negative": f"a negative weight ({w[i]:g})"}[what]
        raise InputError(
            f"--weights: {label} of {where} holds {what} in row {i} of the data "
            "(from 0, as in --labels); weights must be finite and at least 0"
        )
    if not (w > 0).any():
        raise InputError(
            f"--weights: every weight in {label} of {where} is 0; at least one "
            "must be positive"
        )
