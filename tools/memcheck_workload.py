#!/usr/bin/env python
"""A small workload that reaches every compiled kernel of meanshift, for
memory checkers (tools/valgrind.sh, the leak step of tools/sanitize.sh).

Usage::

    python tools/memcheck_workload.py [--repeat N] [--quick]

Run it from outside the repository root (the root holds the source package,
which has no compiled module).  It prints one line per section and exits 0;
any unexpected result raises (so a wrong answer fails the run, not only a
memory error).  Small on purpose: valgrind runs it ~50x slower.

What it covers (the kernel each reaches in meanshift._core):

* fit with every point as a seed, 2-D and 3-D, float32 and float64, n_jobs 1
  and 2 (build_tree, climb on the tree, dedupe_and_rank, suppress, assign);
* bin seeding (bin_cells: one chunk, and several chunks when n >= 4096 per
  thread), get_bin_seeds with min_bin_freq;
* estimate_bandwidth, with and without n_samples (kth_neighbor_dist: one
  chunk, and parallel chunks from 2048 rows);
* predict, with few centers (brute force) and > 48 centers (tree search);
* cluster_all=False (orphans labelled -1);
* 24 features (the single-leaf brute-force climb with distance bounds, the
  SIMD distance), explicit float32 seeds on float64 data;
* Fortran-ordered and strided input, int and float16 input;
* coordinates near 1e300 (the exactly rescaled path) and a tiny bandwidth
  (exact per-point tests only);
* the parallel tree build (n * d >= 65536);
* the climb and the bandwidth estimate cut into many time-budgeted
  batches (meanshift._progress.BATCH_SECONDS made tiny), compared with
  one run;
* ball_sums, the one-step primitive;
* the grid mode (grid_cells: one chunk and several, with and without
  weights; its one-step and whole climbs; attractor labels and predict);
* error paths that raise in or right after the kernel-calling code (empty
  tree, mismatched shapes, no seed converging, no bin holding enough points,
  k out of range), each checked to raise ValueError.
"""

import argparse
import sys
import warnings

import numpy as np

import meanshift as ms
from meanshift import _bandwidth, _bins, _core, _merge, _tree


def blobs(rng, n, d, dtype, k=3, spread=6.0):
    centers = rng.normal(scale=spread, size=(k, d))
    X = centers[rng.integers(k, size=n)] + rng.normal(size=(n, d))
    return X.astype(dtype)


def check_fit(model, X):
    """Every output read by numpy (an undefined value would be reported
    there, in numpy's frames, by memcheck)."""
    centers, labels = model.cluster_centers_, model.labels_
    assert centers.ndim == 2 and centers.shape[1] == X.shape[1], centers.shape
    assert np.isfinite(centers).all()
    assert labels.shape == (X.shape[0],)
    low = -1 if not model.cluster_all else 0
    assert labels.min() >= low and labels.max() < len(centers)
    return len(centers)


def expect_value_error(what, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ValueError:
        return
    raise AssertionError(f"{what}: expected ValueError")


def section(name):
    print(f"- {name}", flush=True)


def run(rng, quick):
    n = 60 if quick else 150
    for dtype in (np.float32, np.float64):
        for d in (2, 3):
            X = blobs(rng, n, d, dtype)
            for n_jobs in (1, 2):
                section(f"fit all seeds d={d} {np.dtype(dtype).name} n_jobs={n_jobs}")
                m = ms.MeanShift(bandwidth=2.5, n_jobs=n_jobs).fit(X)
                check_fit(m, X)
                labels = m.predict(X[:20])
                assert labels.shape == (20,)
                assert labels.min() >= 0 and labels.max() < len(m.cluster_centers_)
                section(f"bin seeding d={d} n_jobs={n_jobs}")
                m = ms.MeanShift(bandwidth=2.5, bin_seeding=True, min_bin_freq=2,
                                 n_jobs=n_jobs).fit(X)
                check_fit(m, X)
                section(f"cluster_all=False d={d} n_jobs={n_jobs}")
                m = ms.MeanShift(bandwidth=0.8, cluster_all=False, n_jobs=n_jobs).fit(X)
                check_fit(m, X)
            section(f"estimate_bandwidth / get_bin_seeds d={d}")
            bw = ms.estimate_bandwidth(X, quantile=0.2)
            assert np.isfinite(bw) and bw > 0
            bw = ms.estimate_bandwidth(X, n_samples=n // 2, random_state=1, n_jobs=1)
            assert np.isfinite(bw) and bw > 0
            seeds = ms.get_bin_seeds(X, 1.0, min_bin_freq=2)
            assert seeds.ndim == 2 and np.isfinite(seeds).all()

    section("bandwidth estimated inside fit, mean_shift function")
    X = blobs(rng, n, 2, np.float64)
    centers, labels = ms.mean_shift(X, n_jobs=2)
    assert labels.shape == (n,) and np.isfinite(centers).all()

    section("many centers: predict through the tree over centers (> 48)")
    X = rng.uniform(0, 40, size=(400 if not quick else 200, 2))
    m = ms.MeanShift(bandwidth=1.0, bin_seeding=True).fit(X)
    k = check_fit(m, X)
    assert k > 48, k
    labels = m.predict(X[::3])
    assert labels.shape == (len(X[::3]),) and labels.min() >= 0 and labels.max() < k

    section("24 features (brute-force climb, SIMD distances), float32 seeds")
    for dtype in (np.float32, np.float64):
        X = blobs(rng, 70, 24, dtype, spread=4.0)
        for n_jobs in (1, 2):
            m = ms.MeanShift(n_jobs=n_jobs).fit(X)   # bandwidth estimated
            check_fit(m, X)
        m = ms.MeanShift(bandwidth=6.0, seeds=X[::7].astype(np.float32)).fit(X)
        check_fit(m, X)
        m.predict(X[:5])

    section("layouts and dtypes: Fortran, strided, negative strides, int, float16")
    base = blobs(rng, 2 * n, 4, np.float64)
    for X in (np.asfortranarray(base[:n]), base[::2], base[::-2, ::-1],
              np.rint(base[:n]).astype(np.int32), base[:n].astype(np.float16)):
        m = ms.MeanShift(bandwidth=3.0, n_jobs=2).fit(X)
        check_fit(m, X)
        ms.get_bin_seeds(X, 2.0)

    section("huge coordinates (rescaled path), tiny bandwidth (exact tests)")
    X = blobs(rng, 50, 2, np.float64) * 1e299
    m = ms.MeanShift(bandwidth=2e299).fit(X)
    check_fit(m, X)
    m.predict(X[:5])
    X = blobs(rng, 40, 2, np.float64) * 1e-160
    m = ms.MeanShift(bandwidth=1e-160).fit(X)
    check_fit(m, X)

    section("large inputs: parallel tree build, chunked bin_cells and kth_neighbor_dist")
    X = blobs(rng, 33000 if not quick else 9000, 2, np.float32, k=4, spread=8.0)
    m = ms.MeanShift(bandwidth=2.0, bin_seeding=True, n_jobs=2).fit(X)
    check_fit(m, X)
    Xk = X[:2100 if not quick else 2050].astype(np.float64)
    bw = ms.estimate_bandwidth(Xk, quantile=0.05, n_jobs=2)
    assert np.isfinite(bw) and bw > 0

    section("batches: the climb and the bandwidth estimate in many small batches")
    try:
        from meanshift import _progress
    except ImportError:       # a version without time-budgeted batches
        _progress = None
    if _progress is not None and hasattr(_progress, "BATCH_SECONDS"):
        saved = _progress.BATCH_SECONDS
        _progress.BATCH_SECONDS = 1e-7    # every kernel call stops early
        try:
            X = blobs(rng, 300, 2, np.float64)
            one = ms.MeanShift(n_jobs=2).fit(X)       # bandwidth estimated
            check_fit(one, X)
        finally:
            _progress.BATCH_SECONDS = saved
        two = ms.MeanShift(n_jobs=2).fit(X)
        assert np.array_equal(one.labels_, two.labels_)
        assert np.array_equal(one.cluster_centers_, two.cluster_centers_)

    section("grid mode: grid_cells, its steps and climbs, attractor labels")
    for n, d, dtype in ((300, 2, np.float64), (9000 if quick else 20000, 3, np.float32)):
        X = blobs(rng, n, d, dtype)
        w = rng.integers(0, 3, n).astype(np.float64)
        for weights in (None, w):
            m = ms.MeanShift(bandwidth=2.0, algorithm="grid", label_by="attractor",
                             n_jobs=2).fit(X, sample_weight=weights)
            check_fit(m, X)
            assert (m.predict(X[:50]) == m.labels_[:50]).all()
    keys, counts, wsum, sums, plain, cell_of = _bins.grid_cells(
        X, cell_size=0.5, n_threads=2, weights=w)
    assert counts.sum() == len(X) and cell_of.max() == len(keys) - 1
    assert np.isclose(wsum.sum(), w.sum()) and plain.shape == sums.shape

    section("primitives: build_tree, ball_sums")
    X = blobs(rng, 100, 3, np.float64)
    tree = _tree.build_tree(X, leaf_size=16, n_threads=2)
    sums, counts = _core.ball_sums(tree, X[:10], bandwidth=2.0, n_threads=2)
    assert sums.shape == (10, 3) and (counts >= 1).all() and np.isfinite(sums).all()

    section("error paths")
    X = blobs(rng, 30, 2, np.float64)
    tree = _tree.build_tree(X, leaf_size=16, n_threads=1)
    expect_value_error("empty tree", _tree.build_tree, np.zeros((0, 2)), leaf_size=16)
    expect_value_error("0 columns", _tree.build_tree, np.zeros((3, 0)), leaf_size=16)
    expect_value_error("seeds shape", _core.climb, tree, np.zeros((2, 3)), bandwidth=1.0,
                       max_iter=10)
    expect_value_error("positions shape", _core.ball_sums, tree, np.zeros((2, 3)),
                       bandwidth=1.0)
    expect_value_error("k too large", _bandwidth.kth_neighbor_dist, tree, k=31)
    expect_value_error("no centers", _merge.assign, X, np.zeros((0, 2)), bandwidth=1.0,
                       cluster_all=True)
    expect_value_error("centers cols", _merge.assign, X, np.zeros((2, 3)), bandwidth=1.0,
                       cluster_all=True)
    expect_value_error("f32 division on f64", _bins.bin_cells, X, bin_size=1.0,
                       f32_division=True)
    expect_value_error("grid cell size 0", _bins.grid_cells, X, cell_size=0.0)
    expect_value_error("grid weights length", _bins.grid_cells, X, cell_size=1.0,
                       weights=np.ones(3))
    expect_value_error("no seed converges", ms.mean_shift, X, bandwidth=0.5, seeds=[[1e6, 1e6]])
    expect_value_error("no bin", ms.mean_shift, X, bandwidth=0.5, bin_seeding=True,
                       min_bin_freq=10**6)
    expect_value_error("NaN", ms.mean_shift, np.full((4, 2), np.nan), bandwidth=1.0)
    expect_value_error("seeds features", ms.mean_shift, X, bandwidth=1.0, seeds=np.zeros((2, 3)))
    m = ms.MeanShift(bandwidth=2.0).fit(X)
    expect_value_error("predict features", m.predict, np.zeros((3, 5)))
    expect_value_error("0 rows", ms.mean_shift, np.zeros((0, 2)), bandwidth=1.0)
    expect_value_error("n_jobs=0", ms.mean_shift, X, bandwidth=1.0, n_jobs=0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the workload N times (leaks grow with N)")
    parser.add_argument("--quick", action="store_true", help="smaller data")
    args = parser.parse_args(argv)
    print(f"meanshift from {ms.__file__}, its kernels in {_core.__file__} and beside it, "
          f"openmp={_core.openmp_enabled()}", flush=True)
    warnings.simplefilter("ignore")  # "Binning data failed" etc. are expected
    rng = np.random.default_rng(12345)
    for i in range(args.repeat):
        print(f"round {i + 1}/{args.repeat}", flush=True)
        run(rng, args.quick)
    print("workload done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
