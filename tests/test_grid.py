"""The approximate grid mode, ``algorithm="grid"`` (meanshift._grid).

The oracle is a plain numpy reference of the documented rule, written
here: the cells by ``np.floor(X / (bandwidth / grid_resolution))`` (the
value itself where the cells are finer than the floats, ``|x| >= 2**53``
cells) and ``np.unique``, each cell's (weighted) mean summed in row order by
``np.add.at``, the seeds' first steps and the climbs on by the numpy
reference of mean shift (``specs.reference``, itself checked against
scikit-learn), the hand-overs followed one by one in a plain loop, each
point labelled through its cell.  Centers are refereed as in
test_weights_kernels (within 1e-6 * bandwidth, a few ulps for float32);
labels must be the reference's exactly, on data chosen so that no decision
of the reference lies within rounding of its threshold.
"""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.utils._param_validation import InvalidParameterError
from specs import reference as R

from meanshift import MeanShift, mean_shift

# the whole file is in the focused subset that tools/sanitize.sh --focused
# (and so .ci/run) runs under ASan+UBSan: `pytest -m sanitize`
pytestmark = pytest.mark.sanitize


def blobs(n=240, d=2, seed=0, centers=4, std=0.8, dtype=np.float64):
    X = make_blobs(n_samples=n, n_features=d, centers=centers, cluster_std=std,
                   random_state=seed)[0]
    return X.astype(dtype)


def weights_of(kind, n, seed=0):
    rng = np.random.RandomState(seed)
    if kind == "none":
        return None
    if kind == "real":  # multiples of 1/32: exact in float32 and float64
        return rng.randint(1, 97, size=n) / 32
    if kind == "zeros":
        w = rng.randint(1, 97, size=n) / 32
        w[rng.rand(n) < 0.25] = 0.0
        return w
    raise KeyError(kind)


# ---------------------------------------------------------------------------
# The reference of the rule
# ---------------------------------------------------------------------------


def reference_keys(X, side):
    """Each row's cell: per coordinate (the cell's index floor(x / side),
    or the value itself where |x| >= 2**53 side, a cell finer than the
    floats there; and which of the two it is)."""
    X = np.asarray(X, np.float64)
    value = np.abs(X) >= side * 2.0**53
    with np.errstate(all="ignore"):  # the indices not taken
        index = np.floor(X / side) + 0.0
    return np.hstack([np.where(value, X + 0.0, index), value])


def reference_cells(X, bandwidth, resolution, weights):
    """(cell of each row, cell keys, cell positions, cell weights), the
    cells in order of first appearance; a cell's position is the weighted
    mean of its points, or their plain mean where they all weigh 0."""
    side = float(bandwidth) / float(resolution)
    keys = reference_keys(X, side)
    _, first, inv = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    cell = rank[inv.reshape(-1)]
    m = len(order)
    w = np.ones(len(X)) if weights is None else np.asarray(weights, np.float64)
    Xf = X.astype(np.float64)
    wsum = np.zeros(m)
    np.add.at(wsum, cell, w)
    wx = np.zeros((m, X.shape[1]))
    np.add.at(wx, cell, w[:, None] * Xf)
    plain = np.zeros((m, X.shape[1]))
    np.add.at(plain, cell, Xf)
    counts = np.bincount(cell, minlength=m)
    with np.errstate(invalid="ignore", divide="ignore"):
        pos = np.where((wsum > 0)[:, None], wx / wsum[:, None], plain / counts[:, None])
    return cell, keys[first[order]], pos, wsum


def hand_overs(X, bandwidth, resolution, keys, seeds, steps, alive):
    """For each seed, the seed its first step hands over to (-1: it climbs
    on), circles cut at their lowest index, followed one by one: (lands,
    the seed each seed's hand-overs lead to)."""
    side = float(bandwidth) / float(resolution)
    index = {tuple(k): j for j, k in enumerate(keys)}
    steps = np.asarray(steps, np.float64)
    with np.errstate(all="ignore"):
        q = steps / side
        wall = np.abs(q - np.round(q))
    # a step within rounding of a cell's wall: ambiguous, choose other data
    indexed = np.abs(steps) < side * 2.0**53
    assert wall[indexed].min(initial=1) > 1e-9, "a step on a cell wall"
    lands = []
    for j, key in enumerate(reference_keys(steps, side)):
        to = index.get(tuple(key), -1)
        lands.append(-1 if to == j or not alive[j] else to)
    root = []
    for j in range(len(seeds)):
        path = [j]
        while lands[path[-1]] >= 0 and lands[path[-1]] not in path:
            path.append(lands[path[-1]])
        if lands[path[-1]] >= 0:  # a circle: cut at its lowest index
            circle = path[path.index(lands[path[-1]]):]
            lands[min(circle)] = -1
        root.append(None)
    for j in range(len(seeds)):
        r = j
        while lands[r] >= 0:
            r = lands[r]
        root[j] = r
    return np.array(lands), np.array(root)


def ridge_points(X, bandwidth, seeds, weights, max_iter):
    """The points that climb on their own between close modes (flat
    kernel): the modes of the cells' climbs closer than 2 bandwidths whose
    middle weighs at least as much as the heavier of the two (the weight
    within a bandwidth), the points of positive weight within a bandwidth
    of that middle, the min(2048, max(32, 2e7 // n)) nearest (ties by
    coordinates), those of them whose climbs end farther than bandwidth / 4
    from every mode."""
    modes = R.Reference(X, bandwidth, seeds=seeds, sample_weight=weights,
                        max_iter=max_iter).cluster_centers.astype(np.float64)
    w = np.ones(len(X)) if weights is None else np.asarray(weights)
    budget = min(2048, max(32, int(2e7 // len(X))))

    def weight(p):
        return w[np.sum((X.astype(np.float64) - p) ** 2, axis=1) <= bandwidth**2].sum()

    points = set()
    for i in range(len(modes)):
        for j in range(i + 1, len(modes)):
            if not np.sum((modes[i] - modes[j]) ** 2) < (2 * bandwidth) ** 2:
                continue
            middle = (modes[i] + modes[j]) / 2
            if weight(middle) < max(weight(modes[i]), weight(modes[j])):
                continue
            d2 = np.sum((X.astype(np.float64) - middle) ** 2, axis=1)
            rows = [r for r in range(len(X)) if w[r] > 0 and d2[r] <= bandwidth**2]
            rows.sort(key=lambda r: (d2[r], *X[r].tolist()))
            points.update(tuple(X[r].tolist()) for r in rows[:budget])
    if not points:
        return np.zeros((0, X.shape[1]))
    points = np.array(sorted(points))
    climb = R.Reference(X, bandwidth, seeds=points, sample_weight=weights,
                        max_iter=max_iter).climb
    far = [climb.alive[k] and all(np.sum((climb.end[k] - m) ** 2) > (bandwidth / 4) ** 2
                                  for m in modes) for k in range(len(points))]
    return points[np.array(far, dtype=bool)]


def grid_references(X, bandwidth, resolution=3.0, *, weights=None, kernel="flat",
                    label_by="nearest", cluster_all=True, max_iter=300):
    """The outcomes of the documented rule, each (centers, labels,
    n_iter): the reference's, then, where some of the climbs' decisions lie
    within rounding of their thresholds, those with such decisions taken
    the other way (specs.reference.outcomes)."""
    cell, keys, pos, wsum = reference_cells(X, bandwidth, resolution, weights)
    seeded = np.flatnonzero(wsum > 0)
    seeds = pos[seeded]
    first = R.Reference(X, bandwidth, seeds=seeds, sample_weight=weights,
                        kernel=kernel, max_iter=0)
    assert not first.tight
    lands, root = hand_overs(X, bandwidth, resolution, keys[seeded], seeds,
                             first.climb.end, first.climb.alive)
    climbs_on = np.flatnonzero(lands < 0)
    more = np.zeros((0, X.shape[1]))
    if kernel == "flat":
        more = ridge_points(X, bandwidth, seeds[climbs_on], weights, max_iter)
    for ref in R.outcomes(X, bandwidth, seeds=np.r_[seeds[climbs_on], more],
                          sample_weight=weights, kernel=kernel, max_iter=max_iter):
        if label_by == "nearest":
            labels, _ = ref.labels("nearest", cluster_all)
            yield ref.cluster_centers, labels, ref.n_iter
            continue
        climb_label = {}
        for j, c in enumerate(climbs_on):
            if ref.climb.alive[j]:
                climb_label[c] = ref.label_of_key[ref.seed_key[j]]
        cell_label = np.full(len(wsum), -1)
        for j, c in enumerate(seeded):
            cell_label[c] = climb_label.get(root[j], -1)
        rest = np.flatnonzero(cell_label < 0)  # zero weight: climbs from its mean
        if len(rest):
            cell_label[rest] = ref.predict(pos[rest], "attractor")[0]
        labels = cell_label[cell]
        if not cluster_all:
            d = np.sqrt(R.sqdist(ref.cluster_centers, X))
            labels = np.where(d.min(axis=1) > bandwidth, -1, labels)
        yield ref.cluster_centers, labels, ref.n_iter


def mismatch(model, expected, tol):
    centers, labels, n_iter = expected
    if model.cluster_centers_.shape != centers.shape:
        return f"{len(model.cluster_centers_)} centers, expected {len(centers)}"
    err = np.abs(model.cluster_centers_.astype(np.float64) - centers).max()
    if not err <= tol:
        return f"centers differ by {err:.3g}"
    if not np.array_equal(model.labels_, labels):
        return f"{(model.labels_ != labels).sum()} labels differ"
    if model.n_iter_ != n_iter:
        return f"n_iter_ {model.n_iter_}, expected {n_iter}"
    return None


def tolerance(X, bandwidth):
    tol = 1e-6 * bandwidth
    if X.dtype == np.float32:
        tol = max(tol, 4 * float(np.spacing(np.abs(X).max().astype(np.float32))))
    return tol


CASES = {
    "2d": (lambda dtype: blobs(240, 2, seed=0, dtype=dtype), 1.3),
    "3d": (lambda dtype: blobs(200, 3, seed=2, centers=3, std=1.0, dtype=dtype), 2.3),
    "1d": (lambda dtype: blobs(90, 1, seed=3, centers=3, std=0.7, dtype=dtype), 1.2),
}
KERNEL_BW = {"flat": 1.0, "epanechnikov": 1.25, "gaussian": 0.5}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("kernel", ["flat", "epanechnikov", "gaussian"])
@pytest.mark.parametrize("weights", ["none", "real", "zeros"])
@pytest.mark.parametrize("label_by", ["nearest", "attractor"])
@pytest.mark.parametrize("resolution", [1.0, 3.0, 5.5])
def test_matches_the_reference_of_the_rule(name, kernel, weights, label_by, resolution,
                                           global_dtype):
    make, bw = CASES[name]
    X = make(global_dtype)
    bw = bw * KERNEL_BW[kernel]
    w = weights_of(weights, len(X))
    for cluster_all in (True, False):
        model = MeanShift(bandwidth=bw, algorithm="grid", grid_resolution=resolution,
                          kernel=kernel, label_by=label_by,
                          cluster_all=cluster_all).fit(X, sample_weight=w)
        assert model.cluster_centers_.dtype == X.dtype
        outcomes = grid_references(X, bw, resolution, weights=w, kernel=kernel,
                                   label_by=label_by, cluster_all=cluster_all)
        first = mismatch(model, next(outcomes), tolerance(X, bw))
        if first is not None:  # one of the outcomes rounding allows?
            assert any(mismatch(model, o, tolerance(X, bw)) is None
                       for o in outcomes), first


def ridge_blobs():
    """Two overlapping blobs (and a third apart) whose exact fit finds a
    point on the ridge between their modes that absorbs both."""
    return make_blobs(n_samples=600, centers=[[0, 0], [2.2, 0.9], [7, 7]],
                      cluster_std=0.9, random_state=25)[0]


@pytest.mark.parametrize("label_by", ["nearest", "attractor"])
def test_points_between_close_modes_climb_on_their_own(label_by, global_dtype):
    X = ridge_blobs().astype(global_dtype)
    assert len(ridge_points(X, 1.5, reference_cells(X, 1.5, 3.0, None)[2], None, 300))
    model = MeanShift(bandwidth=1.5, algorithm="grid", label_by=label_by).fit(X)
    outcomes = grid_references(X, 1.5, label_by=label_by)
    first = mismatch(model, next(outcomes), tolerance(X, 1.5))
    if first is not None:
        assert any(mismatch(model, o, tolerance(X, 1.5)) is None for o in outcomes), first
    exact = MeanShift(bandwidth=1.5, label_by=label_by).fit(X)
    assert len(model.cluster_centers_) == len(exact.cluster_centers_) == 3
    assert_array_equal(model.labels_, exact.labels_)


@pytest.mark.parametrize("random_state", [0, 2])
def test_blobs_find_the_exact_fits_clusters(random_state):
    # two modes 2.1 apart: between them a point whose ball holds more than
    # either's absorbs both in the exact fit; the grid must find it too
    from sklearn.metrics import adjusted_rand_score

    X = make_blobs(n_samples=10_000, centers=5, random_state=random_state)[0]
    exact = MeanShift(bandwidth=1.5, label_by="attractor").fit(X)
    grid = MeanShift(bandwidth=1.5, algorithm="grid", label_by="attractor").fit(X)
    assert len(grid.cluster_centers_) == len(exact.cluster_centers_)
    assert adjusted_rand_score(exact.labels_, grid.labels_) >= 0.95


def test_reference_cases_are_not_vacuous():
    """The cases above have several clusters, cells holding several
    points, and grid labels that differ from the exact mode's somewhere
    (the grid is an approximation, and the test can tell)."""
    X = CASES["2d"][0](np.float64)
    bw = CASES["2d"][1]
    cell, keys, pos, _ = reference_cells(X, bw, 1.0, None)
    assert len(np.unique(cell)) < len(X) / 3
    # some seeds hand over, some climb on
    first = R.Reference(X, bw, seeds=pos, max_iter=0)
    lands, _ = hand_overs(X, bw, 1.0, keys, pos, first.climb.end, first.climb.alive)
    assert 0 < (lands >= 0).sum() < len(lands)
    grid = MeanShift(bandwidth=bw, algorithm="grid", grid_resolution=1.0,
                     label_by="attractor").fit(X)
    exact = MeanShift(bandwidth=bw, label_by="attractor").fit(X)
    assert len(grid.cluster_centers_) >= 3
    assert (grid.labels_ != exact.labels_).any() or not np.array_equal(
        grid.cluster_centers_, exact.cluster_centers_)


def test_many_points_per_cell_and_fine_grids_approach_exact():
    X = blobs(3000, 2, seed=5, centers=3, std=0.6)
    exact = MeanShift(bandwidth=1.0, label_by="attractor").fit(X)
    for k in (3.0, 8.0):
        grid = MeanShift(bandwidth=1.0, algorithm="grid", grid_resolution=k,
                         label_by="attractor").fit(X)
        assert len(grid.cluster_centers_) == len(exact.cluster_centers_)
        np.testing.assert_allclose(grid.cluster_centers_, exact.cluster_centers_,
                                   atol=0.05)
        assert (grid.labels_ == exact.labels_).mean() > 0.98


# ---------------------------------------------------------------------------
# Threads, weights, dtypes, predict
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("label_by", ["nearest", "attractor"])
@pytest.mark.parametrize("weights", ["none", "zeros"])
def test_same_for_any_number_of_threads(label_by, weights, global_dtype):
    # enough rows that 2 and 3 threads bin in 2 and 3 chunks
    X = blobs(30_000, 2, seed=7, centers=6, std=1.5, dtype=global_dtype)
    w = weights_of(weights, len(X))
    fits = [
        MeanShift(bandwidth=1.0, algorithm="grid", label_by=label_by,
                  n_jobs=n).fit(X, sample_weight=w)
        for n in (1, 2, 3)
    ]
    for other in fits[1:]:
        assert_array_equal(other.cluster_centers_, fits[0].cluster_centers_)
        assert_array_equal(other.labels_, fits[0].labels_)
        assert other.n_iter_ == fits[0].n_iter_


@pytest.mark.parametrize("kernel", ["flat", "epanechnikov", "gaussian"])
@pytest.mark.parametrize("label_by", ["nearest", "attractor"])
def test_integer_weights_are_repeated_rows(kernel, label_by):
    # coordinates on a grid of 1/64: the flat kernel's sums are exact, so
    # bit for bit; a smooth kernel's weights round (the sums add in another
    # order), so equal to rounding
    X = np.round(blobs(300, 2, seed=8) * 64) / 64
    w = np.random.RandomState(8).randint(0, 4, len(X)).astype(np.float64)
    w[0] = 1.0
    bw = 1.2 * KERNEL_BW[kernel]
    ours = MeanShift(bandwidth=bw, algorithm="grid", kernel=kernel,
                     label_by=label_by).fit(X, sample_weight=w)
    rows = np.repeat(np.arange(len(X)), w.astype(int))
    repeated = MeanShift(bandwidth=bw, algorithm="grid", kernel=kernel,
                         label_by=label_by).fit(X[rows])
    if kernel == "flat":
        assert_array_equal(ours.cluster_centers_, repeated.cluster_centers_)
    else:
        np.testing.assert_allclose(ours.cluster_centers_, repeated.cluster_centers_,
                                   rtol=1e-12, atol=0)
    assert_array_equal(ours.labels_[rows], repeated.labels_)


def test_predict():
    X = blobs(4000, 2, seed=9)
    for label_by in ("nearest", "attractor"):
        model = MeanShift(bandwidth=1.3, algorithm="grid", label_by=label_by).fit(X)
        assert_array_equal(model.predict(X), model.labels_)
        assert_array_equal(model.fit_predict(X), model.labels_)
    # a point in a cell the training data left empty: its nearest center
    far = model.cluster_centers_[:1] + np.array([[0.0, 50.0]])
    d = ((model.cluster_centers_ - far) ** 2).sum(1)
    assert_array_equal(model.predict(far), [np.argmin(d)])
    # an attractor grid model keeps one key and label per cell, not X
    again = pickle.loads(pickle.dumps(model))
    assert_array_equal(again.predict(X), model.labels_)
    assert len(pickle.dumps(model)) - model.labels_.nbytes < X.nbytes / 4


def test_mean_shift_function_and_clone():
    X = blobs(200, 2, seed=1)
    model = MeanShift(bandwidth=1.3, algorithm="grid", grid_resolution=2.5)
    assert clone(model).get_params() == model.get_params()
    centers, labels = mean_shift(X, bandwidth=1.3, algorithm="grid", grid_resolution=2.5)
    model.fit(X)
    assert_array_equal(centers, model.cluster_centers_)
    assert_array_equal(labels, model.labels_)


def test_estimated_bandwidth_is_the_exact_modes():
    X = blobs(300, 2, seed=4)
    grid = MeanShift(algorithm="grid").fit(X)
    exact = MeanShift().fit(X)
    assert grid.bandwidth_ == exact.bandwidth_


def test_huge_magnitudes_are_scaled_exactly():
    X = blobs(200, 2, seed=2)
    small = MeanShift(bandwidth=1.3, algorithm="grid", label_by="attractor").fit(X)
    for scale in (2.0**1000, 2.0**-1000):
        big = MeanShift(bandwidth=1.3 * scale, algorithm="grid",
                        label_by="attractor").fit(X * scale)
        assert_array_equal(big.labels_, small.labels_)
        assert_array_equal(big.cluster_centers_, small.cluster_centers_ * scale)


def test_caller_arrays_unchanged():
    X = blobs(200, 2, seed=2)
    w = weights_of("zeros", len(X))
    X0, w0 = X.copy(), w.copy()
    MeanShift(bandwidth=1.3, algorithm="grid", label_by="attractor").fit(X, sample_weight=w)
    assert_array_equal(X, X0)
    assert_array_equal(w, w0)


def test_warns_where_most_points_have_a_cell_of_their_own():
    X = np.random.default_rng(0).normal(size=(12_000, 8))
    with pytest.warns(UserWarning, match="algorithm='exact'"):
        MeanShift(bandwidth=2.0, algorithm="grid", max_iter=2).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MeanShift(bandwidth=2.0, algorithm="grid", grid_resolution=0.5,
                  max_iter=2).fit(X)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["bogus", None, 1, "Grid"])
def test_bad_algorithm(value):
    with pytest.raises(InvalidParameterError, match="'algorithm' parameter"):
        MeanShift(algorithm=value).fit(blobs(20))


@pytest.mark.parametrize("value", [0, -1.0, np.nan, np.inf, "3", True, None, 10**400])
def test_bad_grid_resolution(value):
    with pytest.raises(InvalidParameterError, match="'grid_resolution' parameter"):
        MeanShift(algorithm="grid", grid_resolution=value).fit(blobs(20))


def test_seeds_and_bin_seeding_do_not_apply():
    X = blobs(20)
    with pytest.raises(ValueError, match="^seeds does not apply to algorithm='grid'"):
        MeanShift(algorithm="grid", seeds=X[:3]).fit(X)
    with pytest.raises(ValueError, match="bin_seeding=True.*algorithm='grid'"):
        MeanShift(algorithm="grid", bin_seeding=True).fit(X)
    # a cell of fewer points is a seed all the same: refused, not ignored
    with pytest.raises(ValueError, match="^min_bin_freq=5 does not apply to algorithm="
                                         "'grid'.*leave min_bin_freq unset"):
        MeanShift(algorithm="grid", min_bin_freq=5).fit(X)
    MeanShift(algorithm="grid", min_bin_freq=1).fit(X)


def far_points():
    """200 points within 1e-8 of 0 and two pairs near 1e300 and 2e300:
    at bandwidth 1e-9 their cells' indices pass float64's range."""
    rng = np.random.default_rng(0)
    return np.r_[rng.normal(0, 1e-9, (200, 1)), [[1e300], [1e300], [2e300], [2e300]]]


def assert_same_clusters(model, exact):
    assert_array_equal(model.cluster_centers_, exact.cluster_centers_)
    assert_array_equal(model.labels_, exact.labels_)


@pytest.mark.parametrize("label_by", ["nearest", "attractor"])
def test_far_points_keep_their_own_clusters(label_by):
    # x / cell_size overflows for the far points: they must not share an
    # infinite cell (whose mean no point is near) but keep their modes
    X = far_points()
    exact = MeanShift(bandwidth=1e-9, label_by=label_by).fit(X)
    assert len(exact.cluster_centers_) == 3
    assert_array_equal(exact.labels_[-4:], [2, 2, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow warning, among others
        grid = MeanShift(bandwidth=1e-9, algorithm="grid", label_by=label_by).fit(X)
        assert_same_clusters(grid, exact)
        assert_array_equal(grid.predict(X), exact.labels_)
        assert_array_equal(grid.predict([[1e300], [2e300], [1.2e300], [0.0]]), [2, 1, 2, 0])


@pytest.mark.parametrize("resolution", [1e8, 1e200, 1e308])
def test_cells_finer_than_the_floats_hold_one_value(resolution):
    # cells of side down to 1e-308 around 10 and 20: from 1e200 on every
    # value is a cell of its own
    X = np.array([[10.0], [10.5], [20.0], [20.25], [10.5]]) + 1 / 7
    exact = MeanShift(bandwidth=1.0, label_by="attractor").fit(X)
    grid = MeanShift(bandwidth=1.0, algorithm="grid", grid_resolution=resolution,
                     label_by="attractor").fit(X)
    assert_same_clusters(grid, exact)
    for got, expected in zip(grid_references(X, 1.0, resolution, label_by="attractor"),
                             [(exact.cluster_centers_, exact.labels_)]):
        assert_array_equal(got[0], expected[0])
        assert_array_equal(got[1], expected[1])


@pytest.mark.parametrize("bandwidth", [1e-320, 5e-324])
@pytest.mark.parametrize("label_by", ["nearest", "attractor"])
def test_subnormal_bandwidth_as_in_exact_mode(bandwidth, label_by):
    # every point its own cluster, as in scikit-learn and the exact mode
    X = np.random.default_rng(1).normal(size=(300, 2))
    exact = MeanShift(bandwidth=bandwidth, label_by=label_by).fit(X)
    assert len(exact.cluster_centers_) == len(X)
    grid = MeanShift(bandwidth=bandwidth, algorithm="grid", label_by=label_by).fit(X)
    assert_same_clusters(grid, exact)


@pytest.mark.parametrize("X", [np.repeat([[0.0, 0.0], [5.0, 5.0]], 500, axis=0),
                               np.array([[1.0, 2.0]])], ids=["two-values", "one-point"])
@pytest.mark.parametrize("resolution", [3.0, 1e-300])
def test_estimated_bandwidth_of_zero_as_in_exact_mode(X, resolution):
    exact = MeanShift(label_by="attractor").fit(X)
    assert exact.bandwidth_ == 0.0
    grid = MeanShift(algorithm="grid", grid_resolution=resolution,
                     label_by="attractor").fit(X)
    assert grid.bandwidth_ == 0.0
    assert_same_clusters(grid, exact)
    assert_array_equal(grid.predict(X[::-1]), exact.labels_[::-1])


def test_grid_cells_finer_than_the_floats_primitive():
    """Narrow keys refuse (None) a value in a cell finer than the floats;
    wide keys are the reference's, in 1 or 2 threads, float32 or float64,
    and are the narrow keys and zeros where no coordinate is such a value."""
    from meanshift import _bins, _grid

    rng = np.random.default_rng(3)
    X = np.r_[rng.normal(size=(9000, 2)), [[3e30, 1.0], [3e30, 1.1], [-3e30, -0.0]]]
    side = 1e-15
    for dtype in (np.float64, np.float32):
        Xd = X.astype(dtype)
        assert _bins.grid_cells(Xd, cell_size=side) is None
        ref = reference_keys(Xd, side)
        for n_threads in (1, 2):
            keys, counts, _, _, _, cell_of = _bins.grid_cells(
                Xd, cell_size=side, n_threads=n_threads, wide=True)
            assert_array_equal(keys[cell_of], ref)
            assert_array_equal(_grid.cell_keys(Xd, side, True), ref)
            assert counts.sum() == len(X)
        narrow = _bins.grid_cells(Xd[:9000], cell_size=0.3)
        wide = _bins.grid_cells(Xd[:9000], cell_size=0.3, wide=True)
        assert_array_equal(wide[0], np.hstack([narrow[0], np.zeros_like(narrow[0])]))
        for a, b in zip(narrow[1:], wide[1:]):
            assert_array_equal(a, b)
    keys = _bins.grid_cells(np.array([[0.0], [-0.0], [0.0], [1e-300]]), cell_size=0.0,
                            wide=True)[0]
    assert_array_equal(keys, [[0.0, 1.0], [1e-300, 1.0]])
    with pytest.raises(ValueError, match="cell_size must be 0 or more"):
        _bins.grid_cells(X, cell_size=-1.0, wide=True)


def test_cells_of_chunks_widen_where_one_chunk_must():
    # meanshift.dask's merge of chunks' cells: one chunk with a far value
    # makes every chunk's keys wide, the same as one machine's cells
    from meanshift import _grid

    X = far_points()
    side = 1e-9 / 3
    whole, _ = _grid.cells_of(X, side, 2)
    parts = [_grid.partial_cells(X[i:i + 50], side) for i in range(0, len(X), 50)]
    assert not parts[0].wide and parts[-1].wide
    merged = _grid.merge(parts)
    assert whole.wide and merged.wide
    assert_array_equal(merged.keys, whole.keys)
    assert_array_equal(merged.counts, whole.counts)
    # added chunk by chunk: within rounding of one machine's sums
    np.testing.assert_allclose(merged.sums, whole.sums, rtol=1e-14, atol=0)


@pytest.mark.parametrize("bad", ["nan", "inf", "empty", "weights"])
def test_bad_data_as_in_exact_mode(bad):
    X = blobs(20)
    w = None
    if bad == "nan":
        X[3, 1] = np.nan
    elif bad == "inf":
        X[3, 1] = np.inf
    elif bad == "empty":
        X = X[:0]
    else:
        w = np.ones(len(X))
        w[2] = -1.0
    errors = []
    for algorithm in ("exact", "grid"):
        with pytest.raises(ValueError) as e:
            MeanShift(bandwidth=1.0, algorithm=algorithm).fit(X, sample_weight=w)
        errors.append(str(e.value))
    assert errors[0] == errors[1]


def test_circles_of_hand_overs_are_cut_at_their_lowest_seed():
    from meanshift import _grid

    # 0 -> 1 -> 2 -> 0 a circle, 5 -> 4 -> 3 a chain, 7 <-> 6, 8 -> 2
    lands = np.array([1, 2, 0, -1, 3, 4, 7, 6, 2])
    climbs_on = _grid._ends_of_handovers(lands)
    assert_array_equal(climbs_on, [0, 3, 6])
    assert_array_equal(lands, [-1, 2, 0, -1, 3, 4, -1, 6, 2])
    assert_array_equal(_grid._roots(lands), [0, 0, 0, 3, 3, 3, 6, 6, 0])


def test_progress_reports_the_steps_then_the_climbs():
    X = blobs(400, 2, seed=3)
    seen = []
    model = MeanShift(bandwidth=1.3, algorithm="grid",
                      verbose=lambda stage, done, total, t: seen.append((stage, done, total)))
    model.fit(X)
    stages = [s for s, _, _ in seen]
    assert stages[0] == "steps" and stages[-1] == "climb"
    n_cells = len(np.unique(np.floor(X / (1.3 / 3.0)), axis=0))
    assert seen[0][2] == n_cells and seen[-1][1] == seen[-1][2] < n_cells


def test_cell_labels_primitive():
    from meanshift import _bins

    cell_of = np.array([2, 0, 1, 1, 2], dtype=np.intp)
    for n_threads in (1, 2):
        assert_array_equal(_bins.cell_labels(cell_of, np.array([5, 6, 7]), n_threads),
                           [7, 5, 6, 6, 7])
    with pytest.raises(ValueError, match="outside cell_label"):
        _bins.cell_labels(np.array([3], dtype=np.intp), np.array([5, 6, 7]), 2)


def test_grid_cells_index_widths():
    """Rows' cells are int32 below 2**31 rows; the int64 kernel (for more
    rows) gives the same cells."""
    from meanshift import _bins

    X = blobs(5000, 2, seed=4)
    w = weights_of("zeros", len(X))
    ref = _bins.grid_cells(X, cell_size=0.4, n_threads=2, weights=w)
    assert ref[-1].dtype == np.int32
    cell_of, perm = np.empty(len(X), np.int64), np.empty(len(X), np.int64)
    wide = _bins._grid_cells(X, 0.4, 2, w, cell_of, perm)
    for a, b in zip(ref[:-1], wide):
        assert_array_equal(a, b)
    assert_array_equal(cell_of, ref[-1])
    assert_array_equal(np.sort(perm), np.arange(len(X)))
    labels = np.arange(len(ref[0]), dtype=np.intp)
    assert_array_equal(_bins.cell_labels(cell_of, labels, 2),
                       _bins.cell_labels(ref[-1], labels, 2))
