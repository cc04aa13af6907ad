"""A disk that fills up while a run writes, for real: the training process runs under a file-size limit
(RLIMIT_FSIZE), so the kernel refuses a checkpoint's write (EFBIG) exactly as a full disk refuses it
(ENOSPC) — both go through the same handling. The run must end with one line that says which checkpoint is
whole and how to continue, leave every file whole, and continue with ``nnlab train --resume``."""

import os
import resource
import signal
import subprocess
import sys

import pytest

import nnlab

pytestmark = pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="no file-size limit on this system")

CONFIG = """\
name: full
seed: 0
data: {name: xor}
model: {hidden: [4], activation: tanh}
optimizer: {name: sgd, lr: 0.5, momentum: 0.9}
training: {epochs: 300, batch_size: full, save_interval: 0}
"""
LIMIT = 20_000  # bytes: the checkpoints grow with the metrics they hold and pass it near epoch 100


def _nnlab(args, cwd, limit=None):
    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "nnlab", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limited if limit else None,
        env={**os.environ, "NO_COLOR": "1"},
    )


@pytest.mark.slow
def test_a_full_disk_mid_run_says_what_is_safe_and_the_run_resumes(tmp_path):
    (tmp_path / "c.yaml").write_text(CONFIG)
    done = _nnlab(["train", "c.yaml", "--runs-dir", "runs", "-q"], tmp_path, limit=LIMIT)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot write") and "Traceback" not in done.stderr
    (run,) = (tmp_path / "runs").iterdir()
    assert "last complete checkpoint" in lines[0] and f"nnlab train --resume runs/{run.name}" in lines[0]
    epoch = int(lines[0].split("(epoch ")[1].split(")")[0])
    assert 1 <= epoch < 300
    assert not list(run.rglob("*.tmp")), "a half-written file was left behind"
    assert nnlab.load_run(run, "last").epoch == epoch  # the checkpoint named is whole and loads

    resumed = _nnlab(["train", "--resume", str(run), "-q"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert nnlab.load_run(run, "last").epoch == 300


@pytest.mark.slow
def test_a_disk_full_before_the_first_checkpoint_says_to_start_again(tmp_path):
    (tmp_path / "c.yaml").write_text(CONFIG)
    done = _nnlab(["train", "c.yaml", "--runs-dir", "runs", "-q"], tmp_path, limit=2_000)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "no checkpoint was complete yet" in lines[0] and "nnlab train runs/" in lines[0]


@pytest.mark.slow
def test_predictions_that_do_not_fit_on_the_disk_are_one_line_and_no_file(tmp_path):
    (tmp_path / "c.yaml").write_text(CONFIG.replace("epochs: 300", "epochs: 2"))
    assert _nnlab(["train", "c.yaml", "--runs-dir", "runs", "-q"], tmp_path).returncode == 0
    (run,) = (tmp_path / "runs").iterdir()
    (tmp_path / "in.csv").write_text("x1,x2\n" + "0.5,0.25\n" * 2000)
    done = _nnlab(["predict", str(run), "in.csv", "-o", "out.csv"], tmp_path, limit=30_000)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "the disk is full" in lines[0], done.stderr
    assert not (tmp_path / "out.csv").exists() and not list(tmp_path.glob(".out.csv*"))
