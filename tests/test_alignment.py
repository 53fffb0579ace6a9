"""Arrays at addresses that are not a multiple of their element size.

Dask hands tasks arrays deserialized from network frames at odd addresses;
users make them with ``np.frombuffer(buf, offset=1)``, packed record arrays
and memory maps behind an odd header.  Reading such an array through a
``double*`` is undefined behaviour in C, so every compiled kernel makes a
misaligned argument aligned at its door (a copy, only then).  Every
primitive and every public entry point must give, for misaligned input,
exactly what it gives for an aligned copy, and leave the caller's array as
it was.  Run under UndefinedBehaviorSanitizer (tools/sanitize.sh and the
sanitizer step of .ci/run), a misaligned read anywhere is a report.
"""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import meanshift
from meanshift import _bandwidth, _bins, _core, _merge, _tree, _values

# the whole file is in the focused subset that tools/sanitize.sh --focused
# (and so .ci/run) runs under ASan+UBSan: `pytest -m sanitize`
pytestmark = pytest.mark.sanitize


def misaligned(a, offset=1):
    """A writable copy of ``a`` whose data starts ``offset`` bytes past an
    aligned address (C order): its ALIGNED flag is off."""
    a = np.ascontiguousarray(a)
    buf = bytearray(a.nbytes + 16)
    base = np.frombuffer(buf, dtype=np.uint8)
    start = (-base.ctypes.data) % 16 + offset
    out = np.frombuffer(buf, dtype=a.dtype, count=a.size, offset=start)
    out = out.reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned
    return out


def packed_field(a):
    """``a`` (2-D) as a field of a packed record array: a byte before each
    row, so the rows are misaligned and the row stride is odd."""
    a = np.asarray(a)
    dt = np.dtype([("tag", "u1"), ("x", a.dtype, (a.shape[1],))], align=False)
    rec = np.zeros(len(a), dtype=dt)
    rec["x"] = a
    out = rec["x"]
    assert not out.flags.aligned
    return out


KINDS = {"offset": misaligned, "record": packed_field}


def blobs(n=400, d=2, dtype=np.float64, seed=0):
    X, _ = make_blobs(n, n_features=d, centers=3, cluster_std=0.6,
                      random_state=seed)
    return X.astype(dtype)


def assert_same(a, b):
    """The same results, array by array, bit for bit."""
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


# ---------------------------------------------------------------------------
# The primitives
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d", [2, 5])
def test_build_tree(kind, d, global_dtype):
    X = blobs(d=d, dtype=global_dtype)
    w = np.linspace(0.5, 2.0, len(X))
    bad = KINDS[kind](X)
    for weights, bad_weights in ((None, None), (w, misaligned(w))):
        ref = _tree.build_tree(X, leaf_size=8, n_threads=2, weights=weights, moments=True,
                               leaf_columns=True)
        got = _tree.build_tree(bad, leaf_size=8, n_threads=2, weights=bad_weights, moments=True,
                               leaf_columns=True)
        for name in ("data", "idx", "bounds", "centroid", "radius", "sums",
                     "box", "w", "wsum", "mom", "cols"):
            a, b = getattr(ref, name), getattr(got, name)
            assert (a is None) == (b is None), name
            if a is not None:
                np.testing.assert_array_equal(a, b, err_msg=name)
    np.testing.assert_array_equal(bad, X)


@pytest.mark.parametrize("kernel", [0, 1, 2])
def test_ball_sums_and_climb(kernel, global_dtype):
    X = blobs(dtype=global_dtype)
    tree = _tree.build_tree(X, leaf_size=8, n_threads=2, moments=kernel == 1)
    positions = X[::7].astype(np.float64)
    ref = _core.ball_sums(tree, positions, bandwidth=1.5, n_threads=2, kernel=kernel)
    got = _core.ball_sums(tree, misaligned(positions), bandwidth=1.5, n_threads=2, kernel=kernel)
    assert_same(ref, got)
    got = _core.ball_sums(tree, packed_field(positions), bandwidth=1.5, n_threads=2,
                          kernel=kernel)
    assert_same(ref, got)
    seeds = X[::11]
    ref = _core.climb(tree, seeds, bandwidth=1.5, max_iter=300, n_threads=2, kernel=kernel)
    for bad in (misaligned(seeds), packed_field(seeds)):
        assert_same(ref, _core.climb(tree, bad, bandwidth=1.5, max_iter=300, n_threads=2,
                                     kernel=kernel))
        np.testing.assert_array_equal(bad, seeds)


def test_outputs_written_in_place_must_be_aligned():
    X = blobs()
    tree = _tree.build_tree(X, leaf_size=8)
    seeds = X[:5]
    out = (np.zeros((5, 2)), np.zeros(5), np.zeros(5, dtype=np.intp))
    for i in range(3):
        bad = list(out)
        bad[i] = misaligned(out[i])
        with pytest.raises(ValueError, match="out must be aligned"):
            _core.climb(tree, seeds, bandwidth=1.5, max_iter=300, n_threads=1, start=0,
                        seconds=0.0, out=tuple(bad))
    with pytest.raises(ValueError, match="out must be aligned"):
        _bandwidth.kth_neighbor_dist(tree, k=3, n_threads=1, start=0, seconds=0.0,
                                     out=misaligned(np.zeros(len(X))))


def test_merge_assign_kth_and_bins(global_dtype):
    X = blobs(dtype=global_dtype)
    centers = np.array([[0.0, 0.0], [5.0, 5.0], [-3.0, 2.0]])
    counts = np.array([3.0, 7.0, 7.0])
    ref = _merge.dedupe_and_rank(centers, counts)
    assert_same(ref, _merge.dedupe_and_rank(misaligned(centers), misaligned(counts)))
    for bad in KINDS.values():
        for cluster_all in (True, False):
            ref = _merge.assign(X, centers, bandwidth=1.0, cluster_all=cluster_all, n_threads=2)
            # X may have any strides, centers must be C-contiguous
            assert_same(ref, _merge.assign(bad(X), misaligned(centers), bandwidth=1.0,
                                           cluster_all=cluster_all, n_threads=2))
    many = blobs(n=120, dtype=np.float64, seed=3)   # a tree over the centers
    ref = _merge.assign(X, many, bandwidth=1.0, cluster_all=True, n_threads=2)
    assert_same(ref, _merge.assign(misaligned(X), misaligned(many), bandwidth=1.0,
                                   cluster_all=True, n_threads=2))
    tree = _tree.build_tree(X, leaf_size=8)
    bad_tree = _tree.build_tree(misaligned(X), leaf_size=8)
    assert_same(_bandwidth.kth_neighbor_dist(tree, k=5, n_threads=2),
                _bandwidth.kth_neighbor_dist(bad_tree, k=5, n_threads=2))
    w = np.linspace(0.0, 3.0, len(X))
    for weights in (None, w):
        ref = _bins.bin_cells(X, bin_size=0.7, f32_division=False, n_threads=2, weights=weights)
        bad_w = None if weights is None else misaligned(weights)
        for bad in KINDS.values():
            assert_same(ref, _bins.bin_cells(bad(X), bin_size=0.7, f32_division=False,
                                             n_threads=2, weights=bad_w))
        ref = _bins.grid_cells(X, cell_size=0.3, n_threads=2, weights=weights)
        for bad in KINDS.values():
            assert_same(ref, _bins.grid_cells(bad(X), cell_size=0.3, n_threads=2,
                                              weights=bad_w))
    cell_of = ref[-1]
    labels = np.arange(len(ref[0]), dtype=np.intp)[::-1].copy()
    assert_same(_bins.cell_labels(cell_of, labels, 2),
                _bins.cell_labels(misaligned(cell_of), misaligned(labels), 2))


def test_finite_magnitude(global_dtype):
    X = blobs(n=70_000, dtype=global_dtype)   # big enough for threads
    X[123, 1] = -40.0
    ref = _values.finite_magnitude(X, n_threads=2)
    assert ref == (True, 40.0)
    for bad in KINDS.values():
        assert _values.finite_magnitude(bad(X), n_threads=2) == ref
    X[60_000, 0] = np.nan
    for bad in KINDS.values():
        assert _values.finite_magnitude(bad(X), n_threads=2)[0] is False


# ---------------------------------------------------------------------------
# The public entry points
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_public_functions(kind, global_dtype):
    X = blobs(dtype=global_dtype)
    bad = KINDS[kind](X)
    seeds = X[::40]
    for kwargs in ({"bandwidth": 1.5}, {"bandwidth": 1.5, "bin_seeding": True},
                   {"bandwidth": 1.5, "seeds": seeds}):
        ref = meanshift.mean_shift(X, **kwargs)
        if "seeds" in kwargs:
            kwargs = dict(kwargs, seeds=KINDS[kind](seeds))
        assert_same(ref, meanshift.mean_shift(bad, **kwargs))
    assert (meanshift.estimate_bandwidth(X, n_jobs=2)
            == meanshift.estimate_bandwidth(bad, n_jobs=2))
    assert_same(meanshift.get_bin_seeds(X, 1.0), meanshift.get_bin_seeds(bad, 1.0))
    np.testing.assert_array_equal(bad, X)


@pytest.mark.parametrize("kernel", ["flat", "epanechnikov", "gaussian"])
@pytest.mark.parametrize("label_by", ["nearest", "attractor"])
@pytest.mark.parametrize("algorithm", ["exact", "grid"])
def test_estimator_with_weights(kernel, label_by, algorithm, global_dtype):
    X = blobs(n=300, d=3, dtype=global_dtype)
    w = np.arange(len(X)) % 4 * 0.5
    bad_X, bad_w = misaligned(X), misaligned(w)
    params = dict(bandwidth=2.0, kernel=kernel, label_by=label_by, algorithm=algorithm)
    ref = meanshift.MeanShift(**params).fit(X, sample_weight=w)
    got = meanshift.MeanShift(**params).fit(bad_X, sample_weight=bad_w)
    np.testing.assert_array_equal(ref.cluster_centers_, got.cluster_centers_)
    np.testing.assert_array_equal(ref.labels_, got.labels_)
    Q = blobs(n=50, d=3, dtype=global_dtype, seed=5)
    for bad in KINDS.values():
        np.testing.assert_array_equal(ref.predict(Q), got.predict(bad(Q)))
    np.testing.assert_array_equal(bad_X, X)
    np.testing.assert_array_equal(bad_w, w)


# ---------------------------------------------------------------------------
# meanshift.dask: chunks at odd addresses (the synchronous scheduler; the
# LocalCluster tests of test_dask.py give the workers network frames)
# ---------------------------------------------------------------------------


def test_dask_chunks_at_odd_addresses(global_dtype):
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    md = pytest.importorskip("meanshift.dask")
    X = (np.round(blobs(n=600, dtype=np.float64) * 8) / 8).astype(global_dtype)
    w = (np.arange(len(X)) % 3).astype(np.float64)
    bad_X, bad_w = misaligned(X), misaligned(w)
    dX = da.from_array(bad_X, chunks=(97, 2))
    dw = da.from_array(bad_w, chunks=(97,))
    with dask.config.set(scheduler="sync"):
        for kwargs in ({}, {"bin_seeding": True}):
            ref = meanshift.MeanShift(bandwidth=1.5, **kwargs).fit(X, sample_weight=w)
            got = md.MeanShift(bandwidth=1.5, **kwargs).fit(dX, sample_weight=dw)
            np.testing.assert_array_equal(got.cluster_centers_, ref.cluster_centers_)
            np.testing.assert_array_equal(np.asarray(got.labels_), ref.labels_)
            np.testing.assert_array_equal(
                got.predict(da.from_array(misaligned(X[:50]), chunks=(7, 2))).compute(),
                ref.predict(X[:50]))
    np.testing.assert_array_equal(bad_X, X)
