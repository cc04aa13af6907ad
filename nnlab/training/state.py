"""A run's state as a checkpoint holds it, and its summary.

``capture(run)`` gives the tensors and metadata of a checkpoint of this moment: parameters and buffers
(``model.*``), optimizer state (``optim.*``), preprocessing statistics (``preprocess.*``), and as JSON the
resolved config, the epochs done, the metrics rows, the best epoch, the schedule, early stopping and RNG
states, and a mid-epoch position. ``restore(run, tensors, meta)`` puts them back, so that the loop continues
exactly where the checkpoint was written. The format is the one every earlier nnlab wrote: run folders
written before still load and resume (tests/test_legacy_run.py).
"""

from __future__ import annotations

import platform
import time

import numpy as np

from nnlab import __version__
from nnlab.errors import CheckpointError
from nnlab.runs.checkpoint import subset

#: the tensor of a mid-epoch checkpoint that holds the weights at the epoch's start (training.tol)
EPOCH_START_WEIGHTS = "position.weights_at_epoch_start"


def capture(run, copy: bool = False, metrics: bool = True) -> tuple[dict, dict]:
    """The tensors and metadata of a checkpoint of this moment; ``copy`` detaches them from the live arrays
    (to write them later); ``metrics=False`` leaves the metrics rows out (the writer adds them already
    encoded: copying the whole history every epoch would cost O(epochs²))."""
    exp = run.experiment
    tensors = {f"model.{k}": v for k, v in exp.net.state_dict().items()}
    opt_arrays, opt_meta = exp.optimizer.state_dict()
    tensors.update({f"optim.{k}": v for k, v in opt_arrays.items()})
    if copy:
        tensors = {k: np.array(v, copy=True) for k, v in tensors.items()}
    tensors.update(exp.preprocessor.state())
    if run.position is not None and run.epoch_start_weights is not None:
        tensors[EPOCH_START_WEIGHTS] = run.epoch_start_weights
    averages = {}
    for cb in _averaging(run):  # training.swa / ema: their running averages (nnlab.training.averaging)
        arrays, averages[cb.key] = cb.checkpoint_state()
        tensors.update({k: np.array(v, copy=True) if copy else v for k, v in arrays.items()})
    early = run.early_stopping
    meta = {
        "nnlab_version": __version__,
        "epoch": run.epoch,
        "position": run.position,
        "config": run.config_dict,
        "metrics": list(run.history) if metrics else None,
        "best": run.best,
        "optimizer": opt_meta,
        "schedule": exp.schedule.state_dict(),
        "early_stopping": early.state_dict() if early else None,
        "rng": {k: exp.rngs[k].bit_generator.state for k in ("shuffle", "dropout")},
        "data": exp.describe_data(),
        "overfit": exp.overfit,
        "initial_loss": run.initial_loss,
        "wall_seconds": run.wall_seconds(),
        "resumes": run.resumes,
        "gradients": run.gradients.state_dict(),
    }
    if averages:
        meta["averages"] = averages
    return tensors, meta


def _averaging(run) -> list:
    return [cb for cb in getattr(run, "callbacks", ()) if hasattr(cb, "checkpoint_state")]


def restore(run, tensors: dict, meta: dict) -> None:
    """Load a ``capture`` back into a run built from the same config."""
    exp = run.experiment
    try:
        exp.net.load_state_dict(subset(tensors, "model"))
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"the checkpoint does not fit the run's model: {e}") from None
    exp.optimizer.load_state_dict(subset(tensors, "optim"), meta["optimizer"])
    exp.schedule.load_state_dict(meta["schedule"])
    if run.early_stopping is not None and meta.get("early_stopping"):
        run.early_stopping.load_state_dict(meta["early_stopping"])
    run.history = [dict(row) for row in meta["metrics"]]
    run.best = meta["best"]
    run.epoch = int(meta["epoch"])
    for k in ("shuffle", "dropout"):  # the dropout layers share the run's dropout Generator
        exp.rngs[k].bit_generator.state = meta["rng"][k]
    run.initial_loss = meta.get("initial_loss")
    run.prior_seconds = float(meta.get("wall_seconds") or 0.0)
    run.resumes = list(meta.get("resumes") or [])
    run.gradients.load_state_dict(meta.get("gradients"))
    run.resume_at = meta.get("position")
    run.epoch_start_weights = tensors.get(EPOCH_START_WEIGHTS) if run.resume_at else None
    for cb in _averaging(run):
        cb.load_checkpoint_state(tensors, (meta.get("averages") or {}).get(cb.key))


def summary(run) -> dict:
    """summary.json: status, epochs, the best epoch, the last row, test figures, wall time, versions."""
    import pydantic

    exp, s = run.experiment, run.experiment.splits
    return {
        "name": exp.config.name,
        "status": run.status,
        "reason": run.reason,
        "epochs": run.epoch,
        "epochs_planned": exp.config.training.epochs,
        "seed": exp.config.seed,
        "task": s.task,
        "model": exp.net.describe(),
        "parameters": exp.net.n_params,
        "examples": {"train": len(s.X_train), "val": len(s.X_val), "test": len(s.X_test)},
        "initial_loss": run.initial_loss,
        "expected_initial_loss": exp.expected_initial_loss,
        "best": run.best,
        "final": run.history[-1] if run.history else {},
        "test": {f"test_{k}": v for k, v in run.test_metrics.items()},
        "test_checkpoint": run.test_checkpoint,
        "overfit": overfit_check(run),
        "gradients": run.gradients.summary(),
        "wall_seconds": run.wall_seconds(),
        "threads": exp.threads.record(),
        "resumes": run.resumes,
        **_averaged_figures(run),
        "versions": {
            "nnlab": __version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pydantic": pydantic.__version__,
        },
    }


def _averaged_figures(run) -> dict:
    """``{"averages": {"swa": {...}}}``: the figures of the averaged models (training.swa / ema), once saved."""
    figures = {cb.key: cb.figures for cb in _averaging(run) if cb.figures}
    return {"averages": figures} if figures else {}


def overfit_check(run) -> dict | None:
    """With ``--overfit N`` (deck 002's sanity check): did the network fit its N examples? Every one right
    for classification; for regression, a training loss below 1 % of the first epoch's."""
    n = run.experiment.overfit
    if not n or not run.history:
        return None
    last = run.history[-1]
    examples = len(run.experiment.splits.X_train)
    if "train_accuracy" in last:
        fitted = last["train_accuracy"] == 1.0
        return {"examples": examples, "train_accuracy": last["train_accuracy"], "fitted": fitted}
    first = run.history[0]["train_loss"]
    return {"examples": examples, "train_loss": last["train_loss"], "fitted": last["train_loss"] < 0.01 * first}


def resume_record(epoch: int, batch: int) -> dict:
    return {"epoch": epoch, "batch": batch, "at": time.strftime("%Y-%m-%dT%H:%M:%S")}
