"""TensorBoard event files of a run, written by tensorboardX (an optional extra: ``pip install
'nnlab[tensorboard]'``): every metrics column as a scalar per epoch, and the resolved config with the final
figures as an HParams session, so that TensorBoard's HParams tab compares the runs (a sweep's trials) side by
side.

``TensorBoardLogger`` writes them during training (``training.tensorboard: true``, ``nnlab train
--tensorboard``) into the run folder's ``tensorboard/``; ``nnlab export tensorboard`` (``nnlab.export``)
writes the same from a finished run's metrics.csv, config.yaml and summary.json.
"""

from __future__ import annotations

import json
import math

from nnlab.errors import NnlabError
from nnlab.training.callbacks import Callback

#: the run folder's subfolder that live event files go to
SUBFOLDER = "tensorboard"

#: a run's status as TensorBoard's HParams session status (a running run has no session end)
STATUS = {
    "completed": "STATUS_SUCCESS",
    "stopped_early": "STATUS_SUCCESS",
    "converged": "STATUS_SUCCESS",
    "diverged": "STATUS_FAILURE",
    "failed": "STATUS_FAILURE",
    "interrupted": "STATUS_ABORTED",
    "pruned": "STATUS_ABORTED",
}


def require(what: str = "TensorBoard event files"):
    """The tensorboardX module; a one-line error naming the pip install where it is missing."""
    try:
        import tensorboardX
    except ImportError:
        raise NnlabError(f"{what} need tensorboardX, not installed: pip install 'nnlab[tensorboard]'") from None
    return tensorboardX


def hparams_of(config: dict, prefix: str = "") -> dict:
    """A config as HParams: dotted keys (``optimizer.lr``) to numbers, booleans or strings; a list as its
    JSON text (``model.hidden``: ``[32, 32]``); null values left out."""
    out = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(hparams_of(value, name + "."))
        elif isinstance(value, (bool, int, float, str)):
            out[name] = value
        elif value is not None:
            out[name] = json.dumps(value)
    return out


class EventWriter:
    """One run's event files in ``logdir``."""

    def __init__(self, logdir, flush_secs: int = 2):
        self.writer = require().SummaryWriter(logdir=str(logdir), flush_secs=flush_secs)

    def scalars(self, row: dict, step: int) -> None:
        """Every number of ``row`` as a scalar at ``step`` (missing and NaN values left out)."""
        for tag, value in row.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value):
                self.writer.add_scalar(tag, value, step)

    def session_start(self, config: dict) -> None:
        from tensorboardX.summary import hparams

        _, start, _ = hparams(hparams_of(config), {})
        self.writer.file_writer.add_summary(start)

    def session_end(self, status: str) -> None:
        """The end of the HParams session with the run's status (nothing for a run still running)."""
        if status not in STATUS:
            return
        from tensorboardX.proto.api_pb2 import Status
        from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData
        from tensorboardX.summary import hparams

        _, _, end = hparams({}, {})  # tensorboardX's session end (success), given the run's status
        plugin = end.value[0].metadata.plugin_data
        content = HParamsPluginData.FromString(plugin.content)
        content.session_end_info.status = Status.Value(STATUS[status])
        plugin.content = content.SerializeToString()
        self.writer.file_writer.add_summary(end)

    def finish(self, summary: dict, step: int) -> None:
        """The test figures (as scalars at the last epoch) and the session's end."""
        self.scalars(summary.get("test") or {}, step)
        self.session_end(summary.get("status", ""))

    def close(self) -> None:
        self.writer.close()


class TensorBoardLogger(Callback):
    """``training.tensorboard``: the run's events in ``<run folder>/tensorboard/`` as it trains (a resumed run
    adds a file there and continues from its epoch)."""

    def __init__(self):
        require("training.tensorboard: TensorBoard event files")
        self.writer: EventWriter | None = None

    def on_train_begin(self, run):
        self.writer = EventWriter(run.run_dir / SUBFOLDER)
        self.writer.session_start(run.config_dict)

    def on_epoch_end(self, run, epoch, row):
        self.writer.scalars(row, epoch + 1)

    def on_train_end(self, run, summary):
        if self.writer is not None:
            self.writer.finish(summary, run.epoch)
            self.writer.close()
            self.writer = None
