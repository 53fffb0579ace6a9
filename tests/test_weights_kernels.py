"""Sample weights, kernels and attractor labels (issue 10).

scikit-learn has none of these, so the oracle is the plain numpy reference
of their definitions, ``specs.reference`` (tests/helpers/specs/reference.py,
itself checked against scikit-learn in ``tests/test_reference.py``); its
module docstring states the definitions and the reading taken wherever the
issue leaves room.

Comparisons with the reference are refereed, never exact where rounding
could decide: centers must agree within 1e-6 * bandwidth (float64; a few
float32 ulps for float32), labels must be among those the reference accepts
for each point (ties within the center tolerance accept any of the tied
labels), and where the reference finds a decision of the climb, the
ranking or the suppression within rounding of its threshold, the outcome
with that decision taken the other way is accepted too.  Comparisons of
meanshift with itself (unit weights, threads, weights scaled by two) are
bit for bit.

Weights are multiples of 1/32, exactly representable in float32 and
float64, so float32 data give the same results whether the weights are
held in float32 (as scikit-learn's ``_check_sample_weight`` casts them) or
in float64, and sums of weights (bin seeding's cell weights) are exact.
"""

import warnings
from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_circles, make_moons
from sklearn.metrics import adjusted_rand_score
from sklearn.utils._param_validation import InvalidParameterError
from specs import reference as R
from specs.oracle import assert_bitwise_same
from threadpoolctl import threadpool_limits

from meanshift import MeanShift, mean_shift

KERNELS = R.KERNELS
LABEL_BY = R.LABEL_BY
WEIGHTS = ("none", "unit", "int", "real", "zeros")
SEEDINGS = ("all", "bins", "seeds")

# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


def _blobs(n, d, centers, std, seed):
    return make_blobs(
        n_samples=n, n_features=d, centers=centers, cluster_std=std, random_state=seed
    )[0]


@cache
def dataset(name):
    """(X float64, {kernel: bandwidth}); read-only arrays."""
    if name == "1d":
        X = _blobs(60, 1, [[-4.0], [0.0], [5.0]], 0.7, 3)
        bandwidths = {"flat": 1.2, "epanechnikov": 1.5, "gaussian": 0.6}
    elif name == "2d":  # three blobs and uniform noise: orphans
        X = np.vstack(
            [
                _blobs(100, 2, [[0, 0], [6, 6], [-5, 5]], 0.7, 9),
                np.random.RandomState(9).uniform(-7, 10, size=(20, 2)),
            ]
        )
        bandwidths = {"flat": 1.3, "epanechnikov": 1.6, "gaussian": 0.6}
    elif name == "3d":
        X = _blobs(90, 3, 3, 1.0, 2)
        bandwidths = {"flat": 2.3, "epanechnikov": 2.8, "gaussian": 1.0}
    elif name == "moons":
        X = make_moons(n_samples=80, noise=0.07, random_state=1)[0]
        bandwidths = {"flat": 0.4, "epanechnikov": 0.5, "gaussian": 0.15}
    else:
        raise KeyError(name)
    X.setflags(write=False)
    return X, bandwidths


def make_weights(kind, n, seed=0):
    """None, or weights of the kind: multiples of 1/32 (see the module
    docstring); "zeros" has about a fifth of its rows at 0."""
    rng = np.random.RandomState(seed + n)
    if kind == "none":
        return None
    if kind == "unit":
        return np.ones(n)
    if kind == "int":
        return rng.randint(1, 5, size=n).astype(np.float64)
    if kind == "real":
        return rng.randint(1, 97, size=n) / 32
    if kind == "zeros":
        w = rng.randint(1, 97, size=n) / 32
        w[rng.rand(n) < 0.2] = 0.0
        return w
    raise KeyError(kind)


def explicit_seeds(X):
    # some points, shifted, and a seed no kernel reaches (it is dropped)
    return np.vstack([X[::9] + 0.1, np.full((1, X.shape[1]), 100.0)])


def case(name, kernel, weights, dtype, seeding):
    """(X, bandwidth, params shared by meanshift and the reference)."""
    X, bandwidths = dataset(name)
    X = X.astype(dtype)
    params = dict(kernel=kernel, sample_weight=make_weights(weights, len(X)))
    if seeding == "bins":
        params["bin_seeding"] = True
    elif seeding == "seeds":
        params["seeds"] = explicit_seeds(X)
    return X, bandwidths[kernel], params


@cache
def reference_case(name, kernel, weights, dtype_name, seeding):
    X, bandwidth, params = case(name, kernel, weights, np.dtype(dtype_name), seeding)
    return R.Reference(X, bandwidth, **params)


# ---------------------------------------------------------------------------
# Refereed comparison with the reference
# ---------------------------------------------------------------------------


def center_tol(X, bandwidth):
    """1e-6 * bandwidth; for float32 data at least 4 ulps of the largest
    coordinate (a float32 mean may round the other way)."""
    X = np.asarray(X)
    tol = 1e-6 * bandwidth
    if X.dtype == np.float32:
        tol = max(tol, 4 * float(np.spacing(np.abs(X).max().astype(np.float32))))
    return tol


def mismatch(ref, centers, labels, n_iter, label_by, cluster_all, tol):
    """None if (centers, labels, n_iter) is the reference's outcome, else
    what differs."""
    if centers.dtype != ref.cluster_centers.dtype:
        return f"centers dtype {centers.dtype}, expected {ref.cluster_centers.dtype}"
    if centers.shape != ref.cluster_centers.shape:
        return (
            f"{len(centers)} centers, expected {len(ref.cluster_centers)}:\n"
            f"{centers}\nexpected\n{ref.cluster_centers}"
        )
    err = np.abs(centers.astype(np.float64) - ref.cluster_centers).max(initial=0)
    if not err <= tol:
        return (
            f"centers differ by {err:.3g} > {tol:.3g}:\n{centers}\nexpected\n"
            f"{ref.cluster_centers}"
        )
    if n_iter is not None and n_iter != ref.n_iter:
        return f"n_iter_ {n_iter}, expected {ref.n_iter}"
    expected, ok = ref.labels(label_by, cluster_all, tol)
    labels = np.asarray(labels)
    if labels.shape != expected.shape:
        return f"labels shape {labels.shape}, expected {expected.shape}"
    if labels.min(initial=0) < (0 if cluster_all else -1) or labels.max(
        initial=0
    ) >= len(centers):
        return f"labels out of range: {np.unique(labels)}"
    column = np.where(labels < 0, ok.shape[1] - 1, labels)
    bad = np.flatnonzero(~ok[np.arange(len(labels)), column])
    if len(bad):
        return (
            f"{len(bad)} labels differ, rows {bad[:10]}: {labels[bad[:10]]}, "
            f"expected {expected[bad[:10]]}"
        )
    return None


def assert_matches_reference(
    X, bandwidth, centers, labels, n_iter, *, label_by="nearest", cluster_all=True,
    base=None, **params
):
    """The fit is the reference's, or one of the outcomes the reference's
    decisions within rounding allow (see specs/reference.py)."""
    tol = center_tol(X, bandwidth)
    if base is None:
        base = R.Reference(X, bandwidth, **params)
    first = mismatch(base, centers, labels, n_iter, label_by, cluster_all, tol)
    if first is None:
        return base
    if base.tight:
        for ref in R.outcomes(X, bandwidth, **params):
            if mismatch(ref, centers, labels, n_iter, label_by, cluster_all, tol) is None:
                return ref
    raise AssertionError(first)


def fit(X, bandwidth, sample_weight=None, **params):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Binning data failed")
        return MeanShift(bandwidth=bandwidth, **params).fit(X, sample_weight=sample_weight)


# ---------------------------------------------------------------------------
# Every definition against the reference
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cluster_all", [True, False])
@pytest.mark.parametrize("label_by", LABEL_BY)
@pytest.mark.parametrize("seeding", SEEDINGS)
@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("name", ["1d", "2d", "3d"])
def test_matches_reference(name, kernel, weights, seeding, label_by, cluster_all, global_dtype):
    X, bandwidth, params = case(name, kernel, weights, global_dtype, seeding)
    base = reference_case(name, kernel, weights, np.dtype(global_dtype).name, seeding)
    model = fit(X, bandwidth, label_by=label_by, cluster_all=cluster_all, **params)
    assert model.cluster_centers_.dtype == global_dtype
    assert_matches_reference(
        X,
        bandwidth,
        model.cluster_centers_,
        model.labels_,
        model.n_iter_,
        label_by=label_by,
        cluster_all=cluster_all,
        base=base,
        **params,
    )


def test_reference_cases_are_not_vacuous():
    # the matrix above exercises what it claims: several clusters, orphans
    # in 2d, dropped seeds, zero-weight rows, attractor labels that differ
    # from nearest labels, bin seeding without scikit-learn's fallback
    differ = 0
    for name in ("1d", "2d", "3d"):
        for kernel in KERNELS:
            ref = reference_case(name, kernel, "zeros", "float64", "seeds")
            assert len(ref.cluster_centers) >= 2, (name, kernel)
            assert not ref.climb.alive[-1]  # the far seed was dropped
            bins = reference_case(name, kernel, "real", "float64", "bins")
            assert (bins.seed_row == -1).all()  # cells, not points
            assert len(bins.seed_row) < len(bins.X)  # no fallback to the points
            for seeding in SEEDINGS:
                ref = reference_case(name, kernel, "zeros", "float64", seeding)
                differ += (ref.labels("attractor")[0] != ref.labels("nearest")[0]).sum()
        ref = reference_case(name, "flat", "none", "float64", "all")
        if name == "2d":
            assert (ref.labels("nearest", cluster_all=False)[0] == -1).any()
    assert differ >= 10


@pytest.mark.parametrize("max_iter", [0, 1, 3])
@pytest.mark.parametrize("label_by", LABEL_BY)
@pytest.mark.parametrize("kernel", KERNELS)
def test_max_iter_matches_reference(kernel, label_by, max_iter):
    X, bandwidth, params = case("2d", kernel, "zeros", np.float64, "all")
    model = fit(X, bandwidth, label_by=label_by, max_iter=max_iter, **params)
    assert model.n_iter_ == max_iter
    assert_matches_reference(
        X, bandwidth, model.cluster_centers_, model.labels_, model.n_iter_,
        label_by=label_by, max_iter=max_iter, **params,
    )


@pytest.mark.parametrize("min_bin_freq", [2, 3, 5])
@pytest.mark.parametrize("weights", ["none", "int", "real", "zeros"])
@pytest.mark.parametrize("kernel", KERNELS)
def test_min_bin_freq_weighs_cells(kernel, weights, min_bin_freq):
    # a cell's weight is the sum of its rows' weights, compared with
    # min_bin_freq (>=); zero-weight rows add nothing
    X, bandwidth, params = case("2d", kernel, weights, np.float64, "bins")
    model = fit(X, bandwidth, min_bin_freq=min_bin_freq, label_by="attractor", **params)
    assert_matches_reference(
        X, bandwidth, model.cluster_centers_, model.labels_, model.n_iter_,
        label_by="attractor", min_bin_freq=min_bin_freq, **params,
    )


def test_mean_shift_function_is_the_estimator(global_dtype):
    X, bandwidth, params = case("2d", "epanechnikov", "zeros", global_dtype, "bins")
    for label_by in LABEL_BY:
        centers, labels = mean_shift(
            X, bandwidth=bandwidth, label_by=label_by, cluster_all=False, **params
        )
        model = fit(X, bandwidth, label_by=label_by, cluster_all=False, **params)
        assert_array_equal(centers, model.cluster_centers_)
        assert_array_equal(labels, model.labels_)


def test_weights_as_list_and_series():
    import pandas as pd

    X, bandwidth, params = case("2d", "gaussian", "real", np.float64, "all")
    w = params.pop("sample_weight")
    expected = fit(X, bandwidth, sample_weight=w, **params)
    for as_given in (w.tolist(), pd.Series(w), w.astype(np.float32), np.asfortranarray(w)):
        assert_bitwise_same(fit(X, bandwidth, sample_weight=as_given, **params), expected)
    # a scalar weight is every row's weight, as scikit-learn's
    # _check_sample_weight has it
    assert_bitwise_same(
        fit(X, bandwidth, sample_weight=2.0, **params),
        fit(X, bandwidth, sample_weight=np.full(len(X), 2.0), **params),
    )
    # the caller's array is not modified
    before = w.copy()
    fit(X, bandwidth, sample_weight=w, **params)
    assert_array_equal(w, before)


# ---------------------------------------------------------------------------
# Integer weights are repeated rows
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("label_by", LABEL_BY)
@pytest.mark.parametrize("seeding", ["all", "bins"])
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("name", ["1d", "2d", "3d", "moons"])
def test_integer_weights_are_repeated_rows(name, kernel, seeding, label_by):
    X, bandwidths = dataset(name)
    bandwidth = bandwidths[kernel]
    w = np.random.RandomState(len(X) + 2).randint(0, 4, size=len(X))
    rows = np.repeat(np.arange(len(X)), w)
    params = dict(kernel=kernel, bin_seeding=seeding == "bins", label_by=label_by)
    weighted = fit(X, bandwidth, sample_weight=w, **params)
    repeated = fit(X[rows], bandwidth, **params)
    # both are one clustering up to the order of summation; the data are
    # chosen so that the reference takes no decision within rounding
    # there, which makes that rounding irrelevant to the outcome
    ref_params = {k: v for k, v in params.items() if k != "label_by"}
    assert R.Reference(X, bandwidth, sample_weight=w, **ref_params).tight == []
    assert R.Reference(X[rows], bandwidth, **ref_params).tight == []
    assert_allclose(
        weighted.cluster_centers_, repeated.cluster_centers_, rtol=1e-9, atol=1e-9 * bandwidth
    )
    assert_array_equal(weighted.labels_[rows], repeated.labels_)
    assert weighted.n_iter_ == repeated.n_iter_
    # and the same through predict
    X_new = np.random.RandomState(0).uniform(X.min(0) - 1, X.max(0) + 1, size=(50, X.shape[1]))
    assert_array_equal(weighted.predict(X_new), repeated.predict(X_new))


# ---------------------------------------------------------------------------
# Unit weights, weights scaled by two, threads: bit for bit
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("label_by", LABEL_BY)
@pytest.mark.parametrize("seeding", SEEDINGS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_unit_weights_are_no_weights(kernel, seeding, label_by, global_dtype):
    X, bandwidth, params = case("2d", kernel, "none", global_dtype, seeding)
    params.pop("sample_weight")
    params.update(label_by=label_by, cluster_all=False)
    none = fit(X, bandwidth, **params)
    for ones in (np.ones(len(X)), np.ones(len(X), dtype=np.float32), [1] * len(X)):
        assert_bitwise_same(fit(X, bandwidth, sample_weight=ones, **params), none)
    X_new = np.random.RandomState(1).uniform(-8, 11, size=(40, 2)).astype(global_dtype)
    unit = fit(X, bandwidth, sample_weight=np.ones(len(X)), **params)
    assert_array_equal(unit.predict(X_new), none.predict(X_new))


@pytest.mark.parametrize("label_by", LABEL_BY)
@pytest.mark.parametrize("seeding", ["all", "seeds"])
@pytest.mark.parametrize("kernel", ["flat", "epanechnikov"])
def test_weights_times_two_bit_identical(kernel, seeding, label_by, global_dtype):
    # sum(2 w k x) / sum(2 w k) is exactly sum(w k x) / sum(w k), and
    # intensities double exactly: nothing changes, bit for bit (not with
    # bin seeding: cell weights are compared with min_bin_freq)
    X, bandwidth, params = case("2d", kernel, "zeros", global_dtype, seeding)
    w = params.pop("sample_weight")
    a = fit(X, bandwidth, sample_weight=w, label_by=label_by, **params)
    b = fit(X, bandwidth, sample_weight=2.0 * w, label_by=label_by, **params)
    assert_bitwise_same(a, b)


def _thread_data(dtype):
    X = _blobs(1500, 2, [[0, 0], [5, 5], [-5, 4], [4, -5], [0, 8]], 1.0, 0)
    X = np.vstack([X, np.random.RandomState(0).uniform(-9, 12, size=(150, 2))])
    return X.astype(dtype)


@pytest.mark.parametrize("label_by", LABEL_BY)
@pytest.mark.parametrize("weights", ["none", "real", "zeros"])
@pytest.mark.parametrize("seeding", ["all", "bins"])
@pytest.mark.parametrize(
    "kernel", [pytest.param(k, marks=pytest.mark.slow) if k == "gaussian" else k for k in KERNELS]
)
def test_n_jobs_bit_identical(kernel, seeding, weights, label_by, global_dtype):
    X = _thread_data(global_dtype)
    bandwidth = {"flat": 1.2, "epanechnikov": 1.5, "gaussian": 0.5}[kernel]
    params = dict(
        kernel=kernel,
        bin_seeding=seeding == "bins",
        label_by=label_by,
        cluster_all=False,
        sample_weight=make_weights(weights, len(X)),
    )
    reference = fit(X, bandwidth, n_jobs=1, **params)
    assert len(reference.cluster_centers_) > 1
    X_new = np.random.RandomState(2).uniform(-10, 13, size=(500, 2)).astype(global_dtype)
    predicted = reference.predict(X_new)
    for n_jobs in (2, -1, None):
        model = fit(X, bandwidth, n_jobs=n_jobs, **params)
        assert_bitwise_same(model, reference)
        assert_array_equal(model.predict(X_new), predicted)
    with threadpool_limits(limits=1, user_api="openmp"):
        assert_bitwise_same(fit(X, bandwidth, n_jobs=2, **params), reference)


# ---------------------------------------------------------------------------
# Zero weights
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("label_by", LABEL_BY)
@pytest.mark.parametrize("seeding", ["all", "bins"])
@pytest.mark.parametrize("kernel", KERNELS)
def test_zero_weight_rows_are_labelled_but_not_seeds_nor_density(kernel, seeding, label_by):
    X, bandwidths = dataset("2d")
    bandwidth = bandwidths[kernel]
    w = make_weights("real", len(X))
    # rows of weight 0: far away (a seed there would make a cluster of its
    # own), inside a blob (they would pull its center), on a blob's edge
    extra = np.array([[40.0, 40.0], [40.5, 40.0], [0.3, -0.2], [6.6, 6.1], [-5.0, 6.4]])
    X_all = np.vstack([X, extra])
    w_all = np.concatenate([w, np.zeros(len(extra))])
    params = dict(kernel=kernel, bin_seeding=seeding == "bins", label_by=label_by)
    with_zeros = fit(X_all, bandwidth, sample_weight=w_all, **params)
    without = fit(X, bandwidth, sample_weight=w, **params)
    # the same clustering up to the order of summation
    assert R.Reference(X, bandwidth, sample_weight=w, kernel=kernel,
                       bin_seeding=seeding == "bins").tight == []
    assert_allclose(
        with_zeros.cluster_centers_, without.cluster_centers_, rtol=1e-9,
        atol=1e-9 * bandwidth,
    )
    assert_array_equal(with_zeros.labels_[: len(X)], without.labels_)
    # every zero-weight row has a label: the reference's
    labels = with_zeros.labels_[len(X):]
    assert (labels >= 0).all()
    assert_matches_reference(
        X_all, bandwidth, with_zeros.cluster_centers_, with_zeros.labels_,
        with_zeros.n_iter_, label_by=label_by, sample_weight=w_all, kernel=kernel,
        bin_seeding=seeding == "bins",
    )
    # far rows: no weight in reach, nearest center to the row; with
    # cluster_all=False they are orphans
    orphans = fit(X_all, bandwidth, sample_weight=w_all, cluster_all=False, **params)
    assert_array_equal(orphans.labels_[len(X) : len(X) + 2], -1)


@pytest.mark.parametrize("kernel", KERNELS)
def test_all_weight_zero_but_one_cluster(kernel):
    # only the rows of one blob weigh: one cluster, every row labelled
    X, bandwidths = dataset("2d")
    w = np.zeros(len(X))
    w[:30] = 1.0
    model = fit(X, bandwidths[kernel], sample_weight=w, kernel=kernel)
    ref = R.Reference(X, bandwidths[kernel], sample_weight=w, kernel=kernel)
    assert len(ref.cluster_centers) >= 1
    assert_matches_reference(
        X, bandwidths[kernel], model.cluster_centers_, model.labels_, model.n_iter_,
        sample_weight=w, kernel=kernel,
    )


# ---------------------------------------------------------------------------
# Bad arguments
# ---------------------------------------------------------------------------


def _bad_weights(n):
    return {
        "short": np.ones(n - 1),
        "long": np.ones(n + 1),
        "nan": np.where(np.arange(n) == 3, np.nan, 1.0),
        "inf": np.where(np.arange(n) == 3, np.inf, 1.0),
        "negative": np.where(np.arange(n) == 3, -1.0, 1.0),
        "two_d": np.ones((n, 1)),
        "two_d_row": np.ones((1, n)),
        "all_zero": np.zeros(n),
    }


@pytest.mark.parametrize("how", ["fit", "fit_predict", "function"])
@pytest.mark.parametrize("bad", list(_bad_weights(10)))
def test_bad_sample_weight_rejected(bad, how):
    X, _ = dataset("2d")
    X = np.asarray(X)[:10]
    w = _bad_weights(len(X))[bad]
    with pytest.raises(ValueError, match=r"(?i)sample.?weight|weights"):
        if how == "fit":
            MeanShift(bandwidth=2.0).fit(X, sample_weight=w)
        elif how == "fit_predict":
            MeanShift(bandwidth=2.0).fit_predict(X, sample_weight=w)
        else:
            mean_shift(X, bandwidth=2.0, sample_weight=w)


@pytest.mark.parametrize("value",
                         ["Flat", "uniform", "gauss", "", " flat", None, 1, 1.0, ["flat"]])
def test_bad_kernel_rejected(value):
    X, _ = dataset("2d")
    model = MeanShift(bandwidth=2.0, kernel=value)  # checked in fit, as sklearn
    with pytest.raises(InvalidParameterError, match="kernel"):
        model.fit(X)
    with pytest.raises(InvalidParameterError, match="kernel"):
        mean_shift(X, bandwidth=2.0, kernel=value)


@pytest.mark.parametrize("value",
                         ["Nearest", "attractors", "mode", "", None, 0, True, ("nearest",)])
def test_bad_label_by_rejected(value):
    X, _ = dataset("2d")
    model = MeanShift(bandwidth=2.0, label_by=value)
    with pytest.raises(InvalidParameterError, match="label_by"):
        model.fit(X)
    with pytest.raises(InvalidParameterError, match="label_by"):
        mean_shift(X, bandwidth=2.0, label_by=value)


def test_invalid_parameter_error_is_a_value_error():
    assert issubclass(InvalidParameterError, ValueError)


# ---------------------------------------------------------------------------
# Attractor labels
# ---------------------------------------------------------------------------


def _moons():
    return make_moons(n_samples=200, noise=0.06, random_state=0)


def _circles():
    return make_circles(n_samples=200, factor=0.4, noise=0.05, random_state=0)


def _anisotropic():
    X, y = make_blobs(n_samples=200, centers=3, random_state=170)
    return X @ np.array([[0.6, -0.6], [-0.4, 0.8]]), y


# (data, kernel, bandwidth as a fraction of the data's widest extent, the
# reference's ARI of attractor and of nearest labels): chosen where the
# reference shows the gain on this data and on the same generator with
# other random states and nearby bandwidths
ATTRACTOR_CASES = {
    "moons-flat": (_moons, "flat", 0.2),
    "moons-epanechnikov": (_moons, "epanechnikov", 0.24),
    "moons-gaussian": (_moons, "gaussian", 0.1),
    "circles-flat": (_circles, "flat", 0.2),
    "circles-epanechnikov": (_circles, "epanechnikov", 0.22),
    "anisotropic-flat": (_anisotropic, "flat", 0.1),
    "anisotropic-epanechnikov": (_anisotropic, "epanechnikov", 0.08),
}


@pytest.mark.parametrize("name", list(ATTRACTOR_CASES))
def test_attractor_labels_follow_the_shape(name):
    make, kernel, fraction = ATTRACTOR_CASES[name]
    X, y = make()
    bandwidth = fraction * np.ptp(X, axis=0).max()
    nearest = fit(X, bandwidth, kernel=kernel, label_by="nearest")
    attractor = fit(X, bandwidth, kernel=kernel, label_by="attractor")
    assert_array_equal(attractor.cluster_centers_, nearest.cluster_centers_)
    gain = adjusted_rand_score(y, attractor.labels_) - adjusted_rand_score(y, nearest.labels_)
    assert gain >= 0.05, f"ARI gain {gain:.3f}"
    for model, label_by in ((nearest, "nearest"), (attractor, "attractor")):
        assert_matches_reference(
            X, bandwidth, model.cluster_centers_, model.labels_, model.n_iter_,
            label_by=label_by, kernel=kernel,
        )


def test_attractor_hand_example():
    # the point at 2.4 is nearer the right center but climbs to the left
    X = np.array([[0.8], [1.0], [1.2], [1.4], [2.4], [3.5], [3.6]])
    model = fit(X, 1.5, label_by="attractor")
    nearest = fit(X, 1.5)
    centers = model.cluster_centers_[:, 0]
    left, right = np.argmin(centers), np.argmax(centers)
    assert_array_equal(model.labels_, [left] * 5 + [right] * 2)
    assert nearest.labels_[4] == right


@pytest.mark.parametrize("seeding", SEEDINGS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_predict_attractor(kernel, seeding, global_dtype):
    X, bandwidth, params = case("2d", kernel, "zeros", global_dtype, seeding)
    model = fit(X, bandwidth, label_by="attractor", cluster_all=False, **params)
    ref = assert_matches_reference(
        X, bandwidth, model.cluster_centers_, model.labels_, model.n_iter_,
        label_by="attractor", cluster_all=False, **params,
    )
    rng = np.random.RandomState(3)
    # new points: anywhere (some with no weight in reach), and the rows
    X_new = np.vstack([rng.uniform(-12, 14, size=(150, 2)), X[:20]]).astype(global_dtype)
    pred = model.predict(X_new)
    assert pred.min() >= 0  # predict never gives -1
    expected, ok = ref.predict(X_new, "attractor", center_tol(X, bandwidth))
    bad = np.flatnonzero(~ok[np.arange(len(X_new)), pred])
    assert len(bad) == 0, f"rows {bad}: {pred[bad]}, expected {expected[bad]}"
    # not vacuous: some new points climb to a center that is not their
    # nearest
    assert (expected != ref.predict(X_new, "nearest")[0]).any()


@pytest.mark.parametrize("kernel", KERNELS)
def test_predict_nearest_with_weights(kernel):
    X, bandwidth, params = case("2d", kernel, "real", np.float64, "all")
    model = fit(X, bandwidth, **params)
    X_new = np.random.RandomState(4).uniform(-12, 14, size=(200, 2))
    ref = R.Reference(X, bandwidth, **params)
    expected, ok = ref.predict(X_new, "nearest")
    pred = model.predict(X_new)
    assert ok[np.arange(len(X_new)), pred].all()
    assert_array_equal(model.predict(X), model.labels_)  # no orphans asked


# ---------------------------------------------------------------------------
# Estimator API
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("label_by", LABEL_BY)
@pytest.mark.parametrize("kernel", KERNELS)
def test_fit_predict_with_weights(kernel, label_by):
    X, bandwidth, params = case("2d", kernel, "zeros", np.float64, "bins")
    w = params.pop("sample_weight")
    est = MeanShift(bandwidth=bandwidth, label_by=label_by, cluster_all=False, **params)
    labels = est.fit_predict(X, sample_weight=w)
    assert_array_equal(labels, clone(est).fit(X, sample_weight=w).labels_)
    assert_array_equal(labels, est.labels_)
    # y is accepted and ignored, positionally too
    assert_array_equal(est.fit_predict(X, None, sample_weight=w), labels)
    assert_array_equal(est.fit(X, None, w).labels_, labels)


def test_params_kernel_and_label_by():
    params = MeanShift().get_params()
    assert params["kernel"] == "flat"
    assert params["label_by"] == "nearest"
    est = MeanShift(bandwidth=1.5, kernel="gaussian", label_by="attractor")
    cloned = clone(est)
    assert cloned.get_params() == est.get_params()
    assert cloned.kernel == "gaussian" and cloned.label_by == "attractor"
    assert "kernel='gaussian'" in repr(est) and "label_by='attractor'" in repr(est)
    est.set_params(kernel="epanechnikov", label_by="nearest")
    assert est.get_params()["kernel"] == "epanechnikov"
    assert est.get_params()["label_by"] == "nearest"
    # the defaults are scikit-learn's mean shift, bit for bit
    X, bandwidth, _ = case("2d", "flat", "none", np.float64, "all")
    assert_bitwise_same(
        MeanShift(bandwidth=bandwidth, kernel="flat", label_by="nearest").fit(X),
        MeanShift(bandwidth=bandwidth).fit(X),
    )


def test_pickle_and_predict_after_attractor_fit():
    import pickle

    X, bandwidth, params = case("2d", "epanechnikov", "real", np.float64, "bins")
    model = fit(X, bandwidth, label_by="attractor", **params)
    X_new = np.random.RandomState(5).uniform(-8, 11, size=(60, 2))
    again = pickle.loads(pickle.dumps(model))
    assert_array_equal(again.predict(X_new), model.predict(X_new))
    assert_array_equal(again.labels_, model.labels_)


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

SETTINGS = dict(
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def weighted_problems(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(5, 40))
    d = draw(st.integers(1, 3))
    rng = np.random.RandomState(seed)
    k = rng.randint(1, 4)
    centers = rng.uniform(-6, 6, size=(k, d))
    X = centers[rng.randint(k, size=n)] + rng.normal(scale=rng.uniform(0.3, 1.5), size=(n, d))
    w = rng.randint(0, 65, size=n) / 16
    w[rng.randint(n)] = 1.0  # some weight
    bandwidth = float(rng.uniform(0.5, 3.0))
    kernel = draw(st.sampled_from(KERNELS))
    label_by = draw(st.sampled_from(LABEL_BY))
    seeding = draw(st.sampled_from(["all", "seeds"]))
    params = dict(kernel=kernel, label_by=label_by, cluster_all=draw(st.booleans()))
    if seeding == "seeds":
        params["seeds"] = X[rng.randint(n, size=min(n, 6))] + 0.05
    return X, w, bandwidth, params


def _ref_params(params):
    return {k: v for k, v in params.items() if k not in ("label_by", "cluster_all")}


@settings(**SETTINGS)
@given(problem=weighted_problems(), exponent=st.integers(-3, 3))
def test_property_weights_times_power_of_two(problem, exponent):
    # scaling every weight by 2**k scales every sum exactly: flat and
    # epanechnikov results are bit-identical
    X, w, bandwidth, params = problem
    assume(params["kernel"] in ("flat", "epanechnikov"))
    try:
        a = fit(X, bandwidth, sample_weight=w, **params)
    except ValueError:  # every seed out of reach
        return
    b = fit(X, bandwidth, sample_weight=np.ldexp(w, exponent), **params)
    assert_bitwise_same(a, b)


@settings(**SETTINGS)
@given(problem=weighted_problems(), factor=st.floats(0.01, 100.0))
def test_property_weights_times_constant(problem, factor):
    # any positive factor: the same clustering up to rounding, on the
    # problems where the reference takes no decision within rounding.  The
    # weights are sixteenths, so centers can tie exactly in intensity; the
    # rounded products w * factor break such ties either way, so the
    # centers may come in another order: matched one to one, and the
    # labels compared through that matching
    X, w, bandwidth, params = problem
    try:
        ref = R.Reference(X, bandwidth, sample_weight=w, **_ref_params(params))
    except ValueError:
        return
    # nor has centers of exactly equal intensity whose order decides which
    # are kept: w * factor rounds, and rounding breaks such ties either way
    assume(ref.tight == [] and ref.exact_ties == [])
    a = fit(X, bandwidth, sample_weight=w, **params)
    b = fit(X, bandwidth, sample_weight=w * factor, **params)
    assert a.cluster_centers_.shape == b.cluster_centers_.shape
    # kept centers are more than a bandwidth apart: the nearest is the match
    d2 = ((a.cluster_centers_[:, None, :] - b.cluster_centers_[None]) ** 2).sum(axis=2)
    match = d2.argmin(axis=1)  # a's center i is b's center match[i]
    assert_array_equal(np.sort(match), np.arange(len(match)))
    assert_allclose(a.cluster_centers_, b.cluster_centers_[match], rtol=1e-9,
                    atol=1e-9 * bandwidth)
    a_of_b = np.empty(len(match) + 1, dtype=np.intp)
    a_of_b[match] = np.arange(len(match))
    a_of_b[-1] = -1  # label -1 (cluster_all=False) stays -1
    assert_array_equal(a.labels_, a_of_b[b.labels_])
    assert a.n_iter_ == b.n_iter_
    # and both are the reference's
    assert_matches_reference(
        X, bandwidth, a.cluster_centers_, a.labels_, a.n_iter_,
        label_by=params["label_by"], cluster_all=params["cluster_all"], base=ref,
        sample_weight=w, **_ref_params(params),
    )


def test_weighted_bandwidth_estimate_subsamples_the_weights_too():
    # the estimate on n_samples rows uses those rows' own weights: the same
    # value as the estimate on the subsample given directly
    from meanshift import estimate_bandwidth
    from meanshift._api import _estimate_bandwidth

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 2))
    w = rng.integers(1, 4, 500).astype(float)
    idx = np.random.RandomState(0).permutation(500)[:200]
    sub = _estimate_bandwidth(X, quantile=0.3, n_samples=200, random_state=0,
                              n_threads=1, weights=w)
    direct = _estimate_bandwidth(X[idx], quantile=0.3, n_samples=None, random_state=0,
                                 n_threads=1, weights=w[idx])
    assert sub == direct
    # and that of the rows repeated by their weights
    rep = np.repeat(X[idx], w[idx].astype(int), axis=0)
    assert np.isclose(sub, estimate_bandwidth(rep), rtol=1e-12)


def test_predict_follows_the_last_fit_not_later_params():
    # predict uses what the last fit used: a refit with nearest labels
    # drops the attractor state, and changing kernel after an attractor fit
    # does not change how predict climbs
    X, _ = make_moons(300, noise=0.06, random_state=0)
    new = np.array([[0.5, 0.25], [1.0, -0.4], [-0.8, 0.6], [1.9, 0.4]])
    model = MeanShift(bandwidth=0.3, kernel="gaussian", label_by="attractor").fit(X)
    attractor = model.predict(new)
    model.set_params(kernel="flat")
    assert_array_equal(model.predict(new), attractor)
    model.set_params(label_by="nearest").fit(X)
    nearest = MeanShift(bandwidth=0.3, kernel="flat").fit(X)
    assert_array_equal(model.predict(new), nearest.predict(new))


# ---------------------------------------------------------------------------
# Extreme weights: scaled exactly by a power of two, or refused
# ---------------------------------------------------------------------------

X4 = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])


@pytest.mark.sanitize
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize(
    "scale, seeding",
    # (bin seeding with weights below 1: the cells weigh less than
    # min_bin_freq=1, see test_bin_seeding_min_bin_freq_with_huge_weights)
    [(s, "all") for s in (2.0**1000, 2.0**1021, 2.0**-1000, 2.0**-1074)]
    + [(s, "bins") for s in (2.0**1000, 2.0**1021)],
)
def test_weights_near_the_float_range_are_scaled_exactly(kernel, scale, seeding):
    # weights of 2**1021 add up past float64's range and the smallest
    # subnormal weight has one bit: unscaled, the sums overflowed or lost
    # the points (one cluster, or centers (0, 0) and (5, 5)).  Every
    # weight times the same power of two changes no mean, bit for bit
    X, bandwidth, params = case("2d", kernel, "int", np.float64, seeding)
    w = params.pop("sample_weight")
    a = fit(X, bandwidth, sample_weight=w, **params)
    b = fit(X, bandwidth, sample_weight=w * scale, **params)
    assert_bitwise_same(a, b)
    four = fit(X4, 1.0, sample_weight=np.full(4, scale), kernel=kernel)
    assert_array_equal(four.labels_, [1, 1, 0, 0])
    assert_allclose(four.cluster_centers_, [[5.05, 5.0], [0.05, 0.0]], atol=1e-3)


@pytest.mark.parametrize("value", [5e307, 1.7e308, 5e-324, 1e-310])
def test_x4_with_huge_and_subnormal_weights(value):
    # the cases: 5e307 gave one cluster at (0.05, 0), 5e-324 gave
    # (5, 5) and (0, 0)
    model = fit(X4, 1.0, sample_weight=np.full(4, value))
    assert_array_equal(model.cluster_centers_, [[5.05, 5.0], [0.05, 0.0]])
    assert_array_equal(model.labels_, [1, 1, 0, 0])


def test_estimated_bandwidth_with_overflowing_total_weight():
    # the total weight (60 * 1e307) is beyond float64: it raised
    # OverflowError (cannot convert float infinity to integer); powers of
    # two give the unit weights' estimate exactly
    X = _blobs(60, 2, [[0, 0], [6, 6]], 1.0, 0)
    unit = MeanShift().fit(X, sample_weight=np.ones(60))
    big = MeanShift().fit(X, sample_weight=np.full(60, 2.0**1020))
    assert big.bandwidth_ == unit.bandwidth_
    assert_array_equal(big.cluster_centers_, unit.cluster_centers_)
    odd = MeanShift().fit(X, sample_weight=np.full(60, 1e307))
    assert np.isfinite(odd.bandwidth_) and len(odd.cluster_centers_) == len(unit.cluster_centers_)
    # a total weight below 1 (tiny weights): every point is needed to reach it
    tiny = MeanShift().fit(X, sample_weight=np.full(60, 5e-324))
    farthest = max(np.sqrt(((X - x) ** 2).sum(axis=1)).max() for x in X)
    assert 0 < tiny.bandwidth_ <= farthest


def test_bin_seeding_min_bin_freq_with_huge_weights():
    # a cell's weight is compared with min_bin_freq in the caller's units
    X = _blobs(60, 2, [[0, 0], [6, 6]], 1.0, 0)
    unit = fit(X, 1.5, sample_weight=np.ones(60), bin_seeding=True, min_bin_freq=3)
    big = fit(X, 1.5, sample_weight=np.full(60, 2.0**1020), bin_seeding=True,
              min_bin_freq=3 * 2**1020)
    assert_bitwise_same(unit, big)
    every_cell = fit(X, 1.5, sample_weight=np.ones(60), bin_seeding=True)
    big = fit(X, 1.5, sample_weight=np.full(60, 2.0**1020), bin_seeding=True,
              min_bin_freq=3)
    assert_bitwise_same(every_cell, big)
    # cells of subnormal weight hold less than min_bin_freq=1
    with pytest.raises(ValueError, match="No bin holds min_bin_freq=1 of weight"):
        fit(X, 1.5, sample_weight=np.full(60, 5e-324), bin_seeding=True)


@pytest.mark.parametrize("weights", [[1, 5e-324, 1, 1], [1e300, 1e-300, 1, 1]])
def test_weights_spanning_more_than_float64_can_sum_are_refused(weights):
    with pytest.raises(ValueError, match="sample_weight spans too wide a range"):
        fit(X4, 1.0, sample_weight=weights)


# ---------------------------------------------------------------------------
# Zero and tiny bandwidths, duplicates, the Gaussian's estimate
# ---------------------------------------------------------------------------


@pytest.mark.sanitize
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("X", [[[1.0, 2.0]], [[3.0, -1.0]] * 5], ids=["one point", "equal points"])
@pytest.mark.parametrize("bandwidth", [None, 5e-324])
def test_zero_and_tiny_bandwidth_every_kernel(kernel, X, bandwidth):
    # a point is within bandwidth 0 of itself for every kernel: the smooth
    # kernels said "No point was within bandwidth=0.000000 of any seed"
    # (1 - 0/0 and exp(-0 * inf) are NaN) where the flat kernel and
    # scikit-learn return the single cluster
    X = np.array(X)
    model = MeanShift(bandwidth=bandwidth, kernel=kernel).fit(X)
    assert_array_equal(model.cluster_centers_, X[:1])
    assert_array_equal(model.labels_, np.zeros(len(X)))


@pytest.mark.sanitize
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("seeding", ["all", "bins"])
def test_duplicate_rows_are_one_weighted_row(kernel, seeding):
    # thousands of copies of a few rows (the Gaussian kernel opened every
    # node of equal rows: quadratic): the clustering of the distinct rows
    # weighted by their counts, up to the order of the sums
    rows = _blobs(12, 2, [[0, 0], [4, 4]], 0.8, 5)
    counts = np.arange(1, 13) * 250
    X = np.repeat(rows, counts, axis=0)
    params = dict(kernel=kernel, bin_seeding=seeding == "bins")
    dup = fit(X, 1.0, **params)
    one = fit(rows, 1.0, sample_weight=counts.astype(float), **params)
    assert_allclose(dup.cluster_centers_, one.cluster_centers_, rtol=0, atol=1e-9)
    assert_array_equal(dup.labels_, np.repeat(one.labels_, counts))


def test_gaussian_with_estimated_bandwidth_warns():
    X = _blobs(60, 2, [[0, 0], [6, 6]], 1.0, 0)
    with pytest.warns(UserWarning, match="Gaussian kernel reaches 3 bandwidths"):
        MeanShift(kernel="gaussian").fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MeanShift(kernel="gaussian", bandwidth=1.0).fit(X)
        MeanShift(kernel="flat").fit(X)


# ---------------------------------------------------------------------------
# Attractor labels of climbs that end where a seed's ended
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed, bandwidth", [(2, 0.3), (3, 0.2), (5, 0.3)])
def test_zero_weight_point_ending_at_a_seed_takes_its_cluster(seed, bandwidth):
    # two moons, weights 0-3: a zero-weight point whose own climb ends
    # exactly where a seed's climb ended takes that seed's cluster (the
    # kept center, or the one that dropped it), not the kept center
    # nearest to the end (which differs where the seed's center was
    # dropped by a farther one): 8, 5 and 4 points differed here
    X = make_moons(200, noise=0.08, random_state=seed)[0]
    w = np.random.default_rng(seed).integers(0, 4, len(X)).astype(float)
    model = fit(X, bandwidth, sample_weight=w, label_by="attractor")
    ref = R.Reference(X, bandwidth, sample_weight=w)
    expected, ok = ref.labels("attractor")
    # the reference's old rule (nearest center to the end) differs here,
    # so the case tells the two rules apart
    others = np.flatnonzero(w == 0)
    ends, alive, _ = ref._point_climbs
    C = ref.cluster_centers
    nearest = [np.argmin(((C - (e if a else X[o])) ** 2).sum(axis=1))
               for e, a, o in zip(ends, alive, others, strict=True)]
    assert (np.array(nearest) != expected[others]).any()
    assert ok[np.arange(len(X)), model.labels_].all()
    # predict climbs the training points again: the same labels
    assert_array_equal(model.predict(X), model.labels_)
