"""What a sweep folder records of its trials, and how a resumed sweep reads it back.

- ``trials.csv``: one row per trial, best first, rewritten atomically whenever a trial starts, pauses or
  ends: its values, status, metric and best epoch, the ``epochs`` it trained, for ASHA and Hyperband its
  ``bracket``, the ``rung`` it reached and the epochs of the job it runs (``target``), its score at each
  rung (``rungs``), and for TPE the Optuna trial of its current job (``study_trial``). A job is decided
  (and written here) before it starts: a resumed sweep continues what was decided, and decides nothing again.
- ``progress.csv``: one row per job that ended: the epochs the whole sweep had spent then and the best
  metric so far (``nnlab plot SWEEP_DIR`` draws it).
- ``best.yaml``: the best trial's config, ready for ``nnlab train``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nnlab.atomic import atomic_write
from nnlab.config import load_yaml
from nnlab.errors import ConfigError
from nnlab.runs.folder import RunFolder
from nnlab.sweep.rungs import score_key
from nnlab.sweep.space import SweepConfig, one_line
from nnlab.sweep.trial import nan

TRIALS, BEST, PROGRESS = "trials.csv", "best.yaml", "progress.csv"
#: statuses of a trial that has ended; a paused one waits at a rung, any other runs (again) on resume
ENDED = ("completed", "stopped_early", "converged", "diverged", "pruned", "failed")


@dataclass
class Trial:
    index: int
    values: dict | None
    config: dict | None
    status: str = "pending"
    metric: float | None = None
    best_epoch: int | None = None
    seconds: float | None = None
    run_dir: str = ""
    error: str = ""
    curve: list = field(default_factory=list)
    epochs: int = 0  # epochs trained so far
    bracket: int | None = None
    rungs: dict = field(default_factory=dict)  # str(epochs) → score at that rung
    target: int | None = None  # the epochs the current (or interrupted) job trains to
    study_trial: int | None = None  # TPE: the Optuna trial of the current job
    jobs: int = 0


def _cell(v):
    return v if isinstance(v, (int, float, str, bool)) else yaml.safe_dump(v, default_flow_style=True).strip()


def write_trials(sweep_dir: Path, sweep: SweepConfig, trials: list[Trial]) -> None:
    """trials.csv: one row per trial, sorted by the metric (best first), rewritten atomically."""
    import pandas as pd

    halving = bool(sweep.prune and sweep.prune.halving)
    rows = []
    for t in sorted(trials, key=lambda t: score_key(t.metric, sweep.mode, t.index)):
        row = {"trial": t.index}
        row.update({p: _cell(v) for p, v in (t.values or {p: "" for p in sweep.parameters}).items()})
        row.update({"status": t.status, sweep.metric: t.metric, "best_epoch": t.best_epoch, "epochs": t.epochs})
        if halving:
            row.update(bracket=t.bracket, rung=len(t.rungs) - 1 if t.rungs else None, target=t.target)
        row.update(seconds=t.seconds, run_dir=os.path.relpath(t.run_dir, sweep_dir) if t.run_dir else "")
        row.update(
            error=t.error, curve=json.dumps([None if v is None or nan(v) else round(float(v), 6) for v in t.curve])
        )
        if halving:
            row["rungs"] = json.dumps(t.rungs)
        if sweep.method == "tpe":
            row["study_trial"] = t.study_trial
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in ("best_epoch", "bracket", "rung", "target", "study_trial"):  # 300, not 300.0, beside empty cells
        if column in frame:
            frame[column] = frame[column].astype("Int64")
    atomic_write(sweep_dir / TRIALS, frame.to_csv(index=False))


def restore_trials(trials: list[Trial], sweep_dir: Path, metric: str) -> None:
    """Each trial's state from trials.csv (resuming a sweep); a damaged file is a ``ConfigError``."""
    path = sweep_dir / TRIALS
    if not path.is_file():
        return
    import pandas as pd

    try:
        frame = pd.read_csv(path, keep_default_na=False, dtype=str)
        by_index = {t.index: t for t in trials}
        for row in frame.to_dict("records"):
            t = by_index.get(int(row["trial"]))
            if t is not None:
                _restore_row(t, row, sweep_dir, metric)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        what = f"no column {e}" if isinstance(e, KeyError) else one_line(str(e))[:200]
        raise ConfigError(
            f"{path} is damaged ({what}); restore it, or delete it to run every trial of the sweep again"
        ) from None


def _restore_row(t: Trial, row: dict, sweep_dir: Path, metric: str) -> None:
    t.status, t.error = row["status"], str(row["error"])
    t.run_dir = str(sweep_dir / str(row["run_dir"])) if row["run_dir"] else ""
    t.metric = _number(row[metric])
    t.best_epoch = _integer(row["best_epoch"])
    t.seconds = _number(row["seconds"])
    t.curve = json.loads(row["curve"]) if row.get("curve") else []
    t.epochs = _integer(row.get("epochs")) or len(t.curve)
    t.bracket, t.target = _integer(row.get("bracket")), _integer(row.get("target"))
    t.study_trial = _integer(row.get("study_trial"))
    t.rungs = json.loads(row["rungs"]) if row.get("rungs") else {}
    if not isinstance(t.rungs, dict) or not isinstance(t.curve, list):
        raise ValueError(f"trial {t.index}: rungs and curve are JSON (a mapping, a list)")


def _number(v) -> float | None:
    if v is None or v == "":
        return None
    v = float(v)
    return None if nan(v) else v


def _integer(v) -> int | None:
    v = _number(v)
    return None if v is None else int(v)


def write_progress(sweep_dir: Path, rows: list[dict]) -> None:
    import pandas as pd

    atomic_write(sweep_dir / PROGRESS, pd.DataFrame(rows).to_csv(index=False))


def read_progress(sweep_dir: Path) -> list[dict]:
    """progress.csv's rows (none where it is missing); a damaged file is a ``ConfigError``."""
    path = Path(sweep_dir) / PROGRESS
    if not path.is_file():
        return []
    import pandas as pd

    try:
        frame = pd.read_csv(path)
        rows = frame.to_dict("records")
        for r in rows:
            int(r["job"]), int(r["trial"]), int(r["spent"])
        return rows
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise ConfigError(f"{path} is damaged ({one_line(str(e))[:200]}); delete it, and the sweep goes on") from None


def progress_row(trials: list[Trial], t: Trial, job: int, mode: str) -> dict:
    """progress.csv's row for a job of trial ``t`` that just ended."""
    best = min(trials, key=lambda x: score_key(x.metric, mode, x.index))
    return {
        "job": job,
        "trial": t.index,
        "epochs": t.epochs,
        "spent": sum(x.epochs for x in trials),
        "metric": t.metric,
        "best": best.metric,
        "best_trial": best.index if best.metric is not None else None,
    }


def best_trial(sweep: SweepConfig, trials: list[Trial]) -> Trial | None:
    """The trial with the best metric; None where no trial has one (every trial failed, say)."""
    scored = [t for t in trials if t.metric is not None and not nan(t.metric) and t.run_dir]
    return min(scored, key=lambda t: score_key(t.metric, sweep.mode, t.index)) if scored else None


def write_best(sweep_dir: Path, sweep: SweepConfig, trials: list[Trial]) -> Trial | None:
    """best.yaml: the resolved config of the best trial, ready for ``nnlab train``; None (and no file)
    where no trial has a metric."""
    best = best_trial(sweep, trials)
    if best is None:
        return None
    config = load_yaml(RunFolder(best.run_dir).config_file.read_text())
    header = (
        f"# best trial of sweep {sweep_dir.name}: trial {best.index}, {sweep.metric} {best.metric:.6g} "
        f"at epoch {best.best_epoch}\n"
    )
    atomic_write(sweep_dir / BEST, header + yaml.safe_dump(config, sort_keys=False))
    return best
