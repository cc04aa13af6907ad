"""Optimizers: ``step(params, grads, lr)`` updates each parameter array in place.

``params`` and ``grads`` are dicts of arrays with the same keys; each optimizer keeps its state (velocity,
moments) per key, allocated on the first step and updated in place with one scratch buffer per key, so a
step allocates nothing. The trainer passes the network's parameters as two flat buffers, ``weights`` and
``others`` (biases, batch-norm γ/β, PReLU α), so each update is a handful of vector operations. A user may
step an optimizer on arrays of their own, or on a network's per-layer views
(``opt.step(net.named_params(), net.named_grads(), lr)``, keyed ``layers.N.W``, ``layers.N.b``, ...): the
same numbers as on the flat buffers.

Keys matter to AdamW only: its decoupled weight decay applies to the keys ``weights`` (the network's flat
buffer of weight matrices) and those ending in ``.W`` (one layer's weight matrix, ``layers.N.W``), never to
others (biases, ``others``, or a key of your own such as ``w``); see ``is_weight``.

Every update is elementwise, so ``step`` hands it pieces of the buffers (``nnlab.parallel.split``): one
per core for a long buffer, cache-sized blocks on one core. ``update`` sees views of the same range of the
parameter, its gradient, its state and the scratch buffer; the result does not depend on the cut.
"""

from __future__ import annotations

import math

import numpy as np

from nnlab import blas, kernels, parallel
from nnlab.registry import REGISTRIES

OPTIMIZERS = REGISTRIES["optimizer"]


def is_weight(key: str) -> bool:
    """Whether AdamW decays the parameter ``key``: the flat buffer ``weights`` or a layer's ``layers.N.W``
    (any key ending in ``.W``), never biases or other keys (deck 004)."""
    return key == "weights" or key.endswith(".W")


SMALL = 4096  # elements below which a buffer is updated in NumPy at once (a BLAS call or a split costs µs more)
FLUSH_EVERY = 16  # steps between flushes of decaying state towards zero (see Optimizer.flush_subnormals)


class Optimizer:
    slots: tuple[str, ...] = ()
    #: state that decays geometrically where the gradient is zero (a pixel that is always 0, a dead unit)
    decaying: tuple[str, ...] = ()

    def __init__(self, lr: float = 0.01):
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        self.lr = float(lr)
        self.t = 0
        self.state: dict[str, dict[str, np.ndarray]] = {}

    def _state(self, key, p):
        st = self.state.get(key)
        if st is None or st["_scratch"].shape != p.shape:
            st = {slot: np.zeros_like(p) for slot in self.slots}
            st["_scratch"] = np.empty_like(p)
            self.state[key] = st
        return st

    def step(self, params, grads, lr):
        self.t += 1
        flush = self.decaying if self.t % FLUSH_EVERY == 0 else ()
        for key, p in params.items():
            st, g = self._state(key, p), grads[key]
            if p.size < SMALL:  # biases, a small network: NumPy at once, cheaper than any hand-off
                self._piece(p, g, lr, st, key, flush)
                continue
            if self.update_blas(p, g, lr, st, key):  # the whole buffer in BLAS calls, on BLAS's own threads
                for slot in flush:
                    flush_subnormals(st[slot])
                continue
            if p.ndim != 1:  # a user's own named parameter, e.g. net.named_params()'s layers.N.W: one piece
                self._piece(p, g, lr, st, key, flush)
                continue

            update = self.piecewise(p, g, lr, st, key)
            if flush:

                def update(a, b, update=update, st=st):
                    update(a, b)
                    for slot in flush:
                        flush_subnormals(st[slot][a:b])

            parallel.split(update, p.size)

    def _piece(self, p, g, lr, st, key, flush):
        self.update(p, g, lr, st, key)
        for slot in flush:
            flush_subnormals(st[slot])

    def prepare(self, params) -> None:
        """Load what this optimizer's update of ``params`` needs before the first step (a compiled kernel):
        the trainer calls it before its clock starts, so that the first epoch's time is the epoch's."""

    def update_blas(self, p, g, lr, st, key) -> bool:
        """Update the whole of ``p`` with BLAS level-1 calls (``nnlab.blas``) where the optimizer can and
        that BLAS is at hand; False leaves it to ``update``, in NumPy."""
        return False

    def piecewise(self, p, g, lr, st, key):
        """This step's update of the flat buffer ``p`` as a function of a piece ``[a, b)`` (``split`` calls
        it on each). By default ``update`` on views of the piece; an optimizer that calls BLAS on the
        pieces overrides it, doing once per step what does not depend on the piece."""

        def piece(a, b):
            self.update(p[a:b], g[a:b], lr, {k: v[a:b] for k, v in st.items()}, key)

        return piece

    def update(self, p, g, lr, st, key):
        """Update ``p`` in place from ``g`` (views of one piece of a flat buffer, or whole arrays) with the
        state arrays ``st`` of the same shape (``st["_scratch"]`` is free work space)."""
        raise NotImplementedError

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict]:
        arrays = {
            f"{key}.{slot}": arr for key, st in self.state.items() for slot, arr in st.items() if slot != "_scratch"
        }
        return arrays, {"t": self.t}

    def load_state_dict(self, arrays: dict[str, np.ndarray], meta: dict) -> None:
        self.t = int(meta.get("t", 0))
        self.state = {}
        for name, arr in arrays.items():
            key, slot = name.rsplit(".", 1)
            st = self.state.setdefault(key, {"_scratch": np.empty_like(arr)})
            st[slot] = np.array(arr, copy=True)

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in vars(self).items() if k not in ("state", "t"))
        return f"{type(self).__name__}({args})"


def flush_subnormals(a: np.ndarray) -> None:
    """Set to zero, in place, the entries too small to matter before they decay into subnormal numbers.

    A moment that only decays (m ← β m where the gradient is always 0) reaches the subnormal range after a
    few hundred steps, and arithmetic on subnormals is ~10× slower on x86: Adam's step on Fashion-MNIST went
    from 0.7 to 9 ms. (a + c) − c rounds every |a| below c·2⁻ᵖ to exactly 0 (p the mantissa bits) and leaves
    larger entries as they were, to within c·2⁻ᵖ; with c = tiny·2^(p+12) that threshold is 2¹¹ times the
    smallest normal number, which a factor 0.9 per step takes ~70 steps to cross, so flushing every
    FLUSH_EVERY steps keeps the state normal. Deterministic, so resumes stay exact."""
    info = np.finfo(a.dtype)
    c = a.dtype.type(info.tiny * 2.0 ** (info.nmant + 12))
    a += c
    a -= c


def _divide_by_root(p, g, acc, scratch, lr, eps):
    """p ← p − α g / (√acc + ε), through one scratch buffer (RMSprop, Adagrad)."""
    np.sqrt(acc, out=scratch)
    scratch += p.dtype.type(eps)
    np.divide(g, scratch, out=scratch)
    scratch *= p.dtype.type(lr)
    p -= scratch


@OPTIMIZERS.register("sgd")
class SGD(Optimizer):
    """Gradient descent with momentum μ: v ← μv − αg, w ← w + v; Nesterov: w ← w + μv − αg (decks 001, 002)."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False):
        super().__init__(lr)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if nesterov and momentum == 0:
            raise ValueError("nesterov needs momentum > 0")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.slots = ("velocity",) if momentum else ()
        self.decaying = self.slots

    def update_blas(self, p, g, lr, st, key):
        # w ← w − αg as one axpy instead of two NumPy passes; with momentum v ← μv − αg is a scal and an axpy
        if not self.momentum:
            return blas.axpy(-lr, g, p)
        v = st["velocity"]
        if not blas.usable(g, v, p):
            return False
        blas.scal(self.momentum, v)
        blas.axpy(-lr, g, v)
        if self.nesterov:  # w ← w + μv − αg
            blas.axpy(self.momentum, v, p)
            blas.axpy(-lr, g, p)
        else:
            blas.axpy(1.0, v, p)
        return True

    def update(self, p, g, lr, st, key):
        s = st["_scratch"]
        np.multiply(g, p.dtype.type(lr), out=s)
        if not self.momentum:
            p -= s
            return
        v = st["velocity"]
        v *= p.dtype.type(self.momentum)
        v -= s
        if self.nesterov:
            p -= s
            np.multiply(v, p.dtype.type(self.momentum), out=s)
            p += s
        else:
            p += v


@OPTIMIZERS.register("rmsprop")
class RMSprop(Optimizer):
    """RMSprop: s ← ρs + (1 − ρ)g², w ← w − α g / (√s + ε) (deck 001)."""

    slots = ("sq",)
    decaying = ("sq",)

    def __init__(self, lr: float = 0.001, rho: float = 0.9, eps: float = 1e-8):
        super().__init__(lr)
        self.rho, self.eps = float(rho), float(eps)

    def update(self, p, g, lr, st, key):
        sq, s = st["sq"], st["_scratch"]
        sq *= p.dtype.type(self.rho)
        np.multiply(g, g, out=s)
        s *= p.dtype.type(1 - self.rho)
        sq += s
        _divide_by_root(p, g, sq, s, lr, self.eps)


@OPTIMIZERS.register("adagrad")
class Adagrad(Optimizer):
    """Adagrad: G ← G + g², w ← w − α g / (√G + ε)."""

    slots = ("sum_sq",)

    def __init__(self, lr: float = 0.01, eps: float = 1e-8):
        super().__init__(lr)
        self.eps = float(eps)

    def update(self, p, g, lr, st, key):
        acc, s = st["sum_sq"], st["_scratch"]
        np.multiply(g, g, out=s)
        acc += s
        _divide_by_root(p, g, acc, s, lr, self.eps)


@OPTIMIZERS.register("adam")
class Adam(Optimizer):
    """Adam: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², w ← w − α m̂ / (√v̂ + ε) (deck 001)."""

    slots = ("m", "v")
    decaying = ("m", "v")

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(lr)
        for nm, b in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= b < 1:
                raise ValueError(f"{nm} must be in [0, 1), got {b}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def _scalars(self, lr):
        # w -= α/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε) = α √(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε √(1−β₂ᵗ)):
        # the bias corrections fold into two scalars
        root = math.sqrt(1 - self.beta2**self.t)
        return lr * root / (1 - self.beta1**self.t), self.eps * root

    def _shrink(self, lr, key) -> float:
        """The factor on w before the step (AdamW's decoupled decay; 1 for Adam)."""
        return 1.0

    def prepare(self, params):
        for p in params.values():
            fused = kernels.adam(p.size, p.dtype)
            if fused is not None:  # an empty call loads (or compiles) the kernel for this dtype
                fused(p[:0], p[:0], p[:0], p[:0], *(p.dtype.type(0),) * 7)

    def piecewise(self, p, g, lr, st, key):
        m, v, s = st["m"], st["v"], st["_scratch"]
        fused = kernels.adam(p.size, p.dtype)
        if fused is not None and p.flags.c_contiguous and all(x.flags.c_contiguous for x in (g, m, v)):
            # one pass over a piece, NumPy's arithmetic in NumPy's order (nnlab.kernels)
            t, (step, eps) = p.dtype.type, self._scalars(lr)
            b1, b2 = t(self.beta1), t(self.beta2)
            args = (b1, t(1) - b1, b2, t(1) - b2, t(step), t(eps), t(self._shrink(lr, key)))
            return lambda a, b: fused(p[a:b], g[a:b], m[a:b], v[a:b], *args)
        axpby = blas.function("axpby", p.dtype) if blas.usable(g, m, v, s, p) else None
        if axpby is None:
            return super().piecewise(p, g, lr, st, key)
        # seven passes over a piece instead of NumPy's twelve: m, v and w each in one axpby (y ← a x + b y)
        step, eps = self._scalars(lr)
        eps, b1, b2, shrink = p.dtype.type(eps), self.beta1, self.beta2, self._shrink(lr, key)
        P, G, M, V, S = (blas.address(x) for x in (p, g, m, v, s))

        def piece(a, b):
            n, o = b - a, a * p.itemsize
            axpby(n, 1 - b1, G + o, 1, b1, M + o, 1)  # m ← β₁m + (1−β₁)g
            sp = s[a:b]
            np.multiply(g[a:b], g[a:b], out=sp)
            axpby(n, 1 - b2, S + o, 1, b2, V + o, 1)  # v ← β₂v + (1−β₂)g²
            np.sqrt(v[a:b], out=sp)
            sp += eps
            np.divide(m[a:b], sp, out=sp)
            axpby(n, -step, S + o, 1, shrink, P + o, 1)  # w ← shrink · w − step · m / (√v + ε)

        return piece

    def update(self, p, g, lr, st, key):
        t = p.dtype.type
        b1, b2 = t(self.beta1), t(self.beta2)
        step, eps = self._scalars(lr)
        step, eps = t(step), t(eps)
        m, v, s = st["m"], st["v"], st["_scratch"]
        m *= b1
        np.multiply(g, t(1) - b1, out=s)
        m += s
        v *= b2
        np.multiply(g, g, out=s)
        s *= t(1) - b2
        v += s
        np.sqrt(v, out=s)
        s += eps
        np.divide(m, s, out=s)
        s *= step
        p -= s


@OPTIMIZERS.register("adamw")
class AdamW(Adam):
    """AdamW: Adam plus decoupled weight decay w ← w − α λ w on weights only (Loshchilov & Hutter).

    "Weights" are the parameters keyed ``weights`` (the network's flat buffer of weight matrices, as the
    trainer passes it) or ending in ``.W`` (``layers.N.W`` in ``net.named_params()``); every other key
    (``others``, ``layers.N.b``, batch-norm's ``gamma``/``beta``, a name of your own) is not decayed."""

    def __init__(
        self,
        lr: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ):
        super().__init__(lr, beta1, beta2, eps)
        self.weight_decay = float(weight_decay)

    def _shrink(self, lr, key):
        return 1 - lr * self.weight_decay if self.weight_decay and is_weight(key) else 1.0

    def update(self, p, g, lr, st, key):
        shrink = self._shrink(lr, key)
        if shrink != 1:
            p *= p.dtype.type(shrink)
        super().update(p, g, lr, st, key)
