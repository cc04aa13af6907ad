"""``nnlab export tensorboard PATH``: runs as TensorBoard event files (``nnlab.export``)."""

from __future__ import annotations

import click

from nnlab.cli import say
from nnlab.cli.options import COMMAND


@click.group(context_settings=COMMAND)
def export():
    """Write runs in another tool's format.

    \b
    Example:  nnlab export tensorboard runs/ -o tb && tensorboard --logdir tb
    """


@export.command(context_settings=COMMAND)
@click.argument("path", metavar="RUN_DIR|SWEEP_DIR|RUNS_DIR", type=click.Path())
@click.option(
    "-o",
    "--output",
    "logdir",
    default="tensorboard",
    show_default=True,
    metavar="LOGDIR",
    type=click.Path(),
    help="Folder that receives one subfolder of event files per run (for tensorboard --logdir LOGDIR).",
)
def tensorboard(path, logdir):
    """Write TensorBoard event files of every run folder under PATH (a run, a sweep, a folder of runs).

    Each run gets LOGDIR/<its path below PATH>/: every column of metrics.csv as a scalar per epoch, the
    test figures at the last epoch, and the resolved config (config.yaml) with the run's status as an
    HParams session, so that TensorBoard's HParams tab compares a sweep's trials. Exporting again replaces
    what an earlier export wrote there; the runs are only read. Needs tensorboardX:
    pip install 'nnlab[tensorboard]'. To write the events while training instead: nnlab train --tensorboard
    (or training.tensorboard: true), into RUN_DIR/tensorboard/.

    \b
    Example:  nnlab export tensorboard runs/moons-sweep-20250101-120000-ab12 -o tb
              tensorboard --logdir tb
    """
    from nnlab.export import export_tensorboard

    done = export_tensorboard(path, logdir)
    for _, where, epochs in done:
        click.echo(f"{where}: {epochs} epoch{'s' * (epochs != 1)}")
    say(f"wrote {len(done)} run{'s' * (len(done) != 1)} to {logdir}; view them with: tensorboard --logdir {logdir}")
