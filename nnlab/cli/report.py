"""``nnlab report RUN_DIR | SWEEP_DIR``: one self-contained HTML page of a run or a sweep."""

from __future__ import annotations

import click

from nnlab.cli import say
from nnlab.cli.options import COMMAND


@click.command(context_settings=COMMAND)
@click.argument("folder", metavar="RUN_DIR|SWEEP_DIR", type=click.Path())
@click.option(
    "-o",
    "--output",
    default=None,
    metavar="FILE.html",
    help="Where to write the page (default: RUN_DIR/report.html, SWEEP_DIR/report.html).",
)
def report(folder, output):
    """Write a run's or a sweep's results as one HTML page to open in a browser: figures embedded, nothing
    fetched, no server; it prints to PDF from the browser.

    A run: the summary, the learning curves, the evaluation on the test split (confusion matrix and
    per-class precision / recall / F1 for a classifier), and where they apply the decision boundary and
    every unit over the input plane (2 inputs), the first layer's weights (images), the gradients
    (training.diagnostics); then the resolved config.

    A sweep: the search, the metric against each hyper-parameter, the trials as a table that sorts by
    any column, and a link to each trial's own page, written as report.html in the trial's folder.

    \b
    Example:  nnlab report runs/moons-20250101-120000-ab12
              nnlab report runs/sweeps/moons-sweep-A -o moons-sweep.html
    """
    from nnlab.report import write_report

    paths = write_report(folder, output)
    more = f" (and {len(paths) - 1} trial pages)" if len(paths) > 1 else ""
    say(f"wrote {paths[0]}{more}")
