"""Elementwise work split across threads: every element covered once, errors surface, results bit-identical."""

import os
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
