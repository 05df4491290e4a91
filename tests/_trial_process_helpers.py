"""Callbacks that `test_trial_process.py` sends into trial processes (they must be importable there).

Importing this module does nothing (pytest's `--doctest-modules` imports it).
"""
import os
import signal
import time

import keras


class WritePid(keras.callbacks.Callback):
    """Writes the training process's id into `folder`, one file per trial."""

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = folder

    def on_train_begin(self, logs=None):
        with open(os.path.join(self.folder, f"{os.getpid()}-{time.time_ns()}"), "w") as handle:
            handle.write(str(os.getpid()))


class KillFirstTrial(keras.callbacks.Callback):
    """SIGKILLs its own process in the first trial that sees no `marker` file (and creates it)."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def on_train_batch_end(self, batch, logs=None):
        if not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)


class RaiseInFirstTrial(keras.callbacks.Callback):
    """Raises `ValueError("boom in the trial process")` in the first trial that sees no `marker` file."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def on_train_begin(self, logs=None):
        if not os.path.exists(self.marker):
            open(self.marker, "w").close()
            raise ValueError("boom in the trial process")


class Hold(keras.callbacks.Callback):
    """Prints `training PID` and sleeps in the first batch: the parent test kills the search meanwhile."""

    def on_train_batch_end(self, batch, logs=None):
        print(f"training {os.getpid()}", flush=True)
        time.sleep(600)


class HoldInSecondTraining(keras.callbacks.Callback):
    """Counts trainings in `folder/count`; in the second one ever, prints `training PID` and sleeps (once)."""

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = folder

    def on_train_batch_end(self, batch, logs=None):
        if batch != 0:
            return
        path = os.path.join(self.folder, "count")
        count = int(open(path).read()) + 1 if os.path.exists(path) else 1
        with open(path, "w") as handle:
            handle.write(str(count))
        if count == 2:
            print(f"training {os.getpid()}", flush=True)
            time.sleep(600)
