#!/usr/bin/env python
"""Fuzz meanshift's public API with hypothesis, in a supervised child process.

Usage (from outside the repository root, or anywhere with the package
installed; the repository root holds the source package, which has no
compiled module, so this script removes it from sys.path)::

    python tools/fuzz.py --minutes 5                 # 5 minutes
    python tools/fuzz.py --examples 20000            # a number of examples
    python tools/fuzz.py --minutes 60 --out /tmp/fz  # longer; findings in /tmp/fz
    python tools/fuzz.py --replay /tmp/fz/exception-....json   # rerun one finding
    python tools/fuzz.py --minutes 5 --no-sklearn    # skip the parity oracle

Options: --seed N (first hypothesis seed; each batch uses the next one),
--timeout S (a single example silent for S seconds is a hang; default 60),
--batch N (examples per hypothesis run; default 300).  To check the
supervisor itself: MEANSHIFT_FUZZ_SELFTEST=crash:50 (or hang:50) makes the
50th example segfault (or hang); the run must report it and go on.

What it drives: mean_shift, MeanShift.fit / fit + predict, estimate_bandwidth
and get_bin_seeds with random inputs:

* shapes 0..200 rows, 0..40 columns (also 1-D, 3-D), as ndarray, list,
  pandas DataFrame, scipy sparse matrix or np.memmap;
* dtypes float16/32/64, int8..int64, uint8..uint64, bool, object, complex,
  str, bytes;
* layouts C, F, row/column-strided views, negative strides, read-only,
  unaligned (a view one byte into a buffer);
* values: normal, blobs, small ints, lattices with exact ties, duplicates,
  constant, huge (~1e300), tiny/subnormal, the dtype's extremes, with inf,
  nan and -0.0 sprinkled in;
* every parameter, valid and not: bandwidth (tiny, huge, inf, nan, 0, <0,
  bools, strings, numpy scalars), seeds of various shapes and dtypes,
  bin_seeding, min_bin_freq, cluster_all, max_iter (0 .. 2**80), n_jobs,
  quantile, n_samples, random_state.

The oracle, for every call: it either returns a sane result or raises
ValueError or TypeError (scikit-learn's InvalidParameterError is both) or
MemoryError.  Sane means: centers a finite 2-D array (k >= 1, d columns) in
the documented dtype and inside the bounding box of X; labels of shape (n,)
in [0, k) (or -1, only with cluster_all=False, exactly for the points
farther than bandwidth from every center); each label is a nearest center;
kept centers are more than bandwidth apart; n_iter_ <= max_iter;
predict(X) == labels_; the same results bit for bit with another n_jobs;
estimate_bandwidth a finite np.float64 in [0, diameter of X]; the caller's
arrays unmodified.  On small, ordinary inputs the results are also compared
with scikit-learn's (labels equal, centers within 1e-3 * bandwidth, same
bin seeds, same bandwidth, and an exception where scikit-learn raises one):
mismatches are "parity" findings, to be checked against the documented
differences in README.md.

Everything else is a finding: another exception type (the traceback says
where), a wrong result, a modified input, a crash (the child dies: its
faulthandler traceback and the input are kept), a hang (no progress for
--timeout seconds).  Hypothesis shrinks each new failure to a small input;
a finding's signature is then known, so the run goes on looking for other
ones.  Each finding is saved as JSON (the input spec, message, traceback,
and the command that replays it) in --out (default: a new mktemp dir; the
path is printed), never in the repository.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if __name__ == "__main__":
    # never import the source tree (no compiled module there)
    sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != REPO]

ALLOWED = (ValueError, TypeError, MemoryError)

FLOAT_DTYPES = ["float16", "float32", "float64"]
INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
ODD_DTYPES = ["bool", "object", "complex64", "complex128", "str", "bytes"]


# ---------------------------------------------------------------------------
# The input space (hypothesis strategies produce a JSON-able spec; arrays are
# made from it deterministically, so a finding replays from its spec alone)
# ---------------------------------------------------------------------------


def strategies():
    from hypothesis import strategies as st

    def weighted(*pairs):
        """one_of over (weight, strategy) pairs, by repetition."""
        out = []
        for w, s in pairs:
            out += [s] * w
        return st.one_of(*out)

    rows = weighted((6, st.integers(1, 12)), (3, st.integers(13, 60)),
                    (1, st.integers(61, 200)), (1, st.just(0)))
    cols = weighted((6, st.integers(1, 3)), (3, st.integers(4, 16)),
                    (2, st.integers(17, 40)), (1, st.just(0)))
    dtype = weighted((10, st.sampled_from(["float64", "float32"])),
                     (2, st.just("float16")), (3, st.sampled_from(INT_DTYPES)),
                     (2, st.sampled_from(ODD_DTYPES)))
    values = st.sampled_from(["normal", "normal", "blobs", "blobs", "ints",
                              "lattice", "duplicates", "constant", "huge",
                              "tiny", "subnormal", "extreme", "zeros", "mixed_scale"])
    specials = weighted((6, st.just("none")),
                        (1, st.sampled_from(["nan", "inf", "-inf", "negzero", "all"])))
    layout = weighted((6, st.just("C")),
                      (1, st.sampled_from(["F", "rows2", "cols2", "neg", "negF",
                                           "readonly", "unaligned", "broadcast"])))
    container = weighted((12, st.just("ndarray")),
                         (1, st.sampled_from(["list", "dataframe", "sparse",
                                              "memmap_r", "memmap_c", "tuple_rows"])))
    ndim = weighted((20, st.just(2)), (1, st.sampled_from([0, 1, 3])))

    def array_spec(n=rows, d=cols):
        return st.fixed_dictionaries({
            "n": n, "d": d, "ndim": ndim, "dtype": dtype, "values": values,
            "specials": specials, "layout": layout, "container": container,
            "seed": st.integers(0, 2**32 - 1),
        })

    real_param = weighted(
        (6, st.sampled_from(["rel:0.5", "rel:1", "rel:2", "rel:5", "rel:0.1", "rel:20"])),
        (2, st.floats(1e-3, 50.0)),
        (1, st.sampled_from([5e-324, 1e-310, 1e-300, 1e-150, 1e150, 1e300, 1.7e308])),
        (1, st.sampled_from(["inf", "-inf", "nan", 0, 0.0, -1.0, -0.0, "bool:True",
                             "bool:False", "str:1", "complex", "list", 1, 2, "np.float32:1.5",
                             "np.int64:2", "np.float64:0.5", "np.float16:1", 10**400])),
    )
    int_param = st.one_of(
        st.integers(0, 5), st.integers(0, 5), st.integers(0, 5),
        st.sampled_from([-1, 300, 10**6, 2**31, 2**63 - 1, 2**63, 2**80, -2**70,
                         1.5, 2.0, "3", None, "bool:True", "np.int32:2", "np.uint64:3",
                         "np.float64:2"]),
    )
    n_jobs = st.sampled_from([None, None, 1, 2, 2, -1, -2, 3, 4, 8, -100, 0, 2**31,
                              2**63, -2**63 - 1, 1.5, "2", "bool:True", "np.int64:2"])
    flag = weighted((10, st.booleans()),
                    (1, st.sampled_from([0, 1, "yes", None, "np.bool:True", "np.bool:False"])))

    seeds = st.one_of(
        st.none(), st.none(), st.none(),
        array_spec(n=weighted((4, st.integers(1, 15)), (1, st.just(0))),
                   d=st.sampled_from(["same", "same", "same", 1, 2, 5])),
    )

    common = {
        "bandwidth": st.one_of(st.none(), real_param, real_param),
        "seeds": seeds,
        "bin_seeding": flag,
        "min_bin_freq": int_param,
        "cluster_all": flag,
        "max_iter": st.one_of(st.just(300), int_param),
        "n_jobs": n_jobs,
        "recheck_threads": st.booleans(),
        "verbose": st.sampled_from(["absent", "absent", "callback", "callback", False, 0,
                                    -1, "str:yes"]),
    }
    fit = st.fixed_dictionaries({"func": st.sampled_from(["mean_shift", "fit_predict"]),
                                 "X": array_spec(), "Y": array_spec(
                                     n=st.integers(0, 30),
                                     d=st.sampled_from(["same", "same", "same", 1, 3])),
                                 **common})
    bandwidth = st.fixed_dictionaries({
        "func": st.just("estimate_bandwidth"), "X": array_spec(),
        "quantile": weighted((5, st.floats(0.0, 1.0)),
                             (1, st.sampled_from([0.0, 1.0, 1e-9, -0.1, 1.5, "nan",
                                                  "bool:True", "str:0.3", None]))),
        "n_samples": st.one_of(st.none(), st.none(), int_param),
        "random_state": st.sampled_from([0, 0, None, 1, 2**32 - 1, 2**32, -1,
                                         "rs:3", "str:x", 1.5]),
        "n_jobs": n_jobs,
        "verbose": st.sampled_from(["absent", "absent", "callback", False]),
    })
    bins = st.fixed_dictionaries({
        "func": st.just("get_bin_seeds"), "X": array_spec(),
        "bin_size": weighted((5, real_param), (1, st.sampled_from([0, 0.0, -1.0, -2.5]))),
        "min_bin_freq": int_param,
    })
    return weighted((5, fit), (2, bandwidth), (2, bins))


def decode_param(v, scale=1.0):
    """Spec value -> the object passed to the API."""
    import numpy as np

    if not isinstance(v, str):
        return v
    kind, _, arg = v.partition(":")
    if kind == "rel":
        return float(arg) * scale
    if v in ("inf", "-inf", "nan"):
        return float(v)
    if kind == "bool":
        return arg == "True"
    if kind == "str":
        return arg
    if v == "complex":
        return 1.0 + 1.0j
    if v == "list":
        return [1.0]
    if kind == "rs":
        return np.random.RandomState(int(arg))
    if kind.startswith("np."):
        t = getattr(np, kind[3:])
        return t(arg == "True") if kind == "np.bool" else t(float(arg))
    return v


def accepts(fn, name):
    import inspect

    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False


class Progress:
    """A verbose= callback that records its calls, and checks them."""

    def __init__(self):
        self.calls = []

    def __call__(self, stage, done, total, elapsed):
        self.calls.append((stage, done, total, elapsed))

    def check(self, func):
        last = {}
        for stage, done, total, elapsed in self.calls:
            prev = last.get(stage, 0)
            if stage not in ("bandwidth", "climb") or not prev < done <= total or elapsed < 0:
                fail("oracle", f"{func}|progress",
                     f"progress call ({stage!r}, {done}, {total}, {elapsed}) after done={prev}")
            last[stage] = done
        ends = {}
        for stage, done, total, _ in self.calls:
            ends[stage] = (done, total)
        for stage, (done, total) in ends.items():
            if done != total:
                fail("oracle", f"{func}|progress-incomplete",
                     f"{stage}: last report {done}/{total}")


def add_verbose(params, spec, fn):
    """Put spec's verbose into params when the installed API has it; returns
    the Progress recorder or None."""
    v = spec.get("verbose", "absent")
    if v == "absent" or not accepts(fn, "verbose"):
        return None
    if v == "callback":
        params["verbose"] = Progress()
        return params["verbose"]
    params["verbose"] = decode_param(v)
    return None


def make_values(spec, rng, shape):
    import numpy as np

    kind = spec["values"]
    n = int(np.prod(shape)) if len(shape) else 1
    dt = spec["dtype"]
    if kind == "normal":
        v = rng.normal(size=shape) * 10.0 ** rng.integers(-3, 4)
    elif kind == "blobs":
        k = int(rng.integers(1, 5))
        d = shape[-1] if len(shape) else 1
        centers = rng.normal(scale=8.0, size=(k, d))
        lead = shape[:-1] if len(shape) else ()
        pick = rng.integers(k, size=lead)
        v = centers[pick] + rng.normal(size=lead + (d,))
        v = v.reshape(shape)
    elif kind == "ints":
        v = rng.integers(-5, 6, size=shape).astype(float)
    elif kind == "lattice":
        v = rng.integers(0, 4, size=shape).astype(float) * 0.5
    elif kind == "duplicates":
        v = rng.normal(size=shape)
        if len(shape) >= 1 and shape[0] > 1:
            src = rng.integers(0, max(1, shape[0] // 3), size=shape[0])
            v = v[src]
    elif kind == "constant":
        v = np.full(shape, float(rng.normal() * 3))
    elif kind == "huge":
        v = rng.normal(size=shape) * 1e300
    elif kind == "tiny":
        v = rng.normal(size=shape) * 1e-300
    elif kind == "subnormal":
        v = rng.normal(size=shape) * 5e-320
    elif kind == "extreme":
        v = rng.choice([-1.0, 1.0], size=shape) * rng.choice([1.0, 0.5, 1e-3], size=shape)
        v = v * 1.7976931348623157e308
    elif kind == "zeros":
        v = np.zeros(shape)
    elif kind == "mixed_scale":
        v = rng.normal(size=shape) * (10.0 ** rng.integers(-200, 200, size=shape))
    else:  # pragma: no cover
        raise AssertionError(kind)
    v = np.asarray(v, dtype=np.float64)
    sp = spec["specials"]
    if sp != "none" and n:
        flat = v.reshape(-1)
        pick = rng.random(n) < 0.2
        if not pick.any():
            pick[rng.integers(n)] = True
        choices = {"nan": [np.nan], "inf": [np.inf], "-inf": [-np.inf], "negzero": [-0.0],
                   "all": [np.nan, np.inf, -np.inf, -0.0, 5e-324, 1.7976931348623157e308]}[sp]
        flat[pick] = rng.choice(choices, size=int(pick.sum()))
        v = flat.reshape(shape)
    # to the dtype
    if dt in FLOAT_DTYPES or dt.startswith("complex"):
        with np.errstate(all="ignore"):
            out = v.astype(dt)
        if dt.startswith("complex") and n:
            out = out + (1j * (rng.random(shape) < 0.3)).astype(dt)
        return out
    if dt in INT_DTYPES:
        info = np.iinfo(dt)
        with np.errstate(all="ignore"):
            w = np.nan_to_num(v, nan=0.0, posinf=info.max, neginf=info.min)
            if kind == "extreme":
                w = np.where(w > 0, info.max, info.min).astype(float)
            w = np.clip(np.rint(w), info.min, info.max)
        out = w.astype(dt)
        if kind == "extreme" and n:
            out = np.where(v > 0, info.max, info.min).astype(dt)
        return out
    if dt == "bool":
        return v > 0
    if dt == "object":
        o = np.empty(shape, dtype=object)
        flat = o.reshape(-1)
        vf = v.reshape(-1)
        for i in range(n):
            r = rng.random()
            flat[i] = (float(vf[i]) if r < 0.8
                       else (int(vf[i]) if np.isfinite(vf[i]) and abs(vf[i]) < 1e18 else None)
                       if r < 0.95 else "x")
        return o
    if dt == "str":
        return v.astype(str)
    if dt == "bytes":
        return v.astype("S8")
    raise AssertionError(dt)  # pragma: no cover


class Made:
    """An input built from a spec: the object passed, and a snapshot of
    every buffer the caller owns (to check that nothing was modified)."""

    def __init__(self, obj, owned, cleanup=None):
        self.obj = obj
        self.owned = owned          # list of (array, bytes copy)
        self.cleanup = cleanup

    def modified(self):
        return any(arr.tobytes() != snap for arr, snap in self.owned)


def make_array(spec, d_same=None, tmpdir=None):
    """Build the array-like of a spec ('same' columns take d_same)."""
    import numpy as np

    rng = np.random.default_rng(spec["seed"])
    n = spec["n"]
    d = d_same if spec["d"] == "same" else spec["d"]
    ndim = spec["ndim"]
    shape = {0: (), 1: (n,), 2: (n, d), 3: (n, d, 2)}[ndim]
    a = make_values(spec, rng, shape)
    owned = []
    layout = spec["layout"] if ndim == 2 else "C"
    if layout == "F":
        a = np.asfortranarray(a)
    elif layout == "rows2":
        big = np.repeat(a, 2, axis=0) if n else a
        a = big[::2]
        owned.append(big)
    elif layout == "cols2":
        big = np.repeat(a, 2, axis=1) if d else a
        a = big[:, ::2]
        owned.append(big)
    elif layout == "neg":
        big = np.ascontiguousarray(a[::-1, ::-1])
        a = big[::-1, ::-1]
        owned.append(big)
    elif layout == "negF":
        big = np.asfortranarray(a[::-1])
        a = big[::-1]
        owned.append(big)
    elif layout == "readonly":
        a = a.copy()
        a.flags.writeable = False
    elif layout == "unaligned" and a.dtype.kind in "fiucb" and a.dtype.itemsize > 1:
        buf = np.zeros(a.nbytes + 1, dtype=np.uint8)
        u = buf[1:].view(a.dtype).reshape(a.shape)
        u[...] = a
        a = u
        owned.append(buf)
    elif layout == "broadcast" and n:
        row = a[:1].copy()
        a = np.broadcast_to(row, a.shape)       # zero row stride, read-only
        owned.append(row)
    if isinstance(a, np.ndarray):
        owned.append(a)
    snaps = [(x, x.tobytes()) for x in owned if isinstance(x, np.ndarray) and x.dtype != object]
    obj_snap = None
    if isinstance(a, np.ndarray) and a.dtype == object:
        obj_snap = (a, repr(a.tolist()))

    container = spec["container"]
    cleanup = None
    obj = a
    if container == "list":
        obj = a.tolist()
    elif container == "tuple_rows" and ndim == 2:
        obj = tuple(tuple(r) for r in a.tolist())
    elif container == "dataframe" and ndim == 2:
        import pandas as pd

        cols = [f"f{i}" for i in range(a.shape[1])] if spec["seed"] % 2 else None
        obj = pd.DataFrame(a, columns=cols)
    elif container == "sparse" and ndim == 2 and a.dtype.kind in "fiub" and a.dtype != np.float16:
        import scipy.sparse as sp

        obj = sp.csr_matrix(a)
    elif container.startswith("memmap") and ndim >= 1 and a.dtype.kind in "fiucb" and a.size:
        fd, path = tempfile.mkstemp(dir=tmpdir, suffix=".mm")
        os.close(fd)
        m = np.memmap(path, dtype=a.dtype, mode="w+", shape=a.shape,
                      order="F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C")
        m[...] = a
        m.flush()
        del m
        mode = "r" if container == "memmap_r" else "c"
        obj = np.memmap(path, dtype=a.dtype, mode=mode, shape=a.shape,
                        order="F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C")
        snaps.append((obj, obj.tobytes()))

        def cleanup(path=path):
            os.unlink(path)
    made = Made(obj, snaps, cleanup)
    made.obj_snap = obj_snap
    made.array = a
    return made


# ---------------------------------------------------------------------------
# The oracle
# ---------------------------------------------------------------------------


class Finding(Exception):
    """A broken expectation: kind, a signature (for de-duplication) and a
    message."""

    def __init__(self, kind, signature, message):
        super().__init__(f"[{kind}] {message}")
        self.kind = kind
        self.signature = signature
        self.message = message


def fail(kind, sig, msg):
    raise Finding(kind, sig, msg)


def exc_signature(func, exc):
    """Where an unexpected exception came from: type and innermost frame in
    meanshift (or the innermost frame at all)."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = None
    for fr in reversed(tb):
        if "meanshift" in fr.filename and "tools" not in fr.filename:
            where = f"{Path(fr.filename).name}:{fr.name}"
            break
    if where is None and tb:
        where = f"{Path(tb[-1].filename).name}:{tb[-1].name}"
    msg = re.sub(r"[-+]?\d[\d.e+-]*", "N", str(exc))[:60]
    return f"{func}|{type(exc).__name__}|{where}|{msg}"


def as_float64_scaled(*arrays):
    """float64 copies scaled by one power of two so that squared distances
    neither overflow nor underflow (for checking distances)."""
    import numpy as np

    arrs = [np.asarray(a, dtype=np.float64) for a in arrays]
    amax = max([float(np.abs(a).max()) if a.size else 0.0 for a in arrs] + [0.0])
    if amax == 0.0 or not np.isfinite(amax):
        return arrs, 1.0
    s = 2.0 ** -np.frexp(amax)[1]
    return [a * s for a in arrs], s


def dists(A, B):
    """Euclidean distances between the rows of A and B (already scaled so
    that no coordinate exceeds 1), without underflow: each difference vector
    is scaled by its largest component first."""
    import numpy as np

    diff = np.abs(A[:, None, :] - B[None, :, :])
    m = diff.max(-1, initial=0.0)
    with np.errstate(all="ignore"):
        r = np.sqrt(((diff / np.where(m > 0, m, 1.0)[..., None]) ** 2).sum(-1))
    return m * r


def expected_center_dtype(xdtype):
    import numpy as np

    if xdtype == np.float32:
        return np.float32
    if xdtype == np.float16:
        return np.float16
    return np.float64


def check_fit(ctx, model, Xv, bandwidth):
    """Xv: the validated float array of X (what the estimator clustered)."""
    import numpy as np

    C = model.cluster_centers_
    L = model.labels_
    n, d = Xv.shape
    f = ctx["func"]
    if not isinstance(C, np.ndarray) or C.ndim != 2 or C.shape[1] != d or C.shape[0] < 1:
        fail("oracle", f"{f}|centers-shape",
             f"centers shape {getattr(C, 'shape', None)} for X {Xv.shape}")
    if not np.isfinite(C).all():
        fail("oracle", f"{f}|centers-nonfinite", f"non-finite centers {C!r}")
    if C.dtype != expected_center_dtype(ctx["xdtype"]):
        fail("oracle", f"{f}|centers-dtype|{ctx['xdtype']}",
             f"centers dtype {C.dtype} for X dtype {ctx['xdtype']}")
    if not isinstance(L, np.ndarray) or L.shape != (n,) or L.dtype.kind not in "iu":
        fail("oracle", f"{f}|labels-shape",
             f"labels {getattr(L, 'shape', None)} {getattr(L, 'dtype', None)}")
    lo = 0 if model.cluster_all else -1
    if n and (L.min() < lo or L.max() >= len(C)):
        fail("oracle", f"{f}|labels-range",
             f"labels in [{L.min()}, {L.max()}], k={len(C)}, cluster_all={model.cluster_all}")
    if not (isinstance(model.n_iter_, (int, np.integer)) and 0 <= model.n_iter_ <= model.max_iter):
        fail("oracle", f"{f}|n_iter", f"n_iter_={model.n_iter_!r}, max_iter={model.max_iter}")
    # centers are means of data points: inside the bounding box
    X64 = Xv.astype(np.float64)
    lo_b, hi_b = X64.min(0), X64.max(0)
    span = np.maximum(np.abs(lo_b), np.abs(hi_b))
    tol = 1e-6 * span + 1e-300
    if C.dtype == np.float16:
        tol = tol + 1e-3 * span
    elif C.dtype == np.float32:
        tol = tol + 1e-6 * span
    C64 = C.astype(np.float64)
    # C64 is an array (ruff's SIM300 takes capitals for constants)
    if ((C64 < lo_b - tol) | (C64 > hi_b + tol)).any():  # noqa: SIM300
        fail("oracle", f"{f}|center-outside-data",
             f"a center lies outside the data's bounding box: {C64} vs [{lo_b}, {hi_b}]")
    # labels: a nearest center; -1 exactly when farther than bandwidth
    (Xs, Cs), s = as_float64_scaled(X64, C64)
    D = dists(Xs, Cs)
    dmin = D.min(1)
    if n:
        lab = np.where(L >= 0, L, 0)
        dl = D[np.arange(n), lab]
        bad = (L >= 0) & (dl > dmin * (1 + 1e-7))
        if C.dtype != np.float16 and bad.any():
            i = int(np.flatnonzero(bad)[0])
            fail("oracle", f"{f}|label-not-nearest",
                 f"point {i} labelled {L[i]} at distance {dl[i]}, nearest {dmin[i]} "
                 f"(scaled by {s})")
        if bandwidth is not None and not model.cluster_all and C.dtype != np.float16:
            with np.errstate(all="ignore"):
                bws = np.float64(bandwidth) * s
                r = dmin / bws if bws > 0 else np.full(n, np.inf)
            orphan = L == -1
            wrong = (orphan & (r < 1 - 1e-7)) | (~orphan & (r > 1 + 1e-7))
            if np.isfinite(bws) and bws > 0 and wrong.any():
                i = int(np.flatnonzero(wrong)[0])
                fail("oracle", f"{f}|orphan-rule",
                     f"point {i} label {L[i]}: nearest center at {r[i]} bandwidths")
    # kept centers are more than bandwidth apart
    if bandwidth is not None and len(C) > 1 and C.dtype != np.float16:
        DC = dists(Cs, Cs)
        np.fill_diagonal(DC, np.inf)
        with np.errstate(all="ignore"):
            bws = np.float64(bandwidth) * s
        if np.isfinite(bws) and bws > 0 and DC.min() <= bws * (1 - 1e-7):
            fail("oracle", f"{f}|centers-too-close",
                 f"two centers {DC.min() / bws} bandwidths apart")
    return C, L


def check_predict(ctx, model, Yv, P):
    import numpy as np

    C = model.cluster_centers_
    m = Yv.shape[0]
    if not isinstance(P, np.ndarray) or P.shape != (m,) or P.dtype.kind not in "iu":
        fail("oracle", "predict|shape", f"predict gave {getattr(P, 'shape', None)} for {m} rows")
    if m and (P.min() < 0 or P.max() >= len(C)):
        fail("oracle", "predict|range", f"predict labels in [{P.min()}, {P.max()}], k={len(C)}")
    if m and C.dtype != np.float16:
        (Ys, Cs), _ = as_float64_scaled(Yv.astype(np.float64), C.astype(np.float64))
        D = dists(Ys, Cs)
        dl = D[np.arange(m), P]
        bad = dl > D.min(1) * (1 + 1e-7)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            fail("oracle", "predict|not-nearest",
                 f"row {i} predicted {P[i]}, sq.dist {dl[i]} > nearest {D.min(1)[i]}")


def validated(X, **kw):
    """What scikit-learn's check_array makes of X (None if it refuses)."""
    from sklearn.utils import check_array

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return check_array(X, **kw)
    except Exception:
        return None


def run_case(spec, tmpdir=None, use_sklearn=True):
    """Run one spec against the oracle; raise Finding on a broken expectation."""
    import numpy as np

    import meanshift as ms

    func = spec["func"]
    made = []
    try:
        mx = make_array(spec["X"], tmpdir=tmpdir)
        made.append(mx)
        X = mx.obj
        d = mx.array.shape[1] if mx.array.ndim == 2 else 1
        Xv = validated(X)
        scale = 1.0
        if Xv is not None and Xv.size and Xv.dtype.kind in "fiub":
            with np.errstate(all="ignore"):
                a = np.abs(Xv.astype(np.float64))
            if np.isfinite(a).all() and a.max() > 0:
                scale = float(a.max())
        ctx = {"func": func, "xdtype": Xv.dtype if Xv is not None else None}

        if func in ("mean_shift", "fit_predict"):
            params = {k: decode_param(spec[k], scale) for k in
                      ("bandwidth", "bin_seeding", "min_bin_freq", "cluster_all",
                       "max_iter", "n_jobs")}
            if spec["seeds"] is not None:
                msd = make_array(spec["seeds"], d_same=d, tmpdir=tmpdir)
                made.append(msd)
                params["seeds"] = msd.obj
            else:
                params["seeds"] = None
            sk_params = dict(params)
            progress = add_verbose(params, spec, ms.MeanShift)
            result = call(func, lambda: fit_call(ms, func, X, params, spec, made, tmpdir, d))
            if result is not None and progress is not None:
                progress.check(func)
            if result is not None:
                model, P, Yv = result
                Xval = validated(X)
                if Xval is not None and Xval.dtype.kind not in "fc":
                    Xval = Xval.astype(np.float64)
                if Xval is None or Xval.dtype.kind == "O":
                    fail("oracle", f"{func}|accepted-invalid",
                         f"accepted X that check_array rejects: {type(X)}")
                bw = params["bandwidth"]
                check_fit(ctx, model, Xval, bw)
                if P is not None:
                    check_predict(ctx, model, Yv, P)
                if model.cluster_all and model.cluster_centers_.dtype != np.float16:
                    P2 = call("predict", lambda: model.predict(X))
                    if P2 is None:
                        fail("oracle", f"{func}|predict-X-raises",
                             "predict(X) raised after fit(X)")
                    if not np.array_equal(P2, model.labels_):
                        # P2 is an array, not a constant
                        i = int(np.flatnonzero(P2 != model.labels_)[0])  # noqa: SIM300
                        fail("oracle", f"{func}|predict-vs-labels",
                             f"predict(X) != labels_ at row {i}: {P2[i]} vs {model.labels_[i]}")
                if spec["recheck_threads"]:
                    other = 1 if params["n_jobs"] not in (1, "1") else 2
                    p2 = dict(params, n_jobs=other)
                    m2 = call(func, lambda: ms.MeanShift(**p2).fit(X))
                    if m2 is None:
                        fail("oracle", f"{func}|threads-raise", f"n_jobs={other} raised")
                    if not (np.array_equal(m2.cluster_centers_, model.cluster_centers_)
                            and np.array_equal(m2.labels_, model.labels_)):
                        fail("oracle", f"{func}|threads-differ",
                             f"n_jobs={params['n_jobs']!r} and n_jobs={other} disagree")
            if use_sklearn:
                parity_fit(spec, X, sk_params, result, scale)
        elif func == "estimate_bandwidth":
            params = {k: decode_param(spec[k])
                      for k in ("quantile", "n_samples", "random_state", "n_jobs")}
            sk_params = dict(params)
            progress = add_verbose(params, spec, ms.estimate_bandwidth)
            bw = call(func, lambda: ms.estimate_bandwidth(X, **params))
            if bw is not None and progress is not None:
                progress.check(func)
            if bw is not None:
                if not isinstance(bw, np.float64):
                    fail("oracle", f"{func}|type", f"returned {type(bw)}")
                if not np.isfinite(bw) or bw < 0:
                    fail("oracle", f"{func}|value", f"returned {bw!r}")
                Xval = validated(X)
                if Xval is not None and Xval.shape[0] <= 200:
                    (Xs,), s = as_float64_scaled(Xval.astype(np.float64))
                    with np.errstate(over="ignore"):
                        diam = float(dists(Xs, Xs).max(initial=0.0)) / s
                    if bw > diam * (1 + 1e-7) + 1e-300:
                        fail("oracle", f"{func}|above-diameter",
                             f"bandwidth {bw} > diameter {diam}")
            if use_sklearn:
                parity_bandwidth(spec, X, sk_params, bw)
        elif func == "get_bin_seeds":
            bs = decode_param(spec["bin_size"], scale)
            mbf = decode_param(spec["min_bin_freq"])
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                seeds = call(func, lambda: ms.get_bin_seeds(X, bs, mbf))
            warned = any("Binning data failed" in str(x.message) for x in w)
            if (seeds is not None and seeds is not X
                    and (not isinstance(seeds, np.ndarray) or (seeds.size and seeds.ndim != 2))):
                fail("oracle", f"{func}|shape", f"bin seeds {getattr(seeds, 'shape', None)}")
            if use_sklearn:
                parity_bins(spec, X, bs, mbf, seeds, warned)
        else:  # pragma: no cover
            raise AssertionError(func)

        for m in made:
            if m.modified() or (m.obj_snap is not None
                                and repr(m.obj_snap[0].tolist()) != m.obj_snap[1]):
                fail("mutation", f"{func}|input-modified", "an input array was modified")
    finally:
        for m in made:
            if m.cleanup:
                m.cleanup()


def fit_call(ms, func, X, params, spec, made, tmpdir, d):
    if func == "mean_shift":
        C, L = ms.mean_shift(X, **params)
        model = ms.MeanShift(**params)   # for the checks only
        model.cluster_centers_, model.labels_ = C, L
        model.n_iter_ = 0
        return model, None, None
    model = ms.MeanShift(**params).fit(X)
    my = make_array(spec["Y"], d_same=d, tmpdir=tmpdir)
    made.append(my)
    Yv = validated(my.obj)
    try:
        P = model.predict(my.obj)
    except ALLOWED:
        return model, None, None
    if Yv is None:
        fail("oracle", "predict|accepted-invalid", "predict accepted what check_array rejects")
    if Yv.dtype.kind not in "fc":
        Yv = Yv.astype("float64")
    return model, P, Yv


def call(func, fn):
    """Run fn; None if it raised an allowed exception; Finding otherwise."""
    try:
        return fn()
    except Finding:
        raise
    except ALLOWED:
        return None
    except Exception as exc:
        sig = exc_signature(func, exc)
        tb = "".join(traceback.format_exception(exc))
        raise Finding("exception", sig, f"{type(exc).__name__}: {exc}\n{tb}") from exc


# -- parity with scikit-learn -------------------------------------------------


def _ordinary(X, max_abs=1e100, max_n=40, max_d=15):
    """A plain float/int ndarray small enough to hand to scikit-learn, or None."""
    import numpy as np

    if not isinstance(X, np.ndarray) or X.ndim != 2 or X.dtype.kind not in "fiu":
        return None
    if X.dtype == np.float16 or X.shape[0] > max_n or X.shape[1] > max_d:
        return None
    with np.errstate(all="ignore"):
        a = np.abs(X.astype(np.float64))
    if a.size and not (np.isfinite(a).all() and a.max() < max_abs and
                       (a[a > 0].min() if (a > 0).any() else 1) > 1e-100):
        return None
    return X


def _plain_number(v, lo=1e-100, hi=1e100):
    import numbers

    try:
        return (isinstance(v, numbers.Real) and not isinstance(v, bool) and
                lo <= abs(float(v)) <= hi)
    except OverflowError:
        return False


def _plain_n_jobs(v):
    return v is None or (type(v) is int and v in (1, 2, -1))


def _case_class(X):
    """A coarse class of an input, for finding signatures: one finding per
    class, not one per dtype."""
    import numpy as np

    if X.shape[1] == 0:
        return "no-columns"
    if X.shape[0] == 0:
        return "no-rows"
    with np.errstate(all="ignore"):
        a = np.abs(X.astype(np.float64))
    if not np.isfinite(a).all():
        return "non-finite"
    if a.max() > 1e38:
        return "beyond-float32"
    return "ordinary"


def _exc_kind(e):
    return {k for k, t in (("value", ValueError), ("type", TypeError)) if isinstance(e, t)}


def parity_fit(spec, X, params, result, scale):
    import numpy as np
    from sklearn.cluster import MeanShift as SkMS

    if _ordinary(X) is None:
        return
    bw = params["bandwidth"]
    if bw is not None and not (_plain_number(bw)
                               or (isinstance(bw, float) and not np.isfinite(bw))):
        return
    if not _plain_n_jobs(params["n_jobs"]):
        return                 # n_jobs semantics differ on purpose
    if spec.get("verbose", "absent") not in ("absent", "callback", False, 0):
        return                 # not a scikit-learn parameter
    for k in ("bin_seeding", "cluster_all"):
        if not isinstance(params[k], bool):
            return
    for k in ("min_bin_freq", "max_iter"):
        v = params[k]
        if not (isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 300):
            return
    seeds = params["seeds"]
    if seeds is not None and _ordinary(seeds) is None:
        return
    n = X.shape[0]
    cls = _case_class(X)
    if params["max_iter"] > 10 and n > 25 and seeds is None and not params["bin_seeding"]:
        return                 # scikit-learn is slow: keep it cheap
    sk = SkMS(**dict(params, n_jobs=None))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sk.fit(X)
        sk_exc = None
    except Exception as e:  # noqa: BLE001
        sk_exc = e
    ours = result[0] if result is not None else None
    if ours is None and sk_exc is None:
        fail("parity", f"{spec['func']}|we-raise-sklearn-not|{cls}",
             f"meanshift raised, scikit-learn returned {len(sk.cluster_centers_)} centers")
    if ours is not None and sk_exc is not None:
        if "max() arg is an empty sequence" in str(sk_exc):
            return             # documented: scikit-learn's error for min_bin_freq
        fail("parity", f"{spec['func']}|sklearn-raises-we-not|{type(sk_exc).__name__}|{cls}",
             f"scikit-learn raised {type(sk_exc).__name__}: {sk_exc}; meanshift returned")
    if ours is None:
        return
    bwv = bw if bw is not None else None
    if not np.array_equal(ours.labels_, sk.labels_):
        fail("parity", f"{spec['func']}|labels|{cls}",
             f"labels differ: {ours.labels_} vs {sk.labels_}")
    if ours.cluster_centers_.shape != sk.cluster_centers_.shape:
        fail("parity", f"{spec['func']}|n-centers|{cls}", "different numbers of centers")
    if bwv is not None:
        err = np.abs(ours.cluster_centers_.astype(float) - sk.cluster_centers_.astype(float)).max()
        if err > 1e-3 * bwv:
            fail("parity", f"{spec['func']}|centers|{cls}",
                 f"centers differ by {err / bwv} bandwidths")


def parity_bandwidth(spec, X, params, bw):
    import numpy as np
    from sklearn.cluster import estimate_bandwidth as sk_eb

    if _ordinary(X, max_n=200, max_d=40) is None:
        return
    if not _plain_n_jobs(params["n_jobs"]):
        return
    q = params["quantile"]
    if not (isinstance(q, float) and 0 <= q <= 1):
        return
    ns = params["n_samples"]
    if not (ns is None or (isinstance(ns, int) and not isinstance(ns, bool) and 1 <= ns <= 10**6)):
        return
    rs = params["random_state"]
    if not (rs is None or isinstance(rs, (int, np.random.RandomState))):
        return
    if rs is None and ns is not None:
        return                 # a random subsample each: nothing to compare
    if isinstance(rs, np.random.RandomState):
        return                 # consumed by our call already
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sk = sk_eb(X, **dict(params, n_jobs=None))
        sk_exc = None
    except Exception as e:  # noqa: BLE001
        sk_exc = e
    if (bw is None) != (sk_exc is not None):
        fail("parity",
             f"estimate_bandwidth|raise-mismatch|{type(sk_exc).__name__}|{_case_class(X)}",
             f"meanshift {'raised' if bw is None else 'returned ' + repr(bw)}; scikit-learn "
             f"{'raised ' + repr(sk_exc) if sk_exc else 'returned ' + repr(sk)}")
    if bw is not None:
        a = np.abs(X.astype(float)).max() if X.size else 1.0
        if not abs(bw - sk) <= 1e-6 * max(a, abs(sk)):
            fail("parity", f"estimate_bandwidth|value|{_case_class(X)}",
                 f"{bw!r} vs scikit-learn {sk!r}")


def parity_bins(spec, X, bs, mbf, seeds, warned):
    import numbers

    import numpy as np
    from sklearn.cluster import get_bin_seeds as sk_gbs

    if not isinstance(X, np.ndarray) or X.ndim != 2 or X.dtype.kind not in "fiub":
        return
    if not (isinstance(bs, numbers.Real) and not isinstance(bs, bool)):
        return
    if not (isinstance(mbf, int) and not isinstance(mbf, bool)) or abs(mbf) > 10**9:
        return
    try:
        if not 1.2e-38 <= abs(float(bs)) <= 3.4e38:
            return             # documented: float64 seeds where float32 would overflow
    except OverflowError:
        return
    cls = _case_class(X)
    try:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            with np.errstate(all="ignore"):
                sk = sk_gbs(X, bs, mbf)
        sk_warned = any("Binning data failed" in str(x.message) for x in w)
        sk_exc = None
    except Exception as e:  # noqa: BLE001
        sk_exc = e
    if sk_exc is not None:
        if seeds is not None:
            fail("parity", f"get_bin_seeds|sklearn-raises|{type(sk_exc).__name__}|{cls}",
                 f"scikit-learn raised {sk_exc!r}; meanshift returned")
        return
    if seeds is None:
        fail("parity", f"get_bin_seeds|we-raise|{cls}", "meanshift raised; scikit-learn returned")
    if (sk is X) != (seeds is X) or sk_warned != warned:
        fail("parity", f"get_bin_seeds|fallback|{cls}",
             f"returned X / warned: ours {seeds is X}/{warned}, "
             f"scikit-learn {sk is X}/{sk_warned}")
    if sk is X:
        return
    sk = np.asarray(sk)
    if cls in ("beyond-float32", "non-finite") and seeds.dtype == np.float64:
        return                 # deliberate: float64 seeds where float32 overflows
    if seeds.dtype != sk.dtype:
        fail("parity", f"get_bin_seeds|dtype|{cls}",
             f"dtype {seeds.dtype} vs scikit-learn {sk.dtype} "
             f"for X {X.dtype} {X.shape}")
    if seeds.shape != sk.shape or not np.array_equal(seeds, sk, equal_nan=True):
        fail("parity", f"get_bin_seeds|values|{cls}",
             f"bin seeds differ: {seeds.shape} vs {sk.shape}\nours {seeds[:5]}\nsklearn {sk[:5]}")


# ---------------------------------------------------------------------------
# Worker: hypothesis batches in this process
# ---------------------------------------------------------------------------


def write_json(path, obj):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, default=repr)
    os.replace(tmp, path)


def save_finding(out, kind, signature, message, spec, extra=None):
    h = hashlib.sha1(signature.encode()).hexdigest()[:10]
    path = Path(out) / f"{kind}-{h}.json"
    rec = {"kind": kind, "signature": signature, "message": message, "spec": spec,
           "replay": f"python {Path(__file__).resolve()} --replay {path}"}
    if extra:
        rec.update(extra)
    write_json(path, rec)
    return path


def load_known(out):
    p = Path(out) / "known.json"
    return set(json.loads(p.read_text())) if p.exists() else set()


def worker(args):
    import faulthandler

    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    faulthandler.enable(all_threads=True)
    warnings.simplefilter("ignore")
    out = Path(args.out)
    tmpdir = tempfile.mkdtemp(prefix="mmap-", dir=out)
    known = load_known(out)
    current = out / "current.json"
    progress = out / f"progress-{os.getpid()}.json"
    deadline = args.deadline
    state = {"runs": 0, "last": {}}
    spec_strategy = strategies()

    # a test of the supervisor itself: MEANSHIFT_FUZZ_SELFTEST=crash:N or
    # hang:N makes the N-th example segfault or hang in C code
    selftest, _, at = os.environ.get("MEANSHIFT_FUZZ_SELFTEST", "").partition(":")

    def body(spec):
        if time.time() > deadline:
            return           # out of time: the rest of the batch is skipped
        write_json(current, spec)
        state["runs"] += 1
        if selftest and state["runs"] == int(at):
            import ctypes

            if selftest == "crash":
                ctypes.string_at(0)                       # SIGSEGV
            elif selftest == "hang":
                ctypes.CDLL(None).sleep(10**6)            # no Python frame to interrupt
        if state["runs"] % 25 == 0:
            write_json(progress, {"runs": state["runs"]})
        try:
            run_case(spec, tmpdir=tmpdir, use_sklearn=not args.no_sklearn)
        except Finding as f:
            if f.signature in known:
                return
            state["last"][f.signature] = (f, spec)
            raise

    settings_ = settings(max_examples=args.batch, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck),
                         phases=[Phase.generate, Phase.shrink], print_blob=False,
                         report_multiple_bugs=True)
    s = args.seed
    while time.time() < deadline and state["runs"] < args.examples:
        test = settings_(hseed(s)(given(spec=spec_strategy)(body)))
        try:
            test()
        except BaseException as exc:  # noqa: BLE001 - an ExceptionGroup or a Finding
            if isinstance(exc, KeyboardInterrupt):
                raise
            found = []
            stack = [exc]
            while stack:
                e = stack.pop()
                if isinstance(e, Finding):
                    found.append(e)
                stack.extend(getattr(e, "exceptions", []))
                if e.__cause__ is not None and isinstance(e.__cause__, Finding):
                    found.append(e.__cause__)
            if not found:
                traceback.print_exc()
                save_finding(out, "harness", "harness|" + exc_signature("harness", exc),
                             "".join(traceback.format_exception(exc)), None)
            for f in found:
                if f.signature in known:
                    continue
                _, spec = state["last"].get(f.signature, (f, None))
                path = save_finding(out, f.kind, f.signature, f.message, spec)
                print(f"FINDING {f.kind}: {f.signature}\n  saved {path}", flush=True)
                known.add(f.signature)
            write_json(out / "known.json", sorted(known))
        s += 1
        write_json(progress, {"runs": state["runs"]})
    write_json(progress, {"runs": state["runs"]})
    return 0


# ---------------------------------------------------------------------------
# Supervisor: runs workers, records crashes and hangs
# ---------------------------------------------------------------------------


def crash_site(text):
    """Where a worker died, for de-duplication: the sanitizer's or
    faulthandler's first line, addresses and numbers stripped, and the first
    meanshift frame of a sanitizer's stack."""
    first = ""
    for line in text.splitlines():
        if ("runtime error:" in line or "ERROR: AddressSanitizer" in line
                or line.startswith("Fatal Python error")):
            first = line
            break
    frame = ""
    for line in text.splitlines():
        m = re.search(r" in (\S*9meanshift\S*)", line)
        if m:
            frame = m.group(1)
            break
    first = re.sub(r"0x[0-9a-f]+", "ADDR", first)
    first = re.sub(r"==\d+==", "", first)
    return f"{first.strip()[:120]}|{frame}"


def supervise(args):
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    deadline = t0 + args.minutes * 60 if args.minutes else float("inf")
    total = 0
    seed = args.seed
    crashes = hangs = 0
    print(f"fuzzing into {out} "
          f"(deadline {'none' if deadline == float('inf') else time.ctime(deadline)}, "
          f"examples {args.examples})", flush=True)
    while time.time() < deadline and total < args.examples:
        for p in out.glob("progress-*.json"):
            p.unlink()
        cur = out / "current.json"
        if cur.exists():
            cur.unlink()
        log = out / f"worker-{seed}.log"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--out", str(out),
               "--seed", str(seed), "--batch", str(args.batch),
               "--examples", str(args.examples - total), "--deadline", str(deadline)]
        if args.no_sklearn:
            cmd.append("--no-sklearn")
        with open(log, "w") as lf, open(log, errors="replace") as reader:
            proc = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT,
                                    cwd=tempfile.gettempdir())
            hung = False
            while proc.poll() is None:
                time.sleep(1.0)
                for line in reader.read().splitlines():   # new findings, as they come
                    if line.startswith("FINDING") or line.startswith("  saved"):
                        print(line, flush=True)
                if cur.exists() and time.time() - cur.stat().st_mtime > args.timeout:
                    hung = True
                    proc.send_signal(signal.SIGABRT)   # faulthandler prints the stacks
                    try:
                        proc.wait(10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                if time.time() > deadline + args.timeout + 120:
                    proc.kill()
                    proc.wait()
            for line in reader.read().splitlines():
                if line.startswith("FINDING") or line.startswith("  saved"):
                    print(line, flush=True)
        runs = 0
        for p in out.glob("progress-*.json"):
            runs += json.loads(p.read_text())["runs"]
        total += runs
        rc = proc.returncode
        text = log.read_text(errors="replace")
        if hung or rc != 0:
            spec = json.loads(cur.read_text()) if cur.exists() else None
            kind = "hang" if hung else "crash"
            sig = f"{kind}|{spec['func'] if spec else '?'}|rc={rc}|{crash_site(text)}"
            # a sanitizer's report (when run under tools/sanitize.sh --fuzz),
            # then faulthandler's Python stack
            marks = [i for i in (text.find("runtime error:"), text.find("ERROR: AddressSanitizer"),
                                 text.rfind("Fatal Python error")) if i >= 0]
            start = max(0, text.rfind("\n", 0, min(marks)) + 1) if marks else len(text) - 6000
            tail = text[max(0, start):max(0, start) + 16000]
            known_crashes = load_known(out)
            if sig in known_crashes:
                print(f"(known {kind} again: {sig}; worker restarted)", flush=True)
            else:
                path = save_finding(out, kind, sig, f"worker exit status {rc}", spec,
                                    {"log_tail": tail})
                print(f"FINDING {kind}: worker died with status {rc} (seed {seed}): {sig}\n"
                      f"  saved {path}", flush=True)
                write_json(out / "known.json", sorted(known_crashes | {sig}))
            if kind == "crash":
                crashes += 1
            else:
                hangs += 1
        else:
            log.unlink()
        for d in out.glob("mmap-*"):          # a dead worker's memmap files
            shutil.rmtree(d, ignore_errors=True)
        seed += 1000
        if rc == 0 and not hung:
            break           # the worker used up the time or the examples
    minutes = (time.time() - t0) / 60
    findings = sorted(p.name for p in out.glob("*.json")
                      if p.name not in ("known.json", "current.json")
                      and not p.name.startswith("progress-"))
    print(f"\n{total} examples in {minutes:.1f} min ({crashes} crashes, {hangs} hangs); "
          f"{len(findings)} findings in {out}:", flush=True)
    for name in findings:
        rec = json.loads((out / name).read_text())
        print(f"  {name}: {rec['signature']}")
    return 1 if findings else 0


def replay(path, use_sklearn=True):
    rec = json.loads(Path(path).read_text())
    spec = rec["spec"]
    print(json.dumps(spec, indent=1))
    with tempfile.TemporaryDirectory() as tmp:
        try:
            run_case(spec, tmpdir=tmp, use_sklearn=use_sklearn)
        except Finding as f:
            print(f"REPRODUCED {f.kind}: {f.signature}\n{f.message}")
            return 1
    print("not reproduced: the case passes now")
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=None)
    p.add_argument("--examples", type=int, default=None)
    p.add_argument("--out", default=None, help="findings directory (default: new temp dir)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=300)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--no-sklearn", action="store_true")
    p.add_argument("--replay", default=None)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--deadline", type=float, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.replay:
        return replay(args.replay, use_sklearn=not args.no_sklearn)
    if args.examples is None:
        args.examples = 10**12
    if args.minutes is None and args.examples == 10**12:
        args.minutes = 5.0
    if args.worker:
        return worker(args)
    if args.out is None:
        args.out = tempfile.mkdtemp(prefix="meanshift-fuzz-")
    outp = Path(args.out).resolve()
    if outp == REPO or REPO in outp.parents:
        p.error("--out must be outside the repository")
    return supervise(args)


if __name__ == "__main__":
    sys.exit(main())
