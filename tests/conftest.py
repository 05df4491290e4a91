import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist runs one worker per core (addopts: -n 2); one op thread each keeps
    # the two workers from oversubscribing both cores with tiny models.
    tf.config.threading.set_intra_op_parallelism_threads(1)
import pytest  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.fixture(scope="session")
def digits_small():
    x, y = load_digits(return_X_y=True)
    return x[:240].reshape(-1, 8, 8, 1).astype("float32"), y[:240]


@pytest.fixture(scope="session")
def tabular_small():
    x, y = load_breast_cancer(return_X_y=True)
    return x[:160].astype("float32"), y[:160]


TINY = dict(max_trials=2, epochs=1, batch_size=32, seed=0)
