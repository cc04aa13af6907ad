"""``MLPClassifier`` and ``MLPRegressor``: nnlab networks as scikit-learn estimators."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d

from nnlab.sklearn.base import NnlabMLP

_ARGUMENTS = """
    Names, defaults and meanings are scikit-learn's own ``MLPClassifier`` / ``MLPRegressor``'s wherever it
    has the knob, so that swapping the import is all a notebook, a ``Pipeline`` or a ``GridSearchCV`` needs;
    the arguments scikit-learn lacks are nnlab's. Each argument sets one key of the nnlab config the
    estimator trains (``nnlab.sklearn.params.OWNED``); ``config=`` gives every other key.

    hidden_layer_sizes : tuple of int, default (100,)
        Units of each hidden layer (``model.hidden``); () for none.
    activation : str, default "relu"
        The hidden layers' activation: scikit-learn's identity, logistic, tanh, relu, or any of nnlab's
        (elu, gelu, leaky_relu, silu, ...; ``nnlab components``).
    solver : str, default "adam"
        The optimizer: adam or sgd as scikit-learn's, or nnlab's rmsprop, adagrad, adamw. No "lbfgs" (nnlab
        trains by mini-batches).
    alpha : float, default 1e-4
        L2 penalty, scaled as scikit-learn scales it (α/2 Σw² added to a batch's summed loss), which is
        nnlab's ``regularization.l2`` = α / batch size.
    batch_size : int or "auto", default "auto"
        Examples per step; "auto" is min(200, n_samples).
    learning_rate_init : float, default 1e-3
        The optimizer's learning rate (a schedule goes in ``config={"schedule": ...}``).
    max_iter : int, default 200
        Epochs at most (``training.epochs``).
    shuffle : bool, default True
        A new order of the examples every epoch.
    random_state : int, RandomState or None
        An int is the run's seed itself (``random_state=0`` trains as ``seed: 0``).
    tol, n_iter_no_change : float, int, default 1e-4, 10
        Stop when the training loss (or, with ``early_stopping``, the validation score) has not improved by
        ``tol`` for ``n_iter_no_change`` epochs, as scikit-learn does; nnlab's ``training.early_stopping``.
    verbose : bool, default False
        Print each epoch's loss.
    momentum, nesterovs_momentum : float, bool, default 0.9, True
        The sgd solver's momentum.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training data (stratified for a classifier), stop on its
        score (accuracy, R²) and end with the best epoch's weights.
    validation_fraction : float, default 0.1
    beta_1, beta_2, epsilon : float, default 0.9, 0.999, 1e-8
        The adam solver's β₁, β₂, ε.
    loss : str or None, default None
        nnlab's loss by name (``nnlab components``); None is cross-entropy for a classifier and the
        squared error for a regressor; scikit-learn's names squared_error and log_loss are accepted.
    dropout : float, default 0.0
        Dropout rate after every hidden layer (nnlab's).
    batch_norm : bool, default False
        Batch normalisation in every hidden layer (nnlab's).
    config : dict, str or None
        Any other nnlab config key, as a mapping or the path of a YAML file: a schedule, other regularizers,
        gradient clipping, ``data.preprocess``, ``dtype``, initializers... A key that an argument above sets is
        an error there (one place per setting).
    run_dir : str or None
        None: nothing is written (the run's folder is temporary). A folder: each fit trains into a new run
        folder in it, as ``nnlab train --runs-dir`` does, for ``nnlab runs``, ``plot``, ``eval``,
        ``export tensorboard``; ``run_dir_`` is that folder.

    The weights start as scikit-learn draws them (Glorot uniform) and training runs in float32 when X is
    float32, otherwise in float64, as scikit-learn's does.

    Attributes: ``classes_`` (classifier), ``n_features_in_``, ``feature_names_in_`` (a DataFrame's
    columns), ``loss_curve_`` (each epoch's training loss with its penalty), ``loss_``, ``best_loss_``,
    ``validation_scores_``, ``best_validation_score_``, ``n_iter_``, ``coefs_``, ``intercepts_``,
    ``n_layers_``, ``n_outputs_``, ``out_activation_``; nnlab's ``history_`` (every metrics row),
    ``network_`` (the trained ``nnlab.network.Network``) and ``run_dir_``.

    Not taken from scikit-learn: ``learning_rate`` and ``power_t`` (``config={"schedule": ...}``),
    ``warm_start`` (``partial_fit`` continues a fitted network), ``max_fun`` (lbfgs only).
"""


class MLPClassifier(ClassifierMixin, NnlabMLP):
    _task = "classification"

    def fit(self, X, y):
        """Train a new network on X, y (labels of any type; ``classes_`` holds them sorted)."""
        return self._train(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """One epoch over X, y, continuing the fitted network (the first call needs ``classes``, every label
        there will ever be)."""
        if not hasattr(self, "_experiment") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        return self._train(X, y, incremental=True, classes=classes)

    def _targets(self, y, first: bool, classes):
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if classes is not None and hasattr(self, "classes_") and not first:
            if not np.array_equal(self.classes_, unique_labels(classes)):
                raise ValueError(f"classes={classes!r} is not the same as on the first call, {self.classes_!r}")
        if first:
            labels = unique_labels(y if classes is None else classes)
            if len(labels) < 2:
                raise ValueError(f"a classifier needs at least 2 classes in y, got 1 class: {labels[0]!r}")
            self.classes_ = labels
        unknown = np.setdiff1d(unique_labels(y), self.classes_)
        if len(unknown):
            raise ValueError(f"y holds labels not in classes_ {self.classes_!r}: {unknown!r}")
        return np.searchsorted(self.classes_, y).astype(np.int64), [str(c) for c in self.classes_]

    def predict_proba(self, X):
        """Class probabilities, one column per class of ``classes_``."""
        out = self._outputs(X)
        return np.hstack([1 - out, out]) if out.shape[1] == 1 else out

    def predict_log_proba(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class MLPRegressor(RegressorMixin, NnlabMLP):
    _task = "regression"

    def fit(self, X, y):
        """Train a new network on X and targets y of shape (n,) or (n, k)."""
        return self._train(X, y, incremental=False)

    def partial_fit(self, X, y):
        """One epoch over X, y, continuing the fitted network."""
        return self._train(X, y, incremental=True)

    def _targets(self, y, first: bool, classes):
        return np.asarray(y, dtype=np.float64), None

    def predict(self, X):
        """Predicted values: (n,) for a single target, (n, k) for k."""
        out = self._outputs(X)
        return out.ravel() if out.shape[1] == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


MLPClassifier.__doc__ = f"""A multi-layer perceptron classifier trained by nnlab (cross-entropy over softmax outputs).
{_ARGUMENTS}"""
MLPRegressor.__doc__ = f"""A multi-layer perceptron regressor trained by nnlab (squared error, linear outputs).
{_ARGUMENTS}"""
