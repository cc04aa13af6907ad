import math

import numpy as np
import pytest

from nnlab import registry
from nnlab.architecture import build_layers, resolve
from nnlab.config import parse_config
from nnlab.network import Network

N_IN, N_OUT = 1000, 1000
VARIANCE = {
    "normal": 0.01**2,
    "uniform": 0.05**2 / 3,
    "xavier_normal": 2 / (N_IN + N_OUT),
    "xavier_uniform": 6 / (N_IN + N_OUT) / 3,
    "xavier_uniform_logistic": 16 * 6 / (N_IN + N_OUT) / 3,
    "lecun_normal": 1 / N_IN,
    "lecun_uniform": 1 / N_IN / 3,
    "he_normal": 2 / N_IN,
    "he_uniform": 6 / N_IN / 3,
}


@pytest.mark.parametrize("name", sorted(VARIANCE))
def test_sample_variance_matches_formula(name):
    w = registry.build("initializer", name)((N_IN, N_OUT), N_IN, N_OUT, np.random.default_rng(0), np.float64)
    assert w.var() == pytest.approx(VARIANCE[name], rel=0.02)
    assert abs(w.mean()) < 3 * math.sqrt(VARIANCE[name] / w.size) + 1e-12


def test_every_random_initializer_has_a_variance_test():
    random_ones = {n for n in registry.names("initializer") if not registry.build("initializer", n).symmetric}
    assert random_ones <= set(VARIANCE)


def test_constant_and_zeros_are_symmetric():
    assert registry.build("initializer", "zeros").symmetric
    w = registry.build("initializer", {"name": "constant", "value": 0.3})((3, 2), 3, 2, None)
    assert np.all(w == np.float32(0.3)) and w.dtype == np.float32


# ----- the default initializer: one answer for the hidden form, the layers form and a bare layer -------------

HE = {"relu", "leaky_relu", "elu", "softplus", "silu", "gelu"}  # the ReLU family; the others get Xavier


@pytest.mark.parametrize("activation", registry.names("activation"))
def test_the_default_initializer_follows_the_activation_in_both_forms(activation):
    expected = "he_normal" if activation in HE else "xavier_normal"
    layers = build_layers(
        [
            {"type": "dense", "units": 4},
            {"type": "batchnorm"},
            {"type": "dropout", "rate": 0.1},
            {"type": "activation", "activation": activation},
            {"type": "dense", "units": 2},
        ]
    )
    assert layers[0].initializer == expected
    assert layers[-1].initializer == "xavier_normal"  # nothing after it: Xavier
    if registry.build("activation", activation).differentiable:
        cfg = parse_config(f"data: {{name: moons}}\nmodel: {{hidden: [4], activation: {activation}}}")
        assert resolve(cfg, "classification").model.initializer == expected


def test_prelu_and_maxout_layers_get_the_default_of_what_follows():
    layers = build_layers(
        [
            {"type": "dense", "units": 4},
            {"type": "prelu"},
            {"type": "maxout", "units": 3, "pieces": 2},
            {"type": "activation", "activation": "tanh"},
        ]
    )
    assert [layers[0].initializer, layers[2].initializer] == ["he_normal", "xavier_normal"]


def test_a_dense_layer_built_alone_starts_from_xavier():
    dense = registry.build("layer", {"name": "dense", "units": 1000})
    Network([dense], 1000, np.float64)
    assert dense.params["W"].var() == pytest.approx(VARIANCE["xavier_normal"], rel=0.02)
