"""``nnlab components [KIND]``: the registry as a table."""

from __future__ import annotations

import click

from nnlab.cli.options import COMMAND


@click.command(context_settings=COMMAND)
@click.argument("kind", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def components(kind, as_json):
    """List the registered components (of one KIND: activation, loss, initializer, optimizer, schedule,
    regularizer, layer, dataset), with their arguments and defaults.

    \b
    Example:  nnlab components activation
    """
    import inspect
    import json

    from nnlab.registry import KINDS, registry

    kinds = [registry(kind).kind] if kind else list(KINDS)
    rows = []
    for k in kinds:
        reg = registry(k)
        for name in reg.names():
            args = []
            for pname, p in reg.arguments(name, exclude=("rng",)).items():
                args.append(pname if p.default is inspect.Parameter.empty else f"{pname}={p.default!r}")
            rows.append(
                {
                    "kind": k,
                    "name": name,
                    "aliases": reg.aliases(name),
                    "arguments": args,
                    "description": reg.describe(name),
                }
            )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    from nnlab.cli.render import console

    table = Table(title="nnlab components", show_lines=False)
    for col in ("kind", "name", "arguments", "description"):
        table.add_column(col, overflow="fold")
    for r in rows:
        name = r["name"] + (f" ({', '.join(r['aliases'])})" if r["aliases"] else "")
        table.add_row(r["kind"], name, ", ".join(r["arguments"]), r["description"])
    console().print(table)
