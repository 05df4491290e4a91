"""Derived networks: DARTS cells as plain Keras layers, and genotypes as `Architecture`s.

A derived network is what one-shot search hands on: the discrete cells read
off the supernet, trained from scratch. It is an ordinary `Architecture`:

    conv(3C, 3x3, no bias) > batch_norm > cell > cell > … > global_pool

(tabular inputs: a bias-free `dense` stem and no pooling). Each `cell` layer
(`Cell`, below) has the parameters

| parameter | meaning |
|---|---|
| gene | `(op, input)` pairs, `keep` per intermediate node (as `parse_cell` returns them) |
| concat | the nodes concatenated into the output |
| filters | C, the channels of every node |
| reduction | True: the edges leaving the two inputs have stride 2 |
| input0_channels | channels of the first input, the node `input0` steps back |
| input0 | 2 (the layer before the previous one, DARTS's cell k-2) or 1 (the main-path input again: the first cell) |
| keep | incoming edges per node (2) |

and expands into plain Keras layers only: the first input is brought to C
channels by ReLU-Conv1x1-BN, or by a factorized reduction (ReLU, two stride-2
1x1 convolutions, one shifted by a step, concatenated, BN) when it has twice
the main input's spatial size; the second by ReLU-Conv1x1-BN; every edge is
its op's layers as `ops.describe_op` lists them (BatchNormalization with scale
and offset, pooling without one); nodes are `Add`s and the output a
`Concatenate`. Layer names derive from the cell's name (`cell_3_n2_0_conv`),
so they are deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import keras

from keras_nas.architecture import kinds
from keras_nas.architecture.architecture import Architecture, Layer
from keras_nas.architecture.cells.genotype import Genotype
from keras_nas.architecture.cells.ops import describe_op
from keras_nas.architecture.kinds import LayerKind, register_kind

Shape = tuple[int, ...]


def _gene(layer: Layer) -> list[tuple[str, int]]:
    return [(str(op), int(j)) for op, j in layer["gene"]]


def _nodes(layer: Layer) -> int:
    """Intermediate nodes of a cell, checking its gene and concat."""
    gene, keep = _gene(layer), int(layer.get("keep", 2))
    if not gene or keep < 1 or len(gene) % keep:
        raise ValueError(f"A cell gene needs `keep`={keep} (op, input) pairs per node; received {len(gene)} pairs.")
    nodes = len(gene) // keep
    for index, (op, j) in enumerate(gene):
        node = 2 + index // keep
        if op == "none":
            raise ValueError(f"Node {node} of the cell keeps the op 'none'; derived cells take real ops only.")
        if not 0 <= j < node:
            raise ValueError(f"Node {node} of the cell reads node {j}; it can read nodes 0 to {node - 1}.")
    if int(layer["filters"]) < 2:  # a factorized reduction splits the filters in two halves
        raise ValueError(f"A cell needs filters >= 2; received filters={layer['filters']}.")
    concat = [int(n) for n in layer["concat"]]
    if not concat or any(not 2 <= n < 2 + nodes for n in concat):
        raise ValueError(f"A cell with {nodes} nodes concatenates nodes 2 to {nodes + 1}; received concat={concat}.")
    return nodes


def _rank(shape: Shape) -> int:
    if len(shape) not in (1, 2, 3):
        raise ValueError(
            f"A cell takes a shape (features,), (steps, channels) or (height, width, channels); received {shape}."
        )
    return len(shape) - 1


def _edge_strides(layer: Layer, j: int) -> int:
    return 2 if layer.get("reduction", False) and j < 2 else 1


def cell_output_shape(layer: Layer, shape: Shape) -> Shape:
    _nodes(layer)
    if _rank(shape) == 0 and layer.get("reduction", False):
        raise ValueError("A tabular cell cannot reduce.")
    spatial = tuple(math.ceil(n / 2) for n in shape[:-1]) if layer.get("reduction", False) else shape[:-1]
    return (*spatial, len(layer["concat"]) * int(layer["filters"]))


def check_cell_inputs(layer: Layer, shapes: Sequence[Shape]) -> None:
    """Checks the first input's node: it exists, has `input0_channels` and the same or twice the spatial size."""
    back = int(layer.get("input0", 2))
    if back not in (1, 2) or back > len(shapes):
        raise ValueError(f"A cell's first input is 1 or 2 nodes back and must exist; received input0={back}.")
    first, main = shapes[-back], shapes[-1]
    if first[-1] != int(layer["input0_channels"]):
        raise ValueError(
            f"The cell's first input has {first[-1]} channels, not input0_channels={layer['input0_channels']}."
        )
    if len(first) != len(main) or (
        first[:-1] != main[:-1] and tuple(math.ceil(n / 2) for n in first[:-1]) != main[:-1]
    ):
        raise ValueError(f"The cell's inputs have shapes {first} and {main}: sizes must be equal or halve.")


def _op_layers(op: str, filters: int, strides: int, rank: int) -> list[Layer] | None:
    """The op's layers; None for a factorized reduction (a strided skip)."""
    if op == "skip_connect":
        return [] if strides == 1 else None
    return describe_op(op, filters, strides, rank)


def _chain_params(layers: Sequence[Layer], shape: Shape) -> int:
    total = 0
    for layer in layers:
        kind = kinds.get(layer.kind)
        total += kind.num_params(layer, shape)
        shape = kind.output_shape(layer, shape)
    return total


def _live_nodes(layer: Layer) -> set[int]:
    """The nodes the cell's output depends on: a Keras model drops the layers of the others (e.g. an unread input)."""
    gene, keep = _gene(layer), int(layer.get("keep", 2))
    live = {int(n) for n in layer["concat"]}
    for node in range(1 + len(gene) // keep, 1, -1):  # edges point backwards: one pass from the last node
        if node in live:
            live.update(j for _, j in gene[(node - 2) * keep : (node - 1) * keep])
    return live


def cell_num_params(layer: Layer, shape: Shape) -> int:
    _nodes(layer)
    rank, filters = _rank(shape), int(layer["filters"])
    unit = (1,) * rank + (filters,)  # spatial sizes do not change parameter counts
    live, keep = _live_nodes(layer), int(layer.get("keep", 2))
    # Either preprocessing of input 0 (conv 1x1, or the two halves of a factorized reduction) has c0·C weights.
    total = (int(layer["input0_channels"]) * filters + 4 * filters) * (0 in live)
    total += (shape[-1] * filters + 4 * filters) * (1 in live)
    for index, (op, j) in enumerate(_gene(layer)):
        if 2 + index // keep not in live:
            continue
        layers = _op_layers(op, filters, _edge_strides(layer, j), rank)
        total += filters * filters + 4 * filters if layers is None else _chain_params(layers, unit)
    return total


# -- building --------------------------------------------------------------
def _relu_conv_bn(x, filters: int, name: str):
    rank = len(x.shape) - 2
    x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
    if rank == 0:
        x = keras.layers.Dense(filters, use_bias=False, name=f"{name}_dense")(x)
    else:
        conv = keras.layers.Conv1D if rank == 1 else keras.layers.Conv2D
        x = conv(filters, 1, padding="same", use_bias=False, name=f"{name}_conv")(x)
    return keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)


def factorized_reduce(x, filters: int, name: str):
    """DARTS's factorized reduction from plain layers (the derived twin of `FactorizedReduce`)."""
    rank = len(x.shape) - 2
    x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
    # Pad at the end, then crop at the start: the one-step shift of `FactorizedReduce`.
    if rank == 1:
        conv = keras.layers.Conv1D
        shifted = keras.layers.ZeroPadding1D((0, 1), name=f"{name}_pad")(x)
        shifted = keras.layers.Cropping1D((1, 0), name=f"{name}_crop")(shifted)
    else:
        conv = keras.layers.Conv2D
        shifted = keras.layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"{name}_pad")(x)
        shifted = keras.layers.Cropping2D(((1, 0), (1, 0)), name=f"{name}_crop")(shifted)
    half = filters // 2
    first = conv(half, 1, strides=2, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    second = conv(filters - half, 1, strides=2, padding="same", use_bias=False, name=f"{name}_conv2")(shifted)
    x = keras.layers.Concatenate(name=f"{name}_concat")([first, second])
    return keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)


def _apply_op(x, op: str, filters: int, strides: int, name: str):
    rank = len(x.shape) - 2
    layers = _op_layers(op, filters, strides, rank)
    if layers is None:
        return factorized_reduce(x, filters, name)
    shape = tuple(int(n) for n in x.shape[1:])
    for index, layer in enumerate(layers):
        x = kinds.get(layer.kind).apply(layer, x, [x], shape, f"{name}_{index}_{layer.kind}")
        shape = kinds.get(layer.kind).output_shape(layer, shape)
    return x


def apply_cell(layer: Layer, s0: Any, s1: Any, name: str) -> Any:
    """The output tensor of a `cell` layer on inputs s0 (cell k-2) and s1 (cell k-1)."""
    nodes, filters, keep = _nodes(layer), int(layer["filters"]), int(layer.get("keep", 2))
    if len(s0.shape) > 2 and s0.shape[1] != s1.shape[1]:  # the cell before reduced: halve s0 too
        s0 = factorized_reduce(s0, filters, f"{name}_pre0")
    else:
        s0 = _relu_conv_bn(s0, filters, f"{name}_pre0")
    states = [s0, _relu_conv_bn(s1, filters, f"{name}_pre1")]
    gene = _gene(layer)
    for node in range(2, 2 + nodes):
        inputs = [
            _apply_op(states[j], op, filters, _edge_strides(layer, j), f"{name}_n{node}_{k}")
            for k, (op, j) in enumerate(gene[(node - 2) * keep : (node - 1) * keep])
        ]
        states.append(inputs[0] if len(inputs) == 1 else keras.layers.Add(name=f"{name}_n{node}_add")(inputs))
    outputs = [states[n] for n in layer["concat"]]
    return outputs[0] if len(outputs) == 1 else keras.layers.Concatenate(name=f"{name}_concat")(outputs)


# -- genotypes as architectures ------------------------------------------------
@register_kind
class Cell(LayerKind):
    """A DARTS cell (the `cell` kind), expanded into plain Keras layers by `apply_cell`."""

    name = "cell"
    defaults: ClassVar[dict[str, Any]] = {"reduction": False, "input0": 2, "keep": 2}
    numeric = ("filters",)
    categorical = ("gene", "concat", "reduction")

    def output_shape(self, layer, shape):
        return cell_output_shape(layer, shape)

    def num_params(self, layer, shape):
        return cell_num_params(layer, shape)

    def stride(self, layer):
        return 2 if layer.get("reduction", False) else 1

    def check_nodes(self, layer, shapes):
        check_cell_inputs(layer, shapes)

    def to_keras(self, layer, shape, name):
        raise TypeError("A 'cell' layer reads two nodes and has no single Keras layer; build it with `apply`.")

    def apply(self, layer, x, nodes, shape, name):
        return apply_cell(layer, nodes[-int(layer.get("input0", 2))], x, name)

    def describe(self, layer):
        return f"{'reduce' if layer.get('reduction', False) else 'normal'}cell{layer['filters']}"

    def examples(self):
        spatial = Genotype(
            normal=(("sep_conv_3x3", 0), ("dil_conv_5x5", 1), ("avg_pool_3x3", 2), ("skip_connect", 0)),
            normal_concat=(2, 3),
            reduce=(("skip_connect", 0), ("max_pool_3x3", 1), ("sep_conv_5x5", 2), ("dil_conv_3x3", 1)),
            reduce_concat=(2, 3),
        )
        tabular = Genotype((("dense_8", 0), ("skip_connect", 1), ("dense", 2), ("skip_connect", 0)), (2, 3))
        return [
            (genotype_architecture(spatial, (9, 9, 3), channels=4, num_cells=3, reductions=(1, 2)).layers, (9, 9, 3)),
            (genotype_architecture(spatial, (11, 2), channels=4, num_cells=2, reductions=(1,)).layers, (11, 2)),
            (genotype_architecture(tabular, (6,), channels=4, num_cells=2).layers, (6,)),
        ]


def genotype_architecture(
    genotype: Genotype,
    input_shape: Sequence[int],
    channels: int,
    num_cells: int,
    reductions: Sequence[int] = (),
    keep: int = 2,
) -> Architecture:
    """The derived network of a genotype: stem, `num_cells` cells (reducing at `reductions`), global pooling.

    Mirrors `DARTSSearchModel`: a 3C stem, C channels in the first cells,
    doubled at every reduction cell; `keep` is the genotype's edges per node.
    Top it with a `Head` to build it.

    Example:

    >>> g = Genotype((("sep_conv_3x3", 0), ("skip_connect", 1)), (2,), (("max_pool_3x3", 0), ("skip_connect", 1)), (2,))
    >>> genotype_architecture(g, (8, 8, 1), channels=4, num_cells=2, reductions=(1,)).summary()
    'conv12k3 > bn > normalcell4 > reducecell8 > globalavg'
    """
    rank = len(tuple(input_shape)) - 1
    if rank == 0 and reductions:
        raise ValueError(f"Tabular networks cannot reduce; received reductions={tuple(reductions)}.")
    if any(not 0 <= r < num_cells for r in reductions):
        raise ValueError(
            f"Reduction cells must be among the {num_cells} cells; received reductions={tuple(reductions)}."
        )
    if reductions and not genotype.reduce:
        raise ValueError("The genotype has no reduction cell, but the network reduces.")
    stem = 3 * int(channels)
    if rank == 0:
        layers = [Layer.of("dense", units=stem, use_bias=False), Layer.of("batch_norm")]
    else:
        layers = [Layer.of("conv", filters=stem, kernel_size=3, use_bias=False), Layer.of("batch_norm")]
    width, previous, current = int(channels), stem, stem
    for index in range(int(num_cells)):
        reduction = index in reductions
        width *= 2 if reduction else 1
        if reduction:
            gene, concat = genotype.reduce, genotype.reduce_concat
        else:
            gene, concat = genotype.normal, genotype.normal_concat
        layers.append(
            Layer.of(
                "cell",
                gene=gene,
                concat=concat,
                filters=width,
                reduction=reduction,
                input0_channels=previous if index else current,
                input0=2 if index else 1,
                keep=keep,
            )
        )
        previous, current = current, len(concat) * width
    if rank:
        layers.append(Layer.of("global_pool"))
    return Architecture(layers)
