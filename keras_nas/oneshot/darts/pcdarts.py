"""`PCDARTSSearchModel`: DARTS with partial-channel edges and edge normalisation (PC-DARTS)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from keras import ops

from keras_nas.oneshot.darts.cell import DARTSCell, num_edges
from keras_nas.oneshot.darts.network import DARTSSearchModel


def node_softmax(edge_logits, nodes: int):
    """Softmax of per-edge logits over the incoming edges of each intermediate node (2, 3, 4, … edges)."""
    parts, start = [], 0
    for node in range(nodes):
        parts.append(ops.softmax(edge_logits[start : start + node + 2], axis=-1))
        start += node + 2
    return ops.concatenate(parts, axis=0)


class PCDARTSSearchModel(DARTSSearchModel):
    """PC-DARTS (Xu et al., ICLR 2020): a `DARTSSearchModel` whose edges see 1/K of the channels.

    On every edge only the first `channels // partial_channels` channels go
    through the candidate ops; the rest bypass them and the edge output is
    channel-shuffled, so the ops hold about 1/K of DARTS's activations.
    Edge normalisation adds float32 architecture variables `betas_normal` and
    `betas_reduce` (one per edge): each node weights its incoming edges by a
    softmax of their β, and the genotype ranks edges by softmax(α) times those
    weights. Training is `BilevelModel`'s (first or second order). Not done
    here: the PC-DARTS script's α warm-up (α frozen for 15 of 50 epochs).

    Args:
        input_shape, num_classes: as for `DARTSSearchModel`.
        partial_channels: K, which must divide the channels of every cell (C, 2C, 4C).
        **kwargs: the other `DARTSSearchModel` arguments.

    Example:

    >>> model = PCDARTSSearchModel((8, 8, 1), 10, partial_channels=2, channels=4, num_cells=3,
    ...                            nodes=2, primitives=("none", "skip_connect", "sep_conv_3x3"))
    >>> [v.name for v in model.arch_variables]
    ['alphas_normal', 'alphas_reduce', 'betas_normal', 'betas_reduce']
    """

    def __init__(self, input_shape: Sequence[int], num_classes: int, partial_channels: int = 4, **kwargs):
        # Set before the base constructor, which makes the cells.
        self.partial_channels = int(partial_channels)
        super().__init__(input_shape, num_classes, **kwargs)

    def _make_cell(self, width, reduction, reduction_prev, name):
        return DARTSCell(
            width, reduction, reduction_prev, self.nodes, self.primitives, self.rank, self.partial_channels, name=name
        )

    def _create_arch_weights(self, reduces):
        super()._create_arch_weights(reduces)
        edges = (num_edges(self.nodes),)
        self.betas_normal = self.add_arch_weight("betas_normal", edges, self._arch_initializer(2))
        self.betas_reduce = self.add_arch_weight("betas_reduce", edges, self._arch_initializer(3)) if reduces else None

    def _cell_weights(self, reduction):
        betas = self.betas_reduce if reduction else self.betas_normal
        return (*super()._cell_weights(reduction), node_softmax(betas, self.nodes))

    def _edge_op_weights(self):
        weights = self.arch_weights()
        betas = {"normal": self.betas_normal, "reduce": self.betas_reduce}
        return {kind: w * np.asarray(node_softmax(betas[kind], self.nodes))[:, None] for kind, w in weights.items()}

    def get_config(self):
        return {**super().get_config(), "partial_channels": self.partial_channels}
