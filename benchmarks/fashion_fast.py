"""How fast configs/fashion_mnist_fast.yaml reaches its test accuracy: one run per seed, the training time
(the sum of the epochs' seconds in metrics.csv: batches and the validation pass, no data loading) beside the
machine's load average, appended to results/fashion_fast.csv.

    python benchmarks/fashion_fast.py [--seeds 0 1 2] [--threads 2]

A time measured while other processes use the cores is not the configuration's: the load column says
how busy the machine was (on 2 cores, a load above 2 means the run shared them).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = HERE.parent / "nnlab" / "configs" / "fashion_mnist_fast.yaml"
OUT = HERE / "results" / "fashion_fast.csv"
COLUMNS = ["date", "seed", "threads", "test_accuracy", "train_seconds", "wall_seconds", "load_before", "load_after"]


def run(seed: int, threads: int) -> dict:
    import nnlab
    from nnlab import parallel

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as runs, parallel.blas_limit(threads):
        result = nnlab.train(CONFIG, runs_dir=runs, seed=seed, handle_signals=False)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "seed": seed,
        "threads": threads,
        "test_accuracy": result.summary["test"]["test_accuracy"],
        "train_seconds": round(sum(row["seconds"] for row in result.history), 2),
        "wall_seconds": round(result.summary["wall_seconds"], 2),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    new = not OUT.is_file()
    with OUT.open("a", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        if new:
            writer.writeheader()
        for seed in args.seeds:
            row = run(seed, args.threads)
            writer.writerow(row)
            print(", ".join(f"{k} {v}" for k, v in row.items()), f"({platform.node()})")


if __name__ == "__main__":
    main()
