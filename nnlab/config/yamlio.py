"""The YAML nnlab reads and writes: PyYAML's safe dialect, with YAML 1.2's numbers.

PyYAML implements YAML 1.1, where a float needs a dot and a signed exponent: ``1e-3``, ``5E-4`` and
``1e+6`` are strings there, and ``lr: 1e-3`` (as Keras and Lightning users write it) would be refused.
Every place that reads a user's YAML (config files, ``-o`` overrides, sweep files, a run's config.yaml)
calls ``load_yaml``; what nnlab writes goes through ``dump_yaml``, which quotes a string that would read
back as a number (a run named ``'1e-3'``), so that what it writes reads back the same.
"""

from __future__ import annotations

import re

import yaml

FLOAT = "tag:yaml.org,2002:float"

#: YAML 1.2's float (core schema), PyYAML's underscores and sexagesimals kept: the exponent's sign and
#: the dot are optional (``1e-3``, ``5E-4``, ``1e+6``, ``2.5e4``, ``-.5``), ``.inf`` and ``.nan`` as before
_FLOAT_12 = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
    |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


def _with_yaml12_floats(cls):
    """``cls`` with PyYAML's float resolver replaced in place (so a float is still tried before an int)."""
    table = {}
    for first, resolvers in cls.yaml_implicit_resolvers.items():
        table[first] = [(tag, _FLOAT_12 if tag == FLOAT else regexp) for tag, regexp in resolvers]
    for first in "-+0123456789.":
        if not any(tag == FLOAT for tag, _ in table.get(first, [])):
            table.setdefault(first, []).insert(0, (FLOAT, _FLOAT_12))
    cls.yaml_implicit_resolvers = table
    return cls


@_with_yaml12_floats
class Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that reads YAML 1.2 floats."""


@_with_yaml12_floats
class Dumper(yaml.SafeDumper):
    """``yaml.SafeDumper`` that quotes the strings ``Loader`` would read as floats; numbers are written as before."""


def load_yaml(text: str):
    """The YAML ``text`` as Python values (``yaml.safe_load`` with YAML 1.2 floats); raises ``yaml.YAMLError``."""
    return yaml.load(text, Loader=Loader)  # Loader is a SafeLoader: no arbitrary objects


def compose_yaml(text: str):
    """The node tree of ``text`` (with its lines), as ``load_yaml`` reads it."""
    return yaml.compose(text, Loader=Loader)


def dump_yaml(data, **kwargs) -> str:
    """``yaml.safe_dump(data, **kwargs)``, except that a string such as ``'1e-3'`` stays quoted."""
    return yaml.dump(data, Dumper=Dumper, **kwargs)
