"""Continue a run in its own folder from ``checkpoints/last.safetensors`` (``nnlab train --resume``).

The continuation is bit-identical to a run that was never stopped: the checkpoint holds the parameters and
buffers, the optimizer and schedule states, early stopping, the best epoch, the metrics so far, the shuffle
and dropout RNG states and, for a run interrupted inside an epoch, its position there (see
``nnlab.training.loop``); the data and their preprocessing are rebuilt from the config's seed and checked
against the checkpoint's statistics. ``metrics.csv`` keeps its rows and gets the new ones after them.

Nothing in the run folder is written until every check has passed: the folder is a run; no other process
is training it; its last checkpoint loads and matches its checksum; its ``config.yaml`` is the config the
checkpoint trained with (``training.epochs`` aside: that is how a run is extended); the data are the ones
it trained on; and something is left to train.
"""

from __future__ import annotations

import warnings

import numpy as np

from nnlab import __version__
from nnlab.components.schedules import build_schedule
from nnlab.config import Config, validate
from nnlab.errors import CheckpointError
from nnlab.experiment import Experiment
from nnlab.runs.checkpoint import load_checkpoint
from nnlab.runs.folder import RunFolder
from nnlab.training import state
from nnlab.training.loop import RunResult, Trainer

FINISHED = ("completed", "stopped_early", "converged")
RUN_STATE = ("config", "epoch", "metrics", "best", "optimizer", "schedule", "rng")  # what state.capture writes


def resume(run_dir, epochs: int | None = None, callbacks=(), handle_signals: bool = True) -> RunResult:
    """Continue the run in ``run_dir`` where its last checkpoint left it, up to ``epochs`` epochs in all
    (default: its config's ``training.epochs``); a finished run needs ``epochs`` to be extended."""
    return open_run(run_dir, epochs, callbacks).fit(handle_signals)


def open_run(run_dir, epochs: int | None = None, callbacks=()) -> Trainer:
    """A trainer restored from ``run_dir``, ready to ``fit()``; ``trainer.resumed_from`` says from where.
    Raises ``CheckpointError`` (nothing written) where the run cannot be continued."""
    folder = RunFolder.open(run_dir)
    run_dir = folder.path
    last = folder.checkpoint_file("last")
    if not last.is_file():
        raise CheckpointError(
            f"'{run_dir}' has no {folder.CHECKPOINTS}/{last.name}: the run stopped before its first epoch ended, "
            f"so there is nothing to resume; start it again with: nnlab train {folder.config_file}"
        )
    folder.check_writable("a resumed run writes its checkpoints and metrics there")
    with folder.lock():  # refuse early a run that another process is training
        pass
    tensors, meta = load_checkpoint(last)
    if any(meta.get(key) is None for key in RUN_STATE if key != "best"):
        raise CheckpointError(f"'{last}' lacks what a run needs to continue ({', '.join(RUN_STATE)})")
    saved, done, position = validate(meta["config"], source=str(last)), int(meta["epoch"]), meta.get("position")
    on_disk = folder.read_config()
    _check_unchanged(on_disk, saved, folder)
    summary = folder.read_summary()
    status = summary.get("status") or "running"
    target = on_disk.training.epochs if epochs is None else int(epochs)
    _check_something_left(folder, status, summary.get("reason") or "", done, target, position, epochs)
    if meta.get("nnlab_version") != __version__:
        by = (
            f"nnlab {meta['nnlab_version']}"
            if meta.get("nnlab_version")
            else "an nnlab that its checkpoint does not name"
        )
        warnings.warn(
            f"the run was trained by {by} and continues with {__version__}: the result may differ from an "
            "uninterrupted run",
            stacklevel=2,
        )
    config = saved.model_copy(deep=True)
    config.training.epochs = target
    trainer = Trainer(Experiment.from_config(config, meta.get("overfit")), folder, callbacks)
    _check_same_data(trainer.experiment, tensors, meta, run_dir)
    _restore(trainer, tensors, meta, last)
    if status in ("stopped_early", "converged") and trainer.early_stopping is not None:
        trainer.early_stopping.wait = 0  # asked for more epochs: early stopping gets its full patience again
    if target != saved.training.epochs:
        _warn_if_schedule_stretches(trainer.experiment, saved, done)
    batch = position["batch"] if position else 0
    trainer.resumed_from = {
        "status": status,
        "epoch": done,
        "batch": batch,
        "n_batches": trainer.experiment.n_batches,
        "epochs": target,
        "epochs_before": saved.training.epochs,
    }
    trainer.resumes.append(state.resume_record(done, batch))
    return trainer


def _restore(trainer: Trainer, tensors: dict, meta: dict, last) -> None:
    """``state.restore``, the fields of the metadata having passed their schema (``runs.meta``): what a
    component makes of its own state, and a position the run cannot have reached, are refused here."""
    position, done, n = meta.get("position"), meta["epoch"], trainer.experiment.n_batches
    if position and (position["epoch"] != done or position["batch"] >= n):
        raise CheckpointError(
            f"'{last}' says the run stopped at batch {position['batch']} of epoch {position['epoch'] + 1}, which a "
            f"run of {done} epochs and {n} batches per epoch cannot have reached; the file was edited after "
            "training: start the run again"
        )
    try:
        state.restore(trainer, tensors, meta)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise CheckpointError(
            f"'{last}' cannot be restored into the run ({type(e).__name__}: {e}); the file was edited after "
            "training or written by another program: start the run again"
        ) from None


def _differences(a, b, path: str = "") -> list[str]:
    """Dotted paths where two config dicts differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            out += _differences(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
        return out
    return [] if a == b else [path]


def _check_unchanged(on_disk: Config, saved: Config, folder: RunFolder) -> None:
    changed = [p for p in _differences(on_disk.to_dict(), saved.to_dict()) if p != "training.epochs"]
    if changed:
        raise CheckpointError(
            f"{folder.config_file} was changed since the run wrote it ({', '.join(changed)}); a resumed run "
            f"continues with the config it trained with (only training.epochs may change, or use --epochs). "
            f"Undo the change, or start a new run from the edited file: nnlab train {folder.config_file}"
        )


def _check_something_left(folder: RunFolder, status, reason, done, target, position, epochs) -> None:
    run_dir, why = folder.path, f" ({reason})" if reason else ""
    if status == "diverged":
        raise CheckpointError(
            f"run '{run_dir}' diverged{why}; resuming from its last good checkpoint would take the same steps "
            f"again. Start a new run with a lower learning rate or gradient clipping: "
            f"nnlab train {folder.config_file} -o optimizer.lr=..."
        )
    needed = done + 1 if position else done
    if target < needed:
        trained = f"{done} epochs" + (" and part of the next" if position else "")
        source = "--epochs" if epochs is not None else f"training.epochs in {folder.config_file}"
        raise CheckpointError(
            f"run '{run_dir}' has already trained {trained}; {source} ({target}) must be at least {needed}"
        )
    extend = f"to train it further, give the new total of epochs: nnlab train --resume {run_dir} --epochs {2 * done}"
    if status in FINISHED and target == done:
        raise CheckpointError(f"run '{run_dir}' is {status}{why} after {done} epochs: nothing is left; {extend}")
    if status in ("stopped_early", "converged") and epochs is None:
        raise CheckpointError(f"run '{run_dir}' {status.replace('_', ' ')}{why} after {done} epochs; {extend}")


def _check_same_data(experiment: Experiment, tensors: dict, meta: dict, run_dir) -> None:
    s, was = experiment.splits, meta.get("data") or {}
    now = {
        "task": s.task,
        "n_features": s.n_features,
        "n_classes": s.n_classes,
        "examples": {"train": len(s.X_train), "val": len(s.X_val), "test": len(s.X_test)},
    }
    problems = [f"{k}: {was[k]} then, {v} now" for k, v in now.items() if k in was and was[k] != v]
    for name, arr in experiment.preprocessor.state().items():
        if name in tensors and not np.array_equal(tensors[name], arr):
            problems.append("the preprocessing statistics differ")
            break
    if problems:
        raise CheckpointError(
            f"the data are not the ones run '{run_dir}' trained on ({'; '.join(problems)}): the dataset or its "
            "files changed, so the run cannot continue as it started; start a new run"
        )


def _warn_if_schedule_stretches(experiment: Experiment, saved: Config, done: int) -> None:
    """Schedules that depend on the run's length (cosine) follow the new length from here on."""
    spb, lr, epochs = experiment.n_batches, experiment.optimizer.lr, experiment.config.training.epochs
    old = build_schedule(saved.schedule, lr, saved.training.epochs, spb)
    new = build_schedule(saved.schedule, lr, epochs, spb)
    steps = [(e, e * spb + k) for e in range(max(done, 1)) for k in (0, spb - 1)]
    if any(old.lr(e, s) != new.lr(e, s) for e, s in steps):
        warnings.warn(
            f"the learning-rate schedule depends on training.epochs: the first {done} epochs followed the "
            f"{saved.training.epochs}-epoch schedule, the next follow the {epochs}-epoch "
            "one, so the run will differ from one trained that long from the start",
            stacklevel=3,
        )
