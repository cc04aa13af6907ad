"""The README's Python runs, and ARCHITECTURE.md's table of layers is the package's.

Every ```python block of README.md runs, in order and in one namespace, as a notebook would run them top
to bottom. They run in a temporary folder whose ``configs/`` is the repository's, so that their paths
(``configs/moons.yaml``) resolve and the runs they train land in the temporary ``runs/``. The README's
example run folder, ``runs/moons-20250101-120000-ab12``, stands for a run of ``configs/moons.yaml``: one
is trained here first and its path put in its place. Components the blocks register are unregistered
afterwards. A traceback names the README's own line."""

import re
from pathlib import Path

import pytest
from test_structure import MODULES, _imports

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
ARCHITECTURE = ROOT / "ARCHITECTURE.md"
EXAMPLE_RUN = "runs/moons-20250101-120000-ab12"


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line of its first line of code, code) of every ```python block, in order."""
    return [
        (text.count("\n", 0, m.start(1)) + 1, m.group(1))
        for m in re.finditer(r"^```python\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)
    ]


def test_python_blocks_are_found():
    blocks = python_blocks("a\n```python\nx = 1\n```\n```bash\nls\n```\n```python\ny = 2\n```\n")
    assert blocks == [(3, "x = 1\n"), (9, "y = 2\n")]
    assert len(python_blocks(README.read_text())) >= 8


@pytest.fixture
def registered_in_the_readme():
    """Unregister, afterwards, every component the blocks registered (a second run would be refused)."""
    from nnlab import registry

    before = {kind: set(registry.names(kind)) for kind in registry.KINDS}
    yield
    for kind, names in before.items():
        for name in set(registry.names(kind)) - names:
            registry.registry(kind).unregister(name)


def test_every_python_block_of_the_readme_runs(tmp_path, monkeypatch, registered_in_the_readme):
    import nnlab

    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    text = README.read_text()
    if EXAMPLE_RUN in text:
        run = nnlab.train("configs/moons.yaml", runs_dir="runs", handle_signals=False)
        text = text.replace(EXAMPLE_RUN, str(Path(run.run_dir).resolve().relative_to(tmp_path.resolve())))
    namespace = {"__name__": "readme"}
    for line, code in python_blocks(text):
        exec(compile("\n" * (line - 1) + code, str(README), "exec"), namespace)


# ----- ARCHITECTURE.md ----------------------------------------------------------------------------


def layers(text: str) -> dict[str, int]:
    """ARCHITECTURE.md's table: module pattern (``nnlab.x``, or ``nnlab.x.*``) → its layer."""
    out = {}
    for number, modules in re.findall(r"^\| (\d+) \| (.*) \|$", text, re.MULTILINE):
        for name in re.findall(r"`([^`]+)`", modules):
            out[name if name == "nnlab" else f"nnlab.{name}"] = int(number)
    return out


def layer_of(module: str, table: dict[str, int]) -> int | None:
    """A module's own line, else its nearest package's ``.*`` line."""
    if module in table:
        return table[module]
    parts = module.split(".")
    for n in range(len(parts), 1, -1):
        pattern = ".".join(parts[:n]) + ".*"
        if pattern in table:
            return table[pattern]
    return None


def test_architecture_places_every_module_below_those_it_imports():
    table = layers(ARCHITECTURE.read_text())
    assert table["nnlab.registry"] == 1 and table["nnlab.cli.*"] == 9
    unplaced = sorted(m for m in MODULES if layer_of(m, table) is None)
    assert not unplaced, f"ARCHITECTURE.md does not place {', '.join(unplaced)}"
    upward = [
        f"{m} (layer {layer_of(m, table)}) imports {i} (layer {layer_of(i, table)})"
        for m, path in sorted(MODULES.items())
        for i in sorted(_imports(m, path))
        if layer_of(i, table) > layer_of(m, table)
    ]
    assert not upward, "ARCHITECTURE.md's layers are not the imports':\n" + "\n".join(upward)


def test_architecture_names_files_that_exist():
    text = ARCHITECTURE.read_text()
    paths = {p for p in re.findall(r"`((?:nnlab|tests)/[\w/.]+\.py)`", text)}
    assert paths and not [p for p in sorted(paths) if not (ROOT / p).is_file()]
