"""`ConvSpace`: convolutional networks for sequences (1-D) and images (2-D)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras_tuner

from keras_nas.architecture import Architecture, Layer, Skip
from keras_nas.spaces.base import SearchSpace


class ConvSpace(SearchSpace):
    """Stacks of convolutional blocks with pooling, optional batch norm and block skips.

    Each block is `convs_per_block` times `conv -> [batch_norm] -> relu`, an
    optional `add` or `concat` skip from the block's input to its output, then a
    max or average pooling that halves the spatial size (omitted once that size
    is 1). The body ends with global average pooling or flattening, an optional
    dense layer and dropout. Works for inputs of shape `(steps, channels)` and
    `(height, width, channels)`.

    Hyperparameters: `num_blocks`, `filters_<i>`, `kernel_size`,
    `convs_per_block`, `batch_norm`, `skip`, `pooling`, `reduction`,
    `dense_units`, `dropout`, plus the optimizer and learning rate.

    Args:
        max_blocks: The deepest network searched, in blocks.
        filters: The widths a block can take.
        kernel_sizes: Kernel sizes to choose from; `None` picks (3, 5) for
            images and (3, 5, 7) for sequences.
        **kwargs: Passed to `SearchSpace` (input_shape, head, optimizers, learning_rate).

    Example:

    >>> space = ConvSpace(input_shape=(8, 8, 1), max_blocks=2)
    >>> space.architecture(keras_tuner.HyperParameters()).summary()
    'conv64k3relu > maxpool2 > conv64k3relu > maxpool2 > globalavg'
    """

    def __init__(
        self,
        max_blocks: int = 3,
        filters: Sequence[int] = (16, 32, 64, 128),
        kernel_sizes: Sequence[int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if int(max_blocks) < 1:
            raise ValueError(f"max_blocks must be >= 1; received {max_blocks}.")
        if not filters or any(int(f) < 1 for f in filters):
            raise ValueError(f"filters must be positive widths; received {filters}.")
        self.max_blocks = int(max_blocks)
        self.filters = tuple(sorted(int(f) for f in filters))
        self.kernel_sizes = None if kernel_sizes is None else tuple(int(k) for k in kernel_sizes)

    def accepts(self, input_shape):
        return len(tuple(input_shape)) in (2, 3)

    def get_config(self):
        kernel_sizes = None if self.kernel_sizes is None else list(self.kernel_sizes)
        return {
            **super().get_config(),
            "max_blocks": self.max_blocks,
            "filters": list(self.filters),
            "kernel_sizes": kernel_sizes,
        }

    def _kernel_sizes(self) -> list[int]:
        if self.kernel_sizes is not None:
            return list(self.kernel_sizes)
        return [3, 5, 7] if self.input_shape is not None and len(self.input_shape) == 2 else [3, 5]

    def architecture(self, hp: keras_tuner.HyperParameters) -> Architecture:
        num_blocks = hp.Int("num_blocks", 1, self.max_blocks, default=min(2, self.max_blocks))
        kernel_size = hp.Choice("kernel_size", self._kernel_sizes())
        convs_per_block = hp.Int("convs_per_block", 1, 2, default=1)
        batch_norm = hp.Boolean("batch_norm", default=False)
        skip = hp.Choice("skip", ["none", "add", "concat"], default="none")
        pooling = hp.Choice("pooling", ["max", "avg"], default="max")
        default_filters = self.filters[len(self.filters) // 2]
        spatial = min(self.input_shape[:-1]) if self.input_shape is not None else None

        layers: list[Layer] = []
        skips: list[Skip] = []
        for block in range(num_blocks):
            with hp.conditional_scope("num_blocks", list(range(block + 1, self.max_blocks + 1))):
                filters = hp.Choice(f"filters_{block}", list(self.filters), default=default_filters)
            start = len(layers)
            for _ in range(convs_per_block):
                if batch_norm:
                    layers += [
                        Layer.of("conv", filters=filters, kernel_size=kernel_size),
                        Layer.of("batch_norm"),
                        Layer.of("activation", activation="relu"),
                    ]
                else:
                    layers.append(Layer.of("conv", filters=filters, kernel_size=kernel_size, activation="relu"))
            if skip != "none":
                skips.append(Skip(start, len(layers), skip))
            if spatial is None or spatial > 1:
                layers.append(Layer.of("pool", pool=pooling, size=2))
                spatial = None if spatial is None else -(-spatial // 2)

        reduction = hp.Choice("reduction", ["global_avg", "flatten"], default="global_avg")
        layers.append(Layer.of("global_pool", pool="avg") if reduction == "global_avg" else Layer.of("flatten"))
        dense_units = hp.Choice("dense_units", [0, 64, 128], default=0)
        if dense_units:
            layers.append(Layer.of("dense", units=dense_units, activation="relu"))
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.25, default=0.0)
        if dropout > 0:
            layers.append(Layer.of("dropout", rate=dropout))
        return Architecture(layers, skips)
