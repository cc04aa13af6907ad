"""Learning-rate schedules: ``lr(epoch, step) -> float`` (epoch counts from 0, step is the global batch).

A schedule is built from its spec (``{name: step, every: 10, factor: 0.5, warmup: 1}``), then bound to the
run with ``bind(base_lr, epochs, steps_per_epoch)``: the optimizer's base rate α₀ and the run's length.
Each one takes ``warmup: N`` epochs (default 0), which multiplies its rate by the linear ramp
(step + 1) / (N · steps_per_epoch) until it reaches 1: the schedule itself is not delayed.
A subclass writes its own formula as ``rate(epoch, step)``; ``lr`` applies the warm-up around it.
"""

from __future__ import annotations

import math

from nnlab.errors import NnlabError
from nnlab.metrics import improves, metric_mode
from nnlab.registry import REGISTRIES

SCHEDULES = REGISTRIES["schedule"]


class Schedule:
    #: set by ``bind``; None until then
    base_lr: float | None = None
    epochs, steps_per_epoch = 1, 1
    warmup, warmup_steps = 0, 0

    def __init__(self, warmup: int = 0):
        if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
            raise ValueError(f"warmup must be a whole number of epochs ≥ 0, got {warmup!r}")
        self.warmup = warmup

    def bind(self, base_lr: float, epochs: int, steps_per_epoch: int) -> Schedule:
        """Give the schedule the optimizer's base rate and the run's length."""
        self.base_lr = float(base_lr)
        self.epochs = int(epochs)
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        self.warmup_steps = self.warmup * self.steps_per_epoch
        return self

    def lr(self, epoch: int, step: int) -> float:
        """The rate of this step: the schedule's ``rate``, times the warm-up ramp while it lasts."""
        if self.base_lr is None:
            raise NnlabError(
                f"schedule '{getattr(self, 'registry_name', type(self).__name__)}' is not bound to a run: "
                "call bind(base_lr, epochs, steps_per_epoch) first"
            )
        if not self.warmup_steps:
            return self.rate(epoch, step)
        return self.rate(epoch, step) * min(1.0, (step + 1) / self.warmup_steps)

    def rate(self, epoch: int, step: int) -> float:
        """The schedule's own formula, without warm-up."""
        raise NotImplementedError

    def observe(self, epoch: int, metrics: dict) -> None:
        """Called after each epoch with its metrics (reduce_on_plateau listens)."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


@SCHEDULES.register("constant")
class Constant(Schedule):
    """α = α₀."""

    def rate(self, epoch, step):
        return self.base_lr


@SCHEDULES.register("step")
class StepDecay(Schedule):
    """Step decay: α = α₀ · factor^⌊epoch / every⌋ (deck 002)."""

    def __init__(self, every: int = 10, factor: float = 0.5, warmup: int = 0):
        super().__init__(warmup)
        if every < 1:
            raise ValueError(f"every must be ≥ 1, got {every}")
        self.every, self.factor = int(every), float(factor)

    def rate(self, epoch, step):
        return self.base_lr * self.factor ** (epoch // self.every)


@SCHEDULES.register("exponential")
class Exponential(Schedule):
    """Exponential decay: α = α₀ e^(−k t), t the epoch (deck 002)."""

    def __init__(self, k: float = 0.1, warmup: int = 0):
        super().__init__(warmup)
        self.k = float(k)

    def rate(self, epoch, step):
        return self.base_lr * math.exp(-self.k * epoch)


@SCHEDULES.register("inverse_time", "1/t")
class InverseTime(Schedule):
    """1/t decay: α = α₀ / (1 + k t), t the epoch (deck 002)."""

    def __init__(self, k: float = 0.1, warmup: int = 0):
        super().__init__(warmup)
        self.k = float(k)

    def rate(self, epoch, step):
        return self.base_lr / (1 + self.k * epoch)


@SCHEDULES.register("cosine")
class Cosine(Schedule):
    """Cosine annealing: α = α_min + ½(α₀ − α_min)(1 + cos(π t / T)) over the run's T epochs."""

    def __init__(self, min_lr: float = 0.0, warmup: int = 0):
        super().__init__(warmup)
        self.min_lr = float(min_lr)

    def rate(self, epoch, step):
        t = min(step / (self.epochs * self.steps_per_epoch), 1.0)
        return self.min_lr + 0.5 * (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * t))


@SCHEDULES.register("reduce_on_plateau", "plateau")
class ReduceOnPlateau(Schedule):
    """Multiply α by `factor` when `monitor` has not improved by `min_delta` for `patience` epochs."""

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.5,
        patience: int = 3,
        min_delta: float = 0.0,
        min_lr: float = 0.0,
        warmup: int = 0,
    ):
        super().__init__(warmup)
        if not 0 < factor < 1:
            raise ValueError(f"factor must be in (0, 1), got {factor}")
        self.monitor, self.factor, self.patience = monitor, float(factor), int(patience)
        self.min_delta, self.min_lr = float(min_delta), float(min_lr)
        self.mode = metric_mode(monitor)
        self.current, self.best, self.wait = None, None, 0

    def bind(self, base_lr, epochs, steps_per_epoch):
        super().bind(base_lr, epochs, steps_per_epoch)
        self.current = self.base_lr
        return self

    def rate(self, epoch, step):
        return self.current

    def observe(self, epoch, metrics):
        value = metrics.get(self.monitor)
        if value is None or value != value:
            return
        if improves(value, self.best, self.mode, self.min_delta):
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.current, self.wait = max(self.current * self.factor, self.min_lr), 0

    def state_dict(self):
        return {"current": self.current, "best": self.best, "wait": self.wait}

    def load_state_dict(self, state):
        self.current, self.best, self.wait = state["current"], state["best"], state["wait"]


def build_schedule(spec, base_lr: float, epochs: int, steps_per_epoch: int) -> Schedule:
    """Build ``spec`` (a name or mapping, with an optional ``warmup: N`` epochs) and bind it to this run."""
    return SCHEDULES.build(spec).bind(base_lr, epochs, steps_per_epoch)


def check_schedule(spec) -> None:
    """Raise the registry's error for a spec that ``build_schedule`` would refuse."""
    SCHEDULES.build(spec)
