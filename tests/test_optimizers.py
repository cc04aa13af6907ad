import math

import numpy as np
import pytest

from nnlab import registry


def _one_step(spec, p, g, lr, steps=1):
    opt = registry.build("optimizer", spec)
    params, grads = {"w": np.array(p, dtype=np.float64)}, {"w": np.array(g, dtype=np.float64)}
    for _ in range(steps):
        opt.step(params, grads, lr)
    return params["w"], opt


def test_sgd_is_w_minus_lr_g():
    w, _ = _one_step("sgd", [1.0, -2.0], [0.5, -1.0], 0.1)
    np.testing.assert_allclose(w, [0.95, -1.9])


def test_momentum_accumulates_velocity():
    # v1 = −αg, w1 = w0 + v1; v2 = μ v1 − αg, w2 = w1 + v2
    w, _ = _one_step({"name": "sgd", "momentum": 0.9}, [1.0], [1.0], 0.1, steps=2)
    v1 = -0.1
    v2 = 0.9 * v1 - 0.1
    assert w[0] == pytest.approx(1.0 + v1 + v2)


def test_nesterov_looks_ahead():
    w, _ = _one_step({"name": "sgd", "momentum": 0.9, "nesterov": True}, [1.0], [1.0], 0.1, steps=1)
    v1 = -0.1
    assert w[0] == pytest.approx(1.0 + 0.9 * v1 - 0.1)


def test_adam_first_step_moves_by_lr_times_sign():
    w, _ = _one_step("adam", [1.0, 1.0], [3.0, -0.02], 0.01)
    np.testing.assert_allclose(w, [0.99, 1.01], rtol=1e-6)


def test_adam_matches_reference_formula_over_steps(rng):
    p0, g = rng.normal(size=5), rng.normal(size=5)
    w, _ = _one_step("adam", p0, g, 0.01, steps=3)
    p, m, v = p0.copy(), np.zeros(5), np.zeros(5)
    for t in range(1, 4):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        p = p - 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    np.testing.assert_allclose(w, p, rtol=1e-10)


def test_rmsprop_and_adagrad_formulas():
    w, _ = _one_step("rmsprop", [1.0], [2.0], 0.01)
    assert w[0] == pytest.approx(1.0 - 0.01 * 2.0 / (math.sqrt(0.1 * 4) + 1e-8))
    w, _ = _one_step("adagrad", [1.0], [2.0], 0.1)
    assert w[0] == pytest.approx(1.0 - 0.1 * 2.0 / (2.0 + 1e-8))


def test_adamw_decays_weights_only():
    opt = registry.build("optimizer", {"name": "adamw", "weight_decay": 0.1})
    params = {"weights": np.array([1.0]), "others": np.array([1.0])}
    grads = {"weights": np.array([0.0]), "others": np.array([0.0])}
    opt.step(params, grads, 0.5)
    assert params["weights"][0] == pytest.approx(1.0 - 0.5 * 0.1)
    assert params["others"][0] == 1.0


@pytest.mark.parametrize("name", registry.names("optimizer"))
def test_state_round_trips(name, rng):
    opt = registry.build("optimizer", name)
    params = {"weights": rng.normal(size=4)}
    grads = {"weights": rng.normal(size=4)}
    opt.step(params, grads, 0.01)
    arrays, meta = opt.state_dict()
    clone = registry.build("optimizer", name)
    clone.load_state_dict(arrays, meta)
    p1, p2 = {"weights": params["weights"].copy()}, {"weights": params["weights"].copy()}
    opt.step(p1, grads, 0.01)
    clone.step(p2, grads, 0.01)
    np.testing.assert_array_equal(p1["weights"], p2["weights"])


@pytest.mark.parametrize("name", registry.names("optimizer"))
def test_step_keeps_float32(name):
    opt = registry.build("optimizer", name)
    params = {"weights": np.ones(3, np.float32)}
    opt.step(params, {"weights": np.ones(3, np.float32)}, 0.1)
    assert params["weights"].dtype == np.float32


@pytest.mark.parametrize("spec", ["adam", "rmsprop", {"name": "sgd", "momentum": 0.9}])
def test_decaying_state_never_turns_subnormal(spec):
    # where the gradient stays 0 (a pixel that is always blank) the moments decay geometrically; subnormal
    # numbers would make every later step an order of magnitude slower on x86
    opt = registry.build("optimizer", spec)
    p = {"weights": np.ones(8, np.float32)}
    opt.step(p, {"weights": np.full(8, 1e-3, np.float32)}, 0.01)
    zero = {"weights": np.zeros(8, np.float32)}
    tiny = np.finfo(np.float32).tiny
    for _ in range(3000):
        opt.step(p, zero, 0.01)
        for slot in opt.decaying:
            a = opt.state["weights"][slot]
            assert not np.any((a != 0) & (np.abs(a) < tiny))


def test_flush_keeps_what_matters():
    from nnlab.components.optimizers import flush_subnormals

    a = np.array([1e-3, -2.5e-7, 1e-20, 1e-36, 1e-40, 1.0], np.float32)
    flush_subnormals(a)
    np.testing.assert_array_equal(a, np.array([1e-3, -2.5e-7, 1e-20, 0, 0, 1.0], np.float32))


@pytest.mark.parametrize("spec", [{"name": "adam"}, {"name": "adamw", "weight_decay": 0.1}])
def test_stepping_named_params_equals_stepping_the_flat_buffers(spec, rng):
    """Public API: ``opt.step(net.named_params(), net.named_grads(), lr)`` (per-layer views keyed
    ``layers.N.W`` / ``layers.N.b``) gives what the trainer's flat ``weights`` / ``others`` buffers give, AdamW's
    decay included (``.W`` keys decay, ``.b`` keys do not, as ``weights`` does and ``others`` does not)."""
    from nnlab.components.layers import ActivationLayer, Dense
    from nnlab.network import Network

    def net():
        layers = [Dense(96), ActivationLayer("relu"), Dense(64), ActivationLayer("relu"), Dense(3)]
        return Network(layers, 80, np.float32, np.random.default_rng(0))

    flat, named = net(), net()
    assert flat.params["weights"].size > 4096  # the large buffer takes the BLAS / split path, the views do not
    opt_flat, opt_named = registry.build("optimizer", spec), registry.build("optimizer", spec)
    for _ in range(5):
        for g in flat.grads.values():
            g[...] = rng.standard_normal(g.size).astype(np.float32)
        for key, g in named.grads.items():
            g[...] = flat.grads[key]
        opt_flat.step(flat.params, flat.grads, 0.01)
        opt_named.step(named.named_params(), named.named_grads(), 0.01)
    before = net()
    for key, p in flat.named_params().items():
        np.testing.assert_allclose(named.named_params()[key], p, rtol=1e-5, atol=1e-6)
        assert not np.array_equal(p, before.named_params()[key])
