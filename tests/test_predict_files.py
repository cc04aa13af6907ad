"""Predicting on a user's own file: a CSV shaped like the one the run was trained on (its id and target
columns included), and missing values filled as the run's ``missing: mean`` promises."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import nnlab
from nnlab.cli import main
from nnlab.errors import DataError
from nnlab.runs.checkpoint import encode, load_checkpoint

N = 120


def write_people(path: Path, n=N, ids=None, blanks=True) -> Path:
    """id, two features and a yes/no label decided by their sum; some x1 cells empty (every 13th row)."""
    rng = np.random.default_rng(7)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    ids = np.arange(1001, 1001 + n) if ids is None else ids
    label = np.where(x1 + x2 > 0, "yes", "no")
    rows = [f"{ids[i]},{'' if blanks and i % 13 == 5 else f'{x1[i]:.4f}'},{x2[i]:.4f},{label[i]}" for i in range(n)]
    path.write_text("id,x1,x2,label\n" + "\n".join(rows) + "\n")
    return path


def train_run(tmp_path: Path, data: dict, name="people") -> tuple[Path, str]:
    """Train through the command line; the run folder and everything train printed."""
    cfg = {
        "name": name,
        "data": {"name": "csv", "target": "label", "split": {"val": 0.2}, "preprocess": "standardize", **data},
        "model": {"hidden": [8]},
        "optimizer": {"name": "adam", "lr": 0.05},
        "training": {"epochs": 5, "batch_size": 32},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    r = CliRunner().invoke(main, ["train", str(path), "--runs-dir", str(tmp_path / "runs"), "--json"])
    assert r.exit_code == 0, r.output
    return Path(json.loads(r.stdout)["run_dir"]), r.output


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    """A run trained with drop: [id] and missing: mean, and its training file."""
    tmp = tmp_path_factory.mktemp("people")
    csv = write_people(tmp / "people.csv")
    run, _ = train_run(tmp, {"path": str(csv), "drop": ["id"], "missing": "mean"})
    return run, csv


@pytest.fixture(scope="module")
def complete(tmp_path_factory):
    """A run trained on complete rows (missing: error, the default), without the id column."""
    tmp = tmp_path_factory.mktemp("complete")
    csv = write_people(tmp / "complete.csv", blanks=False)
    run, _ = train_run(tmp, {"path": str(csv), "drop": ["id"]}, name="complete")
    return run, csv


def assert_user_error(r, *fragments):
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1, r.output
    for f in fragments:
        assert f in r.output, (f, r.output)


# ----- the columns the run left out of its features ----------------------------------------------


def test_predict_on_the_training_file_copies_ids_and_target_beside_the_predictions(people, tmp_path, cli):
    run, csv = people
    out = tmp_path / "pred.csv"
    r = cli("predict", run, csv, "-o", out)
    assert r.exit_code == 0, r.output
    assert "'id' (dropped by the run's data.drop)" in r.output and "'label' (the run's target)" in r.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["id", "x1", "x2", "label", "prediction", "prob_no", "prob_yes"]
    assert frame["id"].tolist() == list(range(1001, 1001 + N))  # predictions join back to ids
    model = nnlab.load_run(run)
    source = pd.read_csv(csv)
    assert frame["prediction"].tolist() == [model.class_names[c] for c in model.predict(source[["x1", "x2"]])]
    assert (frame["prediction"] == frame["label"]).mean() > 0.8  # and compare with the target


def test_predict_refuses_other_columns_and_names_the_flag(people, tmp_path, cli):
    run, _ = people
    src = tmp_path / "extra.csv"
    src.write_text("id,x1,x2,colour\n1,0.5,0.1,red\n2,-1.0,0.3,blue\n")
    assert_user_error(
        cli("predict", run, src, "-o", tmp_path / "out.csv"),
        f"'{src}'",
        "unexpected column(s) 'colour'",
        "--ignore-extra",
    )
    r = cli("predict", run, src, "-o", tmp_path / "out.csv", "--ignore-extra")
    assert r.exit_code == 0, r.output
    assert "'colour' ignored" in r.output
    frame = pd.read_csv(tmp_path / "out.csv")
    assert list(frame.columns[:4]) == ["id", "x1", "x2", "colour"] and frame["id"].tolist() == [1, 2]


def test_predict_by_position_leaves_the_id_and_target_aside(people, tmp_path, cli):
    run, _ = people
    src = tmp_path / "renamed.csv"
    src.write_text("id,a,b,label\n7,0.5,0.1,yes\n8,-1.0,-0.3,no\n")
    r = cli("predict", run, src, "-o", "-")
    assert r.exit_code == 0, r.output
    header, *rows = r.stdout.strip().splitlines()
    assert header == "id,a,b,label,prediction,prob_no,prob_yes" and len(rows) == 2
    model = nnlab.load_run(run)
    assert [row.split(",")[4] for row in rows] == [
        model.class_names[c] for c in model.predict([[0.5, 0.1], [-1.0, -0.3]])
    ]


def test_load_run_leaves_id_and_target_columns_aside(people):
    run, csv = people
    model = nnlab.load_run(run)
    frame = pd.read_csv(csv)
    np.testing.assert_array_equal(model.predict_proba(frame), model.predict_proba(frame[["x1", "x2"]]))
    with pytest.raises(DataError, match=r"unexpected column\(s\) 'colour'.*X\[model.feature_names\]"):
        model.predict(frame.assign(colour=1.0))


# ----- missing values: the train split's means, where the run was trained with missing: mean -----


def test_predict_fills_missing_values_with_the_stored_train_means(people, tmp_path, cli):
    run, _ = people
    model = nnlab.load_run(run)
    fill = model.preprocessor.fill
    assert fill is not None and np.isfinite(fill).all()
    src = tmp_path / "blanks.csv"
    src.write_text("id,x1,x2\n1,,0.4\n2,NA,-0.2\n3,0.3,\n4,0.3,0.4\n")
    out = tmp_path / "pred.csv"
    r = cli("predict", run, src, "-o", out)
    assert r.exit_code == 0, r.output
    assert "3 missing value(s) filled with the train split's column means" in r.output
    frame = pd.read_csv(out, keep_default_na=False)
    assert frame["x1"].tolist()[:2] == ["", "NA"]  # the input is repeated as it was
    filled = [[fill[0], 0.4], [fill[0], -0.2], [0.3, fill[1]], [0.3, 0.4]]
    np.testing.assert_allclose(frame[["prob_no", "prob_yes"]].to_numpy(), model.predict_proba(filled), atol=1e-7)
    # from Python: NaN (in arrays and DataFrames) is filled the same way
    np.testing.assert_array_equal(model.predict_proba([[np.nan, 0.4]]), model.predict_proba([[fill[0], 0.4]]))
    blanks = pd.DataFrame({"x1": [np.nan], "x2": [0.4]})
    np.testing.assert_array_equal(model.predict_proba(blanks), model.predict_proba([[fill[0], 0.4]]))


def test_missing_value_is_an_error_where_the_run_has_no_means(complete, tmp_path, cli):
    run, _ = complete
    src = tmp_path / "blanks.csv"
    src.write_text("id,x1,x2\n1,0.5,0.4\n2,NA,-0.2\n")
    assert_user_error(
        cli("predict", run, src, "-o", tmp_path / "out.csv"),
        f"'{src}'",
        "column 'x1' has a missing value (row 2, line 3 of the file: 'NA')",
        "data.missing: error",
        "data.missing: mean",
    )
    model = nnlab.load_run(run)
    with pytest.raises(DataError, match=r"NaN at row 1, column 0\).*data.missing: error"):
        model.predict([[0.5, 0.4], [np.nan, -0.2]])


def test_old_checkpoint_without_means_refuses_missing_values_saying_why(people, tmp_path, cli):
    """A checkpoint of a missing: mean run that holds no preprocess.fill (as an older nnlab might have
    written it) still loads and predicts complete rows; a missing value is refused with the reason."""
    run = shutil.copytree(people[0], tmp_path / "old-run")
    best = run / "checkpoints" / "best.safetensors"
    tensors, meta = load_checkpoint(best)
    del tensors["preprocess.fill"]
    best.write_bytes(encode(tensors, meta))
    model = nnlab.load_run(run)
    assert model.preprocessor.fill is None and model.predict([[0.5, 0.4]]).shape == (1,)
    src = tmp_path / "blanks.csv"
    src.write_text("x1,x2\n,0.4\n")
    assert_user_error(
        cli("predict", run, src, "-o", tmp_path / "out.csv"),
        "column 'x1' has a missing value (row 1, line 2 of the file: '')",
        "data.missing: mean",
        "holds no train-split means",
    )


def test_non_numeric_and_infinite_values_name_file_column_row_and_value(people, tmp_path, cli):
    run, _ = people
    src = tmp_path / "bad.csv"
    src.write_text("x1,x2\n0.1,0.2\n0.3,abc\n")
    assert_user_error(
        cli("predict", run, src), f"'{src}'", "column 'x2' is not numeric: row 2, line 3 of the file has 'abc'"
    )
    src.write_text("x1,x2\n0.1,0.2\ninf,0\n")
    assert_user_error(
        cli("predict", run, src), "column 'x1' has an infinite value: row 2, line 3 of the file has 'inf'"
    )


def test_builtin_iris_leaves_its_species_column_aside(tmp_path, cli):
    cfg = tmp_path / "iris.yaml"
    cfg.write_text("name: iris\ndata: {name: iris}\nmodel: {hidden: [4]}\ntraining: {epochs: 1}\n")
    r = cli("train", cfg, "--runs-dir", tmp_path / "runs", "--json")
    assert r.exit_code == 0, r.output
    run = json.loads(r.stdout)["run_dir"]
    src = tmp_path / "flowers.csv"
    src.write_text("sepal_length,sepal_width,petal_length,petal_width,species\n5.1,3.5,1.4,0.2,setosa\n")
    r = cli("predict", run, src, "-o", "-")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0].startswith("sepal_length,sepal_width,petal_length,petal_width,species,prediction")
