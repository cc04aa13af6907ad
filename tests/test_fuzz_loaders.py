"""Random inputs to every loader: each either succeeds or raises nnlab's own error, never anything else.

Three surfaces a user (or a damaged disk) controls: the YAML of a config, the ``-o key=value`` overrides,
and the metadata of a run's checkpoint (edited, then re-signed so that the checksum does not stop it
first). Hypothesis draws documents that look like configs (real keys, values of every type, at every
depth) and plain text; overrides on the real key paths; metadata with values replaced by random JSON.
Each example runs under a time bound (SIGALRM) and a memory bound (tracemalloc's peak, which numpy
reports to): a hang or a huge allocation is a failure like any other.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import tracemalloc
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnlab
from nnlab.config import dump_yaml, parse_config
from nnlab.errors import NnlabError

SECONDS = 10  # per example
MEGABYTES = 300  # peak Python/numpy allocation per example

#: examples per test: a quick pass by default; .ci/run asks for more (NNLAB_FUZZ_EXAMPLES=200)
EXAMPLES = int(os.environ.get("NNLAB_FUZZ_EXAMPLES", "25"))
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

KEYS = [
    "name", "seed", "dtype", "data", "model", "loss", "optimizer", "schedule", "regularization", "training",
    "hidden", "activation", "output", "initializer", "dropout", "batchnorm", "layers", "lr", "momentum",
    "epochs", "batch_size", "early_stopping", "monitor", "patience", "split", "val", "test", "preprocess",
    "n_samples", "noise", "l1", "l2", "every", "factor", "grad_clip", "tol", "rule", "path", "target",
]  # fmt: skip
NAMES = ["xor", "moons", "iris", "adam", "sgd", "relu", "tanh", "cross_entropy", "mse", "full", "step", ""]

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(NAMES),
    st.text(max_size=12),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=25,
)

BASE = {
    "name": "fuzz",
    "seed": 0,
    "data": {"name": "xor"},
    "model": {"hidden": [3], "activation": "tanh"},
    "training": {"epochs": 1},
}


@contextmanager
def bounded():
    """Fail an example that runs longer than SECONDS or allocates more than MEGABYTES at its peak."""

    def alarm(signum, frame):
        raise TimeoutError(f"an example ran over {SECONDS} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(SECONDS)
    tracemalloc.start()
    try:
        yield
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert peak < MEGABYTES * 2**20, f"peak allocation {peak / 2**20:.0f} MB"


def accepted_or_refused(load):
    """``load()`` succeeds or raises ``NnlabError``; anything else fails the test."""
    with bounded():
        try:
            load()
        except NnlabError as e:
            assert str(e).strip() and "\n" not in str(e).strip(), f"not one line: {e!r}"


def _mutated(tree, path_and_value):
    """``tree`` with the value at a path (a list of keys) replaced; the path is cut where the tree ends."""
    path, value = path_and_value
    if not path or not isinstance(tree, dict):
        return value
    key, rest = path[0], path[1:]
    return {**tree, key: _mutated(tree.get(key), (rest, value))}


PATHS = st.lists(st.sampled_from(KEYS), min_size=1, max_size=3)


@FUZZ
@given(st.one_of(VALUES, st.tuples(PATHS, VALUES).map(lambda pv: _mutated(BASE, pv))))
def test_a_config_document_loads_or_is_refused(document):
    text = dump_yaml(document) if not isinstance(document, str) else document
    accepted_or_refused(lambda: parse_config(text))


@FUZZ
@given(st.text(max_size=200))
def test_any_text_as_a_config_loads_or_is_refused(text):
    accepted_or_refused(lambda: parse_config(text))


YAML_PIECES = ["{", "}", "[", "]", ": ", "- ", "&a ", "*a ", "!!python/object ", "!!binary ", "'", '"', "\n", "  ",
               "\t", "#", "? ", "|\n", ">\n", "<<: *a", "%YAML 1.2\n", "---\n", "...\n", "\ufeff", "1e9", ".inf"]  # fmt: skip


@FUZZ
@given(st.lists(st.sampled_from(YAML_PIECES) | st.sampled_from(KEYS), max_size=40).map("".join))
def test_yaml_syntax_soup_loads_or_is_refused(text):
    accepted_or_refused(lambda: parse_config(text))


OVERRIDE_KEYS = st.lists(st.sampled_from(KEYS) | st.sampled_from(["0", "-1", "99", "", " "]), min_size=0, max_size=4)


@FUZZ
@given(st.lists(st.tuples(OVERRIDE_KEYS.map(".".join), st.text(max_size=20), st.sampled_from(["=", "", "=="])),
                max_size=3))  # fmt: skip
def test_overrides_apply_or_are_refused(overrides):
    items = [f"{key}{sign}{value}" for key, value, sign in overrides]
    accepted_or_refused(lambda: parse_config(dump_yaml(BASE), items))


# ----------------------------------------------------------------------------------------- checkpoints

TINY = {
    "name": "tiny",
    "seed": 0,
    "data": {"name": "moons", "n_samples": 80, "split": {"val": 0.25, "test": 0.25}},
    "model": {"hidden": [3], "activation": "tanh"},
    "optimizer": {"name": "sgd", "lr": 0.1},
    "training": {"epochs": 2, "batch_size": 20},
}

META_KEYS = [
    "epoch", "position", "optimizer.t", "initial_loss", "overfit", "resumes", "wall_seconds", "best", "best.epoch",
    "data.n_features", "data.n_classes", "data.n_outputs", "data.task", "data.class_names", "data.feature_names",
    "data.examples.train", "rng", "rng.shuffle", "rng.shuffle.state", "rng.shuffle.state.state",
    "rng.dropout.bit_generator", "metrics", "config", "config.model.hidden", "config.training.epochs",
    "config.data.name", "early_stopping", "nnlab_version",
]  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return nnlab.train(TINY, runs_dir=tmp_path_factory.mktemp("fuzz-run"), handle_signals=False).run_dir


def _edit_meta(meta: dict, changes: dict) -> None:
    """Set dotted keys of the metadata where their parents exist (a random edit, not a planned one)."""
    for key, value in changes.items():
        *parents, last = key.split(".")
        node = meta
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node[last] = value


@pytest.mark.filterwarnings("ignore:the run was trained by:UserWarning")  # an edited nnlab_version: the answer
@settings(FUZZ, max_examples=max(EXAMPLES // 2, 5))
@given(st.dictionaries(st.sampled_from(META_KEYS), JSON, min_size=1, max_size=3))
def test_edited_checkpoint_metadata_loads_or_is_refused(trained, tmp_path_factory, resign_checkpoint, changes):
    run = tmp_path_factory.mktemp("edited") / "run"
    shutil.copytree(trained, run)
    for name in ("last", "best"):
        resign_checkpoint(run / "checkpoints" / f"{name}.safetensors", lambda meta: _edit_meta(meta, changes))
    accepted_or_refused(lambda: nnlab.load_run(run, "last").predict([[0.0, 0.0]]))
    accepted_or_refused(lambda: nnlab.load_run(run, "best"))
    accepted_or_refused(lambda: nnlab.resume(run, epochs=3, handle_signals=False))


def test_the_bounds_catch_a_hang_and_a_huge_allocation():
    """The harness itself: a slow example and a big one fail, they are not let through."""
    import numpy as np

    with pytest.raises(AssertionError, match="peak allocation"):
        with bounded():
            np.ones((MEGABYTES + 50) * 2**17)  # 8-byte floats
    with pytest.raises(TimeoutError):
        with bounded():
            signal.alarm(1)
            while True:
                math.sqrt(2.0)
