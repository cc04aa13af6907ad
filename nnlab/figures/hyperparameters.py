"""A sweep's metric against each of its hyper-parameters (``nnlab report SWEEP_DIR``): one panel per
parameter, a point per trial with a score, the best trial starred.

A parameter sampled on a log scale (``loguniform``, ``log: true``) gets a log axis; a choice among values
(``values: [...]``) gets one position per value, in the order the sweep lists them. A pruned trial is a
hollow point: its score is that of the epochs it was given, not of a finished run.
"""

from __future__ import annotations

import math
from pathlib import Path

from nnlab.errors import NnlabError
from nnlab.figures.common import new_figure

COLUMNS = 3  # panels per row


def parameters_figure(sweep_dir):
    """The figure: a scatter of the metric against each parameter of the sweep."""
    import pandas as pd

    from nnlab.sweep.records import TRIALS
    from nnlab.sweep.runner import load_sweep_dir

    sweep, _ = load_sweep_dir(sweep_dir)
    path = Path(sweep_dir) / TRIALS
    if not path.is_file():
        raise NnlabError(f"sweep '{sweep_dir}' has no {TRIALS} yet: no trial to draw")
    trials = pd.read_csv(path, keep_default_na=False, dtype=str)
    scored = trials[pd.to_numeric(trials[sweep.metric], errors="coerce").notna()]
    if scored.empty:
        raise NnlabError(f"sweep '{sweep_dir}': no trial has a {sweep.metric} yet")
    metric = pd.to_numeric(scored[sweep.metric])
    best = metric.idxmax() if sweep.mode == "max" else metric.idxmin()
    names = list(sweep.parameters)
    cols = min(COLUMNS, len(names))
    rows = math.ceil(len(names) / cols)
    fig = new_figure(4.2 * cols, 3.4 * rows + 0.4)
    fig.suptitle(f"{sweep.metric} ({sweep.mode}) of each trial against each hyper-parameter")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    pruned = (scored["status"] == "pruned").to_numpy()
    for ax, name in zip(axes, names):
        spec = sweep.parameters[name]
        x = _positions(ax, scored[name], spec)
        look = {"s": 28, "edgecolors": "C0", "linewidths": 1.2}
        ax.scatter(x[~pruned], metric[~pruned], color="C0", label="trial", **look)
        if pruned.any():
            ax.scatter(x[pruned], metric[pruned], facecolors="none", label="pruned", **look)
        at = list(scored.index).index(best)
        ax.plot([x[at]], [metric[best]], marker="*", markersize=15, color="C3", markeredgecolor="k", linestyle="")
        ax.set(xlabel=name, ylabel=sweep.metric)
        ax.grid(alpha=0.3)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    return fig


def _positions(ax, column, spec):
    """x of each trial: the value (a log axis where the parameter was drawn on one), or for a choice the
    index of its value among the choices, labelled with the values."""
    import numpy as np

    choices = getattr(spec, "values", None)
    if choices:
        labels = [_label(v) for v in choices]
        seen = [str(v) for v in column]
        labels += sorted(set(seen) - set(labels))  # a value the trials hold but the list lost (edited file)
        ax.set_xticks(range(len(labels)), labels, rotation=30 if max(map(len, labels)) > 6 else 0)
        ax.set_xlim(-0.5, len(labels) - 0.5)
        return np.array([labels.index(v) for v in seen], dtype=float)
    x = np.array([float(v) for v in column])
    if getattr(spec, "distribution", "") in ("loguniform", "qloguniform") or getattr(spec, "log", False):
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))  # labels within a decade too: 0.05, 0.1, 0.2
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    return x


def _label(value) -> str:
    """A choice as trials.csv writes it: YAML's flow style for a list ([32, 32]), the value itself otherwise."""
    from nnlab.sweep.records import _cell

    return str(_cell(value))
