"""A run folder written by an earlier nnlab (tests/fixtures/legacy-run, trained from tests/fixtures/legacy.yaml
before the training code was restructured) still loads, evaluates and resumes: the files of a run folder
are a format, not an implementation detail. legacy-run-5-epochs.csv is the metrics.csv that the same
earlier nnlab wrote for the same config trained 5 epochs without a stop."""

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
    assert _rows(run / "metrics.csv") == _rows(FIXTURES / "legacy-run-5-epochs.csv")
