"""An experiment: everything one config builds, assembled once (DESIGN §1).

``Experiment.from_config(config)`` loads and splits the data, fits the preprocessing on the train split,
resolves the defaults that depend on the data, and builds the network, the loss, the optimizer, the
learning-rate schedule, the regularizers, the training rule and the random streams. Training, resuming and
gradient checking all start from it; nothing else assembles a run. ``train_step`` is one optimisation step.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from nnlab import parallel
from nnlab.architecture import build_network, check_memory, output_units, resolve
from nnlab.components.compat import check_loss_fits_classes, check_monitors
from nnlab.components.regularizers import build_regularizers
from nnlab.components.schedules import build_schedule
from nnlab.config import Config
from nnlab.data.augment import build_augmenter
from nnlab.data.core import load_splits
from nnlab.errors import ConfigError
from nnlab.metrics import row_columns
from nnlab.registry import registry
from nnlab.seeds import generators, streams
from nnlab.training.rules import build_rule


class Diverged(Exception):
    """The loss of a batch is not finite; nothing was updated."""

    def __init__(self, value: float):
        super().__init__(f"the loss became {value}")
        self.value = value


@dataclass
class Experiment:
    """The objects of one run, built from its ``config`` (with every default resolved)."""

    config: Config
    splits: object  # nnlab.data.core.Splits, preprocessed, in the config's dtype
    preprocessor: object
    net: object  # nnlab.network.Network
    loss: object
    optimizer: object
    schedule: object
    rule: object  # nnlab.training.rules.Rule
    penalties: list = field(default_factory=list)  # regularizers added to the loss (l1, l2, elastic net)
    constraints: list = field(default_factory=list)  # applied after each step (max-norm)
    #: one Generator per purpose (data, split, init, shuffle, dropout), from the config's seed (nnlab.seeds)
    rngs: dict = field(default_factory=dict)
    batch_size: int = 1
    n_batches: int = 1
    #: train on this many examples and validate on the same (deck 002's sanity check); None: all
    overfit: int | None = None
    #: data.augment: ``augment(x, epoch, batch)`` gives a training batch's augmented copy; None: no augmentation
    augment: object = None
    #: the thread count of each step, fewer where cores are busy (nnlab.parallel.Tuner)
    threads: parallel.Tuner = field(default_factory=parallel.Tuner)

    @classmethod
    def from_config(cls, config: Config, overfit: int | None = None, dataset=None) -> Experiment:
        """Everything ``config`` builds; ``dataset``: a ``nnlab.data.core.Dataset`` given in memory
        (``nnlab.data.memory.from_arrays``) in place of the one the config names."""
        if overfit is not None and overfit < 1:
            raise ConfigError(f"--overfit must be a positive number of examples, got {overfit}")
        splits, preprocessor = load_splits(config.data, config.seed, np.dtype(config.dtype), dataset)
        rngs = generators(config.seed)
        if overfit:
            _keep(splits, overfit, rngs["overfit"])
        cfg = resolve(config, splits.task)
        loss = registry("loss").build(cfg.loss)
        n_train, bs = len(splits.X_train), cfg.training.batch_size  # the memory a batch takes, before allocating
        check_memory(
            cfg, splits.n_features, output_units(loss, splits, cfg), n_train if bs == "full" else min(bs, n_train)
        )
        net = build_network(cfg, splits.n_features, output_units(loss, splits, cfg), rngs["init"], rngs["dropout"])
        optimizer = registry("optimizer").build(cfg.optimizer)
        parallel.refresh()  # the optimizer's update uses as many threads as BLAS may, now
        n = len(splits.X_train)
        bs = cfg.training.batch_size
        batch_size = n if bs == "full" else min(int(bs), n)
        n_batches = math.ceil(n / batch_size)
        regs = build_regularizers(cfg.regularization)
        schedule = build_schedule(cfg.schedule, optimizer.lr, cfg.training.epochs, n_batches)
        _check_against_data(cfg, splits, loss, net, schedule, any(not r.is_constraint for r in regs))
        return cls(
            config=cfg,
            splits=splits,
            preprocessor=preprocessor,
            net=net,
            loss=loss,
            optimizer=optimizer,
            schedule=schedule,
            rule=build_rule(cfg, net, loss, splits.task, optimizer.lr),
            penalties=[r for r in regs if not r.is_constraint],
            constraints=[r for r in regs if r.is_constraint],
            rngs=rngs,
            batch_size=batch_size,
            n_batches=n_batches,
            overfit=overfit,
            augment=build_augmenter(cfg.data, preprocessor, splits.n_features, streams(cfg.seed)["augment"], cfg.dtype),
            threads=parallel.Tuner(net.weight_matrices(), batch_size),
        )

    @property
    def expected_initial_loss(self) -> float | None:
        """ln C for cross-entropy over C classes, ln 2 for binary cross-entropy: the loss of outputs that do not
        yet depend on the input (deck 002's sanity check); None for other losses. How far from it a freshly
        initialised network may start is ``initial_loss_range``."""
        if self.loss.registry_name == "cross_entropy" and self.splits.n_classes > 1:
            return math.log(self.splits.n_classes)
        if self.loss.registry_name == "bce":
            return math.log(2)
        return None

    def initial_loss_range(self, rows: int = 4096) -> tuple[float, float] | None:
        """The initial loss a sound start can have, ``(low, high)``; None where ``expected_initial_loss`` is.

        Whatever its label, an example's cross-entropy lies between −ln maxⱼ pⱼ and −ln minⱼ pⱼ (its label the
        network's most or least likely class): the range is the mean of both over the first ``rows`` training
        inputs standardised (zero mean, unit variance per feature, the scale initialisers are designed for),
        through the network as the config's seed initialises it, widened by 0.1 % for rounding. A config that
        standardises its inputs starts inside it by construction; a loss above it means inputs on another scale
        (features × 1000: a loss in the thousands) or a broken initialisation."""
        import warnings

        from nnlab.metrics import as_probabilities

        if self.expected_initial_loss is None:
            return None
        cfg, s = self.config, self.splits
        rngs = generators(cfg.seed)  # the run's initial weights, rebuilt: a resumed run's net has trained
        with warnings.catch_warnings():  # whatever the config warns about, it warned when the run was built
            warnings.simplefilter("ignore")
            net = build_network(cfg, s.n_features, self.net.n_outputs, rngs["init"], rngs["dropout"])
        X = np.asarray(s.X_train[:rows], dtype=np.float64)
        std = X.std(axis=0)
        X = ((X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)).astype(net.dtype)
        split = net.fused_split(self.loss)
        if split is None:
            out = net.predict(X)
        else:
            out = net.layers[split].activation.forward(net.forward(X, upto=split).astype(np.float64))
        p = np.maximum(as_probabilities(np.asarray(out, dtype=np.float64)), np.finfo(np.float64).tiny)
        low, high = float(np.mean(-np.log(p.max(axis=1)))), float(np.mean(-np.log(p.min(axis=1))))
        return low * (1 - 1e-3), high * (1 + 1e-3)

    def describe_data(self) -> dict:
        """What a trained model needs to know of its data (stored in every checkpoint)."""
        s = self.splits
        return {
            "task": s.task,
            "n_features": s.n_features,
            "n_outputs": self.net.n_outputs,
            "n_classes": s.n_classes,
            "class_names": s.class_names,
            "feature_names": s.feature_names,
            "examples": {"train": len(s.X_train), "val": len(s.X_val), "test": len(s.X_test)},
        }

    def train_step(self, x, y, lr: float) -> tuple[float, float, np.ndarray]:
        """One optimisation step on the batch (x, y) at learning rate ``lr``: forward, loss, backward (or the
        perceptron / delta rule), penalties, gradient clipping, the optimizer's update, constraints.

        Returns the batch's mean loss, its penalty and the forward output (logits where the loss is fused
        with the output activation; a buffer reused by the next call). Raises ``Diverged`` before any update
        where the loss is not finite. Allocates nothing at steady state (tests/test_speed.py)."""
        with self.threads:
            return self._train_step(x, y, lr)

    def _train_step(self, x, y, lr: float) -> tuple[float, float, np.ndarray]:
        net = self.net
        value, out = self.rule.learn(x, y, self.loss)
        pen = 0.0
        if self.penalties:
            w, gw = net.params["weights"], net.grads["weights"]
            for r in self.penalties:
                pen += r.penalty(w)
                r.add_grad(w, gw)
        if not math.isfinite(value + pen):
            raise Diverged(value + pen)
        if self.config.training.grad_clip:
            clip_gradients(net.grads, self.config.training.grad_clip)
        self.optimizer.step(net.params, net.grads, lr)
        for c in self.constraints:
            for W in net.weight_matrices():
                c.constrain(W)
        return value, pen, out


def _check_against_data(cfg: Config, splits, loss, net, schedule, penalty: bool) -> None:
    """What only the data decide, refused before training: binary cross-entropy on more than two classes, and
    a monitor (early stopping's, training.monitor, reduce_on_plateau's) that names no column of metrics.csv."""
    check_loss_fits_classes(loss, splits.task, splits.n_classes)
    has_val = len(splits.X_val) > 0
    tol = bool(cfg.training.tol and "weights" in net.params)
    layers = len(net.weight_matrices()) if getattr(cfg.training, "diagnostics", None) else 0
    columns = row_columns(splits.task, has_val, penalty, tol, layers)
    es, monitors = cfg.training.early_stopping, {}
    if es is not None:
        monitors["training.early_stopping.monitor"] = es.monitor
    if cfg.training.monitor is not None:
        monitors["training.monitor"] = cfg.training.monitor
    if isinstance(getattr(schedule, "monitor", None), str):
        monitors["schedule.monitor"] = schedule.monitor
    check_monitors(monitors, columns, splits.task, has_val)


def clip_gradients(grads: dict, max_norm: float) -> None:
    """Scale every gradient by max_norm / ‖g‖ where the global norm ‖g‖ over all of them exceeds max_norm."""
    norm = math.sqrt(sum(float(np.dot(g, g)) for g in grads.values()))
    if norm > max_norm:
        for g in grads.values():
            g *= g.dtype.type(max_norm / norm)


def _keep(splits, k: int, rng: np.random.Generator) -> None:
    """Keep k training examples, drawn at random (seeded) and, for classification, from every class in turn,
    and validate on the same ones: the first k rows of a sorted dataset would all be of one class."""
    y, k = splits.y_train, min(k, len(splits.y_train))
    order = rng.permutation(len(y))
    if splits.task == "classification":
        by_class = [order[y[order] == c] for c in np.unique(y)]
        order = np.array([i for row in itertools.zip_longest(*by_class) for i in row if i is not None])
    rows = np.sort(order[:k])
    splits.X_train, splits.y_train = splits.X_train[rows], splits.y_train[rows]
    splits.X_val, splits.y_val = splits.X_train, splits.y_train
