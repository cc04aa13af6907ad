"""``nnlab runs``: one row per run folder of a folder, read from each run's summary.json (and, in a sweep
folder, from the sweep's trials.csv)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from nnlab.errors import CheckpointError, NnlabError, did_you_mean
from nnlab.metrics import metric_mode
from nnlab.runs.folder import RunFolder

#: the columns every row has, in display order; metric columns (val_*, test_*) follow
BASE = ("name", "status", "epochs", "best_epoch")
TAIL = ("seconds",)
#: the status of a run whose summary says running but that no live process holds (killed, crashed)
STALE = "stale"


def list_runs(folder: str | Path = "runs") -> list[dict]:
    """Rows for the run folders directly inside ``folder`` (or for ``folder`` itself if it is a run). In a
    sweep folder each row is a trial: its ``trial`` number, the sweep's metric at the trial's best epoch by
    that metric and that epoch (``best_epoch``), from trials.csv, in place of the validation metrics."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"folder '{folder}' not found" if not folder.exists() else f"'{folder}' is not a folder")
    runs = RunFolder.is_run
    dirs = [folder] if runs(folder) else sorted(p for p in folder.iterdir() if runs(p))
    rows = [_row(d) for d in dirs]
    sweep = sweep_metric(folder)
    if sweep:
        _add_trials(rows, folder, sweep[0])
    return rows


def _row(run_dir: Path) -> dict:
    row = {"name": run_dir.name, "status": "unknown", "epochs": None, "best_epoch": None}
    folder = RunFolder(run_dir)
    try:
        summary = folder.read_summary()
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
    if row["status"] in ("running", "unknown"):
        # summary.json says running (or is not written yet): only a live process holding the folder makes it so
        held = folder.is_held()  # None where the platform cannot tell
        if held:
            row["status"] = "running"
        elif held is False and row["status"] == "running":
            row["status"] = STALE
    row["seconds"] = summary.get("wall_seconds")
    row["path"] = str(run_dir)
    return row


def sweep_metric(folder: str | Path) -> tuple[str, str] | None:
    """The metric a sweep folder ranks its trials by and its mode (``"max"``/``"min"``); None for a folder
    that is not a sweep's."""
    import yaml

    from nnlab.sweep.runner import SWEEP_FILE, load_sweep_dir

    if not (Path(folder) / SWEEP_FILE).is_file():
        return None
    try:
        sweep, _ = load_sweep_dir(folder)
    except (ValueError, yaml.YAMLError) as e:  # the file was edited by hand
        raise CheckpointError(f"'{Path(folder) / SWEEP_FILE}' is not a readable sweep file: {e}") from None
    return sweep.metric, sweep.mode


def _add_trials(rows: list[dict], sweep_dir: Path, metric: str) -> None:
    """Each trial's number, best value of ``metric`` and its epoch, from trials.csv; the summary's validation
    metrics (of the best epoch by the run's own monitor, another epoch) are left out."""
    from nnlab.sweep.runner import TRIALS

    trials = {}
    path = sweep_dir / TRIALS
    if path.is_file():
        with path.open(newline="") as f:
            for t in csv.DictReader(f):
                if t.get("run_dir"):
                    trials[(sweep_dir / t["run_dir"]).resolve()] = t
    for row in rows:
        for k in [k for k in row if k.startswith("val_")]:
            del row[k]
        t = trials.get(Path(row["path"]).resolve(), {})
        row["trial"] = _number(t.get("trial"), int)
        row[metric] = _number(t.get(metric))
        row["best_epoch"] = _number(t.get("best_epoch"), int)


def _number(text, kind=float):
    """A number of trials.csv ("", "nan" and missing: None; "300.0" as an int: 300)."""
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else kind(v)


def _has(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def columns(rows: list[dict], everything: bool = False, metric: str | None = None) -> list[str]:
    """The columns that have a value in at least one of ``rows``, in display order: name, status, epochs,
    (the sweep's ``metric``), best epoch, the val_* and test_* metrics, seconds. The table shows the loss,
    accuracy and R² only (``everything`` adds the other metrics, e.g. test_mse)."""
    seen = []
    for r in rows:
        for k in r:
            if k.startswith(("val_", "test_")) and k not in seen and k != metric:
                seen.append(k)
    if not everything:
        seen = [k for k in seen if k.split("_", 1)[1] in _SHOWN]
    metrics = sorted(seen, key=lambda k: (not k.startswith("val_"), _ORDER.get(k.split("_", 1)[1], 9), k))
    cols = [*BASE[:3], metric, BASE[3]] if metric else list(BASE)  # a sweep's metric, then its epoch
    cols += [*metrics, *TAIL]
    return [c for c in cols if c == "name" or any(_has(r.get(c)) for r in rows)]


_SHOWN = ("loss", "accuracy", "r2")
_ORDER = {"loss": 0, "accuracy": 1, "r2": 2, "mse": 3, "mae": 4}


def by_priority(cols: list[str], first: str | None = None, metric: str | None = None) -> list[str]:
    """``cols`` most telling first, for a narrow table to keep: the name, ``first`` (the sort column), a
    sweep's ``metric`` and its best epoch, status, epochs, the main metrics (accuracy or R², validation then
    test), the time, the best epoch, the losses, the rest."""

    def rank(c: str) -> tuple:
        if c == "name":
            return (0,)
        if c in (first, metric) or (metric and c == "best_epoch"):
            return (1, c != first, c == "best_epoch")
        if c in ("status", "epochs"):
            return (2, c == "epochs")
        kind = c.split("_", 1)[1] if c.startswith(("val_", "test_")) else ""
        if kind in ("accuracy", "r2"):
            return (3, not c.startswith("val_"), kind)
        order = ("seconds", "best_epoch", "val_loss", "test_loss")
        return (4, order.index(c)) if c in order else (5, c)

    return sorted(cols, key=rank)


def sort_runs(rows: list[dict], column: str = "name", reverse: bool = False, mode: str = "auto") -> list[dict]:
    """Sorted by ``column``: metrics best first (accuracy and R² descending, losses and errors ascending;
    ``mode`` "max" or "min" says it for a metric whose name does not), other columns ascending; runs without
    the value last."""
    known = columns(rows, everything=True) if rows else [*BASE, *TAIL]
    if column not in [*BASE, *TAIL] and not any(column in r for r in rows):
        raise NnlabError(
            f"--sort: unknown column '{column}'{did_you_mean(column, known)} (columns: {', '.join(known)})"
        )
    metric = mode != "auto" or column.startswith(("val_", "test_"))
    descending = metric and metric_mode(column, mode) == "max"
    present = [r for r in rows if _has(r.get(column))]
    absent = [r for r in rows if not _has(r.get(column))]
    present.sort(key=lambda r: r[column], reverse=descending != reverse)
    return present + absent
