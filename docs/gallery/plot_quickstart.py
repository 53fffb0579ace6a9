"""
Quick start: 100,000 points, and scikit-learn side by side
==========================================================

:class:`meanshift.MeanShift` is used as :class:`sklearn.cluster.MeanShift`
is: the same parameters, attributes and results.  This example clusters
100,000 points seeded from a grid of cells (``bin_seeding=True``), then
runs scikit-learn's mean shift and meanshift on 500 of them with every
point a seed, and checks that they find the same clustering.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import MeanShift as SkMeanShift
from sklearn.datasets import make_blobs

import meanshift

X, _ = make_blobs(n_samples=100_000, n_features=2, centers=8, cluster_std=1.0,
                  random_state=1)

# %%
# 100,000 points
# --------------
#
# The bandwidth is given here; :func:`meanshift.estimate_bandwidth` estimates
# one from the data (``quantile`` and ``n_samples`` as in scikit-learn).

t0 = time.perf_counter()
bandwidth = 1.5
model = meanshift.MeanShift(bandwidth=bandwidth, bin_seeding=True).fit(X)
elapsed = time.perf_counter() - t0

fig, ax = plt.subplots(figsize=(7.5, 5), layout="constrained")
meanshift.plot(X, model.labels_, model.cluster_centers_, ax=ax, bandwidth=bandwidth,
               title=f"{len(X):,} points, bin seeding")

print(f"meanshift {meanshift.__version__}: {len(X):,} points, bandwidth {bandwidth:.3f}")
print(f"{len(model.cluster_centers_)} clusters in {elapsed * 1000:.0f} ms")
sizes = np.bincount(model.labels_)
for k, (center, size) in enumerate(zip(model.cluster_centers_, sizes, strict=True)):
    print(f"  cluster {k}: {size:6d} points around ({center[0]:7.3f}, {center[1]:7.3f})")

# %%
# The same algorithm in scikit-learn
# ----------------------------------
#
# Every point a seed, on 500 of the points: scikit-learn climbs seed by seed
# in Python and takes seconds even here.

Xs = X[:500]
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
    f"{len(Xs):,} points, all as seeds: scikit-learn {t_ref:.2f} s, "
    f"meanshift {t_ours * 1000:.1f} ms ({t_ref / t_ours:.0f}x), same clustering: {same}"
)
plt.show()
