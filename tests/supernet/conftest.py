import keras
import pytest

from keras_nas.oneshot.strategy import graph_optimizer


@pytest.fixture(scope="package", autouse=True)
def _no_graph_rewrites():
    # Supernet tests trace many small, short-lived graphs: Grappler's rewrites cost more (seconds per traced
    # train step) than they ever save here. They change speed, not results; restored after the package.
    with graph_optimizer(False):
        yield


class Counting(keras.layers.Layer):
    """Wraps a candidate op and counts its (real, not stateless) calls in a variable."""

    def __init__(self, op, **kwargs):
        super().__init__(**kwargs)
        self.op = op
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count")

    def build(self, input_shape):
        self.op.build(input_shape)

    def call(self, x, training=None):
        self.count.assign_add(1.0)
        return self.op(x, training=training)
