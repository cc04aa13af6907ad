"""Tables in and out of a trained model: the features of a CSV file or DataFrame, matched to the columns the
run was trained with, and the predictions as a DataFrame (``nnlab predict``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnlab.errors import DataError


def read_csv(path: str | Path):
    """A CSV file as a DataFrame of strings-or-numbers; a file whose first line is all numbers has no header
    (its columns are then matched by position)."""
    import pandas as pd

    path = Path(path)
    if not path.exists() or path.is_dir():
        raise DataError(
            f"input file '{path}' not found" if not path.exists() else f"'{path}' is a folder, not a CSV file"
        )
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
        if len(frame.columns) and all(_is_number(c) for c in frame.columns):
            frame = pd.read_csv(path, dtype=str, header=None, keep_default_na=False, skipinitialspace=True)
            frame.attrs["header"] = False
        frame.attrs["first_line"] = 2 if frame.attrs.get("header", True) else 1
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DataError(f"cannot read '{path}' as CSV: {str(e).strip()}") from None
    if frame.empty:
        raise DataError(f"'{path}' has no rows to predict")
    return frame


def _is_number(text) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def features_from_frame(frame, model) -> tuple[np.ndarray, list[str]]:
    """The run's feature columns of ``frame`` as a float64 matrix, and notes on how they were matched.

    Columns are matched by the names the run was trained with (in any order); a table whose columns carry
    none of those names is read by position. A missing, unexpected or non-numeric column is an error that
    names it; the run's target column, if present, is left aside."""
    names = model.feature_names or []
    cols = [str(c) for c in frame.columns]
    header = frame.attrs.get("header", True)
    target = _target_name(model)
    notes = []
    if header and names and any(c in names for c in cols):
        missing = [n for n in names if n not in cols]
        if missing:
            raise DataError(f"missing column(s) {_list(missing)}: the run was trained on the features {_list(names)}")
        extra = [c for c in cols if c not in names and c != target]
        if extra:
            raise DataError(
                f"unexpected column(s) {_list(extra)}: the run was trained on the features {_list(names)} "
                "only; remove the other columns"
            )
        if target in cols:
            notes.append(f"column '{target}' (the run's target) left aside")
        used = [frame.columns[cols.index(n)] for n in names]
    else:
        if len(cols) != model.n_features:
            named = f" ({_list(names)})" if names else ""
            raise DataError(
                f"expected {model.n_features} feature column(s){named}, found {len(cols)}"
                + (f": {_list(cols)}" if header else " (a file without a header row is matched by position)")
            )
        used = list(frame.columns)
        if names:
            how = ", ".join(f"{c}→{n}" for c, n in zip(cols, names)) if header else "no header row"
            notes.append(f"columns matched by position ({how})")
    first_line = frame.attrs.get("first_line")
    X = np.empty((len(frame), len(used)), dtype=np.float64)
    for j, col in enumerate(used):
        X[:, j] = _numeric(frame[col], f"'{col}'" if header else f"#{j + 1}", first_line)
    return X, notes


def _numeric(column, name: str, first_line: int | None) -> np.ndarray:
    import pandas as pd

    def row(i):
        return f"row {i + 1}" + (f", line {i + first_line} of the file" if first_line else "")

    if pd.api.types.is_numeric_dtype(column):
        out = column.to_numpy(dtype=np.float64)
    else:
        text = column.astype(str).str.strip()
        empty = text.eq("") | text.str.lower().isin(("nan", "na", "n/a", "null", "none"))
        if empty.any():
            i = int(np.flatnonzero(empty.to_numpy())[0])
            raise DataError(f"column {name} has a missing value ({row(i)})")
        out = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isnan(out)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"column {name} is not numeric: {row(i)} has {text.iloc[i]!r} (features must be numbers)")
    if not np.all(np.isfinite(out)):
        i = int(np.flatnonzero(~np.isfinite(out))[0])
        raise DataError(f"column {name} has a missing or infinite value ({row(i)})")
    return out


def _target_name(model) -> str | None:
    target = model.config.data.dataset_args().get("target")
    return target if isinstance(target, str) else None


def _list(names) -> str:
    return ", ".join(f"'{n}'" for n in names)


def prediction_frame(model, frame, X: np.ndarray):
    """``frame`` with the predictions appended: ``prediction`` (the class name, or the value) and, for
    classification, one ``prob_<class>`` column per class (``score_<class>`` where the outputs are scores;
    a single non-probability unit for two classes gives the second class's score alone)."""
    from nnlab.metrics import as_probabilities, predicted_classes

    out = model.outputs(X)
    result = frame.copy()
    if not frame.attrs.get("header", True) and model.feature_names and len(frame.columns) == len(model.feature_names):
        result.columns = model.feature_names  # a file without a header row: name its columns as the run does
    if model.task == "classification":
        classes = predicted_classes(out)
        result["prediction"] = [model.class_names[c] for c in classes]
        prefix = "prob" if model.gives_probabilities else "score"
        values = as_probabilities(out) if model.gives_probabilities else out
        if values.shape[1] == 1:  # one unit scores the second class (a perceptron's step, ADALINE's line)
            result[f"{prefix}_{model.class_names[1]}"] = values[:, 0]
        else:
            for c, name in enumerate(model.class_names):
                result[f"{prefix}_{name}"] = values[:, c]
    else:
        for k in range(out.shape[1]):
            result["prediction" if out.shape[1] == 1 else f"prediction_{k + 1}"] = out[:, k]
    return result
