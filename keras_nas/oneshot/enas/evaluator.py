"""`SharedWeightEvaluator`: a cheap score of any ENAS child, with the space's shared weights as they are.

Also the score itself (`objective`: the head's loss and a higher-is-better
reward) and the array and tensor-spec conversions that `ENASSearch` shares with
it. TensorFlow backend (`tf.function`).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_nas.architecture import Architecture, Head


def objective(head: Head, y, y_pred):
    """(loss, reward): the head's loss and, higher-is-better, accuracy or -loss."""
    if head.task == "classification":
        loss = ops.mean(keras.losses.sparse_categorical_crossentropy(y, y_pred))
        labels = ops.cast(ops.reshape(y, (-1,)), "int32")
        reward = ops.mean(ops.cast(ops.argmax(y_pred, axis=-1) == labels, "float32"))
        return loss, reward
    loss = ops.mean(ops.square(ops.cast(ops.reshape(y, ops.shape(y_pred)), y_pred.dtype) - y_pred))
    return loss, -loss


class SharedWeightEvaluator:
    """Scores children of an ENAS space with its shared weights: a cheap estimate of how good each is.

    A child is an arc of the space or an `Architecture` that the space's
    `to_architecture` makes. Its score is its accuracy (classification) or
    negative mean squared error (regression) on `(x, y)`, with the shared
    weights as they are; BatchNormalization uses each batch's statistics, as
    a child's moving averages would be mixed with other children's. Nothing is
    updated. One compiled function serves every child, since the arc is a
    tensor argument.

    Example (after a search): `search.evaluator.score(architecture, x_val, y_val)`.
    """

    def __init__(self, model: keras.Model, batch_size: int = 256):
        self.model, self.space, self.batch_size = model, model.space, int(batch_size)
        self._function = None

    def _batch_scores(self, x, y, arc):
        trainable = [v.value for v in self.model.trainable_variables]
        non_trainable = [v.value for v in self.model.non_trainable_variables]
        y_pred, _ = self.model.stateless_call(trainable, non_trainable, x, arc, training=True)
        loss, reward = objective(self.model.output_head, y, y_pred)
        return loss, reward

    def batch_function(self, x_spec, y_spec):
        """The compiled `(x, y, arc) -> (loss, reward)` of one batch (traced once per input signature)."""
        arc_spec = tf.TensorSpec((self.space.arc_length,), tf.int32)
        key = (x_spec, y_spec)
        if self._function is None or self._function[0] != key:
            signature = [x_spec, y_spec, arc_spec]
            self._function = (key, tf.function(self._batch_scores, input_signature=signature, autograph=False))
        return self._function[1]

    def score(self, child: Sequence[int] | Architecture, x, y) -> float:
        """The child's accuracy, or negative mean squared error, on `(x, y)` (batch-size-weighted mean)."""
        arc = self.space.arc_of(child) if isinstance(child, Architecture) else self.space.check_arc(child)
        x, y = as_arrays(x, y, self.model.output_head)
        if not len(x):
            raise ValueError("Scoring a child needs at least one example; received none.")
        function = self.batch_function(*input_specs(x, y))
        arc = tf.constant(arc, tf.int32)
        total = 0.0
        for start in range(0, len(x), self.batch_size):
            stop = min(start + self.batch_size, len(x))
            _, reward = function(x[start:stop], y[start:stop], arc)
            total += float(reward) * (stop - start)
        return total / len(x)


def as_arrays(x, y, head: Head):
    """`(x, y)` as float32 arrays (integer labels for classification), or a ValueError if their lengths differ."""
    x = np.asarray(x, dtype="float32")
    y = np.asarray(y, dtype="int32" if head.task == "classification" else "float32")
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} and {len(y)}.")
    return x, y


def input_specs(x, y) -> tuple[tf.TensorSpec, tf.TensorSpec]:
    """The `tf.TensorSpec`s of batches of `x` and `y` (any batch size): one trace serves every batch."""
    return (
        tf.TensorSpec((None, *x.shape[1:]), tf.float32),
        tf.TensorSpec((None, *y.shape[1:]), tf.int32 if y.dtype == np.int32 else tf.float32),
    )
