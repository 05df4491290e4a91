"""Generated bad input: every case raises a ValueError or TypeError naming the argument, before any training.

One tiny classifier is fitted per module for the predict, score, evaluate and
export cases; every other case is rejected by `fit` before its search starts.
"""
import re
import string

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from keras_nas import NASClassifier, NASRegressor
from keras_nas.estimators.params import REFITS
from keras_nas.estimators.export import FORMATS
from keras_nas.search.oracles import ORACLES
from keras_nas.spaces import SPACES

pd = pytest.importorskip("pandas")

COLUMNS = ["a", "b", "c", "d", "e"]
QUICK = dict(oracle="random", search_space="dense", max_trials=1, epochs=1, seed=0)
X = np.random.default_rng(0).normal(size=(40, 5)).astype("float32")
Y = np.arange(40) % 2
FRAME = pd.DataFrame(X, columns=COLUMNS)
# The names the trials of a classifier log (see `Head`); any other objective is rejected.
OBJECTIVES = {"loss", "accuracy", "val_loss", "val_accuracy"}


def generated(examples: int):
    # derandomize: the same cases on every run; the autouse seed fixture is function-scoped but harmless here.
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def rejects(call, argument: str) -> None:
    """Asserts that `call()` raises a ValueError or TypeError whose message names `argument`."""
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    named = re.search(rf"(?<!\w){re.escape(argument)}(?!\w)", str(info.value))
    assert named, f"the message does not name {argument!r}: {info.value}"


def labels(n: int) -> np.ndarray:
    return np.arange(n) % 2


@pytest.fixture(scope="module")
def fitted():
    return NASClassifier(**QUICK).fit(FRAME, Y)


# -- fit: x -------------------------------------------------------------
wrong_rank = hnp.array_shapes(min_dims=1, max_dims=1, min_side=1, max_side=50) | hnp.array_shapes(
    min_dims=5, max_dims=6, min_side=1, max_side=3
)


@generated(12)
@given(x=hnp.arrays(np.float64, wrong_rank, elements=st.floats(-10, 10)))
def test_fit_x_of_wrong_rank(x):
    rejects(lambda: NASClassifier(**QUICK).fit(x, labels(len(x))), "x")


@generated(12)
@given(
    row=st.integers(0, 39),
    column=st.integers(0, 4),
    value=st.sampled_from([np.nan, np.inf, -np.inf]),
    frame=st.booleans(),
)
def test_fit_x_with_nan_or_infinity(row, column, value, frame):
    x = X.astype("float64")
    x[row, column] = value
    rejects(lambda: NASClassifier(**QUICK).fit(pd.DataFrame(x, columns=COLUMNS) if frame else x, Y), "x")


@generated(8)
@given(row=st.integers(0, 39), value=st.floats(3.5e38, 1e308), sign=st.sampled_from([1.0, -1.0]))
def test_fit_x_beyond_float32(row, value, sign):
    x = X.astype("float64")
    x[row, 2] = sign * value
    rejects(lambda: NASClassifier(**QUICK).fit(x, Y), "x")


@generated(12)
@given(
    dtype=st.sampled_from(["U3", "S2", "complex64", "complex128", "datetime64[s]", "timedelta64[ms]", "object"]),
    shape=hnp.array_shapes(min_dims=2, max_dims=4, min_side=2, max_side=4),
)
def test_fit_x_of_wrong_dtype(dtype, shape):
    x = np.ones(shape, dtype=dtype)
    if dtype == "object":
        x.flat[0] = "text"
    rejects(lambda: NASClassifier(**QUICK).fit(x, labels(len(x))), "x")


@generated(8)
@given(shape=hnp.array_shapes(min_dims=2, max_dims=4, min_side=0, max_side=4).filter(lambda s: 0 in s))
def test_fit_empty_x(shape):
    rejects(lambda: NASClassifier(**QUICK).fit(np.zeros(shape), labels(shape[0])), "x")


@generated(12)
@given(
    column=st.sampled_from(COLUMNS),
    kind=st.sampled_from(["text", "category", "date", "duration", "period", "complex", "Int64 NA", "NaN"]),
    row=st.integers(0, 39),
)
def test_fit_dataframe_with_a_bad_column(column, kind, row):
    frame = FRAME.copy()
    if kind == "text":
        frame[column] = "word"
    elif kind == "category":
        frame[column] = pd.Categorical(["u", "v"] * 20)
    elif kind == "date":
        frame[column] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(40), unit="D")
    elif kind == "duration":
        frame[column] = pd.to_timedelta(np.arange(40), unit="s")
    elif kind == "period":
        frame[column] = pd.period_range("2024-01", periods=40, freq="M")
    elif kind == "complex":
        frame[column] = frame[column] + 1j
    else:
        values = pd.array(np.arange(40), dtype="Int64" if kind == "Int64 NA" else "float64")
        values[row] = pd.NA if kind == "Int64 NA" else np.nan
        frame[column] = values
    rejects(lambda: NASClassifier(**QUICK).fit(frame, Y), "x")


# -- fit: y -------------------------------------------------------------
def _nan_labels(draw):
    y = Y.astype("float64")
    y[draw(st.integers(0, 39))] = draw(st.sampled_from([np.nan, np.inf]))
    return y


def _non_one_hot(draw):
    classes = draw(st.integers(2, 4))
    y = np.eye(classes)[np.arange(40) % classes]
    row = draw(st.integers(0, 39))
    y[row] = draw(st.sampled_from(["zeros", "ones"])) == "ones"
    return y


def _missing_labels(draw):
    y = pd.Series(pd.array(Y, dtype=draw(st.sampled_from(["Int64", "object"]))))
    y[draw(st.integers(0, 39))] = draw(st.sampled_from([None, pd.NA]))
    return y


@st.composite
def bad_class_labels(draw):
    kind = draw(st.sampled_from(["nan", "continuous", "length", "one class", "one-hot", "rank", "missing"]))
    if kind == "nan":
        return _nan_labels(draw)
    if kind == "continuous":
        y = np.array(draw(st.lists(st.floats(-1e3, 1e3), min_size=40, max_size=40)))
        y[draw(st.integers(0, 39))] += 0.5  # at least one non-integer value
        return y
    if kind == "length":
        return labels(draw(st.integers(2, 80).filter(lambda n: n != 40)))
    if kind == "one class":
        return np.full(40, draw(st.integers(-5, 5)))
    if kind == "one-hot":
        return _non_one_hot(draw)
    if kind == "rank":
        return np.zeros((40, 2, draw(st.integers(1, 3))))
    return _missing_labels(draw)


@generated(30)
@given(y=bad_class_labels())
def test_fit_bad_class_labels(y):
    rejects(lambda: NASClassifier(**QUICK).fit(X, y), "y")


@st.composite
def bad_regression_targets(draw):
    kind = draw(st.sampled_from(["nan", "overflow", "text", "rank", "length", "dates"]))
    y = np.arange(40.0)
    if kind == "nan":
        y[draw(st.integers(0, 39))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    elif kind == "overflow":
        y[draw(st.integers(0, 39))] = draw(st.floats(3.5e38, 1e308))
    elif kind == "text":
        y = np.array(draw(st.lists(st.text(string.ascii_letters, min_size=1), min_size=40, max_size=40)))
    elif kind == "rank":
        y = np.zeros((40, 2, draw(st.integers(1, 3))))
    elif kind == "length":
        y = np.arange(float(draw(st.integers(1, 80).filter(lambda n: n != 40))))
    else:
        y = y.astype("timedelta64[s]")
    return y


@generated(15)
@given(y=bad_regression_targets())
def test_fit_bad_regression_targets(y):
    rejects(lambda: NASRegressor(**QUICK).fit(X, y), "y")


# -- fit: parameters ----------------------------------------------------
text = st.text(max_size=12)
non_positive = st.integers(max_value=0) | st.floats(allow_nan=True) | text
BAD_PARAMETERS = {
    "seed": text | st.integers(max_value=-1) | st.integers(min_value=2**32) | st.floats() | st.booleans(),
    "verbose": st.integers().filter(lambda v: v not in (0, 1, 2)) | text | st.floats(0.1, 0.9),
    "validation_split": st.floats().filter(lambda v: not 0 < v < 1) | text | st.booleans(),
    "max_trials": non_positive,
    "epochs": non_positive,
    "batch_size": non_positive,
    "patience": non_positive,
    "objective": text.filter(lambda v: v not in OBJECTIVES) | st.integers(),
    "callbacks": st.integers() | text.filter(bool) | st.just(keras.callbacks.EarlyStopping())
    | st.lists(st.integers() | text, min_size=1, max_size=3),
    "oracle": text.filter(lambda v: v not in ORACLES),
    "refit": text.filter(lambda v: v not in REFITS),
    "search_space": text.filter(lambda v: v != "auto" and v not in SPACES) | st.integers(),
}


@generated(45)
@given(case=st.sampled_from(sorted(BAD_PARAMETERS)).flatmap(lambda name: st.tuples(st.just(name), BAD_PARAMETERS[name])))
def test_fit_bad_parameters(case):
    name, value = case
    clf = NASClassifier(**{**QUICK, name: value})
    rejects(lambda: clf.fit(X, Y), name)
    assert not hasattr(clf, "tuner_")  # rejected before any search


@st.composite
def bad_validation_data(draw):
    kind = draw(st.sampled_from(["length", "unseen", "features", "order", "not a pair"]))
    if kind == "length":
        n = draw(st.integers(1, 20))
        return (X[:n], labels(n + draw(st.integers(1, 5)))), "x_val"
    if kind == "unseen":
        y = labels(10)
        y[draw(st.integers(0, 9))] = draw(st.integers(2, 100))
        return (X[:10], y), "y_val"
    if kind == "features":
        k = draw(st.integers(1, 9).filter(lambda k: k != 5))
        return (np.zeros((10, k)), labels(10)), "x_val"
    if kind == "order":
        order = draw(st.permutations(COLUMNS).filter(lambda p: list(p) != COLUMNS))
        return (FRAME[list(order)][:10], labels(10)), "x_val"
    return draw(st.sampled_from([X[:10], (X[:10],), [X[:10], Y[:10], Y[:10]]])), "validation_data"


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
@generated(15)
@given(case=bad_validation_data())
def test_fit_bad_validation_data(case):
    validation_data, argument = case
    rejects(lambda: NASClassifier(**QUICK, validation_data=validation_data).fit(FRAME, Y), argument)


# -- predict, predict_proba, score, evaluate on a fitted estimator ------
@st.composite
def bad_x_for_fitted(draw):
    kind = draw(st.sampled_from(["features", "order", "renamed", "missing column", "nan", "rank"]))
    n = draw(st.integers(1, 40))
    if kind == "features":
        return np.zeros((n, draw(st.integers(1, 12).filter(lambda k: k != 5))))
    if kind == "order":
        return FRAME[list(draw(st.permutations(COLUMNS).filter(lambda p: list(p) != COLUMNS)))][:n]
    if kind == "renamed":
        renamed = draw(st.text(string.ascii_letters, min_size=1, max_size=6).filter(lambda c: c not in COLUMNS))
        return FRAME[:n].rename(columns={draw(st.sampled_from(COLUMNS)): renamed})
    if kind == "missing column":
        return FRAME[:n].drop(columns=draw(st.sampled_from(COLUMNS)))
    if kind == "nan":
        frame = FRAME[:n].copy()
        frame.iloc[draw(st.integers(0, n - 1)), draw(st.integers(0, 4))] = np.nan
        return frame
    return np.zeros(draw(wrong_rank))


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
@generated(30)
@given(x=bad_x_for_fitted(), method=st.sampled_from(["predict", "predict_proba"]))
def test_predict_bad_x(fitted, x, method):
    rejects(lambda: getattr(fitted, method)(x), "x")


@st.composite
def bad_scoring_data(draw):
    kind = draw(st.sampled_from(["x", "length", "nan", "continuous", "unseen"]))
    if kind == "x":
        x = draw(bad_x_for_fitted())
        return x, labels(len(x)), "x", draw(st.sampled_from(["score", "evaluate"]))
    y = Y.astype("float64")
    if kind == "length":
        n = draw(st.integers(1, 80).filter(lambda n: n != 40))
        return FRAME, labels(n), "y", draw(st.sampled_from(["score", "evaluate"]))
    if kind == "nan":
        y[draw(st.integers(0, 39))] = np.nan
    elif kind == "continuous":
        y[draw(st.integers(0, 39))] = draw(st.floats(0.01, 0.99))
    else:  # accuracy simply counts labels never predicted as wrong; evaluate cannot encode them
        y[draw(st.integers(0, 39))] = draw(st.integers(2, 1000))
        return FRAME, y, "y", "evaluate"
    return FRAME, y, "y", draw(st.sampled_from(["score", "evaluate"]))


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
@generated(25)
@given(case=bad_scoring_data())
def test_score_and_evaluate_bad_data(fitted, case):
    x, y, argument, method = case
    rejects(lambda: getattr(fitted, method)(x, y), argument)


# -- export -------------------------------------------------------------
@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("exports")


@generated(12)
@given(
    kind=st.sampled_from(["format", "file", "foreign directory"]),
    name=st.text(string.ascii_lowercase, min_size=1, max_size=8),
)
def test_export_bad_arguments(fitted, export_dir, kind, name):
    path = export_dir / name
    if kind == "format":
        format = name if name not in FORMATS else name + "x"
        rejects(lambda: fitted.export(path, format=format), "format")
        assert not path.exists()
        return
    if kind == "file":
        path.with_suffix(".txt").write_text("not a model")
        path = path.with_suffix(".txt")
    else:
        path = path.with_suffix(".dir")
        path.mkdir(exist_ok=True)
        (path / "notes.txt").write_text("someone's files")
    rejects(lambda: fitted.export(path), "path")
    assert path.exists()
