"""Regularizers, applied to weights only — never to biases or batch-norm parameters (deck 004).

Interface: ``penalty(w) -> float`` (added to the mean batch loss) and ``grad(w) -> ∂penalty/∂w``;
``add_grad(w, g)`` adds that gradient into ``g`` in place. ``max_norm`` is a constraint instead:
``constrain(W)`` rescales each unit's incoming weights after every optimizer step.

Relation to deck 004: the deck writes the L2 term of the cost over m examples as λ/(2m) Σ w²; nnlab adds
λ/2 Σ w² to the MEAN batch loss, which is the same objective with nnlab's λ = the deck's λ / m.
"""

from __future__ import annotations

import numpy as np

from nnlab.components.scratch import scratch
from nnlab.errors import ConfigError
from nnlab.registry import REGISTRIES

REGULARIZERS = REGISTRIES["regularizer"]


class ArgumentError(ValueError):
    """An argument out of range: ``problem`` says what is wrong without the argument's name, so that a config
    that gave the value as a bare number (``l2: -1``) can name its own key instead."""

    def __init__(self, arg: str, problem: str):
        super().__init__(f"{arg} {problem}")
        self.arg, self.problem = arg, problem


def _at_least_zero(arg: str, value: float) -> float:
    if not value >= 0:
        raise ArgumentError(arg, f"must be ≥ 0, got {value}")
    return float(value)


class Regularizer:
    #: the argument a bare number in the config sets (``regularization: {l2: 1e-4}``)
    scalar_arg = "lam"
    is_constraint = False

    def penalty(self, w) -> float:
        return 0.0

    def grad(self, w):
        return np.zeros_like(w)

    def add_grad(self, w, g) -> None:
        g += self.grad(w)

    def constrain(self, W) -> None:
        pass

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


@REGULARIZERS.register("l2", "weight_decay")
class L2(Regularizer):
    """L2 (weight decay): λ/2 Σ w², gradient λw (deck 004)."""

    def __init__(self, lam: float = 1e-4):
        self.lam = _at_least_zero("lam", lam)

    def penalty(self, w):
        return 0.5 * self.lam * float(np.dot(w.ravel(), w.ravel()))

    def grad(self, w):
        return w * w.dtype.type(self.lam)

    def add_grad(self, w, g):
        g += np.multiply(w, w.dtype.type(self.lam), out=scratch(self, "g", w.shape, w.dtype))


@REGULARIZERS.register("l1")
class L1(Regularizer):
    """L1: λ Σ |w|, subgradient λ sign(w) (deck 000)."""

    def __init__(self, lam: float = 1e-4):
        self.lam = _at_least_zero("lam", lam)

    def penalty(self, w):
        return self.lam * float(np.abs(w).sum())

    def grad(self, w):
        return np.sign(w) * w.dtype.type(self.lam)


@REGULARIZERS.register("elastic_net")
class ElasticNet(Regularizer):
    """Elastic net: l1 Σ |w| + l2/2 Σ w²."""

    scalar_arg = "l2"

    def __init__(self, l1: float = 1e-4, l2: float = 1e-4):
        self.l1, self.l2 = _at_least_zero("l1", l1), _at_least_zero("l2", l2)

    def penalty(self, w):
        return self.l1 * float(np.abs(w).sum()) + 0.5 * self.l2 * float(np.dot(w.ravel(), w.ravel()))

    def grad(self, w):
        return np.sign(w) * w.dtype.type(self.l1) + w * w.dtype.type(self.l2)


@REGULARIZERS.register("max_norm")
class MaxNorm(Regularizer):
    """Max-norm constraint ‖w_j‖ ≤ c on each unit's incoming weights, after each step (deck 000)."""

    scalar_arg = "c"
    is_constraint = True

    def __init__(self, c: float = 3.0):
        if not c > 0:
            raise ArgumentError("c", f"must be > 0, got {c}")
        self.c = float(c)

    def constrain(self, W):
        # W has shape (n_in, n_out): column j holds the weights into unit j
        norms = np.sqrt(np.einsum("ij,ij->j", W, W))
        over = norms > self.c
        if over.any():
            W[:, over] *= (self.c / norms[over]).astype(W.dtype)


def build_regularizers(spec: dict | None) -> list[Regularizer]:
    """``{l2: 1e-4, max_norm: 3}`` or ``{l2: {lam: 1e-4}}`` → regularizer objects. A value of 0 (a sweep's
    "none" among its choices), null or false builds nothing."""
    return [r for name, value in (spec or {}).items() if (r := build_regularizer(name, value)) is not None]


def build_regularizer(name: str, value) -> Regularizer | None:
    """One entry of the config's ``regularization``: a bare number sets the regularizer's ``scalar_arg``, a
    mapping gives its arguments; 0, null or false builds nothing. The errors of a bare number speak of the
    key the config wrote (``must be ≥ 0, got -1``), not of the constructor's argument."""
    if value is None or value is False or (not isinstance(value, dict) and value == 0):
        return None
    cls = REGULARIZERS.get(name)
    if isinstance(value, dict):
        return REGULARIZERS.build({"name": name, **value})
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        accepted = ", ".join(REGULARIZERS.arguments(name))
        raise ConfigError(f"must be a number or a mapping of its arguments ({accepted}), got {value!r}")
    try:
        return cls(**{cls.scalar_arg: value})
    except ArgumentError as e:
        raise ConfigError(e.problem if e.arg == cls.scalar_arg else str(e)) from None
