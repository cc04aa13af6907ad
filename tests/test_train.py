"""The trainer end to end: the run folder, determinism, early stopping, divergence."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import nnlab
from nnlab.config import load_config, parse_config
from nnlab.runs.checkpoint import load_checkpoint, subset
from nnlab.training import train

CONFIGS = Path(__file__).parent.parent / "configs"

MOONS = """
name: moons-test
data: {name: moons, n_samples: 200, split: {val: 0.2, test: 0.2}, preprocess: standardize}
model: {hidden: [16], dropout: 0.1}
optimizer: {name: adam, lr: 0.01}
schedule: {name: step, every: 3, factor: 0.5}
regularization: {l2: 0.0001}
training: {epochs: 6, batch_size: 16}
"""


def test_run_folder_has_every_file(runs_dir):
    result = train(parse_config(MOONS), runs_dir)
    d = result.run_dir
    assert d.parent == runs_dir and d.name.startswith("moons-test-")
    assert (d / "checkpoints" / "last.safetensors").is_file()
    assert (d / "checkpoints" / "best.safetensors").is_file()
    metrics = pd.read_csv(d / "metrics.csv")
    assert list(metrics.columns) == [
        "epoch",
        "lr",
        "train_loss",
        "train_accuracy",
        "penalty",
        "val_loss",
        "val_accuracy",
        "seconds",
    ]
    assert metrics["epoch"].tolist() == [1, 2, 3, 4, 5, 6]
    assert metrics["lr"].tolist() == pytest.approx([0.01] * 3 + [0.005] * 3)
    summary = json.loads((d / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert set(summary["test"]) == {"test_loss", "test_accuracy"}
    assert math.log(2) / 2 < summary["initial_loss"] < 3 * math.log(2)  # deck 002: of the order of ln C
    # the resolved config repeats the run: every default is filled in
    resolved = yaml.safe_load((d / "config.yaml").read_text())
    assert resolved["loss"] == "cross_entropy" and resolved["model"]["output"] == "softmax"
    assert resolved["model"]["initializer"] == "he_normal"
    tensors, meta = load_checkpoint(d / "checkpoints" / "last.safetensors")
    assert meta["epoch"] == 6 and len(meta["metrics"]) == 6
    assert tensors["model.layers.0.W"].shape == (2, 16) and tensors["model.layers.0.W"].dtype == np.float32


def test_no_files_written_twice_in_one_folder(runs_dir):
    a = train(parse_config(MOONS), runs_dir).run_dir
    b = train(parse_config(MOONS), runs_dir).run_dir
    assert a != b


def _weights(run_dir):
    return subset(load_checkpoint(run_dir / "checkpoints" / "last.safetensors")[0], "model")


def test_same_seed_same_run_other_seed_other_weights(runs_dir):
    a = train(parse_config(MOONS), runs_dir).run_dir
    b = train(parse_config(MOONS), runs_dir).run_dir
    c = train(parse_config(MOONS, seed=1), runs_dir).run_dir
    ma, mb = pd.read_csv(a / "metrics.csv"), pd.read_csv(b / "metrics.csv")
    pd.testing.assert_frame_equal(ma.drop(columns="seconds"), mb.drop(columns="seconds"))
    wa, wb, wc = _weights(a), _weights(b), _weights(c)
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    assert not np.array_equal(wa["layers.0.W"], wc["layers.0.W"])


def test_resolved_config_repeats_the_run_exactly(runs_dir):
    a = train(parse_config(MOONS), runs_dir).run_dir
    b = train(load_config(a / "config.yaml"), runs_dir).run_dir
    wa, wb = _weights(a), _weights(b)
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)


def test_float64_switches_the_whole_run(runs_dir):
    d = train(parse_config(MOONS + "dtype: float64\n"), runs_dir).run_dir
    assert _weights(d)["layers.0.W"].dtype == np.float64


def test_early_stopping_restores_best(runs_dir):
    cfg = parse_config(
        MOONS, ["training.epochs=200", "optimizer.lr=0.05", "training.early_stopping={monitor: val_loss, patience: 3}"]
    )
    result = train(cfg, runs_dir)
    assert result.status == "stopped_early"
    best = result.summary["best"]
    assert result.summary["epochs"] == best["epoch"] + 3
    # restore_best: the test metrics come from the best weights, which best.safetensors holds
    best_w = subset(load_checkpoint(result.run_dir / "checkpoints" / "best.safetensors")[0], "model")
    assert best_w["layers.0.W"].shape == (2, 16)


def test_divergence_stops_with_status_and_advice(runs_dir):
    cfg = parse_config(
        "data: {name: sine}\nmodel: {hidden: [16]}\noptimizer: {name: sgd, lr: 1.0e+6}\n"
        "training: {epochs: 5, batch_size: 8}"
    )
    result = train(cfg, runs_dir)
    assert result.status == "diverged"
    assert "lower learning rate" in result.summary["reason"] and "epoch 1, batch" in result.summary["reason"]


def test_batch_size_one_and_full(runs_dir):
    for bs in (1, "full"):
        cfg = parse_config(
            "data: {name: xor}\nmodel: {hidden: [4], activation: tanh}\n"
            f"optimizer: {{name: sgd, lr: 0.5}}\ntraining: {{epochs: 3, batch_size: {bs}}}"
        )
        assert train(cfg, runs_dir).status == "completed"


def test_overfit_twenty_examples(runs_dir):
    cfg = parse_config(
        "data: {name: spirals, n_samples: 600}\nmodel: {hidden: [64, 64]}\n"
        "optimizer: {name: adam, lr: 0.01}\ntraining: {epochs: 150, batch_size: 20}"
    )
    result = train(cfg, runs_dir, overfit=20)
    assert result.summary["examples"]["train"] == 20
    assert result.summary["final"]["train_accuracy"] == 1.0
    assert result.summary["overfit"] == {"examples": 20, "train_accuracy": 1.0, "fitted": True}


def test_overfit_takes_every_class_and_says_whether_the_model_fit(runs_dir, cli):
    # iris is sorted by species: its first rows are all one class, a check that tests nothing
    rows = nnlab.build("data: {name: iris}\nmodel: {hidden: [8]}\n", overfit=9).splits.y_train
    assert sorted(np.bincount(rows)) == [3, 3, 3]
    again = nnlab.build("data: {name: iris}\nmodel: {hidden: [8]}\n", overfit=9).splits.y_train
    assert np.array_equal(rows, again)  # seeded
    ok = cli("train", CONFIGS / "moons.yaml", "--overfit", "12", "--epochs", "150", "--runs-dir", runs_dir)
    assert ok.exit_code == 0 and "overfit check passed: the model fits its 12 examples" in ok.output
    bad = cli("train", CONFIGS / "moons.yaml", "--overfit", "12", "--epochs", "1", "-o", "optimizer.lr=0.00001",
              "--runs-dir", runs_dir)
    assert bad.exit_code == 0 and "overfit check failed" in bad.output


def test_tol_stops_when_weights_stop_moving(runs_dir):
    cfg = parse_config(
        "data: {name: blobs}\nmodel: {hidden: []}\noptimizer: {name: sgd, lr: 0.1}\n"
        "schedule: {name: exponential, k: 1.0}\ntraining: {epochs: 200, batch_size: full, tol: 1.0e-4}"
    )
    result = train(cfg, runs_dir)
    assert result.status == "converged"
    assert result.summary["epochs"] < 200


def test_atomic_write_replaces_whole_files_with_the_usual_permissions(tmp_path):
    import os
    import stat

    from nnlab.runs.folder import atomic_write

    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "f.txt", "one")
        atomic_write(tmp_path / "f.txt", "two")
    finally:
        os.umask(old)
    assert (tmp_path / "f.txt").read_text() == "two"
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]  # no temporary left behind
