"""``nnlab report RUN_DIR``: one run on one page.

In order: the summary (status, epochs, model, the best epoch's, last epoch's and test metrics), the learning
curves (``plotting.runs_figure``), the evaluation on the test split (else val, else train) with, for a
classifier, the confusion matrix and each class's precision, recall and F1 (``evaluate.evaluate_runs``,
``figures.evaluation``), then what applies to the run: the decision boundary and every unit over the input
plane (2 input features), the first layer's weights as images (image data), the gradients per layer
(``training.diagnostics``); last the resolved config. A figure that cannot be drawn (the run's data moved,
say) leaves a note in its place rather than no page.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from nnlab.errors import NnlabError
from nnlab.report.page import Page, drawn, esc, note, number, pairs, pre, table
from nnlab.runs.folder import RunFolder

REPORT = "report.html"
METRICS = ("loss", "accuracy", "r2", "mse", "mae")


def write_run_report(run_dir, out=None, up: tuple[str, str] | None = None) -> Path:
    """Write the page of ``run_dir`` to ``out`` (default RUN_DIR/report.html); returns its path.
    ``up``: (href, text) of a link back (a trial's page to its sweep's)."""
    from nnlab.atomic import atomic_write

    folder = RunFolder.open(run_dir)
    out = Path(out) if out is not None else folder.path / REPORT
    atomic_write(out, run_page(folder, up))
    return out


def run_page(folder: RunFolder, up: tuple[str, str] | None = None) -> str:
    """The page's HTML."""
    from nnlab import __version__

    summary = folder.read_summary()
    checkpoint = folder.default_checkpoint()
    page = Page(f"Run {folder.name}", _lead(summary))
    page.section("summary", "Summary", _summary(folder, summary, up))
    page.section("curves", "Learning curves", _curves(folder))
    evaluation, report = _evaluation(folder, checkpoint)
    page.section("evaluation", "Evaluation", evaluation)
    for anchor, heading, body in _insides(folder, checkpoint, report):
        page.section(anchor, heading, body)
    page.section("config", "Config", _config(folder))
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return page.html(f"written by nnlab {__version__} on {stamp} from {folder.path}")


def _lead(summary: dict) -> str:
    status = str(summary.get("status") or "no summary yet").replace("_", " ")
    epochs = f" after {summary['epochs']} epochs" if summary.get("epochs") else ""
    return f"{summary.get('task') or 'a run'}: {status}{epochs}. {summary.get('model') or ''}".strip()


def _summary(folder: RunFolder, s: dict, up) -> str:
    best = s.get("best") or {}
    planned = f" of {s['epochs_planned']}" if s.get("epochs_planned") else ""
    examples = s.get("examples") or {}
    rows = [
        ("status", f"{str(s.get('status', '')).replace('_', ' ')}" + (f": {s['reason']}" if s.get("reason") else "")),
        ("epochs", f"{s['epochs']}{planned}" if s.get("epochs") is not None else None),
        ("model", s.get("model")),
        ("parameters", s.get("parameters")),
        ("examples", ", ".join(f"{k} {v}" for k, v in examples.items())),
        ("best epoch", f"{best['epoch']} ({best.get('monitor')} {number(best.get('value'))})" if best else None),
        ("initial loss", _initial(s)),
        ("seed", s.get("seed")),
        ("wall time", f"{s['wall_seconds']:.1f} s" if s.get("wall_seconds") is not None else None),
        ("gradients", (s.get("gradients") or {}).get("warning")),
    ]
    link = f'<p><a href="{esc(up[0])}">{esc(up[1])}</a></p>' if up else ""
    return link + pairs(rows) + _metrics_table(s)


def _initial(s: dict):
    if s.get("initial_loss") is None:
        return None
    expected = s.get("expected_initial_loss")
    return number(s["initial_loss"]) + (f" (expected {number(expected)} at chance)" if expected else "")


def _metrics_table(s: dict) -> str:
    """The metrics at the best epoch, the last one and on the test split, one row each."""
    rows = []
    best = (s.get("best") or {}).get("metrics")
    for label, values in (("best epoch", best), ("last epoch", s.get("final")), ("test", s.get("test"))):
        if values:
            rows.append((label, values))
    columns = []
    for _, values in rows:
        for key in values:
            name = key.split("_", 1)[1] if "_" in key else key
            if key.startswith(("train_", "val_", "test_")) and name in METRICS and key not in columns:
                columns.append(key)
    if not rows or not columns:
        return ""
    cells = [[label, *[(number(values.get(c)),) for c in columns]] for label, values in rows]
    return table(["", *columns], cells, numeric=set(columns))


def _curves(folder: RunFolder) -> str:
    from nnlab.plotting import runs_figure

    return drawn(
        lambda: runs_figure([folder.path]),
        "learning curves",
        "Loss and accuracy (R² for regression) per epoch, train solid, val dashed; the star marks the best epoch.",
    )


def _evaluation(folder: RunFolder, checkpoint: str) -> tuple[str, dict | None]:
    from nnlab.evaluate import evaluate_runs
    from nnlab.figures.evaluation import confusion_figure, per_class_figure

    try:
        report = evaluate_runs([folder.path], checkpoint)
    except NnlabError as e:
        return note(f"not evaluated: {e}"), None
    where = f"the {checkpoint} checkpoint on the {report['split']} split ({report['examples']} examples)"
    m = report["metrics"]
    parts = [f"<p>{esc(where)}.</p>", table(list(m), [[(number(v),) for v in m.values()]], numeric=set(m))]
    parts += [note(n) for n in report["notes"]]
    if report["task"] == "classification":
        parts.append(
            drawn(lambda: confusion_figure(report), "confusion matrix", "Rows: true class; columns: predicted.")
        )
        parts.append(drawn(lambda: per_class_figure(report), "precision, recall and F1 per class"))
    return "\n".join(parts), report


def _insides(folder: RunFolder, checkpoint: str, report: dict | None) -> list[tuple[str, str, str]]:
    """The sections of what applies to this run: boundary, neurons, weights, gradients."""
    from nnlab.figures.gradients import diagnostics_layers, gradients_figure
    from nnlab.figures.neurons import neurons_figure
    from nnlab.figures.weights import image_shape_of, weights_figure
    from nnlab.inference import load_run
    from nnlab.plotting import regions_figure

    try:
        model = load_run(folder.path, checkpoint)
    except NnlabError as e:
        return [("inside", "Inside the network", note(f"the {checkpoint} checkpoint cannot be read: {e}"))]
    out = []
    if model.n_features == 2:
        if model.task == "classification":
            caption = "The class the model predicts over the plane of its two inputs; circles train, triangles test."
            out.append(
                (
                    "boundary",
                    "Decision boundary",
                    drawn(lambda: regions_figure(folder.path, checkpoint), "decision boundary", caption),
                )
            )
        caption = "Each unit's output over the input plane, a row per layer (TensorFlow Playground's view)."
        out.append(
            (
                "neurons",
                "Neurons",
                drawn(lambda: neurons_figure(folder.path, checkpoint), "every unit over the input plane", caption),
            )
        )
    if _is_images(model, image_shape_of):
        caption = "Each first-layer unit's weights over the pixels: red adds the pixel's brightness, blue subtracts it."
        out.append(
            (
                "weights",
                "First-layer weights",
                drawn(lambda: weights_figure(folder.path, checkpoint), "first-layer weights as images", caption),
            )
        )
    try:
        has_diagnostics = bool(diagnostics_layers(folder.read_metrics().columns))
    except NnlabError:
        has_diagnostics = False
    if has_diagnostics:
        caption = "‖∂J/∂W‖ and ‖ΔW‖/‖W‖ per weight layer and epoch (training.diagnostics); rule of thumb 1e-3."
        out.append(
            ("gradients", "Gradients", drawn(lambda: gradients_figure(folder.path), "gradients per layer", caption))
        )
    return out


def _is_images(model, image_shape_of) -> bool:
    try:
        image_shape_of(model)
    except NnlabError:
        return False
    return True


def _config(folder: RunFolder) -> str:
    try:
        text = folder.config_file.read_text(encoding="utf-8")
    except OSError as e:
        return note(f"{folder.config_file} cannot be read: {e}")
    return f"<p>{RunFolder.CONFIG}: the config as resolved, every default filled in.</p>" + pre(text)
