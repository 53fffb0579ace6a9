"""What a meanshift.dask fit runs on its workers: the chunks' trees, steps,
bin and grid cells and labels (see :mod:`meanshift.dask`, which builds
the graphs).

This module, :mod:`meanshift._work`, :mod:`meanshift._grid` and the
compiled kernels are all a worker imports for a fit: not scikit-learn
(about 115 MiB and a second per worker process), unless a chunk needs
scikit-learn's own check (a dtype other than integer, boolean, float32
or float64, or a value that is not finite: its error message).  The
classes and functions here are reached through :mod:`meanshift.dask` too.
"""

import numpy as np

from . import _core, _grid, _merge, _values, _weights
from ._work import (
    _as_f64,
    _as_float,
    _assign,
    _basin_labels,
    _bin_cells,
    _climb_tree,
)


def _plain(x):
    """Whether x passes scikit-learn's check_array (dtype=None, 2-D, at
    least one column) as it is: an integer, boolean, float32 or float64
    array of two dimensions whose values are all finite (one pass, no
    copy).  Anything else goes to check_array itself, which imports
    scikit-learn on the worker."""
    if x.ndim != 2 or x.shape[1] < 1:
        return False
    if x.dtype.kind in "iub":
        return True
    if x.dtype in (np.float32, np.float64):
        return _values.finite_magnitude(x)[0]
    return False


def _chunk(x, plan):
    """One chunk as the kernels take it: checked, in the plan's work dtype,
    scaled as its X."""
    x = np.asarray(x)
    if not _plain(x):  # scikit-learn's own check, and its messages
        from sklearn.utils import check_array

        x = check_array(x, dtype=None, ensure_min_samples=0, ensure_2d=True,
                        input_name="X")
    x = _as_float(x)
    if x.dtype != plan.dtype:
        x = x.astype(plan.dtype)
    return np.ascontiguousarray(plan.scaled(x))


def _chunk_weights(w, j=0):
    """A chunk's weights, checked (as on one machine), times 2**j (see
    meanshift._weights)."""
    if w is None:
        return None
    w = _weights.check_values(np.asarray(w, dtype=np.float64))
    return np.ldexp(w, j) if j else w


class _ChunkTree:
    """The tree over one chunk, a task result that stays on its worker.

    The tree is the one a fit builds on one machine (no index of the rows'
    original order: nothing on the cluster reads it), and it pickles (when
    Dask moves or spills it) as itself, arrays and all (BallTree.__reduce__):
    the same tree, bit for bit, on arrival."""

    def __init__(self, x, w, kernel):
        self.kernel = kernel
        self.tree = _climb_tree(x, w, kernel, 1)
        self.n = x.shape[0]
        # the largest magnitude without a temporary of the chunk's size (whose
        # fresh pages can cost more than the tree)
        self.amax = _values.finite_magnitude(x)[1] if x.dtype == np.float64 else 0.0
        with np.errstate(over="ignore"):  # unscaled weights: rescaled if so
            self.wsum = float(w.sum()) if w is not None else float(self.n)
        self.wpos = int((w > 0).sum()) if w is not None else self.n
        positive = w[w > 0] if w is not None else np.ones(min(self.n, 1))
        self.wmax = float(positive.max(initial=0.0))
        self.wmin = float(positive.min(initial=np.inf))

    def __reduce__(self):
        return (_chunk_tree_from, (self.kernel, self.tree, self.stats()))

    def stats(self):
        """(rows, largest |x|, weight sum, rows of positive weight, largest
        and smallest positive weight)."""
        return self.n, self.amax, self.wsum, self.wpos, self.wmax, self.wmin

    def __sizeof__(self):  # what Dask's memory accounting sees
        names = ("data", "idx", "centroid", "radius", "sums", "box", "w", "wsum",
                 "mom", "cols")
        arrays = [getattr(self.tree, name, None) for name in names]
        return 64 + sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))


def _chunk_tree_from(kernel, tree, stats):
    """The _ChunkTree that __reduce__ pickled."""
    out = _ChunkTree.__new__(_ChunkTree)
    out.kernel, out.tree = kernel, tree
    out.n, out.amax, out.wsum, out.wpos, out.wmax, out.wmin = stats
    return out


def _build(x, w, plan):
    return _ChunkTree(_chunk(x, plan), _chunk_weights(w, plan.wexp), plan.kernel)


def _stats(tree):
    return tree.stats()


class _Seeds:
    """A block of climbing seeds (a task result): positions (float64), for
    each seed its intensity and completed iterations, the indices of those
    still moving, and ``rows``: for seeds that are points, their rows in
    the chunk."""

    def __init__(self, pos, rows=None):
        self.pos = np.ascontiguousarray(pos, dtype=np.float64)
        m = len(self.pos)
        self.totals = np.zeros(m)
        self.iters = np.zeros(m, dtype=np.intp)
        self.live = np.arange(m, dtype=np.intp)
        self.rows = rows

    def __sizeof__(self):
        arrays = (self.pos, self.totals, self.iters, self.live, self.rows)
        return 64 + sum(a.nbytes for a in arrays if a is not None)

    def copy(self):
        new = _Seeds.__new__(_Seeds)
        new.pos = self.pos.copy()
        new.totals = self.totals.copy()
        new.iters = self.iters.copy()
        new.live = self.live
        new.rows = self.rows
        return new


def _point_seeds(x, w, plan, rows=None):
    """The points of a chunk as seeds: those of positive weight, or
    ``rows`` of it."""
    x = _chunk(x, plan)
    if rows is None:
        rows = np.arange(len(x)) if w is None else np.flatnonzero(np.asarray(w) > 0)
    return _Seeds(x[rows], rows)


class _Step:
    """One iteration of a block's climb, as the chunk tasks read it: the
    positions of the seeds still moving (``moving``, in the order of the
    block's ``live``), and what the iteration did to the seeds that moved
    into it: ``keep`` (for each of them, whether it moves on) and, for
    those that stopped, their final positions, intensities and iteration
    (``stop_pos``, ``stop_totals``, ``it``).

    The next iteration needs only this, so it follows the step directly
    (a task per group of chunks, then one that moves the seeds); the
    block's state takes the stopped seeds in a task of its own (_fold),
    off that path."""

    def __init__(self, moving, keep=None, stop_pos=None, stop_totals=None, it=-1):
        self.moving = moving
        self.keep, self.it = keep, it
        self.stop_pos, self.stop_totals = stop_pos, stop_totals

    def __sizeof__(self):
        arrays = (self.moving, self.keep, self.stop_pos, self.stop_totals)
        return 64 + sum(a.nbytes for a in arrays if a is not None)


def _start(seeds):
    """A block's first step: all its live seeds move."""
    return _Step(np.ascontiguousarray(seeds.pos[seeds.live]))


def _count(step):
    """How many seeds of the block still move."""
    return len(step.moving)


def _partial(tree, step, plan):
    """The chunk's share of one step: weighted sums and weights."""
    return _core.ball_sums(tree.tree, step.moving, bandwidth=plan.bandwidth,
                           n_threads=1, kernel=plan.code)


def _partials(step, plan, *trees):
    """The shares of one step of several chunks (those one worker holds),
    in the order given: one task where there would be one per chunk."""
    return [_partial(t, step, plan) for t in trees]


def _sum(parts):
    """Partial results added in the order given."""
    acc, total = parts[0][0].copy(), parts[0][1].copy()
    for a, t in parts[1:]:
        acc += a
        total += t
    return acc, total


def _added(parts):
    """The chunks' partial results (in chunk order) added in a fixed order,
    whatever worker computed which: by a tree of fan-in _FAN_IN."""
    while len(parts) > _FAN_IN:
        parts = [_sum(parts[i:i + _FAN_IN]) for i in range(0, len(parts), _FAN_IN)]
    return _sum(parts)


def _advance(step, outs, groups, it, plan):
    """Move the seeds of ``step`` to their means, as the compiled climb
    does (_climb_one: the mean rounded to the data's dtype, the squared
    move summed over the features in order, the same stopping rule): the
    next step.  ``outs``: the _partials of each group of chunks in
    ``groups`` (lists of chunk numbers)."""
    parts = [None] * sum(len(g) for g in groups)
    for group, out in zip(groups, outs, strict=True):
        for c, part in zip(group, out, strict=True):
            parts[c] = part
    acc, total = _added(parts)
    pos = step.moving.copy()
    lost = ~(total > 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (acc / total[:, None]).astype(plan.dtype).astype(np.float64)
    shift2 = np.zeros(len(pos))
    for k in range(pos.shape[1]):
        diff = mean[:, k] - pos[:, k]
        shift2 += diff * diff
    stop = lost | (np.sqrt(shift2) <= plan.stop_thresh) | (it == plan.max_iter)
    moved = ~lost
    pos[moved] = mean[moved]
    keep = ~stop
    return _Step(np.ascontiguousarray(pos[keep]), keep, pos[stop],
                 np.where(lost, 0.0, total)[stop], it)


def _fold(seeds, step):
    """The block's state after ``step``: its stopped seeds' ends recorded,
    the others still live."""
    seeds = seeds.copy()
    live = seeds.live
    stopped = live[~step.keep]
    seeds.pos[stopped] = step.stop_pos
    seeds.totals[stopped] = step.stop_totals
    seeds.iters[stopped] = step.it
    seeds.live = live[step.keep]
    return seeds


def _ends(seeds, dtype):
    """Final centers (data dtype), intensities, iterations."""
    return seeds.pos.astype(dtype), seeds.totals, seeds.iters


def _unique_centers(seeds, dtype):
    """The block's converged centers, each distinct one once (the
    coordinates of its first seed, the intensity of its last, as
    dedupe_and_rank takes them), and the largest iteration count."""
    centers, totals, iters = _ends(seeds, dtype)
    conv = totals > 0
    c = centers[conv]
    rows, counts, _ = _merge.dedupe_and_rank(_as_f64(c), totals[conv])
    return c[rows], counts, int(iters[conv].max(initial=0)), int(conv.sum())


def _seed_clusters(seeds, dtype, cluster_of):
    """For each converged seed of the block, its cluster, given the
    clusters of the block's distinct centers (in _unique_centers order)."""
    centers, totals, _ = _ends(seeds, dtype)
    conv = totals > 0
    _, _, rank_of = _merge.dedupe_and_rank(_as_f64(centers[conv]), totals[conv])
    return seeds.rows[conv], cluster_of[rank_of]


# the chunks' partial results are added by a tree of this fan-in over the
# chunks in chunk order (_added)
_FAN_IN = 16


def _bin_block(x, w, plan):
    x = _chunk(x, plan)
    if x.shape[0] == 0:
        return np.zeros((0, x.shape[1])), np.zeros(0)
    return _bin_cells(x, plan.bin_size, 1, _chunk_weights(w, plan.wexp),
                           plan.float16)


def _merge_cells(a, b):
    """The cells of two consecutive row ranges, in order of first
    appearance, with their counts added (a cell is a value: -0.0 is 0.0)."""
    cells = np.concatenate([a[0], b[0]])
    counts = np.concatenate([a[1], b[1]])
    if len(cells) == 0:
        return cells, counts
    _, first, inv = np.unique(cells + 0.0, axis=0, return_index=True,
                              return_inverse=True)
    inv = inv.reshape(-1)
    order = np.argsort(first, kind="stable")
    group = np.empty_like(order)
    group[order] = np.arange(len(order))
    out = np.zeros(len(order))
    np.add.at(out, group[inv], counts)  # in row order
    return cells[first[order]], out


def _take(x, rows, plan):
    return _chunk(x, plan)[rows]


def _nearest_labels(x, centers, plan, cluster_all, n_threads):
    labels, _ = _assign(_chunk(x, plan), centers, plan.bandwidth, cluster_all,
                             n_threads)
    return labels


def _attractor_labels(x, plan, centers, cluster_all, n_threads, known, follow,
                      ends_table):
    """A chunk's labels by basin of attraction: ``known`` (rows, clusters)
    of its points that were converged seeds, ``follow`` the climbs of the
    others (a _Seeds block over rows of the chunk), labelled by their ends
    (_basin_labels, with the seeds' ``ends_table``)."""
    x = _chunk(x, plan)
    rows = ends = totals = None
    if follow is not None and len(follow.pos):
        ends, totals, _ = _ends(follow, x.dtype)
        rows = follow.rows
    return _basin_labels(x, known, rows, ends, totals, centers, ends_table,
                         plan.bandwidth, cluster_all, n_threads)


def _grid_block(x, w, plan, cell_size):
    """A chunk's grid cells and their sums (algorithm="grid")."""
    return _grid.partial_cells(_chunk(x, plan), cell_size,
                               _chunk_weights(w, plan.wexp))


def _grid_nearest(tree, centers, radius, budget):
    """A chunk's points nearest each of ``centers`` (_grid.nearest_points)."""
    return _grid.nearest_points(tree.tree, centers, radius, budget)


def _grid_merge(a, b):
    return _grid.merge([a, b])


def _grid_labels(x, table, centers, plan, label_by, cluster_all, n_threads):
    """A chunk's labels with algorithm="grid": through each point's cell
    (attractor, ``table`` a _grid.Attractor) or by its nearest center."""
    if label_by == "nearest":
        return _nearest_labels(x, centers, plan, cluster_all, n_threads)
    x = _chunk(x, plan)
    labels = table.cluster_of_cells(x)  # every training point's cell is known
    if not cluster_all:
        orphans, _ = _assign(x, centers, plan.bandwidth, False, n_threads)
        labels[orphans < 0] = -1
    return labels


def _follow_rows(x, plan, known):
    """The points of a chunk whose labels come from their own climb: all of
    them, or those that were not converged seeds."""
    n = len(np.asarray(x))
    if known is None:
        rows = np.arange(n)
    else:
        mask = np.ones(n, dtype=bool)
        mask[known[0]] = False
        rows = np.flatnonzero(mask)
    return _point_seeds(x, None, plan, rows)


def _take_weights(w, rows, j=0):
    return _chunk_weights(np.asarray(w, dtype=np.float64)[rows], j)
