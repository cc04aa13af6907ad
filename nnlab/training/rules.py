"""How the weights learn (``training.rule``): backpropagation, or the single-neuron rules of decks 000 and 002.

- ``backprop`` (the default): the loss's gradient, passed back through every layer (decks 000–004).
- ``perceptron``: Rosenblatt's rule (~1957, deck 002) on one layer of step (or sign) units, one example at a
  time: ``w ← w + α (d − y) x``, ``b ← b + α (d − y)``, where y = φ(w·x + b) is the unit's output and d the
  target. H(z) = 1 for z ≥ 0 (deck 000; deck 002's Mark I writes w·x + b > 0, which differs only on the line
  itself). Each unit learns on its own, so several classes are one unit per class (one-vs-rest).
- ``adaline``: Widrow and Hoff's delta rule (~1960, deck 002) on linear units y = w·x + b, per example or per
  batch: ``w ← w + μ Σᵢ (dᵢ − yᵢ) xᵢ``, ``b ← b + μ Σᵢ (dᵢ − yᵢ)``, gradient descent on ½ Σᵢ (dᵢ − yᵢ)². The
  sum over the batch is the deck's (not a mean): with B examples a batch step is B times one example's.
  For classes the targets are d ∈ {0, 1} (one-hot for several) and the output is thresholded at ½.

The two rules have one form, ``Δw = α Σ (d − y) x``; they differ in y: the step's 0/1 decision for the
perceptron, the linear output itself for ADALINE. Each rule is a ``learn(x, y, loss) -> (loss, outputs)``
that fills the network's gradients for one batch; the trainer then takes the optimizer's step. The classic
rules hand plain SGD the "gradient" ``g = −Σ (d − y) x``, so that its step ``w ← w − α g`` is the deck's
update, exactly, with α = ``optimizer.lr``. Everything else (the run folder, metrics, checkpoints, schedules,
the network [dense, activation] and its state) is what every other run has.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from nnlab.components.compat import check_fit, check_network_fit
from nnlab.components.layers import ActivationLayer, Dense
from nnlab.components.losses import dense_target
from nnlab.errors import ConfigError
from nnlab.registry import registry
from nnlab.training.callbacks import Callback

#: defaults of the single-neuron rules: α = optimizer.lr, one example at a time, weights from zero
RULE_DEFAULTS = {
    "perceptron": {"optimizer": {"name": "sgd", "lr": 1.0}, "loss": "mistakes", "batch_size": 1},
    "adaline": {"optimizer": {"name": "sgd", "lr": 0.01}, "loss": "mse", "batch_size": 1},
}

_NO_HIDDEN = {
    "perceptron": "the perceptron rule trains a single layer of step units, so the model has no hidden layer "
    "(hidden: []): the rule corrects each output unit by its own error d − y, a hidden unit has no target d, "
    "and the step's derivative is zero, so no error can be passed back to it. A hidden layer needs "
    "training.rule: backprop with differentiable units such as sigmoid (configs/classic/xor_11_lines.yaml)",
    "adaline": "ADALINE is a single layer of linear units trained by the delta rule, so the model has no hidden "
    "layer (hidden: []): linear layers stacked are still one linear map, and a non-linear hidden layer "
    "needs training.rule: backprop",
}
_OUTPUTS = {
    "perceptron": "a step (Heaviside, targets d ∈ {0, 1}) or sign (targets d ∈ {−1, +1}) output",
    "adaline": "a linear output (identity, slope k = 1): the delta rule is derived for y = w·x + b",
}


@dataclass
class Rule:
    name: str
    #: ``learn(x, y, loss) -> (batch loss, outputs)``: fills the network's grads for the optimizer's step
    learn: Callable
    callbacks: list = field(default_factory=list)


def build_rule(config, net, loss, task: str, lr: float) -> Rule:
    """The configured rule for ``net``, after checking that it can train this network and loss."""
    rule = config.training.rule
    check_network_fit(net, loss, rule)
    if rule == "backprop":
        return Rule(rule, net.loss_and_backward)
    dense, act = _single_layer(net, rule)
    if rule == "perceptron":
        if task != "classification":
            raise ConfigError(
                "training.rule: the perceptron classifies (step outputs), but the data are a regression task"
            )
        bipolar = act.activation.registry_name == "sign"
        return Rule(rule, SingleLayerRule(net, dense, bipolar).learn, [PerceptronStop(lr)])
    return Rule(rule, SingleLayerRule(net, dense, bipolar=False).learn)


# ----- the config: what each rule can train, checked before any data are read -------------------------------


def with_rule_defaults(raw):
    """The raw config with the perceptron's or ADALINE's defaults (``RULE_DEFAULTS``) where it gives none."""
    training = raw.get("training") if isinstance(raw, dict) else None
    rule = training.get("rule") if isinstance(training, dict) else None
    defaults = RULE_DEFAULTS.get(rule) if isinstance(rule, str) else None
    if defaults is None:
        return raw
    raw = {**raw, "training": {"batch_size": defaults["batch_size"], **training}}
    for key in ("optimizer", "loss"):
        if raw.get(key) is None:
            raw[key] = defaults[key]
    model = raw.get("model")
    if isinstance(model, dict) and model.get("hidden") == [] and model.get("output_initializer") is None:
        raw["model"] = {**model, "output_initializer": "zeros"}
    return raw


def check_config(cfg) -> None:
    """Raise a ``ConfigError`` where ``cfg.training.rule`` cannot train ``cfg.model`` with ``cfg.loss``."""
    rule = cfg.training.rule
    if rule != "backprop":
        _check_single_neuron_rule(cfg)
    loss = None if cfg.loss is None else registry("loss").build(cfg.loss)
    check_fit(loss, _output_name(cfg), _activations(cfg), rule)


def _canonical(kind: str, spec) -> tuple[str, dict]:
    name, kwargs = registry(kind).split_spec(spec)
    return registry(kind).canonical(name), kwargs


def _is_activation_layer(spec: dict) -> bool:
    return registry("layer").canonical(spec["type"]) == "activation"


def _activations(cfg) -> list[tuple[str, object]]:
    """The config's activations in the order of the layers, each with its place."""
    m, specs = cfg.model, []
    if m.hidden:
        specs.append(("model.activation", m.activation))
    if m.hidden is not None and m.output is not None:
        specs.append(("model.output", m.output))
    for i, spec in enumerate(m.layers or []):
        if _is_activation_layer(spec) and "activation" in spec:
            specs.append((f"model.layers[{i}].activation", spec["activation"]))
    built = []
    for where, spec in specs:
        try:
            built.append((where, registry("activation").build(spec)))
        except ConfigError as e:  # a layer's activation is checked here first: name its place
            raise ConfigError(f"{where}: {e}") from None
    return built


def _output_name(cfg) -> str | None:
    """The output activation's canonical name, where the config says it (None: the loss's default, later)."""
    m = cfg.model
    if m.layers is not None:
        last = m.layers[-1] if m.layers else None
        if last is None or not _is_activation_layer(last):
            return None
        return _canonical("activation", last.get("activation", "relu"))[0]
    return None if m.output is None else _canonical("activation", m.output)[0]


def _check_single_neuron_rule(cfg) -> None:
    """The perceptron and ADALINE train one dense layer and its activation with their own update (deck 002)."""
    rule, m = cfg.training.rule, cfg.model
    who = "the perceptron rule" if rule == "perceptron" else "ADALINE's delta rule"
    if m.hidden:
        raise ConfigError(f"model.hidden: {_NO_HIDDEN[rule]}")
    output = m.output
    if m.layers is not None:
        types = [registry("layer").canonical(s["type"]) for s in m.layers]
        if types != ["dense", "activation"]:
            raise ConfigError(
                f"model.layers: {who} trains one dense layer and its activation ([dense, activation]), "
                f"got [{', '.join(types)}]"
            )
        output = m.layers[1].get("activation", "relu")
    if m.dropout or m.batchnorm:
        raise ConfigError(f"model: {who} trains a single layer as the deck writes it, without dropout or batch norm")
    if output is not None:
        name, kwargs = _canonical("activation", output)
        ok = name in ("step", "sign") if rule == "perceptron" else name == "identity" and kwargs.get("k", 1) == 1
        if not ok:
            where = "model.layers[1].activation" if m.layers is not None else "model.output"
            raise ConfigError(f"{where}: {who} needs {_OUTPUTS[rule]}, got '{name}'")
    _check_single_neuron_training(cfg, who)


def _check_single_neuron_training(cfg, who: str) -> None:
    """The loss, optimizer and training options of a single-neuron rule: its own update, nothing added."""
    rule, t = cfg.training.rule, cfg.training
    loss, _ = _canonical("loss", cfg.loss)
    wanted = ("mistakes",) if rule == "perceptron" else ("mse", "sse")
    if loss not in wanted:
        why = (
            "the perceptron counts its mistakes (loss: mistakes)"
            if rule == "perceptron"
            else "the delta rule is gradient descent on the squared error (loss: mse or sse)"
        )
        raise ConfigError(f"loss: {why}, got '{loss}'")
    opt, kwargs = _canonical("optimizer", cfg.optimizer)
    if opt != "sgd" or kwargs.get("momentum", 0) or kwargs.get("nesterov", False):
        raise ConfigError(
            f"optimizer: {who} is its own update, w ← w + α (d − y) x; give its learning rate α as "
            f"{{name: sgd, lr: α}} (plain SGD, no momentum), got {cfg.optimizer}"
        )
    if rule == "perceptron" and t.batch_size != 1:
        raise ConfigError(
            "training.batch_size: the perceptron rule updates the weights after every example (deck 002), "
            f"so batch_size is 1, got {t.batch_size!r}"
        )
    if any(v not in (None, False, 0) for v in cfg.regularization.values()):
        raise ConfigError(f"regularization: {who} has no penalty term; leave regularization empty")
    if t.grad_clip is not None:
        raise ConfigError(f"training.grad_clip: {who} takes no gradient to clip; leave grad_clip null")


# ----- the network ---------------------------------------------------------------------------------------------


def _single_layer(net, rule: str) -> tuple[Dense, ActivationLayer]:
    layers = net.layers
    if len(layers) != 2 or not isinstance(layers[0], Dense) or not isinstance(layers[1], ActivationLayer):
        raise ConfigError(
            f"model: training.rule {rule} trains one dense layer and its activation, got {net.describe()}"
        )
    return layers[0], layers[1]


class SingleLayerRule:
    """``Δw = α Σᵢ (dᵢ − yᵢ) xᵢ`` and ``Δb = α Σᵢ (dᵢ − yᵢ)`` for one dense layer (deck 002).

    With a step output this is the perceptron rule, with a linear one the delta rule. Targets d are the
    class's 0/1 column (one-hot for several units), or ±1 for a sign output (``bipolar``): d = 2·onehot − 1.
    """

    def __init__(self, net, dense: Dense, bipolar: bool):
        self.net, self.dense, self.bipolar = net, dense, bipolar

    def targets(self, y, out) -> np.ndarray:
        d = dense_target(y, out)
        if self.bipolar:
            d = d * out.dtype.type(2) - out.dtype.type(1)
        return d

    def learn(self, x, y, loss):
        out = self.net.forward(x, training=True)  # y = φ(x W + b)
        value = loss.value(out, y)
        g = out - self.targets(y, out)  # g = −(d − y): plain SGD's w ← w − α g is the rule's update
        np.matmul(x.T, g, out=self.dense.grads["W"])
        if self.dense.use_bias:
            np.sum(g, axis=0, out=self.dense.grads["b"])
        return value, out


class PerceptronStop(Callback):
    """Stops the perceptron after an epoch without a mistake (status ``converged``); when the epochs run out
    first (``completed``) the reason says it did not converge, and why, where the weights show it.

    The convergence theorem: on linearly separable data every mistake moves w closer to a separating w*
    (w*·w grows by at least α·margin), so the mistakes are finitely many. Weights that come back to the
    value they had at the end of an earlier epoch, after mistakes in between, prove the opposite: the
    updates in between sum to zero, which no sequence of mistakes on separable data can do.
    """

    def __init__(self, lr: float):
        self.quantum = 1e-4 * lr  # weights equal to this (far below one update, above float32 round-off)
        self.seen: dict[bytes, tuple[int, int]] = {}  # weights → (epoch that ended with them, mistakes so far)
        self.mistakes = 0
        self.cycle: tuple[int, int, int] | None = None  # (earlier epoch, epoch, mistakes in between)

    def _key(self, net) -> bytes:
        w = np.concatenate([p.ravel() for p in net.params.values()]).astype(np.float64)
        return hashlib.blake2b(np.round(w / self.quantum).astype(np.int64).tobytes(), digest_size=16).digest()

    def on_train_begin(self, trainer):
        self.seen.setdefault(self._key(trainer.net), (trainer.epoch, 0))

    def on_epoch_end(self, trainer, epoch, row):
        n = len(trainer.splits.X_train)
        wrong = round(row["train_loss"] * n)
        done = epoch + 1
        if wrong == 0:
            trainer.stop("converged", f"epoch {done} made no mistake: {_separates(trainer.net)}")
            return
        self.mistakes += wrong
        key = self._key(trainer.net)
        if key in self.seen and self.cycle is None:
            then, before = self.seen[key]
            self.cycle = (then, done, self.mistakes - before)
        self.seen.setdefault(key, (done, self.mistakes))
        if done >= trainer.config.training.epochs:
            trainer.stop("completed", self._not_converged(done, wrong, n))

    def _not_converged(self, epochs: int, wrong: int, n: int) -> str:
        head = f"did not converge in {epochs} epochs ({wrong} of {n} examples still wrong)"
        if self.cycle:
            then, now, between = self.cycle
            return (
                f"{head}: the data appear not linearly separable — the weights of epoch {now} repeat those of "
                f"{f'epoch {then}' if then else 'the start'} after {between} mistakes, impossible on linearly "
                "separable data (perceptron convergence theorem)"
            )
        return (
            f"{head}; the perceptron converges on any linearly separable data (convergence theorem): either it "
            "needs more epochs or the data are not linearly separable"
        )


def _separates(net) -> str:
    dense = net.layers[0]
    W = dense.params["W"]
    if W.shape[1] != 1 or W.shape[0] > 6:
        return "each class's unit separates that class from the others on every training example (one-vs-rest)"
    w = ", ".join(f"{v:.4g}" for v in W[:, 0])
    b = f"{float(dense.params['b'][0]):.4g}" if dense.use_bias else "0"
    return f"w·x + b = 0 with w = [{w}], b = {b} separates the two training classes"
