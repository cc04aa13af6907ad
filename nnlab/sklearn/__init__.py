"""nnlab networks as scikit-learn estimators: ``MLPClassifier`` and ``MLPRegressor``, trained by nnlab's
own experiment and training loop, for ``Pipeline``, ``cross_val_score`` and ``GridSearchCV``.

    from nnlab.sklearn import MLPClassifier   # in place of sklearn.neural_network's
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=50, random_state=0).fit(X, y)

scikit-learn is an optional extra (``pip install 'nnlab[sklearn]'``); ``import nnlab`` never imports it.
"""

try:
    import sklearn  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    raise ImportError("nnlab.sklearn needs scikit-learn: pip install 'nnlab[sklearn]'") from None

from nnlab.sklearn.estimators import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
