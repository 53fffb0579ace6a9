"""The stages of a fit, written once, free of scikit-learn.

Both estimators (:class:`meanshift.MeanShift`, one machine, and
:class:`meanshift.dask.MeanShift`, the data in chunks on a cluster) run
the same sequence here; each supplies a *driver*, the few operations that
differ in where the data lives (the tree or the chunk trees, the cells,
the climbs, the labels).  The order of the stages, their marks
(:func:`meanshift._stages.mark`) and what the fitted model keeps are
decided here and nowhere else.

Each estimator's ``fit`` is ``fit_stages(self, driver, X, sample_weight)``
(the driver: ``meanshift._api._Local``, ``meanshift.dask._OnChunks``).
What a driver of an exact fit supplies is listed at :func:`fit_stages`;
a driver of the grid mode (:func:`finish_grid`) has: ``n_samples``;
``merge_threads`` (the client's threads for the work on the client);
``grid_cells(plan, cell_size)``, the cells of all rows (their sums);
``grid_tree()``, the tree the cells' seeds climb on, where it is built
now; ``climber(plan)`` and ``nearest(centers, radius, budget)`` for
:class:`meanshift._grid.Fit`; ``release()``, which frees the trees once
the climbs are done; ``fitted(model)``, what the driver adds to the
model; ``grid_labels(plan, fit, table, centers64, label_by,
cluster_all)`` and ``labels_out(labels)``.
"""

from . import _grid
from ._stages import mark
from ._work import _as_f64, _end_table, _merge_centers


def finish_grid(model, driver, plan):
    """The rest of a fit with algorithm="grid" (see meanshift._grid), once
    the bandwidth is known: the cells' seeds climb on the tree (or the
    chunk trees), which is freed before the labels (through the cells, or
    by the nearest center)."""
    cell_size = _grid.cell_side(plan, model.grid_resolution)
    cells = driver.grid_cells(plan, cell_size)
    _grid.warn_if_unpaid(len(cells), driver.n_samples, model.grid_resolution)
    mark("seeds")
    driver.grid_tree()
    attractor = model.label_by == "attractor"
    fit = _grid.Fit(cells, plan, driver.climber, driver.merge_threads, attractor,
                    driver.nearest)
    mark("climb")
    driver.release()  # the trees' copies of X are freed before the labels
    model.n_iter_ = fit.n_iter
    model.bandwidth_ = plan.shown_bandwidth
    driver.fitted(model)
    table = _grid.Attractor(plan, cell_size, cells, fit) if attractor else None
    labels = driver.grid_labels(plan, fit, table, _as_f64(fit.centers),
                                model.label_by, model.cluster_all)
    model._attractor = table
    model.cluster_centers_ = plan.centers_out(fit.centers)
    model.labels_ = driver.labels_out(labels)
    mark("labels")
    return model


def fit_stages(model, driver, X, sample_weight):
    """A fit's stages, in order (each estimator's ``fit``): validate and
    scale (``driver.prepare``), the tree the bandwidth estimate searches,
    the bandwidth, then either the grid mode (finish_grid) or the seeds,
    their climbs, the merge of their ends and the labels.  A driver of an
    exact fit has, besides what finish_grid asks: ``prepare(X,
    sample_weight)`` -> (plan, seeds or None); ``search_tree()``;
    ``estimate_bandwidth(plan)``; ``seeds(plan, seeds)``; ``climb(plan,
    seeds)`` -> (the converged seeds' ends, their intensities, the largest
    iteration count) or None when no seed converged; ``drop_state(model)``
    (a refit's labels no longer go with an earlier fit's attractor state);
    ``nearest_labels(plan, centers, cluster_all)`` and
    ``attractor_labels(plan, centers, seed_cluster, ends_table,
    cluster_all)`` -> (labels, the state predict climbs on); and
    ``abandon()``, what an interrupted fit releases."""
    model._check_params()
    plan, seeds = driver.prepare(X, sample_weight)
    mark("validate")
    try:
        driver.search_tree()
        if model.bandwidth is None:
            plan.estimated(driver.estimate_bandwidth(plan))
            mark("bandwidth")
        else:
            plan.given(model.bandwidth)
        if model.algorithm == "grid":
            return finish_grid(model, driver, plan)
        seeds = driver.seeds(plan, seeds)
        mark("seeds")
        climbed, seeds = driver.climb(plan, seeds), None
        mark("climb")
        if climbed is None:
            raise plan.no_point_error()
        ends, totals, n_iter = climbed
        model.n_iter_ = n_iter
        model.bandwidth_ = plan.shown_bandwidth
        driver.fitted(model)
        centers, seed_cluster = _merge_centers(ends, totals, plan.bandwidth,
                                               driver.merge_threads)
        mark("merge")
        driver.drop_state(model)
        if model.label_by == "nearest":
            state = None
            labels = driver.nearest_labels(plan, centers, model.cluster_all)
        else:
            labels, state = driver.attractor_labels(
                plan, centers, seed_cluster, _end_table(ends, seed_cluster),
                model.cluster_all,
            )
    except BaseException:
        driver.abandon()
        raise
    model._attractor = state
    model.cluster_centers_ = plan.centers_out(centers)
    model.labels_ = driver.labels_out(labels)
    mark("labels")
    return model
