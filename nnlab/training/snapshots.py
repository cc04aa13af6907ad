"""``training.snapshots: K``: the network's weights every K epochs, for ``nnlab plot --animate``.

A light alternative to ``training.checkpoint_every`` for small networks: only the network's parameters and
buffers (no optimizer state, no metrics), one frame before the first epoch (epoch 0) and one after every K-th
epoch and one after the last, kept in memory and written into one file of the run folder (``RunFolder.snapshots_file``) when the run
ends or is interrupted. A resumed run reads the frames already written back first, so one file covers the
whole run; a run killed outright (SIGKILL) keeps only what an earlier session wrote. The memory a run holds is
parameters × epochs / K numbers: a few MB for a playground-sized network over hundreds of epochs.
"""

from __future__ import annotations

import numpy as np

from nnlab.training.callbacks import Callback

FORMAT = "nnlab-snapshots-1"


class Snapshots(Callback):
    def __init__(self, every: int):
        self.every = int(every)
        self.frames: dict[int, dict[str, np.ndarray]] = {}

    def on_train_begin(self, run):
        if run.epoch > 0 and run.folder.snapshots_file.is_file():  # a resume: the frames written before
            self.frames = {e: s for e, s in read_snapshots(run.folder).items() if e <= run.epoch}
        if run.epoch == 0:
            self._keep(run, 0)

    def on_epoch_end(self, run, epoch, row):
        if (epoch + 1) % self.every == 0:
            self._keep(run, epoch + 1)

    def on_interrupt(self, run, position):
        self.write(run)

    def on_run_end(self, run):
        if run.position is None and run.epoch not in self.frames:  # the last epoch, where K does not divide it
            self._keep(run, run.epoch)
        self.write(run)

    def _keep(self, run, epoch: int) -> None:
        self.frames[epoch] = {k: v.copy() for k, v in run.net.state_dict().items()}

    def write(self, run) -> None:
        tensors = {f"{epoch:06d}.{k}": v for epoch, state in self.frames.items() for k, v in state.items()}
        meta = {"snapshots": FORMAT, "epochs": sorted(self.frames), "every": self.every}
        run.folder.save_snapshots(tensors, meta)


def read_snapshots(folder) -> dict[int, dict[str, np.ndarray]]:
    """The frames of a run folder's snapshots file: epoch → the network's state dict (parameters and buffers)."""
    from nnlab.errors import CheckpointError
    from nnlab.runs.checkpoint import load_checkpoint, subset

    tensors, meta = load_checkpoint(folder.snapshots_file)
    if meta.get("snapshots") != FORMAT:
        raise CheckpointError(f"'{folder.snapshots_file}' is not an nnlab snapshots file")
    return {int(e): subset(tensors, f"{int(e):06d}") for e in meta.get("epochs", [])}
