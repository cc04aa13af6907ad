"""nnlab eval: hand-computed confusion matrices, the summary's test figures reproduced, and the averages of
deck 002 (ensembles of runs, checkpoints of one run, Monte-Carlo dropout)."""

import json
from pathlib import Path

import numpy as np
import pytest

import nnlab
from nnlab.config import load_config, parse_config
from nnlab.data.core import raw_splits
from nnlab.evaluate import evaluate_runs
from nnlab.metrics import averages, confusion_matrix, per_class
from nnlab.runs.folder import RunFolder
from nnlab.training import train

CONFIGS = Path(__file__).parent.parent / "configs"


def eval_json(cli, *args):
    r = cli("eval", *args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


# ----- the metrics, by hand ----------------------------------------------------------------------


def test_confusion_matrix_and_per_class_by_hand():
    # 3 classes; rows of the matrix are the true class, columns the prediction
    y_true = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    y_pred = [0, 0, 1, 2, 1, 1, 0, 2, 2, 1]
    cm = confusion_matrix(y_true, y_pred, 3)
    assert cm.tolist() == [[2, 1, 1], [1, 2, 0], [0, 1, 2]]
    r = per_class(cm)
    # precision = TP / predicted: 2/3, 2/4, 2/3; recall = TP / actual: 2/4, 2/3, 2/3
    assert r["precision"] == pytest.approx([2 / 3, 1 / 2, 2 / 3])
    assert r["recall"] == pytest.approx([1 / 2, 2 / 3, 2 / 3])
    # F1 = 2PR / (P + R): 4/7, 4/7, 2/3
    assert r["f1"] == pytest.approx([4 / 7, 4 / 7, 2 / 3])
    assert r["support"].tolist() == [4, 3, 3]
    avg = averages(r)
    assert avg["macro"]["f1"] == pytest.approx((4 / 7 + 4 / 7 + 2 / 3) / 3)
    assert avg["weighted"]["recall"] == pytest.approx(6 / 10)  # weighted recall is the accuracy


def test_a_class_never_predicted_has_zero_precision_not_nan():
    r = per_class(confusion_matrix([0, 1, 2], [0, 1, 1], 3))
    assert r["precision"].tolist() == [1.0, 0.5, 0.0] and r["f1"][2] == 0.0


# ----- a run folder whose checkpoint is crafted ---------------------------------------------------

BLOBS = """
name: blobs-known
data: {name: blobs, n_samples: 60, classes: 3, noise: 0.01, spread: 5.0, split: {val: 0.0, test: 0.25}, preprocess: none}
model: {hidden: []}
training: {epochs: 1, batch_size: full}
"""


@pytest.fixture(scope="module")
def known_run(tmp_path_factory):
    """A linear softmax model set by hand: logits (10·x1, 0, −100), so class 0 where x1 > 0, else class 1.

    The blobs' centres are (5, 0), (−2.5, 4.33), (−2.5, −4.33) and the noise is tiny, so the 5 test points
    of each class go: class 0 → 0, class 1 → 1, class 2 → 1."""
    run = train(parse_config(BLOBS), tmp_path_factory.mktemp("runs")).run_dir
    for name in ("best", "last"):
        tensors, meta = RunFolder(run).load_checkpoint(name)
        tensors["model.layers.0.W"] = np.array([[10, 0, 0], [0, 0, 0]], np.float32)
        tensors["model.layers.0.b"] = np.array([0, 0, -100], np.float32)
        RunFolder(run).save_checkpoint(name, tensors, meta)
    return run


def test_eval_of_a_known_model(known_run, cli):
    report = eval_json(cli, known_run)
    assert report["examples"] == 15
    assert report["confusion_matrix"] == [[5, 0, 0], [0, 5, 0], [0, 5, 0]]
    pc = report["per_class"]
    assert [pc[c]["precision"] for c in "012"] == pytest.approx([1.0, 0.5, 0.0])
    assert [pc[c]["recall"] for c in "012"] == pytest.approx([1.0, 1.0, 0.0])
    assert [pc[c]["f1"] for c in "012"] == pytest.approx([1.0, 2 / 3, 0.0])
    assert [pc[c]["support"] for c in "012"] == [5, 5, 5]
    m = report["metrics"]
    assert m["accuracy"] == pytest.approx(10 / 15) and m["macro_f1"] == pytest.approx(5 / 9)
    # the 5 points of class 2 get logits (−25, 0, −100): −ln softmax₂ ≈ 100 each, the others ≈ 0
    assert m["loss"] == pytest.approx(100 * 5 / 15, abs=1e-3)
    csv = (known_run / "confusion-test.csv").read_text().splitlines()
    assert csv == ["true \\ predicted,0,1,2", "0,5,0,0", "1,0,5,0", "2,0,5,0"]
    assert json.loads((known_run / "eval-test.json").read_text())["confusion_matrix"] == report["confusion_matrix"]


def test_eval_prints_rich_tables(known_run, cli):
    r = cli("eval", known_run, "-c", "last")
    assert r.exit_code == 0, r.output
    for text in ("per class", "confusion matrix", "macro avg", "accuracy", "0.6667"):
        assert text in r.output


# ----- eval reproduces what train measured --------------------------------------------------------


def test_eval_reproduces_the_summary_test_metrics(runs_dir, cli):
    # one truth: summary.json's test figures, the train table and a plain `nnlab eval RUN` are of one
    # checkpoint, best (by training.monitor), whether the run stopped early or completed past its best epoch
    moons = train(load_config(CONFIGS / "moons.yaml"), runs_dir)
    assert moons.status == "stopped_early"
    report = eval_json(cli, moons.run_dir)
    assert report["metrics"]["loss"] == moons.summary["test"]["test_loss"]
    assert report["metrics"]["accuracy"] == moons.summary["test"]["test_accuracy"]
    assert moons.summary["test_checkpoint"] == {"checkpoint": "best", "epoch": moons.summary["best"]["epoch"]}
    sine = train(load_config(CONFIGS / "sine.yaml", ["training.epochs=20"]), runs_dir)
    assert sine.status == "completed" and sine.summary["best"]["monitor"] == "val_loss"  # regression: val loss
    report = eval_json(cli, sine.run_dir)
    assert {f"test_{k}": v for k, v in report["metrics"].items()} == sine.summary["test"]
    assert report["members"][0]["epoch"] == sine.summary["test_checkpoint"]["epoch"] == sine.summary["best"]["epoch"]
    text = cli("train", CONFIGS / "sine.yaml", "-o", "training.epochs=3", "--runs-dir", runs_dir).output
    assert "test_loss (best, epoch" in text  # the train table says which checkpoint its test figures are of


def test_a_classifier_picks_its_best_checkpoint_by_validation_accuracy(runs_dir):
    cfg = load_config(CONFIGS / "moons.yaml", ["training.early_stopping=null", "training.epochs=12"])
    result = train(cfg, runs_dir)
    best = result.summary["best"]
    assert best["monitor"] == "val_accuracy"
    assert best["value"] == max(row["val_accuracy"] for row in result.history)
    # the first epoch that reached it
    assert best["epoch"] == 1 + [row["val_accuracy"] for row in result.history].index(best["value"])


def test_eval_falls_back_to_the_validation_split_and_says_so(runs_dir, cli):
    run = train(load_config(CONFIGS / "moons.yaml", ["data.split.test=0", "training.epochs=2"]), runs_dir).run_dir
    r = cli("eval", run)
    assert r.exit_code == 0 and "no test split" in r.output and "evaluated on the val split" in r.output
    # no validation split: moons' early stopping on val_loss is refused before training (its monitor never
    # comes), so it goes too
    split = ["data.split.test=0", "data.split.val=0", "training.epochs=2", "training.early_stopping=null"]
    alone = train(load_config(CONFIGS / "moons.yaml", split), runs_dir).run_dir
    r = cli("eval", alone, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["split"] == "train"
    bad = cli("eval", alone, "--split", "val")
    assert bad.exit_code == 2 and "has no val examples" in bad.output and "try --split train" in bad.output


def test_eval_val_split_matches_the_best_epoch_row(runs_dir, cli):
    run = train(
        parse_config(BLOBS.replace("val: 0.0, test: 0.25", "val: 0.25, test: 0.25"), ["training.epochs=5"]), runs_dir
    )
    report = eval_json(cli, run.run_dir, "--split", "val")
    best = run.summary["best"]["metrics"]
    assert report["metrics"]["loss"] == best["val_loss"] and report["metrics"]["accuracy"] == best["val_accuracy"]
    assert (run.run_dir / "eval-val.json").is_file()


# ----- averages (deck 002) --------------------------------------------------------------------------


def test_ensemble_of_two_seeds_on_moons(runs_dir, cli):
    a = train(load_config(CONFIGS / "moons.yaml"), runs_dir).run_dir
    b = train(load_config(CONFIGS / "moons.yaml", seed=1), runs_dir).run_dir
    report = eval_json(cli, a, b)
    assert report["mode"] == "ensemble" and report["averaged"]
    singles = [m["metrics"]["accuracy"] for m in report["members"]]
    assert len(singles) == 2
    assert report["metrics"]["accuracy"] >= min(singles)
    # the first member's figures are that run's own evaluation
    assert report["members"][0]["metrics"] == eval_json(cli, a)["metrics"]
    # the average is the mean of the two models' probabilities on run a's test split
    X, y = _test_split(a)
    p = (nnlab.load_run(a).predict_proba(X) + nnlab.load_run(b).predict_proba(X)) / 2
    assert report["metrics"]["accuracy"] == np.mean(p.argmax(axis=1) == y)
    assert (a / "eval-test-ensemble.json").is_file() and not list(b.glob("eval-*"))


def test_ensemble_warns_when_a_member_trained_on_the_evaluated_rows(runs_dir, cli):
    cfg = BLOBS.replace("val: 0.0, test: 0.25", "val: 0.0, test: 0.5")
    a = train(parse_config(cfg), runs_dir).run_dir
    b = train(parse_config(cfg, ["data.split.seed=7"]), runs_dir).run_dir  # same data, another split
    r = cli("eval", a, b)
    assert r.exit_code == 0, r.output
    assert "were training examples of run" in r.output and "data.split.seed" in r.output
    c = train(parse_config(cfg, ["optimizer.lr=0.01"]), runs_dir).run_dir  # same data, same split
    assert eval_json(cli, a, c)["notes"] == []


def _test_split(run_dir):
    """The raw features and the classes of a run's test split, rebuilt from its config."""
    cfg = nnlab.load_run(run_dir).config
    raw = raw_splits(cfg.data, cfg.seed)
    return raw.X_test, raw.y_test


DROPOUT = """
name: moons-dropout
data: {name: moons, n_samples: 400, noise: 0.2, split: {val: 0.2, test: 0.25}, preprocess: standardize}
model: {hidden: [32, 32], dropout: 0.3}
optimizer: {name: adam, lr: 0.01}
training: {epochs: 30, batch_size: 32, checkpoint_every: 5}
"""


@pytest.fixture(scope="module")
def dropout_run(tmp_path_factory):
    return train(parse_config(DROPOUT), tmp_path_factory.mktemp("runs")).run_dir


def test_checkpoint_average_reports_each_checkpoint_and_the_average(dropout_run, cli):
    report = eval_json(cli, dropout_run, "--checkpoints", "3")
    labels = [m["label"] for m in report["members"]]
    assert labels == ["epoch-0020", "epoch-0025", "last (epoch 30)"]  # epoch-0030 is last: counted once
    assert report["averaged"] and report["mode"] == "checkpoints"
    X, y = _test_split(dropout_run)
    models = [nnlab.load_run(dropout_run, c) for c in ("epoch-0020", "epoch-0025", "last")]
    for member, model in zip(report["members"], models):
        assert member["epoch"] == model.epoch
        assert member["metrics"]["accuracy"] == np.mean(model.predict(X) == y)
    p = np.mean([m.predict_proba(X).astype(np.float64) for m in models], axis=0)
    assert report["metrics"]["accuracy"] == np.mean(p.argmax(axis=1) == y)
    assert (dropout_run / "eval-test-checkpoints-3.json").is_file()


def test_mc_dropout_reports_the_standard_model_and_the_average(dropout_run, cli):
    report = eval_json(cli, dropout_run, "--mc-dropout", "20")
    standard, one_mask = report["members"]
    assert standard["label"] == "dropout off (standard)"
    assert standard["metrics"] == eval_json(cli, dropout_run)["metrics"]
    assert one_mask["label"] == "one dropout mask (mean of 20)"
    assert report["averaged"] and report["mc_dropout"] == 20
    avg = report["metrics"]
    assert 0.5 < avg["accuracy"] <= 1 and avg["loss"] > 0
    # masks vary the predictions: one mask is worse on average than their average (deck 002)
    assert one_mask["metrics"]["loss"] > avg["loss"]
    # seeded: the same seed gives the same figures, the run's seed by default
    assert eval_json(cli, dropout_run, "--mc-dropout", "20", "--seed", "0")["metrics"] == avg
    text = cli("eval", dropout_run, "--mc-dropout", "5").output
    assert "Monte-Carlo dropout, 5 masks" in text and "average" in text


def test_mc_dropout_leaves_batchnorm_in_evaluation_mode(tmp_path):
    cfg = parse_config(DROPOUT.replace("dropout: 0.3", "dropout: 0.3, batchnorm: true"), ["training.epochs=3"])
    run = train(cfg, tmp_path).run_dir
    model = nnlab.load_run(run)
    before = {k: v.copy() for k, v in model.net.named_buffers().items()}
    X = model.transform(_test_split(run)[0])
    outs = list(model.mc_outputs(X, 3, np.random.default_rng(0)))
    assert all(np.array_equal(before[k], v) for k, v in model.net.named_buffers().items())
    assert not np.array_equal(outs[0], outs[1])


def test_library_call_without_the_cli(dropout_run):
    report = evaluate_runs([dropout_run], checkpoint="last", split="train")
    assert report["examples"] == 220 and report["members"][0]["label"] == "last"


# ----- test-time augmentation ----------------------------------------------------------------------

TTA = """
name: digits-tta
data: {name: digits, split: {val: 0.0, test: 0.25}, preprocess: standardize, augment: {flip: 0.5, translate: 1}}
model: {hidden: [32]}
optimizer: {name: adam, lr: 0.01}
training: {epochs: 4, batch_size: 64}
"""


def _views_by_hand(X):
    """The 10 views of 8×8 images: as they are, shifted one pixel down, up, right, left; then all mirrored."""
    images = X.reshape(-1, 8, 8).astype(np.float64)
    out = []
    for img in (images, images[:, :, ::-1]):
        down, up, right, left = (np.zeros_like(img) for _ in range(4))
        down[:, 1:], up[:, :-1], right[:, :, 1:], left[:, :, :-1] = (
            img[:, :-1],
            img[:, 1:],
            img[:, :, :-1],
            img[:, :, 1:],
        )
        out += [v.reshape(len(X), 64) for v in (img, down, up, right, left)]
    return out


@pytest.fixture(scope="module")
def tta_runs(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    return [train(parse_config(TTA, [f"seed={s}"]), runs).run_dir for s in (0, 1)]


def test_tta_averages_the_probabilities_of_the_mirrored_and_shifted_images(tta_runs, cli):
    """One run: its plain figures beside the mean over 10 views, which load_run reproduces from views built
    here by hand; the report is eval-test-tta.json, eval-test.json is left alone."""
    run = tta_runs[0]
    report = eval_json(cli, run, "--tta")
    X, y = _test_split(run)
    model = nnlab.load_run(run)
    (plain,) = report["members"]
    assert plain["metrics"]["accuracy"] == np.mean(model.predict(X) == y)
    p = np.mean([model.predict_proba(v).astype(np.float64) for v in _views_by_hand(X)], axis=0)
    assert report["tta"] == 10 and report["averaged"] and report["mode"] == "single"
    assert report["metrics"]["accuracy"] == np.mean(p.argmax(axis=1) == y)
    assert report["metrics"]["loss"] == pytest.approx(-np.mean(np.log(p[np.arange(len(y)), y])), rel=1e-6)
    assert (run / "eval-test-tta.json").is_file() and not (run / "eval-test.json").exists()
    text = cli("eval", run, "--tta").output
    assert "test-time augmentation, 10 views" in text and "mean of 10 views" in text


def test_tta_of_an_ensemble_averages_each_member_over_its_views(tta_runs, cli):
    report = eval_json(cli, *tta_runs, "--tta")
    X, y = _test_split(tta_runs[0])
    models = [nnlab.load_run(r) for r in tta_runs]
    per_model = [np.mean([m.predict_proba(v).astype(np.float64) for v in _views_by_hand(X)], axis=0) for m in models]
    for member, p in zip(report["members"], per_model, strict=True):
        assert member["label"].endswith(", 10 views") and member["metrics"]["accuracy"] == np.mean(p.argmax(1) == y)
    assert report["metrics"]["accuracy"] == np.mean(np.mean(per_model, axis=0).argmax(axis=1) == y)
    assert (tta_runs[0] / "eval-test-ensemble-tta.json").is_file()


def test_tta_is_refused_where_the_run_has_no_views_or_with_mc_dropout(tta_runs, dropout_run, cli):
    r = cli("eval", dropout_run, "--tta")
    assert r.exit_code == 2 and "not trained on mirrored or shifted images" in r.output
    assert "Traceback" not in r.output and not list(dropout_run.glob("eval-*tta*"))
    r = cli("eval", tta_runs[0], "--tta", "--mc-dropout", "3")
    assert r.exit_code == 2 and "--tta and --mc-dropout" in r.output


def test_load_run_and_nnlab_predict_give_the_same_test_time_average(tta_runs, cli, tmp_path):
    """The average eval --tta scores is the one a user gets: ``predict_proba(X, tta=True)`` equals the mean
    over the hand-built views, ``predict(X, tta=True)`` has eval's accuracy, and ``nnlab predict --tta``
    writes those probabilities; a run without views is refused before its input file is read."""
    import pandas as pd

    run = tta_runs[0]
    X, y = _test_split(run)
    model = nnlab.load_run(run)
    by_hand = np.mean([model.predict_proba(v).astype(np.float64) for v in _views_by_hand(X)], axis=0)
    np.testing.assert_allclose(model.predict_proba(X, tta=True), by_hand, rtol=1e-12)
    assert not np.allclose(model.predict_proba(X), by_hand)  # the views do change the probabilities
    assert np.mean(model.predict(X, tta=True) == y) == eval_json(cli, run, "--tta")["metrics"]["accuracy"]
    pd.DataFrame(X, columns=model.feature_names).to_csv(tmp_path / "images.csv", index=False)
    r = cli("predict", run, tmp_path / "images.csv", "--tta", "-o", tmp_path / "out.csv")
    assert r.exit_code == 0, r.output
    written = pd.read_csv(tmp_path / "out.csv")
    probs = written[[f"prob_{c}" for c in model.class_names]].to_numpy()
    np.testing.assert_allclose(probs, by_hand, rtol=1e-6, atol=1e-9)
    assert list(written["prediction"].astype(str)) == [model.class_names[c] for c in by_hand.argmax(axis=1)]
    assert "mean of 10 views" in cli("predict", run, tmp_path / "images.csv", "--tta").output
    r = cli("predict", tta_runs[0].parent / "nope", tmp_path / "images.csv", "--tta")
    assert r.exit_code == 2
    r = cli("predict", _plain_run(tmp_path), tmp_path / "missing.csv", "--tta")
    assert r.exit_code == 2 and "not trained on mirrored or shifted images" in r.output and "Traceback" not in r.output


def _plain_run(tmp_path):
    return train(parse_config(TTA, ["data.augment=null", "training.epochs=1"]), tmp_path / "plain").run_dir
