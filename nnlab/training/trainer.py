"""The trainer: epochs of shuffled mini-batches, metrics, checkpoints, early stopping, the run folder.

Nothing here parses YAML or renders to a terminal: ``train(config)`` takes a validated ``Config`` and
returns a ``RunResult``; the CLI (or a notebook, or a sweep worker) decides what to show.

Interruption (SIGINT, SIGTERM) never cuts a batch in half: the signal only sets a flag, the loop finishes
the batch it is in, saves ``last.safetensors`` with its position inside the epoch (see ``_save_position``)
and returns a result with status ``interrupted``; ``nnlab.training.resume`` continues from there
bit-identically. A second signal aborts at once (``KeyboardInterrupt``), keeping the last checkpoint written.
"""

from __future__ import annotations

import contextlib
import math
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnlab import __version__, parallel
from nnlab.architecture import build_network, output_units, resolve
from nnlab.components.regularizers import build_regularizers
from nnlab.components.schedules import build_schedule
from nnlab.config import Config
from nnlab.data.core import load_splits
from nnlab.errors import CheckpointError, ConfigError
from nnlab.metrics import evaluate, improves, metric_mode, predicted_classes
from nnlab.registry import registry
from nnlab.runs.checkpoint import save_checkpoint, subset
from nnlab.runs.folder import (
    CHECKPOINTS,
    CONFIG,
    LAST,
    SUMMARY,
    atomic_write,
    hold_run_dir,
    new_run_dir,
    remove_stale_temporaries,
    write_json,
)
from nnlab.seeds import streams
from nnlab.training.callbacks import Callback, EarlyStopping
from nnlab.training.interrupt import signal_name, stop_on_signals
from nnlab.training.persistence import BEST, RunWriter, copy_arrays
from nnlab.training.rules import build_rule

PROGRESS_INTERVAL = 0.2  # seconds between progress updates inside an epoch
EPOCH_START_WEIGHTS = "position.weights_at_epoch_start"  # tensor of a mid-epoch checkpoint when tol is set


@dataclass
class RunResult:
    run_dir: Path
    status: str
    summary: dict
    history: list[dict] = field(default_factory=list)
    #: the signal number (SIGINT 2, SIGTERM 15) that interrupted the run, else None
    signal: int | None = None


class Trainer:
    def __init__(self, config: Config, runs_dir="runs", callbacks=(), overfit: int | None = None, run_dir=None):
        if overfit is not None and overfit < 1:
            raise ConfigError(f"--overfit must be a positive number of examples, got {overfit}")
        self.splits, self.preprocessor = load_splits(config.data, config.seed, np.dtype(config.dtype))
        self.overfit = overfit
        if overfit:
            self._overfit(overfit)
        self.config = resolve(config, self.splits.task)
        cfg = self.config
        rng = {k: np.random.default_rng(ss) for k, ss in streams(cfg.seed).items()}
        self.shuffle_rng, self.dropout_rng = rng["shuffle"], rng["dropout"]
        self.loss = registry("loss").build(cfg.loss)
        n_out = output_units(self.loss, self.splits, cfg)
        self.net = build_network(cfg, self.splits.n_features, n_out, rng["init"], self.dropout_rng)
        self.optimizer = registry("optimizer").build(cfg.optimizer)
        parallel.refresh()  # the optimizer's update uses as many threads as BLAS may, now
        # training.rule: backprop, or the perceptron / ADALINE rules of deck 002 (training/rules.py)
        self.rule = build_rule(cfg, self.net, self.loss, self.splits.task, self.optimizer.lr)
        n = len(self.splits.X_train)
        bs = cfg.training.batch_size
        self.batch_size = n if bs == "full" else min(int(bs), n)
        self.n_batches = math.ceil(n / self.batch_size)
        self.schedule = build_schedule(cfg.schedule, self.optimizer.lr, cfg.training.epochs, self.n_batches)
        regs = build_regularizers(cfg.regularization)
        self.penalties = [r for r in regs if not r.is_constraint]
        self.constraints = [r for r in regs if r.is_constraint]
        has_val = len(self.splits.X_val) > 0
        self.monitor = cfg.training.monitor or ("val_loss" if has_val else "train_loss")
        self.monitor_mode = metric_mode(self.monitor)
        es = cfg.training.early_stopping
        self.early = EarlyStopping(es.monitor, es.patience, es.min_delta, es.restore_best, es.mode) if es else None
        self.callbacks: list[Callback] = [*self.rule.callbacks, *callbacks]
        self.history: list[dict] = []
        self.best: dict | None = None
        self.epoch = 0
        self.status, self.reason = "running", ""
        self._stop = None
        self.run_dir = Path(run_dir) if run_dir else new_run_dir(runs_dir, cfg.name)
        self.initial_loss = None
        self.signal: int | None = None  # set by the first SIGINT / SIGTERM; the loop stops after the batch
        self.position: dict | None = None  # where inside an epoch the run stopped (a mid-epoch checkpoint)
        self.resumed_from: dict | None = None  # set by nnlab.training.resume
        self.resumes: list[dict] = []
        self.prior_seconds = 0.0  # wall time of the sessions before a resume
        self._resume_at: tuple[dict, np.ndarray | None] | None = None
        self.writer = RunWriter(self, cfg.training.save_interval)
        self._config_dict = cfg.to_dict()

    # ----- setup helpers ------------------------------------------------------------------------
    def _overfit(self, k: int):
        """Keep k training examples and validate on the same ones (deck 002's sanity check)."""
        s = self.splits
        k = min(k, len(s.X_train))
        s.X_train, s.y_train = s.X_train[:k].copy(), s.y_train[:k].copy()
        s.X_val, s.y_val = s.X_train, s.y_train

    def stop(self, status: str, reason: str) -> None:
        """Ask the loop to stop after this epoch (callbacks use it)."""
        self._stop = (status, reason)

    def interrupt(self, signum: int) -> None:
        """Ask the loop to stop after the current batch, as SIGINT / SIGTERM do (status ``interrupted``)."""
        if self.signal is None:
            self.signal = signum

    @property
    def expected_initial_loss(self) -> float | None:
        """ln C for cross-entropy over C classes (deck 002's sanity check)."""
        if self.loss.registry_name == "cross_entropy" and self.splits.n_classes > 1:
            return math.log(self.splits.n_classes)
        if self.loss.registry_name == "bce":
            return math.log(2)
        return None

    # ----- the loop -----------------------------------------------------------------------------
    def fit(self, handle_signals: bool = True) -> RunResult:
        """Train to ``training.epochs`` (from where a resumed trainer stands). With ``handle_signals`` (the
        default; ignored outside the main thread) SIGINT and SIGTERM stop the run after the current batch
        with status ``interrupted`` instead of killing it: check ``result.status``."""
        signals = stop_on_signals(self.interrupt) if handle_signals else contextlib.nullcontext()
        with hold_run_dir(self.run_dir), signals:
            return self._fit()

    def _fit(self) -> RunResult:
        cfg = self.config
        if self.resumed_from is not None:
            remove_stale_temporaries(self.run_dir)
        atomic_write(self.run_dir / CONFIG, cfg.to_yaml())
        self._config_dict = cfg.to_dict()  # a resume may have changed training.epochs
        self.started = time.time()
        if self.initial_loss is None:
            self.initial_loss = evaluate(
                self.net, self.loss, self.splits.X_train[:4096], self.splits.y_train[:4096], self.splits.task
            )["loss"]
        self.status, self.reason = "running", ""
        self._write_summary()
        for cb in self.callbacks:
            cb.on_train_begin(self)
        try:
            for epoch in range(self.epoch, cfg.training.epochs):
                if self.signal is not None:
                    break
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is caught below
                    self._run_epoch(epoch)
                if self._stop or self.position is not None:
                    break
            else:
                self.status = "completed"
            if self._stop:
                self.status, self.reason = self._stop
            elif self.status != "completed":
                self.status, self.reason = "interrupted", self._interrupt_reason()
        except _Diverged as d:
            self.status, self.reason = "diverged", str(d)
        except BaseException as e:
            if isinstance(e, KeyboardInterrupt):
                self.status = "interrupted"
                self.reason = f"aborted by a second signal in epoch {self.epoch + 1}; the last checkpoint saved is kept"
            else:
                self.status, self.reason = "failed", f"{type(e).__name__}: {e}"
            summary = self._write_summary()
            for cb in self.callbacks:
                with contextlib.suppress(Exception):
                    cb.on_train_end(self, summary)
            raise
        return self._finish()

    def _interrupt_reason(self) -> str:
        name = signal_name(self.signal)
        if self.position is None:
            return f"{name} after epoch {self.epoch}"
        p = self.position
        return f"{name} in epoch {p['epoch'] + 1}, after batch {p['batch']} of {self.n_batches}"

    def _run_epoch(self, epoch: int) -> None:
        s, net = self.splits, self.net
        X, y = s.X_train, s.y_train
        n, B = len(X), self.batch_size
        for cb in self.callbacks:
            cb.on_epoch_begin(self, epoch)
        t0 = time.perf_counter()
        full = B >= n
        start, w_old = self._resume_at if self._resume_at else ({}, None)
        self._resume_at = None
        if start:
            self.shuffle_rng.bit_generator.state = start["shuffle_state"]
        shuffle_state = self.shuffle_rng.bit_generator.state  # the epoch's permutation, drawn again on resume
        perm = None if full else (self.shuffle_rng.permutation(n) if self.config.training.shuffle else np.arange(n))
        if not full:
            xb, yb = self._batch_buffers(B, X, y)
        classify = s.task == "classification"
        fused = net.fused_split(self.loss) is not None
        if w_old is None and self.config.training.tol and "weights" in net.params:
            w_old = net.params["weights"].copy()
        total_loss, total_pen = start.get("train_loss_sum", 0.0), start.get("penalty_sum", 0.0)
        correct = start.get("correct", 0)
        t0 -= start.get("seconds", 0.0)
        last_report = time.monotonic()
        step = epoch * self.n_batches
        for b in range(start.get("batch", 0), self.n_batches):
            if full:
                xs, ys = X, y
            else:
                idx = perm[b * B : (b + 1) * B]
                m = len(idx)
                xs, ys = (xb, yb) if m == B else (xb[:m], yb[:m])
                np.take(X, idx, axis=0, out=xs, mode="clip")  # mode "raise" would buffer a copy
                np.take(y, idx, axis=0, out=ys, mode="clip")
            lr = self.schedule.lr(epoch, step + b)
            value, pen, out = self.train_step(xs, ys, lr, epoch, b)
            total_pen += pen * len(xs)
            total_loss += value * len(xs)
            if classify:
                correct += int(np.count_nonzero(predicted_classes(out, fused) == ys))
            now = time.monotonic()
            if now - last_report >= PROGRESS_INTERVAL:
                last_report = now
                for cb in self.callbacks:
                    cb.on_batch(self, epoch, b + 1, self.n_batches, value)
            if self.signal is not None and b + 1 < self.n_batches:
                position = {
                    "epoch": epoch,
                    "batch": b + 1,
                    "shuffle_state": shuffle_state,
                    "train_loss_sum": total_loss,
                    "penalty_sum": total_pen,
                    "correct": correct,
                    "seconds": time.perf_counter() - t0,
                }
                return self._save_position(position, w_old)
        row = {"epoch": epoch + 1, "lr": lr, "train_loss": total_loss / n}
        if classify:
            row["train_accuracy"] = correct / n
        if self.penalties:
            row["penalty"] = total_pen / n
        val = evaluate(net, self.loss, s.X_val, s.y_val, s.task)
        for k, v in val.items():
            if k in ("loss", "accuracy", "r2"):
                row[f"val_{k}"] = v
        row["seconds"] = time.perf_counter() - t0
        if w_old is not None:
            change = float(np.abs(net.params["weights"] - w_old).sum())
            row["weight_change"] = change
            if change < self.config.training.tol:
                self.stop("converged", f"Σ|W − W_old| = {change:.3g} < tol {self.config.training.tol:g}")
        self.history.append(row)
        self.epoch = epoch + 1
        self.schedule.observe(epoch, row)
        if self.early is not None:  # before the checkpoint, which must hold the state after this epoch
            self.early.on_epoch_end(self, epoch, row)
        for cb in self.callbacks:
            cb.on_epoch_end(self, epoch, row)
        value = row.get(self.monitor)
        is_best = improves(value, None if self.best is None else self.best["value"], self.monitor_mode)
        if is_best:
            self.best = {"epoch": epoch + 1, "monitor": self.monitor, "value": value, "metrics": row}
        self.writer.epoch_end(epoch + 1, is_best)

    def _batch_buffers(self, B, X, y):
        """The batch's gather buffers, kept from epoch to epoch."""
        bufs = getattr(self, "_bufs", None)
        if bufs is None or bufs[0].shape[0] != B:
            bufs = self._bufs = (np.empty((B, X.shape[1]), X.dtype), np.empty((B, *y.shape[1:]), y.dtype))
        return bufs

    def train_step(self, xs, ys, lr: float, epoch: int = 0, batch: int = 0) -> tuple[float, float, np.ndarray]:
        """One optimisation step on a batch: forward, loss, backward, penalties, clipping, the optimizer's
        update, constraints. Returns the batch's mean loss, its penalty and the forward output (logits where
        the loss is fused). Allocates nothing at steady state (tests/test_speed.py holds it to that)."""
        net = self.net
        value, out = self.rule.learn(xs, ys, self.loss)  # backprop, or the perceptron / delta rule
        pen = 0.0
        if self.penalties:
            w, gw = net.params["weights"], net.grads["weights"]
            for r in self.penalties:
                pen += r.penalty(w)
                r.add_grad(w, gw)
        if not math.isfinite(value + pen):
            raise _Diverged(
                f"the loss became {value + pen} at epoch {epoch + 1}, batch {batch + 1}; try a lower learning rate "
                f"(optimizer.lr, now {lr:g}) or gradient clipping (training.grad_clip)"
            )
        if self.config.training.grad_clip:
            self._clip(self.config.training.grad_clip)
        self.optimizer.step(net.params, net.grads, lr)
        for c in self.constraints:
            for W in net.weight_matrices():
                c.constrain(W)
        return value, pen, out

    def _save_position(self, position: dict, w_old: np.ndarray | None) -> None:
        """Write ``last`` in the middle of an epoch, after the batch that was running when a signal came.

        Why mid-epoch rather than rolling back to the end of the last full epoch: a large epoch's work is
        not thrown away. What the rest of the epoch needs is recorded: the shuffle RNG state *before* the
        epoch (the permutation is drawn again from it), the next batch, the running sums of the epoch's
        loss, penalty and correct predictions, its seconds so far, and, with ``tol``, the weights at the
        epoch's start. Parameters, buffers, optimizer and dropout RNG are saved as they are after the batch,
        like at an epoch end. ``meta["epoch"]`` still counts finished epochs and ``metrics`` their rows."""
        self.position = position
        tensors, meta = self.checkpoint_state()
        if w_old is not None:
            tensors[EPOCH_START_WEIGHTS] = w_old
        save_checkpoint(self.run_dir / CHECKPOINTS / LAST, tensors, meta)

    def _clip(self, max_norm: float) -> None:
        norm = math.sqrt(sum(float(np.dot(g, g)) for g in self.net.grads.values()))
        if norm > max_norm:
            for g in self.net.grads.values():
                g *= g.dtype.type(max_norm / norm)

    # ----- checkpoints and the summary --------------------------------------------------------
    def checkpoint_state(self, copy: bool = False, metrics: bool = True) -> tuple[dict, dict]:
        """The tensors and metadata of a checkpoint of this moment; ``copy`` detaches them from the live
        arrays (to write them later); ``metrics=False`` leaves the metrics rows out (the caller adds
        ``history[:epoch]`` when it writes: copying the whole history every epoch would cost O(epochs²))."""
        tensors = {f"model.{k}": v for k, v in self.net.state_dict().items()}
        opt_arrays, opt_meta = self.optimizer.state_dict()
        tensors.update({f"optim.{k}": v for k, v in opt_arrays.items()})
        if copy:
            tensors = copy_arrays(tensors)
        tensors.update(self.preprocessor.state())
        s = self.splits
        meta = {
            "nnlab_version": __version__,
            "epoch": self.epoch,
            "position": self.position,
            "config": self._config_dict,
            "metrics": list(self.history) if metrics else None,
            "best": self.best,
            "optimizer": opt_meta,
            "schedule": self.schedule.state_dict(),
            "early_stopping": self.early.state_dict() if self.early else None,
            "rng": {"shuffle": self.shuffle_rng.bit_generator.state, "dropout": self.dropout_rng.bit_generator.state},
            "data": {
                "task": s.task,
                "n_features": s.n_features,
                "n_outputs": self.net.n_outputs,
                "n_classes": s.n_classes,
                "class_names": s.class_names,
                "feature_names": s.feature_names,
                "examples": {"train": len(s.X_train), "val": len(s.X_val), "test": len(s.X_test)},
            },
            "overfit": self.overfit,
            "initial_loss": self.initial_loss,
            "wall_seconds": self._wall_seconds(),
            "resumes": self.resumes,
        }
        return tensors, meta

    def restore(self, tensors: dict, meta: dict) -> None:
        """Load a ``checkpoint_state()`` back into this trainer (built from the same config), so that ``fit``
        continues exactly where it was written, mid-epoch included."""
        try:
            self.net.load_state_dict(subset(tensors, "model"))
        except (KeyError, ValueError) as e:
            raise CheckpointError(f"the checkpoint does not fit the run's model: {e}") from None
        self.optimizer.load_state_dict(subset(tensors, "optim"), meta["optimizer"])
        self.schedule.load_state_dict(meta["schedule"])
        if self.early is not None and meta.get("early_stopping"):
            self.early.load_state_dict(meta["early_stopping"])
        self.history = [dict(row) for row in meta["metrics"]]
        self.best = meta["best"]
        self.epoch = int(meta["epoch"])
        self.shuffle_rng.bit_generator.state = meta["rng"]["shuffle"]
        self.dropout_rng.bit_generator.state = meta["rng"]["dropout"]  # the dropout layers share this Generator
        self.initial_loss = meta.get("initial_loss")
        self.prior_seconds = float(meta.get("wall_seconds") or 0.0)
        self.resumes = list(meta.get("resumes") or [])
        position = meta.get("position")
        self._resume_at = (position, tensors.get(EPOCH_START_WEIGHTS)) if position else None

    def _finish(self) -> RunResult:
        self.writer.finish(last=self.position is None)  # a mid-epoch interruption has written its own 'last'
        restore = self.early is not None and self.early.restore_best and self.status == "stopped_early"
        if restore and self.best is not None:
            from nnlab.runs.checkpoint import load_checkpoint

            tensors, _ = load_checkpoint(self.run_dir / CHECKPOINTS / BEST)
            self.net.load_state_dict(subset(tensors, "model"))
        s = self.splits
        self.test_metrics = (
            evaluate(self.net, self.loss, s.X_test, s.y_test, s.task)
            if self.status not in ("diverged", "interrupted")
            else {}
        )
        summary = self._write_summary()
        for cb in self.callbacks:
            cb.on_train_end(self, summary)
        signal = self.signal if self.status == "interrupted" else None
        return RunResult(self.run_dir, self.status, summary, self.history, signal)

    def _wall_seconds(self) -> float:
        return round(self.prior_seconds + time.time() - getattr(self, "started", time.time()), 3)

    def _write_summary(self) -> dict:
        import numpy
        import pydantic

        last = self.history[-1] if self.history else {}
        summary = {
            "name": self.config.name,
            "status": self.status,
            "reason": self.reason,
            "epochs": self.epoch,
            "epochs_planned": self.config.training.epochs,
            "seed": self.config.seed,
            "task": self.splits.task,
            "model": self.net.describe(),
            "parameters": self.net.n_params,
            "examples": {
                "train": len(self.splits.X_train),
                "val": len(self.splits.X_val),
                "test": len(self.splits.X_test),
            },
            "initial_loss": self.initial_loss,
            "expected_initial_loss": self.expected_initial_loss,
            "best": self.best,
            "final": last,
            "test": {f"test_{k}": v for k, v in getattr(self, "test_metrics", {}).items()},
            "wall_seconds": self._wall_seconds(),
            "resumes": self.resumes,
            "versions": {
                "nnlab": __version__,
                "python": platform.python_version(),
                "numpy": numpy.__version__,
                "pydantic": pydantic.__version__,
            },
        }
        write_json(self.run_dir / SUMMARY, summary)
        return summary


class _Diverged(Exception):
    pass


def train(
    config: Config, runs_dir="runs", callbacks=(), overfit: int | None = None, handle_signals: bool = True
) -> RunResult:
    """Train ``config`` into a new run folder under ``runs_dir``; returns the run's status and summary.

    SIGINT / SIGTERM end the run after the current batch with status ``interrupted`` (``result.signal`` says
    which); ``resume(result.run_dir)`` continues it."""
    return Trainer(config, runs_dir, callbacks, overfit).fit(handle_signals)
