import math

import pytest

from nnlab.components.schedules import build_schedule


def test_step_decay_deck_002():
    s = build_schedule({"name": "step", "every": 10, "factor": 0.5}, 0.1, 50, 4)
    assert [s.lr(e, 0) for e in (0, 9, 10, 25)] == pytest.approx([0.1, 0.1, 0.05, 0.025])


def test_exponential_and_inverse_time_deck_002():
    e = build_schedule({"name": "exponential", "k": 0.2}, 0.1, 10, 1)
    assert e.lr(3, 0) == pytest.approx(0.1 * math.exp(-0.6))
    t = build_schedule({"name": "inverse_time", "k": 0.5}, 0.1, 10, 1)
    assert t.lr(4, 0) == pytest.approx(0.1 / 3)


def test_cosine_ends_at_min_lr():
    c = build_schedule({"name": "cosine", "min_lr": 0.001}, 0.1, 10, 5)
    assert c.lr(0, 0) == pytest.approx(0.1)
    assert c.lr(9, 50) == pytest.approx(0.001)
    assert c.lr(5, 25) == pytest.approx(0.001 + 0.5 * 0.099)


def test_warmup_ramps_linearly_then_follows_the_schedule():
    w = build_schedule({"name": "constant", "warmup": 2}, 0.1, 10, 5)
    assert w.lr(0, 0) == pytest.approx(0.01)
    assert w.lr(0, 4) == pytest.approx(0.05)
    assert w.lr(2, 10) == pytest.approx(0.1)


def test_reduce_on_plateau_halves_after_patience():
    r = build_schedule({"name": "reduce_on_plateau", "patience": 2, "factor": 0.5}, 0.1, 10, 1)
    for epoch, loss in enumerate([1.0, 0.9, 0.95, 0.95]):
        r.observe(epoch, {"val_loss": loss})
    assert r.lr(4, 0) == pytest.approx(0.05)
    state = r.state_dict()
    r2 = build_schedule({"name": "reduce_on_plateau", "patience": 2, "factor": 0.5}, 0.1, 10, 1)
    r2.load_state_dict(state)
    assert r2.lr(4, 0) == pytest.approx(0.05)
