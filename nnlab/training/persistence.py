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

import csv
import io
import json
import time

import numpy as np

from nnlab.runs.checkpoint import save_checkpoint
from nnlab.runs.folder import CHECKPOINTS, LAST, METRICS, atomic_write

BEST = "best.safetensors"


def write_metrics(run_dir, history: list[dict], text: MetricsText | None = None) -> None:
    """metrics.csv, one row per epoch, replaced atomically; ``text`` keeps the rows formatted before."""
    if history:
        atomic_write(run_dir / METRICS, (text or MetricsText())(history))


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


class RunWriter:
    def __init__(self, trainer, interval: float):
        self.trainer = trainer
        self.interval = float(interval)
        self.best_state: tuple[dict, dict] | None = None  # the best epoch's checkpoint, not yet on disk
        self.last_write = float("-inf")
        self.written_epoch = None  # the epoch the files on disk are up to date with
        self.metrics_text = MetricsText()
        self.history_json = HistoryJSON()

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
            tensors, meta = t.checkpoint_state(metrics=False)
            history = {"metrics": self.history_json(t.history)}
            if last:
                save_checkpoint(folder / LAST, tensors, meta, history)
            if epoch_file is not None:
                save_checkpoint(folder / f"epoch-{epoch_file:04d}.safetensors", tensors, meta, history)
        if self.best_state is not None:
            tensors, meta = self.best_state
            save_checkpoint(folder / BEST, tensors, meta, {"metrics": self.history_json(t.history[: meta["epoch"]])})
            self.best_state = None
        write_metrics(t.run_dir, t.history, self.metrics_text)
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
