"""build_compiled_state: `fit` traces a compiled model's train step once, not twice."""
import keras
import numpy as np
import pytest
from keras.src.backend.tensorflow.trainer import TensorFlowTrainer

from keras_nas import Architecture, Layer, NASClassifier
from keras_nas.oneshot import OneShotStrategy
from keras_nas.backend.tracing import build_compiled_state


@pytest.fixture
def traces(monkeypatch):
    """Counts the Python executions of any model's `train_step`: one per trace of the compiled step."""
    count = []
    original = TensorFlowTrainer.train_step

    def counted(self, data):
        count.append(type(self).__name__)
        return original(self, data)

    monkeypatch.setattr(TensorFlowTrainer, "train_step", counted)
    return count


def _model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 4)).astype("float32"), rng.integers(0, 3, 40)


def test_fit_traces_once_after_build_compiled_state(traces):
    x, y = _data()
    model = _model()
    build_compiled_state(model, x[:2], y[:2])
    assert model.optimizer.built and model.metrics[-1].built
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert len(traces) == 1
    assert model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"] >= 0  # metrics were reset, then used

    traces.clear()  # why the helper exists: Keras builds compiled metrics inside the first trace, then retraces
    _model().fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert len(traces) == 2


def test_build_compiled_state_leaves_an_uncompiled_model_to_keras():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    build_compiled_state(model, *(a[:2] for a in _data()))
    with pytest.raises(ValueError, match="compile"):
        model.fit(*_data(), verbose=0)


class _Dense(OneShotStrategy):
    name = "dense_only"

    def search(self, x_train, y_train, x_val, y_val):
        self.history_ = {}
        return self

    def derive(self):
        return Architecture([Layer.of("dense", units=4, activation="relu")])


def test_the_estimators_final_training_traces_once(traces):
    x, y = _data()
    NASClassifier(strategy=_Dense(), epochs=2, seed=0).fit(x, y)
    assert traces.count("Functional") == 1
