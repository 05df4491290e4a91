"""Keeping a compiled Keras model from tracing its train step twice.

With the TensorFlow backend, `fit` traces the train step into a
`tf.function`. A compiled loss or metric creates its variables the first time
it runs; when that first time is inside the trace, TensorFlow traces the whole
step a second time (variables may only be created on a function's first
trace). For a small network on a CPU that second trace costs as much as
several epochs. `build_compiled_state` runs the loss and metrics once, eagerly,
on a handful of examples, so `fit` traces once.

Example:

>>> import numpy as np
>>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
>>> model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
>>> build_compiled_state(model, np.zeros((2, 4), "float32"), np.zeros(2, "int32"))
>>> model.optimizer.built
True
"""

from __future__ import annotations

import contextlib

import keras
from keras import ops


def build_compiled_state(model: keras.Model, x, y, y_pred=None) -> None:
    """Creates the optimizer's, the compiled loss's and the compiled metrics' variables of a compiled `model`.

    `x` and `y` are a few examples (a batch's worth is plenty); `y_pred`, if
    given, stands in for the model's predictions on `x` (only its shape and
    dtype matter), else they come from the model's declared output shape or,
    failing that, one eager call. Metric values are reset afterwards, and the
    optimizer is built only if it is not already. An uncompiled model is left
    alone (its `fit` raises Keras's own error).
    """
    if not getattr(model, "compiled", False):
        return
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built:
        optimizer.build(model.trainable_variables)
    if y_pred is None:
        y_pred = _example_predictions(model, x)
    model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)
    model.compute_metrics(x, y, y_pred)
    model.reset_metrics()


def _example_predictions(model: keras.Model, x):
    batch = int(ops.shape(x)[0])
    outputs = getattr(model, "outputs", None)  # functional models declare them; no pass through the network
    if outputs is not None and len(outputs) == 1 and None not in tuple(outputs[0].shape)[1:]:
        return ops.zeros((batch, *outputs[0].shape[1:]), dtype=outputs[0].dtype)
    return model(x, training=False)


def release_traced_functions(model: keras.Model) -> None:
    """Frees the graphs a trained `model`'s train, test and predict steps were traced into; the model keeps working.

    With the TensorFlow backend a traced step's graph refers to itself through
    its operations in a way Python's garbage collector cannot see, so the graphs
    of every model a search trained stay in memory (about 20 graphs per `fit`;
    several MiB per trial) after the model itself is gone. Dismantling them
    breaks those cycles. The model's step functions are reset, so a later `fit`
    or `predict` traces afresh. Other backends need nothing and are left alone.
    """
    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf
    from tensorflow.python.framework import func_graph  # TensorFlow's own tool for this, used by tf.function

    pending = [getattr(model, name, None) for name in ("train_function", "test_function", "predict_function")]
    seen: set[int] = set()
    graphs = []
    while pending:  # Keras wraps its tf.functions in plain closures: walk them
        function = pending.pop()
        if function is None or id(function) in seen:
            continue
        seen.add(id(function))
        if isinstance(function, tf.types.experimental.PolymorphicFunction):
            graphs += [concrete.graph for concrete in function._list_all_concrete_functions()]
            function = function.python_function
        for cell in getattr(function, "__closure__", None) or ():
            with contextlib.suppress(ValueError):  # an empty cell has no contents
                pending.append(cell.cell_contents)
    for name in ("train_function", "test_function", "predict_function"):
        if hasattr(model, name):
            setattr(model, name, None)
    for graph in graphs:
        func_graph.dismantle_func_graph(graph)
