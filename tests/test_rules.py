"""The single-neuron rules of decks 000 and 002 (training.rule: perceptron | adaline) and configs/classic/."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from nnlab import registry
from nnlab.architecture import build_network, output_units
from nnlab.cli import main
from nnlab.components.layers import ActivationLayer, Dense
from nnlab.config import load_config, parse_config
from nnlab.data.core import load_splits
from nnlab.errors import ConfigError
from nnlab.network import Network
from nnlab.runs.checkpoint import load_checkpoint, subset
from nnlab.training import train
from nnlab.training.rules import SingleLayerRule

CLASSIC = Path(__file__).parent.parent / "configs" / "classic"
TABLE = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
TRUTH = {"and": [0, 0, 0, 1], "or": [0, 1, 1, 1], "xor": [0, 1, 1, 0]}


def _unit(w, b, output="step"):
    """One step (or sign) unit with weights w and bias b, in float64."""
    net = Network([Dense(1, initializer="zeros"), ActivationLayer(output)], 2, np.float64)
    net.layers[0].params["W"][:, 0] = w
    net.layers[0].params["b"][0] = b
    return net


def _perceptron_step(net, x, d, alpha, bipolar=False):
    """One step of the rule exactly as the trainer takes it: the rule's grads, then plain SGD."""
    rule = SingleLayerRule(net, net.layers[0], bipolar)
    rule.learn(np.array([x], dtype=np.float64), np.array([d]), registry.build("loss", "mistakes"))
    registry.build("optimizer", {"name": "sgd", "lr": alpha}).step(net.params, net.grads, alpha)
    return net.layers[0].params["W"][:, 0].tolist(), float(net.layers[0].params["b"][0])


# ----- the rule by hand ----------------------------------------------------------------------------------


def test_one_perceptron_update_worked_by_hand():
    # deck 002: w_i(t+1) = w_i(t) + α (d − y(t)) x_i, and the bias as a weight on a constant input 1.
    # w = (0.5, −0.2), b = 0.1, α = 0.25, x = (1, 1), d = 0:
    #   z = 0.5 − 0.2 + 0.1 = 0.4 ≥ 0, so y = H(0.4) = 1 and d − y = −1
    #   w ← (0.5 − 0.25·1, −0.2 − 0.25·1) = (0.25, −0.45),  b ← 0.1 − 0.25 = −0.15
    net = _unit([0.5, -0.2], 0.1)
    w, b = _perceptron_step(net, [1, 1], 0, alpha=0.25)
    assert w == pytest.approx([0.25, -0.45]) and b == pytest.approx(-0.15)
    # now z = 0.25 − 0.45 − 0.15 = −0.35 < 0: y = 0 = d, and a right answer changes nothing
    assert _perceptron_step(net, [1, 1], 0, alpha=0.25) == (w, b)
    # x = (0, 1), d = 1: z = −0.45 − 0.15 = −0.6, y = 0, d − y = +1: only w₂ (x₂ = 1) and b move
    w, b = _perceptron_step(net, [0, 1], 1, alpha=0.25)
    assert w == pytest.approx([0.25, -0.2]) and b == pytest.approx(0.1)


def test_sign_unit_uses_bipolar_targets():
    # sign output, d ∈ {−1, +1}: class 0 is d = −1. w = (1, 0), b = 0, x = (1, 0): y = sign(1) = +1,
    # d − y = −2, so w ← (1 − 0.5·2, 0) = (0, 0) and b ← −1 with α = 0.5
    net = _unit([1, 0], 0.0, output="sign")
    w, b = _perceptron_step(net, [1, 0], 0, alpha=0.5, bipolar=True)
    assert w == pytest.approx([0, 0]) and b == pytest.approx(-1)


@pytest.mark.parametrize("name, w, b", [("and", [1, 1], -1.5), ("or", [1, 1], -0.5)])
def test_the_decks_solutions_are_fixed_points(name, w, b):
    # deck 000: AND is H(x₁ + x₂ − 1.5), OR is H(x₁ + x₂ − 0.5); the rule leaves a right unit alone
    net = _unit(w, b)
    for x, d in zip(TABLE, TRUTH[name]):
        assert _perceptron_step(net, x, d, alpha=1.0) == (pytest.approx(w), pytest.approx(b))


def test_mistakes_loss_counts_wrong_examples():
    loss = registry.build("loss", "mistakes")
    assert loss.value(np.array([[1.0], [0.0], [1.0], [0.0]]), np.array([1, 1, 0, 0])) == 0.5
    assert loss.value(np.array([[1.0], [-1.0]]), np.array([1, 0])) == 0.0  # sign outputs
    # one unit per class: an example is right only when its unit alone is on
    out = np.array([[1.0, 0, 0], [1, 1, 0], [0, 0, 0], [0, 0, 1]])
    assert loss.value(out, np.array([0, 0, 1, 2])) == 0.5
    assert not loss.differentiable


# ----- AND, OR, XOR -----------------------------------------------------------------------------------------


def _learnt(run_dir):
    tensors, meta = load_checkpoint(run_dir / "checkpoints" / "last.safetensors")
    model = subset(tensors, "model")
    return model["layers.0.W"][:, 0].astype(np.float64), float(model["layers.0.b"][0]), meta


@pytest.mark.parametrize("name", ["and", "or"])
def test_perceptron_learns_and_or_with_a_separating_line(name, runs_dir):
    result = train(load_config(CLASSIC / f"perceptron_{name}.yaml"), runs_dir)
    assert result.status == "converged"
    assert result.summary["epochs"] <= 6  # a few epochs
    assert result.summary["final"]["train_accuracy"] == 1.0
    assert "made no mistake" in result.summary["reason"]
    w, b, meta = _learnt(result.run_dir)
    for x, d in zip(TABLE, TRUTH[name]):
        assert int(w @ x + b >= 0) == d  # step(w·x + b) == d on every row of the truth table
    assert meta["data"]["n_outputs"] == 1 and w.shape == (2,)


def test_perceptron_and_follows_the_hand_trace(runs_dir):
    # configs/classic/perceptron_and.yaml works it out by hand: 2, 3, 3, 2, 1, 0 mistakes, then w = (2, 1), b = −3
    result = train(load_config(CLASSIC / "perceptron_and.yaml"), runs_dir)
    metrics = pd.read_csv(result.run_dir / "metrics.csv")
    assert (metrics["train_loss"] * 4).round().astype(int).tolist() == [2, 3, 3, 2, 1, 0]
    w, b, _ = _learnt(result.run_dir)
    assert w.tolist() == [2, 1] and b == -3
    assert "w = [2, 1], b = -3" in result.summary["reason"]


def test_perceptron_or_follows_the_hand_trace(runs_dir):
    result = train(load_config(CLASSIC / "perceptron_or.yaml"), runs_dir)
    metrics = pd.read_csv(result.run_dir / "metrics.csv")
    assert (metrics["train_loss"] * 4).round().astype(int).tolist() == [2, 2, 1, 0]
    w, b, _ = _learnt(result.run_dir)
    assert w.tolist() == [1, 1] and b == -1


@pytest.mark.parametrize("shuffle", [True, False])
def test_perceptron_never_learns_xor_and_says_why(shuffle, runs_dir):
    cfg = load_config(CLASSIC / "perceptron_xor.yaml", [f"training.shuffle={str(shuffle).lower()}"])
    result = train(cfg, runs_dir)
    assert result.status == "completed"
    assert result.summary["epochs"] == cfg.training.epochs
    metrics = pd.read_csv(result.run_dir / "metrics.csv")
    assert metrics["train_accuracy"].max() < 1.0  # never, in any epoch (a line gets at most 3 of 4 rows)
    assert "did not converge" in result.summary["reason"]
    assert "not linearly separable" in result.summary["reason"]
    w, b, _ = _learnt(result.run_dir)
    assert [int(w @ x + b >= 0) for x in TABLE] != TRUTH["xor"]
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert "not linearly separable" in summary["reason"]


def test_perceptron_xor_by_hand_cycles_after_two_epochs(runs_dir):
    # in the table's order from zero: epoch 1 ends at w = (−1, 0), b = −1; epochs 2 and 3 both end at
    # w = (−1, 0), b = 0 after 3 and 4 mistakes: the weights repeat, so the data cannot be separable
    cfg = load_config(CLASSIC / "perceptron_xor.yaml", ["training.shuffle=false", "training.epochs=5"])
    result = train(cfg, runs_dir)
    assert "the weights of epoch 3 repeat those of epoch 2 after 4 mistakes" in result.summary["reason"]


def test_xor_11_lines_learns_xor(runs_dir):
    result = train(load_config(CLASSIC / "xor_11_lines.yaml"), runs_dir)
    assert result.status == "completed"
    assert result.summary["final"]["train_accuracy"] == 1.0
    assert result.summary["model"] == "2 → dense(4) → sigmoid → dense(1) → sigmoid"
    assert result.summary["parameters"] == 3 * 4 + 4 * 1  # the deck's W0 (3, 4) and W1 (4, 1)
    out = _rebuilt(result.run_dir).predict(TABLE)[:, 0]
    assert ((out >= 0.5).astype(int) == TRUTH["xor"]).all()


def test_sigmoid_with_large_c_behaves_like_the_step(runs_dir):
    result = train(load_config(CLASSIC / "sigmoid_c.yaml"), runs_dir)
    assert result.status == "completed" and result.summary["final"]["train_accuracy"] == 1.0
    net = _rebuilt(result.run_dir)
    out = net.predict(TABLE)[:, 0]
    np.testing.assert_allclose(out, TRUTH["and"], atol=0.02)  # σ₁₀ answers almost exactly 0 or 1
    w, b = net.layers[0].params["W"][:, 0], float(net.layers[0].params["b"][0])
    assert [int(w @ x + b >= 0) for x in TABLE] == TRUTH["and"]  # the same weights through a step: AND
    assert -b / w.mean() == pytest.approx(1.5, abs=0.1)  # the line x₁ + x₂ ≈ 1.5 of deck 000


# ----- blobs: perceptron and ADALINE -----------------------------------------------------------------------


def test_perceptron_converges_on_separable_blobs(runs_dir):
    result = train(load_config(CLASSIC / "perceptron_blobs.yaml"), runs_dir)
    assert result.status == "converged"
    assert result.summary["epochs"] < 10
    assert result.summary["final"]["train_accuracy"] == 1.0
    assert result.summary["final"]["val_accuracy"] >= 0.95
    assert result.summary["test"]["test_accuracy"] >= 0.95


def test_perceptron_one_unit_per_class(runs_dir):
    cfg = load_config(CLASSIC / "perceptron_blobs.yaml", ["data.classes=3", "data.spread=4.0"])
    result = train(cfg, runs_dir)
    assert result.summary["model"] == "2 → dense(3) → step"
    assert result.status == "converged" and result.summary["final"]["val_accuracy"] >= 0.95


def test_perceptron_that_runs_out_of_epochs_says_so(runs_dir):
    cfg = load_config(CLASSIC / "perceptron_blobs.yaml", ["data.spread=1.0", "training.epochs=3"])
    result = train(cfg, runs_dir)
    assert result.status == "completed"
    assert "did not converge in 3 epochs" in result.summary["reason"]


def _adaline_losses(runs_dir, *overrides):
    cfg = load_config(CLASSIC / "adaline_blobs.yaml", ["dtype=float64", *overrides])
    result = train(cfg, runs_dir)
    assert result.status == "completed"
    return result, pd.read_csv(result.run_dir / "metrics.csv")["train_loss"].to_numpy()


def test_adaline_loss_decreases_every_epoch(runs_dir):
    result, loss = _adaline_losses(runs_dir)
    assert loss[0] == pytest.approx(0.5)  # w = 0: y = 0, the MSE is the mean of d² with half the d = 1
    assert np.all(np.diff(loss) <= 1e-12 * loss[:-1])  # monotone, down to round-off at the minimum
    assert np.all(np.diff(loss[:15]) < 0)  # and strictly, while it has somewhere to go
    assert loss[-1] < 0.05
    assert result.summary["final"]["val_accuracy"] >= 0.95 and result.summary["test"]["test_accuracy"] >= 0.95
    # per example (Widrow–Hoff's LMS) with a small μ as well, epoch by epoch while far from the minimum
    _, lms = _adaline_losses(runs_dir, "training.batch_size=1", "optimizer.lr=0.0005", "training.epochs=8")
    assert np.all(np.diff(lms) < 0)


def test_adaline_reaches_the_least_squares_solution(runs_dir):
    # full-batch delta rule = gradient descent on ½ Σ (d − y)²: its fixed point solves the normal equations
    result, _ = _adaline_losses(runs_dir, "training.epochs=200")
    cfg = load_config(result.run_dir / "config.yaml")
    splits, _ = load_splits(cfg.data, cfg.seed, np.float64)
    A = np.c_[splits.X_train, np.ones(len(splits.X_train))]
    solution = np.linalg.lstsq(A, splits.y_train.astype(np.float64), rcond=None)[0]
    w, b, _ = _learnt(result.run_dir)
    np.testing.assert_allclose(np.r_[w, b], solution, atol=1e-6)


def test_adaline_delta_rule_sums_over_the_batch():
    # deck 002: w ← w + μ Σᵢ (dᵢ − yᵢ) xᵢ. From w = 0, b = 0 (y = 0) with μ = 0.1 and rows x = (1, 2), d = 1
    # and x = (3, 0), d = 0:  w ← 0.1 · (1·(1, 2) + 0·(3, 0)) = (0.1, 0.2),  b ← 0.1 · (1 + 0) = 0.1
    net = Network([Dense(1, initializer="zeros"), ActivationLayer("identity")], 2, np.float64)
    rule = SingleLayerRule(net, net.layers[0], bipolar=False)
    value, _ = rule.learn(np.array([[1.0, 2.0], [3.0, 0.0]]), np.array([1, 0]), registry.build("loss", "mse"))
    assert value == pytest.approx(0.5)
    registry.build("optimizer", {"name": "sgd", "lr": 0.1}).step(net.params, net.grads, 0.1)
    np.testing.assert_allclose(net.layers[0].params["W"][:, 0], [0.1, 0.2])
    assert net.layers[0].params["b"][0] == pytest.approx(0.1)


def test_adaline_regression(runs_dir):
    # a linear unit on y = sin x: the delta rule finds the least-squares line (no threshold for regression)
    cfg = parse_config(
        "data: {name: sine, n_samples: 200}\nmodel: {hidden: []}\n"
        "optimizer: {name: sgd, lr: 0.01}\ntraining: {rule: adaline, epochs: 20}"
    )
    result = train(cfg, runs_dir)
    assert result.status == "completed" and result.summary["final"]["val_r2"] > 0.5


# ----- checkpoints: the same format as backprop runs ---------------------------------------------------------


def _rebuilt(run_dir):
    """The network of a run, rebuilt from its config.yaml and data as any run's (eval, predict) would be."""
    cfg = load_config(run_dir / "config.yaml")
    splits, _ = load_splits(cfg.data, cfg.seed, np.dtype(cfg.dtype))
    loss = registry.build("loss", cfg.loss)
    net = build_network(cfg, splits.n_features, output_units(loss, splits, cfg))
    tensors, _ = load_checkpoint(run_dir / "checkpoints" / "last.safetensors")
    net.load_state_dict(subset(tensors, "model"))
    return net


@pytest.mark.parametrize("name", ["perceptron_blobs", "adaline_blobs"])
def test_rule_runs_write_the_usual_run_folder(name, runs_dir):
    result = train(load_config(CLASSIC / f"{name}.yaml"), runs_dir)
    d = result.run_dir
    metrics = pd.read_csv(d / "metrics.csv")
    assert list(metrics.columns) == [
        "epoch",
        "lr",
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
        "seconds",
    ]
    assert (d / "checkpoints" / "best.safetensors").is_file()
    tensors, meta = load_checkpoint(d / "checkpoints" / "last.safetensors")
    assert set(subset(tensors, "model")) == {"layers.0.W", "layers.0.b"}
    assert meta["config"]["training"]["rule"] == name.split("_")[0]
    # the resolved config rebuilds the same network, and its predictions are the run's
    net = _rebuilt(d)
    cfg = load_config(d / "config.yaml")
    splits, _ = load_splits(cfg.data, cfg.seed, np.dtype(cfg.dtype))
    out = net.predict(splits.X_test)
    accuracy = float(np.mean((out[:, 0] >= 0.5).astype(int) == splits.y_test))
    assert accuracy == pytest.approx(result.summary["test"]["test_accuracy"])


@pytest.mark.parametrize("name", ["perceptron_and", "perceptron_blobs", "adaline_blobs"])
def test_eval_and_predict_read_rule_runs(name, runs_dir, tmp_path):
    result = train(load_config(CLASSIC / f"{name}.yaml"), runs_dir)
    cli = CliRunner()
    r = cli.invoke(main, ["eval", str(result.run_dir), "--split", "train", "-c", "last", "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["members"][0]["epoch"] == result.summary["epochs"]
    assert report["metrics"]["accuracy"] == pytest.approx(result.summary["final"]["train_accuracy"])
    rows = tmp_path / "rows.csv"
    pd.DataFrame(TABLE, columns=["x1", "x2"]).to_csv(rows, index=False)
    r = cli.invoke(main, ["predict", str(result.run_dir), str(rows), "-o", str(tmp_path / "out.csv")])
    assert r.exit_code == 0, r.output
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == ["x1", "x2", "prediction", "score_1"]  # one unit: the score of class 1
    assert ((out["score_1"] >= 0.5).astype(int) == out["prediction"]).all()
    if name == "perceptron_and":
        assert out["prediction"].tolist() == TRUTH["and"]


@pytest.mark.parametrize("name", ["perceptron_xor", "adaline_blobs"])
def test_rule_run_resumes_exactly(name, runs_dir):
    from nnlab.training.resuming import resume

    whole = train(load_config(CLASSIC / f"{name}.yaml", ["training.epochs=10"]), runs_dir / "a")
    half = train(load_config(CLASSIC / f"{name}.yaml", ["training.epochs=5"]), runs_dir / "b")
    again = resume(half.run_dir, epochs=10, handle_signals=False)
    assert again.status == whole.status and again.summary["epochs"] == 10
    a, b = (pd.read_csv(r.run_dir / "metrics.csv").drop(columns="seconds") for r in (whole, again))
    pd.testing.assert_frame_equal(a, b)
    wa, wb = _learnt(whole.run_dir)[:2], _learnt(again.run_dir)[:2]
    assert wa[0].tolist() == wb[0].tolist() and wa[1] == wb[1]
    if name == "perceptron_xor":
        assert "did not converge in 10 epochs" in again.summary["reason"]


def test_rule_defaults_and_round_trip():
    c = parse_config("data: {name: and}\nmodel: {hidden: []}\ntraining: {rule: perceptron}")
    assert c.optimizer == {"name": "sgd", "lr": 1.0} and c.loss == "mistakes"
    assert c.training.batch_size == 1 and c.model.output_initializer == "zeros"
    assert parse_config(c.to_yaml()) == c
    # an override reaching into the optimizer starts from the rule's, not from the default adam
    c = parse_config("data: {name: and}\nmodel: {hidden: []}\ntraining: {rule: adaline}", ["optimizer.lr=0.5"])
    assert c.optimizer == {"name": "sgd", "lr": 0.5} and c.loss == "mse"


# ----- refused configs ----------------------------------------------------------------------------------------

PERCEPTRON = "data: {name: and}\nmodel: {hidden: []}\ntraining: {rule: perceptron}\n"


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["model.hidden=[4]"], "model.hidden: the perceptron rule trains a single layer"),
        (["model.hidden=[4]"], "a hidden unit has no target d"),
        (["model.output=sigmoid"], "model.output: the perceptron rule needs a step"),
        (["loss=bce"], "loss: the perceptron counts its mistakes"),
        (["optimizer={name: adam, lr: 0.1}"], "optimizer: the perceptron rule is its own update"),
        (["training.batch_size=4"], "training.batch_size: the perceptron rule updates the weights after every"),
        (["regularization={l2: 0.01}"], "regularization:"),
        (["training.rule=adaline", "model.hidden=[3]"], "model.hidden: ADALINE is a single layer of linear units"),
        (["training.rule=adaline", "model.output=sigmoid"], "model.output: ADALINE's delta rule needs a linear"),
        (["training.rule=backprop", "model.output=step", "loss=mse"], "model.output: 'step' has a derivative"),
        (["training.rule=backprop", "loss=mistakes"], "loss: 'mistakes' is piecewise constant"),
    ],
)
def test_rule_misfits_are_refused_with_a_reason(overrides, message):
    with pytest.raises(ConfigError) as e:
        parse_config(PERCEPTRON, overrides)
    assert message in str(e.value)


def test_backprop_through_a_step_in_explicit_layers_is_refused():
    with pytest.raises(ConfigError) as e:
        parse_config(
            "data: {name: xor}\nmodel:\n  layers:\n    - {type: dense, units: 4}\n"
            "    - {type: activation, activation: step}\n    - {type: dense, units: auto}\n"
            "    - {type: activation, activation: softmax}\n"
        )
    assert "model.layers[1].activation: 'step'" in str(e.value) and "{name: sigmoid, c: 10}" in str(e.value)


def test_perceptron_on_regression_data_is_refused(runs_dir):
    with pytest.raises(ConfigError, match="classification loss"):
        train(parse_config("data: {name: sine}\nmodel: {hidden: []}\ntraining: {rule: perceptron}"), runs_dir)


@pytest.mark.parametrize(
    "config, overrides, message",
    [
        ("perceptron_and.yaml", ["model.hidden=[4]"], "a hidden unit has no target d"),
        ("sigmoid_c.yaml", ["model.output=step", "loss=mse"], "zero almost everywhere"),
    ],
)
def test_cli_refuses_with_status_2_and_no_traceback(config, overrides, message, runs_dir):
    args = ["train", str(CLASSIC / config), "--runs-dir", str(runs_dir)]
    for o in overrides:
        args += ["-o", o]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_classic_configs_are_all_tested():
    names = {p.stem for p in CLASSIC.glob("*.yaml")}
    assert names == {
        "perceptron_and",
        "perceptron_or",
        "perceptron_xor",
        "perceptron_blobs",
        "adaline_blobs",
        "xor_11_lines",
        "sigmoid_c",
    }
    for p in CLASSIC.glob("*.yaml"):
        assert yaml.safe_load(p.read_text())["name"]
