"""Options that several commands share, declared once."""

from __future__ import annotations

import click

COMMAND = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

overrides_option = click.option(
    "-o",
    "--override",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config value by dotted path, parsed as YAML (repeatable): -o optimizer.lr=0.01",
)


def checkpoint_option(default: str | None, help: str):
    return click.option(
        "-c", "--checkpoint", default=default, show_default=default is not None, metavar="best|last|FILE", help=help
    )
