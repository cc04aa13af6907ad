"""nnlab gradcheck: every config passes, a wrong backward is caught and named."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nnlab.cli import main
from nnlab.components.activations import Activation
from nnlab.config import load_config, parse_config
from nnlab.gradient_check import gradcheck, relative_errors
from nnlab.registry import REGISTRIES, register

ROOT = Path(__file__).parent.parent / "configs"
CONFIGS = sorted(p for p in ROOT.rglob("*.yaml") if p.parent.name != "sweeps")


def _backprop(path):
    return load_config(path).model_dump().get("training", {}).get("rule", "backprop") == "backprop"


def _param(path):
    """Fashion-MNIST's configs build 60 000 images in float64 and a wide network: minutes, so slow."""
    big = load_config(path).data.name == "fashion_mnist"
    return pytest.param(path, id=str(path.relative_to(ROOT)), marks=[pytest.mark.slow] if big else [])


@pytest.mark.parametrize("path", [_param(p) for p in CONFIGS if _backprop(p)])
def test_every_config_passes_gradcheck(path):
    r = CliRunner().invoke(main, ["gradcheck", str(path), "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["passed"] and report["tensors"][-1]["name"] == "input"
    assert all(t["checked"] > 0 for t in report["tensors"])


def test_truncation_error_is_told_from_a_wrong_backward():
    """Deck 002's N(0, 1) tanh network: at ε = 1e-5 the centred difference's truncation error fails the
    first layer; at a smaller step it passes, and the report says at which step."""
    report = gradcheck(load_config(ROOT / "lectures" / "init_normal_large.yaml"))
    assert report.passed
    judged = {c.name: c.eps for c in report.checks}
    assert judged["layers.0.W"] < report.eps and judged["layers.16.W"] == report.eps, judged


@pytest.fixture
def wrong_tanh():
    @register("activation", "test_wrong_tanh")
    class WrongTanh(Activation):
        """tanh with a backward that forgets the square: φ' = 1 − tanh z (wrong on purpose)."""

        def forward(self, z, out=None):
            return np.tanh(z, out=out)

        def backward(self, z, a, grad_a, out=None):
            return grad_a * (1 - a)

    yield
    REGISTRIES["activation"].unregister("test_wrong_tanh")


def test_a_wrong_backward_fails_and_is_named(tmp_path, wrong_tanh, monkeypatch):
    cfg = tmp_path / "wrong.yaml"
    cfg.write_text("data: {name: moons, n_samples: 100}\nmodel: {hidden: [6], activation: test_wrong_tanh}\n")
    r = CliRunner().invoke(main, ["gradcheck", str(cfg), "--json"])
    assert r.exit_code == 1
    report = json.loads(r.output)
    failing = {t["name"] for t in report["tensors"] if not t["passed"]}
    # the wrong derivative sits between layer 0 and layer 2: layer 0's parameters and the input are wrong,
    # the output layer's (computed before the error is applied) are right
    assert failing == {"layers.0.W", "layers.0.b", "input"}
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["gradcheck", "wrong.yaml"], env={"COLUMNS": "80"})
    assert r.exit_code == 1 and "layers.0.W" in r.output
    lines = [line.strip() for line in r.output.splitlines()]
    # at 80 columns the verdict heads the table and its settings, whole, sit under it
    assert lines[0] == "gradcheck wrong.yaml: FAIL" and max(len(line) for line in r.output.splitlines()) <= 80
    under = lines[next(i for i, line in enumerate(lines) if line.startswith("└")) + 1]
    assert re.fullmatch(r"\d+ examples, ε = 1e-05, tol = 1e-06, float64", under), lines


def test_dropout_regularisation_and_batchnorm_are_checked():
    cfg = parse_config(
        "data: {name: spirals, n_samples: 90}\n"
        "model: {hidden: [8, 8], dropout: 0.3, batchnorm: true, activation: tanh}\n"
        "regularization: {l2: 0.01, l1: 0.001}\n"
    )
    report = gradcheck(cfg, samples=12)
    assert report.passed, [(c.name, c.max_rel_error) for c in report.checks]
    names = [c.name for c in report.checks]
    assert "layers.1.gamma" in names and "layers.1.beta" in names


def test_bad_input_is_a_user_error(tmp_path):
    r = CliRunner().invoke(main, ["gradcheck", str(tmp_path / "none.yaml")])
    assert r.exit_code == 2 and "not found" in r.output
    r = CliRunner().invoke(main, ["gradcheck", str(ROOT / "moons.yaml"), "--samples", "0"])
    assert r.exit_code == 2 and "--samples" in r.output


def test_relative_error_formula():
    a, n = np.array([1.0, 0.0, 1e-20]), np.array([1.1, 0.0, 0.0])
    np.testing.assert_allclose(relative_errors(a, n), [0.1 / 2.1, 0.0, 1e-20 / 1e-12])
