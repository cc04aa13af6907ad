"""Running a sweep's trials: serially, in local worker processes, or on a Dask cluster.

The sweep folder holds the sweep (``sweep.yaml``, its base config inlined), one ordinary run folder per
trial, ``trials.csv`` (rewritten atomically whenever a trial starts or ends, sorted by the metric) and
``best.yaml``. A trial that fails or diverges is recorded and the sweep goes on. An interrupted sweep marks
its running trials ``interrupted``, in trials.csv and in their own summary.json (local workers are killed;
a Dask task, which cannot be, stops when it sees the sweep's ``STOP`` file), and resumes with
``resume=True``: trials that ended are kept, the others are run again from scratch.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nnlab.atomic import atomic_write
from nnlab.config import load_yaml
from nnlab.errors import ConfigError, NnlabError
from nnlab.runs.folder import RunFolder, new_folder
from nnlab.sweep.executors import Dask, Local, check_options, make_executor
from nnlab.sweep.space import (
    SweepConfig,
    check_metric,
    choice_combinations,
    one_line,
    plan_trials,
    read_yaml,
    sweep_model,
)
from nnlab.sweep.trial import STOP, mark_interrupted, nan

SWEEP_FILE, TRIALS, BEST = "sweep.yaml", "trials.csv", "best.yaml"
#: statuses of a trial that has ended; any other (pending, running, interrupted) runs again on resume
ENDED = ("completed", "stopped_early", "converged", "diverged", "pruned", "failed")


@dataclass
class Trial:
    index: int
    values: dict
    config: dict
    status: str = "pending"
    metric: float | None = None
    best_epoch: int | None = None
    seconds: float | None = None
    run_dir: str = ""
    error: str = ""
    curve: list = field(default_factory=list)


class SweepInterrupted(NnlabError):
    """Ctrl-C during a sweep: the trials that ended are kept; resume with --resume."""

    def __init__(self, sweep_dir: Path):
        super().__init__(f"sweep interrupted; finish it with: nnlab sweep --resume {sweep_dir}")
        self.sweep_dir = sweep_dir


# ------------------------------------------------------------------------------------------ the sweep
def check_sweep(sweep: SweepConfig, base: dict, trials: int | None = None) -> SweepConfig:
    """Every check of a new sweep, before anything is created: every trial's config is valid, and every
    trial will have the metric that ranks it. Returns the sweep with ``trials`` set where given."""
    if trials is not None:
        check_options(trials=trials)
        sweep = sweep.model_copy(update={"trials": trials})
    planned = plan_trials(sweep, base)
    check_metric(sweep, base, planned)
    return sweep


def start_sweep(sweep: SweepConfig, base: dict, runs_dir, trials: int | None = None) -> Path:
    """Create ``runs/sweeps/<name>-<time>-<hex>/`` holding the sweep with its base config inlined."""
    sweep = check_sweep(sweep, base, trials)
    combos = choice_combinations(sweep)
    if sweep.method == "random" and combos is not None and sweep.trials > combos:
        warnings.warn(
            f"trials: {sweep.trials}, but the space has {combos} combinations: each is tried once, then "
            f"{sweep.trials - combos} trials repeat one (the same config and seed train the same run); "
            f"method: grid tries each combination once",
            stacklevel=2,
        )
    sweep_dir = new_folder(Path(runs_dir) / "sweeps", sweep.name)
    stored = sweep.model_dump(mode="json", exclude_none=True)
    stored["base"] = base
    atomic_write(sweep_dir / SWEEP_FILE, yaml.safe_dump(stored, sort_keys=False))
    return sweep_dir


def load_sweep_dir(sweep_dir) -> tuple[SweepConfig, dict]:
    sweep_dir = Path(sweep_dir)
    if not (sweep_dir / SWEEP_FILE).is_file():
        raise ConfigError(f"'{sweep_dir}' is not a sweep folder (it has no {SWEEP_FILE})")
    path = sweep_dir / SWEEP_FILE
    raw, text = read_yaml(path, "the sweep's")
    damaged = f"the sweep folder's {path} is damaged"
    if not isinstance(raw, dict) or not isinstance(raw.get("base"), dict):
        raise ConfigError(f"{damaged}: it is not a sweep with its base config inlined; start the sweep again")
    try:
        sweep = sweep_model(raw, str(path), text)
    except ConfigError as e:
        raise ConfigError(f"{damaged}: {e}") from None
    return sweep, sweep.base


def run_sweep(
    sweep_dir,
    workers: int = 1,
    dask: str | None = None,
    on_change: Callable | None = None,
    threads: int | None = None,
    executor=None,
) -> list[Trial]:
    """Run every trial of the sweep in ``sweep_dir`` that has not ended yet; return all trials. ``executor``
    (``nnlab.sweep.executors.make_executor``) is made from ``workers`` and ``dask`` where not given."""
    sweep_dir = Path(sweep_dir)
    sweep, base = load_sweep_dir(sweep_dir)
    trials = [Trial(p["trial"], p["values"], p["config"]) for p in plan_trials(sweep, base)]
    _restore(trials, sweep_dir, sweep.metric)
    todo = [t for t in trials if t.status not in ENDED]
    check_options(workers, threads)
    _start_over(sweep_dir, todo)
    executor = executor or make_executor(workers, dask)
    cores, remote = os.cpu_count() or 1, isinstance(executor, Dask)
    blas = threads or (1 if remote else max(1, cores // max(1, min(executor.slots, len(todo) or 1))))
    by_future, queue = {}, list(todo)
    prune = sweep.prune.model_dump() if sweep.prune else None

    def changed():
        write_trials(sweep_dir, sweep, trials)
        if on_change:
            on_change(trials)

    def submit_next():
        t = queue.pop(0)
        t.status = "running"
        curves = [x.curve for x in trials if x.status in ENDED and x.curve]
        by_future[executor.submit(_trial_spec(t, sweep, sweep_dir, blas, prune, curves))] = t

    try:
        changed()
        while queue or by_future:
            while queue and len(by_future) < executor.slots:
                submit_next()
                changed()
            for fut in executor.wait_one(set(by_future)):
                t = by_future.pop(fut)
                try:
                    _apply(t, fut.result())
                except Exception as e:  # the worker itself died (killed, out of memory): the trial failed
                    t.status, t.error = "failed", f"the worker running this trial died: {type(e).__name__}: {e}"
                    if isinstance(executor, Local):
                        executor = executor.restart()
                        for other in list(by_future.values()):
                            queue.insert(0, other)
                        by_future.clear()
                changed()
    except KeyboardInterrupt:
        _interrupt(sweep_dir, executor, list(by_future), trials)
        changed()
        raise SweepInterrupted(sweep_dir) from None
    executor.close()
    write_best(sweep_dir, sweep, trials)
    return trials


def _trial_spec(t: Trial, sweep: SweepConfig, sweep_dir: Path, threads: int, prune, curves: list) -> dict:
    """What ``run_trial`` needs, as plain data (it travels to a worker process or a Dask worker)."""
    return {
        "trial": t.index,
        "config": t.config,
        "runs_dir": str(sweep_dir),
        "metric": sweep.metric,
        "mode": sweep.mode,
        "threads": threads,
        "prune": prune,
        "curves": curves,
        "stop_file": str(sweep_dir / STOP),
    }


def _apply(t: Trial, rec: dict) -> None:
    t.status, t.metric, t.best_epoch = rec["status"], rec["metric"], rec["best_epoch"]
    t.seconds, t.run_dir, t.error, t.curve = rec["seconds"], rec["run_dir"], rec["error"], rec["curve"]


def _start_over(sweep_dir: Path, todo: list[Trial]) -> None:
    """A trial that runs again starts from scratch: remove what an interrupted attempt left (and the stop
    file that ended it)."""
    (sweep_dir / STOP).unlink(missing_ok=True)
    for t in todo:
        for d in sweep_dir.glob(f"trial-{t.index:03d}-*"):
            if d.is_dir():
                shutil.rmtree(d)


def _interrupt(sweep_dir: Path, executor, futures: list, trials: list[Trial]) -> None:
    """Ctrl-C: stop the running trials (a Dask task at its next look at the STOP file) and mark them
    interrupted, in the sweep and in their own folders."""
    (sweep_dir / STOP).touch()
    executor.close(kill=True, futures=futures)
    for t in trials:
        if t.status == "running":
            t.status = "interrupted"
            mark_interrupted(sweep_dir, t.index)


def _restore(trials: list[Trial], sweep_dir: Path, metric: str) -> None:
    """Statuses and results of the trials that ended, from trials.csv (resuming)."""
    path = sweep_dir / TRIALS
    if not path.is_file():
        return
    import json

    import pandas as pd

    try:
        frame = pd.read_csv(path, keep_default_na=False, dtype=str)
        rows = frame.to_dict("records")
        by_index = {t.index: t for t in trials}
        for row in rows:
            t = by_index.get(int(row["trial"]))
            if t is None or row["status"] not in ENDED:
                continue
            t.status, t.error = row["status"], str(row["error"])
            t.run_dir = str(sweep_dir / str(row["run_dir"])) if row["run_dir"] else ""
            t.metric = _number(row[metric])
            t.best_epoch = None if _number(row["best_epoch"]) is None else int(_number(row["best_epoch"]))
            t.seconds = _number(row["seconds"])
            t.curve = json.loads(row["curve"]) if row.get("curve") else []
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        what = f"no column {e}" if isinstance(e, KeyError) else one_line(str(e))[:200]
        raise ConfigError(
            f"{path} is damaged ({what}); restore it, or delete it to run every trial of the sweep again"
        ) from None


def _number(v) -> float | None:
    if v is None or v == "":
        return None
    v = float(v)
    return None if nan(v) else v


def _sort_key(sweep: SweepConfig):
    def key(t: Trial):
        if t.metric is None or nan(t.metric):
            return (1, 0.0, t.index)
        return (0, -t.metric if sweep.mode == "max" else t.metric, t.index)

    return key


def write_trials(sweep_dir: Path, sweep: SweepConfig, trials: list[Trial]) -> None:
    """trials.csv: one row per trial, sorted by the metric (best first), rewritten atomically."""
    import json

    import pandas as pd

    rows = []
    for t in sorted(trials, key=_sort_key(sweep)):
        row = {"trial": t.index}
        for path, v in t.values.items():
            row[path] = (
                v if isinstance(v, (int, float, str, bool)) else yaml.safe_dump(v, default_flow_style=True).strip()
            )
        row.update({"status": t.status, sweep.metric: t.metric})
        row.update(
            best_epoch=t.best_epoch,
            seconds=t.seconds,
            run_dir=os.path.relpath(t.run_dir, sweep_dir) if t.run_dir else "",
            error=t.error,
            curve=json.dumps([None if v is None or nan(v) else round(float(v), 6) for v in t.curve]),
        )
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["best_epoch"] = frame["best_epoch"].astype("Int64")  # 300, not 300.0, beside empty cells
    atomic_write(sweep_dir / TRIALS, frame.to_csv(index=False))


def best_trial(sweep: SweepConfig, trials: list[Trial]) -> Trial | None:
    """The trial with the best metric; None where no trial has one (every trial failed, say)."""
    scored = [t for t in trials if t.metric is not None and not nan(t.metric) and t.run_dir]
    return min(scored, key=_sort_key(sweep)) if scored else None


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
