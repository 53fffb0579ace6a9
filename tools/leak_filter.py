#!/usr/bin/env python
"""Judge a LeakSanitizer report or a valgrind memcheck log: fail only on
what is attributable to meanshift.

Usage::

    python tools/leak_filter.py lsan REPORT [REPORT ...]      # tools/sanitize.sh
    python tools/leak_filter.py valgrind LOG                  # tools/valgrind.sh

A CPython process leaves blocks that LeakSanitizer and memcheck call leaks
at exit (objects and tables that CPython 3.11 does not free at finalisation,
caches of numpy and scikit-learn): they are not ours and say nothing about
meanshift.  A leak record ("Direct leak of N byte(s) ... allocated from:"
for LSan, "N bytes in M blocks are definitely lost in loss record ..." for
memcheck, and its stack) is attributed to meanshift when one of its frames
is in one of meanshift's compiled modules (a function of _core.pyx, _tree.pyx, ... or of their C, a
Cython name mangled with ``9meanshift``, or an address in
meanshift/_core*.so and the others), whether the malloc is ours or numpy's on our behalf.
The allocation stacks must be long and fully unwound for this to see through
numpy's frames (LSan: ASAN_OPTIONS fast_unwind_on_malloc=0; memcheck:
--num-callers=40).

For memcheck logs every error that is not a leak (invalid read/write, use
of an uninitialised value, invalid free, overlap, bad syscall argument) is
a failure wherever it is: suppressions (tools/valgrind-python.supp) have
already removed the known interpreter noise.

Prints a summary and every failing record in full; exits 1 if there is
one, 0 otherwise (including when there is no report at all).
"""

import re
import sys

_MODULES = r"(?:_region|_tree|_core|_merge|_bandwidth|_bins|_values|_textparse)"
OURS = re.compile(
    rf"(9meanshift|/{_MODULES}\.pyx\.c:|{_MODULES}\.c:\d|{_MODULES}\.pyx|"
    rf"meanshift/{_MODULES}[.a-z0-9_-]*\.so|meanshift/src/\w+\.h)"
)

LSAN_HEAD = re.compile(r"^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\)")
VG_PREFIX = re.compile(r"^==\d+== ?")
VG_LEAK = re.compile(r"^([\d,]+) (?:\(([\d,]+) direct, [\d,]+ indirect\) )?"
                     r"bytes in ([\d,]+) blocks are "
                     r"(definitely|indirectly|possibly) lost")
VG_ERROR = re.compile(r"^(Invalid (read|write|free)|Conditional jump|Use of uninitialised|"
                      r"Syscall param|Mismatched free|Source and destination overlap|"
                      r"Argument '.*' of function|Invalid alignment|Fishy value)")


def lsan_records(text):
    current = None
    for line in text.splitlines():
        if LSAN_HEAD.match(line):
            if current:
                yield current
            current = [line]
        elif current is not None:
            if line.strip().startswith("#"):
                current.append(line)
            else:
                yield current
                current = None
    if current:
        yield current


def judge_lsan(paths):
    total = {"Direct": [0, 0], "Indirect": [0, 0]}
    ours = []
    for path in paths:
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            continue
        for rec in lsan_records(text):
            kind, nbytes, _ = LSAN_HEAD.match(rec[0]).groups()
            total[kind][0] += 1
            total[kind][1] += int(nbytes)
            if any(OURS.search(frame) for frame in rec[1:]):
                ours.append(rec)
    print(
        "   LeakSanitizer: {} direct leak records ({} bytes), {} indirect ({} bytes) "
        "in the whole process; attributable to meanshift: {}".format(
            total["Direct"][0], total["Direct"][1],
            total["Indirect"][0], total["Indirect"][1], len(ours),
        )
    )
    for rec in ours:
        print("\n".join(rec))
        print()
    return 1 if ours else 0


def vg_blocks(text):
    """memcheck's log as blocks of lines (prefix stripped), split at the
    empty '==PID== ' lines."""
    block = []
    for raw in text.splitlines():
        if not VG_PREFIX.match(raw):
            continue            # the program's own output, if mixed in
        line = VG_PREFIX.sub("", raw)
        if line.strip() == "":
            if block:
                yield block
            block = []
        else:
            block.append(line)
    if block:
        yield block


def judge_valgrind(path):
    with open(path, errors="replace") as f:
        text = f.read()
    errors, leaks_ours = [], []
    lost = {"definitely": [0, 0], "indirectly": [0, 0], "possibly": [0, 0]}
    for block in vg_blocks(text):
        head = block[0]
        m = VG_LEAK.match(head)
        if m:
            nbytes, direct, nblocks, kind = m.groups()
            lost[kind][0] += int(nblocks.replace(",", ""))
            lost[kind][1] += int((direct or nbytes).replace(",", ""))
            if kind == "definitely" and any(OURS.search(fr) for fr in block[1:]):
                leaks_ours.append(block)
            continue
        if VG_ERROR.match(head):
            errors.append(block)
    touching = [b for b in errors if any(OURS.search(fr) for fr in b)]
    print(f"   memcheck errors other than leaks (after suppressions): {len(errors)} contexts, "
          f"{len(touching)} of them with a meanshift frame")
    print("   leak records: definitely lost {1} bytes in {0} blocks, indirectly lost "
          "{3} bytes in {2} blocks, possibly lost {5} bytes in {4} blocks (whole process)"
          .format(*lost["definitely"], *lost["indirectly"], *lost["possibly"]))
    print(f"   definitely lost records attributable to meanshift: {len(leaks_ours)}")
    for block in errors + leaks_ours:
        print("\n".join("   " + line for line in block))
        print()
    return 1 if errors or leaks_ours else 0


def main(argv):
    if len(argv) < 1 or argv[0] not in ("lsan", "valgrind"):
        print(__doc__)
        return 2
    if argv[0] == "lsan":
        return judge_lsan(argv[1:])
    return max([judge_valgrind(p) for p in argv[1:]] or [0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
