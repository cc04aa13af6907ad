import numpy as np
import pytest

from nnlab import registry
from nnlab.config import parse_config
from nnlab.data.core import load_splits
from nnlab.data.preprocess import build_preprocessor
from nnlab.errors import ConfigError


@pytest.mark.parametrize("name, rows", [("xor", [0, 1, 1, 0]), ("and", [0, 0, 0, 1]), ("or", [0, 1, 1, 1])])
def test_truth_tables(name, rows):
    ds = registry.build("dataset", name, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(ds.X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(ds.y, rows)


@pytest.mark.parametrize("name", ["blobs", "moons", "circles", "spirals", "sine"])
def test_synthetic_datasets_are_seeded(name):
    a = registry.build("dataset", name, rng=np.random.default_rng(3))
    b = registry.build("dataset", name, rng=np.random.default_rng(3))
    c = registry.build("dataset", name, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)


def test_spirals_have_one_class_per_arm():
    ds = registry.build("dataset", {"name": "spirals", "classes": 4, "n_samples": 400}, rng=np.random.default_rng(0))
    assert ds.n_classes == 4 and np.bincount(ds.y).tolist() == [100] * 4


def test_split_is_stratified_and_disjoint():
    cfg = parse_config(
        "data: {name: blobs, n_samples: 300, classes: 3, split: {val: 0.2, test: 0.1}}\nmodel: {hidden: []}"
    )
    s, _ = load_splits(cfg.data, 0, np.float64)
    assert (len(s.X_train), len(s.X_val), len(s.X_test)) == (210, 60, 30)
    assert np.bincount(s.y_val).tolist() == [20, 20, 20]
    assert np.bincount(s.y_test).tolist() == [10, 10, 10]
    rows = {tuple(r) for r in np.vstack([s.X_train, s.X_val, s.X_test]).round(8)}
    assert len(rows) == 300


def test_split_seed_is_independent_of_the_model_seed():
    cfg = parse_config("data: {name: moons, split: {val: 0.2, seed: 5}}\nmodel: {hidden: []}")
    a, _ = load_splits(cfg.data, 0, np.float64)
    b, _ = load_splits(cfg.data, 0, np.float64)
    np.testing.assert_array_equal(a.X_val, b.X_val)


def test_standardize_uses_train_statistics_only():
    cfg = parse_config(
        "data: {name: sine, n_samples: 400, split: {val: 0.25, test: 0.25}, preprocess: standardize}"
        "\nmodel: {hidden: [4]}"
    )
    s, pre = load_splits(cfg.data, 0, np.float64)
    np.testing.assert_allclose(s.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(s.X_train.std(axis=0), 1, atol=1e-12)
    # the held-out splits are transformed with the train statistics, so they are not exactly standard
    assert abs(s.X_val.mean()) > 1e-6
    raw = registry.build(
        "dataset", {"name": "sine", "n_samples": 400}, rng=np.random.default_rng(np.random.SeedSequence(0).spawn(5)[0])
    )
    assert pre.shift[0] != pytest.approx(raw.X.mean(), abs=1e-12)


@pytest.mark.parametrize("method", ["none", "center", "standardize", "minmax", {"name": "scale", "factor": 255}])
def test_preprocessing_methods(method, rng):
    X = rng.uniform(0, 255, (50, 3))
    out = build_preprocessor(method).fit(X).transform(X, np.float64)
    if method == "center":
        np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-9)
    elif method == "minmax":
        np.testing.assert_allclose(out.min(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(out.max(axis=0), 1)
    elif isinstance(method, dict):
        np.testing.assert_allclose(out, X / 255)
    elif method == "none":
        np.testing.assert_array_equal(out, X)


def test_bad_preprocess_is_a_config_error():
    with pytest.raises(ConfigError, match="needs a factor"):
        build_preprocessor("scale")
