"""Callbacks of the training loop (Keras style): each hook receives the trainer and plain data.

The library's callbacks decide when to stop (early stopping, a sweep's pruning); the CLI adds one that
renders a progress bar; the run folder is written by training/persistence.py. None of them runs inside the batch loop but ``on_batch``, which the trainer calls at most a
few times a second.
"""

from __future__ import annotations

import math


class Callback:
    def on_train_begin(self, trainer) -> None: ...
    def on_epoch_begin(self, trainer, epoch: int) -> None: ...
    def on_batch(self, trainer, epoch: int, batch: int, n_batches: int, loss: float) -> None: ...
    def on_epoch_end(self, trainer, epoch: int, row: dict) -> None: ...
    def on_train_end(self, trainer, summary: dict) -> None: ...


def better(value: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def mode_of(monitor: str, mode: str = "auto") -> str:
    if mode != "auto":
        return mode
    return "max" if any(k in monitor for k in ("acc", "r2", "f1")) else "min"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, restore_best=True, mode="auto"):
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.restore_best, self.mode = restore_best, mode_of(monitor, mode)
        self.best, self.wait = None, 0

    def on_epoch_end(self, trainer, epoch, row):
        value = row.get(self.monitor)
        if better(value, self.best, self.mode, self.min_delta):
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.stop("stopped_early", f"{self.monitor} did not improve for {self.patience} epochs")

    def state_dict(self):
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state):
        self.best, self.wait = state.get("best"), state.get("wait", 0)
