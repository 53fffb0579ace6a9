"""Results do not depend on the number of threads.

meanshift's kernel is deterministic: every seed's climb, the ranking, the
suppression and the labels are computed the same way whatever the thread
count, so fits with any ``n_jobs`` and under any OpenMP limit must agree
bit for bit (``assert_array_equal``, not a tolerance).
"""

import joblib
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import make_blobs
from specs.oracle import assert_bitwise_same
from threadpoolctl import threadpool_info, threadpool_limits

from meanshift import MeanShift, _core, _threads, estimate_bandwidth, get_bin_seeds, mean_shift

N_JOBS = [1, 2, -1, -2, -100, None, np.int64(2)]
# the values compared on every case; N_JOBS on a few
N_JOBS_SHORT = [1, 2, -1, None]


def _data(kind, dtype):
    if kind == "blobs_2d":
        X, _ = make_blobs(
            n_samples=1000, n_features=2, centers=6, cluster_std=1.0, random_state=0
        )
        bandwidth = 1.3
    elif kind == "blobs_5d":
        X, _ = make_blobs(
            n_samples=600, n_features=5, centers=4, cluster_std=1.0, random_state=1
        )
        bandwidth = 2.9
    elif kind == "blobs_20d":
        X, _ = make_blobs(
            n_samples=400, n_features=20, centers=3, cluster_std=1.0, random_state=2
        )
        bandwidth = 5.8
    else:  # integer lattice with multiplicities: exact ties everywhere
        X = np.random.RandomState(3).randint(0, 12, size=(1000, 2)).astype(float)
        bandwidth = 2.0
    return X.astype(dtype), bandwidth


def _fit(X, **params):
    return MeanShift(**params).fit(X)


@pytest.mark.parametrize("cluster_all", [True, False])
@pytest.mark.parametrize("bin_seeding", [False, True], ids=["all_seeds", "bins"])
@pytest.mark.parametrize("kind", ["blobs_2d", "blobs_5d", "blobs_20d", "lattice"])
def test_n_jobs_bitwise_identical(kind, bin_seeding, cluster_all, global_dtype):
    X, bandwidth = _data(kind, global_dtype)
    params = dict(bandwidth=bandwidth, bin_seeding=bin_seeding, cluster_all=cluster_all)
    reference = _fit(X, n_jobs=1, **params)
    assert len(reference.cluster_centers_) > 1  # not a trivial clustering
    if not cluster_all:
        assert (reference.labels_ == -1).any()  # orphans exist
    for n_jobs in N_JOBS_SHORT[1:]:
        assert_bitwise_same(_fit(X, n_jobs=n_jobs, **params), reference)
    with threadpool_limits(limits=1, user_api="openmp"):
        assert_bitwise_same(_fit(X, n_jobs=None, **params), reference)
        assert_bitwise_same(_fit(X, n_jobs=2, **params), reference)


def test_n_jobs_bitwise_identical_estimated_bandwidth(global_dtype):
    X, _ = _data("blobs_5d", global_dtype)
    X = X[:400]
    reference = _fit(X, n_jobs=1)
    for n_jobs in N_JOBS[1:]:
        assert_bitwise_same(_fit(X, n_jobs=n_jobs), reference)
    with threadpool_limits(limits=1, user_api="openmp"):
        assert_bitwise_same(_fit(X), reference)


def test_mean_shift_function_n_jobs(global_dtype):
    X, bandwidth = _data("blobs_2d", global_dtype)
    c1, l1 = mean_shift(X, bandwidth=bandwidth, bin_seeding=True, n_jobs=1)
    for n_jobs in (2, -1, None):
        c, labels = mean_shift(X, bandwidth=bandwidth, bin_seeding=True, n_jobs=n_jobs)
        assert_array_equal(c, c1)
        assert_array_equal(labels, l1)


def test_predict_n_jobs(global_dtype):
    X, bandwidth = _data("blobs_2d", global_dtype)
    X_new = np.random.RandomState(0).uniform(-15, 15, size=(5000, 2)).astype(
        global_dtype
    )
    model = _fit(X, bandwidth=bandwidth, bin_seeding=True, n_jobs=1)
    reference = model.predict(X_new)
    for n_jobs in N_JOBS[1:]:
        model.set_params(n_jobs=n_jobs)
        assert_array_equal(model.predict(X_new), reference)
    with threadpool_limits(limits=1, user_api="openmp"):
        model.set_params(n_jobs=None)
        assert_array_equal(model.predict(X_new), reference)


def test_predict_many_centers_n_jobs():
    # enough centers that labels are found through a tree over the centers
    X = np.random.RandomState(4).uniform(0, 30, size=(1500, 2))
    model = _fit(X, bandwidth=1.0, n_jobs=1)
    assert len(model.cluster_centers_) > 100
    X_new = np.random.RandomState(5).uniform(-1, 31, size=(3000, 2))
    reference = model.predict(X_new)
    for n_jobs in (2, -1, None):
        model.set_params(n_jobs=n_jobs)
        assert_array_equal(model.predict(X_new), reference)
        assert_bitwise_same(_fit(X, bandwidth=1.0, n_jobs=n_jobs), model)


def test_orphan_labels_identical_across_threads_many_points():
    # cluster_all=False labels many points, most of them orphans, with two
    # threads: the distance to the nearest center that decides "-1" must be
    # each thread's own.  A data race there shows up as a few labels
    # differing from the one-thread result, so fit a few times.
    X = np.random.RandomState(7).uniform(0, 10, size=(500_000, 1))
    seeds = [[2.0], [5.0], [8.0]]
    params = dict(bandwidth=1.2, seeds=seeds, cluster_all=False)
    reference = _fit(X, n_jobs=1, **params)
    assert (reference.labels_ == -1).sum() > 100_000
    assert (reference.labels_ >= 0).sum() > 100_000
    for _ in range(8):
        labels = _fit(X, n_jobs=2, **params).labels_
        n_diff = int((labels != reference.labels_).sum())
        assert n_diff == 0, f"{n_diff} labels differ between 1 and 2 threads"


@pytest.mark.parametrize("quantile", [0.05, 0.3, 0.9])
def test_estimate_bandwidth_n_jobs(quantile, global_dtype):
    X, _ = _data("blobs_5d", global_dtype)
    reference = estimate_bandwidth(X, quantile=quantile, n_jobs=1)
    for n_jobs in N_JOBS[1:]:
        assert estimate_bandwidth(X, quantile=quantile, n_jobs=n_jobs) == reference
    with threadpool_limits(limits=1, user_api="openmp"):
        assert estimate_bandwidth(X, quantile=quantile) == reference


def test_get_bin_seeds_threads(global_dtype):
    # large enough for the binning to be split between threads
    X = (np.random.RandomState(6).normal(size=(40_000, 3)) * 5).astype(global_dtype)
    reference = get_bin_seeds(X, 0.9, min_bin_freq=2)
    with threadpool_limits(limits=1, user_api="openmp"):
        single = get_bin_seeds(X, 0.9, min_bin_freq=2)
    assert single.dtype == reference.dtype
    assert_array_equal(single, reference)  # same rows, same order


# ---------------------------------------------------------------------------
# n_jobs values
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda X: MeanShift(bandwidth=1.0, n_jobs=0).fit(X),
        lambda X: mean_shift(X, bandwidth=1.0, n_jobs=0),
        lambda X: estimate_bandwidth(X, n_jobs=0),
        lambda X: MeanShift(bandwidth=1.0).fit(X).set_params(n_jobs=0).fit(X),
    ],
    ids=["MeanShift", "mean_shift", "estimate_bandwidth", "set_params"],
)
def test_n_jobs_zero_raises(call):
    X = np.random.RandomState(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match="n_jobs"):
        call(X)


def test_n_jobs_zero_raises_like_sklearn():
    import sklearn.cluster as skc

    X = np.random.RandomState(0).normal(size=(20, 2))
    with pytest.raises(ValueError):
        skc.MeanShift(bandwidth=1.0, n_jobs=0).fit(X)
    with pytest.raises(ValueError):
        MeanShift(bandwidth=1.0, n_jobs=0).fit(X)


def _openmp_max_threads():
    return _core.max_threads()


def test_negative_n_jobs_follow_joblib():
    # joblib: n_jobs < 0 means max(n_cpus + 1 + n_jobs, 1)
    n_all = _threads._effective_n_threads(None)
    assert n_all >= 1
    assert _threads._effective_n_threads(-1) == n_all
    # k > 0: k threads, up to 4 per usable core (at least 4 in all: on one
    # core too, k from 1 to 4 is taken as given)
    for k in (1, 2, 3, 4):
        assert _threads._effective_n_threads(k) == k
    cap = 4 * max(_threads._cpu_count(), _openmp_max_threads())
    assert _threads._effective_n_threads(10**9) == cap
    for k in (-1, -2, -3, -100):
        assert _threads._effective_n_threads(k) == max(n_all + 1 + k, 1)
        if n_all == joblib.cpu_count():
            assert _threads._effective_n_threads(k) == joblib.effective_n_jobs(k)


def test_effective_threads_honour_threadpool_limits():
    if not _core.openmp_enabled():
        pytest.skip("meanshift was built without OpenMP")
    n_all = _threads._effective_n_threads(None)
    with threadpool_limits(limits=1, user_api="openmp"):
        assert _threads._effective_n_threads(None) == 1
        assert _threads._effective_n_threads(-1) == 1
        # an explicit positive n_jobs is taken as is
        assert _threads._effective_n_threads(2) == 2
    assert _threads._effective_n_threads(None) == n_all


def test_openmp_runtime_visible_to_threadpoolctl():
    # threadpool_limits can only cap meanshift's threads if threadpoolctl
    # sees the OpenMP runtime it is linked with
    if not _core.openmp_enabled():
        pytest.skip("meanshift was built without OpenMP")
    assert any(info["user_api"] == "openmp" for info in threadpool_info())


def test_python_threads_fitting_at_once_get_their_own_results():
    # The kernels release the GIL and keep no module state: fits running in
    # several Python threads at once give exactly what each gives alone.
    from concurrent.futures import ThreadPoolExecutor

    datasets = []
    for seed in range(6):
        X, _ = make_blobs(n_samples=800, n_features=2 + seed % 3, centers=4,
                          cluster_std=1.0, random_state=seed)
        datasets.append((X.astype(np.float32 if seed % 2 else np.float64),
                         dict(bandwidth=1.4 + 0.1 * seed, bin_seeding=seed % 2 == 0)))
    alone = [_fit(X, **params) for X, params in datasets]
    with ThreadPoolExecutor(max_workers=6) as pool:
        together = list(pool.map(lambda item: _fit(item[0], **item[1]), datasets * 2))
    for i, model in enumerate(together):
        assert_bitwise_same(model, alone[i % len(datasets)])
