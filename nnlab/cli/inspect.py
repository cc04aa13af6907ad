"""``nnlab inspect CONFIG | RUN_DIR``: one batch through the network, what each layer does with it."""

from __future__ import annotations

import click

from nnlab.cli import say
from nnlab.cli.options import COMMAND


@click.command(context_settings=COMMAND)
@click.argument("source", metavar="CONFIG|RUN_DIR", type=click.Path())
@click.option(
    "-c",
    "--checkpoint",
    default=None,
    metavar="best|last|FILE",
    help="A run's checkpoint to inspect: best (default), last, epoch-NNNN or a .safetensors file.",
)
@click.option("-s", "--split", default="train", show_default=True, metavar="SPLIT", help="train, val or test.")
@click.option("-n", "--samples", default=512, show_default=True, help="Examples in the batch: the split's first N.")
@click.option(
    "-o", "--output", default=None, metavar="FILE.png", help="Also draw each layer's histograms into FILE.png."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def inspect(source, checkpoint, split, samples, output, as_json):
    """Push a batch through a network and report, per layer with weights: the mean and standard deviation
    of its pre-activations z and activations φ(z), the fraction of tanh / sigmoid activations within 1 % of
    their bounds (saturated) or of ReLU units never active on the batch (dead), and, from one backward
    pass, ‖∂J/∂W‖ and the ratio ‖ΔW‖ / ‖W‖ of one step of the configured optimizer (deck 002: about 1e-3
    is healthy). Nothing is trained or changed.

    A CONFIG is inspected as freshly initialised (what training would start from), a RUN_DIR at one of its
    checkpoints, with its optimizer's state and learning rate. The batch runs in training mode (batch norm
    uses the batch's statistics, as a training step does).

    \b
    Example:  nnlab inspect configs/lectures/init_normal.yaml -o init_normal.png
              nnlab inspect runs/moons-A --checkpoint last --json
    """
    import json
    from pathlib import Path

    from nnlab.errors import NnlabError
    from nnlab.inspection import inspect as run_inspect

    if output is not None:
        from nnlab.figures.common import check_output

        check_output(output, ".png")  # before the work, and before anything is written
    if checkpoint is not None and not Path(source).is_dir():
        raise NnlabError(f"--checkpoint applies to a run folder; '{source}' is a config, inspected as initialised")
    report = run_inspect(source, checkpoint=checkpoint or "best", split=split, samples=samples)
    if output is not None:
        from nnlab.figures.histograms import plot_inspection

        plot_inspection(report, output)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        if output is not None:
            say(f"wrote {output}", err=True)
        return
    _render(report)
    if output is not None:
        say(f"wrote {output}")


def _render(report) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from nnlab.cli.render import console, labelled
    from nnlab.inspection import GOOD_RATIO

    out = console()
    where = f"{report.checkpoint} checkpoint, epoch {report.epoch}" if report.kind == "run" else "freshly initialised"
    out.print(f"[bold]inspect[/bold] [cyan]{escape(report.source)}[/cyan] ({where})", soft_wrap=True)
    step = f"{report.examples} {report.split} examples, loss {report.loss:.4f}; one {report.optimizer} step at lr {report.lr:g}"
    labelled(out, [("model", report.network), ("step", step)], indent=2)
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True)  # fits 80 columns
    for col in ("layer", "z mean", "z std", "φ mean", "φ std", "sat/dead", "‖∂J/∂W‖", "ΔW/W"):
        t.add_column(col, justify="left" if col == "layer" else "right", no_wrap=True)
    for la in report.layers:
        ratio = la.update_ratio
        off = ratio is not None and not GOOD_RATIO / 10 <= ratio <= GOOD_RATIO * 10
        t.add_row(
            f"{la.number} {la.activation}",
            *(_num(v) for v in (la.pre_mean, la.pre_std, la.act_mean, la.act_std)),
            _fraction(la),
            _num(la.grad_norm),
            f"[yellow]{_num(ratio)}[/yellow]" if off else _num(ratio),
        )
    out.print(t)
    for note in report.notes:
        out.print(f"[yellow]note:[/yellow] {escape(note)}")
    out.print(
        f"z: pre-activations (after batch norm), φ: activations; ΔW/W = ‖ΔW‖ / ‖W‖, about {GOOD_RATIO:g} is healthy",
        markup=False,
    )


def _num(v) -> str:
    """Two significant digits, at most 8 characters (-8.7e-11)."""
    return "–" if v is None else f"{v:.2g}"


def _fraction(la) -> str:
    if la.saturated is not None:
        return f"{la.saturated:.0%} sat"
    if la.dead is not None:
        return f"{la.dead:.0%} dead"
    return "–"
