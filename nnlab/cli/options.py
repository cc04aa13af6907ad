"""Options that several commands share, declared once."""

from __future__ import annotations

import math

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


class FiniteFloatRange(click.FloatRange):
    """``click.FloatRange`` that refuses nan and inf too (nan passes every comparison with a bound)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


#: a number > 0 (a tolerance, a step)
POSITIVE = FiniteFloatRange(min=0, min_open=True)
#: a count of at least one
COUNT = click.IntRange(min=1)
#: a seed: any integer >= 0
SEED = click.IntRange(min=0)
