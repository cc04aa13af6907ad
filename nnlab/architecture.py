"""From a validated config and the data's shape to a network, a loss and the resolved defaults."""

from __future__ import annotations

import os
import warnings

import numpy as np

from nnlab.components.compat import check_network_fit
from nnlab.components.initializers import INITIALIZERS, default_for
from nnlab.components.layers import Dense, Maxout
from nnlab.config import Config
from nnlab.errors import ConfigError
from nnlab.network import Network
from nnlab.registry import registry


class SymmetryWarning(UserWarning):
    """Weights that start all equal stay equal: every unit of a layer learns the same thing (deck 001)."""


def resolve(config: Config, task: str) -> Config:
    """Fill the defaults that depend on the data: the loss from the task, the output activation from the
    loss, the weight initializer from the activation. Returns a new config (written to the run folder)."""
    config = config.model_copy(deep=True)
    if config.loss is None:
        config.loss = "cross_entropy" if task == "classification" else "mse"
    loss = registry("loss").build(config.loss)
    if task == "regression" and loss.classification:
        raise ConfigError(f"loss: '{loss.registry_name}' is a classification loss, but the data are a regression task")
    model = config.model
    if model.hidden is not None:
        if model.output is None:
            model.output = loss.default_output
        if model.initializer is None:
            model.initializer = default_for(registry("activation").build(model.activation))
        if model.output_initializer is None:
            model.output_initializer = default_for(registry("activation").build(model.output))
    return config


def output_units(loss, splits, config: Config) -> int:
    """Output units the data need: one per class, or one unit alone deciding between two classes (class 1
    where its output is ≥ ½) for a sigmoid with binary cross-entropy, a perceptron's step / sign unit
    (loss ``mistakes``), ADALINE's linear unit, or explicit layers whose last dense layer has ``units: 1``."""
    if splits.task == "classification" and splits.n_classes == 2:
        if loss.registry_name in ("bce", "mistakes"):
            return 1
        if config.training.rule == "adaline" or _last_units(config) == 1:
            return 1
    return splits.n_outputs


def _last_units(config: Config):
    dense = [s for s in config.model.layers or [] if registry("layer").canonical(s["type"]) in ("dense", "maxout")]
    return dense[-1].get("units") if dense else None


def layer_specs(config: Config, n_out: int) -> list[dict]:
    """The explicit layer list: ``model.layers`` as given, or the one ``model.hidden`` stands for."""
    m = config.model
    if m.layers is not None:
        return [dict(s, units=n_out) if s.get("units") == "auto" else dict(s) for s in m.layers]
    specs = []
    for h in m.hidden:
        specs.append(
            {"type": "dense", "units": h, "initializer": m.initializer, "bias_initializer": m.bias_initializer}
        )
        if m.batchnorm:
            specs.append({"type": "batchnorm"})
        specs.append({"type": "activation", "activation": m.activation})
        if m.dropout:
            specs.append({"type": "dropout", "rate": m.dropout})
    specs.append(
        {"type": "dense", "units": n_out, "initializer": m.output_initializer, "bias_initializer": m.bias_initializer}
    )
    specs.append({"type": "activation", "activation": m.output})
    return specs


def build_layers(specs: list[dict]) -> list:
    layers = []
    for i, spec in enumerate(specs):
        kwargs = {k: v for k, v in spec.items() if k != "type"}
        try:
            layer = registry("layer").build({"name": spec["type"], **kwargs})
        except ConfigError as e:
            raise ConfigError(f"model.layers[{i}]: {e}") from None
        layers.append(layer)
    # a dense / maxout layer without an initializer gets the default of the activation that follows it
    single = sum(isinstance(la, (Dense, Maxout)) for la in layers) == 1  # no hidden units to stay identical
    for i, layer in enumerate(layers):
        if isinstance(layer, (Dense, Maxout)) and layer.initializer is None:
            nxt = next((la for la in layers[i + 1 :] if getattr(la, "family", None)), None)
            layer.initializer = default_for(nxt)
        if isinstance(layer, (Dense, Maxout)) and not single and INITIALIZERS.build(layer.initializer).symmetric:
            warnings.warn(
                f"layer {i} ({layer.describe()}): weights initialised all equal ({layer.initializer}) — every unit "
                "receives the same gradient and stays identical to the others (the symmetry problem, deck 001); "
                "use a random initializer such as xavier_normal or he_normal",
                SymmetryWarning,
                stacklevel=2,
            )
    return layers


def memory_estimate(config: Config, n_inputs: int, n_out: int, batch: int = 0) -> dict[str, int]:
    """Bytes a network of ``config`` takes once built and training, before anything is allocated: its
    parameters, their gradients, the optimizer's state (one array per slot, and a scratch one), and the
    activations of a batch of ``batch`` examples (each layer's output and its gradient), in the run's dtype."""
    from nnlab.components.layers import BatchNorm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers = build_layers(layer_specs(config, n_out))
    size = np.dtype(config.dtype).itemsize
    n, params, buffers, units = int(n_inputs), 0, 0, int(n_inputs)
    for layer in layers:
        if isinstance(layer, BatchNorm):  # its build allocates its running statistics: counted, not built
            params, buffers = params + 2 * n, buffers + 2 * n
        else:
            n = int(layer.build(n, np.dtype(config.dtype).type))
            params += sum(int(np.prod(shape, dtype=object)) for shape, _ in layer.param_specs.values())
        units += n
    try:
        slots = len(registry("optimizer").build(config.optimizer).slots) + 1
    except (ConfigError, AttributeError):
        slots = 3
    return {
        "parameters": params * size,
        "gradients": params * size,
        "optimizer": slots * params * size,
        "activations": 2 * units * int(batch) * size + buffers * size,
    }


def available_memory() -> int | None:
    """Bytes this machine can still give (``MemAvailable`` of /proc/meminfo, else the free physical pages);
    None where neither can be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def check_memory(config: Config, n_inputs: int, n_out: int, batch: int = 0) -> None:
    """Refuse, before anything is allocated, a network whose estimate (``memory_estimate``) exceeds the
    memory this machine has available, with the estimate and where it goes."""
    parts = memory_estimate(config, n_inputs, n_out, batch)
    need, have = sum(parts.values()), available_memory()
    if have is None or need <= have:
        return
    detail = ", ".join(f"{k} {_bytes(v)}" for k, v in parts.items() if v)
    at = f" at batch size {batch}" if batch else ""
    raise ConfigError(
        f"model: this network needs about {_bytes(need)} of memory to train{at} ({detail}; {config.dtype}), "
        f"and this machine has {_bytes(have)} available; use fewer or smaller layers (model.hidden)"
        + (", a smaller training.batch_size" if batch > 1 else "")
        + (" or dtype: float32" if np.dtype(config.dtype).itemsize > 4 else "")
    )


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def build_network(config: Config, n_inputs: int, n_out: int, init_rng=None, dropout_rng=None) -> Network:
    bs = config.training.batch_size
    check_memory(config, n_inputs, n_out, bs if isinstance(bs, int) else 0)  # a full batch: Experiment checks
    layers = build_layers(layer_specs(config, n_out))
    dtype = np.dtype(config.dtype)
    try:
        net = Network(layers, n_inputs, dtype, init_rng, dropout_rng)
    except ValueError as e:
        raise ConfigError(f"model: {e}") from None
    if net.n_outputs != n_out:
        raise ConfigError(
            f"model: the network ends with {net.n_outputs} outputs, the data need {n_out}; "
            "give the last dense layer units: auto"
        )
    return net


#: the loss's expected output activation, and differentiable activations for backprop: ``(net, loss, rule)``
check_loss_fits = check_network_fit
