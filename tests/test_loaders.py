"""Users' files (csv, npz, idx) and the real datasets (iris, digits, Fashion-MNIST), on files the tests write themselves.

Every bad file goes through the CLI: exit status 2 and a message that names the file and the problem.
"""

import gzip
import json
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from nnlab import registry
from nnlab.cli import main
from nnlab.config import parse_config
from nnlab.data import idx as idx_module
from nnlab.data.core import load_splits
from nnlab.data.real import FASHION_CLASSES
from nnlab.errors import DataError
from nnlab.runs.checkpoint import load_checkpoint
from nnlab.training import train

# the toy files here number their rows in a feature column ('a': 0, 1, 2, …); the warning that this
# column looks like an id is tested in test_predict_files.py
pytestmark = pytest.mark.filterwarnings("ignore::nnlab.data.files.IdColumnWarning")

MODEL = {"hidden": [8]}
TRAIN = {"epochs": 2, "batch_size": 16}


def config(data: dict, model=None, training=None, **extra) -> dict:
    return {"name": "t", "data": data, "model": model or MODEL, "training": training or TRAIN, **extra}


def write_config(tmp_path, cfg: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def train_cli(tmp_path, cfg: dict, *args):
    return CliRunner().invoke(
        main, ["train", str(write_config(tmp_path, cfg)), "--runs-dir", str(tmp_path / "runs"), *map(str, args)]
    )


def assert_user_error(result, *fragments):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for f in fragments:
        assert f in result.output, (f, result.output)


def build(spec: dict):
    return registry.build("dataset", spec, rng=np.random.default_rng(0))


# ----- IDX files, written by hand ---------------------------------------------------------------


def write_idx(path: Path, arr: np.ndarray, code: int = 0x08, gz: bool = False, magic: bytes | None = None, cut=0):
    """An IDX file: 0x00 0x00 type ndim, big-endian int32 dimensions, big-endian values."""
    be = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[code]
    head = magic if magic is not None else bytes([0, 0, code, arr.ndim])
    data = head + b"".join(int(d).to_bytes(4, "big") for d in arr.shape) + arr.astype(be).tobytes()
    data = data[: len(data) - cut]
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def image_pair(tmp_path, n=60, seed=0, stem="train", gz=True):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 4, 4), dtype=np.uint8)
    labels = rng.integers(0, 3, n).astype(np.uint8)
    suffix = ".gz" if gz else ""
    a = write_idx(tmp_path / f"{stem}-images{suffix}", images, gz=gz)
    b = write_idx(tmp_path / f"{stem}-labels{suffix}", labels, gz=gz)
    return a, b, images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_idx_reads_gzipped_or_plain_files_as_uint8(tmp_path, gz):
    a, b, images, labels = image_pair(tmp_path, gz=gz)
    ds = build({"name": "idx", "images": str(a), "labels": str(b)})
    assert ds.X.dtype == np.uint8 and ds.X.shape == (60, 16)
    np.testing.assert_array_equal(ds.X, images.reshape(60, 16))
    np.testing.assert_array_equal(ds.y, labels)
    assert ds.y.dtype == np.int64 and ds.class_names == ["0", "1", "2"]


def test_idx_reads_wider_types_in_native_byte_order(tmp_path):
    values = np.array([[1.5, -2.0], [3.25, 1e6]], dtype=np.float32)
    path = write_idx(tmp_path / "floats.idx", values, code=0x0D)
    got = idx_module.read_idx(path, cache=False)
    assert got.dtype == np.float32 and got.dtype.isnative
    np.testing.assert_array_equal(got, values)
    shorts = np.array([-300, 2, 30000], dtype=np.int16)
    np.testing.assert_array_equal(idx_module.read_idx(write_idx(tmp_path / "s.idx", shorts, code=0x0B)), shorts)


def test_idx_test_pair_is_kept_as_the_test_split(tmp_path):
    a, b, *_ = image_pair(tmp_path, 60, 0, "train")
    c, d, *_ = image_pair(tmp_path, 30, 1, "test")
    cfg = parse_config(
        yaml.safe_dump(
            config({"name": "idx", "images": str(a), "labels": str(b), "test_images": str(c), "test_labels": str(d)})
        )
    )
    s, _ = load_splits(cfg.data, 0, np.float32)
    assert len(s.X_test) == 30 and len(s.X_train) + len(s.X_val) == 60


@pytest.mark.parametrize(
    "damage, message",
    [
        ({"magic": b"\x12\x34\x08\x03"}, "wrong magic number 0x12340803"),
        ({"magic": b"\x00\x00\x42\x03"}, "wrong magic number 0x00004203"),
        ({"cut": 10}, "is truncated"),
        ({"cut": 200}, "is truncated"),
    ],
)
def test_bad_idx_files_exit_2_naming_the_file(tmp_path, damage, message):
    rng = np.random.default_rng(0)
    bad = write_idx(tmp_path / "images.idx", rng.integers(0, 256, (20, 4, 4), dtype=np.uint8), **damage)
    labels = write_idx(tmp_path / "labels.idx", np.zeros(20, np.uint8))
    r = train_cli(tmp_path, config({"name": "idx", "images": str(bad), "labels": str(labels)}))
    assert_user_error(r, message, str(bad))


def test_idx_with_different_image_and_label_counts(tmp_path):
    images = write_idx(tmp_path / "images.idx", np.zeros((20, 4, 4), np.uint8))
    labels = write_idx(tmp_path / "labels.idx", np.zeros(19, np.uint8))
    r = train_cli(tmp_path, config({"name": "idx", "images": str(images), "labels": str(labels)}))
    assert_user_error(r, "holds 20 images", "holds 19 labels", str(images), str(labels))


def test_idx_damaged_gzip(tmp_path):
    a, b, *_ = image_pair(tmp_path)
    a.write_bytes(a.read_bytes()[:-40])
    with pytest.raises(DataError, match="damaged or truncated gzip"):
        build({"name": "idx", "images": str(a), "labels": str(b)})


def test_idx_missing_file_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = train_cli(tmp_path, config({"name": "idx", "images": "nope.idx", "labels": "nope2.idx"}))
    assert_user_error(r, "'nope.idx' not found", str(tmp_path / "nope.idx"))


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NNLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "idx"


def test_parsed_idx_is_cached_and_refreshed_when_the_file_changes(tmp_path, monkeypatch, own_cache):
    a, _, images, _ = image_pair(tmp_path)
    first = idx_module.read_idx(a)
    (cached,) = own_cache.glob("train-images-*.npy")

    def no_parsing(*args):
        raise AssertionError("parsed again instead of read from the cache")

    with monkeypatch.context() as m:
        m.setattr(idx_module, "_parse", no_parsing)
        np.testing.assert_array_equal(idx_module.read_idx(a), first)
    new = write_idx(a, images[:10], gz=True)  # another size: another key; the old entry is replaced
    assert len(idx_module.read_idx(new)) == 10
    (refreshed,) = own_cache.glob("train-images-*.npy")
    assert refreshed != cached


def test_damaged_cache_entry_is_parsed_again(tmp_path, own_cache):
    a, _, images, _ = image_pair(tmp_path)
    idx_module.read_idx(a)
    (cached,) = own_cache.glob("train-images-*.npy")
    cached.write_bytes(b"garbage")
    np.testing.assert_array_equal(idx_module.read_idx(a).reshape(60, 16), images.reshape(60, 16))


# ----- CSV --------------------------------------------------------------------------------------


def write_csv(tmp_path, text: str, name="data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def animals_csv(tmp_path, n=90) -> Path:
    """x decides the label: bird below −1, cat between, dog above 1 (listed out of order on purpose)."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-3, -1.2, n // 3), rng.uniform(-0.8, 0.8, n // 3), rng.uniform(1.2, 3, n // 3)])
    names = np.array(["bird"] * (n // 3) + ["cat"] * (n // 3) + ["dog"] * (n // 3))
    order = rng.permutation(n)
    rows = [f"{x[i]:.6f},{rng.normal():.6f},{names[i]}" for i in order]
    return write_csv(tmp_path, "x,noise,animal\n" + "\n".join(rows) + "\n")


def label_of(x):
    return np.where(x < -1, "bird", np.where(x > 1, "dog", "cat"))


def test_csv_string_labels_round_trip_through_the_run(tmp_path):
    path = animals_csv(tmp_path)
    ds = build({"name": "csv", "path": str(path), "target": "animal"})
    assert ds.task == "classification" and ds.class_names == ["bird", "cat", "dog"]
    assert ds.feature_names == ["x", "noise"]
    np.testing.assert_array_equal(np.array(ds.class_names)[ds.y], label_of(ds.X[:, 0]))

    cfg = config(
        {"name": "csv", "path": str(path), "target": "animal", "split": {"val": 0.2, "test": 0.2}},
        model={"hidden": [16]},
        training={"epochs": 150, "batch_size": "full"},
        optimizer={"name": "adam", "lr": 0.05},
    )
    result = train(parse_config(yaml.safe_dump(cfg)), tmp_path / "runs")
    _, meta = load_checkpoint(result.run_dir / "checkpoints" / "last.safetensors")
    assert meta["data"]["class_names"] == ["bird", "cat", "dog"]
    assert meta["data"]["feature_names"] == ["x", "noise"]
    # predicted indices, through the checkpoint's class names, are the original strings
    X_test = result.experiment.splits.X_test
    predicted = np.array(meta["data"]["class_names"])[result.network.predict(X_test).argmax(axis=1)]
    np.testing.assert_array_equal(predicted, label_of(X_test[:, 0]))


def test_csv_task_is_inferred_and_can_be_overridden(tmp_path):
    path = write_csv(
        tmp_path, "a,few,many,real,flag\n" + "\n".join(f"{i},{i % 3},{i},{i / 7:.4f},{i % 2 == 0}" for i in range(40))
    )
    assert build({"name": "csv", "path": str(path), "target": "few"}).task == "classification"
    assert build({"name": "csv", "path": str(path), "target": "flag"}).class_names == ["False", "True"]
    assert build({"name": "csv", "path": str(path), "target": "many"}).task == "regression"
    assert build({"name": "csv", "path": str(path), "target": "real"}).task == "regression"
    ds = build({"name": "csv", "path": str(path), "target": "few", "task": "regression"})
    assert ds.task == "regression" and ds.y.dtype == np.float64
    ds = build({"name": "csv", "path": str(path), "target": "many", "task": "classification", "features": ["a"]})
    assert ds.n_classes == 40 and ds.feature_names == ["a"]
    ds = build({"name": "csv", "path": str(path), "target": "few", "drop": ["flag", "real"]})
    assert ds.feature_names == ["a", "many"]


def test_csv_integer_labels_keep_their_values_as_names(tmp_path):
    path = write_csv(tmp_path, "x,y\n" + "\n".join(f"{i},{[3, 7, 9][i % 3]}" for i in range(30)))
    ds = build({"name": "csv", "path": str(path), "target": "y"})
    assert ds.class_names == ["3", "7", "9"] and set(ds.y) == {0, 1, 2}


def test_csv_relative_path_resolves_from_the_current_directory(tmp_path, monkeypatch):
    animals_csv(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert len(build({"name": "csv", "path": "data.csv", "target": "animal"}).X) == 90


@pytest.mark.parametrize(
    "text, extra, fragments",
    [
        (
            "a,b,label\n1,2,x\n3,4,y\n",
            {"target": "lable"},
            ["no column 'lable'", "did you mean 'label'", "columns: a, b, label"],
        ),
        (
            "a,colour,label\n1,red,x\n3,blue,y\n",
            {},
            ["feature column 'colour' is not numeric", "'red'", "drop: [colour]"],
        ),
        ("a,b,label\n1,2,x\n", {"features": ["a", "c"]}, ["no column 'c'"]),
        ("", {}, ["is empty"]),
        ("a,b,label\n", {}, ["header line but no rows"]),
        (
            "a,b,label\n1,,x\n3,4,\n5,6,y\n",
            {},
            ["2 missing value(s)", "'b' (1)", "'label' (1)", "data row 1", "missing: drop"],
        ),
        ("a,b,label\n1,2,x\n", {"task": "regression"}, ["holds text", "task: classification"]),
        ("a,b,label\n1,inf,x\n2,3,y\n", {}, ["column 'b' holds an infinite value"]),
    ],
    ids=["no-target", "non-numeric", "unknown-feature", "empty", "header-only", "missing", "text-regression", "inf"],
)
def test_bad_csv_files_exit_2_naming_the_file(tmp_path, text, extra, fragments):
    path = write_csv(tmp_path, text)
    r = train_cli(tmp_path, config({"name": "csv", "path": str(path), "target": "label", **extra}))
    assert_user_error(r, str(path), *fragments)


def test_csv_not_found_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = train_cli(tmp_path, config({"name": "csv", "path": "data/missing.csv", "target": "y"}))
    assert_user_error(r, "'data/missing.csv' not found", str(tmp_path / "data" / "missing.csv"))


def test_csv_bad_missing_policy_is_a_config_error(tmp_path):
    r = train_cli(tmp_path, config({"name": "csv", "path": "x.csv", "target": "y", "missing": "zero"}))
    assert_user_error(r, "argument 'missing' must be 'error' or 'drop' or 'mean'")


NAN_CSV = "a,b,label\n" + "\n".join(
    f"{i},{'' if i % 10 == 3 else i * 2},{'' if i == 7 else 'xy'[i % 2]}" for i in range(60)
)


def test_csv_missing_drop_leaves_out_the_rows(tmp_path):
    ds = build({"name": "csv", "path": str(write_csv(tmp_path, NAN_CSV)), "target": "label", "missing": "drop"})
    assert len(ds.X) == 60 - 6 - 1 and not np.isnan(ds.X).any() and not ds.impute
    assert ds.info["rows_dropped"] == 7


def test_csv_missing_mean_fills_with_train_split_means(tmp_path):
    path = write_csv(tmp_path, NAN_CSV)
    ds = build({"name": "csv", "path": str(path), "target": "label", "missing": "mean"})
    assert len(ds.X) == 59 and np.isnan(ds.X[:, 1]).sum() == 6 and ds.impute  # rows without a label go
    cfg = parse_config(
        yaml.safe_dump(
            config({"name": "csv", "path": str(path), "target": "label", "missing": "mean", "split": {"val": 0.3}})
        )
    )
    s, pre = load_splits(cfg.data, 0, np.float64)
    assert not np.isnan(s.X_train).any() and not np.isnan(s.X_val).any()
    # the fill is the mean of the train rows' present values, not of the whole file's
    train_rows = np.isin(ds.X[:, 0], s.X_train[:, 0])
    b = ds.X[train_rows, 1]
    assert pre.fill[1] == pytest.approx(np.nanmean(b))
    assert pre.fill[1] != pytest.approx(np.nanmean(ds.X[:, 1]))
    assert "preprocess.fill" in pre.state()


def test_csv_missing_mean_trains_and_stores_the_fill(tmp_path):
    path = write_csv(tmp_path, NAN_CSV)
    r = train_cli(
        tmp_path,
        config({"name": "csv", "path": str(path), "target": "label", "missing": "mean", "preprocess": "standardize"}),
        "--json",
    )
    assert r.exit_code == 0, r.output
    run = Path(json.loads(r.stdout)["run_dir"])
    tensors, _ = load_checkpoint(run / "checkpoints" / "best.safetensors")
    assert tensors["preprocess.fill"].shape == (2,)


def ids_csv(tmp_path, ids) -> Path:
    """An id column beside two features; the label follows the features."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(len(ids), 2))
    rows = [f"{ids[i]},{x[i, 0]:.4f},{x[i, 1]:.4f},{'ab'[int(x[i].sum() > 0)]}" for i in range(len(ids))]
    return write_csv(tmp_path, "id,x1,x2,label\n" + "\n".join(rows) + "\n", name="ids.csv")


@pytest.mark.parametrize("ids", [np.arange(60), np.arange(1001, 1061), np.arange(60)[::-1] * 3])
def test_csv_warns_when_an_id_like_column_becomes_a_feature(tmp_path, ids):
    path = ids_csv(tmp_path, ids)
    r = train_cli(tmp_path, config({"name": "csv", "path": str(path), "target": "label"}))
    assert r.exit_code == 0, r.output
    assert f"warning: '{path}': feature column 'id' looks like a row id" in r.output
    assert f"{ids[0]} to {ids[-1]}" in r.output and "drop: [id]" in r.output


@pytest.mark.parametrize(
    "ids, data",
    [
        (np.arange(60), {"drop": ["id"]}),  # dropped: not a feature
        (np.arange(60), {"features": ["id", "x1", "x2"]}),  # listed: a feature by choice
        (np.random.default_rng(0).permutation(60), {}),  # not in order
        (np.arange(60) // 2, {}),  # repeated values
        (np.arange(60) + 0.5, {}),  # not whole numbers
        (np.arange(12), {}),  # too few rows to tell
    ],
    ids=["dropped", "listed", "shuffled", "repeated", "fractions", "short"],
)
def test_csv_no_id_warning_where_the_column_is_no_id_feature(tmp_path, ids, data):
    path = ids_csv(tmp_path, ids)
    r = train_cli(tmp_path, config({"name": "csv", "path": str(path), "target": "label", **data}))
    assert r.exit_code == 0, r.output
    assert "looks like a row id" not in r.output


def test_csv_id_warning_suggests_adding_to_the_existing_drop_list(tmp_path):
    path = write_csv(
        tmp_path, "id,x,note,label\n" + "\n".join(f"{i},{np.sin(i):.3f},n{i},{'ab'[i % 2]}" for i in range(40))
    )
    r = train_cli(tmp_path, config({"name": "csv", "path": str(path), "target": "label", "drop": ["note"]}))
    assert r.exit_code == 0 and "drop: [note, id]" in r.output, r.output


# ----- NPZ --------------------------------------------------------------------------------------


def test_npz_keeps_uint8_and_its_test_split(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez(
        path,
        X=rng.integers(0, 256, (50, 2, 3), dtype=np.uint8),
        y=np.array(["no", "yes"] * 25),
        X_test=rng.integers(0, 256, (10, 2, 3), dtype=np.uint8),
        y_test=np.array(["maybe", "no"] * 5),
    )
    ds = build({"name": "npz", "path": str(path)})
    assert ds.X.dtype == np.uint8 and ds.X.shape == (50, 6)
    assert ds.class_names == ["maybe", "no", "yes"]  # the test labels count too
    assert set(ds.y) == {1, 2} and set(ds.y_test) == {0, 1}


def test_npz_labels_saved_as_a_column_are_classes(tmp_path):
    path = tmp_path / "c.npz"
    np.savez(path, X=np.ones((20, 2)), y=(np.arange(20) % 2).reshape(-1, 1), class_names=np.array(["off", "on"]))
    ds = build({"name": "npz", "path": str(path)})
    assert ds.task == "classification" and ds.y.shape == (20,) and ds.class_names == ["off", "on"]


def test_npz_with_names_and_regression(tmp_path):
    path = tmp_path / "r.npz"
    np.savez(path, X=np.ones((20, 2)), y=np.linspace(0, 1, 20), feature_names=np.array(["u", "v"]))
    ds = build({"name": "npz", "path": str(path)})
    assert ds.task == "regression" and ds.feature_names == ["u", "v"]


@pytest.mark.parametrize(
    "arrays, fragments",
    [
        ({"X": np.ones((4, 2)), "labels": np.zeros(4)}, ["no array 'y'", "arrays: X, labels"]),
        ({"X": np.ones((4, 2)), "y": np.zeros(3)}, ["X has 4 rows but y has 3"]),
        ({"X": np.array([[1.0, np.nan]] * 4), "y": np.zeros(4, int)}, ["NaN or infinite"]),
        ({"X": np.ones((4, 2)), "y": np.zeros(4, int), "X_test": np.ones((2, 2))}, ["X_test and y_test"]),
    ],
    ids=["no-y", "lengths", "nan", "half-test"],
)
def test_bad_npz_files_exit_2_naming_the_file(tmp_path, arrays, fragments):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    r = train_cli(tmp_path, config({"name": "npz", "path": str(path)}))
    assert_user_error(r, str(path), *fragments)


def test_npz_that_is_not_one(tmp_path):
    path = tmp_path / "d.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    assert_user_error(train_cli(tmp_path, config({"name": "npz", "path": str(path)})), str(path), "not a readable .npz")


# ----- preprocessing: train statistics only, no float64 copy -------------------------------------


def test_preprocessing_statistics_come_from_the_train_split_only(tmp_path):
    rng = np.random.default_rng(0)
    X = np.arange(200, dtype=np.float64).reshape(-1, 1) + rng.normal(0, 0.1, (200, 1))  # every row distinct
    y = np.arange(200) % 2
    path = tmp_path / "d.npz"
    np.savez(path, X=X, y=y, X_test=X[:50] * 1000, y_test=y[:50])  # a test split far off the train data
    for method in ("standardize", "minmax"):
        cfg = parse_config(
            yaml.safe_dump(config({"name": "npz", "path": str(path), "split": {"val": 0.3}, "preprocess": method}))
        )
        s, pre = load_splits(cfg.data, 0, np.float64)
        raw = {k: v / pre.scale + pre.shift for k, v in (("train", s.X_train), ("val", s.X_val))}
        # the recovered raw rows are disjoint: the split held the val rows out of the statistics
        assert not np.isin(raw["val"].round(6), raw["train"].round(6)).any()
        if method == "standardize":
            np.testing.assert_allclose(pre.shift, raw["train"].mean(axis=0))
            np.testing.assert_allclose(1 / pre.scale, raw["train"].std(axis=0))
            assert pre.shift[0] != pytest.approx(X.mean(), rel=1e-3)
        else:
            np.testing.assert_allclose(pre.shift, raw["train"].min(axis=0))
            np.testing.assert_allclose(1 / pre.scale, np.ptp(raw["train"], axis=0))
        assert s.X_test.max() > 100  # transformed with the train statistics: far outside [0, 1] / ±3


def test_uint8_images_are_never_copied_whole_into_float64(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (6000, 784), dtype=np.uint8)
    path = tmp_path / "img.npz"
    np.savez(path, X=X, y=np.arange(6000) % 10)
    cfg = parse_config(yaml.safe_dump(config({"name": "npz", "path": str(path), "preprocess": "standardize"})))
    tracemalloc.start()
    try:
        s, pre = load_splits(cfg.data, 0, np.float32)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    float32_out = 6000 * 784 * 4
    assert s.X_train.dtype == np.float32
    # the float32 splits, the uint8 array and one chunk (8 MB); a float64 copy of the train rows is 30 MB more
    assert peak < float32_out + X.nbytes + 12e6, f"peak {peak / 1e6:.1f} MB"


# ----- the real datasets --------------------------------------------------------------------------


def test_iris_is_the_shipped_csv():
    ds = build({"name": "iris"})
    assert ds.X.shape == (150, 4) and np.bincount(ds.y).tolist() == [50, 50, 50]
    assert ds.class_names == ["setosa", "versicolor", "virginica"]
    assert ds.feature_names == ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def test_digits_comes_from_scikit_learn():
    pytest.importorskip("sklearn")
    ds = build({"name": "digits"})
    assert ds.X.shape == (1797, 64) and ds.n_classes == 10 and ds.X.max() == 16


def test_digits_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(DataError, match=r"pip install scikit-learn"):  # not the bench extra, which pins torch
        build({"name": "digits"})


def fake_fashion(folder: Path, n=40, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for stem, count in (("train", n), ("t10k", n // 2)):
        write_idx(
            folder / f"{stem}-images-idx3-ubyte{'.gz' if gz else ''}",
            rng.integers(0, 256, (count, 28, 28), dtype=np.uint8),
            gz=gz,
        )
        write_idx(
            folder / f"{stem}-labels-idx1-ubyte{'.gz' if gz else ''}", (np.arange(count) % 10).astype(np.uint8), gz=gz
        )


def test_fashion_mnist_is_looked_up_in_nnlab_data_first(tmp_path, monkeypatch):
    fake_fashion(tmp_path / "fashion-mnist", gz=False)
    monkeypatch.setenv("NNLAB_DATA", str(tmp_path))
    ds = build({"name": "fashion_mnist"})
    assert ds.X.shape == (40, 784) and ds.X_test.shape == (20, 784) and ds.X.dtype == np.uint8
    assert ds.class_names == FASHION_CLASSES and ds.feature_names[0] == "pixel1"
    assert build({"name": "fashion_mnist", "limit": 15, "test_limit": 5}).X_test.shape == (5, 784)


def test_fashion_mnist_where_the_debian_package_put_it(tmp_path, monkeypatch):
    from nnlab.data import real

    fake_fashion(tmp_path / "elsewhere")
    listing = "\n".join(f"{tmp_path}/elsewhere/{n}" for n in ("README", "train-images-idx3-ubyte.gz"))
    monkeypatch.setattr(real, "fashion_mnist_folders", lambda: [tmp_path / "a"])
    monkeypatch.setattr(real.shutil, "which", lambda name: "/usr/bin/dpkg-query")
    monkeypatch.setattr(real.subprocess, "run", lambda *a, **k: type("Done", (), {"stdout": listing})())
    assert real.find_fashion_mnist()[0] == tmp_path / "elsewhere" / "train-images-idx3-ubyte.gz"


def test_fashion_mnist_absent_says_how_to_get_it(tmp_path, monkeypatch):
    from nnlab.data import real

    monkeypatch.setattr(real, "fashion_mnist_folders", lambda: [tmp_path / "a", tmp_path / "b"])
    monkeypatch.setattr(real, "_debian_folders", lambda: [])
    r = train_cli(tmp_path, config({"name": "fashion_mnist"}))
    assert_user_error(r, "apt-get install dataset-fashion-mnist", str(tmp_path / "a"), "train-images-idx3-ubyte.gz")


def test_fashion_mnist_trains_for_real(tmp_path, fashion_mnist_available):
    """The real files (CI installs the Debian package): a short run on a subset, through the CLI."""
    r = train_cli(
        tmp_path,
        config(
            {
                "name": "fashion_mnist",
                "limit": 3000,
                "test_limit": 1000,
                "split": {"val": 0.1},
                "preprocess": "standardize",
            },
            model={"hidden": [64]},
            training={"epochs": 2, "batch_size": 64},
        ),
        "--json",
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["examples"] == {"train": 2700, "val": 300, "test": 1000}
    assert out["test"]["test_accuracy"] > 0.7
    _, meta = load_checkpoint(Path(out["run_dir"]) / "checkpoints" / "last.safetensors")
    assert meta["data"]["class_names"] == FASHION_CLASSES and meta["data"]["n_features"] == 784
