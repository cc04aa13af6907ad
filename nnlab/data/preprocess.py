"""Feature preprocessing, fitted on the train split only and stored in every checkpoint (deck 002).

Every method is an affine map per feature, x' = (x − shift) · scale, so one pair of vectors describes it:

- ``none``: shift 0, scale 1
- ``center``: shift = mean (zero-centering)
- ``standardize``: shift = mean, scale = 1 / std (normalisation; constant features keep scale 1)
- ``minmax``: shift = min, scale = 1 / (max − min), into [0, 1]
- ``{name: scale, factor: 255}``: shift 0, scale = 1 / factor
"""

from __future__ import annotations

import numpy as np

from nnlab.errors import ConfigError

METHODS = ("none", "center", "standardize", "minmax", "scale")


class Preprocessor:
    def __init__(self, method: str = "none", factor: float = 1.0):
        self.method, self.factor = method, float(factor)
        self.shift: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def fit(self, X: np.ndarray) -> Preprocessor:
        n = X.shape[1]
        shift, scale = np.zeros(n), np.ones(n)
        if self.method in ("center", "standardize"):
            shift = X.mean(axis=0, dtype=np.float64)
        if self.method == "standardize":
            std = X.std(axis=0, dtype=np.float64)
            scale = 1.0 / np.where(std > 0, std, 1.0)
        if self.method == "minmax":
            lo, hi = X.min(axis=0).astype(np.float64), X.max(axis=0).astype(np.float64)
            shift, scale = lo, 1.0 / np.where(hi > lo, hi - lo, 1.0)
        if self.method == "scale":
            scale = np.full(n, 1.0 / self.factor)
        self.shift, self.scale = shift, scale
        return self

    def transform(self, X: np.ndarray, dtype=np.float32, chunk: int = 16384) -> np.ndarray:
        """(X − shift) · scale in ``dtype``, chunk by chunk so no float64 copy of X is ever held."""
        out = np.empty(X.shape, dtype=dtype)
        shift, scale = self.shift.astype(dtype), self.scale.astype(dtype)
        for s in range(0, len(X), chunk):
            block = out[s : s + chunk]
            block[...] = X[s : s + chunk]
            block -= shift
            block *= scale
        return out

    def state(self) -> dict[str, np.ndarray]:
        return {"preprocess.shift": self.shift, "preprocess.scale": self.scale}

    def load_state(self, arrays: dict[str, np.ndarray]) -> Preprocessor:
        self.shift = np.asarray(arrays["preprocess.shift"], dtype=np.float64)
        self.scale = np.asarray(arrays["preprocess.scale"], dtype=np.float64)
        return self


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
        import difflib

        close = difflib.get_close_matches(str(name), METHODS, n=1)
        hint = f" — did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"data.preprocess: unknown method '{name}'{hint} (choices: {', '.join(METHODS)})")
    return name, float(factor)


def check_preprocess(spec) -> None:
    try:
        _parse(spec)
    except ConfigError as e:
        raise ValueError(str(e).removeprefix("data.preprocess: ")) from None


def build_preprocessor(spec) -> Preprocessor:
    return Preprocessor(*_parse(spec))
