"""nnlab runs (the table of run folders, a sweep's trials) and nnlab plot (curves and decision regions as
PNG)."""

import csv
import json
import shutil
import struct
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from nnlab.config import parse_config
from nnlab.plotting import MixedTasksWarning, runs_figure
from nnlab.runs.listing import columns, list_runs, sort_runs
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


# ----- nnlab runs in an 80-column terminal ---------------------------------------------------------------
def table_at(cli, monkeypatch, folder, width=80, *args):
    """The table as rich renders it in a terminal ``width`` columns wide (rich reads COLUMNS)."""
    monkeypatch.setenv("COLUMNS", str(width))
    r = cli("runs", folder, *args)
    assert r.exit_code == 0, r.output
    return r.stdout


def header_words(table: str) -> set[str]:
    """The words of the table's (two-line) column headers, above the rule."""
    lines = table.splitlines()
    rule = next(i for i, line in enumerate(lines) if set(line.strip()) == {"─"})
    return {w for line in lines[rule - 2 : rule] for w in line.split()}


def copy_runs(folder, names, dest):
    for n in names:
        shutil.copytree(next(folder.glob(f"{n}*")), dest / next(folder.glob(f"{n}*")).name)
    return dest


def test_runs_at_80_columns_keeps_status_epochs_main_metrics_and_time(folder, tmp_path, cli, monkeypatch):
    cls = copy_runs(folder, ["a-good", "b-poor", "d-spirals"], tmp_path / "cls")
    table = table_at(cli, monkeypatch, cls)
    assert max(len(line) for line in table.splitlines()) <= 80
    words = header_words(table)
    assert {"name", "status", "epochs", "val", "acc", "test", "time"} <= words
    assert "r2" not in table  # classification runs only: no R² column at all, not a column of dashes
    assert "completed" in table and "25/25" in table
    assert "(not shown for want of width: " in table and "see --json" in table
    wide = table_at(cli, monkeypatch, cls, 200)
    assert {"best", "epoch", "loss"} <= header_words(wide) and "not shown" not in wide


def test_runs_at_80_columns_with_classification_and_regression(folder, cli, monkeypatch):
    table = table_at(cli, monkeypatch, folder)
    lines = table.splitlines()
    assert max(len(line) for line in lines[: next(i for i, x in enumerate(lines) if x.startswith("(not"))]) <= 80
    words = header_words(table)
    assert {"name", "status", "epochs", "acc", "r2"} <= words
    sine = next(line for line in lines if line.startswith("c-sine"))
    assert "completed" in sine and "10/10" in sine


def test_the_sort_column_stays_in_a_narrow_table(folder, tmp_path, cli, monkeypatch):
    cls = copy_runs(folder, ["a-good", "b-poor", "d-spirals"], tmp_path / "cls")
    assert "loss" in header_words(table_at(cli, monkeypatch, cls, 80, "--sort", "test_loss"))


def test_columns_leave_out_a_column_no_run_has():
    rows = [
        {"name": "a", "status": "completed", "epochs": 3, "best_epoch": None, "val_accuracy": 0.9, "val_r2": None},
        {
            "name": "b",
            "status": "completed",
            "epochs": 3,
            "best_epoch": None,
            "val_accuracy": 0.8,
            "val_r2": float("nan"),
        },
    ]
    assert columns(rows) == ["name", "status", "epochs", "val_accuracy"]


# ----- nnlab runs SWEEP_DIR ---------------------------------------------------------------------------------
SWEEP = """
name: s
base: base.yaml
method: random
trials: 3
seed: 0
metric: val_accuracy
parameters:
  optimizer.lr: {distribution: loguniform, low: 1.0e-3, high: 1.0e-1}
"""


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    from click.testing import CliRunner

    from nnlab.cli import main

    root = tmp_path_factory.mktemp("sweep")
    (root / "base.yaml").write_text(BASE.format(name="m", data="moons", lr=0.01, epochs=12))
    (root / "s.yaml").write_text(SWEEP)
    r = CliRunner().invoke(main, ["sweep", str(root / "s.yaml"), "--runs-dir", str(root / "runs"), "-q"])
    assert r.exit_code == 0, r.output
    return next((root / "runs" / "sweeps").iterdir())


def test_runs_of_a_sweep_show_each_trials_best_value_of_the_sweeps_metric(sweep_dir, cli):
    rows = json.loads(cli("runs", sweep_dir, "--json").stdout)
    assert len(rows) == 3
    values = [r["val_accuracy"] for r in rows]
    assert values == sorted(values, reverse=True)  # ranked by the sweep's metric by default, best first
    with (sweep_dir / "trials.csv").open() as f:
        trials = {int(t["trial"]): t for t in csv.DictReader(f)}
    for r in rows:
        curve = pd.read_csv(Path(r["path"]) / "metrics.csv")
        best = curve["val_accuracy"].max()  # the best epoch by val_accuracy, not by val_loss
        assert r["val_accuracy"] == pytest.approx(best)
        assert r["best_epoch"] == int(curve.loc[curve["val_accuracy"].idxmax(), "epoch"])
        assert isinstance(r["best_epoch"], int) and r["best_epoch"] == int(float(trials[r["trial"]]["best_epoch"]))
        assert "val_loss" not in r  # the summary's figures of another epoch are left out
    by_name = [r["name"] for r in json.loads(cli("runs", sweep_dir, "--sort", "name", "--json").stdout)]
    assert by_name == sorted(by_name)


def test_runs_table_of_a_sweep_names_its_metric(sweep_dir, cli, monkeypatch):
    table = table_at(cli, monkeypatch, sweep_dir)
    assert "3 trials, sorted by val_accuracy" in table
    assert {"best", "val", "acc", "at", "epoch"} <= header_words(table)
    assert "best val_accuracy of each trial over its epochs, at that epoch" in table


# ----- plots: what the figure shows -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def early(tmp_path_factory):
    """A run that stops early, with a step schedule: an early stop to mark and an lr that changes."""
    cfg = BASE.format(name="e-early", data="moons", lr=0.05, epochs=60).replace(
        "batch_size: 32}", "batch_size: 32, early_stopping: {monitor: val_loss, patience: 2}}"
    )
    result = train(parse_config(cfg + "schedule: {name: step, every: 2, factor: 0.5}\n"), tmp_path_factory.mktemp("e"))
    assert result.status == "stopped_early"
    return result.run_dir


def titles(fig) -> list[str]:
    return [ax.get_title() for ax in fig.axes]


def stars(ax) -> list[float]:
    return [line.get_xdata()[0] for line in ax.lines if line.get_marker() == "*"]


def test_plot_figure_is_titled_and_marks_the_best_epoch_and_the_early_stop(early):
    summary = json.loads((early / "summary.json").read_text())
    fig = runs_figure([early])
    assert early.name in fig.get_suptitle() and "stopped early" in fig.get_suptitle()
    assert titles(fig) == ["loss", "accuracy", "learning rate"]
    loss, acc, lr = fig.axes
    for ax in (loss, acc):
        assert stars(ax) == [summary["best"]["epoch"]]
        stops = [line for line in ax.lines if line.get_linestyle() == ":"]
        assert len(stops) == 1 and list(stops[0].get_xdata()) == [summary["epochs"]] * 2
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert f"best epoch ({summary['best']['epoch']})" in legend and f"early stop ({summary['epochs']})" in legend
    assert len(set(lr.lines[0].get_ydata())) > 1  # the step schedule halves the lr


def test_plot_has_no_lr_panel_when_the_lr_stays(folder):
    fig = runs_figure([next(folder.glob("a-good*"))])
    assert titles(fig) == ["loss", "accuracy"] and "a-good" in fig.get_suptitle()


def test_plot_of_several_runs_names_them_and_keys_styles_once(folder, early):
    runs = [next(folder.glob("a-good*")), next(folder.glob("b-poor*")), early]
    fig = runs_figure(runs)
    assert all(r.name in fig.get_suptitle() for r in runs) and fig.get_suptitle().startswith("3 runs")
    loss = fig.axes[0]
    legend = [t.get_text() for t in loss.get_legend().get_texts()]
    assert legend == ["train", "val", "best epoch", "early stop", *(r.name for r in runs)]
    assert len(stars(loss)) == 3


def test_boundary_legend_shows_the_split_by_shape_and_the_class_by_colour(folder):
    run = next(folder.glob("d-spirals*"))
    fig = runs_figure([run], boundary=True)
    legend = fig.axes[-1].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["train", "test", "arm0", "arm1", "arm2"]
    train_h, test_h, *classes = legend.legend_handles
    assert train_h.get_marker() != test_h.get_marker()
    grey = to_rgba(train_h.get_color())
    assert grey[0] == grey[1] == grey[2] and to_rgba(test_h.get_color()) == grey  # shapes in no class's colour
    assert len({to_rgba(h.get_facecolor()) for h in classes}) == 3
    moons = runs_figure([next(folder.glob("a-good*"))], boundary=True).axes[-1].get_legend()
    assert [t.get_text() for t in moons.get_texts()][2:] == ["class 0", "class 1"]  # classes without names


def test_classification_and_regression_runs_get_separate_loss_axes(folder, tmp_path, cli):
    runs = [next(folder.glob("a-good*")), next(folder.glob("c-sine*"))]
    with pytest.warns(MixedTasksWarning, match="losses of different kinds"):
        fig = runs_figure(runs)
    assert titles(fig) == ["loss — classification", "accuracy", "loss — regression", "R²"]
    assert [len(ax.lines) for ax in fig.axes[::2]] == [3, 3]  # train, val and the best epoch of one run each
    out = tmp_path / "mixed.png"
    r = cli("plot", *runs, "-o", out)
    assert r.exit_code == 0 and "warning: classification runs" in r.stderr and out.stat().st_size > 20_000
