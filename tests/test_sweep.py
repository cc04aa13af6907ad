"""nnlab sweep: sampling, grid, parallel workers, a Dask cluster, failures, pruning, interruption and resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from nnlab.cli import main
from nnlab.config import load_config
from nnlab.sweep.space import load_sweep, plan_trials
from nnlab.training import train

MOONS = Path(__file__).parent.parent / "configs" / "moons.yaml"


def _base(tmp_path, epochs=12, n=300):
    raw = yaml.safe_load(MOONS.read_text())
    raw["data"]["n_samples"] = n
    raw["training"]["epochs"] = epochs
    raw["training"].pop("early_stopping", None)
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(raw))


def _sweep(tmp_path, text, **base):
    _base(tmp_path, **base)
    path = tmp_path / "sweep.yaml"
    path.write_text("base: base.yaml\n" + text)
    return path


RANDOM = """
method: random
trials: 12
seed: 3
metric: val_accuracy
parameters:
  optimizer.lr: {distribution: loguniform, low: 1.0e-3, high: 0.1}
  model.hidden: {values: [[8], [16, 16]]}
  model.dropout: {distribution: uniform, low: 0.0, high: 0.3}
  training.batch_size: {distribution: int, low: 8, high: 64, log: true}
"""


def _run(*args):
    return CliRunner().invoke(main, ["sweep", *map(str, args)])


def _sweep_dir(runs):
    (d,) = (runs / "sweeps").iterdir()
    return d


def test_same_seed_same_trials_and_values_in_their_spaces(tmp_path):
    sweep, base = load_sweep(_sweep(tmp_path, RANDOM))
    a, b = plan_trials(sweep, base), plan_trials(sweep, base)
    assert [t["values"] for t in a] == [t["values"] for t in b]
    other = plan_trials(sweep.model_copy(update={"seed": 4}), base)
    assert [t["values"] for t in other] != [t["values"] for t in a]
    for t in a:
        v = t["values"]
        assert 1e-3 <= v["optimizer.lr"] <= 0.1 and v["model.hidden"] in ([8], [16, 16])
        assert 0 <= v["model.dropout"] <= 0.3 and 8 <= v["training.batch_size"] <= 64
        assert isinstance(v["training.batch_size"], int)


@pytest.mark.slow
def test_parallel_random_sweep_ranks_trials_and_best_yaml_reproduces(tmp_path):
    path = _sweep(tmp_path, RANDOM)
    r = _run(path, "--workers", "2", "--runs-dir", tmp_path / "runs")
    assert r.exit_code == 0, r.output
    d = _sweep_dir(tmp_path / "runs")
    trials = pd.read_csv(d / "trials.csv")
    assert sorted(trials["trial"]) == list(range(12))
    assert (trials["status"] == "completed").all()
    scores = trials["val_accuracy"].tolist()
    assert scores == sorted(scores, reverse=True)
    assert {"optimizer.lr", "model.hidden", "best_epoch", "seconds", "run_dir"} <= set(trials.columns)
    assert len([p for p in d.iterdir() if p.name.startswith("trial-")]) == 12
    # best.yaml trains, with the same seed, to exactly the metric the table reports
    result = train(load_config(d / "best.yaml"), tmp_path / "again")
    best_epoch = int(trials.iloc[0]["best_epoch"])
    assert result.history[best_epoch - 1]["val_accuracy"] == trials.iloc[0]["val_accuracy"]


@pytest.mark.slow
def test_dask_cluster_gives_the_same_trials_as_local_workers(tmp_path):
    import distributed

    path = _sweep(tmp_path, RANDOM.replace("trials: 12", "trials: 4"), epochs=3)
    assert _run(path, "--workers", "2", "--runs-dir", tmp_path / "local").exit_code == 0
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, processes=True
    ) as cluster:
        r = _run(path, "--dask", cluster.scheduler_address, "--runs-dir", tmp_path / "dask")
    assert r.exit_code == 0, r.output
    local = pd.read_csv(_sweep_dir(tmp_path / "local") / "trials.csv").sort_values("trial")
    dask = pd.read_csv(_sweep_dir(tmp_path / "dask") / "trials.csv").sort_values("trial")
    cols = ["trial", "optimizer.lr", "model.hidden", "model.dropout", "training.batch_size", "status"]
    pd.testing.assert_frame_equal(local[cols].reset_index(drop=True), dask[cols].reset_index(drop=True))


def test_grid_enumerates_the_product_and_records_divergence(tmp_path):
    text = """
method: grid
metric: val_loss
parameters:
  optimizer: {values: [{name: sgd, lr: 1.0e+5}, {name: adam, lr: 0.01}]}
  model.hidden: {values: [[4], [8], [8, 8]]}
"""
    path = _sweep(tmp_path, text, epochs=3)
    r = _run(path, "--runs-dir", tmp_path / "runs", "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    combos = {(row["values"]["optimizer"]["name"], tuple(row["values"]["model.hidden"])) for row in rows}
    assert len(rows) == 6 and len(combos) == 6
    statuses = {row["values"]["optimizer"]["name"]: set() for row in rows}
    for row in rows:
        statuses[row["values"]["optimizer"]["name"]].add(row["status"])
    assert statuses == {"sgd": {"diverged"}, "adam": {"completed"}}
    assert all("learning rate" in row["error"] for row in rows if row["status"] == "diverged")
    trials = pd.read_csv(_sweep_dir(tmp_path / "runs") / "trials.csv")
    assert trials["status"].tolist()[:3] == ["completed"] * 3  # scored trials first (min val_loss)


def test_median_pruning_stops_a_clearly_worse_trial(tmp_path):
    text = """
method: grid
metric: val_accuracy
parameters:
  optimizer.lr: {values: [0.05, 0.03, 1.0e-6]}
prune: {rule: median, after: 3, min_trials: 2}
"""
    path = _sweep(tmp_path, text, epochs=10)
    assert _run(path, "--runs-dir", tmp_path / "runs").exit_code == 0
    trials = pd.read_csv(_sweep_dir(tmp_path / "runs") / "trials.csv").set_index("optimizer.lr")
    assert trials.loc[1e-6, "status"] == "pruned" and trials.loc[1e-6, "best_epoch"] <= 3
    assert set(trials.loc[[0.05, 0.03], "status"]) == {"completed"}


@pytest.mark.parametrize(
    "text, message",
    [
        ("parameters: {optimizer.lr: {distribution: loguniform, low: 0, high: 1}}", "a log scale needs low > 0"),
        ("parameters: {optimizer.lr: {distribution: normal, low: 0, high: 1}}", "optimizer.lr"),
        ("parameters: {model.hiden: {values: [[4]]}}", "unknown key 'model.hiden'"),
        ("parameters: {model.hidden: {values: [[-4]]}}", "model.hidden[0]: must be a positive integer"),
        (
            "method: grid\nparameters: {optimizer.lr: {distribution: uniform, low: 0.1, high: 1}}",
            "grid search needs a values list",
        ),
        ("metod: grid\nparameters: {optimizer.lr: {values: [0.1]}}", "did you mean 'method'"),
    ],
)
def test_bad_sweep_files_are_user_errors(tmp_path, text, message):
    r = _run(_sweep(tmp_path, text), "--runs-dir", tmp_path / "runs")
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert not (tmp_path / "runs").exists()  # nothing runs before every trial is valid


@pytest.mark.parametrize("path", sorted((MOONS.parent / "sweeps").glob("*.yaml")), ids=lambda p: p.name)
def test_every_sweep_in_configs_runs(path, tmp_path):
    from nnlab.sweep.runner import run_sweep, start_sweep

    sweep, base = load_sweep(path)
    base["training"]["epochs"] = 2
    trials = run_sweep(start_sweep(sweep, base, tmp_path, trials=2))
    assert len(trials) == 2 and all(t.status in ("completed", "stopped_early", "pruned") for t in trials)


def test_missing_arguments(tmp_path):
    assert _run().exit_code == 2
    r = _run("--resume", tmp_path)
    assert r.exit_code == 2 and "not a sweep folder" in r.output
    r = _run(MOONS)
    assert r.exit_code == 2 and "training config, not a sweep file" in r.output


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_a_killed_sweep_resumes_with_every_trial_exactly_once(tmp_path, sig):
    path = _sweep(tmp_path, RANDOM.replace("trials: 12", "trials: 6"), epochs=25, n=600)
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nnlab", "sweep", str(path), "--runs-dir", str(runs), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    ended = 0
    while time.time() < deadline and ended < 2:
        time.sleep(0.1)
        csv = list(runs.glob("sweeps/*/trials.csv"))
        if csv:
            try:
                ended = (pd.read_csv(csv[0])["status"] == "completed").sum()
            except (pd.errors.EmptyDataError, KeyError):
                pass
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=30)
    d = _sweep_dir(runs)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "nnlab sweep --resume" in err
    before = pd.read_csv(d / "trials.csv")
    assert 2 <= (before["status"] == "completed").sum() < 6
    kept = {p.name for p in d.iterdir() if p.name.startswith("trial-")}
    r = _run("--resume", d)
    assert r.exit_code == 0, r.output
    after = pd.read_csv(d / "trials.csv")
    assert sorted(after["trial"]) == list(range(6)) and (after["status"] == "completed").all()
    folders = [p.name for p in d.iterdir() if p.name.startswith("trial-")]
    assert sorted(f[:9] for f in folders) == [f"trial-{i:03d}" for i in range(6)]  # one folder per trial
    done_before = set(before.loc[before["status"] == "completed", "run_dir"])
    assert done_before <= set(after["run_dir"]) and done_before <= kept  # ended trials were not re-run
