"""Validation errors as a user reads them: the dotted path, the message, the file and the YAML line."""

from __future__ import annotations

import re

import yaml
from pydantic import BaseModel, ValidationError

from nnlab.config.schema import Config, submodel
from nnlab.errors import did_you_mean


def format_errors(
    e: ValidationError, raw: dict, source: str, text: str | None, root: type[BaseModel] | None = None
) -> str:
    lines = []
    for err in e.errors():
        loc = [p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))]
        path = _dotted(loc)
        msg = err["msg"]
        for prefix in ("Value error, ", "Assertion failed, "):
            if msg.startswith(prefix):
                msg = msg[len(prefix) :]
        kind = err["type"]
        if kind == "extra_forbidden":
            model = _model_at(loc[:-1], root or Config)
            choices = model.model_fields if model else {}
            msg = f"unknown key{did_you_mean(str(loc[-1]), choices)}" + (
                f" (known: {', '.join(choices)})" if choices else ""
            )
        elif kind == "missing":
            msg = "is required"
        elif kind.startswith("value_error") or kind == "assertion_error":
            if msg.startswith("["):  # a list item: model.hidden[1] must be ...
                idx, _, rest = msg.partition("] ")
                path, msg = f"{path}{idx}]", rest
        else:
            msg = f"{msg[0].lower()}{msg[1:]}, got {err.get('input')!r}"
        if not path:  # a check across sections names its own place: "model.hidden: ..."
            head, sep, rest = msg.partition(": ")
            if sep and re.fullmatch(r"[a-z_]+(\.[a-z_]+|\[\d+\])*", head) and head.split(".")[0] in Config.model_fields:
                path, msg = head, rest
                loc = [int(p) if p.isdigit() else p for p in re.findall(r"[a-z_]+|\d+", head)]
        line = _line_of(text, loc) if text else None
        where = f" ({source}, line {line})" if line else f" ({source})" if source != "<config>" else ""
        lines.append(f"{path or 'config'}: {msg}{where}")
    # pydantic reports each branch of a union; keep the first message per path
    seen, out = set(), []
    for ln in lines:
        key = ln.split(":", 1)[0]
        if key not in seen:
            seen.add(key)
            out.append(ln)
    return "\n".join(out)


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
        node = yaml.compose(text)
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
