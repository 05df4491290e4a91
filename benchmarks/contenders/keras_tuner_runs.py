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
"""

from __future__ import annotations

import keras
import keras_tuner

from benchmarks.contenders.common import accuracy, search_space, standardize
from benchmarks.contenders.observe import Clock, EpochMonitor, observe
from keras_nas.search import oracles

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
