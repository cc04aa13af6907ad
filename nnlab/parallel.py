"""Elementwise work split across the cores that BLAS uses.

A matmul runs on every core (BLAS threads); a NumPy ufunc runs on one, but releases the GIL while it loops.
The largest elementwise cost of an epoch is the optimizer's update over the flat parameter buffers (Adam:
a dozen passes over every parameter, ~0.85 ms a step on one core for Fashion-MNIST's 235 k weights), so
``split`` cuts such a buffer into contiguous pieces, one per thread, and runs the same function on each.
Every element sees exactly the same arithmetic whatever the cut, so results are bit-identical for any
number of threads (resumes and seeds stay exact).

What it gains (``python benchmarks/run.py --only paths`` and a full run, three runs on a 2-core machine,
Fashion-MNIST 784-256-128-10, runs of training steps with the split turned off and everything else on):
Adam's training took 18, 28 and 13 % longer without it at batch 32, 8, 3 and 11 % at batch 128; its step
alone 0.56–0.61 ms with, 0.68–0.73 ms without. It needs ``OPENBLAS_THREAD_TIMEOUT=4`` (``import nnlab``
sets it): with OpenBLAS's default (28, ~0.1 s of spinning after each product) Adam's steps at batch 128
took 3.1 ms instead of 2.6 (five pairs of processes taking turns).
Adam, AdamW, RMSprop and Adagrad use it, and SGD where BLAS is not at hand; plain SGD and SGD with momentum
otherwise go through BLAS's own threads (``nnlab.blas``) and never split.

The thread count follows BLAS's (threadpoolctl), read when a trainer is built: a sweep worker limited to
one BLAS thread splits nothing. ``limit(n)`` sets it explicitly. Small arrays are never split: below
``MIN_PIECE`` elements a piece costs more to hand to a thread than to compute.

``fast_paths`` (or the environment variable ``NNLAB_FAST_PATHS``, read once when this module loads) turns
nnlab's two speed paths off, to measure them or to rule them out when debugging: the BLAS level-1 calls of
``nnlab.blas`` and this module's split. ``NNLAB_FAST_PATHS=0`` turns both off, ``=blas`` or ``=threads``
keeps that one only, ``1`` (the default) keeps both. Without them an optimizer's update is plain NumPy on
one thread, over the whole buffer at once: the same numbers, to within float rounding.
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import threading
from collections.abc import Callable

MIN_PIECE = 1 << 15  # elements: the smallest piece worth a thread hand-off (~20 µs)
BLOCK = 1 << 16  # elements: on one thread, work through long buffers in blocks that stay in the cache
ALIGN = 16  # piece boundaries on multiples of 16 elements (64 bytes of float32: whole cache lines)

_limit: int | None = None
_tasks = None  # the worker threads' queue of pieces
_started = 0
_blas: int | None = None  # BLAS's thread count, read by refresh()
_lock = threading.Lock()
PATHS = ("blas", "threads")


def _paths_from(value: str | None) -> frozenset[str]:
    """The paths that ``NNLAB_FAST_PATHS`` turns on: 1 (or unset) both, 0 none, else a comma list of names."""
    value = (value or "1").strip().lower()
    if value in ("1", "on", "all"):
        return frozenset(PATHS)
    names = {v.strip() for v in value.split(",")} - {"", "0", "off", "none"}
    if names - set(PATHS):
        raise ValueError(f"NNLAB_FAST_PATHS={value!r}: use 0, 1 or a comma list of {', '.join(PATHS)}")
    return frozenset(names)


_fast = _paths_from(os.environ.get("NNLAB_FAST_PATHS"))


def fast(path: str) -> bool:
    """Whether the speed path ``path`` ("blas", "threads") is on."""
    return path in _fast


class fast_paths:  # noqa: N801  (a function that can also be a context manager, like torch.set_grad_enabled)
    """Turn the speed paths on or off, process-wide: ``blas`` (the BLAS level-1 calls of ``nnlab.blas``),
    ``threads`` (this module's split); None leaves one as it is. Called, it holds until changed; as a
    context manager, the setting before comes back at the end of the block::

        with nnlab.parallel.fast_paths(blas=False, threads=False):   # plain NumPy on one thread
            train(config)
    """

    def __init__(self, blas: bool | None = None, threads: bool | None = None):
        global _fast
        self.before = _fast
        wanted = {"blas": blas, "threads": threads}
        _fast = frozenset(p for p in PATHS if (p in _fast if wanted[p] is None else wanted[p]))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        global _fast
        _fast = self.before


def threads() -> int:
    """How many threads a split may use: ``limit``'s value, else BLAS's thread count as ``refresh`` read it
    (1 while the ``threads`` path is off)."""
    if "threads" not in _fast:
        return 1
    if _limit is not None:
        return _limit
    if _blas is None:
        refresh()
    return _blas


def refresh() -> int:
    """Read BLAS's thread count again (the trainer does, when it is built: a ``threadpool_limits`` block
    around a run applies to its splits too). Asking BLAS on every step would cost more than it saves."""
    global _blas
    try:
        import numpy  # noqa: F401  (loads the BLAS to be found)
        from threadpoolctl import ThreadpoolController

        counts = [c.num_threads for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
    except Exception:  # a BLAS threadpoolctl does not know: one thread, never wrong
        counts = []
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    _blas = max(1, min(max([1, *counts]), cores))  # never more threads than the cores this process may use
    return _blas


@contextlib.contextmanager
def limit(n: int | None):
    """Use at most ``n`` threads for splits inside the block (None: follow BLAS again). Process-wide, like
    BLAS's own limit: threads that train side by side in one process share it."""
    global _limit
    before, _limit = _limit, (None if n is None else max(1, int(n)))
    try:
        yield
    finally:
        _limit = before


@functools.lru_cache(maxsize=64)
def _pieces(n: int, threads: int) -> tuple[tuple[tuple[int, int], ...], bool]:
    parts = min(threads, n // MIN_PIECE)
    if parts <= 1:
        return tuple((a, min(a + BLOCK, n)) for a in range(0, n, BLOCK)) or ((0, 0),), False
    size = -(-n // parts // ALIGN) * ALIGN
    cuts = [min(i * size, n) for i in range(parts)] + [n]
    return tuple((a, b) for a, b in zip(cuts, cuts[1:]) if b > a), True


def pieces(n: int) -> tuple[tuple[tuple[int, int], ...], bool]:
    """The ranges ``[a, b)`` that ``split`` hands out for ``n`` elements, and whether they run in parallel:
    one per thread where each holds at least MIN_PIECE elements, else blocks of BLOCK on this thread; with
    the ``threads`` path off, ``[0, n)`` whole."""
    if "threads" not in _fast:
        return ((0, n),), False
    return _pieces(n, threads())


def split(fn: Callable[[int, int], None], n: int) -> None:
    """Run ``fn(a, b)`` over ``pieces(n)``: in parallel, the first piece on this thread and the others on
    worker threads, returning when all are done (an exception in any piece is raised here)."""
    ranges, parallel = pieces(n)
    if not parallel:
        for a, b in ranges:
            fn(a, b)
        return
    tasks = _workers(len(ranges) - 1)
    done = queue.SimpleQueue()
    for a, b in ranges[1:]:
        tasks.put((fn, a, b, done))
    try:
        fn(*ranges[0])
    finally:
        errors = [done.get() for _ in ranges[1:]]  # waits for every piece, even when one failed
    for e in errors:
        if e is not None:
            raise e


def _workers(n: int) -> queue.SimpleQueue:
    """The task queue of at least ``n`` worker threads, started on first use. A SimpleQueue hands a piece
    over in ~12 µs, a ThreadPoolExecutor in ~30 µs (a step of Adam at batch 128 takes ~700 µs)."""
    global _tasks, _started
    with _lock:
        if _tasks is None:
            _tasks, _started = queue.SimpleQueue(), 0
        while _started < n:
            threading.Thread(target=_work, args=(_tasks,), name=f"nnlab-{_started}", daemon=True).start()
            _started += 1
    return _tasks


def _work(tasks: queue.SimpleQueue) -> None:
    while True:
        fn, a, b, done = tasks.get()
        try:
            fn(a, b)
        except BaseException as e:  # handed to the caller of split, which raises it
            done.put(e)
        else:
            done.put(None)


def _after_fork() -> None:
    """A forked child has none of the parent's threads: start afresh (sweep workers fork)."""
    global _tasks, _started, _blas, _lock
    _tasks, _started, _blas, _lock = None, 0, None, threading.Lock()


os.register_at_fork(after_in_child=_after_fork)
