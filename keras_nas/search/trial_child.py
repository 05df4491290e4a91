"""The trial process's side of `keras_nas.search.trial_process`: load the tuner, train trials, send back results.

`TrialProcess` starts `python -c "...trial_child.main(...)" HOST PORT` (so the
child's `__main__` is not the user's script). `main` reads the connection's key
from standard input, connects, receives the tuner and the fit arguments once,
then trains each trial it is sent with `NASTuner.run_trial_here`, exactly as
the tuner would in its own process, and answers with the trial's history (a
dict: a `History` holds its model), record, this process's memory and the
trial's hyperparameters. It exits when the parent closes its standard input.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
import threading
import traceback
from multiprocessing.connection import Client, Connection
from typing import Any

from keras_nas.utils.budget import TimeBudget


class _OracleView:
    """The child's oracle: the objective, and trials read from the parent's oracle."""

    def __init__(self, objective: Any, connection: Connection) -> None:
        self.objective = objective
        self._connection = connection

    def get_trial(self, trial_id: str):
        from keras_tuner.src.engine import trial as trial_module

        self._connection.send(("get_trial", trial_id))
        return trial_module.Trial.from_state(self._connection.recv()[1])

    def __getattr__(self, name: str):
        raise AttributeError(
            f"A trial process's oracle has only `objective` and `get_trial`; the trial asked for `{name}`. Run "
            "this search with trials_per_process=None."
        )


def _sendable(results: Any) -> Any:
    """The trial's results with each `History` as its dict (`trial_process._histories` makes it one again)."""
    import keras

    if isinstance(results, list):
        return [_sendable(element) for element in results]
    if isinstance(results, keras.callbacks.History):
        return {"__history__": dict(results.history)}
    return results


def _exit_with_parent() -> None:
    sys.stdin.buffer.read()  # returns when the parent closes the pipe or dies
    os._exit(0)


def _load_tuner(payload: bytes, connection: Connection):
    import keras

    spec = pickle.loads(payload)
    keras.config.set_dtype_policy(spec["dtype_policy"])
    tuner = object.__new__(spec["tuner_class"])
    vars(tuner).update(spec["tuner_state"])
    tuner.oracle = _OracleView(spec["objective"], connection)
    tuner._built_model = tuner._examples = None
    return tuner, spec["fit_args"], spec["fit_kwargs"]


def _serve(connection: Connection) -> None:
    import keras_tuner
    from keras_tuner.src.engine import trial as trial_module

    _, payload = connection.recv()
    try:
        tuner, fit_args, fit_kwargs = _load_tuner(payload, connection)
    except Exception as error:
        connection.send(("failed", f"it does not load in the trial process ({type(error).__name__}: {error})"))
        return
    connection.send(("ready",))
    while True:
        message = connection.recv()
        if message[0] == "stop":
            return
        _, state, remaining, proposal_seconds = message
        trial = trial_module.Trial.from_state(state)
        tuner._budget = TimeBudget(None if remaining is None else max(0.0, remaining))
        tuner._proposal_seconds = proposal_seconds
        try:
            results = tuner.run_trial_here(trial, *fit_args, **fit_kwargs)
        except Exception as error:
            kind = (
                "fatal"
                if isinstance(error, keras_tuner.errors.FatalError)
                else "failed"
                if isinstance(error, keras_tuner.errors.FailedTrialError)
                else "error"
            )
            connection.send(
                (
                    "failed",
                    kind,
                    traceback.format_exc(),
                    tuner.records.get(trial.trial_id),
                    _resident_mib(),
                    trial.hyperparameters.get_config(),
                )
            )
            continue
        connection.send(
            (
                "done",
                _sendable(results),
                tuner.records.get(trial.trial_id),
                _resident_mib(),
                trial.hyperparameters.get_config(),
            )
        )


def _resident_mib() -> float | None:
    """This process's resident memory now (Linux); None where it cannot be read."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, AttributeError):
        return None


def main(argv: list[str]) -> None:
    authkey = bytes.fromhex(sys.stdin.buffer.readline().decode().strip())
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    # EOFError: the parent went away between messages.
    with Client((argv[0], int(argv[1])), authkey=authkey) as connection, contextlib.suppress(EOFError):
        _serve(connection)
    sys.stdout.flush()
    os._exit(0)  # skips interpreter teardown, which can take seconds with TensorFlow loaded
