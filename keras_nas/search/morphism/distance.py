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

import dataclasses
from collections.abc import Sequence
from typing import Any

import keras_tuner
import numpy as np
from scipy.optimize import linear_sum_assignment

from keras_nas.architecture import MERGES, Architecture, Layer, Skip, kinds


def layer_cost(a: Layer, b: Layer) -> float:
    """Substitution cost of layer a by layer b, in [0, 1]."""
    if a.kind != b.kind:
        return 1.0
    if a == b:
        return 0.0
    rules = kinds.find(a.kind)
    return rules.difference(a, b) if rules is not None else 1.0


def skip_cost(a: Skip, b: Skip) -> float:
    if a.merge != b.merge:
        return 1.0
    length_a, length_b = a.target - a.source, b.target - b.source
    return (abs(a.source - b.source) + abs(length_a - length_b)) / (max(a.source, b.source) + max(length_a, length_b))


def _skip_array(skips: Sequence[Skip]) -> np.ndarray:
    """Skips as rows of (source, length, merge code), for `_skip_set_distance`."""
    rows = [(s.source, s.target - s.source, MERGES.index(s.merge)) for s in skips]
    return np.array(rows, dtype=float).reshape(-1, 3)


def _skip_set_distance(a: np.ndarray, b: np.ndarray) -> float:
    """`skip_distance` on `_skip_array`s: the cost matrix in one numpy expression."""
    if not len(a) or not len(b):
        return float(len(a) + len(b))
    x, y = a[:, None, :], b[None, :, :]
    spread = np.abs(x[..., 0] - y[..., 0]) + np.abs(x[..., 1] - y[..., 1])
    costs = np.where(
        x[..., 2] == y[..., 2], spread / (np.maximum(x[..., 0], y[..., 0]) + np.maximum(x[..., 1], y[..., 1])), 1.0
    )
    rows, cols = linear_sum_assignment(costs)
    return float(costs[rows, cols].sum()) + abs(len(a) - len(b))


def skip_distance(a: Sequence[Skip], b: Sequence[Skip]) -> float:
    """Hungarian-matched cost of the two skip sets plus the difference in their sizes."""
    return _skip_set_distance(_skip_array(a), _skip_array(b))


@dataclasses.dataclass(frozen=True)
class Batch:
    """Architectures encoded for `ArchitectureDistance.to_many`: padded layer ids and distinct skip sets."""

    size: int
    columns: np.ndarray
    lengths: np.ndarray
    skip_ids: np.ndarray


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
        # Distinct skip sets get ids, like layers; their distances fill a NaN-initialised matrix.
        self._skip_ids: dict[tuple[Skip, ...], int] = {}
        self._skip_arrays: list[np.ndarray] = []
        self._skips = np.zeros((0, 0))
        # Pairwise distances between the architectures `matrix` has met (NaN: not computed yet).
        self._known_index: dict[Architecture, int] = {}
        self._known_architectures: list[Architecture] = []
        self._known = np.zeros((0, 0))

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

    def _skip_id(self, skips: tuple[Skip, ...]) -> int:
        index = self._skip_ids.get(skips)
        if index is None:
            index = self._skip_ids[skips] = len(self._skip_arrays)
            self._skip_arrays.append(_skip_array(skips))
        return index

    def _skip_distances(self, skip_id: int, others: np.ndarray) -> np.ndarray:
        """Skip-set distances from one set to many (ids), computing only the pairs not met before."""
        size = len(self._skip_arrays)
        if self._skips.shape[0] < size:
            grown = np.full((2 * size, 2 * size), np.nan)
            grown[: self._skips.shape[0], : self._skips.shape[0]] = self._skips
            self._skips = grown
        row = self._skips[skip_id]
        for other in np.unique(others[np.isnan(row[others])]):
            row[other] = self._skips[other, skip_id] = _skip_set_distance(
                self._skip_arrays[skip_id], self._skip_arrays[other]
            )
        return row[others]

    def __call__(self, a: Architecture, b: Architecture) -> float:
        return float(self.to_many(a, [b])[0])

    def _encode(self, architectures: Sequence[Architecture]) -> tuple[np.ndarray, np.ndarray]:
        """Layer ids of each architecture, padded into one array, and the lengths."""
        lengths = np.array([len(a.layers) for a in architectures], dtype=np.int64)
        columns = np.zeros((len(architectures), max(int(lengths.max(initial=0)), 1)), dtype=np.int64)
        for index, architecture in enumerate(architectures):
            columns[index, : lengths[index]] = [self._id(layer) for layer in architecture.layers]
        return columns, lengths

    def _layer_distances(self, row: np.ndarray, columns: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Levenshtein distances from one id sequence to many at once (one numpy row per step)."""
        costs = self._cost_table()
        width = int(lengths.max(initial=0))
        steps = np.arange(width + 1, dtype=float)
        previous = np.broadcast_to(steps, (len(lengths), width + 1)).copy()
        for i, layer_id in enumerate(row, start=1):
            best = np.empty_like(previous)
            best[:, 0] = i
            if width:
                best[:, 1:] = np.minimum(previous[:, 1:] + 1.0, previous[:, :-1] + costs[layer_id][columns[:, :width]])
            previous = np.minimum.accumulate(best - steps, axis=1) + steps
        return previous[np.arange(len(lengths)), lengths]

    def batch(self, architectures: Sequence[Architecture]) -> Batch:
        """`architectures` prepared once for many `to_many` calls (encoded layers, distinct skip sets)."""
        columns, lengths = self._encode(architectures)
        skip_ids = np.array([self._skip_id(a.skips) for a in architectures], dtype=np.int64)
        return Batch(len(architectures), columns, lengths, skip_ids)

    def to_many(self, a: Architecture, others: Sequence[Architecture] | Batch) -> np.ndarray:
        """Distances from `a` to each of `others` (a list, or a `batch` of them)."""
        if not isinstance(others, Batch):
            if not others:
                return np.zeros(0)
            others = self.batch(others)
        if not others.size:
            return np.zeros(0)
        row = np.array([self._id(layer) for layer in a.layers], dtype=np.int64)
        layers = self._layer_distances(row, others.columns, others.lengths)
        return layers + self.skip_weight * self._skip_distances(self._skip_id(a.skips), others.skip_ids)

    def matrix(self, architectures: Sequence[Architecture]) -> np.ndarray:
        """The symmetric matrix of pairwise distances; pairs met before come from the cache."""
        architectures = list(architectures)
        index = np.array([self._index_of(a) for a in architectures], dtype=np.int64)
        self._grow_known(len(self._known_architectures))
        columns, lengths = self._encode(architectures)
        skip_ids = np.array([self._skip_id(a.skips) for a in architectures], dtype=np.int64)
        for row in range(len(architectures) - 1):
            others = np.arange(row + 1, len(architectures))
            missing = others[np.isnan(self._known[index[row], index[others]])]
            if not len(missing):
                continue
            values = self._layer_distances(columns[row, : lengths[row]], columns[missing], lengths[missing])
            values += self.skip_weight * self._skip_distances(skip_ids[row], skip_ids[missing])
            self._known[index[row], index[missing]] = values
            self._known[index[missing], index[row]] = values
        result = self._known[np.ix_(index, index)].copy()
        np.fill_diagonal(result, 0.0)
        return result

    def _index_of(self, architecture: Architecture) -> int:
        position = self._known_index.get(architecture)
        if position is None:
            position = self._known_index[architecture] = len(self._known_architectures)
            self._known_architectures.append(architecture)
        return position

    def _grow_known(self, size: int) -> None:
        if self._known.shape[0] < size:
            grown = np.full((2 * size, 2 * size), np.nan)
            grown[: self._known.shape[0], : self._known.shape[0]] = self._known
            self._known = grown


def hyperparameter_distance(a: dict[str, Any], b: dict[str, Any], space: keras_tuner.HyperParameters) -> float:
    """Distance between two sets of active values: 1 per name in only one set (a subtree present on
    one side only), else the normalised difference of the two values."""
    total = 0.0
    for name in set(a) | set(b):
        if name not in a or name not in b:
            total += 1.0
            continue
        x, y = a[name], b[name]
        if isinstance(x, (int, float)) and not isinstance(x, bool) and isinstance(y, (int, float)):
            top = max(abs(x), abs(y))
            total += abs(x - y) / top if top else 0.0
        else:
            total += float(x != y)
    return total


class HyperparameterDistance:
    """`hyperparameter_distance` as a `gp.Distance` between sets of values, for `DistanceGP`."""

    def __init__(self, space: keras_tuner.HyperParameters) -> None:
        self.space = space

    def batch(self, points: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return list(points)  # nothing to precompute: the values are compared name by name

    def to_many(self, point: dict[str, Any], batch: Sequence[dict[str, Any]]) -> np.ndarray:
        return np.array([hyperparameter_distance(point, other, self.space) for other in batch], dtype=float)

    def matrix(self, points: Sequence[dict[str, Any]]) -> np.ndarray:
        size = len(points)
        return np.array([self.to_many(point, points) for point in points], dtype=float).reshape(size, size)
