"""Losses: hand values, finite-difference gradients, fused = unfused, stability at extreme logits."""

import math

import numpy as np
import pytest

from nnlab import registry
from nnlab.components.activations import Sigmoid, Softmax
from tests.conftest import numerical_grad, rel_error

CLASSIFICATION = {"cross_entropy", "bce", "hinge"}


def _pred_target(name, rng):
    if name == "cross_entropy":
        return Softmax().forward(rng.normal(size=(5, 4))), rng.integers(0, 4, 5)
    if name == "bce":
        return Sigmoid().forward(rng.normal(size=(6, 1))), rng.integers(0, 2, 6)
    if name == "hinge":
        return rng.normal(size=(5, 4)), rng.integers(0, 4, 5)
    return rng.normal(size=(6, 3)), rng.normal(size=(6, 3))


@pytest.mark.parametrize("name", [n for n in registry.names("loss") if registry.build("loss", n).differentiable])
def test_grad_matches_finite_differences(name, rng):
    loss = registry.build("loss", name)
    pred, target = _pred_target(name, rng)
    if name == "max_error":  # a unique maximum keeps the subgradient a gradient
        pred[0, 0] += 5
    analytic = loss.grad(pred, target)
    numeric = numerical_grad(lambda: loss.value(pred, target), pred)
    assert rel_error(analytic, numeric) < 1e-6


def test_hand_values():
    y = np.array([[1.0], [2.0]])
    p = np.array([[1.5], [1.0]])
    assert registry.build("loss", "mse").value(p, y) == pytest.approx((0.25 + 1) / 2)
    assert registry.build("loss", "sse").value(p, y) == pytest.approx(0.5 * (0.25 + 1) / 2)
    assert registry.build("loss", "mae").value(p, y) == pytest.approx(0.75)
    assert registry.build("loss", "max_error").value(p, y) == pytest.approx(1.0)
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    ce = registry.build("loss", "cross_entropy").value(probs, np.array([0, 2]))
    assert ce == pytest.approx(-(math.log(0.7) + math.log(0.8)) / 2)
    bce = registry.build("loss", "bce").value(np.array([[0.9], [0.2]]), np.array([1, 0]))
    assert bce == pytest.approx(-(math.log(0.9) + math.log(0.8)) / 2)


@pytest.mark.parametrize("c", [1.0, 2.5])
def test_fused_softmax_cross_entropy_equals_composition(c, rng):
    z = rng.normal(size=(7, 5))
    y = rng.integers(0, 5, 7)
    act, loss = Softmax(c), registry.build("loss", "cross_entropy")
    value, grad = loss.fused(z, y, act)
    a = act.forward(z)
    assert value == pytest.approx(loss.value(a, y), rel=1e-12)
    np.testing.assert_allclose(grad, act.backward(z, a, loss.grad(a, y)), atol=1e-12)
    # δ = c (a − y)/m (decks 001, 004)
    onehot = np.eye(5)[y]
    np.testing.assert_allclose(grad, c * (a - onehot) / 7, atol=1e-12)


@pytest.mark.parametrize("c", [1.0, 3.0])
def test_fused_sigmoid_bce_equals_composition(c, rng):
    z = rng.normal(size=(6, 1))
    y = rng.integers(0, 2, 6)
    act, loss = Sigmoid(c), registry.build("loss", "bce")
    value, grad = loss.fused(z, y, act)
    a = act.forward(z)
    assert value == pytest.approx(loss.value(a, y), rel=1e-10)
    np.testing.assert_allclose(grad, act.backward(z, a, loss.grad(a, y)), atol=1e-10)


def test_fused_losses_are_stable_for_logits_of_1000():
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0]])
    value, grad = registry.build("loss", "cross_entropy").fused(z, np.array([0, 0]), Softmax())
    assert value == pytest.approx(2000 / 2)  # first row right (0), second wrong by 2000
    assert np.all(np.isfinite(grad))
    zb = np.array([[1000.0], [-1000.0]])
    value, grad = registry.build("loss", "bce").fused(zb, np.array([0, 0]), Sigmoid())
    assert value == pytest.approx(500.0)
    assert np.all(np.isfinite(grad))
    for dtype in (np.float32, np.float64):
        v, g = registry.build("loss", "cross_entropy").fused(z.astype(dtype), np.array([0, 1]), Softmax())
        assert v == pytest.approx(0.0, abs=1e-6) and g.dtype == dtype


def test_hinge_deck_003_worked_example():
    # deck 003's table has one column per image (cat, car, frog), each holding the scores of the classes
    # cat, car, frog; nnlab puts one example per row, so each column of the deck becomes a row here
    deck_columns = {"cat image": [3.2, 5.1, -1.7], "car image": [1.3, 4.9, 2.0], "frog image": [2.2, 2.5, -3.1]}
    scores = np.array(list(deck_columns.values()))
    labels = np.array([0, 1, 2])  # cat, car, frog
    hinge = registry.build("loss", "hinge")
    per_example = [hinge.value(scores[i : i + 1], labels[i : i + 1]) for i in range(3)]
    assert per_example == pytest.approx([2.9, 0.0, 12.9])
    assert hinge.value(scores, labels) == pytest.approx(5.27, abs=0.005)


def test_cross_entropy_of_uniform_prediction_is_ln_c():
    probs = np.full((4, 10), 0.1)
    assert registry.build("loss", "cross_entropy").value(probs, np.arange(4)) == pytest.approx(math.log(10))
