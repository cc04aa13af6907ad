"""``nnlab train CONFIG``."""

from __future__ import annotations

import click


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--override",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config value by dotted path, parsed as YAML (repeatable): -o optimizer.lr=0.01",
)
@click.option(
    "--runs-dir",
    default="runs",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder that receives the run folder.",
)
@click.option("--seed", type=int, default=None, help="Override the config's seed.")
@click.option(
    "--overfit",
    type=int,
    default=None,
    metavar="N",
    help="Train on N examples only, to check that the model can fit them (sanity check).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or tables.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary as JSON on stdout.")
def train(config, overrides, runs_dir, seed, overfit, quiet, as_json):
    """Train the network described by CONFIG (a YAML file) and write a run folder.

    \b
    Example:  nnlab train configs/moons.yaml -o optimizer.lr=0.01 -o model.hidden=[32,32]
    """
    import json

    from nnlab.cli.render import RichProgress, console, is_terminal, summary_table
    from nnlab.config import load_config
    from nnlab.training.trainer import train as run_training

    cfg = load_config(config, list(overrides), seed=seed)
    show = not quiet and not as_json
    callbacks = [RichProgress()] if show and is_terminal() else []
    result = run_training(cfg, runs_dir, callbacks=callbacks, overfit=overfit)
    if as_json:
        click.echo(json.dumps({"run_dir": str(result.run_dir), **result.summary}, indent=2))
    elif not quiet:
        out = console()
        out.print(summary_table(result.summary))
        out.print(f"run folder: {result.run_dir}")
    if result.status == "diverged":
        from nnlab.cli import error

        error(result.summary["reason"])
        raise SystemExit(1)
