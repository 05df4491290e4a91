"""`MixedOp`: one supernet edge, a weighted sum of every candidate op."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from keras_nas.architecture.cells.ops import PRIMITIVES, build_op


def channel_shuffle(x, groups: int):
    """Interleaves `groups` equal channel groups (channel c of group g moves to c·groups + g), as PC-DARTS does."""
    channels = x.shape[-1]
    shape = ops.shape(x)[:-1]
    x = ops.reshape(x, (*shape, groups, channels // groups))
    return ops.reshape(ops.swapaxes(x, -1, -2), (*shape, channels))


def weighted_sum(weights, tensors):
    """Σ_i weights[i]·tensors[i] for a 1-D weight tensor, as one contraction of the stacked tensors.

    One stack and one matrix product trace into a handful of ops, forward and
    backward; a sum of broadcast products costs several per term.

    >>> import numpy as np
    >>> ones = np.ones((2, 3), "float32")
    >>> np.asarray(weighted_sum(np.array([0.5, 2.0], "float32"), [ones, 2 * ones]))[0]
    array([4.5, 4.5, 4.5], dtype=float32)
    """
    if len(tensors) == 1:
        return weights[0] * tensors[0]
    return ops.tensordot(ops.stack(tensors, axis=-1), weights, axes=1)


@keras.saving.register_keras_serializable(package="keras_nas")
class MixedOp(keras.layers.Layer):
    """A DARTS edge: Σ_o w[o]·op_o(x) over the candidate ops.

    The weights (softmax(α) for DARTS) are an argument of `call`, not state
    of the layer: the α live in the model, shared by all cells of a type, and
    the model can tell them apart from network weights by identity. Every op
    runs on every call, so every op weight receives a gradient, unless `call`
    gets the `index` of one op (GDAS's sampled op): then only that op runs
    (a `switch`, so the other ops are not computed even in a compiled step)
    and its output is scaled by `op_weights[index]`.

    Args:
        channels: input and output channels (units for tabular inputs).
        strides: 1, or 2 on the input edges of a reduction cell.
        primitives: candidate op names (see `keras_nas.architecture.cells.ops`).
        rank: 2 for images, 1 for sequences, 0 for tabular rows.
        partial: PC-DARTS's K. Only the first `channels // partial` channels go
            through the ops; the others bypass them (max-pooled on strided
            edges) and the result is channel-shuffled. 1: plain DARTS.

    Example:

    >>> import numpy as np
    >>> edge = MixedOp(4, primitives=("none", "skip_connect", "sep_conv_3x3"))
    >>> x = np.ones((2, 6, 6, 4), "float32")
    >>> tuple(edge(x, np.array([0.2, 0.8, 0.0], "float32")).shape)
    (2, 6, 6, 4)
    """

    def __init__(
        self,
        channels: int,
        strides: int = 1,
        primitives: Sequence[str] = PRIMITIVES,
        rank: int = 2,
        partial: int = 1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.channels, self.strides, self.rank = int(channels), int(strides), int(rank)
        self.primitives, self.partial = tuple(primitives), int(partial)
        if not self.primitives:
            raise ValueError("A MixedOp needs at least one candidate op; received primitives=().")
        if self.partial < 1 or self.channels % self.partial:
            raise ValueError(f"`partial` must divide channels={self.channels}; received partial={partial}.")
        self.width = self.channels // self.partial
        self.candidates = [build_op(name, self.width, self.strides, self.rank) for name in self.primitives]
        # The ops the weighted sum computes: `none` adds w·0, so it is left out (its α still learns
        # through the softmax); GDAS's switch keeps every op.
        self._live = [i for i, name in enumerate(self.primitives) if name != "none"] or [0]
        self.bypass_pool = None
        if self.partial > 1 and self.strides > 1:
            pool = keras.layers.MaxPooling1D if self.rank == 1 else keras.layers.MaxPooling2D
            self.bypass_pool = pool(2, strides=2, padding="same")

    def build(self, input_shape):
        # Building from shapes is much cheaper than Keras's default of tracing `call`.
        for op in self.candidates:
            op.build((*input_shape[:-1], self.width))

    def call(self, inputs, op_weights, index=None, training=None):
        x = inputs[..., : self.width] if self.partial > 1 else inputs
        if index is None:
            outputs = [self.candidates[i](x, training=training) for i in self._live]
            if len(self._live) < len(self.primitives):
                live = self._live
                contiguous = live == list(range(live[0], live[-1] + 1))  # `none` first, as in DARTS's lists
                op_weights = op_weights[live[0] : live[-1] + 1] if contiguous else ops.take(op_weights, live)
            mixed = weighted_sum(ops.cast(op_weights, outputs[0].dtype), outputs)
        else:
            branches = [lambda t, op=op: op(t, training=training) for op in self.candidates]
            out = ops.switch(index, branches, x)
            mixed = ops.cast(ops.take(op_weights, index), out.dtype) * out
        if self.partial == 1:
            return mixed
        bypass = inputs[..., self.width :]
        if self.bypass_pool is not None:
            bypass = self.bypass_pool(bypass)
        return channel_shuffle(ops.concatenate([mixed, bypass], axis=-1), self.partial)

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "strides": self.strides,
            "primitives": list(self.primitives),
            "rank": self.rank,
            "partial": self.partial,
        }
