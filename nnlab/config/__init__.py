"""The config: the schema (pydantic v2), YAML loading, dotted ``-o key=value`` overrides and their errors.

The YAML becomes a tree of typed models once, here; everything below receives a ``Config``. Component
names and arguments are checked against the registry before anything is computed, and every error names
its dotted path and the value (and, where YAML knows it, the file and line).

- ``schema``: the models and their defaults (``Config`` and its sections)
- ``loading``: ``load_config``, ``parse_config``, ``validate``, ``apply_override``, ``set_value``
- ``messages``: ``format_errors``, pydantic's errors as dotted paths with the YAML line or the override
- ``yamlio``: ``load_yaml`` and ``dump_yaml``, the one YAML dialect every config surface reads (YAML 1.2 floats:
  ``1e-3`` is a number)
"""

from nnlab.config.loading import apply_override, load_config, parse_config, set_value, validate
from nnlab.config.messages import format_errors
from nnlab.config.schema import (
    Config,
    DataConfig,
    EarlyStoppingConfig,
    ModelConfig,
    Spec,
    SplitConfig,
    TrainingConfig,
)
from nnlab.config.yamlio import dump_yaml, load_yaml

__all__ = [
    "Config",
    "DataConfig",
    "EarlyStoppingConfig",
    "ModelConfig",
    "Spec",
    "SplitConfig",
    "TrainingConfig",
    "apply_override",
    "dump_yaml",
    "format_errors",
    "load_config",
    "load_yaml",
    "parse_config",
    "set_value",
    "validate",
]
