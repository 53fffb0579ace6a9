"""Progress reporting, and Ctrl-C during a long fit."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import make_blobs
from sklearn.utils._param_validation import InvalidParameterError

from meanshift import MeanShift, estimate_bandwidth, mean_shift

X, _ = make_blobs(n_samples=3000, centers=4, cluster_std=1.0, random_state=0)


def _recorder():
    calls = []

    def report(stage, done, total, elapsed):
        calls.append((stage, done, total, elapsed))

    return calls, report


def _check_reports(calls, stage, total):
    mine = [c for c in calls if c[0] == stage]
    assert mine, f"no report for {stage}"
    done = [c[1] for c in mine]
    assert done == sorted(done) and len(set(done)) == len(done)  # increasing
    assert done[0] > 0 and done[-1] == total
    assert all(c[2] == total for c in mine)
    elapsed = [c[3] for c in mine]
    assert elapsed == sorted(elapsed) and elapsed[0] >= 0


def test_callback_sees_every_stage_to_the_end():
    calls, report = _recorder()
    model = MeanShift(verbose=report).fit(X)
    _check_reports(calls, "bandwidth", len(X))
    _check_reports(calls, "climb", len(X))
    stages = [c[0] for c in calls]
    assert stages.index("climb") > max(
        i for i, s in enumerate(stages) if s == "bandwidth"
    )
    # and the result is the one without reporting
    ref = MeanShift().fit(X)
    assert_array_equal(model.cluster_centers_, ref.cluster_centers_)
    assert_array_equal(model.labels_, ref.labels_)


def test_callback_counts_bin_seeds():
    calls, report = _recorder()
    model = MeanShift(bandwidth=2.0, bin_seeding=True, verbose=report).fit(X)
    n_seeds = calls[-1][2]
    assert 0 < n_seeds < len(X)
    assert [c[0] for c in calls] == ["climb"] * len(calls)  # bandwidth given
    ref = MeanShift(bandwidth=2.0, bin_seeding=True).fit(X)
    assert_array_equal(model.cluster_centers_, ref.cluster_centers_)


def test_estimate_bandwidth_reports():
    calls, report = _recorder()
    bw = estimate_bandwidth(X, quantile=0.2, verbose=report)
    _check_reports(calls, "bandwidth", len(X))
    assert bw == estimate_bandwidth(X, quantile=0.2)


def test_verbose_true_writes_a_status_line_to_stderr(capsys):
    centers, labels = mean_shift(X, bandwidth=2.0, verbose=True)
    out, err = capsys.readouterr()
    assert out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("meanshift: climbing 3,000/3,000 seeds (100%)")
    assert "seeds/s" in last
    assert_array_equal(centers, mean_shift(X, bandwidth=2.0)[0])


def test_status_line_says_the_time_left():
    import io

    from meanshift._progress import _StderrReporter

    stream = io.StringIO()
    report = _StderrReporter(stream)
    report("climb", 250, 1000, 1.0)  # 250 seeds/s: 750 left take 3 s
    report.last = 0.0  # as if the last line were long ago
    report("bandwidth", 100, 1000, 20.0)  # 5 points/s: 900 left take 3 min
    report.last = 0.0
    report("climb", 1, 10_000, 10.0)  # 99,990 s: 27.8 h
    report("climb", 1000, 1000, 4.0)  # the last line: nothing left
    lines = stream.getvalue().splitlines()
    assert lines[0] == (
        "meanshift: climbing 250/1,000 seeds (25%) 1.0 s, 250 seeds/s, about 3 s left"
    )
    assert lines[1].endswith("5 points/s, about 3 min left"), lines[1]
    assert lines[2].endswith("seeds/s, about 27.8 h left"), lines[2]
    assert lines[3] == "meanshift: climbing 1,000/1,000 seeds (100%) 4.0 s, 250 seeds/s"


def test_no_time_left_before_a_rate_worth_extrapolating():
    """The time left extrapolates the rate so far: none before a second
    has passed and a tenth of the work is done (here 3 of 20,000 seeds in
    0.4 s, which would say 44 min for a climb of seconds), unless the
    stage has run ten seconds, when an order of magnitude is worth it."""
    import io

    from meanshift._progress import _StderrReporter

    stream = io.StringIO()
    report = _StderrReporter(stream)
    for done, elapsed in [(3, 0.4),          # little done, early
                          (1_500, 2.0),      # 7.5%: too little done
                          (15_000, 0.9),     # most done, under a second
                          (2_000, 1.0),      # a tenth in a second: a rate
                          (20, 10.0)]:       # little done, but ten seconds
        report.last = 0.0  # as if the last line were long ago
        report("climb", done, 20_000, elapsed)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 5
    assert [line.endswith(" left") for line in lines] == [False] * 3 + [True] * 2
    assert lines[0] == "meanshift: climbing 3/20,000 seeds (0%) 0.4 s, 8 seeds/s"
    assert lines[3].endswith("2,000 seeds/s, about 9 s left"), lines[3]
    assert lines[4].endswith("2 seeds/s, about 2.8 h left"), lines[4]


def test_quiet_by_default(capsys):
    MeanShift().fit(X)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("verbose", [-1, 1.5, "yes", [1]])
def test_bad_verbose(verbose):
    with pytest.raises(InvalidParameterError, match="'verbose' parameter"):
        MeanShift(verbose=verbose).fit(X)
    with pytest.raises(InvalidParameterError, match="'verbose' parameter"):
        estimate_bandwidth(X, verbose=verbose)


def test_callback_errors_propagate_and_the_next_fit_works():
    class Stop(Exception):
        pass

    def report(stage, done, total, elapsed):
        raise Stop

    ref = MeanShift(bandwidth=2.0).fit(X)
    with pytest.raises(Stop):
        MeanShift(bandwidth=2.0, verbose=report).fit(X)
    model = MeanShift(bandwidth=2.0).fit(X)
    assert_array_equal(model.cluster_centers_, ref.cluster_centers_)
    assert_array_equal(model.labels_, ref.labels_)


# ---------------------------------------------------------------------------
# Ctrl-C
# ---------------------------------------------------------------------------

def _sigint_by_default():
    """In the child, before it starts Python: SIGINT back to its default.

    A process started with SIGINT ignored (a background job of a shell
    script, some CI runners) passes SIG_IGN on to its children, and Python
    then installs no KeyboardInterrupt handler: the SIGINT the tests send
    would be ignored and the child would run to its end.  These tests are
    about what Ctrl-C does, so the child gets the disposition of a
    terminal's foreground process whatever the test run inherited."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# A fit of many seconds on any machine; it reports its progress, and says
# "started" once the given stage has begun.
_CHILD = textwrap.dedent(
    """
    import gc, sys
    import numpy as np
    import meanshift

    stage_wanted = sys.argv[1]

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    def trim_heap():
        # glibc keeps freed memory in its arenas (the kernel threads' too,
        # some MB): handed back, the resident size counts what is still held
        import ctypes, ctypes.util
        try:
            ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)
        except (OSError, AttributeError, TypeError):  # not glibc
            pass

    X = np.random.default_rng(0).normal(size=(400_000, 6))
    progress = []

    def report(stage, done, total, elapsed):
        progress.append((stage, done, total))
        if stage == stage_wanted and sum(p[0] == stage for p in progress) == 1:
            print("started", flush=True)

    meanshift.MeanShift  # the public names import scikit-learn on first use
    gc.collect()
    trim_heap()
    before = rss()
    try:
        meanshift.MeanShift(
            bandwidth=None if stage_wanted == "bandwidth" else 1.5,
            verbose=report,
        ).fit(X)
        print("finished", flush=True)
    except KeyboardInterrupt:
        pass
    else:
        sys.exit(0)
    # out of the handler, the traceback and the fit's frames are gone
    stage, done, total = progress[-1]
    gc.collect()
    trim_heap()
    grown = rss() - before
    print(f"interrupted {stage} {done} {total} {grown}", flush=True)
    # the process is still usable
    centers, labels = meanshift.mean_shift(
        [[0.0, 0.0], [0.0, 1.0], [10.0, 10.0]], bandwidth=2.0
    )
    print("after", len(centers), labels.tolist(), flush=True)
    """
)


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
@pytest.mark.parametrize("stage", ["climb", "bandwidth"])
@pytest.mark.slow
def test_sigint_interrupts_a_long_fit(stage, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, stage],
        cwd=tmp_path,  # not the source tree
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_sigint_by_default,
    )
    try:
        assert proc.stdout.readline().strip() == "started"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)  # a hang guard, not a timing
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("interrupted "), out
    _, got_stage, done, total, grown = lines[0].split()
    # stopped in the stage it was in, long before its end
    assert got_stage == stage
    assert int(done) < int(total) / 2
    # what the fit held (a 19 MB copy of X in the tree, its nodes, the
    # results so far) was freed
    assert int(grown) < 8 * 2**20
    assert lines[1] == "after 2 [0, 0, 1]"


@pytest.mark.slow
def test_sigint_stops_the_command_without_output(tmp_path):
    X = np.random.default_rng(0).normal(size=(400_000, 6))
    np.save(tmp_path / "big.npy", X)
    proc = subprocess.Popen(
        [sys.executable, "-m", "meanshift", "cluster", "big.npy", "--bandwidth", "1.5",
         "--progress", "--labels", "labels.csv", "--centers", "centers.npy"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_sigint_by_default,
    )
    try:
        seen = []
        for line in proc.stderr:  # progress lines, until the climb has begun
            seen.append(line)
            if line.startswith("meanshift: climbing"):
                break
        assert seen and seen[-1].startswith("meanshift: climbing"), seen
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)  # a hang guard, not a timing
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert out == ""
    assert err.strip().splitlines()[-1] == "meanshift: interrupted"
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.npy"]
