"""What importing meanshift and starting the command import.

``import meanshift`` exposes its public names lazily, so that the command's
--help, --version and usage errors answer without importing scikit-learn
(about a second) or matplotlib.  These tests run fresh interpreters and
assert on the modules they imported, never on time.
"""

import json
import subprocess
import sys

import pytest

import meanshift

TIMEOUT = 600  # a hung interpreter fails its test instead of blocking the run
HEAVY = ("sklearn", "scipy", "matplotlib", "meanshift._api", "meanshift._core")


def run_python(args, cwd, code=None):
    cmd = [sys.executable, *args] if code is None else [sys.executable, "-c", code, *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)


def imported(importtime_stderr):
    """The modules a ``python -X importtime`` run imported."""
    names = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name)
    return names


def heavy(modules):
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY)


@pytest.mark.parametrize(
    "args, status",
    [
        (["--help"], 0),
        (["cluster", "--help"], 0),
        (["demo", "--help"], 0),
        (["--version"], 0),
        ([], 2),
        (["cluster", "data.csv", "--bandwidth", "-1"], 2),
        (["cluster", "data.csv", "--no-such-option"], 2),
    ],
    ids=["help", "cluster-help", "demo-help", "version", "no-command", "bad-value",
         "unknown-option"],
)
def test_command_answers_without_scikit_learn(tmp_path, args, status):
    result = run_python(["-X", "importtime", "-m", "meanshift", *args], tmp_path)
    assert result.returncode == status, result.stderr[-2000:]
    modules = imported(result.stderr)
    assert "meanshift._cli" in modules  # the parse really happened
    assert heavy(modules) == [], heavy(modules)
    output = result.stdout if status == 0 else result.stderr
    assert "meanshift" in output


def test_version_line(tmp_path):
    result = run_python(["-m", "meanshift", "--version"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"meanshift {meanshift.__version__}\n"
    assert result.stderr == ""


@pytest.mark.slow
def test_clustering_does_import_scikit_learn(tmp_path):
    """The check above can fail: the same probe sees the import when the
    command clusters."""
    result = run_python(
        ["-X", "importtime", "-m", "meanshift", "demo", "--points", "200", "--json",
         "--plot", "demo.png"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["n_samples"] == 200
    modules = imported(result.stderr)
    assert "sklearn" in modules and "meanshift._api" in modules
    assert "matplotlib" in modules


PROBE = """
import json, pickle, sys
import numpy as np

def loaded():
    return sorted(m for m in ("sklearn", "matplotlib", "meanshift._api", "meanshift._plot")
                  if m in sys.modules)

import meanshift
report = {"after_import": loaded(), "version": meanshift.__version__}
report["after_version"] = loaded()
report["dir"] = [n for n in meanshift.__all__ if n in dir(meanshift)]
report["after_dir"] = loaded()
try:
    meanshift.no_such_name
except AttributeError as e:
    report["missing"] = str(e)
from meanshift import MeanShift
report["after_MeanShift"] = loaded()
report["same"] = meanshift.MeanShift is MeanShift and "MeanShift" in vars(meanshift)
X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
model = MeanShift(bandwidth=1.0).fit(X)
again = pickle.loads(pickle.dumps(model))
report["pickle"] = [type(again).__module__, again.labels_.tolist() == model.labels_.tolist()]
report["plot"] = meanshift.plot.__module__
report["after_plot"] = loaded()
ns = {}
exec("from meanshift import *", ns)
report["star"] = sorted(n for n in ns if not n.startswith("__"))
print(json.dumps(report))
"""


@pytest.mark.slow
def test_import_is_lazy(tmp_path):
    result = run_python([], tmp_path, code=PROBE)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["after_import"] == []
    assert report["version"] == meanshift.__version__
    assert report["after_version"] == []
    assert report["dir"] == meanshift.__all__
    assert report["after_dir"] == []
    assert report["missing"] == "module 'meanshift' has no attribute 'no_such_name'"
    assert report["after_MeanShift"] == ["meanshift._api", "sklearn"]
    assert report["same"] is True
    assert report["pickle"] == ["meanshift._api", True]
    assert report["plot"] == "meanshift._plot"
    # the plot function is there; matplotlib comes only when it draws
    assert report["after_plot"] == ["meanshift._api", "meanshift._plot", "sklearn"]
    assert report["star"] == sorted(meanshift.__all__)


def test_import_from_the_source_tree_says_what_to_do():
    # python run in the clone's root imports the source folder, which has
    # no compiled kernel: one line saying what to do, not a missing module
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    if not (root / "meanshift" / "meson.build").exists():
        pytest.skip("not run from a source checkout")
    proc = run_python([], cwd=root, code="import meanshift")
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: meanshift is being imported from its source tree")
    assert "outside the source tree" in last
    assert "_version" not in proc.stderr
