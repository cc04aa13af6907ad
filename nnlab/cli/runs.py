"""``nnlab runs [DIR]``: a table of the run folders in DIR."""

from __future__ import annotations

import click

from nnlab.cli.options import COMMAND


@click.command(context_settings=COMMAND)
@click.argument("folder", required=False, default="runs", metavar="[DIR]", type=click.Path())
@click.option(
    "--sort",
    "sort_by",
    default=None,
    metavar="COLUMN",
    help="Column to sort by (name, status, epochs, val_loss, val_accuracy, test_accuracy, seconds, ...); "
    "metrics sort best first. Default: name; in a sweep folder, the sweep's metric.",
)
@click.option("-r", "--reverse", is_flag=True, help="Reverse the order.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON on stdout.")
def runs(folder, sort_by, reverse, as_json):
    """List the run folders in DIR (default: runs): name, status, epochs, the best epoch's validation
    metrics, the test metrics and the wall time, from each run's summary.json. In a sweep folder, each
    trial's best value of the sweep's metric and its epoch, best first. A narrow terminal keeps the name,
    status, epochs and main metrics; --json gives every column.

    A run killed without a chance to say so (SIGKILL, a crash, a reboot) is shown `stale`: its summary
    says running but no process trains it; continue it with nnlab train --resume RUN.

    \b
    Example:  nnlab runs runs --sort val_accuracy
    """
    import json

    from nnlab.cli.render import console
    from nnlab.runs.listing import list_runs, sort_runs, sweep_metric

    metric, mode = sweep_metric(folder) or (None, "auto")
    if sort_by is None:
        sort_by = metric or "name"
    rows = sort_runs(list_runs(folder), sort_by, reverse, mode if sort_by == metric else "auto")
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    out = console()
    if not rows:
        out.print(f"no run folders in {folder}")
    _sweeps_hint(folder)
    if rows:
        _table(out, folder, rows, sort_by, metric)


def _sweeps_hint(folder) -> None:
    from pathlib import Path

    sweeps = Path(folder) / "sweeps"
    if sweeps.is_dir() and any(sweeps.iterdir()):
        click.echo(f"(a sweep's trials are run folders too: nnlab runs {sweeps}/NAME)", err=True)


def _table(out, folder, rows, sort_by, metric) -> None:
    from pathlib import Path

    from rich.markup import escape

    from nnlab.runs.listing import STALE, by_priority, columns

    cols = columns(rows, metric=metric)
    cells = {c: [_cell(r, c) for r in rows] for c in cols}
    shown = by_priority(cols, first=sort_by, metric=metric)
    while len(shown) > 1 and not _fits(out, _build(shown, cols, cells, metric)):
        shown.pop()  # a narrow terminal: leave out the least telling column
    table = _build(shown, cols, cells, metric)
    if metric:
        table.title = escape(f"sweep {Path(folder).resolve().name}: {len(rows)} trials, sorted by {sort_by}")
        table.caption = escape(f"best {metric} of each trial over its epochs, at that epoch")
    else:
        table.title = escape(f"runs in {folder} ({len(rows)}), sorted by {sort_by}")
    out.print(table)
    hidden = [c for c in cols if c not in shown]
    if hidden:
        out.print(f"(not shown for want of width: {', '.join(hidden)}; see --json)")
    stale = [r for r in rows if r["status"] == STALE]
    if stale:
        which = "a run" if len(stale) == 1 else f"{len(stale)} runs"
        out.print(
            f"{STALE}: {which} whose summary says running, but no process trains it any more (killed?); continue it with:"
        )
        out.print(f"  nnlab train --resume {escape(stale[0]['path'])}", soft_wrap=True)


def _build(shown, cols, cells, metric):
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    shown = [c for c in cols if c in shown]  # in display order
    for c in shown:
        if c in ("name", "status"):
            t.add_column(_header(c, metric), overflow="fold")
        else:
            t.add_column(_header(c, metric), justify="right", no_wrap=True)
    for i in range(len(cells["name"])):
        t.add_row(*(_styled(cells[c][i]) if c == "status" else escape(cells[c][i]) for c in shown))
    return t


def _styled(status: str) -> str:
    from nnlab.runs.listing import STALE

    return {STALE: f"[yellow]{STALE}[/yellow]", "running": "[cyan]running[/cyan]"}.get(status, status)


def _fits(out, table) -> bool:
    from rich.measure import Measurement

    unbounded = out.options.update_width(10_000)  # the width the table wants, not the width it would get
    return Measurement.get(out, unbounded, table).maximum <= out.width


def _cell(row: dict, col: str) -> str:
    from nnlab.cli.render import fmt

    v = row.get(col)
    if col == "epochs" and v is not None and row.get("epochs_planned"):
        return f"{v}/{row['epochs_planned']}"
    if col == "seconds" and v is not None:
        return _duration(v)
    return fmt(v)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = round(seconds) // 60
    if minutes < 60:
        return f"{minutes}m{round(seconds) % 60:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _header(col: str, metric: str | None = None) -> str:
    short = col.replace("accuracy", "acc").replace("_", " ")
    if col == metric:  # the sweep's metric: each trial's best value of it, at the epoch beside it
        return f"best\n{short}"
    if metric and col == "best_epoch":
        return "at\nepoch"
    return {"best_epoch": "best\nepoch", "seconds": "time"}.get(col, short.replace(" ", "\n"))
