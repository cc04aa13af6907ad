"""``nnlab gradcheck CONFIG``: backprop against finite differences."""

from __future__ import annotations

import click

from nnlab.cli.options import COMMAND, COUNT, POSITIVE, overrides_option


@click.command(context_settings=COMMAND)
@click.argument("config", type=click.Path(dir_okay=False))
@overrides_option
@click.option("--samples", type=COUNT, default=8, show_default=True, help="Training examples in the checked batch.")
@click.option("--eps", type=POSITIVE, default=1e-5, show_default=True, help="Step ε of the centred differences.")
@click.option("--tol", type=POSITIVE, default=1e-6, show_default=True, help="Largest relative error that passes.")
@click.option(
    "--max-entries",
    type=COUNT,
    default=200,
    show_default=True,
    help="Entries checked per tensor: all of smaller ones, a seeded sample of larger ones.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def gradcheck(config, overrides, samples, eps, tol, max_entries, as_json):
    """Prove the backpropagation of CONFIG's network against centred finite differences
    (J(θ+ε) − J(θ−ε)) / 2ε, in float64, for every parameter tensor and the input.

    Exit status 0 when every tensor passes, 1 when any fails, 2 for a bad config.

    \b
    Example:  nnlab gradcheck configs/moons.yaml --samples 16
    """
    import json

    from nnlab.config import load_config
    from nnlab.gradient_check import gradcheck as run_gradcheck

    report = run_gradcheck(
        load_config(config, list(overrides)), samples=samples, eps=eps, tol=tol, max_entries=max_entries
    )
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        from rich.table import Table

        from nnlab.cli.render import console

        t = Table(  # the settings under the table: above it, they broke the title's line at 80 columns
            title=f"gradcheck {config}: {'PASS' if report.passed else 'FAIL'}",
            caption=f"{report.samples} examples, ε = {eps:g}, tol = {tol:g}, float64",
        )
        for col, just in (
            ("tensor", "left"),
            ("shape", "left"),
            ("checked", "right"),
            ("max rel. error", "right"),
            ("max abs. error", "right"),
            ("", "left"),
        ):
            t.add_column(col, justify=just)
        for c in report.checks:
            t.add_row(
                c.name,
                "×".join(map(str, c.shape)),
                str(c.checked),
                f"{c.max_rel_error:.2e}",
                f"{c.max_abs_error:.2e}",
                ("[green]pass[/green]" if c.passed else "[red]FAIL[/red]")
                + (f" ε={c.eps:g}" if c.eps != report.eps else ""),
            )
        console().print(t)
        if any(c.eps != report.eps for c in report.checks):
            console().print(
                f"A tensor marked ε=… failed at ε = {eps:g} and passed at that smaller step: the centred "
                "difference's truncation error, not the backward (large weights or batch norm make it large)."
            )
        if not report.passed:
            console(stderr=True).print(f"[red]gradient check failed for: {', '.join(report.failing)}[/red]")
    raise SystemExit(0 if report.passed else 1)
