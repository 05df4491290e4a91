"""ENAS's shared weights: one Keras model holding every child of a space, run one child at a time.

`MacroChildModel` and `MicroChildModel` take the child's arc (an int32
vector, see `enas_spaces`) as an argument of `call`, so one traced graph runs
whichever child the controller samples at each step. Every op choice is a
`keras.ops.switch`: only the chosen op is computed and only its weights get
gradients, also inside compiled steps. Skip bits (macro) multiply the skipped
tensors; input choices (micro) gather from the stacked candidates. Ops are
built by `ops.build_op` in their search variant (affine-free
BatchNormalization, BN after pooling).
"""

from __future__ import annotations

import math

import keras
from keras import ops

from keras_nas.architecture import Head
from keras_nas.architecture.cells.layers import SearchBatchNorm
from keras_nas.architecture.cells.ops import build_op
from keras_nas.oneshot.darts.network import _stem
from keras_nas.oneshot.enas.spaces import MacroSpace, MicroSpace, Space


def _halve(shape):
    return (shape[0], *(math.ceil(n / 2) for n in shape[1:-1]), shape[-1])


def _pool(x, size: int, kind: str = "avg"):
    pool = ops.average_pool if kind == "avg" else ops.max_pool
    return pool(x, size, strides=size, padding="same")


def _choose(index, candidates, x, training):
    """candidates[index](x): a `switch`, so only the chosen candidate runs."""
    if len(candidates) == 1:
        return candidates[0](x, training=training)
    return ops.switch(index, [lambda t, op=op: op(t, training=training) for op in candidates], x)


class _ChildModel(keras.Model):
    """Stem, body (the subclass's), global pooling and a dense head; `call(x, arc)`."""

    def __init__(self, space: Space, head: Head, stem_channels: int, **kwargs):
        super().__init__(**kwargs)
        self.space, self.output_head = space, head
        self.stem = _stem(stem_channels, space.rank)
        self.head = keras.layers.Dense(head.units, activation=head.activation, name="head")

    def _finish(self, x):
        if self.space.rank:
            x = ops.mean(x, axis=tuple(range(1, self.space.rank + 1)))
        return self.head(x)

    def compute_output_shape(self, input_shape, arc_shape=None):
        return (input_shape[0], self.output_head.units)


class MacroChildModel(_ChildModel):
    """The shared weights of a `MacroSpace`: per layer, one instance of every op and a BatchNormalization.

    Example:

    >>> import numpy as np
    >>> space = MacroSpace((8, 8, 1), num_layers=2, channels=4, ops=("conv_3x3", "max_pool_3x3"))
    >>> model = MacroChildModel(space, Head("classification", 3))
    >>> tuple(model(np.zeros((2, 8, 8, 1), "float32"), np.array([1, 0, 1], "int32")).shape)
    (2, 3)
    """

    def __init__(self, space: MacroSpace, head: Head, **kwargs):
        super().__init__(space, head, space.channels, **kwargs)
        c, rank = space.channels, space.rank
        self.candidates = [[build_op(op, c, 1, rank) for op in space.ops] for _ in range(space.num_layers)]
        # Affine-free, like every search-time BN here: the derived network's BN after a layer has scale and offset.
        self.merge_norms = [SearchBatchNorm(name=f"merge_bn_{i}") for i in range(1, space.num_layers)]
        self.build((None, *space.input_shape))

    def build(self, input_shape):
        # From shapes: tracing `call` would need an arc and runs every op.
        shape = (*tuple(input_shape)[:-1], self.space.channels)
        self.stem.build(tuple(input_shape))
        for i, layer_ops in enumerate(self.candidates):
            for op in layer_ops:
                op.build(shape)
            if i:
                self.merge_norms[i - 1].build(shape)
            if i in self.space.reductions:
                shape = _halve(shape)
        self.head.build((None, self.space.channels))
        self.built = True

    def call(self, inputs, arc, training=None):
        space, arc = self.space, ops.cast(arc, "int32")
        x = self.stem(inputs, training=training)
        outputs, strides, stride = [], [], 1
        for i, (op, bits) in enumerate(space.layer_slices()):
            x = _choose(arc[op], self.candidates[i], x, training)
            for j in range(i):
                # As `building` aligns skips: average-pooled by the stride between the two nodes.
                source = outputs[j] if strides[j] == stride else _pool(outputs[j], stride // strides[j])
                x = x + ops.cast(arc[bits.start + j], x.dtype) * source
            if i:
                x = self.merge_norms[i - 1](x, training=training)
            outputs.append(x)
            strides.append(stride)
            if i in space.reductions:
                x, stride = _pool(x, 2, "max"), stride * 2
        return self._finish(x)


class ENASCell(keras.layers.Layer):
    """A micro-space cell with shared weights: per node and input slot, one instance of every op.

    Reduction cells hold a strided instance (for the cell inputs) and an
    unstrided one (for intermediate nodes) of every op, mirroring the derived
    `cell` layer, whose edges from the cell inputs have stride 2.
    `call(s0, s1, arc)` takes the cell type's `4·nodes` decisions.
    """

    def __init__(self, space: MicroSpace, channels: int, reduction: bool, reduction_prev: bool, **kwargs):
        super().__init__(**kwargs)
        self.space, self.channels = space, int(channels)
        self.reduction, self.reduction_prev = bool(reduction), bool(reduction_prev)
        rank, project = space.rank, ("dense" if space.rank == 0 else "conv_1x1")
        self.preprocess0 = build_op(
            "skip_connect" if reduction_prev else project, channels, 2 if reduction_prev else 1, rank
        )
        self.preprocess1 = build_op(project, channels, 1, rank)
        self.slots = []
        for node in range(space.nodes):
            for _ in range(2):
                strided = [build_op(op, channels, 2, rank) for op in space.ops] if self.reduction else []
                plain = [build_op(op, channels, 1, rank) for op in space.ops] if node or not self.reduction else []
                self.slots.append((strided, plain))

    def build(self, s0_shape, s1_shape, arc_shape=None):
        self.preprocess0.build(s0_shape)
        self.preprocess1.build(s1_shape)
        shape = (*tuple(s1_shape)[:-1], self.channels)
        for strided, plain in self.slots:
            for op in strided:
                op.build(shape)
            for op in plain:
                op.build(_halve(shape) if self.reduction else shape)
        self.built = True

    def compute_output_shape(self, s0_shape, s1_shape, arc_shape=None):
        shape = _halve(s1_shape) if self.reduction else tuple(s1_shape)
        return (*shape[:-1], self.space.nodes * self.channels)

    def call(self, s0, s1, arc, training=None):
        inputs = [self.preprocess0(s0, training=training), self.preprocess1(s1, training=training)]
        nodes = []
        for node in range(self.space.nodes):
            total = None
            for slot in range(2):
                strided, plain = self.slots[2 * node + slot]
                j, o = arc[4 * node + 2 * slot], arc[4 * node + 2 * slot + 1]
                y = self._slot(j, o, inputs, nodes, strided, plain, training)
                total = y if total is None else total + y
            nodes.append(total)
        return ops.concatenate(nodes, axis=-1) if len(nodes) > 1 else nodes[0]

    def _slot(self, j, o, inputs, nodes, strided, plain, training):
        states = inputs + nodes
        if not self.reduction:
            x = ops.take(ops.stack(states), j, axis=0)  # one shape: pick the input, then the op
            return _choose(o, plain, x, training)
        cell_input = ops.take(ops.stack(inputs), ops.minimum(j, 1), axis=0)
        if not nodes:
            return _choose(o, strided, cell_input, training)
        node_input = ops.take(ops.stack(nodes), ops.maximum(j - 2, 0), axis=0)
        branches = [lambda a, b, op=op: op(a, training=training) for op in strided]
        branches += [lambda a, b, op=op: op(b, training=training) for op in plain]
        index = ops.where(j < 2, o, o + len(strided))
        return ops.switch(index, branches, cell_input, node_input)


class MicroChildModel(_ChildModel):
    """The shared weights of a `MicroSpace`: DARTS's network skeleton of `ENASCell`s.

    Example:

    >>> import numpy as np
    >>> space = MicroSpace((8, 8, 1), num_layers=2, channels=4, nodes=2, ops=("skip_connect", "max_pool_3x3"))
    >>> model = MicroChildModel(space, Head("classification", 3))
    >>> arc = np.array([0, 1, 1, 0, 2, 0, 0, 1] * 2, "int32")
    >>> tuple(model(np.zeros((2, 8, 8, 1), "float32"), arc).shape)
    (2, 3)
    """

    def __init__(self, space: MicroSpace, head: Head, **kwargs):
        super().__init__(space, head, 3 * space.channels, **kwargs)
        cells, width, reduction_prev = [], space.channels, False
        for index in range(space.num_layers):
            reduction = index in space.reductions
            width *= 2 if reduction else 1
            cells.append(ENASCell(space, width, reduction, reduction_prev, name=f"enas_cell_{index}"))
            reduction_prev = reduction
        self.cells = cells
        self.build((None, *space.input_shape))

    def build(self, input_shape):
        shape = tuple(input_shape)
        self.stem.build(shape)
        s0 = s1 = (*shape[:-1], 3 * self.space.channels)
        for cell in self.cells:
            cell.build(s0, s1)
            s0, s1 = s1, cell.compute_output_shape(s0, s1)
        self.head.build((None, s1[-1]))
        self.built = True

    def call(self, inputs, arc, training=None):
        arc = ops.cast(arc, "int32")
        size = 4 * self.space.nodes
        s0 = s1 = self.stem(inputs, training=training)
        for cell in self.cells:
            part = arc[size:] if cell.reduction else arc[:size]
            s0, s1 = s1, cell(s0, s1, part, training=training)
        return self._finish(s1)


def child_model(space: Space, head: Head) -> _ChildModel:
    """The shared-weight model of a space."""
    if isinstance(space, MacroSpace):
        return MacroChildModel(space, head)
    return MicroChildModel(space, head)
