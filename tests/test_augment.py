"""data.augment: what each augmentation does to an image, exact runs and resumes, and refused configs."""

import json
import os
import signal

import numpy as np
import pytest

import nnlab
from nnlab.config import parse_config
from nnlab.network import Network
from nnlab.runs.checkpoint import load_checkpoint
from nnlab.training import resume, start, train

DIGITS = """
name: aug
data:
  name: digits
  split: {val: 0.15, test: 0.2}
  preprocess: standardize
  augment: {translate: 1, rotate: 8, elastic: 0.5, erase: 0.5}
model: {hidden: [32], dropout: 0.1, batchnorm: true}
optimizer: {name: adam, lr: 0.003}
training: {epochs: 4, batch_size: 128, swa: {start: 2}, ema: {decay: 0.9}}
"""
BATCHES = 10  # 1169 training images in batches of 128


def images(augment: str, image_shape=None):
    """A built experiment over 6×6 one-hot 'images' (a 1 at one pixel each), raw grey levels kept."""
    cfg = "data: {name: npz, path: im.npz, preprocess: none, split: {val: 0}, augment: %s%s}\nmodel: {hidden: [4]}\n"
    shape = f", image_shape: {image_shape}" if image_shape else ""
    return nnlab.build(parse_config(cfg % (augment, shape)))


@pytest.fixture
def pixels(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    X = np.eye(36, dtype=np.float32)[[7, 14, 21, 28] * 10]
    np.savez(tmp_path / "im.npz", X=X, y=np.arange(40) % 2)
    return X


def test_translation_shifts_each_image_by_whole_pixels_within_the_range(pixels):
    exp = images("{translate: 2}")
    x = exp.splits.X_train
    out = exp.augment(x, 0, 0)
    assert out.shape == x.shape and out is not x and np.array_equal(exp.splits.X_train, x)  # a copy
    shifts = set()
    for a, b in zip(x, out):
        ((r0, c0),) = np.argwhere(a.reshape(6, 6))
        assert b.sum() in (0.0, 1.0)  # shifted out of the image: all fill
        if b.sum():
            ((r1, c1),) = np.argwhere(b.reshape(6, 6))
            assert abs(r1 - r0) <= 2 and abs(c1 - c0) <= 2
            shifts.add((r1 - r0, c1 - c0))
    assert len(shifts) > 5  # per-example offsets, not one for the batch
    assert not np.array_equal(out, exp.augment(x, 0, 1)) and np.array_equal(out, exp.augment(x, 0, 0))


def test_rotation_keeps_the_centre_and_erasing_blanks_a_rectangle(pixels):
    exp = images("{rotate: 30}")
    centre = np.zeros((3, 36), np.float32)
    centre[:, [14, 15, 20, 21]] = 1  # the 2×2 block at the centre of a 6×6 image
    out = exp.augment(centre, 3, 0)
    assert np.allclose(out[:, [14, 15, 20, 21]], 1, atol=0.35) and out.sum(axis=1) == pytest.approx(4, abs=0.8)
    exp = images("{erase: 1.0, erase_area: [0.25, 0.25], fill: 0}")
    out = exp.augment(np.ones((50, 36), np.float32), 0, 0)
    erased = (out == 0).reshape(50, 6, 6)
    for e in erased:
        rows, cols = np.flatnonzero(e.any(axis=1)), np.flatnonzero(e.any(axis=0))
        assert e.sum() == len(rows) * len(cols)  # one rectangle
        assert 4 <= e.sum() <= 14  # a quarter of 36 pixels, its sides rounded


def test_image_shape_is_inferred_checked_or_required(pixels, tmp_path):
    assert images("{translate: 1}").augment.h == 6
    assert images("{translate: 1}", "[4, 9]").augment.w == 9
    with pytest.raises(nnlab.errors.ConfigError, match=r"data.image_shape: 5×7 = 35 pixels.*36 features"):
        images("{translate: 1}", "[5, 7]")
    np.savez(tmp_path / "im.npz", X=np.zeros((10, 12)), y=np.arange(10) % 2)
    with pytest.raises(nnlab.errors.ConfigError, match="12 features per example is no square.*image_shape"):
        images("{translate: 1}")


def test_augmentation_config_errors_name_the_key(cli, tmp_path):
    cfg = tmp_path / "c.yaml"
    for augment, message in [
        ("{translat: 2}", "data.augment.translat: unknown augmentation — did you mean 'translate'?"),
        ("{translate: 1.5}", "data.augment.translate: must be a whole number of pixels"),
        ("{erase: 2}", "data.augment.erase: must be a probability in [0, 1]"),
        ("{erase_area: [0.5, 0.1]}", "data.augment.erase_area"),
    ]:
        cfg.write_text(f"data: {{name: digits, augment: {augment}}}\nmodel: {{hidden: [4]}}\n")
        r = cli("train", cfg, "--runs-dir", tmp_path / "runs")
        assert r.exit_code == 2 and message in r.output, r.output
    assert not (tmp_path / "runs").exists()


def test_augmented_runs_are_reproducible_and_differ_from_plain_ones(runs_dir):
    cfg = ["training.epochs=2", "training.swa=null", "training.ema=null"]
    a = train(parse_config(DIGITS, cfg), runs_dir / "a").run_dir
    b = train(parse_config(DIGITS, cfg), runs_dir / "b").run_dir
    c = train(parse_config(DIGITS, [*cfg, "data.augment=null"]), runs_dir / "c").run_dir
    w = [load_checkpoint(d / "checkpoints" / "last.safetensors")[0]["model.layers.0.W"] for d in (a, b, c)]
    assert np.array_equal(w[0], w[1]) and not np.array_equal(w[0], w[2])


@pytest.mark.slow
def test_interrupted_augmented_run_with_averages_resumes_exactly(runs_dir, monkeypatch):
    whole = train(parse_config(DIGITS), runs_dir / "a").run_dir
    forward, calls = Network.loss_and_backward, [0]

    def counting(net, *args, **kwargs):
        calls[0] += 1
        if calls[0] == 2 * BATCHES + 4:  # inside epoch 3, with SWA and EMA under way
            os.kill(os.getpid(), signal.SIGINT)
        return forward(net, *args, **kwargs)

    monkeypatch.setattr(Network, "loss_and_backward", counting)
    result = start(parse_config(DIGITS), runs_dir / "b").fit()
    monkeypatch.undo()
    assert result.status == "interrupted"
    _, meta = load_checkpoint(result.run_dir / "checkpoints" / "last.safetensors")
    assert meta["position"]["batch"] == 4 and meta["averages"]["ema"]["count"] == 2 * BATCHES + 4
    assert resume(result.run_dir).status == "completed"
    for name in ("last", "swa", "ema"):
        ta = load_checkpoint(whole / "checkpoints" / f"{name}.safetensors")[0]
        tb = load_checkpoint(result.run_dir / "checkpoints" / f"{name}.safetensors")[0]
        assert sorted(ta) == sorted(tb) and all(np.array_equal(ta[k], tb[k]) for k in ta), name
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (whole, result.run_dir))
    assert sa["averages"] == sb["averages"] and sa["test"] == sb["test"]


def test_flip_mirrors_left_and_right(pixels):
    exp = images("{flip: 1.0}")
    x = exp.splits.X_train[:4]
    out = exp.augment(x, 0, 0)
    assert np.array_equal(out.reshape(4, 6, 6), x.reshape(4, 6, 6)[:, :, ::-1])
    half = images("{flip: 0.5}").augment(exp.splits.X_train, 0, 0)
    mirrored = [np.array_equal(b.reshape(6, 6), a.reshape(6, 6)[:, ::-1]) for a, b in zip(exp.splits.X_train, half)]
    assert 0 < sum(mirrored) < len(mirrored)


def test_test_time_views_are_the_image_its_mirror_and_one_pixel_shifts():
    """nnlab eval --tta's views of a 3×3 image, pixel by pixel; shifted-in pixels are the fill; a run that
    neither flips nor shifts has only the image itself."""
    from nnlab.data.augment import tta_views

    X = np.arange(1, 10).reshape(1, 9)
    views = [v(X).reshape(3, 3).tolist() for v in tta_views({"flip": 0.5, "translate": 2, "fill": -1}, 9)]
    assert views[:5] == [
        [[1, 2, 3], [4, 5, 6], [7, 8, 9]],
        [[-1, -1, -1], [1, 2, 3], [4, 5, 6]],  # down
        [[4, 5, 6], [7, 8, 9], [-1, -1, -1]],  # up
        [[-1, 1, 2], [-1, 4, 5], [-1, 7, 8]],  # right
        [[2, 3, -1], [5, 6, -1], [8, 9, -1]],  # left
    ]
    assert views[5] == [[3, 2, 1], [6, 5, 4], [9, 8, 7]] and views[6] == [[-1, -1, -1], [3, 2, 1], [6, 5, 4]]
    assert len(views) == 10 and len(tta_views({"translate": 1}, 9)) == 5 and len(tta_views({"flip": 1}, 9)) == 2
    assert len(tta_views({"erase": 0.5, "rotate": 10}, 9)) == 1 and len(tta_views(None, 9)) == 1
