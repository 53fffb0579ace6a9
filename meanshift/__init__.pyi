# Type stubs for meanshift's public API (PEP 561: the package ships
# py.typed).  The estimator's parameters are those of __init__ below; keep
# this file in step with meanshift/__init__.py and meanshift/_api.py (and
# meanshift/dask.pyi, whose MeanShift subclasses this one).  Standard
# library only (no typing_extensions), for Python 3.10 as pyproject.toml's
# [tool.mypy] python_version: hence a TypeVar for "the instance's own
# class" where 3.11 would write typing.Self.  Checked by mypy --strict on
# tests/typing against the installed package.

from collections.abc import Callable
from typing import Any, Literal, TypeAlias, TypeVar

import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "MeanShift",
    "estimate_bandwidth",
    "get_bin_seeds",
    "mean_shift",
    "plot",
    "show_versions",
    "__version__",
]

__version__: str

Kernel: TypeAlias = Literal["flat", "epanechnikov", "gaussian"]
LabelBy: TypeAlias = Literal["nearest", "attractor"]
Algorithm: TypeAlias = Literal["exact", "grid"]
# True or a positive int: a status line on stderr; a callable receives
# (stage, done, total, elapsed)
Verbose: TypeAlias = bool | int | Callable[[str, int, int, float], object]
Centers: TypeAlias = NDArray[np.floating[Any]]
Labels: TypeAlias = NDArray[np.intp]

# fit and set_params return the instance, typed as its own class (also for
# subclasses such as meanshift.dask.MeanShift)
_Self = TypeVar("_Self", bound="MeanShift")

def mean_shift(
    X: ArrayLike,
    *,
    bandwidth: float | None = None,
    seeds: ArrayLike | None = None,
    bin_seeding: bool = False,
    min_bin_freq: int = 1,
    cluster_all: bool = True,
    max_iter: int = 300,
    n_jobs: int | None = None,
    verbose: Verbose = False,
    sample_weight: ArrayLike | None = None,
    kernel: Kernel = "flat",
    label_by: LabelBy = "nearest",
    algorithm: Algorithm = "exact",
    grid_resolution: float = 3.0,
) -> tuple[Centers, Labels]: ...

def estimate_bandwidth(
    X: ArrayLike,
    *,
    quantile: float = 0.3,
    n_samples: int | None = None,
    random_state: int | np.random.RandomState | None = 0,
    n_jobs: int | None = None,
    verbose: Verbose = False,
) -> np.float64: ...

def get_bin_seeds(
    X: ArrayLike, bin_size: float, min_bin_freq: int = 1
) -> NDArray[np.floating[Any]]: ...

def plot(
    X: ArrayLike,
    labels: ArrayLike,
    centers: ArrayLike,
    ax: Axes | None = None,
    *,
    bandwidth: float | None = None,
    title: str | None = None,
) -> Axes: ...

def show_versions(file: Any = None) -> None: ...

class MeanShift:
    bandwidth: float | None
    seeds: ArrayLike | None
    bin_seeding: bool
    min_bin_freq: int
    cluster_all: bool
    n_jobs: int | None
    max_iter: int
    verbose: Verbose
    kernel: Kernel
    label_by: LabelBy
    algorithm: Algorithm
    grid_resolution: float

    # set by fit
    cluster_centers_: Centers
    labels_: Labels
    n_iter_: int
    bandwidth_: float
    n_features_in_: int
    feature_names_in_: NDArray[np.object_]

    def __init__(
        self,
        *,
        bandwidth: float | None = None,
        seeds: ArrayLike | None = None,
        bin_seeding: bool = False,
        min_bin_freq: int = 1,
        cluster_all: bool = True,
        n_jobs: int | None = None,
        max_iter: int = 300,
        verbose: Verbose = False,
        kernel: Kernel = "flat",
        label_by: LabelBy = "nearest",
        algorithm: Algorithm = "exact",
        grid_resolution: float = 3.0,
    ) -> None: ...
    def fit(
        self: _Self, X: ArrayLike, y: object = None, sample_weight: ArrayLike | None = None
    ) -> _Self: ...
    def fit_predict(
        self, X: ArrayLike, y: object = None, sample_weight: ArrayLike | None = None
    ) -> Labels: ...
    def predict(self, X: ArrayLike) -> Labels: ...
    # scikit-learn's BaseEstimator
    def get_params(self, deep: bool = True) -> dict[str, Any]: ...
    def set_params(self: _Self, **params: Any) -> _Self: ...
