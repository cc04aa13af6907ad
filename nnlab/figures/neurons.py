"""``nnlab plot RUN --neurons``: every unit's output over the plane of a run's two input features, the view
TensorFlow Playground shows.

One row per layer with weights, from the first hidden layer to the output; in each row one small panel per
unit (the first ``MAX_UNITS`` of a wider layer), its activation φ(z) over a grid of the raw input plane
(the run's preprocessing applied inside), on one colour scale per row: a diverging one centred on 0 where
the layer's outputs take both signs (tanh), a sequential one from 0 otherwise (ReLU, sigmoid, softmax).
The output row shows the training points. A hidden unit draws one line (a half-plane) in the first layer;
later layers combine them into curves, as the decks' XOR network does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnlab.errors import NnlabError
from nnlab.figures.common import check_output, input_plane, new_figure, raw_points, write_png
from nnlab.inspection import layer_outputs

MAX_UNITS = 16
STEPS = 80  # grid points along each axis


def plot_neurons(run_dir, out, checkpoint: str = "best") -> Path:
    out = check_output(out, ".png")
    return write_png(neurons_figure(run_dir, checkpoint), out)


def neurons_figure(run_dir, checkpoint: str = "best"):
    """The figure: one row of ``imshow`` panels per layer with weights, one panel per unit shown."""
    from nnlab.inference import load_run

    model = load_run(run_dir, checkpoint)
    if model.n_features != 2:
        raise NnlabError(
            f"--neurons draws each unit over the plane of 2 input features; run '{model.name}' has {model.n_features}"
        )
    raw = raw_points(model)
    g0, g1, points = input_plane(raw, STEPS)
    rows = layer_outputs(model.net, model.transform(points), training=False)
    cols = min(MAX_UNITS, max(cap["act"].shape[1] for _, cap in rows))
    fig = new_figure(1.15 * cols + 1.6, 1.3 * len(rows) + 0.9, layout=None)
    fig.suptitle(f"{model.name} [{model.checkpoint.stem}, epoch {model.epoch}]: each unit over the input plane")
    grid = fig.add_gridspec(len(rows), cols, left=1.3 / fig.get_figwidth(), right=0.99, top=0.9, bottom=0.02)
    grid.update(wspace=0.08, hspace=0.25)
    extent = (g0.min(), g0.max(), g1.min(), g1.max())
    for r, (_, cap) in enumerate(rows):
        act = cap["act"]
        diverging = act.min() < 0
        top = float(np.abs(act).max()) or 1.0
        look = {"cmap": "RdBu_r", "vmin": -top, "vmax": top} if diverging else {"cmap": "viridis", "vmin": 0.0}
        if not diverging:
            look["vmax"] = max(float(act.max()), 1e-12)
        last = r == len(rows) - 1
        for u in range(min(cols, act.shape[1])):
            ax = fig.add_subplot(grid[r, u])
            image = act[:, u].reshape(g0.shape)
            ax.imshow(image, origin="lower", extent=extent, aspect="auto", interpolation="nearest", **look)
            if last and model.task == "classification":
                ax.scatter(raw.X_train[:, 0], raw.X_train[:, 1], c=raw.y_train, s=3, cmap="tab10", vmin=0, vmax=9)
            ax.set_xticks([])
            ax.set_yticks([])
            if u == 0:
                shown = f"\n({cols} of {act.shape[1]} units)" if act.shape[1] > cols else ""
                name = "output" if last else f"layer {r + 1}"
                ax.set_ylabel(
                    f"{name}\n{cap['describe']}{shown}", fontsize="x-small", rotation=0, ha="right", va="center"
                )
            if r == 0 or last:
                ax.set_title(_unit_title(model, u, last), fontsize="x-small")
    return fig


def _unit_title(model, unit: int, output: bool) -> str:
    if output and model.task == "classification" and model.class_names and model.net.n_outputs > 1:
        return str(model.class_names[unit])
    return f"unit {unit + 1}"
