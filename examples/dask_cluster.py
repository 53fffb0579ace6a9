"""Mean shift on a Dask cluster: 10 million points that never meet in one place.

Starts a LocalCluster of 2 worker processes (on a real cluster, connect to
its scheduler instead: ``Client("tcp://scheduler-address:8786")``; nothing
else changes), makes four blobs of points as a Dask array on the workers,
clusters it with meanshift.dask and counts the points per cluster, all on
the cluster.

    python examples/dask_cluster.py            # 10 million points
    python examples/dask_cluster.py --n 1e6    # fewer
"""

import argparse
import time

import dask.array as da
from distributed import Client, LocalCluster

from meanshift.dask import MeanShift


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=float, default=1e7, help="number of points")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    n = int(args.n) // 4

    with LocalCluster(n_workers=args.workers, threads_per_worker=1) as cluster, \
            Client(cluster) as client:
        print(client)
        rng = da.random.default_rng(0)
        chunk = max(1, min(n, 500_000))
        X = da.concatenate([rng.normal(center, 1.0, size=(n, 2), chunks=(chunk, 2))
                            for center in (0.0, 6.0, 12.0, 18.0)])
        X = X.persist()  # as if loaded from Zarr or Parquet: on the workers
        print(f"X: {X.shape[0]:,} x {X.shape[1]} in {X.numblocks[0]} chunks")

        t0 = time.perf_counter()
        model = MeanShift(bandwidth=1.5, bin_seeding=True).fit(X)
        sizes = da.bincount(model.labels_).compute()
        elapsed = time.perf_counter() - t0

        print(f"{len(model.cluster_centers_)} clusters in {elapsed:.1f} s, "
              f"{model.n_iter_} iterations, "
              f"{max(model.bytes_per_iteration_) / 1e3:.0f} kB moved per iteration at most")
        for center, size in zip(model.cluster_centers_, sizes):
            print(f"  center ({center[0]:8.4f}, {center[1]:8.4f})  {size:,} points")


if __name__ == "__main__":
    main()
