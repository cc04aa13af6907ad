"""Numbers as Keras and Lightning users write them (``lr: 1e-3``) are numbers on every config surface: a config
file, an ``-o`` override, a sweep file and its base, and a run's config.yaml read again by ``--resume``.
PyYAML reads YAML 1.1, where ``1e-3`` is a string; nnlab reads YAML 1.2's floats."""

import json
from pathlib import Path

import pytest

from nnlab.config import parse_config

XOR = """
name: {name}
data: {{name: xor, split: {{val: 0.0, test: 0.0}}}}
model: {{hidden: [4], activation: tanh}}
optimizer: {{name: sgd, lr: {lr}, momentum: 0.9}}
regularization: {{l2: {l2}}}
training: {{epochs: 3, batch_size: full}}
"""


def _xor(tmp_path, name="xor", lr="0.5", l2="0.0"):
    path = tmp_path / "xor.yaml"
    path.write_text(XOR.format(name=name, lr=lr, l2=l2))
    return path


def _trained(cli, *args):
    r = cli("train", *args, "--json")
    assert r.exit_code == 0, r.output
    return Path(json.loads(r.output)["run_dir"])


@pytest.mark.parametrize(
    "text, value", [("1e-3", 1e-3), ("5E-4", 5e-4), ("1e+6", 1e6), ("-2.5e-4", -2.5e-4), ("2.5e4", 2.5e4)]
)
def test_exponents_without_a_dot_or_a_sign_are_floats_in_a_file_and_an_override(text, value):
    from_file = parse_config(f"data: {{name: moons, noise: {text}}}\nmodel: {{hidden: [2]}}")
    overridden = parse_config("data: {name: moons}\nmodel: {hidden: [2]}", [f"data.noise={text}"])
    for c in (from_file, overridden):
        noise = c.data.dataset_args()["noise"]
        assert noise == value and isinstance(noise, float)


def test_a_config_file_with_lr_1e_3_trains(cli, tmp_path):
    run = _trained(cli, _xor(tmp_path, lr="1e-3", l2="1E-4"), "--runs-dir", tmp_path / "runs")
    text = (run / "config.yaml").read_text()
    assert "lr: 0.001" in text and "l2: 0.0001" in text  # written back as before: plain decimal numbers


def test_an_override_with_lr_1e_3_trains(cli, tmp_path):
    run = _trained(cli, _xor(tmp_path), "--runs-dir", tmp_path / "runs", "-o", "optimizer.lr=1e-3")
    assert "lr: 0.001" in (run / "config.yaml").read_text()


def test_a_sweep_file_and_its_base_read_exponents_as_numbers(cli, tmp_path):
    _xor(tmp_path, lr="1e-3")
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        "base: xor.yaml\nmethod: grid\nmetric: train_loss\n"
        "parameters:\n  optimizer.lr: {values: [1e-2, 5E-3]}\n  regularization.l2: {values: [1e-4]}\n"
    )
    r = cli("sweep", sweep, "--runs-dir", tmp_path / "runs", "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert sorted(row["values"]["optimizer.lr"] for row in rows) == [5e-3, 1e-2]
    assert {row["status"] for row in rows} == {"completed"}


def test_a_quoted_number_stays_a_string_through_the_run_and_its_resume(cli, tmp_path):
    run = _trained(cli, _xor(tmp_path, name="'1e-3'"), "--runs-dir", tmp_path / "runs")
    assert run.name.startswith("1e-3-")
    assert "name: '1e-3'" in (run / "config.yaml").read_text()  # quoted, so that it reads back as a name
    r = cli("train", "--resume", run, "--epochs", "4")
    assert r.exit_code == 0, r.output
    assert parse_config("data: {name: xor}\nmodel: {hidden: [2]}", ["name='1e-3'"]).name == "1e-3"


def test_resume_reads_a_config_yaml_written_with_exponents(cli, tmp_path):
    run = _trained(cli, _xor(tmp_path), "--runs-dir", tmp_path / "runs")
    config = run / "config.yaml"
    config.write_text(config.read_text().replace("lr: 0.5", "lr: 5e-1"))  # the same value, written by hand
    r = cli("train", "--resume", run, "--epochs", "4")
    assert r.exit_code == 0, r.output
