"""Metrics: of a network on a split (computed in large batches in evaluation mode), of predictions against
targets, and which direction of a metric is better.

Nothing here imports the rest of nnlab: a network is anything with ``predict``, ``forward``,
``fused_split``, ``layers`` and ``n_outputs`` (``nnlab.network.Network``).
"""

from __future__ import annotations

import math

import numpy as np

#: words of a metric's name that make a higher value better; any other metric (a loss, mse, mae,
#: weight_change, penalty, seconds) is better lower
HIGHER_IS_BETTER = frozenset({"accuracy", "acc", "r2", "f1", "precision", "recall"})


def metric_mode(name: str, mode: str = "auto") -> str:
    """``"max"`` where a higher value of the metric ``name`` is better (``val_accuracy``, ``test_r2``,
    ``train_f1``, ``macro_f1``), ``"min"`` otherwise (``val_loss``, ``mse``, ``weight_change``); a ``mode``
    other than ``"auto"`` is returned as it is. The one answer to the question for the whole of nnlab:
    early stopping, the best checkpoint, reduce-on-plateau, sweeps and ``nnlab runs --sort``."""
    if mode != "auto":
        return mode
    return "max" if HIGHER_IS_BETTER.intersection(name.lower().split("_")) else "min"


def row_columns(task: str, has_val: bool, penalty: bool, tol: bool, diagnostics: int = 0) -> list[str]:
    """The columns of a run's metrics.csv, in order: for its task, with or without a validation split, a
    penalty (a regularizer that adds to the loss), ``training.tol`` (weight_change) and
    ``training.diagnostics`` for a network of ``diagnostics`` weight layers (grad_norm_1, ...,
    update_ratio_1, ...: W^[1] is the first). The one list the training loop writes and a sweep checks its
    metric against."""
    cols = ["epoch", "lr", "train_loss"] + (["train_accuracy"] if task == "classification" else [])
    cols += ["penalty"] if penalty else []
    cols += ["val_loss", "val_accuracy" if task == "classification" else "val_r2"] if has_val else []
    return cols + ["seconds"] + (["weight_change"] if tol else []) + diagnostics_columns(diagnostics)


def diagnostics_columns(layers: int) -> list[str]:
    """``training.diagnostics``' columns for ``layers`` weight layers: grad_norm_1, ..., update_ratio_1, ..."""
    numbers = range(1, layers + 1)
    return [f"grad_norm_{i}" for i in numbers] + [f"update_ratio_{i}" for i in numbers]


def improves(value, best, mode: str, min_delta: float = 0.0) -> bool:
    """Whether ``value`` beats ``best`` by more than ``min_delta`` in the direction ``mode`` (a first value
    beats None; NaN and None never improve)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def loss_of(net, loss, X, y, batch_size: int = 8192) -> tuple[float, np.ndarray]:
    """Mean loss of the split and the network's outputs, the loss computed from logits where fused."""
    split = net.fused_split(loss)
    if split is None:
        out = net.predict(X, batch_size)
        return loss.value(out, y), out
    act = net.layers[split].activation
    logits = np.empty((len(X), net.n_outputs), dtype=net.dtype)
    for s in range(0, len(X), batch_size):
        logits[s : s + batch_size] = net.forward(X[s : s + batch_size], training=False, upto=split)
    value = loss.fused(logits, y, act)[0]
    return value, act.forward(logits)


def as_probabilities(out: np.ndarray) -> np.ndarray:
    """One column per class: a single sigmoid output p becomes the two columns [1 − p, p]."""
    return np.hstack([1 - out, out]) if out.shape[1] == 1 else out


def predicted_classes(out: np.ndarray, logits: bool = False) -> np.ndarray:
    """Arg max over outputs; a single sigmoid output is thresholded at ½ (at 0 for its logit)."""
    if out.shape[1] == 1:
        return (out[:, 0] >= (0.0 if logits else 0.5)).astype(np.int64)
    return out.argmax(axis=1)


def accuracy(out, y) -> float:
    return float(np.mean(predicted_classes(out) == y)) if len(y) else float("nan")


def r2_score(pred, y) -> float:
    ss_res = float(np.sum((y - pred) ** 2, dtype=np.float64))
    ss_tot = float(np.sum((y - y.mean(axis=0)) ** 2, dtype=np.float64))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")


def scores(out, y, task: str) -> dict[str, float]:
    """Accuracy for classification; MSE, MAE and R² for regression (from outputs, without the loss)."""
    if task == "classification":
        return {"accuracy": accuracy(out, y)}
    d = (out - y).astype(np.float64)
    return {"mse": float(np.mean(d * d)), "mae": float(np.mean(np.abs(d))), "r2": r2_score(out, y)}


def evaluate(net, loss, X, y, task: str) -> dict[str, float]:
    """``{"loss": ..., "accuracy": ...}`` for classification, ``{"loss", "mse", "mae", "r2"}`` for regression."""
    if len(X) == 0:
        return {}
    value, out = loss_of(net, loss, X, y)
    return {"loss": value, **scores(out, y, task)}


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """C[i, j] = number of examples of true class i predicted as class j (rows: truth, columns: prediction)."""
    idx = np.asarray(y_true, dtype=np.int64) * n_classes + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(idx, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision TP/(TP+FP), recall TP/(TP+FN), F1 = 2PR/(P+R) and support of every class, from the
    confusion matrix; a ratio with nothing to count (no prediction of a class, no example of it) is 0."""
    tp = np.diag(cm).astype(np.float64)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": actual}


def averages(report: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Macro (plain mean over classes) and weighted (by support) precision, recall and F1."""
    support = report["support"]
    total = support.sum()
    out = {"macro": {}, "weighted": {}}
    for k in ("precision", "recall", "f1"):
        out["macro"][k] = float(np.mean(report[k]))
        out["weighted"][k] = float(np.sum(report[k] * support) / total) if total else 0.0
    return out
