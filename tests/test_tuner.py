import sys

import keras
import keras_tuner
import numpy as np
import pytest

from keras_nas.architecture import Head
from keras_nas.spaces import DenseSpace
from keras_nas.search.tuner import NASTuner


@pytest.fixture
def no_tensorboard(monkeypatch):
    """Makes `import tensorboard` fail, as with tensorflow 2.21, which no longer installs it."""
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    for name in [m for m in sys.modules if m.startswith("tensorboard.")]:
        monkeypatch.delitem(sys.modules, name)


def _space(x, n=2, **kwargs):
    return DenseSpace(max_layers=2, input_shape=(x.shape[1],), head=Head("classification", n), **kwargs)


def _oracle(max_trials=2, objective="val_accuracy"):
    return keras_tuner.oracles.RandomSearchOracle(objective=objective, max_trials=max_trials, seed=3)


def _statuses(tuner):
    return [t.status for t in tuner.oracle.trials.values()]


def test_stock_tuner_fails_without_tensorboard_but_nas_tuner_completes(no_tensorboard, tmp_path, tabular_small):
    x, y = tabular_small
    stock = keras_tuner.RandomSearch(_space(x), objective="val_accuracy", max_trials=3, directory=tmp_path / "stock")
    with pytest.raises(RuntimeError, match="consecutive failures"):
        stock.search(x, y, validation_split=0.25, epochs=1, verbose=0)
    assert "tensorboard" in next(iter(stock.oracle.trials.values())).message

    ours = NASTuner(_space(x), _oracle(), directory=tmp_path / "ours")
    ours.search(x, y, validation_split=0.25, epochs=1, verbose=0)
    assert _statuses(ours) == ["COMPLETED", "COMPLETED"]


def test_tensorboard_callback_without_tensorboard_is_a_clear_fatal_error(no_tensorboard, tmp_path, tabular_small):
    x, y = tabular_small
    tuner = NASTuner(_space(x), _oracle(), directory=tmp_path)
    with pytest.raises(keras_tuner.errors.FatalError, match="pip install tensorboard"):
        tuner.search(x, y, validation_split=0.25, epochs=1, verbose=0,
                     callbacks=[keras.callbacks.TensorBoard(str(tmp_path / "logs"))])


def test_time_budget_stops_the_search_cleanly(tmp_path, tabular_small):
    x, y = tabular_small
    tuner = NASTuner(_space(x), _oracle(max_trials=5), time_budget=1e-3, directory=tmp_path)
    tuner.search(x, y, validation_split=0.25, epochs=50, verbose=0)
    assert _statuses(tuner) == ["COMPLETED"]
    assert tuner.records["0"].epochs == 1  # the running trial stopped after its first epoch


class _WorkerClient:
    """Stands for keras-tuner's OracleClient on a distributed worker: no `trials`, only `get_trial`."""

    def __init__(self, oracle):
        self._oracle = oracle

    def __getattr__(self, name):
        if name == "trials":
            raise AttributeError(name)
        return getattr(self._oracle, name)


def test_time_budget_stops_a_distributed_worker(tmp_path, tabular_small):
    x, y = tabular_small
    tuner = NASTuner(_space(x), _oracle(max_trials=5), time_budget=1e-3, directory=tmp_path)
    chief = tuner.oracle
    tuner.oracle = _WorkerClient(chief)
    tuner.search(x, y, validation_split=0.25, epochs=50, verbose=0)  # the worker cannot lower max_trials
    assert chief.max_trials == 5 and [t.status for t in chief.trials.values()] == ["COMPLETED"]
    assert [row["trial_id"] for row in tuner.leaderboard()] == ["0"]  # the trials this worker ran


def test_early_stopping_ends_a_trial_that_does_not_improve(tmp_path, tabular_small):
    x, y = tabular_small
    frozen = _space(x, optimizers="sgd", learning_rate=0.0)  # no update, so val_loss never improves
    tuner = NASTuner(frozen, _oracle(max_trials=1, objective="val_loss"), patience=2, directory=tmp_path)
    tuner.search(x, y, validation_split=0.25, epochs=20, verbose=0)
    assert tuner.records["0"].epochs == 3


def test_records_describe_each_trial(tmp_path, tabular_small):
    x, y = tabular_small
    tuner = NASTuner(_space(x), _oracle(), directory=tmp_path)
    tuner.search(x, y, validation_split=0.25, epochs=2, verbose=0)
    for trial_id, record in tuner.records.items():
        hp = tuner.oracle.get_trial(trial_id).hyperparameters
        arch = tuner.hypermodel.architecture(hp)
        assert record.architecture == arch.summary()
        assert record.params == arch.num_params((x.shape[1],), Head("classification", 2))
        assert record.epochs == 2 and record.seconds > 0


def test_resumed_search_keeps_every_finished_trial(tmp_path, tabular_small):
    x, y = tabular_small
    first = NASTuner(_space(x), _oracle(max_trials=2), directory=tmp_path, project_name="p", seed=0)
    first.search(x, y, validation_split=0.25, epochs=1, verbose=0)
    before = {tid: (t.score, dict(t.hyperparameters.values)) for tid, t in first.oracle.trials.items()}

    second = NASTuner(_space(x), _oracle(max_trials=3), directory=tmp_path, project_name="p", seed=0)
    assert set(second.records) == set(before)  # reloaded before searching
    second.search(x, y, validation_split=0.25, epochs=1, verbose=0)
    after = {tid: (t.score, dict(t.hyperparameters.values)) for tid, t in second.oracle.trials.items()}
    assert len(after) == 3 and all(after[tid] == before[tid] for tid in before)
    assert set(second.records) == set(after)


def test_plain_build_function_is_described_from_its_model(tmp_path, tabular_small):
    x, y = tabular_small

    def build(hp):
        inputs = keras.Input((x.shape[1],))
        h = keras.layers.Dense(hp.Choice("units", [4, 8]), activation="relu")(inputs)
        outputs = keras.layers.Dense(2, activation="softmax")(h)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    tuner = NASTuner(build, _oracle(), directory=tmp_path)
    tuner.search(x, y, validation_split=0.25, epochs=1, verbose=0)
    units = {t.hyperparameters.values["units"] for t in tuner.oracle.trials.values()}
    summaries = {r.architecture for r in tuner.records.values()}
    assert summaries == {f"dense{u}relu > dense2softmax" for u in units}


def test_hyperband_brackets_run_in_nas_tuner(tmp_path, tabular_small):
    x, y = tabular_small
    oracle = keras_tuner.oracles.HyperbandOracle(objective="val_accuracy", max_epochs=3, factor=3, seed=1)
    tuner = NASTuner(_space(x), oracle, directory=tmp_path)
    tuner.search(x, y, validation_split=0.25, verbose=0)
    assert len(tuner.oracle.trials) >= 3 and "COMPLETED" in _statuses(tuner)
    continued = [t for t in tuner.oracle.trials.values() if "tuner/trial_id" in t.hyperparameters.values]
    assert continued  # a bracket continued a parent's training from its checkpoint
    assert np.isfinite(tuner.oracle.get_best_trials(1)[0].score)
