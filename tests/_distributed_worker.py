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
    from keras_nas.oracles.morphism import MorphismOracle

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


def _fast_chief_exit() -> None:
    """Once a worker was told to stop, the chief polls every 20 s for the others: poll every 0.25 s instead."""
    import time
    import types

    try:
        from keras_tuner.src.distribute import oracle_chief
    except ImportError:
        return
    oracle_chief.time = types.SimpleNamespace(sleep=lambda seconds: time.sleep(min(seconds, 0.25)))


def main(directory: str, project_name: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)  # three processes share a couple of cores
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from keras_nas.morphism_tuner import MorphismTuner

    tuner = MorphismTuner(space(), oracle(), directory=directory, project_name=project_name, seed=0)
    if os.environ["KERASTUNER_TUNER_ID"] == "chief":
        _fast_chief_exit()
        tuner.search(verbose=0)  # serves the oracle until every trial has ended and every worker was stopped
        print("chief done", flush=True)
        return
    x, y = data()
    tuner.search(x, y, validation_split=0.25, epochs=2, batch_size=32, verbose=0)
    print(f"{tuner.tuner_id} done: {sorted(tuner.records)}, leaderboard {len(tuner.leaderboard())}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
