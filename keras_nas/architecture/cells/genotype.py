"""Reading the discrete cells off the architecture weights, as DARTS does."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

Gene = tuple[tuple[str, int], ...]


def num_edges(nodes: int) -> int:
    """Edges of a cell with `nodes` intermediate nodes: node i has 2 + i inputs (14 for 4 nodes)."""
    return nodes * (nodes + 3) // 2


def edge_inputs(nodes: int) -> list[tuple[int, int]]:
    """(node, input) for every edge, in the order of the rows of α.

    Nodes 0 and 1 are the cell inputs; intermediate node i is node i + 2.
    """
    return [(i + 2, j) for i in range(nodes) for j in range(i + 2)]


def parse_cell(
    weights: np.ndarray,
    primitives: Sequence[str],
    nodes: int,
    keep: int = 2,
    exclude: Sequence[str] = ("none",),
) -> Gene:
    """The `keep` strongest incoming edges of every intermediate node, each with its best op.

    `weights` are the op weights (softmax(α)) of one cell type, shape
    `(num_edges(nodes), len(primitives))`. An edge's strength is its largest
    weight over the ops not in `exclude`; `none` is excluded because its weight
    says little (BatchNormalization absorbs the scale of the other ops).
    Returns `(op, input node)` pairs, `keep` per node, strongest first.

    Example:

    >>> w = np.array([[0.1, 0.9], [0.6, 0.4], [0.5, 0.5], [0.2, 0.8], [0.9, 0.1]])
    >>> parse_cell(w, ("none", "skip_connect"), nodes=2)
    (('skip_connect', 0), ('skip_connect', 1), ('skip_connect', 1), ('skip_connect', 0))
    """
    weights = np.asarray(weights, dtype="float64")
    if weights.shape != (num_edges(nodes), len(primitives)):
        raise ValueError(
            f"Expected op weights of shape {(num_edges(nodes), len(primitives))} for {nodes} nodes and "
            f"{len(primitives)} ops; received {weights.shape}."
        )
    allowed = [o for o, name in enumerate(primitives) if name not in exclude]
    if not allowed:
        raise ValueError(f"Every candidate op is excluded ({list(exclude)}); nothing to derive.")
    gene: list[tuple[str, int]] = []
    start = 0
    for node in range(nodes):
        rows = weights[start : start + node + 2, allowed]
        strongest = sorted(range(node + 2), key=lambda j: -rows[j].max())[:keep]
        gene.extend((primitives[allowed[int(rows[j].argmax())]], j) for j in strongest)
        start += node + 2
    return tuple(gene)


@dataclasses.dataclass(frozen=True)
class Genotype:
    """A derived DARTS network: the `(op, input)` pairs of each cell type and the nodes concatenated.

    Inputs 0 and 1 are the outputs of the two previous cells; intermediate
    node i is node i + 2. Cells without reductions (tabular inputs) leave
    `reduce` empty.
    """

    normal: Gene
    normal_concat: tuple[int, ...]
    reduce: Gene = ()
    reduce_concat: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "normal": [list(pair) for pair in self.normal],
            "normal_concat": list(self.normal_concat),
            "reduce": [list(pair) for pair in self.reduce],
            "reduce_concat": list(self.reduce_concat),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Genotype:
        def gene(key):
            return tuple((str(op), int(j)) for op, j in data.get(key, ()))

        def concat(key):
            return tuple(int(n) for n in data.get(key, ()))

        return cls(gene("normal"), concat("normal_concat"), gene("reduce"), concat("reduce_concat"))
