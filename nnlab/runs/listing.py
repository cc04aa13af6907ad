"""``nnlab runs``: one row per run folder of a folder, read from each run's summary.json."""

from __future__ import annotations

from pathlib import Path

from nnlab.errors import CheckpointError, NnlabError, did_you_mean
from nnlab.metrics import metric_mode
from nnlab.runs.folder import RunFolder

#: the columns every row has, in display order; metric columns (val_*, test_*) follow
BASE = ("name", "status", "epochs", "best_epoch")
TAIL = ("seconds",)


def list_runs(folder: str | Path = "runs") -> list[dict]:
    """Rows for the run folders directly inside ``folder`` (or for ``folder`` itself if it is a run)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"folder '{folder}' not found" if not folder.exists() else f"'{folder}' is not a folder")
    runs = RunFolder.is_run
    dirs = [folder] if runs(folder) else sorted(p for p in folder.iterdir() if runs(p))
    return [_row(d) for d in dirs]


def _row(run_dir: Path) -> dict:
    row = {"name": run_dir.name, "status": "unknown", "epochs": None, "best_epoch": None}
    try:
        summary = RunFolder(run_dir).read_summary()
    except CheckpointError:
        return {**row, "status": "unreadable", "seconds": None, "path": str(run_dir)}
    if summary:
        row["status"] = summary.get("status", "unknown")
        row["epochs"] = summary.get("epochs")
        row["epochs_planned"] = summary.get("epochs_planned")
        best = summary.get("best") or {}
        row["best_epoch"] = best.get("epoch")
        for k, v in (best.get("metrics") or {}).items():
            if k.startswith("val_"):
                row[k] = v
        row.update(summary.get("test") or {})
    row["seconds"] = summary.get("wall_seconds")
    row["path"] = str(run_dir)
    return row


def columns(rows: list[dict], everything: bool = False) -> list[str]:
    """Columns: name, status, epochs, best epoch, the val_* and test_* metrics present, seconds. The table
    shows the loss, accuracy and R² only (``everything`` adds the other metrics, e.g. test_mse)."""
    seen = []
    for r in rows:
        for k in r:
            if k.startswith(("val_", "test_")) and k not in seen:
                seen.append(k)
    if not everything:
        seen = [k for k in seen if k.split("_", 1)[1] in _SHOWN]
    metrics = sorted(seen, key=lambda k: (not k.startswith("val_"), _ORDER.get(k.split("_", 1)[1], 9), k))
    return [*BASE, *metrics, *TAIL]


_SHOWN = ("loss", "accuracy", "r2")
_ORDER = {"loss": 0, "accuracy": 1, "r2": 2, "mse": 3, "mae": 4}


def sort_runs(rows: list[dict], column: str = "name", reverse: bool = False) -> list[dict]:
    """Sorted by ``column``: metrics best first (accuracy and R² descending, losses and errors ascending),
    other columns ascending; runs without the value last."""
    known = columns(rows, everything=True) if rows else [*BASE, *TAIL]
    if column not in known and not any(column in r for r in rows):
        raise NnlabError(f"--sort: unknown column '{column}'{did_you_mean(column, known)} (columns: {', '.join(known)})")
    descending = column.startswith(("val_", "test_")) and metric_mode(column) == "max"
    present = [r for r in rows if r.get(column) is not None]
    absent = [r for r in rows if r.get(column) is None]
    present.sort(key=lambda r: r[column], reverse=descending != reverse)
    return present + absent
