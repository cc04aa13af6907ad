"""The exceptions nnlab raises for user errors.

The CLI catches `NnlabError`, prints its message and exits with status 2; anything else is a bug.
"""


class NnlabError(Exception):
    """A user error: bad config, bad data, bad file. The message says what, where and what to do."""


class ConfigError(NnlabError):
    """The config (YAML, overrides or a component spec) is invalid."""


class RegistryError(ConfigError):
    """An unknown component name or an unknown / ill-typed component argument."""


class DataError(NnlabError):
    """A dataset cannot be found, read or used."""


class CheckpointError(NnlabError):
    """A run folder or checkpoint is missing, truncated or tampered with."""
