"""Fault tolerance for keras-tuner's distributed (chief/worker) search.

keras-tuner 1.4.8 runs a distributed search as one chief, which serves the
oracle over gRPC, and workers, which ask it for trials
(`KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT`).
If a worker dies mid-trial, the stock chief keeps that trial in
`ongoing_trials` for ever: the trial never runs again, and the chief, which
exits only once no trial is ongoing and every worker was told to stop, never
exits. `NASTuner` uses this module on both sides instead:

- a worker (`HeartbeatClient`, wrapping keras-tuner's `OracleClient`) names
  itself in the metadata of every call and sends a heartbeat every
  `heartbeat_interval(worker_timeout)` seconds from a background thread while
  its search runs, so long epochs do not look like death;
- the chief (`serve`) remembers when it last heard from each such worker; once
  one has been silent for `worker_timeout` seconds, its trial leaves
  `ongoing_trials` and goes back to the queue (the retry queue, ahead of new
  trials, without counting as a run, a retry or a failure), and the worker is
  forgotten, so the chief no longer waits for it. A worker that asks for a
  trial while a worker that may still time out holds one is told to wait
  (IDLE) rather than to stop, so that it can run the trial if it comes back;
- reports for a trial from a worker that no longer holds it (a worker thought
  dead that was only slow) are ignored, so they cannot mix with the rerun;
- `oracle.json` is saved after every ended trial, and once more on exit, so a
  finished search leaves no trial in `ongoing_trials` (keras-tuner saves it
  inside `end_trial`, before removing the trial from `ongoing_trials`).

Workers that send no heartbeat (a plain keras-tuner `Tuner`) are served as
keras-tuner would: their trials never time out. Any `keras_tuner.Oracle` works
whose `create_trial` serves `_retry_queue` first, as the base class does.

The chief's gRPC servicer lives in `keras_nas.search.servicer`, which only a
chief imports; the timeout settings and the chief's record of when it last heard
from each worker live in `keras_nas.search.heartbeats`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
from concurrent import futures
from typing import Any

import keras_tuner
from keras_tuner.src.distribute import utils as dist_utils
from keras_tuner.src.engine import trial as trial_module

# Re-exported: the worker-timeout settings and checks live with the rest of the heartbeat protocol.
from keras_nas.search.heartbeats import (
    DEFAULT_WORKER_TIMEOUT,
    TUNER_ID_KEY,
    check_worker_timeout,
    heartbeat_interval,
)

__all__ = [
    "DEFAULT_WORKER_TIMEOUT",
    "POLL_SECONDS",
    "SERVER_THREADS",
    "TUNER_ID_KEY",
    "HeartbeatClient",
    "attach",
    "check_worker_timeout",
    "detach",
    "heartbeat_interval",
    "is_chief",
    "is_worker",
    "serve",
    "serve_tuner",
]

POLL_SECONDS = 0.5  # how often the chief looks for silent workers and for the end of the search
SERVER_THREADS = 4  # heartbeats must get through while another call runs a slow oracle method

_IDLE = trial_module.TrialStatus.IDLE
_STOPPED = trial_module.TrialStatus.STOPPED


def is_chief() -> bool:
    """Whether this process is the chief of a keras-tuner distributed search."""
    return dist_utils.is_chief_oracle()


def is_worker() -> bool:
    """Whether this process is a worker of a keras-tuner distributed search."""
    return dist_utils.has_chief_oracle() and not dist_utils.is_chief_oracle()


def _servicer_class() -> type:
    """The chief's servicer class (`keras_nas.search.servicer.Servicer`)."""
    # keras-tuner imports its gRPC modules lazily (protobuf version clashes); so do we: the servicer's module
    # imports them, and only a chief imports it.
    from keras_nas.search import servicer

    return servicer.Servicer


def serve(oracle: keras_tuner.Oracle, worker_timeout: float = DEFAULT_WORKER_TIMEOUT) -> None:
    """Serves `oracle` to the workers until the search is done (replaces keras-tuner's `start_server`).

    Returns once a worker was told to stop, no trial is ongoing and every
    worker has been told to stop or was silent for `worker_timeout` seconds.
    """
    import grpc
    from keras_tuner.src import protos

    from keras_nas.search.servicer import holding

    worker_timeout = check_worker_timeout(worker_timeout)
    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    servicer = _servicer_class()(oracle, worker_timeout)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=SERVER_THREADS))
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    if server.add_insecure_port(address) == 0:
        raise RuntimeError(
            f"The chief could not listen on {address} (KERASTUNER_ORACLE_IP:KERASTUNER_ORACLE_PORT); expected a free "
            f"local address and port. Free the port or set KERASTUNER_ORACLE_PORT to another one on every process."
        )
    server.start()
    try:
        while not servicer.search_done():
            time.sleep(POLL_SECONDS)
            servicer.requeue_silent()
    finally:
        server.stop(grace=2.0)  # a worker's last call gets its answer
        with holding(oracle):
            oracle.save()


def serve_tuner(tuner: keras_tuner.Tuner, worker_timeout: float, **fit_kwargs: Any) -> None:
    """The chief's side of `Tuner.search`: keras-tuner's (verbosity, state saved), then `serve`."""
    if "verbose" in fit_kwargs:
        tuner.oracle.verbose = fit_kwargs["verbose"]
    tuner.save()
    serve(tuner.oracle, worker_timeout)


class _NamedStub:
    """A gRPC stub whose calls carry this worker's tuner id in their metadata."""

    def __init__(self, stub: Any, tuner_id: str) -> None:
        self._stub = stub
        self._metadata = ((TUNER_ID_KEY, tuner_id),)

    def __getattr__(self, name: str):
        return functools.partial(getattr(self._stub, name), metadata=self._metadata)


class HeartbeatClient:
    """A worker's keras-tuner `OracleClient` that names itself to the chief and sends heartbeats.

    Heartbeats (a `GetBestTrials` call for no trials: read-only, so harmless
    on a stock keras-tuner chief) go out from a daemon thread between the first
    `create_trial` and the one answered STOPPED, or `close()`. While the chief
    answers IDLE (a trial may come back from a dead worker), `create_trial`
    waits a little before returning, so the search loop does not spin.
    Everything else is the wrapped client's.
    """

    def __init__(self, client: Any, worker_timeout: float) -> None:
        self._client = client
        client.stub = _NamedStub(client.stub, client.tuner_id)
        self._interval = heartbeat_interval(check_worker_timeout(worker_timeout))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __getattr__(self, name: str):
        # Only reached for names not set here: the client's own methods and its attribute whitelist.
        if name == "_client":  # not set yet (copy, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self._client, name)

    def create_trial(self, tuner_id: str):
        self._start()
        trial = self._client.create_trial(tuner_id)
        if trial.status == _IDLE:
            time.sleep(min(self._interval, 1.0))
        elif trial.status == _STOPPED:
            self.close()
        return trial

    def _start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(self._stop,), name="keras_nas-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self, stop: threading.Event) -> None:
        import grpc
        from keras_tuner.src import protos

        request = protos.get_service().GetBestTrialsRequest(num_trials=0)
        while not stop.wait(self._interval):
            # No wait_for_ready: a beat the chief cannot take is dropped; the timeout spans several beats.
            with contextlib.suppress(grpc.RpcError):
                self._client.stub.GetBestTrials(request, timeout=max(self._interval, 1.0))

    def close(self) -> None:
        """Stops the heartbeats: the chief forgets this worker `worker_timeout` seconds later."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self._interval + 2.0)
        self._thread = None


def attach(tuner: keras_tuner.Tuner, worker_timeout: float) -> None:
    """On a worker, wraps the tuner's `OracleClient` in a `HeartbeatClient`; elsewhere does nothing."""
    if is_worker() and not isinstance(tuner.oracle, (keras_tuner.Oracle, HeartbeatClient)):
        tuner.oracle = HeartbeatClient(tuner.oracle, worker_timeout)


def detach(tuner: keras_tuner.Tuner) -> None:
    """Stops a worker's heartbeats once its search is over."""
    if isinstance(tuner.oracle, HeartbeatClient):
        tuner.oracle.close()
