"""The compiled primitives on their own, against plain numpy.

The public functions are tested against scikit-learn elsewhere; these check
the building blocks the Python layer composes (and that future drivers will
reuse), in particular the one-step kernel ``ball_sums`` whose node bounds
must never disagree with the exact per-point test.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from meanshift import _bandwidth, _bins, _core, _merge, _tree

# the whole file is in the focused subset that tools/sanitize.sh --focused
# (and so .ci/run) runs under ASan+UBSan: `pytest -m sanitize`
pytestmark = pytest.mark.sanitize


def _brute_sums(X, positions, bandwidth):
    X64 = X.astype(np.float64)
    d2 = ((positions[:, None, :] - X64[None, :, :]) ** 2).sum(axis=2)
    inside = d2 <= bandwidth * bandwidth
    return inside.astype(np.float64) @ X64, inside.sum(axis=1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features, bandwidth", [(1, 0.3), (2, 0.8), (3, 1.1), (20, 5.5)])
def test_ball_sums_match_brute_force(dtype, n_features, bandwidth):
    rng = np.random.default_rng(n_features)
    X = rng.normal(size=(700, n_features)).astype(dtype)
    positions = np.vstack([X[:50].astype(np.float64), rng.normal(size=(50, n_features))])
    tree = _tree.build_tree(X, leaf_size=16, n_threads=2)
    sums, counts = _core.ball_sums(tree, positions, bandwidth=bandwidth, n_threads=2)
    ref_sums, ref_counts = _brute_sums(X, positions, bandwidth)
    assert_array_equal(counts, ref_counts)
    assert counts.min() >= 0 and counts.max() > 1
    assert_allclose(sums, ref_sums, rtol=1e-10, atol=1e-10)


def test_ball_sums_points_exactly_on_the_boundary():
    # integer lattice: many points at distance exactly 2 from lattice queries
    X = np.array([[i, j] for i in range(15) for j in range(15)], dtype=np.float64)
    positions = X[::7].copy()
    tree = _tree.build_tree(X, leaf_size=4, n_threads=1)
    _, counts = _core.ball_sums(tree, positions, bandwidth=2.0, n_threads=1)
    _, ref_counts = _brute_sums(X, positions, 2.0)
    assert_array_equal(counts, ref_counts)


def test_tree_is_a_permutation_with_consistent_aggregates():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 3))
    tree = _tree.build_tree(X, leaf_size=16, n_threads=2)
    assert_array_equal(np.sort(tree.idx), np.arange(1000))
    assert_array_equal(tree.data, X[tree.idx])
    # the root holds every point, its sums are the column sums
    assert tree.start[0] == 0 and tree.end[0] == 1000
    assert_allclose(tree.sums[0], X.sum(axis=0), rtol=1e-12)
    # every point lies within its leaves' radius and box
    first_leaf = (tree.n_nodes - 1) // 2
    for node in range(first_leaf, tree.n_nodes):
        rows = tree.data[tree.start[node] : tree.end[node]]
        if len(rows):
            dist = np.sqrt(((rows - tree.centroid[node]) ** 2).sum(axis=1))
            assert dist.max() <= tree.radius[node] * (1 + 1e-12)
            assert (rows >= tree.box[node, :3]).all() and (rows <= tree.box[node, 3:]).all()


@pytest.mark.slow
def test_kth_neighbor_dist_matches_sorting():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 2))
    X[100:110] = X[0]  # duplicates: repeated distances
    tree = _tree.build_tree(X, leaf_size=16, n_threads=2)
    D = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=2))
    D.sort(axis=1)
    for k in (1, 2, 7, 900, 3000):
        got, stop = _bandwidth.kth_neighbor_dist(tree, k=k, n_threads=2)
        assert stop == len(X)
        assert_allclose(got, D[:, k - 1], rtol=1e-12, atol=1e-12)


def test_bin_cells_counts_and_first_appearance_order():
    X = np.array([[0.1, 0.1], [2.2, 0.0], [0.2, -0.1], [2.0, 0.4], [5.0, 5.0]])
    cells, counts = _bins.bin_cells(X, bin_size=1.0, f32_division=False, n_threads=1)
    assert_array_equal(cells, [[0, 0], [2, 0], [5, 5]])
    assert_array_equal(counts, [2, 2, 1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scan_climb_with_carried_bounds_matches_tree_climb(dtype):
    # A single-leaf tree climbs by scanning and carries distance bounds
    # between iterations; a many-leaf tree recomputes everything. Same
    # points must be taken at every step: same counts and iterations, and
    # centers equal up to the summation order.
    X = np.random.default_rng(3).normal(size=(600, 24))
    X[:300] += 3.0
    X = X.astype(dtype)
    seeds = X[::5]
    scan_tree = _tree.build_tree(X, leaf_size=len(X), n_threads=1)
    ball_tree = _tree.build_tree(X, leaf_size=8, n_threads=1)
    assert scan_tree.n_levels == 1 and ball_tree.n_levels > 1
    c1, n1, i1, _ = _core.climb(scan_tree, seeds, bandwidth=6.0, max_iter=300, n_threads=2)
    c2, n2, i2, _ = _core.climb(ball_tree, seeds, bandwidth=6.0, max_iter=300, n_threads=2)
    assert_array_equal(n1, n2)
    assert_array_equal(i1, i2)
    assert i1.max() > 2  # several iterations, so the bounds were used
    assert_allclose(c1, c2, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


def _resume(call, total):
    """Call ``call(start, out)`` with a budget too short for more than a
    few rows until done; returns (out, number of calls)."""
    out, start, calls = None, 0, 0
    while start < total:
        *out, stop = call(start, out)
        assert start < stop <= total  # progress on every call
        start, calls = stop, calls + 1
    return out, calls


@pytest.mark.parametrize("leaf_size", [8, None])  # ball tree, scan
def test_climb_in_batches_equals_one_call(leaf_size):
    # a deadline stops the climb between seeds; going on from where it
    # stopped gives, bit for bit, what one call gives
    X = np.random.default_rng(4).normal(size=(400, 3 if leaf_size else 20))
    X[:200] += 4.0
    tree = _tree.build_tree(X, leaf_size=leaf_size or len(X), n_threads=2)
    *whole, stop = _core.climb(tree, X, bandwidth=2.5, max_iter=300, n_threads=2)
    assert stop == len(X)
    parts, calls = _resume(
        lambda start, out: _core.climb(tree, X, bandwidth=2.5, max_iter=300, n_threads=2,
                                       start=start, seconds=1e-9, out=out),
        len(X),
    )
    assert calls > 10
    for a, b in zip(whole, parts, strict=True):
        assert_array_equal(a, b)


def test_kth_neighbor_dist_in_batches_equals_one_call():
    X = np.random.default_rng(5).normal(size=(5000, 2))
    tree = _tree.build_tree(X, leaf_size=16, n_threads=2)
    whole, _ = _bandwidth.kth_neighbor_dist(tree, k=300, n_threads=2)

    def call(start, out):
        out = out[0] if out else None
        return _bandwidth.kth_neighbor_dist(tree, k=300, n_threads=2, start=start, seconds=1e-9,
                                            out=out)

    (parts,), calls = _resume(call, len(X))
    assert calls > 2
    assert_array_equal(whole, parts)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [1, 2, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_lean_tree_climbs_as_the_full_tree(dtype, n_features, weighted):
    # a tree without index (weights permuted during the build) and without
    # balls where boxes bound the nodes holds the same data, sums and
    # boxes, and its climbs and steps are the same bit for bit
    rng = np.random.default_rng(6 + n_features)
    X = rng.normal(size=(3000, n_features)).astype(dtype)
    X[:1000] += 3.0
    w = rng.integers(0, 4, size=len(X)).astype(np.float64) if weighted else None
    full = _tree.build_tree(X, leaf_size=16, n_threads=2, weights=w)
    lean = _tree.build_tree(X, leaf_size=16, n_threads=2, weights=w, index=False, balls=False)
    assert lean.idx is None
    assert (lean.centroid is None) == (n_features <= 2)
    assert lean.box.dtype == dtype and full.box.dtype == dtype
    assert_array_equal(lean.data, full.data)
    assert_array_equal(lean.sums, full.sums)
    assert_array_equal(lean.box, full.box)
    if weighted:
        assert_array_equal(lean.w, w[full.idx])
        assert_array_equal(lean.wsum, full.wsum)
    seeds = X[::40]
    for kernel in (0, 2):  # flat, Gaussian
        a = _core.climb(full, seeds, bandwidth=1.2, max_iter=300, n_threads=2, kernel=kernel)
        b = _core.climb(lean, seeds, bandwidth=1.2, max_iter=300, n_threads=2, kernel=kernel)
        for x, y in zip(a, b, strict=True):
            assert_array_equal(x, y)
        positions = seeds.astype(np.float64) + 0.1
        for x, y in zip(
            _core.ball_sums(full, positions, bandwidth=1.2, n_threads=2, kernel=kernel),
            _core.ball_sums(lean, positions, bandwidth=1.2, n_threads=2, kernel=kernel),
            strict=True,
        ):
            assert_array_equal(x, y)


def test_node_ranges_from_leaf_bounds():
    # start and end of every node follow from the first rows of its leaves:
    # a node's rows are split in two halves (the left one the smaller)
    for n, leaf_size in [(1, 16), (3, 1), (1000, 16), (4097, 7)]:
        X = np.random.default_rng(n).normal(size=(n, 2))
        tree = _tree.build_tree(X, leaf_size=leaf_size, n_threads=1)
        start, end = tree.start, tree.end
        assert start[0] == 0 and end[0] == n
        assert len(tree.bounds) == (tree.n_nodes + 1) // 2 + 1
        for node in range((tree.n_nodes - 1) // 2):
            mid = start[node] + (end[node] - start[node]) // 2
            assert (start[2 * node + 1], end[2 * node + 1]) == (start[node], mid)
            assert (start[2 * node + 2], end[2 * node + 2]) == (mid, end[node])
            assert_array_equal(tree.sums[node], tree.sums[2 * node + 1] + tree.sums[2 * node + 2])


def test_lean_tree_is_refused_where_its_index_or_balls_are_needed():
    X = np.random.default_rng(7).normal(size=(500, 2))
    lean = _tree.build_tree(X, leaf_size=16, n_threads=1, index=False, balls=False)
    with pytest.raises(ValueError, match="index=True and balls=True"):
        _bandwidth.kth_neighbor_dist(lean, k=5, n_threads=1)
    with pytest.raises(ValueError, match="index=True and balls=True"):
        _merge.suppress(lean, bandwidth=0.5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [3, 4, 5, 6, 7, 8])
def test_leaf_columns_hold_each_leaf_by_coordinate(dtype, n_features):
    X = np.random.default_rng(n_features).normal(size=(1003, n_features)).astype(dtype)
    tree = _tree.build_tree(X, leaf_size=13, n_threads=1, leaf_columns=True)
    assert tree.cols.dtype == dtype
    first_leaf = (tree.n_nodes - 1) // 2
    for node in range(first_leaf, tree.n_nodes):
        lo, hi = tree.start[node], tree.end[node]
        block = tree.cols[lo * n_features : hi * n_features]
        assert_array_equal(block.reshape(n_features, hi - lo), tree.data[lo:hi].T)
    assert _tree.build_tree(X, leaf_size=13, n_threads=1).cols is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [3, 4, 5, 6, 7, 8])
# leaves of 1 to 64 points: every remainder of the four-point groups
@pytest.mark.parametrize("leaf_size", [1, 2, 3, 5, 7, 16, 64])
@pytest.mark.parametrize("weighted", [False, True])
def test_leaf_column_scans_match_brute_force(dtype, n_features, leaf_size, weighted):
    # the vectorised scan of the flat kernel: the same points inside as the
    # exact test, the same sums to rounding, steps and climbs as the
    # row-by-row scan of a tree without columns
    rng = np.random.default_rng(100 * n_features + leaf_size)
    X = rng.normal(size=(613, n_features)).astype(dtype)
    X[:200] += 2.0
    w = rng.integers(0, 4, size=len(X)).astype(np.float64) if weighted else None
    bandwidth = 1.0 * np.sqrt(n_features)
    positions = np.vstack([X[:40].astype(np.float64), rng.normal(size=(40, n_features))])
    cols = _tree.build_tree(X, leaf_size=leaf_size, n_threads=2, weights=w, index=False,
                            balls=False, leaf_columns=True)
    rows = _tree.build_tree(X, leaf_size=leaf_size, n_threads=2, weights=w, index=False,
                            balls=False)
    assert cols.cols is not None and rows.cols is None
    sums, counts = _core.ball_sums(cols, positions, bandwidth=bandwidth, n_threads=2)
    X64 = X.astype(np.float64)
    inside = ((positions[:, None, :] - X64[None, :, :]) ** 2).sum(axis=2) <= bandwidth**2
    weights = np.ones(len(X)) if w is None else w
    ref_counts = inside.astype(np.float64) @ weights
    ref_sums = inside.astype(np.float64) @ (weights[:, None] * X64)
    assert_array_equal(counts, ref_counts)   # integer weights: exact
    assert counts.min() >= 0 and counts.max() > 20
    assert_allclose(sums, ref_sums, rtol=1e-10, atol=1e-10)
    row_sums, row_counts = _core.ball_sums(rows, positions, bandwidth=bandwidth, n_threads=2)
    assert_array_equal(counts, row_counts)
    assert_allclose(sums, row_sums, rtol=1e-12, atol=1e-12)
    a = _core.climb(cols, X[::30], bandwidth=bandwidth, max_iter=300, n_threads=2)
    b = _core.climb(rows, X[::30], bandwidth=bandwidth, max_iter=300, n_threads=2)
    assert_allclose(a[0], b[0], rtol=1e-12, atol=1e-12)
    for x, y in zip(a[1:], b[1:], strict=True):
        assert_array_equal(x, y)


@pytest.mark.parametrize("n_features", [3, 5, 8])
def test_leaf_column_scans_points_exactly_on_the_boundary(n_features):
    # integer lattice: many points at distance exactly 2 from lattice queries
    grid = np.indices((4,) * n_features).reshape(n_features, -1).T
    X = np.ascontiguousarray(grid, dtype=np.float64)[:3000]
    positions = X[::11].copy()
    tree = _tree.build_tree(X, leaf_size=6, n_threads=1, leaf_columns=True)
    _, counts = _core.ball_sums(tree, positions, bandwidth=2.0, n_threads=1)
    _, ref_counts = _brute_sums(X, positions, 2.0)
    assert_array_equal(counts, ref_counts)


@pytest.mark.parametrize("scale", [1e-145, 1e145])
def test_leaf_column_scans_where_node_bounds_are_off(scale):
    # squared distances out of the normal range: every point is tested on
    # its own, through the columns too
    rng = np.random.default_rng(9)
    X = rng.normal(size=(400, 4)) * scale
    positions = X[:20].copy()
    bandwidth = 1.1 * scale
    tree = _tree.build_tree(X, leaf_size=8, n_threads=1, leaf_columns=True)
    sums, counts = _core.ball_sums(tree, positions, bandwidth=bandwidth, n_threads=1)
    rows = _tree.build_tree(X, leaf_size=8, n_threads=1)
    row_sums, row_counts = _core.ball_sums(rows, positions, bandwidth=bandwidth, n_threads=1)
    assert_array_equal(counts, row_counts)
    assert counts.max() > 5
    assert_allclose(sums, row_sums, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [1, 2])
# leaves of 1 to 64 points: every remainder of the four-point groups; and
# row counts whose last leaf ends a partial group at the end of the data
@pytest.mark.parametrize("leaf_size", [1, 2, 3, 5, 7, 16, 64])
@pytest.mark.parametrize("n", [613, 1001])
@pytest.mark.parametrize("weighted", [False, True])
def test_row_scans_match_brute_force(dtype, n_features, leaf_size, n, weighted):
    # the flat kernel in one and two columns scans its straddling leaves
    # four rows at a time: the same points inside as the exact test (the
    # squared distance summed in coordinate order), the same sums to
    # rounding, with and without weights
    rng = np.random.default_rng(10 * n_features + leaf_size + n)
    X = rng.normal(size=(n, n_features)).astype(dtype)
    X[:200] += 2.0
    w = rng.integers(0, 4, size=len(X)).astype(np.float64) if weighted else None
    bandwidth = 0.6 * np.sqrt(n_features)
    positions = np.vstack([X[:40].astype(np.float64), rng.normal(size=(40, n_features))])
    tree = _tree.build_tree(X, leaf_size=leaf_size, n_threads=2, weights=w, index=False,
                            balls=False)
    sums, counts = _core.ball_sums(tree, positions, bandwidth=bandwidth, n_threads=2)
    X64 = X.astype(np.float64)
    d2 = (positions[:, None, 0] - X64[None, :, 0]) ** 2
    if n_features == 2:
        d2 = d2 + (positions[:, None, 1] - X64[None, :, 1]) ** 2
    inside = (d2 <= bandwidth**2).astype(np.float64)
    weights = np.ones(len(X)) if w is None else w
    assert_array_equal(counts, inside @ weights)   # integer weights: exact
    assert counts.max() > 20
    assert_allclose(sums, inside @ (weights[:, None] * X64), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n_features", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_row_scans_points_exactly_on_the_boundary(n_features, dtype):
    # integer lattice: many points at distance exactly 2 (in 2-D also
    # sqrt(4) = |(2, 0)|, and not sqrt(5)) from lattice queries
    side = 400 if n_features == 1 else 40
    grid = np.indices((side,) * n_features).reshape(n_features, -1).T
    X = np.ascontiguousarray(grid, dtype=dtype)
    positions = X[::7].astype(np.float64)
    tree = _tree.build_tree(X, leaf_size=6, n_threads=1)
    sums, counts = _core.ball_sums(tree, positions, bandwidth=2.0, n_threads=1)
    ref_sums, ref_counts = _brute_sums(X, positions, 2.0)
    assert_array_equal(counts, ref_counts)
    assert_array_equal(sums, ref_sums)        # small integers: exact


@pytest.mark.parametrize("n_features", [1, 2])
@pytest.mark.parametrize("scale", [1e-145, 1e145])
def test_row_scans_where_node_bounds_are_off(n_features, scale):
    # squared distances out of the normal range: every point is tested on
    # its own, through the row scans too
    rng = np.random.default_rng(9)
    X = rng.normal(size=(400, n_features)) * scale
    positions = X[:20].copy()
    bandwidth = 0.4 * scale
    tree = _tree.build_tree(X, leaf_size=8, n_threads=1)
    sums, counts = _core.ball_sums(tree, positions, bandwidth=bandwidth, n_threads=1)
    ref_sums, ref_counts = _brute_sums(X, positions, bandwidth)
    assert counts.max() > 5
    assert_array_equal(counts, ref_counts)
    assert_allclose(sums, ref_sums, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "n_features, options",
    [(1, {}), (2, {}), (2, dict(weights=True)), (2, dict(index=True, balls=True)),
     (3, dict(leaf_columns=True)), (3, dict(moments=True, weights=True)), (20, {})],
)
def test_tree_pickles_as_itself(dtype, n_features, options):
    # (meanshift.dask moves and spills chunk trees): the same arrays, its
    # rows and weights padded again for the scans that read past a leaf,
    # and the same sums and climbs bit for bit
    import pickle

    rng = np.random.default_rng(n_features)
    X = rng.normal(size=(1001, n_features)).astype(dtype)
    options = dict(options)
    w = rng.uniform(0.5, 2.0, len(X)) if options.pop("weights", False) else None
    tree = _tree.build_tree(X, leaf_size=7, n_threads=2, weights=w, **options)
    copy = pickle.loads(pickle.dumps(tree))
    for name in ("data", "idx", "bounds", "centroid", "radius", "sums", "box", "w",
                 "wsum", "mom", "cols"):
        a, b = getattr(tree, name), getattr(copy, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert_array_equal(a, b)
            assert a.dtype == b.dtype
    assert (copy.n_levels, copy.rel, len(copy)) == (tree.n_levels, tree.rel, len(tree))
    assert np.asarray(copy.data.base).size >= copy.data.size + 8
    if w is not None:
        assert np.asarray(copy.w.base).size >= copy.w.size + 4
    # positions at the last rows: the scans of the last leaf read its padding
    positions = np.vstack([X[-5:].astype(np.float64), rng.normal(size=(20, n_features))])
    kernels = [0] + ([_core.KERNELS["epanechnikov"]] if options.get("moments") else [])
    for kernel in kernels:
        a = _core.ball_sums(tree, positions, bandwidth=0.9, n_threads=2, kernel=kernel)
        b = _core.ball_sums(copy, positions, bandwidth=0.9, n_threads=2, kernel=kernel)
        assert_array_equal(a[0], b[0])
        assert_array_equal(a[1], b[1])
    a = _core.climb(tree, X[::50], bandwidth=0.9, max_iter=300, n_threads=2)
    b = _core.climb(copy, X[::50], bandwidth=0.9, max_iter=300, n_threads=2)
    for x, y in zip(a, b, strict=True):
        assert_array_equal(x, y)


def test_leaf_columns_only_where_they_are_scanned():
    rng = np.random.default_rng(3)
    for d in (1, 2, 9, 20):
        X = rng.normal(size=(300, d))
        assert _tree.build_tree(X, leaf_size=16, n_threads=1, leaf_columns=True).cols is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [1, 2])
def test_morton_order_is_a_permutation_keeping_ties_in_order(dtype, n_features):
    rng = np.random.default_rng(n_features)
    X = rng.integers(0, 40, size=(5000, n_features)).astype(dtype)   # many ties
    order = _tree.morton_order(X)
    assert_array_equal(np.sort(order), np.arange(len(X)))
    Y = X[order]
    for a in range(len(Y) - 1):   # equal rows: in their original order
        if (Y[a] == Y[a + 1]).all():
            assert order[a] < order[a + 1]
    # neighbours one after another: consecutive rows close, against random
    step = np.abs(np.diff(Y.astype(np.float64), axis=0)).sum(axis=1).mean()
    assert step < 0.2 * np.abs(np.diff(X.astype(np.float64), axis=0)).sum(axis=1).mean()
    with pytest.raises(ValueError, match="1 or 2 columns"):
        _tree.morton_order(np.zeros((4, 3), dtype=dtype))


def test_climbs_in_morton_order_give_each_seed_its_own_climb():
    # _Climber takes many seeds in Morton order and puts the results back:
    # the same, bit for bit, as climbing them in the order given
    from meanshift import _work

    rng = np.random.default_rng(4)
    X = rng.normal(size=(9000, 2)) * 3
    seeds = X[rng.permutation(len(X))[:6000]]
    assert len(seeds) >= _work._COHERENT_MIN
    tree = _tree.build_tree(X, leaf_size=64, n_threads=2, index=False, balls=False)
    plan = _work._FitPlan(X.dtype, X.dtype, "flat")
    plan.given(1.0)
    ours = _work._Climber(tree, plan, 2, None)(seeds)
    ref = _core.climb(tree, seeds, bandwidth=1.0, max_iter=plan.max_iter, n_threads=2,
                      stop_thresh=plan.stop_thresh)
    for a, b in zip(ours, ref[:3], strict=True):
        assert_array_equal(a, b)
