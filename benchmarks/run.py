"""nnlab's speed beside PyTorch (CPU) and scikit-learn, on the same networks, data and machine.

    python benchmarks/run.py                  # everything (11-12 minutes on 2 cores)
    python benchmarks/run.py --quick          # fewer epochs and batch sizes (about 2 minutes)
    python benchmarks/run.py --only paths     # what each of nnlab's speed paths gains (6-7 minutes)
    python benchmarks/run.py --no-fast-paths  # everything with them off (results in results/no_fast_paths/)
    python benchmarks/run.py --threads 1,2    # Fashion-MNIST at each thread count beside PyTorch at the same
    python benchmarks/run.py --busy           # one core taken by a spinning process
    python benchmarks/run.py --big            # the shipped configs/fashion_mnist.yaml network
                                              # (these three: benchmarks/cores.py; combine them freely)

Every comparison runs its frameworks in one process on the same arrays; on Fashion-MNIST they take turns
epoch by epoch (nnlab, PyTorch, scikit-learn, nnlab, ...), so that a busy machine slows them alike, and
each ratio is the median over epochs of the ratio of the epochs that ran side by side. The ratios are
what to read. The "paths" section times nnlab's own epoch with its speed paths (``nnlab.parallel.fast_paths``:
BLAS level-1 calls for the optimizer's update, the update split across threads, Adam's update fused into one
compiled pass where numba is installed) on and off in turn, and states what each gains. Writes
benchmarks/results/*.csv and RESULTS.md.
Needs the bench extra: pip install -e ".[bench]".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

# isort: off
import nnlab  # noqa: F401  (before NumPy, as in `nnlab train`: it sets how long OpenBLAS's idle threads spin)
import numpy as np

# isort: on

from nnlab import parallel  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import cores  # noqa: E402
from frameworks import (  # noqa: E402
    nnlab_epochs,
    nnlab_steps,
    sklearn_epochs,
    torch_accuracy,
    torch_epochs,
    weights_of,
)

RESULTS = HERE / "results"  # --no-fast-paths writes into results/no_fast_paths/ instead
FASHION = {"name": "fashion_mnist", "split": {"val": 0.0}, "preprocess": {"name": "scale", "factor": 255}}
SIZES = [784, 256, 128, 10]


def machine() -> dict:
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    # numpy's own BLAS, not the copy PyTorch or scikit-learn may bring along
    ours = [i for i in blas if "numpy" in i.get("filepath", "")] or blas
    b = ours[0] if ours else {}
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": f"{b.get('internal_api', '?')} {b.get('version', '?')} ({b.get('architecture', '?')})",
        "threads": b.get("num_threads"),
        "openblas_thread_timeout": os.environ.get("OPENBLAS_THREAD_TIMEOUT"),
        "fast_paths": "+".join(p for p in parallel.PATHS if parallel.fast(p)) or "off",
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


# ------------------------------------------------------------------------------------------ 1. ceiling
def gemm_operands(shapes, dtype) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Random (a, b, out) arrays for each (m, k, n) product a @ b."""
    rng = np.random.default_rng(0)
    return [
        (rng.random((m, k), dtype=dtype), rng.random((k, n), dtype=dtype), np.empty((m, n), dtype))
        for m, k, n in shapes
    ]


def gemm_seconds(shapes, dtype, repeat=30) -> float:
    """Best time of the listed (m, k, n) products, each written into a preallocated output."""
    ops = gemm_operands(shapes, dtype)
    for a, b, c in ops:
        np.matmul(a, b, out=c)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for a, b, c in ops:
            np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    return best


def epoch_gemms(batch: int) -> list[tuple[int, int, int]]:
    """The 8 products of one training step of 784-256-128-10: 3 forward, 3 dW, 2 dX."""
    out = []
    for a, b in zip(SIZES, SIZES[1:]):
        out.append((batch, a, b))  # X W
        out.append((a, batch, b))  # Xᵀ dZ
    for a, b in list(zip(SIZES, SIZES[1:]))[1:]:
        out.append((batch, b, a))  # dZ Wᵀ (not for the first layer)
    return out


def gemm_epochs(batch: int, n: int = 60000):
    """An epoch of nothing but the step's 8 products (float32, preallocated outputs), once per next():
    timed between the frameworks' epochs, it is the floor of their epoch under the same machine load."""
    ops = gemm_operands(epoch_gemms(batch), np.float32)
    steps = -(-n // batch)
    while True:
        t0 = time.perf_counter()
        for _ in range(steps):
            for a, b, c in ops:
                np.matmul(a, b, out=c)
        yield time.perf_counter() - t0, None


def ceiling(batches) -> list[dict]:
    rows = []
    for dtype in (np.float32, np.float64):
        for batch in batches:
            shapes = epoch_gemms(batch)
            secs = gemm_seconds(shapes, dtype)
            flops = sum(2 * m * k * n for m, k, n in shapes)
            steps = -(-60000 // batch)
            rows.append(
                {
                    "dtype": np.dtype(dtype).name,
                    "batch": batch,
                    "gflops": flops / secs / 1e9,
                    "epoch_gemm_seconds": secs * steps,
                }
            )
    return rows


# ------------------------------------------------------------------------------------- 2. Fashion-MNIST
def fashion(batches, epochs, accuracy_epochs, optimizers, counts=(None,)) -> tuple[list[dict], list[dict]]:
    """Each optimizer, batch size and thread count (``counts``; None: nnlab's own choice and PyTorch's
    default): nnlab, PyTorch (at the same count), scikit-learn and a GEMM-only epoch, taking turns."""
    flops_epoch = 6 * 60000 * weights_of(SIZES)
    ceil32 = {r["batch"]: r for r in ceiling(batches) if r["dtype"] == "float32"}
    rows, epochs_seen = [], []
    data = None
    for opt_name, batch, n in [(o, b, n) for o in optimizers for b in batches for n in counts]:
        lr = 1e-3 if opt_name == "adam" else 0.01
        times = {"nnlab": [], "pytorch": [], "sklearn": [], "gemm": []}
        others = {"gemm": gemm_epochs(batch)}

        def between(trainer, opt_name=opt_name, lr=lr, batch=batch, times=times, others=others, n=n):
            """After each nnlab epoch: a GEMM-only epoch, then PyTorch's and scikit-learn's on the same arrays."""
            if "pytorch" not in others:
                s = trainer.splits
                others["pytorch"] = torch_epochs(
                    s.X_train, s.y_train, SIZES, opt_name, lr, batch, epochs + 1, threads=n or TORCH_THREADS
                )
                others["sklearn"] = sklearn_epochs(s.X_train, s.y_train, [256, 128], opt_name, lr, batch, epochs + 1)
            for name, run in others.items():
                times[name].append(next(run)[0])

        with cores.pinned(n):
            trainer, _, t_nn = nnlab_epochs(
                FASHION, [256, 128], {"name": opt_name, "lr": lr}, batch, epochs + 1, between=between
            )
        times["nnlab"] = list(t_nn)
        times = {k: v[1:] for k, v in times.items()}  # the first epoch of each warms up
        threads = n or "auto"
        epochs_seen.extend(
            {
                "optimizer": opt_name,
                "batch": batch,
                "threads": threads,
                "epoch": i + 1,
                **{f"{k}_s": v[i] for k, v in times.items()},
            }
            for i in range(len(times["nnlab"]))
        )
        if data is None:
            s = trainer.splits
            data = (s.X_train, s.y_train, s.X_test, s.y_test)
        med = {k: statistics.median(v) for k, v in times.items()}

        def paired(a, b, times=times):
            """The median of epoch i's ratio a/b over i: each pair ran seconds apart, so the machine's
            drift over the minutes of the run falls on both sides of each ratio."""
            return statistics.median(x / y for x, y in zip(times[a], times[b]))

        rows.append(
            {
                "optimizer": opt_name,
                "batch": batch,
                **({"threads": threads} if counts != (None,) else {}),
                **{f"{k}_s": v for k, v in med.items()},
                "nnlab/pytorch": paired("nnlab", "pytorch"),
                "nnlab/sklearn": paired("nnlab", "sklearn"),
                "nnlab/gemm": paired("nnlab", "gemm"),
                "pytorch/gemm": paired("pytorch", "gemm"),
                "nnlab_gflops": flops_epoch / med["nnlab"] / 1e9,
                "nnlab_fraction_of_ceiling": flops_epoch / med["nnlab"] / 1e9 / ceil32[batch]["gflops"],
            }
        )
        print(
            f"  fashion {opt_name} batch {batch} threads {threads}: "
            + ", ".join(f"{k} {v:.3f} s" for k, v in med.items()),
            flush=True,
        )
    save("fashion_epochs", epochs_seen)  # every timed epoch, side by side, for other statistics
    return rows, fashion_accuracy(data, accuracy_epochs) if accuracy_epochs else []


def fashion_accuracy(data, epochs) -> list[dict]:
    """Test accuracy after `epochs` epochs of Adam, lr 1e-3, batch 128, for each framework."""
    X, y, Xt, yt = data
    _, result, _ = nnlab_epochs(FASHION, [256, 128], {"name": "adam", "lr": 1e-3}, 128, epochs)
    out = [{"framework": "nnlab", "epochs": epochs, "test_accuracy": result.summary["test"]["test_accuracy"]}]
    *_, (_, model) = torch_epochs(X, y, SIZES, "adam", 1e-3, 128, epochs)
    out.append({"framework": "pytorch", "epochs": epochs, "test_accuracy": torch_accuracy(model, Xt, yt)})
    *_, (_, clf) = sklearn_epochs(X, y, [256, 128], "adam", 1e-3, 128, epochs)
    out.append({"framework": "sklearn", "epochs": epochs, "test_accuracy": float((clf.predict(Xt) == yt).mean())})
    return out


# ------------------------------------------------------------------------------------- 3. speed paths
PATH_SETTINGS = {  # the speed paths of nnlab.parallel.fast_paths, each setting a column of the comparison
    "all on": {"blas": True, "threads": True, "jit": True},
    "no jit": {"blas": True, "threads": True, "jit": False},
    "no BLAS": {"blas": False, "threads": True, "jit": False},
    "no thread split": {"blas": True, "threads": False, "jit": False},
    "all off": {"blas": False, "threads": False, "jit": False},
}
PATH_GAINS = {  # path: (the setting without it, the same setting with it)
    "Adam fused into one compiled pass (numba)": ("no jit", "all on"),
    "BLAS axpy/scal/axpby updates": ("no BLAS", "no jit"),
    "optimizer update split across threads": ("no thread split", "no jit"),
    "all three": ("all off", "all on"),
}


def paths(batches, rounds, optimizers) -> tuple[list[dict], list[dict]]:
    """nnlab's Fashion-MNIST epoch with each setting of the speed paths in turn, epoch by epoch in one
    training run (the maths is the same, so every epoch does the same work): each round runs every setting
    once, in an order that rotates from round to round, and a setting's ratio is the median over rounds of
    its epoch over the all-on epoch of the same round. The first round warms up. A round during which other
    processes took more than BUSY of the machine's CPU time (Linux) is left out, and the run goes on, up to
    three times as many rounds, until ``rounds`` quiet ones are in. Also the optimizer's step alone on the
    flat buffer of 235 146 weights, settings interleaved step by step."""
    names, k = list(PATH_SETTINGS), len(PATH_SETTINGS)
    rows, gains, seen = [], [], []
    for opt_name in optimizers:
        lr = 1e-3 if opt_name == "adam" else 0.01
        step_us = optimizer_step_us(opt_name, lr)
        for batch in batches:
            chunks = step_ratios(opt_name, lr, batch, 10 * rounds)
            order = [names[(r + i) % k] for r in range(3 * rounds + 1) for i in range(k)]
            marks, busy = [], []  # (wall, others' CPU seconds) at each epoch's start and end; others' share

            def before(epoch, order=order, marks=marks):
                parallel.fast_paths(**PATH_SETTINGS[order[len(marks)]])  # the epochs this run has begun
                marks.append((time.perf_counter(), cpu_of_others()))

            def between(trainer, marks=marks, busy=busy, order=order):
                (w0, c0), (w1, c1) = marks[-1], (time.perf_counter(), cpu_of_others())
                setting = PATH_SETTINGS[order[len(busy)]]
                in_force = {p: parallel.fast(p) for p in setting}
                assert in_force == setting, (in_force, order[len(busy)])
                busy.append((c1 - c0) / (w1 - w0) / (os.cpu_count() or 1) if c0 is not None else 0.0)
                if len(busy) % k == 0 and sum(quiet_rounds(busy, k)[1:]) >= rounds:
                    trainer.stop("completed", "enough quiet rounds")

            with parallel.fast_paths():  # the setting before comes back after the run
                _, _, t = nnlab_epochs(
                    FASHION,
                    [256, 128],
                    {"name": opt_name, "lr": lr},
                    batch,
                    len(order),
                    before=before,
                    between=between,
                )
            quiet = quiet_rounds(busy, k)
            used = [r for r in range(1, len(quiet)) if quiet[r]] or list(range(1, len(quiet)))
            by = {name: {} for name in names}  # round → seconds
            for i, (name, secs) in enumerate(zip(order, t)):
                by[name][i // k] = secs
            seen.extend(
                {
                    "optimizer": opt_name,
                    "batch": batch,
                    "epoch": i + 1,
                    "setting": name,
                    "seconds": secs,
                    "others_cpu": busy[i],
                    "round_used": i // k in used,
                }
                for i, (name, secs) in enumerate(zip(order, t))
            )
            ratios = {name: [by[name][r] / by["all on"][r] for r in used] for name in names}
            for name in names:
                rows.append(
                    {
                        "optimizer": opt_name,
                        "batch": batch,
                        "setting": name,
                        "epoch_s": statistics.median(by[name][r] for r in used),
                        "epoch/all_on": statistics.median(ratios[name]),
                        "min": min(ratios[name]),
                        "max": max(ratios[name]),
                        "rounds": f"{len(used)}/{len(quiet) - 1}" + ("" if any(quiet[1:]) else " busy"),
                        "steps/all_on": statistics.median(chunks[name]),
                        "step_us": step_us[name],
                    }
                )
            for path, (without, with_) in PATH_GAINS.items():
                r = [a / b for a, b in zip(ratios[without], ratios[with_])]
                gains.append(
                    {
                        "path": path,
                        "optimizer": opt_name,
                        "batch": batch,
                        "gain_%": 100 * (statistics.median(r) - 1),
                        "min_%": 100 * (min(r) - 1),
                        "max_%": 100 * (max(r) - 1),
                        "rounds": rows[-1]["rounds"],
                        "steps_gain_%": 100
                        * (statistics.median(a / b for a, b in zip(chunks[without], chunks[with_])) - 1),
                        "step_us_with": step_us[with_],
                        "step_us_without": step_us[without],
                    }
                )
            print(
                f"  paths {opt_name} batch {batch} ({rows[-1]['rounds']} rounds): "
                + ", ".join(f"{n} {rows[-k + i]['epoch/all_on']:.3f}" for i, n in enumerate(names)),
                flush=True,
            )
    save("paths_epochs", seen)  # every epoch, the warm-up round's and the busy rounds' included
    return rows, gains


BUSY = 0.1  # others' share of the CPU time above which a round is left out


def quiet_rounds(busy: list[float], k: int) -> list[bool]:
    """For each whole round of ``k`` epochs: whether other processes stayed under BUSY in all its epochs."""
    return [max(busy[r * k : (r + 1) * k]) <= BUSY for r in range(len(busy) // k)]


def cpu_of_others() -> float | None:
    """CPU seconds that processes other than this one have used since boot (Linux's /proc), else None."""
    try:
        busy = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[11:13]  # utime, stime
        ticks = sum(int(busy[i]) for i in (0, 1, 2, 5, 6, 7)) - sum(map(int, own))  # all but idle and iowait
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def step_ratios(opt_name: str, lr: float, batch: int, rounds: int, chunk: int = 50) -> dict[str, list[float]]:
    """Each setting's ratio to all-on for runs of ``chunk`` training steps (the loop's work per batch, without
    the epoch's), settings taking turns run by run in an order that rotates by round: a round lasts well
    under a second, so that the machine's drift falls on all alike. A warm-up round first."""
    names, k = list(PATH_SETTINGS), len(PATH_SETTINGS)
    steps = nnlab_steps(FASHION, [256, 128], {"name": opt_name, "lr": lr}, batch)
    ratios = {name: [] for name in names}
    with parallel.fast_paths():
        for r in range(rounds + 1):
            secs = {}
            for name in [names[(r + i) % k] for i in range(k)]:
                parallel.fast_paths(**PATH_SETTINGS[name])
                t0 = time.perf_counter()
                steps(chunk)
                secs[name] = time.perf_counter() - t0
            if r:
                for name in names:
                    ratios[name].append(secs[name] / secs["all on"])
    return ratios


def optimizer_step_us(opt_name: str, lr: float, steps: int = 300) -> dict[str, float]:
    """Median µs of one optimizer step on 784-256-128-10's flat weight buffer, for each path setting, the
    settings taking turns step by step."""
    from nnlab.components.optimizers import OPTIMIZERS

    n = weights_of(SIZES)
    rng = np.random.default_rng(0)
    g = {"weights": (rng.standard_normal(n) * 1e-2).astype(np.float32)}
    state = {
        name: (OPTIMIZERS.build({"name": opt_name, "lr": lr}), {"weights": rng.random(n, np.float32)})
        for name in PATH_SETTINGS
    }
    times = {name: [] for name in PATH_SETTINGS}
    for i in range(steps + 20):
        for name, setting in PATH_SETTINGS.items():
            opt, p = state[name]
            with parallel.fast_paths(**setting):
                t0 = time.perf_counter()
                opt.step(p, g, lr)
                dt = time.perf_counter() - t0
            if i >= 20:
                times[name].append(dt)
    return {name: statistics.median(v) * 1e6 for name, v in times.items()}


def gain_lines(gains: list[dict]) -> list[str]:
    """One line per path, optimizer and batch: how much longer nnlab's training is without the path."""
    opt_names = {"adam": "Adam", "sgd": "SGD"}
    return [
        f"- {g['path']}, {opt_names.get(g['optimizer'], g['optimizer'])} at batch {g['batch']}: "
        f"{g['steps_gain_%']:+.1f} % (training steps, taking turns by runs of 50); "
        f"{g['gain_%']:+.1f} % (epochs taking turns, median over {g['rounds']} rounds, each round "
        f"{g['min_%']:+.1f} to {g['max_%']:+.1f} %); one optimizer step {g['step_us_with']:.0f} µs with it, "
        f"{g['step_us_without']:.0f} µs without"
        for g in gains
    ]


# ----------------------------------------------------------------------------------- 4. small networks
def side_by_side(nn: float, pt: float, sk: float) -> dict:
    """The three frameworks' seconds and nnlab's ratios to the other two."""
    return {"nnlab_s": nn, "pytorch_s": pt, "sklearn_s": sk, "nnlab/pytorch": nn / pt, "nnlab/sklearn": nn / sk}


def xor(steps) -> dict:
    data = {"name": "xor", "split": {"val": 0.0, "test": 0.0}}
    t0 = time.perf_counter()
    _, result, _ = nnlab_epochs(
        data, [8], {"name": "sgd", "lr": 0.5}, "full", steps, activation="tanh", loss="bce", output="sigmoid"
    )
    nn = time.perf_counter() - t0
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([0, 1, 1, 0])
    t0 = time.perf_counter()
    *_, (_, model) = torch_epochs(X, y, [2, 8, 1], "sgd", 0.5, 4, steps, activation="tanh", binary=True)
    pt = time.perf_counter() - t0
    from sklearn.neural_network import MLPClassifier

    t0 = time.perf_counter()
    MLPClassifier(
        (8,),
        activation="tanh",
        solver="sgd",
        learning_rate_init=0.5,
        momentum=0.0,
        batch_size=4,
        max_iter=steps,
        tol=0.0,
        n_iter_no_change=steps + 1,
        alpha=0.0,
        random_state=0,
    ).fit(X, y)
    sk = time.perf_counter() - t0
    return {
        "steps": steps,
        **side_by_side(nn, pt, sk),
        "nnlab_us_per_step": nn / steps * 1e6,
        "pytorch_us_per_step": pt / steps * 1e6,
        "nnlab_accuracy": result.summary["final"]["train_accuracy"],
    }


def digits(epochs) -> dict:
    data = {"name": "digits", "split": {"val": 0.0, "test": 0.2}, "preprocess": {"name": "scale", "factor": 16}}
    t0 = time.perf_counter()
    trainer, result, _ = nnlab_epochs(data, [128], {"name": "adam", "lr": 1e-3}, 32, epochs)
    nn = time.perf_counter() - t0
    s = trainer.splits
    t0 = time.perf_counter()
    *_, (_, model) = torch_epochs(s.X_train, s.y_train, [64, 128, 10], "adam", 1e-3, 32, epochs)
    pt = time.perf_counter() - t0
    t0 = time.perf_counter()
    *_, (_, clf) = sklearn_epochs(s.X_train, s.y_train, [128], "adam", 1e-3, 32, epochs)
    sk = time.perf_counter() - t0
    return {
        "epochs": epochs,
        **side_by_side(nn, pt, sk),
        "nnlab_test_accuracy": result.summary["test"]["test_accuracy"],
        "pytorch_test_accuracy": torch_accuracy(model, s.X_test, s.y_test),
        "sklearn_test_accuracy": float((clf.predict(s.X_test) == s.y_test).mean()),
    }


# ------------------------------------------------------------------------------- 5. memory, 6. startup
def child_rss(framework: str) -> None:
    """In a child process: one epoch of Fashion-MNIST, Adam, batch 128; print the peak RSS in MB."""
    trainer, *_ = (
        nnlab_epochs(FASHION, [256, 128], {"name": "adam", "lr": 1e-3}, 128, 1) if framework == "nnlab" else (None,)
    )
    if framework != "nnlab":
        from nnlab.registry import build

        ds = build("dataset", "fashion_mnist", rng=np.random.default_rng(0))
        X = ds.X.astype(np.float32) / 255
        runner = torch_epochs if framework == "pytorch" else sklearn_epochs
        args = (SIZES,) if framework == "pytorch" else ([256, 128],)
        list(runner(X, ds.y, *args, "adam", 1e-3, 128, 1))
    print(json.dumps({"framework": framework, "peak_rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM, not getrusage: a child started by vfork + exec
    carries its parent's peak in ru_maxrss, and the benchmark's parent holds several copies of the data."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory() -> list[dict]:
    rows = []
    for fw in ("nnlab", "pytorch", "sklearn"):
        p = subprocess.run([sys.executable, __file__, "--child-rss", fw], capture_output=True, text=True, check=True)
        rows.append(json.loads(p.stdout.strip().splitlines()[-1]))
    return rows


def startup(repeat=5) -> list[dict]:
    exe = shutil.which("nnlab")
    base = [exe] if exe else [sys.executable, "-m", "nnlab"]
    rows = []
    for args in (["--help"], ["train", "--help"]):
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            subprocess.run(base + args, capture_output=True, check=True)
            times.append(time.perf_counter() - t0)
        rows.append({"command": "nnlab " + " ".join(args), "median_s": statistics.median(times), "min_s": min(times)})
    return rows


# ---------------------------------------------------------------------------------------------- report
def table(rows: list[dict]) -> str:
    if not rows:
        return ""
    cols = list(rows[0])
    fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def save(name: str, rows: list[dict]) -> None:
    import pandas as pd

    RESULTS.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(RESULTS / f"{name}.csv", index=False, float_format="%.6g")


def warm_imports() -> None:
    """Import what each framework's timed code would import on first use: PyTorch's import is not timed
    either, and neither should nnlab's (pandas, safetensors) be."""
    import pandas  # noqa: F401
    import safetensors.numpy  # noqa: F401
    import sklearn.neural_network  # noqa: F401
    import torch

    import nnlab.training.loop  # noqa: F401

    global TORCH_THREADS
    TORCH_THREADS = torch.get_num_threads()


TORCH_THREADS = 1  # PyTorch's own default thread count, read by warm_imports (runs at other counts change it)


SECTIONS = ["ceiling", "fashion", "paths", "small", "memory", "startup"]
EXTRA = ["products", "busy", "big"]  # run when asked: --threads, --busy, --big (or --only)


def counts_of(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(sorted({int(v) for v in text.split(",") if v.strip()}))
    except ValueError:
        counts = ()
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give thread counts like 1,2,4")
    return counts


def extra_sections(args, sections, q: bool, batches) -> dict[str, list[str]]:
    """The thread sections (benchmarks/cores.py) among ``sections``, as Markdown parts."""
    parts = {}
    stamp = f"`python benchmarks/run.py {' '.join(sys.argv[1:])}`, {time.strftime('%Y-%m-%d %H:%M')}\n"
    counts = args.threads or (1, parallel.usable_cores())
    if "products" in sections:
        rows = cores.products(counts, batches, [SIZES, [784, 768, 384, 10]], 50 if q else 200)
        save("products", rows)
        parts["products"] = [
            "## Each product of a step at each thread count (float32, median µs, taking turns call by call)\n",
            stamp,
            table(rows),
        ]
    if "busy" in sections:
        rows = cores.busy(["adam"] if q else ["adam", "sgd"], 128, 3 if q else 5, TORCH_THREADS, FASHION)
        save("busy", rows)
        parts["busy"] = [
            "## One core busy: Fashion-MNIST 784-256-128-10, batch 128, a spinning process on one core\n",
            stamp,
            "Epochs of training steps taking turns, first quiet (nnlab at one thread and at its own choice, "
            "PyTorch at its default and at one thread), then with the spinner (the same, and nnlab at every "
            "core, as BLAS's default had it before nnlab chose), then quiet again (nnlab at one thread: "
            "`quiet_nnlab_1_s` is the median of both quiet phases). `busy_auto/quiet_1`: nnlab's own choice on "
            "the busy machine over its quiet single-threaded epoch; `busy_auto/busy_1`: over one thread on the "
            "same busy machine, round by round.\n",
            table(rows),
        ]
    if "big" in sections:
        rows = cores.big([*(args.threads or ()), None], 3 if q else 5, TORCH_THREADS)
        save("big", rows)
        parts["big"] = [
            "## The shipped configs/fashion_mnist.yaml network: 784-768-384-10, batch norm, dropout, AdamW, "
            "batch 128\n",
            stamp,
            "Seconds per epoch of training steps (54 000 images), nnlab and PyTorch taking turns, at each "
            "thread count (`auto`: nnlab's own choice, PyTorch's default).\n",
            table(rows),
        ]
    return parts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer batch sizes and epochs")
    ap.add_argument("--only", choices=SECTIONS + EXTRA, action="append")
    ap.add_argument(
        "--threads",
        type=counts_of,
        help="thread counts, e.g. 1,2,4: Fashion-MNIST (and --big) at each, nnlab and PyTorch alike, and each "
        "product of a step at each (with --only: the counts of those sections)",
    )
    ap.add_argument("--busy", action="store_true", help="one core taken by a spinning process (benchmarks/cores.py)")
    ap.add_argument("--big", action="store_true", help="the shipped configs/fashion_mnist.yaml network")
    ap.add_argument(
        "--no-fast-paths",
        action="store_true",
        help="nnlab without its speed paths (NNLAB_FAST_PATHS=0): results in results/no_fast_paths/",
    )
    ap.add_argument("--child-rss", help=argparse.SUPPRESS)
    args = ap.parse_args()
    global RESULTS
    if args.no_fast_paths:
        os.environ["NNLAB_FAST_PATHS"] = "0"  # for the child processes (memory)
        parallel.fast_paths(blas=False, threads=False, jit=False)
        RESULTS = RESULTS / "no_fast_paths"
    if args.child_rss:
        return child_rss(args.child_rss)
    warm_imports()
    q = args.quick
    batches = [128] if q else [32, 128, 512]
    sections = args.only or [n for n in SECTIONS if not (args.no_fast_paths and n == "paths")]
    if not args.only and (args.threads or args.busy or args.big):  # the thread sections asked for
        sections = ["fashion", "products"] * bool(args.threads) + ["busy"] * args.busy + ["big"] * args.big
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = machine()
    print(f"machine: {info}", flush=True)
    flags = "".join(" " + a for a in sys.argv[1:])
    report = [
        f"# nnlab benchmarks\n\nLatest run: `python benchmarks/run.py{flags}` on {info['processor']}, "
        f"{info['cpus']} CPUs, {info['blas']}, {info['threads']} BLAS threads, numpy {info['numpy']}, "
        f"Python {info['python']}, OPENBLAS_THREAD_TIMEOUT={info['openblas_thread_timeout']}, nnlab's speed paths: "
        f"{info['fast_paths']}. Seconds are medians "
        "over epochs after a warm-up epoch; on Fashion-MNIST each ratio is the median over epochs of the ratio "
        "of the epochs that ran side by side. Each section keeps the figures of the run that last wrote it "
        "(`--only` refreshes one; the thread sections name their command).\n"
    ]
    parts = {}
    if "ceiling" in sections:
        rows = ceiling(batches)
        save("ceiling", rows)
        parts["ceiling"] = ["## Matrix-multiply ceiling (the 8 products of a 784-256-128-10 step)\n", table(rows)]
    if "fashion" in sections:
        if args.threads:  # each count beside PyTorch at the same: batch 128 and 512, no accuracy run
            counts, fb, epochs, acc_epochs = (*args.threads, None), ([128] if q else [128, 512]), 2 if q else 4, 0
        else:
            counts, fb, epochs, acc_epochs = (None,), batches, 2 if q else 5, 2 if q else 10
        rows, acc = fashion(fb, epochs, acc_epochs, ["adam", "sgd"], counts)
        save("fashion", rows)
        parts["fashion"] = ["## Fashion-MNIST, 784-256-128-10, ReLU, softmax cross-entropy, float32\n", table(rows)]
        if args.threads:
            parts["fashion"][1:1] = [
                f"`python benchmarks/run.py {' '.join(sys.argv[1:])}`: nnlab at each thread count beside PyTorch "
                "at the same count (`auto`: nnlab's own choice, PyTorch's default).\n"
            ]
        if acc:
            save("fashion_accuracy", acc)
            parts["fashion"] += ["", "Test accuracy, Adam lr 1e-3, batch 128:\n", table(acc)]
    if "paths" in sections:
        rows, gains = paths([128] if q else [32, 128], 2 if q else 6, ["adam", "sgd"])
        save("paths", rows)
        save("path_gains", gains)
        parts["paths"] = [
            "## nnlab's speed paths, Fashion-MNIST 784-256-128-10, float32\n",
            "Each setting of `nnlab.parallel.fast_paths` (`NNLAB_FAST_PATHS`) in turn, epoch by epoch in one "
            "run; `epoch/all_on` is the median over rounds of each epoch over the all-on epoch of its round "
            "(`min`, `max`: the rounds' extremes); `steps/all_on`: the same for runs of 50 training steps taking "
            "turns (a finer interleave, without the epoch's own work); `step_us`: one optimizer step on the "
            "235 146 weights alone.\n",
            table(rows),
            "",
            "What each path gains: how much longer training takes without it than with everything on. The "
            "runs of steps are the precise measure; epochs, seconds long, pick up more of a shared machine's "
            "drift (each round's range says how much; plain SGD never splits its update while BLAS is at "
            "hand, so its thread-split line shows that noise).\n",
            *gain_lines(gains),
        ]
    if "small" in sections:
        rows = [xor(1000 if q else 10000)]
        save("xor", rows)
        d = [digits(10 if q else 100)]
        save("digits", d)
        parts["small"] = [
            "## XOR 2-8-1, tanh / sigmoid, full batch\n",
            table(rows),
            "",
            "## Digits 64-128-10, batch 32, Adam\n",
            table(d),
        ]
    if "memory" in sections:
        rows = memory()
        save("memory", rows)
        parts["memory"] = ["## Peak memory, one Fashion-MNIST epoch (separate processes)\n", table(rows)]
    if "startup" in sections:
        rows = startup()
        save("startup", rows)
        parts["startup"] = ["## Start-up\n", table(rows)]
    parts.update(extra_sections(args, sections, q, batches))
    for name, lines in parts.items():  # each section kept in its own file, so --only refreshes just that one
        (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    for name in [*SECTIONS, *EXTRA, "profile_step", "cores16/README"]:  # the last two: profile_step.py, by hand
        if (RESULTS / f"{name}.md").exists():
            report += [(RESULTS / f"{name}.md").read_text()]
    text = "\n".join(report)
    (RESULTS / "RESULTS.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
