"""Choosing a keras-tuner Oracle by name."""

from __future__ import annotations

import copy

import keras_tuner

from keras_nas.search.morphism.oracle import MorphismOracle

ORACLES = ("morphism", "bayesian", "random", "hyperband")


def _oracle_seed(seed: int | None) -> int | None:
    # keras-tuner treats seed=0 as "no seed" and draws a random one; shift by one.
    return None if seed is None else int(seed) + 1


def num_initial_points(max_trials: int | None) -> int:
    """Random trials before keras-tuner's Bayesian oracle starts modelling.

    keras-tuner's own default is 3 x (number of hyperparameters), which turns a
    15-trial search over a 12-hyperparameter space into pure random search. We
    use a third of the budget, at least 3.
    """
    if max_trials is None:
        return 5
    return min(int(max_trials), max(3, int(max_trials) // 3))


def get_oracle(
    oracle: str | keras_tuner.Oracle,
    objective: str | keras_tuner.Objective,
    max_trials: int | None,
    epochs: int,
    seed: int | None = None,
) -> keras_tuner.Oracle:
    """Returns a fresh copy of `oracle` if it is an Oracle instance, else a new one by name.

    A copy, because a search fills its oracle with trials: the estimator's
    `oracle` parameter must stay as the user passed it (scikit-learn's rule),
    so that a second `fit` starts from the same state.

    Names: `"morphism"` (`MorphismOracle`: a Gaussian process over
    architectures with network-morphism proposals; the tuner gives it the
    space), `"bayesian"` (keras-tuner's Gaussian-process oracle with
    `num_initial_points` as above), `"random"`, `"hyperband"` (brackets up to
    `epochs` epochs, stopped after `max_trials` trials).
    """
    if isinstance(oracle, keras_tuner.Oracle):
        return copy.deepcopy(oracle)
    if oracle == "morphism":
        return MorphismOracle(objective=objective, max_trials=max_trials, seed=_oracle_seed(seed))
    if oracle == "bayesian":
        return keras_tuner.oracles.BayesianOptimizationOracle(
            objective=objective,
            max_trials=max_trials,
            num_initial_points=num_initial_points(max_trials),
            seed=_oracle_seed(seed),
        )
    if oracle == "random":
        return keras_tuner.oracles.RandomSearchOracle(
            objective=objective, max_trials=max_trials, seed=_oracle_seed(seed)
        )
    if oracle == "hyperband":
        hyperband = keras_tuner.oracles.HyperbandOracle(
            objective=objective, max_epochs=max(int(epochs), 2), factor=3, seed=_oracle_seed(seed)
        )
        hyperband.max_trials = max_trials
        return hyperband
    raise ValueError(f"Unknown oracle {oracle!r}; choose one of {list(ORACLES)} or pass a keras_tuner.Oracle instance.")


__all__ = ["ORACLES", "MorphismOracle", "get_oracle", "num_initial_points"]
