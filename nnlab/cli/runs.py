"""``nnlab runs [DIR]``: a table of the run folders in DIR."""

from __future__ import annotations

import click

from nnlab.cli.options import COMMAND


@click.command(context_settings=COMMAND)
@click.argument("folder", required=False, default="runs", metavar="[DIR]", type=click.Path())
@click.option(
    "--sort",
    "sort_by",
    default="name",
    show_default=True,
    metavar="COLUMN",
    help="Column to sort by (name, status, epochs, val_loss, val_accuracy, test_accuracy, seconds, ...); "
    "metrics sort best first.",
)
@click.option("-r", "--reverse", is_flag=True, help="Reverse the order.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON on stdout.")
def runs(folder, sort_by, reverse, as_json):
    """List the run folders in DIR (default: runs): name, status, epochs, the best epoch's validation
    metrics, the test metrics and the wall time, from each run's summary.json.

    \b
    Example:  nnlab runs runs --sort val_accuracy
    """
    import json
    from pathlib import Path

    from nnlab.cli.render import console
    from nnlab.runs.listing import columns, list_runs, sort_runs

    rows = sort_runs(list_runs(folder), sort_by, reverse)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    out = console()
    if not rows:
        out.print(f"no run folders in {folder}")
    sweeps = Path(folder) / "sweeps"
    if sweeps.is_dir() and any(sweeps.iterdir()):
        click.echo(f"(a sweep's trials are run folders too: nnlab runs {sweeps}/NAME)", err=True)
    if not rows:
        return
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    cols = columns(rows)
    cells = {c: [_cell(r, c) for r in rows] for c in cols}
    hidden = []
    for c in _DROP_FIRST:  # a narrow terminal: leave out the least telling columns first
        if _width(cols, cells) <= out.width:
            break
        if c in cols:
            cols.remove(c)
            hidden.append(c)
    t = Table(title=escape(f"runs in {folder} ({len(rows)}), sorted by {sort_by}"), box=box.SIMPLE_HEAD, pad_edge=False)
    for c in cols:
        if c in ("name", "status"):
            t.add_column(_header(c), overflow="fold")
        else:
            t.add_column(_header(c), justify="right", no_wrap=True)
    for i in range(len(rows)):
        t.add_row(*(escape(cells[c][i]) for c in cols))
    out.print(t)
    if hidden:
        out.print(f"(not shown for want of width: {', '.join(hidden)}; see --json)")


_DROP_FIRST = ("seconds", "best_epoch", "val_loss", "test_loss", "epochs", "status")


def _cell(row: dict, col: str) -> str:
    from nnlab.cli.render import fmt

    v = row.get(col)
    if col == "epochs" and v is not None and row.get("epochs_planned"):
        return f"{v}/{row['epochs_planned']}"
    if col == "seconds" and v is not None:
        return f"{v:.1f} s"
    return fmt(v)


def _width(cols, cells) -> int:
    widths = [max([len(x) for x in _header(c).split("\n")] + [len(x) for x in cells[c]]) for c in cols]
    return sum(widths) + 3 * (len(cols) - 1) + 2  # a space and the padding between columns, the edges


def _header(col: str) -> str:
    return {"best_epoch": "best\nepoch", "seconds": "time"}.get(col, col.replace("accuracy", "acc").replace("_", "\n"))
