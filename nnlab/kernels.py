"""Fused elementwise kernels, compiled by numba where it is installed (``pip install 'nnlab[jit]'``).

Adam's update is a dozen NumPy passes over every parameter (seven with ``nnlab.blas``'s axpby); one loop
that reads w, g, m, v once and writes w, m, v once does the same arithmetic in one pass. Each element's
operations are NumPy's, in NumPy's order and precision (no fused multiply-add, no fast-math), so the kernel
gives exactly the bits of the optimizer's NumPy ``update`` — a test holds them equal — and the same bits
on any cut of the buffer (``nnlab.parallel.split`` runs it on pieces, on threads: it releases the GIL).

numba is optional: without it, or with the path turned off (``NNLAB_FAST_PATHS`` without ``jit``,
``nnlab.parallel.fast_paths(jit=False)``), ``adam`` returns None and the optimizer keeps its BLAS and NumPy
paths. Loading it costs about a second per process (numba, then the compiled kernel from numba's cache;
two seconds more the first time, to compile), so only buffers of ``MIN_SIZE`` elements or more use it,
where a training run's steps win that second back. What it gains: benchmarks/results/RESULTS.md.
"""

from __future__ import annotations

import functools

import numpy as np

from nnlab import parallel

MIN_SIZE = 100_000  # elements: the smallest flat buffer whose update is worth loading numba for


def _adam(w, g, m, v, b1, c1, b2, c2, step, eps, shrink):  # pragma: no cover (compiled; run by the tests)
    for i in range(w.shape[0]):
        gi = g[i]
        mi = m[i] * b1 + gi * c1  # m ← β₁m + (1−β₁)g
        vi = v[i] * b2 + (gi * gi) * c2  # v ← β₂v + (1−β₂)g²
        m[i] = mi
        v[i] = vi
        w[i] = w[i] * shrink - (mi / (np.sqrt(vi) + eps)) * step  # w ← shrink·w − step·m/(√v + ε)


@functools.cache
def _compiled():
    """The compiled kernels, or None where numba cannot be imported."""
    try:
        import numba
    except Exception:  # not installed, or built against another NumPy: the other paths do the work
        return None
    options = {"nogil": True, "boundscheck": False, "error_model": "numpy"}  # numpy's: x/0 is inf, no check
    try:
        return {"adam": numba.njit(cache=True, **options)(_adam)}
    except RuntimeError:  # no folder to cache in (a read-only install without a home): compiled per process
        return {"adam": numba.njit(**options)(_adam)}


def available() -> bool:
    """Whether the kernels can run: the ``jit`` path is on and numba imports."""
    return parallel.fast("jit") and _compiled() is not None


def adam(size: int, dtype):
    """Adam's fused update ``f(w, g, m, v, β₁, 1−β₁, β₂, 1−β₂, step, ε, shrink)`` on 1-D float32 or float64
    arrays, the scalars of their dtype; None where a buffer of ``size`` elements is better served without."""
    if size < MIN_SIZE or np.dtype(dtype) not in (np.float32, np.float64) or not available():
        return None
    return _compiled()["adam"]
