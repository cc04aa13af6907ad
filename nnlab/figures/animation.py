"""``nnlab plot RUN --animate``: a GIF of the model over the epochs, from the weights the run saved on the way.

The frames are the run's snapshots (``training.snapshots: K``, ``snapshots.safetensors``: from epoch 0) or,
without them, its ``epoch-NNNN`` checkpoints (``training.checkpoint_every: K``). For 2-D classification each
frame shows the predicted class over the input plane with the training points (the decision boundary
moving as the network learns); for 1-D regression the fitted curve over the training points. Written with
matplotlib's ``PillowWriter`` (Pillow, no ffmpeg).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from nnlab.atomic import atomic_write
from nnlab.errors import NnlabError
from nnlab.figures.common import check_output, input_plane, new_figure, raw_points
from nnlab.runs.folder import RunFolder

FPS = 8
STEPS = 120


def animate_run(run_dir, out, fps: int = FPS) -> Path:
    """Write the GIF ``out``; returns its path."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    out = check_output(out, ".gif")
    fig, frames, draw = animation(run_dir)
    anim = FuncAnimation(fig, draw, frames=frames, blit=False)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "animation.gif"
        anim.save(path, writer=PillowWriter(fps=fps), dpi=80)
        atomic_write(out, path.read_bytes())
    return out


def animation(run_dir):
    """``(figure, frames, draw)``: ``draw(epoch)`` puts the model of that epoch on the figure's axes."""
    from nnlab.inference import load_run

    folder = RunFolder.open(run_dir)
    model = load_run(folder.path, "last")
    states = frames_of(folder)
    if model.task == "classification" and model.n_features == 2:
        fig, draw = _boundary(model, states)
    elif model.task == "regression" and model.n_features == 1 and model.n_outputs == 1:
        fig, draw = _curve(model, states)
    else:
        what = f"{model.task} on {model.n_features} input feature(s)"
        raise NnlabError(
            f"--animate draws 2-D classification (the decision boundary) or 1-D regression (the fitted curve); "
            f"run '{folder.name}' is {what}"
        )
    return fig, sorted(states), draw


def frames_of(folder: RunFolder) -> dict[int, dict]:
    """epoch → the network's state: the snapshots, else the epoch-NNNN checkpoints; two at least."""
    from nnlab.runs.checkpoint import subset
    from nnlab.training.snapshots import read_snapshots

    if folder.snapshots_file.is_file():
        states = read_snapshots(folder)
    else:
        epochs = [n for n in folder.checkpoints() if folder.epoch_of(n) is not None]
        states = {folder.epoch_of(n): subset(folder.load_checkpoint(n)[0], "model") for n in epochs}
    if len(states) < 2:
        raise NnlabError(
            f"run '{folder.name}' has {len(states) or 'no'} saved epoch(s) to animate: train it with "
            "training.snapshots: 1 (the weights of every epoch, for small networks) or training.checkpoint_every: K"
        )
    return states


def _boundary(model, states):
    from matplotlib.colors import ListedColormap

    from nnlab.metrics import predicted_classes

    raw = raw_points(model)
    g0, g1, points = input_plane(raw, STEPS)
    Xp = model.transform(points)
    n = max(model.n_classes, 2)
    cmap = ListedColormap([f"C{i % 10}" for i in range(n)])
    fig = new_figure(5.6, 5.0, layout=None)  # drawn once a frame: no layout engine to rerun
    ax = fig.subplots(gridspec_kw={"left": 0.12, "right": 0.97, "bottom": 0.1, "top": 0.88})
    extent = (g0.min(), g0.max(), g1.min(), g1.max())
    blank = np.zeros(g0.shape)
    image = ax.imshow(
        blank, origin="lower", extent=extent, aspect="auto", cmap=cmap, vmin=-0.5, vmax=n - 0.5, alpha=0.3
    )
    ax.scatter(raw.X_train[:, 0], raw.X_train[:, 1], c=raw.y_train, cmap=cmap, vmin=-0.5, vmax=n - 0.5, s=10)
    names = model.feature_names or ["x1", "x2"]
    ax.set(xlabel=names[0], ylabel=names[1])

    def draw(epoch):
        model.net.load_state_dict(states[epoch])
        image.set_data(predicted_classes(model.net.predict(Xp)).reshape(g0.shape))
        ax.set_title(f"{model.name}\nepoch {epoch}", fontsize="small")
        return (image,)

    return fig, draw


def _curve(model, states):
    raw = raw_points(model)
    X_all = np.vstack([raw.X_train, raw.X_val, raw.X_test]).astype(np.float64)
    lo, hi = X_all.min(), X_all.max()
    grid = np.linspace(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo), 400).reshape(-1, 1)
    Xp = model.transform(grid)
    fig = new_figure(6.4, 4.4, layout=None)
    ax = fig.subplots(gridspec_kw={"left": 0.1, "right": 0.97, "bottom": 0.12, "top": 0.87})
    ax.scatter(raw.X_train[:, 0], np.ravel(raw.y_train), s=8, color="0.5", label="train")
    values = []
    for epoch in sorted(states):
        model.net.load_state_dict(states[epoch])
        values.append(model.net.predict(Xp)[:, 0])
    y_all = np.concatenate([np.ravel(raw.y_train)] + values)
    pad = 0.05 * (y_all.max() - y_all.min() or 1.0)
    ax.set_ylim(y_all.min() - pad, y_all.max() + pad)
    (line,) = ax.plot(grid[:, 0], values[0], color="C3", linewidth=2, label="network")
    names = model.feature_names or ["x"]
    ax.set(xlabel=names[0], ylabel="y")
    ax.legend(loc="upper right", fontsize="small")
    order = sorted(states)

    def draw(epoch):
        line.set_ydata(values[order.index(epoch)])
        ax.set_title(f"{model.name}\nepoch {epoch}", fontsize="small")
        return (line,)

    return fig, draw
