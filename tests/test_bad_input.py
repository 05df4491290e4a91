"""Every kind of bad input gets a ValueError that names the problem."""
import numpy as np
import pytest

from keras_nas import NASClassifier, NASRegressor
from tests.conftest import TINY

rng = np.random.default_rng(0)
X = rng.normal(size=(40, 5)).astype("float32")
Y = np.arange(40) % 2


def _with(array, index, value):
    array = array.astype("float64").copy()
    array[index] = value
    return array


@pytest.mark.parametrize("x,y,message", [
    (X, Y[:30], "different lengths: 40 examples and 30 targets"),
    (np.zeros((0, 5)), np.zeros(0), "empty"),
    (_with(X, (3, 1), np.nan), Y, "1 NaN or infinite values"),
    (_with(X, (0, 0), np.inf), Y, "NaN or infinite"),
    (X, _with(Y, 2, np.nan), "NaN or infinite labels"),
    (X, np.zeros(40), "at least 2 classes"),
    (X[:, 0], Y, r"must have 2 dimensions .* received shape \(40,\)"),
    (np.zeros((4, 2, 2, 2, 2)), np.arange(4) % 2, r"received shape \(4, 2, 2, 2, 2\)"),
    (np.array([["a", "b"]] * 40), Y, "must hold numbers"),
    (X, np.zeros((40, 2, 2)), "1-D labels or one-hot"),
])
def test_bad_training_data(x, y, message):
    with pytest.raises(ValueError, match=message):
        NASClassifier(**TINY).fit(x, y)


def test_bad_regression_targets():
    with pytest.raises(ValueError, match="NaN or infinite"):
        NASRegressor(**TINY).fit(X, _with(np.arange(40.0), 5, np.nan))
    with pytest.raises(ValueError, match="must be numeric"):
        NASRegressor(**TINY).fit(X, np.array(["a"] * 40))


@pytest.mark.parametrize("params,message", [
    ({"max_trials": 0}, "max_trials must be a positive integer; received max_trials=0"),
    ({"max_trials": None}, "max_trials must be a positive integer"),
    ({"epochs": 0}, "epochs must be a positive integer"),
    ({"epochs": -3}, "epochs must be a positive integer"),
    ({"epochs": 2.5}, "epochs must be a positive integer"),
    ({"batch_size": 0}, "batch_size"),
    ({"time_budget": -1}, "time_budget must be a positive number"),
    ({"time_budget": True}, "time_budget must be a positive number"),
    ({"validation_split": 1.5}, "validation_split must be in"),
    ({"oracle": "genetic"}, "Unknown oracle 'genetic'"),
    ({"search_space": "transformer"}, "Unknown search_space 'transformer'"),
    ({"search_space": 42}, "search_space must be"),
    ({"validation_data": X}, r"validation_data must be a tuple \(x_val, y_val\)"),
])
def test_bad_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        NASClassifier(**{**TINY, **params}).fit(X, Y)


def test_space_that_cannot_take_the_data():
    with pytest.raises(ValueError, match="ConvSpace cannot build networks for inputs of shape"):
        NASClassifier(**TINY, search_space="conv").fit(X, Y)


def test_validation_data_problems():
    with pytest.raises(ValueError, match="labels not seen in training"):
        NASClassifier(**TINY, validation_data=(X[:4], np.array([0, 1, 2, 1]))).fit(X, Y)
    with pytest.raises(ValueError, match="x_val and y_val have different lengths"):
        NASClassifier(**TINY, validation_data=(X[:4], Y[:3])).fit(X, Y)
    with pytest.raises(ValueError, match=r"x_val has examples of shape \(4,\); x has \(5,\)"):
        NASClassifier(**TINY, validation_data=(X[:4, :4], Y[:4])).fit(X, Y)


@pytest.fixture(scope="module")
def fitted():
    return NASClassifier(**TINY).fit(X, Y)


def test_predict_with_other_feature_shape(fitted):
    with pytest.raises(ValueError, match=r"examples of shape \(6,\), but this estimator was fitted on examples of shape \(5,\)"):
        fitted.predict(np.zeros((3, 6)))
    with pytest.raises(ValueError, match="NaN"):
        fitted.predict_proba(_with(X[:3], (0, 0), np.nan))


def test_unfitted_estimator():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        NASClassifier().predict(X)
    with pytest.raises(NotFittedError):
        NASRegressor().export("somewhere")


def test_unknown_export_format(fitted, tmp_path):
    with pytest.raises(ValueError, match="Unknown export format 'onnx'"):
        fitted.export(tmp_path / "m", format="onnx")


def test_tf_data_misuse():
    import tensorflow as tf

    with pytest.raises(ValueError, match="yields no targets"):
        NASClassifier(**TINY).fit(tf.data.Dataset.from_tensor_slices(X))
    with pytest.raises(ValueError, match="pass y=None"):
        NASClassifier(**TINY).fit(tf.data.Dataset.from_tensor_slices((X, Y)), Y)
    with pytest.raises(ValueError, match="y is required"):
        NASClassifier(**TINY).fit(X)
