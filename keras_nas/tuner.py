"""`NASTuner`: the keras-tuner Tuner that runs every keras_nas search."""

from __future__ import annotations

import json
import time
import warnings
from typing import Any

import keras
import keras_tuner

from keras_nas.architecture import Architecture


class _Deadline(keras.callbacks.Callback):
    """Stops training at the end of the epoch during which the search's time ran out."""

    def __init__(self, deadline: float | None) -> None:
        super().__init__()
        self.deadline = deadline

    def on_epoch_end(self, epoch, logs=None):
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.model.stop_training = True


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
    - seeds every trial (`seed + trial number`) so searches repeat;
    - runs Hyperband brackets (`tuner/epochs`, `tuner/trial_id` values);
    - keeps, per trial, the architecture summary, parameter count, epochs,
      seconds, the oracle's proposal time and the finishing timestamp
      (`records`), and the total time spent in the oracle (`oracle_seconds`),
      saved with the tuner's state so resumes keep them.

    Args:
        hypermodel: A `HyperModel` (a `SearchSpace` or any other) or a build function.
        oracle: A `keras_tuner.Oracle`.
        time_budget: Seconds after which no new trial starts; `None` for no limit.
        patience: Epochs without improvement before a trial stops early.
        seed: Base seed of the trials' weight initialisation and shuffling.
        progress: Print one line per finished trial (number, elapsed time,
            score, best so far, parameters, epochs, architecture).
        **kwargs: Passed to `keras_tuner.Tuner` (directory, project_name, overwrite, ...).
    """

    def __init__(
        self,
        hypermodel,
        oracle: keras_tuner.Oracle,
        time_budget: float | None = None,
        patience: int = 3,
        seed: int | None = None,
        progress: bool = False,
        **kwargs: Any,
    ) -> None:
        self.time_budget = time_budget
        self.patience = patience
        self.seed = seed
        self.progress = progress
        self.records: dict[str, dict[str, Any]] = {}
        self.oracle_seconds = 0.0  # time spent waiting for the oracle's proposals
        self._proposal_started = self._proposal_seconds = 0.0
        self._deadline: float | None = None
        self._search_started = time.monotonic()
        self._built_model: keras.Model | None = None
        super().__init__(hypermodel=hypermodel, oracle=oracle, **kwargs)

    # -- budget ----------------------------------------------------------
    def on_search_begin(self):
        super().on_search_begin()
        self._search_started = time.monotonic()
        self._deadline = None if self.time_budget is None else time.monotonic() + float(self.time_budget)

    def search(self, *fit_args, **fit_kwargs):
        try:
            super().search(*fit_args, **fit_kwargs)
        except _BudgetSpent:
            self.on_search_end()

    def pre_create_trial(self):
        if self._deadline is not None and time.monotonic() >= self._deadline:
            if not hasattr(self.oracle, "trials"):
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
            model.load_weights(self._get_checkpoint_fname(parent))
        self._built_model = model
        return model

    def run_trial(self, trial, *args, **kwargs):
        values = trial.hyperparameters.values
        if "tuner/epochs" in values:
            kwargs["epochs"] = values["tuner/epochs"]
            kwargs["initial_epoch"] = values["tuner/initial_epoch"]
        objective = self.oracle.objective
        kwargs["callbacks"] = list(kwargs.get("callbacks") or []) + [
            keras.callbacks.EarlyStopping(monitor=objective.name, mode=objective.direction, patience=self.patience),
            _Deadline(self._deadline),
        ]
        if self.seed is not None:
            keras.utils.set_random_seed(int(self.seed) + int(trial.trial_id))
        started = time.perf_counter()
        results = super().run_trial(trial, *args, **kwargs)
        seconds = time.perf_counter() - started
        self.records[trial.trial_id] = self._describe(trial, results, seconds)
        return results

    def _describe(self, trial, results, seconds: float) -> dict[str, Any]:
        model, self._built_model = self._built_model, None
        epochs = sum(len(r.history.get("loss", [])) for r in results if hasattr(r, "history"))
        architecture = None
        describe = getattr(self.hypermodel, "architecture", None)
        try:
            if callable(describe):
                architecture = describe(keras_tuner.HyperParameters.from_config(trial.hyperparameters.get_config()))
            elif model is not None:
                architecture = Architecture.from_keras_model(model)
        except (ValueError, TypeError, KeyError):
            architecture = None  # an undescribable model still counts as a trial
        return {
            "architecture": architecture.summary() if architecture is not None else None,
            "architecture_json": architecture.to_json() if architecture is not None else None,
            "params": int(model.count_params()) if model is not None else None,
            "epochs": int(epochs),
            "seconds": round(seconds, 3),
            "proposal_seconds": round(self._proposal_seconds, 4),
            "finished_at": time.time(),
        }

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        if self.progress:
            print(self._progress_line(self.oracle.get_trial(trial.trial_id)), flush=True)

    def _progress_line(self, trial) -> str:
        record = self.records.get(trial.trial_id, {})
        best = self.oracle.get_best_trials(1)
        best_score = best[0].score if best and best[0].score is not None else float("nan")
        score = f"{trial.score:.4f}" if trial.score is not None else trial.status
        params = record.get("params")
        return (
            f"[keras_nas] trial {int(trial.trial_id) + 1}/{self.oracle.max_trials or '?'} "
            f"{time.monotonic() - self._search_started:6.1f}s  {self.oracle.objective.name}={score}  "
            f"best={best_score:.4f}  params={'-' if params is None else f'{params:,}'}  "
            f"epochs={record.get('epochs', '-')}  {record.get('architecture') or ''}"
        )

    # -- results ---------------------------------------------------------
    def leaderboard(self) -> list[dict[str, Any]]:
        """Every trial, best first: id, status, score, hyperparameters, architecture, params, epochs, seconds, message."""
        rows = []
        for trial_id, trial in self._trials().items():
            record = self.records.get(trial_id, {})
            rows.append(
                {
                    "trial_id": trial_id,
                    "status": trial.status,
                    "score": None if trial.score is None else float(trial.score),
                    "hyperparameters": dict(trial.hyperparameters.values),
                    "architecture": record.get("architecture"),
                    "params": record.get("params"),
                    "epochs": record.get("epochs"),
                    "seconds": record.get("seconds"),
                    "message": getattr(trial, "message", None),  # why a trial failed, if it did
                }
            )
        sign = -1.0 if self.oracle.objective.direction == "max" else 1.0
        rows.sort(key=lambda row: (row["score"] is None, sign * (row["score"] or 0.0)))
        return rows

    def _trials(self) -> dict[str, Any]:
        """The oracle's trials; on a distributed worker, the ones this worker ran."""
        if hasattr(self.oracle, "trials"):
            return self.oracle.trials
        return {trial_id: self.oracle.get_trial(trial_id) for trial_id in self.records}

    def load_model(self, trial):
        # The checkpoint holds the trial's optimizer state, which a fresh model's optimizer has not built yet.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            return super().load_model(trial)

    def trained_epochs(self, trial_id: str) -> int:
        """Epochs the trial's best checkpoint had been trained for."""
        return int(self.oracle.get_trial(trial_id).best_step or 0) + 1

    def architecture_of(self, trial_id: str) -> Architecture | None:
        """The Architecture of a trial, if its model could be described."""
        text = self.records.get(trial_id, {}).get("architecture_json")
        return Architecture.from_json(text) if text else None

    # -- state -----------------------------------------------------------
    def get_state(self):
        records = json.loads(json.dumps(self.records))
        return {**super().get_state(), "records": records, "oracle_seconds": self.oracle_seconds}

    def set_state(self, state):
        super().set_state(state)
        self.records = dict(state.get("records", {}))
        self.oracle_seconds = float(state.get("oracle_seconds", 0.0))
