"""Layers: ``forward(x, training) -> y`` and ``backward(grad_y) -> grad_x``.

Convention (DESIGN §2): a batch has one example per ROW, ``x`` of shape (m, n_in). A dense layer holds
``W`` of shape (n_in, n_out) and ``b`` of shape (n_out,), so ``Z = X @ W + b``. The decks write
``z = W x`` with examples as columns: the two are transposes of each other, and the deck's backward
``dW = 1/m dZ Xᵀ`` becomes ``dW = Xᵀ dZ`` here, with the 1/m already inside dZ (the loss's gradient).

A layer declares its parameters in ``build`` (``param_specs``: name → (shape, role), role ``weight`` or
``other``); the network allocates them as views into flat buffers and fills ``params`` and ``grads``.
``backward`` overwrites ``grads`` and may overwrite ``grad_y``. Outputs live in buffers the layer reuses
on the next call of the same batch size: copy what must outlive the next forward.
"""

from __future__ import annotations

import functools

import numpy as np

from nnlab.components.activations import ACTIVATIONS
from nnlab.components.initializers import INITIALIZERS, default_for
from nnlab.components.scratch import ones, scratch
from nnlab.registry import REGISTRIES

LAYERS = REGISTRIES["layer"]


class Layer:
    has_params = False
    #: forward always returns a buffer of the layer's own (never its input), which the next layer may overwrite
    owns_output = False

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}  # non-trainable state saved in checkpoints
        self.param_specs: dict[str, tuple[tuple[int, ...], str]] = {}
        self.need_input_grad = True
        self.dtype = np.float32

    def build(self, n_in: int, dtype) -> int:
        """Declare parameters for ``n_in`` inputs; return the number of outputs."""
        self.dtype = dtype
        return n_in

    def init_params(self, rng) -> None:
        """Fill ``params`` (already allocated views) with their initial values."""

    def forward(self, x, training: bool):
        raise NotImplementedError

    def backward(self, grad_y):
        raise NotImplementedError

    def _buf(self, name, shape, dtype=None):
        """A buffer reused across calls with the same shape (no allocation at steady state)."""
        return scratch(self, name, shape, dtype or self.dtype)

    def describe(self) -> str:
        return type(self).__name__


@LAYERS.register("dense", "linear_layer", "fc")
class Dense(Layer):
    """Fully connected: Z = X W + b; dW = Xᵀ dZ, db = Σ_rows dZ, dX = dZ Wᵀ (decks 001, 004)."""

    has_params = True
    owns_output = True
    #: set by the network when batch norm follows: BN(XW + b) = BN(XW), so ∂J/∂b = 0 exactly (a class default,
    #: so that a layer pickled by an earlier nnlab loads with it)
    bias_cancelled = False

    def __init__(self, units: int | str = "auto", initializer=None, bias_initializer="zeros", use_bias: bool = True):
        super().__init__()
        if units != "auto" and (not isinstance(units, int) or isinstance(units, bool) or units < 1):
            raise ValueError(f"units must be a positive integer or 'auto', got {units!r}")
        self.units = units
        self.initializer = initializer
        self.bias_initializer = bias_initializer
        self.use_bias = bool(use_bias)

    def build(self, n_in, dtype):
        super().build(n_in, dtype)
        self.n_in = n_in
        self.param_specs = {"W": ((n_in, self.units), "weight")}
        if self.use_bias:
            self.param_specs["b"] = ((self.units,), "other")
        return self.units

    def init_params(self, rng):
        init = INITIALIZERS.build(self.initializer or default_for(None))
        self.params["W"][...] = init((self.n_in, self.units), self.n_in, self.units, rng, self.dtype)
        if self.use_bias:
            binit = INITIALIZERS.build(self.bias_initializer)
            self.params["b"][...] = binit((self.units,), self.n_in, self.units, rng, self.dtype)

    def forward(self, x, training):
        self.x = x
        y = np.matmul(x, self.params["W"], out=self._buf("y", (len(x), self.units)))
        if self.use_bias and not (self.bias_cancelled and not self.params["b"].any()):
            y += self.params["b"]  # a zero bias before batch norm stays zero (its gradient is 0): a pass saved
        return y

    def backward(self, grad_y):
        np.matmul(self.x.T, grad_y, out=self.grads["W"])
        if self.use_bias and self.bias_cancelled:
            # batch norm's dZ sums to zero over the batch in exact arithmetic, and to round-off here, which
            # Adam divides by its own size into steps of about lr: the bias would wander at random, and the
            # running mean behind it (train/eval mismatch). Its gradient is what the maths says: 0.
            self.grads["b"].fill(0)
        elif self.use_bias:  # db = 1ᵀ dZ, the column sums, as a BLAS product: 2-3× faster than dZ.sum(axis=0)
            np.matmul(ones(self, len(grad_y), grad_y.dtype), grad_y, out=self.grads["b"])
        if not self.need_input_grad:
            return None
        return np.matmul(grad_y, self.params["W"].T, out=self._buf("dx", (len(grad_y), self.n_in)))

    def describe(self):
        return f"dense({self.units})"


@LAYERS.register("activation")
class ActivationLayer(Layer):
    """Applies an activation of the registry elementwise (softmax per row): A = φ(Z)."""

    def __init__(self, activation="relu"):
        super().__init__()
        self.spec = activation
        self.activation = ACTIVATIONS.build(activation)
        #: picks the default initializer of the layer before (initializers.default_for)
        self.family = self.activation.family
        #: overwrite z with φ(z): set by the network when the layer before owns z and φ's backward needs only a
        self.inplace = False

    def forward(self, x, training):
        self.z = None if self.inplace else x
        self.a = self.activation.forward(x, out=x if self.inplace else self._buf("a", x.shape))
        return self.a

    def backward(self, grad_y):
        return self.activation.backward(self.z, self.a, grad_y, out=grad_y)

    def describe(self):
        return self.activation.registry_name


@LAYERS.register("dropout")
class Dropout(Layer):
    """Inverted dropout: keep each unit with probability 1 − p and scale by 1/(1 − p) in training,
    identity at evaluation, so the expected activation is unchanged (deck 002)."""

    def __init__(self, rate: float = 0.5):
        super().__init__()
        if not 0 <= rate < 1:
            raise ValueError(f"rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.rng = None  # set by the network: the run's dropout generator
        self.freeze_mask = False  # gradcheck: reuse the last mask

    def forward(self, x, training):
        if not training or self.rate == 0:
            self.mask = None
            return x
        keep = 1.0 - self.rate
        if not (self.freeze_mask and getattr(self, "mask", None) is not None and self.mask.shape == x.shape):
            # the mask already scaled, in x's dtype: floor(u + keep) is 1 with probability keep, then × 1/keep
            mask = self._buf("mask", x.shape)
            keep_mask(self.rng, mask, keep)
            mask *= mask.dtype.type(1.0 / keep)
            self.mask = mask
        return np.multiply(x, self.mask, out=self._buf("y", x.shape))

    def backward(self, grad_y):
        if self.mask is None:
            return grad_y
        grad_y *= self.mask
        return grad_y

    def describe(self):
        return f"dropout({self.rate:g})"


#: 64-bit numbers per call of ``random_raw``, which allocates its output: 64 KB whatever the batch
#: (tests/test_speed.py). A call costs some µs: a 128×768 mask took 1.03× the plain way's time in calls of
#: 2048, 0.86× in calls of 4096, 0.70× in calls of 8192
RAW_CHUNK = 8192


def keep_mask(rng: np.random.Generator, mask: np.ndarray, keep: float) -> None:
    """Fill ``mask`` (float32 or float64) with floor(u + keep) for u = ``rng.random()`` in its dtype: 1 with
    probability ``keep``, else 0. The same bits, and the generator left in the same state, as
    ``rng.random(out=mask)``, ``+= keep`` and ``floor``, in about 0.7 of the time.

    NumPy makes a float32 u of a 32-bit number r as (r >> 8)·2⁻²⁴ (a float64 of a 64-bit one as (r >> 11)·2⁻⁵³),
    and PCG64 serves 32-bit numbers as the low then the high half of a 64-bit one; so floor(u + keep) is
    [r ≥ T] for the smallest T whose u rounds up to 1 (``_threshold``), and PCG64's raw 64-bit numbers compared
    with T give the mask without a float made of each. A half held by the generator (after an odd-sized float32
    fill) and an odd last number are drawn the plain way."""
    found = _threshold(float(keep), mask.dtype.str) if type(rng.bit_generator) is np.random.PCG64 else None
    if found is None or not mask.flags.c_contiguous:
        _plain_mask(rng, mask, keep)
        return
    (t, per), flat = found, mask.reshape(-1)
    a, b = 0, flat.size
    if per == 2 and b and rng.bit_generator.state["has_uint32"]:
        _plain_mask(rng, flat[:1], keep)
        a = 1
    odd = (b - a) % per
    b -= odd
    for i in range(a, b, RAW_CHUNK * per):
        j = min(i + RAW_CHUNK * per, b)
        np.greater_equal(rng.bit_generator.random_raw((j - i) // per).view(t.dtype), t, out=flat[i:j], casting="unsafe")
    if odd:
        _plain_mask(rng, flat[b:], keep)


def _plain_mask(rng, mask, keep) -> None:
    rng.random(out=mask, dtype=mask.dtype)
    mask += mask.dtype.type(keep)
    np.floor(mask, out=mask)


@functools.lru_cache(maxsize=64)
def _threshold(keep: float, dtype: str):
    """(T, numbers per 64-bit draw): T the smallest raw number r whose u = (r >> shift)·2⁻ᵇⁱᵗˢ has
    floor(u + keep) = 1 in the dtype's own rounding (a binary search over u's 2ᵇⁱᵗˢ values); None where no u
    does (a keep too small for the dtype) or the dtype is not one that ``Generator.random`` makes."""
    bits, shift, per, word = {"<f4": (24, 8, 2, np.uint32), "<f8": (53, 11, 1, np.uint64)}.get(dtype, (0,) * 4)
    if not bits:
        return None
    f = np.dtype(dtype).type
    k, step = f(keep), f(2.0**-bits)
    lo, hi = 0, 1 << bits
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if np.floor(f(mid) * step + k) >= 1 else (mid + 1, hi)
    return None if lo == 1 << bits else (word(lo << shift), per)


@LAYERS.register("batchnorm", "batch_norm")
class BatchNorm(Layer):
    """Batch normalisation: x̂ = (x − μ_B)/√(σ²_B + ε), y = γ x̂ + β; running averages at evaluation (deck 002)."""

    has_params = True
    owns_output = True

    def __init__(self, momentum: float = 0.9, eps: float = 1e-5):
        super().__init__()
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum, self.eps = float(momentum), float(eps)

    def build(self, n_in, dtype):
        super().build(n_in, dtype)
        self.n = n_in
        self.param_specs = {"gamma": ((n_in,), "other"), "beta": ((n_in,), "other")}
        self.buffers = {"running_mean": np.zeros(n_in, dtype), "running_var": np.ones(n_in, dtype)}
        return n_in

    def init_params(self, rng):
        self.params["gamma"][...] = 1
        self.params["beta"][...] = 0

    def forward(self, x, training):
        g, b = self.params["gamma"], self.params["beta"]
        xhat = self._buf("xhat", x.shape)
        if training:
            # μ = 1ᵀX / m and σ² = 1ᵀ(X − μ)² / m as BLAS products with 1, the centred x − μ kept in x̂: a pass
            # fewer than x.mean() then x.var(), which centres a temporary copy again
            m, one, inv_m = len(x), ones(self, len(x), x.dtype), x.dtype.type(1.0 / len(x))
            mu = one @ x
            mu *= inv_m
            np.subtract(x, mu, out=xhat)
            var = one @ np.multiply(xhat, xhat, out=self._buf("sq", x.shape))
            var *= inv_m
            mom = self.momentum
            self.buffers["running_mean"] *= mom
            self.buffers["running_mean"] += (1 - mom) * mu
            unbiased = var * (m / (m - 1)) if m > 1 else var
            self.buffers["running_var"] *= mom
            self.buffers["running_var"] += (1 - mom) * unbiased
        else:
            mu, var = self.buffers["running_mean"], self.buffers["running_var"]
            np.subtract(x, mu, out=xhat)
        self.inv_std = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype, copy=False)
        xhat *= self.inv_std
        self.xhat = xhat
        y = np.multiply(xhat, g, out=self._buf("y", x.shape))
        y += b
        return y

    def backward(self, grad_y):
        m = len(grad_y)
        xhat, one = self.xhat, ones(self, m, grad_y.dtype)
        np.matmul(one, grad_y, out=self.grads["beta"])  # Σg and Σ(g x̂) as products with 1, like Dense's db
        np.matmul(one, np.multiply(grad_y, xhat, out=self._buf("sq", xhat.shape)), out=self.grads["gamma"])
        # dx = γ/(m σ) · (m g − Σg − x̂ Σ(g x̂)) = γ/σ · (g − (x̂ Σ(g x̂) + Σg)/m)
        inv_m = grad_y.dtype.type(1.0 / m)
        dx = np.multiply(xhat, self.grads["gamma"] * inv_m, out=self._buf("dx", grad_y.shape))
        dx += self.grads["beta"] * inv_m
        np.subtract(grad_y, dx, out=dx)
        dx *= self.params["gamma"] * self.inv_std
        return dx

    def describe(self):
        return "batchnorm"


@LAYERS.register("prelu")
class PReLU(Layer):
    """Parametric ReLU: y = x if x > 0 else αx, with α learnt per unit (decks 000, 002)."""

    has_params = True
    owns_output = True

    def __init__(self, alpha: float = 0.25):
        super().__init__()
        self.alpha_init = float(alpha)
        self.family = "he"  # the ReLU family: the layer before gets he_normal by default

    def build(self, n_in, dtype):
        super().build(n_in, dtype)
        self.param_specs = {"alpha": ((n_in,), "other")}
        return n_in

    def init_params(self, rng):
        self.params["alpha"][...] = self.alpha_init

    def forward(self, x, training):
        self.x = x
        self.pos = np.greater(x, 0, out=self._buf("pos", x.shape, bool))
        y = np.multiply(x, self.params["alpha"], out=self._buf("y", x.shape))
        np.copyto(y, x, where=self.pos)
        return y

    def backward(self, grad_y):
        neg_part = np.where(self.pos, 0, self.x * grad_y)
        self.grads["alpha"][...] = neg_part.sum(axis=0)
        slope = np.where(self.pos, 1, self.params["alpha"]).astype(grad_y.dtype, copy=False)
        grad_y *= slope
        return grad_y

    def describe(self):
        return "prelu"


@LAYERS.register("maxout")
class Maxout(Layer):
    """Maxout: yⱼ = max over k pieces of (x Wⱼₖ + bⱼₖ) (deck 002); the gradient flows to the arg max."""

    has_params = True
    owns_output = True

    def __init__(self, units: int = 32, pieces: int = 2, initializer=None, bias_initializer="zeros"):
        super().__init__()
        if not isinstance(units, int) or units < 1:
            raise ValueError(f"units must be a positive integer, got {units!r}")
        if not isinstance(pieces, int) or pieces < 2:
            raise ValueError(f"pieces must be an integer ≥ 2, got {pieces!r}")
        self.units, self.pieces = units, pieces
        self.initializer, self.bias_initializer = initializer, bias_initializer

    def build(self, n_in, dtype):
        super().build(n_in, dtype)
        self.n_in = n_in
        k = self.units * self.pieces
        self.param_specs = {"W": ((n_in, k), "weight"), "b": ((k,), "other")}
        return self.units

    def init_params(self, rng):
        k = self.units * self.pieces
        init = INITIALIZERS.build(self.initializer or default_for(None))
        self.params["W"][...] = init((self.n_in, k), self.n_in, self.units, rng, self.dtype)
        self.params["b"][...] = INITIALIZERS.build(self.bias_initializer)((k,), self.n_in, self.units, rng, self.dtype)

    def forward(self, x, training):
        self.x = x
        z = x @ self.params["W"] + self.params["b"]
        z = z.reshape(len(x), self.units, self.pieces)
        self.arg = z.argmax(axis=2)
        return np.take_along_axis(z, self.arg[..., None], axis=2)[..., 0]

    def backward(self, grad_y):
        m = len(grad_y)
        dz = np.zeros((m, self.units, self.pieces), dtype=grad_y.dtype)
        np.put_along_axis(dz, self.arg[..., None], grad_y[..., None], axis=2)
        dz = dz.reshape(m, -1)
        np.matmul(self.x.T, dz, out=self.grads["W"])
        np.sum(dz, axis=0, out=self.grads["b"])
        return dz @ self.params["W"].T if self.need_input_grad else None

    def describe(self):
        return f"maxout({self.units}x{self.pieces})"
