"""``nnlab init DATASET [-o FILE]``: a commented starter config, sized from the data; ``--list`` the datasets."""

from __future__ import annotations

import click

from nnlab.cli import say
from nnlab.cli.options import COMMAND


@click.command(context_settings=COMMAND)
@click.argument("dataset", required=False)
@click.argument("dataset_args", nargs=-1, metavar="[KEY=VALUE]...")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="Write the config to FILE (default: print it on stdout).",
)
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@click.option("--list", "show_list", is_flag=True, help="List the datasets and the shipped example configs.")
def init(dataset, dataset_args, output, force, show_list):
    """Write a starter config for DATASET, a dataset of the registry: the network, loss, optimizer,
    schedule and training settings chosen from the data (its task, size, features and classes), each key
    commented. Edit it, then train it.

    A dataset read from your file takes its arguments as KEY=VALUE (parsed as YAML), and the config is
    sized from that file; without them (nnlab init csv) you get a template whose values marked ← are to
    be filled in. DATASET may also name a shipped example config (configs/moons.yaml), to copy and edit.

    \b
    Example:  nnlab init moons -o moons.yaml && nnlab train moons.yaml
              nnlab init csv path=penguins.csv target=species -o penguins.yaml
              nnlab init configs/fashion_mnist.yaml -o fashion.yaml  # a copy
              nnlab init --list
    """
    if show_list or dataset is None:
        if dataset_args or output:
            raise click.UsageError("--list takes no DATASET, KEY=VALUE or -o")
        _print_list()
        return
    from nnlab.examples import SUFFIXES, example_text

    if dataset.endswith(SUFFIXES):
        if dataset_args:
            raise click.UsageError("a shipped example is copied as it is: give no KEY=VALUE")
        text = example_text(dataset)
    else:
        from nnlab.starter import starter_config

        text = starter_config(dataset, _parse_arguments(dataset_args), filename=output)
    if output is None:
        click.echo(text, nl=False)
        return
    _write(output, text, force)
    say(f"wrote {output}; train it with: nnlab train {_quote(output)}", err=True)


def _parse_arguments(items) -> dict:
    import yaml

    from nnlab.config.yamlio import load_yaml  # numbers as users write them: 1e-3
    from nnlab.errors import ConfigError

    args = {}
    for item in items:
        key, eq, text = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"dataset argument '{item}' must look like KEY=VALUE (e.g. path=data.csv)")
        try:
            args[key.strip()] = load_yaml(text) if text.strip() else None
        except yaml.YAMLError:
            raise ConfigError(f"dataset argument '{item}': the value '{text}' is not valid YAML") from None
    return args


def _write(output: str, text: str, force: bool) -> None:
    from pathlib import Path

    from nnlab.atomic import atomic_write
    from nnlab.errors import NnlabError

    path = Path(output)  # not a folder: click checks that
    if path.exists() and not force:
        raise NnlabError(f"-o {output}: the file exists; give --force to overwrite it, or another name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text)
    except OSError as e:
        raise NnlabError(f"-o {output}: cannot write it: {e.strerror or e}") from None


def _quote(path: str) -> str:
    import shlex

    return shlex.quote(path)


def _print_list() -> None:
    from nnlab.examples import example_names
    from nnlab.starter import known_datasets

    out = click.HelpFormatter(max_width=100)
    with out.section("Datasets (nnlab init DATASET -o FILE)"):
        out.write_dl(known_datasets())
    with out.section("Shipped examples (nnlab train configs/NAME, from any folder)"):  # a heading is not wrapped
        out.write_text(", ".join(example_names()))
        out.write_paragraph()
        out.write_text("A copy to edit: nnlab init configs/NAME -o FILE")
    click.echo(out.getvalue(), nl=False)
