"""``nnlab plot``: learning curves (train vs val) of one or several runs and, for 2-D classification data,
the decision regions of each model with its data points (deck 002: watch the loss and the train / val gap).

Figures are drawn with matplotlib's Agg canvas directly (no pyplot, no global backend change), so the
function works the same in a terminal, a test and a notebook.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from nnlab.atomic import atomic_write
from nnlab.errors import CheckpointError, NnlabError
from nnlab.runs.folder import RunFolder


def read_metrics(run_dir: Path):
    folder = RunFolder(run_dir)
    frame = folder.read_metrics()
    if frame.empty or "epoch" not in frame or "train_loss" not in frame:
        raise CheckpointError(f"'{folder.metrics_file}' has no epochs to plot")
    return frame


def plot_runs(run_dirs, out: str | Path, boundary: bool = False, checkpoint: str = "best") -> Path:
    """Draw the curves of ``run_dirs`` (and their decision regions with ``boundary``) into the PNG ``out``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dirs = [RunFolder.open(d).path for d in run_dirs]
    if not dirs:
        raise NnlabError("give at least one run folder")
    frames = [read_metrics(d) for d in dirs]
    models = [_boundary_model(d, checkpoint) for d in dirs] if boundary else []
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise NnlabError(f"-o: the figure is written as PNG, give a file name ending in .png (got '{out}')")
    if not out.parent.is_dir():
        raise NnlabError(f"-o: folder '{out.parent}' not found")
    width = max(2, len(models)) * 5.0
    fig = Figure(figsize=(width, 4.2 * (2 if boundary else 1)), layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subfigures(2, 1) if boundary else (fig, None)
    ax_loss, ax_metric = top.subplots(1, 2)
    _curves(ax_loss, ax_metric, dirs, frames)
    if boundary:
        axes = np.atleast_1d(bottom.subplots(1, len(models)))
        for ax, model in zip(axes, models):
            _regions(ax, model)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write(out, buf.getvalue())
    return out


def _curves(ax_loss, ax_metric, dirs, frames) -> None:
    colors = [f"C{i % 10}" for i in range(len(dirs))]
    several = len(dirs) > 1
    metric = "accuracy" if any("train_accuracy" in f or "val_accuracy" in f for f in frames) else "r2"
    for d, f, c in zip(dirs, frames, colors):
        tag = f"{d.name} " if several else ""
        ax_loss.plot(f["epoch"], f["train_loss"], color=c, label=f"{tag}train")
        if "val_loss" in f:
            ax_loss.plot(f["epoch"], f["val_loss"], color=c, linestyle="--", label=f"{tag}val")
        for split, style in (("train", "-"), ("val", "--")):
            col = f"{split}_{metric}"
            if col in f:
                ax_metric.plot(f["epoch"], f[col], color=c, linestyle=style, label=f"{tag}{split}")
    ax_loss.set(title="loss", xlabel="epoch", ylabel="mean loss per example")
    if all((f["train_loss"] > 0).all() for f in frames):
        ax_loss.set_yscale("log")
    label = "accuracy" if metric == "accuracy" else "R²"
    ax_metric.set(title=label, xlabel="epoch", ylabel=label)
    for ax in (ax_loss, ax_metric):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize="small")
    if not ax_metric.lines:
        ax_metric.text(
            0.5, 0.5, f"no {metric} column in {RunFolder.METRICS}", ha="center", va="center", transform=ax_metric.transAxes
        )


def _boundary_model(run_dir: Path, checkpoint: str):
    from nnlab.inference import load_run

    model = load_run(run_dir, checkpoint)
    if model.task != "classification" or model.n_features != 2:
        what = "is a regression run" if model.task != "classification" else f"has {model.n_features} input features"
        raise NnlabError(
            f"--boundary draws decision regions over 2 input features of a classification run; '{run_dir.name}' {what}"
        )
    return model


def _regions(ax, model, steps: int = 200) -> None:
    """The class the model predicts over a grid of the raw feature plane, with the train and test points."""
    from nnlab.data.core import raw_splits
    from nnlab.metrics import predicted_classes

    raw = raw_splits(model.config.data, model.config.seed)
    X_all = np.vstack([raw.X_train, raw.X_val, raw.X_test]).astype(np.float64)
    lo, hi = X_all.min(axis=0), X_all.max(axis=0)
    pad = 0.1 * np.where(hi > lo, hi - lo, 1.0)
    g0, g1 = np.meshgrid(
        np.linspace(lo[0] - pad[0], hi[0] + pad[0], steps), np.linspace(lo[1] - pad[1], hi[1] + pad[1], steps)
    )
    out = model.outputs(np.c_[g0.ravel(), g1.ravel()])
    classes = predicted_classes(out).reshape(g0.shape)
    n = max(model.n_classes, 2)
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap([f"C{i % 10}" for i in range(n)])
    ax.contourf(g0, g1, classes, levels=np.arange(n + 1) - 0.5, cmap=cmap, alpha=0.25)
    if out.shape[1] <= 2 and model.gives_probabilities:
        p = out[:, -1].reshape(g0.shape)
        ax.contour(g0, g1, p, levels=[0.5], colors="k", linewidths=1)
    ax.scatter(
        raw.X_train[:, 0],
        raw.X_train[:, 1],
        c=raw.y_train,
        cmap=cmap,
        vmin=-0.5,
        vmax=n - 0.5,
        s=8,
        alpha=0.6,
        label="train",
    )
    if len(raw.X_test):
        ax.scatter(
            raw.X_test[:, 0],
            raw.X_test[:, 1],
            c=raw.y_test,
            cmap=cmap,
            vmin=-0.5,
            vmax=n - 0.5,
            s=18,
            edgecolors="k",
            linewidths=0.6,
            label="test",
        )
    names = model.feature_names or ["x1", "x2"]
    ax.set(title=f"{model.name} [{model.checkpoint.stem}, epoch {model.epoch}]", xlabel=names[0], ylabel=names[1])
    ax.title.set_fontsize("small")
    ax.legend(fontsize="small", loc="best")
