"""Type-checked with ``mypy --strict`` (see .ci/run), never run: how a user's
typed code sees ``meanshift.dask`` through its stub (meanshift/dask.pyi).

As in check_api.py, the lines marked ``# type: ignore[...]`` are mistakes the
stub must catch (--strict's warn_unused_ignores fails the run if one stops
being an error), and everything is inside functions.  The imports are for
the type checker only, so that pytest's --doctest-modules imports this file
without Dask installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import dask.array as da
    import dask.dataframe as dd
    import numpy as np
    from numpy.typing import NDArray
    from typing_extensions import assert_type

    import meanshift
    import meanshift.dask
    from meanshift.dask import (
        BANDWIDTH_SAMPLES,
        MeanShift,
        estimate_bandwidth,
        get_bin_seeds,
        mean_shift,
    )


def check_estimator(X: da.Array, Xn: NDArray[np.float64]) -> None:
    model = MeanShift(bandwidth=1.5, bin_seeding=True, kernel="gaussian",
                      label_by="attractor")
    fitted = model.fit(X, sample_weight=X[:, 0])
    assert_type(fitted, MeanShift)
    assert_type(model.fit(Xn, sample_weight=[1.0] * len(Xn)), MeanShift)
    assert_type(model.set_params(n_jobs=2), MeanShift)
    assert_type(model.cluster_centers_, NDArray[np.floating[Any]])
    assert_type(model.labels_, "da.Array | NDArray[np.intp]")
    assert_type(model.bytes_per_iteration_, list[int])
    assert_type(model.n_iter_, int)
    assert_type(model.predict(X), da.Array)
    assert_type(model.predict(Xn), NDArray[np.intp])
    assert_type(model.fit_predict(X), da.Array)
    assert_type(model.fit_predict(Xn), NDArray[np.intp])

    # a subclass of meanshift.MeanShift: accepted where one is expected
    base: meanshift.MeanShift = model
    assert_type(base.fit(Xn), meanshift.MeanShift)

    MeanShift(1.5)  # type: ignore[call-arg]
    MeanShift(kernel="triangle")  # type: ignore[arg-type]
    MeanShift(label_by="mode")  # type: ignore[arg-type]
    model.bytes_per_iteration_ = 3  # type: ignore[assignment]
    model.fit(X, sample_weight=X, y=None, n_jobs=2)  # type: ignore[call-arg]


def check_dataframe(df: dd.DataFrame, w: dd.Series) -> None:
    model = MeanShift(bandwidth=1.0).fit(df, sample_weight=w)
    assert_type(model.predict(df), da.Array)
    assert_type(mean_shift(df, bandwidth=1.0)[1], da.Array)


def check_functions(X: da.Array, Xn: NDArray[np.float32]) -> None:
    centers, labels = mean_shift(X, bandwidth=2, kernel="epanechnikov")
    assert_type(centers, NDArray[np.floating[Any]])
    assert_type(labels, da.Array)
    assert_type(mean_shift(Xn, bin_seeding=True), tuple[NDArray[np.floating[Any]],
                                                         NDArray[np.intp]])
    assert_type(estimate_bandwidth(X, quantile=0.2, n_samples=500), np.float64)
    assert_type(get_bin_seeds(X, 1.0, min_bin_freq=2),
                "NDArray[np.floating[Any]] | da.Array")
    assert_type(BANDWIDTH_SAMPLES, int)
    assert_type(meanshift.dask.BANDWIDTH_SAMPLES, int)

    mean_shift(X, 2.0)  # type: ignore[call-overload]
    mean_shift(X, label_by="mode")  # type: ignore[call-overload]
    estimate_bandwidth(X, quantile="high")  # type: ignore[arg-type]
    meanshift.dask.BANDWIDTH_SAMPLES = 5  # type: ignore[misc]
