"""
Mean shift on a Dask cluster
============================

:mod:`meanshift.dask` clusters a Dask array where its chunks live: the
points never meet in one place.  This example starts a
:class:`distributed.LocalCluster` of two workers (on a real
cluster, connect to its scheduler instead, ``Client("tcp://scheduler:8786")``;
nothing else changes), makes four blobs of points as a Dask array on the
workers, clusters it and counts the points per cluster, all on the cluster.

The documentation runs it on 100,000 points with the two workers as threads
of this process (quick to start; the kernels release the GIL), to build in
seconds.  The README's 10 million points on two worker processes (under a
minute on 2 cores) are two options away, in a clone of the repository with
``pip install ".[dask,plot]"``::

    python docs/gallery/plot_dask_cluster.py --n 1e7 --processes
"""

import argparse
import time

import dask.array as da
import matplotlib.pyplot as plt
from distributed import Client, LocalCluster

import meanshift
from meanshift.dask import MeanShift

parser = argparse.ArgumentParser(description="Mean shift on a Dask cluster")
parser.add_argument("--n", type=float, default=1e5, help="number of points (default 1e5)")
parser.add_argument("--workers", type=int, default=2, help="workers (default 2)")
parser.add_argument("--processes", action="store_true",
                    help="workers in processes of their own (default: threads)")
args = parser.parse_args()
n = int(args.n) // 4

# %%
# The data: four blobs, made on the workers
# -----------------------------------------
#
# ``persist`` keeps the chunks on the workers, as if they had been loaded
# there from Zarr or Parquet.  The guard is needed in a script: worker
# processes (``--processes``) import the main module.

if __name__ == "__main__":
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1,
                           processes=args.processes, dashboard_address=":0")
    client = Client(cluster)
    rng = da.random.default_rng(0)
    chunk = max(1, min(n, 500_000, -(-n // 4)))  # at least 4 chunks per blob
    X = da.concatenate([rng.normal(center, 1.0, size=(n, 2), chunks=(chunk, 2))
                        for center in (0.0, 6.0, 12.0, 18.0)])
    X = X.persist()
    print(f"{len(client.scheduler_info()['workers'])} workers; "
          f"X: {X.shape[0]:,} x {X.shape[1]} in {X.numblocks[0]} chunks")

# %%
# The fit, on the cluster
# -----------------------
#
# The same estimator and parameters as :class:`meanshift.MeanShift`.  The
# centers come back as a NumPy array; ``labels_`` is a lazy Dask array with
# X's chunks, so the count of points per cluster is computed on the workers
# too.  On so few points the time is mostly Dask's: each iteration of the
# climb is a round of tasks through the scheduler.

if __name__ == "__main__":
    t0 = time.perf_counter()
    model = MeanShift(bandwidth=1.5, bin_seeding=True).fit(X)
    sizes = da.bincount(model.labels_).compute()
    elapsed = time.perf_counter() - t0

    print(f"{len(model.cluster_centers_)} clusters in {elapsed:.1f} s, "
          f"{model.n_iter_} iterations, "
          f"{max(model.bytes_per_iteration_) / 1e3:.0f} kB moved per iteration at most")
    for center, size in zip(model.cluster_centers_, sizes, strict=True):
        print(f"  center ({center[0]:8.4f}, {center[1]:8.4f})  {size:,} points")

# %%
# A picture, from a sample
# ------------------------
#
# Only a sample of the points (and its labels) is brought to this process,
# to draw it.

if __name__ == "__main__":
    step = max(1, X.shape[0] // 5_000)
    sample, labels = da.compute(X[::step], model.labels_[::step])
    fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
    meanshift.plot(sample, labels, model.cluster_centers_, ax=ax, bandwidth=1.5,
                   title=f"{X.shape[0]:,} points on {args.workers} workers "
                   f"(1 in {step} drawn)")
    client.close()
    cluster.close()
    plt.show()
