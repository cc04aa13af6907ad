"""What nnlab sweep shows: the table of trials in a narrow terminal, and the running trials' progress."""

import os
import re
import shlex
from pathlib import Path

import yaml
from rich.console import Console

from nnlab.cli.sweep import short_names, trials_table
from nnlab.sweep.runner import Trial
from nnlab.sweep.trial import TrialProgress
from tests.terminal import pty_run

MOONS = Path(__file__).parent.parent / "configs" / "moons.yaml"
NUMBER = re.compile(r"^-?\d[\d.e+-]*s?$|^\d+m\d\ds$")  # 0.9833, 1e-05, 12, 3.4s, 2m05s


def _render(table, width=80) -> list[str]:
    console = Console(width=width, record=True, no_color=True, file=open(os.devnull, "w"))
    console.print(table)
    return console.export_text().splitlines()


def _trials(n=6):
    """Trials of a wide space: long dotted names, lists, a dict, small and large numbers."""
    out = []
    for i in range(n):
        values = {
            "optimizer.lr": 10 ** -(i % 5 + 1) * 1.2345,
            "model.hidden": [64 * (i + 1), 64, 32],
            "model.dropout": 0.05 * i,
            "training.batch_size": 8 * (i + 1),
            "regularization.l2": 1e-5 * i,
            "schedule": {"name": "cosine", "warmup": i},
            "training.epochs": 1000 + i,
        }
        status = ["completed", "pruned", "diverged", "failed", "stopped_early", "completed"][i % 6]
        t = Trial(i, values, {}, status=status, seconds=12.5 * (i + 1) ** 3, best_epoch=100 * i + 7)
        t.metric = None if status in ("diverged", "failed") else 0.9 - i / 100
        out.append(t)
    return out


def test_at_80_columns_no_number_is_split_and_no_header_broken_letter_by_letter():
    from nnlab.cli.render import fmt
    from nnlab.cli.sweep import _seconds, _value

    trials = _trials()
    names = short_names(list(trials[0].values))
    for width in (80, 120):
        lines = _render(
            trials_table(trials, "sweep moons-20261128-101500-1a2b", "val_accuracy", "max", width=width), width
        )
        assert max(map(len, lines)) <= width
        rule = lines.index(next(line for line in lines if "───" in line))
        header, legend = "\n".join(lines[:rule]), " ".join(line.strip() for line in lines[rule + 1 :])
        left_out = [p for p in names if p in legend.partition("not shown (too narrow): ")[2]]
        assert bool(left_out) == (width == 80)  # these trials need more than 80 columns, and fit in 120
        shown = [p for p in names if p not in left_out]
        # headers whole, or on two lines at an underscore (batch_ / size): the parameters by their last
        # name, their paths in the legend
        for name in ["status", "val_acc", "best", "epoch", "time", *(names[p] for p in shown)]:
            for part in re.split(r"(?<=_)", name) if not re.search(rf"(?<![\w.]){name}(?![\w.])", header) else [name]:
                assert re.search(rf"(?<![\w.]){re.escape(part)}(?![\w.])", header), (width, name, header)
        assert all(f"{names[p]}: {p}" in legend for p in shown if names[p] != p)
        # every number whole on its row's first line
        for t in trials:
            (row,) = [line for line in lines if line.split() and line.split()[0] == str(t.index)]
            cells = [_value(t.values[p]) for p in shown] + [fmt(t.metric), str(t.best_epoch), _seconds(t.seconds)]
            for cell in filter(NUMBER.match, cells):
                assert re.search(rf"(?<![\w.]){re.escape(cell)}(?![\w.])", row), (width, cell, row)


def test_short_names_stay_unique():
    names = short_names(["optimizer.lr", "schedule.lr", "model.hidden", "seed", "a.b.c", "d.b.c"])
    assert names == {
        "optimizer.lr": "optimizer.lr",
        "schedule.lr": "schedule.lr",
        "model.hidden": "hidden",
        "seed": "seed",
        "a.b.c": "a.b.c",
        "d.b.c": "d.b.c",
    }


def _trial_folder(tmp_path, rows, planned=50):
    d = tmp_path / "sweep" / "trial-003-20261128-101500-1a2b"
    d.mkdir(parents=True)
    lines = ["epoch,lr,train_loss,val_loss,val_accuracy,seconds"]
    lines += [f"{e},0.01,0.5,0.4,{acc},0.01" for e, acc in rows]
    (d / "metrics.csv").write_text("\n".join(lines) + "\n")
    (d / "summary.json").write_text(f'{{"status": "running", "epochs_planned": {planned}, "wall_seconds": 2.5}}')
    return d


def test_the_table_shows_a_running_trials_epoch_and_metric_from_its_run_folder(tmp_path):
    d = _trial_folder(tmp_path, [(1, 0.5), (2, 0.8125), (3, "")])
    progress = TrialProgress(tmp_path / "sweep", "val_accuracy", "max")
    running = Trial(3, {"optimizer.lr": 0.01}, {}, status="running")
    done = Trial(1, {"optimizer.lr": 0.1}, {}, status="completed", metric=0.75, best_epoch=9, seconds=4.0)
    pending = Trial(4, {"optimizer.lr": 0.2}, {})
    lines = _render(trials_table([done, running, pending], "live", "val_accuracy", "max", progress, live=True))
    (row,) = [line for line in lines if line.strip().startswith("3 ")]
    assert re.search(r"running 3/50\s+0\.8125\s+2\s+\d+\.\ds$", row), row
    assert lines.index(row) < lines.index(next(line for line in lines if line.strip().startswith("1 ")))
    assert not [line for line in lines if line.strip().startswith("4 ")]  # pending trials wait off the table
    # the folder changes as the trial trains; a trial with no epoch written yet shows dashes
    _write = d / "metrics.csv"
    _write.write_text(_write.read_text() + "4,0.01,0.5,0.4,0.9,0.01\n")
    assert progress(running)["epoch"] == 4 and progress(running)["metric"] == 0.9
    assert progress(Trial(7, {}, {}, status="running")) is None


def test_in_a_real_terminal_the_live_table_shows_the_running_trial(tmp_path):
    raw = yaml.safe_load(MOONS.read_text())
    raw["data"]["n_samples"] = 300
    raw["training"].update(epochs=1500)  # seconds: long enough for the table to read the trial's folder
    raw["training"].pop("early_stopping", None)
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(raw))
    (tmp_path / "sweep.yaml").write_text(
        "base: base.yaml\ntrials: 1\nparameters:\n  optimizer.lr: {values: [0.01]}\n  training.batch_size: {values: [64]}\n"
    )
    # in a worker process: a trial in the sweep's own process leaves the table's redraws few chances (the
    # training loop holds the GIL) and this test flaky
    screen, out, code = pty_run(["sweep", "sweep.yaml", "--runs-dir", "runs", "--workers", "2"], tmp_path)
    assert code == 0, screen + out
    assert re.search(r"running \d+/1500\s+0\.\d{4}\s+\d+\s+\d+\.\ds", screen), screen[-3000:]
    assert max(len(line) for line in screen.splitlines()) <= 80
    assert "batch_size: training.batch_size" in out  # the final table, on stdout
    # the commands that follow stand on lines of their own, whole, and name what is there
    commands = [line.strip() for line in out.splitlines() if line.strip().startswith("nnlab ")]
    assert [c.split()[:2] for c in commands] == [["nnlab", "plot"], ["nnlab", "train"]], out
    assert (tmp_path / commands[0].split()[2]).is_dir() and (tmp_path / commands[1].split()[2]).is_file()
    assert "epochs spent: 1500 in 1 job; the best val_accuracy" in out  # a pipe: whole lines


def test_in_a_real_terminal_the_closing_lines_wrap_between_words(tmp_path):
    raw = yaml.safe_load(MOONS.read_text())
    raw["data"]["n_samples"] = 100
    raw["training"].update(epochs=3)
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(raw))
    (tmp_path / "sweep.yaml").write_text(
        "base: base.yaml\ntrials: 2\nparameters:\n  optimizer.lr: {values: [0.01, 0.02]}\n"
    )
    screen, _, code = pty_run(["sweep", "sweep.yaml", "--runs-dir", "runs[b]"], tmp_path, stream="stdout")
    assert code == 0, screen
    lines = [line.rstrip() for line in screen.replace("\r", "").splitlines() if line.strip()]
    assert max(len(line) for line in lines) <= 80, lines
    start = next(i for i, line in enumerate(lines) if line.startswith("epochs spent:"))
    sentence = r"epochs spent: 6 in 2 jobs; the best val_accuracy \(\d\.\d{4}\) reached after \d of them"
    assert re.fullmatch(sentence, f"{lines[start]} {lines[start + 1]}"), lines  # 82 characters: two lines
    commands = [shlex.split(line) for line in lines if line.startswith("      nnlab ")]
    assert [c[:2] for c in commands] == [["nnlab", "plot"], ["nnlab", "train"]]
    assert (tmp_path / commands[0][2]).is_dir() and (tmp_path / commands[1][2]).is_file()  # "[b]" kept, quoted
