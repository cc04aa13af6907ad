"""nnlab runs (the table of run folders) and nnlab plot (curves and decision regions as PNG)."""

import json
import struct
from pathlib import Path

import pytest

from nnlab.config import parse_config
from nnlab.runs.listing import list_runs, sort_runs
from nnlab.training import train

BASE = """
name: {name}
data: {{name: {data}, n_samples: 200, split: {{val: 0.25, test: 0.25}}, preprocess: standardize}}
model: {{hidden: [16]}}
optimizer: {{name: adam, lr: {lr}}}
training: {{epochs: {epochs}, batch_size: 32}}
"""



@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for name, data, lr, epochs in [
        ("a-good", "moons", 0.02, 25),
        ("b-poor", "moons", 0.0005, 2),
        ("c-sine", "sine", 0.01, 10),
        ("d-spirals", "spirals", 0.01, 8),
    ]:
        train(parse_config(BASE.format(name=name, data=data, lr=lr, epochs=epochs)), root)
    (root / "not-a-run").mkdir()
    (root / ".gitkeep").write_text("")
    return root


def test_runs_lists_every_run_folder(folder):
    rows = list_runs(folder)
    assert [r["name"].rsplit("-", 3)[0] for r in rows] == ["a-good", "b-poor", "c-sine", "d-spirals"]
    good = rows[0]
    assert good["status"] == "completed" and good["epochs"] == 25 and good["epochs_planned"] == 25
    assert {"val_loss", "val_accuracy", "test_loss", "test_accuracy"} <= set(good)
    assert "test_r2" in rows[2] and "test_accuracy" not in rows[2]


def test_runs_sorted_by_a_metric(folder, cli):
    rows = json.loads(cli("runs", folder, "--sort", "test_accuracy", "--json").stdout)
    acc = [r.get("test_accuracy") for r in rows]
    assert acc[-1] is None  # the regression run has no accuracy: last
    assert acc[:-1] == sorted(acc[:-1], reverse=True)  # accuracy: best first
    rows = json.loads(cli("runs", folder, "--sort", "val_loss", "--json").stdout)
    losses = [r["val_loss"] for r in rows]
    assert losses == sorted(losses)  # a loss: lowest first
    rows = json.loads(cli("runs", folder, "--sort", "val_loss", "--reverse", "--json").stdout)
    assert [r["val_loss"] for r in rows] == sorted(losses, reverse=True)


def test_sort_runs_puts_missing_values_last():
    rows = [{"name": "x", "test_r2": None}, {"name": "y", "test_r2": 0.5}, {"name": "z", "test_r2": 0.9}]
    assert [r["name"] for r in sort_runs(rows, "test_r2")] == ["z", "y", "x"]


def test_runs_table(folder, cli):
    r = cli("runs", folder)
    assert r.exit_code == 0, r.output
    assert "a-good" in r.output and "completed" in r.output and "not-a-run" not in r.output
    one = next(p for p in folder.iterdir() if p.name.startswith("a-good"))
    assert len(json.loads(cli("runs", one, "--json").stdout)) == 1  # a run folder itself: that run
    assert "no run folders" in cli("runs", folder / "not-a-run").output


def test_runs_survives_an_unreadable_summary(folder, tmp_path, cli):
    import shutil

    run = Path(shutil.copytree(next(folder.glob("b-poor*")), tmp_path / "runs" / "b-poor-x"))
    (run / "summary.json").write_text("{not json")
    rows = json.loads(cli("runs", tmp_path / "runs", "--json").stdout)
    assert rows[0]["status"] == "unreadable"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_plot_one_run_writes_curves_in_the_run_folder(folder, cli):
    run = next(folder.glob("a-good*"))
    r = cli("plot", run)
    assert r.exit_code == 0, r.output
    out = run / "curves.png"
    w, h = png_size(out)
    assert 800 <= w <= 2000 and 300 <= h <= 1000 and out.stat().st_size > 20_000


def test_plot_several_runs_with_decision_regions(folder, tmp_path, cli):
    runs = [next(folder.glob(f"{n}*")) for n in ("a-good", "b-poor", "d-spirals")]
    out = tmp_path / "compare.png"
    r = cli("plot", *runs, "--boundary", "-o", out)
    assert r.exit_code == 0, r.output
    w, h = png_size(out)
    assert w >= 1400 and h >= 700 and out.stat().st_size > 60_000


def test_plot_regression_curves(folder, tmp_path, cli):
    out = tmp_path / "sine.png"
    assert cli("plot", next(folder.glob("c-sine*")), "-o", out).exit_code == 0
    assert png_size(out)[0] > 500
