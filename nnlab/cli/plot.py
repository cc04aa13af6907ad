"""``nnlab plot RUN_DIR…``: learning curves and, with --boundary, decision regions (a PNG file)."""

from __future__ import annotations

import click

from nnlab.cli import say
from nnlab.cli.options import COMMAND, checkpoint_option


@click.command(context_settings=COMMAND)
@click.argument("run_dirs", nargs=-1, required=True, metavar="RUN_DIR...", type=click.Path())
@click.option(
    "-o",
    "--output",
    default=None,
    metavar="FILE.png",
    help="Where to write the figure (default: RUN_DIR/curves.png for one run, ./curves.png for several); "
    "FILE.gif for --animate.",
)
@click.option("--boundary", is_flag=True, help="Also draw each model's decision regions (2-D classification data).")
@checkpoint_option("best", "Checkpoint whose decision regions --boundary (units --neurons, weights --weights) draws.")
@click.option(
    "--gradients",
    is_flag=True,
    help="Instead: each weight layer's gradient norm and update ratio per epoch, as training.diagnostics: true "
    "recorded them (RUN_DIR/gradients.png).",
)
@click.option(
    "--neurons",
    is_flag=True,
    help="Instead: every unit's output over the plane of 2 input features, a row per layer (RUN_DIR/neurons.png).",
)
@click.option(
    "--animate",
    is_flag=True,
    help="Instead: a GIF of the decision boundary (2-D classification) or the fitted curve (1-D regression) over "
    "the epochs, from training.snapshots or training.checkpoint_every (RUN_DIR/animation.gif).",
)
@click.option(
    "--weights",
    is_flag=True,
    help="Instead: the first layer's weight vectors as images, one panel per unit (image data: Fashion-MNIST, "
    "digits, IDX, npz images or data.image_shape) (RUN_DIR/weights.png).",
)
def plot(run_dirs, output, boundary, checkpoint, gradients, neurons, animate, weights):
    """Plot the loss and accuracy (R² for regression) per epoch, train vs val, of one or several runs:
    each run's best epoch is starred and an early stop drawn as a dotted line; a learning-rate panel is
    added when the lr changes during a run. Classification and regression runs get a row of axes each
    (their losses are not comparable), with a warning.

    \b
    A sweep's folder gives its search: the best metric against the epochs
    spent, and every trial's curve.
    One run's insides: --gradients, --neurons, --animate, --weights (one of
    them, each its own file).

    \b
    Example:  nnlab plot runs/moons-20250101-120000-ab12 --boundary -o moons.png
              nnlab plot runs/sweeps/moons-sweep-20250101-120000-cd34
              nnlab plot runs/moons-20250101-120000-ab12 --animate -o moons.gif
              nnlab plot runs/digits-20250101-120000-ef56 --weights
    """
    from pathlib import Path

    from nnlab.plotting import plot_runs

    flags = (("--gradients", gradients), ("--neurons", neurons), ("--animate", animate), ("--weights", weights))
    views = [f for f, on in flags if on]
    if views:
        say(f"wrote {_view(views, run_dirs, output, boundary, checkpoint)}")
        return

    if len(run_dirs) == 1 and (Path(run_dirs[0]) / "sweep.yaml").is_file():  # a sweep folder: its search figure
        from nnlab.sweep.figure import plot_sweep

        say(f"wrote {plot_sweep(run_dirs[0], output)}")
        return

    if output is None:
        output = Path(run_dirs[0]) / "curves.png" if len(run_dirs) == 1 else Path("curves.png")
    _check_output(Path(output))
    path = plot_runs(run_dirs, output, boundary=boundary, checkpoint=checkpoint)
    say(f"wrote {path}")


def _check_output(out) -> None:
    """A figure that could not be written is refused before anything is drawn (the other checks of -o are
    ``plot_runs``'s)."""
    from nnlab.atomic import check_writable
    from nnlab.errors import NnlabError

    if out.is_dir():
        raise NnlabError(f"-o: '{out}' is a folder; give the name of the PNG file to write")
    if out.parent.is_dir():
        check_writable(out.parent, f"the figure '{out}'")


#: the file each view of one run writes by default, in the run's folder
VIEWS = {
    "--gradients": "gradients.png",
    "--neurons": "neurons.png",
    "--animate": "animation.gif",
    "--weights": "weights.png",
}


def _view(views, run_dirs, output, boundary, checkpoint):
    """One run's --gradients, --neurons or --animate figure; returns the path written."""
    from pathlib import Path

    from nnlab.errors import NnlabError

    flag = views[0]
    if len(views) > 1 or boundary:
        given = views + (["--boundary"] if boundary else [])
        raise NnlabError(f"{' and '.join(given)}: give one of them at a time (each writes its own file)")
    if len(run_dirs) != 1:
        raise NnlabError(f"{flag} draws one run; give one RUN_DIR (got {len(run_dirs)})")
    from nnlab.runs.folder import RunFolder

    run = RunFolder.open(run_dirs[0]).path
    out = Path(output) if output is not None else run / VIEWS[flag]
    _check_output(out)
    if flag == "--gradients":
        from nnlab.figures.gradients import plot_gradients

        return plot_gradients(run, out)
    if flag == "--neurons":
        from nnlab.figures.neurons import plot_neurons

        return plot_neurons(run, out, checkpoint)
    if flag == "--weights":
        from nnlab.figures.weights import plot_weights

        return plot_weights(run, out, checkpoint)
    from nnlab.figures.animation import animate_run

    return animate_run(run, out)
