"""What ``nnlab train`` shows: a live display that keeps its counter, bar and ETA at 80 columns, plain lines in a
log, no escape codes at all under NO_COLOR (every command, in a real terminal), the reason of a run as a
paragraph, and an initial-loss check that passes every shipped config and still catches a broken scale."""

import io
import json
import math
import os
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

import nnlab
from nnlab.cli.render import PlainProgress, RichProgress, epoch_line, fitted, initial_loss_text, metrics
from nnlab.metrics import evaluate
from nnlab.training.callbacks import Callback

ROOT = Path(__file__).parent.parent
CONFIGS = ROOT / "configs"
SHIPPED = sorted(p for p in CONFIGS.rglob("*.yaml") if p.parent.name != "sweeps")
ESC = "\x1b["


def _rel(p):
    return str(p.relative_to(CONFIGS))


# ----- the live display ---------------------------------------------------------------------------------------
def _snapshot_of_live_display(width: int, runs_dir, config="xor.yaml", overrides=(), at=150):
    """Train with the live display on a forced terminal ``width`` columns wide; the display as it stands at the
    end of epoch ``at``, as plain text."""
    from rich.console import Console

    out = Console(file=io.StringIO(), width=width, force_terminal=True)
    live = RichProgress(out)
    frames = []

    class Snapshot(Callback):
        def on_epoch_end(self, run, epoch, row):
            if epoch + 1 == at:
                snap = Console(file=io.StringIO(), width=width, color_system=None)
                snap.print(live.progress.get_renderable())
                frames.append(snap.file.getvalue())

    result = nnlab.train(CONFIGS / config, runs_dir, overrides, callbacks=[live, Snapshot()], handle_signals=False)
    assert result.status == "completed"
    return frames[0], out.file.getvalue()


def test_live_display_at_80_columns_keeps_the_counter_the_bar_and_the_eta(runs_dir):
    frame, written = _snapshot_of_live_display(80, runs_dir)
    line = frame.splitlines()[0]
    shown = re.search(r"^epoch\s+150/300 (?P<bar>[━╸╺ ]{10,}) eta \d+:\d\d:\d\d loss \d", line)
    assert shown and "━" in shown["bar"], frame  # the bar's rest is blank without colours
    assert all(len(x) <= 80 for x in frame.splitlines()), frame
    assert "…" not in frame  # nothing cut in the middle
    assert "epoch 300/300" in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", written)  # it ran to the end on the terminal
    assert "initial loss" in written


def test_live_display_drops_the_least_important_metrics_first(runs_dir):
    overrides = ["data.n_samples=200", "training.epochs=40", "training.early_stopping=null"]
    narrow, _ = _snapshot_of_live_display(80, runs_dir, "moons.yaml", overrides, at=20)
    wide, _ = _snapshot_of_live_display(120, runs_dir, "moons.yaml", overrides, at=20)
    assert "loss" in narrow and "val_acc" in narrow and "eta" in narrow
    for label in ("loss", " acc ", "val_loss", "val_acc", " lr "):
        assert label in wide, wide
    assert len(wide.splitlines()[0]) > len(narrow.splitlines()[0])


def test_metrics_are_chosen_by_importance_and_shown_in_order():
    row = {"train_loss": 0.5, "train_accuracy": 0.75, "val_loss": 0.4, "val_accuracy": 0.8, "lr": 0.01}
    items = metrics(row)
    assert fitted(items, 1000) == "loss 0.5000  acc 0.7500  val_loss 0.4000  val_acc 0.8000  lr 0.01"
    assert fitted(items, 30) == "loss 0.5000  val_acc 0.8000"
    assert fitted(items, 3) == ""


# ----- plain lines ----------------------------------------------------------------------------------------------
def test_piped_train_prints_the_header_the_epochs_and_the_table_without_escape_codes(cli, runs_dir):
    r = cli("train", CONFIGS / "xor.yaml", "--runs-dir", runs_dir)
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert ESC not in out
    head = out.splitlines()
    assert head[0].startswith("nnlab run ") and "initial loss" in out and ": ok (ln 2 = 0.6931" in out
    epochs = [x for x in head if x.startswith("epoch ")]
    assert epochs[0].startswith("epoch   1/300  loss ") and epochs[-1].startswith("epoch 300/300  loss ")
    seconds = json.loads((next(runs_dir.iterdir()) / "summary.json").read_text())["wall_seconds"]
    assert len(epochs) <= 2 + math.ceil(seconds)  # at most one a second, and the last
    assert out.index("epoch 300/300") < out.index("xor: completed") < out.index("run folder:")


def test_plain_progress_shows_every_epoch_that_lasts_the_interval(runs_dir):
    from rich.console import Console

    out = Console(file=io.StringIO(), width=80)
    nnlab.train(CONFIGS / "xor.yaml", runs_dir, ["training.epochs=5"], callbacks=[PlainProgress(out, interval=0)])
    lines = [x for x in out.file.getvalue().splitlines() if x.startswith("epoch")]
    assert [x.split()[1] for x in lines] == ["1/5", "2/5", "3/5", "4/5", "5/5"]


def test_epoch_line():
    row = {"epoch": 3, "lr": 0.01, "train_loss": 0.25, "val_r2": 0.9, "seconds": 0.0213}
    assert epoch_line(3, 100, row) == "epoch   3/100  loss 0.2500  val_r2 0.9000  lr 0.01  21.3ms"


def test_json_keeps_stdout_pure_and_quiet_prints_nothing(cli, runs_dir):
    r = cli("train", CONFIGS / "xor.yaml", "--runs-dir", runs_dir, "--json", "-o", "training.epochs=3")
    assert json.loads(r.stdout)["status"] == "completed"
    r = cli("train", CONFIGS / "xor.yaml", "--runs-dir", runs_dir, "-q", "-o", "training.epochs=3")
    assert r.exit_code == 0 and r.output == ""


# ----- the summary -----------------------------------------------------------------------------------------------
def test_a_long_reason_is_a_paragraph_under_the_table(cli, runs_dir):
    r = cli("train", CONFIGS / "classic" / "perceptron_xor.yaml", "--runs-dir", runs_dir)
    out = r.stdout
    title = next(x for x in out.splitlines() if "perceptron-xor:" in x)
    assert title.strip() == "perceptron-xor: completed"
    after = out[out.rindex("┘") + 1 : out.index("run folder:")]
    paragraph = " ".join(after.split())
    assert paragraph.startswith("completed: did not converge in 30 epochs")
    assert paragraph.endswith("(perceptron convergence theorem)")


# ----- NO_COLOR, in a real terminal -----------------------------------------------------------------------------
def _in_a_terminal(*args, cwd, no_color=True, columns=100, timeout=240):
    """Run ``nnlab ARGS`` with stdin, stdout and stderr on a pseudo-terminal; (exit status, what it showed)."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS")}
    env.update(TERM="xterm-256color", **({"NO_COLOR": "1"} if no_color else {}))
    cmd = [sys.executable, "-m", "nnlab", *map(str, args)]
    p = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env, close_fds=True)
    os.close(slave)
    chunks = []
    try:
        while select.select([master], [], [], timeout)[0]:
            try:
                data = os.read(master, 1 << 16)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        else:
            p.kill()
            pytest.fail(f"nnlab {' '.join(map(str, args))} did not finish in {timeout} s")
    finally:
        os.close(master)
    return p.wait(), b"".join(chunks).decode(errors="replace")


def test_a_terminal_gets_colours_without_no_color(tmp_path):
    code, shown = _in_a_terminal("train", CONFIGS / "xor.yaml", "-o", "training.epochs=5", cwd=tmp_path, no_color=False)
    assert code == 0 and ESC in shown  # the checks below are meaningful: this is a terminal


def test_no_color_means_no_escape_codes_from_train_its_warnings_and_errors(tmp_path):
    warned = ("train", CONFIGS / "xor.yaml", "-o", "model.initializer=zeros", "-o", "training.epochs=20")
    code, shown = _in_a_terminal(*warned, cwd=tmp_path)
    assert code == 0 and "warning:" in shown and "epoch 20/20" in shown and "xor: completed" in shown
    assert "\x1b" not in shown, shown
    code, shown = _in_a_terminal("train", CONFIGS / "xor.yaml", "-o", "model.activation=relux", cwd=tmp_path)
    assert code == 2 and "error:" in shown and "\x1b" not in shown, shown


@pytest.mark.slow  # a process per command: about a minute on two busy cores
def test_no_color_means_no_escape_codes_from_any_command(tmp_path):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        f"name: tiny\nbase: {CONFIGS / 'xor.yaml'}\ntrials: 2\nseed: 0\nmetric: train_loss\n"
        "parameters:\n  optimizer.lr: {values: [0.1, 0.5]}\n  training.epochs: {values: [5]}\n"
    )
    code, shown = _in_a_terminal("train", CONFIGS / "iris.yaml", "-o", "training.epochs=5", cwd=tmp_path)
    assert code == 0, shown
    run = next((tmp_path / "runs").iterdir())
    for args in [("runs",), ("eval", run), ("plot", run), ("gradcheck", CONFIGS / "xor.yaml"), ("sweep", sweep)]:
        code, shown = _in_a_terminal(*args, cwd=tmp_path)
        assert code == 0 and shown.strip(), (args, shown)
        assert "\x1b" not in shown, (args, shown)


# ----- the initial-loss check -----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", SHIPPED, ids=_rel)
def test_every_shipped_config_passes_the_initial_loss_check(path, request):
    if path.name == "fashion_mnist.yaml":
        request.getfixturevalue("fashion_mnist_available")
    exp = nnlab.build(path)
    s = exp.splits
    value = evaluate(exp.net, exp.loss, s.X_train[:4096], s.y_train[:4096], s.task)["loss"]  # as the trainer does
    bounds = exp.initial_loss_range()
    if exp.expected_initial_loss is None:
        assert bounds is None
        return
    low, high = bounds
    assert low <= exp.expected_initial_loss <= high
    assert low <= value <= high, (value, bounds)
    assert initial_loss_text(exp, value).endswith(")") and ": ok (" in initial_loss_text(exp, value)


def test_the_range_is_the_initial_networks_even_after_training(runs_dir):
    exp = nnlab.build(CONFIGS / "moons.yaml")
    before = exp.initial_loss_range()
    for W in exp.net.weight_matrices():
        W *= 10
    assert exp.initial_loss_range() == before


def test_inputs_a_thousand_times_too_large_are_caught(cli, runs_dir):
    r = cli(
        "train",
        CONFIGS / "moons.yaml",
        "--runs-dir",
        runs_dir,
        "-o",
        "data.preprocess={name: scale, factor: 0.001}",
        "-o",
        "training.epochs=1",
    )
    line = next(x for x in r.stdout.splitlines() if "initial loss" in x)
    value = float(line.split()[2])
    assert value > 100, line
    assert "too high" in line and "data.preprocess" in line


ASCII_TERMINAL = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}


@pytest.mark.slow
def test_an_ascii_only_terminal_gets_greek_letters_and_powers_spelled_in_ascii(tmp_path):
    """LC_ALL=C without UTF-8 mode: stdout encodes ASCII only. Tables keep their alignment and φ, R², —
    are spelled phi, R^2, - instead of ending in UnicodeEncodeError."""
    env = {**os.environ, **ASCII_TERMINAL, "COLUMNS": "200"}
    run = lambda *a: subprocess.run([sys.executable, "-m", "nnlab", *a], capture_output=True, env=env, cwd=tmp_path)
    shown = run("components", "activation")
    assert shown.returncode == 0, shown.stderr.decode()
    text = shown.stdout.decode("ascii")  # nothing beyond ASCII came out
    assert "phi(z)" in text and "φ" not in text
    widths = {len(line) for line in text.splitlines() if line.startswith("|")}
    assert len(widths) == 1, "the table's rows have different widths"
    (tmp_path / "c.yaml").write_text("data: {name: sine}\nmodel: {hidden: [4]}\ntraining: {epochs: 2}\n")
    assert run("train", "c.yaml", "-q").returncode == 0
    (folder,) = (tmp_path / "runs").iterdir()
    evaluated = run("eval", str(folder))
    assert evaluated.returncode == 0 and "R^2" in evaluated.stdout.decode("ascii"), evaluated.stderr.decode()


def test_in_a_terminal_messages_wrap_between_words_and_a_pipe_gets_them_whole(tmp_path, cli):
    # an error on stderr and eval's list of files on stdout, at 80 columns: no word, no path cut in two, the
    # continuation under the text after "error:" / "wrote"; the same message piped is one line
    from tests.terminal import pty_run

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\ndata: {name: moons}\nmodel: {hidden: [4], activaton: relu}\n")
    piped = cli("train", bad)
    assert piped.exit_code == 2 and len(piped.output.strip().splitlines()) == 1
    screen, _, code = pty_run(["train", str(bad)], tmp_path)
    lines = [line.rstrip() for line in screen.replace("\r", "").splitlines() if line.strip()]
    assert code == 2 and len(lines) > 1 and max(len(line) for line in lines) <= 80, lines
    assert all(line.startswith(" " * 7) and line[7] != " " for line in lines[1:]), lines
    assert " ".join(line.strip() for line in lines) == piped.output.strip()

    run = nnlab.train(nnlab.load_config(CONFIGS / "moons.yaml", ["training.epochs=1"]), tmp_path / "r").run_dir
    screen, _, code = pty_run(["eval", str(run.relative_to(tmp_path))], tmp_path, stream="stdout")
    lines = [line.rstrip() for line in screen.replace("\r", "").splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.startswith("wrote ")), None)
    assert start is not None, (code, lines)
    files = " ".join(line.strip() for line in lines[start:]).removeprefix("wrote ").split(", ")
    assert code == 0 and len(files) == 2 and all((tmp_path / f).is_file() for f in files), lines[start:]
    assert max(len(line) for line in lines[start:]) <= 80 and lines[start + 1].startswith(" " * 6 + "r/")
