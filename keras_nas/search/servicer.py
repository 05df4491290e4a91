"""The chief's gRPC servicer of a distributed search: keras-tuner's, plus liveness, requeueing and stale reports.

`keras_nas.search.distributed` describes the protocol; `serve` there runs this
servicer. Only `distributed` imports this module, and only inside the
functions that serve: importing it imports keras-tuner's gRPC and protobuf
modules, which keras-tuner itself imports only once a distributed search
starts (protobuf version clashes), so a search that is not distributed never
loads them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import keras_tuner
from keras_tuner.src import protos
from keras_tuner.src.distribute import oracle_chief
from keras_tuner.src.engine import metrics_tracking
from keras_tuner.src.engine import oracle as oracle_module
from keras_tuner.src.engine import trial as trial_module

from keras_nas.search.heartbeats import TUNER_ID_KEY, Liveness

_RUNNING = trial_module.TrialStatus.RUNNING
_IDLE = trial_module.TrialStatus.IDLE
_STOPPED = trial_module.TrialStatus.STOPPED


@contextlib.contextmanager
def holding(oracle: keras_tuner.Oracle) -> Iterator[None]:
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


def _log(message: str) -> None:
    print(f"[keras_nas] {message}", flush=True)


class Servicer(oracle_chief.OracleServicer):
    """keras-tuner's servicer, plus liveness tracking, requeueing and stale-report checks."""

    def __init__(self, oracle: keras_tuner.Oracle, worker_timeout: float) -> None:
        super().__init__(oracle)
        self.worker_timeout = worker_timeout
        self.liveness = Liveness()

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
        with holding(self.oracle):
            return super().GetSpace(request, context)

    def UpdateSpace(self, request, context):
        self._caller(context)
        with holding(self.oracle):
            return super().UpdateSpace(request, context)

    def GetTrial(self, request, context):
        self._caller(context)
        with holding(self.oracle):
            return super().GetTrial(request, context)

    def GetBestTrials(self, request, context):
        caller = self._caller(context)
        if caller is not None and request.num_trials == 0:  # a heartbeat: answered without the oracle's lock
            return protos.get_service().GetBestTrialsResponse(trials=[])
        with holding(self.oracle):
            return super().GetBestTrials(request, context)

    def CreateTrial(self, request, context):
        caller = self._caller(context)
        with holding(self.oracle):
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
        with holding(self.oracle):
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
        with holding(self.oracle):
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
        with holding(self.oracle):
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
        with holding(self.oracle):
            return self.stop_triggered and not self.oracle.ongoing_trials and not self.oracle.tuner_ids
