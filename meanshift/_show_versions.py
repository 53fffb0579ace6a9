"""``show_versions()``: what a bug report needs to know about this install.

The versions of meanshift, Python and the libraries it uses, the platform,
how the compiled kernel was built (compiler, flags, SIMD level, OpenMP; as
meson saw it at configure time, from the generated ``meanshift._version``)
and the OpenMP runtime and thread count in use.  Imports nothing that
meanshift does not already import (matplotlib, in particular, is only looked
up in the installed metadata).
"""

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

from ._threads import _cpu_count

__all__ = ["show_versions"]

# distributions reported by version, looked up without importing them
_DEPENDENCIES = ("numpy", "scikit-learn", "scipy", "threadpoolctl", "matplotlib", "pandas")


def _dist_version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _system_info():
    return {
        "python": sys.version.replace("\n", " "),
        "executable": sys.executable,
        "machine": platform.platform(),
        "cpus": f"{os.cpu_count()} ({_cpu_count()} usable)",
    }


def _cpu_features():
    """The CPU's SIMD extensions as numpy detected them at import, or None."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # numpy < 2
        try:
            from numpy.core._multiarray_umath import __cpu_features__
        except ImportError:  # pragma: no cover - a numpy without the table
            return None
    return __cpu_features__


def _build_section(build, cpu_features):
    compiler = f"{build['compiler']} {build['compiler_version']}"
    if build["linker"]:
        compiler += f" (linker {build['linker']})"
    section = {
        "compiler": compiler,
        "cython": build["cython_version"],
        "build type": (
            f"{build['buildtype']} (optimization {build['optimization']}, "
            f"b_ndebug={build['ndebug']})"
        ),
        "c_args": build["c_args"] or "(none)",
        "target": (
            f"{build['host_system']} {build['host_cpu_family']}"
            + (" (cross build)" if build["cross_build"] else "")
        ),
        "SIMD baseline": (
            f"{build['simd_baseline']} ("
            + (
                f"predefined: {build['simd_macros']}"
                if build["simd_macros"]
                else "no SIMD macro predefined"
            )
            + "; -march/-arch from c_args, else the compiler's default)"
        ),
        "SIMD clones": build["simd_clones"],
    }
    if build["simd_clones"].startswith("avx2") and cpu_features is not None:
        has_avx2 = bool(cpu_features.get("AVX2"))
        section["SIMD in use"] = (
            "avx2 clone (this CPU has AVX2)" if has_avx2
            else "default clone (this CPU has no AVX2)"
        )
    if build["openmp"]:
        section["OpenMP at build"] = (
            f"yes (OpenMP {build['openmp_version']}, via {build['openmp_via']})"
        )
    else:
        section["OpenMP at build"] = "no: built without threads"
    return section


def _package_dirs():
    """Folders where a wheel's repair tool puts meanshift's own libraries."""
    package = Path(__file__).resolve().parent
    return [package, package.parent / "meanshift.libs"]


def _threads_section(core):
    section = {
        "openmp_enabled": str(core.openmp_enabled()),
        "omp_get_max_threads": str(core.max_threads()),
    }
    try:
        from ._threads import _effective_n_threads

        section["threads for n_jobs=None"] = str(_effective_n_threads(None))
    except Exception:  # noqa: BLE001 - a report must not fail on this
        pass

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        section["OpenMP runtimes"] = "(threadpoolctl not installed)"
        return section
    own_dirs = _package_dirs()
    runtimes = []
    for info in threadpool_info():
        if info.get("user_api") != "openmp":
            continue
        path = Path(info.get("filepath", ""))
        owner = ""
        if any(folder in path.parents for folder in own_dirs):
            owner = ", meanshift's own (vendored)"
        version = info.get("version")
        runtimes.append(
            f"{info.get('prefix', '?')} {version or '(version unknown)'}, "
            f"{info.get('num_threads')} threads{owner}: {path}"
        )
    section["OpenMP runtimes"] = runtimes or "(none loaded)"
    return section


def _get_info():
    """The report as a dict of sections, each a dict of name -> value (a
    string, None for a missing package, or a list of strings)."""
    from . import _core
    from ._version import __version__, build_info

    return {
        "meanshift": {"version": __version__},
        "System": _system_info(),
        "Python dependencies": {name: _dist_version(name) for name in _DEPENDENCIES},
        "Build": _build_section(build_info, _cpu_features()),
        "Threads": _threads_section(_core),
    }


def show_versions(file=None):
    """Print versions and build information, for bug reports.

    Prints the versions of meanshift, Python and its dependencies, the
    platform, how the compiled kernel was built (compiler and version,
    flags, the SIMD level it targets and its AVX2 clone, OpenMP), and the
    OpenMP runtime and number of threads in use.  matplotlib and pandas are
    reported from their installed metadata, not imported.

    Parameters
    ----------
    file : file-like, default=None
        Where to print; ``None`` means ``sys.stdout``.

    Examples
    --------
    >>> from meanshift._show_versions import show_versions
    >>> show_versions()  # doctest: +ELLIPSIS
    meanshift: ...
    <BLANKLINE>
    System:
    ...
    """
    out = sys.stdout if file is None else file
    info = _get_info()
    print(f"meanshift: {info['meanshift']['version']}", file=out)
    for title, section in info.items():
        if title == "meanshift":
            continue
        print(f"\n{title}:", file=out)
        width = max(len(name) for name in section)
        for name, value in section.items():
            if value is None:
                value = "not installed"
            if isinstance(value, list):
                first, *rest = value
                print(f"{name:>{width}}: {first}", file=out)
                for line in rest:
                    print(f"{'':>{width}}  {line}", file=out)
            else:
                print(f"{name:>{width}}: {value}", file=out)
