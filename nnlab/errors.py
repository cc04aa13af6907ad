"""The exceptions nnlab raises for user errors, and the "did you mean" of their messages.

The CLI catches `NnlabError`, prints its message and exits with status 2; anything else is a bug.
"""

import difflib


def did_you_mean(word, choices) -> str:
    """`` — did you mean 'adam'?`` for the choice closest to ``word`` (none close enough: "")."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.5)
    return f" — did you mean '{close[0]}'?" if close else ""


class NnlabError(Exception):
    """A user error: bad config, bad data, bad file. The message says what, where and what to do.

    It is always one line (DESIGN §9): a line break or other control character it quotes from the user's
    input (an override ``'lr=\\n'``, a file name) is written as its escape, ``\\n``."""

    def __str__(self) -> str:
        return one_line(super().__str__())


def one_line(text: str) -> str:
    """``text`` with its control characters (line breaks first) written as escapes: one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii") for c in text)


class ConfigError(NnlabError):
    """The config (YAML, overrides or a component spec) is invalid."""


class RegistryError(ConfigError):
    """An unknown component name or an unknown / ill-typed component argument."""


class DataError(NnlabError):
    """A dataset cannot be found, read or used."""


class CheckpointError(NnlabError):
    """A run folder or checkpoint is missing, truncated or tampered with."""
