"""A trained run as a Python object: ``nnlab.load_run(path)`` and ``model.predict(X)``.

A checkpoint holds everything a prediction needs (DESIGN §5): the resolved config rebuilds the network,
the ``model.*`` tensors fill it, the ``preprocess.*`` statistics map raw features the way the training
data were mapped. Nothing here writes to the run folder.
"""

from __future__ import annotations

import warnings
from functools import cached_property
from pathlib import Path

import numpy as np

from nnlab.errors import CheckpointError, ConfigError, DataError, NnlabError
from nnlab.runs.checkpoint import load_checkpoint, subset
from nnlab.runs.folder import RunFolder


def load_run(path: str | Path, checkpoint: str | int | None = None) -> TrainedModel:
    """Load a run folder written by ``nnlab train`` at one of its checkpoints (best, last, swa, ema,
    epoch-NNNN, a file); by default best, or last where the run never had a best epoch (as ``nnlab eval``).
    The model predicts from raw features: the run's preprocessing is applied inside."""
    folder = RunFolder.open(path)
    return load_model(folder.find_checkpoint(checkpoint or folder.default_checkpoint()), folder.path)


def load_model(checkpoint: str | Path, run_dir: str | Path | None = None) -> TrainedModel:
    """A model from one checkpoint file; ``run_dir`` (optional) gives it the run's metrics and summary."""
    tensors, meta = load_checkpoint(checkpoint)
    return TrainedModel(tensors, meta, Path(checkpoint), Path(run_dir) if run_dir else None)


class TrainedModel:
    """A trained network with its preprocessing, config, metrics and summary."""

    def __init__(self, tensors: dict, meta: dict, checkpoint: Path, run_dir: Path | None = None):
        from nnlab.architecture import build_network
        from nnlab.config import validate
        from nnlab.data.preprocess import Preprocessor
        from nnlab.registry import registry

        self.checkpoint, self.run_dir, self.meta = checkpoint, run_dir, meta
        where = f"checkpoint '{checkpoint}'"
        if not isinstance(meta.get("config"), dict) or not isinstance(meta.get("data"), dict):
            raise CheckpointError(f"{where} has no config or data description in its metadata")
        try:
            self.config = validate(meta["config"], source=where)
            self.loss = registry("loss").build(self.config.loss)
            data = meta["data"]
            with warnings.catch_warnings():  # e.g. a zeros initializer: warned about at training, not here
                warnings.simplefilter("ignore")
                self.net = build_network(self.config, data["n_features"], data["n_outputs"])
            self.net.load_state_dict(subset(tensors, "model"))
            self.preprocessor = Preprocessor().load_state(tensors)
        except (ConfigError, KeyError, ValueError, TypeError) as e:
            raise CheckpointError(f"{where} cannot be rebuilt into a network: {e}") from None
        self.task: str = data["task"]
        self.n_features: int = int(data["n_features"])
        self.n_outputs: int = int(data["n_outputs"])
        self.n_classes: int = int(data.get("n_classes") or 0)
        self.feature_names: list[str] | None = data.get("feature_names")
        self.class_names: list[str] = (
            list(data.get("class_names") or [str(i) for i in range(self.n_classes)])
            if self.task == "classification"
            else []
        )
        self.epoch: int = int(meta.get("epoch") or 0)

    def __repr__(self):
        src = self.run_dir.name if self.run_dir else self.checkpoint
        return f"<nnlab TrainedModel {src} [{self.checkpoint.stem}, epoch {self.epoch}]: {self.net.describe()}>"

    @property
    def dtype(self) -> np.dtype:
        return self.net.dtype

    @property
    def name(self) -> str:
        return self.run_dir.name if self.run_dir else self.checkpoint.stem

    @property
    def history(self) -> list[dict]:
        """The metrics rows up to this checkpoint's epoch, as stored in the checkpoint."""
        return list(self.meta.get("metrics") or [])

    @cached_property
    def metrics(self):
        """metrics.csv of the run as a pandas DataFrame (the checkpoint's rows when there is no run folder)."""
        import pandas as pd

        if self.run_dir is not None and RunFolder(self.run_dir).metrics_file.is_file():
            return RunFolder(self.run_dir).read_metrics()
        return pd.DataFrame(self.history)

    @cached_property
    def summary(self) -> dict:
        """summary.json of the run ({} without a run folder)."""
        return RunFolder(self.run_dir).read_summary() if self.run_dir else {}

    # ----- predictions ------------------------------------------------------------------------
    def features(self, X) -> np.ndarray:
        """Raw features (array, list, DataFrame) checked against the run's inputs, as a float64 matrix.

        A DataFrame's columns are matched by name; the columns the run left out of its features (its target,
        its ``data.drop`` columns) are left aside. Missing values (NaN) stay where the run fills them with the
        train split's means (``missing: mean``) and are an error otherwise."""
        from nnlab.tables import features_from_frame

        if hasattr(X, "columns"):
            X = features_from_frame(X, self, escape="select the run's features, X[model.feature_names]")[0]
        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError("X must hold numbers only") from None
        if X.ndim == 1 and self.n_features == 1:
            X = X.reshape(-1, 1)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise DataError(
                f"X must be a matrix of {self.n_features} feature column(s) (one example per row), got shape "
                f"{X.shape}" + ("; for one example use X.reshape(1, -1)" if X.ndim == 1 else "")
            )
        if np.isinf(X).any():
            r, c = np.argwhere(np.isinf(X))[0]
            raise DataError(f"X has an infinite value (row {r}, column {c}: {X[r, c]}); features must be finite")
        refusal = self.missing_refusal
        if refusal is not None and np.isnan(X).any():
            r, c = np.argwhere(np.isnan(X))[0]
            raise DataError(f"X has a missing value (NaN at row {r}, column {c}): {refusal}")
        return X

    @property
    def missing_refusal(self) -> str | None:
        """Why a missing feature value cannot be predicted, or None where the run fills it: trained with
        ``missing: mean``, its checkpoint holds the train split's column means (``preprocess.fill``)."""
        if self.preprocessor.fill is not None:
            return None
        data = self.config.data
        policy = data.dataset_args().get("missing", "error")
        if policy == "mean":
            return (
                "the run was trained with data.missing: mean, but its checkpoint holds no train-split means to "
                "fill with (written by an older nnlab); fill the value in, or train the run again"
            )
        if policy == "drop":
            return (
                "the run was trained with data.missing: drop (rows with a missing value left out); "
                "fill the value in or leave the row out"
            )
        if data.name == "csv":
            return (
                "the run was trained on complete rows (data.missing: error); fill the value in or leave the row "
                "out, or train with data.missing: mean to fill missing values with the train split's means"
            )
        return "the run was trained on complete rows; fill the value in or leave the row out"

    def transform(self, X) -> np.ndarray:
        """The run's preprocessing of raw features, in the network's dtype."""
        return self.preprocessor.transform(self.features(X), self.dtype)

    def outputs(self, X, tta: bool = False) -> np.ndarray:
        """The network's outputs for raw features: probabilities (softmax / sigmoid), scores or values; with
        ``tta`` (test-time augmentation), their mean over the ``tta_views`` of every image, in float64."""
        if not tta:
            return self.net.predict(self.transform(X))
        views, X = self.tta_views(), self.features(X)
        total = sum(self.net.predict(self.preprocessor.transform(v(X), self.dtype)).astype(np.float64) for v in views)
        return total / len(views)

    def tta_views(self) -> list:
        """The fixed variants of an image that the run's ``data.augment`` trained on, as functions of raw rows
        (``nnlab.data.augment.tta_views``: the image itself first, its mirror, its one-pixel shifts); a user
        error where the run was trained on neither mirrored nor shifted images."""
        from nnlab.data.augment import tta_views

        data = self.config.data
        views = tta_views(getattr(data, "augment", None), self.n_features, getattr(data, "image_shape", None))
        if len(views) < 2:
            raise NnlabError(
                f"run '{self.name}' was not trained on mirrored or shifted images (data.augment has no flip or "
                "translate), so it has no test-time variants to average: evaluate or predict it without --tta / tta=True"
            )
        return views

    def predict(self, X, tta: bool = False) -> np.ndarray:
        """Class indices (see ``class_names``) for classification; values (m, k) for regression. ``tta``: from
        the outputs averaged over mirrored and shifted images (``outputs``)."""
        out = self.outputs(X, tta)
        if self.task != "classification":
            return out
        from nnlab.metrics import predicted_classes

        return predicted_classes(out)

    def predict_proba(self, X, tta: bool = False) -> np.ndarray:
        """Probabilities (m, C), one column per class; a single sigmoid output p becomes [1 − p, p]. ``tta``:
        averaged over mirrored and shifted images (``outputs``)."""
        if not self.gives_probabilities:
            raise NnlabError(
                f"run '{self.name}' ends in {self.net.layers[-1].describe()}: its outputs are "
                + ("values (regression)" if self.task != "classification" else "scores, not probabilities")
                + "; use predict"
            )
        from nnlab.metrics import as_probabilities

        return as_probabilities(self.outputs(X, tta))

    @property
    def gives_probabilities(self) -> bool:
        return self.task == "classification" and self.net.layers[-1].describe() in ("softmax", "sigmoid")

    def mc_outputs(self, Xp: np.ndarray, passes: int, rng: np.random.Generator, batch_size: int = 8192):
        """Monte-Carlo dropout (deck 002): yields the outputs of ``passes`` forward passes over prepared
        features ``Xp``, each with fresh dropout masks; every other layer stays in evaluation mode (batch
        norm keeps its running statistics)."""
        from nnlab.components.layers import Dropout

        drops = self.dropout_layers
        if not drops:
            raise NnlabError(f"run '{self.name}' has no dropout layer: every Monte-Carlo pass would be the same")
        for layer in drops:
            layer.rng = rng
        for _ in range(passes):
            out = np.empty((len(Xp), self.n_outputs), dtype=self.dtype)
            for s in range(0, len(Xp), batch_size):
                x = Xp[s : s + batch_size]
                for layer in self.net.layers:
                    x = layer.forward(x, training=isinstance(layer, Dropout))
                out[s : s + batch_size] = x
            yield out

    @property
    def dropout_layers(self) -> list:
        from nnlab.components.layers import Dropout

        return [la for la in self.net.layers if isinstance(la, Dropout) and la.rate > 0]
