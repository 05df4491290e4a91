"""Choosing a keras-tuner Oracle by name."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import keras_tuner
import numpy as np

from keras_nas.search.morphism.oracle import MorphismOracle
from keras_nas.utils.registry import Registry


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


OracleFactory = Callable[[Any, Any, int, Any], keras_tuner.Oracle]
"""Makes a fresh oracle from (objective, max_trials, epochs, seed)."""

ORACLES: Registry[OracleFactory] = Registry("oracle", hint="or pass a keras_tuner.Oracle instance")


def register_oracle(name: str, factory: OracleFactory) -> OracleFactory:
    """Makes `factory(objective, max_trials, epochs, seed)` available as `NASClassifier(oracle=name)`; returns it."""
    if not callable(factory):
        raise TypeError(f"An oracle factory must be callable; received {factory!r}.")
    return ORACLES.register(name, factory)


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
    `epochs` epochs, stopped after `max_trials` trials); more with `register_oracle`.
    """
    if isinstance(oracle, keras_tuner.Oracle):
        return copy.deepcopy(oracle)
    return ORACLES.get(oracle)(objective, max_trials, epochs, seed)


def _morphism(objective, max_trials, epochs, seed) -> keras_tuner.Oracle:
    return MorphismOracle(objective=objective, max_trials=max_trials, seed=_oracle_seed(seed))


class _BayesianOracle(keras_tuner.oracles.BayesianOptimizationOracle):
    """keras-tuner's Gaussian-process oracle, proposing the same trials after a resume.

    keras-tuner draws the starting points of its acquisition search from a
    `RandomState` that `oracle.json` does not hold, so a resumed search
    proposed other trials than the uninterrupted one. It is drawn afresh for
    each proposal from the seed and the number of trials, which it does hold.
    """

    def populate_space(self, trial_id):
        self._random_state = np.random.RandomState([int(self.seed or 0), len(self.trials)])
        return super().populate_space(trial_id)


def _bayesian(objective, max_trials, epochs, seed) -> keras_tuner.Oracle:
    return _BayesianOracle(
        objective=objective,
        max_trials=max_trials,
        num_initial_points=num_initial_points(max_trials),
        seed=_oracle_seed(seed),
    )


def _random(objective, max_trials, epochs, seed) -> keras_tuner.Oracle:
    return keras_tuner.oracles.RandomSearchOracle(objective=objective, max_trials=max_trials, seed=_oracle_seed(seed))


def _hyperband(objective, max_trials, epochs, seed) -> keras_tuner.Oracle:
    hyperband = keras_tuner.oracles.HyperbandOracle(
        objective=objective, max_epochs=max(int(epochs), 2), factor=3, seed=_oracle_seed(seed)
    )
    hyperband.max_trials = max_trials
    return hyperband


for _name, _factory in (
    ("morphism", _morphism),
    ("bayesian", _bayesian),
    ("random", _random),
    ("hyperband", _hyperband),
):
    register_oracle(_name, _factory)


__all__ = ["ORACLES", "MorphismOracle", "get_oracle", "num_initial_points", "register_oracle"]
