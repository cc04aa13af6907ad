"""Where a sweep's jobs run: in this process, in local worker processes, or on a Dask cluster.

Every executor has the same four calls: ``submit(spec)`` gives a future of ``run_trial(spec)``,
``wait_one(futures)`` the futures that are done (at least one), ``close(kill, futures)`` and ``slots``, the
number of jobs it runs at once. The sweep hands a job to a free slot as soon as one is free.

Local workers watch the sweep's process: a worker whose sweep died (SIGKILL, a crash: nothing could tell it)
exits within a second, and with the workers gone the forkserver and the resource tracker end too, instead
of idling for ever on the dead sweep's pipes.
"""

from __future__ import annotations

import os
import threading
import time

from nnlab.errors import ConfigError
from nnlab.sweep.trial import run_trial

#: seconds between a worker's looks at whether its sweep is still alive
WATCH_INTERVAL = 0.5


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` (Linux: field 22 of /proc/PID/stat), None where it is gone or a
    zombie; "" where /proc cannot tell (another system), which only ``os.kill(pid, 0)`` then checks."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except FileNotFoundError:
        return None
    except OSError:
        return ""
    return None if fields[0] in ("Z", "X") else fields[19]


def alive(pid: int, started: str | None) -> bool:
    """Whether the process ``pid`` that started at ``started`` (``_start_time``) still runs: a pid reused by a
    later process, or a killed process not yet reaped (a zombie), is not."""
    if started == "":
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True
    return _start_time(pid) == started


def _watch(pid: int, started: str | None) -> None:
    while alive(pid, started):
        time.sleep(WATCH_INTERVAL)
    os._exit(70)  # the sweep is gone: nobody will read this trial's result; its run folder keeps what it wrote


def _init_worker(pid: int, started: str | None) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops the sweep cleanly
    threading.Thread(target=_watch, args=(pid, started), daemon=True, name="nnlab-sweep-watch").start()


class Local:
    """Jobs in worker processes, at most ``workers`` at a time."""

    def __init__(self, workers: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # forkserver: one server process imports nnlab once and every worker is a cheap fork of it; safer
        # than forking this process (its BLAS and display threads), faster than spawning fresh interpreters
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        context = multiprocessing.get_context(method)
        if method == "forkserver":
            context.set_forkserver_preload(["nnlab.sweep.trial", "nnlab.training.loop", "pandas"])
        me = os.getpid()
        self.pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init_worker, initargs=(me, _start_time(me))
        )
        self.slots, self.workers = workers, workers

    def submit(self, spec):
        return self.pool.submit(run_trial, spec)

    def wait_one(self, futures):
        from concurrent.futures import FIRST_COMPLETED, wait

        done, _ = wait(futures, return_when=FIRST_COMPLETED)
        return done

    def restart(self) -> Local:
        """A fresh pool after a worker died (the pool is broken then)."""
        self.close(kill=True)
        return Local(self.workers)

    def close(self, kill=False, futures=()):
        if kill:
            # the running jobs cannot be cancelled, only their worker processes stopped; wait until they
            # are gone, so that none writes its run folder after the sweep has marked it interrupted
            processes = list((getattr(self.pool, "_processes", None) or {}).values())
            for p in processes:
                p.terminate()
            for p in processes:
                p.join(5)
                if p.is_alive():
                    p.kill()
                    p.join(5)
        self.pool.shutdown(wait=not kill, cancel_futures=True)


class Dask:
    """Jobs as tasks on a Dask distributed cluster; run folders go to a path every worker shares."""

    def __init__(self, address: str):
        try:
            from distributed import Client
        except ImportError:
            raise ConfigError(
                '--dask needs dask.distributed: pip install "nnlab[dask]" (in a source checkout: pip install -e ".[dask]")'
            ) from None
        try:
            self.client = Client(address, timeout="15s")
        except (OSError, ValueError, TypeError) as e:
            raise ConfigError(f"--dask: cannot reach the scheduler at '{address}': {e}") from None
        self.slots = max(1, sum(self.client.nthreads().values()))

    def submit(self, spec):
        return self.client.submit(run_trial, spec, pure=False)

    def wait_one(self, futures):
        from distributed import wait

        return wait(list(futures), return_when="FIRST_COMPLETED").done

    def restart(self) -> Dask:
        return self

    def close(self, kill=False, futures=()):
        if kill:  # a running task goes on until it sees the sweep's STOP file (SweepStop)
            self.client.cancel(list(futures))
        self.client.close()


class Serial:
    """Each job in this process, when it is submitted."""

    slots = 1

    def submit(self, spec):
        from concurrent.futures import Future

        f = Future()
        f.set_result(run_trial(spec))
        return f

    def wait_one(self, futures):
        return set(futures)

    def restart(self) -> Serial:
        return self

    def close(self, kill=False, futures=()):
        pass


def check_options(workers: int | None = None, threads: int | None = None, trials: int | None = None) -> None:
    """Refuse a bad number before anything is created."""
    for name, value in (("--workers", workers), ("--threads", threads), ("--trials", trials)):
        if value is not None and value < 1:
            raise ConfigError(f"{name} must be ≥ 1, got {value}")


def make_executor(workers: int = 1, dask: str | None = None):
    """The executor for ``workers`` local processes (1: this process) or a Dask scheduler's address."""
    check_options(workers)
    if dask:
        return Dask(dask)
    return Local(workers) if workers > 1 else Serial()
