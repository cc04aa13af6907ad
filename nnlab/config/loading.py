"""Reading a config: YAML text or file, dotted ``-o key=value`` overrides, validation into a ``Config``."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from nnlab.config.base import submodel
from nnlab.config.messages import format_errors, parse_path, show
from nnlab.config.schema import Config, DataConfig
from nnlab.config.yamlio import load_yaml
from nnlab.errors import ConfigError, did_you_mean


def load_config(path: str | Path, overrides: list[str] = (), seed: int | None = None) -> Config:
    """Read a YAML config file, apply ``key.path=value`` overrides, validate."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file '{path}' not found")
    if path.is_dir():
        raise ConfigError(f"'{path}' is a folder, not a config file")
    try:
        text = path.read_text(encoding="utf-8-sig")  # whatever the locale; a byte-order mark is no key
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"config file '{path}' is not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start}): "
            "save it as UTF-8"
        ) from None
    except OSError as e:
        raise ConfigError(f"cannot read config file '{path}': {e.strerror or e}") from None
    return parse_config(text, overrides, source=str(path), seed=seed)


def parse_config(text: str, overrides: list[str] = (), source: str = "<config>", seed: int | None = None) -> Config:
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join((getattr(e, "problem", None) or str(e)).split())
        if "'\\t'" in problem:
            problem += " (YAML indents with spaces, not tabs)"
        raise ConfigError(f"{source}:{where}: malformed YAML: {problem}") from None
    if raw is None and not overrides:
        raise ConfigError(
            f"{source}: the config is empty; give at least data: {{name: ...}} and model: {{hidden: [...]}}"
        )
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        kind = {list: "a list", str: "a string"}.get(type(raw), f"the value {show(raw)}")
        raise ConfigError(f"{source}: a config is a mapping of keys (data, model, ...), got {kind}")
    for item in overrides:
        apply_override(raw, item)
    if seed is not None:
        raw["seed"] = seed
    return validate(raw, source=source, text=text, overrides=overrides)


def validate(raw: dict, source: str = "<config>", text: str | None = None, overrides: list[str] = ()) -> Config:
    """``raw`` as a ``Config``; errors name the file and line, or the override of ``overrides`` that set the value."""
    try:
        return Config.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(format_errors(e, raw, source, text, overrides=overrides)) from None


def apply_override(raw: dict, item: str) -> None:
    """Set ``a.b.c=value`` in the raw config; the value is parsed as YAML (``[64, 64]``, ``1e-3``, ``true``), the
    path may index lists (``model.layers.0.units=8`` or ``model.layers[0].units=8``)."""
    if "=" not in item:
        raise ConfigError(f"override '{item}' must look like key.path=value (e.g. optimizer.lr=0.01)")
    key, _, text = item.partition("=")
    key = key.strip()
    try:
        value = load_yaml(text) if text.strip() else None
    except yaml.YAMLError as e:
        problem = " ".join(str(getattr(e, "problem", None) or e).split())
        raise ConfigError(f"override '{item}': the value '{text}' is not valid YAML ({problem})") from None
    set_value(raw, key, value, item)


def set_value(raw: dict, key: str, value, item: str | None = None) -> None:
    """Set ``value`` at the dotted path ``key`` of a raw config, creating sections the schema knows; a number
    in the path indexes a list (``model.layers.0.units``, ``model.hidden.1``, or ``model.layers[0].units``)."""
    item = item or key
    parts = parse_path(key)
    if not parts or not isinstance(parts[0], str):
        raise ConfigError(f"override '{item}': '{key}' is not a dotted key path (e.g. optimizer.lr, model.hidden.0)")
    node = raw
    for depth in range(1, len(parts)):
        node = _step(raw, node, parts[:depth], parts[depth], item)
    _check_known(parts, item)
    if isinstance(node, list):
        node[_index(node, parts, item)] = value
    else:
        node[_key(node, parts[-1])] = value


def _step(raw: dict, node, path: list, below, item: str):
    """The child at ``path`` (the last part of ``path`` taken in ``node``), ready to take the part ``below``."""
    here = ".".join(map(str, path))
    if isinstance(node, list):
        child = node[_index(node, path, item)]
    else:
        key = _key(node, path[-1])
        child = node.get(key)
        if isinstance(child, str) and path[-1] in _SPEC_KEYS and isinstance(below, str):
            child = node[key] = {"name": child}  # optimizer: adam  →  {name: adam}, to set optimizer.lr
        elif child is None:
            _check_known(path, item)
            if isinstance(below, int):
                raise ConfigError(
                    f"override '{item}': '{here}' is not set, so it has no item {below}: give the whole list "
                    f"(e.g. -o {here}=[...])"
                )
            child = node[key] = _default_mapping(path, raw)
    if isinstance(below, int) and not isinstance(child, list):
        raise ConfigError(f"override '{item}': '{here}' is {_short(child)}, not a list")
    if isinstance(below, str) and isinstance(child, list) and below.lstrip("-").isdigit():
        raise ConfigError(f"override '{item}': '{here}' is indexed from 0 to {len(child) - 1}; got {below}")
    if isinstance(below, str) and not isinstance(child, dict):
        hint = f": name an item by its index, e.g. {here}.0.{below}" if isinstance(child, list) else ""
        raise ConfigError(f"override '{item}': '{here}' is {_short(child)}, not a mapping{hint}")
    return child


def _index(items: list, path: list, item: str) -> int:
    index, here = path[-1], ".".join(map(str, path[:-1]))
    if index >= len(items):
        have = f"indices 0 to {len(items) - 1}" if items else "it is empty"
        raise ConfigError(
            f"override '{item}': {here} has {len(items)} item{'s' * (len(items) != 1)}; "
            f"index {index} is out of range ({have})"
        )
    return index


def _key(mapping: dict, part):
    """A number in a path names a mapping's key as the YAML wrote it: ``0`` where that key is there, else ``'0'``."""
    return part if not isinstance(part, int) or part in mapping else str(part)


def _short(value) -> str:
    text = f"a list of {len(value)} item{'s' * (len(value) != 1)}" if isinstance(value, list) else show(value)
    return text if len(text) <= 60 else text[:57] + "..."


_SPEC_KEYS = {"optimizer", "schedule", "loss", "activation", "output", "initializer", "bias_initializer", "preprocess"}


def _check_known(parts: list, item: str) -> None:
    """An override must name a key of the schema (free-form mappings: data and spec arguments excepted)."""
    model: type[BaseModel] | None = Config
    for depth, part in enumerate(parts):
        if model is None or model is DataConfig and part not in model.model_fields:
            return  # dataset and component arguments are checked by the registry
        fields = model.model_fields
        if part not in fields:
            path = ".".join(map(str, parts[: depth + 1]))
            raise ConfigError(f"override '{item}': unknown key '{path}'{did_you_mean(part, fields)}")
        model = submodel(fields[part].annotation)


def _default_mapping(parts: list[str], raw: dict) -> dict:
    """The schema's default of a section an override reaches into (``optimizer`` → its default spec, the
    training rule's where the config names one)."""
    from nnlab.training.rules import RULE_DEFAULTS  # imported here: the rules sit above the config

    training = raw.get("training")
    rule = training.get("rule") if isinstance(training, dict) else None
    if parts == ["optimizer"] and isinstance(rule, str) and rule in RULE_DEFAULTS:
        return dict(RULE_DEFAULTS[rule]["optimizer"])
    model: type[BaseModel] | None = Config
    default = None
    for part in parts:
        if model is None or part not in model.model_fields:
            return {}
        default = model.model_fields[part].default
        model = submodel(model.model_fields[part].annotation)
    if isinstance(default, str):
        return {"name": default}
    return dict(default) if isinstance(default, dict) else {}
