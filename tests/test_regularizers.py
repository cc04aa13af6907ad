import numpy as np
import pytest

from nnlab import registry
from tests.conftest import numerical_grad, rel_error

PENALTIES = [n for n in registry.names("regularizer") if not registry.build("regularizer", n).is_constraint]


@pytest.mark.parametrize("name", PENALTIES)
def test_penalty_gradient_matches_finite_differences(name, rng):
    reg = registry.build("regularizer", name)
    w = rng.normal(size=(5, 4))
    w[np.abs(w) < 1e-2] += 0.1  # away from the kink of |w|
    assert rel_error(reg.grad(w), numerical_grad(lambda: reg.penalty(w), w)) < 1e-6
    g = np.zeros_like(w)
    reg.add_grad(w, g)
    np.testing.assert_allclose(g, reg.grad(w))


def test_l2_is_half_lambda_sum_of_squares_deck_004():
    w = np.array([1.0, -2.0, 3.0])
    assert registry.build("regularizer", {"name": "l2", "lam": 0.1}).penalty(w) == pytest.approx(0.05 * 14)
    assert registry.build("regularizer", {"name": "l1", "lam": 0.1}).penalty(w) == pytest.approx(0.6)


def test_max_norm_caps_each_units_incoming_weights():
    W = np.array([[3.0, 0.1], [4.0, 0.1]])  # column norms 5 and 0.14
    registry.build("regularizer", {"name": "max_norm", "c": 1.0}).constrain(W)
    np.testing.assert_allclose(np.linalg.norm(W, axis=0), [1.0, np.sqrt(0.02)])
    np.testing.assert_allclose(W[:, 0], [0.6, 0.8])
