"""ENAS search spaces: what a child is, as integers (an *arc*) and as an `Architecture`.

An arc is a flat vector of integers, the controller's decisions in order:

- `MacroSpace` (ENAS's macro space): for every layer i, the index of its op,
  then i skip bits (1: the output of earlier layer j is added to layer i's
  op output). Length `L + L(L-1)/2`.
- `MicroSpace` (ENAS's micro space): for every intermediate node of the normal
  cell, then of the reduction cell, `(input, op, input, op)`; inputs 0 and 1
  are the two cell inputs, input k ≥ 2 is intermediate node k - 2. Length
  `4·nodes` per cell type.

Both spaces draw their ops from `keras_nas.architecture.cells.ops`, and turn an arc
into an ordinary `Architecture` of plain Keras layers (`to_architecture`) and
back (`arc_of`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from keras_nas.architecture import Architecture, Layer, Skip
from keras_nas.architecture.cells.derived import genotype_architecture
from keras_nas.architecture.cells.genotype import Genotype
from keras_nas.architecture.cells.ops import describe_op
from keras_nas.oneshot.darts.network import reduction_indices

MACRO_OPS = ("conv_3x3", "sep_conv_3x3", "sep_conv_5x5", "max_pool_3x3", "avg_pool_3x3")
MICRO_OPS = ("sep_conv_3x3", "sep_conv_5x5", "avg_pool_3x3", "max_pool_3x3", "skip_connect")
TABULAR_ENAS_OPS = ("dense", "dense_64", "skip_connect")


def _rank(input_shape: Sequence[int]) -> int:
    rank = len(tuple(input_shape)) - 1
    if rank not in (0, 1, 2):
        raise ValueError(
            "ENAS spaces take examples of shape (features,), (steps, channels) or (height, width, channels); "
            f"received input_shape={tuple(input_shape)}."
        )
    return rank


def _check_ops(ops: Sequence[str], rank: int) -> tuple[str, ...]:
    ops = tuple(ops)
    if not ops:
        raise ValueError("An ENAS space needs at least one op; received ops=().")
    if "none" in ops:
        raise ValueError("ENAS children compute real ops only; remove 'none' from ops.")
    for op in ops:
        describe_op(op, 2, 1, rank)  # raises a ValueError naming the known ops
    return ops


@dataclasses.dataclass(frozen=True)
class MacroSpace:
    """ENAS's macro space: `num_layers` layers, each an op on the previous layer plus skips from earlier layers.

    Layer i computes `op_i(x)`, adds the outputs of the earlier layers its skip
    bits select (average-pooled to its size) and, from the second layer on,
    applies BatchNormalization. A stem (conv 3x3 or dense, `channels` wide,
    and BN) comes first, global pooling last; max-pooling by 2 follows the
    layers in `reductions` (default: at 1/3 and 2/3 of the depth; none for
    tabular data; never after the last layer). All layers have `channels`
    channels.
    """

    input_shape: tuple[int, ...]
    num_layers: int = 6
    channels: int = 16
    ops: tuple[str, ...] = ()
    reductions: tuple[int, ...] | None = None

    kind = "macro"

    def __post_init__(self) -> None:
        shape = tuple(int(n) for n in self.input_shape)
        rank = _rank(shape)
        if int(self.num_layers) < 1 or int(self.channels) < 2:
            raise ValueError(
                f"A macro space needs num_layers >= 1 and channels >= 2; received num_layers={self.num_layers}, "
                f"channels={self.channels}."
            )
        ops = _check_ops(self.ops or (TABULAR_ENAS_OPS if rank == 0 else MACRO_OPS), rank)
        if self.reductions is None and rank:  # DARTS's 1/3 and 2/3, but never right before the global pooling
            requested: Sequence[int] | None = [
                r for r in reduction_indices(int(self.num_layers)) if r < int(self.num_layers) - 1
            ]
        else:
            requested = self.reductions
        reductions = tuple(sorted({int(r) for r in requested or ()}))
        if reductions and (rank == 0 or not all(0 <= r < int(self.num_layers) for r in reductions)):
            raise ValueError(
                f"reductions must be layer indices below num_layers={self.num_layers} (images and sequences only); "
                f"received reductions={self.reductions}."
            )
        for name, value in (
            ("input_shape", shape),
            ("num_layers", int(self.num_layers)),
            ("channels", int(self.channels)),
            ("ops", ops),
            ("reductions", reductions),
        ):
            object.__setattr__(self, name, value)

    @property
    def rank(self) -> int:
        return len(self.input_shape) - 1

    @property
    def arc_length(self) -> int:
        return self.num_layers * (self.num_layers + 1) // 2

    def layer_slices(self) -> list[tuple[int, slice]]:
        """Per layer, the arc position of its op and the slice of its skip bits."""
        out, position = [], 0
        for i in range(self.num_layers):
            out.append((position, slice(position + 1, position + 1 + i)))
            position += 1 + i
        return out

    def check_arc(self, arc: Sequence[int] | np.ndarray) -> np.ndarray:
        arc = np.asarray(arc, dtype="int64").reshape(-1)
        if arc.shape != (self.arc_length,):
            raise ValueError(
                f"A macro arc of {self.num_layers} layers has {self.arc_length} entries; received {arc.size}."
            )
        for op, skips in self.layer_slices():
            if not 0 <= arc[op] < len(self.ops) or not np.isin(arc[skips], (0, 1)).all():
                raise ValueError(f"Arc entries out of range (ops < {len(self.ops)}, skip bits 0/1): {arc.tolist()}.")
        return arc

    def random_arc(self, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """A child drawn uniformly from the space (ops uniform, skip bits fair coins): the random-search baseline."""
        rng = np.random.default_rng(seed)
        return np.asarray(
            [v for i in range(self.num_layers) for v in (rng.integers(len(self.ops)), *rng.integers(0, 2, i))],
            dtype="int64",
        )

    def to_architecture(self, arc: Sequence[int] | np.ndarray) -> Architecture:
        """The child as an `Architecture`; its skips are `add_identity` (unprojected), as the child adds them."""
        arc = self.check_arc(arc)
        if self.rank == 0:
            layers = [Layer.of("dense", units=self.channels, use_bias=False), Layer.of("batch_norm")]
        else:
            layers = [Layer.of("conv", filters=self.channels, kernel_size=3, use_bias=False), Layer.of("batch_norm")]
        assert self.reductions is not None  # __post_init__ makes it a tuple
        outputs: list[int] = []
        skips: list[Skip] = []
        for i, (op, bits) in enumerate(self.layer_slices()):
            layers.extend(describe_op(self.ops[arc[op]], self.channels, 1, self.rank))
            skips.extend(Skip(outputs[j], len(layers), "add_identity") for j, bit in enumerate(arc[bits]) if bit)
            if i:
                layers.append(Layer.of("batch_norm"))
            outputs.append(len(layers))
            if i in self.reductions:
                layers.append(Layer.of("pool", pool="max", size=2))
        if self.rank:
            layers.append(Layer.of("global_pool"))
        return Architecture(layers, skips)

    def arc_of(self, architecture: Architecture) -> np.ndarray:
        """The arc whose `to_architecture` is `architecture`; ValueError if it is no child of this space."""
        assert self.reductions is not None  # __post_init__ makes it a tuple
        layers, position = architecture.layers, 2
        arc: list[int] = []
        outputs: list[int] = []
        for i in range(self.num_layers):
            for index, op in enumerate(self.ops):  # noqa: B007 (index is read after the loop)
                described = describe_op(op, self.channels, 1, self.rank)
                if tuple(layers[position : position + len(described)]) == tuple(described):
                    break
            else:
                raise ValueError(
                    f"The architecture is not a child of this macro space: its layer {i} is none of the ops "
                    f"{list(self.ops)} ({architecture.summary()})."
                )
            position += len(described)
            sources = {s.source for s in architecture.skips if s.target == position}
            arc += [index, *(int(node in sources) for node in outputs)]
            position += 1 if i else 0
            outputs.append(position)
            position += 1 if i in self.reductions else 0
        found = np.asarray(arc, dtype="int64")
        if self.to_architecture(found) != architecture:
            raise ValueError(f"The architecture is not a child of this macro space: {architecture.summary()}.")
        return found

    def describe(self) -> dict:
        assert self.reductions is not None  # __post_init__ makes it a tuple
        return {
            "space": self.kind,
            "num_layers": self.num_layers,
            "channels": self.channels,
            "ops": list(self.ops),
            "reductions": list(self.reductions),
        }


@dataclasses.dataclass(frozen=True)
class MicroSpace:
    """ENAS's micro space: DARTS-style cells whose nodes each sum two ops on two chosen inputs.

    The network is DARTS's (`genotype_architecture`): a 3C stem, `num_layers`
    cells with reductions at 1/3 and 2/3 of the depth (never the first cell;
    none for tabular data), global pooling. Node k of a cell computes `op_a(input_a) + op_b(input_b)`,
    inputs among the two cell inputs and the earlier nodes; ops reading a cell
    input of a reduction cell have stride 2; the cell concatenates all its
    intermediate nodes. Normal and reduction cells have one arc each, shared by
    all cells of the type.
    """

    input_shape: tuple[int, ...]
    num_layers: int = 3
    channels: int = 8
    ops: tuple[str, ...] = ()
    nodes: int = 3

    kind = "micro"

    def __post_init__(self) -> None:
        shape = tuple(int(n) for n in self.input_shape)
        rank = _rank(shape)
        if int(self.num_layers) < 1 or int(self.nodes) < 1 or int(self.channels) < 2:
            raise ValueError(
                "A micro space needs num_layers >= 1, nodes >= 1 and channels >= 2; received "
                f"num_layers={self.num_layers}, nodes={self.nodes}, channels={self.channels}."
            )
        ops = _check_ops(self.ops or (TABULAR_ENAS_OPS if rank == 0 else MICRO_OPS), rank)
        for name, value in (
            ("input_shape", shape),
            ("num_layers", int(self.num_layers)),
            ("channels", int(self.channels)),
            ("ops", ops),
            ("nodes", int(self.nodes)),
        ):
            object.__setattr__(self, name, value)

    @property
    def rank(self) -> int:
        return len(self.input_shape) - 1

    @property
    def reductions(self) -> tuple[int, ...]:
        # DARTS's 1/3 and 2/3 of the depth, but the first cell stays normal, so a normal cell always exists.
        return tuple(r for r in reduction_indices(self.num_layers) if r) if self.rank else ()

    @property
    def cell_types(self) -> int:
        """1 (normal cells only) or 2 (normal and reduction cells)."""
        return 2 if self.reductions else 1

    @property
    def arc_length(self) -> int:
        return 4 * self.nodes * self.cell_types

    def check_arc(self, arc: Sequence[int] | np.ndarray) -> np.ndarray:
        arc = np.asarray(arc, dtype="int64").reshape(-1)
        if arc.shape != (self.arc_length,):
            raise ValueError(f"A micro arc of this space has {self.arc_length} entries; received {arc.size}.")
        for start in range(0, arc.size, 4):
            node = 2 + (start // 4) % self.nodes
            inputs, ops = arc[start : start + 4 : 2], arc[start + 1 : start + 4 : 2]
            if not ((inputs >= 0) & (inputs < node)).all() or not ((ops >= 0) & (ops < len(self.ops))).all():
                raise ValueError(f"Arc entries out of range (node {node} reads 0..{node - 1}): {arc.tolist()}.")
        return arc

    def genotype(self, arc: Sequence[int] | np.ndarray) -> Genotype:
        arc = self.check_arc(arc)

        def gene(part):
            return tuple((self.ops[o], int(j)) for j, o in zip(part[0::2], part[1::2], strict=True))

        concat = tuple(range(2, 2 + self.nodes))
        size = 4 * self.nodes
        if self.cell_types == 1:
            return Genotype(gene(arc), concat)
        return Genotype(gene(arc[:size]), concat, gene(arc[size:]), concat)

    def random_arc(self, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """A child drawn uniformly from the space (inputs and ops uniform): the random-search baseline."""
        rng = np.random.default_rng(seed)
        return np.asarray(
            [
                v
                for _ in range(self.cell_types)
                for node in range(2, 2 + self.nodes)
                for _ in range(2)
                for v in (rng.integers(node), rng.integers(len(self.ops)))
            ],
            dtype="int64",
        )

    def to_architecture(self, arc: Sequence[int] | np.ndarray) -> Architecture:
        """The child as an `Architecture` of `cell` layers (see `keras_nas.architecture.cells.derived`)."""
        return genotype_architecture(
            self.genotype(arc), self.input_shape, self.channels, self.num_layers, self.reductions, keep=2
        )

    def arc_of(self, architecture: Architecture) -> np.ndarray:
        """The arc whose `to_architecture` is `architecture`; ValueError if it is no child of this space."""
        cells = {bool(layer.get("reduction", False)): layer for layer in architecture.layers if layer.kind == "cell"}
        try:
            arc = [
                int(v)
                for reduce in (False, True)[: self.cell_types]
                for op, j in cells[reduce]["gene"]
                for v in (j, self.ops.index(op))
            ]
            same = self.to_architecture(self.check_arc(arc)) == architecture
        except (KeyError, ValueError):
            same = False
        if not same:
            raise ValueError(f"The architecture is not a child of this micro space: {architecture.summary()}.")
        return np.asarray(arc, dtype="int64")

    def describe(self) -> dict:
        return {
            "space": self.kind,
            "num_layers": self.num_layers,
            "channels": self.channels,
            "ops": list(self.ops),
            "nodes": self.nodes,
        }


Space = MacroSpace | MicroSpace


def make_space(space: str, input_shape: Sequence[int], **options) -> Space:
    """A `MacroSpace` (`space="macro"`) or `MicroSpace` (`"micro"`) for `input_shape`; None options take defaults."""
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items() if v is not None}
    if space == "macro":
        options.pop("nodes", None)
        return MacroSpace(tuple(input_shape), **options)
    if space == "micro":
        return MicroSpace(tuple(input_shape), **options)
    raise ValueError(f"ENAS space must be 'macro' or 'micro'; received space={space!r}.")
