"""Shared fixtures, mirroring scikit-learn's fixtures of the same names.

The tests must exercise the *installed* (compiled) package.  When pytest is
started as ``python -m pytest`` from the repository root, Python puts the
current directory on ``sys.path`` and ``import meanshift`` would pick up the
source tree, which has no compiled ``_core``.  So the repository root is
dropped from ``sys.path`` here, before any test module imports meanshift,
and the import is checked to come from outside the source tree.
"""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

_REPO_ROOT = Path(__file__).resolve().parent.parent


def _is_repo_root(entry):
    try:
        return Path(entry or os.getcwd()).resolve() == _REPO_ROOT
    except OSError:  # pragma: no cover - unreadable path entry
        return False


sys.path[:] = [entry for entry in sys.path if not _is_repo_root(entry)]

import meanshift  # noqa: E402

if _REPO_ROOT in Path(meanshift.__file__).resolve().parents:
    raise ImportError(
        f"meanshift was imported from the source tree ({meanshift.__file__}); "
        "the tests must run against the installed package: "
        "`pip install --no-build-isolation .` and run pytest again."
    )


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def global_dtype(request):
    """The floating dtypes every dtype-sensitive test runs with."""
    yield request.param


@pytest.fixture(params=[0, 1, 42])
def global_random_seed(request):
    """A few fixed seeds, so seed-dependent tests stay deterministic and quick."""
    yield request.param
