"""Continue a run in its own folder from ``checkpoints/last.safetensors`` (``nnlab train --resume``).

The continuation is bit-identical to a run that was never stopped: the checkpoint holds the parameters and
buffers, the optimizer and schedule states, early stopping, the best epoch, the metrics so far, the shuffle
and dropout RNG states and, for a run interrupted inside an epoch, its position there (see
``Trainer._save_position``); the data and their preprocessing are rebuilt from the config's seed and checked
against the checkpoint's statistics. ``metrics.csv`` keeps its rows and gets the new ones after them.

Nothing in the run folder is written until every check has passed: the folder is a run; no other process
is training it; its last checkpoint loads and matches its checksum; its ``config.yaml`` is the config the
checkpoint trained with (``training.epochs`` aside: that is how a run is extended); the data are the ones
it trained on; and something is left to train.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

from nnlab import __version__
from nnlab.components.schedules import build_schedule
from nnlab.config import Config, load_config, validate
from nnlab.errors import CheckpointError
from nnlab.runs.checkpoint import load_checkpoint
from nnlab.runs.folder import CHECKPOINTS, CONFIG, LAST, check_run_dir, hold_run_dir, read_summary
from nnlab.training.trainer import RunResult, Trainer

FINISHED = ("completed", "stopped_early", "converged")
RUN_STATE = ("config", "epoch", "metrics", "best", "optimizer", "schedule", "rng")  # what checkpoint_state writes


def resume(run_dir, epochs: int | None = None, callbacks=(), handle_signals: bool = True) -> RunResult:
    """Continue the run in ``run_dir`` where its last checkpoint left it, up to ``epochs`` epochs in all
    (default: its config's ``training.epochs``); a finished run needs ``epochs`` to be extended."""
    return open_run(run_dir, epochs, callbacks).fit(handle_signals)


def open_run(run_dir, epochs: int | None = None, callbacks=()) -> Trainer:
    """A trainer restored from ``run_dir``, ready to ``fit()``; ``trainer.resumed_from`` says from where.
    Raises ``CheckpointError`` (nothing written) where the run cannot be continued."""
    run_dir = check_run_dir(run_dir)
    last = run_dir / CHECKPOINTS / LAST
    if not last.is_file():
        raise CheckpointError(
            f"'{run_dir}' has no {CHECKPOINTS}/{LAST}: the run stopped before its first epoch ended, so there is "
            f"nothing to resume; start it again with: nnlab train {run_dir / CONFIG}"
        )
    with hold_run_dir(run_dir):  # refuse early a run that another process is training
        pass
    tensors, meta = load_checkpoint(last)
    if any(key not in meta for key in RUN_STATE):
        raise CheckpointError(f"'{last}' lacks what a run needs to continue ({', '.join(RUN_STATE)})")
    saved, done, position = validate(meta["config"], source=str(last)), int(meta["epoch"]), meta.get("position")
    on_disk = load_config(run_dir / CONFIG)
    _check_unchanged(on_disk, saved, run_dir)
    summary = read_summary(run_dir)
    status = summary.get("status") or "running"
    target = on_disk.training.epochs if epochs is None else int(epochs)
    _check_something_left(run_dir, status, summary.get("reason") or "", done, target, position, epochs)
    if meta.get("nnlab_version") != __version__:
        warnings.warn(
            f"the run was trained by nnlab {meta.get('nnlab_version')} and continues with {__version__}: "
            "the result may differ from an uninterrupted run",
            stacklevel=2,
        )
    config = saved.model_copy(deep=True)
    config.training.epochs = target
    trainer = Trainer(config, run_dir=run_dir, callbacks=callbacks, overfit=meta.get("overfit"))
    _check_same_data(trainer, tensors, meta, run_dir)
    trainer.restore(tensors, meta)
    if status in ("stopped_early", "converged") and trainer.early is not None:
        trainer.early.wait = 0  # asked for more epochs: early stopping gets its full patience again
    if target != saved.training.epochs:
        _warn_if_schedule_stretches(trainer, saved, done)
    trainer.resumed_from = {
        "status": status,
        "epoch": done,
        "batch": position["batch"] if position else 0,
        "n_batches": trainer.n_batches,
        "epochs": target,
        "epochs_before": saved.training.epochs,
    }
    trainer.resumes.append(
        {"epoch": done, "batch": trainer.resumed_from["batch"], "at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    )
    return trainer


def _differences(a, b, path: str = "") -> list[str]:
    """Dotted paths where two config dicts differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            out += _differences(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
        return out
    return [] if a == b else [path]


def _check_unchanged(on_disk: Config, saved: Config, run_dir: Path) -> None:
    changed = [p for p in _differences(on_disk.to_dict(), saved.to_dict()) if p != "training.epochs"]
    if changed:
        raise CheckpointError(
            f"{run_dir / CONFIG} was changed since the run wrote it ({', '.join(changed)}); a resumed run "
            f"continues with the config it trained with (only training.epochs may change, or use --epochs). "
            f"Undo the change, or start a new run from the edited file: nnlab train {run_dir / CONFIG}"
        )


def _check_something_left(run_dir, status, reason, done, target, position, epochs) -> None:
    why = f" ({reason})" if reason else ""
    if status == "diverged":
        raise CheckpointError(
            f"run '{run_dir}' diverged{why}; resuming from its last good checkpoint would take the same steps "
            f"again. Start a new run with a lower learning rate or gradient clipping: "
            f"nnlab train {run_dir / CONFIG} -o optimizer.lr=..."
        )
    needed = done + 1 if position else done
    if target < needed:
        trained = f"{done} epochs" + (" and part of the next" if position else "")
        source = "--epochs" if epochs is not None else f"training.epochs in {run_dir / CONFIG}"
        raise CheckpointError(
            f"run '{run_dir}' has already trained {trained}; {source} ({target}) must be at least {needed}"
        )
    extend = f"to train it further, give the new total of epochs: nnlab train --resume {run_dir} --epochs {2 * done}"
    if status in FINISHED and target == done:
        raise CheckpointError(f"run '{run_dir}' is {status}{why} after {done} epochs: nothing is left; {extend}")
    if status in ("stopped_early", "converged") and epochs is None:
        raise CheckpointError(f"run '{run_dir}' {status.replace('_', ' ')}{why} after {done} epochs; {extend}")


def _check_same_data(trainer: Trainer, tensors: dict, meta: dict, run_dir: Path) -> None:
    s, was = trainer.splits, meta.get("data") or {}
    now = {
        "task": s.task,
        "n_features": s.n_features,
        "n_classes": s.n_classes,
        "examples": {"train": len(s.X_train), "val": len(s.X_val), "test": len(s.X_test)},
    }
    problems = [f"{k}: {was[k]} then, {v} now" for k, v in now.items() if k in was and was[k] != v]
    for name, arr in trainer.preprocessor.state().items():
        if name in tensors and not np.array_equal(tensors[name], arr):
            problems.append("the preprocessing statistics differ")
            break
    if problems:
        raise CheckpointError(
            f"the data are not the ones run '{run_dir}' trained on ({'; '.join(problems)}): the dataset or its "
            "files changed, so the run cannot continue as it started; start a new run"
        )


def _warn_if_schedule_stretches(trainer: Trainer, saved: Config, done: int) -> None:
    """Schedules that depend on the run's length (cosine) follow the new length from here on."""
    spb = trainer.n_batches
    old = build_schedule(saved.schedule, trainer.optimizer.lr, saved.training.epochs, spb)
    new = build_schedule(saved.schedule, trainer.optimizer.lr, trainer.config.training.epochs, spb)
    steps = [(e, e * spb + k) for e in range(max(done, 1)) for k in (0, spb - 1)]
    if any(old.lr(e, s) != new.lr(e, s) for e, s in steps):
        warnings.warn(
            f"the learning-rate schedule depends on training.epochs: the first {done} epochs followed the "
            f"{saved.training.epochs}-epoch schedule, the next follow the {trainer.config.training.epochs}-epoch "
            "one, so the run will differ from one trained that long from the start",
            stacklevel=3,
        )
