"""nnlab inspect: each layer's statistics against a hand computation, deck 002's initialisation experiment
(the lecture configs), the network and optimizer left as they were, the JSON, the table and the figure."""

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

import nnlab
from nnlab.figures.histograms import inspection_figure

LECTURES = Path(__file__).parent.parent / "configs" / "lectures"

TINY = """
name: tiny
dtype: float64
data: {{name: blobs, n_samples: 60, classes: 3, features: 3, split: {{val: 0.2}}, preprocess: standardize}}
model:
  hidden: [5, 4]
  activation: {activation}
  initializer: {{name: normal, std: {std}}}
  bias_initializer: {bias}
optimizer: {{name: sgd, lr: 0.1}}
training: {{epochs: 1, batch_size: 8}}
"""


def _inspect_json(cli, path, *args) -> dict:
    result = cli("inspect", path, "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _by_hand(exp, x, y, phi, dphi):
    """Forward and backward of dense → φ → dense → φ → dense → softmax with cross-entropy, in NumPy."""
    p = exp.net.named_params()
    Ws = [p[k] for k in sorted(p) if k.endswith(".W")]
    bs = [p[k] for k in sorted(p) if k.endswith(".b")]
    a, zs, acts = x, [], []
    for i, (W, b) in enumerate(zip(Ws, bs)):
        z = a @ W + b
        if i == len(Ws) - 1:
            e = np.exp(z - z.max(1, keepdims=True))
            a = e / e.sum(1, keepdims=True)
        else:
            a = phi(z)
        zs.append(z)
        acts.append(a)
    m = len(x)
    dz = (acts[-1] - np.eye(Ws[-1].shape[1])[y]) / m
    grads = [None] * len(Ws)
    for i in reversed(range(len(Ws))):
        inputs = x if i == 0 else acts[i - 1]
        grads[i] = inputs.T @ dz
        if i:
            dz = (dz @ Ws[i].T) * dphi(zs[i - 1])
    loss = -np.mean(np.log(acts[-1][np.arange(m), y]))
    return Ws, zs, acts, grads, loss


@pytest.mark.parametrize(
    "activation, std, bias",
    [("tanh", 1.5, "zeros"), ("relu", 1.0, "{name: constant, value: -0.8}")],
    ids=["tanh", "relu"],
)
def test_statistics_match_a_hand_computation(cli, tmp_path, activation, std, bias):
    path = tmp_path / "c.yaml"
    path.write_text(TINY.format(activation=activation, std=std, bias=bias))
    report = _inspect_json(cli, path, "--samples", 20)
    exp = nnlab.build(path)
    x, y = exp.splits.X_train[:20], exp.splits.y_train[:20]
    if activation == "tanh":
        phi, dphi = np.tanh, lambda z: 1 - np.tanh(z) ** 2
    else:
        phi, dphi = (lambda z: np.maximum(z, 0)), (lambda z: (z > 0).astype(float))
    Ws, zs, acts, grads, loss = _by_hand(exp, x, y, phi, dphi)
    assert report["examples"] == 20 and report["loss"] == pytest.approx(loss, rel=1e-9)
    assert [la["number"] for la in report["layers"]] == [1, 2, 3]
    for la, z, a, W, g in zip(report["layers"], zs, acts, Ws, grads):
        assert la["pre_mean"] == pytest.approx(z.mean(), abs=1e-12)
        assert la["pre_std"] == pytest.approx(z.std(), rel=1e-9)
        assert la["act_mean"] == pytest.approx(a.mean(), abs=1e-12)
        assert la["act_std"] == pytest.approx(a.std(), rel=1e-9)
        assert la["grad_norm"] == pytest.approx(np.linalg.norm(g), rel=1e-9)
        # plain SGD: ΔW = −lr ∂J/∂W
        assert la["update_ratio"] == pytest.approx(0.1 * np.linalg.norm(g) / np.linalg.norm(W), rel=1e-9)
    hidden = report["layers"][:2]
    if activation == "tanh":
        for la, a in zip(hidden, acts):
            assert la["saturated"] == pytest.approx(np.mean(np.abs(a) >= 0.98))  # within 1 % of the range 2
            assert la["dead"] is None
        assert any(la["saturated"] > 0 for la in hidden)
    else:
        for la, z in zip(hidden, zs):
            assert la["dead"] == pytest.approx(np.mean((z <= 0).all(axis=0)))
            assert la["saturated"] is None
        assert any(la["dead"] > 0 for la in hidden)
    assert report["layers"][2]["saturated"] is None and report["layers"][2]["dead"] is None


def _layers(name: str) -> list[dict]:
    return nnlab.inspect(LECTURES / name).to_dict()["layers"][:-1]  # the hidden layers


def test_normal_001_collapses_the_signal_and_its_gradients():
    """Deck 002 says N(0, 0.01²) saturates the units; what the network does is the opposite: each layer
    multiplies the spread by about 0.01·√64, so the activations shrink towards 0 (none saturated) and the
    update ratios fall far below 1e-3."""
    layers = _layers("init_normal.yaml")
    stds = [la["act_std"] for la in layers]
    assert all(b < 0.15 * a for a, b in zip(stds, stds[1:]))  # shrinks by > 6× a layer
    assert stds[-1] < 1e-6
    assert all(la["saturated"] == 0 for la in layers)
    assert all(la["update_ratio"] < 1e-6 for la in layers)


def test_normal_1_saturates_the_units():
    """Weights far too large (N(0, 1)): this is deck 002's "almost all neurons saturate" picture."""
    layers = _layers("init_normal_large.yaml")
    assert all(la["saturated"] > 0.6 for la in layers)
    assert all(6 < la["pre_std"] < 9 for la in layers)  # about √50 to √64
    grads = [la["grad_norm"] for la in layers]
    # not zero: on its way back the large weights amplify the gradient more than tanh′ of saturated units damps it
    assert grads[0] > 50 * grads[-1]


def test_xavier_keeps_a_healthy_spread():
    layers = _layers("init_xavier.yaml")
    stds = [la["act_std"] for la in layers]
    assert all(0.2 < s < 0.7 for s in stds)
    assert stds[-1] > 0.4 * stds[0]
    assert all(la["saturated"] < 0.05 for la in layers)
    grads = [la["grad_norm"] for la in layers]
    assert max(grads) < 1.5 * min(grads)  # every layer learns at the same pace
    assert all(3e-4 < la["update_ratio"] < 3e-3 for la in layers)  # deck 002's 1e-3


def test_batchnorm_normalises_every_layer():
    layers = _layers("init_batchnorm.yaml")
    for la in layers:
        assert "batchnorm" in la["layers"]
        assert abs(la["pre_mean"]) < 1e-6
        assert la["pre_std"] == pytest.approx(1.0, abs=0.01)
        assert la["act_std"] > 0.5


def test_inspect_leaves_the_network_and_the_optimizer_as_they_were():
    exp = nnlab.build(
        {
            "data": {"name": "moons", "n_samples": 64},
            "model": {"hidden": [6, 6], "batchnorm": True, "dropout": 0.3},
            "optimizer": {"name": "adam", "lr": 0.01},
        }
    )
    for _ in range(3):
        exp.train_step(exp.splits.X_train[:16], exp.splits.y_train[:16], 0.01)
    before = {k: v.copy() for k, v in exp.net.state_dict().items()}
    opt = {k: v.copy() for k, v in exp.optimizer.state_dict()[0].items()}
    t, rng = exp.optimizer.t, exp.rngs["dropout"].bit_generator.state
    first = nnlab.inspect(exp).to_dict()
    assert first["kind"] == "experiment" and first["epoch"] == 3 // exp.n_batches
    for k, v in exp.net.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)
    for k, v in exp.optimizer.state_dict()[0].items():
        np.testing.assert_array_equal(v, opt[k], err_msg=k)
    assert exp.optimizer.t == t and exp.rngs["dropout"].bit_generator.state == rng
    assert nnlab.inspect(exp).to_dict() == first  # the same dropout masks again: nothing moved


def test_a_run_is_inspected_at_its_checkpoint_and_left_untouched(cli, tmp_path):
    (tmp_path / "c.yaml").write_text(
        "data: {name: moons, n_samples: 80}\nmodel: {hidden: [8], activation: relu}\n"
        "optimizer: {name: sgd, lr: 0.2}\nschedule: {name: step, every: 1, factor: 0.5}\n"
        "training: {epochs: 3, batch_size: 16, checkpoint_every: 1}\n"
    )
    result = cli("train", tmp_path / "c.yaml", "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 0, result.output
    run = next((tmp_path / "runs").iterdir())
    digests = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in run.rglob("*") if p.is_file()}
    report = _inspect_json(cli, run, "--checkpoint", "epoch-0002", "--split", "val")
    assert (report["kind"], report["checkpoint"], report["epoch"], report["split"]) == ("run", "epoch-0002", 2, "val")
    assert report["lr"] == pytest.approx(0.2 * 0.5**2)  # the step decay's rate of the next step
    assert digests == {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in run.rglob("*") if p.is_file()}


def test_json_schema(cli):
    report = _inspect_json(cli, LECTURES / "init_xavier.yaml", "-n", "64")
    assert set(report) == {
        "source", "kind", "checkpoint", "epoch", "split", "examples", "loss", "optimizer", "lr", "network",
        "good_update_ratio", "layers", "notes",
    }  # fmt: skip
    assert report["good_update_ratio"] == 1e-3 and report["examples"] == 64 and report["notes"] == []
    assert len(report["layers"]) == 9
    assert set(report["layers"][0]) == {
        "number", "layers", "units", "activation", "pre_mean", "pre_std", "act_mean", "act_std", "saturated",
        "dead", "weight_norm", "grad_norm", "update_ratio",
    }  # fmt: skip
    assert report["layers"][0]["layers"] == "dense(64) → tanh" and report["layers"][-1]["activation"] == "softmax"


def test_table_fits_80_columns_and_names_the_collapse(cli, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("inspect", LECTURES / "init_normal.yaml")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    rows = [line for line in lines if re.match(r" ?\d+ (tanh|softmax) ", line)]
    assert len(rows) == 9
    table = rows + [line for line in lines if line.lstrip().startswith(("layer", "──"))]
    assert all(len(line) <= 80 for line in table)
    assert "\x1b" not in result.stdout
    assert any(line.startswith("note: layers 2–8 collapsed") for line in lines)


@pytest.mark.slow
def test_histogram_figure(cli, tmp_path):
    from PIL import Image

    report = nnlab.inspect(LECTURES / "init_normal_large.yaml")
    fig = inspection_figure(report)
    hist = [ax for ax in fig.get_axes() if ax.patches]
    assert len(hist) == 2 * 8  # a histogram of activations and one of pre-activations per hidden layer
    shares = [ax.patches[0].get_data().values for ax in hist]
    assert all(s.sum() == pytest.approx(1.0) for s in shares)
    assert all(s[0] + s[-1] > 0.3 for s in shares[:8])  # saturated: much of the batch in the outermost bins
    assert len(fig.get_axes()) == 4 + 2 * 8 and fig.get_axes()[3].get_yscale() == "log"
    out = tmp_path / "h.png"
    result = cli("inspect", LECTURES / "init_normal_large.yaml", "-o", out)
    assert result.exit_code == 0 and f"wrote {out}" in result.stdout
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] >= 1000
        assert len(im.convert("L").getcolors(1 << 16)) > 10  # not blank


@pytest.mark.parametrize("env", [{}, {"NO_COLOR": "1"}])
def test_in_an_80_column_terminal_the_network_wraps_under_itself(tmp_path, env):
    # in colour or not: NO_COLOR takes the colours away, not the terminal's width
    from tests.terminal import pty_run

    screen, _, code = pty_run(["inspect", str(LECTURES / "init_normal.yaml")], tmp_path, stream="stdout", env=env)
    assert code == 0, screen
    lines = [line.rstrip() for line in screen.replace("\r", "").splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.startswith("  model  "))
    assert all(len(line) <= 80 for line in lines), lines
    follow = lines[start + 1 : lines.index(next(x for x in lines if x.startswith("  step ")))]
    assert follow and all(line.startswith(" " * 9) for line in follow)  # under the text, not the label
    assert " ".join([lines[start], *follow]).endswith("softmax")
