"""Hostile values: the correct result or a clear exception, never a hang, a
crash or a NaN center.

Each case states the correct answer, derived from the definition of the
flat-kernel mean shift (the points at distance <= bandwidth, their mean,
scikit-learn's ranking, suppression and labelling), and compares with
scikit-learn, the oracle, where scikit-learn itself gets it right.  Where
scikit-learn is wrong (overflowed or underflowed distances) the test says
so and checks the exact answer instead.

Cases that could hang or kill the interpreter run in a subprocess with a
generous time limit (a guard against hangs, not a measurement).
"""

import fractions
import json
import subprocess
import sys
import textwrap
import warnings
from decimal import Decimal

import numpy as np
import pytest
import sklearn.cluster as skc
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_blobs
from sklearn.utils._param_validation import InvalidParameterError
from specs.oracle import assert_bitwise_same, oracle_context

import meanshift
from meanshift import MeanShift, estimate_bandwidth, get_bin_seeds

# the whole file is in the focused subset that tools/sanitize.sh --focused
# (and so .ci/run) runs under ASan+UBSan: `pytest -m sanitize`
pytestmark = pytest.mark.sanitize

EPS = np.finfo(np.float64).eps

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def fit(X, **params):
    """meanshift's fit, on one thread unless n_jobs is given (results do not
    depend on it; on a busy machine a team of threads for a tiny fit costs
    more than the fit)."""
    params.setdefault("n_jobs", 1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Binning data failed")
        return MeanShift(**params).fit(X)


def sk_fit(X, **params):
    with oracle_context():
        return skc.MeanShift(**params).fit(X)


def assert_sane(model, n_samples):
    """Finite centers, labels in range."""
    assert np.isfinite(model.cluster_centers_).all(), model.cluster_centers_
    assert model.labels_.shape == (n_samples,)
    assert model.labels_.min() >= -1
    assert model.labels_.max() < len(model.cluster_centers_)


def assert_same_as_sklearn(ours, ref, bandwidth):
    assert ours.cluster_centers_.shape == ref.cluster_centers_.shape
    assert ours.cluster_centers_.dtype == ref.cluster_centers_.dtype
    assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=0, atol=1e-3 * bandwidth)
    assert_array_equal(ours.labels_, ref.labels_)
    assert ours.n_iter_ == ref.n_iter_


def blobs(n=90, d=2, seed=0, offset=0.0):
    """Three well separated blobs (std 0.5, centers 6 apart) and a
    bandwidth between the blob size and their distance."""
    centers = np.array([[0.0] * d, [6.0] * d, [0.0] * (d - 1) + [-6.0]]) + offset
    X, _ = make_blobs(n_samples=n, centers=centers, cluster_std=0.5, random_state=seed)
    return X, 2.0


def run_isolated(code, tmp_path, timeout=180):
    """Run code in a fresh interpreter (outside the source tree, so that it
    imports the installed package); returns its stdout parsed as JSON lines.
    A hang fails the test after `timeout` seconds; a crash fails it with
    the exit status."""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"did not finish within {timeout} s (hang?)")
    assert proc.returncode == 0, (
        f"the interpreter died with status {proc.returncode}\n"
        f"stdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}"
    )
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


# ---------------------------------------------------------------------------
# Extreme bandwidths
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cluster_all", [True, False])
def test_bandwidth_1e_300_every_distinct_point_is_a_cluster(cluster_all):
    # Points about 1 apart, bandwidth 1e-300: a kernel holds only the
    # copies of its own point, so every distinct point is a center (its
    # copies counted), ranked by count and then by coordinates, and every
    # point is labelled with itself.  (Bin seeding with such a bandwidth:
    # test_bin_seeding_bandwidth_beyond_float32.)
    bin_seeding = False
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 2))
    X = np.vstack([X, X[:5]])  # five points twice
    ours = fit(X, bandwidth=1e-300, cluster_all=cluster_all, bin_seeding=bin_seeding)
    assert_sane(ours, len(X))
    assert len(ours.cluster_centers_) == 30
    assert_array_equal(ours.cluster_centers_[ours.labels_], X)  # own center
    # the doubled points are the strongest centers
    top = {tuple(c) for c in ours.cluster_centers_[:5]}
    assert top == {tuple(x) for x in X[:5]}
    assert ours.n_iter_ == 0
    ref = sk_fit(X, bandwidth=1e-300, cluster_all=cluster_all, bin_seeding=bin_seeding)
    assert_bitwise_same(ours, ref)


@pytest.mark.parametrize(
    "X, expected_centers, expected_labels",
    [
        # 2e-300 apart: farther than the bandwidth, two clusters
        ([[0.0], [2e-300], [5.0]], [[5.0], [2e-300], [0.0]], [2, 1, 0]),
        ([[0.0, 0.0], [1.5e-300, 1.5e-300], [5.0, 5.0]],
         [[5.0, 5.0], [1.5e-300, 1.5e-300], [0.0, 0.0]], [2, 1, 0]),
        # 5e-301 apart: within the bandwidth, one cluster at their mean
        ([[0.0], [5e-301], [5.0]], [[2.5e-301], [5.0]], [0, 0, 1]),
    ],
    ids=["apart_1d", "apart_2d", "within_1d"],
)
@pytest.mark.parametrize("cluster_all", [True, False])
def test_bandwidth_1e_300_distances_below_it(X, expected_centers, expected_labels,
                                             cluster_all):
    # The squares of these distances (and of the bandwidth) underflow to 0
    # in float64: comparing squared distances admits every pair as "within
    # bandwidth".  The answer is the one of the same problem scaled by 1e300.
    X = np.array(X)
    ours = fit(X, bandwidth=1e-300, cluster_all=cluster_all)
    assert_sane(ours, len(X))
    assert_array_equal(ours.labels_, expected_labels)
    assert_allclose(ours.cluster_centers_, expected_centers, rtol=1e-15, atol=0)
    # the same problem in ordinary magnitudes
    big = fit(X * 1e300, bandwidth=1.0, cluster_all=cluster_all)
    assert_array_equal(big.labels_, expected_labels)


@pytest.mark.parametrize("bandwidth", [1e300, 1.7e308])
@pytest.mark.parametrize("bin_seeding", [False, True])
@pytest.mark.parametrize("cluster_all", [True, False])
def test_huge_bandwidth_one_cluster_at_the_mean(bandwidth, bin_seeding, cluster_all):
    # every point is within bandwidth of every seed: one cluster, at the
    # mean of all points, which every seed reaches in one step.  The
    # bandwidth is an np.float64: see the next test for a Python float.
    X, _ = blobs()
    bandwidth = np.float64(bandwidth)
    ours = fit(X, bandwidth=bandwidth, bin_seeding=bin_seeding, cluster_all=cluster_all)
    assert_sane(ours, len(X))
    assert_allclose(ours.cluster_centers_, [X.mean(axis=0)], rtol=1e-13)
    assert_array_equal(ours.labels_, np.zeros(len(X)))
    assert ours.n_iter_ == 0
    ref = sk_fit(X, bandwidth=bandwidth, bin_seeding=bin_seeding, cluster_all=cluster_all)
    assert_same_as_sklearn(ours, ref, 1.0)


@pytest.mark.parametrize(
    "bandwidth, expected",
    [(1e300, "one cluster"), (1e39, "one cluster"), (1e-320, "singletons")],
)
def test_bin_seeding_bandwidth_beyond_float32(bandwidth, expected):
    # get_bin_seeds multiplies float32 cell indices by the bandwidth; for a
    # Python float NumPy does that in float32, where 1e300 and 1e39 are
    # inf (0 * inf = NaN seeds) and 1e-320 is 0 (and x / 1e-320 overflows).
    # scikit-learn then fails with "Input contains NaN" (and meanshift's
    # get_bin_seeds returns the same NaN seeds, for parity).  MeanShift.fit
    # must still give the right clustering -- the origin's cell holds every
    # point for 1e300, every point is its own cluster for 1e-320 -- or say
    # that the bin seeds are the problem; "No point was within bandwidth"
    # would be false here.
    X, _ = blobs(n=30)
    try:
        ours = fit(X, bandwidth=bandwidth, bin_seeding=True)
    except ValueError as exc:
        assert "bin" in str(exc), f"misleading error: {exc}"
        return
    assert_sane(ours, len(X))
    if expected == "one cluster":
        assert_allclose(ours.cluster_centers_, [X.mean(axis=0)], rtol=1e-13)
        assert_array_equal(ours.labels_, np.zeros(len(X)))
    else:
        assert len(ours.cluster_centers_) == len(X)
        assert_array_equal(ours.cluster_centers_[ours.labels_], X)


@pytest.mark.parametrize(
    "bandwidth, far",
    [(1e200, 3e200), (1e200, 1.5e200), (1e300, 1e308), (1e160, 2e160)],
)
def test_huge_bandwidth_seeds_beyond_it(bandwidth, far):
    # The data are near the origin, the seed |far| > bandwidth away: no
    # point is within bandwidth of it (the bandwidth's square overflows to
    # inf, and so does every squared distance; inf <= inf must not admit
    # them).  Alone it is the documented error; with a near seed it is
    # dropped and the fit is the near seed's.
    X, _ = blobs(n=30)
    with pytest.raises(ValueError, match="No point was within bandwidth"):
        fit(X, bandwidth=bandwidth, seeds=[[far, 0.0]])
    with pytest.raises(ValueError, match="No point was within bandwidth"):
        sk_fit(X, bandwidth=bandwidth, seeds=[[far, 0.0]])
    ours = fit(X, bandwidth=bandwidth, seeds=[[far, 0.0], [0.0, 0.0]])
    assert_bitwise_same(ours, fit(X, bandwidth=bandwidth, seeds=[[0.0, 0.0]]))
    assert_allclose(ours.cluster_centers_, [X.mean(axis=0)], rtol=1e-13)
    ref = sk_fit(X, bandwidth=bandwidth, seeds=[[far, 0.0], [0.0, 0.0]])
    assert_same_as_sklearn(ours, ref, 1.0)


# ---------------------------------------------------------------------------
# Huge coordinates
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cluster_all", [True, False])
def test_points_near_float_max_far_apart(cluster_all):
    # every pairwise distance (7e307 at the least, 2.7e308 = inf in float64
    # at the most) exceeds the bandwidth: each point is its own cluster.
    # scikit-learn's overflowed distances merge them all into one (see the
    # README's table of differences).
    X = np.array([[1e308], [-1e308], [1.7e308], [0.0]])
    ours = fit(X, bandwidth=1e307, cluster_all=cluster_all)
    assert_sane(ours, len(X))
    assert len(ours.cluster_centers_) == 4
    assert_array_equal(ours.cluster_centers_[ours.labels_], X)
    # equal counts: ranked by coordinates, descending
    assert_array_equal(ours.cluster_centers_, [[1.7e308], [1e308], [0.0], [-1e308]])
    assert_array_equal(ours.predict(X), ours.labels_)


@pytest.mark.parametrize("bandwidth", ["given", None])
@pytest.mark.parametrize("bin_seeding", [False, True])
def test_blobs_near_float_max(bandwidth, bin_seeding):
    # Blobs at +-1000 (std 1) times 2**1013: coordinates up to ~9e307, so
    # a sum of two of them overflows, and so does a distance between
    # blobs.  Scaling by a power of two is exact: the fit is the ordinary
    # one, its centers exactly scaled.
    small, _ = make_blobs(n_samples=40, centers=[[1000.0, -1000.0], [-1000.0, 1000.0]],
                          cluster_std=1.0, random_state=3)
    factor = 2.0**1013
    X = small * factor
    assert np.abs(X).max() > 8e307
    bw = 2.5 if bandwidth == "given" else None
    ref = fit(small, bandwidth=bw, bin_seeding=bin_seeding)
    ours = fit(X, bandwidth=None if bw is None else bw * factor, bin_seeding=bin_seeding)
    assert_sane(ours, len(X))
    assert len(ours.cluster_centers_) == len(ref.cluster_centers_) >= 2
    assert_array_equal(ours.cluster_centers_, ref.cluster_centers_ * factor)
    assert_array_equal(ours.labels_, ref.labels_)
    assert ours.n_iter_ == ref.n_iter_
    assert_array_equal(ours.predict(X[::3]), ref.predict(small[::3]))
    assert estimate_bandwidth(X) == estimate_bandwidth(small) * factor


# ---------------------------------------------------------------------------
# Tiny and subnormal coordinates
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("exponent", [-600, -1000])
@pytest.mark.parametrize("bin_seeding", [False, True])
def test_squared_distances_underflow(exponent, bin_seeding):
    # Coordinates around 2**-600 (or 2**-1000) are ordinary floats, but
    # their squared distances underflow to 0, so every point looks within
    # any bandwidth of every other.  Scaling by a power of two is exact (as
    # meanshift does for huge values), so the correct fit is the ordinary
    # one with its centers scaled -- the mirror image of
    # test_huge_magnitudes_give_the_scaled_result.  scikit-learn gets this
    # wrong too (one cluster).
    small, bandwidth = blobs(offset=20.0)
    factor = 2.0**exponent
    X = small * factor
    ref = fit(small, bandwidth=bandwidth, bin_seeding=bin_seeding)
    assert len(ref.cluster_centers_) == 3
    ours = fit(X, bandwidth=bandwidth * factor, bin_seeding=bin_seeding)
    assert_sane(ours, len(X))
    assert_array_equal(ours.labels_, ref.labels_)
    assert_array_equal(ours.cluster_centers_, ref.cluster_centers_ * factor)
    assert ours.n_iter_ == ref.n_iter_
    assert_array_equal(ours.predict(X), ref.predict(small))
    orphans = fit(X, bandwidth=bandwidth * factor / 4, cluster_all=False)
    ref_orphans = fit(small, bandwidth=bandwidth / 4, cluster_all=False)
    assert_array_equal(orphans.labels_, ref_orphans.labels_)


def test_estimate_bandwidth_squared_distances_underflow():
    small, _ = blobs(offset=20.0)
    factor = 2.0**-600
    assert estimate_bandwidth(small) > 0
    assert estimate_bandwidth(small * factor) == estimate_bandwidth(small) * factor


def test_subnormal_coordinates():
    # coordinates around 1e-310 are subnormal (about 13 significant digits
    # left): the clustering is the one of the unscaled data, the centers
    # equal up to that precision
    small, bandwidth = blobs(offset=20.0)
    scale = 1e-310
    ref = fit(small, bandwidth=bandwidth)
    ours = fit(small * scale, bandwidth=bandwidth * scale)
    assert_sane(ours, len(small))
    assert_array_equal(ours.labels_, ref.labels_)
    assert_allclose(ours.cluster_centers_, ref.cluster_centers_ * scale, rtol=0,
                    atol=1e-6 * bandwidth * scale)


@pytest.mark.parametrize("cluster_all", [True, False])
def test_smallest_subnormal_lattice(cluster_all):
    # Multiples of the smallest subnormal, 5e-324: c - 1, c, c + 1 (in those
    # units) for c = 40, 80, 200, bandwidth 5 units.  Every mean is a whole
    # number of units, so the scaled problem is exactly the integer one:
    # centers 200, 80, 40 (equal counts: by coordinate, descending).
    unit = 5e-324
    ints = (np.array([40, 80, 200])[:, None] + np.array([-1, 0, 1])).reshape(-1, 1)
    expected_labels = [2, 2, 2, 1, 1, 1, 0, 0, 0]
    ref = fit(ints.astype(float), bandwidth=5.0, cluster_all=cluster_all)
    assert_array_equal(ref.cluster_centers_, [[200.0], [80.0], [40.0]])
    assert_array_equal(ref.labels_, expected_labels)
    ours = fit(ints * unit, bandwidth=5 * unit, cluster_all=cluster_all)
    assert_sane(ours, len(ints))
    assert_array_equal(ours.cluster_centers_, [[200 * unit], [80 * unit], [40 * unit]])
    assert_array_equal(ours.labels_, expected_labels)


# ---------------------------------------------------------------------------
# Degenerate shapes
# ---------------------------------------------------------------------------

IDENTICAL_VALUES = {
    "2.5": 2.5,
    "-0.375": -0.375,
    "1.5*2**996": 1.5 * 2.0**996,  # ~1e300
    "1.5*2**-996": 1.5 * 2.0**-996,  # ~2e-300
    "3*2**-1074": 3 * 2.0**-1074,  # subnormal
}


@pytest.mark.parametrize("bandwidth", [1.0, None])
@pytest.mark.parametrize("bin_seeding", [False, True])
@pytest.mark.parametrize("value", list(IDENTICAL_VALUES))
def test_all_points_identical(value, bandwidth, bin_seeding):
    # One cluster, exactly at the value (with few significant bits, so that
    # the sum of the copies and their mean are exact in any order), every
    # label 0, reached at the first step from a point (from a bin seed at
    # the second); with bandwidth=None the estimate is 0, the kernel holds
    # exactly the copies and the bins are the points.
    # Bin seeding at 1e300 with bandwidth 1: the cell index, 1e300, is inf
    # in the float32 that bin seeds are held in (scikit-learn fails too):
    # there an error that names the bins is acceptable.
    v = IDENTICAL_VALUES[value]
    X = np.full((37, 3), v)
    cells_beyond_float32 = bandwidth is not None and abs(v) / bandwidth > 3e38
    for cluster_all in (True, False):
        try:
            ours = fit(X, bandwidth=bandwidth, bin_seeding=bin_seeding,
                       cluster_all=cluster_all)
        except ValueError as exc:
            if bin_seeding and cells_beyond_float32 and "bin" in str(exc):
                return
            raise
        assert_sane(ours, len(X))
        assert_array_equal(ours.cluster_centers_, [[v, v, v]])
        assert_array_equal(ours.labels_, np.zeros(len(X)))
        # a second iteration only if the first step (seed -> v) moved more
        # than the convergence threshold
        seed = round(v / bandwidth) * bandwidth if bin_seeding and bandwidth else v
        moved = np.sqrt(3) * abs(seed - v) > 1e-3 * (bandwidth or 0.0)
        assert ours.n_iter_ == (1 if moved else 0)
        assert_array_equal(ours.predict([[0.0, 0.0, 0.0], [v, v, v]]), [0, 0])
    if abs(v) < 1e10 and abs(v) > 1e-10:  # scikit-learn's squares do not overflow
        assert_same_as_sklearn(ours, sk_fit(X, bandwidth=bandwidth, bin_seeding=bin_seeding,
                                            cluster_all=False), 1.0)


def test_many_identical_points():
    # the tree's quickselect on 5000 equal keys, and all of them as seeds
    X = np.full((5000, 2), 1.25)
    X[::1000] = -3.0  # five others, one cluster of their own
    for bin_seeding in (False, True):
        ours = fit(X, bandwidth=0.5, bin_seeding=bin_seeding)
        assert_array_equal(ours.cluster_centers_, [[1.25, 1.25], [-3.0, -3.0]])
        assert_array_equal(ours.labels_, (X[:, 0] == -3.0).astype(int))


@pytest.mark.parametrize(
    "params",
    [
        dict(bandwidth=1.0),
        dict(bandwidth=None),
        dict(bandwidth=1e-300),
        dict(bandwidth=1.0, bin_seeding=True),
        dict(bandwidth=1.0, cluster_all=False),
        dict(bandwidth=1.0, seeds=[[1.5, -2.0], [100.0, 100.0]]),
        dict(bandwidth=1.0, seeds=[[2.0, -2.5]]),
        dict(bandwidth=1.0, max_iter=0),
    ],
    ids=["bw", "estimated", "tiny_bw", "bins", "no_cluster_all", "far_seed", "near_seed",
         "max_iter_0"],
)
def test_single_sample(params):
    X = np.array([[1.5, -2.0]])
    ours = fit(X, **params)
    assert_array_equal(ours.cluster_centers_, X)
    assert_array_equal(ours.labels_, [0])
    assert_array_equal(ours.predict([[1e6, -1e6]]), [0])
    assert_bitwise_same(ours, sk_fit(X, **params))


def test_single_sample_far_seed():
    X = np.array([[1.5, -2.0]])
    for impl in (fit, sk_fit):
        with pytest.raises(ValueError, match="No point was within bandwidth"):
            impl(X, bandwidth=1.0, seeds=[[5.0, 5.0]])


@pytest.mark.parametrize("bin_seeding", [False, True])
@pytest.mark.parametrize("bandwidth", [1.0, 2.0, 1.5])
def test_single_feature_lattice(bandwidth, bin_seeding):
    # integers with multiplicities: distances equal to the bandwidth (1, 2)
    # everywhere, in one dimension
    X = np.random.RandomState(5).randint(0, 15, size=(60, 1)).astype(float)
    ours = fit(X, bandwidth=bandwidth, bin_seeding=bin_seeding)
    assert_sane(ours, len(X))
    assert_same_as_sklearn(ours, sk_fit(X, bandwidth=bandwidth, bin_seeding=bin_seeding),
                           bandwidth)


def test_thousand_features():
    X, _ = make_blobs(n_samples=50, n_features=1000, centers=3, cluster_std=1.0,
                      random_state=0)
    bandwidth = 50.0
    ours = fit(X, bandwidth=bandwidth)
    assert_sane(ours, len(X))
    assert len(ours.cluster_centers_) == 3
    assert_same_as_sklearn(ours, sk_fit(X, bandwidth=bandwidth), bandwidth)
    # float32: the same clustering
    ours32 = fit(X.astype(np.float32), bandwidth=bandwidth)
    assert ours32.cluster_centers_.dtype == np.float32
    assert_array_equal(ours32.labels_, ours.labels_)
    assert_allclose(ours32.cluster_centers_, ours.cluster_centers_, rtol=0,
                    atol=1e-4 * bandwidth)
    # estimated bandwidth: scikit-learn's distances come from a matrix
    # product here (relative rounding ~1e-8)
    with oracle_context():
        ref_bw = skc.estimate_bandwidth(X)
    assert estimate_bandwidth(X) == pytest.approx(ref_bw, rel=1e-6)
    assert_array_equal(fit(X).labels_, ours.labels_)
    # orphans in 1000 dimensions
    few = fit(X, bandwidth=bandwidth, seeds=X[:1], cluster_all=False)
    d = np.linalg.norm(X - few.cluster_centers_[0], axis=1)
    assert_array_equal(few.labels_, np.where(d <= bandwidth, 0, -1))


# ---------------------------------------------------------------------------
# max_iter and n_jobs beyond reason
# ---------------------------------------------------------------------------


# data for the max_iter cases, built the same way here and in the subprocess
_MAX_ITER_DATA = """
import numpy as np
from sklearn.datasets import make_blobs

X_blobs, _ = make_blobs(n_samples=300, centers=4, random_state=0)
X_lattice = np.random.RandomState(1).randint(0, 8, size=(300, 2)).astype(float)
# float32 spacing at 1e6 is 0.0625: the rounding of each mean is of the
# order of the bandwidth
X_coarse = 1e6 + np.random.RandomState(2).normal(scale=0.3, size=(300, 2))
X_coarse = X_coarse.astype(np.float32)
CASES = {
    "blobs": (X_blobs, dict(bandwidth=1.0)),
    "blobs_bins": (X_blobs, dict(bandwidth=1.0, bin_seeding=True)),
    "lattice": (X_lattice, dict(bandwidth=1.0)),
    "lattice_wide": (X_lattice, dict(bandwidth=2.5)),
    "float32_coarse": (X_coarse, dict(bandwidth=0.07)),
}
"""


@pytest.mark.slow
def test_max_iter_huge_returns(tmp_path):
    # A flat-kernel climb cannot cycle or run forever: for
    # J(y) = sum_i max(0, bw^2 - |x_i - y|^2), a step from m to the mean m'
    # of the points S within bandwidth of m gives
    # J(m') >= J(m) + |S| |m' - m|^2, so each step that does not stop
    # (|m' - m| > 1e-3 bw) raises J by more than 1e-6 bw^2, and J <= n bw^2.
    # Rounding m' to the nearest float32 (the seeds and the earlier means
    # are float32 too) keeps J from decreasing.  So max_iter=10**9 (or the
    # largest int64) must return what max_iter=300 returns; run in a
    # subprocess in case it does not.
    results = run_isolated(
        _MAX_ITER_DATA
        + """
import json
from meanshift import MeanShift

for name, (X, params) in CASES.items():
    for max_iter in (10**9, 2**63 - 1):
        m = MeanShift(max_iter=max_iter, **params).fit(X)
        print(json.dumps({
            "name": name, "max_iter": max_iter, "n_iter": m.n_iter_,
            "centers": m.cluster_centers_.astype(float).tolist(),
            "labels": m.labels_.tolist(),
        }))
""",
        tmp_path,
    )
    namespace = {}
    exec(_MAX_ITER_DATA, namespace)
    cases = namespace["CASES"]
    assert [r["name"] for r in results] == [name for name in cases for _ in range(2)]
    for r in results:
        X, params = cases[r["name"]]
        ref = fit(X, **params)  # max_iter=300
        assert ref.n_iter_ < 300
        assert_array_equal(np.array(r["centers"]), ref.cluster_centers_.astype(float))
        assert_array_equal(r["labels"], ref.labels_)
        assert r["n_iter"] == ref.n_iter_


@pytest.mark.parametrize("max_iter", [2**63, 10**30])
def test_max_iter_beyond_int64(max_iter):
    # scikit-learn accepts any non-negative int (Interval(Integral, 0, None))
    # and so must meanshift: the climbs stop long before
    X, bandwidth = blobs(n=40)
    ours = fit(X, bandwidth=bandwidth, max_iter=max_iter)
    assert_bitwise_same(ours, fit(X, bandwidth=bandwidth))
    assert_same_as_sklearn(ours, sk_fit(X, bandwidth=bandwidth, max_iter=max_iter), bandwidth)


@pytest.mark.slow
def test_n_jobs_absurdly_large(tmp_path):
    # n_jobs=10**6 asks for a million threads: the fit must give the
    # one-thread result (e.g. with the thread count capped) or raise a
    # ValueError -- not kill the interpreter (libgomp aborts, or the
    # process segfaults, when thread creation fails).
    results = run_isolated(
        """
        import json, numpy as np
        from meanshift import MeanShift
        X = np.array([[0.0, 0.0], [0.5, 0.0], [5.0, 5.0], [5.0, 5.5]])
        try:
            m = MeanShift(bandwidth=1.0, n_jobs=10**6).fit(X)
            print(json.dumps({"labels": m.labels_.tolist(),
                              "centers": m.cluster_centers_.tolist()}))
        except ValueError as exc:
            print(json.dumps({"error": str(exc)}))
        """,
        tmp_path,
    )
    assert len(results) == 1
    if "error" in results[0]:
        assert "n_jobs" in results[0]["error"]
        return
    X = np.array([[0.0, 0.0], [0.5, 0.0], [5.0, 5.0], [5.0, 5.5]])
    ref = fit(X, bandwidth=1.0, n_jobs=1)
    assert_array_equal(results[0]["labels"], ref.labels_)
    assert_array_equal(results[0]["centers"], ref.cluster_centers_)


def test_n_jobs_very_negative_is_one_thread():
    X, bandwidth = blobs(n=40)
    assert_bitwise_same(fit(X, bandwidth=bandwidth, n_jobs=-(10**6)),
                        fit(X, bandwidth=bandwidth, n_jobs=1))


# ---------------------------------------------------------------------------
# Seeds
# ---------------------------------------------------------------------------


def test_seeds_near_float_max_are_dropped():
    # their squared distances to the data overflow: no point within 1.0
    X, bandwidth = blobs(n=40)
    far = [[1e308, 1e308], [-1e308, 1e308], [1.7e308, -1.7e308]]
    for impl in (fit, sk_fit):
        with pytest.raises(ValueError, match="No point was within bandwidth"):
            impl(X, bandwidth=bandwidth, seeds=far)
    near = [[0.0, 0.0], [6.0, 6.0]]
    ours = fit(X, bandwidth=bandwidth, seeds=far + near)
    assert_bitwise_same(ours, fit(X, bandwidth=bandwidth, seeds=near))
    assert_same_as_sklearn(ours, sk_fit(X, bandwidth=bandwidth, seeds=far + near), bandwidth)


def test_duplicate_seeds():
    X, bandwidth = blobs(n=60)
    seeds = np.repeat([[0.0, 0.0], [6.0, 6.0], [0.0, -6.0]], [100, 50, 1], axis=0)
    ours = fit(X, bandwidth=bandwidth, seeds=seeds)
    assert len(ours.cluster_centers_) == 3
    assert_bitwise_same(ours, fit(X, bandwidth=bandwidth, seeds=np.unique(seeds, axis=0)))
    assert_same_as_sklearn(ours, sk_fit(X, bandwidth=bandwidth, seeds=seeds), bandwidth)


def test_seed_exactly_at_bandwidth():
    # distance == bandwidth is inside: 2 -> {1} -> 1 -> {0, 1} -> 0.5 -> 0.5
    X = np.array([[0.0], [1.0]])
    ours = fit(X, bandwidth=1.0, seeds=[[2.0]])
    assert_array_equal(ours.cluster_centers_, [[0.5]])
    assert ours.n_iter_ == 2
    assert_bitwise_same(ours, sk_fit(X, bandwidth=1.0, seeds=[[2.0]]))
    with pytest.raises(ValueError, match="No point was within bandwidth"):
        fit(X, bandwidth=1.0, seeds=[[np.nextafter(2.0, 3.0)]])


# ---------------------------------------------------------------------------
# Object, boolean and unusual dtypes
# ---------------------------------------------------------------------------


def _object_array(convert):
    X, _ = blobs(n=30)
    rows = np.round(X * 4) / 4  # quarters: exact as fractions and decimals
    return np.array([[convert(v) for v in row] for row in rows], dtype=object), rows


OBJECT_NUMBERS = {
    "float": float,
    "int": lambda v: int(v * 4),  # scaled below
    "fraction": fractions.Fraction,
    "decimal": lambda v: Decimal(repr(float(v))),
    "numeric_string": lambda v: repr(float(v)),
    "np_float32": np.float32,
}


@pytest.mark.parametrize("kind", list(OBJECT_NUMBERS))
def test_object_array_of_numbers(kind):
    X_obj, rows = _object_array(OBJECT_NUMBERS[kind])
    X = rows * 4 if kind == "int" else rows
    bandwidth = 8.0 if kind == "int" else 2.0
    ours = fit(X_obj, bandwidth=bandwidth)
    assert ours.cluster_centers_.dtype == np.float64
    assert_bitwise_same(ours, fit(X, bandwidth=bandwidth))
    assert_same_as_sklearn(ours, sk_fit(X_obj, bandwidth=bandwidth), bandwidth)
    assert_array_equal(ours.predict(X_obj), ours.labels_)
    # as seeds too
    seeded = fit(X, bandwidth=bandwidth, seeds=X_obj[::5])
    assert_bitwise_same(seeded, fit(X, bandwidth=bandwidth, seeds=X[::5]))


OBJECT_BAD = {
    "string": np.array([["a", 1.0], [2.0, 3.0]], dtype=object),
    "none": np.array([[None, 1.0], [2.0, 3.0]], dtype=object),
    "nan": np.array([[np.nan, 1.0], [2.0, 3.0]], dtype=object),
    "complex": np.array([[1j, 1.0], [2.0, 3.0]], dtype=object),
    "list": np.array([[[1.0], 1.0], [2.0, 3.0]], dtype=object),
    # scikit-learn's (NumPy's) conversion raises OverflowError here
    "int_beyond_float": np.array([[10**400, 1], [2, 3]], dtype=object),
}


@pytest.mark.parametrize("case", list(OBJECT_BAD))
def test_object_array_not_numbers(case):
    X = OBJECT_BAD[case]
    with oracle_context(), pytest.raises(Exception) as ref_info:
        skc.MeanShift(bandwidth=1.0).fit(X)
    expected = ref_info.type
    assert issubclass(expected, (ValueError, TypeError, OverflowError))
    with pytest.raises(expected):
        MeanShift(bandwidth=1.0).fit(X)
    with pytest.raises(expected):
        MeanShift(bandwidth=1.0).fit(np.ones((4, 2))).predict(X)
    with pytest.raises(expected):
        MeanShift(bandwidth=1.0, seeds=X).fit(np.ones((4, 2)))


@pytest.mark.parametrize("bandwidth", [1.0, 1.5, None])
@pytest.mark.parametrize("bin_seeding", [False, True])
def test_boolean_arrays(bandwidth, bin_seeding):
    # booleans are numbers (0 and 1) in scikit-learn's checks and in
    # meanshift; the centers are float64
    X = np.random.RandomState(0).rand(40, 4) > 0.6
    ours = fit(X, bandwidth=bandwidth, bin_seeding=bin_seeding)
    assert ours.cluster_centers_.dtype == np.float64
    assert_bitwise_same(ours, fit(X.astype(float), bandwidth=bandwidth, bin_seeding=bin_seeding))
    ref = sk_fit(X, bandwidth=bandwidth, bin_seeding=bin_seeding)
    assert_same_as_sklearn(ours, ref, bandwidth or estimate_bandwidth(X))
    assert_array_equal(ours.predict(X), ref.predict(X))
    seeded = fit(X, bandwidth=1.0, seeds=X[:6])
    assert_bitwise_same(seeded, sk_fit(X, bandwidth=1.0, seeds=X[:6]))


def test_unsigned_integers_near_2_64():
    # uint64 values near 2**64 (exact enough in float64: 3e6 apart).  With
    # bandwidth 2 every point is its own cluster.  scikit-learn gets this
    # wrong (it merges the two large ones).
    X = np.array([[2**64 - 1], [2**64 - 3_000_000], [0]], dtype=np.uint64)
    ours = fit(X, bandwidth=2.0)
    assert len(ours.cluster_centers_) == 3
    assert_array_equal(ours.cluster_centers_[ours.labels_], X.astype(np.float64))


def test_long_double_beyond_float64_is_rejected():
    # 1e400 is finite in long double, inf in float64, where meanshift
    # computes: it must be refused like an inf (scikit-learn refuses it
    # when its neighbour search converts to float64), not clustered
    if np.finfo(np.longdouble).max <= np.finfo(np.float64).max:
        pytest.skip("long double is float64 on this platform")
    X = np.array([[1.0], [2.0], [np.longdouble("1e400")]], dtype=np.longdouble)
    with pytest.raises(ValueError, match="infinity|too large"):
        sk_fit(X, bandwidth=1.5)
    with pytest.raises(ValueError, match="infinity|too large"):
        fit(X, bandwidth=1.5)
    with pytest.raises(ValueError, match="infinity|too large"):
        estimate_bandwidth(X)
    with pytest.raises(ValueError, match="infinity|too large"):
        fit(np.array([[1.0], [2.0]]), bandwidth=1.5).predict(X)
    with pytest.raises(ValueError, match="infinity|too large"):
        fit(np.array([[1.0], [2.0]]), bandwidth=1.5, seeds=X)


# ---------------------------------------------------------------------------
# pandas
# ---------------------------------------------------------------------------


def _frame(columns=("a", "b")):
    pd = pytest.importorskip("pandas")
    X, _ = blobs(n=40)
    return pd, pd.DataFrame(X, columns=list(columns)), X


IMPLS = [pytest.param(MeanShift, id="meanshift"), pytest.param(skc.MeanShift, id="sklearn")]


@pytest.mark.parametrize("impl", IMPLS)
def test_dataframe_mixed_column_name_types(impl):
    pd, df, X = _frame(columns=("a", 1))
    with pytest.raises(TypeError, match="Feature names are only supported if all input"):
        impl(bandwidth=2.0).fit(df)


@pytest.mark.parametrize("impl", IMPLS)
def test_dataframe_feature_name_checks_in_predict(impl):
    pd, df, X = _frame()
    # fitted without names, predicting with them: a warning
    model = impl(bandwidth=2.0).fit(X)
    with pytest.warns(UserWarning, match="X has feature names, but MeanShift was fitted"):
        assert_array_equal(model.predict(df), model.labels_)
    # fitted with names, predicting with other names: an error
    model = impl(bandwidth=2.0).fit(df)
    with pytest.raises(ValueError, match="The feature names should match"):
        model.predict(df.rename(columns={"a": "c"}))
    # fitted with names, predicting without: a warning
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        assert_array_equal(model.predict(X), model.labels_)


@pytest.mark.parametrize("impl", IMPLS)
def test_dataframe_missing_values(impl):
    pd, df, X = _frame()
    with_na = df.astype("Float64")
    with_na.iloc[3, 1] = pd.NA
    with pytest.raises(ValueError, match="Input X contains NaN"):
        impl(bandwidth=2.0).fit(with_na)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        impl(bandwidth=2.0).fit(df).predict(with_na)


def test_dataframe_dtypes_like_sklearn():
    pd, df, X = _frame()
    frames = {
        "Int64": (df * 3).round().astype("Int64"),
        "mixed": pd.DataFrame({"a": X[:, 0].astype(np.float32),
                               "b": np.round(X[:, 1] * 3).astype(np.int32)}),
        "float32": df.astype(np.float32),
        "bool": df > 0,
    }
    for frame in frames.values():
        ours = fit(frame, bandwidth=2.0)
        ref = sk_fit(frame, bandwidth=2.0)
        assert_same_as_sklearn(ours, ref, 2.0)
        assert_array_equal(ours.feature_names_in_, ref.feature_names_in_)
    with pytest.raises(ValueError, match="could not convert string to float"):
        fit(pd.DataFrame({"a": X[:, 0], "b": pd.Categorical(["x", "y"] * 20)}), bandwidth=2.0)
    with pytest.raises(ValueError, match="Expected a 2-dimensional container"):
        fit(df["a"], bandwidth=2.0)


def test_dataframe_seeds():
    # scikit-learn iterates over a DataFrame of seeds (its column names) and
    # fails; meanshift takes it as the array it holds
    pd, df, X = _frame()
    ours = fit(df, bandwidth=2.0, seeds=df.iloc[::8])
    assert_bitwise_same(ours, fit(X, bandwidth=2.0, seeds=X[::8]))


# ---------------------------------------------------------------------------
# Memory: memmaps, strides, alignment, byte order
# ---------------------------------------------------------------------------


def _all_results(X, seeds, bandwidth):
    """Every entry point on X: fits with every seeding, predict,
    estimate_bandwidth, get_bin_seeds."""
    out = {}
    for name, params in {
        "all": {}, "bins": {"bin_seeding": True}, "seeds": {"seeds": seeds},
        "orphans": {"cluster_all": False},
    }.items():
        model = fit(X, bandwidth=bandwidth, **params)
        out[name] = (model.cluster_centers_, model.labels_, model.n_iter_, model.predict(X))
    out["estimated"] = fit(X).labels_
    out["estimate_bandwidth"] = estimate_bandwidth(X, n_samples=len(X) - 3, n_jobs=1)
    out["get_bin_seeds"] = get_bin_seeds(X, bandwidth, min_bin_freq=2)
    return out


def _assert_same_results(a, b):
    assert a.keys() == b.keys()
    for key in a:
        va, vb = a[key], b[key]
        if isinstance(va, tuple):
            for x, y in zip(va, vb, strict=True):
                assert np.asarray(x).dtype == np.asarray(y).dtype, key
                assert_array_equal(x, y, err_msg=key)
        else:
            assert np.asarray(va).dtype == np.asarray(vb).dtype, key
            assert_array_equal(va, vb, err_msg=key)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["r", "c"])
def test_memmap_inputs(tmp_path, mode, dtype):
    X, bandwidth = blobs(n=60, d=3)
    X = X.astype(dtype)
    seeds = X[::7].copy()
    path_X, path_s = tmp_path / "X.dat", tmp_path / "seeds.dat"
    X.tofile(path_X)
    seeds.tofile(path_s)
    mX = np.memmap(path_X, dtype=dtype, mode=mode, shape=X.shape)
    ms = np.memmap(path_s, dtype=dtype, mode=mode, shape=seeds.shape)
    assert mX.flags.writeable == (mode == "c")
    _assert_same_results(_all_results(mX, ms, bandwidth), _all_results(X, seeds, bandwidth))
    # the files are untouched
    assert_array_equal(np.fromfile(path_X, dtype=dtype).reshape(X.shape), X)
    assert_array_equal(np.fromfile(path_s, dtype=dtype).reshape(seeds.shape), seeds)


def _views():
    X, _ = blobs(n=90, d=3)
    big = np.repeat(np.repeat(X, 3, axis=0), 2, axis=1)  # room for strides
    F32 = np.asfortranarray(X.astype(np.float32))
    return {
        "reversed_both": X[::-1, ::-1],
        "rows_step_-3": big[::-3, ::2],
        "F_reversed_cols": np.asfortranarray(X)[:, ::-1],
        "F_float32_reversed": F32[::-1, ::-1],
        "transposed_negative": np.ascontiguousarray(X.T)[::-1].T,
    }


VIEWS = _views()


@pytest.mark.parametrize("view", list(VIEWS))
def test_strided_views(view):
    V = VIEWS[view]
    assert min(V.strides) < 0
    C = np.ascontiguousarray(V)
    seeds_view = V[::-9]
    _assert_same_results(_all_results(V, seeds_view, 2.0),
                         _all_results(C, np.ascontiguousarray(seeds_view), 2.0))


def test_unaligned_and_big_endian_float64():
    X, bandwidth = blobs(n=60, d=3)
    buf = bytearray(X.nbytes + 1)
    unaligned = np.frombuffer(buf, dtype=np.float64, offset=1, count=X.size).reshape(X.shape)
    unaligned[...] = X
    assert not unaligned.flags.aligned
    reference = _all_results(X, X[::7].copy(), bandwidth)
    _assert_same_results(_all_results(unaligned, unaligned[::7], bandwidth), reference)
    big_endian = X.astype(">f8")
    _assert_same_results(_all_results(big_endian, big_endian[::7], bandwidth), reference)


def test_big_endian_float32_keeps_float32():
    # a byte order is no reason to change the dtype of the centers:
    # scikit-learn's are float32 for '>f4' data, as for '<f4'
    X, bandwidth = blobs(n=60, d=3)
    X32 = X.astype(np.float32)
    ours = fit(X32.astype(">f4"), bandwidth=bandwidth)
    ref = sk_fit(X32.astype(">f4"), bandwidth=bandwidth)
    assert ref.cluster_centers_.dtype == np.float32
    assert ours.cluster_centers_.dtype == np.float32
    assert_bitwise_same(ours, fit(X32, bandwidth=bandwidth))


# ---------------------------------------------------------------------------
# NaN and inf in unusual containers
# ---------------------------------------------------------------------------


def _non_finite_cases():
    X, _ = blobs(n=30)
    cases = {}
    a = np.asfortranarray(X.astype(np.float32))[::-1]
    a = a.copy(order="K")
    a[4, 1] = np.nan
    cases["F_float32_nan"] = a[::-1]
    b = X.astype(">f8")
    b[2, 0] = -np.inf
    cases["big_endian_-inf"] = b
    c = X.astype(object)
    c[7, 0] = float("inf")
    cases["object_inf"] = c
    d = np.repeat(X, 2, axis=0)
    d[10, 1] = np.nan
    cases["strided_nan"] = d[::2]
    e = X.astype(np.float16)
    e[0, 0] = np.inf
    cases["float16_inf"] = e
    return cases


NON_FINITE = _non_finite_cases()


@pytest.mark.parametrize("case", list(NON_FINITE))
def test_non_finite_values_rejected(case):
    X = NON_FINITE[case]
    good, _ = blobs(n=30)
    for call in (
        lambda: MeanShift(bandwidth=2.0).fit(X),
        lambda: MeanShift(bandwidth=2.0, bin_seeding=True).fit(X),
        lambda: MeanShift().fit(X),
        lambda: estimate_bandwidth(X),
        lambda: MeanShift(bandwidth=2.0).fit(good).predict(X),
        lambda: MeanShift(bandwidth=2.0, seeds=X).fit(good),
    ):
        with pytest.raises(ValueError, match="NaN|infinity"):
            call()
    with oracle_context(), pytest.raises(ValueError, match="NaN|infinity"):
        skc.MeanShift(bandwidth=2.0).fit(X)


# ---------------------------------------------------------------------------
# Found by tools/fuzz.py
# ---------------------------------------------------------------------------


def test_none_in_object_input_is_nan():
    # check_array lets None through as NaN in object arrays; scikit-learn's
    # NearestNeighbors then refuses it, and so must we, everywhere
    bad = np.array([[None, 1.0], [1.0, 2.0], [2.0, 3.0]], dtype=object)
    with pytest.raises(ValueError, match="NaN"):
        meanshift.estimate_bandwidth(bad)
    with pytest.raises(ValueError, match="NaN"):
        meanshift.mean_shift(bad, bandwidth=2.0)
    with pytest.raises(ValueError, match="seeds contains NaN"):
        meanshift.mean_shift(bad[1:].astype(float), bandwidth=2.0, seeds=bad)
    model = meanshift.MeanShift(bandwidth=2.0).fit(bad[1:].astype(float))
    with pytest.raises(ValueError, match="NaN"):
        model.predict(bad)


def test_misaligned_arrays_are_copied_not_read_in_place():
    # a float64 view at an odd byte offset: reading it as double is
    # undefined behaviour (UBSan aborts); the kernels get an aligned copy
    buf = np.zeros(8 * 40 + 1, np.uint8)
    U = buf[1:].view(np.float64).reshape(20, 2)
    U[:] = np.random.default_rng(0).normal(size=(20, 2))
    assert not U.flags.aligned
    A = U.copy()
    for fn in (
        lambda X: meanshift.mean_shift(X, bandwidth=1.0),
        lambda X: meanshift.mean_shift(X, bandwidth=1.0, bin_seeding=True),
        lambda X: (meanshift.estimate_bandwidth(X),),
        lambda X: (meanshift.get_bin_seeds(X, 0.5),),
        lambda X: (meanshift.MeanShift(bandwidth=1.0).fit(A).predict(X),),
        lambda X: meanshift.mean_shift(A, bandwidth=1.0, seeds=X[:5]),
    ):
        for a, b in zip(fn(U), fn(A), strict=True):
            assert_array_equal(a, b)


def test_extreme_values_never_raise_overflow_error():
    # the bandwidth of data spanning the whole float range overflows float64
    # in the caller's units: inf, not an OverflowError
    bw = meanshift.estimate_bandwidth([[-1.7e308], [1.7e308]], quantile=1.0)
    assert bw == np.inf
    X = np.array([[1.7e308, -1.7e308], [-1.7e308, 1.7e308], [1e308, 1e308]])
    centers, labels = meanshift.mean_shift(X, bandwidth=1e308)
    assert np.isfinite(centers).all() and len(labels) == 3
    with pytest.raises(InvalidParameterError, match="'bandwidth' parameter"):
        meanshift.MeanShift(bandwidth=10**400).fit(X)


@pytest.mark.parametrize("n, min_bin_freq", [(2, 0), (2, 1), (3, 5), (1, 1), (0, 1)])
def test_get_bin_seeds_without_features(n, min_bin_freq):
    # every point lies in the one empty cell: scikit-learn returns it as a
    # (1, 0) array (or X itself when that is one point), found by the fuzzer
    X = np.zeros((n, 0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = get_bin_seeds(X, 1.0, min_bin_freq)
        ref = skc.get_bin_seeds(X, 1.0, min_bin_freq)
    assert ours.shape == ref.shape and ours.dtype == ref.dtype


@pytest.mark.parametrize("huge", [1e170, 1e300, 1.7e308, -1.7e308])
def test_predict_a_huge_row_relabels_no_other_row(huge):
    # one row whose squared distances overflow was rescaled with all the
    # others, whose distances then underflowed: every row got label 0
    X4 = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    model = fit(X4, bandwidth=1.0)
    assert_array_equal(model.predict([[0, 0], [5, 5]]), [1, 0])
    Q = np.array([[0.0, 0.0], [5.0, 5.0], [huge, 0.0]])
    labels = model.predict(Q)
    assert_array_equal(labels[:2], [1, 0])
    # the huge row: every center is at the same rounded distance in
    # float64; the first (strongest) wins ties, as scikit-learn's does
    with oracle_context():
        ref = skc.MeanShift(bandwidth=1.0).fit(X4).predict(Q)
    assert_array_equal(labels, ref)


def test_predict_each_row_on_its_own_scale():
    # tiny centers: rows of their size and rows of size 1 and 1e300 in one
    # call, each labelled as if it were alone
    C = np.array([[1e-300, 0.0], [2e-300, 0.0], [5e-300, 5e-300]])
    model = MeanShift(bandwidth=1e-300)
    model.cluster_centers_ = C
    model.n_features_in_ = 2
    rows = np.array([[1.1e-300, 0.0], [1.9e-300, 0.0], [4e-300, 6e-300],
                     [1.0, 1.0], [1e300, 1e300], [-1e300, 0.0]])
    alone = np.array([model.predict(r[None])[0] for r in rows])
    assert_array_equal(alone[:3], [0, 1, 2])
    assert_array_equal(model.predict(rows), alone)
    # many centers (a tree over them): the same rule
    many = np.vstack([C, 1e-300 * (10 + np.arange(60.0))[:, None] * [1.0, 1.0]])
    model.cluster_centers_ = many
    alone = np.array([model.predict(r[None])[0] for r in rows])
    assert_array_equal(alone[:3], [0, 1, 2])
    assert_array_equal(model.predict(rows), alone)
