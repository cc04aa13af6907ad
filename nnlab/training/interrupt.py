"""SIGINT / SIGTERM during training: finish the batch, save, stop — instead of dying mid-update.

While ``stop_on_signals(callback)`` is active, the first SIGINT or SIGTERM only calls ``callback(signum)``
(the trainer sets a flag that its batch loop checks); a second one raises ``KeyboardInterrupt`` at once, for
a user who does not want to wait. Outside the main thread Python cannot install handlers, so there the
context does nothing and signals keep their usual effect.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def signal_name(signum: int | None) -> str:
    if signum is None:
        return "an interrupt"
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


@contextmanager
def stop_on_signals(callback: Callable[[int], None]):
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum, frame):
        if received:
            raise KeyboardInterrupt(f"{signal_name(signum)} received twice")
        received.append(signum)
        callback(signum)

    previous = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
