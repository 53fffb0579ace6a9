"""meanshift.dask against one machine: the same labels, centers equal to
rounding (bit-identical where the sums are exact), for every chunking.

The quick cases run on Dask's synchronous scheduler; the rest on a real
``distributed.LocalCluster`` of worker processes that a fixture starts and
closes: agreement, a worker killed mid-fit, Ctrl-C, and a check that no
task receives all of X.
"""

import contextlib
import copy
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

from sklearn.datasets import make_blobs  # noqa: E402
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402
from specs.reference import Reference  # noqa: E402

import meanshift  # noqa: E402
import meanshift.dask as md  # noqa: E402
from meanshift import _dask_tasks, _work  # noqa: E402


def dyadic_blobs(n=1500, d=2, centers=4, seed=0, dtype=np.float64):
    """Blobs on a grid of 1/8: every sum of coordinates is exact, so the
    order in which partial sums add cannot change a bit of any mean."""
    X, _ = make_blobs(n, n_features=d, centers=centers, cluster_std=0.9,
                      random_state=seed)
    return (np.round(X * 8) / 8).astype(dtype)


def chunked(X, chunks):
    return da.from_array(X, chunks=(chunks, X.shape[1]))


def uneven(X, sizes):
    assert sum(sizes) == len(X)
    return da.from_array(X, chunks=(tuple(sizes), X.shape[1]))


@pytest.fixture
def sync():
    with dask.config.set(scheduler="sync"):
        yield


def assert_same_fit(ours, ref, exact=True, rtol=1e-12):
    labels = np.asarray(ours.labels_)
    if not isinstance(ours.labels_, np.ndarray):
        labels = ours.labels_.compute()
    np.testing.assert_array_equal(labels, ref.labels_)
    assert ours.cluster_centers_.dtype == ref.cluster_centers_.dtype
    assert ours.cluster_centers_.shape == ref.cluster_centers_.shape
    if exact:
        np.testing.assert_array_equal(ours.cluster_centers_, ref.cluster_centers_)
    else:
        np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_,
                                   rtol=rtol, atol=0)
    assert ours.n_iter_ == ref.n_iter_
    assert ours.bandwidth_ == ref.bandwidth_


# ---------------------------------------------------------------------------
# Agreement with one machine (synchronous scheduler)
# ---------------------------------------------------------------------------

CHUNKINGS = {
    "one chunk": lambda n: n,
    "many chunks": lambda n: max(1, n // 9),
    "uneven": None,
    "odd size": lambda n: 97,
}


def slow_for(values, slow):
    """``values`` as parameters, those in ``slow`` marked slow."""
    return [pytest.param(v, marks=pytest.mark.slow) if v in slow else v for v in values]


def dask_input(X, how):
    n = len(X)
    if how == "uneven":
        cut = [n // 2, n // 3, n - n // 2 - n // 3 - 1, 1]
        return uneven(X, cut)
    return chunked(X, CHUNKINGS[how](n))


@pytest.mark.parametrize("how", slow_for(CHUNKINGS, {"many chunks", "odd size"}))
@pytest.mark.parametrize(
    "params",
    [
        dict(bandwidth=1.5, bin_seeding=True),
        dict(bandwidth=1.5),
        dict(bandwidth=1.2, bin_seeding=True, min_bin_freq=5, cluster_all=False),
        dict(bandwidth=1.5, label_by="attractor"),
        dict(bandwidth=1.5, bin_seeding=True, label_by="attractor", cluster_all=False),
        dict(bandwidth=1.0, max_iter=3, bin_seeding=True),
        dict(bandwidth=1.5, algorithm="grid"),
        dict(bandwidth=1.5, algorithm="grid", grid_resolution=2.0,
             label_by="attractor", cluster_all=False),
    ],
    ids=["bin", "all-points", "min-freq-orphans", "attractor", "attractor-bin",
         "max-iter", "grid", "grid-attractor-orphans"],
)
def test_same_as_one_machine_exact_sums(sync, how, params, global_dtype):
    X = dyadic_blobs(600, dtype=global_dtype)
    ref = meanshift.MeanShift(**params).fit(X)
    ours = md.MeanShift(**params).fit(dask_input(X, how))
    assert isinstance(ours.labels_, da.Array)
    assert ours.labels_.chunks[0] == dask_input(X, how).chunks[0]
    assert_same_fit(ours, ref)


@pytest.mark.slow
def test_chunks_of_one_row(sync):
    X = dyadic_blobs(30, seed=3)
    for params in (dict(bandwidth=1.5, bin_seeding=True), dict(bandwidth=1.5),
                   dict(bandwidth=1.5, label_by="attractor")):
        ref = meanshift.MeanShift(**params).fit(X)
        ours = md.MeanShift(**params).fit(chunked(X, 1))
        assert ours.labels_.numblocks[0] == len(X)
        assert_same_fit(ours, ref)


@pytest.mark.parametrize("how", slow_for(["one chunk", "many chunks", "uneven"], {"many chunks"}))
def test_same_as_one_machine_real_data(sync, how):
    """Random (not dyadic) coordinates: the sums round differently, the
    centers agree to rounding and the labels are the same."""
    X, _ = make_blobs(900, n_features=3, centers=5, random_state=7)
    for params in (dict(bandwidth=2.0, bin_seeding=True), dict(bandwidth=2.0)):
        ref = meanshift.MeanShift(**params).fit(X)
        ours = md.MeanShift(**params).fit(dask_input(X, how))
        assert_same_fit(ours, ref, exact=False)


@pytest.mark.parametrize(
    "kernel", slow_for(["flat", "epanechnikov", "gaussian"], {"epanechnikov", "gaussian"})
)
@pytest.mark.parametrize("weights", ["none", "integer", "real", "zeros"])
def test_weights_and_kernels(sync, kernel, weights):
    X = dyadic_blobs(500, seed=1)
    rng = np.random.default_rng(0)
    w = {
        "none": None,
        "integer": rng.integers(1, 4, len(X)).astype(float),
        "real": rng.uniform(0.5, 2.0, len(X)),
        "zeros": np.where(np.arange(len(X)) % 4 == 0, 0.0, 1.0),
    }[weights]
    exact = kernel == "flat" and weights in ("none", "integer", "zeros")
    for params in (dict(bandwidth=1.5, bin_seeding=True), dict(bandwidth=1.5)):
        params["kernel"] = kernel
        ref = meanshift.MeanShift(**params).fit(X, sample_weight=w)
        wd = None if w is None else da.from_array(w, chunks=90)
        ours = md.MeanShift(**params).fit(chunked(X, 90), sample_weight=wd)
        assert_same_fit(ours, ref, exact=exact)


@pytest.mark.parametrize("scale", [2.0**1020, 2.0**-1074])
@pytest.mark.parametrize("bin_seeding", [False, True])
def test_weights_near_the_float_range_as_one_machine(sync, scale, bin_seeding):
    # scaled by a power of two on one machine, chunk by chunk here: the
    # same fit (the total weight overflowed, the subnormal weights lost
    # their bits); with bin seeding, min_bin_freq in the caller's units
    X = dyadic_blobs(400, seed=2)
    w = (np.arange(len(X)) % 3 + 1.0) * scale
    params = dict(bandwidth=1.5, bin_seeding=bin_seeding,
                  min_bin_freq=1 if scale < 1 else 2 * 2**1020)
    if bin_seeding and scale < 1:
        with pytest.raises(ValueError, match="No bin holds min_bin_freq=1 of weight"):
            md.MeanShift(**params).fit(chunked(X, 70), sample_weight=da.from_array(w, chunks=70))
        return
    ref = meanshift.MeanShift(**params).fit(X, sample_weight=w)
    ours = md.MeanShift(**params).fit(chunked(X, 70), sample_weight=da.from_array(w, chunks=70))
    assert_same_fit(ours, ref)
    if not bin_seeding:  # and the fit of the weights 1, 2, 3 they are multiples of
        assert_same_fit(ours, meanshift.MeanShift(**params).fit(X, sample_weight=w / scale))
    # an estimated bandwidth with a total weight beyond float64
    ref = meanshift.MeanShift().fit(X, sample_weight=w)
    ours = md.MeanShift().fit(chunked(X, 70), sample_weight=da.from_array(w, chunks=70))
    assert_same_fit(ours, ref)


def test_weights_spanning_too_wide_a_range_are_refused(sync):
    X = dyadic_blobs(100)
    w = np.ones(len(X))
    w[7] = 5e-324
    with pytest.raises(ValueError, match="sample_weight spans too wide a range"):
        md.MeanShift(bandwidth=1.5).fit(chunked(X, 30), sample_weight=da.from_array(w, chunks=30))


def test_zero_weight_points_ending_at_a_seed_take_its_cluster(sync):
    # the one-machine rule (a climb that ends where a seed's ended takes
    # its cluster), in fit and in predict
    from sklearn.datasets import make_moons

    X = make_moons(200, noise=0.08, random_state=2)[0]
    w = np.random.default_rng(2).integers(0, 4, len(X)).astype(float)
    params = dict(bandwidth=0.3, label_by="attractor")
    ref = meanshift.MeanShift(**params).fit(X, sample_weight=w)
    ours = md.MeanShift(**params).fit(chunked(X, 45), sample_weight=da.from_array(w, chunks=45))
    np.testing.assert_array_equal(np.asarray(ours.labels_), ref.labels_)
    # the definition's labels (specs.reference), which the old rule
    # (the kept center nearest to the end) missed on 8 points here
    expected, ok = Reference(X, 0.3, sample_weight=w).labels("attractor")
    assert ok[np.arange(len(X)), np.asarray(ours.labels_)].all()
    np.testing.assert_array_equal(ours.predict(chunked(X, 60)).compute(), ref.predict(X))


def test_predict_a_huge_row_relabels_no_other_row(sync):
    X4 = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    model = md.MeanShift(bandwidth=1.0).fit(chunked(X4, 2))
    Q = np.array([[0.0, 0.0], [5.0, 5.0], [1e300, 0.0]])
    # one chunk: the huge row and the others in the same task
    np.testing.assert_array_equal(model.predict(chunked(Q, 3)).compute(), [1, 0, 0])


def test_weights_given_as_numpy_with_dask_data(sync):
    X = dyadic_blobs(300)
    w = np.arange(len(X)) % 3 + 1.0
    ref = meanshift.MeanShift(bandwidth=1.5, bin_seeding=True).fit(X, sample_weight=w)
    ours = md.MeanShift(bandwidth=1.5, bin_seeding=True).fit(chunked(X, 70), sample_weight=w)
    assert_same_fit(ours, ref)


def test_given_seeds(sync):
    X = dyadic_blobs(500)
    seeds = X[::37] + 0.25
    ref = meanshift.MeanShift(bandwidth=1.5, seeds=seeds).fit(X)
    ours = md.MeanShift(bandwidth=1.5, seeds=seeds).fit(chunked(X, 64))
    assert_same_fit(ours, ref)


def test_more_seeds_than_one_block(sync, monkeypatch):
    monkeypatch.setattr(md, "_SEED_BLOCK", 7)
    X = dyadic_blobs(400)
    ref = meanshift.MeanShift(bandwidth=1.0, bin_seeding=True).fit(X)
    ours = md.MeanShift(bandwidth=1.0, bin_seeding=True).fit(chunked(X, 64))
    assert len(md.get_bin_seeds(chunked(X, 64), 1.0)) > 7
    assert_same_fit(ours, ref)


def test_integer_data_and_float16(sync):
    X = dyadic_blobs(400) * 8
    for dtype in (np.int64, np.int32, np.float16):
        Xt = X.astype(dtype) if dtype != np.float16 else (X / 8).astype(np.float16)
        ref = meanshift.MeanShift(bandwidth=12 if dtype != np.float16 else 1.5,
                                  bin_seeding=True).fit(Xt)
        ours = md.MeanShift(bandwidth=12 if dtype != np.float16 else 1.5,
                            bin_seeding=True).fit(chunked(Xt, 50))
        assert_same_fit(ours, ref)


def test_huge_magnitudes_are_scaled_exactly(sync):
    X = dyadic_blobs(300) * 2.0**600
    ref = meanshift.MeanShift(bandwidth=1.5 * 2.0**600, bin_seeding=True).fit(X)
    ours = md.MeanShift(bandwidth=1.5 * 2.0**600, bin_seeding=True).fit(chunked(X, 64))
    assert_same_fit(ours, ref)


@pytest.mark.parametrize("label_by", ["nearest", "attractor"])
def test_grid_far_points_keep_their_own_clusters(sync, label_by):
    # the cells of the far points lie beyond float64's indices: one
    # chunk's cells hold values, and every chunk's keys follow
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 1e-9, (200, 1)), [[1e300], [1e300], [2e300], [2e300]]]
    params = dict(bandwidth=1e-9, algorithm="grid", label_by=label_by)
    ref = meanshift.MeanShift(**params).fit(X)
    assert len(ref.cluster_centers_) == 3
    ours = md.MeanShift(**params).fit(chunked(X, 50))
    assert_same_fit(ours, ref, exact=False)
    new = np.array([[1e300], [2e300], [1.2e300], [0.0]])
    np.testing.assert_array_equal(ours.predict(chunked(new, 2)).compute(), [2, 1, 2, 0])


@pytest.mark.parametrize("label_by", ["nearest", "attractor"])
def test_grid_points_between_close_modes_as_one_machine(sync, label_by):
    # the points nearest the middle of two close modes, gathered from the
    # chunks, climb as on one machine (and find the point between them
    # that absorbs both: 3 clusters, not 4)
    X = make_blobs(n_samples=600, centers=[[0, 0], [2.2, 0.9], [7, 7]],
                   cluster_std=0.9, random_state=25)[0]
    params = dict(bandwidth=1.5, algorithm="grid", label_by=label_by)
    ref = meanshift.MeanShift(**params).fit(X)
    assert len(ref.cluster_centers_) == 3
    ours = md.MeanShift(**params).fit(chunked(X, 97))
    assert_same_fit(ours, ref, exact=False)


@pytest.mark.slow
def test_deterministic_for_a_chunking(sync):
    X, _ = make_blobs(700, centers=4, random_state=2)
    a = md.MeanShift(bandwidth=1.3).fit(chunked(X, 80))
    b = md.MeanShift(bandwidth=1.3).fit(chunked(X, 80))
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.labels_.compute(), b.labels_.compute())


def test_mean_shift_function_and_numpy_input(sync):
    X = dyadic_blobs(400)
    centers, labels = md.mean_shift(X, bandwidth=1.5, bin_seeding=True)
    ref_c, ref_l = meanshift.mean_shift(X, bandwidth=1.5, bin_seeding=True)
    assert isinstance(labels, np.ndarray)
    np.testing.assert_array_equal(centers, ref_c)
    np.testing.assert_array_equal(labels, ref_l)


def test_dataframe_input(sync):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X = dyadic_blobs(300)
    df = dd.from_pandas(pd.DataFrame(X, columns=["a", "b"]), npartitions=4)
    ours = md.MeanShift(bandwidth=1.5, bin_seeding=True).fit(df)
    ref = meanshift.MeanShift(bandwidth=1.5, bin_seeding=True).fit(X)
    assert_same_fit(ours, ref)
    assert list(ours.feature_names_in_) == ["a", "b"]


def test_columns_in_several_chunks_are_joined(sync):
    X = dyadic_blobs(300, d=3)
    Xd = da.from_array(X, chunks=(50, 1))
    ours = md.MeanShift(bandwidth=2.0, bin_seeding=True).fit(Xd)
    ref = meanshift.MeanShift(bandwidth=2.0, bin_seeding=True).fit(X)
    assert_same_fit(ours, ref)


def test_bandwidth_estimated_on_all_rows_when_few(sync):
    X = dyadic_blobs(500)
    ours = md.MeanShift(bin_seeding=True).fit(chunked(X, 64))
    ref = meanshift.MeanShift(bin_seeding=True).fit(X)
    assert_same_fit(ours, ref)
    assert md.estimate_bandwidth(chunked(X, 64)) == meanshift.estimate_bandwidth(X)


def test_bandwidth_estimate_samples(sync, monkeypatch):
    monkeypatch.setattr(md, "BANDWIDTH_SAMPLES", 200)
    X, _ = make_blobs(1000, centers=3, random_state=4)
    Xd = chunked(X, 111)
    a = md.estimate_bandwidth(Xd, random_state=3)
    assert a == md.estimate_bandwidth(Xd, random_state=3)
    # the same value as one machine's estimate on the rows drawn
    rows = np.sort(np.random.default_rng(
        np.random.RandomState(3).randint(np.iinfo(np.int32).max)
    ).choice(1000, size=200, replace=False))
    assert a == meanshift.estimate_bandwidth(X[rows])
    b = md.estimate_bandwidth(Xd, n_samples=50, quantile=0.5, random_state=0)
    rows = np.sort(np.random.default_rng(
        np.random.RandomState(0).randint(np.iinfo(np.int32).max)
    ).choice(1000, size=50, replace=False))
    assert b == meanshift.estimate_bandwidth(X[rows], quantile=0.5)


@pytest.mark.parametrize("how", list(CHUNKINGS))
def test_get_bin_seeds(sync, how, global_dtype):
    X = (dyadic_blobs(700) * 1.37).astype(global_dtype)
    for bin_size, freq in ((1.0, 1), (0.5, 3), (2, 1)):
        ref = meanshift.get_bin_seeds(X, bin_size, freq)
        ours = md.get_bin_seeds(dask_input(X, how), bin_size, freq)
        assert ours.dtype == ref.dtype
        np.testing.assert_array_equal(ours, ref)


def test_get_bin_seeds_negative_zero_cells(sync):
    """A cell reached as -0.0 in one chunk and 0.0 in another is one cell,
    with the first one's coordinates (as one machine's hash map)."""
    X = np.array([[-0.2, 1.0], [0.2, 1.0], [0.1, 1.1], [-0.1, 0.9]] * 5)
    ref = meanshift.get_bin_seeds(X, 1.0)
    for c in (1, 2, 3):
        ours = md.get_bin_seeds(chunked(X, c), 1.0)
        np.testing.assert_array_equal(ours, ref)
        np.testing.assert_array_equal(np.signbit(ours), np.signbit(ref))


def test_binning_that_fails_uses_the_points(sync):
    X = np.arange(20.0).reshape(10, 2)
    with pytest.warns(UserWarning, match="Binning data failed"):
        ref = meanshift.MeanShift(bandwidth=0.1, bin_seeding=True).fit(X)
    with pytest.warns(UserWarning, match="Binning data failed"):
        ours = md.MeanShift(bandwidth=0.1, bin_seeding=True).fit(chunked(X, 3))
    assert_same_fit(ours, ref)


def test_predict(sync):
    X = dyadic_blobs(500)
    new = dyadic_blobs(200, seed=9)
    for params in (dict(bandwidth=1.5, bin_seeding=True),
                   dict(bandwidth=1.5, bin_seeding=True, label_by="attractor")):
        ref = meanshift.MeanShift(**params).fit(X)
        ours = md.MeanShift(**params).fit(chunked(X, 64))
        p = ours.predict(chunked(new, 33))
        assert isinstance(p, da.Array) and p.chunks[0] == chunked(new, 33).chunks[0]
        np.testing.assert_array_equal(p.compute(), ref.predict(new))
        q = ours.predict(new)
        assert isinstance(q, np.ndarray)
        np.testing.assert_array_equal(q, ref.predict(new))


def test_refit_with_nearest_drops_the_attractor_state(sync):
    X = dyadic_blobs(300)
    new = dyadic_blobs(50, seed=5)
    model = md.MeanShift(bandwidth=1.5, bin_seeding=True, label_by="attractor")
    model.fit(chunked(X, 64))
    model.set_params(label_by="nearest").fit(chunked(X, 64))
    ref = meanshift.MeanShift(bandwidth=1.5, bin_seeding=True).fit(X)
    np.testing.assert_array_equal(model.predict(new), ref.predict(new))


def test_is_a_scikit_learn_estimator():
    from sklearn.base import clone

    model = md.MeanShift(bandwidth=2.0, kernel="gaussian")
    assert clone(model).get_params() == model.get_params()
    assert set(model.get_params()) == set(meanshift.MeanShift().get_params())


def test_bytes_per_iteration(sync):
    X = dyadic_blobs(400)
    ours = md.MeanShift(bandwidth=1.5, bin_seeding=True).fit(chunked(X, 100))
    n_seeds = len(meanshift.get_bin_seeds(X, 1.5))
    traffic = ours.bytes_per_iteration_
    assert len(traffic) == ours.n_iter_ + 1
    # all seeds move in the first iteration: d positions out, d + 1 sums back,
    # per seed and chunk
    assert traffic[0] == n_seeds * (2 + 3) * 8 * 4
    assert traffic[-1] < traffic[0]


@pytest.mark.parametrize(
    "params",
    [dict(bandwidth=1.5), dict(bandwidth=1.5, bin_seeding=True, label_by="attractor")],
    ids=["points", "bin-attractor"],
)
def test_progress_reports_each_end_once(sync, params):
    """Each climb (the seeds', the points' own for attractor labels, a
    predict's) reports its seeds done, never fewer than before, and its
    end once, last: the iteration still in flight when the last seed
    stops (the client learns counts an iteration late) adds nothing."""
    X = dyadic_blobs(3000, seed=2)
    calls = []
    model = md.MeanShift(verbose=lambda *a: calls.append(a), **params)
    model.fit(chunked(X, 750))
    if "label_by" in params:
        model.predict(chunked(dyadic_blobs(500, seed=3), 200)).compute()
    runs = [[]]
    for call in calls:
        if runs[-1] and (call[0], call[2]) != (runs[-1][-1][0], runs[-1][-1][2]):
            runs.append([])
        runs[-1].append(call)
    assert [r[0][0] for r in runs] == (["climb", "labels", "labels"]
                                       if "label_by" in params else ["climb"])
    for run in runs:
        done = [c[1] for c in run]
        total = run[0][2]
        assert done == sorted(done)
        assert done.count(total) == 1 and done[-1] == total, done[-3:]
        elapsed = [c[3] for c in run]
        assert elapsed == sorted(elapsed)


def test_verbose_prints_the_last_line_once_and_no_early_estimate(sync, capsys):
    """verbose=True on 20,000 seeds in 4 chunks: the last line once; the
    time left only from a rate worth extrapolating (a tenth of the seeds
    done in a second or more, see meanshift._progress), never from the
    few seeds that stop in the first iterations."""
    from meanshift._progress import ESTIMATE_SECONDS, ESTIMATE_SHARE

    Xn, _ = make_blobs(20_000, n_features=2, random_state=0)
    md.MeanShift(bandwidth=1.5, verbose=True).fit(da.from_array(Xn, chunks=5_000))
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    end = "meanshift: climbing 20,000/20,000 seeds (100%)"
    assert lines[-1].startswith(end)
    assert sum(line.startswith(end) for line in lines) == 1, lines
    for line in lines:
        if line.endswith(" left"):
            done = int(line.split()[2].split("/")[0].replace(",", ""))
            elapsed = float(line.split(")")[1].split()[0])
            assert done >= ESTIMATE_SHARE * 20_000 and elapsed >= ESTIMATE_SECONDS, line


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def test_empty_and_bad_input(sync):
    with pytest.raises(ValueError, match="0 sample"):
        md.MeanShift(bandwidth=1.0).fit(da.zeros((0, 2), chunks=(1, 2)))
    with pytest.raises(ValueError, match="0 feature"):
        md.MeanShift(bandwidth=1.0).fit(da.zeros((5, 0), chunks=(2, 1)))
    with pytest.raises(ValueError, match="2D"):
        md.MeanShift(bandwidth=1.0).fit(da.zeros(5, chunks=2))
    X = dyadic_blobs(100)
    X[57, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        md.MeanShift(bandwidth=1.0).fit(chunked(X, 10))
    X[57, 1] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        md.MeanShift(bandwidth=1.0).fit(chunked(X, 10))
    with pytest.raises(ValueError, match="Complex data not supported"):
        md.MeanShift(bandwidth=1.0).fit(da.ones((4, 2), chunks=2, dtype=complex))


def test_bad_weights_and_parameters(sync):
    X = chunked(dyadic_blobs(100), 30)
    for w, match in (
        (-np.ones(100), "Negative values"),
        (np.full(100, np.nan), "Input sample_weight contains NaN"),
        (np.full(100, np.inf), "Input sample_weight contains infinity"),
        (np.zeros(100), "at least one non-zero"),
        (np.ones(99), "sample_weight.shape"),
        (np.ones((100, 2)), "1D array"),
    ):
        with pytest.raises(ValueError, match=match):
            md.MeanShift(bandwidth=1.0).fit(X, sample_weight=w)
    with pytest.raises(InvalidParameterError, match="bandwidth"):
        md.MeanShift(bandwidth=-1.0).fit(X)
    with pytest.raises(InvalidParameterError, match="kernel"):
        md.MeanShift(bandwidth=1.0, kernel="box").fit(X)
    with pytest.raises(ValueError, match="seeds has 3 features"):
        md.MeanShift(bandwidth=1.0, seeds=np.zeros((2, 3))).fit(X)
    with pytest.raises(ValueError, match="No point was within bandwidth"):
        md.MeanShift(bandwidth=1e-3, seeds=np.full((1, 2), 100.0)).fit(X)
    with pytest.raises(ValueError, match="expecting 2 features"):
        md.MeanShift(bandwidth=1.5).fit(X).predict(np.zeros((3, 3)))


def test_caller_arrays_unchanged(sync):
    X = dyadic_blobs(200)
    w = np.arange(200) % 2 + 1.0
    X0, w0 = X.copy(), w.copy()
    md.MeanShift(bandwidth=1.5, label_by="attractor").fit(X, sample_weight=w)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(w, w0)


@pytest.mark.slow
def test_import_meanshift_does_not_import_dask(tmp_path):
    code = ("import sys, meanshift; meanshift.MeanShift; "
            "print('dask' in sys.modules, 'distributed' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True, cwd=tmp_path)
    assert out.stdout.split() == ["False", "False"]


_WORKER_CODE = """
import sys
import numpy as np
from meanshift import _dask_tasks as t
from meanshift._work import _FitPlan

x = np.random.default_rng(0).normal(size=(3000, 2))
w = np.ones(len(x))
for kernel in ("flat", "gaussian"):
    plan = _FitPlan(x.dtype, x.dtype, kernel)
    plan.given(0.5)
    tree = t._build(x, w, plan)
    t._stats(tree)
    seeds = t._point_seeds(x[:50], None, plan)
    step = t._start(seeds)
    step = t._advance(step, [t._partials(step, plan, tree, tree)], [[0, 1]], 0, plan)
    block = t._fold(seeds, step)
    t._unique_centers(block, x.dtype)
    t._nearest_labels(x, x[:3].copy(), plan, True, 1)
    t._merge_cells(t._bin_block(x[:1500], None, plan), t._bin_block(x[1500:], None, plan))
    t._grid_merge(t._grid_block(x[:1500], w[:1500], plan, 0.2),
                  t._grid_block(x[1500:], w[1500:], plan, 0.2))
    t._chunk(x.astype(np.float32), plan)
    t._chunk(np.arange(12).reshape(6, 2), plan)
print("sklearn" in sys.modules, "scipy" in sys.modules)
"""


def test_worker_tasks_do_not_import_scikit_learn(tmp_path):
    """A worker runs a fit's tasks with meanshift._dask_tasks, _work, _grid
    and the kernels: scikit-learn and SciPy (about 120 MiB a worker
    process) stay out."""
    out = subprocess.run([sys.executable, "-c", _WORKER_CODE], capture_output=True,
                         text=True, check=True, cwd=tmp_path)
    assert out.stdout.split() == ["False", "False"], out.stderr


@pytest.mark.parametrize("make", [
    lambda: np.arange(12.0).reshape(6, 2),
    lambda: np.arange(12, dtype=np.float32).reshape(4, 3),
    lambda: np.arange(12).reshape(6, 2),
    lambda: np.arange(12, dtype=np.uint8).reshape(6, 2),
    lambda: (np.arange(12) % 2 == 0).reshape(6, 2),
    lambda: np.arange(12, dtype=np.float16).reshape(6, 2),
    lambda: np.arange(12.0).reshape(6, 2).astype(">f8"),
    lambda: np.asfortranarray(np.arange(12.0).reshape(6, 2)),
    lambda: np.zeros((0, 2)),
    lambda: np.zeros((3, 0)),
    lambda: np.arange(6.0),
    lambda: np.arange(12.0).reshape(6, 2).astype(object),
    lambda: np.arange(12.0).reshape(6, 2) + 1j,
    lambda: np.array([[1.0, np.nan], [2.0, 3.0]]),
    lambda: np.array([[1.0, 2.0], [np.inf, 3.0]], dtype=np.float32),
    lambda: np.array([[1.0, 2.0], [3.0, -np.inf]]),
], ids=["f64", "f32", "int", "uint8", "bool", "f16", "big-endian", "fortran",
        "no-rows", "no-columns", "1-D", "object", "complex", "nan", "inf-f32", "-inf"])
def test_chunk_check_is_check_array(make):
    """A chunk that skips scikit-learn's check_array on the worker (numeric,
    2-D, finite) comes out as through it; any other gets check_array's own
    result or error."""
    from sklearn.utils import check_array

    from meanshift import _dask_tasks
    from meanshift._work import _as_float

    x = make()
    plan = meanshift._work._FitPlan(np.float64, np.float64)
    try:
        expected = _as_float(check_array(x, dtype=None, ensure_min_samples=0,
                                         ensure_2d=True, input_name="X"))
    except ValueError as e:
        with pytest.raises(ValueError) as ours:
            _dask_tasks._chunk(x, plan)
        assert str(ours.value) == str(e)
        return
    got = _dask_tasks._chunk(x, plan)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, expected.astype(np.float64))


@pytest.mark.slow
def test_fresh_workers_fit_without_scikit_learn():
    """On workers that never ran anything else, bin-seeded, attractor and
    grid fits (and their labels) leave scikit-learn out of the workers.
    (SciPy comes with dask.array, which the chunks' own tasks import.)"""
    X = dyadic_blobs(4000, seed=2)
    with own_cluster(2, 1, processes=True) as c:
        Xd = chunked(X, 1000)
        for params in (dict(bandwidth=1.5, bin_seeding=True),
                       dict(bandwidth=1.5, bin_seeding=True, label_by="attractor"),
                       dict(bandwidth=1.5, algorithm="grid", label_by="attractor")):
            model = md.MeanShift(**params).fit(Xd)
            ref = meanshift.MeanShift(**params).fit(X)
            np.testing.assert_array_equal(model.labels_.compute(), ref.labels_)
        loaded = c.run(lambda: "sklearn" in sys.modules)
        del model
    assert not any(loaded.values()), loaded


def _first_line(error):
    return str(error.value).splitlines()[0]


@pytest.mark.parametrize("dtype", ["Int64", "Float64"])
def test_nullable_columns_with_na(sync, dtype):
    """A nullable column holding <NA>: one machine's error, for X (fit and
    predict) and for sample_weight given as such a column."""
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X = dyadic_blobs(40) * 8
    df = pd.DataFrame({"a": pd.array(X[:, 0], dtype=dtype),
                       "b": pd.array(X[:, 1], dtype=dtype)})
    with_na = df.copy()
    with_na.loc[17, "a"] = pd.NA
    with pytest.raises(ValueError) as ref:
        meanshift.MeanShift(bandwidth=12).fit(with_na)
    with pytest.raises(ValueError) as ours:
        md.MeanShift(bandwidth=12).fit(dd.from_pandas(with_na, npartitions=3))
    assert _first_line(ours) == _first_line(ref) == "Input X contains NaN."

    # without <NA>: the fit of one machine
    ref_fit = meanshift.MeanShift(bandwidth=12).fit(df)
    model = md.MeanShift(bandwidth=12).fit(dd.from_pandas(df, npartitions=3))
    assert_same_fit(model, ref_fit)
    with pytest.raises(ValueError) as ref:
        ref_fit.predict(with_na)
    with pytest.raises(ValueError) as ours:
        model.predict(dd.from_pandas(with_na, npartitions=3)).compute()
    assert _first_line(ours) == _first_line(ref) == "Input X contains NaN."

    w = pd.Series(pd.array(np.arange(40) % 3 + 1, dtype=dtype))
    w[5] = pd.NA
    with pytest.raises(ValueError) as ref:
        meanshift.MeanShift(bandwidth=12).fit(df, sample_weight=w)
    for weights in (dd.from_pandas(w, npartitions=3), w):
        with pytest.raises(ValueError) as ours:
            md.MeanShift(bandwidth=12).fit(dd.from_pandas(df, npartitions=3),
                                           sample_weight=weights)
        assert str(ours.value) == str(ref.value) == "Input sample_weight contains NaN."


@pytest.mark.slow
def test_import_without_dask_says_what_to_install(tmp_path):
    """Where Dask is not installed (here: an import hook that refuses it),
    import meanshift works and import meanshift.dask says what to install."""
    code = (
        "import sys, importlib.abc\n"
        "class NoDask(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.partition('.')[0] in ('dask', 'distributed'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NoDask())\n"
        "import meanshift\n"
        "meanshift.MeanShift(bandwidth=1.0).fit([[0.0], [1.0]])\n"
        "print('one machine works', flush=True)\n"
        "import meanshift.dask\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, cwd=tmp_path)
    assert out.returncode != 0
    assert out.stdout.strip() == "one machine works"
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: meanshift.dask needs Dask"), out.stderr
    assert last.endswith('pip install "dask[array]" distributed')
    # meanshift is installed from a clone, not from PyPI: no "meanshift[dask]"
    assert "meanshift[" not in out.stderr


# ---------------------------------------------------------------------------
# On a real LocalCluster of worker processes (every test marked slow: the
# cluster takes seconds to start, each test seconds more)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True,
        dashboard_address=None, worker_dashboard_address=None,
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@contextlib.contextmanager
def own_cluster(n_workers, threads_per_worker, processes):
    """A LocalCluster of this test's own, its client the scheduler of the
    block (the module's client stays the default), closed at the end."""
    cluster = distributed.LocalCluster(
        n_workers=n_workers, threads_per_worker=threads_per_worker,
        processes=processes, dashboard_address=None, worker_dashboard_address=None,
    )
    try:
        with distributed.Client(cluster, set_as_default=False) as c, \
                dask.config.set(scheduler=c):
            yield c
    finally:
        cluster.close()


def _scheduler_tasks(dask_scheduler):
    return len(dask_scheduler.tasks)


def wait_for_no_tasks(client, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.run_on_scheduler(_scheduler_tasks) == 0:
            return True
        time.sleep(0.1)
    return False


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@contextlib.contextmanager
def scheduler_log():
    """The log records of the scheduler (it runs in this process: a
    LocalCluster with worker processes keeps it here) and of this
    process's client, while the block runs."""
    handler = _Records()
    logger = logging.getLogger("distributed")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def assert_no_errors(records):
    bad = []
    for r in records:
        text = r.getMessage() + (r.exc_text or "")
        if r.exc_info and not r.exc_text:
            text += logging.Formatter().formatException(r.exc_info)
        if r.levelno >= logging.ERROR or "AssertionError" in text or "who_wants" in text:
            bad.append(f"{r.name} {r.levelname}: {text}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    "params",
    [
        dict(bandwidth=1.5, bin_seeding=True),
        dict(bandwidth=1.5),
        dict(bandwidth=1.5, label_by="attractor", kernel="epanechnikov"),
        dict(bandwidth=1.5, label_by="attractor", algorithm="grid"),
    ],
    ids=["bin", "all-points", "attractor-epanechnikov", "grid-attractor"],
)
@pytest.mark.slow
def test_cluster_same_as_one_machine(client, params):
    X = dyadic_blobs(800)
    ref = meanshift.MeanShift(**params).fit(X)
    for chunks in (300, (400, 150, 249, 1)):
        ours = md.MeanShift(**params).fit(chunked(X, chunks))
        assert_same_fit(ours, ref, exact=params.get("kernel", "flat") == "flat")
        del ours
    assert wait_for_no_tasks(client), "the fit left tasks on the cluster"


@pytest.mark.slow
@pytest.mark.sanitize
def test_cluster_same_as_one_machine_leaf_columns(client):
    """5 features: the chunk trees scan their leaves by coordinate, with
    and without weights; on a grid of 1/8 every sum is exact, so the
    cluster gives one machine's fit bit for bit."""
    X = dyadic_blobs(1200, d=5, centers=3, seed=4)
    w = np.random.default_rng(4).integers(1, 4, len(X)).astype(np.float64)
    for weights in (None, w):
        ref = meanshift.MeanShift(bandwidth=2.5, bin_seeding=True).fit(X, sample_weight=weights)
        ours = md.MeanShift(bandwidth=2.5, bin_seeding=True).fit(
            chunked(X, 500),
            sample_weight=None if weights is None else da.from_array(weights, chunks=500),
        )
        assert_same_fit(ours, ref, exact=True)
        del ours
    assert wait_for_no_tasks(client), "the fit left tasks on the cluster"


class _InputSizes:
    """A scheduler plugin recording, for every task sent to a worker and by
    task prefix, the largest bytes of its inputs, and of those that worker
    did not hold (sent to it from others)."""

    name = "meanshift-input-sizes"

    def __init__(self):
        self.largest = {}
        self.moved = {}
        self.readers = {}

    def transition(self, key, start, finish, *args, **kwargs):
        if finish == "processing":
            ts = self.scheduler.tasks.get(key)
            if ts is not None:
                prefix = ts.prefix.name
                size = sum(dep.nbytes for dep in ts.dependencies)
                self.largest[prefix] = max(self.largest.get(prefix, 0), size)
                moved = sum(dep.nbytes for dep in ts.dependencies
                            if ts.processing_on not in (dep.who_has or ()))
                self.moved[prefix] = max(self.moved.get(prefix, 0), moved)
                if prefix == "partials":  # the tasks that read each step
                    for dep in ts.dependencies:
                        if dep.prefix.name in ("start", "advance"):
                            self.readers[dep.key] = self.readers.get(dep.key, 0) + 1

    async def start(self, scheduler):
        self.scheduler = scheduler


def _install_plugin(dask_scheduler):
    from distributed.diagnostics.plugin import SchedulerPlugin

    plugin = type("InputSizes", (_InputSizes, SchedulerPlugin), {})()
    plugin.scheduler = dask_scheduler
    dask_scheduler.add_plugin(plugin, name=_InputSizes.name)


def _read_plugin(dask_scheduler):
    plugin = dask_scheduler.plugins.pop(_InputSizes.name)
    return plugin.largest, plugin.moved, plugin.readers


@pytest.mark.slow
def test_no_task_receives_all_of_x(client):
    X = dyadic_blobs(40_000, seed=5)
    Xd = chunked(X, 5_000)  # 8 chunks
    client.run_on_scheduler(_install_plugin)
    try:
        model = md.MeanShift(bandwidth=1.5, bin_seeding=True).fit(Xd)
        labels = model.labels_.sum(keepdims=True).compute()  # labels, not gathered
    finally:
        largest, moved, readers = client.run_on_scheduler(_read_plugin)
    labels = model.labels_.compute()
    ref = meanshift.MeanShift(bandwidth=1.5, bin_seeding=True).fit(X)
    np.testing.assert_array_equal(labels, ref.labels_)
    assert "partials" in largest and "build" in largest
    # the trees were inputs, read where they are: the step's task was sent
    # the seeds only
    assert largest["partials"] > X.nbytes / 16
    assert moved["partials"] < X.nbytes / 64, moved
    # one task per worker thread reads each step, not one per chunk
    assert len(readers) > model.n_iter_
    assert set(readers.values()) <= set(range(1, sum(client.nthreads().values()) + 1))
    # no task was sent more than a chunk (a build that Dask's work stealing
    # moved to another worker), far from X
    assert max(moved.values()) <= X.nbytes / 8, moved


@pytest.mark.slow
def test_a_step_is_read_by_one_task_per_worker_thread():
    """The chunks a worker holds are read by one task per thread of it and
    iteration (_groups): here 8 chunks on one worker of 3 threads, so 3
    tasks read each step; the sums still add in chunk order, so the result
    is one machine's, bit for bit."""
    X = dyadic_blobs(8000, seed=4)
    with own_cluster(1, 3, processes=False) as c:
        c.run_on_scheduler(_install_plugin)
        try:
            ours = md.MeanShift(bandwidth=1.5, bin_seeding=True).fit(chunked(X, 1000))
        finally:
            _, _, readers = c.run_on_scheduler(_read_plugin)
    ref = meanshift.MeanShift(bandwidth=1.5, bin_seeding=True).fit(X)
    assert_same_fit(ours, ref, exact=True)
    assert len(readers) > ours.n_iter_
    assert set(readers.values()) == {3}


@pytest.mark.slow
def test_grid_no_task_receives_all_of_x_and_nothing_stays(client):
    """algorithm="grid": the chunks' cells, not their points, meet; the
    model keeps nothing on the cluster (it pickles and predicts without
    it); weights sum into the cells as on one machine."""
    X = dyadic_blobs(40_000, seed=5)
    w = np.random.default_rng(5).integers(0, 4, len(X)).astype(np.float64)
    Xd = chunked(X, 5_000)  # 8 chunks
    client.run_on_scheduler(_install_plugin)
    try:
        model = md.MeanShift(bandwidth=1.5, algorithm="grid", label_by="attractor").fit(
            Xd, sample_weight=da.from_array(w, chunks=5_000))
        model.labels_.sum(keepdims=True).compute()  # labels, not gathered
    finally:
        largest, moved, _ = client.run_on_scheduler(_read_plugin)
    labels = model.labels_.compute()
    ref = meanshift.MeanShift(bandwidth=1.5, algorithm="grid",
                              label_by="attractor").fit(X, sample_weight=w)
    np.testing.assert_array_equal(labels, ref.labels_)
    np.testing.assert_array_equal(model.cluster_centers_, ref.cluster_centers_)
    assert "grid_block" in largest and "grid_merge" in largest
    # at most a chunk and its weights (a build moved by work stealing)
    assert max(moved.values()) <= (X.nbytes + w.nbytes) / 8, moved
    assert largest["grid_merge"] < X.nbytes / 16  # cells, not points
    assert wait_for_no_tasks(client), "the fit left tasks on the cluster"
    again = pickle.loads(pickle.dumps(model))
    with dask.config.set(scheduler="sync"):
        np.testing.assert_array_equal(again.predict(X), ref.predict(X))


@pytest.mark.slow
def test_killed_worker_mid_fit(client):
    X = dyadic_blobs(6000, seed=6)
    ref = meanshift.MeanShift(bandwidth=1.0, bin_seeding=True).fit(X)
    pids = client.run(os.getpid)
    killed = []

    def progress(stage, done, total, elapsed):
        if not killed:
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    ours = md.MeanShift(bandwidth=1.0, bin_seeding=True, verbose=progress)
    ours.fit(chunked(X, 500))
    assert killed
    assert_same_fit(ours, ref)
    # the nanny started a new worker process in place of the killed one
    client.wait_for_workers(2, timeout=60)
    assert killed[0] not in client.run(os.getpid).values()


@pytest.mark.slow
def test_interrupt_cancels_the_fit(client):
    X = dyadic_blobs(3000, seed=8)
    calls = []

    def interrupt(stage, done, total, elapsed):
        calls.append(done)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with scheduler_log() as records:
        with pytest.raises(KeyboardInterrupt):
            md.MeanShift(bandwidth=1.0, verbose=interrupt).fit(chunked(X, 400))
        assert len(calls) == 2
        assert wait_for_no_tasks(client), "an interrupted fit left tasks on the cluster"
    # cancelled without upsetting the scheduler (Client.cancel of a future
    # whose dependents no client holds fails its `assert ts.who_wants`)
    assert_no_errors(records)


@pytest.mark.parametrize("stage", ["climb", "labels"])
@pytest.mark.slow
def test_interrupt_attractor_fit_releases_everything(client, stage):
    """Interrupted in either climb of an attractor fit (the seeds', or
    the points' own for their labels): the trees, the seed blocks and the
    labels' climbs are all released, and the scheduler logs no error."""
    X = dyadic_blobs(2000, seed=8)
    seen = []

    def interrupt(at, done, total, elapsed):
        seen.append(at)
        if at == stage:
            raise KeyboardInterrupt

    model = md.MeanShift(bandwidth=1.0, bin_seeding=True, label_by="attractor",
                         verbose=interrupt)
    with scheduler_log() as records:
        with pytest.raises(KeyboardInterrupt):
            model.fit(chunked(X, 300))
        assert seen[-1] == stage
        assert wait_for_no_tasks(client), "an interrupted fit left tasks on the cluster"
    assert_no_errors(records)


@pytest.mark.slow
def test_sigint_in_the_client(client):
    """A real Ctrl-C (SIGINT to this process) during a fit on the cluster
    raises KeyboardInterrupt and leaves nothing running."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    X = dyadic_blobs(4000, seed=10)
    started = threading.Event()

    def progress(stage, done, total, elapsed):
        started.set()

    finished = threading.Event()

    def interrupt():
        # again until the fit is over: a SIGINT that lands while the main
        # thread runs a finalizer (a released future's __del__) is swallowed
        # by Python there, as a second Ctrl-C would follow the first
        started.wait(60)
        while not finished.is_set():
            os.kill(os.getpid(), signal.SIGINT)
            finished.wait(0.5)

    in_fit = [True]

    def in_finalizer(frame):
        while frame is not None:
            if frame.f_code.co_name == "__del__":
                return True
            frame = frame.f_back
        return False

    def on_sigint(signum, frame):
        # Ctrl-C's default: KeyboardInterrupt in the main thread; but not in
        # a finalizer, where Python would only print it (the next SIGINT
        # comes soon, as a second Ctrl-C would), and pytest would keep its
        # traceback, and with it the futures of the frames it interrupted,
        # to the end of the test
        if in_fit[0] and not in_finalizer(frame):
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    t = threading.Thread(target=interrupt, daemon=True)
    t.start()
    with scheduler_log() as records:
        try:
            with pytest.raises(KeyboardInterrupt):
                try:
                    md.MeanShift(bandwidth=0.8, verbose=progress,
                                 max_iter=100_000).fit(chunked(X, 500))
                finally:
                    in_fit[0] = False
        finally:
            finished.set()
            t.join(5)
            signal.signal(signal.SIGINT, previous)
        assert wait_for_no_tasks(client), "an interrupted fit left tasks on the cluster"
    assert_no_errors(records)


@pytest.mark.slow
def test_attractor_model_needs_its_client(client):
    """An attractor model keeps its training data on the cluster of the
    client it was fitted with: labels_ and predict work while that client
    is open and say so once it is closed, and pickling refuses the model
    rather than write one that cannot work.  A nearest model holds nothing
    there: it pickles, and its labels_ and predict outlive the client."""
    X = dyadic_blobs(800, seed=11)
    new = dyadic_blobs(100, seed=12)
    Xd = chunked(X, 200)
    ref = meanshift.MeanShift(bandwidth=1.5, label_by="attractor").fit(X)
    other = distributed.Client(client.scheduler.address, set_as_default=False)
    try:
        with other.as_current():
            model = md.MeanShift(bandwidth=1.5, label_by="attractor").fit(Xd)
            nearest = md.MeanShift(bandwidth=1.5).fit(Xd)
            np.testing.assert_array_equal(model.labels_.compute(), ref.labels_)
            np.testing.assert_array_equal(model.predict(new), ref.predict(new))
            twin = copy.deepcopy(model)  # shares the data on the cluster
            np.testing.assert_array_equal(twin.predict(new), ref.predict(new))
            with pytest.raises(pickle.PicklingError, match="cannot be pickled"):
                pickle.dumps(model)
    finally:
        other.close()
    assert distributed.default_client() is client
    np.testing.assert_array_equal(model.cluster_centers_, ref.cluster_centers_)
    with pytest.raises(RuntimeError, match="labels_ .* Dask cluster; that "
                                           "cluster's client is closed"):
        model.labels_  # noqa: B018  (reading the attribute is what raises)
    with pytest.raises(RuntimeError, match="predicts by climbing on its training "
                                           "data, which lives on its Dask cluster; "
                                           "that cluster's client is closed"):
        model.predict(new)
    with pytest.raises(pickle.PicklingError, match="cannot be pickled"):
        pickle.dumps(model)
    del model, twin

    copied = pickle.loads(pickle.dumps(nearest))
    for m in (nearest, copied):
        np.testing.assert_array_equal(
            m.labels_.compute(),
            meanshift.MeanShift(bandwidth=1.5).fit(X).labels_)
        np.testing.assert_array_equal(
            m.predict(new), meanshift.MeanShift(bandwidth=1.5).fit(X).predict(new))
    assert wait_for_no_tasks(client), "the closed client's data is still held"


@pytest.mark.slow
def test_attractor_labels_of_a_sliced_array_reuse_no_key(client):
    """X a slice of a Dask array (its chunks fused with their source by
    Dask's optimisation): an attractor model's predict, computed twice,
    and the labels_ of a fit on such a slice give one machine's labels
    without the scheduler seeing a key come back as another task ("Detected
    different run_spec ... can cause failures and deadlocks")."""
    Xn, _ = make_blobs(20_000, n_features=2, random_state=0)
    X = da.from_array(Xn, chunks=5_000)
    params = dict(bandwidth=1.5, bin_seeding=True, label_by="attractor")
    ref = meanshift.MeanShift(**params).fit(Xn)
    model = md.MeanShift(**params).fit(X)
    with scheduler_log() as records:
        for _ in range(2):
            np.testing.assert_array_equal(model.predict(X[:5]).compute(),
                                          ref.predict(Xn[:5]))
        part = md.MeanShift(**params).fit(X[2_000:13_000])
        np.testing.assert_array_equal(
            part.labels_.compute(),
            meanshift.MeanShift(**params).fit(Xn[2_000:13_000]).labels_)
    reused = [r.getMessage() for r in records
              if "Detected different run_spec" in r.getMessage().replace("`", "")]
    assert not reused, reused[0]
    assert_no_errors(records)
    del model, part
    assert wait_for_no_tasks(client), "the fits left tasks on the cluster"


@pytest.mark.slow
def test_chunk_tree_pickles_as_the_same_tree():
    """A tree Dask moves between workers is rebuilt identically."""
    import pickle

    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 3))
    w = rng.uniform(0, 2, 500)
    seeds = rng.normal(size=(40, 3))
    # weighted with moments; unweighted flat, with leaf columns
    kinds = [(w, "epanechnikov", ("flat", "epanechnikov", "gaussian")),
             (None, "flat", ("flat", "gaussian"))]
    for weights, kind, kernels in kinds:
        tree = _dask_tasks._ChunkTree(x, weights, kind)
        assert (tree.tree.cols is not None) == (kind == "flat")
        copy = pickle.loads(pickle.dumps(tree))
        for kernel in kernels:
            plan = _work._FitPlan(x.dtype, x.dtype, kernel)
            plan.given(0.8)
            a = _dask_tasks._partial(tree, _dask_tasks._Step(seeds), plan)
            b = _dask_tasks._partial(copy, _dask_tasks._Step(seeds), plan)
            np.testing.assert_array_equal(a[0], b[0])
            np.testing.assert_array_equal(a[1], b[1])
        assert copy.stats() == tree.stats()
        assert sys.getsizeof(tree) > x.nbytes * (2 if kind == "flat" else 1)
