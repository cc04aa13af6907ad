"""The training loop, its callbacks and metrics."""

from nnlab.training.trainer import RunResult, train

__all__ = ["RunResult", "train"]
