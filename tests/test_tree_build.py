"""The tree build of many rows: top levels split by planes from a sample.

A tree over at least 2 x TOP_BUCKET rows has its top levels split by
planes drawn from a sample, its rows dealt into the subtrees below by a
parallel counting sort (see _tree._deal_rows).  These tests reach that build
with few rows (``top_bucket``) and check what every kernel relies on: each
node's aggregates are those of its rows, the radii exact, the tree the same
for every thread count, the fallback to median splits when the sample
misleads, and the per-point verdicts of the kernels unchanged.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from meanshift import _core, _tree

TREE_ARRAYS = ("data", "idx", "bounds", "centroid", "radius", "sums", "box", "w", "wsum", "cols")


def _assert_valid(tree, X, weights=None):
    """Every node's aggregates are those of its rows."""
    n, d = X.shape
    start, end = tree.start, tree.end
    first_leaf = (tree.n_nodes - 1) // 2
    assert start[0] == 0 and end[0] == n
    assert (end[first_leaf:] > start[first_leaf:]).all(), "an empty leaf"
    if tree.idx is not None:
        assert_array_equal(np.sort(tree.idx), np.arange(n))
        assert_array_equal(tree.data, X[tree.idx])
        if weights is not None:
            assert_array_equal(tree.w, weights[tree.idx])
    for node in range(tree.n_nodes):
        rows = tree.data[start[node] : end[node]]
        rows64 = rows.astype(np.float64)
        w = np.ones(len(rows)) if weights is None else tree.w[start[node] : end[node]]
        assert_allclose(tree.sums[node], (rows64 * w[:, None]).sum(axis=0), rtol=1e-11, atol=1e-9)
        assert_array_equal(tree.box[node, :d], rows.min(axis=0))
        assert_array_equal(tree.box[node, d:], rows.max(axis=0))
        if tree.centroid is not None:
            c = tree.centroid[node]
            assert_allclose(c, rows64.mean(axis=0), rtol=1e-12, atol=1e-12)
            # the radius bounds every point (the bound tests rely on it)
            farthest = np.sqrt(((rows64 - c) ** 2).sum(axis=1).max())
            assert_allclose(tree.radius[node], farthest, rtol=1e-14, atol=0)


def _data(kind, rng):
    if kind == "normal-2d":
        return rng.normal(size=(20_000, 2))
    if kind == "float32-3d":
        return rng.normal(size=(30_011, 3)).astype(np.float32)
    if kind == "ties-2d":  # few distinct values: ties split by row number
        return np.round(rng.normal(size=(20_000, 2)))
    if kind == "constant":
        return np.zeros((20_000, 2))
    if kind == "sorted-1d":
        return np.sort(rng.uniform(size=(20_000, 1)), axis=0)
    return rng.normal(size=(20_001, 5))


@pytest.mark.parametrize(
    "kind", ["normal-2d", "float32-3d", "ties-2d", "constant", "sorted-1d", "normal-5d"]
)
def test_sampled_top_is_valid_and_thread_independent(kind):
    rng = np.random.default_rng(0)
    X = _data(kind, rng)
    weights = rng.uniform(0.5, 2.0, size=len(X))
    tree = _tree.build_tree(X, leaf_size=16, weights=weights, top_bucket=1024)
    assert _tree.top_levels(len(X), tree.n_levels, 1024) >= 3
    _assert_valid(tree, X, weights)
    # the sample's splits are near the middle: no leaf far over its share
    sizes = np.diff(tree.bounds)
    assert sizes.max() <= 1.5 * len(X) / len(sizes) + 1
    for n_threads in (2, 3, 4):
        other = _tree.build_tree(
            X, leaf_size=16, weights=weights, top_bucket=1024, n_threads=n_threads
        )
        for name in TREE_ARRAYS:
            a, b = getattr(tree, name), getattr(other, name)
            assert (a is None) == (b is None), name
            if a is not None:
                assert_array_equal(a, b, err_msg=name)


@pytest.mark.parametrize("options", [dict(index=False, balls=False), dict(moments=True)])
def test_sampled_top_lean_and_moment_trees(options):
    X = np.random.default_rng(1).normal(size=(20_000, 2))
    tree = _tree.build_tree(X, leaf_size=16, top_bucket=1024, n_threads=2, **options)
    _assert_valid(tree, X)
    full = _tree.build_tree(X, leaf_size=16, top_bucket=1024, n_threads=2)
    assert_array_equal(tree.data, full.data)
    assert_array_equal(tree.sums, full.sums)


def test_misleading_sample_falls_back_to_median_splits():
    # the sampled rows all sit at the origin, the others far from it: every
    # plane is the same, the subtrees would be lopsided, and the build
    # splits at the middle instead (the tree without sampled levels)
    rng = np.random.default_rng(2)
    X = rng.uniform(1.0, 2.0, size=(20_000, 2)) * rng.choice([-1, 1], size=(20_000, 1))
    n_levels = _tree.tree_levels(len(X), 16)
    X[_tree.sample_rows(len(X), n_levels, 1024)] = 0.0
    tree = _tree.build_tree(X, leaf_size=16, top_bucket=1024, n_threads=2)
    _assert_valid(tree, X)
    median = _tree.build_tree(X, leaf_size=16, top_bucket=len(X), n_threads=2)
    assert _tree.top_levels(len(X), n_levels, len(X)) == 0
    for name in ("data", "idx", "bounds", "radius", "sums", "box"):
        assert_array_equal(getattr(tree, name), getattr(median, name), err_msg=name)


def test_sample_rows_one_per_run():
    rows = _tree.sample_rows(1_000_003, _tree.tree_levels(1_000_003, 16), 1024)
    m = len(rows)
    assert m > 0 and (np.diff(rows) > 0).all()
    run = np.arange(m) * 1_000_003 // m
    assert (rows >= run).all() and (rows[:-1] < run[1:]).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sampled_tree_counts_every_point_as_brute_force(dtype):
    # the flat kernel's counts are integers: exactly those of the per-point
    # test, whatever the tree's shape
    rng = np.random.default_rng(3)
    X = (rng.normal(size=(20_000, 3)) * [1.0, 2.0, 0.5]).astype(dtype)
    positions = np.vstack([X[:40].astype(np.float64), rng.normal(size=(40, 3))])
    for bandwidth in (0.2, 0.7, 2.5):
        sampled = _tree.build_tree(X, leaf_size=16, top_bucket=1024, n_threads=2)
        _, counts = _core.ball_sums(sampled, positions, bandwidth=bandwidth, n_threads=2)
        X64 = X.astype(np.float64)
        d2 = ((positions[:, None, :] - X64[None, :, :]) ** 2).sum(axis=2)
        assert_array_equal(counts, (d2 <= bandwidth * bandwidth).sum(axis=1))
