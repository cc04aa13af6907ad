"""TensorBoard event files, read back by an independent reader (tbparse, TensorBoard's own event reader):
an exported run equals its metrics.csv, the live events of training.tensorboard equal it too, and a
sweep's trials are HParams sessions."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tensorboardX")
tbparse = pytest.importorskip("tbparse")

# tbparse's own pandas call, not nnlab's: "The inplace keyword in DataFrame.sort_values is deprecated"
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:Warning")

XOR = """\
name: {name}
data: {{name: xor}}
model: {{hidden: [4], activation: tanh}}
optimizer: {{name: adam, lr: 0.05}}
training: {{epochs: 6, batch_size: 2{extra}}}
"""


def _metrics(run_dir):
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def _scalars_equal_metrics(logdir, run_dir, exact=True):
    """Every cell of metrics.csv is the scalar of its column at its epoch, as TensorBoard stores it (float32):
    exactly where exported from the CSV; within float32's rounding where written live from the value the CSV
    prints to 8 digits."""
    scalars = tbparse.SummaryReader(str(logdir)).scalars
    got = {(row.tag, int(row.step)): row.value for row in scalars.itertuples()}
    rows = _metrics(run_dir)
    want = {(k, int(r["epoch"])): float(np.float32(v)) for r in rows for k, v in r.items() if v != ""}
    if exact:
        assert got == want
    else:
        assert got.keys() == want.keys()
        assert np.allclose([got[k] for k in want], list(want.values()), rtol=2e-7, atol=0)
    assert set(rows[0]) == set(scalars.tag)  # every column


def _session_status(logdir) -> list[str]:
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator
    from tensorboardX.proto.api_pb2 import Status
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData

    acc = EventAccumulator(str(logdir))
    acc.Reload()
    contents = acc.PluginTagToContent("hparams").values()
    ends = [HParamsPluginData.FromString(c) for c in contents]
    return [Status.Name(e.session_end_info.status) for e in ends if e.HasField("session_end_info")]


def _train(tmp_path, cli, name="xor", extra="", *flags):
    (tmp_path / f"{name}.yaml").write_text(XOR.format(name=name, extra=extra))
    result = cli("train", tmp_path / f"{name}.yaml", "--runs-dir", tmp_path / "runs", "-q", *flags)
    assert result.exit_code == 0, result.output
    return next((tmp_path / "runs").glob(f"{name}-*"))


def test_an_exported_run_read_back_equals_its_metrics_and_config(tmp_path, cli):
    run = _train(tmp_path, cli)
    result = cli("export", "tensorboard", run, "-o", tmp_path / "tb")
    assert result.exit_code == 0, result.output
    assert "wrote 1 run" in result.output
    logdir = tmp_path / "tb" / run.name
    _scalars_equal_metrics(logdir, run)
    hparams = tbparse.SummaryReader(str(logdir)).hparams.set_index("tag")["value"]
    assert hparams["optimizer.lr"] == 0.05 and hparams["model.hidden"] == "[4]"
    assert hparams["data.name"] == "xor" and hparams["training.epochs"] == 6
    assert _session_status(logdir) == ["STATUS_SUCCESS"]
    cli("export", "tensorboard", run, "-o", tmp_path / "tb")  # again: the earlier file is replaced
    assert len(list(logdir.glob("events.out.tfevents.*"))) == 1


def test_training_tensorboard_writes_the_same_while_training(tmp_path, cli):
    run = _train(tmp_path, cli, "live", "", "--tensorboard")
    _scalars_equal_metrics(run / "tensorboard", run, exact=False)
    assert _session_status(run / "tensorboard") == ["STATUS_SUCCESS"]


@pytest.mark.slow
def test_a_sweeps_trials_are_hparams_sessions(tmp_path):
    (tmp_path / "base.yaml").write_text(XOR.format(name="base", extra=""))
    (tmp_path / "sweep.yaml").write_text(
        "name: tiny\nbase: base.yaml\nmethod: grid\nmetric: val_accuracy\n"
        "parameters:\n  optimizer.lr: {values: [0.01, 0.1]}\n  model.hidden: {values: [[2], [4]]}\n"
    )
    run = [sys.executable, "-m", "nnlab", "sweep", "sweep.yaml", "-q", "--json"]
    out = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    sweep_dir = next((tmp_path / "runs" / "sweeps").glob("tiny-*"))
    export = [sys.executable, "-m", "nnlab", "export", "tensorboard", str(sweep_dir), "-o", "tb"]
    out = subprocess.run(export, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "wrote 4 runs" in out.stdout
    hp = tbparse.SummaryReader(str(tmp_path / "tb"), extra_columns={"dir_name"}).hparams
    sessions = {d: dict(zip(g.tag, g.value)) for d, g in hp.groupby("dir_name")}
    assert len(sessions) == 4
    trials = {(s["optimizer.lr"], s["model.hidden"]) for s in sessions.values()}
    assert trials == {(lr, json.dumps(h)) for lr in (0.01, 0.1) for h in ([2], [4])}
    for name in sessions:
        _scalars_equal_metrics(tmp_path / "tb" / name, sweep_dir / name)


def test_without_tensorboardx_one_line_says_what_to_install(tmp_path):
    (tmp_path / "tensorboardX").mkdir()
    (tmp_path / "tensorboardX" / "__init__.py").write_text("raise ImportError('not installed')\n")
    code = "import sys; sys.path.insert(0, '.'); from nnlab.cli import main; main(['export', 'tensorboard', '.'])"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert (
        out.stderr
        == "error: nnlab export tensorboard need tensorboardX, not installed: pip install 'nnlab[tensorboard]'\n"
    )
