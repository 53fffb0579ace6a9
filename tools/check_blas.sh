#!/usr/bin/env bash
# Run the test suite under each OpenBLAS kernel this CPU can run, with one
# OpenMP thread, and on one core; print a table; exit non-zero if any
# configuration fails.
#
# scikit-learn, the oracle of the parity tests, computes some distances
# through a matrix product whose rounding depends on the BLAS kernel, so a
# verdict that echoed its rounding would pass on one machine and fail on
# another.  This script runs the same installed package and the same tests
# under every kernel OpenBLAS can be forced to use here (OPENBLAS_CORETYPE),
# and checks with threadpoolctl which kernel it really runs: a build may
# lack a kernel and run another (Zen runs Haswell's; Prescott and Core2 may
# both report Katmai), so configurations are grouped by the kernel actually
# reported and each distinct kernel is tested once.
#
# Usage (from anywhere; the tests run from the repository root):
#   tools/check_blas.sh [--python PATH] [--only NAMES] [--log-dir DIR] [--list]
#                       [-- PYTEST-ARGS...]
#
#   --python PATH   the interpreter of the venv where meanshift (and the
#                   test requirements) are installed; default: `python` on
#                   PATH (the active venv)
#   --only NAMES    comma-separated configuration names to run (see --list)
#   --log-dir DIR   keep each configuration's pytest output there (default:
#                   a temporary folder, printed at the end)
#   --list          print the configurations and the kernels they report,
#                   run nothing
#   -- ARGS         pytest arguments replacing the default test selection
#                   (the README's `--doctest-modules --pyargs meanshift
#                   tests`), e.g. `-- tests/test_parity.py -x`
#
# Every configuration sets or unsets OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE,
# OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, GOTO_NUM_THREADS and
# OPENBLAS_VERBOSE explicitly, whatever the calling environment holds.

set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
python=python
only=""
log_dir=""
list_only=0
pytest_args=(--doctest-modules --pyargs meanshift tests --runslow)

die() { echo "check_blas.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --python) [ $# -ge 2 ] || die "--python needs a path"; python=$2; shift 2 ;;
        --python=*) python=${1#*=}; shift ;;
        --only) [ $# -ge 2 ] || die "--only needs names"; only=$2; shift 2 ;;
        --only=*) only=${1#*=}; shift ;;
        --log-dir) [ $# -ge 2 ] || die "--log-dir needs a folder"; log_dir=$2; shift 2 ;;
        --log-dir=*) log_dir=${1#*=}; shift ;;
        --list) list_only=1; shift ;;
        -h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        --) shift; [ $# -gt 0 ] && pytest_args=("$@"); break ;;
        *) die "unknown argument '$1' (pytest arguments go after --)" ;;
    esac
done

command -v "$python" >/dev/null 2>&1 || die "no interpreter '$python'"
(cd / && "$python" -c "import meanshift._core, sklearn, threadpoolctl, pytest") 2>/dev/null \
    || die "'$python' lacks meanshift (installed), scikit-learn, threadpoolctl or pytest"

if [ -z "$log_dir" ]; then
    log_dir=$(mktemp -d "${TMPDIR:-/tmp}/check_blas.XXXXXX")
fi
mkdir -p "$log_dir" || die "cannot create $log_dir"

# --- which kernels this CPU can run -----------------------------------------

flags=" $(grep -m1 -E '^(flags|Features)' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
has() { case "$flags" in *" $1 "*) return 0 ;; esac; return 1; }

candidates=()
if has sse2; then
    # oldest first; each needs the instruction sets of its generation
    candidates+=(Prescott)
    has ssse3 && candidates+=(Core2)
    has sse4_2 && candidates+=(Nehalem)
    has avx && candidates+=(Sandybridge)
    has avx2 && has fma && candidates+=(Haswell Zen)
    has avx512f && has avx512bw && has avx512dq && has avx512vl && candidates+=(SkylakeX)
    has avx512_bf16 && candidates+=(Cooperlake)
else
    echo "check_blas.sh: not an x86-64 CPU; only the default kernel is tested" >&2
fi

# The environment of one configuration: everything explicit.
run_env() {  # run_env CORETYPE OMP_THREADS CMD...
    local coretype=$1 omp=$2
    shift 2
    local unset=(-u OPENBLAS_L2_SIZE -u OPENBLAS_NUM_THREADS -u GOTO_NUM_THREADS
                 -u OPENBLAS_VERBOSE) set=()
    # (env takes every -u before the first assignment)
    if [ -n "$coretype" ]; then set+=("OPENBLAS_CORETYPE=$coretype")
    else unset+=(-u OPENBLAS_CORETYPE); fi
    if [ -n "$omp" ]; then set+=("OMP_NUM_THREADS=$omp")
    else unset+=(-u OMP_NUM_THREADS); fi
    env "${unset[@]}" "${set[@]}" "$@"
}

# The kernels OpenBLAS reports, once numpy, scipy and scikit-learn's
# pairwise distances (which call scipy's BLAS) are loaded: "arch@lib" for
# each OpenBLAS library, comma-separated.
probe='
import numpy, scipy.linalg, sklearn.metrics
from threadpoolctl import threadpool_info
seen = sorted({(i.get("architecture") or "?", i["filepath"].rsplit("/", 1)[-1].split("-")[0].split(".so")[0])
               for i in threadpool_info() if i["internal_api"] == "openblas"})
print(",".join(f"{a}@{lib}" for a, lib in seen) or "no-openblas")
'
kernel_of() {  # kernel_of CORETYPE [taskset]
    local coretype=$1 prefix=()
    [ "${2:-}" = taskset ] && prefix=(taskset -c 0)
    (cd / && run_env "$coretype" "" "${prefix[@]}" "$python" -c "$probe" 2>/dev/null) || echo "probe-failed"
}
kernel_names() {  # "Haswell@libscipy_openblas,Haswell@libscipy_openblas64_" -> Haswell
    echo "$1" | sed 's/@[^,]*//g' | tr ',' '\n' | sort -u | paste -sd, -
}

# --- the configurations ------------------------------------------------------
# name|coretype|omp threads|taskset|kernel

configs=()
default_kernel=$(kernel_of "")
configs+=("default||||$default_kernel")
declare -A seen_kernel=(["$default_kernel"]=default)
for c in "${candidates[@]}"; do
    k=$(kernel_of "$c")
    if [ -n "${seen_kernel[$k]:-}" ]; then
        echo "check_blas.sh: OPENBLAS_CORETYPE=$c runs $(kernel_names "$k"), as '${seen_kernel[$k]}': not run again" >&2
        continue
    fi
    seen_kernel[$k]=$c
    configs+=("$c|$c|||$k")
done
configs+=("OMP_NUM_THREADS=1||1||$default_kernel")
if command -v taskset >/dev/null 2>&1; then
    configs+=("taskset -c 0||||$(kernel_of "" taskset)")
else
    echo "check_blas.sh: no taskset; the one-core configuration is left out" >&2
fi

if [ -n "$only" ]; then
    selected=()
    IFS=, read -r -a wanted <<<"$only"
    for cfg in "${configs[@]}"; do
        for w in "${wanted[@]}"; do
            [ "${cfg%%|*}" = "$w" ] && selected+=("$cfg")
        done
    done
    [ ${#selected[@]} -gt 0 ] || die "--only '$only' matches no configuration (see --list)"
    configs=("${selected[@]}")
fi

if [ $list_only = 1 ]; then
    printf '%-22s %s\n' configuration "kernel reported (by library)"
    for cfg in "${configs[@]}"; do
        IFS='|' read -r name _ _ _ kernel <<<"$cfg"
        printf '%-22s %s\n' "$name" "$kernel"
    done
    exit 0
fi

# --- run ---------------------------------------------------------------------

echo "python:   $(cd / && "$python" -c 'import sys; print(sys.executable)')"
echo "cpu:      $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
echo "tests:    pytest ${pytest_args[*]}"
echo "logs:     $log_dir"
echo

rows=()
status=0
for cfg in "${configs[@]}"; do
    IFS='|' read -r name coretype omp use_taskset kernel <<<"$cfg"
    prefix=()
    [ "$name" = "taskset -c 0" ] && prefix=(taskset -c 0)
    log="$log_dir/$(printf %s "$name" | tr -c 'A-Za-z0-9_.=-' '_').log"
    verdict=ok
    # the kernel must be the one asked for (or its alias in this build,
    # grouped above); for default configurations whatever OpenBLAS picks
    if [ "$kernel" = probe-failed ]; then verdict="kernel probe failed"; fi
    echo "== $name (kernel $(kernel_names "$kernel"))"
    start=$(date +%s.%N)
    (cd "$repo" && run_env "$coretype" "$omp" "${prefix[@]}" \
        "$python" -m pytest -p no:cacheprovider "${pytest_args[@]}") >"$log" 2>&1
    rc=$?
    end=$(date +%s.%N)
    seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", b - a }')
    # the closing line, with or without the ==== frame (-q drops it)
    summary=$(grep -E '^(=+ )?([0-9]+ (passed|failed|errors?|skipped|xfailed|xpassed|deselected)|no tests ran).* in [0-9.]+s' "$log" | tail -1 \
              | sed -E 's/^=+ //; s/ in [0-9.]+s.*//')
    passed=$(echo "$summary" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || true)
    failed=$(echo "$summary" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' || true)
    errors=$(echo "$summary" | grep -oE '[0-9]+ errors?' | grep -oE '[0-9]+' || true)
    skipped=$(echo "$summary" | grep -oE '[0-9]+ skipped' | grep -oE '[0-9]+' || true)
    passed=${passed:-0}; failed=${failed:-0}; errors=${errors:-0}; skipped=${skipped:-0}
    # the kernel during the run itself, re-checked after it (an environment
    # problem would show here too)
    if [ "$name" = "taskset -c 0" ]; then after=$(kernel_of "$coretype" taskset); else after=$(kernel_of "$coretype"); fi
    [ "$after" = "$kernel" ] || verdict="kernel changed: $(kernel_names "$after")"
    if [ $rc -ne 0 ] || [ "$verdict" != ok ]; then
        status=1
        [ "$verdict" = ok ] && verdict="FAILED (pytest exit $rc)"
        grep -E '^(FAILED|ERROR) ' "$log" | head -20 | sed 's/^/   /'
    fi
    echo "   $summary (${seconds} s) -> $verdict"
    threads=${omp:-all}
    [ "$name" = "taskset -c 0" ] && threads="1 core"
    rows+=("$(printf '%-22s %-14s %-8s %7s %7s %7s %7s %7s  %s' \
        "$name" "$(kernel_names "$kernel")" "$threads" "$passed" "$failed" "$errors" "$skipped" "${seconds}s" "$verdict")")
done

echo
printf '%-22s %-14s %-8s %7s %7s %7s %7s %7s  %s\n' \
    configuration kernel threads passed failed errors skipped time verdict
for row in "${rows[@]}"; do echo "$row"; done
echo
echo "logs in $log_dir"
exit $status
