"""Ensembles as a result of their own: ``nnlab train CONFIG --members K`` (``train_members``).

K runs of one config, member i with the seed ``seed + i`` (initial weights, shuffles, dropout masks and
augmentations all differ) and the same data split (``data.split.seed``: the config's, else its ``seed``), so
that no member trained on another's validation or test examples. They go into one folder:

    <runs>/<name>-ensemble-<YYYYMMDD-HHMMSS>-<4 hex>/
      <name>-seed<S>-<stamp>-<hex>/          one run folder per member (nnlab eval, predict, load_run, resume)
      eval-test-ensemble.json, confusion-test-ensemble.csv   the ensemble's figures (nnlab eval's report)
      ensemble.json                          members, their test figures with mean and spread, the checkpoint
                                             chosen, the ensemble's validation and test figures, wall time

The ensemble averages the members' predicted probabilities (values for regression), as
``nnlab eval RUN1 RUN2 …`` does. Which checkpoint of each member it averages (``best``, or ``swa`` / ``ema``
where the config averages weights) is chosen on the validation split, never on the test split.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from nnlab.errors import ConfigError

FINISHED = ("completed", "stopped_early", "converged")
SUMMARY = "ensemble.json"


@dataclass
class EnsembleResult:
    folder: Path
    status: str
    summary: dict
    members: list = field(default_factory=list)  # the members' RunResults
    report: dict | None = None  # nnlab eval's report of the ensemble on the test split (None: not evaluated)


def member_configs(config, k: int) -> list:
    """The configs of the K members: seeds seed … seed + K − 1, one data split, named after their seed."""
    if not isinstance(k, int) or k < 2:
        raise ConfigError(f"--members must be at least 2 (an ensemble of K runs), got {k}")
    split_seed = config.data.split.seed if config.data.split.seed is not None else config.seed
    out = []
    for i in range(k):
        cfg = config.model_copy(deep=True)
        cfg.seed = config.seed + i
        cfg.data.split.seed = split_seed
        cfg.name = f"{config.name}-seed{cfg.seed}"
        out.append(cfg)
    return out


def train_members(config, k: int, runs_dir="runs", callbacks=lambda: [], on_member=None) -> EnsembleResult:
    """Train the K members of ``config`` (a validated ``Config``) into one new folder under ``runs_dir``,
    then evaluate their ensemble. ``callbacks()`` gives each member's extra callbacks; ``on_member(i, cfg)``
    is told before member i starts. A member that does not finish (interrupted, diverged) ends the
    training there: the summary says so and nothing is evaluated."""
    from nnlab.atomic import write_json
    from nnlab.runs.folder import new_folder
    from nnlab.training.loop import train

    configs = member_configs(config, k)
    folder = new_folder(runs_dir, f"{config.name}-ensemble")
    started, results = time.time(), []
    for i, cfg in enumerate(configs):
        if on_member is not None:
            on_member(i, cfg)
        results.append(train(cfg, folder, callbacks=callbacks()))
        if results[-1].status not in FINISHED:
            break
    status = "completed" if len(results) == k and all(r.status in FINISHED for r in results) else results[-1].status
    summary = {"name": config.name, "status": status, "members_planned": k, "members": [_member(r) for r in results]}
    summary.update(_spread(summary["members"]))
    report = None
    if status == "completed":
        checkpoint, validation = choose_checkpoint([r.run_dir for r in results])
        report = _evaluate(results, checkpoint, folder)
        summary.update(checkpoint=checkpoint or "best", validation=validation, split=report["split"])
        summary["ensemble"] = {f"{report['split']}_{k}": v for k, v in report["metrics"].items()}
    summary["wall_seconds"] = time.time() - started
    write_json(folder / SUMMARY, summary)
    return EnsembleResult(folder, status, summary, results, report)


def _member(result) -> dict:
    s = result.summary
    return {
        "run_dir": result.run_dir.name,
        "seed": s["seed"],
        "status": s["status"],
        "epochs": s["epochs"],
        "test": s["test"],
        "averages": s.get("averages", {}),
        "wall_seconds": s["wall_seconds"],
    }


def _spread(members: list[dict]) -> dict:
    """Mean and standard deviation over the members of each test figure of the ``best`` checkpoints."""
    keys = [k for k in members[0]["test"] if all(m["test"].get(k) is not None for m in members)]
    out = {}
    for key in keys:
        values = [m["test"][key] for m in members]
        mean = sum(values) / len(values)
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
        out[key] = {"mean": mean, "std": sd, "min": min(values), "max": max(values)}
    return {"member_test": out} if out else {}


def choose_checkpoint(run_dirs: list) -> tuple[str | None, dict]:
    """The checkpoint whose ensemble does best on the validation split, among best (None: eval's default)
    and swa / ema where every member has one; with the validation figures of each candidate."""
    from nnlab.evaluate import evaluate_runs
    from nnlab.runs.folder import RunFolder

    folders = [RunFolder(d) for d in run_dirs]
    candidates = [None] + [c for c in ("swa", "ema") if all(f.checkpoint_file(c).is_file() for f in folders)]
    if len(candidates) == 1 or not folders[0].read_summary().get("examples", {}).get("val"):
        return None, {}
    scores = {}
    for c in candidates:
        metrics = evaluate_runs(run_dirs, c, "val")["metrics"]
        scores[c or "best"] = {f"val_{k}": v for k, v in metrics.items()}
    key, sign = ("val_accuracy", 1) if "val_accuracy" in scores["best"] else ("val_loss", -1)
    chosen = max(candidates, key=lambda c: sign * scores[c or "best"][key])
    return chosen, scores


def _evaluate(results, checkpoint, folder: Path) -> dict:
    """nnlab eval's report of the ensemble (its default split: test where the data have one), written in
    the ensemble's folder."""
    from nnlab.evaluate import evaluate_runs, write_report

    report = evaluate_runs([r.run_dir for r in results], checkpoint)
    report["run_dir"] = str(folder)
    write_report(report, folder)
    return report
