"""`DARTSCell`: a DAG of mixed edges over two input nodes."""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Sequence

import keras
from keras import ops

from keras_nas.architecture.cells.genotype import edge_inputs, num_edges
from keras_nas.architecture.cells.ops import PRIMITIVES, build_op
from keras_nas.oneshot.darts.mixed import MixedOp


@keras.saving.register_keras_serializable(package="keras_nas")
class DARTSCell(keras.layers.Layer):
    """A DARTS search cell: 2 inputs, `nodes` intermediate nodes, every edge a `MixedOp`.

    The inputs are the outputs of the cells k-2 and k-1, brought to `channels`
    by ReLU-Conv1x1-BN, or by a `FactorizedReduce` when the k-2 output has
    twice the spatial size (the previous cell reduced). Each intermediate node
    sums one mixed edge from every earlier node; the output concatenates the
    intermediate nodes (`nodes * channels` channels). In a reduction cell the
    edges leaving the two inputs have stride 2.

    `call(s0, s1, weights)` takes the op weights of all edges, shape
    `(num_edges(nodes), len(primitives))`, row order `edge_inputs(nodes)`, and
    optionally PC-DARTS edge weights, shape `(num_edges(nodes),)`, that scale
    each edge's output, and optionally the index of the one op each edge
    computes (GDAS; shape `(num_edges(nodes),)`, see `MixedOp`). `partial` > 1
    makes the edges partial-channel (see `MixedOp`).

    Example:

    >>> import numpy as np
    >>> cell = DARTSCell(4, reduction=True, nodes=2, primitives=("skip_connect", "max_pool_3x3"))
    >>> x = np.ones((1, 8, 8, 6), "float32")
    >>> tuple(cell(x, x, np.full((5, 2), 0.5, "float32")).shape)
    (1, 4, 4, 8)
    """

    def __init__(
        self,
        channels: int,
        reduction: bool = False,
        reduction_prev: bool = False,
        nodes: int = 4,
        primitives: Sequence[str] = PRIMITIVES,
        rank: int = 2,
        partial: int = 1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.channels, self.nodes, self.rank, self.partial = int(channels), int(nodes), int(rank), int(partial)
        self.reduction, self.reduction_prev = bool(reduction), bool(reduction_prev)
        self.primitives = tuple(primitives)
        if self.rank == 0 and (self.reduction or self.reduction_prev):
            raise ValueError("Tabular cells (rank=0) cannot reduce; received reduction=True.")
        project = "dense" if self.rank == 0 else "conv_1x1"
        if self.reduction_prev:
            self.preprocess0 = build_op("skip_connect", self.channels, 2, self.rank)
        else:
            self.preprocess0 = build_op(project, self.channels, 1, self.rank)
        self.preprocess1 = build_op(project, self.channels, 1, self.rank)
        self.edges = [
            MixedOp(self.channels, 2 if self.reduction and j < 2 else 1, self.primitives, self.rank, self.partial)
            for _, j in edge_inputs(self.nodes)
        ]

    @property
    def num_edges(self) -> int:
        return num_edges(self.nodes)

    def build(self, s0_shape, s1_shape, weights_shape=None, edge_weights_shape=None, indices_shape=None):
        # Building from shapes is much cheaper than Keras's default of tracing `call`.
        self.preprocess0.build(s0_shape)
        self.preprocess1.build(s1_shape)
        spatial = tuple(s1_shape[1:-1])
        for (_, j), edge in zip(edge_inputs(self.nodes), self.edges, strict=True):
            edge.build((s1_shape[0], *(spatial if j < 2 else self._reduced(spatial)), self.channels))

    def _reduced(self, spatial):
        return tuple(None if n is None else math.ceil(n / 2) for n in spatial) if self.reduction else spatial

    def compute_output_shape(self, s0_shape, s1_shape, weights_shape=None, edge_weights_shape=None, indices_shape=None):
        return (s1_shape[0], *self._reduced(tuple(s1_shape[1:-1])), self.nodes * self.channels)

    def call(self, s0, s1, weights, edge_weights=None, indices=None, training=None):
        states = [self.preprocess0(s0, training=training), self.preprocess1(s1, training=training)]
        # One unstack per tensor, not one slice per edge: a traced supernet step holds every op of every
        # edge, forward and backward, so each op saved here is saved many times over.
        weights = ops.unstack(weights, axis=0)
        indices = None if indices is None else ops.unstack(indices, axis=0)
        edge_weights = None if edge_weights is None else ops.unstack(edge_weights, axis=0)
        edge = 0
        for _ in range(self.nodes):
            inputs = [
                self.edges[edge + j](
                    state, weights[edge + j], None if indices is None else indices[edge + j], training=training
                )
                for j, state in enumerate(states)
            ]
            if edge_weights is not None:  # PC-DARTS edge normalisation
                inputs = [ops.cast(edge_weights[edge + j], x.dtype) * x for j, x in enumerate(inputs)]
            edge += len(states)
            states.append(functools.reduce(operator.add, inputs))
        return ops.concatenate(states[2:], axis=-1)

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "reduction": self.reduction,
            "reduction_prev": self.reduction_prev,
            "nodes": self.nodes,
            "primitives": list(self.primitives),
            "rank": self.rank,
            "partial": self.partial,
        }
