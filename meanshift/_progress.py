"""Running the long stages of a fit in batches: progress and Ctrl-C.

The compiled kernels hold no GIL and check no signals.  The stages whose
cost grows fastest (the climb of every seed, the k-th neighbour distances
behind the bandwidth estimate) are therefore run in batches: a call of the
kernel begins no new seed (or block of rows) after a time budget, finishes
what it began and returns where it stopped.  Between two calls Python runs:
a pending Ctrl-C raises KeyboardInterrupt there, and progress is reported.
A batch computes exactly what one whole call would compute for its rows,
so results do not depend on batching; the threads only wait for each other
once per batch.
"""

import sys
import time
from numbers import Integral

__all__ = ["in_batches", "reporter"]

# The time left extrapolates the rate so far, so a line says it only once
# that rate rests on this much time (what a stage costs once, waking the
# threads or a cluster's first round trips, is then not most of what was
# measured) and this share of the work (a Dask climb counts the seeds that
# have stopped: few in its first iterations, most later; a handful of them
# says nothing of the rest)...
ESTIMATE_SECONDS = 1.0
ESTIMATE_SHARE = 0.1
# ...or on this much time, however little is done: a stage of slow rows,
# whose order of magnitude (hours, not minutes) is worth saying
ESTIMATE_ANYWAY_SECONDS = 10.0

# seconds after which a kernel call begins no new work: with the time to
# finish what it began, the Ctrl-C latency
BATCH_SECONDS = 0.1
# the first call runs on one thread for this long: small problems end
# there, without waking the other threads (which costs up to a scheduler
# time slice when the machine is busy)
SERIAL_SECONDS = 0.001


def in_batches(total, run, n_threads, report=None, stage=""):
    """Call ``stop = run(start, seconds, threads)`` until ``stop == total``.

    ``run`` does the rows from ``start`` on with ``threads`` threads,
    beginning none after ``seconds``, and returns one past the last row it
    did.  The first call is on one thread, briefly; the others on
    ``n_threads``.  ``report``, if given, is called as
    ``report(stage, done, total, elapsed)`` after each call.
    """
    t_start = time.perf_counter()
    done = 0
    threads, seconds = 1, SERIAL_SECONDS
    while done < total:
        stop = run(done, seconds, threads)
        threads, seconds = n_threads, BATCH_SECONDS
        if not done < stop <= total:  # pragma: no cover - a kernel bug
            raise RuntimeError(f"batch from {done} stopped at {stop} of {total}")
        done = stop
        if report is not None:
            report(stage, done, total, time.perf_counter() - t_start)


_UNITS = {"bandwidth": "points", "steps": "seeds", "climb": "seeds", "labels": "points"}
_NAMES = {
    "bandwidth": "estimating bandwidth",
    "steps": "first steps of the grid's seeds",
    "climb": "climbing",
    "labels": "following points to their modes",
}


def _worth_extrapolating(done, total, elapsed):
    """Whether the rate of ``done`` in ``elapsed`` seconds says the time
    left (ESTIMATE_SECONDS, ESTIMATE_SHARE, ESTIMATE_ANYWAY_SECONDS)."""
    if not 0 < done < total:
        return False
    if elapsed >= ESTIMATE_ANYWAY_SECONDS:
        return True
    return elapsed >= ESTIMATE_SECONDS and done >= ESTIMATE_SHARE * total


def _duration(seconds):
    """'12 s', '4 min', '2.5 h': a rough time left, at the rate so far."""
    if seconds < 90:
        return f"{max(round(seconds), 1)} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


class _StderrReporter:
    """One status line on stderr, rewritten in place on a terminal, else a
    line at most every few seconds; the last one always.  Before the last,
    the line ends with the time left at the rate so far, once that rate is
    worth extrapolating (_worth_extrapolating)."""

    def __init__(self, stream=None):
        self.stream = stream
        self.last = 0.0

    def __call__(self, stage, done, total, elapsed):
        stream = self.stream if self.stream is not None else sys.stderr
        tty = bool(getattr(stream, "isatty", lambda: False)())
        last = done >= total
        now = time.perf_counter()
        if not last and (
            elapsed < 0.25 or now - self.last < (0.2 if tty else 2.0)
        ):
            return
        self.last = now
        unit = _UNITS.get(stage, "rows")
        rate = done / elapsed if elapsed > 0 else float("inf")
        line = (
            f"meanshift: {_NAMES.get(stage, stage)} {done:,}/{total:,} {unit} "
            f"({100 * done / max(total, 1):.0f}%) {elapsed:.1f} s, "
            f"{rate:,.0f} {unit}/s"
        )
        if _worth_extrapolating(done, total, elapsed):
            line += f", about {_duration((total - done) / rate)} left"
        if tty:
            stream.write("\r" + line + ("\n" if last else "\x1b[K"))
        else:
            stream.write(line + "\n")
        stream.flush()


def reporter(verbose):
    """The progress callback for a ``verbose`` parameter: None for
    False/0, a stderr status line for True or a positive int, the
    callable itself (called as ``verbose(stage, done, total, elapsed)``)."""
    if callable(verbose):
        return verbose
    if isinstance(verbose, Integral) and verbose > 0:
        return _StderrReporter()
    return None
