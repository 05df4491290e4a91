"""Checking and converting user data: numpy arrays, pandas objects and `tf.data` datasets.

Every check raises a `ValueError` that says what was received and what was
expected. `tf.data` datasets are read once into memory: keras_nas targets
datasets that fit in memory, and the search trains many models on them.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf


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


def check_x(x: Any, name: str = "x") -> tuple[np.ndarray, list[str] | None]:
    """Returns x as a float32 array of rank 2, 3 or 4 (batch first) and its column names if any."""
    columns = None
    if hasattr(x, "columns") and hasattr(x, "dtypes"):  # pandas DataFrame
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        bad = [str(c) for c, dtype in zip(x.columns, x.dtypes) if not (is_numeric_dtype(dtype) or is_bool_dtype(dtype))]
        if bad:
            raise ValueError(f"{name} has non-numeric columns {bad}; encode them as numbers first.")
        columns = [str(c) for c in x.columns]
        x = x.to_numpy()
    elif hasattr(x, "to_numpy"):  # pandas Series
        x = x.to_numpy()
    try:
        array = np.asarray(x)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{name} could not be read as an array: {error}") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise ValueError(f"{name} must hold numbers; received an array of dtype {array.dtype}.")
    if array.ndim not in (2, 3, 4):
        raise ValueError(
            f"{name} must have 2 dimensions (samples, features), 3 (samples, steps, channels) or 4 "
            f"(samples, height, width, channels); received shape {array.shape}."
        )
    if array.shape[0] == 0 or array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); expected at least one example.")
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        bad = int(np.sum(~np.isfinite(array)))
        raise ValueError(f"{name} contains {bad} NaN or infinite values; impute or drop them first.")
    return array, columns


def _as_array(y: Any, name: str) -> np.ndarray:
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    array = np.asarray(y)
    if array.size == 0:
        raise ValueError(f"{name} is empty; expected one target per example.")
    return array


def check_lengths(x: np.ndarray, y: np.ndarray, x_name: str = "x", y_name: str = "y") -> None:
    if len(x) != len(y):
        raise ValueError(f"{x_name} and {y_name} have different lengths: {len(x)} examples and {len(y)} targets.")


def is_one_hot(y: np.ndarray) -> bool:
    return (
        y.ndim == 2
        and y.shape[1] > 1
        and np.issubdtype(y.dtype, np.number)
        and bool(np.all((y == 0) | (y == 1)))
        and bool(np.all(y.sum(axis=1) == 1))
    )


def check_class_labels(y: Any, name: str = "y") -> np.ndarray:
    """Returns class labels as a 1-D array (one-hot rows become column indices)."""
    array = _as_array(y, name)
    if is_one_hot(array):
        return array.argmax(axis=1)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            f"{name} for classification must be 1-D labels or one-hot rows; received shape {array.shape}."
        )
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite labels.")
    if array.dtype == object and any(v is None or (isinstance(v, float) and not np.isfinite(v)) for v in array):
        raise ValueError(f"{name} contains missing labels (None or NaN).")
    return array


def check_regression_targets(y: Any, name: str = "y") -> np.ndarray:
    """Returns regression targets as a float32 array of shape (n,) or (n, k)."""
    array = _as_array(y, name)
    if array.ndim not in (1, 2):
        raise ValueError(f"{name} for regression must be 1-D or 2-D; received shape {array.shape}.")
    try:
        array = array.astype(np.float32)
    except (ValueError, TypeError):
        raise ValueError(f"{name} for regression must be numeric; received dtype {array.dtype}.") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains {int(np.sum(~np.isfinite(array)))} NaN or infinite values.")
    return array


def moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance per feature (tabular) or per channel (sequences, images)."""
    axes = tuple(range(x.ndim - 1))
    return x.mean(axis=axes).astype(np.float32), x.var(axis=axes).astype(np.float32)


def standardize(x: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """(x - mean) / std, exactly as `keras.layers.Normalization(mean=..., variance=...)` computes it."""
    return ((x - mean) / np.maximum(np.sqrt(variance), keras.config.epsilon())).astype(np.float32)
