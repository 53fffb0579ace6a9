#!/usr/bin/env bash
# Build meanshift with AddressSanitizer + UndefinedBehaviorSanitizer and run
# the test suite (and a leak check) under it.
#
# Usage (from anywhere; the repository is the parent of this script's folder):
#
#   tools/sanitize.sh                      # fresh venv in a temp dir, full run
#   tools/sanitize.sh --venv /tmp/ms-asan  # keep the venv and build there ...
#   tools/sanitize.sh --venv /tmp/ms-asan --reuse   # ... and reuse them (fast)
#   tools/sanitize.sh --reuse -- -k parity -x       # extra pytest arguments
#
# Options:
#   --venv DIR     virtual environment to create/use (env SANITIZE_VENV;
#                  default: a new mktemp dir under ${TMPDIR:-/tmp}, removed at
#                  exit after a clean run unless --keep)
#   --reuse        reuse DIR if it exists (no new venv; pip only tops up the
#                  dependencies; the package is always rebuilt, incrementally
#                  in the same build dir)
#   --keep         keep a mktemp venv (its path is printed; a failed run keeps
#                  it anyway, for the logs in <venv>/sanitizer-out and
#                  <venv>/sanitizer-logs)
#   --no-tests     only build, check instrumentation and run the leak check
#   --focused      run the focused subset that .ci/run runs (the tests marked
#                  `sanitize`: pytest -m sanitize --runslow tests) instead of the
#                  whole suite: the primitives, the hostile values, the
#                  misaligned arrays, the weights and kernels' extreme cases,
#                  the grid mode and one LocalCluster agreement test (a few
#                  minutes)
#   --no-leaks     skip the LeakSanitizer step
#   --fuzz MIN     also run tools/fuzz.py for MIN minutes under the sanitizers
#                  (a sanitizer report kills the fuzz worker: it is recorded as
#                  a crash finding, with the report and the input)
#   --python EXE   interpreter for the venv (env PYTHON; default python3)
#
# Environment: SANITIZE_VENV, PYTHON, PIP_INDEX_URL etc. as usual for pip;
# UBSAN_EXTRA, appended to UBSAN_OPTIONS.  (UBSan's runtime suppressions do
# not help here: the build makes every check abort, and gcc's aborting
# handlers ignore them.  To look past a known report in the tests, deselect
# its test: tools/sanitize.sh --reuse -- --deselect tests/x.py::test_y.)
#
# What it does:
#  1. venv + the build requirements and the `test` extra of pyproject.toml
#     (numpy, scikit-learn>=1.9, pytest, hypothesis, threadpoolctl, pandas,
#     meson-python, meson, ninja, Cython, ...);
#  2. `pip install --no-build-isolation` of this tree with meson options
#     b_sanitize=address,undefined, b_lundef=false, debugoptimized (-O2 -g),
#     -fno-omit-frame-pointer and -fno-sanitize-recover=undefined (any UB
#     aborts); the meson build dir is <venv>/build, never inside the repo;
#  3. checks that every installed compiled stage (_region, _tree, _core,
#     _merge, _bandwidth, _bins, _values) really is instrumented (asan/ubsan
#     symbols, libasan/libubsan in its dependencies) and that the runtime
#     reports a deliberate heap overflow (a canary through ASan's memmove
#     interceptor) - so a silently uninstrumented build cannot pass;
#  4. the README's test command, `pytest --doctest-modules --pyargs meanshift
#     tests`, from the repo root with LD_PRELOAD=libasan:libubsan (python is
#     not instrumented), ASAN_OPTIONS=detect_leaks=0 (CPython does not free
#     everything at exit), pytest's --capture=sys (so a report on fd 2 is
#     not swallowed with a captured test when the sanitizer aborts it): ASan
#     reports go to log files (log_path), UBSan's to stderr (gcc's libubsan
#     ignores log_path here), and both are looked for afterwards.  The first
#     report ends the run (halt_on_error).  Deselected: the tests that
#     assert on the resident size, which ASan's quarantine inflates;
#  5. tools/memcheck_workload.py with LeakSanitizer on (PYTHONMALLOC=malloc so
#     every Python allocation is visible too); the leak report is filtered
#     (tools/leak_filter.py): it fails only on leaks with a frame in
#     meanshift's own module, since CPython/numpy keep some blocks alive at
#     exit by design.  First a canary: a fake meanshift._core that leaks a
#     malloc block and a numpy array must be caught by the same filter.
# Exit status: 0 when the tests pass and no sanitizer reported anything;
# nonzero otherwise (the report files are printed).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${SANITIZE_VENV:-}"
python_exe="${PYTHON:-python3}"
reuse=0
keep=0
run_tests=1
focused=0
run_leaks=1
fuzz_minutes=0
pytest_extra=()

while [ $# -gt 0 ]; do
    case "$1" in
        --venv) venv="$2"; shift 2 ;;
        --reuse) reuse=1; shift ;;
        --keep) keep=1; shift ;;
        --no-tests) run_tests=0; shift ;;
        --focused) focused=1; shift ;;
        --no-leaks) run_leaks=0; shift ;;
        --fuzz) fuzz_minutes="$2"; shift 2 ;;
        --python) python_exe="$2"; shift 2 ;;
        --) shift; pytest_extra=("$@"); break ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "sanitize.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

status=1        # until the end says otherwise
if [ -z "$venv" ]; then
    venv="$(mktemp -d "${TMPDIR:-/tmp}/ms-asan.XXXXXX")"
    if [ "$keep" = 0 ]; then
        # a temporary venv goes when all is well; kept (with its logs) otherwise
        trap 'if [ "$status" = 0 ]; then rm -rf "$venv"; else echo "(kept $venv for its logs)" >&2; fi' EXIT
    fi
fi
case "$venv" in
    "$repo"|"$repo"/*) echo "sanitize.sh: the venv must be outside the repository" >&2; exit 2 ;;
esac
echo "== venv: $venv"

# -- the sanitizer runtimes (gcc's; clang would need its own paths) ----------
libasan="$(gcc -print-file-name=libasan.so)"
libubsan="$(gcc -print-file-name=libubsan.so)"
for lib in "$libasan" "$libubsan"; do
    if [ ! -e "$lib" ]; then
        echo "sanitize.sh: $lib not found (apt-get install gcc, or libasan8 libubsan1)" >&2
        exit 2
    fi
done
libasan="$(readlink -f "$libasan")"
libubsan="$(readlink -f "$libubsan")"

# -- 1. venv and dependencies -------------------------------------------------
if [ "$reuse" = 1 ] && [ -x "$venv/bin/python" ]; then
    echo "== reusing the venv"
else
    "$python_exe" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
py="$venv/bin/python"
# the build requirements and the test extra, read from pyproject.toml so that
# they follow the project (the fallback list is for a Python without tomllib)
mapfile -t deps < <("$py" - "$repo/pyproject.toml" <<'PY'
import sys
try:
    import tomllib
    with open(sys.argv[1], "rb") as f:
        meta = tomllib.load(f)
    reqs = meta["build-system"]["requires"] + meta["project"]["dependencies"]
    reqs += meta["project"].get("optional-dependencies", {}).get("test", [])
except Exception:
    reqs = ["numpy", "scikit-learn>=1.9", "pytest", "hypothesis", "threadpoolctl",
            "pandas", "meson-python>=0.15", "meson>=1.4", "Cython>=3.0.10"]
print("\n".join(reqs + ["ninja"]))
PY
)
echo "== dependencies: ${deps[*]}"
"$py" -m pip install --quiet "${deps[@]}"

# -- 2. instrumented build ----------------------------------------------------
build_dir="$venv/build"
echo "== building with ASan+UBSan (build dir $build_dir)"
"$py" -m pip install --quiet --no-build-isolation --no-deps --force-reinstall \
    -Cbuild-dir="$build_dir" \
    -Csetup-args=-Dbuildtype=debugoptimized \
    -Csetup-args=-Db_sanitize=address,undefined \
    -Csetup-args=-Db_lundef=false \
    "-Csetup-args=-Dc_args=-fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
    "$repo"

# -- 3. is it really instrumented? -------------------------------------------
# (importing it needs the runtime preloaded: locate the files instead)
for stage in _region _tree _core _merge _bandwidth _bins _values; do
    so="$(find "$venv/lib" -path "*/site-packages/meanshift/$stage.*so" | head -n 1)"
    echo "== module: $so"
    case "$so" in
        "") echo "sanitize.sh: meanshift.$stage is not installed" >&2; exit 1 ;;
        "$repo"/*) echo "sanitize.sh: found the module inside the source tree" >&2; exit 1 ;;
    esac
    n_asan="$(nm -D "$so" | grep -c ' U __asan_report_' || true)"
    n_ubsan="$(nm -D "$so" | grep -c ' U __ubsan_handle_' || true)"
    echo "   undefined __asan_report_* symbols: $n_asan, __ubsan_handle_* symbols: $n_ubsan"
    ldd "$so" | grep -E 'lib(asan|ubsan|gomp)' | sed 's/^/   /' || true
    if [ "$n_asan" -lt 1 ] || [ "$n_ubsan" -lt 1 ]; then
        echo "sanitize.sh: $so is not instrumented" >&2
        exit 1
    fi
    if nm -D "$so" | grep -q '__ubsan_handle_.*_abort'; then
        echo "   UBSan checks abort on error (-fno-sanitize-recover)"
    else
        echo "sanitize.sh: UBSan handlers are the recovering kind; expected *_abort" >&2
        exit 1
    fi
done

logdir="$venv/sanitizer-logs"     # ASan/LSan reports (log_path)
outdir="$venv/sanitizer-out"      # stdout+stderr of each step (UBSan prints
rm -rf "$logdir" "$outdir"        # to stderr whatever its log_path says)
mkdir -p "$logdir" "$outdir"

sanitized() {  # run a command under the preloaded runtimes
    env LD_PRELOAD="$libasan:$libubsan" \
        ASAN_OPTIONS="${ASAN_EXTRA:-detect_leaks=0}:halt_on_error=1:abort_on_error=0:handle_segv=1:detect_stack_use_after_return=1:log_path=$logdir/asan" \
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_EXTRA:+:$UBSAN_EXTRA}" \
        "$@"
}

# an ASan/UBSan report, in the report files or in a step's output
REPORT_RE='==[0-9]+==ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer)|^[^ ]+:[0-9]+:[0-9]+: runtime error: |SUMMARY: UndefinedBehaviorSanitizer'

show_reports() {  # print ASan/UBSan reports of the step whose output is $1
    local f
    for f in "$logdir"/asan*; do
        [ -e "$f" ] || continue
        if grep -qE 'ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer)' "$f"; then
            echo "---- $f"
            cat "$f"
        fi
    done
    if grep -qE "$REPORT_RE" "$1"; then
        echo "---- from $1:"
        grep -E -A40 "$REPORT_RE" "$1" | head -n 200
    fi
}

has_reports() {  # 0 if the step whose output is $1 produced an ASan/UBSan report
    grep -qsE 'ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer)' "$logdir"/asan* \
        || grep -qE "$REPORT_RE" "$1"
}

# the canary: a heap overflow through ASan's memmove interceptor must be
# reported, and must fail the command; otherwise this script proves nothing
echo "== canary: a deliberate heap-buffer-overflow must be reported"
set +e
(cd /tmp && sanitized "$py" -c '
import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
p = libc.malloc(8)
dst = ctypes.create_string_buffer(64)
ctypes.memmove(dst, p, 16)   # reads 8 bytes past the block
print("canary: not detected")
') > "$outdir/canary.txt" 2>&1
canary_rc=$?
set -e
if [ "$canary_rc" -eq 0 ] || ! grep -qs 'heap-buffer-overflow' "$logdir"/asan*; then
    cat "$outdir/canary.txt"
    echo "sanitize.sh: ASan did not report the canary overflow (rc=$canary_rc)" >&2
    exit 1
fi
echo "   detected (rc=$canary_rc) - the runtime is live"
rm -f "$logdir"/*

status=0

# -- 4. the test suite -------------------------------------------------------
if [ "$run_tests" = 1 ]; then
    echo "== test suite under ASan+UBSan (output also in $outdir/pytest.txt)"
    # from the repo root exactly as the README says (conftest drops the root
    # from sys.path); --capture=sys leaves fd 2 alone, so a sanitizer report
    # reaches the log even when it kills the process mid-test; nothing is
    # written into the repository (no bytecode, no pytest cache, hypothesis'
    # example database in the venv).  Deselected: the tests that assert on
    # the resident size (after many fits; after an interrupted fit): ASan
    # keeps freed blocks in quarantine (256 MiB) on purpose and its allocator
    # returns memory to the system lazily, so the size grows without any
    # leak (step 5 looks for leaks instead).
    if [ "$focused" = 1 ]; then
        # what .ci/run checks on every change, the tests marked `sanitize`
        # (pyproject.toml's markers): every compiled primitive, hostile and
        # misaligned input, extreme weights and bandwidths, the grid mode's
        # cells, and one fit on a LocalCluster (network frames at odd
        # addresses).  --runslow: the marked tests that are also slow run
        # too (the selection is a marker, not the files named)
        selection=(-m sanitize --runslow tests)
    else
        selection=(--doctest-modules --pyargs meanshift tests)
    fi
    set +e
    (cd "$repo" && PYTHONDONTWRITEBYTECODE=1 \
        HYPOTHESIS_STORAGE_DIRECTORY="$venv/hypothesis" sanitized \
        "$py" -m pytest -p no:cacheprovider --capture=sys \
        --deselect tests/test_validation.py::test_repeated_fits_do_not_grow_memory \
        --deselect "tests/test_progress.py::test_sigint_interrupts_a_long_fit" \
        "${selection[@]}" "${pytest_extra[@]}") \
        2>&1 | tee "$outdir/pytest.txt"
    rc=${PIPESTATUS[0]}
    set -e
    echo "== pytest exit status: $rc"
    if has_reports "$outdir/pytest.txt"; then
        show_reports "$outdir/pytest.txt"
        echo "sanitize.sh: sanitizer reports above" >&2
        status=1
    elif [ "$rc" -ne 0 ]; then
        status=1
    else
        echo "   no sanitizer reports"
    fi
    rm -f "$logdir"/*
fi

# -- 5. leaks ----------------------------------------------------------------
# full (slow) unwinding of allocation stacks: numpy and python have no frame
# pointers, and the filter must see meanshift's frames behind numpy's;
# exitcode=23 tells LeakSanitizer's verdict from a failing script (1)
LEAK_OPTS="detect_leaks=1:fast_unwind_on_malloc=0:malloc_context_size=40:exitcode=23"
if [ "$run_leaks" = 1 ]; then
    # the leak canary: a throwaway module named meanshift._core (so its frames
    # look like ours) that leaks a malloc block and a numpy array must be
    # caught by the filter; built outside the repository
    echo "== leak canary: a deliberate leak in a fake meanshift._core must be caught"
    canary="$venv/leak-canary"
    rm -rf "$canary" && mkdir -p "$canary/meanshift"
    : > "$canary/meanshift/__init__.py"
    cat > "$canary/meanshift/_core.pyx" <<'PYX'
from libc.stdlib cimport malloc
from cpython.ref cimport Py_INCREF
import numpy as np
def leak():
    cdef void* p = malloc(100)     # never freed
    a = np.ones(500)
    Py_INCREF(a)                   # never released
PYX
    ext="$("$py" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
    "$venv/bin/cython" -3 "$canary/meanshift/_core.pyx" -o "$canary/meanshift/_core.c"
    gcc -shared -fPIC -O1 -g -fsanitize=address -fno-omit-frame-pointer -w \
        -I"$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" \
        "$canary/meanshift/_core.c" -o "$canary/meanshift/_core$ext"
    set +e
    (cd /tmp && PYTHONPATH="$canary" PYTHONMALLOC=malloc ASAN_EXTRA="$LEAK_OPTS" \
        sanitized "$py" -c 'import meanshift._core as c; c.leak()') > "$outdir/leak-canary.txt" 2>&1
    rc=$?
    "$py" "$repo/tools/leak_filter.py" lsan "$logdir"/asan* > "$outdir/leak-canary-filter.txt"
    caught=$?
    set -e
    if [ "$rc" -ne 23 ] || [ "$caught" -ne 1 ]; then
        cat "$outdir/leak-canary.txt" "$outdir/leak-canary-filter.txt"
        echo "sanitize.sh: the leak canary was not caught (rc=$rc, filter=$caught)" >&2
        exit 1
    fi
    echo "   caught ($(head -n 1 "$outdir/leak-canary-filter.txt" | sed 's/^ *//'))"
    rm -f "$logdir"/*

    echo "== leak check (LeakSanitizer) on tools/memcheck_workload.py"
    set +e
    (cd /tmp && PYTHONMALLOC=malloc ASAN_EXTRA="$LEAK_OPTS" \
        sanitized "$py" "$repo/tools/memcheck_workload.py") > "$outdir/leaks.txt" 2>&1
    rc=$?
    set -e
    echo "== workload exit status: $rc (23: LeakSanitizer found blocks, judged below)"
    if has_reports "$outdir/leaks.txt"; then
        show_reports "$outdir/leaks.txt"
        echo "sanitize.sh: sanitizer error in the leak-check workload" >&2
        status=1
    elif [ "$rc" -ne 0 ] && [ "$rc" -ne 23 ]; then
        tail -n 40 "$outdir/leaks.txt"
        echo "sanitize.sh: the leak-check workload failed" >&2
        status=1
    elif ! "$py" "$repo/tools/leak_filter.py" lsan "$logdir"/asan*; then
        status=1
    fi
fi

# -- 6. fuzzing under the sanitizers (optional) -------------------------------
if [ "$fuzz_minutes" != 0 ]; then
    echo "== tools/fuzz.py for $fuzz_minutes min under ASan+UBSan (findings in $outdir/fuzz)"
    rm -rf "$outdir/fuzz"
    set +e
    (cd /tmp && sanitized "$py" "$repo/tools/fuzz.py" --minutes "$fuzz_minutes" \
        --out "$outdir/fuzz") 2>&1 | tee "$outdir/fuzz.txt"
    rc=${PIPESTATUS[0]}
    set -e
    if [ "$rc" -ne 0 ]; then
        echo "sanitize.sh: the fuzzer has findings (see $outdir/fuzz)" >&2
        status=1
    fi
fi

if [ "$status" -eq 0 ]; then
    echo "== sanitize.sh: OK (no ASan/UBSan/LSan report against meanshift$([ "$run_tests" = 1 ] && echo '; tests passed'))"
else
    echo "== sanitize.sh: FAILED" >&2
fi
exit "$status"
