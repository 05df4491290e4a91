"""Network morphisms: moves that grow an `Architecture` while keeping its function.

Four moves, as in Auto-Keras (KDD 2019) and Net2Net (Chen et al., 2016):

- `deeper`: insert, after node `node`, a dense layer (flat tensors) or a 3x3
  convolution with as many units or filters as that node has channels. It is
  initialised to the identity, with a ReLU only where its input is already
  non-negative, so the child computes the parent's function.
- `wider`: grow the units or filters of a dense or conv layer. New units copy
  randomly chosen existing ones; the next weighted layer (the consumer)
  divides the copied units' outgoing weights between the copies (Net2Wider),
  plus a zero-sum perturbation that breaks the copies' symmetry without
  changing the function.
- `add_skip`: add node `source` to node `target` through a zero-initialised
  projection (every `add` skip has one, see `keras_nas.architecture.building`).
- `concat_skip`: concatenate node `source` to node `target`; the consumer's
  weights for the new channels start at zero.

`apply(architecture, move, input_shape)` returns the child architecture (or
raises ValueError for a move that is invalid or cannot keep the function), and
`transfer(weights, architecture, move, input_shape, head, rng)` turns the
parent's weights (a dict from layer name to arrays, see `model_weights`) into
the child's. Moves serialise to small dicts, so a chain of them can travel in
trial hyperparameters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import numpy as np

from keras_nas.architecture import Architecture, Head, Layer, Skip, building, kinds

Shape = tuple[int, ...]
KINDS = ("deeper", "wider", "add_skip", "concat_skip")


@dataclasses.dataclass(frozen=True)
class Move:
    """One morphism: `deeper` (node), `wider` (layer, width), `add_skip`/`concat_skip` (source, target)."""

    kind: str
    node: int = 0
    layer: int = 0
    width: int = 0
    source: int = 0
    target: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Unknown morphism {self.kind!r}; known: {KINDS}.")

    def to_dict(self) -> dict[str, Any]:
        keys = {
            "deeper": ("node",),
            "wider": ("layer", "width"),
            "add_skip": ("source", "target"),
            "concat_skip": ("source", "target"),
        }[self.kind]
        return {"kind": self.kind, **{key: getattr(self, key) for key in keys}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Move:
        return cls(**data)


# -- where the function can be kept ----------------------------------------
def _non_negative(architecture: Architecture, node: int) -> bool:
    """Whether node `node` is >= 0 for every input (so a ReLU there is the identity)."""
    if node == 0:
        return False
    merges = [skip for skip in architecture.skips if skip.target == node]
    if any(skip.merge != "concat" for skip in merges):
        return False
    if not all(_non_negative(architecture, skip.source) for skip in merges):
        return False
    layer = architecture.layers[node - 1]
    return kinds.get(layer.kind).non_negative(layer, _non_negative(architecture, node - 1))


def _touched(architecture: Architecture, first: int, last: int) -> bool:
    """Whether a skip leaves from or merges into a node in [first, last]."""
    return any(first <= skip.source <= last or first <= skip.target <= last for skip in architecture.skips)


def consumer(architecture: Architecture, node: int) -> int | None:
    """Index of the weighted layer that reads node `node` through channel-wise layers only,
    or None when that is the head. Raises ValueError when the channels cannot be followed."""
    for index in range(node, len(architecture.layers)):
        kind = kinds.get(architecture.layers[index].kind)
        if kind.width_key:
            return index
        if not kind.channel_wise:
            raise ValueError(f"channels cannot be followed through layer {index} ({kind.name}).")
    return None


def _width_key(layer: Layer) -> str | None:
    return kinds.get(layer.kind).width_key


# -- moves on architectures ------------------------------------------------
def _shift(skip: Skip, node: int) -> Skip:
    return Skip(skip.source + (skip.source > node), skip.target + (skip.target > node), skip.merge)


def apply(architecture: Architecture, move: Move, input_shape: Iterable[int]) -> Architecture:
    """The child architecture of a move; raises ValueError if the move is invalid."""
    layout = building.plan(architecture, input_shape)
    layers, skips = list(architecture.layers), list(architecture.skips)
    if move.kind == "deeper":
        if not 1 <= move.node <= len(layers):
            raise ValueError(f"deeper needs 1 <= node <= {len(layers)}; received node={move.node}.")
        shape = layout.shapes[move.node]
        activation = "relu" if _non_negative(architecture, move.node) else None
        if len(shape) == 1:
            new = Layer.of("dense", units=shape[0], activation=activation)
        else:
            new = Layer.of("conv", filters=shape[-1], kernel_size=3, activation=activation)
        layers.insert(move.node, new)
        skips = [_shift(skip, move.node) for skip in skips]
    elif move.kind == "wider":
        key = _width_key(layers[move.layer]) if 0 <= move.layer < len(layers) else None
        if key is None:
            raise ValueError(
                f"wider needs a dense or conv layer (a kind with a width_key); layer {move.layer} is not one."
            )
        layer = layers[move.layer]
        if move.width <= layer[key]:
            raise ValueError(f"wider must grow {key} beyond {layer[key]}; received width={move.width}.")
        end = consumer(architecture, move.layer + 1)
        if _touched(architecture, move.layer + 1, len(layers) if end is None else end):
            raise ValueError("wider cannot follow channels through a skip connection.")
        layers[move.layer] = layer.replace(**{key: move.width})
    else:
        merge = "add" if move.kind == "add_skip" else "concat"
        new_skip = Skip(move.source, move.target, merge)
        if any((s.source, s.target) == (move.source, move.target) for s in skips):
            raise ValueError(f"nodes {move.source} and {move.target} are already joined.")
        if merge == "concat":
            end = consumer(architecture, move.target)
            last = len(layers) if end is None else end
            # the new channels must reach only the consumer: not another skip leaving from or merging
            # into the target or any node up to the consumer
            if _touched(architecture, move.target, last):
                raise ValueError("concat_skip cannot follow the new channels through other skip connections.")
        skips.append(new_skip)
    child = Architecture(layers, skips)
    building.plan(child, input_shape)  # raises for shapes that cannot be aligned
    return child


def candidates(
    architecture: Architecture, input_shape: Iterable[int], max_width: int = 1024, validate: bool = True
) -> list[Move]:
    """Every valid move: deeper at each node, doubling each width (up to max_width), each new skip.

    With `validate=False` the moves are only proposed (cheap); `apply` may still refuse some.
    """
    moves = [Move("deeper", node=node) for node in range(1, len(architecture.layers) + 1)]
    for index, layer in enumerate(architecture.layers):
        key = _width_key(layer)
        if key is not None:
            width = layer[key]
            if width * 2 <= max_width:
                moves.append(Move("wider", layer=index, width=width * 2))
    for target in range(2, len(architecture.layers) + 1):
        for source in range(0, target - 1):
            moves += [Move("add_skip", source=source, target=target), Move("concat_skip", source=source, target=target)]
    if not validate:
        return moves
    valid = []
    for move in moves:
        try:
            apply(architecture, move, input_shape)
        except ValueError:
            continue
        valid.append(move)
    return valid


# -- weights -----------------------------------------------------------------
def model_weights(model) -> dict[str, list[np.ndarray]]:
    """A model's weights by layer name (layers without weights left out)."""
    return {layer.name: [np.array(w) for w in layer.get_weights()] for layer in model.layers if layer.weights}


def load_weights(model, weights: dict[str, list[np.ndarray]]) -> None:
    """Sets every layer of `model` named in `weights`."""
    for name, values in weights.items():
        model.get_layer(name).set_weights(values)


def _identity_kernel(kernel_size: int, channels: int, rank: int) -> np.ndarray:
    kernel = np.zeros((kernel_size,) * rank + (channels, channels), dtype=np.float32)
    centre = (kernel_size // 2,) * rank
    kernel[centre] = np.eye(channels, dtype=np.float32)
    return kernel


def _renamed_for_deeper(weights: dict, architecture: Architecture, node: int) -> dict:
    """The weights under the names the layers get once a layer is inserted at `node` (names from `building`)."""
    prefixes = {
        building.layer_name(index, layer): building.layer_name(index + 1, layer)
        for index, layer in enumerate(architecture.layers)
        if index >= node
    }
    for skip in architecture.skips:
        prefixes[building.skip_name(skip, "proj")] = building.skip_name(_shift(skip, node), "proj")

    def renamed(name: str) -> str:
        for old, new in prefixes.items():
            if name == old or name.startswith(old + "_"):  # a kind that expands into several layers prefixes them
                return new + name[len(old) :]
        return name

    return {renamed(name): values for name, values in weights.items()}


def _consumer_name(architecture: Architecture, node: int) -> tuple[str, Layer | None]:
    index = consumer(architecture, node)
    if index is None:
        return building.HEAD, None
    return building.layer_name(index, architecture.layers[index]), architecture.layers[index]


def _remap_input(
    weights: list[np.ndarray],
    layer: Layer | None,
    positions: int,
    channels: int,
    sources: np.ndarray,
    scale: np.ndarray,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """The consumer's weights when its input channel c' reads old channel sources[c'] scaled by scale[c']
    (source -1: a new channel whose weights are zero)."""
    weights = [w.copy() for w in weights]
    separable = layer is not None and layer.get("separable", False)
    kernel = weights[1] if separable else weights[0]
    if layer is None or layer.kind == "dense":
        # dense (head included): rows are (position, channel) pairs of the flattened input
        blocks = kernel.reshape(positions, channels, -1)
    else:
        blocks = kernel  # conv: (..., in_channels, out_channels)
    gathered = np.take(blocks, np.maximum(sources, 0), axis=-2) * scale.reshape((1,) * (blocks.ndim - 2) + (-1, 1))
    gathered[..., sources < 0, :] = 0.0
    # a zero-sum perturbation within each group of copies breaks their symmetry and keeps the sum
    for old in np.unique(sources[sources >= 0]):
        group = np.flatnonzero(sources == old)
        if len(group) > 1:
            noise = rng.normal(0.0, 1e-3 * (np.std(blocks) + 1e-8), size=gathered[..., group, :].shape)
            gathered[..., group, :] += noise - noise.mean(axis=-2, keepdims=True)
    if layer is None or layer.kind == "dense":
        gathered = gathered.reshape(positions * len(sources), -1)
    if separable:
        depthwise = np.take(weights[0], np.maximum(sources, 0), axis=-2)
        weights[0], weights[1] = depthwise, gathered
    else:
        weights[0] = gathered
    return weights


def _extend_channel_wise(weights: dict, architecture: Architecture, first: int, last: int, sources: np.ndarray) -> None:
    """Channel-wise layers in [first, last) with weights get them for the new channels (copies, or an identity)."""
    for index in range(first, last):
        layer = architecture.layers[index]
        name = building.layer_name(index, layer)
        if name in weights:
            weights[name] = kinds.get(layer.kind).select_channels(layer, weights[name], sources)


def _deepened(weights: dict, architecture: Architecture, move: Move, input_shape: Shape, layout) -> dict:
    """`deeper`: the later layers renamed, the new layer an identity (a centred identity kernel for convolutions)."""
    renamed = _renamed_for_deeper(weights, architecture, move.node)
    shape = layout.shapes[move.node]
    channels = shape[-1]
    new_name = building.layer_name(move.node, apply(architecture, move, input_shape).layers[move.node])
    if len(shape) == 1:
        renamed[new_name] = [np.eye(channels, dtype=np.float32), np.zeros(channels, np.float32)]
    else:
        renamed[new_name] = [_identity_kernel(3, channels, len(shape) - 1), np.zeros(channels, np.float32)]
    return renamed


def _with_add_skip(weights: dict, architecture: Architecture, move: Move, input_shape: Shape, layout) -> dict:
    """`add_skip`: the new skip's projection starts at zero, so the sum is the parent's output."""
    child_layout = building.plan(apply(architecture, move, input_shape), input_shape)
    target_channels = child_layout.alignments[Skip(move.source, move.target, "add")].channels
    source_channels = layout.shapes[move.source][-1]
    rank = len(layout.shapes[move.source]) - 1
    shape = (1,) * rank + (source_channels, target_channels)
    weights[building.skip_name(Skip(move.source, move.target), "proj")] = [np.zeros(shape, np.float32)]
    return weights


def transfer(
    weights: dict[str, list[np.ndarray]],
    architecture: Architecture,
    move: Move,
    input_shape: Iterable[int],
    head: Head | None,
    rng: np.random.Generator,
) -> dict[str, list[np.ndarray]]:
    """The child's weights after `move`, computing the parent's function before any training."""
    input_shape = tuple(input_shape)
    layout = building.plan(architecture, input_shape)
    weights = {name: [w.copy() for w in values] for name, values in weights.items()}
    if move.kind == "deeper":
        return _deepened(weights, architecture, move, input_shape, layout)
    if move.kind == "add_skip":
        return _with_add_skip(weights, architecture, move, input_shape, layout)
    if move.kind == "wider":
        layer = architecture.layers[move.layer]
        name = building.layer_name(move.layer, layer)
        old = layout.shapes[move.layer + 1][-1]
        extra = rng.integers(0, old, size=move.width - old)
        sources = np.concatenate([np.arange(old), extra])
        counts = np.bincount(sources, minlength=old).astype(np.float32)
        produced = weights[name]
        if layer.get("separable", False):
            produced[1] = np.take(produced[1], sources, axis=-1)
        else:
            produced[0] = np.take(produced[0], sources, axis=-1)
        if len(produced) > (2 if layer.get("separable", False) else 1):
            produced[-1] = np.take(produced[-1], sources)
        node, scale = move.layer + 1, 1.0 / counts[sources]
    else:  # concat_skip: the new channels come last and start with zero weight
        old = layout.shapes[move.target][-1]
        added = layout.shapes[move.source][-1]
        sources = np.concatenate([np.arange(old), -np.ones(added, dtype=np.int64)])
        node, scale = move.target, np.ones(len(sources), np.float32)
    end = consumer(architecture, node)
    last = len(architecture.layers) if end is None else end
    _extend_channel_wise(weights, architecture, node, last, sources)
    consumer_name, consumer_layer = _consumer_name(architecture, node)
    if consumer_name == building.HEAD and head is None:
        raise ValueError("this move changes the channels the head reads; pass the head.")
    reads = layout.shapes[last]  # what the consumer reads (in the parent)
    if len(reads) == 1:
        positions = reads[0] // old  # > 1 when a flatten lies in between
    elif consumer_layer is None and head is not None and head.reduce == "flatten":  # None: the head, given above
        positions = int(np.prod(reads[:-1]))
    else:
        positions = 1  # a convolution, a dense layer on the last axis, or a pooled head
    channels = old
    weights[consumer_name] = _remap_input(
        weights[consumer_name], consumer_layer, positions, channels, sources, scale, rng
    )
    return weights


def inherit(
    parent_model,
    parent: Architecture,
    moves: Iterable[Move],
    child_model,
    input_shape: Iterable[int],
    head: Head | None,
    seed: int | None = None,
) -> Architecture:
    """Loads into `child_model` the parent's trained weights carried through `moves`; returns the child's
    architecture (which must be the one `child_model` was built from)."""
    rng = np.random.default_rng(seed)
    weights, architecture = model_weights(parent_model), parent
    for move in moves:
        weights = transfer(weights, architecture, move, input_shape, head, rng)
        architecture = apply(architecture, move, input_shape)
    load_weights(child_model, weights)
    return architecture
