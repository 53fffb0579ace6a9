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
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------
# Libraries
# ---------------------------------------------------------------------------

import meanshift  # noqa: E402
import meanshift._core  # noqa: E402,F401  (loaded now: its file's time is the build's)
import sklearn  # noqa: E402
from sklearn import cluster as skcluster  # noqa: E402
from sklearn.datasets import load_digits, make_blobs  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

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
    if hasattr(os, "sched_getaffinity"):
        usable = len(os.sched_getaffinity(0))
    else:
        usable = os.cpu_count()
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


def blobs(n, d, centers, random_state, cluster_std=1.0):
    X, _ = make_blobs(
        n_samples=n,
        n_features=d,
        centers=centers,
        cluster_std=cluster_std,
        random_state=random_state,
    )
    return X


def bin_data(n, d=2):
    """The bin-seeding recipe: 8 unit blobs, seed 1 (same data for a given n)."""
    return blobs(n, d, centers=8, random_state=1)


def digits_data():
    return StandardScaler().fit_transform(load_digits().data)


def image_data(step=1):
    """Colour-and-position features of the pixels of a photograph that
    scikit-learn ships (china.jpg, 427 x 640): red, green, blue in [0, 1]
    and column, row divided by the width, the classic segmentation set-up."""
    from sklearn.datasets import load_sample_image

    img = load_sample_image("china.jpg")[::step, ::step]
    h, w, _ = img.shape
    yy, xx = np.mgrid[0:h, 0:w]
    return np.column_stack(
        [img.reshape(-1, 3) / 255.0, xx.ravel() / w, yy.ravel() / w]
    )


def coverage(X, bandwidth, n_probe=200, seed=0):
    """Mean share of the points within bandwidth of a point (sampled)."""
    rng = np.random.default_rng(seed)
    probes = X[rng.choice(len(X), min(n_probe, len(X)), replace=False)]
    return float(np.mean([
        np.count_nonzero(((X - q) ** 2).sum(1) <= bandwidth**2) / len(X)
        for q in probes
    ]))


CASE_KEYS = ["all", "digits", "bin", "floor", "bin3", "image", "bandwidth",
             "predict", "threads", "kernels", "scale", "memory", "dask"]

PREDICT_CENTERS = np.array([[8.0 * i, 8.0 * j] for i in range(4) for j in range(3)])


# ---------------------------------------------------------------------------
# Memory (fresh subprocesses)
# ---------------------------------------------------------------------------

MEMORY_SCRIPT = r"""
import gc, json, os, sys
import numpy as np
from sklearn.datasets import make_blobs

lib, n, d, dtype, bw = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])

def status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0]) * 1024
    return out

X, _ = make_blobs(n_samples=n, n_features=d, centers=8, cluster_std=1.0, random_state=1)
X = np.ascontiguousarray(X, dtype=dtype)
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
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
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
"""


def measure_memory(lib, n, d, dtype, bw):
    # run outside the source tree, so `import meanshift` finds the installed
    # package (the same one this process imported), not the uncompiled sources
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, lib, str(n), str(d), dtype, str(bw)],
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


def settings(quick):
    if quick:
        return dict(
            all_n=1000,
            digits_rows=300,
            bin_n=100_000,
            bin3_n=100_000,
            eb_n=5000,
            predict_n=200_000,
            threads_n=5000,
            scale_ns=[10_000, 30_000, 100_000, 300_000, 1_000_000],
            peer_cap=5.0,
            budget=1.5,
            kmax=3,
            slow=5.0,
            memory_n=1_000_000,
            memory_mlpack=False,
            sk_default=False,
            sk_time_limit=30.0,
        )
    return dict(
        all_n=5000,
        digits_rows=None,
        bin_n=1_000_000,
        bin3_n=300_000,
        eb_n=20_000,
        predict_n=1_000_000,
        threads_n=20_000,
        scale_ns=[10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000, 10_000_000],
        peer_cap=60.0,
        budget=6.0,
        kmax=5,
        slow=12.0,
        memory_n=1_000_000,
        memory_mlpack=True,
        sk_default=True,
        sk_time_limit=180.0,
    )


def fmt_n(n):
    for div, suf in ((1_000_000, "M"), (1_000, "k")):
        if n >= div and n % div == 0:
            return f"{n // div:,}{suf}"
    return f"{n:,}"


def main(argv=None):
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
    args = parser.parse_args(argv)

    def want(key):
        return args.only is None or key in args.only

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
    use_sk = not args.no_sklearn
    use_ml = mlpack is not None and not args.no_mlpack
    notes = []
    if mlpack is None:
        notes.append(f"mlpack skipped: not importable ({MLPACK_ERROR}).")
    elif args.no_mlpack:
        notes.append("mlpack skipped (--no-mlpack).")
    if not use_sk:
        notes.append("scikit-learn skipped (--no-sklearn): no agreement checks.")

    race_kw = dict(budget=S["budget"], kmax=S["kmax"], slow=S["slow"])
    info = machine_info()
    load_start = load_avg()
    t_start = time.perf_counter()
    rows = []  # (case, data, meanshift time, peer, peer time, ratio, agreement)
    raw = {"machine": info, "settings": S, "cases": {}}
    sk_name = f"scikit-learn {sklearn.__version__}"
    ml_name = f"mlpack {info['mlpack']}"

    # warm-up: imports, OpenMP thread pool, mlpack's first call
    Xw = blobs(2000, 2, centers=3, random_state=0)
    ms_fit(Xw, 1.0, bin_seeding=True)
    if use_ml:
        mlpack_fit(Xw, 1.0)

    def peer_label(name):
        return {
            "sklearn": sk_name,
            "sklearn-1t": sk_name + ", 1 OpenMP thread",
            "mlpack": ml_name,
        }.get(name, name)

    def sk_runners(fn, also_single_thread=False):
        """scikit-learn as users get it (its defaults), time-limited; and,
        where its work is OpenMP-parallel per tiny query, also with one
        OpenMP thread (threadpoolctl), which is what it needs on a busy
        machine."""
        out = {}
        if use_sk:
            if S["sk_default"]:
                out["sklearn"] = limited(fn, S["sk_time_limit"])
            if also_single_thread or not S["sk_default"]:
                out["sklearn-1t"] = limited(single_threaded(fn), S["sk_time_limit"])
        return out

    def sk_reference(timings):
        for name in ("sklearn", "sklearn-1t"):
            if name in timings and not timings[name].stopped:
                return name, timings[name].result
        return None, None

    def ratio(peer, ms):
        r = fmt_ratio(peer.best / ms.best)
        return "> " + r if peer.stopped else r

    def record(case, timings):
        raw["cases"][case] = {
            name: {"times": t.times, "best": t.best, "stopped": t.stopped}
            for name, t in timings.items()
        }

    def solo_row(case, data_desc, timings):
        if len(timings) == 1:  # no peer run (--no-sklearn / --no-mlpack)
            rows.append((case, data_desc, timings["meanshift"].fmt(), "—", "—", "—",
                         "(no peer run)"))

    def add_fit_rows(case, data_desc, timings, bw):
        ms = timings["meanshift"]
        record(case, timings)
        solo_row(case, data_desc, timings)
        ref_name, ref = sk_reference(timings)
        for name, t in timings.items():
            if name == "meanshift":
                continue
            if name.startswith("sklearn"):
                if t.stopped:
                    text = "— (stopped)"
                    if ref is not None:
                        text += f"; see {peer_label(ref_name)}"
                else:
                    ok, text = agree_with_sklearn(ms.result, t.result, bw)
                    raw["cases"][case]["agree_" + name] = ok
                    if not ok:
                        notes.append(
                            f"meanshift DISAGREES with {peer_label(name)} on '{case}' "
                            f"({data_desc}): {text}"
                        )
            else:
                if ref is not None:
                    text = agree_mlpack(t.result, ref, "sklearn")
                else:
                    text = agree_mlpack(t.result, ms.result, "meanshift")
            rows.append(
                (case, data_desc, ms.fmt(), peer_label(name), t.fmt(), ratio(t, ms), text)
            )

    # -- all points as seeds, 2-d ---------------------------------------------
    if want('all'):
        n = S["all_n"]
        case = "all points as seeds"
        log(f"[{case}] make_blobs({n}, 2, centers=6, cluster_std=1.0, random_state=0), bw 1.2")
        X = blobs(n, 2, centers=6, random_state=0)
        runners = {"meanshift": lambda: ms_fit(X, 1.2)}
        runners.update(sk_runners(lambda: sk_fit(X, 1.2)))
        add_fit_rows(case, f"blobs {n:,}×2, bw 1.2", race(runners, **race_kw), 1.2)

    # -- all points, high-d (digits) -----------------------------------------
    if want('digits'):
        case = "all points, high-d"
        D = digits_data()
        if S["digits_rows"]:
            D = np.ascontiguousarray(D[: S["digits_rows"]])
        desc = f"digits std. {D.shape[0]:,}×{D.shape[1]}, bw 9.4"
        log(f"[{case}] {desc}")
        runners = {"meanshift": lambda: ms_fit(D, 9.4)}
        # 64-d: scikit-learn's radius queries go brute force, OpenMP-parallel per
        # query, which collapses when another process holds a core
        runners.update(sk_runners(lambda: sk_fit(D, 9.4), also_single_thread=True))
        add_fit_rows(case, desc, race(runners, **race_kw), 9.4)

    scale_cache, ms_bin, Xb = {}, None, None
    # -- bin seeding, 2-d -----------------------------------------------------
    if want('bin'):
        case = "bin seeding"
        n = S["bin_n"]
        desc = f"blobs {fmt_n(n)}×2 (8 centers, seed 1), bw 1.5"
        log(f"[{case}] {desc}")
        Xb = bin_data(n, 2)
        runners = {"meanshift": lambda: ms_fit(Xb, 1.5, bin_seeding=True)}
        if use_ml:
            runners["mlpack"] = lambda: mlpack_fit(Xb, 1.5)
        runners.update(sk_runners(lambda: sk_fit(Xb, 1.5, bin_seeding=True)))
        timings = race(runners, **race_kw)
        add_fit_rows(case, desc, timings, 1.5)
        # the scale sweep reuses the peers' measurements (same data for this n);
        # meanshift is cheap and re-measured there, next to its neighbours in n
        scale_cache = {(name, n): t for name, t in timings.items() if name != "meanshift"}
        ms_bin = timings["meanshift"]
        del timings

    # -- floor: argsort of one column -----------------------------------------
    if want('floor') and ms_bin is not None:
        case = "floor"
        log(f"[{case}] numpy.argsort of one column of the {fmt_n(n)}×2 data")
        col = np.ascontiguousarray(Xb[:, 0])
        timings = race({"argsort": lambda: np.argsort(col)}, **race_kw)
        record(case, timings)
        t_sort = timings["argsort"]
        rows.append(
            (case, f"numpy.argsort(X[:, 0]), {fmt_n(n)} float64",
             ms_bin.fmt() + " (bin seeding)", "numpy.argsort",
             t_sort.fmt(), fmt_ratio(t_sort.best / ms_bin.best),
             f"meanshift / argsort = {fmt_ratio(ms_bin.best / t_sort.best)}")
        )
        del col

    # -- bin seeding, 3-d -----------------------------------------------------
    if want('bin3'):
        case = "bin seeding, 3-d"
        n = S["bin3_n"]
        desc = f"blobs {fmt_n(n)}×3 (8 centers, seed 1), bw 1.5"
        log(f"[{case}] {desc}")
        X3 = bin_data(n, 3)
        runners = {"meanshift": lambda: ms_fit(X3, 1.5, bin_seeding=True)}
        if use_ml:
            runners["mlpack"] = lambda: mlpack_fit(X3, 1.5)
        runners.update(sk_runners(lambda: sk_fit(X3, 1.5, bin_seeding=True)))
        timings = race(runners, **race_kw)
        add_fit_rows(case, desc, timings, 1.5)
        del X3, timings

    # -- mid-dimensional, wide kernel: image segmentation --------------------
    if want("image"):
        case = "image segmentation, 5-d"
        Xi = image_data(step=2 if args.quick else 1)
        bw_i = 0.2
        share = coverage(Xi, bw_i)
        desc = (f"china.jpg pixels {fmt_n(len(Xi))}×5 (r, g, b, x, y), bw {bw_i} "
                f"(~{100 * share:.0f}% of the points within bw)")
        log(f"[{case}] {desc}")
        runners = {"meanshift": lambda: ms_fit(Xi, bw_i, bin_seeding=True)}
        if use_ml:
            runners["mlpack"] = lambda: mlpack_fit(Xi, bw_i)
        runners.update(sk_runners(lambda: sk_fit(Xi, bw_i, bin_seeding=True)))
        timings = race(runners, **race_kw)
        add_fit_rows(case, desc, timings, bw_i)
        del Xi, timings

    # -- kernels and weights (meanshift only) -----------------------------------
    if want("kernels"):
        weights_rng = np.random.default_rng(5)
        for case_name, Xk, bw_k, bin_k in [
            ("kernels, all points", blobs(S["all_n"], 2, centers=6, random_state=0),
             1.2, False),
            ("kernels, bin seeding", bin_data(S["bin_n"], 2), 1.5, True),
        ]:
            wk = weights_rng.uniform(0.5, 2.0, len(Xk))
            kind = "bin seeding" if bin_k else "all points"
            desc = f"blobs {fmt_n(len(Xk))}×2, bw {bw_k}, {kind}"
            log(f"[{case_name}] {desc}")
            variants = {
                "flat": {},
                "flat, sample_weight": dict(sample_weight=wk),
                "epanechnikov": dict(kernel="epanechnikov"),
                "gaussian": dict(kernel="gaussian"),
            }
            runners = {
                name: (lambda kw=kw: ms_fit(Xk, bw_k, bin_seeding=bin_k, **kw))
                for name, kw in variants.items()
            }
            timings = race(runners, **race_kw)
            record(case_name, timings)
            flat = timings["flat"]
            for name in variants:
                if name == "flat":
                    continue
                t = timings[name]
                rows.append(
                    (case_name, desc, t.fmt() + f" ({name})", "meanshift flat",
                     flat.fmt(), fmt_ratio(flat.best / t.best),
                     f"{name}: {fmt_ratio(t.best / flat.best)} flat's time, "
                     f"{len(t.result[0])} clusters (flat: {len(flat.result[0])})")
                )
            del Xk, timings

    # -- estimate_bandwidth ---------------------------------------------------
    if want('bandwidth'):
        case = "estimate_bandwidth"
        n = S["eb_n"]
        desc = f"blobs {n:,}×3 (5 centers, seed 2), defaults"
        log(f"[{case}] {desc}")
        Xe = blobs(n, 3, centers=5, random_state=2)
        runners = {"meanshift": lambda: meanshift.estimate_bandwidth(Xe)}
        runners.update(sk_runners(lambda: skcluster.estimate_bandwidth(Xe)))
        timings = race(runners, **race_kw)
        ms = timings["meanshift"]
        record(case, timings)
        solo_row(case, desc, timings)
        for name, sk in timings.items():
            if name == "meanshift":
                continue
            if sk.stopped:
                text = "— (stopped)"
            else:
                b1, b2 = float(ms.result), float(sk.result)
                rel = abs(b1 - b2) / b2
                ok = rel <= 1e-12
                text = (f"{'yes' if ok else '**NO**'}: bandwidth {b1:.10g} vs {b2:.10g} "
                        f"(rel. diff {rel:.1e})")
                if not ok:
                    notes.append(f"estimate_bandwidth differs from {peer_label(name)}'s: {text}")
            rows.append((case, desc, ms.fmt(), peer_label(name), sk.fmt(), ratio(sk, ms), text))
        del Xe, timings

    # -- predict --------------------------------------------------------------
    if want('predict'):
        case = "predict"
        n = S["predict_n"]
        model = meanshift.MeanShift(bandwidth=1.5, bin_seeding=True).fit(
            blobs(20_000, 2, centers=PREDICT_CENTERS, random_state=3)
        )
        centers = model.cluster_centers_
        desc = f"{fmt_n(n)}×2 points vs {len(centers)} centers"
        log(f"[{case}] {desc}")
        Xp = blobs(n, 2, centers=PREDICT_CENTERS, random_state=4)
        runners = {"meanshift": lambda: model.predict(Xp)}
        sk_model = skcluster.MeanShift(bandwidth=1.5)
        sk_model.cluster_centers_ = centers.copy()
        sk_model.n_features_in_ = centers.shape[1]
        runners.update(sk_runners(lambda: sk_model.predict(Xp), also_single_thread=True))
        timings = race(runners, **race_kw)
        ms = timings["meanshift"]
        record(case, timings)
        solo_row(case, desc, timings)
        for name, sk in timings.items():
            if name == "meanshift":
                continue
            if sk.stopped:
                text = "— (stopped)"
            else:
                same = np.array_equal(ms.result, sk.result)
                text = "yes: labels identical" if same else (
                    f"**NO**: {int(np.count_nonzero(ms.result != sk.result))} labels differ")
                if not same:
                    notes.append(f"predict differs from {peer_label(name)}'s: {text}")
            rows.append((case, desc, ms.fmt(), peer_label(name) + " (same centers)",
                         sk.fmt(), ratio(sk, ms), text))
        del Xp, timings

    # -- threads --------------------------------------------------------------
    if want('threads'):
        case = "threads"
        n = S["threads_n"]
        desc = f"all points as seeds, blobs {n:,}×2 (seed 0), bw 1.2"
        log(f"[{case}] {desc}")
        Xt = blobs(n, 2, centers=8, random_state=0)
        timings = race(
            {
                "n_jobs=-1": lambda: ms_fit(Xt, 1.2, n_jobs=-1),
                "n_jobs=1": lambda: ms_fit(Xt, 1.2, n_jobs=1),
            },
            **race_kw,
        )
        tp, t1 = timings["n_jobs=-1"], timings["n_jobs=1"]
        record(case, timings)
        same = np.array_equal(tp.result[1], t1.result[1]) and np.array_equal(
            tp.result[0], t1.result[0]
        )
        rows.append(
            (case, desc, tp.fmt() + f" (n_jobs=-1, {info['usable_cores']} cores)",
             "meanshift n_jobs=1", t1.fmt(), fmt_ratio(t1.best / tp.best),
             f"speed-up {fmt_ratio(t1.best / tp.best)}; results "
             + ("bit-identical" if same else "**DIFFER**"))
        )
        if not same:
            notes.append("meanshift's results differ between n_jobs=1 and n_jobs=-1")
        del Xt, timings

    # -- scale sweep ----------------------------------------------------------
    if want('scale'):
        log("[scale] bin seeding, d=2, n = " + ", ".join(fmt_n(n) for n in scale_ns))
        sk_scale = "sklearn" if S["sk_default"] else "sklearn-1t"
        peers = ["meanshift"] + ([sk_scale] if use_sk else []) + (["mlpack"] if use_ml else [])
        scale = {p: {} for p in peers + ["argsort"]}
        scale_clusters = {}
        stopped = {}

        def scale_known(p):
            known = {m: t.best for (q, m), t in scale_cache.items() if q == p}
            known.update(scale[p])
            return known

        for n in scale_ns:
            if n == S["bin_n"] and Xb is not None:
                Xs = Xb
            else:
                Xs = bin_data(n, 2)
            runners = {}
            for p in peers:
                if (p, n) in scale_cache:
                    t = scale_cache[(p, n)]
                    if t.stopped:
                        stopped[p] = (n, t.best)
                    else:
                        scale[p][n] = t.best
                    continue
                if p != "meanshift":
                    if p in stopped:
                        continue
                    predicted = predict_time(scale_known(p), n)
                    if predicted > S["peer_cap"]:
                        stopped[p] = (n, predicted)
                        log(f"    {p}: stop before n={fmt_n(n)} (predicted {predicted:.0f} s)")
                        continue
                if p == "meanshift":
                    runners[p] = lambda X=Xs: ms_fit(X, 1.5, bin_seeding=True)
                elif p.startswith("sklearn"):
                    runners.update(sk_runners(lambda X=Xs: sk_fit(X, 1.5, bin_seeding=True)))
                else:
                    runners[p] = lambda X=Xs: mlpack_fit(X, 1.5)
            log(f"  n={fmt_n(n)}")
            if runners:
                timings = race(runners, **race_kw)
                for p, t in timings.items():
                    if t.stopped:
                        stopped[p] = (n, t.best)
                    else:
                        scale[p][n] = t.best
                if "meanshift" in timings:
                    scale_clusters[n] = len(timings["meanshift"].result[0])
                del timings
            c = np.ascontiguousarray(Xs[:, 0])
            scale["argsort"][n] = race({"a": lambda: np.argsort(c)}, **race_kw)["a"].best
            del c, Xs
            gc.collect()
        raw["scale"] = {p: {str(n): t for n, t in v.items()} for p, v in scale.items()}
    Xb = None

    # -- memory ---------------------------------------------------------------
    if want('memory'):
        n = S["memory_n"]
        log(f"[memory] bin seeding {fmt_n(n)}×2, fresh subprocesses")
        memory_rows = []
        mem_jobs = [("meanshift", "float64"), ("meanshift", "float32")]
        if use_ml and S["memory_mlpack"]:
            mem_jobs.append(("mlpack", "float64"))
        reset_ok = True
        for lib, dtype in mem_jobs:
            try:
                added, nbytes, reset, other_build = measure_memory(lib, n, 2, dtype, 1.5)
                reset_ok &= reset
                if other_build:
                    notes.append(
                        f"memory of meanshift {dtype} was measured on another build than "
                        f"the timings (reinstalled during the run, kernel from {other_build})."
                    )
                memory_rows.append((lib, dtype, nbytes, added))
                log(f"    {lib} {dtype}: +{added / 2**20:.1f} MiB ({added / nbytes:.2f}× input)")
            except Exception as exc:
                memory_rows.append((lib, dtype, None, None))
                notes.append(f"memory measurement failed for {lib} {dtype}: {exc}")
        raw["memory"] = [
            {"lib": a, "dtype": b, "input_bytes": c, "added_bytes": d} for a, b, c, d in memory_rows
        ]

    # -- meanshift.dask on a LocalCluster (its own script, fresh processes) ----
    dask_table = None
    if want('dask'):
        import importlib.util

        import tempfile

        if importlib.util.find_spec("distributed") is None:
            notes.append("meanshift.dask skipped: dask.distributed is not installed.")
        else:
            sizes = ["1e5", "1e6"] if args.quick else ["1e6", "1e7"]
            chunk_counts = ["2", "8"] if args.quick else ["2", "8", "32"]
            log(f"[dask] LocalCluster of 2 workers, n = {', '.join(sizes)}, "
                f"chunks {', '.join(chunk_counts)}")
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "dask.json")
                script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                      "dask_cluster.py")
                proc = subprocess.run(
                    [sys.executable, script, "--n", *sizes, "--chunks", *chunk_counts,
                     "--json", out], capture_output=True, text=True)
                if proc.returncode == 0:
                    dask_table = [line for line in proc.stdout.splitlines()
                                  if line.startswith("|")]
                    with open(out) as f:
                        raw["dask"] = json.load(f)
                else:
                    notes.append("meanshift.dask benchmark failed: "
                                 + proc.stderr.strip().splitlines()[-1])

    elapsed = time.perf_counter() - t_start
    load_end = load_avg()
    now = core_mtime()
    if now is not None and CORE_MTIME is not None and now != CORE_MTIME:
        notes.append(
            "meanshift was reinstalled during the run (kernel file now from "
            + time.strftime("%H:%M:%S", time.localtime(now))
            + "): in-process timings are of the build loaded at the start."
        )
    if load_start > 0.5 * info["usable_cores"]:
        notes.insert(
            0,
            f"The machine was busy before the run started (1-min load average "
            f"{load_start:.2f} on {info['usable_cores']} cores): absolute times are "
            "inflated and noisy, and the threads speed-up understates what idle "
            "cores give (OpenMP threads that spin-wait for a descheduled peer; "
            "compare a run with OMP_WAIT_POLICY=passive).",
        )

    # -- report ---------------------------------------------------------------
    md = []
    md.append("# meanshift vs scikit-learn vs mlpack" + (" (--quick)" if args.quick else ""))
    md.append("")
    md.append(
        f"Machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), "
        f"Python {info['python']}, numpy {info['numpy']}, meanshift {info['meanshift']}, "
        f"scikit-learn {info['scikit-learn']}, mlpack {info['mlpack']}, "
        f"OMP_NUM_THREADS={info['OMP_NUM_THREADS']}, "
        f"OMP_WAIT_POLICY={info['OMP_WAIT_POLICY']} (meanshift from {info['meanshift_path']}, kernel installed {info['meanshift_built']}). "
        f"Load average {load_start:.2f} at start, {load_end:.2f} at end; "
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
    for r in rows:
        md.append("| " + " | ".join(r) + " |")
    md.append("")

    if want('scale'):
        md.append("## Scale: bin seeding, d = 2, bandwidth 1.5")
        md.append("")
        md.append(
            f"Peers run while their predicted time (log-log extrapolation from the sizes "
            f"already measured) stays below {S['peer_cap']:.0f} s; '—' = not run. "
            f"Times are best of up to {S['kmax']} runs (1 run above {S['slow']:.0f} s)."
        )
        md.append("")
        head = "| n | meanshift | clusters |"
        sep = "|---|---|---|"
        for p in peers[1:]:
            head += f" {peer_label(p)} | {p.split('-')[0]} / meanshift |"
            sep += "---|---|"
        head += " argsort(X[:, 0]) | meanshift / argsort |"
        sep += "---|---|"
        md.append(head)
        md.append(sep)
        for n in scale_ns:
            tm = scale["meanshift"].get(n)
            line = f"| {fmt_n(n)} | {fmt_time(tm)} | {scale_clusters.get(n, '—')} |"
            for p in peers[1:]:
                tp = scale[p].get(n)
                line += f" {fmt_time(tp)} | {fmt_ratio(tp / tm) if tp and tm else '—'} |"
            ta = scale["argsort"].get(n)
            line += f" {fmt_time(ta)} | {fmt_ratio(tm / ta) if ta and tm else '—'} |"
            md.append(line)
        md.append("")

    if want('memory'):
        md.append(f"## Memory: peak added by a bin-seeding fit, {fmt_n(S['memory_n'])}×2")
        md.append("")
        md.append(
            "Fresh subprocess per row; VmHWM (reset via /proc/self/clear_refs) after the "
            "fit minus VmRSS before it, so C allocations count; labels (int64) are part "
            "of the result."
            + ("" if reset_ok else " **VmHWM could not be reset: values are lower bounds.**")
        )
        md.append("")
        md.append("| library | dtype | input size | peak added | × input size |")
        md.append("|---|---|---|---|---|")
        for lib, dtype, nbytes, added in memory_rows:
            if added is None:
                md.append(f"| {lib} | {dtype} | — | failed | — |")
            else:
                md.append(
                    f"| {lib} | {dtype} | {nbytes / 2**20:.1f} MiB | {added / 2**20:.1f} MiB | "
                    f"{added / nbytes:.2f}× |"
                )
        md.append("")
    if dask_table:
        md.append("## Beyond one machine: meanshift.dask on a LocalCluster")
        md.append("")
        md.append(
            "Bin seeding, bandwidth 1.5, the data persisted on 2 worker processes "
            "(1 thread each), labels computed and kept on the cluster; one machine "
            "is meanshift.MeanShift on the same data with every core "
            "(benchmarks/dask_cluster.py). Bytes: seed positions sent to the "
            "chunk tasks and partial sums returned."
        )
        md.append("")
        md.extend(dask_table)
        md.append("")
    if notes:
        md.append("## Notes")
        md.append("")
        for note in notes:
            md.append(f"- {note}")
        md.append("")
    report = "\n".join(md)
    print(report)

    if args.out_md:
        Path(args.out_md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out_md).write_text(report)
        log(f"report written to {args.out_md}")
    if args.out_json:
        Path(args.out_json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out_json).write_text(json.dumps(raw, indent=1, default=float))
        log(f"raw timings written to {args.out_json}")
    if args.out_png and want("scale"):
        labels = {p: peer_label(p) for p in peers}
        plot(args.out_png, scale, peers, labels, info, args.quick)
        log(f"figure written to {args.out_png}")
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
        ns, ts = zip(*pts)
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
