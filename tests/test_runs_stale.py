"""A run killed with SIGKILL says ``running`` in its summary forever; ``nnlab runs`` shows it ``stale``
because no live process holds its folder's lock (the kernel drops the lock of a dead process)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from nnlab.runs.folder import RunFolder

LONG = """
name: long
data: {name: moons, n_samples: 400}
model: {hidden: [16]}
training: {epochs: 100000, batch_size: 32, save_interval: 0.2}
"""


def status_of(cli, runs_dir) -> str:
    rows = json.loads(cli("runs", runs_dir, "--json").stdout)
    assert len(rows) == 1
    return rows[0]["status"]


def wait_for(condition, seconds=60.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail("timed out waiting for the training process")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX only")
def test_a_run_killed_with_sigkill_is_stale_and_a_live_one_running(tmp_path, cli, monkeypatch):
    config, runs_dir = tmp_path / "long.yaml", tmp_path / "runs"
    config.write_text(LONG)
    child = subprocess.Popen(
        [sys.executable, "-m", "nnlab", "train", str(config), "--runs-dir", str(runs_dir), "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    try:
        wait_for(lambda: child.poll() is not None or any(runs_dir.glob("*/summary.json")))
        assert child.poll() is None, child.stderr.read().decode()
        run = next(runs_dir.glob("*/summary.json")).parent
        assert status_of(cli, runs_dir) == "running"
        assert RunFolder(run).is_held()
        monkeypatch.setenv("COLUMNS", "100")
        assert "running" in cli("runs", runs_dir).stdout
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        child.stderr.close()
    assert json.loads((run / "summary.json").read_text())["status"] == "running"  # what the run last said
    assert not RunFolder(run).is_held()
    assert status_of(cli, runs_dir) == "stale"
    table = cli("runs", runs_dir).stdout
    assert "stale" in table and f"nnlab train --resume {run}" in table


def test_is_held_while_the_lock_is_held(tmp_path):
    folder = RunFolder(tmp_path)
    assert folder.is_held() is False
    with folder.lock():
        assert folder.is_held() is True
    assert folder.is_held() is False
    with folder.lock():  # asking took nothing: the folder can be locked again
        pass
