"""meanshift.dask on a LocalCluster against meanshift on one machine.

Bin-seeded fits (or, with ``--algorithm grid``, grid-mode fits with
attractor labels) of n x 2 blobs (compare.py's bin-seeding data,
datasets.bin_blobs), the data
already on the workers (persisted, as when loaded from Zarr or Parquet),
labels computed and kept on the cluster.  For each size and chunking:
wall time of the fit against single-machine meanshift on the same data in
the same process, iterations, bytes sent and returned per iteration, and
the per-chunk costs a projection to a larger cluster rests on.

    python benchmarks/dask_cluster.py                 # 1M and 10M points
    python benchmarks/dask_cluster.py --n 1e6 --chunks 2 8 32 --workers 2
    python benchmarks/dask_cluster.py --algorithm grid --n 1e8 --chunks 32

Prints a markdown table; ``--json FILE`` writes the figures.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def best_of(fn, repeat):
    times, result = [], None
    for _ in range(repeat):
        # the last run's results go first: persisted labels under the same
        # keys would otherwise be found already computed
        result = None
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=float, nargs="+", default=[1e6, 1e7])
    parser.add_argument("--chunks", type=int, nargs="+", default=[2, 8, 32])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bandwidth", type=float, default=1.5)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--algorithm", choices=["exact", "grid"], default="exact",
                        help="exact: bin seeding; grid: algorithm='grid', attractor labels")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--plot", metavar="PNG",
                        help="draw the times against the number of chunks")
    parser.add_argument("--from-json", metavar="FILE",
                        help="draw --plot from an earlier --json, without running")
    args = parser.parse_args(argv)
    if args.from_json:
        with open(args.from_json) as f:
            plot(json.load(f), args.plot)
        return

    import dask.array as da
    from datasets import bin_blobs
    from distributed import Client, LocalCluster, wait

    import meanshift
    import meanshift.dask as md
    from meanshift import _core
    from meanshift._work import _climb_tree

    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1,
                           processes=True, dashboard_address=None)
    client = Client(cluster)
    rows = []
    bw = args.bandwidth
    params = (dict(bandwidth=bw, bin_seeding=True) if args.algorithm == "exact"
              else dict(bandwidth=bw, algorithm="grid", label_by="attractor"))
    # every worker imports meanshift (and scikit-learn) once, outside the
    # timings (a small fit could run on one worker only)
    client.run(lambda: __import__("meanshift.dask") and None)
    md.MeanShift(bandwidth=1.0).fit(da.from_array(np.eye(4), chunks=(2, 4)))
    try:
        for n in (int(v) for v in args.n):
            X = bin_blobs(n, 2)
            # single machine: all cores of this machine, in this process
            t_one, ref = best_of(
                lambda X=X: meanshift.MeanShift(**params).fit(X),
                args.repeat)
            for n_chunks in args.chunks:
                size = -(-n // n_chunks)
                Xd = da.from_array(X, chunks=(size, 2)).persist()
                wait(Xd)

                def run(Xd=Xd):
                    model = md.MeanShift(**params).fit(Xd)
                    labels = model.labels_.persist()
                    wait(labels)
                    return model, labels

                t_dask, (model, labels) = best_of(run, args.repeat)
                same = (np.array_equal(labels.compute(), ref.labels_)
                        and np.allclose(model.cluster_centers_, ref.cluster_centers_,
                                        rtol=1e-12, atol=0))
                traffic = model.bytes_per_iteration_
                # per-chunk costs, on this process, one thread: the tree a
                # chunk's build task makes, one step of every seed on it
                chunk = np.ascontiguousarray(X[:size])
                t_build, tree = best_of(lambda chunk=chunk: _climb_tree(chunk, None, "flat", 1), 1)
                seeds = meanshift.get_bin_seeds(X, bw).astype(np.float64)
                t_step, _ = best_of(
                    lambda tree=tree, seeds=seeds: _core.ball_sums(
                        tree, seeds, bandwidth=bw, n_threads=1, kernel=0), 2)
                row = dict(
                    n=n, chunks=n_chunks, workers=args.workers, algorithm=args.algorithm,
                    one_machine_s=t_one, dask_s=t_dask, ratio=t_dask / t_one,
                    iterations=len(traffic), seeds=len(seeds),
                    bytes_first_iteration=traffic[0], bytes_total=int(sum(traffic)),
                    bytes_mean_iteration=float(np.mean(traffic)),
                    chunk_build_s=t_build, chunk_step_all_seeds_s=t_step,
                    same_labels=bool(same),
                )
                rows.append(row)
                print(json.dumps(row), flush=True)
                del Xd, model, labels, tree, run
            del X, ref
    finally:
        client.close()
        cluster.close()

    print()
    print(f"| points | chunks | one machine | LocalCluster ({args.workers} workers) "
          "| ratio | iterations | bytes / iteration (first, mean) | same labels |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']:,} | {r['chunks']} | {r['one_machine_s']:.2f} s "
              f"| {r['dask_s']:.2f} s | {r['ratio']:.1f}x | {r['iterations']} "
              f"| {r['bytes_first_iteration'] / 1e3:,.0f} kB, "
              f"{r['bytes_mean_iteration'] / 1e3:,.0f} kB | {r['same_labels']} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    if args.plot:
        plot(rows, args.plot)


def plot(rows, path):
    """Fit time against the number of chunks, one line per size, with one
    machine's time as a dashed line of the same colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for i, n in enumerate(sorted({r["n"] for r in rows})):
        sub = sorted((r for r in rows if r["n"] == n), key=lambda r: r["chunks"])
        colour = f"C{i}"
        ax.plot([r["chunks"] for r in sub], [r["dask_s"] for r in sub], "o-",
                color=colour, label=f"{n:,} points, LocalCluster ({sub[0]['workers']} workers)")
        ax.axhline(sub[0]["one_machine_s"], color=colour, ls="--", lw=1,
                   label=f"{n:,} points, one machine")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("chunks")
    ax.set_ylabel("fit + labels, seconds")
    ax.set_title("meanshift.dask, bin seeding, 2-D blobs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
