"""``nnlab train CONFIG`` and ``nnlab train --resume RUN_DIR``."""

from __future__ import annotations

import click

from nnlab.cli.options import COMMAND, COUNT, SEED, overrides_option

RESUME_CONFLICTS = {
    "overrides": "-o",
    "seed": "--seed",
    "overfit": "--overfit",
    "runs_dir": "--runs-dir",
    "members": "--members",
    "tensorboard": "--tensorboard",
}


@click.command(context_settings=COMMAND)
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@overrides_option
@click.option(
    "--runs-dir",
    default="runs",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder that receives the run folder.",
)
@click.option("--seed", type=SEED, default=None, help="Override the config's seed (an integer >= 0).")
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False),
    metavar="RUN_DIR",
    default=None,
    help="Continue the run in RUN_DIR from its last checkpoint, in the same folder, with its own config "
    "(give no CONFIG, -o, --seed, --overfit or --runs-dir).",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Train N epochs in all. With --resume: continue up to epoch N (extends a finished run); "
    "otherwise the same as -o training.epochs=N.",
)
@click.option(
    "--overfit",
    type=COUNT,
    default=None,
    metavar="N",
    help="Train on N examples only, to check that the model can fit them (sanity check).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Use N threads: the matrix products' BLAS threads and the optimizer's split update (default: all the "
    "cores this process may use, fewer while other processes keep them busy; OPENBLAS_NUM_THREADS sets the "
    "most). Pinned, a run on a busy machine repeats bit for bit.",
)
@click.option(
    "--members",
    type=COUNT,
    default=None,
    metavar="K",
    help="Train an ensemble of K runs (seeds SEED … SEED+K−1, one data split) into one folder, and write the "
    "ensemble's figures beside the members' (ensemble.json, eval-test-ensemble.json).",
)
@click.option(
    "--tensorboard",
    is_flag=True,
    help="Also write TensorBoard event files into RUN_DIR/tensorboard/ as it trains (the same as "
    "-o training.tensorboard=true; needs pip install 'nnlab[tensorboard]').",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or tables.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary as JSON on stdout.")
@click.pass_context
def train(
    ctx, config, overrides, runs_dir, seed, resume_dir, epochs, overfit, threads, members, tensorboard, quiet, as_json
):
    """Train the network described by CONFIG (a YAML file) and write a run folder, or continue a run.

    Ctrl-C (SIGINT) or SIGTERM finishes the current batch, saves checkpoints/last.safetensors, marks the
    run interrupted and exits with status 130 (143 for SIGTERM); --resume continues it exactly where it
    stopped. Exit status 2 for a user error, 1 when the loss diverges.

    Output: the header (data, model, the initial loss against ln C), the progress and the summary table go
    to stdout; errors, warnings and the resume hint to stderr. On a terminal the progress is a live bar;
    piped or redirected (| tee log, > log), or under NO_COLOR, it is plain lines without escape codes: one per
    epoch, at most one a second, and the last. -q prints nothing but errors; --json prints only the summary
    as JSON on stdout.

    \b
    Example:  nnlab train configs/moons.yaml -o optimizer.lr=0.01
              nnlab train configs/moons.yaml -o model.hidden=[32,32] --epochs 50
              nnlab train --resume runs/moons-20250101-120000-ab12  # continue
              nnlab train --resume runs/moons-A --epochs 150  # train it longer
              nnlab train configs/digits.yaml --members 3  # an ensemble of 3
    """
    import contextlib

    limits = contextlib.ExitStack()
    if threads is not None:
        from nnlab import parallel

        limits.enter_context(parallel.blas_limit(threads))  # read when the trainer is built
        limits.enter_context(parallel.limit(threads))  # exactly N: no fewer on a busy machine (parallel.Tuner)
    if tensorboard:
        overrides = (*overrides, "training.tensorboard=true")
    with limits:
        _train(ctx, config, overrides, runs_dir, seed, resume_dir, epochs, overfit, members, quiet, as_json)


def _train(ctx, config, overrides, runs_dir, seed, resume_dir, epochs, overfit, members, quiet, as_json):
    from nnlab.cli.render import console, progress

    show = not quiet and not as_json
    out = console()
    callbacks = [progress(out)] if show else []
    if resume_dir is not None:
        _check_resume_arguments(ctx, config)
        note = out if show else None if quiet else console(stderr=True)  # with --json stdout is the JSON's
        trainer = _open_run(resume_dir, epochs, callbacks, note)
    else:
        if config is None:
            raise click.UsageError("give a CONFIG file to start a run, or --resume RUN_DIR to continue one")
        from nnlab.config import load_config
        from nnlab.training.loop import start

        overrides = [*overrides, *([f"training.epochs={epochs}"] if epochs is not None else [])]
        cfg = load_config(config, overrides, seed=seed)
        if cfg.training.tensorboard:  # before the run folder is made
            from nnlab.training.tensorboard import require

            require("training.tensorboard: TensorBoard event files")
        if members is not None:
            from nnlab.cli.members import train_members

            return train_members(cfg, members, runs_dir, overfit, quiet, as_json, report)
        trainer = start(cfg, runs_dir, callbacks=callbacks, overfit=overfit)
    try:
        result = trainer.fit()
    except KeyboardInterrupt:  # a second Ctrl-C: the run stopped where it was, without saving
        _resume_hint(trainer.run_dir, trainer.reason, saved=False)
        raise SystemExit(130) from None
    report(result, quiet, as_json)


def _check_resume_arguments(ctx, config) -> None:
    if config is not None:
        raise click.UsageError(
            f"give CONFIG to start a new run or --resume RUN_DIR to continue one, not both ('{config}'); "
            "a resumed run keeps the config in its folder"
        )
    from click.core import ParameterSource

    given = [
        flag for name, flag in RESUME_CONFLICTS.items() if ctx.get_parameter_source(name) != ParameterSource.DEFAULT
    ]
    if given:
        raise click.UsageError(
            f"--resume continues a run with its own config: {', '.join(given)} cannot change it "
            "(to train a variant, start a new run: nnlab train RUN_DIR/config.yaml -o ...)"
        )


def _open_run(run_dir, epochs, callbacks, out):
    """Open the run to resume; say where it continues from on ``out`` (stdout with the progress, stderr with
    --json; None: -q)."""
    from nnlab.cli.render import resume_line
    from nnlab.training.resuming import open_run

    trainer = open_run(run_dir, epochs, callbacks)
    if out is not None:
        out.print(resume_line(trainer), soft_wrap=True)
    return trainer


def report(result, quiet: bool, as_json: bool) -> None:
    import json

    from nnlab.cli import error
    from nnlab.cli.render import console, summary_reason, summary_table

    if as_json:
        click.echo(json.dumps({"run_dir": str(result.run_dir), **result.summary}, indent=2))
    elif not quiet:
        out = console()
        out.print(summary_table(result.summary))
        reason = summary_reason(result.summary)
        if reason is not None and result.status not in ("diverged", "interrupted"):  # stderr says those below
            out.print(reason)
        for kind, figures in result.summary.get("averages", {}).items():  # training.swa / ema
            shown = ", ".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in figures.items() if k.endswith("accuracy"))
            out.print(f"{kind} checkpoint: {shown or 'saved'} (checkpoints/{kind}.safetensors)", markup=False)
        out.print(f"run folder: {result.run_dir}", soft_wrap=True, markup=False)
        if result.summary.get("overfit"):
            _overfit_line(result.summary["overfit"])
    if result.status == "diverged":
        error(result.summary["reason"])
        raise SystemExit(1)
    if result.status == "interrupted":
        _resume_hint(result.run_dir, result.summary["reason"], saved=True)
        raise SystemExit(128 + (result.signal or 2))


def _overfit_line(check: dict) -> None:
    """--overfit's verdict (deck 002: a model that cannot fit a few examples has a bug or too little capacity)."""
    n = check["examples"]
    if "train_accuracy" in check:
        figure = f"train accuracy {check['train_accuracy']:.0%} on its {n} examples"
    else:
        figure = f"train loss {check['train_loss']:.3g} on its {n} examples"
    if check["fitted"]:
        click.echo(f"overfit check passed: the model fits its {n} examples ({figure})")
    else:
        click.secho(
            f"overfit check failed: {figure}; a model that cannot fit a few examples has a bug (initialisation, "
            "preprocessing, learning rate) or too little capacity — or needs more epochs",
            fg="yellow",
        )


def _resume_hint(run_dir, reason: str, saved: bool) -> None:
    """On stderr: why the run stopped and the exact command that continues it."""
    import shlex

    from nnlab.runs.folder import RunFolder

    folder = RunFolder(run_dir)
    last = folder.checkpoint_file("last")
    if not last.is_file():
        click.secho(f"interrupted ({reason}) before the first epoch ended: nothing to resume.", fg="yellow", err=True)
        click.echo(f"start it again with: nnlab train {shlex.quote(str(folder.config_file))}", err=True)
        return
    kept = f"saved {last.relative_to(run_dir)}" if saved else "the run folder keeps its last checkpoint"
    click.secho(f"interrupted ({reason}): {kept}.", fg="yellow", err=True)
    click.echo(f"resume with: nnlab train --resume {shlex.quote(str(run_dir))}", err=True)
