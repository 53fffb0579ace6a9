"""Parity of meanshift with scikit-learn's mean shift, the oracle.

Every case fits ``meanshift`` and ``sklearn.cluster`` on the same data with
the same parameters and requires the same clustering: the same number of
clusters, identical labels, centers within ``1e-3 * bandwidth`` (the
convergence threshold of the hill climb), the same dtypes and the same
``n_iter_``.

scikit-learn is slow (a Python loop over seeds), so the data sets are small.
The oracle runs with its thread pools limited to one thread: its results do
not depend on the thread count, but on a busy 2-core machine each of its
OpenMP-parallel neighbour queries can cost tens of milliseconds of thread
wake-up.
"""

import warnings
from contextlib import contextmanager

import numpy as np
import pytest
import sklearn.cluster as skc
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_blobs, make_moons
from threadpoolctl import ThreadpoolController

from meanshift import MeanShift, estimate_bandwidth, get_bin_seeds, mean_shift

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

_CONTROLLER = None


@contextmanager
def oracle_context():
    """Run scikit-learn single-threaded (see the module docstring)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=1), warnings.catch_warnings():
        # the bin-seeding fallback warns in both implementations; that
        # warning is tested on its own below
        warnings.filterwarnings("ignore", message="Binning data failed")
        yield


def fit_both(X, **params):
    """Fit meanshift's and scikit-learn's MeanShift with the same params."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Binning data failed")
        ours = MeanShift(**params).fit(X)
    with oracle_context():
        ref = skc.MeanShift(**params).fit(X)
    return ours, ref


def reference_bandwidth(X, params):
    bandwidth = params.get("bandwidth")
    if bandwidth is None:
        with oracle_context():
            bandwidth = skc.estimate_bandwidth(X)
    return float(bandwidth)


def assert_same_clustering(ours, ref, bandwidth):
    """Same clustering, centers within 1e-3 * bandwidth."""
    assert ours.cluster_centers_.shape == ref.cluster_centers_.shape, (
        f"{len(ours.cluster_centers_)} clusters, scikit-learn found "
        f"{len(ref.cluster_centers_)}"
    )
    assert ours.cluster_centers_.dtype == ref.cluster_centers_.dtype
    assert ours.labels_.dtype == ref.labels_.dtype
    assert ours.labels_.shape == ref.labels_.shape
    if bandwidth > 0:
        atol = 1e-3 * bandwidth
        rtol = 0
    else:  # bandwidth 0: every center is a data point (up to the mean's rounding)
        atol = 0
        rtol = 8 * np.finfo(ref.cluster_centers_.dtype).eps
    assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=rtol, atol=atol)
    assert_array_equal(ours.labels_, ref.labels_)
    assert ours.n_iter_ == ref.n_iter_
    assert ours.n_features_in_ == ref.n_features_in_


def check_parity(X, **params):
    ours, ref = fit_both(X, **params)
    assert_same_clustering(ours, ref, reference_bandwidth(X, params))
    return ours, ref


# ---------------------------------------------------------------------------
# Data sets: functions returning (X float64, bandwidth)
# ---------------------------------------------------------------------------


def _blobs(n, d, centers, std, seed):
    X, _ = make_blobs(
        n_samples=n, n_features=d, centers=centers, cluster_std=std, random_state=seed
    )
    return X


def blobs_1d():
    return _blobs(120, 1, [[-5.0], [0.0], [6.0]], 0.8, 0), 1.3


def blobs_2d():
    return _blobs(120, 2, [[0, 0], [5, 5], [-5, 4], [4, -5]], 0.8, 1), 1.7


def blobs_3d():
    return _blobs(120, 3, 3, 1.0, 2), 2.3


def blobs_5d():
    return _blobs(120, 5, 3, 1.0, 3), 3.1


def blobs_10d():
    return _blobs(100, 10, 3, 1.0, 4), 4.3


def blobs_16d():
    # more than 15 features: scikit-learn's neighbour queries go brute force
    return _blobs(100, 16, 3, 1.0, 5), 5.3


def blobs_24d():
    return _blobs(80, 24, 2, 1.0, 6), 6.1


def moons():
    X, _ = make_moons(n_samples=120, noise=0.07, random_state=0)
    return X, 0.37


def anisotropic():
    X = _blobs(120, 2, 3, 1.0, 170)
    return X @ np.array([[0.6, -0.6], [-0.4, 0.8]]), 1.1


def lattice_ties():
    # integer lattice, bandwidth exactly the lattice spacing: kernels,
    # suppression and labels are full of exact distance ties
    g = np.arange(7, dtype=np.float64)
    X = np.array([(x, y) for x in g for y in g])
    return X, 1.0


def lattice_clumps():
    # integer points with multiplicities; the bandwidth is no lattice distance
    rng = np.random.RandomState(7)
    X = rng.randint(0, 6, size=(120, 2)).astype(np.float64)
    return X, 1.7


def duplicates():
    X = _blobs(50, 2, 3, 0.7, 8)
    X = np.repeat(X, 3, axis=0)
    np.random.RandomState(8).shuffle(X)
    return X, 1.4


def constant():
    # 2.5: the mean of any number of copies is exactly 2.5, in any order of
    # summation (see test_constant_data_zero_bandwidth for why that matters)
    return np.full((30, 3), 2.5), 0.5


def single_sample():
    return np.array([[1.5, -2.0]]), 1.0


def offset_1e6():
    X, bandwidth = blobs_2d()
    return X + 1e6, bandwidth


def offset_1e3():
    X, bandwidth = blobs_2d()
    return X + 1e3, bandwidth


def tiny_scale():
    X, bandwidth = blobs_2d()
    return X * 1e-6, bandwidth * 1e-6


def with_noise():
    # blobs plus uniform noise: orphans for cluster_all=False
    X = _blobs(100, 2, [[0, 0], [6, 6]], 0.6, 9)
    noise = np.random.RandomState(9).uniform(-6, 12, size=(25, 2))
    return np.vstack([X, noise]), 1.2


DATASETS = {
    f.__name__: f
    for f in [
        blobs_1d,
        blobs_2d,
        blobs_3d,
        blobs_5d,
        blobs_10d,
        blobs_16d,
        blobs_24d,
        moons,
        anisotropic,
        lattice_ties,
        lattice_clumps,
        duplicates,
        constant,
        single_sample,
        offset_1e6,
        offset_1e3,
        tiny_scale,
        with_noise,
    ]
}


# ---------------------------------------------------------------------------
# MeanShift / mean_shift parity
# ---------------------------------------------------------------------------


# Not compared: offset_1e6 in float32.  float32 resolves 1e6 only to 0.0625
# and scikit-learn's np.mean sums float32 rows in float32 (a sum of 20 points
# near 1e6 is ~2e7, resolved to 2), so its own means are off by more than
# the 1e-3 * bandwidth tolerance (e.g. 999994.6875 for an exact mean of
# 999994.806); meanshift sums in float64.  offset_1e3 covers float32 offsets.
DATASET_CASES = [
    pytest.param(name, dtype, id=f"{np.dtype(dtype).name}-{name}")
    for dtype in (np.float64, np.float32)
    for name in DATASETS
    if not (name == "offset_1e6" and dtype == np.float32)
]


@pytest.mark.parametrize("bin_seeding", [False, True], ids=["all_seeds", "bins"])
@pytest.mark.parametrize("dataset, dtype", DATASET_CASES)
def test_parity_datasets(dataset, dtype, bin_seeding):
    X, bandwidth = DATASETS[dataset]()
    X = X.astype(dtype)
    ours, ref = check_parity(X, bandwidth=bandwidth, bin_seeding=bin_seeding)
    assert ours.cluster_centers_.dtype == dtype


@pytest.mark.parametrize(
    "dataset", ["blobs_2d", "blobs_3d", "moons", "constant", "single_sample"]
)
def test_parity_estimated_bandwidth(dataset, global_dtype):
    X, _ = DATASETS[dataset]()
    X = X.astype(global_dtype)
    check_parity(X, bandwidth=None)


@pytest.mark.parametrize("bin_seeding", [False, True], ids=["all_seeds", "bins"])
@pytest.mark.parametrize("dataset", ["with_noise", "moons", "blobs_5d", "blobs_16d"])
def test_parity_cluster_all_false(dataset, global_dtype, bin_seeding):
    X, bandwidth = DATASETS[dataset]()
    X = X.astype(global_dtype)
    ours, ref = check_parity(
        X, bandwidth=bandwidth, bin_seeding=bin_seeding, cluster_all=False
    )
    if dataset == "with_noise":
        assert (ref.labels_ == -1).any()  # the case is not vacuous


@pytest.mark.parametrize("cluster_all", [True, False])
@pytest.mark.parametrize("min_bin_freq", [2, 5])
def test_parity_min_bin_freq(global_dtype, min_bin_freq, cluster_all):
    X, bandwidth = with_noise()
    X = X.astype(global_dtype)
    check_parity(
        X,
        bandwidth=bandwidth,
        bin_seeding=True,
        min_bin_freq=min_bin_freq,
        cluster_all=cluster_all,
    )


@pytest.mark.parametrize("bin_seeding", [False, True], ids=["all_seeds", "bins"])
@pytest.mark.parametrize("max_iter", [0, 1, 2])
@pytest.mark.parametrize("dataset", ["blobs_2d", "moons", "blobs_16d"])
def test_parity_max_iter(dataset, max_iter, bin_seeding, global_dtype):
    X, bandwidth = DATASETS[dataset]()
    X = X.astype(global_dtype)
    ours, ref = check_parity(
        X, bandwidth=bandwidth, max_iter=max_iter, bin_seeding=bin_seeding
    )
    assert ours.n_iter_ <= max_iter


@pytest.mark.parametrize("seeds_dtype", [np.float64, np.float32, np.int64])
def test_parity_explicit_seeds(global_dtype, seeds_dtype):
    X, bandwidth = blobs_2d()
    X = X.astype(global_dtype)
    seeds = np.array(
        [[0, 0], [5, 5], [-5, 4], [4, -5], [0, 5], [40, 40], [1, 1]], dtype=seeds_dtype
    )
    check_parity(X, bandwidth=bandwidth, seeds=seeds)


def test_parity_explicit_seeds_list_and_ignored_bin_seeding():
    X, bandwidth = moons()
    seeds = [[0.0, 0.5], [1.0, 0.0], [2.0, 0.5], [-1.0, 0.2], [0.5, -0.3]]
    check_parity(X, bandwidth=bandwidth, seeds=seeds, bin_seeding=True)
    check_parity(X, bandwidth=bandwidth, seeds=seeds, cluster_all=False)


def test_parity_seeds_partly_out_of_reach(global_dtype):
    # seeds with no point within bandwidth are dropped by both
    X, bandwidth = blobs_3d()
    X = X.astype(global_dtype)
    seeds = np.vstack([X[:5], np.full((3, 3), 100.0)])
    check_parity(X, bandwidth=bandwidth, seeds=seeds)


def test_constant_data_zero_bandwidth():
    # constant data: the estimated bandwidth is 0, and the kernel then holds
    # exactly the points equal to the current mean
    X = np.full((30, 3), 2.5)
    ours, ref = check_parity(X)  # bandwidth=None
    assert ref.n_iter_ == 0
    assert_array_equal(ours.cluster_centers_, [[2.5, 2.5, 2.5]])
    # 3.7: the float64 mean of 30 copies is not 3.7, so after one step no
    # point is within bandwidth 0 of any seed and both raise
    X = np.full((30, 3), 3.7)
    for impl in (MeanShift, skc.MeanShift):
        with pytest.raises(ValueError, match="No point was within bandwidth"):
            impl().fit(X)


def test_parity_mean_shift_function(global_dtype):
    X, bandwidth = blobs_2d()
    X = X.astype(global_dtype)
    centers, labels = mean_shift(X, bandwidth=bandwidth, bin_seeding=True)
    with oracle_context():
        ref_centers, ref_labels = skc.mean_shift(X, bandwidth=bandwidth, bin_seeding=True)
    assert centers.dtype == ref_centers.dtype
    assert_allclose(centers, ref_centers, rtol=0, atol=1e-3 * bandwidth)
    assert_array_equal(labels, ref_labels)


def test_parity_bin_seeding_larger(global_dtype):
    # a larger data set, affordable for the oracle with bin seeding
    X = _blobs(1000, 2, [[0, 0], [6, 6], [-6, 5], [5, -7], [0, 9]], 1.2, 12)
    X = X.astype(global_dtype)
    check_parity(X, bandwidth=1.9, bin_seeding=True)
    check_parity(X, bandwidth=1.1, bin_seeding=True, min_bin_freq=3, cluster_all=False)


# ---------------------------------------------------------------------------
# Input layouts and types
# ---------------------------------------------------------------------------


def _layouts():
    X = _blobs(60, 3, 3, 1.0, 2)
    bandwidth = 2.3
    X32 = X.astype(np.float32)
    return {
        "C_f64": (np.ascontiguousarray(X), bandwidth),
        "F_f64": (np.asfortranarray(X), bandwidth),
        "F_f32": (np.asfortranarray(X32), bandwidth),
        "rows_step2": (X[::2], bandwidth),
        "rows_step2_f32": (X32[::2], bandwidth),
        "cols_slice": (X[:, 1:], bandwidth),
        "cols_step2": (X[:, ::2], bandwidth),
        "reversed": (X[::-1], bandwidth),
        "transposed_view": (np.ascontiguousarray(X.T).T, bandwidth),
        "list": (X.tolist(), bandwidth),
        "list_of_tuples": ([tuple(r) for r in X], bandwidth),
        "int64": (np.round(X * 3).astype(np.int64), 3 * bandwidth + 0.1),
        "int32": (np.round(X * 3).astype(np.int32), 3 * bandwidth + 0.1),
        "int_list": (np.round(X * 3).astype(np.int64).tolist(), 3 * bandwidth + 0.1),
        "int_bandwidth": (X, 2),
        "np_float32_bandwidth": (X, np.float32(bandwidth)),
    }


LAYOUTS = _layouts()


@pytest.mark.parametrize("bin_seeding", [False, True], ids=["all_seeds", "bins"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_parity_layouts(layout, bin_seeding):
    X, bandwidth = LAYOUTS[layout]
    ours, ref = check_parity(X, bandwidth=bandwidth, bin_seeding=bin_seeding)
    expected = np.float32 if np.asarray(X).dtype == np.float32 else np.float64
    assert ours.cluster_centers_.dtype == expected


@pytest.mark.parametrize(
    "bandwidth",
    [1.7, np.float64(1.7), np.float32(1.7), 2],
    ids=["py_float", "np_float64", "np_float32", "int"],
)
def test_parity_bin_seeding_bandwidth_scalar_type(bandwidth):
    # with bin seeding the type of the bandwidth decides, by NumPy's
    # promotion rules, whether float32 data is binned in float32 or float64
    X = blobs_2d()[0].astype(np.float32)
    check_parity(X, bandwidth=bandwidth, bin_seeding=True)
    check_parity(X, bandwidth=bandwidth, bin_seeding=True, min_bin_freq=3)


@pytest.mark.parametrize("scale", [1e-150, 1e100])
def test_parity_extreme_scales(scale):
    X, bandwidth = blobs_2d()
    check_parity(X * scale, bandwidth=bandwidth * scale)


def test_parity_int_data_estimated_bandwidth():
    X = np.round(blobs_2d()[0] * 2).astype(np.int64)
    check_parity(X, bandwidth=None)


# ---------------------------------------------------------------------------
# predict
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["blobs_2d", "blobs_5d", "moons", "blobs_16d"])
def test_parity_predict(dataset, global_dtype):
    X, bandwidth = DATASETS[dataset]()
    X = X.astype(global_dtype)
    ours, ref = check_parity(X, bandwidth=bandwidth, bin_seeding=True)
    rng = np.random.RandomState(0)
    lo, hi = X.min(axis=0), X.max(axis=0)
    X_new = rng.uniform(lo - 1, hi + 1, size=(200, X.shape[1])).astype(global_dtype)
    pred = ours.predict(X_new)
    with oracle_context():
        ref_pred = ref.predict(X_new)
    assert pred.dtype == ref_pred.dtype
    assert_array_equal(pred, ref_pred)
    # predict of the training data is the labelling of fit
    assert_array_equal(ours.predict(X), ref.labels_)


def test_parity_predict_other_dtype_and_list():
    X, bandwidth = blobs_2d()
    ours, ref = fit_both(X.astype(np.float32), bandwidth=bandwidth)
    X_new = np.random.RandomState(1).uniform(-8, 8, size=(100, 2))
    with oracle_context():
        ref_pred = ref.predict(X_new)
        ref_pred_list = ref.predict(X_new.tolist())
    assert_array_equal(ours.predict(X_new), ref_pred)
    assert_array_equal(ours.predict(X_new.tolist()), ref_pred_list)


# ---------------------------------------------------------------------------
# estimate_bandwidth
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("quantile", [0.0, 0.01, 0.1, 0.3, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("dataset", ["blobs_2d", "blobs_5d", "blobs_16d", "moons"])
def test_parity_estimate_bandwidth(dataset, quantile, global_dtype):
    X, _ = DATASETS[dataset]()
    X = X.astype(global_dtype)
    ours = estimate_bandwidth(X, quantile=quantile)
    with oracle_context():
        ref = skc.estimate_bandwidth(X, quantile=quantile)
    assert type(ours) is np.float64
    # With more than 15 features scikit-learn computes distances as
    # |x|^2 - 2 x.y + |y|^2 (GEMM), so a point's distance to itself (the
    # first neighbour, all there is at quantile < 2 / n) comes out ~1e-7,
    # not 0; meanshift's is exactly 0.  Absolute slack for that case only.
    abs_tol = 1e-6 if X.shape[1] > 15 else 0
    assert ours == pytest.approx(ref, rel=1e-6, abs=abs_tol)


@pytest.mark.parametrize("random_state", [0, 7, None])
@pytest.mark.parametrize("n_samples", [1, 2, 37, 100, 1000])
def test_parity_estimate_bandwidth_subsample(n_samples, random_state, global_dtype):
    X = _blobs(300, 3, 4, 1.0, 13).astype(global_dtype)
    if random_state is None:
        # the global generator: draw the same permutation for both
        np.random.seed(3)
        ours = estimate_bandwidth(X, n_samples=n_samples, random_state=None)
        np.random.seed(3)
        with oracle_context():
            ref = skc.estimate_bandwidth(X, n_samples=n_samples, random_state=None)
    else:
        ours = estimate_bandwidth(X, n_samples=n_samples, random_state=random_state)
        with oracle_context():
            ref = skc.estimate_bandwidth(
                X, n_samples=n_samples, random_state=random_state
            )
    assert type(ours) is np.float64
    assert ours == pytest.approx(ref, rel=1e-6)


def test_parity_estimate_bandwidth_random_state_instance():
    X = _blobs(200, 2, 3, 1.0, 14)
    ours = estimate_bandwidth(X, n_samples=50, random_state=np.random.RandomState(5))
    with oracle_context():
        ref = skc.estimate_bandwidth(
            X, n_samples=50, random_state=np.random.RandomState(5)
        )
    assert ours == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize(
    "dataset",
    ["lattice_ties", "duplicates", "constant", "single_sample", "tiny_scale", "offset_1e3"],
)
def test_parity_estimate_bandwidth_special(dataset, global_dtype):
    X, _ = DATASETS[dataset]()
    X = X.astype(global_dtype)
    ours = estimate_bandwidth(X)
    with oracle_context():
        ref = skc.estimate_bandwidth(X)
    assert type(ours) is np.float64
    assert ours == pytest.approx(ref, rel=1e-6, abs=0)


def test_parity_estimate_bandwidth_more_than_500_points():
    # scikit-learn sums the distances in batches of 500 points
    X = _blobs(1100, 2, 3, 1.0, 15)
    ours = estimate_bandwidth(X, quantile=0.05)
    with oracle_context():
        ref = skc.estimate_bandwidth(X, quantile=0.05)
    assert ours == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("X", [[[1, 1], [2, 1], [1, 0], [4, 7], [3, 5], [3, 6]]])
def test_parity_estimate_bandwidth_list_and_int(X):
    for data in (X, np.array(X), np.array(X, dtype=np.int32)):
        ours = estimate_bandwidth(data, quantile=0.5)
        ref = skc.estimate_bandwidth(data, quantile=0.5)
        assert type(ours) is np.float64
        assert ours == pytest.approx(ref, rel=1e-12)


# ---------------------------------------------------------------------------
# get_bin_seeds
# ---------------------------------------------------------------------------


def assert_same_bin_seeds(ours, ref):
    assert isinstance(ours, np.ndarray)
    assert ours.dtype == ref.dtype
    assert ours.shape == ref.shape
    assert_array_equal(ours, ref)  # same rows in the same order
    # the cell kept for 0.0 and -0.0 is the first one seen, sign included
    assert_array_equal(np.signbit(ours), np.signbit(ref))


BIN_DATA = {
    "blobs_2d": blobs_2d()[0],
    "blobs_5d": blobs_5d()[0],
    "moons": moons()[0],
    "lattice": lattice_clumps()[0],
    "negative_half_ties": np.array(
        [[-0.5, 0.5], [1.5, -1.5], [2.5, 2.5], [-2.5, 0.5], [0.5, -0.5], [1.5, 1.5]]
    ),
    "offset_1e3": offset_1e3()[0],
    "signed_zeros": np.array(
        [[-0.2, 0.1], [0.2, -0.1], [0.3, 0.3], [-0.1, -0.4], [3.0, 3.1], [2.9, 3.2]]
    ),
}


@pytest.mark.parametrize("min_bin_freq", [1, 2, 4])
@pytest.mark.parametrize(
    "bin_size",
    [1, 0.5, 1.3, np.float64(1.3), np.float32(1.3), 2.7, -1.3],
    ids=["int1", "py0.5", "py1.3", "np64_1.3", "np32_1.3", "py2.7", "negative"],
)
@pytest.mark.parametrize("data", list(BIN_DATA))
def test_parity_get_bin_seeds(data, bin_size, min_bin_freq, global_dtype):
    X = BIN_DATA[data].astype(global_dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = get_bin_seeds(X, bin_size, min_bin_freq)
        ref = skc.get_bin_seeds(X, bin_size, min_bin_freq)
    if ref is X:
        assert ours is X
    else:
        assert_same_bin_seeds(ours, ref)


def test_get_bin_seeds_dtype_follows_numpy_promotion():
    X = blobs_2d()[0].astype(np.float32)
    # Python float: float32 division and float32 seeds
    ours = get_bin_seeds(X, 1.3)
    assert ours.dtype == np.float32
    assert_same_bin_seeds(ours, skc.get_bin_seeds(X, 1.3))
    # NumPy float64 scalar: float64 division and float64 seeds
    ours = get_bin_seeds(X, np.float64(1.3))
    assert ours.dtype == np.float64
    assert_same_bin_seeds(ours, skc.get_bin_seeds(X, np.float64(1.3)))


def test_get_bin_seeds_float32_division_matters():
    # a value whose cell differs between float32 and float64 division
    bin_size = 0.1
    x32 = None
    for v in np.arange(0.05, 5.0, 0.1, dtype=np.float32):
        q32 = np.round(np.float32(v) / np.float32(bin_size))
        q64 = np.round(np.float64(v) / bin_size)
        if q32 != q64:
            x32 = v
            break
    assert x32 is not None
    X = np.array([[x32, 0.0], [x32, 0.0], [x32 + 3, 1.0]], dtype=np.float32)
    for bs in (bin_size, np.float64(bin_size)):
        assert_same_bin_seeds(get_bin_seeds(X, bs), skc.get_bin_seeds(X, bs))
    assert not np.array_equal(
        get_bin_seeds(X, bin_size).astype(np.float64),
        get_bin_seeds(X, np.float64(bin_size)),
    )


def test_get_bin_seeds_order_of_first_appearance():
    X = np.array([[5.0, 5.0], [0.0, 0.0], [5.1, 4.9], [9.0, 0.0], [0.1, 0.0]])
    ours = get_bin_seeds(X, 1.0)
    assert_array_equal(ours, [[5, 5], [0, 0], [9, 0]])
    assert_same_bin_seeds(ours, skc.get_bin_seeds(X, 1.0))


def test_get_bin_seeds_fallback_warns_and_returns_X(global_dtype):
    X = blobs_2d()[0][:20].astype(global_dtype)
    with pytest.warns(UserWarning, match="Binning data failed"):
        ours = get_bin_seeds(X, 1e-6)
    with pytest.warns(UserWarning, match="Binning data failed"):
        ref = skc.get_bin_seeds(X, 1e-6)
    assert ours is X
    assert ref is X


def test_get_bin_seeds_bin_size_zero_returns_X():
    X = blobs_2d()[0]
    assert get_bin_seeds(X, 0) is X
    assert get_bin_seeds(X, 0.0) is X
    assert skc.get_bin_seeds(X, 0.0) is X


def test_get_bin_seeds_no_bin_frequent_enough():
    X = blobs_2d()[0]
    ours = get_bin_seeds(X, 0.5, min_bin_freq=10_000)
    ref = skc.get_bin_seeds(X, 0.5, min_bin_freq=10_000)
    assert_same_bin_seeds(ours, ref)
    assert ours.shape == (0,)


def test_get_bin_seeds_integer_data():
    X = np.random.RandomState(0).randint(-20, 20, size=(200, 2))
    for bs in (3, 2.5, np.float64(2.5)):
        assert_same_bin_seeds(get_bin_seeds(X, bs), skc.get_bin_seeds(X, bs))


def test_get_bin_seeds_many_points():
    # enough points for the threaded binning path of the kernel
    X = np.random.RandomState(0).normal(size=(20_000, 2)) * 4
    for dtype in (np.float64, np.float32):
        Xd = X.astype(dtype)
        assert_same_bin_seeds(get_bin_seeds(Xd, 0.7), skc.get_bin_seeds(Xd, 0.7))
