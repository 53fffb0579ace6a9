"""The tests' specifications: what meanshift's results are checked against.

* ``specs.exact``: exact (integer and rational) arithmetic, the referee
  where scikit-learn's own rounding is noisy (matrix-product distances,
  float32 means): exact_bandwidth, exact_mean_shift, referee_mean_shift...
* ``specs.reference``: a plain numpy reference of the features scikit-learn
  lacks (sample weights, kernels, attractor labels), from their definitions.
* ``specs.oracle``: oracle_context (scikit-learn run single-threaded) and
  assert_bitwise_same (two fits identical bit for bit).

pyproject.toml's ``[tool.pytest.ini_options] pythonpath`` puts
``tests/helpers`` (this package and nothing else: never a ``meanshift``)
on ``sys.path``, so the tests import these as ordinary modules
(``from specs.exact import ...``, ``from specs import reference``).
"""
