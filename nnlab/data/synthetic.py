"""Built-in datasets. Each loader is registered by name and called as ``loader(rng, **arguments)``.

The synthetic ones are generated from ``rng`` (spawned from the config's seed), so one seed gives one
dataset. Truth tables (``xor``, ``and``, ``or``) are the whole world of their problem: every split is
the full table (decks 000, 002 train and test on the same four rows).
"""

from __future__ import annotations

import numpy as np

from nnlab.data.core import Dataset
from nnlab.registry import REGISTRIES

DATASETS = REGISTRIES["dataset"]

_TABLE = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)


def _truth_table(name, column, repeat, noise, rng):
    if not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"repeat must be a positive integer, got {repeat!r}")
    X = np.tile(_TABLE, (repeat, 1))
    if noise:
        X = X + rng.normal(0, noise, X.shape)
    y = np.tile(column, repeat)
    return Dataset(X, y, "classification", name, ["x1", "x2"], ["0", "1"], whole_table=True)


@DATASETS.register("xor")
def xor(rng, repeat: int = 1, noise: float = 0.0) -> Dataset:
    """XOR truth table: not linearly separable, needs a hidden layer (decks 000, 002)."""
    return _truth_table("xor", np.array([0, 1, 1, 0]), repeat, noise, rng)


@DATASETS.register("and")
def and_(rng, repeat: int = 1, noise: float = 0.0) -> Dataset:
    """AND truth table: linearly separable, a single perceptron learns it (deck 000)."""
    return _truth_table("and", np.array([0, 0, 0, 1]), repeat, noise, rng)


@DATASETS.register("or")
def or_(rng, repeat: int = 1, noise: float = 0.0) -> Dataset:
    """OR truth table: linearly separable, a single perceptron learns it (deck 000)."""
    return _truth_table("or", np.array([0, 1, 1, 1]), repeat, noise, rng)


def _check_n(n_samples, classes=1):
    if not isinstance(n_samples, int) or isinstance(n_samples, bool) or n_samples < 2 * classes:
        raise ValueError(f"n_samples must be an integer ≥ {2 * classes}, got {n_samples!r}")


def _check_classes(classes) -> int:
    if not isinstance(classes, int) or isinstance(classes, bool) or classes < 2:
        raise ValueError(f"classes must be an integer ≥ 2, got {classes!r}")
    return classes


def _per_class(n, k):
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


@DATASETS.register("blobs")
def blobs(
    rng, n_samples: int = 300, classes: int = 2, features: int = 2, noise: float = 1.0, spread: float = 5.0
) -> Dataset:
    """Gaussian clusters around centres `spread` apart: linearly separable for small noise (deck 000)."""
    _check_n(n_samples, _check_classes(classes))
    angles = 2 * np.pi * np.arange(classes) / classes
    centres = np.zeros((classes, features))
    centres[:, 0] = spread * np.cos(angles)
    if features > 1:
        centres[:, 1] = spread * np.sin(angles)
    Xs, ys = [], []
    for c, n in enumerate(_per_class(n_samples, classes)):
        Xs.append(centres[c] + rng.normal(0, noise, (n, features)))
        ys.append(np.full(n, c))
    return Dataset(
        np.vstack(Xs),
        np.concatenate(ys),
        "classification",
        "blobs",
        [f"x{i + 1}" for i in range(features)],
        [str(c) for c in range(classes)],
    )


@DATASETS.register("moons")
def moons(rng, n_samples: int = 500, noise: float = 0.1) -> Dataset:
    """Two interleaving half circles: not linearly separable."""
    _check_n(n_samples, 2)
    n0, n1 = _per_class(n_samples, 2)
    t0, t1 = rng.uniform(0, np.pi, n0), rng.uniform(0, np.pi, n1)
    X = np.vstack([np.c_[np.cos(t0), np.sin(t0)], np.c_[1 - np.cos(t1), 0.5 - np.sin(t1)]])
    X += rng.normal(0, noise, X.shape)
    y = np.r_[np.zeros(n0, int), np.ones(n1, int)]
    return Dataset(X, y, "classification", "moons", ["x1", "x2"], ["0", "1"])


@DATASETS.register("circles")
def circles(rng, n_samples: int = 500, noise: float = 0.05, factor: float = 0.5) -> Dataset:
    """A small circle inside a large one: not linearly separable."""
    _check_n(n_samples, 2)
    if not 0 < factor < 1:
        raise ValueError(f"factor must be in (0, 1), got {factor}")
    n0, n1 = _per_class(n_samples, 2)
    t0, t1 = rng.uniform(0, 2 * np.pi, n0), rng.uniform(0, 2 * np.pi, n1)
    X = np.vstack([np.c_[np.cos(t0), np.sin(t0)], factor * np.c_[np.cos(t1), np.sin(t1)]])
    X += rng.normal(0, noise, X.shape)
    y = np.r_[np.zeros(n0, int), np.ones(n1, int)]
    return Dataset(X, y, "classification", "circles", ["x1", "x2"], ["outer", "inner"])


@DATASETS.register("spirals")
def spirals(rng, n_samples: int = 600, classes: int = 3, noise: float = 0.1, turns: float = 0.75) -> Dataset:
    """Interleaved spiral arms, one class per arm (the cs231n toy problem)."""
    _check_n(n_samples, _check_classes(classes))
    Xs, ys = [], []
    for c, n in enumerate(_per_class(n_samples, classes)):
        r = np.linspace(0.05, 1, n)
        t = 2 * np.pi * (c / classes + turns * r) + rng.normal(0, noise, n)
        Xs.append(np.c_[r * np.sin(t), r * np.cos(t)])
        ys.append(np.full(n, c))
    return Dataset(
        np.vstack(Xs),
        np.concatenate(ys),
        "classification",
        "spirals",
        ["x1", "x2"],
        [f"arm{c}" for c in range(classes)],
    )


@DATASETS.register("sine")
def sine(rng, n_samples: int = 400, noise: float = 0.05, periods: float = 1.0) -> Dataset:
    """1-D regression: y = sin(x) + noise for x uniform over `periods` periods (deck 000)."""
    _check_n(n_samples)
    x = rng.uniform(-np.pi * periods, np.pi * periods, n_samples)
    y = np.sin(x) + rng.normal(0, noise, n_samples)
    return Dataset(x.reshape(-1, 1), y.reshape(-1, 1), "regression", "sine", ["x"], None)
