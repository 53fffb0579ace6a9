"""meanshift.__version__ and show_versions(): one version everywhere, and a
report that names everything a bug report needs."""

import importlib.metadata
import io
import re
import subprocess
import sys

import pytest

import meanshift
from meanshift import _version
from meanshift._show_versions import _get_info, show_versions


def test_version_matches_installed_metadata():
    installed = importlib.metadata.version("meanshift")
    assert meanshift.__version__ == installed
    assert _version.__version__ == installed
    assert _version.build_info["version"] == installed


def test_version_is_a_release_number():
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.dev\d+)?", meanshift.__version__)


def test_show_versions_is_public():
    assert meanshift.show_versions is show_versions


@pytest.fixture(scope="module")
def report():
    out = io.StringIO()
    show_versions(file=out)
    return out.getvalue()


def test_report_names_each_item(report):
    info = _get_info()
    build = _version.build_info
    expected = [
        f"meanshift: {meanshift.__version__}",
        "python: " + sys.version.split()[0],
        "machine: ",
        "numpy: " + importlib.metadata.version("numpy"),
        "scikit-learn: " + importlib.metadata.version("scikit-learn"),
        "threadpoolctl: " + importlib.metadata.version("threadpoolctl"),
        f"compiler: {build['compiler']} {build['compiler_version']}",
        f"SIMD baseline: {build['simd_baseline']}",
        f"SIMD clones: {build['simd_clones']}",
        f"openmp_enabled: {meanshift._core.openmp_enabled()}",
        f"omp_get_max_threads: {meanshift._core.max_threads()}",
        "OpenMP runtimes: ",
    ]
    for text in expected:
        assert text in report, f"{text!r} is missing from:\n{report}"
    assert set(info) == {"meanshift", "System", "Python dependencies", "Build", "Threads"}


def test_build_info_is_what_the_build_used():
    build = _version.build_info
    assert build["compiler"] and build["compiler_version"]
    assert build["host_cpu_family"]
    # OpenMP at build time is what the compiled module reports at run time
    assert build["openmp"] == meanshift._core.openmp_enabled()
    if build["openmp"]:
        assert re.fullmatch(r"\d+\.\d+|_OPENMP=\d+", build["openmp_version"])
        assert build["openmp_via"]


def test_report_lists_the_openmp_runtime_in_use():
    threads = _get_info()["Threads"]
    runtimes = threads["OpenMP runtimes"]
    if meanshift._core.openmp_enabled():
        assert isinstance(runtimes, list) and runtimes
        assert any(str(meanshift._core.max_threads()) + " threads" in r for r in runtimes)
    assert int(threads["omp_get_max_threads"]) >= 1


def test_show_versions_prints_to_stdout(capsys):
    show_versions()
    assert capsys.readouterr().out.startswith(f"meanshift: {meanshift.__version__}\n")


@pytest.mark.slow
def test_show_versions_does_not_import_matplotlib(tmp_path):
    code = (
        "import sys\n"
        "from meanshift._show_versions import show_versions\n"
        "show_versions()\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'\n"
    )
    # from outside the source tree, whose meanshift has no compiled module
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert "meanshift: " in run.stdout
