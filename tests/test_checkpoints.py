"""Checkpoint checksums: written with every checkpoint, checked before every use, never a silently different model."""
import glob
import os
import shutil
import subprocess
import warnings

import keras
import keras_tuner
import numpy as np
import pytest
from keras_tuner.src.engine.tuner_utils import SaveBestEpoch

from keras_nas import NASClassifier
from keras_nas.search import checkpoints
from keras_nas.architecture import Head
from keras_nas.search.checkpoints import CheckpointError
from keras_nas.search.morphism.tuner import MorphismTuner
from keras_nas.search.morphism.oracle import PARENT, MorphismOracle
from keras_nas.spaces.morphism import MorphismSpace
from keras_nas.search.tuner import NASTuner


def _scribble(path):
    content = bytearray(open(path, "rb").read())
    middle = len(content) // 2
    content[middle: middle + 256] = os.urandom(256)
    with open(path, "wb") as handle:
        handle.write(bytes(content))


def _model(n_features=4):
    model = keras.Sequential([keras.Input((n_features,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    return model


# -- the module ------------------------------------------------------------
def test_record_and_verify(tmp_path):
    path = tmp_path / "checkpoint.weights.h5"
    path.write_bytes(b"weights")
    digest = checkpoints.record(path)
    assert (tmp_path / "checkpoint.weights.h5.sha256").read_text() == f"{digest}  checkpoint.weights.h5\n"
    assert checkpoints.problem(path) is None
    checkpoints.verify(path, "unused")
    if shutil.which("sha256sum"):  # the sidecar is in sha256sum's format
        subprocess.run(["sha256sum", "-c", "--quiet", "checkpoint.weights.h5.sha256"], cwd=tmp_path, check=True)


@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda p: p.write_bytes(b"weightz"), "does not match its checksum"),
        (lambda p: p.unlink(), "is missing"),
        (lambda p: (p.parent / (p.name + ".sha256")).unlink(), "has no checksum file"),
        (lambda p: (p.parent / (p.name + ".sha256")).write_text("abc"), "holds no sha256 digest"),
    ],
    ids=["changed", "checkpoint-missing", "checksum-missing", "checksum-garbage"],
)
def test_a_checkpoint_that_does_not_verify_is_named(tmp_path, damage, expected):
    path = tmp_path / "checkpoint.weights.h5"
    path.write_bytes(b"weights")
    checkpoints.record(path)
    damage(path)
    with pytest.raises(CheckpointError, match=rf"The checkpoint .*checkpoint.weights.h5 .*{expected}.*Do this\.") as raised:
        checkpoints.verify(path, "Do this.")
    assert isinstance(raised.value, ValueError) and raised.value.path == str(path)


def test_remove_takes_the_checksum_too(tmp_path):
    path = tmp_path / "checkpoint.weights.h5"
    path.write_bytes(b"weights")
    checkpoints.record(path)
    checkpoints.remove(path)
    assert os.listdir(tmp_path) == []


def test_keras_tuners_saves_are_written_aside_and_signed(tmp_path):
    x, y = np.random.default_rng(0).normal(size=(32, 4)), np.arange(32) % 2
    path = str(tmp_path / "checkpoint.weights.h5")
    saver = SaveBestEpoch(keras_tuner.Objective("loss", "min"), path)
    checkpoints.sign_saves([saver, keras.callbacks.History()])
    checkpoints.sign_saves([saver])  # wrapped once only
    model = _model()
    model.fit(x, y, epochs=3, verbose=0, callbacks=[saver])
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.weights.h5", "checkpoint.weights.h5.sha256"]
    assert checkpoints.problem(path) is None
    fresh = _model()
    with warnings.catch_warnings():  # the checkpoint also holds the optimizer's variables
        warnings.simplefilter("ignore")
        fresh.load_weights(path)
    np.testing.assert_allclose(fresh.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_a_kill_between_checkpoint_and_checksum_is_detected(tmp_path, monkeypatch):
    x, y = np.random.default_rng(0).normal(size=(32, 4)), np.arange(32) % 2
    path = str(tmp_path / "checkpoint.weights.h5")
    saver = SaveBestEpoch(keras_tuner.Objective("loss", "min"), path)
    checkpoints.sign_saves([saver])
    model = _model()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[saver])
    assert checkpoints.problem(path) is None

    def killed(_):
        raise KeyboardInterrupt  # the process dies after the checkpoint's rename, before its checksum

    monkeypatch.setattr(checkpoints, "record", killed)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[saver])
    assert "does not match its checksum" in checkpoints.problem(path)


# -- the tuners use it ---------------------------------------------------
@pytest.fixture
def tiny_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


def _build(hp):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(hp.Int("units", 2, 8)), keras.layers.Dense(2)])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def test_load_model_refuses_a_garbled_checkpoint(tmp_path, tiny_data):
    x, y = tiny_data
    oracle = keras_tuner.oracles.RandomSearchOracle(objective="val_loss", max_trials=1, seed=0)
    tuner = NASTuner(_build, oracle, directory=tmp_path, project_name="p", seed=0)
    tuner.search(x, y, validation_split=0.25, epochs=2, verbose=0)
    trial = tuner.oracle.get_best_trials(1)[0]
    path = tuner._get_checkpoint_fname(trial.trial_id)
    assert checkpoints.problem(path) is None
    tuner.load_model(trial)
    _scribble(path)
    with pytest.raises(CheckpointError, match=rf"{path} does not match its checksum.*refit='scratch'"):
        tuner.load_model(trial)


def test_a_checkpoint_garbled_during_the_search_is_never_refitted(tmp_path, tiny_data):
    """Random bytes in the best trial's checkpoint used to give a chance-level model with the trial's score."""
    x, y = tiny_data

    class Garble(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            for path in glob.glob(str(tmp_path / "*" / "trial_*" / "checkpoint.weights.h5")):
                _scribble(path)

    clf = NASClassifier(oracle="random", search_space="dense", max_trials=1, epochs=1, seed=0, directory=tmp_path,
                        callbacks=[Garble()])
    with pytest.raises(CheckpointError, match=r"trial_0/checkpoint.weights.h5 does not match its checksum"):
        clf.fit(x, y)
    assert not hasattr(clf, "best_model_")


def _weights(model):
    return [np.array(w) for w in model.get_weights()]


def test_a_hyperband_parent_that_does_not_verify_is_not_continued(tmp_path):
    oracle = keras_tuner.oracles.RandomSearchOracle(objective="val_loss", max_trials=1, seed=0)
    tuner = NASTuner(_build, oracle, directory=tmp_path, project_name="p", seed=0)
    hp = keras_tuner.HyperParameters()
    hp.Fixed("units", 4)
    hp.Fixed("tuner/trial_id", "0")
    parent = _build(hp)
    parent.set_weights([np.full_like(w, 0.5) for w in parent.get_weights()])
    path = tuner._get_checkpoint_fname("0")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    parent.save_weights(path)
    checkpoints.record(path)
    continued = tuner._build_hypermodel(hp)
    assert all(np.allclose(w, 0.5) for w in _weights(continued))
    _scribble(path)
    with pytest.warns(UserWarning, match=r"trains from scratch: the checkpoint .* of its parent trial 0 does not match"):
        fresh = tuner._build_hypermodel(hp)
    assert not all(np.allclose(w, 0.5) for w in _weights(fresh))


@pytest.fixture
def grown(tmp_path, tabular_small):
    x, y = tabular_small
    space = MorphismSpace(input_shape=(x.shape[1],), head=Head("classification", 2), max_width=64)
    oracle = MorphismOracle(objective="val_accuracy", max_trials=3, num_initial_points=1, seed=4)
    tuner = MorphismTuner(space, oracle, directory=tmp_path, project_name="p", seed=0, keep_checkpoints=10)
    tuner.search(x, y, validation_split=0.25, epochs=1, verbose=0)
    return tuner


def test_morphism_inheritance_from_a_parent_that_does_not_verify_is_dropped(grown):
    child = next(t for t in grown.oracle.trials.values() if PARENT in t.hyperparameters.values)
    parent_id = child.hyperparameters.values[PARENT]
    grown._build_hypermodel(child.hyperparameters)
    assert grown._inheritance.inherited is True
    path = grown._get_checkpoint_fname(parent_id)
    _scribble(path)
    with pytest.warns(UserWarning, match=rf"trains from scratch: the checkpoint .* of its parent trial {parent_id} "
                                         "does not match its checksum"):
        model = grown._build_hypermodel(child.hyperparameters)
    assert isinstance(model, keras.Model)
    assert grown._inheritance.inherited is False and "checksum" in grown._inheritance.error


def test_pruning_removes_checksums_with_their_checkpoints(grown):
    trial_dirs = sorted(glob.glob(os.path.join(grown.project_dir, "trial_*")))
    assert all(checkpoints.problem(os.path.join(d, "checkpoint.weights.h5")) is None for d in trial_dirs)
    grown.keep_checkpoints = 1
    grown._prune_checkpoints()
    remaining = [sorted(n for n in os.listdir(d) if n.startswith("checkpoint")) for d in trial_dirs]
    assert remaining.count(["checkpoint.weights.h5", "checkpoint.weights.h5.sha256"]) == 1
    assert remaining.count([]) == len(trial_dirs) - 1
