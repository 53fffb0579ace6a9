"""The approximate grid mode against the exact mode: agreement and speed.

    python benchmarks/grid_agreement.py [--quick] [--big]

For each case: the exact fit (every point a seed, attractor labels), the
grid mode at grid_resolution 2, 3 (the default) and 4 (attractor labels),
and the exact mode with bin seeding (the cost the grid mode is meant to
match).  Agreement is the adjusted Rand index of the grid's labels against
the exact fit's; "exact vs itself" is the exact fit on the data jittered
by 1e-6 of the bandwidth against the exact fit: where that is below 1, the
exact answer itself hangs on rounding and no approximation can agree
better.  ``--big`` adds the grid mode alone on 1M and 10M blobs and on the
whole china.jpg image (the exact fit there takes minutes to hours).
Timings are wall seconds on this machine, all threads, one run each: read
them as ratios.
"""

import argparse
import time
import warnings

import numpy as np

# the data sets, shared with compare.py and the asv suite (this folder is on
# sys.path when the script runs: ``python benchmarks/grid_agreement.py``)
from datasets import bin_blobs, circles, image, moons
from sklearn.metrics import adjusted_rand_score

from meanshift import MeanShift

RESOLUTIONS = (2.0, 3.0, 4.0)


def cases(quick):
    n = 50_000 if quick else 200_000
    step = 4 if quick else 2
    yield f"blobs {n // 1000}k x 2", bin_blobs(n, 2), 1.5
    yield f"blobs {n // 1000}k x 3", bin_blobs(n, 3), 2.0
    yield f"blobs {n // 1000}k x 5", bin_blobs(n, 5), 3.0
    X = image(step)
    yield f"china.jpg {len(X) // 1000}k x 5 (colour, position)", X, 0.25
    X = image(step, colour_only=True)
    yield f"china.jpg {len(X) // 1000}k x 3 (colour)", X, 0.1
    yield "two moons 20k", moons(20_000), 0.2
    yield "circles 20k", circles(20_000), 0.2


def timed(model, X):
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    return model, time.perf_counter() - t


def agreement(quick):
    head = ["data", "bw", "exact (s)", "exact clusters", "exact vs itself",
            "bin seeding (s)"]
    head += [f"grid k={k:g}: s / clusters / ARI" for k in RESOLUTIONS]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, X, bw in cases(quick):
        exact, t_exact = timed(MeanShift(bandwidth=bw, label_by="attractor"), X)
        jitter = np.random.default_rng(0).uniform(-1, 1, X.shape) * 1e-6 * bw
        again, _ = timed(MeanShift(bandwidth=bw, label_by="attractor"), X + jitter)
        _, t_bins = timed(MeanShift(bandwidth=bw, bin_seeding=True), X)
        row = [name, f"{bw:g}", f"{t_exact:.2f}", str(len(exact.cluster_centers_)),
               f"{adjusted_rand_score(exact.labels_, again.labels_):.3f}",
               f"{t_bins:.3f}"]
        for k in RESOLUTIONS:
            grid, t = timed(MeanShift(bandwidth=bw, label_by="attractor",
                                      algorithm="grid", grid_resolution=k), X)
            row.append(f"{t:.3f} / {len(grid.cluster_centers_)} / "
                       f"{adjusted_rand_score(exact.labels_, grid.labels_):.3f}")
        print("| " + " | ".join(row) + " |", flush=True)


def big():
    print("\n| data | bw | grid k=3 (s) | clusters | bin seeding (s) |")
    print("|---|---|---|---|---|")
    for name, X, bw in [("blobs 1M x 2", bin_blobs(1_000_000, 2), 1.5),
                        ("blobs 10M x 2", bin_blobs(10_000_000, 2), 1.5),
                        ("china.jpg 273k x 5", image(1), 0.25)]:
        grid, t = timed(MeanShift(bandwidth=bw, label_by="attractor", algorithm="grid"), X)
        _, t_bins = timed(MeanShift(bandwidth=bw, bin_seeding=True), X)
        print(f"| {name} | {bw:g} | {t:.3f} | {len(grid.cluster_centers_)} | "
              f"{t_bins:.3f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data")
    parser.add_argument("--big", action="store_true",
                        help="also the grid mode alone on 1M, 10M and the whole image")
    args = parser.parse_args()
    agreement(args.quick)
    if args.big:
        big()


if __name__ == "__main__":
    main()
