"""One-shot supernets as Keras layers and models (TensorFlow backend).

- `ops`: the candidate operations, as Keras layers and as keras_nas `Layer`s.
- `MixedOp`, `DARTSCell`: a softmax-weighted edge and a search cell of such edges.
- `DARTSSearchModel`: the DARTS search network, trained with `BilevelModel`'s
  bi-level train step (first or second order) on `bilevel_dataset` batches.
- `PCDARTSSearchModel`: PC-DARTS, partial-channel edges with edge normalisation.
- `GDASSearchModel`: GDAS, one Gumbel-sampled op per edge, temperature annealed.
- `CollapseGuard`: DARTS+-style early stopping against all-skip normal cells
  (on by default in every search model's `fit`).
- `Genotype`, `parse_cell`: the discrete cells read off α; `derive()` (and
  `genotype_architecture`) turn them into an `Architecture` of plain Keras
  layers (`cell` layers, see `derived`); `plot_alphas` draws α's history.
- ENAS: `MacroSpace` and `MicroSpace` (children as integer arcs and as
  `Architecture`s), their shared weights (`MacroChildModel`,
  `MicroChildModel`), the LSTM `ENASController`, `ENASSearch` (alternating
  REINFORCE training), `SharedWeightEvaluator` (a cheap score of any child)
  and `ENASStrategy`; `plot_rewards` draws the controller's reward.
- `OneShotStrategy` and its registry (`get_strategy`, `register_strategy`):
  what `NASClassifier(strategy="darts" | "pc_darts" | "gdas" | "enas")` runs.
"""

from keras_nas.supernet.bilevel import BilevelModel, default_arch_optimizer, default_weight_optimizer
from keras_nas.supernet.cell import DARTSCell, edge_inputs, num_edges
from keras_nas.supernet.collapse import CollapseGuard, count_op
from keras_nas.supernet.controller import ENASController
from keras_nas.supernet.data import bilevel_dataset
from keras_nas.supernet.derived import factorized_reduce, genotype_architecture
from keras_nas.supernet.enas import ENASCell, MacroChildModel, MicroChildModel, child_model

# After `strategy`: registers "enas".
from keras_nas.supernet.enas_search import ENASSearch, ENASStrategy, SharedWeightEvaluator
from keras_nas.supernet.enas_spaces import MacroSpace, MicroSpace, make_space
from keras_nas.supernet.gdas import GDASSearchModel, TemperatureSchedule, gumbel_hard_sample
from keras_nas.supernet.genotype import Genotype, parse_cell
from keras_nas.supernet.layers import FactorizedReduce, SearchBatchNorm, Zero
from keras_nas.supernet.mixed import MixedOp, channel_shuffle
from keras_nas.supernet.network import DARTSSearchModel, reduction_indices
from keras_nas.supernet.ops import (
    COMPACT_PRIMITIVES,
    PRIMITIVES,
    SPATIAL_OPS,
    TABULAR_PRIMITIVES,
    build_op,
    describe_op,
)
from keras_nas.supernet.pcdarts import PCDARTSSearchModel, node_softmax
from keras_nas.supernet.plotting import plot_alphas, plot_rewards
from keras_nas.supernet.strategy import (
    STRATEGIES,
    DARTSStrategy,
    GDASStrategy,
    OneShotStrategy,
    PCDARTSStrategy,
    SupernetStrategy,
    get_strategy,
    register_strategy,
)

__all__ = [
    "COMPACT_PRIMITIVES",
    "PRIMITIVES",
    "SPATIAL_OPS",
    "STRATEGIES",
    "TABULAR_PRIMITIVES",
    "BilevelModel",
    "CollapseGuard",
    "DARTSCell",
    "DARTSSearchModel",
    "DARTSStrategy",
    "ENASCell",
    "ENASController",
    "ENASSearch",
    "ENASStrategy",
    "FactorizedReduce",
    "GDASSearchModel",
    "GDASStrategy",
    "Genotype",
    "MacroChildModel",
    "MacroSpace",
    "MicroChildModel",
    "MicroSpace",
    "MixedOp",
    "OneShotStrategy",
    "PCDARTSSearchModel",
    "PCDARTSStrategy",
    "SearchBatchNorm",
    "SharedWeightEvaluator",
    "SupernetStrategy",
    "TemperatureSchedule",
    "Zero",
    "bilevel_dataset",
    "build_op",
    "channel_shuffle",
    "child_model",
    "count_op",
    "default_arch_optimizer",
    "default_weight_optimizer",
    "describe_op",
    "edge_inputs",
    "factorized_reduce",
    "genotype_architecture",
    "get_strategy",
    "gumbel_hard_sample",
    "make_space",
    "node_softmax",
    "num_edges",
    "parse_cell",
    "plot_alphas",
    "plot_rewards",
    "reduction_indices",
    "register_strategy",
]
