"""`NASTuner`: the keras-tuner Tuner that runs every keras_nas search."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import keras
import keras_tuner
import numpy as np

from keras_nas.architecture import Architecture
from keras_nas.backend import tracing
from keras_nas.search import checkpoints, distributed, outcomes, recovery, trial_process
from keras_nas.search.outcomes import failure_reason, non_finite_weights
from keras_nas.search.records import TrialRecord
from keras_nas.utils.budget import TimeBudget

# failure_reason and non_finite_weights live in outcomes now; they stay importable from here.
__all__ = ["NASTuner", "failure_reason", "non_finite_weights"]


class _BudgetSpent(Exception):
    """Raised on a distributed worker whose time budget ran out, to leave the search loop."""


class NASTuner(keras_tuner.Tuner):
    """A keras-tuner `Tuner` with early stopping, a time budget and a per-trial record.

    On top of `keras_tuner.Tuner` it:

    - imports TensorBoard only when a `TensorBoard` callback is used (keras-tuner
      1.4.8 imports it for every trial, and tensorflow 2.21 no longer installs
      it, so stock searches fail every trial);
    - adds `EarlyStopping` on the objective to every trial;
    - stops the search cleanly once `time_budget` seconds have passed (the
      running trial ends after its current epoch and counts);
    - fails a trial whose loss, metrics or weights become NaN or infinite
      (`FailedTrialError`, reason in `leaderboard()`), so that a diverged
      network is never chosen, and replaces every failed trial: `max_trials`
      counts completed trials, until the oracle's
      `max_consecutive_failed_trials` (3 by default) fail in a row;
    - seeds every trial (`seed + trial number`) so searches repeat;
    - trains long searches' trials in child processes (`trials_per_process`),
      so that memory does not grow with every trial;
    - runs Hyperband brackets (`tuner/epochs`, `tuner/trial_id` values);
    - writes every checkpoint aside and renames it into place, records its
      sha256 beside it, and checks that before loading it (`load_model`
      raises `keras_nas.search.checkpoints.CheckpointError`; a Hyperband parent that
      does not verify is not continued: the trial trains from scratch, with a
      warning);
    - keeps, per trial, the architecture summary, parameter count, epochs,
      seconds, the oracle's proposal time and the finishing timestamp
      (`records`), and the total time spent in the oracle (`oracle_seconds`),
      saved with the tuner's state so resumes keep them.

    Args:
        hypermodel: A `HyperModel` (a `SearchSpace` or any other) or a build function.
        oracle: A `keras_tuner.Oracle`.
        time_budget: Seconds after which no new trial starts; `None` for no limit.
        reserve: A function of the tuner, asked after every trial, that returns
            the seconds to keep back from `time_budget` for what follows the
            search (the estimators' refit): trials stop that much earlier.
        patience: Epochs without improvement before a trial stops early.
        seed: Base seed of the trials' weight initialisation and shuffling.
        progress: Print one line per finished trial (number, elapsed time,
            score, best so far, parameters, epochs, architecture).
        trials_per_process: Where trials train (`keras_nas.search.trial_process`), so
            that the memory TensorFlow keeps after every trained model (about
            10 MiB a trial) is given back. An integer: a child process,
            replaced by a fresh one after that many trials. None: this
            process. `"auto"` (default): a child process for searches of more
            than 10 trials (or no trial limit), replaced once its memory has
            grown by 64 MiB since its first trial; this process for shorter
            searches, for a distributed worker, and, with a warning, when the
            space, data or callbacks cannot be sent to a child (e.g. defined
            in `__main__`).
        worker_timeout: In keras-tuner's distributed mode, seconds after which
            the chief hands the trial of a worker it has not heard from (workers
            send heartbeats every few seconds) to another worker, and stops
            waiting for that worker (`keras_nas.search.distributed`). Pass the same
            value on every process.
        **kwargs: Passed to `keras_tuner.Tuner` (directory, project_name, overwrite, ...).
    """

    def __init__(
        self,
        hypermodel,
        oracle: keras_tuner.Oracle,
        time_budget: float | None = None,
        reserve: Callable[[NASTuner], float] | None = None,
        patience: int = 3,
        seed: int | None = None,
        progress: bool = False,
        trials_per_process: int | str | None = trial_process.AUTO,
        worker_timeout: float = distributed.DEFAULT_WORKER_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        self.worker_timeout = distributed.check_worker_timeout(worker_timeout)
        self.trials_per_process = trial_process.check_trials_per_process(trials_per_process)
        self._trial_process: trial_process.TrialProcess | None = None
        self._trial_process_plan: int | str | None = None
        self.time_budget = time_budget
        self.reserve = reserve
        self.patience = patience
        self.seed = seed
        self.progress = progress
        self.records: dict[str, TrialRecord] = {}
        self.oracle_seconds = 0.0  # time spent waiting for the oracle's proposals
        self._proposal_started = self._proposal_seconds = 0.0
        self._budget = TimeBudget(None)
        self._built_model: keras.Model | None = None
        self._examples: tuple[np.ndarray, np.ndarray] | None = None  # a trial's first examples, while it builds
        self._requested_trials = getattr(oracle, "max_trials", None)
        recovery.make_durable(oracle)  # before the base class reloads or writes anything
        super().__init__(hypermodel=hypermodel, oracle=oracle, **kwargs)
        distributed.attach(self, self.worker_timeout)  # a worker's client sends heartbeats to the chief

    # -- budget ----------------------------------------------------------
    def on_search_begin(self):
        super().on_search_begin()
        # The tuner's file is what makes keras-tuner reload a project: write it before the first trial exists.
        self.save()
        self._budget = TimeBudget(self.time_budget)

    def search(self, *fit_args, **fit_kwargs):
        if distributed.is_chief():  # keras-tuner's chief waits for ever for a dead worker
            distributed.serve_tuner(self, self.worker_timeout, **fit_kwargs)
            return
        worker = not self._oracle_is_local()
        self._trial_process_plan = trial_process.plan(self.trials_per_process, self._requested_trials, worker)
        try:
            super().search(*fit_args, **fit_kwargs)
        except _BudgetSpent:
            self.on_search_end()
        finally:
            distributed.detach(self)
            self._close_trial_process()

    def _oracle_is_local(self) -> bool:
        """False on a distributed worker, whose oracle is a client of the chief's (it knows no trial list)."""
        return hasattr(self.oracle, "trials")

    def pre_create_trial(self):
        local = self._oracle_is_local()
        if local and self._requested_trials is not None:
            # `max_trials` counts completed trials: a failed one is replaced (keras-tuner's
            # `max_consecutive_failed_trials` still ends a search that only fails).
            failed = sum(t.status in ("FAILED", "INVALID") for t in self.oracle.trials.values())
            self.oracle.max_trials = self._requested_trials + failed
        if self._budget.spent():
            if not local:
                # A distributed worker cannot lower the chief's budget: it stops asking.
                raise _BudgetSpent()
            # The base oracle answers STOPPED once it holds max_trials trials.
            self.oracle.max_trials = len(self.oracle.trials)
        self._proposal_started = time.perf_counter()

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._proposal_seconds = time.perf_counter() - self._proposal_started
        self.oracle_seconds += self._proposal_seconds

    # -- one trial -------------------------------------------------------
    def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
        if any(type(c).__name__ == "TensorBoard" for c in callbacks):
            try:
                super()._configure_tensorboard_dir(callbacks, trial, execution)
            except ImportError as error:
                raise keras_tuner.errors.FatalError(
                    "A TensorBoard callback was passed but the `tensorboard` package is not installed; "
                    "`pip install tensorboard` or drop the callback."
                ) from error

    def _build_hypermodel(self, hp):
        model = super()._build_hypermodel(hp)
        parent = hp.values.get("tuner/trial_id")
        if parent is not None:  # a Hyperband bracket continues its parent's training
            checkpoint = self._get_checkpoint_fname(parent)
            problem = checkpoints.problem(checkpoint)
            if problem is None:
                model.load_weights(checkpoint)
            else:
                # Unverified weights could be anything: a fresh start is slower but never silently wrong.
                warnings.warn(
                    f"This Hyperband trial trains from scratch: the checkpoint {checkpoint} of its parent "
                    f"trial {parent} {problem}.",
                    stacklevel=2,
                )
        if self._examples is not None:
            # Optimizer, loss and metric state made now, so that `fit` traces its step once (not twice, which
            # costs time and leaves the first trace's graphs in memory).
            tracing.build_compiled_state(model, *self._examples)
        self._built_model = model
        return model

    def _build_and_fit_model(self, trial, *args, **kwargs):
        checkpoints.sign_saves(kwargs.get("callbacks") or [])  # keras-tuner's checkpoint writer is among them
        x, y = (args + (None, None))[:2] if args else (kwargs.get("x"), kwargs.get("y"))
        self._examples = (x[:2], y[:2]) if isinstance(x, np.ndarray) and isinstance(y, np.ndarray) else None
        try:
            return super()._build_and_fit_model(trial, *args, **kwargs)
        finally:
            self._examples = None

    def run_trial(self, trial, *args, **kwargs):
        if self._trial_process_plan is not None:
            try:
                return self._run_trial_in_child(trial, args, kwargs)
            except trial_process.NotTransferable as error:
                if self.trials_per_process != trial_process.AUTO:
                    raise keras_tuner.errors.FatalValueError(  # a ValueError that stops the search
                        f"trials_per_process={self.trials_per_process} needs the search space, data and callbacks "
                        f"to be sent to a child process, but {error}. Do that, or pass trials_per_process=None."
                    ) from None
                warnings.warn(
                    f"The trials train in this process, not in a child process (trials_per_process='auto'): {error}. "
                    "Memory may grow by about 10 MiB a trial; do that, or pass trials_per_process=None to silence "
                    "this warning.",
                    stacklevel=2,
                )
                self._trial_process_plan = None
        return self.run_trial_here(trial, *args, **kwargs)

    def _run_trial_in_child(self, trial, args, kwargs):
        if self._trial_process is not None and self._trial_process.worn_out(self._trial_process_plan):
            self._close_trial_process()
        if self._trial_process is None:
            payload = trial_process.blueprint(self, args, kwargs)
            self._trial_process = trial_process.TrialProcess(payload, self.oracle)
        remaining = self._budget.remaining()
        try:
            results, record = self._trial_process.run(trial, remaining, self._proposal_seconds)
        except keras_tuner.errors.FatalError:
            raise
        except Exception as error:  # a dead process is worn out: the next trial gets a new one
            record = getattr(error, "record", None)
            self.records[trial.trial_id] = record or TrialRecord(failure=failure_reason(error), finished_at=time.time())
            raise
        self.records[trial.trial_id] = record
        return results

    def _close_trial_process(self) -> None:
        if self._trial_process is not None:
            process = self._trial_process
            self._trial_process = None
            process.close()

    def run_trial_here(self, trial, *args, **kwargs):
        """Trains the trial in this process (what `run_trial` does, or has a trial process do)."""
        values = trial.hyperparameters.values
        if "tuner/epochs" in values:
            kwargs["epochs"] = values["tuner/epochs"]
            kwargs["initial_epoch"] = values["tuner/initial_epoch"]
        objective = self.oracle.objective
        kwargs["callbacks"] = list(kwargs.get("callbacks") or []) + [
            keras.callbacks.EarlyStopping(monitor=objective.name, mode=objective.direction, patience=self.patience),
            self._budget.callback(),
        ]
        guard = outcomes.NonFiniteGuard()
        kwargs["callbacks"].append(guard)
        if self.seed is not None:
            keras.utils.set_random_seed(int(self.seed) + int(trial.trial_id))
        started = time.perf_counter()
        try:
            results = super().run_trial(trial, *args, **kwargs)
            # A diverged network scores like a constant classifier: it must never be chosen.
            reason = outcomes.divergence(guard, self._built_model)
            if reason is not None:
                raise keras_tuner.errors.FailedTrialError(f"The trial diverged: {reason}; lower the learning rate.")
        except keras_tuner.errors.FatalError:
            raise
        except Exception as error:
            self._built_model = None
            self.records[trial.trial_id] = TrialRecord(failure=failure_reason(error), finished_at=time.time())
            raise
        seconds = time.perf_counter() - started
        model = self._built_model
        self.records[trial.trial_id] = self._describe(trial, results, seconds)
        if model is not None:
            tracing.release_traced_functions(model)  # else every trial's traced graphs stay in memory
        return results

    def _describe(self, trial, results, seconds: float) -> TrialRecord:
        model, self._built_model = self._built_model, None
        return outcomes.trained_record(self.hypermodel, trial, model, results, seconds, self._proposal_seconds)

    def on_trial_end(self, trial):
        # Records first: `Oracle.end_trial` makes the trial final on disk, and a kill right after must not lose them.
        recovery.save_tuner_state(self)
        super().on_trial_end(trial)
        if self.reserve is not None:
            self._budget.reserved = max(0.0, float(self.reserve(self)))
        if self.progress:
            print(self._progress_line(self.oracle.get_trial(trial.trial_id)), flush=True)

    def _progress_line(self, trial) -> str:
        record = self.records.get(trial.trial_id, TrialRecord())
        best = self.oracle.get_best_trials(1)
        best_score = best[0].score if best and best[0].score is not None else float("nan")
        score = f"{trial.score:.4f}" if trial.score is not None else trial.status
        params = record.params
        return (
            f"[keras_nas] trial {int(trial.trial_id) + 1}/{self.oracle.max_trials or '?'} "
            f"{self._budget.elapsed():6.1f}s  {self.oracle.objective.name}={score}  "
            f"best={best_score:.4f}  params={'-' if params is None else f'{params:,}'}  "
            f"epochs={'-' if record.epochs is None else record.epochs}  {record.architecture or ''}"
        )

    # -- results ---------------------------------------------------------
    def leaderboard(self) -> list[dict[str, Any]]:
        """Every trial, best first: id, status, score, hyperparameters, architecture, params, epochs, seconds,
        message."""
        return outcomes.leaderboard(self._trials(), self.records, self.oracle.objective.direction, self.failure_of)

    def failure_of(self, trial_id: str) -> str | None:
        """Why a trial did not complete, in one line; None for a completed one."""
        trial = self.oracle.get_trial(trial_id)
        return outcomes.failure_of(trial, self.records.get(trial_id), self.oracle.objective.name)

    def _trials(self) -> dict[str, Any]:
        """The oracle's trials; on a distributed worker, the ones this worker ran."""
        if self._oracle_is_local():
            return self.oracle.trials
        return {trial_id: self.oracle.get_trial(trial_id) for trial_id in self.records}

    def load_model(self, trial):
        """The trial's model with its best checkpoint's weights, which must match their recorded checksum.

        Raises:
            keras_nas.search.checkpoints.CheckpointError: the checkpoint is missing, has no
                checksum, or does not match it.
        """
        checkpoints.verify(
            self._get_checkpoint_fname(trial.trial_id),
            f"Trial {trial.trial_id}'s weights cannot be trusted, so they are not used: restore the file, refit with "
            "refit='scratch' (retrains the architecture from its hyperparameters), or pass overwrite=True to "
            "search afresh.",
        )
        # The checkpoint holds the trial's optimizer state, which a fresh model's optimizer has not built yet.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            return super().load_model(trial)

    def trained_epochs(self, trial_id: str) -> int:
        """Epochs the trial's best checkpoint had been trained for."""
        return int(self.oracle.get_trial(trial_id).best_step or 0) + 1

    def architecture_of(self, trial_id: str) -> Architecture | None:
        """The Architecture of a trial, if its model could be described."""
        record = self.records.get(trial_id)
        text = record.architecture_json if record is not None else None
        return Architecture.from_json(text) if text else None

    # -- state -----------------------------------------------------------
    def save(self):
        recovery.save(self)  # keras-tuner's order, written atomically

    def reload(self):
        super().reload()
        if not self._is_worker() and any(recovery.reconcile(self.oracle).values()):
            self.save()  # the repaired state, so that oracle.json and the trial files agree on disk

    def get_state(self):
        records = {trial_id: record.to_dict() for trial_id, record in self.records.items()}
        return {**super().get_state(), "records": records, "oracle_seconds": self.oracle_seconds}

    def set_state(self, state):
        super().set_state(state)
        self.records = {trial_id: TrialRecord.from_dict(r) for trial_id, r in state.get("records", {}).items()}
        self.oracle_seconds = float(state.get("oracle_seconds", 0.0))
