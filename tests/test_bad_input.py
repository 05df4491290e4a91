"""Every kind of bad input gets a ValueError that names the problem."""
import re

import keras
import keras_tuner
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
    (np.zeros((0, 5)), np.zeros(0), r"x was rejected: Found array with 0 sample\(s\)"),
    (np.zeros((40, 0)), Y, r"x was rejected: Found array with 0 feature\(s\)"),
    (np.zeros((40, 0, 3)), Y, r"x is empty \(shape \(40, 0, 3\)\)"),
    (_with(X, (3, 1), np.nan), Y, "Input x contains NaN"),
    (_with(X, (0, 0), np.inf), Y, "Input x contains infinity"),
    (X, _with(Y, 2, np.nan), "NaN or infinite labels"),
    (X, np.zeros(40), "at least 2 classes"),
    (X[:, 0], Y, r"must have 2 dimensions .* received shape \(40,\)"),
    (np.zeros((4, 2, 2, 2, 2)), np.arange(4) % 2, r"received shape \(4, 2, 2, 2, 2\)"),
    (np.array([["a", "b"]] * 40), Y, "x was rejected: dtype='numeric' is not compatible with arrays of bytes/strings"),
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
    ({"time_budget": -1}, "time_budget must be .*received -1"),
    ({"time_budget": True}, "time_budget must be .*received True"),
    ({"validation_split": 1.5}, r"validation_split must be a number in \(0, 1\)"),
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
    with pytest.raises(ValueError, match=r"x_val has examples of shape \(4,\), but this estimator was fitted on examples of shape \(5,\)"):
        NASClassifier(**TINY, validation_data=(X[:4, :4], Y[:4])).fit(X, Y)


COLUMNS = ["a", "b", "c", "d", "e"]
QUICK = dict(oracle="random", search_space="dense", max_trials=1, epochs=1, seed=0)


@pytest.fixture(scope="module")
def fitted():
    pd = pytest.importorskip("pandas")
    return NASClassifier(**QUICK).fit(pd.DataFrame(X, columns=COLUMNS), Y)


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
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


@pytest.mark.parametrize("order", [["b", "a", "c", "d", "e"], ["e", "d", "c", "b", "a"]])
@pytest.mark.parametrize("method", ["predict", "predict_proba", "score", "evaluate"])
def test_reordered_columns_are_rejected(fitted, method, order):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=COLUMNS)[order]
    args = (frame, Y) if method in ("score", "evaluate") else (frame,)
    expected = rf"(?s){re.escape(f'x has columns {order}')}.*{re.escape(f'fitted on columns {COLUMNS}')}.*same order"
    with pytest.raises(ValueError, match=expected):
        getattr(fitted, method)(*args)


def test_renamed_and_missing_columns_are_rejected(fitted):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=COLUMNS)
    with pytest.raises(ValueError, match=r"(?s)unseen at fit time:\n- z\n.*yet now missing:\n- a"):
        fitted.predict(frame.rename(columns={"a": "z"}))
    with pytest.raises(ValueError, match=r"(?s)x has columns \['a', 'b', 'c', 'd'\].*yet now missing:\n- e"):
        fitted.predict(frame[COLUMNS[:4]])
    assert fitted.predict(frame).shape == (40,)  # the fitted columns in their order are fine


def test_validation_data_columns_are_checked():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=COLUMNS)
    clf = NASClassifier(**QUICK, validation_data=(frame[COLUMNS[::-1]], Y))
    with pytest.raises(ValueError, match="x_val has columns"):
        clf.fit(frame, Y)


def test_dataframe_then_numpy_warns_as_scikit_learn_does(fitted):
    with pytest.warns(UserWarning, match="X does not have valid feature names, but NASClassifier was fitted with"):
        fitted.predict(X)


def test_feature_names_follow_the_last_fit():
    pd = pytest.importorskip("pandas")
    clf = NASClassifier(**QUICK).fit(pd.DataFrame(X, columns=COLUMNS), Y)
    assert list(clf.feature_names_in_) == COLUMNS and clf.n_features_in_ == 5
    clf.fit(X, Y)
    assert not hasattr(clf, "feature_names_in_") and clf.n_features_in_ == 5
    clf.set_params(search_space="conv").fit(X.reshape(40, 5, 1), Y)
    assert not hasattr(clf, "n_features_in_") and clf.input_shape_ == (5, 1)


def test_continuous_target_for_a_classifier():
    y = np.random.default_rng(1).normal(size=40)
    with pytest.raises(ValueError, match=r"y looks continuous \(40 distinct non-integer values in 40 rows.*NASRegressor"):
        NASClassifier(**QUICK).fit(X, y)


def test_integral_float_labels_are_classes():
    from keras_nas.estimators import data

    np.testing.assert_array_equal(data.check_class_labels(np.array([0.0, 1.0, 2.0, 1.0])), [0, 1, 2, 1])


@pytest.mark.parametrize("x,message", [
    (X + 1j, r"x holds complex numbers \(dtype complex"),
    (np.zeros((40, 2), dtype="datetime64[s]"), r"x holds dates or durations \(dtype datetime64\[s\]\)"),
    (np.ones((40, 2), dtype="timedelta64[ms]"), r"x holds dates or durations \(dtype timedelta64\[ms\]\)"),
    (_with(X, (2, 0), 1e39), r"x has 1 finite values beyond float32's range.*1e\+39 at index \(2, 0\)"),
])
def test_values_that_would_become_wrong_numbers(x, message):
    with pytest.raises(ValueError, match=message):
        NASClassifier(**QUICK).fit(x, Y)


def test_dataframe_columns_that_would_become_wrong_numbers():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=COLUMNS)
    when = frame.assign(day=pd.Timestamp("2024-01-01"), wait=pd.Timedelta(seconds=3))
    with pytest.raises(ValueError, match=r"x has date or time columns \['day', 'wait'\]"):
        NASClassifier(**QUICK).fit(when, Y)
    with pytest.raises(ValueError, match=r"x has complex columns \['a'\]"):
        NASClassifier(**QUICK).fit(frame.assign(a=frame["a"] + 1j), Y)
    gaps = frame.assign(b=pd.array([None] + [1] * 39, dtype="Int64"))
    with pytest.raises(ValueError, match=r"x has missing values \(NaN, None or pd.NA\) in columns \{'b': 1\}"):
        NASClassifier(**QUICK).fit(gaps, Y)


def test_target_messages():
    pd = pytest.importorskip("pandas")
    one_hot = np.eye(2)[Y]
    one_hot[7] = 0
    with pytest.raises(ValueError, match=r"y row 7 is not one-hot: it holds 0 ones"):
        NASClassifier(**QUICK).fit(X, one_hot)
    with pytest.raises(ValueError, match="y has 1 missing values"):
        NASClassifier(**QUICK).fit(X, pd.Series(pd.array([None] + [1, 0] * 19 + [1], dtype="Int64")))
    with pytest.raises(ValueError, match=r"y has 1 finite values beyond float32's range"):
        NASRegressor(**QUICK).fit(X, _with(np.arange(40.0), 3, 1e39))
    with pytest.raises(ValueError, match="y holds dates or durations"):
        NASRegressor(**QUICK).fit(X, np.arange(40).astype("timedelta64[s]"))


@pytest.mark.parametrize("params,message", [
    ({"seed": "abc"}, r"seed must be None or an integer in \[0, 2\*\*32 - 1\]; received seed='abc'"),
    ({"seed": -1}, r"received seed=-1\. Pass e\.g\. seed=0"),
    ({"seed": 2**33}, "received seed=8589934592"),
    ({"seed": 1.5}, "received seed=1.5"),
    ({"verbose": "loud"}, r"verbose must be 0 \(silent\), 1 .* or 2 .*; received verbose='loud'"),
    ({"verbose": 3}, "received verbose=3"),
    ({"callbacks": keras.callbacks.EarlyStopping()}, r"received a single EarlyStopping\. Pass a list, e\.g\. callbacks=\[cb\]"),
    ({"callbacks": ["stop"]}, r"callbacks\[0\] must be a keras.callbacks.Callback; received 'stop'"),
    ({"validation_split": "abc"}, "validation_split must be a number in .*; received validation_split='abc'"),
    ({"objective": "val_auc"}, r"objective 'val_auc' is not a metric the trials log.*\['loss', 'accuracy', 'val_loss', 'val_accuracy'\]"),
    ({"objective": keras_tuner.Objective("val_auc", "max")}, "objective 'val_auc' is not a metric"),
    ({"objective": 3}, "objective must be a metric name"),
    ({"oracle": keras_tuner.oracles.RandomSearchOracle(objective="auc", max_trials=1)}, "objective 'auc' is not"),
])
def test_parameter_messages(params, message):
    clf = NASClassifier(**{**QUICK, **params})
    with pytest.raises(ValueError, match=message):
        clf.fit(X, Y)
    assert not hasattr(clf, "tuner_")  # rejected before any search


def test_regression_objective_names():
    with pytest.raises(ValueError, match=r"objective 'val_accuracy' .*'val_mean_absolute_error'\]"):
        NASRegressor(**QUICK, objective="val_accuracy").fit(X, np.arange(40.0))


@pytest.mark.parametrize("objective", ["val_loss", "accuracy", keras_tuner.Objective("val_accuracy", "max")])
def test_objectives_the_trials_log_are_accepted(objective):
    NASClassifier(**QUICK, objective=objective)._check_params()


def test_objective_of_user_models_is_not_second_guessed():
    def build(hp):
        return keras.Sequential([keras.layers.Dense(2, activation="softmax")])

    NASClassifier(**{**QUICK, "search_space": build}, objective="val_auc")._check_params()


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_score_with_other_lengths(fitted):
    with pytest.raises(ValueError, match="x and y have different lengths: 40 examples and 30 targets"):
        fitted.score(X, Y[:30])
