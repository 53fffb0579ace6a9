"""The approximate grid mode (``algorithm="grid"``), shared by
:class:`meanshift.MeanShift` and :class:`meanshift.dask.MeanShift`.

The rule.  With ``s = bandwidth / grid_resolution`` (float64), a point x
lies in the cell ``floor(x / s)`` (per coordinate, float64).  Where
``|x| >= 2**53 s`` (points far apart on the scale of the bandwidth, or
``s = 0``) the cells are finer than the floats at x: a cell holds one
value at most, and that value is the cell (no index, which could
overflow, is computed there).  Each occupied cell of positive weight has
one seed: the mean of its points (weighted by their sample weights).

1. Every seed takes one step of the exact mean shift, on all the data.
2. A seed whose step lands in another cell that has a seed hands over to
   that cell: it will take the cluster that cell takes.  Hand-overs that
   go round in a circle are cut at the cell of lowest index in it.
3. Every other seed (its step stays in its own cell, or lands where no
   seed is) climbs on: its exact climb from the seed, as in the exact
   mode.  With the flat kernel, between two of their modes closer than
   two bandwidths the mean can stand still on the ridge (its ball holding
   parts of both, often more than either mode's, so that it absorbs
   both), reached by thin bands of points that no cell's climb follows:
   where the middle of two such modes weighs at least as much as either,
   the points nearest it climb on their own, as in the exact mode
   (:func:`_saddles`).  The centers of all these climbs
   are ranked and suppressed as in the exact mode.
4. A cell takes the cluster of the climb its hand-overs lead to; each
   point takes its cell's cluster (``label_by="attractor"``), or its
   nearest center (``"nearest"``).  A cell whose points all weigh 0 (or
   whose climb finds no weight) climbs from the plain mean of its points
   and is labelled as the exact mode labels a point that is not a seed.
   ``cluster_all=False`` makes orphans of the points farther than the
   bandwidth from every center, as in the exact mode.

So the modes are those of the exact density, reached by exact climbs; the
approximation is that the points of one cell share one climb, and that a
climb entering another cell shares that cell's after its first step: the
basins of attraction are drawn at the grid's resolution.  Most seeds hand
over after one step, so a fit costs about one step per occupied cell and
one full climb per mode region: the cost of bin seeding.

Every step is computed as in the exact mode and the cells' sums are added
in row order (float64), so the fit is the same for any number of threads.
On one machine the cells come from one pass of the compiled kernel
(:func:`meanshift._bins.grid_cells`); on a Dask cluster each chunk's cells
are summed where the chunk lives and the partial cells merged
(:func:`merge`), chunk by chunk.
"""

import copy
import warnings

import numpy as np

from . import _bins
from ._threads import _threads_for
from ._work import (
    _assign,
    _end_table,
    _find_sorted,
    _follow,
    _merge_centers,
    _rows_as_keys,
)

# the grid pays little once the occupied cells number more than this share
# of the points (and there are at least _WARN_MIN_POINTS points)
_WARN_SHARE = 0.5
_WARN_MIN_POINTS = 10_000


class Cells:
    """The occupied cells of a grid and their sums (see the module
    docstring): ``keys`` (float64, one row per cell, in order of first
    appearance: see :func:`cell_keys`), ``counts`` (points), ``wsum``
    (their weights; the counts without weights), ``sums`` (of their
    coordinates times their weights) and ``plain`` (of their coordinates;
    None without weights, where it is ``sums``); ``cell_size``, the side
    of the cells."""

    def __init__(self, keys, counts, wsum, sums, plain=None, cell_size=None):
        self.cell_size = cell_size
        self.keys = keys
        self.counts = counts
        self.wsum = wsum
        self.sums = sums
        self.plain = plain

    def __len__(self):
        return len(self.keys)

    def means(self):
        """Each cell's point: the weighted mean of its points, or their
        plain mean where they all weigh 0 (float64)."""
        positive = self.wsum > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            means = self.sums / np.where(positive, self.wsum, 1.0)[:, None]
            if self.plain is not None and not positive.all():
                plain = self.plain / np.maximum(self.counts, 1)[:, None]
                means[~positive] = plain[~positive]
        return np.ascontiguousarray(means)

    @property
    def wide(self):
        """Whether the keys are wide (some cell holds a value, not an
        index: :func:`cell_keys`)."""
        return self.keys.shape[1] == 2 * self.sums.shape[1]

    def widened(self):
        """The same cells with wide keys."""
        if self.wide:
            return self
        return Cells(_widen(self.keys), self.counts, self.wsum, self.sums,
                     self.plain, self.cell_size)

    def keys_of(self, X):
        """The keys of the cells of the rows of X, as these cells' keys
        (a row in none of them finds no key among them)."""
        return cell_keys(X, self.cell_size, self.wide)


def cell_keys(X, cell_size, wide):
    """The keys of the cells of the rows of X (numpy's arithmetic, the
    same as :func:`meanshift._bins.grid_cells`'s): per coordinate
    ``floor(x / cell_size)``; ``wide``, then per coordinate whether the
    key is the value itself (1.0: ``|x| >= 2**53 cell_size``, where a cell
    holds one value at most) or that index (0.0).  Narrow keys of such a
    value are whatever the division gives (an index, or inf): no cell of
    a grid with narrow keys holds it."""
    X = X.astype(np.float64, copy=False)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        keys = np.floor(X / cell_size) + 0.0
    if not wide:
        return keys
    value = np.abs(X) >= np.ldexp(cell_size, 53)
    keys[value] = X[value] + 0.0
    return np.hstack([keys, value.astype(np.float64)])


def _widen(keys):
    """Narrow keys as wide ones (every coordinate an index)."""
    return np.hstack([keys, np.zeros_like(keys)])


def cell_side(plan, resolution):
    """The side of the cells, scaled as the plan's X: its bandwidth over
    ``resolution`` in float64 (0 where that underflows, or for a bandwidth
    of 0: every value then a cell of its own)."""
    return plan.bandwidth / float(resolution)


def cells_of(X, cell_size, n_threads, weights=None):
    """The grid cells of the rows of X (a float array) and each row's cell
    (its index in the cells): with narrow keys, or wide ones where some
    cell holds a value (:func:`cell_keys`)."""
    n_threads = _threads_for(n_threads, 20 * X.shape[0] * X.shape[1])
    found = _bins.grid_cells(X, cell_size=cell_size, n_threads=n_threads,
                             weights=weights)
    if found is None:  # cells finer than the floats somewhere
        found = _bins.grid_cells(X, cell_size=cell_size, n_threads=n_threads,
                                 weights=weights, wide=True)
    keys, counts, wsum, sums, plain, cell_of = found
    return Cells(keys, counts, wsum, sums, plain, cell_size), cell_of


def partial_cells(X, cell_size, weights=None):
    """A chunk's cells, without its rows' cells (meanshift.dask)."""
    return cells_of(X, cell_size, 1, weights)[0]


def merge(parts):
    """The cells of consecutive row ranges (in row order), as one range's:
    in order of first appearance, their sums added range by range (None
    for none: the parts of empty ranges may be None too)."""
    parts = [p for p in parts if p is not None and len(p)]
    if not parts:
        return None
    if any(p.wide for p in parts):  # wide keys for all, if for any
        parts = [p.widened() for p in parts]
    if len(parts) == 1:
        return parts[0]
    keys = np.concatenate([p.keys for p in parts])
    _, first, inv = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    order = np.argsort(first, kind="stable")
    group = np.empty_like(order)
    group[order] = np.arange(len(order))
    group = group[inv]
    m, d = len(order), parts[0].sums.shape[1]

    def add(name, shape):
        out = np.zeros(shape)
        np.add.at(out, group, np.concatenate([getattr(p, name) for p in parts]))
        return out  # np.add.at adds in index order: range by range

    def plain(p):  # a part without weights: its plain sums are its sums
        return p.sums if p.plain is None else p.plain

    weighted = any(p.plain is not None for p in parts)
    if weighted:
        parts = [Cells(p.keys, p.counts, p.wsum, p.sums, plain(p), p.cell_size)
                 for p in parts]
    return Cells(
        keys[first[order]],
        add("counts", m).astype(np.intp),
        add("wsum", m),
        add("sums", (m, d)),
        add("plain", (m, d)) if weighted else None,
        parts[0].cell_size,
    )


def warn_if_unpaid(n_cells, n_points, resolution):
    """The grid saves little when nearly every point has a cell of its
    own (high dimensions, sparse data, a fine grid): say so, and name the
    exact mode."""
    if n_points >= _WARN_MIN_POINTS and n_cells > _WARN_SHARE * n_points:
        warnings.warn(
            f"algorithm='grid' found {n_cells} occupied cells for {n_points} "
            f"points (grid_resolution={resolution!r}): with most points in a "
            "cell of their own the grid approximates without saving time. "
            "Use algorithm='exact', or a smaller grid_resolution (coarser "
            "cells, a rougher approximation).",
            UserWarning,
            stacklevel=4,
        )


class Fit:
    """The grid's climbs (steps 1-4 of the rule) and the clusters:
    ``centers`` (kept, strongest first, in the dtype of the climbs, scaled
    as the plan's X), ``n_iter``, and with ``attractor`` the cluster of
    every cell (``cell_cluster``).  ``climber(plan)`` gives a function
    that climbs positions on all the data with that plan:
    ``climb(positions, stage=...) -> (ends, intensities, iterations)``."""

    def __init__(self, cells, plan, climber, n_threads, attractor, nearest=None):
        means = cells.means()
        seeded = np.flatnonzero(cells.wsum > 0)
        seeds = np.ascontiguousarray(means[seeded])
        # seeds are climbed in the order of their cells' indices, so that
        # neighbours follow one another (the same nodes stay in cache); a
        # climb does not depend on the order
        rank = np.empty(len(seeded), dtype=np.intp)
        rank[np.lexsort(cells.keys[seeded].T[::-1])] = np.arange(len(seeded))
        climb = _in_order(climber(plan), rank)
        # 1. one step of every seed (max_iter=0: exactly one)
        one_step = copy.copy(plan)
        one_step.max_iter = 0
        steps, step_totals, _ = _in_order(climber(one_step), rank)(seeds, stage="steps")
        # 2. where each lands: the index of another seeded cell, or -1
        lands = _lookup(_rows_as_keys(cells.keys[seeded]),
                        _rows_as_keys(cells.keys_of(steps)))
        lands[(lands == np.arange(len(seeds))) | ~(step_totals > 0)] = -1
        climbs_on = _ends_of_handovers(lands)
        # 3. the climbs on, whole
        ends, totals, iters = climb(seeds[climbs_on], climbs_on)
        converged = totals > 0
        if not converged.any():
            raise plan.no_point_error()
        found = [ends[converged], totals[converged], iters[converged]]
        if nearest is not None and plan.kernel == "flat":
            # 3. and the points between close modes (_saddles)
            modes, _ = _merge_centers(*found[:2], plan.bandwidth, n_threads)
            more = _saddles(modes, climber(plan), climber(one_step), plan.bandwidth,
                            nearest, saddle_budget(int(cells.counts.sum())), n_threads)
            found = [np.concatenate([a, b.astype(a.dtype)])
                     for a, b in zip(found, more, strict=True)]
        self.n_iter = int(found[2].max(initial=0))
        self.centers, cluster = _merge_centers(*found[:2], plan.bandwidth, n_threads)
        climb_cluster = cluster[:converged.sum()]  # the cells' climbs first
        self.cell_cluster = None
        if attractor:  # 4. the clusters of the cells
            cluster_of_climb = np.full(len(climbs_on), -1, dtype=np.intp)
            cluster_of_climb[converged] = climb_cluster
            cluster = np.full(len(cells), -1, dtype=np.intp)
            cluster[seeded] = cluster_of_climb[
                np.searchsorted(climbs_on, _roots(lands))]
            rest = np.flatnonzero(cluster < 0)  # zero weight, or no weight in reach
            if len(rest):
                table = _end_table(ends[converged], climb_cluster)
                cluster[rest] = _follow(climber(plan), means, rest, self.centers,
                                        table, n_threads)
            self.cell_cluster = cluster


# Between two modes closer than SADDLE_REACH bandwidths the flat kernel's
# mean can stand still on the ridge (_saddles); where the middle weighs
# SADDLE_SHARE times the heavier mode, the points nearest it climb on
# their own: SADDLE_WORK / n of them, from SADDLE_POINTS[0] to
# SADDLE_POINTS[1]
SADDLE_REACH = 2.0
SADDLE_SHARE = 1.0
SADDLE_WORK = 2e7
SADDLE_POINTS = (32, 2048)


def saddle_budget(n_points):
    """How many points nearest the middle of two close modes climb on
    their own (_saddles), for ``n_points`` points in all."""
    low, high = SADDLE_POINTS
    return int(min(high, max(low, SADDLE_WORK // max(n_points, 1))))


def nearest_points(tree, centers, radius, budget):
    """For each of ``centers`` (float64 rows), the points of positive
    weight of ``tree`` within ``radius`` of it, the ``budget`` nearest:
    a list of (points, their squared distances), by distance, ties by
    coordinates (the same order whatever tree, or trees, hold them: see
    :func:`nearest_of`)."""
    first = (1 << (tree.n_levels - 1)) - 1
    d = tree.data.shape[1]
    box = tree.box[first:]
    out = []
    for center in centers:
        gap = np.maximum(box[:, :d] - center, 0.0) + np.maximum(center - box[:, d:], 0.0)
        leaves = np.flatnonzero((gap * gap).sum(axis=1) <= radius * radius)
        lo, hi = tree.bounds[leaves], tree.bounds[leaves + 1]
        rows = np.repeat(hi - np.cumsum(hi - lo), hi - lo) + np.arange((hi - lo).sum())
        if tree.w is not None:
            rows = rows[tree.w[rows] > 0]
        points = tree.data[rows]
        d2 = ((points.astype(np.float64) - center) ** 2).sum(axis=1)
        inside = d2 <= radius * radius
        out.append(nearest_of(points[inside], d2[inside], budget))
    return out


def nearest_of(points, d2, budget):
    """The ``budget`` first of ``points`` by squared distance ``d2``, ties
    by coordinates."""
    order = np.lexsort((*points.T[::-1], d2))[:budget]
    return points[order], d2[order]


def _close_pairs(points, reach):
    """The pairs (i, j), i < j, of rows of ``points`` closer than ``reach``:
    a sweep along the first coordinate (modes are farther than a bandwidth
    apart, so few lie in any slab of width ``reach``), in blocks of
    candidate pairs."""
    order = np.argsort(points[:, 0], kind="stable")
    x = points[order]
    ends = np.searchsorted(x[:, 0], x[:, 0] + reach, side="left")
    counts = np.maximum(ends - np.arange(len(x)) - 1, 0)
    pairs = [np.zeros((0, 2), np.intp)]
    step = max(1, 2**20 // max(1, int(counts.max(initial=0))))
    for start in range(0, len(x), step):
        c = counts[start:start + step]
        i = np.repeat(np.arange(start, start + len(c)), c)
        j = i + 1 + np.arange(len(i)) - np.repeat(np.cumsum(c) - c, c)
        close = ((x[i] - x[j]) ** 2).sum(axis=1) < reach * reach
        pairs.append(np.sort(np.stack([order[i[close]], order[j[close]]], axis=1), axis=1))
    return np.concatenate(pairs)


def _saddles(modes, climb, step, bandwidth, nearest, budget, n_threads):
    """Climbs of the points between close modes: the ends of those that
    stop at neither mode (ends, intensities, iterations).

    Between two modes closer than SADDLE_REACH bandwidths the flat
    kernel's mean can stand still on the ridge, where its ball holds parts
    of both (often more points than either mode's, so that it absorbs
    both).  Only thin bands of points climb there, which no cell's climb
    follows; the exact mode finds such a point when one of its points
    lies in a band.  Such a point changes the clusters only where it
    outweighs both modes, so for each pair whose middle weighs at least
    SADDLE_SHARE times the heavier mode (``step``: one step of positions,
    whose intensities are their weights) the ``budget`` points nearest the
    middle (within a bandwidth of it: ``nearest(middles, radius,
    budget)``, as :func:`nearest_points`) climb on their own, as in the
    exact mode; the ends farther than a quarter bandwidth from every mode
    are returned."""
    none = (np.zeros((0, modes.shape[1])), np.zeros(0), np.zeros(0, np.intp))
    modes = np.asarray(modes, dtype=np.float64)
    pairs = _close_pairs(modes, SADDLE_REACH * bandwidth)
    if not len(pairs):
        return none
    middles = (modes[pairs[:, 0]] + modes[pairs[:, 1]]) / 2
    # a point on the ridge changes the clusters only where it outweighs
    # both modes: skip the pairs whose middle weighs less
    _, weight, _ = step(np.ascontiguousarray(np.concatenate([modes, middles])),
                        stage="climb")
    heavier = weight[pairs].max(axis=1)
    worth = weight[len(modes):] >= SADDLE_SHARE * heavier
    if not worth.any():
        return none
    starts = [np.zeros((0, modes.shape[1]))]
    starts += [points for points, _ in nearest(middles[worth], bandwidth, budget)]
    # a point near several middles climbs once (the order of climbs
    # changes none of them)
    starts = np.unique(np.concatenate(starts), axis=0)
    if not len(starts):
        return none
    ends, totals, iters = climb(np.ascontiguousarray(starts), stage="climb")
    at_mode, _ = _assign(ends, modes, bandwidth / 4, False, n_threads)
    keep = (totals > 0) & (at_mode < 0)
    return ends[keep], totals[keep], iters[keep]


def _in_order(climb, rank):
    """climb(positions, which=None, stage=...), positions those of the
    seeds ``which`` (all by default), climbed in the order of their
    ``rank``; the results in the order given."""

    def run(positions, which=None, stage="climb"):
        order = np.argsort(rank if which is None else rank[which], kind="stable")
        out = climb(np.ascontiguousarray(positions[order]), stage=stage)
        back = np.empty_like(order)
        back[order] = np.arange(len(order))
        return tuple(a[back] for a in out)

    return run


def _lookup(keys, found):
    """For each of ``found``, its index in ``keys`` (-1 if absent); both
    opaque row keys (_rows_as_keys)."""
    order = np.argsort(keys, kind="stable")
    at = _find_sorted(keys[order], found)
    out = np.full(len(found), -1, dtype=np.intp)
    out[at >= 0] = order[at[at >= 0]]
    return out


def _jump(lands, rounds):
    """Where following ``lands`` (-1: stop) for 2**rounds hand-overs
    leads each seed, by pointer doubling."""
    to = np.where(lands < 0, np.arange(len(lands)), lands)
    for _ in range(rounds):
        to = to[to]
    return to


def _ends_of_handovers(lands):
    """The seeds that climb on (sorted): those that land nowhere else, and
    in each circle of hand-overs its seed of lowest index (whose ``lands``
    becomes -1)."""
    rounds = max(1, int(len(lands)).bit_length())
    while True:
        to = _jump(lands, rounds)
        circling = lands[to] >= 0  # 2**rounds > n hand-overs: only circles go on
        if not circling.any():
            return np.flatnonzero(lands < 0)
        for start in np.unique(to[circling]):  # each on a circle
            node, lowest = start, start
            while lands[node] >= 0:  # round the circle (unless cut already)
                node = lands[node]
                if node == start:
                    lands[lowest] = -1
                    break
                lowest = min(lowest, node)


def _roots(lands):
    """The seed each seed's hand-overs lead to (one that climbs on)."""
    return _jump(lands, max(1, int(len(lands)).bit_length()))


class Attractor:
    """What predict of a grid model with ``label_by="attractor"`` keeps: a
    point in a cell of the training grid takes that cell's cluster; a
    point in a cell the training data left empty takes its nearest
    center.  (Small: one key and one label per occupied cell.)"""

    def __init__(self, plan, cell_size, cells, fit):
        self.plan = plan
        self.cell_size = cell_size
        self.wide = cells.wide
        keys = _rows_as_keys(cells.keys)
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order].copy()
        self.clusters = fit.cell_cluster[order]

    def cluster_of_cells(self, X):
        """The training cluster of the cell of each row of X (scaled as
        the training data), -1 for a cell the training data left empty."""
        at = _find_sorted(self.keys, _rows_as_keys(cell_keys(X, self.cell_size,
                                                              self.wide)))
        out = np.full(len(X), -1, dtype=np.intp)
        out[at >= 0] = self.clusters[at[at >= 0]]
        return out

    def predict(self, X, centers, n_threads, report=None):
        """Labels of the rows of X (scaled as the training data), given the
        kept centers (scaled, float64); nothing climbs (``report``, as the
        other attractor states take it, is not used)."""
        labels = self.cluster_of_cells(X)
        rest = np.flatnonzero(labels < 0)
        if len(rest):
            labels[rest], _ = _assign(X[rest], centers, np.inf, True, n_threads)
        return labels


def labels_of(X, cell_of, fit, centers64, bandwidth, label_by, cluster_all,
              n_threads):
    """The labels of the rows of X (scaled, as fitted): through their
    cells (attractor) or by their nearest center; orphans by distance."""
    if label_by == "nearest":
        labels, _ = _assign(X, centers64, bandwidth, cluster_all, n_threads)
        return labels
    labels = _bins.cell_labels(cell_of, fit.cell_cluster,
                               _threads_for(n_threads, 2 * len(cell_of)))
    if not cluster_all:
        orphans, _ = _assign(X, centers64, bandwidth, False, n_threads)
        labels[orphans < 0] = -1
    return labels
