"""Work buffers that stay allocated between calls, so that steady-state training allocates nothing."""

from __future__ import annotations

import numpy as np


def scratch(owner, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """``owner``'s buffer ``name`` of this shape and dtype, allocated on first use and then reused.

    A few shapes are kept per owner (the last, smaller batch of an epoch has its own); many distinct shapes
    (evaluation of odd-sized splits) clear the cache rather than hoard memory."""
    cache = owner.__dict__.setdefault("_scratch_buffers", {})
    key = (name, shape, np.dtype(dtype))
    buf = cache.get(key)
    if buf is None:
        if len(cache) > 16:
            cache.clear()
        buf = cache[key] = np.empty(shape, dtype=dtype)
    return buf
