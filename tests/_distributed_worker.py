"""One process of the distributed search in `test_distributed.py`: the chief (serving the oracle) or a worker.

Run by path: `python _distributed_worker.py DIRECTORY PROJECT_NAME`. keras-tuner reads the role from
`KERASTUNER_TUNER_ID` ("chief" or a worker id) and the chief's address from `KERASTUNER_ORACLE_IP` and
`KERASTUNER_ORACLE_PORT`; every process builds the same tuner over the same project directory.
Importing this module does nothing (pytest's `--doctest-modules` imports it).
"""
import os
import sys

MAX_TRIALS = 4
FEATURES = 8


def oracle():
    from keras_nas.search.morphism.oracle import MorphismOracle

    return MorphismOracle(objective="val_accuracy", max_trials=MAX_TRIALS, num_initial_points=2, seed=4)


def space():
    from keras_nas.architecture import Head
    from keras_nas.spaces.morphism import MorphismSpace

    return MorphismSpace(max_width=64).configure((FEATURES,), Head("classification", 2))


def data():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, FEATURES)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype("int64")


def tuner_class():
    """MorphismTuner that prints `train_begin <trial id>` when a trial starts training (the test's kill marker).

    `KERAS_NAS_TEST_HOLD` seconds: the worker's first trial then sleeps that long before training, heartbeats
    still flowing, to stand for a long epoch (or to hold a trial until the test kills the worker).
    """
    import time

    import keras

    from keras_nas.search.morphism.tuner import MorphismTuner

    class Marker(keras.callbacks.Callback):
        def __init__(self, trial_id, hold):
            super().__init__()
            self.trial_id, self.hold = trial_id, hold

        def on_train_begin(self, logs=None):
            print(f"train_begin {self.trial_id}", flush=True)
            time.sleep(self.hold)

    class MarkedTuner(MorphismTuner):
        held = False

        def run_trial(self, trial, *args, **kwargs):
            hold = 0.0 if self.held else float(os.environ.get("KERAS_NAS_TEST_HOLD", "0"))
            self.held = True
            kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), Marker(trial.trial_id, hold)]
            return super().run_trial(trial, *args, **kwargs)

    return MarkedTuner


def main(directory: str, project_name: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)  # three processes share a couple of cores
    tf.config.threading.set_inter_op_parallelism_threads(1)
    worker_timeout = float(os.environ.get("KERAS_NAS_WORKER_TIMEOUT", "120"))
    tuner = tuner_class()(space(), oracle(), directory=directory, project_name=project_name, seed=0,
                          worker_timeout=worker_timeout)
    if os.environ["KERASTUNER_TUNER_ID"] == "chief":
        tuner.search(verbose=0)  # serves the oracle until every trial has ended and every worker was stopped
        print("chief done", flush=True)
        return
    x, y = data()
    tuner.search(x, y, validation_split=0.25, epochs=2, batch_size=32, verbose=0)
    print(f"{tuner.tuner_id} done: {sorted(tuner.records)}, leaderboard {len(tuner.leaderboard())}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
