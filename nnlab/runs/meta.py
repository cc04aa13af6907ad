"""The schema of a checkpoint's metadata: every field nnlab reads back, checked before anything uses it.

A checkpoint's checksum proves that its file is whole, not that its contents make sense: whoever edits the
metadata can sign it again. ``check_meta`` is the one gate every reader passes (``load_checkpoint``): an
epoch that is not a whole number, a feature count of a hundred billion, an RNG state that no generator
accepts, a metrics row that is not a mapping are refused with the field's dotted path, instead of failing
deep inside numpy. Keys may be absent (what each reader needs, it asks for); keys nnlab does not know are
kept (a newer nnlab may write more).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nnlab.errors import CheckpointError

#: more features or outputs than this is no network nnlab could have trained (2³¹: numpy's int32 shapes)
MAX_UNITS = 2**31 - 1

Count = Annotated[int, Field(ge=0)]
Number = float | None  # JSON's NaN and infinities included: a metric may be NaN


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


def _check_rng_state(value: dict) -> dict:
    """An RNG state that numpy's bit generator of that name accepts (set on a throwaway one)."""
    name = value.get("bit_generator")
    if name not in ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"):
        raise ValueError(f"names no numpy bit generator ({name!r})")
    try:
        getattr(np.random, name)().state = value
    except (TypeError, ValueError, KeyError, OverflowError) as e:
        raise ValueError(f"is not a state of a {name} generator ({e})") from None
    return value


RngState = Annotated[dict[str, Any], Field()]


class Rng(_Strict):
    shuffle: RngState
    dropout: RngState

    @field_validator("shuffle", "dropout")
    @classmethod
    def _state(cls, v):
        return _check_rng_state(v)


class Position(_Strict):
    """Where inside an epoch an interrupted run stopped."""

    epoch: Count
    batch: Count
    shuffle_state: RngState
    train_loss_sum: float = 0.0
    penalty_sum: float = 0.0
    correct: Count = 0
    seconds: float = 0.0

    @field_validator("shuffle_state")
    @classmethod
    def _state(cls, v):
        return _check_rng_state(v)


class Data(_Strict):
    task: Literal["classification", "regression"]
    n_features: Annotated[int, Field(ge=1, le=MAX_UNITS)]
    n_outputs: Annotated[int, Field(ge=1, le=MAX_UNITS)]
    n_classes: Annotated[int, Field(ge=0, le=MAX_UNITS)] = 0
    class_names: list[str] | None = None
    feature_names: list[str] | None = None
    examples: dict[Literal["train", "val", "test"], Count] | None = None

    @model_validator(mode="after")
    def _consistent(self):
        if self.feature_names is not None and len(self.feature_names) != self.n_features:
            raise ValueError(f"feature_names has {len(self.feature_names)} names for n_features {self.n_features}")
        if self.task == "classification":
            if self.n_classes < 1:
                raise ValueError("a classification run needs n_classes of at least 1")
            if self.class_names is not None and len(self.class_names) != self.n_classes:
                raise ValueError(f"class_names has {len(self.class_names)} names for n_classes {self.n_classes}")
        return self


class Best(_Strict):
    epoch: Annotated[int, Field(ge=1)]
    monitor: str | None = None
    value: Number = None
    metrics: dict[str, Number] | None = None


class ScheduleState(_Strict):
    """A schedule's state (``reduce_on_plateau``'s; the others keep none)."""

    current: float | None = None
    best: Number = None
    wait: Count | None = None


class EarlyStoppingState(_Strict):
    best: Number = None
    wait: Count = 0


class Meta(_Strict):
    nnlab_version: str | None = None
    epoch: Count | None = None
    position: Position | None = None
    config: dict[str, Any] | None = None
    metrics: list[dict[str, Number]] | None = None
    best: Best | None = None
    optimizer: dict[str, Any] | None = None
    schedule: ScheduleState | None = None
    early_stopping: EarlyStoppingState | None = None
    rng: Rng | None = None
    data: Data | None = None
    overfit: Annotated[int, Field(ge=1)] | None = None
    initial_loss: Number = None
    wall_seconds: Annotated[float, Field(ge=0)] | None = None
    resumes: list[dict[str, Any]] | None = None

    @field_validator("optimizer")
    @classmethod
    def _optimizer(cls, v):
        if v is not None and "t" in v and (not isinstance(v["t"], int) or isinstance(v["t"], bool) or v["t"] < 0):
            raise ValueError(f"t (the optimizer's step count) must be a whole number ≥ 0, got {v['t']!r}")
        return v


def check_meta(meta, source) -> dict:
    """``meta`` (a checkpoint's decoded metadata) if every field nnlab reads has the type and range it
    must; else ``CheckpointError`` naming the first bad field of ``source`` (the file)."""
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint '{source}' has metadata that is not a JSON object")
    try:
        Meta.model_validate(meta)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "metadata"
        value = err.get("input")
        got = "" if isinstance(value, (dict, list)) and err["type"] == "value_error" else f" (got {_short(value)})"
        why = err["msg"].removeprefix("Value error, ")
        why = why[:1].lower() + why[1:]
        raise CheckpointError(
            f"checkpoint '{source}' has metadata that nnlab did not write: {where}: {why}{got}; "
            "the file was edited after training — use another checkpoint of the run or train it again"
        ) from None
    return meta


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
