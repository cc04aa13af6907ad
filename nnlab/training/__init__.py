"""The training loop, its callbacks and metrics; ``train`` starts a run, ``resume`` continues one."""

from nnlab.training.resume import open_run, resume
from nnlab.training.trainer import RunResult, Trainer, train

__all__ = ["RunResult", "Trainer", "open_run", "resume", "train"]
