"""What both estimators share: the constructor's arguments, ``fit`` and ``partial_fit`` through nnlab's own
``Experiment`` and ``Trainer`` (nothing trains here but the training loop of ``nnlab train``), and the
outputs of the trained network.

A fit trains into a run folder like any run: under ``run_dir`` when it is given (``run_dir_`` is the new
folder), otherwise in a temporary folder (in memory, /dev/shm, where the system has one) removed when the
fit ends.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from nnlab.errors import NnlabError
from nnlab.sklearn.params import batch, stopping, to_config
from nnlab.training.callbacks import Callback

#: where a fit without run_dir keeps its run folder: memory-backed where the system has it (no disk writes)
_SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


class _Verbose(Callback):
    """``verbose=True``: each epoch's training loss, as scikit-learn prints it."""

    def on_epoch_end(self, run, epoch, row):
        print(f"Iteration {epoch + 1}, loss = {row['train_loss'] + row.get('penalty', 0.0):.8f}")


class Plateau(Callback):
    """scikit-learn's stopping rule, to the letter: an epoch whose ``monitor`` (the training loss with its
    penalty, or a validation score) is not better than the best so far by ``tol`` adds one to a count that
    a better one resets; the run stops (``converged``) when the count exceeds ``n_iter_no_change``. On a
    validation score the network ends with the weights of its best epoch, the run's ``best`` checkpoint."""

    def __init__(self, monitor: str, tol: float, n_iter_no_change: int):
        self.monitor, self.tol, self.patience = monitor, tol, n_iter_no_change
        self.best, self.count = None, 0

    def on_epoch_end(self, run, epoch, row):
        loss = self.monitor == "train_loss"
        # compared as a loss (smaller is better): a score with its sign turned
        value = row["train_loss"] + row.get("penalty", 0.0) if loss else -row[self.monitor]
        self.count = self.count + 1 if self.best is not None and value > self.best - self.tol else 0
        if self.best is None or value < self.best:
            self.best = value
        if self.count > self.patience:
            what = "training loss" if loss else self.monitor
            run.stop("converged", f"the {what} did not improve by tol {self.tol:g} for {self.patience} epochs")

    def on_run_end(self, run):
        if self.monitor != "train_loss" and run.best is not None and run.best["epoch"] != run.epoch:
            from nnlab.runs.checkpoint import subset

            run.net.load_state_dict(subset(run.folder.load_checkpoint("best")[0], "model"))


class NnlabMLP(BaseEstimator):
    """The estimators' common part (see ``MLPClassifier`` for the arguments)."""

    _task = ""

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate_init=0.001,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        loss=None,
        dropout=0.0,
        batch_norm=False,
        config=None,
        run_dir=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.loss = loss
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.config = config
        self.run_dir = run_dir

    # ----- training -----------------------------------------------------------------------------
    def _train(self, X, y, incremental: bool, classes=None):
        first = not (incremental and hasattr(self, "_experiment"))
        X, y = validate_data(
            self,
            X,
            y,
            reset=first,
            dtype=(np.float64, np.float32),
            multi_output=self._task == "regression",
            y_numeric=self._task == "regression",
        )
        targets, class_names = self._targets(y, first, classes)
        dtype = "float32" if X.dtype == np.float32 else "float64"
        from nnlab.data.memory import from_arrays

        names = getattr(self, "feature_names_in_", None)
        data = from_arrays(X, targets, self._task, None if names is None else list(names), class_names)
        try:
            cfg = to_config(self.get_params(), self._task, len(X), dtype, incremental)
            exp = self._experiment_for(cfg, data, first)
            result = self._run(exp, None if incremental else stopping(self.get_params(), self._task))
        except NnlabError as e:
            raise ValueError(str(e)) from None
        self._record(result, first, incremental)
        return self

    def _experiment_for(self, cfg: dict, data, first: bool):
        """A new experiment (fit, a first partial_fit), or the fitted one with ``data`` as its training set."""
        from nnlab.api import as_config
        from nnlab.data.core import preprocess_splits, raw_splits
        from nnlab.experiment import Experiment

        if first:
            return Experiment.from_config(as_config(cfg), dataset=data)
        exp = self._experiment
        config = exp.config.model_copy(deep=True)
        config.data.split.val = 0.0
        config.training.epochs, config.training.early_stopping = 1, None
        config.training.batch_size = batch(self.batch_size, len(data.X))
        exp.config = config
        raw = raw_splits(config.data, config.seed, data)
        exp.splits = preprocess_splits(raw, exp.preprocessor, np.dtype(config.dtype))
        exp.batch_size = config.training.batch_size
        exp.n_batches = math.ceil(len(exp.splits.X_train) / exp.batch_size)
        return exp

    def _run(self, exp, stop):
        from nnlab.runs.folder import RunFolder
        from nnlab.training.loop import Trainer

        callbacks = [_Verbose()] if self.verbose else []
        if stop is not None:
            callbacks.append(Plateau(*stop))
        if self.run_dir is not None:
            trainer = Trainer(exp, RunFolder.create(self.run_dir, exp.config.name), callbacks)
            return trainer.fit(handle_signals=False)
        with tempfile.TemporaryDirectory(prefix="nnlab-sklearn-", dir=_SCRATCH) as tmp:
            trainer = Trainer(exp, RunFolder.create(tmp, exp.config.name), callbacks)
            return trainer.fit(handle_signals=False)

    def _record(self, result, first: bool, incremental: bool) -> None:
        """The fitted attributes, scikit-learn's names, from the run's result."""
        exp = result.experiment
        if result.status == "diverged":
            raise ValueError(f"training diverged: {result.summary['reason']}")
        rows = [dict(r) for r in result.history]
        monitor = None if incremental else stopping(self.get_params(), self._task)[0]
        stop_on_val = monitor is not None and monitor != "train_loss"
        if not first:
            rows = self.history_ + rows
        curve = [r["train_loss"] + r.get("penalty", 0.0) for r in rows]
        self.history_, self.loss_curve_, self.loss_ = rows, curve, curve[-1] if curve else float("nan")
        self.n_iter_ = len(rows)
        self.best_loss_ = None if stop_on_val else min(curve, default=float("nan"))
        self.validation_scores_ = [r.get(monitor) for r in rows] if stop_on_val else None
        self.best_validation_score_ = max(self.validation_scores_) if stop_on_val else None
        self.run_dir_ = None if self.run_dir is None else str(result.run_dir)
        dense = [(k, v) for k, v in exp.net.named_params().items() if k.endswith(".W")]
        self.coefs_ = [np.array(w, dtype=np.float64) for _, w in dense]
        params = exp.net.named_params()
        self.intercepts_ = [
            np.array(params.get(k[:-1] + "b", np.zeros(w.shape[1])), dtype=np.float64) for k, w in dense
        ]
        self.n_layers_, self.n_outputs_ = len(self.coefs_) + 1, exp.net.n_outputs
        self.out_activation_ = str(exp.config.model.output)
        self.network_ = exp.net
        # the training data are not kept (nor pickled with the estimator): the next partial_fit brings its own
        exp.splits = dataclasses.replace(
            exp.splits,
            **{f"{a}_{s}": getattr(exp.splits, f"{a}_{s}")[:0] for a in "Xy" for s in ("train", "val", "test")},
        )
        self._experiment = exp
        if result.status == "completed" and not incremental:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the optimization hasn't "
                "converged yet.",
                ConvergenceWarning,
                stacklevel=4,  # the caller of fit
            )

    def __setstate__(self, state):
        """The optimizer's state writable again (joblib may load every array read-only), for partial_fit;
        the network repairs itself (``Network.__setstate__``)."""
        super().__setstate__(state)
        exp = self.__dict__.get("_experiment")
        if exp is not None:
            exp.optimizer.state = {k: {s: np.array(a) for s, a in st.items()} for k, st in exp.optimizer.state.items()}

    # ----- the trained network ------------------------------------------------------------------
    def _outputs(self, X) -> np.ndarray:
        """The network's outputs (probabilities for a classifier, values for a regressor) in float64."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        exp = self._experiment
        return np.asarray(exp.net.predict(exp.preprocessor.transform(X, exp.net.dtype)), dtype=np.float64)
