"""Metrics of a model on a split, computed in large batches in evaluation mode."""

from __future__ import annotations

import numpy as np


def predict_outputs(net, X, batch_size: int = 8192):
    """Network outputs (probabilities / values) for X."""
    return net.predict(X, batch_size)


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


def evaluate(net, loss, X, y, task: str) -> dict[str, float]:
    """``{"loss": ..., "accuracy": ...}`` for classification, ``{"loss", "mse", "mae", "r2"}`` for regression."""
    if len(X) == 0:
        return {}
    value, out = loss_of(net, loss, X, y)
    if task == "classification":
        return {"loss": value, "accuracy": accuracy(out, y)}
    d = (out - y).astype(np.float64)
    return {"loss": value, "mse": float(np.mean(d * d)), "mae": float(np.mean(np.abs(d))), "r2": r2_score(out, y)}
