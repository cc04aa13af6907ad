"""``nnlab sweep SWEEP.yaml``: random, grid or TPE search, with ASHA or Hyperband, in parallel, resumable."""

from __future__ import annotations

import shlex

import click

from nnlab.cli.options import COMMAND


@click.command(context_settings=COMMAND)
@click.argument("sweep_file", required=False, type=click.Path(dir_okay=False))
@click.option("--trials", type=int, default=None, help="Number of random trials (overrides the sweep file's).")
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Trials run at once in local processes; BLAS threads are split so workers × threads ≤ cores.",
)
@click.option(
    "--dask",
    "dask_address",
    metavar="ADDRESS",
    default=None,
    help="Send trials to a Dask distributed scheduler, e.g. tcp://host:8786 (run folders must be on a "
    "path every worker reaches).",
)
@click.option(
    "--threads",
    type=int,
    default=None,
    help="Threads per trial, exactly (as train --threads; default: cores / workers, fewer while other processes keep the cores busy; 1 on Dask).",
)
@click.option(
    "--runs-dir",
    default="runs",
    show_default=True,
    type=click.Path(file_okay=False),
    help="The sweep folder goes to RUNS_DIR/sweeps/.",
)
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Finish an interrupted sweep: run its missing and interrupted trials, none that ended.",
)
@click.option("-q", "--quiet", is_flag=True, help="No live table.")
@click.option("--json", "as_json", is_flag=True, help="Print the trials as JSON on stdout.")
def sweep(sweep_file, trials, workers, dask_address, threads, runs_dir, resume_dir, quiet, as_json):
    """Search hyper-parameters: sample TRIALS configs (random, grid or tpe) from the space of SWEEP_FILE over its base config,
    train each into its own run folder, rank them in trials.csv and write the best config to best.yaml.

    \b
    Example:  nnlab sweep configs/sweeps/moons.yaml --workers 2
              nnlab sweep --resume runs/sweeps/moons-sweep-20261126-101500-1a2b
    """
    import json
    import sys
    from pathlib import Path

    from nnlab.errors import ConfigError
    from nnlab.sweep.executors import check_options, make_executor
    from nnlab.sweep.runner import check_sweep, load_sweep_dir, start_sweep
    from nnlab.sweep.space import load_sweep

    if resume_dir and sweep_file:
        raise ConfigError("give a sweep file or --resume SWEEP_DIR, not both")
    if not resume_dir and not sweep_file:
        raise ConfigError("give a sweep file (nnlab sweep SWEEP.yaml) or --resume SWEEP_DIR")
    check_options(workers, threads, trials)
    if resume_dir:
        sweep_dir = resume_dir
        load_sweep_dir(sweep_dir)
    else:
        spec, base = load_sweep(sweep_file)
        check_sweep(spec, base, trials)
    executor = make_executor(workers, dask_address)  # a Dask scheduler is reached before anything is created
    if not resume_dir:
        sweep_dir = start_sweep(spec, base, runs_dir, trials)
    live = None if quiet or as_json or not sys.stderr.isatty() else _LiveTable(sweep_dir)
    result = _run(sweep_dir, executor, threads, live)
    if as_json:
        click.echo(json.dumps([_row(t) for t in result], indent=2))
    elif not quiet:
        _report(Path(sweep_dir), result)
    _no_best(Path(sweep_dir), result)


def _run(sweep_dir, executor, threads, live):
    """Run the sweep's trials, with a live table where there is a terminal; Ctrl-C and SIGTERM stop it
    cleanly (also where SIGINT came ignored), exit status 130."""
    import signal

    from nnlab.sweep.runner import SweepInterrupted, request_stop, run_sweep

    asked = []

    def _stop(signum, frame):
        if asked:  # the second time: at once
            raise KeyboardInterrupt
        asked.append(signum)
        request_stop(sweep_dir)  # the running trials save where they stand, then the sweep ends
        click.echo("stopping: the running trials save where they stand (press Ctrl-C again to kill them)", err=True)

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if live:
            live.start()
        return run_sweep(sweep_dir, on_change=live.update if live else None, threads=threads, executor=executor)
    except SweepInterrupted as e:
        if live:
            live.stop()
        from nnlab.cli import error

        error(str(e))
        raise SystemExit(130) from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if live:
            live.stop()


def _report(sweep_dir, result) -> None:
    from nnlab.cli.render import console, fmt, on_terminal
    from nnlab.sweep.figure import epochs_summary
    from nnlab.sweep.runner import BEST, TRIALS, best_trial, load_sweep_dir

    def q(path) -> str:
        return shlex.quote(str(path))

    spec, _ = load_sweep_dir(sweep_dir)
    out = console()
    out.print(trials_table(result, f"sweep {sweep_dir.name}", spec.metric, spec.mode, width=out.width))
    lines = [f"sweep folder: {sweep_dir}", f"  {TRIALS}: every trial, best first"]
    spent = epochs_summary(sweep_dir)
    if spent:
        best = (
            f"; the best {spec.metric} ({fmt(spent['best'])}) reached after {spent['best_at']} of them"
            if spent["best"] is not None
            else ""
        )
        jobs = f"{spent['jobs']} job{'s' if spent['jobs'] != 1 else ''}"
        lines.insert(0, f"epochs spent: {spent['spent']} in {jobs}{best}")
        lines += [
            "  progress.csv: the best so far against epochs spent; to draw it:",
            f"      nnlab plot {q(sweep_dir)}",
        ]
    if best_trial(spec, result) is not None:
        lines += [f"  {BEST}: the best trial's config; to train it:", f"      nnlab train {q(sweep_dir / BEST)}"]
    # on a terminal, wrapped between words; each command on a line of its own, to copy whole
    out.print("\n".join(lines), soft_wrap=not on_terminal(out), markup=False)  # a path may hold [ ]


def _no_best(sweep_dir, result) -> None:
    """Where no trial has the metric (every trial failed, say) there is no best.yaml: say so, with the
    first error, and exit 1."""
    from collections import Counter

    from nnlab.cli import error
    from nnlab.sweep.runner import best_trial, load_sweep_dir

    spec, _ = load_sweep_dir(sweep_dir)
    if best_trial(spec, result) is not None:
        return
    counts = ", ".join(f"{n} {status}" for status, n in Counter(t.status for t in result).items())
    message = f"no trial succeeded: none has a {spec.metric} to rank it by ({counts}), so there is no best.yaml"
    first = min((t for t in result if t.error), key=lambda t: t.index, default=None)
    if first is not None:
        message += f"; the first error, trial {first.index}: {first.error}"
    error(message)
    raise SystemExit(1)


def _row(t) -> dict:
    return {
        "trial": t.index,
        "values": t.values,
        "status": t.status,
        "metric": t.metric,
        "best_epoch": t.best_epoch,
        "epochs": t.epochs,
        "bracket": t.bracket,
        "rungs": t.rungs,
        "seconds": t.seconds,
        "run_dir": t.run_dir,
        "error": t.error,
    }


def short_names(paths) -> dict[str, str]:
    """Each dotted path by its shortest last components that no other path ends with: optimizer.lr → lr,
    but optimizer.lr and schedule.lr stay whole."""
    out = {}
    for p in paths:
        parts = p.split(".")
        for k in range(1, len(parts) + 1):
            name = ".".join(parts[-k:])
            if not any(q != p and (q == name or q.endswith("." + name)) for q in paths):
                break
        out[p] = name
    return out


def _value(v) -> str:
    import yaml

    from nnlab.cli.render import fmt

    if isinstance(v, float):
        return fmt(v)
    if isinstance(v, (list, dict)):
        return yaml.safe_dump(v, default_flow_style=True, width=10**6).strip()
    return str(v)


def _seconds(s) -> str:
    if s is None:
        return "–"
    s = float(s)
    if s < 60:
        return f"{s:.1f}s"
    m, sec = divmod(int(round(s)), 60)
    return f"{m}m{sec:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m"


#: a text column narrower than this (a list of layer sizes) is squeezed only as far as its text is narrow
TEXT_MIN = 8
COLOURS = {"running": "yellow", "failed": "red", "diverged": "red", "pruned": "magenta", "interrupted": "red"}


def trials_table(trials, title: str, metric="metric", mode="max", progress=None, live=False, width=None):
    """The trials as a rich table, best first, ``width`` columns wide at most (None: any width).

    Parameters go by their last name, with a legend of their dotted paths below. Numbers never wrap nor
    shrink: where the table is too wide the text columns (lists, mappings) wrap, down to ``TEXT_MIN``
    characters, and the parameters that still do not fit are left out (the legend names them; trials.csv
    has them all). ``progress`` (a ``TrialProgress``) gives the running trials' epoch, metric so far and
    time; ``live`` puts the running trials first and leaves the pending ones out."""
    from rich import box
    from rich.table import Table

    from nnlab.cli.render import fmt

    rows = _rows(trials, mode, progress, live)
    fixed = [
        ("#", [str(r[0].index) for r in rows]),
        ("status", [r[1] for r in rows]),
        (metric.replace("_accuracy", "_acc"), [fmt(r[2]) for r in rows]),
        ("best\nepoch", [str(r[3]) if r[3] else "–" for r in rows]),
        ("time", [_seconds(r[4]) for r in rows]),
    ]
    params = _parameter_columns(trials, rows, fixed, width)
    legend = [f"{name}: {p}" for p, (name, *_) in params.items() if name != p]
    left_out = [p for p in (trials[0].values if trials else ()) if p not in params]
    if left_out:
        legend.append(f"not shown (too narrow): {', '.join(left_out)}")
    t = Table(
        title=title,
        caption="  ".join(legend) or None,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    t.add_column("#", justify="right", no_wrap=True)
    for _, header, numeric, _ in params.values():
        t.add_column(header, justify="right" if numeric else "left", no_wrap=numeric, overflow="ellipsis")
    t.add_column("status", no_wrap=True, overflow="ellipsis")
    for header, _ in fixed[2:]:
        t.add_column(header, justify="right", no_wrap=True)
    for i, (x, status, *_) in enumerate(rows):
        colour = COLOURS.get(x.status)
        t.add_row(
            fixed[0][1][i],
            *(cells[i] for *_, cells in params.values()),
            f"[{colour}]{status}[/]" if colour else status,
            *(cells[i] for _, cells in fixed[2:]),
        )
    return t


def _rows(trials, mode, progress, live) -> list[tuple]:
    """(trial, status, metric, best epoch, seconds) as shown, sorted: a running trial's from its folder."""
    rows = []
    for x in trials:
        if live and x.status == "pending":
            continue
        status, value, epoch, seconds = x.status, x.metric, x.best_epoch, x.seconds
        now = progress(x) if progress and x.status == "running" else None
        if now:
            status = f"running {now['epoch']}/{now['epochs']}" if now["epochs"] else f"running {now['epoch']}"
            value, epoch, seconds = now["metric"], now["best_epoch"], now["seconds"]
        rows.append((x, status, value, epoch, seconds))

    def key(row):
        x, value = row[0], row[2]
        scored = value is not None and value == value  # not NaN
        first = (x.status != "running") if live else False  # the live table shows what runs first
        return (first, not scored, (-value if mode == "max" else value) if scored else 0.0, x.index)

    return sorted(rows, key=key)


def _parameter_columns(trials, rows, fixed, width) -> dict[str, tuple]:
    """The parameter columns that fit in ``width`` beside the ``fixed`` ones, in order:
    ``{path: (short name, header, numeric, cells)}``."""
    paths = list(trials[0].values) if trials else []
    names = short_names(paths)

    def need(header, cells, squeeze):  # the narrowest a column may become, with its gap
        natural = max([len(line) for line in header.split("\n")] + [len(c) for c in cells])
        return (min(natural, TEXT_MIN) if squeeze else natural) + 2

    room = None if width is None else width + 2 - sum(need(h, c, False) for h, c in fixed)
    out = {}
    for p in paths:
        cells = [_value(r[0].values.get(p)) for r in rows]
        numeric = all(isinstance(r[0].values.get(p), (int, float)) for r in rows)
        # a name wider than its numbers goes on two lines at its underscores: batch_ / size
        wide = numeric and len(names[p]) > max(map(len, cells), default=0)
        header = names[p].replace("_", "_\n") if wide else names[p]
        cost = need(header, cells, not numeric)
        if room is None or cost <= room:
            out[p] = (names[p], header, numeric, cells)
            room = None if room is None else room - cost
    return out


class _LiveTable:
    """The trials, running and finished, redrawn as they change and twice a second (on stderr): a running
    trial shows its epoch and its metric so far, read from its run folder."""

    def __init__(self, sweep_dir):
        from rich.live import Live

        from nnlab.cli.render import console
        from nnlab.sweep.runner import load_sweep_dir
        from nnlab.sweep.trial import TrialProgress

        spec, _ = load_sweep_dir(sweep_dir)
        self.metric, self.mode = spec.metric, spec.mode
        self.progress = TrialProgress(sweep_dir, spec.metric, spec.mode)
        self.trials = []
        self.console = console(stderr=True)
        self.live = Live(console=self.console, refresh_per_second=2, transient=True, get_renderable=self.render)
        self.running = False

    def start(self):
        self.live.start()
        self.running = True

    def update(self, trials):
        self.trials = list(trials)
        self.live.refresh()

    def render(self):
        trials = self.trials
        done = sum(t.status not in ("pending", "running") for t in trials)
        running = sum(t.status == "running" for t in trials)
        title = f"sweep: {done}/{len(trials)} trials ended, {running} running"
        width = self.console.width
        return trials_table(trials, title, self.metric, self.mode, progress=self.progress, live=True, width=width)

    def stop(self):
        if self.running:
            self.live.stop()
            self.running = False
