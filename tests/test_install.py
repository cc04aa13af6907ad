"""A non-editable install, used from an empty folder as a new user uses it: an editable install reads the
source tree and hides a file missing from the package data; this one does not (.ci/run checks the same in a
fresh virtual environment)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

IRIS = """\
name: iris-user
data: {name: iris, split: {val: 0.2, test: 0.2}, preprocess: standardize}
model: {hidden: [8], activation: tanh}
optimizer: {name: adam, lr: 1e-3}
training: {epochs: 2, batch_size: 16}
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A virtual environment with nnlab installed from this tree with ``pip install .`` (not editable). It
    sees the installed dependencies of this interpreter, so that only nnlab itself is built and installed."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-qq", "--disable-pip-version-check", "--no-deps", str(ROOT)]
    r = subprocess.run(pip, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    where = subprocess.run(
        [str(python), "-c", "import nnlab; print(nnlab.__file__)"], capture_output=True, text=True, cwd=venv
    ).stdout
    assert Path(where.strip()).is_relative_to(venv), f"nnlab imported from {where}, not from the new install"
    return venv / "bin"


def _run(bin_dir: Path, folder: Path, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NNLAB_DATA")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [str(bin_dir / "nnlab"), *args], cwd=folder, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow  # builds and installs nnlab: about half a minute
def test_a_non_editable_install_starts_a_user_from_an_empty_folder(installed, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    r = _run(installed, folder, "--help")
    assert r.returncode == 0 and "nnlab init moons -o moons.yaml && nnlab train moons.yaml" in r.stdout

    r = _run(installed, folder, "init", "moons", "-o", "m.yaml")
    assert r.returncode == 0, r.stderr
    r = _run(installed, folder, "train", "m.yaml", "--epochs", "2", "-q")
    assert r.returncode == 0, r.stderr

    (folder / "iris.yaml").write_text(IRIS)  # the iris CSV is package data
    r = _run(installed, folder, "train", "iris.yaml", "-q")
    assert r.returncode == 0, r.stderr

    r = _run(installed, folder, "train", "configs/xor.yaml", "--epochs", "2", "-q")  # a shipped example
    assert r.returncode == 0, r.stderr
    assert "using the example shipped with nnlab" in r.stderr and str(installed.parent) in r.stderr

    r = _run(installed, folder, "init", "--list")
    assert r.returncode == 0 and "sweeps/moons.yaml" in r.stdout and "classic/perceptron_and.yaml" in r.stdout
    assert any(p.name.startswith("iris-user-") for p in (folder / "runs").iterdir())
