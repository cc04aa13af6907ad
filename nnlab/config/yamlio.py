"""The YAML nnlab reads and writes: PyYAML's safe dialect, with YAML 1.2's numbers.

PyYAML implements YAML 1.1, where a float needs a dot and a signed exponent: ``1e-3``, ``5E-4`` and
``1e+6`` are strings there, and ``lr: 1e-3`` (as Keras and Lightning users write it) would be refused.
Every place that reads a user's YAML (config files, ``-o`` overrides, sweep files, a run's config.yaml)
calls ``load_yaml``; what nnlab writes goes through ``dump_yaml``, which quotes a string that would read
back as a number (a run named ``'1e-3'``), so that what it writes reads back the same.

The loader also refuses what no config needs and what would hang or crash what reads it: a key given twice
in one mapping (the second would silently win), nesting deeper than ``MAX_DEPTH`` levels, an alias inside
its own anchor, and a document whose aliases expand to more than ``MAX_NODES`` values (a "billion laughs"
of a kilobyte). Each is a ``yaml.YAMLError`` with its line, like any other YAML error.
"""

from __future__ import annotations

import re

import yaml
from yaml.composer import ComposerError
from yaml.events import AliasEvent

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


#: deepest nesting of mappings and lists a document may have (a config has 4 or 5 levels)
MAX_DEPTH = 100
#: most values (scalars, lists, mappings) a document may hold once its aliases are expanded
MAX_NODES = 100_000


@_with_yaml12_floats
class Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that reads YAML 1.2 floats and refuses duplicate keys, deep nesting and alias bombs."""

    def compose_document(self):
        self._depth, self._total, self._sizes = 0, 0, {}
        return super().compose_document()

    def compose_node(self, parent, index):
        mark = self.peek_event().start_mark
        if self.check_event(AliasEvent):
            node = super().compose_node(parent, index)
            if id(node) not in self._sizes:
                raise ComposerError(None, None, "an alias inside its own anchor (a recursive value)", mark)
            self._count(self._sizes[id(node)], mark)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
        before = self._total
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._count(1, mark)
        self._sizes[id(node)] = self._total - before
        return node

    def _count(self, n: int, mark) -> None:
        self._total += n
        if self._total > MAX_NODES:
            raise ComposerError(
                None, None, f"the document expands to more than {MAX_NODES:,} values (aliases repeat too much)", mark
            )

    def compose_mapping_node(self, anchor):
        node = super().compose_mapping_node(anchor)
        seen = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                first = seen.setdefault((key.tag, key.value), key)
                if first is not key:
                    raise ComposerError(
                        None,
                        None,
                        f"duplicate key '{key.value}' (lines {first.start_mark.line + 1} and "
                        f"{key.start_mark.line + 1}): a key may appear once in a mapping",
                        key.start_mark,
                    )
        return node


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
