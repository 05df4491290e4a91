import keras
import keras_tuner
import numpy as np
import pytest
import tensorflow as tf

from keras_nas import Architecture, DenseSpace, MorphismOracle, MorphismSpace, MorphismTuner, NASClassifier, NASRegressor
from keras_nas.search.morphism.oracle import PARENT
from tests.conftest import TINY


@pytest.fixture(scope="module")
def fitted(digits_small):
    x, y = digits_small
    return NASClassifier(**TINY).fit(x, y), x, y


def test_fit_returns_self_with_learned_attributes(fitted):
    clf, x, y = fitted
    assert isinstance(clf.best_model_, keras.Model)
    assert list(clf.classes_) == list(range(10))
    assert clf.input_shape_ == (8, 8, 1)
    assert isinstance(clf.best_architecture_, Architecture)
    assert clf.best_trial_id_ in {row["trial_id"] for row in clf.leaderboard_}
    assert clf.device_ in ("CPU", "GPU")
    assert clf.search_seconds_ > 0 and clf.refit_seconds_ > 0


def test_leaderboard_lists_every_trial_best_first(fitted):
    clf, _, _ = fitted
    rows = clf.leaderboard_
    assert len(rows) == 2
    assert set(rows[0]) >= {"trial_id", "status", "score", "hyperparameters", "architecture", "params", "epochs", "seconds"}
    assert rows[0]["score"] >= rows[1]["score"] and rows[0]["score"] == clf.best_score_
    assert rows[0]["architecture"] == clf.best_architecture_.summary()


def test_predict_uses_exactly_best_model(fitted):
    clf, x, y = fitted
    proba = clf.predict_proba(x[:20])
    assert proba.shape == (20, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(proba, clf.best_model_.predict(x[:20], verbose=0), atol=1e-6)
    np.testing.assert_array_equal(clf.predict(x[:20]), proba.argmax(axis=1))
    assert 0.0 <= clf.score(x, y) <= 1.0
    results = clf.evaluate(x, y)
    assert set(results) >= {"loss", "accuracy"} and results["accuracy"] == pytest.approx(clf.score(x, y), abs=1e-6)


def test_refit_trains_best_architecture_on_all_data(fitted):
    clf, _, _ = fitted
    assert len(clf.history_["loss"]) == clf.refit_epochs_ == min(3, clf.epochs)
    inner = [layer for layer in clf.best_model_.layers if isinstance(layer, keras.Model)][0]
    assert Architecture.from_keras_model(inner).layers[: len(clf.best_architecture_)] == clf.best_architecture_.layers


class _FirstPredictions(keras.callbacks.Callback):
    probe, seen = None, []

    def on_train_begin(self, logs=None):
        _FirstPredictions.seen.append(self.model.predict(_FirstPredictions.probe, verbose=0))


def test_warm_refit_continues_the_best_checkpoint_at_a_tenth_of_its_rate(digits_small, tmp_path):
    x, y = digits_small
    _FirstPredictions.probe = x[:16]  # only compared with itself: any fixed input does
    # A directory keeps the checkpoints (without one, fit removes them once it is done).
    clf = NASClassifier(**{**TINY, "epochs": 2}, callbacks=[_FirstPredictions()], directory=str(tmp_path)).fit(x, y)
    best = clf.tuner_.oracle.get_trial(clf.best_trial_id_)
    checkpoint = clf.tuner_.load_model(best)
    np.testing.assert_allclose(_FirstPredictions.seen[-1], checkpoint.predict(x[:16], verbose=0), atol=1e-5)
    inner = [layer for layer in clf.best_model_.layers if isinstance(layer, keras.Model)][0]
    trial_rate = best.hyperparameters.values.get("learning_rate", 1e-3)
    assert float(inner.optimizer.learning_rate) == pytest.approx(0.1 * trial_rate, rel=1e-5)
    assert clf.refit_epochs_ == 2 == len(clf.history_["loss"])


def test_unknown_refit_is_a_clear_error(tabular_small):
    x, y = tabular_small
    with pytest.raises(ValueError, match="refit must be one of"):
        NASClassifier(**TINY, refit="later").fit(x, y)


def test_normalisation_is_inside_the_model(fitted):
    clf, x, _ = fitted
    assert clf.best_model_.get_layer("normalize") is not None
    # Scaling the raw input changes predictions, so the model does see raw features.
    assert not np.allclose(clf.predict_proba(x[:5]), clf.predict_proba(x[:5] * 3.0))


def test_string_labels_round_trip(tabular_small):
    x, y = tabular_small
    labels = np.where(y == 1, "benign", "malignant")
    clf = NASClassifier(**TINY).fit(x, labels)
    assert set(clf.classes_) == {"benign", "malignant"}
    assert set(clf.predict(x)) <= {"benign", "malignant"}
    assert clf.predict_proba(x).shape == (len(x), 2)


def test_one_hot_labels(tabular_small):
    x, y = tabular_small
    clf = NASClassifier(**TINY).fit(x, np.eye(2)[y])
    assert list(clf.classes_) == [0, 1]
    assert clf.score(x, np.eye(2)[y]) == clf.score(x, y) > 0.5


def test_pandas_input(tabular_small):
    pd = pytest.importorskip("pandas")
    x, y = tabular_small
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    clf = NASClassifier(**TINY).fit(frame, pd.Series(y))
    assert list(clf.feature_names_in_) == list(frame.columns) and clf.n_features_in_ == x.shape[1]
    assert clf.predict(frame).shape == (len(x),)


def test_tf_data_input(tabular_small):
    x, y = tabular_small
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    clf = NASClassifier(**TINY).fit(dataset)
    assert clf.predict(dataset).shape == (len(x),)
    unbatched = tf.data.Dataset.from_tensor_slices((x, y))
    assert NASClassifier(**TINY).fit(unbatched).input_shape_ == (x.shape[1],)


def test_validation_data_and_refit_false(tabular_small, tmp_path):
    x, y = tabular_small
    clf = NASClassifier(**TINY, refit=False, validation_data=(x[:40], y[:40]), directory=str(tmp_path))
    clf.fit(x[40:], y[40:])
    assert clf.history_ is None
    best = clf.tuner_.oracle.get_trial(clf.best_trial_id_)
    checkpoint = clf.tuner_.load_model(best)
    standardized = (x[:10] - clf.input_mean_) / np.sqrt(clf.input_variance_)
    np.testing.assert_allclose(clf.predict_proba(x[:10]), checkpoint.predict(standardized, verbose=0), atol=1e-4)


def test_time_budget_without_max_trials_spent_by_the_search_skips_the_refit_with_a_warning(tabular_small, tmp_path):
    x, y = tabular_small
    with pytest.warns(UserWarning, match="time budget of 0.001 s was spent by the search, so the best trial was not"):
        clf = NASClassifier(max_trials=None, time_budget=1e-3, epochs=3, seed=0, directory=tmp_path).fit(x, y)
    assert len(clf.leaderboard_) == 1 and clf.refit_epochs_ == 0 and clf.history_ is None
    checkpoint = clf.tuner_.load_model(clf.tuner_.oracle.get_trial(clf.best_trial_id_))
    standardized = (x[:10] - clf.input_mean_) / np.sqrt(clf.input_variance_)
    np.testing.assert_allclose(clf.predict_proba(x[:10]), checkpoint.predict(standardized, verbose=0), atol=1e-4)


@pytest.mark.parametrize("refit", ["warm", False])
def test_the_search_keeps_back_the_refits_expected_seconds_from_the_time_budget(tabular_small, refit):
    x, y = tabular_small
    clf = NASClassifier(**{**TINY, "epochs": 2}, time_budget=3600, refit=refit).fit(x, y)
    record = clf.tuner_.records[clf.best_trial_id_]
    n_train = round(len(x) * 0.8)  # validation_split=0.2
    expected = 1.1 * len(x) / n_train * min(3, 2) * record.seconds / record.epochs if refit else 0.0
    assert clf.tuner_._budget.reserved == pytest.approx(expected, rel=0.02)


def test_default_search_grows_networks_and_refits_for_the_lineage(tabular_small):
    x, y = tabular_small
    clf = NASClassifier(**{**TINY, "max_trials": 4, "epochs": 2}, refit="scratch").fit(x, y)
    assert isinstance(clf.tuner_, MorphismTuner) and isinstance(clf.tuner_.hypermodel, MorphismSpace)
    grown = [r for r in clf.leaderboard_ if PARENT in r["hyperparameters"]]
    assert grown and any(clf.tuner_.records[r["trial_id"]].inherited for r in grown)
    assert clf.refit_epochs_ == min(clf.tuner_.trained_epochs(clf.best_trial_id_), 3 * 2)
    assert len(clf.history_["loss"]) == clf.refit_epochs_


def test_morphism_oracle_on_a_describable_space(tabular_small):
    x, y = tabular_small
    clf = NASClassifier(**{**TINY, "max_trials": 4}, search_space="dense").fit(x, y)
    assert isinstance(clf.tuner_.oracle, MorphismOracle) and isinstance(clf.tuner_.hypermodel, DenseSpace)
    assert len(clf.leaderboard_) == 4


@pytest.mark.parametrize("oracle", ["random", "hyperband", "instance"])
def test_oracle_choices(oracle, tabular_small):
    x, y = tabular_small
    if oracle == "instance":
        oracle = keras_tuner.oracles.RandomSearchOracle(objective="val_accuracy", max_trials=2, seed=5)
    clf = NASClassifier(**{**TINY, "epochs": 2}, oracle=oracle).fit(x, y)
    assert 1 <= len(clf.leaderboard_) <= 2


def test_same_seed_same_search(tabular_small):
    x, y = tabular_small
    a = NASClassifier(**TINY, oracle="random").fit(x, y)
    b = NASClassifier(**TINY, oracle="random").fit(x, y)
    assert [r["hyperparameters"] for r in a.leaderboard_] == [r["hyperparameters"] for r in b.leaderboard_]
    assert [r["score"] for r in a.leaderboard_] == pytest.approx([r["score"] for r in b.leaderboard_])


def test_verbose_prints_one_line_per_trial(tabular_small, capsys):
    x, y = tabular_small
    NASClassifier(**TINY, verbose=1).fit(x, y)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[keras_nas] trial")]
    assert len(lines) == 2 and "best=" in lines[0] and "params=" in lines[0]


def test_mixed_precision_on_cpu_warns(tabular_small):
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    x, y = tabular_small
    with pytest.warns(UserWarning, match="mixed_precision=True is ignored"):
        NASClassifier(**{**TINY, "max_trials": 1}, mixed_precision=True).fit(x, y)


def test_regressor_predicts_in_original_units():
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    reg = NASRegressor(max_trials=2, epochs=8, seed=0).fit(x[:300], y[:300])
    predictions = reg.predict(x[300:])
    assert predictions.shape == (len(x) - 300,)
    assert 50 < predictions.mean() < 250  # targets range 25-346; standardised outputs would sit near 0
    assert reg.score(x[300:], y[300:]) > 0.0
    assert set(reg.evaluate(x[300:], y[300:])) >= {"loss", "mean_absolute_error"}


def test_regressor_multi_output():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4)).astype("float32")
    y = np.stack([x[:, 0] * 10 + 100, x[:, 1] - 5], axis=1)
    reg = NASRegressor(**TINY).fit(x, y)
    assert reg.predict(x).shape == (120, 2)


def test_sequences_use_the_conv_space():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 12, 2)).astype("float32")
    y = (x[:, :, 0].mean(axis=1) > 0).astype(int)
    clf = NASClassifier(**TINY).fit(x, y)
    assert clf.best_architecture_.layers[0].kind == "conv"
    assert clf.predict_proba(x).shape == (60, 2)
