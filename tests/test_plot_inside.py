"""nnlab plot RUN --gradients, --neurons and --animate (and training.snapshots, whose frames --animate draws):
each figure's content through its matplotlib objects, and the files the command line writes."""

import pytest
from PIL import Image

import nnlab
from nnlab.config import parse_config
from nnlab.figures.animation import animation
from nnlab.figures.gradients import gradients_figure
from nnlab.figures.neurons import neurons_figure
from nnlab.runs.folder import RunFolder
from nnlab.training import train
from nnlab.training.snapshots import read_snapshots

MOONS = """
name: moons
data: {name: moons, n_samples: 120, split: {val: 0.25}, preprocess: standardize}
model: {hidden: [18, 3], activation: tanh}
optimizer: {name: adam, lr: 0.05}
training: {epochs: 5, batch_size: 30, snapshots: 1, diagnostics: true}
"""

SINE = """
name: sine
data: {name: sine, n_samples: 80, split: {val: 0.25}}
model: {hidden: [8], activation: tanh}
optimizer: {name: adam, lr: 0.05}
training: {epochs: 6, batch_size: 20, checkpoint_every: 2}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {name: train(parse_config(text), root).run_dir for name, text in (("moons", MOONS), ("sine", SINE))}


def test_snapshots_keep_every_epoch_from_the_start(runs):
    frames = read_snapshots(RunFolder(runs["moons"]))
    assert sorted(frames) == [0, 1, 2, 3, 4, 5]
    model = nnlab.load_run(runs["moons"], "last")
    for key, value in model.net.state_dict().items():  # the last frame is the network the run ended with
        assert (frames[5][key] == value).all(), key
    assert not (frames[0]["layers.0.W"] == frames[5]["layers.0.W"]).all()


def test_snapshots_go_on_after_a_resume(tmp_path):
    cfg = parse_config(MOONS.replace("epochs: 5", "epochs: 2").replace("snapshots: 1", "snapshots: 2"))
    first = train(cfg, tmp_path)
    assert sorted(read_snapshots(RunFolder(first.run_dir))) == [0, 2]
    nnlab.resume(first.run_dir, epochs=5)
    assert sorted(read_snapshots(RunFolder(first.run_dir))) == [0, 2, 4, 5]  # the last epoch too


def test_gradients_figure_draws_every_weight_layer(runs):
    fig = gradients_figure(runs["moons"])
    ax_grad, ax_ratio = fig.get_axes()
    assert [line.get_label() for line in ax_grad.lines] == ["layer 1", "layer 2", "layer 3"]
    assert all(len(line.get_xdata()) == 5 for line in ax_grad.lines)
    assert len(ax_ratio.lines) == 3 + 1  # the layers and the rule of thumb
    assert ax_ratio.lines[-1].get_ydata()[0] == 1e-3
    metrics = RunFolder(runs["moons"]).read_metrics()
    assert list(ax_grad.lines[1].get_ydata()) == list(metrics["grad_norm_2"])


def test_gradients_without_diagnostics_say_how_to_get_them(cli, runs):
    result = cli("plot", runs["sine"], "--gradients")
    assert result.exit_code == 2
    assert "run with training.diagnostics: true" in result.stderr


def test_neurons_figure_has_a_panel_per_unit_by_layer(runs):
    fig = neurons_figure(runs["moons"])
    panels = [ax for ax in fig.get_axes() if ax.images]
    assert len(panels) == 16 + 3 + 2  # 18 hidden units shown as 16, then 3, then the 2 outputs
    labels = [ax.get_ylabel() for ax in panels if ax.get_ylabel()]
    assert [label.split("\n")[0] for label in labels] == ["layer 1", "layer 2", "output"]
    assert "16 of 18 units" in labels[0]
    for ax in panels:
        image = ax.images[0].get_array()
        assert image.shape == (80, 80) and image.max() > image.min()  # a unit varies over the plane
    assert panels[-1].collections  # the output row shows the training points


@pytest.mark.slow
def test_plot_writes_each_view_in_the_run_folder(cli, runs):
    for flag, name in (("--gradients", "gradients.png"), ("--neurons", "neurons.png")):
        result = cli("plot", runs["moons"], flag)
        assert result.exit_code == 0, result.output
        with Image.open(runs["moons"] / name) as im:
            assert im.format == "PNG" and len(im.convert("L").getcolors(1 << 16)) > 10


@pytest.mark.slow
def test_animation_of_a_decision_boundary(cli, runs, tmp_path):
    fig, frames, draw = animation(runs["moons"])
    assert frames == [0, 1, 2, 3, 4, 5]
    ax = fig.get_axes()[0]
    draw(0)
    start = ax.images[0].get_array().copy()
    draw(5)
    assert "epoch 5" in ax.get_title() and (ax.images[0].get_array() != start).any()  # the boundary moved
    out = tmp_path / "moons.gif"
    result = cli("plot", runs["moons"], "--animate", "-o", out)
    assert result.exit_code == 0, result.output
    with Image.open(out) as im:
        assert im.format == "GIF" and im.n_frames == 6


@pytest.mark.slow
def test_animation_of_a_fitted_curve_from_epoch_checkpoints(cli, runs):
    fig, frames, draw = animation(runs["sine"])
    assert frames == [2, 4, 6]  # checkpoint_every: 2
    ax = fig.get_axes()[0]
    (curve,) = [line for line in ax.lines if line.get_label() == "network"]
    draw(2)
    early = curve.get_ydata().copy()
    draw(6)
    assert (curve.get_ydata() != early).any()
    result = cli("plot", runs["sine"], "--animate")
    assert result.exit_code == 0, result.output
    with Image.open(runs["sine"] / "animation.gif") as im:
        assert im.n_frames == 3
