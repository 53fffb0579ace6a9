"""Bad inputs raise what scikit-learn raises; inputs are never modified.

Most checks are parametrized over both implementations (``impl`` is the
``meanshift`` module or ``sklearn.cluster``), so each case states the
exception scikit-learn raises and requires the same type from meanshift.
Parameter errors are scikit-learn's ``InvalidParameterError``, a subclass of
both ValueError and TypeError; meanshift's errors must be caught the same way.
"""

import math
import os
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.cluster
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError

import meanshift

IMPLS = [
    pytest.param(meanshift, id="meanshift"),
    pytest.param(sklearn.cluster, id="sklearn"),
]

X, _ = make_blobs(
    n_samples=40, n_features=2, centers=[[0, 0], [4, 4]], cluster_std=0.5, random_state=0
)


def _with(X, index, value):
    X = X.astype(float)
    X[index] = value
    return X


# ---------------------------------------------------------------------------
# Bad X
# ---------------------------------------------------------------------------

BAD_X = {
    # name: (data, exception type, message fragment shared by both)
    "nan": (_with(X, (3, 1), np.nan), ValueError, "contains NaN"),
    "inf": (_with(X, (5, 0), np.inf), ValueError, "contains infinity"),
    "neg_inf": (_with(X, (5, 0), -np.inf), ValueError, "contains infinity"),
    "nan_float32": (
        _with(X, (0, 0), np.nan).astype(np.float32),
        ValueError,
        "contains NaN",
    ),
    "no_rows": (np.empty((0, 2)), ValueError, "0 sample"),
    "no_columns": (np.empty((5, 0)), ValueError, "0 feature"),
    "1d": (X[:, 0], ValueError, "Expected 2D array"),
    "1d_list": ([1.0, 2.0, 3.0], ValueError, "Expected 2D array"),
    # scikit-learn's mean_shift / estimate_bandwidth reject a scalar as "not
    # array-like", MeanShift.fit as "Expected 2D array": both ValueErrors
    "scalar": (np.float64(3.0), ValueError, "Expected 2D array|array-like"),
    "3d": (X.reshape(10, 4, 2), ValueError, "dim 3"),
    "strings": ([["a", "b"], ["c", "d"]], ValueError, None),
    # scikit-learn refuses string arrays outright (dtype='numeric' is not
    # compatible with arrays of bytes/strings), even when they hold numbers
    "numeric_strings": (np.array([["1", "2"], ["3", "4"]]), ValueError, None),
    "bytes": (np.array([[b"1", b"2"], [b"3", b"4"]]), ValueError, None),
    "object_with_none": (
        np.array([[1.0, None], [3.0, 4.0]], dtype=object),
        ValueError,
        "contains NaN",
    ),
    "complex": (X + 1j, ValueError, "Complex data not supported"),
    "csr_matrix": (sp.csr_matrix(X), TypeError, "parse"),
    "csr_array": (sp.csr_array(X), TypeError, "parse"),
    "coo_matrix": (sp.coo_matrix(X), TypeError, "parse"),
}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", list(BAD_X))
def test_bad_X_fit(case, impl):
    data, exc, match = BAD_X[case]
    with pytest.raises(exc, match=match):
        impl.MeanShift(bandwidth=1.0).fit(data)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", list(BAD_X))
def test_bad_X_mean_shift(case, impl):
    data, exc, match = BAD_X[case]
    with pytest.raises(exc, match=match):
        impl.mean_shift(data, bandwidth=1.0)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", list(BAD_X))
def test_bad_X_estimate_bandwidth(case, impl):
    data, exc, match = BAD_X[case]
    with pytest.raises(exc, match=match):
        impl.estimate_bandwidth(data)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, object])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, 1e300])
@pytest.mark.parametrize("where", [0, 69_999])
def test_non_finite_found_anywhere_with_sklearns_message(dtype, value, where):
    # the finite check runs in parallel (_values.finite_magnitude) over
    # chunks; a bad value in the first or the last chunk, in any input
    # dtype (1e300 is infinite as float32 and float16), gets exactly
    # scikit-learn's error, from fit and from predict
    big = np.random.default_rng(0).normal(size=(70_000, 2)).astype(dtype)
    with np.errstate(over="ignore"):
        big[where, 1] = value
    if np.isfinite(float(big[where, 1])):   # 1e300 in float64 or object
        labels = _fitted(meanshift).predict(big)
        assert labels.shape == (len(big),) and (labels >= 0).all()
        return
    with pytest.raises(ValueError) as ours:
        meanshift.MeanShift(bandwidth=1.0, bin_seeding=True).fit(big)
    with pytest.raises(ValueError) as theirs:
        sklearn.cluster.MeanShift(bandwidth=1.0).fit(big)
    assert str(ours.value) == str(theirs.value)
    model = _fitted(meanshift)
    with pytest.raises(ValueError) as ours:
        model.predict(big)
    ref = sklearn.cluster.MeanShift(bandwidth=1.0, bin_seeding=True).fit(X)
    with pytest.raises(ValueError) as theirs:
        ref.predict(big)
    assert str(ours.value) == str(theirs.value)


_FITTED = {}


def _fitted(impl):
    """One fitted model per implementation, for the predict checks."""
    if impl.__name__ not in _FITTED:
        _FITTED[impl.__name__] = impl.MeanShift(bandwidth=1.0, bin_seeding=True).fit(X)
    return _FITTED[impl.__name__]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    "case", [c for c in BAD_X if c != "no_columns"]
)
def test_bad_X_predict(case, impl):
    data, exc, match = BAD_X[case]
    model = _fitted(impl)
    if case == "3d":
        match = None  # shape checks differ in wording for predict
    with pytest.raises(exc, match=match):
        model.predict(data)


@pytest.mark.parametrize("impl", IMPLS)
def test_predict_wrong_number_of_features(impl):
    model = _fitted(impl)
    with pytest.raises(
        ValueError, match="X has 3 features, but MeanShift is expecting 2 features"
    ):
        model.predict(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="0 feature"):
        model.predict(np.zeros((4, 0)))


@pytest.mark.parametrize("impl", IMPLS)
def test_predict_before_fit(impl):
    model = impl.MeanShift(bandwidth=1.0)
    with pytest.raises(NotFittedError, match="not fitted"):
        model.predict(X)
    assert not hasattr(model, "cluster_centers_")


@pytest.mark.parametrize("impl", IMPLS)
def test_object_array_of_numbers_is_accepted(impl):
    # not an error: an object array holding numbers converts like a float one
    model = impl.MeanShift(bandwidth=1.0).fit(X.astype(object))
    ref = impl.MeanShift(bandwidth=1.0).fit(X)
    assert_array_equal(model.labels_, ref.labels_)


# ---------------------------------------------------------------------------
# Bad parameters
# ---------------------------------------------------------------------------

BAD_PARAMS = [
    ("bandwidth", 0),
    ("bandwidth", 0.0),
    ("bandwidth", -1.0),
    ("bandwidth", -np.inf),
    ("bandwidth", np.nan),
    ("bandwidth", np.float32(np.nan)),
    ("bandwidth", np.inf),
    ("bandwidth", "1"),
    ("bandwidth", [1.0]),
    ("bandwidth", np.array(1.0)),
    ("bandwidth", 1 + 0j),
    ("max_iter", -1),
    ("max_iter", 1.5),
    ("max_iter", 2.0),
    ("max_iter", None),
    ("max_iter", "3"),
    ("min_bin_freq", 0),
    ("min_bin_freq", -2),
    ("min_bin_freq", 1.0),
    ("min_bin_freq", None),
    ("bin_seeding", 1),
    ("bin_seeding", "yes"),
    ("bin_seeding", None),
    ("bin_seeding", np.array([True])),
    ("cluster_all", 0),
    ("cluster_all", "no"),
    ("cluster_all", None),
    ("n_jobs", 1.5),
    ("n_jobs", "2"),
]


def _param_id(p):
    name, value = p
    return f"{name}={value!r}"


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name, value", BAD_PARAMS, ids=map(_param_id, BAD_PARAMS))
def test_bad_parameter(name, value, impl):
    params = {"bandwidth": 1.0, name: value}
    model = impl.MeanShift(**params)  # no validation at construction
    assert getattr(model, name) is value
    with pytest.raises(ValueError, match=name) as exc_info:
        model.fit(X)
    # scikit-learn's InvalidParameterError is both a ValueError and a TypeError
    assert isinstance(exc_info.value, TypeError)
    with pytest.raises(TypeError, match=name):
        impl.mean_shift(X, **params)


@pytest.mark.parametrize("impl", IMPLS)
def test_bad_parameter_through_set_params(impl):
    model = impl.MeanShift(bandwidth=1.0).fit(X)
    model.set_params(bandwidth=-1.0)
    with pytest.raises(ValueError, match="bandwidth"):
        model.fit(X)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    "name, value",
    [
        ("quantile", -0.1),
        ("quantile", 1.1),
        ("quantile", np.nan),
        ("quantile", "a"),
        ("quantile", None),
        ("n_samples", 0),
        ("n_samples", -1),
        ("n_samples", 1.5),
        ("n_samples", "10"),
        ("n_jobs", 1.5),
    ],
)
def test_estimate_bandwidth_bad_parameter(name, value, impl):
    with pytest.raises(ValueError, match=name) as exc_info:
        impl.estimate_bandwidth(X, **{name: value})
    assert isinstance(exc_info.value, TypeError)


@pytest.mark.parametrize("impl", IMPLS)
def test_estimate_bandwidth_bad_random_state(impl):
    with pytest.raises(ValueError, match="random_state|seed"):
        impl.estimate_bandwidth(X, n_samples=10, random_state="x")


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("quantile", [0, 1, 0.0, 1.0, np.float32(0.5)])
def test_estimate_bandwidth_quantile_bounds_accepted(quantile, impl):
    bandwidth = impl.estimate_bandwidth(X, quantile=quantile)
    assert np.isfinite(bandwidth) and bandwidth >= 0


# ---------------------------------------------------------------------------
# Bad seeds
# ---------------------------------------------------------------------------

BAD_SEEDS = {
    "too_many_features": (np.zeros((2, 3)), ValueError, "3 features"),
    "too_few_features": (np.zeros((2, 1)), ValueError, "1 features"),
    "1d": (np.zeros(2), ValueError, "Expected 2D array"),
    "nan": (np.array([[np.nan, 0.0], [0.0, 0.0]]), ValueError, "contains NaN"),
    "nan_float32": (
        np.array([[0.0, np.nan]], dtype=np.float32),
        ValueError,
        "contains NaN",
    ),
    "inf": (np.array([[np.inf, 0.0], [0.0, 0.0]]), ValueError, "infinity"),
    "complex": (np.zeros((2, 2)) + 1j, ValueError, "Complex data not supported"),
    "empty": (np.empty((0, 2)), ValueError, None),
    "csr_matrix": (sp.csr_matrix(np.ones((2, 2))), TypeError, None),
    "string": ("abc", ValueError, None),
}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", list(BAD_SEEDS))
def test_bad_seeds(case, impl):
    seeds, exc, match = BAD_SEEDS[case]
    with pytest.raises(exc, match=match):
        impl.MeanShift(bandwidth=1.0, seeds=seeds).fit(X)
    with pytest.raises(exc, match=match):
        impl.mean_shift(X, bandwidth=1.0, seeds=seeds)


# ---------------------------------------------------------------------------
# Nothing to cluster
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("impl", IMPLS)
def test_no_point_within_bandwidth(impl):
    model = impl.MeanShift(bandwidth=0.1, seeds=[[-9, -9], [-10, -10]])
    with pytest.raises(ValueError, match="No point was within bandwidth=0.1"):
        model.fit(X)
    assert not hasattr(model, "cluster_centers_")


@pytest.mark.parametrize("bandwidth, shown", [(1e-5, "1e-05"), (1e-320, "9.99989e-321"),
                                              (0.0123, "0.0123")])
def test_no_point_within_a_tiny_bandwidth_shows_its_digits(bandwidth, shown):
    # scikit-learn's %f would print 0.000000 for the first two
    model = meanshift.MeanShift(bandwidth=bandwidth, seeds=[[-9, -9], [-10, -10]])
    with pytest.raises(ValueError, match=f"No point was within bandwidth={shown} of"):
        model.fit(X)


@pytest.mark.parametrize("impl", IMPLS)
def test_no_point_within_bandwidth_float32(impl):
    model = impl.MeanShift(bandwidth=0.5, seeds=np.full((3, 2), 50.0, np.float32))
    with pytest.raises(ValueError, match="No point was within bandwidth=0.5"):
        model.fit(X.astype(np.float32))


@pytest.mark.parametrize("impl", IMPLS)
def test_bin_seeding_no_bin_frequent_enough(impl):
    # scikit-learn fails with "max() arg is an empty sequence"; both ValueError
    with pytest.raises(ValueError):
        impl.MeanShift(bandwidth=1.0, bin_seeding=True, min_bin_freq=1000).fit(X)


# ---------------------------------------------------------------------------
# get_bin_seeds: scikit-learn does not validate its arguments, so only the
# cases where both fail the same way are compared
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("impl", IMPLS)
def test_get_bin_seeds_sparse(impl):
    with pytest.raises(TypeError):
        impl.get_bin_seeds(sp.csr_matrix(X), 1.0)


@pytest.mark.parametrize("impl", IMPLS)
def test_get_bin_seeds_string_bin_size(impl):
    with pytest.raises(TypeError):
        impl.get_bin_seeds(X, "1")


# ---------------------------------------------------------------------------
# The caller's arrays are never modified
# ---------------------------------------------------------------------------


def _inputs():
    Xb, _ = make_blobs(
        n_samples=120, n_features=3, centers=3, cluster_std=1.0, random_state=3
    )
    ro = Xb.copy()
    ro.setflags(write=False)
    ro32 = Xb.astype(np.float32)
    ro32.setflags(write=False)
    return {
        "float64_C": Xb.copy(),
        "float32_C": Xb.astype(np.float32),
        "float64_F": np.asfortranarray(Xb),
        "float32_F": np.asfortranarray(Xb.astype(np.float32)),
        "readonly_float64": ro,
        "readonly_float32": ro32,
        "strided_view": np.repeat(Xb, 2, axis=0)[::2],
        "int64": np.round(Xb * 2).astype(np.int64),
    }


INPUTS = _inputs()


@pytest.mark.parametrize("bin_seeding", [False, True])
@pytest.mark.parametrize("case", list(INPUTS))
def test_inputs_not_modified(case, bin_seeding):
    data = INPUTS[case]
    before = data.copy(order="K")
    flags_before = (data.flags.writeable, data.flags.c_contiguous, data.flags.f_contiguous)
    bandwidth = 2.5 if data.dtype.kind == "f" else 5.5
    seeds = data[::10].copy(order="K")
    seeds_before = seeds.copy(order="K")
    if not data.flags.writeable:
        seeds.setflags(write=False)

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Binning data failed")
        model = meanshift.MeanShift(bandwidth=bandwidth, bin_seeding=bin_seeding).fit(
            data
        )
        model_seeds = meanshift.MeanShift(bandwidth=bandwidth, seeds=seeds).fit(data)
        model.predict(data)
        meanshift.estimate_bandwidth(data, n_samples=50)
        meanshift.get_bin_seeds(data, bandwidth)

    assert_array_equal(data, before)
    assert data.dtype == before.dtype
    assert_array_equal(seeds, seeds_before)
    assert (
        data.flags.writeable,
        data.flags.c_contiguous,
        data.flags.f_contiguous,
    ) == flags_before
    # the results do not alias the caller's arrays
    assert not np.shares_memory(model.cluster_centers_, data)
    assert not np.shares_memory(model_seeds.cluster_centers_, seeds)
    # and a read-only input gives the same result as a writable copy
    same = meanshift.MeanShift(bandwidth=bandwidth, bin_seeding=bin_seeding)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Binning data failed")
        same.fit(np.array(data, copy=True))
    assert_array_equal(model.labels_, same.labels_)
    assert_array_equal(model.cluster_centers_, same.cluster_centers_)


@pytest.mark.parametrize(
    "dtype, order",
    [(np.float64, "C"), (np.float64, "F"), (np.float32, "C"), (np.float32, "F")],
)
def test_readonly_input_everywhere(dtype, order):
    # read-only data through every code path, the estimated bandwidth too
    # (scikit-learn's check_readonly_memmap_input does the same with memmaps)
    writable = np.asarray(INPUTS["float64_C"], dtype=dtype, order=order)
    data = writable.copy(order="K")
    data.setflags(write=False)
    seeds = data[::7].copy()
    seeds.setflags(write=False)

    bandwidth = meanshift.estimate_bandwidth(data)
    assert bandwidth == meanshift.estimate_bandwidth(writable)
    for params in ({}, {"bin_seeding": True}, {"seeds": seeds, "bandwidth": 2.0}):
        model = meanshift.MeanShift(**params).fit(data)
        ref = meanshift.MeanShift(**params).fit(writable)
        assert_array_equal(model.labels_, ref.labels_)
        assert_array_equal(model.cluster_centers_, ref.cluster_centers_)
        assert_array_equal(model.predict(data), ref.predict(writable))
    assert_array_equal(
        meanshift.get_bin_seeds(data, bandwidth), meanshift.get_bin_seeds(writable, bandwidth)
    )
    assert_array_equal(data, writable)


def test_estimator_params_not_modified():
    seeds = X[:5].copy()
    seeds_before = seeds.copy()
    model = meanshift.MeanShift(bandwidth=1.0, seeds=seeds).fit(X)
    assert model.seeds is seeds
    assert_array_equal(seeds, seeds_before)
    assert model.bandwidth == 1.0
    # bandwidth=None stays None after fit (the estimate is not stored in it)
    model = meanshift.MeanShift().fit(X)
    assert model.bandwidth is None


def test_list_inputs_not_modified():
    data = X.tolist()
    seeds = X[:4].tolist()
    data_before = [list(r) for r in data]
    seeds_before = [list(r) for r in seeds]
    meanshift.MeanShift(bandwidth=1.0, seeds=seeds).fit(data)
    assert data == data_before
    assert seeds == seeds_before


def test_labels_assigned_when_squared_distances_overflow():
    # Regression: with coordinates near the float maximum every squared
    # distance to the centers is inf; cluster_all=True must still give every
    # point a center (the first), never -1.
    X = np.random.default_rng(0).normal(size=(60, 2)) * 1e307
    model = meanshift.MeanShift(bandwidth=1e307).fit(X)
    assert model.labels_.min() >= 0
    assert model.labels_.max() < len(model.cluster_centers_)


@pytest.mark.slow
def test_repeated_fits_do_not_grow_memory():
    # Every kernel frees its scratch: many fits leave the resident size flat.
    import gc

    def rss_bytes():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    pytest.importorskip("resource")
    if not os.path.exists("/proc/self/statm"):
        pytest.skip("needs /proc")
    X, _ = make_blobs(n_samples=300, n_features=3, centers=4, random_state=0)
    X32 = X.astype(np.float32)
    H = np.random.default_rng(0).normal(size=(200, 24))  # the scan path

    def one_round(i):
        model = meanshift.MeanShift(bandwidth=1.5, bin_seeding=i % 4 != 0).fit(
            X32 if i % 3 == 0 else X
        )
        model.predict(X)
        if i % 10 == 0:
            meanshift.estimate_bandwidth(X[:200])
            meanshift.mean_shift(H, bandwidth=6.0, cluster_all=False)
        if i % 7 == 0:  # an error raised after the tree is built
            with pytest.raises(ValueError, match="No point was within"):
                meanshift.MeanShift(bandwidth=0.5, seeds=[[99.0, 99.0, 99.0]]).fit(X)

    for i in range(50):  # warm up allocator pools and caches
        one_round(i)
    gc.collect()
    before = rss_bytes()
    for i in range(1000):
        one_round(i)
    gc.collect()
    grown = rss_bytes() - before
    assert grown < 2 * 2**20, f"resident memory grew by {grown / 2**20:.1f} MiB"


@pytest.mark.parametrize("bin_seeding", [False, True])
def test_huge_magnitudes_give_the_scaled_result(bin_seeding):
    # Coordinates whose squares overflow float64: the fit must be the
    # ordinary one, scaled. Scaling by a power of two is exact, so labels
    # are identical and centers are exactly the scaled centers.
    X, _ = make_blobs(n_samples=300, n_features=2, centers=3, random_state=0)
    factor = 2.0**1000
    small = meanshift.MeanShift(bandwidth=1.5, bin_seeding=bin_seeding).fit(X)
    huge = meanshift.MeanShift(bandwidth=1.5 * factor, bin_seeding=bin_seeding).fit(X * factor)
    assert np.isfinite(huge.cluster_centers_).all()
    assert_array_equal(huge.labels_, small.labels_)
    assert_array_equal(huge.cluster_centers_, small.cluster_centers_ * factor)
    assert huge.n_iter_ == small.n_iter_
    assert_array_equal(huge.predict(X[:50] * factor), small.predict(X[:50]))
    assert meanshift.estimate_bandwidth(X * factor) == meanshift.estimate_bandwidth(X) * factor
    with pytest.raises(ValueError, match="No point was within bandwidth"):
        meanshift.MeanShift(bandwidth=factor, seeds=[[-1e307, -1e307]]).fit(X * factor)


@pytest.mark.parametrize("bin_seeding", [False, True])
@pytest.mark.parametrize("exponent", [-1000, -1030])  # tiny; subnormal
def test_tiny_magnitudes_give_the_scaled_result(bin_seeding, exponent):
    # Coordinates so small that squared distances underflow to zero (at
    # 2**-1030 the data itself is subnormal): scaled up by a power of two
    # first, the fit is the ordinary one, scaled.  Before, every point was
    # within any bandwidth of every other (0 <= 0) and all went to one
    # cluster.
    X, _ = make_blobs(n_samples=300, n_features=2, centers=3, random_state=0)
    X = np.ldexp(np.round(np.ldexp(X, 20)), -20)  # 33 bits: exact when subnormal
    small = meanshift.MeanShift(bandwidth=1.5, bin_seeding=bin_seeding).fit(X)
    assert len(small.cluster_centers_) == 3
    tiny = meanshift.MeanShift(
        bandwidth=math.ldexp(1.5, exponent), bin_seeding=bin_seeding
    ).fit(np.ldexp(X, exponent))
    assert_array_equal(tiny.labels_, small.labels_)
    assert tiny.n_iter_ == small.n_iter_
    # the centers are means, rounded again where subnormal
    assert_allclose(
        np.ldexp(tiny.cluster_centers_, -exponent), small.cluster_centers_, rtol=0, atol=1e-6
    )
    assert_array_equal(tiny.predict(np.ldexp(X[:50], exponent)), small.predict(X[:50]))
    assert math.isclose(
        meanshift.estimate_bandwidth(np.ldexp(X, exponent)),
        math.ldexp(meanshift.estimate_bandwidth(X), exponent),
        rel_tol=1e-6,
    )


def test_bandwidth_far_beyond_tiny_data():
    # scaling the data up must not overflow the bandwidth: one cluster
    X = np.array([[1e-310, 0.0], [3e-310, 0.0], [0.0, 2e-310]])
    model = meanshift.MeanShift(bandwidth=1e300).fit(X)
    assert model.labels_.tolist() == [0, 0, 0]
    assert np.isfinite(model.cluster_centers_).all()
    assert_allclose(model.cluster_centers_, X.mean(axis=0, keepdims=True), rtol=1e-12)
