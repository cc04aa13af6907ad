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
    def main(self, *args, **kwargs):
        from nnlab.cli.encoding import ascii_fallback

        ascii_fallback()  # an ASCII-only terminal gets φ, R², — spelled in ASCII, not a UnicodeEncodeError
        return super().main(*args, **kwargs)

    def invoke(self, ctx):
        from nnlab.errors import NnlabError

        if _no_color():  # every click.echo / secho of the command strips its escape codes
            ctx.color = False
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            try:
                return super().invoke(ctx)
            except NnlabError as e:
                error(str(e))
                ctx.exit(2)
            except click.UsageError as e:  # a command's bad option or argument: one line too, with where to look
                command = f"{ctx.info_name} {ctx.invoked_subcommand}" if ctx.invoked_subcommand else ctx.info_name
                error(f"{' '.join(e.format_message().split())} (see: {command} -h)")
                ctx.exit(2)
            except KeyboardInterrupt:  # Ctrl-C outside a training loop (which handles its own)
                error("interrupted")
                ctx.exit(130)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    say(f"warning: {message}", err=True, fg="yellow")


def error(message: str) -> None:
    say(f"error: {message}", err=True, fg="red")


def say(message: str, err: bool = False, fg: str | None = None) -> None:
    """A message of the CLI ("error: …", "warning: …", "wrote …"): whole lines in a file or a pipe (a log, grep);
    on a terminal, wrapped between words at its width, under the text after the first word, so that neither
    a word nor a path is cut in two."""
    import shutil
    import textwrap

    if a_terminal(sys.stderr if err else sys.stdout):
        width = shutil.get_terminal_size().columns
        hang = " " * min(len(message.split(" ", 1)[0]) + 1, width // 4)  # under the text, if the word is short
        wrap = {"width": width, "subsequent_indent": hang, "break_long_words": False, "break_on_hyphens": False}
        message = "\n".join(textwrap.fill(line, **wrap) if line else line for line in message.split("\n"))
    click.secho(message, fg=None if _no_color() else fg, err=err)


def a_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def _no_color() -> bool:
    """NO_COLOR set and not empty (no-color.org): no escape codes at all, in a terminal too."""
    import os

    return bool(os.environ.get("NO_COLOR"))


@click.group(cls=NnlabGroup, context_settings=COMMAND)
@click.version_option(__version__, "-V", "--version", prog_name="nnlab")
def main():
    """Train and study multi-layer perceptrons in NumPy from one YAML file.

    \b
    Start with:  nnlab init moons -o moons.yaml && nnlab train moons.yaml
                 (a starter config, with comments; nnlab init --list: all)
    Examples:    nnlab train configs/xor.yaml  (shipped; from any folder)
    Then:        nnlab runs            (the run folders, status and metrics)
                 nnlab eval runs/RUN   (test figures; several runs: ensemble)
                 nnlab components      (every activation, loss, optimizer, ...)
                 nnlab export tensorboard runs/   (the runs in TensorBoard)
    """


def _shipped_example(ctx, param, value):
    """A config argument that is no file here but names a shipped example (configs/xor.yaml, xor.yaml)
    is that example, wherever nnlab is installed and whatever the current folder; stderr says so."""
    from nnlab.examples import shipped_example

    path = shipped_example(value) if value is not None else None
    if path is None:
        return value
    click.echo(f"{value}: not in this folder; using the example shipped with nnlab, {path}", err=True)
    return str(path)


def _find_examples(command, argument: str) -> None:
    """Let ``command``'s config ``argument`` fall back to the shipped examples (after its own callback)."""
    for param in command.params:
        if param.name == argument:  # tests/test_init.py checks that each command has one
            param.callback = _after(param.callback) if param.callback else _shipped_example


def _after(own):
    return lambda ctx, param, value: _shipped_example(ctx, param, own(ctx, param, value))


def _register():
    from nnlab.cli import components, eval, export, gradcheck, init, inspect, plot, predict, report, runs, sweep, train

    main.add_command(init.init)
    main.add_command(train.train)
    main.add_command(eval.eval_)
    main.add_command(predict.predict)
    main.add_command(runs.runs)
    main.add_command(plot.plot)
    main.add_command(report.report)
    main.add_command(export.export)
    main.add_command(gradcheck.gradcheck)
    main.add_command(inspect.inspect)
    main.add_command(sweep.sweep)
    main.add_command(components.components)
    # The commands that read a config accept the name of a shipped example from any folder (README quick start).
    examples = ((train.train, "config"), (gradcheck.gradcheck, "config"), (inspect.inspect, "source"))
    for command, argument in (*examples, (sweep.sweep, "sweep_file")):
        _find_examples(command, argument)


_register()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
