"""The asv suite's own rules, checked without running it (a run builds the
package in an environment of its own and takes many minutes).

asv skips a parameter combination only when ``setup`` raises
NotImplementedError; raised from a benchmark's body it is a failure, and
``asv run`` exits 2.
"""

import ast
from pathlib import Path

import pytest

SUITE = Path(__file__).resolve().parents[1] / "benchmarks" / "benchmarks"
PREFIXES = ("time_", "timeraw_", "track_", "mem_", "peakmem_")


def _raises_not_implemented(node):
    for sub in ast.walk(node):
        if isinstance(sub, ast.Raise) and sub.exc is not None:
            exc = sub.exc.func if isinstance(sub.exc, ast.Call) else sub.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                return True
    return False


@pytest.mark.skipif(not SUITE.is_dir(), reason="the benchmarks are not beside the tests")
def test_benchmarks_skip_only_from_setup():
    modules = sorted(SUITE.glob("*.py"))
    assert modules
    bodies = 0
    for path in modules:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.startswith(PREFIXES):
                bodies += 1
                assert not _raises_not_implemented(node), (
                    f"{path.name}: {node.name} raises NotImplementedError: asv "
                    "counts that as a failure; skip from setup instead"
                )
    assert bodies > 10



BENCHMARKS = SUITE.parent
# what makes a data set: only benchmarks/datasets.py calls these (the sample
# weights and jitters drawn beside a fit are not data sets)
DATA_MAKERS = {"make_blobs", "make_moons", "make_circles", "load_sample_image",
               "load_digits", "RandomState"}


def _data_makers(tree):
    """(line, name) of each data maker the module imports or calls."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name in DATA_MAKERS:
                    yield node.lineno, alias.name
        elif isinstance(node, ast.Name) and node.id in DATA_MAKERS:
            yield node.lineno, node.id
        elif isinstance(node, ast.Attribute) and node.attr in DATA_MAKERS:
            yield node.lineno, node.attr


@pytest.mark.skipif(not SUITE.is_dir(), reason="the benchmarks are not beside the tests")
def test_data_sets_defined_once():
    """The scripts, the asv suite and tools/scaling.py take their data from
    benchmarks/datasets.py, where each data set is defined once."""
    scripts = [*BENCHMARKS.glob("*.py"), *SUITE.glob("*.py"),
               BENCHMARKS.parent / "tools" / "scaling.py"]
    users = 0
    for path in scripts:
        if path.name == "datasets.py" or not path.is_file():
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        found = list(_data_makers(tree))
        assert not found, (f"{path.name} makes its own data ({found}): define it in "
                           "benchmarks/datasets.py and import it from there")
        users += any(isinstance(node, ast.ImportFrom) and node.module == "datasets"
                     for node in ast.walk(tree))
    assert users >= 6, "the scripts no longer import benchmarks/datasets.py"
