"""The config's user errors as a user reads them: one line, the key path, the value, what is allowed."""

from __future__ import annotations

import time

import pytest
import yaml
from pydantic import Field

from nnlab.config import load_yaml, parse_config
from nnlab.config.base import Section
from nnlab.errors import ConfigError

BASE = "data: {name: xor}\nmodel: {hidden: [4]}\n"


def _error(text: str, overrides=()) -> str:
    with pytest.raises(ConfigError) as e:
        parse_config(text, list(overrides), source="c.yaml")
    message = str(e.value)
    assert "\n" not in message
    return message


def test_a_union_is_told_as_one_choice_with_a_did_you_mean():
    assert _error(BASE + "training: {batch_size: fulll}\n") == (
        "training.batch_size: must be an integer or 'full', got 'fulll' — did you mean 'full'? (c.yaml, line 3)"
    )


def test_several_errors_make_one_line_naming_the_others():
    message = _error(BASE + "seed: x\ndtype: f\ntraining: {epochs: y}\n")
    assert message.startswith("seed: must be an integer, got 'x' (c.yaml, line 3)")
    assert message.endswith("; more errors at: dtype, training.epochs")


def test_an_empty_config_is_one_line():
    assert _error("# nothing\n") == (
        "c.yaml: the config is empty; give at least data: {name: ...} and model: {hidden: [...]}"
    )


@pytest.mark.parametrize(
    "text, message",
    [
        (
            BASE + "optimizer: {name: sgd, lr: .inf}\n",
            "optimizer.lr: must be a finite number, got inf (c.yaml, line 3)",
        ),
        (BASE + "training: {epochs: true}\n", "training.epochs: must be an integer, got true (c.yaml, line 3)"),
        ("data: {name: xor}\nmodel: {hidden: [4, true]}\n", "model.hidden[1]: must be an integer, got true"),
        (BASE + "seed: -1\n", "seed: must be ≥ 0, got -1 (c.yaml, line 3)"),
        (BASE + "3: x\n", "config: the key 3 must be a word (a setting's name)"),
    ],
)
def test_wording(text, message):
    assert message in _error(text)


def test_an_int_still_fills_a_float():
    assert parse_config(BASE + "optimizer: {name: sgd, lr: 1}\n").optimizer["lr"] == 1


def test_a_new_field_of_any_section_inherits_the_checks():
    class Extra(Section):
        rate: float = Field(0.5, gt=0)
        steps: int = 1
        flags: dict = {}

    for bad in ({"rate": float("inf")}, {"steps": True}, {"flags": {"x": [float("nan")]}}, {"sterps": 1}):
        with pytest.raises(ValueError):
            Extra.model_validate(bad)
    assert Extra.model_validate({"rate": 1, "steps": 2, "flags": {"on": True}}).rate == 1.0


def test_the_override_that_set_a_bad_value_is_named():
    assert (
        _error(BASE, ["optimizer.lr=.nan"])
        == "optimizer.lr: must be a finite number, got nan (from -o optimizer.lr=.nan)"
    )


@pytest.mark.parametrize(
    "text, problem",
    [
        ("a: 1\nb: 2\na: 3\n", "duplicate key 'a' (lines 1 and 3)"),
        ("x: " + "[" * 3000 + "]" * 3000, "nested more than 100 levels deep"),
        ("a: &a [*a]\n", "an alias inside its own anchor"),
    ],
)
def test_the_yaml_reader_refuses_what_no_config_needs(text, problem):
    with pytest.raises(yaml.YAMLError) as e:
        load_yaml(text)
    assert problem in e.value.problem


def test_an_alias_bomb_is_refused_at_once():
    lines, prev = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"], "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
        prev = name
    start = time.perf_counter()
    with pytest.raises(yaml.YAMLError, match="expands to more than"):
        load_yaml("\n".join(lines))
    assert time.perf_counter() - start < 1.0


def test_aliases_that_repeat_a_little_still_read():
    assert load_yaml("a: &a {lr: 0.1}\nb: *a\nc: {<<: *a, momentum: 0.9}\n")["c"] == {"lr": 0.1, "momentum": 0.9}
