"""Turning an `Architecture` into shapes, a parameter count and a Keras model.

`plan` walks the main path once and is the single place where shapes and skip
alignment are decided; `count_params` and `build_model` both follow it, so the
count always equals `model.count_params()`.

Skip alignment: a skip whose source has a larger spatial size than its target is
average-pooled by the exact stride between them. An `add` skip always passes
through a bias-free 1x1 convolution (or Dense layer) to the target's channels,
as in Auto-Keras: it fits any widths, and a zero-initialised projection is what
lets the add-skip morphism keep a network's function exactly.

Layer names are deterministic (`conv_3`, `skip_1_4_add`, `head`), so weights can
be matched by name between related architectures; `layer_name` and `skip_name`
are the one place that spells them (the morphisms' weight transfer uses them too).
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Iterable

import keras

from keras_nas.architecture import kinds
from keras_nas.architecture.architecture import Architecture, Head, Layer, Skip

Shape = tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class SkipAlignment:
    """How a skip's source is made to fit its target: pooling stride and projection width."""

    pool: int
    project_from: int  # source channels of an `add` skip's projection; 0 for `concat` and `add_identity`
    channels: int  # target channels before the merge


@dataclasses.dataclass(frozen=True)
class Plan:
    """Shapes and cumulative strides of every node, and how each skip is aligned."""

    shapes: tuple[Shape, ...]
    strides: tuple[int, ...]
    alignments: dict[Skip, SkipAlignment]

    def skips_into(self, node: int) -> list[Skip]:
        return [skip for skip in self.alignments if skip.target == node]


HEAD = "head"  # the name of the head's Dense layer


def layer_name(index: int, layer: Layer) -> str:
    """The Keras name of main-path layer `index` (a kind that expands into several layers prefixes them with it)."""
    return f"{layer.kind}_{index}"


def skip_name(skip: Skip, part: str) -> str:
    """The Keras name of one part of a skip: its merge (`skip.merge`), `"pool"` or `"proj"`."""
    return f"skip_{skip.source}_{skip.target}_{part}"


def _as_shape(input_shape: Iterable[int]) -> Shape:
    shape = tuple(int(d) for d in input_shape)
    if not shape or any(d < 1 for d in shape):
        raise ValueError(f"An input shape needs positive sizes (no batch axis); received {tuple(input_shape)}.")
    return shape


def _align_skip(skip: Skip, source: Shape, source_stride: int, target: Shape, target_stride: int):
    """Returns the skip's alignment and the merged shape, or raises ValueError."""
    if len(source) != len(target):
        raise ValueError(f"{skip} joins tensors of different ranks: {source} and {target}.")
    pool = target_stride // source_stride if len(source) > 1 else 1
    if pool > 1:
        source = tuple(math.ceil(n / pool) for n in source[:-1]) + (source[-1],)
    if source[:-1] != target[:-1]:
        raise ValueError(f"{skip} joins tensors whose sizes cannot be aligned: {source} and {target}.")
    if skip.merge == "add":
        return SkipAlignment(pool, source[-1], target[-1]), target
    if skip.merge == "add_identity":
        if source[-1] != target[-1]:
            raise ValueError(
                f"{skip} adds {source[-1]} channels to {target[-1]} unprojected; an 'add_identity' skip needs equal "
                "widths (use merge='add' to project the source)."
            )
        return SkipAlignment(pool, 0, target[-1]), target
    return SkipAlignment(pool, 0, target[-1]), target[:-1] + (source[-1] + target[-1],)


def plan(architecture: Architecture, input_shape: Iterable[int]) -> Plan:
    """Computes node shapes, raising a ValueError that names the first invalid layer or skip."""
    shape = _as_shape(input_shape)
    skips_into: dict[int, list[Skip]] = defaultdict(list)
    for skip in architecture.skips:
        skips_into[skip.target].append(skip)
    shapes, strides, alignments = [shape], [1], {}
    for index, layer in enumerate(architecture.layers):
        kind = kinds.get(layer.kind)
        try:
            kind.check_nodes(layer, shapes)
            shape = kind.output_shape(layer, shape)
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(
                f"Layer {index} ({layer.describe()}) cannot take an input of shape {shape}: {error}"
            ) from None
        if any(d < 1 for d in shape):
            raise ValueError(f"Layer {index} ({layer.describe()}) produces an empty output of shape {shape}.")
        stride = strides[-1] * kind.stride(layer)
        for skip in skips_into[index + 1]:
            alignments[skip], shape = _align_skip(skip, shapes[skip.source], strides[skip.source], shape, stride)
        shapes.append(shape)
        strides.append(stride)
    return Plan(tuple(shapes), tuple(strides), alignments)


def _head_input(shape: Shape, head: Head) -> int:
    if len(shape) == 1:
        return shape[0]
    return shape[-1] if head.reduce == "avg" else math.prod(shape)


def count_params(architecture: Architecture, input_shape: Iterable[int], head: Head | None = None) -> int:
    """The number of parameters (trainable or not) of the model `build_model` would make."""
    layout = plan(architecture, input_shape)
    total = sum(
        kinds.get(layer.kind).num_params(layer, layout.shapes[index]) for index, layer in enumerate(architecture.layers)
    )
    total += sum(a.project_from * a.channels for a in layout.alignments.values())
    if head is not None:
        total += (_head_input(layout.shapes[-1], head) + 1) * head.units
    return total


def count_flops(architecture: Architecture, input_shape: Iterable[int], head: Head | None = None) -> int:
    """Multiply-adds per example of the model `build_model` would make (`LayerKind.flops`, plus the skips'
    projections and the head)."""
    layout = plan(architecture, input_shape)
    total = sum(
        kinds.get(layer.kind).flops(layer, layout.shapes[index]) for index, layer in enumerate(architecture.layers)
    )
    for skip, alignment in layout.alignments.items():
        target = layout.shapes[skip.target]
        positions = math.prod(target[:-1]) if len(target) > 1 else 1
        total += alignment.project_from * alignment.channels * positions
    if head is not None:
        total += (_head_input(layout.shapes[-1], head) + 1) * head.units
    return total


def _align(tensor, skip: Skip, alignment: SkipAlignment):
    rank = len(tensor.shape) - 2
    if alignment.pool > 1:
        cls = keras.layers.AveragePooling1D if rank == 1 else keras.layers.AveragePooling2D
        tensor = cls(alignment.pool, strides=alignment.pool, padding="same", name=skip_name(skip, "pool"))(tensor)
    if alignment.project_from:
        if rank == 0:
            projection = keras.layers.Dense(alignment.channels, use_bias=False, name=skip_name(skip, "proj"))
        else:
            cls = keras.layers.Conv1D if rank == 1 else keras.layers.Conv2D
            projection = cls(alignment.channels, 1, use_bias=False, name=skip_name(skip, "proj"))
        tensor = projection(tensor)
    return tensor


def build_model(
    architecture: Architecture,
    input_shape: Iterable[int],
    head: Head | None = None,
    name: str | None = None,
) -> keras.Model:
    """Builds the functional Keras model of an architecture (optionally topped by a head)."""
    layout = plan(architecture, input_shape)
    inputs = keras.Input(shape=layout.shapes[0], name="input")
    nodes = [inputs]
    x = inputs
    for index, layer in enumerate(architecture.layers):
        kind = kinds.get(layer.kind)
        x = kind.apply(layer, x, nodes, layout.shapes[index], name=layer_name(index, layer))
        for skip in layout.skips_into(index + 1):
            source = _align(nodes[skip.source], skip, layout.alignments[skip])
            merge = keras.layers.Concatenate if skip.merge == "concat" else keras.layers.Add
            x = merge(name=skip_name(skip, skip.merge))([x, source])
        nodes.append(x)
    if head is not None:
        x = _apply_head(x, head)
    return keras.Model(inputs, x, name=name or "architecture")


def _apply_head(x, head: Head):
    rank = len(x.shape) - 2
    if rank >= 1:
        if head.reduce == "avg":
            cls = keras.layers.GlobalAveragePooling1D if rank == 1 else keras.layers.GlobalAveragePooling2D
            x = cls(name="head_pool")(x)
        else:
            x = keras.layers.Flatten(name="head_flatten")(x)
    # float32 output keeps probabilities exact under mixed precision.
    return keras.layers.Dense(head.units, activation=head.activation, dtype="float32", name=HEAD)(x)
