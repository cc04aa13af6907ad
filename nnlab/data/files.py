"""Users' own data: ``csv`` (any CSV file, read with pandas) and ``npz`` (NumPy arrays ``X``, ``y``).

Both infer the task from the target — text, booleans or integers with at most ``max_classes`` distinct
values are a classification, anything else numeric a regression — and ``task:`` overrides it. Class labels
are mapped to indices 0…K−1 in sorted order, and the original labels, as strings in that order, become the
dataset's ``class_names``: they travel in every checkpoint so that eval and predict report them.

Missing values (``missing``): ``error`` refuses them, ``drop`` leaves their rows out, ``mean`` fills a feature
with its train split's mean. A feature column with no value at all (or none in the train split) is refused
under ``drop`` and ``mean`` alike, naming it: it has no mean to fill with, and filling it with 0 would be a
column the network learns nothing true from; leave it out with ``drop: [column]``.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path
from typing import Literal

import numpy as np

from nnlab.data.core import Dataset
from nnlab.errors import DataError, did_you_mean
from nnlab.registry import REGISTRIES

DATASETS = REGISTRIES["dataset"]

Task = Literal["classification", "regression"]


def resolve_path(path: str, what: str = "file") -> Path:
    """``path`` with ``~`` and ``$VARS`` expanded, relative to the current directory; an error that says
    where it looked when there is nothing there."""
    given = Path(os.path.expandvars(os.path.expanduser(path)))
    full = given if given.is_absolute() else Path.cwd() / given
    if not full.exists():
        raise DataError(f"data.path: {what} '{path}' not found (looked for {full})")
    if full.is_dir():
        raise DataError(f"data.path: '{path}' is a folder ({full}), not a {what}")
    return full


# ----- targets: the task, and class labels as indices ------------------------------------------


def infer_task(values: np.ndarray, task: str | None, max_classes: int, source: str, what: str) -> str:
    """The task the target ``values`` stand for (``task`` when given, after checking that it fits)."""
    kind = values.dtype.kind
    text = kind in "OUS"
    if task == "regression" and (text or kind == "b"):
        example = next((v for v in values.ravel() if isinstance(v, str)), values.ravel()[0])
        raise DataError(
            f"'{source}': {what} holds {'text' if text else 'booleans'} (e.g. {example!r}) and cannot be a "
            "regression target; use task: classification"
        )
    if task is not None:
        return task
    if text or kind == "b":
        n = len(np.unique(values))
        if n > max_classes:
            raise DataError(
                f"'{source}': {what} holds text with {n} distinct values, more than max_classes ({max_classes}); "
                "set task: classification to use it as class labels anyway (or raise max_classes)"
            )
        return "classification"
    if kind in "iu" and values.ndim == 1 and len(np.unique(values)) <= max_classes:
        return "classification"
    return "regression"


def encode_classes(arrays: list[np.ndarray]) -> tuple[list[np.ndarray], list[str]]:
    """Class labels → indices into their sorted distinct values (shared by every array: train and test),
    and those values as strings, in index order."""
    classes = np.unique(np.concatenate([np.asarray(a).ravel() for a in arrays]))
    indices = [np.searchsorted(classes, np.asarray(a).ravel()).astype(np.int64) for a in arrays]
    return indices, [_label(c) for c in classes]


def _label(value) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))  # integer labels read as floats (a column with blanks) keep their spelling
    return str(value.item() if isinstance(value, np.generic) else value)


# ----- csv -------------------------------------------------------------------------------------


@DATASETS.register("csv")
def csv_file(
    rng,
    path: str,
    target: str,
    features: list[str] | None = None,
    drop: list[str] | None = None,
    task: Task | None = None,
    missing: Literal["error", "drop", "mean"] = "error",
    sep: str = ",",
    max_classes: int = 20,
) -> Dataset:
    """Any CSV file, read with pandas: the `target` column, and the other (or the listed) numeric columns as features."""
    import pandas as pd

    if features is not None and drop is not None:
        raise ValueError("give features (the columns to use) or drop (the columns to leave out), not both")
    for name, value in (("features", features), ("drop", drop)):
        if value is not None and (not isinstance(value, list) or not all(isinstance(c, str) for c in value)):
            raise ValueError(f"{name} must be a list of column names, got {value!r}")
    full = resolve_path(path, "CSV file")
    try:
        df = pd.read_csv(full, sep=sep)
    except pd.errors.EmptyDataError:
        raise DataError(
            f"'{path}' is empty: a CSV file needs a header line of column names, then one row per example"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise DataError(f"'{path}' is not a readable CSV file: {e}") from None
    except OSError as e:
        raise DataError(f"cannot read '{path}': {e.strerror or e}") from None
    if len(df) == 0:
        raise DataError(f"'{path}' has a header line but no rows of data")
    columns = [str(c) for c in df.columns]
    df.columns = columns
    _check_separator(path, columns, target, sep)
    names = _feature_columns(path, columns, target, features, drop)
    for c in names:
        _check_numeric(path, df[c], c)
    if features is None:  # columns the user listed are features by choice
        _warn_id_columns(path, df, names, drop)
    target_had_blanks = bool(df[target].isna().any())
    df, dropped = _handle_missing(path, df, target, names, missing)
    values = df[target].to_numpy()
    if values.dtype.kind == "f" and target_had_blanks and np.all(np.mod(values, 1) == 0):
        values = values.astype(np.int64)  # an integer column that pandas read as float because of blanks
    task = infer_task(values, task, max_classes, path, f"target column '{target}'")
    class_names = None
    if task == "classification":
        (y,), class_names = encode_classes([values])
    else:
        y = values.astype(np.float64)
    X = df[names].to_numpy(dtype=np.float64)
    infinite = np.isinf(X).any(axis=0)
    if infinite.any() or (task == "regression" and np.isinf(y).any()):
        column = names[int(np.argmax(infinite))] if infinite.any() else target
        raise DataError(f"'{path}': column '{column}' holds an infinite value; nnlab needs finite numbers")
    info = {"source": str(full), "rows_dropped": dropped} if dropped else {"source": str(full)}
    return Dataset(X, y, task, "csv", names, class_names, impute=missing == "mean", info=info)


def _check_separator(path, columns, target, sep) -> None:
    """A header read as one column (``a;b;y``) means another separator: say which."""
    if len(columns) == 1 and target not in columns:
        other = next((f" (it holds {s!r}: set sep: {s!r})" for s in (";", "\t", "|", " ") if s in columns[0]), "")
        raise DataError(
            f"'{path}': the header line reads as one column{other}; a CSV file separates its columns with "
            f"'{sep}' (data.sep)"
        )


def _feature_columns(path, columns, target, features, drop) -> list[str]:
    def check(name, what):
        if name not in columns:
            raise DataError(
                f"'{path}' has no column '{name}'{did_you_mean(name, columns)} ({what}; columns: {', '.join(columns)})"
            )

    check(target, "the target")
    for c in features or []:
        check(c, "listed in features")
    for c in drop or []:
        check(c, "listed in drop")
    if features is not None:
        if target in features:
            raise DataError(f"data.features: '{target}' is the target column and cannot also be a feature")
        names = list(features)
    else:
        names = [c for c in columns if c != target and c not in (drop or [])]
    if not names:
        raise DataError(
            f"'{path}': no feature columns left beside the target '{target}' (columns: {', '.join(columns)})"
        )
    return names


def _check_numeric(path, col, name) -> None:
    import pandas as pd

    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return
    numbers = pd.to_numeric(col, errors="coerce")
    bad = numbers.isna() & col.notna()
    row = int(np.flatnonzero(bad.to_numpy())[0]) if bad.any() else 0
    raise DataError(
        f"'{path}': feature column '{name}' is not numeric (data row {row + 1} holds {col.iloc[row]!r}); "
        f"leave it out (drop: [{name}]), list the columns to use (features: [...]) or encode it as numbers"
    )


class IdColumnWarning(UserWarning):
    """A feature column that looks like a row id (distinct whole numbers in order)."""


#: fewer rows than this never make a column look like an id (a short file counts 1, 2, 3 by chance)
ID_MIN_ROWS = 20


def _warn_id_columns(path, df, names, drop) -> None:
    """Warn about each feature column whose values are distinct whole numbers in increasing (or decreasing)
    order, as row ids are: a network cannot learn anything that carries over to new rows from them."""
    for c in names:
        col = df[c]
        if len(col) < ID_MIN_ROWS or col.dtype.kind not in "iuf":
            continue
        values = col.to_numpy()
        if values.dtype.kind == "f" and not (np.isfinite(values).all() and np.all(np.mod(values, 1) == 0)):
            continue
        step = np.diff(values)
        if not ((step > 0).all() or (step < 0).all()):
            continue
        listed = ", ".join([*(drop or []), c])
        warnings.warn(
            f"'{path}': feature column '{c}' looks like a row id (distinct whole numbers in order, "
            f"{_label(values[0])} to {_label(values[-1])}); if it is one, leave it out with drop: [{listed}] "
            "(nnlab predict then copies it beside the predictions)",
            IdColumnWarning,
            stacklevel=2,
        )


def _handle_missing(path, df, target, names, missing):
    """Apply the ``missing`` policy; returns the frame and how many rows were dropped."""
    cols = [target, *names]
    absent = df[cols].isna()
    if not absent.to_numpy().any():
        return df, 0
    per_col = absent.sum()
    empty = [c for c in names if per_col[c] == len(df)]
    if empty and missing != "error":
        listed = ", ".join(empty)
        raise DataError(
            f"'{path}': column(s) {listed} hold no value at all, so missing: {missing} has nothing to "
            f"{'fill them with' if missing == 'mean' else 'keep'}; leave them out (drop: [{listed}])"
        )
    where = ", ".join(f"'{c}' ({int(n)})" for c, n in per_col.items() if n)
    first = int(np.flatnonzero(absent.any(axis=1).to_numpy())[0]) + 1
    if missing == "error":
        raise DataError(
            f"'{path}': {int(per_col.sum())} missing value(s) in column(s) {where}, the first in data row {first}; "
            "set data.missing: drop (leave those rows out) or mean (fill features with the train split's column means)"
        )
    rows = absent.any(axis=1) if missing == "drop" else absent[target]
    kept = df[~rows.to_numpy()]
    if len(kept) == 0:
        raise DataError(f"'{path}': every row has a missing value (missing: {missing} leaves no data)")
    return kept, int(rows.sum())


# ----- npz -------------------------------------------------------------------------------------


@DATASETS.register("npz")
def npz(rng, path: str, task: Task | None = None, max_classes: int = 20) -> Dataset:
    """NumPy arrays in an .npz file: X and y; optional X_test, y_test (the test split), feature_names, class_names."""
    full = resolve_path(path, "npz file")
    try:
        archive = np.load(full, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"'{path}' is not a readable .npz file: {e}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"'{path}' holds a single array, not an .npz archive of X and y (save one with np.savez)")
    with archive:
        keys = list(archive.files)
        for key in ("X", "y"):
            if key not in keys:
                raise DataError(
                    f"'{path}' has no array '{key}' (arrays: {', '.join(keys) or 'none'}); an npz dataset holds X "
                    "and y, and optionally X_test and y_test"
                )
        if ("X_test" in keys) != ("y_test" in keys):
            raise DataError(f"'{path}': X_test and y_test come together, the file holds only one of them")
        arrays = {k: _array(archive, k, path) for k in ("X", "y", "X_test", "y_test") if k in keys}
        feature_names = _names(archive, "feature_names", path) if "feature_names" in keys else None
        class_names = _names(archive, "class_names", path) if "class_names" in keys else None
    X, y = _features(arrays["X"], path, "X"), _column(arrays["y"])
    X_test = _features(arrays["X_test"], path, "X_test") if "X_test" in arrays else None
    y_test = _column(arrays["y_test"]) if "y_test" in arrays else None
    for Xa, ya, xs, ys in ((X, y, "X", "y"), (X_test, y_test, "X_test", "y_test")):
        if Xa is not None and len(Xa) != len(ya):
            raise DataError(f"'{path}': {xs} has {len(Xa)} rows but {ys} has {len(ya)}")
    if X_test is not None and X_test.shape[1:] != X.shape[1:]:
        raise DataError(f"'{path}': X_test has {X_test.shape[1]} features, X has {X.shape[1]}")
    if feature_names is not None and len(feature_names) != X.shape[1]:
        raise DataError(f"'{path}': feature_names has {len(feature_names)} names for {X.shape[1]} features")
    task = infer_task(y, task, max(max_classes, len(class_names or [])), path, "array 'y'")
    if task == "classification":
        y, y_test, class_names = _classes(path, y, y_test, class_names)
    else:
        y = y.astype(np.float64)
        y_test = None if y_test is None else y_test.astype(np.float64)
    return Dataset(X, y, task, "npz", feature_names, class_names, X_test, y_test, info={"source": str(full)})


def _array(archive, key, path) -> np.ndarray:
    try:
        arr = archive[key]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"'{path}': array '{key}' cannot be read: {e}") from None
    if arr.ndim == 0 or len(arr) == 0:
        raise DataError(f"'{path}': array '{key}' is empty")
    return arr


def _column(y: np.ndarray) -> np.ndarray:
    """Targets saved as a column (n, 1) are one target per row."""
    return y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y


def _names(archive, key, path) -> list[str]:
    return [str(v) for v in _array(archive, key, path).ravel()]


def _features(X: np.ndarray, path, key) -> np.ndarray:
    if X.dtype.kind not in "biuf":
        raise DataError(f"'{path}': array '{key}' must hold numbers, it holds {X.dtype}")
    X = X.reshape(len(X), -1)  # images (n, h, w) become rows of h·w pixels
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        raise DataError(f"'{path}': array '{key}' holds NaN or infinite values")
    return X


def _classes(path, y, y_test, class_names):
    if y.ndim > 1 and y.shape[1:] != (1,):
        raise DataError(f"'{path}': class labels 'y' must be one per row, got shape {y.shape}")
    y = y.ravel()
    y_test = None if y_test is None else y_test.ravel()
    both = [y] if y_test is None else [y, y_test]
    if class_names is not None:
        # labels are indices into the names the file gives
        if y.dtype.kind not in "iu" or any(a.min() < 0 or a.max() >= len(class_names) for a in both):
            raise DataError(
                f"'{path}': with class_names ({len(class_names)} of them), y must hold indices 0…{len(class_names) - 1}"
            )
        return y.astype(np.int64), None if y_test is None else y_test.astype(np.int64), class_names
    encoded, names = encode_classes(both)
    return encoded[0], encoded[1] if y_test is not None else None, names
