"""Validation errors as a user reads them: the dotted path, the message, and where the value came from (the
file and its YAML line, or the ``-o`` override that set it)."""

from __future__ import annotations

import re

import yaml
from pydantic import BaseModel, ValidationError

from nnlab.config.base import submodel
from nnlab.config.schema import Config
from nnlab.config.yamlio import compose_yaml
from nnlab.errors import did_you_mean

#: a validator's message may start with the place below its field: ``[1] must be ...``, ``.l2: must be ...``
_RELATIVE = re.compile(r"((?:\[\d+\]|\.\w+)+):? (.*)", re.S)


def format_errors(
    e: ValidationError,
    raw: dict,
    source: str,
    text: str | None,
    root: type[BaseModel] | None = None,
    overrides: tuple[str, ...] | list[str] = (),
) -> str:
    """One line: the first error, ``optimizer.lr: must be > 0, got -1 (c.yaml, line 4)``, or ``(from -o
    optimizer.lr=-1)`` where an override of ``overrides`` set the value; the places of any other errors after it.

    pydantic reports each member of a union (``batch_size: int | 'full'``) as an error of its own, under its
    type's name (``training.batch_size.int``): they are told as one, ``must be an integer or 'full'``."""
    changed = [(parse_path(item.partition("=")[0].strip()) or [], item) for item in overrides]
    groups: dict[str, list] = {}
    for err in e.errors():
        err = {**err, "loc": _loc(err), "key": err["loc"][-1:] == ("[key]",)}
        groups.setdefault(_dotted(err["loc"]), []).append(err)
    lines = []
    for errs in groups.values():
        loc, msg = _place(errs[0], root or Config) if len(errs) == 1 else _union(errs)
        msg = " ".join(msg.split())  # one line, whatever a validator wrote
        lines.append(
            (_dotted(loc) or "config", f"{_dotted(loc) or 'config'}: {msg}{_where(loc, source, text, changed)}")
        )
    first = lines[0][1]
    others = list(dict.fromkeys(path for path, _ in lines[1:] if path != lines[0][0]))
    return first + (f"; more errors at: {', '.join(others)}" if others else "")


def _loc(err) -> list:
    """The error's place without pydantic's union tags; an unknown key is the user's own, kept whatever it is
    (a key ``'[x]'`` looks like a tag)."""
    loc = err["loc"]
    if err["type"] == "extra_forbidden" and loc:
        return [p for p in loc[:-1] if not _is_tag(p)] + [loc[-1]]
    return [p for p in loc if not _is_tag(p)]


#: how pydantic names a union's members in an error's place: ``int``, ``literal['full']``, ``function-after[...]``
_TAGS = {"int", "float", "str", "bool", "none", "dict", "list"}


def _is_tag(part) -> bool:
    return isinstance(part, str) and (part in _TAGS or "[" in part or part.startswith("function-"))


#: what an error of each pydantic type says the value must be
_EXPECTS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "none_required": "null",
}
_BOUNDS = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", "≥"), "less_than": ("lt", "<")}
_BOUNDS["less_than_equal"] = ("le", "≤")


def _union(errs: list) -> tuple[list, str]:
    """The errors of one place, one per member of its type's union, as one message."""
    typed = [err for err in errs if err["type"] in _EXPECTS or err["type"] == "literal_error"]
    if len(typed) < len(errs):
        own = next(err for err in errs if err not in typed)  # a member's own check says more than its type
        return _place(own, Config)
    value = errs[0].get("input")
    parts, choices = [], []
    for err in typed:
        if err["type"] == "literal_error":
            choices += re.findall(r"'([^']*)'", err["ctx"]["expected"])
            parts.append(", ".join(f"'{c}'" for c in choices))
        else:
            parts.append(_EXPECTS[err["type"]])
    hint = did_you_mean(value, choices) if isinstance(value, str) and choices else ""
    return errs[0]["loc"], f"must be {' or '.join(dict.fromkeys(parts))}, got {show(value)}{hint}"


def show(value) -> str:
    """A value as the YAML wrote it, shortened: ``true``, ``null``, ``'fulll'``, ``[1, 2]``."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_path(key: str) -> list[str | int] | None:
    """``model.layers.0.units`` or ``model.layers[0].units`` → ``['model', 'layers', 0, 'units']``; None where
    ``key`` is not a dotted path."""
    parts: list[str | int] = []
    for segment in key.split("."):
        m = re.fullmatch(r"([^\[\]]*)((?:\[[0-9]+\])*)", segment)
        if not m or not (m.group(1) or m.group(2)) or (not m.group(1) and not parts):
            return None
        if m.group(1):
            parts.append(int(m.group(1)) if re.fullmatch("[0-9]+", m.group(1)) else m.group(1))
        parts += [int(i) for i in re.findall("[0-9]+", m.group(2))]
    return parts


def _place(err, root: type[BaseModel]) -> tuple[list, str]:
    """The error's place in the config (as a loc, its tags already gone: ``_loc``) and its message, told the
    way a user reads it."""
    loc = list(err["loc"])
    msg = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    kind, value = err["type"], err.get("input")
    if err.get("key") or kind == "invalid_key":  # a mapping's key that is no name: 1: 2, null: x
        loc, msg = loc[:-1], f"the key {show(value)} must be a word (a setting's name)"
    elif kind == "extra_forbidden":
        model = _model_at(loc[:-1], root)
        choices = model.model_fields if model else {}
        msg = f"unknown key{did_you_mean(str(loc[-1]), choices)}" + (
            f" (known: {', '.join(choices)})" if choices else ""
        )
    elif kind == "missing":
        msg = "is required"
    elif kind in _EXPECTS:
        msg = f"must be {_EXPECTS[kind]}, got {show(value)}"
    elif kind == "literal_error":
        choices = re.findall(r"'([^']*)'", err["ctx"]["expected"])
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        msg = f"must be one of {', '.join(repr(c) for c in choices)}, got {show(value)}{hint}"
    elif kind in _BOUNDS:
        key, sign = _BOUNDS[kind]
        msg = f"must be {sign} {err['ctx'][key]}, got {show(value)}"
    elif kind.startswith("value_error") or kind == "assertion_error":
        relative = _RELATIVE.fullmatch(msg)
        if relative:  # a part of the field: model.hidden[1], regularization.l2
            loc, msg = loc + parse_path("x" + relative.group(1))[1:], relative.group(2)
    else:
        msg = f"{msg[0].lower()}{msg[1:]}, got {show(value)}"
    if not loc:  # a check across sections names its own place: "model.hidden: ..."
        head, sep, rest = msg.partition(": ")
        path = parse_path(head) if sep and re.fullmatch(r"[a-z_]+(\.[a-z_]+|\[\d+\])*", head) else None
        if path and path[0] in Config.model_fields:
            loc, msg = path, rest
    return loc, msg


def _where(loc: list, source: str, text: str | None, changed: list[tuple[list, str]]) -> str:
    """`` (c.yaml, line 4)``, `` (from -o optimizer.lr=-1)`` where an override set the value at ``loc``, or
    the line with the override that reached inside the section at ``loc``."""
    also = ""
    for parts, item in reversed(changed):  # the last override of a place is the one that holds
        n = min(len(parts), len(loc))
        if n and [str(p) for p in parts[:n]] == [str(p) for p in loc[:n]]:
            if len(parts) <= len(loc):
                return f" (from -o {item})"
            also = f"with -o {item}"
            break
    if not loc and changed:  # a check across sections: any override may have caused it
        also = "with " + ", ".join(f"-o {item}" for _, item in changed)
    line = _line_of(text, loc) if text else None
    head = f"{source}, line {line}" if line else source if source != "<config>" else ""
    told = ", ".join(b for b in (head, also) if b)
    return f" ({told})" if told else ""


def _model_at(loc, root: type[BaseModel]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        model = submodel(model.model_fields[part].annotation)
    return model


def _dotted(loc) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _line_of(text: str, loc) -> int | None:
    """The 1-based line of a dotted path in the YAML text, where it is there."""
    try:
        node = compose_yaml(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == part:
                    line, node = k.start_mark.line + 1, v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
