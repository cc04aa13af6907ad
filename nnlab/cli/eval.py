"""``nnlab eval RUN_DIR…``: figures on a split, single models and their averages (ensembles, checkpoints,
Monte-Carlo dropout)."""

from __future__ import annotations

import click

from nnlab.cli import say
from nnlab.cli.options import COMMAND, checkpoint_option


@click.command("eval", context_settings=COMMAND)
@click.argument("run_dirs", nargs=-1, required=True, metavar="RUN_DIR...", type=click.Path())
@checkpoint_option(
    None,
    "Checkpoint to evaluate: best (default: the best epoch by training.monitor, whose test figures summary.json "
    "holds), last, epoch-NNNN or a .safetensors file.",
)
@click.option(
    "-s",
    "--split",
    type=click.Choice(["test", "val", "train"]),
    default=None,
    help="Data split (default: test, else val where the run has no test split, else train).",
)
@click.option(
    "-k",
    "--checkpoints",
    type=int,
    default=None,
    metavar="K",
    help="Average the predictions of the run's last K saved checkpoints (epoch-NNNN files and last).",
)
@click.option(
    "--mc-dropout", type=int, default=None, metavar="N", help="Average the predictions of N random dropout masks."
)
@click.option("--seed", type=int, default=None, help="Seed of the Monte-Carlo dropout masks (default: the run's).")
@click.option(
    "--tta",
    is_flag=True,
    help="Test-time augmentation: average each model's predictions over the mirror image and the one-pixel "
    "shifts of every image, as far as its data.augment trained on them (flip, translate; 10 views with both).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def eval_(run_dirs, checkpoint, split, checkpoints, mc_dropout, seed, tta, as_json):
    """Evaluate a run folder on a split of its data: loss, accuracy, per-class precision / recall / F1 and the
    confusion matrix (classification) or MSE / MAE / R² (regression). Writes eval-SPLIT.json (and
    confusion-SPLIT.csv) in the run folder.

    Several RUN_DIRs form an ensemble that averages their predicted probabilities; --checkpoints K averages
    checkpoints of one run; --mc-dropout N averages dropout masks; --tta averages variants of each image.
    Each shows the single models beside the average.

    \b
    Example:  nnlab eval runs/moons-20250101-120000-ab12 --split test
              nnlab eval runs/moons-A runs/moons-B    (an ensemble of two)
              nnlab eval runs/fashion-A --tta  (over mirrored, shifted images)
    """
    import json

    from nnlab.cli.render import console
    from nnlab.evaluate import evaluate_runs, write_report

    _check_writable(run_dirs[0])
    report = evaluate_runs(run_dirs, checkpoint, split, checkpoints, mc_dropout, seed, tta)
    paths = write_report(report, report["run_dir"])
    for note in report["notes"]:
        say(f"warning: {note}", err=True, fg="yellow")
    if as_json:
        click.echo(json.dumps({**report, "files": [str(p) for p in paths]}, indent=2))
        return
    out = console()
    out.print(header(report))
    for table in tables(report):
        out.print(table)
    say("wrote " + ", ".join(str(p) for p in paths))


def _check_writable(run_dir) -> None:
    """The report goes into the (first) run folder: a read-only one is refused before evaluating."""
    from nnlab.runs.folder import RunFolder

    folder = RunFolder(run_dir)
    if RunFolder.is_run(folder.path):
        folder.check_writable("nnlab eval writes eval-SPLIT.json there; copy the run folder to evaluate it")


def tables(report: dict) -> list:
    from rich.markup import escape
    from rich.table import Table

    from nnlab.cli.render import fmt

    keys = list(report["metrics"])
    if report["averaged"]:
        t = Table(title=_kind(report))
        t.add_column("model")
        for k in keys:
            t.add_column(_header(k), justify="right")
        for row in report["members"]:
            t.add_row(escape(row["label"]), *(fmt(row["metrics"].get(k)) for k in keys))
        mean = f"mean of {report['tta']} views" if report["mode"] == "single" and report.get("tta") else "average"
        t.add_row(f"[bold]{mean}[/bold]", *(f"[bold]{fmt(report['metrics'].get(k))}[/bold]" for k in keys))
    else:
        t = Table()
        t.add_column("metric")
        t.add_column("value", justify="right")
        for k in keys:
            t.add_row(_header(k), fmt(report["metrics"][k]))
    out = [t]
    if "confusion_matrix" in report:
        out += [_per_class(report), _confusion(report)]
    return out


def header(report: dict) -> str:
    from pathlib import Path

    from rich.markup import escape

    runs = ", ".join(Path(r).name for r in report["runs"])
    what = f"[cyan]{escape(runs)}[/cyan]"
    if report["mode"] in ("single", "mc_dropout"):
        m = report["members"][0]
        what += escape(f" ({Path(m['checkpoint']).stem}, epoch {m['epoch']})")
    return f"{what}: {report['split']} split, {report['examples']} examples"


def _kind(report: dict) -> str:
    n, tta = len(report["members"]), report.get("tta")
    if report["mode"] == "single":
        return f"test-time augmentation, {tta} views"
    return {
        "ensemble": f"ensemble of {n} runs",
        "checkpoints": f"average of the last {n} checkpoints",
        "mc_dropout": f"Monte-Carlo dropout, {report['mc_dropout']} masks",
    }[report["mode"]] + (f", {tta} views each" if tta else "")


def _header(key: str) -> str:
    return {"macro_f1": "macro F1", "r2": "R²", "mse": "MSE", "mae": "MAE"}.get(key, key)


def _per_class(report: dict):
    from rich.markup import escape
    from rich.table import Table

    from nnlab.cli.render import fmt

    t = Table(title="per class" + (" (averaged prediction)" if report["averaged"] else ""))
    for col in ("class", "precision", "recall", "F1", "support"):
        t.add_column(col, justify="left" if col == "class" else "right")
    for name, r in report["per_class"].items():
        t.add_row(escape(name), fmt(r["precision"]), fmt(r["recall"]), fmt(r["f1"]), str(r["support"]))
    total = str(report["examples"])
    for avg in ("macro", "weighted"):
        a = report[avg]
        t.add_row(f"[italic]{avg} avg[/italic]", fmt(a["precision"]), fmt(a["recall"]), fmt(a["f1"]), total)
    return t


def _confusion(report: dict):
    from rich.markup import escape
    from rich.table import Table

    t = Table(title="confusion matrix", caption="rows: true class, columns: predicted class")
    t.add_column("true \\ predicted")
    for name in report["classes"]:
        t.add_column(escape(name), justify="right")
    for i, (name, row) in enumerate(zip(report["classes"], report["confusion_matrix"])):
        t.add_row(escape(name), *(f"[bold]{v}[/bold]" if i == j else str(v) for j, v in enumerate(row)))
    return t
