"""Where a fit's time goes, stage by stage (for tools/scaling.py).

The fit and predict call ``mark(stage)`` as each of their stages ends;
nothing is recorded unless a ``Recorder`` is active (then each stage gets
its wall time and the time spent in the compiled kernels' parallel regions
meanwhile: the rest is the stage's serial work)."""

import time

_active = None


def _parallel_seconds():
    from . import _region

    return _region.parallel_seconds()


class Recorder:
    """``with Recorder() as r: model.fit(X)``; then ``r.stages``: stage ->
    (wall seconds, seconds in parallel regions), in the order they ran."""

    def __enter__(self):
        global _active
        self._outer = _active
        _active = self
        self.stages = {}
        self._wall = time.perf_counter()
        self._par = _parallel_seconds()
        return self

    def __exit__(self, *exc):
        global _active
        _active = self._outer
        return False

    def mark(self, stage):
        wall, par = time.perf_counter(), _parallel_seconds()
        w, p = self.stages.get(stage, (0.0, 0.0))
        self.stages[stage] = (w + wall - self._wall, p + par - self._par)
        self._wall, self._par = wall, par


def mark(stage):
    """The stage that just ended (a no-op unless a Recorder is active)."""
    if _active is not None:
        _active.mark(stage)
