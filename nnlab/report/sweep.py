"""``nnlab report SWEEP_DIR``: a sweep on one page, and each trial on its own.

The sweep's page: what was searched and what it cost, the search figure of ``nnlab plot SWEEP_DIR``
(``sweep.figure``), the metric against each hyper-parameter (``figures.hyperparameters``), every trial as
a table that sorts by any column when its heading is clicked, and the sweep file. Each trial's run folder
gets its own page (``report.html``, ``report.run``), linked from the table by a path relative to the
sweep's page and linking back to it: the folder of pages can be moved or archived as a whole.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from nnlab.errors import NnlabError
from nnlab.report.page import Page, drawn, esc, number, pairs, pre, table
from nnlab.report.run import REPORT, write_run_report
from nnlab.runs.folder import RunFolder

FIXED = ("status", "best_epoch", "epochs", "seconds")


def trial_folders(sweep_dir) -> list[Path]:
    """The run folders of the sweep's trials (those that started), in trial order."""
    rows = _rows(Path(sweep_dir))
    return [p for p in (_trial_dir(Path(sweep_dir), r) for r in rows) if p is not None]


def write_sweep_report(sweep_dir, out=None) -> list[Path]:
    """Each trial's page, then the sweep's (default SWEEP_DIR/report.html); returns the paths written,
    the sweep's first."""
    from nnlab.atomic import atomic_write

    sweep_dir = Path(sweep_dir)
    out = Path(out) if out is not None else sweep_dir / REPORT
    rows = _rows(sweep_dir)
    links, written = {}, []
    for row in rows:
        trial = _trial_dir(sweep_dir, row)
        if trial is None:
            continue
        up = (_href(out, trial), f"← the sweep {sweep_dir.name}")
        try:
            written.append(write_run_report(trial, trial / REPORT, up=up))
        except NnlabError:
            continue  # a trial whose folder is damaged gets no page; the table says it has none
        links[row["trial"]] = _href(trial / REPORT, out.parent)
    atomic_write(out, sweep_page(sweep_dir, rows, links))
    return [out, *written]


def sweep_page(sweep_dir: Path, rows: list[dict], links: dict) -> str:
    from nnlab import __version__
    from nnlab.figures.hyperparameters import parameters_figure
    from nnlab.sweep.figure import epochs_summary, sweep_figure
    from nnlab.sweep.runner import SWEEP_FILE, load_sweep_dir

    sweep, _ = load_sweep_dir(sweep_dir)
    spent = epochs_summary(sweep_dir)
    lead = f"{sweep.method} search of {len(sweep.parameters)} hyper-parameters, {len(rows)} trials, by {sweep.metric} ({sweep.mode})"
    page = Page(f"Sweep {sweep_dir.name}", lead, script=True)
    page.section("summary", "Summary", _summary(sweep, rows, spent, links))
    page.section("search", "Search", drawn(lambda: sweep_figure(sweep_dir), "the search", _SEARCH))
    caption = f"Each trial's {sweep.metric} against each hyper-parameter; the star is the best trial, hollow points were pruned."
    page.section(
        "parameters",
        "Hyper-parameters",
        drawn(lambda: parameters_figure(sweep_dir), "metric against each hyper-parameter", caption),
    )
    page.section("trials", "Trials", _trials(sweep, rows, links))
    text = (sweep_dir / SWEEP_FILE).read_text(encoding="utf-8")
    page.section("sweep-file", "Sweep file", f"<p>{SWEEP_FILE}, with its base config inlined:</p>" + pre(text))
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return page.html(f"written by nnlab {__version__} on {stamp} from {sweep_dir}")


_SEARCH = "Left: the best metric so far against the epochs the sweep spent. Right: every trial's metric per epoch."


def _summary(sweep, rows: list[dict], spent: dict | None, links: dict) -> str:
    from collections import Counter

    statuses = Counter(r.get("status", "") for r in rows)
    best = _best(sweep, rows)
    best_text = None
    if best is not None:
        best_text = f"trial {best['trial']}: {sweep.metric} {number(_float(best[sweep.metric]))}"
    parts = [
        pairs(
            [
                ("method", sweep.method + (f", pruning: {sweep.prune.rule}" if sweep.prune else "")),
                ("metric", f"{sweep.metric} ({sweep.mode})"),
                ("trials", ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in statuses.most_common())),
                ("epochs spent", spent and f"{spent['spent']} in {spent['jobs']} jobs"),
                ("best", best_text),
                ("best config", "best.yaml (nnlab train SWEEP_DIR/best.yaml)" if best is not None else None),
            ]
        )
    ]
    if best is not None and best["trial"] in links:
        parts.append(f'<p><a href="{esc(links[best["trial"]])}">the best trial\'s report</a></p>')
    return "\n".join(parts)


def _trials(sweep, rows: list[dict], links: dict) -> str:
    """The sortable table: trial, each parameter, status, metric, best epoch, epochs, seconds, its page."""
    params = list(sweep.parameters)
    columns = ["trial", *params, "status", sweep.metric, "best epoch", "epochs", "seconds", "report"]
    numeric = {"trial", sweep.metric, "best epoch", "epochs", "seconds"}
    body = []
    for r in rows:
        cells = [(r["trial"], _float(r["trial"]))]
        for p in params:
            value = _float(r.get(p, ""))
            cells.append((number(value) if value is not None else r.get(p, ""), value))
            if value is not None:
                numeric.add(p)
        cells.append((r.get("status", "").replace("_", " "),))
        for key in (sweep.metric, "best_epoch", "epochs", "seconds"):
            value = _float(r.get(key, ""))
            cells.append((number(value), value))
        link = links.get(r["trial"])
        cells.append(("", None, f'<a href="{esc(link)}">report</a>') if link else (r.get("error", "")[:80],))
        body.append(cells)
    hint = "<p>Click a column's heading to sort by it (again to reverse).</p>"
    return hint + table(columns, body, sortable=True, numeric=numeric)


def _best(sweep, rows: list[dict]) -> dict | None:
    scored = [r for r in rows if _float(r.get(sweep.metric, "")) is not None]
    if not scored:
        return None
    pick = max if sweep.mode == "max" else min
    return pick(scored, key=lambda r: _float(r[sweep.metric]))


def _rows(sweep_dir: Path) -> list[dict]:
    """trials.csv's rows as dicts of text, in trial order; none before the sweep wrote it."""
    import csv

    from nnlab.sweep.records import TRIALS

    path = sweep_dir / TRIALS
    if not path.is_file():
        return []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise NnlabError(f"'{path}' cannot be read as a table of trials: {e}") from None
    if rows and "trial" not in rows[0]:
        raise NnlabError(f"'{path}' has no 'trial' column: it is not a sweep's table of trials")
    return sorted(rows, key=lambda r: _float(r["trial"]) or 0)


def _trial_dir(sweep_dir: Path, row: dict) -> Path | None:
    name = (row.get("run_dir") or "").strip()
    path = sweep_dir / name
    return path if name and RunFolder.is_run(path) else None


def _href(target: Path, start: Path) -> str:
    """``target`` relative to the folder ``start``, with forward slashes (a URL's)."""
    return Path(os.path.relpath(Path(target).resolve(), Path(start).resolve())).as_posix()


def _float(text) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if value == value else None
