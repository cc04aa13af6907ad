"""Rendering with rich: the live progress of a training run and the tables that end it."""

from __future__ import annotations

import math
import os
import sys

from nnlab.training.callbacks import Callback


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, no_color=bool(os.environ.get("NO_COLOR")), highlight=False)


def fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        return f"{v:.4f}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3g}"
    return str(v)


class RichProgress(Callback):
    """A progress bar per epoch and per batch, with live loss, accuracy, lr and ETA (on stderr)."""

    def __init__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.out = console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(),
            console=self.out,
            transient=False,
        )

    def on_train_begin(self, trainer):
        header(self.out, trainer)
        self.progress.start()
        self.epochs = self.progress.add_task(
            "epochs", total=trainer.config.training.epochs, completed=trainer.epoch, info=""
        )
        self.batches = self.progress.add_task("batches", total=trainer.n_batches, info="")

    def on_epoch_begin(self, trainer, epoch):
        self.progress.update(self.batches, completed=0)

    def on_batch(self, trainer, epoch, batch, n_batches, loss):
        self.progress.update(
            self.batches, completed=batch, info=f"loss {loss:.4f}  lr {trainer.schedule.lr(epoch, 0):.3g}"
        )

    def on_epoch_end(self, trainer, epoch, row):
        parts = [f"loss {fmt(row['train_loss'])}"]
        for k in ("train_accuracy", "val_loss", "val_accuracy", "val_r2"):
            if k in row:
                parts.append(f"{k.replace('_accuracy', '_acc')} {fmt(row[k])}")
        parts.append(f"lr {row['lr']:.3g}")
        self.progress.update(self.batches, completed=trainer.n_batches)
        self.progress.update(self.epochs, completed=epoch + 1, info="  ".join(parts))

    def on_train_end(self, trainer, summary):
        self.progress.stop()


def header(out, trainer) -> None:
    exp = trainer.experiment
    s = exp.splits
    out.print(f"[bold]nnlab[/bold] run [cyan]{trainer.run_dir}[/cyan]")
    out.print(
        f"  data   {trainer.config.data.name}: {s.task}, {s.n_features} features"
        + (f", {s.n_classes} classes" if s.task == "classification" else "")
        + f"; train {len(s.X_train)}, val {len(s.X_val)}, test {len(s.X_test)}"
    )
    out.print(f"  model  {exp.net.describe()}  ({exp.net.n_params} parameters)")
    out.print(f"  loss   {exp.loss.registry_name}; optimizer {exp.optimizer!r}")
    expected = exp.expected_initial_loss
    if trainer.initial_loss is not None:
        line = f"  initial loss {trainer.initial_loss:.4f}"
        if expected is not None:
            ok = expected / 2 < trainer.initial_loss < 3 * expected  # of the order of ln C (deck 002)
            line += f" (expected ≈ {expected:.4f} = ln {s.n_classes if exp.loss.registry_name != 'bce' else 2}"
            line += ", ok)" if ok else ") — far from it: check the initialisation and the preprocessing"
        out.print(line)


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
    from rich.table import Table

    t = Table(
        title=f"{summary['name']}: {summary['status']}" + (f" ({summary['reason']})" if summary.get("reason") else "")
    )
    t.add_column("metric")
    t.add_column("value", justify="right")
    final = summary.get("final") or {}
    for k, v in final.items():
        if k not in ("epoch", "seconds"):
            t.add_row(f"final {k}", fmt(v))
    best = summary.get("best")
    if best:
        t.add_row(f"best {best['monitor']}", f"{fmt(best['value'])} (epoch {best['epoch']})")
    for k, v in (summary.get("test") or {}).items():
        t.add_row(k, fmt(v))
    t.add_row("epochs", f"{summary['epochs']} / {summary['epochs_planned']}")
    t.add_row("wall time", f"{summary['wall_seconds']:.1f} s")
    return t


def is_terminal() -> bool:
    return sys.stderr.isatty()
