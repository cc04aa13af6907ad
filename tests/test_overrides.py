"""``-o key.path=value`` as a user types it: paths into lists by index, and errors that blame the override
that set a value rather than the file's line."""

import json
from pathlib import Path

import pytest

from nnlab.config import parse_config

LAYERS = """data: {name: xor, split: {val: 0.0, test: 0.0}}
model:
  layers:
    - {type: dense, units: 4}
    - {type: activation, activation: tanh}
    - {type: dense, units: auto}
    - {type: activation, activation: softmax}
optimizer: {name: sgd, lr: 0.5}
training: {epochs: 2, batch_size: full}
"""

HIDDEN = "data: {name: xor}\nmodel: {hidden: [4, 4]}\n"


@pytest.fixture
def layers_yaml(tmp_path):
    path = tmp_path / "layers.yaml"
    path.write_text(LAYERS)
    return path


def _user_error(r, *fragments):
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    for f in fragments:
        assert f in r.output, (f, r.output)


# ----- paths into lists ----------------------------------------------------------------------------


def test_an_override_sets_a_layer_of_the_list_by_index(cli, layers_yaml, tmp_path):
    r = cli("train", layers_yaml, "--runs-dir", tmp_path / "runs", "--json", "-o", "model.layers.0.units=8")
    assert r.exit_code == 0, r.output
    config = parse_config((Path(json.loads(r.output)["run_dir"]) / "config.yaml").read_text())
    assert config.model.layers[0] == {"type": "dense", "units": 8}
    assert config.model.layers[2] == {"type": "dense", "units": "auto"}  # the others as the file has them


@pytest.mark.parametrize(
    "override, expected",
    [
        ("model.hidden.1=64", [4, 64]),
        ("model.hidden[0]=16", [16, 4]),
        ("model.hidden.0=1e1", [10, 4]),
    ],
)
def test_list_items_of_model_hidden(override, expected):
    assert parse_config(HIDDEN, [override]).model.hidden == expected


def test_the_bracket_form_reaches_into_a_layer():
    c = parse_config(LAYERS, ["model.layers[1].activation=relu", "model.layers[0].units=3"])
    assert c.model.layers[1]["activation"] == "relu" and c.model.layers[0]["units"] == 3


@pytest.mark.parametrize(
    "override, fragments",
    [
        ("model.layers.5.units=8", ["model.layers has 4 items; index 5 is out of range (indices 0 to 3)"]),
        ("model.layers.units=8", ["'model.layers' is a list of 4 items", "e.g. model.layers.0.units"]),
        ("model.layers.0.units.x=8", ["'model.layers.0.units' is 4, not a mapping"]),
        ("model.layers[x].units=8", ["is not a dotted key path"]),
        ("optimizer.lr.0=1", ["'optimizer.lr' is 0.5, not a list"]),
    ],
)
def test_a_bad_index_is_refused_without_dumping_the_list(cli, layers_yaml, tmp_path, override, fragments):
    r = cli("train", layers_yaml, "--runs-dir", tmp_path / "runs", "-o", override)
    _user_error(r, f"override '{override}'", *fragments)
    assert "'activation': 'softmax'" not in r.output  # the list itself is not printed


def test_an_index_into_a_list_the_config_does_not_have_says_to_give_it_whole():
    with pytest.raises(Exception, match="'model.hidden' is not set, so it has no item 0: give the whole list"):
        parse_config(LAYERS, ["model.hidden.0=4"])


# ----- which source an error blames ----------------------------------------------------------------


def test_an_error_from_an_override_names_the_override_not_the_line(cli, layers_yaml, tmp_path):
    r = cli("train", layers_yaml, "--runs-dir", tmp_path / "runs", "-o", "optimizer.lr=-1")
    _user_error(r, "optimizer.lr: must be > 0, got -1 (from -o optimizer.lr=-1)")
    assert "line" not in r.output


def test_an_error_from_the_file_still_names_its_line(cli, layers_yaml, tmp_path):
    layers_yaml.write_text(LAYERS.replace("lr: 0.5", "lr: -0.5"))
    r = cli("train", layers_yaml, "--runs-dir", tmp_path / "runs", "-o", "training.epochs=3")
    _user_error(r, "optimizer.lr: must be > 0, got -0.5", "layers.yaml, line 8)")
    assert "with -o" not in r.output and "from -o" not in r.output


def test_the_last_override_of_a_key_is_the_one_blamed(cli, layers_yaml, tmp_path):
    r = cli("train", layers_yaml, "--runs-dir", tmp_path / "runs", "-o", "optimizer.lr=0.1", "-o", "optimizer.lr=0")
    _user_error(r, "optimizer.lr: must be > 0, got 0 (from -o optimizer.lr=0)")


def test_an_override_of_a_whole_section_is_blamed_for_what_is_inside(cli, layers_yaml, tmp_path):
    r = cli("train", layers_yaml, "--runs-dir", tmp_path / "runs", "-o", "optimizer={name: adam, lr: -2}")
    _user_error(r, "optimizer.lr: must be > 0, got -2 (from -o optimizer={name: adam, lr: -2})")


def test_a_section_error_names_the_override_that_reached_inside_it(cli, layers_yaml, tmp_path):
    r = cli("train", layers_yaml, "--runs-dir", tmp_path / "runs", "-o", "optimizer.momentum=fast")
    _user_error(r, "optimizer:", "'momentum'", "layers.yaml, line 8, with -o optimizer.momentum=fast)")


def test_a_regularizer_error_from_an_override(cli, layers_yaml, tmp_path):
    r = cli("train", layers_yaml, "--runs-dir", tmp_path / "runs", "-o", "regularization.l2=-1e-4")
    _user_error(r, "regularization.l2: must be ≥ 0, got -0.0001 (from -o regularization.l2=-1e-4)")
    assert "lam" not in r.output
