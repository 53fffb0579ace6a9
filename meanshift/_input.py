"""The ``meanshift`` command's input: one door, :func:`load_input`.

Everything the command reads comes through here: a .npy file or CSV/TSV
text (a file or standard input), gunzipped when its content is gzip,
whatever its name; the columns chosen by name or number (features, the
--weights column, the --keep columns); the weights checked; the rows with a
missing cell dropped.  The text itself is parsed by :mod:`meanshift._csv`,
which builds, as this module does, on :mod:`meanshift._fields` (the
file, the columns, the error).

Every problem is an :class:`InputError`: one line for the user, also for a
value that is not finite (inf, or NaN but where --drop-missing drops its
row), named by its row or line and its column.  Nothing here imports
scikit-learn, nor a compiled module before it reads the data.
"""

import io
import math

import numpy as np

from ._csv import read_delimited
from ._fields import (
    Input,
    InputError,
    column_label,
    keep_columns,
    not_finite,
    open_input,
    read_bytes,
    select_columns,
    split_suffix,
)
from ._threads import parse_threads
from ._weights import first_bad

__all__ = ["drop_missing_rows", "load_input", "missing_rows"]


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
