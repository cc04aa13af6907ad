"""Where a training step's time goes, at each thread count: each layer's forward and backward, the loss, the
optimizer's update and the rest (the batch's gather, the Tuner), in µs per step.

    python benchmarks/profile_step.py                          # the shipped configs/fashion_mnist.yaml, 1 and 2 threads
    python benchmarks/profile_step.py --threads 1,2,4,8,16     # at each count (and nnlab's own choice, "auto")
    python benchmarks/profile_step.py --config my.yaml --steps 400

The steps are those of ``frameworks.config_steps`` (a shuffled batch gathered, then ``Experiment.train_step``), on
the config's training split; each layer's ``forward`` and ``backward`` and the optimizer's ``step`` are timed
by wrapping them (two clock reads a call, ~0.1 µs). The counts take turns in chunks of ``--chunk`` steps,
in an order that rotates, so that the machine's drift falls on all alike; each figure is the median over
chunks. What the table says: which parts shrink with more threads and which stay, i.e. what bounds a step's
speed-up on many cores. Writes results/profile_step.csv and .md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

# isort: off
import nnlab  # noqa: F401  (before NumPy: it sets how long OpenBLAS's idle threads spin)

# isort: on
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from cores import SHIPPED, pinned  # noqa: E402
from frameworks import config_steps  # noqa: E402


def timed(fn, key: str, clock: dict):
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            clock[key] += time.perf_counter() - t0

    return wrapper


def instrument(exp, clock: dict) -> list[str]:
    """Wrap the Experiment's layers and optimizer so that each call adds its seconds to ``clock``; the
    keys in step order."""
    keys = []
    for i, layer in enumerate(exp.net.layers):
        key = f"{i} {layer.describe()}"
        layer.forward = timed(layer.forward, f"{key} forward", clock)
        keys.append(f"{key} forward")
    keys.append("loss")
    for i, layer in reversed(list(enumerate(exp.net.layers))):
        key = f"{i} {layer.describe()} backward"
        layer.backward = timed(layer.backward, key, clock)
        keys.append(key)
    exp.optimizer.step = timed(exp.optimizer.step, "optimizer", clock)
    exp.rule.learn = timed(exp.rule.learn, "network", clock)  # forward, loss, backward
    keys += ["optimizer", "rest"]
    return keys


def profile(raw: dict, counts: list, steps: int, chunk: int) -> list[dict]:
    runs = {}
    for n in counts:
        clock = defaultdict(float)
        run = config_steps(raw)
        keys = instrument(run.experiment, clock)
        runs[n] = (run, clock, keys)
        with pinned(n):
            run(20)  # warm: buffers allocated, the Tuner started
    per = {n: defaultdict(list) for n in counts}
    for r in range(max(1, steps // chunk)):
        for n in counts[r % len(counts) :] + counts[: r % len(counts)]:
            run, clock, keys = runs[n]
            clock.clear()
            with pinned(n):
                t0 = time.perf_counter()
                run(chunk)
                total = time.perf_counter() - t0
            layers = sum(v for k, v in clock.items() if k not in ("network", "optimizer"))
            clock["loss"] = clock["network"] - layers
            clock["rest"] = total - clock["network"] - clock["optimizer"]
            for k in keys:
                per[n][k].append(clock[k] / chunk * 1e6)
            per[n]["step"].append(total / chunk * 1e6)
    keys = runs[counts[0]][2] + ["step"]
    rows = []
    for k in [k for k in keys if any(per[n][k][0] for n in counts)]:  # a softmax fused into the loss: 0
        row = {"part": k}
        for n in counts:
            row[f"us_{n or 'auto'}"] = statistics.median(per[n][k])
        rows.append(row)
    first = f"us_{counts[0] or 'auto'}"
    for row in rows:  # how much faster each part runs at each count than at the first: what shrinks, what stays
        for n in counts[1:]:
            row[f"{counts[0] or 'auto'}/{n or 'auto'}"] = row[first] / max(row[f"us_{n or 'auto'}"], 1e-9)
    return rows


def main() -> None:
    import yaml
    from run import RESULTS, counts_of, machine, save, table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=SHIPPED, help="a config file (default: the shipped fashion_mnist)")
    ap.add_argument("--threads", type=counts_of, default=(1, 2), help="thread counts, e.g. 1,2,4,8,16")
    ap.add_argument("--steps", type=int, default=600, help="timed steps at each count")
    ap.add_argument("--chunk", type=int, default=50, help="steps per turn")
    args = ap.parse_args()
    if not args.config.is_file():
        ap.error(f"--config {args.config}: no such file")
    if args.steps < 1 or args.chunk < 1:
        ap.error("--steps and --chunk take a positive number of steps")
    raw = yaml.safe_load(args.config.read_text())
    counts = [*args.threads, None]
    rows = profile(raw, counts, args.steps, args.chunk)
    info = machine()
    save("profile_step", rows)
    text = "\n".join(
        [
            f"## Where a step of {args.config.name} goes (µs per step, median over chunks of {args.chunk})\n",
            f"`python benchmarks/profile_step.py {' '.join(sys.argv[1:])}`, {time.strftime('%Y-%m-%d %H:%M')}, "
            f"{info['cpus']} CPUs, {info['blas']}, numpy {info['numpy']}, speed paths {info['fast_paths']}\n",
            table(rows),
        ]
    )
    (RESULTS / "profile_step.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
