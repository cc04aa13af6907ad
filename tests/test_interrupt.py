"""Signals sent to a real ``nnlab train`` process: SIGINT / SIGTERM stop it cleanly and --resume continues
it exactly; SIGKILL at random moments never leaves a half-written file in the run folder."""

import json
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from nnlab.cli import main
from nnlab.config import parse_config
from nnlab.runs.checkpoint import load_checkpoint
from nnlab.training import resume, train

# a few thousand batches an epoch of milliseconds each: a signal lands inside an epoch almost surely
SLOW = """
name: slow
data: {name: moons, n_samples: 3000, split: {val: 0.1, test: 0.1}, preprocess: standardize}
model: {hidden: [32, 32], dropout: 0.2}
optimizer: {name: adam, lr: 0.005}
schedule: {name: step, every: 2, factor: 0.5}
training: {epochs: EPOCHS, batch_size: 4}
"""


def start(config_path, runs_dir):
    cmd = [sys.executable, "-m", "nnlab", "train", str(config_path), "--runs-dir", str(runs_dir), "-q"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_epochs(runs_dir, epochs: int, proc, limit: float = 60.0):
    """Wait until the run's summary.json counts ``epochs`` finished epochs (written last at an epoch end)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        for path in runs_dir.glob("*/summary.json"):
            if json.loads(path.read_text())["epochs"] >= epochs:
                return path.parent
        time.sleep(0.005)
    raise AssertionError(f"no run reached {epochs} epochs: {proc.communicate()[1]}")


@pytest.mark.slow
@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_a_real_run_and_resume_is_exact(tmp_path, signum, status):
    text = SLOW.replace("EPOCHS", "5")
    config = tmp_path / "slow.yaml"
    config.write_text(text)
    proc = start(config, tmp_path / "runs")
    run_dir = wait_for_epochs(tmp_path / "runs", 1, proc)
    time.sleep(0.03)  # into the second epoch (~0.1 s): most often the signal lands between two of its batches
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert f"resume with: nnlab train --resume {run_dir}" in err and "Traceback" not in err
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted" and signal.Signals(signum).name in summary["reason"]
    stopped_at = load_checkpoint(run_dir / "checkpoints" / "last.safetensors")[1]

    r = CliRunner().invoke(main, ["train", "--resume", str(run_dir), "-q"])
    assert r.exit_code == 0, r.output
    reference = train(parse_config(text), tmp_path / "reference").run_dir
    (ta, ma), (tb, mb) = (load_checkpoint(d / "checkpoints" / "last.safetensors") for d in (reference, run_dir))
    assert all(np.array_equal(ta[k], tb[k]) for k in ta) and sorted(ta) == sorted(tb)
    a, b = (pd.read_csv(d / "metrics.csv").drop(columns="seconds") for d in (reference, run_dir))
    pd.testing.assert_frame_equal(a, b)
    assert ma["rng"] == mb["rng"] and ma["optimizer"] == mb["optimizer"]
    assert stopped_at["epoch"] < 5  # it did stop early, and the resume did the rest


def readable(run_dir):
    """Every file of the run that exists is whole: JSON parses, the CSV reads, the checkpoint verifies."""
    found = {}
    if (run_dir / "summary.json").exists():
        found["summary"] = json.loads((run_dir / "summary.json").read_text())["status"]
    if (run_dir / "metrics.csv").exists():
        found["rows"] = len(pd.read_csv(run_dir / "metrics.csv"))
    for ckpt in (run_dir / "checkpoints").glob("*.safetensors"):
        found[ckpt.stem] = load_checkpoint(ckpt)[1]["epoch"]
    return found


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_every_file_whole(tmp_path):
    config = tmp_path / "fast.yaml"
    # tiny epochs: the files are rewritten many times a second, so a kill often lands inside a write
    config.write_text(SLOW.replace("EPOCHS", "100000").replace("n_samples: 3000", "n_samples: 200"))
    rng = random.Random(5)
    killed = []
    for i in range(5):
        runs = tmp_path / f"runs{i}"
        proc = start(config, runs)
        time.sleep(rng.uniform(0.5, 3.0))
        proc.kill()
        proc.communicate()
        for run_dir in runs.glob("*"):
            found = readable(run_dir)
            if "last" in found:
                assert found["rows"] in (found["last"], found["last"] - 1)  # metrics.csv follows last
                killed.append((run_dir, found["last"]))
    assert killed, "no kill came after the first epoch"
    run_dir, epochs = killed[-1]
    resumed = resume(run_dir, epochs=epochs + 2)  # the killed run continues from its last checkpoint
    assert resumed.status == "completed" and not list(run_dir.rglob(".*.tmp"))
    text = config.read_text().replace("epochs: 100000", f"epochs: {epochs + 2}")
    reference = train(parse_config(text), tmp_path / "reference").run_dir
    ta, tb = (load_checkpoint(d / "checkpoints" / "last.safetensors")[0] for d in (reference, run_dir))
    assert all(np.array_equal(ta[k], tb[k]) for k in ta)
