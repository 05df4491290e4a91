"""What each `Layer` kind means: its shape rule, parameter count and Keras layer.

Shapes exclude the batch axis: `(features,)` for tabular data, `(steps,
channels)` for sequences, `(height, width, channels)` for images. Convolutions
and poolings always use `"same"` padding, so a stride `s` maps a length `n` to
`ceil(n / s)` and strides compose exactly along the main path.

Parameters by kind:

| kind | parameters (defaults) |
|---|---|
| dense | units, activation (None), use_bias (True) |
| conv | filters, kernel_size (3), strides (1), dilation_rate (1), separable (False); activation, use_bias as dense |
| pool | pool ("max" or "avg"), size (2), strides (= size) |
| global_pool | pool ("avg" or "max") |
| flatten, identity | none |
| batch_norm | momentum (0.9; Keras's 0.99 never settles in short trainings) |
| dropout | rate |
| activation | activation |
| keras | class_name, spec (the layer's serialized config as JSON) |
| cell | gene, concat, filters, reduction (False), input0_channels, input0 (2), keep (2) |

A `cell` is a DARTS cell read off a supernet (see `keras_nas.architecture.cells.derived`):
it reads node `input0` steps back along the main path (2: the output of the
layer before the previous one) besides its main-path input, so it is built by
`LayerKind.apply`, which receives every earlier node, and expands into plain
Keras layers.
"""

from __future__ import annotations

import abc
import importlib
import json
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import keras

from keras_nas.architecture.architecture import Layer

Shape = tuple[int, ...]


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


class LayerKind(abc.ABC):
    """Base of the per-kind rules; subclasses override what differs."""

    name = ""
    defaults: ClassVar[dict[str, Any]] = {}
    numeric: tuple[str, ...] = ()  # compared by relative difference in `difference`
    categorical: tuple[str, ...] = ()  # compared by equality in `difference`

    def difference(self, a: Layer, b: Layer) -> float:
        """How far apart two layers of this kind are, in [0, 1]: the mean over the compared
        attributes of |x - y| / max(x, y) (numeric) or of x != y (categorical); 0 if none."""
        terms = []
        for key in self.numeric:
            x, y = float(self.value(a, key) or 0), float(self.value(b, key) or 0)
            top = max(abs(x), abs(y))
            terms.append(abs(x - y) / top if top > 0 else 0.0)
        for key in self.categorical:
            terms.append(float(self.value(a, key) != self.value(b, key)))
        return sum(terms) / len(terms) if terms else 0.0

    def value(self, layer: Layer, key: str) -> Any:
        """A parameter's value, its default when left out."""
        return layer.get(key, self.defaults.get(key))

    def canonical(self, params: dict[str, Any]) -> dict[str, Any]:
        """Drops parameters equal to their defaults, so equal networks compare equal."""
        return {k: v for k, v in params.items() if not (k in self.defaults and v == self.defaults[k])}

    def output_shape(self, layer: Layer, shape: Shape) -> Shape:
        return shape

    def num_params(self, layer: Layer, shape: Shape) -> int:
        return 0

    def stride(self, layer: Layer) -> int:
        """How much this layer shrinks every spatial axis."""
        return 1

    def check_nodes(self, layer: Layer, shapes: Sequence[Shape]) -> None:  # noqa: B027 (most kinds take any nodes)
        """Raises ValueError if the layer cannot read the earlier nodes (shapes of nodes 0 … its input)."""

    @abc.abstractmethod
    def to_keras(self, layer: Layer, shape: Shape, name: str) -> keras.layers.Layer:
        """A fresh Keras layer named `name` for an input of `shape`."""

    def apply(self, layer: Layer, x: Any, nodes: Sequence[Any], shape: Shape, name: str) -> Any:
        """The layer's output tensor for main-path input `x` (of `shape`), given all earlier node tensors.

        Most kinds read only `x` (`nodes[-1]`); a kind that reads more nodes,
        such as `cell`, overrides this (and `check_nodes`) instead of `to_keras`.
        """
        return self.to_keras(layer, shape, name)(x)

    def describe(self, layer: Layer) -> str:
        return self.name

    def examples(self) -> Sequence[tuple[Sequence[Layer], Shape]]:
        """Small networks (main-path layers, input shape) that use this kind.

        The contract tests (tests/test_layer_kinds.py) build every example of
        every registered kind and check its shape, parameter count and JSON
        round trip; a kind with no example fails them.
        """
        return ()


KINDS: dict[str, LayerKind] = {}

# Kinds of the spine defined beside what they need, loaded on first use (a `cell` needs the DARTS ops).
_ELSEWHERE = {"cell": "keras_nas.architecture.cells.derived"}


def register_kind(kind: type[LayerKind]) -> type[LayerKind]:
    """Makes a `LayerKind` subclass known by its `name`; usable as a class decorator.

    One class is all a new kind needs: its shape rule, parameter count and
    Keras layer. The builder, `Architecture.num_params`, the edit distance
    and the contract tests (tests/test_layer_kinds.py) pick it up from here.

    Example:

    >>> import keras
    >>> @register_kind
    ... class Gelu(LayerKind):
    ...     name = "gelu"
    ...     def to_keras(self, layer, shape, name):
    ...         return keras.layers.Activation("gelu", name=name)
    >>> Layer.of("gelu").describe()
    'gelu'
    >>> del KINDS["gelu"]
    """
    if not (isinstance(kind, type) and issubclass(kind, LayerKind)):
        raise TypeError(f"register_kind takes a LayerKind subclass; received {kind!r}.")
    if not kind.name or not isinstance(kind.name, str):
        raise ValueError(f"{kind.__name__}.name must be a non-empty string; received {kind.name!r}.")
    known = KINDS.get(kind.name)
    if known is not None and type(known).__qualname__ != kind.__qualname__:
        raise ValueError(
            f"A layer kind named {kind.name!r} is already registered ({type(known).__name__}); choose another name."
        )
    KINDS[kind.name] = kind()
    return kind


def names() -> list[str]:
    """The names of every layer kind, built-in and registered."""
    for module in set(_ELSEWHERE.values()):
        importlib.import_module(module)
    return sorted(KINDS)


def find(kind: str) -> LayerKind | None:
    """The rules of a layer kind, or None if no kind has that name."""
    if kind not in KINDS and kind in _ELSEWHERE:
        importlib.import_module(_ELSEWHERE[kind])
    return KINDS.get(kind)


@register_kind
class Dense(LayerKind):
    name = "dense"
    defaults: ClassVar[dict[str, Any]] = {"use_bias": True}
    numeric = ("units",)
    categorical = ("activation",)

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

    def to_keras(self, layer, shape, name):
        return keras.layers.Activation(layer["activation"], name=name)

    def describe(self, layer):
        return str(layer["activation"])

    def examples(self):
        return [([Layer.of("activation", activation="tanh")], (6,))]


@register_kind
class Identity(LayerKind):
    name = "identity"

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


def get(kind: str) -> LayerKind:
    """Returns the rules of a layer kind, or raises a ValueError naming the known kinds."""
    rules = find(kind)
    if rules is None:
        raise ValueError(
            f"Unknown layer kind {kind!r}; known kinds: {names()}. Add one with keras_nas.architecture.register_kind."
        )
    return rules


def keras_layer_spec(layer: keras.layers.Layer) -> dict[str, Any]:
    """The parameters of a `keras`-kind Layer describing an arbitrary Keras layer."""
    spec = keras.layers.serialize(layer)
    spec.pop("build_config", None)  # a deserialized layer must build afresh for its new input
    spec["config"].pop("name", None)
    return {"class_name": type(layer).__name__, "spec": json.dumps(spec, sort_keys=True, default=str)}
