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
