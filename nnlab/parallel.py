"""Elementwise work split across the cores that BLAS uses.

A matmul runs on every core (BLAS threads); a NumPy ufunc runs on one, but releases the GIL while it loops.
The largest elementwise cost of an epoch is the optimizer's update over the flat parameter buffers (Adam:
a dozen passes over every parameter, ~0.85 ms a step on one core for Fashion-MNIST's 235 k weights), so
``split`` cuts such a buffer into contiguous pieces, one per thread, and runs the same function on each.
Every element sees exactly the same arithmetic whatever the cut, so results are bit-identical for any
number of threads (resumes and seeds stay exact).

What it gains (``benchmarks/run.py --only paths``, four runs on 2 cores, 784-256-128-10): without it Adam's
training steps took 13–28 % longer at batch 32, 3–14 % at batch 128. It needs ``OPENBLAS_THREAD_TIMEOUT=4``
(``import nnlab`` sets it): with OpenBLAS's default (28, ~0.1 s of spinning after each product) Adam's
steps at batch 128 took 3.1 ms instead of 2.6 (five pairs of processes taking turns).
Adam, AdamW, RMSprop and Adagrad use it, and SGD where BLAS is not at hand; plain SGD and SGD with momentum
otherwise go through BLAS's own threads (``nnlab.blas``) and never split.

The thread count follows BLAS's (threadpoolctl), read when a trainer is built: a sweep worker limited to one
BLAS thread splits nothing. ``limit(n)`` sets it explicitly. Below ``MIN_PIECE`` elements nothing is split.

``fast_paths`` (or ``NNLAB_FAST_PATHS``, read once when this module loads) turns nnlab's speed paths off, to
measure them or rule them out: the BLAS calls of ``nnlab.blas``, this module's split, ``adapt`` (``Tuner``),
``jit`` (``nnlab.kernels``, where numba is installed). ``NNLAB_FAST_PATHS=0`` turns all off, a comma list
(``blas,threads``) keeps those only, ``1`` (the default) all. Without the other three an optimizer's update
is plain NumPy on one thread: the same numbers, to within float rounding (the fused kernel: the same bits).

Cores that are not there. ``usable_cores``: the CPU affinity lowered to the cgroup v2 quota (``cpu.max``:
docker ``--cpus``, Kubernetes limits); no run uses more threads. Busy cores show only in time: BLAS splits a
product evenly and waits for its last thread, which waits for a time slice where it shares a core with
another process (2 cores, one spinning, BLAS at 2 threads: Adam's epoch at batch 128 took 1.35-1.5×, SGD's
2.3× its quiet single-threaded epoch, in two runs). ``Tuner`` (one per ``Experiment``) reads once a second
how much CPU time other processes took on this process's CPUs (``/proc/stat`` less ``/proc/self/stat``),
and the steps run on the cores they left: there, Adam's epoch took 0.97–1.07× its quiet one-thread epoch
and 1.03–1.05× one pinned to one thread on the same busy machine, SGD's 1.11–1.15×, 0.99–1.02× (2 runs of 5,
``benchmarks/run.py --busy``; the machine's noise is a few %). Timing the network's products at each count
instead (a probe of a few ms before the first step and every 10 s) was tried and dropped: a thread that
wakes gets a shared core at once (the scheduler's credit to sleepers), so the probes saw no contention and
SGD ran half its busy steps on 2 threads, 1.21× slower than pinned to 1; Adam, probing every epoch, 1.09×.
OpenBLAS's sgemm rounds differently at different counts (1 and 2 threads differ in the last bits of 3-20 %
of a product's elements; after a dozen steps the weights differ by up to 5·10⁻⁷), so the count decides a
run's bits: on a quiet machine every step runs on all cores, and a seed gives the same bits every time;
``--threads N`` (``limit``) pins the count and turns the tuner off, for bit-exact repeats on a busy machine.
Built and measured on 2 cores only (1 or 2 threads, one core busy or not): benchmarks/results/RESULTS.md.
A thread count per product was measured and not built (``run.py --threads 1,2``, products): quiet, on 2
cores, 784-256-128-10's 256×128 products at batch 32-128 took 1.03-1.36× as long on 2 threads as on 1, the
784×256 ones 0.98-1.1×; one thread for the small ones would save ~1 % of a step, less the calls to set it.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

MIN_PIECE = 1 << 15  # elements: the smallest piece worth a thread hand-off (~20 µs)
BLOCK = 1 << 16  # elements: on one thread, work through long buffers in blocks that stay in the cache
ALIGN = 16  # piece boundaries on multiples of 16 elements (64 bytes of float32: whole cache lines)

_limit: int | None = None
_tasks = None  # the worker threads' queue of pieces
_started = 0
_blas: int | None = None  # BLAS's thread count, read by refresh(), at most usable_cores()
_blas_set = 1  # BLAS's thread count as set (by OpenBLAS's default, threadpoolctl), read by refresh()
_now: int | None = None  # the count a Tuner set for the step running now
_lock = threading.Lock()
PATHS = ("blas", "threads", "adapt", "jit")


def _paths_from(value: str | None) -> frozenset[str]:
    """The paths that ``NNLAB_FAST_PATHS`` turns on: 1 (or unset) both, 0 none, else a comma list of names."""
    value = (value or "1").strip().lower()
    if value in ("1", "on", "all"):
        return frozenset(PATHS)
    names = {v.strip() for v in value.split(",")} - {"", "0", "off", "none"}
    if names - set(PATHS):
        from nnlab.errors import NnlabError  # a user's setting: one line from the CLI, not a traceback

        raise NnlabError(
            f"environment variable NNLAB_FAST_PATHS={value!r}: use 0, 1 or a comma list of {', '.join(PATHS)}"
        )
    return frozenset(names)


_fast = _paths_from(os.environ.get("NNLAB_FAST_PATHS"))


def fast(path: str) -> bool:
    """Whether the speed path ``path`` (one of ``PATHS``) is on."""
    return path in _fast


class fast_paths:  # noqa: N801  (a function that can also be a context manager, like torch.set_grad_enabled)
    """Turn the speed paths on or off, process-wide: ``blas`` (the BLAS level-1 calls of ``nnlab.blas``),
    ``threads`` (this module's split), ``adapt`` (``Tuner``), ``jit`` (``nnlab.kernels``, where numba is
    installed); None leaves one as it is. Called, it holds until changed; as a context manager, the setting
    before comes back at the end of the block::

        with nnlab.parallel.fast_paths(blas=False, threads=False, jit=False):   # plain NumPy on one thread
            train(config)
    """

    def __init__(self, **paths: bool | None):
        global _fast
        if set(paths) - set(PATHS):
            raise TypeError(f"fast_paths() knows {', '.join(PATHS)}, not {', '.join(sorted(set(paths) - set(PATHS)))}")
        self.before = _fast
        _fast = frozenset(p for p in PATHS if (p in _fast if paths.get(p) is None else paths[p]))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        global _fast
        _fast = self.before


def threads() -> int:
    """How many threads a split may use: ``limit``'s value, else the count a ``Tuner`` set for the step
    running now, else BLAS's thread count as ``refresh`` read it (1 while the ``threads`` path is off)."""
    if "threads" not in _fast:
        return 1
    if _limit is not None:
        return _limit
    if _now is not None:
        return _now
    if _blas is None:
        refresh()
    return _blas


def refresh() -> int:
    """Read BLAS's thread count again (the trainer does, when it is built: a ``threadpool_limits`` block
    around a run applies to its splits too). Asking BLAS on every step would cost more than it saves. NumPy's
    own BLAS where it can be told apart (a wheel's, in numpy.libs), not the copy SciPy brings: numba loads
    SciPy, after a limit was set, when it first runs a kernel."""
    global _blas, _blas_set
    try:
        import numpy  # noqa: F401  (loads the BLAS to be found)
        from threadpoolctl import ThreadpoolController

        blas = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
        counts = [c.num_threads for c in [c for c in blas if "numpy" in Path(c.filepath).parent.name] or blas]
    except Exception:  # a BLAS threadpoolctl does not know: one thread, never wrong
        counts = []
    _blas_set = max([1, *counts])
    _blas = min(_blas_set, usable_cores())  # never more threads than the cores this process may use
    return _blas


CGROUP = Path("/sys/fs/cgroup")  # where cgroup v2 is mounted
PROC_CGROUP = Path("/proc/self/cgroup")  # this process's cgroup, "0::/path" under v2


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, lowered to its cgroup v2 CPU quota (rounded up)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = cpu_quota()
    return max(1, min(cores, quota if quota is not None else cores))


def cpu_quota() -> int | None:
    """Cores' worth of CPU time that ``cpu.max`` allows this process's cgroup and its parents (the least,
    rounded up); None where no limit is set or there is no cgroup v2 (another OS, cgroup v1)."""
    try:
        lines = PROC_CGROUP.read_text().splitlines()
    except OSError:
        return None
    where = next((line[3:].strip("/") for line in lines if line.startswith("0::")), None)
    if where is None:
        return None
    quotas = []
    folder = CGROUP / where
    for d in [folder, *folder.parents]:
        if d != CGROUP and CGROUP not in d.parents:
            break
        try:
            quota, period = (d / "cpu.max").read_text().split()[:2]
            if quota != "max":
                quotas.append(math.ceil(int(quota) / int(period)))
        except (OSError, ValueError):
            continue
    return max(1, min(quotas)) if quotas else None


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


def blas_limit(n: int | None):
    """threadpoolctl's limit of BLAS to ``n`` threads, NumPy loaded first (before it, a limit finds no BLAS)."""
    import numpy  # noqa: F401
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n, user_api="blas")


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
    global _tasks, _started, _blas, _lock, _now
    _tasks, _started, _blas, _lock, _now = None, 0, None, threading.Lock(), None


os.register_at_fork(after_in_child=_after_fork)


# ------------------------------------------------------------------------------- the thread count of a step
class Tuner:
    """The thread count of a network's training steps: ``with tuner:`` around each step (``Experiment``
    does). It starts at the step before which it is first entered, reading BLAS's count and the usable cores
    then; it stays off (enters and leaves without a change) where ``limit`` pins the count, the ``adapt``
    path is off, the BLAS is not OpenBLAS, or the products are too small for BLAS to thread them (OpenBLAS
    runs a product of m·n·k ≤ 2¹⁸ on one thread, whatever its count). Otherwise, every ``EVERY`` seconds,
    it reads how much CPU other processes took on this process's CPUs since the last reading
    (``cpu_times``), and the steps run on the cores they left: all of them, less the busy ones rounded
    (``round(cpus − others)``), lowering the count only after two readings in a row agree (the first, ``FIRST``
    seconds in, alone), raising it after one. Leaving a step puts BLAS's count back. ``others``: the last two
    readings, in cores; ``steps``: how many steps ran at each count."""

    EVERY = 1.0  # seconds between two readings (a reading: ~30 µs)
    FIRST = 0.25  # seconds to the first: a run started on a busy machine ran ~2 s at every core before

    def __init__(self, weights=(), batch: int = 1):
        self.weights, self.batch = [w for w in weights if w.ndim == 2], int(batch)
        self.blas: int | None = None  # BLAS's count outside the steps, read at the start
        self.count = self.full = 1
        self.active = False
        self.due = 0.0
        self.seen: tuple | None = None  # cpu_times() at the last reading
        self.others = (math.inf, math.inf)  # nothing read yet: the first reading decides alone
        self.steps: dict[int, int] = {}

    def _start(self) -> None:
        refresh()
        self.blas = self.count = _blas_set
        small = max((self.batch * w.size for w in self.weights), default=0) <= 1 << 18
        if _limit is not None or "adapt" not in _fast or not _setters() or (small and self.count == _blas):
            return
        self.active, self.count = True, _blas  # all usable cores, till other processes take some
        self.full, self.seen, self.due = _blas, cpu_times(), time.perf_counter() + self.FIRST

    def __enter__(self):
        global _now
        if self.blas is None:
            self._start()
        if self.active:
            now = time.perf_counter()
            if now >= self.due:
                self.due = now + self.EVERY
                self.adapt()
            if self.count != self.blas:
                _set_blas(self.count)
            _now = self.count
        return self

    def __exit__(self, *exc):
        global _now
        if self.active:
            _now = None
            if self.count != self.blas:
                _set_blas(self.blas)
            self.steps[self.count] = self.steps.get(self.count, 0) + 1

    def record(self) -> dict:
        """For summary.json: BLAS's thread count at the start (bits depend on it); the steps at each count."""
        steps = {str(k): v for k, v in sorted(self.steps.items())} if self.active else None
        return {"blas": self.blas, **({"steps": steps} if steps else {})}

    def adapt(self) -> None:
        """Read ``cpu_times`` and set ``count`` to the cores other processes left since the last reading."""
        seen, before = cpu_times(), self.seen
        self.seen = seen
        if seen is None or before is None or seen[1] <= before[1]:
            return
        others = (seen[0] - before[0]) / (seen[1] - before[1]) * seen[2]  # in cores, over the interval
        self.others = (self.others[1], max(0.0, others))
        self.count = max(1, min(self.full, round(seen[2] - min(self.others))))


PROC_STAT, PROC_SELF_STAT = Path("/proc/stat"), Path("/proc/self/stat")


def cpu_times() -> tuple[int, int, int] | None:
    """(ticks of CPU time that other processes used on this process's CPUs, ticks of all time on them, how
    many they are), counted since boot (Linux's /proc); None where there is no /proc."""
    try:
        cpus = os.sched_getaffinity(0)
        busy = total = 0
        for line in PROC_STAT.read_text().splitlines():
            name, *v = line.split()
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
                ticks = [int(x) for x in v[:8]]
                busy, total = busy + sum(ticks) - ticks[3] - ticks[4], total + sum(ticks)  # less idle, iowait
        own = PROC_SELF_STAT.read_text().rsplit(")", 1)[1].split()[11:13]  # this process's utime, stime
        return busy - int(own[0]) - int(own[1]), total, len(cpus)
    except (OSError, ValueError, IndexError, AttributeError):
        return None


@functools.cache
def _setters() -> tuple:
    """``openblas_set_num_threads`` of each OpenBLAS that threadpoolctl finds, through ctypes (2-5 µs a call;
    threadpoolctl's own ~16), or () where there is none (MKL, BLIS: the Tuner then stays off)."""
    import ctypes

    found = []
    try:
        from threadpoolctl import ThreadpoolController

        for c in ThreadpoolController().lib_controllers:
            lib = ctypes.CDLL(c.filepath) if c.internal_api == "openblas" else None
            names = [f"{p}openblas_set_num_threads{s}" for p in ("scipy_", "") for s in ("64_", "")]
            f = next((f for f in (getattr(lib, n, None) for n in names) if f is not None), None)
            if f is not None:
                f.argtypes, f.restype = [ctypes.c_int], None
                found.append(f)
    except Exception:  # a BLAS that cannot be reached this way: no tuning, never wrong
        return ()
    return tuple(found)


def _set_blas(n: int) -> None:
    for f in _setters():
        f(n)
