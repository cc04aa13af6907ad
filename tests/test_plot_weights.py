"""nnlab plot RUN --weights: the first layer's weight vectors as images, through the figure's objects."""

import numpy as np
import pytest
from PIL import Image

import nnlab
from nnlab.config import parse_config
from nnlab.figures.weights import weights_figure
from nnlab.training import train

DIGITS = """
name: digits
data: {name: digits, split: {val: 0.2}, preprocess: standardize}
model: {hidden: [70], activation: relu}
optimizer: {name: adam, lr: 0.01}
training: {epochs: 2, batch_size: 128}
"""

# images of 6 rows × 4 columns in an npz file, stored as (n, 6, 4): no square, the file says the shape
NPZ = """
name: bars
data: {{name: npz, path: "{path}", split: {{val: 0.2}}}}
model: {{hidden: []}}
optimizer: {{name: adam, lr: 0.05}}
training: {{epochs: 3, batch_size: 20}}
"""


def _bars(path, rng):
    """Class 0 lights the top half of an image, class 1 the bottom half."""
    y = rng.integers(0, 2, 100)
    X = rng.normal(0, 0.1, (100, 6, 4))
    X[y == 0, :3] += 1.0
    X[y == 1, 3:] += 1.0
    np.savez(path, X=X, y=y, class_names=np.array(["top", "bottom"]))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    npz = root / "bars.npz"
    _bars(npz, np.random.default_rng(0))
    digits = train(parse_config(DIGITS), root).run_dir
    bars = train(parse_config(NPZ.format(path=npz)), root).run_dir
    return {"digits": digits, "bars": bars}


def _panels(fig):
    return [ax for ax in fig.get_axes() if ax.images]


def test_a_panel_per_unit_shown_each_an_image_of_its_weights(runs):
    fig = weights_figure(runs["digits"])
    panels = _panels(fig)
    assert len(panels) == 64  # 70 hidden units: the first 64
    assert "the first 64 of 70" in fig._suptitle.get_text() and "8×8 pixels" in fig._suptitle.get_text()
    W = nnlab.load_run(runs["digits"]).net.state_dict()["layers.0.W"]
    for u, ax in enumerate(panels):
        image = ax.images[0].get_array()
        assert image.shape == (8, 8) and image.max() > image.min()  # not blank
        assert np.allclose(image, W[:, u].reshape(8, 8))
        lo, hi = ax.images[0].get_clim()
        assert hi == -lo > 0  # a scale symmetric about 0


def test_npz_images_take_the_shape_the_file_stores_and_classes_name_the_templates(runs):
    panels = _panels(weights_figure(runs["bars"], "last"))
    assert [ax.get_title() for ax in panels] == ["top", "bottom"]  # no hidden layer: a template per class
    top = panels[0].images[0].get_array()
    assert top.shape == (6, 4)
    assert top[:3].mean() > top[3:].mean()  # the "top" unit learned to weigh the top half up


@pytest.mark.slow
def test_plot_weights_writes_the_run_folder_png(cli, runs):
    result = cli("plot", runs["digits"], "--weights")
    assert result.exit_code == 0, result.output
    with Image.open(runs["digits"] / "weights.png") as im:
        assert im.format == "PNG" and len(im.convert("L").getcolors(1 << 16)) > 10
