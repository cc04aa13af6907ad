"""Feature preprocessing, fitted on the train split only and stored in every checkpoint (deck 002).

Every method is an affine map per feature, x' = (x − shift) · scale, so one pair of vectors describes it:

- ``none``: shift 0, scale 1
- ``center``: shift = mean (zero-centering)
- ``standardize``: shift = mean, scale = 1 / std (normalisation; constant features keep scale 1)
- ``minmax``: shift = min, scale = 1 / (max − min), into [0, 1]
- ``{name: scale, factor: 255}``: shift 0, scale = 1 / factor

Statistics are computed on the train split only, in float64, a chunk of rows at a time: a uint8 image set
is never copied whole into float64. A dataset read with ``missing: mean`` also gets ``fill``, the train
split's column means, which replace missing values in every split and at prediction time.
"""

from __future__ import annotations

import numpy as np

from nnlab.errors import ConfigError, did_you_mean

METHODS = ("none", "center", "standardize", "minmax", "scale")


class Preprocessor:
    def __init__(self, method: str = "none", factor: float = 1.0):
        self.method, self.factor = method, float(factor)
        self.shift: np.ndarray | None = None
        self.scale: np.ndarray | None = None
        #: per-feature values that replace missing (NaN) entries; None when the data may hold none
        self.fill: np.ndarray | None = None

    def fit(self, X: np.ndarray, impute: bool = False) -> Preprocessor:
        """Statistics of ``X`` (the train split), read chunk by chunk in float64.

        With ``impute``, missing entries are first replaced by their column's mean, and the statistics are
        those of the filled data."""
        n = X.shape[1]
        self.fill = _column_means(X, nan=True) if impute else None
        shift, scale = np.zeros(n), np.ones(n)
        if self.method in ("center", "standardize"):
            shift = _column_means(X, fill=self.fill)
        if self.method == "standardize":
            std = np.sqrt(_column_sq_dev(X, shift, fill=self.fill))
            scale = 1.0 / np.where(std > 0, std, 1.0)
        if self.method == "minmax":
            lo, hi = _column_range(X, fill=self.fill)
            shift, scale = lo, 1.0 / np.where(hi > lo, hi - lo, 1.0)
        if self.method == "scale":
            scale = np.full(n, 1.0 / self.factor)
        self.shift, self.scale = shift, scale
        return self

    def transform(self, X: np.ndarray, dtype=np.float32) -> np.ndarray:
        """(X − shift) · scale in ``dtype``, chunk by chunk, so no float64 (or other) copy of X is held."""
        out = np.empty(X.shape, dtype=dtype)
        shift, scale = self.shift.astype(dtype), self.scale.astype(dtype)
        fill = None if self.fill is None else self.fill.astype(dtype)
        for s, block in _chunks(X):
            target = out[s : s + len(block)]
            target[...] = block
            if fill is not None:
                np.copyto(target, fill, where=np.isnan(target))
            target -= shift
            target *= scale
        return out

    def state(self) -> dict[str, np.ndarray]:
        state = {"preprocess.shift": self.shift, "preprocess.scale": self.scale}
        if self.fill is not None:
            state["preprocess.fill"] = self.fill
        return state

    def load_state(self, arrays: dict[str, np.ndarray]) -> Preprocessor:
        self.shift = np.asarray(arrays["preprocess.shift"], dtype=np.float64)
        self.scale = np.asarray(arrays["preprocess.scale"], dtype=np.float64)
        fill = arrays.get("preprocess.fill")
        self.fill = None if fill is None else np.asarray(fill, dtype=np.float64)
        return self


_CHUNK_VALUES = 1 << 20  # values per chunk: 8 MB in float64, whatever the width of X


def _chunks(X: np.ndarray):
    """(start, block) over X's rows, each block at most ~1M values."""
    step = max(1, _CHUNK_VALUES // max(1, int(np.prod(X.shape[1:]))))
    for s in range(0, len(X), step):
        yield s, X[s : s + step]


def _float_chunks(X, fill=None):
    for _, block in _chunks(X):
        block = block.astype(np.float64)
        if fill is not None:
            np.copyto(block, fill, where=np.isnan(block))
        yield block


def _column_means(X, fill=None, nan=False) -> np.ndarray:
    """Column means; with ``nan``, over the present (non-NaN) entries only (0 for an all-missing column)."""
    total, count = np.zeros(X.shape[1]), np.zeros(X.shape[1])
    for block in _float_chunks(X, fill):
        if nan:
            present = ~np.isnan(block)
            total += np.where(present, block, 0.0).sum(axis=0)
            count += present.sum(axis=0)
        else:
            total += block.sum(axis=0)
            count += len(block)
    return total / np.maximum(count, 1)


def _column_sq_dev(X, mean, fill=None) -> np.ndarray:
    """Population variance Σ(x − mean)²/n per column, the mean known (a second pass: exact, stable)."""
    total, n = np.zeros(X.shape[1]), 0
    for block in _float_chunks(X, fill):
        block -= mean
        total += np.einsum("ij,ij->j", block, block)
        n += len(block)
    return total / max(n, 1)


def _column_range(X, fill=None) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = np.full(X.shape[1], np.inf), np.full(X.shape[1], -np.inf)
    for block in _float_chunks(X, fill):
        np.minimum(lo, block.min(axis=0), out=lo)
        np.maximum(hi, block.max(axis=0), out=hi)
    return lo, hi


def _parse(spec) -> tuple[str, float]:
    if isinstance(spec, str):
        name, factor = spec, 1.0
        if name == "scale":
            raise ConfigError("data.preprocess: 'scale' needs a factor, e.g. {name: scale, factor: 255}")
    elif isinstance(spec, dict):
        name = spec.get("name")
        extra = set(spec) - {"name", "factor"}
        if extra:
            raise ConfigError(f"data.preprocess: unknown argument(s) {', '.join(sorted(extra))} (accepted: factor)")
        factor = spec.get("factor", 1.0)
        if not isinstance(factor, (int, float)) or isinstance(factor, bool) or factor <= 0:
            raise ConfigError(f"data.preprocess.factor: must be a number > 0, got {factor!r}")
    else:
        raise ConfigError(f"data.preprocess: expected one of {', '.join(METHODS)}, got {spec!r}")
    if name not in METHODS:
        raise ConfigError(
            f"data.preprocess: unknown method '{name}'{did_you_mean(name, METHODS)} (choices: {', '.join(METHODS)})"
        )
    return name, float(factor)


def check_preprocess(spec) -> None:
    try:
        _parse(spec)
    except ConfigError as e:
        raise ValueError(str(e).removeprefix("data.preprocess: ")) from None


def build_preprocessor(spec) -> Preprocessor:
    return Preprocessor(*_parse(spec))
