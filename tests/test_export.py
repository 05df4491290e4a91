"""Exported models load elsewhere and give exactly the estimator's predictions."""
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_nas import NASClassifier, NASRegressor
from tests.conftest import TINY

LOAD_SAVED_MODEL = """
import json, sys
import numpy as np
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
x = np.load(sys.argv[2])
print(json.dumps(np.asarray(loaded.serve(tf.constant(x))).tolist()))
"""


def _in_fresh_process(path, x, tmp_path):
    np.save(tmp_path / "x.npy", x)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(
        [sys.executable, "-c", LOAD_SAVED_MODEL, str(path), str(tmp_path / "x.npy")],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    )
    return np.array(json.loads(result.stdout.strip().splitlines()[-1]), dtype="float32")


@pytest.fixture(scope="module")
def classifier(digits_small):
    x, y = digits_small
    return NASClassifier(**TINY).fit(x, y)


def test_saved_model_round_trip_in_a_fresh_process(classifier, digits_small, tmp_path):
    x = digits_small[0][:32]
    path = classifier.export(tmp_path / "digits_model")
    assert os.path.exists(os.path.join(path, "saved_model.pb"))
    np.testing.assert_allclose(_in_fresh_process(path, x, tmp_path), classifier.best_model_.predict(x, verbose=0), atol=1e-5)


def test_keras_format_round_trip(classifier, digits_small, tmp_path):
    x = digits_small[0][:16]
    path = classifier.export(tmp_path / "digits_model", format="keras")
    assert path.endswith(".keras")
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), classifier.predict_proba(x), atol=1e-6)


def test_regressor_saved_model_outputs_original_units(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 3)).astype("float32")
    y = 50 + 10 * x[:, 0]
    reg = NASRegressor(**TINY).fit(x, y)
    path = reg.export(tmp_path / "reg_model")
    exported = _in_fresh_process(path, x[:8], tmp_path)
    np.testing.assert_allclose(exported[:, 0], reg.predict(x[:8]), atol=1e-4)


def test_export_refuses_a_folder_it_did_not_write_and_keeps_its_files(classifier, tmp_path):
    folder = tmp_path / "my_results"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="my_results.*not an export written by keras_nas"):
        classifier.export(folder)
    assert sorted(os.listdir(folder)) == ["notes.txt"] and (folder / "notes.txt").read_text() == "mine"


def test_export_refuses_a_file_where_a_saved_model_goes(classifier, tmp_path):
    target = tmp_path / "model"
    target.write_text("mine")
    with pytest.raises(ValueError, match="a file is there"):
        classifier.export(target)
    assert target.read_text() == "mine"


def test_export_replaces_its_own_previous_export(classifier, digits_small, tmp_path):
    path = tmp_path / "digits_model"
    classifier.export(path)
    (path / "stale_extra_file").write_text("from the first export")
    classifier.export(path)
    assert not (path / "stale_extra_file").exists()
    assert (path / "saved_model.pb").is_file() and (path / "keras_nas_export.json").is_file()
    assert [p for p in os.listdir(tmp_path) if p.startswith(".tmp_")] == []


def test_an_export_that_dies_midway_leaves_the_previous_one_whole(classifier, tmp_path, monkeypatch):
    path = tmp_path / "digits_model"
    classifier.export(path)
    before = sorted(os.listdir(path))
    pb = (path / "saved_model.pb").read_bytes()

    def dies_midway(self, filepath, **kwargs):
        os.makedirs(os.path.join(filepath, "variables"))  # as far as a killed SavedModel write gets
        raise RuntimeError("killed")

    monkeypatch.setattr(keras.Model, "export", dies_midway)
    with pytest.raises(RuntimeError, match="killed"):
        classifier.export(path)
    assert sorted(os.listdir(path)) == before and (path / "saved_model.pb").read_bytes() == pb
    assert [p for p in os.listdir(tmp_path) if p.startswith(".tmp_")] == []


def test_a_keras_export_is_written_aside_then_renamed(classifier, tmp_path, monkeypatch):
    written = []
    save = keras.Model.save

    def recording_save(self, filepath, *args, **kwargs):
        written.append(str(filepath))
        return save(self, filepath, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "save", recording_save)
    path = classifier.export(tmp_path / "digits_model", format="keras")
    assert written and all(os.path.dirname(w) != str(tmp_path) for w in written)  # never straight onto the path
    assert os.path.isfile(path) and keras.saving.load_model(path) is not None


def test_an_export_killed_between_its_renames_gets_the_previous_one_back(classifier, tmp_path, monkeypatch):
    path = tmp_path / "digits_model"
    classifier.export(path)
    pb = (path / "saved_model.pb").read_bytes()
    staging = tmp_path / ".tmp_digits_model_k1ll3d"  # as `atomic.replacing` leaves it: old export moved aside
    staging.mkdir()
    os.replace(path, staging / ".old")

    def dies(self, filepath, **kwargs):
        raise RuntimeError("killed again")

    monkeypatch.setattr(keras.Model, "export", dies)
    with pytest.raises(RuntimeError, match="killed again"):
        classifier.export(path)
    assert (path / "saved_model.pb").read_bytes() == pb
    assert not staging.exists()
