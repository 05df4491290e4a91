"""Stock keras-tuner tuners over the same search space as keras_nas.

They see the same standardised data, budget and per-trial early stopping; the
test score is that of the best trial's search checkpoint (`get_best_models`),
as keras-tuner users use it. BayesianOptimization gets the same
`num_initial_points` as keras_nas's "bayesian" oracle (max(3, trials // 3)),
not keras-tuner's default of 3 x (number of hyperparameters), which would make
it random search for the whole budget. Hyperband runs brackets up to `epochs`
and is stopped after `max_trials` trials, like keras_nas's "hyperband".
These tuners import tensorboard for every trial, so it must be installed
(`pip install ".[bench]"`).

`keras_tuner:random+refit` is RandomSearch followed by the warm refit keras_nas
gives its best trial (`keras_nas.estimators.trial_search.TrialSearch.final_model`),
inside the same wall-clock budget: it tells what the search finds apart from
what the refit adds.
"""

from __future__ import annotations

import time
import warnings

import keras
import keras_tuner
import numpy as np

from benchmarks.contenders.common import accuracy, search_space, standardize
from benchmarks.contenders.observe import Clock, EpochMonitor, observe
from keras_nas.estimators.trial_search import WARM_EPOCHS, WARM_RATE_FACTOR
from keras_nas.search import oracles

REFIT_DESCRIPTION = (
    "keras_tuner:random, then keras_nas's warm refit of the best trial (learning rate x "
    f"{WARM_RATE_FACTOR}, min({WARM_EPOCHS}, epochs) epochs on train+val), search and refit in one budget"
)

TUNERS = {
    "random": keras_tuner.RandomSearch,
    "bayesian": keras_tuner.BayesianOptimization,
    "hyperband": keras_tuner.Hyperband,
}


def _tuner(name, hypermodel, budget, seed, workdir):
    common = dict(objective="val_accuracy", seed=seed + 1, directory=workdir, project_name=name)
    max_trials = budget.max_trials if budget.seconds is None else 10_000
    if name == "hyperband":
        tuner = keras_tuner.Hyperband(hypermodel, max_epochs=max(budget.epochs, 2), factor=3, **common)
        tuner.oracle.max_trials = max_trials
        return tuner
    if name == "bayesian":
        return keras_tuner.BayesianOptimization(
            hypermodel, max_trials=max_trials, num_initial_points=oracles.num_initial_points(budget.max_trials), **common
        )
    return keras_tuner.RandomSearch(hypermodel, max_trials=max_trials, **common)


def make(name: str):
    def run(split, budget, workdir):
        clock = Clock(budget.seconds or budget.safety_seconds)
        x_train, x_val, x_test = standardize(split)
        keras.utils.set_random_seed(split.seed)
        tuner = _tuner(name, search_space(split), budget, split.seed, workdir)
        observe(tuner, clock)
        tuner.search(
            x_train, split.y_train, validation_data=(x_val, split.y_val), epochs=budget.epochs, verbose=0,
            callbacks=[keras.callbacks.EarlyStopping("val_accuracy", patience=budget.patience, mode="max"),
                       EpochMonitor(clock)],
        )
        best_trial = tuner.oracle.get_best_trials(1)[0]
        model = tuner.get_best_models(1)[0]
        return {
            "test_score": accuracy(model, x_test, split.y_test),
            "best_val_score": float(best_trial.score),
            "epochs_trained": clock.epochs,
            "trials_completed": sum(t.status == "COMPLETED" for t in tuner.oracle.trials.values()),
            "oracle_seconds": clock.oracle_seconds,
            "anytime": clock.anytime,
            "params": int(model.count_params()),
            "architecture": tuner.hypermodel.architecture(best_trial.hyperparameters).summary(),
        }

    return run


class RefitReserve(keras.callbacks.Callback):
    """Keeps `clock.reserve` at the refit's predicted seconds: seconds per epoch x `refit_epochs` x `scale` (the
    size of train + validation relative to train), per epoch of the best trial, model building and checkpointing
    included (a refit loads and compiles too); until a trial has completed, per epoch of the running trial so far.
    A search callback placed before `EpochMonitor`, which then stops the search in time; `watch` the tuner."""

    def __init__(self, clock: Clock, refit_epochs: int, scale: float) -> None:
        super().__init__()
        self.clock, self.refit_epochs, self.scale = clock, refit_epochs, scale
        self.per_epoch: dict[str, float] = {}  # seconds per epoch of each ended trial
        self.started, self.epochs, self.best_known = time.monotonic(), 0, False

    def _pace(self) -> float:
        return (time.monotonic() - self.started) / max(self.epochs, 1)

    def watch(self, tuner) -> None:
        on_trial_begin, on_trial_end = tuner.on_trial_begin, tuner.on_trial_end

        def timed_on_trial_begin(trial):
            self.started, self.epochs = time.monotonic(), 0
            on_trial_begin(trial)

        def timed_on_trial_end(trial):
            on_trial_end(trial)
            self.per_epoch[trial.trial_id] = self._pace()
            best = tuner.oracle.get_best_trials(1)
            if best and best[0].trial_id in self.per_epoch:
                self.best_known = True
                self.clock.reserve = self.per_epoch[best[0].trial_id] * self.refit_epochs * self.scale

        tuner.on_trial_begin, tuner.on_trial_end = timed_on_trial_begin, timed_on_trial_end

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1
        if not self.best_known:
            self.clock.reserve = self._pace() * self.refit_epochs * self.scale

    def __deepcopy__(self, memo):  # keras-tuner deep-copies callbacks; keep the one reserve
        return self


def random_with_refit(split, budget, workdir):
    """`keras_tuner:random`, then keras_nas's warm refit of its best trial, both inside `budget.seconds`."""
    clock = Clock(budget.seconds or budget.safety_seconds)
    x_train, x_val, x_test = standardize(split)
    keras.utils.set_random_seed(split.seed)
    tuner = _tuner("random", search_space(split), budget, split.seed, workdir)
    observe(tuner, clock)
    refit_epochs = min(WARM_EPOCHS, budget.epochs)
    reserve = RefitReserve(clock, refit_epochs, (len(x_train) + len(x_val)) / len(x_train))
    reserve.watch(tuner)
    tuner.search(
        x_train, split.y_train, validation_data=(x_val, split.y_val), epochs=budget.epochs, verbose=0,
        callbacks=[keras.callbacks.EarlyStopping("val_accuracy", patience=budget.patience, mode="max"),
                   reserve, EpochMonitor(clock)],
    )
    search_seconds, reserved = clock.elapsed(), clock.reserve
    best_trial = tuner.oracle.get_best_trials(1)[0]
    clock.reserve = 0.0  # the refit stops at the end of the epoch during which the budget runs out
    model, refitted = None, 0
    if not clock.expired():  # as in keras_nas, a search that spent the whole budget leaves its checkpoint unrefitted
        # keras_nas's warm refit (TrialSearch.final_model, BaseNASEstimator._train_final): a fresh session, the
        # seed, the best checkpoint at a tenth of its learning rate, batches of 32 (the estimator's default).
        keras.backend.clear_session()
        keras.utils.set_random_seed(split.seed)
        with warnings.catch_warnings():  # the fresh optimizer has no state to load the checkpoint's into
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model = tuner.load_model(best_trial)
        rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        model.optimizer.learning_rate = rate * WARM_RATE_FACTOR
        history = model.fit(np.concatenate([x_train, x_val]), np.concatenate([split.y_train, split.y_val]),
                            batch_size=32, epochs=refit_epochs, shuffle=True, verbose=0,
                            callbacks=[EpochMonitor(clock)])
        refitted = len(history.history["loss"])
    refit_seconds = clock.elapsed() - search_seconds
    searched = tuner.get_best_models(1)[0]  # scored after the refit: measuring is not the user's time
    search_score = accuracy(searched, x_test, split.y_test)
    model = searched if model is None else model
    return {
        "test_score": accuracy(model, x_test, split.y_test) if refitted else search_score,
        "test_score_search": search_score,
        "search_seconds": round(search_seconds, 2),
        "refit_seconds": round(refit_seconds, 2),
        "refit_reserved_seconds": round(reserved, 2),
        "refit_epochs": refitted,
        "best_val_score": float(best_trial.score),
        "epochs_trained": clock.epochs,
        "trials_completed": sum(t.status == "COMPLETED" for t in tuner.oracle.trials.values()),
        "oracle_seconds": clock.oracle_seconds,
        "anytime": clock.anytime,
        "params": int(model.count_params()),
        "architecture": tuner.hypermodel.architecture(best_trial.hyperparameters).summary(),
    }
