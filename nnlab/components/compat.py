"""Which losses, output activations and training rules go together: the one answer, asked of a config before
anything is computed and of a built network before it trains.

- A loss may expect an output activation (``expects_output``): cross-entropy a softmax, binary
  cross-entropy a sigmoid, the perceptron's ``mistakes`` a step or a sign, the hinge a linear output.
- Backpropagation needs a derivative from every activation and from the loss (deck 000: H' = δ). The step
  and the sign are zero almost everywhere, the mistake count piecewise constant: usable for inference and
  by the perceptron rule, not by backpropagation.
"""

from __future__ import annotations

from collections.abc import Iterable

from nnlab.errors import ConfigError, did_you_mean


def check_fit(loss, output: str | None = None, activations: Iterable[tuple[str, object]] = (), rule="backprop"):
    """Raise a ``ConfigError`` with the reason where ``rule`` cannot train this model with this loss.

    ``loss``: a built loss (None: not chosen yet); ``output``: the output activation's canonical name (None:
    not known yet); ``activations``: ``(where, activation)`` pairs in the order of the layers, ``where``
    naming the place for the message (``model.activation``, ``model.layers[1].activation``).
    """
    if rule == "backprop":
        for where, act in activations:
            if not act.differentiable:
                raise ConfigError(
                    f"{where}: '{act.registry_name}' has a derivative that is zero almost everywhere, so "
                    "backpropagation cannot train through it; use {name: sigmoid, c: 10} (a steep sigmoid that "
                    "approximates the step, deck 000), or training.rule: perceptron for a single layer of step units"
                )
        if loss is not None and not loss.differentiable:
            raise ConfigError(
                f"loss: '{loss.registry_name}' is piecewise constant (its gradient is zero wherever it exists), so "
                "backpropagation cannot learn from it; use a differentiable loss (cross_entropy, bce, mse) or "
                "training.rule: perceptron"
            )
    if loss is not None and output is not None and loss.expects_output and output not in loss.expects_output:
        raise ConfigError(
            f"loss '{loss.registry_name}' needs a {' or '.join(loss.expects_output)} output, the model ends in {output}"
        )


def check_network_fit(net, loss, rule: str = "backprop") -> None:
    """``check_fit`` for a built network: its activation layers, and its last layer as the output."""
    shape = net.describe()
    activations = [
        (f"model (layer {i} in {shape})", la.activation)
        for i, la in enumerate(net.layers)
        if getattr(la, "activation", None) is not None
    ]
    last = net.layers[-1]
    output = last.activation.registry_name if getattr(last, "activation", None) is not None else last.describe()
    check_fit(loss, output, activations, rule)


def check_loss_fits_classes(loss, task: str, n_classes: int) -> None:
    """Binary cross-entropy scores one yes/no per output: on three classes or more it would train one sigmoid
    per class, each alone, and predict by the largest of them (a multi-label model, not a classifier)."""
    if loss.registry_name == "bce" and task == "classification" and n_classes > 2:
        raise ConfigError(
            f"loss: 'bce' (binary cross-entropy) is for two classes, and the data have {n_classes}; use "
            "loss: cross_entropy (with a softmax output) to pick one class among them"
        )


def check_monitors(monitors: dict[str, str], columns: list[str], task: str, has_val: bool) -> None:
    """Every metric a run watches (``monitors``: the config's key → the metric's name) is one of the
    ``columns`` its metrics.csv will have (``nnlab.metrics.row_columns``); otherwise early stopping would stop
    after its patience, or no epoch would ever be best."""
    for where, name in monitors.items():
        if name in columns:
            continue
        known = [c for c in columns if c not in ("epoch", "seconds")]
        if task == "regression" and name.endswith("accuracy"):
            why = "a regression has no accuracy; watch " + ("val_r2 or val_loss" if has_val else "train_loss")
        elif name.startswith("val_") and not has_val:
            instead = "train_" + name[4:] if "train_" + name[4:] in known else "train_loss"
            why = f"the run has no validation split (data.split.val is 0); watch {instead} or set data.split.val"
        else:
            why = f"the run writes {', '.join(known)}{did_you_mean(name, known)}"
        raise ConfigError(f"{where}: '{name}' is not a metric this run measures: {why}")
