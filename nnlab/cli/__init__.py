"""The ``nnlab`` command line: a Click group, one module per command.

Only this package imports click and rich. Library code raises ``NnlabError`` for user errors; the group
prints the message (red, unless NO_COLOR) and exits with status 2 — never a traceback; Ctrl-C exits 130.
"""

from __future__ import annotations

import sys
import warnings

import click

from nnlab import __version__
from nnlab.cli.options import COMMAND


class NnlabGroup(click.Group):
    def invoke(self, ctx):
        from nnlab.errors import NnlabError

        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            try:
                return super().invoke(ctx)
            except NnlabError as e:
                error(str(e))
                ctx.exit(2)
            except KeyboardInterrupt:  # Ctrl-C outside a training loop (which handles its own)
                error("interrupted")
                ctx.exit(130)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    click.secho(f"warning: {message}", fg="yellow", err=True)


def error(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)


@click.group(cls=NnlabGroup, context_settings=COMMAND)
@click.version_option(__version__, "-V", "--version", prog_name="nnlab")
def main():
    """Train and study multi-layer perceptrons in NumPy from one YAML file.

    \b
    Start with:  nnlab train configs/xor.yaml
    Then:        nnlab runs              (the run folders, their status and metrics)
                 nnlab eval runs/RUN     (figures on the test split; several runs = an ensemble)
                 nnlab components        (every activation, loss, optimizer, ...)
    """


def _register():
    from nnlab.cli import components, eval, gradcheck, plot, predict, runs, sweep, train

    main.add_command(train.train)
    main.add_command(eval.eval_)
    main.add_command(predict.predict)
    main.add_command(runs.runs)
    main.add_command(plot.plot)
    main.add_command(gradcheck.gradcheck)
    main.add_command(sweep.sweep)
    main.add_command(components.components)


_register()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
