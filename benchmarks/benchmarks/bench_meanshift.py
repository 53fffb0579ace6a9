"""asv benchmarks for meanshift: mean_shift, MeanShift, estimate_bandwidth.

The data sets are those of benchmarks/datasets.py (make_blobs with a fixed
seed, the pixels of china.jpg, blobs drawn on Dask workers), so every run
of a benchmark sees the same points, and the same as the scripts beside
(compare.py, grid_agreement.py, ...).  ``time_*`` benchmarks give the
wall time, ``peakmem_*`` the peak resident memory of the benchmark process
(data included), ``track_*`` a property of the result (number of clusters,
iterations, bandwidth value) so that a speed-up that changes the results is
visible in the asv history too.

Parameter combinations that would take more than ~10 s per call on the
reference machine (2-core Xeon, shared) are skipped by raising
NotImplementedError in ``setup``, which is asv's way to skip.

Run from benchmarks/ with e.g.
``asv run --python=same --quick --show-stderr`` (installed package) or
``asv run --python=same --bench AllPointsSeeds``.
"""

import contextlib
import gc
import sys
from pathlib import Path

import numpy as np

from meanshift import MeanShift, estimate_bandwidth, get_bin_seeds, mean_shift

# The data sets are defined once, in benchmarks/datasets.py, which the scripts
# beside it import too.  asv imports this suite as the package ``benchmarks``
# (benchmarks/benchmarks/) and puts nothing else on sys.path: add its parent.
_HERE = str(Path(__file__).resolve().parents[1])
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

# (the benchmarks' bodies and setups keep their text, and so their asv
# version: the names below are those the suite defined before)
from datasets import (  # noqa: E402
    DASK_UNITS,
    PREDICT_CENTERS,
    bin_blobs,
    blobs,
    blobs_rows,
)
from datasets import image as _image  # noqa: E402
from procmem import reset_peak, vm_status  # noqa: E402

# Bandwidths for make_blobs(cluster_std=1.0) data.  Low d: ~1.2*sqrt(d/2) (the
# project's 2-d target uses 1.2).  High d: two points of one unit Gaussian blob
# are ~sqrt(2d) apart, so a bandwidth below that leaves every point alone in
# its kernel (every point its own cluster); these values make each of the 8
# blobs one cluster (plus, at d <= 3, a few tiny clusters at the blob edges,
# which the flat kernel produces in scikit-learn too).
BANDWIDTH = {2: 1.2, 3: 1.5, 10: 4.5, 64: 11.0}

# Bin-seeding data: datasets.bin_blobs (centers=8, seed 1), as compare.py's.
BIN_BANDWIDTH = 1.5


class _Slow:
    """Settings for benchmarks whose single call takes seconds."""

    number = 1
    repeat = (1, 5, 30.0)
    rounds = 2
    timeout = 600


class AllPointsSeeds(_Slow):
    """mean_shift with every point as a seed (the default)."""

    params = ([1000, 5000, 20000, 50000], [2, 3, 10, 64])
    param_names = ["n_samples", "n_features"]

    # measured above ~10 s per fit on the reference machine
    too_slow = {(50000, 2), (50000, 3), (50000, 10), (50000, 64), (20000, 64)}

    def setup(self, n_samples, n_features):
        if (n_samples, n_features) in self.too_slow:
            raise NotImplementedError("takes more than ~10 s per fit")
        self.X = blobs(n_samples, n_features, random_state=0)
        self.bandwidth = BANDWIDTH[n_features]

    def time_mean_shift(self, n_samples, n_features):
        mean_shift(self.X, bandwidth=self.bandwidth)

    def peakmem_mean_shift(self, n_samples, n_features):
        mean_shift(self.X, bandwidth=self.bandwidth)

    def track_n_clusters(self, n_samples, n_features):
        return len(mean_shift(self.X, bandwidth=self.bandwidth)[0])

    track_n_clusters.unit = "clusters"

    def track_n_iter(self, n_samples, n_features):
        return MeanShift(bandwidth=self.bandwidth).fit(self.X).n_iter_

    track_n_iter.unit = "iterations"


class BinSeeding(_Slow):
    """mean_shift(bin_seeding=True) on large data."""

    params = ([10_000, 100_000, 1_000_000], [2, 3])
    param_names = ["n_samples", "n_features"]

    def setup(self, n_samples, n_features):
        self.X = blobs(n_samples, n_features, random_state=1)

    def time_mean_shift(self, n_samples, n_features):
        mean_shift(self.X, bandwidth=BIN_BANDWIDTH, bin_seeding=True)

    def peakmem_mean_shift(self, n_samples, n_features):
        mean_shift(self.X, bandwidth=BIN_BANDWIDTH, bin_seeding=True)

    def time_get_bin_seeds(self, n_samples, n_features):
        get_bin_seeds(self.X, BIN_BANDWIDTH)

    def track_n_clusters(self, n_samples, n_features):
        return len(mean_shift(self.X, bandwidth=BIN_BANDWIDTH, bin_seeding=True)[0])

    track_n_clusters.unit = "clusters"

    def track_n_seeds(self, n_samples, n_features):
        return len(get_bin_seeds(self.X, BIN_BANDWIDTH))

    track_n_seeds.unit = "seeds"


class BinSeedingFloat32(_Slow):
    """Bin seeding on float32 input (computed in float32, no upcast copy)."""

    params = [[1_000_000]]
    param_names = ["n_samples"]

    def setup(self, n_samples):
        self.X = blobs(n_samples, 2, random_state=1, dtype=np.float32)

    def time_mean_shift(self, n_samples):
        mean_shift(self.X, bandwidth=BIN_BANDWIDTH, bin_seeding=True)

    def peakmem_mean_shift(self, n_samples):
        mean_shift(self.X, bandwidth=BIN_BANDWIDTH, bin_seeding=True)

    def track_n_clusters(self, n_samples):
        return len(mean_shift(self.X, bandwidth=BIN_BANDWIDTH, bin_seeding=True)[0])

    track_n_clusters.unit = "clusters"


class BinSeedingScale:
    """compare.py's scale sweep, meanshift alone: bin seeding, d = 2,
    bandwidth 1.5, n from 10k to 1M (compare.py goes on to 10M), against
    numpy.argsort of one column of the same data (the floor: the fit sorts
    its points into cells), and the clusters found at each n."""

    params = [[10_000, 30_000, 100_000, 300_000, 1_000_000]]
    param_names = ["n_samples"]
    timeout = 300

    def setup(self, n_samples):
        self.X = bin_blobs(n_samples, 2)
        self.column = np.ascontiguousarray(self.X[:, 0])

    def time_mean_shift(self, n_samples):
        mean_shift(self.X, bandwidth=BIN_BANDWIDTH, bin_seeding=True)

    def time_argsort_floor(self, n_samples):
        np.argsort(self.column)

    def track_n_clusters(self, n_samples):
        return len(mean_shift(self.X, bandwidth=BIN_BANDWIDTH, bin_seeding=True)[0])

    track_n_clusters.unit = "clusters"


class BinSeedingMemory(_Slow):
    """compare.py's memory table: a bin-seeding fit of 1,000,000 x 2
    blobs, float64 and float32 (computed in float32).  ``peakmem_`` is
    asv's measure, the peak resident memory of the whole process (Python,
    the libraries, the data; the peak is reset after ``setup``, where
    /proc/self/clear_refs allows, so that making the data in float64 is
    left out); ``track_peak_added`` is compare.py's, the
    peak of the fit over the memory resident just before it (VmHWM reset
    through /proc/self/clear_refs, so C allocations count; the result's
    labels too), and ``track_peak_added_per_input`` that over the input's
    size.  The tracks give no value (NaN) where the peak cannot be reset
    (not Linux)."""

    params = [["float64", "float32"]]
    param_names = ["dtype"]
    n_samples = 1_000_000

    def setup(self, dtype):
        self.X = bin_blobs(self.n_samples, 2, dtype=dtype)
        # load the kernels and start the thread pool outside the measure,
        # as compare.py's subprocess does
        mean_shift(self.X[:2000].copy(), bandwidth=BIN_BANDWIDTH, bin_seeding=True)
        # and leave make_blobs' temporaries (float64, several times X) out of
        # peakmem_: the peak starts again from what is resident now
        # (getrusage's ru_maxrss follows the reset on Linux)
        gc.collect()
        with contextlib.suppress(OSError):  # not Linux: peakmem_ includes making the data
            reset_peak()

    def peakmem_mean_shift(self, dtype):
        mean_shift(self.X, bandwidth=BIN_BANDWIDTH, bin_seeding=True)

    def _added(self):
        try:
            gc.collect()
            reset_peak()
            before = vm_status()["VmRSS"]
        except OSError:
            return float("nan")  # no /proc/self/clear_refs (not Linux)
        result = mean_shift(self.X, bandwidth=BIN_BANDWIDTH, bin_seeding=True)
        added = vm_status()["VmHWM"] - before
        del result
        return added

    def track_peak_added(self, dtype):
        return self._added() / 2**20

    track_peak_added.unit = "MiB"

    def track_peak_added_per_input(self, dtype):
        return self._added() / self.X.nbytes

    track_peak_added_per_input.unit = "x input"


class EstimateBandwidth(_Slow):
    """estimate_bandwidth with its defaults (quantile=0.3, all samples)."""

    params = [[2000, 20000]]
    param_names = ["n_samples"]

    def setup(self, n_samples):
        self.X = blobs(n_samples, 3, centers=5, random_state=2)

    def time_estimate_bandwidth(self, n_samples):
        estimate_bandwidth(self.X)

    def peakmem_estimate_bandwidth(self, n_samples):
        estimate_bandwidth(self.X)

    def track_bandwidth(self, n_samples):
        return float(estimate_bandwidth(self.X))

    track_bandwidth.unit = "bandwidth"


class Predict:
    """MeanShift.predict: 1,000,000 points against 12 cluster centers (the
    12 well separated blobs of datasets.PREDICT_CENTERS, so the fit finds
    exactly 12)."""

    timeout = 300
    centers = PREDICT_CENTERS

    def setup(self):
        X_fit = blobs(20_000, 2, centers=self.centers, random_state=3)
        self.model = MeanShift(bandwidth=1.5, bin_seeding=True).fit(X_fit)
        self.X = blobs(1_000_000, 2, centers=self.centers, random_state=4)

    def time_predict(self):
        self.model.predict(self.X)

    def peakmem_predict(self):
        self.model.predict(self.X)

    def track_n_centers(self):
        return len(self.model.cluster_centers_)

    track_n_centers.unit = "clusters"


class Threads(_Slow):
    """All points as seeds, 20,000 x 2: one thread against all cores."""

    params = [[1, -1]]
    param_names = ["n_jobs"]

    def setup(self, n_jobs):
        self.X = blobs(20_000, 2, random_state=0)

    def time_mean_shift(self, n_jobs):
        mean_shift(self.X, bandwidth=BANDWIDTH[2], n_jobs=n_jobs)

    def track_n_clusters(self, n_jobs):
        return len(mean_shift(self.X, bandwidth=BANDWIDTH[2], n_jobs=n_jobs)[0])

    track_n_clusters.unit = "clusters"


class ThreadsBinSeeding(_Slow):
    """Bin seeding, 1,000,000 x 2: one thread against all cores.

    Many short parallel regions: the case where threads that spin-wait
    for a descheduled peer (a busy machine) cost the most.
    """

    params = [[1, -1]]
    param_names = ["n_jobs"]

    def setup(self, n_jobs):
        self.X = blobs(1_000_000, 2, random_state=1)

    def time_mean_shift(self, n_jobs):
        mean_shift(self.X, bandwidth=BIN_BANDWIDTH, bin_seeding=True, n_jobs=n_jobs)


class ScalingProjection(_Slow):
    """tools/scaling.py's projection: the speed-up Amdahl's law gives at 16
    and 64 threads from each stage's measured serial share (the bin-seeded
    fit of 1M x 2 and predict on 1M rows), so that a change that adds
    serial work shows in the history even on a machine with few cores."""

    params = [["bins-2d", "predict"], [16, 64]]
    param_names = ["case", "threads"]

    def setup(self, case, threads):
        import pathlib
        import sys

        tools = pathlib.Path(__file__).resolve().parents[2] / "tools"
        if not (tools / "scaling.py").exists():
            raise NotImplementedError("tools/scaling.py is not beside the benchmarks")
        sys.path.insert(0, str(tools))
        import scaling

        self.result = scaling.scaling(case, 1e6, threads=1, project=(threads,), repeat=2)

    def track_projected_speedup(self, case, threads):
        return self.result["projected"][threads]

    track_projected_speedup.unit = "x"


class KernelsAndWeights(_Slow):
    """The flat kernel with sample weights, and the smooth kernels, against
    the flat kernel on the same data (all points as seeds, and bin
    seeding)."""

    params = (["all points 5k", "bin seeding 1M"],
              ["flat", "flat weighted", "epanechnikov", "gaussian"])
    param_names = ["case", "variant"]

    def setup(self, case, variant):
        if case == "all points 5k":
            self.X = blobs(5000, 2, centers=6, random_state=0)
            self.kw = dict(bandwidth=1.2)
        else:
            self.X = blobs(1_000_000, 2, random_state=1)
            self.kw = dict(bandwidth=BIN_BANDWIDTH, bin_seeding=True)
        rng = np.random.default_rng(5)
        if variant == "flat weighted":
            self.kw["sample_weight"] = rng.uniform(0.5, 2.0, len(self.X))
        elif variant != "flat":
            self.kw["kernel"] = variant

    def time_mean_shift(self, case, variant):
        mean_shift(self.X, **self.kw)

    def track_n_clusters(self, case, variant):
        return len(mean_shift(self.X, **self.kw)[0])

    track_n_clusters.unit = "clusters"


class LabelsByAttractor(_Slow):
    """label_by='attractor' against 'nearest': free with every point a
    seed, a climb of every point with bin seeding."""

    params = (["all points 5k", "bin seeding 100k"], ["nearest", "attractor"])
    param_names = ["case", "label_by"]

    def setup(self, case, label_by):
        if case == "all points 5k":
            self.X = blobs(5000, 2, centers=6, random_state=0)
            self.kw = dict(bandwidth=1.2)
        else:
            self.X = blobs(100_000, 2, random_state=1)
            self.kw = dict(bandwidth=BIN_BANDWIDTH, bin_seeding=True)
        self.kw["label_by"] = label_by

    def time_mean_shift(self, case, label_by):
        mean_shift(self.X, **self.kw)


class ImageSegmentation(_Slow):
    """Mid-dimensional data with a wide kernel: colour and position of the
    pixels of a photograph scikit-learn ships (5 features, ~5% of the
    points within bandwidth), bin seeding."""

    params = ([2, 1],)
    param_names = ["pixel_step"]

    def setup(self, pixel_step):
        self.X = _image(pixel_step)

    def time_mean_shift(self, pixel_step):
        mean_shift(self.X, bandwidth=0.2, bin_seeding=True)

    def track_n_clusters(self, pixel_step):
        return len(mean_shift(self.X, bandwidth=0.2, bin_seeding=True)[0])

    track_n_clusters.unit = "clusters"


class GridMode(_Slow):
    """algorithm="grid" (an approximation of every point a seed, attractor
    labels): blobs 1M x 2 and the 5-D image of ImageSegmentation (bandwidth
    0.25)."""

    params = (["blobs 1M x 2", "china.jpg 5-d"], [2.0, 3.0, 4.0])
    param_names = ["case", "grid_resolution"]

    def setup(self, case, grid_resolution):
        if case == "blobs 1M x 2":
            self.X, self.bandwidth = blobs(1_000_000, 2, random_state=1), BIN_BANDWIDTH
        else:
            self.X, self.bandwidth = _image(1), 0.25

    def time_mean_shift(self, case, grid_resolution):
        _attractor_fit(self.X, self.bandwidth, algorithm="grid",
                       grid_resolution=grid_resolution)


class GridAgreement(_Slow):
    """The adjusted Rand index of the grid mode against the exact fit
    (attractor labels) where the exact fit takes seconds: the 5-D image at
    every second pixel (68k points) and blobs 200k x 2.  (A class of its
    own: asv skips a parameter only from ``setup``, and the exact fit of
    GridMode's 1M points takes minutes.)"""

    params = (["blobs 200k x 2", "china.jpg 5-d"], [2.0, 3.0, 4.0])
    param_names = ["case", "grid_resolution"]

    def setup(self, case, grid_resolution):
        if case == "blobs 200k x 2":
            self.X, self.bandwidth = blobs(200_000, 2, random_state=1), BIN_BANDWIDTH
        else:
            self.X, self.bandwidth = _image(2), 0.25

    def track_agreement(self, case, grid_resolution):
        from sklearn.metrics import adjusted_rand_score

        exact = _attractor_fit(self.X, self.bandwidth)
        grid = _attractor_fit(self.X, self.bandwidth, algorithm="grid",
                              grid_resolution=grid_resolution)
        return adjusted_rand_score(exact.labels_, grid.labels_)

    track_agreement.unit = "ARI"


def _attractor_fit(X, bandwidth, **params):
    return MeanShift(bandwidth=bandwidth, label_by="attractor", **params).fit(X)


class DaskLocalCluster(_Slow):
    """meanshift.dask: a bin-seeded fit of n x 2 blobs (the 8 centers of
    compare.py's data) on a LocalCluster of 2 worker processes, the data
    made on the workers, chunk by chunk, as a user's large data would be
    loaded there, and persisted; the labels computed and kept there.
    Against the same fit of the same points on one machine in
    ``time_one_machine``.  Skipped without dask.distributed."""

    params = ([1_000_000, 10_000_000], [2, 8, 32])
    param_names = ["n_samples", "chunks"]

    def setup(self, n_samples, chunks):
        try:
            import dask.array as da
            from distributed import Client, LocalCluster, wait
        except ImportError:
            raise NotImplementedError("dask.distributed is not installed") from None
        import meanshift.dask as md

        self.md, self.wait = md, wait
        unit = n_samples // DASK_UNITS
        size = n_samples // chunks
        assert unit * DASK_UNITS == n_samples and size % unit == 0
        rows = blobs_rows(unit)
        self.cluster = LocalCluster(n_workers=2, threads_per_worker=1,
                                    processes=True, dashboard_address=None)
        self.client = Client(self.cluster)

        def block(block_info=None):
            start, stop = block_info[None]["array-location"][0]
            return rows(start, stop)

        self.Xd = da.map_blocks(
            block, chunks=((size,) * chunks, (2,)), dtype=np.float64, meta=np.empty((0, 2))
        ).persist()
        wait(self.Xd)
        self.X = rows(0, n_samples)   # the same points, made here for one machine
        # every worker imports meanshift once, outside the timing (the small
        # fit below reads one chunk: one worker)
        self.client.run(lambda: __import__("meanshift.dask") and None)
        md.MeanShift(bandwidth=BIN_BANDWIDTH, bin_seeding=True).fit(self.Xd[:1000])

    def teardown(self, n_samples, chunks):
        self.client.close()
        self.cluster.close()

    def time_fit(self, n_samples, chunks):
        model = self.md.MeanShift(bandwidth=BIN_BANDWIDTH, bin_seeding=True).fit(self.Xd)
        self.wait(model.labels_.persist())

    def time_one_machine(self, n_samples, chunks):
        MeanShift(bandwidth=BIN_BANDWIDTH, bin_seeding=True).fit(self.X)

    def track_kilobytes_per_iteration(self, n_samples, chunks):
        model = self.md.MeanShift(bandwidth=BIN_BANDWIDTH, bin_seeding=True).fit(self.Xd)
        return float(np.mean(model.bytes_per_iteration_)) / 1e3
