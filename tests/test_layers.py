"""Layers and the network: gradients of every registered layer against finite differences, dropout's
expectation, batch norm's statistics."""

from pathlib import Path

import numpy as np
import pytest

from nnlab import registry
from nnlab.network import Network
from tests.conftest import numerical_grad, rel_error

LAYER_ARGS = {
    "dense": {"units": 3},
    "activation": {"activation": "tanh"},
    "dropout": {"rate": 0.3},
    "batchnorm": {},
    "prelu": {"alpha": 0.2},
    "maxout": {"units": 3, "pieces": 2},
}


def _net(name, rng, n_in=4):
    layers = [
        registry.build("layer", {"name": "dense", "units": 5}),
        registry.build("layer", {"name": name, **LAYER_ARGS[name]}),
        registry.build("layer", {"name": "dense", "units": 2}),
    ]
    return Network(layers, n_in, np.float64, rng, np.random.default_rng(7))


def test_every_layer_has_gradient_arguments():
    assert set(registry.names("layer")) <= set(LAYER_ARGS)


@pytest.mark.parametrize("name", sorted(LAYER_ARGS))
def test_layer_gradients_match_finite_differences(name, rng):
    net = _net(name, rng)
    for la in net.layers:
        if hasattr(la, "freeze_mask"):
            la.freeze_mask = True  # the same dropout mask in every pass
    x = rng.normal(size=(6, 4))
    target = rng.normal(size=(6, 2))
    loss = registry.build("loss", "sse")
    net.layers[0].need_input_grad = True

    def J():
        return loss.value(net.forward(x, training=True), target)

    J()  # draw the dropout mask once
    value, grad = loss.value_and_grad(net.forward(x, training=True), target)
    dx = net.backward(grad).copy()
    analytic = {k: g.copy() for k, g in net.named_grads().items()}
    for key, p in net.named_params().items():
        numerical = numerical_grad(J, p)
        # a gradient zero in theory (a bias before batch norm) is round-off on both sides: compared absolutely
        assert rel_error(analytic[key], numerical) < 1e-6 or np.abs(analytic[key] - numerical).max() < 1e-9, key
    assert rel_error(dx, numerical_grad(J, x)) < 1e-6


def test_params_are_views_into_two_flat_buffers(rng):
    net = _net("batchnorm", rng)
    assert set(net.params) == {"weights", "others"}
    assert net.params["weights"].size == 4 * 5 + 5 * 2
    net.params["weights"][:] = 0
    assert np.all(net.layers[0].params["W"] == 0)
    assert net.named_params()["layers.1.gamma"].base is net.params["others"]


def test_dropout_keeps_the_expected_activation(rng):
    drop = registry.build("layer", {"name": "dropout", "rate": 0.4})
    drop.build(1000, np.float64)
    drop.rng = np.random.default_rng(0)
    x = np.ones((200, 1000))
    y = drop.forward(x, training=True)
    assert y.mean() == pytest.approx(1.0, abs=0.01)
    assert set(np.unique(y)) == {0.0, 1 / 0.6}
    assert drop.forward(x, training=False) is x


def _state(rng):
    state = rng.bit_generator.state
    return state if state["has_uint32"] else {**state, "uinteger": None}  # a half not held is never read


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rate", [0.35, 0.5, 0.1, 0.999, 1 - 2.0**-30])
def test_dropout_masks_are_the_bits_of_uniform_numbers_floored_after_adding_keep(dtype, rate):
    # the deck's mask, drawn the plain way from a twin generator: odd sizes (a half left held for the next
    # float32 draw), a batch larger than one chunk of raw numbers, the last smaller batch
    drop = registry.build("layer", {"name": "dropout", "rate": rate})
    drop.build(9, dtype)
    drop.rng, twin = np.random.default_rng(3), np.random.default_rng(3)
    keep, kept, seen = 1.0 - rate, 0, 0
    for shape in [(3, 5), (128, 9), (7, 9), (1001, 9), (4, 9), (1, 1), (0, 9)]:
        x = np.arange(np.prod(shape), dtype=dtype).reshape(shape) + 1
        y = drop.forward(x, training=True)
        u = twin.random(shape, dtype=dtype)
        mask = np.floor(u + dtype(keep)) * dtype(1.0 / keep)
        assert y.dtype == dtype
        np.testing.assert_array_equal(y.view(np.uint8), (x * mask).view(np.uint8))
        assert _state(drop.rng) == _state(twin), shape
        kept, seen = kept + np.count_nonzero(y), seen + y.size
    assert kept / seen == pytest.approx(keep, abs=0.02)  # 10 000 numbers: the rate within 4.5 σ


def _drawing(word: int) -> np.random.Generator:
    """A PCG64 generator whose next 64-bit number is ``word``: PCG64 steps its 128-bit LCG state, then
    outputs (high 64 bits XOR low 64 bits) rotated right by the state's top 6 bits (0 here, high bits 0)."""
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    inc, multiplier = state["state"]["inc"], 0x2360ED051FC65DA44385DF649FCCF645
    state["state"]["state"] = (word - inc) * pow(multiplier, -1, 1 << 128) % (1 << 128)
    rng.bit_generator.state = state
    return rng


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rate", [0.35, 0.5, 0.1, 0.7])
def test_dropout_keeps_exactly_the_numbers_whose_uniform_rounds_up_past_one(dtype, rate):
    # the numbers next to the edge, where floor(u + keep) turns from 0 to 1 in the dtype's rounding: the
    # layer's mask against the plain formula on a twin generator, number by number
    drop = registry.build("layer", {"name": "dropout", "rate": rate})
    drop.build(2, dtype)
    bits, shift = (24, 8) if dtype == np.float32 else (53, 11)
    edge = round(rate * 2**bits)  # u = j·2⁻ᵇⁱᵗˢ: about here u + keep reaches 1
    outcomes = set()
    for j in range(edge - 3, edge + 4):
        r = j << shift
        word = r | (r + (1 << shift) - 1) << 32 if dtype == np.float32 else r  # float32: two numbers a word
        drop.rng, twin = _drawing(word), _drawing(word)
        y = drop.forward(np.ones((1, 2 if dtype == np.float32 else 1), dtype), training=True)
        expected = np.floor(twin.random(y.shape, dtype=dtype) + dtype(1 - rate)) * dtype(1 / (1 - rate))
        np.testing.assert_array_equal(y, expected)
        outcomes.update(expected.ravel().tolist())
    assert outcomes == {0.0, dtype(1 / (1 - rate))}  # the edge lies inside the numbers tried


def test_batchnorm_train_statistics_and_eval_running_averages(rng):
    bn = registry.build("layer", {"name": "batchnorm", "momentum": 0.0})
    n = bn.build(3, np.float64)
    Network([bn], n, np.float64)  # allocates γ = 1, β = 0
    x = rng.normal(5, 3, (500, 3))
    y = bn.forward(x, training=True)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(y.var(axis=0), 1, atol=1e-3)
    # momentum 0: the running statistics are this batch's; eval mode uses them for new data
    np.testing.assert_allclose(bn.buffers["running_mean"], x.mean(axis=0))
    x2 = rng.normal(0, 1, (4, 3))
    expected = (x2 - x.mean(axis=0)) / np.sqrt(x.var(axis=0, ddof=1) + 1e-5)
    np.testing.assert_allclose(bn.forward(x2, training=False), expected, rtol=1e-10)


def test_dense_forward_is_xw_plus_b():
    dense = registry.build("layer", {"name": "dense", "units": 2})
    net = Network([dense], 3, np.float64)
    dense.params["W"][...] = [[1, 2], [3, 4], [5, 6]]
    dense.params["b"][...] = [0.5, -0.5]
    np.testing.assert_allclose(net.forward(np.array([[1.0, 0.0, 1.0]])), [[6.5, 7.5]])


def test_a_bias_before_batch_norm_stays_where_it_was_initialised(tmp_path):
    """BN(XW + b) = BN(XW) while training, so ∂J/∂b = 0: Adam must not turn round-off into steps of lr."""
    import nnlab

    config = Path(__file__).parent.parent / "configs" / "moons.yaml"
    overrides = ["model.batchnorm=true", "training.epochs=3", "optimizer={name: adam, lr: 0.01}"]
    run = nnlab.train(config, runs_dir=tmp_path, overrides=overrides, handle_signals=False).run_dir
    net = nnlab.load_run(run, checkpoint="last").net
    before_bn = [la for la, nxt in zip(net.layers, net.layers[1:]) if type(nxt).__name__ == "BatchNorm"]
    assert len(before_bn) == 2 and all(np.all(la.params["b"] == 0) for la in before_bn)
    assert np.any(net.layers[-2].params["b"] != 0)  # the output layer's bias, with no batch norm after it, learns
