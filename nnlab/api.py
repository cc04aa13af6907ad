"""The library for a notebook: build a network from a config, train it, check its gradients, load a run.

    import nnlab
    exp = nnlab.build({"data": {"name": "xor"}, "model": {"hidden": [4], "activation": "tanh"}})
    value, out = exp.net.loss_and_backward(exp.splits.X_train, exp.splits.y_train, exp.loss)
    exp.net.named_grads()["layers.0.W"]           # ∂J/∂W of the first dense layer
    nnlab.gradcheck(exp)                          # against centred finite differences
    result = nnlab.train(exp.config, runs_dir="runs")
    result.network.predict(exp.splits.X_test)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from nnlab.config import Config, load_config, parse_config, validate
from nnlab.errors import ConfigError


def as_config(config, overrides=(), seed: int | None = None) -> Config:
    """A validated ``Config`` from a ``Config``, a mapping (the YAML's structure), a path to a YAML file, or
    YAML text; ``overrides`` are ``key.path=value`` strings as on the command line."""
    if isinstance(config, Config):
        if not overrides and seed is None:
            return config
        return parse_config(config.to_yaml(), list(overrides), seed=seed)
    if isinstance(config, Mapping):
        if not overrides and seed is None:
            return validate(dict(config))
        from nnlab.config import dump_yaml

        return parse_config(dump_yaml(dict(config)), list(overrides), seed=seed)
    if isinstance(config, str) and "\n" in config:
        return parse_config(config, list(overrides), seed=seed)
    if isinstance(config, (str, Path)):
        return load_config(config, list(overrides), seed=seed)
    raise ConfigError(f"a config is a Config, a mapping, a YAML file's path or YAML text, got {type(config).__name__}")


def build(config, overrides=(), seed: int | None = None, overfit: int | None = None):
    """The ``Experiment`` of a config: its data split and preprocessed, network (``.net``), loss,
    optimizer, schedule, regularizers and random streams, built as ``nnlab train`` builds them, nothing
    trained and nothing written. ``config``: see ``as_config``."""
    from nnlab.experiment import Experiment

    return Experiment.from_config(as_config(config, overrides, seed), overfit)


def train(config, runs_dir="runs", overrides=(), seed: int | None = None, **kwargs):
    """Train a config (see ``as_config``) into a new run folder under ``runs_dir``, as ``nnlab train`` does.
    Returns a ``RunResult``: ``status``, ``summary``, ``history``, ``run_dir``, the trained ``network`` and
    its ``initial_params``. Keyword arguments: ``callbacks``, ``overfit``, ``handle_signals``."""
    from nnlab.training.loop import train as train_config

    return train_config(as_config(config, overrides, seed), runs_dir, **kwargs)


def gradcheck(config, **kwargs):
    """``nnlab gradcheck`` from Python: a config (see ``as_config``; built in float64) or an ``Experiment``
    (checked as it stands). Keyword arguments: ``samples``, ``eps``, ``tol``, ``max_entries``, ``seed``."""
    from nnlab.experiment import Experiment
    from nnlab.gradient_check import gradcheck as check

    return check(config if isinstance(config, Experiment) else as_config(config), **kwargs)
