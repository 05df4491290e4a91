"""Training a search's trials in a child process, so that what TensorFlow keeps after each trial is given back.

TensorFlow keeps part of every model a process has trained until the process
ends: a plain Keras loop that builds and fits 30 small networks one after the
other grows by about 11 MiB per fit, whatever is deleted or cleared in between
(`python -m benchmarks.keras_memory`). Over a search of hundreds of trials
that is gigabytes. A `TrialProcess` is a child Python process that receives
the tuner (without its oracle) and the search's data once, trains the trials
it is given one by one exactly as the tuner would in its own process
(`NASTuner.run_trial_here`), writes their checkpoints into the project, and
sends back each trial's history and record. It is replaced by a fresh one
after `trials_per_process` trials or, with `"auto"`, once its resident memory
has grown by more than `AUTO_GROWTH_MIB` since its first trial (every
`AUTO_TRIALS_PER_PROCESS` trials where that cannot be read), so memory stays
bounded.

Beyond memory, a trial that crashes its process (killed for lack of memory, a
segmentation fault in a kernel) now fails only that trial, with the exit code
in `leaderboard_`: the search goes on.

What crosses to the child must be picklable and importable there: the search
space, the data, the callbacks (keras-tuner copies them for every trial
anyway). Something defined in `__main__` (a notebook, a script's top level)
cannot be loaded by the child; `trials_per_process="auto"` then trains in the
search's own process, with a warning that says what to move.

The child reads its oracle through the parent (`objective` and `get_trial`,
which is all a trial needs), and dies with the parent: it watches its standard
input, which the parent holds open, and exits when that closes.

The child is `python -c "...trial_child.main(...)" HOST PORT`, started by
`TrialProcess`: its `__main__` is not the user's script, which therefore never
runs twice. This module is the parent's side; `keras_nas.search.trial_child`
is the child's.
"""

from __future__ import annotations

import contextlib
import io
import numbers
import os
import pickle
import secrets
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection, Listener
from typing import Any

from keras_nas.search.trial_child import main  # the child's entry point, importable here as before

__all__ = [
    "AUTO",
    "AUTO_GROWTH_MIB",
    "AUTO_LONGER_THAN",
    "AUTO_TRIALS_PER_PROCESS",
    "START_TIMEOUT",
    "STOP_TIMEOUT",
    "NotTransferable",
    "TrialError",
    "TrialProcess",
    "blueprint",
    "check_trials_per_process",
    "main",
    "plan",
]

AUTO = "auto"
AUTO_LONGER_THAN = 10  # "auto" isolates searches of more trials than this, or of unbounded max_trials
AUTO_GROWTH_MIB = 64.0  # "auto" replaces a child whose memory grew this much since its first trial
AUTO_TRIALS_PER_PROCESS = 10  # where a process's memory cannot be read
START_TIMEOUT = 300.0  # seconds for a child to import its libraries and load the tuner
STOP_TIMEOUT = 30.0

_CHILD_MAIN = "import sys; from keras_nas.search.trial_child import main; main(sys.argv[1:])"
_NOT_SENT = ("oracle", "_display", "_built_model", "_examples", "_trial_process", "_trial_process_plan", "reserve")


class TrialError(Exception):
    """A trial raised in the trial process; the message is that process's traceback."""


class NotTransferable(ValueError):
    """The tuner or the search's arguments cannot be sent to a trial process."""


def check_trials_per_process(value: Any) -> int | str | None:
    """Validates `trials_per_process`: `"auto"`, None or a positive integer; returns it."""
    if value is None or value == AUTO:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(
            f"trials_per_process must be 'auto', None or a positive integer; received {value!r}. "
            "Pass e.g. trials_per_process=10 for a fresh trial process every 10 trials, or None to train every "
            "trial in this process."
        )
    return int(value)


def plan(trials_per_process: int | str | None, max_trials: int | None, worker: bool) -> int | str | None:
    """How trials train: None in this process; an int, that many per child; `"auto"`, a child replaced as it grows.

    `"auto"` isolates long searches only (more than `AUTO_LONGER_THAN` trials,
    or no trial limit): a short search loses more to starting a process than
    it would to memory. A keras-tuner distributed worker trains in its own
    process (its trials are already outside the chief).
    """
    if trials_per_process != AUTO:
        return trials_per_process
    if worker or (max_trials is not None and max_trials <= AUTO_LONGER_THAN):
        return None
    return AUTO


class _Pickler(pickle.Pickler):
    """Pickles as usual but refuses what the child could not import: classes and functions of `__main__`."""

    def reducer_override(self, obj):
        owner = obj if isinstance(obj, type) or (callable(obj) and hasattr(obj, "__qualname__")) else type(obj)
        if getattr(owner, "__module__", None) == "__main__":
            raise NotTransferable(
                f"{getattr(owner, '__qualname__', owner)!s} is defined in __main__ (a notebook or a script's top "
                "level), which the trial process cannot import; define it in a module of its own"
            )
        return NotImplemented


def _dumps(payload: Any) -> bytes:
    buffer = io.BytesIO()
    try:
        _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(payload)
    except NotTransferable:
        raise
    except Exception as error:  # pickle raises many types (PicklingError, TypeError, AttributeError)
        raise NotTransferable(f"it cannot be pickled ({type(error).__name__}: {error})") from error
    return buffer.getvalue()


def blueprint(tuner: Any, fit_args: tuple, fit_kwargs: dict) -> bytes:
    """What a child needs to train the tuner's trials: its class, its state without the oracle, the fit arguments.

    Raises:
        NotTransferable: something in it cannot be pickled or would not load in the child.
    """
    import keras

    state = {name: value for name, value in vars(tuner).items() if name not in _NOT_SENT}
    return _dumps(
        {
            "tuner_class": type(tuner),
            "tuner_state": state,
            "objective": tuner.oracle.objective,
            "fit_args": fit_args,
            "fit_kwargs": fit_kwargs,
            "dtype_policy": keras.config.dtype_policy().name,
        }
    )


class TrialProcess:
    """A child process that trains trials of one tuner; `run` one trial at a time, then `close`.

    Args:
        payload: `blueprint(tuner, fit_args, fit_kwargs)`.
        oracle: The parent's oracle; the child's `get_trial` calls are answered from it.
    """

    def __init__(self, payload: bytes, oracle: Any) -> None:
        import keras

        self.oracle = oracle
        self.trials_run = 0
        self.memory_mib: list[float | None] = []  # the child's resident memory after each trial
        authkey = secrets.token_bytes(32)
        listener = Listener(("127.0.0.1", 0), authkey=authkey)
        env = dict(os.environ)
        env["KERAS_BACKEND"] = keras.backend.backend()
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the parent has shown TensorFlow's start-up notes already
        # What the parent can import, the child can: the same search path (a test's or a notebook's folders).
        paths = [path for path in sys.path if path]
        env["PYTHONPATH"] = os.pathsep.join(paths + [env["PYTHONPATH"]] if env.get("PYTHONPATH") else paths)
        host, port = listener.address
        self.process = subprocess.Popen(
            [sys.executable, "-c", _CHILD_MAIN, host, str(port)], stdin=subprocess.PIPE, env=env
        )
        try:
            stdin = self.process.stdin
            assert stdin is not None  # stdin=subprocess.PIPE above
            stdin.write(authkey.hex().encode() + b"\n")
            stdin.flush()  # then held open: the child exits when it closes
            self.connection = self._accept(listener)
            self.connection.send(("setup", payload))
            reply = self._receive()
            if reply[0] != "ready":
                raise NotTransferable(reply[1])
        except BaseException:
            self.close()
            raise
        finally:
            listener.close()

    def _accept(self, listener: Listener) -> Connection:
        accepted: list[Connection] = []

        def accept() -> None:
            with contextlib.suppress(OSError):  # the listener was closed: the child never came
                accepted.append(listener.accept())

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not accepted:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"The trial process ended as it started (exit code {self.process.returncode}); "
                    "its output above says why."
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"The trial process did not start within {START_TIMEOUT:.0f} s.")
            thread.join(0.05)
        return accepted[0]

    def _receive(self) -> tuple:
        """The child's next message, answering its oracle questions in the meantime."""
        while True:
            message = self.connection.recv()
            if message[0] == "get_trial":
                self.connection.send(("trial", self.oracle.get_trial(message[1]).get_state()))
            else:
                return message

    def run(self, trial: Any, remaining_seconds: float | None, proposal_seconds: float) -> tuple[Any, dict | None]:
        """Trains `trial` in the child; returns (its results, its record) or raises what the trial raised there.

        Raises:
            keras_tuner.errors.FatalError: the trial raised one (the search stops).
            keras_tuner.errors.FailedTrialError: the trial failed, or the process died during it.
            TrialError: the trial raised anything else.
        """
        import keras_tuner

        self.trials_run += 1
        try:
            self.connection.send(("run", trial.get_state(), remaining_seconds, proposal_seconds))
            reply = self._receive()
        except (EOFError, OSError):
            code = self.process.wait(timeout=STOP_TIMEOUT)
            cause = "killed by the system, perhaps for lack of memory" if code in (-9, 137) else "it crashed"
            raise keras_tuner.errors.FailedTrialError(
                f"The trial process ended during the trial (exit code {code}: {cause}); a new process trains the "
                "next trial."
            ) from None
        # Building the model registers hyperparameters in the trial (conditional ones, say); the oracle must
        # learn them from the trial it ends, as it would had the trial trained here.
        trial.hyperparameters = keras_tuner.HyperParameters.from_config(reply[-1])
        self.memory_mib.append(reply[-2])
        if reply[0] == "done":
            return _histories(reply[1]), reply[2]
        _, kind, text, record, _, _ = reply
        error = {"fatal": keras_tuner.errors.FatalError, "failed": keras_tuner.errors.FailedTrialError}.get(
            kind, TrialError
        )
        exception = error(text)
        exception.record = record
        raise exception

    def worn_out(self, policy: int | str) -> bool:
        """Whether the next trial needs a fresh process: this one ended, ran `policy` trials, or (`"auto"`) grew."""
        if self.process.poll() is not None:  # it died in its last trial
            return True
        if policy != AUTO:
            return self.trials_run >= int(policy)  # an int: check_trials_per_process allows no other string
        readings = [mib for mib in self.memory_mib if mib is not None]
        if not readings or len(readings) < len(self.memory_mib):  # none, or one could not be read
            return self.trials_run >= AUTO_TRIALS_PER_PROCESS
        return readings[-1] - readings[0] > AUTO_GROWTH_MIB

    def close(self) -> None:
        """Stops the child (politely, then by force) and waits for it."""
        connection = getattr(self, "connection", None)
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.send(("stop",))
            connection.close()
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:  # always, with stdin=subprocess.PIPE
                self.process.stdin.close()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _histories(results: Any) -> Any:
    """The child's results with each history (sent as its dict) a `keras.callbacks.History` again."""
    import keras

    if isinstance(results, list):
        return [_histories(element) for element in results]
    if isinstance(results, dict) and set(results) == {"__history__"}:
        history = keras.callbacks.History()
        history.history = results["__history__"]
        return history
    return results
