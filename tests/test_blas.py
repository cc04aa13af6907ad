"""BLAS level 1 through ctypes: the same numbers as NumPy, refusal of arrays it cannot take, SGD unchanged."""

import platform
import sys

import numpy as np
import pytest

from nnlab import blas, parallel
from nnlab.components.optimizers import OPTIMIZERS


def test_numpys_own_blas_is_found_on_the_wheels_platform():
    if sys.platform == "linux" and platform.machine() == "x86_64":  # NumPy's wheels bundle OpenBLAS here
        assert blas.available(np.float32) and blas.available(np.float64)
    assert not blas.available(np.int64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axpy_and_scal_compute_what_numpy_computes(dtype, rng):
    if not blas.available(dtype):
        pytest.skip("no BLAS found beside NumPy on this platform")
    x = rng.standard_normal(100_003).astype(dtype)
    y0 = rng.standard_normal(100_003).astype(dtype)
    y = y0.copy()
    assert blas.axpy(-0.37, x, y)
    np.testing.assert_allclose(y, y0 - dtype(0.37) * x, rtol=1e-6 if dtype is np.float32 else 1e-14, atol=1e-6)
    assert blas.scal(0.5, y)
    np.testing.assert_allclose(y, 0.5 * (y0 - dtype(0.37) * x), rtol=1e-6, atol=1e-6)
    assert x.dtype == dtype and y.dtype == dtype


def test_arrays_blas_cannot_take_are_refused_and_left_alone():
    x, y = np.ones(10, np.float32), np.ones(10, np.float32)
    cases = [
        (x[::2], y[:5]),  # not contiguous
        (x, np.ones(10, np.float64)),  # two dtypes
        (x, np.ones(11, np.float32)),  # two sizes
        (np.ones((2, 5), np.float32), np.ones((2, 5), np.float32)),  # not 1-D
        (np.ones(10, np.int32), np.ones(10, np.int32)),  # not floats
    ]
    for a, b in cases:
        before = b.copy()
        assert blas.axpy(1.0, a, b) is False
        np.testing.assert_array_equal(b, before)
    frozen = np.ones(10, np.float32)
    frozen.flags.writeable = False
    assert blas.axpy(1.0, x, frozen) is False and blas.scal(2.0, frozen) is False


@pytest.mark.parametrize("spec", [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True}])
def test_sgd_through_blas_follows_the_numpy_update(spec, rng):
    """w ← w − αg, v ← μv − αg, w ← w + v (Nesterov: w + μv − αg): BLAS (one rounding per fused
    multiply-add) and NumPy (two) agree to float32 precision over many steps."""
    n = 70_000
    w0 = rng.standard_normal(n).astype(np.float32)
    grads = [rng.standard_normal(n).astype(np.float32) for _ in range(30)]

    def run():
        opt = OPTIMIZERS.build({"name": "sgd", "lr": 0.05, **spec})
        w = {"weights": w0.copy()}
        for g in grads:
            opt.step(w, {"weights": g}, 0.05)
        return w["weights"], opt

    fast, opt = run()
    with parallel.fast_paths(blas=False):  # NumPy's path
        slow, _ = run()
    np.testing.assert_allclose(fast, slow, rtol=2e-5, atol=2e-6)
    assert not np.array_equal(fast, w0)
    if spec:  # the velocity kept by the BLAS path is the state a checkpoint saves
        arrays, _ = opt.state_dict()
        assert arrays["weights.velocity"].dtype == np.float32


@pytest.mark.parametrize("spec", [{"name": "adam"}, {"name": "adamw", "weight_decay": 0.1}])
def test_adam_through_axpby_follows_the_numpy_update(spec, rng):
    """m, v and w each in one axpby per piece agree with NumPy's twelve passes, for weights and for the
    small buffer of biases; AdamW's decay (weights only) folds into the last axpby's factor on w."""
    if not blas.available(np.float32, ("axpby",)):
        pytest.skip("no axpby in the BLAS beside NumPy on this platform")
    sizes = {"weights": 70_001, "others": 300}
    p0 = {k: rng.standard_normal(n).astype(np.float32) for k, n in sizes.items()}
    grads = [{k: rng.standard_normal(n).astype(np.float32) for k, n in sizes.items()} for _ in range(40)]

    def run():
        opt = OPTIMIZERS.build({**spec, "lr": 0.01})
        p = {k: v.copy() for k, v in p0.items()}
        for g in grads:
            opt.step(p, g, 0.01)
        return p, opt.state_dict()[0]

    fast, fast_state = run()
    with parallel.fast_paths(blas=False):  # NumPy's path
        slow, slow_state = run()
    for k in sizes:
        np.testing.assert_allclose(fast[k], slow[k], rtol=1e-5, atol=1e-5)
        assert np.abs(fast[k] - p0[k]).max() > 0.1  # 40 steps of 0.01 moved them
    for name in slow_state:
        np.testing.assert_allclose(fast_state[name], slow_state[name], rtol=1e-4, atol=1e-7)


def test_axpby_on_a_range_touches_only_that_range(rng):
    if not blas.available(np.float64, ("axpby",)):
        pytest.skip("no axpby in the BLAS beside NumPy on this platform")
    x, y0 = rng.standard_normal(1000), rng.standard_normal(1000)
    y = y0.copy()
    f = blas.function("axpby", y.dtype)
    f(300, 2.0, blas.address(x) + 100 * 8, 1, 0.5, blas.address(y) + 100 * 8, 1)
    np.testing.assert_allclose(y[100:400], 2 * x[100:400] + 0.5 * y0[100:400], rtol=1e-14)
    np.testing.assert_array_equal(np.r_[y[:100], y[400:]], np.r_[y0[:100], y0[400:]])
    assert blas.function("axpby", np.int32) is None


def test_with_the_fast_paths_off_blas_is_not_called_and_comes_back_after_the_block():
    x, y = np.ones(100_000, np.float32), np.ones(100_000, np.float32)
    was = blas.available(np.float32, ("axpy", "scal", "axpby"))
    with parallel.fast_paths(blas=False):
        assert not blas.available(np.float32) and not blas.usable(x, y)
        assert blas.axpy(2.0, x, y) is False and blas.scal(2.0, y) is False
        assert blas.function("axpby", np.float32) is None
        np.testing.assert_array_equal(y, 1)  # left to the caller
    assert blas.available(np.float32, ("axpy", "scal", "axpby")) == was


@pytest.mark.parametrize("spec", [{"name": "adam"}, {"name": "sgd", "momentum": 0.9}])
@pytest.mark.parametrize("paths", [{"blas": False}, {"threads": False}, {"blas": False, "threads": False}])
def test_optimizer_steps_with_fast_paths_off_give_the_same_numbers(spec, paths, rng):
    """The switch changes how an update runs, never what it computes: Adam and SGD with momentum on a
    buffer that takes both paths (BLAS, a split across threads) agree with and without them."""
    n = 200_001
    p0 = rng.standard_normal(n).astype(np.float32)
    grads = [rng.standard_normal(n).astype(np.float32) for _ in range(10)]

    def run():
        opt = OPTIMIZERS.build({**spec, "lr": 0.01})
        p = {"weights": p0.copy()}
        for g in grads:
            opt.step(p, {"weights": g}, 0.01)
        return p["weights"]

    with parallel.limit(2):
        fast = run()
        with parallel.fast_paths(**paths):
            plain = run()
    np.testing.assert_allclose(plain, fast, rtol=1e-5, atol=1e-6)
    assert not np.array_equal(fast, p0)


@pytest.mark.parametrize(
    "value, blas_on, split_on",
    [("0", False, False), ("blas", True, False), ("threads", False, True), ("1", True, True)],
)
def test_the_environment_variable_sets_the_paths_once_at_import(value, blas_on, split_on):
    import os
    import subprocess

    code = (
        "import numpy as np; from nnlab import blas, parallel\n"
        "with parallel.limit(2): print(blas.available(np.float32), parallel.pieces(1 << 20)[1])"
    )
    env = {**os.environ, "NNLAB_FAST_PATHS": value}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    found = sys.platform == "linux" and platform.machine() == "x86_64"
    if found:
        assert out.stdout.split() == [str(blas_on), str(split_on)]
    else:
        assert out.stdout.split()[1] == str(split_on)
    bad = subprocess.run([sys.executable, "-c", code], env={**env, "NNLAB_FAST_PATHS": "gpu"}, capture_output=True)
    assert bad.returncode != 0 and b"NNLAB_FAST_PATHS" in bad.stderr
