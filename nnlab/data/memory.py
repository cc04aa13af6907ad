"""Data handed over as arrays in memory rather than named in a config: ``fit(X, y)`` of the scikit-learn
estimators (``nnlab.sklearn``), or ``Experiment.from_config(config, dataset=from_arrays(X, y, task))``.

The config of such a run names the dataset ``arrays``: it records where the data came from, and a config
file that names it cannot load them again (there is nothing on disk to read), which says so."""

from __future__ import annotations

import numpy as np

from nnlab.data.core import Dataset
from nnlab.errors import DataError
from nnlab.registry import REGISTRIES

DATASETS = REGISTRIES["dataset"]


@DATASETS.register("arrays")
def arrays(rng) -> Dataset:
    """Arrays given from Python (nnlab.sklearn's fit(X, y)); not loadable from a config file."""
    raise DataError(
        "data.name: 'arrays' are data handed over in memory from Python (fit(X, y) of nnlab.sklearn); a "
        "config cannot load them again: name a dataset, a csv or an npz file instead"
    )


def from_arrays(X, y, task: str, feature_names=None, class_names=None) -> Dataset:
    """A ``Dataset`` of features ``X`` (n, d) and targets ``y``: class indices 0…K−1 (classification; the
    labels in ``class_names``), or values (n,) or (n, k) (regression). The arrays are used as they are."""
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2 or len(X) == 0:
        raise DataError(f"data: X must be a 2-D array with one example per row, got shape {X.shape}")
    if len(y) != len(X):
        raise DataError(f"data: X has {len(X)} rows but y has {len(y)}")
    if task not in ("classification", "regression"):
        raise DataError(f"data: task must be classification or regression, got {task!r}")
    names = None if feature_names is None else [str(n) for n in feature_names]
    labels = None if class_names is None else [str(c) for c in class_names]
    return Dataset(X, y, task, name="arrays", feature_names=names, class_names=labels)
