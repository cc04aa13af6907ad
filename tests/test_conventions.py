"""The conventions where nnlab differs from PyTorch's or Keras' defaults, pinned so that the README's table
("Conventions that differ from PyTorch and Keras") cannot silently go false. Each test names the row it
holds; the deck-003 hinge example, AdamW leaving the biases alone and batch norm's unbiased running
variance are held by test_losses.py, test_optimizers.py and test_layers.py."""

import math

import numpy as np
import pytest

from nnlab import registry
from nnlab.components.schedules import build_schedule
from nnlab.network import Network


def test_sign_of_zero_is_plus_one():
    # np.sign(0) and torch.sign(0) are 0
    sign = registry.build("activation", "sign")
    assert sign.forward(np.array([[0.0]]))[0, 0] == 1.0
    np.testing.assert_array_equal(sign.forward(np.array([[-0.5, 0.0, 0.5]])), [[-1.0, 1.0, 1.0]])


def test_lecun_uniform_is_decks_sqrt_1_over_n_in():
    # deck 004: U(±√(1/n_in)); Keras' LecunUniform is U(±√(3/n_in)), the same as nn.Linear's default bound
    init = registry.build("initializer", "lecun_uniform")
    w = init((100, 2000), 100, 2000, np.random.default_rng(0), np.float64)
    assert np.abs(w).max() <= 0.1
    assert np.abs(w).max() > 0.0999
    assert w.var() == pytest.approx(1 / 300, rel=0.02)  # limit²/3 = 1/(3 n_in), a third of Keras' 1/n_in


def test_batchnorm_momentum_weighs_the_old_running_average():
    # running ← 0.9·running + 0.1·batch (PyTorch's momentum=0.1, Keras' momentum=0.9)
    bn = registry.build("layer", "batchnorm")
    Network([bn], 2, np.float64)
    x = np.array([[1.0, 10.0], [3.0, 14.0], [5.0, 12.0]])
    bn.forward(x, training=True)
    np.testing.assert_allclose(bn.buffers["running_mean"], 0.1 * x.mean(axis=0))
    np.testing.assert_allclose(bn.buffers["running_var"], 0.9 * 1.0 + 0.1 * x.var(axis=0, ddof=1))


def test_gelu_is_the_tanh_approximation():
    z = 1.0
    tanh_form = 0.5 * z * (1 + math.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)))
    erf_form = 0.5 * z * (1 + math.erf(z / math.sqrt(2)))  # PyTorch's nn.GELU() default
    got = registry.build("activation", "gelu").forward(np.array([[z]]))[0, 0]
    assert got == pytest.approx(tanh_form, rel=1e-12)
    assert abs(got - erf_form) > 1e-4


def test_bce_sums_the_outputs_of_an_example():
    # −1/m Σ over examples and outputs: twice PyTorch's BCELoss (a mean over all m·k entries) for k = 2
    p, y = np.array([[0.9, 0.2]]), np.array([[1.0, 0.0]])
    per_entry = [-math.log(0.9), -math.log(0.8)]
    assert registry.build("loss", "bce").value(p, y) == pytest.approx(sum(per_entry))


def test_sgd_momentum_velocity_holds_the_scaled_step():
    # v ← μv − αg, w ← w + v: a change of α applies to new gradients only (torch.optim.SGD: w ← w − α(μv + g))
    opt = registry.build("optimizer", {"name": "sgd", "momentum": 0.9})
    params, grads = {"w": np.array([1.0])}, {"w": np.array([1.0])}
    opt.step(params, grads, 0.1)
    np.testing.assert_allclose(opt.state["w"]["velocity"], [-0.1])
    opt.step(params, grads, 0.01)
    nnlab = 1.0 - 0.1 + (0.9 * -0.1 - 0.01)
    torch = 1.0 - 0.1 - 0.01 * (0.9 * 1.0 + 1.0)
    assert params["w"][0] == pytest.approx(nnlab)
    assert params["w"][0] != pytest.approx(torch)


def test_warmup_multiplies_the_unshifted_schedule():
    # α = schedule(epoch) · (step+1)/(N·steps): the step decay is not delayed by the 2 warm-up epochs
    w = build_schedule({"name": "step", "every": 2, "factor": 0.5, "warmup": 2}, 1.0, 10, 4)
    assert w.lr(0, 0) == pytest.approx(1.0 * 1 / 8)
    assert w.lr(1, 7) == pytest.approx(1.0)  # end of warm-up
    assert w.lr(2, 8) == pytest.approx(0.5)  # the first decay, at epoch 2 as without warm-up
    c = build_schedule({"name": "cosine", "warmup": 1}, 1.0, 10, 1)
    assert c.lr(1, 1) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.1)))


def test_reduce_on_plateau_cuts_on_the_patience_th_bad_epoch_and_restarts_the_count():
    # Keras: wait += 1 per epoch without improvement, cut when wait ≥ patience, then wait = 0
    # (PyTorch cuts when the bad epochs exceed patience, one epoch later)
    r = build_schedule({"name": "reduce_on_plateau", "patience": 2, "factor": 0.5}, 1.0, 20, 1)
    lrs = []
    for epoch, loss in enumerate([1.0, 1.0, 1.0, 1.0, 1.0, 0.5]):
        r.observe(epoch, {"val_loss": loss})
        lrs.append(r.lr(epoch + 1, 0))
    # epoch 0 sets the best; epochs 1 and 2 are bad → cut after epoch 2; 3 and 4 bad → cut after epoch 4
    assert lrs == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.25, 0.25])


def test_l2_is_half_lambda_sum_of_squares_with_gradient_lambda_w():
    # PyTorch's weight_decay=λ adds λw to the gradient (the same); Keras' l2(λ) is λΣw², gradient 2λw
    l2 = registry.build("regularizer", {"name": "l2", "lam": 0.1})
    w = np.array([1.0, -2.0])
    assert l2.penalty(w) == pytest.approx(0.05 * 5.0)
    np.testing.assert_allclose(l2.grad(w), [0.1, -0.2])
