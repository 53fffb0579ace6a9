"""The numpy reference (``specs.reference``, tests/helpers/specs/reference.py)
against scikit-learn.

With the flat kernel, no weights and nearest labels the reference must be
scikit-learn's mean shift: the same labels, centers within 1e-3 * bandwidth
(the climb's own convergence threshold) and the same ``n_iter_``, on the
data sets and parameters of ``test_parity.py``.  The features scikit-learn
lacks are then checked on hand-worked examples and against the reference's
own definitions (repeated rows, unit weights), so that the tests of
``test_weights_kernels.py`` rest on a reference that is itself tested.
"""

import warnings

import numpy as np
import pytest
import sklearn.cluster as skc
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_blobs, make_moons
from specs import reference as R
from threadpoolctl import threadpool_limits

# ---------------------------------------------------------------------------
# Data sets (X float64, bandwidth)
# ---------------------------------------------------------------------------


def _blobs(n, d, centers, std, seed):
    return make_blobs(
        n_samples=n, n_features=d, centers=centers, cluster_std=std, random_state=seed
    )[0]


DATASETS = {
    "blobs_1d": lambda: (_blobs(120, 1, [[-5.0], [0.0], [6.0]], 0.8, 0), 1.3),
    "blobs_2d": lambda: (_blobs(120, 2, [[0, 0], [5, 5], [-5, 4], [4, -5]], 0.8, 1), 1.7),
    "blobs_3d": lambda: (_blobs(120, 3, 3, 1.0, 2), 2.3),
    "moons": lambda: (make_moons(n_samples=120, noise=0.07, random_state=0)[0], 0.37),
    "anisotropic": lambda: (
        _blobs(120, 2, 3, 1.0, 170) @ np.array([[0.6, -0.6], [-0.4, 0.8]]),
        1.1,
    ),
    "with_noise": lambda: (
        np.vstack(
            [
                _blobs(100, 2, [[0, 0], [6, 6]], 0.6, 9),
                np.random.RandomState(9).uniform(-6, 12, size=(25, 2)),
            ]
        ),
        1.2,
    ),
    # integer points with multiplicities: exact ties in counts and distances
    "lattice_clumps": lambda: (
        np.random.RandomState(7).randint(0, 6, size=(120, 2)).astype(np.float64),
        1.7,
    ),
    "duplicates": lambda: (np.repeat(_blobs(50, 2, 3, 0.7, 8), 3, axis=0), 1.4),
}


def _seeds_for(X):
    # a few points, shifted, and one seed out of everyone's reach (dropped)
    seeds = X[::17] + 0.05
    return np.vstack([seeds, np.full((1, X.shape[1]), 100.0)])


def sklearn_fit(X, **params):
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Binning data failed")
        return skc.MeanShift(**params).fit(X)


def assert_reference_is_sklearn(X, bandwidth, **params):
    cluster_all = params.pop("cluster_all", True)
    sk = sklearn_fit(X, bandwidth=bandwidth, cluster_all=cluster_all, **params)
    ref = R.Reference(X, bandwidth, **params)
    labels, _ = ref.labels("nearest", cluster_all)
    assert ref.cluster_centers.shape == sk.cluster_centers_.shape
    assert ref.cluster_centers.dtype == sk.cluster_centers_.dtype
    assert_allclose(ref.cluster_centers, sk.cluster_centers_, rtol=0, atol=1e-3 * bandwidth)
    assert_array_equal(labels, sk.labels_)
    assert ref.n_iter == sk.n_iter_
    return ref, sk


# ---------------------------------------------------------------------------
# The reference is scikit-learn's algorithm
# ---------------------------------------------------------------------------


# scikit-learn's fit is slow (a Python loop over the seeds): cluster_all=False
# only where there are orphans to label -1
SKLEARN_CASES = [(name, True) for name in DATASETS] + [
    ("with_noise", False),
    ("moons", False),
]


@pytest.mark.parametrize("seeding", ["all", "bins", "seeds"])
@pytest.mark.parametrize("dataset, cluster_all", SKLEARN_CASES)
def test_reference_is_sklearn(dataset, cluster_all, seeding, global_dtype):
    X, bandwidth = DATASETS[dataset]()
    X = X.astype(global_dtype)
    params = dict(cluster_all=cluster_all)
    if seeding == "bins":
        params["bin_seeding"] = True
    elif seeding == "seeds":
        params["seeds"] = _seeds_for(X)
    ref, sk = assert_reference_is_sklearn(X, bandwidth, **params)
    if not cluster_all:
        assert (sk.labels_ == -1).any()  # orphans: the case is not vacuous


@pytest.mark.parametrize("max_iter", [0, 1, 2])
@pytest.mark.parametrize("dataset", ["blobs_2d", "moons"])
def test_reference_is_sklearn_max_iter(dataset, max_iter, global_dtype):
    X, bandwidth = DATASETS[dataset]()
    X = X.astype(global_dtype)
    ref, sk = assert_reference_is_sklearn(X, bandwidth, max_iter=max_iter)
    assert sk.n_iter_ == max_iter


@pytest.mark.parametrize("min_bin_freq", [1, 3, 6])
def test_reference_bin_seeds_are_sklearn(min_bin_freq, global_dtype):
    X, bandwidth = DATASETS["with_noise"]()
    X = X.astype(global_dtype)
    expected = skc.get_bin_seeds(X, bandwidth, min_bin_freq)
    seeds = R.bin_seeds(X, bandwidth, min_bin_freq, np.ones(len(X)))
    assert seeds.dtype == expected.dtype
    assert_array_equal(seeds, expected)
    assert_reference_is_sklearn(X, bandwidth, bin_seeding=True, min_bin_freq=min_bin_freq)


def test_reference_function_is_sklearn():
    X, bandwidth = DATASETS["blobs_2d"]()
    centers, labels = R.mean_shift(X, bandwidth, bin_seeding=True)
    with threadpool_limits(limits=1):
        sk_centers, sk_labels = skc.mean_shift(X, bandwidth=bandwidth, bin_seeding=True)
    assert_allclose(centers, sk_centers, rtol=0, atol=1e-3 * bandwidth)
    assert_array_equal(labels, sk_labels)


def test_reference_no_seed_in_reach_raises():
    X, bandwidth = DATASETS["blobs_2d"]()
    with pytest.raises(ValueError, match="No point was within bandwidth"):
        R.Reference(X, bandwidth, seeds=[[100.0, 100.0]])
    with pytest.raises(ValueError, match="No point was within bandwidth"):
        skc.MeanShift(bandwidth=bandwidth, seeds=[[100.0, 100.0]]).fit(X)


def test_reference_decisions_not_tight_on_sklearn_data():
    # the data sets above are far from every threshold (except exact ties
    # of integer data, which both decide alike); nothing to referee
    for name in ("blobs_1d", "blobs_2d", "blobs_3d", "moons", "with_noise"):
        X, bandwidth = DATASETS[name]()
        assert R.Reference(X, bandwidth).tight == [], name


# ---------------------------------------------------------------------------
# Kernels and weights: hand-worked examples
# ---------------------------------------------------------------------------


def test_reference_one_step_each_kernel():
    # 1-D points 0, 1, 3 with weights 1, 2, 1, seed at 0, bandwidth 2
    X = np.array([[0.0], [1.0], [3.0]])
    w = np.array([1.0, 2.0, 1.0])
    expected = {
        # flat: 0 and 1 in reach: (0 * 1 + 1 * 2) / (1 + 2)
        "flat": ((0 * 1 + 1 * 2) / 3, 3.0),
        # epanechnikov: k(0) = 1, k(1) = 3/4, 3 out of reach
        "epanechnikov": ((1 * 2 * 0.75) / (1 + 2 * 0.75), 1 + 2 * 0.75),
        # gaussian: reach 6, every point: k(r) = exp(-r^2 / 8)
        "gaussian": (
            (2 * np.exp(-1 / 8) + 3 * np.exp(-9 / 8))
            / (1 + 2 * np.exp(-1 / 8) + np.exp(-9 / 8)),
            1 + 2 * np.exp(-1 / 8) + np.exp(-9 / 8),
        ),
    }
    for kernel, (position, intensity) in expected.items():
        climb = R.Climb(X, w, np.array([[0.0]]), 2.0, kernel, 0, [("seed", 0)])
        assert climb.alive[0]
        assert climb.end[0, 0] == pytest.approx(position, rel=1e-15)
        assert climb.intensity[0] == pytest.approx(intensity, rel=1e-15)
        assert climb.iters[0] == 0


def test_reference_gaussian_reach_is_three_bandwidths():
    X = np.array([[0.0], [2.9], [3.1]])
    climb = R.Climb(X, np.ones(3), np.array([[0.0]]), 1.0, "gaussian", 0, [0])
    expected = 2.9 * np.exp(-(2.9**2) / 2) / (1 + np.exp(-(2.9**2) / 2))
    assert climb.end[0, 0] == pytest.approx(expected, rel=1e-15)


def test_reference_no_weight_in_reach_drops_the_seed():
    X = np.array([[0.0], [1.0], [5.0]])
    w = np.array([0.0, 1.0, 1.0])
    # epanechnikov: the point at exactly the bandwidth weighs 0
    starts = np.array([[0.5], [0.0], [2.0], [9.0]])
    climb = R.Climb(X, w, starts, 1.0, "epanechnikov", 300, [0, 1, 2, 3])
    assert_array_equal(climb.alive, [True, False, False, False])
    # flat: a zero-weight point in reach gives no weight either
    climb = R.Climb(X, w, np.array([[-0.5]]), 1.0, "flat", 300, [0])
    assert not climb.alive[0]


def test_reference_zero_weight_row_is_not_a_seed():
    X, bandwidth = DATASETS["blobs_2d"]()
    w = np.ones(len(X))
    w[[3, 50]] = 0
    ref = R.Reference(X, bandwidth, sample_weight=w)
    assert 3 not in ref.seed_row and 50 not in ref.seed_row
    assert len(ref.seed_row) == len(X) - 2


@pytest.mark.parametrize("kernel", R.KERNELS)
@pytest.mark.parametrize("seeding", ["all", "bins"])
def test_reference_integer_weights_are_repeated_rows(kernel, seeding):
    X, bandwidth = DATASETS["blobs_2d"]()
    # (weights for which no decision is within rounding: the two fits sum
    # in different orders)
    w = np.random.RandomState(3).randint(0, 4, size=len(X))
    params = dict(kernel=kernel, bin_seeding=seeding == "bins")
    weighted = R.Reference(X, bandwidth, sample_weight=w, **params)
    repeated = R.Reference(np.repeat(X, w, axis=0), bandwidth, **params)
    assert weighted.tight == [] and repeated.tight == []
    assert_allclose(weighted.cluster_centers, repeated.cluster_centers, rtol=1e-12)
    for label_by in R.LABEL_BY:
        lw, _ = weighted.labels(label_by)
        lr, _ = repeated.labels(label_by)
        assert_array_equal(np.repeat(lw, w), lr)


@pytest.mark.parametrize("kernel", R.KERNELS)
def test_reference_unit_weights_are_no_weights(kernel):
    X, bandwidth = DATASETS["moons"]()
    a = R.Reference(X, bandwidth, kernel=kernel)
    b = R.Reference(X, bandwidth, kernel=kernel, sample_weight=np.ones(len(X)))
    assert_array_equal(a.cluster_centers, b.cluster_centers)
    for label_by in R.LABEL_BY:
        assert_array_equal(a.labels(label_by)[0], b.labels(label_by)[0])


def test_reference_attractor_on_a_hand_example():
    # two groups; the point at 2.4 is nearer to the right center (3.5) but
    # its climb (bandwidth 1.5, flat) goes left: 2.4 sees 1.0, 1.2, 1.4, 2.4
    # and 3.5 ... the mean 1.9 sees 1.0 .. 3.4 and so on; the attractor
    # label follows the climb, the nearest label the distance
    X = np.array([[0.8], [1.0], [1.2], [1.4], [2.4], [3.5], [3.6]])
    ref = R.Reference(X, 1.5)
    nearest, _ = ref.labels("nearest")
    attractor, _ = ref.labels("attractor")
    centers = ref.cluster_centers[:, 0]
    assert len(centers) == 2
    left, right = np.argmin(centers), np.argmax(centers)
    assert nearest[4] == right  # 2.4 is nearer the right center
    assert attractor[4] == left  # but climbs to the left one
    assert_array_equal(attractor[[0, 1, 2, 3]], left)
    assert_array_equal(attractor[[5, 6]], right)


def test_reference_flip_changes_a_decision():
    # the flip machinery: a point exactly at the reach of the seed's first
    # step is recorded as tight, and flipping it leaves it out
    X = np.array([[0.0], [1.0], [10.0]])
    plain = R.Climb(X, np.ones(3), np.array([[0.0]]), 1.0, "flat", 0, ["s"])
    assert ("reach", "s", 0, 1) in plain.tight
    assert plain.end[0, 0] == 0.5
    flipped = R.Climb(X, np.ones(3), np.array([[0.0]]), 1.0, "flat", 0, ["s"],
                      flip={("reach", "s", 0, 1)})
    assert flipped.end[0, 0] == 0.0
