"""The ``meanshift`` command, run as a real subprocess.

Every input format (CSV/TSV with and without a header, gzip by name and by
content, .npy, standard input), every output format, ``--json`` parsed back,
the demo and its PNG, progress on stderr, and each error path: its exit
status, a single line on stderr, nothing on stdout and no file left behind.

Results are checked for correctness, not only for running: what the command
writes must equal ``meanshift.MeanShift`` fitted in this process on the same
data with the same parameters (and scikit-learn's ``MeanShift`` on a few
small cases).

Each subprocess pays for importing scikit-learn, so the data are small and
the assertions on one run are combined; each error path stays its own case.
"""

import csv
import gzip
import io
import json
import math
import os
import re
import subprocess
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sklearn.cluster
from numpy.testing import assert_allclose, assert_array_equal

import meanshift
from meanshift import MeanShift, _cli, estimate_bandwidth

# a hung command fails its test instead of blocking the run (not a speed check)
TIMEOUT = 600
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NAMES = ["a", "b", "c"]
BANDWIDTH = 2.0


def run_cli(args, cwd, stdin=b"", exe=None):
    """Run the command with the bytes ``stdin``; (returncode, stdout, stderr)."""
    cmd = [sys.executable, "-m", "meanshift"] if exe is None else [str(exe)]
    proc = subprocess.run(
        [*cmd, *map(str, args)],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=TIMEOUT,
    )
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def blobs(n_per=20, seed=0):
    """Three well separated groups in 3-D, shuffled."""
    rng = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0, 0.0], [6.0, 6.0, 0.0], [0.0, 6.0, 6.0]])
    X = np.concatenate([rng.normal(m, 0.5, size=(n_per, 3)) for m in means])
    return X[rng.permutation(len(X))]


X = blobs()


def text(X, delimiter=",", header=None):
    """X as delimited text; repr() round-trips every float exactly."""
    lines = [] if header is None else [delimiter.join(header)]
    lines += [delimiter.join(repr(float(v)) for v in row) for row in X]
    return ("\n".join(lines) + "\n").encode()


def npy_bytes(array, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def listing(folder):
    """Every file and directory below folder (hidden ones too), relative."""
    found = set()
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            found.add(os.path.relpath(os.path.join(root, name), folder))
    return found


def hidden(folder):
    """Leftover temporary files: the command's temp names start with '.'."""
    return sorted(p for p in listing(folder) if os.path.basename(p).startswith("."))


def read_output(path, header):
    """An array written by the command; for text files, check the header line."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    delimiter = "\t" if suffix == ".tsv" else ","
    first, _, rest = path.read_text().partition("\n")
    assert first == delimiter.join(header), f"header line of {path.name}: {first!r}"
    return np.loadtxt(io.StringIO(rest), delimiter=delimiter, ndmin=2)


def check_labels_file(path, expected):
    labels = read_output(path, ["label"])
    if path.suffix.lower() == ".npy":
        assert labels.dtype.kind in "iu", labels.dtype
    labels = labels.reshape(-1)
    assert labels.shape == expected.shape
    assert_array_equal(labels, expected)


def check_centers_file(path, expected, columns, rtol=1e-12):
    centers = read_output(path, columns)
    assert centers.shape == expected.shape
    assert_allclose(centers, expected, rtol=rtol, atol=0)


def check_summary(summary, X, model, columns, bandwidth, outputs, rtol=1e-12):
    """The --json summary against the in-process fit."""
    n = X.shape[0]
    assert summary["n_samples"] == n
    assert summary["n_features"] == X.shape[1]
    assert summary["columns"] == columns
    assert_allclose(summary["bandwidth"], bandwidth, rtol=1e-12)
    assert summary["n_clusters"] == len(model.cluster_centers_)
    assert summary["n_unclustered"] == int((model.labels_ < 0).sum())
    assert summary["outputs"] == outputs
    clusters = summary["clusters"]
    assert [c["label"] for c in clusters] == list(range(len(model.cluster_centers_)))
    sizes = [c["size"] for c in clusters]
    labels = model.labels_
    assert sizes == np.bincount(labels[labels >= 0], minlength=len(clusters)).tolist()
    assert sum(sizes) + summary["n_unclustered"] == n
    assert_allclose(
        np.array([c["center"] for c in clusters]).reshape(model.cluster_centers_.shape),
        model.cluster_centers_,
        rtol=rtol,
        atol=0,
    )


HEADER_NOTE = "meanshift: first line taken as a header: "


def without_header_note(err):
    """stderr without the note on a detected header (a success's only line)."""
    return "".join(
        line for line in err.splitlines(keepends=True) if not line.startswith(HEADER_NOTE)
    )


def assert_one_line_error(rc, out, err, expected_rc):
    assert rc == expected_rc, (rc, out, err)
    assert out == "", f"stdout should be empty, got {out!r}"
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"stderr is not one line: {err!r}"
    assert lines[0].startswith("meanshift"), lines[0]
    return lines[0]


# ---------------------------------------------------------------------------
# Input formats (each with outputs in a different format and --json)
# ---------------------------------------------------------------------------

X32 = X.astype(np.float32)

# id: (input name or '-', its bytes, the data it holds, its column names)
INPUTS = {
    "csv-header": ("data.csv", text(X, ",", NAMES), X, NAMES),
    "csv-no-header": ("data.csv", text(X, ","), X, None),
    "tsv-header": ("data.tsv", text(X, "\t", NAMES), X, NAMES),
    "csv-gz-by-name": ("data.csv.gz", gzip.compress(text(X, ",", NAMES)), X, NAMES),
    "csv-gzip-by-content": ("data.csv", gzip.compress(text(X, ",")), X, None),
    "npy-float32": ("data.npy", npy_bytes(X32), X32, None),
    "npy-gz": ("data.npy.gz", gzip.compress(npy_bytes(X)), X, None),
    "stdin-csv-header": ("-", text(X, ",", NAMES), X, NAMES),
    "stdin-tsv-no-header": ("-", text(X, "\t"), X, None),
}
OUTPUT_EXTS = [".csv", ".tsv", ".npy"]


@pytest.mark.parametrize("case", list(INPUTS), ids=list(INPUTS))
def test_input_formats_and_outputs(tmp_path, case):
    name, content, data, names = INPUTS[case]
    i = list(INPUTS).index(case)
    # every input runs with a different pair of output formats
    labels_out = "labels" + OUTPUT_EXTS[i % 3]
    centers_out = "centers" + OUTPUT_EXTS[(i + 1) % 3]
    stdin = b""
    if name == "-":
        stdin = content
    else:
        (tmp_path / name).write_bytes(content)
    before = listing(tmp_path)
    rc, out, err = run_cli(
        ["cluster", name, "--bandwidth", BANDWIDTH, "--labels", labels_out,
         "--centers", centers_out, "--json"],
        tmp_path,
        stdin=stdin,
    )
    assert rc == 0, err
    assert without_header_note(err) == ""
    assert listing(tmp_path) - before == {labels_out, centers_out}

    model = MeanShift(bandwidth=BANDWIDTH).fit(data)
    assert len(model.cluster_centers_) == 3  # the data are what we think
    columns = names or ["x0", "x1", "x2"]
    rtol = 1e-6 if data.dtype == np.float32 else 1e-12
    check_labels_file(tmp_path / labels_out, model.labels_)
    check_centers_file(tmp_path / centers_out, model.cluster_centers_, columns, rtol)
    check_summary(
        json.loads(out), data, model, columns, BANDWIDTH,
        {"labels": labels_out, "centers": centers_out}, rtol,
    )


def test_csv_against_sklearn_with_plot_and_table(tmp_path):
    """A small case against scikit-learn itself; also the table, --plot and
    --no-progress (stderr stays empty)."""
    (tmp_path / "data.csv").write_bytes(text(X, ",", NAMES))
    rc, out, err = run_cli(
        ["cluster", "data.csv", "--bandwidth", BANDWIDTH, "--labels", "l.csv",
         "--centers", "c.csv", "--plot", "pic.png", "--no-progress"],
        tmp_path,
    )
    assert rc == 0, err
    assert without_header_note(err) == ""
    ref = sklearn.cluster.MeanShift(bandwidth=BANDWIDTH).fit(X)
    check_labels_file(tmp_path / "l.csv", ref.labels_)
    centers = read_output(tmp_path / "c.csv", NAMES)
    assert_allclose(centers, ref.cluster_centers_, rtol=0, atol=1e-3 * BANDWIDTH)
    assert (tmp_path / "pic.png").read_bytes()[:8] == PNG_MAGIC
    assert hidden(tmp_path) == []
    # the human-readable table
    assert re.search(r"^data\s+60 points x 3 features from data\.csv", out, re.M), out
    assert re.search(r"^clusters\s+3\b", out, re.M), out
    assert re.search(r"^bandwidth\s+2\b", out, re.M), out
    for kind, path in [("labels", "l.csv"), ("centers", "c.csv"), ("plot", "pic.png")]:
        assert f"{kind} written to {path}" in out
    assert "a=" in out and "c=" in out  # centers shown with the column names


def test_output_extension_case_insensitive(tmp_path):
    """OUT.NPY / OUT.TSV are .npy / .tsv files, whole, and no temp file stays."""
    (tmp_path / "data.npy").write_bytes(npy_bytes(X))
    rc, out, err = run_cli(
        ["cluster", "data.npy", "--bandwidth", BANDWIDTH, "--labels", "L.NPY",
         "--centers", "C.TSV"],
        tmp_path,
    )
    assert rc == 0, err
    model = MeanShift(bandwidth=BANDWIDTH).fit(X)
    assert hidden(tmp_path) == []
    check_labels_file(tmp_path / "L.NPY", model.labels_)
    check_centers_file(tmp_path / "C.TSV", model.cluster_centers_, ["x0", "x1", "x2"])


# ---------------------------------------------------------------------------
# --columns
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, columns, picked, names",
    [
        ("data.csv", text(X, ",", NAMES), ["c", "a"], [2, 0], ["c", "a"]),
        ("data.csv", text(X, ","), ["2,1"], [2, 1], None),
        ("data.npy", npy_bytes(X), ["1"], [1], None),
    ],
    ids=["by-name", "by-index-comma-no-header", "npy-by-index"],
)
def test_columns(tmp_path, name, content, columns, picked, names):
    (tmp_path / name).write_bytes(content)
    rc, out, err = run_cli(
        ["cluster", name, "--bandwidth", BANDWIDTH, "--columns", *columns,
         "--centers", "centers.csv", "--json"],
        tmp_path,
    )
    assert rc == 0, err
    data = X[:, picked]
    model = MeanShift(bandwidth=BANDWIDTH).fit(data)
    summary = json.loads(out)
    assert summary["n_features"] == len(picked)
    if names is not None:
        assert summary["columns"] == names
    check_summary(
        summary, data, model, summary["columns"], BANDWIDTH, {"centers": "centers.csv"}
    )
    check_centers_file(tmp_path / "centers.csv", model.cluster_centers_, summary["columns"])


# ---------------------------------------------------------------------------
# Fit options: the command fits what MeanShift fits with the same parameters
# ---------------------------------------------------------------------------

X_OUT = np.concatenate([X, [[20.0, 20.0, 20.0]]])


@pytest.mark.filterwarnings("ignore:Binning data failed")  # the in-process fits
@pytest.mark.parametrize(
    "options, params",
    [
        (["--bandwidth", "2", "--bin-seeding"], dict(bandwidth=2.0, bin_seeding=True)),
        (
            ["--bandwidth", "1.5", "--bin-seeding", "--min-bin-freq", "3",
             "--no-cluster-all", "--max-iter", "5", "--n-jobs", "1"],
            dict(bandwidth=1.5, bin_seeding=True, min_bin_freq=3, cluster_all=False,
                 max_iter=5),
        ),
        (["--quantile", "0.5", "--n-samples", "30", "--n-jobs", "-1"],
         dict(quantile=0.5, n_samples=30)),
        # every point in a cell of its own: the library warns and seeds from
        # the points; the command says so in its own words, if at all
        (["--bandwidth", "0.05", "--bin-seeding", "--no-progress"],
         dict(bandwidth=0.05, bin_seeding=True)),
    ],
    ids=["bin-seeding", "min-bin-freq-no-cluster-all-max-iter", "quantile-n-samples",
         "bin-seeding-fallback"],
)
def test_fit_options(tmp_path, options, params):
    (tmp_path / "data.npy").write_bytes(npy_bytes(X_OUT))
    rc, out, err = run_cli(
        ["cluster", "data.npy", *options, "--labels", "l.npy", "--centers", "c.npy",
         "--json"],
        tmp_path,
    )
    assert rc == 0, err
    # no progress asked for; no Python warning text (file, line, source)
    assert all(line.startswith("meanshift: ") for line in err.splitlines()), err
    params = dict(params)
    if "quantile" in params:
        bandwidth = estimate_bandwidth(
            X_OUT, quantile=params.pop("quantile"), n_samples=params.pop("n_samples", None)
        )
        params["bandwidth"] = bandwidth
    model = MeanShift(**params).fit(X_OUT)
    summary = json.loads(out)
    check_summary(
        summary, X_OUT, model, ["x0", "x1", "x2"], params["bandwidth"],
        {"labels": "l.npy", "centers": "c.npy"},
    )
    assert summary["n_iter"] == model.n_iter_
    check_labels_file(tmp_path / "l.npy", model.labels_)
    check_centers_file(tmp_path / "c.npy", model.cluster_centers_, None)
    if not params.get("cluster_all", True):
        assert model.labels_[-1] == -1  # the outlier: the option did something
        assert summary["n_unclustered"] >= 1
    # and scikit-learn agrees
    ref = sklearn.cluster.MeanShift(**params).fit(X_OUT)
    assert_array_equal(np.load(tmp_path / "l.npy"), ref.labels_)
    assert_allclose(
        np.load(tmp_path / "c.npy"), ref.cluster_centers_, rtol=0,
        atol=1e-3 * params["bandwidth"],
    )


# ---------------------------------------------------------------------------
# --weights, --kernel, --label-by
# ---------------------------------------------------------------------------

# integer weights, some 0: a row of weight w stands for w rows
W = np.random.default_rng(1).integers(0, 6, len(X)).astype(float)
# the weights as the second column, between the features
WNAMES = ["a", "count", "b", "c"]
XW = np.column_stack([X[:, 0], W, X[:, 1], X[:, 2]])


def weighted_text(header=True, delimiter=",", names=WNAMES, data=XW, weights_at=1):
    """data as text, the weights column written as integers."""
    lines = [delimiter.join(names)] if header else []
    for row in data:
        cells = [str(int(v)) if j == weights_at else repr(float(v)) for j, v in enumerate(row)]
        lines.append(delimiter.join(cells))
    return ("\n".join(lines) + "\n").encode()


def check_weighted_summary(summary, model, weights, column, kernel, label_by):
    """What --json adds for the new options, against the in-process fit."""
    assert summary["kernel"] == kernel
    assert summary["label_by"] == label_by
    assert summary["size_counts"] == "rows"
    if weights is None:
        assert summary["weights"] is None
        assert all("weight" not in c for c in summary["clusters"])
        return
    assert summary["weights"] == {"column": column, "total": float(weights.sum())}
    labels = model.labels_
    expected = [float(weights[labels == k].sum()) for k in range(len(model.cluster_centers_))]
    assert_allclose([c["weight"] for c in summary["clusters"]], expected, rtol=1e-12)


# id: (input name, its bytes, --weights or None, the weights column as the
# summary names it, kernel, label_by, bandwidth); at bandwidth 0.8
# attractor labels differ from nearest-center ones on this data
WEIGHTED_CASES = {
    "weights-by-name": ("data.csv", weighted_text(), "count", "count", "flat", "nearest", 2.0),
    "weights-by-number-no-header": ("data.csv", weighted_text(header=False), "1", 1,
                                    "flat", "nearest", 2.0),
    "weights-by-number-with-header": ("data.tsv", weighted_text(delimiter="\t"), "1",
                                      "count", "gaussian", "nearest", 2.0),
    "weights-npy": ("data.npy", npy_bytes(XW), "1", 1, "epanechnikov", "attractor", 0.8),
    "weights-stdin": ("-", weighted_text(), "count", "count", "flat", "attractor", 0.8),
    "kernel-epanechnikov": ("data.csv", text(X, ",", NAMES), None, None, "epanechnikov",
                            "nearest", 2.0),
    "kernel-gaussian": ("data.csv", text(X, ",", NAMES), None, None, "gaussian", "nearest",
                        2.0),
    "label-by-attractor": ("data.csv", text(X, ",", NAMES), None, None, "flat", "attractor",
                           0.8),
}


@pytest.mark.parametrize("case", list(WEIGHTED_CASES), ids=list(WEIGHTED_CASES))
def test_weights_kernel_label_by(tmp_path, case):
    """Each option round-trips: the command's labels, centers and summary
    are MeanShift(kernel=..., label_by=...).fit(X, sample_weight=w) in this
    process, and the weights column is not a feature."""
    name, content, weights_arg, column, kernel, label_by, bandwidth = WEIGHTED_CASES[case]
    stdin = content if name == "-" else b""
    if name != "-":
        (tmp_path / name).write_bytes(content)
    args = ["cluster", name, "--bandwidth", bandwidth, "--labels", "l.csv",
            "--centers", "c.npy", "--json", "--kernel", kernel, "--label-by", label_by]
    weights = None
    if weights_arg is not None:
        args += ["--weights", weights_arg]
        weights = W
    rc, out, err = run_cli(args, tmp_path, stdin=stdin)
    assert rc == 0, err
    assert without_header_note(err) == ""
    model = MeanShift(bandwidth=bandwidth, kernel=kernel, label_by=label_by).fit(
        X, sample_weight=weights
    )
    # the options change the result on this data: the test can fail
    default = MeanShift(bandwidth=bandwidth).fit(X)
    assert not (
        np.array_equal(model.labels_, default.labels_)
        and np.array_equal(model.cluster_centers_, default.cluster_centers_)
    )
    columns = NAMES if weights_arg is None or isinstance(column, str) else ["x0", "x1", "x2"]
    summary = json.loads(out)
    assert summary["n_features"] == 3  # not the weights
    check_summary(summary, X, model, columns, bandwidth, {"labels": "l.csv", "centers": "c.npy"})
    check_weighted_summary(summary, model, weights, column, kernel, label_by)
    check_labels_file(tmp_path / "l.csv", model.labels_)
    check_centers_file(tmp_path / "c.npy", model.cluster_centers_, None)


def test_weights_with_columns_and_table(tmp_path):
    """--weights with --columns: an id and a name column left out, the
    features in the order asked; the table names the weights column, the
    kernel and label_by, and says sizes count rows."""
    names = ["id", "c", "n", "a", "b"]
    data = np.column_stack([np.arange(len(X)), X[:, 2], W, X[:, 0], X[:, 1]])
    content = weighted_text(names=names, data=data, weights_at=2)
    lines = content.decode().splitlines()  # a text column, which is never read
    lines = [lines[0] + ",name"] + [line + f",row{i}" for i, line in enumerate(lines[1:])]
    (tmp_path / "data.csv").write_text("\n".join(lines) + "\n")
    rc, out, err = run_cli(
        ["cluster", "data.csv", "--bandwidth", BANDWIDTH, "--columns", "a", "b,1",
         "--weights", "2", "--kernel", "epanechnikov", "--labels", "l.npy",
         "--plot", "pic.png"],
        tmp_path,
    )
    assert rc == 0, err
    assert without_header_note(err) == ""
    features = X[:, [0, 1, 2]]  # a, b, c
    model = MeanShift(bandwidth=BANDWIDTH, kernel="epanechnikov").fit(features, sample_weight=W)
    check_labels_file(tmp_path / "l.npy", model.labels_)
    assert (tmp_path / "pic.png").read_bytes()[:8] == PNG_MAGIC
    total = int(W.sum())
    assert re.search(
        rf'^weights\s+column "n" \(total {total:,}; cluster sizes below count rows\)$', out, re.M
    ), out
    assert re.search(r"^kernel\s+epanechnikov$", out, re.M), out
    assert re.search(r"^label_by\s+nearest\b", out, re.M), out
    assert re.search(r"^cluster\s+rows\s+share\s+weight\s+center$", out, re.M), out
    # each cluster's row: rows, share of the rows, weight, then a=, b=, c=
    labels = model.labels_
    for k in range(len(model.cluster_centers_)):
        rows = int((labels == k).sum())
        weight = int(W[labels == k].sum())
        assert re.search(
            rf"^\s+{k}\s+{rows}\s+{100 * rows / len(X):.1f}%\s+{weight}\s+a=\S+\s+b=\S+\s+c=\S+$",
            out, re.M,
        ), out


def test_weights_estimated_bandwidth(tmp_path):
    """Without --bandwidth the estimate is that of the data with each row
    repeated by its (integer) weight, as MeanShift.fit(X, sample_weight=w)
    estimates it; with --n-samples, on estimate_bandwidth's subsample."""
    (tmp_path / "data.csv").write_bytes(weighted_text())
    repeated = np.repeat(X, W.astype(int), axis=0)
    rc, out, err = run_cli(
        ["cluster", "data.csv", "--weights", "count", "--json", "--labels", "l.csv"], tmp_path
    )
    assert rc == 0, err
    summary = json.loads(out)
    assert_allclose(summary["bandwidth"], estimate_bandwidth(repeated, quantile=0.3),
                    rtol=1e-12)
    assert summary["bandwidth_from"].endswith("weighted")
    model = MeanShift().fit(X, sample_weight=W)  # the library's own estimate
    check_labels_file(tmp_path / "l.csv", model.labels_)
    check_summary(summary, X, model, NAMES, summary["bandwidth"], {"labels": "l.csv"})

    rc, out, err = run_cli(
        ["cluster", "data.csv", "--weights", "count", "--json", "--n-samples", "25",
         "--quantile", "0.4"], tmp_path,
    )
    assert rc == 0, err
    idx = np.random.RandomState(0).permutation(len(X))[:25]
    sample = np.repeat(X[idx], W[idx].astype(int), axis=0)
    assert_allclose(json.loads(out)["bandwidth"], estimate_bandwidth(sample, quantile=0.4),
                    rtol=1e-12)


# ---------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------


def test_progress_on_stderr_and_default_bandwidth(tmp_path):
    """--progress reports both stages; without --bandwidth the bandwidth is
    estimate_bandwidth's (quantile 0.3 of all points)."""
    (tmp_path / "data.csv").write_bytes(text(X, ",", NAMES))
    rc, out, err = run_cli(["cluster", "data.csv", "--progress", "--json"], tmp_path)
    assert rc == 0, err
    bandwidth = estimate_bandwidth(X, quantile=0.3)
    model = MeanShift(bandwidth=bandwidth).fit(X)
    check_summary(json.loads(out), X, model, NAMES, bandwidth, {})  # clean JSON
    lines = err.splitlines()
    assert lines and all(line.startswith("meanshift: ") for line in lines), err
    assert any("estimating bandwidth" in line and "100%" in line for line in lines), err
    climbing = [line for line in lines if "climbing" in line]
    assert climbing and "100%" in climbing[-1], err
    assert "60/60" in climbing[-1], err


# ---------------------------------------------------------------------------
# The demo
# ---------------------------------------------------------------------------

DEMO_MEANS = np.array([[0.0, 0.0], [5.0, 5.0], [-4.0, 6.0], [6.0, -3.0], [-5.0, -4.0]])


def test_demo_plot(tmp_path):
    (tmp_path / "tmp").mkdir()
    rc, out, err = run_cli(["demo", "--plot", "tmp/demo.png", "--points", 3000], tmp_path)
    assert rc == 0, err
    assert err == ""
    assert re.search(r"^clusters\s+5\b", out, re.M), out
    assert re.search(r"^data\s+3,000 points x 2 features", out, re.M), out
    assert "plot written to tmp/demo.png" in out
    png = tmp_path / "tmp" / "demo.png"
    assert png.read_bytes()[:8] == PNG_MAGIC
    import matplotlib.image

    image = matplotlib.image.imread(png)
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    assert image.shape[0] >= 100 and image.shape[1] >= 100
    assert image.std() > 0  # something is drawn
    assert listing(tmp_path) == {"tmp", os.path.join("tmp", "demo.png")}


def test_demo_json_default_plot(tmp_path):
    rc, out, err = run_cli(["demo", "--points", 3000, "--json"], tmp_path)
    assert rc == 0, err
    assert err == ""
    summary = json.loads(out)
    assert summary["n_samples"] == 3000 and summary["n_features"] == 2
    assert summary["n_clusters"] == 5
    assert summary["outputs"] == {"plot": "meanshift-demo.png"}
    assert (tmp_path / "meanshift-demo.png").read_bytes()[:8] == PNG_MAGIC
    assert listing(tmp_path) == {"meanshift-demo.png"}
    centers = np.array([c["center"] for c in summary["clusters"]])
    sizes = np.array([c["size"] for c in summary["clusters"]])
    assert sizes.sum() == 3000
    # each generating group is found: a center near its mean, about its size
    for mean, share in zip(DEMO_MEANS, [0.3, 0.25, 0.2, 0.15, 0.1], strict=True):
        k = np.argmin(np.linalg.norm(centers - mean, axis=1))
        assert np.linalg.norm(centers[k] - mean) < 0.5, (mean, centers)
        assert abs(sizes[k] - share * 3000) < 0.05 * 3000, (mean, sizes)
    # and exactly what MeanShift finds on the demo data with the demo defaults
    from meanshift._cli import demo_data

    data = demo_data(3000)
    bandwidth = estimate_bandwidth(data, quantile=0.2, n_samples=1000)
    model = MeanShift(bandwidth=bandwidth).fit(data)
    check_summary(summary, data, model, ["x0", "x1"], bandwidth, summary["outputs"])


# ---------------------------------------------------------------------------
# The console script, --version, --help
# ---------------------------------------------------------------------------


def test_console_script(tmp_path):
    script = Path(sys.executable).parent / "meanshift"
    if not script.exists():
        pytest.skip(f"no console script at {script}")
    rc, out, err = run_cli(
        ["cluster", "-", "--bandwidth", BANDWIDTH, "--json"], tmp_path,
        stdin=text(X, ","), exe=script,
    )
    assert rc == 0, err
    assert err == ""
    model = MeanShift(bandwidth=BANDWIDTH).fit(X)
    check_summary(json.loads(out), X, model, ["x0", "x1", "x2"], BANDWIDTH, {})


def test_version(tmp_path):
    rc, out, err = run_cli(["--version"], tmp_path)
    assert rc == 0, err
    assert out.strip() == f"meanshift {meanshift.__version__}"


def test_help(tmp_path):
    rc, out, err = run_cli(["--help"], tmp_path)
    assert rc == 0, err
    assert err == ""
    for word in ["usage: meanshift", "cluster", "demo", "--version"]:
        assert word in out


@pytest.mark.parametrize(
    "args, expected",
    [
        (["cluster", "data.csv", "--bandwith", "3"],
         "meanshift cluster: error: unrecognized arguments: --bandwith 3; did you mean "
         "--bandwidth? (see meanshift cluster --help)"),
        (["demo", "--pionts=300", "--no-progress"],
         "meanshift demo: error: unrecognized arguments: --pionts=300; did you mean "
         "--points? (see meanshift demo --help)"),
        (["cluster", "--columns", "a"],  # INPUT missing: the command's help too
         "meanshift cluster: error: the following arguments are required: INPUT "
         "(see meanshift cluster --help)"),
    ],
    ids=["cluster", "demo", "no-input"],
)
def test_usage_error_points_to_the_command_help(tmp_path, args, expected):
    """A mistyped option: the closest one, and the help that lists them
    (the command's, not meanshift --help); refused before any work."""
    rc, out, err = run_cli(args, tmp_path)
    assert assert_one_line_error(rc, out, err, 2) == expected
    assert listing(tmp_path) == set()


# ---------------------------------------------------------------------------
# Without matplotlib (the plain install)
# ---------------------------------------------------------------------------

# the command in an interpreter where `import matplotlib` raises ImportError
NO_MATPLOTLIB = (
    "import sys\n"
    "sys.modules['matplotlib'] = None\n"
    "from meanshift._cli import main\n"
    "sys.exit(main())\n"
)
# meanshift is installed from a clone, not from PyPI: no "meanshift[plot]"
PLOT_HINT = "pip install matplotlib"


def run_without_matplotlib(args, cwd):
    proc = subprocess.run(
        [sys.executable, "-c", NO_MATPLOTLIB, *map(str, args)],
        cwd=cwd, capture_output=True, timeout=TIMEOUT,
    )
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def test_demo_without_matplotlib(tmp_path):
    """The demo clusters and prints its summary, then one line on stderr
    says how to get the picture; no file is written."""
    rc, out, err = run_without_matplotlib(["demo", "--points", 3000], tmp_path)
    assert rc == 0, err
    assert re.search(r"^clusters\s+5\b", out, re.M), out
    assert re.search(r"^data\s+3,000 points x 2 features", out, re.M), out
    assert "written" not in out
    assert err.splitlines() == [
        "meanshift: no picture drawn: matplotlib is not installed "
        f"({PLOT_HINT} draws meanshift-demo.png)"
    ], err
    assert listing(tmp_path) == set()


def test_demo_json_without_matplotlib(tmp_path):
    rc, out, err = run_without_matplotlib(["demo", "--points", 3000, "--json"], tmp_path)
    assert rc == 0, err
    summary = json.loads(out)  # the note is not in the JSON
    assert summary["n_clusters"] == 5 and summary["outputs"] == {}
    assert len(err.splitlines()) == 1 and PLOT_HINT in err, err
    assert listing(tmp_path) == set()


@pytest.mark.parametrize(
    "args",
    [["demo", "--plot", "pic.png", "--points", 300],
     ["cluster", "data.csv", "--bandwidth", BANDWIDTH, "--plot", "pic.png"]],
    ids=["demo", "cluster"],
)
def test_explicit_plot_without_matplotlib(tmp_path, args):
    """--plot FILE asks for the picture: without matplotlib that is an
    error, before any work."""
    (tmp_path / "data.csv").write_bytes(GOOD)
    rc, out, err = run_without_matplotlib(args, tmp_path)
    line = assert_one_line_error(rc, out, err, 1)
    assert line == f"meanshift: error: --plot needs matplotlib: {PLOT_HINT}"
    assert listing(tmp_path) == {"data.csv"}


# ---------------------------------------------------------------------------
# Error paths: exit status, one line on stderr, nothing on stdout, no files
# ---------------------------------------------------------------------------

DIR = object()  # in a case's files: make a directory of that name
GOOD = text(X, ",", NAMES)


def _object_npy():
    return npy_bytes(np.array([1, "a", None], dtype=object), allow_pickle=True)


ERRORS = [
    # (id, files to create, arguments after 'cluster', stdin, exit status,
    #  what the message must contain)
    ("missing-file", {}, ["missing.csv"], b"", 1, ["missing.csv"]),
    ("directory-as-input", {"data.csv": DIR}, ["data.csv"], b"", 1, ["data.csv", "directory"]),
    ("unknown-extension", {"data.txt": GOOD}, ["data.txt"], b"", 1, ["data.txt", ".txt"]),
    ("non-numeric-cell", {"data.csv": b"a,b\n1,2\n3,oops\n4,5\n"}, ["data.csv"], b"", 1,
     ["data.csv", "line 3", 'column "b"', "oops", "--columns"]),
    ("non-numeric-cell-after-blank-line", {"data.csv": b"a,b\n1,2\n\n3,4\n5,oops\n"},
     ["data.csv"], b"", 1, ["line 5", 'column "b"', "oops"]),
    ("ragged-rows", {"data.csv": b"1,2\n3,4\n5,6,7\n8,9\n"}, ["data.csv"], b"", 1,
     ["data.csv", "line 3"]),
    ("header-and-rows-differ-in-width", {"data.csv": b"a,b\n1,2,3\n4,5,6\n"},
     ["data.csv", "--bandwidth", "1"], b"", 1, ["data.csv"]),
    ("empty-file", {"data.csv": b""}, ["data.csv"], b"", 1, ["data.csv"]),
    ("header-only", {"data.csv": b"a,b\n"}, ["data.csv"], b"", 1, ["data.csv"]),
    ("empty-stdin", {}, ["-"], b"", 1, ["standard input"]),
    ("blank-lines-only", {"data.csv": b"\n  \r\n\n"}, ["data.csv"], b"", 1,
     ["data.csv", "no data"]),
    ("binary-csv", {"data.csv": bytes(range(256)) * 4}, ["data.csv"], b"", 1,
     ["data.csv", "not a text file"]),
    ("gzip-truncated", {"data.csv.gz": gzip.compress(text(X, ",", NAMES))[:200]},
     ["data.csv.gz"], b"", 1, ["data.csv.gz", "gzip"]),
    ("gzip-corrupt", {"data.csv": gzip.compress(text(X, ","))[:40] + b"x" * 400},
     ["data.csv"], b"", 1, ["data.csv", "gzip"]),
    ("columns-number-too-large", {"data.csv": GOOD}, ["data.csv", "--columns", "3"], b"",
     1, ["column 3", "3 columns"]),
    ("npy-random-bytes",
     {"data.npy": np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8).tobytes()},
     ["data.npy"], b"", 1, ["data.npy"]),
    ("npy-object-array", {"data.npy": _object_npy()}, ["data.npy"], b"", 1, ["data.npy"]),
    ("npy-3d", {"data.npy": npy_bytes(np.zeros((4, 3, 2)))}, ["data.npy"], b"", 1,
     ["data.npy", "dimension"]),
    # fields that are not finite numbers: the line, the column, the text, what
    # to do; one line (no numpy warning before it)
    ("nan-in-data", {"data.csv": b"a,b\n1,2\nnan,3\n4,5\n"}, ["data.csv", "--bandwidth", "1"],
     b"", 1, ["data.csv: line 3, column \"a\": 'nan' marks a missing value", "--drop-missing"]),
    ("beyond-float64-field", {"data.csv": b"a,b\n1,2\n3,1e400\n4,5\n"}, ["data.csv"], b"", 1,
     ["data.csv: line 3, column \"b\": '1e400' is beyond float64's range"]),
    ("infinite-field-with-drop-missing", {"data.csv": b"a,b\n1,2\n,3\n-inf,5\n"},
     ["data.csv", "--drop-missing"], b"", 1,
     ["data.csv: line 4, column \"a\": '-inf' is not a finite number"]),
    ("npy-nan", {"data.npy": npy_bytes(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, np.nan]]))},
     ["data.npy", "--bandwidth", "1"], b"", 1,
     ["data.npy: row 2", "column 1", "NaN", "--drop-missing"]),
    ("npy-infinite", {"data.npy": npy_bytes(np.array([[1.0, 2.0], [np.inf, 4.0]], "f4"))},
     ["data.npy", "--drop-missing"], b"", 1,
     ["data.npy: row 1", "column 0", "inf", "not a finite number"]),
    ("estimated-bandwidth-zero", {"data.csv": b"1,1\n" * 10}, ["data.csv"], b"", 1,
     ["bandwidth"]),
    ("output-in-missing-directory", {"data.csv": GOOD},
     ["data.csv", "--bandwidth", "2", "--labels", "nodir/labels.csv"], b"", 1, ["nodir"]),
    ("unsupported-output-extension", {"data.csv": GOOD},
     ["data.csv", "--bandwidth", "2", "--centers", "centers.txt"], b"", 1, ["centers.txt"]),
    ("min-bin-freq-too-high", {"data.csv": GOOD},
     ["data.csv", "--bandwidth", "2", "--bin-seeding", "--min-bin-freq", "1000"], b"", 1,
     ["min_bin_freq"]),
    ("columns-unknown-name", {"data.csv": GOOD}, ["data.csv", "--columns", "zz"], b"", 1,
     ["zz"]),
    # failures after the fit, when some outputs are ready: none may remain
    ("late-failure-centers-is-a-directory", {"data.csv": GOOD, "centers.csv": DIR},
     ["data.csv", "--bandwidth", "2", "--labels", "ok.csv", "--centers", "centers.csv"],
     b"", 1, ["centers.csv"]),
    ("late-failure-plot-format", {"data.csv": GOOD},
     ["data.csv", "--bandwidth", "2", "--labels", "ok.csv", "--centers", "ok.npy",
      "--plot", "pic.xyz"], b"", 1, ["xyz"]),
    # bad weights: the column named, nothing written
    *[
        (f"weights-{kind}", {"data.csv": b"a,count,b\n1,1,2\n3," + cell + b",4\n5,1,6\n"},
         ["data.csv", "--weights", "count", "--bandwidth", "2", "--labels", "l.csv"], b"", 1,
         ["--weights", 'column "count"', *words])
        for kind, cell, words in [
            ("negative", b"-2", ["negative", "-2", "row 1"]),
            ("nan", b"nan", ["line 3", "'nan' marks a missing value", "--drop-missing"]),
            ("infinite", b"inf", ["line 3", "'inf' is not a finite number"]),
            ("empty-cell", b"", ["line 3", "empty cell"]),
            ("blank-cell", b"  ", ["line 3", "empty cell"]),
            ("not-a-number", b"many", ["line 3", "'many'", "not a number"]),
        ]
    ],
    ("weights-all-zero", {"data.csv": b"a,count,b\n1,0,2\n3,0,4\n"},
     ["data.csv", "--weights", "count", "--labels", "l.csv"], b"", 1,
     ["--weights", 'column "count"', "every weight", "0"]),
    ("weights-by-number-not-a-number", {"data.csv": b"1,1,2\n3,x,4\n"},
     ["data.csv", "--weights", "1", "--labels", "l.csv"], b"", 1,
     ["--weights", "column 1", "line 2", "'x'"]),
    ("weights-npy-negative", {"data.npy": npy_bytes(np.array([[1.0, 2.0], [3.0, -1.0]]))},
     ["data.npy", "--weights", "1", "--bandwidth", "1", "--labels", "l.npy"], b"", 1,
     ["--weights", "column 1", "data.npy", "negative"]),
    ("weights-npy-by-name", {"data.npy": npy_bytes(XW)}, ["data.npy", "--weights", "count"],
     b"", 1, ["--weights", "'count'", "no header"]),
    ("weights-also-in-columns", {"data.csv": weighted_text()},
     ["data.csv", "--columns", "a", "count", "--weights", "count", "--labels", "l.csv"], b"",
     1, ["--weights", 'column "count"', "--columns"]),
    ("weights-also-in-columns-by-number", {"data.csv": weighted_text()},
     ["data.csv", "--columns", "a,1", "--weights", "count"], b"", 1,
     ["--weights", 'column "count"', "--columns"]),
    ("weights-unknown-name", {"data.csv": weighted_text()}, ["data.csv", "--weights", "zz"],
     b"", 1, ["--weights", "zz"]),
    ("weights-number-too-large", {"data.csv": weighted_text()},
     ["data.csv", "--weights", "4"], b"", 1, ["--weights", "column 4", "4 columns"]),
    ("weights-only-column", {"data.csv": b"w\n1\n2\n"}, ["data.csv", "--weights", "w"], b"",
     1, ["--weights", 'column "w"', "no features"]),
    ("weights-sample-all-zero", {"data.csv": b"a,w\n1,1\n2,1\n3,0\n4,1\n"},
     ["data.csv", "--weights", "w", "--n-samples", "1"], b"", 1,
     ["--weights", "weight 0", "--bandwidth"]),
    # standard output is not a place for --labels/--centers/--plot (the summary is there)
    *[
        (f"{option[2:]}-to-standard-output", {"data.csv": GOOD},
         ["data.csv", "--bandwidth", "2", option, "-"], b"", 1,
         [option, "standard output", "not supported"])
        for option in ("--labels", "--centers", "--plot")
    ],
    # a name two columns have: refused where an option uses it, both named
    *[
        (f"duplicate-name-in-{option[2:]}", {"data.csv": b"x,y,x,w\n1,2,3,1\n4,5,6,1\n"},
         ["data.csv", "--bandwidth", "2", option, "x", *extra], b"", 1,
         [option, "data.csv", "'x'", "columns 0 and 2"])
        for option, extra in [("--columns", []), ("--weights", []),
                              ("--keep", ["--labels", "l.csv"])]
    ],
    ("delimiter-with-npy", {"data.npy": npy_bytes(X)},
     ["data.npy", "--delimiter", ";"], b"", 1, ["--delimiter", "data.npy"]),
    # usage errors (argparse): status 2
    ("kernel-unknown", {"data.csv": GOOD}, ["data.csv", "--kernel", "cosine"], b"", 2,
     ["--kernel", "cosine"]),
    ("label-by-unknown", {"data.csv": GOOD}, ["data.csv", "--label-by", "first"], b"", 2,
     ["--label-by", "first"]),
    ("bandwidth-negative", {"data.csv": GOOD}, ["data.csv", "--bandwidth", "-1"], b"", 2,
     ["--bandwidth"]),
    ("bandwidth-not-a-number", {"data.csv": GOOD}, ["data.csv", "--bandwidth", "abc"], b"", 2,
     ["--bandwidth", "abc"]),
    ("max-iter-negative", {"data.csv": GOOD}, ["data.csv", "--max-iter", "-1"], b"", 2,
     ["--max-iter"]),
    ("n-jobs-zero", {"data.csv": GOOD}, ["data.csv", "--n-jobs", "0"], b"", 2, ["--n-jobs"]),
    ("bandwidth-with-quantile", {"data.csv": GOOD},
     ["data.csv", "--bandwidth", "1", "--quantile", "0.3"], b"", 2,
     ["--bandwidth", "--quantile"]),
    ("delimiter-two-characters", {"data.csv": GOOD}, ["data.csv", "--delimiter", ";;"], b"",
     2, ["--delimiter", "';;'", "one character"]),
    ("delimiter-part-of-numbers", {"data.csv": GOOD}, ["data.csv", "--delimiter", "."], b"",
     2, ["--delimiter", "'.'"]),
]


@pytest.mark.parametrize(
    "files, args, stdin, status, words",
    [pytest.param(*case[1:], id=case[0]) for case in ERRORS],
)
def test_errors(tmp_path, files, args, stdin, status, words):
    for name, content in files.items():
        if content is DIR:
            (tmp_path / name).mkdir()
        else:
            (tmp_path / name).write_bytes(content)
    before = listing(tmp_path)
    rc, out, err = run_cli(["cluster", *args], tmp_path, stdin=stdin)
    line = assert_one_line_error(rc, out, err, status)
    for word in words:
        assert word in line, f"{word!r} not in {line!r}"
    assert listing(tmp_path) == before, "files were left behind"
    for name, content in files.items():
        if content is DIR:
            assert not any((tmp_path / name).iterdir())


# ---------------------------------------------------------------------------
# The text reader, in process, with blocks small enough that every table
# spans many of them (each block is parsed on its own)
# ---------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from meanshift import _csv  # noqa: E402


def read_table(content, delimiter=",", columns=None, block_size=64):
    """read_delimited on bytes, with blocks of about ``block_size`` bytes."""
    saved = _csv.BLOCK_SIZE
    _csv.BLOCK_SIZE = block_size
    try:
        return _csv._read_table(io.BytesIO(content), "t.csv", delimiter, columns)[:3]
    finally:
        _csv.BLOCK_SIZE = saved


def header_fields(line, delimiter):
    """A first line's fields, split as loadtxt splits the rows (csv-style
    quotes), each stripped of spaces and quotes left around it."""
    return [f.strip().strip('"') for f in next(csv.reader([line], delimiter=delimiter))]


def reference_table(content, delimiter=",", usecols=None):
    """What the reader must return: numpy.loadtxt on the non-blank lines
    after the header (the reader before blocks, whole file at once)."""
    lines = content.decode("utf-8-sig").splitlines()
    lines = [line for line in lines if line.strip()]
    fields = header_fields(lines[0], delimiter)
    try:
        [float(f) for f in fields]
        header = False
    except ValueError:
        header = True
    return np.loadtxt(
        lines[header:], delimiter=delimiter, usecols=usecols, ndmin=2,
        dtype=np.float64, quotechar='"', comments=None,
    )


def same_bits(a, b):
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


FORMATS = [repr, "{:.6g}".format, "{:.3e}".format, "{:.0f}".format, lambda v: f" {v!r} ",
           lambda v: f'"{v!r}"', lambda v: f"{v:+.17g}"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.integers(1, 4).flatmap(
        lambda k: st.lists(
            st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64),
                     min_size=k, max_size=k),
            min_size=1, max_size=40,
        )
    ),
    fmt=st.lists(st.sampled_from(range(len(FORMATS))), min_size=1, max_size=3),
    delimiter=st.sampled_from([",", "\t"]),
    newline=st.sampled_from(["\n", "\r\n"]),
    header=st.booleans(),
    blanks=st.lists(st.integers(0, 45), max_size=4),
    final_newline=st.booleans(),
    bom=st.booleans(),
    block_size=st.sampled_from([1, 7, 64, 300, 1 << 20]),
)
def test_reader_matches_loadtxt(values, fmt, delimiter, newline, header, blanks,
                                final_newline, bom, block_size):
    """Any table, however it is cut into blocks: the same values, to the
    bit, as numpy.loadtxt on the whole text (or, where a value printed
    short passes float64's range, an error)."""
    k = len(values[0])
    lines = [
        delimiter.join(FORMATS[fmt[(i + j) % len(fmt)]](v) for j, v in enumerate(row))
        for i, row in enumerate(values)
    ]
    if header:
        lines.insert(0, delimiter.join(f"col{j}" for j in range(k)))
    for at in blanks:
        lines.insert(min(at, len(lines)), " " if at % 2 else "")
    content = newline.join(lines) + (newline if final_newline else "")
    content = ("\ufeff" if bom else "") + content
    content = content.encode()
    expected = reference_table(content, delimiter)
    if not np.isfinite(expected).all():  # e.g. 1.7975e+308 printed as 1.798e+308
        with pytest.raises(_csv.InputError, match="beyond float64's range"):
            read_table(content, delimiter, None, block_size)
        return
    X, names, where = read_table(content, delimiter, None, block_size)
    assert same_bits(X, expected), (X, expected)
    assert names == ([f"col{j}" for j in range(k)] if header else None)
    assert where == "t.csv"


def test_reader_columns_skip_text_columns():
    """--columns may leave out a column of names: those blocks go line by
    line, the others fast, and the result is the same."""
    rows = [f"{i},name {i},{i * 0.5!r},{-i / 3!r}" for i in range(500)]
    rows[5] = '5,"a name, with a comma",2.5,-1.6666666666666667'
    rows[300] = '300,"a name on\ntwo lines",150.0,-100.0'  # a newline in quotes
    content = ("id,name,x,y\n" + "\n".join(rows) + "\n").encode()
    for block_size in (50, 1 << 20):
        X, names, _ = read_table(content, ",", ["y", "x"], block_size)
        assert names == ["y", "x"]
        assert same_bits(X, reference_table(content, ",", [3, 2]))


def test_reader_long_line_and_no_final_newline():
    row = ",".join(repr(float(v)) for v in range(3000))  # longer than a block
    content = f"{row}\n{row}".encode()
    X, _, _ = read_table(content, ",", None, 100)
    assert X.shape == (2, 3000)
    assert_array_equal(X[1], np.arange(3000.0))


def numbered_rows(n, k=3):
    """n data lines after a header; line i of the file holds i, i+.5, ..."""
    return ["a,b,c"[: 2 * k - 1]] + [",".join(repr(i + j / 2) for j in range(k))
                                     for i in range(2, n + 2)]


@pytest.mark.parametrize(
    "edit, message",
    [
        ({3001: "3001,oops,3002"},
         "t.csv: line 3001, column \"b\": 'oops' is not a number (choose numeric "
         "columns with --columns)"),
        ({4000: "4000,4000.5"}, "line 4000"),  # a short row
        ({4000: "4000,4000.5", 2500: "x,1,2"}, "line 2500, column \"a\": 'x'"),  # the first
        ({3200: ""} | {i: f"{i},1,2,3" for i in range(3201, 3300)}, "line 3201"),  # wide block
        ({9: "9,1,nan(1)"}, "line 9, column \"c\""),  # fromstring would read it
    ],
    ids=["text-cell", "short-row", "first-error-wins", "wider-block", "nan-payload"],
)
def test_reader_errors_name_the_line(edit, message):
    lines = numbered_rows(5000)
    for number, line in edit.items():
        lines[number - 1] = line
    content = ("\n".join(lines) + "\n").encode()
    with pytest.raises(_csv.InputError) as e:
        read_table(content, ",", None, 256)
    assert message in str(e.value), str(e.value)
    assert len(str(e.value).splitlines()) == 1


@pytest.mark.parametrize(
    "cell, drop_missing, what",
    [
        ("1e400", False, "'1e400' is beyond float64's range"),
        ("-1E+999", True, "'-1E+999' is beyond float64's range"),
        ("1" * 400, False, "'111111111111'... (400 characters) is beyond float64's range"),
        ("inf", False, "'inf' is not a finite number"),
        (" -Infinity", True, "'-Infinity' is not a finite number"),
        ("nan", False, "'nan' marks a missing value (skip such rows with --drop-missing)"),
        ('"NaN"', False, "'NaN' marks a missing value (skip such rows with --drop-missing)"),
    ],
    ids=["1e400", "-1e999-drop-missing", "400-digits", "inf", "-infinity-drop-missing",
         "nan", "quoted-nan"],
)
def test_reader_names_the_first_field_that_is_not_finite(cell, drop_missing, what, monkeypatch):
    """A field that reads as inf or NaN (but NaN with --drop-missing, a
    missing cell) is an error naming its line, its column and its text,
    whichever parser read its block; the first in the file wins."""
    lines = numbered_rows(3000)
    lines[5] = ""  # blank lines count in the line numbers
    lines[2500 - 1] = f"2500,{cell},1"
    lines[2900 - 1] = "2900,2900.5,inf"
    content = ("\n".join(lines) + "\n").encode()
    for block_size in (100, 1 << 20):
        monkeypatch.setattr(_csv, "BLOCK_SIZE", block_size)
        with pytest.raises(_csv.InputError) as e:
            _csv._read_table(io.BytesIO(content), "t.csv", ",", None,
                             drop_missing=drop_missing)
        assert str(e.value).startswith(f't.csv: line 2500, column "b": {what}'), str(e.value)
        assert len(str(e.value).splitlines()) == 1
    # a weight: named as such
    with pytest.raises(_csv.InputError) as e:
        _csv._read_table(io.BytesIO(content), "t.csv", ",", None, weights="b",
                         drop_missing=drop_missing)
    assert str(e.value).startswith(f'--weights: column "b" of t.csv, line 2500: {what}')


def test_reader_drop_missing_reads_nan_not_inf():
    """--drop-missing takes NaN (a missing value, its row dropped later) but
    not inf, which is no missing value: clustering needs finite numbers."""
    content = b"a,b\n1,nan\n2,NA\n3,4\n"
    X, _, _ = _csv._read_table(io.BytesIO(content), "t.csv", ",", None,
                               drop_missing=True)[:3]
    assert_array_equal(np.isnan(X), [[False, True], [False, True], [False, False]])
    with pytest.raises(_csv.InputError, match=r"line 3, column \"a\": 'inf' is not a finite"):
        _csv._read_table(io.BytesIO(content.replace(b"2,", b"inf,")), "t.csv", ",", None,
                         drop_missing=True)


def test_reader_line_numbers_count_blank_and_crlf_lines():
    lines = numbered_rows(3000)
    for number in (5, 700, 701, 1500):
        lines[number - 1] = ""
    lines[2222 - 1] = "2222,2222.5,?"
    content = ("\r\n".join(lines) + "\r\n").encode()
    with pytest.raises(_csv.InputError, match=r"line 2222, column \"c\": '\?'"):
        read_table(content, ",", None, 100)


def reference_or_error(content, delimiter):
    """The reader before blocks (whole text, loadtxt): X, or None where it
    refused the text."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    fields = header_fields(lines[0], delimiter)
    try:
        [float(f) for f in fields]
        header = False
    except ValueError:
        header = True
    if len(lines) == header:
        return None
    try:
        X = np.loadtxt(lines[header:], delimiter=delimiter, ndmin=2, dtype=np.float64,
                       quotechar='"', comments=None)
    except ValueError:
        return None
    return X if X.shape[1] == len(fields) else None


TOKENS = ["0", "1", "7", "12.5", ".", "-", "+", "e", "e-3", "E+07", " ", "  ", "\t", ",",
          ",", "\n", "\n", "\r\n", '"1"', '"2.5 "', "nan", "inf", "x", "1e400", "nan(2)",
          "\x00"]  # (a quote left open makes loadtxt join lines: not a table)


@settings(max_examples=300, deadline=None)
@given(
    tokens=st.lists(st.sampled_from(TOKENS), max_size=60),
    delimiter=st.sampled_from([",", "\t"]),
    block_size=st.sampled_from([1, 5, 32]),
)
def test_reader_accepts_what_loadtxt_accepts(tokens, delimiter, block_size):
    """Text of number-like pieces: the reader returns loadtxt's values, to
    the bit, or refuses the text where loadtxt does, or where they are not
    all finite, with one line."""
    content = "".join(tokens).encode()
    expected = reference_or_error(content, delimiter)
    if expected is not None and not np.isfinite(expected).all():
        expected = None
    try:
        X, _, _ = read_table(content, delimiter, None, block_size)
    except _csv.InputError as e:
        assert expected is None, (content, expected, str(e))
        assert len(str(e).splitlines()) == 1
    else:
        assert expected is not None, (content, X)
        assert same_bits(X, expected), (content, X, expected)


# ---------------------------------------------------------------------------
# The command line as a data tool: header, --keep, the position of INPUT,
# --drop-missing, --scale, the sampled bandwidth estimate
# ---------------------------------------------------------------------------



def label_rows(path):
    """The rows of a CSV/TSV labels file, as text, with its header row."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f, delimiter=delimiter))


def numeric_labels(rows):
    return np.array([int(r[-1]) for r in rows[1:]])


# no header, but the first row has a text id: detection takes it as a header
ID_ROWS = [["x1", repr(v[0]), repr(v[1])] for v in X[:, :2].tolist()]
ID_TEXT = ("\n".join(",".join(r) for r in ID_ROWS) + "\n").encode()


def test_header_guess_is_noted_and_options_decide(tmp_path):
    (tmp_path / "ids.csv").write_bytes(ID_TEXT)
    base = ["cluster", "ids.csv", "--columns", "1", "2", "--bandwidth", BANDWIDTH,
            "--labels", "l.csv", "--json"]
    # detected: the first row is a header, and stderr says so in one line
    rc, out, err = run_cli(base, tmp_path)
    assert rc == 0, err
    assert err == HEADER_NOTE + ",".join(ID_ROWS[0]) + "\n"
    summary = json.loads(out)
    labels = numeric_labels(label_rows(tmp_path / "l.csv"))
    assert summary["n_samples"] == len(labels) == len(X) - 1
    # --no-header: every row is data, and nothing is said
    rc, out, err = run_cli([*base, "--no-header"], tmp_path)
    assert rc == 0 and err == "", err
    summary = json.loads(out)
    labels = numeric_labels(label_rows(tmp_path / "l.csv"))
    assert summary["n_samples"] == len(labels) == len(X)
    assert summary["columns"] == ["x0", "x1"]
    assert_array_equal(labels, MeanShift(bandwidth=BANDWIDTH).fit(X[:, :2]).labels_)
    # --header on a first line of numbers: it is a header all the same
    (tmp_path / "nums.csv").write_bytes(text(X, ","))
    rc, out, err = run_cli(["cluster", "nums.csv", "--header", "--bandwidth", BANDWIDTH,
                            "--labels", "l.csv", "--json"], tmp_path)
    assert rc == 0 and err == "", err
    summary = json.loads(out)
    assert summary["columns"] == [repr(v) for v in X[0].tolist()]
    assert summary["n_samples"] == len(numeric_labels(label_rows(tmp_path / "l.csv")))
    assert summary["n_samples"] == len(X) - 1


def test_no_header_text_cell_names_the_column_by_number(tmp_path):
    (tmp_path / "ids.csv").write_bytes(ID_TEXT)
    rc, out, err = run_cli(["cluster", "ids.csv", "--no-header", "--bandwidth", "2"],
                           tmp_path)
    line = assert_one_line_error(rc, out, err, 1)
    assert "line 1, column 0: 'x1' is not a number" in line and "--columns" in line, line


KEEP_IDS = [f"id{i}" for i in range(len(X))]
KEEP_IDS[3] = "A, with a comma"
KEEP_IDS[7] = "17"


def keep_csv(header=True):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    if header:
        w.writerow(["a", "id", "b", "c"])
    for i, row in enumerate(X.tolist()):
        w.writerow([repr(row[0]), KEEP_IDS[i], repr(row[1]), repr(row[2])])
    return out.getvalue().encode()


@pytest.mark.parametrize(
    "header, args, head",
    [
        (True, ["--keep", "id", "--labels", "l.csv"], ["id", "label"]),
        (True, ["--columns", "a", "b", "c", "--keep", "id,a", "--labels", "l.tsv"],
         ["id", "a", "label"]),
        (False, ["--keep", "1", "--labels", "l.csv", "--no-header"], ["column1", "label"]),
    ],
    ids=["by-name-not-a-feature", "two-kept-tsv", "no-header-by-number"],
)
def test_keep_carries_ids_into_the_labels(tmp_path, header, args, head):
    (tmp_path / "d.csv").write_bytes(keep_csv(header))
    rc, out, err = run_cli(["cluster", "d.csv", "--bandwidth", BANDWIDTH, "--json", *args],
                           tmp_path)
    assert rc == 0, err
    assert without_header_note(err) == ""
    path = tmp_path / args[args.index("--labels") + 1]
    rows = label_rows(path)
    assert rows[0] == head
    assert [r[0] for r in rows[1:]] == KEEP_IDS  # the text ids, in order
    if "a" in head[:-1]:
        assert [float(r[1]) for r in rows[1:]] == X[:, 0].tolist()
    assert len(rows) - 1 == json.loads(out)["n_samples"] == len(X)
    model = MeanShift(bandwidth=BANDWIDTH).fit(X)
    assert_array_equal(numeric_labels(rows), model.labels_)


@pytest.mark.parametrize(
    "args, words",
    [
        (["--keep", "id"], ["--keep", "--labels"]),
        (["--keep", "id", "--labels", "l.npy"], ["--keep", ".csv"]),
        (["--keep", "zz", "--labels", "l.csv"], ["--keep", "zz"]),
        (["--keep", "a", "b", "c", "id", "--labels", "l.csv"], ["--keep", "--columns"]),
    ],
    ids=["without-labels", "npy-labels", "unknown", "every-column"],
)
def test_keep_errors(tmp_path, args, words):
    (tmp_path / "d.csv").write_bytes(keep_csv())
    before = listing(tmp_path)
    rc, out, err = run_cli(["cluster", "d.csv", "--bandwidth", "2", *args], tmp_path)
    line = assert_one_line_error(rc, out, err, 1)
    for word in words:
        assert word in line, line
    assert listing(tmp_path) == before


@pytest.mark.parametrize(
    "args",
    [
        ["--columns", "a", "b", "c", "d.csv"],
        ["d.csv", "--columns", "a", "b", "c"],
        ["--columns", "a,b,c", "d.csv"],
        ["--columns", "a", "b,c", "--keep", "id", "d.csv"],
        ["--keep", "id", "d.csv", "--columns", "a,b", "c"],
        ["--keep", "id", "--columns", "a", "b", "c", "d.csv"],
    ],
    ids=["columns-before", "columns-after", "comma", "keep-last", "keep-before", "columns-last"],
)
def test_input_in_any_position(tmp_path, args):
    (tmp_path / "d.csv").write_bytes(keep_csv())
    rc, out, err = run_cli(["cluster", *args, "--bandwidth", BANDWIDTH, "--json",
                            "--labels", "l.csv"], tmp_path)
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["columns"] == ["a", "b", "c"] and summary["source"] == "d.csv"
    rows = label_rows(tmp_path / "l.csv")
    assert rows[0] == (["id", "label"] if "--keep" in args else ["label"])
    assert_array_equal(numeric_labels(rows), MeanShift(bandwidth=BANDWIDTH).fit(X).labels_)


def test_input_still_required(tmp_path):
    rc, out, err = run_cli(["cluster", "--columns", "a", "b"], tmp_path)
    line = assert_one_line_error(rc, out, err, 2)
    assert "INPUT" in line


@pytest.mark.parametrize(
    "content, args, words, absent",
    [
        (b"a,b,city\n1,2,Riga\n", ["--columns", "a,city"],
         ['line 2, column "city"', "'Riga' is not a number", "--columns"], []),
        (b"a,b,c\n1,2,3\n4,5\n", ["--columns", "a", "c"],
         ["line 3", 'column "c"', "2 fields"], ["invalid column index"]),
        (b"1,2,3\n4,5\n", ["--columns", "0,2"], ["line 2", "column 2", "2 fields"],
         ["invalid column index"]),
        (b"a,b\n1,2\n3,\n", [], ["line 3", 'column "b"', "empty", "--drop-missing"], []),
        (b"a,b\n1,\n,2\n", ["--drop-missing"], ["--drop-missing", "every"], []),
    ],
    ids=["text-cell", "short-row", "short-row-no-header", "empty-cell", "all-dropped"],
)
def test_messages_name_columns_as_columns_does(tmp_path, content, args, words, absent):
    (tmp_path / "d.csv").write_bytes(content)
    rc, out, err = run_cli(["cluster", "d.csv", "--bandwidth", "1", *args], tmp_path)
    line = assert_one_line_error(rc, out, err, 1)
    for word in words:
        assert word in line, line
    for word in absent:
        assert word not in line, line


def test_drop_missing(tmp_path):
    lines = ["a,b,c,note"] + [f"{r[0]!r},{r[1]!r},{r[2]!r}," for r in X.tolist()]
    dropped = [4, 11, 30]
    lines[1 + 4] = lines[1 + 4].replace(f"{float(X[4, 1])!r}", "", 1)  # an empty cell
    lines[1 + 11] = lines[1 + 11].replace(f"{float(X[11, 0])!r}", "nan", 1)
    lines[1 + 30] = lines[1 + 30].replace(f"{float(X[30, 2])!r}", " ", 1)
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    keep = np.ones(len(X), dtype=bool)
    keep[dropped] = False
    model = MeanShift(bandwidth=BANDWIDTH).fit(X[keep])
    base = ["cluster", "d.csv", "--columns", "a", "b", "c", "--bandwidth", BANDWIDTH,
            "--drop-missing"]
    rc, out, err = run_cli([*base, "--json", "--labels", "l.csv"], tmp_path)
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["n_dropped"] == 3 and summary["n_rows_read"] == len(X)
    assert summary["n_samples"] == len(X) - 3
    rows = label_rows(tmp_path / "l.csv")
    assert len(rows) - 1 == len(X)  # one row per input row, never realigned
    assert [rows[1 + i] for i in dropped] == [[""]] * 3
    got = np.array([int(rows[1 + i][0]) for i in np.flatnonzero(keep)])
    assert_array_equal(got, model.labels_)
    # .npy labels: NaN for a dropped row; and the table names the count
    rc, out, err = run_cli([*base, "--labels", "l.npy"], tmp_path)
    assert rc == 0, err
    assert "dropped     3 of 60 rows" in out
    labels = np.load(tmp_path / "l.npy")
    assert np.isnan(labels[dropped]).all()
    assert_array_equal(labels[keep], model.labels_)
    # without --drop-missing the same file is an error
    rc, out, err = run_cli(base[:-1], tmp_path)
    assert_one_line_error(rc, out, err, 1)


# two groups, one feature in thousands, one in thousandths
SCALED = np.concatenate([
    np.random.default_rng(1).normal([0.0, 0.0], [1000.0, 0.001], size=(30, 2)),
    np.random.default_rng(2).normal([5000.0, 0.01], [1000.0, 0.001], size=(30, 2)),
])


def reference_scaled(X, how):
    if how == "standard":
        offset, scale = X.mean(axis=0), X.std(axis=0)
    else:
        q1, offset, q3 = np.percentile(X, [25, 50, 75], axis=0)
        scale = q3 - q1
    scale[scale == 0] = 1.0
    return offset, scale


@pytest.mark.parametrize("how", ["standard", "robust"])
def test_scale(tmp_path, how):
    (tmp_path / "d.csv").write_bytes(text(SCALED, ",", ["income", "rate"]))
    rc, out, err = run_cli(["cluster", "d.csv", "--scale", how, "--bandwidth", "1.5",
                            "--json", "--centers", "c.csv", "--labels", "l.csv"], tmp_path)
    assert rc == 0, err
    assert without_header_note(err) == ""  # no warning on the scales
    offset, scale = reference_scaled(SCALED, how)
    model = MeanShift(bandwidth=1.5).fit((SCALED - offset) / scale)
    centers = model.cluster_centers_ * scale + offset  # the original units
    summary = json.loads(out)
    assert summary["scale"] == how
    assert_allclose([c["center"] for c in summary["clusters"]], centers, rtol=1e-9)
    check_centers_file(tmp_path / "c.csv", centers, ["income", "rate"], rtol=1e-9)
    check_labels_file(tmp_path / "l.csv", model.labels_)


def test_scale_constant_column_and_warning(tmp_path):
    data = np.column_stack([SCALED, np.full(len(SCALED), 7.0)])
    (tmp_path / "d.csv").write_bytes(text(data, ","))
    rc, out, err = run_cli(["cluster", "d.csv", "--scale", "standard", "--bandwidth", "1.5",
                            "--json"], tmp_path)
    assert rc == 0 and err == "", err
    centers = np.array([c["center"] for c in json.loads(out)["clusters"]])
    assert_array_equal(centers[:, 2], 7.0)
    # no --scale: a one-line warning that the scales differ; --scale none: quiet
    rc, out, err = run_cli(["cluster", "d.csv", "--bandwidth", "1000"], tmp_path)
    assert rc == 0, err
    assert len(err.splitlines()) == 1 and "warning" in err and "--scale" in err, err
    assert 'column' not in err or "x0" in err
    rc, out, err = run_cli(["cluster", "d.csv", "--bandwidth", "1000", "--scale", "none"],
                           tmp_path)
    assert rc == 0 and err == "", err


def sensors(seed=0, n=40):
    """Three groups; "vibration" alone tells the first two apart, and
    "pressure" spreads about 14x wider: unscaled, they merge."""
    rng = np.random.default_rng(seed)
    means = [(0.0, 0.0), (0.0, 3.0), (40.0, 0.0)]
    return np.concatenate(
        [np.column_stack([rng.normal(p, 5, n), rng.normal(v, 0.3, n)]) for p, v in means]
    )


def test_scale_warning_from_10x_names_the_dominant_column(tmp_path):
    data = sensors()
    # what the warning is for: unscaled, two of the three groups merge
    assert len(MeanShift(bandwidth=estimate_bandwidth(data)).fit(data).cluster_centers_) == 2
    scaled = (data - data.mean(axis=0)) / data.std(axis=0)
    assert len(MeanShift(bandwidth=estimate_bandwidth(scaled)).fit(scaled)
               .cluster_centers_) == 3
    (tmp_path / "sensors.csv").write_bytes(text(data, ",", ["pressure", "vibration"]))
    rc, out, err = run_cli(["cluster", "sensors.csv", "--header"], tmp_path)
    assert rc == 0, err
    std = data.std(axis=0)
    assert err == (
        f"meanshift: warning: the columns' scales differ by {std[0] / std[1]:,.0f}x (std "
        f'of "pressure" {std[0]:.5g}, of "vibration" {std[1]:.5g}): column "pressure" '
        "dominates the distances; consider --scale standard\n"
    ), err


def test_no_scale_warning_on_similar_scales():
    """The README's people.csv (heights in cm, weights in kg: two groups),
    the demo's data, and columns 9x apart: no warning."""
    rng = np.random.default_rng(1)
    group = rng.random(600) < 0.5
    people = np.column_stack([np.where(group, rng.normal(160, 6, 600), rng.normal(180, 7, 600)),
                              np.where(group, rng.normal(55, 6, 600), rng.normal(80, 8, 600))])
    apart = rng.normal(0, [9.0, 1.0], (500, 2))
    apart = (apart - apart.mean(axis=0)) / apart.std(axis=0) * [9.0, 1.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for data in (people, _cli.demo_data(), X, apart):
            _cli._warn_scales(data, ["a", "b", "c"])


def test_default_bandwidth_estimate_samples_large_inputs(tmp_path):
    rng = np.random.default_rng(3)
    data = np.concatenate([rng.normal(0, 1, (6000, 2)), rng.normal(8, 1, (6001, 2))])
    np.save(tmp_path / "big.npy", data)
    base = ["cluster", "big.npy", "--bin-seeding", "--json", "--no-progress"]
    rc, out, err = run_cli(base, tmp_path)
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["bandwidth_from"] == "estimated: quantile 0.3 of 10,000 sampled points"
    expected = estimate_bandwidth(data, quantile=0.3, n_samples=10_000, random_state=0)
    assert_allclose(summary["bandwidth"], expected, rtol=1e-12)
    rc, out, err = run_cli([*base, "--n-samples", "all"], tmp_path)
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["bandwidth_from"] == "estimated: quantile 0.3 of all points"
    assert_allclose(summary["bandwidth"], estimate_bandwidth(data, quantile=0.3), rtol=1e-12)
    # at most 10,000 rows: every point, as before
    np.save(tmp_path / "small.npy", data[:10_000])
    rc, out, err = run_cli(["cluster", "small.npy", "--bin-seeding", "--json"], tmp_path)
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["bandwidth_from"] == "estimated: quantile 0.3 of all points"
    assert_allclose(summary["bandwidth"], estimate_bandwidth(data[:10_000]), rtol=1e-12)


def test_one_cluster_from_an_estimated_bandwidth_is_noted(tmp_path):
    """Five groups in 16-D that the default estimate (quantile 0.3) merges
    into one: the summary says the bandwidth may be too large and how to
    choose it; not where the bandwidth was given."""
    rng = np.random.default_rng(0)
    data = np.concatenate([rng.normal(m, 1, (15, 16)) for m in rng.normal(0, 2, (5, 16))])
    np.save(tmp_path / "d.npy", data)
    assert len(MeanShift(bandwidth=estimate_bandwidth(data)).fit(data).cluster_centers_) == 1
    assert len(MeanShift(bandwidth=estimate_bandwidth(data, quantile=0.1))
               .fit(data).cluster_centers_) > 1
    note = ("note        one cluster: the estimated bandwidth may be too large for "
            "this data; for more clusters, lower --quantile (0.3 now; e.g. 0.1) or "
            "give a smaller --bandwidth")
    rc, out, err = run_cli(["cluster", "d.npy"], tmp_path)
    assert rc == 0 and err == "", err
    assert re.search(r"^clusters    1\n" + re.escape(note) + "\n", out, re.M), out
    rc, out, err = run_cli(["cluster", "d.npy", "--json", "--bandwidth", "100"], tmp_path)
    assert rc == 0 and err == "", err
    summary = json.loads(out)
    assert summary["n_clusters"] == 1 and summary["notes"] == []


def test_drop_missing_weights_and_keep_from_stdin(tmp_path):
    # a NaN weight drops its row; a bad weight after it is counted in input rows
    content = b"id,a,w\nr0,1,1\nr1,2,\nr2,3,-1\n"
    rc, out, err = run_cli(["cluster", "-", "--weights", "w", "--keep", "id",
                            "--drop-missing", "--labels", "l.csv"], tmp_path, stdin=content)
    line = assert_one_line_error(rc, out, err, 1)
    assert "row 2" in line and "negative" in line, line
    content = b"id,a,w\nr0,1,1\nr1,2,\nr2,1.5,2\nr3,9,nan\nr4,10,1\n"
    rc, out, err = run_cli(["cluster", "--keep", "id", "-", "--weights", "w",
                            "--drop-missing", "--bandwidth", "1", "--labels", "l.csv",
                            "--json"], tmp_path, stdin=content)
    assert rc == 0, err
    assert json.loads(out)["n_dropped"] == 2
    rows = label_rows(tmp_path / "l.csv")
    expected = MeanShift(bandwidth=1).fit(
        np.array([[1.0], [1.5], [10.0]]), sample_weight=[1.0, 2.0, 1.0]
    ).labels_
    assert rows == [["id", "label"], ["r0", str(expected[0])], ["r1", ""],
                    ["r2", str(expected[1])], ["r3", ""], ["r4", str(expected[2])]]


# ---------------------------------------------------------------------------
# Outputs never overwrite the input or each other; every output's folder is
# checked before the fit
# ---------------------------------------------------------------------------


def _link(kind):
    def make(folder):
        if kind == "symlink":
            os.symlink("data.csv", folder / "alias.csv")
        else:
            os.link(folder / "data.csv", folder / "alias.csv")
    return make


CLASHES = [
    # (id, make extra files, arguments after the input, the option refused,
    #  what the message must say)
    ("labels-is-input", None, ["--labels", "data.csv"], "--labels", ["is the input file"]),
    ("centers-is-input-dot-slash", None, ["--centers", "./data.csv"], "--centers",
     ["./data.csv", "is the input file", "(data.csv)"]),
    ("plot-is-input", None, ["--plot", "data.csv"], "--plot", ["is the input file"]),
    ("labels-symlink-to-input", _link("symlink"), ["--labels", "alias.csv"], "--labels",
     ["alias.csv", "is the input file"]),
    ("centers-hard-link-to-input", _link("hard"), ["--centers", "alias.csv"], "--centers",
     ["alias.csv", "is the input file"]),
    ("labels-and-centers-one-file", None, ["--labels", "out.csv", "--centers", "out.csv"],
     "--centers", ["out.csv", "is also the --labels file"]),
    ("labels-and-centers-one-file-other-spelling", None,
     ["--labels", "out.csv", "--centers", "./sub/../out.csv"], "--centers",
     ["is also the --labels file"]),
    ("labels-and-plot-one-file", None, ["--labels", "out.csv", "--plot", "out.csv"],
     "--plot", ["is also the --labels file"]),
]


@pytest.mark.parametrize(
    "make, args, option, words", [pytest.param(*c[1:], id=c[0]) for c in CLASHES]
)
def test_outputs_never_overwrite_the_input_or_each_other(tmp_path, make, args, option,
                                                         words):
    (tmp_path / "data.csv").write_bytes(GOOD)
    (tmp_path / "sub").mkdir()
    if make is not None:
        make(tmp_path)
    before = listing(tmp_path)
    rc, out, err = run_cli(["cluster", "data.csv", "--bandwidth", BANDWIDTH, *args],
                           tmp_path)
    line = assert_one_line_error(rc, out, err, 1)
    assert line.startswith(f"meanshift: error: {option}: "), line
    for word in words:
        assert word in line, line
    assert (tmp_path / "data.csv").read_bytes() == GOOD
    assert listing(tmp_path) == before


def _refuse_folder(monkeypatch, folder):
    """tempfile.mkstemp refuses to create a file in ``folder``, as a
    read-only folder does (for root too, which a chmod would not stop)."""
    import tempfile

    real = tempfile.mkstemp

    def mkstemp(suffix=None, prefix=None, dir=None, text=False):
        if dir is not None and os.path.samefile(dir, folder):
            raise PermissionError(13, "Permission denied",
                                  os.path.join(dir, f"{prefix}abc123{suffix or ''}"))
        return real(suffix, prefix, dir, text)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


@pytest.mark.parametrize("option", ["--labels", "--centers"])
def test_unwritable_output_folder_is_found_before_the_fit(tmp_path, monkeypatch, capsys,
                                                           option):
    from meanshift import _cli

    (tmp_path / "data.csv").write_bytes(GOOD)
    (tmp_path / "locked").mkdir()
    _refuse_folder(monkeypatch, tmp_path / "locked")
    fitted = []
    real_run = _cli.run_clustering
    monkeypatch.setattr(_cli, "run_clustering",
                        lambda *a, **k: fitted.append(1) or real_run(*a, **k))
    target = str(tmp_path / "locked" / "out.csv")
    rc = _cli.main(["cluster", str(tmp_path / "data.csv"), "--bandwidth", "2",
                    "--no-progress", option, target])
    out, err = capsys.readouterr()
    line = assert_one_line_error(rc, out, err, 1)
    assert fitted == [], "the fit ran before the folder was checked"
    assert line.startswith(f"meanshift: error: {option}: {target}: cannot write in "), line
    assert "Permission denied" in line and ".out.csv." not in line, line
    assert listing(tmp_path / "locked") == set()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into a read-only folder")
def test_read_only_output_folder(tmp_path):
    (tmp_path / "data.csv").write_bytes(GOOD)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        rc, out, err = run_cli(["cluster", "data.csv", "--bandwidth", BANDWIDTH,
                                "--labels", "locked/l.csv"], tmp_path)
    finally:
        locked.chmod(0o755)
    line = assert_one_line_error(rc, out, err, 1)
    assert "--labels: locked/l.csv: cannot write in" in line, line
    assert listing(locked) == set()


# ---------------------------------------------------------------------------
# No traceback reaches the user; MEANSHIFT_DEBUG=1 shows it
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error, words",
    [
        (OverflowError("cannot convert float infinity to integer"),
         ["OverflowError: cannot convert float infinity to integer", "MEANSHIFT_DEBUG=1"]),
        (RuntimeError(), ["RuntimeError", "MEANSHIFT_DEBUG=1"]),
        (MemoryError(), ["out of memory"]),
    ],
    ids=["overflow", "no-message", "memory"],
)
def test_any_error_is_one_line(tmp_path, monkeypatch, capsys, error, words):
    from meanshift import _cli

    (tmp_path / "data.csv").write_bytes(GOOD)

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(_cli, "run_clustering", fail)
    monkeypatch.delenv("MEANSHIFT_DEBUG", raising=False)
    argv = ["cluster", str(tmp_path / "data.csv"), "--no-progress"]
    rc = _cli.main(argv)
    out, err = capsys.readouterr()
    line = assert_one_line_error(rc, out, err, 1)
    assert line.startswith("meanshift: error: "), line
    for word in words:
        assert word in line, line
    # for a bug report: the exception itself, with its traceback
    monkeypatch.setenv("MEANSHIFT_DEBUG", "1")
    with pytest.raises(type(error)):
        _cli.main(argv)


def test_help_tells_how_to_see_a_traceback(tmp_path):
    for args in (["--help"], ["cluster", "--help"]):
        rc, out, err = run_cli(args, tmp_path)
        assert rc == 0, err
        assert "MEANSHIFT_DEBUG=1" in " ".join(out.split()), out


def test_huge_weights_with_an_estimated_bandwidth_never_a_traceback(tmp_path):
    (tmp_path / "w.csv").write_text(
        "a,w\n" + "".join(f"{v!r},1e308\n" for v in X[:, 0].tolist())
    )
    rc, out, err = run_cli(["cluster", "w.csv", "--weights", "w", "--no-progress"],
                           tmp_path)
    assert "Traceback" not in err, err
    if rc != 0:  # (a warning from the library may come before it)
        assert rc == 1 and out == "", (rc, out, err)
        assert err.splitlines()[-1].startswith("meanshift: error: "), err


def test_total_weight_beyond_float64_is_printed_not_inf(tmp_path):
    # three groups of 20 rows, each weighing 1e308 in all: 3e308 together
    (tmp_path / "w.csv").write_text(
        "a,b,c,w\n" + "".join(",".join(map(repr, r)) + ",5e306\n" for r in X.tolist())
    )
    base = ["cluster", "w.csv", "--weights", "w", "--bandwidth", BANDWIDTH, "--no-progress"]
    rc, out, err = run_cli(base, tmp_path)
    assert rc == 0, err
    assert "inf" not in out, out
    assert "(total 3e+308; cluster sizes below count rows)" in out, out
    rc, out, err = run_cli([*base, "--json"], tmp_path)
    assert rc == 0, err
    assert "Infinity" not in out
    summary = json.loads(out)
    exact = 60 * Fraction(5e306)
    total = summary["weights"]["total"]
    assert isinstance(total, int) and abs(Fraction(total) / exact - 1) < 1e-15, total
    clusters = sum(Fraction(c["weight"]) for c in summary["clusters"])
    assert abs(clusters / exact - 1) < 1e-15


# ---------------------------------------------------------------------------
# Reading: quoted header fields, CR line ends, missing values, --delimiter
# ---------------------------------------------------------------------------


def test_quoted_header_fields_do_not_shift_the_columns(tmp_path):
    ids = [f"n{i}" for i in range(len(X))]
    lines = ['"name, full",x,"say ""hi"", then y",z']
    lines += [f"{i},{r[0]!r},{r[1]!r},{r[2]!r}" for i, r in zip(ids, X.tolist(), strict=True)]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    rc, out, err = run_cli(["cluster", "d.csv", "--columns", "x", 'say "hi", then y',
                            "--bandwidth", BANDWIDTH, "--json", "--centers", "c.csv"],
                           tmp_path)
    assert rc == 0, err
    model = MeanShift(bandwidth=BANDWIDTH).fit(X[:, :2])
    names = ["x", 'say "hi", then y']
    check_summary(json.loads(out), X[:, :2], model, names, BANDWIDTH,
                  {"centers": "c.csv"})
    # every column but the text one, by name, and the header as a whole
    rc, out, err = run_cli(["cluster", "d.csv", "--columns", "x", "z", "--keep",
                            "name, full", "--bandwidth", BANDWIDTH, "--labels", "l.csv"],
                           tmp_path)
    assert rc == 0, err
    rows = label_rows(tmp_path / "l.csv")
    assert rows[0] == ["name, full", "label"]
    assert [r[0] for r in rows[1:]] == ids
    assert_array_equal(numeric_labels(rows),
                       MeanShift(bandwidth=BANDWIDTH).fit(X[:, [0, 2]]).labels_)


def test_reader_header_split_as_the_rows():
    content = b'"a, b",c,"d ""e"", f"\n1,2,3\n4,5,6\n'
    X_, names, _ = read_table(content, ",", None, 1 << 20)
    assert names == ["a, b", "c", 'd "e", f']
    assert_array_equal(X_, [[1, 2, 3], [4, 5, 6]])
    X_, names, _ = read_table(content, ",", ["c", 'd "e", f'], 5)
    assert names == ["c", 'd "e", f']
    assert_array_equal(X_, [[2, 3], [5, 6]])


@pytest.mark.parametrize("block_size", [1, 2, 7, 64, 1 << 20])
def test_reader_old_mac_line_ends(block_size):
    lines = numbered_rows(300)
    lf = ("\n".join(lines) + "\n").encode()
    expected = read_table(lf, ",", None, 1 << 20)
    cr = lf.replace(b"\n", b"\r")
    got = read_table(cr, ",", None, block_size)
    assert same_bits(got[0], expected[0]) and got[1] == expected[1]
    # a problem is named by its line, counted as the CRs count them
    bad = cr.replace(b"\r150.0,150.5,", b"\r150.0,oops,", 1)
    assert bad != cr
    with pytest.raises(_csv.InputError, match=r"line 150, column \"b\": 'oops'"):
        read_table(bad, ",", None, block_size)


def test_old_mac_line_ends(tmp_path):
    (tmp_path / "d.csv").write_bytes(text(X, ",", NAMES).replace(b"\n", b"\r"))
    rc, out, err = run_cli(["cluster", "d.csv", "--bandwidth", BANDWIDTH, "--json",
                            "--labels", "l.csv"], tmp_path)
    assert rc == 0, err
    model = MeanShift(bandwidth=BANDWIDTH).fit(X)
    check_summary(json.loads(out), X, model, NAMES, BANDWIDTH, {"labels": "l.csv"})
    check_labels_file(tmp_path / "l.csv", model.labels_)


MISSING_WORDS = ["NA", "na", "N/A", "n/a", " NA ", "NaN", "nan", "NAN", "", "  "]


def test_drop_missing_reads_na_words_as_missing(tmp_path):
    # no header; the first row is one with a missing cell
    lines = [",".join(repr(v) for v in r) for r in X.tolist()]
    dropped = list(range(0, 2 * len(MISSING_WORDS), 2))
    for i, word in zip(dropped, MISSING_WORDS, strict=True):
        cells = lines[i].split(",")
        cells[i % 3] = word
        lines[i] = ",".join(cells)
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    keep = np.ones(len(X), dtype=bool)
    keep[dropped] = False
    rc, out, err = run_cli(["cluster", "d.csv", "--drop-missing", "--bandwidth", BANDWIDTH,
                            "--json", "--labels", "l.csv"], tmp_path)
    assert rc == 0, err
    assert err == "", err  # the first row is data, not a header
    summary = json.loads(out)
    assert summary["n_rows_read"] == len(X) and summary["n_dropped"] == len(dropped)
    rows = label_rows(tmp_path / "l.csv")
    assert [rows[1 + i] for i in dropped] == [[""]] * len(dropped)
    model = MeanShift(bandwidth=BANDWIDTH).fit(X[keep])
    assert_array_equal([int(rows[1 + i][0]) for i in np.flatnonzero(keep)], model.labels_)
    # without --drop-missing: one line that names the cell and the option
    rc, out, err = run_cli(["cluster", "d.csv", "--no-header", "--bandwidth", BANDWIDTH],
                           tmp_path)
    line = assert_one_line_error(rc, out, err, 1)
    assert "line 1" in line and "'NA'" in line and "--drop-missing" in line, line


SEMICOLONS = b"a;b;c\n" + b"".join(
    ";".join(repr(v) for v in r).encode() + b"\n" for r in X.tolist()
)


@pytest.mark.parametrize(
    "name, content, delimiter",
    [
        ("d.csv", SEMICOLONS, ";"),
        ("d.csv", SEMICOLONS, "semicolon"),
        ("d.tsv", SEMICOLONS.replace(b";", b"|"), "pipe"),
        ("d.csv", SEMICOLONS.replace(b";", b"\t"), "tab"),
        ("-", SEMICOLONS.replace(b";", b"\t"), "\\t"),
        ("-", SEMICOLONS, ";"),
        ("d.csv", SEMICOLONS.replace(b";", b" "), "space"),
    ],
    ids=["char", "name", "tsv-pipe", "csv-tab", "stdin-tab", "stdin-semicolon", "space"],
)
def test_delimiter(tmp_path, name, content, delimiter):
    if name != "-":
        (tmp_path / name).write_bytes(content)
    rc, out, err = run_cli(["cluster", name, "--delimiter", delimiter, "--bandwidth",
                            BANDWIDTH, "--json", "--header"], tmp_path,
                           stdin=content if name == "-" else b"")
    assert rc == 0, err
    model = MeanShift(bandwidth=BANDWIDTH).fit(X)
    check_summary(json.loads(out), X, model, NAMES, BANDWIDTH, {})


def test_delimiter_in_help(tmp_path):
    rc, out, err = run_cli(["cluster", "--help"], tmp_path)
    assert rc == 0, err
    assert "--delimiter" in out and "semicolon" in out


# ---------------------------------------------------------------------------
# --scale and the scale warning with values near the largest floats
# ---------------------------------------------------------------------------

# three groups; "big" in units of 3.5e307, from about -1.5e308 to 1.5e308 (its
# sum of squares, and its interquartile range, overflow), "small" in units of
# 1e-300: the spreads differ by about 1e608
HUGE = np.column_stack([(X[:, 0] - 3) * 3.5e307, X[:, 1], X[:, 2] * 1e-300])


@pytest.mark.parametrize("how", ["standard", "robust"])
def test_scale_near_the_largest_floats(tmp_path, how):
    (tmp_path / "d.csv").write_bytes(text(HUGE, ",", ["big", "mid", "small"]))
    rc, out, err = run_cli(["cluster", "d.csv", "--scale", how, "--bandwidth", "1.5",
                            "--json", "--centers", "c.csv", "--labels", "l.csv"], tmp_path)
    assert rc == 0, err
    assert without_header_note(err) == "", err
    # the same, computed on the data divided by 2**1000 (exact), in which
    # nothing overflows
    small = np.ldexp(HUGE, [-1000, 0, 1000])
    offset, scale = reference_scaled(small, how)
    model = MeanShift(bandwidth=1.5).fit((small - offset) / scale)
    centers = np.ldexp(model.cluster_centers_ * scale + offset, [1000, 0, -1000])
    assert np.isfinite(centers).all()
    summary = json.loads(out)
    assert_allclose([c["center"] for c in summary["clusters"]], centers, rtol=1e-9)
    check_centers_file(tmp_path / "c.csv", centers, ["big", "mid", "small"], rtol=1e-9)
    check_labels_file(tmp_path / "l.csv", model.labels_)


def test_scale_warning_never_says_inf(tmp_path):
    (tmp_path / "d.csv").write_bytes(text(HUGE, ",", ["big", "mid", "small"]))
    rc, out, err = run_cli(["cluster", "d.csv", "--bandwidth", "1e308", "--header"],
                           tmp_path)
    assert rc == 0, err
    # (scikit-learn's finiteness check, a sum, may add a warning of its own)
    lines = [line for line in err.splitlines() if "scales differ" in line]
    assert len(lines) == 1 and lines[0].startswith("meanshift: warning: "), err
    assert "inf" not in lines[0] and "nan" not in lines[0], lines[0]
    m = re.search(r"differ by a factor of ([\d.]+)e\+(\d+) \(std of \"big\" ([\d.]+)e\+(\d+), "
                  r"of \"small\" ([\d.]+)e-(\d+)\)", lines[0])
    assert m, lines[0]
    std = [float(np.ldexp(np.ldexp(HUGE[:, j], -1000 * s).std(), 1000 * s))
           for j, s in ((0, 1), (2, -1))]
    assert_allclose(float(m.group(3)) * 10.0 ** int(m.group(4)), std[0], rtol=1e-4)
    assert_allclose(float(m.group(5)) * 10.0 ** -int(m.group(6)), std[1], rtol=1e-4)
    ratio = math.log10(std[0]) - math.log10(std[1])
    assert abs(math.log10(float(m.group(1))) + int(m.group(2)) - ratio) < 0.01


# ---------------------------------------------------------------------------
# --algorithm grid
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("label_by", ["nearest", "attractor"])
def test_algorithm_grid_is_named_an_approximation(tmp_path, label_by):
    """--algorithm grid --grid-resolution K is MeanShift(algorithm="grid",
    grid_resolution=K); the summary says it is approximate."""
    (tmp_path / "data.csv").write_bytes(text(X, ",", NAMES))
    args = ["cluster", "data.csv", "--bandwidth", 1.5, "--labels", "l.csv",
            "--centers", "c.npy", "--algorithm", "grid", "--grid-resolution", 2.5,
            "--label-by", label_by]
    model = MeanShift(bandwidth=1.5, algorithm="grid", grid_resolution=2.5,
                      label_by=label_by).fit(X)
    rc, out, err = run_cli(args, tmp_path)
    assert rc == 0, err
    assert "algorithm   approximate (grid): one seed per occupied cell of side " \
           "bandwidth / 2.5" in out
    check_labels_file(tmp_path / "l.csv", model.labels_)
    check_centers_file(tmp_path / "c.npy", model.cluster_centers_, None)
    rc, out, err = run_cli(args + ["--json"], tmp_path)
    summary = json.loads(out)
    assert (summary["algorithm"], summary["grid_resolution"]) == ("grid", 2.5)
    assert summary["n_seeds"] == len(np.unique(np.floor(X / 0.6), axis=0))
    rc, out, err = run_cli(["cluster", "data.csv", "--bandwidth", 1.5], tmp_path)
    assert "algorithm   exact" in out


def test_algorithm_grid_far_points_keep_their_own_clusters(tmp_path):
    # cells whose indices pass float64's range (1e300 over cells of 3e-10)
    rng = np.random.default_rng(0)
    F = np.r_[rng.normal(0, 1e-9, (200, 1)), [[1e300], [1e300], [2e300], [2e300]]]
    (tmp_path / "far.csv").write_bytes(text(F, ",", ["a"]))
    rc, out, err = run_cli(["cluster", "far.csv", "--bandwidth", "1e-9", "--algorithm",
                            "grid", "--header", "--labels", "l.npy"], tmp_path)
    assert rc == 0 and err == "", err
    assert re.search(r"^clusters    3$", out, re.M), out
    exact = MeanShift(bandwidth=1e-9).fit(F)
    assert_array_equal(np.load(tmp_path / "l.npy"), exact.labels_)


def test_algorithm_grid_refuses_bin_seeding(tmp_path):
    (tmp_path / "data.csv").write_bytes(text(X, ",", NAMES))
    for cmd in (["cluster", "data.csv"], ["demo"]):
        rc, out, err = run_cli([*cmd, "--algorithm", "grid", "--bin-seeding"], tmp_path)
        assert rc == 1
        assert err == ("meanshift: error: --bin-seeding: does not apply to --algorithm "
                       "grid, which seeds from every occupied cell\n")
    rc, out, err = run_cli(["cluster", "data.csv", "--algorithm", "grid", "--min-bin-freq",
                            "3"], tmp_path)
    assert rc == 1
    assert err == ("meanshift: error: --min-bin-freq: does not apply to --algorithm "
                   "grid, which seeds from every occupied cell\n")
    rc, out, err = run_cli(["cluster", "data.csv", "--grid-resolution", "0"], tmp_path)
    assert rc == 2 and "--grid-resolution" in err
