"""Activation functions φ, applied elementwise (softmax: per row).

Interface: ``forward(z, out=None) -> a`` and ``backward(z, a, grad_a, out=None) -> grad_z``. Elementwise
activations return ``grad_a * φ'(z)``; softmax returns the Jacobian-vector product, never a full Jacobian.
``out`` lets the network reuse preallocated buffers; it may alias ``grad_a``.
"""

from __future__ import annotations

import math

import numpy as np

from nnlab.components.scratch import ZEROS, scratch, zeros
from nnlab.registry import REGISTRIES

ACTIVATIONS = REGISTRIES["activation"]


class Activation:
    differentiable = True
    #: backward needs only a = φ(z), not z: the network may then compute φ in place of z
    needs_z = True
    #: the activation family, for the default initializer (he for the ReLU family, xavier otherwise)
    family = "xavier"

    def forward(self, z, out=None):
        raise NotImplementedError

    def backward(self, z, a, grad_a, out=None):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"

    def _scratch(self, name, shape, dtype):
        """A work buffer kept between calls of the same shape: the hot path allocates nothing."""
        return scratch(self, name, shape, dtype)


@ACTIVATIONS.register("identity", "linear")
class Identity(Activation):
    """Linear φ(z) = k·z; identity for k = 1 (deck 000)."""

    needs_z = False

    def __init__(self, k: float = 1.0):
        self.k = float(k)

    def forward(self, z, out=None):
        if self.k == 1.0:
            if out is None:
                return z
            np.copyto(out, z)
            return out
        return np.multiply(z, z.dtype.type(self.k), out=out)

    def backward(self, z, a, grad_a, out=None):
        if self.k == 1.0:
            if out is None:
                return grad_a
            if out is not grad_a:
                np.copyto(out, grad_a)
            return out
        return np.multiply(grad_a, grad_a.dtype.type(self.k), out=out)


@ACTIVATIONS.register("relu")
class ReLU(Activation):
    """ReLU: φ(z) = max(0, z), φ'(z) = 1 for z > 0 else 0 (decks 000, 001)."""

    needs_z = False

    family = "he"

    def forward(self, z, out=None):
        return maximum_with_zero(z, out)

    def backward(self, z, a, grad_a, out=None):
        # φ'(z) = [a > 0] (a = max(z, 0), and φ'(0) = 0) as a boolean mask: a byte per entry to write and
        # read instead of four, half the time of a float mask; NumPy converts it to grad's dtype in a small
        # fixed buffer (8192 entries) whatever the batch size
        mask = np.greater(a, 0, out=self._scratch("mask", a.shape, np.bool_))
        return np.multiply(grad_a, mask, out=out)


def maximum_with_zero(z, out=None):
    """max(z, 0) elementwise, into ``out``. NumPy's vectorised loop for maximum runs where both operands are
    arrays; against the scalar 0 it takes an element at a time, 3-5× slower (128×768 float32: 53 µs against
    11). So contiguous z is compared with zeros (views of one read-only buffer), ``ZEROS`` at a time: the
    same bits, NaN and −0.0 included."""
    if not (isinstance(z, np.ndarray) and z.dtype.kind == "f" and z.flags.c_contiguous):
        return np.maximum(z, 0, out=out)
    if out is None:
        out = np.empty_like(z)
    elif not (out.flags.c_contiguous and out.shape == z.shape and out.dtype == z.dtype):
        return np.maximum(z, 0, out=out)
    flat, into = z.reshape(-1), out.reshape(-1)
    for a in range(0, flat.size, ZEROS):
        b = min(a + ZEROS, flat.size)
        np.maximum(flat[a:b], zeros(b - a, z.dtype), out=into[a:b])
    return out


@ACTIVATIONS.register("leaky_relu", "lrelu")
class LeakyReLU(Activation):
    """Leaky ReLU: φ(z) = z if z > 0 else αz (deck 001 uses α = 0.01, deck 002 α = 0.1)."""

    family = "he"

    def __init__(self, alpha: float = 0.01):
        self.alpha = float(alpha)

    def forward(self, z, out=None):
        return _into(out, np.where(z > 0, z, z * z.dtype.type(self.alpha)))

    def backward(self, z, a, grad_a, out=None):
        slope = np.where(z > 0, z.dtype.type(1), z.dtype.type(self.alpha))
        return np.multiply(grad_a, slope, out=out)


@ACTIVATIONS.register("elu")
class ELU(Activation):
    """ELU: φ(z) = z if z > 0 else α(eᶻ − 1); φ'(z) = 1 or φ(z) + α (deck 002)."""

    family = "he"

    def __init__(self, alpha: float = 1.0):
        self.alpha = float(alpha)

    def forward(self, z, out=None):
        neg = self.alpha * np.expm1(np.minimum(z, 0))
        return _into(out, np.where(z > 0, z, neg).astype(z.dtype, copy=False))

    def backward(self, z, a, grad_a, out=None):
        slope = np.where(z > 0, 1.0, a + self.alpha).astype(z.dtype, copy=False)
        return np.multiply(grad_a, slope, out=out)


@ACTIVATIONS.register("sigmoid", "logistic")
class Sigmoid(Activation):
    """Logistic sigmoid with slope c: σ_c(z) = 1 / (1 + e^(−cz)), σ'_c = c σ_c (1 − σ_c) (deck 000)."""

    needs_z = False

    def __init__(self, c: float = 1.0):
        self.c = float(c)

    def forward(self, z, out=None):
        return _sigmoid(z if self.c == 1.0 else z * z.dtype.type(self.c), out)

    def backward(self, z, a, grad_a, out=None):
        d = np.subtract(1, a, out=self._scratch("d", a.shape, a.dtype))
        d *= a
        if self.c != 1.0:
            d *= a.dtype.type(self.c)
        return np.multiply(grad_a, d, out=out)


@ACTIVATIONS.register("tanh")
class Tanh(Activation):
    """Hyperbolic tangent: φ(z) = tanh z = 2σ₂(z) − 1, φ'(z) = 1 − tanh² z (decks 000, 001)."""

    needs_z = False

    def forward(self, z, out=None):
        return np.tanh(z, out=out)

    def backward(self, z, a, grad_a, out=None):
        d = np.multiply(a, a, out=self._scratch("d", a.shape, a.dtype))
        np.subtract(1, d, out=d)
        return np.multiply(grad_a, d, out=out)


@ACTIVATIONS.register("softmax")
class Softmax(Activation):
    """Softmax with slope c, per row: aᵢ = e^(c zᵢ) / Σⱼ e^(c zⱼ) (decks 000, 001).

    backward is the Jacobian-vector product c · a ⊙ (g − Σⱼ gⱼ aⱼ), never the full Jacobian.
    """

    needs_z = False

    def __init__(self, c: float = 1.0):
        self.c = float(c)

    def forward(self, z, out=None):
        s = np.multiply(z, z.dtype.type(self.c), out=out)
        s -= s.max(axis=1, keepdims=True)  # shift by the row max: exp never overflows
        np.exp(s, out=s)
        s /= s.sum(axis=1, keepdims=True)
        return s

    def backward(self, z, a, grad_a, out=None):
        dot = np.einsum("ij,ij->i", grad_a, a)[:, None]
        g = np.subtract(grad_a, dot, out=out)
        g *= a
        if self.c != 1.0:
            g *= a.dtype.type(self.c)
        return g


@ACTIVATIONS.register("softplus")
class Softplus(Activation):
    """Softplus: φ(z) = ln(1 + eᶻ), a smooth ReLU; φ'(z) = σ(z)."""

    family = "he"

    def forward(self, z, out=None):
        return np.logaddexp(0, z, out=out)

    def backward(self, z, a, grad_a, out=None):
        return np.multiply(grad_a, _sigmoid(z), out=out)


@ACTIVATIONS.register("silu", "swish")
class SiLU(Activation):
    """SiLU (swish): φ(z) = z σ(z); φ'(z) = σ(z) (1 + z (1 − σ(z)))."""

    family = "he"

    def forward(self, z, out=None):
        return np.multiply(z, _sigmoid(z), out=out)

    def backward(self, z, a, grad_a, out=None):
        s = _sigmoid(z)
        return np.multiply(grad_a, s * (1 + z * (1 - s)), out=out)


@ACTIVATIONS.register("gelu")
class GELU(Activation):
    """GELU, tanh form: φ(z) = ½ z (1 + tanh(√(2/π) (z + 0.044715 z³)))."""

    family = "he"
    _K = math.sqrt(2.0 / math.pi)

    def forward(self, z, out=None):
        t = np.tanh(self._K * (z + 0.044715 * z**3))
        return np.multiply(0.5 * z, 1 + t, out=out)

    def backward(self, z, a, grad_a, out=None):
        t = np.tanh(self._K * (z + 0.044715 * z**3))
        d = 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * self._K * (1 + 3 * 0.044715 * z * z)
        return np.multiply(grad_a, d.astype(z.dtype, copy=False), out=out)


class _ZeroDerivative(Activation):
    differentiable = False

    def backward(self, z, a, grad_a, out=None):
        raise ValueError(
            f"'{self.registry_name}' has a zero derivative almost everywhere, so backpropagation "
            "cannot train through it; use it with training.rule: perceptron, or use "
            "{name: sigmoid, c: 10} as a smooth approximation"
        )


@ACTIVATIONS.register("step", "heaviside")
class Step(_ZeroDerivative):
    """Heaviside step: φ(z) = 1 if z ≥ 0 else 0; φ' = 0 almost everywhere (deck 000)."""

    def forward(self, z, out=None):
        return _into(out, (z >= 0).astype(z.dtype))


@ACTIVATIONS.register("sign", "signum")
class Sign(_ZeroDerivative):
    """Signum: φ(z) = 1 if z ≥ 0 else −1; φ' = 0 almost everywhere (deck 000)."""

    def forward(self, z, out=None):
        return _into(out, np.where(z >= 0, 1, -1).astype(z.dtype))


def _sigmoid(x, out=None):
    """σ(x) = 1/(1+e^−x) = ½ (1 + tanh(x/2)), in place: tanh never overflows, so no error state to guard."""
    out = np.multiply(x, x.dtype.type(0.5), out=out)
    np.tanh(out, out=out)
    out += 1
    out *= out.dtype.type(0.5)
    return out


def _into(out, value):
    if out is None:
        return value
    np.copyto(out, value)
    return out
