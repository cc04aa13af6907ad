"""Sweeps that spend less: ASHA and Hyperband on exact resume, TPE through Optuna, on every executor, and
interruption with promotions in flight."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from nnlab.cli import main
from nnlab.config import load_config
from nnlab.runs.checkpoint import load_checkpoint
from nnlab.training import train

BASE = {
    "seed": 0,
    "data": {"name": "moons", "n_samples": 200, "noise": 0.25, "split": {"val": 0.25, "test": 0.2}},
    "model": {"hidden": [8], "activation": "tanh", "dropout": 0.1},
    "optimizer": {"name": "adam", "lr": 0.01},
    "schedule": {"name": "cosine"},
    "training": {"epochs": 9, "batch_size": 16},
}
ASHA = """
name: asha
base: base.yaml
trials: 9
seed: 2
parameters:
  optimizer.lr: {distribution: loguniform, low: 1.0e-4, high: 0.3}
prune: {rule: asha, min_epochs: 1, reduction_factor: 3}
"""
TIMELESS = ["seconds", "run_dir"]


def _write(tmp_path, text=ASHA, **training):
    base = json.loads(json.dumps(BASE))
    base["training"].update(training)
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    (tmp_path / "s.yaml").write_text(text)
    return tmp_path / "s.yaml"


def _sweep(path, runs, *args):
    r = CliRunner().invoke(main, ["sweep", str(path), "--runs-dir", str(runs), "-q", *map(str, args)])
    assert r.exit_code == 0, r.output
    (d,) = (Path(runs) / "sweeps").iterdir()
    return d


def _trials(d):
    return pd.read_csv(d / "trials.csv").set_index("trial").sort_index()


def _same_run(a: Path, b: Path, epochs=None):
    """The run folders ``a`` and ``b`` hold the same training: checkpoints (last, best), metrics.csv (but the
    seconds), status, best epoch and test figures; ``epochs``: compare ``a`` with ``b``'s first epochs."""
    ma, mb = (pd.read_csv(d / "metrics.csv").drop(columns="seconds") for d in (a, b))
    if epochs is not None:
        pd.testing.assert_frame_equal(ma, mb.iloc[:epochs])
        return
    pd.testing.assert_frame_equal(ma, mb)
    for name in ("last", "best"):
        (ta, meta_a), (tb, meta_b) = (load_checkpoint(d / "checkpoints" / f"{name}.safetensors") for d in (a, b))
        assert sorted(ta) == sorted(tb) and all(np.array_equal(ta[k], tb[k]) for k in ta), name
        for key in ("epoch", "best", "optimizer", "schedule", "rng"):
            assert _timeless(meta_a[key]) == _timeless(meta_b[key]), (name, key)
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    for key in ("status", "epochs", "test"):
        assert _timeless(sa[key]) == _timeless(sb[key]), key
    assert sa["best"]["epoch"] == sb["best"]["epoch"]


def _timeless(value):
    """``value`` without its "seconds" entries (wall time is the one thing a resume cannot repeat)."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k != "seconds"}
    return value


def _straight(trial_dir: Path, runs: Path) -> Path:
    """The trial's config trained in one go, to its full length."""
    return train(load_config(trial_dir / "config.yaml"), runs, handle_signals=False).run_dir


def _check_promoted_trials_are_exact(d: Path, tmp_path: Path, top=9):
    trials = _trials(d)
    assert set(trials["epochs"]) <= {1, 3, 9} and (trials["epochs"] == top).any()
    for i, row in trials.iterrows():
        if row["epochs"] > 1:  # promoted at least once: resumed from its folder
            straight = _straight(d / row["run_dir"], tmp_path / f"straight-{i}")
            _same_run(d / row["run_dir"], straight, None if row["epochs"] == top else row["epochs"])
            summary = json.loads((d / row["run_dir"] / "summary.json").read_text())
            assert len(summary["resumes"]) == [1, 3, 9].index(row["epochs"])


@pytest.mark.slow
def test_a_promoted_trial_is_exactly_a_run_trained_straight(tmp_path):
    d = _sweep(_write(tmp_path), tmp_path / "runs")
    _check_promoted_trials_are_exact(d, tmp_path)
    trials = _trials(d)
    assert {"bracket", "rung", "epochs", "rungs"} <= set(trials.columns)
    assert set(trials["status"]) <= {"completed", "pruned"}
    progress = pd.read_csv(d / "progress.csv")
    assert progress["spent"].iloc[-1] == trials["epochs"].sum()  # every epoch trained once
    assert progress["spent"].is_monotonic_increasing and progress["best"].is_monotonic_increasing


def test_the_serial_executor_decides_the_same_from_the_same_seed(tmp_path):
    path = _write(tmp_path, ASHA.replace("trials: 9", "trials: 6"), epochs=3)
    a, b = (_sweep(path, tmp_path / r) for r in ("a", "b"))
    pd.testing.assert_frame_equal(_trials(a).drop(columns=TIMELESS), _trials(b).drop(columns=TIMELESS))
    pa, pb = (pd.read_csv(d / "progress.csv")[["trial", "epochs", "spent"]] for d in (a, b))
    pd.testing.assert_frame_equal(pa, pb)
    assert set(_trials(a)["epochs"]) == {1, 3}  # trials were promoted (to the last rung, 3 epochs)
    for _, row in _trials(a).iterrows():  # each trial's own folder says what trials.csv says
        summary = json.loads((a / row["run_dir"] / "summary.json").read_text())
        assert summary["status"] == row["status"] and summary["epochs"] == row["epochs"], row["run_dir"]
        if row["status"] == "pruned":
            assert "not promoted" in summary["reason"]
    pruned = a / _trials(a).query("status == 'pruned'")["run_dir"].iloc[0]
    r = CliRunner().invoke(main, ["train", "--resume", str(pruned), "-q"])  # what the reason suggests works
    assert r.exit_code == 0, r.output
    assert json.loads((pruned / "summary.json").read_text())["epochs"] == 3


def test_hyperband_deals_trials_to_brackets_that_start_later(tmp_path):
    text = ASHA.replace("rule: asha", "rule: hyperband").replace("trials: 9", "trials: 6")
    d = _sweep(_write(tmp_path, text, epochs=3), tmp_path / "runs")
    trials = _trials(d)
    assert list(trials["bracket"]) == [i % 2 for i in range(6)]  # rungs 1, 3: two brackets
    first = trials["rungs"].map(lambda r: min(int(k) for k in json.loads(r)))
    assert list(first) == [1 if i % 2 == 0 else 3 for i in range(6)]


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["workers", "dask"])
def test_asha_on_parallel_executors_promotes_exactly(tmp_path, executor):
    path = _write(tmp_path)
    if executor == "workers":
        d = _sweep(path, tmp_path / "runs", "--workers", 2)
    else:
        import distributed

        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, processes=True
        ) as cluster:
            d = _sweep(path, tmp_path / "runs", "--dask", cluster.scheduler_address)
    _check_promoted_trials_are_exact(d, tmp_path)
    assert len(pd.read_csv(d / "progress.csv")) == _trials(d)["epochs"].map({1: 1, 3: 2, 9: 3}).sum()


@pytest.mark.slow
def test_ctrl_c_with_promotions_in_flight_resumes_to_the_uninterrupted_sweep(tmp_path):
    """Interrupted while trials train (promotions among them), resumed: the same decisions, the same
    trials and folders as a sweep never interrupted, and no epoch trained twice."""
    path = _write(tmp_path, epochs=9)
    (tmp_path / "base.yaml").write_text(
        (tmp_path / "base.yaml").read_text().replace("n_samples: 200", "n_samples: 3000")
    )
    whole = _sweep(path, tmp_path / "whole")
    runs = tmp_path / "cut"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nnlab", "sweep", str(path), "--runs-dir", str(runs), "-q"],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline:  # stop once a promoted trial (epochs > 1) is training
        time.sleep(0.05)
        rows = list(runs.glob("sweeps/*/trials.csv"))
        try:
            t = pd.read_csv(rows[0]) if rows else None
        except (pd.errors.EmptyDataError, OSError):
            continue
        if t is not None and ((t["status"] == "running") & (t["target"] > 1)).any():
            break
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    (d,) = (runs / "sweeps").iterdir()
    cut = _trials(d)
    assert (cut["status"] == "interrupted").sum() == 1
    r = CliRunner().invoke(main, ["sweep", "--resume", str(d), "-q"])
    assert r.exit_code == 0, r.output
    pd.testing.assert_frame_equal(_trials(d).drop(columns=TIMELESS), _trials(whole).drop(columns=TIMELESS))
    for i, row in _trials(d).iterrows():
        _same_run(d / row["run_dir"], whole / _trials(whole).loc[i, "run_dir"], None)
        epochs = pd.read_csv(d / row["run_dir"] / "metrics.csv")["epoch"]
        assert list(epochs) == list(range(1, row["epochs"] + 1))  # no epoch twice
    assert len(list(d.glob("trial-*"))) == 9


TPE = """
name: tpe
base: base.yaml
method: tpe
trials: 8
seed: 5
parameters:
  optimizer.lr: {distribution: loguniform, low: 1.0e-4, high: 0.3}
  model.hidden: {values: [[4], [16, 16]]}
"""


def test_tpe_asks_optuna_and_keeps_the_study_in_a_journal(tmp_path):
    optuna = pytest.importorskip("optuna")
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = _write(tmp_path, TPE, epochs=2)
    a, b = (_sweep(path, tmp_path / r) for r in ("a", "b"))
    pd.testing.assert_frame_equal(_trials(a).drop(columns=TIMELESS), _trials(b).drop(columns=TIMELESS))
    study = optuna.load_study(study_name="nnlab", storage=JournalStorage(JournalFileBackend(str(a / "optuna.journal"))))
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(done) == 8 and study.direction.name == "MAXIMIZE"
    trials = _trials(a)
    for t in done:
        row = trials.loc[t.user_attrs["nnlab_trial"]]
        assert t.params["optimizer.lr"] == row["optimizer.lr"] and t.value == row["val_accuracy"]
        assert t.params["model.hidden"] in ("[4]", "[16, 16]")


def test_tpe_with_asha_tells_paused_trials_as_pruned(tmp_path):
    pytest.importorskip("optuna")
    import optuna

    text = TPE + "prune: {rule: asha, min_epochs: 1, reduction_factor: 2}\n"
    d = _sweep(_write(tmp_path, text, epochs=4), tmp_path / "runs")
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name="nnlab", storage=JournalStorage(JournalFileBackend(str(d / "optuna.journal"))))
    trials = _trials(d)
    jobs = pd.read_csv(d / "progress.csv")
    assert len(study.trials) == len(jobs)  # one Optuna trial per job
    assert all(t.state.is_finished() for t in study.trials)
    for t in study.trials:
        assert t.user_attrs["nnlab_trial"] in trials.index
    promoted = [t for t in study.trials if t.user_attrs["job"] > 0]
    assert promoted and all(t.intermediate_values for t in promoted)


def test_importing_nnlab_never_imports_optuna():
    code = "import sys, nnlab, nnlab.sweep, nnlab.cli; assert 'optuna' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
