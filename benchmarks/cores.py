"""The benchmark's thread sections: nnlab and PyTorch at each thread count, on a machine with one core busy,
and on the shipped Fashion-MNIST config's bigger network; each product of a step at each count.

    python benchmarks/run.py --threads 1,2        # Fashion-MNIST (and --big) at each count, and the products
    python benchmarks/run.py --busy               # one core taken by a spinning process
    python benchmarks/run.py --big                # configs/fashion_mnist.yaml's network, 784-768-384-10

An "epoch" here is the training steps over the train split (``frameworks.config_steps``: a shuffled batch
gathered, then ``Experiment.train_step``; PyTorch's tight loop), without the evaluation around them, so that
runs of different settings can take turns epoch by epoch in one process: each ratio is the median over
rounds of the ratio of two epochs of the same round.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from frameworks import config_steps, nnlab_config, torch_epochs, torch_shipped_model

from nnlab import parallel

SHIPPED = Path(__file__).resolve().parents[1] / "nnlab" / "configs" / "fashion_mnist.yaml"


def pinned(n: int | None):
    """Exactly ``n`` threads for nnlab (BLAS and its split, as ``nnlab train --threads n``) and for whatever
    else uses NumPy's BLAS inside the block; None: nnlab's own choice (all usable cores, fewer while they
    are busy)."""
    stack = contextlib.ExitStack()
    if n is not None:
        stack.enter_context(parallel.blas_limit(n))
        stack.enter_context(parallel.limit(n))
    return stack


@contextlib.contextmanager
def spinner():
    """A process that spins on the last core this one may use, for the duration of the block."""
    cpu = max(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    pin = f"os.sched_setaffinity(0, {{{cpu}}})\n" if cpu is not None else ""
    spin = (  # ends when this process does, however it ends (a benchmark stopped by a signal)
        "import os\n" + pin + f"while os.getppid() == {os.getpid()}:\n    for _ in range(100_000): pass\n"
    )
    p = subprocess.Popen([sys.executable, "-c", spin])
    try:
        time.sleep(0.5)  # started and spinning
        yield cpu
    finally:
        p.kill()
        p.wait()


def nnlab_epochs_of(raw: dict, threads: int | None):
    """Epochs of nnlab's training steps for the config ``raw``, each under ``pinned(threads)``: a generator
    of seconds, and the Experiment it trains (its ``threads.steps``: how many steps ran at each count)."""
    steps = config_steps(raw)

    def epochs():
        while True:
            with pinned(threads):  # only while its epoch runs: not while the generator waits
                t0 = time.perf_counter()
                steps(steps.experiment.n_batches)
                seconds = time.perf_counter() - t0
            yield seconds

    return epochs(), steps.experiment


def take_turns(runs: dict, rounds: int) -> dict[str, list[float]]:
    """One epoch of each run per round, in an order that rotates from round to round; the first round warms
    up and is left out."""
    names, seconds = list(runs), {name: [] for name in runs}
    for r in range(rounds + 1):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t = next(runs[name])
            t = t[0] if isinstance(t, tuple) else t
            if r:
                seconds[name].append(t)
    return seconds


def ratio(a: list[float], b: list[float] | float) -> float:
    """Median over rounds of a/b (b: a list of the same rounds, or one figure)."""
    bs = b if isinstance(b, list) else [b] * len(a)
    return statistics.median(x / y for x, y in zip(a, bs))


# ------------------------------------------------------------------------------------------------ busy
def busy(optimizers, batch: int, rounds: int, torch_threads: int, fashion: dict) -> list[dict]:
    """For each optimizer: quiet, nnlab at one thread and at its own choice, PyTorch at its default and at
    one thread; then with one core spinning, the same and nnlab at every core (BLAS's own default, what
    nnlab did before it chose), taking turns."""
    rows, cores = [], parallel.usable_cores()
    for opt in optimizers:
        raw = nnlab_config(fashion, [256, 128], {"name": opt, "lr": 1e-3 if opt == "adam" else 0.01}, batch)
        auto, exp = nnlab_epochs_of(raw, None)
        one, _ = nnlab_epochs_of(raw, 1)
        every, _ = nnlab_epochs_of(raw, cores)
        X, y = exp.splits.X_train, exp.splits.y_train
        big = 2 * rounds + 4  # PyTorch's epochs: a quiet and a busy phase
        lr = raw["optimizer"]["lr"]
        pt = torch_epochs(X, y, [784, 256, 128, 10], opt, lr, batch, big, threads=torch_threads)
        pt1 = torch_epochs(X, y, [784, 256, 128, 10], opt, lr, batch, big, threads=1)
        quiet = take_turns({"nnlab 1": one, "nnlab auto": auto, "pytorch": pt, "pytorch 1": pt1}, rounds)
        chosen_quiet = dict(exp.threads.steps)
        with spinner():
            loaded = take_turns(
                {"nnlab auto": auto, "nnlab 1": one, f"nnlab {cores}": every, "pytorch": pt, "pytorch 1": pt1},
                rounds,
            )
        after = take_turns({"nnlab 1": one}, max(2, rounds // 2))  # quiet again: the machine's drift
        q1 = statistics.median(quiet["nnlab 1"] + after["nnlab 1"])
        steps_busy = {k: v - chosen_quiet.get(k, 0) for k, v in exp.threads.steps.items()}
        rows.append(
            {
                "optimizer": opt,
                "batch": batch,
                "quiet_nnlab_1_s": q1,
                "quiet_nnlab_auto_s": statistics.median(quiet["nnlab auto"]),
                "busy_nnlab_auto_s": statistics.median(loaded["nnlab auto"]),
                "busy_nnlab_1_s": statistics.median(loaded["nnlab 1"]),
                f"busy_nnlab_{cores}_s": statistics.median(loaded[f"nnlab {cores}"]),
                "busy_auto/quiet_1": ratio(loaded["nnlab auto"], q1),
                "busy_auto/busy_1": ratio(loaded["nnlab auto"], loaded["nnlab 1"]),
                f"busy_{cores}/quiet_1": ratio(loaded[f"nnlab {cores}"], q1),
                "pytorch_busy/quiet": ratio(loaded["pytorch"], statistics.median(quiet["pytorch"])),
                "pytorch_1_busy/quiet": ratio(loaded["pytorch 1"], statistics.median(quiet["pytorch 1"])),
                "busy_auto/pytorch": ratio(loaded["nnlab auto"], loaded["pytorch"]),
                "auto_steps_by_threads_busy": " ".join(f"{k}:{v}" for k, v in sorted(steps_busy.items())),
            }
        )
        print(f"  busy {opt} batch {batch}: " + ", ".join(f"{k} {v}" for k, v in list(rows[-1].items())[2:]))
    return rows


# ------------------------------------------------------------------------------------------------- big
def shipped_config() -> dict:
    import yaml

    return yaml.safe_load(SHIPPED.read_text())


def big(counts, rounds: int, torch_threads: int) -> list[dict]:
    """The shipped Fashion-MNIST config (784-768-384-10, batch norm, dropout 0.35, AdamW, batch 128, on its
    54 000 training images) in nnlab and PyTorch at each thread count (None: nnlab's own choice and
    PyTorch's default), taking turns."""
    raw = shipped_config()
    m, opt = raw["model"], raw["optimizer"]
    runs, experiments = {}, {}
    for n in counts:
        name = n or "auto"
        runs[f"nnlab {name}"], experiments[name] = nnlab_epochs_of(raw, n)
        X, y = experiments[name].splits.X_train, experiments[name].splits.y_train
        model = torch_shipped_model([784, *m["hidden"], 10], m["dropout"])
        extra = {"weight_decay": opt["weight_decay"]}
        runs[f"pytorch {name}"] = torch_epochs(
            X, y, None, ("adamw", extra), opt["lr"], raw["training"]["batch_size"], rounds + 1,
            threads=n or torch_threads, model=model,
        )  # fmt: skip
    seconds = take_turns(runs, rounds)
    rows = []
    for n in counts:
        name = n or "auto"
        nn, pt = seconds[f"nnlab {name}"], seconds[f"pytorch {name}"]
        rows.append(
            {
                "threads": name,
                "nnlab_s": statistics.median(nn),
                "pytorch_s": statistics.median(pt),
                "nnlab/pytorch": ratio(nn, pt),
                "nnlab_min_s": min(nn),
                "nnlab_max_s": max(nn),
                "steps_by_threads": " ".join(f"{k}:{v}" for k, v in sorted(experiments[name].threads.steps.items())),
            }
        )
        print(f"  big threads {name}: nnlab {rows[-1]['nnlab_s']:.3f} s, pytorch {rows[-1]['pytorch_s']:.3f} s")
    return rows


# -------------------------------------------------------------------------------------------- products
def step_products(sizes, batch: int) -> list[tuple[str, int, int, int]]:
    """(what, m, k, n) of each product of a training step: X W, Xᵀ dZ and (past the first layer) dZ Wᵀ."""
    out = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        out += [(f"X W {a}x{b}", batch, a, b), (f"XT dZ {a}x{b}", a, batch, b)]
        out += [(f"dZ WT {b}x{a}", batch, b, a)] if i else []
    return out


def products(counts, batches, networks, repeat: int = 200) -> list[dict]:
    """Each product of a step at each thread count, taking turns call by call: the median µs, and each
    count's time over one thread's. What says whether small products should run on fewer threads."""
    from threadpoolctl import ThreadpoolController

    control, rows = ThreadpoolController(), []
    rng = np.random.default_rng(0)
    for sizes in networks:
        for batch in batches:
            for what, m, k, n in step_products(sizes, batch):
                a, b = rng.random((m, k), np.float32), rng.random((k, n), np.float32)
                out = np.empty((m, n), np.float32)
                times = {c: [] for c in counts}
                for i in range(repeat + 10):
                    for c in counts:
                        with control.limit(limits=c, user_api="blas"):
                            t0 = time.perf_counter()
                            np.matmul(a, b, out=out)
                            dt = time.perf_counter() - t0
                        if i >= 10:
                            times[c].append(dt)
                med = {c: statistics.median(v) * 1e6 for c, v in times.items()}
                rows.append(
                    {
                        "network": "-".join(map(str, sizes)),
                        "batch": batch,
                        "product": what,
                        "mkn": m * k * n,
                        **{f"us_{c}": med[c] for c in counts},
                        **{f"{c}/1": med[c] / med[counts[0]] for c in counts[1:]},
                    }
                )
    return rows
