"""Which loss fits which output, and what backpropagation can train through: one answer, asked of a config
before anything is computed and of a built network before it trains, in the same words."""

import pytest

from nnlab import registry
from nnlab.architecture import check_loss_fits
from nnlab.config import parse_config
from nnlab.errors import ConfigError
from nnlab.network import Network

LAYERS = "data: {{name: xor}}\nmodel:\n  layers:\n{layers}\n"


def _layers_config(*activations, loss=None):
    rows = []
    for act in activations[:-1]:
        rows += ["    - {type: dense, units: 4}", f"    - {{type: activation, activation: {act}}}"]
    rows += ["    - {type: dense, units: auto}", f"    - {{type: activation, activation: {activations[-1]}}}"]
    return LAYERS.format(layers="\n".join(rows)) + (f"loss: {loss}\n" if loss else "")


def _network(*activations):
    layers = []
    for act in activations[:-1]:
        layers += [
            registry.build("layer", {"name": "dense", "units": 4}),
            registry.build("layer", {"name": "activation", "activation": act}),
        ]
    layers += [
        registry.build("layer", {"name": "dense", "units": 2}),
        registry.build("layer", {"name": "activation", "activation": activations[-1]}),
    ]
    return Network(layers, 2)


def _config_error(text):
    with pytest.raises(ConfigError) as e:
        parse_config(text)
    return str(e.value)


def _network_error(net, loss, rule="backprop"):
    with pytest.raises(ConfigError) as e:
        check_loss_fits(net, registry.build("loss", loss), rule)
    return str(e.value)


def test_a_step_is_refused_in_the_same_words_by_the_config_and_the_network():
    by_config = _config_error(_layers_config("step", "softmax"))
    by_network = _network_error(_network("step", "softmax"), "cross_entropy")
    assert by_config.startswith("model.layers[1].activation: 'step' has a derivative that is zero almost everywhere")
    assert by_network.startswith("model (layer 1 in 2 → dense(4) → step → dense(2) → softmax): 'step' has")
    reason = by_network.split(": ", 1)[1]
    assert reason in by_config


def test_a_loss_without_its_output_is_refused_in_the_same_words_by_the_config_and_the_network():
    message = "loss 'cross_entropy' needs a softmax output, the model ends in tanh"
    assert message in _config_error(_layers_config("relu", "tanh", loss="cross_entropy"))
    assert message in _config_error("data: {name: moons}\nmodel: {hidden: [8], output: tanh}\nloss: cross_entropy")
    assert _network_error(_network("relu", "tanh"), "cross_entropy") == message


def test_the_mistake_count_is_refused_for_backprop_and_accepted_by_the_perceptron():
    assert _network_error(_network("identity"), "mistakes").startswith("loss: 'mistakes' is piecewise constant")
    check_loss_fits(_network("step"), registry.build("loss", "mistakes"), "perceptron")
    with pytest.raises(ConfigError, match="loss 'mistakes' needs a step or sign output, the model ends in sigmoid"):
        check_loss_fits(_network("sigmoid"), registry.build("loss", "mistakes"), "perceptron")


def test_an_unknown_activation_in_the_layers_names_its_place():
    assert _config_error(_layers_config("relux", "softmax")).startswith(
        "model.layers[1].activation: unknown activation 'relux' — did you mean 'relu'?"
    )


def test_a_network_ending_without_an_activation_is_named_by_its_last_layer():
    net = Network([registry.build("layer", {"name": "dense", "units": 2})], 2)
    assert (
        _network_error(net, "cross_entropy")
        == "loss 'cross_entropy' needs a softmax output, the model ends in dense(2)"
    )
