"""The sweep file: a base config, a search space over its dotted paths, and how to search it.

Random search samples every trial up front from the sweep's seed (deck 002, Bergstra & Bengio 2012), so
the same seed gives the same trials whichever executor runs them; grid search enumerates the product of
the listed values. Every trial's config is validated before any trial runs.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, model_validator

from nnlab.config import format_errors, load_yaml, set_value, validate
from nnlab.errors import ConfigError
from nnlab.metrics import metric_mode, row_columns
from nnlab.sweep.rungs import PruneConfig

DISTRIBUTIONS = ("choice", "uniform", "loguniform", "int", "qloguniform")


class Distribution(BaseModel):
    """One parameter's space: ``{values: [...]}`` or ``{distribution: NAME, low, high, ...}``."""

    model_config = ConfigDict(extra="forbid")
    distribution: Literal["choice", "uniform", "loguniform", "int", "qloguniform"] | None = None
    values: list[Any] | None = None
    low: float | None = Field(None, allow_inf_nan=False)
    high: float | None = Field(None, allow_inf_nan=False)
    log: bool = False
    q: float | None = Field(None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _consistent(self):
        if self.distribution is None:
            if self.values is None:
                raise ValueError(f"give values: [...] or a distribution ({', '.join(DISTRIBUTIONS)})")
            self.distribution = "choice"
        if self.distribution == "choice":
            if not self.values:
                raise ValueError("choice needs a non-empty values list")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"{self.distribution} needs low and high")
        if not self.low < self.high:
            raise ValueError(f"low must be < high, got low {self.low}, high {self.high}")
        if self.distribution in ("loguniform", "qloguniform") or (self.distribution == "int" and self.log):
            if self.low <= 0:
                raise ValueError(f"a log scale needs low > 0, got {self.low}")
        if self.distribution == "qloguniform" and self.q is None:
            raise ValueError("qloguniform needs q (the step values are rounded to)")
        return self

    def sample(self, rng: np.random.Generator):
        d = self.distribution
        if d == "choice":
            return copy.deepcopy(self.values[int(rng.integers(len(self.values)))])
        if d == "uniform":
            return float(rng.uniform(self.low, self.high))
        if d == "loguniform":
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        if d == "qloguniform":
            v = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
            return float(max(self.low, round(v / self.q) * self.q))
        # int: uniform over the integers low … high, on a log scale when log is true
        lo, hi = math.ceil(self.low), math.floor(self.high)
        if self.log:
            return int(min(hi, max(lo, round(math.exp(rng.uniform(math.log(lo), math.log(hi + 1) - 1e-12)) - 0.5))))
        return int(rng.integers(lo, hi + 1))


class SweepConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "sweep"
    base: str | dict[str, Any] = Field(
        description="path to a config (relative to the sweep file), or the config itself"
    )
    method: Literal["random", "grid", "tpe"] = "random"
    trials: StrictInt = Field(20, ge=1)
    seed: StrictInt = Field(0, ge=0)
    metric: str = "val_accuracy"
    mode: Literal["max", "min"] | None = None
    parameters: dict[str, Distribution]
    prune: PruneConfig | None = None

    @model_validator(mode="after")
    def _mode(self):
        if self.mode is None:
            self.mode = metric_mode(self.metric)
        if not self.parameters:
            raise ValueError("parameters: give at least one dotted path to search over")
        if self.prune and self.prune.halving and "training.epochs" in self.parameters:
            raise ValueError(
                f"parameters.training.epochs: with prune rule {self.prune.rule} the rungs decide how long a "
                "trial trains (prune.min_epochs … prune.max_epochs); remove it from the parameters"
            )
        if self.method == "grid":
            for path, d in self.parameters.items():
                if d.distribution != "choice":
                    raise ValueError(
                        f"parameters.{path}: grid search needs a values list, got a {d.distribution} distribution"
                    )
        return self


def load_sweep(path: str | Path) -> tuple[SweepConfig, dict]:
    """Read and validate a sweep file; return it and the base config as a raw mapping."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep file '{path}' not found" + (": it is a folder" if path.is_dir() else ""))
    raw, text = read_yaml(path, "sweep file")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a sweep file is a mapping (base, method, parameters, ...)")
    if "parameters" not in raw and {"data", "model"} <= set(raw):
        raise ConfigError(
            f"{path} is a training config, not a sweep file: a sweep file names a base config and "
            "the parameters to search (see configs/sweeps/moons.yaml)"
        )
    sweep = sweep_model(raw, str(path), text)
    return sweep, base_config(sweep, path.parent)


def read_yaml(path: Path, what: str) -> tuple[object, str]:
    """The YAML document of the file ``path`` and its text; a file that cannot be read or parsed is a
    ``ConfigError`` of one line naming it (and the line and column of a YAML error)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{what} '{path}' is not UTF-8 text (byte {e.start}): is it the right file?") from None
    except OSError as e:
        raise ConfigError(f"cannot read {what} '{path}': {e.strerror or e}") from None
    try:
        return load_yaml(text), text
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{path}:{where} malformed YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{path}: the YAML nests too deeply") from None


def one_line(message: str) -> str:
    """A message of several lines as one (the CLI prints one error line)."""
    return "; ".join(line.strip() for line in str(message).splitlines() if line.strip())


def sweep_model(raw, source: str, text: str | None = None) -> SweepConfig:
    try:
        return SweepConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(one_line(format_errors(e, raw, source, text, root=SweepConfig))) from None


def base_config(sweep: SweepConfig, folder: Path) -> dict:
    if isinstance(sweep.base, dict):
        return copy.deepcopy(sweep.base)
    base_path = (folder / sweep.base).resolve()
    if not base_path.is_file():
        raise ConfigError(f"base: config '{sweep.base}' not found (looked in {folder.resolve()})")
    raw, text = read_yaml(base_path, "base config")
    if not isinstance(raw, dict):
        raise ConfigError(f"base: '{base_path}' is not a config mapping")
    try:
        validate(copy.deepcopy(raw), source=str(base_path), text=text)
    except ConfigError as e:
        raise ConfigError(one_line(str(e))) from None
    return raw


def plan_trials(sweep: SweepConfig, base: dict, trials: int | None = None) -> list[dict]:
    """Every trial's sampled values, drawn up front from the sweep's seed, each config validated. TPE draws
    its trials as the sweep goes: for it these are random draws of the space, to check configs with."""
    if sweep.method == "grid":
        paths = list(sweep.parameters)
        combos = itertools.product(*(sweep.parameters[p].values for p in paths))
        planned = [dict(zip(paths, combo)) for combo in combos]
    else:
        planned = sample_trials(sweep, trials or sweep.trials)
    out, base = [], trial_base(sweep, base)
    for i, values in enumerate(planned):
        raw = trial_config(base, values, i)
        out.append({"trial": i, "values": values, "config": raw})
    return out


def trial_base(sweep: SweepConfig, base: dict) -> dict:
    """The base config every trial starts from: with ASHA or Hyperband, trained to ``prune.max_epochs``
    (the rungs stop it before), so that a promoted trial goes on exactly as a run of that length."""
    if not (sweep.prune and sweep.prune.halving):
        return base
    raw = copy.deepcopy(base)
    if not isinstance(raw.get("training", {}), dict):
        return raw  # validation says what is wrong with it
    raw.setdefault("training", {})["epochs"] = halving_rungs(sweep, base).max
    return raw


def halving_rungs(sweep: SweepConfig, base: dict):
    """The ``Rungs`` of an ASHA or Hyperband sweep; ``max_epochs`` defaults to the base's training.epochs."""
    from nnlab.sweep.rungs import Rungs

    prune = sweep.prune
    top = prune.max_epochs or validate(copy.deepcopy(base), source="base").training.epochs
    if prune.min_epochs > top:
        raise ConfigError(
            f"prune.min_epochs ({prune.min_epochs}) must be ≤ max_epochs ({top}"
            + (")" if prune.max_epochs else ", the base config's training.epochs)")
        )
    try:
        return Rungs.of(prune, top)
    except ValueError as e:
        raise ConfigError(f"prune.{e}") from None


def check_metric(sweep: SweepConfig, base: dict, planned: list[dict]) -> None:
    """Refuse, before any trial runs, a ``metric`` that the trials' metrics.csv will not have.

    A run's columns follow from its config and its data: epoch, lr, train_loss; train_accuracy for a
    classification task; penalty where a regularizer adds to the loss; val_loss and val_accuracy (or val_r2
    for regression) where there is a validation split; seconds; weight_change with ``training.tol``. These
    are ``nnlab.metrics.row_columns``, the very list the training loop writes (with ``training.diagnostics``,
    grad_norm_L and update_ratio_L of each dense layer L). The task and the
    size of the validation split come from building the base config's dataset once; a trial that sets
    ``data.split.val`` has a validation split where its fraction is above 0.
    """
    from nnlab.architecture import layer_specs
    from nnlab.components.regularizers import build_regularizers
    from nnlab.config import validate
    from nnlab.data.core import raw_splits
    from nnlab.errors import did_you_mean

    cfg = validate(copy.deepcopy(base), source="base")
    data = raw_splits(cfg.data, cfg.seed)
    task, base_val = data.task, len(data.X_val) > 0

    def columns(c) -> list[str]:
        has_val = base_val if c.data.split.val == cfg.data.split.val else c.data.split.val > 0
        penalty = any(not r.is_constraint for r in build_regularizers(c.regularization))
        dense = sum(spec.get("type") == "dense" for spec in layer_specs(c, 1)) if c.training.diagnostics else 0
        return row_columns(task, has_val, penalty, bool(c.training.tol), dense)

    missing = []  # (planned trial, its config, its columns) of the trials without the metric
    for p in planned:
        c = validate(copy.deepcopy(p["config"]), source=f"trial {p['trial']}")
        cols = columns(c)
        if sweep.metric not in cols:
            missing.append((p, c, cols))
    if not missing:
        return
    p, c, cols = missing[0]
    # the other task's figure (val_r2 on a classification task) is the likely slip: suggest this task's
    other = re.sub(r"_(r2|accuracy|acc)$", "_accuracy" if task == "classification" else "_r2", sweep.metric)
    hint = f" — did you mean '{other}'?" if other in cols else did_you_mean(sweep.metric, cols)
    if len(missing) == len(planned):
        split = f"validation split {c.data.split.val:g}" if "val_loss" in cols else "no validation split"
        raise ConfigError(
            f"metric: '{sweep.metric}' is not a column of the trials' metrics.csv: the trials ({task}, {split}) "
            f"write {', '.join(cols)}{hint}"
        )
    shown = ", ".join(f"{k}={v!r}" for k, v in p["values"].items())
    raise ConfigError(
        f"metric: '{sweep.metric}' would be missing from the metrics.csv of {len(missing)} of the {len(planned)} "
        f"trials, which could then not be ranked: trial {p['trial']} ({shown}) writes {', '.join(cols)}{hint}"
    )


#: how many times a random trial equal to an earlier one is drawn again in a space with distributions
REDRAWS = 100


def sample_trials(sweep: SweepConfig, n: int) -> list[dict]:
    """``n`` random trials from the sweep's seed, without repeating a trial while that can be avoided.

    Trial i draws from its own generator (spawned from the seed), so its values depend only on the seed and
    the trials before it: asking for more trials extends the same list. A trial identical to an earlier one
    is drawn again from the same generator: in a space of ``values`` lists only this samples the
    combinations without replacement until every one has been drawn (only then do trials repeat); in a
    space with distributions a repeat (a narrow ``int`` range, say) is drawn again up to ``REDRAWS`` times.
    """
    combos = choice_combinations(sweep)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(sweep.seed).spawn(n)]
    seen: set[str] = set()
    planned = []
    for rng in rngs:
        for attempt in itertools.count():
            values = {p: d.sample(rng) for p, d in sweep.parameters.items()}
            key = _key(values)
            if key not in seen or (len(seen) >= combos if combos else attempt >= REDRAWS):
                break
        seen.add(key)
        planned.append(values)
    return planned


def choice_combinations(sweep: SweepConfig) -> int | None:
    """The number of distinct trials of a space of ``values`` lists only; None where a parameter has a
    distribution."""
    if any(d.distribution != "choice" for d in sweep.parameters.values()):
        return None
    return math.prod(len({_key(v) for v in d.values}) for d in sweep.parameters.values())


def _key(value) -> str:
    import json

    return json.dumps(value, sort_keys=True, default=str)


def trial_config(base: dict, values: dict, index: int) -> dict:
    """The base config with the trial's values set at their dotted paths, validated."""
    raw = copy.deepcopy(base)
    for path, value in values.items():
        try:
            set_value(raw, path, copy.deepcopy(value))
        except ConfigError as e:
            raise ConfigError(one_line(f"parameters.{path}: {e}")) from None
    raw["name"] = f"trial-{index:03d}"
    try:
        validate(copy.deepcopy(raw), source=f"trial {index}")
    except ConfigError as e:
        shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
        raise ConfigError(one_line(f"trial {index} ({shown}) is not a valid config: {e}")) from None
    return raw
