#!/usr/bin/env python
"""Compare meanshift with scikit-learn and mlpack on the project's target cases.

Runs every library on the same data in one process, alternating the peers
from one repeat to the next (best of k repeats; k is chosen from the first
run's time, so slow peers -- scikit-learn above all -- run once), checks that
the clusterings agree with scikit-learn's and prints a Markdown report:

* the target cases (one row per case and peer): times, ratio peer/meanshift,
  agreement;
* the scale sweep (bin seeding, d=2, n from 10k up to 10M; peers only while
  a run is predicted to take less than ~60 s);
* peak memory added by a bin-seeding fit (measured in fresh subprocesses from
  /proc/self/status VmHWM, which sees C allocations that tracemalloc misses);

and draws time against n (log-log) to a PNG.

The asv suite (benchmarks/benchmarks/) holds meanshift's side of the last
two as well, so that their history is kept: BinSeedingScale (the sweep up
to 1M, with the argsort floor) and BinSeedingMemory (peak memory of the
1M x 2 fit, float64 and float32, asv's whole-process peak and this
script's peak added).  The data sets are benchmarks/datasets.py's.

Usage (from the repository root)::

    python benchmarks/compare.py                  # full run, < ~15 min on 2 cores
    python benchmarks/compare.py --quick          # smaller data, < ~2 min
    python benchmarks/compare.py --out-md report.md --out-png scale.png
    python benchmarks/compare.py --max-n-scale 1000000

By default the report and the figure go to benchmarks/results/ (gitignored).
meanshift runs with its default n_jobs=None (all usable cores), scikit-learn
with its default n_jobs=None (one process), mlpack as its Python binding does
(it has no thread option).  The "threads" row shows meanshift's own speed-up
from n_jobs=1 to n_jobs=-1.

scikit-learn's neighbour queries are OpenMP-parallel per query in some cases
(64-d brute force, predict); on a machine where another process holds a core
those threads wait on each other and a fit can take 10-100x longer.  So those
cases also get a row with scikit-learn limited to one OpenMP thread
(threadpoolctl), and every scikit-learn run is stopped after a time limit
(SIGALRM; reported as "> limit").  --quick runs scikit-learn with one OpenMP
thread only.  The report prints the load average before and after the run.
"""

import argparse
import copy
import gc
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------
# Libraries
# ---------------------------------------------------------------------------

import sklearn  # noqa: E402

# the data sets, shared with the asv suite and the other scripts (this
# folder is on sys.path when the script runs: ``python benchmarks/compare.py``)
from datasets import bin_blobs, blobs, digits, image, predict_blobs  # noqa: E402
from sklearn import cluster as skcluster  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

import meanshift  # noqa: E402
import meanshift._core  # noqa: E402,F401  (loaded now: its file's time is the build's)

try:
    import mlpack

    MLPACK_ERROR = None
except Exception as exc:  # ImportError, or a broken binary
    mlpack = None
    MLPACK_ERROR = f"{type(exc).__name__}: {exc}"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def version_of(module_name):
    try:
        from importlib.metadata import version

        return version(module_name)
    except Exception:
        return "?"


def machine_info():
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "meanshift": getattr(meanshift, "__version__", "?"),
        "meanshift_path": str(Path(meanshift.__file__).parent),
        "meanshift_built": meanshift_build_time(),
        "scikit-learn": sklearn.__version__,
        "mlpack": version_of("mlpack") if mlpack is not None else "not importable",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset"),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "unset"),
    }


def core_mtime():
    """Modification time of the compiled kernel this process loaded."""
    core = getattr(sys.modules.get("meanshift._core"), "__file__", None)
    return os.path.getmtime(core) if core else None


# taken at import: the file may be replaced later by a reinstall
CORE_MTIME = core_mtime()


def meanshift_build_time():
    """When the measured build was installed (mtime of its compiled kernel)."""
    if CORE_MTIME is None:
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(CORE_MTIME))


def load_avg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


# ---------------------------------------------------------------------------
# Runners: each returns (cluster_centers, labels) or a value
# ---------------------------------------------------------------------------


def ms_fit(X, bandwidth, bin_seeding=False, n_jobs=None, **extra):
    return meanshift.mean_shift(
        X, bandwidth=bandwidth, bin_seeding=bin_seeding, n_jobs=n_jobs, **extra
    )


def sk_fit(X, bandwidth, bin_seeding=False):
    return skcluster.mean_shift(X, bandwidth=bandwidth, bin_seeding=bin_seeding)


def mlpack_fit(X, radius):
    # mlpack seeds from a grid of cell size `radius` by default (bin seeding),
    # flat kernel, stops a seed when it moves < 1e-3 * radius, merges centroids
    # closer than `radius`.
    out = mlpack.mean_shift(input_=X, radius=float(radius), labels_only=True)
    labels = np.asarray(out["output"]).ravel().astype(np.intp)
    return np.asarray(out["centroid"]), labels


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------


class Timing:
    def __init__(self, times, result, stopped=False):
        self.times = times
        self.result = result
        self.stopped = stopped  # hit its time limit: best is a lower bound

    @property
    def best(self):
        return min(self.times)

    @property
    def k(self):
        return len(self.times)

    def fmt(self):
        if self.stopped:
            return f"> {fmt_time(self.best)} (stopped)"
        return fmt_time(self.best, self.k)


class Stopped(Exception):
    pass


def _alarm(signum, frame):
    raise Stopped()


def limited(fn, seconds):
    """``fn`` stopped with Stopped after ``seconds`` (SIGALRM, main thread;
    scikit-learn's mean shift loops over seeds in Python, so it is
    interrupted within one seed's work)."""
    if not seconds or not hasattr(signal, "setitimer"):
        return fn

    def run():
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return fn()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)

    return run


def single_threaded(fn):
    """``fn`` with OpenMP/BLAS pools limited to one thread (threadpoolctl)."""
    from threadpoolctl import threadpool_limits

    def run():
        with threadpool_limits(limits=1):
            return fn()

    return run


def race(runners, budget, kmax, slow):
    """Time ``runners`` (dict name -> callable), alternating their order.

    Every runner runs once; then runner r is repeated up to
    k_r = clamp(budget / t_r, 1, kmax) times in total (1 if t_r > slow).
    Repeats alternate forward and backward order, so a drift in the
    machine's load hits every peer alike.  Returns dict name -> Timing with
    the result of the first run.
    """
    names = list(runners)
    times = {name: [] for name in names}
    results = {}
    stopped = set()
    k = {}
    rnd = 0
    while True:
        active = [n for n in names if n not in k or len(times[n]) < k[n]]
        if not active:
            break
        order = active if rnd % 2 == 0 else active[::-1]
        for name in order:
            gc.collect()
            t0 = time.perf_counter()
            try:
                res = runners[name]()
            except Stopped:
                res = None
                stopped.add(name)
            dt = time.perf_counter() - t0
            times[name].append(dt)
            if name not in results:
                results[name] = res
                if name in stopped:
                    k[name] = 1
                    log(f"    {name}: stopped after {dt:.1f} s")
                    continue
                k[name] = 1 if dt > slow else int(max(1, min(kmax, budget // dt)))
                log(f"    {name}: {dt:.3f} s (first run; {k[name]} run(s) in all)")
            del res
        rnd += 1
    return {name: Timing(times[name], results[name], name in stopped) for name in names}


def predict_time(known, n):
    """Predicted time at n from measured {n: time}: log-log interpolation
    between the nearest measured sizes (slope clamped to [0.5, 1.5]; linear
    from a single point)."""
    if not known:
        return 0.0
    if n in known:
        return known[n]
    below = sorted(m for m in known if m < n)
    above = sorted(m for m in known if m > n)
    if below and above:
        m1, m2 = below[-1], above[0]
    elif len(below) >= 2:
        m1, m2 = below[-2], below[-1]
    elif len(above) >= 2:
        m1, m2 = above[0], above[1]
    else:
        m = (below or above)[0]
        return known[m] * n / m
    slope = np.log(known[m2] / known[m1]) / np.log(m2 / m1)
    slope = float(np.clip(slope, 0.5, 1.5))
    return known[m2] * (n / m2) ** slope


def fmt_time(t, k=None):
    if t is None:
        return "—"
    if t >= 100:
        s = f"{t:.0f} s"
    elif t >= 10:
        s = f"{t:.1f} s"
    elif t >= 1:
        s = f"{t:.2f} s"
    elif t >= 1e-3:
        s = f"{t * 1e3:.3g} ms"
    else:
        s = f"{t * 1e6:.3g} µs"
    if k is not None:
        s += " (1 run)" if k == 1 else f" (best of {k})"
    return s


def fmt_ratio(r):
    if r is None or not np.isfinite(r):
        return "—"
    if r >= 100:
        return f"{r:.0f}×"
    if r >= 10:
        return f"{r:.1f}×"
    return f"{r:.2f}×"


# ---------------------------------------------------------------------------
# Agreement
# ---------------------------------------------------------------------------


def agree_with_sklearn(ms_res, sk_res, bandwidth):
    """meanshift vs scikit-learn: same clusters, labels and centers."""
    c1, l1 = ms_res
    c2, l2 = sk_res
    k1, k2 = len(c1), len(c2)
    if k1 != k2:
        ari = adjusted_rand_score(l2, l1)
        return False, f"**NO**: {k1} vs {k2} clusters (sklearn), ARI {ari:.4f}"
    same_labels = np.array_equal(l1, l2)
    dc = float(np.abs(np.asarray(c1, np.float64) - c2).max()) / bandwidth
    ok = same_labels and dc <= 1e-3
    if same_labels:
        lab = "labels identical"
    else:
        n_diff = int(np.count_nonzero(l1 != l2))
        lab = f"{n_diff} labels differ, ARI {adjusted_rand_score(l2, l1):.4f}"
    verdict = "yes" if ok else "**NO**"
    return ok, f"{verdict}: {k1} clusters, {lab}, max center diff {dc:.1e}·bw"


def agree_mlpack(ml_res, ref_res, ref_name):
    c1, l1 = ml_res
    c2, l2 = ref_res
    ari = adjusted_rand_score(l2, l1)
    same = "same" if len(c1) == len(c2) else "**different**"
    return f"{len(c1)} vs {len(c2)} clusters ({same} number) vs {ref_name}, ARI {ari:.4f}"


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


def coverage(X, bandwidth, n_probe=200, seed=0):
    """Mean share of the points within bandwidth of a point (sampled)."""
    rng = np.random.default_rng(seed)
    probes = X[rng.choice(len(X), min(n_probe, len(X)), replace=False)]
    return float(np.mean([
        np.count_nonzero(((X - q) ** 2).sum(1) <= bandwidth**2) / len(X)
        for q in probes
    ]))


CASE_KEYS = ["all", "digits", "bin", "floor", "bin3", "image", "bandwidth",
             "predict", "threads", "kernels", "scale", "memory", "stages", "dask"]


# ---------------------------------------------------------------------------
# Memory (fresh subprocesses)
# ---------------------------------------------------------------------------

MEMORY_SCRIPT = r"""
import gc, json, os, sys
import numpy as np

lib, n, d, dtype, bw = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
sys.path.insert(0, sys.argv[6])   # benchmarks/, for its datasets module
from datasets import bin_blobs
from procmem import reset_peak, vm_status as status

X = bin_blobs(n, d, dtype=dtype)
if lib == "meanshift":
    import meanshift
    fit = lambda A: meanshift.mean_shift(A, bandwidth=bw, bin_seeding=True)
elif lib == "mlpack":
    import mlpack
    fit = lambda A: mlpack.mean_shift(input_=A, radius=bw, labels_only=True)
else:
    import sklearn
    from sklearn.cluster import mean_shift
    lib = "sklearn"
    fit = lambda A: mean_shift(A, bandwidth=bw, bin_seeding=True)
fit(X[:2000].copy())   # load the libraries, start the thread pool
gc.collect()
try:                   # reset the high-water mark to the current RSS
    reset_peak()
    reset = True
except OSError:
    reset = False
before = status()
result = fit(X)
after = status()
print(json.dumps({"rss_before": before["VmRSS"], "hwm_before": before["VmHWM"],
                  "hwm_after": after["VmHWM"], "input_bytes": X.nbytes,
                  "hwm_reset": reset, "module": sys.modules[lib].__file__,
                  "core_mtime": os.path.getmtime(sys.modules["meanshift._core"].__file__)
                  if lib == "meanshift" else None}))
"""  # noqa: E501  (the script's `lib, n, d, ...` line: a string's content, left as it is)


def measure_memory(lib, n, d, dtype, bw):
    # run outside the source tree, so `import meanshift` finds the installed
    # package (the same one this process imported), not the uncompiled sources
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, lib, str(n), str(d), dtype, str(bw), str(HERE)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tempfile.gettempdir(),
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "?")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    if lib == "meanshift" and Path(r["module"]).parent != Path(meanshift.__file__).parent:
        raise RuntimeError(f"the subprocess imported another meanshift: {r['module']}")
    other_build = None
    if lib == "meanshift" and r["core_mtime"] != CORE_MTIME:
        other_build = time.strftime("%H:%M:%S", time.localtime(r["core_mtime"]))
    added = r["hwm_after"] - r["rss_before"]
    return added, r["input_bytes"], r["hwm_reset"], other_build


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


# name: (value with --quick, value in a full run)
SETTINGS = {
    "all_n": (1000, 5000),
    "digits_rows": (300, None),
    "bin_n": (100_000, 1_000_000),
    "bin3_n": (100_000, 300_000),
    "eb_n": (5000, 20_000),
    "predict_n": (200_000, 1_000_000),
    "threads_n": (5000, 20_000),
    "scale_ns": ([10_000, 30_000, 100_000, 300_000, 1_000_000],
                 [10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000, 10_000_000]),
    "peer_cap": (5.0, 60.0),
    "budget": (1.5, 6.0),
    "kmax": (3, 5),
    "slow": (5.0, 12.0),
    "memory_n": (1_000_000, 1_000_000),
    "memory_mlpack": (False, True),
    "sk_default": (False, True),
    "sk_time_limit": (30.0, 180.0),
}


def settings(quick):
    return {key: copy.copy(value[0 if quick else 1]) for key, value in SETTINGS.items()}


def fmt_n(n):
    for div, suf in ((1_000_000, "M"), (1_000, "k")):
        if n >= div and n % div == 0:
            return f"{n // div:,}{suf}"
    return f"{n:,}"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smaller data, < ~2 min")
    parser.add_argument(
        "--out-md",
        default=str(HERE / "results" / "compare.md"),
        help="write the Markdown report here too (default: %(default)s)",
    )
    parser.add_argument(
        "--out-png",
        default=str(HERE / "results" / "compare.png"),
        help="time-vs-n figure (default: %(default)s); '' to skip",
    )
    parser.add_argument(
        "--out-json", default=None, help="also dump the raw timings as JSON"
    )
    parser.add_argument(
        "--max-n-scale",
        type=int,
        default=None,
        help="largest n of the scale sweep (default 10M, 1M with --quick)",
    )
    parser.add_argument(
        "--peer-cap",
        type=float,
        default=None,
        help="run a peer in the scale sweep only while its predicted time is "
        "below this many seconds (default 60, 5 with --quick)",
    )
    parser.add_argument(
        "--sklearn-threads",
        choices=["default", "one"],
        default=None,
        help="'default': scikit-learn as configured (all cores for its OpenMP "
        "code), plus a one-thread run where that code is OpenMP-parallel per "
        "query; 'one': only with one OpenMP thread (threadpoolctl). Default: "
        "'default', 'one' with --quick",
    )
    parser.add_argument(
        "--sklearn-time-limit",
        type=float,
        default=None,
        help="stop a scikit-learn run after this many seconds and report it as "
        "'> limit' (default 180, 30 with --quick; 0 for no limit)",
    )
    parser.add_argument(
        "--no-sklearn",
        action="store_true",
        help="skip scikit-learn (no agreement checks then)",
    )
    parser.add_argument("--no-mlpack", action="store_true", help="skip mlpack")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=CASE_KEYS,
        metavar="CASE",
        help="run only these cases (of: %(choices)s); 'floor' and the scale "
        "sweep reuse the 'bin' case's data and times when it runs too",
    )
    return parser.parse_args(argv)


def run_settings(args):
    """settings() with the command line's overrides; and the scale sweep's n."""
    S = settings(args.quick)
    if args.peer_cap is not None:
        S["peer_cap"] = args.peer_cap
    if args.sklearn_threads is not None:
        S["sk_default"] = args.sklearn_threads == "default"
    if args.sklearn_time_limit is not None:
        S["sk_time_limit"] = args.sklearn_time_limit
    scale_ns = S["scale_ns"]
    if args.max_n_scale is not None:
        scale_ns = [n for n in S["scale_ns"] if n <= args.max_n_scale]
        if args.max_n_scale not in scale_ns and args.max_n_scale > 0:
            scale_ns.append(args.max_n_scale)
            scale_ns.sort()
    return S, scale_ns


class Run:
    """What the cases share: the options and settings, the report's rows and
    notes, the raw timings for the JSON dump, and the 'bin' case's data and
    times (reused by 'floor' and the scale sweep)."""

    def __init__(self, args):
        self.args = args
        self.S, self.scale_ns = run_settings(args)
        self.use_sk = not args.no_sklearn
        self.use_ml = mlpack is not None and not args.no_mlpack
        self.notes = []
        if mlpack is None:
            self.notes.append(f"mlpack skipped: not importable ({MLPACK_ERROR}).")
        elif args.no_mlpack:
            self.notes.append("mlpack skipped (--no-mlpack).")
        if not self.use_sk:
            self.notes.append("scikit-learn skipped (--no-sklearn): no agreement checks.")
        self.race_kw = dict(budget=self.S["budget"], kmax=self.S["kmax"], slow=self.S["slow"])
        self.info = machine_info()
        self.load_start = load_avg()
        self.t_start = time.perf_counter()
        self.rows = []  # (case, data, meanshift time, peer, peer time, ratio, agreement)
        self.raw = {"machine": self.info, "settings": self.S, "cases": {}}
        self.sk_name = f"scikit-learn {sklearn.__version__}"
        self.ml_name = f"mlpack {self.info['mlpack']}"
        # set by the 'bin' case: its data, meanshift's time, the peers' timings
        self.bin_X, self.bin_ms, self.scale_cache = None, None, {}
        self.weights_rng = np.random.default_rng(5)  # the kernels cases' weights

    def want(self, key):
        return self.args.only is None or key in self.args.only

    def warm_up(self):
        """Imports, OpenMP thread pool, mlpack's first call."""
        Xw = blobs(2000, 2, centers=3, random_state=0)
        ms_fit(Xw, 1.0, bin_seeding=True)
        if self.use_ml:
            mlpack_fit(Xw, 1.0)

    def race(self, runners):
        return race(runners, **self.race_kw)

    def peer_label(self, name):
        return {
            "sklearn": self.sk_name,
            "sklearn-1t": self.sk_name + ", 1 OpenMP thread",
            "mlpack": self.ml_name,
        }.get(name, name)

    def sk_runners(self, fn, also_single_thread=False):
        """scikit-learn as users get it (its defaults), time-limited; and,
        where its work is OpenMP-parallel per tiny query, also with one
        OpenMP thread (threadpoolctl), which is what it needs on a busy
        machine."""
        out = {}
        if self.use_sk:
            if self.S["sk_default"]:
                out["sklearn"] = limited(fn, self.S["sk_time_limit"])
            if also_single_thread or not self.S["sk_default"]:
                out["sklearn-1t"] = limited(single_threaded(fn), self.S["sk_time_limit"])
        return out

    def record(self, case, timings):
        self.raw["cases"][case] = {
            name: {"times": t.times, "best": t.best, "stopped": t.stopped}
            for name, t in timings.items()
        }


def sk_reference(timings):
    for name in ("sklearn", "sklearn-1t"):
        if name in timings and not timings[name].stopped:
            return name, timings[name].result
    return None, None


def ratio(peer, ms):
    r = fmt_ratio(peer.best / ms.best)
    return "> " + r if peer.stopped else r


# ---------------------------------------------------------------------------
# The target cases: a table of Case, run one after the other by run_case
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One target case of the report's table.

    data(run) -> (payload, description of the data for the 'data' column);
    runners(run, payload) -> {name: callable}, raced against each other
    ("meanshift" first); rows(run, case, desc, timings) records the timings
    and adds the report's rows -- by default peer_rows: one row per peer of
    meanshift, whose agreement column is agree(run, case, desc, timings,
    peer), the peer shown as its label + peer_suffix.
    """

    key: str  # the name for --only
    name: str  # the report's 'case' column
    data: Callable
    runners: Callable
    agree: Callable | None = None
    rows: Callable | None = None
    peer_suffix: str = ""
    log: Callable | None = None  # run -> progress line, where not the description
    when: Callable | None = None  # run -> whether it can run at all
    after: Callable | None = None  # (run, payload, timings): kept for later


def run_case(run, case):
    payload, desc = case.data(run)
    log(f"[{case.name}] {case.log(run) if case.log else desc}")
    timings = run.race(case.runners(run, payload))
    (case.rows or peer_rows)(run, case, desc, timings)
    if case.after is not None:
        case.after(run, payload, timings)


def peer_rows(run, case, desc, timings):
    ms = timings["meanshift"]
    run.record(case.name, timings)
    if len(timings) == 1:  # no peer run (--no-sklearn / --no-mlpack)
        run.rows.append((case.name, desc, ms.fmt(), "—", "—", "—", "(no peer run)"))
    for name, t in timings.items():
        if name == "meanshift":
            continue
        text = case.agree(run, case, desc, timings, name)
        run.rows.append((case.name, desc, ms.fmt(), run.peer_label(name) + case.peer_suffix,
                         t.fmt(), ratio(t, ms), text))


# -- clusterings: meanshift, scikit-learn (and mlpack) on the same data -------


def fit_case(key, name, data, bw, bin_seeding=False, with_mlpack=False,
             sk_single_thread=False, **more):
    """A clustering case: mean_shift(X, bw) of each library on data(run)'s X."""

    def runners(run, X):
        out = {"meanshift": lambda: ms_fit(X, bw, bin_seeding=bin_seeding)}
        if with_mlpack and run.use_ml:
            out["mlpack"] = lambda: mlpack_fit(X, bw)
        out.update(run.sk_runners(lambda: sk_fit(X, bw, bin_seeding=bin_seeding),
                                  also_single_thread=sk_single_thread))
        return out

    return Case(key, name, data, runners, agree=fit_agreement(bw), **more)


def fit_agreement(bw):
    """scikit-learn: same clusters, labels and centers as meanshift (a
    difference makes a note); mlpack: its clusters vs scikit-learn's (or
    meanshift's where scikit-learn did not finish)."""

    def agree(run, case, desc, timings, name):
        ms, t = timings["meanshift"], timings[name]
        ref_name, ref = sk_reference(timings)
        if not name.startswith("sklearn"):
            if ref is not None:
                return agree_mlpack(t.result, ref, "sklearn")
            return agree_mlpack(t.result, ms.result, "meanshift")
        if t.stopped:
            text = "— (stopped)"
            if ref is not None:
                text += f"; see {run.peer_label(ref_name)}"
            return text
        ok, text = agree_with_sklearn(ms.result, t.result, bw)
        run.raw["cases"][case.name]["agree_" + name] = ok
        if not ok:
            run.notes.append(
                f"meanshift DISAGREES with {run.peer_label(name)} on '{case.name}' "
                f"({desc}): {text}"
            )
        return text

    return agree


def all_points_data(run):
    n = run.S["all_n"]
    return blobs(n, 2, centers=6, random_state=0), f"blobs {n:,}×2, bw 1.2"


def digits_case_data(run):
    D = digits()
    if run.S["digits_rows"]:
        D = np.ascontiguousarray(D[: run.S["digits_rows"]])
    return D, f"digits std. {D.shape[0]:,}×{D.shape[1]}, bw 9.4"


def bin_case_data(d, n_key):
    def data(run):
        n = run.S[n_key]
        return bin_blobs(n, d), f"blobs {fmt_n(n)}×{d} (8 centers, seed 1), bw 1.5"

    return data


def keep_bin(run, X, timings):
    # the scale sweep reuses the peers' measurements (same data for this n);
    # meanshift is cheap and re-measured there, next to its neighbours in n
    n = run.S["bin_n"]
    run.scale_cache = {(name, n): t for name, t in timings.items() if name != "meanshift"}
    run.bin_ms = timings["meanshift"]
    run.bin_X = X


IMAGE_BW = 0.2


def image_case_data(run):
    X = image(step=2 if run.args.quick else 1)
    share = coverage(X, IMAGE_BW)
    return X, (f"china.jpg pixels {fmt_n(len(X))}×5 (r, g, b, x, y), bw {IMAGE_BW} "
               f"(~{100 * share:.0f}% of the points within bw)")


# -- floor: argsort of one column of the 'bin' case's data --------------------


def floor_data(run):
    col = np.ascontiguousarray(run.bin_X[:, 0])
    return col, f"numpy.argsort(X[:, 0]), {fmt_n(run.S['bin_n'])} float64"


def floor_rows(run, case, desc, timings):
    run.record(case.name, timings)
    t_sort, ms_bin = timings["argsort"], run.bin_ms
    run.rows.append(
        (case.name, desc, ms_bin.fmt() + " (bin seeding)", "numpy.argsort",
         t_sort.fmt(), fmt_ratio(t_sort.best / ms_bin.best),
         f"meanshift / argsort = {fmt_ratio(ms_bin.best / t_sort.best)}")
    )


# -- kernels and weights (meanshift only) -------------------------------------


def kernels_data(make_X, bw, bin_seeding):
    def data(run):
        X = make_X(run)
        weights = run.weights_rng.uniform(0.5, 2.0, len(X))
        kind = "bin seeding" if bin_seeding else "all points"
        return (X, weights, bw, bin_seeding), f"blobs {fmt_n(len(X))}×2, bw {bw}, {kind}"

    return data


def kernels_runners(run, payload):
    X, weights, bw, bin_seeding = payload
    variants = {
        "flat": {},
        "flat, sample_weight": dict(sample_weight=weights),
        "epanechnikov": dict(kernel="epanechnikov"),
        "gaussian": dict(kernel="gaussian"),
    }
    return {
        name: (lambda kw=kw: ms_fit(X, bw, bin_seeding=bin_seeding, **kw))
        for name, kw in variants.items()
    }


def kernels_rows(run, case, desc, timings):
    run.record(case.name, timings)
    flat = timings["flat"]
    for name, t in timings.items():
        if name == "flat":
            continue
        run.rows.append(
            (case.name, desc, t.fmt() + f" ({name})", "meanshift flat",
             flat.fmt(), fmt_ratio(flat.best / t.best),
             f"{name}: {fmt_ratio(t.best / flat.best)} flat's time, "
             f"{len(t.result[0])} clusters (flat: {len(flat.result[0])})")
        )


# -- estimate_bandwidth and predict: the same numbers as scikit-learn ---------


def same_result(what, compare):
    """Agreement by compare(meanshift's result, scikit-learn's) -> (ok, text);
    a difference makes a note."""

    def agree(run, case, desc, timings, name):
        t = timings[name]
        if t.stopped:
            return "— (stopped)"
        ok, text = compare(timings["meanshift"].result, t.result)
        if not ok:
            run.notes.append(f"{what} differs from {run.peer_label(name)}'s: {text}")
        return text

    return agree


def bandwidth_data(run):
    n = run.S["eb_n"]
    return blobs(n, 3, centers=5, random_state=2), f"blobs {n:,}×3 (5 centers, seed 2), defaults"


def bandwidth_runners(run, X):
    out = {"meanshift": lambda: meanshift.estimate_bandwidth(X)}
    out.update(run.sk_runners(lambda: skcluster.estimate_bandwidth(X)))
    return out


def same_bandwidth(b_ms, b_sk):
    b1, b2 = float(b_ms), float(b_sk)
    rel = abs(b1 - b2) / b2
    ok = rel <= 1e-12
    return ok, (f"{'yes' if ok else '**NO**'}: bandwidth {b1:.10g} vs {b2:.10g} "
                f"(rel. diff {rel:.1e})")


def predict_data(run):
    """meanshift's model, scikit-learn's with the same centers, the points."""
    n = run.S["predict_n"]
    model = meanshift.MeanShift(bandwidth=1.5, bin_seeding=True).fit(
        predict_blobs(20_000, random_state=3)
    )
    centers = model.cluster_centers_
    Xp = predict_blobs(n, random_state=4)
    sk_model = skcluster.MeanShift(bandwidth=1.5)
    sk_model.cluster_centers_ = centers.copy()
    sk_model.n_features_in_ = centers.shape[1]
    return (model, sk_model, Xp), f"{fmt_n(n)}×2 points vs {len(centers)} centers"


def predict_runners(run, payload):
    model, sk_model, Xp = payload
    out = {"meanshift": lambda: model.predict(Xp)}
    out.update(run.sk_runners(lambda: sk_model.predict(Xp), also_single_thread=True))
    return out


def same_labels(l_ms, l_sk):
    same = np.array_equal(l_ms, l_sk)
    return same, "yes: labels identical" if same else (
        f"**NO**: {int(np.count_nonzero(l_ms != l_sk))} labels differ")


# -- threads: meanshift n_jobs=-1 vs n_jobs=1 ---------------------------------


def threads_data(run):
    n = run.S["threads_n"]
    X = blobs(n, 2, centers=8, random_state=0)
    return X, f"all points as seeds, blobs {n:,}×2 (seed 0), bw 1.2"


def threads_runners(run, X):
    return {
        "n_jobs=-1": lambda: ms_fit(X, 1.2, n_jobs=-1),
        "n_jobs=1": lambda: ms_fit(X, 1.2, n_jobs=1),
    }


def threads_rows(run, case, desc, timings):
    tp, t1 = timings["n_jobs=-1"], timings["n_jobs=1"]
    run.record(case.name, timings)
    same = np.array_equal(tp.result[1], t1.result[1]) and np.array_equal(
        tp.result[0], t1.result[0]
    )
    run.rows.append(
        (case.name, desc, tp.fmt() + f" (n_jobs=-1, {run.info['usable_cores']} cores)",
         "meanshift n_jobs=1", t1.fmt(), fmt_ratio(t1.best / tp.best),
         f"speed-up {fmt_ratio(t1.best / tp.best)}; results "
         + ("bit-identical" if same else "**DIFFER**"))
    )
    if not same:
        run.notes.append("meanshift's results differ between n_jobs=1 and n_jobs=-1")


CASES = [
    fit_case("all", "all points as seeds", all_points_data, 1.2,
             log=lambda run: f"make_blobs({run.S['all_n']}, 2, centers=6, "
             "cluster_std=1.0, random_state=0), bw 1.2"),
    # 64-d: scikit-learn's radius queries go brute force, OpenMP-parallel per
    # query, which collapses when another process holds a core
    fit_case("digits", "all points, high-d", digits_case_data, 9.4, sk_single_thread=True),
    fit_case("bin", "bin seeding", bin_case_data(2, "bin_n"), 1.5, bin_seeding=True,
             with_mlpack=True, after=keep_bin),
    Case("floor", "floor", floor_data,
         lambda run, col: {"argsort": lambda: np.argsort(col)}, rows=floor_rows,
         when=lambda run: run.bin_ms is not None,
         log=lambda run: f"numpy.argsort of one column of the {fmt_n(run.S['bin_n'])}×2 data"),
    fit_case("bin3", "bin seeding, 3-d", bin_case_data(3, "bin3_n"), 1.5, bin_seeding=True,
             with_mlpack=True),
    # mid-dimensional, wide kernel
    fit_case("image", "image segmentation, 5-d", image_case_data, IMAGE_BW, bin_seeding=True,
             with_mlpack=True),
    Case("kernels", "kernels, all points",
         kernels_data(lambda run: all_points_data(run)[0], 1.2, False),
         kernels_runners, rows=kernels_rows),
    Case("kernels", "kernels, bin seeding",
         kernels_data(lambda run: bin_blobs(run.S["bin_n"], 2), 1.5, True),
         kernels_runners, rows=kernels_rows),
    Case("bandwidth", "estimate_bandwidth", bandwidth_data, bandwidth_runners,
         agree=same_result("estimate_bandwidth", same_bandwidth)),
    Case("predict", "predict", predict_data, predict_runners,
         agree=same_result("predict", same_labels), peer_suffix=" (same centers)"),
    Case("threads", "threads", threads_data, threads_runners, rows=threads_rows),
]


# ---------------------------------------------------------------------------
# Scale sweep
# ---------------------------------------------------------------------------


class Sweep:
    """The scale sweep's measurements: best time per peer and n, the
    clusters meanshift found, and the peers stopped (time limit or
    predicted over peer_cap)."""

    def __init__(self, peers):
        self.peers = peers
        self.times = {p: {} for p in peers + ["argsort"]}
        self.clusters = {}
        self.stopped = {}

    def keep(self, p, n, t):
        if t.stopped:
            self.stopped[p] = (n, t.best)
        else:
            self.times[p][n] = t.best

    def known(self, p, cache):
        known = {m: t.best for (q, m), t in cache.items() if q == p}
        known.update(self.times[p])
        return known


def scale_sweep(run):
    """Bin seeding, d=2, for each n of run.scale_ns: meanshift, the peers
    while predicted below peer_cap, and numpy.argsort of a column."""
    log("[scale] bin seeding, d=2, n = " + ", ".join(fmt_n(n) for n in run.scale_ns))
    sk_scale = "sklearn" if run.S["sk_default"] else "sklearn-1t"
    sweep = Sweep(["meanshift"] + ([sk_scale] if run.use_sk else [])
                  + (["mlpack"] if run.use_ml else []))
    for n in run.scale_ns:
        Xs = run.bin_X if n == run.S["bin_n"] and run.bin_X is not None else bin_blobs(n, 2)
        runners = scale_runners(run, sweep, n, Xs)
        log(f"  n={fmt_n(n)}")
        if runners:
            timings = run.race(runners)
            for p, t in timings.items():
                sweep.keep(p, n, t)
            if "meanshift" in timings:
                sweep.clusters[n] = len(timings["meanshift"].result[0])
            del timings
        c = np.ascontiguousarray(Xs[:, 0])
        sweep.times["argsort"][n] = run.race({"a": lambda c=c: np.argsort(c)})["a"].best
        del c, Xs
        gc.collect()
    run.raw["scale"] = {p: {str(n): t for n, t in v.items()} for p, v in sweep.times.items()}
    return sweep


def scale_runners(run, sweep, n, Xs):
    """The runners at n: the 'bin' case's timings are taken as they are; a
    peer stopped at a smaller n, or predicted above peer_cap, is left out."""
    runners = {}
    for p in sweep.peers:
        if (p, n) in run.scale_cache:
            sweep.keep(p, n, run.scale_cache[(p, n)])
            continue
        if p != "meanshift":
            if p in sweep.stopped:
                continue
            predicted = predict_time(sweep.known(p, run.scale_cache), n)
            if predicted > run.S["peer_cap"]:
                sweep.stopped[p] = (n, predicted)
                log(f"    {p}: stop before n={fmt_n(n)} (predicted {predicted:.0f} s)")
                continue
        if p == "meanshift":
            runners[p] = lambda X=Xs: ms_fit(X, 1.5, bin_seeding=True)
        elif p.startswith("sklearn"):
            runners.update(run.sk_runners(lambda X=Xs: sk_fit(X, 1.5, bin_seeding=True)))
        else:
            runners[p] = lambda X=Xs: mlpack_fit(X, 1.5)
    return runners


def scale_section(run, sweep):
    S, peers, times = run.S, sweep.peers, sweep.times
    md = ["## Scale: bin seeding, d = 2, bandwidth 1.5", ""]
    md.append(
        f"Peers run while their predicted time (log-log extrapolation from the sizes "
        f"already measured) stays below {S['peer_cap']:.0f} s; '—' = not run. "
        f"Times are best of up to {S['kmax']} runs (1 run above {S['slow']:.0f} s)."
    )
    md.append("")
    head = "| n | meanshift | clusters |"
    sep = "|---|---|---|"
    for p in peers[1:]:
        head += f" {run.peer_label(p)} | {p.split('-')[0]} / meanshift |"
        sep += "---|---|"
    head += " argsort(X[:, 0]) | meanshift / argsort |"
    sep += "---|---|"
    md.append(head)
    md.append(sep)
    for n in run.scale_ns:
        tm = times["meanshift"].get(n)
        line = f"| {fmt_n(n)} | {fmt_time(tm)} | {sweep.clusters.get(n, '—')} |"
        for p in peers[1:]:
            tp = times[p].get(n)
            line += f" {fmt_time(tp)} | {fmt_ratio(tp / tm) if tp and tm else '—'} |"
        ta = times["argsort"].get(n)
        line += f" {fmt_time(ta)} | {fmt_ratio(tm / ta) if ta and tm else '—'} |"
        md.append(line)
    md.append("")
    return md


# ---------------------------------------------------------------------------
# Memory, meanshift.dask
# ---------------------------------------------------------------------------


def memory_rows(run):
    """(library, dtype, input bytes, bytes added) per fresh subprocess, and
    whether VmHWM could be reset in every one."""
    n = run.S["memory_n"]
    log(f"[memory] bin seeding {fmt_n(n)}×2, fresh subprocesses")
    rows = []
    mem_jobs = [("meanshift", "float64"), ("meanshift", "float32")]
    if run.use_ml and run.S["memory_mlpack"]:
        mem_jobs.append(("mlpack", "float64"))
    reset_ok = True
    for lib, dtype in mem_jobs:
        try:
            added, nbytes, reset, other_build = measure_memory(lib, n, 2, dtype, 1.5)
            reset_ok &= reset
            if other_build:
                run.notes.append(
                    f"memory of meanshift {dtype} was measured on another build than "
                    f"the timings (reinstalled during the run, kernel from {other_build})."
                )
            rows.append((lib, dtype, nbytes, added))
            log(f"    {lib} {dtype}: +{added / 2**20:.1f} MiB ({added / nbytes:.2f}× input)")
        except Exception as exc:
            rows.append((lib, dtype, None, None))
            run.notes.append(f"memory measurement failed for {lib} {dtype}: {exc}")
    run.raw["memory"] = [
        {"lib": a, "dtype": b, "input_bytes": c, "added_bytes": d} for a, b, c, d in rows
    ]
    return rows, reset_ok


def memory_section(run, rows, reset_ok):
    md = [f"## Memory: peak added by a bin-seeding fit, {fmt_n(run.S['memory_n'])}×2", ""]
    md.append(
        "Fresh subprocess per row; VmHWM (reset via /proc/self/clear_refs) after the "
        "fit minus VmRSS before it, so C allocations count; labels (int64) are part "
        "of the result."
        + ("" if reset_ok else " **VmHWM could not be reset: values are lower bounds.**")
    )
    md.append("")
    md.append("| library | dtype | input size | peak added | × input size |")
    md.append("|---|---|---|---|---|")
    for lib, dtype, nbytes, added in rows:
        if added is None:
            md.append(f"| {lib} | {dtype} | — | failed | — |")
        else:
            md.append(
                f"| {lib} | {dtype} | {nbytes / 2**20:.1f} MiB | {added / 2**20:.1f} MiB | "
                f"{added / nbytes:.2f}× |"
            )
    md.append("")
    return md


def stages_section(run):
    """Each stage's time and speed-up by thread count, its serial share and
    Amdahl's projection at 16 and 64 threads (tools/scaling.py), for the
    bin-seeded fit and predict."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    import scaling

    quick = run.args.quick
    md = ["## Stage by stage, by thread count", ""]
    md.append(
        "tools/scaling.py: each stage of the fit (predict) at 1, 2, 4, ... threads "
        f"up to this machine's {run.info['usable_cores']}; its serial share (wall time "
        "outside the kernels' parallel regions, measured with 16 and 64 threads "
        "asked for, of the one-thread time); and the speed-up Amdahl's law projects "
        "from them at 16 and 64 threads. Results identical at every thread count."
    )
    md.append("")
    for case, n in (("bins-2d", 1e6 if quick else 4e6), ("predict", 1e6 if quick else 1e7)):
        log(f"[stages] {case}, n = {n:.0e}")
        result = scaling.scaling(case, n, threads=run.info["usable_cores"],
                                 project=(16, 64), repeat=2 if quick else 3)
        run.raw.setdefault("stages", {})[case] = {
            "projected": result["projected"], "identical": result["identical"]}
        if not result["identical"]:
            run.notes.append(f"stages: {case}'s results differ between thread counts")
        md += ["**" + result["title"] + "**", ""]
        md += scaling.report(result, markdown=True, title=False)
        md.append("")
    return md


def dask_rows(run):
    """meanshift.dask on a LocalCluster (its own script, fresh processes):
    the Markdown table lines it prints, or None."""
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        run.notes.append("meanshift.dask skipped: dask.distributed is not installed.")
        return None
    sizes = ["1e5", "1e6"] if run.args.quick else ["1e6", "1e7"]
    chunk_counts = ["2", "8"] if run.args.quick else ["2", "8", "32"]
    log(f"[dask] LocalCluster of 2 workers, n = {', '.join(sizes)}, "
        f"chunks {', '.join(chunk_counts)}")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "dask.json")
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "dask_cluster.py")
        proc = subprocess.run(
            [sys.executable, script, "--n", *sizes, "--chunks", *chunk_counts,
             "--json", out], capture_output=True, text=True)
        if proc.returncode != 0:
            run.notes.append("meanshift.dask benchmark failed: "
                             + proc.stderr.strip().splitlines()[-1])
            return None
        with open(out) as f:
            run.raw["dask"] = json.load(f)
    return [line for line in proc.stdout.splitlines() if line.startswith("|")]


def dask_section(table):
    md = ["## Beyond one machine: meanshift.dask on a LocalCluster", ""]
    md.append(
        "Bin seeding, bandwidth 1.5, the data persisted on 2 worker processes "
        "(1 thread each), labels computed and kept on the cluster; one machine "
        "is meanshift.MeanShift on the same data with every core "
        "(benchmarks/dask_cluster.py). Bytes: seed positions sent to the "
        "chunk tasks and partial sums returned."
    )
    md.append("")
    md.extend(table)
    md.append("")
    return md


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------


def closing_notes(run):
    now = core_mtime()
    if now is not None and CORE_MTIME is not None and now != CORE_MTIME:
        run.notes.append(
            "meanshift was reinstalled during the run (kernel file now from "
            + time.strftime("%H:%M:%S", time.localtime(now))
            + "): in-process timings are of the build loaded at the start."
        )
    if run.load_start > 0.5 * run.info["usable_cores"]:
        run.notes.insert(
            0,
            f"The machine was busy before the run started (1-min load average "
            f"{run.load_start:.2f} on {run.info['usable_cores']} cores): absolute times are "
            "inflated and noisy, and the threads speed-up understates what idle "
            "cores give (OpenMP threads that spin-wait for a descheduled peer; "
            "compare a run with OMP_WAIT_POLICY=passive).",
        )


def cases_section(run, elapsed, load_end):
    """The title, the set-up and the table of the target cases."""
    info, S = run.info, run.S
    md = ["# meanshift vs scikit-learn vs mlpack" + (" (--quick)" if run.args.quick else "")]
    md.append("")
    md.append(
        f"Machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), "
        f"Python {info['python']}, numpy {info['numpy']}, meanshift {info['meanshift']}, "
        f"scikit-learn {info['scikit-learn']}, mlpack {info['mlpack']}, "
        f"OMP_NUM_THREADS={info['OMP_NUM_THREADS']}, "
        f"OMP_WAIT_POLICY={info['OMP_WAIT_POLICY']} (meanshift from {info['meanshift_path']}, "
        f"kernel installed {info['meanshift_built']}). "
        f"Load average {run.load_start:.2f} at start, {load_end:.2f} at end; "
        f"run took {elapsed / 60:.1f} min."
    )
    md.append("")
    md.append(
        "Times are wall clock, best of the runs shown (peers alternate from run to run). "
        "meanshift uses all usable cores (n_jobs=None), scikit-learn one process "
        "(n_jobs=None), mlpack its defaults. Ratio = peer time / meanshift time. "
        "Rows '1 OpenMP thread' run scikit-learn under threadpoolctl's "
        "threadpool_limits(1): where its neighbour queries are OpenMP-parallel "
        "per query (64-d brute force, predict), its default threads collapse "
        "when another process holds a core."
        + (" This --quick run uses only those." if not S["sk_default"] else "")
        + (f" scikit-learn runs are stopped after {S['sk_time_limit']:.0f} s "
           "('> t (stopped)')." if S["sk_time_limit"] else "")
        + " Agreement with scikit-learn: same number of clusters, identical labels, "
        "centers within 1e-3·bandwidth; mlpack: number of clusters and adjusted "
        "Rand index against scikit-learn's labels (against meanshift's where "
        "scikit-learn is not run)."
    )
    md.append("")
    md.append("| case | data | meanshift | peer | peer time | peer / meanshift | agreement |")
    md.append("|---|---|---|---|---|---|---|")
    for r in run.rows:
        md.append("| " + " | ".join(r) + " |")
    md.append("")
    return md


def notes_section(notes):
    if not notes:
        return []
    return ["## Notes", ""] + [f"- {note}" for note in notes] + [""]


def write_outputs(run, report, sweep):
    args = run.args
    if args.out_md:
        Path(args.out_md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out_md).write_text(report)
        log(f"report written to {args.out_md}")
    if args.out_json:
        Path(args.out_json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out_json).write_text(json.dumps(run.raw, indent=1, default=float))
        log(f"raw timings written to {args.out_json}")
    if args.out_png and sweep is not None:
        labels = {p: run.peer_label(p) for p in sweep.peers}
        plot(args.out_png, sweep.times, sweep.peers, labels, run.info, args.quick)
        log(f"figure written to {args.out_png}")


def main(argv=None):
    run = Run(parse_args(argv))
    run.warm_up()
    for case in CASES:
        if run.want(case.key) and (case.when is None or case.when(run)):
            run_case(run, case)

    sections, sweep = [], None
    if run.want("scale"):
        sweep = scale_sweep(run)
        sections += scale_section(run, sweep)
    run.bin_X = None
    if run.want("memory"):
        sections += memory_section(run, *memory_rows(run))
    if run.want("stages"):
        sections += stages_section(run)
    if run.want("dask"):
        table = dask_rows(run)
        if table:
            sections += dask_section(table)

    elapsed = time.perf_counter() - run.t_start
    load_end = load_avg()
    closing_notes(run)
    md = cases_section(run, elapsed, load_end) + sections + notes_section(run.notes)
    report = "\n".join(md)
    print(report)
    write_outputs(run, report, sweep)
    log(f"total {elapsed / 60:.1f} min")
    return 0


def plot(path, scale, peers, labels, info, quick):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    style = {
        "meanshift": dict(label="meanshift", marker="o", color="C0"),
        "sklearn": dict(label=labels.get("sklearn"), marker="s", color="C1"),
        "sklearn-1t": dict(label=labels.get("sklearn-1t"), marker="s", color="C1"),
        "mlpack": dict(label=labels.get("mlpack"), marker="^", color="C2"),
        "argsort": dict(label="numpy.argsort(X[:, 0]) (floor)", marker=".",
                        color="0.5", linestyle="--"),
    }
    for p in peers + ["argsort"]:
        pts = sorted(scale[p].items())
        if not pts:
            continue
        ns, ts = zip(*pts, strict=True)
        ax.loglog(ns, ts, **style[p])
    ax.set_xlabel("n (points, 2 features)")
    ax.set_ylabel("time [s]")
    ax.set_title(
        "mean shift with bin seeding (bandwidth 1.5)"
        + (" --quick" if quick else "")
        + f"\n{info['cpu']}, {info['usable_cores']} cores",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        sys.exit(main())
