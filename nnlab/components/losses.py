"""Losses J(pred, target): the MEAN over the examples of a batch (the 1/m lives here, once).

Interface: ``value(pred, target) -> float`` and ``grad(pred, target) -> ∂J/∂pred``. Targets are class
indices (shape ``(m,)``) for classification and arrays ``(m, k)`` for regression. Cross-entropy and binary
cross-entropy are also fused with their output activation: ``fused(z, target, activation)`` returns the value
and ``∂J/∂z`` from the logits z, computed stably (log-sum-exp), as decks 001 and 004 derive (δ = a − y).
"""

from __future__ import annotations

import numpy as np

from nnlab.components.activations import Sigmoid, Softmax
from nnlab.components.scratch import indices, ones, scratch
from nnlab.registry import REGISTRIES

LOSSES = REGISTRIES["loss"]


class Loss:
    #: output activations this loss accepts (None: any)
    expects_output: tuple[str, ...] | None = None
    #: the output activation a model gets when the config names none
    default_output = "identity"
    #: the output activation this loss can be fused with (computed from logits)
    fuses_with: type | None = None
    classification = False
    differentiable = True

    def value(self, pred, target) -> float:
        raise NotImplementedError

    def grad(self, pred, target):
        raise NotImplementedError

    def value_and_grad(self, pred, target):
        return self.value(pred, target), self.grad(pred, target)

    def __repr__(self):
        return f"{type(self).__name__}()"


def dense_target(target, pred):
    """Class indices → one-hot (several outputs) or a column (one output); arrays pass through."""
    target = np.asarray(target)
    if target.ndim == 1 and np.issubdtype(target.dtype, np.integer):
        if pred.shape[1] == 1:
            return target.astype(pred.dtype).reshape(-1, 1)
        onehot = np.zeros(pred.shape, dtype=pred.dtype)
        onehot[np.arange(len(target)), target] = 1
        return onehot
    return target.reshape(pred.shape).astype(pred.dtype, copy=False)


@LOSSES.register("mse")
class MSE(Loss):
    """Mean squared error: J = 1/(m·k) Σ (ŷ − y)² over m examples and k outputs (decks 000, 001)."""

    def value(self, pred, target):
        d = pred - dense_target(target, pred)
        return float(np.mean(d * d))

    def grad(self, pred, target):
        d = pred - dense_target(target, pred)
        return d * d.dtype.type(2.0 / d.size)


@LOSSES.register("sse")
class SSE(Loss):
    """Sum of squares: J = 1/m Σᵢ ½‖ŷᵢ − yᵢ‖², so that δ = (ŷ − y)/m (decks 000, 004)."""

    def value(self, pred, target):
        d = pred - dense_target(target, pred)
        return float(0.5 * np.sum(d * d) / len(d))

    def grad(self, pred, target):
        d = pred - dense_target(target, pred)
        return d * d.dtype.type(1.0 / len(d))


@LOSSES.register("mae")
class MAE(Loss):
    """Mean absolute error: J = 1/(m·k) Σ |ŷ − y|; subgradient sign(ŷ − y)/(m·k)."""

    def value(self, pred, target):
        return float(np.mean(np.abs(pred - dense_target(target, pred))))

    def grad(self, pred, target):
        d = pred - dense_target(target, pred)
        return np.sign(d) * d.dtype.type(1.0 / d.size)


@LOSSES.register("huber")
class Huber(Loss):
    """Huber: ½d² where |d| ≤ δ, else δ(|d| − ½δ); mean over examples and outputs."""

    def __init__(self, delta: float = 1.0):
        if delta <= 0:
            raise ValueError(f"huber: delta must be > 0, got {delta}")
        self.delta = float(delta)

    def value(self, pred, target):
        d = np.abs(pred - dense_target(target, pred))
        q = np.minimum(d, self.delta)
        return float(np.mean(0.5 * q * q + self.delta * (d - q)))

    def grad(self, pred, target):
        d = pred - dense_target(target, pred)
        return np.clip(d, -self.delta, self.delta) * d.dtype.type(1.0 / d.size)


@LOSSES.register("max_error", "supremum")
class MaxError(Loss):
    """Supremum objective: J = max over the batch of |ŷ − y| (deck 000); subgradient at the arg max."""

    def value(self, pred, target):
        return float(np.max(np.abs(pred - dense_target(target, pred))))

    def grad(self, pred, target):
        d = pred - dense_target(target, pred)
        g = np.zeros_like(d)
        i = np.unravel_index(np.argmax(np.abs(d)), d.shape)
        g[i] = np.sign(d[i])
        return g


@LOSSES.register("mistakes", "zero_one")
class Mistakes(Loss):
    """Fraction of examples with a wrong output unit, the perceptron's error count (decks 000, 002).

    A step's outputs are {0, 1}, a sign's {−1, +1}: a unit is on where its output is ≥ ½. For two classes one
    unit, on for class 1; for more, one unit per class (one-vs-rest): an example is right when its class's
    unit is on and every other unit is off. Piecewise constant, so it has no gradient: the perceptron rule
    trains with it (training.rule: perceptron), backpropagation cannot.
    """

    expects_output = ("step", "sign")
    default_output = "step"
    classification = True
    differentiable = False

    def value(self, pred, target):
        wrong = (pred >= 0.5) != (dense_target(target, pred) >= 0.5)
        return float(np.mean(np.any(wrong, axis=1)))

    def grad(self, pred, target):
        raise ValueError(
            "the fraction of mistakes is piecewise constant, its gradient is zero wherever it exists; "
            "train it with training.rule: perceptron"
        )


@LOSSES.register("bce", "binary_cross_entropy")
class BinaryCrossEntropy(Loss):
    """Binary cross-entropy: J = −1/m Σ [y ln ŷ + (1 − y) ln(1 − ŷ)] (decks 001, 004).

    Fused with a sigmoid of slope c: from x = c·z, J = 1/m Σ [max(x, 0) − x y + ln(1 + e^−|x|)] and
    ∂J/∂z = c (σ(x) − y)/m.
    """

    expects_output = ("sigmoid",)
    default_output = "sigmoid"
    fuses_with = Sigmoid
    classification = True
    _EPS = 1e-12

    def value(self, pred, target):
        y = dense_target(target, pred)
        p = np.clip(pred, self._EPS, 1 - self._EPS)
        return float(-np.sum(y * np.log(p) + (1 - y) * np.log1p(-p)) / len(p))

    def grad(self, pred, target):
        y = dense_target(target, pred)
        p = np.clip(pred, self._EPS, 1 - self._EPS)
        return ((p - y) / (p * (1 - p)) / len(p)).astype(pred.dtype, copy=False)

    def fused(self, z, target, activation):
        """Value and ∂J/∂z from the logits; the gradient is a buffer reused by the next call."""
        m = len(z)
        c = z.dtype.type(activation.c)
        y = dense_target(target, z)
        x = np.multiply(z, c, out=scratch(self, "g", z.shape, z.dtype))
        # Σ softplus(x) − x·y, with softplus(x) = ln(1 + eˣ) = logaddexp(0, x): stable for |x| of 1000
        value = (float(np.logaddexp(0, x).sum()) - float(np.vdot(x, y))) / m
        g = activation.forward(z, out=x)
        g -= y
        g *= c / z.dtype.type(m)
        return value, g


@LOSSES.register("cross_entropy", "categorical_cross_entropy", "ce")
class CrossEntropy(Loss):
    """Categorical cross-entropy: J = −1/m Σᵢ ln ŷᵢ,yᵢ over class indices yᵢ (decks 001, 003, 004).

    Fused with a softmax of slope c: J = 1/m Σᵢ [log Σⱼ e^(c zᵢⱼ) − c zᵢ,yᵢ] (log-sum-exp) and
    ∂J/∂z = c (softmax(c z) − onehot(y))/m.

    Label smoothing ε (``{name: cross_entropy, label_smoothing: 0.1}``; Szegedy et al. 2016): the target is
    qᵢ = (1 − ε) onehot(yᵢ) + ε/C over the C classes instead of the one-hot vector, J = −1/m Σᵢ Σⱼ qᵢⱼ ln ŷᵢⱼ,
    and fused ∂J/∂z = c (softmax(c z) − q)/m: the network is no longer pushed towards logits of ±∞ on the
    training examples. Its smallest value is the entropy of q, not 0. ε = 0 (the default) is the plain loss.
    """

    expects_output = ("softmax",)
    default_output = "softmax"
    fuses_with = Softmax
    classification = True
    _EPS = 1e-12

    def __init__(self, label_smoothing: float = 0.0):
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1), got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def smoothed(self, target, pred):
        """The targets as distributions (m, C): qᵢ = (1 − ε) yᵢ + ε/C (yᵢ one-hot for class indices)."""
        y = dense_target(target, pred)
        eps = self.label_smoothing
        return y * y.dtype.type(1 - eps) + y.dtype.type(eps / pred.shape[1]) if eps else y

    def value(self, pred, target):
        target = np.asarray(target)
        if target.ndim == 2 or self.label_smoothing:
            q = self.smoothed(target, pred)
            return float(-np.sum(q * np.log(np.maximum(pred, self._EPS))) / len(pred))
        picked = pred[np.arange(len(pred)), target]
        return float(-np.mean(np.log(np.maximum(picked, self._EPS))))

    def grad(self, pred, target):
        y = self.smoothed(target, pred)
        return (-y / np.maximum(pred, self._EPS) / len(pred)).astype(pred.dtype, copy=False)

    def fused(self, z, target, activation):
        """Value and ∂J/∂z from the logits; the gradient is a buffer reused by the next call."""
        m = len(z)
        target = np.asarray(target)
        c = z.dtype.type(activation.c)
        g = scratch(self, "g", z.shape, z.dtype)
        rows = indices(self, m)
        s = z if c == 1 else np.multiply(z, c, out=g)  # s = c z
        # s − max s (exp never overflows), each row's max as s[i, argmax sᵢ]: a third of the time of
        # s.max(axis=1) on 10 columns
        np.subtract(s, s[rows, s.argmax(axis=1)].reshape(m, 1), out=g)
        if target.ndim == 2 or self.label_smoothing:  # soft / one-hot / smoothed targets: Σⱼ qⱼ (lse − sⱼ)
            target = self.smoothed(target, z)
            shifted = g.copy()
            np.exp(g, out=g)
            total = g.sum(axis=1, keepdims=True)
            value = float(np.sum(target * (np.log(total) - shifted)) / m)
            g /= total
            g -= target
            g *= c / z.dtype.type(m)
            return value, g
        # −ln softmax_y = lse − s_y = ln Σ e^(s − max) − (s_y − max): stable for logits of ±1000. The targets'
        # entries are picked through flat indices (i·k + yᵢ), twice as fast as g[rows, target].
        flat, at = g.reshape(-1), rows * g.shape[1] + target
        picked = flat[at]
        np.exp(g, out=g)
        total = np.matmul(g, ones(self, g.shape[1], g.dtype), out=scratch(self, "total", (m,), g.dtype))
        value = float((np.log(total).sum() - picked.sum()) / m)
        # c (softmax − onehot)/m: one pass scales e^s by c/(m Σ e^s), then c/m comes off each target entry
        np.divide(c / z.dtype.type(m), total, out=total)
        g *= total.reshape(m, 1)
        flat[at] -= c / z.dtype.type(m)
        return value, g


@LOSSES.register("hinge", "multiclass_svm")
class Hinge(Loss):
    """Multi-class SVM loss: Lᵢ = Σ_{j≠yᵢ} max(0, sⱼ − s_yᵢ + Δ), Δ = 1, averaged (deck 003)."""

    expects_output = ("identity",)
    default_output = "identity"
    classification = True

    def __init__(self, margin: float = 1.0):
        self.margin = float(margin)

    def _margins(self, s, target):
        rows = np.arange(len(s))
        m = s - s[rows, target][:, None] + s.dtype.type(self.margin)
        m[rows, target] = 0
        return np.maximum(m, 0)

    def value(self, pred, target):
        return float(np.mean(self._margins(pred, np.asarray(target)).sum(axis=1)))

    def grad(self, pred, target):
        target = np.asarray(target)
        g = (self._margins(pred, target) > 0).astype(pred.dtype)
        g[np.arange(len(pred)), target] = -g.sum(axis=1)
        return g / pred.dtype.type(len(pred))
