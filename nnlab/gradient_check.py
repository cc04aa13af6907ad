"""Gradient checking: backprop against centred finite differences (J(θ + ε) − J(θ − ε)) / 2ε (decks 002, 004).

The config's own network, loss, regularisation and dropout are built in float64 on a few training
examples. Dropout keeps one fixed mask, batch norm runs in training mode (batch statistics), so that J is
one deterministic function of the parameters. Every parameter tensor is checked, all entries of small ones
and a seeded sample of large ones, and so is the gradient with respect to the input.

The relative error of an entry is |a − n| / max(|a| + |n|, floor), a the analytic and n the numeric
derivative (DESIGN §6). The floor keeps round-off from passing for an error: J itself is known to about
16 ulp, δ = 16 · 2⁻⁵² · max(|J|, 1), so a centred difference carries an absolute error of about δ / ε whatever
the derivative. With floor = (δ / ε) / tol, an entry whose derivative is far below that noise passes when
analytic and numeric agree within the noise, and every other entry is held to the relative tolerance.

A centred difference also carries a truncation error of about ε² J‴ / 6, which a network of large weights
or batch norm over tiny pre-activations (configs/lectures/) makes large: there a right backward fails at
ε = 10⁻⁵. A tensor that fails is checked again at ε / 10 and ε / 100. Truncation error falls a hundredfold
with each step and the tensor passes; a wrong backward's error does not fall, and it still fails. The
report gives the step each tensor was judged at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnlab.components.layers import Dropout
from nnlab.config import Config
from nnlab.errors import ConfigError
from nnlab.experiment import Experiment


@dataclass
class TensorCheck:
    name: str
    shape: tuple[int, ...]
    checked: int
    max_rel_error: float
    max_abs_error: float
    passed: bool
    eps: float  # the step it was judged at: the report's, or a tenth / hundredth of it (see the docstring)


@dataclass
class GradcheckReport:
    checks: list[TensorCheck]
    loss: float
    samples: int
    eps: float
    tol: float

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failing(self) -> list[str]:
        return [c.name for c in self.checks if not c.passed]

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "loss": self.loss,
            "samples": self.samples,
            "eps": self.eps,
            "tol": self.tol,
            "tensors": [
                {
                    "name": c.name,
                    "shape": list(c.shape),
                    "checked": c.checked,
                    "max_rel_error": c.max_rel_error,
                    "max_abs_error": c.max_abs_error,
                    "passed": c.passed,
                    "eps": c.eps,
                }
                for c in self.checks
            ],
        }


def relative_errors(a: np.ndarray, n: np.ndarray, floor: float = 1e-12) -> np.ndarray:
    """|a − n| / max(|a| + |n|, floor), entry by entry."""
    return np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor)


def noise_floor(j: float, eps: float, tol: float) -> float:
    """The denominator below which a difference is round-off, not error (see the module's docstring)."""
    delta = 16 * np.finfo(np.float64).eps * max(abs(j), 1.0)
    return max(1e-12, delta / eps / tol)


def gradcheck(
    config: Config | Experiment,
    samples: int = 8,
    eps: float = 1e-5,
    tol: float = 1e-6,
    max_entries: int = 200,
    seed: int = 0,
) -> GradcheckReport:
    """Compare the analytic gradients of a network with centred differences. A ``Config`` is built in
    float64 (its own data, network, loss and regularisation); an ``Experiment`` (``nnlab.build(...)``, with
    whatever weights a notebook gave it) is checked as it stands, in its own dtype: float64 is advised."""
    if samples < 1:
        raise ConfigError(f"--samples must be ≥ 1, got {samples}")
    if not eps > 0:
        raise ConfigError(f"--eps must be > 0, got {eps}")
    cfg = config.config if isinstance(config, Experiment) else config
    if cfg.training.rule != "backprop":
        raise ConfigError(
            f"training.rule is '{cfg.training.rule}': gradcheck checks backpropagation, which this rule does not use"
        )
    if isinstance(config, Experiment):
        exp = config
        if exp.net.dtype != np.float64:
            raise ConfigError(
                f"gradcheck compares against finite differences that need float64; this experiment is "
                f"{exp.net.dtype}: build it with dtype: float64 (or give gradcheck the config, built in float64)"
            )
    else:
        exp = Experiment.from_config(config.model_copy(update={"dtype": "float64"}, deep=True))
    net, loss, penalties = exp.net, exp.loss, exp.penalties
    x = np.array(exp.splits.X_train[:samples], dtype=net.dtype)
    y = exp.splits.y_train[:samples]
    saved = [layer.need_input_grad for layer in net.layers]
    grads = {k: g.copy() for k, g in net.grads.items()}
    for layer in net.layers:
        layer.need_input_grad = True
    try:
        return _compare(net, loss, penalties, x, y, eps, tol, max_entries, seed)
    finally:  # the network as it was, gradients included: a notebook's experiment goes on training
        for k, g in grads.items():
            net.grads[k][...] = g
        for layer, need in zip(net.layers, saved):
            layer.need_input_grad = need
            if isinstance(layer, Dropout):
                layer.freeze_mask = False


def _compare(net, loss, penalties, x, y, eps, tol, max_entries, seed) -> GradcheckReport:
    _fix_dropout_masks(net, x)

    def J() -> float:
        out = net.forward(x, training=True)
        value = loss.value(out, y)
        w = net.params.get("weights")
        return value + sum(r.penalty(w) for r in penalties) if w is not None else value

    # analytic: the training path itself (fused loss where the trainer fuses), plus the penalties
    _, _, grad_x = net.loss_and_backward(x, y, loss, input_grad=True)
    grad_x = grad_x.copy()
    if penalties:
        for r in penalties:
            r.add_grad(net.params["weights"], net.grads["weights"])
    analytic = {k: g.copy() for k, g in net.named_grads().items()}

    pick = np.random.default_rng(seed)
    j0 = J()
    tensors = [*net.named_params().items(), ("input", x)]
    analytic["input"] = grad_x
    checks = [_judge(name, p, analytic[name], J, j0, eps, tol, max_entries, pick) for name, p in tensors]
    return GradcheckReport(checks, float(j0), len(x), eps, tol)


def _judge(name, p, a, J, j0, eps, tol, max_entries, pick) -> TensorCheck:
    """The tensor's check at ``eps``, and where it fails, at ε / 10 and ε / 100 on the same entries."""
    entries = _entries(p.size, max_entries, pick)
    for step in (eps, eps / 10, eps / 100):
        check = _check(name, p, a, J, step, tol, noise_floor(j0, step, tol), entries)
        if check.passed:
            break
    return check


def _entries(size: int, max_entries: int, pick) -> np.ndarray:
    """All the entries of a small tensor, a seeded sample of ``max_entries`` of a large one."""
    if size <= max_entries:
        return np.arange(size)
    return np.sort(pick.choice(size, max_entries, replace=False))


def _fix_dropout_masks(net, x) -> None:
    """Draw each dropout mask once, then keep it: J must be one function of θ."""
    net.forward(x, training=True)
    for layer in net.layers:
        if isinstance(layer, Dropout):
            layer.freeze_mask = True


def _check(name, p, a, J, eps, tol, floor, idx) -> TensorCheck:
    flat_p, flat_a = p.reshape(-1), a.reshape(-1)
    numeric = np.empty(len(idx))
    for j, i in enumerate(idx):
        old = flat_p[i]
        flat_p[i] = old + eps
        jp = J()
        flat_p[i] = old - eps
        jm = J()
        flat_p[i] = old
        numeric[j] = (jp - jm) / (2 * eps)
    analytic = flat_a[idx]
    rel = relative_errors(analytic, numeric, floor)
    max_rel = float(rel.max(initial=0.0))
    max_abs = float(np.abs(analytic - numeric).max(initial=0))
    return TensorCheck(name, tuple(p.shape), len(idx), max_rel, max_abs, bool(max_rel <= tol), eps)
