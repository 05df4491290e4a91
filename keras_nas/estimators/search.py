"""`Search`: the one interface behind an estimator's `fit`, implemented by the trial and the one-shot search.

`BaseNASEstimator.fit` checks the parameters and the data, splits it (`Split`), and runs the search its
parameters name: `TrialSearch` (keras-tuner trials, `strategy=None`) or `OneShotSearch` (a supernet). Both
go through the same steps, in `Search.run`:

1. `search(split)`: find the best network on the training split, scored on the validation split
   (timed as `search_seconds_`);
2. `found()`: what was found (`Found`: the best trial, its score, architecture and the leaderboard), which
   `run` sets as the estimator's fitted attributes, the same for both searches;
3. `final_model(split)`: the network `best_model_` wraps, trained as `refit` says (timed as
   `refit_seconds_`).

`time_budget` covers all three: `budget` starts with `run`; the search keeps back from it what it expects
the final training to need (`TimeBudget.reserved`), and the final training stops before an epoch that
would end past the deadline.

A search keras-tuner's `Tuner.search` or a `OneShotStrategy` runs stays theirs: these classes adapt them to
the estimator's parameters, so a new kind of search is one subclass.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from keras_nas.utils.budget import TimeBudget

if TYPE_CHECKING:
    import keras

    from keras_nas.architecture import Architecture
    from keras_nas.estimators.base import BaseNASEstimator


@dataclasses.dataclass(frozen=True)
class Split:
    """The data of one `fit`: all of it as read, and its training and validation parts (standardised)."""

    x: np.ndarray
    y: np.ndarray
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray

    def combined(self) -> tuple[np.ndarray, np.ndarray]:
        """Training + validation data, for a final model refitted on both."""
        return np.concatenate([self.x_train, self.x_val]), np.concatenate([self.y_train, self.y_val])


@dataclasses.dataclass(frozen=True)
class Found:
    """What a search found: the estimator's `best_*_`, `leaderboard_` and `oracle_seconds_`."""

    trial_id: str
    score: float | None  # the objective on the validation split; None where the strategy gives none
    step: int  # the epoch (0-based) at which the best trial scored best
    hyperparameters: dict[str, Any]
    architecture: Architecture | None  # None where the space cannot describe its networks
    leaderboard: list[dict[str, Any]]
    oracle_seconds: float = 0.0  # time spent choosing trials (0 for one-shot)


class Search(abc.ABC):
    """One way to find a network for a `BaseNASEstimator`; `run` is what `fit` calls.

    Args:
        estimator: The estimator being fitted: its parameters say how to search, and `run` sets its fitted
            attributes.
    """

    def __init__(self, estimator: BaseNASEstimator) -> None:
        self.estimator = estimator
        self.search_seconds = 0.0
        self.budget = TimeBudget(None)  # the estimator's `time_budget`, from the start of `run`

    @abc.abstractmethod
    def search(self, split: Split) -> None:
        """Finds the best network on `split.x_train`, scored on `split.x_val`."""

    @abc.abstractmethod
    def found(self) -> Found:
        """What `search` found."""

    @abc.abstractmethod
    def final_model(self, split: Split) -> keras.Model:
        """The trained network that `best_model_` wraps (refitted as the estimator's `refit` says)."""

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Held around all three steps (e.g. a dtype policy, a temporary directory); nothing by default."""
        yield

    def run(self, split: Split) -> keras.Model:
        """Searches, sets the estimator's fitted attributes, and returns the final network."""
        estimator = self.estimator
        self.budget = TimeBudget(estimator.time_budget)
        with self.scope():
            started = time.perf_counter()
            self.search(split)
            self.search_seconds = estimator.search_seconds_ = time.perf_counter() - started
            found = self.found()
            estimator.best_trial_id_ = found.trial_id
            estimator.best_score_ = found.score
            estimator.best_step_ = found.step
            estimator.best_hyperparameters_ = found.hyperparameters
            estimator.best_architecture_ = found.architecture
            estimator.leaderboard_ = found.leaderboard
            estimator.oracle_seconds_ = found.oracle_seconds
            started = time.perf_counter()
            model = self.final_model(split)
            estimator.refit_seconds_ = time.perf_counter() - started
        return model


__all__ = ["Found", "Search", "Split"]
