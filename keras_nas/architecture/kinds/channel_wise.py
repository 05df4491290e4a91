"""The built-in channel-wise kinds: `pool`, `global_pool`, `flatten`, `batch_norm`, `dropout`, `activation` and
`identity`, which treat each channel on its own (`LayerKind.channel_wise`)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import keras
import numpy as np

from keras_nas.architecture.architecture import Layer
from keras_nas.architecture.kinds.base import LayerKind, register_kind
from keras_nas.architecture.kinds.shared import activation_name, common_size, spatial_rank, strided


@register_kind
class Pool(LayerKind):
    name = "pool"
    defaults: ClassVar[dict[str, Any]] = {"pool": "max", "size": 2}
    numeric = ("size", "strides")
    categorical = ("pool",)
    channel_wise = True

    def from_keras(self, layer):
        name, config = type(layer).__name__, layer.get_config()
        if name not in ("MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D"):
            return None
        size, strides = common_size(config["pool_size"]), common_size(config["strides"])
        if config["padding"] != "same" or None in (size, strides):
            return None
        return Layer.of("pool", pool="max" if name.startswith("Max") else "avg", size=size, strides=strides)

    def non_negative(self, layer, input_non_negative):
        return input_non_negative

    def value(self, layer, key):
        return self.stride(layer) if key == "strides" else super().value(layer, key)

    def output_shape(self, layer, shape):
        spatial_rank(shape, self.name)
        return strided(shape, self.stride(layer))

    def canonical(self, params):
        params = super().canonical(params)
        if params.get("strides") == params.get("size", 2):
            del params["strides"]
        return params

    def stride(self, layer):
        return int(layer.get("strides", layer.get("size", 2)))

    def to_keras(self, layer, shape, name):
        rank = spatial_rank(shape, self.name)
        pool = layer.get("pool", "max")
        classes = {
            ("max", 1): keras.layers.MaxPooling1D,
            ("max", 2): keras.layers.MaxPooling2D,
            ("avg", 1): keras.layers.AveragePooling1D,
            ("avg", 2): keras.layers.AveragePooling2D,
        }
        if (pool, rank) not in classes:
            raise ValueError(f"Pool must be 'max' or 'avg'; received pool={pool!r}.")
        return classes[pool, rank](int(layer.get("size", 2)), strides=self.stride(layer), padding="same", name=name)

    def describe(self, layer):
        return f"{layer.get('pool', 'max')}pool{layer.get('size', 2)}"

    def examples(self):
        return [
            ([Layer.of("pool", pool="max")], (9, 9, 2)),
            ([Layer.of("pool", pool="avg", size=3, strides=2)], (10, 3)),
        ]


@register_kind
class GlobalPool(LayerKind):
    name = "global_pool"
    defaults: ClassVar[dict[str, Any]] = {"pool": "avg"}
    categorical = ("pool",)
    channel_wise = True

    def from_keras(self, layer):
        name = type(layer).__name__
        if not (name.startswith("GlobalMax") or name.startswith("GlobalAverage")):
            return None
        if layer.get_config().get("keepdims", False):
            return None
        return Layer.of("global_pool", pool="max" if "Max" in name else "avg")

    def non_negative(self, layer, input_non_negative):
        return input_non_negative

    def output_shape(self, layer, shape):
        spatial_rank(shape, self.name)
        return (shape[-1],)

    def to_keras(self, layer, shape, name):
        rank = spatial_rank(shape, self.name)
        pool = layer.get("pool", "avg")
        if pool == "max":
            cls = keras.layers.GlobalMaxPooling1D if rank == 1 else keras.layers.GlobalMaxPooling2D
        else:
            cls = keras.layers.GlobalAveragePooling1D if rank == 1 else keras.layers.GlobalAveragePooling2D
        return cls(name=name)

    def describe(self, layer):
        return f"global{layer.get('pool', 'avg')}"

    def examples(self):
        return [([Layer.of("global_pool")], (5, 5, 2)), ([Layer.of("global_pool", pool="max")], (6, 3))]


@register_kind
class Flatten(LayerKind):
    name = "flatten"
    channel_wise = True

    def from_keras(self, layer):
        return Layer.of("flatten") if type(layer).__name__ == "Flatten" else None

    def non_negative(self, layer, input_non_negative):
        return input_non_negative

    def output_shape(self, layer, shape):
        return (math.prod(shape),)

    def to_keras(self, layer, shape, name):
        return keras.layers.Flatten(name=name)

    def examples(self):
        return [([Layer.of("flatten")], (3, 4, 2))]


@register_kind
class BatchNorm(LayerKind):
    name = "batch_norm"
    defaults: ClassVar[dict[str, Any]] = {"momentum": 0.9}
    channel_wise = True

    def from_keras(self, layer):
        config = layer.get_config()
        if type(layer).__name__ != "BatchNormalization" or config["axis"] not in (-1, [-1]):
            return None
        return Layer.of("batch_norm", momentum=float(config["momentum"]))

    def select_channels(self, layer, weights, sources):
        # A new channel gets gamma 1, beta 0, mean 0, variance 1: it passes its input through.
        fresh = sources < 0
        picked = [np.take(v, np.maximum(sources, 0)) for v in weights]
        for values, default in zip(picked, (1.0, 0.0, 0.0, 1.0), strict=True):
            values[fresh] = default
        return picked

    def num_params(self, layer, shape):
        return 4 * shape[-1]  # gamma, beta and the two moving statistics

    def to_keras(self, layer, shape, name):
        return keras.layers.BatchNormalization(momentum=float(layer.get("momentum", 0.9)), name=name)

    def describe(self, layer):
        return "bn"

    def examples(self):
        return [([Layer.of("batch_norm")], (6,)), ([Layer.of("batch_norm", momentum=0.99)], (4, 4, 3))]


@register_kind
class Dropout(LayerKind):
    name = "dropout"
    numeric = ("rate",)
    channel_wise = True

    def from_keras(self, layer):
        if type(layer).__name__ != "Dropout":
            return None
        return Layer.of("dropout", rate=float(layer.get_config()["rate"]))

    def non_negative(self, layer, input_non_negative):
        return input_non_negative

    def to_keras(self, layer, shape, name):
        return keras.layers.Dropout(float(layer["rate"]), name=name)

    def describe(self, layer):
        return f"drop{float(layer['rate']):g}"

    def examples(self):
        return [([Layer.of("dropout", rate=0.5)], (6,))]


@register_kind
class Activation(LayerKind):
    name = "activation"
    categorical = ("activation",)
    channel_wise = True

    def from_keras(self, layer):
        name, config = type(layer).__name__, layer.get_config()
        if name == "Activation":
            return Layer.of("activation", activation=activation_name(layer.activation) or "linear")
        if name == "ReLU" and config.get("max_value") is None and not config.get("negative_slope"):
            return Layer.of("activation", activation="relu")
        return None

    def non_negative(self, layer, input_non_negative):
        return layer.get("activation") == "relu"

    def to_keras(self, layer, shape, name):
        return keras.layers.Activation(layer["activation"], name=name)

    def describe(self, layer):
        return str(layer["activation"])

    def examples(self):
        return [([Layer.of("activation", activation="tanh")], (6,))]


@register_kind
class Identity(LayerKind):
    name = "identity"
    channel_wise = True

    def from_keras(self, layer):
        return Layer.of("identity") if type(layer).__name__ == "Identity" else None

    def non_negative(self, layer, input_non_negative):
        return input_non_negative

    def to_keras(self, layer, shape, name):
        return keras.layers.Identity(name=name)

    def examples(self):
        return [([Layer.of("identity")], (6,))]
