# Type stubs for meanshift.dask (PEP 561, beside meanshift/__init__.pyi):
# its public names, __all__ in meanshift/dask.py.  Keep in step with that
# file.  Standard library only, for Python 3.10 (see __init__.pyi).
#
# What is a Dask collection comes back as one: a Dask array or DataFrame in,
# lazy labels (a dask.array.Array) out; a NumPy array (or other array-like)
# in, NumPy labels out.  The overloads say so; the Dask one comes first,
# since a Dask array or DataFrame is also an ArrayLike to NumPy's types (it
# has __array__).  Cluster centers are always NumPy, gathered to the client.

from typing import Any, Final, TypeAlias, TypeVar, overload

import dask.array as da
import dask.dataframe as dd
import numpy as np
from numpy.typing import ArrayLike, NDArray

from meanshift import Algorithm, Centers, Kernel, LabelBy, Labels, Verbose
from meanshift import MeanShift as _MeanShift

__all__ = [
    "BANDWIDTH_SAMPLES",
    "MeanShift",
    "estimate_bandwidth",
    "get_bin_seeds",
    "mean_shift",
]

# a Dask collection chunked along its rows: an array, a DataFrame or a Series
_DaskData: TypeAlias = da.Array | dd.DataFrame | dd.Series
# the weights: a Dask array or Series (rechunked to X's rows), or array-like
_Weights: TypeAlias = da.Array | dd.Series | ArrayLike

_Self = TypeVar("_Self", bound="MeanShift")

#: Rows sampled for the bandwidth estimate when no ``n_samples`` is given.
BANDWIDTH_SAMPLES: Final[int]

@overload
def mean_shift(
    X: _DaskData,
    *,
    bandwidth: float | None = None,
    seeds: ArrayLike | None = None,
    bin_seeding: bool = False,
    min_bin_freq: int = 1,
    cluster_all: bool = True,
    max_iter: int = 300,
    n_jobs: int | None = None,
    verbose: Verbose = False,
    sample_weight: _Weights | None = None,
    kernel: Kernel = "flat",
    label_by: LabelBy = "nearest",
    algorithm: Algorithm = "exact",
    grid_resolution: float = 3.0,
) -> tuple[Centers, da.Array]: ...
@overload
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
    sample_weight: _Weights | None = None,
    kernel: Kernel = "flat",
    label_by: LabelBy = "nearest",
    algorithm: Algorithm = "exact",
    grid_resolution: float = 3.0,
) -> tuple[Centers, Labels]: ...

def estimate_bandwidth(
    X: _DaskData | ArrayLike,
    *,
    quantile: float = 0.3,
    n_samples: int | None = None,
    random_state: int | np.random.RandomState | None = 0,
    n_jobs: int | None = None,
    verbose: Verbose = False,
) -> np.float64: ...

# the seeds (NumPy); X itself, as a Dask array, when binning fails (as
# scikit-learn returns X)
def get_bin_seeds(
    X: _DaskData | ArrayLike, bin_size: float, min_bin_freq: int = 1
) -> NDArray[np.floating[Any]] | da.Array: ...

class MeanShift(_MeanShift):
    # per iteration of the climb: the bytes of seed positions sent to the
    # chunk tasks and of partial sums returned
    bytes_per_iteration_: list[int]

    # lazy, with X's row chunks, for Dask input; NumPy when X was NumPy
    # (set by fit; wider than meanshift.MeanShift's, hence the ignore)
    @property  # type: ignore[override]
    def labels_(self) -> da.Array | Labels: ...
    @labels_.setter
    def labels_(self, value: da.Array | Labels) -> None: ...
    def fit(
        self: _Self,
        X: _DaskData | ArrayLike,
        y: object = None,
        sample_weight: _Weights | None = None,
    ) -> _Self: ...
    @overload
    def fit_predict(
        self, X: _DaskData, y: object = None, sample_weight: _Weights | None = None
    ) -> da.Array: ...
    @overload
    def fit_predict(
        self, X: ArrayLike, y: object = None, sample_weight: _Weights | None = None
    ) -> Labels: ...
    @overload
    def predict(self, X: _DaskData) -> da.Array: ...
    @overload
    def predict(self, X: ArrayLike) -> Labels: ...
