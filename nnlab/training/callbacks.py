"""Callbacks of the training loop (Keras style): the loop says what happened, a callback each decides what
to do about it.

Events, in the order the loop emits them (``run`` is the ``nnlab.training.loop.Trainer``):

- ``on_train_begin(run)``: once, before the first epoch of this session (also after a resume);
- ``on_epoch_begin(run, epoch)``; ``on_batch(run, epoch, batch, n_batches, loss)`` at most a few times a
  second (never inside the batch loop's hot path otherwise);
- ``on_epoch_end(run, epoch, row)``: ``row`` is the epoch's metrics (epoch, lr, train_loss, ...); a
  callback may add a column to it or ask the run to stop (``run.stop(status, reason)``);
- ``on_interrupt(run, position)``: a signal stopped the run inside an epoch, after the batch that was running;
- ``on_run_end(run)``: the loop is over and ``run.status`` is final, before the test split is evaluated;
  this one event goes from the last callback to the first (the writer completes the folder, then early
  stopping reads the best checkpoint back);
- ``on_train_end(run, summary)``: last, with the summary that was written.

The run's own callbacks (``Trainer.default_callbacks``) come first in this order: the schedule that
watches a metric, convergence (``training.tol``), early stopping, the rule's, the user's, best tracking,
and the run folder's writer last, so that a checkpoint holds the state after every other callback.
"""

from __future__ import annotations

import numpy as np

from nnlab.metrics import improves, metric_mode


class Callback:
    def on_train_begin(self, run) -> None: ...
    def on_epoch_begin(self, run, epoch: int) -> None: ...
    def on_batch(self, run, epoch: int, batch: int, n_batches: int, loss: float) -> None: ...
    def on_epoch_end(self, run, epoch: int, row: dict) -> None: ...
    def on_interrupt(self, run, position: dict) -> None: ...
    def on_run_end(self, run) -> None: ...
    def on_train_end(self, run, summary: dict) -> None: ...


class ScheduleWatch(Callback):
    """Shows each epoch's metrics to the learning-rate schedule (reduce_on_plateau listens)."""

    def on_epoch_end(self, run, epoch, row):
        run.schedule.observe(epoch, row)


class Convergence(Callback):
    """``training.tol``: records Σ|W − W_old| over the epoch as ``weight_change`` and stops the run
    (status ``converged``) when it falls below tol (deck 003's stopping rule)."""

    def __init__(self, tol: float):
        self.tol = tol

    def on_epoch_begin(self, run, epoch):
        if run.epoch_start_weights is None:  # a run resumed inside an epoch has it from its checkpoint
            run.epoch_start_weights = run.net.params["weights"].copy()

    def on_epoch_end(self, run, epoch, row):
        change = float(np.abs(run.net.params["weights"] - run.epoch_start_weights).sum())
        run.epoch_start_weights = None
        row["weight_change"] = change
        if change < self.tol:
            run.stop("converged", f"Σ|W − W_old| = {change:.3g} < tol {self.tol:g}")


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs; with ``restore_best``
    the network ends with the best epoch's weights."""

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, restore_best=True, mode="auto"):
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.restore_best, self.mode = restore_best, metric_mode(monitor, mode)
        self.best, self.wait = None, 0

    def on_epoch_end(self, run, epoch, row):
        value = row.get(self.monitor)
        if improves(value, self.best, self.mode, self.min_delta):
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            run.stop("stopped_early", f"{self.monitor} did not improve for {self.patience} epochs")

    def on_run_end(self, run):
        if self.restore_best and run.status == "stopped_early" and run.best is not None:
            from nnlab.runs.checkpoint import subset

            tensors, _ = run.folder.load_checkpoint("best")
            run.net.load_state_dict(subset(tensors, "model"))

    def state_dict(self):
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state):
        self.best, self.wait = state.get("best"), state.get("wait", 0)


class BestTracker(Callback):
    """Keeps ``run.best``, the epoch with the best value of ``training.monitor`` so far, and sets
    ``run.is_best`` for the run folder's writer. An epoch whose loss is out of ``training.divergence``'s
    bounds (``run.suspect``) is never the best, whatever its metric."""

    def __init__(self, monitor: str):
        self.monitor, self.mode = monitor, metric_mode(monitor)

    def on_epoch_end(self, run, epoch, row):
        value = row.get(self.monitor)
        best = None if run.best is None else run.best["value"]
        run.is_best = not run.suspect and improves(value, best, self.mode)  # never an epoch out of bounds
        if run.is_best:
            run.best = {"epoch": epoch + 1, "monitor": self.monitor, "value": value, "metrics": row}
