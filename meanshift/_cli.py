"""The ``meanshift`` command: cluster a file, or run the demo.

    meanshift demo [--plot FILE.png]
    meanshift cluster INPUT [--bandwidth B | --quantile Q [--n-samples N]]
                      [--kernel {flat,epanechnikov,gaussian}]
                      [--label-by {nearest,attractor}]
                      [--bin-seeding] [--min-bin-freq N] [--no-cluster-all]
                      [--algorithm {exact,grid}] [--grid-resolution K]
                      [--max-iter N] [--n-jobs N] [--columns C [C ...]]
                      [--keep C [C ...]] [--header | --no-header]
                      [--delimiter CHAR]
                      [--drop-missing] [--scale {standard,robust,none}]
                      [--weights C] [--labels OUT] [--centers OUT]
                      [--plot FILE.png] [--json]

``--columns`` and ``--keep`` take names or 0-based numbers, space- or
comma-separated; INPUT may come before or after them.  ``--keep`` copies
columns (an id, text too) into the --labels file before the label.  A CSV
header is detected (with a note on stderr) unless --header/--no-header says;
fields are separated by commas (.csv, standard input: tabs when the first
line has tabs and no comma) or tabs (.tsv) unless --delimiter says.
``--drop-missing`` drops rows with a missing cell (empty, NA, N/A or NaN, in
any case) in a used column: their label is empty (NaN in .npy), one labels
row per input row.  A value that is not finite (inf, 1e400; NaN without
--drop-missing) is an error naming its line (or .npy row) and column.
``--scale`` clusters standardized features, reporting centers in the
original units.  Without --bandwidth and --n-samples, the bandwidth is
estimated on a fixed-seed sample of 10,000 rows above that many
(``--n-samples all``: every row).

``--weights C`` takes each row's sample weight from column C (a header name
or a 0-based number, as for ``--columns``); that column is then not a
feature.  Cluster sizes and shares count rows, with or without weights.

Errors print one line to stderr and exit with status 1 (2 for a command
line that cannot be parsed); output files are written whole or not at all,
never over the input or each other.  MEANSHIFT_DEBUG=1 in the environment
shows an error's traceback instead (for a bug report).
"""

import argparse
import contextlib
import csv
import difflib
import json
import math
import os
import sys
import tempfile
import time
import warnings
from decimal import Decimal
from fractions import Fraction

import numpy as np

from . import __version__
from ._choices import ALGORITHMS, KERNELS, LABEL_BY
from ._fields import InputError, column_label, split_suffix
from ._input import drop_missing_rows, load_input
from ._plot import INSTALL_MATPLOTLIB

# scikit-learn (through ._api) is imported only to cluster: --help, --version
# and a malformed command line answer without it

__all__ = ["main"]

_PROG = "meanshift"
# how many clusters and coordinates the table shows (the files hold all)
_MAX_ROWS = 20
_MAX_COORDS = 6
# how the summary says what label_by did (MeanShift's choices: _choices)
_LABEL_BY = {
    "nearest": "nearest (each point takes the nearest center)",
    "attractor": "attractor (each point takes the cluster its own climb ends in)",
}
assert tuple(_LABEL_BY) == LABEL_BY


def _algorithm_line(s):
    """How the summary says which algorithm ran (the grid mode is named an
    approximation)."""
    if s.get("algorithm") != "grid":
        return "exact"
    k = s["grid_resolution"]
    return f"approximate (grid): one seed per occupied cell of side bandwidth / {k:g}"


def _label_by_line(s):
    if s.get("algorithm") == "grid" and s["label_by"] == "attractor":
        return "attractor (each point takes the cluster its cell's climb ends in)"
    return _LABEL_BY[s["label_by"]]


class CLIError(InputError):
    """A problem with the options or the outputs: one line for the user (an
    InputError, as a problem with the input is: main words both alike)."""


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (exit status 2) that names the help
    of the command it parses (``meanshift cluster --help``)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def options(self):
        """The long option strings this parser takes."""
        return [o for a in self._actions for o in a.option_strings if o.startswith("--")]


def _unrecognized(parser, extras):
    """The error for arguments the command does not take, from the
    command's parser: with the closest option to the first that looks like
    one, where one is close (--bandwith: --bandwidth)."""
    message = f"unrecognized arguments: {' '.join(extras)}"
    for extra in extras:
        if extra.startswith("-") and len(extra) > 1:
            close = difflib.get_close_matches(extra.split("=", 1)[0], parser.options(), n=1)
            if close:
                message += f"; did you mean {close[0]}?"
                break
    parser.error(message)


# ---------------------------------------------------------------------------
# Writing the outputs, all or nothing
# ---------------------------------------------------------------------------


_OUTPUT_FORMATS = (".npy", ".csv", ".tsv")


def _no_stdout(option, path, what):
    if path == "-":
        raise CLIError(
            f"{option}: writing to standard output ('-') is not supported (the "
            f"summary goes there): give a file name ({what})"
        )


def _check_output(option, path):
    if path is None:
        return
    _no_stdout(option, path, ".npy, .csv or .tsv")
    suffix, gz = split_suffix(path)
    if gz or suffix not in _OUTPUT_FORMATS:
        raise CLIError(f"{option}: {path}: write .npy, .csv or .tsv")
    _check_target(option, path)


def _check_target(option, path):
    """The folder exists and takes a new file (tried: permissions, ACLs, a
    read-only file system), and path is not a directory: before the fit."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{option}: {path}: no such directory {folder}")
    if os.path.isdir(path):
        raise CLIError(f"{option}: {path}: is a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=folder)
    except OSError as e:
        raise CLIError(
            f"{option}: {path}: cannot write in {folder}: {e.strerror or e}"
        ) from None
    os.close(fd)
    os.unlink(probe)


def _same_file(a, b):
    """Whether paths a and b name one file (links resolved; also where
    neither exists yet)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        if os.path.exists(a) or os.path.exists(b):
            return False
        return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def _check_distinct(source, outputs):
    """No output is the input (``source``, None for standard input) or
    another output; ``outputs``: (option, path or None) pairs."""
    given = [(option, path) for option, path in outputs if path]
    if source is not None and not os.path.exists(source):
        source = None  # reading it will say so
    for i, (option, path) in enumerate(given):
        if source is not None and _same_file(path, source):
            also = "" if path == source else f" ({source})"
            raise CLIError(
                f"{option}: {path}: is the input file{also}; write the output to "
                "another file"
            )
        for other, earlier in given[:i]:
            if _same_file(path, earlier):
                raise CLIError(
                    f"{option}: {path}: is also the {other} file; give each output "
                    "its own file"
                )


def _have_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _check_plot(path):
    if path is None:
        return
    _no_stdout("--plot", path, "e.g. clusters.png")
    if not _have_matplotlib():  # a clear error before the fit
        raise CLIError(f"--plot needs matplotlib: {INSTALL_MATPLOTLIB}")
    _check_target("--plot", path)


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class _writing:
    """An OSError while writing the temporary file of ``path`` (a full
    disk, say) is told as the user named the file."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if kind is not None and issubclass(kind, OSError) and not isinstance(
            error, BrokenPipeError
        ):
            raise CLIError(f"{self.path}: cannot write: {error.strerror or error}") from None
        return False


class _Outputs:
    """Files written to temporary names beside their targets, renamed into
    place together by commit(), removed by discard()."""

    def __init__(self):
        self.pending = []

    def _temp(self, path):
        folder, name = os.path.split(os.path.abspath(path))
        try:
            fd, tmp = tempfile.mkstemp(
                prefix=f".{name}.", suffix=os.path.splitext(name)[1], dir=folder
            )
        except OSError as e:  # named as the user named it, not the temp file
            raise CLIError(f"{path}: cannot write: {e.strerror or e}") from None
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())  # as open() would create it
        self.pending.append((tmp, path))
        return tmp

    def array(self, path, array, header):
        tmp = self._temp(path)
        suffix, _ = split_suffix(path)
        with _writing(path):
            if suffix == ".npy":
                with open(tmp, "wb") as f:  # a path not ending in .npy gets one
                    np.save(f, array)
                return
            delimiter = "\t" if suffix == ".tsv" else ","
            fmt = "%d" if array.dtype.kind in "iu" else "%.17g"
            np.savetxt(
                tmp,
                array.reshape(len(array), -1),
                fmt=fmt,
                delimiter=delimiter,
                header=delimiter.join(header),
                comments="",
            )

    def table(self, path, header, rows):
        """Rows of text cells as CSV or TSV (the labels with --keep, or
        with rows --drop-missing dropped)."""
        tmp = self._temp(path)
        suffix, _ = split_suffix(path)
        with _writing(path), open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(
                f, delimiter="\t" if suffix == ".tsv" else ",", lineterminator="\n"
            )
            writer.writerow(header)
            writer.writerows(rows)

    def figure(self, path, fig):
        tmp = self._temp(path)
        with _writing(path):
            fig.savefig(
                tmp, dpi=120, bbox_inches="tight",
                format=os.path.splitext(path)[1][1:] or "png",
            )

    def commit(self):
        """Rename every file into place; on a failure, none stays."""
        done = []
        try:
            for tmp, path in self.pending:
                try:
                    os.replace(tmp, path)
                except OSError as e:
                    raise CLIError(f"{path}: cannot write: {e.strerror}") from None
                done.append(path)
        except BaseException:
            # what an earlier rename replaced is gone, but no file of this
            # run is left half-written
            for path in done:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            raise
        self.pending = []

    def discard(self):
        for tmp, _ in self.pending:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        self.pending = []


# ---------------------------------------------------------------------------
# The summary
# ---------------------------------------------------------------------------


def _fmt(x):
    return f"{x:.5g}"


def _fmt_decimal(d):
    """A positive Decimal beyond float64's range as _fmt writes floats:
    5 significant digits, mantissa and decimal exponent."""
    exponent = d.adjusted()
    mantissa = f"{float(d.scaleb(-exponent)):.5g}"
    if mantissa == "10":  # rounded up to the next power of ten
        mantissa, exponent = "1", exponent + 1
    return f"{mantissa}e+{exponent}"


def _fmt_weight(x):
    """12,345 for a whole number, else 5 significant digits; x a float, or
    an int beyond float64's range (a total of huge weights)."""
    if abs(x) < 1e15 and x == int(x):
        return f"{int(x):,}"
    if isinstance(x, int):
        return _fmt_decimal(Decimal(x))
    return _fmt(x)


def _pow2_number(m, k):
    """m * 2**k as a float, or as an exact int where that is beyond float64's
    range."""
    try:
        return math.ldexp(m, k)
    except OverflowError:
        return int(Fraction(m) * 2**k)


def _add_weights(values):
    """The sum of weights (floats, or ints beyond float64's range): a float
    where it is one, else an int; never inf."""
    try:
        total = math.fsum(values)
        if math.isfinite(total):
            return total
    except OverflowError:  # an int beyond floats, or an intermediate sum
        pass
    exact = sum(map(Fraction, values), Fraction(0))
    try:
        return float(exact)
    except OverflowError:
        return int(exact)


def _weight_sums(weights, labels=None, n_clusters=0):
    """The total of the (finite, non-negative) weights and, with labels,
    each cluster's total: floats, but where a total is beyond float64's
    range an int of its value (then summed over the weights scaled by a
    power of two, exact, so that no sum overflows), never inf."""
    with np.errstate(over="ignore"):  # told below: not a warning
        total = float(weights.sum())
    clustered = None if labels is None else labels >= 0
    if math.isfinite(total):
        if labels is None:
            return total, None
        sums = np.bincount(
            labels[clustered], weights=weights[clustered], minlength=n_clusters
        )
        return total, [float(v) for v in sums]
    k = int(np.frexp(weights.max())[1])
    scaled = np.ldexp(weights, -k)  # each below 1: no sum of them overflows
    total = _pow2_number(math.fsum(scaled), k)
    if labels is None:
        return total, None
    # each cluster's total as the whole one: fsum, exactly rounded
    of = labels[clustered]
    order = np.argsort(of, kind="stable")
    bounds = np.cumsum(np.bincount(of, minlength=n_clusters))[:-1]
    parts = np.split(scaled[clustered][order], bounds)
    return total, [_pow2_number(math.fsum(part), k) for part in parts]


def summary_table(s):
    """The summary dict as a readable table."""
    weights = s.get("weights")
    lines = [
        f"data        {s['n_samples']:,} points x {s['n_features']} features "
        f"from {s['source']}",
    ]
    if s.get("n_dropped"):
        lines.append(
            f"dropped     {s['n_dropped']:,} of {s['n_rows_read']:,} rows with a missing "
            "cell (--drop-missing; their label is empty)"
        )
    if s.get("scale") not in (None, "none"):
        lines.append(
            f"scale       {s['scale']} (clustered scaled; centers below in the "
            "original units)"
        )
    if weights:
        lines.append(
            f"weights     {column_label(weights['column'])} (total "
            f"{_fmt_weight(weights['total'])}; cluster sizes below count rows)"
        )
    lines += [
        f"bandwidth   {_fmt(s['bandwidth'])} ({s['bandwidth_from']}"
        + (", in scaled units)" if s.get("scale") not in (None, "none") else ")"),
        f"algorithm   {_algorithm_line(s)}",
        f"kernel      {s['kernel']}",
        f"label_by    {_label_by_line(s)}",
        f"seeds       {s['n_seeds']:,} ({s['seeding']})",
        f"clusters    {s['n_clusters']}"
        + (f", {s['n_unclustered']:,} points unclustered" if s["n_unclustered"] else ""),
        *(f"note        {note}" for note in s.get("notes", ())),
        f"iterations  {s['n_iter']} at most per seed",
        f"time        {s['seconds']['total']:.3f} s "
        f"(bandwidth {s['seconds']['bandwidth']:.3f} s, fit {s['seconds']['fit']:.3f} s)"
        f" on {s['n_threads']} thread{'s' if s['n_threads'] != 1 else ''}",
        "",
    ]
    names = s["columns"]
    shown = names[:_MAX_COORDS]
    more = f"  (first {_MAX_COORDS} of {len(names)} features)" if len(names) > _MAX_COORDS else ""
    # with weights, a size is still a count of rows: the column says so,
    # and a column of each cluster's weight follows its share of the rows
    size = "rows" if weights else "size"
    weight_head = f"  {'weight':>10}" if weights else ""
    lines.append(f"{'cluster':>7}  {size:>10}  {'share':>6}{weight_head}  center{more}")
    n = max(s["n_samples"], 1)

    def weight(clusters):
        if not weights:
            return ""
        return f"  {_fmt_weight(_add_weights([c['weight'] for c in clusters])):>10}"

    for c in s["clusters"][:_MAX_ROWS]:
        # shown: the first _MAX_COORDS columns only, so the zip stops there
        coords = "  ".join(
            f"{name}={_fmt(v)}" for name, v in zip(shown, c["center"], strict=False)
        )
        lines.append(
            f"{c['label']:>7}  {c['size']:>10,}  {100 * c['size'] / n:5.1f}%"
            f"{weight([c])}  {coords}"
        )
    if len(s["clusters"]) > _MAX_ROWS:
        rest = s["clusters"][_MAX_ROWS:]
        lines.append(
            f"{'...':>7}  {sum(c['size'] for c in rest):>10,}  "
            f"{100 * sum(c['size'] for c in rest) / n:5.1f}%{weight(rest)}  "
            f"in {len(rest):,} more clusters"
        )
    for kind, path in s["outputs"].items():
        lines.append(f"{kind} written to {path}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------


def _progress_wanted(args):
    if args.progress is not None:
        return args.progress
    return sys.stderr.isatty()


# above this many rows, the default bandwidth estimate (quadratic in the
# rows) runs on a fixed-seed sample of this many
_ESTIMATE_SAMPLE = 10_000


def _column_exponents(X):
    """Per column, the k with every |value| * 2**-k below 1 (at least half
    the largest), so that sums and squares of the scaled column cannot
    overflow; 0 for a column of zeros."""
    if not len(X):
        return np.zeros(X.shape[1], dtype=int)
    return np.frexp(np.abs(X).max(axis=0))[1]


def _scaling(X, how):
    """(X2, offset, scale, k) for --scale: the features clustered are
    (X2 - offset) / scale, X2 = X * 2**-k per column (exact: a power of
    two), and a center c is (c * scale + offset) * 2**k in the original
    units.  offset and scale are the mean and std (standard) or the median
    and interquartile range (robust) of X2: those of X times 2**-k (bit for
    bit but where values fall below 2**-1022), never overflowing, however
    large the values.  A scale of 0 (a
    constant column) becomes 1 in the original units (as far as values so
    large allow), so that column is left at 0 (standard) or centered."""
    X = np.asarray(X, dtype=np.float64)
    k = _column_exponents(X)
    X2 = np.ldexp(X, -k)
    if how == "standard":
        offset, scale = X2.mean(axis=0), X2.std(axis=0)
    else:
        q1, offset, q3 = np.percentile(X2, [25, 50, 75], axis=0)
        scale = q3 - q1
    # |X2 - offset| < 2: dividing by at least 2**-1022 cannot overflow
    scale = np.where(scale > 0, scale, np.ldexp(1.0, np.maximum(-k, -1022)))
    return X2, offset, scale, k


def _fmt_pow2(m, k):
    """m * 2**k to 5 significant digits, also beyond float64's range."""
    m, k = float(m), int(k)
    try:
        value = math.ldexp(m, k)
    except OverflowError:
        return _fmt_decimal(Decimal(m) * Decimal(2) ** k)
    return _fmt(value)


# the scale warning's threshold: the log10 of the ratio of the columns'
# standard deviations (10x: at that ratio two groups that only the narrow
# column tells apart already merge under an estimated bandwidth)
_SCALE_DIGITS = 1


def _warn_scales(X, columns):
    """A warning naming the column that dominates the distances when the
    columns' spreads differ by 10x or more (compared as logarithms, on each
    column scaled by a power of two: no overflow, whatever the values)."""
    if X.shape[1] < 2 or len(X) < 2:
        return
    X = np.asarray(X, dtype=np.float64)
    k = _column_exponents(X)
    std = np.ldexp(X, -k).std(axis=0)  # the std of column j is std[j] * 2**k[j]
    positive = np.flatnonzero(std > 0)
    if len(positive) < 2:
        return
    log2 = np.log2(std[positive]) + k[positive]
    lo, hi = positive[np.argmin(log2)], positive[np.argmax(log2)]
    digits = (log2.max() - log2.min()) * math.log10(2)  # log10 of the ratio
    if digits >= _SCALE_DIGITS:
        if digits < 15:
            ratio = f"{math.ldexp(std[hi] / std[lo], int(k[hi] - k[lo])):,.0f}x"
        else:  # written as 10**digits, its mantissa and exponent
            exponent = math.floor(digits)
            ratio = f"a factor of {10 ** (digits - exponent):.2g}e+{exponent}"
        # stacklevel 1: the command's warnings are printed as they always were
        warnings.warn(  # noqa: B028
            f"the columns' scales differ by {ratio} (std of {columns[hi]} "
            f"{_fmt_pow2(std[hi], k[hi])}, of {columns[lo]} {_fmt_pow2(std[lo], k[lo])}): "
            f"column {columns[hi]} dominates the distances; consider --scale standard"
        )


def _features(X, scale, columns):
    """The features as clustered (X, or X scaled for --scale) and what
    takes centers back to the original units."""
    if scale in ("standard", "robust"):
        X2, offset, spread, exponents = _scaling(X, scale)
        return (X2 - offset) / spread, lambda c: np.ldexp(c * spread + offset, exponents)
    if scale is None:
        _warn_scales(X, [f'"{c}"' for c in columns])
    return X, lambda c: c


def _estimate_sample(n_samples, n_rows):
    """(n_samples for the estimate, None: every row; how the summary says
    it) from --n-samples (None: all up to _ESTIMATE_SAMPLE rows)."""
    if n_samples == "all":
        return None, "all points"
    if n_samples is None and n_rows > _ESTIMATE_SAMPLE:
        return _ESTIMATE_SAMPLE, f"{_ESTIMATE_SAMPLE:,} sampled points"
    if n_samples is None or n_samples >= n_rows:
        return n_samples, "all points"
    return n_samples, f"{n_samples:,} points"


def _check_sampled_weights(weights, n_samples):
    """Some rows that the estimate samples (estimate_bandwidth's sample,
    random_state 0) have a positive weight."""
    if n_samples is None:
        return
    sampled = np.random.RandomState(0).permutation(len(weights))[:n_samples]
    if not (weights[sampled] > 0).any():
        raise CLIError(
            f"--weights: the {len(sampled):,} rows sampled to estimate the bandwidth "
            "all have weight 0; give --bandwidth or a larger --n-samples"
        )


def _bandwidth(X, weights, args, verbose):
    """(the bandwidth, where it comes from): given, or estimated on X, as
    if each row were repeated by its weight (as MeanShift.fit estimates it
    with sample_weight)."""
    if args.bandwidth is not None:
        return args.bandwidth, "given"
    n_samples, sample = _estimate_sample(args.n_samples, X.shape[0])
    options = dict(quantile=args.quantile, n_samples=n_samples, random_state=0,
                   n_jobs=args.n_jobs, verbose=verbose)
    if weights is None:
        from ._api import estimate_bandwidth

        bandwidth = float(estimate_bandwidth(X, **options))
    else:
        _check_sampled_weights(weights, n_samples)
        from ._api import estimate_weighted_bandwidth

        bandwidth = float(estimate_weighted_bandwidth(X, weights, **options))
    if not bandwidth > 0:
        raise CLIError(
            "the estimated bandwidth is 0: more than the quantile of the points "
            "coincide; give --bandwidth or a larger --quantile"
        )
    return bandwidth, f"estimated: quantile {args.quantile:g} of {sample}" + (
        ", weighted" if weights is not None else ""
    )


# from this many rows on, one cluster from an estimated bandwidth is noted
_FEW_ROWS = 10


def _notes(args, n_rows, n_clusters):
    """What the summary adds below the clusters: that one cluster from an
    estimated bandwidth on more than a few rows suggests a bandwidth too
    large (a quantile of the distances spans the groups: often so in many
    dimensions), and how to choose it."""
    if args.bandwidth is not None or n_clusters != 1 or n_rows < _FEW_ROWS:
        return []
    lower = 0.1 if args.quantile > 0.1 else args.quantile / 2
    return [
        "one cluster: the estimated bandwidth may be too large for this data; for "
        f"more clusters, lower --quantile ({args.quantile:g} now; e.g. {lower:g}) or "
        "give a smaller --bandwidth"
    ]


def _fit(X, weights, bandwidth, args, verbose):
    """The fitted MeanShift, and its number of seeds (as the progress
    reports tell it)."""
    from ._api import MeanShift

    seeds = []
    model = MeanShift(
        bandwidth=bandwidth,
        bin_seeding=args.bin_seeding,
        min_bin_freq=args.min_bin_freq,
        cluster_all=args.cluster_all,
        max_iter=args.max_iter,
        n_jobs=args.n_jobs,
        verbose=_count_seeds(seeds, verbose),
        kernel=args.kernel,
        label_by=args.label_by,
        algorithm=args.algorithm,
        grid_resolution=args.grid_resolution,
    )
    model.fit(X, sample_weight=weights)
    return model, seeds[0] if seeds else 0


def _seeding(args, weighted):
    """How the summary says what the seeds were."""
    if args.algorithm == "grid":
        return "one per occupied grid cell" + (" of positive weight" if weighted else "")
    if not args.bin_seeding:
        return "every point of positive weight" if weighted else "every point"
    if weighted:
        return f"grid cells whose points weigh at least {args.min_bin_freq:,} together"
    return f"grid cells with at least {args.min_bin_freq} point" + (
        "s" if args.min_bin_freq != 1 else ""
    )


def _clusters(labels, centers, weights):
    """The summary's clusters (a cluster's size counts its rows, with or
    without weights; with weights, their sum too) and the total weight:
    floats, or an int where one is beyond float64 (never inf)."""
    sizes = np.bincount(labels[labels >= 0], minlength=len(centers))
    clusters = [
        {"label": i, "size": int(sizes[i]), "center": [float(v) for v in centers[i]]}
        for i in range(len(centers))
    ]
    if weights is None:
        return clusters, None
    total, cluster_weights = _weight_sums(weights, labels, len(centers))
    for c, weight in zip(clusters, cluster_weights, strict=True):
        c["weight"] = weight
    return clusters, total


def run_clustering(X, args, source, names, weights=None, weights_column=None):
    """Bandwidth, fit and summary for the array X under the options: (the
    model, the summary, the points as clustered (scaled with --scale), for
    the plot, and the centers in the original units)."""
    from ._threads import _effective_n_threads

    n_threads = _effective_n_threads(args.n_jobs)
    verbose = _progress_wanted(args)
    columns = names or [f"x{j}" for j in range(X.shape[1])]
    scale = getattr(args, "scale", None)
    X, to_original = _features(X, scale, columns)
    t0 = time.perf_counter()
    bandwidth, bandwidth_from = _bandwidth(X, weights, args, verbose)
    t1 = time.perf_counter()
    model, n_seeds = _fit(X, weights, bandwidth, args, verbose)
    t2 = time.perf_counter()
    centers = to_original(model.cluster_centers_)
    clusters, total_weight = _clusters(model.labels_, centers, weights)
    summary = {
        "source": source,
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "columns": columns,
        "weights": None if weights is None else {
            "column": weights_column,
            "total": total_weight,
        },
        "scale": scale or "none",
        "bandwidth": float(bandwidth),
        "bandwidth_from": bandwidth_from,
        "kernel": args.kernel,
        "label_by": args.label_by,
        "algorithm": args.algorithm,
        "grid_resolution": args.grid_resolution if args.algorithm == "grid" else None,
        "n_seeds": n_seeds,
        "seeding": _seeding(args, weights is not None),
        "n_clusters": int(len(centers)),
        "n_unclustered": int((model.labels_ < 0).sum()),
        # what the table prints below the clusters line (see _notes)
        "notes": _notes(args, X.shape[0], len(centers)),
        "n_iter": int(model.n_iter_),
        "n_threads": int(n_threads),
        "seconds": {"bandwidth": t1 - t0, "fit": t2 - t1, "total": t2 - t0},
        # a cluster's size counts its rows, with or without weights
        "size_counts": "rows",
        "clusters": clusters,
        "outputs": {},
    }
    return model, summary, X, centers


def _count_seeds(store, verbose):
    """Wrap the progress reporting to learn the number of seeds."""
    from ._progress import reporter

    inner = reporter(verbose)

    def report(stage, done, total, elapsed):
        # the grid's seeds first take one step each, then some climb on
        if stage in ("steps", "climb") and not store:
            store.append(int(total))
        if inner is not None:
            inner(stage, done, total, elapsed)

    return report


def _label_rows(labels, missing, keep):
    """The labels file's rows as text: the kept cells, then the label
    (empty for a row --drop-missing dropped); one row per input row."""
    full = np.full(len(missing), -1, dtype=np.int64)
    full[~missing] = labels
    texts = [str(v) for v in full.tolist()]
    for i in np.flatnonzero(missing):
        texts[i] = ""
    if keep is None:
        return [[t] for t in texts]
    return [cells + [t] for cells, t in zip(keep, texts, strict=True)]


def _write_outputs(args, X, model, summary, names, centers=None, missing=None,
                   data=None):
    """All requested files, committed together; ``data``: the Input, for
    its kept columns."""
    outputs = _Outputs()
    if centers is None:
        centers = model.cluster_centers_
    try:
        if args.labels:
            _add_labels(outputs, args.labels, model.labels_, missing, data)
            summary["outputs"]["labels"] = args.labels
        if args.centers:
            outputs.array(args.centers, centers, summary["columns"])
            summary["outputs"]["centers"] = args.centers
        if args.plot:
            outputs.figure(args.plot, _figure(X, model, summary, names))
            summary["outputs"]["plot"] = args.plot
        outputs.commit()
    except BaseException:
        outputs.discard()
        raise


def _add_labels(outputs, path, labels, missing=None, data=None):
    """The labels file: a table with the kept cells or (but in .npy) the
    empty labels of dropped rows, else an array (NaN for a dropped row)."""
    keep = None if data is None else data.keep
    dropped = missing is not None and missing.any()
    if keep is not None or (dropped and split_suffix(path)[0] != ".npy"):
        head = [] if keep is None else [
            n if isinstance(n, str) else f"column{n}" for n in data.keep_names
        ]
        if missing is None:
            missing = np.zeros(len(labels), dtype=bool)
        outputs.table(path, head + ["label"], _label_rows(labels, missing, keep))
    elif missing is not None:  # --drop-missing to .npy: NaN for a dropped row
        full = np.full(len(missing), np.nan)
        full[~missing] = labels
        outputs.array(path, full, ["label"])
    else:
        outputs.array(path, labels.astype(np.int64), ["label"])


def _figure(X, model, summary, names):
    """The --plot picture: the points as clustered, the axes named after
    the file's columns."""
    from ._plot import plot

    scaled = summary.get("scale") not in (None, "none")
    ax = plot(
        X,
        model.labels_,
        model.cluster_centers_,
        bandwidth=summary["bandwidth"],
        title=f"mean shift: {summary['n_clusters']} clusters, "
        f"bandwidth {_fmt(summary['bandwidth'])}",
    )
    if names and X.shape[1] <= 2:  # the file's column names
        tag = f" ({summary['scale']}-scaled)" if scaled else ""
        ax.set_xlabel(names[0] + tag)
        if X.shape[1] == 2:
            ax.set_ylabel(names[1] + tag)
    return ax.figure


def _emit(args, summary):
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(summary_table(summary))


def cmd_cluster(args):
    _check_output("--labels", args.labels)
    _check_output("--centers", args.centers)
    _check_plot(args.plot)
    _check_distinct(
        None if args.input == "-" else args.input,
        [("--labels", args.labels), ("--centers", args.centers), ("--plot", args.plot)],
    )
    _check_algorithm(args)
    if args.keep:
        if not args.labels:
            raise CLIError("--keep: the kept columns go into the labels file: give --labels")
        if split_suffix(args.labels)[0] == ".npy":
            raise CLIError(
                f"--keep: {args.labels}: kept columns may be text: write the labels "
                "as .csv or .tsv"
            )
    data = load_input(
        args.input, args.columns, args.weights, args.header, args.keep, args.drop_missing,
        args.n_jobs, args.delimiter,
    )
    n_read = len(data.X)
    missing = None
    if args.drop_missing:
        data, missing = drop_missing_rows(data)
    model, summary, X_fit, centers = run_clustering(
        data.X, args, data.source, data.names, data.weights, data.weights_column
    )
    summary["n_rows_read"] = int(n_read)
    summary["n_dropped"] = 0 if missing is None else int(missing.sum())
    _write_outputs(args, X_fit, model, summary, data.names, centers, missing, data)
    if data.header_detected is not None:
        # a note, not an error (and only on success, so that an error stays
        # one line): --header or --no-header says it and silences it
        line = data.header_detected
        if len(line) > 100:
            line = line[:97] + "..."
        print(f"{_PROG}: first line taken as a header: {line}", file=sys.stderr)
        sys.stderr.flush()
    _emit(args, summary)


def demo_data(n_samples=20_000, random_state=0):
    """The demo's data: five groups of points in the plane, of different
    sizes, spreads and shapes, from a fixed seed."""
    rng = np.random.default_rng(random_state)
    means = np.array([[0.0, 0.0], [5.0, 5.0], [-4.0, 6.0], [6.0, -3.0], [-5.0, -4.0]])
    shares = np.array([0.3, 0.25, 0.2, 0.15, 0.1])
    cov = [
        [[1.0, 0.0], [0.0, 1.0]],
        [[1.2, 0.6], [0.6, 0.8]],
        [[0.5, 0.0], [0.0, 1.5]],
        [[0.7, -0.3], [-0.3, 0.7]],
        [[0.9, 0.0], [0.0, 0.4]],
    ]
    counts = np.floor(shares * n_samples).astype(int)
    counts[0] += n_samples - counts.sum()
    parts = [rng.multivariate_normal(m, c, size=k)
             for m, c, k in zip(means, cov, counts, strict=True)]
    X = np.concatenate(parts)
    return X[rng.permutation(len(X))]


_DEMO_PLOT = "meanshift-demo.png"


def _check_algorithm(args):
    if args.algorithm != "grid":
        return
    for option, given in (("--bin-seeding", args.bin_seeding),
                          ("--min-bin-freq", getattr(args, "min_bin_freq", 1) != 1)):
        if given:
            raise CLIError(f"{option}: does not apply to --algorithm grid, which seeds "
                           "from every occupied cell")


def cmd_demo(args):
    # the picture is drawn when it can be: without matplotlib (the plain
    # install) the demo still clusters, and says how to get the picture
    no_picture = args.plot is None and not _have_matplotlib()
    if args.plot is None and not no_picture:
        args.plot = _DEMO_PLOT
    _check_plot(args.plot)
    _check_algorithm(args)
    X = demo_data(args.points)
    model, summary, X_fit, centers = run_clustering(
        X, args, "the built-in demo data (5 groups)", None
    )
    args.labels = args.centers = None
    _write_outputs(args, X_fit, model, summary, None, centers)
    _emit(args, summary)
    if no_picture:
        sys.stdout.flush()  # after the summary, also when both go to one file
        print(
            f"{_PROG}: no picture drawn: matplotlib is not installed "
            f"({INSTALL_MATPLOTLIB} draws {_DEMO_PLOT})",
            file=sys.stderr,
        )


def _float(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None


def _positive_float(text):
    value = _float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _quantile(text):
    value = _float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text!r}")
    return value


def _int_at_least(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    return parse


def _n_jobs(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("must not be 0 (-1: all cores)")
    return value


_DELIMITER_NAMES = {
    "comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|", "colon": ":", "space": " ",
}


def _delimiter(text):
    value = _DELIMITER_NAMES.get(text.strip().lower(), text)
    if value == "\\t":  # typed as backslash t
        value = "\t"
    if len(value) != 1:
        raise argparse.ArgumentTypeError(
            f"must be one character or one of {', '.join(_DELIMITER_NAMES)}, got {text!r}"
        )
    if value in '"\r\n.+-' or value.isalnum():
        raise argparse.ArgumentTypeError(
            f"{text!r} cannot separate fields: it is part of numbers, quotes or line ends"
        )
    return value


def _n_samples(text):
    if text.strip().lower() == "all":
        return "all"
    return _int_at_least(1)(text)


class _ColumnList(argparse.Action):
    """--columns / --keep: names or numbers, space- or comma-separated; a
    repeated option adds to the list.  Records which list option came last,
    as it may have taken INPUT (see _input_from_list)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, (getattr(namespace, self.dest) or []) + list(values))
        namespace.last_list = (self.dest, option_string)


def _looks_like_input(value):
    if value == "-" or os.path.isfile(value):
        return True
    suffix, _ = split_suffix(value)
    return suffix in (".csv", ".tsv", ".npy")


def _input_from_list(parser, args):
    """``--columns a b data.csv``: the list took INPUT; give it back."""
    if getattr(args, "command", None) != "cluster" or args.input is not None:
        return
    last = getattr(args, "last_list", None)
    order = [last[0]] if last else []
    order += [d for d in ("columns", "keep") if d not in order]
    for dest in order:
        values = getattr(args, dest, None)
        if values and _looks_like_input(values[-1]):
            args.input = values.pop()
            if not values:
                parser.error(
                    f"argument --{dest}: expected at least one column before {args.input}"
                )
            return
    parser.error("the following arguments are required: INPUT")


def _add_fit_options(p, demo=False):
    bw = p.add_mutually_exclusive_group()
    bw.add_argument(
        "--bandwidth", type=_positive_float, help="kernel bandwidth (default: estimated)"
    )
    bw.add_argument(
        "--quantile",
        type=_quantile,
        default=0.2 if demo else 0.3,
        help="quantile of the pairwise distances that estimates the bandwidth "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--n-samples",
        type=_n_samples,
        default=1000 if demo else None,
        help="points sampled (fixed seed) to estimate the bandwidth, or 'all' (default: "
        + ("%(default)s)" if demo else f"all up to {_ESTIMATE_SAMPLE:,} rows, else "
           f"{_ESTIMATE_SAMPLE:,}: the estimate is quadratic in it)"),
    )
    p.add_argument("--bin-seeding", action="store_true", help="seed from a grid of cells")
    p.add_argument(
        "--algorithm",
        choices=list(ALGORITHMS),
        default="exact",
        help="exact: mean shift as scikit-learn defines it; grid: an APPROXIMATION, "
        "every point a seed at about the cost of --bin-seeding: one seed per "
        "occupied cell of side bandwidth / --grid-resolution, and each row takes "
        "its cell's cluster (default: exact)",
    )
    p.add_argument(
        "--grid-resolution",
        type=_positive_float,
        default=3.0,
        metavar="K",
        help="with --algorithm grid: cells per bandwidth; larger is closer to exact "
        "and slower (default: %(default)s)",
    )
    p.add_argument(
        "--min-bin-freq",
        type=_int_at_least(1),
        default=1,
        help="points a grid cell needs to be a seed with --bin-seeding (default: 1; "
             "--algorithm grid seeds from every occupied cell and refuses it)",
    )
    p.add_argument(
        "--no-cluster-all",
        dest="cluster_all",
        action="store_false",
        help="label points farther than bandwidth from every center -1",
    )
    p.add_argument(
        "--max-iter", type=_int_at_least(0), default=300, help="iterations per seed (default: 300)"
    )
    p.add_argument(
        "--n-jobs",
        type=_n_jobs,
        default=None,
        help="threads (default: all usable cores; -1 all, -2 all but one)",
    )
    p.add_argument(
        "--plot",
        metavar="FILE.png",
        default=None,
        help="draw the clustering (needs matplotlib"
        + (f"; default: {_DEMO_PLOT} when it is installed)" if demo else ")"),
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    prog = p.add_mutually_exclusive_group()
    prog.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="show progress on stderr (default: when stderr is a terminal)",
    )
    prog.add_argument(
        "--no-progress", dest="progress", action="store_false", help="never show progress"
    )


_DEBUG_ENV = "MEANSHIFT_DEBUG"
_EPILOG = (
    "An error prints one line on stderr and exits with status 1 (2: a command "
    f"line that cannot be parsed). {_DEBUG_ENV}=1 in the environment shows its "
    "traceback instead, for a bug report."
)


def build_parser():
    parser = _Parser(
        prog=_PROG,
        description="Mean shift clustering (scikit-learn's algorithm, compiled and "
        "multithreaded).",
        epilog=_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    _add_demo_command(sub)
    _add_cluster_command(sub)
    parser.commands = sub.choices  # each command's parser, by name
    return parser


def _add_demo_command(sub):
    """meanshift demo: the fit options and --points."""
    demo = sub.add_parser(
        "demo", epilog=_EPILOG, help="cluster built-in demo data and draw it",
        description="Cluster 20,000 generated points in 5 groups, print the summary "
        "and draw the picture.",
    )
    _add_fit_options(demo, demo=True)
    demo.add_argument(
        "--points", type=_int_at_least(10), default=20_000,
        help="number of demo points (default: %(default)s)",
    )
    demo.set_defaults(
        func=cmd_demo, columns=None, kernel="flat", label_by="nearest", scale=None
    )


def _add_cluster_command(sub):
    """meanshift cluster INPUT: how to read it, what to write, the fit."""
    cluster = sub.add_parser(
        "cluster", epilog=_EPILOG, help="cluster the rows of a .npy, .csv or .tsv file",
        description="Cluster the rows of INPUT: .npy, .csv or .tsv (a header line "
        "is detected unless --header or --no-header says; .gz compressed files too), "
        "or '-' for CSV on standard input.",
    )
    _add_input_options(cluster)
    _add_cluster_options(cluster)
    _add_fit_options(cluster)
    cluster.set_defaults(func=cmd_cluster, last_list=None)


def _add_input_options(cluster):
    """INPUT and how to read it: the columns, the header, the delimiter,
    missing cells."""
    # optional for argparse only: INPUT may also come after --columns or
    # --keep, whose lists would take it (see _input_from_list)
    cluster.add_argument(
        "input", metavar="INPUT", nargs="?",
        help="the data (.npy, .csv, .tsv, optionally .gz; '-': CSV on standard input); "
        "required, before or after the options",
    )
    cluster.add_argument(
        "--columns",
        nargs="+",
        action=_ColumnList,
        metavar="C",
        help="columns to use, by header name or 0-based number, space- or "
        "comma-separated (default: all but the --weights and --keep columns)",
    )
    cluster.add_argument(
        "--keep",
        nargs="+",
        action=_ColumnList,
        metavar="C",
        help="columns (names or 0-based numbers, as --columns; an id, text too) "
        "copied into the --labels file (.csv or .tsv) before the label",
    )
    head = cluster.add_mutually_exclusive_group()
    head.add_argument(
        "--header", dest="header", action="store_true", default=None,
        help="the first line of a CSV/TSV is a header (default: detected: a first "
        "line with a field that is not a number is taken as a header, with a note "
        "on stderr)",
    )
    head.add_argument(
        "--no-header", dest="header", action="store_false",
        help="the first line of a CSV/TSV is data",
    )
    cluster.add_argument(
        "--delimiter", type=_delimiter, metavar="CHAR", default=None,
        help="the character between the fields of a CSV/TSV, or one of "
        + ", ".join(_DELIMITER_NAMES)
        + " (default: a comma for .csv, a tab for .tsv; on standard input a tab "
        "when the first line has one and no comma)",
    )
    cluster.add_argument(
        "--drop-missing", action="store_true",
        help="drop rows with a missing cell (empty, NA, N/A or NaN, in any case) in "
        "a column used (features, weights); the summary counts them and --labels "
        "gives them an empty label (NaN in .npy). An infinite value (inf, 1e400) "
        "is not missing: it stays an error",
    )


def _add_cluster_options(cluster):
    """What to cluster (scaled, weighted), how, and the files to write."""
    cluster.add_argument(
        "--scale", choices=("standard", "robust", "none"), default=None,
        help="scale each feature before clustering: standard (mean 0, std 1), "
        "robust (median 0, interquartile range 1) or none (default); the bandwidth "
        "is then in scaled units, the centers are reported in the original units",
    )
    cluster.add_argument(
        "--weights",
        metavar="C",
        help="the column (header name or 0-based number) holding each row's sample "
        "weight: finite, at least 0, not all 0; it is not a feature. A row of "
        "weight w counts as w rows in the means and the bandwidth estimate; "
        "cluster sizes still count rows",
    )
    cluster.add_argument(
        "--kernel",
        choices=KERNELS,
        default="flat",
        help="weight of a point at distance r: flat 1 for r <= bandwidth "
        "(scikit-learn's); epanechnikov 1 - (r/bandwidth)^2 for r <= bandwidth; "
        "gaussian exp(-r^2 / (2 bandwidth^2)) for r <= 3 bandwidth (default: flat)",
    )
    cluster.add_argument(
        "--label-by",
        choices=list(LABEL_BY),
        default="nearest",
        help="nearest: each row takes the nearest center (scikit-learn's); "
        "attractor: the cluster its own climb ends in (default: nearest)",
    )
    cluster.add_argument(
        "--labels", metavar="OUT", help="write the label of every row (.csv, .tsv or .npy)"
    )
    cluster.add_argument(
        "--centers", metavar="OUT", help="write the cluster centers (.csv, .tsv or .npy)"
    )


def _debug():
    """MEANSHIFT_DEBUG set (and not 0): errors raise, with their traceback."""
    return os.environ.get(_DEBUG_ENV, "").strip() not in ("", "0")


def _error_line(e):
    """One line for an exception no other handler words: its message, with
    its type where the message alone is unclear (empty, or from an
    unexpected kind of error), and how to see the traceback."""
    msg = " ".join(str(e).split())
    if isinstance(e, MemoryError):
        return f"out of memory{': ' + msg if msg else ''}"
    if isinstance(e, (ValueError, TypeError)) and msg:
        # what the library raises on data it cannot cluster
        return msg
    return (
        f"{type(e).__name__}{': ' + msg if msg else ''} (an unexpected error: "
        f"{_DEBUG_ENV}=1 shows its traceback)"
    )


def main(argv=None):
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    command = parser.commands[args.command]  # its usage errors name its help
    if extras:
        _unrecognized(command, extras)
    _input_from_list(command, args)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                args.func(args)
            finally:
                for w in caught:  # one line each, like the errors
                    msg = " ".join(str(w.message).split())
                    print(f"{_PROG}: warning: {msg}", file=sys.stderr)
    except KeyboardInterrupt:
        # on a terminal, over the progress line
        clear = "\r\x1b[K" if sys.stderr.isatty() else ""
        print(f"{clear}{_PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into head
        return 1
    except Exception as e:
        if _debug():
            raise
        if isinstance(e, InputError):  # CLIError too
            line = str(e)
        elif isinstance(e, OSError):
            where = f"{e.filename}: " if e.filename else ""
            line = f"{where}{e.strerror or e}"
        else:
            line = _error_line(e)
        print(f"{_PROG}: error: {line}", file=sys.stderr)
        return 1
    return 0
