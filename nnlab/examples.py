"""The example configs shipped inside the package (``nnlab/configs/``; a source checkout's ``configs/`` links
to it), found by the name a user types from any folder: ``configs/xor.yaml``, ``xor.yaml`` or
``catalogue/layers_mix.yaml``.

They are package data, read through ``importlib.resources``, so a non-editable install has them too.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path, PurePosixPath

from nnlab.errors import ConfigError, did_you_mean

SUFFIXES = (".yaml", ".yml")


def examples_folder() -> Path:
    """The folder of the shipped example configs."""
    return Path(str(files("nnlab") / "configs"))


def example_names() -> list[str]:
    """Every shipped example, relative to the examples folder (``xor.yaml``, ``sweeps/moons.yaml``)."""
    root = examples_folder()
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.yaml"))


def _relative_name(given: str) -> PurePosixPath | None:
    """``configs/xor.yaml`` or ``./xor.yaml`` → ``xor.yaml``; None where ``given`` cannot name an example."""
    name = PurePosixPath(given.replace("\\", "/"))
    if name.is_absolute() or name.suffix not in SUFFIXES:
        return None
    parts = [p for p in name.parts if p != "."]
    if parts[:1] == ["configs"]:
        parts = parts[1:]
    if not parts or ".." in parts:
        return None
    return PurePosixPath(*parts)


def shipped_example(given: str) -> Path | None:
    """The shipped example that ``given`` names, when ``given`` is not a file here (a file the user has
    always wins); None when it names none."""
    if Path(given).exists():
        return None
    name = _relative_name(given)
    if name is None:
        return None
    path = examples_folder().joinpath(*name.parts)
    return path if path.is_file() else None


def example_text(given: str) -> str:
    """The text of the shipped example ``given`` names (``configs/moons.yaml``, ``moons.yaml``), to copy.

    A sweep example is refused: its base config is a path relative to it, which a copy would break."""
    name = _relative_name(given)
    path = examples_folder().joinpath(*name.parts) if name is not None else None
    if path is None or not path.is_file():
        names = example_names()
        hint = did_you_mean(str(name or given), names)
        raise ConfigError(
            f"'{given}' is not an example shipped with nnlab{hint} (examples: {', '.join(names)}; "
            "nnlab init --list shows them)"
        )
    if name.parts[0] == "sweeps":
        raise ConfigError(
            f"'{given}' is a sweep over a base config named relative to it, which a copy would lose; "
            f"run it where it is (nnlab sweep configs/{name}), or copy its base config and write the sweep "
            "beside it"
        )
    return path.read_text()
