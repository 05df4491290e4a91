"""Checking and converting user data: numpy arrays, pandas objects and `tf.data` datasets.

Every check raises a `ValueError` that says what was received and what was
expected. Conversion, emptiness and NaN/infinity checks are scikit-learn's
`check_array`; what it lets through (dates, durations, ranks above 4, values
beyond float32) or cannot name (DataFrame columns) is checked here.
`tf.data` datasets are read once into memory: keras_nas targets datasets that
fit in memory, and the search trains many models on them.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array

FLOAT32_MAX = float(np.finfo(np.float32).max)


def is_dataset(data: Any) -> bool:
    return isinstance(data, tf.data.Dataset)


def _stack(parts: list[np.ndarray], batched: bool) -> np.ndarray:
    return np.concatenate(parts) if batched else np.stack(parts)


def read_dataset(dataset: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray | None]:
    """Reads a dataset of `(x, y)` or `x` elements, batched or not, into arrays."""
    spec = dataset.element_spec
    pairs = isinstance(spec, tuple)
    if pairs and len(spec) not in (1, 2, 3):
        raise ValueError(f"A tf.data dataset must yield x or (x, y) elements; received elements {spec}.")
    x_spec = spec[0] if pairs else spec
    if not isinstance(x_spec, tf.TensorSpec):
        raise ValueError(f"A tf.data dataset must yield single tensors as x; received {x_spec}.")
    batched = x_spec.shape.rank is not None and x_spec.shape.rank > 0 and x_spec.shape[0] is None
    xs, ys = [], []
    for element in dataset.as_numpy_iterator():
        xs.append(element[0] if pairs else element)
        if pairs and len(element) > 1:
            ys.append(element[1])
    if not xs:
        raise ValueError("The tf.data dataset is empty; expected at least one example.")
    return _stack(xs, batched), (_stack(ys, batched) if ys else None)


def is_frame(x: Any) -> bool:
    return hasattr(x, "columns") and hasattr(x, "dtypes")


def _check_dtype(dtype: np.dtype, name: str) -> None:
    """Rejects the numpy dtypes that would silently become wrong numbers."""
    if dtype.kind in "mM":
        raise ValueError(
            f"{name} holds dates or durations (dtype {dtype}); keras_nas needs plain numbers: convert them first, "
            "e.g. to seconds with (t - t.min()) / np.timedelta64(1, 's')."
        )
    if dtype.kind == "c":
        raise ValueError(
            f"{name} holds complex numbers (dtype {dtype}); keras_nas needs real numbers and would drop the "
            f"imaginary parts: pass np.real({name}) and np.imag({name}) as separate features, or np.abs({name})."
        )


def _check_columns(frame: Any, name: str) -> None:
    """Names the DataFrame columns that cannot become features."""
    import pandas as pd
    from pandas.api.types import is_bool_dtype, is_complex_dtype, is_numeric_dtype

    def columns(test) -> dict[str, str]:
        return {str(c): str(dtype) for c, dtype in zip(frame.columns, frame.dtypes, strict=True) if test(dtype)}

    temporal = columns(lambda d: d.kind in "mM" or isinstance(d, pd.PeriodDtype))
    if temporal:
        raise ValueError(
            f"{name} has date or time columns {list(temporal)} (dtypes {list(temporal.values())}); keras_nas needs "
            "numbers: convert them first, e.g. to seconds with (df[c] - df[c].min()).dt.total_seconds() or to "
            "calendar features such as df[c].dt.dayofweek."
        )
    complex_ = columns(is_complex_dtype)
    if complex_:
        raise ValueError(
            f"{name} has complex columns {list(complex_)}; keras_nas needs real numbers and would drop the imaginary "
            "parts: split each into real and imaginary columns (np.real, np.imag) or take np.abs."
        )
    text = columns(lambda d: not (is_numeric_dtype(d) or is_bool_dtype(d)))
    if text:
        raise ValueError(
            f"{name} has non-numeric columns {list(text)} (dtypes {list(text.values())}); encode them as numbers "
            "first, e.g. with sklearn.preprocessing.OneHotEncoder or OrdinalEncoder."
        )
    missing = {str(c): int(n) for c, n in frame.isna().sum().items() if n}
    if missing:
        raise ValueError(
            f"{name} has missing values (NaN, None or pd.NA) in columns {missing} (column: count); impute them "
            "(e.g. sklearn.impute.SimpleImputer) or drop those rows first."
        )


def _check_float32_range(array: np.ndarray, name: str) -> None:
    """Finite values beyond float32's range would become infinite in training."""
    if array.dtype.kind != "f" or array.dtype.itemsize <= 4:
        return
    beyond = np.abs(array) > FLOAT32_MAX
    if beyond.any():
        index = tuple(int(i) for i in np.argwhere(beyond)[0])
        raise ValueError(
            f"{name} has {int(beyond.sum())} finite values beyond float32's range (|value| > {FLOAT32_MAX:.3g}), "
            f"e.g. {float(array[index]):g} at index {index}; keras_nas trains in float32, where they overflow to "
            f"infinity: rescale {name} first (e.g. divide by a power of ten or take a logarithm)."
        )


def check_x(x: Any, name: str = "x") -> np.ndarray:
    """Returns x (an array, DataFrame or nested lists) as a float32 array of rank 2, 3 or 4, batch first."""
    if is_frame(x):
        _check_columns(x, name)
    else:
        if hasattr(x, "to_numpy"):  # a pandas Series
            x = x.to_numpy()
        try:
            x = np.asarray(x)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{name} could not be read as an array: {error}") from None
        _check_dtype(x.dtype, name)
        if x.ndim not in (2, 3, 4):
            raise ValueError(
                f"{name} must have 2 dimensions (samples, features), 3 (samples, steps, channels) or 4 "
                f"(samples, height, width, channels); received shape {x.shape}. A single feature is "
                f"{name}.reshape(-1, 1), a single example {name}.reshape(1, -1)."
            )
    try:
        array = check_array(x, dtype="numeric", allow_nd=True, input_name=name)
    except ValueError as error:
        raise ValueError(
            f"{name} was rejected: {error} Expected finite real numbers: encode text as numbers and impute or drop "
            "missing values first."
        ) from None
    if array.size == 0:  # check_array counts features of 2-D arrays only
        raise ValueError(f"{name} is empty (shape {array.shape}); expected at least one example with features.")
    _check_float32_range(array, name)
    return array.astype(np.float32)


def _as_array(y: Any, name: str) -> np.ndarray:
    if hasattr(y, "isna"):  # pandas: pd.NA would otherwise hide in an object array
        missing = int(np.asarray(y.isna()).sum())
        if missing:
            raise ValueError(
                f"{name} has {missing} missing values (NaN, None or pd.NA); drop those rows or fill them first."
            )
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    array = np.asarray(y)
    if array.size == 0:
        raise ValueError(f"{name} is empty; expected one target per example.")
    return array


def check_lengths(x: np.ndarray, y: np.ndarray, x_name: str = "x", y_name: str = "y") -> None:
    if len(x) != len(y):
        raise ValueError(
            f"{x_name} and {y_name} have different lengths: {len(x)} examples and {len(y)} targets; pass one target "
            "per example."
        )


def check_class_labels(y: Any, name: str = "y") -> np.ndarray:
    """Returns class labels as a 1-D array (one-hot rows become column indices)."""
    array = _as_array(y, name)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    elif array.ndim == 2 and array.dtype.kind in "biuf" and np.all((array == 0) | (array == 1)):
        ones = array.sum(axis=1)
        bad = np.flatnonzero(ones != 1)
        if bad.size:
            raise ValueError(
                f"{name} row {int(bad[0])} is not one-hot: it holds {int(ones[bad[0]])} ones ({bad.size} such rows); "
                "one-hot rows hold exactly one 1. Fix those rows, or pass 1-D class labels (multi-label targets "
                "are not supported)."
            )
        return array.argmax(axis=1)
    if array.ndim != 1:
        raise ValueError(f"{name} for classification must be 1-D labels or one-hot rows; received shape {array.shape}.")
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite labels; drop those examples or fill their labels first.")
    if array.dtype == object and any(v is None or (isinstance(v, float) and not np.isfinite(v)) for v in array):
        raise ValueError(
            f"{name} contains missing labels (None or NaN); drop those examples or fill their labels first."
        )
    _check_dtype(array.dtype, name)
    kind = type_of_target(array, input_name=name)
    if kind == "continuous":
        examples = ", ".join(f"{v:g}" for v in np.unique(array)[:3])
        raise ValueError(
            f"{name} looks continuous ({len(np.unique(array))} distinct non-integer values in {len(array)} rows, "
            f"e.g. {examples}); NASClassifier needs class labels. Use NASRegressor for a continuous target, or "
            "bin it into classes first (e.g. with np.digitize)."
        )
    if kind == "unknown":
        types = sorted({type(v).__name__ for v in array})
        raise ValueError(
            f"{name} holds labels of types {types}, which cannot be classes; pass labels of one kind "
            "(all integers or all strings)."
        )
    return array


def check_regression_targets(y: Any, name: str = "y") -> np.ndarray:
    """Returns regression targets as a float32 array of shape (n,) or (n, k)."""
    array = _as_array(y, name)
    if array.ndim not in (1, 2):
        raise ValueError(f"{name} for regression must be 1-D or 2-D; received shape {array.shape}.")
    _check_dtype(array.dtype, name)
    try:
        array = array.astype(np.float64)
    except (ValueError, TypeError):
        raise ValueError(
            f"{name} for regression must be numeric; received dtype {array.dtype}. Convert the targets to numbers."
        ) from None
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f"{name} contains {int(np.sum(~np.isfinite(array)))} NaN or infinite values; drop those examples first."
        )
    _check_float32_range(array, name)
    return array.astype(np.float32)


def moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance per feature (tabular) or per channel (sequences, images)."""
    axes = tuple(range(x.ndim - 1))
    return x.mean(axis=axes).astype(np.float32), x.var(axis=axes).astype(np.float32)


def standardize(x: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """(x - mean) / std, exactly as `keras.layers.Normalization(mean=..., variance=...)` computes it."""
    return ((x - mean) / np.maximum(np.sqrt(variance), keras.config.epsilon())).astype(np.float32)
