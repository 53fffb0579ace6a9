"""The named choices of meanshift's parameters, in one place.

Imported by the estimator, meanshift.dask, the command line (for its
--help, without importing scikit-learn) and the compiled kernels (a
kernel's code is its position here, the order of the KERNEL_* codes in
_kernels.pxd).
"""

KERNELS = ("flat", "epanechnikov", "gaussian")
LABEL_BY = ("nearest", "attractor")
ALGORITHMS = ("exact", "grid")
