"""Averages of the weights in weight space, as callbacks of the run: ``training.swa`` and ``training.ema``.

- Stochastic weight averaging (Izmailov et al. 2018), ``swa: {start: 0.75}``: the running mean of the
  weights at the end of every epoch from ``start`` on, w̄ ← w̄ + (w − w̄)/(n + 1) after the n-th. ``start``
  below 1 is a fraction of ``training.epochs`` (0.75: the last quarter), from 1 up an epoch number.
- Exponential moving average, ``ema: {decay: 0.999}``: after every optimisation step t (from 1),
  w̄ ← d w̄ + (1 − d) w with d = min(decay, (1 + t)/(10 + t)), so that the first steps do not stay in the
  average as the initial weights would (the warm-up of TensorFlow's ExponentialMovingAverage).

Both average every parameter (weights, biases, batch norm's γ and β). Batch norm's running statistics are
not averaged: when the run ends they are computed again for the averaged weights on the whole train split,
one batch-norm layer after the other (each from the outputs of the layers before it, in evaluation mode:
the exact mean and variance the layer sees), as the averaged weights are never the ones the running
averages followed.

When the run ends (completed, stopped early or converged), the averaged model is saved as its own
checkpoint, ``checkpoints/swa.safetensors`` or ``ema.safetensors`` (the format of every other checkpoint:
``nnlab eval RUN --checkpoint swa``, ``nnlab predict RUN --checkpoint ema``, ``nnlab.load_run(RUN, "swa")``),
and its validation and test figures go into summary.json under ``averages``. The running average is part
of every ``last`` checkpoint, so a resumed run continues it exactly.
"""

from __future__ import annotations

import math

import numpy as np

from nnlab import blas
from nnlab.training.callbacks import Callback

FINISHED = ("completed", "stopped_early", "converged")
KEYS = {"swa": {"start": 0.75}, "ema": {"decay": 0.999}}


def check_averaging(kind: str, spec):
    """``training.swa`` / ``training.ema`` checked, with their defaults filled in: ``true`` or a mapping of
    the keys of ``KEYS[kind]`` (a number alone sets the first: ``ema: 0.999``); None or false: none."""
    if spec is None or spec is False:
        return None
    if spec is True:
        spec = {}
    elif isinstance(spec, (int, float)) and not isinstance(spec, bool):
        spec = {next(iter(KEYS[kind])): spec}
    if not isinstance(spec, dict):
        raise ValueError(f"must be true, a number or a mapping of {', '.join(KEYS[kind])}, got {spec!r}")
    unknown = [k for k in spec if k not in KEYS[kind]]
    if unknown:
        raise ValueError(f".{unknown[0]}: unknown key (choices: {', '.join(KEYS[kind])})")
    out = {**KEYS[kind], **spec}
    value = out["start" if kind == "swa" else "decay"]
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"must hold numbers, got {value!r}")
    if kind == "swa" and not (0 < value < 1 or (value >= 1 and float(value).is_integer())):
        raise ValueError(f".start: a fraction of the epochs in (0, 1) or an epoch number ≥ 1, got {value}")
    if kind == "ema" and not 0 < value < 1:
        raise ValueError(f".decay: must be in (0, 1), got {value}")
    return out


def averaging_callbacks(training) -> list[Callback]:
    """The callbacks ``training.swa`` and ``training.ema`` ask for."""
    out: list[Callback] = []
    swa, ema = getattr(training, "swa", None), getattr(training, "ema", None)
    if swa:
        start = swa["start"]
        first = int(start) if start >= 1 else math.floor(start * training.epochs) + 1
        out.append(SWA(first))
    if ema:
        out.append(EMA(float(ema["decay"])))
    return out


class WeightAverage(Callback):
    """A running average of the network's flat parameter buffers, saved as checkpoint ``key``."""

    key = ""

    def __init__(self):
        self.average: dict[str, np.ndarray] | None = None
        self.count = 0
        self.figures: dict | None = None  # the averaged model's val / test figures, once the run ended

    # ----- the state a ``last`` checkpoint carries (nnlab.training.state) -----------------------
    def checkpoint_state(self) -> tuple[dict, dict]:
        tensors = {f"{self.key}.{r}": a for r, a in (self.average or {}).items()}
        return tensors, {"count": self.count}

    def load_checkpoint_state(self, tensors: dict, meta: dict) -> None:
        prefix = f"{self.key}."
        found = {k[len(prefix) :]: np.array(v) for k, v in tensors.items() if k.startswith(prefix)}
        self.average = found or None
        self.count = int((meta or {}).get("count", 0)) if found else 0

    def _update(self, params: dict, weight: float) -> None:
        """w̄ ← w̄ + weight (w − w̄), w̄ = w the first time."""
        if self.average is None:
            self.average = {r: p.copy() for r, p in params.items()}
        else:
            for r, p in params.items():
                a = self.average[r]
                axpby = blas.function("axpby", a.dtype) if blas.usable(p, a) else None
                if axpby is not None:  # one pass over the weights, on the BLAS threads (EMA: after every step)
                    axpby(a.size, weight, blas.address(p), 1, 1.0 - weight, blas.address(a), 1)
                else:
                    a += a.dtype.type(weight) * (p - a)
        self.count += 1

    # ----- the end of the run: the averaged model's checkpoint and figures ----------------------
    def on_run_end(self, run) -> None:
        if run.status not in FINISHED or self.average is None:
            return
        from nnlab.metrics import evaluate
        from nnlab.training.state import capture

        net, exp = run.net, run.experiment
        kept = {k: v.copy() for k, v in net.state_dict().items()}
        try:
            for r, a in self.average.items():
                net.params[r][...] = a
            recompute_batchnorm(net, exp.splits.X_train)
            tensors, meta = capture(run, metrics=False)
            tensors = {k: v for k, v in tensors.items() if k.startswith(("model.", "preprocess."))}
            meta.update(metrics=list(run.history), averaged={"kind": self.key, **self.describe(run)})
            run.folder.save_checkpoint(self.key, tensors, meta)
            s = exp.splits
            self.figures = {**self.describe(run), "checkpoint": self.key}
            for split in ("val", "test"):
                X, y = s.split(split)
                self.figures.update({f"{split}_{k}": v for k, v in evaluate(net, exp.loss, X, y, s.task).items()})
        finally:
            net.load_state_dict(kept)

    def describe(self, run) -> dict:
        return {"models": self.count}


class SWA(WeightAverage):
    """Stochastic weight averaging from epoch ``first`` (1-based) on; see the module's docstring."""

    key = "swa"

    def __init__(self, first: int):
        super().__init__()
        self.first = int(first)

    def on_epoch_end(self, run, epoch, row) -> None:
        if epoch + 1 >= self.first:
            self._update(run.net.params, 1.0 / (self.count + 1))

    def describe(self, run) -> dict:
        return {"models": self.count, "epochs": [self.first, run.epoch]}


class EMA(WeightAverage):
    """Exponential moving average of the weights, updated after every step; see the module's docstring."""

    key = "ema"

    def __init__(self, decay: float):
        super().__init__()
        self.decay = float(decay)

    def on_step(self, run, epoch: int, batch: int) -> None:
        t = self.count + 1
        self._update(run.net.params, 1.0 - min(self.decay, (1 + t) / (10 + t)))

    def describe(self, run) -> dict:
        return {"steps": self.count, "decay": self.decay}


def recompute_batchnorm(net, X: np.ndarray, batch_size: int = 4096) -> None:
    """Set every batch-norm layer's running mean and (unbiased) variance to those of its inputs over ``X``,
    the layers before it in evaluation mode with their statistics already recomputed."""
    from nnlab.components.layers import BatchNorm

    for i, layer in enumerate(net.layers):
        if not isinstance(layer, BatchNorm) or len(X) < 2:
            continue
        total, squares = 0.0, 0.0
        for s in range(0, len(X), batch_size):
            h = np.asarray(net.forward(X[s : s + batch_size], training=False, upto=i), dtype=np.float64)
            total = total + h.sum(axis=0)
            squares = squares + np.einsum("ij,ij->j", h, h)
        n = len(X)
        mean = total / n
        var = np.maximum(squares / n - mean * mean, 0.0) * (n / (n - 1))
        layer.buffers["running_mean"][...] = mean
        layer.buffers["running_var"][...] = var
