"""Exact arithmetic: the referee where scikit-learn's arithmetic is noisy.

scikit-learn is the oracle where its arithmetic is exact or at least
deterministic (its trees sum squared differences coordinate by coordinate,
as meanshift does).  Where it is not (distances through a matrix product,
|x|^2 - 2 x.y + |y|^2, whose rounding depends on the BLAS kernel; means of
float32 points summed in float32), a test must not require meanshift to
reproduce that rounding.  The functions below compute the exact answer
instead, in integer and rational arithmetic (every float is an integer
times a power of two), so that a verdict never depends on the machine.
"""

import math
import warnings
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import sklearn.cluster as skc
from sklearn.utils import check_array

import meanshift

EPS64 = np.finfo(np.float64).eps


def as_scaled_integers(*arrays):
    """Float arrays as Python-int object arrays over one common denominator:
    ``arrays[i] == ints[i] / den`` exactly (``den`` a power of two)."""
    flat = [np.asarray(a, dtype=np.float64) for a in arrays]
    ratios = [[x.as_integer_ratio() for x in a.ravel().tolist()] for a in flat]
    den = max([d for r in ratios for _, d in r], default=1)
    out = []
    for a, r in zip(flat, ratios, strict=True):
        ints = np.empty(len(r), dtype=object)
        ints[:] = [num * (den // d) for num, d in r]
        out.append(ints.reshape(a.shape))
    return out, den


def exact_bandwidth(X, quantile=0.3):
    """scikit-learn's estimate_bandwidth of X (already subsampled) without
    rounding: the mean over the points of the distance to their k-th
    nearest neighbour (the point itself counting as the first), k =
    max(1, int(n * quantile)).  Squared distances are exact integers; each
    square root is taken to 100 bits, so the result (a Fraction) is exact
    to far below a float64 ulp."""
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    k = max(1, int(n * quantile))
    (Xi,), den = as_scaled_integers(X)
    d2 = np.empty((n, n), dtype=object)
    for i in range(n):  # row by row: n * n * d Python integers at most
        diff = Xi - Xi[i]
        d2[i] = (diff * diff).sum(axis=1)
    kth = np.sort(d2, axis=1)[:, k - 1]
    bits = 100
    total = sum(math.isqrt(int(v) << (2 * bits)) for v in kth)
    return Fraction(total, (1 << bits) * den * n)


def sklearn_estimate_uses_gemm(n_samples, n_features, quantile=0.3):
    """Whether scikit-learn's estimate_bandwidth takes its brute-force
    neighbours (distances through a matrix product) rather than a tree:
    NearestNeighbors' 'auto' rule for more than 15 features or
    n_neighbors >= n_samples // 2."""
    k = max(1, int(n_samples * quantile))
    return n_features > 15 or k >= n_samples // 2


def assert_at_least_as_close(ours, ref, exact, ulps=4, what="value"):
    """|ours - exact| <= |ref - exact| + slack: meanshift at least as close
    to the exact value as scikit-learn, up to a slack of a few float64 ulps
    of the exact value (two faithful roundings of one value are equally
    good; no slack at all where the exact value is 0)."""
    exact = Fraction(exact)
    ours_err = abs(Fraction(float(ours)) - exact)
    ref_err = abs(Fraction(float(ref)) - exact)
    slack = ulps * Fraction(float(np.spacing(float(exact)))) if exact else 0
    assert ours_err <= ref_err + slack, (
        f"meanshift's {what} {float(ours)!r} is {float(ours_err):.3g} from the "
        f"exact {float(exact)!r}, scikit-learn's {float(ref)!r} only "
        f"{float(ref_err):.3g}"
    )


def canonical_labels(labels):
    """Labels renumbered by first appearance (-1, an orphan, stays -1): two
    labellings are the same partition iff their canonical forms are equal."""
    labels = np.asarray(labels)
    out = np.full(labels.shape, -1, dtype=np.intp)
    seen = {}
    for i, label in enumerate(labels.tolist()):
        if label >= 0:
            out[i] = seen.setdefault(label, len(seen))
    return out


def exact_mean_shift(X, bandwidth, seeds, max_iter=300, cluster_all=True, dtype=np.float64):
    """scikit-learn 1.9's MeanShift.fit after seeding, in exact arithmetic.

    The same steps (climb each seed: the points at distance <= bandwidth,
    their mean, stop when the shift is <= 1e-3 * bandwidth or after
    max_iter; keep one center per distinct mean with its count; sort by
    count then coordinates, descending; drop centers within bandwidth of a
    stronger one; label by the nearest center), but every mean, distance
    and comparison exact.  X and seeds are float arrays, bandwidth a
    float; ``seeds`` as the fit would use them (X, or get_bin_seeds);
    ``dtype`` the data's float type (a float32 fit rounds its means to
    float32, which widens what counts as within rounding).

    Returns a SimpleNamespace: ``centers`` (float64 array, the exact
    centers rounded), ``labels``, ``n_iter``, ``error`` (the ValueError
    message's start, or None) and ``degenerate``: the decisions whose
    exact margin is within the rounding of a float64 implementation (a
    point within rounding of the bandwidth from a mean, a shift within
    rounding of the threshold, two centers or two distances that rounding
    could order either way).  Where that list is empty, any faithful
    float64 implementation must reach exactly this clustering.
    """
    X = np.asarray(X, dtype=np.float64)
    seeds = np.asarray(seeds, dtype=np.float64)
    n, d = X.shape
    (Xi, Si), den = as_scaled_integers(X, seeds)
    bw = Fraction(float(bandwidth)) * den  # in units of 1/den
    bw2 = bw * bw
    thresh = Fraction(float(1e-3 * float(bandwidth))) * den
    thresh2 = thresh * thresh
    # Rounding a float64 implementation may commit, in units of 1/den: a
    # mean's sum of up to n terms (delta), then squared distances near the
    # bandwidth (tol_d) or shifts near the threshold (tol_c).  Generous: a
    # decision flagged here is one no float64 code is bound to get right.
    maxabs = max(float(np.abs(X).max(initial=0)), float(np.abs(seeds).max(initial=0)))
    eps = max(EPS64, float(np.finfo(dtype).eps))
    delta = Fraction(8 * (n + 2) * EPS64 * maxabs + 2 * eps * maxabs) * den
    root_d = Fraction(math.isqrt(d) + 1)
    tol_d = 4 * root_d * bw * delta + 8 * Fraction(eps) * bw2
    tol_c = 4 * root_d * thresh * delta + 8 * Fraction(eps) * thresh2
    degenerate = []

    def sq_dist(p, S, c):
        # |p - S/c|^2 * c^2, exact
        diff = p * c - S
        return (diff * diff).sum(axis=-1)

    results = []  # (exact mean as a tuple of Fractions, count, iterations)
    for s in Si:
        S, c = s.copy(), 1  # the mean S / c
        count = 0
        it = 0
        while True:
            d2 = sq_dist(Xi, S, c)
            bound = bw2 * c * c
            near = [j for j in range(n) if abs(d2[j] - bound) <= tol_d * c * c]
            if near:
                degenerate.append(f"point(s) {near} within rounding of the bandwidth")
            within = np.array([v <= bound for v in d2], dtype=bool)
            count = int(within.sum())
            if count == 0:
                break
            S_new = Xi[within].sum(axis=0)
            c_new = count
            shift2 = Fraction(int(((S_new * c - S * c_new) ** 2).sum()), (c * c_new) ** 2)
            if abs(shift2 - thresh2) <= tol_c:
                degenerate.append("a shift within rounding of the threshold")
            S, c = S_new, c_new
            if shift2 <= thresh2 or it == max_iter:
                break
            it += 1
        results.append((tuple(Fraction(int(v), c) for v in S), count, it))
    if not results:
        return SimpleNamespace(
            centers=None, labels=None, n_iter=None, degenerate=degenerate,
            error="No seed",
        )
    n_iter = max(r[2] for r in results)
    intensity = {}
    for mean, count, _ in results:
        if count:
            if mean in intensity and intensity[mean] != count:
                degenerate.append("equal means reached with different counts")
            intensity[mean] = count
    if not intensity:
        return SimpleNamespace(
            centers=None, labels=None, n_iter=n_iter, degenerate=degenerate,
            error="No point was within bandwidth",
        )
    ranked = sorted(intensity.items(), key=lambda t: (t[1], t[0]), reverse=True)
    centers = [np.array(m, dtype=object) for m, _ in ranked]
    for a in range(len(ranked)):
        for b in range(a + 1, len(ranked)):
            gap = max(abs(x - y) for x, y in zip(ranked[a][0], ranked[b][0], strict=True))
            if gap <= 4 * delta:
                degenerate.append("two distinct means within rounding of each other")
            elif (ranked[a][1] == ranked[b][1]
                  and abs(ranked[a][0][0] - ranked[b][0][0]) <= 4 * delta):
                degenerate.append("equal counts, order decided within rounding")
    unique = np.ones(len(centers), dtype=bool)
    for i, ci in enumerate(centers):
        if unique[i]:
            for j, cj in enumerate(centers):
                diff = ci - cj
                dist2 = sum(diff * diff)
                if abs(dist2 - bw2) <= tol_d:
                    degenerate.append("two centers within rounding of the bandwidth apart")
                if dist2 <= bw2:
                    unique[j] = False
            unique[i] = True
    kept = [ci for ci, u in zip(centers, unique, strict=True) if u]
    dist2 = np.array([[sum((p - ci) * (p - ci)) for ci in kept] for p in Xi], dtype=object)
    labels = np.empty(n, dtype=np.intp)
    for j in range(n):
        row = list(dist2[j])
        best = min(range(len(kept)), key=lambda i: (row[i], i))
        if any(i != best and abs(row[i] - row[best]) <= tol_d for i in range(len(kept))):
            degenerate.append(f"point {j} within rounding of equidistant from two centers")
        labels[j] = best
        if not cluster_all:
            if abs(row[best] - bw2) <= tol_d:
                degenerate.append(f"point {j} within rounding of the bandwidth from its center")
            if row[best] > bw2:
                labels[j] = -1
    centers_out = np.array([[float(v / den) for v in ci] for ci in kept], dtype=np.float64)
    return SimpleNamespace(
        centers=centers_out, labels=labels, n_iter=n_iter, degenerate=degenerate,
        error=None,
    )


def _outcome(fit):
    """A fitted estimator, an exact_mean_shift result or the exception a fit
    raised, as one SimpleNamespace(centers, labels, n_iter, error)."""
    if isinstance(fit, BaseException):
        return SimpleNamespace(centers=None, labels=None, n_iter=None, error=str(fit))
    if isinstance(fit, SimpleNamespace):
        return fit
    return SimpleNamespace(
        centers=fit.cluster_centers_, labels=fit.labels_, n_iter=fit.n_iter_, error=None
    )


def clustering_difference(fit, other, bandwidth):
    """How two clusterings differ (None if they do not): both raised, or the
    same number of centers within 1e-3 * bandwidth (the climb's own
    convergence threshold; for bandwidth 0, where every center is a point,
    up to the rounding of a mean), identical labels and n_iter_."""
    a, b = _outcome(fit), _outcome(other)
    if a.error is not None or b.error is not None:
        if a.error is not None and b.error is not None:
            return None
        return f"only one raised: {a.error or b.error}"
    if a.centers.shape != b.centers.shape:
        return f"{len(a.centers)} centers against {len(b.centers)}"
    dtype = a.centers.dtype
    if bandwidth > 0:
        # plus the rounding of a center to the result's dtype (float32
        # centers far from 0 are coarse: 0.0625 near 1e6)
        atol = 1e-3 * bandwidth + float(np.spacing(np.abs(a.centers).max().astype(dtype)))
        rtol = 0
    else:
        atol, rtol = 0, 8 * np.finfo(dtype).eps
    if not np.allclose(a.centers, b.centers, rtol=rtol, atol=atol):
        return f"centers {a.centers.tolist()} against {b.centers.tolist()}"
    if not np.array_equal(a.labels, b.labels):
        where = np.flatnonzero(a.labels != b.labels)
        return f"labels differ at {where.tolist()}: {a.labels[where]} against {b.labels[where]}"
    if a.n_iter != b.n_iter:
        return f"n_iter_ {a.n_iter} against {b.n_iter}"
    return None


def _same_partition(fit, other, bandwidth):
    """The same clusters in another order: the same partition of the points
    (orphans alike) and the same centers as a set."""
    a, b = _outcome(fit), _outcome(other)
    if a.error is not None or b.error is not None or a.centers.shape != b.centers.shape:
        return False
    if not np.array_equal(canonical_labels(a.labels), canonical_labels(b.labels)):
        return False
    order = [np.lexsort(c.T[::-1]) for c in (a.centers, b.centers)]
    atol = 1e-3 * bandwidth + float(np.spacing(np.abs(a.centers).max().astype(a.centers.dtype)))
    return np.allclose(a.centers[order[0]], b.centers[order[1]], rtol=0, atol=atol) and (
        a.n_iter == b.n_iter
    )


def referee_mean_shift(X, params, ours, ref, on_degenerate):
    """meanshift's fit (``ours``, or the ValueError it raised) where it
    differs from scikit-learn's (``ref``, likewise): meanshift must then
    reach the clustering of exact arithmetic (exact_mean_shift).  If it
    does not, and the exact run has a decision within rounding of its
    threshold, the example is degenerate: ``on_degenerate(reason)`` (a
    pytest skip, a hypothesis assume) stops the test there; otherwise the
    test fails.  With ``bandwidth=None`` the estimates are refereed first
    (meanshift's at least as close to the exact one as scikit-learn's), and
    the exact clustering uses meanshift's estimate."""
    params = dict(params)
    Xv = check_array(X)
    bandwidth = params.get("bandwidth")
    if bandwidth is None:
        ours_bw = meanshift.estimate_bandwidth(Xv, n_jobs=1)
        ref_bw = skc.estimate_bandwidth(Xv)
        assert_at_least_as_close(ours_bw, ref_bw, exact_bandwidth(Xv), what="bandwidth")
        bandwidth = float(ours_bw)
    seeds = params.get("seeds")
    if seeds is None:
        if params.get("bin_seeding", False):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                seeds = skc.get_bin_seeds(Xv, bandwidth, params.get("min_bin_freq", 1))
        else:
            seeds = Xv
    seeds = np.asarray(seeds, dtype=np.float64).reshape(-1, Xv.shape[1])
    dtype = Xv.dtype if Xv.dtype == np.float32 else np.float64
    exact = exact_mean_shift(
        Xv, bandwidth, seeds,
        max_iter=params.get("max_iter", 300),
        cluster_all=params.get("cluster_all", True),
        dtype=dtype,
    )
    against_ref = clustering_difference(ours, ref, bandwidth)
    against_exact = clustering_difference(ours, exact, bandwidth)
    if against_exact is None:
        return  # meanshift is right; scikit-learn's rounding was not
    if (
        exact.degenerate
        and all(r.startswith("equal counts") for r in exact.degenerate)
        and _same_partition(ours, exact, bandwidth)
    ):
        return  # only the order of equally strong clusters was a near-tie
    if exact.degenerate:
        on_degenerate(
            "a decision within rounding of its threshold, which no float "
            f"implementation is bound to take exactly ({exact.degenerate[0]}); "
            f"meanshift differs from scikit-learn ({against_ref}) and from "
            f"exact arithmetic ({against_exact})"
        )
        return
    raise AssertionError(
        f"meanshift differs from scikit-learn ({against_ref}) and from exact "
        f"arithmetic ({against_exact}), on an example without near-ties"
    )
