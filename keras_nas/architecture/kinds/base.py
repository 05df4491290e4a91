"""The `LayerKind` contract and the registry of kinds (`register_kind`, `get`, `names`)."""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import keras
import numpy as np

from keras_nas.architecture.architecture import Layer
from keras_nas.utils.registry import Registry

Shape = tuple[int, ...]


class LayerKind(abc.ABC):
    """Base of the per-kind rules; subclasses override what differs."""

    name = ""
    defaults: ClassVar[dict[str, Any]] = {}
    numeric: tuple[str, ...] = ()  # compared by relative difference in `difference`
    categorical: tuple[str, ...] = ()  # compared by equality in `difference`

    # Morphism traits, read by `keras_nas.search.morphism.moves`: a kind states them here, not there.
    width_key: ClassVar[str | None] = None  # the width a `wider` morphism grows ("units", "filters"); None: none
    channel_wise: ClassVar[bool] = False  # treats each channel alone, so a widened layer's channels pass through it

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

    def flops(self, layer: Layer, shape: Shape) -> int:
        """Multiply-adds for one example with input `shape`: by default each weight is used once per output
        position (exact for dense and convolutional layers, a bias counting as one); layers without weights
        count 0."""
        output = self.output_shape(layer, shape)
        return self.num_params(layer, shape) * (math.prod(output[:-1]) if len(output) > 1 else 1)

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

    def from_keras(self, layer: keras.layers.Layer) -> Layer | None:
        """This kind's `Layer` describing a Keras layer exactly, or None if it is not one of this kind.

        `keras_nas.architecture.reading` asks every registered kind in turn;
        a layer no kind claims is kept whole as a `keras`-kind layer.
        """
        return None

    def non_negative(self, layer: Layer, input_non_negative: bool) -> bool:
        """Whether the output is >= 0 for every input (a ReLU inserted after it is then the identity)."""
        return False

    def select_channels(self, layer: Layer, weights: list[np.ndarray], sources: np.ndarray) -> list[np.ndarray]:
        """A channel-wise layer's weights after its input channels become `sources` (-1: a new channel).

        The default suits kinds without weights; a channel-wise kind with
        weights overrides it so that a new channel passes its input unchanged.
        """
        if weights:
            raise ValueError(f"The {self.name!r} kind holds weights but does not say how to select its channels.")
        return weights

    def describe(self, layer: Layer) -> str:
        return self.name

    def examples(self) -> Sequence[tuple[Sequence[Layer], Shape]]:
        """Small networks (main-path layers, input shape) that use this kind.

        The contract tests (tests/test_layer_kinds.py) build every example of
        every registered kind and check its shape, parameter count and JSON
        round trip; a kind with no example fails them.
        """
        return ()


# Kinds of the spine defined beside what they need are loaded on first use (a `cell` needs the DARTS ops).
KINDS: Registry[LayerKind] = Registry(
    "layer kind",
    hint="(add one with keras_nas.architecture.register_kind)",
    elsewhere={"cell": "keras_nas.architecture.cells.derived"},
)


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
    >>> KINDS.unregister("gelu")
    """
    if not (isinstance(kind, type) and issubclass(kind, LayerKind)):
        raise TypeError(f"register_kind takes a LayerKind subclass; received {kind!r}.")
    if not kind.name or not isinstance(kind.name, str):
        raise ValueError(f"{kind.__name__}.name must be a non-empty string; received {kind.name!r}.")
    known = KINDS.find(kind.name)
    if known is not None and type(known).__qualname__ != kind.__qualname__:
        raise ValueError(
            f"A layer kind named {kind.name!r} is already registered ({type(known).__name__}); choose another name."
        )
    KINDS.register(kind.name, kind())
    return kind


def names() -> list[str]:
    """The names of every layer kind, built-in and registered."""
    return KINDS.names()


def find(kind: str) -> LayerKind | None:
    """The rules of a layer kind, or None if no kind has that name."""
    return KINDS.find(kind)


def get(kind: str) -> LayerKind:
    """Returns the rules of a layer kind, or raises a ValueError naming the known kinds."""
    return KINDS.get(kind)
