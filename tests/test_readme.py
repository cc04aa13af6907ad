"""The README's Python runs.

Every ```python block of README.md runs, in order and in one namespace, as a notebook would run them top
to bottom. They run in a temporary folder whose ``configs/`` is the repository's, so that their paths
(``configs/moons.yaml``) resolve and the runs they train land in the temporary ``runs/``. The README's
example run folder, ``runs/moons-20250101-120000-ab12``, stands for a run of ``configs/moons.yaml``: one
is trained here first and its path put in its place. Components the blocks register are unregistered
afterwards. A traceback names the README's own line."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
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
