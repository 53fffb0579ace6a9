"""Fingerprints of meanshift's results on the benchmark cases.

A refactoring that must not change a bit of any result (a kernel moved to
another module, a call given keywords) is checked by running this before
and after and comparing the two outputs line by line: each case prints the
SHA-256 of its centers' and labels' bytes (and of n_iter_ / the bandwidth
where there is one).

    python tools/fingerprint.py > before.txt     # (outside the source tree's
    ...change, reinstall...                       #  folder meanshift/, e.g.
    python tools/fingerprint.py > after.txt      #  cd tools first)
    diff before.txt after.txt

    python tools/fingerprint.py --case image     # one case, e.g. under
                                                 # valgrind --tool=callgrind
    python tools/fingerprint.py --small          # smaller data: quicker,
                                                 # and for callgrind
    valgrind --tool=callgrind python tools/fingerprint.py --small \
        --case image --n-jobs 1 --repeat 5       # instructions, repeatable

The cases are the benchmark cases of benchmarks/compare.py (all points,
digits, bin seeding in 2-D and 3-D, the image, estimate_bandwidth, predict)
and the additions (the smooth kernels, sample weights, attractor labels,
cluster_all=False, float32), at a thread count given by --n-jobs (results
do not depend on it: run twice with different counts to check that too).
"""

import argparse
import hashlib
import sys

import numpy as np
from sklearn.datasets import load_digits, load_sample_image, make_blobs
from sklearn.preprocessing import StandardScaler

import meanshift


def blobs(n, d, centers=8, seed=1, std=1.0):
    return make_blobs(n_samples=n, n_features=d, centers=centers,
                      cluster_std=std, random_state=seed)[0]


def image(step):
    img = load_sample_image("china.jpg")[::step, ::step]
    h, w, _ = img.shape
    yy, xx = np.mgrid[0:h, 0:w]
    return np.column_stack([img.reshape(-1, 3) / 255.0, xx.ravel() / w, yy.ravel() / w])


def weights(n, seed=0):
    return np.random.default_rng(seed).integers(0, 5, n) / 4


def cases(small):
    """name -> function(n_jobs) returning the arrays to fingerprint (each
    makes its own data, so that one case alone runs only its own)."""
    k = 10 if small else 1

    def fit(data, w=None, **params):
        def run(n_jobs):
            X = data()
            wx = None if w is None else w(len(X))
            m = meanshift.MeanShift(n_jobs=n_jobs, **params).fit(X, sample_weight=wx)
            return [m.cluster_centers_, m.labels_, np.array([m.n_iter_, m.bandwidth_])]
        return run

    def predict(train, new, **params):
        def run(n_jobs):
            m = meanshift.MeanShift(n_jobs=n_jobs, **params).fit(train())
            return [m.predict(new())]
        return run

    def bandwidth(data):
        def run(n_jobs):
            return [np.array([meanshift.estimate_bandwidth(data(), n_jobs=n_jobs)])]
        return run

    all2 = lambda: blobs(5000 // k, 2)  # noqa: E731
    bin2 = lambda: blobs(1_000_000 // k, 2)  # noqa: E731
    bin3 = lambda: blobs(300_000 // k, 3)  # noqa: E731
    img = lambda: image(2 if small else 1)  # noqa: E731
    digits = lambda: StandardScaler().fit_transform(load_digits().data)[: 1797 // k]  # noqa: E731
    five = lambda: blobs(20_000 // k, 3, centers=5, seed=4)  # noqa: E731
    few = lambda: blobs(4000 // k, 3, centers=5, seed=4)  # noqa: E731
    f32 = lambda data: (lambda: data().astype(np.float32))  # noqa: E731
    return {
        "all-points-2d": fit(all2, bandwidth=1.5),
        "all-points-2d-f32": fit(f32(all2), bandwidth=1.5),
        "digits-64d": fit(digits),
        "bins-2d": fit(bin2, bandwidth=1.5, bin_seeding=True),
        "bins-3d": fit(bin3, bandwidth=1.5, bin_seeding=True),
        "bins-3d-f32": fit(f32(bin3), bandwidth=1.5, bin_seeding=True),
        "image": fit(img, bandwidth=0.2, bin_seeding=True),
        "estimate-bandwidth": bandwidth(lambda: blobs(20_000 // k, 3)),
        "predict": predict(lambda: bin2()[::10], lambda: blobs(1_000_000 // k, 2, seed=3),
                           bandwidth=1.5, bin_seeding=True),
        "epanechnikov-weights": fit(five, weights, bandwidth=2.5, kernel="epanechnikov",
                                    bin_seeding=True),
        "gaussian-weights": fit(five, weights, bandwidth=1.0, kernel="gaussian",
                                bin_seeding=True),
        "flat-weights-attractor": fit(few, weights, bandwidth=2.0,
                                      label_by="attractor", cluster_all=False),
        "epanechnikov-attractor-2d": fit(all2, bandwidth=2.0, kernel="epanechnikov",
                                         label_by="attractor", bin_seeding=True),
    }


def digest(arrays):
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:32]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--case", action="append", help="run only this case (repeatable)")
    p.add_argument("--small", action="store_true", help="smaller data (about 1/10)")
    p.add_argument("--n-jobs", type=int, default=None, help="threads (default: all)")
    p.add_argument("--repeat", type=int, default=1,
                   help="run each case this many times (so that, under callgrind, "
                        "the kernels' instructions outweigh the start-up's)")
    args = p.parse_args(argv)
    table = cases(args.small)
    names = args.case or list(table)
    unknown = [n for n in names if n not in table]
    if unknown:
        p.error(f"unknown case(s) {unknown}; known: {', '.join(table)}")
    for name in names:
        for _ in range(args.repeat - 1):
            table[name](args.n_jobs)
        print(f"{name:28s} {digest(table[name](args.n_jobs))}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
