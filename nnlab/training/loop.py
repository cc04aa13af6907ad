"""The training loop: epochs of shuffled mini-batches, each step taken by the experiment, every event passed
to the callbacks (``nnlab.training.callbacks``), which write the run folder, track the best epoch, stop early
and show progress.

Nothing here parses YAML or renders to a terminal: a ``Trainer`` takes an ``Experiment`` and a
``RunFolder`` and ``fit()`` returns a ``RunResult``; the CLI (or a notebook, or a sweep worker) decides what
to show.

Interruption (SIGINT, SIGTERM) never cuts a batch in half: the signal only sets a flag, the loop finishes
the batch it is in, and the callbacks save ``last`` with the position inside the epoch (``on_interrupt``):
what the rest of the epoch needs is the shuffle RNG state *before* the epoch (its permutation is drawn again
from it), the next batch, the running sums of the epoch's loss, penalty and correct predictions and its
seconds so far. ``resume`` continues from there bit-identically. A second signal aborts at once
(``KeyboardInterrupt``), keeping the last checkpoint written.

A loss that is not finite, or stays out of ``training.divergence``'s bounds (``nnlab.training.diagnostics``),
ends the run ``diverged``: the writer keeps the last good checkpoint as ``last`` and the network ends with it.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnlab.components.scratch import scratch
from nnlab.experiment import Diverged, Experiment
from nnlab.metrics import evaluate, predicted_classes, row_columns
from nnlab.runs.folder import RunFolder
from nnlab.training import state
from nnlab.training.averaging import averaging_callbacks
from nnlab.training.callbacks import BestTracker, Callback, Convergence, EarlyStopping, ScheduleWatch
from nnlab.training.diagnostics import BatchDiagnostics, DivergenceWatch, GradientWatch
from nnlab.training.interrupt import signal_name, stop_on_signals
from nnlab.training.persistence import RunWriter
from nnlab.training.snapshots import Snapshots
from nnlab.training.tensorboard import TensorBoardLogger

PROGRESS_INTERVAL = 0.2  # seconds between progress updates inside an epoch


@dataclass
class RunResult:
    run_dir: Path
    status: str
    summary: dict
    history: list[dict] = field(default_factory=list)
    #: the signal number (SIGINT 2, SIGTERM 15) that interrupted the run, else None
    signal: int | None = None
    #: the experiment that trained: ``result.network`` is its trained network
    experiment: Experiment | None = None
    #: the named parameters as they were when this training began (copies)
    initial_params: dict = field(default_factory=dict)

    @property
    def network(self):
        """The trained network (the best epoch's weights where early stopping restored them)."""
        return self.experiment.net if self.experiment else None


class Trainer:
    """A run in progress: the experiment, its folder, the callbacks and where the training stands."""

    def __init__(self, experiment: Experiment, folder: RunFolder, callbacks=()):
        self.experiment, self.folder = experiment, folder
        cfg = experiment.config
        es = cfg.training.early_stopping
        self.monitor = cfg.training.monitor or default_monitor(experiment)
        has_val, tol = len(experiment.splits.X_val) > 0, bool(cfg.training.tol and "weights" in experiment.net.params)
        #: training.diagnostics: the per-batch gradient figures (None: the training step as it is)
        self.diagnostics = BatchDiagnostics(experiment.net) if cfg.training.diagnostics else None
        layers = len(self.diagnostics.layers) if self.diagnostics else 0
        self.columns = row_columns(experiment.splits.task, has_val, bool(experiment.penalties), tol, layers)
        self.gradients = GradientWatch(experiment.net)  # the last batch's of each epoch: summary.json
        self.suspect = False  # the epoch that just ended is out of training.divergence's bounds
        self.kept_epoch: int | None = None  # a diverged run: the epoch of the last good checkpoint kept
        self.early_stopping = (
            EarlyStopping(es.monitor, es.patience, es.min_delta, es.restore_best, es.mode) if es else None
        )
        self.callbacks: list[Callback] = [*self.default_callbacks(), *callbacks]
        self.callbacks += [
            BestTracker(self.monitor),
            RunWriter(folder, cfg.training.save_interval, cfg.training.checkpoint_every),
        ]
        self.step_callbacks = [cb for cb in self.callbacks if hasattr(cb, "on_step")]  # after every batch
        self.history: list[dict] = []
        self.best: dict | None = None
        self.is_best = False  # whether the epoch that just ended is the best so far (BestTracker)
        self.epoch = 0
        self.status, self.reason = "running", ""
        self.test_metrics: dict = {}
        self.test_checkpoint: dict | None = None  # which checkpoint the test figures are of
        self.initial_loss = None
        self.signal: int | None = None  # set by the first SIGINT / SIGTERM; the loop stops after the batch
        self.position: dict | None = None  # where inside an epoch the run stopped (a mid-epoch checkpoint)
        self.resume_at: dict | None = None  # the position a resumed run starts from
        self.epoch_start_weights: np.ndarray | None = None  # training.tol: weights at the epoch's start
        self.resumed_from: dict | None = None  # set by nnlab.training.resuming
        self.resumes: list[dict] = []
        self.prior_seconds = 0.0  # wall time of the sessions before a resume
        self.started: float | None = None
        self._stop: tuple[str, str] | None = None
        self.initial_params: dict = {}

    def default_callbacks(self) -> list[Callback]:
        cfg, exp = self.experiment.config, self.experiment
        out: list[Callback] = [ScheduleWatch()]
        if cfg.training.tol and "weights" in exp.net.params:
            out.append(Convergence(cfg.training.tol))
        if self.early_stopping is not None:
            out.append(self.early_stopping)
        if cfg.training.snapshots:
            out.append(Snapshots(cfg.training.snapshots))
        div = cfg.training.divergence
        watch = [DivergenceWatch(div.factor, div.patience, exp.expected_initial_loss)] if div else []
        tensorboard = [TensorBoardLogger()] if cfg.training.tensorboard else []
        return out + list(exp.rule.callbacks) + averaging_callbacks(cfg.training) + watch + tensorboard

    # ----- what callbacks and handlers read and call -------------------------------------------
    net = property(lambda self: self.experiment.net)
    splits = property(lambda self: self.experiment.splits)
    config = property(lambda self: self.experiment.config)
    schedule = property(lambda self: self.experiment.schedule)
    n_batches = property(lambda self: self.experiment.n_batches)
    run_dir = property(lambda self: self.folder.path)

    @property
    def config_dict(self) -> dict:
        return self.experiment.config.to_dict()

    def stop(self, status: str, reason: str) -> None:
        """Ask the loop to stop after this epoch (callbacks use it)."""
        self._stop = (status, reason)

    def interrupt(self, signum: int) -> None:
        """Ask the loop to stop after the current batch, as SIGINT / SIGTERM do (status ``interrupted``)."""
        if self.signal is None:
            self.signal = signum

    def wall_seconds(self) -> float:
        now = time.time()
        return round(self.prior_seconds + now - (self.started or now), 3)

    def emit(self, event: str, *args) -> None:
        # on_run_end goes from the last callback to the first, like leaving nested contexts: the run
        # folder's writer completes the folder before early stopping reads the best checkpoint back
        for cb in reversed(self.callbacks) if event == "on_run_end" else self.callbacks:
            getattr(cb, event)(self, *args)

    # ----- the loop -----------------------------------------------------------------------------
    def fit(self, handle_signals: bool = True) -> RunResult:
        """Train to ``training.epochs`` (from where a resumed run stands). With ``handle_signals`` (the
        default; ignored outside the main thread) SIGINT and SIGTERM stop the run after the current batch
        with status ``interrupted`` instead of killing it: check ``result.status``."""
        signals = stop_on_signals(self.interrupt) if handle_signals else contextlib.nullcontext()
        with self.folder.lock(), signals:
            return self._fit()

    def _fit(self) -> RunResult:
        exp = self.experiment
        if self.resumed_from is not None:
            self.folder.remove_stale_temporaries()
        self.started = time.time()
        self.initial_params = {k: v.copy() for k, v in exp.net.named_params().items()}
        exp.optimizer.prepare(exp.net.params)
        if self.initial_loss is None:
            s = exp.splits
            self.initial_loss = evaluate(exp.net, exp.loss, s.X_train[:4096], s.y_train[:4096], s.task)["loss"]
        self.status, self.reason = "running", ""
        self.emit("on_train_begin")
        try:
            self._epochs()
        except BaseException as e:
            self._fail(e)
            raise
        return self._finish()

    def _epochs(self) -> None:
        try:
            for epoch in range(self.epoch, self.experiment.config.training.epochs):
                if self.signal is not None:
                    break
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is caught
                    self._epoch(epoch)
                if self._stop or self.position is not None:
                    break
            else:
                self.status = "completed"
        except Diverged as d:
            self.gradients.largest_now(self.epoch + 1)  # the diverging batch's gradients
            self.status, self.reason = "diverged", self._diverged_reason(d)
            return
        if self._stop:
            self.status, self.reason = self._stop
        elif self.status != "completed":
            self.status, self.reason = "interrupted", self._interrupt_reason()

    def _epoch(self, epoch: int) -> None:
        exp, s = self.experiment, self.experiment.splits
        X, y, n, B = s.X_train, s.y_train, len(s.X_train), exp.batch_size
        self.emit("on_epoch_begin", epoch)
        start, self.resume_at = self.resume_at or {}, None
        shuffle = exp.rngs["shuffle"]
        if start:
            shuffle.bit_generator.state = start["shuffle_state"]
        shuffle_state = shuffle.bit_generator.state  # the epoch's permutation, drawn again on resume
        full = B >= n
        perm = None if full else (shuffle.permutation(n) if exp.config.training.shuffle else np.arange(n))
        if not full:
            xb, yb = scratch(self, "x", (B, X.shape[1]), X.dtype), scratch(self, "y", (B, *y.shape[1:]), y.dtype)
        classify, fused = s.task == "classification", exp.net.fused_split(exp.loss) is not None
        sums = {k: start.get(k, 0) for k in ("train_loss_sum", "penalty_sum", "correct")}
        t0 = time.perf_counter() - start.get("seconds", 0.0)
        last_report, step = time.monotonic(), epoch * exp.n_batches
        train_step = exp.train_step
        if self.diagnostics is not None:
            self.diagnostics.load_state_dict(start.get("diagnostics"))
            train_step = self.diagnostics.wrap(train_step)
        for b in range(start.get("batch", 0), exp.n_batches):
            if full:
                xs, ys = X, y
            else:
                idx = perm[b * B : (b + 1) * B]
                xs, ys = (xb, yb) if len(idx) == B else (xb[: len(idx)], yb[: len(idx)])
                np.take(X, idx, axis=0, out=xs, mode="clip")  # mode "raise" would buffer a copy
                np.take(y, idx, axis=0, out=ys, mode="clip")
            if exp.augment is not None:
                xs = exp.augment(xs, epoch, b)  # a new array: X itself stays as it is
            self.lr, self.batch = exp.schedule.lr(epoch, step + b), b
            value, pen, out = train_step(xs, ys, self.lr)
            for cb in self.step_callbacks:
                cb.on_step(self, epoch, b)
            sums["train_loss_sum"] += value * len(xs)
            sums["penalty_sum"] += pen * len(xs)
            if classify:
                sums["correct"] += int(np.count_nonzero(predicted_classes(out, fused) == ys))
            if time.monotonic() - last_report >= PROGRESS_INTERVAL:
                last_report = time.monotonic()
                self.emit("on_batch", epoch, b + 1, exp.n_batches, value)
            if self.signal is not None and b + 1 < exp.n_batches:
                self.position = {"epoch": epoch, "batch": b + 1, "shuffle_state": shuffle_state, **sums}
                self.position["seconds"] = time.perf_counter() - t0
                if self.diagnostics is not None:
                    self.position["diagnostics"] = self.diagnostics.state_dict()
                self.emit("on_interrupt", self.position)
                return
        self.gradients.measure(epoch + 1)
        row = self._row(sums, t0)
        self.history.append(row)
        self.epoch = epoch + 1
        self.emit("on_epoch_end", epoch, row)

    def _row(self, sums: dict, t0: float) -> dict:
        """The epoch's metrics row, in the columns of ``metrics.row_columns`` (weight_change, last, is added
        by the Convergence callback)."""
        exp, s = self.experiment, self.experiment.splits
        n = len(s.X_train)
        val = evaluate(exp.net, exp.loss, s.X_val, s.y_val, s.task)
        figures = {
            "epoch": self.epoch + 1,
            "lr": self.lr,
            "train_loss": sums["train_loss_sum"] / n,
            "train_accuracy": sums["correct"] / n,
            "penalty": sums["penalty_sum"] / n,
            **{f"val_{k}": v for k, v in val.items()},
            "seconds": time.perf_counter() - t0,
            **(self.diagnostics.row() if self.diagnostics is not None else {}),
        }
        return {c: figures[c] for c in self.columns if c in figures}

    def _test_figures(self) -> dict:
        """The test split's figures of the ``best`` checkpoint, the one ``nnlab eval RUN`` evaluates by
        default (the last weights where no epoch was best): one truth in summary.json, the train command's
        table and eval. The network keeps the weights it ended with."""
        exp, s = self.experiment, self.experiment.splits
        if len(s.X_test) == 0:
            return {}
        if self.best is None or self.best["epoch"] == self.epoch:
            self.test_checkpoint = {"checkpoint": "best" if self.best else "last", "epoch": self.epoch}
            return evaluate(exp.net, exp.loss, s.X_test, s.y_test, s.task)
        from nnlab.runs.checkpoint import subset

        ended = {k: v.copy() for k, v in exp.net.state_dict().items()}
        exp.net.load_state_dict(subset(self.folder.load_checkpoint("best")[0], "model"))
        try:
            figures = evaluate(exp.net, exp.loss, s.X_test, s.y_test, s.task)
        finally:
            exp.net.load_state_dict(ended)
        self.test_checkpoint = {"checkpoint": "best", "epoch": self.best["epoch"]}
        return figures

    def _diverged_reason(self, d: Diverged) -> str:
        return f"the loss became {d.value} at epoch {self.epoch + 1}, batch {self.batch + 1}"

    def _keep_last_good(self) -> None:
        """A diverged run ends with the weights of its last good checkpoint, which the writer kept as ``last``
        (``nnlab.training.persistence``), and its reason says what was seen and what to try."""
        from nnlab.runs.checkpoint import subset

        tensors, meta = self.folder.load_checkpoint("last")
        self.net.load_state_dict(subset(tensors, "model"))
        self.kept_epoch, g = int(meta["epoch"]), self.gradients
        largest = f", the largest gradient norm seen {g.largest:.3g} (epoch {g.largest_epoch})" if g.largest else ""
        kept = "the initial weights" if self.kept_epoch == 0 else f"epoch {self.kept_epoch}"
        base = self.experiment.optimizer.lr
        self.reason += (
            f"; the learning rate was {self.lr:.3g}{largest}. Try a lower learning rate (optimizer.lr, now {base:.3g}:"
            f" e.g. {base / 10:.3g}), gradient clipping (training.grad_clip) or standardized inputs (data.preprocess:"
            f" standardize). The last good checkpoint ({kept}) is kept: checkpoints/last.safetensors"
        )

    def _interrupt_reason(self) -> str:
        name = signal_name(self.signal)
        if self.position is None:
            return f"{name} after epoch {self.epoch}"
        p = self.position
        return f"{name} in epoch {p['epoch'] + 1}, after batch {p['batch']} of {self.experiment.n_batches}"

    def _fail(self, e: BaseException) -> None:
        """An exception left the loop: record why in the summary, tell the callbacks, let it go on."""
        if isinstance(e, KeyboardInterrupt):
            self.status = "interrupted"
            self.reason = f"aborted by a second signal in epoch {self.epoch + 1}; the last checkpoint saved is kept"
        else:
            self.status, self.reason = "failed", f"{type(e).__name__}: {e}"
        summary = state.summary(self)
        self.folder.write_summary(summary)
        for cb in self.callbacks:
            with contextlib.suppress(Exception):
                cb.on_train_end(self, summary)

    def _finish(self) -> RunResult:
        self.emit("on_run_end")  # the folder written; early stopping's best weights restored
        if self.status == "diverged":
            self._keep_last_good()
        elif self.status != "interrupted":
            self.test_metrics = self._test_figures()
        summary = state.summary(self)
        if summary["gradients"] and summary["gradients"]["warning"]:
            warnings.warn(summary["gradients"]["warning"], stacklevel=2)
        self.folder.write_summary(summary)
        self.emit("on_train_end", summary)
        signal = self.signal if self.status == "interrupted" else None
        return RunResult(self.run_dir, self.status, summary, self.history, signal, self.experiment, self.initial_params)


def default_monitor(experiment: Experiment) -> str:
    """The metric that picks the ``best`` checkpoint when ``training.monitor`` is not given: early stopping's,
    where it is on; else the validation accuracy for classification (what one picks a classifier by) and
    the validation loss for regression; the training loss where there is no validation split."""
    es = experiment.config.training.early_stopping
    if es is not None:
        return es.monitor
    if len(experiment.splits.X_val) == 0:
        return "train_loss"
    return "val_accuracy" if experiment.splits.task == "classification" else "val_loss"


def start(config, runs_dir="runs", callbacks=(), overfit: int | None = None) -> Trainer:
    """A new run of ``config`` in a new folder under ``runs_dir``, ready to ``fit()``."""
    RunFolder.check_new(runs_dir, config.name)  # a folder that cannot be made is refused before any work
    experiment = Experiment.from_config(config, overfit)
    return Trainer(experiment, RunFolder.create(runs_dir, experiment.config.name), callbacks)


def train(config, runs_dir="runs", callbacks=(), overfit: int | None = None, handle_signals: bool = True) -> RunResult:
    """Train ``config`` into a new run folder under ``runs_dir``; returns the run's status, summary, history
    and trained network (``result.network``).

    SIGINT / SIGTERM end the run after the current batch with status ``interrupted`` (``result.signal`` says
    which); ``resume(result.run_dir)`` continues it."""
    return start(config, runs_dir, callbacks, overfit).fit(handle_signals)
