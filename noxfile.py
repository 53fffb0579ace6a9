"""The project's checks as nox sessions (https://nox.thea.codes).

    pip install nox
    nox                      # lint and tests (the defaults)
    nox -s typing docs       # named sessions
    nox -s tests -- -k parity -x     # extra pytest arguments after --
    nox -l                   # the list

lint, tests, typing and docs build their own virtual environments (under
.nox/, gitignored; with the Python that runs nox, or `nox --force-python
3.12`): they are what .github/workflows/pr.yml runs on a pull request.
asan, wheel, valgrind and blas call the shell scripts in tools/ that
already do the job (tools/sanitize.sh and tools/check_wheel.sh make their
own environments).  .ci/run is still the whole CI run.
"""

import os
import tempfile
from glob import glob
from pathlib import Path

import nox

nox.needs_version = ">=2024.3.2"  # nox.project.load_toml
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).resolve().parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
# the pinned versions of ruff and cython-lint (.pre-commit-config.yaml has the same)
LINT = PYPROJECT["project"]["optional-dependencies"]["lint"]


def _python_of(session):
    """The interpreter of the session's virtual environment."""
    return os.path.join(session.bin, "python")


@nox.session
def lint(session):
    """ruff and cython-lint, with pyproject.toml's settings."""
    session.install(*LINT)
    session.run("ruff", "check", ".", *session.posargs)
    session.run("cython-lint", *sorted(glob("meanshift/*.pyx") + glob("meanshift/*.pxd")))


@nox.session
def tests(session):
    """The README's quick test suite against a regular (non-editable)
    install; `nox -s tests -- --runslow` runs the slow tests too, as CI."""
    session.install(".[test]")
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "--doctest-modules",
                "--pyargs", "meanshift", "tests", *session.posargs)


@nox.session
def typing(session):
    """mypy --strict on tests/typing against the installed stubs, from
    outside the source tree (as .ci/run)."""
    session.install(".", "mypy>=1.10")
    with tempfile.TemporaryDirectory() as work:
        session.chdir(work)
        session.run("mypy", "--strict", "--config-file", str(ROOT / "pyproject.toml"),
                    "--cache-dir", os.path.join(work, "mypy-cache"),
                    str(ROOT / "tests" / "typing"))


@nox.session
def docs(session):
    """The Sphinx site, warnings as errors, its examples run (as .ci/run);
    the HTML goes to docs/_build/html."""
    session.install(".[docs]")
    for generated in ("generated", "auto_examples"):
        session.run("rm", "-rf", str(ROOT / "docs" / generated), external=True)
    with tempfile.TemporaryDirectory() as work:
        session.chdir(work)
        session.run("sphinx-build", "-W", "--keep-going", "-q", "-b", "html",
                    "-d", os.path.join(work, "doctrees"), str(ROOT / "docs"),
                    str(ROOT / "docs" / "_build" / "html"))


@nox.session(venv_backend="none")
def asan(session):
    """tools/sanitize.sh: an ASan+UBSan build in a venv of its own; by
    default the focused subset .ci/run runs (--focused), else the
    arguments given: `nox -s asan -- --venv /tmp/ms-asan --reuse`."""
    session.run("bash", "tools/sanitize.sh", *(session.posargs or ["--focused"]),
                external=True)


@nox.session(venv_backend="none")
def wheel(session):
    """tools/check_wheel.sh: the sdist, the wheel built from it, repaired,
    installed where no compiler is reachable and tested (--runslow)."""
    session.run("bash", "tools/check_wheel.sh", *session.posargs, external=True)


@nox.session
def valgrind(session):
    """tools/valgrind.sh (needs valgrind) against the package installed in
    this session's environment."""
    session.install(".")
    session.run("bash", "tools/valgrind.sh", "--python", _python_of(session),
                *session.posargs, external=True)


@nox.session
def blas(session):
    """tools/check_blas.sh: the test suite under each OpenBLAS kernel this
    CPU runs, against the package installed in this session's environment."""
    session.install(".[test]")
    session.run("bash", "tools/check_blas.sh", "--python", _python_of(session),
                *session.posargs, external=True)
