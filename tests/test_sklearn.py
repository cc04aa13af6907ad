"""nnlab.sklearn as a user meets it: an optional extra that ``import nnlab`` leaves alone, scikit-learn's
argument names, config= for the rest, a run folder only when asked, partial_fit, pickling."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import load_iris, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from nnlab.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_IRIS = (X_IRIS - X_IRIS.mean(axis=0)) / X_IRIS.std(axis=0)


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_importing_nnlab_and_training_never_imports_scikit_learn():
    code = (
        "import sys, nnlab, nnlab.api, nnlab.training.loop, nnlab.cli\n"
        "nnlab.build({'data': {'name': 'xor'}, 'model': {'hidden': [2]}})\n"
        "assert 'sklearn' not in sys.modules, 'sklearn imported'\n"
    )
    out = _python(code)
    assert out.returncode == 0, out.stderr


def test_without_scikit_learn_the_error_says_what_to_install():
    out = _python("import sys; sys.modules['sklearn'] = None\nimport nnlab.sklearn")
    assert out.returncode == 1
    assert "ImportError: nnlab.sklearn needs scikit-learn: pip install 'nnlab[sklearn]'" in out.stderr


def test_scikit_learn_names_and_defaults():
    from sklearn.neural_network import MLPClassifier as Theirs

    ours, theirs = MLPClassifier().get_params(), Theirs().get_params()
    shared = set(ours) & set(theirs)
    assert len(shared) >= 19
    assert {k: ours[k] for k in shared} == {k: theirs[k] for k in shared}
    assert set(ours) - set(theirs) == {"loss", "dropout", "batch_norm", "config", "run_dir"}


def test_fit_predict_and_the_fitted_attributes():
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=60, learning_rate_init=0.01, random_state=0)
    labels = np.array(["setosa", "versicolor", "virginica"])[Y_IRIS]
    with pytest.warns(
        ConvergenceWarning, match="Maximum iterations"
    ):  # 60 epochs: stopped by max_iter, as sklearn says
        clf.fit(X_IRIS, labels)
    assert clf.score(X_IRIS, labels) > 0.9
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert clf.predict(X_IRIS[:1])[0] == "setosa"
    proba = clf.predict_proba(X_IRIS)
    assert proba.shape == (150, 3) and np.allclose(proba.sum(axis=1), 1)
    assert clf.n_features_in_ == 4 and clf.n_iter_ == len(clf.loss_curve_) == len(clf.history_)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert [w.shape for w in clf.coefs_] == [(4, 16), (16, 3)] and clf.out_activation_ == "softmax"
    assert clf.run_dir_ is None


def test_regressor_single_and_multiple_targets():
    X, y = make_regression(n_samples=120, n_features=5, n_targets=2, noise=0.1, random_state=0)
    y = y / y.std(axis=0)
    reg = MLPRegressor(hidden_layer_sizes=(32,), max_iter=150, learning_rate_init=0.01, random_state=0)
    assert reg.fit(X, y).predict(X).shape == (120, 2)
    assert reg.score(X, y) > 0.9
    assert reg.fit(X, y[:, 0]).predict(X).shape == (120,)


def test_a_dataframe_gives_feature_names():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X_IRIS, columns=["sl", "sw", "pl", "pw"])
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(frame, Y_IRIS)
    assert list(clf.feature_names_in_) == ["sl", "sw", "pl", "pw"]


def test_config_gives_the_rest_and_an_argument_owns_its_key(tmp_path):
    config = {"schedule": {"name": "cosine"}, "regularization": {"max_norm": 3.0}, "training": {"grad_clip": 1.0}}
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0, config=config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_IRIS, Y_IRIS)
    assert config == {
        "schedule": {"name": "cosine"},
        "regularization": {"max_norm": 3.0},
        "training": {"grad_clip": 1.0},
    }
    assert clf.history_[-1]["lr"] < clf.history_[0]["lr"]  # the cosine schedule ran
    path = tmp_path / "extra.yaml"
    path.write_text("optimizer: {name: sgd}\n")
    with pytest.raises(ValueError, match="'optimizer.name' is set by the estimator's argument solver"):
        MLPClassifier(config=str(path)).fit(X_IRIS, Y_IRIS)
    with pytest.raises(ValueError, match="unknown activation 'rleu'"):
        MLPClassifier(activation="rleu").fit(X_IRIS, Y_IRIS)


def test_a_run_folder_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    kwargs = {"hidden_layer_sizes": (8,), "max_iter": 200, "random_state": 0, "early_stopping": True}
    MLPClassifier(**kwargs).fit(X_IRIS, Y_IRIS)
    assert list(tmp_path.iterdir()) == []
    clf = MLPClassifier(**kwargs, run_dir="runs").fit(X_IRIS, Y_IRIS)
    from nnlab.runs.folder import RunFolder

    folder = RunFolder.open(clf.run_dir_)
    assert folder.path.resolve().parent == (tmp_path / "runs").resolve()
    assert folder.read_summary()["status"] == "converged"  # scikit-learn's stopping rule stopped it
    assert folder.read_config().data.name == "arrays"
    assert len(folder.read_metrics()) == clf.n_iter_
    assert clf.validation_scores_ and clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None


def test_partial_fit_continues_and_a_pickled_estimator_continues_alike():
    clf = MLPClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X_IRIS, Y_IRIS)
    for _ in range(5):
        clf.partial_fit(X_IRIS, Y_IRIS, classes=[0, 1, 2])
    assert clf.n_iter_ == 5 and clf.loss_curve_[-1] < clf.loss_curve_[0]
    copy = pickle.loads(pickle.dumps(clf))
    for est in (clf, copy):
        for _ in range(3):
            est.partial_fit(X_IRIS, Y_IRIS)
    assert np.array_equal(clf.predict_proba(X_IRIS), copy.predict_proba(X_IRIS))
    assert copy.n_iter_ == 8


def test_reaching_max_iter_warns_as_scikit_learn_does():
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(2\) reached"):
        MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X_IRIS[:, :3], X_IRIS[:, 3])
