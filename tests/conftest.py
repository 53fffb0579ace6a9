"""Shared fixtures (mirroring scikit-learn's of the same names), the guard
that the installed package is the one tested, and the ``slow`` marker.

The tests must exercise the *installed* (compiled) package.  When pytest is
started as ``python -m pytest`` from the repository root, Python puts the
current directory on ``sys.path`` and ``import meanshift`` would pick up the
source tree, which has no compiled ``_core``.  So the repository root is
dropped from ``sys.path`` here, before any test module imports meanshift,
and the import is checked to come from outside the source tree (or from
meson-python's editable install of it).

The tests' specifications (exact arithmetic, the numpy reference, the
oracle's context) are the package ``specs`` in ``tests/helpers``, which
pyproject.toml's ``pythonpath`` puts on ``sys.path``: plain imports.

Tests marked ``slow`` (a second or more each on a 2-core machine: the
LocalCluster tests, subprocesses, long hypothesis runs) are deselected
unless ``--runslow`` is given, which CI gives (tools/check_wheel.sh); a test
file named on the command line (or one of its tests, by node id) runs in
full all the same.
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

# meson-python's editable install (pip install --no-build-isolation -e .,
# see CONTRIBUTING.md) is the package too: its loader serves the source
# tree's Python with the compiled modules of its build folder, rebuilt on
# import.  Any other import from the source tree is refused.
_EDITABLE = type(meanshift.__spec__.loader).__module__.endswith("_editable_loader")
if _REPO_ROOT in Path(meanshift.__file__).resolve().parents and not _EDITABLE:
    raise ImportError(
        f"meanshift was imported from the source tree ({meanshift.__file__}); "
        "the tests must run against the installed package: "
        "`pip install --no-build-isolation .` (or -e .) and run pytest again."
    )


def pytest_ignore_collect(collection_path, config):
    """With an editable install --pyargs meanshift collects the source
    folder: its build inputs (src/pow5_table.py) are not modules of the
    package."""
    if collection_path.parent.name == "src" and collection_path.parent.parent.name == "meanshift":
        return True
    return None


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def global_dtype(request):
    """The floating dtypes every dtype-sensitive test runs with."""
    yield request.param


@pytest.fixture(params=[0, 1, 42])
def global_random_seed(request):
    """A few fixed seeds, so seed-dependent tests stay deterministic and quick."""
    yield request.param


# ---------------------------------------------------------------------------
# The slow marker: deselected by default, --runslow runs everything
# ---------------------------------------------------------------------------


def pytest_addoption(parser):
    parser.addoption(
        "--runslow",
        action="store_true",
        default=False,
        help="also run the tests marked slow (deselected by default; CI runs them)",
    )


def _named_files(config):
    """The test files named on the command line (``tests/test_x.py``, or
    one of its tests ``tests/test_x.py::test_y``), resolved."""
    named = set()
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::", 1)[0])
        if path.is_file():
            named.add(path.resolve())
    return named


def pytest_collection_modifyitems(config, items):
    """Without --runslow, deselect the tests marked slow, except in the test
    files named on the command line: a run of the suite (``tests``) is the
    quick one, while ``pytest tests/test_dask.py`` or a test's node id runs
    what it names in full (as tools/sanitize.sh --focused does)."""
    if config.getoption("--runslow"):
        return
    named = _named_files(config)
    selected, deselected = [], []
    for item in items:
        if item.get_closest_marker("slow") and Path(item.path).resolve() not in named:
            deselected.append(item)
        else:
            selected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


def pytest_report_header(config):
    if config.getoption("--runslow"):
        return "slow tests: run (--runslow)"
    return "slow tests: deselected (--runslow runs them, as CI does)"
