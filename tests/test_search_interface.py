"""The `Search` interface: every search `fit` can run leaves the estimator in the same fitted form.

Parametrised over the trial search (each registered oracle's family is covered by test_oracle_contract.py) and
every registered one-shot strategy, so a new strategy is covered the moment it is registered.
"""

import keras
import numpy as np
import pytest

from keras_nas import Architecture, Layer, NASClassifier
from keras_nas.estimators.one_shot import OneShotSearch
from keras_nas.estimators.search import Found, Search, Split
from keras_nas.estimators.trial_search import TrialSearch
from keras_nas.oneshot import STRATEGIES

FITTED = {
    "best_model_",
    "best_trial_id_",
    "best_score_",
    "best_step_",
    "best_hyperparameters_",
    "best_architecture_",
    "leaderboard_",
    "oracle_seconds_",
    "search_seconds_",
    "refit_seconds_",
    "refit_epochs_",
    "history_",
    "tuner_",
    "device_",
}
ROW = {"trial_id", "status", "score", "hyperparameters", "architecture", "params", "epochs", "seconds", "message"}


def _vectors(n=96, features=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype(int)


@pytest.mark.parametrize("strategy", [None, *STRATEGIES])
def test_every_search_sets_the_same_fitted_attributes(strategy):
    x, y = _vectors()
    clf = NASClassifier(strategy=strategy, max_trials=1, epochs=1, batch_size=32, seed=0)
    search = clf._make_search()
    assert isinstance(search, TrialSearch if strategy is None else OneShotSearch)
    clf.fit(x, y)
    assert FITTED <= set(vars(clf)), FITTED - set(vars(clf))
    assert clf.search_seconds_ > 0 and clf.refit_seconds_ > 0
    assert isinstance(clf.best_architecture_, Architecture)
    best = [row for row in clf.leaderboard_ if row["trial_id"] == clf.best_trial_id_]
    assert len(best) == 1 and set(best[0]) == ROW
    assert best[0]["score"] == clf.best_score_ and best[0]["architecture"] == clf.best_architecture_.summary()
    assert len(clf.history_["loss"]) == clf.refit_epochs_
    assert (clf.tuner_ is None) == (strategy is not None)
    assert clf.predict(x[:5]).shape == (5,)


class _FixedSearch(Search):
    """A search of one fixed network: the interface asks no more than these three steps."""

    def search(self, split):
        self.architecture = Architecture([Layer.of("dense", units=8)])

    def found(self):
        return Found("fixed", 0.5, 0, {"units": 8}, self.architecture, [{"trial_id": "fixed", "score": 0.5}])

    def final_model(self, split):
        est = self.estimator
        head = est._head()
        model = self.architecture.build(est.input_shape_, head=head)
        model.compile(optimizer="adam", loss=head.loss, metrics=head.metrics)
        est.refit_epochs_ = 1
        return est._train_final(model, *split.combined())


def test_a_new_search_is_one_subclass(monkeypatch):
    x, y = _vectors()
    monkeypatch.setattr(NASClassifier, "_make_search", lambda self: _FixedSearch(self))
    clf = NASClassifier(epochs=1, seed=0).fit(x, y)
    assert clf.best_trial_id_ == "fixed" and clf.best_score_ == 0.5 and clf.best_hyperparameters_ == {"units": 8}
    assert clf.best_architecture_.summary() == Architecture([Layer.of("dense", units=8)]).summary()
    assert clf.search_seconds_ >= 0 and clf.refit_seconds_ > 0 and len(clf.history_["loss"]) == 1
    assert isinstance(clf.best_model_, keras.Model) and clf.predict_proba(x[:3]).shape == (3, 2)


def test_split_combined_is_training_then_validation():
    x = np.arange(10, dtype="float32").reshape(5, 2)
    y = np.arange(5)
    split = Split(x, y, x[:3], y[:3], x[3:], y[3:])
    x_all, y_all = split.combined()
    np.testing.assert_array_equal(x_all, x)
    np.testing.assert_array_equal(y_all, y)
