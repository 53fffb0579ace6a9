"""A plain numpy reference of mean shift with sample weights, kernels and
attractor labels (issue 10), written for the tests.

It follows the definitions of the issue literally: every seed climbs on its
own (vectorised over the seeds, nothing else), then the centers are ranked,
suppressed and the points labelled exactly as scikit-learn 1.9 does.  No
tree, no node bounds, no early exits.  With ``kernel="flat"``, no weights
and ``label_by="nearest"`` it is scikit-learn's algorithm
(``tests/test_reference.py`` checks that against ``sklearn.cluster``).

Definitions, and the reading taken wherever the issue leaves room
------------------------------------------------------------------

Notation: q a position, x_i a point, r_i = ||x_i - q||, s_i its sample
weight (1 without weights), h the bandwidth.

Arithmetic.  r_i**2 is summed over the coordinates in order, in float64
(float32 data converted exactly).  The next position is
``sum(s_i k(r_i) x_i) / sum(s_i k(r_i))`` accumulated in float64 and then
rounded to the dtype of X (as numpy's mean of float32 rows is float32); the
move is measured between two such rounded positions.

Kernels (points beyond the reach are left out):

* ``flat``: k = 1, reach r**2 <= h**2;
* ``epanechnikov``: k = 1 - r**2 / h**2, reach r**2 <= h**2 (a point at
  exactly h weighs 0 either way);
* ``gaussian``: k = exp(-r**2 / (2 h**2)), reach r**2 <= 9 h**2.

The climb (scikit-learn's loop).  ``it = 0``; repeat: take the points in
reach of q; if their total weight ``sum(s_i k(r_i))`` is 0 the seed is
dropped (it ends, with ``it`` completed iterations, and yields no center);
otherwise move q to the weighted mean; stop if the move is at most 1e-3*h
or ``it == max_iter``; else ``it += 1``.  At least one step is always
made (max_iter=0 makes exactly one).  The seed's intensity is the total
weight of that last step's neighbourhood (the count, for flat without
weights).  ``n_iter_`` is the largest ``it`` over the seeds' climbs,
dropped seeds included (as scikit-learn); the extra climbs of attractor
labels (below) do not count.

Seeds.

* ``seeds`` given: used as given (their values, as float64), whatever the
  weights.
* every point (default): the rows with a positive weight, in row order; a
  zero-weight row is not a seed.
* ``bin_seeding``: scikit-learn's ``get_bin_seeds`` with weights: a row
  falls into the cell ``np.round(x / h)`` (in X's dtype, h a Python
  float), a cell's weight is the sum of its rows' weights (zero-weight rows
  add 0, a cell first met through a zero-weight row keeps that place in
  the order), cells of weight >= min_bin_freq are kept, as float32 cell
  indices times h.  When as many cells are kept as X has rows,
  scikit-learn's fallback applies and the seeds are every point, as
  above (no test relies on this corner with weights).

Ranking and suppression (scikit-learn's).  Surviving seeds' centers (in the
dtype of X) become dict keys in seed order with their intensity as value
(identical centers: the last seed wins), sorted by (intensity, center
tuple) in reverse; going down that list, a center within h (distance <= h)
of a kept one is dropped.  ``cluster_centers_`` are the kept ones, in that
order.

Labels.

* ``label_by="nearest"``: the nearest kept center (ties: any of the tied
  centers is accepted, see "Referee").
* ``label_by="attractor"``:

  - a point that is a seed (every point, positive weight, bin seeding and
    given seeds not used): the kept center its center became, or if that
    center was dropped, the kept center that dropped it (the strongest kept
    center within h of it);
  - a point that is not a seed (bin seeding, given seeds, zero weight):
    it climbs itself, from its own position, with the same kernel, weights,
    bandwidth and max_iter; where that climb ends exactly where a seed's
    climb ended, its label is that seed's (as above); elsewhere it is the
    kept center nearest to where the climb ends;
  - a point whose climb loses all weight in reach (at its first step, or in
    a later one, which only rounding can cause) takes the center nearest to
    the point itself.

* ``cluster_all=False`` (either label_by): a point farther than h from
  every kept center, measured from the point itself, gets -1; every other
  point keeps the label above.

* ``predict``: ``label_by="nearest"``: the nearest center.  ``"attractor"``:
  the point climbs as a non-seed point does in fit (same data, weights,
  kernel, bandwidth, max_iter) and is labelled as such a point is (no
  weight in reach: nearest to the point).  predict never gives -1,
  as scikit-learn's predict ignores cluster_all.

Referee
-------

Two correct implementations sum in different orders, so they may decide
differently where a decision is within rounding of its threshold.  The
reference records every such decision (relative margin below ``TIGHT``):

* in the seeds' climbs: a weighted point at the reach, a move at 1e-3*h;
* in the ranking: two neighbours in the ranked list whose intensities
  differ by less than TIGHT relative (or tie exactly and are ordered by a
  first coordinate that differs by less than TIGHT * h), when swapping them
  changes the kept centers;
* in the suppression: two centers at a distance within rounding of h.

``Reference(..., flip={decision})`` recomputes everything with those
decisions taken the other way, so a test can accept any of the outcomes a
rounding can lead to, and only those.  Labels are refereed per point:
``labels()`` returns, with the reference's own labels, a boolean matrix of
the acceptable labels of every point (a nearest center within ``2 * tol``
of the nearest, -1 within ``2 * tol`` of the orphan threshold, and for a
point's own attractor climb the outcomes of each of its tight decisions),
``tol`` being the tolerance the centers are compared with.
"""

import itertools

import numpy as np

KERNELS = ("flat", "epanechnikov", "gaussian")
LABEL_BY = ("nearest", "attractor")

# Decisions whose relative margin is below this are "within rounding".
# Two implementations' float64 sums of at most a few hundred terms differ by
# ~1e-14 relative at worst; 1e-9 leaves a wide safety factor.
TIGHT = 1e-9


def kernel_weight(d2, bandwidth, kernel):
    """(k(r), in_reach) for squared distances d2 (float64 array)."""
    h2 = bandwidth * bandwidth
    if kernel == "flat":
        return np.ones_like(d2), d2 <= h2
    if kernel == "epanechnikov":
        return 1.0 - d2 / h2, d2 <= h2
    if kernel == "gaussian":
        return np.exp(-d2 / (2.0 * h2)), d2 <= 9.0 * h2
    raise ValueError(f"unknown kernel {kernel!r}")


def reach2(bandwidth, kernel):
    return bandwidth * bandwidth * (9.0 if kernel == "gaussian" else 1.0)


def sqdist(points, q):
    """Squared distances, summed over the coordinates in order (float64):
    points (n, d), q (m, d) -> (m, n)."""
    points = np.asarray(points, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    d2 = np.zeros((q.shape[0], points.shape[0]))
    for k in range(points.shape[1]):
        d2 += (points[None, :, k] - q[:, k, None]) ** 2
    return d2


def bin_seeds(X, bandwidth, min_bin_freq, weights):
    """scikit-learn's get_bin_seeds with weighted cells; None for its
    fallback (every point a seed)."""
    cells = {}
    for x, w in zip(X, weights, strict=True):
        key = tuple(np.round(x / bandwidth).tolist())
        cells[key] = cells.get(key, 0.0) + float(w)
    kept = [key for key, w in cells.items() if w >= min_bin_freq]
    if len(kept) == len(X):
        return None
    return np.array(kept, dtype=np.float32).reshape(-1, X.shape[1]) * bandwidth


class Climb:
    """Climbs of many start positions at once (see the module docstring).

    Attributes: ``end`` (m, d) float64 positions (values of X's dtype),
    ``intensity`` (m,), ``alive`` (m,) False for a dropped climb, ``iters``
    (m,) completed iterations, ``tight`` the keys of the decisions within
    rounding, ``tight_of[j]`` those of climb j.
    """

    def __init__(self, X, weights, starts, bandwidth, kernel, max_iter, ids, flip=()):
        dtype = X.dtype
        Xd = X.astype(np.float64)
        m = len(starts)
        pos = np.array(starts, dtype=np.float64).reshape(m, X.shape[1])
        self.intensity = np.zeros(m)
        self.alive = np.zeros(m, dtype=bool)
        self.iters = np.zeros(m, dtype=np.intp)
        self.tight = []
        self.tight_of = [[] for _ in range(m)]
        limit2 = reach2(bandwidth, kernel)
        thresh = 1e-3 * bandwidth
        weighs = weights > 0
        active = np.arange(m)
        it = 0
        while len(active):
            q = pos[active]
            d2 = sqdist(Xd, q)
            k, inside = kernel_weight(d2, bandwidth, kernel)
            # a weighted point within rounding of the reach
            near = (np.abs(d2 - limit2) <= TIGHT * limit2) & weighs
            for a, i in zip(*np.nonzero(near), strict=True):
                self._tight(("reach", ids[active[a]], it, int(i)), active[a])
                if ("reach", ids[active[a]], it, int(i)) in flip:
                    inside[a, i] = not inside[a, i]
            w = np.where(inside, weights * np.where(inside, k, 0.0), 0.0)
            total = w.sum(axis=1)
            has = total > 0
            self.alive[active] = has
            self.iters[active[~has]] = it  # dropped: no weight in reach
            a_has = active[has]
            new = (w[has, :, None] * Xd[None]).sum(axis=1) / total[has, None]
            new = new.astype(dtype).astype(np.float64)
            move = np.sqrt(((new - q[has]) ** 2).sum(axis=1))
            stop = move <= thresh
            if it != max_iter:
                for j in np.flatnonzero(np.abs(move - thresh) <= TIGHT * thresh):
                    key = ("stop", ids[a_has[j]], it)
                    self._tight(key, a_has[j])
                    if key in flip:
                        stop[j] = not stop[j]
            stop |= it == max_iter
            pos[a_has] = new
            self.intensity[a_has] = total[has]
            self.iters[a_has[stop]] = it
            active = a_has[~stop]
            it += 1
        self.end = pos

    def _tight(self, key, j):
        self.tight.append(key)
        self.tight_of[j].append(key)


def _nearest_ok(p, centers, slack):
    """The centers within ``slack`` of the nearest one to p (bool mask)."""
    d = np.sqrt(sqdist(centers, np.asarray(p, dtype=np.float64)[None])[0])
    return d <= d.min() + slack


class Reference:
    """mean shift fit by the definitions; see the module docstring.

    Attributes: ``cluster_centers`` (dtype of X), ``n_iter``, ``tight``
    (keys of decisions within rounding, for ``flip``), ``seed_is_point``.
    Methods: ``labels(label_by, cluster_all, tol)``, ``predict(X, label_by,
    tol)``, each returning (labels, acceptable): acceptable[i, j] tells
    whether label j (column -1 stands for the label -1) is acceptable.
    """

    def __init__(
        self,
        X,
        bandwidth,
        *,
        seeds=None,
        bin_seeding=False,
        min_bin_freq=1,
        max_iter=300,
        sample_weight=None,
        kernel="flat",
        flip=frozenset(),
    ):
        X = np.asarray(X)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        self.X = X
        n, d = X.shape
        self.bandwidth = h = float(bandwidth)
        self.kernel = kernel
        self.max_iter = max_iter
        self.flip = frozenset(flip)
        self._point_climbs = None  # attractor climbs of non-seed rows, cached
        if sample_weight is None:
            self.weights = np.ones(n)
        else:
            self.weights = np.asarray(sample_weight, dtype=np.float64)
        w = self.weights

        # seeds; seed_row[j] is the row seed j is, or -1
        if seeds is None and bin_seeding:
            seeds = bin_seeds(X, h, min_bin_freq, w)
        if seeds is None:
            rows = np.flatnonzero(w > 0)
            starts, seed_row = X[rows], rows
        else:
            starts = np.asarray(seeds, dtype=np.float64).reshape(-1, d)
            seed_row = np.full(len(starts), -1)
        self.seed_row = seed_row
        ids = [("seed", j) for j in range(len(starts))]
        climb = Climb(X, w, starts, h, kernel, max_iter, ids, self.flip)
        self.climb = climb
        self.tight = list(climb.tight)
        # adjacent centers of the ranking with exactly equal intensities
        # where the order decides the kept centers: exact here (ordered by
        # the center tuples), but rounding decides them once the weights
        # are not exact (e.g. scaled by a factor)
        self.exact_ties = []
        self.n_iter = int(climb.iters.max(initial=0))
        if not climb.alive.any():
            raise ValueError("No point was within bandwidth of any seed")

        # dict of centers (dtype of X) -> intensity, in seed order
        table = {}
        seed_key = [None] * len(starts)
        for j in np.flatnonzero(climb.alive):
            key = tuple(climb.end[j].astype(X.dtype).tolist())
            table[key] = climb.intensity[j]
            seed_key[j] = key
        self.seed_key = seed_key
        ranked = sorted(table.items(), key=lambda t: (t[1], t[0]), reverse=True)
        ranked = self._flip_order(ranked)
        keys = [key for key, _ in ranked]
        C = np.array(keys, dtype=np.float64)
        kept_idx, dropper = self._suppress(keys, C)
        self.tight += self._tight_order(ranked, kept_idx, C)
        self.cluster_centers = C[kept_idx].astype(X.dtype)
        # ranked index -> label (index into cluster_centers) of its keeper
        label_of_kept = {r: lab for lab, r in enumerate(kept_idx)}
        self.label_of_key = {
            keys[r]: label_of_kept[dropper[r]] for r in range(len(keys))
        }

    # ---- ranking and suppression --------------------------------------

    def _flip_order(self, ranked):
        ranked = list(ranked)
        for r in range(len(ranked) - 1):
            if ("order", ranked[r][0], ranked[r + 1][0]) in self.flip:
                ranked[r], ranked[r + 1] = ranked[r + 1], ranked[r]
        return ranked

    def _suppress(self, keys, C, record=True):
        """scikit-learn's loop; returns the kept ranked indices and, per
        ranked center, the ranked index of the kept center it belongs to
        (itself if kept, else the first kept center within h)."""
        h2 = self.bandwidth**2
        D2 = sqdist(C, C)
        unique = np.ones(len(keys), dtype=bool)
        dropper = np.full(len(keys), -1)
        for i in range(len(keys)):
            if not unique[i]:
                continue
            within = D2[i] <= h2
            for j in np.flatnonzero(np.abs(D2[i] - h2) <= TIGHT * h2):
                key = ("supp", keys[i], keys[j])
                if record:
                    self.tight.append(key)
                if key in self.flip:
                    within[j] = not within[j]
            newly = within & (dropper < 0)
            dropper[newly] = i
            unique[within] = False
            unique[i] = True
            dropper[i] = i
        return list(np.flatnonzero(unique)), dropper

    def _tight_order(self, ranked, kept_idx, C):
        """Adjacent pairs of the ranking whose order rounding could swap,
        where the swap changes the kept centers."""
        h = self.bandwidth
        found = []
        for r in range(len(ranked) - 1):
            (ka, ia), (kb, ib) = ranked[r], ranked[r + 1]
            if ia != ib:
                close = abs(ia - ib) <= TIGHT * max(abs(ia), abs(ib))
            else:  # exact tie: ordered by the center tuples
                diff = np.abs(np.subtract(ka, kb))
                first = int(np.argmax(diff > 0))
                close = diff[first] <= TIGHT * h or (diff[:first] == 0).any()
            if not close and ia != ib:
                continue
            swapped = list(ranked)
            swapped[r], swapped[r + 1] = swapped[r + 1], swapped[r]
            keys2 = [key for key, _ in swapped]
            C2 = np.array(keys2, dtype=np.float64)
            kept2, _ = self._suppress(keys2, C2, record=False)
            if not np.array_equal(C2[kept2], C[kept_idx]):
                if close:
                    found.append(("order", ka, kb))
                else:
                    self.exact_ties.append(("order", ka, kb))
        return found

    # ---- labels --------------------------------------------------------

    def _tol(self, tol):
        return 1e-6 * self.bandwidth if tol is None else tol

    def _own_climbs(self, points, tag):
        """Each point climbs from its own position (attractor labels of
        non-seeds, predict): (end, alive, per-point list of alternative
        (end, alive) outcomes of its tight decisions)."""
        ids = [(tag, i) for i in range(len(points))]
        c = Climb(self.X, self.weights, points, self.bandwidth, self.kernel,
                  self.max_iter, ids)
        alternatives = [[] for _ in range(len(points))]
        for i in np.flatnonzero([len(t) > 0 for t in c.tight_of]):
            for key in c.tight_of[i]:
                alt = Climb(self.X, self.weights, points[i : i + 1],
                            self.bandwidth, self.kernel, self.max_iter,
                            [(tag, i)], flip={key})
                alternatives[i].append((alt.end[0], alt.alive[0]))
        return c.end, c.alive, alternatives

    def _by_end(self, points, ends, alive, alternatives, slack):
        """Labels of climbs by their ends: the cluster of a seed whose climb
        ended at the same point, else the nearest kept center to the end
        (to the point itself when its climb lost all weight): (labels,
        acceptable mask (n, k))."""
        C = self.cluster_centers
        labels = np.empty(len(points), dtype=np.intp)
        ok = np.zeros((len(points), len(C)), dtype=bool)
        for i in range(len(points)):
            outcomes = [(ends[i], alive[i])] + alternatives[i]
            for o, (end, live) in enumerate(outcomes):
                key = tuple(np.asarray(end).astype(self.X.dtype).tolist())
                if live and key in self.label_of_key:
                    label = self.label_of_key[key]
                    ok[i, label] = True
                else:
                    target = end if live else points[i]
                    ok[i] |= _nearest_ok(target, C, slack)
                    d2 = sqdist(C, np.asarray(target, dtype=np.float64)[None])[0]
                    label = int(np.argmin(d2))
                if o == 0:
                    labels[i] = label
        return labels, ok

    def labels(self, label_by="nearest", cluster_all=True, tol=None):
        """(labels, acceptable): acceptable has one column per center and a
        last one for -1."""
        slack = 2 * self._tol(tol)
        X, C, h = self.X, self.cluster_centers, self.bandwidth
        n = len(X)
        d = np.sqrt(sqdist(C, X))  # (n, k) distances of the points
        dmin = d.min(axis=1)
        if label_by == "nearest":
            labels = np.argmin(d, axis=1)
            ok = d <= dmin[:, None] + slack
        elif label_by == "attractor":
            is_seed = np.zeros(n, dtype=bool)
            is_seed[self.seed_row[self.seed_row >= 0]] = True
            others = np.flatnonzero(~is_seed)
            labels = np.empty(n, dtype=np.intp)
            ok = np.zeros((n, len(C)), dtype=bool)
            for j, row in enumerate(self.seed_row):
                if row < 0:
                    continue
                if self.climb.alive[j]:
                    labels[row] = self.label_of_key[self.seed_key[j]]
                    ok[row, labels[row]] = True
                else:  # lost all weight on the way (rounding only)
                    labels[row] = int(np.argmin(d[row]))
                    ok[row] = d[row] <= dmin[row] + slack
            if len(others):
                pts = X[others].astype(np.float64)
                if self._point_climbs is None:
                    self._point_climbs = self._own_climbs(pts, "point")
                lab, ok_o = self._by_end(pts, *self._point_climbs, slack)
                labels[others] = lab
                ok[others] = ok_o
        else:
            raise ValueError(f"unknown label_by {label_by!r}")
        orphan_ok = np.zeros(n, dtype=bool)
        if not cluster_all:
            labels = np.where(dmin > h, -1, labels)
            orphan_ok = dmin >= h - slack
            ok[dmin > h + slack] = False
        return labels, np.column_stack([ok, orphan_ok])

    def predict(self, X_new, label_by="nearest", tol=None):
        """(labels, acceptable) of new points (no -1 column: never -1)."""
        slack = 2 * self._tol(tol)
        pts = np.asarray(X_new, dtype=np.float64)
        if label_by == "nearest":
            d = np.sqrt(sqdist(self.cluster_centers, pts))
            return np.argmin(d, axis=1), d <= d.min(axis=1)[:, None] + slack
        ends, alive, alts = self._own_climbs(pts, "new")
        return self._by_end(pts, ends, alive, alts, slack)


def mean_shift(
    X,
    bandwidth,
    *,
    seeds=None,
    bin_seeding=False,
    min_bin_freq=1,
    cluster_all=True,
    max_iter=300,
    sample_weight=None,
    kernel="flat",
    label_by="nearest",
):
    """(cluster_centers, labels) of the reference, like meanshift.mean_shift
    (the bandwidth is required)."""
    ref = Reference(
        X,
        bandwidth,
        seeds=seeds,
        bin_seeding=bin_seeding,
        min_bin_freq=min_bin_freq,
        max_iter=max_iter,
        sample_weight=sample_weight,
        kernel=kernel,
    )
    labels, _ = ref.labels(label_by, cluster_all)
    return ref.cluster_centers, labels


def outcomes(X, bandwidth, *, max_flips=2, **params):
    """The fits rounding could lead to: the plain Reference first, then one
    for each decision within rounding taken the other way, then pairs of
    them (up to ``max_flips`` at once).  A case with more than 8 such
    decisions is too ambiguous to referee: choose other data."""
    base = Reference(X, bandwidth, **params)
    yield base
    tight = list(dict.fromkeys(base.tight))
    if len(tight) > 8:
        raise AssertionError(
            f"{len(tight)} decisions within rounding of their thresholds: "
            "too ambiguous to referee, choose other data"
        )
    for r in range(1, max_flips + 1):
        for combo in itertools.combinations(tight, r):
            try:
                yield Reference(X, bandwidth, flip=frozenset(combo), **params)
            except ValueError:  # every seed dropped: not an outcome
                continue
