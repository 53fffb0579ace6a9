"""The numerical work of a fit, free of scikit-learn.

What the kernels are called with and how (dtypes, threads, trees, the
fit's plan, the climbs, the labels of climbs' ends, the merge of
centers), shared by :mod:`meanshift._api` (the estimator, on
scikit-learn's base classes) and by :mod:`meanshift.dask`.  A Dask worker
runs a fit's tasks with :mod:`meanshift._dask_tasks`, this module,
:mod:`meanshift._grid` and the compiled kernels alone: it never imports
scikit-learn, which would add about 115 MiB and a second to each worker
process.
"""

import math
import sys
import warnings

import numpy as np

from . import _bins, _core, _merge, _tree
from ._progress import in_batches
from ._threads import _threads_for

_FLOAT_DTYPES = [np.float64, np.float32]


def _as_float(X, input_name="X"):
    """The dtype the kernels run in: float32 and float64 stay as they are
    (in native byte order, aligned: a misaligned view is copied), every
    other numeric dtype becomes float64 (float16 becomes float32).  Values
    a wider float holds beyond float64's range are refused, as
    scikit-learn refuses infinity, and so is None in an object array
    (which check_array lets through as NaN)."""
    if X.dtype in _FLOAT_DTYPES:
        return X if X.flags.aligned else X.copy()
    if X.dtype.kind == "f" and X.dtype.itemsize in (4, 8):  # other byte order
        return X.astype(X.dtype.newbyteorder("="))
    with np.errstate(over="ignore"):  # refused below
        out = X.astype(np.float32 if X.dtype == np.float16 else np.float64)
    if X.dtype.kind in "fO" and X.dtype.itemsize != 2 and not np.isfinite(out).all():
        what = ("NaN" if np.isnan(out).any()
                else "infinity or a value too large for dtype('float64')")
        raise ValueError(f"Input {input_name} contains {what}.")
    return out


def _build_tree(X, leaf_size, n_threads, weights=None, moments=False, full=True,
                columns=False):
    """The tree over X; ``full=False``: only what climbs use (no index,
    and no balls where boxes bound the nodes), less memory; ``columns``:
    also its leaves stored by coordinate (see _leaf_columns)."""
    work = 100 * X.shape[0] * X.shape[1] * (X.shape[1] if moments else 1)
    return _tree.build_tree(
        X,
        leaf_size=leaf_size,
        n_threads=_threads_for(n_threads, work),
        weights=weights,
        moments=moments,
        index=full,
        balls=full,
        leaf_columns=columns,
    )


def _leaf_columns(n_features, kernel):
    """Whether a climb's tree keeps a second copy of its rows, leaf by leaf
    stored by coordinate, for the flat kernel's vectorised leaf scans: 3 to
    8 columns (_tree.LEAF_COLUMNS), with or without weights (273k x 5 image segmentation: 2.3x
    fewer instructions per climb).  1 and 2 columns keep none: their scans
    read the rows themselves, four at a time, so 2-D fits hold one copy of
    the data; past 8 the leaves are scanned row by row.  The same rule for a fit's tree and
    for meanshift.dask's chunk trees."""
    low, high = _tree.LEAF_COLUMNS
    return kernel == "flat" and low <= n_features <= high


def _climb_tree(X, weights, kernel, n_threads, full=False):
    """The tree the climbs run on (a fit's, and meanshift.dask's over each
    chunk): with the weights, the moments the Epanechnikov kernel takes
    whole nodes through, the leaf columns of the flat kernel's scans;
    ``full``: also what the bandwidth estimate searches it with."""
    columns = _leaf_columns(X.shape[1], kernel)
    return _build_tree(
        X,
        _leaf_size(*X.shape, scanned=kernel == "flat" and (columns or X.shape[1] <= 2)),
        n_threads,
        weights,
        moments=kernel == "epanechnikov",
        full=full,
        columns=columns,
    )


def _assign(X, centers, bandwidth, cluster_all, n_threads):
    work = X.shape[0] * X.shape[1] * max(len(centers), 1)
    return _merge.assign(
        X,
        centers,
        bandwidth=bandwidth,
        cluster_all=cluster_all,
        n_threads=_threads_for(n_threads, work),
    )


def _range_exponent(*arrays, bandwidth=None, amax=None):
    """k such that the problem scaled by ``2**k`` (``np.ldexp``) keeps its
    squared distances and squared bandwidth within float64's range; 0 when
    it already does.

    When coordinates or the bandwidth are above 2**500 (their squares would
    overflow), they are brought below 1, but the coordinates no lower than
    2**-500.  Then, when the bandwidth (or, without one, the data's
    magnitude, which an estimated bandwidth follows) is below 2**-500 (its
    square would underflow: distances near it could not be told apart,
    subnormal data among them), it is brought up towards 1 as far as the
    coordinates allow without passing 2**500.  Scaling by a power of two is
    exact, so the scaled problem takes every decision the unscaled
    arithmetic would take if it had the exponent range, and the centers
    scale back exactly.  Only float64 arrays count: float32 coordinates
    cannot get there, and with them an infinite squared bandwidth takes
    every point, as it should.  ``amax``: the largest magnitude of the
    float64 arrays, where the caller has it (_validated).
    """
    if amax is None:
        amax = 0.0
        for a in arrays:
            if a is not None and a.dtype == np.float64 and a.size:
                amax = max(amax, float(a.max()), -float(a.min()))  # no temporary
    if amax == 0.0:
        return 0
    if bandwidth is not None:
        bandwidth = float(bandwidth)  # a float32 bandwidth compares as float
    big = amax if bandwidth is None else max(amax, bandwidth)
    k = 0
    if big > 2.0**500:
        k = max(-math.frexp(big)[1], min(0, -500 - math.frexp(amax)[1]))
    small = math.ldexp(amax if bandwidth is None else bandwidth, k)
    if 0.0 < small < 2.0**-500:
        up = min(-math.frexp(small)[1], 500 - math.frexp(math.ldexp(amax, k))[1])
        k += max(up, 0)
    return k


def _unscale(x, k):
    """x * 2**k back in the caller's units: inf where that overflows."""
    try:
        return math.ldexp(x, k)
    except OverflowError:
        return math.inf


def _shown(x):
    """A bandwidth in a message: as scikit-learn's ``%f`` where that shows
    its digits (0.1 to 1e15), else in six significant digits (never
    ``0.000000`` for a tiny one)."""
    # %-formatting as scikit-learn's messages; it takes any real through float()
    return "%f" % x if 0.1 <= x < 1e15 else "%.6g" % x  # noqa: UP031


def _ldexp(x, k):
    """x * 2**k for a positive x, exact where it is representable, else the
    largest float (a bandwidth far beyond the data's extent) or the
    smallest (far below its resolution)."""
    try:
        return max(math.ldexp(x, k), 5e-324)
    except OverflowError:
        return sys.float_info.max


# From this many points on, leaves hold 32 points rather than 16.
_BIG_LEAF_N = 2**18


def _leaf_size(n_samples, n_features, scanned=False):
    """Points per leaf of the tree.

    Up to 16 features: 16 (callgrind on 2-D to 8-D blobs: fewer instructions
    per query than 8 or 32), and 32 from _BIG_LEAF_N points on, where the
    per-node arrays are large: half as many nodes to build and hold, for
    queries that cost about the same (1M x 2 bin seeding: 0.16-0.18 s
    against 0.18-0.19 s a fit; 273k x 5 climbs within 1%).  Above 16
    features, bounds hardly ever prune and one leaf holding every point, a
    vectorised brute-force scan, is faster (digits, 64-D: 0.36 s against
    0.46 s with 32-point leaves).  Leaves the flat kernel scans four
    points at a time (``scanned``: by coordinate in 3 to 8 columns, over
    the rows in 1 and 2) are best larger: 64 up to 3-D, 128 above
    (callgrind, climbs of bin seeding on 100k to 300k points, 3-D to 8-D,
    in instructions: 3-D 64 within 5% of 32 and 128; 5-D 128 1.34x fewer
    than 32; 8-D 128 1.26x fewer than 32; every point a seed, 20k x 2
    blobs, one thread: 0.96 s with 16, 0.70 with 32, 0.60 with 64, 0.61
    with 128; 1-D 0.15 / 0.13 / 0.10 / 0.095 s; 1M x 2 bin seeding within
    1% from 32 to 128).
    """
    if n_features > 16:
        return max(1, n_samples)
    if scanned:
        return 64 if n_features <= 3 else 128
    return 32 if n_samples >= _BIG_LEAF_N else 16


def _bin_cells(X, bin_size, n_threads, weights=None, float16=False):
    """The grid cells of the rows of X (a float array) and their counts
    (or weights): round(x / bin_size) where x / bin_size is computed as
    numpy computes it for X's dtype, so the cells are scikit-learn's to the
    bit.  float32 data is divided by a Python float in float32, by a
    float64 scalar in float64; with ``float16`` (X holds float16 values,
    as float32 or float16) in float16 as numpy divides float16 data, by
    numpy itself, and the quotients are binned."""
    if float16:
        with np.errstate(all="ignore"):  # overflow to inf: a cell as numpy's
            X = X.astype(np.float16) / bin_size
        X = X.astype(np.float32) if X.dtype == np.float16 else X
        bin_size = 1.0  # rint(q / 1.0) is rint(q)
    f32_division = (
        X.dtype == np.float32
        and (np.zeros(1, dtype=np.float32) / bin_size).dtype == np.float32
    )
    return _bins.bin_cells(
        X,
        bin_size=float(bin_size),
        f32_division=f32_division,
        n_threads=_threads_for(n_threads, 8 * X.shape[0] * X.shape[1]),
        weights=weights,
    )


# ---------------------------------------------------------------------------
# What both drivers share: the plan of a fit, its climbs and its finishing
# ---------------------------------------------------------------------------


def _as_f64(a):
    return np.ascontiguousarray(a, dtype=np.float64)


class _FitPlan:
    """What a fit settles before it climbs, and how its results go back to
    the caller's units: one plan for MeanShift.fit and for
    meanshift.dask.MeanShift.fit, whose drivers differ only in where the
    sums are computed.

    ``kernel`` (its name) and ``code`` (for the kernels); ``dtype``, the
    work dtype (of the data the kernels read, and of the centers);
    ``float16``: the centers go back as float16 (as scikit-learn keeps
    them); ``k``: X is scaled by 2**k (_range_exponent); ``wexp``: the
    weights by 2**wexp (meanshift._weights); ``bandwidth`` and
    ``stop_thresh``, scaled, as floats; ``bin_size``, the bandwidth scaled
    in its own type (numpy's promotion rules decide the bin seeds'
    division); ``max_iter``."""

    def __init__(self, in_dtype, dtype, kernel="flat", max_iter=300):
        self.kernel = kernel
        self.code = _core.KERNELS[kernel]
        self.float16 = np.dtype(in_dtype) == np.float16
        self.dtype = np.dtype(dtype)
        self.k = 0
        self.wexp = 0
        self.bandwidth = self.stop_thresh = self.bin_size = None
        self.max_iter = min(max_iter, 2**62)

    @staticmethod
    def checked_seeds(seeds, n_features):
        """Given seeds as the kernels take them, or None."""
        if seeds is None:
            return None
        from sklearn.utils import check_array  # the client's side only

        seeds = _as_float(check_array(seeds, input_name="seeds"), "seeds")
        if seeds.shape[1] != n_features:
            raise ValueError(
                f"seeds has {seeds.shape[1]} features, but X has {n_features} "
                "features: they must match."
            )
        return seeds

    def scale_by(self, k):
        self.k = k

    def scaled(self, a):
        """a (X, seeds, centers) times 2**k, exact; itself when k = 0."""
        if a is None or not self.k:
            return a
        return np.ldexp(a.astype(np.float64, copy=False), self.k)

    def given(self, bandwidth):
        """A given bandwidth: scikit-learn's stop threshold is 1e-3 times it
        in its own type (numpy's promotion rules); both scaled as X."""
        thresh = float(1e-3 * bandwidth)
        self.bin_size = _ldexp(bandwidth, self.k) if self.k else bandwidth
        self.stop_thresh = _ldexp(thresh, self.k) if self.k else thresh
        self.bandwidth = float(self.bin_size)

    def estimated(self, bandwidth):
        """A bandwidth estimated on the scaled data."""
        if self.kernel == "gaussian":
            warnings.warn(
                "bandwidth=None estimates the radius of the flat kernel "
                "(estimate_bandwidth); the Gaussian kernel reaches 3 "
                "bandwidths, so with that estimate every point usually "
                "reaches most of the data: one cluster, slowly. Give the "
                "Gaussian's bandwidth (e.g. estimate_bandwidth(X) / 3).",
                UserWarning,
                stacklevel=3,
            )
        self.bin_size = bandwidth
        self.stop_thresh = float(1e-3 * bandwidth)
        self.bandwidth = float(bandwidth)

    @property
    def shown_bandwidth(self):
        """The bandwidth in the caller's units (inf where that overflows)."""
        return float(_unscale(self.bandwidth, -self.k))

    def check_bin_seeds(self, seeds, min_bin_freq, weighted):
        """The two ways bin seeding fails; seeds None (binning failed, the
        points are the seeds after scikit-learn's warning) is not one."""
        if seeds is None:
            return
        shown = self.shown_bandwidth
        if len(seeds) == 0:
            what = "of weight (its points' sample_weight summed)" if weighted else "points"
            raise ValueError(
                f"No bin holds min_bin_freq={min_bin_freq} {what} with "
                f"bin_size={shown!r}: lower min_bin_freq or increase the "
                "bandwidth."
            )
        if not np.isfinite(seeds).all():
            raise ValueError(
                f"Bin seeding failed: with bin_size={shown!r} the grid cells "
                "of X lie beyond the range of float32, in which bin seeds are "
                "held. Use bin_seeding=False."
            )

    def no_point_error(self):
        return ValueError(
            f"No point was within bandwidth={_shown(self.shown_bandwidth)} of "
            "any seed. Try a different seeding strategy or increase the "
            "bandwidth."
        )

    def centers_out(self, centers):
        """The kept centers in the caller's units and dtype."""
        if self.k:
            centers = np.ldexp(centers, -self.k).astype(self.dtype, copy=False)
        if self.float16:  # scikit-learn's centers keep float16
            centers = centers.astype(np.float16)
        return centers


# seeds from which a climb takes them in Morton order (_Climber)
_COHERENT_MIN = 4096


class _Climber:
    """Climbs of many positions on one tree with a plan's kernel,
    bandwidth and stopping rule, in batches (see :mod:`meanshift._progress`):
    Ctrl-C between two batches raises KeyboardInterrupt, ``report`` sees
    progress."""

    def __init__(self, tree, plan, n_threads, report):
        self.tree = tree
        self.plan = plan
        self.n_threads = n_threads
        self.report = report

    def __call__(self, seeds, stage="climb"):
        """Per seed: the final mean (dtype of the data), its intensity
        (0: no weight in reach, the seed is to be dropped) and the number
        of iterations."""
        tree, plan = self.tree, self.plan
        out = None
        order = None
        if len(seeds) >= _COHERENT_MIN and seeds.shape[1] <= 2:
            # climbed in Morton order (neighbours one after another: the
            # same nodes and leaves stay in cache), results put back in
            # the seeds' order: each climb is the same whatever the order
            order = _tree.morton_order(seeds)
            seeds = seeds[order]

        def run(start, seconds, threads):
            nonlocal out
            *out, stop = _core.climb(
                tree,
                seeds,
                bandwidth=plan.bandwidth,
                max_iter=plan.max_iter,
                n_threads=threads,
                start=start,
                seconds=seconds,
                out=out,
                kernel=plan.code,
                stop_thresh=plan.stop_thresh,
            )
            return stop

        in_batches(len(seeds), run, self.n_threads, self.report, stage)
        if out is None:  # no seeds
            dtype = tree.data.dtype
            d = tree.data.shape[1]
            return np.zeros((0, d), dtype), np.zeros(0), np.zeros(0, np.intp)
        if order is not None:
            for a in out:
                a[order] = a.copy()
        return tuple(out)


def _follow(climb, X, rows, centers, ends_table, n_threads):
    """Labels of the points ``X[rows]`` by where their own climbs end (see
    _labels_of_ends), or by the point itself when it had no weight in
    reach."""
    points = X[rows]
    ends, totals, _ = climb(points, stage="labels")
    lost = totals <= 0
    ends[lost] = points[lost]
    return _labels_of_ends(ends, centers, ends_table, n_threads, lost)


def _basin_labels(X, known, rows, ends, totals, centers64, ends_table, bandwidth,
                  cluster_all, n_threads, points=None):
    """Labels of the rows of X by basin of attraction (label_by="attractor",
    one machine's X or a chunk): ``known`` (rows, clusters) of the points
    that were converged seeds, or None; ``rows`` of the others, whose own
    climbs ended at ``ends`` with intensities ``totals`` (``points``:
    ``X[rows]``, where the caller has it), labelled by their ends
    (_labels_of_ends; a climb that found no weight, by its point); with
    ``cluster_all=False``, the points beyond ``bandwidth`` of every center
    get -1."""
    labels = np.empty(len(X), dtype=np.intp)
    if known is not None:
        labels[known[0]] = known[1]
    if rows is not None and len(rows):
        lost = totals <= 0
        ends[lost] = (X[rows] if points is None else points)[lost]
        labels[rows] = _labels_of_ends(ends, centers64, ends_table, n_threads, lost)
    if not cluster_all:
        orphans, _ = _assign(X, centers64, bandwidth, False, n_threads)
        labels[orphans < 0] = -1
    return labels


def _rows_as_keys(a):
    """The rows of a 2-D float array as single opaque values that are equal
    exactly when the rows are equal (==, coordinate by coordinate: -0.0 is
    made 0.0), for sorting and searching."""
    a = np.ascontiguousarray(a) + a.dtype.type(0.0)
    return a.view(np.dtype((np.void, a.dtype.itemsize * a.shape[1]))).reshape(-1)


def _end_table(centers, clusters):
    """Where the converged seeds' climbs ended (data dtype) and the cluster
    of each: the distinct ends, sorted as keys, and their clusters.  Seeds
    that end at the same point have the same rank, so the same cluster."""
    if centers.shape[1] == 0:
        return None
    keys, first = np.unique(_rows_as_keys(centers), return_index=True)
    return keys, np.asarray(clusters)[first]


def _labels_of_ends(ends, centers, ends_table, n_threads, lost=None):
    """Attractor labels of climbs that ended at ``ends``: a climb that ended
    exactly where a converged seed's climb ended takes that seed's cluster
    (the kept center, or the one that dropped it); any other takes the
    kept center nearest to its end.  ``lost`` marks climbs that found no
    weight (their ends are the points themselves): nearest center only."""
    labels, _ = _assign(ends, _as_f64(centers), np.inf, True, n_threads)
    if ends_table is not None and len(ends) and len(ends_table[0]):
        keys, clusters = ends_table
        if ends.dtype.itemsize * ends.shape[1] == keys.dtype.itemsize:
            at = _find_sorted(keys, _rows_as_keys(ends))
            hit = at >= 0
            if lost is not None:
                hit &= ~lost
            labels[hit] = clusters[at[hit]]
    return labels


def _find_sorted(sorted_keys, found):
    """For each of ``found``, its index in ``sorted_keys`` (-1 if absent);
    both opaque row keys (_rows_as_keys), ``sorted_keys`` sorted."""
    at = np.full(len(found), -1, dtype=np.intp)
    if len(sorted_keys) and len(found):
        i = np.minimum(np.searchsorted(sorted_keys, found), len(sorted_keys) - 1)
        hit = sorted_keys[i] == found
        at[hit] = i[hit]
    return at


def _merge_centers(centers, totals, bandwidth, n_threads):
    """scikit-learn's post-processing: rank the converged centers by
    intensity, drop those within bandwidth of a stronger one.  Returns the
    kept centers, strongest first, and for each converged seed the index
    of its cluster: the kept center it converged to, or the one that
    dropped its center."""
    rows, _, rank_of = _merge.dedupe_and_rank(_as_f64(centers), totals)
    ranked = centers[rows]
    rank_tree = _build_tree(ranked, 16, n_threads)
    keep, by = _merge.suppress(rank_tree, bandwidth=bandwidth)
    cluster_of_rank = np.cumsum(keep) - 1
    return ranked[keep], cluster_of_rank[by[rank_of]]
