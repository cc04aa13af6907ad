"""A run folder written by an earlier nnlab (tests/fixtures/legacy-run, trained from tests/fixtures/legacy.yaml
before the training code was restructured) still loads, evaluates and resumes: the files of a run folder
are a format, not an implementation detail. legacy-run-5-epochs.csv is the metrics.csv that the same
earlier nnlab wrote for the same config trained 5 epochs without a stop.

Since then the arithmetic changed on purpose: batch norm sums by products with 1, and a dense layer's bias
before batch norm gets its exact gradient, 0, where round-off made Adam walk it by about lr a step (and the
running mean with it). So the resumed epochs match the earlier straight run in everything training computes
(the batches drawn, the learning rate, the train loss and penalty to float32 round-off), and the validation
loss to within that walk."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np

import nnlab

FIXTURES = Path(__file__).parent / "fixtures"


def _rows(path):
    with open(path) as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def test_legacy_run_loads_and_predicts():
    model = nnlab.load_run(FIXTURES / "legacy-run")
    assert model.epoch == 3
    assert model.predict_proba([[0.5, 0.2], [1.5, -0.3]]).shape == (2, 2)
    np.testing.assert_allclose(model.predict_proba([[0.5, 0.2]]).sum(axis=1), 1, rtol=1e-6)


def test_legacy_run_evaluates_to_its_own_test_figures(tmp_path, cli):
    run = shutil.copytree(FIXTURES / "legacy-run", tmp_path / "legacy-run")
    summary = json.loads((run / "summary.json").read_text())
    result = cli("eval", str(run), "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)["metrics"]
    assert metrics["loss"] == summary["test"]["test_loss"]
    assert metrics["accuracy"] == summary["test"]["test_accuracy"]


def test_legacy_run_resumes_as_if_never_stopped(tmp_path, cli):
    run = shutil.copytree(FIXTURES / "legacy-run", tmp_path / "legacy-run")
    result = cli("train", "--resume", str(run), "--epochs", "5", "-q")
    assert result.exit_code == 0, result.output
    resumed, straight = _rows(run / "metrics.csv"), _rows(FIXTURES / "legacy-run-5-epochs.csv")
    assert resumed[:3] == straight[:3]  # the earlier epochs, as written
    assert len(resumed) == len(straight) == 5
    for now, then in zip(resumed[3:], straight[3:]):
        for key in ("epoch", "lr", "train_accuracy", "val_accuracy"):
            assert now[key] == then[key], (now["epoch"], key)
        for key, rtol in (("train_loss", 1e-6), ("penalty", 1e-6), ("val_loss", 1e-2)):
            np.testing.assert_allclose(float(now[key]), float(then[key]), rtol=rtol, err_msg=f"{now['epoch']} {key}")
