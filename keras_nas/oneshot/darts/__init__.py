"""DARTS-family supernets: a cell of softmax-weighted mixed edges, trained bi-level.

- `mixed`: `MixedOp`, one edge's weighted sum of candidate ops.
- `cell`: `DARTSCell`, a DAG of mixed edges over two input nodes.
- `network`: `DARTSSearchModel`, the stacked search network.
- `bilevel`: `BilevelModel`'s first- and second-order bi-level train step.
- `pcdarts`: PC-DARTS (partial channels, edge normalisation).
- `gdas`: GDAS (one Gumbel-sampled op per edge, annealed temperature).
"""

from keras_nas.oneshot.darts.bilevel import BilevelModel, default_arch_optimizer, default_weight_optimizer
from keras_nas.oneshot.darts.cell import DARTSCell
from keras_nas.oneshot.darts.gdas import GDASSearchModel, TemperatureSchedule, gumbel_hard_sample
from keras_nas.oneshot.darts.mixed import MixedOp, channel_shuffle
from keras_nas.oneshot.darts.network import DARTSSearchModel, reduction_indices
from keras_nas.oneshot.darts.pcdarts import PCDARTSSearchModel, node_softmax

__all__ = [
    "BilevelModel",
    "DARTSCell",
    "DARTSSearchModel",
    "GDASSearchModel",
    "MixedOp",
    "PCDARTSSearchModel",
    "TemperatureSchedule",
    "channel_shuffle",
    "default_arch_optimizer",
    "default_weight_optimizer",
    "gumbel_hard_sample",
    "node_softmax",
    "reduction_indices",
]
