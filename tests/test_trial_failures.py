"""A trial that diverges or crashes is FAILED with its reason, never chosen, and replaced."""
import keras
import numpy as np
import pytest

from keras_nas import DenseSpace, NASClassifier, NASRegressor

rng = np.random.default_rng(0)
X = rng.normal(size=(80, 5)).astype("float32")
Y = (X[:, 0] + X[:, 1] > 0).astype("int64")
FAST = dict(oracle="random", epochs=2, batch_size=16, seed=0, patience=2)


def test_every_diverging_trial_fails_with_its_reason_and_fit_raises():
    space = DenseSpace(optimizers=("sgd",), learning_rate=1e6)
    clf = NASClassifier(search_space=space, max_trials=3, **FAST)
    with pytest.raises(RuntimeError, match="No trial completed: 3 of 3 failed.*diverged.*NaN or infinite"):
        clf.fit(X, Y)
    assert not hasattr(clf, "best_model_")
    rows = clf.tuner_.leaderboard()
    assert [row["status"] for row in rows] == ["FAILED"] * 3
    assert all("diverged" in row["message"] for row in rows)


def test_a_diverging_regression_trial_says_why():
    space = DenseSpace(optimizers=("sgd",), learning_rate=1e6)
    reg = NASRegressor(search_space=space, max_trials=1, **FAST)
    with pytest.raises(RuntimeError, match="diverged"):
        reg.fit(X, X[:, 0] * 3.0)
    assert "NaN or infinite" in reg.tuner_.leaderboard()[0]["message"]


class _PoisonFirstTrial(keras.callbacks.Callback):
    """Makes the weights of the first trial it sees non-finite (the losses logged stay finite)."""

    poisoned: list = []

    def on_train_begin(self, logs=None):
        self.first = not _PoisonFirstTrial.poisoned
        _PoisonFirstTrial.poisoned.append(True)

    def on_epoch_end(self, epoch, logs=None):
        if self.first:
            weights = self.model.trainable_weights[0]
            weights.assign(np.full(weights.shape, np.nan, dtype="float32"))


def test_a_trial_with_non_finite_weights_is_failed_replaced_and_never_chosen():
    _PoisonFirstTrial.poisoned.clear()
    clf = NASClassifier(search_space="dense", max_trials=2, callbacks=[_PoisonFirstTrial()], **FAST)
    clf.fit(X, Y)
    rows = clf.leaderboard_
    statuses = sorted(row["status"] for row in rows)
    assert statuses == ["COMPLETED", "COMPLETED", "FAILED"], rows  # the failed trial was replaced
    failed = next(row for row in rows if row["status"] == "FAILED")
    assert "weights became NaN or infinite" in failed["message"]
    assert clf.best_trial_id_ != failed["trial_id"]
    proba = clf.predict_proba(X)
    assert np.all(np.isfinite(proba))


def test_when_every_trial_crashes_the_error_quotes_the_real_cause():
    def build(hp):  # wrong input width: the data has 5 features
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    clf = NASClassifier(search_space=build, max_trials=2, **FAST)
    with pytest.raises(RuntimeError) as raised:
        clf.fit(X, Y)
    message = str(raised.value)
    assert "No trial completed" in message and "ValueError" in message
    assert "expected" in message and "kwargs=" not in message and "inspect._empty" not in message


@pytest.mark.parametrize("budget", [float("nan"), float("inf"), 0, -5.0, np.float64("nan")])
def test_time_budget_must_be_finite_and_positive(budget):
    with pytest.raises(ValueError, match=r"time_budget must be a finite positive number of seconds.*received"):
        NASClassifier(time_budget=budget, max_trials=None).fit(X, Y)
