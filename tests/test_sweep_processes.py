"""A sweep's worker processes never outlive the sweep: SIGKILL of only its main process (nothing can tell the
workers) still leaves no nnlab process behind a few seconds later."""

import glob
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

BASE = {
    "data": {"name": "moons", "n_samples": 200, "split": {"val": 0.25}},
    "model": {"hidden": [8]},
    "optimizer": {"name": "sgd", "lr": 0.1},
    "training": {"epochs": 100000, "batch_size": 20},
}
SWEEP = "base: base.yaml\nmethod: grid\nparameters: {optimizer.lr: {values: [0.01, 0.02, 0.03, 0.04]}}\n"


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads the process tree from /proc")
def test_sigkill_of_the_sweep_leaves_no_worker_forkserver_or_tracker_behind(tmp_path):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(BASE))
    (tmp_path / "s.yaml").write_text(SWEEP)
    proc = subprocess.Popen(
        [sys.executable, "-m", "nnlab", "sweep", "s.yaml", "--runs-dir", "runs", "-q", "--workers", "2"],
        cwd=tmp_path,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 90
    while len(glob.glob(str(tmp_path / "runs/sweeps/*/trial-*/metrics.csv"))) < 2 and time.time() < deadline:
        time.sleep(0.2)
    family = _descendants(proc.pid)
    assert len(family) >= 3, "two workers, their forkserver (and the resource tracker) should be running"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 5
    while any(_running(p) for p in family) and time.time() < deadline:
        time.sleep(0.1)
    left = [p for p in family if _running(p)]
    for p in left:  # do not leave them to the next test
        os.kill(p, signal.SIGKILL)
    assert not left, f"{len(left)} of the sweep's {len(family)} processes outlived it"
