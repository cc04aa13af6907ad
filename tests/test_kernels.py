"""The fused Adam kernel (numba, the ``jit`` speed path): NumPy's bits, on any cut, in a real training run."""

import numba  # noqa: F401  (the test extra installs it: without it these tests fail instead of skipping)
import numpy as np
import pytest

import nnlab
from nnlab import kernels, parallel
from nnlab.components.optimizers import OPTIMIZERS


def _steps(spec, dtype, n=kernels.MIN_SIZE + 12_345, steps=20):
    rng = np.random.default_rng(1)
    w = {"weights": rng.standard_normal(n).astype(dtype), "others": rng.standard_normal(n).astype(dtype)}
    grads = [{k: rng.standard_normal(n).astype(dtype) * 1e-2 for k in w} for _ in range(steps)]
    grads[3]["weights"][::7] = 0  # some moments only decay: the subnormal flush is part of the path
    opt = OPTIMIZERS.build({**spec, "lr": 0.01})
    for g in grads:
        opt.step(w, g, 0.01)
    return w, opt


@pytest.mark.parametrize("spec", [{"name": "adam"}, {"name": "adamw", "weight_decay": 0.05}])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_the_fused_update_gives_numpys_bits_on_any_cut(spec, dtype, threads):
    """One pass does NumPy's arithmetic in NumPy's order: the weights and both moments agree bit for bit with
    the plain NumPy update (every speed path off), on one thread or cut in two; AdamW decays ``weights``
    only, as in NumPy. (The BLAS path that the kernel replaces rounds float32 otherwise: its axpby fuses.)"""
    with parallel.limit(threads), parallel.fast_paths(jit=True):
        assert kernels.adam(kernels.MIN_SIZE, dtype) is not None
        fused, opt_fused = _steps(spec, dtype)
    with parallel.fast_paths(blas=False, threads=False, jit=False):
        plain, opt_plain = _steps(spec, dtype)
    for key in plain:
        np.testing.assert_array_equal(fused[key], plain[key])
        for slot in ("m", "v"):
            np.testing.assert_array_equal(opt_fused.state[key][slot], opt_plain.state[key][slot])


def test_the_kernel_is_left_out_where_it_does_not_pay_or_is_turned_off():
    assert kernels.adam(kernels.MIN_SIZE - 1, np.float32) is None  # a small buffer: not worth loading numba
    assert kernels.adam(kernels.MIN_SIZE, np.int64) is None
    with parallel.fast_paths(jit=False):
        assert not kernels.available()
        assert kernels.adam(10 * kernels.MIN_SIZE, np.float32) is None


def test_a_training_run_with_the_kernel_matches_plain_numpy_bit_for_bit(tmp_path):
    """Through the public API: a 2-512-256-2 network (132 k weights, above MIN_SIZE) trained with AdamW on
    one BLAS thread gives the same weights, losses and accuracies with the kernel as with every speed
    path off."""
    config = {
        "name": "moons_wide",
        "seed": 3,
        "data": {"name": "moons", "n_samples": 600, "noise": 0.2, "split": {"val": 0.2}},
        "model": {"hidden": [512, 256], "activation": "relu"},
        "loss": "cross_entropy",
        "optimizer": {"name": "adamw", "lr": 0.003, "weight_decay": 0.01},
        "training": {"epochs": 3, "batch_size": 32},
    }
    results = {}
    for jit in (True, False):
        paths = {"jit": True} if jit else {"blas": False, "threads": False, "jit": False}
        with parallel.limit(1), parallel.fast_paths(**paths):
            results[jit] = nnlab.train(config, runs_dir=tmp_path / str(jit))
    on, off = results[True], results[False]
    assert on.network.params["weights"].size > kernels.MIN_SIZE
    for key in off.network.params:
        np.testing.assert_array_equal(on.network.params[key], off.network.params[key])

    def figures(r):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in r.history]

    assert figures(on) == figures(off) and len(figures(on)) == 3
