"""`GDASSearchModel`: DARTS with one Gumbel-sampled op per edge (GDAS)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from keras_nas.oneshot.darts.network import DARTSSearchModel


def gumbel_hard_sample(logits, temperature, seed):
    """One Gumbel-max sample per row of `logits`: straight-through one-hot weights and the sampled indices.

    The weights are `one_hot - stop_gradient(p) + p`, with `p` the Gumbel
    softmax of `log_softmax(logits)` at `temperature`: exactly one-hot in
    value, with the gradient of `p` (so the logits learn from the sampled op).
    """
    # The lower bound keeps log(u) finite; uniform excludes its upper bound, so -log(u) > 0.
    u = keras.random.uniform(ops.shape(logits), minval=1e-20, maxval=1.0, dtype="float32", seed=seed)
    gumbels = -ops.log(-ops.log(u))
    probs = ops.softmax((ops.log_softmax(logits, axis=-1) + gumbels) / temperature, axis=-1)
    index = ops.argmax(probs, axis=-1)
    hard = ops.one_hot(index, ops.shape(logits)[-1], dtype=probs.dtype)
    return hard - ops.stop_gradient(probs) + probs, ops.cast(index, "int32")


class TemperatureSchedule(keras.callbacks.Callback):
    """Anneals a `GDASSearchModel`'s Gumbel temperature linearly from `start` to `end` over `epochs`.

    Epoch e of E uses τ = start - (start - end)·e / (E - 1), as GDAS does.
    `GDASSearchModel.fit` adds one for its `epochs` unless given one.
    """

    def __init__(self, epochs: int, start: float = 10.0, end: float = 0.1):
        super().__init__()
        self.epochs, self.start, self.end = int(epochs), float(start), float(end)

    def temperature(self, epoch: int) -> float:
        return self.start - (self.start - self.end) * epoch / max(self.epochs - 1, 1)

    def on_epoch_begin(self, epoch, logs=None):
        self.model.temperature.assign(self.temperature(epoch))


class GDASSearchModel(DARTSSearchModel):
    """GDAS (Dong & Yang, CVPR 2019): every edge computes one op, sampled by Gumbel-max from softmax(α).

    Each forward pass draws, per cell type and edge, one op from α with
    Gumbel noise (`gumbel_hard_sample`); all cells of a type share the draw.
    Only the sampled op runs (a `switch`, also inside the compiled train
    step), scaled by its straight-through weight `1 - stop_gradient(p) + p`,
    so α gets gradients while activations and compute are those of a single
    path. The noise comes from a `keras.random.SeedGenerator`, so every step
    draws anew; the temperature, a non-trainable variable, is annealed from
    10 to 0.1 over the epochs of `fit` (`TemperatureSchedule`). Training is
    `BilevelModel`'s first-order bi-level step; the genotype is read off
    softmax(α) as in DARTS.

    Args:
        input_shape, num_classes: as for `DARTSSearchModel`.
        temperature_range: (start, end) of the linear temperature schedule.
        **kwargs: the other `DARTSSearchModel` arguments.

    Example:

    >>> model = GDASSearchModel((8, 8, 1), 10, channels=4, num_cells=1, nodes=2,
    ...                         primitives=("skip_connect", "sep_conv_3x3"), seed=0)
    >>> float(model.temperature)
    10.0
    """

    def __init__(
        self, input_shape: Sequence[int], num_classes: int, temperature_range: Sequence[float] = (10.0, 0.1), **kwargs
    ):
        start, end = (float(t) for t in temperature_range)
        if not start >= end > 0:
            raise ValueError(
                f"temperature_range must be (start, end) with start >= end > 0; received {temperature_range}."
            )
        self.temperature_range = (start, end)
        super().__init__(input_shape, num_classes, **kwargs)

    def _create_arch_weights(self, reduces):
        super()._create_arch_weights(reduces)
        # State must exist before `build`; the seed generator's state advances at every call, compiled or not.
        self.temperature = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.temperature_range[0]),
            trainable=False,
            dtype="float32",
            name="temperature",
        )
        self.sampler = keras.random.SeedGenerator(self.seed, name="gumbel")

    def _cell_weights(self, reduction):
        alphas = self.alphas_reduce if reduction else self.alphas_normal
        hard, indices = gumbel_hard_sample(alphas, self.temperature, self.sampler)
        return hard, None, indices

    def compile(self, *args, order: int = 1, **kwargs):
        """`BilevelModel.compile`; GDAS is first order only."""
        if order != 1:
            raise ValueError(f"GDASSearchModel trains α to first order only; received order={order!r}.")
        super().compile(*args, order=1, **kwargs)

    def fit(self, x=None, *args, epochs: int = 1, callbacks=None, **kwargs):
        """`BilevelModel.fit`, annealing the temperature over `epochs` unless `callbacks` hold a schedule."""
        callbacks = list(callbacks or [])
        if not any(isinstance(c, TemperatureSchedule) for c in callbacks):
            callbacks.append(TemperatureSchedule(epochs, *self.temperature_range))
        return super().fit(x, *args, epochs=epochs, callbacks=callbacks, **kwargs)

    def get_config(self):
        return {**super().get_config(), "temperature_range": list(self.temperature_range)}
