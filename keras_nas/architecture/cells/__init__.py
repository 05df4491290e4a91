"""DARTS cells as part of the spine: candidate ops, genotypes and the `cell` layer kind's Keras layers.

- `ops`: the candidate operations, as Keras layers (`build_op`) and as
  keras_nas `Layer`s (`describe_op`); the primitive sets.
- `layers`: the Keras layers the ops need (`Zero`, `FactorizedReduce`,
  `SearchBatchNorm`).
- `genotype`: a cell's topology (`num_edges`, `edge_inputs`), `parse_cell`
  (strongest edges of α) and `Genotype`.
- `derived`: a genotype as an `Architecture` of `cell` layers
  (`genotype_architecture`) and a `cell` layer as plain Keras layers.

The one-shot supernets (`keras_nas.oneshot`) search over these cells; the
networks they derive use only what is here.
"""

from keras_nas.architecture.cells.derived import factorized_reduce, genotype_architecture
from keras_nas.architecture.cells.genotype import Genotype, edge_inputs, num_edges, parse_cell
from keras_nas.architecture.cells.layers import FactorizedReduce, SearchBatchNorm, Zero
from keras_nas.architecture.cells.ops import (
    COMPACT_PRIMITIVES,
    PRIMITIVES,
    SPATIAL_OPS,
    TABULAR_PRIMITIVES,
    build_op,
    describe_op,
)

__all__ = [
    "COMPACT_PRIMITIVES",
    "PRIMITIVES",
    "SPATIAL_OPS",
    "TABULAR_PRIMITIVES",
    "FactorizedReduce",
    "Genotype",
    "SearchBatchNorm",
    "Zero",
    "build_op",
    "describe_op",
    "edge_inputs",
    "factorized_reduce",
    "genotype_architecture",
    "num_edges",
    "parse_cell",
]
