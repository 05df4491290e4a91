"""The built-in layer kinds: dense, conv, pool, global_pool, flatten, batch_norm, dropout, activation,
identity, and `keras` (any other Keras layer, kept whole).

Importing this module registers them, in that order (the order of `names()`):
`dense_conv` (the kinds with a width), `channel_wise` (those that treat each
channel on its own), then `keras_layer`.
"""

# Registration order is import order: the splits keep isort from reordering these.
from keras_nas.architecture.kinds.dense_conv import Conv, Dense

# isort: split
from keras_nas.architecture.kinds.channel_wise import (
    Activation,
    BatchNorm,
    Dropout,
    Flatten,
    GlobalPool,
    Identity,
    Pool,
)

# isort: split
from keras_nas.architecture.kinds.keras_layer import KerasLayer, keras_layer_spec

__all__ = [
    "Activation",
    "BatchNorm",
    "Conv",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalPool",
    "Identity",
    "KerasLayer",
    "Pool",
    "keras_layer_spec",
]
