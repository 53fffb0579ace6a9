"""
The bandwidth decides the clusters
==================================

Mean shift is told a distance, not a number of clusters.  A small bandwidth
sees every small bump of density as a peak; a large one merges neighbouring
groups.  The same data with four bandwidths, each fit seeded from a grid of
cells (``bin_seeding=True``).
"""

import matplotlib.pyplot as plt
from sklearn.datasets import make_blobs

import meanshift

X, _ = make_blobs(n_samples=4_000, centers=6, cluster_std=1.0, random_state=3)

fig, axes = plt.subplots(2, 2, figsize=(9, 8), layout="constrained")
for ax, bandwidth in zip(axes.flat, [0.6, 1.2, 2.5, 6.0], strict=True):
    model = meanshift.MeanShift(bandwidth=bandwidth, bin_seeding=True).fit(X)
    n = len(model.cluster_centers_)
    meanshift.plot(X, model.labels_, model.cluster_centers_, ax=ax,
                   bandwidth=bandwidth, title=f"bandwidth {bandwidth}: {n} clusters")
    print(f"bandwidth {bandwidth}: {n} clusters")
plt.show()
