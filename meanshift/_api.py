"""scikit-learn's mean shift API on the compiled kernel.

This layer validates every argument once, resolves the thread count and the
dtype, calls the numerical work of :mod:`meanshift._work` (the compiled
primitives of :mod:`meanshift._core` and its siblings) and shapes their
results.  It never loops over seeds, iterations or points in Python.
"""

import math
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _bandwidth, _grid, _values, _weights
from ._choices import ALGORITHMS, KERNELS, LABEL_BY
from ._fit import fit_stages
from ._progress import in_batches, reporter
from ._stages import mark
from ._threads import (
    _effective_n_threads,
    _threads_for,
)
from ._work import (
    _as_f64,
    _as_float,
    _assign,
    _basin_labels,
    _bin_cells,
    _build_tree,
    _climb_tree,
    _Climber,
    _FitPlan,
    _follow,
    _leaf_size,
    _range_exponent,
    _unscale,
)

__all__ = ["MeanShift", "estimate_bandwidth", "get_bin_seeds", "mean_shift"]


def _validated(estimator, X, n_threads, reset=True):
    """validate_data(estimator, X) with its finite check made in parallel.

    scikit-learn's check_array checks every value in one thread; here it
    checks the rest, and one parallel pass over the kernels' float copy
    (_values.finite_magnitude) checks the values and finds their largest
    magnitude.  Where anything is wrong, scikit-learn's own validation runs
    again in full and raises its own error, in its own order.  Returns
    (the validated X's dtype, X as _as_float makes it, the largest
    magnitude of a float64 X, else None: what _range_exponent needs)."""
    try:
        Xv = validate_data(estimator, X, reset=reset, ensure_all_finite=False)
        Xf = _as_float(Xv)
    except ValueError:
        validate_data(estimator, X, reset=reset)
        raise
    finite, amax = _values.finite_magnitude(
        Xf, n_threads=_threads_for(n_threads, Xf.size))
    if not finite:
        validate_data(estimator, X, reset=reset)
        raise AssertionError("a value scikit-learn found finite is not")  # pragma: no cover
    return Xv.dtype, Xf, (amax if Xf.dtype == np.float64 else None)


try:  # scikit-learn's own class, so that code catching it catches ours
    from sklearn.utils._param_validation import InvalidParameterError
except ImportError:  # pragma: no cover - a scikit-learn that moved it

    class InvalidParameterError(ValueError, TypeError):
        """A parameter has a wrong type or value (a ValueError and a
        TypeError, as scikit-learn's exception of the same name)."""


# ---------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value):
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))


def _check_int(owner, name, value, low, allow_none=False):
    if value is None and allow_none:
        return
    if not _is_int(value) or value < low:
        extra = " or None" if allow_none else ""
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an int in the range "
            f"[{low}, inf){extra}. Got {value!r} instead."
        )


def _check_bool(owner, name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an instance of 'bool'. "
            f"Got {value!r} instead."
        )


def _check_n_jobs(owner, n_jobs):
    if n_jobs is not None and not _is_int(n_jobs):
        raise InvalidParameterError(
            f"The 'n_jobs' parameter of {owner} must be an int or None. "
            f"Got {n_jobs!r} instead."
        )
    if n_jobs == 0:
        raise ValueError(
            f"The 'n_jobs' parameter of {owner} must not be 0: use None or -1 "
            "for all cores, or a positive number of threads."
        )


def _check_verbose(owner, verbose):
    if callable(verbose) or isinstance(verbose, (bool, np.bool_)):
        return
    if not _is_int(verbose) or verbose < 0:
        raise InvalidParameterError(
            f"The 'verbose' parameter of {owner} must be a bool, an int in the "
            f"range [0, inf) or a callable. Got {verbose!r} instead."
        )


def _check_positive(owner, name, value, allow_none=False):
    """value a real number in (0, inf) (or None where allowed)."""
    if value is None and allow_none:
        return
    try:
        as_float = float(value)
    except (TypeError, ValueError, OverflowError):  # e.g. 10**400
        as_float = np.nan
    if not _is_real(value) or not 0 < as_float < np.inf:  # and NaN
        extra = " or None" if allow_none else ""
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a float in the range "
            f"(0.0, inf){extra}. Got {value!r} instead."
        )


def _check_bandwidth(owner, bandwidth):
    _check_positive(owner, "bandwidth", bandwidth, allow_none=True)


def _check_choice(owner, name, value, choices):
    if not isinstance(value, str) or value not in choices:
        among = "{" + ", ".join(repr(c) for c in choices) + "}"
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a str among {among}. "
            f"Got {value!r} instead."
        )


def _check_weights(sample_weight, X):
    """sample_weight validated as scikit-learn validates it (one finite,
    non-negative value per row, not all zero): float64, or None."""
    if sample_weight is None:
        return None
    from sklearn.utils.validation import _check_sample_weight

    if isinstance(sample_weight, (bool, np.bool_)):
        raise ValueError(
            f"sample_weight must be an array or a number, got {sample_weight!r}."
        )
    w = _weights.check_values(_check_sample_weight(sample_weight, X, dtype=np.float64))
    _weights.check_some_positive(w)
    return w


# ---------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------


def estimate_bandwidth(
    X, *, quantile=0.3, n_samples=None, random_state=0, n_jobs=None, verbose=False
):
    """Estimate the bandwidth to use with the mean-shift algorithm.

    The mean, over the points, of the distance to their
    ``int(n * quantile)``-th nearest neighbour (the point itself counts as
    the first).  Same value as :func:`sklearn.cluster.estimate_bandwidth`
    for the same arguments: with ``n_samples``, the same subsample for the
    same ``random_state``.  The work is quadratic in the number of points
    used, on all cores; subsample large data with ``n_samples``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Input points.
    quantile : float, default=0.3
        Should be in [0, 1]; 0.5 means that the median of all pairwise
        distances is used.
    n_samples : int, default=None
        The number of samples to use. If not given, all samples are used.
    random_state : int, RandomState instance or None, default=0
        The generator used to randomly select the samples from input points
        for bandwidth estimation.
    n_jobs : int, default=None
        Number of threads. ``None`` means all usable cores (scikit-learn
        means 1), ``-1`` all cores, ``-2`` all but one, and so on.
    verbose : bool, int or callable, default=False
        Progress: True or a positive int for a status line on stderr, or a
        callable called as ``verbose("bandwidth", done, total, elapsed)``.
        Not a scikit-learn parameter.

    Returns
    -------
    bandwidth : numpy.float64
        The bandwidth parameter.

    Examples
    --------
    >>> import numpy as np
    >>> from meanshift import estimate_bandwidth
    >>> X = np.array([[1, 1], [2, 1], [1, 0],
    ...               [4, 7], [3, 5], [3, 6]])
    >>> float(estimate_bandwidth(X, quantile=0.5))
    1.61...
    """
    _check_estimate_args(quantile, n_samples, n_jobs, verbose)
    X = _as_float(check_array(X))
    return _scaled_estimate(X, None, quantile=quantile, n_samples=n_samples,
                            random_state=random_state, n_jobs=n_jobs, verbose=verbose)


def estimate_weighted_bandwidth(
    X, weights, *, quantile=0.3, n_samples=None, random_state=0, n_jobs=None, verbose=False
):
    """:func:`estimate_bandwidth` of X with each row repeated by its weight
    (for integer weights), as ``MeanShift.fit`` estimates it with
    ``sample_weight``; with ``n_samples``, on the rows estimate_bandwidth
    samples for the same ``random_state``.  ``weights``: one per row,
    finite, at least 0, the sampled ones not all 0.  The command line's
    estimate with --weights."""
    _check_estimate_args(quantile, n_samples, n_jobs, verbose)
    X = _as_float(check_array(X))
    weights = _check_weights(weights, X)
    if n_samples is not None:  # sampled before scaling, as the estimate is made
        idx = check_random_state(random_state).permutation(X.shape[0])[:n_samples]
        X, weights = X[idx], weights[idx]
        _weights.check_some_positive(weights)
    return _scaled_estimate(X, weights, quantile=quantile, n_samples=None,
                            random_state=random_state, n_jobs=n_jobs, verbose=verbose)


def _scaled_estimate(X, weights, *, quantile, n_samples, random_state, n_jobs, verbose):
    """_estimate_bandwidth of a checked X, computed on X scaled exactly
    into float64's range (_range_exponent), in the caller's units."""
    k = _range_exponent(X)
    if k:
        X = np.ldexp(X, k)
    bandwidth = _estimate_bandwidth(
        X,
        quantile=quantile,
        n_samples=n_samples,
        random_state=random_state,
        n_threads=_effective_n_threads(n_jobs),
        report=reporter(verbose),
        weights=weights,
    )
    return np.float64(_unscale(float(bandwidth), -k))


def _check_estimate_args(quantile, n_samples, n_jobs, verbose):
    """estimate_bandwidth's arguments, checked as scikit-learn checks them."""
    owner = "estimate_bandwidth"
    if not _is_real(quantile) or not 0 <= quantile <= 1:
        raise InvalidParameterError(
            f"The 'quantile' parameter of {owner} must be a float in the range "
            f"[0.0, 1.0]. Got {quantile!r} instead."
        )
    _check_int(owner, "n_samples", n_samples, 1, allow_none=True)
    _check_n_jobs(owner, n_jobs)
    _check_verbose(owner, verbose)


def _estimate_bandwidth(
    X,
    *,
    quantile,
    n_samples,
    random_state,
    n_threads,
    tree=None,
    report=None,
    weights=None,
    weight_exponent=None,
):
    """estimate_bandwidth on a checked array; ``tree`` may be a tree
    already built over all of X (with ``weights``, if given); ``report`` a
    progress callback.

    With ``weights`` (used by fit only) the estimate is that of the data
    with each row repeated by its weight, for integer weights: the k-th
    neighbour is where the weights of the nearest points, the point itself
    included, first reach max(1, int(total weight * quantile)), and the
    distances are averaged with the weights.  ``weight_exponent``: the
    weights are already scaled by 2**weight_exponent (_weights.scale; the
    tree's too); None: they are as given, and scaled here if need be."""
    random_state = check_random_state(random_state)
    if n_samples is not None:
        idx = random_state.permutation(X.shape[0])[:n_samples]
        X = X[idx]
        weights = None if weights is None else weights[idx]
        tree = None
    n_neighbors = max(1, int(X.shape[0] * quantile))
    kweight = 0.0
    if weights is not None:
        if weight_exponent is None:
            weights, weight_exponent = _weights.scale(weights)
            tree = None
        total = float(weights.sum())
        kweight = _kth_weight(total, quantile, weight_exponent)
        n_neighbors = 1
    if tree is None:
        tree = _build_tree(X, _leaf_size(*X.shape), n_threads, weights)
    dist = np.empty(X.shape[0])

    def run(start, seconds, threads):
        return _bandwidth.kth_neighbor_dist(
            tree,
            k=n_neighbors,
            n_threads=threads,
            start=start,
            seconds=seconds,
            out=dist,
            kweight=kweight,
        )[1]

    in_batches(X.shape[0], run, n_threads, report, "bandwidth")
    if weights is not None:
        return np.float64(np.dot(weights, dist) / total)
    # summed in the same batches as scikit-learn, for the same rounding
    bandwidth = 0.0
    for start in range(0, len(dist), 500):
        bandwidth += dist[start : start + 500].sum()
    return np.float64(bandwidth / X.shape[0])


def _kth_weight(total, quantile, j):
    """min(max(1, floor(T * quantile)), T) for the total weight T, in the
    units of weights scaled by 2**j (total = T * 2**j): the weight the
    nearest points must reach, as if each row were repeated by its weight.
    Computed without forming T where it would overflow or lose bits."""
    t = total * quantile
    u = _weights.ldexp_or_inf(t, -j)
    # from 2**52 on, u is an integer already: floor would change nothing
    k = t if u >= 2.0**52 else _weights.ldexp_or_inf(max(1.0, math.floor(u)), j)
    return min(k, total)


def get_bin_seeds(X, bin_size, min_bin_freq=1):
    """Find seeds for mean_shift by binning the points onto a grid.

    The grid lines are ``bin_size`` apart; the seeds are the grid points of
    the cells holding at least ``min_bin_freq`` points, in order of first
    appearance, exactly as :func:`sklearn.cluster.get_bin_seeds` gives them
    (cell indices held in float32, then scaled by ``bin_size``).  If every
    point is in a cell of its own, a warning is raised and X is returned;
    ``bin_size == 0`` returns X itself.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Input points, the same points that will be used in mean_shift.
    bin_size : float
        Controls the coarseness of the binning. Set it to the bandwidth
        if unsure.
    min_bin_freq : int, default=1
        Only bins with at least min_bin_freq points will be selected as seeds.

    Returns
    -------
    bin_seeds : ndarray of shape (n_seeds, n_features)
        Points used as initial kernel positions in mean_shift.

    Examples
    --------
    >>> import numpy as np
    >>> from meanshift import get_bin_seeds
    >>> X = np.array([[1.0, 1.0], [1.4, 1.4], [1.8, 1.2],
    ...               [2.0, 1.0], [2.1, 1.1], [0.0, 0.0]])
    >>> get_bin_seeds(X, 1, min_bin_freq=2)
    array([[1., 1.],
           [2., 1.]], dtype=float32)
    """
    try:
        float(bin_size)
    except OverflowError:  # a Python int beyond float64 (scikit-learn: OverflowError)
        raise ValueError(
            f"bin_size={bin_size!r} is beyond the range of float64"
        ) from None
    return _get_bin_seeds(X, bin_size, min_bin_freq, _effective_n_threads(None))


def _get_bin_seeds(X, bin_size, min_bin_freq, n_threads, weights=None,
                   weight_exponent=0, float16=None):
    """get_bin_seeds; with ``weights`` a cell's weight is the sum of its
    points' weights, binning fails when there are as many cells as the
    weights add up to, and the points that are seeds then are those of
    positive weight.  The weights are scaled by 2**weight_exponent
    (_weights.scale): these comparisons are made in the unscaled units.
    ``float16``: X holds float16 values (None: when its dtype says so)."""
    if bin_size == 0:
        return X if weights is None else X[weights > 0]
    Xa = check_array(
        X,
        ensure_all_finite=False,
        ensure_min_samples=0,
        ensure_min_features=0,
    )
    if float16 is None:
        float16 = Xa.dtype == np.float16
    Xa = _as_float(Xa)
    if Xa.shape[0] and Xa.shape[1]:
        cells, counts = _bin_cells(Xa, bin_size, n_threads, weights, float16)
        cells = cells[counts >= _weights.ldexp_or_inf(float(min_bin_freq), weight_exponent)]
    elif Xa.shape[0]:  # no features: every point is in the one empty cell
        cells = np.zeros((1 if Xa.shape[0] >= min_bin_freq else 0, 0))
    else:
        cells = np.zeros((0, Xa.shape[1]))
    seeds = _bin_seeds_from_cells(
        cells,
        bin_size,
        len(X)
        if weights is None
        else _weights.ldexp_or_inf(float(weights.sum()), -weight_exponent),
    )
    if seeds is None:
        return X if weights is None else X[weights > 0]
    return seeds


def _bin_seeds_from_cells(cells, bin_size, n_points):
    """The seeds of the grid cells kept (float64 integer-valued rows), as
    get_bin_seeds returns them; None when binning failed (as many cells as
    points, or with weights as the weights add up to: the points are then
    the seeds, after scikit-learn's warning)."""
    if len(cells):
        with np.errstate(over="ignore"):  # cells beyond float32: inf, as numpy
            bin_seeds = np.asarray(cells, dtype=np.float32)
    else:
        bin_seeds = np.array([], dtype=np.float32)
    if len(bin_seeds) == n_points:
        # scikit-learn's warning, word for word and from the same frame (no
        # stacklevel, as get_bin_seeds warns); %f takes any real through float()
        warnings.warn(  # noqa: B028
            "Binning data failed with provided bin_size=%f, using data points as seeds."  # noqa: UP031
            % bin_size
        )
        return None
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        seeds = bin_seeds * bin_size  # float32 for a Python float, as numpy does
    finite = np.isfinite(bin_seeds)  # (cells of float16 data may be inf)
    if seeds.dtype == np.float32 and not (
        np.isfinite(seeds[finite]).all() and not ((seeds == 0) & (bin_seeds != 0)).any()
    ):  # the float32 product overflowed or underflowed to 0: use float64
        seeds = bin_seeds.astype(np.float64) * float(bin_size)
    return seeds


def mean_shift(
    X,
    *,
    bandwidth=None,
    seeds=None,
    bin_seeding=False,
    min_bin_freq=1,
    cluster_all=True,
    max_iter=300,
    n_jobs=None,
    verbose=False,
    sample_weight=None,
    kernel="flat",
    label_by="nearest",
    algorithm="exact",
    grid_resolution=3.0,
):
    """Perform mean shift clustering of data.

    With the defaults (flat kernel, no weights, nearest-center labels):
    the same arguments, results and errors as
    :func:`sklearn.cluster.mean_shift`, computed by the compiled kernel.
    The one deliberate difference is ``n_jobs``: it is a number of threads,
    and ``None`` means all usable cores (scikit-learn's None means one
    process).  ``sample_weight``, ``kernel``, ``label_by``, ``algorithm``
    and ``grid_resolution`` are additions (see :class:`MeanShift`).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Input data.
    bandwidth : float, default=None
        Kernel bandwidth: points at distance <= bandwidth are in the kernel.
        If None, it is estimated with :func:`estimate_bandwidth`.
    seeds : array-like of shape (n_seeds, n_features), default=None
        Initial kernel locations. If None and bin_seeding=False, every point
        is a seed.
    bin_seeding : bool, default=False
        Seed from the cells of a grid of spacing ``bandwidth`` that hold at
        least ``min_bin_freq`` points (:func:`get_bin_seeds`). Ignored if
        seeds is not None.
    min_bin_freq : int, default=1
        Accept only bins with at least min_bin_freq points (with
        ``sample_weight``: at least that much weight) as seeds.
    cluster_all : bool, default=True
        If True, every point is labelled; if False, points farther than
        bandwidth from every center get label -1.
    max_iter : int, default=300
        Maximum number of iterations per seed.
    n_jobs : int, default=None
        Number of threads: None for all usable cores (honouring
        OMP_NUM_THREADS and threadpoolctl), -1 for all cores, -2 all but one,
        k > 0 for k threads. Results do not depend on it.
    verbose : bool, int or callable, default=False
        Progress of the long stages (the bandwidth estimate and the climbs).
        True or a positive int: a status line on stderr (seeds done, total,
        elapsed time, rate).  A callable is called after each batch as
        ``verbose(stage, done, total, elapsed)`` with stage ``"bandwidth"``,
        ``"climb"`` or ``"labels"`` (points followed for
        ``label_by="attractor"``), and ``"steps"`` (the first steps of the
        seeds of ``algorithm="grid"``).  Not a scikit-learn parameter.
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of each point (see :class:`MeanShift`). Not a scikit-learn
        parameter.
    kernel : {"flat", "epanechnikov", "gaussian"}, default="flat"
        The kernel (see :class:`MeanShift`). Not a scikit-learn parameter.
    label_by : {"nearest", "attractor"}, default="nearest"
        How points are labelled (see :class:`MeanShift`). Not a
        scikit-learn parameter.
    algorithm : {"exact", "grid"}, default="exact"
        ``"grid"`` is an approximation: every point a seed at about the
        cost of bin seeding (see :class:`MeanShift`). Not a scikit-learn
        parameter.
    grid_resolution : float, default=3.0
        Cells per bandwidth of ``algorithm="grid"`` (see
        :class:`MeanShift`). Not a scikit-learn parameter.

    Returns
    -------
    cluster_centers : ndarray of shape (n_clusters, n_features)
        Coordinates of cluster centers, in the dtype of X (float64 for
        integer input).
    labels : ndarray of shape (n_samples,)
        Cluster labels for each point.

    Examples
    --------
    >>> import numpy as np
    >>> from meanshift import mean_shift
    >>> X = np.array([[1, 1], [2, 1], [1, 0],
    ...               [4, 7], [3, 5], [3, 6]])
    >>> cluster_centers, labels = mean_shift(X, bandwidth=2)
    >>> cluster_centers
    array([[3.33333333, 6.        ],
           [1.33333333, 0.66666667]])
    >>> labels
    array([1, 1, 1, 0, 0, 0])
    """
    model = MeanShift(
        bandwidth=bandwidth,
        seeds=seeds,
        bin_seeding=bin_seeding,
        min_bin_freq=min_bin_freq,
        cluster_all=cluster_all,
        n_jobs=n_jobs,
        max_iter=max_iter,
        verbose=verbose,
        kernel=kernel,
        label_by=label_by,
        algorithm=algorithm,
        grid_resolution=grid_resolution,
    ).fit(X, sample_weight=sample_weight)
    return model.cluster_centers_, model.labels_


# ---------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------


class MeanShift(ClusterMixin, BaseEstimator):
    """Mean shift clustering.

    A drop-in replacement for :class:`sklearn.cluster.MeanShift`: with the
    default flat kernel, no weights and nearest-center labels it has the
    same parameters, attributes, results and errors, computed by a compiled
    multithreaded kernel.  It is a scikit-learn estimator (clone, pipelines,
    grid search, pickling).

    Each seed climbs: it moves to the weighted mean of the points within
    the kernel's reach,

        next = sum(s_i k(r_i) x_i) / sum(s_i k(r_i)),

    (r_i the distance of point x_i, s_i its sample weight, 1 without
    weights, k the kernel's weight) until it moves by at most
    ``1e-3 * bandwidth`` or has done ``max_iter`` iterations; a seed with
    no weight in reach is dropped.  Converged seeds are ranked by their
    intensity, sum(s_i k(r_i)) over their last neighbourhood (for the flat
    kernel without weights, scikit-learn's count of points), a center
    within bandwidth of a stronger one is dropped, and points are labelled.

    Parameters
    ----------
    bandwidth : float, default=None
        Bandwidth of the kernel. If None, it is estimated with
        :func:`estimate_bandwidth` (quadratic in the number of samples),
        with ``sample_weight`` on the data as if each row were repeated by
        its weight.
    seeds : array-like of shape (n_seeds, n_features), default=None
        Seeds used to initialize kernels. If None, every point of positive
        weight, or the bin seeds when ``bin_seeding=True``.
    bin_seeding : bool, default=False
        Seed from a grid of spacing ``bandwidth`` (see :func:`get_bin_seeds`):
        far fewer seeds, much faster. Ignored if seeds is not None.
    min_bin_freq : int, default=1
        Accept only bins with at least min_bin_freq points as seeds (with
        ``sample_weight``: whose points weigh at least that much together).
    cluster_all : bool, default=True
        If False, points farther than bandwidth from every center (orphans)
        get label -1.
    n_jobs : int, default=None
        Number of threads. ``None`` means all usable cores, honouring
        OMP_NUM_THREADS and threadpoolctl's limit; ``-1`` all cores, ``-2``
        all but one; ``k > 0`` exactly k. This differs on purpose from
        scikit-learn, where None means one job. Results are bit-identical
        for any value.
    max_iter : int, default=300
        Maximum number of iterations per seed.
    verbose : bool, int or callable, default=False
        Progress of the long stages of fit (the bandwidth estimate and the
        climbs). True or a positive int: a status line on stderr (seeds
        done, total, elapsed time, rate).  A callable is called after each
        batch as ``verbose(stage, done, total, elapsed)`` with stage
        ``"bandwidth"``, ``"climb"``, ``"labels"`` or, with
        ``algorithm="grid"``, ``"steps"`` (the seeds' first steps).  Not a
        scikit-learn parameter.
    kernel : {"flat", "epanechnikov", "gaussian"}, default="flat"
        The weight k(r) of a point at distance r from the moving position:
        ``"flat"`` (scikit-learn's): 1 for r <= bandwidth;
        ``"epanechnikov"``: 1 - (r / bandwidth)**2 for r <= bandwidth;
        ``"gaussian"``: exp(-r**2 / (2 bandwidth**2)) for r <= 3 bandwidth
        (points farther away are left out).  Whatever the kernel, centers
        within bandwidth of a stronger one are dropped and orphans are the
        points farther than bandwidth from every center.  Not a
        scikit-learn parameter.
    label_by : {"nearest", "attractor"}, default="nearest"
        ``"nearest"`` (scikit-learn's): each point gets the label of its
        nearest center.  ``"attractor"``: each point gets the cluster its
        own climb ends in: the kept center its climb converged to, or,
        where that center was dropped, the kept center that dropped it
        (the strongest kept one within bandwidth of it).  A point whose
        climb is not a seed's (with ``bin_seeding``, given ``seeds``, or a
        zero weight) climbs too, and takes the kept center nearest to where
        its climb ended; a point with no weight in reach takes the center
        nearest to itself.  With every point a seed this costs nothing
        extra; otherwise it costs a climb of every point.  ``predict`` then
        climbs each new point on the training data, which the model keeps
        (a copy of X and the weights).  Not a scikit-learn parameter.
    algorithm : {"exact", "grid"}, default="exact"
        ``"exact"``: mean shift as defined above.  ``"grid"``: **an
        approximation** of every point a seed with attractor basins, at
        about the cost of bin seeding.  The points are binned on a grid of
        cells of side ``bandwidth / grid_resolution`` (x is in the cell
        ``floor(x / side)``; where ``|x| >= 2**53 side``, a cell finer than
        the floats at x, each value is a cell of its own, so that far
        points never share one), and each occupied cell has one seed, the
        (weighted) mean of its points.  Every seed takes one exact step on
        all the data; a seed whose step lands in another cell with a seed
        hands over to that cell (circles of hand-overs are cut at their
        lowest cell), the others climb on exactly as above.  With the flat
        kernel, the points nearest the middle of two modes closer than
        two bandwidths, where it weighs at least as much as either mode,
        climb on their own too (2,048 of them up to 10,000 points, fewer
        on more data: see the README), as every point does in the exact
        mode: between such modes the mean can stand still on the ridge,
        where its ball holds more points than either mode's and absorbs
        both, and only thin bands of points climb there.  The climbs'
        centers are merged as above; each point takes the cluster its
        cell's hand-overs lead to (``label_by="attractor"``) or its
        nearest center (``"nearest"``).
        The modes are the exact density's; the basin boundaries are drawn
        at the grid's resolution, and a stationary point on a ridge that
        only a few points far from the middle reach can be missed.  Every
        kernel and ``sample_weight`` work as in the exact mode; ``seeds``,
        ``bin_seeding`` and ``min_bin_freq`` do not apply (given, they are
        refused).  It pays where cells hold many points (low dimensions,
        dense data); a warning says when most points have a cell of their
        own.  The README measures its agreement with the exact mode.  Not
        a scikit-learn parameter.
    grid_resolution : float, default=3.0
        Cells per bandwidth with ``algorithm="grid"``: cells of side
        ``bandwidth / grid_resolution``.  Finer cells (larger values) are
        closer to the exact mode and slower.  Ignored by
        ``algorithm="exact"``.  Not a scikit-learn parameter.

    Notes
    -----
    The climbs run in batches of seeds of about a tenth of a second each,
    so Ctrl-C (KeyboardInterrupt) stops a long fit promptly; batching does
    not change the results.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Coordinates of cluster centers, strongest first.
    labels_ : ndarray of shape (n_samples,)
        Labels of each point.
    n_iter_ : int
        Maximum number of iterations performed on each seed.
    bandwidth_ : float
        The bandwidth used: ``bandwidth``, or the estimate when it is None
        (so the quadratic estimate need not be run again to learn it).  Not
        a scikit-learn attribute.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from meanshift import MeanShift
    >>> X = np.array([[1, 1], [2, 1], [1, 0],
    ...               [4, 7], [3, 5], [3, 6]])
    >>> clustering = MeanShift(bandwidth=2).fit(X)
    >>> clustering.labels_
    array([1, 1, 1, 0, 0, 0])
    >>> clustering.predict([[0, 0], [5, 5]])
    array([1, 0])
    >>> clustering
    MeanShift(bandwidth=2)

    A point standing for three, and a smooth kernel:

    >>> model = MeanShift(bandwidth=2, kernel="epanechnikov")
    >>> model.fit(X, sample_weight=[3, 1, 1, 1, 1, 1]).cluster_centers_
    array([[1.17915596, 0.82101577],
           [3.23916093, 5.90220127]])
    """

    def __init__(
        self,
        *,
        bandwidth=None,
        seeds=None,
        bin_seeding=False,
        min_bin_freq=1,
        cluster_all=True,
        n_jobs=None,
        max_iter=300,
        verbose=False,
        kernel="flat",
        label_by="nearest",
        algorithm="exact",
        grid_resolution=3.0,
    ):
        self.bandwidth = bandwidth
        self.seeds = seeds
        self.bin_seeding = bin_seeding
        self.cluster_all = cluster_all
        self.min_bin_freq = min_bin_freq
        self.n_jobs = n_jobs
        self.max_iter = max_iter
        self.verbose = verbose
        self.kernel = kernel
        self.label_by = label_by
        self.algorithm = algorithm
        self.grid_resolution = grid_resolution

    def _check_params(self):
        owner = type(self).__name__
        _check_bandwidth(owner, self.bandwidth)
        _check_bool(owner, "bin_seeding", self.bin_seeding)
        _check_int(owner, "min_bin_freq", self.min_bin_freq, 1)
        _check_bool(owner, "cluster_all", self.cluster_all)
        _check_n_jobs(owner, self.n_jobs)
        _check_int(owner, "max_iter", self.max_iter, 0)
        _check_verbose(owner, self.verbose)
        _check_choice(owner, "kernel", self.kernel, KERNELS)
        _check_choice(owner, "label_by", self.label_by, LABEL_BY)
        _check_choice(owner, "algorithm", self.algorithm, ALGORITHMS)
        _check_positive(owner, "grid_resolution", self.grid_resolution)
        if self.algorithm == "grid":
            for name, unset in (("seeds", self.seeds is None),
                                ("bin_seeding", self.bin_seeding is False),
                                ("min_bin_freq", self.min_bin_freq == 1)):
                if not unset:
                    given = "seeds" if name == "seeds" else f"{name}={getattr(self, name)!r}"
                    raise ValueError(
                        f"{given} does not apply to "
                        "algorithm='grid', which seeds from every occupied "
                        f"cell: leave {name} unset, or use algorithm='exact'."
                    )

    def fit(self, X, y=None, sample_weight=None):
        """Perform clustering.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to cluster.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each point: a point of weight s counts as s points in
            every mean, intensity and bin (integer weights give the result
            of repeating the rows).  A zero weight removes the point from
            the density and from the seeds; it still gets a label.  Finite,
            non-negative, not all zero.  None: every weight is 1.

        Returns
        -------
        self : object
            Fitted instance.
        """
        return fit_stages(self, _Local(self), X, sample_weight)

    def fit_predict(self, X, y=None, sample_weight=None):
        """Perform clustering on X and return the labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to cluster.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each point (see :meth:`fit`).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Cluster labels.
        """
        return self.fit(X, sample_weight=sample_weight).labels_

    def predict(self, X):
        """Predict the cluster each sample in X belongs to.

        With ``label_by="nearest"``, the nearest center; with
        ``"attractor"``, the kept center nearest to where the point's own
        climb on the training data ends (the center nearest to the point
        when no training weight is within its reach).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data to predict.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Index of the cluster each sample belongs to.
        """
        check_is_fitted(self)
        n_threads = _effective_n_threads(self.n_jobs)
        _, X, _ = _validated(self, X, n_threads, reset=False)
        mark("validate")
        if getattr(self, "_attractor", None) is not None and len(X):
            return self._predict_attractor(X, n_threads)
        centers = np.ascontiguousarray(self.cluster_centers_, dtype=np.float64)
        # a row whose squared distances leave float64's range is judged on
        # its own, rescaled (_merge.assign): no row's label depends on another
        labels, _ = _assign(X, centers, np.inf, True, n_threads)
        mark("labels")
        return labels

    def _predict_attractor(self, X, n_threads):
        plan = self._attractor.plan
        centers = _as_f64(plan.scaled(self.cluster_centers_))
        return self._attractor.predict(plan.scaled(X), centers, n_threads,
                                       reporter(self.verbose))


# ---------------------------------------------------------------------------
# What predict of an attractor model climbs on (the plan of a fit, its
# climbs and its finishing, which both drivers share: meanshift._work)
# ---------------------------------------------------------------------------


class _Local:
    """The one-machine driver of a fit's stages (meanshift._fit): the data,
    its weights, and the tree the climbs run on, built when first needed
    and freed before the labels."""

    def __init__(self, model):
        self.model = model
        self.X = self.weights = self.tree = self.climber_ = None
        self.cell_of = self.seed_rows = self.converged = None

    def prepare(self, X, sample_weight):
        """Validate X, the weights and the seeds; scale (exactly) what
        needs it."""
        model = self.model
        self.n_threads = self.merge_threads = n_threads = _effective_n_threads(model.n_jobs)
        in_dtype, X, amax = _validated(model, X, n_threads)
        plan = _FitPlan(in_dtype, X.dtype, model.kernel, model.max_iter)
        weights, plan.wexp = _weights.scale(_check_weights(sample_weight, X))
        seeds = plan.checked_seeds(model.seeds, X.shape[1])
        plan.scale_by(_range_exponent(X, bandwidth=model.bandwidth, amax=amax))
        if plan.k:  # huge or tiny magnitudes: work on an exactly scaled copy
            X = plan.scaled(X)
            seeds = plan.scaled(seeds)
        self.X, self.weights = X, weights
        self.n_samples = X.shape[0]
        self.report = reporter(model.verbose)
        return plan, seeds

    def search_tree(self):
        """The bandwidth estimate searches the tree; the climbs alone need
        less (the grid mode, given its bandwidth, builds it after its
        cells: the rows' cells and the tree are not held at once)."""
        model = self.model
        if model.algorithm == "exact" or model.bandwidth is None:
            self.tree = _climb_tree(self.X, self.weights, model.kernel, self.n_threads,
                                    full=model.bandwidth is None)
            mark("tree")

    def estimate_bandwidth(self, plan):
        return _estimate_bandwidth(
            self.X, quantile=0.3, n_samples=None, random_state=0,
            n_threads=self.n_threads, tree=self.tree, report=self.report,
            weights=self.weights, weight_exponent=plan.wexp,
        )

    def seeds(self, plan, seeds):
        """The seeds to climb (given, bin seeds, or the points of positive
        weight); where they are points, their rows of X are kept."""
        model, X, weights = self.model, self.X, self.weights
        if seeds is not None:
            return seeds
        if model.bin_seeding:
            seeds = _get_bin_seeds(
                X, plan.bin_size, model.min_bin_freq, self.n_threads, weights,
                weight_exponent=plan.wexp, float16=plan.float16,
            )
            plan.check_bin_seeds(seeds, model.min_bin_freq, weights is not None)
            return seeds
        if weights is None or (weights > 0).all():
            self.seed_rows = slice(None)
            return X
        self.seed_rows = np.flatnonzero(weights > 0)
        return X[self.seed_rows]

    def climb(self, plan, seeds):
        self.climber_ = self.climber(plan)
        ends, totals, iters = self.climber_(seeds)
        self.converged = converged = totals > 0
        if not converged.any():
            return None
        return ends[converged], totals[converged], int(iters[converged].max(initial=0))

    def drop_state(self, model):
        model._attractor = None  # a refit drops the state of an earlier fit

    def nearest_labels(self, plan, centers, cluster_all):
        self.climber_ = self.tree = None  # the tree's copy of X is freed first
        labels, _ = _assign(self.X, _as_f64(centers), plan.bandwidth, cluster_all,
                            self.n_threads)
        return labels

    def attractor_labels(self, plan, centers, seed_cluster, ends_table, cluster_all):
        """label_by="attractor": the points that were seeds by their own
        climbs, the others climbed now (_basin_labels); orphans by distance.
        The state predict climbs on keeps X (a copy where it may be the
        caller's array)."""
        X, n_threads = self.X, self.n_threads
        known = None
        done = np.zeros(X.shape[0], dtype=bool)
        if self.seed_rows is not None:  # the points' own climbs are known
            rows = np.arange(X.shape[0])[self.seed_rows][self.converged]
            known = rows, seed_cluster
            done[rows] = True
        rest = np.flatnonzero(~done)
        points = ends = totals = None
        if len(rest):
            points = X[rest]
            ends, totals, _ = self.climber_(points, stage="labels")
        labels = _basin_labels(X, known, rest, ends, totals, _as_f64(centers),
                               ends_table, plan.bandwidth, cluster_all, n_threads,
                               points)
        return labels, _Attractor(plan, X if plan.k else X.copy(), self.weights,
                                  ends_table)

    def abandon(self):
        pass

    # the grid mode (meanshift._fit.finish_grid)

    def grid_cells(self, plan, cell_size):
        cells, self.cell_of = _grid.cells_of(self.X, cell_size, self.n_threads,
                                             self.weights)
        return cells

    def grid_tree(self):
        if self.tree is None:
            self.tree = _climb_tree(self.X, self.weights, self.model.kernel,
                                    self.n_threads)
            mark("tree")

    def climber(self, plan):
        return _Climber(self.tree, plan, self.n_threads, self.report)

    def nearest(self, *a):
        return _grid.nearest_points(self.tree, *a)

    def release(self):
        self.tree = None

    def fitted(self, model):
        pass

    def grid_labels(self, plan, fit, table, centers64, label_by, cluster_all):
        return _grid.labels_of(self.X, self.cell_of, fit, centers64, plan.bandwidth,
                               label_by, cluster_all, self.n_threads)

    @staticmethod
    def labels_out(labels):
        return labels


class _Attractor:
    """What predict of a label_by="attractor" model climbs on: the fit's
    plan, its training data (scaled as in the fit) and weights, and where
    the seeds' climbs ended (_end_table)."""

    def __init__(self, plan, X, weights, ends):
        self.plan = plan
        self.X = X
        self.weights = weights
        self.ends = ends

    def predict(self, X, centers, n_threads, report=None):
        """Labels of the rows of X (scaled as the training data) by where
        their climbs on the training data end, given the kept centers
        (scaled, float64)."""
        if X.dtype != self.X.dtype:
            X = X.astype(self.X.dtype)
        tree = _climb_tree(self.X, self.weights, self.plan.kernel, n_threads)
        climb = _Climber(tree, self.plan, n_threads, report)
        return _follow(climb, X, np.arange(len(X)), centers, self.ends, n_threads)

