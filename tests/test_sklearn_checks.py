"""scikit-learn's own estimator checks (``parametrize_with_checks``) on nnlab's estimators, with their
default arguments: the suite written by scikit-learn's authors is the referee of whether ``nnlab.sklearn``
behaves as an estimator must. Every check passes: no expected failure is listed. (The two array-API checks
are skipped by scikit-learn itself unless SCIPY_ARRAY_API=1 is set, for every estimator.)"""

import re

import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

# scikit-learn's checks fit at the default max_iter on data that does not converge in it; the estimator
# warns as scikit-learn's own MLPClassifier does there (test_sklearn.py asserts that warning where it belongs)
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

from nnlab.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

#: checks expected to fail, by estimator, each with its reason; none today
EXPECTED_FAILURES: dict[str, dict[str, str]] = {"MLPClassifier": {}, "MLPRegressor": {}}

#: checks that train several networks for 200 epochs (0.4 s to 5 s each on two cores): marked slow, run in CI
SLOW = {
    "check_classifier_data_not_an_array", "check_classifiers_classes", "check_classifiers_train",
    "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object", "check_estimators_dtypes",
    "check_estimators_fit_returns_self", "check_estimators_nan_inf", "check_estimators_overwrite_params",
    "check_estimators_pickle", "check_f_contiguous_array_estimator", "check_fit2d_1feature",
    "check_fit2d_predict1d", "check_fit_idempotent", "check_fit_score_takes_y",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance",
    "check_n_features_in_after_fitting", "check_non_transformer_estimators_n_iter", "check_pipeline_consistency",
    "check_positive_only_tag_during_fit", "check_readonly_memmap_input", "check_regressor_data_not_an_array",
    "check_regressor_multioutput", "check_regressors_int", "check_regressors_no_decision_function",
    "check_regressors_train", "check_supervised_y_2d",
}  # fmt: skip

CHECKS = parametrize_with_checks(
    [MLPClassifier(), MLPRegressor()],
    expected_failed_checks=lambda estimator: EXPECTED_FAILURES[type(estimator).__name__],
    xfail_strict=True,
)


def _check_name(check) -> str:
    return re.sub(r"\(.*", "", getattr(check, "__name__", None) or check.func.__name__)


def _marked(param):
    """scikit-learn's parameter, with the slow mark where the check is slow."""
    values, marks = (param.values, list(param.marks)) if hasattr(param, "values") else (param, [])
    slow = [pytest.mark.slow] if _check_name(values[1]) in SLOW else []
    return pytest.param(*values, marks=[*marks, *slow])


@pytest.mark.parametrize(CHECKS.args[0], [_marked(p) for p in CHECKS.args[1]], ids=CHECKS.kwargs["ids"])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_every_check_runs_on_both_estimators():
    names = {(type(p.values[0] if hasattr(p, "values") else p[0]).__name__) for p in CHECKS.args[1]}
    assert names == {"MLPClassifier", "MLPRegressor"}
    assert len(CHECKS.args[1]) > 100  # scikit-learn 1.9 has 54 checks for a classifier, 52 for a regressor
