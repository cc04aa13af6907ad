"""Cross-entropy with label smoothing: its values, its gradient (gradcheck) and its argument in configs."""

import json
import math

import numpy as np
import pytest

from nnlab.components.activations import Softmax
from nnlab.registry import registry


def test_values_of_smoothed_cross_entropy():
    eps, C = 0.1, 4
    loss = registry("loss").build({"name": "cross_entropy", "label_smoothing": eps})
    y = np.array([0, 3])
    uniform = np.full((2, C), 1 / C)
    assert loss.value(uniform, y) == pytest.approx(math.log(C))  # every target sums to 1
    q = np.full((2, C), eps / C)
    q[[0, 1], y] += 1 - eps
    entropy = -np.sum(q[0] * np.log(q[0]))
    assert loss.value(q, y) == pytest.approx(entropy)  # the smallest value: predicting q itself
    assert loss.value(q * 0.5 + uniform * 0.5, y) > entropy
    z = np.log(q)  # logits whose softmax is q: the fused gradient c (softmax − q)/m vanishes
    value, grad = loss.fused(z, y, Softmax())
    assert value == pytest.approx(entropy) and np.abs(grad).max() < 1e-12


def test_no_smoothing_is_the_plain_loss():
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(6, 5)), rng.integers(0, 5, 6)
    plain = registry("loss").build("cross_entropy")
    zero = registry("loss").build({"name": "cross_entropy", "label_smoothing": 0.0})
    a, b = plain.fused(z, y, Softmax()), zero.fused(z, y, Softmax())
    assert a[0] == b[0] and np.array_equal(a[1], b[1])


def test_gradcheck_passes_with_label_smoothing(cli, tmp_path):
    cfg = tmp_path / "ls.yaml"
    cfg.write_text(
        "data: {name: blobs, n_samples: 60, classes: 3, features: 4}\nmodel: {hidden: [6], batchnorm: true}\n"
        "loss: {name: cross_entropy, label_smoothing: 0.2}\n"
    )
    r = cli("gradcheck", cfg, "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["passed"] and {t["name"] for t in report["tensors"]} >= {"layers.0.W", "input"}


def test_bad_smoothing_is_a_config_error(cli, tmp_path):
    cfg = tmp_path / "ls.yaml"
    cfg.write_text("data: {name: xor}\nmodel: {hidden: [4]}\nloss: {name: cross_entropy, label_smoothing: 1.5}\n")
    r = cli("train", cfg, "--runs-dir", tmp_path / "runs")
    assert r.exit_code == 2 and "label_smoothing must be in [0, 1)" in r.output
