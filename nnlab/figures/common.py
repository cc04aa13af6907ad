"""What the figures share: an Agg figure (no pyplot, no global backend), checked output paths, atomic
writes, and the plane of a 2-D run's raw inputs."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from nnlab.atomic import atomic_write
from nnlab.errors import NnlabError


def new_figure(width: float, height: float, layout: str | None = "constrained"):
    """A figure on its own Agg canvas; ``layout=None`` where many axes would make the constrained layout slow
    (it measures every tick label of every axes), the caller placing them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(fig)
    return fig


def check_output(out, suffix: str, option: str = "-o") -> Path:
    """``out`` as a Path, refused (before any work) unless it ends in ``suffix`` and its folder exists."""
    out = Path(out)
    if out.suffix.lower() != suffix:
        kind = suffix[1:].upper()
        raise NnlabError(
            f"{option}: the figure is written as {kind}, give a file name ending in {suffix} (got '{out}')"
        )
    if not out.parent.is_dir():
        raise NnlabError(f"{option}: folder '{out.parent}' not found")
    return out


def write_png(fig, out: Path, dpi: int = 100) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    atomic_write(out, buf.getvalue())
    return out


def raw_points(model):
    """The run's data before preprocessing, its splits: the points a figure over the input plane shows."""
    from nnlab.data.core import raw_splits

    return raw_splits(model.config.data, model.config.seed)


def input_plane(raw, steps: int = 100):
    """A ``steps`` × ``steps`` grid over the raw inputs' box (10 % margin): ``(g0, g1, points)``, points of
    shape (steps², 2) in raw feature units."""
    X_all = np.vstack([raw.X_train, raw.X_val, raw.X_test]).astype(np.float64)
    lo, hi = X_all.min(axis=0), X_all.max(axis=0)
    pad = 0.1 * np.where(hi > lo, hi - lo, 1.0)
    g0, g1 = np.meshgrid(
        np.linspace(lo[0] - pad[0], hi[0] + pad[0], steps), np.linspace(lo[1] - pad[1], hi[1] + pad[1], steps)
    )
    return g0, g1, np.c_[g0.ravel(), g1.ravel()]
