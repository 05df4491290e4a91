"""One-shot strategies end to end: NASClassifier(strategy=...) searches, derives, trains and exports."""
import math
import os
import sys
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.base import clone

import keras_nas.oneshot.darts.mixed as mixed
from keras_nas import Architecture, Head, Layer, NASClassifier, NASRegressor
from keras_nas.architecture.cells import COMPACT_PRIMITIVES, TABULAR_PRIMITIVES
from keras_nas.oneshot import (
    DARTSStrategy,
    GDASStrategy,
    OneShotStrategy,
    PCDARTSStrategy,
    get_strategy,
    plot_alphas,
    register_strategy,
)
from keras_nas.oneshot.strategy import STRATEGIES
from tests.test_export import _in_fresh_process
from tests.supernet.conftest import Counting

# The smallest supernets that still have a DAG: one (reduction) cell of two nodes,
# searched at the estimator's batch size and derived at the supernet's width.
SMALL = dict(channels=4, num_cells=1, nodes=2, search_batch_size=None, derive_channels=None)


def _fit(strategy, data, epochs=1):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = NASClassifier(strategy=strategy, epochs=epochs, batch_size=48, seed=0).fit(*data)
    assert not [w for w in caught if "Gradients do not exist" in str(w.message)]
    return clf


def _layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _layers(layer)


def test_darts_end_to_end_exports_a_plain_keras_model(digits_small, tmp_path):
    # Traced, the path where Python-level mistakes would freeze (second order: test_bilevel.py).
    given = DARTSStrategy(**SMALL, primitives=("skip_connect", "dil_conv_3x3"))
    clf = _fit(given, digits_small)
    x = digits_small[0][:16]
    assert not hasattr(given, "supernet_")  # fit searched with a copy of the parameter
    search = clf.strategy_
    assert isinstance(search, DARTSStrategy) and np.isfinite(search.history_["arch_loss"]).all()
    np.testing.assert_array_equal(search.alpha_history_[-1]["alphas_reduce"], np.array(search.supernet_.alphas_reduce))
    assert [layer.kind for layer in clf.best_architecture_.layers] == ["conv", "batch_norm", "cell", "global_pool"]
    (row,) = clf.leaderboard_
    assert row["trial_id"] == clf.best_trial_id_ == "darts" and row["architecture"] == clf.best_architecture_.summary()
    assert row["hyperparameters"]["genotype"]["reduce"] and 0 <= row["score"] == clf.best_score_ <= 1
    assert len(clf.history_["loss"]) == clf.refit_epochs_ == 1

    classes = {type(layer) for layer in _layers(clf.best_model_)}
    assert all(cls.__module__.startswith("keras.src.") for cls in classes), classes  # no supernet layer, no α
    inner = [layer for layer in clf.best_model_.layers if isinstance(layer, keras.Model)][0]
    assert {"cell_2_n3_0", "cell_2_n3_1"} <= {layer.name[:11] for layer in inner.layers}  # both edges of node 3
    assert row["params"] == inner.count_params()
    path = clf.export(tmp_path / "darts_model")
    np.testing.assert_allclose(_in_fresh_process(path, x, tmp_path), clf.predict_proba(x), atol=1e-5)


def test_pc_darts_end_to_end_moves_edge_weights_and_plots_them(digits_small, tmp_path, monkeypatch):
    strategy = PCDARTSStrategy(**SMALL, primitives=("skip_connect", "max_pool_3x3"), partial_channels=2,
                               search_epochs=2)
    clf = _fit(strategy, digits_small, epochs=2)
    history = clf.strategy_.alpha_history_
    first, second = history
    assert set(first) == {"alphas_normal", "alphas_reduce", "betas_normal", "betas_reduce"}
    assert not np.array_equal(first["betas_reduce"], second["betas_reduce"])
    assert clf.best_hyperparameters_["partial_channels"] == 2
    assert clf.predict(digits_small[0][:5]).shape == (5,)
    assert os.path.getsize(plot_alphas(history, tmp_path / "alphas.png", clf.strategy_.supernet_.primitives)) > 0
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if matplotlib were not installed
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_alphas(history, tmp_path / "again.png")


class _OpCounts(keras.callbacks.Callback):
    def counts(self):
        edges = [edge for cell in self.model.cells for edge in cell.edges]
        return np.array([[float(op.count) for op in edge.candidates] for edge in edges])

    def on_train_begin(self, logs=None):
        self.snapshots = [self.counts()]

    def on_train_batch_end(self, batch, logs=None):
        self.snapshots.append(self.counts())


def test_gdas_end_to_end_computes_one_sampled_op_per_edge(digits_small):
    original = mixed.build_op
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mixed, "build_op", lambda *args, **kwargs: Counting(original(*args, **kwargs)))
        strategy = GDASStrategy(**SMALL, primitives=("skip_connect", "max_pool_3x3"), search_epochs=2,
                                callbacks=[_OpCounts()])
        clf = _fit(strategy, digits_small, epochs=2)
    supernet, recorder = clf.strategy_.supernet_, clf.strategy_.callbacks[0]
    assert not supernet.run_eagerly and float(supernet.temperature) == pytest.approx(0.1)
    steps = np.diff(np.stack(recorder.snapshots), axis=0)  # (steps, edges, ops): op calls in each compiled step
    assert steps.shape[0] == 8
    np.testing.assert_array_equal(steps.sum(axis=-1), 1.0)  # every edge ran exactly one op in every step
    choices = steps.argmax(axis=-1)
    assert len({tuple(c) for c in choices}) > 1  # and the sample changed from step to step
    assert clf.best_architecture_.layers[2].kind == "cell"


class _FixedStrategy(OneShotStrategy):
    """A stand-in for a strategy written elsewhere (ENAS): the interface alone, no supernet."""

    name = "fixed"

    def search(self, x_train, y_train, x_val, y_val):
        self.history_ = {"loss": [1.0, 0.5]}
        return self

    def derive(self):
        return Architecture([Layer.of("dense", units=4, activation="relu")])


def test_a_registered_strategy_runs_in_the_regressor(tabular_small):
    x, y = tabular_small
    register_strategy("fixed", _FixedStrategy)
    try:
        reg = NASRegressor(strategy="fixed", epochs=1, batch_size=40, seed=0, refit=False).fit(x, 50 + 10 * y)
    finally:
        STRATEGIES.unregister("fixed")
    assert reg.best_architecture_.summary() == "dense4relu" and reg.best_score_ is None
    (row,) = reg.leaderboard_
    assert row["epochs"] == 2 and row["params"] == 31 * 4 + 5  # dense 30 -> 4, head 4 -> 1
    assert "val_loss" in reg.history_  # refit=False: trained on the training split, validated on the rest
    assert reg.predict(x[:4]).shape == (4,) and abs(float(np.mean(reg.predict(x))) - 50) < 30  # original units


def test_supernet_strategies_score_regression_by_squared_error():
    strategy = get_strategy("darts", channels=4, num_cells=1, nodes=1, primitives=("skip_connect", "dense"))
    strategy.configure((5,), Head("regression", 2), epochs=1, seed=0)
    supernet = strategy.build_supernet()
    assert supernet.head.activation is keras.activations.linear
    x = np.random.default_rng(0).normal(size=(300, 5)).astype("float32")
    expected = np.mean((np.asarray(supernet(x, training=False)) - x[:, :2]) ** 2)
    assert strategy._score(supernet, x, x[:, :2]) == pytest.approx(expected, rel=1e-5)


def test_default_supernet_is_cpu_sized_and_the_derived_network_wider():
    images = DARTSStrategy().configure((8, 8, 1), Head("classification", 10))
    supernet = images.build_supernet()
    assert supernet.primitives == COMPACT_PRIMITIVES and (supernet.num_cells, supernet.nodes) == (3, 2)
    assert DARTSStrategy().configure((5,), Head("classification", 3)).build_supernet().primitives == TABULAR_PRIMITIVES
    images.supernet_ = supernet  # α at their initial values: enough to derive
    cells = [layer for layer in images.derive().layers if layer.kind == "cell"]
    assert [cell["filters"] for cell in cells] == [16, 32, 64]  # derive_channels=16 on a C=8 supernet
    assert DARTSStrategy(derive_channels=None).configure((8, 8, 1), Head("classification", 10)).search_batch_size == 96
    same = DARTSStrategy(derive_channels=None)
    same.configure((8, 8, 1), Head("classification", 10)).supernet_ = supernet
    assert [layer["filters"] for layer in same.derive().layers if layer.kind == "cell"] == [8, 16, 32]


def test_search_batch_size_sets_the_supernet_batches(digits_small):
    x, y = digits_small
    steps = []

    class Steps(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps.append(batch)

    tiny = dict(channels=4, num_cells=1, nodes=1, primitives=("skip_connect",), derive_channels=None)
    NASClassifier(strategy=DARTSStrategy(**tiny, search_batch_size=len(x) // 4, callbacks=[Steps()]), epochs=1,
                  batch_size=len(x), validation_data=(x[:20], y[:20]), seed=0).fit(x, y)
    assert len(steps) == math.ceil(len(x) / (len(x) // 4))  # not 1, as the estimator's batch_size would give


def test_search_epochs_and_train_batch_size_set_the_search_and_the_retraining(digits_small):
    x, y = digits_small
    steps = []

    class Steps(keras.callbacks.Callback):  # an estimator callback: it sees the derived network's training only
        def on_train_batch_end(self, batch, logs=None):
            steps.append(batch)

    tiny = dict(channels=4, num_cells=1, nodes=1, primitives=("skip_connect",), derive_channels=None)
    strategy = DARTSStrategy(**tiny, search_batch_size=None, search_epochs=2, train_batch_size=len(x) // 4)
    clf = NASClassifier(strategy=strategy, epochs=1, batch_size=len(x), callbacks=[Steps()],
                        validation_data=(x[:20], y[:20]), seed=0).fit(x, y)
    assert len(clf.strategy_.history_["loss"]) == 2 and len(clf.history_["loss"]) == 1
    assert len(steps) == math.ceil((len(x) + 20) / (len(x) // 4))  # refit on train + validation, not in 1 batch
    assert clf.best_hyperparameters_["search_epochs"] == 2 and clf.best_hyperparameters_["train_batch_size"] == len(x) // 4

    steps.clear()  # the defaults: half the epochs (rounded up) for the search, batches of 96 for the retraining
    clf = NASClassifier(strategy=DARTSStrategy(**tiny), epochs=3, callbacks=[Steps()],
                        validation_data=(x[:20], y[:20]), seed=0).fit(x, y)
    assert len(clf.strategy_.history_["loss"]) == 2 and len(clf.history_["loss"]) == 3
    assert len(steps) == 3 * math.ceil((len(x) + 20) / 96)
    head = Head("classification", 10)
    assert [DARTSStrategy().configure((8, 8, 1), head, epochs=n).searched_epochs for n in (1, 2, 9, 10)] == [1, 1, 5, 5]
    assert DARTSStrategy(train_batch_size=None).configure((8, 8, 1), head, batch_size=40).train_batch == 40
    for name in ("search_epochs", "train_batch_size", "search_batch_size"):
        with pytest.raises(ValueError, match=f"`{name}` must be a positive integer"):
            DARTSStrategy(**{name: 0})


def test_strategy_names_params_and_errors(digits_small):
    assert {"darts", "pc_darts", "gdas"} <= set(STRATEGIES)
    assert isinstance(get_strategy("gdas"), GDASStrategy) and isinstance(get_strategy("pc_darts"), PCDARTSStrategy)
    with pytest.raises(ValueError, match="Unknown one-shot strategy 'nope'"):
        get_strategy("nope")
    with pytest.raises(TypeError, match="OneShotStrategy subclass"):
        register_strategy("dict", dict)
    clf = NASClassifier(strategy="gdas", epochs=3)
    assert clf.get_params()["strategy"] == "gdas" and clone(clf).get_params() == clf.get_params()
    configured = NASClassifier(strategy=DARTSStrategy(channels=4))
    assert clone(configured).strategy.channels == 4
    x, y = digits_small
    with pytest.raises(ValueError, match="Unknown strategy 'nope'"):
        NASClassifier(strategy="nope").fit(x, y)
    with pytest.raises(ValueError, match="strategy must be None"):
        NASClassifier(strategy=3).fit(x, y)
    with pytest.raises(ValueError, match="trial search only"):
        NASClassifier(strategy="darts", search_space="dense").fit(x, y)


def test_the_search_runs_without_graph_rewrites_unless_asked_and_puts_the_setting_back(digits_small):
    seen = []

    class Options(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer", False))

    tiny = dict(channels=4, num_cells=1, nodes=1, primitives=("skip_connect",), derive_channels=None)
    before = tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer", False)
    for rewrites in (False, True):
        strategy = DARTSStrategy(**tiny, graph_rewrites=rewrites, callbacks=[Options()])
        strategy.configure((8, 8, 1), Head("classification", 10), epochs=1, seed=0)
        strategy.search(*digits_small, *digits_small)
        assert tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer", False) == before
    assert seen == [True, False]
