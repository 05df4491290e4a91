"""Edit distance between two `Architecture`s (Auto-Keras, KDD 2019, with its defects fixed).

d(a, b) = D_layers(a, b) + skip_weight * D_skips(a, b)

- D_layers is the Levenshtein distance between the two main-path layer lists,
  with insertion and deletion costing 1 and substitution costing 1 between
  layers of different kinds, else their `LayerKind.difference` (the mean
  relative difference of units or filters, kernel size, stride, ...: dense
  width included, unlike Auto-Keras 0.4).
- D_skips matches the two sets of skip connections with the Hungarian
  algorithm (`scipy.optimize.linear_sum_assignment`) and adds the difference in
  their counts. Two skips (u, v) and (u', v') of the same merge cost
  (|u - u'| + |l - l'|) / (max(u, u') + max(l, l')) with l = v - u; different
  merges cost 1.

`ArchitectureDistance` caches layer costs and skip-set distances, and computes
the distances from one architecture to many at once: each Levenshtein row is a
handful of numpy operations over all the others (insertions cost 1, so a row's
left-to-right recurrence is a running minimum).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from keras_nas import layer_kinds
from keras_nas.architecture import Architecture, Layer, Skip


def layer_cost(a: Layer, b: Layer) -> float:
    """Substitution cost of layer a by layer b, in [0, 1]."""
    if a.kind != b.kind:
        return 1.0
    if a == b:
        return 0.0
    return layer_kinds.get(a.kind).difference(a, b) if a.kind in layer_kinds.KINDS else 1.0


def skip_cost(a: Skip, b: Skip) -> float:
    if a.merge != b.merge:
        return 1.0
    length_a, length_b = a.target - a.source, b.target - b.source
    return (abs(a.source - b.source) + abs(length_a - length_b)) / (
        max(a.source, b.source) + max(length_a, length_b)
    )


def skip_distance(a: Sequence[Skip], b: Sequence[Skip]) -> float:
    """Hungarian-matched cost of the two skip sets plus the difference in their sizes."""
    if not a or not b:
        return float(len(a) + len(b))
    costs = np.array([[skip_cost(x, y) for y in b] for x in a])
    rows, cols = linear_sum_assignment(costs)
    return float(costs[rows, cols].sum()) + abs(len(a) - len(b))


class ArchitectureDistance:
    """The edit distance, with caches; call it on two architectures or use `to_many`/`matrix`.

    Args:
        skip_weight: λ, the weight of the skip-connection distance (1 as in the paper).

    Example:

    >>> from keras_nas import Architecture, Layer
    >>> a = Architecture([Layer.of("dense", units=64), Layer.of("dense", units=32)])
    >>> b = Architecture([Layer.of("dense", units=64)])
    >>> ArchitectureDistance()(a, b)
    1.0
    """

    def __init__(self, skip_weight: float = 1.0) -> None:
        self.skip_weight = float(skip_weight)
        self._ids: dict[Layer, int] = {}
        self._layers: list[Layer] = []
        self._costs = np.zeros((0, 0))
        self._skips: dict[tuple, float] = {}

    def _id(self, layer: Layer) -> int:
        index = self._ids.get(layer)
        if index is None:
            index = self._ids[layer] = len(self._layers)
            self._layers.append(layer)
        return index

    def _cost_table(self) -> np.ndarray:
        known, total = self._costs.shape[0], len(self._layers)
        if known < total:
            table = np.zeros((total, total))
            table[:known, :known] = self._costs
            for i in range(total):
                for j in range(max(known, i), total) if i < known else range(i, total):
                    table[i, j] = table[j, i] = layer_cost(self._layers[i], self._layers[j])
            self._costs = table
        return self._costs

    def _skip_distance(self, a: tuple[Skip, ...], b: tuple[Skip, ...]) -> float:
        key = (a, b) if (a, b) <= (b, a) else (b, a)
        value = self._skips.get(key)
        if value is None:
            value = self._skips[key] = skip_distance(a, b)
        return value

    def __call__(self, a: Architecture, b: Architecture) -> float:
        return float(self.to_many(a, [b])[0])

    def to_many(self, a: Architecture, others: Sequence[Architecture]) -> np.ndarray:
        """Distances from `a` to each of `others`."""
        if not others:
            return np.zeros(0)
        row = np.array([self._id(layer) for layer in a.layers], dtype=np.int64)
        lengths = np.array([len(o.layers) for o in others])
        width = int(lengths.max())
        columns = np.zeros((len(others), max(width, 1)), dtype=np.int64)
        for index, other in enumerate(others):
            columns[index, : len(other.layers)] = [self._id(layer) for layer in other.layers]
        costs = self._cost_table()
        steps = np.arange(width + 1, dtype=float)
        previous = np.broadcast_to(steps, (len(others), width + 1)).copy()
        for i, layer_id in enumerate(row, start=1):
            best = np.empty_like(previous)
            best[:, 0] = i
            if width:
                best[:, 1:] = np.minimum(previous[:, 1:] + 1.0, previous[:, :-1] + costs[layer_id][columns[:, :width]])
            previous = np.minimum.accumulate(best - steps, axis=1) + steps
        layers = previous[np.arange(len(others)), lengths]
        skips = np.array([self._skip_distance(a.skips, o.skips) for o in others])
        return layers + self.skip_weight * skips

    def matrix(self, architectures: Sequence[Architecture]) -> np.ndarray:
        """The symmetric matrix of pairwise distances."""
        count = len(architectures)
        result = np.zeros((count, count))
        for index in range(count - 1):
            result[index, index + 1 :] = self.to_many(architectures[index], architectures[index + 1 :])
        return result + result.T
