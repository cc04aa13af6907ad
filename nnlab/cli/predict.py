"""``nnlab predict RUN_DIR INPUT.csv``: predictions for new data, preprocessed with the run's statistics."""

from __future__ import annotations

import click

from nnlab.cli import say
from nnlab.cli.options import COMMAND, checkpoint_option

PREVIEW_ROWS = 10


@click.command(context_settings=COMMAND)
@click.argument("run_dir", type=click.Path())
@click.argument("input_csv", metavar="INPUT.csv", type=click.Path())
@click.option(
    "-o",
    "--output",
    default=None,
    metavar="OUT.csv",
    help="Write every prediction to OUT.csv ('-' for stdout); without it, only a preview is shown.",
)
@click.option(
    "--ignore-extra",
    is_flag=True,
    help="Leave aside the columns that are not the run's features (they are copied to the output) instead of "
    "refusing the file.",
)
@checkpoint_option("best", "Checkpoint to predict with: best, last, epoch-NNNN or a .safetensors file.")
@click.option(
    "--tta",
    is_flag=True,
    help="Test-time augmentation: average the outputs over the mirror image and the one-pixel shifts of every "
    "image, as far as the run's data.augment trained on them (as nnlab eval --tta).",
)
def predict(run_dir, input_csv, output, ignore_extra, checkpoint, tta):
    """Predict the rows of INPUT.csv with the model of RUN_DIR: the predicted class (by name) and one
    probability per class, or the predicted values for regression.

    Features are read by the column names the run was trained with (in any order), or by position when the
    file has none of those names or no header row. The run's target and the columns its config dropped
    (data.drop, e.g. an id) are left aside and copied to the output; any other column is refused unless
    --ignore-extra. The run's own preprocessing is applied, missing values filled with the train split's
    means where the run was trained with data.missing: mean. The output repeats the input columns and adds
    prediction and prob_<class>.

    \b
    Example:  nnlab predict runs/moons-20250101-120000-ab12 new-points.csv
              nnlab predict runs/moons-A new-points.csv -o predictions.csv
              nnlab predict runs/fashion-A images.csv --tta -o predictions.csv
    """
    from pathlib import Path

    from rich.markup import escape

    from nnlab.atomic import atomic_write
    from nnlab.cli.render import console
    from nnlab.inference import load_run
    from nnlab.tables import features_from_frame, prediction_frame, read_csv

    if output not in (None, "-"):
        _check_output(Path(output), input_csv)
    model = load_run(run_dir, checkpoint)
    views = len(model.tta_views()) if tta else 0  # a run without them is refused before reading the file
    frame = read_csv(input_csv)
    X, notes = features_from_frame(frame, model, ignore_extra)
    result = prediction_frame(model, frame, X, tta)
    text = result.to_csv(index=False, float_format="%.8g")
    if output == "-":
        click.echo(text, nl=False)
        return
    for note in notes:
        say(f"note: {note}", err=True)
    if output is not None:
        atomic_write(Path(output), text)
    out = console()
    tta_note = f"; mean of {views} views of each image" if views else ""
    out.print(f"model [cyan]{escape(model.name)}[/cyan] ({model.checkpoint.stem}, epoch {model.epoch}{tta_note})")
    out.print(preview(result, model))
    if output is not None:
        say(f"wrote {len(result)} predictions to {output}")
    elif len(result) > PREVIEW_ROWS:
        out.print(f"{len(result)} rows; write them all with -o OUT.csv")


def _check_output(out_path, input_csv) -> None:
    """-o is refused before any work where it could not be written or would overwrite the input."""
    from pathlib import Path

    from nnlab.atomic import check_writable
    from nnlab.errors import NnlabError

    if not out_path.parent.is_dir():
        raise NnlabError(f"-o: folder '{out_path.parent}' not found")
    if out_path.is_dir():
        raise NnlabError(f"-o: '{out_path}' is a folder; give the name of the CSV file to write")
    if out_path.resolve() == Path(input_csv).resolve():
        raise NnlabError("-o: the output would overwrite INPUT.csv; choose another file name")
    check_writable(out_path.parent, f"-o '{out_path}'")


def preview(result, model):
    import numpy as np
    from rich.markup import escape
    from rich.table import Table

    from nnlab.cli.render import fmt

    shown = min(len(result), PREVIEW_ROWS)
    t = Table(title=f"predictions, {shown} of {len(result)} rows" if shown < len(result) else "predictions")
    for col in result.columns:
        t.add_column(escape(str(col)), justify="right", style="bold" if col == "prediction" else None)
    for _, row in result.head(PREVIEW_ROWS).iterrows():
        t.add_row(*(fmt(float(v)) if isinstance(v, (float, np.floating)) else escape(str(v)) for v in row))
    return t
