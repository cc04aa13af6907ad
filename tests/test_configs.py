"""Every config in configs/ runs, and the ones with a target reach it."""

import json
from pathlib import Path

import pytest

from nnlab.config import load_config
from nnlab.training import train

ROOT = Path(__file__).parent.parent / "configs"
CONFIGS = sorted(p for p in ROOT.rglob("*.yaml") if p.parent.name != "sweeps")  # sweep files: test_sweep.py

# config (relative to configs/) → (metric of the final epoch, the best epoch or the test split, minimum)
TARGETS = {
    "xor.yaml": ("train_accuracy", 1.0),
    "moons.yaml": ("val_accuracy", 0.97),
    "spirals.yaml": ("val_accuracy", 0.95),
    "sine.yaml": ("val_r2", 0.98),
    "catalogue/layers_mix.yaml": ("val_accuracy", 0.97),
    "catalogue/hinge_blobs.yaml": ("val_accuracy", 0.95),
    "catalogue/bce_circles.yaml": ("val_accuracy", 0.97),
    "catalogue/huber_sine.yaml": ("val_r2", 0.98),
    "catalogue/sse_sine.yaml": ("val_r2", 0.98),
    "catalogue/max_error_sine.yaml": ("val_r2", 0.95),
    "lectures/init_xavier.yaml": ("val_accuracy", 0.7),  # the collapsed N(0, 0.01) network stays at 0.1
    "lectures/init_batchnorm.yaml": ("val_accuracy", 0.7),
}

# configs whose full run takes minutes: the every-config check runs them on a subset
SUBSET = ["data.limit=2000", "data.test_limit=500"]
SHORTENED = {name: SUBSET for name in ("fashion_mnist.yaml", "fashion_mnist_fast.yaml", "fashion_mnist_best.yaml")}


def _metrics(summary: dict) -> dict:
    return {**summary["final"], **(summary["best"] or {}).get("metrics", {}), **summary["test"]}


def _rel(p):
    return str(p.relative_to(ROOT))


@pytest.mark.parametrize("path", [p for p in CONFIGS if _rel(p) in TARGETS], ids=_rel)
def test_config_reaches_its_target(path, runs_dir):
    result = train(load_config(path), runs_dir)
    metric, minimum = TARGETS[_rel(path)]
    values = _metrics(result.summary)
    assert result.status in ("completed", "stopped_early")
    assert values[metric] >= minimum, (metric, values[metric])


#: deck 002's N(0, 0.01) tanh stack: its gradients vanish, which the run says
WARNS = {"init_normal.yaml": "vanishing gradients"}


@pytest.mark.parametrize("path", CONFIGS, ids=_rel)
def test_every_config_runs(path, runs_dir, request):
    if path.name.startswith("fashion_mnist"):
        request.getfixturevalue("fashion_mnist_available")
    cfg = load_config(path, ["training.epochs=2", *SHORTENED.get(path.name, [])])
    if path.name in WARNS:  # the config is there to show what the warning says
        with pytest.warns(UserWarning, match=WARNS[path.name]):
            result = train(cfg, runs_dir)
    else:
        result = train(cfg, runs_dir)
    assert result.status in ("completed", "stopped_early", "converged")
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["epochs"] >= 1


@pytest.mark.slow  # the full run: about two minutes on two cores
def test_fashion_mnist_reaches_90_percent(runs_dir, fashion_mnist_available):
    result = train(load_config(Path(__file__).parent.parent / "configs" / "fashion_mnist.yaml"), runs_dir)
    assert result.summary["test"]["test_accuracy"] >= 0.90, result.summary["test"]


@pytest.mark.slow  # five epochs of the full data: seconds on a quiet machine (its time: benchmarks/fashion_fast.py)
def test_fashion_mnist_fast_reaches_89_percent(runs_dir, fashion_mnist_available):
    result = train(load_config(ROOT / "fashion_mnist_fast.yaml"), runs_dir)
    assert result.summary["test"]["test_accuracy"] >= 0.89, result.summary["test"]


@pytest.mark.slow  # three runs each: about a minute for digits, seconds for iris
@pytest.mark.parametrize(("name", "minimum"), [("digits.yaml", 0.98), ("iris.yaml", 0.96)])
def test_small_image_and_tabular_configs_reach_their_targets_over_three_seeds(name, minimum, runs_dir):
    """The README's figures: seeds 0-2, each with its own stratified split, the mean test accuracy at the target."""
    accuracies = [
        train(load_config(ROOT / name, [f"seed={seed}"]), runs_dir).summary["test"]["test_accuracy"]
        for seed in (0, 1, 2)
    ]
    assert sum(accuracies) / 3 >= minimum, accuracies
