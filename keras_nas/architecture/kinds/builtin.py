"""The built-in layer kinds: dense, conv, pool, global_pool, flatten, batch_norm, dropout, activation,
identity, and `keras` (any other Keras layer, kept whole)."""

from __future__ import annotations

import json
import math
from typing import Any, ClassVar

import keras
import numpy as np

from keras_nas.architecture.architecture import Layer
from keras_nas.architecture.kinds.base import LayerKind, Shape, register_kind


def _spatial_rank(shape: Shape, kind: str) -> int:
    rank = len(shape) - 1
    if rank not in (1, 2):
        raise ValueError(f"A {kind!r} layer needs a sequence or image input (rank 2 or 3); received shape {shape}.")
    return rank


def _strided(shape: Shape, strides: int) -> Shape:
    return tuple(math.ceil(n / strides) for n in shape[:-1]) + (shape[-1],)


def _activation_tag(layer: Layer) -> str:
    activation = layer.get("activation")
    return "" if activation in (None, "linear") else str(activation)


def _activation_name(function) -> str | None:
    name = keras.activations.serialize(function)
    if isinstance(name, dict):
        name = name.get("config", name.get("class_name"))
    return None if name in (None, "linear") else str(name)


def _square(value: Any) -> int | None:
    """The common size of a kernel/stride tuple, or None when it differs across axes."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    return int(values[0]) if len(set(values)) == 1 else None


@register_kind
class Dense(LayerKind):
    name = "dense"
    defaults: ClassVar[dict[str, Any]] = {"use_bias": True}
    numeric = ("units",)
    categorical = ("activation",)
    width_key = "units"

    def from_keras(self, layer):
        if type(layer).__name__ != "Dense":
            return None
        return Layer.of(
            "dense", units=layer.units, activation=_activation_name(layer.activation), use_bias=layer.use_bias
        )

    def non_negative(self, layer, input_non_negative):
        return layer.get("activation") == "relu"

    def output_shape(self, layer, shape):
        return shape[:-1] + (int(layer["units"]),)

    def num_params(self, layer, shape):
        units = int(layer["units"])
        return shape[-1] * units + (units if layer.get("use_bias", True) else 0)

    def to_keras(self, layer, shape, name):
        return keras.layers.Dense(
            int(layer["units"]), activation=layer.get("activation"), use_bias=layer.get("use_bias", True), name=name
        )

    def describe(self, layer):
        return f"dense{layer['units']}{_activation_tag(layer)}"

    def examples(self):
        return [
            ([Layer.of("dense", units=5, activation="relu")], (7,)),
            ([Layer.of("dense", units=3, use_bias=False)], (4, 2)),
        ]


@register_kind
class Conv(LayerKind):
    name = "conv"
    defaults: ClassVar[dict[str, Any]] = {
        "kernel_size": 3,
        "strides": 1,
        "dilation_rate": 1,
        "separable": False,
        "use_bias": True,
    }
    numeric = ("filters", "kernel_size", "strides", "dilation_rate")
    categorical = ("separable", "activation")
    width_key = "filters"

    def from_keras(self, layer):
        name, config = type(layer).__name__, layer.get_config()
        if name not in ("Conv1D", "Conv2D", "SeparableConv1D", "SeparableConv2D"):
            return None
        kernel, strides, dilation = (_square(config[k]) for k in ("kernel_size", "strides", "dilation_rate"))
        exact = config["padding"] == "same" and None not in (kernel, strides, dilation)
        if not exact or config.get("groups", 1) != 1 or config.get("depth_multiplier", 1) != 1:
            return None
        return Layer.of(
            "conv",
            filters=layer.filters,
            kernel_size=kernel,
            strides=strides,
            dilation_rate=dilation,
            separable=name.startswith("Separable"),
            activation=_activation_name(layer.activation),
            use_bias=layer.use_bias,
        )

    def non_negative(self, layer, input_non_negative):
        return layer.get("activation") == "relu"

    def output_shape(self, layer, shape):
        _spatial_rank(shape, self.name)
        return _strided(shape, self.stride(layer))[:-1] + (int(layer["filters"]),)

    def num_params(self, layer, shape):
        rank = _spatial_rank(shape, self.name)
        window = int(layer.get("kernel_size", 3)) ** rank
        channels, filters = shape[-1], int(layer["filters"])
        bias = filters if layer.get("use_bias", True) else 0
        if layer.get("separable", False):
            return window * channels + channels * filters + bias
        return window * channels * filters + bias

    def stride(self, layer):
        return int(layer.get("strides", 1))

    def to_keras(self, layer, shape, name):
        rank = _spatial_rank(shape, self.name)
        if layer.get("separable", False):
            cls = keras.layers.SeparableConv1D if rank == 1 else keras.layers.SeparableConv2D
        else:
            cls = keras.layers.Conv1D if rank == 1 else keras.layers.Conv2D
        return cls(
            int(layer["filters"]),
            int(layer.get("kernel_size", 3)),
            strides=self.stride(layer),
            dilation_rate=int(layer.get("dilation_rate", 1)),
            padding="same",
            activation=layer.get("activation"),
            use_bias=layer.get("use_bias", True),
            name=name,
        )

    def describe(self, layer):
        tag = "sep" if layer.get("separable", False) else ""
        tag += f"conv{layer['filters']}k{layer.get('kernel_size', 3)}"
        if self.stride(layer) > 1:
            tag += f"s{self.stride(layer)}"
        if int(layer.get("dilation_rate", 1)) > 1:
            tag += f"d{layer['dilation_rate']}"
        return tag + _activation_tag(layer)

    def examples(self):
        return [
            ([Layer.of("conv", filters=4, strides=2)], (9, 9, 2)),
            (
                [Layer.of("conv", filters=3, kernel_size=5, dilation_rate=2, separable=True, activation="relu")],
                (11, 3),
            ),
        ]


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
        size, strides = _square(config["pool_size"]), _square(config["strides"])
        if config["padding"] != "same" or None in (size, strides):
            return None
        return Layer.of("pool", pool="max" if name.startswith("Max") else "avg", size=size, strides=strides)

    def non_negative(self, layer, input_non_negative):
        return input_non_negative

    def value(self, layer, key):
        return self.stride(layer) if key == "strides" else super().value(layer, key)

    def output_shape(self, layer, shape):
        _spatial_rank(shape, self.name)
        return _strided(shape, self.stride(layer))

    def canonical(self, params):
        params = super().canonical(params)
        if params.get("strides") == params.get("size", 2):
            del params["strides"]
        return params

    def stride(self, layer):
        return int(layer.get("strides", layer.get("size", 2)))

    def to_keras(self, layer, shape, name):
        rank = _spatial_rank(shape, self.name)
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
        _spatial_rank(shape, self.name)
        return (shape[-1],)

    def to_keras(self, layer, shape, name):
        rank = _spatial_rank(shape, self.name)
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
            return Layer.of("activation", activation=_activation_name(layer.activation) or "linear")
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


@register_kind
class KerasLayer(LayerKind):
    """Any other Keras layer, kept as its serialized config so it rebuilds exactly."""

    name = "keras"
    categorical = ("class_name", "spec")

    def _instance(self, layer, name=None):
        spec = json.loads(layer["spec"])
        if name is not None:
            spec["config"]["name"] = name
        return keras.layers.deserialize(spec)

    def output_shape(self, layer, shape):
        return tuple(self._instance(layer).compute_output_shape((None,) + tuple(shape))[1:])

    def num_params(self, layer, shape):
        instance = self._instance(layer)
        instance.build((None,) + tuple(shape))
        return int(instance.count_params())

    def to_keras(self, layer, shape, name):
        return self._instance(layer, name)

    def describe(self, layer):
        return str(layer["class_name"])

    def examples(self):
        return [
            ([Layer.of("keras", **keras_layer_spec(keras.layers.LayerNormalization()))], (6,)),
            (
                [Layer.of("keras", **keras_layer_spec(keras.layers.Conv2DTranspose(3, 2, strides=2)))],
                (4, 4, 2),
            ),
        ]


def keras_layer_spec(layer: keras.layers.Layer) -> dict[str, Any]:
    """The parameters of a `keras`-kind Layer describing an arbitrary Keras layer."""
    spec = keras.layers.serialize(layer)
    spec.pop("build_config", None)  # a deserialized layer must build afresh for its new input
    spec["config"].pop("name", None)
    return {"class_name": type(layer).__name__, "spec": json.dumps(spec, sort_keys=True, default=str)}
