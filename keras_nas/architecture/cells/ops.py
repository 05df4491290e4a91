"""The candidate operations of a supernet edge, shared with the rest of keras_nas.

Each op is known by name and is described for a number of output channels,
a stride and an input rank (2: images, 1: sequences, 0: tabular rows) as a
list of keras_nas `Layer`s, so a derived cell can be written as an
`Architecture`. `build_op` makes the Keras layer the supernet runs; with
`search=True` (the default) it follows DARTS's search-time conventions:
BatchNormalization without scale and offset, and pooling followed by one.

Ops, named as in DARTS (for sequences `3x3` means a kernel of 3):

| name | layers |
|---|---|
| none | zeros of the strided shape (`Zero`) |
| max_pool_3x3, avg_pool_3x3 | 3-wide pooling |
| skip_connect | identity, or `FactorizedReduce` at stride 2 |
| sep_conv_3x3, sep_conv_5x5 | (ReLU, separable conv, BN) twice, only the first strided |
| dil_conv_3x3, dil_conv_5x5 | ReLU, separable conv with dilation 2, BN |
| conv_1x1, conv_3x3 | ReLU, conv, BN |
| dense (tabular) | ReLU, Dense(channels), BN |
| dense_<w> (tabular) | ReLU, Dense(w, relu), Dense(channels), BN |

Convolutions have no bias (BatchNormalization follows) and `"same"` padding.

Example:

>>> [layer.describe() for layer in describe_op("dil_conv_3x3", 16, strides=2)]
['relu', 'sepconv16k3s2d2', 'bn']
>>> build_op("sep_conv_3x3", 16, rank=1).name.startswith("sequential")
True
"""

from __future__ import annotations

import re
from collections.abc import Callable

import keras

from keras_nas.architecture import kinds
from keras_nas.architecture.architecture import Layer
from keras_nas.architecture.cells.layers import FactorizedReduce, SearchBatchNorm, Zero

# DARTS's order, which fixes the columns of alpha.
PRIMITIVES = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
# Five of them, one of each kind, for supernets that must trace fast (the strategies' default).
COMPACT_PRIMITIVES = ("none", "max_pool_3x3", "skip_connect", "sep_conv_3x3", "dil_conv_3x3")
SPATIAL_OPS = PRIMITIVES + ("conv_1x1", "conv_3x3")
TABULAR_PRIMITIVES = ("none", "skip_connect", "dense_32", "dense_64", "dense_128")

_DENSE = re.compile(r"dense_(\d+)$")
_RELU = Layer.of("activation", activation="relu")
_BN = Layer.of("batch_norm")


def default_primitives(rank: int) -> tuple[str, ...]:
    """The default candidate ops for inputs of a rank (0: tabular, 1: sequences, 2: images)."""
    return TABULAR_PRIMITIVES if rank == 0 else PRIMITIVES


def _conv(channels: int, kernel: int, strides: int = 1, dilation: int = 1, separable: bool = False) -> Layer:
    return Layer.of(
        "conv",
        filters=channels,
        kernel_size=kernel,
        strides=strides,
        dilation_rate=dilation,
        separable=separable,
        use_bias=False,
    )


def _keras_kind(layer: keras.layers.Layer) -> Layer:
    return Layer.of("keras", **kinds.keras_layer_spec(layer))


def _pool(pool: str) -> Callable[[int, int], list[Layer]]:
    return lambda channels, strides: [Layer.of("pool", pool=pool, size=3, strides=strides)]


def _sep_conv(kernel: int) -> Callable[[int, int], list[Layer]]:
    return lambda c, s: [_RELU, _conv(c, kernel, s, separable=True), _BN, _RELU, _conv(c, kernel, separable=True), _BN]


def _dil_conv(kernel: int) -> Callable[[int, int], list[Layer]]:
    return lambda c, s: [_RELU, _conv(c, kernel, s, dilation=2, separable=True), _BN]


def _plain_conv(kernel: int) -> Callable[[int, int], list[Layer]]:
    return lambda c, s: [_RELU, _conv(c, kernel, s), _BN]


_SPATIAL: dict[str, Callable[[int, int], list[Layer]]] = {
    "max_pool_3x3": _pool("max"),
    "avg_pool_3x3": _pool("avg"),
    "sep_conv_3x3": _sep_conv(3),
    "sep_conv_5x5": _sep_conv(5),
    "dil_conv_3x3": _dil_conv(3),
    "dil_conv_5x5": _dil_conv(5),
    "conv_1x1": _plain_conv(1),
    "conv_3x3": _plain_conv(3),
}


def _check(name: str, strides: int, rank: int) -> None:
    if rank not in (0, 1, 2):
        raise ValueError(f"Supernet ops take rank 0 (tabular), 1 (sequences) or 2 (images); received rank={rank}.")
    if strides not in (1, 2) or (rank == 0 and strides != 1):
        raise ValueError(f"Op {name!r} needs strides 1 (or 2 for sequences and images); received strides={strides}.")
    known = name in ("none", "skip_connect") or (name in _SPATIAL if rank else name == "dense" or _DENSE.match(name))
    if not known:
        names = sorted(SPATIAL_OPS) if rank else ["dense", "dense_<width>", "none", "skip_connect"]
        raise ValueError(f"Unknown op {name!r} for rank {rank}; known ops: {names}.")


def describe_op(name: str, channels: int, strides: int = 1, rank: int = 2) -> list[Layer]:
    """The op as keras_nas `Layer`s, as it appears in a derived (trained from scratch) network.

    `none` and the strided `skip_connect` are not plain chains of layer kinds;
    they appear as `keras`-kind layers holding a `Zero` or `FactorizedReduce`.
    """
    _check(name, strides, rank)
    if name == "none":
        return [_keras_kind(Zero(strides=strides))]
    if name == "skip_connect":
        return [Layer.of("identity")] if strides == 1 else [_keras_kind(FactorizedReduce(channels, rank=rank))]
    if rank:
        return _SPATIAL[name](channels, strides)
    if name == "dense":
        return [_RELU, Layer.of("dense", units=channels, use_bias=False), _BN]
    width = int(_DENSE.match(name).group(1))  # type: ignore[union-attr]  # _check matched it
    return [
        _RELU,
        Layer.of("dense", units=width, activation="relu"),
        Layer.of("dense", units=channels, use_bias=False),
        _BN,
    ]


def _to_keras(layer: Layer, rank: int, search: bool) -> keras.layers.Layer:
    if layer.kind == "batch_norm":
        momentum = float(layer.get("momentum", 0.9))
        return SearchBatchNorm(momentum) if search else keras.layers.BatchNormalization(momentum=momentum)
    shape = (1,) * rank + (1,)  # only the rank matters to the layer kinds
    # name=None lets Keras give each instance a unique name.
    return kinds.get(layer.kind).to_keras(layer, shape, name=None)  # type: ignore[arg-type]


def build_op(name: str, channels: int, strides: int = 1, rank: int = 2, search: bool = True) -> keras.layers.Layer:
    """A fresh Keras layer computing op `name`, with `channels` outputs (equal to its inputs' channels).

    `search=True` gives the supernet's variant (affine-free BatchNormalization,
    a BatchNormalization after pooling); `search=False` the plain one that
    `describe_op` describes.
    """
    _check(name, strides, rank)
    if name == "none":
        return Zero(strides=strides)
    if name == "skip_connect" and strides > 1:
        return FactorizedReduce(channels, rank=rank, affine=not search)
    layers = [_to_keras(layer, rank, search) for layer in describe_op(name, channels, strides, rank)]
    if search and "pool" in name:
        layers.append(SearchBatchNorm())
    return layers[0] if len(layers) == 1 else keras.Sequential(layers)
