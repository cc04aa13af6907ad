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


# ------------------------------------------------------------------- what a new user met (issue 15)
def test_when_every_trial_fails_the_sweep_says_so_and_exits_1(tmp_path):
    text = """
method: grid
parameters:
  optimizer: {values: [{name: sgd, lr: 1.0e+5}, {name: sgd, lr: 1.0e+6}]}
"""
    r = _run(_sweep(tmp_path, text, epochs=3), "--runs-dir", tmp_path / "runs")
    assert r.exit_code == 1, r.output
    assert "no trial succeeded" in r.output and "2 diverged" in r.output
    assert "trial 0: the loss became" in r.output  # the first error
    assert "best.yaml" not in r.output.replace("there is no best.yaml", "") and "Traceback" not in r.output
    assert not (_sweep_dir(tmp_path / "runs") / "best.yaml").exists()
    # --json and -q say it too
    for flag in ("--json", "-q"):
        r = _run(_sweep(tmp_path, text, epochs=3), "--runs-dir", tmp_path / flag, flag)
        assert r.exit_code == 1 and "no trial succeeded" in r.output


SINE = MOONS.parent / "sine.yaml"


@pytest.mark.parametrize(
    "base, text, message",
    [
        (MOONS, "metric: val_r2", "did you mean 'val_accuracy'?"),
        (SINE, "metric: val_accuracy", "did you mean 'val_r2'?"),
        (MOONS, "metric: val_loss\ndata: {split: {val: 0.0}}", "no validation split"),
        (MOONS, "metric: weight_change", "epoch, lr, train_loss, train_accuracy, penalty, val_loss, val_accuracy"),
    ],
    ids=["r2-on-classification", "accuracy-on-regression", "no-val-split", "no-tol"],
)
def test_a_metric_the_trials_will_not_write_is_refused_before_any_trial_runs(tmp_path, base, text, message):
    raw = yaml.safe_load(base.read_text())
    head, _, extra = text.partition("\n")
    if extra:
        raw["data"]["split"]["val"] = 0.0
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(raw))
    (tmp_path / "sweep.yaml").write_text(f"base: base.yaml\n{head}\nparameters: {{optimizer.lr: {{values: [0.01]}}}}\n")
    r = _run(tmp_path / "sweep.yaml", "--runs-dir", tmp_path / "runs")
    assert r.exit_code == 2, r.output
    assert r.output.startswith("error: metric: ") and message in r.output and "Traceback" not in r.output
    assert not (tmp_path / "runs").exists()


def test_a_metric_only_some_trials_write_is_refused_naming_one(tmp_path):
    text = "method: grid\nmetric: penalty\nparameters:\n  regularization.l2: {values: [1.0e-4, 0]}\n"
    r = _run(_sweep(tmp_path, text), "--runs-dir", tmp_path / "runs")
    assert r.exit_code == 2, r.output
    assert "1 of the 2 trials" in r.output and "trial 1 (regularization.l2=0)" in r.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "base, changes",
    [
        (MOONS, {}),
        (MOONS, {"regularization": {}, "training": {"tol": 1e-9}}),
        (MOONS, {"data": {"split": {"val": 0.0, "test": 0.2}}}),
        (SINE, {"regularization": {"l1": 1e-4}}),
        (SINE, {"data": {"split": {"val": 0.0, "test": 0.0}}, "training": {"tol": 1e-9}}),
    ],
)
def test_the_columns_the_sweep_expects_are_those_a_run_writes(tmp_path, base, changes):
    """check_metric's columns (nnlab/sweep/space.py) against a real run's metrics.csv."""
    from nnlab.errors import ConfigError
    from nnlab.sweep.space import SweepConfig, check_metric

    raw = yaml.safe_load(base.read_text())
    for section, values in changes.items():
        raw[section] = {**raw.get(section, {}), **values} if values else {}
    raw["training"]["epochs"] = 2
    raw["training"].pop("early_stopping", None)
    written = list(pd.read_csv(train(raw_config(raw), tmp_path).run_dir / "metrics.csv").columns)
    planned = plan_trials(SweepConfig(base=raw, parameters={"seed": {"values": [0]}}), raw)
    for column in written:
        check_metric(SweepConfig(base=raw, metric=column, parameters={"seed": {"values": [0]}}), raw, planned)
    with pytest.raises(ConfigError) as e:
        check_metric(SweepConfig(base=raw, metric="nothing", parameters={"seed": {"values": [0]}}), raw, planned)
    assert f"write {', '.join(written)}" in str(e.value)


def raw_config(raw):
    from nnlab.config import validate

    return validate(raw)


def test_random_values_are_drawn_without_replacement_while_they_last(tmp_path, cli):
    path = _sweep(tmp_path, "trials: 2\nparameters:\n  optimizer.lr: {values: [0.01, 0.001]}\n", epochs=2)
    for seed in range(8):
        sweep, base = load_sweep(path)
        lrs = [t["values"]["optimizer.lr"] for t in plan_trials(sweep.model_copy(update={"seed": seed}), base)]
        assert sorted(lrs) == [0.001, 0.01]
    r = cli("sweep", path, "--runs-dir", tmp_path / "runs", "-q")
    assert r.exit_code == 0, r.output
    assert sorted(pd.read_csv(_sweep_dir(tmp_path / "runs") / "trials.csv")["optimizer.lr"]) == [0.001, 0.01]


def test_random_trials_repeat_no_combination_until_every_one_was_drawn(tmp_path):
    text = """
trials: 14
parameters:
  optimizer.lr: {values: [0.01, 0.001, 0.0001]}
  model.hidden: {values: [[4], [8], [4, 4], [8, 8]]}
"""
    sweep, base = load_sweep(_sweep(tmp_path, text))
    keys = [json.dumps(t["values"], sort_keys=True) for t in plan_trials(sweep, base)]
    assert len(set(keys[:12])) == 12 and set(keys[12:]) <= set(keys[:12])  # 12 combinations, then repeats
    assert keys == [json.dumps(t["values"], sort_keys=True) for t in plan_trials(sweep, base)]  # reproducible
    assert keys[:5] == [json.dumps(t["values"], sort_keys=True) for t in plan_trials(sweep, base, trials=5)]
    # a mixed space with few distinct values: no trial repeats another while one can be avoided
    mixed = """
trials: 6
parameters:
  optimizer.lr: {values: [0.01, 0.001]}
  training.batch_size: {distribution: int, low: 8, high: 10}
"""
    sweep, base = load_sweep(_sweep(tmp_path, mixed))
    values = [json.dumps(t["values"], sort_keys=True) for t in plan_trials(sweep, base)]
    assert len(set(values)) == 6


def test_more_random_trials_than_combinations_warns(tmp_path):
    path = _sweep(tmp_path, "trials: 3\nparameters:\n  optimizer.lr: {values: [0.01, 0.001]}\n", epochs=2)
    r = _run(path, "--runs-dir", tmp_path / "runs", "-q")
    assert r.exit_code == 0, r.output
    assert "warning: trials: 3, but the space has 2 combinations" in r.output and "method: grid" in r.output


def test_trials_csv_writes_integers_as_integers(tmp_path):
    import csv

    text = """
method: grid
parameters:
  optimizer: {values: [{name: sgd, lr: 1.0e+5}, {name: adam, lr: 0.01}]}
  training.batch_size: {values: [16, 32]}
"""
    assert _run(_sweep(tmp_path, text, epochs=3), "--runs-dir", tmp_path / "runs").exit_code == 0
    with open(_sweep_dir(tmp_path / "runs") / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    epochs = [row["best_epoch"] for row in rows]
    assert all(e == "" or e.isdigit() for e in epochs), epochs  # 3, not 3.0
    assert "" in epochs and any(epochs)  # a diverged trial has none: the column is still one of integers
    assert all(row["training.batch_size"] in ("16", "32") and row["trial"].isdigit() for row in rows)


def test_the_dask_hint_works_for_a_pip_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed → ImportError
    path = _sweep(tmp_path, "parameters:\n  optimizer.lr: {values: [0.01]}\n", epochs=1)
    r = _run(path, "--dask", "tcp://127.0.0.1:8786", "--runs-dir", tmp_path / "runs")
    assert r.exit_code == 2, r.output
    assert 'pip install "nnlab[dask]"' in r.output and 'pip install -e ".[dask]"' in r.output


def _wait_for(condition, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _summaries(sweep_dir):
    return {p.name[:9]: json.loads((p / "summary.json").read_text()) for p in sweep_dir.glob("trial-*")}


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.slow)])  # 2: workers are killed
def test_ctrl_c_marks_the_running_trials_interrupted_in_their_own_folders(tmp_path, workers):
    path = _sweep(tmp_path, "trials: 4\nparameters:\n  optimizer.lr: {values: [0.01, 0.02, 0.03, 0.04]}\n", epochs=500)
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nnlab", "sweep", str(path), "--runs-dir", str(runs), "-q", "--workers", str(workers)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started = lambda: len(list(runs.glob("sweeps/*/trial-*/metrics.csv"))) >= workers  # noqa: E731
    assert _wait_for(started), proc.kill() or proc.communicate()
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    d = _sweep_dir(runs)
    summaries = _summaries(d)
    assert len(summaries) >= workers
    for name, s in summaries.items():
        assert s["status"] == "interrupted", (name, s["status"])
        assert "the sweep was interrupted" in s["reason"] and f"nnlab sweep --resume {d}" in s["reason"]
    trials = pd.read_csv(d / "trials.csv").set_index("trial")
    assert set(trials.loc[[int(n[6:9]) for n in summaries], "status"]) == {"interrupted"}


@pytest.mark.slow
def test_ctrl_c_stops_the_trials_running_on_dask(tmp_path):
    import distributed

    path = _sweep(tmp_path, "trials: 2\nparameters:\n  optimizer.lr: {values: [0.01, 0.02]}\n", epochs=2000)
    runs = tmp_path / "runs"
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, processes=True
    ) as cluster:
        args = ["sweep", str(path), "--runs-dir", str(runs), "-q", "--dask", cluster.scheduler_address]
        proc = subprocess.Popen([sys.executable, "-m", "nnlab", *args], stderr=subprocess.PIPE, text=True)
        assert _wait_for(lambda: len(list(runs.glob("sweeps/*/trial-*/metrics.csv"))) == 2)
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        d = _sweep_dir(runs)

        def settled():  # the tasks cannot be killed: they see the sweep's stop file, stop, write their folder
            before = {n: (s["status"], s["epochs"]) for n, s in _summaries(d).items()}
            time.sleep(1.5)
            return before == {n: (s["status"], s["epochs"]) for n, s in _summaries(d).items()}

        assert _wait_for(settled, timeout=30)
        summaries = _summaries(d)
        assert len(summaries) == 2 and {s["status"] for s in summaries.values()} == {"interrupted"}
        assert all(s["epochs"] < 2000 and "the sweep was interrupted" in s["reason"] for s in summaries.values())
        assert not list(d.glob("trial-*/.*.tmp"))
