"""The command line: exit codes, messages, files written, and never a traceback for a user error."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

CONFIGS = Path(__file__).parent.parent / "configs"


def test_train_xor_writes_a_run_folder(cli, runs_dir):
    r = cli("train", CONFIGS / "xor.yaml", "--runs-dir", runs_dir, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["status"] == "completed"
    assert out["final"]["train_accuracy"] == 1.0
    assert (Path(out["run_dir"]) / "metrics.csv").is_file()


def test_train_prints_a_summary_table(cli, runs_dir):
    r = cli("train", CONFIGS / "xor.yaml", "--runs-dir", runs_dir, "-o", "training.epochs=5")
    assert r.exit_code == 0
    assert "xor: completed" in r.output and "run folder:" in r.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["-o", "model.activation=relux"], "did you mean 'relu'"),
        (["-o", "model.hidden=[8, -1]"], "model.hidden[1]"),
        (["-o", "training.epochz=3"], "unknown key 'training.epochz'"),
        (["-o", "data.noize=0.1"], "no argument 'noize'"),
        (["-o", "model.activation=step"], "zero almost everywhere"),
    ],
)
def test_user_errors_exit_2_with_a_message(cli, runs_dir, args, message):
    r = cli("train", CONFIGS / "moons.yaml", "--runs-dir", runs_dir, *args)
    assert r.exit_code == 2
    assert message in r.output
    assert "Traceback" not in r.output
    assert not runs_dir.exists() or not any(runs_dir.iterdir())  # nothing written for a bad config


def test_missing_config_file(cli):
    r = cli("train", "no-such-config.yaml")
    assert r.exit_code == 2 and "config file 'no-such-config.yaml' not found" in r.output


def test_help_has_an_example(cli):
    r = cli("train", "--help")
    assert r.exit_code == 0 and "Example:" in r.output and "--runs-dir" in r.output
    assert cli("--help").exit_code == 0


def _commands(group, path=()):
    import click

    yield path
    for name, command in getattr(group, "commands", {}).items():
        yield from _commands(command, (*path, name)) if isinstance(command, click.Group) else [(*path, name)]


def test_every_help_fits_an_80_column_terminal(cli, monkeypatch):
    # click rewraps paragraphs to the terminal, not the \b blocks (examples, lists): those are written to fit
    from nnlab.cli import main

    monkeypatch.setenv("COLUMNS", "80")
    paths = list(_commands(main))
    assert len(paths) > 12
    for path in paths:
        r = cli(*path, "--help")
        assert r.exit_code == 0, path
        wide = [line for line in r.output.splitlines() if len(line) > 80]
        assert not wide, (path, wide)


def test_components_lists_the_registry(cli):
    r = cli("components", "activation", "--json")
    rows = json.loads(r.output)
    names = {row["name"] for row in rows}
    assert {"relu", "sigmoid", "softmax", "tanh", "identity", "leaky_relu"} <= names
    sigmoid = next(row for row in rows if row["name"] == "sigmoid")
    assert sigmoid["arguments"] == ["c=1.0"] and "logistic" in sigmoid["aliases"]
    assert cli("components", "activations").exit_code == 2


def test_real_subprocess_reports_errors_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {name: moons}\nmodel: {hidden: [8], activation: relux}\n")
    p = subprocess.run([sys.executable, "-m", "nnlab", "train", str(bad)], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 2
    assert "did you mean 'relu'" in p.stderr and "Traceback" not in p.stderr


def test_real_subprocess_trains(tmp_path):
    p = subprocess.run(
        [sys.executable, "-m", "nnlab", "train", str(CONFIGS / "xor.yaml"), "--runs-dir", str(tmp_path), "-q"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    (run,) = tmp_path.iterdir()
    assert json.loads((run / "summary.json").read_text())["final"]["train_accuracy"] == 1.0


def test_train_threads_limits_blas_and_the_optimizer_split(cli, runs_dir, monkeypatch):
    from threadpoolctl import threadpool_info

    from nnlab import parallel
    from nnlab.training.loop import Trainer

    seen = []
    fit = Trainer.fit

    def recording_fit(self, *args, **kwargs):
        blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        seen.append((parallel.threads(), blas))
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "fit", recording_fit)
    r = cli("train", CONFIGS / "xor.yaml", "--runs-dir", runs_dir, "--threads", "1", "-q")
    assert r.exit_code == 0, r.output
    assert seen == [(1, [1] * len(seen[0][1]))] and seen[0][1]
    bad = cli("train", CONFIGS / "xor.yaml", "--runs-dir", runs_dir, "--threads", "0")
    assert bad.exit_code == 2 and "--threads" in bad.output and "Traceback" not in bad.output


def test_train_help_says_where_the_output_goes(cli):
    flat = " ".join(cli("train", "--help").output.split())
    assert "the progress and the summary table go to stdout; errors, warnings and the resume hint to stderr" in flat
    assert "plain lines without escape codes" in flat and "NO_COLOR" in flat
