"""Activations: the decks' formulas on hand-computed values, backward against finite differences."""

import math

import numpy as np
import pytest

from nnlab import registry
from nnlab.components.scratch import ZEROS
from tests.conftest import numerical_grad, rel_error

DIFFERENTIABLE = [n for n in registry.names("activation") if registry.build("activation", n).differentiable]


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_backward_matches_finite_differences(name, rng):
    act = registry.build("activation", name)
    z = rng.normal(0, 1.5, (4, 5))
    z[np.abs(z) < 1e-2] += 0.1  # stay away from the kinks of relu-like functions
    g = rng.normal(size=z.shape)
    analytic = act.backward(z, act.forward(z), g.copy())
    numeric = numerical_grad(lambda: float(np.sum(g * act.forward(z))), z)
    assert rel_error(analytic, numeric) < 1e-6


@pytest.mark.parametrize(
    "spec",
    [
        {"name": "sigmoid", "c": 3.0},
        {"name": "softmax", "c": 2.5},
        {"name": "identity", "k": 0.5},
        {"name": "leaky_relu", "alpha": 0.1},
        {"name": "elu", "alpha": 0.7},
    ],
)
def test_backward_with_arguments(spec, rng):
    act = registry.build("activation", spec)
    z = rng.normal(0, 1.5, (3, 4))
    g = rng.normal(size=z.shape)
    analytic = act.backward(z, act.forward(z), g.copy())
    numeric = numerical_grad(lambda: float(np.sum(g * act.forward(z))), z)
    assert rel_error(analytic, numeric) < 1e-6


def test_hand_values():
    z = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
    relu = registry.build("activation", "relu").forward(z)
    np.testing.assert_array_equal(relu, [[0, 0, 0, 0.5, 2.0]])
    lrelu = registry.build("activation", "leaky_relu").forward(z)  # deck 001: 0.01 z for z < 0
    np.testing.assert_allclose(lrelu, [[-0.02, -0.005, 0, 0.5, 2.0]])
    lin = registry.build("activation", {"name": "identity", "k": 3}).forward(z)  # deck 000: φ(x) = kx
    np.testing.assert_allclose(lin, 3 * z)
    np.testing.assert_allclose(registry.build("activation", "tanh").forward(z), np.tanh(z))


def test_sigmoid_with_slope_c_deck_000():
    for c in (0.5, 1, 4):
        s = registry.build("activation", {"name": "sigmoid", "c": c})
        assert s.forward(np.array([[0.0]]))[0, 0] == 0.5  # σ_c(0) = ½ whatever c
        x = np.array([[1.3]])
        expected = 1 / (1 + math.exp(-c * 1.3))
        assert s.forward(x)[0, 0] == pytest.approx(expected)
        a = s.forward(x)
        # σ'_c = c σ_c (1 − σ_c)
        assert s.backward(x, a, np.ones_like(x))[0, 0] == pytest.approx(c * expected * (1 - expected))


def test_tanh_is_a_shifted_sigmoid_of_slope_two():
    x = np.linspace(-3, 3, 13).reshape(1, -1)
    s2 = registry.build("activation", {"name": "sigmoid", "c": 2}).forward(x)
    np.testing.assert_allclose(np.tanh(x), 2 * s2 - 1, atol=1e-12)


def test_softmax_rows_sum_to_one_and_tend_to_one_hot():
    z = np.array([[1.0, 2.0, 3.0], [0.5, 0.1, -1.0]])
    p = registry.build("activation", "softmax").forward(z)
    np.testing.assert_allclose(p.sum(axis=1), 1)
    e = np.exp(z[0])
    np.testing.assert_allclose(p[0], e / e.sum())
    sharp = registry.build("activation", {"name": "softmax", "c": 200}).forward(z)
    np.testing.assert_allclose(sharp, [[0, 0, 1], [1, 0, 0]], atol=1e-12)


def test_stable_at_extreme_inputs():
    z = np.array([[1000.0, -1000.0, 0.0]])
    for name in ("sigmoid", "softmax", "softplus", "tanh", "silu"):
        out = registry.build("activation", name).forward(z)
        assert np.all(np.isfinite(out)), name


def test_float32_stays_float32():
    z = np.ones((2, 3), np.float32)
    for name in DIFFERENTIABLE:
        act = registry.build("activation", name)
        a = act.forward(z)
        assert a.dtype == np.float32, name
        assert act.backward(z, a, np.ones_like(z)).dtype == np.float32, name


def _bits(a):
    return a.reshape(-1).view(np.uint8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_gives_numpys_bits_for_every_layout_and_size(dtype, rng):
    # compared with zeros from a kept buffer (NumPy's fast loop), chunk by chunk past the buffer's size:
    # the bits of np.maximum(z, 0), signed zeros and NaN included, into a new array, a buffer or z itself
    relu = registry.build("activation", "relu")
    special = np.array([-0.0, 0.0, np.nan, -np.inf, np.inf, -1e-45, 1e-45, -3.0, 2.5], dtype)
    for shape in [(9,), (128, 768), (3, ZEROS // 2 + 5), ()]:
        z = rng.standard_normal(shape).astype(dtype)
        z.reshape(-1)[: min(z.size, 9)] = special[: z.size]
        expected = _bits(np.maximum(z, 0))
        np.testing.assert_array_equal(_bits(relu.forward(z)), expected)
        out = np.full_like(z, 7)
        assert relu.forward(z, out=out) is out
        np.testing.assert_array_equal(_bits(out), expected)
        assert relu.forward(z, out=z) is z
        np.testing.assert_array_equal(_bits(z), expected)
    wide = rng.standard_normal((6, 8)).astype(dtype)
    np.testing.assert_array_equal(relu.forward(wide[:, ::2]), np.maximum(wide[:, ::2], 0))  # a strided view
    assert relu.forward([-1.0, 2.0]).tolist() == [0.0, 2.0]
