"""Plain SGD's weight step taken inside the backward product for dW (W ← W − α Xᵀ dZ, one gemm): the same
training as the separate update, only where nothing else needs dW, and never on a diverged step."""

import numpy as np
import pytest

from nnlab import blas
from nnlab.config import parse_config
from nnlab.training.trainer import Trainer

BASE = """
data: {name: blobs, n_samples: 600, classes: 3, features: 64, split: {val: 0.0}}
model: {hidden: [128, 64], activation: relu}
optimizer: {name: sgd, lr: 0.1}
training: {epochs: 3, batch_size: 50}
"""


def trainer(runs_dir, *overrides):
    return Trainer(parse_config(BASE, list(overrides)), runs_dir)


def train_epochs(t):
    for epoch in range(t.config.training.epochs):
        t._run_epoch(epoch)
    return t.net.params


def test_weights_stepped_in_backward_train_as_the_separate_update(runs_dir, monkeypatch):
    fused = trainer(runs_dir)
    assert fused.weights_in_backward
    got = train_epochs(fused)
    assert not fused.net.grads["weights"].any()  # dW was never written: the product went into W itself
    monkeypatch.setattr(Trainer, "weights_in_backward", False, raising=False)
    plain = trainer(runs_dir)
    plain.weights_in_backward = False
    plain._stepped = (plain.net.params, plain.net.grads)
    want = train_epochs(plain)
    assert plain.net.grads["weights"].any()
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-5)
    start = trainer(runs_dir).net.params["weights"]
    assert np.abs(got["weights"] - start).max() > 0.05  # three epochs moved the weights


@pytest.mark.parametrize(
    "overrides",
    [
        ["optimizer.momentum=0.9"],  # velocity is state
        ["optimizer.name=adam", "optimizer.lr=0.001"],
        ["regularization.l2=0.001"],  # the penalty's gradient is added to dW
        ["training.grad_clip=1.0"],  # clipping measures dW first
        ["model.hidden=[8]"],  # 536 weights: the call into BLAS would cost more than the pass it saves
    ],
)
def test_only_where_nothing_else_needs_the_weight_gradient(overrides, runs_dir):
    assert not trainer(runs_dir, *overrides).weights_in_backward
    assert trainer(runs_dir, "regularization.l2=0").weights_in_backward  # l2 0 is no penalty at all


def test_the_step_without_blas_gemm_is_the_same(runs_dir, monkeypatch):
    """Another BLAS (no gemm found): the dense layer computes dW and steps W itself, to the same weights."""
    got = train_epochs(trainer(runs_dir))
    monkeypatch.setattr(blas, "_funcs", {})
    t = trainer(runs_dir)
    assert t.weights_in_backward
    want = train_epochs(t)
    np.testing.assert_allclose(got["weights"], want["weights"], rtol=1e-4, atol=1e-5)


def test_a_step_whose_loss_is_not_finite_leaves_the_weights_alone(runs_dir):
    t = trainer(runs_dir)
    before = t.net.params["weights"].copy()
    x = np.full((50, 64), np.nan, np.float32)
    value, _ = t.net.loss_and_backward(x, np.zeros(50, np.int64), t.loss, update=(-0.1, 1.0))
    assert not np.isfinite(value)
    np.testing.assert_array_equal(t.net.params["weights"], before)
    assert all(layer.update is None for layer in t.net.layers)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_update_is_b_w_plus_a_xt_dz(dtype, rng):
    if not blas.available(dtype, ("gemm",)):
        pytest.skip("no gemm in the BLAS beside NumPy on this platform")
    x, dz = rng.standard_normal((40, 30)).astype(dtype), rng.standard_normal((40, 20)).astype(dtype)
    w0 = rng.standard_normal((30, 20)).astype(dtype)
    w, tol = w0.copy(), 1e-5 if dtype is np.float32 else 1e-12
    assert blas.gemm_update(-0.1, x, dz, 0.9, w)
    np.testing.assert_allclose(w, 0.9 * w0 - 0.1 * x.T @ dz, rtol=tol, atol=tol)
    for bad in (x[:, ::2], x.astype(np.float16), x[:, :29]):  # strided, another dtype, a shape that does not fit
        assert not blas.gemm_update(-0.1, bad, dz, 1.0, w)
    np.testing.assert_allclose(w, 0.9 * w0 - 0.1 * x.T @ dz, rtol=tol, atol=tol)
