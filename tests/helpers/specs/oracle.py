"""Running scikit-learn as the oracle, and comparing two fits bit for bit."""

import warnings
from contextlib import contextmanager

from numpy.testing import assert_array_equal
from threadpoolctl import ThreadpoolController

_CONTROLLER = None


@contextmanager
def oracle_context():
    """scikit-learn single-threaded (a busy 2-core machine makes its OpenMP
    neighbour queries slow otherwise), its bin-seeding fallback warning
    ("Binning data failed", which both implementations give and which is
    tested on its own) silenced."""
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=1), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Binning data failed")
        yield


def assert_bitwise_same(a, b):
    """Two fitted estimators with the same centers (dtype and every bit),
    labels and n_iter_."""
    assert a.cluster_centers_.dtype == b.cluster_centers_.dtype
    assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert_array_equal(a.labels_, b.labels_)
    assert a.n_iter_ == b.n_iter_
