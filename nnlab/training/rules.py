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

from nnlab.architecture import check_loss_fits
from nnlab.components.layers import ActivationLayer, Dense
from nnlab.components.losses import dense_target
from nnlab.errors import ConfigError
from nnlab.training.callbacks import Callback


@dataclass
class Rule:
    name: str
    #: ``learn(x, y, loss) -> (batch loss, outputs)``: fills the network's grads for the optimizer's step
    learn: Callable
    callbacks: list = field(default_factory=list)


def build_rule(config, net, loss, task: str, lr: float) -> Rule:
    """The configured rule for ``net``, after checking that it can train this network and loss."""
    rule = config.training.rule
    check_loss_fits(net, loss, rule)
    if rule == "backprop":
        # looked up at every call, so that a wrapped net.loss_and_backward (a test, a profiler) is the one used
        return Rule(rule, lambda x, y, loss: net.loss_and_backward(x, y, loss))
    dense, act = _single_layer(net, rule)
    if rule == "perceptron":
        if task != "classification":
            raise ConfigError(
                "training.rule: the perceptron classifies (step outputs), but the data are a regression task"
            )
        bipolar = act.activation.registry_name == "sign"
        return Rule(rule, SingleLayerRule(net, dense, bipolar).learn, [PerceptronStop(lr)])
    return Rule(rule, SingleLayerRule(net, dense, bipolar=False).learn)


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
