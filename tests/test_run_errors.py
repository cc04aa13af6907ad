"""Bad run folders, checkpoints, ensembles and CSV files: a clear error, exit status 2, no traceback, and
the run folders exactly as they were (same files, same bytes, same modification times)."""

import hashlib
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnlab.cli import main
from nnlab.config import parse_config
from nnlab.training import train

MOONS = """
name: moons-err
data: {name: moons, n_samples: 200, split: {val: 0.2, test: 0.2}, preprocess: standardize}
model: {hidden: [8]}
optimizer: {name: adam, lr: 0.01}
training: {epochs: 4, batch_size: 32, checkpoint_every: 2}
"""


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("pristine")
    runs = {
        "moons": train(parse_config(MOONS), root).run_dir,
        "spirals": train(parse_config(MOONS.replace("name: moons,", "name: spirals,")), root).run_dir,
        "bce": train(parse_config(MOONS + "loss: bce\n"), root).run_dir,
        "sine": train(parse_config(MOONS.replace("name: moons,", "name: sine,")), root).run_dir,
    }
    return runs


@pytest.fixture
def runs(pristine, tmp_path):
    """Fresh copies of the pristine runs, which a test may damage."""
    return {k: Path(shutil.copytree(v, tmp_path / v.name)) for k, v in pristine.items()}


def snapshot(*folders) -> dict:
    out = {}
    for folder in folders:
        for p in sorted(Path(folder).rglob("*")):
            if p.is_file():
                out[str(p)] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            else:
                out[str(p)] = "dir"
    return out


def fails_cleanly(args, message, *folders):
    before = snapshot(*folders)
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code == 2, r.output
    assert message in r.output, r.output
    assert "error: " in r.output.lower()
    assert "Traceback" not in r.output and r.exc_info[0] is SystemExit
    assert snapshot(*folders) == before
    return r.output


def ckpt(run, name="best"):
    return run / "checkpoints" / f"{name}.safetensors"


@pytest.mark.parametrize("command", ["eval", "predict"])
def test_truncated_checkpoint(runs, tmp_path, command):
    run = runs["moons"]
    data = ckpt(run).read_bytes()
    ckpt(run).write_bytes(data[: len(data) // 2])
    args = [command, run] + ([_csv(tmp_path)] if command == "predict" else [])
    fails_cleanly(args, "is not a readable checkpoint", run)


@pytest.mark.parametrize("command", ["eval", "predict"])
def test_altered_checkpoint(runs, tmp_path, command):
    run = runs["moons"]
    data = bytearray(ckpt(run).read_bytes())
    data[-3] ^= 0x55  # a byte of the tensors
    ckpt(run).write_bytes(bytes(data))
    args = [command, run] + ([_csv(tmp_path)] if command == "predict" else [])
    fails_cleanly(args, "corrupt", run)


def test_file_that_is_not_a_checkpoint(runs, tmp_path):
    run = runs["moons"]
    text = tmp_path / "notes.safetensors"
    text.write_text("just some notes\n")
    fails_cleanly(["eval", run, "--checkpoint", text], "is not a readable checkpoint", run)
    ckpt(run, "last").write_bytes(b"\x00" * 64)
    fails_cleanly(["eval", run, "-c", "last"], "is not a readable checkpoint", run)


def test_safetensors_file_from_elsewhere(runs, tmp_path):
    import numpy as np
    from safetensors.numpy import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(other))
    fails_cleanly(["eval", runs["moons"], "-c", other], "not an nnlab checkpoint", runs["moons"])


def test_folder_that_is_not_a_run(runs, tmp_path):
    folder = tmp_path / "holiday-photos"
    folder.mkdir()
    (folder / "a.txt").write_text("x")
    fails_cleanly(["eval", folder], "is not a run folder", folder)
    fails_cleanly(["predict", folder, _csv(tmp_path)], "is not a run folder", folder)
    fails_cleanly(["plot", folder], "is not a run folder", folder)
    fails_cleanly(["eval", tmp_path / "nowhere"], "not found", folder)


def test_run_without_the_requested_checkpoint(runs, tmp_path):
    run = runs["moons"]
    fails_cleanly(["eval", run, "-c", "epoch-0003"], "has no 'epoch-0003' checkpoint", run)
    ckpt(run).unlink()
    out = fails_cleanly(["eval", run], "has no 'best' checkpoint", run)
    assert "it has: last, epoch-0002, epoch-0004" in out
    fails_cleanly(["predict", run, _csv(tmp_path)], "has no 'best' checkpoint", run)
    fails_cleanly(["eval", run, "--checkpoints", "5"], "keeps only 2 distinct checkpoints", run)


def test_ensemble_of_runs_on_other_data(runs):
    a, b = runs["moons"], runs["spirals"]
    fails_cleanly(["eval", a, b], "do not share data", a, b)
    fails_cleanly(["eval", a, runs["sine"]], "do not share data", a, runs["sine"])


def test_ensemble_of_runs_with_other_output_shapes(runs):
    a, b = runs["moons"], runs["bce"]
    fails_cleanly(["eval", a, b], "do not share an output shape (2 and 1 outputs)", a, b)


def test_options_that_exclude_each_other(runs):
    a, b = runs["moons"], runs["bce"]
    fails_cleanly(["eval", a, b, "--checkpoints", "2"], "give one run folder", a, b)
    fails_cleanly(["eval", a, b, "--mc-dropout", "4"], "give one run folder", a, b)
    fails_cleanly(["eval", a, "--mc-dropout", "4"], "has no dropout layer", a)
    fails_cleanly(["eval", a, "--split", "holdout"], "holdout", a)


def _csv(tmp_path, text="x1,x2\n0.1,0.2\n1.0,-0.3\n", name="in.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        ("x1\n0.1\n", "missing column(s) 'x2'"),
        ("x1,x2,colour\n0.1,0.2,red\n", "unexpected column(s) 'colour'"),
        ("x1,x2\n0.1,0.2\n0.3,abc\n", "column 'x2' is not numeric: row 2, line 3 of the file has 'abc'"),
        ("x1,x2\n0.1,\n", "column 'x2' has a missing value (row 1"),
        ("a,b,c\n1,2,3\n", "expected 2 feature column(s) ('x1', 'x2'), found 3"),
        ("x1,x2\n", "has no rows"),
        ("", "cannot read"),
    ],
)
def test_predict_csv_problems(runs, tmp_path, text, message):
    run = runs["moons"]
    src = _csv(tmp_path, text)
    out = tmp_path / "out.csv"
    fails_cleanly(["predict", run, src, "-o", out], message, run)
    assert not out.exists()


def test_predict_missing_input_file(runs, tmp_path):
    fails_cleanly(["predict", runs["moons"], tmp_path / "none.csv"], "input file", runs["moons"])


def test_runs_and_plot_errors(runs, tmp_path):
    folder = runs["moons"].parent
    fails_cleanly(["runs", tmp_path / "nowhere"], "not found", folder)
    fails_cleanly(["runs", folder, "--sort", "val_acc"], "did you mean 'val_accuracy'", folder)
    fails_cleanly(["plot", runs["sine"], "--boundary", "-o", tmp_path / "x.png"], "is a regression run", folder)
    fails_cleanly(["plot", runs["moons"], "-o", tmp_path / "x.jpg"], "ending in .png", folder)
    (runs["moons"] / "metrics.csv").unlink()
    fails_cleanly(["plot", runs["moons"], "-o", tmp_path / "x.png"], "no metrics.csv", folder)
