"""meanshift.plot: what is drawn, where, and the errors it raises.

The figures are inspected through their artists (offsets, colours, patches,
labels), found by the ``gid`` the function gives them, and one is rendered
to a PNG file.
"""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_blobs

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Circle  # noqa: E402

import meanshift  # noqa: E402
from meanshift import MeanShift, plot  # noqa: E402

BANDWIDTH = 1.5
X2, _ = make_blobs(
    n_samples=300, centers=[[0, 0], [6, 6], [0, 7]], cluster_std=0.6, random_state=0
)


@pytest.fixture(scope="module")
def clustering():
    return MeanShift(bandwidth=BANDWIDTH).fit(X2)


def artists(ax, gid):
    return [a for a in (*ax.collections, *ax.patches) if a.get_gid() == gid]


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def is_grey(rgba):
    return rgba[0] == rgba[1] == rgba[2]


# ---------------------------------------------------------------------------
# Two features
# ---------------------------------------------------------------------------


def test_two_features(clustering):
    labels, centers = clustering.labels_, clustering.cluster_centers_
    n_centers = len(centers)
    assert n_centers == 3

    ax = plot(X2, labels, centers, bandwidth=BANDWIDTH)

    (center_scatter,) = artists(ax, "centers")
    assert_array_equal(center_scatter.get_offsets(), centers)

    circles = [p for p in ax.patches if isinstance(p, Circle)]
    assert len(circles) == n_centers
    for circle, center in zip(circles, centers, strict=True):
        assert circle.get_radius() == BANDWIDTH
        assert_array_equal(circle.center, center)
        assert not circle.get_fill()
        assert circle.get_linestyle() == "--"

    # one scatter per cluster, holding exactly that cluster's points
    scatters = artists(ax, "points")
    assert len(scatters) == n_centers
    assert sum(len(s.get_offsets()) for s in scatters) == len(X2)
    for k, scatter in enumerate(scatters):
        assert_array_equal(scatter.get_offsets(), X2[labels == k])
    colors = np.concatenate([s.get_facecolors() for s in scatters])
    assert len(colors) == n_centers  # one colour per scatter
    assert len(np.unique(colors, axis=0)) == n_centers
    assert not any(is_grey(c) for c in colors)
    # a center wears its cluster's colour
    assert_allclose(center_scatter.get_facecolors()[:, :3], colors[:, :3])

    assert artists(ax, "unclustered") == []
    assert ax.get_xlabel() == "feature 0"
    assert ax.get_ylabel() == "feature 1"
    assert ax.get_aspect() == 1.0  # circles look round
    # at most 10 clusters: each named in the legend with its size, in its colour
    sizes = np.bincount(labels, minlength=n_centers)
    assert legend_texts(ax) == [
        *(f"cluster {k} ({sizes[k]:,})" for k in range(n_centers)),
        "cluster centers", "bandwidth 1.5",
    ]
    # beside the axes, not over the points, and inside the figure
    ax.figure.draw_without_rendering()  # runs the layout
    box = ax.get_legend().get_window_extent()
    assert box.x0 > ax.get_window_extent().x1
    assert box.x1 <= ax.figure.bbox.x1
    entries = ax.get_legend().legend_handles[:n_centers]
    assert_allclose([to_rgba(h.get_markerfacecolor())[:3] for h in entries], colors[:, :3])
    assert ax.get_title() == ""


def test_png(clustering, tmp_path):
    ax = plot(X2, clustering.labels_, clustering.cluster_centers_, bandwidth=BANDWIDTH)
    path = tmp_path / "clusters.png"
    ax.figure.savefig(path, dpi=50)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = ax.figure.get_size_inches()
    image = matplotlib.image.imread(path)
    assert image.shape == (round(50 * height), round(50 * width), 4)
    assert image.shape[:2] == (250, 300)
    assert image[..., :3].std() > 0.05  # not a blank canvas


def test_no_bandwidth_no_circles(clustering):
    ax = plot(X2, clustering.labels_, clustering.cluster_centers_)
    assert not any(isinstance(p, Circle) for p in ax.patches)
    assert legend_texts(ax) == [
        *(f"cluster {k} ({(clustering.labels_ == k).sum()})"
          for k in range(len(clustering.cluster_centers_))),
        "cluster centers",
    ]


def test_unclustered_points():
    X, _ = make_blobs(n_samples=200, centers=[[0, 0], [8, 8]], cluster_std=1.0, random_state=1)
    model = MeanShift(bandwidth=1.0, cluster_all=False).fit(X)
    labels = model.labels_
    orphans = labels == -1
    assert 0 < orphans.sum() < len(X)

    ax = plot(X, labels, model.cluster_centers_, bandwidth=1.0)

    (grey,) = artists(ax, "unclustered")
    assert_array_equal(grey.get_offsets(), X[orphans])
    (color,) = grey.get_facecolors()
    assert is_grey(color) and color[0] > 0.7  # light grey
    scatters = artists(ax, "points")
    assert sum(len(s.get_offsets()) for s in scatters) == (~orphans).sum()
    assert "unclustered" in legend_texts(ax)
    assert grey.get_zorder() < scatters[0].get_zorder()  # beneath the clusters


def test_all_unclustered_and_no_centers():
    ax = plot(X2, np.full(len(X2), -1), np.empty((0, 2)), bandwidth=1.0)
    (grey,) = artists(ax, "unclustered")
    assert len(grey.get_offsets()) == len(X2)
    assert artists(ax, "points") == []
    assert len(artists(ax, "centers")[0].get_offsets()) == 0
    assert artists(ax, "bandwidth") == []


def test_colours_repeat_beyond_the_palette():
    centers = np.stack([np.arange(25.0) * 10, np.zeros(25)], axis=1)
    labels = np.repeat(np.arange(25), 4)
    X = centers[labels] + np.random.default_rng(0).normal(scale=0.5, size=(100, 2))
    ax = plot(X, labels, centers)
    scatters = artists(ax, "points")
    assert len(scatters) == 25
    colors = np.array([s.get_facecolors()[0] for s in scatters])
    assert len(np.unique(colors[:18], axis=0)) == 18
    assert_array_equal(colors[18:], colors[:7])
    # more than 10 clusters: the legend does not list them
    assert legend_texts(ax) == ["cluster centers"]


def test_many_points_are_rasterized(clustering):
    X = np.tile(X2, (40, 1))  # 12,000 points
    labels = np.tile(clustering.labels_, 40)
    ax = plot(X, labels, clustering.cluster_centers_)
    assert all(s.get_rasterized() for s in artists(ax, "points"))
    small = plot(X2, clustering.labels_, clustering.cluster_centers_)
    assert not any(s.get_rasterized() for s in artists(small, "points"))
    assert artists(ax, "points")[0].get_sizes()[0] < artists(small, "points")[0].get_sizes()[0]


# ---------------------------------------------------------------------------
# Other numbers of features
# ---------------------------------------------------------------------------


def reference_projection(X, A):
    """A projected on the first two principal axes of X, with numpy's SVD;
    each axis signed so its largest coefficient is positive."""
    mean = X.mean(axis=0)
    _, singular, vt = np.linalg.svd(X - mean, full_matrices=False)
    axes = vt[:2]
    for axis in axes:
        if axis[np.argmax(np.abs(axis))] < 0:
            axis *= -1
    return (A - mean) @ axes.T, singular**2 / (singular**2).sum()


def test_five_features_projected():
    X, _ = make_blobs(n_samples=400, n_features=5, centers=4, random_state=3)
    model = MeanShift(bandwidth=3.0).fit(X)
    labels, centers = model.labels_, model.cluster_centers_

    ax = plot(X, labels, centers, bandwidth=3.0)

    expected_centers, ratio = reference_projection(X, centers)
    expected_points, _ = reference_projection(X, X)
    (center_scatter,) = artists(ax, "centers")
    assert_allclose(center_scatter.get_offsets(), expected_centers, atol=1e-9)
    for k, scatter in enumerate(artists(ax, "points")):
        assert_allclose(scatter.get_offsets(), expected_points[labels == k], atol=1e-9)

    pattern = r"principal component {} \((\d+)% of variance\)"
    for i, label in enumerate([ax.get_xlabel(), ax.get_ylabel()]):
        match = re.fullmatch(pattern.format(i + 1), label)
        assert match, label
        assert int(match.group(1)) == round(100 * ratio[i])
    assert ratio[0] >= ratio[1]
    assert not any(isinstance(p, Circle) for p in ax.patches)  # distances not preserved
    assert legend_texts(ax)[-1] == "cluster centers"
    assert legend_texts(ax)[:-1] == [f"cluster {k} ({(labels == k).sum()})" for k in range(4)]


def test_projection_with_fewer_samples_than_features():
    X = np.array([[0.0, 1, 2, 3], [1, 1, 0, 3], [5, 0, 2, 1]])
    ax = plot(X, np.array([0, 0, 1]), X[[0, 2]])
    expected, _ = reference_projection(X, X[[0, 2]])
    assert_allclose(artists(ax, "centers")[0].get_offsets(), expected, atol=1e-12)


def test_projection_of_a_single_point():
    X = np.ones((1, 3))
    ax = plot(X, np.array([0]), X)
    assert_array_equal(artists(ax, "centers")[0].get_offsets(), [[0.0, 0.0]])
    assert "(0% of variance)" in ax.get_xlabel()


def test_one_feature():
    X = np.concatenate([np.linspace(0, 1, 30), np.linspace(5, 6, 20)])[:, None]
    labels = np.repeat([0, 1], [30, 20])
    centers = np.array([[0.5], [5.5]])

    ax = plot(X, labels, centers, bandwidth=1.0)

    assert_array_equal(artists(ax, "centers")[0].get_offsets(), [[0.5, 0.0], [5.5, 0.0]])
    for k, scatter in enumerate(artists(ax, "points")):
        offsets = scatter.get_offsets()
        assert_array_equal(offsets[:, 0], X[labels == k, 0])
        assert np.all(np.abs(offsets[:, 1]) < 0.5)  # the jitter
    assert ax.get_xlabel() == "feature 0"
    assert "jitter" in ax.get_ylabel()
    assert artists(ax, "bandwidth") == []
    # the jitter does not depend on the call
    again = artists(plot(X, labels, centers), "points")
    assert_array_equal(again[0].get_offsets(), artists(ax, "points")[0].get_offsets())


def test_dataframe_column_names(clustering):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X2, columns=["height", "weight"])
    ax = plot(frame, pd.Series(clustering.labels_), clustering.cluster_centers_)
    assert ax.get_xlabel() == "height"
    assert ax.get_ylabel() == "weight"
    assert sum(len(s.get_offsets()) for s in artists(ax, "points")) == len(X2)

    one = plot(frame[["weight"]], clustering.labels_, clustering.cluster_centers_[:, 1:])
    assert one.get_xlabel() == "weight"


@pytest.mark.parametrize("dtype", [np.float32, np.int64, bool])
def test_other_dtypes(dtype):
    X = (X2 > 3).astype(dtype)
    labels = (X2[:, 0] > 3).astype(int)
    centers = np.array([[0, 1], [1, 1]], dtype=dtype)
    ax = plot(X, labels, centers)
    assert_allclose(artists(ax, "centers")[0].get_offsets(), centers.astype(float))


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------


def test_given_axes_are_used(clustering):
    figure = Figure()
    ax = figure.add_subplot()
    returned = plot(X2, clustering.labels_, clustering.cluster_centers_, ax, title="blobs")
    assert returned is ax
    assert figure.axes == [ax]
    assert len(artists(ax, "points")) == 3
    assert ax.get_title() == "blobs"


def test_new_figure_is_not_managed_by_pyplot(clustering):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    ax = plot(X2, clustering.labels_, clustering.cluster_centers_)
    assert plt.get_fignums() == before
    assert tuple(ax.figure.get_size_inches()) == (6, 5)


def test_inputs_not_modified(clustering):
    X = X2.copy()
    labels = clustering.labels_.copy()
    centers = clustering.cluster_centers_.copy()
    for array in (X, labels, centers):
        array.setflags(write=False)
    plot(X, labels, centers, bandwidth=BANDWIDTH)
    assert_array_equal(X, X2)
    assert_array_equal(labels, clustering.labels_)
    assert_array_equal(centers, clustering.cluster_centers_)


LABELS = np.repeat([0, 1, 2], 100)
CENTERS = np.array([[0.0, 0.0], [6.0, 6.0], [0.0, 7.0]])


@pytest.mark.parametrize(
    "X, labels, centers, kwargs, error, name",
    [
        (X2, LABELS[:-1], CENTERS, {}, ValueError, "labels"),
        (X2, LABELS[:, None], CENTERS, {}, ValueError, "labels"),
        (X2, LABELS.astype(float), CENTERS, {}, ValueError, "labels"),
        (X2, LABELS + 1, CENTERS, {}, ValueError, "labels"),  # 3 is no center
        (X2, LABELS - 3, CENTERS, {}, ValueError, "labels"),  # -3 < -1
        (X2, LABELS, CENTERS[:, :1], {}, ValueError, "centers"),
        (X2, LABELS, np.zeros((3, 3)), {}, ValueError, "centers"),
        (X2, LABELS, CENTERS[0], {}, ValueError, "centers"),
        (X2, LABELS, np.where(CENTERS == 6, np.nan, CENTERS), {}, ValueError, "centers"),
        (X2[:, 0], LABELS, CENTERS, {}, ValueError, "X"),
        (np.where(X2 > 7, np.inf, X2), LABELS, CENTERS, {}, ValueError, "X"),
        (np.array([["a", "b"]] * 300), LABELS, CENTERS, {}, ValueError, "X"),
        (np.empty((0, 2)), np.empty(0, int), CENTERS, {}, ValueError, "X"),
        (X2, LABELS, CENTERS, {"bandwidth": 0}, ValueError, "bandwidth"),
        (X2, LABELS, CENTERS, {"bandwidth": -1.0}, ValueError, "bandwidth"),
        (X2, LABELS, CENTERS, {"bandwidth": np.nan}, ValueError, "bandwidth"),
        (X2, LABELS, CENTERS, {"bandwidth": True}, ValueError, "bandwidth"),
        (X2, LABELS, CENTERS, {"bandwidth": "1"}, ValueError, "bandwidth"),
        (X2, LABELS, CENTERS, {"ax": "axes"}, TypeError, "ax"),
        (X2, LABELS, CENTERS, {"title": 3}, TypeError, "title"),
    ],
)
def test_bad_arguments(X, labels, centers, kwargs, error, name):
    with pytest.raises(error, match=f"'{name}' argument"):
        plot(X, labels, centers, **kwargs)


# ---------------------------------------------------------------------------
# matplotlib is optional
# ---------------------------------------------------------------------------


def run_python(code, tmp_path):
    """Run ``code`` in a fresh interpreter, outside the source tree."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )


def test_import_does_not_import_matplotlib(tmp_path):
    result = run_python(
        "import sys, meanshift\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
        "print(meanshift.plot.__module__)",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "meanshift._plot"


def test_missing_matplotlib(tmp_path):
    result = run_python(
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"
        "import numpy as np, meanshift\n"
        "try:\n"
        "    meanshift.plot(np.zeros((2, 2)), np.array([0, 0]), np.zeros((1, 2)))\n"
        "except ImportError as exc:\n"
        "    assert isinstance(exc.__cause__, ImportError), exc.__cause__\n"
        "    print(exc)\n"
        "else:\n"
        "    raise SystemExit('no ImportError')\n",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    # the command's hint (meanshift comes from a clone: no "meanshift[plot]")
    assert result.stdout.strip() == "meanshift.plot needs matplotlib: pip install matplotlib"


def test_exported():
    assert "plot" in meanshift.__all__
    assert meanshift.plot is plot
