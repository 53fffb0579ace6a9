"""Type-checked with ``mypy --strict`` (see .ci/run), never run: how a user's
typed code sees meanshift's public API through its stubs.

The lines marked ``# type: ignore[...]`` are mistakes the stubs must catch;
if one stopped being an error, --strict's warn_unused_ignores fails the run.
Everything is inside functions, so that pytest's --doctest-modules can import
this file without running anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

import meanshift
from meanshift import MeanShift, estimate_bandwidth, get_bin_seeds, mean_shift

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from typing_extensions import assert_type


def check_estimator(X: NDArray[np.float64]) -> None:
    model = MeanShift(bandwidth=1.5, bin_seeding=True, n_jobs=2, max_iter=100)
    fitted = model.fit(X)
    assert_type(fitted, MeanShift)
    assert_type(model.cluster_centers_, NDArray[np.floating[Any]])
    assert_type(model.labels_, NDArray[np.intp])
    assert_type(model.n_iter_, int)
    assert_type(model.predict(X[:3]), NDArray[np.intp])
    assert_type(model.fit_predict(X, sample_weight=np.ones(len(X))), NDArray[np.intp])
    assert_type(model.set_params(bandwidth=2.0), MeanShift)
    assert_type(model.get_params()["bandwidth"], Any)
    MeanShift(kernel="gaussian", label_by="attractor", verbose=print)
    MeanShift(verbose=lambda stage, done, total, elapsed: None)
    MeanShift(seeds=[[0.0, 0.0], [1.0, 1.0]], cluster_all=False, min_bin_freq=3)

    MeanShift(1.5)  # type: ignore[call-arg]
    MeanShift(kernel="triangle")  # type: ignore[arg-type]
    MeanShift(label_by="mode")  # type: ignore[arg-type]
    MeanShift(bandwidth="wide")  # type: ignore[arg-type]
    MeanShift(n_jobs=2.0)  # type: ignore[arg-type]
    MeanShift(bandwith=1.5)  # type: ignore[call-arg]


def check_functions(X: NDArray[np.float32]) -> None:
    centers, labels = mean_shift(X, bandwidth=2, kernel="epanechnikov", sample_weight=None)
    assert_type(centers, NDArray[np.floating[Any]])
    assert_type(labels, NDArray[np.intp])
    assert_type(estimate_bandwidth(X, quantile=0.2, n_samples=500, random_state=None), np.float64)
    assert_type(get_bin_seeds(X, 1.0, min_bin_freq=2), NDArray[np.floating[Any]])
    mean_shift([[1, 2], [3, 4]], label_by="nearest", verbose=True)

    mean_shift(X, 2.0)  # type: ignore[call-arg]
    estimate_bandwidth(X, quantile="high")  # type: ignore[arg-type]


def check_package(X: NDArray[np.float64]) -> None:
    assert_type(meanshift.__version__, str)
    assert_type(meanshift.show_versions(), None)
    model = meanshift.MeanShift().fit(X)
    ax = meanshift.plot(X, model.labels_, model.cluster_centers_, bandwidth=1.0, title="t")
    assert_type(ax, Axes)
    meanshift.plot(X, model.labels_, model.cluster_centers_, ax=ax)

    meanshift.plot(X, model.labels_)  # type: ignore[call-arg]
