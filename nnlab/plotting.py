"""``nnlab plot``: learning curves (train vs val) of one or several runs and, for 2-D classification data,
the decision regions of each model with its data points (deck 002: watch the loss and the train / val gap).

Each run's best epoch (``summary.json``'s ``best.epoch``) is starred and an early stop drawn as a dotted
line; a learning-rate panel joins the curves when the lr changes during a run. Classification and regression
runs get a row of axes each: their losses are different quantities.

Figures are drawn with matplotlib's Agg canvas directly (no pyplot, no global backend change), so the
function works the same in a terminal, a test and a notebook.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnlab.atomic import atomic_write
from nnlab.errors import CheckpointError, NnlabError
from nnlab.runs.folder import RunFolder


class MixedTasksWarning(UserWarning):
    """Classification and regression runs plotted together: each task gets its own axes."""


@dataclass
class _Run:
    name: str
    metrics: object  # metrics.csv as a DataFrame
    summary: dict
    task: str
    color: str


def read_metrics(run_dir: Path):
    folder = RunFolder(run_dir)
    frame = folder.read_metrics()
    if frame.empty or "epoch" not in frame or "train_loss" not in frame:
        raise CheckpointError(f"'{folder.metrics_file}' has no epochs to plot")
    return frame


def plot_runs(run_dirs, out: str | Path, boundary: bool = False, checkpoint: str = "best") -> Path:
    """Draw the curves of ``run_dirs`` (and their decision regions with ``boundary``) into the PNG ``out``."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise NnlabError(f"-o: the figure is written as PNG, give a file name ending in .png (got '{out}')")
    if not out.parent.is_dir():
        raise NnlabError(f"-o: folder '{out.parent}' not found")
    fig = runs_figure(run_dirs, boundary=boundary, checkpoint=checkpoint)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write(out, buf.getvalue())
    return out


def runs_figure(run_dirs, boundary: bool = False, checkpoint: str = "best"):
    """The figure ``plot_runs`` writes, as a matplotlib ``Figure`` (show it in a notebook, or save it in
    another format): titled with the runs' names; a row per task of loss, accuracy (R² for regression) and,
    where the lr changes, learning-rate axes; with ``boundary``, a row of each model's decision regions.
    Classification and regression runs together give a ``MixedTasksWarning``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dirs = [RunFolder.open(d).path for d in run_dirs]
    if not dirs:
        raise NnlabError("give at least one run folder")
    runs = [_read(d, f"C{i % 10}") for i, d in enumerate(dirs)]
    models = [_boundary_model(d, checkpoint) for d in dirs] if boundary else []
    tasks = sorted({r.task for r in runs}, key=("classification", "regression").index)
    if len(tasks) > 1:
        names = {t: ", ".join(r.name for r in runs if r.task == t) for t in tasks}
        warnings.warn(
            f"classification runs ({names['classification']}) and regression runs ({names['regression']}) have "
            "losses of different kinds: each task is drawn on its own row of axes",
            MixedTasksWarning,
            stacklevel=2,
        )
    panels = 3 if any(_lr_changes(r) for r in runs) else 2
    rows = len(tasks) + bool(boundary)
    fig = Figure(figsize=(max(panels, len(models)) * 5.0, 4.2 * rows + 0.4), layout="constrained")
    FigureCanvasAgg(fig)
    fig.suptitle(_title(runs))
    subfigs = np.atleast_1d(fig.subfigures(rows, 1)) if rows > 1 else [fig]
    for sub, task in zip(subfigs, tasks):
        group = [r for r in runs if r.task == task]
        _curves(sub.subplots(1, panels), group, several=len(runs) > 1, task=task if len(tasks) > 1 else "")
    if boundary:
        axes = np.atleast_1d(subfigs[-1].subplots(1, len(models)))
        for ax, model in zip(axes, models):
            _regions(ax, model)
    return fig


def _read(run_dir: Path, color: str) -> _Run:
    frame = read_metrics(run_dir)
    summary = RunFolder(run_dir).read_summary()
    task = summary.get("task")
    if task not in ("classification", "regression"):
        task = "classification" if "train_accuracy" in frame or "val_accuracy" in frame else "regression"
    return _Run(run_dir.name, frame, summary, task, color)


def _lr_changes(run: _Run) -> bool:
    return "lr" in run.metrics and run.metrics["lr"].nunique() > 1


def _title(runs: list[_Run]) -> str:
    if len(runs) == 1:
        s = runs[0].summary
        status = str(s.get("status", "")).replace("_", " ")
        done = f", {status} after {s['epochs']} epochs" if status and s.get("epochs") else ""
        return f"{runs[0].name}{done}"
    names = [r.name for r in runs]
    more = f" and {len(names) - 4} more" if len(names) > 4 else ""
    return f"{len(runs)} runs: {', '.join(names[:4])}{more}"


def _curves(axes, runs: list[_Run], several: bool, task: str) -> None:
    """Loss and accuracy (R²) per epoch, train solid and val dashed, a colour per run; the lr where it changes."""
    from matplotlib.ticker import MaxNLocator

    ax_loss, ax_metric = axes[0], axes[1]
    metric = "accuracy" if task == "classification" or any("train_accuracy" in r.metrics for r in runs) else "r2"
    for r in runs:
        f, c = r.metrics, r.color
        ax_loss.plot(f["epoch"], f["train_loss"], color=c, label="train")
        if "val_loss" in f:
            ax_loss.plot(f["epoch"], f["val_loss"], color=c, linestyle="--", label="val")
        for split, style in (("train", "-"), ("val", "--")):
            col = f"{split}_{metric}"
            if col in f:
                ax_metric.plot(f["epoch"], f[col], color=c, linestyle=style, label=split)
        _mark_best_and_stop(ax_loss, r, "loss", several)
        _mark_best_and_stop(ax_metric, r, metric, several)
    ax_loss.set(title=f"loss — {task}" if task else "loss", xlabel="epoch", ylabel="mean loss per example")
    if all((r.metrics["train_loss"] > 0).all() for r in runs):
        ax_loss.set_yscale("log")
    label = "accuracy" if metric == "accuracy" else "R²"
    ax_metric.set(title=label, xlabel="epoch", ylabel=label)
    if len(axes) > 2:
        _lr_panel(axes[2], runs)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend(ax_loss, runs if several else [], name_runs=True)
    _legend(ax_metric, runs if several else [], name_runs=False)
    if not ax_metric.lines:
        ax_metric.text(
            0.5,
            0.5,
            f"no {metric} column in {RunFolder.METRICS}",
            ha="center",
            va="center",
            transform=ax_metric.transAxes,
        )


def _legend(ax, runs: list[_Run], name_runs: bool) -> None:
    """What each line style means (once, in grey where several ``runs`` share it), then each run's colour."""
    from matplotlib.lines import Line2D

    seen = {}
    for line in ax.lines:
        seen.setdefault(line.get_label(), line)
    styles = [line for label, line in seen.items() if not label.startswith("_")]
    if runs:  # one grey sample of each style stands for every run's
        styles = [_grey(h) for h in styles]
    handles = styles + [Line2D([], [], color=r.color, linewidth=4, label=r.name) for r in runs if name_runs]
    if handles:
        ax.legend(handles=handles, fontsize="small")


def _grey(line):
    from matplotlib.lines import Line2D

    look = {"linestyle": line.get_linestyle(), "marker": line.get_marker(), "markersize": line.get_markersize()}
    return Line2D([], [], color="0.35", markeredgecolor=line.get_markeredgecolor(), label=line.get_label(), **look)


def _mark_best_and_stop(ax, run: _Run, metric: str, several: bool) -> None:
    """A star on the val curve (train where there is none) at the best epoch; a dotted line at an early stop
    (their epochs in the legend where the figure has one run)."""
    f, s = run.metrics, run.summary
    best = (s.get("best") or {}).get("epoch")
    col = next((c for c in (f"val_{metric}", f"train_{metric}") if c in f), None)
    at = f.index[f["epoch"] == best] if best is not None and col else []
    if len(at):
        y = f.loc[at[0], col]
        star = {"marker": "*", "markersize": 13, "markeredgecolor": "k", "linestyle": "", "zorder": 5}
        ax.plot([best], [y], color=run.color, label="best epoch" + ("" if several else f" ({best})"), **star)
    if s.get("status") == "stopped_early" and s.get("epochs"):
        stop = "early stop" + ("" if several else f" ({s['epochs']})")
        ax.axvline(s["epochs"], color=run.color, linestyle=":", linewidth=1.5, label=stop)


def _lr_panel(ax, runs: list[_Run]) -> None:
    for r in runs:
        if "lr" in r.metrics:
            ax.plot(r.metrics["epoch"], r.metrics["lr"], color=r.color, drawstyle="steps-mid", label="_lr")
    ax.set(title="learning rate", xlabel="epoch", ylabel="lr")
    if all((r.metrics["lr"] > 0).all() for r in runs if "lr" in r.metrics):
        ax.set_yscale("log")


def regions_figure(run_dir, checkpoint: str = "best"):
    """One model's decision regions over its 2 input features with the train and test points, as
    ``--boundary`` draws them beside the curves, on a figure of its own."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 5.2), layout="constrained")
    FigureCanvasAgg(fig)
    _regions(fig.subplots(), _boundary_model(RunFolder.open(run_dir).path, checkpoint))
    return fig


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
    from matplotlib.colors import ListedColormap

    from nnlab.figures.common import input_plane, raw_points
    from nnlab.metrics import predicted_classes

    raw = raw_points(model)
    g0, g1, points = input_plane(raw, steps)
    out = model.outputs(points)
    classes = predicted_classes(out).reshape(g0.shape)
    n = max(model.n_classes, 2)
    cmap = ListedColormap([f"C{i % 10}" for i in range(n)])
    ax.contourf(g0, g1, classes, levels=np.arange(n + 1) - 0.5, cmap=cmap, alpha=0.25)
    if out.shape[1] <= 2 and model.gives_probabilities:
        p = out[:, -1].reshape(g0.shape)
        ax.contour(g0, g1, p, levels=[0.5], colors="k", linewidths=1)
    points = {"cmap": cmap, "vmin": -0.5, "vmax": n - 0.5}
    ax.scatter(raw.X_train[:, 0], raw.X_train[:, 1], c=raw.y_train, marker=_TRAIN, s=8, alpha=0.6, **points)
    if len(raw.X_test):
        edges = {"edgecolors": "k", "linewidths": 0.6}
        ax.scatter(raw.X_test[:, 0], raw.X_test[:, 1], c=raw.y_test, marker=_TEST, s=22, **edges, **points)
    names = model.feature_names or ["x1", "x2"]
    ax.set(title=f"{model.name} [{model.checkpoint.stem}, epoch {model.epoch}]", xlabel=names[0], ylabel=names[1])
    ax.title.set_fontsize("small")
    ax.legend(handles=_point_legend(model, n, bool(len(raw.X_test))), fontsize="small", loc="best")


_TRAIN, _TEST = "o", "^"


def _point_legend(model, n: int, test: bool) -> list:
    """Shapes say the split (in a neutral grey), colours say the class."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    def shape(marker, label, edge):
        return Line2D([], [], marker=marker, linestyle="", color="0.45", markeredgecolor=edge, label=label)

    handles = [shape(_TRAIN, "train", "0.45")] + ([shape(_TEST, "test", "k")] if test else [])
    names = model.class_names or [str(i) for i in range(n)]
    names = [f"class {c}" if str(c).isdigit() else str(c) for c in names]  # "class 0", "setosa"
    return handles + [Patch(facecolor=f"C{i % 10}", label=names[i]) for i in range(min(n, len(names)))]
