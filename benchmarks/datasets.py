"""The benchmarks' data sets, each defined once.

Imported by the asv suite (benchmarks/benchmarks/, which puts this folder on
``sys.path``: asv imports the suite as the package ``benchmarks`` and adds
nothing else), by the scripts beside this file (``python benchmarks/x.py``
has this folder on ``sys.path`` already) and by tools/scaling.py.  It
imports nothing from meanshift, so that it can be loaded in any process.

Every function returns the same array for the same arguments on every call:
the data sets are fixed by their seeds.

* ``blobs``: ``make_blobs`` with unit clusters, C-contiguous; ``bin_blobs``
  its bin-seeding recipe (8 centers, seed 1) used by most large cases.
* ``PREDICT_CENTERS``, ``predict_blobs``: 12 well separated blobs on a 4 x 3
  grid, for MeanShift.predict.
* ``image``: colour and position of the pixels of china.jpg.
* ``digits``: scikit-learn's digits, standardised (64-d).
* ``moons``, ``circles``: the non-convex shapes of grid_agreement.py.
* ``block_blobs``: tools/scaling.py's blobs, made in blocks (linear
  memory and time up to 1e8 rows and more).
* ``blobs_rows`` (``DASK_UNITS``, ``DASK_CENTERS``): the asv Dask
  benchmark's blobs, drawn on the workers in seeded units of rows.
* ``chunk_blobs``: dask_memory.py's blobs, one seed per Dask chunk.
"""

import numpy as np

# ---------------------------------------------------------------------------
# make_blobs
# ---------------------------------------------------------------------------


def blobs(n_samples, n_features, *, centers=8, random_state=1, cluster_std=1.0,
          dtype=np.float64):
    """``make_blobs(n_samples, n_features, centers, cluster_std,
    random_state)``'s points as a C-contiguous array of ``dtype``."""
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(
        n_samples=n_samples,
        n_features=n_features,
        centers=centers,
        cluster_std=cluster_std,
        random_state=random_state,
    )
    return np.ascontiguousarray(X, dtype=dtype)


def bin_blobs(n_samples, n_features=2, dtype=np.float64):
    """The bin-seeding recipe: 8 unit blobs, seed 1 (the same data for a
    given n; the centers are those ``make_blobs(centers=8,
    random_state=1)`` draws, in [-10, 10]^d)."""
    return blobs(n_samples, n_features, centers=8, random_state=1, dtype=dtype)


# 12 well separated blobs on a 4 x 3 grid, so that a fit finds exactly 12
PREDICT_CENTERS = np.array([[8.0 * i, 8.0 * j] for i in range(4) for j in range(3)])


def predict_blobs(n_samples, random_state):
    """Points of the 12 blobs of ``PREDICT_CENTERS``: the model is fitted
    on ``predict_blobs(20_000, 3)``, predict runs on ``random_state=4``."""
    return blobs(n_samples, 2, centers=PREDICT_CENTERS, random_state=random_state)


# ---------------------------------------------------------------------------
# Data scikit-learn ships
# ---------------------------------------------------------------------------


def image(step=1, colour_only=False):
    """Colour-and-position features of the pixels of a photograph that
    scikit-learn ships (china.jpg, 427 x 640), every ``step``-th row and
    column: red, green, blue in [0, 1] and column, row divided by the
    width, the classic segmentation set-up (5 features); with
    ``colour_only`` the first three alone, C-contiguous."""
    from sklearn.datasets import load_sample_image

    img = load_sample_image("china.jpg")[::step, ::step]
    h, w, _ = img.shape
    yy, xx = np.mgrid[0:h, 0:w]
    X = np.column_stack([img.reshape(-1, 3) / 255.0, xx.ravel() / w, yy.ravel() / w])
    return np.ascontiguousarray(X[:, :3]) if colour_only else X


def digits():
    """scikit-learn's digits (1797 x 64), each feature standardised."""
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit_transform(load_digits().data)


def moons(n_samples=20_000):
    """Two interleaved half circles, noise 0.07, seed 1."""
    from sklearn.datasets import make_moons

    return make_moons(n_samples, noise=0.07, random_state=1)[0]


def circles(n_samples=20_000):
    """Two concentric circles (radii 1 and 0.5), noise 0.05, seed 1."""
    from sklearn.datasets import make_circles

    return make_circles(n_samples, noise=0.05, factor=0.5, random_state=1)[0]


# ---------------------------------------------------------------------------
# Blobs made without make_blobs: in blocks, or chunk by chunk on Dask workers
# ---------------------------------------------------------------------------


def block_blobs(n, d, seed=1):
    """tools/scaling.py's blobs: 8 unit Gaussians around centers drawn
    uniformly in [-10, 10]^d from ``default_rng(seed)``, made in blocks of
    2^20 rows (memory and time linear in n)."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-10.0, 10.0, size=(8, d))
    X = np.empty((n, d))
    block = 1 << 20
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        X[lo:hi] = centers[rng.integers(8, size=hi - lo)]
        X[lo:hi] += rng.standard_normal((hi - lo, d))
    return X


# The asv Dask benchmark's data: the 8 centers of the bin-seeding blobs
# (those make_blobs(centers=8, random_state=1) draws), each point a unit
# Gaussian around one of them, drawn where the data lives, in fixed units of
# rows with a seed each, so every chunking holds the same points (a chunk is
# a run of whole units) and no large array travels in the task graph.
DASK_UNITS = 32
DASK_CENTERS = np.random.RandomState(1).uniform(-10.0, 10.0, size=(8, 2))


def blobs_rows(unit):
    """``rows(start, stop)``: rows [start, stop) of the Dask benchmark's
    blobs, made of whole units of ``unit`` rows, unit k drawn from its own
    seed (1, k).  A closure, so that Dask sends it to the workers by value
    (they need not import this module)."""
    centers = DASK_CENTERS.copy()

    def rows(start, stop):
        parts = []
        for k in range(start // unit, -(-stop // unit)):
            rng = np.random.default_rng([1, k])
            part = centers[rng.integers(len(centers), size=unit)]
            part += rng.standard_normal((unit, 2))
            lo, hi = max(start - k * unit, 0), min(stop - k * unit, unit)
            parts.append(part[lo:hi])
        return np.concatenate(parts)

    return rows


def chunk_blobs(block):
    """``make(i)``: dask_memory.py's chunk i, ``block`` x 2 points around
    8 centers drawn uniformly in [-10, 10]^2 from ``default_rng(1)``, the
    points from ``default_rng(i)``.  A closure, so that Dask sends it to
    the workers by value (they need not import this module)."""

    def make(seed):
        rng = np.random.default_rng(seed)
        centers = np.random.default_rng(1).uniform(-10, 10, size=(8, 2))
        return centers[rng.integers(8, size=block)] + rng.standard_normal((block, 2))

    return make
