"""
Leaving outliers out
====================

Three groups of points in uniform noise.  Seeds come from the grid cells
that hold at least ``min_bin_freq`` points, so the sparse noise seeds no
cluster of its own; with ``cluster_all=False`` a point farther than
``bandwidth`` from every center is not forced into a cluster: it gets the
label -1, drawn in grey.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_blobs

import meanshift

rng = np.random.default_rng(0)
blobs, _ = make_blobs(n_samples=3_000, centers=[[-4, 0], [3, 3], [2, -4]],
                      cluster_std=0.8, random_state=0)
noise = rng.uniform(-9, 9, size=(300, 2))
X = np.vstack([blobs, noise])

bandwidth = 1.6
model = meanshift.MeanShift(
    bandwidth=bandwidth, bin_seeding=True, min_bin_freq=20, cluster_all=False
).fit(X)
print(f"{len(model.cluster_centers_)} clusters, "
      f"{np.count_nonzero(model.labels_ == -1)} points left unclustered")

fig, ax = plt.subplots(figsize=(7.5, 5), layout="constrained")
meanshift.plot(X, model.labels_, model.cluster_centers_, ax=ax,
               bandwidth=bandwidth, title="bin seeding, cluster_all=False")
plt.show()
