"""What fit leaves behind: pickled estimators predict the same, parameters stay as passed, temp files go."""
import io
import os
import pickle
import tempfile

import joblib
import keras_tuner
import numpy as np
import pytest
from sklearn.model_selection import cross_val_score

from keras_nas import NASClassifier, NASRegressor

rng = np.random.default_rng(0)
X = rng.normal(size=(80, 5)).astype("float32")
Y = (X[:, 0] + X[:, 1] > 0).astype("int64")
FAST = dict(search_space="dense", max_trials=1, epochs=1, batch_size=16, seed=0)


@pytest.mark.parametrize("oracle", ["random", "morphism", "passed"])
def test_a_fitted_estimator_pickles_and_predicts_the_same(oracle):
    if oracle == "passed":
        oracle = keras_tuner.oracles.RandomSearchOracle(objective="val_accuracy", max_trials=1, seed=2)
    params = {**FAST, "search_space": "auto"} if oracle == "morphism" else FAST
    clf = NASClassifier(oracle=oracle, **params).fit(X, Y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    assert restored.leaderboard_ == clf.leaderboard_ and restored.tuner_ is None
    buffer = io.BytesIO()
    joblib.dump(clf, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(joblib.load(buffer).predict(X), clf.predict(X))
    restored.fit(X, Y)  # an unpickled estimator fits again
    assert np.isfinite(restored.score(X, Y))


def test_a_fitted_regressor_pickles_and_predicts_the_same():
    reg = NASRegressor(oracle="random", **FAST).fit(X, X[:, 0] * 2.0)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X), reg.predict(X))


def test_cross_validation_runs_in_two_processes():
    scores = cross_val_score(NASClassifier(oracle="random", **FAST), X, Y, cv=2, n_jobs=2)
    assert scores.shape == (2,) and np.all(np.isfinite(scores))


def test_fit_leaves_a_passed_oracle_untouched_and_fits_twice():
    oracle = keras_tuner.oracles.RandomSearchOracle(objective="val_accuracy", max_trials=1, seed=2)
    clf = NASClassifier(oracle=oracle, **FAST)
    clf.fit(X, Y)
    assert clf.oracle is oracle and not oracle.trials and oracle.directory is None
    first = clf.best_score_
    clf.fit(X, Y)  # crashed with FileNotFoundError .../trial_0/checkpoint.weights.h5
    assert clf.best_score_ == pytest.approx(first)


def test_fit_without_a_directory_leaves_no_files(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    NASClassifier(oracle="random", **FAST).fit(X, Y)
    def broken(hp):
        raise ValueError("this space cannot build")

    with pytest.raises(ValueError, match="this space cannot build"):  # a failed fit cleans up too
        NASClassifier(oracle="random", **{**FAST, "search_space": broken}).fit(X, Y)
    assert [name for name in os.listdir(tmp_path) if name.startswith("keras_nas")] == []


def test_fit_with_a_directory_keeps_its_trials(tmp_path):
    NASClassifier(oracle="random", directory=str(tmp_path), **FAST).fit(X, Y)
    assert (tmp_path / "keras_nas" / "oracle.json").exists()
