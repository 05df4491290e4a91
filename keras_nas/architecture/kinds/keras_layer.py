"""The `keras` kind: any other Keras layer, kept whole as its serialized config."""

from __future__ import annotations

import json
from typing import Any

import keras

from keras_nas.architecture.architecture import Layer
from keras_nas.architecture.kinds.base import LayerKind, register_kind


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
