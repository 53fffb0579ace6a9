"""
More than two features: handwritten digits
==========================================

The 1,797 digits of :func:`sklearn.datasets.load_digits` (64 features each),
standardised.  With more than two features :func:`meanshift.plot` projects
the points onto their first two principal components; the clusters were
found in all 64 dimensions.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

import meanshift

digits = load_digits()
X = StandardScaler().fit_transform(digits.data)
model = meanshift.MeanShift(bandwidth=9.4).fit(X)
print(f"{len(model.cluster_centers_)} clusters; adjusted Rand index against "
      f"the true digits: {adjusted_rand_score(digits.target, model.labels_):.2f}")

fig, ax = plt.subplots(figsize=(7.5, 5), layout="constrained")
meanshift.plot(X, model.labels_, model.cluster_centers_, ax=ax,
               title="digits, 64 features, first two principal components")
plt.show()
