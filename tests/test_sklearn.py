"""scikit-learn conventions: clone, get/set_params, Pipeline, cross_val_score."""
import numpy as np
from sklearn.base import clone
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from keras_nas import NASClassifier, NASRegressor
from tests.conftest import TINY


def test_init_only_stores_parameters():
    clf = NASClassifier(max_trials=-5, oracle="nonsense")  # validated in fit, as in scikit-learn
    assert clf.get_params()["max_trials"] == -5 and clf.get_params()["oracle"] == "nonsense"
    assert not [name for name in vars(clf) if name.endswith("_")]


def test_clone_and_set_params():
    clf = NASClassifier(max_trials=3, seed=7)
    copy = clone(clf)
    assert copy is not clf and copy.get_params() == clf.get_params()
    assert copy.set_params(epochs=4) is copy and copy.epochs == 4
    assert set(NASRegressor().get_params()) == set(clf.get_params())


def test_pipeline_and_cross_val_score(tabular_small):
    x, y = tabular_small
    pipeline = make_pipeline(StandardScaler(), NASClassifier(**{**TINY, "max_trials": 1}))
    scores = cross_val_score(pipeline, x, y, cv=2)
    assert scores.shape == (2,) and np.all((0 <= scores) & (scores <= 1))
    fitted = pipeline.fit(x, y)
    assert fitted.predict(x).shape == (len(x),)
    assert fitted.score(x, y) > 0.5
