"""``nnlab train CONFIG --members K``: an ensemble of K runs, trained one after the other (``nnlab.ensemble``)."""

from __future__ import annotations

import json

import click


def train_members(cfg, k: int, runs_dir, overfit, quiet: bool, as_json: bool, report) -> None:
    """Train the members with the run's progress display, then show the ensemble beside its members;
    ``report(result, quiet, as_json)`` (nnlab train's) tells of a member that did not finish."""
    from nnlab.cli.render import console, progress
    from nnlab.ensemble import member_configs
    from nnlab.ensemble import train_members as train_all

    if overfit is not None:
        raise click.UsageError("--members trains whole runs: it does not go with --overfit")
    member_configs(cfg, k)  # a bad K is refused before any folder is made
    show = not quiet and not as_json
    out = console()

    def announce(i, member):
        if show:
            out.print(f"[bold]member {i + 1} of {k}[/bold] (seed {member.seed})")

    result = train_all(cfg, k, runs_dir, callbacks=lambda: [progress(out)] if show else [], on_member=announce)
    if result.status != "completed":  # the member that stopped says why, and how to continue it
        report(result.members[-1], quiet, as_json)
        return
    if as_json:
        click.echo(json.dumps({"folder": str(result.folder), **result.summary}, indent=2))
        return
    if not quiet:
        _show(out, result)


def _show(out, result) -> None:
    from rich.table import Table

    from nnlab.cli.eval import tables
    from nnlab.cli.render import fmt

    s = result.summary
    t = Table(title=f"{len(s['members'])} members, test figures of their best checkpoints")
    t.add_column("figure")
    for col in ("mean", "std", "min", "max"):
        t.add_column(col, justify="right")
    for key, row in s.get("member_test", {}).items():
        t.add_row(key, *(fmt(row[c]) for c in ("mean", "std", "min", "max")))
    out.print(t)
    out.print(tables(result.report)[0])
    chosen = s["checkpoint"]
    why = " (the best of best / swa / ema on the validation split)" if s.get("validation") else ""
    out.print(f"ensemble of the {chosen} checkpoints{why}, on the {s['split']} split", markup=False)
    out.print(f"ensemble folder: {result.folder}", soft_wrap=True, markup=False)
