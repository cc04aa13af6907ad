"""The sweep's decisions: which job runs next, and what a job's result changes.

A job is one stretch of training of one trial: a new trial from scratch (to its first rung with ASHA or
Hyperband, else to its end), a paused trial promoted to its next rung, or a trial that an interruption
stopped, continued from its run folder's last checkpoint towards the same target. The order is: what was
interrupted first (decided before, so never decided again), then the best promotion, then a new trial
(drawn from the sweep's plan, or asked of TPE). Every decision is made here, in the sweep's own process,
so that the serial executor makes the same decisions from the same seed, resumed or not.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from nnlab.errors import ConfigError
from nnlab.runs.folder import RunFolder
from nnlab.sweep.records import ENDED, Trial
from nnlab.sweep.rungs import score_key
from nnlab.sweep.space import SweepConfig, halving_rungs, plan_trials, trial_base, trial_config
from nnlab.sweep.trial import STOP, mark_pruned, nan

FINISHED = ("completed", "stopped_early", "converged")


class Scheduler:
    def __init__(self, sweep: SweepConfig, base: dict, sweep_dir: Path):
        self.sweep, self.base, self.sweep_dir = sweep, base, Path(sweep_dir)
        self.rungs = halving_rungs(sweep, base) if sweep.prune and sweep.prune.halving else None
        self.study = None
        if sweep.method == "tpe":
            from nnlab.sweep.tpe import Study

            self.study = Study(sweep_dir, sweep)
            self.trials = [Trial(i, None, None) for i in range(sweep.trials)]
        else:
            self.trials = [Trial(p["trial"], p["values"], p["config"]) for p in plan_trials(sweep, base)]
        for t in self.trials:
            t.bracket = self.rungs.bracket_of(t.index) if self.rungs else None
        self.threads = 1
        self.pinned = False  # --threads given: every trial runs on exactly that many, busy machine or not
        self.queue: list[Trial] = []  # trials to continue before anything new is decided
        self.resume: set[int] = set()  # trials whose next job continues their run folder

    # ------------------------------------------------------------------------------------ resuming
    def restore(self, trials: list[Trial]) -> None:
        """After trials.csv was read back: TPE's values from the study, and the jobs a stop or a kill left
        unfinished queued first, each to continue from its run folder (or from scratch where it has no
        checkpoint yet)."""
        if self.study is not None:
            for index, values in self.study.asked().items():
                if index < len(trials):
                    trials[index].values = values
                    self._configure(trials[index])
        for t in trials:
            if t.status in ("running", "interrupted"):
                self._continue_or_restart(t)
                t.status = "interrupted"
                self.queue.append(t)

    def _continue_or_restart(self, t: Trial) -> None:
        folders = sorted(d for d in self.sweep_dir.glob(f"trial-{t.index:03d}-*") if d.is_dir())
        newest = folders[-1] if folders else None
        if newest is not None and RunFolder(newest).checkpoint_file("last").is_file():
            t.run_dir = str(newest)
            self.resume.add(t.index)
            return
        for d in folders:  # stopped before its first checkpoint: nothing to continue
            shutil.rmtree(d)
        t.run_dir, t.curve, t.epochs, t.metric, t.best_epoch = "", [], 0, None, None
        self.resume.discard(t.index)

    def requeue(self, t: Trial) -> None:
        """A job lost with its worker (the pool broke): run it again, from its last checkpoint if any."""
        self._continue_or_restart(t)
        t.status = "interrupted"
        self.queue.insert(0, t)

    # ------------------------------------------------------------------------------------ deciding
    def next_job(self) -> tuple[Trial, dict | None] | None:
        """The next job: ``(trial, spec)`` (spec None: the trial failed before it could run), or None."""
        if self.queue:
            return self._start(self.queue.pop(0))
        if self.rungs is not None:
            promoted = self.rungs.promotion(self.trials, self.sweep.mode)
            if promoted is not None:
                t, t.target = promoted
                self.resume.add(t.index)
                return self._start(t)
        t = next((t for t in self.trials if t.status == "pending"), None)
        if t is None:
            return None
        if self.study is not None:
            t.values, t.study_trial = self.study.ask(t.index)
            try:
                self._configure(t)
            except ConfigError as e:
                t.status, t.error = "failed", str(e)
                self.study.tell(t.study_trial, "fail", None, None)
                return t, None
        t.target = self.rungs.first(t.index) if self.rungs else None
        return self._start(t)

    def _configure(self, t: Trial) -> None:
        t.config = trial_config(trial_base(self.sweep, self.base), t.values, t.index)

    def _start(self, t: Trial) -> tuple[Trial, dict]:
        if self.study is not None and (t.study_trial is None or t.jobs > 0 and t.status == "paused"):
            t.study_trial = self.study.promote(t.index, t.values, t.rungs, t.jobs)
        t.status = "running"
        t.jobs += 1
        return t, self._spec(t)

    def _spec(self, t: Trial) -> dict:
        """What ``run_trial`` needs, as plain data (it travels to a worker process or a Dask worker)."""
        prune = self.sweep.prune
        median = prune.model_dump() if prune and prune.rule == "median" else None
        return {
            "trial": t.index,
            "config": t.config,
            "runs_dir": str(self.sweep_dir),
            "metric": self.sweep.metric,
            "mode": self.sweep.mode,
            "threads": self.threads,
            "pinned": self.pinned,
            "prune": median,
            "curves": [x.curve for x in self.trials if x.status in ENDED and x.curve] if median else [],
            "stop_file": str(self.sweep_dir / STOP),
            "target": t.target,
            "resume": t.run_dir if t.index in self.resume and t.run_dir else None,
        }

    # ------------------------------------------------------------------------------------ results
    def record(self, t: Trial, rec: dict) -> None:
        """What a job's result changes: the trial's figures, its rung's score, its status; the study."""
        status = rec.get("status", "failed")
        t.run_dir = rec.get("run_dir") or t.run_dir
        t.seconds = round((t.seconds or 0.0) + (rec.get("seconds") or 0.0), 3)
        t.error = rec.get("error") or ""
        if rec.get("epochs") is not None:
            t.curve, t.epochs = rec["curve"], rec["epochs"]
            t.metric, t.best_epoch = best_of(t.curve, self.sweep.mode)
        if status == "interrupted" and t.run_dir:
            t.status = "interrupted"
            self.resume.add(t.index)
            return
        self.resume.discard(t.index)
        if self.rungs is not None and t.target:
            t.rungs[str(t.target)] = best_of(t.curve[: t.target], self.sweep.mode)[0]
        t.status = status
        if self.study is not None and t.study_trial is not None:
            self._tell(t, status)
        if status != "paused":
            t.target = None

    def _tell(self, t: Trial, status: str) -> None:
        if status == "paused":
            self.study.tell(t.study_trial, "pruned", t.rungs.get(str(t.target)), t.epochs)
        elif t.metric is None:
            self.study.tell(t.study_trial, "fail", None, None)
        elif status in FINISHED:
            self.study.tell(t.study_trial, "complete", t.metric, t.epochs)
        else:  # pruned by the median rule, diverged: what it reached, as far as it got
            self.study.tell(t.study_trial, "pruned", t.metric, t.epochs)

    def finish(self, trials: list[Trial]) -> None:
        """The sweep ended: a trial still paused at a rung was not promoted, and stays pruned there."""
        for t in trials:
            if t.status == "paused":
                t.status, t.target = "pruned", None
                if t.run_dir:
                    mark_pruned(t.run_dir, t.epochs)


def best_of(curve: list, mode: str) -> tuple[float | None, int | None]:
    """The best value of a metric's curve and its epoch (1-based); (None, None) where it has none."""
    scored = [(v, i + 1) for i, v in enumerate(curve) if v is not None and not nan(v)]
    if not scored:
        return None, None
    value, epoch = min(scored, key=lambda s: score_key(s[0], mode, s[1])[:2])
    return float(value), epoch
