"""`TrialSearch`: the estimators' keras-tuner search, one trained network per trial, then the best refitted."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import keras
import keras_tuner
import numpy as np

from keras_nas import spaces
from keras_nas.estimators.search import Found, Search, Split
from keras_nas.search import oracles, project, project_check
from keras_nas.search.morphism.oracle import MorphismOracle
from keras_nas.search.morphism.tuner import MorphismTuner
from keras_nas.search.tuner import NASTuner

if TYPE_CHECKING:
    from keras_nas.estimators.base import BaseNASEstimator

WARM_EPOCHS = 3  # a warm refit's epochs (at most `epochs`)
WARM_RATE_FACTOR = 0.1  # a warm refit's learning rate, relative to the trial's


class TrialSearch(Search):
    """The search of `strategy=None` (the default): an oracle proposes networks, a keras-tuner tuner trains one
    per trial, and the best is refitted."""

    def __init__(self, estimator: BaseNASEstimator) -> None:
        super().__init__(estimator)
        self.directory: str | None = None  # the project's folder, once prepared
        self.tuner: NASTuner | None = None

    # -- what to search ----------------------------------------------------
    def _grows(self) -> bool:
        oracle = self.estimator.oracle
        return oracle == "morphism" or isinstance(oracle, MorphismOracle)

    def hypermodel(self):
        """The search space, configured for the data where it is a `SearchSpace`."""
        est = self.estimator
        space = est.search_space
        if isinstance(space, str):
            space = spaces.get_space(space, est.input_shape_, grow=self._grows())
        if isinstance(space, spaces.SearchSpace):
            return space.configure(est.input_shape_, est._head())
        return space

    def fingerprint(self, hypermodel, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        """What a resumed project must share with this search (`keras_nas.search.project.prepare`)."""
        est = self.estimator
        space = {"class": type(hypermodel).__name__}
        if isinstance(hypermodel, spaces.SearchSpace):
            space.update(hypermodel.get_config())
        elif callable(hypermodel) and not isinstance(hypermodel, keras_tuner.HyperModel):
            space["class"] = getattr(hypermodel, "__qualname__", repr(hypermodel))
        oracle = est.oracle if isinstance(est.oracle, str) else type(est.oracle).__name__
        return {
            "task": est._task,
            "input_shape": list(est.input_shape_),
            "outputs": est._head().units,
            "search_space": space,
            "oracle": oracle,
            "objective": str(est._objective()),
            # Trials scored on other data or another split must not be resumed (think cross-validation folds).
            "data": hashlib.sha256(x.tobytes() + np.ascontiguousarray(y).tobytes()).hexdigest()[:16],
            "split": "validation_data" if est.validation_data is not None else [est.validation_split, est.seed],
        }

    # -- the steps ---------------------------------------------------------
    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        try:
            with self.estimator._precision():  # trials and refit alike
                yield
        finally:
            if self.directory is not None and self.estimator.directory is None:
                # The user asked to keep nothing: the checkpoints go with the search (the model is in memory).
                shutil.rmtree(self.directory, ignore_errors=True)

    def search(self, split: Split) -> None:
        est = self.estimator
        hypermodel = self.hypermodel()
        fingerprint = self.fingerprint(hypermodel, split.x, split.y)
        self.directory = project.prepare(est.directory, est.project_name, fingerprint, est.overwrite)
        project_check.check_readable(self.directory, est.project_name)
        oracle = oracles.get_oracle(est.oracle, est._objective(), est.max_trials, est.epochs, est.seed)
        tuner = MorphismTuner if self._grows() else NASTuner
        self.tuner = est.tuner_ = tuner(
            hypermodel,
            oracle,
            time_budget=None if est.time_budget is None else max(0.0, self.budget.remaining() or 0.0),
            reserve=self._refit_reserve(split),
            patience=est.patience,
            seed=est.seed,
            progress=est.verbose >= 1,
            trials_per_process=est.trials_per_process,
            directory=self.directory,
            project_name=est.project_name,
            overwrite=False,
        )
        self._run_tuner(split)

    def _run_tuner(self, split: Split) -> None:
        est, tuner = self.estimator, self._tuner
        try:
            # Arrays, not one shared tf.data pipeline: Keras then shuffles each trial from the trial's own
            # seed, so a resumed search trains its remaining trials exactly as an uninterrupted one would.
            tuner.search(
                split.x_train,
                split.y_train,
                validation_data=(split.x_val, split.y_val),
                batch_size=int(est.batch_size),
                epochs=int(est.epochs),
                shuffle=True,
                callbacks=list(est.callbacks or []),
                verbose=1 if est.verbose >= 2 else 0,
            )
        except RuntimeError:  # keras-tuner gives up after consecutive failed trials
            if not self._completed_trials():
                raise RuntimeError(self._no_trial_completed()) from None
            warnings.warn(
                f"The search stopped early after {tuner.oracle.max_consecutive_failed_trials} consecutive "
                f"failed trials; the last one failed with: {self._last_failure()}",
                stacklevel=5,
            )
        if not self._completed_trials():
            raise RuntimeError(self._no_trial_completed())

    @property
    def _tuner(self) -> NASTuner:
        if self.tuner is None:
            raise RuntimeError("The trial search has no tuner before `search` makes one.")
        return self.tuner

    def _no_trial_completed(self) -> str:
        trials = self._tuner.oracle.trials
        failed = [t for t in trials.values() if t.status != "COMPLETED"]
        return (
            f"No trial completed: {len(failed)} of {len(trials)} failed. The last failure: "
            f"{self._last_failure() or 'no trial ran'}. Nothing was fitted; see the estimator's parameters and "
            "the data for the cause."
        )

    def _completed_trials(self):
        return [t for t in self._tuner.oracle.trials.values() if t.status == "COMPLETED" and t.score is not None]

    def _last_failure(self) -> str:
        reasons = [self._tuner.failure_of(trial_id) for trial_id in self._tuner.oracle.end_order]
        given = [reason for reason in reasons if reason]
        return given[-1] if given else ""

    def found(self) -> Found:
        tuner = self._tuner
        best = tuner.oracle.get_best_trials(1)[0]
        return Found(
            trial_id=best.trial_id,
            score=float(best.score),
            step=int(best.best_step or 0),
            hyperparameters=dict(best.hyperparameters.values),
            architecture=tuner.architecture_of(best.trial_id),
            leaderboard=tuner.leaderboard(),
            oracle_seconds=tuner.oracle_seconds,
        )

    def _refit_epochs(self, trial_id: str) -> int:
        est = self.estimator
        if est.refit == "scratch":
            return min(self._tuner.trained_epochs(trial_id), 3 * int(est.epochs))
        return min(WARM_EPOCHS, int(est.epochs))

    def _refit_reserve(self, split: Split):
        """What the tuner keeps back from the time budget for the refit: the best trial's seconds per epoch so
        far, times the refit's epochs, on training + validation data, plus a tenth."""
        scale = (len(split.x_train) + len(split.x_val)) / max(len(split.x_train), 1)

        def reserve(tuner: NASTuner) -> float:
            best = tuner.oracle.get_best_trials(1) if self.estimator.refit else []
            record = tuner.records.get(best[0].trial_id) if best else None
            if record is None or not record.seconds or not record.epochs:
                return 0.0
            return 1.1 * scale * self._refit_epochs(best[0].trial_id) * record.seconds / record.epochs

        return reserve

    def final_model(self, split: Split) -> keras.Model:
        est, tuner = self.estimator, self._tuner
        best = tuner.oracle.get_trial(est.best_trial_id_)
        budget = self.budget.final()
        if est.refit and budget.spent():
            warnings.warn(
                f"The time budget of {est.time_budget} s was spent by the search, so the best trial was not refitted: "
                "best_model_ is its search checkpoint (as with refit=False). Raise time_budget to refit it.",
                stacklevel=5,
            )
        if not est.refit or budget.spent():
            est.history_ = None
            est.refit_epochs_ = 0
            return tuner.load_model(best)
        est.refit_epochs_ = self._refit_epochs(best.trial_id)
        keras.backend.clear_session()
        if est.seed is not None:
            keras.utils.set_random_seed(int(est.seed))
        x_all, y_all = split.combined()
        if est.refit == "scratch":
            model = tuner.hypermodel.build(best.hyperparameters)
            return est._train_final(model, x_all, y_all, budget=budget)
        model = tuner.load_model(best)
        try:
            rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
            model.optimizer.learning_rate = rate * WARM_RATE_FACTOR
        except (AttributeError, TypeError):
            pass  # no optimizer, or a learning-rate schedule, which is the user's to keep
        return est._train_final(model, x_all, y_all, budget=budget)
