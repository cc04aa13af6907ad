"""One answer to "is a higher value of this metric better?", asked by early stopping, the best checkpoint,
reduce-on-plateau, sweeps and ``nnlab runs --sort`` (three copies of the question once disagreed on
``weight_change`` and ``train_f1``)."""

import pytest

from nnlab import registry
from nnlab.metrics import improves, metric_mode
from nnlab.runs.listing import sort_runs
from nnlab.sweep.space import SweepConfig
from nnlab.training.callbacks import EarlyStopping

CASES = {
    "val_loss": "min",
    "train_loss": "min",
    "val_accuracy": "max",
    "train_accuracy": "max",
    "train_f1": "max",
    "macro_f1": "max",
    "test_r2": "max",
    "val_mse": "min",
    "val_mae": "min",
    "weight_change": "min",
    "penalty": "min",
}


@pytest.mark.parametrize("metric, mode", CASES.items())
def test_every_user_of_a_metric_agrees_on_its_direction(metric, mode):
    assert metric_mode(metric) == mode
    assert EarlyStopping(metric).mode == mode
    assert registry.build("schedule", {"name": "reduce_on_plateau", "monitor": metric}).mode == mode
    sweep = SweepConfig.model_validate({"base": {}, "metric": metric, "parameters": {"seed": {"values": [1, 2]}}})
    assert sweep.mode == mode


def test_runs_sort_puts_the_better_value_first():
    rows = [{"name": "a", "val_accuracy": 0.8, "val_loss": 0.2}, {"name": "b", "val_accuracy": 0.9, "val_loss": 0.4}]
    assert [r["name"] for r in sort_runs(rows, "val_accuracy")] == ["b", "a"]
    assert [r["name"] for r in sort_runs(rows, "val_loss")] == ["a", "b"]


def test_an_explicit_mode_wins_and_improvement_respects_min_delta():
    assert metric_mode("val_accuracy", "min") == "min"
    assert improves(0.5, None, "min") and not improves(float("nan"), None, "min")
    assert improves(0.80, 0.85, "min", min_delta=0.01) and not improves(0.845, 0.85, "min", min_delta=0.01)
    assert improves(0.9, 0.85, "max") and not improves(0.85, 0.85, "max")
