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
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import keras_tuner
from keras_tuner.src.distribute import utils as dist_utils
from keras_tuner.src.engine import metrics_tracking
from keras_tuner.src.engine import oracle as oracle_module
from keras_tuner.src.engine import trial as trial_module

DEFAULT_WORKER_TIMEOUT = 120.0
TUNER_ID_KEY = "keras-nas-tuner-id"  # gRPC metadata keys must be lower case
POLL_SECONDS = 0.5  # how often the chief looks for silent workers and for the end of the search
SERVER_THREADS = 4  # heartbeats must get through while another call runs a slow oracle method

_RUNNING = trial_module.TrialStatus.RUNNING
_IDLE = trial_module.TrialStatus.IDLE
_STOPPED = trial_module.TrialStatus.STOPPED


def is_chief() -> bool:
    """Whether this process is the chief of a keras-tuner distributed search."""
    return dist_utils.is_chief_oracle()


def is_worker() -> bool:
    """Whether this process is a worker of a keras-tuner distributed search."""
    return dist_utils.has_chief_oracle() and not dist_utils.is_chief_oracle()


def check_worker_timeout(worker_timeout: float) -> float:
    """Returns `worker_timeout` as a float, or raises a ValueError that says what to pass."""
    try:
        value = float(worker_timeout)
    except (TypeError, ValueError):
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(
            f"worker_timeout={worker_timeout!r}: expected a positive number of seconds after which the chief of a "
            f"distributed search hands a silent worker's trial to another worker; pass e.g. "
            f"worker_timeout={DEFAULT_WORKER_TIMEOUT:g}."
        )
    return value


def heartbeat_interval(worker_timeout: float) -> float:
    """Seconds between a worker's heartbeats: several per `worker_timeout`, so one late beat is not a death."""
    return min(max(worker_timeout / 6.0, 0.2), 10.0)


@contextlib.contextmanager
def _holding(oracle: keras_tuner.Oracle) -> Iterator[None]:
    """Holds the oracle's keras-tuner lock, re-entrantly like `keras_tuner.synchronized`.

    Unlike `synchronized`, it releases the lock when the body raises: an oracle
    method that raises would otherwise leave the lock held and the chief deadlocked.
    """
    name = threading.current_thread().name
    if oracle_module.THREADS[oracle] == name:
        yield
        return
    oracle_module.LOCKS[oracle].acquire()
    oracle_module.THREADS[oracle] = name
    try:
        yield
    finally:
        oracle_module.THREADS[oracle] = None
        oracle_module.LOCKS[oracle].release()


class _Liveness:
    """When the chief last heard from each worker that sends heartbeats."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the gRPC threads write, the chief's main thread reads
        self._heard: dict[str, float] = {}

    def heard(self, tuner_id: str) -> None:
        with self._lock:
            self._heard[tuner_id] = time.monotonic()

    def tracks(self, tuner_id: str) -> bool:
        with self._lock:
            return tuner_id in self._heard

    def silent(self, timeout: float) -> dict[str, float]:
        """The tracked workers silent for more than `timeout` seconds, with their silence."""
        now = time.monotonic()
        with self._lock:
            return {tid: now - last for tid, last in self._heard.items() if now - last > timeout}

    def forget(self, tuner_id: str) -> None:
        with self._lock:
            self._heard.pop(tuner_id, None)


def _log(message: str) -> None:
    print(f"[keras_nas] {message}", flush=True)


def _servicer_class():
    # keras-tuner imports its gRPC modules lazily (protobuf version clashes); so do we.
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    class Servicer(oracle_chief.OracleServicer):
        """keras-tuner's servicer, plus liveness tracking, requeueing and stale-report checks."""

        def __init__(self, oracle: keras_tuner.Oracle, worker_timeout: float) -> None:
            super().__init__(oracle)
            self.worker_timeout = worker_timeout
            self.liveness = _Liveness()

        def _caller(self, context) -> str | None:
            """The calling worker's tuner id if it sends one (a keras_nas worker); counts as a heartbeat."""
            tuner_id = dict(context.invocation_metadata() or ()).get(TUNER_ID_KEY)
            if tuner_id:
                self.liveness.heard(tuner_id)
            return tuner_id or None

        def _holds(self, tuner_id: str | None, trial_id: str) -> bool:
            if tuner_id is None:
                return True  # a worker without heartbeats: keras-tuner's behaviour, every report counts
            trial = self.oracle.ongoing_trials.get(tuner_id)
            return trial is not None and trial.trial_id == trial_id

        def _may_come_back(self) -> bool:
            """Whether an ongoing trial is held by a worker that could time out, sending its trial back."""
            return any(self.liveness.tracks(tid) for tid in self.oracle.ongoing_trials)

        def GetSpace(self, request, context):
            self._caller(context)
            with _holding(self.oracle):
                return super().GetSpace(request, context)

        def UpdateSpace(self, request, context):
            self._caller(context)
            with _holding(self.oracle):
                return super().UpdateSpace(request, context)

        def GetTrial(self, request, context):
            self._caller(context)
            with _holding(self.oracle):
                return super().GetTrial(request, context)

        def GetBestTrials(self, request, context):
            caller = self._caller(context)
            if caller is not None and request.num_trials == 0:  # a heartbeat: answered without the oracle's lock
                return protos.get_service().GetBestTrialsResponse(trials=[])
            with _holding(self.oracle):
                return super().GetBestTrials(request, context)

        def CreateTrial(self, request, context):
            caller = self._caller(context)
            with _holding(self.oracle):
                trial = self.oracle.create_trial(request.tuner_id)
                if trial.status == _STOPPED:
                    if self._may_come_back():
                        # The trial of a worker that dies goes back to the queue: stay to run it.
                        self.oracle.tuner_ids.add(request.tuner_id)
                        trial.status = _IDLE
                    else:
                        self.stop_triggered = True
            if caller is not None:
                self.liveness.heard(caller)  # it waited on us, not the other way round
            return protos.get_service().CreateTrialResponse(trial=trial.to_proto())

        def UpdateTrial(self, request, context):
            caller = self._caller(context)
            with _holding(self.oracle):
                if not self._holds(caller, request.trial_id):
                    _log(
                        f"ignored a report from worker {caller} for trial {request.trial_id}, which it no longer "
                        f"runs (it was silent for more than worker_timeout={self.worker_timeout:g} s)"
                    )
                    trial = self.oracle.get_trial(request.trial_id)
                    return protos.get_service().UpdateTrialResponse(trial=trial.to_proto())
                return super().UpdateTrial(request, context)

        def EndTrial(self, request, context):
            caller = self._caller(context)
            with _holding(self.oracle):
                if not self._holds(caller, request.trial.trial_id):
                    _log(
                        f"ignored the end of trial {request.trial.trial_id} from worker {caller}, which no longer "
                        f"runs it (it was silent for more than worker_timeout={self.worker_timeout:g} s)"
                    )
                    return protos.get_service().EndTrialResponse()
                response = super().EndTrial(request, context)
                # keras-tuner saves inside end_trial, before it removes the trial from ongoing_trials.
                self.oracle.save()
                return response

        def requeue_silent(self) -> None:
            """Sends the trials of workers silent for more than `worker_timeout` back to the queue."""
            changed = False
            with _holding(self.oracle):
                for tuner_id, silence in self.liveness.silent(self.worker_timeout).items():
                    self.liveness.forget(tuner_id)
                    trial = self.oracle.ongoing_trials.pop(tuner_id, None)
                    if tuner_id in self.oracle.tuner_ids:
                        self.oracle.tuner_ids.discard(tuner_id)
                        changed = True
                    if trial is None:
                        continue
                    # The lost run ended nowhere: its partial metrics go, and it costs no run, retry or failure.
                    trial.metrics = metrics_tracking.MetricsTracker()
                    trial.status = _RUNNING
                    if trial.trial_id not in self.oracle._retry_queue:
                        self.oracle._retry_queue.append(trial.trial_id)
                    self.oracle._save_trial(trial)
                    changed = True
                    _log(
                        f"worker {tuner_id} silent for {silence:.0f} s (worker_timeout={self.worker_timeout:g} s): "
                        f"trial {trial.trial_id} goes back to the queue"
                    )
                if changed:
                    self.oracle.save()

        def search_done(self) -> bool:
            with _holding(self.oracle):
                return self.stop_triggered and not self.oracle.ongoing_trials and not self.oracle.tuner_ids

    return Servicer


def serve(oracle: keras_tuner.Oracle, worker_timeout: float = DEFAULT_WORKER_TIMEOUT) -> None:
    """Serves `oracle` to the workers until the search is done (replaces keras-tuner's `start_server`).

    Returns once a worker was told to stop, no trial is ongoing and every
    worker has been told to stop or was silent for `worker_timeout` seconds.
    """
    import grpc
    from keras_tuner.src import protos

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
        with _holding(oracle):
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
