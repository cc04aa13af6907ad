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
    frame.attrs["source"] = str(path)
    if frame.empty:
        raise DataError(f"'{path}' has no rows to predict")
    return frame


def _is_number(text) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


#: how ``nnlab predict`` lets unknown columns through (the Python API gives its own way)
IGNORE_EXTRA = "pass --ignore-extra to leave them aside"


def features_from_frame(frame, model, ignore_extra: bool = False, escape: str = IGNORE_EXTRA):
    """The run's feature columns of ``frame`` as a float64 matrix, and notes on how they were matched.

    Columns are matched by the names the run was trained with (in any order); a table whose columns carry
    none of those names is read by position. The columns the run itself left out of its features (its target,
    the columns of ``data.drop``) are left aside; any other column is an error that names it (``escape`` says
    how to let it through), unless ``ignore_extra``. A missing feature column or a non-numeric value is an
    error that names the file, the column, the row and the value. Missing values (empty cells, NaN) are kept
    as NaN where the run fills them with its train split's means (``missing: mean``), an error otherwise."""
    names = model.feature_names or []
    cols = [str(c) for c in frame.columns]
    header = frame.attrs.get("header", True)
    aside = columns_aside(model) if header else {}
    if header and names and any(c in names for c in cols):
        used, notes = _match_by_name(frame, names, aside, ignore_extra, escape)
    else:
        used, notes = _match_by_position(frame, model, aside)
    present = [c for c in cols if c in aside]
    if present:
        notes.append(
            "not features, copied to the output beside the predictions: "
            + ", ".join(f"'{c}' ({aside[c]})" for c in present)
        )
    refusal, first_line = model.missing_refusal, frame.attrs.get("first_line")
    X = np.empty((len(frame), len(used)), dtype=np.float64)
    for j, col in enumerate(used):
        X[:, j] = _numeric(frame[col], f"'{col}'" if header else f"#{j + 1}", first_line, _where(frame), refusal)
    filled = int(np.isnan(X).sum())
    if filled:
        notes.append(
            f"{filled} missing value(s) filled with the train split's column means (the run was trained with "
            "data.missing: mean)"
        )
    return X, notes


def _match_by_name(frame, names, aside, ignore_extra, escape) -> tuple[list, list[str]]:
    """The columns of ``frame`` named as the run's features, in the run's order, and notes."""
    cols = [str(c) for c in frame.columns]
    missing = [n for n in names if n not in cols]
    if missing:
        raise DataError(
            f"{_where(frame)}missing column(s) {_list(missing)}: the run was trained on the features {_list(names)}"
        )
    extra = [c for c in cols if c not in names and c not in aside]
    if extra and not ignore_extra:
        besides = f" (besides {_list(aside)}, which it leaves aside)" if aside else ""
        raise DataError(
            f"{_where(frame)}unexpected column(s) {_list(extra)}: the run was trained on the features "
            f"{_list(names)} only{besides}; remove the other columns or {escape}"
        )
    notes = [f"column(s) {_list(extra)} ignored (not features of the run), copied to the output"] if extra else []
    return [frame.columns[cols.index(n)] for n in names], notes


def _match_by_position(frame, model, aside) -> tuple[list, list[str]]:
    """The columns of ``frame``, less those the run leaves aside, taken as the run's features in order."""
    names, header = model.feature_names or [], frame.attrs.get("header", True)
    cols = [str(c) for c in frame.columns]
    candidates = [c for c in cols if c not in aside]
    if len(candidates) != model.n_features:
        named = f" ({_list(names)})" if names else ""
        raise DataError(
            f"{_where(frame)}expected {model.n_features} feature column(s){named}, found {len(candidates)}"
            + (f": {_list(candidates)}" if header else " (a file without a header row is matched by position)")
        )
    notes = []
    if names:
        how = ", ".join(f"{c}→{n}" for c, n in zip(candidates, names)) if header else "no header row"
        notes.append(f"columns matched by position ({how})")
    return [frame.columns[cols.index(c)] for c in candidates], notes


def columns_aside(model) -> dict[str, str]:
    """The columns of the run's training file that are not features, each with why: the target and the
    columns of ``data.drop`` (read from the run's resolved config)."""
    args = model.config.data.dataset_args()
    aside = {}
    target = _target_name(model)
    if target:
        aside[target] = "the run's target"
    drop = args.get("drop")
    for c in drop if isinstance(drop, list) else []:
        if isinstance(c, str) and c not in (model.feature_names or []):
            aside[c] = "dropped by the run's data.drop"
    return aside


def _where(frame) -> str:
    source = frame.attrs.get("source")
    return f"'{source}': " if source else ""


_MISSING = ("", "nan", "na", "n/a", "null", "none")


def _numeric(column, name: str, first_line: int | None, where: str, refusal: str | None) -> np.ndarray:
    """A column as float64; missing values become NaN where ``refusal`` is None, else an error saying it."""
    import pandas as pd

    def row(i):
        return f"row {i + 1}" + (f", line {i + first_line} of the file" if first_line else "")

    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        out = column.to_numpy(dtype=np.float64)
        values = column
    else:
        values = column.astype(str).str.strip()
        empty = values.str.lower().isin(_MISSING).to_numpy()
        out = pd.to_numeric(values.where(~empty, "nan"), errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isnan(out) & ~empty
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{where}column {name} is not numeric: {row(i)} has {values.iloc[i]!r} (features must be numbers)"
            )
    infinite = np.isinf(out)
    if infinite.any():
        i = int(np.flatnonzero(infinite)[0])
        raise DataError(
            f"{where}column {name} has an infinite value: {row(i)} has {values.iloc[i]!r} (features must be finite)"
        )
    if refusal is not None and np.isnan(out).any():
        i = int(np.flatnonzero(np.isnan(out))[0])
        raise DataError(f"{where}column {name} has a missing value ({row(i)}: {values.iloc[i]!r}); {refusal}")
    return out


def _target_name(model) -> str | None:
    target = model.config.data.dataset_args().get("target")
    if target is None:
        target = BUILTIN_TARGETS.get(model.config.data.name)
    return target if isinstance(target, str) else None


#: the target column of built-in datasets read from a CSV file (their config names no ``target``)
BUILTIN_TARGETS = {"iris": "species"}


def _list(names) -> str:
    return ", ".join(f"'{n}'" for n in names)


def prediction_frame(model, frame, X: np.ndarray, tta: bool = False):
    """``frame`` with the predictions appended: ``prediction`` (the class name, or the value) and, for
    classification, one ``prob_<class>`` column per class (``score_<class>`` where the outputs are scores;
    a single non-probability unit for two classes gives the second class's score alone). ``tta``: from
    outputs averaged over mirrored and shifted images (``TrainedModel.outputs``)."""
    from nnlab.metrics import as_probabilities, predicted_classes

    out = model.outputs(X, tta)
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
