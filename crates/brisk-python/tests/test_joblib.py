"""The joblib backend "brisk", with the talk's scikit-learn example."""

from __future__ import annotations

import threading

import pytest

joblib = pytest.importorskip("joblib")
sklearn = pytest.importorskip("sklearn")

import brisk  # noqa: E402,F401  (registers the backend)


def test_parallel_results_in_order_and_errors():
    with joblib.parallel_backend("brisk", n_jobs=3):
        out = joblib.Parallel()(joblib.delayed(pow)(i, 2) for i in range(200))
    assert out == [i * i for i in range(200)]

    def fail(i):
        if i == 7:
            raise KeyError(i)
        return i

    with joblib.parallel_backend("brisk"):
        with pytest.raises(KeyError):
            joblib.Parallel(n_jobs=2)(joblib.delayed(fail)(i) for i in range(20))


def test_batches_run_concurrently_on_brisk_threads():
    barrier = threading.Barrier(3, timeout=20)
    main = threading.get_ident()

    def meet(_):
        barrier.wait()
        return threading.get_ident()

    with joblib.parallel_backend("brisk", n_jobs=3):
        idents = joblib.Parallel(batch_size=1)(joblib.delayed(meet)(i) for i in range(3))
    assert len(set(idents)) == 3 and main not in idents


def test_randomized_search_matches_serial():
    """The talk's example: RandomizedSearchCV(SVC(), param_space, cv=3, n_iter=50)."""
    from scipy.stats import loguniform
    from sklearn.datasets import load_digits
    from sklearn.model_selection import RandomizedSearchCV
    from sklearn.svm import SVC

    X, y = load_digits(return_X_y=True)
    X, y = X[:600], y[:600]  # keep it quick; the search is the same
    param_space = {
        "C": loguniform(1e-3, 1e3),
        "gamma": loguniform(1e-5, 1e-1),
        "kernel": ["rbf", "poly", "sigmoid"],
        "shrinking": [True, False],
    }

    def search(n_jobs):
        return RandomizedSearchCV(
            SVC(), param_space, cv=3, n_iter=50, random_state=0, n_jobs=n_jobs
        )

    serial = search(None).fit(X, y)
    with joblib.parallel_backend("brisk"):
        parallel = search(-1).fit(X, y)
    assert parallel.best_params_ == serial.best_params_
    assert parallel.best_score_ == serial.best_score_
    assert list(parallel.cv_results_["mean_test_score"]) == list(
        serial.cv_results_["mean_test_score"]
    )
