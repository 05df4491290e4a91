"""Pairing training and validation batches for a bi-level train step."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf


def _batches(data: Any, batch_size: int, seed: int | None) -> tf.data.Dataset:
    if isinstance(data, tf.data.Dataset):
        return data  # already batched, as `fit` expects datasets
    x, y = data
    dataset = tf.data.Dataset.from_tensor_slices((np.asarray(x), np.asarray(y)))
    return dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(batch_size)


def bilevel_dataset(train: Any, val: Any, batch_size: int = 64, seed: int | None = None) -> tf.data.Dataset:
    """Zips each training batch with a validation batch: elements `((x_train, y_train), (x_val, y_val))`.

    `train` and `val` are `(x, y)` array pairs (shuffled and batched here) or
    batched `tf.data.Dataset`s. The validation stream repeats, so one epoch
    is one pass over the training data, as in DARTS.

    Example:

    >>> x, y = np.zeros((10, 4), "float32"), np.zeros(10, "int32")
    >>> dataset = bilevel_dataset((x, y), (x[:3], y[:3]), batch_size=4)
    >>> [(tuple(t.shape), tuple(v.shape)) for (t, _), (v, _) in dataset]
    [((4, 4), (3, 4)), ((4, 4), (3, 4)), ((2, 4), (3, 4))]
    """
    train_batches = _batches(train, batch_size, seed)
    val_batches = _batches(val, batch_size, None if seed is None else seed + 1).repeat()
    return tf.data.Dataset.zip((train_batches, val_batches)).prefetch(tf.data.AUTOTUNE)
