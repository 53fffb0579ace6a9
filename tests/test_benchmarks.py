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
