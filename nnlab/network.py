"""The network: an ordered list of layers with forward, backward, predict and its parameters.

All parameters live in two flat buffers, ``weights`` (dense / maxout W) and ``others`` (biases, batch-norm
γ and β, PReLU α), and every layer's ``params`` are views into them; gradients likewise. The optimizer
and the regularizers therefore work on one contiguous array each, and a checkpoint is a handful of arrays.
"""

from __future__ import annotations

import numpy as np

from nnlab.components.layers import ActivationLayer, BatchNorm, Dense, Dropout, Layer

ROLES = ("weights", "others")


class Network:
    def __init__(self, layers: list[Layer], n_inputs: int, dtype=np.float32, init_rng=None, dropout_rng=None):
        self.layers = list(layers)
        self.n_inputs = int(n_inputs)
        self.dtype = np.dtype(dtype)
        n = self.n_inputs
        for layer in self.layers:
            n = layer.build(n, self.dtype.type)
        self.n_outputs = n
        self._allocate()
        rng = init_rng if init_rng is not None else np.random.default_rng(0)
        for layer in self.layers:
            layer.init_params(rng)
            if isinstance(layer, Dropout):
                layer.rng = dropout_rng if dropout_rng is not None else np.random.default_rng(1)
        for before, layer in zip(self.layers, self.layers[1:]):
            # φ computed in place of z: one buffer and one pass less, where z is a buffer of the layer before
            if isinstance(layer, ActivationLayer) and before.owns_output and not layer.activation.needs_z:
                layer.inplace = True
            if isinstance(before, Dense) and isinstance(layer, BatchNorm):
                before.bias_cancelled = True
        first = next((la for la in self.layers if la.has_params), None)
        if first is self.layers[0]:
            first.need_input_grad = False  # nothing upstream of the first layer needs dX

    def _allocate(self):
        sizes = {role: 0 for role in ROLES}
        for layer in self.layers:
            for _name, (shape, role) in layer.param_specs.items():
                sizes[_group(role)] += int(np.prod(shape))
        self.params = {r: np.zeros(sizes[r], self.dtype) for r in ROLES if sizes[r]}
        self.grads = {r: np.zeros(sizes[r], self.dtype) for r in ROLES if sizes[r]}
        self._link()

    def _link(self):
        """Every layer's ``params`` and ``grads`` as views into the flat buffers."""
        offset = {role: 0 for role in ROLES}
        self.named: dict[str, tuple[Layer, str]] = {}
        for i, layer in enumerate(self.layers):
            for name, (shape, role) in layer.param_specs.items():
                g, size = _group(role), int(np.prod(shape))
                o = offset[g]
                layer.params[name] = self.params[g][o : o + size].reshape(shape)
                layer.grads[name] = self.grads[g][o : o + size].reshape(shape)
                offset[g] += size
                self.named[f"layers.{i}.{name}"] = (layer, name)

    def __setstate__(self, state):
        """Unpickling: pickle copies each layer's view on its own, cut off from the flat buffer the optimizer
        updates, and joblib may load every array read-only; the buffers become writable copies again, the
        layers' parameters their views, and the work buffers are made anew."""
        self.__dict__.update(state)
        self.params = {r: np.array(a) for r, a in self.params.items()}
        self.grads = {r: np.array(a) for r, a in self.grads.items()}
        self._link()
        for layer in self.layers:
            layer.buffers.update({k: np.array(v) for k, v in layer.buffers.items()})
            layer.__dict__.pop("_scratch_buffers", None)

    # ----- parameters -------------------------------------------------------------------------
    def named_params(self) -> dict[str, np.ndarray]:
        return {key: layer.params[name] for key, (layer, name) in self.named.items()}

    def named_grads(self) -> dict[str, np.ndarray]:
        return {key: layer.grads[name] for key, (layer, name) in self.named.items()}

    def named_buffers(self) -> dict[str, np.ndarray]:
        return {f"layers.{i}.{k}": v for i, la in enumerate(self.layers) for k, v in la.buffers.items()}

    def weight_matrices(self) -> list[np.ndarray]:
        """The 2-D weight matrices (for max-norm constraints)."""
        return [la.params[n] for la, n in self.named.values() if la.param_specs[n][1] == "weight"]

    @property
    def n_params(self) -> int:
        return sum(p.size for p in self.params.values())

    def state_dict(self) -> dict[str, np.ndarray]:
        return {**self.named_params(), **self.named_buffers()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        expected = {**self.named_params(), **self.named_buffers()}
        missing = sorted(set(expected) - set(state))
        if missing:
            raise KeyError(f"missing tensors: {', '.join(missing)}")
        for key, arr in expected.items():
            src = np.asarray(state[key])
            if src.shape != arr.shape:
                raise ValueError(f"tensor {key}: shape {src.shape}, the model needs {arr.shape}")
            arr[...] = src

    # ----- passes -----------------------------------------------------------------------------
    def forward(self, x, training: bool = False, upto: int | None = None):
        """Run layers[:upto]; the result is a reused buffer (copy it to keep it)."""
        for layer in self.layers[:upto]:
            x = layer.forward(x, training)
        return x

    def backward(self, grad, upto: int | None = None):
        """Backpropagate ∂J/∂(output of layers[:upto]) and fill every layer's grads; return ∂J/∂x, or None
        where the first layer does not compute it (``need_input_grad`` is off for a first layer with
        parameters: nothing upstream needs it; set it to get ∂J/∂x, as ``loss_and_backward(input_grad=True)``
        and gradcheck do)."""
        layers = self.layers[:upto]
        for layer in reversed(layers):
            grad = layer.backward(grad)
        return grad

    def fused_split(self, loss) -> int | None:
        """Where the loss takes over: the index of a final activation fused into the loss, else None."""
        last = self.layers[-1] if self.layers else None
        if (
            loss.fuses_with is not None
            and isinstance(last, ActivationLayer)
            and isinstance(last.activation, loss.fuses_with)
        ):
            return len(self.layers) - 1
        return None

    def loss_and_backward(self, x, y, loss, input_grad: bool = False):
        """One training pass: forward in training mode, the loss, backward.

        Returns the batch loss and the forward output (logits where the loss is fused with the output
        activation; a reused buffer), and with ``input_grad`` also ∂J/∂x (gradcheck's input check; the first
        layer must then have ``need_input_grad`` set)."""
        split = self.fused_split(loss)
        out = self.forward(x, training=True, upto=split)
        if split is not None:
            value, grad = loss.fused(out, y, self.layers[split].activation)
        else:
            value, grad = loss.value_and_grad(out, y)
        grad_x = self.backward(grad, upto=split)
        return (value, out, grad_x) if input_grad else (value, out)

    def predict(self, x, batch_size: int = 8192) -> np.ndarray:
        """Outputs for ``x`` in evaluation mode, computed in large batches (a new array)."""
        x = np.asarray(x, dtype=self.dtype)
        if len(x) <= batch_size:
            return self.forward(x, training=False).copy()
        out = np.empty((len(x), self.n_outputs), dtype=self.dtype)
        for s in range(0, len(x), batch_size):
            out[s : s + batch_size] = self.forward(x[s : s + batch_size], training=False)
        return out

    def describe(self) -> str:
        return " → ".join([str(self.n_inputs)] + [la.describe() for la in self.layers])


def _group(role: str) -> str:
    return "weights" if role == "weight" else "others"
