"""Supernet layers that are not a plain chain of Keras layers.

`Zero` (DARTS's `none`) and `FactorizedReduce` (`skip_connect` on a stride-2
edge) are candidate operations; `SearchBatchNorm` is the affine-free batch
normalisation every search-time op ends with. All are small registered
layers, so models holding them save and load without `custom_objects` and
without Lambda layers.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import ops


def _spatial(rank: int, what: str) -> None:
    if rank not in (1, 2):
        raise ValueError(f"{what} needs rank=1 (sequences) or rank=2 (images); received rank={rank}.")


@keras.saving.register_keras_serializable(package="keras_nas")
class Zero(keras.layers.Layer):
    """Outputs zeros shaped like a `strides`-strided `"same"` convolution of the input.

    The input is subsampled and multiplied by 0 (as DARTS does) rather than
    replaced by a constant, so the edge keeps a (zero) gradient path and
    optimizers never see a missing gradient.

    Example:

    >>> import numpy as np
    >>> tuple(Zero(strides=2)(np.ones((1, 5, 5, 3), "float32")).shape)
    (1, 3, 3, 3)
    """

    def __init__(self, strides: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.strides = int(strides)

    def call(self, inputs):
        if self.strides > 1:
            spatial = (slice(None, None, self.strides),) * (len(inputs.shape) - 2)
            inputs = inputs[(slice(None), *spatial, slice(None))]
        return inputs * 0.0

    def compute_output_shape(self, input_shape):
        spatial = tuple(None if n is None else math.ceil(n / self.strides) for n in input_shape[1:-1])
        return (input_shape[0], *spatial, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "strides": self.strides}


@keras.saving.register_keras_serializable(package="keras_nas")
class FactorizedReduce(keras.layers.Layer):
    """Halves the spatial size losslessly: ReLU, two stride-2 1x1 convolutions, BN.

    The second convolution sees the input shifted by one step, so together
    the two halves of the output channels read every input position (DARTS's
    skip connection on reduction edges, and its cell preprocessing after a
    reduction cell). `affine=False` is the search-time BatchNormalization.

    Example:

    >>> import numpy as np
    >>> tuple(FactorizedReduce(8)(np.ones((2, 7, 7, 4), "float32")).shape)
    (2, 4, 4, 8)
    """

    def __init__(self, channels: int, rank: int = 2, affine: bool = True, **kwargs):
        super().__init__(**kwargs)
        _spatial(rank, "FactorizedReduce")
        if int(channels) < 2:
            raise ValueError(f"FactorizedReduce needs at least 2 output channels; received channels={channels}.")
        self.channels, self.rank, self.affine = int(channels), int(rank), bool(affine)
        conv = keras.layers.Conv1D if rank == 1 else keras.layers.Conv2D
        half = self.channels // 2
        self.relu = keras.layers.ReLU()
        self.conv_1 = conv(half, 1, strides=2, padding="same", use_bias=False)
        self.conv_2 = conv(self.channels - half, 1, strides=2, padding="same", use_bias=False)
        # Pad at the end, then crop at the start: a one-step shift that keeps the size,
        # so both halves have ceil(n / 2) positions for odd n as well.
        if rank == 1:
            self.pad, self.crop = keras.layers.ZeroPadding1D((0, 1)), keras.layers.Cropping1D((1, 0))
        else:
            self.pad = keras.layers.ZeroPadding2D(((0, 1), (0, 1)))
            self.crop = keras.layers.Cropping2D(((1, 0), (1, 0)))
        self.bn = keras.layers.BatchNormalization(momentum=0.9) if self.affine else SearchBatchNorm()

    def build(self, input_shape):
        # Explicit, so that `layer_kinds` can count the parameters of an unbuilt instance.
        self.conv_1.build(input_shape)
        self.conv_2.build(input_shape)
        self.bn.build(self.compute_output_shape(input_shape))

    def call(self, inputs, training=None):
        x = self.relu(inputs)
        shifted = self.crop(self.pad(x))
        x = ops.concatenate([self.conv_1(x), self.conv_2(shifted)], axis=-1)
        return self.bn(x, training=training)

    def compute_output_shape(self, input_shape):
        spatial = tuple(None if n is None else math.ceil(n / 2) for n in input_shape[1:-1])
        return (input_shape[0], *spatial, self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "rank": self.rank, "affine": self.affine}


@keras.saving.register_keras_serializable(package="keras_nas")
class SearchBatchNorm(keras.layers.Layer):
    """Batch normalisation without scale and offset, as DARTS searches with it, in one fused kernel.

    It computes what `keras.layers.BatchNormalization(center=False,
    scale=False)` computes (batch statistics in training, moving ones in
    inference; the moving variance is the unbiased batch variance), but
    through TensorFlow's fused kernel: about 10 graph nodes for the forward
    and backward pass instead of about 90. A supernet holds hundreds of these
    and its train step traces them twice (architecture and weight step), so
    this cuts the first epoch's tracing and graph setup by more than half.
    Inputs of any rank ≥ 2 are normalised over every axis but the last.

    Example:

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(3.0, 2.0, (64, 5, 4)).astype("float32")
    >>> y = np.asarray(SearchBatchNorm()(x, training=True))
    >>> bool(np.allclose(y.mean(axis=(0, 1)), 0, atol=1e-4)), bool(np.allclose(y.std(axis=(0, 1)), 1, atol=1e-2))
    (True, True)
    """

    def __init__(self, momentum: float = 0.9, epsilon: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self.momentum, self.epsilon = float(momentum), float(epsilon)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.moving_mean = self.add_weight(shape=(channels,), initializer="zeros", trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight(
            shape=(channels,), initializer="ones", trainable=False, name="moving_variance"
        )

    def call(self, inputs, training=None):
        if inputs.dtype not in (tf.float32, tf.float16, tf.bfloat16):  # e.g. float64: no fused kernel
            return self._unfused(inputs, training)
        # The fused kernel takes NHWC only: rows and sequences get unit spatial axes.
        shape = tf.shape(inputs)
        channels = inputs.shape[-1]
        x = tf.reshape(inputs, (-1, 1, 1, channels)) if len(inputs.shape) == 2 else inputs
        if len(inputs.shape) == 3:
            x = tf.expand_dims(x, 1)
        ones, zeros = tf.ones((channels,), "float32"), tf.zeros((channels,), "float32")
        mean, variance = self.moving_mean.value, self.moving_variance.value
        if training:
            y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                x,
                ones,
                zeros,
                mean,
                variance,
                self.epsilon,
                is_training=True,
                exponential_avg_factor=1.0 - self.momentum,
            )
            self.moving_mean.assign(mean)
            self.moving_variance.assign(variance)
        else:
            y, _, _ = tf.compat.v1.nn.fused_batch_norm(x, ones, zeros, mean, variance, self.epsilon, is_training=False)
        return tf.reshape(y, shape) if len(inputs.shape) != 4 else y

    def _unfused(self, inputs, training):
        if training:
            axes = list(range(len(inputs.shape) - 1))
            mean, variance = tf.nn.moments(inputs, axes)
            count = tf.cast(tf.reduce_prod(tf.shape(inputs)[:-1]), variance.dtype)
            unbiased = variance * count / tf.maximum(count - 1.0, 1.0)
            for moving, batch in ((self.moving_mean, mean), (self.moving_variance, unbiased)):
                moving.assign(self.momentum * moving.value + (1.0 - self.momentum) * tf.cast(batch, moving.dtype))
        else:
            mean = tf.cast(self.moving_mean.value, inputs.dtype)
            variance = tf.cast(self.moving_variance.value, inputs.dtype)
        return (inputs - mean) * tf.math.rsqrt(variance + self.epsilon)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}
