"""One trial of a sweep, wherever it runs (this process, a local worker process, a Dask worker), and what
the sweep knows of it: both through the trial's run folder, which every executor shares.

``run_trial`` trains a trial with the sweep's callbacks: ``MedianPruner`` stops a trial worse than the
median, ``SweepStop`` one whose sweep was interrupted (a Dask task cannot be killed: it stops once the
sweep's ``STOP`` file exists). ``TrialProgress`` reads where a running trial stands (its epoch, its metric
so far) from the metrics.csv and summary.json it writes as it trains; ``mark_interrupted`` rewrites the
summary.json of a trial whose worker was killed.
"""

from __future__ import annotations

import contextlib
import math
import signal
import statistics
import time
from pathlib import Path

from nnlab import parallel
from nnlab.errors import CheckpointError, NnlabError
from nnlab.runs.folder import RunFolder
from nnlab.training.callbacks import Callback

#: written in the sweep folder when the sweep is interrupted: a trial that could not be killed (a Dask
#: task) sees it and stops; removed when the sweep resumes
STOP = ".stop"


class MedianPruner(Callback):
    """Stop a trial whose metric at epoch k is worse than the median of the finished trials at epoch k."""

    def __init__(self, metric: str, mode: str, after: int, min_trials: int, curves: list[list]):
        self.metric, self.mode, self.after, self.min_trials, self.curves = metric, mode, after, min_trials, curves

    def on_epoch_end(self, trainer, epoch, row):
        k = epoch + 1
        value = row.get(self.metric)
        if k < self.after or value is None:
            return
        others = [c[k - 1] for c in self.curves if len(c) >= k and c[k - 1] is not None and not nan(c[k - 1])]
        if len(others) < self.min_trials:
            return
        median = statistics.median(others)
        if (value < median) if self.mode == "max" else (value > median):
            trainer.stop(
                "pruned",
                f"{self.metric} {value:.4g} at epoch {k} is worse than the median {median:.4g} "
                f"of {len(others)} finished trials",
            )


def _callbacks(spec: dict) -> list:
    """What a trial's training listens to: the sweep's stop file, the median rule, the rung to pause at."""
    callbacks = [SweepStop(spec["stop_file"])] if spec.get("stop_file") else []
    if spec.get("prune"):
        p = spec["prune"]
        callbacks.append(
            MedianPruner(spec["metric"], spec["mode"], p["after"], p["min_trials"], spec.get("curves", []))
        )
    if spec.get("target"):
        callbacks.append(RungStop(spec["target"]))
    return callbacks


def run_trial(spec: dict) -> dict:
    """Train one trial (in this process, a worker process or a Dask worker); never raises for a bad trial."""
    from nnlab.config import validate
    from nnlab.training.loop import train
    from nnlab.training.resuming import open_run

    t0 = time.time()
    record = {
        "trial": spec["trial"],
        "status": "failed",
        "metric": None,
        "best_epoch": None,
        "run_dir": "",
        "error": "",
        "curve": [],
        "epochs": None,
    }
    metric, mode = spec["metric"], spec["mode"]
    try:
        with (
            parallel.blas_limit(spec.get("threads")),
            # --threads N pins the count as train's does: the same bits whatever else runs on the machine
            parallel.limit(spec["threads"]) if spec.get("pinned") else contextlib.nullcontext(),
        ):
            callbacks = _callbacks(spec)
            # Ctrl-C belongs to the sweep, not to one trial: it must stop the sweep, so the trainer leaves it alone
            done = reached(spec["resume"], spec.get("target"), metric) if spec.get("resume") else None
            if done is not None:  # the job had ended when the sweep was stopped, before it heard of it
                record.update(done)
                record["seconds"] = round(time.time() - t0, 3)
                return record
            if spec.get("resume"):  # a promoted or interrupted trial goes on exactly where its folder stands
                result = open_run(spec["resume"], callbacks=callbacks).fit(handle_signals=False)
            else:
                result = train(validate(spec["config"]), spec["runs_dir"], callbacks=callbacks, handle_signals=False)
        curve = [row.get(metric) for row in result.history]
        record.update(
            epochs=len(result.history),
            status=result.status,
            run_dir=str(result.run_dir),
            curve=curve,
            error=result.summary.get("reason", "") if result.status in ("diverged", "failed") else "",
        )
        scored = [(v, i + 1) for i, v in enumerate(curve) if v is not None and not nan(v)]
        if scored:
            v, epoch = (max if mode == "max" else min)(scored, key=lambda t: t[0])
            record.update(metric=float(v), best_epoch=epoch)
        elif result.history and metric not in result.history[-1]:
            record["error"] = f"metric '{metric}' is not a column of metrics.csv ({', '.join(result.history[-1])})"
    except NnlabError as e:
        record["error"] = str(e)
    except Exception as e:  # a bug in a trial must not end the sweep; it is recorded with its message
        record["error"] = f"{type(e).__name__}: {e}"
    record["seconds"] = round(time.time() - t0, 3)
    return record


def reached(run_dir, target: int | None, metric: str) -> dict | None:
    """The result of a run folder that has already trained to ``target`` epochs (or ended), read from its
    summary.json and metrics.csv; None where it has more to train."""
    import csv

    folder = RunFolder(run_dir)
    try:
        summary = folder.read_summary()
    except CheckpointError:
        return None
    status, epochs = summary.get("status"), summary.get("epochs") or 0
    ended = status in ("completed", "stopped_early", "converged", "diverged")
    if not (ended or (status == "paused" and target is not None and epochs >= target)):
        return None
    with open(folder.metrics_file, newline="") as f:
        history = list(csv.DictReader(f))
    curve = [float(r[metric]) if r.get(metric) else None for r in history]
    return {"status": status, "run_dir": str(folder.path), "epochs": len(history), "curve": curve}


class RungStop(Callback):
    """Pause the trial once it has trained ``epochs`` epochs in all (status ``paused``): the sweep promotes
    it to the next rung, or not, by resuming its folder."""

    def __init__(self, epochs: int):
        self.epochs = epochs

    def on_epoch_end(self, run, epoch, row):
        if epoch + 1 >= self.epochs and epoch + 1 < run.config.training.epochs:
            run.stop("paused", f"paused at a rung after {epoch + 1} epochs; the sweep resumes it if it is promoted")


def nan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


class SweepStop(Callback):
    """Stop the trial once its sweep has been interrupted (the sweep's ``STOP`` file exists): a task on a
    Dask worker cannot be killed, and would otherwise train on and overwrite its folder after the sweep
    has marked it interrupted. Looks at most every ``every`` seconds, after a batch or an epoch."""

    def __init__(self, path, every: float = 0.5):
        self.path, self.every, self.next, self.seen = Path(path), every, 0.0, False

    def _look(self, run):
        now = time.monotonic()
        if now >= self.next:
            self.next = now + self.every
            if self.path.exists():
                self.seen = True
                run.interrupt(signal.SIGINT)

    def on_batch(self, run, epoch, batch, n_batches, loss):
        self._look(run)

    def on_epoch_end(self, run, epoch, row):
        self._look(run)

    def on_run_end(self, run):
        if self.seen and run.status == "interrupted":
            run.reason = interrupted_reason(self.path.parent, run.epoch, run.config.training.epochs)


def interrupted_reason(sweep_dir, epochs, planned) -> str:
    """The reason an interrupted trial's summary.json gives."""
    at = f" after {epochs} of {planned} epochs" if epochs is not None and planned else ""
    return f"the sweep was interrupted{at}; nnlab sweep --resume {sweep_dir} continues this trial"


def mark_interrupted(sweep_dir: Path, index: int) -> None:
    """The interrupted trial's own summary.json says ``interrupted`` too: its worker was stopped before it
    could write that (or, in this process, wrote the abort of a second signal)."""
    for d in sweep_dir.glob(f"trial-{index:03d}-*"):
        folder = RunFolder(d)
        try:
            summary = folder.read_summary()
        except CheckpointError:
            summary = {}
        if summary.get("status") not in ("running", "interrupted"):  # not written yet, or it did end
            continue
        summary["status"] = "interrupted"
        summary["reason"] = interrupted_reason(sweep_dir, summary.get("epochs"), summary.get("epochs_planned"))
        folder.write_summary(summary)


def mark_pruned(run_dir: str, epochs: int) -> None:
    """A trial left paused at a rung when the sweep ended was not promoted: its own summary.json says
    ``pruned`` too, as trials.csv does (``nnlab runs`` showed it ``paused``, waiting for a promotion that
    never comes). Its folder can still be trained on to the config's epochs: ``nnlab train --resume RUN``."""
    folder = RunFolder(run_dir)
    try:
        summary = folder.read_summary()
    except CheckpointError:
        return
    if summary.get("status") != "paused":
        return
    summary["status"] = "pruned"
    summary["reason"] = (
        f"paused at a rung after {epochs} epochs and not promoted: it did not rank in its rung's top when the "
        f"sweep ended; nnlab train --resume {folder.path} trains it on"
    )
    folder.write_summary(summary)


class TrialProgress:
    """Where the running trials stand, read from their run folders (``trial-NNN-*``): the trial writes
    metrics.csv and summary.json as it trains (at most every ``training.save_interval`` seconds), so this
    works whatever process or machine runs it. A file is parsed again only when it has changed."""

    def __init__(self, sweep_dir, metric: str, mode: str):
        self.sweep_dir, self.metric, self.mode = Path(sweep_dir), metric, mode
        self.known: dict[int, tuple] = {}  # trial → ((folder, metrics.csv's mtime and size), what it said)

    def __call__(self, t) -> dict | None:
        """``{"epoch", "epochs", "metric", "best_epoch", "seconds"}``: the epochs done and planned, the best
        value of the metric so far with its epoch (None before a value) and the seconds the trial has trained;
        None before the trial wrote an epoch."""
        # the newest folder: a trial run again after its worker died starts a second one
        folder = max(self.sweep_dir.glob(f"trial-{t.index:03d}-*"), default=None)
        if folder is None:
            return None
        stamp, seen = self.known.get(t.index, (None, None))
        try:
            st = (folder / RunFolder.METRICS).stat()
            if (folder, st.st_mtime_ns, st.st_size) != stamp:
                stamp, seen = (folder, st.st_mtime_ns, st.st_size), self._read(RunFolder(folder))
        except FileNotFoundError:  # no epoch written yet
            return None
        except (OSError, ValueError, KeyError, CheckpointError):  # half a file on a network share: next time
            pass
        self.known[t.index] = (stamp, seen)
        if seen is None:
            return None
        # the seconds at the last write, and the time since (the trial writes at most every save_interval)
        return {**seen, "seconds": seen["seconds"] + max(0.0, time.time() - seen["written"])}

    def _read(self, folder: RunFolder) -> dict:
        import csv

        with open(folder.metrics_file, newline="") as f:
            rows = list(csv.DictReader(f))
        scored = [(float(r[self.metric]), int(r["epoch"])) for r in rows if r.get(self.metric)]
        scored = [(v, e) for v, e in scored if not math.isnan(v)]
        best = (max if self.mode == "max" else min)(scored, key=lambda s: s[0]) if scored else (None, None)
        summary, written = folder.read_summary(), folder.summary_file.stat().st_mtime
        return {
            "epoch": int(rows[-1]["epoch"]) if rows else 0,
            "epochs": summary.get("epochs_planned"),
            "metric": best[0],
            "best_epoch": best[1],
            "seconds": summary.get("wall_seconds") or 0.0,
            "written": written,
        }
