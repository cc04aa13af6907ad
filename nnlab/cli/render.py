"""Rendering with rich: the progress of a training run, its header, and the tables that end it.

``nnlab train`` writes its header, progress and results on stdout, one stream, so that ``> log`` and
``| tee log`` keep the whole run in order; stderr carries errors, warnings and the resume hint. On a terminal
the progress is a live display (``RichProgress``) that keeps the epoch counter, the bar and the ETA at any
width and drops the less important metrics first; elsewhere (a file, a pipe, ``NO_COLOR``, ``TERM=dumb``) it
is plain lines (``PlainProgress``): one per epoch, at most one a second, and always the last.

``NO_COLOR`` (no-color.org) means no escape codes at all: no colour, no bold or italic, no cursor movement.
"""

from __future__ import annotations

import math
import os
import time

from nnlab.training.callbacks import Callback

#: at most one plain progress line per this many seconds (plus the first and the last epoch)
LINE_INTERVAL = 1.0


def no_color() -> bool:
    """Whether the user asked for no colour (NO_COLOR set and not empty, as no-color.org defines it)."""
    return bool(os.environ.get("NO_COLOR"))


def console(stderr: bool = False, file=None):
    """The rich console every command prints with. Under NO_COLOR it is not a terminal to rich, which then
    writes plain text: no colours, styles or cursor movements (rich's own no_color keeps bold and italic);
    the terminal's width is still used."""
    import sys

    from rich.console import Console

    from nnlab.cli.encoding import can_show

    cls = Console if can_show(file or (sys.stderr if stderr else sys.stdout)) else _ascii_console()
    if no_color():
        return cls(stderr=stderr, file=file, force_terminal=False, color_system=None, no_color=True, highlight=False)
    return cls(stderr=stderr, file=file, highlight=False)


def _ascii_console():
    from rich.console import Console

    from nnlab.cli.encoding import to_ascii

    class AsciiConsole(Console):
        """A console on a stream that shows ASCII only: text is spelled in ASCII before it is measured."""

        def render_str(self, text, **kwargs):
            return super().render_str(to_ascii(text), **kwargs)

    return AsciiConsole


def live_display(out) -> bool:
    """Whether ``out`` can show a live display: a terminal that moves its cursor (not a file, a pipe, NO_COLOR
    or TERM=dumb)."""
    return out.is_terminal and not out.is_dumb_terminal


def fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        return f"{v:.4f}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3g}"
    return str(v)


# An epoch's metrics: (key of the row, label), in the order shown; and which go first where space is short.
METRICS = (
    ("train_loss", "loss"),
    ("train_accuracy", "acc"),
    ("val_loss", "val_loss"),
    ("val_accuracy", "val_acc"),
    ("val_r2", "val_r2"),
    ("lr", "lr"),
)
PRIORITY = ("train_loss", "val_accuracy", "val_r2", "val_loss", "train_accuracy", "lr")


def metrics(row: dict, keys=None) -> list[tuple[str, str, str]]:
    """``(key, label, value)`` of the metrics of an epoch's row, in display order (``keys``: only those)."""
    return [
        (k, label, f"{row[k]:.3g}" if k == "lr" else fmt(row[k]))
        for k, label in METRICS
        if k in row and (keys is None or k in keys)
    ]


def joined(items) -> str:
    return "  ".join(f"{label} {value}" for _, label, value in items)


def fitted(items, width: int) -> str:
    """The metrics that fit in ``width`` characters, the most important first, shown in display order."""
    rank = {k: PRIORITY.index(k) if k in PRIORITY else len(PRIORITY) for k, _, _ in items}
    kept: set[str] = set()
    for k in sorted(rank, key=rank.get):
        trial = [i for i in items if i[0] in kept | {k}]
        if len(joined(trial)) <= width:
            kept.add(k)
    return joined([i for i in items if i[0] in kept])


def epoch_line(epoch: int, epochs: int, row: dict) -> str:
    """One plain progress line: ``epoch  12/300  loss 0.0235  acc 0.9867  …  lr 0.01  21.3ms`` (the epoch's time)."""
    w = len(str(epochs))
    s = row.get("seconds")
    seconds = "" if s is None else f"  {s * 1000:.3g}ms" if s < 1 else f"  {s:.3g}s"
    return f"epoch {epoch:>{w}}/{epochs}  {joined(metrics(row))}{seconds}"


class RichProgress(Callback):
    """The live display on a terminal: a line for the epochs (epoch k/N, a bar, the ETA, the metrics that fit)
    and, where an epoch has several batches, one for the batches of the epoch. At any width the counter, the
    bar (10 to 40 columns) and the ETA stay; the metrics are dropped from the least important
    (``PRIORITY``) where they do not fit."""

    MIN_BAR, MAX_BAR = 10, 40

    def __init__(self, out=None):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn
        from rich.table import Column
        from rich.text import Text

        self.out = out if out is not None else console()
        layout = self

        class Eta(ProgressColumn):
            def render(self, task):
                if task.finished:
                    return Text(f"took {_clock(task.finished_time)}")
                left = task.time_remaining
                return Text(f"eta {_clock(left) if left is not None else '-:--:--'}")

        class Metrics(ProgressColumn):
            def render(self, task):
                return Text(layout.texts.get(task.id, ""), no_wrap=True, overflow="ellipsis")

        class FittedProgress(Progress):
            def make_tasks_table(self, tasks):
                layout.fit(tasks)
                return super().make_tasks_table(tasks)

        self.bar = BarColumn(bar_width=self.MAX_BAR)
        self.texts: dict = {}
        self.progress = FittedProgress(
            TextColumn("{task.description}", table_column=Column(no_wrap=True)),
            MofNCompleteColumn(table_column=Column(no_wrap=True)),
            self.bar,
            Eta(table_column=Column(no_wrap=True)),
            Metrics(table_column=Column(no_wrap=True)),
            console=self.out,
            transient=False,
        )

    def fit(self, tasks) -> None:
        """Choose each line's metrics and the bar's width for the console's width now."""
        tasks = [t for t in tasks if t.visible]
        if not tasks:
            return
        counter = max(2 * len(str(int(t.total or 0))) + 1 for t in tasks)
        eta = len("took 0:00:00")
        room = self.out.width - len("epoch") - counter - eta - 4 - 1  # 4 gaps between 5 columns, 1 spare
        self.texts = {t.id: fitted(t.fields.get("items", []), room - self.MIN_BAR - 1) for t in tasks}
        widest = max(len(s) for s in self.texts.values())
        self.bar.bar_width = max(self.MIN_BAR, min(self.MAX_BAR, room - widest - (1 if widest else 0)))

    def on_train_begin(self, trainer):
        header(self.out, trainer)
        self.progress.start()
        total = trainer.config.training.epochs
        self.epochs = self.progress.add_task("epoch", total=total, completed=trainer.epoch, items=[])
        # a line for the batches of the epoch, while epochs last long enough to follow one (the loop reports
        # inside an epoch only after PROGRESS_INTERVAL)
        self.batches, self.long_epochs = None, True

    def on_epoch_begin(self, trainer, epoch):
        if self.batches is not None:
            self.progress.reset(self.batches, total=trainer.n_batches, items=[])

    def on_batch(self, trainer, epoch, batch, n_batches, loss):
        if not self.long_epochs:
            return
        if self.batches is None:
            self.batches = self.progress.add_task("batch", total=n_batches, items=[])
        row = {"train_loss": loss, "lr": trainer.lr}  # the batch's own (a schedule may change it every step)
        self.progress.update(self.batches, completed=batch, items=metrics(row))

    def on_epoch_end(self, trainer, epoch, row):
        self.long_epochs = row.get("seconds", 0.0) >= LINE_INTERVAL
        if self.batches is not None and not self.long_epochs:
            self.progress.remove_task(self.batches)
            self.batches = None
        elif self.batches is not None:
            self.progress.update(self.batches, completed=trainer.n_batches)
        self.progress.update(self.epochs, completed=epoch + 1, items=metrics(row))

    def on_train_end(self, trainer, summary):
        if self.batches is not None:
            self.progress.remove_task(self.batches)
        self.progress.stop()


def _clock(seconds: float | None) -> str:
    s = int(round(seconds or 0))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class PlainProgress(Callback):
    """Progress as plain lines, for a log (Keras' ``verbose=2``): the header and the initial-loss check, then
    one line per epoch with its metrics, at most one every ``interval`` seconds, and always the last epoch."""

    def __init__(self, out=None, interval: float = LINE_INTERVAL):
        self.out = out if out is not None else console()
        self.interval = interval

    def on_train_begin(self, trainer):
        header(self.out, trainer)
        self.last_shown, self.pending = -math.inf, None

    def on_epoch_end(self, trainer, epoch, row):
        self.pending = (epoch, row)
        if time.monotonic() - self.last_shown >= self.interval:
            self._show(trainer)

    def on_train_end(self, trainer, summary):
        if self.pending is not None:
            self._show(trainer)

    def _show(self, trainer) -> None:
        epoch, row = self.pending
        self.out.print(epoch_line(epoch + 1, trainer.config.training.epochs, row), soft_wrap=True, markup=False)
        self.last_shown, self.pending = time.monotonic(), None


def progress(out):
    """The progress callback for ``out``: live on a terminal, plain lines elsewhere."""
    return RichProgress(out) if live_display(out) else PlainProgress(out)


def header(out, trainer) -> None:
    from rich.markup import escape

    exp = trainer.experiment
    s = exp.splits
    out.print(f"[bold]nnlab[/bold] run [cyan]{escape(str(trainer.run_dir))}[/cyan]", soft_wrap=True)
    rows = [
        (
            "data",
            f"{trainer.config.data.name}: {s.task}, {s.n_features} features"
            + (f", {s.n_classes} classes" if s.task == "classification" else "")
            + f"; train {len(s.X_train)}, val {len(s.X_val)}, test {len(s.X_test)}",
        ),
        ("model", f"{exp.net.describe()}  ({exp.net.n_params} parameters)"),
        ("loss", f"{exp.loss.registry_name}; optimizer {exp.optimizer!r}"),
    ]
    labelled(out, rows, indent=2)
    if trainer.initial_loss is not None:
        labelled(out, [("initial loss", initial_loss_text(exp, trainer.initial_loss))], indent=2)


def labelled(out, rows, indent: int) -> None:
    """``label  text`` lines: whole lines in a log (a file, a pipe); on a terminal, in colour or not
    (NO_COLOR), a long text wraps under itself, not under the label."""
    from rich.table import Table
    from rich.text import Text

    width = max(len(label) for label, _ in rows)
    if not on_terminal(out):
        for label, text in rows:
            out.print(Text(f"{' ' * indent}{label:<{width}}  {text}"), soft_wrap=True)
        return
    grid = Table.grid(padding=(0, 2, 0, 0))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for label, text in rows:
        grid.add_row(Text(" " * indent + label), Text(text))
    out.print(grid)


def on_terminal(out) -> bool:
    """Whether ``out`` writes to a terminal, in colour or not (NO_COLOR): text there wraps at its width,
    between words; a file or a pipe gets whole lines."""
    from nnlab.cli import a_terminal

    return live_display(out) or a_terminal(out.file)


def initial_loss_text(exp, value: float) -> str:
    """The initial loss against ln C and the range this initialisation allows (``Experiment.initial_loss_range``)."""
    expected, bounds = exp.expected_initial_loss, exp.initial_loss_range()
    if expected is None or bounds is None:
        return f"{value:.4f}"
    classes = 2 if exp.loss.registry_name == "bce" else exp.splits.n_classes
    lo, hi = bounds
    where = f"ln {classes} = {expected:.4f}; this initialisation: {lo:.4f} to {hi:.4f}"
    if value > hi:
        return (
            f"{value:.4f} — too high ({where}): are the inputs on a unit scale (data.preprocess: standardize)? "
            "check the preprocessing and the initialisation"
        )
    if value < lo:
        return f"{value:.4f} — too low ({where}): check the loss and the labels"
    return f"{value:.4f}: ok ({where})"


def resume_line(trainer) -> str:
    """Where a resumed run continues from (rich markup)."""
    from rich.markup import escape

    r = trainer.resumed_from
    if r["batch"]:
        where = f"in epoch {r['epoch'] + 1} at batch {r['batch'] + 1} of {r['n_batches']}"
    else:
        where = f"after epoch {r['epoch']}"
    status = "it was not closed: killed or crashed" if r["status"] == "running" else r["status"]
    line = f"resuming [cyan]{escape(str(trainer.run_dir))}[/cyan] ({status}) {where}, up to epoch {r['epochs']}"
    if r["epochs"] != r["epochs_before"]:
        line += f" (training.epochs {r['epochs_before']} → {r['epochs']})"
    return line


def summary_table(summary: dict):
    """The run's figures under the title ``NAME: STATUS``; the reason comes after it (``summary_reason``)."""
    from rich.table import Table

    t = Table(title=f"{summary['name']}: {summary['status']}")
    t.add_column("metric")
    t.add_column("value", justify="right")
    final = summary.get("final") or {}
    for k, v in final.items():
        if k not in ("epoch", "seconds"):
            t.add_row(f"final {k}", fmt(v))
    best = summary.get("best")
    if best:
        t.add_row(f"best {best['monitor']}", f"{fmt(best['value'])} (epoch {best['epoch']})")
    where = summary.get("test_checkpoint")
    for k, v in (summary.get("test") or {}).items():
        k = f"{k} ({where['checkpoint']}, epoch {where['epoch']})" if where else k
        t.add_row(k, fmt(v))
    t.add_row("epochs", f"{summary['epochs']} / {summary['epochs_planned']}")
    t.add_row("wall time", f"{summary['wall_seconds']:.1f} s")
    return t


def summary_reason(summary: dict):
    """Why the run ended as it did, as a paragraph to print under the table (a long reason, such as the
    perceptron's on data that are not linearly separable, would be a tall centred block in its title); None
    where there is no reason."""
    from rich.text import Text

    reason = summary.get("reason")
    return Text(f"{summary['status']}: {reason}") if reason else None
