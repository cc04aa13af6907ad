"""The estimators' constructor arguments as an nnlab config: which key each argument sets, and the
``config=`` mapping (or YAML file) that gives everything else.

A key that an argument sets cannot also come from ``config=``: the argument is the one place for it (an
error names the argument to use), so that ``get_params`` / ``set_params`` (``GridSearchCV``) always see
what trains.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Mapping
from pathlib import Path

import numpy as np

#: config keys (dotted) set by an argument: config= may not give them
OWNED = {
    "seed": "random_state",
    "data.name": "fit(X, y)",
    "data.split": "early_stopping and validation_fraction",
    "model.hidden": "hidden_layer_sizes",
    "model.layers": "hidden_layer_sizes",
    "model.activation": "activation",
    "model.dropout": "dropout",
    "model.batchnorm": "batch_norm",
    "loss": "loss",
    "optimizer.name": "solver",
    "optimizer.lr": "learning_rate_init",
    "optimizer.beta1": "beta_1",
    "optimizer.beta2": "beta_2",
    "optimizer.eps": "epsilon",
    "optimizer.momentum": "momentum",
    "optimizer.nesterov": "nesterovs_momentum",
    "regularization.l2": "alpha",
    "training.epochs": "max_iter",
    "training.batch_size": "batch_size",
    "training.shuffle": "shuffle",
    "training.early_stopping": "early_stopping, n_iter_no_change and tol",
    "training.monitor": "early_stopping",
}

#: scikit-learn's names for losses, where nnlab's differ
LOSSES = {"squared_error": "mse", "log_loss": "cross_entropy"}


def base_config(config) -> dict:
    """``config=`` as a plain mapping: None, a mapping (copied, never changed) or a YAML file's path."""
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return copy.deepcopy(dict(config))
    if isinstance(config, (str, Path)):
        from nnlab.config import load_yaml

        path = Path(config)
        if not path.is_file():
            raise ValueError(f"config: file '{config}' not found")
        raw = load_yaml(path.read_text())
        if raw is not None and not isinstance(raw, Mapping):
            raise ValueError(f"config: '{config}' does not hold a mapping of config keys")
        return dict(raw or {})
    raise ValueError(f"config must be None, a dict or the path of a YAML file, got {type(config).__name__}")


def check_not_owned(base: dict) -> None:
    for dotted, argument in OWNED.items():
        node = base
        for part in dotted.split("."):
            node = node.get(part, _MISSING) if isinstance(node, Mapping) else _MISSING
        if dotted == "optimizer.name" and isinstance(base.get("optimizer"), str):
            node = base["optimizer"]
        if node is not _MISSING:
            raise ValueError(f"config: '{dotted}' is set by the estimator's argument {argument}; give it there")


_MISSING = object()


def hidden_sizes(value) -> list[int]:
    sizes = [value] if isinstance(value, numbers.Integral) else list(value)
    for h in sizes:
        if not isinstance(h, numbers.Integral) or isinstance(h, bool) or h < 1:
            raise ValueError(f"hidden_layer_sizes must hold positive integers, got {value!r}")
    return [int(h) for h in sizes]


def batch(batch_size, n_samples: int) -> int:
    """scikit-learn's rule: 'auto' is min(200, n_samples); a larger batch is clipped to the data."""
    if batch_size == "auto":
        return min(200, n_samples)
    if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be 'auto' or a positive integer, got {batch_size!r}")
    return min(int(batch_size), n_samples)


def seed_of(random_state) -> int:
    """An int random_state is the run's seed as it is (``random_state=0`` trains as ``seed: 0``); None or a
    RandomState draws one."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative integer, got {random_state}")
        return int(random_state)
    from sklearn.utils import check_random_state

    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _positive(p, names):
    for name in names:
        v = p[name]
        if not isinstance(v, numbers.Real) or isinstance(v, bool) or not v > 0:
            raise ValueError(f"{name} must be a number > 0, got {v!r}")


def _optimizer(p, base_optimizer) -> dict:
    extra = dict(base_optimizer) if isinstance(base_optimizer, Mapping) else {}
    spec = {**extra, "name": p["solver"], "lr": float(p["learning_rate_init"])}
    if p["solver"] == "adam":
        spec.update(beta1=float(p["beta_1"]), beta2=float(p["beta_2"]), eps=float(p["epsilon"]))
    elif p["solver"] == "sgd":
        spec.update(momentum=float(p["momentum"]), nesterov=bool(p["nesterovs_momentum"] and p["momentum"] > 0))
    return spec


def stopping(p, task: str) -> tuple[str, float, int]:
    """scikit-learn's stopping rule, as (the metrics column it watches, tol, n_iter_no_change): with
    ``early_stopping`` the validation score (accuracy, R²), otherwise the training loss with its penalty
    (the column ``train_loss``; ``nnlab.sklearn.base.Plateau`` adds the penalty)."""
    if not isinstance(p["n_iter_no_change"], numbers.Integral) or p["n_iter_no_change"] < 1:
        raise ValueError(f"n_iter_no_change must be a positive integer, got {p['n_iter_no_change']!r}")
    if not isinstance(p["tol"], numbers.Real) or not p["tol"] >= 0:
        raise ValueError(f"tol must be a number ≥ 0, got {p['tol']!r}")
    monitor = "train_loss"
    if p["early_stopping"]:
        monitor = "val_accuracy" if task == "classification" else "val_r2"
    return monitor, float(p["tol"]), int(p["n_iter_no_change"])


def to_config(p: dict, task: str, n_samples: int, dtype: str, incremental: bool = False) -> dict:
    """The nnlab config of the estimator's parameters ``p`` (``get_params()``) for ``n_samples`` examples
    in ``dtype``; ``incremental``: one pass of partial_fit (no validation split, no stopping rule)."""
    base = base_config(p["config"])
    check_not_owned(base)
    _positive(p, ("learning_rate_init", "max_iter"))
    if not isinstance(p["alpha"], numbers.Real) or not p["alpha"] >= 0:
        raise ValueError(f"alpha must be a number ≥ 0, got {p['alpha']!r}")
    if not 0 < p["validation_fraction"] < 1:
        raise ValueError(f"validation_fraction must be in (0, 1), got {p['validation_fraction']!r}")
    bs = batch(p["batch_size"], n_samples)
    val = p["validation_fraction"] if p["early_stopping"] and not incremental else 0.0
    cfg = {**base, "name": base.get("name", f"sklearn-{task}"), "seed": seed_of(p["random_state"])}
    cfg.setdefault("dtype", dtype)
    cfg["data"] = {**base.get("data", {}), "name": "arrays", "split": {"val": val, "test": 0.0}}
    # weights drawn as scikit-learn draws them for relu, tanh and identity: Glorot uniform, U(±√(6/(n_in+n_out)))
    model = {"initializer": "xavier_uniform", "output_initializer": "xavier_uniform", **base.get("model", {})}
    model.update(hidden=hidden_sizes(p["hidden_layer_sizes"]), activation=p["activation"])
    model.update(dropout=float(p["dropout"]), batchnorm=bool(p["batch_norm"]))
    cfg["model"] = model
    if p["loss"] is not None:
        cfg["loss"] = LOSSES.get(p["loss"], p["loss"])
    cfg["optimizer"] = _optimizer(p, base.get("optimizer"))
    regularization = dict(base.get("regularization") or {})
    if p["alpha"]:
        regularization["l2"] = float(p["alpha"]) / bs  # scikit-learn: α/2 Σw² over a batch's SUM of losses
    cfg["regularization"] = regularization
    training = {**base.get("training", {}), "epochs": 1 if incremental else int(p["max_iter"]), "batch_size": bs}
    training.update(shuffle=bool(p["shuffle"]), monitor=stopping(p, task)[0] if not incremental else None)
    cfg["training"] = training
    return cfg
