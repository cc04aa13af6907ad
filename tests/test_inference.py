"""nnlab.load_run and nnlab predict: a run folder used from Python and from the command line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nnlab
from nnlab.config import parse_config
from nnlab.errors import DataError
from nnlab.training import train

ROOT = Path(__file__).parent.parent

MOONS = """
name: moons-api
data: {name: moons, n_samples: 300, split: {val: 0.2, test: 0.2}, preprocess: standardize}
model: {hidden: [16, 16]}
optimizer: {name: adam, lr: 0.01}
training: {epochs: 15, batch_size: 32}
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A completed run (its network holds the last epoch's weights)."""
    result = train(parse_config(MOONS), tmp_path_factory.mktemp("runs"))
    assert result.status == "completed"
    return result


def grid():
    g = np.linspace(-1.5, 2.5, 23)
    return np.array([[a, b] for a in g for b in g[::2]])


def test_fresh_process_predicts_exactly_what_training_predicted(trained, tmp_path):
    X = grid()
    net, preprocessor = trained.network, trained.experiment.preprocessor
    expected = net.predict(preprocessor.transform(X, net.dtype))
    np.save(tmp_path / "X.npy", X)
    code = (
        "import sys, numpy as np, nnlab\n"
        "m = nnlab.load_run(sys.argv[1], checkpoint='last')\n"
        "X = np.load(sys.argv[2])\n"
        "np.save(sys.argv[3], m.predict_proba(X)); np.save(sys.argv[4], m.predict(X))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(trained.run_dir),
            str(tmp_path / "X.npy"),
            *(str(tmp_path / f) for f in ("p.npy", "c.npy")),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert p.returncode == 0, p.stderr
    proba, classes = np.load(tmp_path / "p.npy"), np.load(tmp_path / "c.npy")
    assert proba.dtype == expected.dtype and np.array_equal(proba, expected)  # bit for bit
    assert np.array_equal(classes, expected.argmax(axis=1))


def test_load_run_gives_config_metrics_summary(trained):
    model = nnlab.load_run(trained.run_dir)
    assert model.checkpoint.name == "best.safetensors"
    assert model.config.data.name == "moons" and model.config.model.output == "softmax"
    assert isinstance(model.metrics, pd.DataFrame) and model.metrics["epoch"].tolist() == list(range(1, 16))
    assert model.summary["status"] == "completed"
    assert model.class_names == ["0", "1"] and model.feature_names == ["x1", "x2"]
    assert model.epoch == model.summary["best"]["epoch"] and len(model.history) == model.epoch
    assert "moons-api" in repr(model)


def test_predict_takes_raw_features_lists_and_dataframes(trained):
    model = nnlab.load_run(trained.run_dir, "last")
    X = grid()[:7]
    proba = model.predict_proba(X)
    assert proba.shape == (7, 2) and np.allclose(proba.sum(axis=1), 1, atol=1e-6)
    assert np.array_equal(model.predict(X), proba.argmax(axis=1))
    assert np.array_equal(model.predict_proba(X.tolist()), proba)
    swapped = pd.DataFrame({"x2": X[:, 1], "x1": X[:, 0]})  # by name, in any order
    assert np.array_equal(model.predict_proba(swapped), proba)
    # the preprocessing is applied inside: standardised inputs give other answers
    assert not np.array_equal(model.predict_proba(model.transform(X)), proba)


@pytest.mark.parametrize(
    "X, message",
    [
        (np.zeros((3, 3)), "2 feature column(s)"),
        (np.zeros(2), "X.reshape(1, -1)"),
        ([[0.0, float("nan")]], "missing value (NaN at row 0, column 1)"),
        ([[0.0, float("inf")]], "infinite value (row 0, column 1: inf)"),
        ([["a", "b"]], "numbers only"),
        (pd.DataFrame({"x1": [0.0], "zz": [1.0]}), "missing column(s) 'x2'"),
    ],
)
def test_predict_rejects_bad_features(trained, X, message):
    with pytest.raises(DataError) as e:
        nnlab.load_run(trained.run_dir).predict(X)
    assert message in str(e.value)


def test_import_nnlab_stays_light():
    code = "import sys, nnlab; print(sorted(m for m in ('numpy', 'pandas', 'safetensors') if m in sys.modules))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout
    assert out.strip() == "[]"


def test_regression_run_predicts_values_and_refuses_probabilities(tmp_path):
    cfg = parse_config(
        "data: {name: sine, n_samples: 200}\nmodel: {hidden: [8], activation: tanh}\ntraining: {epochs: 3}"
    )
    run = train(cfg, tmp_path).run_dir
    model = nnlab.load_run(run)
    values = model.predict([[0.0], [1.0]])
    assert values.shape == (2, 1) and model.predict(np.array([0.0, 1.0])).shape == (2, 1)
    with pytest.raises(nnlab.errors.NnlabError, match="values"):
        model.predict_proba([[0.0]])


def test_bce_run_gives_two_probability_columns(tmp_path):
    cfg = parse_config(MOONS + "loss: bce\n", ["training.epochs=3"])
    model = nnlab.load_run(train(cfg, tmp_path).run_dir)
    assert model.n_outputs == 1
    proba = model.predict_proba(grid()[:5])
    assert proba.shape == (5, 2) and np.allclose(proba.sum(axis=1), 1)
    assert np.array_equal(model.predict(grid()[:5]), (proba[:, 1] >= 0.5).astype(int))


# ----- nnlab predict -------------------------------------------------------------------------------


def test_predict_command_writes_classes_and_probabilities(trained, tmp_path, cli):
    X = grid()[:12]
    src = tmp_path / "points.csv"
    pd.DataFrame(X, columns=["x1", "x2"]).to_csv(src, index=False)
    out = tmp_path / "pred.csv"
    r = cli("predict", trained.run_dir, src, "-o", out, "-c", "last")
    assert r.exit_code == 0, r.output
    assert "prediction" in r.output and f"wrote 12 predictions to {out}" in r.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["x1", "x2", "prediction", "prob_0", "prob_1"]
    model = nnlab.load_run(trained.run_dir, "last")
    assert frame["prediction"].tolist() == model.predict(X).tolist()
    assert np.allclose(frame[["prob_0", "prob_1"]].to_numpy(), model.predict_proba(X), atol=1e-7)


def test_predict_by_position_and_to_stdout(trained, tmp_path, cli):
    src = tmp_path / "noheader.csv"
    src.write_text("0.5,0.25\n1.5,-0.5\n")
    r = cli("predict", trained.run_dir, src, "-o", "-")
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "x1,x2,prediction,prob_0,prob_1" and len(lines) == 3
    named = tmp_path / "named.csv"
    named.write_text("a,b\n0.5,0.25\n1.5,-0.5\n")
    r2 = cli("predict", trained.run_dir, named)
    assert r2.exit_code == 0 and "matched by position" in r2.output


def test_predict_uses_class_names(tmp_path, cli):
    cfg = parse_config("data: {name: spirals, n_samples: 150}\nmodel: {hidden: [8]}\ntraining: {epochs: 2}")
    run = train(cfg, tmp_path / "runs").run_dir
    src = tmp_path / "p.csv"
    src.write_text("x1,x2\n0.1,0.2\n")
    r = cli("predict", run, src, "-o", "-")
    header, row = r.stdout.strip().splitlines()
    assert header == "x1,x2,prediction,prob_arm0,prob_arm1,prob_arm2"
    assert row.split(",")[2] in ("arm0", "arm1", "arm2")


def test_predict_help_has_an_example(cli):
    for command in ("predict", "eval", "runs", "plot"):
        r = cli(command, "--help")
        assert r.exit_code == 0 and "Example:" in r.output, command


def test_predict_json_free_of_run_changes(trained, tmp_path, cli):
    before = sorted(p.name for p in Path(trained.run_dir).rglob("*"))
    src = tmp_path / "p.csv"
    src.write_text("x1,x2\n0,0\n")
    assert cli("predict", trained.run_dir, src).exit_code == 0
    assert sorted(p.name for p in Path(trained.run_dir).rglob("*")) == before
    assert json.loads((Path(trained.run_dir) / "summary.json").read_text())["status"] == "completed"
