"""meanshift: scikit-learn's mean shift clustering on a compiled, multithreaded kernel.

Same API and same results as ``sklearn.cluster.mean_shift``,
``MeanShift``, ``estimate_bandwidth`` and ``get_bin_seeds``.
"""

# The public names are imported on first use (PEP 562), so that
# ``import meanshift`` and the ``meanshift`` command's --help and --version
# do not pay for importing scikit-learn (about a second).
_LAZY = {
    "MeanShift": "._api",
    "estimate_bandwidth": "._api",
    "get_bin_seeds": "._api",
    "mean_shift": "._api",
    "plot": "._plot",
}

__all__ = ["MeanShift", "estimate_bandwidth", "get_bin_seeds", "mean_shift", "plot"]
__version__ = "0.1.0"


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later look-ups do not come here
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
