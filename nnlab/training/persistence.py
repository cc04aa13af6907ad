"""Bringing the run folder up to date: ``last``, ``best`` and ``epoch-NNNN`` checkpoints, ``metrics.csv`` and
``summary.json``.

They are written after every epoch, except when epochs are shorter than ``training.save_interval`` seconds:
then at most once per interval (the first epoch always), and always at a ``checkpoint_every`` epoch and
when the run stops (end, early stop, convergence, interruption), before ``best`` is read back. The best epoch's state is kept in memory
until it is written, so ``best.safetensors`` always holds the best epoch, not the last one written. A run of
ten thousand tiny epochs thus trains instead of fsyncing; a crash loses at most the last interval, and a
resume continues exactly from whatever ``last`` holds.
"""

from __future__ import annotations

import time

import numpy as np

from nnlab.checkpoint import save_checkpoint
from nnlab.runs import CHECKPOINTS, LAST, METRICS, atomic_write

BEST = "best.safetensors"


def write_metrics(run_dir, history: list[dict]) -> None:
    """metrics.csv, one row per epoch (pandas), replaced atomically."""
    import pandas as pd

    if not history:
        return
    # columns in the order of the newest row: rows restored by a resume come back from JSON key-sorted
    row = history[-1]
    columns = [*row, *(c for c in history[0] if c not in row)]
    frame = pd.DataFrame(history, columns=columns)
    atomic_write(run_dir / METRICS, frame.to_csv(index=False, float_format="%.8g"))


class RunWriter:
    def __init__(self, trainer, interval: float):
        self.trainer = trainer
        self.interval = float(interval)
        self.best_state: tuple[dict, dict] | None = None  # the best epoch's checkpoint, not yet on disk
        self.last_write = float("-inf")
        self.written_epoch = None  # the epoch the files on disk are up to date with

    def epoch_end(self, epoch: int, is_best: bool) -> None:
        """After epoch ``epoch`` (counted from 1): remember a new best, write the folder when it is due."""
        t = self.trainer
        if is_best:
            self.best_state = t.checkpoint_state(copy=True, metrics=False)
        every = t.config.training.checkpoint_every
        keep_epoch = bool(every) and epoch % every == 0
        # the end of the run (last epoch, early stop, interruption) is flushed by the trainer's finish
        if keep_epoch or time.monotonic() - self.last_write >= self.interval:
            self.flush(epoch if keep_epoch else None)

    def flush(self, epoch_file: int | None = None, last: bool = True) -> None:
        """Write everything now: last (and epoch-NNNN), a pending best, metrics.csv, summary.json.
        ``last=False`` keeps the ``last`` already written (a mid-epoch interruption writes its own)."""
        t = self.trainer
        folder = t.run_dir / CHECKPOINTS
        if last or epoch_file is not None:
            tensors, meta = t.checkpoint_state()
            if last:
                save_checkpoint(folder / LAST, tensors, meta)
            if epoch_file is not None:
                save_checkpoint(folder / f"epoch-{epoch_file:04d}.safetensors", tensors, meta)
        if self.best_state is not None:
            tensors, meta = self.best_state
            meta["metrics"] = t.history[: meta["epoch"]]
            save_checkpoint(folder / BEST, tensors, meta)
            self.best_state = None
        write_metrics(t.run_dir, t.history)
        t._write_summary()
        self.last_write = time.monotonic()
        self.written_epoch = t.epoch

    def finish(self, last: bool = True) -> None:
        """At the end of a run: write what is not on disk yet; the summary in any case (its status changed)."""
        if self.written_epoch != self.trainer.epoch or self.best_state is not None:
            self.flush(last=last)
        else:
            self.trainer._write_summary()


def copy_arrays(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in arrays.items()}
