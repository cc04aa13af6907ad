"""``nnlab plot RUN --gradients``: what ``training.diagnostics: true`` recorded, layer by layer over the epochs.

metrics.csv's ``grad_norm_l`` (the mean over an epoch's batches of ‖∂J/∂W^[l]‖) and ``update_ratio_l`` (of
‖ΔW^[l]‖ / ‖W^[l]‖), l = 1 for the first weight layer: one line per layer, coloured from the input (dark)
to the output (light), on log scales, with deck 002's rule of thumb 1e-3 for the ratio. Layers whose lines
fall decades below the others learn little (vanishing gradients); ratios far above 1e-3 mean a rate too
high for the weights, far below one too low.
"""

from __future__ import annotations

import re
from pathlib import Path

from nnlab.errors import NnlabError
from nnlab.figures.common import check_output, new_figure, write_png
from nnlab.inspection import GOOD_RATIO
from nnlab.runs.folder import RunFolder

_COLUMN = re.compile(r"(grad_norm|update_ratio)_(\d+)$")


def plot_gradients(run_dir, out) -> Path:
    out = check_output(out, ".png")
    return write_png(gradients_figure(run_dir), out)


def gradients_figure(run_dir):
    """Two axes: the gradient norm and the update ratio of every weight layer against the epoch."""
    from matplotlib import colormaps

    folder = RunFolder.open(run_dir)
    frame = folder.read_metrics()
    layers = diagnostics_layers(frame.columns)
    if not layers:
        raise NnlabError(
            f"run '{folder.name}' has no gradient diagnostics in its {RunFolder.METRICS}: run with "
            "training.diagnostics: true (nnlab train CONFIG -o training.diagnostics=true)"
        )
    fig = new_figure(12.0, 4.6)
    fig.suptitle(f"{folder.name}: gradients per weight layer (training.diagnostics)")
    ax_grad, ax_ratio = fig.subplots(1, 2)
    cmap = colormaps["viridis"]
    for k, layer in enumerate(layers):
        color = cmap(0.85 * k / max(len(layers) - 1, 1))
        for ax, name in ((ax_grad, "grad_norm"), (ax_ratio, "update_ratio")):
            column = f"{name}_{layer}"
            if column in frame:
                ax.plot(frame["epoch"], frame[column], color=color, label=f"layer {layer}")
    ax_ratio.axhline(GOOD_RATIO, color="0.3", linestyle=":", label=f"rule of thumb {GOOD_RATIO:g}")
    ax_grad.set(title="‖∂J/∂W‖, mean over the epoch's batches", xlabel="epoch", yscale="log")
    ax_ratio.set(title="update / weight ‖ΔW‖ / ‖W‖", xlabel="epoch", yscale="log")
    for ax in (ax_grad, ax_ratio):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small", ncol=2 if len(layers) > 6 else 1)
    return fig


def diagnostics_layers(columns) -> list[int]:
    """The weight layers (1, 2, ...) that metrics.csv's diagnostics columns cover."""
    return sorted({int(m.group(2)) for c in columns if (m := _COLUMN.match(str(c)))})
