"""What the gradients say during a run, and when a run whose loss stays finite has diverged.

Weight layers are numbered as in the decks: 1 is the first dense layer's W (W^[1]), 2 the next, ...; only
weight matrices count (biases, batch-norm γ/β and PReLU α do not). Every norm is the Frobenius norm of the
gradient the optimizer steps with: the loss's, plus the penalties', clipped where ``training.grad_clip`` is.

- ``GradientWatch`` (every run): after the last batch of each epoch, ‖∂J/∂W^[l]‖ of every weight layer and
  the global norm over all parameters. Five dot products once an epoch for a two-layer network, outside
  the batch loop: 0.02–0.07 ms, 0.1–0.4 % of a moons.yaml epoch, 2–6 % of a 1 ms XOR epoch.
  summary.json's ``gradients`` holds the last epoch's norms, the largest global norm seen and, where the
  layers' norms span more than a factor 1000, a warning printed once at the end of the run: vanishing
  gradients where the smallest is nearer the input than the largest (saturated sigmoid or tanh units, a
  deep stack of them: decks 000 and 001), exploding gradients the other way.
- ``BatchDiagnostics`` (``training.diagnostics: true``): for every batch, ‖∂J/∂W^[l]‖ and the update ratio
  ‖ΔW^[l]‖ / ‖W^[l]‖ of the step (W before it; about 1e-3 is the rule of thumb, far above means a learning
  rate too high, far below one too low); metrics.csv gets their means over the epoch's batches as columns
  ``grad_norm_l`` and ``update_ratio_l``. It wraps the training step, so with the option off the batch loop
  is the one it was. With it on, measured in place during training on a shared 2-core machine: 0.026 ms a
  batch on configs/moons.yaml (9 % of its 0.30 ms step), 2.7 ms a batch on the Fashion-MNIST network
  (784 → 768 → 384 → 10, batches of 128: 4.5 % of its 84 ms step).
- ``DivergenceWatch`` (a callback; ``training.divergence``): a training loss above ``factor`` × the initial
  loss for ``patience`` epochs in a row ends the run as ``diverged``, as a non-finite loss does at once. An
  epoch out of bounds is marked (``run.suspect``): it is neither saved as ``last`` nor picked as ``best``, so
  the run folder keeps the last good checkpoint (``nnlab.training.persistence``).
"""

from __future__ import annotations

import math

import numpy as np

from nnlab.metrics import diagnostics_columns
from nnlab.training.callbacks import Callback

#: a layer's gradient norm this many times below (or above) the median of the layers' is worth a warning
IMBALANCE = 1e3


def weight_views(net) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(W, ∂J/∂W)`` of every weight matrix of ``net``, in order: the first is W^[1]."""
    return [(la.params[n], la.grads[n]) for la, n in net.named.values() if la.param_specs[n][1] == "weight"]


def norm(a: np.ndarray) -> float:
    """The Frobenius norm: one BLAS dot product; in float64 again where a float32 sum of squares overflows."""
    flat = a.reshape(-1)
    square = float(np.dot(flat, flat))
    if math.isinf(square) and flat.dtype != np.float64:
        square = float(np.dot(flat.astype(np.float64), flat.astype(np.float64)))
    return math.sqrt(square)


def imbalance(norms: list[float], epoch: int) -> str | None:
    """A warning where the weight layers' gradient norms span more than ``IMBALANCE``: vanishing where the
    smallest lies nearer the input than the largest (those layers barely learn), exploding the other way."""
    if len(norms) < 2 or not all(math.isfinite(n) for n in norms) or max(norms) <= 0:
        return None
    big, small = max(norms), min(norms)
    if small * IMBALANCE >= big:
        return None
    if norms.index(small) < norms.index(big):
        low = [i for i, n in enumerate(norms, 1) if n * IMBALANCE < big]
        return (
            f"vanishing gradients: at epoch {epoch}, ‖∂J/∂W‖ of layer {_layers(low, norms)} is below 1/{IMBALANCE:g} "
            f"of layer {norms.index(big) + 1}'s ({big:.3g}), so those weights barely learn; saturated sigmoid or "
            "tanh units or a deep stack of them do this: try relu, he or xavier initialization, batchnorm or "
            "standardized inputs"
        )
    high = [i for i, n in enumerate(norms, 1) if n > small * IMBALANCE]
    return (
        f"exploding gradients: at epoch {epoch}, ‖∂J/∂W‖ of layer {_layers(high, norms)} is above {IMBALANCE:g} × "
        f"layer {norms.index(small) + 1}'s ({small:.3g}); try gradient clipping (training.grad_clip), a lower "
        "learning rate or a smaller initialization"
    )


def _layers(which: list[int], norms: list[float]) -> str:
    return ", ".join(f"{i} ({norms[i - 1]:.3g})" for i in which)


class GradientWatch:
    """The gradient norms of the last batch of each epoch (see the module's docstring)."""

    def __init__(self, net):
        self.net, self.views = net, weight_views(net)
        self.norms: list[float] | None = None  # the last epoch's, one per weight layer
        self.epoch: int | None = None
        self.largest: float | None = None  # the largest global norm seen
        self.largest_epoch: int | None = None

    def measure(self, epoch: int) -> float:
        """Record the gradients the network holds (its last batch's) as epoch ``epoch``'s (1-based)."""
        self.norms, self.epoch = [norm(g) for _, g in self.views], epoch
        return self.largest_now(epoch, self.norms)

    def largest_now(self, epoch: int, norms: list[float] | None = None) -> float:
        """The global norm of the gradients the network holds, kept where it is the largest seen; ``norms``,
        the weight layers' (the ``weights`` buffer is theirs), spare computing them again."""
        grads = self.net.grads
        if norms is None:
            norms = [norm(grads["weights"])] if "weights" in grads else []
        others = norm(grads["others"]) if "others" in grads else 0.0
        total = math.sqrt(sum(n * n for n in norms) + others * others)
        if math.isfinite(total) and (self.largest is None or total > self.largest):
            self.largest, self.largest_epoch = total, epoch
        return total

    def summary(self) -> dict | None:
        """summary.json's ``gradients``: norms of the last epoch, the largest seen, a warning or None."""
        if self.norms is None:
            return None
        return {
            "epoch": self.epoch,
            "grad_norm": {str(i): n for i, n in enumerate(self.norms, 1)},
            "largest_norm": self.largest,
            "largest_epoch": self.largest_epoch,
            "warning": imbalance(self.norms, self.epoch),
        }

    def state_dict(self) -> dict:
        return {"norms": self.norms, "epoch": self.epoch, "largest": self.largest, "largest_epoch": self.largest_epoch}

    def load_state_dict(self, state: dict | None) -> None:
        state = state or {}
        self.norms, self.epoch = state.get("norms"), state.get("epoch")
        self.largest, self.largest_epoch = state.get("largest"), state.get("largest_epoch")


class BatchDiagnostics:
    """``training.diagnostics``: per weight layer, ‖∂J/∂W‖ and ‖ΔW‖ / ‖W‖ of every step, summed over the
    epoch's batches (in float64, in the order of the batches: a resumed epoch adds up to the same sums).

    The ``weights`` buffer of the network is its weight matrices end to end, so W is kept before the step in
    one copy and ΔW is one subtraction; then three BLAS dot products per layer."""

    def __init__(self, net):
        flat = net.params.get("weights", np.empty(0, net.dtype))
        self.weights, self.before = flat, np.empty_like(flat)
        self.layers, start = [], 0
        for w, g in weight_views(net):
            end = start + w.size
            self.layers.append((w.reshape(-1), g.reshape(-1), self.before[start:end]))
            start = end
        self.sizes = [0.0] * len(self.layers)
        self.grad_sums, self.ratio_sums = [0.0] * len(self.layers), [0.0] * len(self.layers)
        self.count = 0

    def wrap(self, step):
        """``step`` (``Experiment.train_step``) measured: W kept before it, the figures taken after it."""
        dot, sqrt, layers, sizes = np.dot, math.sqrt, self.layers, self.sizes
        grad_sums, ratio_sums = self.grad_sums, self.ratio_sums

        def measured(x, y, lr):
            for i, (w, _, _) in enumerate(layers):
                sizes[i] = sqrt(dot(w, w))
            np.copyto(self.before, self.weights)
            result = step(x, y, lr)
            np.subtract(self.weights, self.before, out=self.before)  # ΔW, layer by layer
            for i, (_, g, d) in enumerate(layers):
                grad_sums[i] += sqrt(dot(g, g))
                ratio_sums[i] += sqrt(dot(d, d)) / sizes[i] if sizes[i] > 0 else math.nan
            self.count += 1
            return result

        return measured

    def row(self) -> dict:
        """The epoch's means, as metrics.csv's columns; the sums start again."""
        n = max(self.count, 1)
        means = [float(v) / n for v in (*self.grad_sums, *self.ratio_sums)]
        self.load_state_dict(None)
        return dict(zip(diagnostics_columns(len(self.layers)), means))

    def state_dict(self) -> dict:
        """The sums of an epoch in progress (a mid-epoch checkpoint's position holds them)."""
        return {"grad_sums": list(self.grad_sums), "ratio_sums": list(self.ratio_sums), "count": self.count}

    def load_state_dict(self, state: dict | None) -> None:
        state = state or {}
        zeros = [0.0] * len(self.layers)
        self.grad_sums[:] = state.get("grad_sums", zeros)  # in place: wrap's step holds these lists
        self.ratio_sums[:] = state.get("ratio_sums", zeros)
        self.count = state.get("count", 0)


class DivergenceWatch(Callback):
    """``training.divergence``: marks an epoch whose training loss is above ``factor`` × the reference
    (the initial loss, or ln C where that is higher) as suspect, and ends the run as ``diverged`` after
    ``patience`` of them in a row. Reads the history alone, so a resumed run counts as it would have."""

    def __init__(self, factor: float, patience: int, reference: float | None):
        self.factor, self.patience, self.reference = factor, patience, reference

    def bound(self, run) -> float | None:
        refs = [r for r in (run.initial_loss, self.reference) if r is not None and math.isfinite(r)]
        return self.factor * max(refs) if refs and max(refs) > 0 else None

    def on_epoch_end(self, run, epoch, row):
        bound = self.bound(run)
        run.suspect = bound is not None and row["train_loss"] > bound
        recent = run.history[-self.patience :]
        if run.suspect and len(recent) == self.patience and all(r["train_loss"] > bound for r in recent):
            first = epoch + 2 - self.patience
            run.stop(
                "diverged",
                f"the training loss stayed above {self.factor:g} × its initial loss ({bound / self.factor:.3g}) "
                f"for {self.patience} epochs from epoch {first} (training.divergence): {row['train_loss']:.3g} at epoch "
                f"{epoch + 1}",
            )
