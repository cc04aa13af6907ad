"""Elementwise work split across threads: every element covered once, errors surface, results bit-identical."""

import os
import sys
import threading

import numpy as np
import pytest

from nnlab import parallel
from nnlab.components.optimizers import OPTIMIZERS


@pytest.mark.parametrize("n", [0, 1, 1000, parallel.MIN_PIECE * 2 - 1, parallel.MIN_PIECE * 2, 235_146, 1_000_003])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_pieces_cover_every_element_once(n, threads):
    with parallel.limit(threads):
        ranges, in_parallel = parallel.pieces(n)
    covered = np.zeros(n, int)
    for a, b in ranges:
        covered[a:b] += 1
    assert (covered == 1).all()
    assert in_parallel == (threads > 1 and n >= 2 * parallel.MIN_PIECE)
    if in_parallel:
        assert len(ranges) <= threads and all(a % parallel.ALIGN == 0 for a, _ in ranges)
    else:
        assert all(b - a <= parallel.BLOCK for a, b in ranges)


def test_split_runs_pieces_on_several_threads_and_waits_for_all():
    seen = {}

    def piece(a, b):
        seen[(a, b)] = threading.current_thread().name

    with parallel.limit(2):
        parallel.split(piece, 4 * parallel.MIN_PIECE)
    assert len(seen) == 2
    assert len(set(seen.values())) == 2  # this thread and one worker


def test_an_error_in_a_worker_piece_is_raised_in_the_caller():
    def piece(a, b):
        if a > 0:
            raise ValueError(f"bad piece {a}")

    with parallel.limit(2), pytest.raises(ValueError, match="bad piece"):
        parallel.split(piece, 4 * parallel.MIN_PIECE)
    with parallel.limit(2):  # the workers survive it
        parallel.split(lambda a, b: None, 4 * parallel.MIN_PIECE)


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "rmsprop", "adagrad"])
def test_optimizer_steps_are_bit_identical_for_any_number_of_threads(name):
    """The cut does not change the arithmetic of any element: 1, 2 and 3 threads, and no split at all, give the
    same bits."""
    n = 235_146  # Fashion-MNIST's 784-256-128-10 weights
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(n).astype(np.float32)
    grads = [rng.standard_normal(n).astype(np.float32) * 1e-2 for _ in range(20)]
    results = []
    for threads, split in ((1, True), (2, True), (3, True), (2, False)):  # the last: no split, one piece
        spec = {"name": name, "momentum": 0.9} if name == "sgd" else {"name": name}
        opt = OPTIMIZERS.build(spec)
        w = {"weights": w0.copy()}
        with parallel.limit(threads), parallel.fast_paths(threads=split):
            for g in grads:
                opt.step(w, {"weights": g}, 0.01)
        results.append(w["weights"])
    assert not np.array_equal(results[0], w0)
    for r in results[1:]:
        assert np.array_equal(r, results[0])


def test_with_the_threads_path_off_split_runs_the_whole_range_once_on_this_thread():
    seen = []
    with parallel.limit(2), parallel.fast_paths(threads=False):
        assert parallel.threads() == 1 and parallel.pieces(1 << 20) == (((0, 1 << 20),), False)
        parallel.split(lambda a, b: seen.append((a, b, threading.current_thread().name)), 1 << 20)
    assert seen == [(0, 1 << 20, threading.current_thread().name)]
    with parallel.limit(2):
        assert parallel.pieces(1 << 20)[1]  # back on after the block
    setting = parallel.fast_paths(threads=False)  # called, not entered: holds until changed
    try:
        assert parallel.threads() == 1
    finally:
        setting.__exit__(None, None, None)


def test_thread_count_follows_blas_limits():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        assert parallel.refresh() == 1
        assert parallel.pieces(1 << 20)[1] is False
    parallel.refresh()
    with parallel.limit(3):
        assert parallel.threads() == 3


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_starts_its_own_workers():
    with parallel.limit(2):
        parallel.split(lambda a, b: None, 4 * parallel.MIN_PIECE)  # the parent's workers exist
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: the parent's worker threads are gone; a split must not hang on them
            ok = b"0"
            try:
                out = np.zeros(4 * parallel.MIN_PIECE)

                def piece(a, b):
                    out[a:b] = 1

                parallel.split(piece, out.size)
                ok = b"1" if out.all() else b"0"
            finally:
                os.write(w, ok)
                os._exit(0)
        os.close(w)
        assert os.read(r, 1) == b"1"
        os.waitpid(pid, 0)


@pytest.mark.parametrize("preset, expected", [(None, "4"), ("28", "28")])
def test_import_nnlab_puts_openblas_idle_threads_to_sleep_unless_the_user_chose(preset, expected):
    """OpenBLAS reads OPENBLAS_THREAD_TIMEOUT when it loads: `import nnlab` (before NumPy) sets it, never over
    a value already in the environment."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if preset:
        env["OPENBLAS_THREAD_TIMEOUT"] = preset
    code = "import nnlab, os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


# ----------------------------------------------------------------------------- cores, and the count of a step
NET = {
    "data": {"name": "blobs", "n_samples": 640, "classes": 3, "features": 100, "split": {"val": 0.0, "test": 0.0}},
    "model": {"hidden": [128]},  # products of 64·100·128 elements: BLAS threads them
    "optimizer": {"name": "adam", "lr": 0.01},
    "training": {"epochs": 1, "batch_size": 64},
}


@pytest.fixture
def two_cores(monkeypatch, tmp_path):
    """BLAS at 2 threads, 2 usable cores and no CPU quota, whatever the machine; a cgroup tree to fill."""
    from threadpoolctl import threadpool_limits

    if not parallel._setters():
        pytest.skip("BLAS threads are not OpenBLAS's here: the tuner stays off")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    (tmp_path / "proc").write_text("0::/user/run\n")
    (tmp_path / "cg" / "user" / "run").mkdir(parents=True)
    monkeypatch.setattr(parallel, "PROC_CGROUP", tmp_path / "proc")
    monkeypatch.setattr(parallel, "CGROUP", tmp_path / "cg")
    with threadpool_limits(limits=2, user_api="blas"):
        yield tmp_path / "cg"
    monkeypatch.undo()
    parallel.refresh()  # the machine's own cores again


def machine(monkeypatch, *others: float) -> list:
    """Other processes take ``others[i]`` of the 2 cores between reading i and i+1 (the last figure from
    then on), a reading before every step; returns the log of BLAS counts the Tuner set."""
    log, real, at = [], parallel._set_blas, [0, 0]  # readings made, others' ticks so far

    def cpu_times():  # reading k (0: when the Tuner starts) closes the interval of others[k - 1]
        at[1] += round(100 * others[min(at[0] - 1, len(others) - 1)]) if at[0] else 0
        at[0] += 1
        return at[1], 200 * at[0], 2  # 100 ticks a second on each of 2 CPUs

    monkeypatch.setattr(parallel, "cpu_times", cpu_times)
    monkeypatch.setattr(parallel.Tuner, "EVERY", 0.0)
    monkeypatch.setattr(parallel.Tuner, "FIRST", 0.0)
    monkeypatch.setattr(parallel, "_set_blas", lambda n: (log.append(n), real(n)))
    return log


def trained(k: int, config=NET):
    import nnlab

    exp = nnlab.build(config)
    X, y, B = exp.splits.X_train, exp.splits.y_train, exp.batch_size
    for i in range(k):
        exp.train_step(X[i * B : (i + 1) * B], y[i * B : (i + 1) * B], 0.01)
    return exp


def blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_usable_cores_are_the_affinity_lowered_to_the_cgroup_quota(two_cores, monkeypatch):
    assert parallel.cpu_quota() is None and parallel.usable_cores() == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    (two_cores / "user" / "run" / "cpu.max").write_text("max 100000\n")  # no limit here
    (two_cores / "user" / "cpu.max").write_text("250000 100000\n")  # 2.5 cores above: 3
    assert parallel.cpu_quota() == 3 and parallel.usable_cores() == 3
    (two_cores / "cpu.max").write_text("50000 100000\n")  # half a core at the top: 1
    assert parallel.cpu_quota() == 1 and parallel.usable_cores() == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    (two_cores / "cpu.max").unlink()
    assert parallel.usable_cores() == 1  # the affinity is the lower


def test_a_quota_of_one_core_runs_the_steps_on_one_thread_and_leaves_blas_as_it_was(two_cores):
    (two_cores / "user" / "cpu.max").write_text("100000 100000\n")
    assert parallel.refresh() == 1 and parallel.threads() == 1
    exp = trained(4)
    assert exp.threads.full == 1 and exp.threads.steps == {1: 4}
    assert blas_threads() == [2] * len(blas_threads())


def test_cpu_times_reads_other_processes_time_on_this_process_cpus(two_cores, monkeypatch, tmp_path):
    stat = "cpu  9 9 9 9 9 9 9 9 0 0\ncpu0 10 0 5 80 5 0 0 0 0 0\ncpu1 20 0 0 70 10 0 0 0 0 0\ncpu2 99 0 0 0 0 0 0 0\n"
    (tmp_path / "stat").write_text(stat)  # cpu2 is not this process's: left out
    (tmp_path / "self").write_text("42 (python3 (x)) R " + " ".join(["0"] * 10) + " 7 3 0 0")
    monkeypatch.setattr(parallel, "PROC_STAT", tmp_path / "stat")
    monkeypatch.setattr(parallel, "PROC_SELF_STAT", tmp_path / "self")
    assert parallel.cpu_times() == (15 + 20 - 10, 200, 2)  # busy less idle and iowait, less this process's
    monkeypatch.setattr(parallel, "PROC_STAT", tmp_path / "none")
    assert parallel.cpu_times() is None


@pytest.mark.parametrize(
    "others, counts",
    [
        ((0.05,), [2, 2, 2, 2, 2, 2]),  # quiet
        ((0.7,), [1, 1, 1, 1, 1, 1]),  # a process takes most of a core from the start: the first reading decides
        ((0.7, 0.0), [1, 2, 2, 2, 2, 2]),  # … and it alone: quiet again, back at once
        ((0.0, 0.7, 0.0, 0.7, 0.0), [2, 2, 2, 2, 2, 2]),  # later, a core busy now and then: one reading is not enough
        ((0.0, 0.9, 0.9, 0.9, 0.2), [2, 2, 1, 1, 2, 2]),  # busy after two readings that agree, then quiet: back at once
    ],
)
def test_the_steps_run_on_the_cores_other_processes_leave(two_cores, monkeypatch, others, counts):
    """The count follows the machine, and the run has the bits of a run pinned step by step at the same
    counts: reading the machine never touches the training."""
    from threadpoolctl import threadpool_limits

    with parallel.fast_paths(adapt=False):
        pinned = trained(0)
        X, y = pinned.splits.X_train, pinned.splits.y_train
        for i, n in enumerate(counts):
            with threadpool_limits(limits=n, user_api="blas"), parallel.limit(n):
                pinned.train_step(X[i * 64 : (i + 1) * 64], y[i * 64 : (i + 1) * 64], 0.01)
    log = machine(monkeypatch, *others)
    exp = trained(6)
    assert exp.threads.steps == {n: counts.count(n) for n in set(counts)}
    assert log == [1, 2] * counts.count(1)  # a step at one thread sets it and puts BLAS's own back
    assert np.array_equal(exp.net.params["weights"], pinned.net.params["weights"])
    assert blas_threads() == [2] * len(blas_threads())


def test_no_readings_where_the_count_is_pinned_switched_off_or_cannot_matter(two_cores, monkeypatch, cli, tmp_path):
    import yaml

    readings = []
    monkeypatch.setattr(parallel, "cpu_times", lambda: readings.append(1))
    with parallel.limit(2):
        assert trained(2).threads.steps == {}
    with parallel.fast_paths(adapt=False):
        assert trained(2).threads.steps == {}
    xor = {"data": {"name": "xor"}, "model": {"hidden": [4]}, "training": {"epochs": 1}}
    assert trained(1, xor).threads.steps == {}  # products BLAS runs on one thread anyway
    assert readings == []
    (tmp_path / "net.yaml").write_text(yaml.safe_dump(NET))
    r = cli("train", tmp_path / "net.yaml", "--runs-dir", tmp_path / "runs", "--threads", "2", "-q")
    assert r.exit_code == 0, r.output
    assert readings == []  # --threads: exactly that many
    r = cli("train", tmp_path / "net.yaml", "--runs-dir", tmp_path / "runs", "-q")
    assert r.exit_code == 0, r.output
    assert readings  # when the tuner started, and once a second after
    (tmp_path / "s.yaml").write_text(
        "base: net.yaml\nmetric: train_loss\nmode: min\ntrials: 1\nparameters:\n  optimizer.lr: {values: [0.01]}\n"
    )
    readings.clear()
    r = cli("sweep", tmp_path / "s.yaml", "--runs-dir", tmp_path / "runs", "--threads", "2", "-q")
    assert r.exit_code == 0, r.output
    assert readings == []  # a sweep's --threads pins its trials as train's does
    r = cli("sweep", tmp_path / "s.yaml", "--runs-dir", tmp_path / "runs", "-q")
    assert r.exit_code == 0, r.output
    assert readings  # its trials adapt to the machine otherwise


def test_train_threads_limits_blas_in_a_fresh_process_and_the_summary_says_so(tmp_path):
    """``nnlab train --threads 1`` as a user runs it, in a new interpreter where NumPy is not loaded yet: the
    products run on one BLAS thread (the limit once found no BLAS to limit and the products ran on every
    core), and summary.json says how many threads BLAS had: NumPy's, also where Adam's compiled kernel
    loads numba, which loads SciPy and the second OpenBLAS it brings, unlimited (the summary said 2)."""
    import json
    import subprocess

    import yaml

    (tmp_path / "net.yaml").write_text(yaml.safe_dump(NET))

    def blas_threads(*args):
        runs = tmp_path / "-".join(["runs", *args])
        cmd = [sys.executable, "-m", "nnlab", "train", str(tmp_path / "net.yaml"), "--runs-dir", str(runs), "-q"]
        subprocess.run([*cmd, *args], check=True, capture_output=True)
        (summary,) = runs.glob("*/summary.json")
        return json.loads(summary.read_text())["threads"]["blas"]

    assert blas_threads("--threads", "1") == 1
    big = "-o", "model.hidden=[1024]", "-o", "data.n_samples=128"  # 106 k weights: Adam's kernel loads numba
    assert blas_threads("--threads", "1", *big) == 1
    if parallel.usable_cores() >= 2:
        assert blas_threads("--threads", "2") == 2
    (tmp_path / "s.yaml").write_text(  # a sweep's trials, in worker processes, pinned the same way
        "base: net.yaml\nmetric: train_loss\nmode: min\ntrials: 2\nparameters:\n  optimizer.lr: {values: [0.01]}\n"
    )
    sweep = [sys.executable, "-m", "nnlab", "sweep", str(tmp_path / "s.yaml"), "--runs-dir", str(tmp_path / "sweeps")]
    subprocess.run([*sweep, "--workers", "2", "--threads", "1", "-q"], check=True, capture_output=True)
    trials = [json.loads(p.read_text()) for p in (tmp_path / "sweeps").glob("**/summary.json")]
    assert len(trials) == 2 and all(t["threads"]["blas"] == 1 for t in trials)


def test_fast_paths_names_the_paths_it_knows_when_given_another():
    before = {p: parallel.fast(p) for p in parallel.PATHS}
    with pytest.raises(TypeError, match="blas, threads, adapt, jit, not gpu"):
        parallel.fast_paths(gpu=False)
    assert {p: parallel.fast(p) for p in parallel.PATHS} == before  # nothing changed on the way
