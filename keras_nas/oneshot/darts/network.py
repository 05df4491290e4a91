"""`DARTSSearchModel`: the DARTS search network, stacked cells sharing two α matrices."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from keras_nas.architecture import Architecture, Head
from keras_nas.architecture.cells.derived import genotype_architecture
from keras_nas.architecture.cells.genotype import Genotype, parse_cell
from keras_nas.architecture.cells.ops import default_primitives
from keras_nas.oneshot.collapse import CollapseGuard
from keras_nas.oneshot.darts.bilevel import BilevelModel
from keras_nas.oneshot.darts.cell import DARTSCell, num_edges


def reduction_indices(num_cells: int) -> tuple[int, ...]:
    """Where DARTS puts reduction cells: at 1/3 and 2/3 of the depth."""
    return tuple(sorted({num_cells // 3, 2 * num_cells // 3}))


def _stem(channels: int, rank: int) -> keras.Sequential:
    if rank == 0:
        first = keras.layers.Dense(channels, use_bias=False)
    else:
        conv = keras.layers.Conv1D if rank == 1 else keras.layers.Conv2D
        first = conv(channels, 3, padding="same", use_bias=False)
    return keras.Sequential([first, keras.layers.BatchNormalization(momentum=0.9)], name="stem")


class DARTSSearchModel(BilevelModel):
    """The DARTS supernet: a stem, `num_cells` cells, global average pooling and a softmax head.

    Cells at `reduction_indices(num_cells)` halve the spatial size and double
    the channels; all normal cells share the op weights softmax(`alphas_normal`)
    and all reduction cells softmax(`alphas_reduce`), both float32 variables of
    shape `(num_edges(nodes), len(primitives))` created here and updated only by
    the architecture optimizer (see `BilevelModel`). Tabular examples,
    shape `(features,)`, get dense cells and no reductions. The defaults here
    (C = 8, 5 cells of 4 nodes, DARTS's 8 ops) are a mid-sized search; the
    strategies default to a smaller one that traces fast on a CPU (see
    `SupernetStrategy`); DARTS searched CIFAR-10 with C = 16 and 8 cells.
    `genotype()` reads the discrete cells off α and `derive()` turns them into
    an `Architecture` of plain Keras layers, to train from scratch.

    Collapse guard: `fit` stops the search when the normal cell's genotype
    holds more than `max_skip_connects` skip connections and restores the α
    of the last epoch within the limit (`CollapseGuard`, DARTS+-style early
    stopping); `collapse_epoch` is then the epoch it stopped at, else None.

    Args:
        input_shape: shape of one example: `(height, width, channels)`, `(steps, channels)` or `(features,)`.
        num_classes: number of classes of the softmax head (outputs for regression).
        channels: channels of the first cells (C; the stem has 3C).
        num_cells: number of stacked cells.
        nodes: intermediate nodes per cell.
        primitives: candidate ops (default `ops.default_primitives(rank)`).
        seed: seed of the α initialisation (DARTS: 1e-3 · N(0, 1)).
        task: `"classification"` (softmax head, sparse categorical cross-entropy)
            or `"regression"` (linear head, mean squared error).
        max_skip_connects: the collapse guard's limit; None disables the guard.

    Example:

    >>> model = DARTSSearchModel((8, 8, 1), 10, channels=4, num_cells=3, nodes=2,
    ...                          primitives=("none", "skip_connect", "sep_conv_3x3"))
    >>> model.compile(order=1)
    >>> tuple(model.alphas_normal.shape)
    (5, 3)
    >>> len(model.genotype().normal)
    4
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        channels: int = 8,
        num_cells: int = 5,
        nodes: int = 4,
        primitives: Sequence[str] | None = None,
        seed: int | None = None,
        task: str = "classification",
        max_skip_connects: int | None = 2,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.example_shape = tuple(int(n) for n in input_shape)
        self.rank = len(self.example_shape) - 1
        if self.rank not in (0, 1, 2):
            raise ValueError(
                "DARTSSearchModel takes examples of shape (features,), (steps, channels) or (height, width, channels); "
                f"received input_shape={tuple(input_shape)}."
            )
        self.output_head = Head(task, int(num_classes), reduce="avg")  # validates task and num_classes
        self.max_skip_connects = None if max_skip_connects is None else int(max_skip_connects)
        self.collapse_epoch: int | None = None
        self.num_classes, self.channels = int(num_classes), int(channels)
        self.num_cells, self.nodes = int(num_cells), int(nodes)
        self.primitives = tuple(primitives or default_primitives(self.rank))
        self.seed = seed

        self.stem = _stem(3 * self.channels, self.rank)
        reductions = reduction_indices(self.num_cells) if self.rank else ()
        cells, width, reduction_prev = [], self.channels, False
        for index in range(self.num_cells):
            reduction = index in reductions
            width *= 2 if reduction else 1
            cells.append(self._make_cell(width, reduction, reduction_prev, name=f"cell_{index}"))
            reduction_prev = reduction
        self.cells = cells
        self.pool = None
        if self.rank:
            pool = keras.layers.GlobalAveragePooling1D if self.rank == 1 else keras.layers.GlobalAveragePooling2D
            self.pool = pool(name="global_pool")
        self.head = keras.layers.Dense(self.num_classes, activation=self.output_head.activation, name="head")

        self._create_arch_weights(bool(reductions))
        self.build((None, *self.example_shape))

    # -- hooks for variants (see `PCDARTSSearchModel`) ----------------------------
    def _make_cell(self, width: int, reduction: bool, reduction_prev: bool, name: str) -> DARTSCell:
        return DARTSCell(width, reduction, reduction_prev, self.nodes, self.primitives, self.rank, name=name)

    def _arch_initializer(self, offset: int):
        """DARTS's 1e-3 · N(0, 1), seeded differently for each architecture variable."""
        return keras.initializers.RandomNormal(stddev=1e-3, seed=None if self.seed is None else self.seed + offset)

    def _create_arch_weights(self, reduces: bool) -> None:
        shape = (num_edges(self.nodes), len(self.primitives))
        self.alphas_normal = self.add_arch_weight("alphas_normal", shape, self._arch_initializer(0))
        self.alphas_reduce = None
        if reduces:
            self.alphas_reduce = self.add_arch_weight("alphas_reduce", shape, self._arch_initializer(1))

    def _cell_weights(self, reduction: bool) -> tuple:
        """The extra `call` arguments of a normal or reduction cell: its op weights."""
        return (ops.softmax(self.alphas_reduce if reduction else self.alphas_normal, axis=-1),)

    def _edge_op_weights(self) -> dict[str, np.ndarray]:
        """The per-edge op weights the genotype is read from."""
        return self.arch_weights()

    def build(self, input_shape):
        # From shapes alone: no dummy forward pass through the whole supernet.
        shape = tuple(input_shape)
        self.stem.build(shape)
        s0 = s1 = (*shape[:-1], 3 * self.channels)
        weights_shape = (num_edges(self.nodes), len(self.primitives))
        for cell in self.cells:
            cell.build(s0, s1, weights_shape)
            s0, s1 = s1, cell.compute_output_shape(s0, s1, weights_shape)
        if self.pool is not None:
            self.pool.build(s1)
            s1 = (s1[0], s1[-1])
        self.head.build(s1)

    def call(self, inputs, training=None):
        weights = {False: self._cell_weights(False)}
        if self.alphas_reduce is not None:
            weights[True] = self._cell_weights(True)
        s0 = s1 = self.stem(inputs, training=training)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, *weights[cell.reduction], training=training)
        if self.pool is not None:
            s1 = self.pool(s1)
        return self.head(s1)

    def _example_prediction(self, x):
        return ops.zeros((ops.shape(x)[0], self.num_classes))

    # -- reading the architecture off α ---------------------------------------
    def arch_weights(self) -> dict[str, np.ndarray]:
        """softmax(α) per cell type (`"normal"`, and `"reduce"` when the network reduces)."""
        weights = {"normal": np.asarray(ops.softmax(self.alphas_normal, axis=-1))}
        if self.alphas_reduce is not None:
            weights["reduce"] = np.asarray(ops.softmax(self.alphas_reduce, axis=-1))
        return weights

    @property
    def reductions(self) -> tuple[int, ...]:
        """Indices of the reduction cells."""
        return tuple(index for index, cell in enumerate(self.cells) if cell.reduction)

    def derive(self, channels: int | None = None, num_cells: int | None = None, keep: int = 2) -> Architecture:
        """The derived network of `genotype(keep)`, as an `Architecture` of plain Keras layers.

        Same stem and widths as the supernet, with `channels` (default: the
        supernet's) and `num_cells` cells (default: the supernet's; more
        cells get reductions at 1/3 and 2/3 of the depth, as in DARTS). Build
        it with `architecture.build(input_shape, head=model.output_head)`.
        """
        num_cells = self.num_cells if num_cells is None else int(num_cells)
        reductions = self.reductions if num_cells == self.num_cells else reduction_indices(num_cells)
        return genotype_architecture(
            self.genotype(keep),
            self.example_shape,
            self.channels if channels is None else int(channels),
            num_cells,
            reductions if self.rank else (),
            keep,
        )

    def compile(self, *args, **kwargs):
        """`BilevelModel.compile`, with the loss and metrics of the model's task by default."""
        kwargs.setdefault("loss", self.output_head.loss)
        kwargs.setdefault("metrics", self.output_head.metrics)
        super().compile(*args, **kwargs)

    def fit(self, x=None, *args, callbacks=None, **kwargs):
        """`BilevelModel.fit`, with a `CollapseGuard(max_skip_connects)` unless `callbacks` hold one or it is None."""
        callbacks = list(callbacks or [])
        self.collapse_epoch = None
        if self.max_skip_connects is not None and not any(isinstance(c, CollapseGuard) for c in callbacks):
            callbacks.append(CollapseGuard(self.max_skip_connects))
        return super().fit(x, *args, callbacks=callbacks, **kwargs)

    def genotype(self, keep: int = 2) -> Genotype:
        """Per cell type and node, the `keep` strongest incoming edges by their best op other than `none`."""
        weights = self._edge_op_weights()
        concat = tuple(range(2, 2 + self.nodes))
        normal = parse_cell(weights["normal"], self.primitives, self.nodes, keep)
        if "reduce" not in weights:
            return Genotype(normal, concat)
        return Genotype(normal, concat, parse_cell(weights["reduce"], self.primitives, self.nodes, keep), concat)

    def get_config(self):
        return {
            "input_shape": list(self.example_shape),
            "num_classes": self.num_classes,
            "channels": self.channels,
            "num_cells": self.num_cells,
            "nodes": self.nodes,
            "primitives": list(self.primitives),
            "seed": self.seed,
            "task": self.output_head.task,
            "max_skip_connects": self.max_skip_connects,
            "name": self.name,
        }
