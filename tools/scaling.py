"""How meanshift's stages scale with threads, measured, and projected.

For a chosen case and size, runs the fit (or predict, or
estimate_bandwidth) at 1, 2, 4, ... up to --threads threads and prints each
stage's time and speed-up.  Then, at each target thread count (--project,
default 16 and 64; run on this machine even where it has fewer cores), it
measures each stage's serial time: its wall time minus the time spent in
the compiled kernels' parallel regions (meanshift._region.parallel_seconds),
which is the work that count of threads really leaves to one thread (the
tree's top levels, for instance, are split in one thread until there are a
few subtrees per thread).  Amdahl's law then projects the stage's time at
P threads as serial(P) + parallel(1) / P, parallel(1) being the time in
parallel regions on one thread, and the speed-up as time(1) / time(P).

    python tools/scaling.py --case bins-2d --n 4e6 --threads 2
    python tools/scaling.py --case predict --n 1e7 --threads 2
    python tools/scaling.py --case bins-2d --n 1e8 --threads 16 --project 16 64

Run it from outside the source tree's folder meanshift/ (as any script that
imports the installed package).  Times are the best of --repeat runs;
results are checked identical at every thread count.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import meanshift
from meanshift import _stages

# the data sets are benchmarks/datasets.py's, shared with the benchmarks
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from datasets import block_blobs, digits, image  # noqa: E402

# case -> (what it runs, data maker, the model's parameters, its size's default)
CASES = {
    "bins-2d": ("fit", lambda n: block_blobs(n, 2), dict(bandwidth=1.5, bin_seeding=True), 4e6),
    "bins-3d": ("fit", lambda n: block_blobs(n, 3), dict(bandwidth=1.5, bin_seeding=True), 1e6),
    "image": ("fit", lambda n: image(1), dict(bandwidth=0.1, bin_seeding=True), 0),
    "all-seeds-2d": ("fit", lambda n: block_blobs(n, 2), dict(bandwidth=1.5), 2e4),
    "grid-2d": ("fit", lambda n: block_blobs(n, 2),
                dict(bandwidth=1.5, algorithm="grid", label_by="attractor"), 1e7),
    "digits": ("fit", lambda n: digits(), dict(), 0),
    "predict": ("predict", lambda n: block_blobs(n, 2),
                dict(bandwidth=1.5, bin_seeding=True), 1e7),
    "bandwidth": ("bandwidth", lambda n: block_blobs(n, 3), dict(), 2e4),
}


def run_once(kind, X, params, n_jobs, model):
    """(stage -> (wall, parallel) seconds, the result) of one run."""
    with _stages.Recorder() as rec:
        start = time.perf_counter()
        if kind == "fit":
            m = meanshift.MeanShift(n_jobs=n_jobs, **params).fit(X)
            result = (m.cluster_centers_, m.labels_)
        elif kind == "predict":
            model.set_params(n_jobs=n_jobs)
            result = model.predict(X)
        else:
            result = meanshift.estimate_bandwidth(X, n_jobs=n_jobs)
            _stages.mark("bandwidth")
        total = time.perf_counter() - start
    stages = dict(rec.stages)
    stages["(total)"] = (total, sum(p for _, p in rec.stages.values()))
    return stages, result


def measure(kind, X, params, n_jobs, repeat, model):
    """The best of ``repeat`` runs, stage by stage (each stage's best)."""
    best, result = None, None
    for _ in range(repeat):
        stages, result = run_once(kind, X, params, n_jobs, model)
        best = stages if best is None else {s: min(best[s], stages[s]) for s in best}
    return best, result


def same(a, b):
    if isinstance(a, tuple):
        return all(same(x, y) for x, y in zip(a, b, strict=True))
    return np.array_equal(a, b)


def table(rows, header, markdown=False):
    """The rows as aligned text lines (or Markdown table lines)."""
    if markdown:
        return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]

    def line(cells):
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    return [line(header)] + [line(r) for r in rows]


def scaling(case, n=None, threads=2, project=(16, 64), repeat=3):
    """Measure a case: returns a dict with its title, the two tables
    (``times``: seconds and speed-up by thread count; ``projection``: serial
    shares and Amdahl's projection at each count of ``project``), each as
    (rows, header), ``projected`` ({P: total speed-up}) and ``identical``
    (results the same at every thread count)."""
    kind, make, params, default_n = CASES[case]
    n = int(n if n is not None else default_n)
    X = make(n)
    model = None
    if kind == "predict":  # fitted on a tenth of the rows, as compare.py's predict
        model = meanshift.MeanShift(**params).fit(X[::10])
    title = (f"case {case}: {kind} of {X.shape[0]:,} x {X.shape[1]} {params} "
             f"(meanshift {meanshift.__version__})")
    run_once(kind, X, params, 1, model)   # warm-up: imports, first touches
    counts = [1]
    while counts[-1] * 2 <= threads:
        counts.append(counts[-1] * 2)
    runs, ref, identical = {}, None, True
    for t in counts:
        runs[t], result = measure(kind, X, params, t, repeat, model)
        if ref is None:
            ref = result
        elif not same(ref, result):
            identical = False
    stages = list(runs[1])
    rows = []
    for s in stages:
        row = [s] + [f"{runs[t][s][0]:.4f}" for t in counts]
        row += [f"{runs[1][s][0] / runs[t][s][0]:.2f}x" for t in counts[1:]]
        rows.append(row)
    times = (rows, ["stage"] + [f"{t}t" for t in counts] + [f"x{t}" for t in counts[1:]])

    # serial work at each target count, then Amdahl's projection
    serial = {}
    for P in project:
        serial[P], _ = measure(kind, X, params, P, repeat, model)
    rows, projected = [], {}
    for s in stages:
        t1, par1 = runs[1][s]
        row = [s, f"{t1:.4f}", f"{100 * (t1 - par1) / t1:.1f}%" if t1 else "-"]
        for P in project:
            wall, par = serial[P][s]
            ser = max(wall - par, 0.0)
            estimate = ser + par1 / P
            row += [f"{100 * ser / t1:.1f}%" if t1 else "-",
                    f"{t1 / estimate:.1f}x" if estimate else "-"]
            if s == "(total)" and estimate:
                projected[P] = t1 / estimate
        rows.append(row)
    header = ["stage", "1t s", "serial@1"]
    for P in project:
        header += [f"serial@{P}", f"proj x{P}"]
    return dict(title=title, repeat=repeat, times=times, projection=(rows, header),
                projected=projected, identical=identical)


def report(result, markdown=False, title=True):
    """The text (lines) of a scaling() result."""
    lines = [result["title"], ""] if title else []
    if not result["identical"]:
        lines += ["!! results differ between thread counts", ""]
    gap = [""] if markdown else []   # (a Markdown table after a blank line)
    lines.append(f"seconds (best of {result['repeat']}), speed-up against 1 thread:")
    lines += gap + table(*result["times"], markdown=markdown)
    lines += ["", "serial share (wall - parallel regions, measured at P threads, of the "
              "1-thread time) and projected speed-up:"]
    lines += gap + table(*result["projection"], markdown=markdown)
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--case", choices=list(CASES), default="bins-2d")
    p.add_argument("--n", type=float, default=None,
                   help="points (the case's default; fixed-size data ignore it)")
    p.add_argument("--threads", type=int, default=2,
                   help="measure at 1, 2, 4, ... up to this many threads")
    p.add_argument("--project", type=int, nargs="*", default=[16, 64],
                   help="thread counts to project to (serial work measured there)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--markdown", action="store_true", help="tables in Markdown")
    args = p.parse_args(argv)
    result = scaling(args.case, args.n, args.threads, args.project, args.repeat)
    print("\n".join(report(result, markdown=args.markdown)))
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
