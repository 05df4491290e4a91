"""The built-in kinds with a width: `dense` (its `units`) and `conv` (its `filters`), which morphisms widen."""

from __future__ import annotations

from typing import Any, ClassVar

import keras

from keras_nas.architecture.architecture import Layer
from keras_nas.architecture.kinds.base import LayerKind, register_kind
from keras_nas.architecture.kinds.shared import activation_name, activation_tag, common_size, spatial_rank, strided


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
            "dense", units=layer.units, activation=activation_name(layer.activation), use_bias=layer.use_bias
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
        return f"dense{layer['units']}{activation_tag(layer)}"

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
        kernel, strides, dilation = (common_size(config[k]) for k in ("kernel_size", "strides", "dilation_rate"))
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
            activation=activation_name(layer.activation),
            use_bias=layer.use_bias,
        )

    def non_negative(self, layer, input_non_negative):
        return layer.get("activation") == "relu"

    def output_shape(self, layer, shape):
        spatial_rank(shape, self.name)
        return strided(shape, self.stride(layer))[:-1] + (int(layer["filters"]),)

    def num_params(self, layer, shape):
        rank = spatial_rank(shape, self.name)
        window = int(layer.get("kernel_size", 3)) ** rank
        channels, filters = shape[-1], int(layer["filters"])
        bias = filters if layer.get("use_bias", True) else 0
        if layer.get("separable", False):
            return window * channels + channels * filters + bias
        return window * channels * filters + bias

    def stride(self, layer):
        return int(layer.get("strides", 1))

    def to_keras(self, layer, shape, name):
        rank = spatial_rank(shape, self.name)
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
        return tag + activation_tag(layer)

    def examples(self):
        return [
            ([Layer.of("conv", filters=4, strides=2)], (9, 9, 2)),
            (
                [Layer.of("conv", filters=3, kernel_size=5, dilation_rate=2, separable=True, activation="relu")],
                (11, 3),
            ),
        ]
