"""The catalogue in use: sanity values of the decks, warnings and refusals, batch norm in checkpoints."""

import math

import numpy as np
import pytest
from click.testing import CliRunner

import nnlab
from nnlab.architecture import SymmetryWarning
from nnlab.cli import main
from nnlab.config import parse_config
from nnlab.errors import ConfigError
from nnlab.runs.checkpoint import load_checkpoint
from nnlab.training import train

TEN_CLASSES = "data: {name: blobs, classes: 10, n_samples: 1000, features: 8}\nmodel: {hidden: [32]}\n"


def test_fresh_ten_class_network_starts_near_ln_10(runs_dir):
    # deck 002's sanity check: with small weights every class gets ≈ 1/10, so the loss is ≈ ln 10 ≈ 2.30
    cfg = parse_config(TEN_CLASSES + "training: {epochs: 1}", ["model.output_initializer={name: normal, std: 0.001}"])
    result = train(cfg, runs_dir)
    assert result.summary["expected_initial_loss"] == pytest.approx(math.log(10))
    assert result.summary["initial_loss"] == pytest.approx(math.log(10), abs=0.01)


def test_weights_that_start_equal_warn_of_the_symmetry_problem(runs_dir):
    cfg = parse_config(TEN_CLASSES + "training: {epochs: 1}", ["model.initializer=zeros"])
    with pytest.warns(SymmetryWarning, match="symmetry problem"):
        nnlab.build(cfg)


def test_symmetric_hidden_units_stay_identical(runs_dir):
    cfg = parse_config(
        TEN_CLASSES + "training: {epochs: 3}\noptimizer: {name: sgd, lr: 0.1}",
        ["model.initializer={name: constant, value: 0.1}", "model.output_initializer={name: constant, value: 0.1}"],
    )
    with pytest.warns(SymmetryWarning):
        result = train(cfg, runs_dir)
    W = load_checkpoint(result.run_dir / "checkpoints" / "last.safetensors")[0]["model.layers.0.W"]
    # every hidden unit received the same gradient, so every column is still the same (deck 001)
    assert np.allclose(W, W[:, :1])


def test_step_in_the_layers_form_is_refused_with_the_reason(runs_dir):
    with pytest.raises(ConfigError, match="zero almost everywhere.*sigmoid, c: 10"):  # with the config, before data
        parse_config(
            "data: {name: and}\nmodel:\n  layers:\n    - {type: dense, units: 4}\n"
            "    - {type: activation, activation: step}\n    - {type: dense, units: auto}\n"
            "    - {type: activation, activation: softmax}\n"
        )


def test_bias_initializer_normal_deck_004(runs_dir):
    cfg = parse_config(
        "data: {name: moons}\nmodel: {hidden: [500], bias_initializer: {name: normal, std: 1.0}}\ntraining: {epochs: 1}"
    )
    b = nnlab.build(cfg).net.layers[0].params["b"]
    assert b.std() == pytest.approx(1.0, abs=0.1)


def test_batchnorm_running_statistics_are_checkpointed(runs_dir):
    cfg = parse_config("data: {name: moons}\nmodel: {hidden: [8], batchnorm: true}\ntraining: {epochs: 2}")
    result = train(cfg, runs_dir)
    tensors, _ = load_checkpoint(result.run_dir / "checkpoints" / "last.safetensors")
    assert {"model.layers.1.running_mean", "model.layers.1.running_var", "model.layers.1.gamma"} <= set(tensors)
    assert not np.allclose(tensors["model.layers.1.running_mean"], 0)


def test_components_table_lists_every_kind():
    r = CliRunner().invoke(main, ["components"], env={"COLUMNS": "250"})
    assert r.exit_code == 0
    for word in ("activation", "maxout", "xavier_uniform_logistic", "reduce_on_plateau", "max_norm", "hinge"):
        assert word in r.output
