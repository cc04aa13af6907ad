"""Looking inside a network (deck 002's initialisation experiment): one batch through it, layer by layer.

``inspect(source)`` takes a config (a freshly initialised network, as ``nnlab train`` would start it) or a
run folder (the network of one of its checkpoints, with the optimizer state it had), pushes a batch of one
split through it and reports, for each layer with weights (a dense or maxout layer with the batch norm and
activation that follow it):

- the mean and standard deviation of its pre-activations z (what the activation function receives: after
  batch norm where the layer has one) and of its activations a = φ(z);
- for tanh and sigmoid, the fraction of the activations within 1 % of the function's bounds (|a| > 0.99 for
  tanh, a < 0.01 or a > 0.99 for sigmoid): saturated units pass back almost no gradient (decks 000, 002);
- for ReLU, the fraction of dead units: never active (z ≤ 0) on any example of the batch;
- with one backward pass, the norm ‖∂J/∂W‖ of the weight gradient (as the optimizer receives it: with the
  regularization's gradient, after clipping) and the ratio ‖ΔW‖ / ‖W‖ of the update that one step of the
  configured optimizer would make, at the learning rate of that point of the run; deck 002's rule of thumb
  puts a healthy ratio near 1e-3 (much larger: the rate is too high; much smaller: too low).

The forward pass runs in training mode, the mode of the step it stands for: batch norm normalises with the
batch's own statistics, dropout draws masks. Nothing of the network or the optimizer changes: the running
statistics of batch norm, the dropout generator's state and the gradients are put back afterwards, and the
optimizer's step is taken by a copy of the optimizer on a copy of the weights.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnlab.components.layers import ActivationLayer, BatchNorm, Dense, Dropout, Maxout, PReLU
from nnlab.errors import NnlabError, did_you_mean
from nnlab.experiment import Experiment, clip_gradients

SPLITS = ("train", "val", "test")
#: activations whose outputs saturate, and their bounds
BOUNDS = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}
#: how close to a bound counts as saturated, as a fraction of the range
SATURATION = 0.01
#: activations whose units die: zero output and zero gradient wherever z ≤ 0
DYING = ("relu",)
#: deck 002's rule of thumb for ‖ΔW‖ / ‖W‖
GOOD_RATIO = 1e-3
#: what ``Inspection.notes`` points out: hidden activations' std below ``collapsed``; more than ``saturated``
#: of them saturated or ``dead`` of the units dead; an update ratio ``ratio`` times off GOOD_RATIO either way
THRESHOLDS = {"collapsed": 0.01, "saturated": 0.5, "dead": 0.5, "ratio": 10.0}


@dataclass
class LayerReport:
    """One layer with weights, numbered from 1 as metrics.csv's diagnostics columns are."""

    number: int
    layers: str  # what the layer stands for: "dense(256) → batchnorm → tanh"
    units: int
    activation: str
    pre_mean: float
    pre_std: float
    act_mean: float
    act_std: float
    saturated: float | None  # fraction of activations within 1 % of the bounds (tanh, sigmoid), else None
    dead: float | None  # fraction of units never active on the batch (ReLU), else None
    weight_norm: float
    grad_norm: float | None  # None where the rule gives no gradient
    update_ratio: float | None
    #: the batch's values, for the histograms (not in to_dict)
    pre: np.ndarray = field(repr=False, default=None)
    act: np.ndarray = field(repr=False, default=None)

    def to_dict(self) -> dict:
        keys = ("number", "layers", "units", "activation", "pre_mean", "pre_std", "act_mean", "act_std")
        return {k: getattr(self, k) for k in keys + ("saturated", "dead", "weight_norm", "grad_norm", "update_ratio")}


@dataclass
class Inspection:
    source: str  # the config file or run folder
    kind: str  # "config", "run" or "experiment"
    checkpoint: str | None
    epoch: int
    split: str
    examples: int
    loss: float
    optimizer: str
    lr: float
    network: str
    layers: list[LayerReport]

    def to_dict(self) -> dict:
        head = ("source", "kind", "checkpoint", "epoch", "split", "examples", "loss", "optimizer", "lr", "network")
        return {
            **{k: getattr(self, k) for k in head},
            "good_update_ratio": GOOD_RATIO,
            "layers": [la.to_dict() for la in self.layers],
            "notes": self.notes,
        }

    @property
    def notes(self) -> list[str]:
        """What stands out, one sentence per kind of trouble, naming the layers (see ``THRESHOLDS``)."""
        hidden = self.layers[:-1]
        t = THRESHOLDS
        found = [
            (hidden, lambda la: la.act_std < t["collapsed"], f"collapsed: activations' std below {t['collapsed']:g}"),
            (
                hidden,
                lambda la: (la.saturated or 0) > t["saturated"],
                "saturated: most activations within 1 % of a bound",
            ),
            (hidden, lambda la: (la.dead or 0) > t["dead"], "mostly dead: most ReLU units never active on the batch"),
            (
                self.layers,
                lambda la: la.update_ratio is not None and la.update_ratio < GOOD_RATIO / t["ratio"],
                f"update / weight below {GOOD_RATIO / t['ratio']:g}: these weights barely move (rate too low, or "
                "vanishing gradients)",
            ),
            (
                self.layers,
                lambda la: la.update_ratio is not None and la.update_ratio > GOOD_RATIO * t["ratio"],
                f"update / weight above {GOOD_RATIO * t['ratio']:g}: one step changes these weights a lot (rate "
                "too high for weights of this size)",
            ),
        ]
        out = []
        for layers, test, text in found:
            numbers = [la.number for la in layers if test(la)]
            if numbers:
                out.append(f"{'layer' if len(numbers) == 1 else 'layers'} {_spans(numbers)} {text}")
        return out


def inspect(source, checkpoint: str = "best", split: str = "train", samples: int = 512, overrides=()) -> Inspection:
    """Inspect a config (a path, a mapping, YAML text or a ``Config``: its freshly initialised network), a
    run folder (its network at ``checkpoint``) or an ``Experiment`` as it stands (``nnlab.build``'s, or one
    a notebook has trained a few steps) on the first ``samples`` examples of ``split``."""
    if split not in SPLITS:
        raise NnlabError(f"--split: unknown split '{split}'{did_you_mean(split, SPLITS)}; give train, val or test")
    if samples < 1:
        raise NnlabError(f"--samples must be a positive number of examples, got {samples}")
    exp, where = _experiment(source, checkpoint, overrides)
    X, y = getattr(exp.splits, f"X_{split}"), getattr(exp.splits, f"y_{split}")
    if len(X) == 0:
        raise NnlabError(
            f"--split: the {split} split of '{where['source']}' is empty; give train, or a split the data have"
        )
    x, y = X[:samples], y[:samples]
    saved = _save(exp.net)
    try:
        captured = layer_outputs(exp.net, x)
        _restore(exp.net, saved)
        value, steps = _step(exp, x, y, where["lr"])
    finally:
        _restore(exp.net, saved)
    layers = [_report(i + 1, group, cap, steps) for i, (group, cap) in enumerate(captured)]
    return Inspection(
        network=exp.net.describe(),
        optimizer=exp.optimizer.registry_name,
        examples=len(x),
        split=split,
        loss=value,
        layers=layers,
        **where,
    )


def _experiment(source, checkpoint, overrides) -> tuple[Experiment, dict]:
    """The experiment to inspect and where it stands: a config's fresh one, or a run's at a checkpoint."""
    from nnlab.runs.folder import RunFolder

    if isinstance(source, Experiment):
        where = {"source": source.config.name, "kind": "experiment", "checkpoint": None}
        return source, {**where, **_position(source)}
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        folder = RunFolder.open(source)
        return _run_experiment(folder, checkpoint, overrides)
    from nnlab.api import as_config

    if isinstance(source, (str, Path)) and "\n" not in str(source) and not Path(source).exists():
        raise NnlabError(f"'{source}' not found: give a config file (.yaml) or a run folder")
    exp = Experiment.from_config(as_config(source, overrides))
    name = str(source) if isinstance(source, (str, Path)) else exp.config.name
    return exp, {"source": name, "kind": "config", "checkpoint": None, **_position(exp)}


def _position(exp: Experiment) -> dict:
    """The epoch an experiment stands at by its optimizer's steps, and the rate of its next step."""
    epoch = exp.optimizer.t // exp.n_batches
    return {"epoch": epoch, "lr": exp.schedule.lr(epoch, exp.optimizer.t)}


def _run_experiment(folder, checkpoint, overrides) -> tuple[Experiment, dict]:
    from nnlab.inference import TrainedModel
    from nnlab.runs.checkpoint import load_checkpoint, subset

    if overrides:
        raise NnlabError("-o overrides apply to a config; a run folder is inspected as it was trained")
    path = folder.find_checkpoint(checkpoint)
    tensors, meta = load_checkpoint(path)
    model = TrainedModel(tensors, meta, path, folder.path)  # checks that the checkpoint rebuilds its network
    exp = Experiment.from_config(model.config, meta.get("overfit"))
    exp.net.load_state_dict(model.net.state_dict())
    exp.optimizer.load_state_dict(subset(tensors, "optim"), meta.get("optimizer") or {})
    exp.schedule.load_state_dict(meta.get("schedule") or {})
    epoch = model.epoch
    lr = exp.schedule.lr(epoch, epoch * exp.n_batches)  # the rate of the next step
    return exp, {"source": str(folder.path), "kind": "run", "checkpoint": path.stem, "epoch": epoch, "lr": lr}


def groups(net) -> list[list[int]]:
    """The layers of ``net`` grouped by layer with weights: each dense or maxout layer with the layers that
    follow it up to the next one (batch norm, activation, dropout)."""
    out: list[list[int]] = []
    for i, layer in enumerate(net.layers):
        if isinstance(layer, (Dense, Maxout)) or not out:
            out.append([])
        out[-1].append(i)
    return [g for g in out if isinstance(net.layers[g[0]], (Dense, Maxout))]


def layer_outputs(net, x, training: bool = True) -> list[tuple[list[int], dict]]:
    """One forward pass of ``x``; per group (``groups``) its layers' indices and ``pre``, ``act`` (float64
    copies of the pre-activations and activations), ``activation`` (its name) and ``describe``. In training
    mode batch norm updates its running statistics and dropout draws from its generator: the caller keeps
    them (``inspect`` does)."""
    seen: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for i, layer in enumerate(net.layers):
        z = x
        if isinstance(layer, (ActivationLayer, PReLU)):
            z = np.array(x, dtype=np.float64)  # before the layer: an activation may overwrite its input
        x = layer.forward(x, training)
        if isinstance(layer, (ActivationLayer, PReLU)):
            seen[i] = (z, np.array(x, dtype=np.float64))
        elif isinstance(layer, (Dense, Maxout, BatchNorm)):
            out = np.array(x, dtype=np.float64)
            seen[i] = (out, out)
    captured = []
    for g in groups(net):
        acts = [i for i in g if isinstance(net.layers[i], (ActivationLayer, PReLU))]
        last = acts[0] if acts else max(i for i in g if i in seen)
        pre, act = seen[last]
        name = net.layers[acts[0]].describe() if acts else "identity"
        captured.append((g, {"pre": pre, "act": act, "activation": name, "describe": _describe(net, g)}))
    return captured


def _describe(net, group) -> str:
    return " → ".join(net.layers[i].describe() for i in group if not isinstance(net.layers[i], Dropout))


def _step(exp: Experiment, x, y, lr: float) -> tuple[float, dict]:
    """The batch's loss and, per weight matrix (by its layer's index), (W, ∂J/∂W, ΔW) of one optimizer step,
    taken as ``Experiment.train_step`` takes it but by a copy of the optimizer on a copy of the weights."""
    net = exp.net
    value, _ = exp.rule.learn(x, y, exp.loss)
    if "weights" not in net.grads:
        return float(value), {}
    w, gw = net.params["weights"], net.grads["weights"]
    for r in exp.penalties:  # the loss reported stays the data's; the step sees the penalty's gradient
        r.add_grad(w, gw)
    if exp.config.training.grad_clip:
        clip_gradients(net.grads, exp.config.training.grad_clip)
    after = {k: v.copy() for k, v in net.params.items()}
    copy.deepcopy(exp.optimizer).step(after, net.grads, lr)
    steps = {}
    for i, layer in enumerate(net.layers):
        if isinstance(layer, (Dense, Maxout)):
            W = layer.params["W"]
            start = (W.__array_interface__["data"][0] - w.__array_interface__["data"][0]) // w.itemsize
            delta = after["weights"][start : start + W.size].reshape(W.shape) - W
            steps[i] = (W, layer.grads["W"].copy(), delta)
    return float(value), steps


def _report(number: int, group: list[int], cap: dict, steps: dict) -> LayerReport:
    pre, act, name = cap["pre"], cap["act"], cap["activation"]
    step = steps.get(group[0])
    W = step[0] if step else None
    w_norm = _norm(W) if W is not None else math.nan
    saturated = dead = None
    if name in BOUNDS:
        lo, hi = BOUNDS[name]
        margin = SATURATION * (hi - lo)
        saturated = float(np.mean((act <= lo + margin) | (act >= hi - margin)))
    if name in DYING:
        dead = float(np.mean(np.all(pre <= 0, axis=0)))
    return LayerReport(
        number=number,
        layers=cap["describe"],
        units=pre.shape[1],
        activation=name,
        pre_mean=float(pre.mean()),
        pre_std=float(pre.std()),
        act_mean=float(act.mean()),
        act_std=float(act.std()),
        saturated=saturated,
        dead=dead,
        weight_norm=w_norm,
        grad_norm=_norm(step[1]) if step else None,
        update_ratio=_norm(step[2]) / w_norm if step and w_norm > 0 else None,
        pre=pre,
        act=act,
    )


def _norm(a) -> float:
    a = np.asarray(a, dtype=np.float64)
    return float(math.sqrt(np.dot(a.ravel(), a.ravel())))


def _save(net) -> dict:
    """What a forward and backward pass in training mode change: buffers, gradients, dropout generators."""
    rngs = {id(la.rng): la.rng for la in net.layers if isinstance(la, Dropout) and la.rng is not None}
    return {
        "buffers": {k: v.copy() for k, v in net.named_buffers().items()},
        "grads": {k: v.copy() for k, v in net.grads.items()},
        "rngs": [(g, copy.deepcopy(g.bit_generator.state)) for g in rngs.values()],
    }


def _restore(net, saved: dict) -> None:
    for k, v in net.named_buffers().items():
        v[...] = saved["buffers"][k]
    for k, v in net.grads.items():
        v[...] = saved["grads"][k]
    for g, st in saved["rngs"]:
        g.bit_generator.state = st


def _spans(numbers: list[int]) -> str:
    """[1, 2, 3, 5] → "1–3, 5"."""
    spans, start = [], numbers[0]
    for a, b in zip(numbers, numbers[1:] + [None]):
        if b != a + 1:
            spans.append(str(start) if start == a else f"{start}–{a}")
            start = b
    return ", ".join(spans)
