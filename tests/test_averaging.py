"""training.swa and training.ema: the averages they save, batch norm recomputed, and every command using them."""

import json

import numpy as np
import pytest

import nnlab
from nnlab.config import parse_config
from nnlab.runs.checkpoint import load_checkpoint
from nnlab.training import train

BLOBS = """
name: avg
data: {name: blobs, n_samples: 400, classes: 3, features: 4, split: {val: 0.2, test: 0.2}}
model: {hidden: [16]}
optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
training: {epochs: 6, batch_size: 32, checkpoint_every: 1, swa: {start: 0.5}, ema: {decay: 0.95}}
"""


def tensors(run_dir, name):
    return load_checkpoint(run_dir / "checkpoints" / f"{name}.safetensors")[0]


def test_swa_is_the_mean_of_the_last_epochs_weights(runs_dir):
    result = train(parse_config(BLOBS), runs_dir)
    d = result.run_dir
    swa = tensors(d, "swa")
    for key in ("model.layers.0.W", "model.layers.0.b", "model.layers.2.W"):
        epochs = [tensors(d, f"epoch-{e:04d}")[key] for e in (4, 5, 6)]  # start 0.5 of 6 epochs: from epoch 4
        np.testing.assert_allclose(swa[key], np.mean(epochs, axis=0), rtol=1e-5, atol=1e-6)
    assert not any(k.startswith(("optim.", "swa.", "ema.")) for k in swa)
    ema = tensors(d, "ema")
    assert not np.array_equal(ema["model.layers.0.W"], tensors(d, "last")["model.layers.0.W"])
    averages = result.summary["averages"]
    assert averages["swa"]["models"] == 3 and averages["swa"]["epochs"] == [4, 6]
    assert averages["ema"]["steps"] == 6 * 8  # 240 training examples, batches of 32
    assert json.loads((d / "summary.json").read_text())["averages"] == averages


def test_eval_predict_and_load_run_use_the_averaged_checkpoints(runs_dir, cli, tmp_path):
    d = train(parse_config(BLOBS), runs_dir).run_dir
    summary = json.loads((d / "summary.json").read_text())
    for kind in ("swa", "ema"):
        r = cli("eval", d, "--checkpoint", kind, "--json")
        assert r.exit_code == 0, r.output
        report = json.loads(r.output)
        assert report["metrics"]["accuracy"] == pytest.approx(summary["averages"][kind]["test_accuracy"])
        model = nnlab.load_run(d, kind)
        assert model.checkpoint.name == f"{kind}.safetensors" and model.meta["averaged"]["kind"] == kind
    np.savetxt(tmp_path / "in.csv", np.zeros((3, 4)), delimiter=",", header="x1,x2,x3,x4", comments="")
    r = cli("predict", d, tmp_path / "in.csv", "-c", "swa", "-o", tmp_path / "out.csv")
    assert r.exit_code == 0, r.output
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 4


def test_batch_norm_statistics_are_those_of_the_averaged_weights_on_the_train_split(runs_dir):
    cfg = parse_config(BLOBS, ["model.batchnorm=true", "training.ema=null"])
    d = train(cfg, runs_dir).run_dir
    swa = tensors(d, "swa")
    X = nnlab.build(cfg).splits.X_train.astype(np.float64)  # the train split, preprocessed as in training
    h = X @ swa["model.layers.0.W"] + swa["model.layers.0.b"]  # the input of the first batch-norm layer
    np.testing.assert_allclose(swa["model.layers.1.running_mean"], h.mean(axis=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(swa["model.layers.1.running_var"], h.var(axis=0, ddof=1), rtol=1e-4, atol=1e-5)
    last = tensors(d, "last")
    assert not np.allclose(last["model.layers.1.running_mean"], swa["model.layers.1.running_mean"])


def test_bad_averaging_options_are_refused(cli, tmp_path):
    cfg = tmp_path / "c.yaml"
    for option, message in [
        ("swa: {start: 1.5}", "training.swa.start"),
        ("swa: {begin: 2}", "training.swa.begin: unknown key"),
        ("ema: {decay: 1}", "training.ema.decay: must be in (0, 1)"),
        ("ema: fast", "training.ema: must be true, a number or a mapping"),
    ]:
        cfg.write_text(f"data: {{name: xor}}\nmodel: {{hidden: [4]}}\ntraining: {{{option}}}\n")
        r = cli("train", cfg, "--runs-dir", tmp_path / "runs")
        assert r.exit_code == 2 and message in r.output, r.output
    assert not (tmp_path / "runs").exists()


def test_shorthands(runs_dir):
    cfg = parse_config("data: {name: xor}\nmodel: {hidden: [4]}\ntraining: {swa: true, ema: 0.99, epochs: 8}")
    assert cfg.training.swa == {"start": 0.75} and cfg.training.ema == {"decay": 0.99}
    summary = train(cfg, runs_dir).summary
    assert summary["averages"]["swa"]["epochs"] == [7, 8]
