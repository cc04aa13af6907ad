"""``nnlab sweep SWEEP.yaml``: random or grid search, in parallel, resumable."""

from __future__ import annotations

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
@click.option("--threads", type=int, default=None, help="BLAS threads per trial (default: cores / workers; 1 on Dask).")
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
    """Search hyper-parameters: sample TRIALS configs from the space of SWEEP_FILE over its base config,
    train each into its own run folder, rank them in trials.csv and write the best config to best.yaml.

    \b
    Example:  nnlab sweep configs/sweeps/moons.yaml --workers 2
              nnlab sweep --resume runs/sweeps/moons-sweep-20261126-101500-1a2b
    """
    import json
    import sys
    from pathlib import Path

    from nnlab.errors import ConfigError
    from nnlab.sweep.runner import start_sweep
    from nnlab.sweep.space import load_sweep

    if resume_dir and sweep_file:
        raise ConfigError("give a sweep file or --resume SWEEP_DIR, not both")
    if not resume_dir and not sweep_file:
        raise ConfigError("give a sweep file (nnlab sweep SWEEP.yaml) or --resume SWEEP_DIR")
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads must be ≥ 1, got {threads}")
    if resume_dir:
        sweep_dir = resume_dir
    else:
        spec, base = load_sweep(sweep_file)
        sweep_dir = start_sweep(spec, base, runs_dir, trials)
    live = None if quiet or as_json or not sys.stderr.isatty() else _LiveTable()
    result = _run(sweep_dir, workers, dask_address, threads, live)
    if as_json:
        click.echo(json.dumps([_row(t) for t in result], indent=2))
    elif not quiet:
        _report(Path(sweep_dir), result)


def _run(sweep_dir, workers, dask_address, threads, live):
    """Run the sweep's trials, with a live table where there is a terminal; Ctrl-C and SIGTERM stop it
    cleanly (also where SIGINT came ignored), exit status 130."""
    import signal

    from nnlab.sweep.runner import SweepInterrupted, run_sweep

    def _stop(signum, frame):
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if live:
            live.start()
        return run_sweep(sweep_dir, workers, dask_address, on_change=live.update if live else None, threads=threads)
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
    from nnlab.cli.render import console
    from nnlab.sweep.runner import BEST, TRIALS, load_sweep_dir

    spec, _ = load_sweep_dir(sweep_dir)
    out = console()
    out.print(_table(result, f"sweep {sweep_dir.name}", spec.metric, spec.mode))
    out.print(
        f"sweep folder: {sweep_dir}\n  {TRIALS}: every trial, best first\n"
        f"  {BEST}: the best trial's config — nnlab train {sweep_dir / BEST}"
    )


def _row(t) -> dict:
    return {
        "trial": t.index,
        "values": t.values,
        "status": t.status,
        "metric": t.metric,
        "best_epoch": t.best_epoch,
        "seconds": t.seconds,
        "run_dir": t.run_dir,
        "error": t.error,
    }


def _table(trials, title: str, metric: str = "metric", mode: str = "max"):
    from rich.table import Table

    from nnlab.cli.render import fmt

    t = Table(title=title)
    paths = list(trials[0].values) if trials else []
    t.add_column("trial", justify="right")
    for p in paths:
        t.add_column(p, overflow="fold")
    t.add_column("status", no_wrap=True)
    t.add_column(metric, justify="right", no_wrap=True)
    t.add_column("best epoch", justify="right")
    t.add_column("seconds", justify="right")
    colours = {"running": "yellow", "failed": "red", "diverged": "red", "pruned": "magenta", "interrupted": "red"}

    def key(x):
        return (x.metric is None, -(x.metric or 0) if mode == "max" else (x.metric or 0), x.index)

    for x in sorted(trials, key=key):
        status = f"[{colours[x.status]}]{x.status}[/]" if x.status in colours else x.status
        t.add_row(
            str(x.index),
            *(fmt(v) if isinstance(v, float) else str(v) for v in x.values.values()),
            status,
            fmt(x.metric),
            str(x.best_epoch or "–"),
            fmt(x.seconds),
        )
    return t


class _LiveTable:
    """The trials, running and finished, redrawn as they change (on stderr)."""

    def __init__(self):
        from rich.live import Live

        from nnlab.cli.render import console

        self.live = Live(console=console(stderr=True), refresh_per_second=4, transient=True)
        self.running = False

    def start(self):
        self.live.start()
        self.running = True

    def update(self, trials):
        done = sum(t.status not in ("pending", "running") for t in trials)
        self.live.update(_table(trials, title=f"sweep: {done}/{len(trials)} trials ended"))

    def stop(self):
        if self.running:
            self.live.stop()
            self.running = False
