"""Validation errors as a user reads them: the dotted path, the message, and where the value came from (the
file and its YAML line, or the ``-o`` override that set it)."""

from __future__ import annotations

import re

import yaml
from pydantic import BaseModel, ValidationError

from nnlab.config.schema import Config, submodel
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
    """One line per error: ``optimizer.lr: must be > 0, got -1 (c.yaml, line 4)``, or ``(from -o
    optimizer.lr=-1)`` where an override of ``overrides`` set the value."""
    changed = [(parse_path(item.partition("=")[0].strip()) or [], item) for item in overrides]
    lines = []
    for err in e.errors():
        loc, msg = _place(err, root or Config)
        lines.append(f"{_dotted(loc) or 'config'}: {msg}{_where(loc, source, text, changed)}")
    # pydantic reports each branch of a union; keep the first message per path
    seen, out = set(), []
    for ln in lines:
        key = ln.split(":", 1)[0]
        if key not in seen:
            seen.add(key)
            out.append(ln)
    return "\n".join(out)


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
    """The error's place in the config (as a loc) and its message, told the way a user reads it."""
    loc = [p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))]
    msg = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    kind = err["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1], root)
        choices = model.model_fields if model else {}
        msg = f"unknown key{did_you_mean(str(loc[-1]), choices)}" + (
            f" (known: {', '.join(choices)})" if choices else ""
        )
    elif kind == "missing":
        msg = "is required"
    elif kind.startswith("value_error") or kind == "assertion_error":
        relative = _RELATIVE.fullmatch(msg)
        if relative and loc:  # a part of the field: model.hidden[1], regularization.l2
            loc, msg = loc + parse_path("x" + relative.group(1))[1:], relative.group(2)
    else:
        msg = f"{msg[0].lower()}{msg[1:]}, got {err.get('input')!r}"
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
