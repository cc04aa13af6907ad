"""``nnlab plot SWEEP_DIR``: what a sweep bought with its epochs.

The left panel is the best metric so far against the epochs the whole sweep had spent (progress.csv: a
step each time a job ended), the number a search's cost is counted in; each job's result is a dot, coloured
by the epochs its trial had then trained (a rung, with ASHA or Hyperband). The right panel is every
trial's curve of the metric per epoch, a promoted trial's going on where its rung stopped it.
"""

from __future__ import annotations

import io
from pathlib import Path

from nnlab.atomic import atomic_write
from nnlab.errors import NnlabError


def epochs_summary(sweep_dir) -> dict | None:
    """``{"spent", "best", "best_at", "jobs"}``: the epochs the sweep spent, its best metric and the epochs
    spent when it was first reached; None before a job ended (or for a sweep of an older nnlab)."""
    from nnlab.sweep.records import read_progress

    rows = read_progress(sweep_dir)
    if not rows:
        return None
    last = rows[-1]
    best = last["best"]
    at = next((r["spent"] for r in rows if r["best"] == best), last["spent"]) if best == best else None
    return {"spent": int(last["spent"]), "best": best if best == best else None, "best_at": at, "jobs": len(rows)}


def plot_sweep(sweep_dir, out: str | Path | None = None) -> Path:
    """Draw the sweep's figure into the PNG ``out`` (default: SWEEP_DIR/search.png)."""
    sweep_dir = Path(sweep_dir)
    out = Path(out) if out is not None else sweep_dir / "search.png"
    if out.suffix.lower() != ".png":
        raise NnlabError(f"-o: the figure is written as PNG, give a file name ending in .png (got '{out}')")
    if not out.parent.is_dir():
        raise NnlabError(f"-o: folder '{out.parent}' not found")
    fig = sweep_figure(sweep_dir)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write(out, buf.getvalue())
    return out


def sweep_figure(sweep_dir):
    """The figure ``plot_sweep`` writes, as a matplotlib ``Figure``."""
    import json

    import pandas as pd
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from nnlab.sweep.records import TRIALS, read_progress
    from nnlab.sweep.runner import load_sweep_dir

    sweep, _ = load_sweep_dir(sweep_dir)
    rows = read_progress(sweep_dir)
    if not rows:
        raise NnlabError(f"sweep '{sweep_dir}' has no ended job yet (no progress.csv): nothing to draw")
    progress = pd.DataFrame(rows)
    fig = Figure(figsize=(11, 4.4), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    scatter = left.scatter(progress["spent"], progress["metric"], c=progress["epochs"], s=14, cmap="viridis")
    left.step(progress["spent"], progress["best"], where="post", color="C3", label=f"best {sweep.metric}")
    left.set(xlabel="epochs spent by the sweep", ylabel=sweep.metric, title="best so far against epochs spent")
    fig.colorbar(scatter, ax=left, label="the trial's epochs")
    left.legend(loc="lower right" if sweep.mode == "max" else "upper right")
    trials = pd.read_csv(Path(sweep_dir) / TRIALS, keep_default_na=False)
    for curve in trials["curve"]:
        values = [v if v is not None else float("nan") for v in json.loads(curve or "[]")]
        if values:
            right.plot(range(1, len(values) + 1), values, color="C0", alpha=0.45, lw=1)
    right.set(xlabel="epoch", ylabel=sweep.metric, title=f"each trial's {sweep.metric}")
    rule = f", prune: {sweep.prune.rule}" if sweep.prune else ""
    fig.suptitle(f"sweep {Path(sweep_dir).name} ({sweep.method}{rule}): {int(progress['spent'].iloc[-1])} epochs")
    return fig
