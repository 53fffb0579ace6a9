"""Sample weights: their checks and their exact scaling, in one place.

Used by the estimator, meanshift.dask (chunk by chunk) and the command line
(which names the column and the row); it imports no scikit-learn, so the
command line can check a weights column before it loads the estimator.

A weight must be finite and at least 0, and not all weights 0.  Weights
within 2**-200 to 2**200 are summed as given (bit for bit); beyond, every
weight is scaled by one power of two towards 1 (exact), so that the
kernels' weighted sums neither overflow nor lose the small weights' bits to
float64's subnormal range.  Scaled, the weights span at most 2**-450 to
2**450: with coordinates up to 2**500 (see _work._range_exponent) and up to
2**40 points every weighted sum stays below 2**1000, and a weight times a
coordinate of the bandwidth's order (at least 2**-500) stays a normal
float.  Weights spanning more than 2**900 are refused.
"""

import math

import numpy as np

_SAFE = 200
_SPAN = 900


def first_bad(w):
    """``(row, what)`` of the first weight a fit refuses (NaN, infinite or
    negative), what as scikit-learn's messages say it, or None."""
    bad = np.flatnonzero(~(w >= 0) | ~np.isfinite(w))
    if not len(bad):
        return None
    i = int(bad[0])
    what = ("NaN" if np.isnan(w[i]) else "infinity" if np.isinf(w[i])
            else "negative")
    return i, what


def check_values(w, name="sample_weight"):
    """w (float64) if every weight is finite and at least 0, else the
    ValueError scikit-learn raises for it."""
    bad = first_bad(w)
    if bad is not None:
        what = bad[1]
        if what == "negative":
            raise ValueError(f"Negative values in data passed to {name}")
        if what == "infinity":
            raise ValueError(
                f"Input {name} contains infinity or a value too large for "
                "dtype('float64')."
            )
        raise ValueError(f"Input {name} contains NaN.")
    return w


def check_some_positive(w):
    if not (w > 0).any():
        raise ValueError("Sample weights must contain at least one non-zero number.")


def exponent(w):
    """j such that ``w * 2**j`` (np.ldexp: exact) is what the kernels sum
    (see the module's docstring): 0 for weights within 2**-200 to 2**200
    (the results are then those of the weights as given, bit for bit);
    beyond, the exponent that centres the positive weights' range on 1.
    Scaling every weight by one power of two changes no mean, no ranking
    and no decision; the few places where weights meet an absolute
    quantity (min_bin_freq, the bandwidth estimate's k-th weight, the total
    that tells a failed binning) compare in the unscaled units."""
    if w is None:
        return 0
    positive = w[w > 0]
    return exponent_of(float(positive.max()), float(positive.min()))


def exponent_of(wmax, wmin):
    """``exponent`` from the largest and the smallest positive weight
    (meanshift.dask learns them chunk by chunk).  A ValueError names
    sample_weight when they are more than 2**900 apart: the smallest could
    not be summed with the largest without losing it."""
    emax = math.frexp(wmax)[1]
    emin = math.frexp(wmin)[1]
    if emin >= -_SAFE and emax <= _SAFE:
        return 0
    if emax - emin > _SPAN:
        raise ValueError(
            f"sample_weight spans too wide a range: its largest positive "
            f"weight ({wmax:.6g}) is more than 2**{_SPAN} times its "
            f"smallest ({wmin:.6g}), which float64 sums would lose. Set such "
            "weights to 0, or narrow their range."
        )
    return -((emax + emin) // 2)


def scale(w):
    """(w * 2**j, j) with j = exponent(w) (w itself when j = 0)."""
    j = exponent(w)
    return (np.ldexp(w, j) if j else w), j


def ldexp_or_inf(x, j):
    """x * 2**j, inf where that overflows (a comparison with it is then the
    one the unscaled value would give)."""
    try:
        return math.ldexp(x, j)
    except OverflowError:
        return math.inf
