"""A picture of a clustering: the points coloured by cluster, the centers,
and the bandwidth around each center.

matplotlib is an optional dependency (``pip install matplotlib``); it is
imported when :func:`plot` is called, never when :mod:`meanshift` is.
"""

from numbers import Real

import numpy as np

__all__ = ["plot"]

# how to get matplotlib, wherever a message says it is missing (the command
# too): meanshift is installed from a clone, not from PyPI, so not
# "meanshift[plot]"; no brackets, nothing a shell would expand
INSTALL_MATPLOTLIB = "pip install matplotlib"
_MISSING_MATPLOTLIB = f"meanshift.plot needs matplotlib: {INSTALL_MATPLOTLIB}"

# tab20 without its two greys (grey marks the unclustered points), strong
# colours first: the first nine are tab10's, then their light versions
_PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
    "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5",
]
_UNCLUSTERED_COLOR = "#c7c7c7"
_LARGE = 10_000  # from this many points on, the points are rasterized


# up to this many clusters, the legend names each one (and its size)
_MAX_LEGEND_CLUSTERS = 10


def plot(X, labels, centers, ax=None, *, bandwidth=None, title=None):
    """Plot a mean shift clustering.

    The points are coloured by cluster (a qualitative palette of 18
    colours, repeated when there are more clusters), points labelled -1
    (left unclustered by ``cluster_all=False``) are light grey, and the
    centers are black-edged crosses.  With at most 10 clusters the legend
    names each one, with its number of points, in its colour.

    Two features are plotted as they are, on equal scales, and with
    ``bandwidth`` a dashed circle of that radius around each center shows
    the window the centers were found with.  One feature is plotted
    against a random vertical jitter that only spreads the points out.
    More features are projected onto the first two principal components of
    ``X`` (the axis labels give the share of the variance each one holds);
    the projection does not preserve distances, so ``bandwidth`` draws
    nothing there, nor in one dimension.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The clustered points.  The column names of a pandas DataFrame label
        the axes.
    labels : array-like of int of shape (n_samples,)
        The cluster of each point, in ``[-1, n_clusters)``, as in
        ``MeanShift.labels_``; -1 marks an unclustered point.
    centers : array-like of shape (n_clusters, n_features)
        The cluster centers, as in ``MeanShift.cluster_centers_``.
    ax : matplotlib.axes.Axes, default=None
        The axes to draw on.  By default a new 6 x 5 inch figure, not
        managed by pyplot, so it works without a display and is freed with
        the axes: save it with ``ax.figure.savefig(path)``.
    bandwidth : float, default=None
        The bandwidth of the clustering; draws a circle of this radius
        around each center when ``X`` has two features.
    title : str, default=None
        A title for the axes.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes drawn on.  Its artists can be found by their ``gid``:
        ``"points"`` (one scatter per cluster, in one colour),
        ``"unclustered"`` (a scatter of the points labelled -1),
        ``"centers"`` (one scatter of all centers, in label order) and
        ``"bandwidth"`` (the circles).

    Notes
    -----
    The principal components are those of the centered ``X``, computed
    with numpy's SVD, and their signs are fixed: the largest coefficient
    of each component (in absolute value) is positive.

    Examples
    --------
    >>> import numpy as np
    >>> from meanshift import MeanShift, plot
    >>> X = np.array([[1, 1], [2, 1], [1, 0],
    ...               [4, 7], [3, 5], [3, 6]])
    >>> clustering = MeanShift(bandwidth=2).fit(X)
    >>> ax = plot(X, clustering.labels_, clustering.cluster_centers_, bandwidth=2)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('feature 0', 'feature 1')
    >>> len(ax.patches)  # one circle per center
    2
    >>> ax.figure.savefig("clusters.png")  # doctest: +SKIP
    """
    try:
        from matplotlib.axes import Axes
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(_MISSING_MATPLOTLIB) from exc

    columns = getattr(X, "columns", None)  # of a DataFrame
    X = _check_points(X)
    n_samples, n_features = X.shape
    names = _feature_names(columns, n_features)
    labels = _check_labels(labels, n_samples)
    centers = _check_centers(centers, n_features)
    n_centers = centers.shape[0]
    _check_label_range(labels, n_centers)
    _check_options(bandwidth, ax, title, Axes)

    x, y, cx, cy, xlabel, ylabel = _positions(X, centers, names)
    if ax is None:
        # constrained: room for a legend beside the axes
        ax = Figure(figsize=(6, 5), layout="constrained").add_subplot()
    palette = _palette(n_centers)
    handles = _draw_points(ax, x, y, labels, palette)
    handles.append(_draw_centers(ax, cx, cy, palette))
    if n_features == 2 and bandwidth is not None:
        handles.append(_draw_bandwidth(ax, cx, cy, bandwidth))
    _finish(ax, n_features, xlabel, ylabel, title, handles, n_centers)
    return ax


# ---------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------


def _draw_points(ax, x, y, labels, palette):
    """The points, one scatter per cluster, each of one colour (Agg stamps
    a uniform marker many times faster than it draws markers coloured one
    by one), the unclustered first, in grey; their legend entries."""
    n_samples, n_centers = len(labels), len(palette)
    order = np.argsort(labels, kind="stable")
    x, y = x[order], y[order]
    ends = np.cumsum(np.bincount(labels + 1, minlength=n_centers + 1))
    large = n_samples >= _LARGE
    style = dict(
        s=float(np.clip(20 * np.sqrt(1000 / n_samples), 1, 20)),
        linewidths=0,
        alpha=0.5 if large else 0.8,
        rasterized=large,
    )
    handles = []
    if ends[0]:  # label -1 sorts first
        ax.scatter(
            x[: ends[0]], y[: ends[0]], color=_UNCLUSTERED_COLOR, zorder=1,
            gid="unclustered", **style,
        )
        handles.append(_legend_marker("o", _UNCLUSTERED_COLOR, "unclustered"))
    for k in range(n_centers):
        start, stop = ends[k], ends[k + 1]
        if stop > start:
            ax.scatter(
                x[start:stop], y[start:stop], color=palette[k], zorder=2, gid="points",
                **style,
            )
        if n_centers <= _MAX_LEGEND_CLUSTERS:  # few clusters: one entry each
            handles.append(_legend_marker("o", palette[k], f"cluster {k} ({stop - start:,})"))
    return handles


def _draw_centers(ax, cx, cy, palette):
    """The centers as black-edged crosses; their legend entry."""
    crowd = np.sqrt(20 / max(len(palette), 20))  # smaller crosses for many centers
    ax.scatter(
        cx, cy, c=palette, marker="X", s=150 * crowd, edgecolors="black",
        linewidths=1.2 * crowd, zorder=4, gid="centers",
    )
    return _legend_marker("X", "white", "cluster centers", size=10)


def _draw_bandwidth(ax, cx, cy, bandwidth):
    """A dashed circle of radius bandwidth around each center; its legend
    entry."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle

    ring = dict(color="0.2", linestyle="--", linewidth=1)
    for center in zip(cx, cy, strict=True):
        circle = Circle(center, radius=bandwidth, fill=False, zorder=3, **ring)
        circle.set_gid("bandwidth")
        ax.add_patch(circle)
    return Line2D([], [], label=f"bandwidth {bandwidth:.3g}", **ring)


def _finish(ax, n_features, xlabel, ylabel, title, handles, n_centers):
    """The scales, the axis labels, the title and the legend."""
    if n_features == 1:
        ax.set_ylim(-0.6, 1.0)  # room for the legend above the points
        ax.set_yticks([])
    else:
        ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    if n_centers and n_centers <= _MAX_LEGEND_CLUSTERS:
        # a legend of every cluster would hide points: beside the axes
        ax.legend(
            handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
            borderaxespad=0.0, framealpha=0.9,
        )
    else:
        ax.legend(handles=handles, loc="best", framealpha=0.9)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _check_options(bandwidth, ax, title, axes_class):
    """plot's keyword arguments, checked as scikit-learn checks parameters."""
    if bandwidth is not None and (
        not isinstance(bandwidth, Real)
        or isinstance(bandwidth, (bool, np.bool_))
        or not 0 < bandwidth < np.inf
    ):
        raise ValueError(
            f"The 'bandwidth' argument of plot must be a positive finite number "
            f"or None. Got {bandwidth!r} instead."
        )
    if ax is not None and not isinstance(ax, axes_class):
        raise TypeError(
            f"The 'ax' argument of plot must be a matplotlib Axes or None. "
            f"Got {type(ax).__name__} instead."
        )
    if title is not None and not isinstance(title, str):
        raise TypeError(
            f"The 'title' argument of plot must be a str or None. "
            f"Got {type(title).__name__} instead."
        )


def _feature_names(columns, n_features):
    """The column names of a DataFrame, else "feature 0", "feature 1", ..."""
    if columns is not None and len(columns) == n_features:
        return [str(name) for name in columns]
    return [f"feature {j}" for j in range(n_features)]


def _as_numeric(name, value, shape_text):
    """``value`` as a 2-D array of real numbers, without copying float data."""
    try:
        array = np.asarray(value)
    except ValueError as exc:  # ragged nested sequences
        raise ValueError(f"The {name!r} argument of plot must be a 2-D array: {exc}") from None
    if array.ndim != 2:
        raise ValueError(
            f"The {name!r} argument of plot must be a 2-D array of shape "
            f"{shape_text}. Got an array of shape {array.shape} instead."
        )
    if array.dtype.kind not in "biuf":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"The {name!r} argument of plot must hold real numbers. "
                f"Got dtype {array.dtype} instead."
            ) from None
    elif array.dtype.kind != "f":
        array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"The {name!r} argument of plot contains NaN or infinity.")
    return array


def _check_points(X):
    X = _as_numeric("X", X, "(n_samples, n_features)")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(
            f"The 'X' argument of plot needs at least one sample and one "
            f"feature. Got an array of shape {X.shape} instead."
        )
    return X


def _check_labels(labels, n_samples):
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n_samples:
        raise ValueError(
            f"The 'labels' argument of plot must have shape ({n_samples},), one "
            f"label per sample of X. Got shape {labels.shape} instead."
        )
    if labels.dtype.kind not in "iu":
        raise ValueError(
            f"The 'labels' argument of plot must hold integers. "
            f"Got dtype {labels.dtype} instead."
        )
    return labels


def _check_centers(centers, n_features):
    centers = _as_numeric("centers", centers, f"(n_clusters, {n_features})")
    if centers.shape[1] != n_features:
        raise ValueError(
            f"The 'centers' argument of plot must have {n_features} columns, "
            f"as many as X has features. Got shape {centers.shape} instead."
        )
    return centers


def _check_label_range(labels, n_centers):
    if labels.size == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    if low < -1 or high >= n_centers:
        bad = low if low < -1 else high
        raise ValueError(
            f"The 'labels' argument of plot must be in [-1, {n_centers}), -1 or "
            f"the index of one of the {n_centers} centers. Got {bad} instead."
        )


def _positions(X, centers, names):
    """Where the points and the centers go, and the axis labels."""
    n_samples, n_features = X.shape
    if n_features == 1:
        jitter = np.random.default_rng(0).uniform(-0.4, 0.4, n_samples)
        return X[:, 0], jitter, centers[:, 0], np.zeros(len(centers)), names[0], "random jitter"
    if n_features == 2:
        return X[:, 0], X[:, 1], centers[:, 0], centers[:, 1], *names
    mean, components, variance_ratio = _principal_components(X)
    points = (X - mean) @ components.T
    projected = (centers - mean) @ components.T
    xlabel, ylabel = (
        f"principal component {i + 1} ({100 * ratio:.0f}% of variance)"
        for i, ratio in enumerate(variance_ratio)
    )
    return points[:, 0], points[:, 1], projected[:, 0], projected[:, 1], xlabel, ylabel


def _principal_components(X):
    """The mean of ``X``, its first two principal axes (rows; zero rows where
    ``X`` has fewer) and the share of the total variance along each."""
    X = X.astype(np.float64, copy=False)
    mean = X.mean(axis=0)
    centered = X - mean
    # R of a QR factorisation has the singular values and right singular
    # vectors of the centered data, without an n_samples-long U
    r = np.linalg.qr(centered, mode="r")
    _, singular, vt = np.linalg.svd(r, full_matrices=False)
    components = np.zeros((2, X.shape[1]))
    k = min(2, vt.shape[0])
    components[:k] = vt[:k]
    largest = np.argmax(np.abs(components), axis=1)
    components *= np.where(components[[0, 1], largest] < 0, -1.0, 1.0)[:, None]
    variance = singular**2
    total = variance.sum()
    ratio = np.zeros(2)
    if total > 0:
        ratio[:k] = variance[:k] / total
    return mean, components, ratio


def _palette(n_colors):
    """RGBA colours of ``n_colors`` clusters, the palette repeated as needed."""
    from matplotlib.colors import to_rgba_array

    return to_rgba_array(_PALETTE)[np.arange(n_colors) % len(_PALETTE)]


def _legend_marker(marker, face, label, size=7):
    """A legend entry showing one marker (black-edged crosses)."""
    from matplotlib.lines import Line2D

    return Line2D(
        [], [], linestyle="", marker=marker, markersize=size, label=label,
        markerfacecolor=face, markeredgecolor="black" if marker == "X" else face,
    )
