"""`ENASController`: the LSTM that samples ENAS children, with their log-probability and entropy."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from keras_nas.oneshot.enas.spaces import MacroSpace, Space

# ENAS's logit scaling, c·tanh(logits), per space: (c, divisor of c for op logits) [src: melodyguan/enas scripts].
_TANH = {"macro": (1.5, 1.0), "micro": (1.1, 2.5)}


class ENASController(keras.Model):
    """An LSTM controller (Pham et al., 2018) sampling arcs of a `MacroSpace` or `MicroSpace`.

    Autoregressive, one LSTM step per decision, starting from a learned
    embedding. Ops come from a softmax over the space's ops (the next input is
    the op's embedding). Earlier layers or nodes are chosen by attention,
    `v·tanh(W₁·anchor_j + W₂·h)`: one sigmoid per earlier layer for macro skip
    bits (the next input is the mean of the chosen anchors), a softmax over the
    earlier nodes for micro inputs (the next input is the chosen anchor).
    Logits are scaled as `c·tanh(logits)` (ENAS: c = 1.5 macro, 1.1 micro, and
    c / 2.5 for micro op logits). Weights are initialised U(-0.1, 0.1).

    `sample()` draws an arc with a `keras.random.SeedGenerator`, so every call,
    also inside a `tf.function`, draws anew; `sample(arc)` scores a given arc.
    Both return a dict of tensors: `arc` (int32), `log_prob` and `entropy`
    (summed over decisions), `skip_penalty` (mean KL(Bernoulli(p_skip) ‖
    Bernoulli(skip_target)) over the skip decisions, 0 without any) and
    `skip_density` (fraction of skip bits set).

    Args:
        space: the space to sample from.
        units: LSTM units (ENAS's code: 64).
        tanh_constant: c; None for the space's ENAS default.
        skip_target: the skip probability the penalty pulls towards (ENAS: 0.4).
        seed: seed of the sampler and of the weight initialisation.

    Example:

    >>> space = MacroSpace((16,), num_layers=3)
    >>> sample = ENASController(space, units=8, seed=0).sample()
    >>> tuple(sample["arc"].shape), float(sample["log_prob"]) < 0
    ((6,), True)
    """

    def __init__(
        self,
        space: Space,
        units: int = 64,
        tanh_constant: float | None = None,
        skip_target: float = 0.4,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"The controller needs units >= 1; received units={units}.")
        if not 0.0 < float(skip_target) < 1.0:
            raise ValueError(f"skip_target is a probability in (0, 1); received skip_target={skip_target}.")
        self.space, self.units, self.skip_target = space, int(units), float(skip_target)
        c, reduce = _TANH[space.kind]
        self.tanh_constant = c if tanh_constant is None else float(tanh_constant)
        self.op_tanh_constant = self.tanh_constant / reduce
        init = keras.initializers.RandomUniform(-0.1, 0.1, seed=seed)
        self.lstm = keras.layers.LSTMCell(self.units, kernel_initializer=init, recurrent_initializer=init, name="lstm")
        self.start = self.add_weight(shape=(1, self.units), initializer=init, name="start_embedding")
        self.op_embedding = self.add_weight(shape=(len(space.ops), self.units), initializer=init, name="op_embedding")
        self.op_logits = keras.layers.Dense(len(space.ops), kernel_initializer=init, name="op_logits")
        self.attention_1 = keras.layers.Dense(self.units, use_bias=False, kernel_initializer=init, name="attention_1")
        self.attention_2 = keras.layers.Dense(self.units, use_bias=False, kernel_initializer=init, name="attention_2")
        self.attention_v = keras.layers.Dense(1, use_bias=False, kernel_initializer=init, name="attention_v")
        for layer in (self.lstm, self.op_logits, self.attention_1, self.attention_2, self.attention_v):
            layer.build((1, self.units))
        self.sampler = keras.random.SeedGenerator(seed, name="controller_sampler")
        self.built = True

    # -- one decision ------------------------------------------------------
    def _step(self, inputs, state):
        h, state = self.lstm(inputs, state)
        return h, state

    def _attention(self, anchors_w1, h):
        query = ops.tanh(ops.concatenate(anchors_w1, axis=0) + self.attention_2(h))
        return self.tanh_constant * ops.tanh(ops.reshape(self.attention_v(query), (-1,)))

    def _categorical(self, logits, given, record):
        if given is None:
            index = ops.cast(keras.random.categorical(logits[None], 1, seed=self.sampler)[0, 0], "int32")
        else:
            index = ops.cast(given, "int32")
        log_p = ops.log_softmax(logits)
        record["log_prob"] = record["log_prob"] + ops.take(log_p, index)
        record["entropy"] = record["entropy"] - ops.sum(ops.exp(log_p) * log_p)
        return index

    def _bits(self, logits, given, record):
        p = ops.sigmoid(logits)
        if given is None:
            bits = ops.cast(keras.random.uniform(ops.shape(logits), seed=self.sampler) < p, "int32")
        else:
            bits = ops.cast(given, "int32")
        b = ops.cast(bits, "float32")
        log_on, log_off = ops.log_sigmoid(logits), ops.log_sigmoid(-logits)
        record["log_prob"] = record["log_prob"] + ops.sum(b * log_on + (1.0 - b) * log_off)
        record["entropy"] = record["entropy"] - ops.sum(p * log_on + (1.0 - p) * log_off)
        t = self.skip_target
        kl = p * (log_on - ops.log(t)) + (1.0 - p) * (log_off - ops.log(1.0 - t))
        record["skip_penalty"] = record["skip_penalty"] + ops.sum(kl)
        record["skips"] = record["skips"] + ops.sum(b)
        return bits

    # -- whole arcs ----------------------------------------------------------
    def sample(self, arc: Any = None) -> dict[str, Any]:
        """Samples an arc (or, given `arc`, follows it) and returns it with its log-probability and entropy."""
        if arc is not None:
            arc = ops.cast(ops.reshape(arc, (-1,)), "int32")
        zero = ops.zeros((), "float32")
        record = {"log_prob": zero, "entropy": zero, "skip_penalty": zero, "skips": zero}
        state = [ops.zeros((1, self.units)), ops.zeros((1, self.units))]
        if isinstance(self.space, MacroSpace):
            decisions, skip_decisions = self._sample_macro(arc, state, record)
        else:
            decisions, skip_decisions = self._sample_micro(arc, state, record), 0
        count = max(skip_decisions, 1)
        return {
            "arc": ops.stack(decisions) if arc is None else arc,
            "log_prob": record["log_prob"],
            "entropy": record["entropy"],
            "skip_penalty": record["skip_penalty"] / count,
            "skip_density": record["skips"] / count,
        }

    def _sample_macro(self, arc, state, record):
        decisions, anchors, anchors_w1, inputs = [], [], [], self.start
        for i, (position, bits) in enumerate(self.space.layer_slices()):
            h, state = self._step(inputs, state)
            logits = self.op_tanh_constant * ops.tanh(self.op_logits(h)[0])
            op = self._categorical(logits, None if arc is None else arc[position], record)
            decisions.append(op)
            h, state = self._step(ops.take(self.op_embedding, op[None], axis=0), state)
            if i:
                skips = self._bits(self._attention(anchors_w1, h), None if arc is None else arc[bits], record)
                decisions.extend(ops.unstack(skips, num=i))
                chosen = ops.cast(skips, "float32")[None]
                inputs = ops.matmul(chosen, ops.concatenate(anchors, axis=0)) / (1.0 + ops.sum(chosen))
            else:
                inputs = self.start
            anchors.append(h)
            anchors_w1.append(self.attention_1(h))
        return decisions, self.space.num_layers * (self.space.num_layers - 1) // 2

    def _sample_micro(self, arc, state, record):
        decisions, position = [], 0
        for _ in range(self.space.cell_types):
            anchors, anchors_w1, inputs = [], [], self.start
            for _ in range(2):  # the two cell inputs: no LSTM output of their own (ENAS: zero anchors)
                h, state = self._step(inputs, state)
                anchors.append(ops.zeros_like(h))
                anchors_w1.append(self.attention_1(h))
            for _ in range(self.space.nodes):
                node = [None] * 4
                for slot in range(2):
                    h, state = self._step(inputs, state)
                    given = None if arc is None else arc[position + 2 * slot]
                    index = self._categorical(self._attention(anchors_w1, h), given, record)
                    node[2 * slot] = index
                    inputs = ops.take(ops.concatenate(anchors, axis=0), index[None], axis=0)
                for slot in range(2):
                    h, state = self._step(inputs, state)
                    logits = self.op_tanh_constant * ops.tanh(self.op_logits(h)[0])
                    given = None if arc is None else arc[position + 2 * slot + 1]
                    node[2 * slot + 1] = op = self._categorical(logits, given, record)
                    inputs = ops.take(self.op_embedding, op[None], axis=0)
                h, state = self._step(inputs, state)
                anchors.append(h)
                anchors_w1.append(self.attention_1(h))
                inputs = self.start
                decisions.extend(node)
                position += 4
        return decisions
