"""Running a sweep: its jobs, serially, in local worker processes, or on a Dask cluster.

The sweep folder holds the sweep (``sweep.yaml``, its base config inlined), one ordinary run folder per
trial, and what ``nnlab.sweep.records`` writes (trials.csv, progress.csv, best.yaml). A job trains a trial
from scratch, or continues its run folder exactly where it stands (a trial promoted by ASHA or Hyperband,
or one that an interruption stopped): a free executor slot takes the next job as soon as there is one.
Each job is decided, and written to trials.csv, before it starts. A trial that fails or diverges is
recorded and the sweep goes on.

Ctrl-C (``request_stop``) asks the running trials to stop after their batch (they see the sweep's ``STOP``
file): each saves where it stands, in the middle of an epoch if need be, and is marked ``interrupted``.
``--resume`` continues each from there: no epoch is trained twice and nothing decided is decided again.
A second Ctrl-C kills local workers at once; their trials continue from their last checkpoint.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import yaml

from nnlab.atomic import atomic_write
from nnlab.errors import ConfigError, NnlabError
from nnlab.runs.folder import new_folder
from nnlab.sweep.executors import Dask, Local, check_options, make_executor
from nnlab.sweep.records import (
    BEST,
    ENDED,
    TRIALS,
    Trial,
    best_trial,
    progress_row,
    read_progress,
    restore_trials,
    write_best,
    write_progress,
    write_trials,
)
from nnlab.sweep.scheduler import Scheduler
from nnlab.sweep.space import (
    SweepConfig,
    check_metric,
    choice_combinations,
    halving_rungs,
    plan_trials,
    read_yaml,
    sweep_model,
)
from nnlab.sweep.tpe import require_optuna
from nnlab.sweep.trial import STOP, mark_interrupted

SWEEP_FILE = "sweep.yaml"
__all__ = ["BEST", "ENDED", "SWEEP_FILE", "TRIALS", "Trial", "best_trial", "load_sweep_dir", "run_sweep", "start_sweep"]


class SweepInterrupted(NnlabError):
    """Ctrl-C during a sweep: the trials that ended are kept; resume with --resume."""

    def __init__(self, sweep_dir: Path):
        super().__init__(f"sweep interrupted; finish it with: nnlab sweep --resume {sweep_dir}")
        self.sweep_dir = sweep_dir


def request_stop(sweep_dir) -> None:
    """Ask the sweep in ``sweep_dir`` to stop: its running trials save where they stand and end."""
    (Path(sweep_dir) / STOP).touch()


def check_sweep(sweep: SweepConfig, base: dict, trials: int | None = None) -> SweepConfig:
    """Every check of a new sweep, before anything is created: every trial's config is valid, and every
    trial will have the metric that ranks it. Returns the sweep with ``trials`` set where given."""
    if trials is not None:
        check_options(trials=trials)
        sweep = sweep.model_copy(update={"trials": trials})
    if sweep.method == "tpe":
        require_optuna()
    if sweep.prune and sweep.prune.halving:
        halving_rungs(sweep, base)
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
    if sweep.prune is not None:  # the keys its rule takes, as given
        stored["prune"] = {"rule": sweep.prune.rule, **sweep.prune.model_dump(mode="json", exclude_unset=True)}
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
    """Run the sweep in ``sweep_dir`` to its end (what is left of it); return every trial. ``executor``
    (``nnlab.sweep.executors.make_executor``) is made from ``workers`` and ``dask`` where not given."""
    sweep_dir = Path(sweep_dir)
    sweep, base = load_sweep_dir(sweep_dir)
    check_options(workers, threads)
    plan = Scheduler(sweep, base, sweep_dir)
    trials = plan.trials
    restore_trials(trials, sweep_dir, sweep.metric)
    progress = read_progress(sweep_dir)
    plan.restore(trials)
    (sweep_dir / STOP).unlink(missing_ok=True)
    executor = executor or make_executor(workers, dask)
    cores, remote = os.cpu_count() or 1, isinstance(executor, Dask)
    left = sum(t.status not in ENDED for t in trials)
    plan.threads = threads or (1 if remote else max(1, cores // max(1, min(executor.slots, left or 1))))
    plan.pinned = threads is not None
    jobs: dict = {}

    def changed():
        write_trials(sweep_dir, sweep, trials)
        if on_change:
            on_change(trials)

    try:
        changed()
        executor = _loop(plan, executor, jobs, progress, changed)
    except KeyboardInterrupt:  # a second Ctrl-C: kill what still runs
        (sweep_dir / STOP).touch()
        executor.close(kill=True, futures=list(jobs))
        for t in jobs.values():
            t.status = "interrupted"
            mark_interrupted(sweep_dir, t.index)
        changed()
        raise SweepInterrupted(sweep_dir) from None
    executor.close()
    if (sweep_dir / STOP).exists():
        raise SweepInterrupted(sweep_dir)
    plan.finish(trials)
    changed()
    write_best(sweep_dir, sweep, trials)
    return trials


def _loop(plan: Scheduler, executor, jobs: dict, progress: list, changed):
    """Hand out jobs while there are free slots and jobs to run; record each result as it comes."""
    stop = plan.sweep_dir / STOP
    while True:
        while len(jobs) < executor.slots and not stop.exists():
            job = plan.next_job()
            if job is None:
                break
            t, spec = job
            changed()  # the decision is on disk before the job starts
            if spec is not None:
                jobs[executor.submit(spec)] = t
        if not jobs:
            return executor
        for fut in executor.wait_one(set(jobs)):
            t = jobs.pop(fut)
            try:
                rec = fut.result()
            except Exception as e:  # the worker itself died (killed, out of memory): the trial failed
                rec = {"status": "failed", "error": f"the worker running this trial died: {type(e).__name__}: {e}"}
                if isinstance(executor, Local):  # the pool is broken: its other jobs run again
                    executor = executor.restart()
                    for other in list(jobs.values()):
                        plan.requeue(other)
                    jobs.clear()
            plan.record(t, rec)
            if rec.get("status") != "interrupted":
                progress.append(progress_row(plan.trials, t, len(progress), plan.sweep.mode))
                write_progress(plan.sweep_dir, progress)
            changed()
