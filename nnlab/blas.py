"""The BLAS NumPy links, called directly: y ← a·x + y (axpy), x ← a·x (scal), y ← a·x + b·y (axpby) for the
optimizers.

NumPy has no axpy: w − α g costs it two passes and a scratch buffer (α g, then w minus that). The BLAS
that NumPy itself links has one, multithreaded; ctypes calls it on the flat parameter buffers. SGD's
update on Fashion-MNIST's 235 k weights took 59–62 µs a step this way, 109–111 µs in NumPy. The BLAS is
the one threadpoolctl finds inside NumPy's own folder (the OpenBLAS of the wheels); where there is none
(another build, another platform), or while ``nnlab.parallel.fast_paths(blas=False)`` or
``NNLAB_FAST_PATHS=0`` has turned this path off, ``axpy`` and ``scal`` return False, ``function`` None, and
the caller does it in NumPy.
Each element is computed on its own (a fused multiply-add), so the result does not depend on the threads.

axpy and scal run on BLAS's threads over a whole buffer. axpby runs on the calling thread (OpenBLAS does not
thread it), so the optimizer's own split (``nnlab.parallel``) calls it on each piece (``function`` and
``address``): one pass where NumPy needs three (Adam's m ← β₁m + (1−β₁)g: 49 µs a step instead of 156 on
235 k weights).

What it gains (``python benchmarks/run.py --only paths`` and a full run, three runs on a 2-core machine,
Fashion-MNIST 784-256-128-10, runs of training steps with these calls turned off and everything else on):
plain SGD's training took 4, 6 and 7 % longer without them at batch 128 (1, 12 and 13 % at batch 32);
Adam's 4, 5 and 2 % at batch 128 (10, 3 and 5 % at batch 32). Small, but above zero in every measure
(runs of steps and whole epochs alike) but one epoch-level 0.0 %; the benchmark's own noise, read off
the thread split that plain SGD never takes, was up to 5 % on runs of steps.
"""

from __future__ import annotations

import ctypes
import sys
import weakref

import numpy as np

from nnlab import parallel

# symbol names of the same functions across builds: the wheels' scipy-openblas (64-bit integers, then
# 32-bit), a plain OpenBLAS or MKL
_NAMES = ("scipy_cblas_{}64_", "scipy_cblas_{}", "cblas_{}64_", "cblas_{}_64", "cblas_{}")
_funcs: dict | None = None
_addresses: dict[int, tuple[weakref.ref, int]] = {}


def _load() -> dict:
    """{(name, dtype): ctypes function} for [sd]axpy, [sd]scal and [sd]axpby, or {} where NumPy's
    BLAS is not found (a function the BLAS lacks is left out)."""
    if sys.maxsize <= 2**32:  # the integer arguments below are passed as 64-bit registers
        return {}
    try:
        from pathlib import Path

        from threadpoolctl import threadpool_info

        home = Path(np.__file__).resolve().parent
        paths = [
            i["filepath"]
            for i in threadpool_info()
            if i.get("user_api") == "blas" and Path(i["filepath"]).resolve().parent.name in (home.name, "numpy.libs")
        ]
        if not paths:
            return {}
        lib = ctypes.CDLL(paths[0])
    except Exception:
        return {}
    funcs = {}
    kinds = (("s", np.dtype(np.float32), ctypes.c_float), ("d", np.dtype(np.float64), ctypes.c_double))
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    for op in ("axpy", "scal", "axpby"):
        for prefix, dtype, real in kinds:
            for pattern in _NAMES:
                f = getattr(lib, pattern.format(prefix + op), None)
                if f is not None:
                    f.argtypes = {
                        "axpy": [i64, real, ptr, i64, ptr, i64],
                        "scal": [i64, real, ptr, i64],
                        "axpby": [i64, real, ptr, i64, real, ptr, i64],
                    }[op]
                    f.restype = None
                    funcs[(op, dtype)] = f
                    break
    return funcs


def _get(op: str, dtype) -> object | None:
    global _funcs
    if not parallel.fast("blas"):  # turned off (nnlab.parallel.fast_paths, NNLAB_FAST_PATHS): NumPy does it
        return None
    if _funcs is None:
        _funcs = _load()
    return _funcs.get((op, dtype))


def address(a: np.ndarray) -> int:
    """The address of ``a``'s first element, remembered for the arrays seen last (the same flat buffers come
    back every step): ``a.ctypes`` builds objects in a reference cycle on every call, and
    ``a.__array_interface__`` leaked ~48 bytes a call in NumPy 2.4."""
    hit = _addresses.get(id(a))
    if hit is not None and hit[0]() is a:
        return hit[1]
    if len(_addresses) > 64:
        _addresses.clear()
    start = a.ctypes.data
    _addresses[id(a)] = (weakref.ref(a), start)
    return start


def usable(*arrays: np.ndarray) -> bool:
    """Whether the arrays suit axpy / scal: 1-D, contiguous, one float dtype and size, the last writeable,
    and NumPy's BLAS at hand."""
    a = arrays[0]
    return (
        available(a.dtype)
        and all(x.ndim == 1 and x.dtype == a.dtype and x.size == a.size and x.flags.c_contiguous for x in arrays)
        and arrays[-1].flags.writeable
    )


def axpy(a: float, x: np.ndarray, y: np.ndarray) -> bool:
    """y ← a x + y in place, for 1-D contiguous float32/float64 arrays of one dtype; False if not done."""
    f = _get("axpy", y.dtype) if usable(x, y) else None
    if f is None:
        return False
    f(y.size, a, address(x), 1, address(y), 1)
    return True


def scal(a: float, x: np.ndarray) -> bool:
    """x ← a x in place (1-D contiguous float32/float64); False if not done."""
    f = _get("scal", x.dtype) if usable(x) else None
    if f is None:
        return False
    f(x.size, a, address(x), 1)
    return True


def function(op: str, dtype):
    """The raw ctypes function ``op`` ("axpy", "scal", "axpby") for ``dtype``, or None: for a caller
    that checks its arrays once (``usable``) and then calls it on many pieces, with addresses from
    ``address`` plus offsets. Its arguments are CBLAS's (axpby: n, a, x, incx, b, y, incy)."""
    return _get(op, np.dtype(dtype)) if np.dtype(dtype) in (np.float32, np.float64) else None


def available(dtype, ops: tuple[str, ...] = ("axpy", "scal")) -> bool:
    """Whether NumPy's BLAS was found, with the functions ``ops`` for ``dtype``."""
    if np.dtype(dtype) not in (np.float32, np.float64):
        return False
    return all(_get(op, np.dtype(dtype)) is not None for op in ops)
