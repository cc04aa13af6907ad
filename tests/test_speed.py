"""The engine's speed contract, without timing: steady-state training allocates no arrays per batch, and
short epochs do not rewrite the run folder every time. (Speed itself is measured in benchmarks/.)"""

import tracemalloc

import numpy as np
import pandas as pd
import pytest

import nnlab
from nnlab.config import parse_config
from nnlab.training import train

NET = """
data: {name: blobs, n_samples: 1024, classes: 4, features: 64, split: {val: 0.0}}
model: {hidden: [256, 128], dropout: 0.2, activation: ACT}
optimizer: {name: OPT, lr: 0.001}
regularization: {l2: L2}
training: {epochs: 1, batch_size: 256}
"""
B = 256


@pytest.mark.parametrize(
    "act, opt, l2", [("relu", "adam", 1e-4), ("tanh", "sgd", 1e-4), ("sigmoid", "rmsprop", 1e-4), ("relu", "sgd", 0)]
)
def test_steady_state_training_allocates_no_arrays_per_batch(act, opt, l2, runs_dir):
    t = nnlab.build(NET.replace("ACT", act).replace("OPT", opt).replace("L2", str(l2)))
    X, y = t.splits.X_train, t.splits.y_train
    xb, yb = np.empty((B, X.shape[1]), X.dtype), np.empty(B, y.dtype)
    order = np.random.default_rng(0).permutation(len(X))

    def batches(k):
        for i in range(k):
            idx = order[(i * B) % len(X) :][:B]
            np.take(X, idx, axis=0, out=xb, mode="clip")  # as the trainer gathers its batches
            np.take(y, idx, axis=0, out=yb, mode="clip")
            t.train_step(xb, yb, 0.001)

    batches(50)  # the first steps allocate the buffers, once, and warm NumPy's small caches of array metadata
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        batches(20)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    smallest_batch_array = B * 128 * 4  # one float32 activation of the narrowest hidden layer: 128 KiB
    assert current - base < 1024, "memory retained across batches"
    # what a step may allocate: vectors of one number per example, the fixed 8192-element iteration buffer
    # NumPy uses for the broadcast bias add (32 KiB whatever the batch), dropout's raw random numbers, 8192 at
    # a time (64 KiB, nnlab.components.layers.RAW_CHUNK): nothing of a batch's size
    assert peak - base < 96 * 1024 < smallest_batch_array, f"a batch allocated {peak - base} bytes of temporaries"


def test_short_epochs_are_written_at_most_once_per_interval_but_always_at_the_end(runs_dir, monkeypatch):
    from nnlab.runs.folder import RunFolder

    writes = []
    original = RunFolder.write_metrics
    monkeypatch.setattr(
        RunFolder, "write_metrics", lambda self, text: (writes.append(text.count("\n") - 1), original(self, text))
    )
    cfg = parse_config(
        "data: {name: xor}\nmodel: {hidden: [4], activation: tanh}\noptimizer: {name: sgd, lr: 0.5}\n"
        "training: {epochs: 400, batch_size: full, save_interval: 3600}"
    )
    result = train(cfg, runs_dir)
    assert writes == [1, 400]  # after the first epoch and at the end: every epoch was far shorter than the interval
    assert len(pd.read_csv(result.run_dir / "metrics.csv")) == 400
    writes.clear()
    train(parse_config(cfg.to_yaml(), ["training.save_interval=0", "training.epochs=5"]), runs_dir)
    assert writes == [1, 2, 3, 4, 5]  # save_interval 0: after every epoch


def test_best_checkpoint_holds_the_best_epoch_even_when_written_later(runs_dir):
    from nnlab.runs.checkpoint import load_checkpoint

    cfg = parse_config(
        "data: {name: moons, n_samples: 200}\nmodel: {hidden: [8]}\noptimizer: {name: sgd, lr: 2.0}\n"
        "training: {epochs: 30, save_interval: 3600}"
    )
    result = train(cfg, runs_dir)
    _, meta = load_checkpoint(result.run_dir / "checkpoints" / "best.safetensors")
    best = result.summary["best"]
    assert meta["epoch"] == best["epoch"] and len(meta["metrics"]) == best["epoch"]
    assert meta["metrics"][-1][best["monitor"]] == best["value"]


def test_metrics_text_is_what_pandas_writes_and_formats_each_row_once(monkeypatch):
    from nnlab.training import persistence

    rng = np.random.default_rng(0)
    hist = [
        {
            "epoch": i + 1,
            "lr": 1e-3 * (i + 1),
            "train_loss": float(rng.random()) * 10.0 ** (i % 13 - 9),
            "seconds": 0.12,
        }
        for i in range(40)
    ]
    hist[3]["val_loss"] = float("nan")  # missing in every other row, NaN in this one: empty cells
    hist[7]["train_loss"] = float("inf")
    hist[9]["note"] = "a,b"  # quoted
    hist[20]["lr"] = 1  # an int among floats
    hist.append({"epoch": 41, "lr": 1e-5, "train_loss": 1e-12, "seconds": np.float32(0.25), "weight_change": 3.0})
    for k in (1, 10, 30, 41):
        row = hist[k - 1]
        columns = [*row, *(c for c in hist[0] if c not in row)]  # the newest row's keys first, as written
        want = pd.DataFrame(hist[:k], columns=columns).to_csv(index=False, float_format="%.8g")
        assert persistence.MetricsText()(hist[:k]) == want

    formatted = []

    class Counted(float):  # a number that counts how often it is formatted
        def __format__(self, spec):
            formatted.append(self)
            return float.__format__(self, spec)

    hist = [{k: Counted(v) if isinstance(v, float) else v for k, v in row.items()} for row in hist]
    text, steady = persistence.MetricsText(), hist[20:40]  # four columns throughout
    for k in (5, 12, 20, 20):
        text(steady[:k])
    floats = sum(isinstance(v, float) for row in steady for v in row.values())
    assert len(formatted) == floats  # each row once, however often the growing history is written
    text(hist)  # the columns changed (the last row's new key): everything again, with five columns
    assert len(formatted) == floats + sum(isinstance(v, float) and v == v for row in hist for v in row.values())
    other = [dict(r) for r in hist]  # another history (a resumed run's rows): formatted afresh, same text
    assert text(other) == text(hist)


def test_checkpoints_hold_the_history_encoded_row_by_row_as_json_would(tmp_path, monkeypatch):
    import json

    from nnlab.runs.checkpoint import encode, load_checkpoint
    from nnlab.training import persistence

    hist = [
        {"epoch": i + 1, "train_loss": 1.0 / (i + 1), "val_loss": float("nan") if i == 2 else 0.5} for i in range(30)
    ]
    meta = {"epoch": 30, "best": {"epoch": 7}, "config": {"name": "x"}, "metrics": None}
    tensors = {"model.weights": np.arange(6, dtype=np.float32)}
    encoded = []
    dumps = json.dumps
    monkeypatch.setattr(persistence.json, "dumps", lambda v, **k: (encoded.append(v), dumps(v, **k))[1])
    history = persistence.HistoryJSON()
    for k in (10, 30, 7, 30):  # growing, then the best epoch's prefix, then all again
        assert history(hist[:k]) == dumps(hist[:k], sort_keys=True)
    assert len(encoded) == 30  # each row once

    saved = [encode(tensors, meta, {"metrics": history(hist)}), encode(tensors, {**meta, "metrics": hist})]

    def header(data):  # safetensors' own header JSON, whose key order is its own
        return json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])["__metadata__"]

    assert header(saved[0]) == header(saved[1])  # the metadata json.dumps of the whole made, checksum included
    (tmp_path / "c").write_bytes(saved[0])
    _, back = load_checkpoint(tmp_path / "c")
    assert back["metrics"][3] == hist[3] and np.isnan(back["metrics"][2]["val_loss"]) and len(back["metrics"]) == 30


def test_a_meta_that_holds_the_stand_in_elsewhere_is_encoded_whole(tmp_path):
    from nnlab.runs.checkpoint import encode, load_checkpoint

    rows = [{"epoch": 1, "train_loss": 0.5}]
    meta = {"config": {"name": "\x00metrics\x00"}, "epoch": 1}  # a name that happens to be the stand-in
    data = encode({"w": np.ones(2, np.float32)}, meta, {"metrics": '[{"epoch": 1, "train_loss": 0.5}]'})
    (tmp_path / "c").write_bytes(data)
    _, back = load_checkpoint(tmp_path / "c")
    assert back["metrics"] == rows and back["config"]["name"] == "\x00metrics\x00"
