"""Random search against ASHA and TPE+ASHA, for the same budget of epochs (issue: sweeps that spend less).

For each dataset and seed, three sweeps over the same space, each run by nnlab's serial executor (the
same seed gives the same trials and promotions):

- random: ``TRIALS`` random trials of ``EPOCHS`` epochs each, a budget of ``TRIALS × EPOCHS`` epochs;
- asha: random trials (the same first ``TRIALS``, then more) with ASHA on rungs 1, 3, 9 epochs (η = 3),
  as many trials as fit the budget;
- tpe+asha: the same, with Optuna's TPE choosing the trials.

Each sweep's progress.csv gives the best validation accuracy against the epochs it had spent. The table
gives each method's best within the budget and, for ASHA and TPE+ASHA, the epochs they took to reach the
best that random search reached with its whole budget (as a fraction of it; "–" where they never did).

    python benchmarks/search.py                 # Fashion-MNIST (a 6 000-image subset) and digits, 3 seeds
    python benchmarks/search.py --only digits --seeds 2

Writes benchmarks/results/search.csv (every sweep's progress), search.md (the table) and search.png.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from nnlab.sweep.records import read_progress
from nnlab.sweep.runner import run_sweep, start_sweep
from nnlab.sweep.space import sweep_model

RESULTS = Path(__file__).parent / "results"
EPOCHS, TRIALS = 9, 12
BUDGET = EPOCHS * TRIALS

DATASETS = {
    "fashion": {
        "data": {"name": "fashion_mnist", "limit": 6000, "test_limit": 1000, "split": {"val": 0.2}},
        "preprocess": {"name": "scale", "factor": 255},
    },
    "digits": {"data": {"name": "digits", "split": {"val": 0.25}}, "preprocess": "standardize"},
}
SPACE = {
    "optimizer.lr": {"distribution": "loguniform", "low": 1.0e-4, "high": 1.0},
    "model.hidden": {"values": [[32], [128], [64, 64]]},
    "model.activation": {"values": ["relu", "tanh"]},
    "training.batch_size": {"distribution": "int", "low": 16, "high": 512, "log": True},
}
ASHA = {"rule": "asha", "min_epochs": 1, "reduction_factor": 3}
METHODS = {
    "random": {"method": "random", "trials": TRIALS},
    "asha": {"method": "random", "trials": 4 * TRIALS, "prune": ASHA},
    "tpe+asha": {"method": "tpe", "trials": 4 * TRIALS, "prune": ASHA},
}


def base(dataset: str) -> dict:
    spec = DATASETS[dataset]
    data = {**spec["data"], "preprocess": spec["preprocess"]}
    return {
        "name": dataset,
        "seed": 0,
        "data": data,
        "model": {"hidden": [64], "activation": "relu"},
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
        "training": {"epochs": EPOCHS, "batch_size": 64, "save_interval": 5},
    }


def one_sweep(dataset: str, method: str, seed: int, root: Path) -> pd.DataFrame:
    raw = {"name": f"{dataset}-{method}", "seed": seed, "metric": "val_accuracy", "parameters": SPACE}
    raw.update(METHODS[method])
    raw["base"] = base(dataset)
    sweep = sweep_model(raw, "benchmark")
    sweep_dir = start_sweep(sweep, raw["base"], root)
    t0 = time.time()
    run_sweep(sweep_dir, threads=1)
    rows = pd.DataFrame(read_progress(sweep_dir))
    rows = rows[rows["spent"] <= BUDGET].assign(dataset=dataset, method=method, seed=seed)
    rows.attrs["seconds"] = time.time() - t0
    return rows


def table(progress: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (dataset, seed), group in progress.groupby(["dataset", "seed"]):
        random_best = group[group["method"] == "random"]["best"].max()
        for method, runs in group.groupby("method"):
            reached = runs[runs["best"] >= random_best]["spent"]
            out.append(
                {
                    "dataset": dataset,
                    "seed": seed,
                    "method": method,
                    "best": runs["best"].max(),
                    "epochs": int(runs["spent"].max()),
                    "to_random_best": int(reached.min()) if len(reached) else None,
                }
            )
    return pd.DataFrame(out)


def markdown(t: pd.DataFrame, load: str) -> str:
    lines = [
        f"Budget: {BUDGET} epochs a sweep (random: {TRIALS} trials × {EPOCHS} epochs; ASHA rungs 1, 3, 9, η = 3). "
        f"{load}",
        "",
        "| dataset | method | best val accuracy (mean of seeds) | epochs to random's best (fraction of budget) |",
        "| --- | --- | --- | --- |",
    ]
    for (dataset, method), g in t.groupby(["dataset", "method"], sort=False):
        fractions = [f"{e / BUDGET:.2f}" if e == e and e is not None else "–" for e in g["to_random_best"]]
        lines.append(f"| {dataset} | {method} | {g['best'].mean():.4f} | {', '.join(fractions)} |")
    return "\n".join(lines) + "\n"


def figure(progress: pd.DataFrame, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    datasets = list(dict.fromkeys(progress["dataset"]))
    fig = Figure(figsize=(5.5 * len(datasets), 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(1, len(datasets)))
    grid = np.arange(1, BUDGET + 1)
    for ax, dataset in zip(axes, datasets):
        for i, (method, runs) in enumerate(progress[progress["dataset"] == dataset].groupby("method", sort=False)):
            curves = []
            for _, r in runs.groupby("seed"):
                idx = np.searchsorted(r["spent"].to_numpy(), grid, side="right") - 1
                curves.append(np.where(idx >= 0, r["best"].to_numpy()[np.maximum(idx, 0)], np.nan))
            with warnings.catch_warnings():  # before a sweep's first job there is no best yet
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(curves, axis=0)
            ax.plot(grid, mean, color=f"C{i}", label=method)
        ax.set(xlabel="epochs spent", ylabel="best val accuracy (mean of seeds)", title=dataset)
        ax.legend(loc="lower right")
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=list(DATASETS), action="append")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    load = f"Load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores ({platform.machine()})."
    frames = []
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.only or list(DATASETS):
            for seed in range(args.seeds):
                for method in METHODS:
                    frame = one_sweep(dataset, method, seed, Path(tmp))
                    print(
                        f"{dataset} seed {seed} {method}: best {frame['best'].max():.4f} "
                        f"in {frame['spent'].max()} epochs, {frame.attrs['seconds']:.0f} s",
                        flush=True,
                    )
                    frames.append(frame)
    load += f" After: {os.getloadavg()[0]:.1f}."
    progress = pd.concat(frames, ignore_index=True)
    RESULTS.mkdir(exist_ok=True)
    progress.to_csv(RESULTS / "search.csv", index=False)
    text = markdown(table(progress), load)
    (RESULTS / "search.md").write_text(text)
    figure(progress, RESULTS / "search.png")
    print(text)


if __name__ == "__main__":
    main()
