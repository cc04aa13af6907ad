"""``nnlab plot RUN --weights``: the first layer's weight vectors of a network on images, drawn as images.

Unit j of the first layer computes z_j = Σ_p W[p, j] x_p over the pixels p of an image: its column W[:, j]
has one weight per pixel, so reshaped to the image's H × W it is a picture of what the unit responds to
(cs231n's "templates"). Each panel has its own colour scale, symmetric about 0 (red: the unit adds that
pixel's brightness, blue: it subtracts it). The weights act on the preprocessed pixels (standardised, say),
so a panel shows where a unit looks rather than the grey levels it expects. A network without a hidden layer
(softmax regression) shows one template per class.

Which inputs are images: ``data.image_shape`` where the config gives it; else Fashion-MNIST, digits and IDX
files (their images' shape, a square where the file's does not say), and an npz file whose ``X`` is a stack
of images (n, H, W). Anything else is refused with one line.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nnlab.errors import NnlabError
from nnlab.figures.common import check_output, new_figure, write_png

MAX_UNITS = 64
IMAGE_DATASETS = ("fashion_mnist", "fashion-mnist", "digits", "idx")


def plot_weights(run_dir, out, checkpoint: str = "best") -> Path:
    out = check_output(out, ".png")
    return write_png(weights_figure(run_dir, checkpoint), out)


def weights_figure(run_dir, checkpoint: str = "best"):
    """The figure: one ``imshow`` panel per unit of the first layer (its first ``MAX_UNITS``), in a grid."""
    from nnlab.inference import load_run

    model = load_run(run_dir, checkpoint)
    h, w = image_shape_of(model)
    W = first_weights(model)
    n = W.shape[1]
    shown = min(n, MAX_UNITS)
    cols = math.ceil(math.sqrt(shown * 1.5))  # a little wider than tall
    rows = math.ceil(shown / cols)
    side = 1.25 * max(w / h, 0.5)
    fig = new_figure(side * cols + 0.4, 1.3 * rows + 0.8, layout=None)
    more = f" (the first {shown} of {n})" if n > shown else ""
    fig.suptitle(
        f"{model.name} [{model.checkpoint.stem}, epoch {model.epoch}]: the first layer's weights{more}, {h}×{w} pixels"
    )
    grid = fig.add_gridspec(rows, cols, left=0.02, right=0.98, top=1 - 0.75 / fig.get_figheight(), bottom=0.02)
    grid.update(wspace=0.1, hspace=0.35)
    names = _unit_names(model, n)
    for u in range(shown):
        ax = fig.add_subplot(grid[u // cols, u % cols])
        template = W[:, u].reshape(h, w)
        top = float(np.abs(template).max()) or 1.0
        ax.imshow(template, cmap="RdBu_r", vmin=-top, vmax=top, interpolation="nearest")
        ax.set_title(names[u], fontsize="x-small")
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def first_weights(model) -> np.ndarray:
    """The first layer's weight matrix (features × units) as float64."""
    state = model.net.state_dict()
    for i in range(len(model.net.layers)):
        key = f"layers.{i}.W"
        if key in state:
            W = np.asarray(state[key], dtype=np.float64)
            if W.ndim == 2 and W.shape[0] == model.n_features:
                return W
            break
    raise NnlabError(f"run '{model.name}' has no weight matrix over its {model.n_features} inputs to draw")


def image_shape_of(model) -> tuple[int, int]:
    """(H, W) of the images a run's network reads; NnlabError where its inputs are not images."""
    from nnlab.data.augment import image_shape

    data, n = model.config.data, model.n_features
    given = getattr(data, "image_shape", None)
    if given is not None:
        return image_shape(n, given)
    stored = _stored_shape(data)
    if stored is not None and stored[0] * stored[1] == n:
        return stored
    if data.name in IMAGE_DATASETS and math.isqrt(n) ** 2 == n:
        return math.isqrt(n), math.isqrt(n)
    raise NnlabError(
        f"--weights draws the first layer's weights as images; run '{model.name}' reads {n} features of "
        f"dataset '{data.name}', not images (for images in a file, give data.image_shape: [HEIGHT, WIDTH])"
    )


def _stored_shape(data) -> tuple[int, int] | None:
    """The images' (H, W) as an IDX file or an npz file's X stores them; None where it does not say."""
    args = data.dataset_args()
    try:
        if data.name == "idx":
            from nnlab.data.files import resolve_path
            from nnlab.data.idx import read_idx

            shape = read_idx(resolve_path(args["images"], "images file")).shape
        elif data.name == "npz":
            shape = _npz_shape(args["path"])
        else:
            return None
    except (NnlabError, OSError, ValueError, KeyError):
        return None
    return (int(shape[1]), int(shape[2])) if len(shape) == 3 else None


def _npz_shape(path: str) -> tuple:
    """The shape of an npz file's X, read from the array's header alone."""
    import zipfile

    from nnlab.data.files import resolve_path

    with zipfile.ZipFile(resolve_path(path, "npz file")) as archive, archive.open("X.npy") as f:
        fmt = np.lib.format
        read = fmt.read_array_header_1_0 if fmt.read_magic(f) == (1, 0) else fmt.read_array_header_2_0
        return read(f)[0]


def _unit_names(model, n: int) -> list[str]:
    """A class's name for an output unit (no hidden layer), else ``unit k``."""
    layers = sum(key.endswith(".W") for key in model.net.state_dict())
    if layers == 1 and model.class_names and len(model.class_names) == n:
        return [str(c) for c in model.class_names]
    return [f"unit {u + 1}" for u in range(n)]
