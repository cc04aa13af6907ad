"""``nnlab export tensorboard``: finished runs as TensorBoard event files.

For each run folder under the path given (a run, a sweep's folder, a folder of runs, searched to any
depth), ``LOGDIR/<the run's path below it>/`` gets one event file: every column of metrics.csv as a scalar
per epoch, the test figures of summary.json at the last epoch, and config.yaml (the resolved config) with
the run's status as an HParams session, so that the HParams tab of ``tensorboard --logdir LOGDIR``
compares the runs. Exporting again replaces the event files written before; nothing in the runs changes.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from nnlab.errors import CheckpointError, NnlabError
from nnlab.runs.folder import RunFolder
from nnlab.training.tensorboard import EventWriter, require

DEFAULT_LOGDIR = "tensorboard"


def find_runs(path: str | Path) -> list[tuple[Path, Path]]:
    """(run folder, its name in the log folder) for ``path`` itself if it is a run, else every run folder
    below it; a one-line error where there is none."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"'{path}' not found: give a run folder, a sweep's folder or a folder of runs")
    if not path.is_dir():
        raise CheckpointError(f"'{path}' is a file: give a run folder, a sweep's folder or a folder of runs")
    if RunFolder.is_run(path):
        return [(path, Path(path.resolve().name))]
    runs = []
    for root, dirs, _ in os.walk(path):
        dirs.sort()
        below = [Path(root) / d for d in dirs]
        runs += [(p, p.relative_to(path)) for p in below if RunFolder.is_run(p)]
        dirs[:] = [p.name for p in below if not RunFolder.is_run(p)]  # a run's own subfolders hold no run
    if not runs:
        raise CheckpointError(
            f"'{path}' holds no run folder (a run folder holds {RunFolder.CONFIG} and {RunFolder.CHECKPOINTS}/)"
        )
    return runs


def read_metrics(folder: RunFolder) -> list[dict]:
    """metrics.csv's rows, numbers as floats (the epoch as an int), empty cells left out; [] where no epoch
    has finished."""
    if not folder.metrics_file.is_file():
        return []
    try:
        with open(folder.metrics_file, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, csv.Error) as e:
        raise CheckpointError(f"'{folder.metrics_file}' is not a readable CSV file: {e}") from None
    out = []
    for i, row in enumerate(rows):
        try:
            values = {k: float(v) for k, v in row.items() if k and v not in ("", None)}
        except ValueError as e:
            raise CheckpointError(f"'{folder.metrics_file}' row {i + 2}: {e}") from None
        if "epoch" in values:
            values["epoch"] = int(values["epoch"])
        out.append(values)
    return out


def _read_config(folder: RunFolder) -> dict:
    from nnlab.config import load_yaml

    try:
        config = load_yaml(folder.config_file.read_text())
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
        raise CheckpointError(f"'{folder.config_file}' is not readable YAML: {e}") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"'{folder.config_file}' does not hold a config")
    return config


def export_run(run_dir: Path, logdir: Path) -> int:
    """One run's event file in ``logdir`` (replacing those an earlier export wrote); returns its epochs."""
    folder = RunFolder(run_dir)
    rows, config, summary = read_metrics(folder), _read_config(folder), folder.read_summary()
    logdir.mkdir(parents=True, exist_ok=True)
    for old in logdir.glob("events.out.tfevents.*"):
        old.unlink()
    writer = EventWriter(logdir, flush_secs=3600)
    try:
        writer.session_start(config)
        for i, row in enumerate(rows):
            writer.scalars(row, int(row.get("epoch", i + 1)))
        last = int(rows[-1].get("epoch", len(rows))) if rows else 0
        writer.finish(summary, last)
    finally:
        writer.close()
    return len(rows)


def export_tensorboard(path: str | Path, logdir: str | Path = DEFAULT_LOGDIR) -> list[tuple[Path, Path, int]]:
    """Every run under ``path`` into ``logdir``; (run folder, its log folder, epochs) per run. Everything is
    checked before anything is written."""
    require("nnlab export tensorboard")
    runs = find_runs(path)
    logdir = Path(logdir)
    if logdir.exists() and not logdir.is_dir():
        raise NnlabError(f"-o: '{logdir}' is a file, not a folder for the event files")
    for run_dir, _ in runs:
        if RunFolder(run_dir).metrics_file.is_file():
            read_metrics(RunFolder(run_dir))
        _read_config(RunFolder(run_dir))
    done = []
    for run_dir, name in runs:
        done.append((run_dir, logdir / name, export_run(run_dir, logdir / name)))
    return done
