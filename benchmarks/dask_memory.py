"""What a meanshift.dask fit costs each worker in memory.

A bin-seeded fit (bandwidth 1.5, labels persisted on the cluster) of n x 2
blobs made on the workers, on a fresh LocalCluster of one-thread worker
processes per run.  For each worker: the part of X it holds, and the
growth of its peak resident memory (VmHWM) during the fit and its labels,
over its resident memory just before (the peak is reset through
/proc/self/clear_refs, so Linux only).  A sampling thread in each worker
records when the peak came and how many trees it held then.

By default each worker first runs a small meanshift task outside the
measurement, as any worker has after its first fit: its one-time cost
(importing meanshift's task modules, the kernels' thread pool) is printed
apart.  ``--cold`` leaves that in the measurement.

    python benchmarks/dask_memory.py                       # 16M x 2, 32 chunks, 4 workers, 3 runs
    python benchmarks/dask_memory.py --n 4e6 --chunks 8 --workers 2 --runs 1 --cold
"""

import argparse
import collections
import threading
import time

import numpy as np

# the data set (datasets.chunk_blobs), shared with the other benchmarks: this
# folder is on sys.path when the script runs (``python benchmarks/dask_memory.py``)
from datasets import chunk_blobs


def _status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, value = line.split(":", 1)
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


def _reset_peak():
    import gc

    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status()


def _kind(key):
    name = str(key[0] if isinstance(key, tuple) else key)
    return "tree" if name.startswith("_build-") else "other"


def _start_sampler(dask_worker):
    samples, stop = [], threading.Event()

    def run():
        while not stop.is_set():
            try:
                keys = list(dask_worker.data.keys())
            except RuntimeError:  # changed while read: read again
                continue
            trees = sum(_kind(k) == "tree" for k in keys)
            samples.append((time.time(), _status()["VmRSS"], trees))
            time.sleep(0.005)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    dask_worker._meanshift_sampler = (samples, stop, thread)


def _stop_sampler(dask_worker):
    samples, stop, thread = dask_worker._meanshift_sampler
    stop.set()
    thread.join()
    return samples


def _warm():
    """What a worker's first meanshift tasks load, outside the measurement:
    the modules the tasks come from and the kernels' thread pool."""
    from meanshift import _dask_tasks as tasks
    from meanshift._work import _FitPlan

    x = np.random.default_rng(0).standard_normal((50_000, 2))
    plan = _FitPlan(x.dtype, x.dtype, "flat", 300)
    plan.given(1.0)
    tree = tasks._build(x, None, plan)
    tasks._partial(tree, tasks._Step(x[:100].copy()), plan)
    tasks._nearest_labels(x, x[:3].copy(), plan, True, 1)
    return _status()["VmRSS"]


def one_run(n, n_chunks, n_workers, cold):
    import dask.array as da
    from distributed import Client, LocalCluster, wait

    import meanshift.dask as md

    block = n // n_chunks
    make = chunk_blobs(block)   # a closure: Dask sends it to the workers by value
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                      memory_limit=0, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        X = da.map_blocks(
            lambda b, block_info=None: make(block_info[None]["chunk-location"][0]),
            da.zeros((block * n_chunks,), chunks=block, dtype=np.float64),
            new_axis=1, chunks=(block, 2), dtype=np.float64,
        ).persist()
        wait(X)
        held = collections.Counter()
        for ws in client.who_has(X).values():
            for w in ws:
                held[w] += block * 2 * 8
        first = {}
        if not cold:
            before = client.run(lambda: _status()["VmRSS"])
            after = client.run(_warm)
            first = {w: after[w] - before[w] for w in after}
        before = client.run(_reset_peak)
        client.run(_start_sampler)
        t0 = time.time()
        model = md.MeanShift(bandwidth=1.5, bin_seeding=True).fit(X)
        t_fit = time.time()
        labels = model.labels_.persist()
        wait(labels)
        elapsed = time.time() - t0
        samples = client.run(_stop_sampler)
        peaks = client.run(_status)
        rows = []
        for w in sorted(peaks):
            growth = peaks[w]["VmHWM"] - before[w]["VmRSS"]
            when, _, trees = max(samples[w], key=lambda s: s[1]) if samples[w] else (t0, 0, 0)
            rows.append(dict(
                worker=w, held=held[w], growth=growth, ratio=growth / held[w],
                phase="fit" if when < t_fit else "labels", trees_at_peak=trees,
                first_task=first.get(w),
            ))
        return rows, elapsed, len(model.cluster_centers_)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=float, default=16e6)
    parser.add_argument("--chunks", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold", action="store_true",
                        help="measure each worker's first meanshift task too")
    args = parser.parse_args(argv)
    n = int(args.n)
    print(f"bin-seeded fit of {n:,} x 2 in {args.chunks} chunks, LocalCluster of "
          f"{args.workers} one-thread workers, {'cold' if args.cold else 'warm'} workers")
    print()
    print("| run | worker | X held | peak growth | growth / X held | peak during | trees then |"
          + ("" if args.cold else " first task (once) |"))
    print("|---|---|---|---|---|---|---|" + ("" if args.cold else "---|"))
    worst = 0.0
    for run in range(1, args.runs + 1):
        rows, elapsed, k = one_run(n, args.chunks, args.workers, args.cold)
        for i, r in enumerate(rows):
            worst = max(worst, r["ratio"])
            line = (f"| {run} | {i + 1} | {r['held'] / 2**20:.0f} MiB | "
                    f"{r['growth'] / 2**20:.0f} MiB | {r['ratio']:.2f}x | {r['phase']} | "
                    f"{r['trees_at_peak']} |")
            if not args.cold:
                line += f" {r['first_task'] / 2**20:.0f} MiB |"
            print(line, flush=True)
    print()
    print(f"worst worker: {worst:.2f}x the part of X it holds")


if __name__ == "__main__":
    main()
