import subprocess
import sys

import pytest
import yaml

from nnlab.config import Config, apply_override, load_config, parse_config
from nnlab.errors import ConfigError

BASE = """
data: {name: moons, n_samples: 100}
model: {hidden: [8]}
"""


def test_defaults_are_filled():
    c = parse_config(BASE)
    assert c.seed == 0 and c.dtype == "float32"
    assert c.training.epochs == 20 and c.training.batch_size == 32
    assert c.optimizer == {"name": "adam", "lr": 0.001}
    assert c.data.split.val == 0.2
    assert c.data.dataset_args() == {"n_samples": 100}


def test_round_trip_load_dump_load_is_identity():
    c = parse_config(BASE, ["optimizer={name: sgd, lr: 0.1, momentum: 0.9}", "training.early_stopping={patience: 3}"])
    again = parse_config(c.to_yaml())
    assert again == c
    assert isinstance(yaml.safe_load(c.to_yaml()), dict)


def test_overrides_parse_values_as_yaml():
    c = parse_config(
        BASE, ["model.hidden=[64, 32]", "optimizer.lr=0.5", "training.batch_size=full", "data.noise=0.3", "seed=7"]
    )
    assert c.model.hidden == [64, 32]
    assert c.optimizer == {"name": "adam", "lr": 0.5}  # the default spec turned into a mapping
    assert c.training.batch_size == "full"
    assert c.data.dataset_args()["noise"] == 0.3
    assert c.seed == 7


def test_override_of_a_string_spec_turns_it_into_a_mapping():
    c = parse_config(BASE + "optimizer: sgd\n", ["optimizer.momentum=0.5"])
    assert c.optimizer == {"name": "sgd", "momentum": 0.5}


@pytest.mark.parametrize(
    "override, message",
    [
        ("training.epochz=3", "unknown key 'training.epochz' — did you mean 'epochs'?"),
        ("modle.hidden=[3]", "unknown key 'modle' — did you mean 'model'?"),
        ("noequals", "must look like key.path=value"),
        ("model.hidden.x=1", "not a mapping"),
    ],
)
def test_bad_overrides(override, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(BASE, [override])


@pytest.mark.parametrize(
    "text, message",
    [
        ("model: {hidden: [8]}", "data: is required"),
        ("data: {name: moons}\nmodel: {hidden: [8, -3]}", r"model.hidden\[1\]: must be a positive integer, got -3"),
        ("data: {name: moons}\nmodel: {hidden: [8], activation: relux}", "did you mean 'relu'"),
        ("data: {name: moons}\nmodel: {hidden: [8]}\noptimizer: {name: adamm}", "did you mean 'adam'"),
        (
            "data: {name: moons}\nmodel: {hidden: [8]}\noptimizer: {name: sgd, lr: -0.1}",
            "optimizer.lr: must be > 0, got -0.1",
        ),
        (
            "data: {name: moons}\nmodel: {hidden: [8]}\ntraining: {epochs: 0}",
            "training.epochs: must be ≥ 1, got 0",
        ),
        ("data: {name: moons}\nmodel: {hidden: [8]}\ntraining: {batch_size: half}", "training.batch_size"),
        ("data: {name: moonz}\nmodel: {hidden: [8]}", "did you mean 'moons'"),
        ("data: {name: moons, nois: 1}\nmodel: {hidden: [8]}", "no argument 'nois'"),
        ("data: {name: moons}\nmodel: {}", "give either hidden"),
        (
            "data: {name: moons}\nmodel: {hidden: [8], output: tanh}\nloss: cross_entropy",
            "loss 'cross_entropy' needs a softmax output, the model ends in tanh",
        ),
        ("data: {name: moons}\nmodel: {hidden: [8]}\nregularization: {l3: 0.1}", "unknown regularizer 'l3'"),
        ("data: {name: moons}\nmodel: {hidden: [8]}\nschedule: {name: step, evry: 3}", "no argument 'evry'"),
        ("data: {name: moons, preprocess: standardise}\nmodel: {hidden: [8]}", "did you mean 'standardize'"),
        ("data: {name: moons, split: {val: 0.6, test: 0.5}}\nmodel: {hidden: [8]}", "val \\+ test must be < 1"),
        ("- a\n- b", "a config is a mapping"),
        ("data: {name: moons\nmodel: 3", "malformed YAML"),
    ],
)
def test_validation_errors_name_the_place(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(text)


def test_errors_carry_file_and_line(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("data:\n  name: moons\nmodel:\n  hidden: [8]\n  activation: relux\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert "model.activation" in str(e.value) and "c.yaml, line 5" in str(e.value)


def test_missing_file():
    with pytest.raises(ConfigError, match="config file 'nope.yaml' not found"):
        load_config("nope.yaml")


def test_apply_override_creates_missing_optional_sections():
    raw = {"data": {"name": "xor"}, "model": {"hidden": [2]}}
    apply_override(raw, "training.early_stopping.patience=4")
    assert Config.model_validate(raw).training.early_stopping.patience == 4


def _imports_after(code: str) -> set[str]:
    """The nnlab modules a fresh interpreter holds after running ``code``."""
    show = "import sys; print(' '.join(m for m in sys.modules if m.startswith('nnlab')))"
    out = subprocess.run([sys.executable, "-c", f"{code}\n{show}"], check=True, capture_output=True, text=True)
    return set(out.stdout.split())


def test_the_config_loads_without_the_training_loop_and_the_rules_without_the_config():
    # imports flow one way: the schema asks the rules what they can train, the rules never ask the schema
    loaded = _imports_after(
        "from nnlab.config import parse_config\n"
        "parse_config('data: {name: and}\\nmodel: {hidden: []}\\ntraining: {rule: perceptron}')"
    )
    assert "nnlab.training.rules" in loaded
    assert not {"nnlab.training.loop", "nnlab.architecture", "nnlab.experiment"} & loaded
    assert not {
        m for m in _imports_after("import nnlab.training.rules") if m.startswith(("nnlab.config", "nnlab.arch"))
    }


@pytest.mark.parametrize(
    "regularization, message",
    [
        ("{l2: -1e-4}", "regularization.l2: must be ≥ 0, got -0.0001"),
        ("{weight_decay: -1}", "regularization.weight_decay: must be ≥ 0, got -1"),
        ("{l1: -0.5}", "regularization.l1: must be ≥ 0, got -0.5"),
        ("{elastic_net: -1}", "regularization.elastic_net: must be ≥ 0, got -1"),
        ("{max_norm: -3}", "regularization.max_norm: must be > 0, got -3"),
        ("{l2: lots}", "regularization.l2: must be a number or a mapping of its arguments (lam), got 'lots'"),
        ("{l2: {lam: -1}}", "regularization.l2: regularizer 'l2': lam must be ≥ 0, got -1"),  # the user wrote lam
    ],
)
def test_regularizer_errors_name_the_key_the_config_wrote(cli, tmp_path, regularization, message):
    path = tmp_path / "c.yaml"
    path.write_text(f"data: {{name: xor}}\nmodel: {{hidden: [2]}}\nregularization: {regularization}\n")
    r = cli("train", path, "--runs-dir", tmp_path / "runs")
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert f"{message} (" in r.output and "c.yaml, line 3)" in r.output, r.output
    if "lam:" not in regularization:  # never the constructor's argument the user did not write
        assert "argument '" not in r.output and "lam must" not in r.output and "c must" not in r.output
