"""Parity at the edges: exact ties between centers, the type of the
stopping threshold, bin sizes below float32's normal range.

Each case is built so that the answer is decided by one rule, and checks
that rule against scikit-learn (where scikit-learn's rule is well defined)
or against the rule meanshift documents (where it is not).
"""

import numpy as np
import pytest
import sklearn.cluster as skc
from numpy.testing import assert_array_equal

import meanshift


def _tie_data():
    # 64 groups of five points (c-1, c, c, c, c+1): every group's mean is c
    # and every center has intensity 5; one extra point at 315 is exactly 5
    # from both 310 and 320
    c = 10.0 * np.arange(64)
    return np.concatenate([c - 1, c, c, c, c + 1, [c[31] + 5]])[:, None]


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_exact_tie_goes_to_the_stronger_center(n_jobs):
    X = _tie_data()
    model = meanshift.MeanShift(
        bandwidth=1.5, bin_seeding=True, min_bin_freq=2, n_jobs=n_jobs
    ).fit(X)
    centers = model.cluster_centers_.ravel()
    # equal intensities rank by coordinates, descending: 320 before 310
    i310, i320 = np.flatnonzero(centers == 310.0)[0], np.flatnonzero(centers == 320.0)[0]
    assert i320 < i310
    assert model.labels_[-1] == i320
    assert model.predict([[315.0]])[0] == i320
    # every other point: scikit-learn's labels (its kd-tree, used above
    # ~60 centers, may break the tie either way, so only the tie differs)
    ref = skc.MeanShift(bandwidth=1.5, bin_seeding=True, min_bin_freq=2).fit(X)
    assert_array_equal(model.cluster_centers_, ref.cluster_centers_)
    assert_array_equal(model.labels_[:-1], ref.labels_[:-1])
    assert ref.labels_[-1] in (i310, i320)


def test_exact_tie_with_few_centers_matches_scikit_learn():
    # below ~60 centers scikit-learn's brute force also takes the first
    # (strongest) center: the same rule, so the same label
    X = _tie_data()[np.r_[0:8, 64:72, 128:136, 192:200, 256:264]]
    X = np.concatenate([X, [[35.0]]])
    ours = meanshift.MeanShift(bandwidth=1.5, bin_seeding=True, min_bin_freq=2).fit(X)
    ref = skc.MeanShift(bandwidth=1.5, bin_seeding=True, min_bin_freq=2).fit(X)
    assert_array_equal(ours.cluster_centers_, ref.cluster_centers_)
    assert_array_equal(ours.labels_, ref.labels_)
    assert ours.cluster_centers_[ours.labels_[-1], 0] == 40.0


@pytest.mark.parametrize(
    "bandwidth, n_iter",
    [(1.0, 1), (np.float64(1.0), 1), (np.float32(1.0), 0), (1, 1)],
    ids=["float", "float64", "float32", "int"],
)
def test_stopping_threshold_follows_numpy_promotion(bandwidth, n_iter):
    # the first move is 0.0010000000237: above 1e-3 (a float64 threshold),
    # below float32(1e-3) * float32(1.0) = 0.0010000000474974513
    X = np.array([[0.0], [0.0020000000474]])
    ours = meanshift.MeanShift(bandwidth=bandwidth).fit(X)
    ref = skc.MeanShift(bandwidth=bandwidth).fit(X)
    assert ref.n_iter_ == n_iter
    assert ours.n_iter_ == n_iter
    assert_array_equal(ours.cluster_centers_, ref.cluster_centers_)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bin_size_below_float32_normal_range(dtype):
    # float32 cell indices times a bin size of 1.3e-39 (subnormal in
    # float32): numpy's float32 product, imprecise but not zero
    X = np.array([[1e-39, 2e-39], [3e-39, 1e-39], [1.1e-39, 2.1e-39]], dtype=dtype)
    ours = meanshift.get_bin_seeds(X, 1.3e-39)
    ref = skc.get_bin_seeds(X, 1.3e-39)
    assert ours.dtype == ref.dtype == np.float32
    assert_array_equal(ours, ref)


def test_bin_size_whose_float32_product_underflows_uses_float64():
    # here the float32 product is 0 for a non-zero cell: the documented
    # float64 fallback
    X = np.array([[1e-300], [1.1e-300], [5e-300]])
    seeds = meanshift.get_bin_seeds(X, 1e-300)
    assert seeds.dtype == np.float64
    assert_array_equal(seeds, [[1e-300], [5e-300]])
