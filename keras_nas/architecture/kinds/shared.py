"""What the built-in kinds share: the shape rule of `"same"` padding, and reading activations and sizes off Keras."""

from __future__ import annotations

import math
from typing import Any

import keras

from keras_nas.architecture.architecture import Layer
from keras_nas.architecture.kinds.base import Shape


def spatial_rank(shape: Shape, kind: str) -> int:
    """The number of spatial axes (1: a sequence, 2: an image), or a ValueError naming the `kind`."""
    rank = len(shape) - 1
    if rank not in (1, 2):
        raise ValueError(f"A {kind!r} layer needs a sequence or image input (rank 2 or 3); received shape {shape}.")
    return rank


def strided(shape: Shape, strides: int) -> Shape:
    """The shape after a `"same"`-padded stride `strides` along every spatial axis (channels unchanged)."""
    return tuple(math.ceil(n / strides) for n in shape[:-1]) + (shape[-1],)


def activation_tag(layer: Layer) -> str:
    """The layer's activation as `describe` appends it; empty for none."""
    activation = layer.get("activation")
    return "" if activation in (None, "linear") else str(activation)


def activation_name(function) -> str | None:
    """The name of a Keras layer's activation function; None for none (linear)."""
    name = keras.activations.serialize(function)
    if isinstance(name, dict):
        name = name.get("config", name.get("class_name"))
    return None if name in (None, "linear") else str(name)


def common_size(value: Any) -> int | None:
    """The common size of a kernel/stride tuple, or None when it differs across axes."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    return int(values[0]) if len(set(values)) == 1 else None
