"""Callbacks of the training loop (Keras style): each hook receives the trainer and plain data.

The library's callbacks decide when to stop (early stopping, a sweep's pruning); the CLI adds one that
renders a progress bar; the run folder is written by training/persistence.py. None of them runs inside the batch loop but ``on_batch``, which the trainer calls at most a
few times a second.
"""

from __future__ import annotations

from nnlab.metrics import improves, metric_mode


class Callback:
    def on_train_begin(self, trainer) -> None: ...
    def on_epoch_begin(self, trainer, epoch: int) -> None: ...
    def on_batch(self, trainer, epoch: int, batch: int, n_batches: int, loss: float) -> None: ...
    def on_epoch_end(self, trainer, epoch: int, row: dict) -> None: ...
    def on_train_end(self, trainer, summary: dict) -> None: ...


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, restore_best=True, mode="auto"):
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.restore_best, self.mode = restore_best, metric_mode(monitor, mode)
        self.best, self.wait = None, 0

    def on_epoch_end(self, trainer, epoch, row):
        value = row.get(self.monitor)
        if improves(value, self.best, self.mode, self.min_delta):
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.stop("stopped_early", f"{self.monitor} did not improve for {self.patience} epochs")

    def state_dict(self):
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state):
        self.best, self.wait = state.get("best"), state.get("wait", 0)
