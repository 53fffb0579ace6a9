"""meanshift: scikit-learn's mean shift clustering on a compiled, multithreaded kernel.

Same API and same results as ``sklearn.cluster.mean_shift``,
``MeanShift``, ``estimate_bandwidth`` and ``get_bin_seeds``.
"""

from ._api import MeanShift, estimate_bandwidth, get_bin_seeds, mean_shift
from ._plot import plot

__all__ = ["MeanShift", "estimate_bandwidth", "get_bin_seeds", "mean_shift", "plot"]
__version__ = "0.1.0"
