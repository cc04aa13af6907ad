"""The run folder's files: atomic writes (temporary file, fsync, os.replace), the lock, stale temporaries."""

import os

import pytest

from nnlab import atomic
from nnlab.atomic import atomic_write
from nnlab.config import parse_config
from nnlab.errors import CheckpointError
from nnlab.runs.folder import RunFolder
from nnlab.training import train


def test_atomic_write_fsyncs_before_it_replaces(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))[1])
    atomic_write(tmp_path / "f.txt", "new")
    assert calls == ["fsync", "replace"] and (tmp_path / "f.txt").read_text() == "new"


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "summary.json"
    target.write_text("old")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        atomic_write(target, "new")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["summary.json"]


def test_every_file_of_a_run_arrives_by_os_replace(runs_dir, monkeypatch):
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (replaced.append(os.fspath(b)), real_replace(a, b))[1])
    cfg = parse_config(
        "data: {name: moons, n_samples: 100}\nmodel: {hidden: [4]}\ntraining: {epochs: 4, checkpoint_every: 2}"
    )
    d = train(cfg, runs_dir).run_dir
    files = {os.fspath(p) for p in d.rglob("*") if p.is_file()}
    assert len(files) == 7 and files <= set(replaced)  # config, metrics, summary, last, best, epoch-0002/0004


def test_the_lock_refuses_a_second_holder(tmp_path):
    with RunFolder(tmp_path).lock():
        with pytest.raises(CheckpointError, match="another nnlab process"):
            with RunFolder(tmp_path).lock():
                pass
    with RunFolder(tmp_path).lock():  # released
        pass


def test_stale_temporaries_of_the_trainer_only(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    stale = [tmp_path / ".summary.json.ab12.tmp", tmp_path / "checkpoints" / ".last.safetensors.x.tmp"]
    other = tmp_path / ".eval-test.json.cd34.tmp"
    for p in [*stale, other]:
        p.write_text("half")
    assert sorted(RunFolder(tmp_path).remove_stale_temporaries()) == sorted(stale)
    assert other.exists() and not any(p.exists() for p in stale)
