"""``nnlab inspect -o FILE.png``: deck 002's picture of an initialisation, from an ``Inspection``.

The top row follows the layers: the activations' mean and standard deviation (the pre-activations' dashed),
‖∂J/∂W‖, and the update ratio ‖ΔW‖ / ‖W‖ against the rule of thumb 1e-3. Below, one histogram per hidden
layer of its activations, then one of its pre-activations, all on one horizontal scale per row: a signal
that shrinks layer after layer shows as ever narrower spikes at 0, a saturated one as two spikes at the
bounds, a normalised one as the same bell in every layer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnlab.figures.common import check_output, new_figure, write_png
from nnlab.inspection import BOUNDS, GOOD_RATIO, Inspection

BINS = 51  # odd: 0 is the middle of a bin, not an edge between two


def plot_inspection(report: Inspection, out) -> Path:
    """Write ``inspection_figure(report)`` as the PNG ``out``."""
    return write_png(inspection_figure(report), check_output(out, ".png"))


def inspection_figure(report: Inspection):
    """The figure as a matplotlib ``Figure``: a row of 4 summary axes, then a row of activation histograms
    and a row of pre-activation histograms with one axes per hidden layer (the output layer too where the
    network has no hidden one)."""
    shown = report.layers[:-1] or report.layers
    fig = new_figure(max(13.0, 1.7 * len(shown)), 9.0, layout=None)
    where = f"{report.checkpoint}, epoch {report.epoch}" if report.kind == "run" else "freshly initialised"
    fig.suptitle(
        f"{Path(report.source).name} ({where}): {report.examples} {report.split} examples, loss {report.loss:.4g}"
    )
    rows = fig.add_gridspec(3, 1, height_ratios=[1.2, 1, 1], hspace=0.6, left=0.05, right=0.99, top=0.9, bottom=0.04)
    top = rows[0].subgridspec(1, 4, wspace=0.3)
    _summary([fig.add_subplot(top[0, i]) for i in range(4)], report, shown)
    _histograms(fig, rows[1], shown, "act", "activations φ(z)")
    _histograms(fig, rows[2], shown, "pre", "pre-activations z")
    return fig


def _summary(axes, report: Inspection, shown) -> None:
    n, h = [la.number for la in report.layers], [la.number for la in shown]
    ax_mean, ax_std, ax_grad, ax_ratio = axes
    ax_mean.plot(h, [la.act_mean for la in shown], "o-", label="activations")
    ax_mean.plot(h, [la.pre_mean for la in shown], "s--", label="pre-activations", alpha=0.7)
    ax_mean.set(title="mean per hidden layer", xlabel="layer")
    ax_std.plot(h, [la.act_std for la in shown], "o-", label="activations")
    ax_std.plot(h, [la.pre_std for la in shown], "s--", label="pre-activations", alpha=0.7)
    ax_std.set(title="standard deviation per hidden layer", xlabel="layer")
    _log_if_spread(ax_std, [la.act_std for la in shown] + [la.pre_std for la in shown])
    grads = [(la.number, la.grad_norm) for la in report.layers if la.grad_norm is not None]
    if grads:
        ax_grad.plot(*zip(*grads), "o-", color="C2")
    ax_grad.set(title="‖∂J/∂W‖ per layer", xlabel="layer")
    _log_if_spread(ax_grad, [g for _, g in grads], always=True)
    ratios = [(la.number, la.update_ratio) for la in report.layers if la.update_ratio]
    if ratios:
        ax_ratio.plot(*zip(*ratios), "o-", color="C3", label=f"{report.optimizer}, lr {report.lr:g}")
    ax_ratio.axhline(GOOD_RATIO, color="0.4", linestyle=":", label=f"rule of thumb {GOOD_RATIO:g}")
    ax_ratio.set(title="update / weight ‖ΔW‖ / ‖W‖", xlabel="layer", yscale="log")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.set_xticks(n if ax in (ax_grad, ax_ratio) else h)
    for ax in (ax_mean, ax_std, ax_ratio):
        ax.legend(fontsize="small")


def _log_if_spread(ax, values, always: bool = False) -> None:
    v = [x for x in values if x and x > 0]
    if v and (always or max(v) / min(v) > 100):
        ax.set_yscale("log")


def _histograms(fig, row, layers, key: str, what: str) -> None:
    cells = row.subgridspec(1, len(layers), wspace=0.15)
    axes = [fig.add_subplot(cells[0, i]) for i in range(len(layers))]
    lo, hi = _range([getattr(la, key) for la in layers], [la.activation for la in layers], key)
    bins = np.linspace(lo, hi, BINS + 1)
    for ax, la in zip(axes, layers):
        values = getattr(la, key).ravel()
        counts, _ = np.histogram(np.clip(values, lo, hi), bins=bins)
        ax.stairs(counts / max(values.size, 1), bins, fill=True, color="C0" if key == "act" else "C1")
        std = la.act_std if key == "act" else la.pre_std
        note = _note(la) if key == "act" else ""
        ax.set_title(f"layer {la.number}\nstd {std:.2g}" + (f", {note}" if note else ""), fontsize="small")
        ax.tick_params(labelsize="x-small")
        ax.set_yticks([])  # each panel its own scale; the shape is the message
    axes[0].set_ylabel("share of the batch", fontsize="small")
    top = row.get_position(fig).y1
    fig.text(0.5, top + 0.045, f"{what}, one histogram per layer ({layers[0].activation})", ha="center")


def _range(arrays, activations, key: str) -> tuple[float, float]:
    """One scale for a row: an activation's bounds where every layer has the same bounded one; else the
    values' extent (99.9 % of them, symmetric around 0 for pre-activations)."""
    if key == "act" and len(set(activations)) == 1 and activations[0] in BOUNDS:
        lo, hi = BOUNDS[activations[0]]
        pad = 0.02 * (hi - lo)
        return lo - pad, hi + pad
    if key == "pre":
        top = max(float(np.quantile(np.abs(a), 0.999)) for a in arrays)
        top = top * 1.05 if top > 0 else 1.0
        return -top, top
    lo, hi = min(float(a.min()) for a in arrays), max(float(a.max()) for a in arrays)
    return (lo, hi) if hi > lo else (lo - 1.0, hi + 1.0)


def _note(la) -> str:
    if la.saturated is not None:
        return f"sat. {la.saturated:.0%}"
    if la.dead is not None:
        return f"dead {la.dead:.0%}"
    return ""
