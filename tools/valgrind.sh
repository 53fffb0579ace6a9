#!/usr/bin/env bash
# Run tools/memcheck_workload.py under valgrind's memcheck against an
# installed meanshift, and fail on any memory error or definite leak.
#
# Usage:
#
#   tools/valgrind.sh                       # python3 on PATH, full workload
#   tools/valgrind.sh --python /work/venv/bin/python
#   tools/valgrind.sh --quick               # smaller data (~2x faster)
#   tools/valgrind.sh --track-origins       # where uninitialised values come from (slower)
#   tools/valgrind.sh -- --gen-suppressions=all   # extra valgrind arguments
#
# Options:
#   --python EXE     interpreter with meanshift installed (env PYTHON; default
#                    python3). The compiled package is used as installed:
#                    the release build is what users run. For line numbers in
#                    reports, install a debug build into a separate venv:
#                    pip install --no-build-isolation -Csetup-args=-Dbuildtype=debugoptimized .
#   --out DIR        where the logs go (default: a new mktemp dir, kept)
#   --quick          pass --quick to the workload
#   --track-origins  add --track-origins=yes
#
# Needs valgrind (apt-get install valgrind). The workload takes ~3 s
# natively, a few minutes under memcheck.
#
# What counts as a failure (exit status nonzero):
#   * any memcheck error that is not a leak, anywhere in the process:
#     invalid read/write, use of an uninitialised value, invalid free,
#     overlapping memcpy, bad syscall argument, ...;
#   * any "definitely lost" block with a meanshift frame in its allocation
#     stack (--leak-check=full --errors-for-leak-kinds=definite lists each
#     definite leak with its stack; CPython 3.11 itself leaves ~100 KB
#     definitely lost at exit with PYTHONMALLOC=malloc, so the records are
#     attributed by tools/leak_filter.py rather than all counted);
#   * the workload itself failing (a wrong result raises in it).
# Known noise of the interpreter and of the loader is suppressed by
# tools/valgrind-python.supp (each entry says why; none names meanshift).
# Blind spot of those suppressions: an undefined value that our code hands
# to the interpreter as a Python scalar and that is only ever compared
# there; values in arrays are checked where numpy reads them.
# Run settings: PYTHONMALLOC=malloc (pymalloc's arenas hide blocks from
# memcheck and trip its uninitialised-value checks), OMP_WAIT_POLICY=passive
# (valgrind runs one thread at a time; spinning OpenMP workers would crawl),
# OPENBLAS_NUM_THREADS=1.
# Evidence that meanshift's code ran: memcheck's allocation tree
# (--xtree-memory=full, ~1 GB, deleted after) is searched for _core's
# functions; they are counted, listed in <out>/core-functions.txt and the
# entry points printed.  Output: <out>/memcheck.log (the full log),
# workload.txt, verdict.txt, core-functions.txt.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python_exe="${PYTHON:-python3}"
out=""
workload_args=()
vg_extra=()

while [ $# -gt 0 ]; do
    case "$1" in
        --python) python_exe="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --quick) workload_args+=(--quick); shift ;;
        --track-origins) vg_extra+=(--track-origins=yes); shift ;;
        --) shift; vg_extra+=("$@"); break ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "valgrind.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

if ! command -v valgrind > /dev/null; then
    echo "valgrind.sh: valgrind not found (apt-get install valgrind)" >&2
    exit 2
fi
if [ -z "$out" ]; then
    out="$(mktemp -d "${TMPDIR:-/tmp}/ms-valgrind.XXXXXX")"
fi
mkdir -p "$out"
case "$(cd "$out" && pwd)" in
    "$repo"|"$repo"/*) echo "valgrind.sh: --out must be outside the repository" >&2; exit 2 ;;
esac

# the compiled module, imported from outside the source tree
so="$(cd /tmp && "$python_exe" -c 'import meanshift._core as c; print(c.__file__)')"
case "$so" in
    "$repo"/*) echo "valgrind.sh: meanshift resolves to the source tree ($so)" >&2; exit 2 ;;
esac
echo "== python: $(command -v "$python_exe")"
echo "== module: $so"
echo "== logs:   $out"
echo "== $(valgrind --version)"

log="$out/memcheck.log"
xtree="$out/xtmemory.kcg"
set +e
(cd /tmp && env PYTHONMALLOC=malloc OMP_WAIT_POLICY=passive OPENBLAS_NUM_THREADS=1 \
    valgrind --tool=memcheck \
        --leak-check=full \
        --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite \
        --error-exitcode=99 \
        --num-callers=40 \
        --suppressions="$repo/tools/valgrind-python.supp" \
        --xtree-memory=full --xtree-memory-file="$xtree" \
        --log-file="$log" \
        "${vg_extra[@]}" \
        "$python_exe" "$repo/tools/memcheck_workload.py" "${workload_args[@]}") \
    2>&1 | tee "$out/workload.txt"
rc=${PIPESTATUS[0]}
set -e
status=0

# valgrind's exit status is 99 whenever it counted an error, and CPython's
# own definite leaks are counted: the verdict comes from the log below, and
# the workload's success from its last line (a failing workload's status
# would be hidden behind 99)
echo "== valgrind exit status: $rc (99: memcheck counted errors or leaks, judged below)"
if ! grep -q '^workload done' "$out/workload.txt"; then
    echo "valgrind.sh: the workload did not finish (see $out/workload.txt)" >&2
    status=1
fi
echo "== memcheck's summary (whole process: interpreter, numpy, meanshift)"
grep -E 'ERROR SUMMARY|definitely lost:|indirectly lost:|possibly lost:|still reachable:|suppressed:' "$log" \
    | sed 's/^==[0-9]*== */   /'
echo "== verdict (tools/leak_filter.py): non-leak errors anywhere, definite leaks of meanshift"
if ! "$python_exe" "$repo/tools/leak_filter.py" valgrind "$log" > "$out/verdict.txt"; then
    status=1
fi
head -n 200 "$out/verdict.txt"

# evidence that meanshift's kernels ran under memcheck: the functions of
# _core seen allocating (thread scratch, hash map, result arrays) in
# memcheck's allocation tree, which is large: only the list is kept
n_fn=0
if [ -e "$xtree" ]; then
    grep -E '^c?fn=\([0-9]+\) ' "$xtree" | sed -E 's/^c?fn=\([0-9]+\) //' \
        | grep -E '9meanshift_' | sort -u > "$out/core-functions.txt" || true
    rm -f "$xtree"
    n_fn="$(wc -l < "$out/core-functions.txt")"
    echo "== meanshift's compiled functions seen allocating under memcheck: $n_fn (list: $out/core-functions.txt)"
    sed -E 's/^/   /' "$out/core-functions.txt" | grep -E '_omp_fn|pw_9meanshift' | head -n 40
fi
if [ "$n_fn" -lt 1 ]; then
    echo "valgrind.sh: no sign that the workload reached meanshift's compiled modules" >&2
    status=1
fi

if [ "$status" -ne 0 ]; then
    echo "== valgrind.sh: FAILED (full log: $log)" >&2
    exit 1
fi
echo "== valgrind.sh: OK (no memcheck error, no definite leak attributable to meanshift)"
