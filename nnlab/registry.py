"""One registry per component kind: names → classes (or factories), built from config specs.

A spec is a name (``"relu"``) or a mapping with ``name`` and keyword arguments
(``{"name": "leaky_relu", "alpha": 0.1}``). Arguments are checked against the constructor's signature,
so every component declares its arguments once, in its ``__init__``.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

from nnlab.errors import RegistryError, did_you_mean

KINDS = (
    "activation",
    "loss",
    "initializer",
    "optimizer",
    "schedule",
    "regularizer",
    "layer",
    "dataset",
)


class Registry:
    """Names of one kind of component, each mapped to a class or factory function."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Callable[..., Any]] = {}
        self._canonical: dict[str, str] = {}  # alias or name -> canonical name

    def register(self, name: str, *aliases: str) -> Callable:
        """Decorator: ``@ACTIVATIONS.register("leaky_relu", "lrelu")``."""

        def decorate(obj):
            for key in (name, *aliases):
                key = key.lower()
                if key in self._canonical and self._entries[self._canonical[key]] is not obj:
                    raise ValueError(f"{self.kind} '{key}' is already registered")
                self._canonical[key] = name.lower()
            self._entries[name.lower()] = obj
            obj.registry_name = name.lower()
            return obj

        return decorate

    def unregister(self, name: str) -> None:
        """Remove ``name`` and its aliases (to re-define a component in a notebook, or in tests)."""
        canonical = self.canonical(name)
        for key in [k for k, v in self._canonical.items() if v == canonical]:
            del self._canonical[key]
        del self._entries[canonical]

    def names(self) -> list[str]:
        """Canonical names, sorted."""
        return sorted(self._entries)

    def aliases(self, name: str) -> list[str]:
        return sorted(k for k, v in self._canonical.items() if v == name and k != name)

    def __contains__(self, name: str) -> bool:
        return isinstance(name, str) and name.lower() in self._canonical

    def get(self, name: str) -> Callable[..., Any]:
        """The class or factory registered under ``name`` (or an alias)."""
        if not isinstance(name, str):
            raise RegistryError(f"{self.kind} name must be a string, got {name!r}")
        key = name.lower()
        if key not in self._canonical:
            raise RegistryError(
                f"unknown {self.kind} '{name}'{did_you_mean(key, self._canonical)}"
                f" (choices: {', '.join(self.names())})"
            )
        return self._entries[self._canonical[key]]

    def canonical(self, name: str) -> str:
        self.get(name)
        return self._canonical[name.lower()]

    def split_spec(self, spec: str | Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """``"relu"`` or ``{"name": "relu", ...}`` → ``("relu", {...})``; never mutates ``spec``."""
        if isinstance(spec, str):
            return spec, {}
        if isinstance(spec, Mapping):
            if "name" not in spec:
                raise RegistryError(f"a {self.kind} mapping needs a 'name' key, got {dict(spec)!r}")
            kwargs = {k: v for k, v in spec.items() if k != "name"}
            return spec["name"], kwargs
        raise RegistryError(f"a {self.kind} is a name or a mapping with 'name', got {spec!r}")

    def check(self, spec: str | Mapping[str, Any], exclude: tuple[str, ...] = ()) -> tuple[str, dict]:
        """Validate a spec without building it: the name exists, every argument is accepted and typed."""
        name, kwargs = self.split_spec(spec)
        factory = self.get(name)
        params = self.arguments(name, exclude=exclude)
        accepts_any = any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(factory).parameters.values()
        )
        for key, value in kwargs.items():
            if key not in params:
                if accepts_any:
                    continue
                accepted = ", ".join(params) or "none"
                raise RegistryError(
                    f"{self.kind} '{name}' has no argument '{key}'{did_you_mean(key, params)} (accepted: {accepted})"
                )
            _check_type(self.kind, name, key, value, params[key])
        missing = [k for k, p in params.items() if p.default is inspect.Parameter.empty and k not in kwargs]
        if missing:
            raise RegistryError(f"{self.kind} '{name}' needs argument(s): {', '.join(missing)}")
        return self.canonical(name), kwargs

    def arguments(self, name: str, exclude: tuple[str, ...] = ()) -> dict[str, inspect.Parameter]:
        """The keyword arguments a config may give this component (its signature, less ``exclude``)."""
        factory = self.get(name)
        hints = _hints(factory)
        out = {}
        for pname, p in inspect.signature(factory).parameters.items():
            if pname in exclude or pname == "self" or pname.startswith("_"):
                continue
            if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                continue
            out[pname] = p.replace(annotation=hints.get(pname, p.annotation))
        return out

    def build(self, spec: str | Mapping[str, Any], **extra: Any) -> Any:
        """Check ``spec`` and call the factory with its arguments (plus ``extra``, supplied by nnlab)."""
        name, kwargs = self.check(spec, exclude=tuple(extra))
        try:
            return self.get(name)(**kwargs, **extra)
        except (ValueError, TypeError) as e:  # the component's own argument checks
            raise RegistryError(f"{self.kind} '{name}': {e}") from None

    def describe(self, name: str) -> str:
        doc = inspect.getdoc(self.get(name)) or ""
        return doc.splitlines()[0] if doc else ""


def _hints(factory) -> dict[str, Any]:
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        return typing.get_type_hints(target)
    except Exception:  # unresolvable annotations: fall back to no type checks
        return {}


def _check_type(kind: str, name: str, key: str, value: Any, param: inspect.Parameter) -> None:
    """Reject an argument whose type clearly does not fit its annotation (numbers, bools, strings)."""
    ann = param.annotation
    allowed = (
        typing.get_args(ann)
        if typing.get_origin(ann) in (typing.Union, getattr(__import__("types"), "UnionType", None))
        else (ann,)
    )
    ok = False
    for t in allowed:
        if t is inspect.Parameter.empty or t is Any:
            ok = True
        elif t is type(None):
            ok = ok or value is None
        elif t is float:
            ok = ok or (isinstance(value, (int, float)) and not isinstance(value, bool))
        elif t is int:
            ok = ok or (isinstance(value, int) and not isinstance(value, bool))
        elif t is bool:
            ok = ok or isinstance(value, bool)
        elif t is str:
            ok = ok or isinstance(value, str)
        elif typing.get_origin(t) is typing.Literal:
            ok = ok or value in typing.get_args(t)
        else:
            ok = True  # containers and other types: the component checks them itself
    if not ok:
        expected = " or ".join(
            " or ".join(repr(v) for v in typing.get_args(t))
            if typing.get_origin(t) is typing.Literal
            else getattr(t, "__name__", str(t))
            for t in allowed
        )
        raise RegistryError(f"{kind} '{name}': argument '{key}' must be {expected}, got {value!r}")


REGISTRIES: dict[str, Registry] = {kind: Registry(kind) for kind in KINDS}


def registry(kind: str) -> Registry:
    if kind not in REGISTRIES:
        raise RegistryError(
            f"unknown component kind '{kind}'{did_you_mean(kind, REGISTRIES)} (kinds: {', '.join(KINDS)})"
        )
    _load_builtins(kind)
    return REGISTRIES[kind]


def register(kind: str, name: str, aliases: tuple[str, ...] = ()) -> Callable:
    """Register a user component: ``@register("activation", "mish")`` above its class."""
    return registry(kind).register(name, *aliases)


def build(kind: str, spec: str | Mapping[str, Any], **extra: Any) -> Any:
    """Build a component of ``kind`` from a name or a ``{name: ..., **kwargs}`` mapping."""
    return registry(kind).build(spec, **extra)


def names(kind: str) -> list[str]:
    """The registered names of ``kind``."""
    return registry(kind).names()


#: the modules whose ``register`` decorators declare each kind's built-ins, by name: imported the first time
#: the kind is asked for (mmengine's "locations"), so that the registry imports nothing above it
BUILTINS: dict[str, tuple[str, ...]] = {
    "activation": ("nnlab.components.activations",),
    "loss": ("nnlab.components.losses",),
    "initializer": ("nnlab.components.initializers",),
    "optimizer": ("nnlab.components.optimizers",),
    "schedule": ("nnlab.components.schedules",),
    "regularizer": ("nnlab.components.regularizers",),
    "layer": ("nnlab.components.layers",),
    "dataset": ("nnlab.data.synthetic", "nnlab.data.real", "nnlab.data.files", "nnlab.data.memory"),
}


def _load_builtins(kind: str) -> None:
    """Import the modules that register ``kind``'s built-ins (once: Python keeps imported modules)."""
    import importlib

    for module in BUILTINS[kind]:
        importlib.import_module(module)
