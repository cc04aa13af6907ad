"""Checkpoints and --resume: what a checkpoint holds, exact continuation (mid-epoch too), extension of a
finished run, and clear refusals that leave the run folder as it was."""

import json
import os
import signal
import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

from nnlab.config import parse_config
from nnlab.network import Network
from nnlab.registry import register
from nnlab.runs.checkpoint import load_checkpoint
from nnlab.runs.folder import RunFolder
from nnlab.training import resume, start, train

# dropout, batch norm, Adam, a step schedule, L2 and tol: every kind of state a resume must carry
EXACT = """
name: exact
data: {name: moons, n_samples: 300, split: {val: 0.2, test: 0.2}, preprocess: standardize}
model: {hidden: [16, 16], dropout: 0.2, batchnorm: true}
optimizer: {name: adam, lr: 0.01}
schedule: {name: step, every: 3, factor: 0.5}
regularization: {l2: 0.0001}
training: {epochs: 10, batch_size: 16, checkpoint_every: 4, tol: 1.0e-9}
"""
BATCHES = 12  # 180 training examples in batches of 16


def last(run_dir):
    return load_checkpoint(run_dir / "checkpoints" / "last.safetensors")


def assert_same_run(a, b):
    """Identical tensors of the last checkpoint, metrics rows (but the seconds) and summaries."""
    (ta, ma), (tb, mb) = last(a), last(b)
    assert sorted(ta) == sorted(tb)
    for k in ta:
        assert np.array_equal(ta[k], tb[k]), k
    csv_a, csv_b = pd.read_csv(a / "metrics.csv"), pd.read_csv(b / "metrics.csv")
    pd.testing.assert_frame_equal(csv_a.drop(columns="seconds"), csv_b.drop(columns="seconds"))
    for key in ("epoch", "best", "optimizer", "schedule", "early_stopping", "rng"):
        assert timeless(ma[key]) == timeless(mb[key]), key
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    for key in ("status", "epochs", "best", "test", "initial_loss"):
        assert timeless(sa[key]) == timeless(sb[key]), key


def timeless(value):
    """``value`` without its "seconds" entries (wall time is the one thing a resume cannot repeat)."""
    if isinstance(value, dict):
        return {k: timeless(v) for k, v in value.items() if k != "seconds"}
    return value


def test_checkpoint_holds_every_state(runs_dir):
    cfg = parse_config(
        EXACT,
        [
            "training.epochs=5",
            "schedule={name: reduce_on_plateau, patience: 1}",
            "training.early_stopping={patience: 50}",
        ],
    )
    d = train(cfg, runs_dir).run_dir
    tensors, meta = last(d)
    assert {"model.layers.0.W", "model.layers.0.b", "model.layers.1.gamma", "model.layers.1.beta"} <= set(tensors)
    assert {"model.layers.1.running_mean", "model.layers.1.running_var"} <= set(tensors)  # buffers
    assert {"optim.weights.m", "optim.weights.v", "optim.others.m", "optim.others.v"} <= set(tensors)
    assert {"preprocess.shift", "preprocess.scale"} <= set(tensors)
    assert meta["epoch"] == 5 and len(meta["metrics"]) == 5 and meta["position"] is None
    assert meta["optimizer"]["t"] == 5 * BATCHES
    assert set(meta["schedule"]) == {"current", "best", "wait"}
    assert set(meta["early_stopping"]) == {"best", "wait"}
    assert set(meta["rng"]) == {"shuffle", "dropout"} and meta["best"]["epoch"] >= 1
    assert meta["config"]["training"]["epochs"] == 5 and meta["data"]["n_features"] == 2
    names = sorted(p.name for p in (d / "checkpoints").iterdir())
    assert names == ["best.safetensors", "epoch-0004.safetensors", "last.safetensors"]
    assert not [p for p in d.rglob(".*.tmp")]


def test_five_then_resume_five_equals_ten(cli, runs_dir):
    whole = train(parse_config(EXACT), runs_dir / "a").run_dir
    half = train(parse_config(EXACT, ["training.epochs=5"]), runs_dir / "b").run_dir
    r = cli("train", "--resume", half, "--epochs", 10)
    assert r.exit_code == 0, r.output
    assert f"resuming {half} (completed) after epoch 5, up to epoch 10" in r.output
    assert_same_run(whole, half)
    assert len(pd.read_csv(half / "metrics.csv")) == 10
    assert yaml.safe_load((half / "config.yaml").read_text())["training"]["epochs"] == 10
    summary = json.loads((half / "summary.json").read_text())
    assert summary["status"] == "completed" and [r["epoch"] for r in summary["resumes"]] == [5]


def interrupt_at(monkeypatch, call):
    """Send this process a real SIGINT during the ``call``-th training batch of the networks built from now on
    (patched on the class: the backprop rule holds the network's bound method from the start)."""
    forward = Network.loss_and_backward
    calls = [0]

    def counting(net, *args, **kwargs):
        calls[0] += 1
        if calls[0] == call:
            os.kill(os.getpid(), signal.SIGINT)
        return forward(net, *args, **kwargs)

    monkeypatch.setattr(Network, "loss_and_backward", counting)


@pytest.mark.parametrize(
    "call, position",
    [(3 * BATCHES + 1, 1), (3 * BATCHES + 7, 7), (4 * BATCHES, None)],
    ids=["first-batch", "mid-epoch", "last-batch"],
)
def test_interrupt_then_resume_is_exact(runs_dir, monkeypatch, call, position):
    whole = train(parse_config(EXACT), runs_dir / "a").run_dir
    interrupt_at(monkeypatch, call)
    trainer = start(parse_config(EXACT), runs_dir / "b")
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN where the suite runs in the background
    result = trainer.fit()
    monkeypatch.undo()
    assert result.status == "interrupted" and result.signal == signal.SIGINT
    _, meta = last(result.run_dir)
    if position is None:  # the signal came in an epoch's last batch: the epoch ends as usual
        assert meta["position"] is None and meta["epoch"] == 4 and "after epoch 4" in result.summary["reason"]
    else:
        assert meta["position"]["batch"] == position and meta["epoch"] == 3
        assert f"in epoch 4, after batch {position} of {BATCHES}" in result.summary["reason"]
    assert json.loads((result.run_dir / "summary.json").read_text())["status"] == "interrupted"
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored
    assert resume(result.run_dir).status == "completed"
    assert_same_run(whole, result.run_dir)


def test_interrupt_then_resume_is_exact_with_diagnostics(runs_dir, monkeypatch):
    """training.diagnostics' sums of an epoch cut in the middle travel in the checkpoint: the resumed run's
    grad_norm_L and update_ratio_L columns are the uninterrupted run's, bit for bit."""
    whole = train(parse_config(EXACT, ["training.diagnostics=true"]), runs_dir / "a").run_dir
    interrupt_at(monkeypatch, 3 * BATCHES + 7)
    result = start(parse_config(EXACT, ["training.diagnostics=true"]), runs_dir / "b").fit()
    monkeypatch.undo()
    assert result.status == "interrupted" and last(result.run_dir)[1]["position"]["batch"] == 7
    assert resume(result.run_dir).status == "completed"
    assert_same_run(whole, result.run_dir)
    rows = [[timeless(row) for row in last(d)[1]["metrics"]] for d in (whole, result.run_dir)]
    assert rows[0] == rows[1] and {"grad_norm_3", "update_ratio_1"} <= set(rows[0][-1])


def test_plateau_schedule_early_stopping_and_best_survive(runs_dir):
    overrides = [
        "optimizer.lr=0.05",
        "schedule={name: reduce_on_plateau, patience: 1, factor: 0.5}",
        "training.early_stopping={monitor: val_loss, patience: 4}",
        "training.tol=null",
    ]
    whole = train(parse_config(EXACT, [*overrides, "training.epochs=60"]), runs_dir / "a")
    assert whole.status == "stopped_early"  # the run must stop early for this test to mean anything
    stop = whole.summary["epochs"]
    part = train(parse_config(EXACT, [*overrides, f"training.epochs={stop - 2}"]), runs_dir / "b")
    assert part.status == "completed"
    lrs = pd.read_csv(whole.run_dir / "metrics.csv")["lr"]
    assert lrs.iloc[: stop - 2].nunique() > 1  # the plateau schedule acted before the resume point
    resumed = resume(part.run_dir, epochs=60)
    assert resumed.status == "stopped_early" and resumed.summary["epochs"] == stop
    assert_same_run(whole.run_dir, part.run_dir)
    a, b = (load_checkpoint(d / "checkpoints" / "best.safetensors")[0] for d in (whole.run_dir, part.run_dir))
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_extend_a_completed_run(cli, runs_dir):
    d = train(parse_config(EXACT, ["training.epochs=5"]), runs_dir).run_dir
    r = cli("train", "--resume", d)
    assert r.exit_code == 2 and "completed after 5 epochs" in r.output and "--epochs 10" in r.output
    r = cli("train", "--resume", d, "--epochs", 3)
    assert r.exit_code == 2 and "must be at least 5" in r.output
    r = cli("train", "--resume", d, "--epochs", 8, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    assert out["status"] == "completed" and out["epochs"] == 8 and out["epochs_planned"] == 8
    assert pd.read_csv(d / "metrics.csv")["epoch"].tolist() == list(range(1, 9))


def test_hand_edited_epochs_in_config_yaml_are_followed(cli, runs_dir):
    d = train(parse_config(EXACT, ["training.epochs=3"]), runs_dir).run_dir
    cfg = yaml.safe_load((d / "config.yaml").read_text())
    cfg["training"]["epochs"] = 4
    (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    r = cli("train", "--resume", d)
    assert r.exit_code == 0, r.output
    assert "training.epochs 3 → 4" in r.output and len(pd.read_csv(d / "metrics.csv")) == 4


def snapshot(folder):
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()}


def _truncate(d):
    p = d / "checkpoints" / "last.safetensors"
    p.write_bytes(p.read_bytes()[:-100])


def _tamper(d):
    p = d / "checkpoints" / "last.safetensors"
    data = bytearray(p.read_bytes())
    data[-20] ^= 0x01  # one bit of a tensor
    p.write_bytes(bytes(data))


def _not_a_safetensors_file(d):
    (d / "checkpoints" / "last.safetensors").write_bytes(b"PK\x03\x04 not a checkpoint")


def _no_last(d):
    (d / "checkpoints" / "last.safetensors").unlink()


def _edit_config(d):
    text = (d / "config.yaml").read_text()
    (d / "config.yaml").write_text(text.replace("lr: 0.01", "lr: 0.02"))


def _break_config(d):
    (d / "config.yaml").write_text("data: [unclosed\n")


def _diverged(d):
    summary = json.loads((d / "summary.json").read_text())
    summary.update(status="diverged", reason="the loss became nan at epoch 3, batch 2")
    (d / "summary.json").write_text(json.dumps(summary))


def _not_a_run(d):
    (d / "config.yaml").unlink()


@pytest.mark.parametrize(
    "damage, message",
    [
        (_not_a_run, "is not a run folder"),
        (_no_last, "has no checkpoints/last.safetensors"),
        (_truncate, "not a readable checkpoint"),
        (_tamper, "do not match their checksum"),
        (_not_a_safetensors_file, "not a readable checkpoint"),
        (_edit_config, "was changed since the run wrote it (optimizer.lr)"),
        (_break_config, "malformed YAML"),
        (_diverged, "lower learning rate"),
    ],
)
def test_resume_refuses_clearly_and_touches_nothing(cli, runs_dir, damage, message):
    d = train(parse_config(EXACT, ["training.epochs=2"]), runs_dir).run_dir
    (d / "summary.json").write_text((d / "summary.json").read_text().replace('"completed"', '"interrupted"'))
    damage(d)
    before = snapshot(d)
    r = cli("train", "--resume", d)
    assert r.exit_code == 2, r.output
    assert message in r.output and "error:" in r.output and "Traceback" not in r.output
    assert snapshot(d) == before


def test_resume_of_a_missing_folder(cli, runs_dir):
    r = cli("train", "--resume", runs_dir / "nope")
    assert r.exit_code == 2 and "run folder" in r.output and "not found" in r.output


def test_a_run_being_trained_cannot_be_resumed_twice(cli, runs_dir):
    d = train(parse_config(EXACT, ["training.epochs=2"]), runs_dir).run_dir
    before = snapshot(d)
    with RunFolder(d).lock():  # as a training process holds it
        r = cli("train", "--resume", d, "--epochs", 3)
    assert r.exit_code == 2 and "another nnlab process is training it" in r.output
    assert snapshot(d) == before


@pytest.mark.parametrize(
    "args, message",
    [
        (["configs/xor.yaml", "--resume", "RUN"], "not both"),
        (["--resume", "RUN", "-o", "optimizer.lr=1"], "-o cannot change it"),
        (["--resume", "RUN", "--seed", "3"], "--seed cannot change it"),
        ([], "give a CONFIG file to start a run, or --resume RUN_DIR"),
    ],
)
def test_resume_arguments(cli, args, message):
    r = cli("train", *args)
    assert r.exit_code == 2 and message in r.output


def test_help_explains_resume(cli):
    r = cli("train", "--help")
    assert "[CONFIG]" in r.output and "--resume RUN_DIR" in r.output and "--epochs N" in r.output
    assert "130" in r.output and "143" in r.output


def test_epochs_option_starts_a_shorter_run(cli, runs_dir):
    r = cli("train", "configs/xor.yaml", "--runs-dir", runs_dir, "--epochs", 4, "--json")
    assert r.exit_code == 0 and json.loads(r.output)["epochs"] == 4


SHIFT = {"x": 0.0}  # moved by the test below: the same config, other data


@register("dataset", "shifting_moons")
def shifting_moons(rng, n_samples: int = 200):
    from nnlab.data.synthetic import moons

    ds = moons(rng, n_samples=n_samples)
    ds.X = ds.X + SHIFT["x"]
    return ds


def test_resume_refuses_data_that_changed(cli, runs_dir):
    cfg = parse_config(
        "data: {name: shifting_moons, preprocess: standardize}\nmodel: {hidden: [4]}\ntraining: {epochs: 2}"
    )
    d = train(cfg, runs_dir).run_dir
    SHIFT["x"] = 1.0
    try:
        before = snapshot(d)
        r = cli("train", "--resume", d, "--epochs", 3)
    finally:
        SHIFT["x"] = 0.0
    assert r.exit_code == 2 and "the data are not the ones" in r.output and "preprocessing statistics" in r.output
    assert snapshot(d) == before


def test_a_length_dependent_schedule_warns_when_extended(runs_dir):
    d = train(parse_config(EXACT, ["training.epochs=3", "schedule=cosine"]), runs_dir).run_dir
    with pytest.warns(UserWarning, match="depends on training.epochs"):
        assert resume(d, epochs=5).status == "completed"
    d = train(parse_config(EXACT, ["training.epochs=3"]), runs_dir).run_dir  # a step schedule does not
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resume(d, epochs=5).status == "completed"


def test_a_checkpoint_without_run_metadata_is_refused(cli, runs_dir):
    d = train(parse_config(EXACT, ["training.epochs=2"]), runs_dir).run_dir
    tensors, meta = last(d)
    del meta["rng"]
    RunFolder(d).save_checkpoint("last", tensors, meta)
    r = cli("train", "--resume", d, "--epochs", 3)
    assert r.exit_code == 2 and "lacks what a run needs to continue" in r.output


@pytest.mark.parametrize(
    ("version", "says"),
    [("0.0.1", "trained by nnlab 0.0.1 and continues with"), (None, "an nnlab that its checkpoint does not name")],
)
def test_a_run_of_another_nnlab_resumes_with_a_warning_that_names_it(tmp_path, resign_checkpoint, version, says):
    import nnlab

    config = {"data": {"name": "xor"}, "model": {"hidden": [4]}, "training": {"epochs": 2}}
    run = nnlab.train(config, runs_dir=tmp_path, handle_signals=False).run_dir
    resign_checkpoint(run / "checkpoints" / "last.safetensors", lambda meta: meta.update(nnlab_version=version))
    with pytest.warns(UserWarning, match=says):
        result = nnlab.resume(run, epochs=3, handle_signals=False)
    assert result.summary["epochs"] == 3
