"""What the gradients say: a finite loss far above its start ends a run as diverged (training.divergence),
summary.json's per-layer gradient norms and their warning, and training.diagnostics' metrics.csv columns."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import nnlab
from nnlab.config import parse_config
from nnlab.training import train

# a tanh network driven by a learning rate of 1e8: the loss goes to ~1e8 and stays finite
HUGE_LR = """
name: huge-lr
data: {name: moons, n_samples: 200, split: {val: 0.2, test: 0.2}}
model: {hidden: [16, 16], activation: tanh}
optimizer: {name: sgd, lr: 1.0e+8}
training: {epochs: 20}
"""

# full-batch XOR with plain SGD: one batch per epoch, ΔW = −lr ∂J/∂W exactly
XOR = """
data: {name: xor}
model: {hidden: [4], activation: tanh}
optimizer: {name: sgd, lr: 0.5}
training: {epochs: 1, batch_size: full, diagnostics: true}
"""


def _nnlab(args, cwd):
    return subprocess.run([sys.executable, "-m", "nnlab", *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.mark.slow
def test_a_huge_finite_loss_ends_diverged_through_the_cli_and_keeps_a_loadable_checkpoint(tmp_path):
    (tmp_path / "c.yaml").write_text(HUGE_LR)
    p = _nnlab(["train", "c.yaml", "--runs-dir", "runs"], tmp_path)
    assert p.returncode == 1, p.stderr
    error = [line for line in p.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "Traceback" not in p.stderr
    assert "above 100 × its initial loss" in error[0] and "at epoch 3" in error[0]
    assert "learning rate was 1e+08" in error[0] and "largest gradient norm seen" in error[0]
    assert "lower learning rate" in error[0] and "last good checkpoint" in error[0]
    (run,) = (tmp_path / "runs").iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["epochs"] == 3
    assert len(pd.read_csv(run / "metrics.csv")) == 3  # every epoch's row, the diverged ones too
    # no epoch was good: the initial weights are kept, never a diverged epoch's (not even as best)
    assert not (run / "checkpoints" / "best.safetensors").exists() and summary["best"] is None
    model = nnlab.load_run(run)  # by default: best, or last where no epoch was ever best (as nnlab eval)
    assert model.checkpoint.stem == "last"
    assert model.epoch == 0 and np.isfinite(model.predict_proba(np.zeros((3, 2)))).all()
    p = _nnlab(["eval", run], tmp_path)
    assert p.returncode == 0, p.stderr
    assert "(last, epoch 0)" in p.stdout


def test_with_the_rule_off_a_huge_finite_loss_goes_on_to_the_end(runs_dir):
    with pytest.warns(UserWarning, match="vanishing gradients"):  # its tanh units saturate: the warning says so
        result = train(parse_config(HUGE_LR, ["training.divergence=off", "training.epochs=5"]), runs_dir)
    assert result.status == "completed" and result.history[-1]["train_loss"] > 1e6


def test_the_last_good_epoch_is_kept_when_the_loss_blows_up_later(runs_dir):
    """Good epochs first, then a learning rate that explodes it: last and best stay at the last good epoch."""
    cfg = parse_config(
        HUGE_LR,
        [
            "optimizer.lr=0.05",
            "schedule={name: exponential, k: -2.3}",  # × 10 every epoch
            "training.divergence={factor: 10, patience: 2}",
            "training.save_interval=0",
        ],
    )
    result = train(cfg, runs_dir)
    assert result.status == "diverged", result.summary["reason"]
    history, epochs = result.history, result.summary["epochs"]
    bound = 10 * max(result.summary["initial_loss"], np.log(2))
    good = [r["epoch"] for r in history if r["train_loss"] <= bound]
    assert good and good[-1] == epochs - 2  # two epochs out of bounds in a row
    assert f"from epoch {epochs - 1}" in result.summary["reason"]
    assert f"The last good checkpoint (epoch {good[-1]})" in result.summary["reason"]
    kept = nnlab.load_run(result.run_dir, "last")
    assert kept.epoch == good[-1] and nnlab.load_run(result.run_dir).epoch <= good[-1]
    # the network the run returns is the kept one
    for name, w in result.network.named_params().items():
        assert np.array_equal(w, kept.net.named_params()[name])


def test_a_non_finite_loss_keeps_the_last_good_checkpoint_too(runs_dir):
    cfg = parse_config(
        "data: {name: sine}\nmodel: {hidden: [16]}\noptimizer: {name: sgd, lr: 1.0e+6}\n"
        "training: {epochs: 5, batch_size: 8}"
    )
    result = train(cfg, runs_dir)
    assert result.status == "diverged" and "epoch 1, batch" in result.summary["reason"]
    assert "initial weights" in result.summary["reason"]
    model = nnlab.load_run(result.run_dir, "last")
    assert all(np.isfinite(w).all() for w in model.net.named_params().values())


def test_divergence_settings(runs_dir):
    with pytest.warns(UserWarning, match="vanishing gradients"):  # saturated tanh units, as above
        quiet = train(parse_config(HUGE_LR, ["training.epochs=4", "training.divergence={factor: 1.0e+12}"]), runs_dir)
    assert quiet.status == "completed"
    with pytest.warns(UserWarning, match="vanishing gradients"):
        patient = train(parse_config(HUGE_LR, ["training.epochs=6", "training.divergence={patience: 5}"]), runs_dir)
    assert patient.status == "diverged" and patient.summary["epochs"] == 5


def test_diagnostics_columns_are_the_norms_of_the_networks_gradients(runs_dir):
    cfg = parse_config(XOR)
    exp = nnlab.build(cfg)  # the same initial weights, computed apart from the training loop
    s = exp.splits
    exp.net.loss_and_backward(s.X_train, s.y_train, exp.loss)
    (l1, _), (l2, _) = [(n, la) for n, la in enumerate(exp.net.layers) if "W" in la.params]
    grads = [exp.net.layers[i].grads["W"].astype(np.float64) for i in (l1, l2)]
    weights = [exp.net.layers[i].params["W"].astype(np.float64) for i in (l1, l2)]
    result = train(cfg, runs_dir)
    row = pd.read_csv(result.run_dir / "metrics.csv").iloc[0]
    assert [c for c in row.index if c.startswith(("grad_", "update_"))] == [
        "grad_norm_1",
        "grad_norm_2",
        "update_ratio_1",
        "update_ratio_2",
    ]
    for i, (g, w) in enumerate(zip(grads, weights), 1):
        assert row[f"grad_norm_{i}"] == pytest.approx(np.linalg.norm(g), rel=1e-5)
        assert row[f"update_ratio_{i}"] == pytest.approx(0.5 * np.linalg.norm(g) / np.linalg.norm(w), rel=1e-4)
        assert result.summary["gradients"]["grad_norm"][str(i)] == pytest.approx(np.linalg.norm(g), rel=1e-5)


def test_without_diagnostics_no_columns_but_the_summary_has_the_norms(runs_dir):
    result = train(parse_config(XOR, ["training.diagnostics=false", "training.epochs=3"]), runs_dir)
    columns = pd.read_csv(result.run_dir / "metrics.csv").columns
    assert not [c for c in columns if c.startswith(("grad_norm", "update_ratio"))]
    g = result.summary["gradients"]
    assert g["epoch"] == 3 and set(g["grad_norm"]) == {"1", "2"} and g["warning"] is None
    assert g["largest_norm"] > 0


def test_diagnostics_columns_mean_over_batches(runs_dir):
    cfg = parse_config(XOR, ["training.batch_size=2", "training.epochs=2"])
    history = train(cfg, runs_dir).history
    assert all(r["grad_norm_1"] > 0 and 0 < r["update_ratio_2"] < 1 for r in history)


def test_vanishing_gradients_warn_once_and_are_recorded(cli, tmp_path, monkeypatch):
    """Eight sigmoid layers (decks 000, 001): the first layers' gradients are 1/10 000 of the last's."""
    (tmp_path / "c.yaml").write_text(
        "data: {name: moons, n_samples: 200}\nmodel: {hidden: [16, 16, 16, 16, 16, 16, 16, 16], "
        "activation: sigmoid}\noptimizer: {name: sgd, lr: 0.1}\ntraining: {epochs: 2}\n"
    )
    monkeypatch.chdir(tmp_path)
    r = cli("train", "c.yaml", "--runs-dir", "runs", "-q")
    assert r.exit_code == 0, r.output
    warned = [line for line in r.stderr.splitlines() if "vanishing gradients" in line]
    assert len(warned) == 1 and warned[0].startswith("warning:") and "layer 1 (" in warned[0]
    (run,) = (tmp_path / "runs").iterdir()
    g = json.loads((run / "summary.json").read_text())["gradients"]
    assert g["warning"].startswith("vanishing gradients") and g["grad_norm"]["1"] < g["grad_norm"]["9"] / 1000
