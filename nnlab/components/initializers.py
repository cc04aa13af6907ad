"""Weight initializers: ``init(shape, fan_in, fan_out, rng, dtype) -> array``.

With ``n_in`` inputs and ``n_out`` outputs of a dense layer (DESIGN §2: W has shape (n_in, n_out)).
"""

from __future__ import annotations

import math

import numpy as np

from nnlab.registry import REGISTRIES

INITIALIZERS = REGISTRIES["initializer"]


class Initializer:
    #: True when every entry comes out equal (the symmetry problem of deck 001)
    symmetric = False

    def __call__(self, shape, fan_in, fan_out, rng, dtype=np.float32):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class _Normal(Initializer):
    def std(self, fan_in, fan_out) -> float:
        raise NotImplementedError

    def __call__(self, shape, fan_in, fan_out, rng, dtype=np.float32):
        return (rng.standard_normal(shape) * self.std(fan_in, fan_out)).astype(dtype)


class _Uniform(Initializer):
    def limit(self, fan_in, fan_out) -> float:
        raise NotImplementedError

    def __call__(self, shape, fan_in, fan_out, rng, dtype=np.float32):
        lim = self.limit(fan_in, fan_out)
        return rng.uniform(-lim, lim, size=shape).astype(dtype)


@INITIALIZERS.register("zeros")
class Zeros(Initializer):
    """All zeros: fine for biases; for weights every unit stays identical (symmetry, deck 001)."""

    symmetric = True

    def __call__(self, shape, fan_in, fan_out, rng, dtype=np.float32):
        return np.zeros(shape, dtype=dtype)


@INITIALIZERS.register("constant")
class Constant(Initializer):
    """All entries equal to `value`: demonstrates the symmetry problem of deck 001."""

    symmetric = True

    def __init__(self, value: float = 0.0):
        self.value = float(value)

    def __call__(self, shape, fan_in, fan_out, rng, dtype=np.float32):
        return np.full(shape, self.value, dtype=dtype)


@INITIALIZERS.register("normal", "gaussian")
class Normal(_Normal):
    """N(0, std²) with std = 0.01 by default (deck 002); std 1 for biases (deck 004)."""

    def __init__(self, std: float = 0.01, mean: float = 0.0):
        self._std = float(std)
        self.mean = float(mean)

    def std(self, fan_in, fan_out):
        return self._std

    def __call__(self, shape, fan_in, fan_out, rng, dtype=np.float32):
        return (rng.standard_normal(shape) * self._std + self.mean).astype(dtype)


@INITIALIZERS.register("uniform")
class Uniform(_Uniform):
    """U(−limit, limit)."""

    def __init__(self, limit: float = 0.05):
        self._limit = float(limit)

    def limit(self, fan_in, fan_out):
        return self._limit


@INITIALIZERS.register("xavier_normal", "glorot_normal")
class XavierNormal(_Normal):
    """Xavier / Glorot normal: Var(W) = 2 / (n_in + n_out) (deck 002)."""

    def std(self, fan_in, fan_out):
        return math.sqrt(2.0 / (fan_in + fan_out))


@INITIALIZERS.register("xavier_uniform", "glorot_uniform")
class XavierUniform(_Uniform):
    """Xavier / Glorot uniform: U(±√(6 / (n_in + n_out))), for tanh (deck 004)."""

    def limit(self, fan_in, fan_out):
        return math.sqrt(6.0 / (fan_in + fan_out))


@INITIALIZERS.register("xavier_uniform_logistic")
class XavierUniformLogistic(_Uniform):
    """4 × Xavier uniform: U(±4√(6 / (n_in + n_out))), for the logistic sigmoid (deck 004)."""

    def limit(self, fan_in, fan_out):
        return 4.0 * math.sqrt(6.0 / (fan_in + fan_out))


@INITIALIZERS.register("lecun_normal")
class LecunNormal(_Normal):
    """LeCun normal: N(0, 1/n_in) (deck 004)."""

    def std(self, fan_in, fan_out):
        return math.sqrt(1.0 / fan_in)


@INITIALIZERS.register("lecun_uniform")
class LecunUniform(_Uniform):
    """LeCun uniform: U(±√(1/n_in)) (deck 004)."""

    def limit(self, fan_in, fan_out):
        return math.sqrt(1.0 / fan_in)


@INITIALIZERS.register("he_normal", "kaiming_normal")
class HeNormal(_Normal):
    """He normal: N(0, 2/n_in), for the ReLU family."""

    def std(self, fan_in, fan_out):
        return math.sqrt(2.0 / fan_in)


@INITIALIZERS.register("he_uniform", "kaiming_uniform")
class HeUniform(_Uniform):
    """He uniform: U(±√(6/n_in)), for the ReLU family."""

    def limit(self, fan_in, fan_out):
        return math.sqrt(6.0 / fan_in)


def default_for(activation) -> str:
    """The default weight initializer of a layer followed by ``activation`` (an activation, or a layer that acts
    as one, by its ``family``): He for the ReLU family, Xavier for tanh / sigmoid / softmax / identity, and
    for None (no activation known)."""
    return "he_normal" if getattr(activation, "family", "xavier") == "he" else "xavier_normal"
