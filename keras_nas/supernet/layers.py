"""The two candidate operations that are not a plain chain of Keras layers.

`Zero` (DARTS's `none`) and `FactorizedReduce` (`skip_connect` on a stride-2
edge) are small registered layers, so models holding them save and load
without `custom_objects` and without Lambda layers.
"""

from __future__ import annotations

import math

import keras
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
        self.bn = keras.layers.BatchNormalization(momentum=0.9, center=self.affine, scale=self.affine)

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
