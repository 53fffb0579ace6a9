"""Cluster 100,000 points with meanshift, then run scikit-learn's mean shift
and meanshift side by side on 2,000 of them.

    python examples/quickstart.py
"""

import time

import numpy as np
from sklearn.cluster import MeanShift as SkMeanShift
from sklearn.datasets import make_blobs

import meanshift

X, _ = make_blobs(n_samples=100_000, n_features=2, centers=8, cluster_std=1.0, random_state=1)

t0 = time.perf_counter()
bandwidth = 1.5  # or meanshift.estimate_bandwidth(X, quantile=..., n_samples=...)
model = meanshift.MeanShift(bandwidth=bandwidth, bin_seeding=True).fit(X)
elapsed = time.perf_counter() - t0

print(f"meanshift {meanshift.__version__}: {len(X):,} points, bandwidth {bandwidth:.3f}")
print(f"{len(model.cluster_centers_)} clusters in {elapsed * 1000:.0f} ms")
sizes = np.bincount(model.labels_)
for k, (center, size) in enumerate(zip(model.cluster_centers_, sizes)):
    print(f"  cluster {k}: {size:6d} points around ({center[0]:7.3f}, {center[1]:7.3f})")

# the same algorithm in scikit-learn, every point a seed, on 2,000 points
Xs = X[:2000]
t0 = time.perf_counter()
ours = meanshift.MeanShift(bandwidth=bandwidth).fit(Xs)
t_ours = time.perf_counter() - t0
t0 = time.perf_counter()
ref = SkMeanShift(bandwidth=bandwidth).fit(Xs)
t_ref = time.perf_counter() - t0
same = (
    np.array_equal(ours.labels_, ref.labels_)
    and np.allclose(ours.cluster_centers_, ref.cluster_centers_, atol=1e-3 * bandwidth)
)
print(
    f"2,000 points, all as seeds: scikit-learn {t_ref:.2f} s, meanshift {t_ours * 1000:.1f} ms "
    f"({t_ref / t_ours:.0f}x), same clustering: {same}"
)
