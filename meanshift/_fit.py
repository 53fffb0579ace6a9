"""The stages of a fit, written once, free of scikit-learn.

Both estimators (:class:`meanshift.MeanShift`, one machine, and
:class:`meanshift.dask.MeanShift`, the data in chunks on a cluster) run
the same sequence here; each supplies a *driver*, the few operations that
differ in where the data lives (the tree or the chunk trees, the cells,
the climbs, the labels).  The order of the stages, their marks
(:func:`meanshift._stages.mark`) and what the fitted model keeps are
decided here and nowhere else.

A driver of the grid mode (:func:`finish_grid`) has: ``n_samples``;
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
from ._work import _as_f64


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
