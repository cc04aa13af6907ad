"""``nnlab plot RUN_DIR…``: learning curves and, with --boundary, decision regions (a PNG file)."""

from __future__ import annotations

import click

from nnlab.cli.options import COMMAND, checkpoint_option


@click.command(context_settings=COMMAND)
@click.argument("run_dirs", nargs=-1, required=True, metavar="RUN_DIR...", type=click.Path())
@click.option(
    "-o",
    "--output",
    default=None,
    metavar="FILE.png",
    help="Where to write the figure (default: RUN_DIR/curves.png for one run, ./curves.png for several).",
)
@click.option("--boundary", is_flag=True, help="Also draw each model's decision regions (2-D classification data).")
@checkpoint_option("best", "Checkpoint whose decision regions --boundary draws.")
def plot(run_dirs, output, boundary, checkpoint):
    """Plot the loss and accuracy (R² for regression) per epoch, train vs val, of one or several runs:
    each run's best epoch is starred and an early stop drawn as a dotted line; a learning-rate panel is
    added when the lr changes during a run. Classification and regression runs get a row of axes each
    (their losses are not comparable), with a warning.

    \b
    A sweep's folder gives its search: the best metric against the epochs spent, and every trial's curve.

    \b
    Example:  nnlab plot runs/moons-20250101-120000-ab12 --boundary -o moons.png
              nnlab plot runs/sweeps/moons-sweep-20250101-120000-cd34
    """
    from pathlib import Path

    from nnlab.plotting import plot_runs

    if len(run_dirs) == 1 and (Path(run_dirs[0]) / "sweep.yaml").is_file():  # a sweep folder: its search figure
        from nnlab.sweep.figure import plot_sweep

        click.echo(f"wrote {plot_sweep(run_dirs[0], output)}")
        return

    if output is None:
        output = Path(run_dirs[0]) / "curves.png" if len(run_dirs) == 1 else Path("curves.png")
    _check_output(Path(output))
    path = plot_runs(run_dirs, output, boundary=boundary, checkpoint=checkpoint)
    click.echo(f"wrote {path}")


def _check_output(out) -> None:
    """A figure that could not be written is refused before anything is drawn (the other checks of -o are
    ``plot_runs``'s)."""
    from nnlab.atomic import check_writable
    from nnlab.errors import NnlabError

    if out.is_dir():
        raise NnlabError(f"-o: '{out}' is a folder; give the name of the PNG file to write")
    if out.parent.is_dir():
        check_writable(out.parent, f"the figure '{out}'")
