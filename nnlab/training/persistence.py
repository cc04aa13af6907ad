"""Bringing the run folder up to date (``RunWriter``, a callback): ``last``, ``best`` and ``epoch-NNNN``
checkpoints, ``metrics.csv`` and ``summary.json``, all through ``RunFolder``.

They are written after every epoch, except when epochs are shorter than ``training.save_interval`` seconds:
then at most once per interval (the first epoch always), and always at a ``checkpoint_every`` epoch and
when the run stops (end, early stop, convergence, interruption), before ``best`` is read back. The best epoch's state is kept in memory
until it is written, so ``best.safetensors`` always holds the best epoch, not the last one written. A run of
ten thousand tiny epochs thus trains instead of fsyncing; a crash loses at most the last interval, and a
resume continues exactly from whatever ``last`` holds.
"""

from __future__ import annotations

import csv
import io
import json
import time

import numpy as np

from nnlab.training import state
from nnlab.training.callbacks import Callback
from nnlab.training.state import capture


class MetricsText:
    """metrics.csv's text, each row formatted once and kept: floats as %.8g, NaN and missing values empty,
    quoting where a value needs it (what pandas' ``to_csv(float_format="%.8g")`` writes). A run of ten
    thousand tiny epochs writes its history every second; through pandas that took ~90 ms a write at
    10 000 rows, most of a 10 000-step XOR run's writing."""

    def __init__(self):
        self.columns: list[str] | None = None
        self.rows: list[dict] = []  # the rows formatted, the very objects of the history
        self.lines: list[str] = []

    def __call__(self, history: list[dict]) -> str:
        # columns in the order of the newest row: rows restored by a resume come back from JSON key-sorted
        row = history[-1]
        columns = [*row, *(c for c in history[0] if c not in row)]
        if columns != self.columns or len(self.rows) > len(history) or not _same_rows(self.rows, history):
            self.columns, self.rows, self.lines = columns, [], []  # new columns, or another history: start again
        new = history[len(self.rows) :]
        self.lines.append(_csv_lines([[_cell(r.get(c)) for c in columns] for r in new]))
        self.rows.extend(new)
        return _csv_lines([columns]) + "".join(self.lines)


class HistoryJSON:
    """The history as the JSON a checkpoint holds, each row encoded once and kept (``json.dumps`` of the
    whole list took ~30 ms at 10 000 rows, twice a write). A prefix of the history (the best epoch's
    checkpoint) is a prefix of the same rows."""

    def __init__(self):
        self.rows: list[dict] = []
        self.texts: list[str] = []

    def __call__(self, history: list[dict]) -> str:
        if not _same_rows(self.rows, history):
            self.rows, self.texts = [], []  # another history (a resumed run's rows)
        for row in history[len(self.rows) :]:
            self.rows.append(row)
            self.texts.append(json.dumps(row, sort_keys=True))
        return "[" + ", ".join(self.texts[: len(history)]) + "]"


def _same_rows(kept: list[dict], history: list[dict]) -> bool:
    """Whether the rows kept are the history's own (the very objects), as far as both go: rows are never
    changed once appended, so their text stays valid while they are."""
    return all(a is b for a, b in zip(kept, history))


def _cell(v) -> str:
    if v is None or (isinstance(v, (float, np.floating)) and v != v):
        return ""
    if isinstance(v, (float, np.floating)):
        return f"{v:.8g}"
    return str(v)


def _csv_lines(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


class RunWriter(Callback):
    """The run folder's writer: the last callback of a run (see the module's docstring for when it writes)."""

    def __init__(self, folder, interval: float, checkpoint_every: int | None):
        self.folder = folder
        self.interval = float(interval)
        self.every = checkpoint_every
        self.best_state: tuple[dict, dict] | None = None  # the best epoch's checkpoint, not yet on disk
        self.last_write = float("-inf")
        self.written_epoch = None  # the epoch the files on disk are up to date with
        self.metrics_text = MetricsText()
        self.history_json = HistoryJSON()
        self.initial: tuple[dict, dict] | None = None  # the run's start, until a ``last`` is on disk

    def on_train_begin(self, run):
        self.folder.write_config(run.experiment.config.to_yaml())
        self.write_summary(run)
        if not self.folder.checkpoint_file("last").is_file():
            self.initial = capture(run, copy=True)  # the last good checkpoint of a run diverging at once

    def on_epoch_end(self, run, epoch, row):
        """Remember a new best; write the folder when it is due (the run's end is written by on_run_end). An
        epoch out of ``training.divergence``'s bounds is not written: ``last`` stays the last good one."""
        if run.suspect:
            return
        if run.is_best:
            self.best_state = capture(run, copy=True, metrics=False)
        done = epoch + 1
        keep_epoch = bool(self.every) and done % self.every == 0
        if keep_epoch or time.monotonic() - self.last_write >= self.interval:
            self.flush(run, done if keep_epoch else None)

    def on_interrupt(self, run, position):
        """``last`` in the middle of an epoch, with the position the rest of the epoch needs."""
        tensors, meta = capture(run)
        self.folder.save_checkpoint("last", tensors, meta)
        self.initial = None

    def on_run_end(self, run):
        """Write what is not on disk yet (a mid-epoch interruption has written its own ``last``). A diverged
        run keeps the ``last`` it has (the run's start where it has none) and gets every metrics row."""
        if run.status == "diverged":
            self.flush(run, last=False)
            if self.initial is not None:
                self.folder.save_checkpoint("last", *self.initial)
            return
        if self.written_epoch != run.epoch or self.best_state is not None:
            self.flush(run, last=run.position is None)

    def flush(self, run, epoch_file: int | None = None, last: bool = True) -> None:
        """Write everything now: last (and epoch-NNNN), a pending best, metrics.csv, summary.json."""
        if last or epoch_file is not None:
            tensors, meta = capture(run, metrics=False)
            history = {"metrics": self.history_json(run.history)}
            if last:
                self.folder.save_checkpoint("last", tensors, meta, history)
                self.initial = None
            if epoch_file is not None:
                self.folder.save_checkpoint(epoch_file, tensors, meta, history)
        if self.best_state is not None:
            tensors, meta = self.best_state
            history = {"metrics": self.history_json(run.history[: meta["epoch"]])}
            self.folder.save_checkpoint("best", tensors, meta, history)
            self.best_state = None
        if run.history:
            self.folder.write_metrics(self.metrics_text(run.history))
        self.write_summary(run)
        self.last_write = time.monotonic()
        self.written_epoch = run.epoch

    def write_summary(self, run) -> dict:
        summary = state.summary(run)
        self.folder.write_summary(summary)
        return summary
