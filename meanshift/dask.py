"""Mean shift on a Dask cluster, exactly: ``meanshift.dask``.

The same algorithm and parameters as :class:`meanshift.MeanShift`, for data
held as a Dask array (or DataFrame) chunked along its rows, on whatever
scheduler is active: the ``distributed.Client`` in context if there is one
(none is created here), otherwise Dask's default scheduler.

How the work is spread (the data never moves to one place):

* Each chunk's tree is built once, by a task on the worker that holds the
  chunk, and kept there as a task result (so that Dask can recompute it
  when a worker is lost).
* Seeds travel in blocks.  One iteration sends each block's still-moving
  positions to the chunks, where ``meanshift._core.ball_sums`` returns
  each chunk's partial sums and weights (``d + 1`` numbers per seed); on a
  distributed cluster one task per worker thread computes them for the
  chunks that worker holds.  A task adds them in a fixed order (a tree
  over the chunks in chunk order: deterministic for a given chunking,
  wherever the chunks are) and moves the seeds exactly as the compiled
  climb moves them.  Converged seeds stop travelling.  The client only
  learns how many seeds still move.
* Bin seeding counts grid cells per chunk and merges the counts in row
  order, so the seeds are exactly those of :func:`meanshift.get_bin_seeds`.
* With every point a seed (the default), the seed blocks are the chunks
  themselves, created on the workers.  Converged centers are deduplicated
  per block before the few distinct ones reach the client, which ranks and
  merges them as one machine does.
* Labels are a ``map_blocks`` of the compiled assignment: lazy, with X's
  row chunks.
* ``algorithm="grid"`` (an approximation, see :mod:`meanshift._grid`):
  each chunk sums its grid cells where it lives; the partial cells (a few
  numbers per occupied cell, not per point) are merged in row order; the
  cells' seeds climb on the chunk trees as above; labels are a
  ``map_blocks`` through each point's cell.  The model keeps nothing on
  the cluster.

Results: the labels of :class:`meanshift.MeanShift` on the same data, and
centers equal to it up to rounding (the partial sums add in another order;
on data whose sums are exact, such as integer or dyadic coordinates, they
are bit-identical).  One difference: with ``bandwidth=None`` the bandwidth
is estimated on a random sample of at most ``BANDWIDTH_SAMPLES`` rows
gathered to the client (see :func:`estimate_bandwidth`).
"""

import contextlib
import copy
import math
import pickle
import sys
import time

try:
    import dask
    import dask.array as da
    from dask import delayed
    from dask.core import flatten
except ImportError as e:  # raised again with what to install
    raise ImportError(
        f"meanshift.dask needs Dask, which could not be imported ({e}): "
        'pip install "dask[array]" distributed',
        name=e.name,
    ) from e
import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _api, _grid, _weights
from ._api import (
    _bin_seeds_from_cells,
    _check_estimate_args,
    _estimate_bandwidth,
)

# what the workers run (imported there without scikit-learn)
from ._dask_tasks import (
    _advance,
    _attractor_labels,
    _bin_block,
    _build,
    _count,
    _ends,
    _fold,
    _follow_rows,
    _grid_block,
    _grid_labels,
    _grid_merge,
    _grid_nearest,
    _merge_cells,
    _nearest_labels,
    _partials,
    _point_seeds,
    _seed_clusters,
    _Seeds,
    _start,
    _stats,
    _take,
    _take_weights,
    _unique_centers,
)
from ._fit import fit_stages
from ._progress import reporter
from ._threads import _effective_n_threads
from ._work import (
    _as_f64,
    _as_float,
    _FitPlan,
    _range_exponent,
    _unscale,
)

__all__ = [
    "BANDWIDTH_SAMPLES",
    "MeanShift",
    "estimate_bandwidth",
    "get_bin_seeds",
    "mean_shift",
]

#: Rows sampled for the bandwidth estimate when no ``n_samples`` is given.
BANDWIDTH_SAMPLES = 10_000

# Seeds given by the client (bin seeds, ``seeds=``) travel in blocks of at
# most this many, so that the work of one iteration spreads over the workers.
_SEED_BLOCK = 4096


# ---------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------


def _nullable_as_float(X):
    """A pandas or Dask DataFrame (or Series) with a nullable numeric column
    (Int64, Float64, boolean, ...) as float64, ``<NA>`` as NaN: what
    scikit-learn's check_array makes of it on one machine (the NaN is then
    refused with its message); anything else as it is."""
    pd = sys.modules.get("pandas")
    dtypes = getattr(X, "dtypes", None)
    if pd is None or dtypes is None:
        return X
    dtypes = list(dtypes) if isinstance(dtypes, pd.Series) else [dtypes]
    if any(isinstance(t, pd.api.extensions.ExtensionDtype) and t.kind in "biuf"
           for t in dtypes):
        return X.astype(np.float64)
    return X


def _as_dask(X, name="X"):
    """``(dask array chunked by rows only, was_numpy, feature names)``."""
    names = None
    X = _nullable_as_float(X)
    if hasattr(X, "to_dask_array"):  # a dask DataFrame (or Series)
        cols = getattr(X, "columns", None)
        if cols is not None and len(cols) and all(isinstance(c, str) for c in cols):
            names = np.asarray(list(cols), dtype=object)
        X = X.to_dask_array(lengths=True)
    was_numpy = not isinstance(X, da.Array)
    if was_numpy:
        X = np.asarray(X)
        if X.ndim == 2:
            rows = max(1024, -(-X.shape[0] // 8))
            X = da.from_array(X, chunks=(min(rows, 1 << 20), -1))
        else:
            X = da.from_array(X)
    if X.ndim != 2:
        raise ValueError(
            f"Expected 2D array, got {X.ndim}D array instead. Reshape your data "
            "either using array.reshape(-1, 1) if your data has a single feature "
            "or array.reshape(1, -1) if it contains a single sample."
        )
    if any(math.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    if X.dtype.kind not in "biuf":
        if X.dtype.kind == "c":
            raise ValueError("Complex data not supported")
        if X.dtype.kind != "O":
            raise ValueError(f"dtype {X.dtype} is not numeric: {name} must hold numbers")
    return X, was_numpy, names


def _check_shape(X, owner):
    n, d = X.shape
    if n == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum "
            f"of 1 is required by {owner}."
        )
    if d == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
            f"of 1 is required by {owner}."
        )


def _work_dtype(X):
    """The dtype the kernels run in for X's dtype (see _work._as_float)."""
    if X.dtype.kind == "O":
        return np.dtype(np.float64)
    return _as_float(np.zeros((0, 1), dtype=X.dtype)).dtype


def _weights_blocks(sample_weight, X):
    """sample_weight as a dask array with X's row chunks, or None."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, (bool, np.bool_)):
        raise ValueError(
            f"sample_weight must be an array or a number, got {sample_weight!r}."
        )
    sample_weight = _nullable_as_float(sample_weight)
    if hasattr(sample_weight, "to_dask_array"):
        sample_weight = sample_weight.to_dask_array(lengths=True)
    if np.ndim(sample_weight) == 0:
        value = float(sample_weight)
        return da.full(X.shape[0], value, chunks=(X.chunks[0],), dtype=np.float64)
    if not isinstance(sample_weight, da.Array):
        sample_weight = np.asarray(sample_weight)
        if sample_weight.ndim != 1:
            raise ValueError("Sample weights must be 1D array or scalar")
        if sample_weight.dtype.kind not in "biuf":
            raise ValueError("sample_weight must hold numbers")
        if sample_weight.shape[0] != X.shape[0]:
            raise ValueError(
                f"sample_weight.shape == {sample_weight.shape}, expected "
                f"({X.shape[0]},)!"
            )
        sample_weight = da.from_array(sample_weight, chunks=(X.chunks[0],))
    if sample_weight.ndim != 1:
        raise ValueError("Sample weights must be 1D array or scalar")
    if any(math.isnan(c) for c in sample_weight.chunks[0]):
        sample_weight = sample_weight.compute_chunk_sizes()
    if sample_weight.shape[0] != X.shape[0]:
        raise ValueError(
            f"sample_weight.shape == ({sample_weight.shape[0]},), expected "
            f"({X.shape[0]},)!"
        )
    return sample_weight.astype(np.float64).rechunk((X.chunks[0],))


# ---------------------------------------------------------------------------
# Graphs of the per-chunk tasks (the tasks: meanshift._dask_tasks)
# ---------------------------------------------------------------------------


# iterations submitted ahead of the counts the client has learned
_LAG = 1


def _pieces(X):
    """X's row chunks as Delayed objects, for the graphs computed or
    persisted at once (trees, seeds, climbs): X's graph optimised as an
    array's by ``to_delayed``, which the graphs of Delayed objects built
    on them keep as it is (they are culled, not fused)."""
    return X.to_delayed().ravel().tolist()


def _lazy_pieces(X):
    """X's row chunks as Delayed objects of X's own graph, not optimised,
    for a lazy Dask array (attractor labels).  Its compute optimises the
    graph as an array's: X's part once, as ``to_delayed`` did for the
    _pieces already submitted, so each key of X names the same task in
    both.  _pieces there would be optimised twice: the chunk of a slice,
    fused with its source under a new name (the chunk's key an alias of
    it), would be fused again under another, and the scheduler, still
    holding the key, would see it come back as a different task (its
    "different run_spec" warning: failures and deadlocks)."""
    return X.to_delayed(optimize_graph=False).ravel().tolist()


def _pairwise(parts, merge):
    """The parts (of consecutive row ranges, in row order) merged two by
    two, in row order, to one: ``merge(a, b)`` tasks in a binary tree."""
    while len(parts) > 1:
        nxt = [delayed(merge)(parts[i], parts[i + 1])
               for i in range(0, len(parts) - 1, 2)]
        if len(parts) % 2:
            nxt.append(parts[-1])
        parts = nxt
    return parts[0]


def _grid_cells(xs, ws, plan, cell_size):
    """The grid cells of all chunks, merged pairwise in row order: the
    cells' sums are added chunk by chunk (deterministic for a chunking)."""
    parts = [delayed(_grid_block)(x, w, plan, cell_size) for x, w in zip(xs, ws, strict=True)]
    return dask.compute(_pairwise(parts, _grid_merge))[0]


def _nearest_on_chunks(trees, centers, radius, budget):
    """For each of ``centers``, the points of all chunks nearest it, as
    one machine's tree gives them (_grid.nearest_points): each chunk's
    nearest, then the nearest of those."""
    parts = dask.compute(*[delayed(_grid_nearest)(t, centers, radius, budget)
                           for t in trees])
    return [_grid.nearest_of(*(np.concatenate(a) for a in zip(*found, strict=True)), budget)
            for found in zip(*parts, strict=True)]


class _ClimbOnChunks:
    """Positions climbed on the chunk trees (_climb), as _grid.Fit climbs
    them: ``(ends, intensities, iterations)`` back on the client."""

    def __init__(self, trees, plan, d, report, traffic):
        self.trees, self.plan, self.d = trees, plan, d
        self.report, self.traffic = report, traffic

    def __call__(self, positions, stage="climb"):
        plan = self.plan
        blocks = [delayed(_Seeds)(positions[i:i + _SEED_BLOCK])
                  for i in range(0, len(positions), _SEED_BLOCK)]
        if not blocks:
            return (np.zeros((0, self.d), plan.dtype), np.zeros(0),
                    np.zeros(0, np.intp))
        blocks, _ = _climb(self.trees, blocks, plan, self.d, self.report, stage,
                           self.traffic if stage in ("steps", "climb") else None)
        try:
            parts = dask.compute(*[delayed(_ends)(b, plan.dtype) for b in blocks])
        finally:
            _release(blocks)
        return tuple(np.concatenate(a) for a in zip(*parts, strict=True))


# ---------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------


def _futures(*collections, inputs=False):
    """The distributed Futures that persisted collections hold (nested in
    lists, tuples and dicts), each object once: those under the
    collections' own keys only, not those of their inputs (X may be the
    caller's, persisted on the cluster), unless ``inputs``."""
    distributed = sys.modules.get("distributed")
    if distributed is None:  # then there are none
        return []
    Future = distributed.Future
    out, seen, stack = [], set(), list(collections)
    while stack:
        x = stack.pop()
        if isinstance(x, Future):
            if id(x) not in seen:
                seen.add(id(x))
                out.append(x)
        elif type(x) in (list, tuple):
            stack.extend(x)
        elif type(x) is dict:
            stack.extend(x.values())
        elif dask.is_dask_collection(x):
            graph = x.__dask_graph__()
            if inputs:
                stack.extend(graph.values())
            else:
                stack.extend(graph.get(k) for k in flatten(x.__dask_keys__()))
    return out


def _release(*collections):
    """Release the Futures of an interrupted fit (see _futures), at once,
    although the traceback still refers to them.

    Not Client.cancel: the scheduler cancels the dependents of a cancelled
    key too, and meets an assertion (``assert ts.who_wants``) at each one
    that no client holds (the intermediate sums of an iteration), which
    drops the client's connection.  Released keys are forgotten, and tasks
    that only they needed are stopped, as when a future is deleted."""
    for f in _futures(*collections):
        with contextlib.suppress(Exception):  # a client closed meanwhile: nothing to release
            f.release()


class _Traffic:
    """Bytes the driver sends to and receives from the chunk tasks."""

    def __init__(self):
        self.per_iteration = []

    def add(self, n_moving, d, n_chunks, n_tasks, n_before=None):
        """An iteration: its step to each of the n_tasks that read it (the
        moving seeds' positions and, after the first, a byte per seed of
        the step before and the ends of those that stopped, d + 1 numbers
        each), d + 1 sums per moving seed and chunk back."""
        step = n_moving * d * 8
        if n_before is not None:
            step += n_before + (n_before - n_moving) * (d + 1) * 8
        sent = step * n_tasks
        back = n_moving * (d + 1) * 8 * n_chunks
        self.per_iteration.append(sent + back)


def _groups(trees):
    """The chunk numbers in groups whose trees one task of each iteration
    reads: on a distributed cluster, the chunks whose trees a worker holds
    (split in as many groups as it has threads), in chunk order; else, or
    where a tree is not in memory, each chunk alone.  A task per chunk and
    iteration costs the scheduler as much as a chunk's step on a few
    hundred thousand points; the sums are added in chunk order all the
    same (_added), so the grouping changes no result."""
    single = [[c] for c in range(len(trees))]
    futures = [_futures(t) for t in trees]
    if not futures or any(len(f) != 1 for f in futures):
        return single
    futures = [f[0] for f in futures]
    try:
        client = futures[0].client
        who_has = client.who_has(futures)
        threads = client.nthreads()
    except Exception:  # not a client that knows (or no longer): one per chunk
        return single
    held = {}
    for c, f in enumerate(futures):
        workers = who_has.get(f.key)
        if not workers:
            return single
        held.setdefault(min(workers), []).append(c)
    groups = []
    for worker, chunks in held.items():
        k = max(1, min(len(chunks), threads.get(worker, 1)))
        groups += [chunks[j * len(chunks) // k:(j + 1) * len(chunks) // k]
                   for j in range(k)]
    return sorted(groups)


def _climb(trees, blocks, plan, d, report, stage, traffic=None):
    """Climb the seed blocks on the chunk trees; the final blocks,
    persisted.

    Per iteration and block: a task per group of chunks (_groups) reads
    the block's step, and one task adds their sums and makes the next step
    (_advance); the block's state follows in a task beside that path
    (_fold), and so does its count of moving seeds, which the client
    learns an iteration late (_LAG)."""
    steps = [delayed(_start)(b) for b in blocks]
    counts = [delayed(_count)(s) for s in steps]
    blocks, steps, counts = dask.persist(blocks, steps, counts)
    live = list(dask.compute(*counts))  # seeds moving, as last learned
    total = sum(live)
    n_chunks = len(trees)
    groups = _groups(trees)
    start = time.perf_counter()
    it = 0
    pending = []  # per iteration submitted and not yet learned: its counts
    learned = []
    held = []
    try:
        if traffic is not None and total:
            traffic.add(total, d, n_chunks, len(groups))
        while True:
            active = [i for i, n in enumerate(live) if n]
            if active:
                # the previous iteration's futures stay referenced until the
                # scheduler holds the graph that depends on them
                held.append((list(blocks), list(steps)))
                del held[:-(_LAG + 1)]
                # the next iteration goes out before the counts of the one
                # before are back (a block that has just converged then
                # takes one step with no seeds): the client's round trip
                # overlaps the workers' iteration
                for i in active:
                    outs = [delayed(_partials)(steps[i], plan, *[trees[c] for c in g])
                            for g in groups]
                    steps[i] = delayed(_advance)(steps[i], outs, groups, it, plan)
                    blocks[i] = delayed(_fold)(blocks[i], steps[i])
                    counts[i] = delayed(_count)(steps[i])
                blocks, steps, counts = dask.persist(blocks, steps, counts)
                pending.append([(i, counts[i]) for i in active])
                it += 1
            if not pending:
                break
            if len(pending) > _LAG or not active:
                learned = pending.pop(0)
                before = sum(live)
                for (i, _), n in zip(learned, dask.compute(*[c for _, c in learned]), strict=True):
                    live[i] = n
                if traffic is not None and sum(live):
                    traffic.add(sum(live), d, n_chunks, len(groups), before)
                if report is not None:
                    report(stage, total - sum(live), total, time.perf_counter() - start)
                if not sum(live):
                    # every seed has stopped: the iterations still in flight
                    # move none, and their counts (zeros) would report the
                    # end again; the blocks' futures wait for them
                    break
    except BaseException:
        _release(blocks, steps, counts, held, pending, learned)
        raise
    return blocks, total


class _OnChunks:
    """The Dask driver of a fit's stages (meanshift._fit): X's chunks, their
    weights and trees (persisted on the cluster); the sums of a step are
    computed where the chunks live, the rest on the client."""

    def __init__(self, model):
        self.model = model
        self.blocks = self.trees = self.uniques = None

    def prepare(self, X, sample_weight):
        """Validate X (its shape: its values are checked by the chunk
        tasks), the weights and the seeds; build the chunk trees, from
        whose stats the plan learns how to scale X and the weights."""
        model = self.model
        X, self.was_numpy, names = _as_dask(X)
        _check_shape(X, type(model).__name__)
        model.n_features_in_ = X.shape[1]
        if names is not None:
            model.feature_names_in_ = names
        elif hasattr(model, "feature_names_in_"):
            del model.feature_names_in_
        plan = _FitPlan(X.dtype, _work_dtype(X), model.kernel, model.max_iter)
        W = _weights_blocks(sample_weight, X)
        # per task; the client's work (bandwidth, merge) uses its own threads
        self.n_threads = 1 if model.n_jobs is None else _effective_n_threads(model.n_jobs)
        self.merge_threads = _effective_n_threads(model.n_jobs)
        seeds = plan.checked_seeds(model.seeds, X.shape[1])
        self.xs = _pieces(X)
        self.ws = [None] * len(self.xs) if W is None else _pieces(W)
        self.weighted = W is not None
        if isinstance(model.__dict__.get("_attractor"), _OnCluster):
            model._attractor = None  # a refit drops the training data it held
        self.report = reporter(model.verbose)
        self.trees, self.stats = model._build_trees(self.xs, self.ws, plan, self.weighted)
        self.X = X
        self.n_samples = X.shape[0]
        self.traffic = _Traffic()
        return plan, seeds

    def search_tree(self):
        pass  # the chunk trees are built (prepare); the estimate takes a sample

    def estimate_bandwidth(self, plan):
        sample, sample_w = _sample(self.xs, self.ws, [s[0] for s in self.stats], plan,
                                   None, 0)
        if sample_w is not None and not (sample_w > 0).any():
            sample_w = None  # a sample of zero weights: count them all
        return _estimate_bandwidth(
            sample, quantile=0.3, n_samples=None, random_state=0,
            n_threads=self.merge_threads, report=self.report, weights=sample_w,
            weight_exponent=plan.wexp if sample_w is not None else 0,
        )

    def seeds(self, plan, seeds):
        self.blocks, self.points_are_seeds = self.model._seed_blocks(
            self.xs, self.ws, plan.scaled(seeds), plan, self.stats, self.weighted)
        return self.blocks

    def climb(self, plan, blocks):
        self.blocks, _ = _climb(self.trees, blocks, plan, self.X.shape[1], self.report,
                                "climb", self.traffic)
        self.uniques = uniques = dask.compute(
            *[delayed(_unique_centers)(b, plan.dtype) for b in self.blocks])
        if not sum(u[3] for u in uniques):
            return None
        return (np.concatenate([u[0] for u in uniques]),
                np.concatenate([u[1] for u in uniques]),
                max(u[2] for u in uniques))

    def drop_state(self, model):
        pass  # dropped as the fit began (prepare)

    def nearest_labels(self, plan, centers, cluster_all):
        return self.X.map_blocks(
            _nearest_labels, _as_f64(centers), plan, cluster_all, self.n_threads,
            dtype=np.intp, drop_axis=1,
        )

    def attractor_labels(self, plan, centers, seed_cluster, ends_table, cluster_all):
        labels = self.model._attractor_labels(
            self.X, self.xs, self.trees, self.blocks if self.points_are_seeds else None,
            self.uniques, seed_cluster, ends_table, _as_f64(centers), plan,
            self.n_threads, self.report,
        )
        return labels, _OnCluster(self.trees, plan, ends_table)

    def abandon(self):
        _release(self.trees, self.blocks)

    # the grid mode (meanshift._fit.finish_grid)

    def grid_cells(self, plan, cell_size):
        return _grid_cells(self.xs, self.ws, plan, cell_size)

    def grid_tree(self):
        pass  # the chunk trees are built before the bandwidth

    def climber(self, plan):
        return _ClimbOnChunks(self.trees, plan, self.X.shape[1], self.report,
                              self.traffic)

    def nearest(self, *a):
        return _nearest_on_chunks(self.trees, *a)

    def release(self):
        _release(self.trees)

    def fitted(self, model):
        model.bytes_per_iteration_ = self.traffic.per_iteration

    def grid_labels(self, plan, fit, table, centers64, label_by, cluster_all):
        return self.X.map_blocks(
            _grid_labels, table, centers64, plan, label_by, cluster_all,
            self.n_threads, dtype=np.intp, drop_axis=1,
        )

    def labels_out(self, labels):
        return labels.compute() if self.was_numpy else labels


class _OnCluster:
    """What labels_ and predict of a label_by="attractor" model climb on:
    the chunk trees of its training data (futures: all of X, too much to
    gather, stays on its cluster), the fit's plan, and where the seeds'
    climbs ended (_end_table)."""

    def __init__(self, trees, plan, ends):
        self.trees = trees
        self.plan = plan
        self.ends = ends

    def predict(self, X, centers, n_threads, report):
        """Lazy labels of the rows of X (a Dask array, in the caller's
        units) by where their climbs on the training chunks end, given the
        kept centers (in the caller's units)."""
        plan = self.plan
        follow = [delayed(_point_seeds)(x, None, plan) for x in _pieces(X)]
        follow, _ = _climb(self.trees, follow, plan, X.shape[1], report, "labels")
        centers = _as_f64(plan.scaled(centers))
        table = delayed(self.ends, pure=True)
        return da.concatenate([
            da.from_delayed(
                delayed(_attractor_labels)(x, plan, centers, True, n_threads,
                                           None, f, table),
                shape=(n,), dtype=np.intp,
            )
            for x, f, n in zip(_lazy_pieces(X), follow, X.chunks[0], strict=True)
        ])


class MeanShift(_api.MeanShift):
    """Mean shift clustering of a Dask array, on a Dask cluster.

    The parameters, attributes and results of :class:`meanshift.MeanShift`
    (same labels; centers equal up to the rounding of sums added in
    another order), for data too large for one machine.  ``fit`` takes a
    Dask array chunked along its rows (columns are gathered into one chunk
    if they are not), a Dask DataFrame, or a NumPy array.  The fit runs on
    the ``distributed.Client`` in context, or on Dask's default scheduler.

    Differences from one machine:

    * ``labels_`` is a lazy Dask array with X's row chunks (a NumPy array
      when X is one); ``predict`` returns a Dask array for Dask input.
    * With ``bandwidth=None`` the bandwidth is estimated on a random sample
      of ``BANDWIDTH_SAMPLES`` rows (all rows when there are fewer).
    * ``n_jobs`` is the number of threads each task uses (None: 1; the
      parallelism is that of the tasks).
    * With ``label_by="attractor"`` the model keeps the trees of the
      training chunks on the cluster, for ``predict`` and ``labels_``,
      until it is refitted or deleted: these need the cluster's client open
      (they raise RuntimeError once it is closed), and the model does not
      pickle (PicklingError).  A model fitted with ``label_by="nearest"``
      holds nothing on the cluster.

    Parameters
    ----------
    bandwidth, seeds, bin_seeding, min_bin_freq, cluster_all, max_iter, \
verbose, kernel, label_by, algorithm, grid_resolution
        As :class:`meanshift.MeanShift`.  ``verbose`` reports the seeds
        still moving after each iteration.
    n_jobs : int, default=None
        Threads per task (None: 1).

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Coordinates of cluster centers, strongest first (NumPy).
    labels_ : dask array of shape (n_samples,)
        Labels of each point, lazy, with X's row chunks (NumPy when X is).
    n_iter_ : int
        The largest number of iterations a converged seed took.
    bandwidth_ : float
        The bandwidth used.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit (dask DataFrame input with string
        column names only).
    bytes_per_iteration_ : list of int
        Per iteration of the climb: the bytes of seed positions sent to the
        chunk tasks and of partial sums returned.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from meanshift.dask import MeanShift
    >>> X = da.from_array(np.array([[1, 1], [2, 1], [1, 0],
    ...                             [4, 7], [3, 5], [3, 6]]), chunks=(2, 2))
    >>> model = MeanShift(bandwidth=2).fit(X)
    >>> model.cluster_centers_
    array([[3.33333333, 6.        ],
           [1.33333333, 0.66666667]])
    >>> model.labels_.compute()
    array([1, 1, 1, 0, 0, 0])
    """

    def fit(self, X, y=None, sample_weight=None):
        """Perform clustering.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)
            Samples to cluster, chunked along the rows.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : dask array, dask Series or array-like, default=None
            Weight of each point, shape (n_samples,) (see
            :meth:`meanshift.MeanShift.fit`); rechunked to X's rows.

        Returns
        -------
        self : object
            Fitted instance.
        """
        return fit_stages(self, _OnChunks(self), X, sample_weight)

    def _build_trees(self, xs, ws, plan, weighted):
        """The chunk trees (persisted) and each chunk's stats; the plan
        learns from them how to scale X and the weights (rebuilding the
        trees where it must)."""

        def build():
            trees = list(dask.persist(*[delayed(_build)(x, w, plan)
                                        for x, w in zip(xs, ws, strict=True)]))
            try:
                return trees, dask.compute(*[delayed(_stats)(t) for t in trees])
            except BaseException:
                _release(trees)
                raise

        trees, stats = build()
        try:
            if weighted and not sum(s[3] for s in stats):
                raise ValueError(
                    "Sample weights must contain at least one non-zero number.")
            if plan.dtype == np.float64:
                plan.scale_by(_range_exponent(np.array([max(s[1] for s in stats)]),
                                              bandwidth=self.bandwidth))
            if weighted:  # weights near float64's limits: scaled (_weights)
                plan.wexp = _weights.exponent_of(max(s[4] for s in stats),
                                                 min(s[5] for s in stats))
        except BaseException:
            _release(trees)
            raise
        if plan.k or plan.wexp:  # trees over exactly scaled chunks and weights
            old, (trees, stats) = trees, build()
            _release(old)
        return trees, stats

    def _seed_blocks(self, xs, ws, seeds, plan, stats, weighted):
        """The blocks of seeds to climb (given, bin seeds, or the points of
        each chunk) and whether they are the points."""
        if seeds is None and self.bin_seeding:
            total = sum(s[2] for s in stats) if weighted else sum(s[0] for s in stats)
            seeds = _bin_seeds(xs, ws, plan, self.min_bin_freq, total)
            plan.check_bin_seeds(seeds, self.min_bin_freq, weighted)
        if seeds is None:
            return [delayed(_point_seeds)(x, w, plan) for x, w in zip(xs, ws, strict=True)], True
        return [delayed(_Seeds)(seeds[i:i + _SEED_BLOCK])
                for i in range(0, len(seeds), _SEED_BLOCK)], False

    def _attractor_labels(self, X, xs, trees, seed_blocks, uniques,
                          cluster_of, ends_table, centers64, plan, n_threads, report):
        """label_by="attractor": the points that were seeds by their own
        climbs (``seed_blocks``, or None), the others climbed now; lazy.
        ``xs``: X's _pieces."""
        known = [None] * len(xs)
        # where the converged seeds' climbs ended, and their clusters: a
        # point whose own climb ends there takes that cluster (one graph
        # node, which every chunk's task reads)
        table = delayed(ends_table, pure=True)
        if seed_blocks is not None:  # the points' own climbs are known
            offset = 0
            for j, (b, u) in enumerate(zip(seed_blocks, uniques, strict=True)):
                n_u = len(u[0])
                known[j] = delayed(_seed_clusters)(b, plan.dtype,
                                                   cluster_of[offset:offset + n_u])
                offset += n_u
            known = list(dask.persist(*known))
        follow = [delayed(_follow_rows)(x, plan, kn) for x, kn in zip(xs, known, strict=True)]
        try:
            follow, _ = _climb(trees, follow, plan, centers64.shape[1], report,
                               "labels")
        except BaseException:
            _release(known)
            raise
        parts = [
            da.from_delayed(
                delayed(_attractor_labels)(x, plan, centers64, self.cluster_all,
                                           n_threads, kn, f, table),
                shape=(n,), dtype=np.intp,
            )
            for x, kn, f, n in zip(_lazy_pieces(X), known, follow, X.chunks[0], strict=True)
        ]
        return da.concatenate(parts)

    # The training data of a label_by="attractor" model stays on its
    # cluster, as the futures of the chunk trees (all of X: too much to
    # gather); labels_ and predict climb on it.

    def _held(self):
        """The chunk trees (futures) this model holds on its cluster, or None."""
        state = self.__dict__.get("_attractor")
        return state.trees if isinstance(state, _OnCluster) else None

    def _cluster_gone(self):
        """None while the training data this model holds on its Dask
        cluster is there; otherwise why it is not."""
        futures = _futures(self._held())
        if not futures:
            return None
        client = futures[0].client
        if client is None or client.status in ("closing", "closed"):
            return "that cluster's client is closed"
        if any(f.cancelled() for f in futures):
            return ("the cluster no longer holds it (its futures were cancelled, "
                    "as Client.restart does)")
        return None

    @property
    def labels_(self):
        try:
            labels = self.__dict__["labels_"]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute 'labels_'"
            ) from None
        why = self._cluster_gone() if isinstance(labels, da.Array) else None
        if why is not None:
            raise RuntimeError(
                "The labels_ of this MeanShift (label_by='attractor') come from "
                "climbs on its training data, which lives on its Dask cluster; "
                f"{why}: compute labels_ while its client is open, or refit."
            )
        return labels

    @labels_.setter
    def labels_(self, value):
        self.__dict__["labels_"] = value

    @labels_.deleter
    def labels_(self):
        del self.__dict__["labels_"]

    def __getstate__(self):
        if _futures(self._held()):
            raise pickle.PicklingError(
                "This MeanShift (label_by='attractor') keeps its training data on "
                "its Dask cluster for predict and labels_, and Dask futures do not "
                "outlive their client: it cannot be pickled. A model fitted with "
                "label_by='nearest' pickles (its predict needs only "
                "cluster_centers_)."
            )
        return super().__getstate__()

    def __deepcopy__(self, memo):
        # as copy.deepcopy does by default, without __getstate__'s refusal;
        # the copy shares the Futures (handles: a copied one would be bound
        # to no client), so it holds the same data on the same cluster
        for f in _futures(self._held(),
                          self.__dict__.get("labels_"), inputs=True):
            memo[id(f)] = f
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    def fit_predict(self, X, y=None, sample_weight=None):
        """Perform clustering on X and return the labels.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)
            Samples to cluster.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : dask array, dask Series or array-like, default=None
            Weight of each point (see :meth:`fit`).

        Returns
        -------
        labels : dask array of shape (n_samples,)
            Cluster labels (NumPy when X is).
        """
        return self.fit(X, sample_weight=sample_weight).labels_

    def predict(self, X):
        """Predict the cluster each sample in X belongs to.

        With ``label_by="attractor"`` the rows climb on the training
        chunks, which the model keeps on the cluster.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)
            New data to predict.

        Returns
        -------
        labels : dask array of shape (n_samples,)
            Index of the cluster each sample belongs to: lazy, with X's row
            chunks, for Dask input; NumPy otherwise.
        """
        check_is_fitted(self)
        X, was_numpy, _ = _as_dask(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input."
            )
        n_threads = 1 if self.n_jobs is None else _effective_n_threads(self.n_jobs)
        why = self._cluster_gone()
        if why is not None:
            raise RuntimeError(
                "This MeanShift (label_by='attractor') predicts by climbing on its "
                f"training data, which lives on its Dask cluster; {why}: refit it "
                "on a running cluster (a model fitted with label_by='nearest' "
                "predicts from cluster_centers_ alone)."
            )
        state = getattr(self, "_attractor", None)
        if isinstance(state, _OnCluster):
            if X.shape[0]:
                labels = state.predict(X, self.cluster_centers_, n_threads,
                                       reporter(self.verbose))
                return labels.compute() if was_numpy else labels
            state = None
        shell = _api.MeanShift(n_jobs=n_threads)
        shell.cluster_centers_ = self.cluster_centers_
        shell.n_features_in_ = self.n_features_in_
        # algorithm="grid" with attractor labels: the cells' clusters
        shell._attractor = state
        labels = X.map_blocks(_predict_block, shell, dtype=np.intp, drop_axis=1)
        return labels.compute() if was_numpy else labels


def _predict_block(x, model):
    return model.predict(np.asarray(x))


def _sample(xs, ws, sizes, plan, n_samples, random_state):
    """``(rows, weights or None)``: a uniform random sample, without
    replacement, of ``n_samples`` rows (None: BANDWIDTH_SAMPLES), all rows
    when there are no more, in row order."""
    n = sum(sizes)
    m = min(n, BANDWIDTH_SAMPLES if n_samples is None else n_samples)
    if m == n:
        idx = np.arange(n)
    else:
        seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
        idx = np.sort(np.random.default_rng(seed).choice(n, size=m, replace=False))
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    parts, wparts = [], []
    for j, x in enumerate(xs):
        lo, hi = np.searchsorted(idx, [bounds[j], bounds[j + 1]])
        if hi > lo:
            local = idx[lo:hi] - bounds[j]
            parts.append(delayed(_take)(x, local, plan))
            if ws[j] is not None:
                wparts.append(delayed(_take_weights)(ws[j], local, plan.wexp))
    parts, wparts = dask.compute(parts, wparts)
    return np.concatenate(parts), (np.concatenate(wparts) if wparts else None)


def _bin_seeds(xs, ws, plan, min_bin_freq, n_points):
    """get_bin_seeds over the chunks, the cells of side plan.bin_size: None
    when binning failed (the points are then the seeds).  The weights are
    scaled by 2**plan.wexp (n_points, the total weight, too): min_bin_freq
    is compared in the caller's units."""
    bin_size, j = plan.bin_size, plan.wexp
    parts = [delayed(_bin_block)(x, w, plan) for x, w in zip(xs, ws, strict=True)]
    cells, counts = dask.compute(_pairwise(parts, _merge_cells))[0]
    cells = cells[counts >= _weights.ldexp_or_inf(float(min_bin_freq), j)]
    return _bin_seeds_from_cells(cells, bin_size, _weights.ldexp_or_inf(n_points, -j))


# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------


def mean_shift(X, *, bandwidth=None, seeds=None, bin_seeding=False, min_bin_freq=1,
               cluster_all=True, max_iter=300, n_jobs=None, verbose=False,
               sample_weight=None, kernel="flat", label_by="nearest",
               algorithm="exact", grid_resolution=3.0):
    """:func:`meanshift.mean_shift` on a Dask array: ``(cluster_centers,
    labels)``, the centers a NumPy array, the labels lazy (see
    :class:`MeanShift`)."""
    model = MeanShift(
        bandwidth=bandwidth, seeds=seeds, bin_seeding=bin_seeding,
        min_bin_freq=min_bin_freq, cluster_all=cluster_all, n_jobs=n_jobs,
        max_iter=max_iter, verbose=verbose, kernel=kernel, label_by=label_by,
        algorithm=algorithm, grid_resolution=grid_resolution,
    ).fit(X, sample_weight=sample_weight)
    return model.cluster_centers_, model.labels_


def estimate_bandwidth(X, *, quantile=0.3, n_samples=None, random_state=0,
                       n_jobs=None, verbose=False):
    """:func:`meanshift.estimate_bandwidth` on a random sample of the rows
    of a Dask array, gathered to the client.

    ``n_samples`` rows are drawn uniformly without replacement (numpy's
    ``Generator.choice``, seeded from ``random_state``: the same sample for
    the same arguments); ``None`` means ``min(n, BANDWIDTH_SAMPLES)``.  The
    estimate is then that of :func:`meanshift.estimate_bandwidth` on the
    sample (scikit-learn's ``n_samples`` semantics; scikit-learn draws its
    sample by a permutation of all rows, which would take 8 bytes per row
    on the client, so the rows drawn differ)."""
    _check_estimate_args(quantile, n_samples, n_jobs, verbose)
    X, _, _ = _as_dask(X)
    _check_shape(X, "estimate_bandwidth")
    dtype = _work_dtype(X)
    xs = _pieces(X)
    sizes = [int(c) for c in X.chunks[0]]
    sample, _ = _sample(xs, [None] * len(xs), sizes, _FitPlan(dtype, dtype), n_samples,
                        random_state)
    # the sample's magnitude decides an exact scaling, as on one machine
    k = _range_exponent(sample)
    if k:
        sample = np.ldexp(sample, k)
    bandwidth = _estimate_bandwidth(sample, quantile=quantile, n_samples=None,
                                    random_state=0,
                                    n_threads=_effective_n_threads(n_jobs),
                                    report=reporter(verbose))
    return np.float64(_unscale(bandwidth, -k))


def get_bin_seeds(X, bin_size, min_bin_freq=1):
    """:func:`meanshift.get_bin_seeds` over the chunks of a Dask array: the
    cells are counted per chunk and merged in row order, so the seeds (a
    NumPy array) are exactly those of one machine.  When binning fails the
    points are the seeds and X is returned, as scikit-learn does."""
    X, _, _ = _as_dask(X)
    if bin_size == 0:
        return X
    try:
        float(bin_size)
    except OverflowError:
        raise ValueError(f"bin_size={bin_size!r} is beyond the range of float64") from None
    dtype = _work_dtype(X)
    xs = _pieces(X)
    plan = _FitPlan(X.dtype, dtype)
    plan.bin_size = bin_size
    seeds = _bin_seeds(xs, [None] * len(xs), plan, min_bin_freq, X.shape[0])
    return X if seeds is None else seeds
