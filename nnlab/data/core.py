"""What a dataset loader returns, and how it becomes train / val / test splits."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nnlab.errors import DataError


@dataclass
class Dataset:
    """Features ``X`` (one example per row) and targets ``y`` (class indices, or values (m, k))."""

    X: np.ndarray
    y: np.ndarray
    task: str  # "classification" | "regression"
    name: str = ""
    feature_names: list[str] | None = None
    class_names: list[str] | None = None
    X_test: np.ndarray | None = None  # an official test split, kept as the test split
    y_test: np.ndarray | None = None
    #: truth tables: every split is the whole table (four rows cannot be split)
    whole_table: bool = False
    #: X may hold NaN for missing values, to be filled with the train split's column means
    impute: bool = False
    info: dict = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        if self.task != "classification":
            return 0
        if self.class_names:
            return len(self.class_names)
        ys = [self.y] + ([self.y_test] if self.y_test is not None else [])
        return int(max(int(a.max()) for a in ys if len(a)) + 1)

    @property
    def n_outputs(self) -> int:
        if self.task == "classification":
            return self.n_classes
        return 1 if self.y.ndim == 1 else self.y.shape[1]


@dataclass
class Splits:
    """Train / val / test arrays (val and test may be empty), with what the model needs to know."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    task: str
    n_classes: int
    n_outputs: int
    feature_names: list[str] | None = None
    class_names: list[str] | None = None
    #: missing features (NaN) are filled with the train split's column means (csv ``missing: mean``)
    impute: bool = False

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    def split(self, which: str):
        return getattr(self, f"X_{which}"), getattr(self, f"y_{which}")


def split_dataset(ds: Dataset, val: float, test: float, rng: np.random.Generator, stratify: bool = True) -> dict:
    """Index arrays for train / val / test: stratified by class for classification."""
    n = len(ds.X)
    if ds.whole_table:
        idx = np.arange(n)
        return {"train": idx, "val": idx if val else idx[:0], "test": idx if test else idx[:0]}
    if ds.X_test is not None:
        test = 0.0  # the dataset's official test split stays the test split
    groups = (
        [np.flatnonzero(ds.y == c) for c in range(ds.n_classes)]
        if (stratify and ds.task == "classification")
        else [np.arange(n)]
    )
    parts = {"train": [], "val": [], "test": []}
    for g in groups:
        g = rng.permutation(g)
        n_val, n_test = int(round(val * len(g))), int(round(test * len(g)))
        parts["val"].append(g[:n_val])
        parts["test"].append(g[n_val : n_val + n_test])
        parts["train"].append(g[n_val + n_test :])
    out = {k: np.sort(np.concatenate(v)) if v else np.arange(0) for k, v in parts.items()}
    if len(out["train"]) == 0:
        raise DataError(f"data.split: val {val} + test {test} leave no training examples out of {n}")
    for k in ("val", "test"):
        if (val if k == "val" else test) > 0 and len(out[k]) == 0:
            raise DataError(
                f"data.split.{k}: {n} examples are too few to hold out a {k} split of {val if k == 'val' else test}"
            )
    return out


def raw_splits(data_cfg, seed: int, dataset: Dataset | None = None) -> Splits:
    """Build the configured dataset (or take ``dataset``, arrays given in memory: ``nnlab.data.memory``) and
    split it, without preprocessing: features as the dataset gives them, regression targets as (m, k). The
    same seed gives the same rows in the same order."""
    from nnlab.registry import registry
    from nnlab.seeds import streams

    ss = streams(seed)
    data_ss, split_ss = ss["data"], ss["split"]
    ds = dataset or registry("dataset").build(
        {"name": data_cfg.name, **data_cfg.dataset_args()}, rng=np.random.default_rng(data_ss)
    )
    check_dataset(ds)
    split_seed = data_cfg.split.seed
    split_rng = np.random.default_rng(split_ss if split_seed is None else np.random.SeedSequence(split_seed))
    idx = split_dataset(ds, data_cfg.split.val, data_cfg.split.test, split_rng, data_cfg.split.stratify)
    y = ds.y if ds.task == "classification" else _as_2d(ds.y)
    if ds.X_test is not None:
        X_test = ds.X_test
        y_test = ds.y_test if ds.task == "classification" else _as_2d(ds.y_test)
    else:
        X_test, y_test = ds.X[idx["test"]], y[idx["test"]]
    return Splits(
        X_train=ds.X[idx["train"]],
        y_train=y[idx["train"]],
        X_val=ds.X[idx["val"]],
        y_val=y[idx["val"]],
        X_test=X_test,
        y_test=y_test,
        task=ds.task,
        n_classes=ds.n_classes,
        n_outputs=ds.n_outputs,
        feature_names=ds.feature_names,
        class_names=ds.class_names,
        impute=ds.impute,
    )


def preprocess_splits(raw: Splits, pre, dtype) -> Splits:
    """``raw`` with every split's features mapped by the fitted preprocessor ``pre`` into ``dtype``
    (regression targets cast to ``dtype`` as well)."""

    def targets(y):
        return y if raw.task == "classification" else y.astype(dtype)

    return Splits(
        X_train=pre.transform(raw.X_train, dtype),
        y_train=targets(raw.y_train),
        X_val=pre.transform(raw.X_val, dtype),
        y_val=targets(raw.y_val),
        X_test=pre.transform(raw.X_test, dtype),
        y_test=targets(raw.y_test),
        task=raw.task,
        n_classes=raw.n_classes,
        n_outputs=raw.n_outputs,
        feature_names=raw.feature_names,
        class_names=raw.class_names,
    )


def check_dataset(ds: Dataset) -> None:
    """Refuse data no network can learn from, whichever loader made them: no rows, features and targets of
    different lengths, infinite features (or missing ones where nothing fills them), non-finite regression
    targets, class labels outside 0…C−1, or a single class (a one-output softmax trains to a loss of 0)."""
    where = f"'{ds.info['source']}'" if ds.info.get("source") else f"dataset '{ds.name}'"
    pairs = [("", ds.X, ds.y)] + ([(" (test split)", ds.X_test, ds.y_test)] if ds.X_test is not None else [])
    for part, X, y in pairs:
        if len(X) == 0:
            raise DataError(f"{where}{part} holds no examples")
        if len(X) != len(y):
            raise DataError(f"{where}{part}: {len(X)} rows of features but {len(y)} targets")
        if X.dtype.kind == "f":
            bad = np.isinf(X) if ds.impute else ~np.isfinite(X)
            if bad.any():
                r, c = np.argwhere(bad)[0]
                column = ds.feature_names[c] if ds.feature_names and c < len(ds.feature_names) else f"column {c}"
                raise DataError(
                    f"{where}{part}: feature {column} of row {r} is {X[r, c]}; nnlab needs finite numbers"
                    + ("" if np.isinf(X[r, c]) else " (or data.missing: mean, for a CSV file)")
                )
        if ds.task == "regression" and y.dtype.kind in "fc" and not np.isfinite(y).all():
            r = int(np.argwhere(~np.isfinite(y))[0][0])
            raise DataError(f"{where}{part}: the target of row {r} is {y.ravel()[r]}; targets must be finite numbers")
    if ds.task != "classification":
        return
    labels = np.concatenate([y.ravel() for _, _, y in pairs])
    if labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= ds.n_classes:
        raise DataError(
            f"{where}: class labels must be whole numbers 0…{ds.n_classes - 1}, got {labels.min()}…{labels.max()}"
        )
    present = np.unique(ds.y)
    if len(present) < 2:
        name = ds.class_names[int(present[0])] if ds.class_names and len(present) else str(present)
        raise DataError(
            f"{where} holds a single class ('{name}', every one of its {len(ds.y)} examples): a classifier needs "
            "examples of at least two classes; for a numeric target to predict, set task: regression"
        )


def load_splits(data_cfg, seed: int, dtype, dataset: Dataset | None = None) -> tuple[Splits, object]:
    """Build the configured dataset (or take ``dataset``), split it and fit the preprocessing on the train
    split only.

    Returns the splits (preprocessed, in ``dtype``) and the fitted preprocessor.
    """
    from nnlab.data.preprocess import build_preprocessor

    raw = raw_splits(data_cfg, seed, dataset)
    _check_fillable(raw)
    pre = build_preprocessor(data_cfg.preprocess)
    pre.fit(raw.X_train, impute=raw.impute)
    return preprocess_splits(raw, pre, dtype), pre


def _as_2d(y):
    return y.reshape(-1, 1) if y.ndim == 1 else y


def _check_fillable(raw: Splits) -> None:
    """``missing: mean`` fills a feature with its train-split mean: a column with no value in the train split
    has none, and is refused rather than filled with 0."""
    if not raw.impute or raw.X_train.dtype.kind != "f":
        return
    empty = np.flatnonzero(np.isnan(raw.X_train).all(axis=0))
    if len(empty):
        names = [raw.feature_names[c] if raw.feature_names else f"column {c}" for c in empty]
        raise DataError(
            f"data.missing: mean: feature {', '.join(map(repr, names))} has no value in the train split, so it has "
            f"no mean to be filled with; leave it out (drop: [{', '.join(names)}]) or fill it in"
        )
