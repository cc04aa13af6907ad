import json
import math
from pathlib import Path

import pytest

from nnlab import registry
from nnlab.components.schedules import build_schedule
from nnlab.config import parse_config
from nnlab.errors import ConfigError, NnlabError


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


# ----- warm-up through the registry, and the rates of every schedule kept bit for bit -----------------------

GOLDEN = json.loads((Path(__file__).parent / "fixtures" / "schedule_lrs.json").read_text())


def _run(schedule):
    """Every step's rate over the golden run, observing its val_loss after each epoch; then the state."""
    steps, lrs = GOLDEN["steps_per_epoch"], []
    for epoch in range(GOLDEN["epochs"]):
        lrs += [schedule.lr(epoch, epoch * steps + b) for b in range(steps)]
        schedule.observe(epoch, {"val_loss": GOLDEN["val_loss"][epoch]})
    return lrs, schedule.state_dict()


@pytest.mark.parametrize("case", GOLDEN["schedules"], ids=lambda c: f"{c['spec']['name']}-{c['spec'].get('warmup', 0)}")
def test_rates_are_those_recorded_before_warmup_became_an_argument(case):
    # recorded from the Warmup wrapper that build_schedule used before: same floats, same checkpoint state
    args = GOLDEN["base_lr"], GOLDEN["epochs"], GOLDEN["steps_per_epoch"]
    assert _run(build_schedule(case["spec"], *args)) == (case["lr"], case["state"])
    built = registry.build("schedule", case["spec"]).bind(*args)
    assert _run(built) == (case["lr"], case["state"])


def test_every_schedule_is_in_the_recorded_run():
    assert {c["spec"]["name"] for c in GOLDEN["schedules"]} == set(registry.names("schedule"))


@pytest.mark.parametrize("name", registry.names("schedule"))
def test_warmup_is_an_argument_of_every_schedule(name):
    assert "warmup" in registry.registry("schedule").arguments(name)
    s = registry.build("schedule", {"name": name, "warmup": 2}).bind(0.1, 10, 5)
    assert s.lr(0, 0) == pytest.approx(0.1 / 10)  # the ramp's first step: (0 + 1) / (2 · 5)
    assert s.lr(0, 4) == pytest.approx(0.1 / 2, rel=0.02)


def test_an_unbound_schedule_says_how_to_bind_it():
    s = registry.build("schedule", {"name": "cosine", "warmup": 2})
    with pytest.raises(NnlabError, match=r"call bind\(base_lr, epochs, steps_per_epoch\) first"):
        s.lr(0, 0)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"name": "step", "warmup": -1}, "warmup must be a whole number of epochs ≥ 0, got -1"),
        ({"name": "cosine", "warmup": 1.5}, "argument 'warmup' must be int, got 1.5"),
        ({"name": "step", "every": 0}, "every must be ≥ 1, got 0"),
    ],
)
def test_bad_schedules_are_refused_with_the_config(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_config("data: {name: xor}\nmodel: {hidden: [2]}", [f"schedule={json.dumps(spec)}"])


def test_components_lists_warmup_as_an_argument_of_schedules(cli):
    r = cli("components", "schedule", "--json")
    rows = json.loads(r.output)
    assert r.exit_code == 0 and {row["name"] for row in rows} == set(registry.names("schedule"))
    assert all("warmup=0" in row["arguments"] for row in rows)
