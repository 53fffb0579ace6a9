"""Parity of meanshift with scikit-learn's mean shift, the oracle.

Every case fits ``meanshift`` and ``sklearn.cluster`` on the same data with
the same parameters and requires the same clustering: the same number of
clusters, identical labels, centers within ``1e-3 * bandwidth`` (the
convergence threshold of the hill climb), the same dtypes and the same
``n_iter_``.

scikit-learn is the oracle where its arithmetic is exact or deterministic,
which is almost everywhere on these data: the comparison is strict there,
and on this machine most low-dimensional float64 cases are bit-identical.
Where its arithmetic is noisy, the test referees instead of echoing:

* distances through a matrix product (GEMM): its neighbour queries go brute
  force above 15 features or when ``n_neighbors >= n_samples // 2`` (tiny
  data, large quantiles, ``predict``), and compute |x|^2 - 2 x.y + |y|^2,
  whose rounding depends on the BLAS kernel (a point's distance to itself
  comes out ~1e-8 * |x|, not 0);
* float32 means, which ``np.mean`` sums in float32 (meanshift in float64);
* means summed in a different order (a point within rounding of the
  bandwidth from a mean can fall on either side).

Estimated bandwidths are compared with the exact estimate (integer
arithmetic, square roots to 100 bits): meanshift's must be at least as
close as scikit-learn's.  Where a clustering differs from scikit-learn's,
meanshift's must be the clustering of exact arithmetic
(``specs.exact.exact_mean_shift``); labels from ``predict`` must name a center at least
as near, exactly, as scikit-learn's.  A verdict never depends on the BLAS,
the CPU or the thread count.

scikit-learn is slow (a Python loop over seeds), so the data sets are small.
The oracle runs with its thread pools limited to one thread: its results do
not depend on the thread count, but on a busy 2-core machine each of its
OpenMP-parallel neighbour queries can cost tens of milliseconds of thread
wake-up.
"""

import warnings

import numpy as np
import pytest
import sklearn.cluster as skc
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_blobs, make_moons
from sklearn.utils import check_random_state
from specs.exact import (
    as_scaled_integers,
    assert_at_least_as_close,
    clustering_difference,
    exact_bandwidth,
    exact_mean_shift,
    referee_mean_shift,
    sklearn_estimate_uses_gemm,
)
from specs.oracle import oracle_context

from meanshift import MeanShift, estimate_bandwidth, get_bin_seeds, mean_shift

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _fit(make, X, params):
    """The fitted estimator, or the ValueError its fit raised."""
    try:
        return make(**params).fit(X)
    except ValueError as exc:
        return exc


def fit_both(X, **params):
    """Fit meanshift's and scikit-learn's MeanShift with the same params
    (each result the fitted estimator or the ValueError it raised)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Binning data failed")
        ours = _fit(MeanShift, X, params)
    with oracle_context():
        ref = _fit(skc.MeanShift, X, params)
    return ours, ref


def reference_bandwidth(X, params):
    bandwidth = params.get("bandwidth")
    if bandwidth is None:
        with oracle_context():
            bandwidth = skc.estimate_bandwidth(X)
    return float(bandwidth)


def _skip_degenerate(reason):
    pytest.skip(f"degenerate data set: {reason}")


def assert_same_clustering(X, params, ours, ref):
    """The same clustering as scikit-learn, or where scikit-learn's rounding
    decided otherwise, the clustering of exact arithmetic."""
    if not isinstance(ours, Exception) and not isinstance(ref, Exception):
        # the shape of the result is machine independent: always strict
        assert ours.cluster_centers_.dtype == ref.cluster_centers_.dtype
        assert ours.cluster_centers_.shape[1] == ref.cluster_centers_.shape[1]
        assert ours.labels_.dtype == ref.labels_.dtype
        assert ours.labels_.shape == ref.labels_.shape
        assert ours.n_features_in_ == ref.n_features_in_
    if clustering_difference(ours, ref, reference_bandwidth(X, params)) is None:
        return
    with oracle_context():
        referee_mean_shift(X, params, ours, ref, _skip_degenerate)


def check_parity(X, **params):
    ours, ref = fit_both(X, **params)
    assert_same_clustering(X, params, ours, ref)
    assert not isinstance(ours, Exception), ours
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


# offset_1e6 in float32 is refereed on its own below.
DATASET_CASES = [
    pytest.param(name, dtype, id=f"{np.dtype(dtype).name}-{name}")
    for dtype in (np.float64, np.float32)
    for name in DATASETS
    if not (name == "offset_1e6" and dtype == np.float32)
]


@pytest.mark.parametrize(
    "bin_seeding",
    [pytest.param(False, id="all_seeds", marks=pytest.mark.slow), pytest.param(True, id="bins")],
)
def test_float32_offset_1e6_refereed(bin_seeding):
    # float32 resolves 1e6 only to 0.0625, and scikit-learn's np.mean sums
    # float32 rows in float32 (a sum of 20 points near 1e6 is ~2e7,
    # resolved to 2), so its means are off by more than 1e-3 * bandwidth
    # (e.g. 999994.6875 for an exact mean of 999994.806); meanshift sums in
    # float64.  Referee: the clustering of exact arithmetic, centers within
    # 1e-3 * bandwidth plus float32's resolution, and at least as close as
    # scikit-learn's.  Not n_iter_: the convergence threshold (1.7e-3) is
    # below what a float32 mean near 1e6 can resolve.
    X, bandwidth = offset_1e6()
    X = X.astype(np.float32)
    ours, ref = fit_both(X, bandwidth=bandwidth, bin_seeding=bin_seeding)
    seeds = skc.get_bin_seeds(X, bandwidth) if bin_seeding else X
    exact = exact_mean_shift(X, bandwidth, seeds, dtype=np.float32)
    assert ours.cluster_centers_.dtype == np.float32
    assert_array_equal(ours.labels_, exact.labels)
    assert_allclose(ours.cluster_centers_, exact.centers, rtol=0, atol=1e-3 * bandwidth + 0.0625)
    assert ref.cluster_centers_.shape == exact.centers.shape  # not vacuous
    ours_err = np.abs(ours.cluster_centers_ - exact.centers).max()
    ref_err = np.abs(ref.cluster_centers_ - exact.centers).max()
    assert ours_err <= ref_err


@pytest.mark.parametrize("bin_seeding", [False, True], ids=["all_seeds", "bins"])
@pytest.mark.parametrize("dataset, dtype", DATASET_CASES)
def test_parity_datasets(dataset, dtype, bin_seeding):
    X, bandwidth = DATASETS[dataset]()
    X = X.astype(dtype)
    ours, ref = check_parity(X, bandwidth=bandwidth, bin_seeding=bin_seeding)
    assert ours.cluster_centers_.dtype == dtype


@pytest.mark.parametrize(
    "dataset",
    ["blobs_2d", "blobs_3d", pytest.param("moons", marks=pytest.mark.slow), "constant",
     "single_sample"],
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
    # constant data: the estimated bandwidth is exactly 0 (scikit-learn's
    # tree computes it exactly too), and the kernel then holds exactly the
    # points equal to the current mean
    X = np.full((30, 3), 2.5)
    ours, ref = check_parity(X)  # bandwidth=None
    assert ref.n_iter_ == 0
    assert_array_equal(ours.cluster_centers_, [[2.5, 2.5, 2.5]])
    # 3.7: in exact arithmetic the mean of 30 copies is 3.7 and the climb
    # stops there; scikit-learn's float64 mean of the copies is not 3.7, so
    # after one step no point is within bandwidth 0 of any seed and it
    # raises.  meanshift may do the same (the same question, rounded) or
    # give the exact answer; nothing else.
    X = np.full((30, 3), 3.7)
    with pytest.raises(ValueError, match="No point was within bandwidth"):
        skc.MeanShift().fit(X)
    try:
        ours = MeanShift().fit(X)
    except ValueError as exc:
        assert str(exc).startswith("No point was within bandwidth"), exc
    else:
        assert_array_equal(ours.cluster_centers_, [[3.7, 3.7, 3.7]])
        assert_array_equal(ours.labels_, np.zeros(30, dtype=np.intp))


def test_parity_mean_shift_function(global_dtype):
    # the function is the estimator: the same result, bit for bit, and the
    # estimator's is compared with scikit-learn's
    X, bandwidth = blobs_2d()
    X = X.astype(global_dtype)
    centers, labels = mean_shift(X, bandwidth=bandwidth, bin_seeding=True)
    ours, ref = check_parity(X, bandwidth=bandwidth, bin_seeding=True)
    assert centers.dtype == ref.cluster_centers_.dtype
    assert_array_equal(centers, ours.cluster_centers_)
    assert_array_equal(labels, ours.labels_)


def test_summation_order_within_rounding_of_the_bandwidth():
    # The ten points near 1.5 have the mean 1.54 (the exact mean of their
    # float values, rounded); 0.5399999999999998 is 1 + 1.6e-16 from that
    # exact mean: outside the bandwidth 1.0, by less than the rounding of
    # a mean.  A mean summed in another order can round the point inside
    # (scikit-learn's, whose radius query returns the points in tree order:
    # 11 points, center 1.449).  The referee is exact arithmetic: one
    # cluster of the ten points at 1.54, the two others orphans.
    X = np.array(
        [1.7, 1.4, 1.1, 1.7, 1.5, 1.3, 1.5, 1.9, 1.9, 1.4, 0.5399999999999998, 100.0]
    )[:, None]
    params = dict(bandwidth=1.0, seeds=[[1.7399999999999998]], cluster_all=False)
    ours, ref = fit_both(X, **params)
    exact = exact_mean_shift(X, 1.0, np.array(params["seeds"]), cluster_all=False)
    assert exact.degenerate  # the case is what it claims to be
    assert_array_equal(exact.labels, [0] * 10 + [-1, -1])
    assert_allclose(exact.centers, [[1.54]], rtol=0, atol=1e-15)
    # meanshift agrees with scikit-learn or with exact arithmetic
    assert clustering_difference(ours, ref, 1.0) is None or (
        clustering_difference(ours, exact, 1.0) is None
    )


@pytest.mark.slow
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


def assert_nearest_center(X, centers, pred, ref_pred):
    """predict's labels against scikit-learn's, which come from
    pairwise_distances_argmin (a matrix product, so BLAS rounding): equal,
    or where not, meanshift's center exactly at least as near as
    scikit-learn's (a tie of exact distances, or a near-tie that the
    matrix product rounded the wrong way)."""
    assert pred.dtype == ref_pred.dtype
    assert pred.shape == ref_pred.shape
    differ = np.flatnonzero(pred != ref_pred)
    if len(differ) == 0:
        return
    (Xi, Ci), _ = as_scaled_integers(np.asarray(X)[differ], centers)
    for row, i in enumerate(differ):
        ours_d2 = ((Xi[row] - Ci[pred[i]]) ** 2).sum()
        ref_d2 = ((Xi[row] - Ci[ref_pred[i]]) ** 2).sum()
        assert ours_d2 <= ref_d2, (
            f"point {i}: meanshift's center {pred[i]} is farther than "
            f"scikit-learn's {ref_pred[i]}"
        )
        # a tie: the first of the equally near centers, as scikit-learn
        if ours_d2 == ref_d2:
            assert pred[i] < ref_pred[i]


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
    # on scikit-learn's centers (equal to ours up to rounding when the
    # clusterings agree; the nearest of them is what its predict returns)
    assert_nearest_center(X_new, ref.cluster_centers_, pred, ref_pred)
    # predict of the training data is the labelling of fit (cluster_all)
    assert_array_equal(ours.predict(X), ours.labels_)


def test_parity_predict_other_dtype_and_list():
    X, bandwidth = blobs_2d()
    ours, ref = fit_both(X.astype(np.float32), bandwidth=bandwidth)
    X_new = np.random.RandomState(1).uniform(-8, 8, size=(100, 2))
    with oracle_context():
        ref_pred = ref.predict(X_new)
        ref_pred_list = ref.predict(X_new.tolist())
    assert_nearest_center(X_new, ref.cluster_centers_, ours.predict(X_new), ref_pred)
    assert_array_equal(ours.predict(X_new.tolist()), ours.predict(X_new))
    assert_array_equal(ref_pred_list, ref_pred)


# ---------------------------------------------------------------------------
# estimate_bandwidth
# ---------------------------------------------------------------------------


def assert_same_bandwidth(ours, ref, X, quantile=0.3):
    """meanshift's estimate against scikit-learn's on the (sampled) X.

    Where scikit-learn's neighbours come from a tree, its distances are
    sums of squared differences, as meanshift's, and the estimates are
    bit-identical: strict.  Where they come from a matrix product (brute
    force: more than 15 features, or n_neighbors >= n_samples // 2) its
    rounding depends on the BLAS kernel (a point's distance to itself is
    ~1e-8 * |x|, not 0): meanshift's estimate must then be at least as
    close to the exact estimate as scikit-learn's.  Both ways, meanshift's
    is refereed against the exact estimate."""
    X = np.asarray(X)
    assert type(ours) is np.float64
    exact = exact_bandwidth(X, quantile)
    assert_at_least_as_close(ours, ref, exact, what="estimated bandwidth")
    if not sklearn_estimate_uses_gemm(len(X), X.shape[1], quantile):
        assert ours == ref


def _subsample(X, n_samples, random_state):
    """The rows estimate_bandwidth samples, as scikit-learn draws them."""
    if n_samples is None:
        return X
    return X[check_random_state(random_state).permutation(len(X))[:n_samples]]


@pytest.mark.parametrize("quantile", [0.0, 0.01, 0.1, 0.3, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("dataset", ["blobs_2d", "blobs_5d", "blobs_16d", "moons"])
def test_parity_estimate_bandwidth(dataset, quantile, global_dtype):
    X, _ = DATASETS[dataset]()
    X = X.astype(global_dtype)
    ours = estimate_bandwidth(X, quantile=quantile)
    with oracle_context():
        ref = skc.estimate_bandwidth(X, quantile=quantile)
    assert_same_bandwidth(ours, ref, X, quantile)


@pytest.mark.parametrize("random_state", [0, 7, None])
@pytest.mark.parametrize("n_samples", [1, 2, 37, 100, 1000])
def test_parity_estimate_bandwidth_subsample(n_samples, random_state, global_dtype):
    # with 1 or 2 sampled points the k-th neighbour is the point itself:
    # the exact estimate is 0, scikit-learn's (brute force) its rounding
    X = _blobs(300, 3, 4, 1.0, 13).astype(global_dtype)
    if random_state is None:
        # the global generator: draw the same permutation for both, and
        # for the exact estimate (random_state=None means numpy's legacy
        # global RandomState, which only np.random.seed sets)
        np.random.seed(3)  # noqa: NPY002
        ours = estimate_bandwidth(X, n_samples=n_samples, random_state=None)
        np.random.seed(3)  # noqa: NPY002
        with oracle_context():
            ref = skc.estimate_bandwidth(X, n_samples=n_samples, random_state=None)
        np.random.seed(3)  # noqa: NPY002
    else:
        ours = estimate_bandwidth(X, n_samples=n_samples, random_state=random_state)
        with oracle_context():
            ref = skc.estimate_bandwidth(
                X, n_samples=n_samples, random_state=random_state
            )
    assert_same_bandwidth(ours, ref, _subsample(X, n_samples, random_state))


def test_parity_estimate_bandwidth_random_state_instance():
    X = _blobs(200, 2, 3, 1.0, 14)
    ours = estimate_bandwidth(X, n_samples=50, random_state=np.random.RandomState(5))
    with oracle_context():
        ref = skc.estimate_bandwidth(
            X, n_samples=50, random_state=np.random.RandomState(5)
        )
    assert_same_bandwidth(ours, ref, _subsample(X, 50, np.random.RandomState(5)))


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
    assert_same_bandwidth(ours, ref, X)


@pytest.mark.slow
def test_parity_estimate_bandwidth_more_than_500_points():
    # scikit-learn sums the distances in batches of 500 points
    X = _blobs(1100, 2, 3, 1.0, 15)
    ours = estimate_bandwidth(X, quantile=0.05)
    with oracle_context():
        ref = skc.estimate_bandwidth(X, quantile=0.05)
    assert_same_bandwidth(ours, ref, X, 0.05)


@pytest.mark.parametrize("X", [[[1, 1], [2, 1], [1, 0], [4, 7], [3, 5], [3, 6]]])
def test_parity_estimate_bandwidth_list_and_int(X):
    # 6 points, quantile 0.5: 3 neighbours, brute force in scikit-learn
    for data in (X, np.array(X), np.array(X, dtype=np.int32)):
        ours = estimate_bandwidth(data, quantile=0.5)
        with oracle_context():
            ref = skc.estimate_bandwidth(data, quantile=0.5)
        assert_same_bandwidth(ours, ref, np.array(X, dtype=np.float64), 0.5)


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


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("bin_size", [0.00390625, 0.0078125, 0.001, 0.1, np.float64(0.1), 1.3])
def test_get_bin_seeds_float16_divides_in_float16(seed, bin_size):
    # numpy divides float16 data by a Python float in float16: points that
    # float32 division puts in different cells share one (the fuzzer's
    # cases: other seeds, the binning fallback where there was none), and a
    # quotient beyond float16 is an infinite cell
    rng = np.random.default_rng(seed)
    X = rng.normal(scale=3.0, size=(40, 3)).astype(np.float16)
    X[::7] = X[1::7]  # some repeated rows
    for mbf in (0, 1, 2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = get_bin_seeds(X, bin_size, mbf)
            ref = skc.get_bin_seeds(X, bin_size, mbf)
        if ref is X:
            assert ours is X
        else:
            assert_same_bin_seeds(ours, ref)


def test_fit_bin_seeding_float16_as_scikit_learn():
    X = blobs_2d()[0].astype(np.float16)
    ours = MeanShift(bandwidth=0.1, bin_seeding=True, n_jobs=1).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = skc.MeanShift(bandwidth=0.1, bin_seeding=True).fit(X)
    assert ours.cluster_centers_.dtype == ref.cluster_centers_.dtype == np.float16
    assert len(ours.cluster_centers_) == len(ref.cluster_centers_)


def test_get_bin_seeds_bin_size_beyond_float64():
    # scikit-learn: OverflowError (int too large to convert to float)
    for X in (np.ones((1, 1)), np.ones((1, 0))):
        with pytest.raises(ValueError, match="bin_size=1000.* beyond the range of float64"):
            get_bin_seeds(X, 10**400)


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


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parity_many_points(dtype):
    # enough points for the fit's tree to split its top levels by sample
    # planes (_tree.top_levels): the same clustering all the same.  (Too
    # many points for check_parity's exact referee of near-ties, which is
    # Python arithmetic per point: the centers to rounding, and every label
    # the same but where a point is within rounding of two centers.)
    from meanshift import _tree
    from meanshift._work import _leaf_size

    X, _ = make_blobs(n_samples=70_000, centers=6, cluster_std=0.6, random_state=4)
    X = X.astype(dtype)
    leaf_size = _leaf_size(*X.shape, scanned=True)
    assert _tree.top_levels(len(X), _tree.tree_levels(len(X), leaf_size)) >= 1
    ours = MeanShift(bandwidth=1.0, bin_seeding=True).fit(X)
    ref = skc.MeanShift(bandwidth=1.0, bin_seeding=True).fit(X)
    assert ours.cluster_centers_.shape == ref.cluster_centers_.shape
    # (float32: scikit-learn averages in float32, we in float64; rounded
    # differently, a climb may stop one step apart: a step shorter than
    # the stop threshold, 1e-3 bandwidth)
    tol = 1e-3 if dtype == np.float32 else 1e-12
    assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=0, atol=tol)
    d = np.sqrt(((X[:, None, :].astype(np.float64) - ref.cluster_centers_[None]) ** 2).sum(-1))
    differ = ours.labels_ != ref.labels_
    # (a center moved by delta moves a point's distance to it by delta at
    # most: labels may differ only where the two nearest are that close)
    delta = np.sqrt(((ours.cluster_centers_ - ref.cluster_centers_) ** 2).sum(1)).max()
    near_tie = np.sort(d, axis=1)[:, 1] - d.min(axis=1) <= 2 * delta + 1e-6 * (1 + d.min(axis=1))
    assert not (differ & ~near_tie).any()


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
