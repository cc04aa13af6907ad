"""The library a notebook uses: nnlab.build, train, resume, gradcheck, and the objects they return."""

from pathlib import Path

import numpy as np
import pytest

import nnlab
from nnlab.errors import ConfigError

CONFIGS = Path(__file__).parent.parent / "configs"
XOR = {"data": {"name": "xor"}, "model": {"hidden": [4], "activation": "tanh"}, "dtype": "float64"}


def test_build_takes_a_dict_a_path_yaml_text_or_a_config():
    from_dict = nnlab.build(XOR)
    from_text = nnlab.build("data: {name: xor}\nmodel: {hidden: [4], activation: tanh}\ndtype: float64\n")
    from_path = nnlab.build(CONFIGS / "xor.yaml", ["dtype=float64", "model.hidden=[4]", "model.activation=tanh"])
    from_config = nnlab.build(from_dict.config)
    for exp in (from_text, from_path, from_config):
        for k, v in from_dict.net.named_params().items():  # the same seed, the same initial weights
            np.testing.assert_array_equal(exp.net.named_params()[k], v)
    assert from_dict.net.describe() == "2 → dense(4) → tanh → dense(2) → softmax"
    with pytest.raises(ConfigError, match="a config is"):
        nnlab.build(42)


def test_named_parameters_are_live_views_that_can_be_set():
    exp = nnlab.build(XOR)
    W = exp.net.named_params()["layers.0.W"]
    W[...] = 0.5
    assert np.all(exp.net.layers[0].params["W"] == 0.5) and np.all(exp.net.params["weights"][: W.size] == 0.5)


def test_train_returns_the_trained_network_and_its_initial_weights(runs_dir):
    start = nnlab.build(XOR).net.named_params()
    result = nnlab.train(XOR, runs_dir, overrides=["training.epochs=30", "optimizer.lr=0.05"])
    assert result.status == "completed"
    for k, v in start.items():
        np.testing.assert_array_equal(result.initial_params[k], v)
        assert not np.array_equal(result.network.named_params()[k], v)
    X, y = result.experiment.splits.X_train, result.experiment.splits.y_train
    probs = result.network.predict(X)
    assert probs.shape == (4, 2) and float(np.mean(probs.argmax(1) == y)) == result.history[-1]["train_accuracy"]
    more = nnlab.resume(result.run_dir, epochs=35)
    assert more.status == "completed" and len(more.history) == 35


def test_gradcheck_an_experiment_as_it_stands_and_leave_it_as_it_was():
    exp = nnlab.build(XOR)
    exp.net.named_params()["layers.0.W"][...] *= 3  # weights a notebook set
    grads = {k: g.copy() for k, g in exp.net.grads.items()}
    report = nnlab.gradcheck(exp)
    assert report.passed and {c.name for c in report.checks} >= {"layers.0.W", "layers.2.W", "input"}
    assert all(np.array_equal(g, exp.net.grads[k]) for k, g in grads.items())
    assert exp.net.layers[0].need_input_grad is False  # as the network had it
    with pytest.raises(ConfigError, match="need float64"):
        nnlab.gradcheck(nnlab.build({**XOR, "dtype": "float32"}))


def test_a_bare_import_reaches_the_registry_and_the_config():
    assert "adam" in nnlab.registry.names("optimizer")
    assert nnlab.load_config(CONFIGS / "xor.yaml").data.name == "xor"
