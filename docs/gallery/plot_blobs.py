"""
Clustering blobs
================

Five groups of points, no number of clusters given: the bandwidth is
estimated from the data, and every point is a seed.  :func:`meanshift.plot`
draws the points by cluster, the centers, and a circle of radius
``bandwidth`` around each center.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import make_blobs

import meanshift

X, _ = make_blobs(
    n_samples=5_000,
    centers=[[0, 0], [5, 5], [-4, 6], [6, -3], [-5, -4]],
    cluster_std=1.2,
    random_state=0,
)
bandwidth = meanshift.estimate_bandwidth(X, quantile=0.2, n_samples=1_000)
model = meanshift.MeanShift(bandwidth=bandwidth).fit(X)
print(f"bandwidth {bandwidth:.3f}: {len(model.cluster_centers_)} clusters")

fig, ax = plt.subplots(figsize=(7.5, 5), layout="constrained")
meanshift.plot(X, model.labels_, model.cluster_centers_, ax=ax,
               bandwidth=bandwidth, title="MeanShift, estimated bandwidth")
plt.show()
