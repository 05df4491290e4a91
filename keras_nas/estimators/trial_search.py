"""The estimators' trial search: a keras-tuner search of one trained network per trial, then the best refitted."""

from __future__ import annotations

import hashlib
import shutil
import time
import warnings
from typing import TYPE_CHECKING, Any

import keras
import keras_tuner
import numpy as np
from sklearn.exceptions import NotFittedError

from keras_nas import spaces
from keras_nas.estimators import data
from keras_nas.search import oracles, project, project_check
from keras_nas.search.morphism.oracle import MorphismOracle
from keras_nas.search.morphism.tuner import MorphismTuner
from keras_nas.search.tuner import NASTuner

if TYPE_CHECKING:
    import contextlib

    from keras_nas.architecture import Architecture, Head

WARM_EPOCHS = 3  # a warm refit's epochs (at most `epochs`)
WARM_RATE_FACTOR = 0.1  # a warm refit's learning rate, relative to the trial's


class TrialSearchMixin:
    """`fit` for a `BaseNASEstimator` whose `strategy` is None (the default): oracle, tuner, refit."""

    # What this mixin reads and sets of `BaseNASEstimator` (declarations for type checkers; set there and below).
    search_space: Any
    oracle: Any  # a name or a keras_tuner.Oracle, as the user passed it
    max_trials: int | None
    epochs: int
    batch_size: int
    patience: int
    seed: int | None
    verbose: int
    time_budget: float | None
    trials_per_process: Any
    callbacks: Any
    refit: bool | str
    directory: str | None
    project_name: str
    overwrite: bool
    validation_data: Any
    validation_split: float
    _task: str
    input_shape_: tuple[int, ...]
    tuner_: NASTuner | None  # None after a one-shot fit (and after unpickling)
    best_architecture_: Architecture | None  # None where the space cannot describe its networks
    best_score_: float | None

    if TYPE_CHECKING:  # implemented by BaseNASEstimator

        def _head(self) -> Head: ...

        def _objective(self) -> Any: ...

        def _precision(self) -> contextlib.AbstractContextManager[None]: ...

        def _split(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]: ...

        def _standardize(self, x: np.ndarray) -> np.ndarray: ...

        def _train_final(
            self, model: keras.Model, x, y, validation=None, batch_size: int | None = None
        ) -> keras.Model: ...

    def _grows(self) -> bool:
        return self.oracle == "morphism" or isinstance(self.oracle, MorphismOracle)

    def _hypermodel(self):
        space = self.search_space
        if isinstance(space, str):
            space = spaces.get_space(space, self.input_shape_, grow=self._grows())
            return space.configure(self.input_shape_, self._head())
        if isinstance(space, spaces.SearchSpace):
            return space.configure(self.input_shape_, self._head())
        return space

    def _fingerprint(self, hypermodel, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        space = {"class": type(hypermodel).__name__}
        if isinstance(hypermodel, spaces.SearchSpace):
            space.update(hypermodel.get_config())
        elif callable(hypermodel) and not isinstance(hypermodel, keras_tuner.HyperModel):
            space["class"] = getattr(hypermodel, "__qualname__", repr(hypermodel))
        oracle = self.oracle if isinstance(self.oracle, str) else type(self.oracle).__name__
        return {
            "task": self._task,
            "input_shape": list(self.input_shape_),
            "outputs": self._head().units,
            "search_space": space,
            "oracle": oracle,
            "objective": str(self._objective()),
            # Trials scored on other data or another split must not be resumed (think cross-validation folds).
            "data": hashlib.sha256(x.tobytes() + np.ascontiguousarray(y).tobytes()).hexdigest()[:16],
            "split": "validation_data" if self.validation_data is not None else [self.validation_split, self.seed],
        }

    def _fit_trials(self, x: np.ndarray, y: np.ndarray) -> keras.Model:
        """The trial search on (x, y): a tuner trains one network per trial, then the best is refitted."""
        hypermodel = self._hypermodel()
        fingerprint = self._fingerprint(hypermodel, x, y)
        x_train, x_val, y_train, y_val = self._split(x, y)
        self.input_mean_, self.input_variance_ = data.moments(x_train)
        x_train, x_val = self._standardize(x_train), self._standardize(x_val)

        directory = project.prepare(self.directory, self.project_name, fingerprint, self.overwrite)
        project_check.check_readable(directory, self.project_name)
        oracle = oracles.get_oracle(self.oracle, self._objective(), self.max_trials, self.epochs, self.seed)
        started = time.perf_counter()
        try:
            with self._precision():
                tuner = MorphismTuner if self._grows() else NASTuner
                self.tuner_ = tuner(
                    hypermodel,
                    oracle,
                    time_budget=self.time_budget,
                    patience=self.patience,
                    seed=self.seed,
                    progress=self.verbose >= 1,
                    trials_per_process=self.trials_per_process,
                    directory=directory,
                    project_name=self.project_name,
                    overwrite=False,
                )
                self._search(x_train, y_train, x_val, y_val)
                self.search_seconds_ = time.perf_counter() - started
                self._collect_results()
                started = time.perf_counter()
                model = self._refit_model(x_train, y_train, x_val, y_val)
                self.refit_seconds_ = time.perf_counter() - started
        finally:
            if self.directory is None:
                # The user asked to keep nothing: the checkpoints go with the search (the model is in memory).
                shutil.rmtree(directory, ignore_errors=True)
        return model

    @property
    def _tuner(self) -> NASTuner:
        """`tuner_`, which a trial search's `fit` sets before reading it."""
        if self.tuner_ is None:
            raise NotFittedError(
                f"This {type(self).__name__} has no tuner_: it is set by a trial search's fit, and is None after a "
                "one-shot fit or unpickling."
            )
        return self.tuner_

    def _search(self, x_train, y_train, x_val, y_val) -> None:
        try:
            # Arrays, not one shared tf.data pipeline: Keras then shuffles each trial from the trial's own
            # seed, so a resumed search trains its remaining trials exactly as an uninterrupted one would.
            self._tuner.search(
                x_train,
                y_train,
                validation_data=(x_val, y_val),
                batch_size=int(self.batch_size),
                epochs=int(self.epochs),
                shuffle=True,
                callbacks=list(self.callbacks or []),
                verbose=1 if self.verbose >= 2 else 0,
            )
        except RuntimeError:  # keras-tuner gives up after consecutive failed trials
            if not self._completed_trials():
                raise RuntimeError(self._no_trial_completed()) from None
            warnings.warn(
                f"The search stopped early after {self._tuner.oracle.max_consecutive_failed_trials} consecutive "
                f"failed trials; the last one failed with: {self._last_failure()}",
                stacklevel=3,
            )
        if not self._completed_trials():
            raise RuntimeError(self._no_trial_completed())

    def _no_trial_completed(self) -> str:
        failed = [t for t in self._tuner.oracle.trials.values() if t.status != "COMPLETED"]
        return (
            f"No trial completed: {len(failed)} of {len(self._tuner.oracle.trials)} failed. The last failure: "
            f"{self._last_failure() or 'no trial ran'}. Nothing was fitted; see the estimator's parameters and "
            "the data for the cause."
        )

    def _completed_trials(self):
        return [t for t in self._tuner.oracle.trials.values() if t.status == "COMPLETED" and t.score is not None]

    def _last_failure(self) -> str:
        reasons = [self._tuner.failure_of(trial_id) for trial_id in self._tuner.oracle.end_order]
        given = [reason for reason in reasons if reason]
        return given[-1] if given else ""

    def _collect_results(self) -> None:
        best = self._tuner.oracle.get_best_trials(1)[0]
        self.leaderboard_ = self._tuner.leaderboard()
        self.best_trial_id_ = best.trial_id
        self.best_score_ = float(best.score)
        self.best_step_ = int(best.best_step or 0)
        self.best_hyperparameters_ = dict(best.hyperparameters.values)
        self.best_architecture_ = self._tuner.architecture_of(best.trial_id)
        self.oracle_seconds_ = self._tuner.oracle_seconds

    def _refit_model(self, x_train, y_train, x_val, y_val) -> keras.Model:
        best = self._tuner.oracle.get_trial(self.best_trial_id_)
        if not self.refit:
            self.history_ = None
            return self._tuner.load_model(best)
        keras.backend.clear_session()
        if self.seed is not None:
            keras.utils.set_random_seed(int(self.seed))
        x_all, y_all = np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val])
        if self.refit == "scratch":
            model = self._tuner.hypermodel.build(best.hyperparameters)
            self.refit_epochs_ = min(self._tuner.trained_epochs(best.trial_id), 3 * int(self.epochs))
            return self._train_final(model, x_all, y_all)
        model = self._tuner.load_model(best)
        try:
            rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
            model.optimizer.learning_rate = rate * WARM_RATE_FACTOR
        except (AttributeError, TypeError):
            pass  # no optimizer, or a learning-rate schedule, which is the user's to keep
        self.refit_epochs_ = min(WARM_EPOCHS, int(self.epochs))
        return self._train_final(model, x_all, y_all)
