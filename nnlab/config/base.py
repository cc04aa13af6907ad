"""The base of every config section: the checks each of its values gets, whatever section or field.

A section (``nnlab.config.schema``) derives from ``Section``: an unknown key is refused, every float must be
finite (``lr: .inf`` and ``.nan`` pass ``lr > 0``; component arguments inside a spec are checked too), and a
bool is refused where the field takes none (``epochs: true`` would otherwise be the integer 1). A field added to
any section inherits all three.
"""

from __future__ import annotations

import math
import types
import typing
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, model_validator


class Section(BaseModel):
    """A config section: unknown keys refused, every float finite, a bool only where a field takes one."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _plain_values(cls, raw):
        if not isinstance(raw, dict):
            return raw
        for key, value in raw.items():
            field = cls.model_fields.get(key) if isinstance(key, str) else None
            if field is not None and submodel(field.annotation) is not None:
                continue  # a section checks its own values
            misplaced = _misplaced_bool(value, field.annotation) if field is not None else None
            if misplaced is not None:
                where, annotation, flag = misplaced
                raise ValueError(f".{key}{where}: must be {expected(annotation)}, got {str(flag).lower()}")
            bad = _non_finite(value)
            if bad is not None:
                where, number = bad
                raise ValueError(f".{key}{where}: must be a finite number, got {number}")
        return raw


def _misplaced_bool(value, annotation, where: str = ""):
    """``(path, type, bool)`` of a bool in ``value`` where its field's ``annotation`` takes none (``[4, true]``
    as a ``list[int]``), else None."""
    if isinstance(value, bool):
        return None if _takes_bool(annotation) else (where, annotation, value)
    members = typing.get_args(annotation) if typing.get_origin(annotation) in (Union, types.UnionType) else ()
    for t in members or (annotation,):
        args = typing.get_args(t)
        if isinstance(value, list) and typing.get_origin(t) is list and args:
            items = [(f"{where}[{i}]", v, args[0]) for i, v in enumerate(value)]
        elif isinstance(value, dict) and typing.get_origin(t) is dict and len(args) == 2:
            items = [(f"{where}.{k}", v, args[1]) for k, v in value.items()]
        else:
            continue
        for place, v, inner in items:
            found = _misplaced_bool(v, inner, place)
            if found is not None:
                return found
    return None


def _takes_bool(annotation) -> bool:
    """Whether a field of this type may hold true or false (bool, Any, or a union with either)."""
    if annotation is bool or annotation is Any:
        return True
    return any(_takes_bool(t) for t in typing.get_args(annotation) if typing.get_origin(annotation) is not Literal)


def expected(annotation) -> str:
    """What a field of this type takes, as a user reads it: ``an integer or 'full'``."""
    if typing.get_origin(annotation) is Literal:
        values = [repr(v) for v in typing.get_args(annotation)]
        return values[0] if len(values) == 1 else "one of " + ", ".join(values)
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "a mapping"}
    if annotation in names:
        return names[annotation]
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        return "a list"
    if origin is dict:
        return "a mapping"
    parts = [expected(t) for t in typing.get_args(annotation) if t is not type(None)]
    return " or ".join(dict.fromkeys(parts)) if parts else "a value"


def _non_finite(value, where: str = ""):
    """``(path, value)`` of the first infinite or NaN float in ``value`` (nested lists and mappings), else None."""
    if isinstance(value, float) and not math.isfinite(value):
        return where, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        found = _non_finite(v, f"{where}[{k}]" if isinstance(k, int) else f"{where}.{k}")
        if found is not None:
            return found
    return None


def submodel(annotation) -> type[BaseModel] | None:
    """The section model a field holds (``TrainingConfig`` for ``training``), None for a plain value."""
    for t in (annotation, *typing.get_args(annotation)):
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None
