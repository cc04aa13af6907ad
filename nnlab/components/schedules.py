"""Learning-rate schedules: ``lr(epoch, step) -> float`` (epoch counts from 0, step is the global batch).

Every schedule is built with the optimizer's base rate α₀ and the run's length; any of them accepts
``warmup: N`` in its spec, which ramps the rate linearly from near 0 up to the schedule over N epochs.
"""

from __future__ import annotations

import math

from nnlab.metrics import improves, metric_mode
from nnlab.registry import REGISTRIES

SCHEDULES = REGISTRIES["schedule"]


class Schedule:
    base_lr, epochs, steps_per_epoch = 0.01, 1, 1

    def bind(self, base_lr: float, epochs: int, steps_per_epoch: int) -> Schedule:
        """Give the schedule the optimizer's base rate and the run's length."""
        self.base_lr = float(base_lr)
        self.epochs = int(epochs)
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        return self

    def lr(self, epoch: int, step: int) -> float:
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

    def lr(self, epoch, step):
        return self.base_lr


@SCHEDULES.register("step")
class StepDecay(Schedule):
    """Step decay: α = α₀ · factor^⌊epoch / every⌋ (deck 002)."""

    def __init__(self, every: int = 10, factor: float = 0.5):
        if every < 1:
            raise ValueError(f"every must be ≥ 1, got {every}")
        self.every, self.factor = int(every), float(factor)

    def lr(self, epoch, step):
        return self.base_lr * self.factor ** (epoch // self.every)


@SCHEDULES.register("exponential")
class Exponential(Schedule):
    """Exponential decay: α = α₀ e^(−k t), t the epoch (deck 002)."""

    def __init__(self, k: float = 0.1):
        self.k = float(k)

    def lr(self, epoch, step):
        return self.base_lr * math.exp(-self.k * epoch)


@SCHEDULES.register("inverse_time", "1/t")
class InverseTime(Schedule):
    """1/t decay: α = α₀ / (1 + k t), t the epoch (deck 002)."""

    def __init__(self, k: float = 0.1):
        self.k = float(k)

    def lr(self, epoch, step):
        return self.base_lr / (1 + self.k * epoch)


@SCHEDULES.register("cosine")
class Cosine(Schedule):
    """Cosine annealing: α = α_min + ½(α₀ − α_min)(1 + cos(π t / T)) over the run's T epochs."""

    def __init__(self, min_lr: float = 0.0):
        self.min_lr = float(min_lr)

    def lr(self, epoch, step):
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
    ):
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

    def lr(self, epoch, step):
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


class Warmup(Schedule):
    """Linear warm-up over N epochs in front of another schedule: α = inner(t) · (step+1) / (N · steps)."""

    def __init__(self, inner: Schedule, warmup: int):
        self.bind(inner.base_lr, inner.epochs, inner.steps_per_epoch)
        self.inner, self.warmup_steps = inner, int(warmup) * self.steps_per_epoch

    def lr(self, epoch, step):
        scale = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps else 1.0
        return self.inner.lr(epoch, step) * scale

    def observe(self, epoch, metrics):
        self.inner.observe(epoch, metrics)

    def state_dict(self):
        return self.inner.state_dict()

    def load_state_dict(self, state):
        self.inner.load_state_dict(state)


def build_schedule(spec, base_lr: float, epochs: int, steps_per_epoch: int) -> Schedule:
    """Build ``spec`` (a name or mapping, with an optional ``warmup: N`` epochs) for this run."""
    name, kwargs = SCHEDULES.split_spec(spec)
    warmup = kwargs.pop("warmup", 0)
    inner = SCHEDULES.build({"name": name, **kwargs}).bind(base_lr, epochs, steps_per_epoch)
    return Warmup(inner, warmup) if warmup else inner


def check_schedule(spec) -> None:
    name, kwargs = SCHEDULES.split_spec(spec)
    warmup = kwargs.pop("warmup", 0)
    if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
        raise ValueError(f"schedule warmup must be a whole number of epochs ≥ 0, got {warmup!r}")
    SCHEDULES.check({"name": name, **kwargs})
