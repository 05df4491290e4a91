"""`DenseSpace`: multilayer perceptrons for tabular data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras_tuner

from keras_nas.architecture import Architecture, Layer, Skip
from keras_nas.spaces.base import SearchSpace


class DenseSpace(SearchSpace):
    """Fully connected networks: depth, per-layer width, dropout, batch norm and residual skips.

    Each hidden block is `dense -> [batch_norm] -> relu -> [dropout]`. With
    `residual` on, every block after the first adds its input to its output
    (through a 1x1 projection, see `keras_nas.architecture.building`).

    Hyperparameters: `num_layers`, `units_<i>` (active for the first
    `num_layers` blocks), `dropout`, `batch_norm`, `residual`, plus the
    optimizer and learning rate of `SearchSpace`.

    Args:
        max_layers: The deepest network searched.
        units: The widths a layer can take.
        **kwargs: Passed to `SearchSpace` (input_shape, head, optimizers, learning_rate).

    Example:

    >>> space = DenseSpace(max_layers=2, units=(16, 32))
    >>> space.architecture(keras_tuner.HyperParameters()).summary()
    'dense32 > bn > relu > dense32 > bn > relu'
    """

    def __init__(self, max_layers: int = 4, units: Sequence[int] = (32, 64, 128, 256, 512), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(max_layers) < 1:
            raise ValueError(f"max_layers must be >= 1; received {max_layers}.")
        if not units or any(int(u) < 1 for u in units):
            raise ValueError(f"units must be positive widths; received {units}.")
        self.max_layers = int(max_layers)
        self.units = tuple(sorted(int(u) for u in units))

    def accepts(self, input_shape):
        return len(tuple(input_shape)) == 1

    def get_config(self):
        return {**super().get_config(), "max_layers": self.max_layers, "units": list(self.units)}

    def architecture(self, hp: keras_tuner.HyperParameters) -> Architecture:
        num_layers = hp.Int("num_layers", 1, self.max_layers, default=min(2, self.max_layers))
        batch_norm = hp.Boolean("batch_norm", default=True)
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.0)
        residual = hp.Boolean("residual", default=False) if self.max_layers > 1 else False
        default_units = self.units[len(self.units) // 2]
        layers: list[Layer] = []
        skips: list[Skip] = []
        for index in range(num_layers):
            with hp.conditional_scope("num_layers", list(range(index + 1, self.max_layers + 1))):
                units = hp.Choice(f"units_{index}", list(self.units), default=default_units)
            start = len(layers)
            if batch_norm:
                layers += [
                    Layer.of("dense", units=units),
                    Layer.of("batch_norm"),
                    Layer.of("activation", activation="relu"),
                ]
            else:
                layers.append(Layer.of("dense", units=units, activation="relu"))
            if residual and index > 0:
                skips.append(Skip(start, len(layers), "add"))
            if dropout > 0:
                layers.append(Layer.of("dropout", rate=round(dropout, 4)))
        return Architecture(layers, skips)
