import math

import numpy as np
import pytest

from nnlab import registry

N_IN, N_OUT = 1000, 1000
VARIANCE = {
    "normal": 0.01**2,
    "uniform": 0.05**2 / 3,
    "xavier_normal": 2 / (N_IN + N_OUT),
    "xavier_uniform": 6 / (N_IN + N_OUT) / 3,
    "xavier_uniform_logistic": 16 * 6 / (N_IN + N_OUT) / 3,
    "lecun_normal": 1 / N_IN,
    "lecun_uniform": 1 / N_IN / 3,
    "he_normal": 2 / N_IN,
    "he_uniform": 6 / N_IN / 3,
}


@pytest.mark.parametrize("name", sorted(VARIANCE))
def test_sample_variance_matches_formula(name):
    w = registry.build("initializer", name)((N_IN, N_OUT), N_IN, N_OUT, np.random.default_rng(0), np.float64)
    assert w.var() == pytest.approx(VARIANCE[name], rel=0.02)
    assert abs(w.mean()) < 3 * math.sqrt(VARIANCE[name] / w.size) + 1e-12


def test_every_random_initializer_has_a_variance_test():
    random_ones = {n for n in registry.names("initializer") if not registry.build("initializer", n).symmetric}
    assert random_ones <= set(VARIANCE)


def test_constant_and_zeros_are_symmetric():
    assert registry.build("initializer", "zeros").symmetric
    w = registry.build("initializer", {"name": "constant", "value": 0.3})((3, 2), 3, 2, None)
    assert np.all(w == np.float32(0.3)) and w.dtype == np.float32
